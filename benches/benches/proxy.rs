//! Load test of the proxy: added latency against calling the mock upstream directly, same run,
//! same client, on loopback. JSON and streaming (time to first and last byte), concurrency 1
//! and 64. Stops by itself; prints a table for docs/PERFORMANCE.md.
//!
//! `cargo bench -p crust-benches --bench proxy` (REQUESTS=N per cell, default 2000).
//!
//! The paced cells replay the stream the way a provider sends it: the first event after a
//! time to first token (20 ms), then one event per millisecond. Against an instant mock the
//! proxy's hop is all there is to see; against a paced one, whether it holds the answer back.
//! `AUDIT=1` turns the encrypted audit log on (in a temporary directory); `AUDIT_BURST=N`
//! also pushes N extra records into it from another thread just before each cell, to show a
//! burst does not slow requests.

use crust_benches::loadgen::{cell, pct, runtime, start_mock, us, Metric};
use crust_benches::{builtin_bundle_file, fail};
use crust_runtime::proxy::{serve, Config, Route, Upstream};
use crust_runtime::Engine;
use std::net::SocketAddr;
use std::time::Duration;

/// Measured with the allocator the shipped binaries use (docs/DEPENDENCIES.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn start_proxy(upstream: SocketAddr, audit: Option<crust_runtime::audit::Auditor>) -> SocketAddr {
    let path = builtin_bundle_file();
    let bundle = Engine::load(&path).unwrap_or_else(|e| fail(&e.to_string()));
    let base = format!("http://{upstream}")
        .parse()
        .unwrap_or_else(|_| fail("bad upstream"));
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap_or_else(|_| fail("bad listen")),
        route: Route::Fixed(Upstream {
            base,
            api_key: None,
        }),
        policy_path: None,
        home: "/home/user".into(),
        max_body: 32 << 20,
        block_mode: Default::default(),
        audit,
        limits: Default::default(),
        remote: None,
        protect: Vec::new(),
        control: None,
        ext_proc: None,
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
        .unwrap_or_else(|_| fail("proxy did not start"))
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|x| x.parse().ok()))
        })
        .unwrap_or(0)
}

fn burst_record(i: usize) -> crust_runtime::audit::Record {
    crust_runtime::audit::Record {
        time_ms: crust_runtime::audit::now_ms(),
        session: None,
        agent: Some("burst".into()),
        user: None,
        api: "anthropic-messages".into(),
        side: "response".into(),
        tool: "Bash".into(),
        call_id: None,
        args: format!("{{\"command\":\"echo {i}\"}}"),
        decision: "allow".into(),
        rule: None,
        severity: None,
        eval_ns: 1000,
        bundle: "bench".into(),
        bundle_checksum: "0".into(),
        dropped_before: None,
    }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    let n: usize = std::env::var("REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let upstream = start_mock();
    let audit = std::env::var_os("AUDIT").map(|_| {
        let dir = std::env::temp_dir().join(format!("crust-bench-audit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        crust_runtime::audit::open(&dir.join("keys"), dir.join("audit.log"), &[])
            .unwrap_or_else(|e| fail(&e))
    });
    let burst: usize = std::env::var("AUDIT_BURST")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let auditor = audit.as_ref().map(|(a, _)| a.clone());
    let proxy = start_proxy(upstream, auditor.clone());
    let rt = runtime(None);
    println!("| body | concurrency | metric | direct p50 | proxy p50 | added p50 | direct p99 | proxy p99 | added p99 |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    // Paced streams take ~40 ms each: a tenth of the requests.
    let paced_n = (n / 10).max(64);
    let mut ttft_ratios = Vec::new();
    for (label, path, scenario, pace) in [
        (
            "JSON (Anthropic, 1 tool call)",
            "/v1/messages",
            "anth_benign",
            "",
        ),
        (
            "SSE (Anthropic, text + 2 tool calls)",
            "/v1/messages",
            "anth_mixed_stream",
            "",
        ),
        (
            "SSE paced: 20 ms to first event, 1 ms apart (text + 2 tool calls)",
            "/v1/messages",
            "anth_mixed_stream",
            "20,1",
        ),
    ] {
        let n = if pace.is_empty() { n } else { paced_n };
        for c in [1usize, 64] {
            if let (Some(a), true) = (&auditor, burst > 0) {
                let a = a.clone();
                std::thread::spawn(move || {
                    for i in 0..burst {
                        a.record(burst_record(i));
                    }
                });
            }
            let direct = rt.block_on(cell(upstream, path, scenario, pace, c, n));
            let via = rt.block_on(cell(proxy, path, scenario, pace, c, n));
            let metrics: &[Metric] = if scenario.ends_with("_stream") {
                &[
                    ("first byte", |s| s.first),
                    ("first text", |s| s.text),
                    ("last byte", |s| s.last),
                ]
            } else {
                &[("whole response", |s| s.last)]
            };
            for (m, get) in metrics {
                let mut d: Vec<Duration> = direct.iter().map(get).collect();
                let mut p: Vec<Duration> = via.iter().map(get).collect();
                let (d50, d99, p50, p99) = (
                    pct(&mut d, 0.5),
                    pct(&mut d, 0.99),
                    pct(&mut p, 0.5),
                    pct(&mut p, 0.99),
                );
                println!(
                    "| {label} | {c} | {m} | {:.0} µs | {:.0} µs | {:+.0} µs | {:.0} µs | {:.0} µs | {:+.0} µs |",
                    us(d50), us(p50), us(p50) - us(d50), us(d99), us(p99), us(p99) - us(d99)
                );
                if *m == "first text" {
                    ttft_ratios.push(format!(
                        "{label}, c={c}: proxy/direct p50 {:.3}, p99 {:.3}",
                        us(p50) / us(d50),
                        us(p99) / us(d99)
                    ));
                }
            }
        }
    }
    println!("\ntime to first text byte, proxy against direct:");
    for r in &ttft_ratios {
        println!("  {r}");
    }
    println!(
        "\npeak RSS of the whole bench process (mock + proxy + client): {} MiB",
        peak_rss_kib() / 1024
    );
    if let Some(a) = &auditor {
        println!(
            "audit records dropped (channel full): {}",
            a.dropped_total()
        );
    }
}
