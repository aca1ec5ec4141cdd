//! `crust status [--json]`: whether the proxy runs (asked through its control socket), what
//! it serves and has decided, whether its audit log is healthy, and which agents are wired.

use super::setup::{self, Note, Plan};
use super::Exit;
use crust_runtime::proxy::control::Status;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

#[derive(clap::Args, Debug, Clone)]
pub struct StatusArgs {
    /// One JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(serde::Serialize)]
struct AgentState {
    agent: &'static str,
    file: PathBuf,
    /// `wired`, `partly wired` (some of it goes around Crust), `not wired` or `unreadable`.
    state: &'static str,
    /// What `crust setup` would still add, or why the file cannot be read.
    detail: Vec<String>,
}

pub fn status(args: StatusArgs) -> Exit {
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/"), PathBuf::from);
    let socket = super::start::data_dir(&home).join(super::start::CONTROL_SOCKET);
    let proxy: Result<Status, String> = super::control::ask(
        &socket,
        &serde_json::json!({"op": "status"}),
        std::time::Duration::from_secs(5),
    )
    .and_then(|l| serde_json::from_str(&l).map_err(|e| format!("unreadable answer: {e}")));
    let listen = proxy
        .as_ref()
        .ok()
        .and_then(|s| s.listen.parse().ok())
        .unwrap_or_else(|| std::net::SocketAddr::from(([127, 0, 0, 1], 9090)));
    let agents = agents(&home, listen);
    let servers = hook_servers(&home);
    let running = proxy.is_ok();
    let mut out = String::new();
    if args.json {
        let v = serde_json::json!({
            "running": running,
            "socket": socket,
            "proxy": proxy.as_ref().ok(),
            "error": proxy.as_ref().err(),
            "agents": agents,
            "hook_servers": servers,
        });
        let _ = writeln!(out, "{v}");
    } else {
        print_human(&mut out, &proxy, &agents);
        for h in &servers {
            let _ = writeln!(
                out,
                "hook server: running (pid {}, up {}), {} (checksum {}), {} hook calls, {} blocked",
                h.pid,
                duration(h.uptime_secs),
                h.bundle.display(),
                h.checksum,
                h.hook_calls,
                h.blocks
            );
        }
    }
    // Written once, errors ignored: `crust status | head` must not panic.
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    if running {
        Exit::Ok
    } else {
        Exit::NotRunning
    }
}

/// The hook servers that answer on their sockets in Crust's data directory.
fn hook_servers(home: &std::path::Path) -> Vec<super::hook_server::ServerFacts> {
    let Ok(dir) = std::fs::read_dir(super::start::data_dir(home)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !(name.starts_with("hook-") && name.ends_with(".sock")) {
            continue;
        }
        let answer = super::control::ask(
            &e.path(),
            &serde_json::json!({"op": "status"}),
            std::time::Duration::from_secs(2),
        );
        if let Some(s) = answer
            .ok()
            .and_then(|l| serde_json::from_str::<super::hook_server::ServerStatus>(&l).ok())
        {
            out.push(s.hook_server);
        }
    }
    out.sort_by_key(|s| s.pid);
    out
}

fn agents(home: &std::path::Path, listen: std::net::SocketAddr) -> Vec<AgentState> {
    let w = setup::Wiring {
        crust: setup::own_path()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "crust".into()),
        anthropic_url: format!("http://{listen}"),
        openai_url: format!("http://{listen}/v1"),
        proxy: true,
        wrap: true,
    };
    let mut out = Vec::new();
    for t in setup::targets(home) {
        let (state, detail) = match setup::plan(&t, &w, false) {
            Plan::Absent => continue,
            Plan::Wired(notes) => {
                // What setup left as it was (a remote MCP server, a Codex profile with its own
                // provider) is not behind Crust.
                let kept: Vec<String> = notes
                    .into_iter()
                    .filter_map(|n| match n {
                        Note::Kept(s) => Some(s),
                        _ => None,
                    })
                    .collect();
                if kept.is_empty() {
                    ("wired", kept)
                } else {
                    ("partly wired", kept)
                }
            }
            Plan::Change { notes, .. } => (
                "not wired",
                notes
                    .into_iter()
                    .filter_map(|n| match n {
                        Note::Did(s) => Some(s),
                        _ => None,
                    })
                    .collect(),
            ),
            Plan::Untouched(why) => ("unreadable", vec![why]),
        };
        out.push(AgentState {
            agent: t.agent,
            file: t.file,
            state,
            detail,
        });
    }
    out
}

fn print_human(out: &mut String, proxy: &Result<Status, String>, agents: &[AgentState]) {
    match proxy {
        Ok(s) => {
            let _ = writeln!(
                out,
                "proxy: running (pid {}, up {}), http://{}, upstream {}",
                s.pid,
                duration(s.uptime_secs),
                s.listen,
                s.upstream
            );
            let _ = writeln!(
                out,
                "bundle: {} ({} rules, {:.1} MiB, checksum {})",
                s.bundle
                    .path
                    .as_ref()
                    .map_or_else(|| "(fixed)".to_owned(), |p| p.display().to_string()),
                s.bundle.rules,
                s.bundle.bytes as f64 / (1 << 20) as f64,
                s.bundle.checksum
            );
            let top: Vec<String> = {
                let mut v: Vec<_> = s.blocks_by_rule.iter().collect();
                v.sort_by(|a, b| b.1.cmp(a.1));
                v.iter().take(5).map(|(r, n)| format!("{r} {n}")).collect()
            };
            let _ = writeln!(
                out,
                "decisions: {} requests, {} hook calls, {} blocked{}",
                s.requests,
                s.hook_calls,
                s.blocks,
                if top.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", top.join(", "))
                }
            );
            if s.reload_failures > 0 {
                let _ = writeln!(
                    out,
                    "bundle reloads: {} ({} refused: the old bundle kept serving)",
                    s.reloads, s.reload_failures
                );
            }
            let _ = match &s.audit {
                None => writeln!(out, "audit log: off"),
                Some(a) if a.healthy => writeln!(out, "audit log: healthy ({} pending)", a.pending),
                Some(a) => writeln!(
                    out,
                    "audit log: NOT healthy: {} records dropped, {} failed writes{}",
                    a.dropped_total,
                    a.write_failures,
                    a.last_error
                        .as_ref()
                        .map(|e| format!(" (last: {e})"))
                        .unwrap_or_default()
                ),
            };
        }
        Err(why) => {
            let _ = writeln!(out, "proxy: not running ({why})");
            let _ = writeln!(
                out,
                "  start it with `crust start`, or `crust service install` to keep it running"
            );
        }
    }
    if agents.is_empty() {
        let _ = writeln!(out, "agents: none found");
    } else {
        let _ = writeln!(out, "agents:");
    }
    for a in agents {
        let _ = writeln!(
            out,
            "  {:<15} {:<12} {}",
            a.agent,
            a.state,
            a.file.display()
        );
        for d in &a.detail {
            let label = match a.state {
                "not wired" => "missing: ",
                "partly wired" => "around Crust: ",
                _ => "",
            };
            let _ = writeln!(out, "      {label}{d}");
        }
    }
    if agents.iter().any(|a| a.state == "not wired") {
        let _ = writeln!(out, "  run `crust setup` to wire them");
    }
}

fn duration(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        s => format!("{}d", s / 86400),
    }
}
