//! `crust hook AGENT`: judges one tool call an agent's pre-tool-use hook hands over on standard
//! input and answers in that agent's hook format (see `crust_runtime::hook`).
//!
//! The policy is a compiled bundle, validated as far as the call needs it (an automaton is
//! checked on first use), so that a hook costs a few milliseconds per tool call. Whatever goes
//! wrong (unreadable input, a bundle that cannot be loaded, a panic) is answered with a
//! refusal: the agents take a hook that fails any other way as "go on".

use super::Exit;
use crust_runtime::bundle::Validation;
use crust_runtime::hook::{self, Agent};
use crust_runtime::own::OwnFiles;
use crust_runtime::{Engine, Verdict};
use std::io::{Read, Write};
use std::path::PathBuf;

/// Largest hook input read (Cursor's `beforeReadFile` carries the whole file).
pub const MAX_INPUT: u64 = 64 << 20;

#[derive(clap::Args, Debug, Clone)]
pub struct HookArgs {
    /// The agent whose hook format to read and answer: claude-code, cursor or gemini.
    #[arg(value_parser = parse_agent)]
    pub agent: Agent,
    /// A compiled bundle (default: the one `crust start` keeps in
    /// ~/.local/share/crust/policy.bin, else the built-in policy).
    #[arg(long, conflicts_with = "rules")]
    pub policy: Option<PathBuf>,
    /// Rule files or directories to compile on every call (slow: for trying rules out).
    #[arg(long, num_args = 1..)]
    pub rules: Vec<PathBuf>,
}

fn parse_agent(s: &str) -> Result<Agent, String> {
    Agent::from_name(s).ok_or_else(|| format!("unknown agent `{s}` (claude-code, cursor, gemini)"))
}

pub fn hook(args: HookArgs) -> Exit {
    let agent = args.agent;
    let reply = match read_input(agent) {
        Err(r) => r,
        Ok(input) => std::panic::catch_unwind(|| judge(&args, &input)).unwrap_or_else(|_| {
            refusal(
                agent,
                "Crust failed while judging this call (an internal error)",
            )
        }),
    };
    answer(&reply)
}

/// The hook input on standard input, or the refusal to answer when it cannot be read.
pub fn read_input(agent: Agent) -> Result<Vec<u8>, hook::Reply> {
    let mut input = Vec::new();
    match std::io::stdin()
        .lock()
        .take(MAX_INPUT + 1)
        .read_to_end(&mut input)
    {
        Err(e) => Err(refusal(agent, &format!("cannot read the hook input: {e}"))),
        Ok(n) if n as u64 > MAX_INPUT => Err(refusal(
            agent,
            &format!("the hook input is larger than {} MiB", MAX_INPUT >> 20),
        )),
        Ok(_) => Ok(input),
    }
}

/// Writes the answer and exits with its code. Written without `println!`/`eprintln!`, which
/// panic when the pipe is gone: nothing after the judgement may turn the exit code into one
/// the agent takes as "go on".
pub fn answer(reply: &hook::Reply) -> ! {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(reply.stdout.as_bytes());
    let _ = out.flush();
    if !reply.stderr.is_empty() {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{}", reply.stderr);
    }
    std::process::exit(i32::from(reply.exit))
}

/// The bundle `crust start` keeps, which the hook judges with when none is given.
pub fn kept_bundle(home: &str) -> PathBuf {
    PathBuf::from(home).join(".local/share/crust/policy.bin")
}

fn judge(args: &HookArgs, input: &[u8]) -> hook::Reply {
    let home = std::env::var("HOME").unwrap_or_else(|_| "/".into());
    let kept = kept_bundle(&home);
    let bundle_path = match &args.policy {
        Some(p) => Some(p.clone()),
        None if args.rules.is_empty() && kept.is_file() => Some(kept),
        None => None,
    };
    // A running `crust start` with this very bundle judges it: a connection instead of a
    // bundle load. Anything else (no proxy, another bundle, a fault) ends in judging here.
    // Else a hook server keeping this bundle loaded; with none, one is started for the next
    // calls while this one is judged here.
    #[cfg(unix)]
    if let Some(path) = bundle_path.as_deref().filter(|_| args.rules.is_empty()) {
        if let Some(r) = via_proxy(&home, path, args.agent, input) {
            return r;
        }
        if let Some(r) = via_server(&home, path, args.agent, input) {
            return r;
        }
        if super::hook_server::enabled() {
            if let Ok(real) = std::fs::canonicalize(path) {
                super::hook_server::spawn(&real);
            }
        }
    }
    // The bundle the hook judges with is its own: no call may change or remove it.
    let own = OwnFiles::new(bundle_path.clone());
    match agent_policy(
        &args.rules,
        bundle_path.as_deref(),
        &home,
        Validation::OnUse,
    ) {
        Ok(bundle) => hook::run(Ok(&bundle), &own, args.agent, input, &home),
        Err(why) => hook::run(Err(&why), &own, args.agent, input, &home),
    }
}

