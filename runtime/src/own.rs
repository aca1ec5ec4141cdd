//! The files this Crust process uses, wherever they are: the bundle it was started with (and
//! the file a symlink names), the rules directory `crust start` compiles, the audit log and its
//! key. The built-in rules protect Crust's default places; an operator may keep a bundle in a
//! project (`crust-runtime --policy ./policy.bin`), where no rule written in advance can know
//! it. An agent that rewrote that file would rewrite the rules that judge it, so every call is
//! checked against the real paths as well, after the bundle's rules allow it.

use crate::model::{Action, Operation};
use crate::normalize;
use std::path::{Path, PathBuf};

/// The rule name a call touching one of the process's own files is blocked under.
pub const OWN_FILES_RULE: &str = "crust:protect-own-files";

/// The rule name a call that stops this process by its port is blocked under.
pub const OWN_PROCESS_RULE: &str = "crust:protect-own-process";

/// Normalized absolute paths (files or directories) the process uses.
#[derive(Debug, Clone, Default)]
pub struct OwnFiles {
    paths: Vec<String>,
    /// The TCP ports the process listens on: a call that kills whatever holds one of them
    /// stops Crust, whatever the port (the built-in rules know the default one only).
    ports: Vec<u16>,
}

impl OwnFiles {
    /// The paths given, each as written (made absolute) and as the file system resolves it
    /// (symlinks followed), so either spelling is caught.
    pub fn new<I: IntoIterator<Item = PathBuf>>(given: I) -> OwnFiles {
        let mut paths = Vec::new();
        for p in given {
            let abs = std::path::absolute(&p).unwrap_or_else(|_| p.clone());
            let mut forms = vec![abs.clone()];
            if let Ok(real) = std::fs::canonicalize(&abs) {
                forms.push(real);
            }
            for f in forms {
                let s = normalize::normalize_dir(&f.to_string_lossy(), "/");
                let s = normalize::fold_text(&s).into_owned();
                if s != "/" && !paths.contains(&s) {
                    paths.push(s);
                }
            }
        }
        OwnFiles {
            paths,
            ports: Vec::new(),
        }
    }

    /// These files, and the TCP ports the process listens on.
    #[must_use]
    pub fn with_ports(mut self, ports: impl IntoIterator<Item = u16>) -> OwnFiles {
        self.ports.extend(ports.into_iter().filter(|p| *p != 0));
        self.ports.sort_unstable();
        self.ports.dedup();
        self
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty() && self.ports.is_empty()
    }

    /// The first own port a call's commands stop the holder of: a port killer (`fuser -k`,
    /// `kill-port`, `fkill`, `ss -K`) or a process lookup (`lsof`, `ss`, `netstat`, `fuser`,
    /// `pgrep -f`) whose result a `kill` takes, naming the port (`9123/tcp`, `:9123`, a word `9123`).
    /// Looking a port up without killing (`lsof -i :9123`) passes.
    pub fn port_stopped_by(&self, ops: &[Operation]) -> Option<u16> {
        if self.ports.is_empty() {
            return None;
        }
        let texts: Vec<&str> = ops
            .iter()
            .filter(|o| o.action == Action::Execute)
            .flat_map(|o| o.commands.iter().map(String::as_str))
            .collect();
        // Every killer below spells `kill`, `fuser` or `-K`: a call with none of them is
        // passed over without splitting its words (this runs on each allowed call).
        if !texts
            .iter()
            .any(|t| t.contains("kill") || t.contains("fuser") || t.contains("-K"))
        {
            return None;
        }
        let words: Vec<&str> = texts
            .iter()
            .flat_map(|t| t.split(|c: char| c.is_whitespace() || "|;&()`$\"'<>".contains(c)))
            .filter(|w| !w.is_empty())
            .collect();
        let has = |n: &[&str]| words.iter().any(|w| n.contains(&program_name(w)));
        let killer = has(&["kill-port", "killport", "fkill", "fkill-cli"])
            || (has(&["fuser"])
                && words
                    .iter()
                    .any(|w| w.starts_with('-') && !w.starts_with("--") && w.contains('k')))
            || (has(&["ss"]) && words.iter().any(|w| *w == "-K" || *w == "--kill"))
            || (has(&["lsof", "ss", "netstat", "fuser", "pgrep", "pidof"])
                && has(&["kill", "pkill", "killall"]));
        if !killer {
            return None;
        }
        self.ports.iter().copied().find(|port| {
            let p = port.to_string();
            words.iter().any(|w| {
                // `9123`, `:9123`, `tcp:9123`, `-i:9123`, `9123/tcp`, `sport=:9123`
                let tail = w.rsplit(':').next().unwrap_or(w);
                let head = tail.split('/').next().unwrap_or(tail);
                head == p || head.trim_start_matches('=') == p
            })
        })
    }

