//! Sockets and plumbing: the hyper server, the upstream client (rustls with ring, pooled),
//! the request-side check, response filtering, hot swap of the bundle, health and metrics.

// A stage's refusal is the client's response itself, built once per refused request: boxing
// it would buy nothing.
#![allow(clippy::result_large_err)]

use super::apis::{self, Api};
use super::batch::{self, Batch};
use super::decode;
use super::judge::{find_substitute, Decision, Judge, Substitute};
use super::metrics::Metrics;
use super::sse::{self, Filter};
use crate::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body, Frame, Incoming};
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
pub use hyper::Uri;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Where requests go: one fixed upstream, or the provider each request is meant for.
#[derive(Debug, Clone)]
pub enum Route {
    Fixed(Upstream),
    /// Anthropic for `/v1/messages…` or any request carrying `anthropic-version`; OpenAI for
    /// everything else (Chat Completions, Responses, models). Keys come from the client.
    Auto,
}

const ANTHROPIC: &str = "https://api.anthropic.com";
const OPENAI: &str = "https://api.openai.com";

impl Route {
    fn pick(&self, path: &str, headers: &HeaderMap) -> Option<Upstream> {
        match self {
            Route::Fixed(u) => Some(u.clone()),
            Route::Auto => {
                let anthropic =
                    path.starts_with("/v1/messages") || headers.contains_key("anthropic-version");
                let base = if anthropic { ANTHROPIC } else { OPENAI };
                Some(Upstream {
                    base: base.parse().ok()?,
                    api_key: None,
                })
            }
        }
    }

    /// From the command line: `auto` (or nothing) routes by request; otherwise a base URL
    /// with scheme and host. The key defaults to `$CRUST_UPSTREAM_API_KEY`.
    pub fn parse(endpoint: Option<&str>, api_key: Option<String>) -> Result<Route, String> {
        let Some(endpoint) = endpoint.filter(|e| *e != "auto") else {
            return Ok(Route::Auto);
        };
        let base: Uri = endpoint
            .parse()
            .map_err(|e| format!("--endpoint {endpoint:?} is not a URL: {e}"))?;
        if base.scheme().is_none() || base.host().is_none() {
            return Err(format!(
                "--endpoint {endpoint:?} needs a scheme and a host (https://host)"
            ));
        }
        Ok(Route::Fixed(Upstream {
            base,
            api_key: api_key.or_else(|| std::env::var("CRUST_UPSTREAM_API_KEY").ok()),
        }))
    }

    pub fn describe(&self) -> String {
        match self {
            Route::Fixed(u) => u.base.to_string(),
            Route::Auto => format!("auto (Anthropic {ANTHROPIC}, OpenAI {OPENAI})"),
        }
    }
}

/// A fixed upstream.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// Scheme, host, port and an optional path prefix (`https://api.example.com/v1`).
    pub base: Uri,
    /// Injected only when the client sends no credentials of its own.
    pub api_key: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub route: Route,
    /// The bundle file to watch and reload (none: the bundle given is fixed).
    pub policy_path: Option<PathBuf>,
    pub home: String,
    /// Largest request or (non-streaming) response body accepted.
    pub max_body: usize,
    pub block_mode: BlockMode,
    /// Where decisions are recorded (none: no audit log).
    pub audit: Option<crate::audit::Auditor>,
    pub limits: Limits,
    /// Who may use the proxy from another host (none: loopback peers only, and a listen
    /// address that is not loopback is refused at start).
    pub remote: Option<Remote>,
    /// Files and directories this process uses besides the bundle (rules directory, audit
    /// log, its key), protected from agents wherever they are.
    pub protect: Vec<PathBuf>,
    /// The control socket (`crust hook` and `crust status` ask the running proxy through it;
    /// none: no socket).
    pub control: Option<PathBuf>,
    /// Team mode: also serve Envoy's external processing gRPC service on this address.
    pub ext_proc: Option<SocketAddr>,
    /// Team mode: whose calls are judged.
    pub team: TeamOptions,
    /// Export each decision as an OpenTelemetry log record to this OTLP/HTTP collector.
    pub otlp: Option<String>,
    /// Signed bundles pulled from a registry (then `policy_path` is none: the pulled bundle is
    /// the only one swapped in).
    pub pull: Option<super::pull::Pulling>,
}

/// How team mode finds out whose call it judges.
#[derive(Debug, Clone, Default)]
pub struct TeamOptions {
    /// The header the gateway sets after authentication (the gateway must overwrite whatever a
    /// client sent in it); its value is recorded as the user with each decision.
    pub user_header: Option<String>,
}

/// Bounds on what clients can hold: connections, time and memory.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// How long a client may take to send a request body.
    pub body_timeout: Duration,
    /// Request body bytes held in memory over all requests at once.
    pub inflight_bytes: usize,
    /// How long an HTTP/2 connection may stay silent (keep-alive pings unanswered) before it
    /// is closed.
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            body_timeout: Duration::from_secs(60),
            inflight_bytes: 256 << 20,
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// What [`Limits`] and [`Remote`] are built from (`crust-runtime` and `crust start` fill it
/// from their flags).
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Connections served at once (more wait in the listen backlog).
    pub max_connections: usize,
    /// Seconds a client may take to send a request body.
    pub body_timeout_secs: u64,
    /// Request body MiB held in memory over all requests at once (more are refused with 503).
    pub max_inflight_mib: usize,
    /// Seconds an HTTP/2 connection may leave keep-alive pings unanswered before it is closed.
    pub idle_timeout_secs: u64,
    /// Admit clients on other hosts (needs --client-token): they use the upstream key through
    /// Crust, so they must prove they may.
    pub allow_remote: bool,
    /// The token clients on other hosts send in `x-crust-token` (default: $CRUST_CLIENT_TOKEN).
    pub client_token: Option<String>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            max_connections: 1024,
            body_timeout_secs: 60,
            max_inflight_mib: 256,
            idle_timeout_secs: 60,
            allow_remote: false,
            client_token: None,
        }
    }
}

impl ServeOptions {
    pub fn limits(&self) -> Limits {
        Limits {
            max_connections: self.max_connections.max(1),
            body_timeout: Duration::from_secs(self.body_timeout_secs.max(1)),
            inflight_bytes: self.max_inflight_mib.saturating_mul(1 << 20),
            idle_timeout: Duration::from_secs(self.idle_timeout_secs.max(2)),
        }
    }

    /// Remote admission as asked for: none, or a token (an error if the flag has no token).
    pub fn remote(&self) -> Result<Option<Remote>, String> {
        if !self.allow_remote {
            return Ok(None);
        }
        let token = self
            .client_token
            .clone()
            .or_else(|| std::env::var("CRUST_CLIENT_TOKEN").ok())
            .filter(|t| !t.is_empty())
            .ok_or("--allow-remote needs --client-token TOKEN (or $CRUST_CLIENT_TOKEN)")?;
        Ok(Some(Remote { token }))
    }
}

/// Clients on other hosts: they must send this token in `x-crust-token`, since the proxy spends
/// the upstream key on their behalf.
#[derive(Debug, Clone)]
pub struct Remote {
    pub token: String,
}

/// The header a remote client's token travels in (never forwarded upstream).
const TOKEN_HEADER: &str = "x-crust-token";

