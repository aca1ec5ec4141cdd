//! Judges JSON-RPC 2.0 messages between an MCP client and server, or between an editor and an
//! ACP agent, one message at a time. Transport-free: the stdio relay (`crust wrap`) hands each
//! line over and writes what comes back.
//!
//! - A request that acts (MCP `tools/call`, `resources/read`, `prompts/get`; ACP
//!   `fs/read_text_file`, `fs/write_text_file`, `terminal/create`,
//!   `session/request_permission`; any method the tool table names) is judged as the tool call
//!   it stands for. A refused one never reaches the other side: its sender gets the answer (a
//!   JSON-RPC error, or for a permission request the "reject" option).
//! - Every other message's payload (results, errors, notifications, other requests' params) is
//!   text one side hands the other, and through it a model: it is scanned for secrets like the
//!   text a request sends to a provider.
//! - A server's tool list is compared with the pinned one (see [`super::pin`]).
//! - What cannot be read (not JSON, not JSON-RPC, over the size bound) is never relayed.

use super::pin::{self, Change, PinStore, Pinned, ToolDef};
use crate::audit::Auditor;
use crate::own::OwnFiles;
use crate::proxy::judge::{Args, AuditContext, Decision, Judge};
use crate::proxy::outbound::OUTBOUND_TOOL;
use crate::Bundle;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::{Mutex, RwLock};

/// The JSON-RPC error code of a refusal (the implementation-defined server error range).
pub const REFUSED: i64 = -32001;
const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;

/// Requests awaiting an answer kept at most (tool lists asked for and not yet answered).
const MAX_AWAITING: usize = 4096;

/// The rule name of a refusal for a tool list that changed since it was trusted.
pub const PIN_RULE: &str = "crust:mcp-tool-pinning";

/// Which end of the relay sent a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The process that runs Crust: an MCP client, or the editor of an ACP agent.
    Client,
    /// The process Crust runs: an MCP server, or an ACP agent.
    Child,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::Client => Side::Child,
            Side::Child => Side::Client,
        }
    }
}

/// What the relay does after a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    /// Write this line (without its newline) to that side.
    Send(Side, Vec<u8>),
    /// Tell the user (on standard error).
    Note(String),
}

/// How a gateway is set up.
pub struct Config {
    pub bundle: Bundle,
    /// The server's name, as in `mcp__<server>__<tool>` and in the pin store.
    pub server: String,
    /// The command the child runs as (kept in its pin).
    pub command: Vec<String>,
    pub home: String,
    pub cwd: Option<String>,
    pub own: OwnFiles,
    /// Where tool lists are pinned (none: no pinning).
    pub pins: Option<PinStore>,
    pub audit: Option<Auditor>,
}

/// Per-session state.
#[derive(Default)]
struct State {
    /// Requests whose answers need more than a scan, by (session, sender, id).
    awaiting: HashMap<(String, Side, String), Awaiting>,
    /// Whether nothing was pinned for the server when this session listed its tools first;
    /// set at the first list, cleared once a whole list was seen.
    learning: Option<bool>,
    /// Set while the server's latest tool list is not trusted: every tool call is refused.
    untrusted: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Awaiting {
    ToolsList,
}

/// A refusal: the rule and the message for whoever reads the answer.
struct Refusal {
    rule: String,
    message: String,
}

pub struct Gateway {
    cfg: Config,
    label: String,
    state: Mutex<State>,
    /// Taken out (and so closed) by [`Gateway::close_audit`] at the end of a session, while
    /// a pump may still hold the gateway.
    audit: RwLock<Option<Auditor>>,
}

impl Gateway {
    pub fn new(mut cfg: Config) -> Gateway {
        Gateway {
            label: format!("mcp:{}", cfg.server),
            audit: RwLock::new(cfg.audit.take()),
            cfg,
            state: Mutex::new(State::default()),
        }
    }

    /// Stops recording decisions and hands the audit log's last records to its writer (which
    /// seals them once every other handle is gone).
    pub fn close_audit(&self) {
        let mut a = self
            .audit
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *a = None;
    }

    pub fn server(&self) -> &str {
        &self.cfg.server
    }

