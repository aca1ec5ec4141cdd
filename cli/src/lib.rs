//! Crust's command lines: `crustc`, `crust` (every subcommand), `crust-runtime` and
//! `crust-hook` (binaries in `src/bin/`), and every command-line option type. The libraries
//! (`crust-compiler`, `crust-runtime`) have no command-line parser. Contracts (exit codes,
//! the `check --json` line format) are stable: other tools depend on them.

#[cfg(unix)]
mod control;
mod fmt;
pub mod hook;
#[cfg(unix)]
pub mod hook_server;
mod logs;
pub mod options;
#[cfg(unix)]
mod service;
pub mod setup;
mod start;
#[cfg(unix)]
mod status;
mod wrap;

use clap::{Parser, Subcommand, ValueEnum};
use crust_compiler::diag::Diagnostics;
use crust_compiler::source::SourceMap;
use crust_runtime::check::{check_stream, human, parse_call_line, CheckOptions};
use crust_runtime::model::ToolCall;
use crust_runtime::Engine;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Process exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    /// Policy errors, failed tests, unreadable bundles.
    Policy = 1,
    /// Bad command-line usage or unreadable inputs.
    Usage = 2,
    /// `crust status`: the proxy is not running (as service managers report it).
    NotRunning = 3,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

#[derive(Debug, Clone, Copy, ValueEnum, Default)]
pub enum ErrorFormat {
    #[default]
    Human,
    Json,
}

fn print_diags(diags: &Diagnostics, sources: &SourceMap, format: ErrorFormat) {
    let mut err = std::io::stderr().lock();
    match format {
        ErrorFormat::Human => {
            let _ = write!(err, "{}", diags.render(sources));
            let n = diags.error_count();
            if n > 0 {
                let _ = writeln!(
                    err,
                    "error: {n} error{} in the policy; no bundle written",
                    if n == 1 { "" } else { "s" }
                );
            }
        }
        ErrorFormat::Json => {
            for d in &diags.items {
                let _ = writeln!(err, "{}", d.to_json(sources));
            }
        }
    }
}

/// `crustc PATH... -o FILE [--stats]`
#[derive(Parser, Debug)]
#[command(
    name = "crustc",
    version,
    about = "Compile Crust rule files into a policy bundle"
)]
pub struct CrustcArgs {
    /// Rule files or directories (*.yaml, *.yml, *.crust).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Where to write the bundle.
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    /// Print rule, pattern and automaton counts and sizes.
    #[arg(long)]
    pub stats: bool,
    #[arg(long, value_enum, default_value_t)]
    pub error_format: ErrorFormat,
    /// Sign the bundle with this minisign secret key (`crust keygen`, or `minisign -G` with
    /// its password in $CRUST_SIGNING_PASSWORD): writes OUTPUT.minisig beside it.
    #[arg(long)]
    pub sign: Option<PathBuf>,
    /// The signed serial that orders bundles (default: now, in seconds since the epoch); a
    /// runtime refuses a bundle older than the one it runs.
    #[arg(long, requires = "sign")]
    pub serial: Option<u64>,
    /// The release channel signed into the bundle (`stable`, `team-a`); a runtime given
    /// `--channel` takes only bundles signed for it.
    #[arg(long, requires = "sign")]
    pub channel: Option<String>,
}

pub fn crustc(args: CrustcArgs) -> Exit {
    let compiled = match crust_compiler::compile_paths(&args.paths) {
        Ok(c) => c,
        Err(Ok(e)) => {
            print_diags(&e.diagnostics, &e.sources, args.error_format);
            return Exit::Policy;
        }
        Err(Err(usage)) => {
            eprintln!("error: {usage}");
            return Exit::Usage;
        }
    };
    print_diags(&compiled.diagnostics, &compiled.sources, args.error_format);
    // The signature is made first, so a key that cannot sign leaves no unsigned bundle.
    let signature = match &args.sign {
        None => None,
        Some(key) => {
            let serial = args.serial.unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs())
            });
            match crust_compiler::sign::sign(&compiled.bytes, key, serial, args.channel.as_deref())
            {
                Ok(s) => Some(s),
                Err(e) => {
                    eprintln!("error: {e}");
                    return Exit::Usage;
                }
            }
        }
    };
    if let Err(e) = crust_compiler::bundle_write::write_atomic(&args.output, &compiled.bytes) {
        eprintln!("error: cannot write `{}`: {e}", args.output.display());
        return Exit::Usage;
    }
    if let Some(sig) = signature {
        let path = crust_compiler::sign::sig_path(&args.output);
        if let Err(e) = crust_compiler::bundle_write::write_atomic(&path, sig.as_bytes()) {
            eprintln!("error: cannot write `{}`: {e}", path.display());
            return Exit::Usage;
        }
    }
    if args.stats {
        print!("{}", compiled.stats.render());
    }
    Exit::Ok
}

