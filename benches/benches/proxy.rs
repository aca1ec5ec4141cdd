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

use bytes::Bytes;
use crust_benches::{builtin_bundle_file, fail};
use crust_runtime::proxy::{serve, Config, Route, Upstream};
use crust_runtime::Bundle;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Measured with the allocator the shipped binaries use (docs/DEPENDENCIES.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/e2e/fixtures");

/// A body fed by a channel: the paced mock sends each event when its time comes.
struct Paced(tokio::sync::mpsc::Receiver<Bytes>);

impl hyper::body::Body for Paced {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|o| o.map(|b| Ok(hyper::body::Frame::data(b))))
    }
}

/// A minimal upstream: answers every POST with the fixture named by `x-test-scenario`; with
/// `x-test-pace: TTFT_MS,GAP_MS` a stream is sent event by event at that pace.
async fn mock(req: Request<Incoming>) -> Result<Response<BoxBody<Bytes, Infallible>>, Infallible> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let scenario = header("x-test-scenario");
    let pace: Option<(u64, u64)> = header("x-test-pace")
        .split_once(',')
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)));
    let _ = req.into_body().collect().await;
    let (file, ctype) = if scenario.ends_with("_stream") {
        (format!("{FIXTURES}/{scenario}.sse"), "text/event-stream")
    } else {
        (format!("{FIXTURES}/{scenario}.json"), "application/json")
    };
    let body = std::fs::read(&file).unwrap_or_default();
    let body = match pace {
        Some((ttft, gap)) => {
            let (tx, rx) = tokio::sync::mpsc::channel(64);
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(ttft)).await;
                let text = String::from_utf8_lossy(&body).into_owned();
                for (i, event) in text.split_inclusive("\n\n").enumerate() {
                    if i > 0 {
                        tokio::time::sleep(Duration::from_millis(gap)).await;
                    }
                    if tx.send(Bytes::from(event.to_owned())).await.is_err() {
                        return;
                    }
                }
            });
            BoxBody::new(Paced(rx))
        }
        None => BoxBody::new(Full::new(Bytes::from(body))),
    };
    let mut r = Response::new(body);
    if let Ok(v) = hyper::header::HeaderValue::from_str(ctype) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    Ok(r)
}

/// A multi-threaded runtime (with `workers` threads, or the default number).
fn runtime(workers: Option<usize>) -> tokio::runtime::Runtime {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = workers {
        b.worker_threads(n);
    }
    b.enable_all()
        .build()
        .unwrap_or_else(|_| fail("no runtime"))
}

fn start_mock() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = runtime(Some(1));
        rt.block_on(async move {
            let Ok(l) = tokio::net::TcpListener::bind("127.0.0.1:0").await else {
                fail("cannot bind the mock")
            };
            let _ = tx.send(l.local_addr().unwrap_or_else(|_| fail("no address")));
            loop {
                let Ok((s, _)) = l.accept().await else {
                    continue;
                };
                // A paced stream writes an event after the headers went out: with Nagle, that
                // write waits for the peer's delayed ACK (up to 40 ms) and hides the timing.
                let _ = s.set_nodelay(true);
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(s), hyper::service::service_fn(mock))
                        .await;
                });
            }
        });
    });
    rx.recv().unwrap_or_else(|_| fail("mock did not start"))
}

fn start_proxy(upstream: SocketAddr, audit: Option<crust_runtime::audit::Auditor>) -> SocketAddr {
    let path = builtin_bundle_file();
    let bundle = Bundle::load(&path).unwrap_or_else(|e| fail(&e.to_string()));
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
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let rt = runtime(Some(1));
        let _ = rt.block_on(serve(config, bundle, Some(tx)));
    });
    rx.blocking_recv()
        .unwrap_or_else(|_| fail("proxy did not start"))
}

/// A column of the report: its name and how to read it from a sample.
type Metric = (&'static str, fn(&Sample) -> Duration);

struct Sample {
    first: Duration,
    /// The first frame carrying generated text (`text_delta`).
    text: Duration,
    last: Duration,
}

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

async fn one(
    client: &HttpClient,
    addr: SocketAddr,
    path: &str,
    scenario: &str,
    pace: &str,
    body: &Bytes,
) -> Sample {
    let req = Request::post(format!("http://{addr}{path}"))
        .header("content-type", "application/json")
        .header("x-test-scenario", scenario)
        .header("x-test-pace", pace)
        .body(Full::new(body.clone()))
        .unwrap_or_else(|_| fail("bad request"));
    let start = Instant::now();
    let resp = client
        .request(req)
        .await
        .unwrap_or_else(|e| fail(&format!("request failed: {e}")));
    let mut body = resp.into_body();
    let (mut first, mut text) = (None, None);
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            fail("body error");
        };
        if first.is_none() {
            first = Some(start.elapsed());
        }
        let has_text = frame
            .data_ref()
            .is_some_and(|d| d.windows(10).any(|w| w == b"text_delta"));
        if text.is_none() && has_text {
            text = Some(start.elapsed());
        }
    }
    let last = start.elapsed();
    Sample {
        first: first.unwrap_or(last),
        text: text.unwrap_or(last),
        last,
    }
}

async fn cell(
    addr: SocketAddr,
    path: &str,
    scenario: &str,
    pace: &str,
    concurrency: usize,
    n: usize,
) -> Vec<Sample> {
    let client: Arc<HttpClient> = Arc::new(Client::builder(TokioExecutor::new()).build_http());
    let body = Bytes::from_static(br#"{"model":"m","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"go"}]}"#);
    // Warm the pools and caches.
    for _ in 0..50.min(n) {
        one(&client, addr, path, scenario, pace, &body).await;
    }
    let per = n / concurrency;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let client = Arc::clone(&client);
        let body = body.clone();
        let path = path.to_owned();
        let scenario = scenario.to_owned();
        let pace = pace.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut v = Vec::with_capacity(per);
            for _ in 0..per {
                v.push(one(&client, addr, &path, &scenario, &pace, &body).await);
            }
            v
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap_or_default());
    }
    all
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v.get(i).copied().unwrap_or_default()
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
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
        api: "anthropic-messages".into(),
        side: "response".into(),
        tool: "Bash".into(),
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
