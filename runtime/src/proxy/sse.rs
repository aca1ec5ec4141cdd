//! Server-sent events: an incremental parser, and one filter per API that re-frames what it
//! forwards.
//!
//! A filter never passes the upstream's bytes on. It parses every event, judges the tool calls
//! in it and writes events it built from what it parsed: the event name comes from the data's
//! `type`, block and call indexes are its own, and a tool call goes out in one piece, built
//! from the call that was judged. So what the client parses is what was judged, whatever the
//! upstream's framing: an `event:` name that disagrees with the data, keys spelled with
//! escapes, a delta after its block stopped, reused or crossed indexes. An event that cannot
//! be parsed, or whose place in the stream the filter cannot account for, ends the stream with
//! the API's own error event; so does a stream the upstream cut, so the client's SDK raises
//! instead of taking part of an answer for all of it. Text goes out as soon as its event is
//! parsed; only a tool call's events are held, until the call is complete.

use super::apis::{
    anthropic_text_block, filter_responses_output, is_call_item, judge_responses_item,
    responses_message_events, set, Decided,
};
use super::judge::{Args, Decision, Judge};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// One event: its `event:` name (Anthropic, Responses) and its `data:` text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub name: Option<String>,
    pub data: String,
}

impl Event {
    /// Writes the event as a server sends it (tests and fuzz targets build streams with it;
    /// the filters never forward an upstream's event as it came).
    pub fn write(&self, out: &mut String) {
        if let Some(n) = &self.name {
            out.push_str("event: ");
            out.push_str(n);
            out.push('\n');
        }
        for line in self.data.split('\n') {
            out.push_str("data: ");
            out.push_str(line);
            out.push('\n');
        }
        out.push('\n');
    }
}

/// Splits a byte stream into events. Lines may end in `\n` or `\r\n`; events end at a blank
/// line; comments (`:`) are dropped (the filters send their own keep-alives).
#[derive(Default)]
pub struct Parser {
    buf: Vec<u8>,
    name: Option<String>,
    data: Option<String>,
}

/// Longest line accepted: a stream that never ends a line is malformed, not a reason to
/// buffer without bound.
const MAX_LINE: usize = 16 << 20;

impl Parser {
    /// Feeds bytes; complete events are appended to `out`. `Err` on a line too long or not
    /// UTF-8.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<Event>) -> Result<(), String> {
        self.buf.extend_from_slice(bytes);
        let mut start = 0;
        while let Some(nl) = self
            .buf
            .get(start..)
            .and_then(|b| b.iter().position(|&c| c == b'\n'))
        {
            let end = start + nl;
            let line = self.buf.get(start..end).unwrap_or(&[]);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let line = std::str::from_utf8(line)
                .map_err(|_| "an event-stream line is not UTF-8".to_owned())?
                .to_owned();
            start = end + 1;
            self.line(&line, out);
        }
        self.buf.drain(..start);
        if self.buf.len() > MAX_LINE {
            return Err("an event-stream line is too long".into());
        }
        Ok(())
    }

    fn line(&mut self, line: &str, out: &mut Vec<Event>) {
        if line.is_empty() {
            if let Some(data) = self.data.take() {
                out.push(Event {
                    name: self.name.take(),
                    data,
                });
            }
            self.name = None;
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => self.name = Some(value.to_owned()),
            "data" => match &mut self.data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            _ => {}
        }
    }

    /// Whether bytes of an unfinished event remain (the stream was cut mid-event).
    pub fn pending(&self) -> bool {
        !self.buf.is_empty() || self.data.is_some()
    }
}

/// What a stream filter asks of the judge. The filters' framing does not depend on the
/// policy, so their tests judge with a stand-in.
pub trait Decider {
    fn call(&self, name: &str, args: Args<'_>) -> Decision;
    /// The same, with the call's id (recorded with the decision).
    fn call_with_id(&self, id: Option<&str>, name: &str, args: Args<'_>) -> Decision {
        let _ = id;
        self.call(name, args)
    }
    /// In replace mode, the call that stands in for a blocked one.
    fn replacement(&self, notice: &str) -> Option<(String, Value)>;
}

impl Decider for Judge<'_> {
    fn call(&self, name: &str, args: Args<'_>) -> Decision {
        Judge::call(self, name, args)
    }

    fn call_with_id(&self, id: Option<&str>, name: &str, args: Args<'_>) -> Decision {
        Judge::call_with_id(self, id, name, args)
    }

    fn replacement(&self, notice: &str) -> Option<(String, Value)> {
        Judge::replacement(self, notice)
    }
}

/// A per-API stream rewriter.
pub trait Filter: Send {
    /// One upstream event; what the client gets is appended to `out`.
    fn event(&mut self, judge: &dyn Decider, ev: Event, out: &mut Vec<u8>);
    /// The upstream stream ended: `Ok` when its body ended cleanly, `Err` with the reason when
    /// it was cut, failed or could not be read. Unless the API's own end was reached, the
    /// client gets the API's error event; calls still held are never released.
    fn end(&mut self, judge: &dyn Decider, upstream: Result<(), String>, out: &mut Vec<u8>);
    /// Rules that blocked so far.
    fn blocked(&self) -> &[String];
    /// The client's stream is over (the API's end was sent, or an error event): nothing the
    /// upstream sends after this is read.
    fn finished(&self) -> bool;
}

/// The client's error for a stream whose framing the filter cannot account for.
fn refused(why: &str) -> String {
    format!("crust: the upstream's event stream was refused: {why}")
}

/// The client's error for a stream that stopped before the API's end.
fn broken(why: &str) -> String {
    format!("crust: the upstream's event stream ended early: {why}")
}

/// Largest tool-call input held, in bytes: a call that never ends is malformed, not a reason
/// to buffer without bound.
const MAX_HELD: usize = 32 << 20;

/// An event's data as a JSON object: anything else cannot be accounted for.
fn parse(data: &str) -> Result<Value, String> {
    match serde_json::from_str::<Value>(data) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err("an event's data is not a JSON object".into()),
        Err(e) => Err(format!("an event's data is not valid JSON ({e})")),
    }
}

/// The event's `type`.
fn kind(v: &Value) -> Result<&str, String> {
    v.get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| "an event without a `type`".to_owned())
}

/// A non-negative integer field (an index).
fn index(v: &Value, key: &str) -> Result<u64, String> {
    v.get(key)
        .and_then(Value::as_u64)
        .ok_or_else(|| format!("an event without a valid `{key}`"))
}

