//! The three LLM APIs as JSON: where tool calls sit in a request's history and in a response,
//! how a blocked call is replaced, and what a synthetic answer looks like.

use super::judge::{Args, Decision, Judge};
use super::sse::Decider;
use serde_json::{json, Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// Anthropic Messages (`/v1/messages`).
    Anthropic,
    /// OpenAI Chat Completions (`/v1/chat/completions`).
    Chat,
    /// OpenAI Responses (`/v1/responses`).
    Responses,
}

impl Api {
    /// The API a request path belongs to (query already removed); other paths are proxied
    /// untouched.
    pub fn classify(method: &hyper::Method, path: &str) -> Option<Api> {
        let path = path.trim_end_matches('/');
        if method == hyper::Method::GET {
            // A stored answer fetched again (`GET /v1/responses/{id}`, also streamed with
            // `?stream=true`; `GET /v1/chat/completions/{id}`) carries the same tool calls as
            // the first time: it is judged the same way.
            let (parent, id) = path.rsplit_once('/')?;
            if id.is_empty() {
                return None;
            }
            return if parent.ends_with("/responses") {
                Some(Api::Responses)
            } else if parent.ends_with("/chat/completions") {
                Some(Api::Chat)
            } else {
                None
            };
        }
        if method != hyper::Method::POST {
            return None;
        }
        if path.ends_with("/messages") && !path.ends_with("/count_tokens") {
            Some(Api::Anthropic)
        } else if path.ends_with("/chat/completions") {
            Some(Api::Chat)
        } else if path.ends_with("/responses") {
            Some(Api::Responses)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Api::Anthropic => "anthropic-messages",
            Api::Chat => "openai-chat",
            Api::Responses => "openai-responses",
        }
    }
}

/// Response item types of the Responses API that the client executes.
const RESPONSES_CALLS: &[&str] = &[
    "function_call",
    "custom_tool_call",
    "local_shell_call",
    "shell_call",
    "apply_patch_call",
    "computer_call",
];

/// Whether a Responses item type is a call the client executes.
pub fn is_call_item(kind: &str) -> bool {
    RESPONSES_CALLS.contains(&kind)
}

