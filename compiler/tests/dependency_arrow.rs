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

/// The runtime's top-level modules (`runtime/src/NAME.rs` or `runtime/src/NAME/`) and the
/// other top-level modules each names through `crate::`, outside comments and test modules.
fn runtime_modules() -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime/src");
    let mut files = Vec::new();
    walk(&root, &mut files);
    let mut graph = std::collections::BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(&root).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if top == "lib" || top == "bin" {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        let deps: &mut std::collections::BTreeSet<String> = graph.entry(top.clone()).or_default();
        for line in code.lines() {
            let line = line.split("//").next().unwrap_or("");
            for (i, _) in line.match_indices("crate::") {
                let name: String = line[i + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if !name.is_empty() && name != top {
                    deps.insert(name);
                }
            }
        }
    }
    graph
}

/// No two top-level modules of the runtime import each other, directly or through others:
/// the pipeline reads one way (bundle -> engine -> analyses -> transports).
#[test]
fn runtime_modules_have_no_import_circle() {
    let graph = runtime_modules();
    assert!(graph.contains_key("bundle") && graph.contains_key("shell"));
    // Depth-first search with colours: a grey module met again closes a circle.
    fn visit(
        m: &str,
        graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        colour: &mut std::collections::BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) {
        colour.insert(m.to_owned(), 1);
        path.push(m.to_owned());
        for d in graph.get(m).into_iter().flatten() {
            match colour.get(d.as_str()).copied().unwrap_or(0) {
                1 => panic!("import circle in runtime/src: {} -> {d}", path.join(" -> ")),
                0 if graph.contains_key(d) => visit(d, graph, colour, path),
                _ => {}
            }
        }
        path.pop();
        colour.insert(m.to_owned(), 2);
    }
    let mut colour = std::collections::BTreeMap::new();
    for m in graph.keys() {
        if colour.get(m).copied().unwrap_or(0) == 0 {
            visit(m, &graph, &mut colour, &mut Vec::new());
        }
    }
}