/// Writes one event built by the proxy: the name (if any), then the data on one line.
fn put(out: &mut Vec<u8>, name: Option<&str>, v: &Value) {
    if let Some(n) = name {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(n.as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(b"data: ");
    // INVARIANT: a `Value` always serializes (its keys are strings), and on one line.
    let _ = serde_json::to_writer(&mut *out, v);
    out.extend_from_slice(b"\n\n");
}

/// Whether an upstream `type` may be written back as an event name: one plain word, so the
/// name line cannot carry a line break or a second field.
fn plain_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
}

/// What Python (the SDKs) counts as true: `if data.get("error")`.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// Sends a comment now and then while events are held, so clients and intermediaries do not
/// time the stream out.
#[derive(Default)]
struct KeepAlive {
    last: Option<Instant>,
    held: u32,
}

impl KeepAlive {
    fn tick(&mut self, out: &mut Vec<u8>) {
        // The clock is read at every eighth held event, not at each (it showed in profiles):
        // a comment every half second or so is all that is needed.
        self.held = self.held.wrapping_add(1);
        if self.last.is_some() && !self.held.is_multiple_of(8) {
            return;
        }
        let due = self
            .last
            .is_none_or(|t| t.elapsed() >= Duration::from_millis(500));
        if due {
            out.extend_from_slice(b": crust is checking a tool call\n\n");
            self.last = Some(Instant::now());
        }
    }
}

// ----- Anthropic Messages ----------------------------------------------------------------
//
// The SDK appends a block at each `content_block_start` and applies a delta or stop to
// `content[index]` by position, whatever the block's state. So the filter numbers the blocks
// the client sees itself, in the order it writes their starts, and accepts a delta or stop
// only for a block the upstream started in sequence and has not stopped.

pub struct Anthropic {
    /// The upstream's blocks, by its index (which must count up from 0).
    blocks: Vec<Block>,
    /// How many blocks the client has been sent: the index of the next.
    shown: u64,
    kept_tools: usize,
    blocked: Vec<String>,
    started: bool,
    /// `message_stop` was sent.
    done: bool,
    /// An error event was sent.
    over: bool,
    keep: KeepAlive,
}

enum Block {
    /// Streamed as it comes, at this index in what the client sees.
    Open(u64),
    /// A tool call, held until its stop.
    Held(HeldBlock),
    Closed,
}

struct HeldBlock {
    /// The start's `content_block`.
    start: Value,
    name: String,
    /// The `partial_json` pieces, joined.
    json: String,
}

/// Block types that are streamed as they come: text, thinking, and the tools the provider
/// runs itself (their results arrive in the answer; the client runs nothing).
const UNHELD_BLOCKS: &[&str] = &[
    "text",
    "thinking",
    "redacted_thinking",
    "server_tool_use",
    "mcp_tool_use",
    "mcp_tool_result",
    "container_upload",
];

/// Whether a block is streamed as it comes. A type the filter does not know is streamed only
/// when nothing in it looks like a call the client would run.
fn unheld_block(kind: &str, block: &Value) -> bool {
    UNHELD_BLOCKS.contains(&kind)
        || kind.ends_with("_tool_result")
        || (!kind.ends_with("tool_use") && block.get("input").is_none())
}

/// A `content_block_delta` of text or JSON, borrowed where it has no escapes.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FastDelta<'a> {
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
    index: u64,
    #[serde(borrow)]
    delta: FastBody<'a>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FastBody<'a> {
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    text: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    partial_json: Option<std::borrow::Cow<'a, str>>,
}

/// Top-level keys of the events the SDK accumulates: an unknown event type carrying one of
/// them cannot be accounted for.
const ANTHROPIC_SHAPES: &[&str] = &["index", "content_block", "delta", "message", "content"];

impl Anthropic {
    pub fn new() -> Self {
        Anthropic {
            blocks: Vec::new(),
            shown: 0,
            kept_tools: 0,
            blocked: Vec::new(),
            started: false,
            done: false,
            over: false,
            keep: KeepAlive::default(),
        }
    }

    fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        tracing::warn!(api = "anthropic-messages", %message, "stream ended with an error event");
        let e = json!({ "type": "error", "error": { "type": "api_error", "message": message } });
        put(out, Some("error"), &e);
        self.over = true;
    }

    fn handle(&mut self, judge: &dyn Decider, ev: Event, out: &mut Vec<u8>) -> Result<(), String> {
        if self.started && self.fast(&ev.data, out)? {
            return Ok(());
        }
        let v = parse(&ev.data)?;
        match kind(&v)? {
            "ping" => put(out, Some("ping"), &v),
            "error" => {
                put(out, Some("error"), &v);
                self.over = true;
            }
            "message_start" => {
                if self.started {
                    return Err("a second message_start".into());
                }
                // The SDK starts from this message: it must not bring blocks of its own.
                let empty = match v.pointer("/message/content") {
                    None | Some(Value::Null) => true,
                    Some(Value::Array(a)) => a.is_empty(),
                    Some(_) => false,
                };
                if !empty {
                    return Err("message_start carries content blocks".into());
                }
                self.started = true;
                put(out, Some("message_start"), &v);
            }
            _ if !self.started => return Err("an event came before message_start".into()),
            "content_block_start" => self.start(v, out)?,
            "content_block_delta" => self.delta(v, out)?,
            "content_block_stop" => self.stop(judge, v, out)?,
            "message_delta" => self.message_delta(v, out)?,
            "message_stop" => {
                self.no_call_open("message_stop")?;
                put(out, Some("message_stop"), &v);
                self.done = true;
            }
            other => {
                if !plain_name(other) || ANTHROPIC_SHAPES.iter().any(|k| v.get(k).is_some()) {
                    return Err("an event of an unknown type that carries content".into());
                }
                put(out, Some(other), &v);
            }
        }
        Ok(())
    }

    /// The events most of a stream is made of, read without building a `Value`: a text or
    /// JSON delta, whose fields are exactly those the struct names (anything else, a
    /// duplicate key included, takes the general path). `Ok(false)`: not one of them.
    fn fast(&mut self, data: &str, out: &mut Vec<u8>) -> Result<bool, String> {
        let Ok(d) = serde_json::from_str::<FastDelta<'_>>(data) else {
            return Ok(false);
        };
        if d.kind != "content_block_delta" {
            return Ok(false);
        }
        let (key, text) = match (&*d.delta.kind, d.delta.text, d.delta.partial_json) {
            ("text_delta", Some(t), None) => ("text", t),
            ("input_json_delta", None, Some(p)) => ("partial_json", p),
            _ => return Ok(false),
        };
        let i = d.index;
        match usize::try_from(i).ok().and_then(|k| self.blocks.get_mut(k)) {
            Some(Block::Open(shown)) => {
                // The same event the general path writes, field for field.
                out.extend_from_slice(b"event: content_block_delta\ndata: {\"delta\":{\"");
                out.extend_from_slice(key.as_bytes());
                out.extend_from_slice(b"\":");
                // INVARIANT: a string always serializes.
                let _ = serde_json::to_writer(&mut *out, &*text);
                out.extend_from_slice(b",\"type\":\"");
                out.extend_from_slice(d.delta.kind.as_bytes());
                out.extend_from_slice(b"\"},\"index\":");
                out.extend_from_slice(shown.to_string().as_bytes());
                out.extend_from_slice(b",\"type\":\"content_block_delta\"}\n\n");
                Ok(true)
            }
            // A held call takes its JSON pieces here; anything else goes the general way and
            // is refused there with its reason.
            Some(Block::Held(h)) if key == "partial_json" => {
                if h.json.len().saturating_add(text.len()) > MAX_HELD {
                    return Ok(false);
                }
                h.json.push_str(&text);
                self.keep.tick(out);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn no_call_open(&self, at: &str) -> Result<(), String> {
        match self.blocks.iter().position(|b| matches!(b, Block::Held(_))) {
            Some(i) => Err(format!("{at} came while tool call {i} was still open")),
            None => Ok(()),
        }
    }

    fn start(&mut self, mut v: Value, out: &mut Vec<u8>) -> Result<(), String> {
        let i = index(&v, "index")?;
        let expected = self.blocks.len();
        if usize::try_from(i).ok() != Some(expected) {
            return Err(format!(
                "content block {i} started where block {expected} was expected"
            ));
        }
        let block = v
            .get("content_block")
            .filter(|b| b.is_object())
            .ok_or("a content_block_start without a content block")?;
        let kind = block
            .get("type")
            .and_then(Value::as_str)
            .ok_or("a content block without a type")?;
        if kind == "tool_use" {
            let name = block
                .get("name")
                .and_then(Value::as_str)
                .ok_or("a tool_use block without a name")?
                .to_owned();
            self.blocks.push(Block::Held(HeldBlock {
                start: block.clone(),
                name,
                json: String::new(),
            }));
            self.keep.tick(out);
            return Ok(());
        }
        if !unheld_block(kind, block) {
            return Err("a content block of an unknown type that looks like a tool call".into());
        }
        let shown = self.shown;
        self.shown += 1;
        self.blocks.push(Block::Open(shown));
        set(&mut v, "index", json!(shown));
        put(out, Some("content_block_start"), &v);
        Ok(())
    }

    fn delta(&mut self, mut v: Value, out: &mut Vec<u8>) -> Result<(), String> {
        let i = index(&v, "index")?;
        let block = usize::try_from(i).ok().and_then(|k| self.blocks.get_mut(k));
        match block {
            Some(Block::Open(shown)) => {
                let shown = *shown;
                set(&mut v, "index", json!(shown));
                put(out, Some("content_block_delta"), &v);
            }
            Some(Block::Held(h)) => {
                let d = v.get("delta");
                if d.and_then(|d| d.get("type")).and_then(Value::as_str) != Some("input_json_delta")
                {
                    return Err(format!(
                        "tool call {i} got a delta that is not input_json_delta"
                    ));
                }
                let piece = d
                    .and_then(|d| d.get("partial_json"))
                    .and_then(Value::as_str)
                    .ok_or("an input_json_delta without its partial_json text")?;
                if h.json.len().saturating_add(piece.len()) > MAX_HELD {
                    return Err(format!(
                        "tool call {i} has more than {MAX_HELD} bytes of input"
                    ));
                }
                h.json.push_str(piece);
                self.keep.tick(out);
            }
            Some(Block::Closed) | None => {
                return Err(format!("a delta for content block {i}, which is not open"));
            }
        }
        Ok(())
    }

    fn stop(&mut self, judge: &dyn Decider, mut v: Value, out: &mut Vec<u8>) -> Result<(), String> {
        let i = index(&v, "index")?;
        let not_open = || format!("a stop for content block {i}, which is not open");
        let slot = usize::try_from(i)
            .ok()
            .and_then(|k| self.blocks.get_mut(k))
            .ok_or_else(not_open)?;
        match std::mem::replace(slot, Block::Closed) {
            Block::Open(shown) => {
                set(&mut v, "index", json!(shown));
                put(out, Some("content_block_stop"), &v);
            }
            Block::Held(h) => self.release(judge, h, out),
            Block::Closed => return Err(not_open()),
        }
        Ok(())
    }

    /// Judges a complete call and writes it in one piece (start, one delta with the input that
    /// was judged, stop), or its replacement, at the client's next index.
    fn release(&mut self, judge: &dyn Decider, h: HeldBlock, out: &mut Vec<u8>) {
        let index = self.shown;
        self.shown += 1;
        let HeldBlock {
            mut start,
            name,
            json,
        } = h;
        // The SDK's input is the start's `input` until a piece of JSON arrives, then that JSON.
        let streamed = !json.trim().is_empty();
        let id = start.get("id").and_then(Value::as_str).map(str::to_owned);
        let id = id.as_deref();
        let decision = if streamed {
            set(&mut start, "input", json!({}));
            judge.call_with_id(id, &name, Args::Encoded(&json))
        } else {
            let input = start.get("input").cloned().unwrap_or(Value::Null);
            judge.call_with_id(id, &name, Args::Object(&input))
        };
        let (partial, notice) = match decision {
            Decision::Allow => (streamed.then_some(json), None),
            Decision::Block { rule, notice } => {
                self.blocked.push(rule);
                match judge.replacement(&notice) {
                    // Replace mode: the same block, now a shell `echo` of the notice.
                    Some((tool, args)) => {
                        set(&mut start, "name", json!(tool));
                        set(&mut start, "input", json!({}));
                        (Some(args.to_string()), None)
                    }
                    None => (None, Some(notice)),
                }
            }
        };
        if let Some(notice) = notice {
            // A text block in the call's place keeps every later index valid.
            for e in anthropic_text_block(index, &notice) {
                put(out, e.get("type").and_then(Value::as_str), &e);
            }
            return;
        }
        self.kept_tools += 1;
        let s = json!({ "type": "content_block_start", "index": index, "content_block": start });
        put(out, Some("content_block_start"), &s);
        if let Some(p) = partial {
            let d = json!({ "type": "content_block_delta", "index": index, "delta": { "type": "input_json_delta", "partial_json": p } });
            put(out, Some("content_block_delta"), &d);
        }
        let e = json!({ "type": "content_block_stop", "index": index });
        put(out, Some("content_block_stop"), &e);
    }

    fn message_delta(&mut self, mut v: Value, out: &mut Vec<u8>) -> Result<(), String> {
        self.no_call_open("message_delta")?;
        let stop = v.pointer("/delta/stop_reason").and_then(Value::as_str);
        // No tool call left: the client must not wait for a tool result.
        if stop == Some("tool_use") && self.kept_tools == 0 && !self.blocked.is_empty() {
            if let Some(d) = v.get_mut("delta") {
                set(d, "stop_reason", json!("end_turn"));
            }
        }
        put(out, Some("message_delta"), &v);
        Ok(())
    }
}

impl Default for Anthropic {
    fn default() -> Self {
        Self::new()
    }
}

impl Filter for Anthropic {
    fn event(&mut self, judge: &dyn Decider, ev: Event, out: &mut Vec<u8>) {
        if self.finished() {
            return;
        }
        if let Err(why) = self.handle(judge, ev, out) {
            self.fail(&refused(&why), out);
        }
    }

    fn end(&mut self, _judge: &dyn Decider, upstream: Result<(), String>, out: &mut Vec<u8>) {
        if self.finished() {
            return;
        }
        let why = upstream
            .err()
            .unwrap_or_else(|| "the upstream closed it before message_stop".to_owned());
        self.fail(&broken(&why), out);
    }

    fn blocked(&self) -> &[String] {
        &self.blocked
    }

    fn finished(&self) -> bool {
        self.done || self.over
    }
}

// ----- OpenAI Chat Completions -----------------------------------------------------------
//
// The SDK merges `tool_calls` fragments into a list by their `index` with Python's list
// semantics (a negative index counts from the end, one past the end appends), and choices the
// same way. So the filter takes every fragment out of the chunk, accepts indexes only in
// sequence, and writes each call once, whole, after it was judged, numbered as the client
// will number it.

#[derive(Default)]
struct HeldCall {
    id: Option<String>,
    kind: Option<String>,
    name: String,
    args: String,
    /// `custom` tools carry free text in `input`.
    custom: bool,
}

#[derive(Default)]
struct ChoiceState {
    /// Calls by the upstream's index (counting up from 0); `None` once released.
    calls: Vec<Option<HeldCall>>,
    /// The legacy single `function_call`.
    legacy: Option<HeldCall>,
    /// Calls the client has been sent.
    shown_calls: u64,
    blocked: usize,
    /// The choice's `finish_reason` arrived: its calls were decided.
    finished: bool,
    /// The client has seen the choice (choices must reach it in order).
    shown: bool,
}

#[derive(Default)]
pub struct Chat {
    /// By the upstream's choice index (counting up from 0).
    choices: Vec<ChoiceState>,
    /// Envelope of the first chunk (id, object, created, model) for chunks the proxy writes.
    envelope: Map<String, Value>,
    blocked: Vec<String>,
    held_bytes: usize,
    keep: Option<KeepAlive>,
    /// `[DONE]` was sent.
    done: bool,
    /// An error chunk was sent.
    over: bool,
}

const ENVELOPE: &[&str] = &[
    "id",
    "object",
    "created",
    "model",
    "system_fingerprint",
    "service_tier",
];

impl Chat {
    pub fn new() -> Self {
        Self::default()
    }

    fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        tracing::warn!(api = "openai-chat", %message, "stream ended with an error event");
        let e = json!({ "error": { "message": message, "type": "api_error", "param": null, "code": "crust_stream_error" } });
        put(out, None, &e);
        self.over = true;
    }

    fn chunk(&self, choice: Value) -> Value {
        let mut c = Value::Object(self.envelope.clone());
        set(&mut c, "choices", json!([choice]));
        c
    }

    fn handle(&mut self, judge: &dyn Decider, ev: Event, out: &mut Vec<u8>) -> Result<(), String> {
        if ev.data.trim() == "[DONE]" {
            // Calls of choices that never finished are complete now.
            for ci in 0..self.choices.len() {
                self.flush(judge, ci, out);
            }
            out.extend_from_slice(b"data: [DONE]\n\n");
            self.done = true;
            return Ok(());
        }
        let mut v = parse(&ev.data)?;
        if v.get("error").is_some_and(truthy) {
            // The SDK raises on it: the upstream's own error ends the stream.
            put(out, None, &v);
            self.over = true;
            return Ok(());
        }
        if self.envelope.is_empty() {
            for k in ENVELOPE {
                if let Some(x) = v.get(*k) {
                    self.envelope.insert((*k).to_owned(), x.clone());
                }
            }
        }
        let choices = match v.get_mut("choices") {
            None | Some(Value::Null) => {
                put(out, None, &v);
                return Ok(());
            }
            Some(Value::Array(c)) => std::mem::take(c),
            Some(_) => return Err("`choices` is not a list".into()),
        };
        let had = !choices.is_empty();
        let mut seen = Vec::with_capacity(choices.len());
        let mut took_any = false;
        for mut ch in choices {
            let c = ch.as_object_mut().ok_or("a choice is not an object")?;
            let ci = c
                .get("index")
                .and_then(Value::as_u64)
                .ok_or("a choice without a valid `index`")?;
            let known = self.choices.len();
            let ci = usize::try_from(ci)
                .ok()
                .filter(|k| *k <= known)
                .ok_or_else(|| format!("choice {ci} appeared before choice {known}"))?;
            if ci == known {
                self.choices.push(ChoiceState::default());
            }
            let state = self.choices.get_mut(ci).ok_or("a choice out of range")?;
            let took = match c.get_mut("delta") {
                Some(Value::Object(d)) => absorb(state, d, &mut self.held_bytes)?,
                None | Some(Value::Null) => false,
                Some(_) => return Err("a choice's delta is not an object".into()),
            };
            took_any |= took;
            let finishing = c.get("finish_reason").is_some_and(truthy);
            seen.push((ci, ch, took, finishing));
        }
        if took_any {
            self.keep.get_or_insert(KeepAlive::default()).tick(out);
        }
        let mut left = Vec::with_capacity(seen.len());
        for (ci, mut ch, took, finishing) in seen {
            if finishing {
                // The choice's calls are complete: decided and written before its last chunk.
                self.flush(judge, ci, out);
            }
            let Some(state) = self.choices.get_mut(ci) else {
                continue;
            };
            state.finished |= finishing;
            let Some(c) = ch.as_object_mut() else {
                continue;
            };
            if finishing && state.shown_calls == 0 && state.blocked > 0 {
                // No call left: the client must not wait for a tool result.
                if matches!(
                    c.get("finish_reason").and_then(Value::as_str),
                    Some("tool_calls" | "function_call")
                ) {
                    c.insert("finish_reason".into(), json!("stop"));
                }
            }
            // A choice that only carried call fragments has nothing left to say, unless the
            // client has not seen it yet.
            let emptied = took
                && !finishing
                && c.get("delta")
                    .and_then(Value::as_object)
                    .is_none_or(Map::is_empty)
                && c.get("logprobs").is_none_or(Value::is_null);
            if emptied && state.shown {
                continue;
            }
            state.shown = true;
            left.push(ch);
        }
        if had && left.is_empty() {
            return Ok(());
        }
        set(&mut v, "choices", Value::Array(left));
        put(out, None, &v);
        Ok(())
    }

    /// Decides the held calls of one choice and writes what survives.
    fn flush(&mut self, judge: &dyn Decider, ci: usize, out: &mut Vec<u8>) {
        let Some(state) = self.choices.get_mut(ci) else {
            return;
        };
        let calls: Vec<HeldCall> = state.calls.iter_mut().filter_map(Option::take).collect();
        let legacy = state.legacy.take();
        for call in calls {
            self.release(judge, ci, call, false, out);
        }
        if let Some(call) = legacy {
            self.release(judge, ci, call, true, out);
        }
    }

    fn release(
        &mut self,
        judge: &dyn Decider,
        ci: usize,
        mut call: HeldCall,
        legacy: bool,
        out: &mut Vec<u8>,
    ) {
        let id = call.id.as_deref();
        let mut decision = if call.custom {
            judge.call_with_id(id, &call.name, Args::Text(&call.args))
        } else {
            judge.call_with_id(id, &call.name, Args::Encoded(&call.args))
        };
        // Replace mode: the call becomes the offered shell tool echoing the notice.
        if let Decision::Block { rule, notice } = &decision {
            if let Some((tool, args)) = judge.replacement(notice) {
                self.blocked.push(rule.clone());
                call.name = tool;
                call.args = args.to_string();
                call.custom = false;
                call.kind = Some("function".into());
                decision = Decision::Allow;
            }
        }
        let Some(state) = self.choices.get_mut(ci) else {
            return;
        };
        let delta = match decision {
            Decision::Allow if legacy => {
                json!({ "function_call": { "name": call.name, "arguments": call.args } })
            }
            Decision::Allow => {
                let idx = state.shown_calls;
                state.shown_calls += 1;
                let kind = call.kind.unwrap_or_else(|| "function".into());
                let mut tc = json!({ "index": idx, "type": kind });
                if let Some(id) = call.id {
                    set(&mut tc, "id", json!(id));
                }
                let (key, text) = if call.custom {
                    ("custom", "input")
                } else {
                    ("function", "arguments")
                };
                set(
                    &mut tc,
                    key,
                    json!({ "name": call.name, (text): call.args }),
                );
                json!({ "tool_calls": [tc] })
            }
            Decision::Block { rule, notice } => {
                state.blocked += 1;
                self.blocked.push(rule);
                json!({ "content": format!("\n{notice}\n") })
            }
        };
        if let Some(state) = self.choices.get_mut(ci) {
            state.shown = true;
        }
        let c = self.chunk(json!({ "index": ci, "delta": delta, "finish_reason": null }));
        put(out, None, &c);
    }
}

/// Takes a choice's call fragments out of its delta into the held calls; `Ok(true)` when
/// there were some.
fn absorb(
    state: &mut ChoiceState,
    delta: &mut Map<String, Value>,
    held_bytes: &mut usize,
) -> Result<bool, String> {
    let mut took = false;
    match delta.remove("tool_calls") {
        None | Some(Value::Null) => {}
        Some(Value::Array(calls)) => {
            for tc in calls {
                if state.finished {
                    return Err("a tool call fragment came after its choice finished".into());
                }
                let Value::Object(tc) = tc else {
                    return Err("a tool call fragment is not an object".into());
                };
                let i = tc
                    .get("index")
                    .and_then(Value::as_u64)
                    .ok_or("a tool call fragment without a valid `index`")?;
                let known = state.calls.len();
                let k = usize::try_from(i)
                    .ok()
                    .filter(|k| *k <= known)
                    .ok_or_else(|| format!("tool call {i} started before tool call {known}"))?;
                if k == known {
                    state.calls.push(Some(HeldCall::default()));
                }
                let h = state
                    .calls
                    .get_mut(k)
                    .and_then(Option::as_mut)
                    .ok_or_else(|| format!("a fragment for tool call {i}, which was decided"))?;
                if let Some(id) = text(tc.get("id"), "a tool call id")? {
                    h.id.get_or_insert_with(|| id.to_owned());
                }
                if let Some(t) = text(tc.get("type"), "a tool call type")? {
                    h.custom |= t == "custom";
                    h.kind = Some(t.to_owned());
                }
                for (key, custom) in [("function", false), ("custom", true)] {
                    match tc.get(key) {
                        None | Some(Value::Null) => {}
                        Some(f @ Value::Object(_)) => {
                            h.custom |= custom;
                            held(h, f, held_bytes)?;
                        }
                        Some(_) => return Err(format!("a tool call's `{key}` is not an object")),
                    }
                }
                took = true;
            }
        }
        Some(_) => return Err("`tool_calls` is not a list".into()),
    }
    match delta.remove("function_call") {
        None | Some(Value::Null) => {}
        Some(f @ Value::Object(_)) => {
            if state.finished {
                return Err("a function_call fragment came after its choice finished".into());
            }
            held(
                state.legacy.get_or_insert_with(HeldCall::default),
                &f,
                held_bytes,
            )?;
            took = true;
        }
        Some(_) => return Err("`function_call` is not an object".into()),
    }
    Ok(took)
}

/// Adds one fragment's name and argument text to a held call.
fn held(h: &mut HeldCall, f: &Value, held_bytes: &mut usize) -> Result<(), String> {
    if let Some(n) = text(f.get("name"), "a tool call name")? {
        h.name.push_str(n);
    }
    for key in ["arguments", "input"] {
        if let Some(a) = text(f.get(key), "tool call arguments")? {
            *held_bytes = held_bytes.saturating_add(a.len());
            if *held_bytes > MAX_HELD {
                return Err(format!("tool calls hold more than {MAX_HELD} bytes"));
            }
            h.args.push_str(a);
        }
    }
    Ok(())
}

/// An optional text field: absent or null is `None`, anything but text cannot be accounted for.
fn text<'a>(v: Option<&'a Value>, what: &str) -> Result<Option<&'a str>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("{what} that is not text")),
    }
}