    /// Handles one line from `from`.
    pub fn handle(&self, from: Side, line: &[u8]) -> Vec<Out> {
        self.handle_in("", from, line)
    }

    /// Handles one message of a session (HTTP transports carry many sessions to one server:
    /// an answer is matched to its request within its session).
    pub fn handle_in(&self, session: &str, from: Side, line: &[u8]) -> Vec<Out> {
        let text = line.trim_ascii();
        if text.is_empty() {
            return Vec::new();
        }
        let v: Value = match serde_json::from_slice(text) {
            Ok(v) => v,
            Err(e) => return self.unreadable(from, &format!("it is not JSON ({e})")),
        };
        match &v {
            Value::Array(items) if !items.is_empty() => {
                // A batch: each message is judged and relayed on its own line.
                items
                    .iter()
                    .flat_map(|m| self.message(session, from, m, None))
                    .collect()
            }
            Value::Object(_) => self.message(session, from, &v, Some(text)),
            _ => self.unreadable(from, "it is not a JSON-RPC message (an object)"),
        }
    }

    /// A line that was too long to read.
    pub fn too_long(&self, from: Side, len: usize, max: usize) -> Vec<Out> {
        self.unreadable(
            from,
            &format!("it is {len} bytes long, over the {max}-byte bound"),
        )
    }

    /// A message that cannot be judged is dropped; a client is told (a server's unreadable
    /// output has no id to answer, and some servers stop at an unexpected error).
    fn unreadable(&self, from: Side, why: &str) -> Vec<Out> {
        let who = match from {
            Side::Client => "the client",
            Side::Child => "the server",
        };
        let note = format!(
            "crust wrap ({}): dropped a message from {who}: {why}",
            self.cfg.server
        );
        let mut out = vec![Out::Note(note)];
        if from == Side::Client {
            out.push(Out::Send(
                from,
                error(
                    &Value::Null,
                    PARSE_ERROR,
                    &format!("Crust cannot read this message: {why}"),
                    None,
                ),
            ));
        }
        out
    }

    fn message(&self, session: &str, from: Side, msg: &Value, raw: Option<&[u8]>) -> Vec<Out> {
        let forward = || {
            let bytes = raw.map_or_else(|| msg.to_string().into_bytes(), <[u8]>::to_vec);
            Out::Send(from.other(), bytes)
        };
        let Some(obj) = msg.as_object() else {
            return self.unreadable(from, "a batch holds something that is not an object");
        };
        let id = obj.get("id");
        let method = obj.get("method").map(Value::as_str);
        match (method, id) {
            (Some(Some(m)), Some(id)) => match self.request(from, m, obj.get("params")) {
                Ok(awaiting) => {
                    if let Some(a) = awaiting {
                        let mut state = self.lock();
                        // Answers that never come (a dropped connection) must not pile up.
                        if state.awaiting.len() >= MAX_AWAITING {
                            state.awaiting.clear();
                        }
                        state
                            .awaiting
                            .insert((session.to_owned(), from, id_key(id)), a);
                    }
                    vec![forward()]
                }
                Err(r) => {
                    let answer = if m == "session/request_permission" {
                        reject_permission(id, obj.get("params"))
                    } else {
                        error(id, REFUSED, &r.message, Some(&r.rule))
                    };
                    vec![
                        Out::Note(self.note(&format!("refused `{m}`: {}", r.message))),
                        Out::Send(from, answer),
                    ]
                }
            },
            (Some(Some(m)), None) => match self.scan(from, obj.get("params"), "notification") {
                Ok(()) => vec![forward()],
                Err(r) => vec![Out::Note(
                    self.note(&format!("dropped a `{m}` notification: {}", r.message)),
                )],
            },
            (None, Some(id)) if obj.contains_key("result") || obj.contains_key("error") => {
                let key = (session.to_owned(), from.other(), id_key(id));
                let awaiting = self.lock().awaiting.remove(&key);
                let checked = match (awaiting, obj.get("result")) {
                    (Some(Awaiting::ToolsList), Some(result)) => self.check_tools(result),
                    _ => Ok(()),
                };
                let payload = obj.get("result").or_else(|| obj.get("error"));
                match checked.and_then(|()| self.scan(from, payload, "answer")) {
                    Ok(()) => vec![forward()],
                    Err(r) => vec![
                        Out::Note(self.note(&format!("refused an answer: {}", r.message))),
                        Out::Send(from.other(), error(id, REFUSED, &r.message, Some(&r.rule))),
                    ],
                }
            }
            _ => {
                let mut out =
                    self.unreadable(from, "it is not a JSON-RPC request, notification or answer");
                // A client's request with an id still gets its answer under that id.
                if let (Side::Client, Some(id)) = (from, id) {
                    out.retain(|o| matches!(o, Out::Note(_)));
                    out.push(Out::Send(
                        from,
                        error(id, INVALID_REQUEST, "Crust cannot read this message", None),
                    ));
                }
                out
            }
        }
    }

