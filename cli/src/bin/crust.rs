//! `crust`: check, explain and test tool calls against a policy.

use clap::Parser;
use crust_cli::{crust, CrustArgs, Exit};
use std::process::ExitCode;

/// A faster allocator for the many small, short-lived allocations of a decision and of
/// the proxy's bodies (docs/PERFORMANCE.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match CrustArgs::try_parse() {
        Ok(args) => crust(args).into(),
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
