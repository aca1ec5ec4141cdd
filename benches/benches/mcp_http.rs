//! `crust mcp --upstream`: the latency one JSON-RPC round trip (a `tools/call` POST and its JSON
//! answer) gains through the Streamable HTTP gateway, against the same POST straight to the same
//! server (a minimal hyper server in this process that answers at once), same client, same run,
//! on loopback. Prints p50 and p99 besides criterion's figures.
//!
//! `cargo bench -p crust-benches --bench mcp_http`

use bytes::Bytes;
use crust_benches::{builtin_bundle_file, fail};
use crust_runtime::mcp::http::{serve, HttpConfig};
use crust_runtime::mcp::{Config, Gateway};
use crust_runtime::own::OwnFiles;
use crust_runtime::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

async fn echo(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let id = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("id").cloned())
        .unwrap_or(serde_json::Value::Null);
    let answer = serde_json::json!({"jsonrpc": "2.0", "id": id,
        "result": {"content": [{"type": "text", "text": "fn main() {}\n"}], "isError": false}});
    let mut r = Response::new(Full::new(Bytes::from(answer.to_string())));
    r.headers_mut().insert(
        "content-type",
        "application/json"
            .parse()
            .unwrap_or_else(|_| fail("header")),
    );
    Ok(r)
}

async fn upstream() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| fail(&format!("bind: {e}")));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| fail(&format!("addr: {e}")));
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            let _ = s.set_nodelay(true);
            tokio::spawn(async move {
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(s), hyper::service::service_fn(echo))
                    .await;
            });
        }
    });
    addr
}

fn percentile(times: &mut [Duration], q: f64) -> Duration {
    times.sort();
    times[((times.len() as f64 * q) as usize).min(times.len() - 1)]
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(&format!("runtime: {e}")));
    let requests: usize = std::env::var("REQUESTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5000);
    rt.block_on(async move {
        let up = upstream().await;
        let bytes = std::fs::read(builtin_bundle_file()).unwrap_or_else(|e| fail(&format!("bundle: {e}")));
        let bundle = Engine::from_bytes(&bytes).unwrap_or_else(|e| fail(&format!("bundle: {e}")));
        let gw = Gateway::new(Config {
            bundle,
            server: "bench".into(),
            command: Vec::new(),
            home: "/home/user".into(),
            cwd: Some("/home/user/project".into()),
            own: OwnFiles::new(Vec::new()),
            pins: None,
            audit: None,
        });
        let (tx, rx) = tokio::sync::oneshot::channel();
        let cfg = HttpConfig {
            listen: "127.0.0.1:0".parse().unwrap_or_else(|_| fail("addr")),
            upstream: format!("http://{up}/mcp"),
            max_body: 32 << 20,
            notes: Arc::new(|_| {}),
        };
        tokio::spawn(async move {
            let _ = serve(gw, cfg, Some(tx)).await;
        });
        let crust = rx.await.unwrap_or_else(|_| fail("gateway did not start"));
        let client: Client<_, Full<Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "read_text_file", "arguments": {"path": "/home/user/project/src/main.rs"}}})
        .to_string();
        let mut figures = Vec::new();
        for (label, addr) in [("direct_http", up), ("crust_mcp", crust)] {
            let mut all = Vec::with_capacity(requests);
            for i in 0..requests + 200 {
                let req = Request::post(format!("http://{addr}/mcp"))
                    .header("content-type", "application/json")
                    .header("accept", "application/json, text/event-stream")
                    .body(Full::new(Bytes::from(body.clone())))
                    .unwrap_or_else(|_| fail("request"));
                let t = Instant::now();
                let resp = client.request(req).await.unwrap_or_else(|e| fail(&format!("{label}: {e}")));
                let got = resp.into_body().collect().await.unwrap_or_else(|_| fail("body")).to_bytes();
                let d = t.elapsed();
                if !got.starts_with(b"{\"jsonrpc\"") && !got.starts_with(b"{\"id\"") {
                    fail(&format!("{label}: unexpected answer {}", String::from_utf8_lossy(&got)));
                }
                if i >= 200 {
                    all.push(d);
                }
            }
            let (p50, p99) = (percentile(&mut all, 0.5), percentile(&mut all, 0.99));
            eprintln!(
                "{label}: p50 {:.1} µs, p99 {:.1} µs over {requests} round trips",
                p50.as_secs_f64() * 1e6,
                p99.as_secs_f64() * 1e6
            );
            figures.push((p50, p99));
        }
        if let [(d50, d99), (c50, c99)] = figures[..] {
            eprintln!(
                "added by crust mcp: p50 {:.1} µs ({:.2}×), p99 {:.1} µs ({:.2}×)",
                c50.saturating_sub(d50).as_secs_f64() * 1e6,
                c50.as_secs_f64() / d50.as_secs_f64(),
                c99.saturating_sub(d99).as_secs_f64() * 1e6,
                c99.as_secs_f64() / d99.as_secs_f64()
            );
        }
    });
}