/// Loopback in either family, IPv4-mapped IPv6 included (`--listen [::]` sees IPv4 clients as
/// `::ffff:127.0.0.1`).
pub(crate) fn is_loopback(ip: std::net::IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// Whether `peer` may use the proxy: loopback always, other hosts with the token.
fn admitted(remote: Option<&Remote>, peer: SocketAddr, headers: &HeaderMap) -> bool {
    if is_loopback(peer.ip()) {
        return true;
    }
    let Some(remote) = remote else {
        return false;
    };
    headers
        .get(TOKEN_HEADER)
        .is_some_and(|v| constant_time_eq(v.as_bytes(), remote.token.as_bytes()))
}

/// Compares without an early exit, so timing does not tell how much of a token was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Who sent a request, for the audit log.
#[derive(Clone, Default)]
pub(super) struct Hints {
    pub(super) agent: Option<String>,
    pub(super) session: Option<String>,
    /// Who the gateway authenticated (team mode), never taken from a client's own header.
    pub(super) user: Option<String>,
}

impl Hints {
    pub(super) fn of(headers: &hyper::HeaderMap) -> Hints {
        let get = |k: &str| {
            headers
                .get(k)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(200).collect::<String>())
        };
        Hints {
            agent: get("user-agent"),
            session: get("x-claude-code-session-id")
                .or_else(|| get("x-session-id"))
                .or_else(|| get("session_id")),
            user: None,
        }
    }
}

fn audit_ctx<'a>(
    shared: &'a Shared,
    api: Api,
    side: &'static str,
    hints: &'a Hints,
) -> Option<crate::proxy::judge::AuditContext<'a>> {
    let auditor = shared.config.audit.as_ref();
    let otlp = shared.otlp.as_ref();
    (auditor.is_some() || otlp.is_some()).then(|| crate::proxy::judge::AuditContext {
        auditor,
        otlp,
        api: api.name(),
        side,
        agent: hints.agent.as_deref(),
        session: hints.session.as_deref(),
        user: hints.user.as_deref(),
    })
}

impl std::str::FromStr for BlockMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "remove" => Ok(BlockMode::Remove),
            "replace" => Ok(BlockMode::Replace),
            other => Err(format!("unknown block mode `{other}` (remove, replace)")),
        }
    }
}

/// What a blocked call becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BlockMode {
    /// Removed, with a text notice in its place (and the stop reason fixed).
    #[default]
    Remove,
    /// Rewritten into a call of a shell tool the client offered that echoes the notice, so the
    /// agent's loop sees a tool result; falls back to removal when no shell tool was offered
    /// (and for Responses items).
    Replace,
}

/// How long a client may take to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long to wait for the upstream to connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long to wait for the upstream's response headers (models can think for minutes).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(600);

pub(super) type BoxBody = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;
pub(crate) type HttpsClient = Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Full<Bytes>,
>;

pub(super) struct Shared {
    bundle: RwLock<Arc<Engine>>,
    pub(super) config: Config,
    client: HttpsClient,
    pub(super) metrics: Metrics,
    /// Outbound text already judged and allowed.
    seen: super::outbound::Seen,
    /// Request body bytes in memory now.
    inflight: std::sync::atomic::AtomicUsize,
    /// The bundle and the files in `Config::protect`.
    pub(super) own: crate::own::OwnFiles,
    /// The address bound (the port chosen when `listen` asked for 0).
    pub(super) local: SocketAddr,
    pub(super) started: std::time::Instant,
    /// Decisions as OpenTelemetry logs, if on.
    pub(super) otlp: Option<crate::proxy::otlp::Exporter>,
}

impl Shared {
    pub(super) fn snapshot(&self) -> Arc<Engine> {
        match self.bundle.read() {
            Ok(b) => Arc::clone(&b),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Swaps in a bundle that passed its checks.
    pub(super) fn swap(&self, b: Engine, how: &str) {
        let checksum = b.checksum();
        match self.bundle.write() {
            Ok(mut slot) => *slot = Arc::new(b),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(b),
        }
        self.metrics
            .reloads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(
            how,
            checksum = format!("{checksum:016x}"),
            "bundle reloaded"
        );
    }

    /// A new bundle failed a check: the current one keeps serving.
    pub(super) fn refused(&self, why: &str) {
        self.metrics
            .reload_failures
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::warn!(error = %why, "new bundle refused; the previous one keeps serving");
    }

    /// Loads, validates, then swaps; a bad bundle leaves the old one serving.
    fn reload(&self) {
        let Some(path) = &self.config.policy_path else {
            return;
        };
        match Engine::load(path) {
            Ok(b) => {
                let checksum = b.checksum();
                match self.bundle.write() {
                    Ok(mut slot) => *slot = Arc::new(b),
                    Err(poisoned) => *poisoned.into_inner() = Arc::new(b),
                }
                self.metrics
                    .reloads
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::info!(path = %path.display(), checksum = format!("{checksum:016x}"), "bundle reloaded");
            }
            Err(e) => {
                self.metrics
                    .reload_failures
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::warn!(path = %path.display(), error = %e, "new bundle refused; the previous one keeps serving");
            }
        }
    }
}

/// The pooled HTTP/1.1 and HTTP/2 client to upstreams (TLS by rustls with compiled-in roots).
pub(crate) fn upstream_client() -> HttpsClient {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(CONNECT_TIMEOUT));
    http.set_nodelay(true);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .build(https)
}

/// Runs the proxy until SIGINT/SIGTERM; in-flight requests finish first. `ready` receives the
/// bound address (useful with port 0).
pub async fn serve(
    config: Config,
    bundle: Engine,
    ready: Option<tokio::sync::oneshot::Sender<SocketAddr>>,
) -> std::io::Result<()> {
    let client = upstream_client();
    if !is_loopback(config.listen.ip()) && config.remote.is_none() {
        return Err(std::io::Error::other(format!(
            "refusing to listen on {}: clients on other hosts would use the upstream key through \
             Crust; listen on loopback, or pass --allow-remote with --client-token TOKEN \
             (remote clients send it in the {TOKEN_HEADER} header)",
            config.listen
        )));
    }
    if config.remote.as_ref().is_some_and(|r| r.token.len() < 16) {
        return Err(std::io::Error::other(
            "the client token must be at least 16 characters",
        ));
    }
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let local = listener.local_addr()?;
    let own = crate::own::OwnFiles::new(
        config
            .policy_path
            .iter()
            .chain(config.protect.iter())
            .cloned(),
    )
    .with_ports(std::iter::once(local.port()).chain(config.ext_proc.map(|a| a.port())));
    let otlp = match &config.otlp {
        None => None,
        Some(endpoint) => {
            Some(crate::proxy::otlp::Exporter::start(endpoint).map_err(std::io::Error::other)?)
        }
    };
    let shared = Arc::new(Shared {
        otlp,
        bundle: RwLock::new(Arc::new(bundle)),
        config,
        client,
        metrics: Metrics::default(),
        seen: Default::default(),
        inflight: Default::default(),
        own,
        local,
        started: std::time::Instant::now(),
    });
    // Removed again when the proxy stops, so a later hook does not try a dead socket.
    let control = shared.config.control.clone().and_then(|path| {
        let listener = super::control::bind(&path)?;
        let task = tokio::spawn(super::control::serve(listener, Arc::clone(&shared)));
        Some((path, task))
    });
    #[cfg(feature = "ext-proc")]
    if let Some(addr) = shared.config.ext_proc {
        let listener = super::extproc::bind(addr).await?;
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            if let Err(e) = super::extproc::serve(listener, shared).await {
                // Without its ext_proc server the gateway fails closed (failure_mode_allow:
                // false); the process exits so a supervisor restarts it.
                tracing::error!(listen = %addr, error = %e, "the ext_proc server stopped");
                std::process::exit(1);
            }
        });
    }
    #[cfg(not(feature = "ext-proc"))]
    if shared.config.ext_proc.is_some() {
        return Err(std::io::Error::other(
            "this build has no ext_proc server (feature `ext-proc`)",
        ));
    }
    if let Some(r) = &shared.config.remote {
        tracing::warn!(listen = %local, token_len = r.token.len(), "clients on other hosts are admitted with the client token");
    }
    let connections = Arc::new(tokio::sync::Semaphore::new(
        shared.config.limits.max_connections.max(1),
    ));
    let mut accept_errors = AcceptErrors::default();
    if let Some(path) = shared.config.policy_path.clone() {
        let shared = Arc::clone(&shared);
        super::watch::spawn(path, move || shared.reload());
    }
    if let Some(p) = shared.config.pull.clone() {
        tokio::spawn(super::pull::run(Arc::clone(&shared), p));
    }
    spawn_sighup(&shared);
    tracing::info!(listen = %local, upstream = %shared.config.route.describe(), "crust proxy listening");
    if shared.config.block_mode == BlockMode::Replace {
        tracing::warn!("block mode `replace` applies to Anthropic Messages and Chat Completions; blocked calls in the Responses API are removed with a notice");
    }
    if let Some(tx) = ready {
        let _ = tx.send(local);
    }
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown_signal());
    loop {
        // At the connection cap, new clients wait in the listen backlog instead of using up
        // descriptors.
        let permit = tokio::select! {
            p = Arc::clone(&connections).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => {
                tracing::info!("shutting down: finishing in-flight requests");
                break;
            }
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = &mut shutdown => {
                tracing::info!("shutting down: finishing in-flight requests");
                break;
            }
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // Out of descriptors, accept fails at once until one is freed: pause instead
                // of spinning, and log once per burst.
                accept_errors.failed(&e);
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        accept_errors.recovered();
        // Events are small writes: without this, Nagle's algorithm and delayed ACKs
        // hold each one for tens of milliseconds.
        let _ = stream.set_nodelay(true);
        let shared_c = Arc::clone(&shared);
        let service = hyper::service::service_fn(move |req| {
            let shared = Arc::clone(&shared_c);
            async move { Ok::<_, Infallible>(handle(shared, peer, req).await) }
        });
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        // A client that never finishes its headers does not hold a connection forever, nor
        // does an HTTP/2 peer that stops answering pings.
        builder
            .http1()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT);
        builder
            .http2()
            .timer(hyper_util::rt::TokioTimer::new())
            .keep_alive_interval(Some(shared.config.limits.idle_timeout / 2))
            .keep_alive_timeout(shared.config.limits.idle_timeout / 2);
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
        let conn = graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    if let Some((path, task)) = control {
        task.abort();
        let _ = std::fs::remove_file(path);
    }
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(30)) => tracing::warn!("in-flight requests did not finish within 30 s"),
    }
    Ok(())
}

