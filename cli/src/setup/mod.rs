//! `crust setup`: finds the installed agents and wires each to Crust. The hook where the agent
//! has hooks, the proxy's base URL where it has one, `crust wrap` around each stdio MCP server.
//! It prints a diff first (`--dry-run` stops there), keeps a backup of every file before its
//! first change, and `crust setup --undo` restores them: byte for byte when the file is as
//! setup left it, else by taking out only what setup put in, so later changes (the agent's own
//! or the user's) are kept.

pub mod edit;

pub use edit::{Edit, Note, Wiring};

use super::Exit;
use serde::{Deserialize, Serialize};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug, Clone)]
pub struct SetupArgs {
    /// Only this agent (repeatable): claude-code, codex, cursor, gemini, claude-desktop,
    /// windsurf, vscode. Default: every agent whose configuration directory exists.
    #[arg(long = "agent", value_name = "NAME", value_parser = parse_agent)]
    pub agents: Vec<String>,
    /// Show the diff and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Undo what `crust setup` did: restore each file it changed.
    #[arg(long, conflicts_with = "dry_run")]
    pub undo: bool,
    /// Write without asking, also on a terminal.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// The proxy's address (`crust start --listen`).
    #[arg(long, default_value = "127.0.0.1:9090")]
    pub listen: std::net::SocketAddr,
    /// Hooks and MCP servers only: leave the agents' model traffic as it is.
    #[arg(long)]
    pub no_proxy: bool,
    /// Leave MCP servers as they are.
    #[arg(long)]
    pub no_wrap: bool,
    /// The `crust` executable agents run (default: this one).
    #[arg(long)]
    pub crust: Option<PathBuf>,
}

/// The agents setup knows.
pub const AGENTS: &[&str] = &[
    "claude-code",
    "codex",
    "cursor",
    "gemini",
    "claude-desktop",
    "windsurf",
    "vscode",
];

fn parse_agent(s: &str) -> Result<String, String> {
    let s = if s == "claude" { "claude-code" } else { s };
    if AGENTS.contains(&s) {
        Ok(s.to_owned())
    } else {
        Err(format!("unknown agent `{s}` ({})", AGENTS.join(", ")))
    }
}

/// How a configuration file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Toml,
}

/// One configuration file of one agent and the edits it gets.
#[derive(Debug, Clone)]
pub struct Target {
    pub agent: &'static str,
    /// The directory whose presence says the agent is installed.
    pub dir: PathBuf,
    pub file: PathBuf,
    pub format: Format,
    pub edits: &'static [Edit],
    /// Created when missing (hook and provider settings); MCP server lists are only edited
    /// where they exist.
    pub create: bool,
}

/// Every file setup may edit, for the home directory given.
pub fn targets(home: &Path) -> Vec<Target> {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let codex = var("CODEX_HOME").unwrap_or_else(|| home.join(".codex"));
    let (desktop, code) = if cfg!(target_os = "macos") {
        let support = home.join("Library/Application Support");
        (support.join("Claude"), support.join("Code/User"))
    } else {
        let config = var("XDG_CONFIG_HOME").unwrap_or_else(|| home.join(".config"));
        (config.join("Claude"), config.join("Code/User"))
    };
    let t = |agent, dir: &Path, file: PathBuf, format, edits, create| Target {
        agent,
        dir: dir.to_path_buf(),
        file,
        format,
        edits,
        create,
    };
    let claude = home.join(".claude");
    let cursor = home.join(".cursor");
    let gemini = home.join(".gemini");
    let windsurf = home.join(".codeium/windsurf");
    vec![
        t(
            "claude-code",
            &claude,
            claude.join("settings.json"),
            Format::Json,
            &[Edit::ClaudeHook, Edit::ClaudeBaseUrl],
            true,
        ),
        t(
            "claude-code",
            &claude,
            home.join(".claude.json"),
            Format::Json,
            &[Edit::McpServers("mcpServers"), Edit::ClaudeProjectServers],
            false,
        ),
        t(
            "codex",
            &codex,
            codex.join("config.toml"),
            Format::Toml,
            &[Edit::CodexProvider, Edit::CodexServers],
            true,
        ),
        t(
            "cursor",
            &cursor,
            cursor.join("hooks.json"),
            Format::Json,
            &[Edit::CursorHooks],
            true,
        ),
        t(
            "cursor",
            &cursor,
            cursor.join("mcp.json"),
            Format::Json,
            &[Edit::McpServers("mcpServers")],
            false,
        ),
        t(
            "gemini",
            &gemini,
            gemini.join("settings.json"),
            Format::Json,
            &[Edit::GeminiHook, Edit::McpServers("mcpServers")],
            true,
        ),
        t(
            "claude-desktop",
            &desktop,
            desktop.join("claude_desktop_config.json"),
            Format::Json,
            &[Edit::McpServers("mcpServers")],
            false,
        ),
        t(
            "windsurf",
            &windsurf,
            windsurf.join("mcp_config.json"),
            Format::Json,
            &[Edit::McpServers("mcpServers")],
            false,
        ),
        t(
            "vscode",
            &code,
            code.join("mcp.json"),
            Format::Json,
            &[Edit::McpServers("servers")],
            false,
        ),
    ]
}

