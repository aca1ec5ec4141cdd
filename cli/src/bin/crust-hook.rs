//! `crust-hook AGENT`: the agents' pre-tool-use hook, as small as a process can be. With
//! `crust start` running and serving the bundle it keeps, or a `crust hook-server` keeping it
//! loaded, the call goes over that control socket: no bundle load, no argument parser, no
//! allocator to set up, so a tool call costs little more than starting a process. Otherwise (no proxy, another bundle, other arguments,
//! any fault) it runs `crust hook` beside it with the same input and answers what that answers.

use crust_cli::hook::{answer, kept_bundle, read_input, refusal};
use crust_runtime::hook::Agent;
use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn main() {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let agent = match args.as_slice() {
        [a] => a.to_str().and_then(Agent::from_name),
        _ => None,
    };
    let Some(agent) = agent else {
        // Options (`--policy`, `--rules`) or an unknown agent: `crust hook` reads them.
        let code = crust_hook(&args, None).unwrap_or_else(|| {
            let _ = writeln!(
                std::io::stderr(),
                "crust-hook could not run `crust hook`: the call is refused"
            );
            2
        });
        std::process::exit(code);
    };
    let input = match read_input(agent) {
        Ok(i) => i,
        Err(r) => answer(&r),
    };
    let home = std::env::var("HOME").unwrap_or_else(|_| "/".into());
    let kept = kept_bundle(&home);
    #[cfg(unix)]
    if kept.is_file() {
        if let Some(r) = crust_cli::hook::via_proxy(&home, &kept, agent, &input) {
            answer(&r);
        }
        if let Some(r) = crust_cli::hook::via_server(&home, &kept, agent, &input) {
            answer(&r);
        }
    }
    match crust_hook(&args, Some(&input)) {
        Some(code) => std::process::exit(code),
        None => answer(&refusal(
            agent,
            "crust-hook could not run `crust hook` (it looks for `crust` beside itself)",
        )),
    }
}

/// Runs `crust hook ARGS` (the `crust` beside this executable, else the one on `PATH`) with
/// `input` on its standard input, or this process's own when `None`. Its exit code; `None` when
/// it could not run or was killed (the caller refuses: a hook that dies is not an answer).
fn crust_hook(args: &[OsString], input: Option<&[u8]>) -> Option<i32> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("crust")))
        .filter(|c| c.is_file());
    let crust = beside.unwrap_or_else(|| PathBuf::from("crust"));
    let mut cmd = Command::new(crust);
    cmd.arg("hook").args(args);
    if input.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd.spawn().ok()?;
    if let (Some(data), Some(mut stdin)) = (input, child.stdin.take()) {
        // The child reads all of its input before it answers, so this cannot deadlock.
        let _ = stdin.write_all(data);
    }
    child.wait().ok()?.code()
}