impl Filter for Chat {
    fn event(&mut self, judge: &dyn Decider, ev: Event, out: &mut Vec<u8>) {
        if self.finished() {
            return;
        }
        if let Err(why) = self.handle(judge, ev, out) {
            self.fail(&refused(&why), out);
        }
    }

    fn end(&mut self, _judge: &dyn Decider, upstream: Result<(), String>, out: &mut Vec<u8>) {
        if self.finished() {
            return;
        }
        // Every choice finished: the answer is whole, only `[DONE]` (and usage) are missing.
        let whole = !self.choices.is_empty() && self.choices.iter().all(|c| c.finished);
        if whole {
            return;
        }
        let why = upstream
            .err()
            .unwrap_or_else(|| "the upstream closed it before [DONE]".to_owned());
        self.fail(&broken(&why), out);
    }

    fn blocked(&self) -> &[String] {
        &self.blocked
    }

    fn finished(&self) -> bool {
        self.done || self.over
    }
}

// ----- OpenAI Responses --------------------------------------------------------------------
//
// The SDK's final response is `response.completed`'s `output`, or, when that is missing, the
// items of `output_item.done`; lifecycle events (`response.created`, `in_progress`, ...) may
// replace items by call id; Codex runs the items of `output_item.done`. So every call item in
// any of those is judged, a call's own events are held from `added` to `done` and written
// again from the judged item, and an event for an item that is not open is refused.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    /// Streamed as it comes.
    Open,
    /// A call, held until its `done`.
    Held,
    Done,
}

