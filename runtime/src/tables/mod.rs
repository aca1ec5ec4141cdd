//! The tool table and the command table: which tool argument and which shell command means
//! what. Both are data, written in `rules/tools/*.yaml` and `rules/commands/*.yaml`, compiled
//! into the bundle's metadata; users add their own tools and commands the same way.

pub mod secrets;

use crate::model::Action;
use foldhash::HashMap;
use serde::{Deserialize, Serialize};

/// Both tables as the bundle stores them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Tables {
    pub tools: Vec<ToolSpec>,
    pub commands: Vec<CommandSpec>,
    /// Argument keys (canonical) that unknown tools are read by.
    pub shape: ShapeSpec,
    /// Credential formats the content scanner reports through the `secret` field.
    pub secrets: secrets::SecretTable,
    /// Interpreted languages: what their library calls do to files, processes and the
    /// network, for code given in a command (`python3 -c`, `node -e`).
    pub languages: Vec<LanguageSpec>,
    /// Files that something runs later (hooks, start-up files, package scripts, CI
    /// workflows): what a write puts in them is judged as the commands it holds.
    pub later: Vec<LaterSpec>,
    /// Package registries: their most used names, against which installed names are checked
    /// for look-alikes (typosquats).
    pub registries: Vec<RegistrySpec>,
}

/// How a registry compares package names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum NameFold {
    /// Case ignored (npm).
    #[default]
    Lower,
    /// PyPI's PEP 503: case ignored, and every run of `-`, `_` and `.` is one `-`.
    Pep503,
    /// crates.io: case ignored, `_` and `-` the same.
    Crates,
    /// RubyGems: case ignored; an operand may carry its version (`rails:7.1`).
    Gem,
    /// Go module paths (`github.com/user/repo`): case ignored; a package path below a module
    /// is that module's (`golang.org/x/tools/gopls`), a version follows `@`.
    Go,
    /// Maven coordinates: `group:artifact`, case ignored; a version may follow.
    Maven,
}

/// One package registry's most used names. Both lists are stored folded, each name followed
/// by a newline (`known` also starts with one: `"\na\nb\n"`), so a lookup is one substring
/// search and loading costs two allocations whatever the list's length.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RegistrySpec {
    pub name: String,
    pub fold: NameFold,
    /// Every listed name: an install of one of these is not a look-alike of another.
    pub known: String,
    /// The most used names (at least 5 characters), most used first: a name one edit away
    /// from one of them that is not itself known imitates it.
    pub guarded: String,
    /// Built on first use: the hash of each guarded name and of each of its one-deletion
    /// variants, with the name's offset in `guarded`, sorted. Two names one edit apart share
    /// such a variant (a substitution or a swap deletes to the same text; an insertion
    /// deletes to the other name), so a lookup is a few binary searches, not a scan.
    #[serde(skip)]
    neighbours: std::sync::OnceLock<Neighbours>,
    /// Built on first use: the hash of each known name, sorted (a lookup is a binary search,
    /// not a scan of the list; a Go path asks for each of its parents).
    #[serde(skip)]
    known_hashes: std::sync::OnceLock<Vec<u64>>,
}

/// The polynomial hash of `s` (the one the look-alike index uses for whole names).
fn name_hash(s: &[u8]) -> u64 {
    s.iter().fold(0u64, |h, &c| {
        h.wrapping_mul(HASH_BASE).wrapping_add(u64::from(c) + 1)
    })
}

/// Names shorter than this are not guarded: one edit from `six` or `glob` is too often
/// another real package.
pub const MIN_GUARDED_LEN: usize = 5;

/// Polynomial hash base; the hash of a concatenation is computable from its parts, so every
/// one-deletion variant of a name is hashed in constant time.
const HASH_BASE: u64 = 0x0000_0100_0000_01b3;

/// Longest name the look-alike index holds; longer guarded names are left out (no popular
/// package has one) and longer installed names cannot be one edit from a guarded one.
const MAX_GUARDED_LEN: usize = 64;

/// Buckets of the look-alike index by the hash's top bits.
const NEIGHBOUR_BUCKETS: usize = 1 << 12;

/// The hash of `s`, and of `s` with each single byte deleted (in `out`); `s` is at most
/// `MAX_GUARDED_LEN + 1` bytes (longer: `None`).
fn deletion_hashes(s: &[u8], out: &mut Vec<u64>) -> Option<u64> {
    const N: usize = MAX_GUARDED_LEN + 2;
    let n = s.len();
    if n >= N {
        return None;
    }
    // prefix[i]: hash of s[..i]; suffix[j]: hash of s[j..]; pow[k]: base^k.
    let (mut prefix, mut suffix, mut pow) = ([0u64; N + 1], [0u64; N + 1], [1u64; N + 1]);
    for (i, &c) in s.iter().enumerate() {
        let (h, p) = (prefix.get(i).copied()?, pow.get(i).copied()?);
        *prefix.get_mut(i + 1)? = h.wrapping_mul(HASH_BASE).wrapping_add(u64::from(c) + 1);
        *pow.get_mut(i + 1)? = p.wrapping_mul(HASH_BASE);
    }
    for j in (0..n).rev() {
        let c = u64::from(*s.get(j)?) + 1;
        let below = suffix.get(j + 1).copied()?;
        *suffix.get_mut(j)? = c
            .wrapping_mul(pow.get(n - 1 - j).copied()?)
            .wrapping_add(below);
    }
    for i in 0..n {
        let (left, right) = (prefix.get(i).copied()?, suffix.get(i + 1).copied()?);
        out.push(
            left.wrapping_mul(pow.get(n - 1 - i).copied()?)
                .wrapping_add(right),
        );
    }
    prefix.get(n).copied()
}

