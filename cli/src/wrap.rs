//! `crust wrap -- CMD ARGS…`: runs an MCP server (or an ACP agent) as a child and relays its
//! JSON-RPC over standard input and output through the gateway (`crust_runtime::mcp`), so
//! every tool call, read, write and command is judged and every answer scanned before it
//! crosses. `crust mcp trust|pins`: the user's side of tool pinning.

use super::Exit;
use crust_runtime::bundle::Validation;
use crust_runtime::mcp::pin::PinStore;
use crust_runtime::mcp::stdio::{close, pump, sink};
use crust_runtime::mcp::{Config, Gateway, Side};
use crust_runtime::own::OwnFiles;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

/// What both gateways take: the policy, the server's name, pinning, the audit log, the bound.
#[derive(clap::Args, Debug, Clone)]
pub struct GatewayArgs {
    /// A compiled bundle (default: the one `crust start` keeps in
    /// ~/.local/share/crust/policy.bin, else the built-in policy and your rules).
    #[arg(long, conflicts_with = "rules")]
    pub policy: Option<PathBuf>,
    /// Rule files or directories to compile at start.
    #[arg(long, num_args = 1..)]
    pub rules: Vec<PathBuf>,
    /// The server's name in tool names (`mcp__NAME__tool`), pins and the audit log (default:
    /// the package or script `crust wrap` runs, the upstream's host and port for `crust mcp`).
    #[arg(long)]
    pub name: Option<String>,
    /// Do not pin the server's tool list.
    #[arg(long)]
    pub no_pin: bool,
    /// Do not record decisions in the encrypted audit log.
    #[arg(long)]
    pub no_audit: bool,
    /// Largest message (request, answer, stream event) relayed, in MiB; a longer one is
    /// refused.
    #[arg(long, default_value_t = 32)]
    pub max_message_mib: usize,
}

#[derive(clap::Args, Debug, Clone)]
pub struct WrapArgs {
    #[command(flatten)]
    pub gateway: GatewayArgs,
    /// The server (or agent) and its arguments.
    #[arg(required = true, last = true)]
    pub command: Vec<String>,
}

/// `crust mcp --upstream URL` (the HTTP gateway), or one of the pin commands.
#[derive(clap::Args, Debug, Clone)]
#[command(args_conflicts_with_subcommands = true)]
pub struct McpArgs {
    #[command(subcommand)]
    pub command: Option<McpCommand>,
    /// The MCP server's Streamable HTTP endpoint (`http://127.0.0.1:8000/mcp`) to front.
    #[arg(long)]
    pub upstream: Option<String>,
    /// Where clients connect (loopback only); every path is the MCP endpoint.
    #[arg(long, default_value = "127.0.0.1:9091")]
    pub listen: std::net::SocketAddr,
    #[command(flatten)]
    pub gateway: GatewayArgs,
}

#[derive(clap::Subcommand, Debug, Clone)]
pub enum McpCommand {
    /// Accept the tool list an MCP server offers now, after reviewing why it was refused.
    Trust {
        /// The server's name, as `crust wrap` reported it.
        server: String,
    },
    /// List the servers with pinned tools, and those waiting for `trust`.
    Pins,
}

fn home() -> PathBuf {
    PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/".into()))
}

fn say(msg: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{msg}");
}

