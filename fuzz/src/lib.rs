//! Shared setup for the fuzz targets: the built-in policy compiled once, and the time bound
//! every input must meet.

use crust_runtime::{Engine, ToolCall, Verdict};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const HOME: &str = "/home/user";
pub const CWD: &str = "/home/user/project";

/// The built-in policy's bundle bytes. A policy that does not compile is a bug in the
/// repository, so the target aborts loudly rather than fuzzing nothing.
pub fn bundle_bytes() -> &'static [u8] {
    static B: OnceLock<Vec<u8>> = OnceLock::new();
    B.get_or_init(
        || match crust_compiler::compile_sources(crust_compiler::builtin_sources()) {
            Ok(c) => c.bytes,
            Err(e) => {
                eprintln!("{}", e.render());
                std::process::abort()
            }
        },
    )
}

/// The built-in policy.
pub fn bundle() -> &'static Engine {
    static B: OnceLock<Engine> = OnceLock::new();
    B.get_or_init(|| match Engine::from_bytes(bundle_bytes()) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("built-in bundle rejected: {e}");
            std::process::abort()
        }
    })
}

/// Analysis is static and bounded by a budget linear in the input, so a decision that takes
/// longer than a fixed cost plus a per-byte cost means a superlinear path was found. The
/// constants are loose enough for sanitizer builds; libFuzzer's own `-timeout` catches hangs.
pub fn judge_within_linear_time(call: &ToolCall<'_>, input_len: usize) -> Verdict<'static> {
    let bundle = bundle(); // compiled on first use, outside the measured time
    let started = Instant::now();
    let verdict = bundle.evaluate(call).into_owned();
    let limit = Duration::from_millis(50) + Duration::from_micros(100) * input_len as u32;
    let took = started.elapsed();
    if took > limit {
        eprintln!("decision took {took:?} for {input_len} bytes (limit {limit:?})");
        std::process::abort();
    }
    verdict
}