/// The look-alike index: `(hash, offset in guarded)` sorted, and where each bucket of hashes
/// (by their top bits) starts in it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Neighbours {
    entries: Vec<(u64, u32)>,
    buckets: Vec<u32>,
}

impl Neighbours {
    fn bucket(h: u64) -> usize {
        (h >> (64 - NEIGHBOUR_BUCKETS.trailing_zeros())) as usize
    }

    /// The offsets of the guarded names with a variant hashing to `h`.
    fn find(&self, h: u64) -> impl Iterator<Item = u32> + '_ {
        let b = Self::bucket(h);
        let lo = self.buckets.get(b).map_or(0, |&x| x as usize);
        let hi = self.buckets.get(b + 1).map_or(lo, |&x| x as usize);
        let slice = self.entries.get(lo..hi).unwrap_or(&[]);
        let start = slice.partition_point(|&(x, _)| x < h);
        slice
            .get(start..)
            .unwrap_or(&[])
            .iter()
            .take_while(move |e| e.0 == h)
            .map(|e| e.1)
    }
}

impl RegistrySpec {
    pub fn new(name: String, fold: NameFold, known: String, guarded: String) -> Self {
        RegistrySpec {
            name,
            fold,
            known,
            guarded,
            neighbours: std::sync::OnceLock::new(),
            known_hashes: std::sync::OnceLock::new(),
        }
    }

    /// `name` folded the registry's way.
    pub fn fold(&self, name: &str) -> String {
        fold_name(self.fold, name)
    }

    fn neighbours(&self) -> &Neighbours {
        self.neighbours.get_or_init(|| {
            let mut entries = Vec::new();
            let mut hashes = Vec::new();
            let mut at = 0usize;
            for g in self.guarded.split_terminator('\n') {
                hashes.clear();
                let offset = u32::try_from(at).unwrap_or(u32::MAX);
                at += g.len() + 1;
                let Some(whole) = deletion_hashes(g.as_bytes(), &mut hashes) else {
                    continue;
                };
                entries.push((whole, offset));
                entries.extend(hashes.iter().map(|&h| (h, offset)));
            }
            entries.sort_unstable();
            entries.dedup();
            let mut buckets = vec![0u32; NEIGHBOUR_BUCKETS + 1];
            for (b, slot) in buckets.iter_mut().enumerate() {
                let first = entries.partition_point(|&(h, _)| Neighbours::bucket(h) < b);
                *slot = u32::try_from(first).unwrap_or(u32::MAX);
            }
            Neighbours { entries, buckets }
        })
    }

    /// The popular name that `name` (as written in an install) imitates: one insertion,
    /// deletion, substitution or swap of neighbours away from a guarded name, and not
    /// itself a known name.
    pub fn imitated<'a>(&'a self, name: &str) -> Option<&'a str> {
        let n = self.fold(name);
        if self.fold != NameFold::Go {
            return self.imitated_folded(&n);
        }
        // A package below a module is the module's (`golang.org/x/tools/gopls`): the path
        // and each of its parents with two segments or more, longest first. A known one
        // settles it; otherwise the first that imitates a guarded module.
        let mut cuts: Vec<&str> = vec![n.as_str()];
        cuts.extend(
            n.match_indices('/')
                .map(|(i, _)| n.get(..i).unwrap_or(""))
                .filter(|p| p.contains('/'))
                .rev(),
        );
        if cuts.iter().any(|p| self.is_known(p)) {
            return None;
        }
        cuts.iter().find_map(|p| self.imitated_folded(p))
    }

    /// Whether `folded` is one of the listed names.
    fn is_known(&self, folded: &str) -> bool {
        let hashes = self.known_hashes.get_or_init(|| {
            let mut v: Vec<u64> = self
                .known
                .split('\n')
                .filter(|n| !n.is_empty())
                .map(|n| name_hash(n.as_bytes()))
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        });
        hashes.binary_search(&name_hash(folded.as_bytes())).is_ok()
    }

    fn imitated_folded<'a>(&'a self, n: &str) -> Option<&'a str> {
        // Short names are left alone both ways: a four-letter crate one letter short of a
        // five-letter one (`unty`, `funty`) is as often real as not.
        if n.len() < MIN_GUARDED_LEN {
            return None;
        }
        let index = self.neighbours();
        let mut keys = Vec::with_capacity(n.len() + 1);
        let whole = deletion_hashes(n.as_bytes(), &mut keys)?;
        keys.push(whole);
        // A version digit added or changed (`split2`, `boto3`, `…-cu13`) is how real
        // packages name their variants, not how look-alikes are made.
        let letters = |s: &str| {
            s.bytes()
                .filter(|b| !b.is_ascii_digit())
                .collect::<Vec<u8>>()
        };
        let mut best: Option<u32> = None;
        for key in keys {
            for offset in index.find(key) {
                if best.is_some_and(|b| b <= offset) {
                    continue;
                }
                let rest = self.guarded.get(offset as usize..).unwrap_or("");
                let g = rest.split('\n').next().unwrap_or("");
                if one_edit(g.as_bytes(), n.as_bytes())
                    && letters(g) != letters(n)
                    && !in_short_segment(g.as_bytes(), n.as_bytes())
                {
                    best = Some(offset);
                }
            }
        }
        let popular = best.and_then(|o| {
            let rest = self.guarded.get(o as usize..)?;
            rest.split('\n').next()
        })?;
        // A popular name itself is no look-alike of its neighbour (`scapy`, `scipy`).
        (!self.is_known(n)).then_some(popular)
    }
}