    fn audit_log(&self) -> std::sync::RwLockReadGuard<'_, Option<Auditor>> {
        self.audit
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn note(&self, what: &str) -> String {
        format!("crust wrap ({}): {what}", self.cfg.server)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic elsewhere leaves the state as consistent as any single update made it.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn judge<'a>(&'a self, side: &'static str, audit: &'a Option<Auditor>) -> Judge<'a> {
        Judge {
            bundle: &self.cfg.bundle,
            home: &self.cfg.home,
            cwd: self.cfg.cwd.as_deref(),
            substitute: None,
            audit: audit.as_ref().map(|auditor| AuditContext {
                auditor,
                api: "mcp",
                side,
                agent: Some(&self.label),
                session: None,
            }),
            own: &self.cfg.own,
        }
    }

    /// Judges one tool call.
    fn call(&self, tool: &str, args: &Value) -> Result<(), Refusal> {
        let audit = self.audit_log();
        match self.judge("request", &audit).call(tool, Args::Object(args)) {
            Decision::Allow => Ok(()),
            Decision::Block { rule, notice } => Err(Refusal {
                rule,
                message: notice,
            }),
        }
    }

    /// Judges a request; on allow, says whether its answer needs more than a scan.
    fn request(
        &self,
        from: Side,
        method: &str,
        params: Option<&Value>,
    ) -> Result<Option<Awaiting>, Refusal> {
        let empty = Value::Object(Map::new());
        let params = match params {
            None | Some(Value::Null) => &empty,
            Some(p @ Value::Object(_)) => p,
            Some(_) => return Err(malformed(method, "its params are not an object")),
        };
        match method {
            "tools/call" => {
                let name = str_param(params, "name", method)?;
                if let Some(why) = self.lock().untrusted.clone() {
                    return Err(Refusal {
                        rule: PIN_RULE.to_owned(),
                        message: why,
                    });
                }
                let args = object_param(params, "arguments", method)?;
                self.call(&format!("mcp__{}__{name}", self.cfg.server), args)?;
                Ok(None)
            }
            "tools/list" => {
                self.scan(from, Some(params), "request")?;
                Ok(Some(Awaiting::ToolsList))
            }
            "prompts/get" => {
                // A prompt's arguments are judged like an unknown tool's: every path in them
                // as a read.
                let name = str_param(params, "name", method)?;
                let args = object_param(params, "arguments", method)?;
                self.call(&format!("mcp__{}__prompt:{name}", self.cfg.server), args)?;
                Ok(None)
            }
            "terminal/create" => {
                self.call(method, &terminal_call(params, method)?)?;
                Ok(None)
            }
            "session/request_permission" => {
                for (tool, args) in permission_calls(params) {
                    self.call(&tool, &args)?;
                }
                Ok(None)
            }
            m if self.cfg.bundle.knows_tool(m) => {
                self.call(m, params)?;
                Ok(None)
            }
            _ => {
                self.scan(from, Some(params), "request")?;
                Ok(None)
            }
        }
    }

