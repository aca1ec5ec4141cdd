//! Generates the `.crust` parser from `grammar/crust.lalrpop`, and embeds the built-in policy's sources (`rules/builtin/`, `rules/commands/`, `rules/languages/`, `rules/later/`, `rules/registries/`, `rules/secrets/`, `rules/tools/`) so `crust` works without a checkout.

use std::fmt::Write;
use std::path::Path;

fn main() {
    // The `.crust` grammar: generated into OUT_DIR, never checked in.
    let grammar = Path::new(env!("CARGO_MANIFEST_DIR")).join("../grammar");
    println!(
        "cargo:rerun-if-changed={}",
        grammar.join("crust.lalrpop").display()
    );
    let out_dir = std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into());
    if let Err(e) = lalrpop::Configuration::new()
        .set_in_dir(&grammar)
        .set_out_dir(&out_dir)
        .process()
    {
        println!("cargo:warning=lalrpop failed: {e}");
        std::process::exit(1);
    }
    // The tables first, then the rules, each directory in name order (the order `crustc
    // rules/` reads them in is the same: builtin, commands, tools — tables do not depend on it).
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules");
    let mut files = Vec::new();
    for sub in [
        "builtin",
        "commands",
        "languages",
        "later",
        "registries",
        "secrets",
        "tools",
    ] {
        let dir = root.join(sub);
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut here: Vec<_> = std::fs::read_dir(&dir)
            .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        here.retain(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "crust")
            )
        });
        here.sort();
        files.extend(here);
    }
    let mut out = String::from("/// The built-in policy: (path, source), in compile order.\npub static BUILTIN: &[(&str, &str)] = &[\n");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let name = f
            .strip_prefix(&root)
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "    ({:?}, include_str!({:?})),",
            format!("rules/{name}"),
            f.display().to_string()
        );
    }
    out.push_str("];\n");
    let dest =
        Path::new(&std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into())).join("builtin.rs");
    if let Err(e) = std::fs::write(&dest, out) {
        println!("cargo:warning=cannot write {}: {e}", dest.display());
    }
}
