//! What users read when a rule file is wrong: every error, each as `path:line:col`, the line,
//! a caret, a help line; exit code 1; no bundle written.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::process::Command;

fn crustc(name: &str, text: &str) -> (i32, String, bool) {
    let dir = std::env::temp_dir().join(format!("crust-diag-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}.yaml"));
    std::fs::write(&file, text).unwrap();
    let out = dir.join("p.bin");
    let _ = std::fs::remove_file(&out);
    let o = Command::new(env!("CARGO_BIN_EXE_crustc"))
        .arg(&file)
        .arg("-o")
        .arg(&out)
        .current_dir(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).replace(&dir.display().to_string(), "DIR");
    (o.status.code().unwrap_or(-1), stderr, out.exists())
}

#[test]
fn unknown_key_points_at_it_with_a_suggestion() {
    let (code, err, written) = crustc(
        "typo",
        "rules:\n  - block: \"**/.env\"\n    action: [read]\n",
    );
    assert_eq!(code, 1);
    assert!(!written);
    assert!(
        err.contains("DIR/typo.yaml:3:5: error: unknown key `action` in rule\n  |\n3 |     action: [read]\n  |     ^^^^^^\n  = help: did you mean `actions`?"),
        "{err}"
    );
}

#[test]
fn every_error_in_the_file_is_reported() {
    let text = "rules:\n  - block: \"**/.env\"\n    actions: [raed]\n  - name: x\n    match: {path: \"re:(\"}\n  - name: y\n    severity: severe\n    match: {host: \"a.com\"}\n  - name: x\n    block: /a\n";
    let (code, err, _) = crustc("many", text);
    assert_eq!(code, 1);
    assert!(
        err.contains("many.yaml:3:15: error: unknown action `raed`"),
        "{err}"
    );
    assert!(err.contains("did you mean `read`?"), "{err}");
    assert!(
        err.contains("many.yaml:7:15: error: unknown severity `severe`"),
        "{err}"
    );
    assert!(
        err.contains("many.yaml:9:11: error: duplicate rule name `x`"),
        "{err}"
    );
    assert!(
        err.contains("many.yaml:5:19: error: invalid regular expression"),
        "{err}"
    );
    assert!(
        err.contains("error: 4 errors in the policy; no bundle written"),
        "{err}"
    );
}

#[test]
fn yaml_syntax_errors_have_a_location() {
    let (code, err, _) = crustc("syntax", "rules:\n  - block: \"**/.env\n");
    assert_eq!(code, 1);
    assert!(err.contains("syntax.yaml:"), "{err}");
    assert!(err.contains("invalid YAML"), "{err}");
}

#[test]
fn locked_rules_cannot_be_disabled_or_redefined() {
    let text = "rules:\n  - name: keep\n    block: /secret\n    locked: true\n  - name: keep\n    enabled: false\n  - name: soft\n    block: /x\n  - name: sotf\n    enabled: false\n";
    let (code, err, _) = crustc("locked", text);
    assert_eq!(code, 1);
    assert!(
        err.contains("locked.yaml:5:11: error: rule `keep` is locked and cannot be disabled"),
        "{err}"
    );
    assert!(err.contains("no rule named `sotf` to disable"), "{err}");
    assert!(err.contains("did you mean `soft`?"), "{err}");
}

#[test]
fn bad_patterns_are_reported_at_the_pattern() {
    let text = "rules:\n  - block: \"$USER/.ssh/*\"\n  - block: \"a[b\"\n";
    let (code, err, _) = crustc("pat", text);
    assert_eq!(code, 1);
    assert!(
        err.contains("pat.yaml:2:12: error: only `$HOME` at the start"),
        "{err}"
    );
    assert!(err.contains("pat.yaml:3:12: error: invalid glob"), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    let o = Command::new(env!("CARGO_BIN_EXE_crustc"))
        .args(["/no/such/dir", "-o", "/tmp/x.bin"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = Command::new(env!("CARGO_BIN_EXE_crustc"))
        .arg("--bogus")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn secret_formats_are_checked_where_written() {
    let text = "secrets:\n  formats:\n    - id: bad-prefix\n      regex: '[0-9]{8}:AA[a-z]{30}'\n    - id: Upper\n      regex: 'tok_[a-z]{20}'\n    - id: bad-check\n      regex: 'tok_[a-z]{20}'\n      check: crc32\n";
    let (code, err, written) = crustc("secrets", text);
    assert_eq!(code, 1);
    assert!(!written);
    assert!(
        err.contains("secrets.yaml:4:14: error: a secret pattern must start with literal text"),
        "{err}"
    );
    assert!(
        err.contains("secrets.yaml:5:11: error: a secret id is lower-case"),
        "{err}"
    );
    assert!(
        err.contains("secrets.yaml:9:14: error: unknown secret check `crc32`"),
        "{err}"
    );
    assert!(
        err.contains("expected one of: none, crc32-base62, bech32, jwt, uri-password"),
        "{err}"
    );
    assert!(err.contains("3 errors"), "{err}");
}

#[test]
fn secret_variables_and_servers_are_checked_where_written() {
    let text = "secrets:\n  variables:\n    - names: [GITHUB-TOKEN]\n      hosts: [https://github.com]\n    - hosts: [example.com]\n      hostz: [x]\ncommands:\n  - names: [srv]\n    kind: plain\n    serves:\n      - { after: srv, dir: [d] }\n";
    let (code, err, written) = crustc("vars", text);
    assert_eq!(code, 1);
    assert!(!written);
    assert!(
        err.contains("vars.yaml:3:15: error: a variable name is letters, digits and `_`"),
        "{err}"
    );
    assert!(
        err.contains("vars.yaml:4:15: error: a host is a name such as `api.github.com`"),
        "{err}"
    );
    assert!(
        err.contains("vars.yaml:6:7: error: unknown key in a `variables` entry `hostz`"),
        "{err}"
    );
    assert!(
        err.contains("vars.yaml:5:7: error: a `variables` entry needs `names`"),
        "{err}"
    );
    assert!(
        err.contains("vars.yaml:11:29: error: a `dir` entry is a flag"),
        "{err}"
    );
    assert!(err.contains("5 errors"), "{err}");
}

#[test]
fn a_tool_named_twice_in_one_file_is_an_error() {
    let (code, err, written) = crustc(
        "dup-tool",
        "tools:\n  - names: [Shell]\n    args: { command: shell }\n  - names: [run, shell]\n    args: { command: argv }\n",
    );
    assert_eq!(code, 1);
    assert!(!written);
    assert!(
        err.contains("DIR/dup-tool.yaml:4:18: error: tool `shell` is named twice in this file"),
        "{err}"
    );
}
