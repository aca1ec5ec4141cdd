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
use crate::Engine;
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
    pub bundle: Engine,
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
    learning: HashMap<Awaiting, bool>,
    /// Set while the server's latest tool list is not trusted: every tool call is refused.
    untrusted: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Awaiting {
    Initialize,
    ToolsList,
    PromptsList,
    Other,
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
    /// an answer is matched to its request within its session). `session` may be
    /// `SESSION\0EXCHANGE`: the client's requests are then matched within that one exchange
    /// (an HTTP POST, whose answers come back in its own response), the server's within the
    /// session (the client answers them in later exchanges).
    pub fn handle_in(&self, session: &str, from: Side, line: &[u8]) -> Vec<Out> {
        let text = line.trim_ascii();
        if text.is_empty() {
            return Vec::new();
        }
        let v: Value = match serde_json::from_slice(text) {
            Ok(v) => v,
            Err(e) => {
                return self.unreadable_line(session, from, &format!("it is not JSON ({e})"), text)
            }
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

    /// Forgets the client's requests of an exchange that ended (their answers can no longer
    /// come).
    pub fn forget(&self, exchange: &str) {
        self.lock()
            .awaiting
            .retain(|(k, side, _), _| !(*side == Side::Client && k == exchange));
    }

    /// A line that was too long to read (`head`: its first bytes).
    pub fn too_long(&self, from: Side, len: usize, max: usize, head: &[u8]) -> Vec<Out> {
        self.unreadable_line(
            "",
            from,
            &format!("it is {len} bytes long, over the {max}-byte bound"),
            head,
        )
    }

    /// A message that cannot be parsed: dropped, and where its text shows the id of a request
    /// that waits for an answer, that request answered with an error (a client would otherwise
    /// wait for ever).
    fn unreadable_line(&self, session: &str, from: Side, why: &str, line: &[u8]) -> Vec<Out> {
        let Some(id) = salvage_id(line) else {
            return self.unreadable(from, why);
        };
        let mut out: Vec<Out> = self
            .unreadable(from, why)
            .into_iter()
            .filter(|o| matches!(o, Out::Note(_)))
            .collect();
        let message = format!("Crust cannot read this message: {why}");
        match from {
            Side::Client => out.push(Out::Send(from, error(&id, PARSE_ERROR, &message, None))),
            Side::Child => {
                let key = (scope(session, Side::Client), Side::Client, id_key(&id));
                if self.lock().awaiting.remove(&key).is_some() {
                    let message = format!("Crust withheld the server's answer: {why}");
                    out.push(Out::Send(Side::Client, error(&id, REFUSED, &message, None)));
                }
            }
        }
        out
    }

    /// A message that cannot be judged is dropped; a client is told (a server's unreadable
    /// output has no id to answer, and some servers stop at an unexpected error).
    fn unreadable(&self, from: Side, why: &str) -> Vec<Out> {
        let who = match from {
            Side::Client => "the client",
            Side::Child => "the server",
        };
        let note = format!(
            "crust ({}): dropped a message from {who}: {why}",
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
        // Relayed as written, unless it holds a carriage return (some readers split lines at
        // one, and would read a second message where Crust judged one): then re-encoded.
        let forward = |msg: &Value| {
            let bytes = match raw {
                Some(r) if !r.contains(&b'\r') => r.to_vec(),
                _ => msg.to_string().into_bytes(),
            };
            Out::Send(from.other(), bytes)
        };
        let Some(obj) = msg.as_object() else {
            return self.unreadable(from, "a batch holds something that is not an object");
        };
        if let Some(k) = ambiguous(msg) {
            let mut out = self.unreadable(
                from,
                &format!("it has two keys `{k}` that differ only in case (readers differ on which counts)"),
            );
            if let (Side::Client, Some(id)) = (from, obj.get("id")) {
                out.retain(|o| matches!(o, Out::Note(_)));
                out.push(Out::Send(
                    from,
                    error(
                        id,
                        INVALID_REQUEST,
                        "Crust cannot read this message: keys differ only in case",
                        None,
                    ),
                ));
            }
            return out;
        }
        let id = obj.get("id");
        let method = obj.get("method").map(Value::as_str);
        match (method, id) {
            (Some(Some(m)), Some(id)) => match self.request(from, m, obj.get("params")) {
                Ok(awaiting) => {
                    {
                        let a = awaiting.unwrap_or(Awaiting::Other);
                        let mut state = self.lock();
                        // Answers that never come (a dropped connection) must not pile up.
                        if state.awaiting.len() >= MAX_AWAITING {
                            state.awaiting.clear();
                        }
                        state
                            .awaiting
                            .insert((scope(session, from), from, id_key(id)), a);
                    }
                    vec![forward(msg)]
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
            (Some(Some(m)), None) => {
                // A request sent without an id is still a request to act: judged the same.
                let judged = if self.acts(m) {
                    self.request(from, m, obj.get("params")).map(|_| ())
                } else {
                    self.scan(from, Some(msg), "notification")
                };
                match judged {
                    Ok(()) => {
                        if m == "notifications/cancelled" {
                            if let Some(id) = obj.get("params").and_then(|p| p.get("requestId")) {
                                let key = (scope(session, from), from, id_key(id));
                                self.lock().awaiting.remove(&key);
                            }
                        }
                        vec![forward(msg)]
                    }
                    Err(r) => vec![Out::Note(
                        self.note(&format!("dropped a `{m}` notification: {}", r.message)),
                    )],
                }
            }
            (None, Some(id)) if obj.contains_key("result") && obj.contains_key("error") => {
                // Readers differ on which one counts: a pin check of the result could be
                // skipped by a reader that takes the error, and the other way round.
                let key = (scope(session, from.other()), from.other(), id_key(id));
                let waited = self.lock().awaiting.remove(&key).is_some();
                let why =
                    "an answer with both a result and an error (readers differ on which counts)";
                let mut out = vec![Out::Note(self.note(&format!("dropped {why}")))];
                if waited {
                    let message = format!("Crust withheld {why}.");
                    out.push(Out::Send(from.other(), error(id, REFUSED, &message, None)));
                }
                out
            }
            (None, Some(id)) if obj.contains_key("result") || obj.contains_key("error") => {
                let key = (scope(session, from.other()), from.other(), id_key(id));
                let Some(awaiting) = self.lock().awaiting.remove(&key) else {
                    // An answer to no request sent (or under an id spelled otherwise, which a
                    // lenient reader would match to another request): never relayed.
                    return vec![Out::Note(
                        self.note(&format!("dropped an answer to no request sent (id {id})")),
                    )];
                };
                let checked = match (awaiting, obj.get("result"), obj.get("error")) {
                    (kind, Some(result), None) => self.check_tools(kind, result),
                    _ => Ok(()),
                };
                // The whole answer, `result` and `error` both (a reader may take either).
                match checked.and_then(|()| self.scan(from, Some(msg), "answer")) {
                    Ok(()) => vec![forward(msg)],
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
        format!("crust ({}): {what}", self.cfg.server)
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
                auditor: Some(auditor),
                otlp: None,
                api: "mcp",
                side,
                agent: Some(&self.label),
                session: None,
                user: None,
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

    /// Whether a method asks the other side to act (judged as a tool call, not only scanned).
    fn acts(&self, method: &str) -> bool {
        matches!(
            method,
            "tools/call" | "prompts/get" | "terminal/create" | "session/request_permission"
        ) || self.cfg.bundle.knows_tool(method)
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
            "tools/list" | "prompts/list" | "initialize" => {
                self.scan(from, Some(params), "request")?;
                Ok(Some(match method {
                    "tools/list" => Awaiting::ToolsList,
                    "prompts/list" => Awaiting::PromptsList,
                    _ => Awaiting::Initialize,
                }))
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
        let text = message_text(v);
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
    fn check_tools(&self, kind: Awaiting, result: &Value) -> Result<(), Refusal> {
        let Some(store) = &self.cfg.pins else {
            return Ok(());
        };
        let refuse = |message: String| Refusal {
            rule: PIN_RULE.to_owned(),
            message,
        };
        // What the server tells the model about itself, each under a name in the pin: its
        // tools, its prompts (`prompt:NAME`), its instructions (`(instructions)`).
        let (offered, whole): (Vec<(String, ToolDef)>, bool) = match kind {
            Awaiting::Initialize => {
                let text = result.get("instructions").and_then(Value::as_str);
                let Some(text) = text.filter(|t| !t.is_empty()) else {
                    return Ok(());
                };
                let def = ToolDef {
                    description: text.to_owned(),
                    definition: String::new(),
                };
                (vec![("(instructions)".to_owned(), def)], true)
            }
            Awaiting::ToolsList | Awaiting::PromptsList => {
                let (key, prefix) = if kind == Awaiting::ToolsList {
                    ("tools", "")
                } else {
                    ("prompts", "prompt:")
                };
                let items = result.get(key).and_then(Value::as_array).ok_or_else(|| {
                    refuse(format!(
                        "Blocked by Crust: the server's {key} are not a list"
                    ))
                })?;
                let offered = items
                    .iter()
                    .map(|t| pin::tool_def(t).map(|(n, d)| (format!("{prefix}{n}"), d)))
                    .collect::<Option<_>>()
                    .ok_or_else(|| {
                        refuse(format!(
                            "Blocked by Crust: one of the server's {key} has no name"
                        ))
                    })?;
                // An empty cursor is no next page either.
                let whole = result
                    .get("nextCursor")
                    .is_none_or(|c| c.is_null() || c.as_str() == Some(""));
                (offered, whole)
            }
            Awaiting::Other => return Ok(()),
        };
        let server = &self.cfg.server;
        let pinned = store.load(server).map_err(|e| {
            refuse(format!(
                "Blocked by Crust: cannot read the pinned tools: {e}"
            ))
        })?;
        let learning = {
            let mut s = self.lock();
            let first = pinned.as_ref().is_none_or(|p| {
                !p.tools.keys().any(|k| match kind {
                    Awaiting::PromptsList => k.starts_with("prompt:"),
                    Awaiting::Initialize => k == "(instructions)",
                    _ => !k.starts_with("prompt:") && k != "(instructions)",
                })
            });
            let l = *s.learning.entry(kind).or_insert(first);
            if whole {
                s.learning.insert(kind, false);
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
            if kind == Awaiting::ToolsList {
                self.lock().untrusted = None;
            }
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
        let mut prev = ' ';
        let mut first = true;
        let found = text.chars().find(|&c| {
            let h = hidden(c, prev, first);
            prev = c;
            first = false;
            h
        });
        if let Some(c) = found {
            return Some(format!(
                "holds a character a reader does not see (U+{:04X})",
                u32::from(c)
            ));
        }
        let folded = fold(&crate::normalize::fold_text(&text));
        if let Some(p) = INSTRUCTIONS.iter().find(|p| folded.contains(*p)) {
            return Some(format!("speaks to the model (\"{p}\")"));
        }
        let quiet = self.judge("request", &None);
        for token in text.split(|c: char| c.is_whitespace() || "\"'`,;()<>[]{}".contains(c)) {
            let token = token.trim_end_matches(['.', ':', '!', '?']);
            let token = token.strip_prefix("file://").unwrap_or(token);
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
    "never tell the user",
    "do not inform the user",
    "do not mention this to the user",
    "don't mention this to the user",
    "without telling the user",
    "without informing the user",
    "without the user knowing",
    "hide this from the user",
    "keep this secret from the user",
    "before using this tool, read",
    "before calling this tool, read",
    "you must first read",
    "you must always read",
    "<important>",
    "</important>",
    "<system>",
    "[system]",
    "<|im_start|>",
    "new instructions:",
    "override your instructions",
    "your new task",
];

/// Characters that hide text or change what a reader sees without being seen: zero-width
/// characters, bidirectional overrides and isolates, invisible operators, Unicode tags and
/// variation selectors (text smuggled in plain sight), Hangul fillers, the Mongolian vowel
/// separator. Not hidden: a joiner or presentation selector after an emoji (`👩‍💻`, `✔️`),
/// a byte-order mark at the start, the left-to-right and right-to-left marks of bidirectional
/// text, the soft hyphen (phrases are matched with it removed).
fn hidden(c: char, prev: char, first: bool) -> bool {
    let emoji = |p: char| u32::from(p) >= 0x2190 && !p.is_alphanumeric();
    match u32::from(c) {
        0x200D | 0xFE0E | 0xFE0F => !emoji(prev),
        0xFEFF => !first,
        0x180E
        | 0x200B
        | 0x200C
        | 0x202A..=0x202E
        | 0x2060..=0x2064
        | 0x2066..=0x2069
        | 0xFE00..=0xFE0D
        | 0x115F
        | 0x1160
        | 0x3164
        | 0xFFA0
        | 0xE0000..=0xE007F
        | 0xE0100..=0xE01EF => true,
        _ => false,
    }
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

/// Every string of a value, one per line (object keys only where they are long enough to
/// hold a secret, so that `type`/`text` do not split a text in two); a `blob` or `data` field
/// that decodes from base64 to text is added decoded (resource contents, embedded files).
/// The `text` fields are also added joined end to end: a secret cut across two content items
/// is whole again there.
fn message_text(v: &Value) -> String {
    let mut out = String::new();
    let mut texts = Vec::new();
    collect_text(v, &mut out, &mut texts);
    if texts.len() > 1 {
        out.push_str(&texts.concat());
        out.push('\n');
    }
    out
}

fn collect_text<'v>(v: &'v Value, out: &mut String, texts: &mut Vec<&'v str>) {
    match v {
        Value::String(s) => {
            out.push_str(s);
            out.push('\n');
        }
        Value::Array(a) => a.iter().for_each(|x| collect_text(x, out, texts)),
        Value::Object(m) => {
            for (k, x) in m {
                if k.len() >= 16 {
                    out.push_str(k);
                    out.push('\n');
                }
                if let Value::String(s) = x {
                    if k == "text" {
                        texts.push(s);
                    }
                    if matches!(k.as_str(), "blob" | "data") {
                        if let Some(t) = decoded(s) {
                            out.push_str(&t);
                            out.push('\n');
                        }
                    }
                }
                collect_text(x, out, texts);
            }
        }
        Value::Number(_) | Value::Bool(_) | Value::Null => {}
    }
}

/// Base64 (standard or URL-safe, wrapped or not) that decodes to UTF-8 text.
fn decoded(s: &str) -> Option<String> {
    use base64::Engine;
    let clean: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let e = base64::engine::general_purpose::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::general_purpose::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let bytes = e
        .decode(&clean)
        .or_else(|_| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(clean.trim_end_matches('='))
        })
        .ok()?;
    String::from_utf8(bytes).ok()
}

/// A key of the envelope, the params or the arguments that another key of the same object
/// spells in another case: Go's and C#'s JSON readers match keys without regard to case, so
/// a server may act on the one Crust did not judge.
fn ambiguous(msg: &Value) -> Option<String> {
    let params = msg.get("params");
    let levels = [
        Some(msg),
        params,
        params.and_then(|p| p.get("arguments")),
        params.and_then(|p| p.get("toolCall")),
        msg.get("result"),
    ];
    for obj in levels.into_iter().flatten().filter_map(Value::as_object) {
        let mut seen = std::collections::HashSet::new();
        for k in obj.keys() {
            if !seen.insert(k.to_lowercase()) {
                return Some(k.clone());
            }
        }
    }
    None
}

/// The id of a message that cannot be parsed, where its text still shows one: the answer a
/// client waits for can then be given, as an error, instead of never.
pub fn salvage_id(line: &[u8]) -> Option<Value> {
    let at = memchr::memmem::find(line, b"\"id\"")?;
    let rest = line.get(at + 4..)?;
    let rest = rest.get(rest.iter().position(|b| !b.is_ascii_whitespace())?..)?;
    let rest = rest.strip_prefix(b":")?;
    let rest = rest.get(rest.iter().position(|b| !b.is_ascii_whitespace())?..)?;
    let end = match rest.first()? {
        b'"' => {
            1 + rest
                .get(1..)?
                .iter()
                .position(|&b| b == b'"' || b == b'\\')?
                + 1
        }
        b'-' | b'0'..=b'9' => rest
            .iter()
            .position(|b| !(b.is_ascii_digit() || *b == b'-'))
            .unwrap_or(rest.len()),
        _ => return None,
    };
    serde_json::from_slice(rest.get(..end)?).ok()
}

/// Where a request of `requester` waits for its answer (see [`Gateway::handle_in`]).
fn scope(session: &str, requester: Side) -> String {
    match requester {
        Side::Client => session.to_owned(),
        Side::Child => session.split('\0').next().unwrap_or(session).to_owned(),
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
    match params.get("env") {
        None | Some(Value::Null) => {}
        Some(Value::Array(env)) => {
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
        }
        // Not ACP's form, but a client may take it: judged, not ignored.
        Some(Value::Object(env)) => {
            for (n, v) in env {
                let v = v
                    .as_str()
                    .ok_or_else(|| malformed(method, "an `env` value is not a string"))?;
                argv.push(format!("{n}={v}"));
            }
        }
        Some(_) => return Err(malformed(method, "its `env` is not a list")),
    }
    if !argv.is_empty() {
        argv.insert(0, "env".to_owned());
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
    // A command without arguments is run through a shell by editors (Zed's `bash -c`):
    // judged as a script, which a lone program name also is.
    if args.is_empty() {
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
