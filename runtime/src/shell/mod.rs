//! Shell analysis: a bash parser made for static analysis ([`parse`]) and the analyser that
//! turns a parsed script into operations through the command table ([`analyze`]).

pub mod analyze;
pub mod eval;
pub mod parse;
pub mod pwsh;

pub use analyze::Analyzer;