/// How long to wait after `accept` fails (out of descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// A burst of failed accepts is logged once when it starts and once when it ends.
#[derive(Default)]
struct AcceptErrors {
    failed: u64,
}

impl AcceptErrors {
    fn failed(&mut self, e: &std::io::Error) {
        if self.failed == 0 {
            tracing::warn!(error = %e, "accept failed; pausing new connections until it recovers");
        }
        self.failed += 1;
    }

    fn recovered(&mut self) {
        if self.failed > 0 {
            tracing::warn!(failures = self.failed, "accepting connections again");
            self.failed = 0;
        }
    }
}

/// Starts logging (`CRUST_LOG=debug|info|warn|error`; a level, not a filter, so no regex
/// engine enters the runtime) and runs the proxy on its own runtime until shutdown.
pub fn run(config: Config, bundle: Engine) -> std::io::Result<()> {
    let level = std::env::var("CRUST_LOG")
        .ok()
        .and_then(|l| l.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::INFO);
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .try_init();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(serve(config, bundle, None))
}

/// [`run`], then seals what the audit writer still holds.
pub fn run_then_seal(
    config: Config,
    bundle: Engine,
    writer: Option<crate::audit::Writer>,
) -> std::io::Result<()> {
    let result = run(config, bundle);
    if let Some(w) = writer {
        w.finish();
    }
    result
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

fn spawn_sighup(shared: &Arc<Shared>) {
    #[cfg(unix)]
    {
        let shared = Arc::clone(shared);
        tokio::spawn(async move {
            let Ok(mut hup) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            else {
                return;
            };
            while hup.recv().await.is_some() {
                shared.reload();
            }
        });
    }
}

// ----- one request ---------------------------------------------------------------------------

async fn handle(
    shared: Arc<Shared>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Response<BoxBody> {
    shared
        .metrics
        .requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = req.uri().path().to_owned();
    if let Some(rest) = path.strip_prefix("/crust/") {
        return own_endpoint(&shared, peer, rest);
    }
    if !admitted(shared.config.remote.as_ref(), peer, req.headers()) {
        return error(
            None,
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            &format!("crust: clients on other hosts must send the client token in {TOKEN_HEADER}"),
        );
    }
    if is_websocket_upgrade(req.headers()) {
        // Codex can ask for the Responses API over a WebSocket; frames would bypass the event
        // filter, so the upgrade is refused at once (no upstream call) and the client falls
        // back to HTTP with event streams, which are judged.
        return websocket_refusal();
    }
    // Odd spellings of a judged path (`/v1/Messages`, `%65`, `;x`, `/.`) are judged as the
    // endpoint they could mean; the request is forwarded as the client wrote it.
    let canon = super::outbound::canonical_path(&path);
    let api = Api::classify(req.method(), &canon);
    let batch = api
        .is_none()
        .then(|| Batch::classify(req.method(), &canon))
        .flatten();
    // The API whose error shape answers, and whether the answer is inspected at all.
    let shape = api.or(batch.map(Batch::api));
    let (parts, body) = req.into_parts();
    let hints = Hints::of(&parts.headers);
    let (body, _inflight) = match read_request_body(&shared, shape, body).await {
        Ok(b) => b,
        Err(refused) => return refused,
    };
    let snapshot = shared.snapshot();
    let asking = Asking {
        api,
        batch,
        headers: &parts.headers,
        path: &path,
        hints: &hints,
        home: &shared.config.home,
        cwd: None,
    };
    let Asked {
        cwd, substitute, ..
    } = match judge_request(&shared, &snapshot, &asking, &body) {
        Ok(a) => a,
        Err(refused) => return refused,
    };
    // Forward: same method, path and headers (minus hop-by-hop), body byte for byte.
    let Some(upstream) = shared.config.route.pick(&canon, &parts.headers) else {
        return error(
            api,
            StatusCode::BAD_GATEWAY,
            "api_error",
            "crust: no upstream for this request",
        );
    };
    let uri = match upstream_uri(&upstream.base, &parts.uri) {
        Some(u) => u,
        None => {
            return error(
                api,
                StatusCode::BAD_GATEWAY,
                "api_error",
                "crust: cannot build the upstream address",
            )
        }
    };
    let mut up = Request::builder().method(parts.method.clone()).uri(uri);
    if let Some(h) = up.headers_mut() {
        copy_headers(&parts.headers, h);
        if shape.is_some() {
            // Responses are inspected: ask for them uncompressed.
            h.insert(
                hyper::header::ACCEPT_ENCODING,
                HeaderValue::from_static("identity"),
            );
        }
        inject_key(&upstream, api, h);
    }
    let Ok(up) = up.body(Full::new(body)) else {
        return error(
            api,
            StatusCode::BAD_GATEWAY,
            "api_error",
            "crust: cannot build the upstream request",
        );
    };
    let resp = match tokio::time::timeout(RESPONSE_TIMEOUT, shared.client.request(up)).await {
        Ok(Ok(r)) => r,
        Err(_) => {
            return upstream_error(
                &shared,
                api,
                StatusCode::GATEWAY_TIMEOUT,
                "crust: the upstream did not answer in time",
            );
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "upstream request failed");
            return upstream_error(
                &shared,
                api,
                StatusCode::BAD_GATEWAY,
                &format!("crust: upstream unreachable: {e}"),
            );
        }
    };
    if let Some(b) = batch.filter(|b| b.has_answers() && resp.status().is_success()) {
        return batch_results(&shared, &snapshot, b, &hints, resp).await;
    }
    if let Some(b) = batch.filter(|b| b.has_batch_objects() && resp.status().is_success()) {
        // Where the client reached the proxy: its Host (HTTP/1.1) or authority (HTTP/2).
        let host = parts
            .headers
            .get(hyper::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned)
            .or_else(|| parts.uri.authority().map(|a| a.to_string()))
            .unwrap_or_else(|| shared.config.listen.to_string());
        return batch_objects(&shared, b, &format!("http://{host}"), resp).await;
    }
    let Some(api) = api.filter(|_| resp.status().is_success()) else {
        return passthrough(resp);
    };
    let (mut rparts, rbody) = resp.into_parts();
    // A compressed answer (the upstream ignored `identity`) is decoded and judged, and sent on
    // decoded; one the proxy cannot decode is never passed uninspected.
    let coding = match decode::coding(&rparts.headers) {
        Ok(c) => c,
        Err(why) => return uninspectable(api, &why),
    };
    rparts.headers.remove(hyper::header::CONTENT_ENCODING);
    let is_sse = is_event_stream(&rparts.headers);
    rparts.headers.remove(hyper::header::CONTENT_LENGTH);
    if is_sse {
        let filter = stream_filter(api);
        let decoder = match coding.map(|c| decode::Decoder::new(c, shared.config.max_body)) {
            None => None,
            Some(Ok(d)) => Some(d),
            Some(Err(why)) => return uninspectable(api, &why),
        };
        let ctx = StreamContext {
            api,
            home: shared.config.home.clone(),
            cwd,
            substitute,
            hints,
            decoder,
        };
        let body = Filtered::new(Arc::clone(&shared), snapshot, ctx, filter, rbody);
        return Response::from_parts(rparts, body.boxed());
    }
    let bytes = match Limited::new(rbody, shared.config.max_body).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return error(
                Some(api),
                StatusCode::BAD_GATEWAY,
                "api_error",
                &format!("crust: the upstream response could not be read completely ({e})"),
            );
        }
    };
    let bytes = match coding {
        None => bytes,
        Some(c) => match decode_all(c, &bytes, shared.config.max_body) {
            Ok(d) => Bytes::from(d),
            Err(why) => {
                return uninspectable(api, &why);
            }
        },
    };
    let ctx = StreamContext {
        api,
        home: shared.config.home.clone(),
        cwd,
        substitute,
        hints,
        decoder: None,
    };
    match judge_answer(&shared, &snapshot, &ctx, bytes) {
        Ok(out) => Response::from_parts(rparts, full(out)),
        Err(refused) => refused,
    }
}

