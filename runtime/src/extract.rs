//! From a tool call to operations, driven by the tool table: each known argument has a role
//! (a path read or written, a shell script, an argv array, a patch body, a URL, content).
//! Unknown tools are read by the shape of their arguments. Anything that cannot be made
//! sense of is an error, which the engine turns into a block (fail closed).

use crate::model::{Action, Operation};
use crate::normalize::{self, normalize_path, PathContext};
use crate::shell::Analyzer;
use crate::signal;
use crate::tables::{canon_key, ArgRole, TableIndex, Tables, ToolSpec};
use serde_json::Value;

/// Deepest argument nesting that is walked.
const MAX_JSON_DEPTH: usize = 32;

/// Extracts the operations of one call. `Err` says why the call cannot be understood.
pub fn extract(
    name: &str,
    args: &Value,
    ctx: &PathContext<'_>,
    tables: &Tables,
    index: &TableIndex,
) -> Result<Vec<Operation>, String> {
    let obj = args
        .as_object()
        .ok_or_else(|| format!("arguments of `{name}` are not a JSON object"))?;
    let mut x = Extraction {
        tables,
        index,
        ctx,
        ops: Vec::new(),
        run_in: None,
    };
    match lookup_with(name, tables, index) {
        // Another server's tool of the same name with other arguments (a drive's `read_file`
        // of a file id): judged by the shape of what it has.
        Some((spec, true))
            if !obj
                .keys()
                .any(|k| spec.args.iter().any(|a| a.key == canon_key(k))) =>
        {
            x.by_shape(name, obj)?
        }
        Some((spec, _)) => x.known(name, spec, obj)?,
        None => x.by_shape(name, obj)?,
    }
    mark_working_tree_deletes(&mut x.ops, ctx.cwd);
    crate::later::expand(&mut x.ops, ctx, tables, index)?;
    mark_deletes_outside_project(&mut x.ops, ctx.cwd, ctx.home);
    Ok(x.ops)
}

/// A delete of the working directory or one of its ancestors (`rm -rf ..`, `rm -rf "$PWD"`,
/// `rm -rf /`) takes the project, and more, with it: say so as a signal rules can match,
/// because no static pattern knows where the agent works.
fn mark_working_tree_deletes(ops: &mut [Operation], cwd: &str) {
    for op in ops.iter_mut() {
        if op.action != Action::Delete {
            continue;
        }
        // `/` trims to "" and so is an ancestor of every cwd.
        let hit = op.paths.iter().any(|p| {
            let base = p.trim_end_matches(normalize::SUBTREE).trim_end_matches('/');
            cwd == base
                || cwd
                    .strip_prefix(base)
                    .is_some_and(|rest| rest.starts_with('/'))
        });
        if hit && !op.signals.iter().any(|s| s == signal::DELETES_WORKING_TREE) {
            op.signals.push(signal::DELETES_WORKING_TREE.to_owned());
        }
    }
}

