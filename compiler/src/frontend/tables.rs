//! The `tools:`, `commands:` and `shape:` sections of a rule file: the tables extraction
//! reads, written as data.
//!
//! ```yaml
//! tools:
//!   - names: [Read, read_file, "mcp__*__read_text_file"]
//!     args: { file_path: read, path: read }
//! commands:
//!   - names: [curl]
//!     kind: network
//!     flags: { -o: write, -T: read, -d: at-read, -H: value }
//! shape:
//!   path: [path, file_path]
//! ```

use super::yaml_tree::{Kind, Node};
use crate::diag::{Diagnostic, Diagnostics};
use crust_runtime::model::Action;
use crust_runtime::secrets::{SecretCheck, SecretFormat, SecretVariable, MAX_SECRET_VARIABLES};
use crust_runtime::tables::{
    canon_key, ArgRole, ArgSpec, CallSpec, Capability, CmdKind, CommandSpec, FlagRole, FlagSpec,
    LanguageSpec, LaterFormat, LaterSpec, NameFold, Produce, RegistrySpec, Serve, Syntax, Tables,
    ToolSpec, MIN_GUARDED_LEN,
};

const TOOL_KEYS: &[&str] = &["names", "args", "action", "description"];
const COMMAND_KEYS: &[&str] = &[
    "names",
    "kind",
    "skip",
    "flags",
    "recursive",
    "decoder",
    "produces",
    "bundled-flags",
    "permissions",
    "arithmetic",
    "prints",
    "installs",
    "configures",
    "cleans",
    "serves",
    "runs",
    "execs",
    "unpacks",
    "batch",
    "batch-text",
    "registry",
    "launches",
    "unnamed",
    "local",
    "description",
];
const LANGUAGE_KEYS: &[&str] = &[
    "name",
    "syntax",
    "interpreters",
    "calls",
    "aliases",
    "description",
];
const SYNTAXES: &[&str] = &[
    "python",
    "javascript",
    "perl",
    "ruby",
    "php",
    "powershell",
    "awk",
    "applescript",
];
const CAPABILITIES: &[&str] = &[
    "read",
    "write",
    "delete",
    "open",
    "copy",
    "move",
    "shell",
    "exec",
    "eval",
    "network",
    "socket",
    "dup",
    "fork",
    "import",
    "home",
    "expand-home",
    "env",
    "path-join",
    "join",
    "same",
    "format",
    "chr",
    "base64",
    "hex",
    "inflate",
    "buffer",
    "member",
    "send",
    "apply",
    "map",
    "reverse",
    "split",
    "rot13",
    "runs",
    "cwd",
    "separator",
    "list",
    "upload",
];
const SHAPE_KEYS: &[&str] = &["path", "path_suffix", "url", "command", "content"];
const SECRETS_KEYS: &[&str] = &["formats", "placeholders", "variables"];
const VARIABLE_KEYS: &[&str] = &["names", "hosts", "description"];
const FORMAT_KEYS: &[&str] = &["id", "description", "regex", "check", "examples"];
const ARG_ROLES: &[&str] = &[
    "read",
    "write",
    "delete",
    "execute",
    "move-from",
    "move-to",
    "copy-from",
    "copy-to",
    "dir",
    "glob",
    "content",
    "shell",
    "powershell",
    "argv",
    "patch",
    "url",
    "query",
    "links",
    "tree",
];
const KINDS: &[&str] = &[
    "read",
    "write",
    "delete",
    "execute",
    "copy",
    "move",
    "network",
    "stat",
    "remote",
    "wrapper",
    "shell",
    "interpreter",
    "eval",
    "xargs",
    "find",
    "cd",
    "source",
    "assign",
    "echo",
    "alias",
    "read-vars",
    "link",
    "plain",
];
const PRODUCES: &[&str] = &[
    "input", "base64", "base32", "hex", "rev", "tr", "cut", "sed", "awk", "head", "tail", "sort",
    "uniq", "tac", "dirname", "basename", "realpath", "which",
];
const FLAG_ROLES: &[&str] = &[
    "value",
    "read-write",
    "read",
    "write",
    "delete",
    "execute",
    "at-read",
    "code",
    "pattern",
    "pattern-file",
    "mode-write",
    "mode-delete",
    "decode",
    "recursive",
    "filter",
    "identity",
    "chdir",
    "setting",
    "remote-name",
    "output",
    "stdin-code",
    "module",
    "source",
    "package",
    "mount",
    "mirror",
    "dry-run",
];
const ACTIONS: &[&str] = &[
    "read", "write", "delete", "copy", "move", "execute", "network", "stat",
];

