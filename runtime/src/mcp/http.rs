//! `crust mcp --upstream URL`: a reverse proxy for an MCP server's Streamable HTTP endpoint,
//! judging every JSON-RPC message with the same [`Gateway`] as `crust wrap`.
//!
//! - `POST` (the client's messages): judged before anything is sent; a refused request is
//!   answered here (HTTP 200 with the JSON-RPC error) and never reaches the server. The
//!   server's answer, JSON or an event stream, is judged message by message on its way back
//!   (a stream event by event, as it arrives).
//! - `GET` (the server's own stream of requests and notifications) and `DELETE` (the end of a
//!   session) are relayed, the stream judged like a `POST`'s.
//! - `Mcp-Session-Id` and the other request headers pass both ways, so answers are matched to
//!   their requests per session.
//! - It listens on loopback only, and refuses a request whose `Origin` or `Host` is not
//!   loopback (a web page that rebinds a DNS name to 127.0.0.1 cannot drive the server).
//! - What it cannot judge (a compressed or unknown answer body, an event larger than the
//!   bound, a body over the size bound) is refused, never relayed.

use super::gateway::{Gateway, Out, Side};
use crate::proxy::server::HttpsClient;
use crate::proxy::server::{is_loopback, shutdown_signal, strip_hop_by_hop, upstream_client};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body, Frame, Incoming};
use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

type BoxBody = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

const SESSION: &str = "mcp-session-id";

/// Where the gateway listens and what it fronts.
pub struct HttpConfig {
    pub listen: SocketAddr,
    /// The MCP endpoint (`http://127.0.0.1:8000/mcp`): every request goes there, whatever
    /// path the client used.
    pub upstream: String,
    /// Largest request or answer body, and largest stream event, in bytes.
    pub max_body: usize,
    /// Where notes (what was refused and why) go.
    pub notes: Arc<dyn Fn(&str) + Send + Sync>,
}

struct Shared {
    gw: Gateway,
    cfg: HttpConfig,
    upstream: hyper::Uri,
    client: HttpsClient,
}

impl Shared {
    fn note(&self, n: &str) {
        (self.cfg.notes)(n);
    }
}

/// Serves until SIGINT or SIGTERM. `ready` receives the bound address (useful with port 0).
pub async fn serve(
    gw: Gateway,
    cfg: HttpConfig,
    ready: Option<tokio::sync::oneshot::Sender<SocketAddr>>,
) -> std::io::Result<()> {
    if !is_loopback(cfg.listen.ip()) {
        return Err(std::io::Error::other(format!(
            "refusing to listen on {}: the MCP gateway serves local clients only (loopback)",
            cfg.listen
        )));
    }
    let upstream: hyper::Uri = cfg
        .upstream
        .parse()
        .map_err(|e| std::io::Error::other(format!("`{}` is not a URL: {e}", cfg.upstream)))?;
    if !matches!(upstream.scheme_str(), Some("http" | "https")) || upstream.host().is_none() {
        return Err(std::io::Error::other(format!(
            "`{}` is not an http:// or https:// URL",
            cfg.upstream
        )));
    }
    let listener = tokio::net::TcpListener::bind(cfg.listen).await?;
    let local = listener.local_addr()?;
    let shared = Arc::new(Shared {
        gw,
        cfg,
        upstream,
        client: upstream_client(),
    });
    if let Some(tx) = ready {
        let _ = tx.send(local);
    }
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown_signal());
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = &mut shutdown => break,
        };
        let Ok((stream, _peer)) = accepted else {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let s = Arc::clone(&shared);
        let service = hyper::service::service_fn(move |req| {
            let s = Arc::clone(&s);
            async move { Ok::<_, Infallible>(handle(s, req).await) }
        });
        let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        let conn = builder.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(std::time::Duration::from_secs(10)) => {}
    }
    Ok(())
}

fn full(b: impl Into<Bytes>) -> BoxBody {
    Full::new(b.into()).map_err(|never| match never {}).boxed()
}

