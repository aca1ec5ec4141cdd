//! Runs one recorded stream through the proxy's SSE parser and filter N times and prints the
//! time per stream: what re-framing costs a request, apart from sockets and HTTP.
//!
//! ```sh
//! cargo build --profile bench -p crust-benches --example sse_loop
//! target/release/examples/sse_loop anth_mixed_stream 20000
//! ```
//!
//! The stream is fed in one read, as the proxy gets a short answer; `chat_*` and `resp_*`
//! fixtures go through their APIs' filters.

use crust_benches::{builtin_bundle_file, fail, CWD, HOME};
use crust_runtime::proxy::judge::Judge;
use crust_runtime::proxy::sse::{self, Filter};
use crust_runtime::Engine;
use std::hint::black_box;

/// Measured with the allocator the shipped binaries use (docs/DEPENDENCIES.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/e2e/fixtures");

fn main() {
    let mut argv = std::env::args().skip(1);
    let name = argv.next().unwrap_or_else(|| "anth_mixed_stream".into());
    let n: usize = argv.next().and_then(|s| s.parse().ok()).unwrap_or(20000);
    let wire = std::fs::read(format!("{FIXTURES}/{name}.sse"))
        .unwrap_or_else(|e| fail(&format!("{name}: {e}")));
    let bundle = Engine::load(builtin_bundle_file()).unwrap_or_else(|e| fail(&e.to_string()));
    let own = crust_runtime::own::OwnFiles::default();
    let judge = Judge {
        bundle: &bundle,
        home: HOME,
        cwd: Some(CWD),
        substitute: None,
        own: &own,
        audit: None,
    };
    let mut bytes = 0;
    let t = std::time::Instant::now();
    for _ in 0..n {
        let mut filter: Box<dyn Filter> = if name.starts_with("chat") {
            Box::new(sse::Chat::new())
        } else if name.starts_with("resp") {
            Box::new(sse::Responses::new())
        } else {
            Box::new(sse::Anthropic::new())
        };
        let mut parser = sse::Parser::default();
        let mut events = Vec::new();
        let mut out = Vec::new();
        if let Err(e) = parser.feed(black_box(&wire), &mut events) {
            fail(&e);
        }
        for ev in events.drain(..) {
            filter.event(&judge, ev, &mut out);
        }
        filter.end(&judge, Ok(()), &mut out);
        bytes += black_box(out).len();
    }
    let us = t.elapsed().as_secs_f64() * 1e6 / n.max(1) as f64;
    println!(
        "{name}: {n} streams of {} bytes, {:.0} bytes out each, {us:.2} µs per stream",
        wire.len(),
        bytes as f64 / n.max(1) as f64
    );
}
