//! The LLM proxy: sits between an agent and its provider, judges every tool call in responses
//! (and in the history of requests) with the current bundle, and answers blocks in the API's
//! own format. Text streams through untouched; only a tool call's events are held until the
//! call is complete.
//!
//! Stages: [`apis`] (where calls sit in each API's JSON), [`batch`] (batch requests and
//! results files), [`judge`] (one call to a decision), [`outbound`] (what a request sends out),
//! [`sse`] (stream rewriting), [`server`] (sockets, upstream, hot swap, metrics), `watch`
//! (following the bundle file).

pub mod apis;
pub mod batch;
#[cfg(unix)]
pub mod control;
pub mod decode;
#[cfg(feature = "ext-proc")]
pub mod extproc;
pub mod judge;
mod metrics;
pub mod otlp;
pub mod outbound;
pub mod pull;
pub mod server;
pub mod sse;
mod watch;

pub use server::{
    run, run_then_seal, serve, BlockMode, Config, Limits, Remote, Route, ServeOptions, TeamOptions,
    Upstream,
};