fn plain(status: StatusCode, text: &str) -> Response<BoxBody> {
    let mut r = Response::new(full(format!("{text}\n")));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn json_response(body: Vec<u8>) -> Response<BoxBody> {
    let mut r = Response::new(full(body));
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// Whether a `Host` or `Origin` names this machine's loopback.
fn loopback_name(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(h, port)| {
            if port.chars().all(|c| c.is_ascii_digit()) {
                h
            } else {
                authority
            }
        }),
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(is_loopback)
}

/// DNS rebinding and cross-site requests: a browser page may reach a loopback port under a
/// name that resolves there, but it cannot make the request say a loopback `Host`, and it
/// always says where it comes from in `Origin`.
fn foreign(headers: &HeaderMap, authority: Option<&str>) -> Option<String> {
    let hosts: Vec<&str> = headers
        .get_all(hyper::header::HOST)
        .iter()
        .map(|v| v.to_str().unwrap_or(""))
        .chain(authority)
        .collect();
    if hosts.is_empty() {
        return Some("it names no host".into());
    }
    for h in hosts {
        if !loopback_name(h) {
            return Some(format!("the Host `{h}` is not this machine"));
        }
    }
    for origin in headers.get_all(hyper::header::ORIGIN) {
        let o = origin.to_str().unwrap_or("");
        let authority = o.split_once("://").map_or("", |(_, rest)| rest);
        if o == "null" || !loopback_name(authority.trim_end_matches('/')) {
            return Some(format!("the Origin `{o}` is not this machine"));
        }
    }
    None
}

async fn handle(s: Arc<Shared>, req: Request<Incoming>) -> Response<BoxBody> {
    if let Some(why) = foreign(req.headers(), req.uri().authority().map(|a| a.as_str())) {
        s.note(&format!("crust mcp: refused a request: {why}"));
        return plain(
            StatusCode::FORBIDDEN,
            &format!("Crust refused this request: {why}."),
        );
    }
    match *req.method() {
        Method::POST => post(s, req).await,
        Method::GET | Method::DELETE => {
            let session = exchange(&session_of(req.headers()));
            let (parts, _) = req.into_parts();
            match send(&s, parts.method, &parts.headers, Bytes::new()).await {
                Ok(resp) => relay(s, session, parts.headers, resp).await,
                Err(r) => r,
            }
        }
        _ => plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "The MCP endpoint takes POST, GET and DELETE.",
        ),
    }
}

fn session_of(h: &HeaderMap) -> String {
    h.get(SESSION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Numbers the exchanges, so that each POST's requests are matched to the answers in its own
/// response (clients of one server may use the same ids, and share no session before
/// `initialize` is answered or with a stateless server).
static EXCHANGES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn exchange(session: &str) -> String {
    let n = EXCHANGES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{session}\0{n}")
}

/// Why a body's headers say it may not read as the UTF-8 JSON Crust judges: another charset
/// (a reader that honours it would see other messages), or an encoding.
fn unreadable_body(h: &HeaderMap) -> Option<String> {
    for v in h.get_all(hyper::header::CONTENT_ENCODING) {
        let e = v.to_str().unwrap_or("?").trim();
        if !e.eq_ignore_ascii_case("identity") {
            return Some(format!("it is encoded (`{e}`)"));
        }
    }
    for v in h.get_all(hyper::header::CONTENT_TYPE) {
        let t = v.to_str().unwrap_or("?").to_ascii_lowercase();
        for param in t.split(';').skip(1) {
            if let Some(cs) = param.trim().strip_prefix("charset=") {
                let cs = cs.trim_matches('"');
                if cs != "utf-8" && cs != "utf8" {
                    return Some(format!("its charset is `{cs}`"));
                }
            }
        }
    }
    None
}

async fn post(s: Arc<Shared>, req: Request<Incoming>) -> Response<BoxBody> {
    if let Some(why) = unreadable_body(req.headers()) {
        return plain(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &format!("Crust cannot judge this request: {why}; send UTF-8 JSON."),
        );
    }
    let session = exchange(&session_of(req.headers()));
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, s.cfg.max_body).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("Crust cannot read this request ({e})."),
            )
        }
    };
    let mut forward: Vec<Vec<u8>> = Vec::new();
    let mut answers: Vec<Vec<u8>> = Vec::new();
    for o in s.gw.handle_in(&session, Side::Client, &body) {
        match o {
            Out::Note(n) => s.note(&n),
            Out::Send(Side::Child, b) => forward.push(b),
            Out::Send(Side::Client, b) => answers.push(b),
        }
    }
    if forward.is_empty() {
        return match answers.len() {
            // A notification Crust dropped: accepted, as the server would have.
            0 => {
                let mut r = Response::new(full(Bytes::new()));
                *r.status_mut() = StatusCode::ACCEPTED;
                r
            }
            1 => json_response(answers.swap_remove(0)),
            _ => json_response(join(&answers)),
        };
    }
    if !answers.is_empty() {
        // Part of a batch refused: none of it is sent, each request answered.
        for f in &forward {
            if let Some(id) = serde_json::from_slice::<Value>(f)
                .ok()
                .and_then(|v| v.get("id").cloned())
            {
                answers.push(
                    json!({"jsonrpc": "2.0", "id": id, "error": {"code": super::gateway::REFUSED,
                        "message": "Not sent: Crust refused another message of the same batch."}})
                    .to_string()
                    .into_bytes(),
                );
            }
        }
        return json_response(join(&answers));
    }
    let out = if forward.len() == 1 && !body.trim_ascii_start().starts_with(b"[") {
        Bytes::from(forward.swap_remove(0))
    } else {
        Bytes::from(join(&forward))
    };
    match send(&s, Method::POST, &parts.headers, out).await {
        Ok(resp) => relay(s, session, parts.headers, resp).await,
        Err(r) => {
            s.gw.forget(&session);
            r
        }
    }
}

