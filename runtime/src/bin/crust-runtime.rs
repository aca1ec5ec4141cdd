//! `crust-runtime --policy policy.bin --endpoint URL`: the LLM proxy (listening on
//! 127.0.0.1:9090 by default), which blocks dangerous tool calls and hot-swaps the bundle when
//! the file changes. Without `--endpoint`, it judges tool calls read as JSON lines from stdin
//! (the `crust check` contract).

use clap::Parser;
use crust_runtime::check::{check_stream, CheckOptions};
use crust_runtime::proxy::{Config, Route};
use crust_runtime::Bundle;
use std::process::ExitCode;

/// A faster allocator for the many small, short-lived allocations of a decision and of
/// the proxy's bodies (docs/PERFORMANCE.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "crust-runtime",
    version,
    about = "Judge agent tool calls with a compiled Crust policy bundle"
)]
struct Args {
    /// The compiled policy bundle.
    #[arg(long)]
    policy: std::path::PathBuf,
    /// Home directory that `~` and `$HOME` patterns refer to (default: $HOME).
    #[arg(long)]
    home: Option<String>,
    /// Working directory relative paths resolve against (default: the process's).
    #[arg(long)]
    cwd: Option<String>,
    /// Write one JSON verdict per line.
    #[arg(long)]
    json: bool,
    /// Validate the bundle, print a summary and exit.
    #[arg(long)]
    verify: bool,
    /// Address the proxy listens on.
    #[arg(long, default_value = "127.0.0.1:9090")]
    listen: std::net::SocketAddr,
    /// Run the proxy in front of this upstream API base URL (scheme, host, optional path
    /// prefix: https://api.anthropic.com, https://api.openai.com/v1), or `auto` to route each
    /// request to Anthropic or OpenAI by its path and headers.
    #[arg(long)]
    endpoint: Option<String>,
    /// Team mode: also serve Envoy's external processing (ext_proc) gRPC service on this
    /// address (docs/TEAM.md). Starts the proxy even without --endpoint (then `auto`).
    #[arg(long)]
    ext_proc: Option<std::net::SocketAddr>,
    /// Team mode: the header the gateway sets after authenticating the user (it must
    /// overwrite any value a client sends); recorded with each decision.
    #[arg(long)]
    user_header: Option<String>,
    /// Export each decision as an OpenTelemetry log record to this OTLP/HTTP collector
    /// (`http://host:4318`; JSON to `/v1/logs`). Never waits: drops are counted in
    /// /crust/metrics.
    #[arg(long)]
    otlp: Option<String>,
    /// API key sent upstream when the client sends none (default: $CRUST_UPSTREAM_API_KEY).
    #[arg(long)]
    api_key: Option<String>,
    /// What a blocked call becomes: `remove` (a notice in its place) or `replace` (a call of
    /// an offered shell tool that echoes the notice). `replace` applies to Anthropic Messages
    /// and Chat Completions; calls in the Responses API (Codex) are removed with a notice.
    #[arg(long, default_value = "remove")]
    block_mode: crust_runtime::proxy::BlockMode,
    /// Largest request or non-streaming response body, in MiB.
    #[arg(long, default_value_t = 32)]
    max_body_mib: usize,
    /// Record every decision in this age-encrypted audit log.
    /// A Unix socket where `crust hook` and `crust status` reach this proxy (`crust start`
    /// serves ~/.local/share/crust/crust.sock).
    #[arg(long)]
    control: Option<std::path::PathBuf>,
    #[arg(long)]
    audit_log: Option<std::path::PathBuf>,
    /// Directory of the audit identity, created on first start (default: ~/.config/crust).
    #[arg(long)]
    audit_key_dir: Option<std::path::PathBuf>,
    #[command(flatten)]
    audit: crust_runtime::audit::AuditOptions,
    #[command(flatten)]
    serve: crust_runtime::proxy::ServeOptions,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let bundle = match Bundle::load(&args.policy) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    if args.verify {
        println!(
            "{}: {} rules, {} bytes, checksum {:016x}",
            args.policy.display(),
            bundle.meta().rules.len(),
            bundle.len(),
            bundle.checksum()
        );
        return ExitCode::SUCCESS;
    }
    if args.endpoint.is_some() || args.ext_proc.is_some() {
        return run_proxy(args, bundle);
    }
    let opts = CheckOptions {
        home: args
            .home
            .or_else(|| std::env::var("HOME").ok())
            .unwrap_or_else(|| "/".into()),
        cwd: args.cwd.unwrap_or_else(|| {
            std::env::current_dir()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| "/".into())
        }),
        json: args.json,
    };
    let stdin = std::io::stdin();
    match check_stream(&bundle, stdin.lock(), std::io::stdout().lock(), &opts) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run_proxy(args: Args, bundle: Bundle) -> ExitCode {
    let route = match Route::parse(args.endpoint.as_deref(), args.api_key) {
        Ok(r) => r,
        Err(why) => {
            eprintln!("error: {why}");
            return ExitCode::from(2);
        }
    };
    let remote = match args.serve.remote() {
        Ok(r) => r,
        Err(why) => {
            eprintln!("error: {why}");
            return ExitCode::from(2);
        }
    };
    // The path as given (made absolute, symlinks kept): a symlink-flip deploy changes what it
    // names, and reloads must follow it.
    let policy_path = std::path::absolute(&args.policy).unwrap_or(args.policy);
    let home = args
        .home
        .or_else(|| std::env::var("HOME").ok())
        .unwrap_or_else(|| "/".into());
    let mut protect = Vec::new();
    let (audit, writer) = match &args.audit_log {
        None => (None, None),
        Some(log) => {
            let dir = args
                .audit_key_dir
                .clone()
                .unwrap_or_else(|| std::path::Path::new(&home).join(".config/crust"));
            protect.push(log.clone());
            protect.push(dir.join(crust_runtime::audit::IDENTITY_FILE));
            match args.audit.open(&dir, log.clone()) {
                Ok((a, w)) => (Some(a), Some(w)),
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            }
        }
    };
    let config = Config {
        listen: args.listen,
        route,
        policy_path: Some(policy_path),
        home,
        max_body: args.max_body_mib.saturating_mul(1 << 20),
        block_mode: args.block_mode,
        audit,
        limits: args.serve.limits(),
        remote,
        protect,
        control: args.control.clone(),
        ext_proc: args.ext_proc,
        team: crust_runtime::proxy::TeamOptions {
            user_header: args.user_header.clone(),
        },
        otlp: args.otlp.clone(),
    };
    match crust_runtime::proxy::run_then_seal(config, bundle, writer) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