fn action(s: &str) -> Option<Action> {
    Some(match s {
        "read" => Action::Read,
        "write" => Action::Write,
        "delete" => Action::Delete,
        "copy" => Action::Copy,
        "move" => Action::Move,
        "execute" => Action::Execute,
        "network" => Action::Network,
        "stat" => Action::Stat,
        _ => return None,
    })
}

fn unknown(node: &Node, what: &str, got: &str, known: &[&str]) -> Diagnostic {
    Diagnostic::error(node.span, format!("unknown {what} `{got}`")).suggest(got, known)
}

fn list<'n>(v: &'n Node, what: &str, diags: &mut Diagnostics) -> Vec<&'n Node> {
    match &v.kind {
        Kind::Seq(items) => items.iter().collect(),
        Kind::Scalar(..) if !v.is_null() => vec![v],
        _ => {
            diags.push(Diagnostic::error(
                v.span,
                format!("`{what}` must be a list, found {}", v.describe()),
            ));
            Vec::new()
        }
    }
}

fn boolean(v: &Node, key: &str, diags: &mut Diagnostics) -> bool {
    v.as_bool().unwrap_or_else(|| {
        diags.push(Diagnostic::error(
            v.span,
            format!("`{key}` must be true or false"),
        ));
        false
    })
}

fn names(v: &Node, diags: &mut Diagnostics) -> Vec<String> {
    let mut out = Vec::new();
    for n in list(v, "names", diags) {
        match n.as_str() {
            Some(s) if !s.trim().is_empty() => out.push(s.trim().to_lowercase()),
            _ => diags.push(Diagnostic::error(
                n.span,
                "a name must be a non-empty string",
            )),
        }
    }
    out
}

/// A list of flags (`[-b, --batch]`), kept as written.
fn flag_list(v: &Node, what: &str, diags: &mut Diagnostics) -> Vec<String> {
    list(v, what, diags)
        .into_iter()
        .filter_map(|n| match n.as_str() {
            Some(f) if f.starts_with('-') && f.len() > 1 => Some(f.to_owned()),
            _ => {
                diags.push(Diagnostic::error(
                    n.span,
                    format!("a `{what}` entry is a flag, such as `-b`"),
                ));
                None
            }
        })
        .collect()
}

const SERVE_KEYS: &[&str] = &["after", "dir", "operands"];

/// `serves: [{after: "-m http.server", dir: [-d, --directory]}, {after: "", operands: true}]`.
fn serves(v: &Node, diags: &mut Diagnostics) -> Vec<Serve> {
    let mut out = Vec::new();
    for pairs in entries(v, "serves", diags) {
        let mut serve = Serve::default();
        for (k, v) in pairs {
            match k.as_str().unwrap_or("") {
                // Words keep their case: `php -S` and `-s` differ.
                "after" => match v.as_str() {
                    Some(s) => serve.after = s.split_whitespace().map(str::to_owned).collect(),
                    None => diags.push(Diagnostic::error(
                        v.span,
                        "`after` is the words that start serving, as one string",
                    )),
                },
                "dir" => serve.dir = flag_list(v, "dir", diags),
                "operands" => serve.operands = boolean(v, "operands", diags),
                other => diags.push(unknown(k, "key in a `serves` entry", other, SERVE_KEYS)),
            }
        }
        out.push(serve);
    }
    out
}

fn entries<'n>(section: &'n Node, what: &str, diags: &mut Diagnostics) -> Vec<&'n [(Node, Node)]> {
    let mut out = Vec::new();
    match &section.kind {
        Kind::Seq(items) => {
            for it in items {
                match &it.kind {
                    Kind::Map(pairs) => out.push(pairs.as_slice()),
                    _ => diags.push(Diagnostic::error(
                        it.span,
                        format!(
                            "each entry of `{what}` must be a mapping, found {}",
                            it.describe()
                        ),
                    )),
                }
            }
        }
        _ if section.is_null() => {}
        _ => diags.push(Diagnostic::error(
            section.span,
            format!("`{what}` must be a list, found {}", section.describe()),
        )),
    }
    out
}