fn join(items: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![b'['];
    for (i, it) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(it);
    }
    out.push(b']');
    out
}

/// Sends a request to the upstream endpoint with the client's headers (less the hop-by-hop
/// ones, `Host`, `Origin` and `Referer`, and asking for an uncompressed answer).
async fn send(
    s: &Shared,
    method: Method,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response<Incoming>, Response<BoxBody>> {
    let mut req = Request::new(Full::new(body));
    *req.method_mut() = method;
    *req.uri_mut() = s.upstream.clone();
    let h = req.headers_mut();
    for (k, v) in headers {
        h.append(k.clone(), v.clone());
    }
    strip_hop_by_hop(h);
    for k in [
        hyper::header::HOST,
        hyper::header::ORIGIN,
        hyper::header::REFERER,
        hyper::header::CONTENT_LENGTH,
    ] {
        h.remove(k);
    }
    h.insert(
        hyper::header::ACCEPT_ENCODING,
        HeaderValue::from_static("identity"),
    );
    s.client.request(req).await.map_err(|e| {
        plain(
            StatusCode::BAD_GATEWAY,
            &format!("Crust cannot reach the MCP server ({e})."),
        )
    })
}

/// The server's answer, judged on its way to the client.
async fn relay(
    s: Arc<Shared>,
    session: String,
    asked: HeaderMap,
    resp: Response<Incoming>,
) -> Response<BoxBody> {
    let status = resp.status();
    if status.is_redirection() || status == StatusCode::SWITCHING_PROTOCOLS {
        s.gw.forget(&session);
        let to = resp
            .headers()
            .get(hyper::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        return plain(
            StatusCode::BAD_GATEWAY,
            &format!(
                "Crust does not follow the MCP server's {status} (to `{to}`): point --upstream at the endpoint itself."
            ),
        );
    }
    if let Some(why) = unreadable_body(resp.headers()) {
        s.gw.forget(&session);
        return plain(
            StatusCode::BAD_GATEWAY,
            &format!("Crust cannot judge the MCP server's answer: {why}."),
        );
    }
    let (mut parts, body) = resp.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    parts.headers.remove(hyper::header::CONTENT_LENGTH);
    // Answers are matched to requests under the session the request was sent in (an
    // `initialize` is sent before the server names the session).
    let ctype = parts
        .headers
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ctype.starts_with("text/event-stream") {
        let stream = Events {
            upstream: Some(body),
            shared: s,
            session,
            asked,
            buf: Vec::new(),
            scanned: 0,
            started: false,
            cr: false,
            out: Vec::new(),
        };
        return Response::from_parts(parts, stream.boxed());
    }
    let collected = Limited::new(body, s.cfg.max_body).collect().await;
    // The answers of this exchange are all here (or never come).
    let forget = ForgetOnDrop(&s, &session);
    let bytes = match collected {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return plain(
                StatusCode::BAD_GATEWAY,
                &format!("Crust cannot read the MCP server's answer ({e})."),
            )
        }
    };
    if bytes.trim_ascii().is_empty() {
        return Response::from_parts(parts, full(Bytes::new()));
    }
    if !ctype.starts_with("application/json") {
        return plain(
            if parts.status.is_success() {
                StatusCode::BAD_GATEWAY
            } else {
                parts.status
            },
            &format!(
                "Crust withheld the MCP server's answer ({} with a `{ctype}` body it cannot judge).",
                parts.status
            ),
        );
    }
    let mut answers = Vec::new();
    for o in s.gw.handle_in(&session, Side::Child, &bytes) {
        match o {
            Out::Note(n) => s.note(&n),
            Out::Send(Side::Client, b) => answers.push(b),
            Out::Send(Side::Child, b) => answer_server(&s, &session, &asked, b),
        }
    }
    drop(forget);
    let body = match answers.len() {
        0 => Bytes::new(),
        1 => Bytes::from(answers.swap_remove(0)),
        _ => Bytes::from(join(&answers)),
    };
    Response::from_parts(parts, full(body))
}

/// Crust's answer to a request the server made (one it refused): posted back in its session.
/// Forgets an exchange's unanswered requests when the exchange ends, however it ends.
struct ForgetOnDrop<'a>(&'a Shared, &'a str);

impl Drop for ForgetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.gw.forget(self.1);
    }
}