    /// Scans a payload for secrets, as text one side hands the other.
    fn scan(&self, from: Side, payload: Option<&Value>, what: &str) -> Result<(), Refusal> {
        let Some(v) = payload else { return Ok(()) };
        let mut text = String::new();
        collect_text(v, &mut text);
        if text.trim().is_empty() {
            return Ok(());
        }
        let side = if from == Side::Child {
            "response"
        } else {
            "request"
        };
        let audit = self.audit_log();
        match self
            .judge(side, &audit)
            .call(OUTBOUND_TOOL, Args::Object(&json!({ "text": text })))
        {
            Decision::Allow => Ok(()),
            Decision::Block { rule, .. } => {
                let who = match from {
                    Side::Client => "the client",
                    Side::Child => "the server",
                };
                let why = self.rule_message(&rule);
                Err(Refusal {
                    message: format!(
                        "Blocked by Crust: {rule}: this {what} from {who} was withheld: {why}"
                    ),
                    rule,
                })
            }
        }
    }

    fn rule_message(&self, rule: &str) -> String {
        self.cfg
            .bundle
            .meta()
            .rules
            .iter()
            .find(|r| r.name == rule)
            .map_or_else(|| "it holds a secret.".to_owned(), |r| r.message.clone())
    }

    /// Compares a `tools/list` result with the pinned tools.
    fn check_tools(&self, result: &Value) -> Result<(), Refusal> {
        let Some(store) = &self.cfg.pins else {
            return Ok(());
        };
        let refuse = |message: String| Refusal {
            rule: PIN_RULE.to_owned(),
            message,
        };
        let tools = result
            .get("tools")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                refuse("Blocked by Crust: the server's tool list is not a list of tools".into())
            })?;
        let offered: Vec<(String, ToolDef)> = tools
            .iter()
            .map(pin::tool_def)
            .collect::<Option<_>>()
            .ok_or_else(|| {
                refuse("Blocked by Crust: a tool in the server's list has no name".into())
            })?;
        let server = &self.cfg.server;
        let pinned = store.load(server).map_err(|e| {
            refuse(format!(
                "Blocked by Crust: cannot read the pinned tools: {e}"
            ))
        })?;
        let whole = result.get("nextCursor").is_none_or(Value::is_null);
        let learning = {
            let mut s = self.lock();
            let l = *s.learning.get_or_insert(pinned.is_none());
            if whole {
                s.learning = Some(false);
            }
            l
        };
        let base = pinned.clone().unwrap_or_else(|| Pinned {
            server: server.clone(),
            command: self.cfg.command.clone(),
            tools: Default::default(),
        });
        let (changes, proposed) = pin::compare(&base, &offered, learning, &|n, d| self.flag(n, d));
        if changes.is_empty() {
            if pinned.as_ref() != Some(&proposed) {
                store
                    .save(&proposed)
                    .map_err(|e| refuse(format!("Blocked by Crust: cannot pin the tools: {e}")))?;
            }
            self.lock().untrusted = None;
            return Ok(());
        }
        store
            .save_pending(&proposed)
            .map_err(|e| refuse(format!("Blocked by Crust: cannot record the tools: {e}")))?;
        let list: Vec<String> = changes.iter().map(Change::describe).collect();
        let message = format!(
            "Blocked by Crust: {PIN_RULE}: the tools of MCP server `{server}` are not the ones \
             the user trusted ({}). Its tools are withheld until the user reviews them and runs \
             `crust mcp trust {server}`.",
            list.join("; ")
        );
        self.lock().untrusted = Some(message.clone());
        Err(refuse(message))
    }

    /// Why a tool's definition is not to be trusted without the user, if it is not: text a
    /// reader does not see, instructions aimed at the model, a protected file or a secret.
    pub fn flag(&self, _name: &str, def: &ToolDef) -> Option<String> {
        let text = format!("{}\n{}", def.description, def.definition);
        if let Some(c) = text.chars().find(|&c| hidden(c)) {
            return Some(format!(
                "holds a character a reader does not see (U+{:04X})",
                u32::from(c)
            ));
        }
        let folded = fold(&text);
        if let Some(p) = INSTRUCTIONS.iter().find(|p| folded.contains(*p)) {
            return Some(format!("speaks to the model (\"{p}\")"));
        }
        let quiet = self.judge("request", &None);
        for token in text.split(|c: char| c.is_whitespace() || "\"'`,;()<>[]{}".contains(c)) {
            let token = token.trim_end_matches(['.', ':', '!', '?']);
            let pathy = token.contains('/')
                && (token.starts_with(['~', '/', '$', '%']) || token.starts_with(".."));
            if !pathy {
                continue;
            }
            if let Decision::Block { rule, .. } =
                quiet.call("Read", Args::Object(&json!({ "file_path": token })))
            {
                return Some(format!("names a protected file, {token} ({rule})"));
            }
        }
        if let Decision::Block { rule, .. } =
            quiet.call(OUTBOUND_TOOL, Args::Object(&json!({ "text": text })))
        {
            return Some(format!("holds a secret ({rule})"));
        }
        None
    }
}

