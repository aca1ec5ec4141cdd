//! The edits `crust setup` makes to agents' configuration files, in place: JSON (with comments,
//! as VS Code writes it) through a concrete syntax tree and TOML through `toml_edit`, so the
//! user's comments, key order and layout survive. Each edit is idempotent: applied to a file it
//! already wired, it changes nothing, which is also how `crust status` tells a wired agent.

use jsonc_parser::cst::{CstArray, CstInputValue, CstNode, CstObject, CstRootNode};
use jsonc_parser::ParseOptions;
use serde_json::Value;
use std::path::Path;

/// What the edits write: how agents reach Crust.
#[derive(Debug, Clone)]
pub struct Wiring {
    /// The `crust` executable, as an absolute path.
    pub crust: String,
    /// `http://127.0.0.1:9090`: Anthropic clients' base URL.
    pub anthropic_url: String,
    /// `http://127.0.0.1:9090/v1`: OpenAI clients' base URL.
    pub openai_url: String,
    /// Also point agents' model traffic at the proxy (not only hooks and MCP servers).
    pub proxy: bool,
    /// Also run stdio MCP servers under `crust wrap`.
    pub wrap: bool,
}

impl Wiring {
    /// A hook command line for `agent`, the executable quoted for the shell when it must be.
    /// `crust-hook AGENT` where the small hook client is installed beside `crust` (a call
    /// through a running proxy then costs little more than starting a process), else
    /// `crust hook AGENT`.
    pub fn hook_command(&self, agent: &str) -> String {
        let client = Path::new(&self.crust).with_file_name("crust-hook");
        if Path::new(&self.crust).is_absolute() && client.is_file() {
            return format!("{} {agent}", shell_quote(&client.to_string_lossy()));
        }
        format!("{} hook {agent}", shell_quote(&self.crust))
    }
}

/// One change an edit makes or declines, for the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// Something was wired.
    Did(String),
    /// Left as it is, and why (a base URL pointing elsewhere, a remote MCP server).
    Kept(String),
    /// Recorded for undo (not shown): this MCP server was wrapped.
    Wrapped(String),
    /// Recorded for undo (not shown): this base URL was set.
    UrlSet(String),
}

/// The edits one configuration file gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    /// Claude Code `settings.json`: a `PreToolUse` hook for every tool.
    ClaudeHook,
    /// Claude Code `settings.json`: `env.ANTHROPIC_BASE_URL`.
    ClaudeBaseUrl,
    /// Cursor `hooks.json`: the shell, MCP, file-read and tool-use hooks.
    CursorHooks,
    /// Gemini CLI `settings.json`: a `BeforeTool` hook for every tool.
    GeminiHook,
    /// `mcpServers`-style maps (the key given): stdio servers run under `crust wrap`.
    McpServers(&'static str),
    /// `~/.claude.json`: the per-project `mcpServers` maps.
    ClaudeProjectServers,
    /// Codex `config.toml`: a custom provider through the proxy (Codex ignores
    /// `OPENAI_BASE_URL`, and its built-in provider tries WebSockets first).
    CodexProvider,
    /// Codex `config.toml`: `[mcp_servers.*]` run under `crust wrap`.
    CodexServers,
}

/// Every edit of a JSON(C) file, and of a TOML file: what tests and fuzzing apply.
pub const JSON_EDITS: &[Edit] = &[
    Edit::ClaudeHook,
    Edit::ClaudeBaseUrl,
    Edit::CursorHooks,
    Edit::GeminiHook,
    Edit::McpServers("mcpServers"),
    Edit::McpServers("servers"),
    Edit::ClaudeProjectServers,
];
pub const TOML_EDITS: &[Edit] = &[Edit::CodexProvider, Edit::CodexServers];

/// The name of Crust's Codex provider.
pub const CODEX_PROVIDER: &str = "crust";