/// The gateway both commands judge with (its policy, pins and audit log), and the audit
/// log's writer to finish at the end. Without a policy nothing can be judged: nothing is
/// started (fail closed).
fn gateway(
    who: &str,
    g: &GatewayArgs,
    default_name: impl FnOnce() -> String,
    command: Vec<String>,
) -> Result<(Gateway, Option<crust_runtime::audit::Writer>), Exit> {
    let home = home();
    let kept = home.join(".local/share/crust/policy.bin");
    let bundle_path = match &g.policy {
        Some(p) => Some(p.clone()),
        None if g.rules.is_empty() && kept.is_file() => Some(kept),
        None => None,
    };
    let bundle = super::hook::agent_policy(
        &g.rules,
        bundle_path.as_deref(),
        &home.display().to_string(),
        Validation::AtLoad,
    )
    .map_err(|e| {
        say(&format!("{who}: cannot load the policy: {e}"));
        Exit::Policy
    })?;
    let (audit, writer) = if g.no_audit {
        (None, None)
    } else {
        let (a, w) = crust_runtime::audit::open(
            &home.join(".config/crust"),
            home.join(".local/share/crust")
                .join(crust_runtime::audit::LOG_FILE),
            &[],
        )
        .map_err(|e| {
            say(&format!(
                "{who}: cannot open the audit log: {e} (or pass --no-audit)"
            ));
            Exit::Usage
        })?;
        (Some(a), Some(w))
    };
    let gw = Gateway::new(Config {
        bundle,
        server: g.name.clone().unwrap_or_else(default_name),
        command,
        home: home.display().to_string(),
        cwd: std::env::current_dir()
            .ok()
            .map(|d| d.display().to_string()),
        own: OwnFiles::new(bundle_path),
        pins: (!g.no_pin).then(|| PinStore::default_for(&home)),
        audit,
    });
    Ok((gw, writer))
}

pub fn wrap(args: WrapArgs) -> Exit {
    let (gw, writer) = match gateway(
        "crust wrap",
        &args.gateway,
        || server_name(&args.command),
        args.command.clone(),
    ) {
        Ok(g) => g,
        Err(e) => return e,
    };
    let Some((program, rest)) = args.command.split_first() else {
        return Exit::Usage;
    };
    let mut child = match Command::new(program)
        .args(rest)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            say(&format!("crust wrap: cannot run `{program}`: {e}"));
            std::process::exit(127);
        }
    };
    let (Some(child_in), Some(child_out)) = (child.stdin.take(), child.stdout.take()) else {
        say("crust wrap: the child's standard streams are not pipes");
        let _ = child.kill();
        return Exit::Usage;
    };
    let child_pid = child.id();
    forward_signals(child_pid);
    let gw = Arc::new(gw);
    let max = args.gateway.max_message_mib.max(1) << 20;
    let to_client = sink(std::io::stdout());
    let to_child = sink(child_in);
    let notes = |n: &str| say(n);
    {
        let (gw, to_client, to_child) = (gw.clone(), to_client.clone(), to_child.clone());
        // Not joined: it may sit in a read of standard input after the child is gone.
        let _ = std::thread::Builder::new()
            .name("crust-wrap-in".into())
            .spawn(move || {
                let stdin = std::io::stdin();
                let _ = pump(
                    &gw,
                    Side::Client,
                    stdin.lock(),
                    &to_client,
                    &to_child,
                    &notes,
                    max,
                );
                // The client is gone and the child's input closed. A child that does not end
                // by itself is asked to (SIGTERM), then made to (SIGKILL), as MCP's stdio
                // shutdown goes; a child that did end took this process with it.
                std::thread::sleep(std::time::Duration::from_secs(10));
                signal_child(child_pid, rustix::process::Signal::TERM);
                std::thread::sleep(std::time::Duration::from_secs(5));
                signal_child(child_pid, rustix::process::Signal::KILL);
            });
    }
    let out = {
        let (gw, to_client, to_child) = (gw.clone(), to_client.clone(), to_child.clone());
        std::thread::Builder::new()
            .name("crust-wrap-out".into())
            .spawn(move || {
                let reader = std::io::BufReader::with_capacity(64 << 10, child_out);
                let _ = pump(&gw, Side::Child, reader, &to_child, &to_client, &notes, max);
            })
    };
    let status = child.wait();
    if let Ok(h) = out {
        let _ = h.join();
    }
    close(&to_client);
    gw.close_audit();
    drop(gw);
    if let Some(w) = writer {
        w.finish();
    }
    let code = match status {
        Ok(s) => exit_code(s),
        Err(e) => {
            say(&format!("crust wrap: cannot wait for `{program}`: {e}"));
            1
        }
    };
    std::process::exit(code)
}

/// The child's exit code, or 128 plus the signal that ended it (as shells report it).
fn exit_code(s: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    s.code()
        .or_else(|| s.signal().map(|n| 128 + n))
        .unwrap_or(1)
}

fn signal_child(pid: u32, sig: rustix::process::Signal) {
    if let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process(pid, sig);
    }
}

