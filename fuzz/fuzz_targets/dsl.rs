//! Arbitrary text as a `.crust` policy file: the front-end (lexer, parser, lowering, checks)
//! never panics, and whatever `crust fmt` prints is stable under a second formatting and
//! compiles to the same diagnostics count as the original.
#![no_main]

use crust_compiler::frontend::dsl::fmt::format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let compiled = crust_compiler::compile_sources(vec![("f.crust".into(), text.to_owned())]);
    if let Some(once) = format(text) {
        let twice = format(&once);
        assert_eq!(
            twice.as_deref(),
            Some(once.as_str()),
            "formatting is not idempotent"
        );
        let again = crust_compiler::compile_sources(vec![("f.crust".into(), once)]);
        assert_eq!(
            compiled.is_ok(),
            again.is_ok(),
            "formatting changed the meaning"
        );
    }
});
