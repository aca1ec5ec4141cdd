//! Crust's runtime: loads a compiled policy bundle (read into owned memory, fully validated, automata
//! viewed in place) and judges agent tool calls against it.
//!
//! The pipeline on this side of the arrow: [`Bundle::load`] → [`ToolCall`] →
//! operations (`extract`, driven by the [`tables`]; shell commands through [`shell`]) → normalized values (`normalize`) → one automaton pass per field
//! value (`matcher`) → [`Verdict`] (`eval`). Nothing here builds or mutates a policy; the
//! compiler (`crust-compiler`) is the only writer of bundles.
#![forbid(unsafe_code)]

#[cfg(feature = "audit")]
pub mod audit;
pub mod bundle;
pub mod check;
pub mod code;
mod engine;
mod eval;
pub mod extract;
pub mod hook;
pub mod later;
mod matcher;
#[cfg(feature = "proxy")]
pub mod mcp;
pub mod model;
pub mod normalize;
pub mod own;
pub mod patch;
#[cfg(feature = "proxy")]
pub mod proxy;
pub mod secrets;
pub mod shell;
pub mod signal;
pub mod tables;
mod text;

pub use bundle::{Bundle, LoadError};
pub use engine::Engine;
pub use eval::{Evidence, Explanation, RuleMatch};
pub use matcher::GaveUp;
pub use model::{
    Action, ActionSet, Decision, Effect, Field, Operation, Severity, ToolCall, Verdict,
};