fn answer_server(s: &Arc<Shared>, session: &str, asked: &HeaderMap, body: Vec<u8>) {
    let s = Arc::clone(s);
    let session = session.split('\0').next().unwrap_or_default();
    let mut headers = HeaderMap::new();
    // The client's credentials and protocol version, as its own answer would carry them.
    for k in [
        hyper::header::AUTHORIZATION.as_str(),
        "mcp-protocol-version",
    ] {
        if let Some(v) = asked.get(k) {
            headers.insert(k, v.clone());
        }
    }
    headers.insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        hyper::header::ACCEPT,
        HeaderValue::from_static("application/json, text/event-stream"),
    );
    if let Ok(v) = HeaderValue::from_str(session) {
        if !session.is_empty() {
            headers.insert(SESSION, v);
        }
    }
    tokio::spawn(async move {
        let _ = send(&s, Method::POST, &headers, Bytes::from(body)).await;
    });
}

/// An event stream from the server, judged event by event: an event's data is one JSON-RPC
/// message; what Crust lets through is written back as the same event (its `event:` and `id:`
/// lines kept), what it refuses is replaced by its answer or dropped.
struct Events {
    upstream: Option<Incoming>,
    shared: Arc<Shared>,
    session: String,
    /// The request's headers (for Crust's own answers to the server).
    asked: HeaderMap,
    buf: Vec<u8>,
    /// How much of `buf` holds no event end (searched already).
    scanned: usize,
    /// Whether the stream's first bytes were seen (a byte-order mark there is dropped).
    started: bool,
    /// Whether the last byte taken was a carriage return (a `\n` after it ends no line).
    cr: bool,
    out: Vec<u8>,
}

impl Drop for Events {
    fn drop(&mut self) {
        self.shared.gw.forget(&self.session);
    }
}

impl Events {
    /// Takes bytes of the stream: line ends (CRLF, CR, LF) made LF, a leading byte-order mark
    /// dropped, as event-stream readers read them.
    fn take(&mut self, data: &[u8]) {
        let mut data = data;
        if !self.started && !data.is_empty() {
            self.started = true;
            data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
        }
        for &b in data {
            match b {
                b'\r' => {
                    self.buf.push(b'\n');
                    self.cr = true;
                }
                b'\n' if self.cr => self.cr = false,
                _ => {
                    self.buf.push(b);
                    self.cr = false;
                }
            }
        }
    }

    /// Judges every whole event in the buffer.
    fn events(&mut self) {
        loop {
            let from = self.scanned.saturating_sub(1);
            let Some(end) = self.buf.get(from..).and_then(find_blank_line) else {
                self.scanned = self.buf.len();
                return;
            };
            let (at, after) = (from + end.0, from + end.1);
            let event: Vec<u8> = self.buf.drain(..after).collect();
            self.scanned = 0;
            self.event(event.get(..at).unwrap_or(&event));
        }
    }