/// Signals sent to `crust wrap` go on to the child, which decides how to end.
fn forward_signals(pid: u32) {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};
    let Ok(mut signals) =
        signal_hook::iterator::Signals::new([SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2])
    else {
        say("crust wrap: cannot forward signals to the child");
        return;
    };
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return;
    };
    let _ = std::thread::Builder::new()
        .name("crust-wrap-signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                if let Some(s) = rustix::process::Signal::from_named_raw(sig) {
                    let _ = rustix::process::kill_process(pid, s);
                }
            }
        });
}

/// A name for the server from its command line: the package a runner runs (`npx -y
/// @scope/server-x` → `server-x`), else the script an interpreter runs, else the program.
pub fn server_name(command: &[String]) -> String {
    const RUNNERS: &[&str] = &[
        "npx", "bunx", "pnpx", "uvx", "pipx", "node", "deno", "bun", "python", "python3", "uv",
        "npm", "pnpm", "yarn", "docker", "podman", "ruby", "java", "go", "dotnet", "php", "perl",
    ];
    // Subcommand words of runners that come before the package.
    const VERBS: &[&str] = &["run", "exec", "dlx", "x", "tool", "--"];
    let base = |s: &str| -> String {
        let s = s.trim_end_matches('/');
        let s = s.rsplit('/').next().unwrap_or(s);
        // A version (`pkg@1.2.3`, `image:tag`) and an extension are not part of the name.
        let s = match s.rfind('@') {
            Some(i) if i > 0 => s.get(..i).unwrap_or(s),
            _ => s,
        };
        let s = s.split(':').next().unwrap_or(s);
        let s = match s.rsplit_once('.') {
            Some((
                stem,
                "js" | "mjs" | "cjs" | "ts" | "py" | "rb" | "jar" | "php" | "pl" | "exe",
            )) => stem,
            _ => s,
        };
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let Some(program) = command.first() else {
        return "mcp".into();
    };
    let prog = base(program);
    let runner = RUNNERS
        .iter()
        .any(|r| prog == *r || prog.starts_with("python3"));
    if runner {
        let mut skip_value = false;
        for a in command.iter().skip(1) {
            if skip_value {
                skip_value = false;
                continue;
            }
            if a.starts_with('-') {
                // Flags that take a value the next argument holds.
                skip_value = matches!(
                    a.as_str(),
                    "-p" | "--package"
                        | "--from"
                        | "--with"
                        | "-e"
                        | "--env"
                        | "-v"
                        | "--volume"
                        | "--name"
                );
                continue;
            }
            if VERBS.contains(&a.as_str()) {
                continue;
            }
            let name = base(a);
            let name = match name.as_str() {
                // `node build/index.js`: the first directory above with a telling name.
                "index" | "main" | "server" | "__main__" | "cli" => Path::new(a)
                    .ancestors()
                    .skip(1)
                    .filter_map(|p| p.file_name().and_then(|n| n.to_str()))
                    .find(|n| !matches!(*n, "build" | "dist" | "src" | "lib" | "bin" | "out"))
                    .map_or(name.clone(), base),
                _ => name,
            };
            if !name.is_empty() {
                return name;
            }
        }
    }
    if prog.is_empty() {
        "mcp".into()
    } else {
        prog
    }
}

pub fn mcp(args: McpArgs) -> Exit {
    let Some(cmd) = args.command.clone() else {
        return mcp_http(args);
    };
    let store = PinStore::default_for(&home());
    match cmd {
        McpCommand::Trust { server } => match store.load_pending(&server) {
            Ok(None) => {
                say(&format!(
                    "crust mcp: nothing from `{server}` is waiting to be trusted"
                ));
                Exit::Policy
            }
            Err(e) => {
                say(&format!("crust mcp: {e}"));
                Exit::Policy
            }
            Ok(Some(pending)) => {
                let old = store.load(&server).ok().flatten().unwrap_or_default();
                let mut out = std::io::stdout().lock();
                for (name, def) in &pending.tools {
                    let what = match old.tools.get(name) {
                        None => "new",
                        Some(d) if d != def => "changed",
                        Some(_) => continue,
                    };
                    let _ = writeln!(
                        out,
                        "{what}: {name}\n  {}",
                        def.description.replace('\n', "\n  ")
                    );
                }
                match store.trust(&server) {
                    Ok(_) => {
                        let _ = writeln!(
                            out,
                            "trusted the {} tools of `{server}`",
                            pending.tools.len()
                        );
                        Exit::Ok
                    }
                    Err(e) => {
                        say(&format!("crust mcp: {e}"));
                        Exit::Policy
                    }
                }
            }
        },
        McpCommand::Pins => match store.servers() {
            Ok(servers) => {
                let mut out = std::io::stdout().lock();
                for s in servers {
                    let pinned = store.load(&s).ok().flatten();
                    let waiting = store.load_pending(&s).ok().flatten().is_some();
                    let _ = writeln!(
                        out,
                        "{s}\t{} tools{}",
                        pinned.map_or(0, |p| p.tools.len()),
                        if waiting {
                            "\twaiting for `crust mcp trust`"
                        } else {
                            ""
                        }
                    );
                }
                Exit::Ok
            }
            Err(e) => {
                say(&format!("crust mcp: {e}"));
                Exit::Policy
            }
        },
    }
}

/// `crust mcp --upstream URL`: the Streamable HTTP gateway, until SIGINT or SIGTERM.
fn mcp_http(args: McpArgs) -> Exit {
    let Some(upstream) = args.upstream.clone() else {
        say("crust mcp: give --upstream URL (the MCP server's endpoint), or a subcommand (trust, pins)");
        return Exit::Usage;
    };
    let host_name = || {
        let authority = upstream
            .split_once("://")
            .map_or(upstream.as_str(), |(_, r)| r)
            .split('/')
            .next()
            .unwrap_or("mcp");
        authority
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let (gw, writer) = match gateway(
        "crust mcp",
        &args.gateway,
        host_name,
        vec![upstream.clone()],
    ) {
        Ok(g) => g,
        Err(e) => return e,
    };
    let server = gw.server().to_owned();
    let cfg = crust_runtime::mcp::http::HttpConfig {
        listen: args.listen,
        upstream: upstream.clone(),
        max_body: args.gateway.max_message_mib.max(1) << 20,
        notes: Arc::new(say),
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            say(&format!("crust mcp: cannot start: {e}"));
            return Exit::Usage;
        }
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let result = rt.block_on(async move {
        tokio::spawn(async move {
            if let Ok(addr) = rx.await {
                say(&format!(
                    "crust mcp: gateway for `{server}` ({upstream}) on http://{addr}/mcp"
                ));
            }
        });
        crust_runtime::mcp::http::serve(gw, cfg, Some(tx)).await
    });
    if let Some(w) = writer {
        w.finish();
    }
    match result {
        Ok(()) => Exit::Ok,
        Err(e) => {
            say(&format!("crust mcp: {e}"));
            Exit::Usage
        }
    }
}

#[cfg(test)]
mod tests {
    use super::server_name;

    #[test]
    fn servers_are_named_after_what_they_run() {
        let n = |c: &[&str]| server_name(&c.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        assert_eq!(
            n(&[
                "npx",
                "-y",
                "@modelcontextprotocol/server-filesystem",
                "/tmp"
            ]),
            "server-filesystem"
        );
        assert_eq!(n(&["npx", "-y", "@playwright/mcp@latest"]), "mcp");
        assert_eq!(
            n(&["uvx", "mcp-server-git", "--repository", "."]),
            "mcp-server-git"
        );
        assert_eq!(n(&["python3", "servers/weather.py"]), "weather");
        assert_eq!(n(&["node", "/opt/github-mcp/build/index.js"]), "github-mcp");
        assert_eq!(n(&["uv", "run", "--with", "mcp", "notes.py"]), "notes");
        assert_eq!(
            n(&[
                "docker",
                "run",
                "-i",
                "--rm",
                "ghcr.io/github/github-mcp-server"
            ]),
            "github-mcp-server"
        );
        assert_eq!(
            n(&["/usr/local/bin/sqlite-mcp", "--db", "x.db"]),
            "sqlite-mcp"
        );
    }
}
