//! `crustc PATH... -o FILE [--stats]`: compile rule files into a policy bundle.

use clap::Parser;
use crust_cli::{crustc, CrustcArgs, Exit};
use std::process::ExitCode;

/// A faster allocator for the many small, short-lived allocations of a decision and of
/// the proxy's bodies (docs/PERFORMANCE.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match CrustcArgs::try_parse() {
        Ok(args) => crustc(args).into(),
        Err(e) => {
            let _ = e.print();
            if e.use_stderr() {
                Exit::Usage.into()
            } else {
                Exit::Ok.into()
            }
        }
    }
}
