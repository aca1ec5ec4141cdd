//! docs/RULES.md is generated from the built-in rule files; this test fails when they drift.
//! Regenerate with `CRUST_BLESS=1 cargo test -p crust-compiler --test rules_doc`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[test]
fn rules_md_matches_the_rule_files() {
    let compiled = crust_compiler::compile_sources(crust_compiler::builtin_sources())
        .unwrap_or_else(|_| panic!("the built-in policy compiles"));
    let bundle = crust_runtime::Engine::from_bytes(&compiled.bytes).unwrap();
    let attack = crust_compiler::ruledoc::AttackMap::builtin().unwrap();
    let problems = attack.problems(bundle.meta());
    assert!(problems.is_empty(), "docs/attack.yaml: {problems:#?}");
    let want = crust_compiler::ruledoc::render_with(bundle.meta(), "Built-in rules", Some(&attack));
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/RULES.md");
    if std::env::var_os("CRUST_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/RULES.md is out of date with the rule files; regenerate it with\n  CRUST_BLESS=1 cargo test -p crust-compiler --test rules_doc"
    );
}
