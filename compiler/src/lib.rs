//! Crust's policy compiler: rule files → spanned IR → automata partitioned by shape → one
//! versioned, checksummed bundle that the runtime reads and validates.
//!
//! Guided tour: [`frontend`] parses YAML and `.crust` rule files into the [`ir`]; [`checks`] runs
//! whole-policy checks; [`lower`] turns patterns into regexes, partitions them by shape and
//! builds DFAs under size limits; [`bundle_write`] lays the bundle out; [`testing`] runs
//! policy-test tables against a bundle. The command lines are in the `crust-cli` crate.
#![deny(unsafe_code)]

pub mod bundle_write;
pub mod checks;
pub mod diag;
pub mod frontend;
pub mod ir;
pub mod lower;
pub mod ruledoc;
pub mod sign;
pub mod source;
pub mod stats;
pub mod testing;

use diag::{Diagnostic, Diagnostics};
use source::SourceMap;
use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/builtin.rs"));

/// A successful compilation.
pub struct Compiled {
    pub bytes: Vec<u8>,
    pub stats: stats::Stats,
    /// Warnings (no errors).
    pub diagnostics: Diagnostics,
    pub sources: SourceMap,
}

/// A failed compilation: the diagnostics and the sources they point into.
#[derive(Debug)]
pub struct CompileError {
    pub diagnostics: Diagnostics,
    pub sources: SourceMap,
}

impl CompileError {
    pub fn render(&self) -> String {
        self.diagnostics.render(&self.sources)
    }
}

/// Rule files under `paths` (files as given; directories searched recursively for `*.yaml`,
/// `*.yml`, `*.crust`), sorted within each directory. `Err` is a usage error.
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        let meta =
            std::fs::metadata(p).map_err(|e| format!("cannot read `{}`: {e}", p.display()))?;
        if meta.is_dir() {
            walk(p, &mut out)
                .map_err(|e| format!("cannot read directory `{}`: {e}", p.display()))?;
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for e in entries {
        if e.is_dir() {
            walk(&e, out)?;
        } else if matches!(
            e.extension().and_then(|x| x.to_str()),
            Some("yaml" | "yml" | "crust")
        ) {
            out.push(e);
        }
    }
    Ok(())
}

/// Reads and compiles rule files and directories. `Err(Ok(..))` is a policy error (exit 1),
/// `Err(Err(..))` a usage error (exit 2).
pub fn compile_paths(paths: &[PathBuf]) -> Result<Compiled, Result<CompileError, String>> {
    let files = collect_files(paths).map_err(Err)?;
    let mut sources = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f)
            .map_err(|e| Err(format!("cannot read `{}`: {e}", f.display())))?;
        sources.push((f.display().to_string(), text));
    }
    compile_sources(sources).map_err(Ok)
}

/// The built-in policy's sources.
pub fn builtin_sources() -> Vec<(String, String)> {
    BUILTIN
        .iter()
        .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
        .collect()
}

/// Compiles in-memory sources: (path as shown in diagnostics, text).
pub fn compile_sources(files: Vec<(String, String)>) -> Result<Compiled, CompileError> {
    let started = std::time::Instant::now();
    let mut sources = SourceMap::default();
    let mut diags = Diagnostics::default();
    let mut policy = ir::Policy::default();
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    for (path, text) in files {
        hasher.update(text.as_bytes());
        hasher.update(&[0]);
        let id = sources.add(path, text);
        let Some(file) = sources.file(id) else {
            continue;
        };
        frontend::load(&file.path, id, &file.text, &mut policy, &mut diags);
    }
    checks::check(&policy, &sources, &mut diags);
    lower::validate_patterns(&policy, &mut diags);
    let fail = |mut diagnostics: Diagnostics, sources: SourceMap| {
        diagnostics.sort();
        CompileError {
            diagnostics,
            sources,
        }
    };
    if diags.has_errors() {
        return Err(fail(diags, sources));
    }
    let origin = |span: source::Span| {
        let loc = sources.location(span);
        // file:line only: columns add nothing to "where is this rule".
        loc.rsplit_once(':')
            .map(|(a, _)| a.to_owned())
            .unwrap_or(loc)
    };
    let lowered = lower::lower(&policy, hasher.digest(), &origin, &mut diags);
    let Some(lowered) = lowered.filter(|_| !diags.has_errors()) else {
        return Err(fail(diags, sources));
    };
    let bytes = match bundle_write::write(&lowered.meta, &lowered.automata) {
        Ok(b) => b,
        Err(e) => {
            diags.push(Diagnostic::error(None, e));
            return Err(fail(diags, sources));
        }
    };
    let stats = stats::Stats::new(&lowered, bytes.len(), started.elapsed());
    diags.sort();
    Ok(Compiled {
        bytes,
        stats,
        diagnostics: diags,
        sources,
    })
}