/// What setup would do to one file.
#[derive(Debug)]
pub enum Plan {
    /// The agent is not installed, or the file is not there and is not created.
    Absent,
    /// Wired already: nothing to change.
    Wired(Vec<Note>),
    /// These changes.
    Change {
        before: Option<Vec<u8>>,
        after: String,
        notes: Vec<Note>,
    },
    /// Left untouched, and why.
    Untouched(String),
}

/// Works out the change for one target. `forced`: the user named the agent, so its files are
/// created even where its directory is missing.
pub fn plan(t: &Target, w: &Wiring, forced: bool) -> Plan {
    if !t.dir.is_dir() && !forced {
        return Plan::Absent;
    }
    let before = match std::fs::read(&t.file) {
        Ok(b) => Some(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if !t.create {
                return Plan::Absent;
            }
            None
        }
        Err(e) => return Plan::Untouched(format!("cannot read it: {e}")),
    };
    let text = match before.as_deref().map(std::str::from_utf8) {
        None => "",
        Some(Ok(s)) => s,
        Some(Err(_)) => return Plan::Untouched("it is not UTF-8 text".into()),
    };
    let edited = match t.format {
        Format::Json => edit::json(text, t.edits, w),
        Format::Toml => edit::toml(text, t.edits, w),
    };
    match edited {
        Err(why) => Plan::Untouched(why),
        Ok((after, notes)) if after == text || !notes.iter().any(|n| matches!(n, Note::Did(_))) => {
            Plan::Wired(notes)
        }
        // A file its owner made read-only is one they want left as it is.
        Ok(_) if before.is_some() && mode_of(&t.file).is_some_and(|m| m & 0o200 == 0) => {
            Plan::Untouched(
                "it is read-only; make it writable (chmod u+w) to let setup wire it".into(),
            )
        }
        Ok((after, notes)) => Plan::Change {
            before,
            after,
            notes,
        },
    }
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("/"), PathBuf::from)
}

/// Where setup keeps its record and backups.
fn state_dir(home: &Path) -> PathBuf {
    home.join(".local/share/crust/setup")
}

/// This executable as agents should name it: the `crust` on `PATH` that is this file (a
/// package manager's link, `/opt/homebrew/bin/crust`, which survives upgrades), else the
/// file itself.
pub fn own_path() -> Result<PathBuf, String> {
    let exe = std::env::current_exe()
        .map_err(|e| format!("cannot find the crust executable ({e}); give --crust PATH"))?;
    let real = std::fs::canonicalize(&exe).unwrap_or_else(|_| exe.clone());
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("crust"))
            .filter(|c| c.is_absolute())
            .find(|c| std::fs::canonicalize(c).is_ok_and(|r| r == real))
    });
    Ok(on_path.unwrap_or(exe))
}