    pub fn paths(&self) -> &[String] {
        &self.paths
    }

    /// The first own path an operation touches: any action on the path or below it, and a
    /// delete or move of a directory that holds it.
    pub fn touched_by<'s>(&'s self, ops: &[Operation]) -> Option<&'s str> {
        for op in ops {
            let removes = matches!(op.action, Action::Delete | Action::Move);
            for own in &self.paths {
                let hit = op
                    .paths
                    .iter()
                    .any(|p| within(p, own) || (removes && within(own, p)))
                    || op.globs.iter().any(|g| {
                        glob_may_match(g, own)
                            || glob_may_match(g, &format!("{own}/x"))
                            || (removes && ancestors(own).any(|a| glob_may_match(g, a)))
                    });
                if hit {
                    return Some(own);
                }
            }
        }
        None
    }
}

/// The operations again with each path that goes through a symbolic link on this machine
/// also as the path it resolves to (and each glob whose literal directory does, with that
/// directory resolved), and each shell glob's expansion on disk as paths; `None` when no
/// path goes through a link and no glob expands. Paths that do not exist or
/// cannot be read stay as written (they are judged as written anyway).
pub fn through_links(ops: &[Operation]) -> Option<Vec<Operation>> {
    let resolve = |p: &str| -> Option<String> {
        if !p.starts_with('/') || p == "/" {
            return None;
        }
        let real = std::fs::canonicalize(p).ok()?;
        let real = normalize::normalize_dir(&real.to_string_lossy(), "/");
        (real != p).then_some(real)
    };
    // The operations are copied only once some path is found to go through a link: most
    // allowed calls name none, and this runs on each of them.
    let mut out: Option<Vec<Operation>> = None;
    let mut any = false;
    for (i, src) in ops.iter().enumerate() {
        let mut extra = Vec::new();
        for p in &src.paths {
            if let Some(r) = resolve(p) {
                extra.push(r);
            }
        }
        let mut extra_globs = Vec::new();
        for g in &src.globs {
            // The directory before the first wildcard or placeholder.
            let cut = g
                .find(|c: char| matches!(c, '*' | '?' | '[') || !c.is_ascii())
                .unwrap_or(g.len());
            let Some(slash) = g.get(..cut).and_then(|h| h.rfind('/')) else {
                continue;
            };
            if let (Some(dir), Some(rest)) = (g.get(..slash), g.get(slash..)) {
                if let Some(r) = resolve(dir) {
                    extra_globs.push(format!("{}{rest}", r.trim_end_matches('/')));
                }
            }
        }
        // A shell glob is what it expands to here: `cat *` in a directory holding `server.pem`
        // reads it, though the glob's own text points nowhere protected.
        for g in &src.globs {
            for found in expand_on_disk(g) {
                if !src.paths.contains(&found) {
                    if let Some(r) = resolve(&found) {
                        extra.push(r);
                    }
                    extra.push(found);
                }
            }
        }
        if extra.is_empty() && extra_globs.is_empty() {
            continue;
        }
        let Some(op) = out.get_or_insert_with(|| ops.to_vec()).get_mut(i) else {
            continue;
        };
        for r in extra {
            if !op.paths.contains(&r) {
                op.paths.push(r);
                any = true;
            }
        }
        for r in extra_globs {
            if !op.globs.contains(&r) {
                op.globs.push(r);
                any = true;
            }
        }
    }
    out.filter(|_| any)
}

