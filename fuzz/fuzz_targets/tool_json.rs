//! Arbitrary bytes as a tool-call line (`{"tool": .., "args": ..}`), so every tool table
//! entry, argv arrays, patch bodies and the shape fallback see malformed and hostile input.
#![no_main]

use crust_fuzz::{judge_within_linear_time, CWD, HOME};
use crust_runtime::check::parse_call_line;
use crust_runtime::ToolCall;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    // Unparseable lines are blocked by `check_line`; here only the ones that reach extraction
    // are interesting.
    let Ok(c) = parse_call_line(line) else {
        return;
    };
    let call = ToolCall {
        name: &c.name,
        args: &c.args,
        cwd: Some(c.cwd.as_deref().unwrap_or(CWD)),
        home: Some(HOME),
    };
    let _ = judge_within_linear_time(&call, data.len());
});