/// A recursive delete of a directory outside the project (`rm -rf /srv/app`, `rm -rf
/// ../other-repo`) gets an operation of its own per directory, with the signal
/// `deletes-outside-project`, so a rule can refuse it except where deleting is routine
/// (temporary directories, caches, build output) without one harmless directory in the same
/// command excusing another. Text the analysis could not work out is left to the rules on
/// unknown paths.
fn mark_deletes_outside_project(ops: &mut Vec<Operation>, cwd: &str, home: &str) {
    let mut found: Vec<(String, Vec<String>)> = Vec::new();
    for op in ops.iter() {
        // A file that runs on another machine (an image build, a CI job) has no project here.
        if op.action != Action::Delete
            || op
                .signals
                .iter()
                .any(|s| s == crate::signal::RUNS_ELSEWHERE)
        {
            continue;
        }
        for g in &op.globs {
            let Some(dir) = g.strip_suffix(normalize::SUBTREE) else {
                continue;
            };
            let dir = dir.trim_end_matches('/');
            let dir = if dir.is_empty() { "/" } else { dir };
            // A move's source is judged as a delete of its tree, but the files live on under
            // the new name (`mv ~/Downloads/x ~/Documents/`).
            let moved = ops.iter().any(|m| {
                m.action == Action::Move && (m.paths.iter().chain(&m.globs)).any(|p| p == dir)
            });
            if moved
                || dir.contains(normalize::UNKNOWN)
                || normalize::within_project(dir, cwd, home)
                || found.iter().any(|(f, _)| f == dir)
            {
                continue;
            }
            found.push((dir.to_owned(), op.signals.clone()));
        }
    }
    // The directory alone is judged: what lies below it goes with it, and the rules on this
    // signal name directories. The original operation's signals go with it (`runs-later`).
    for (dir, signals) in found {
        let mut op = Operation::new(Action::Delete);
        op.signals = signals;
        if dir.contains(['*', '?', '[']) {
            op.globs.push(dir);
        } else {
            op.paths.push(dir);
        }
        op.signals.push(signal::DELETES_OUTSIDE_PROJECT.to_owned());
        ops.push(op);
    }
}

/// The tool table's entry for a name: exact (case-insensitive), then any MCP server's tool of
/// that name (`mcp__<server>__<tool>` matches an entry written `mcp__*__<tool>`).
pub fn lookup<'t>(name: &str, tables: &'t Tables, index: &TableIndex) -> Option<&'t ToolSpec> {
    lookup_with(name, tables, index).map(|(s, _)| s)
}

/// [`lookup`], and whether the entry matched only as any MCP server's tool of that name.
fn lookup_with<'t>(
    name: &str,
    tables: &'t Tables,
    index: &TableIndex,
) -> Option<(&'t ToolSpec, bool)> {
    let clean: String = name
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .flat_map(char::to_lowercase)
        .collect();
    let get = |k: &str| {
        index
            .tools
            .get(k)
            .and_then(|&i| tables.tools.get(i as usize))
    };
    if let Some(s) = get(&clean) {
        return Some((s, false));
    }
    let rest = clean.strip_prefix("mcp__")?;
    let (_, tool) = rest.split_once("__")?;
    get(&format!("mcp__*__{tool}")).map(|s| (s, true))
}

struct Extraction<'a, 'c> {
    tables: &'a Tables,
    index: &'a TableIndex,
    ctx: &'a PathContext<'c>,
    ops: Vec<Operation>,
    /// The directory a script tool runs its script in (its directory argument), as the
    /// normalized path the script is judged after `cd`-ing to.
    run_in: Option<String>,
}

impl Extraction<'_, '_> {
    /// A tool with a script and a directory argument (Codex's `workdir`, Gemini CLI's
    /// `dir_path`, Cursor's `working_directory`) runs the script there: its relative paths
    /// are resolved against that directory, not the agent's.
    fn known(
        &mut self,
        name: &str,
        spec: &ToolSpec,
        obj: &serde_json::Map<String, Value>,
    ) -> Result<(), String> {
        let scripted = spec
            .args
            .iter()
            .any(|a| matches!(a.role, ArgRole::Shell | ArgRole::Argv | ArgRole::PowerShell));
        if !scripted {
            return self.known_args(name, spec, obj);
        }
        // Every directory argument (an agent may send more than one spelling): the script is
        // judged in each. Agents take the directory as written, without expanding `~` or
        // `$HOME`, so such a directory is also judged as the name it spells.
        let mut dirs: Vec<String> = Vec::new();
        for (k, v) in obj {
            let ck = canon_key(k);
            let is_dir = spec
                .args
                .iter()
                .any(|a| a.key == ck && a.role == ArgRole::Dir);
            if let Some(d) = v.as_str().filter(|d| is_dir && !d.is_empty()) {
                dirs.push(d.to_owned());
                if d.starts_with('~') || d.contains('$') {
                    dirs.push(format!("./{d}"));
                }
            }
        }
        if dirs.is_empty() {
            return self.known_args(name, spec, obj);
        }
        // Judged as `cd DIR && SCRIPT`: the script's relative paths resolve in DIR, while the
        // project stays the agent's working directory (reading `.` in `~/.ssh` is not work
        // inside the project).
        for dir in dirs.iter().take(4) {
            self.run_in = Some(self.norm(dir)?);
            let judged = self.known_args(name, spec, obj);
            self.run_in = None;
            judged?;
        }
        Ok(())
    }

