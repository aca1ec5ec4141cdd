//! Front-ends: source text to the IR. Each reports every error it finds, with spans.

pub mod dsl;
pub mod tables;
pub mod yaml;
pub mod yaml_tree;

/// Parses one rule file by its extension (`.crust`: the policy language; else YAML).
pub fn load(
    path: &str,
    file: u32,
    text: &str,
    policy: &mut crate::ir::Policy,
    diags: &mut crate::diag::Diagnostics,
) {
    if path.ends_with(".crust") {
        dsl::lower::load(file, text, policy, diags);
    } else {
        yaml::load(file, text, policy, diags);
    }
}