    fn event(&mut self, raw: &[u8]) {
        let text = String::from_utf8_lossy(raw);
        // Only the fields a reader acts on are written again (`event`, `id`, `retry`;
        // comments are dropped): nothing passes as bytes Crust did not read as fields.
        let mut other = String::new();
        let mut data: Option<String> = None;
        for line in text.split('\n') {
            let (field, value) = match line.split_once(':') {
                Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                None => (line, ""),
            };
            match field {
                "data" => match &mut data {
                    Some(acc) => {
                        acc.push('\n');
                        acc.push_str(value);
                    }
                    None => data = Some(value.to_owned()),
                },
                "event" | "id" | "retry" if !value.contains('\0') => {
                    other.push_str(field);
                    other.push_str(": ");
                    other.push_str(value);
                    other.push('\n');
                }
                _ => {}
            }
        }
        let Some(data) = data else {
            if !other.is_empty() {
                self.out.extend_from_slice(other.as_bytes());
                self.out.push(b'\n');
            }
            return;
        };
        let s = Arc::clone(&self.shared);
        for o in s.gw.handle_in(&self.session, Side::Child, data.as_bytes()) {
            match o {
                Out::Note(n) => s.note(&n),
                Out::Send(Side::Client, b) => {
                    self.out.extend_from_slice(other.as_bytes());
                    for line in b.split(|&c| c == b'\n') {
                        self.out.extend_from_slice(b"data: ");
                        self.out.extend_from_slice(line);
                        self.out.push(b'\n');
                    }
                    self.out.push(b'\n');
                }
                Out::Send(Side::Child, b) => answer_server(&s, &self.session, &self.asked, b),
            }
        }
    }
}

/// The end of the first event (the byte where its blank line starts, and the byte after it).
/// Line ends were made `\n` as the bytes arrived.
fn find_blank_line(buf: &[u8]) -> Option<(usize, usize)> {
    memchr::memmem::find(buf, b"\n\n").map(|i| (i, i + 2))
}

impl Body for Events {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = &mut *self;
        loop {
            if !this.out.is_empty() {
                let out = Bytes::from(std::mem::take(&mut this.out));
                return Poll::Ready(Some(Ok(Frame::data(out))));
            }
            let Some(up) = this.upstream.as_mut() else {
                return Poll::Ready(None);
            };
            match Pin::new(up).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                // An event cut off by the end of the stream is never dispatched (as the
                // event-stream format says): it is dropped, not relayed unjudged.
                Poll::Ready(None) => this.upstream = None,
                Poll::Ready(Some(Err(e))) => {
                    this.upstream = None;
                    return Poll::Ready(Some(Err(std::io::Error::other(e))));
                }
                Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        this.take(&data);
                        this.events();
                        if this.buf.len() > this.shared.cfg.max_body {
                            this.upstream = None;
                            this.shared.note(
                                "crust mcp: closed a stream from the server: an event is over the size bound",
                            );
                            return Poll::Ready(Some(Err(std::io::Error::other(
                                "an event is over the size bound",
                            ))));
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_names_are_this_machine() {
        for ok in [
            "localhost",
            "localhost:9091",
            "127.0.0.1:9091",
            "[::1]:9091",
            "127.8.0.1",
            "app.localhost:3000",
        ] {
            assert!(loopback_name(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "127.0.0.1.nip.io:9091",
            "localhost.evil.example",
            "10.0.0.1:9091",
            "0x7f000001.example",
        ] {
            assert!(!loopback_name(bad), "{bad}");
        }
    }

    #[test]
    fn foreign_origins_and_hosts_are_refused() {
        let mut h = HeaderMap::new();
        h.insert(
            hyper::header::HOST,
            HeaderValue::from_static("127.0.0.1:9091"),
        );
        assert_eq!(foreign(&h, None), None);
        h.insert(
            hyper::header::ORIGIN,
            HeaderValue::from_static("http://localhost:6274"),
        );
        assert_eq!(foreign(&h, None), None);
        h.insert(
            hyper::header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(foreign(&h, None).is_some());
        h.insert(hyper::header::ORIGIN, HeaderValue::from_static("null"));
        assert!(foreign(&h, None).is_some());
        h.remove(hyper::header::ORIGIN);
        h.insert(
            hyper::header::HOST,
            HeaderValue::from_static("rebind.example:9091"),
        );
        assert!(foreign(&h, None).is_some());
        // HTTP/2 names the host in the request's authority; no host at all is refused.
        assert!(foreign(&HeaderMap::new(), Some("rebind.example")).is_some());
        assert!(foreign(&HeaderMap::new(), None).is_some());
        assert_eq!(foreign(&HeaderMap::new(), Some("127.0.0.1:9091")), None);
    }
}
