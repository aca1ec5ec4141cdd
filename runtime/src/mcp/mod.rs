//! MCP and ACP: the JSON-RPC 2.0 traffic between an agent's client and an MCP server, or
//! between an editor and an ACP agent, judged message by message.
//!
//! [`frame`] reads newline-delimited messages with a bound, [`gateway`] judges each (tool
//! calls, reads, writes and commands through the policy; every other payload scanned for
//! secrets; tool lists against [`pin`]s), and [`stdio`] relays a child process's standard
//! streams through it (`crust wrap`).

pub mod frame;
pub mod gateway;
pub mod http;
pub mod pin;
pub mod stdio;

pub use gateway::{Config, Gateway, Out, Side};
