//! `crust-runtime --policy policy.bin`: loads and validates a bundle, then judges tool calls
//! read as JSON lines from stdin (the `crust check` contract). The LLM proxy front-end builds
//! on this binary.

use clap::Parser;
use crust_runtime::check::{check_stream, CheckOptions};
use crust_runtime::Bundle;
use std::process::ExitCode;

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
