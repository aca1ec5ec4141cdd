//! Load generation shared by the proxy and team-mode benches: a mock provider answering with
//! the end-to-end fixtures (optionally paced like a real provider), and a client that times
//! first byte, first text and last byte of each answer.

use crate::fail;
use bytes::Bytes;
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

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/e2e/fixtures");

/// A body fed by a channel: the paced mock sends each event when its time comes.
pub struct Paced(tokio::sync::mpsc::Receiver<Bytes>);

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
pub async fn mock(
    req: Request<Incoming>,
) -> Result<Response<BoxBody<Bytes, Infallible>>, Infallible> {
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
pub fn runtime(workers: Option<usize>) -> tokio::runtime::Runtime {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = workers {
        b.worker_threads(n);
    }
    b.enable_all()
        .build()
        .unwrap_or_else(|_| fail("no runtime"))
}

pub fn start_mock() -> SocketAddr {
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

/// A column of the report: its name and how to read it from a sample.
pub type Metric = (&'static str, fn(&Sample) -> Duration);

pub struct Sample {
    pub first: Duration,
    /// The first frame carrying generated text (`text_delta`).
    pub text: Duration,
    pub last: Duration,
}

pub type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

pub async fn one(
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

pub async fn cell(
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

pub fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v.get(i).copied().unwrap_or_default()
}

pub fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