/// Judges one Responses output (or input) item that is a client-side call.
pub fn judge_responses_item(judge: &dyn Decider, item: &Value) -> Option<Decision> {
    let kind = item.get("type")?.as_str()?;
    if !RESPONSES_CALLS.contains(&kind) {
        return None;
    }
    let name = item.get("name").and_then(Value::as_str);
    let id = item
        .get("call_id")
        .or_else(|| item.get("id"))
        .and_then(Value::as_str);
    Some(match kind {
        "function_call" => match item.get("arguments") {
            Some(Value::String(s)) => judge.call_with_id(id, name.unwrap_or(""), Args::Encoded(s)),
            Some(v) => judge.call_with_id(id, name.unwrap_or(""), Args::Object(v)),
            None => judge.call_with_id(id, name.unwrap_or(""), Args::Encoded("")),
        },
        "custom_tool_call" => {
            let input = item.get("input").and_then(Value::as_str).unwrap_or("");
            judge.call_with_id(id, name.unwrap_or(""), Args::Text(input))
        }
        // `action: {type: exec, command: [argv], working_directory}`.
        "local_shell_call" => {
            let action = item.get("action").cloned().unwrap_or(Value::Null);
            let args = json!({
                "command": action.get("command").cloned().unwrap_or(Value::Null),
                "workdir": action.get("working_directory").cloned().unwrap_or(Value::Null),
            });
            judge.call_with_id(id, "local_shell_call", Args::Object(&args))
        }
        // `action: {commands: [script, ...]}`: each is a shell script.
        "shell_call" => {
            let commands = item
                .pointer("/action/commands")
                .and_then(Value::as_array)
                .map(|c| {
                    c.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .unwrap_or_default();
            judge.call_with_id(
                id,
                "exec_command",
                Args::Object(&json!({ "cmd": commands })),
            )
        }
        // `operation: {type: create_file|update_file|delete_file, path, diff}`.
        "apply_patch_call" => {
            let op = item.get("operation").cloned().unwrap_or(Value::Null);
            let path = op.get("path").and_then(Value::as_str).unwrap_or("");
            let diff = op.get("diff").and_then(Value::as_str).unwrap_or("");
            let header = match op.get("type").and_then(Value::as_str) {
                Some("create_file") => "Add File",
                Some("delete_file") => "Delete File",
                _ => "Update File",
            };
            let patch = format!("*** Begin Patch\n*** {header}: {path}\n{diff}\n*** End Patch\n");
            judge.call_with_id(id, "apply_patch", Args::Text(&patch))
        }
        // Screen control has no file or command semantics the policy can judge.
        _ => Decision::Allow,
    })
}

/// Names of the tools a request offers the model (for replace mode).
pub fn offered_tools(api: Api, body: &Value) -> Vec<&str> {
    let tools = body.get("tools").and_then(Value::as_array);
    tools
        .into_iter()
        .flatten()
        .filter_map(|t| match api {
            Api::Chat => t.pointer("/function/name").and_then(Value::as_str),
            Api::Anthropic => t.get("name").and_then(Value::as_str),
            // Responses items have other shapes per kind; replace mode falls back to a notice.
            Api::Responses => None,
        })
        .collect()
}

/// The tool calls of a request's latest assistant turn (the calls whose results the request
/// carries), then the text the client sends; the first block wins. Older calls were judged
/// when they were the latest, and what they produced is in the text judged here: judging them
/// again would lock a conversation for good after a policy change. `seen` holds the text
/// already judged and allowed.
pub fn judge_history(
    api: Api,
    judge: &Judge<'_>,
    body: &Value,
    seen: &super::outbound::Seen,
) -> Decision {
    let mut first_block = None;
    let mut visit = |d: Decision| {
        if first_block.is_none() && d.is_block() {
            first_block = Some(d);
        }
    };
    let list = |key: &str| {
        body.get(key)
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice)
    };
    match api {
        Api::Anthropic | Api::Chat => {
            let messages = list("messages");
            let last = messages
                .iter()
                .rev()
                .find(|m| m.get("role").and_then(Value::as_str) == Some("assistant"));
            if let Some(m) = last.filter(|_| api == Api::Anthropic) {
                for b in m
                    .get("content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if b.get("type").and_then(Value::as_str) == Some("tool_use") {
                        let name = b.get("name").and_then(Value::as_str).unwrap_or("");
                        let input = b.get("input").unwrap_or(&Value::Null);
                        let id = b.get("id").and_then(Value::as_str);
                        visit(judge.call_with_id(id, name, Args::Object(input)));
                    }
                }
            } else if let Some(m) = last {
                for c in m
                    .get("tool_calls")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    visit(judge_chat_call(judge, c));
                }
                if let Some(f) = m.get("function_call") {
                    visit(judge_chat_function(judge, None, f));
                }
            }
        }
        Api::Responses => {
            // Items after the last user message: the calls of the turn being answered.
            let input = list("input");
            let start = input
                .iter()
                .rposition(|i| {
                    i.get("type").and_then(Value::as_str).unwrap_or("message") == "message"
                        && i.get("role").and_then(Value::as_str) == Some("user")
                })
                .map_or(0, |k| k + 1);
            for item in input.get(start..).into_iter().flatten() {
                if let Some(d) = judge_responses_item(judge, item) {
                    visit(d);
                }
            }
        }
    }
    // What the request sends out (the user's words, tool results, anywhere in the history) is
    // judged as content, so content rules (secrets) stop it before it leaves the machine.
    first_block.unwrap_or_else(|| {
        super::outbound::judge_parts(judge, seen, &super::outbound::parts(api, body))
    })
}

fn judge_chat_call(judge: &Judge<'_>, c: &Value) -> Decision {
    let id = c.get("id").and_then(Value::as_str);
    if let Some(custom) = c.get("custom") {
        let name = custom.get("name").and_then(Value::as_str).unwrap_or("");
        let input = custom.get("input").and_then(Value::as_str).unwrap_or("");
        return judge.call_with_id(id, name, Args::Text(input));
    }
    judge_chat_function(judge, id, c.get("function").unwrap_or(&Value::Null))
}

fn judge_chat_function(judge: &Judge<'_>, id: Option<&str>, f: &Value) -> Decision {
    let name = f.get("name").and_then(Value::as_str).unwrap_or("");
    match f.get("arguments") {
        Some(Value::String(s)) => judge.call_with_id(id, name, Args::Encoded(s)),
        Some(v) => judge.call_with_id(id, name, Args::Object(v)),
        None => judge.call_with_id(id, name, Args::Encoded("")),
    }
}

