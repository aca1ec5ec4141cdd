//! `crust start`: the one-command local setup. Compiles the built-in policy plus the user's
//! rules in-process, writes the bundle (write, then rename) where the proxy watches it, runs the
//! proxy, and recompiles whenever a rule file changes; a rule file with errors is reported and
//! the running policy stays as it was.

use super::{print_diags, ErrorFormat, Exit};
use crust_runtime::proxy::{Config, Route};
use crust_runtime::Engine;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(clap::Args, Debug, Clone)]
pub struct StartArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9090")]
    pub listen: std::net::SocketAddr,
    /// Upstream API base URL; without it, each request goes to Anthropic or OpenAI by its
    /// path and headers (`auto`).
    #[arg(long)]
    pub endpoint: Option<String>,
    /// API key sent upstream when the client sends none (default: $CRUST_UPSTREAM_API_KEY).
    #[arg(long)]
    pub api_key: Option<String>,
    /// Directory of your own rules (default: ~/.config/crust/rules, if it exists).
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// Where the compiled bundle is kept (default: ~/.local/share/crust/policy.bin).
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    /// What a blocked call becomes: `remove` (a notice in its place) or `replace` (a call of
    /// an offered shell tool that echoes the notice). `replace` applies to Anthropic Messages
    /// and Chat Completions; calls in the Responses API (Codex) are removed with a notice.
    #[arg(long, default_value = "remove")]
    pub block_mode: crust_runtime::proxy::BlockMode,
    /// Largest request or non-streaming response body, in MiB.
    #[arg(long, default_value_t = 32)]
    pub max_body_mib: usize,
    /// Do not keep the encrypted audit log (~/.local/share/crust/audit.log).
    #[arg(long)]
    pub no_audit: bool,
    /// Do not serve the control socket (~/.local/share/crust/crust.sock) through which
    /// `crust hook` and `crust status` reach the proxy.
    #[arg(long)]
    pub no_control: bool,
    #[command(flatten)]
    pub audit: crate::options::AuditArgs,
    #[command(flatten)]
    pub serve: crate::options::ServeArgs,
}

/// The control socket's name in [`data_dir`].
pub(super) const CONTROL_SOCKET: &str = "crust.sock";

/// Where Crust keeps its bundle, audit log, control socket and setup backups.
pub(super) fn data_dir(home: &Path) -> PathBuf {
    home.join(".local/share/crust")
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("/"), PathBuf::from)
}

/// The built-in sources plus every rule file under `dir`.
fn compile(dir: Option<&Path>) -> Result<Vec<u8>, Exit> {
    let mut sources = crust_compiler::builtin_sources();
    if let Some(d) = dir {
        let files = crust_compiler::collect_files(&[d.to_path_buf()]).map_err(|e| {
            eprintln!("error: {e}");
            Exit::Usage
        })?;
        for f in files {
            match std::fs::read_to_string(&f) {
                Ok(t) => sources.push((f.display().to_string(), t)),
                Err(e) => {
                    eprintln!("error: cannot read `{}`: {e}", f.display());
                    return Err(Exit::Usage);
                }
            }
        }
    }
    match crust_compiler::compile_sources(sources) {
        Ok(c) => {
            print_diags(&c.diagnostics, &c.sources, ErrorFormat::Human);
            Ok(c.bytes)
        }
        Err(e) => {
            print_diags(&e.diagnostics, &e.sources, ErrorFormat::Human);
            Err(Exit::Policy)
        }
    }
}

