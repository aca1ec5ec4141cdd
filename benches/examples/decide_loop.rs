//! Runs one whole decision N times, for instruction counts under callgrind:
//!
//! ```sh
//! cargo build --profile bench -p crust-benches --example decide_loop
//! valgrind --tool=callgrind --toggle-collect='*decide_all*' --callgrind-out-file=cg.out \
//!     target/release/examples/decide_loop bash_200b_benign 2000
//! callgrind_annotate cg.out | head -30
//! ```
//!
//! Only the decision is counted (`--toggle-collect`, not the bundle's compile and load): the
//! program total divided by N is the cost of one decision; the listing says where it goes.
//! Run natively, it prints the wall time per decision (arguments already parsed).

use crust_benches::{builtin_bundle_file, decision_calls, fail, CWD, HOME};
use crust_runtime::{Engine, ToolCall};
use std::hint::black_box;

/// Measured with the allocator the shipped binaries use (docs/DEPENDENCIES.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let mut argv = std::env::args().skip(1);
    let name = argv.next().unwrap_or_else(|| "bash_200b_benign".into());
    let n: usize = argv.next().and_then(|s| s.parse().ok()).unwrap_or(2000);
    let Some((_, tool, json)) = decision_calls().into_iter().find(|c| c.0 == name) else {
        fail(&format!("unknown call {name}"));
    };
    let bundle = Engine::load(builtin_bundle_file()).unwrap_or_else(|e| fail(&e.to_string()));
    let args: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| fail(&e.to_string()));
    let t = std::time::Instant::now();
    let blocked = decide_all(&bundle, tool, &args, n);
    let ns = t.elapsed().as_nanos() as f64 / n.max(1) as f64;
    // Wall time per decision, arguments already parsed (criterion's figures include the JSON).
    println!("{name}: {n} decisions, {blocked} blocked, {ns:.0} ns each");
}

/// The measured loop, kept out of line so callgrind can count it alone.
#[inline(never)]
fn decide_all(bundle: &Engine, tool: &str, args: &serde_json::Value, n: usize) -> usize {
    let mut blocked = 0;
    for _ in 0..n {
        let v = bundle.evaluate(&ToolCall {
            name: tool,
            args: black_box(args),
            cwd: Some(CWD),
            home: Some(HOME),
        });
        blocked += usize::from(v.is_block());
    }
    blocked
}
