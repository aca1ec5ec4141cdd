//! The crates' shape is a build fact. The arrow goes compiler -> runtime, never back: the
//! runtime's normal dependency tree holds no front-end or pattern-building crate. (yaml-rust2
//! is the one YAML parser both sides use: the compiler for rule files, the runtime for compose
//! files agents write, which it judges as commands; no rule is read at run time.) Command-line
//! parsing lives in `crust-cli` alone, and the engine builds without the proxy's stack.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::process::Command;

/// The crates in `package`'s normal dependency tree.
fn tree(package: &str, extra: &[&str]) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["tree", "-p", package, "-e", "normal", "--prefix", "none"])
        .args(["--format", "{p}"])
        .args(extra)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let crates: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect();
    assert!(
        crates.iter().any(|c| c == "regex-automata"),
        "unexpected tree of {package}: {crates:?}"
    );
    crates
}

fn assert_without(package: &str, extra: &[&str], banned: &[&str]) {
    let crates = tree(package, extra);
    for b in banned {
        assert!(
            !crates.iter().any(|c| c == b),
            "{package} {extra:?} depends on {b}: {crates:?}"
        );
    }
}

const FRONT_ENDS: &[&str] = &[
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
];

const COMMAND_LINE: &[&str] = &["clap", "clap_builder", "mimalloc", "crust-cli"];

const SERVING: &[&str] = &["tokio", "hyper", "rustls", "notify", "age", "tonic"];

#[test]
fn runtime_does_not_depend_on_front_ends() {
    assert_without("crust-runtime", &["--all-features"], FRONT_ENDS);
}

#[test]
fn no_library_parses_command_lines() {
    assert_without("crust-runtime", &["--all-features"], COMMAND_LINE);
    assert_without("crust-compiler", &[], COMMAND_LINE);
}

#[test]
fn the_engine_and_the_compiler_build_without_the_proxy() {
    assert_without("crust-runtime", &["--no-default-features"], SERVING);
    assert_without("crust-compiler", &[], SERVING);
}