/// Applies `edits` to a JSON(C) text. `Err` when the text cannot be parsed or a value the edit
/// needs has another type: the file is then left untouched.
pub fn json(text: &str, edits: &[Edit], w: &Wiring) -> Result<(String, Vec<Note>), String> {
    let source = if text.trim().is_empty() { "{}" } else { text };
    let root = CstRootNode::parse(source, &ParseOptions::default())
        .map_err(|e| format!("not valid JSON: {e}"))?;
    if let Some(v) = root.value() {
        no_duplicate_keys(&v)?;
    }
    let obj = match root.value() {
        None => root.object_value_or_set(),
        Some(_) => root
            .object_value()
            .ok_or("its top level is not an object")?,
    };
    let mut notes = Vec::new();
    for e in edits {
        match e {
            Edit::ClaudeHook => {
                let hook = MatcherHook {
                    agent: "claude-code",
                    event: "PreToolUse",
                    matcher: "*",
                    fields: &[("type", "command")],
                };
                hook.add(&obj, w, &mut notes)?;
            }
            Edit::ClaudeBaseUrl if w.proxy => {
                let env = object_at(&obj, &["env"])?;
                set_base_url(&env, "ANTHROPIC_BASE_URL", &w.anthropic_url, &mut notes)?;
            }
            Edit::CursorHooks => {
                let cmd = w.hook_command("cursor");
                if obj.get("version").is_none() {
                    obj.append("version", CstInputValue::Number("1".into()));
                }
                for event in [
                    "preToolUse",
                    "beforeShellExecution",
                    "beforeMCPExecution",
                    "beforeReadFile",
                ] {
                    let list = array_at(&obj, &["hooks", event])?;
                    if !has_hook(&list, "cursor", false, w) {
                        list.append(object(vec![("command", cmd.as_str().into())]));
                        notes.push(Note::Did(format!("{event} hook `{cmd}`")));
                    }
                }
            }
            Edit::GeminiHook => {
                let hook = MatcherHook {
                    agent: "gemini",
                    event: "BeforeTool",
                    matcher: ".*",
                    fields: &[("name", "crust"), ("type", "command")],
                };
                hook.add(&obj, w, &mut notes)?;
            }
            Edit::McpServers(key) if w.wrap => {
                if let Some(servers) = existing_object(&obj, key)? {
                    wrap_json_servers(&servers, w, "", &mut notes)?;
                }
            }
            Edit::ClaudeProjectServers if w.wrap => {
                if let Some(projects) = existing_object(&obj, "projects")? {
                    for p in projects.properties() {
                        let name = prop_name(&p);
                        let Some(CstNode::Container(c)) = p.value() else {
                            continue;
                        };
                        let Some(project) = c.as_object() else {
                            continue;
                        };
                        if let Some(servers) = existing_object(&project, "mcpServers")? {
                            wrap_json_servers(&servers, w, &format!(" of {name}"), &mut notes)?;
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let mut out = root.to_string();
    if text.trim().is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    let did = notes.iter().any(|n| matches!(n, Note::Did(_)));
    Ok((if did { out } else { text.to_owned() }, notes))
}

/// A hook in the `{"hooks": {EVENT: [{"matcher": M, "hooks": [{…, "command": CMD}]}]}}`
/// shape Claude Code and Gemini CLI share, for every tool.
struct MatcherHook {
    agent: &'static str,
    event: &'static str,
    matcher: &'static str,
    /// The hook's fields before `command`.
    fields: &'static [(&'static str, &'static str)],
}

impl MatcherHook {
    fn add(&self, obj: &CstObject, w: &Wiring, notes: &mut Vec<Note>) -> Result<(), String> {
        let cmd = w.hook_command(self.agent);
        let list = array_at(obj, &["hooks", self.event])?;
        if !has_hook(&list, self.agent, true, w) {
            let mut fields = self.fields.to_vec();
            fields.push(("command", &cmd));
            list.append(object(vec![
                ("matcher", self.matcher.into()),
                ("hooks", hook_list(&fields)),
            ]));
            notes.push(Note::Did(format!(
                "{} hook `{cmd}` for every tool",
                self.event
            )));
        }
        Ok(())
    }
}

/// Applies `edits` to a TOML text (Codex).
pub fn toml(text: &str, edits: &[Edit], w: &Wiring) -> Result<(String, Vec<Note>), String> {
    use toml_edit::{value, Array, DocumentMut, Item, Table};
    let mut doc: DocumentMut = text.parse().map_err(|e| format!("not valid TOML: {e}"))?;
    let mut notes = Vec::new();
    for e in edits {
        match e {
            Edit::CodexProvider if w.proxy => {
                // A profile with its own provider sends `codex --profile NAME` (or every
                // run, when it is the default profile) around Crust.
                let default = doc.get("profile").and_then(Item::as_str).map(str::to_owned);
                if let Some(profiles) = doc.get("profiles").and_then(Item::as_table_like) {
                    for (name, p) in profiles.iter() {
                        let Some(provider) = p
                            .as_table_like()
                            .and_then(|t| t.get("model_provider"))
                            .and_then(Item::as_str)
                        else {
                            continue;
                        };
                        if provider != CODEX_PROVIDER {
                            let which = if default.as_deref() == Some(name) {
                                "the default profile"
                            } else {
                                "profile"
                            };
                            notes.push(Note::Kept(format!(
                                "{which} `{name}` uses model_provider \"{provider}\": \
                                 `codex --profile {name}` goes around Crust (set its \
                                 model_provider to \"{CODEX_PROVIDER}\" to put it behind Crust)"
                            )));
                        }
                    }
                }
                let current = doc
                    .get("model_provider")
                    .map(|i| i.as_str().map(str::to_owned));
                let current = current.as_ref().map(|c| c.as_deref());
                match current {
                    None | Some(Some("openai")) => {
                        doc.insert("model_provider", value(CODEX_PROVIDER));
                        notes.push(Note::Did(format!(
                            "model_provider = \"{CODEX_PROVIDER}\" (was {})",
                            if current.is_some() {
                                "\"openai\""
                            } else {
                                "unset: openai"
                            }
                        )));
                        notes.push(Note::UrlSet(w.openai_url.clone()));
                    }
                    Some(Some(CODEX_PROVIDER)) => {}
                    Some(Some(other)) => {
                        notes.push(Note::Kept(format!(
                            "model_provider is \"{other}\": left as it is (run Crust with \
                             --endpoint set to that provider's URL to put it behind Crust)"
                        )));
                        continue;
                    }
                    Some(None) => return Err("`model_provider` is not a string".into()),
                }
                let providers = doc
                    .entry("model_providers")
                    .or_insert_with(|| {
                        let mut t = Table::new();
                        t.set_implicit(true);
                        Item::Table(t)
                    })
                    .as_table_like_mut()
                    .ok_or("`model_providers` is not a table")?;
                let entry = providers
                    .entry(CODEX_PROVIDER)
                    .or_insert(Item::Table(Table::new()));
                let t = entry
                    .as_table_like_mut()
                    .ok_or("`model_providers.crust` is not a table")?;
                let want: [(&str, toml_edit::Value); 5] = [
                    ("name", "Crust".into()),
                    ("base_url", w.openai_url.as_str().into()),
                    ("env_key", "OPENAI_API_KEY".into()),
                    ("wire_api", "responses".into()),
                    ("supports_websockets", false.into()),
                ];
                let mut changed = false;
                for (k, v) in want {
                    let same = t
                        .get(k)
                        .and_then(Item::as_value)
                        .is_some_and(|cur| cur.to_string().trim() == v.to_string().trim());
                    if !same {
                        t.insert(k, Item::Value(v));
                        changed = true;
                    }
                }
                if changed {
                    notes.push(Note::Did(format!(
                        "[model_providers.{CODEX_PROVIDER}] base_url = \"{}\", wire_api = \
                         \"responses\", supports_websockets = false",
                        w.openai_url
                    )));
                }
            }
            Edit::CodexServers if w.wrap => {
                let Some(servers) = doc.get_mut("mcp_servers") else {
                    continue;
                };
                let servers = servers
                    .as_table_like_mut()
                    .ok_or("`mcp_servers` is not a table")?;
                for (name, item) in servers.iter_mut() {
                    let name = name.get().to_owned();
                    let Some(t) = item.as_table_like_mut() else {
                        return Err(format!("`mcp_servers.{name}` is not a table"));
                    };
                    let Some(cmd) = t.get("command") else {
                        if t.contains_key("url") {
                            notes.push(Note::Kept(remote_note(&name, "")));
                        }
                        continue;
                    };
                    let cmd = cmd
                        .as_str()
                        .ok_or_else(|| format!("`mcp_servers.{name}.command` is not a string"))?
                        .to_owned();
                    let args: Vec<String> = match t.get("args") {
                        None => Vec::new(),
                        Some(a) => a
                            .as_array()
                            .and_then(|a| a.iter().map(|v| v.as_str().map(str::to_owned)).collect())
                            .ok_or_else(|| {
                                format!("`mcp_servers.{name}.args` is not a list of strings")
                            })?,
                    };
                    if is_wrapped(&cmd, &args) && runs(&cmd, w) {
                        continue;
                    }
                    let wrapped = wrapped_args(&name, &cmd, &args);
                    t.insert("command", value(w.crust.as_str()));
                    let mut arr = Array::new();
                    for a in &wrapped {
                        arr.push(a.as_str());
                    }
                    t.insert("args", value(arr));
                    notes.push(Note::Did(format!(
                        "MCP server `{name}` runs under crust wrap"
                    )));
                    notes.push(Note::Wrapped(name.clone()));
                }
            }
            _ => {}
        }
    }
    Ok((
        if notes.iter().any(|n| matches!(n, Note::Did(_))) {
            doc.to_string()
        } else {
            text.to_owned()
        },
        notes,
    ))
}

/// `crust wrap --name NAME -- CMD ARGS…`.
fn wrapped_args(name: &str, cmd: &str, args: &[String]) -> Vec<String> {
    let mut v = vec![
        "wrap".to_owned(),
        "--name".to_owned(),
        name.to_owned(),
        "--".to_owned(),
        cmd.to_owned(),
    ];
    v.extend(args.iter().cloned());
    v
}

/// A server entry already run by `crust wrap` (by this or another copy of `crust`).
fn is_wrapped(cmd: &str, args: &[String]) -> bool {
    is_crust(cmd) && args.first().is_some_and(|a| a == "wrap")
}

/// A `crust` that can run: the one being wired, or another copy still on disk (a stale
/// path from an older install is not wired: the agent would fail to start it).
fn runs(program: &str, w: &Wiring) -> bool {
    program == w.crust || !program.starts_with('/') || Path::new(program).is_file()
}

/// An executable named `crust` (any directory).
fn is_crust(cmd: &str) -> bool {
    let base = cmd.rsplit(['/', '\\']).next().unwrap_or(cmd);
    base == "crust" || base == "crust.exe"
}

/// The small hook client, `crust-hook` (any directory).
fn is_hook_client(cmd: &str) -> bool {
    let base = cmd.rsplit(['/', '\\']).next().unwrap_or(cmd);
    base == "crust-hook" || base == "crust-hook.exe"
}

fn remote_note(name: &str, scope: &str) -> String {
    format!(
        "MCP server `{name}`{scope} is remote (a URL): not wrapped; run `crust mcp --upstream \
         URL` and point the client at it to put it behind Crust"
    )
}

fn wrap_json_servers(
    servers: &CstObject,
    w: &Wiring,
    scope: &str,
    notes: &mut Vec<Note>,
) -> Result<(), String> {
    for p in servers.properties() {
        let name = prop_name(&p);
        let Some(CstNode::Container(c)) = p.value() else {
            return Err(format!("MCP server `{name}`{scope} is not an object"));
        };
        let Some(entry) = c.as_object() else {
            return Err(format!("MCP server `{name}`{scope} is not an object"));
        };
        let Some(cmd_prop) = entry.get("command") else {
            if entry.get("url").is_some() || entry.get("serverUrl").is_some() {
                notes.push(Note::Kept(remote_note(&name, scope)));
            }
            continue;
        };
        let cmd = match cmd_prop.value().and_then(|v| v.to_serde_value()) {
            Some(Value::String(s)) => s,
            _ => {
                return Err(format!(
                    "`command` of MCP server `{name}`{scope} is not a string"
                ))
            }
        };
        let args: Vec<String> = match entry
            .get("args")
            .map(|a| a.value().and_then(|v| v.to_serde_value()))
        {
            None => Vec::new(),
            Some(Some(Value::Array(a))) => a
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Some(s),
                    _ => None,
                })
                .collect::<Option<_>>()
                .ok_or_else(|| {
                    format!("`args` of MCP server `{name}`{scope} holds a non-string")
                })?,
            Some(_) => {
                return Err(format!(
                    "`args` of MCP server `{name}`{scope} is not a list"
                ))
            }
        };
        if is_wrapped(&cmd, &args) && runs(&cmd, w) {
            continue;
        }
        let wrapped = wrapped_args(&name, &cmd, &args);
        cmd_prop.set_value(CstInputValue::String(w.crust.clone()));
        let list = CstInputValue::Array(wrapped.into_iter().map(CstInputValue::String).collect());
        match entry.get("args") {
            Some(a) => a.set_value(list),
            None => {
                let at = cmd_prop.property_index() + 1;
                entry.insert(at, "args", list);
            }
        }
        notes.push(Note::Did(format!(
            "MCP server `{name}`{scope} runs under crust wrap"
        )));
        notes.push(Note::Wrapped(name.clone()));
    }
    Ok(())
}

fn prop_name(p: &jsonc_parser::cst::CstObjectProp) -> String {
    p.name()
        .and_then(|n| n.decoded_value().ok())
        .unwrap_or_default()
}

/// A key twice in one object: agents read the last one, the editor would change the first,
/// so the file is left untouched rather than wired where the agent does not look.
fn no_duplicate_keys(node: &CstNode) -> Result<(), String> {
    if let Some(o) = node.as_object() {
        let mut seen = std::collections::HashSet::new();
        for p in o.properties() {
            let name = prop_name(&p);
            if !seen.insert(name.clone()) {
                return Err(format!(
                    "the key `{name}` appears twice in one object (agents read the last one)"
                ));
            }
            if let Some(v) = p.value() {
                no_duplicate_keys(&v)?;
            }
        }
    } else if let Some(a) = node.as_array() {
        for e in a.elements() {
            no_duplicate_keys(&e)?;
        }
    }
    Ok(())
}

/// The object at `key` if there is one; an error if the key holds another type.
fn existing_object(obj: &CstObject, key: &str) -> Result<Option<CstObject>, String> {
    match obj.get(key) {
        None => Ok(None),
        Some(_) => obj
            .object_value(key)
            .map(Some)
            .ok_or_else(|| format!("`{key}` is not an object")),
    }
}

/// The object at `path`, created where missing; an error where a value of another type is.
fn object_at(obj: &CstObject, path: &[&str]) -> Result<CstObject, String> {
    let mut cur = obj.clone();
    for (i, k) in path.iter().enumerate() {
        cur = cur.object_value_or_create(k).ok_or_else(|| {
            format!(
                "`{}` is not an object",
                path.get(..=i).unwrap_or(path).join(".")
            )
        })?;
    }
    Ok(cur)
}

/// The array at `path` (objects, then an array last), created where missing.
fn array_at(obj: &CstObject, path: &[&str]) -> Result<CstArray, String> {
    let (last, parents) = path.split_last().ok_or("empty path")?;
    let parent = object_at(obj, parents)?;
    parent
        .array_value_or_create(last)
        .ok_or_else(|| format!("`{}` is not a list", path.join(".")))
}

/// Whether a hook list already runs `crust hook AGENT` for every tool (grouped under `hooks`
/// lists behind a matcher when `grouped`, as Claude Code and Gemini CLI nest them; flat, as
/// Cursor has them). A group limited to some tools (`"matcher": "Bash"`) does not count.
fn has_hook(list: &CstArray, agent: &str, grouped: bool, w: &Wiring) -> bool {
    let Some(Value::Array(items)) = list_value(list) else {
        return false;
    };
    let runs_crust = |h: &Value| {
        h.get("command")
            .and_then(Value::as_str)
            .and_then(|c| crust_hook_program(c, agent))
            .is_some_and(|prog| runs(&prog, w))
    };
    items.iter().any(|item| {
        if grouped {
            let every_tool = match item.get("matcher") {
                None => true,
                Some(Value::String(m)) => matches!(m.as_str(), "" | "*" | ".*"),
                Some(_) => false,
            };
            every_tool
                && item
                    .get("hooks")
                    .and_then(Value::as_array)
                    .is_some_and(|hs| hs.iter().any(runs_crust))
        } else {
            runs_crust(item)
        }
    })
}

fn list_value(list: &CstArray) -> Option<Value> {
    CstNode::Container(list.clone().into()).to_serde_value()
}

/// `crust hook AGENT …`, `crust` the program run (its first word): that program.
fn crust_hook_program(command: &str, agent: &str) -> Option<String> {
    let words: Vec<&str> = command
        .split_whitespace()
        .map(|w| w.trim_matches(['\'', '"']))
        .collect();
    match words.as_slice() {
        [prog, "hook", a, ..] if is_crust(prog) && *a == agent => Some((*prog).to_owned()),
        [prog, a, ..] if is_hook_client(prog) && *a == agent => Some((*prog).to_owned()),
        _ => None,
    }
}

/// [`crust_hook_program`] for any agent setup wires.
fn is_crust_hook(command: &str, agent: &str) -> bool {
    crust_hook_program(command, agent).is_some()
}

fn set_base_url(
    env: &CstObject,
    key: &str,
    url: &str,
    notes: &mut Vec<Note>,
) -> Result<(), String> {
    match env
        .get(key)
        .map(|p| p.value().and_then(|v| v.to_serde_value()))
    {
        None => {
            env.append(key, CstInputValue::String(url.to_owned()));
            notes.push(Note::Did(format!("{key} = {url}")));
            notes.push(Note::UrlSet(url.to_owned()));
        }
        Some(Some(Value::String(cur))) if cur.trim_end_matches('/') == url => {}
        Some(Some(Value::String(cur))) => notes.push(Note::Kept(format!(
            "{key} is {cur}: left as it is (run Crust with --endpoint {cur} and set {key} to \
             {url} to put that gateway behind Crust)"
        ))),
        Some(_) => return Err(format!("`env.{key}` is not a string")),
    }
    Ok(())
}

/// An object with its keys in the order given (as people write hook entries).
fn object(props: Vec<(&str, CstInputValue)>) -> CstInputValue {
    CstInputValue::Object(props.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// `[{k: v, …}]` of strings: one hook of a group.
fn hook_list(props: &[(&str, &str)]) -> CstInputValue {
    CstInputValue::Array(vec![object(
        props.iter().map(|(k, v)| (*k, (*v).into())).collect(),
    )])
}

/// A word as POSIX shells read it: left bare when it is plain, else single-quoted.
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:@%,=".contains(c));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Takes setup's changes out of a JSON(C) text that changed since: every hook running
/// `crust hook`, a base URL equal to `url`, and `crust wrap` around MCP servers.
pub fn json_undo(text: &str, url: Option<&str>, wrapped: &[String]) -> Result<String, String> {
    let root = CstRootNode::parse(text, &ParseOptions::default())
        .map_err(|e| format!("not valid JSON: {e}"))?;
    let Some(obj) = root.object_value() else {
        return Ok(text.to_owned());
    };
    if let Some(hooks) = obj.object_value("hooks") {
        for event in hooks.properties() {
            let Some(CstNode::Container(c)) = event.value() else {
                continue;
            };
            let Some(list) = c.as_array() else { continue };
            for item in list.elements() {
                let v = item.to_serde_value().unwrap_or(Value::Null);
                let crust = |h: &Value| {
                    h.get("command")
                        .and_then(Value::as_str)
                        .is_some_and(|c| AGENT_NAMES.iter().any(|a| is_crust_hook(c, a)))
                };
                if crust(&v) {
                    item.remove();
                    continue;
                }
                let inner = v.get("hooks").and_then(Value::as_array);
                if inner.is_some_and(|hs| !hs.is_empty() && hs.iter().all(crust)) {
                    item.remove();
                } else if inner.is_some_and(|hs| hs.iter().any(crust)) {
                    if let Some(inner_list) = item.as_object().and_then(|o| o.array_value("hooks"))
                    {
                        for h in inner_list.elements() {
                            if h.to_serde_value().as_ref().is_some_and(crust) {
                                h.remove();
                            }
                        }
                    }
                }
            }
            if list.elements().is_empty() {
                event.remove();
            }
        }
        if hooks.properties().is_empty() {
            if let Some(p) = obj.get("hooks") {
                p.remove();
            }
        }
    }
    if let (Some(env), Some(url)) = (obj.object_value("env"), url) {
        if let Some(p) = env.get("ANTHROPIC_BASE_URL") {
            if p.value().and_then(|v| v.to_serde_value()) == Some(Value::String(url.to_owned())) {
                p.remove();
            }
        }
        if env.properties().is_empty() {
            if let Some(p) = obj.get("env") {
                p.remove();
            }
        }
    }
    let mut lists: Vec<CstObject> = ["mcpServers", "servers"]
        .iter()
        .filter_map(|k| obj.object_value(k))
        .collect();
    if let Some(projects) = obj.object_value("projects") {
        for p in projects.properties() {
            if let Some(CstNode::Container(c)) = p.value() {
                if let Some(s) = c.as_object().and_then(|o| o.object_value("mcpServers")) {
                    lists.push(s);
                }
            }
        }
    }
    for servers in lists {
        for p in servers.properties() {
            if !wrapped.contains(&prop_name(&p)) {
                continue;
            }
            let Some(CstNode::Container(c)) = p.value() else {
                continue;
            };
            let Some(entry) = c.as_object() else { continue };
            let cmd = entry
                .get("command")
                .and_then(|c| c.value()?.to_serde_value());
            let args = entry.get("args").and_then(|a| a.value()?.to_serde_value());
            let (Some(Value::String(cmd)), Some(Value::Array(args))) = (cmd, args) else {
                continue;
            };
            let args: Vec<String> = args
                .into_iter()
                .filter_map(|a| a.as_str().map(str::to_owned))
                .collect();
            if let Some((prog, rest)) = unwrapped(&cmd, &args) {
                if let Some(c) = entry.get("command") {
                    c.set_value(CstInputValue::String(prog));
                }
                if let Some(a) = entry.get("args") {
                    a.set_value(CstInputValue::Array(
                        rest.into_iter().map(CstInputValue::String).collect(),
                    ));
                }
            }
        }
    }
    Ok(root.to_string())
}

/// Takes setup's changes out of a Codex `config.toml` that changed since.
pub fn toml_undo(text: &str, provider: bool, wrapped: &[String]) -> Result<String, String> {
    use toml_edit::{value, Array, DocumentMut};
    let mut doc: DocumentMut = text.parse().map_err(|e| format!("not valid TOML: {e}"))?;
    if provider {
        if doc.get("model_provider").and_then(|i| i.as_str()) == Some(CODEX_PROVIDER) {
            doc.remove("model_provider");
        }
        if let Some(p) = doc
            .get_mut("model_providers")
            .and_then(|i| i.as_table_like_mut())
        {
            p.remove(CODEX_PROVIDER);
            if p.is_empty() {
                doc.remove("model_providers");
            }
        }
    }
    if let Some(servers) = doc
        .get_mut("mcp_servers")
        .and_then(|i| i.as_table_like_mut())
    {
        for (name, item) in servers.iter_mut() {
            if !wrapped.iter().any(|w| w == name.get()) {
                continue;
            }
            let Some(t) = item.as_table_like_mut() else {
                continue;
            };
            let cmd = t.get("command").and_then(|c| c.as_str()).map(str::to_owned);
            let args: Option<Vec<String>> = t.get("args").and_then(|a| a.as_array()).map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            });
            let (Some(cmd), Some(args)) = (cmd, args) else {
                continue;
            };
            if let Some((prog, rest)) = unwrapped(&cmd, &args) {
                t.insert("command", value(prog));
                let mut arr = Array::new();
                for a in &rest {
                    arr.push(a.as_str());
                }
                t.insert("args", value(arr));
            }
        }
    }
    Ok(doc.to_string())
}

/// The agents whose hook commands setup writes.
const AGENT_NAMES: &[&str] = &["claude-code", "cursor", "gemini"];

/// The server command inside `crust wrap [--name N] -- CMD ARGS…`.
fn unwrapped(cmd: &str, args: &[String]) -> Option<(String, Vec<String>)> {
    if !is_wrapped(cmd, args) {
        return None;
    }
    let sep = args.iter().position(|a| a == "--")?;
    let prog = args.get(sep + 1)?.clone();
    Some((prog, args.get(sep + 2..).unwrap_or_default().to_vec()))
}