/// At most this many names are listed and this many paths found per glob: a glob over a
/// huge directory is judged by its text alone past that.
const EXPAND_READ: usize = 4096;
const EXPAND_FOUND: usize = 256;

/// The existing paths a shell glob (`*`, `?`, `[…]`; no text the analysis could not know)
/// expands to on this machine, bash's way: a wildcard does not match a leading dot unless the
/// pattern's segment starts with one. Empty for a glob with no wildcard, or one that holds
/// unknown text (that stands for any name, not for what is on disk).
pub fn expand_on_disk(glob: &str) -> Vec<String> {
    let wild = |s: &str| s.contains(['*', '?', '[']);
    if !glob.starts_with('/') || !glob.is_ascii() || glob.contains("**") || !wild(glob) {
        return Vec::new();
    }
    let mut current = vec![String::new()];
    let mut read = 0;
    for seg in glob.split('/').skip(1) {
        if seg.is_empty() {
            continue;
        }
        let mut next = Vec::new();
        for base in &current {
            if !wild(seg) {
                next.push(format!("{base}/{seg}"));
                continue;
            }
            let dir = if base.is_empty() { "/" } else { base.as_str() };
            let Ok(rd) = std::fs::read_dir(dir) else {
                continue;
            };
            for e in rd.flatten() {
                read += 1;
                if read > EXPAND_READ {
                    return Vec::new();
                }
                let name = e.file_name();
                let Some(name) = name.to_str() else { continue };
                if name.starts_with('.') && !seg.starts_with('.') {
                    continue;
                }
                if glob_may_match(seg, name) {
                    next.push(format!("{base}/{name}"));
                }
            }
        }
        if next.len() > EXPAND_FOUND {
            return Vec::new();
        }
        current = next;
    }
    current.retain(|p| !p.is_empty() && std::fs::symlink_metadata(p).is_ok());
    current
}

/// A program's name without its directory or a package version (`kill-port@latest`).
fn program_name(w: &str) -> &str {
    let base = w.rsplit('/').next().unwrap_or(w);
    base.split('@').next().unwrap_or(base)
}

/// `path` is `dir` or below it.
fn within(path: &str, dir: &str) -> bool {
    path == dir
        || (path.starts_with(dir)
            && (dir.ends_with('/') || path.as_bytes().get(dir.len()) == Some(&b'/')))
}

/// The proper ancestors of an absolute path, `/` excluded.
fn ancestors(p: &str) -> impl Iterator<Item = &str> {
    Path::new(p)
        .ancestors()
        .skip(1)
        .filter_map(Path::to_str)
        .filter(|a| *a != "/" && !a.is_empty())
}