/// Whether an answer is an event stream (media types are case-insensitive:
/// `Text/Event-Stream; charset=utf-8` is one).
pub(super) fn is_event_stream(h: &HeaderMap) -> bool {
    h.get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("text/event-stream"))
}

/// The stream filter of an API's event stream.
pub(super) fn stream_filter(api: Api) -> Box<dyn Filter> {
    match api {
        Api::Anthropic => Box::new(sse::Anthropic::new()),
        Api::Chat => Box::new(sse::Chat::new()),
        Api::Responses => Box::new(sse::Responses::new()),
    }
}

/// A whole (decoded) JSON answer with its blocked calls taken out; the bytes as they came when
/// nothing was blocked. `Err` is the refusal for an answer that cannot be inspected.
pub(super) fn judge_answer(
    shared: &Shared,
    snapshot: &Engine,
    ctx: &StreamContext,
    bytes: Bytes,
) -> Result<Bytes, Response<BoxBody>> {
    let api = ctx.api;
    let Ok(mut v) = serde_json::from_slice::<Value>(&bytes) else {
        return Err(error(
            Some(api),
            StatusCode::BAD_GATEWAY,
            "api_error",
            "crust: the upstream response is not JSON and cannot be inspected",
        ));
    };
    let judge = stream_judge(shared, snapshot, ctx);
    let started = Instant::now();
    let blocked = apis::filter_response(api, &judge, &mut v);
    shared.metrics.eval_time(started.elapsed());
    for rule in &blocked {
        shared.metrics.block(rule);
        tracing::info!(api = api.name(), rule = %rule, side = "response", "blocked");
    }
    Ok(if blocked.is_empty() {
        bytes
    } else {
        Bytes::from(v.to_string())
    })
}

// ----- the request stage (every transport) ---------------------------------------------------

/// A request as the request stage sees it, whatever transport brought it.
pub(super) struct Asking<'a> {
    pub api: Option<Api>,
    pub batch: Option<Batch>,
    pub headers: &'a HeaderMap,
    pub path: &'a str,
    pub hints: &'a Hints,
    pub home: &'a str,
    /// The working directory the client declared (team mode's header); else the one the
    /// request itself reports.
    pub cwd: Option<&'a str>,
}

/// What the request stage learnt that judging the answer needs.
#[cfg_attr(not(feature = "ext-proc"), allow(dead_code))]
pub(super) struct Asked {
    pub home: String,
    pub cwd: Option<String>,
    pub substitute: Option<Substitute>,
}