/// `tools:` entries.
pub fn tools(section: &Node, tables: &mut Tables, diags: &mut Diagnostics) {
    // A name given twice in one file is a mistake: the later entry would silently replace the
    // earlier one (a later file may redefine a name on purpose).
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    for pairs in entries(section, "tools", diags) {
        let mut spec = ToolSpec::default();
        for (k, v) in pairs {
            match k.as_str().unwrap_or("") {
                "names" => {
                    spec.names = names(v, diags);
                    for n in list(v, "names", &mut Diagnostics::default()) {
                        let Some(name) = n.as_str().map(|s| s.trim().to_lowercase()) else {
                            continue;
                        };
                        if !seen.insert(name.clone()) {
                            diags.push(Diagnostic::error(
                                n.span,
                                format!(
                                    "tool `{name}` is named twice in this file (names are \
                                     compared without case): the later entry would replace the \
                                     earlier one"
                                ),
                            ));
                        }
                    }
                }
                "description" => {}
                "action" => match v.as_str().and_then(action) {
                    Some(a) => spec.action = Some(a),
                    None => diags.push(unknown(v, "action", v.as_str().unwrap_or("?"), ACTIONS)),
                },
                "args" => {
                    let Kind::Map(args) = &v.kind else {
                        diags.push(Diagnostic::error(
                            v.span,
                            "`args` must map argument names to roles",
                        ));
                        continue;
                    };
                    for (ak, av) in args {
                        let key = canon_key(ak.as_str().unwrap_or(""));
                        let r = av.as_str().unwrap_or("");
                        let role = match r {
                            "dir" => ArgRole::Dir,
                            "glob" => ArgRole::Glob,
                            "content" => ArgRole::Content,
                            "fragment" => ArgRole::Fragment,
                            "shell" => ArgRole::Shell,
                            "powershell" => ArgRole::PowerShell,
                            "argv" => ArgRole::Argv,
                            "patch" => ArgRole::Patch,
                            "url" => ArgRole::Url,
                            "query" => ArgRole::Query,
                            "links" => ArgRole::Links,
                            "tree" => ArgRole::Tree,
                            "move-from" => ArgRole::From(Action::Move),
                            "move-to" => ArgRole::To(Action::Move),
                            "copy-from" => ArgRole::From(Action::Copy),
                            "copy-to" => ArgRole::To(Action::Copy),
                            other => match action(other) {
                                Some(a) => ArgRole::Path(a),
                                None => {
                                    diags.push(unknown(av, "argument role", other, ARG_ROLES));
                                    continue;
                                }
                            },
                        };
                        spec.args.push(ArgSpec { key, role });
                    }
                }
                other => diags.push(unknown(k, "key in a tool entry", other, TOOL_KEYS)),
            }
        }
        if spec.names.is_empty() {
            diags.push(Diagnostic::error(
                section.span,
                "a tool entry needs `names`",
            ));
            continue;
        }
        tables.tools.push(spec);
    }
}