/// Filters a complete (non-streaming) response in place; returns the rules that blocked.
pub fn filter_response(api: Api, judge: &Judge<'_>, body: &mut Value) -> Vec<String> {
    let mut blocked = Vec::new();
    match api {
        Api::Anthropic => {
            let Some(content) = body.get_mut("content").and_then(Value::as_array_mut) else {
                return blocked;
            };
            let mut tool_uses = 0;
            for b in content.iter_mut() {
                if b.get("type").and_then(Value::as_str) != Some("tool_use") {
                    continue;
                }
                let name = b.get("name").and_then(Value::as_str).unwrap_or("");
                let input = b.get("input").unwrap_or(&Value::Null);
                let id = b.get("id").and_then(Value::as_str);
                match judge.call_with_id(id, name, Args::Object(input)) {
                    Decision::Allow => tool_uses += 1,
                    Decision::Block { rule, notice } => {
                        match judge.replacement(&notice) {
                            Some((tool, args)) => {
                                set(b, "name", json!(tool));
                                set(b, "input", args);
                                tool_uses += 1;
                            }
                            None => *b = json!({ "type": "text", "text": notice }),
                        }
                        blocked.push(rule);
                    }
                }
            }
            if tool_uses == 0 && body.get("stop_reason").and_then(Value::as_str) == Some("tool_use")
            {
                set(body, "stop_reason", json!("end_turn"));
            }
        }
        Api::Chat => {
            for choice in body
                .get_mut("choices")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                let Some(msg) = choice.get_mut("message").and_then(Value::as_object_mut) else {
                    continue;
                };
                let mut notices = Vec::new();
                if let Some(Value::Array(calls)) = msg.get_mut("tool_calls") {
                    calls.retain_mut(|c| match judge_chat_call(judge, c) {
                        Decision::Allow => true,
                        Decision::Block { rule, notice } => {
                            blocked.push(rule);
                            match judge.replacement(&notice) {
                                Some((tool, args)) => {
                                    let id = c.get("id").cloned().unwrap_or(Value::Null);
                                    *c = json!({ "id": id, "type": "function", "function": { "name": tool, "arguments": args.to_string() } });
                                    true
                                }
                                None => {
                                    notices.push(notice);
                                    false
                                }
                            }
                        }
                    });
                }
                if let Some(f) = msg.get("function_call") {
                    if let Decision::Block { rule, notice } = judge_chat_function(judge, None, f) {
                        blocked.push(rule);
                        match judge.replacement(&notice) {
                            Some((tool, args)) => {
                                msg.insert(
                                    "function_call".into(),
                                    json!({ "name": tool, "arguments": args.to_string() }),
                                );
                            }
                            None => {
                                notices.push(notice);
                                msg.remove("function_call");
                            }
                        }
                    }
                }
                if notices.is_empty() {
                    continue;
                }
                // Never an empty tool-call array: clients echo it back and the API rejects it.
                let calls_left = msg
                    .get("tool_calls")
                    .and_then(Value::as_array)
                    .is_some_and(|c| !c.is_empty());
                if !calls_left {
                    msg.remove("tool_calls");
                }
                append_text(msg, &notices.join("\n"));
                let no_call = !calls_left && !msg.contains_key("function_call");
                if no_call {
                    if let Some(obj) = choice.as_object_mut() {
                        if matches!(
                            obj.get("finish_reason").and_then(Value::as_str),
                            Some("tool_calls" | "function_call")
                        ) {
                            obj.insert("finish_reason".into(), json!("stop"));
                        }
                    }
                }
            }
        }
        Api::Responses => {
            filter_responses_output(judge, body, &mut blocked, &Default::default());
        }
    }
    blocked
}

/// Decisions a stream already took on call items, by item id, with the item judged.
pub type Decided = std::collections::HashMap<String, (Value, Decision)>;