/// The request stage: the body decoded, the conversation's calls and every text the request
/// sends judged. `Err` is the refusal to answer with; a refused request never goes upstream.
pub(super) fn judge_request(
    shared: &Shared,
    snapshot: &Engine,
    a: &Asking<'_>,
    body: &[u8],
) -> Result<Asked, Response<BoxBody>> {
    let (api, batch, hints) = (a.api, a.batch, a.hints);
    let shape = api.or(batch.map(Batch::api));
    // A compressed request is judged decoded and forwarded as it came; one that cannot be
    // decoded is refused rather than forwarded unseen.
    let decoded = match decode::coding(a.headers) {
        Ok(None) => None,
        Ok(Some(c)) => match decode_all(c, body, shared.config.max_body) {
            Ok(d) => Some(d),
            Err(why) => {
                return Err(error(
                    shape,
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    &format!("crust: the compressed request body cannot be inspected: {why}"),
                ))
            }
        },
        Err(why) => {
            return Err(error(
                shape,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "invalid_request_error",
                &format!("crust: the request body cannot be inspected: {why}"),
            ))
        }
    };
    let inspect: &[u8] = decoded.as_deref().unwrap_or(body);
    let mut cwd = a.cwd.map(str::to_owned);
    let home = a.home.to_owned();
    let mut substitute = None;
    // Whether an adapter judged the body; any other body is judged by its strings below.
    let mut judged = false;
    // A body with no bytes but whitespace (a GET of a stored answer) sends nothing to judge;
    // the answer to it is still inspected by its API.
    let blank = inspect.iter().all(u8::is_ascii_whitespace);
    if let Some(api) = api.filter(|_| !blank) {
        let v = match super::outbound::parse(inspect) {
            Ok(v) => v,
            Err(why) => return Err(unparseable(api, &why)),
        };
        judged = true;
        if cwd.is_none() {
            cwd = apis::agent_cwd(&v);
        }
        if shared.config.block_mode == BlockMode::Replace {
            substitute = find_substitute(snapshot, &apis::offered_tools(api, &v));
        }
        let model = v.get("model").and_then(Value::as_str).unwrap_or("");
        let streaming = v.get("stream").and_then(Value::as_bool).unwrap_or(false);
        let judge = Judge {
            bundle: snapshot,
            home: &home,
            cwd: cwd.as_deref(),
            substitute: None,
            own: &shared.own,
            audit: audit_ctx(shared, api, "request", hints),
        };
        let started = Instant::now();
        let decision = apis::judge_history(api, &judge, &v, &shared.seen);
        shared.metrics.eval_time(started.elapsed());
        if let Decision::Block { rule, notice } = decision {
            shared.metrics.block(&rule);
            tracing::info!(api = api.name(), rule = %rule, side = "request", "blocked");
            return Err(synthetic(api, model, &notice, streaming));
        }
    }
    if batch == Some(Batch::AnthropicCreate) {
        // Each request of the batch is judged like one request; one block refuses the batch
        // (no upstream call) with a client error, which SDKs do not retry.
        let v = match super::outbound::parse(inspect) {
            Ok(v) => v,
            Err(why) => return Err(unparseable(Api::Anthropic, &why)),
        };
        judged = true;
        let judge = Judge {
            bundle: snapshot,
            home: &home,
            cwd: a.cwd,
            substitute: None,
            own: &shared.own,
            audit: audit_ctx(shared, Api::Anthropic, "request", hints),
        };
        if let Some((id, Decision::Block { rule, notice })) = batch::judge_requests(&judge, &v) {
            shared.metrics.block(&rule);
            tracing::info!(api = "anthropic-batch", rule = %rule, custom_id = %id, side = "request", "blocked");
            return Err(error(
                shape,
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                &format!("crust: batch request `{id}`: {notice}"),
            ));
        }
    }
    if batch == Some(Batch::FileUpload) {
        // An OpenAI batch input file: each request judged like one request.
        let ctype = a
            .headers
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let judge = |api: Api| Judge {
            bundle: snapshot,
            home: &home,
            cwd: a.cwd,
            substitute: None,
            own: &shared.own,
            audit: audit_ctx(shared, api, "request", hints),
        };
        match batch::judge_upload(&judge, ctype, inspect) {
            Ok(Some((id, Decision::Block { rule, notice }))) => {
                shared.metrics.block(&rule);
                tracing::info!(api = "openai-batch", rule = %rule, custom_id = %id, side = "request", "blocked");
                return Err(error(
                    shape,
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    &format!("crust: batch request `{id}`: {notice}"),
                ));
            }
            Ok(_) => {}
            Err(why) => {
                return Err(error(
                    shape,
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    &format!("crust: the batch upload cannot be inspected: {why}"),
                ))
            }
        }
    }
    if !judged {
        if let Some(refused) = judge_other_body(shared, snapshot, shape, a, &home, inspect) {
            return Err(refused);
        }
    }
    Ok(Asked {
        home,
        cwd,
        substitute,
    })
}

/// A request body that cannot be parsed: refused in the API's shape, never forwarded unjudged.
fn unparseable(api: Api, why: &str) -> Response<BoxBody> {
    error(
        Some(api),
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        &format!("crust: {why}"),
    )
}

/// A body no adapter judged (other endpoints, uploads, `count_tokens`): its strings, or its
/// bytes, are judged as outbound text; one that claims to be JSON and does not parse is
/// refused. Returns the refusal, if any.
fn judge_other_body(
    shared: &Shared,
    snapshot: &Engine,
    shape: Option<Api>,
    a: &Asking<'_>,
    home: &str,
    body: &[u8],
) -> Option<Response<BoxBody>> {
    let hints = a.hints;
    let ctype = a
        .headers
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let text = match super::outbound::body_text(ctype, body) {
        Ok(super::outbound::Body::Empty) => return None,
        Ok(super::outbound::Body::Text(t)) => t,
        Err(why) => {
            return Some(error(
                shape,
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                &format!("crust: {why}"),
            ))
        }
    };
    let api = shape.unwrap_or(Api::Anthropic);
    let judge = Judge {
        bundle: snapshot,
        home,
        cwd: a.cwd,
        substitute: None,
        own: &shared.own,
        audit: audit_ctx(shared, api, "request", hints),
    };
    let part = super::outbound::Part {
        place: "the request body".into(),
        text,
    };
    let started = Instant::now();
    let decision = super::outbound::judge_parts(&judge, &shared.seen, &[part]);
    shared.metrics.eval_time(started.elapsed());
    match decision {
        Decision::Allow => None,
        Decision::Block { rule, notice } => {
            shared.metrics.block(&rule);
            tracing::info!(path = %a.path, rule = %rule, side = "request", "blocked");
            Some(error(
                shape,
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                &format!("crust: {notice}"),
            ))
        }
    }
}

/// Request bodies held in memory across all connections, released when the request is done.
struct Inflight<'a> {
    counter: &'a std::sync::atomic::AtomicUsize,
    bytes: usize,
}

impl Inflight<'_> {
    fn add(&mut self, n: usize, budget: usize) -> bool {
        self.bytes += n;
        let total = self
            .counter
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed)
            + n;
        total <= budget
    }
}

impl Drop for Inflight<'_> {
    fn drop(&mut self) {
        self.counter
            .fetch_sub(self.bytes, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A whole request body, within the size limit, the time limit and the budget of bytes in
/// flight over all requests; otherwise the refusal to answer with.
async fn read_request_body<'a>(
    shared: &'a Shared,
    shape: Option<Api>,
    mut body: Incoming,
) -> Result<(Bytes, Inflight<'a>), Response<BoxBody>> {
    let limits = &shared.config.limits;
    let mut inflight = Inflight {
        counter: &shared.inflight,
        bytes: 0,
    };
    let mut buf = bytes::BytesMut::new();
    let deadline = tokio::time::Instant::now() + limits.body_timeout;
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => {
                return Err(error(
                    shape,
                    StatusCode::REQUEST_TIMEOUT,
                    "timeout_error",
                    "crust: the request body did not arrive in time",
                ))
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                return Err(error(
                    shape,
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    &format!("crust: the request body could not be read ({e})"),
                ))
            }
            Ok(Some(Ok(f))) => f,
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if buf.len() + data.len() > shared.config.max_body {
            return Err(error(
                shape,
                StatusCode::PAYLOAD_TOO_LARGE,
                "request_too_large",
                "crust: the request body is larger than the proxy accepts",
            ));
        }
        if !inflight.add(data.len(), limits.inflight_bytes) {
            return Err(error(
                shape,
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded_error",
                "crust: too many request bytes are in flight; retry shortly",
            ));
        }
        buf.extend_from_slice(&data);
    }
    Ok((buf.freeze(), inflight))
}