/// Whether the one edit between `g` and `n` falls inside a short segment after the first
/// (`aws-sdk-sns`/`aws-sdk-sqs`, `github.com/pion/rtp`/`…/rtcp`): families of packages
/// name their members by two- and three-letter abbreviations, one letter apart from each
/// other, so such an edit is how siblings differ, not how look-alikes are made. An edit of
/// a separator itself is never in a segment (`cross-env`/`crossenv`).
fn in_short_segment(g: &[u8], n: &[u8]) -> bool {
    let sep = |b: &u8| matches!(b, b'-' | b'_' | b'.' | b'/' | b':' | b'@');
    let p = g.iter().zip(n).take_while(|(x, y)| x == y).count();
    if g.get(p).is_some_and(sep) || n.get(p).is_some_and(sep) {
        return false;
    }
    // The segment of the popular name holding the edit (a short one in the other name is
    // as often a letter dropped from a longer word: `golangci-lnt`).
    let start = g
        .get(..p)
        .and_then(|h| h.iter().rposition(sep))
        .map_or(0, |i| i + 1);
    let end = g
        .get(p..)
        .and_then(|t| t.iter().position(sep))
        .map_or(g.len(), |i| p + i);
    start > 0 && end - start <= 3
}

/// Folds a package name: lower case, and the registry's separators made one.
pub fn fold_name(fold: NameFold, name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    match fold {
        NameFold::Lower | NameFold::Gem | NameFold::Go => lower,
        NameFold::Maven => scala_plain(&lower),
        NameFold::Crates => lower.replace('_', "-"),
        NameFold::Pep503 => {
            let mut out = String::with_capacity(lower.len());
            for c in lower.chars() {
                if matches!(c, '-' | '_' | '.') {
                    if !out.ends_with('-') {
                        out.push('-');
                    }
                } else {
                    out.push(c);
                }
            }
            out
        }
    }
}

/// Maven coordinates without Scala's cross-version spelling: `g::a` is `g:a`, and an
/// artifact's `_2.13`, `_3`, `_sjs1_2.13` suffix names the compiler it was built for, not
/// another package.
fn scala_plain(coords: &str) -> String {
    let mut s = coords.replacen("::", ":", 1);
    while let Some(i) = s.rfind('_') {
        let tail = s.get(i + 1..).unwrap_or("");
        let version = !tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit() || b == b'.');
        let platform = matches!(tail, "sjs1" | "sjs0.6" | "native0.4" | "native0.5");
        if !(version || platform) || !s.get(..i).is_some_and(|h| h.contains(':')) {
            break;
        }
        s.truncate(i);
    }
    s
}

/// Whether `a` and `b` differ by exactly one insertion, deletion, substitution or swap of
/// two neighbouring characters (optimal string alignment distance 1).
pub fn one_edit(a: &[u8], b: &[u8]) -> bool {
    if a == b || a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let p = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (ra, rb) = (a.get(p..).unwrap_or(&[]), b.get(p..).unwrap_or(&[]));
    match a.len().cmp(&b.len()) {
        std::cmp::Ordering::Less => ra == rb.get(1..).unwrap_or(&[]),
        std::cmp::Ordering::Greater => ra.get(1..).unwrap_or(&[]) == rb,
        std::cmp::Ordering::Equal => {
            let (ta, tb) = (ra.get(1..).unwrap_or(&[]), rb.get(1..).unwrap_or(&[]));
            ta == tb
                || (ra.len() >= 2
                    && ra.first() == rb.get(1)
                    && ra.get(1) == rb.first()
                    && ra.get(2..) == rb.get(2..))
        }
    }
}

/// One kind of file that runs later, by its paths and how its commands are read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaterSpec {
    pub format: LaterFormat,
    /// Globs over absolute paths: `$HOME/…`, `**/…`, `*` within a segment.
    pub paths: Vec<String>,
    /// The commands run on another machine or in a container (CI runners, image builds),
    /// not on this one: their operations carry `runs-elsewhere`.
    #[serde(default)]
    pub elsewhere: bool,
}

