//! Front-ends: source text to the IR. Each reports every error it finds, with spans.

pub mod tables;
pub mod yaml;
pub mod yaml_tree;
