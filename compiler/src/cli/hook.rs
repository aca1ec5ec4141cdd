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
use crust_runtime::{Bundle, Verdict};
use std::io::{Read, Write};
use std::path::PathBuf;

/// Largest hook input read (Cursor's `beforeReadFile` carries the whole file).
const MAX_INPUT: u64 = 64 << 20;

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
    let mut input = Vec::new();
    let read = std::io::stdin()
        .lock()
        .take(MAX_INPUT + 1)
        .read_to_end(&mut input);
    let agent = args.agent;
    let reply = match read {
        Err(e) => refusal(agent, &format!("cannot read the hook input: {e}")),
        Ok(n) if n as u64 > MAX_INPUT => refusal(
            agent,
            &format!("the hook input is larger than {} MiB", MAX_INPUT >> 20),
        ),
        Ok(_) => std::panic::catch_unwind(|| judge(&args, &input)).unwrap_or_else(|_| {
            refusal(
                agent,
                "Crust failed while judging this call (an internal error)",
            )
        }),
    };
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(reply.stdout.as_bytes());
    let _ = out.flush();
    if !reply.stderr.is_empty() {
        eprintln!("{}", reply.stderr);
    }
    std::process::exit(i32::from(reply.exit))
}

fn judge(args: &HookArgs, input: &[u8]) -> hook::Reply {
    let home = std::env::var("HOME").unwrap_or_else(|_| "/".into());
    match load(args, &home) {
        Ok(bundle) => hook::run(Ok(&bundle), args.agent, input, &home),
        Err(why) => hook::run(Err(&why), args.agent, input, &home),
    }
}

fn load(args: &HookArgs, home: &str) -> Result<Bundle, String> {
    if let Some(p) = &args.policy {
        return Bundle::load_with(p, Validation::OnUse).map_err(|e| e.to_string());
    }
    if args.rules.is_empty() {
        let kept = PathBuf::from(home).join(".local/share/crust/policy.bin");
        if kept.is_file() {
            return Bundle::load_with(&kept, Validation::OnUse).map_err(|e| e.to_string());
        }
    }
    let compiled = if args.rules.is_empty() {
        crate::compile_sources(crate::builtin_sources()).map_err(Ok)
    } else {
        crate::compile_paths(&args.rules)
    };
    match compiled {
        Ok(c) => Bundle::from_bytes(&c.bytes).map_err(|e| e.to_string()),
        Err(Ok(e)) => Err(format!(
            "the rules have {} error(s); run `crustc` on them to see where",
            e.diagnostics.error_count()
        )),
        Err(Err(u)) => Err(u),
    }
}

fn refusal(agent: Agent, why: &str) -> hook::Reply {
    hook::reply(agent, "", &Verdict::malformed(why.to_owned()))
}