    fn known_args(
        &mut self,
        name: &str,
        spec: &ToolSpec,
        obj: &serde_json::Map<String, Value>,
    ) -> Result<(), String> {
        let mut contents = Vec::new();
        let mut partial = false;
        let mut from: Vec<(Action, String)> = Vec::new();
        let mut to: Vec<(Action, String)> = Vec::new();
        let mut dir: Option<String> = None;
        let mut globs: Vec<String> = Vec::new();
        let mut primary = false;
        let mut needs_primary = false;
        // A search tool without a path (Claude Code's `Grep`) searches the working directory.
        let mut searched = false;
        for a in &spec.args {
            needs_primary |= !matches!(
                a.role,
                ArgRole::Content | ArgRole::Fragment | ArgRole::Query | ArgRole::Dir
            );
        }
        for (k, v) in obj {
            let ck = canon_key(k);
            let Some(role) = spec.args.iter().find(|a| a.key == ck).map(|a| a.role) else {
                continue;
            };
            let what = || format!("argument `{k}` of `{name}`");
            match role {
                ArgRole::Tree => {
                    for s in strings(v, &what)? {
                        self.tree(s)?;
                        searched = true;
                        primary = true;
                    }
                }
                ArgRole::Path(action) => {
                    for s in strings(v, &what)? {
                        self.path(action, s)?;
                        primary = true;
                    }
                }
                ArgRole::From(a) => {
                    for s in strings(v, &what)? {
                        from.push((a, self.norm(s)?));
                    }
                    primary = true;
                }
                ArgRole::To(a) => {
                    for s in strings(v, &what)? {
                        to.push((a, self.norm(s)?));
                    }
                    primary = true;
                }
                ArgRole::Dir => {
                    if let Some(s) = v.as_str().filter(|s| !s.is_empty()) {
                        let d = self.norm(s)?;
                        self.push(Action::Read, vec![d.clone()], Vec::new());
                        dir = Some(d);
                    }
                }
                ArgRole::Glob => {
                    for s in strings(v, &what)? {
                        globs.push(s.to_owned());
                    }
                    primary = true;
                }
                ArgRole::Content => collect_strings(v, &mut contents, 0)?,
                ArgRole::Fragment => {
                    partial = true;
                    collect_strings(v, &mut contents, 0)?;
                }
                ArgRole::PowerShell => {
                    primary = true;
                    match v {
                        Value::String(s) => {
                            if s.contains('\0') {
                                return Err("command contains a NUL byte".into());
                            }
                            let a = Analyzer::new(self.tables, self.index, self.ctx, s.len());
                            self.ops.extend(a.run_powershell(s)?);
                        }
                        _ => return Err(format!("{} is not a command string", what())),
                    }
                }
                ArgRole::Shell => {
                    primary = true;
                    match v {
                        Value::String(s) => self.shell(s)?,
                        Value::Array(_) => self.argv(v, &what)?,
                        _ => return Err(format!("{} is not a command string", what())),
                    }
                }
                ArgRole::Argv => {
                    primary = true;
                    match v {
                        Value::String(s) => self.shell(s)?,
                        _ => self.argv(v, &what)?,
                    }
                }
                ArgRole::Patch => {
                    primary = true;
                    let s = v
                        .as_str()
                        .ok_or_else(|| format!("{} is not a patch text", what()))?;
                    // An update's added lines are part of the file.
                    partial = true;
                    self.patch(s, &mut contents)?;
                }
                ArgRole::Url => {
                    primary = true;
                    for s in strings(v, &what)? {
                        self.url(s)?;
                    }
                }
                ArgRole::Query => {
                    collect_strings(v, &mut contents, 0)?;
                    self.ops.push(Operation::new(Action::Network));
                }
                ArgRole::Links => {
                    primary = true;
                    let mut text = Vec::new();
                    collect_strings(v, &mut text, 0)?;
                    for t in &text {
                        for u in links_in(t) {
                            self.url(u)?;
                        }
                    }
                    contents.extend(text);
                    self.ops.push(Operation::new(Action::Network));
                }
            }
        }
        // Globs resolve against the tool's directory argument, or the working directory.
        for g in globs {
            let joined = if g.starts_with('/') || g.starts_with('~') || g.starts_with('$') {
                g
            } else {
                format!("{}/{g}", dir.as_deref().unwrap_or(self.ctx.cwd))
            };
            let n = normalize::deepen_glob(&self.norm(&joined)?, self.ctx.cwd, self.ctx.home);
            let is_glob = n.contains(['*', '?', '[', normalize::UNKNOWN, normalize::SUBTREE]);
            if is_glob {
                self.push(Action::Read, Vec::new(), vec![n]);
            } else {
                self.push(Action::Read, vec![n], Vec::new());
            }
        }
        self.moves(&from, &to);
        if !searched && spec.args.iter().any(|a| a.role == ArgRole::Tree) {
            self.tree(".")?;
            primary = true;
        }
        if needs_primary && !primary {
            let keys: Vec<&str> = spec
                .args
                .iter()
                .filter(|a| {
                    !matches!(
                        a.role,
                        ArgRole::Content | ArgRole::Fragment | ArgRole::Query | ArgRole::Dir
                    )
                })
                .map(|a| a.key.as_str())
                .collect();
            return Err(format!(
                "`{name}` call without any of its arguments ({})",
                keys.join(", ")
            ));
        }
        if self.ops.is_empty() {
            self.ops
                .push(Operation::new(spec.action.unwrap_or(Action::Read)));
        }
        if !contents.is_empty() {
            let idx = self
                .ops
                .iter()
                .rposition(|o| o.action == Action::Write)
                .unwrap_or(0);
            if let Some(o) = self.ops.get_mut(idx) {
                o.contents.append(&mut contents);
                o.partial |= partial;
            }
        }
        Ok(())
    }

