//! `crustc PATH... -o FILE [--stats]`: compile rule files into a policy bundle.

use clap::Parser;
use crust_compiler::cli::{crustc, CrustcArgs, Exit};
use std::process::ExitCode;

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
