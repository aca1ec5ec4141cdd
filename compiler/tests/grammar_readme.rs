//! Every example in `grammar/README.md` is a test: each `crust` block compiles (with the
//! built-in tool, command and secret tables, without the built-in rules), is already in
//! `crust fmt` form, and decides the tool calls of the `cases` block after it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use crust_compiler::{builtin_sources, compile_sources, frontend::dsl::fmt::format};
use crust_runtime::model::ToolCall;
use crust_runtime::Engine;

/// (line of the block, crust source, cases source)
fn examples() -> Vec<(usize, String, String)> {
    let text = include_str!("../../grammar/README.md");
    let mut out: Vec<(usize, String, String)> = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((i, line)) = lines.next() {
        let kind = match line.trim() {
            "```crust" => "crust",
            "```cases" => "cases",
            _ => continue,
        };
        let mut body = String::new();
        for (_, l) in lines.by_ref() {
            if l.trim() == "```" {
                break;
            }
            body.push_str(l);
            body.push('\n');
        }
        if kind == "crust" {
            out.push((i + 1, body, String::new()));
        } else {
            let last = out.last_mut().expect("a cases block follows a crust block");
            assert!(last.2.is_empty(), "two cases blocks after line {}", last.0);
            last.2 = body;
        }
    }
    out
}

#[test]
fn every_example_compiles_is_formatted_and_decides_its_cases() {
    let examples = examples();
    assert!(examples.len() >= 10, "only {} examples", examples.len());
    let tables: Vec<(String, String)> = builtin_sources()
        .into_iter()
        .filter(|(p, _)| !p.starts_with("rules/builtin/"))
        .collect();
    let mut cases_run = 0;
    for (line, src, cases) in examples {
        assert!(
            !cases.trim().is_empty(),
            "the example at grammar/README.md:{line} has no cases block"
        );
        assert_eq!(
            format(&src).as_deref(),
            Some(src.as_str()),
            "the example at grammar/README.md:{line} is not in `crust fmt` form"
        );
        let mut files = tables.clone();
        files.push((format!("example-{line}.crust"), src.clone()));
        let compiled = match compile_sources(files) {
            Ok(c) => c,
            Err(e) => panic!("grammar/README.md:{line}:\n{}", e.render()),
        };
        assert!(
            compiled.diagnostics.items.is_empty(),
            "grammar/README.md:{line}: {}",
            compiled.diagnostics.render(&compiled.sources)
        );
        let bundle = Engine::from_bytes(&compiled.bytes).unwrap();
        for case in cases.lines().filter(|l| !l.trim().is_empty()) {
            let mut parts = case.splitn(3, ' ');
            let (expect, tool, args) = (
                parts.next().unwrap(),
                parts.next().unwrap(),
                parts.next().unwrap(),
            );
            let args: serde_json::Value = serde_json::from_str(args)
                .unwrap_or_else(|e| panic!("grammar/README.md:{line}: `{case}`: {e}"));
            let v = bundle.evaluate(&ToolCall {
                name: tool,
                args: &args,
                cwd: Some("/home/user/project"),
                home: Some("/home/user"),
            });
            assert_eq!(
                v.decision.name(),
                expect,
                "grammar/README.md:{line}: `{case}` was decided {v:?}"
            );
            cases_run += 1;
        }
    }
    assert!(cases_run >= 35, "only {cases_run} cases");
}