/// Whether some path a glob stands for could be `path`. Over-approximates on purpose: `*` and
/// `**` match any run of bytes (separators included), `?` and a bracket class any one byte.
fn glob_may_match(glob: &str, path: &str) -> bool {
    let g = glob.as_bytes();
    let p = path.as_bytes();
    // `reach[j]`: the glob prefix read so far can produce `p[..j]`.
    let mut reach = vec![false; p.len() + 1];
    if let Some(r) = reach.first_mut() {
        *r = true;
    }
    let mut i = 0;
    while let Some(&c) = g.get(i) {
        let mut next = vec![false; p.len() + 1];
        match c {
            b'*' => {
                while g.get(i + 1) == Some(&b'*') {
                    i += 1;
                }
                let mut on = false;
                for (j, slot) in next.iter_mut().enumerate() {
                    on |= reach.get(j).copied().unwrap_or(false);
                    *slot = on;
                }
            }
            b'?' | b'[' => {
                if c == b'[' {
                    // Skip the class; an unclosed `[` is a literal.
                    if let Some(end) = g
                        .get(i + 2..)
                        .and_then(|r| r.iter().position(|&b| b == b']'))
                    {
                        i += end + 2;
                    } else {
                        for j in 0..p.len() {
                            if reach.get(j) == Some(&true) && p.get(j) == Some(&b'[') {
                                if let Some(s) = next.get_mut(j + 1) {
                                    *s = true;
                                }
                            }
                        }
                        reach = next;
                        i += 1;
                        continue;
                    }
                }
                for j in 0..p.len() {
                    if reach.get(j) == Some(&true) {
                        if let Some(s) = next.get_mut(j + 1) {
                            *s = true;
                        }
                    }
                }
            }
            lit => {
                for j in 0..p.len() {
                    if reach.get(j) == Some(&true) && p.get(j) == Some(&lit) {
                        if let Some(s) = next.get_mut(j + 1) {
                            *s = true;
                        }
                    }
                }
            }
        }
        reach = next;
        i += 1;
    }
    reach.last().copied().unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(action: Action, paths: &[&str], globs: &[&str]) -> Operation {
        let mut o = Operation::new(action);
        o.paths = paths.iter().map(|s| s.to_string()).collect();
        o.globs = globs.iter().map(|s| s.to_string()).collect();
        o
    }

    fn own() -> OwnFiles {
        OwnFiles {
            paths: vec!["/srv/app/policy.bin".into(), "/srv/rules".into()],
            ports: Vec::new(),
        }
    }

    #[test]
    fn the_file_itself_and_below_a_directory() {
        let o = own();
        assert!(o
            .touched_by(&[op(Action::Write, &["/srv/app/policy.bin"], &[])])
            .is_some());
        assert!(o
            .touched_by(&[op(Action::Read, &["/srv/rules/a.yaml"], &[])])
            .is_some());
        assert!(o
            .touched_by(&[op(Action::Write, &["/srv/rules"], &[])])
            .is_some());
    }

    #[test]
    fn removing_a_directory_that_holds_it() {
        let o = own();
        assert!(o
            .touched_by(&[op(Action::Delete, &["/srv/app"], &[])])
            .is_some());
        assert!(o.touched_by(&[op(Action::Move, &["/srv"], &[])]).is_some());
        // Reading the directory that holds the bundle is ordinary.
        assert!(o
            .touched_by(&[op(Action::Read, &["/srv/app"], &[])])
            .is_none());
    }

    #[test]
    fn near_misses() {
        let o = own();
        assert!(o
            .touched_by(&[op(Action::Write, &["/srv/app/policy.bin.bak"], &[])])
            .is_none());
        assert!(o
            .touched_by(&[op(Action::Write, &["/srv/rules2/x"], &[])])
            .is_none());
        assert!(o
            .touched_by(&[op(Action::Delete, &["/srv/app/target"], &[])])
            .is_none());
        assert!(o
            .touched_by(&[op(Action::Write, &[], &["/srv/app/*.txt"])])
            .is_none());
    }

    #[test]
    fn globs_that_could_name_it() {
        let o = own();
        assert!(o
            .touched_by(&[op(Action::Write, &[], &["/srv/app/*.bin"])])
            .is_some());
        assert!(o
            .touched_by(&[op(Action::Read, &[], &["/srv/r?les/**"])])
            .is_some());
        assert!(o
            .touched_by(&[op(Action::Delete, &[], &["/srv/*"])])
            .is_some());
        assert!(o
            .touched_by(&[op(Action::Write, &[], &["/srv/app/pol[a-z]cy.bin"])])
            .is_some());
    }

    #[test]
    fn glob_matcher() {
        assert!(glob_may_match("**", "/a/b"));
        assert!(glob_may_match("/a/*/c", "/a/b/c"));
        assert!(!glob_may_match("/a/*/d", "/a/b/c"));
        assert!(glob_may_match("/a/[bc]", "/a/b"));
        assert!(glob_may_match("/a/[", "/a/["));
        assert!(!glob_may_match("", "/a"));
    }
}