/// The policy a command run by an agent uses: the bundle given or kept by `crust start`, else
/// `rules` compiled, else the built-in policy and the user's rules.
pub(super) fn agent_policy(
    rules: &[PathBuf],
    bundle: Option<&std::path::Path>,
    home: &str,
    validation: Validation,
) -> Result<Engine, String> {
    if let Some(p) = bundle {
        return Engine::load_with(p, validation).map_err(|e| e.to_string());
    }
    let compiled = if rules.is_empty() {
        // No bundle kept yet: the built-in policy and the user's rules, as `crust start`
        // compiles them.
        let user = PathBuf::from(home).join(".config/crust/rules");
        let mut sources = crust_compiler::builtin_sources();
        if user.is_dir() {
            let files = crust_compiler::collect_files(&[user]).map_err(|e| e.to_string())?;
            for f in files {
                let text = std::fs::read_to_string(&f)
                    .map_err(|e| format!("cannot read `{}`: {e}", f.display()))?;
                sources.push((f.display().to_string(), text));
            }
        }
        crust_compiler::compile_sources(sources).map_err(Ok)
    } else {
        crust_compiler::compile_paths(rules)
    };
    match compiled {
        Ok(c) => Engine::from_bytes(&c.bytes).map_err(|e| e.to_string()),
        Err(Ok(e)) => Err(format!(
            "the rules have {} error(s); run `crustc` on them to see where",
            e.diagnostics.error_count()
        )),
        Err(Err(u)) => Err(u),
    }
}

/// Asks the proxy's control socket to judge the call, if it serves the bundle at `bundle`.
#[cfg(unix)]
pub fn via_proxy(
    home: &str,
    bundle: &std::path::Path,
    agent: Agent,
    input: &[u8],
) -> Option<hook::Reply> {
    let socket =
        super::start::data_dir(std::path::Path::new(home)).join(super::start::CONTROL_SOCKET);
    via_socket(&socket, None, home, bundle, agent, input)
}

/// Asks the hook server that keeps `bundle` loaded (`crust hook-server`), if one runs.
#[cfg(unix)]
pub fn via_server(
    home: &str,
    bundle: &std::path::Path,
    agent: Agent,
    input: &[u8],
) -> Option<hook::Reply> {
    let real = std::fs::canonicalize(bundle).ok()?;
    let socket = super::hook_server::socket_for(std::path::Path::new(home), &real);
    // The server is the `crust` program hooks start: a process of another program that took
    // its socket is not asked.
    let crust = std::env::current_exe()
        .ok()
        .map(|e| {
            if e.file_name().is_some_and(|n| n == "crust") {
                e
            } else {
                e.with_file_name("crust")
            }
        })
        .and_then(|e| std::fs::canonicalize(e).ok());
    crust.as_ref()?;
    via_socket(&socket, crust, home, bundle, agent, input)
}

/// Asks the control socket at `socket` to judge the call with the bundle at `bundle`; only a
/// judged answer counts.
#[cfg(unix)]
fn via_socket(
    socket: &std::path::Path,
    peer: Option<PathBuf>,
    home: &str,
    bundle: &std::path::Path,
    agent: Agent,
    input: &[u8],
) -> Option<hook::Reply> {
    use crust_runtime::proxy::control::{HookAnswer, Request};
    if !socket.exists() {
        return None;
    }
    let mut header = [0u8; crust_runtime::bundle::format::HEADER_LEN];
    std::fs::File::open(bundle)
        .and_then(|mut f| f.read_exact(&mut header))
        .ok()?;
    let (_, h) = crust_runtime::bundle::format::Header::decode(&header)?;
    let req = Request::Hook {
        agent: agent.name().to_owned(),
        home: home.to_owned(),
        checksum: format!("{:016x}", h.checksum),
        bundle: std::fs::canonicalize(bundle).ok()?,
        input: std::str::from_utf8(input).ok()?.to_owned(),
    };
    let line =
        super::control::ask_peer(socket, &req, std::time::Duration::from_secs(2), peer).ok()?;
    match serde_json::from_str::<HookAnswer>(&line).ok()? {
        // Only the two answers a judgement gives: anything else is not trusted.
        HookAnswer::Judged {
            stdout,
            stderr,
            exit,
        } if exit == 0 || exit == 2 => Some(hook::Reply {
            stdout,
            stderr,
            exit,
        }),
        _ => None,
    }
}

pub fn refusal(agent: Agent, why: &str) -> hook::Reply {
    hook::reply(agent, "", &Verdict::malformed(why.to_owned()))
}