/// The wiring for these arguments.
pub fn wiring(args: &SetupArgs) -> Result<Wiring, String> {
    let crust = match &args.crust {
        Some(p) => std::path::absolute(p).unwrap_or_else(|_| p.clone()),
        None => own_path()?,
    };
    let base = format!("http://{}", args.listen);
    Ok(Wiring {
        crust: crust.display().to_string(),
        openai_url: format!("{base}/v1"),
        anthropic_url: base,
        proxy: !args.no_proxy,
        wrap: !args.no_wrap,
    })
}

pub fn setup(args: SetupArgs) -> Exit {
    let home = home();
    if args.undo {
        return undo(&home);
    }
    let w = match wiring(&args) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Usage;
        }
    };
    let mut out = std::io::stdout().lock();
    let mut changes = Vec::new();
    let mut failed = false;
    let mut found = false;
    for t in targets(&home) {
        if !args.agents.is_empty() && !args.agents.iter().any(|a| a == t.agent) {
            continue;
        }
        let forced = args.agents.iter().any(|a| a == t.agent);
        let p = plan(&t, &w, forced);
        let path = t.file.display();
        let _ = match &p {
            Plan::Absent => continue,
            Plan::Wired(notes) => {
                found = true;
                let r = writeln!(out, "{}: {path}: already wired", t.agent);
                print_notes(&mut out, notes, false);
                r
            }
            Plan::Untouched(why) => {
                found = true;
                failed = true;
                writeln!(out, "{}: {path}: left untouched: {why}", t.agent)
            }
            Plan::Change { notes, .. } => {
                found = true;
                let r = writeln!(out, "{}: {path}:", t.agent);
                print_notes(&mut out, notes, true);
                r
            }
        };
        if let Plan::Change {
            before,
            after,
            notes,
        } = p
        {
            changes.push((t, before, after, notes));
        }
    }
    if !found {
        let _ = writeln!(
            out,
            "no agents found (looked for {}); name one with --agent NAME to configure it anyway",
            AGENTS.join(", ")
        );
        return Exit::Ok;
    }
    for (t, before, after, _) in &changes {
        let old = before
            .as_deref()
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        let name = t.file.display().to_string();
        let diff = similar::TextDiff::from_lines(old.as_ref(), after.as_str());
        let _ = write!(
            out,
            "{}",
            diff.unified_diff()
                .context_radius(3)
                .header(if before.is_some() { &name } else { "/dev/null" }, &name)
        );
    }
    if changes.is_empty() {
        let _ = writeln!(out, "nothing to change");
        return if failed { Exit::Policy } else { Exit::Ok };
    }
    if args.dry_run {
        let _ = writeln!(out, "dry run: nothing written");
        return if failed { Exit::Policy } else { Exit::Ok };
    }
    if std::io::stdin().is_terminal() && !args.yes && !confirm(&mut out) {
        let _ = writeln!(out, "nothing written");
        return Exit::Ok;
    }
    let state = state_dir(&home);
    let mut manifest = match Manifest::load(&state) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Usage;
        }
    };
    for (t, before, after, notes) in &changes {
        match apply(&state, &mut manifest, t, before.as_deref(), after, notes) {
            Ok(()) => {
                let _ = writeln!(out, "wrote {}", t.file.display());
            }
            Err(e) => {
                failed = true;
                let _ = writeln!(out, "error: {}: {e}", t.file.display());
            }
        }
    }
    let _ = writeln!(
        out,
        "backups in {}; `crust setup --undo` restores them",
        state.display()
    );
    if w.proxy {
        let _ = writeln!(
            out,
            "model traffic now goes through http://{}: keep `crust start` running (or `crust \
             service install`)",
            args.listen
        );
    }
    if failed {
        Exit::Policy
    } else {
        Exit::Ok
    }
}

fn print_notes(out: &mut impl Write, notes: &[Note], did: bool) {
    for n in notes {
        let _ = match n {
            Note::Did(s) if did => writeln!(out, "  + {s}"),
            Note::Kept(s) => writeln!(out, "  ! {s}"),
            _ => Ok(()),
        };
    }
}