/// `commands:` entries.
pub fn commands(section: &Node, tables: &mut Tables, diags: &mut Diagnostics) {
    for pairs in entries(section, "commands", diags) {
        let mut spec = CommandSpec::default();
        let mut named = false;
        for (k, v) in pairs {
            match k.as_str().unwrap_or("") {
                "names" => {
                    spec.names = names(v, diags);
                    named = true;
                }
                "description" => {}
                "kind" => {
                    let s = v.as_str().unwrap_or("");
                    spec.kind = match s {
                        "copy" => CmdKind::Copy,
                        "move" => CmdKind::Move,
                        "network" => CmdKind::Network,
                        "remote" => CmdKind::Remote,
                        "wrapper" => CmdKind::Wrapper,
                        "shell" => CmdKind::Shell,
                        "interpreter" => CmdKind::Interpreter,
                        "eval" => CmdKind::Eval,
                        "xargs" => CmdKind::Xargs,
                        "find" => CmdKind::Find,
                        "cd" => CmdKind::Cd,
                        "source" => CmdKind::Source,
                        "assign" => CmdKind::Assign,
                        "echo" => CmdKind::Echo,
                        "alias" => CmdKind::Alias,
                        "read-vars" => CmdKind::Read,
                        "link" => CmdKind::Link,
                        "plain" => CmdKind::Plain,
                        other => match action(other) {
                            Some(a) => CmdKind::Files(a),
                            None => {
                                diags.push(unknown(v, "command kind", other, KINDS));
                                continue;
                            }
                        },
                    };
                }
                "skip" => match v.as_str().and_then(|s| s.parse::<u8>().ok()) {
                    Some(n) => spec.skip = n,
                    None => diags.push(Diagnostic::error(v.span, "`skip` must be a small number")),
                },
                "bundled-flags" => spec.bundled = boolean(v, "bundled-flags", diags),
                "permissions" => spec.permissions = boolean(v, "permissions", diags),
                "arithmetic" => spec.arithmetic = boolean(v, "arithmetic", diags),
                "recursive" => spec.recursive = boolean(v, "recursive", diags),
                "decoder" => spec.decoder = boolean(v, "decoder", diags),
                "prints" => spec.prints = boolean(v, "prints", diags),
                "installs" => spec.installs = names(v, diags),
                "configures" => spec.configures = names(v, diags),
                "cleans" => spec.cleans = names(v, diags),
                "serves" => spec.serves = serves(v, diags),
                "runs" => spec.runs = names(v, diags),
                "execs" => spec.execs = names(v, diags),
                "registry" => match v.as_str() {
                    Some(r) if !r.trim().is_empty() => spec.registry = Some(r.trim().to_owned()),
                    _ => diags.push(Diagnostic::error(v.span, "`registry` must be a name")),
                },
                "launches" => spec.launches = names(v, diags),
                "unnamed" => spec.unnamed = names(v, diags),
                "local" => match v.as_str() {
                    Some(r) if !r.trim().is_empty() => spec.local = Some(r.trim().to_owned()),
                    _ => diags.push(Diagnostic::error(v.span, "`local` must be a command name")),
                },
                "batch" => spec.batch = flag_list(v, "batch", diags),
                "batch-text" => spec.batch_text = flag_list(v, "batch-text", diags),
                // `unpacks: [-C, --directory]`: the flags naming where it unpacks.
                "unpacks" => spec.unpacks = Some(flag_list(v, "unpacks", diags)),
                "produces" => {
                    let t = v.as_str().unwrap_or("");
                    spec.produces = Some(match t {
                        "input" => Produce::Input,
                        "base64" => Produce::Base64,
                        "base32" => Produce::Base32,
                        "hex" => Produce::Hex,
                        "rev" => Produce::Rev,
                        "tr" => Produce::Tr,
                        "cut" => Produce::Cut,
                        "sed" => Produce::Sed,
                        "awk" => Produce::Awk,
                        "head" => Produce::Head,
                        "tail" => Produce::Tail,
                        "sort" => Produce::Sort,
                        "uniq" => Produce::Uniq,
                        "tac" => Produce::Tac,
                        "dirname" => Produce::Dirname,
                        "basename" => Produce::Basename,
                        "realpath" => Produce::Realpath,
                        "which" => Produce::Which,
                        other => {
                            diags.push(unknown(v, "output kind", other, PRODUCES));
                            continue;
                        }
                    });
                }
                "flags" => {
                    let Kind::Map(flags) = &v.kind else {
                        diags.push(Diagnostic::error(v.span, "`flags` must map flags to roles"));
                        continue;
                    };
                    for (fk, fv) in flags {
                        let flag = fk.as_str().unwrap_or("").to_owned();
                        if !(flag.starts_with('-') || flag.ends_with(['=', ':'])) {
                            diags.push(
                                Diagnostic::error(fk.span, format!("`{flag}` is not a flag"))
                                    .with_help(
                                        "flags start with `-`; operands like `if=` end with \
                                         `=`, addresses like `FILE:` with `:`",
                                    ),
                            );
                            continue;
                        }
                        let r = fv.as_str().unwrap_or("");
                        let role = match r {
                            "value" => FlagRole::Value,
                            "at-read" => FlagRole::AtPath(Action::Read),
                            "code" => FlagRole::Code,
                            "pattern" => FlagRole::Pattern,
                            "pattern-file" => FlagRole::PatternFile,
                            "mode-write" => FlagRole::Mode(Action::Write),
                            "mode-delete" => FlagRole::Mode(Action::Delete),
                            "decode" => FlagRole::Decode,
                            "recursive" => FlagRole::Recursive,
                            "filter" => FlagRole::Filter,
                            "identity" => FlagRole::Identity,
                            "chdir" => FlagRole::Chdir,
                            "setting" => FlagRole::Setting,
                            "remote-name" => FlagRole::RemoteName,
                            "output" => FlagRole::Output,
                            "stdin-code" => FlagRole::StdinCode,
                            "module" => FlagRole::Module,
                            "source" => FlagRole::Source,
                            "package" => FlagRole::Package,
                            "mount" => FlagRole::Mount,
                            "mirror" => FlagRole::Mirror,
                            "dry-run" => FlagRole::DryRun,
                            "read-write" => FlagRole::ReadWrite,
                            other => match action(other) {
                                Some(a) => FlagRole::Path(a),
                                None => {
                                    diags.push(unknown(fv, "flag role", other, FLAG_ROLES));
                                    continue;
                                }
                            },
                        };
                        spec.flags.push(FlagSpec { flag, role });
                    }
                }
                other => diags.push(unknown(k, "key in a command entry", other, COMMAND_KEYS)),
            }
        }
        if !named || spec.names.is_empty() {
            diags.push(Diagnostic::error(
                section.span,
                "a command entry needs `names`",
            ));
            continue;
        }
        tables.commands.push(spec);
    }
}

/// `shape:`: argument keys unknown tools are read by.
pub fn shape(section: &Node, tables: &mut Tables, diags: &mut Diagnostics) {
    let Kind::Map(pairs) = &section.kind else {
        diags.push(Diagnostic::error(section.span, "`shape` must be a mapping"));
        return;
    };
    for (k, v) in pairs {
        let name = k.as_str().unwrap_or("");
        let keys: Vec<String> = list(v, name, diags)
            .into_iter()
            .filter_map(|n| n.as_str().map(canon_key))
            .collect();
        let slot: &mut Vec<String> = match name {
            "path" => &mut tables.shape.path,
            "path_suffix" => &mut tables.shape.path_suffix,
            "url" => &mut tables.shape.url,
            "command" => &mut tables.shape.command,
            "content" => &mut tables.shape.content,
            other => {
                diags.push(unknown(k, "key in `shape`", other, SHAPE_KEYS));
                continue;
            }
        };
        slot.extend(keys);
    }
}