/// How the commands of a file that runs later are found (see `crate::later`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LaterFormat {
    /// The whole text is a shell script (git hooks, start-up files, `.envrc`).
    Shell,
    /// crontab lines: a schedule, then a command.
    Crontab,
    /// `package.json`: the `scripts` values.
    PackageJson,
    /// Editor task files (JSON with comments): each task's `command` and `args`.
    EditorTasks,
    /// CI and hook YAML: `run:`, `script:`, `before_script:`, `after_script:`, `entry:`.
    CiYaml,
    /// Dockerfile `RUN` instructions.
    Dockerfile,
    /// Makefile recipes and `$(shell …)`.
    Makefile,
    /// systemd units: `Exec…=` lines.
    Systemd,
    /// Python `.pth` files: lines starting with `import` run at every start of Python.
    PythonPth,
    /// OpenSSH client configuration: `ProxyCommand`, `LocalCommand`, `KnownHostsCommand`
    /// and `Match exec` run a command at every matching `ssh` (and every `git` over ssh).
    SshConfig,
    /// A whole Python module that tools import on their own (`setup.py` at every install,
    /// `conftest.py` at every test run, `sitecustomize.py` at every start of Python).
    Python,
    /// JetBrains run configurations (XML): a shell script's text (`SCRIPT_TEXT`) runs when
    /// the configuration does.
    JetbrainsRun,
    /// Vim script start-up files: `:!CMD` (in autocommands and mappings too) and the strings
    /// given to `system()`, `systemlist()`, `jobstart()` and `termopen()`.
    Vim,
    /// launchd property lists (XML): `ProgramArguments` (a program and its arguments, run
    /// without a shell) and `Program`.
    LaunchdPlist,
    /// pip requirements files: what `pip install -r` fetches, each line as its operand.
    Requirements,
    /// `pyproject.toml`: the dependencies an install of the project fetches.
    Pyproject,
    /// `Cargo.toml`: the crates a build fetches.
    CargoToml,
    /// MCP server lists of coding agents (`mcpServers`, `servers`): each server's program,
    /// arguments and environment, and the URL of a remote server.
    McpConfig,
    /// Compose files: each service as the `docker run` it amounts to on this machine.
    Compose,
    /// Gemfiles and gemspecs: the gems Bundler fetches and their sources; the file is Ruby
    /// that Bundler runs.
    Gemfile,
    /// `go.mod` and `go.work`: the modules a build fetches.
    GoMod,
    /// Maven `pom.xml` and `settings.xml`: artifacts, repositories and mirrors, and the
    /// programs `exec-maven-plugin` runs.
    MavenPom,
    /// Gradle scripts and version catalogs: artifacts, repositories, and the commands of
    /// `commandLine` and `"…".execute()`.
    Gradle,
}

/// One interpreted language: its syntax family and the calls the code analysis knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LanguageSpec {
    pub name: String,
    /// Lower-case command names that run code of this language.
    pub interpreters: Vec<String>,
    pub syntax: Syntax,
    pub calls: Vec<CallSpec>,
    /// Command names of a shell language mapped to command-table names (PowerShell's
    /// `Remove-Item` and `del` are `rm`), lower-case.
    pub aliases: Vec<(String, String)>,
}

/// How a language writes strings, comments, variables and concatenation: the lexer and the
/// evaluator follow these; what calls mean is data ([`CallSpec`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Syntax {
    Python,
    JavaScript,
    Perl,
    Ruby,
    Php,
    /// PowerShell: statements are commands (through the command table, by `aliases`); its
    /// expressions (`[IO.File]::ReadAllText(…)`) go through the code analysis.
    PowerShell,
    /// awk programs: `system()`, `"cmd" | getline`, `print > "file"`, `/inet/` sockets.
    Awk,
    /// AppleScript (`osascript -e`): `do shell script`, `set x to …`, `&` joins text.
    AppleScript,
}

/// Library calls that share a meaning. A name matches a call whose dotted name (`os.system`,
/// `child_process.execSync`, `FileUtils.rm_rf`; `::` and `->` read as `.`) equals it or ends
/// with `.` and the name, and a method of that name on any value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallSpec {
    pub names: Vec<String>,
    pub does: Capability,
}

/// What a call does, for the code analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Capability {
    /// Reads, writes or deletes the path in its first argument (the receiver when it has
    /// none: `Path(p).unlink()`); deletes take every argument (`unlink "a", "b"`).
    Path(Action),
    /// `open(path, mode)`: a read, or a write when a mode says so (`w`, `a`, `>`, `+`).
    Open,
    /// Copies or moves its first argument to its second.
    Copy,
    Move,
    /// Runs its argument as a shell command line.
    Shell,
    /// Runs a process: an argv list (or program and list), or a string as a command line.
    Exec,
    /// Runs its argument as code of the same language.
    Eval,
    /// Fetches a URL or connects to a host named in its arguments.
    Network,
    /// Opens a network socket (with a host when one is named).
    Socket,
    /// Wires a descriptor to another (`os.dup2`): with a socket, a process talks to the peer.
    Dup,
    /// Starts a copy of the process.
    Fork,
    /// Loads a module: the value is the module (`require('fs')`, `__import__('os')`).
    Import,
    /// The home directory.
    Home,
    /// `~` at the start of its argument becomes the home directory.
    ExpandHome,
    /// An environment variable named by its argument.
    Env,
    /// Joins its arguments as path segments (`os.path.join`, `Path(a, b)`).
    PathJoin,
    /// `sep.join(list)`, `list.join(sep)`, `join(sep, list)`.
    Join,
    /// Its value is its argument (or receiver): `.decode()`, `.toString()`, `.strip()`.
    Same,
    /// `sprintf`-style formatting of its arguments.
    Format,
    /// Characters from code points (`chr`, `String.fromCharCode`).
    Chr,
    /// Decoders of their argument.
    Base64,
    Hex,
    /// zlib, gzip or raw deflate data, whichever it is.
    Inflate,
    /// `Buffer.from(text, encoding)`: decodes when the encoding is `base64` or `hex`.
    Buffer,
    /// `getattr(obj, "name")`: the member of its first argument named by its second.
    Member,
    /// `obj.send(:name, args…)`: calls the receiver's method named by its first argument.
    Send,
    /// `call_user_func(f, args…)`, `Reflect.apply(f, this, [args])`: calls the function its
    /// first argument names (or holds) with the other arguments (a list among them spread).
    Apply,
    /// `map(f, list)`, `list.map(f)`, `array_map(f, list)`: the function applied to each item.
    Map,
    /// Text or a list in reverse order (`strrev`, `reverse`, `[::-1]` is built in).
    Reverse,
    /// `text.split(sep)`: a list of pieces.
    Split,
    /// ROT13 of its argument.
    Rot13,
    /// Runs data as code in a form Crust does not read (`pickle.loads`): always refused.
    Runs,
    /// The working directory (`os.getcwd()`, `process.cwd()`).
    Cwd,
    /// A name whose value is the path separator (`os.sep`, `DIRECTORY_SEPARATOR`).
    Separator,
    /// Lists a directory (`os.walk`, `rglob`, `readdirSync`): reads it, and its items are the
    /// paths below it.
    List,
    /// Sends a file to a URL (`WebClient.UploadFile(url, file)`): reaches the host of its
    /// first argument and reads its last.
    Upload,
}