/// Batch objects: their `results_url` pointed back at the proxy.
async fn batch_objects(
    shared: &Shared,
    b: Batch,
    origin: &str,
    resp: Response<Incoming>,
) -> Response<BoxBody> {
    let api = b.api();
    let (rparts, bytes) = match read_whole(shared, api, resp).await {
        Ok(r) => r,
        Err(refused) => return refused,
    };
    match rewrite_batch_objects(api, origin, &bytes) {
        Ok(out) => Response::from_parts(rparts, full(out)),
        Err(refused) => refused,
    }
}

fn rewrite_batch_objects(api: Api, origin: &str, bytes: &[u8]) -> Result<Bytes, Response<BoxBody>> {
    let Ok(mut v) = serde_json::from_slice::<Value>(bytes) else {
        return Err(uninspectable(api, "the batch object is not JSON"));
    };
    batch::rewrite_results_urls(&mut v, origin);
    Ok(Bytes::from(v.to_string()))
}

/// A whole batch answer (results file or batch objects), judged or rewritten for a transport
/// that reads it itself.
#[cfg_attr(not(feature = "ext-proc"), allow(dead_code))]
pub(super) fn judge_batch_answer(
    shared: &Shared,
    snapshot: &Engine,
    b: Batch,
    ctx: &StreamContext,
    origin: Option<&str>,
    bytes: Bytes,
) -> Result<Bytes, Response<BoxBody>> {
    if b.has_answers() {
        return filter_batch_results(shared, snapshot, b, &ctx.home, &ctx.hints, bytes);
    }
    match origin {
        Some(o) if b.has_batch_objects() => rewrite_batch_objects(b.api(), o, &bytes),
        _ => Ok(bytes),
    }
}

/// A whole upstream answer within the body limit, its content coding undone (and its coding
/// and length headers dropped); one that cannot be read is refused, never passed on.
async fn read_whole(
    shared: &Shared,
    api: Api,
    resp: Response<Incoming>,
) -> Result<(hyper::http::response::Parts, Bytes), Response<BoxBody>> {
    let (mut parts, body) = resp.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    let coding = decode::coding(&parts.headers).map_err(|why| uninspectable(api, &why))?;
    let bytes = Limited::new(body, shared.config.max_body)
        .collect()
        .await
        .map_err(|e| {
            uninspectable(
                api,
                &format!("the body could not be read completely within the limit ({e})"),
            )
        })?
        .to_bytes();
    let bytes = match coding {
        None => bytes,
        Some(c) => decode_all(c, &bytes, shared.config.max_body)
            .map(Bytes::from)
            .map_err(|why| uninspectable(api, &why))?,
    };
    parts.headers.remove(hyper::header::CONTENT_ENCODING);
    parts.headers.remove(hyper::header::CONTENT_LENGTH);
    Ok((parts, bytes))
}

/// A batch results file: read whole (within the body limit), every answer line judged.
async fn batch_results(
    shared: &Shared,
    snapshot: &Engine,
    b: Batch,
    hints: &Hints,
    resp: Response<Incoming>,
) -> Response<BoxBody> {
    let (rparts, bytes) = match read_whole(shared, b.api(), resp).await {
        Ok(r) => r,
        Err(refused) => return refused,
    };
    match filter_batch_results(shared, snapshot, b, &shared.config.home, hints, bytes) {
        Ok(out) => Response::from_parts(rparts, full(out)),
        Err(refused) => refused,
    }
}

/// Every answer line of a batch results file judged; blocked calls taken out.
fn filter_batch_results(
    shared: &Shared,
    snapshot: &Engine,
    b: Batch,
    home: &str,
    hints: &Hints,
    bytes: Bytes,
) -> Result<Bytes, Response<BoxBody>> {
    let api = b.api();
    let judge = |a: Api| Judge {
        bundle: snapshot,
        home,
        cwd: None,
        substitute: None,
        own: &shared.own,
        audit: audit_ctx(shared, a, "response", hints),
    };
    let started = Instant::now();
    let filtered = batch::filter_results(b, &judge, &bytes);
    shared.metrics.eval_time(started.elapsed());
    let filtered = match filtered {
        Ok(f) => f,
        Err(why) => return Err(uninspectable(api, &why)),
    };
    for rule in &filtered.blocked {
        shared.metrics.block(rule);
        tracing::info!(api = api.name(), rule = %rule, side = "response", "blocked in batch results");
    }
    Ok(filtered.body.map_or(bytes, Bytes::from))
}

/// What a response is judged with.
pub(super) struct StreamContext {
    pub(super) api: Api,
    pub(super) home: String,
    pub(super) cwd: Option<String>,
    pub(super) substitute: Option<Substitute>,
    pub(super) hints: Hints,
    /// Undoes the stream's content coding, when it has one.
    pub(super) decoder: Option<decode::Decoder>,
}

/// How a stream's calls are judged: the request's snapshot and context (a free function over
/// the fields, so the filter and its output can be borrowed beside it).
fn stream_judge<'a>(shared: &'a Shared, snapshot: &'a Engine, ctx: &'a StreamContext) -> Judge<'a> {
    Judge {
        bundle: snapshot,
        home: &ctx.home,
        cwd: ctx.cwd.as_deref(),
        substitute: ctx.substitute.as_ref(),
        own: &shared.own,
        audit: audit_ctx(shared, ctx.api, "response", &ctx.hints),
    }
}

/// An upstream event stream through its filter, as the client's response body. The client's
/// connection polls it: each read of the upstream is parsed, judged and written in the same
/// step, with no task or channel between the two sockets (a hop between tokio workers per
/// read cost more than the filtering). The mutex only makes the state `Sync` for the boxed
/// body; it is reached through `&mut`, never locked.
struct Filtered(std::sync::Mutex<Stream>);

pub(super) struct Stream {
    shared: Arc<Shared>,
    snapshot: Arc<Engine>,
    ctx: StreamContext,
    filter: Box<dyn Filter>,
    /// `None` once it ended or was handed on to be drained.
    upstream: Option<Incoming>,
    parser: sse::Parser,
    events: Vec<sse::Event>,
    plain: Vec<u8>,
    out: Vec<u8>,
    /// The filter's end was written and its blocks counted.
    ended: bool,
}

impl Filtered {
    fn new(
        shared: Arc<Shared>,
        snapshot: Arc<Engine>,
        ctx: StreamContext,
        filter: Box<dyn Filter>,
        upstream: Incoming,
    ) -> Filtered {
        let mut s = Stream::detached(shared, snapshot, ctx, filter);
        s.upstream = Some(upstream);
        Filtered(std::sync::Mutex::new(s))
    }
}

impl Stream {
    /// A stream filter fed by hand (a transport that is not the proxy's own upstream body).
    #[cfg_attr(not(feature = "ext-proc"), allow(dead_code))]
    pub(super) fn detached(
        shared: Arc<Shared>,
        snapshot: Arc<Engine>,
        ctx: StreamContext,
        filter: Box<dyn Filter>,
    ) -> Stream {
        Stream {
            shared,
            snapshot,
            ctx,
            filter,
            upstream: None,
            parser: sse::Parser::default(),
            events: Vec::new(),
            plain: Vec::new(),
            out: Vec::new(),
            ended: false,
        }
    }

