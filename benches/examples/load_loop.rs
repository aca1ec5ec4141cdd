//! Loads the built-in bundle N times, for profiles of the load path:
//!
//! ```sh
//! cargo build --profile bench -p crust-benches --example load_loop
//! perf record -g target/release/examples/load_loop 200 && perf report
//! ```
//!
//! Run natively, it prints the fastest and the median wall time of one load.

use crust_benches::{builtin_bundle_file, fail};
use crust_runtime::Engine;
use std::hint::black_box;

/// Measured with the allocator the shipped binaries use (docs/DEPENDENCIES.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    let path = builtin_bundle_file();
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = std::time::Instant::now();
        let b = Engine::load(black_box(&path)).unwrap_or_else(|e| fail(&e.to_string()));
        black_box(b.len());
        times.push(t.elapsed().as_micros());
    }
    let _ = std::fs::remove_file(&path);
    times.sort_unstable();
    let at = |q: usize| times.get(times.len() * q / 100).copied().unwrap_or(0);
    // The minimum and median: single loads swing with the machine's other work.
    println!("{n} loads: min {} us, median {} us", at(0), at(50));
}
