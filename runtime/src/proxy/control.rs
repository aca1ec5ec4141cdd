//! The control socket of a running proxy: a Unix socket in Crust's private directory, where
//! `crust hook` hands over a tool call to judge (a hook then costs a connection instead of
//! loading the bundle in a fresh process) and `crust status` asks how the proxy is doing.
//! One JSON line in, one JSON line out.
//!
//! A hook names the checksum of the bundle it would judge with; a proxy serving another bundle
//! says so instead of judging, and the hook judges by itself. Nothing here can turn into an
//! allow: every failure on either side ends in the hook judging the call itself.

use super::server::Shared;
use crate::hook::{self, Agent};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// The socket's file name in Crust's data directory (`~/.local/share/crust`).
pub const SOCKET: &str = "crust.sock";

/// Largest request line: the largest hook input (Cursor's `beforeReadFile` carries a whole
/// file) with room for the envelope.
pub const MAX_REQUEST: u64 = (64 << 20) + 4096;

/// How long a client may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Judge one hook input, if the proxy's bundle has this checksum (hex).
    Hook {
        agent: String,
        home: String,
        checksum: String,
        /// The bundle file the hook would load (canonical): judged here only when it is the
        /// file this proxy serves and protects.
        bundle: PathBuf,
        input: String,
    },
    /// How the proxy is doing.
    Status,
}

/// The answer to [`Request::Hook`].
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum HookAnswer {
    Judged {
        stdout: String,
        stderr: String,
        exit: u8,
    },
    /// The proxy serves another bundle (its checksum): the hook judges by itself.
    Mismatch { serving: String },
}

/// Binds the socket: private to the user, a stale file from a crashed run replaced. `None`
/// (with a warning) when another proxy answers there or the socket cannot be made; hooks then
/// judge by themselves.
pub(super) fn bind(path: &Path) -> Option<tokio::net::UnixListener> {
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            tracing::warn!(socket = %path.display(), "another Crust answers on the control socket; this one has none");
            return None;
        }
        let _ = std::fs::remove_file(path);
    }
    let listener = match tokio::net::UnixListener::bind(path) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(socket = %path.display(), "cannot create the control socket ({e}); hooks will load the bundle themselves");
            return None;
        }
    };
    use std::os::unix::fs::PermissionsExt;
    if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
        tracing::warn!(socket = %path.display(), "cannot make the control socket private ({e}); not serving it");
        let _ = std::fs::remove_file(path);
        return None;
    }
    Some(listener)
}

/// Serves the socket until the task is dropped.
pub(super) async fn serve(listener: tokio::net::UnixListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let _ = connection(stream, shared).await;
        });
    }
}

async fn connection(stream: tokio::net::UnixStream, shared: Arc<Shared>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = Vec::new();
    let mut reader = BufReader::new(read.take(MAX_REQUEST + 1));
    match tokio::time::timeout(READ_TIMEOUT, reader.read_until(b'\n', &mut line)).await {
        Ok(Ok(_)) => {}
        _ => return Ok(()),
    }
    let answer = match serde_json::from_slice::<Request>(&line) {
        Err(e) => serde_json::json!({ "error": format!("unreadable request: {e}") }).to_string(),
        Ok(Request::Status) => serde_json::to_string(&status(&shared)).unwrap_or_default(),
        Ok(Request::Hook {
            agent,
            home,
            checksum,
            bundle,
            input,
        }) => {
            // Judged on this task: a decision takes microseconds, and a hop to the blocking
            // pool would cost more than that in wake-ups.
            let a = judge_hook(&shared, &agent, &home, &checksum, &bundle, input.as_bytes());
            serde_json::to_string(&a).unwrap_or_default()
        }
    };
    write.write_all(answer.as_bytes()).await?;
    write.write_all(b"\n").await?;
    write.shutdown().await
}

fn judge_hook(
    shared: &Shared,
    agent: &str,
    home: &str,
    checksum: &str,
    path: &Path,
    input: &[u8],
) -> HookAnswer {
    let bundle = shared.snapshot();
    let serving = format!("{:016x}", bundle.checksum());
    let Some(agent) = Agent::from_name(agent) else {
        return HookAnswer::Mismatch { serving };
    };
    // The same bytes elsewhere (a copy) are not enough: the proxy protects its own file
    // from agents, not the copy the hook would otherwise load.
    let ours = shared
        .config
        .policy_path
        .as_deref()
        .and_then(|p| std::fs::canonicalize(p).ok());
    if serving != checksum || ours.as_deref() != Some(path) {
        return HookAnswer::Mismatch { serving };
    }
    let started = std::time::Instant::now();
    let (event, verdict) = hook::decide(Ok(&bundle), &shared.own, agent, input, home);
    let took = started.elapsed();
    shared.metrics.eval_time(took);
    if let Some(auditor) = &shared.config.audit {
        auditor.record(hook_record(&bundle, agent, input, &verdict, took));
    }
    shared.metrics.hook_call();
    if verdict.is_block() {
        shared
            .metrics
            .block(verdict.rule.as_deref().unwrap_or("crust"));
    }
    let r = hook::reply(agent, &event, &verdict);
    HookAnswer::Judged {
        stdout: r.stdout,
        stderr: r.stderr,
        exit: r.exit,
    }
}