    /// What the client gets so far, taken.
    #[cfg_attr(not(feature = "ext-proc"), allow(dead_code))]
    pub(super) fn take_out(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// One chunk from the upstream: judged; a chunk that cannot be read ends the stream with
    /// the API's error event.
    #[cfg_attr(not(feature = "ext-proc"), allow(dead_code))]
    pub(super) fn push(&mut self, data: &[u8]) {
        if self.ended {
            return;
        }
        if let Err(why) = self.feed(data) {
            self.finish(Err(why));
        }
        if self.filter.finished() && !self.ended {
            self.finish(Ok(()));
        }
    }

    /// The upstream's body ended: `Ok` when cleanly, `Err` with the reason when it was cut.
    #[cfg_attr(not(feature = "ext-proc"), allow(dead_code))]
    pub(super) fn end(&mut self, upstream: Result<(), String>) {
        if self.ended {
            return;
        }
        let whole = upstream.and_then(|()| self.close());
        self.finish(whole);
    }

    /// One read of the upstream, through the decoder, the parser and the filter.
    fn feed(&mut self, data: &[u8]) -> Result<(), String> {
        let data = match self.ctx.decoder.as_mut() {
            None => data,
            Some(d) => {
                self.plain.clear();
                d.feed(data, &mut self.plain)?;
                &self.plain
            }
        };
        self.parser.feed(data, &mut self.events)?;
        self.filter_events();
        Ok(())
    }

    fn filter_events(&mut self) {
        let judge = stream_judge(&self.shared, &self.snapshot, &self.ctx);
        for ev in self.events.drain(..) {
            self.filter.event(&judge, ev, &mut self.out);
        }
    }

    /// The upstream's body ended cleanly: `Err` if it still was not whole (a compressed stream
    /// cut before its end, whatever it decoded to; half an event).
    fn close(&mut self) -> Result<(), String> {
        if let Some(d) = self.ctx.decoder.take() {
            self.plain.clear();
            d.finish(&mut self.plain)?;
            self.parser.feed(&self.plain, &mut self.events)?;
            self.filter_events();
        }
        if self.parser.pending() {
            return Err("the upstream closed it in the middle of an event".into());
        }
        Ok(())
    }

    /// Unless the API's own end was sent, the client gets its error event: a cut stream is
    /// never passed off as a whole answer.
    fn finish(&mut self, upstream: Result<(), String>) {
        let judge = stream_judge(&self.shared, &self.snapshot, &self.ctx);
        self.filter.end(&judge, upstream, &mut self.out);
        for rule in self.filter.blocked() {
            self.shared.metrics.block(rule);
            tracing::info!(rule = %rule, side = "response", "blocked");
        }
        self.ended = true;
    }

    /// The client's stream is over while the upstream's is not: what it still sends (its
    /// body's last chunk, usually already here) is read and dropped, up to a bound, so that
    /// its connection goes back to the pool; if it is not here yet, a task waits a little for
    /// it.
    fn drain(&mut self, cx: &mut Context<'_>) {
        let Some(mut up) = self.upstream.take() else {
            return;
        };
        let mut n = 0usize;
        loop {
            match Pin::new(&mut up).poll_frame(cx) {
                Poll::Ready(Some(Ok(f))) => {
                    n = n.saturating_add(f.data_ref().map_or(0, Bytes::len));
                    if n > DRAIN_BYTES {
                        return;
                    }
                }
                Poll::Ready(_) => return,
                Poll::Pending => break,
            }
        }
        tokio::spawn(async move {
            let rest = async {
                while let Some(Ok(f)) = up.frame().await {
                    n = n.saturating_add(f.data_ref().map_or(0, Bytes::len));
                    if n > DRAIN_BYTES {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(DRAIN_TIME, rest).await;
        });
    }
}

/// How much of an upstream stream is read after the client's stream ended, and for how long,
/// to keep the connection for the next request.
const DRAIN_BYTES: usize = 64 << 10;
const DRAIN_TIME: Duration = Duration::from_secs(1);

impl Body for Filtered {
    type Data = Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let s = self
            .0
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        loop {
            if !s.out.is_empty() {
                let out = Bytes::from(std::mem::take(&mut s.out));
                return Poll::Ready(Some(Ok(Frame::data(out))));
            }
            if s.ended {
                s.drain(cx);
                return Poll::Ready(None);
            }
            let Some(up) = s.upstream.as_mut() else {
                s.finish(Ok(()));
                continue;
            };
            match Pin::new(up).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    s.upstream = None;
                    let whole = s.close();
                    s.finish(whole);
                }
                Poll::Ready(Some(Err(e))) => {
                    s.upstream = None;
                    s.finish(Err(format!("the upstream connection failed ({e})")));
                }
                Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        if let Err(why) = s.feed(&data) {
                            s.finish(Err(why));
                        }
                    }
                    if s.filter.finished() && !s.ended {
                        s.finish(Ok(()));
                    }
                }
            }
        }
    }
}

fn passthrough(resp: Response<Incoming>) -> Response<BoxBody> {
    let (mut parts, body) = resp.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    Response::from_parts(parts, body.map_err(std::io::Error::other).boxed())
}

fn full(b: Bytes) -> BoxBody {
    Full::new(b).map_err(|never| match never {}).boxed()
}

fn synthetic(api: Api, model: &str, notice: &str, streaming: bool) -> Response<BoxBody> {
    let (ctype, body) = if streaming {
        ("text/event-stream", apis::synthetic_sse(api, model, notice))
    } else {
        (
            "application/json",
            apis::synthetic_json(api, model, notice).to_string(),
        )
    };
    let mut r = Response::new(full(Bytes::from(body)));
    r.headers_mut()
        .insert(hyper::header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    r.headers_mut()
        .insert("x-crust-blocked", HeaderValue::from_static("1"));
    r
}

/// An upstream response the proxy cannot decode: refused, never passed on unseen.
pub(super) fn uninspectable(api: Api, why: &str) -> Response<BoxBody> {
    error(
        Some(api),
        StatusCode::BAD_GATEWAY,
        "api_error",
        &format!("crust: the upstream response cannot be inspected: {why}"),
    )
}

/// The answer to a WebSocket upgrade: frames would bypass the event filter.
pub(super) fn websocket_refusal() -> Response<BoxBody> {
    let mut r = error(
        Some(Api::Responses),
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request_error",
        "crust: the WebSocket transport is not inspected; use HTTP (for Codex: supports_websockets = false)",
    );
    r.headers_mut()
        .insert(hyper::header::ALLOW, HeaderValue::from_static("POST"));
    r
}

/// `Upgrade: websocket` (with `Connection: upgrade`, as every client sends it).
pub(super) fn is_websocket_upgrade(h: &HeaderMap) -> bool {
    h.get_all(hyper::header::UPGRADE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',')
                .any(|p| p.trim().eq_ignore_ascii_case("websocket"))
        })
}

/// A whole compressed body, decoded within `limit` bytes.
pub(super) fn decode_all(c: decode::Coding, bytes: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    let mut d = decode::Decoder::new(c, limit)?;
    let mut out = Vec::new();
    d.feed(bytes, &mut out)?;
    d.finish(&mut out)?;
    Ok(out)
}