/// Phrases by which a tool description gives the model orders (lower case, spaces collapsed).
const INSTRUCTIONS: &[&str] = &[
    "ignore previous instructions",
    "ignore all previous",
    "ignore prior instructions",
    "ignore all prior",
    "ignore the above",
    "ignore any previous",
    "disregard previous",
    "disregard all previous",
    "disregard prior",
    "disregard the above",
    "forget your instructions",
    "forget all previous",
    "do not tell the user",
    "don't tell the user",
    "do not inform the user",
    "do not mention this",
    "don't mention this",
    "without telling the user",
    "without informing the user",
    "without the user knowing",
    "the user must not",
    "hide this from the user",
    "<important>",
    "</important>",
    "<system>",
    "[system]",
    "<|im_start|>",
    "new instructions:",
    "system prompt",
];

/// Characters that change what a reader sees without being seen: zero-width, bidirectional
/// controls, invisible operators, the byte-order mark, Unicode tags (text hidden in plain
/// sight), the soft hyphen and the Mongolian vowel separator.
fn hidden(c: char) -> bool {
    matches!(u32::from(c),
        0x00AD | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064
        | 0x2066..=0x2069 | 0xFEFF | 0xE0000..=0xE007F)
}

fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out.replace('\u{2019}', "'")
}

/// Every string of a value (object keys included), one per line; a `blob` or `data` field that
/// decodes from base64 to text is added decoded (resource contents and embedded files).
fn collect_text(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => {
            out.push_str(s);
            out.push('\n');
        }
        Value::Array(a) => a.iter().for_each(|x| collect_text(x, out)),
        Value::Object(m) => {
            for (k, x) in m {
                out.push_str(k);
                out.push('\n');
                if let (true, Value::String(s)) = (matches!(k.as_str(), "blob" | "data"), x) {
                    use base64::Engine;
                    if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(s.trim()) {
                        if let Ok(t) = String::from_utf8(bytes) {
                            out.push_str(&t);
                            out.push('\n');
                        }
                    }
                }
                collect_text(x, out);
            }
        }
        Value::Number(_) | Value::Bool(_) | Value::Null => {}
    }
}

/// An id as a map key: its JSON text, so `1` and `"1"` stay apart.
fn id_key(id: &Value) -> String {
    id.to_string()
}

fn malformed(method: &str, why: &str) -> Refusal {
    Refusal {
        rule: crate::model::MALFORMED_RULE.to_owned(),
        message: format!("Blocked by Crust: `{method}` cannot be checked: {why}."),
    }
}

fn str_param<'v>(params: &'v Value, key: &str, method: &str) -> Result<&'v str, Refusal> {
    params
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| malformed(method, &format!("it has no `{key}` string")))
}

fn object_param<'v>(params: &'v Value, key: &str, method: &str) -> Result<&'v Value, Refusal> {
    static EMPTY: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    match params.get(key) {
        None | Some(Value::Null) => Ok(EMPTY.get_or_init(|| Value::Object(Map::new()))),
        Some(v @ Value::Object(_)) => Ok(v),
        Some(_) => Err(malformed(method, &format!("its `{key}` is not an object"))),
    }
}