/// The umbrella command.
#[derive(Parser, Debug)]
#[command(
    name = "crust",
    version,
    about = "Crust: a security gateway for AI agents' tool calls"
)]
pub struct CrustArgs {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args_, Debug, Clone)]
pub struct PolicyArgs {
    /// A compiled bundle to use.
    #[arg(long, conflicts_with = "rules")]
    pub policy: Option<PathBuf>,
    /// Rule files or directories to compile in memory (default: the built-in policy).
    #[arg(long, num_args = 1..)]
    pub rules: Vec<PathBuf>,
    /// Home directory for `~` and `$HOME` (default: $HOME).
    #[arg(long)]
    pub home: Option<String>,
    /// Working directory relative paths resolve against (default: the current directory).
    #[arg(long)]
    pub cwd: Option<String>,
    /// One JSON object per input line.
    #[arg(long)]
    pub json: bool,
}

use clap::Args as Args_;

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Judge tool calls read as JSON lines from stdin.
    Check(PolicyArgs),
    /// Like check, and list every rule that matched and why.
    Explain(PolicyArgs),
    /// Run policy-test tables.
    Test {
        /// Table files or directories of them.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// List rules no case blocks and rules with no near-miss allow case.
        #[arg(long)]
        coverage: bool,
    },
    /// Compile rules into a bundle (same as crustc).
    Compile(CrustcArgs),
    /// Print a Markdown reference of a policy's rules and secret formats (docs/RULES.md is
    /// this for the built-in policy).
    Rules {
        /// A compiled bundle (default: the built-in policy).
        #[arg(long, conflicts_with = "rules")]
        policy: Option<PathBuf>,
        /// Rule files or directories to compile in memory.
        #[arg(long, num_args = 1..)]
        rules: Vec<PathBuf>,
    },
    /// Make a key pair for signing bundles (`crustc --sign FILE`): FILE (secret, mode 0600)
    /// and FILE.pub (what runtimes trust with `--trust`).
    Keygen {
        /// Where the secret key goes; the public key goes beside it as FILE.pub.
        file: PathBuf,
    },
    /// Run the proxy with the built-in policy plus your rules, recompiling when they change.
    Start(start::StartArgs),
    /// Decrypt and show the audit log.
    Logs(logs::LogsArgs),
    /// Format `.crust` policy files canonically.
    Fmt(fmt::FmtArgs),
    /// Judge one tool call from an agent's pre-tool-use hook (Claude Code, Cursor, Gemini CLI)
    /// and answer in its hook format.
    Hook(hook::HookArgs),
    /// Keep one bundle loaded for the agents' hooks when `crust start` does not run (`crust
    /// hook` starts it by itself; it exits after 10 quiet minutes).
    #[cfg(unix)]
    HookServer(hook_server::HookServerArgs),
    /// Run an MCP server (or an ACP agent) and judge the JSON-RPC it exchanges over standard
    /// input and output: `crust wrap -- npx -y @modelcontextprotocol/server-filesystem DIR`.
    Wrap(wrap::WrapArgs),
    /// The MCP gateway for Streamable HTTP servers (`crust mcp --upstream URL`), and tool
    /// pinning (`crust mcp trust SERVER`, `crust mcp pins`).
    Mcp(wrap::McpArgs),
    /// Wire the installed agents to Crust: hooks, base URLs, `crust wrap` around MCP servers
    /// (shows the diff first; `--undo` restores).
    Setup(setup::SetupArgs),
    /// Is the proxy running, what has it decided, is its audit log healthy, which agents are
    /// wired to it (exit code 3 when it is not running).
    #[cfg(unix)]
    Status(status::StatusArgs),
    /// Keep `crust start` running: a systemd user unit (Linux) or a launchd agent (macOS).
    #[cfg(unix)]
    Service(service::ServiceArgs),
}

