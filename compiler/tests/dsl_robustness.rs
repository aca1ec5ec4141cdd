//! The policy language front-end on damaged input (a stable-toolchain companion to the
//! `dsl` fuzz target): real `.crust` files cut, spliced and sprinkled with tokens never make
//! the compiler or the formatter panic, and formatting stays idempotent.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use crust_compiler::frontend::dsl::fmt::format;
use proptest::prelude::*;

const SEEDS: &[&str] = &[
    include_str!("../../rules/builtin/92-exfiltration.crust"),
    include_str!("../../rules/builtin/95-self-protection.crust"),
    include_str!("equivalence/policy.crust"),
];
const TOKENS: &[&str] = &[
    "{", "}", "[", "]", "(", ")", ",", "=", "\"", "/", "#", "\\", "and", "or", "not", "when",
    "block", "set", "is", "in", "except", "arg", "\"x\"", "/a/", "\n", " ", "é", "'",
];

fn damaged() -> impl Strategy<Value = String> {
    (
        proptest::sample::select(SEEDS),
        proptest::collection::vec(
            (
                any::<prop::sample::Index>(),
                0usize..3,
                proptest::sample::select(TOKENS),
            ),
            1..6,
        ),
    )
        .prop_map(|(seed, edits)| {
            let mut s = seed.to_owned();
            for (at, kind, tok) in edits {
                let mut i = at.index(s.len() + 1);
                while !s.is_char_boundary(i) {
                    i -= 1;
                }
                match kind {
                    0 => s.insert_str(i, tok),
                    1 => {
                        let mut j = (i + tok.len() * 3).min(s.len());
                        while !s.is_char_boundary(j) {
                            j -= 1;
                        }
                        s.replace_range(i..j, "");
                    }
                    _ => s.truncate(i),
                }
            }
            s
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn damaged_files_never_panic(text in damaged()) {
        let compiled = crust_compiler::compile_sources(vec![("f.crust".into(), text.clone())]);
        if let Err(e) = &compiled {
            // A refusal always says why.
            prop_assert!(e.diagnostics.has_errors());
        }
        if let Some(once) = format(&text) {
            prop_assert_eq!(format(&once), Some(once.clone()));
            let again = crust_compiler::compile_sources(vec![("f.crust".into(), once)]);
            prop_assert_eq!(compiled.is_ok(), again.is_ok());
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = crust_compiler::compile_sources(vec![("f.crust".into(), text.clone())]);
        if let Some(once) = format(&text) {
            prop_assert_eq!(format(&once), Some(once));
        }
    }
}
