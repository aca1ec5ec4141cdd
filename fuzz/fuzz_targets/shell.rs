//! Arbitrary text as a Bash command: parsing and analysis never panic, and the decision time
//! stays linear in the command's length.
#![no_main]

use crust_fuzz::{judge_within_linear_time, CWD, HOME};
use crust_runtime::ToolCall;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let command = String::from_utf8_lossy(data);
    let args = serde_json::json!({ "command": command });
    let call = ToolCall {
        name: "Bash",
        args: &args,
        cwd: Some(CWD),
        home: Some(HOME),
    };
    let _ = judge_within_linear_time(&call, data.len());
});