/// Replaces blocked call items of a Responses `output` with notice messages. `known` holds
/// the decisions a stream already took: an item equal to the one judged under its id is not
/// judged (or counted) again, while one that reuses the id for other content is; the rules of
/// new blocks are appended to `blocked`.
pub fn filter_responses_output(
    judge: &dyn Decider,
    response: &mut Value,
    blocked: &mut Vec<String>,
    known: &Decided,
) {
    let Some(output) = response.get_mut("output").and_then(Value::as_array_mut) else {
        return;
    };
    for item in output.iter_mut() {
        let id = item.get("id").and_then(Value::as_str).map(str::to_owned);
        let seen = id
            .as_ref()
            .and_then(|i| known.get(i))
            .filter(|(judged, _)| judged == item);
        let decision = match seen {
            Some((_, d)) => Some(d.clone()),
            None => {
                let d = judge_responses_item(judge, item);
                if let Some(Decision::Block { rule, .. }) = &d {
                    blocked.push(rule.clone());
                }
                d
            }
        };
        if let Some(Decision::Block { notice, .. }) = decision {
            let msg_id = id.map_or_else(|| "msg_crust".to_owned(), |i| format!("msg_crust_{i}"));
            *item = responses_message(&msg_id, &notice);
        }
    }
}

/// A completed assistant `message` item holding `text`.
pub fn responses_message(id: &str, text: &str) -> Value {
    json!({
        "type": "message",
        "id": id,
        "status": "completed",
        "role": "assistant",
        "content": [{ "type": "output_text", "text": text, "annotations": [] }],
    })
}

fn append_text(msg: &mut Map<String, Value>, text: &str) {
    match msg.get_mut("content") {
        Some(Value::String(s)) if !s.is_empty() => {
            s.push_str("\n\n");
            s.push_str(text);
        }
        Some(Value::Array(parts)) => parts.push(json!({ "type": "text", "text": text })),
        _ => {
            msg.insert("content".into(), json!(text));
        }
    }
}

/// A whole answer in the API's own format, for a request refused before any upstream call.
pub fn synthetic_json(api: Api, model: &str, text: &str) -> Value {
    match api {
        Api::Anthropic => json!({
            "id": "msg_crust_blocked",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{ "type": "text", "text": text }],
            "stop_reason": "end_turn",
            "stop_sequence": null,
            "usage": { "input_tokens": 0, "output_tokens": 0 },
        }),
        Api::Chat => json!({
            "id": "chatcmpl-crust-blocked",
            "object": "chat.completion",
            "created": now(),
            "model": model,
            "choices": [{
                "index": 0,
                "finish_reason": "stop",
                "message": { "role": "assistant", "content": text },
            }],
            "usage": { "prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0 },
        }),
        Api::Responses => json!({
            "id": "resp_crust_blocked",
            "object": "response",
            "created_at": now(),
            "status": "completed",
            "model": model,
            "output": [responses_message("msg_crust_blocked", text)],
            "usage": { "input_tokens": 0, "output_tokens": 0, "total_tokens": 0 },
        }),
    }
}

/// The same answer as a complete event stream.
pub fn synthetic_sse(api: Api, model: &str, text: &str) -> String {
    let mut out = String::new();
    let mut ev = |name: Option<&str>, data: &Value| {
        if let Some(n) = name {
            out.push_str("event: ");
            out.push_str(n);
            out.push('\n');
        }
        out.push_str("data: ");
        out.push_str(&data.to_string());
        out.push_str("\n\n");
    };
    match api {
        Api::Anthropic => {
            let mut start = synthetic_json(api, model, text);
            set(&mut start, "content", json!([]));
            set(&mut start, "stop_reason", Value::Null);
            ev(
                Some("message_start"),
                &json!({ "type": "message_start", "message": start }),
            );
            for e in anthropic_text_block(0, text) {
                ev(e.get("type").and_then(Value::as_str), &e);
            }
            ev(
                Some("message_delta"),
                &json!({ "type": "message_delta", "delta": { "stop_reason": "end_turn", "stop_sequence": null }, "usage": { "output_tokens": 0 } }),
            );
            ev(Some("message_stop"), &json!({ "type": "message_stop" }));
        }
        Api::Chat => {
            let base = json!({ "id": "chatcmpl-crust-blocked", "object": "chat.completion.chunk", "created": now(), "model": model });
            let mut c1 = base.clone();
            set(
                &mut c1,
                "choices",
                json!([{ "index": 0, "delta": { "role": "assistant", "content": text }, "finish_reason": null }]),
            );
            ev(None, &c1);
            let mut c2 = base;
            set(
                &mut c2,
                "choices",
                json!([{ "index": 0, "delta": {}, "finish_reason": "stop" }]),
            );
            ev(None, &c2);
            out.push_str("data: [DONE]\n\n");
        }
        Api::Responses => {
            let done = synthetic_json(api, model, text);
            let mut created = done.clone();
            set(&mut created, "status", json!("in_progress"));
            set(&mut created, "output", json!([]));
            let mut seq = 0u64;
            let mut next = |mut e: Value| {
                set(&mut e, "sequence_number", json!(seq));
                seq += 1;
                e
            };
            ev(
                Some("response.created"),
                &next(json!({ "type": "response.created", "response": created })),
            );
            for e in responses_message_events(0, "msg_crust_blocked", text) {
                let e = next(e);
                ev(e.get("type").and_then(Value::as_str), &e);
            }
            ev(
                Some("response.completed"),
                &next(json!({ "type": "response.completed", "response": done })),
            );
        }
    }
    out
}

