//! `crust setup`'s in-place edits of agents' configuration files: any text, as JSON with
//! comments (the first byte even) or TOML (odd), gets every edit, then the undo edit. No input
//! may panic; an edit that succeeds is idempotent (a second pass adds nothing), and its output
//! still parses.
#![no_main]

use crust_cli::setup::edit::{self, Note, Wiring, JSON_EDITS, TOML_EDITS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let w = Wiring {
        crust: "/opt/crust/bin/crust".into(),
        anthropic_url: "http://127.0.0.1:9090".into(),
        openai_url: "http://127.0.0.1:9090/v1".into(),
        proxy: true,
        wrap: true,
    };
    let json = pick % 2 == 0;
    let apply = |t: &str| {
        if json {
            edit::json(t, JSON_EDITS, &w)
        } else {
            edit::toml(t, TOML_EDITS, &w)
        }
    };
    let Ok((once, _)) = apply(text) else {
        return;
    };
    let (twice, notes) = apply(&once).unwrap_or_else(|e| panic!("its own output: {e}"));
    assert!(
        !notes.iter().any(|n| matches!(n, Note::Did(_))),
        "a second pass added {notes:?}"
    );
    assert_eq!(once, twice);
    let wrapped: Vec<String> = Vec::new();
    let _ = if json {
        edit::json_undo(&once, Some("http://127.0.0.1:9090"), &wrapped)
    } else {
        edit::toml_undo(&once, true, &wrapped)
    };
});
