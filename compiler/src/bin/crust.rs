//! `crust`: check, explain and test tool calls against a policy.

use clap::Parser;
use crust_compiler::cli::{crust, CrustArgs, Exit};
use std::process::ExitCode;

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
