//! `crust fmt`: rewrites `.crust` files in their canonical form, or with `--check` lists the
//! files that are not. A file that does not parse is reported and left untouched.

use super::Exit;
use crust_compiler::diag::Diagnostics;
use crust_compiler::source::SourceMap;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct FmtArgs {
    /// `.crust` files, or directories searched for them.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Change nothing; exit 1 if a file is not formatted.
    #[arg(long)]
    check: bool,
}

pub fn fmt(a: FmtArgs) -> Exit {
    let files = match crust_compiler::collect_files(&a.paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Usage;
        }
    };
    let files: Vec<PathBuf> = files
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "crust"))
        .collect();
    if files.is_empty() {
        eprintln!("error: no `.crust` files under the given paths");
        return Exit::Usage;
    }
    let mut exit = Exit::Ok;
    for f in files {
        let text = match std::fs::read_to_string(&f) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: cannot read `{}`: {e}", f.display());
                return Exit::Usage;
            }
        };
        let Some(out) = crust_compiler::frontend::dsl::fmt::format(&text) else {
            let mut sources = SourceMap::default();
            let id = sources.add(f.display().to_string(), text.clone());
            let mut diags = Diagnostics::default();
            crust_compiler::frontend::dsl::parse(id, &text, &mut diags);
            diags.sort();
            eprint!("{}", diags.render(&sources));
            eprintln!("error: `{}` does not parse; left unchanged", f.display());
            exit = Exit::Policy;
            continue;
        };
        if out == text {
            continue;
        }
        if a.check {
            println!("would reformat {}", f.display());
            exit = Exit::Policy;
            continue;
        }
        // Written beside the file and renamed over it: a crash never leaves half a file.
        let tmp = f.with_extension("crust.fmt-tmp");
        if let Err(e) = std::fs::write(&tmp, &out).and_then(|()| std::fs::rename(&tmp, &f)) {
            eprintln!("error: cannot write `{}`: {e}", f.display());
            let _ = std::fs::remove_file(&tmp);
            return Exit::Usage;
        }
        println!("formatted {}", f.display());
    }
    exit
}