fn confirm(out: &mut impl Write) -> bool {
    let _ = write!(out, "write these changes? [y/N] ");
    let _ = out.flush();
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).is_ok()
        && matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// Setup's record of the files it changed.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Manifest {
    files: Vec<Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    agent: String,
    path: PathBuf,
    /// The file before setup first changed it; `None`: there was no file.
    backup: Option<PathBuf>,
    /// Its permission bits, restored with it.
    mode: Option<u32>,
    /// Hash of what setup wrote last.
    written: String,
    /// The base URL setup wrote (none: it left the agent's own), taken out again on undo.
    #[serde(default)]
    url: Option<String>,
    /// The MCP servers setup wrapped: undo unwraps these and no others.
    #[serde(default)]
    wrapped: Vec<String>,
    /// The file changed between two runs of setup: the backup no longer holds those
    /// changes, so undo takes setup's edits out instead of restoring it.
    #[serde(default)]
    diverged: bool,
}

const MANIFEST: &str = "manifest.json";

impl Manifest {
    fn load(state: &Path) -> Result<Manifest, String> {
        let p = state.join(MANIFEST);
        match std::fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| {
                format!(
                    "`{}` cannot be read ({e}); setup will not write until it is fixed or moved away",
                    p.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest::default()),
            Err(e) => Err(format!("cannot read `{}`: {e}", p.display())),
        }
    }

    fn save(&self, state: &Path) -> std::io::Result<()> {
        let p = state.join(MANIFEST);
        if self.files.is_empty() {
            return match std::fs::remove_file(&p) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            };
        }
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        write_file(&p, text.as_bytes(), Some(0o600))
    }
}

fn hash(bytes: Option<&[u8]>) -> String {
    match bytes {
        None => "absent".into(),
        Some(b) => format!("{:032x}", xxhash_rust::xxh3::xxh3_128(b)),
    }
}

/// Backs up (first change only), records, then writes one file.
fn apply(
    state: &Path,
    manifest: &mut Manifest,
    t: &Target,
    before: Option<&[u8]>,
    after: &str,
    notes: &[Note],
) -> Result<(), String> {
    super::start::create_private_dir(state)
        .map_err(|e| format!("cannot create `{}`: {e}", state.display()))?;
    let written = hash(Some(after.as_bytes()));
    let url = notes.iter().find_map(|n| match n {
        Note::UrlSet(u) => Some(u.clone()),
        _ => None,
    });
    let wrapped = notes.iter().filter_map(|n| match n {
        Note::Wrapped(name) => Some(name.clone()),
        _ => None,
    });
    if let Some(e) = manifest.files.iter_mut().find(|e| e.path == t.file) {
        e.diverged |= hash(before) != e.written;
        e.written = written;
        e.url = e.url.take().or(url);
        for w in wrapped {
            if !e.wrapped.contains(&w) {
                e.wrapped.push(w);
            }
        }
    } else {
        let mode = mode_of(&t.file);
        let backup = match before {
            None => None,
            Some(b) => {
                let name = t
                    .file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let p = state.join(format!("{}-{}-{name}", manifest.files.len() + 1, t.agent));
                write_file(&p, b, Some(0o600))
                    .map_err(|e| format!("cannot back up to `{}`: {e}", p.display()))?;
                Some(p)
            }
        };
        manifest.files.push(Entry {
            agent: t.agent.to_owned(),
            path: t.file.clone(),
            backup,
            mode,
            written,
            url,
            wrapped: wrapped.collect(),
            diverged: false,
        });
    }
    // Recorded before the file is written: a crash in between leaves a record undo can use.
    manifest
        .save(state)
        .map_err(|e| format!("cannot save setup's record: {e}"))?;
    if let Some(dir) = t.file.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
    }
    write_file(&t.file, after.as_bytes(), None).map_err(|e| e.to_string())
}