pub fn crust(args: CrustArgs) -> Exit {
    match args.command {
        Command::Check(p) => check(p, false),
        Command::Explain(p) => check(p, true),
        Command::Test { paths, coverage } => {
            let report = crust_compiler::testing::run_paths(&paths);
            print!("{}", crust_compiler::testing::render(&report, coverage));
            if report.failed() > 0 || report.results.is_empty() {
                Exit::Policy
            } else {
                Exit::Ok
            }
        }
        Command::Compile(c) => crustc(c),
        Command::Keygen { file } => match crust_compiler::sign::keygen(&file) {
            Ok(public) => {
                println!(
                    "secret key: {} (keep it private)\npublic key: {} (give it to runtimes as --trust)",
                    file.display(),
                    public.display()
                );
                Exit::Ok
            }
            Err(e) => {
                eprintln!("error: {e}");
                Exit::Usage
            }
        },
        Command::Rules { policy, rules } => {
            let p = PolicyArgs {
                policy,
                rules,
                home: None,
                cwd: None,
                json: false,
            };
            match load_policy(&p) {
                Ok(b) => {
                    // The built-in rules' ATT&CK map; a user's rules have no entry.
                    let attack = crust_compiler::ruledoc::AttackMap::builtin().ok();
                    print!(
                        "{}",
                        crust_compiler::ruledoc::render_with(
                            b.meta(),
                            "Built-in rules",
                            attack.as_ref()
                        )
                    );
                    Exit::Ok
                }
                Err(e) => e,
            }
        }
        Command::Start(a) => start::start(a),
        Command::Logs(a) => logs::logs(a),
        Command::Fmt(a) => fmt::fmt(a),
        Command::Hook(a) => hook::hook(a),
        #[cfg(unix)]
        Command::HookServer(a) => hook_server::hook_server(a),
        Command::Wrap(a) => wrap::wrap(a),
        Command::Mcp(a) => wrap::mcp(a),
        Command::Setup(a) => setup::setup(a),
        #[cfg(unix)]
        Command::Status(a) => status::status(a),
        #[cfg(unix)]
        Command::Service(a) => service::service(a),
    }
}

/// Loads the policy a command asked for: a bundle, rule paths, or the built-in policy.
pub fn load_policy(p: &PolicyArgs) -> Result<Engine, Exit> {
    if let Some(path) = &p.policy {
        return Engine::load(path).map_err(|e| {
            eprintln!("error: {e}");
            Exit::Policy
        });
    }
    let compiled = if p.rules.is_empty() {
        crust_compiler::compile_sources(crust_compiler::builtin_sources()).map_err(Ok)
    } else {
        crust_compiler::compile_paths(&p.rules)
    };
    match compiled {
        Ok(c) => Engine::from_bytes(&c.bytes).map_err(|e| {
            eprintln!("error: {e}");
            Exit::Policy
        }),
        Err(Ok(e)) => {
            print_diags(&e.diagnostics, &e.sources, ErrorFormat::Human);
            Err(Exit::Policy)
        }
        Err(Err(u)) => {
            eprintln!("error: {u}");
            Err(Exit::Usage)
        }
    }
}

fn defaults(p: &PolicyArgs) -> CheckOptions {
    CheckOptions {
        home: p
            .home
            .clone()
            .or_else(|| std::env::var("HOME").ok())
            .unwrap_or_else(|| "/".into()),
        cwd: p.cwd.clone().unwrap_or_else(|| {
            std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_else(|_| "/".into())
        }),
        json: p.json,
    }
}

