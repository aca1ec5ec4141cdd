//! Server-sent events: an incremental parser, and one filter per API that passes text through
//! at once and holds only a tool call's events until the call is complete.

use super::apis::{
    anthropic_text_block, filter_responses_output, judge_responses_item, responses_message_events,
    set,
};
use super::judge::{Args, Decision, Judge};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// One event: its `event:` name (Anthropic, Responses) and its `data:` text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub name: Option<String>,
    pub data: String,
}

impl Event {
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

    fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.data).ok()
    }

    fn from_json(name: Option<&str>, v: &Value) -> Event {
        Event {
            name: name.map(str::to_owned),
            data: v.to_string(),
        }
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

/// A per-API stream rewriter.
pub trait Filter: Send {
    /// One upstream event; what the client gets is appended to `out`.
    fn event(&mut self, judge: &Judge<'_>, ev: Event, out: &mut String);
    /// The upstream stream ended (`complete` false when it was cut or failed): calls still
    /// held are blocked, never released.
    fn end(&mut self, judge: &Judge<'_>, complete: bool, out: &mut String);
    /// Rules that blocked so far.
    fn blocked(&self) -> &[String];
}

const CUT: &str =
    "the response stream ended before the call was complete, so it could not be checked";

fn cut_notice(tool: &str) -> Decision {
    Decision::Block {
        rule: crate::model::MALFORMED_RULE.to_owned(),
        notice: super::judge::notice(crate::model::MALFORMED_RULE, tool, CUT),
    }
}

/// Sends a comment now and then while events are held, so clients and intermediaries do not
/// time the stream out.
struct KeepAlive(Option<Instant>);

impl KeepAlive {
    fn tick(&mut self, out: &mut String) {
        let due = self
            .0
            .is_none_or(|t| t.elapsed() >= Duration::from_millis(500));
        if due {
            out.push_str(": crust is checking a tool call\n\n");
            self.0 = Some(Instant::now());
        }
    }
}

// ----- Anthropic Messages ----------------------------------------------------------------

pub struct Anthropic {
    held: Option<HeldBlock>,
    kept_tools: usize,
    blocked: Vec<String>,
    started: bool,
    stopped: bool,
    keep: KeepAlive,
}

struct HeldBlock {
    index: u64,
    name: String,
    json: String,
    events: Vec<Event>,
}

impl Anthropic {
    pub fn new() -> Self {
        Anthropic {
            held: None,
            kept_tools: 0,
            blocked: Vec::new(),
            started: false,
            stopped: false,
            keep: KeepAlive(None),
        }
    }

    fn release(
        &mut self,
        judge: &Judge<'_>,
        h: HeldBlock,
        decision: Option<Decision>,
        out: &mut String,
    ) {
        let decision = decision.unwrap_or_else(|| judge.call(&h.name, Args::Encoded(&h.json)));
        match decision {
            Decision::Allow => {
                self.kept_tools += 1;
                for e in &h.events {
                    e.write(out);
                }
            }
            Decision::Block { rule, notice } => {
                self.blocked.push(rule);
                if let Some((tool, args)) = judge.replacement(&notice) {
                    // Replace mode: the same block, now a shell `echo` of the notice.
                    self.kept_tools += 1;
                    let id = h
                        .events
                        .first()
                        .and_then(Event::json)
                        .and_then(|v| v.pointer("/content_block/id").cloned())
                        .unwrap_or(Value::Null);
                    let events = [
                        json!({ "type": "content_block_start", "index": h.index, "content_block": { "type": "tool_use", "id": id, "name": tool, "input": {} } }),
                        json!({ "type": "content_block_delta", "index": h.index, "delta": { "type": "input_json_delta", "partial_json": args.to_string() } }),
                        json!({ "type": "content_block_stop", "index": h.index }),
                    ];
                    for e in events {
                        Event::from_json(e.get("type").and_then(Value::as_str), &e).write(out);
                    }
                    return;
                }
                // A text block in the call's place keeps every later index valid.
                for e in anthropic_text_block(h.index, &notice) {
                    Event::from_json(e.get("type").and_then(Value::as_str), &e).write(out);
                }
            }
        }
    }
}

impl Default for Anthropic {
    fn default() -> Self {
        Self::new()
    }
}

impl Filter for Anthropic {
    fn event(&mut self, judge: &Judge<'_>, ev: Event, out: &mut String) {
        // The hot path: text and thinking deltas, block ends and pings go out as they came,
        // unparsed, while no tool block is held (the `event:` name equals the JSON `type`).
        if self.held.is_none()
            && matches!(
                ev.name.as_deref(),
                Some("content_block_delta" | "content_block_stop" | "ping")
            )
        {
            ev.write(out);
            return;
        }
        let Some(mut v) = ev.json() else {
            ev.write(out);
            return;
        };
        let kind = v
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let index = v.get("index").and_then(Value::as_u64);
        match kind.as_str() {
            "message_start" => self.started = true,
            "message_stop" => self.stopped = true,
            _ => {}
        }
        if let Some(h) = &mut self.held {
            if index == Some(h.index) {
                match kind.as_str() {
                    "content_block_delta" => {
                        if let Some(p) = v.pointer("/delta/partial_json").and_then(Value::as_str) {
                            h.json.push_str(p);
                        }
                        h.events.push(ev);
                        self.keep.tick(out);
                        return;
                    }
                    "content_block_stop" => {
                        h.events.push(ev);
                        if let Some(h) = self.held.take() {
                            self.release(judge, h, None, out);
                        }
                        return;
                    }
                    _ => {}
                }
            }
        }
        match kind.as_str() {
            "content_block_start"
                if v.pointer("/content_block/type").and_then(Value::as_str) == Some("tool_use") =>
            {
                let name = v
                    .pointer("/content_block/name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                // `input` at start is `{}` in practice; a non-empty one is the whole input.
                let json = match v.pointer("/content_block/input") {
                    Some(Value::Object(o)) if !o.is_empty() => Value::Object(o.clone()).to_string(),
                    _ => String::new(),
                };
                self.held = Some(HeldBlock {
                    index: index.unwrap_or(0),
                    name,
                    json,
                    events: vec![ev],
                });
                self.keep.tick(out);
            }
            "message_delta" => {
                let stop = v.pointer("/delta/stop_reason").and_then(Value::as_str);
                if stop == Some("tool_use") && self.kept_tools == 0 && !self.blocked.is_empty() {
                    if let Some(d) = v.get_mut("delta") {
                        set(d, "stop_reason", json!("end_turn"));
                    }
                    Event::from_json(ev.name.as_deref(), &v).write(out);
                } else {
                    ev.write(out);
                }
            }
            _ => ev.write(out),
        }
    }

    fn end(&mut self, judge: &Judge<'_>, complete: bool, out: &mut String) {
        if let Some(h) = self.held.take() {
            let d = cut_notice(&h.name);
            self.release(judge, h, Some(d), out);
        }
        // A stream that stopped short still ends as a well-formed message for the client.
        let _ = complete;
        if self.started && !self.stopped {
            let delta = json!({ "type": "message_delta", "delta": { "stop_reason": "end_turn", "stop_sequence": null }, "usage": { "output_tokens": 0 } });
            Event::from_json(Some("message_delta"), &delta).write(out);
            Event::from_json(Some("message_stop"), &json!({ "type": "message_stop" })).write(out);
        }
    }

    fn blocked(&self) -> &[String] {
        &self.blocked
    }
}

// ----- OpenAI Chat Completions -----------------------------------------------------------

#[derive(Default)]
struct HeldCall {
    id: Option<String>,
    kind: Option<String>,
    name: String,
    args: String,
    /// `custom` tools carry free text in `input`.
    custom: bool,
}

/// Key for the legacy single `function_call` of a choice.
const LEGACY: u64 = u64::MAX;

#[derive(Default)]
pub struct Chat {
    /// (choice, call index) -> call being assembled.
    held: BTreeMap<(u64, u64), HeldCall>,
    /// Envelope of the last chunk (id, object, created, model) for chunks we write.
    envelope: Option<Value>,
    blocked: Vec<String>,
    /// Next tool-call index per choice in what the client sees.
    next_index: BTreeMap<u64, u64>,
    keep: Option<KeepAlive>,
}

impl Chat {
    pub fn new() -> Self {
        Self::default()
    }

    fn chunk(&self, choice: Value) -> Value {
        let mut c = self.envelope.clone().unwrap_or_else(|| json!({}));
        set(&mut c, "choices", json!([choice]));
        c
    }

    /// Decides the held calls of one choice and writes what survives; returns how many calls
    /// the client got for this choice.
    fn flush(&mut self, judge: &Judge<'_>, choice: u64, cut: bool, out: &mut String) -> u64 {
        let keys: Vec<(u64, u64)> = self
            .held
            .range((choice, 0)..=(choice, u64::MAX))
            .map(|(k, _)| *k)
            .collect();
        for k in keys {
            let Some(mut call) = self.held.remove(&k) else {
                continue;
            };
            let mut decision = if cut {
                cut_notice(&call.name)
            } else if call.custom {
                judge.call(&call.name, Args::Text(&call.args))
            } else {
                judge.call(&call.name, Args::Encoded(&call.args))
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
            match decision {
                Decision::Allow => {
                    let delta = if k.1 == LEGACY {
                        json!({ "function_call": { "name": call.name, "arguments": call.args } })
                    } else {
                        let slot = self.next_index.entry(choice).or_insert(0);
                        let idx = *slot;
                        *slot += 1;
                        let mut tc = json!({ "index": idx, "type": call.kind.unwrap_or_else(|| "function".into()) });
                        if let Some(id) = call.id {
                            set(&mut tc, "id", json!(id));
                        }
                        if call.custom {
                            set(
                                &mut tc,
                                "custom",
                                json!({ "name": call.name, "input": call.args }),
                            );
                        } else {
                            set(
                                &mut tc,
                                "function",
                                json!({ "name": call.name, "arguments": call.args }),
                            );
                        }
                        json!({ "tool_calls": [tc] })
                    };
                    let c = self
                        .chunk(json!({ "index": choice, "delta": delta, "finish_reason": null }));
                    Event::from_json(None, &c).write(out);
                }
                Decision::Block { rule, notice } => {
                    self.blocked.push(rule);
                    let c = self.chunk(json!({ "index": choice, "delta": { "content": format!("\n{notice}\n") }, "finish_reason": null }));
                    Event::from_json(None, &c).write(out);
                }
            }
        }
        self.next_index.get(&choice).copied().unwrap_or(0)
    }

    fn absorb(&mut self, choice: u64, delta: &mut serde_json::Map<String, Value>) -> bool {
        let mut took = false;
        if let Some(Value::Array(calls)) = delta.remove("tool_calls") {
            for tc in calls {
                let idx = tc.get("index").and_then(Value::as_u64).unwrap_or(0);
                let h = self.held.entry((choice, idx)).or_default();
                if let Some(id) = tc.get("id").and_then(Value::as_str) {
                    h.id = Some(id.to_owned());
                }
                if let Some(t) = tc.get("type").and_then(Value::as_str) {
                    h.kind = Some(t.to_owned());
                    h.custom |= t == "custom";
                }
                let f = tc.get("function").or_else(|| tc.get("custom"));
                if tc.get("custom").is_some() {
                    h.custom = true;
                }
                if let Some(f) = f {
                    if let Some(n) = f.get("name").and_then(Value::as_str) {
                        h.name.push_str(n);
                    }
                    for key in ["arguments", "input"] {
                        if let Some(a) = f.get(key).and_then(Value::as_str) {
                            h.args.push_str(a);
                        }
                    }
                }
                took = true;
            }
        }
        if let Some(f) = delta.remove("function_call") {
            let h = self.held.entry((choice, LEGACY)).or_default();
            if let Some(n) = f.get("name").and_then(Value::as_str) {
                h.name.push_str(n);
            }
            if let Some(a) = f.get("arguments").and_then(Value::as_str) {
                h.args.push_str(a);
            }
            took = true;
        }
        took
    }
}

impl Filter for Chat {
    fn event(&mut self, judge: &Judge<'_>, ev: Event, out: &mut String) {
        if ev.data.trim() == "[DONE]" {
            let choices: Vec<u64> = self.held.keys().map(|k| k.0).collect();
            for c in choices {
                self.flush(judge, c, true, out);
            }
            ev.write(out);
            return;
        }
        let Some(mut v) = ev.json() else {
            ev.write(out);
            return;
        };
        if let Some(obj) = v.as_object() {
            let mut env = serde_json::Map::new();
            for k in [
                "id",
                "object",
                "created",
                "model",
                "system_fingerprint",
                "service_tier",
            ] {
                if let Some(x) = obj.get(k) {
                    env.insert(k.to_owned(), x.clone());
                }
            }
            self.envelope = Some(Value::Object(env));
        }
        let Some(choices) = v.get_mut("choices").and_then(Value::as_array_mut) else {
            ev.write(out);
            return;
        };
        let untouched = !ev.data.contains("tool_calls")
            && !ev.data.contains("function_call")
            && !ev.data.contains("finish_reason\":\"")
            && !ev.data.contains("finish_reason\": \"");
        if untouched {
            // Text and role chunks go out exactly as they came.
            ev.write(out);
            return;
        }
        let had_choices = !choices.is_empty();
        let mut took_any = false;
        let mut finishing = Vec::new();
        for ch in choices.iter_mut() {
            let ci = ch.get("index").and_then(Value::as_u64).unwrap_or(0);
            if let Some(delta) = ch.get_mut("delta").and_then(Value::as_object_mut) {
                took_any |= self.absorb(ci, delta);
            }
            if ch.get("finish_reason").is_some_and(|f| !f.is_null()) {
                finishing.push(ci);
            }
        }
        // Drop choices left with nothing to say; a chunk left with no choice is dropped.
        choices.retain(|ch| {
            let empty_delta = ch
                .get("delta")
                .and_then(Value::as_object)
                .is_none_or(serde_json::Map::is_empty);
            let finish = ch.get("finish_reason").is_some_and(|f| !f.is_null());
            !empty_delta || finish || ch.get("logprobs").is_some_and(|l| !l.is_null())
        });
        let now_empty = choices.is_empty();
        if took_any {
            self.keep.get_or_insert(KeepAlive(None)).tick(out);
        }
        // Calls of a finishing choice are complete: decide them before its last chunk.
        let mut kept = BTreeMap::new();
        for ci in &finishing {
            kept.insert(*ci, self.flush(judge, *ci, false, out));
        }
        if let Some(choices) = v.get_mut("choices").and_then(Value::as_array_mut) {
            for ch in choices.iter_mut() {
                let ci = ch.get("index").and_then(Value::as_u64).unwrap_or(0);
                let no_calls = kept.get(&ci) == Some(&0);
                if no_calls {
                    if let Some(obj) = ch.as_object_mut() {
                        if matches!(
                            obj.get("finish_reason").and_then(Value::as_str),
                            Some("tool_calls" | "function_call")
                        ) && self.blocked_any()
                        {
                            obj.insert("finish_reason".into(), json!("stop"));
                        }
                    }
                }
            }
        }
        if had_choices && now_empty && !took_any {
            // Nothing was taken out, yet nothing is left: pass it as it came.
            ev.write(out);
        } else if !(had_choices && now_empty) {
            Event::from_json(None, &v).write(out);
        }
    }

    fn end(&mut self, judge: &Judge<'_>, _complete: bool, out: &mut String) {
        let choices: Vec<u64> = self.held.keys().map(|k| k.0).collect();
        for c in choices {
            self.flush(judge, c, true, out);
        }
    }

    fn blocked(&self) -> &[String] {
        &self.blocked
    }
}

impl Chat {
    fn blocked_any(&self) -> bool {
        !self.blocked.is_empty()
    }
}

// ----- OpenAI Responses --------------------------------------------------------------------

#[derive(Default)]
pub struct Responses {
    /// output_index -> events of a call item being assembled.
    held: BTreeMap<u64, Vec<Event>>,
    /// Decisions taken on streamed items, by item id, reused for the final `output`.
    decided: std::collections::HashMap<String, Decision>,
    /// Whether events were replaced (sequence numbers moved): until then events that cannot
    /// hold a call pass as they came, unparsed.
    shifted: bool,
    blocked: Vec<String>,
    seq: u64,
    keep: Option<KeepAlive>,
}

impl Responses {
    pub fn new() -> Self {
        Self::default()
    }

    fn emit(&mut self, mut v: Value, name: Option<&str>, out: &mut String) {
        if v.get("sequence_number").is_some() || name.is_some() {
            set(&mut v, "sequence_number", json!(self.seq));
            self.seq += 1;
        }
        let name = name
            .map(str::to_owned)
            .or_else(|| v.get("type").and_then(Value::as_str).map(str::to_owned));
        Event::from_json(name.as_deref(), &v).write(out);
    }

    fn replace(&mut self, idx: u64, item: &Value, decision: Decision, out: &mut String) {
        match decision {
            Decision::Allow => {}
            Decision::Block { rule, notice } => {
                self.blocked.push(rule);
                self.shifted = true;
                let id = item
                    .get("id")
                    .and_then(Value::as_str)
                    .map_or_else(|| "msg_crust".to_owned(), |i| format!("msg_crust_{i}"));
                for e in responses_message_events(idx, &id, &notice) {
                    self.emit(e, None, out);
                }
            }
        }
    }
}

impl Filter for Responses {
    fn event(&mut self, judge: &Judge<'_>, ev: Event, out: &mut String) {
        let may_hold_call = matches!(
            ev.name.as_deref(),
            Some(
                "response.output_item.added"
                    | "response.completed"
                    | "response.incomplete"
                    | "response.failed"
            ) | None
        );
        if !self.shifted && self.held.is_empty() && !may_hold_call {
            self.seq += 1;
            ev.write(out);
            return;
        }
        let Some(mut v) = ev.json() else {
            ev.write(out);
            return;
        };
        let kind = v
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let idx = v.get("output_index").and_then(Value::as_u64);
        if kind == "response.output_item.added" {
            if let (Some(i), Some(item)) = (idx, v.get("item")) {
                let t = item.get("type").and_then(Value::as_str).unwrap_or("");
                if super::apis::is_call_item(t) {
                    self.held.insert(i, vec![ev]);
                    self.keep.get_or_insert(KeepAlive(None)).tick(out);
                    return;
                }
            }
        }
        if let Some(i) = idx {
            if self.held.contains_key(&i) {
                if kind == "response.output_item.done" {
                    let events = self.held.remove(&i).unwrap_or_default();
                    let item = v.get("item").cloned().unwrap_or(Value::Null);
                    let decision = judge_responses_item(judge, &item).unwrap_or(Decision::Allow);
                    if let Some(id) = item.get("id").and_then(Value::as_str) {
                        self.decided.insert(id.to_owned(), decision.clone());
                    }
                    if decision == Decision::Allow {
                        for e in events {
                            if let Some(x) = e.json() {
                                self.emit(x, e.name.as_deref(), out);
                            }
                        }
                        self.emit(v, ev.name.as_deref(), out);
                    } else {
                        self.replace(i, &item, decision, out);
                    }
                } else if let Some(list) = self.held.get_mut(&i) {
                    list.push(ev);
                    if let Some(k) = &mut self.keep {
                        k.tick(out);
                    }
                }
                return;
            }
        }
        if matches!(
            kind.as_str(),
            "response.completed" | "response.incomplete" | "response.failed"
        ) {
            // The SDK builds its final result from this array: filter it too.
            if let Some(r) = v.get_mut("response") {
                filter_responses_output(judge, r, &mut self.blocked, &self.decided);
            }
        }
        self.emit(v, ev.name.as_deref(), out);
    }

    fn end(&mut self, judge: &Judge<'_>, _complete: bool, out: &mut String) {
        let held = std::mem::take(&mut self.held);
        for (i, events) in held {
            let item = events
                .first()
                .and_then(Event::json)
                .and_then(|v| v.get("item").cloned())
                .unwrap_or(Value::Null);
            let name = item
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("tool")
                .to_owned();
            let _ = judge;
            self.replace(i, &item, cut_notice(&name), out);
        }
    }

    fn blocked(&self) -> &[String] {
        &self.blocked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(chunks: &[&[u8]]) -> (Vec<Event>, bool) {
        let mut p = Parser::default();
        let mut out = Vec::new();
        for c in chunks {
            assert!(p.feed(c, &mut out).is_ok());
        }
        (out, p.pending())
    }

    #[test]
    fn events_split_across_reads_and_crlf() {
        let (evs, pending) = parse(&[
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
        let (evs, _) = parse(&[b"data: one\ndata: two\n\n"]);
        assert_eq!(evs.len(), 1);
        let mut out = String::new();
        evs[0].write(&mut out);
        assert_eq!(out, "data: one\ndata: two\n\n");
    }

    #[test]
    fn a_cut_event_is_pending() {
        let (evs, pending) = parse(&[b"event: x\ndata: {\"partial"]);
        assert!(evs.is_empty());
        assert!(pending);
    }

    #[test]
    fn non_utf8_is_an_error() {
        let mut p = Parser::default();
        assert!(p.feed(b"data: \xff\n\n", &mut Vec::new()).is_err());
    }
}