/// `secrets:`: credential formats for the content scanner, and placeholder text.
///
/// ```yaml
/// secrets:
///   placeholders: [example, xxxx]
///   formats:
///     - id: github-classic-token
///       description: GitHub personal access token (classic)
///       regex: '\bghp_[A-Za-z0-9]{36}\b'
///       check: crc32-base62
/// ```
pub fn secrets(section: &Node, tables: &mut Tables, diags: &mut Diagnostics) {
    let Kind::Map(pairs) = &section.kind else {
        diags.push(Diagnostic::error(
            section.span,
            "`secrets` must be a mapping with `formats:` and `placeholders:`",
        ));
        return;
    };
    for (k, v) in pairs {
        match k.as_str().unwrap_or("") {
            "placeholders" => {
                for n in list(v, "placeholders", diags) {
                    match n.as_str() {
                        Some(s) if !s.is_empty() => {
                            tables.secrets.placeholders.push(s.to_ascii_lowercase())
                        }
                        _ => diags.push(Diagnostic::error(
                            n.span,
                            "a placeholder must be a non-empty string",
                        )),
                    }
                }
            }
            "formats" => {
                for pairs in entries(v, "formats", diags) {
                    if let Some(f) = secret_format(pairs, diags) {
                        // A later file redefines a format of the same id.
                        tables.secrets.formats.retain(|g| g.id != f.id);
                        tables.secrets.formats.push(f);
                    }
                }
            }
            "variables" => {
                for pairs in entries(v, "variables", diags) {
                    if let Some(var) = secret_variable(pairs, diags) {
                        tables.secrets.variables.push(var);
                    }
                }
                if tables.secrets.variables.len() > MAX_SECRET_VARIABLES {
                    diags.push(Diagnostic::error(
                        v.span,
                        format!(
                            "at most {MAX_SECRET_VARIABLES} `variables` entries (one per service)"
                        ),
                    ));
                }
            }
            other => diags.push(unknown(k, "key in `secrets`", other, SECRETS_KEYS)),
        }
    }
}

/// `{names: [GITHUB_TOKEN, GH_TOKEN], hosts: [github.com, "*.github.com"]}`.
fn secret_variable(pairs: &[(Node, Node)], diags: &mut Diagnostics) -> Option<SecretVariable> {
    let mut var = SecretVariable::default();
    let mut named = false;
    for (k, v) in pairs {
        match k.as_str().unwrap_or("") {
            "description" => {}
            // Environment variable names are case-sensitive: kept as written.
            "names" => {
                named = true;
                for n in list(v, "names", diags) {
                    match n.as_str() {
                        Some(s)
                            if !s.is_empty()
                                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
                        {
                            var.names.push(s.to_owned())
                        }
                        _ => diags.push(Diagnostic::error(
                            n.span,
                            "a variable name is letters, digits and `_`",
                        )),
                    }
                }
            }
            "hosts" => {
                for n in list(v, "hosts", diags) {
                    match n.as_str() {
                        Some(s) if !s.is_empty() && !s.contains(['/', ':', ' ']) => {
                            var.hosts.push(s.to_ascii_lowercase())
                        }
                        _ => diags.push(
                            Diagnostic::error(n.span, "a host is a name such as `api.github.com`")
                                .with_help("`*.github.com` covers every name below github.com"),
                        ),
                    }
                }
            }
            other => diags.push(unknown(
                k,
                "key in a `variables` entry",
                other,
                VARIABLE_KEYS,
            )),
        }
    }
    if var.names.is_empty() {
        if let Some((k, _)) = pairs.first().filter(|_| !named) {
            diags.push(Diagnostic::error(
                k.span,
                "a `variables` entry needs `names`",
            ));
        }
        return None;
    }
    Some(var)
}