fn undo(home: &Path) -> Exit {
    let state = state_dir(home);
    let mut manifest = match Manifest::load(&state) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Usage;
        }
    };
    let mut out = std::io::stdout().lock();
    if manifest.files.is_empty() {
        let _ = writeln!(out, "nothing to undo: crust setup has not changed any file");
        return Exit::Ok;
    }
    let mut kept = Vec::new();
    let mut failed = false;
    for e in std::mem::take(&mut manifest.files) {
        match undo_one(&e) {
            Ok(msg) => {
                let _ = writeln!(out, "{}: {}: {msg}", e.agent, e.path.display());
                if let Some(b) = &e.backup {
                    let _ = std::fs::remove_file(b);
                }
            }
            Err(why) => {
                failed = true;
                let _ = writeln!(
                    out,
                    "{}: {}: not restored: {why}",
                    e.agent,
                    e.path.display()
                );
                kept.push(e);
            }
        }
    }
    manifest.files = kept;
    if let Err(e) = manifest.save(&state) {
        eprintln!("error: cannot save setup's record: {e}");
        return Exit::Usage;
    }
    // Gone when empty: nothing of setup's is left.
    let _ = std::fs::remove_dir(&state);
    if failed {
        Exit::Policy
    } else {
        Exit::Ok
    }
}

/// Restores one file: the backup when the file is as setup left it, else setup's own changes
/// taken out of what is there now.
fn undo_one(e: &Entry) -> Result<String, String> {
    let current = match std::fs::read(&e.path) {
        Ok(b) => Some(b),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => return Err(format!("cannot read it: {err}")),
    };
    if hash(current.as_deref()) == e.written && !e.diverged {
        match &e.backup {
            None => {
                return std::fs::remove_file(&e.path)
                    .map(|()| "removed (setup created it)".to_owned())
                    .map_err(|err| err.to_string())
            }
            // A backup that is gone: setup's edits are taken out instead.
            Some(b) => {
                if let Ok(bytes) = std::fs::read(b) {
                    return write_file(&e.path, &bytes, e.mode)
                        .map(|()| "restored from the backup".to_owned())
                        .map_err(|err| err.to_string());
                }
            }
        }
    }
    let Some(current) = current else {
        return Ok("already gone".into());
    };
    let text = std::str::from_utf8(&current).map_err(|_| "it is no longer UTF-8 text")?;
    let reverted = if e.path.extension().is_some_and(|x| x == "toml") {
        edit::toml_undo(text, e.url.is_some(), &e.wrapped)
    } else {
        edit::json_undo(text, e.url.as_deref(), &e.wrapped)
    }?;
    if reverted == text {
        return Ok("changed since setup, and holds nothing of setup's: left as it is".into());
    }
    write_file(&e.path, reverted.as_bytes(), None).map_err(|err| err.to_string())?;
    Ok("changed since setup: took out what setup added, kept the rest".into())
}

/// The file a chain of symbolic links ends at, even one not created yet (a dotfiles link
/// whose target is missing is written at its target, never replaced by a plain file).
fn link_target(path: &Path) -> std::io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let to = std::fs::read_link(&p)?;
                p = match p.parent() {
                    Some(dir) if to.is_relative() => dir.join(to),
                    _ => to,
                };
            }
            _ => return Ok(p),
        }
    }
    Err(std::io::Error::other(format!(
        "{} is a loop of symbolic links",
        path.display()
    )))
}

fn mode_of(p: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p)
            .ok()
            .map(|m| m.permissions().mode() & 0o7777)
    }
    #[cfg(not(unix))]
    {
        let _ = p;
        None
    }
}

/// Writes through a temporary file and a rename, so an agent never reads half a config. A
/// symbolic link (a dotfiles checkout) is written through, not replaced. The permission bits
/// are `mode`, else the old file's, else 0600.
fn write_file(path: &Path, bytes: &[u8], mode: Option<u32>) -> std::io::Result<()> {
    let target = link_target(path)?;
    let mode = mode.or_else(|| mode_of(&target)).unwrap_or(0o600);
    let dir = target.parent().unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.crust-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &target)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