    /// A move or copy between `from` and `to`: the whole (move/copy of every path), the
    /// sources (deleted by a move, read by a copy) and the destinations (written).
    fn moves(&mut self, from: &[(Action, String)], to: &[(Action, String)]) {
        if from.is_empty() && to.is_empty() {
            return;
        }
        let whole = from
            .first()
            .or(to.first())
            .map_or(Action::Move, |(a, _)| *a);
        let mut all: Vec<String> = from.iter().map(|(_, p)| p.clone()).collect();
        all.extend(to.iter().map(|(_, p)| p.clone()));
        self.push(whole, all, Vec::new());
        let src_action = if whole == Action::Copy {
            Action::Read
        } else {
            Action::Delete
        };
        // A directory moved or copied takes its subtree along: outside the project (where a
        // protected file may be below it), the subtree is judged too.
        let below: Vec<String> = from
            .iter()
            .filter(|(_, p)| !normalize::within_project(p, self.ctx.cwd, self.ctx.home))
            .map(|(_, p)| format!("{}/{}", p.trim_end_matches('/'), normalize::SUBTREE))
            .collect();
        self.push(
            src_action,
            from.iter().map(|(_, p)| p.clone()).collect(),
            below,
        );
        self.push(
            Action::Write,
            to.iter().map(|(_, p)| p.clone()).collect(),
            Vec::new(),
        );
    }

    fn norm(&self, raw: &str) -> Result<String, String> {
        normalize_path(raw, self.ctx)
    }