/// One tool (several names may share it).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ToolSpec {
    /// Lower-case names.
    pub names: Vec<String>,
    pub args: Vec<ArgSpec>,
    /// The operation of a call that names no path (e.g. a web search is network).
    pub action: Option<Action>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArgSpec {
    /// Canonical key: lower-case, without `_` and `-`.
    pub key: String,
    pub role: ArgRole,
}

/// What a tool argument is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ArgRole {
    /// A path (or array of paths) the tool acts on this way.
    Path(Action),
    /// The source of a move (deleted there) or copy (read there).
    From(Action),
    /// The destination of a move or copy (written there).
    To(Action),
    /// A directory that `Glob` arguments are relative to; itself read.
    Dir,
    /// A glob pattern, relative to the `Dir` argument or the working directory; read.
    Glob,
    /// Text the tool writes.
    Content,
    /// Text the tool writes into part of the file (an edit's new text).
    Fragment,
    /// A shell script.
    Shell,
    /// A PowerShell script.
    PowerShell,
    /// An argv array (a string is taken as a script).
    Argv,
    /// An `apply_patch` body.
    Patch,
    /// A URL fetched (a `file:` URL is a read).
    Url,
    /// Free text sent to the network (a search query).
    Query,
    /// A file, or a directory whose files the tool reads (a search tool): outside the
    /// project, everything below it is judged as read.
    Tree,
    /// Free text sent to the network whose URLs are fetched (Gemini CLI's `web_fetch` prompt).
    Links,
}

/// Key lists for tools the table does not know.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ShapeSpec {
    pub path: Vec<String>,
    /// Endings of keys that name a path too (`db_path`, `config_file`, `output_dir`).
    pub path_suffix: Vec<String>,
    pub url: Vec<String>,
    pub command: Vec<String>,
    pub content: Vec<String>,
}

/// One shell command (several names may share it).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CommandSpec {
    /// Lower-case names.
    pub names: Vec<String>,
    pub kind: CmdKind,
    /// Positional arguments that are not paths (a mode, a pattern, a duration).
    pub skip: u8,
    /// The first skipped operand is a permission mode (`chmod MODE`): a mode that only takes
    /// access away from the group and others, and grants the owner nothing to run, changes
    /// metadata only (`chmod 600 KEY`, `chmod go-rwx DIR`).
    pub permissions: bool,
    /// Operands may be evaluated as arithmetic (`[[ X -eq Y ]]`, `test -v`, `declare -i`,
    /// `let`), where an array subscript runs the command substitutions in its text even when
    /// it was quoted: such text is judged as shell code.
    pub arithmetic: bool,
    pub flags: Vec<FlagSpec>,
    /// Whether directory arguments are read recursively (`tar`, `zip -r`, `scp -r`).
    pub recursive: bool,
    /// Output is always a transformation of the input (`rev`, `tr`), so text piped
    /// through it into a shell is treated as decoded.
    pub decoder: bool,
    /// The first argument may be a flag cluster without a dash (`tar czf out.tgz dir`).
    pub bundled: bool,
    /// What it prints, when the analysis can work that out from known text.
    pub produces: Option<Produce>,
    /// A network client that prints what it fetches unless told to save it (`curl`, not
    /// `wget`): piped into a shell, the download runs.
    pub prints: bool,
    /// Subcommands (one or two words: `install`, `pip install`) whose operands are packages
    /// fetched and installed: an operand that is a URL or a git source is code from there.
    pub installs: Vec<String>,
    /// The registry (`rules/registries`) the operands of `installs` name packages of: each
    /// name is checked for a look-alike of a popular package.
    #[serde(default)]
    pub registry: Option<String>,
    /// Subcommands of `installs` that run the package named by their first operand (`npx
    /// PKG ARGS`, `uv tool run PKG`, `*` for the command itself): only that operand is a
    /// package name, the rest are its arguments.
    #[serde(default)]
    pub launches: Vec<String>,
    /// Subcommands of `installs` whose operands are not registry names (`uv run CMD`).
    #[serde(default)]
    pub unnamed: Vec<String>,
    /// Subcommands (`config`, `config set`) whose `KEY VALUE` operands are stored settings
    /// that run later (`git config core.pager CMD`): judged as `-c KEY=VALUE` is, as code
    /// that runs unattended.
    pub configures: Vec<String>,
    /// Subcommands that delete the files their operands name, or the whole working directory
    /// when there are none, once forced (`git clean -f [PATHSPEC…]`; `-n` only lists).
    #[serde(default)]
    pub cleans: Vec<String>,
    /// How the command serves a directory over the network (`python3 -m http.server`,
    /// `http-server DIR`, `php -S ADDR -t DIR`): every file below it goes to whoever connects.
    #[serde(default)]
    pub serves: Vec<Serve>,
    /// Subcommands that run the script named next (`deno run SCRIPT`): dropped from the
    /// operands, so the script is the first.
    #[serde(default)]
    pub runs: Vec<String>,
    /// Subcommands that run the command that follows as a command of its own (`bundle exec
    /// CMD`, `poetry run CMD`, `rbenv exec CMD`): it is judged as that command.
    #[serde(default)]
    pub execs: Vec<String>,
    /// The command unpacks archives (`tar x`, `unzip`): files unpacked from a download are
    /// code from there when they run. `Some(flags)`: the flags that name the directory
    /// unpacked into (else the working directory).
    #[serde(default)]
    pub unpacks: Option<Vec<String>>,
    /// Flags whose value is a file of file-transfer commands (`sftp -b FILE`; `-` is standard
    /// input): `put` sends local files, `get` writes them, `!CMD` runs a local shell.
    #[serde(default)]
    pub batch: Vec<String>,
    /// Flags whose value is such commands as text (`lftp -c CMDS`, `smbclient -c CMDS`).
    #[serde(default)]
    pub batch_text: Vec<String>,
    /// The entry this command is judged as when no operand names a remote host (`rsync
    /// SRC DST` on one machine is a copy: DST is written, and `--delete` empties it).
    #[serde(default)]
    pub local: Option<String>,
}