fn secret_format(pairs: &[(Node, Node)], diags: &mut Diagnostics) -> Option<SecretFormat> {
    let mut f = SecretFormat {
        id: String::new(),
        description: String::new(),
        regex: String::new(),
        prefixes: Vec::new(),
        check: SecretCheck::None,
        examples: Vec::new(),
    };
    let mut ok = true;
    let mut regex_node = None;
    for (k, v) in pairs {
        let key = k.as_str().unwrap_or("");
        let text = || v.as_str().map(str::to_owned);
        match key {
            "id" => match text() {
                Some(s)
                    if !s.is_empty()
                        && s.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') =>
                {
                    f.id = s
                }
                _ => {
                    diags.push(
                        Diagnostic::error(
                            v.span,
                            "a secret id is lower-case letters, digits and `-`",
                        )
                        .with_help("e.g. `github-classic-token`"),
                    );
                    ok = false;
                }
            },
            "description" => f.description = text().unwrap_or_default(),
            "regex" => {
                f.regex = text().unwrap_or_default();
                regex_node = Some(v);
            }
            "check" => {
                let got = v.as_str().unwrap_or("");
                match SecretCheck::NAMES.iter().find(|(n, _)| *n == got) {
                    Some((_, c)) => f.check = *c,
                    None => {
                        let names: Vec<&str> = SecretCheck::NAMES.iter().map(|(n, _)| *n).collect();
                        diags.push(unknown(v, "secret check", got, &names));
                        ok = false;
                    }
                }
            }
            "examples" => {
                f.examples = list(v, "examples", diags)
                    .into_iter()
                    .filter_map(|n| n.as_str().map(str::to_owned))
                    .collect()
            }
            other => {
                diags.push(unknown(k, "key in a secret format", other, FORMAT_KEYS));
                ok = false;
            }
        }
    }
    let Some(regex_node) = regex_node else {
        diags.push(Diagnostic::error(
            pairs.first().map(|(k, _)| k.span),
            "a secret format needs `id` and `regex`",
        ));
        return None;
    };
    if f.id.is_empty() {
        if ok {
            diags.push(Diagnostic::error(
                regex_node.span,
                "a secret format needs an `id`",
            ));
        }
        return None;
    }
    match crate::lower::pattern::secret_prefixes(&f.regex) {
        Ok(p) => f.prefixes = p,
        Err(e) => {
            diags.push(Diagnostic::error(regex_node.span, e));
            return None;
        }
    }
    ok.then_some(f)
}

fn capability(s: &str) -> Option<Capability> {
    Some(match s {
        "read" => Capability::Path(Action::Read),
        "write" => Capability::Path(Action::Write),
        "delete" => Capability::Path(Action::Delete),
        "open" => Capability::Open,
        "copy" => Capability::Copy,
        "move" => Capability::Move,
        "shell" => Capability::Shell,
        "exec" => Capability::Exec,
        "eval" => Capability::Eval,
        "network" => Capability::Network,
        "socket" => Capability::Socket,
        "dup" => Capability::Dup,
        "fork" => Capability::Fork,
        "import" => Capability::Import,
        "home" => Capability::Home,
        "expand-home" => Capability::ExpandHome,
        "env" => Capability::Env,
        "path-join" => Capability::PathJoin,
        "join" => Capability::Join,
        "same" => Capability::Same,
        "format" => Capability::Format,
        "chr" => Capability::Chr,
        "base64" => Capability::Base64,
        "hex" => Capability::Hex,
        "inflate" => Capability::Inflate,
        "buffer" => Capability::Buffer,
        "member" => Capability::Member,
        "send" => Capability::Send,
        "apply" => Capability::Apply,
        "map" => Capability::Map,
        "reverse" => Capability::Reverse,
        "split" => Capability::Split,
        "rot13" => Capability::Rot13,
        "runs" => Capability::Runs,
        "cwd" => Capability::Cwd,
        "separator" => Capability::Separator,
        "list" => Capability::List,
        "upload" => Capability::Upload,
        _ => return None,
    })
}