    fn path(&mut self, action: Action, raw: &str) -> Result<(), String> {
        if raw.is_empty() {
            return Ok(());
        }
        let n = self.norm(raw)?;
        self.push(action, vec![n], Vec::new());
        Ok(())
    }

    /// A search tool's path: the file or directory, and outside the project everything below
    /// it (inside, searching the tree is ordinary work, as `grep -r` is for the shell).
    fn tree(&mut self, raw: &str) -> Result<(), String> {
        if raw.is_empty() {
            return Ok(());
        }
        let n = self.norm(raw)?;
        let globs = if normalize::within_project(&n, self.ctx.cwd, self.ctx.home) {
            Vec::new()
        } else {
            vec![format!(
                "{}/{}",
                n.trim_end_matches('/'),
                normalize::SUBTREE
            )]
        };
        self.push(Action::Read, vec![n], globs);
        Ok(())
    }

    fn push(&mut self, action: Action, paths: Vec<String>, globs: Vec<String>) {
        if paths.is_empty() && globs.is_empty() {
            return;
        }
        let mut op = Operation::new(action);
        op.paths = paths;
        op.globs = globs;
        self.ops.push(op);
    }

    fn shell(&mut self, cmd: &str) -> Result<(), String> {
        if cmd.contains('\0') {
            return Err("command contains a NUL byte".into());
        }
        let script;
        let cmd = match &self.run_in {
            Some(d) => {
                script = format!("cd '{}' && {cmd}", d.replace('\'', "'\\''"));
                script.as_str()
            }
            None => cmd,
        };
        let a = Analyzer::new(self.tables, self.index, self.ctx, cmd.len());
        self.ops.extend(a.run(cmd)?);
        Ok(())
    }

    /// An argv array runs without a shell: quote every element and analyse the result, so
    /// `["bash", "-lc", SCRIPT]` analyses SCRIPT and `["cat", PATH]` reads PATH.
    fn argv(&mut self, v: &Value, what: &dyn Fn() -> String) -> Result<(), String> {
        let items = v
            .as_array()
            .ok_or_else(|| format!("{} is not an argv array", what()))?;
        let mut cmd = String::new();
        for it in items {
            let s = it
                .as_str()
                .ok_or_else(|| format!("{} holds a non-string element", what()))?;
            if !cmd.is_empty() {
                cmd.push(' ');
            }
            cmd.push('\'');
            cmd.push_str(&s.replace('\'', "'\\''"));
            cmd.push('\'');
        }
        if cmd.is_empty() {
            return Err(format!("{} is empty", what()));
        }
        self.shell(&cmd)
    }

    fn url(&mut self, url: &str) -> Result<(), String> {
        let folded = normalize::fold_text(url);
        let lower = folded.to_ascii_lowercase();
        // `file:///p`, `file://host/p` and `file:/p`; percent-escapes decoded, as URL readers
        // decode them (`%2essh` is `.ssh`).
        if let Some(path) = lower.strip_prefix("file:") {
            let start = url.len() - path.len();
            let p = url.get(start..).unwrap_or(path);
            let p = match p.strip_prefix("//") {
                Some(rest) => rest.find('/').and_then(|i| rest.get(i..)).unwrap_or(rest),
                None => p,
            };
            let p = percent_decoded(p);
            return self.path(Action::Read, &p);
        }
        let mut op = Operation::new(Action::Network);
        op.hosts.extend(normalize::host_of(url));
        op.urls.push(url.to_owned());
        op.contents.push(url.to_owned());
        self.ops.push(op);
        Ok(())
    }

    /// `*** Begin Patch` envelopes (Codex) and unified diffs: the files they add, update,
    /// move or delete, and the lines they add as content.
    fn patch(&mut self, body: &str, contents: &mut Vec<String>) -> Result<(), String> {
        let p = crate::patch::parse(body)?;
        for w in &p.writes {
            self.path(Action::Write, w)?;
        }
        for d in &p.deletes {
            self.path(Action::Delete, d)?;
        }
        if !p.added.is_empty() {
            contents.push(p.added);
        }
        Ok(())
    }

