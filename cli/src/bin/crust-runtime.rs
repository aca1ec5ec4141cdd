//! `crust-runtime --policy policy.bin`: the LLM proxy (listening on 127.0.0.1:9090 by
//! default, routing each request to Anthropic or OpenAI by its path and headers unless
//! `--endpoint` names one upstream), which blocks dangerous tool calls and hot-swaps the
//! bundle when the file changes. With `--stdin`, it judges tool calls read as JSON lines from
//! standard input instead (the `crust check` contract).
// Doc comments on the arguments are `--help` text, where URLs are plain.
#![allow(rustdoc::bare_urls)]

use clap::Parser;
use crust_runtime::check::{check_stream, CheckOptions};
use crust_runtime::proxy::{Config, Route};
use crust_runtime::Engine;
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
    #[arg(
        long,
        required_unless_present = "policy_url",
        conflicts_with = "policy_url"
    )]
    policy: Option<std::path::PathBuf>,
    /// Pull signed bundles from a registry instead: `oci://HOST/REPOSITORY[:TAG]` (pushed with
    /// `oras push`) or `https://HOST/PATH/policy.bin` (signature at the same URL + `.minisig`).
    /// Needs --trust (docs/TEAM.md).
    #[arg(long, requires = "trust")]
    policy_url: Option<String>,
    /// The minisign public key pulled bundles must be signed with (a .pub file or its base64
    /// line; `crust keygen` makes the pair).
    #[arg(long)]
    trust: Option<String>,
    /// Where the last good pulled bundle is kept, to start from when the registry is down
    /// (default: ~/.cache/crust/bundle).
    #[arg(long)]
    policy_cache: Option<std::path::PathBuf>,
    /// Seconds between polls of --policy-url (each spread by ±20%).
    #[arg(long, default_value_t = 60)]
    poll_secs: u64,
    /// Take only pulled bundles signed for this channel (`crustc --sign KEY --channel NAME`).
    #[arg(long, requires = "policy_url")]
    channel: Option<String>,
    /// Refuse pulled bundles with a lower serial, even on a replica with no saved copy.
    #[arg(long, default_value_t = 0, requires = "policy_url")]
    min_serial: u64,
    /// Home directory that `~` and `$HOME` patterns refer to (default: $HOME).
    #[arg(long)]
    home: Option<String>,
    /// Working directory relative paths resolve against (default: the process's).
    #[arg(long)]
    cwd: Option<String>,
    /// Judge tool calls read as JSON lines from standard input (one verdict per line) instead
    /// of serving the proxy.
    #[arg(long, conflicts_with_all = ["endpoint", "ext_proc"])]
    stdin: bool,
    /// With --stdin: write one JSON verdict per line.
    #[arg(long, requires = "stdin")]
    json: bool,
    /// Validate the bundle, print a summary and exit.
    #[arg(long)]
    verify: bool,
    /// Address the proxy listens on.
    #[arg(long, default_value = "127.0.0.1:9090")]
    listen: std::net::SocketAddr,
    /// The upstream API base URL the proxy forwards to (scheme, host, optional path prefix:
    /// https://api.anthropic.com, https://api.openai.com/v1), or `auto` (the default) to route
    /// each request to Anthropic or OpenAI by its path and headers.
    #[arg(long)]
    endpoint: Option<String>,
    /// Team mode: also serve Envoy's external processing (ext_proc) gRPC service on this
    /// address (docs/TEAM.md).
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
    /// A Unix socket where `crust hook` and `crust status` reach this proxy (`crust start`
    /// serves ~/.local/share/crust/crust.sock).
    #[arg(long)]
    control: Option<std::path::PathBuf>,
    /// Record every decision in this age-encrypted audit log.
    #[arg(long)]
    audit_log: Option<std::path::PathBuf>,
    /// Directory of the audit identity, created on first start (default: ~/.config/crust).
    #[arg(long)]
    audit_key_dir: Option<std::path::PathBuf>,
    #[command(flatten)]
    audit: crust_cli::options::AuditArgs,
    #[command(flatten)]
    serve: crust_cli::options::ServeArgs,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let (bundle, pulling) = match load(&args) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    if args.verify {
        println!(
            "{}: {} rules, {} bytes, checksum {:016x}",
            args.policy.as_ref().map_or_else(
                || args.policy_url.clone().unwrap_or_default(),
                |p| p.display().to_string()
            ),
            bundle.meta().rules.len(),
            bundle.len(),
            bundle.checksum()
        );
        return ExitCode::SUCCESS;
    }
    if !args.stdin {
        return run_proxy(args, bundle, pulling);
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

/// The bundle to start with: the file, or the pulled (or saved) signed bundle.
fn load(args: &Args) -> Result<(Engine, Option<crust_runtime::proxy::pull::Pulling>), String> {
    use crust_runtime::proxy::pull;
    let Some(url) = &args.policy_url else {
        let path = args
            .policy
            .as_ref()
            .ok_or("--policy or --policy-url is needed")?;
        return Engine::load(path)
            .map(|b| (b, None))
            .map_err(|e| e.to_string());
    };
    let trust = crust_runtime::bundle::signed::Trust::parse(args.trust.as_deref().unwrap_or(""))?;
    let cache = args.policy_cache.clone().unwrap_or_else(|| {
        let home = std::env::var("HOME").unwrap_or_else(|_| "/".into());
        std::path::Path::new(&home).join(".cache/crust/bundle")
    });
    let cfg = pull::PullConfig {
        source: pull::Source::parse(url)?,
        trust,
        cache,
        every: std::time::Duration::from_secs(args.poll_secs.clamp(1, 86_400)),
        channel: args.channel.clone(),
        min_serial: args.min_serial,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let a = rt.block_on(pull::start(&cfg))?;
    let pulling = pull::Pulling {
        cfg,
        serial: a.serial,
        tag: a.tag.clone(),
        fallback: a.fallback.clone(),
    };
    Ok((a.bundle, Some(pulling)))
}

fn run_proxy(
    args: Args,
    bundle: Engine,
    pull: Option<crust_runtime::proxy::pull::Pulling>,
) -> ExitCode {
    let route = match Route::parse(args.endpoint.as_deref(), args.api_key) {
        Ok(r) => r,
        Err(why) => {
            eprintln!("error: {why}");
            return ExitCode::from(2);
        }
    };
    let remote = match args.serve.options().remote() {
        Ok(r) => r,
        Err(why) => {
            eprintln!("error: {why}");
            return ExitCode::from(2);
        }
    };
    // The path as given (made absolute, symlinks kept): a symlink-flip deploy changes what it
    // names, and reloads must follow it. Pulled bundles are swapped by the puller alone.
    let policy_path = args
        .policy
        .clone()
        .map(|p| std::path::absolute(&p).unwrap_or(p));
    let mut protect = Vec::new();
    if let Some(p) = &pull {
        protect.push(p.cfg.cache.clone());
    }
    let home = args
        .home
        .or_else(|| std::env::var("HOME").ok())
        .unwrap_or_else(|| "/".into());
    let (audit, writer) = match &args.audit_log {
        None => (None, None),
        Some(log) => {
            let dir = args
                .audit_key_dir
                .clone()
                .unwrap_or_else(|| std::path::Path::new(&home).join(".config/crust"));
            protect.push(log.clone());
            protect.push(dir.join(crust_runtime::audit::IDENTITY_FILE));
            match args.audit.options().open(&dir, log.clone()) {
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
        policy_path,
        home,
        max_body: args.max_body_mib.saturating_mul(1 << 20),
        block_mode: args.block_mode,
        audit,
        limits: args.serve.options().limits(),
        remote,
        protect,
        control: args.control.clone(),
        ext_proc: args.ext_proc,
        team: crust_runtime::proxy::TeamOptions {
            user_header: args.user_header.clone(),
        },
        otlp: args.otlp.clone(),
        pull,
    };
    match crust_runtime::proxy::run_then_seal(config, bundle, writer) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