/// `languages:`: interpreted languages and what their library calls do.
///
/// ```yaml
/// languages:
///   - name: python
///     syntax: python
///     interpreters: [python3]
///     calls:
///       shell: [os.system, os.popen]
///       delete: [os.remove, shutil.rmtree]
/// ```
///
/// A language defined again (a user file after the built-in one) adds its interpreters and
/// calls to the earlier entry.
pub fn languages(section: &Node, tables: &mut Tables, diags: &mut Diagnostics) {
    for pairs in entries(section, "languages", diags) {
        let mut name = None;
        let mut syntax = None;
        let mut interpreters = Vec::new();
        let mut calls = Vec::new();
        let mut aliases = Vec::new();
        for (k, v) in pairs {
            match k.as_str().unwrap_or("") {
                "name" => match v.as_str() {
                    Some(s) if !s.trim().is_empty() => name = Some(s.trim().to_lowercase()),
                    _ => diags.push(Diagnostic::error(v.span, "`name` must be a string")),
                },
                "description" => {}
                "syntax" => {
                    let s = v.as_str().unwrap_or("");
                    syntax = match s {
                        "python" => Some(Syntax::Python),
                        "javascript" => Some(Syntax::JavaScript),
                        "perl" => Some(Syntax::Perl),
                        "ruby" => Some(Syntax::Ruby),
                        "php" => Some(Syntax::Php),
                        "powershell" => Some(Syntax::PowerShell),
                        "awk" => Some(Syntax::Awk),
                        "applescript" => Some(Syntax::AppleScript),
                        other => {
                            diags.push(unknown(v, "syntax", other, SYNTAXES));
                            None
                        }
                    };
                }
                "interpreters" => interpreters = names(v, diags),
                "aliases" => {
                    let Kind::Map(map) = &v.kind else {
                        diags.push(Diagnostic::error(
                            v.span,
                            "`aliases` must map command names to command-table names",
                        ));
                        continue;
                    };
                    for (ak, av) in map {
                        match (ak.as_str(), av.as_str()) {
                            (Some(a), Some(t)) if !a.trim().is_empty() && !t.trim().is_empty() => {
                                aliases.push((a.trim().to_lowercase(), t.trim().to_lowercase()))
                            }
                            _ => diags.push(Diagnostic::error(
                                av.span,
                                "an alias maps a name to a command-table name",
                            )),
                        }
                    }
                }
                "calls" => {
                    let Kind::Map(caps) = &v.kind else {
                        diags.push(Diagnostic::error(
                            v.span,
                            "`calls` must map what calls do to lists of call names",
                        ));
                        continue;
                    };
                    for (ck, cv) in caps {
                        let c = ck.as_str().unwrap_or("");
                        let Some(does) = capability(c) else {
                            diags.push(unknown(ck, "call meaning", c, CAPABILITIES));
                            continue;
                        };
                        let mut names = Vec::new();
                        for n in list(cv, c, diags) {
                            match n.as_str() {
                                Some(s)
                                    if !s.trim().is_empty() && !s.contains(char::is_whitespace) =>
                                {
                                    names.push(s.trim().replace("::", ".").replace("->", "."))
                                }
                                _ => diags.push(Diagnostic::error(
                                    n.span,
                                    "a call name must be a non-empty word such as `os.system`",
                                )),
                            }
                        }
                        calls.push(CallSpec { names, does });
                    }
                }
                other => diags.push(unknown(k, "key in a language entry", other, LANGUAGE_KEYS)),
            }
        }
        let Some(name) = name else {
            diags.push(Diagnostic::error(
                section.span,
                "a language entry needs `name`",
            ));
            continue;
        };
        if let Some(l) = tables.languages.iter_mut().find(|l| l.name == name) {
            l.interpreters.extend(interpreters);
            l.calls.extend(calls);
            l.aliases.extend(aliases);
            if let Some(s) = syntax {
                l.syntax = s;
            }
            continue;
        }
        let Some(syntax) = syntax else {
            diags.push(Diagnostic::error(
                section.span,
                format!("language `{name}` needs `syntax` ({})", SYNTAXES.join(", ")),
            ));
            continue;
        };
        tables.languages.push(LanguageSpec {
            name,
            interpreters,
            syntax,
            calls,
            aliases,
        });
    }
}

const LATER_KEYS: &[&str] = &["format", "paths", "elsewhere", "description"];
const REGISTRY_KEYS: &[&str] = &["name", "fold", "guard", "popular", "description"];
const NAME_FOLDS: &[&str] = &["lower", "pep503", "crates", "gem", "go", "maven"];