/// The upstream failed: counted, and tagged so it is never confused with a block.
fn upstream_error(
    shared: &Shared,
    api: Option<Api>,
    status: StatusCode,
    message: &str,
) -> Response<BoxBody> {
    shared
        .metrics
        .upstream_errors
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut r = error(api, status, "api_error", message);
    r.headers_mut()
        .insert("x-crust-upstream-error", HeaderValue::from_static("1"));
    r
}

/// An error in the API's own shape (Anthropic or OpenAI), marked as coming from Crust.
pub(super) fn error(
    api: Option<Api>,
    status: StatusCode,
    kind: &str,
    message: &str,
) -> Response<BoxBody> {
    let body = match api {
        Some(Api::Anthropic) | None => {
            json!({ "type": "error", "error": { "type": kind, "message": message } })
        }
        Some(_) => json!({ "error": { "message": message, "type": kind, "code": null } }),
    };
    let mut r = Response::new(full(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r.headers_mut()
        .insert("x-should-retry", HeaderValue::from_static("false"));
    r
}

fn own_endpoint(shared: &Shared, peer: SocketAddr, rest: &str) -> Response<BoxBody> {
    if !is_loopback(peer.ip()) {
        let mut r = Response::new(full(Bytes::from_static(b"forbidden\n")));
        *r.status_mut() = StatusCode::FORBIDDEN;
        return r;
    }
    let b = shared.snapshot();
    let (ctype, body) = match rest {
        "health" => (
            "application/json",
            json!({ "status": "ok", "bundle": { "checksum": format!("{:016x}", b.checksum()), "rules": b.meta().rules.len() } }).to_string(),
        ),
        "metrics" => {
            let mut m = shared.metrics.render(b.checksum(), b.meta().rules.len());
            if let Some(a) = &shared.config.audit {
                m.push_str("# TYPE crust_audit_dropped_total counter\n");
                m.push_str(&format!("crust_audit_dropped_total {}\n", a.dropped_total()));
            }
            if let Some(o) = &shared.otlp {
                m.push_str("# TYPE crust_otlp_exported_total counter\n");
                m.push_str(&format!("crust_otlp_exported_total {}\n", o.exported_total()));
                m.push_str("# TYPE crust_otlp_dropped_total counter\n");
                m.push_str(&format!("crust_otlp_dropped_total {}\n", o.dropped_total()));
            }
            ("text/plain; version=0.0.4", m)
        }
        _ => {
            let mut r = Response::new(full(Bytes::from_static(b"not found\n")));
            *r.status_mut() = StatusCode::NOT_FOUND;
            return r;
        }
    };
    let mut r = Response::new(full(Bytes::from(body)));
    r.headers_mut()
        .insert(hyper::header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    r
}

/// `base` + the request's path and query; a prefix the client already sends is not doubled
/// (`--endpoint https://host/v1` with `/v1/chat/completions`).
fn upstream_uri(base: &Uri, req: &Uri) -> Option<Uri> {
    let prefix = base.path().trim_end_matches('/');
    let pq = req.path_and_query().map_or("/", |p| p.as_str());
    let joined = if prefix.is_empty() || pq.starts_with(&format!("{prefix}/")) || pq == prefix {
        pq.to_owned()
    } else {
        format!("{prefix}{pq}")
    };
    let mut parts = base.clone().into_parts();
    parts.path_and_query = Some(joined.parse().ok()?);
    Uri::from_parts(parts).ok()
}

const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

fn copy_headers(from: &HeaderMap, to: &mut HeaderMap) {
    for (k, v) in from {
        if HOP_BY_HOP.contains(&k.as_str()) || k == hyper::header::HOST || k == TOKEN_HEADER {
            continue;
        }
        to.append(k.clone(), v.clone());
    }
}

pub(crate) fn strip_hop_by_hop(h: &mut HeaderMap) {
    for k in HOP_BY_HOP {
        h.remove(*k);
    }
}

fn inject_key(up: &Upstream, api: Option<Api>, h: &mut HeaderMap) {
    let Some(key) = &up.api_key else { return };
    if h.contains_key(hyper::header::AUTHORIZATION) || h.contains_key("x-api-key") {
        return;
    }
    if api == Some(Api::Anthropic) {
        if let Ok(v) = HeaderValue::from_str(key) {
            h.insert(HeaderName::from_static("x-api-key"), v);
        }
    } else if let Ok(v) = HeaderValue::from_str(&format!("Bearer {key}")) {
        h.insert(hyper::header::AUTHORIZATION, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> Uri {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn upstream_path_joins_without_doubling_the_prefix() {
        let base = uri("https://api.example.com/v1");
        let j = |p: &str| upstream_uri(&base, &uri(p)).map(|u| u.to_string());
        assert_eq!(
            j("/v1/chat/completions?x=1").as_deref(),
            Some("https://api.example.com/v1/chat/completions?x=1")
        );
        assert_eq!(
            j("/chat/completions").as_deref(),
            Some("https://api.example.com/v1/chat/completions")
        );
        let root = uri("http://127.0.0.1:8080");
        assert_eq!(
            upstream_uri(&root, &uri("/v1/messages?beta=true")).map(|u| u.to_string()),
            Some("http://127.0.0.1:8080/v1/messages?beta=true".to_owned())
        );
    }

    #[test]
    fn auto_routes_by_path_and_header() {
        let mut h = HeaderMap::new();
        let host = |path: &str, h: &HeaderMap| {
            Route::Auto
                .pick(path, h)
                .and_then(|u| u.base.host().map(str::to_owned))
        };
        assert_eq!(
            host("/v1/messages", &h).as_deref(),
            Some("api.anthropic.com")
        );
        assert_eq!(
            host("/v1/chat/completions", &h).as_deref(),
            Some("api.openai.com")
        );
        assert_eq!(host("/v1/responses", &h).as_deref(), Some("api.openai.com"));
        h.insert("anthropic-version", HeaderValue::from_static("2023-06-01"));
        assert_eq!(host("/v1/models", &h).as_deref(), Some("api.anthropic.com"));
    }

    #[test]
    fn hop_by_hop_headers_are_not_forwarded() {
        let mut from = HeaderMap::new();
        from.insert("connection", HeaderValue::from_static("keep-alive"));
        from.insert("host", HeaderValue::from_static("localhost:9090"));
        from.insert("anthropic-beta", HeaderValue::from_static("a,b"));
        let mut to = HeaderMap::new();
        copy_headers(&from, &mut to);
        assert!(to.get("connection").is_none() && to.get("host").is_none());
        assert_eq!(
            to.get("anthropic-beta"),
            Some(&HeaderValue::from_static("a,b"))
        );
    }

    #[test]
    fn a_key_is_injected_only_when_the_client_sends_none() {
        let up = Upstream {
            base: uri("https://api.anthropic.com"),
            api_key: Some("sk-inject".into()),
        };
        let mut h = HeaderMap::new();
        inject_key(&up, Some(Api::Anthropic), &mut h);
        assert_eq!(
            h.get("x-api-key"),
            Some(&HeaderValue::from_static("sk-inject"))
        );
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_static("Bearer mine"));
        inject_key(&up, Some(Api::Anthropic), &mut h);
        assert!(h.get("x-api-key").is_none());
    }
}
