//! `crust fmt`: every `.crust` file in the repository is in canonical form, formatting is
//! idempotent, and the command rewrites, checks, and refuses files that do not parse.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use crust_compiler::frontend::dsl::fmt::format;
use std::path::{Path, PathBuf};
use std::process::Command;

fn crust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if p.is_dir() {
            if !matches!(name, "target" | ".git" | ".venv" | "node_modules") {
                crust_files(&p, out);
            }
        } else if name.ends_with(".crust") {
            out.push(p);
        }
    }
}

#[test]
fn every_crust_file_in_the_repo_is_formatted_and_formatting_is_idempotent() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    crust_files(&root, &mut files);
    assert!(files.len() >= 5, "found {files:?}");
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let once = format(&text).unwrap_or_else(|| panic!("{} does not parse", f.display()));
        assert_eq!(once, text, "{} is not in `crust fmt` form", f.display());
        assert_eq!(format(&once).as_deref(), Some(once.as_str()));
    }
}

#[test]
fn formatting_keeps_every_comment_and_the_meaning() {
    let messy = "# head\n\n\nset a=[\"x\", # the x\n\"y\"]\nblock r{# after brace\n# before when\nwhen path in a and (host is \"h\" # inside\n or tool matches \"t\")\nmessage \"one \"\n\"two\" locked}\n# tail\n";
    let once = format(messy).unwrap();
    assert_eq!(format(&once).unwrap(), once, "idempotent:\n{once}");
    for c in [
        "# head",
        "# the x",
        "# after brace",
        "# before when",
        "# inside",
        "# tail",
    ] {
        assert!(once.contains(c), "lost `{c}`:\n{once}");
    }
    // The same bundle either way (bar the source hash): the meaning did not change.
    let compile = |t: &str| {
        let c = crust_compiler::compile_sources(vec![("p.crust".into(), t.into())]).unwrap();
        let b = crust_runtime::Engine::from_bytes(&c.bytes).unwrap();
        let m = b.meta().clone();
        (
            m.rules
                .iter()
                .map(|r| (r.name.clone(), r.message.clone(), r.cond.clone()))
                .collect::<Vec<_>>(),
            m.preds,
            m.fields,
        )
    };
    assert_eq!(compile(messy), compile(&once));
}

#[test]
fn the_command_rewrites_checks_and_refuses() {
    let dir = std::env::temp_dir().join(format!("crust-fmt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("a.crust");
    let bad = dir.join("b.crust");
    std::fs::write(&good, "block r{when path in [\"x\"]}").unwrap();
    std::fs::write(&bad, "block r { when }").unwrap();
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_crust"))
            .arg("fmt")
            .args(args)
            .output()
            .unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
        )
    };
    let g = good.to_str().unwrap();
    let (code, out) = run(&["--check", g]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("would reformat"), "{out}");
    let (code, out) = run(&[g]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        std::fs::read_to_string(&good).unwrap(),
        "block r {\n    when path in [\"x\"]\n}\n"
    );
    let (code, _) = run(&["--check", g]);
    assert_eq!(code, 0);
    let (code, out) = run(&[bad.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("b.crust:1:16: error: unexpected `}`"), "{out}");
    assert_eq!(std::fs::read_to_string(&bad).unwrap(), "block r { when }");
}