/// `registries:` entries: a package registry's most used names, most used first; the first
/// `guard` of them (at least `MIN_GUARDED_LEN` long) are protected from look-alike names.
pub fn registries(section: &Node, tables: &mut Tables, diags: &mut Diagnostics) {
    for pairs in entries(section, "registries", diags) {
        let mut spec = RegistrySpec::default();
        let mut guard = usize::MAX;
        let mut popular = Vec::new();
        for (k, v) in pairs {
            match k.as_str().unwrap_or("") {
                "description" => {}
                "name" => match v.as_str() {
                    Some(n) if !n.trim().is_empty() => spec.name = n.trim().to_owned(),
                    _ => diags.push(Diagnostic::error(v.span, "`name` must be a name")),
                },
                "fold" => {
                    let f = v.as_str().unwrap_or("");
                    spec.fold = match f {
                        "lower" => NameFold::Lower,
                        "pep503" => NameFold::Pep503,
                        "crates" => NameFold::Crates,
                        "gem" => NameFold::Gem,
                        "go" => NameFold::Go,
                        "maven" => NameFold::Maven,
                        other => {
                            diags.push(unknown(v, "name folding", other, NAME_FOLDS));
                            continue;
                        }
                    };
                }
                "guard" => match v.as_str().and_then(|s| s.parse::<usize>().ok()) {
                    Some(n) => guard = n,
                    None => diags.push(Diagnostic::error(v.span, "`guard` must be a number")),
                },
                "popular" => {
                    for n in list(v, "popular", diags) {
                        match n.as_str() {
                            Some(s) if !s.trim().is_empty() && !s.contains(char::is_whitespace) => {
                                popular.push(s.trim().to_owned())
                            }
                            _ => diags
                                .push(Diagnostic::error(n.span, "a package name must be one word")),
                        }
                    }
                }
                other => diags.push(unknown(
                    k,
                    "key in a `registries` entry",
                    other,
                    REGISTRY_KEYS,
                )),
            }
        }
        if spec.name.is_empty() {
            diags.push(Diagnostic::error(
                section.span,
                "a `registries` entry needs `name`",
            ));
            continue;
        }
        let (mut known, mut guarded) = (String::from("\n"), String::new());
        for (i, n) in popular.iter().enumerate() {
            let f = spec.fold(n);
            known.push_str(&f);
            known.push('\n');
            if i < guard && f.len() >= MIN_GUARDED_LEN {
                guarded.push_str(&f);
                guarded.push('\n');
            }
        }
        let spec = RegistrySpec::new(spec.name, spec.fold, known, guarded);
        match tables.registries.iter_mut().find(|r| r.name == spec.name) {
            Some(r) => *r = spec,
            None => tables.registries.push(spec),
        }
    }
}
const LATER_FORMATS: &[&str] = &[
    "shell",
    "crontab",
    "package-json",
    "editor-tasks",
    "ci-yaml",
    "dockerfile",
    "makefile",
    "systemd",
    "python-pth",
    "ssh-config",
    "python",
    "jetbrains-run",
    "vim",
    "launchd-plist",
    "requirements",
    "pyproject",
    "cargo-toml",
    "mcp-config",
    "compose",
    "gemfile",
    "go-mod",
    "maven-pom",
    "gradle",
];

/// `later:` entries: files that run later, by path, and how their commands are read.
pub fn later(section: &Node, tables: &mut Tables, diags: &mut Diagnostics) {
    for pairs in entries(section, "later", diags) {
        let mut format = None;
        let mut paths = Vec::new();
        let mut elsewhere = false;
        for (k, v) in pairs {
            match k.as_str().unwrap_or("") {
                "description" => {}
                "elsewhere" => elsewhere = boolean(v, "elsewhere", diags),
                "format" => {
                    let s = v.as_str().unwrap_or("");
                    format = match s {
                        "shell" => Some(LaterFormat::Shell),
                        "crontab" => Some(LaterFormat::Crontab),
                        "package-json" => Some(LaterFormat::PackageJson),
                        "editor-tasks" => Some(LaterFormat::EditorTasks),
                        "ci-yaml" => Some(LaterFormat::CiYaml),
                        "dockerfile" => Some(LaterFormat::Dockerfile),
                        "makefile" => Some(LaterFormat::Makefile),
                        "systemd" => Some(LaterFormat::Systemd),
                        "python-pth" => Some(LaterFormat::PythonPth),
                        "ssh-config" => Some(LaterFormat::SshConfig),
                        "python" => Some(LaterFormat::Python),
                        "jetbrains-run" => Some(LaterFormat::JetbrainsRun),
                        "launchd-plist" => Some(LaterFormat::LaunchdPlist),
                        "requirements" => Some(LaterFormat::Requirements),
                        "pyproject" => Some(LaterFormat::Pyproject),
                        "cargo-toml" => Some(LaterFormat::CargoToml),
                        "mcp-config" => Some(LaterFormat::McpConfig),
                        "compose" => Some(LaterFormat::Compose),
                        "gemfile" => Some(LaterFormat::Gemfile),
                        "go-mod" => Some(LaterFormat::GoMod),
                        "maven-pom" => Some(LaterFormat::MavenPom),
                        "gradle" => Some(LaterFormat::Gradle),
                        "vim" => Some(LaterFormat::Vim),
                        other => {
                            diags.push(unknown(v, "file format", other, LATER_FORMATS));
                            None
                        }
                    };
                }
                "paths" => {
                    for n in list(v, "paths", diags) {
                        match n.as_str() {
                            Some(p)
                                if p.starts_with('/')
                                    || p.starts_with("**/")
                                    || p.starts_with("$HOME/") =>
                            {
                                paths.push(p.to_owned())
                            }
                            _ => diags.push(Diagnostic::error(
                                n.span,
                                "a path must start with `/`, `**/` or `$HOME/`",
                            )),
                        }
                    }
                }
                other => diags.push(unknown(k, "key in a `later` entry", other, LATER_KEYS)),
            }
        }
        match format {
            Some(format) => tables.later.push(LaterSpec {
                format,
                paths,
                elsewhere,
            }),
            None => diags.push(Diagnostic::error(
                section.span,
                "a `later` entry needs `format`",
            )),
        }
    }
}