pub fn start(args: StartArgs) -> Exit {
    let home = home();
    let rules = args.rules.clone().or_else(|| {
        let d = home.join(".config/crust/rules");
        d.is_dir().then_some(d)
    });
    let bundle_path = args
        .bundle
        .clone()
        .unwrap_or_else(|| home.join(".local/share/crust/policy.bin"));
    if let Some(dir) = bundle_path.parent() {
        if let Err(e) = create_private_dir(dir) {
            eprintln!("error: cannot create `{}`: {e}", dir.display());
            return Exit::Usage;
        }
    }
    let bytes = match compile(rules.as_deref()) {
        Ok(b) => b,
        Err(code) => return code,
    };
    if let Err(e) = crust_compiler::bundle_write::write_atomic(&bundle_path, &bytes) {
        eprintln!("error: cannot write `{}`: {e}", bundle_path.display());
        return Exit::Usage;
    }
    let bundle = match Engine::from_bytes(&bytes) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: the compiled bundle was rejected: {e}");
            return Exit::Policy;
        }
    };
    let route = match Route::parse(args.endpoint.as_deref(), args.api_key.clone()) {
        Ok(r) => r,
        Err(why) => {
            eprintln!("error: {why}");
            return Exit::Usage;
        }
    };
    let remote = match args.serve.options().remote() {
        Ok(r) => r,
        Err(why) => {
            eprintln!("error: {why}");
            return Exit::Usage;
        }
    };
    // Keep the watcher alive for the life of the proxy.
    let _watcher = rules
        .as_ref()
        .and_then(|dir| watch_rules(dir.clone(), bundle_path.clone()));
    eprintln!(
        "crust: proxy on http://{} (rules: built-in{}); `crust setup` wires your agents to it \
         (by hand: ANTHROPIC_BASE_URL=http://{} for Claude Code and the Anthropic SDK, \
         OPENAI_BASE_URL=http://{}/v1 for the OpenAI SDK; Codex ignores OPENAI_BASE_URL and \
         needs a custom provider, `crust setup --agent codex --dry-run` shows it)",
        args.listen,
        rules
            .as_ref()
            .map(|d| format!(" + {}", d.display()))
            .unwrap_or_default(),
        args.listen,
        args.listen
    );
    if args.block_mode == crust_runtime::proxy::BlockMode::Replace {
        eprintln!(
            "crust: --block-mode replace applies to Anthropic Messages and Chat Completions; \
             blocked calls in the Responses API (Codex) are removed with a notice instead"
        );
    }
    let (audit, writer) = if args.no_audit {
        (None, None)
    } else {
        match args.audit.options().open(
            &home.join(".config/crust"),
            home.join(".local/share/crust")
                .join(crust_runtime::audit::LOG_FILE),
        ) {
            Ok((a, w)) => (Some(a), Some(w)),
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::Usage;
            }
        }
    };
    let config = Config {
        listen: args.listen,
        route,
        policy_path: Some(bundle_path),
        home: home.display().to_string(),
        max_body: args.max_body_mib.saturating_mul(1 << 20),
        block_mode: args.block_mode,
        audit,
        limits: args.serve.options().limits(),
        remote,
        // The defaults are also under the built-in rules; a `--rules` directory elsewhere is
        // protected only by this.
        protect: rules.iter().cloned().collect(),
        control: (!args.no_control).then(|| data_dir(&home).join(CONTROL_SOCKET)),
        ext_proc: None,
        team: Default::default(),
        otlp: None,
        pull: None,
    };
    match crust_runtime::proxy::run_then_seal(config, bundle, writer) {
        Ok(()) => Exit::Ok,
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Usage
        }
    }
}

pub(super) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Recompiles on every change under `dir` (debounced); the proxy picks up the renamed bundle.
fn watch_rules(dir: PathBuf, bundle: PathBuf) -> Option<notify::RecommendedWatcher> {
    use notify::{RecursiveMode, Watcher};
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let mut w = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
        if ev.is_ok_and(|e| !e.kind.is_access()) {
            let _ = tx.send(());
        }
    })
    .ok()?;
    if let Err(e) = w.watch(&dir, RecursiveMode::Recursive) {
        eprintln!(
            "crust: cannot watch `{}` ({e}); rule changes need a restart",
            dir.display()
        );
        return None;
    }
    std::thread::spawn(move || {
        while rx.recv().is_ok() {
            std::thread::sleep(Duration::from_millis(100));
            while rx.try_recv().is_ok() {}
            match compile(Some(&dir)) {
                Ok(bytes) => match crust_compiler::bundle_write::write_atomic(&bundle, &bytes) {
                    Ok(()) => eprintln!("crust: rules recompiled"),
                    Err(e) => eprintln!("crust: cannot write `{}`: {e}", bundle.display()),
                },
                Err(_) => eprintln!("crust: rules have errors; the running policy is unchanged"),
            }
        }
    });
    Some(w)
}