/// ACP's `terminal/create` as the tool call the table knows: the program and its arguments as
/// one argument vector (through `env` when variables are set, so `LD_PRELOAD` and the like are
/// judged), a lone command line with spaces through `sh -c`, and the directory.
fn terminal_call(params: &Value, method: &str) -> Result<Value, Refusal> {
    let command = str_param(params, "command", method)?;
    let mut argv: Vec<String> = Vec::new();
    if let Some(env) = params.get("env").and_then(Value::as_array) {
        for var in env {
            let name = var.get("name").and_then(Value::as_str);
            let value = var.get("value").and_then(Value::as_str);
            match (name, value) {
                (Some(n), Some(v)) => argv.push(format!("{n}={v}")),
                _ => {
                    return Err(malformed(
                        method,
                        "an `env` entry is not a name and a value",
                    ))
                }
            }
        }
        if !argv.is_empty() {
            argv.insert(0, "env".to_owned());
        }
    }
    let args: Vec<&str> = match params.get("args") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(Value::as_str)
            .collect::<Option<_>>()
            .ok_or_else(|| malformed(method, "its `args` are not strings"))?,
        Some(_) => return Err(malformed(method, "its `args` are not a list")),
    };
    if args.is_empty() && command.trim().contains(char::is_whitespace) {
        argv.extend(["sh".to_owned(), "-c".to_owned(), command.to_owned()]);
    } else {
        argv.push(command.to_owned());
        argv.extend(args.iter().map(|s| (*s).to_owned()));
    }
    let mut call = Map::new();
    call.insert("command".into(), json!(argv));
    if let Some(cwd) = params.get("cwd").and_then(Value::as_str) {
        call.insert("cwd".into(), Value::String(cwd.to_owned()));
    }
    Ok(Value::Object(call))
}

/// ACP's `session/request_permission` as the calls it asks to make: each location read,
/// written or deleted as the kind says, and the raw input judged by its shape (a command, a
/// URL, paths).
fn permission_calls(params: &Value) -> Vec<(String, Value)> {
    let call = params.get("toolCall").unwrap_or(&Value::Null);
    let kind = call.get("kind").and_then(Value::as_str).unwrap_or("other");
    let mut out = Vec::new();
    let tool = match kind {
        "edit" => "Write",
        "delete" => "delete_file",
        _ => "Read",
    };
    for loc in call
        .get("locations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(p) = loc.get("path").and_then(Value::as_str) {
            out.push((tool.to_owned(), json!({ "file_path": p })));
        }
    }
    match call.get("rawInput") {
        Some(Value::Object(raw)) => {
            let command = raw.get("command");
            match (kind, command) {
                ("execute", Some(Value::String(c))) => {
                    out.push(("Bash".to_owned(), json!({ "command": c })));
                }
                ("execute", Some(Value::Array(_))) => {
                    out.push(("shell".to_owned(), json!({ "command": command })));
                }
                _ => {}
            }
            out.push((format!("acp:{kind}"), Value::Object(raw.clone())));
        }
        Some(Value::String(s)) if kind == "execute" => {
            out.push(("Bash".to_owned(), json!({ "command": s })));
        }
        _ => {}
    }
    out
}

/// The answer that refuses a permission request: the agent's "reject" option where it offers
/// one, else "cancelled" (which the agent takes as a refusal too).
fn reject_permission(id: &Value, params: Option<&Value>) -> Vec<u8> {
    let options = params
        .and_then(|p| p.get("options"))
        .and_then(Value::as_array);
    let reject = options.into_iter().flatten().find_map(|o| {
        let kind = o.get("kind").and_then(Value::as_str)?;
        kind.starts_with("reject")
            .then(|| o.get("optionId").cloned())
            .flatten()
    });
    let outcome = match reject {
        Some(option) => json!({ "outcome": "selected", "optionId": option }),
        None => json!({ "outcome": "cancelled" }),
    };
    json!({ "jsonrpc": "2.0", "id": id, "result": { "outcome": outcome } })
        .to_string()
        .into_bytes()
}

fn error(id: &Value, code: i64, message: &str, rule: Option<&str>) -> Vec<u8> {
    let mut err = Map::new();
    err.insert("code".into(), json!(code));
    err.insert("message".into(), json!(message));
    if let Some(r) = rule {
        err.insert("data".into(), json!({ "rule": r }));
    }
    json!({ "jsonrpc": "2.0", "id": id, "error": err })
        .to_string()
        .into_bytes()
}