/// The events of one Anthropic text block at `index`.
pub fn anthropic_text_block(index: u64, text: &str) -> Vec<Value> {
    vec![
        json!({ "type": "content_block_start", "index": index, "content_block": { "type": "text", "text": "" } }),
        json!({ "type": "content_block_delta", "index": index, "delta": { "type": "text_delta", "text": text } }),
        json!({ "type": "content_block_stop", "index": index }),
    ]
}

/// The events of one Responses message item at `output_index` (without sequence numbers).
pub fn responses_message_events(output_index: u64, id: &str, text: &str) -> Vec<Value> {
    let mut added = responses_message(id, text);
    set(&mut added, "status", json!("in_progress"));
    set(&mut added, "content", json!([]));
    let part = json!({ "type": "output_text", "text": "", "annotations": [] });
    let done_part = json!({ "type": "output_text", "text": text, "annotations": [] });
    vec![
        json!({ "type": "response.output_item.added", "output_index": output_index, "item": added }),
        json!({ "type": "response.content_part.added", "item_id": id, "output_index": output_index, "content_index": 0, "part": part }),
        json!({ "type": "response.output_text.delta", "item_id": id, "output_index": output_index, "content_index": 0, "delta": text }),
        json!({ "type": "response.output_text.done", "item_id": id, "output_index": output_index, "content_index": 0, "text": text }),
        json!({ "type": "response.content_part.done", "item_id": id, "output_index": output_index, "content_index": 0, "part": done_part }),
        json!({ "type": "response.output_item.done", "output_index": output_index, "item": responses_message(id, text) }),
    ]
}

/// Sets a key of a JSON object (a no-op on anything else).
pub fn set(v: &mut Value, key: &str, x: Value) {
    if let Some(o) = v.as_object_mut() {
        o.insert(key.to_owned(), x);
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The agent's working directory where it states it: Claude Code's environment block
/// (`Working directory: /x`) and Codex's `<cwd>/x</cwd>`. The last statement wins.
pub fn agent_cwd(body: &Value) -> Option<String> {
    let mut found = None;
    let mut scan = |text: &str| {
        for (marker, end) in [("Working directory: ", "\n"), ("<cwd>", "</cwd>")] {
            if let Some(i) = text.rfind(marker) {
                let rest = text.get(i + marker.len()..).unwrap_or("");
                let dir = rest.split(end).next().unwrap_or("").trim();
                if dir.starts_with('/') && !dir.contains('\0') {
                    found = Some(dir.to_owned());
                }
            }
        }
    };
    walk_text(body, 0, &mut scan);
    found
}

/// Every string in the system prompt, instructions and messages (not tool results, which an
/// attacker could fill).
fn walk_text(v: &Value, depth: usize, f: &mut impl FnMut(&str)) {
    if depth > 6 {
        return;
    }
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                match (k.as_str(), x) {
                    ("system" | "instructions" | "text" | "content", Value::String(s)) => f(s),
                    ("system" | "messages" | "input" | "content", _) => walk_text(x, depth + 1, f),
                    _ => {}
                }
            }
        }
        Value::Array(a) => {
            for x in a {
                let is_result = matches!(
                    x.get("type").and_then(Value::as_str),
                    Some("tool_result" | "function_call_output" | "custom_tool_call_output")
                ) || x.get("role").and_then(Value::as_str) == Some("tool");
                if !is_result {
                    walk_text(x, depth + 1, f);
                }
            }
        }
        _ => {}
    }
}