#[derive(Default)]
pub struct Responses {
    /// By `output_index`.
    items: BTreeMap<u64, Item>,
    /// Decisions on streamed calls, reused for the final `output` when the item is the same.
    decided: Decided,
    blocked: Vec<String>,
    seq: u64,
    keep: Option<KeepAlive>,
    /// The first lifecycle event's response (without output), for the failure event.
    response: Option<Value>,
    /// A terminal event (`response.completed`, `incomplete`, `failed`) was sent.
    done: bool,
    /// An error event was sent.
    over: bool,
}

/// Top-level keys that carry items or their content: an event of a type the filter does not
/// know, addressing no output item, cannot carry them.
const RESPONSES_SHAPES: &[&str] = &[
    "item",
    "output",
    "response",
    "arguments",
    "input",
    "call_id",
];

impl Responses {
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes an event under the name of its type, with the next sequence number.
    fn emit(&mut self, mut v: Value, out: &mut Vec<u8>) {
        set(&mut v, "sequence_number", json!(self.seq));
        self.seq += 1;
        let name = v
            .get("type")
            .and_then(Value::as_str)
            .filter(|n| plain_name(n))
            .map(str::to_owned);
        put(out, name.as_deref(), &v);
    }

    fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        tracing::warn!(api = "openai-responses", %message, "stream ended with an error event");
        let mut r = self
            .response
            .clone()
            .unwrap_or_else(|| json!({ "id": "resp_crust", "object": "response" }));
        set(&mut r, "status", json!("failed"));
        set(
            &mut r,
            "error",
            json!({ "code": "server_error", "message": message }),
        );
        set(&mut r, "output", json!([]));
        self.emit(json!({ "type": "response.failed", "response": r }), out);
        self.over = true;
    }

    fn handle(&mut self, judge: &dyn Decider, ev: Event, out: &mut Vec<u8>) -> Result<(), String> {
        let mut v = parse(&ev.data)?;
        match kind(&v)? {
            "error" => {
                self.emit(v, out);
                self.over = true;
            }
            "response.output_item.added" => {
                let i = index(&v, "output_index")?;
                let call = match v.get("item") {
                    // An empty `added` registers nothing in the SDK.
                    None | Some(Value::Null) => {
                        self.emit(v, out);
                        return Ok(());
                    }
                    Some(item @ Value::Object(_)) => item
                        .get("type")
                        .and_then(Value::as_str)
                        .is_some_and(is_call_item),
                    Some(_) => return Err("an added output item is not an object".into()),
                };
                if self.items.contains_key(&i) {
                    return Err(format!("output item {i} was added twice"));
                }
                if call {
                    self.items.insert(i, Item::Held);
                    self.keep.get_or_insert(KeepAlive::default()).tick(out);
                } else {
                    self.items.insert(i, Item::Open);
                    self.emit(v, out);
                }
            }
            "response.output_item.done" => {
                let i = index(&v, "output_index")?;
                let item = v
                    .get_mut("item")
                    .filter(|x| x.is_object())
                    .map(Value::take)
                    .ok_or("a done output item is not an object")?;
                let call = item
                    .get("type")
                    .and_then(Value::as_str)
                    .is_some_and(is_call_item);
                match (self.items.get(&i).copied(), call) {
                    (Some(Item::Done), _) => {
                        return Err(format!("output item {i} was completed twice"));
                    }
                    (Some(Item::Open), true) => {
                        return Err(format!(
                            "output item {i} was added as text and completed as a call"
                        ));
                    }
                    (Some(Item::Held), false) => {
                        return Err(format!(
                            "output item {i} was added as a call and completed as something else"
                        ));
                    }
                    (Some(Item::Held) | None, true) => self.release(judge, i, item, out),
                    (Some(Item::Open) | None, false) => {
                        set(&mut v, "item", item);
                        self.emit(v, out);
                    }
                }
                self.items.insert(i, Item::Done);
            }
            kind => {
                if let Some(i) = v.get("output_index") {
                    let i = i
                        .as_u64()
                        .ok_or("an event without a valid `output_index`")?;
                    match self.items.get(&i) {
                        Some(Item::Open) => self.emit(v, out),
                        // Written again from the judged item at its `done`.
                        Some(Item::Held) => {
                            if let Some(k) = &mut self.keep {
                                k.tick(out);
                            }
                        }
                        Some(Item::Done) | None => {
                            return Err(format!(
                                "a `{kind}` event for output item {i}, which is not open"
                            ));
                        }
                    }
                } else if v.get("response").is_some_and(Value::is_object) {
                    let terminal = matches!(
                        kind,
                        "response.completed" | "response.incomplete" | "response.failed"
                    );
                    if let Some(r) = v.get_mut("response") {
                        // The SDK builds its results from this array: its calls are judged.
                        filter_responses_output(judge, r, &mut self.blocked, &self.decided);
                        if self.response.is_none() {
                            let mut first = r.clone();
                            set(&mut first, "output", json!([]));
                            self.response = Some(first);
                        }
                    }
                    self.emit(v, out);
                    self.done = terminal;
                } else if !plain_name(kind) || RESPONSES_SHAPES.iter().any(|k| v.get(k).is_some()) {
                    return Err("an event of an unknown type that carries items".into());
                } else {
                    self.emit(v, out);
                }
            }
        }
        Ok(())
    }

    /// Judges a complete call item and writes it at `output_index` (added, its content, done),
    /// built from the item that was judged, or a notice message in its place.
    fn release(&mut self, judge: &dyn Decider, i: u64, item: Value, out: &mut Vec<u8>) {
        let decision = judge_responses_item(judge, &item).unwrap_or(Decision::Allow);
        let id = item.get("id").and_then(Value::as_str).map(str::to_owned);
        if let Some(id) = &id {
            self.decided
                .insert(id.clone(), (item.clone(), decision.clone()));
        }
        match decision {
            Decision::Allow => {
                for e in call_events(i, item) {
                    self.emit(e, out);
                }
            }
            Decision::Block { rule, notice } => {
                self.blocked.push(rule);
                let id = id.map_or_else(|| "msg_crust".to_owned(), |x| format!("msg_crust_{x}"));
                for e in responses_message_events(i, &id, &notice) {
                    self.emit(e, out);
                }
            }
        }
    }
}

/// The events of one call item at `output_index`, as a provider streams it: added (with empty
/// arguments or input), the text in one delta, its done, the item's done.
fn call_events(i: u64, item: Value) -> Vec<Value> {
    let id = item.get("id").cloned().unwrap_or(Value::Null);
    let mut added = item.clone();
    set(&mut added, "status", json!("in_progress"));
    let kind = item.get("type").and_then(Value::as_str).unwrap_or("");
    let text = match kind {
        "function_call" => Some(("arguments", "response.function_call_arguments")),
        "custom_tool_call" => Some(("input", "response.custom_tool_call_input")),
        _ => None,
    };
    let mut events = Vec::with_capacity(4);
    let body = text.and_then(|(key, prefix)| {
        let t = item.get(key).and_then(Value::as_str)?;
        Some((key, prefix, t.to_owned()))
    });
    match body {
        Some((key, prefix, t)) => {
            set(&mut added, key, json!(""));
            events.push(
                json!({ "type": "response.output_item.added", "output_index": i, "item": added }),
            );
            events.push(json!({ "type": format!("{prefix}.delta"), "item_id": id, "output_index": i, "delta": t }));
            let mut done = json!({ "type": format!("{prefix}.done"), "item_id": id, "output_index": i, (key): t });
            if let Some(n) = item.get("name") {
                set(&mut done, "name", n.clone());
            }
            events.push(done);
        }
        None => {
            events.push(
                json!({ "type": "response.output_item.added", "output_index": i, "item": added }),
            );
        }
    }
    events.push(json!({ "type": "response.output_item.done", "output_index": i, "item": item }));
    events
}