    /// Unknown tools: path-, URL- and command-like keys anywhere in the arguments, and every
    /// string as content.
    fn by_shape(&mut self, name: &str, obj: &serde_json::Map<String, Value>) -> Result<(), String> {
        let mut leaves = Vec::new();
        for (k, v) in obj {
            walk(Some(k), v, &mut leaves, 0).map_err(|e| format!("arguments of `{name}`: {e}"))?;
        }
        let shape = &self.tables.shape;
        let has = |list: &[String], k: &str| list.iter().any(|x| x == k);
        let writes = leaves.iter().any(|(k, _)| has(&shape.content, k));
        let mut paths = Vec::new();
        let mut contents = Vec::new();
        for (k, s) in &leaves {
            let path_key = has(&shape.path, k)
                || shape
                    .path_suffix
                    .iter()
                    .any(|x| k.len() > x.len() && k.ends_with(x.as_str()));
            if file_url(s) {
                self.url(s)?;
            } else if (path_key || bare_path(s)) && !s.is_empty() {
                paths.push(self.norm(s)?);
            } else if has(&shape.url, k) {
                self.url(s)?;
            } else if has(&shape.command, k) {
                self.shell(s)?;
            }
            contents.push((*s).to_owned());
        }
        // A program and its arguments given apart (`{"command": "sh", "args": ["-c", …]}`):
        // judged as the argument vector they make together.
        let program = obj
            .iter()
            .find(|(k, v)| has(&shape.command, &canon_key(k)) && v.is_string())
            .and_then(|(_, v)| v.as_str());
        let rest = obj.iter().find(|(k, v)| {
            matches!(canon_key(k).as_str(), "args" | "argv" | "arguments") && v.is_array()
        });
        if let (Some(program), Some((_, Value::Array(args)))) = (program, rest) {
            let mut argv = vec![Value::String(program.to_owned())];
            argv.extend(args.iter().cloned());
            self.argv(&Value::Array(argv), &|| format!("arguments of `{name}`"))?;
        }
        // An unknown tool given a directory may read all of it (a backup, an archive, a
        // search): below the home directory and outside the project, its subtree is judged
        // too. The home directory and its ancestors are not (a lister of `~` is ordinary).
        let home = self.ctx.home;
        let below: Vec<String> = paths
            .iter()
            .filter(|p| {
                normalize::home_rest(p, home).is_some_and(|r| r.len() > 1)
                    && !normalize::within_project(p, self.ctx.cwd, home)
            })
            .map(|p| format!("{}/{}", p.trim_end_matches('/'), normalize::SUBTREE))
            .collect();
        self.push(Action::Read, Vec::new(), below);
        let mut primary = Operation::new(if writes { Action::Write } else { Action::Read });
        primary.paths = paths;
        primary.contents = contents;
        // Every string of an unknown tool's arguments: not a file's whole text.
        primary.partial = true;
        self.ops.push(primary);
        Ok(())
    }
}

/// `%XX` escapes decoded (invalid ones kept as written); the result as UTF-8, lossily.
fn percent_decoded(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let hex = |j: usize| b.get(j).and_then(|h| (*h as char).to_digit(16));
        match (c, hex(i + 1), hex(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A value that is a path and nothing else, whatever its key: absolute or in the home
/// directory, one word (free text that mentions a path is not one).
fn bare_path(s: &str) -> bool {
    let home = ["~/", "$HOME/", "${HOME}/"]
        .iter()
        .any(|p| s.starts_with(p));
    (home || s.starts_with('/')) && s.len() > 1 && !s.chars().any(char::is_whitespace)
}

/// A `file:` URL under any key: a reader of URLs reads the file it names.
fn file_url(s: &str) -> bool {
    let t = s.trim_start();
    t.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("file:")) && !t.contains(char::is_whitespace)
}

/// A string or an array of strings.
fn strings<'v>(v: &'v Value, what: &dyn Fn() -> String) -> Result<Vec<&'v str>, String> {
    match v {
        Value::String(s) => Ok(vec![s.as_str()]),
        Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .ok_or_else(|| format!("{} holds a non-string element", what()))
            })
            .collect(),
        Value::Null => Ok(Vec::new()),
        _ => Err(format!("{} is not a string", what())),
    }
}