fn check(p: PolicyArgs, explain: bool) -> Exit {
    let bundle = match load_policy(&p) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let opts = defaults(&p);
    let stdin = std::io::stdin();
    if !explain {
        return match check_stream(&bundle, stdin.lock(), std::io::stdout().lock(), &opts) {
            Ok(_) => Exit::Ok,
            Err(e) => {
                eprintln!("error: {e}");
                Exit::Usage
            }
        };
    }
    let mut out = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { return Exit::Usage };
        if line.trim().is_empty() {
            continue;
        }
        let text = explain_line(&bundle, &line, &opts);
        if writeln!(out, "{text}").is_err() {
            return Exit::Usage;
        }
    }
    Exit::Ok
}

/// `explain` for one input line: JSON or a few human lines.
pub fn explain_line(bundle: &Engine, line: &str, opts: &CheckOptions) -> String {
    let parsed = match parse_call_line(line) {
        Ok(c) => c,
        Err(why) => {
            let v = crust_runtime::Verdict::malformed(why);
            return if opts.json {
                serde_json::json!({"verdict": verdict_value(&v), "operations": [], "matches": []})
                    .to_string()
            } else {
                human(&v)
            };
        }
    };
    let call = ToolCall {
        name: &parsed.name,
        args: &parsed.args,
        cwd: Some(parsed.cwd.as_deref().unwrap_or(&opts.cwd)),
        home: Some(&opts.home),
    };
    let ex = bundle.explain(&call);
    if opts.json {
        let ops: Vec<_> = ex
            .operations
            .iter()
            .map(|o| serde_json::json!({"action": o.action.name(), "paths": o.paths, "globs": o.globs, "hosts": o.hosts, "urls": o.urls, "commands": o.commands, "contents": o.contents, "signals": o.signals}))
            .collect();
        let matches: Vec<_> = ex
            .matches
            .iter()
            .map(|m| serde_json::json!({
                "rule": m.rule,
                "effect": match m.effect { crust_runtime::Effect::Block => "block", crust_runtime::Effect::Allow => "allow" },
                "locked": m.locked,
                "operation": m.operation,
                "evidence": m.evidence.iter().map(|e| serde_json::json!({"field": e.field.name(), "value": e.value, "pattern": e.pattern})).collect::<Vec<_>>(),
            }))
            .collect();
        return serde_json::json!({"verdict": verdict_value(&ex.verdict), "operations": ops, "matches": matches}).to_string();
    }
    let mut s = human(&ex.verdict);
    let mut unresolved = false;
    for (i, o) in ex.operations.iter().enumerate() {
        s.push_str(&format!("\n  op {i}: {}", o.action));
        for (f, vs) in [
            ("path", &o.paths),
            ("glob", &o.globs),
            ("host", &o.hosts),
            ("url", &o.urls),
            ("command", &o.commands),
            ("signal", &o.signals),
        ] {
            for v in vs {
                unresolved |= v.contains(crust_runtime::normalize::UNKNOWN);
                s.push_str(&format!(" {f}={:?}", readable(v)));
            }
        }
    }
    if unresolved {
        s.push_str(
            "\n  unresolved: `<?>` marks text the analysis could not work out (a variable set \
             outside the command, a tool's output); `<**>` any path below a directory",
        );
    }
    for m in &ex.matches {
        let kind = match (m.effect, m.locked) {
            (crust_runtime::Effect::Allow, _) => "allow",
            (_, true) => "block (locked)",
            _ => "block",
        };
        s.push_str(&format!(
            "\n  matched {} [{kind}] on op {}",
            m.rule, m.operation
        ));
        for e in &m.evidence {
            s.push_str(&format!(
                "\n    {} {:?} ~ {}",
                e.field,
                readable(&e.value),
                e.pattern
            ));
        }
    }
    s
}

/// The analysis's markers for unknown text and whole subtrees, as a reader sees them.
fn readable(v: &str) -> String {
    v.replace(crust_runtime::normalize::UNKNOWN, "<?>")
        .replace(crust_runtime::normalize::SUBTREE, "<**>")
}

fn verdict_value(v: &crust_runtime::Verdict<'_>) -> serde_json::Value {
    serde_json::from_str(&v.to_json()).unwrap_or(serde_json::Value::Null)
}
