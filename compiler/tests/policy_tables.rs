//! Every `policy-tests/*.yaml` table passes, and every built-in rule has a case that it blocks
//! and a near-miss case that is allowed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use crust_compiler::testing::{render, run_paths};
use std::path::PathBuf;

fn tables() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policy-tests")
}

#[test]
fn policy_tables_pass_with_full_coverage() {
    let report = run_paths(&[tables()]);
    let text = render(&report, true);
    assert!(report.errors.is_empty(), "{text}");
    assert_eq!(report.failed(), 0, "{text}");
    assert!(
        report.passed() >= 60,
        "only {} cases\n{text}",
        report.passed()
    );
    let missing: Vec<_> = report
        .coverage
        .iter()
        .filter(|(_, (b, a))| *b == 0 || *a == 0)
        .collect();
    assert!(
        missing.is_empty(),
        "rules without a block case or near-miss allow case: {missing:?}"
    );
}

#[test]
fn a_wrong_expectation_fails() {
    let dir = std::env::temp_dir().join(format!("crust-table-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rules = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../rules");
    let table = dir.join("t.yaml");
    std::fs::write(
        &table,
        format!(
            "policy: {}\ncases:\n  - {{name: wrong rule, tool: Read, args: {{file_path: ~/.ssh/id_rsa}}, expect: block, rule: protect-env-files}}\n  - {{name: wrong decision, tool: Read, args: {{file_path: src/a.rs}}, expect: block}}\n",
            rules.display()
        ),
    )
    .unwrap();
    let report = run_paths(&[table]);
    let text = render(&report, false);
    assert_eq!(report.failed(), 2, "{text}");
    assert!(
        text.contains("expected block by `protect-env-files`, got block by `protect-ssh-keys`"),
        "{text}"
    );
    assert!(text.ends_with("0 passed, 2 failed\n"), "{text}");
}