fn collect_strings(v: &Value, out: &mut Vec<String>, depth: usize) -> Result<(), String> {
    if depth > MAX_JSON_DEPTH {
        return Err("arguments nested too deeply".into());
    }
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => {
            for x in a {
                collect_strings(x, out, depth + 1)?;
            }
        }
        Value::Object(o) => {
            for x in o.values() {
                collect_strings(x, out, depth + 1)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// String leaves with the canonical key that holds them (an array's elements inherit it).
fn walk<'v>(
    key: Option<&str>,
    v: &'v Value,
    out: &mut Vec<(String, &'v str)>,
    depth: usize,
) -> Result<(), String> {
    if depth > MAX_JSON_DEPTH {
        return Err("nested too deeply".into());
    }
    match v {
        Value::String(s) => out.push((key.map(canon_key).unwrap_or_default(), s.as_str())),
        Value::Array(a) => {
            for x in a {
                walk(key, x, out, depth + 1)?;
            }
        }
        Value::Object(o) => {
            for (k, x) in o {
                walk(Some(k), x, out, depth + 1)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// The values of the arg field: every scalar with its key path (`url`, `options.url`; array
/// elements under their array's key; arguments that are not an object under the key `""`).
/// Keys are compared exactly, as the tool's schema spells them.
pub fn arg_values(args: &Value, out: &mut Vec<(String, String)>) {
    fn go(path: &mut String, v: &Value, out: &mut Vec<(String, String)>, depth: usize) {
        // Extraction refused deeper arguments already; stopping here keeps this total.
        if depth > MAX_JSON_DEPTH {
            return;
        }
        match v {
            Value::String(s) => out.push((path.clone(), s.clone())),
            Value::Number(n) => out.push((path.clone(), n.to_string())),
            Value::Bool(b) => out.push((path.clone(), b.to_string())),
            Value::Null => {}
            Value::Array(a) => a.iter().for_each(|x| go(path, x, out, depth + 1)),
            Value::Object(o) => {
                let len = path.len();
                for (k, x) in o {
                    if len > 0 {
                        path.push('.');
                    }
                    path.push_str(k);
                    go(path, x, out, depth + 1);
                    path.truncate(len);
                }
            }
        }
    }
    go(&mut String::new(), args, out, 0);
}

/// The URLs written in free text: `scheme://…` up to white space, and (where it differs) up to
/// a quote or a closing bracket as well: a fetcher that reads the URL to the next space
/// (`https://docs.rs'@evil.example/`) and one that stops at the quote see different hosts.
fn links_in(text: &str) -> impl Iterator<Item = &str> {
    text.match_indices("://").flat_map(move |(i, _)| {
        let mut out: Vec<&str> = Vec::new();
        let Some(head) = text.get(..i) else {
            return out;
        };
        let start = head
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-')))
            .map_or(0, |k| k + 1);
        let scheme = head.get(start..).unwrap_or("");
        let Some(rest) = text.get(i + 3..) else {
            return out;
        };
        if !scheme.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return out;
        }
        let spaced = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let cut = rest
            .find(|c: char| {
                c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | ')' | ']' | '`')
            })
            .unwrap_or(rest.len());
        for end in [cut, spaced] {
            if let Some(url) = text.get(start..i + 3 + end) {
                let url = url.trim_end_matches(['.', ',', ';', ':', '!', '?']);
                if !out.contains(&url) {
                    out.push(url);
                }
            }
        }
        out
    })
}
