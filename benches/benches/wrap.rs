//! `crust wrap`: the latency one JSON-RPC round trip gains when it crosses the gateway (judge
//! the `tools/call`, relay it, scan the result, relay it back), against the same round trip
//! over a direct pipe to the same server (`mcp_echo`, which answers at once).
//!
//! Needs the release `crust` binary: `cargo build --release -p crust-cli` first.
//! Prints p50 and p99 per case besides criterion's figures.

use criterion::{criterion_group, criterion_main, Criterion};
use crust_benches::{builtin_bundle_file, fail};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

fn release_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|e| fail(&format!("current_exe: {e}")));
    exe.parent()
        .and_then(Path::parent)
        .unwrap_or_else(|| fail("no target directory"))
        .to_path_buf()
}

struct Session {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    line: String,
}

impl Session {
    fn start(cmd: &mut Command) -> Session {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| fail(&format!("spawn: {e}")));
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            fail("no pipes");
        };
        Session {
            child,
            stdin,
            stdout: BufReader::new(stdout),
            line: String::new(),
        }
    }

    fn round_trip(&mut self, request: &[u8]) -> Duration {
        let t = Instant::now();
        if self.stdin.write_all(request).is_err() || self.stdin.flush().is_err() {
            fail("write");
        }
        self.line.clear();
        match self.stdout.read_line(&mut self.line) {
            Ok(n) if n > 0 => {}
            _ => fail("no answer"),
        }
        t.elapsed()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn percentile(times: &mut [Duration], q: f64) -> Duration {
    times.sort();
    times[((times.len() as f64 * q) as usize).min(times.len() - 1)]
}

fn wrap(c: &mut Criterion) {
    let dir = release_dir();
    let crust = dir.join("crust");
    let echo = dir.join("mcp_echo");
    if !crust.exists() || !echo.exists() {
        fail("build first: cargo build --release -p crust-cli -p crust-benches");
    }
    let policy = builtin_bundle_file();
    let home = std::env::temp_dir().join("crust-wrap-bench-home");
    let _ = std::fs::create_dir_all(&home);
    let request = |path: &str| {
        let mut r = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "read_text_file", "arguments": {"path": path}}})
        .to_string()
        .into_bytes();
        r.push(b'\n');
        r
    };
    let read = request("/home/user/project/src/main.rs");
    let mut g = c.benchmark_group("wrap_round_trip");
    g.sample_size(30);
    for size in [64usize, 16 << 10] {
        let direct = || {
            let mut cmd = Command::new(&echo);
            cmd.arg(size.to_string());
            Session::start(&mut cmd)
        };
        let wrapped = || {
            let mut cmd = Command::new(&crust);
            cmd.args(["wrap", "--no-audit", "--no-pin", "--policy"])
                .arg(&policy)
                .arg("--")
                .arg(&echo)
                .arg(size.to_string())
                .env("HOME", &home)
                .current_dir("/");
            Session::start(&mut cmd)
        };
        let mut figures = Vec::new();
        for (label, start) in [
            ("direct_pipe", &direct as &dyn Fn() -> Session),
            ("crust_wrap", &wrapped),
        ] {
            let mut s = start();
            // Warm up: page in the bundle's automata, the allocator's pools.
            for _ in 0..200 {
                s.round_trip(&read);
            }
            let mut all = Vec::new();
            g.bench_function(format!("{label}_result_{size}b"), |b| {
                b.iter_custom(|n| {
                    let mut sum = Duration::ZERO;
                    for _ in 0..n {
                        let d = s.round_trip(&read);
                        all.push(d);
                        sum += d;
                    }
                    sum
                });
            });
            let (p50, p99) = (percentile(&mut all, 0.5), percentile(&mut all, 0.99));
            eprintln!(
                "{label} result {size} B: p50 {:.1} µs, p99 {:.1} µs over {} round trips",
                p50.as_secs_f64() * 1e6,
                p99.as_secs_f64() * 1e6,
                all.len()
            );
            figures.push((p50, p99));
        }
        if let [(d50, d99), (w50, w99)] = figures[..] {
            eprintln!(
                "added by crust wrap, result {size} B: p50 {:.1} µs, p99 {:.1} µs",
                w50.saturating_sub(d50).as_secs_f64() * 1e6,
                w99.saturating_sub(d99).as_secs_f64() * 1e6
            );
        }
    }
    g.finish();
}

criterion_group!(benches, wrap);
criterion_main!(benches);