/// One way a command serves a directory: after the words `after` (empty: from the command
/// name on), the directory is a `dir` flag's value, or each operand when `operands`, else the
/// working directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Serve {
    /// Words that start serving (`-m http.server`); a word also matches itself with a
    /// version attached (`http-server@14`).
    pub after: Vec<String>,
    /// Flags whose value is the directory served (`-d`, `--directory`).
    pub dir: Vec<String>,
    /// Operands after `after` name directories served (`http-server ~/site`).
    pub operands: bool,
}

/// A text tool the shell analysis evaluates: its output, from known input, is computed and
/// used where the shell would use it (an argument, a command name, a script fed to a shell).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Produce {
    /// Its input unchanged (`cat`): standard input, or a file written earlier in the call.
    Input,
    /// `base64 -d` (with the decode flag; otherwise the output is not worked out).
    Base64,
    /// `base32 -d`.
    Base32,
    /// `xxd -r -p`: hex digits to bytes.
    Hex,
    /// Each line reversed.
    Rev,
    /// `tr SET1 SET2`, `tr -d SET`.
    Tr,
    /// `cut -d D -f LIST`, `cut -c LIST`.
    Cut,
    /// `sed s/LITERAL/TEXT/[g]` scripts.
    Sed,
    /// `awk '{print $N …}'` with `-F`.
    Awk,
    Head,
    Tail,
    Sort,
    Uniq,
    /// Lines in reverse order.
    Tac,
    /// Of its arguments.
    Dirname,
    Basename,
    Realpath,
    /// `which NAME`: where the command is (its name is what matters).
    Which,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum CmdKind {
    /// Positional arguments are paths acted on this way.
    Files(Action),
    /// Sources read, the last argument written.
    Copy,
    /// Sources moved away (deleted), the last argument written.
    Move,
    /// Positional arguments are URLs, hosts, `host:path` remotes or local files sent.
    Network,
    /// The first positional argument is a host; the rest runs there.
    Remote,
    /// The first non-flag argument (after `skip`) is the real command.
    Wrapper,
    /// `sh`, `bash`: `-c SCRIPT`, a script file, or a script on standard input.
    Shell,
    /// `python -c`, `node -e`: code in a flag, a script file, or standard input.
    Interpreter,
    /// `eval`: the arguments joined are a script.
    Eval,
    /// `xargs`: runs a command with arguments from standard input.
    Xargs,
    /// `find`: paths, then an expression that may `-exec` or `-delete`.
    Find,
    /// `cd`, `pushd`: later relative paths resolve there.
    Cd,
    /// `source`, `.`: reads and runs a file.
    Source,
    /// `export`, `declare`, `local`: `NAME=value` arguments are assignments.
    Assign,
    /// `echo`, `printf`: their output is their arguments.
    Echo,
    /// `alias NAME=VALUE`: later commands named NAME run VALUE.
    Alias,
    /// `read NAME…`: variables from standard input (a here-string, a here-document).
    Read,
    /// `ln`: sources are linked, not read; later paths through the link reach its target.
    Link,
    /// Arguments are not files (unless they look like paths).
    #[default]
    Plain,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagSpec {
    /// `-o`, `--output`, or `if=` (a `key=` operand as `dd` takes).
    pub flag: String,
    pub role: FlagRole,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FlagRole {
    /// Takes a value that is not a file.
    Value,
    /// Takes a path acted on this way.
    Path(Action),
    /// Takes a value that names a file when it starts with `@` (`curl -d @file`).
    AtPath(Action),
    /// Takes code (`python -c`, `node -e`, `sh -c`).
    Code,
    /// Supplies the pattern, so no positional argument is skipped (`grep -e`).
    Pattern,
    /// Reads the pattern or program from a file (`grep -f`, `awk -f`, `sed -f`).
    PatternFile,
    /// Changes what positional arguments undergo (`sed -i` writes).
    Mode(Action),
    /// Makes the command a decoder (`base64 -d`, `xxd -r`).
    Decode,
    /// Makes directory arguments recursive (`cp -r`).
    Recursive,
    /// Takes a directory the command works in (`tar -C`, `make -C`, `git -C`): its relative
    /// paths resolve there.
    Chdir,
    /// Takes a `key=value` setting (`git -c`): a value that is a command (`!cmd`, or a key
    /// that names a program to run, such as `core.sshCommand`) is judged as shell code.
    Setting,
    /// Takes a name pattern that selects files (`--include`, `--exclude`, `rg -g`): never a
    /// file itself. (A `value` flag's value that looks like a path is judged as a read, so a
    /// wrong table entry cannot hide a path; filters are the values that look like one and
    /// are not.)
    Filter,
    /// Takes a private key the program uses itself and never shows or sends (`ssh -i KEY`:
    /// ssh proves it holds the key; the key does not leave the machine): not judged as a read.
    Identity,
    /// The fetched file is saved under the last segment of its URL in the working directory
    /// (`curl -O`).
    RemoteName,
    /// Takes the file a download is saved in (`curl -o`, `wget -O`); `-` is standard output.
    Output,
    /// The program is read from standard input; the operands are its arguments (`sh -s`).
    StdinCode,
    /// Takes a URL that packages are fetched from (`pip --index-url`, `npm --registry`).
    Source,
    /// Takes a package to install, which may be a URL or git source (`cargo install --git`,
    /// `uvx --from`, `npx -p`).
    Package,
    /// Takes a mount (`docker run -v SRC:DST`, `--mount type=bind,source=SRC,...`): the
    /// container reads everything below SRC.
    Mount,
    /// Takes a path the command both reads and writes (socat's `FILE:PATH` address).
    ReadWrite,
    /// Takes a module that runs with the remaining arguments (`python -m pip install X`):
    /// a module that is also a command in the table is judged as that command.
    Module,
    /// Makes a copy's destination lose what its sources lack (`rsync --delete`): the
    /// destination is judged as deleted whole as well as written.
    Mirror,
    /// Makes the command change nothing (`rsync -n`, `--dry-run`): what it would write,
    /// delete or move is only read.
    DryRun,
}

/// Lookup indexes built at load; a name defined twice means its later entry (user files
/// come after the built-in ones).
#[derive(Debug, Default)]
pub struct TableIndex {
    pub tools: HashMap<String, u32>,
    pub commands: HashMap<String, u32>,
    /// Interpreter command name to language.
    pub languages: HashMap<String, u32>,
    /// Per language (in table order), its calls by the last segment of their names.
    pub calls: Vec<CallIndex>,
    /// Files that run later by the literal last segment of their globs: (entry, glob).
    pub later_names: HashMap<String, Vec<(u32, u32)>>,
    /// Globs whose last segment has a wildcard, by their literal parent directory's name
    /// (`.git/hooks/*` under `hooks`).
    pub later_parents: HashMap<String, Vec<(u32, u32)>>,
    /// The other globs whose last segment has a wildcard (`**/*.mk`).
    pub later_wild: Vec<(u32, u32)>,
    /// Credential variable name to its bit (the entry's index in `secrets.variables`).
    pub secret_vars: HashMap<String, u64>,
}

/// A language's call names by their last dotted segment (lower-case where the language
/// ignores case), each with its meaning and the whole name: a call is looked up by its own
/// last segment, then matched on the rest.
pub type CallIndex = HashMap<String, Vec<(Capability, String)>>;

/// The key a call name is indexed and looked up under.
pub fn call_key(name: &str, fold: bool) -> String {
    let last = name.rsplit('.').next().unwrap_or(name);
    if fold {
        last.to_ascii_lowercase()
    } else {
        last.to_owned()
    }
}

impl Tables {
    pub fn index(&self) -> TableIndex {
        let mut idx = TableIndex::default();
        for (i, t) in self.tools.iter().enumerate() {
            for n in &t.names {
                idx.tools.insert(n.clone(), i as u32);
            }
        }
        for (i, c) in self.commands.iter().enumerate() {
            for n in &c.names {
                idx.commands.insert(n.clone(), i as u32);
            }
        }
        for (i, l) in self.languages.iter().enumerate() {
            for n in &l.interpreters {
                idx.languages.insert(n.clone(), i as u32);
            }
            let fold = matches!(l.syntax, Syntax::Php | Syntax::PowerShell);
            let mut calls = CallIndex::default();
            for c in &l.calls {
                for n in &c.names {
                    calls
                        .entry(call_key(n, fold))
                        .or_default()
                        .push((c.does, n.clone()));
                }
            }
            idx.calls.push(calls);
        }
        for (i, v) in self
            .secrets
            .variables
            .iter()
            .take(secrets::MAX_SECRET_VARIABLES)
            .enumerate()
        {
            for n in &v.names {
                idx.secret_vars.insert(n.clone(), 1 << i);
            }
        }
        for (i, l) in self.later.iter().enumerate() {
            for (k, g) in l.paths.iter().enumerate() {
                let mut segs = g.rsplit('/');
                let last = segs.next().unwrap_or(g);
                let parent = segs.next().filter(|p| !p.contains(['*', '?', '[', '$']));
                let at = (i as u32, k as u32);
                if last.contains(['*', '?', '[']) {
                    match parent {
                        Some(p) => idx.later_parents.entry(p.to_owned()).or_default().push(at),
                        None => idx.later_wild.push(at),
                    }
                } else {
                    idx.later_names.entry(last.to_owned()).or_default().push(at);
                }
            }
        }
        idx
    }
}

/// Canonical argument key: lower-case, without `_` and `-` (`file_path`, `filePath` ->
/// `filepath`).
pub fn canon_key(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(fold: NameFold, known: &[&str], guarded: &[&str]) -> RegistrySpec {
        let f = |l: &[&str]| l.iter().map(|n| fold_name(fold, n)).collect::<Vec<_>>();
        RegistrySpec::new(
            "test".into(),
            fold,
            format!("\n{}\n", f(known).join("\n")),
            f(guarded).iter().map(|g| format!("{g}\n")).collect(),
        )
    }

    #[test]
    fn one_edit_is_exactly_one() {
        for (a, b) in [
            ("requests", "reqeusts"),
            ("requests", "requets"),
            ("requests", "requestss"),
            ("requests", "requezts"),
            ("lodash", "loadsh"),
            ("ab", "ba"),
            ("abc", "xabc"),
        ] {
            assert!(one_edit(a.as_bytes(), b.as_bytes()), "{a} {b}");
            assert!(one_edit(b.as_bytes(), a.as_bytes()), "{b} {a}");
        }
        for (a, b) in [
            ("requests", "requests"),
            ("requests", "reqeustz"),
            ("requests", "requestsss"),
            ("abcd", "badc"),
            ("", "ab"),
        ] {
            assert!(!one_edit(a.as_bytes(), b.as_bytes()), "{a} {b}");
        }
    }

    #[test]
    fn names_fold_the_registry_way() {
        assert_eq!(
            fold_name(NameFold::Pep503, "Python_Date..Util"),
            "python-date-util"
        );
        assert_eq!(fold_name(NameFold::Crates, "Serde_JSON"), "serde-json");
        assert_eq!(fold_name(NameFold::Lower, "Left_Pad"), "left_pad");
        assert_eq!(
            fold_name(NameFold::Maven, "org.scalatest::ScalaTest"),
            "org.scalatest:scalatest"
        );
        assert_eq!(
            fold_name(NameFold::Maven, "org.typelevel:cats-core_sjs1_2.13"),
            "org.typelevel:cats-core"
        );
        assert_eq!(fold_name(NameFold::Maven, "g:a_b"), "g:a_b");
    }

    #[test]
    fn look_alikes_name_what_they_imitate() {
        let r = registry(
            NameFold::Pep503,
            &["requests", "scipy", "scapy", "boto3", "six"],
            &["requests", "scipy", "boto3", "six"],
        );
        assert_eq!(r.imitated("reqeusts"), Some("requests"));
        assert_eq!(r.imitated("Requets"), Some("requests"));
        assert_eq!(r.imitated("requests"), None);
        // Known names are not look-alikes of each other.
        assert_eq!(r.imitated("scapy"), None);
        assert_eq!(r.imitated("scipi"), Some("scipy"));
        // A version digit, and short names, are left alone.
        assert_eq!(r.imitated("boto4"), None);
        assert_eq!(r.imitated("boto"), None);
        assert_eq!(r.imitated("sax"), None);
    }

    #[test]
    fn members_of_a_family_are_not_look_alikes_of_each_other() {
        let r = registry(
            NameFold::Gem,
            &["aws-sdk-sns", "rest-client", "cross-env"],
            &["aws-sdk-sns", "rest-client", "cross-env"],
        );
        // Another three-letter service of the same family.
        assert_eq!(r.imitated("aws-sdk-sqs"), None);
        assert_eq!(r.imitated("aws-sdk-snss"), None);
        assert_eq!(r.imitated("rest-clint"), Some("rest-client"));
        // An edit in a long segment, or of a separator, still imitates.
        assert_eq!(r.imitated("rest-cleint"), Some("rest-client"));
        assert_eq!(r.imitated("avs-sdk-sns"), Some("aws-sdk-sns"));
        assert_eq!(r.imitated("crossenv"), Some("cross-env"));
        assert_eq!(r.imitated("rest_client"), Some("rest-client"));
    }

    #[test]
    fn go_packages_are_checked_as_their_module() {
        let mods = [
            "github.com/spf13/cobra",
            "golang.org/x/tools",
            "github.com/pion/rtp",
        ];
        let r = registry(NameFold::Go, &mods, &mods);
        assert_eq!(r.imitated("golang.org/x/tools/gopls"), None);
        assert_eq!(r.imitated("github.com/spf13/cobra/doc"), None);
        assert_eq!(
            r.imitated("github.com/spf13/cobar"),
            Some("github.com/spf13/cobra")
        );
        assert_eq!(
            r.imitated("github.com/spf13/cobrra/cmd/x"),
            Some("github.com/spf13/cobra")
        );
        assert_eq!(
            r.imitated("golang.org/x/tool/cmd/stringer"),
            Some("golang.org/x/tools")
        );
        assert_eq!(r.imitated("github.com/pion/rtcp"), None);
        assert_eq!(r.imitated("github.com/someone/else"), None);
    }
}
