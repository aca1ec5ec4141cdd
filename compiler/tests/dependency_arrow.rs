//! The one-way arrow compiler -> runtime is a build fact: the runtime's normal dependency tree
//! holds no front-end or pattern-building crate. (yaml-rust2 is the one YAML parser both
//! sides use: the compiler for rule files, the runtime for compose files agents write, which
//! it judges as commands; no rule is read at run time.)

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::process::Command;

#[test]
fn runtime_does_not_depend_on_front_ends() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "-p",
            "crust-runtime",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    let crates: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(
        crates.contains(&"regex-automata"),
        "unexpected tree:\n{tree}"
    );
    for banned in [
        "lalrpop",
        "lalrpop-util",
        "logos",
        "serde_yaml",
        "serde_yaml_ng",
        "serde-saphyr",
        "saphyr-parser",
        "globset",
        "regex-syntax",
        "regex",
        "crust-compiler",
    ] {
        assert!(
            !crates.contains(&banned),
            "crust-runtime depends on {banned}:\n{tree}"
        );
    }
}