/// The audit record of a hook's call: the agent as `hook:NAME`, the session the agent names.
fn hook_record(
    bundle: &crate::Engine,
    agent: Agent,
    input: &[u8],
    verdict: &crate::Verdict<'_>,
    took: Duration,
) -> crate::audit::Record {
    let call = hook::parse(agent, input).ok();
    let raw: Option<serde_json::Value> = serde_json::from_slice(input).ok();
    let session = raw
        .as_ref()
        .and_then(|v| v.get("session_id").or_else(|| v.get("conversation_id")))
        .and_then(serde_json::Value::as_str)
        .map(|s| s.chars().take(200).collect());
    let call_id = raw
        .as_ref()
        .and_then(|v| v.get("tool_use_id"))
        .and_then(serde_json::Value::as_str)
        .map(|s| s.chars().take(200).collect());
    crate::audit::Record {
        time_ms: crate::audit::now_ms(),
        session,
        agent: Some(format!("hook:{}", agent.name())),
        user: None,
        api: "hook".to_owned(),
        side: "response".to_owned(),
        tool: call
            .as_ref()
            .map_or_else(|| "(unreadable)".to_owned(), |c| c.name.clone()),
        call_id,
        args: call
            .as_ref()
            .map(|c| crate::audit::summarize(bundle, &c.args.to_string(), 400))
            .unwrap_or_default(),
        decision: if verdict.is_block() { "block" } else { "allow" }.to_owned(),
        rule: verdict.rule.as_deref().map(str::to_owned),
        severity: verdict.severity.map(|s| s.name().to_owned()),
        eval_ns: u64::try_from(took.as_nanos()).unwrap_or(u64::MAX),
        bundle: bundle.meta().compiler.clone(),
        bundle_checksum: format!("{:016x}", bundle.checksum()),
        dropped_before: None,
    }
}

/// What `crust status` shows.
#[derive(Debug, Serialize, Deserialize)]
pub struct Status {
    pub version: String,
    pub pid: u32,
    pub listen: String,
    pub upstream: String,
    pub uptime_secs: u64,
    pub bundle: BundleStatus,
    pub requests: u64,
    pub hook_calls: u64,
    pub blocks: u64,
    pub blocks_by_rule: std::collections::BTreeMap<String, u64>,
    pub reloads: u64,
    pub reload_failures: u64,
    pub audit: Option<AuditStatus>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct BundleStatus {
    pub path: Option<PathBuf>,
    pub checksum: String,
    pub rules: usize,
    pub bytes: usize,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct AuditStatus {
    pub healthy: bool,
    pub dropped_total: u64,
    pub pending: u64,
    pub write_failures: u64,
    pub last_error: Option<String>,
}

fn status(shared: &Shared) -> Status {
    use std::sync::atomic::Ordering::Relaxed;
    let b = shared.snapshot();
    let m = &shared.metrics;
    let by_rule = m.blocks_by_rule();
    Status {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        pid: std::process::id(),
        listen: shared.local.to_string(),
        upstream: shared.config.route.describe(),
        uptime_secs: shared.started.elapsed().as_secs(),
        bundle: BundleStatus {
            path: shared.config.policy_path.clone(),
            checksum: format!("{:016x}", b.checksum()),
            rules: b.meta().rules.len(),
            bytes: b.len(),
        },
        requests: m.requests.load(Relaxed),
        hook_calls: m.hook_calls(),
        blocks: by_rule.values().sum(),
        blocks_by_rule: by_rule,
        reloads: m.reloads.load(Relaxed),
        reload_failures: m.reload_failures.load(Relaxed),
        audit: shared.config.audit.as_ref().map(|a| {
            let h = a.health();
            AuditStatus {
                healthy: h.healthy(),
                dropped_total: h.dropped_total,
                pending: h.pending,
                write_failures: h.write_failures,
                last_error: h.last_error,
            }
        }),
    }
}