impl Filter for Responses {
    fn event(&mut self, judge: &dyn Decider, ev: Event, out: &mut Vec<u8>) {
        if self.finished() {
            return;
        }
        if let Err(why) = self.handle(judge, ev, out) {
            self.fail(&refused(&why), out);
        }
    }

    fn end(&mut self, _judge: &dyn Decider, upstream: Result<(), String>, out: &mut Vec<u8>) {
        if self.finished() {
            return;
        }
        let why = upstream
            .err()
            .unwrap_or_else(|| "the upstream closed it before the response completed".to_owned());
        self.fail(&broken(&why), out);
    }

    fn blocked(&self) -> &[String] {
        &self.blocked
    }

    fn finished(&self) -> bool {
        self.done || self.over
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_wire(chunks: &[&[u8]]) -> (Vec<Event>, bool) {
        let mut p = Parser::default();
        let mut out = Vec::new();
        for c in chunks {
            assert!(p.feed(c, &mut out).is_ok());
        }
        (out, p.pending())
    }

    #[test]
    fn events_split_across_reads_and_crlf() {
        let (evs, pending) = parse_wire(&[
            b"event: a\r\nda",
            b"ta: {\"x\":1}\r\n\r\n: comment\n\ndata: [DONE]\n\n",
        ]);
        assert_eq!(
            evs,
            vec![
                Event {
                    name: Some("a".into()),
                    data: "{\"x\":1}".into()
                },
                Event {
                    name: None,
                    data: "[DONE]".into()
                },
            ]
        );
        assert!(!pending);
    }

    #[test]
    fn multi_line_data_joins_with_newlines_and_round_trips() {
        let (evs, _) = parse_wire(&[b"data: one\ndata: two\n\n"]);
        assert_eq!(evs.len(), 1);
        let mut out = String::new();
        evs[0].write(&mut out);
        assert_eq!(out, "data: one\ndata: two\n\n");
    }

    #[test]
    fn a_cut_event_is_pending() {
        let (evs, pending) = parse_wire(&[b"event: x\ndata: {\"partial"]);
        assert!(evs.is_empty());
        assert!(pending);
    }

    #[test]
    fn non_utf8_is_an_error() {
        let mut p = Parser::default();
        assert!(p.feed(b"data: \xff\n\n", &mut Vec::new()).is_err());
    }

    // ----- the filters, with a stand-in judge ----------------------------------------------

    /// Blocks a call whose arguments mention `id_rsa`, and arguments that are not JSON, as the
    /// built-in policy does; allows the rest.
    struct Stand;

    impl Decider for Stand {
        fn call(&self, name: &str, args: Args<'_>) -> Decision {
            let text = match args {
                Args::Object(v) => v.to_string(),
                Args::Encoded(s) => {
                    if !s.trim().is_empty() && serde_json::from_str::<Value>(s).is_err() {
                        return block("crust:malformed-call", name);
                    }
                    s.to_owned()
                }
                Args::Text(s) => s.to_owned(),
            };
            if text.contains("id_rsa") {
                block("protect-ssh-keys", name)
            } else {
                Decision::Allow
            }
        }

        fn replacement(&self, _notice: &str) -> Option<(String, Value)> {
            None
        }
    }

    fn block(rule: &str, tool: &str) -> Decision {
        Decision::Block {
            rule: rule.into(),
            notice: format!("Blocked by Crust: {rule}: the {tool} call"),
        }
    }

    /// Runs a whole upstream stream through a filter, one read per event (and the ending
    /// given), and returns what the client got.
    fn run(filter: &mut dyn Filter, wire: &str, ending: Result<(), String>) -> String {
        let mut parser = Parser::default();
        let mut out = Vec::new();
        for piece in wire.split_inclusive("\n\n") {
            let mut evs = Vec::new();
            assert!(parser.feed(piece.as_bytes(), &mut evs).is_ok());
            for ev in evs {
                filter.event(&Stand, ev, &mut out);
            }
        }
        filter.end(&Stand, ending, &mut out);
        String::from_utf8(out).unwrap()
    }

    /// The client's events: name and parsed data (`None` for `[DONE]`).
    fn client(out: &str) -> Vec<(Option<String>, Option<Value>)> {
        let (evs, pending) = parse_wire(&[out.as_bytes()]);
        assert!(!pending, "the filter wrote a partial event: {out}");
        evs.into_iter()
            .map(|e| (e.name, serde_json::from_str(&e.data).ok()))
            .collect()
    }

    fn ev(name: Option<&str>, v: Value) -> String {
        let mut s = String::new();
        Event {
            name: name.map(str::to_owned),
            data: v.to_string(),
        }
        .write(&mut s);
        s
    }

    // ----- Anthropic ------------------------------------------------------------------------

    fn a(v: Value) -> String {
        let name = v["type"].as_str().unwrap().to_owned();
        ev(Some(&name), v)
    }

    fn msg_start() -> String {
        a(
            json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "content": [], "stop_reason": null}}),
        )
    }

    fn tool_start(i: u64, name: &str, input: Value) -> String {
        a(
            json!({"type": "content_block_start", "index": i, "content_block": {"type": "tool_use", "id": format!("toolu_{i}"), "name": name, "input": input}}),
        )
    }

    fn json_delta(i: u64, text: &str) -> String {
        a(
            json!({"type": "content_block_delta", "index": i, "delta": {"type": "input_json_delta", "partial_json": text}}),
        )
    }

    fn text_block(i: u64, text: &str) -> String {
        a(
            json!({"type": "content_block_start", "index": i, "content_block": {"type": "text", "text": ""}}),
        ) + &a(
            json!({"type": "content_block_delta", "index": i, "delta": {"type": "text_delta", "text": text}}),
        ) + &stop(i)
    }

    fn stop(i: u64) -> String {
        a(json!({"type": "content_block_stop", "index": i}))
    }

    fn tail(reason: &str) -> String {
        a(
            json!({"type": "message_delta", "delta": {"stop_reason": reason}, "usage": {"output_tokens": 1}}),
        ) + &a(json!({"type": "message_stop"}))
    }

    const SSH: &str = "{\"file_path\": \"~/.ssh/id_rsa\"}";
    const NOTES: &str = "{\"file_path\": \"/tmp/notes.txt\"}";

    /// What the Python SDK's accumulator ends with: the content blocks (a tool's `input` from
    /// its JSON pieces), the stop reason, or the error it raises.
    fn anthropic_client(out: &str) -> Result<(Vec<Value>, Option<String>), String> {
        let mut content: Vec<Value> = Vec::new();
        let mut bufs: BTreeMap<usize, String> = BTreeMap::new();
        let mut stop_reason = None;
        for (name, data) in client(out) {
            match name.as_deref() {
                None | Some("ping") => continue,
                Some("error") => return Err(data.unwrap()["error"]["message"].to_string()),
                Some(n) => assert_eq!(Some(n), data.as_ref().unwrap()["type"].as_str()),
            }
            let v = data.unwrap();
            match v["type"].as_str().unwrap() {
                "content_block_start" => {
                    assert_eq!(v["index"], content.len(), "indexes count up from 0");
                    content.push(v["content_block"].clone());
                }
                "content_block_delta" => {
                    let i = v["index"].as_u64().unwrap() as usize;
                    let block = content.get_mut(i).expect("a delta for a started block");
                    let tracks_input =
                        block["type"] == "tool_use" || block["type"] == "server_tool_use";
                    if v["delta"]["type"] == "input_json_delta" && tracks_input {
                        let buf = bufs.entry(i).or_default();
                        buf.push_str(v["delta"]["partial_json"].as_str().unwrap());
                        block["input"] = serde_json::from_str(buf).unwrap();
                    } else if v["delta"]["type"] == "text_delta" {
                        let t = format!(
                            "{}{}",
                            block["text"].as_str().unwrap(),
                            v["delta"]["text"].as_str().unwrap()
                        );
                        block["text"] = json!(t);
                    }
                }
                "message_delta" => {
                    stop_reason = v["delta"]["stop_reason"].as_str().map(str::to_owned)
                }
                _ => {}
            }
        }
        Ok((content, stop_reason))
    }

    fn anthropic(wire: &str) -> Result<(Vec<Value>, Option<String>), String> {
        anthropic_client(&run(&mut Anthropic::new(), wire, Ok(())))
    }

    fn refused_with(r: Result<(Vec<Value>, Option<String>), String>, why: &str) {
        let e = r.expect_err("the stream is refused");
        assert!(e.contains("crust: ") && e.contains(why), "{e}");
    }

    #[test]
    fn anthropic_text_goes_out_at_once_as_it_came() {
        let wire = msg_start()
            + &a(
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            )
            + &a(
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "caf\u{e9} \"x\"\n"}}),
            );
        let mut f = Anthropic::new();
        let mut out = Vec::new();
        let mut parser = Parser::default();
        let mut evs = Vec::new();
        parser.feed(wire.as_bytes(), &mut evs).unwrap();
        let sent: Vec<Value> = evs
            .iter()
            .map(|e| serde_json::from_str(&e.data).unwrap())
            .collect();
        for e in evs {
            f.event(&Stand, e, &mut out);
        }
        // Before the stream ends, the client has every event, equal as JSON.
        let got = client(std::str::from_utf8(&out).unwrap());
        assert_eq!(
            got.iter()
                .map(|(_, v)| v.clone().unwrap())
                .collect::<Vec<_>>(),
            sent
        );
        assert!(got
            .iter()
            .all(|(n, v)| n.as_deref() == v.as_ref().unwrap()["type"].as_str()));
    }

    #[test]
    fn anthropic_deltas_read_without_a_value_are_written_as_the_general_path_writes_them() {
        let open = msg_start()
            + &text_block(0, "a")
            + &a(
                json!({"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}),
            );
        for delta in [
            json!({"type": "text_delta", "text": "caf\u{e9} \"x\"\n\u{1}"}),
            json!({"type": "input_json_delta", "partial_json": "{\"a\": 1"}),
            // Other fields: the general path, which keeps them.
            json!({"type": "text_delta", "text": "x", "extra": [1]}),
            json!({"type": "citations_delta", "citation": {"cited_text": "x"}}),
        ] {
            let v = json!({"type": "content_block_delta", "index": 1, "delta": delta});
            let mut f = Anthropic::new();
            let mut out = Vec::new();
            run_into(&mut f, &open, &mut out);
            let before = out.len();
            f.event(
                &Stand,
                Event {
                    name: Some("x".into()),
                    data: v.to_string(),
                },
                &mut out,
            );
            let mut expect = Vec::new();
            put(&mut expect, Some("content_block_delta"), &v);
            assert_eq!(
                String::from_utf8_lossy(&out[before..]),
                String::from_utf8_lossy(&expect)
            );
        }
        // Escaped keys and a duplicate key read alike on both paths.
        let mut f = Anthropic::new();
        let mut out = Vec::new();
        run_into(&mut f, &open, &mut out);
        let before = out.len();
        let data = r#"{"type": "content_block_delta", "index": 1, "delta": {"type": "text\u005fdelta", "te\u0078t": "a", "text": "b"}}"#;
        f.event(
            &Stand,
            Event {
                name: None,
                data: data.into(),
            },
            &mut out,
        );
        let got = String::from_utf8_lossy(&out[before..]).into_owned();
        assert!(got.contains(r#"{"delta":{"text":"b","type":"text_delta"},"index":1,"type":"content_block_delta"}"#), "{got}");
    }

    fn run_into(f: &mut dyn Filter, wire: &str, out: &mut Vec<u8>) {
        let mut evs = Vec::new();
        Parser::default().feed(wire.as_bytes(), &mut evs).unwrap();
        for ev in evs {
            f.event(&Stand, ev, out);
        }
    }

    #[test]
    fn anthropic_allowed_call_is_written_whole_and_renumbered() {
        let wire = msg_start()
            + &tool_start(0, "Read", json!({}))
            + &json_delta(0, SSH)
            + &stop(0)
            + &text_block(1, "and")
            + &tool_start(2, "Read", json!({}))
            + &json_delta(2, "{\"file_pa")
            + &json_delta(2, "th\": \"/tmp/notes.txt\"}")
            + &stop(2)
            + &tail("tool_use");
        let (content, stop_reason) = anthropic(&wire).unwrap();
        assert_eq!(content.len(), 3);
        assert_eq!(content[0]["type"], "text");
        assert!(content[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("Blocked by Crust: protect-ssh-keys"));
        assert_eq!(content[1]["text"], "and");
        assert_eq!(content[2]["name"], "Read");
        assert_eq!(content[2]["input"], json!({"file_path": "/tmp/notes.txt"}));
        assert_eq!(stop_reason.as_deref(), Some("tool_use"));
        // One start, one delta with the input that was judged, one stop.
        let out = run(&mut Anthropic::new(), &wire, Ok(()));
        assert!(
            out.contains(r#""partial_json":"{\"file_path\": \"/tmp/notes.txt\"}""#),
            "{out}"
        );
    }

    #[test]
    fn anthropic_all_calls_blocked_ends_the_turn() {
        let wire = msg_start()
            + &tool_start(0, "Read", json!({}))
            + &json_delta(0, SSH)
            + &stop(0)
            + &tail("tool_use");
        let (content, stop_reason) = anthropic(&wire).unwrap();
        assert!(content.iter().all(|b| b["type"] == "text"));
        assert_eq!(stop_reason.as_deref(), Some("end_turn"));
    }

    #[test]
    fn anthropic_event_name_that_disagrees_with_the_data_is_ignored() {
        // (a) `event: content_block_delta` carrying a tool_use start: judged as the start it is.
        let start = json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "t", "name": "Read", "input": {}}});
        let wire = msg_start()
            + &ev(Some("content_block_delta"), start)
            + &ev(
                Some("ping"),
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": SSH}}),
            )
            + &stop(0)
            + &tail("tool_use");
        let (content, stop_reason) = anthropic(&wire).unwrap();
        assert!(content.iter().all(|b| b["type"] == "text"), "{content:?}");
        assert_eq!(stop_reason.as_deref(), Some("end_turn"));
    }

    #[test]
    fn anthropic_delta_after_its_block_stopped_is_refused() {
        // (b) The SDK would apply it to the allowed call it already holds.
        let wire = msg_start()
            + &tool_start(0, "Read", serde_json::from_str(NOTES).unwrap())
            + &stop(0)
            + &json_delta(0, SSH)
            + &tail("tool_use");
        refused_with(
            anthropic(&wire),
            "a delta for content block 0, which is not open",
        );
    }

    #[test]
    fn anthropic_crossed_and_reused_indexes_are_refused() {
        // (c) The second call's deltas address the first.
        let crossed = msg_start()
            + &tool_start(0, "Read", serde_json::from_str(NOTES).unwrap())
            + &stop(0)
            + &tool_start(1, "Bash", json!({}))
            + &json_delta(0, SSH)
            + &stop(1);
        refused_with(anthropic(&crossed), "not open");
        // (c) A block started again at an index already used.
        let reused = msg_start()
            + &tool_start(0, "Read", serde_json::from_str(NOTES).unwrap())
            + &stop(0)
            + &text_block(0, "x");
        refused_with(
            anthropic(&reused),
            "content block 0 started where block 1 was expected",
        );
        // A start that skips an index, and a negative index.
        refused_with(
            anthropic(&(msg_start() + &tool_start(1, "Read", json!({})))),
            "started where block 0",
        );
        let negative = msg_start()
            + &text_block(0, "x")
            + &a(
                json!({"type": "content_block_delta", "index": -1, "delta": {"type": "text_delta", "text": "y"}}),
            );
        refused_with(anthropic(&negative), "without a valid `index`");
    }

    #[test]
    fn anthropic_keys_spelled_with_escapes_are_read_as_the_client_reads_them() {
        // (d) serde decodes escapes in keys and values as the SDKs do: this is a tool call.
        let wire = msg_start()
            + "event: content_block_start\ndata: {\"type\": \"content_block\\u005fstart\", \"index\": 0, \"content_block\": {\"type\": \"tool\\u005fuse\", \"id\": \"t\", \"name\": \"R\\u0065ad\", \"input\": {}}}\n\n"
            + "event: content_block_delta\ndata: {\"type\": \"content_block_delta\", \"index\": 0, \"delta\": {\"type\": \"input_json\\u005fdelta\", \"partial\\u005fjson\": \"{\\\"file_path\\\": \\\"~/.ssh/id_rsa\\\"}\"}}\n\n"
            + &stop(0)
            + &tail("tool_use");
        let (content, _) = anthropic(&wire).unwrap();
        assert!(content.iter().all(|b| b["type"] == "text"), "{content:?}");
    }

    #[test]
    fn anthropic_unparseable_events_are_refused() {
        // (e) JSON Python accepts and serde refuses, and things that are not JSON objects.
        let deep = format!("{}1{}", "[".repeat(130), "]".repeat(130));
        for data in [
            r#"{"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "toolu_\ud800", "name": "Read", "input": {}}}"#.to_owned(),
            format!(r#"{{"type": "content_block_start", "index": 0, "meta": {deep}, "content_block": {{"type": "tool_use", "id": "t", "name": "Read", "input": {{}}}}}}"#),
            r#"{"type": "content_block_start", "index": NaN}"#.to_owned(),
            "[1, 2]".to_owned(),
            "not json".to_owned(),
        ] {
            let wire = msg_start() + &format!("event: content_block_start\ndata: {data}\n\n") + &json_delta(0, SSH) + &stop(0) + &tail("tool_use");
            refused_with(anthropic(&wire), "an event's data is not");
        }
    }

    #[test]
    fn anthropic_message_start_with_blocks_is_refused() {
        let wire = a(
            json!({"type": "message_start", "message": {"id": "m", "content": [{"type": "tool_use", "id": "t", "name": "Read", "input": {"file_path": "~/.ssh/id_rsa"}}]}}),
        ) + &tail("tool_use");
        refused_with(anthropic(&wire), "message_start carries content blocks");
        refused_with(
            anthropic(&(text_block(0, "x") + &tail("end_turn"))),
            "before message_start",
        );
        refused_with(
            anthropic(&(msg_start() + &msg_start())),
            "a second message_start",
        );
    }

    #[test]
    fn anthropic_unknown_events_pass_only_without_content() {
        let wire = msg_start()
            + &ev(
                Some("whatever"),
                json!({"type": "future_notice", "note": "hi"}),
            )
            + &text_block(0, "x")
            + &tail("end_turn");
        let out = run(&mut Anthropic::new(), &wire, Ok(()));
        assert!(
            out.contains(
                "event: future_notice\ndata: {\"note\":\"hi\",\"type\":\"future_notice\"}\n\n"
            ),
            "{out}"
        );
        for v in [
            json!({"type": "future_block", "index": 0, "content_block": {"type": "tool_use", "name": "Read", "input": {}}}),
            json!({"type": "bad name\nevent: x"}),
        ] {
            refused_with(
                anthropic(&(msg_start() + &ev(Some("x"), v))),
                "unknown type",
            );
        }
        // An unknown block type with an input is taken for a call.
        let odd = msg_start()
            + &a(
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "client_tool_use", "name": "Read", "input": {}}}),
            );
        refused_with(anthropic(&odd), "looks like a tool call");
        // Server-run tools and their results stream through.
        let server = msg_start()
            + &a(
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "server_tool_use", "id": "s", "name": "web_search", "input": {}}}),
            )
            + &json_delta(0, "{\"query\": \"x\"}")
            + &stop(0)
            + &a(
                json!({"type": "content_block_start", "index": 1, "content_block": {"type": "web_search_tool_result", "tool_use_id": "s", "content": []}}),
            )
            + &stop(1)
            + &tail("end_turn");
        let (content, _) = anthropic(&server).unwrap();
        assert_eq!(content[0]["input"], json!({"query": "x"}));
    }

    #[test]
    fn anthropic_tool_call_with_a_delta_of_another_kind_is_refused() {
        let wire = msg_start()
            + &tool_start(0, "Read", json!({}))
            + &a(
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "x"}}),
            );
        refused_with(anthropic(&wire), "not input_json_delta");
        let open = msg_start()
            + &tool_start(0, "Read", json!({}))
            + &json_delta(0, NOTES)
            + &tail("tool_use");
        refused_with(
            anthropic(&open),
            "message_delta came while tool call 0 was still open",
        );
    }

    #[test]
    fn anthropic_input_in_the_start_is_judged_when_no_json_follows() {
        let ssh: Value = serde_json::from_str(SSH).unwrap();
        let wire = msg_start() + &tool_start(0, "Read", ssh) + &stop(0) + &tail("tool_use");
        let (content, _) = anthropic(&wire).unwrap();
        assert_eq!(content[0]["type"], "text");
        let notes: Value = serde_json::from_str(NOTES).unwrap();
        let wire =
            msg_start() + &tool_start(0, "Read", notes.clone()) + &stop(0) + &tail("tool_use");
        let (content, _) = anthropic(&wire).unwrap();
        assert_eq!(content[0]["input"], notes);
        // Input that is not JSON is blocked, never passed on.
        let bad = msg_start()
            + &tool_start(0, "Read", json!({}))
            + &json_delta(0, "{\"file_path\": ")
            + &stop(0)
            + &tail("tool_use");
        let (content, _) = anthropic(&bad).unwrap();
        assert!(content[0]["text"]
            .as_str()
            .unwrap()
            .contains("crust:malformed-call"));
    }

    #[test]
    fn anthropic_cut_or_unfinished_streams_end_with_an_error() {
        let text = msg_start()
            + &a(
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            );
        let out = run(
            &mut Anthropic::new(),
            &text,
            Err("the upstream connection failed".into()),
        );
        refused_with(
            anthropic_client(&out),
            "ended early: the upstream connection failed",
        );
        let in_call = msg_start() + &tool_start(0, "Read", json!({})) + &json_delta(0, SSH);
        let out = run(&mut Anthropic::new(), &in_call, Ok(()));
        assert!(!out.contains("id_rsa"), "{out}");
        refused_with(anthropic_client(&out), "closed it before message_stop");
        refused_with(
            anthropic_client(&run(&mut Anthropic::new(), "", Ok(()))),
            "ended early",
        );
        // A whole message needs nothing more, whatever happens after its end.
        let whole = msg_start() + &text_block(0, "x") + &tail("end_turn");
        let mut f = Anthropic::new();
        let out = run(&mut f, &whole, Err("reset".into()));
        assert!(f.finished() && !out.contains("error"));
    }

    #[test]
    fn anthropic_upstream_error_is_passed_on_and_ends_the_stream() {
        let wire = msg_start()
            + &a(
                json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
            )
            + &text_block(0, "x");
        let mut f = Anthropic::new();
        let out = run(&mut f, &wire, Ok(()));
        assert!(f.finished());
        assert_eq!(anthropic_client(&out).unwrap_err(), "\"Overloaded\"");
        assert!(!out.contains("text_delta"));
    }

    // ----- OpenAI Chat ------------------------------------------------------------------------

    fn chunk(choice: Value) -> String {
        ev(
            None,
            json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "g", "choices": [choice]}),
        )
    }

    fn call(i: i64, id: Option<&str>, name: Option<&str>, args: &str) -> Value {
        let mut f = json!({"arguments": args});
        if let Some(n) = name {
            f["name"] = json!(n);
        }
        let mut c = json!({"index": i, "function": f});
        if let Some(id) = id {
            c["id"] = json!(id);
            c["type"] = json!("function");
        }
        json!({"index": 0, "delta": {"tool_calls": [c]}, "finish_reason": null})
    }

    fn finish(reason: &str) -> String {
        chunk(json!({"index": 0, "delta": {}, "finish_reason": reason}))
    }

    const DONE: &str = "data: [DONE]\n\n";
    const SSH_ARGS: &str = "{\"path\": \"/home/user/.ssh/id_rsa\"}";
    const A_ARGS: &str = "{\"path\": \"/tmp/a.txt\"}";

    /// What the SDK's accumulator ends with for choice 0: its text, its calls (name and
    /// arguments, merged by index), its finish reason; or the error it raises.
    fn chat_client(out: &str) -> ChatResult {
        let mut text = String::new();
        let mut calls: Vec<(String, String)> = Vec::new();
        let mut finish = None;
        for (name, data) in client(out) {
            assert!(name.is_none(), "chat events have no names");
            let Some(v) = data else { break };
            if v.get("error").is_some() {
                return Err(v["error"]["message"].to_string());
            }
            for ch in v["choices"].as_array().unwrap() {
                assert_eq!(ch["index"], 0);
                if let Some(t) = ch["delta"]["content"].as_str() {
                    text.push_str(t);
                }
                for tc in ch["delta"]["tool_calls"].as_array().into_iter().flatten() {
                    let i = tc["index"].as_u64().unwrap() as usize;
                    assert!(i <= calls.len(), "indexes count up from 0");
                    if i == calls.len() {
                        calls.push(Default::default());
                    }
                    calls[i]
                        .0
                        .push_str(tc["function"]["name"].as_str().unwrap_or(""));
                    calls[i]
                        .1
                        .push_str(tc["function"]["arguments"].as_str().unwrap_or(""));
                }
                if let Some(f) = ch["finish_reason"].as_str() {
                    finish = Some(f.to_owned());
                }
            }
        }
        Ok((text, calls, finish))
    }

    type ChatResult = Result<(String, Vec<(String, String)>, Option<String>), String>;

    fn chat(wire: &str) -> ChatResult {
        chat_client(&run(&mut Chat::new(), wire, Ok(())))
    }

    fn chat_refused(r: ChatResult, why: &str) {
        let e = r.expect_err("the stream is refused");
        assert!(e.contains("crust: ") && e.contains(why), "{e}");
    }

    #[test]
    fn chat_text_goes_out_as_it_came() {
        let first = chunk(
            json!({"index": 0, "delta": {"role": "assistant", "content": "caf\u{e9} \"x\""}, "finish_reason": null, "logprobs": null}),
        );
        let mut f = Chat::new();
        let mut out = Vec::new();
        let mut evs = Vec::new();
        Parser::default().feed(first.as_bytes(), &mut evs).unwrap();
        let sent: Value = serde_json::from_str(&evs[0].data).unwrap();
        f.event(&Stand, evs.remove(0), &mut out);
        let got = client(std::str::from_utf8(&out).unwrap());
        assert_eq!(got, vec![(None, Some(sent))]);
    }

    #[test]
    fn chat_calls_are_judged_written_whole_and_renumbered() {
        let wire = chunk(call(0, Some("call_1"), Some("read_file"), ""))
            + &chunk(call(0, None, None, SSH_ARGS))
            + &chunk(call(1, Some("call_2"), Some("read_"), "{\"path\": "))
            + &chunk(call(1, None, Some("file"), "\"/tmp/a.txt\"}"))
            + &finish("tool_calls")
            + DONE;
        let (text, calls, finish) = chat(&wire).unwrap();
        assert!(text.contains("Blocked by Crust: protect-ssh-keys"));
        assert_eq!(calls, vec![("read_file".to_owned(), A_ARGS.to_owned())]);
        assert_eq!(finish.as_deref(), Some("tool_calls"));
    }

    #[test]
    fn chat_escaped_key_is_read_as_the_client_reads_it() {
        // (d) `tool\u005fcalls` is `tool_calls` to every JSON parser.
        let wire = format!(
            "data: {{\"id\": \"c1\", \"choices\": [{{\"index\": 0, \"delta\": {{\"tool\\u005fcalls\": [{{\"index\": 0, \"id\": \"call_1\", \"type\": \"function\", \"function\": {{\"name\": \"read_file\", \"arguments\": {}}}}}]}}, \"finish_reason\": null}}]}}\n\n",
            serde_json::to_string(SSH_ARGS).unwrap()
        ) + &finish("tool_calls")
            + DONE;
        let (text, calls, finish) = chat(&wire).unwrap();
        assert!(calls.is_empty() && text.contains("Blocked by Crust: protect-ssh-keys"));
        assert_eq!(finish.as_deref(), Some("stop"));
    }

    #[test]
    fn chat_unparseable_chunks_are_refused() {
        for data in [
            r#"{"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_\ud800", "function": {"name": "read_file", "arguments": ""}}]}}]}"#.to_owned(),
            format!(r#"{{"meta": {}1{}, "choices": []}}"#, "[".repeat(130), "]".repeat(130)),
            "{\"choices\": [}".to_owned(),
        ] {
            let wire = format!("data: {data}\n\n") + &chunk(call(0, Some("c"), Some("read_file"), SSH_ARGS)) + &finish("tool_calls") + DONE;
            chat_refused(chat(&wire), "an event's data is not");
        }
    }

    #[test]
    fn chat_index_games_are_refused() {
        let start = chunk(call(0, Some("call_1"), Some("read_file"), ""));
        for (game, why) in [
            (call(-1, None, None, SSH_ARGS), "without a valid `index`"),
            (
                call(2, Some("call_3"), Some("read_file"), SSH_ARGS),
                "tool call 2 started before tool call 1",
            ),
            (
                json!({"index": 1, "delta": {"content": "x"}}),
                "choice 1 appeared before choice 0",
            ),
            (
                json!({"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": {"path": "x"}}}]}}),
                "not text",
            ),
            (
                json!({"index": 0, "delta": {"tool_calls": {"0": {}}}}),
                "not a list",
            ),
        ] {
            let wire = if why.contains("choice 1") {
                chunk(game) + &finish("stop") + DONE
            } else {
                start.clone() + &chunk(game) + &finish("tool_calls") + DONE
            };
            chat_refused(chat(&wire), why);
        }
        // A fragment after its choice finished.
        let late = chunk(call(0, Some("call_1"), Some("read_file"), A_ARGS))
            + &finish("tool_calls")
            + &chunk(call(0, None, None, SSH_ARGS))
            + DONE;
        chat_refused(chat(&late), "after its choice finished");
    }

    #[test]
    fn chat_cut_streams_end_with_an_error() {
        let text =
            chunk(json!({"index": 0, "delta": {"content": "Working"}, "finish_reason": null}));
        chat_refused(chat(&text), "closed it before [DONE]");
        let held = chunk(call(0, Some("call_1"), Some("read_file"), SSH_ARGS));
        let out = run(&mut Chat::new(), &held, Err("reset".into()));
        assert!(!out.contains("id_rsa"));
        chat_refused(chat_client(&out), "ended early: reset");
        // Every choice finished: the answer is whole without `[DONE]`.
        let whole = text + &finish("stop");
        assert_eq!(chat(&whole).unwrap().0, "Working");
    }

    #[test]
    fn chat_upstream_error_is_passed_on() {
        let wire = ev(
            None,
            json!({"error": {"message": "overloaded", "type": "server_error"}}),
        ) + &chunk(call(0, Some("c"), Some("read_file"), A_ARGS))
            + DONE;
        assert_eq!(chat(&wire).unwrap_err(), "\"overloaded\"");
    }

    // ----- OpenAI Responses -------------------------------------------------------------------

    fn r(v: Value) -> String {
        let name = v["type"].as_str().unwrap().to_owned();
        ev(Some(&name), v)
    }

    fn created() -> String {
        r(
            json!({"type": "response.created", "response": {"id": "resp_1", "status": "in_progress", "output": []}, "sequence_number": 0}),
        )
    }

    fn fcall(id: &str, args: &str) -> Value {
        json!({"type": "function_call", "id": id, "call_id": format!("call_{id}"), "name": "exec_command", "arguments": args, "status": "completed"})
    }

    fn added(i: u64, item: Value) -> String {
        r(json!({"type": "response.output_item.added", "output_index": i, "item": item}))
    }

    fn done(i: u64, item: Value) -> String {
        r(json!({"type": "response.output_item.done", "output_index": i, "item": item}))
    }

    fn completed(output: Option<Value>) -> String {
        let mut resp = json!({"id": "resp_1", "status": "completed"});
        if let Some(o) = output {
            resp["output"] = o;
        }
        r(json!({"type": "response.completed", "response": resp}))
    }

    const SSH_CMD: &str = "{\"cmd\": \"cat ~/.ssh/id_rsa\"}";
    const ECHO_CMD: &str = "{\"cmd\": \"echo hello\"}";

    /// Every call item the client could run (in `added`, `done` and any response's output),
    /// each call's arguments as the SDK's snapshot accumulates them, and the failure, if any.
    fn responses_client(out: &str) -> (Vec<Value>, Vec<String>, Option<String>) {
        let mut items = Vec::new();
        let mut snapshots: BTreeMap<u64, String> = BTreeMap::new();
        let mut failure = None;
        for (seq, (name, data)) in client(out).into_iter().enumerate() {
            let v = data.unwrap();
            assert_eq!(name.as_deref(), v["type"].as_str());
            assert_eq!(v["sequence_number"], seq, "sequence numbers count up");
            match v["type"].as_str().unwrap() {
                "response.output_item.added" => {
                    if v["item"]["type"] == "function_call" {
                        snapshots.insert(
                            v["output_index"].as_u64().unwrap(),
                            v["item"]["arguments"].as_str().unwrap().to_owned(),
                        );
                    }
                    items.push(v["item"].clone());
                }
                "response.function_call_arguments.delta" => {
                    snapshots
                        .get_mut(&v["output_index"].as_u64().unwrap())
                        .unwrap()
                        .push_str(v["delta"].as_str().unwrap());
                }
                "response.output_item.done" => items.push(v["item"].clone()),
                "response.failed" => failure = Some(v["response"]["error"]["message"].to_string()),
                _ => {}
            }
            if let Some(o) = v["response"]["output"].as_array() {
                items.extend(o.iter().cloned());
            }
        }
        let calls = items
            .into_iter()
            .filter(|i| i["type"] == "function_call")
            .collect();
        (calls, snapshots.into_values().collect(), failure)
    }

    fn responses(wire: &str) -> (Vec<Value>, Vec<String>, Option<String>) {
        let (calls, snapshots, failure) =
            responses_client(&run(&mut Responses::new(), wire, Ok(())));
        for c in &calls {
            assert!(!c.to_string().contains("id_rsa"), "the client holds {c}");
        }
        assert!(
            !snapshots.iter().any(|s| s.contains("id_rsa")),
            "{snapshots:?}"
        );
        (calls, snapshots, failure)
    }

    fn responses_refused(wire: &str, why: &str) {
        let (_, _, failure) = responses(wire);
        let f = failure.expect("the stream is refused");
        assert!(f.contains("crust: ") && f.contains(why), "{f}");
    }

    #[test]
    fn responses_allowed_call_is_written_from_the_judged_item() {
        let wire = created()
            + &added(0, fcall("fc_1", ""))
            + &r(
                json!({"type": "response.function_call_arguments.delta", "output_index": 0, "item_id": "fc_1", "delta": "{\"cmd\": \"ec"}),
            )
            + &r(
                json!({"type": "response.function_call_arguments.delta", "output_index": 0, "item_id": "fc_1", "delta": "ho hello\"}"}),
            )
            + &done(0, fcall("fc_1", ECHO_CMD))
            + &completed(Some(json!([fcall("fc_1", ECHO_CMD)])));
        let (calls, snapshots, failure) = responses(&wire);
        assert_eq!(failure, None);
        assert_eq!(snapshots, vec![ECHO_CMD.to_owned()]);
        assert!(calls
            .iter()
            .filter(|c| c["status"] == "completed")
            .all(|c| c["arguments"] == ECHO_CMD));
    }

    #[test]
    fn responses_blocked_call_becomes_a_notice_everywhere() {
        let wire = created()
            + &added(0, fcall("fc_1", ""))
            + &done(0, fcall("fc_1", SSH_CMD))
            + &completed(Some(json!([fcall("fc_1", SSH_CMD)])));
        let out = run(&mut Responses::new(), &wire, Ok(()));
        let (calls, _, failure) = responses(&wire);
        assert!(calls.is_empty() && failure.is_none());
        // The text delta, its done, the part's done, the item's done, the final output.
        assert_eq!(
            out.matches("Blocked by Crust: protect-ssh-keys").count(),
            5,
            "{out}"
        );
    }

    #[test]
    fn responses_items_that_bypass_added_or_hold_are_judged() {
        // Done without added; the final output rebuilt from done items.
        let (calls, _, _) =
            responses(&(created() + &done(0, fcall("fc_1", SSH_CMD)) + &completed(None)));
        assert!(calls.is_empty());
        // (a) Event names of text events.
        let named = created()
            + &ev(
                Some("response.output_text.delta"),
                json!({"type": "response.output_item.added", "output_index": 0, "item": fcall("fc_1", SSH_CMD)}),
            )
            + &ev(
                Some("response.output_text.done"),
                json!({"type": "response.output_item.done", "output_index": 0, "item": fcall("fc_1", SSH_CMD)}),
            )
            + &completed(None);
        assert!(responses(&named).0.is_empty());
        // A lifecycle event replacing an allowed call, and a final output reusing its id.
        let allowed = created() + &added(0, fcall("fc_1", "")) + &done(0, fcall("fc_1", ECHO_CMD));
        let replaced = allowed.clone()
            + &r(
                json!({"type": "response.in_progress", "response": {"id": "resp_1", "output": [fcall("fc_1", SSH_CMD)]}}),
            )
            + &completed(None);
        responses(&replaced);
        let reused = allowed + &completed(Some(json!([fcall("fc_1", SSH_CMD)])));
        assert!(run(&mut Responses::new(), &reused, Ok(())).contains("Blocked by Crust"));
        responses(&reused);
    }

    #[test]
    fn responses_events_for_items_not_open_are_refused() {
        let allowed = created() + &added(0, fcall("fc_1", "")) + &done(0, fcall("fc_1", ECHO_CMD));
        let late = allowed.clone()
            + &r(
                json!({"type": "response.function_call_arguments.delta", "output_index": 0, "item_id": "fc_1", "delta": "; cat ~/.ssh/id_rsa"}),
            );
        responses_refused(&late, "for output item 0, which is not open");
        responses_refused(
            &(allowed.clone() + &done(0, fcall("fc_1", ECHO_CMD))),
            "completed twice",
        );
        responses_refused(&(allowed + &added(0, fcall("fc_2", ""))), "added twice");
        let message = json!({"type": "message", "id": "m", "role": "assistant", "content": []});
        responses_refused(
            &(created() + &added(0, message) + &done(0, fcall("fc_1", SSH_CMD))),
            "completed as a call",
        );
        responses_refused(
            &(created()
                + &r(
                    json!({"type": "response.output_text.delta", "output_index": 3, "delta": "x"}),
                )),
            "not open",
        );
        responses_refused(
            &(created() + &r(json!({"type": "response.future", "item": fcall("fc_1", SSH_CMD)}))),
            "unknown type",
        );
    }

    #[test]
    fn responses_unparseable_and_cut_streams_fail() {
        let bad = created() + "event: response.output_item.added\ndata: {\"type\": \"response.output_item.added\", \"output_index\": 0, \"item\": {\"type\": \"function_call\", \"id\": \"fc_\\ud800\"}}\n\n";
        responses_refused(&bad, "an event's data is not");
        let text = created()
            + &added(
                0,
                json!({"type": "message", "id": "m", "role": "assistant", "content": []}),
            );
        responses_refused(&text, "closed it before the response completed");
        let out = run(
            &mut Responses::new(),
            &(created() + &added(0, fcall("fc_1", ""))),
            Err("reset".into()),
        );
        let (_, _, failure) = responses_client(&out);
        assert!(failure.unwrap().contains("ended early: reset"));
        // The failure carries the response's id, as the SDK requires.
        assert!(out.contains("\"id\":\"resp_1\""));
    }

    #[test]
    fn responses_text_passes_with_its_content() {
        let msg = json!({"type": "message", "id": "m", "role": "assistant", "content": []});
        let delta = json!({"type": "response.output_text.delta", "output_index": 0, "item_id": "m", "content_index": 0, "delta": "Hello \u{e9}"});
        let wire = created() + &added(0, msg) + &r(delta.clone());
        let mut f = Responses::new();
        let out = run(&mut f, &wire, Ok(()));
        let got = client(&out);
        let mut expect = delta;
        expect["sequence_number"] = json!(2);
        assert_eq!(got[2].1.as_ref(), Some(&expect));
    }
}
