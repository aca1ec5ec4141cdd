//! An SSE oracle: arbitrary bytes as an upstream event stream, cut into reads at points the
//! fuzzer chooses, through the proxy's parser and stream filter with the built-in policy; the
//! filtered stream is then read the way the official Python SDKs read it (their SSE decoder,
//! event names ignored where they ignore them, blocks and calls accumulated by index with
//! Python's list semantics) and every tool call found in it is judged again. A call the policy
//! blocks that reaches the client is a bypass and aborts, and so does output the SDKs could
//! not read as the filter meant it (a partial event, a tool input that is not whole JSON).
//!
//! Input: byte 0 picks the API (`% 3`: Anthropic, Chat, Responses) and whether the upstream
//! body ends with an error (`& 4`); byte 1 is the number of read boundaries (`% 16`), each
//! taken from the next two bytes (little-endian, modulo the stream's length); the rest is the
//! stream.
#![no_main]

use crust_fuzz::{bundle, CWD, HOME};
use crust_runtime::proxy::apis::{is_call_item, judge_responses_item};
use crust_runtime::proxy::judge::{Args, Decision, Judge};
use crust_runtime::proxy::sse::{self, Filter};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map, Value};

fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else {
        return;
    };
    let Some((&count, mut rest)) = rest.split_first() else {
        return;
    };
    let mut cuts = Vec::new();
    for _ in 0..count % 16 {
        let Some((pair, tail)) = rest.split_first_chunk::<2>() else {
            break;
        };
        cuts.push(usize::from(u16::from_le_bytes(*pair)));
        rest = tail;
    }
    let wire = rest;
    let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (wire.len() + 1)).collect();
    cuts.push(wire.len());
    cuts.sort_unstable();

    let own = crust_runtime::own::OwnFiles::default();
    let judge = Judge {
        bundle: bundle(),
        home: HOME,
        cwd: Some(CWD),
        substitute: None,
        own: &own,
        audit: None,
    };
    let api = head % 3;
    let mut filter: Box<dyn Filter> = match api {
        0 => Box::new(sse::Anthropic::new()),
        1 => Box::new(sse::Chat::new()),
        _ => Box::new(sse::Responses::new()),
    };

    // What the proxy's pump does with the upstream's reads.
    let mut parser = sse::Parser::default();
    let mut out = Vec::new();
    let mut events = Vec::new();
    let mut at = 0;
    let mut ended = if head & 4 != 0 {
        Err("the upstream connection failed".to_owned())
    } else {
        Ok(())
    };
    for cut in cuts {
        if filter.finished() {
            break;
        }
        if let Err(why) = parser.feed(&wire[at..cut], &mut events) {
            ended = Err(why);
            break;
        }
        for ev in events.drain(..) {
            filter.event(&judge, ev, &mut out);
        }
        at = cut;
    }
    if ended.is_ok() && parser.pending() {
        ended = Err("the upstream closed it in the middle of an event".into());
    }
    filter.end(&judge, ended, &mut out);

    // The client's side.
    let Ok(text) = std::str::from_utf8(&out) else {
        fail("the filter wrote bytes that are not UTF-8", wire, &out);
    };
    let events =
        sdk_events(text).unwrap_or_else(|| fail("the filter wrote a partial event", wire, &out));
    let calls = match api {
        0 => anthropic_calls(&events),
        1 => chat_calls(&events),
        _ => responses_calls(&events),
    };
    let calls = calls.unwrap_or_else(|why| fail(&why, wire, &out));
    for (name, args) in calls {
        let decision = match &args {
            Call::Object(v) => judge.call(&name, Args::Object(v)),
            Call::Encoded(s) => judge.call(&name, Args::Encoded(s)),
            Call::Text(s) => judge.call(&name, Args::Text(s)),
            Call::Item(item) => judge_responses_item(&judge, item).unwrap_or(Decision::Allow),
        };
        if let Decision::Block { rule, .. } = decision {
            fail(
                &format!("the client holds `{name}` {args:?}, which {rule} blocks"),
                wire,
                &out,
            );
        }
    }
});

fn fail(why: &str, wire: &[u8], out: &[u8]) -> ! {
    eprintln!(
        "BYPASS: {why}\n--- upstream:\n{}\n--- client:\n{}",
        String::from_utf8_lossy(wire),
        String::from_utf8_lossy(out)
    );
    std::process::abort()
}

/// A tool call as the client holds it.
#[derive(Debug)]
enum Call {
    Object(Value),
    Encoded(String),
    Text(String),
    /// A Responses output item.
    Item(Value),
}

/// The SDKs' SSE decoder (`_streaming.py`): lines split at `\r`, `\n` or `\r\n`, an event
/// dispatched at a blank line when it has a name or data. `None` when the text ends inside an
/// event (the proxy always ends what it writes).
fn sdk_events(text: &str) -> Option<Vec<(Option<String>, String)>> {
    let mut events = Vec::new();
    let mut name: Option<String> = None;
    let mut data: Vec<&str> = Vec::new();
    let mut lines = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(['\r', '\n']) {
        lines.push(&rest[..i]);
        let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
        rest = &rest[i + skip..];
    }
    if !rest.is_empty() {
        return None;
    }
    for line in lines {
        if line.is_empty() {
            if name.is_some() || !data.is_empty() {
                events.push((name.take(), data.join("\n")));
                data.clear();
            }
            continue;
        }
        if line.starts_with(':') {
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => name = Some(value.to_owned()).filter(|n| !n.is_empty()),
            "data" => data.push(value),
            _ => {}
        }
    }
    (name.is_none() && data.is_empty()).then_some(events)
}

/// A Python list index: negative counts from the end.
fn py_index(len: usize, i: &Value) -> Option<usize> {
    let i = i.as_i64()?;
    let len = i64::try_from(len).ok()?;
    let k = if i < 0 { len + i } else { i };
    usize::try_from(k).ok().filter(|k| (*k as i64) < len)
}

/// The anthropic SDK (`MessageStream`, `accumulate_event`): every tool_use block the final
/// message holds, including those the stream held before the SDK raised.
fn anthropic_calls(events: &[(Option<String>, String)]) -> Result<Vec<(String, Call)>, String> {
    let mut content: Option<Vec<Value>> = None;
    let mut bufs: Map<String, Value> = Map::new();
    for (name, data) in events {
        match name.as_deref() {
            None | Some("ping") => continue,
            Some("error") => break,
            Some(_) => {}
        }
        if data.is_empty() {
            continue;
        }
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            break; // the SDK raises
        };
        let kind = v.get("type").and_then(Value::as_str).unwrap_or("");
        let Some(blocks) = content.as_mut() else {
            if kind != "message_start" {
                break; // "Unexpected event order": the SDK raises
            }
            let start = v
                .pointer("/message/content")
                .and_then(Value::as_array)
                .cloned();
            content = Some(start.unwrap_or_default());
            continue;
        };
        match kind {
            "content_block_start" => {
                blocks.push(v.get("content_block").cloned().unwrap_or(Value::Null))
            }
            "content_block_delta" => {
                let Some(k) = v.get("index").and_then(|i| py_index(blocks.len(), i)) else {
                    break; // IndexError
                };
                let block = &mut blocks[k];
                let tracks = matches!(
                    block.get("type").and_then(Value::as_str),
                    Some("tool_use" | "server_tool_use")
                );
                if v.pointer("/delta/type").and_then(Value::as_str) == Some("input_json_delta")
                    && tracks
                {
                    let piece = v
                        .pointer("/delta/partial_json")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    let key = k.to_string();
                    let mut buf = bufs
                        .get(&key)
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned();
                    buf.push_str(piece);
                    if !buf.is_empty() {
                        match serde_json::from_str::<Value>(&buf) {
                            Ok(input) => block["input"] = input,
                            // Provider tools stream their input in pieces; a call the client
                            // runs must reach it whole.
                            Err(_) if block["type"] == "tool_use" => {
                                return Err(format!("tool input that is not whole JSON: {buf}"));
                            }
                            Err(_) => {}
                        }
                    }
                    bufs.insert(key, json!(buf));
                }
            }
            "content_block_stop" => {
                if v.get("index")
                    .and_then(|i| py_index(blocks.len(), i))
                    .is_none()
                {
                    break;
                }
            }
            _ => {}
        }
    }
    Ok(content
        .unwrap_or_default()
        .into_iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("tool_use"))
        .map(|b| {
            let name = b
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            (
                name,
                Call::Object(b.get("input").cloned().unwrap_or(json!({}))),
            )
        })
        .collect())
}

/// The openai SDK's `accumulate_delta` (`lib/streaming/_deltas.py`): strings concatenate,
/// `index` and `type` overwrite, lists of dicts with an `index` merge by it (Python indexing,
/// inserting past the end).
fn accumulate_delta(
    acc: &mut Map<String, Value>,
    delta: &Map<String, Value>,
) -> Result<(), String> {
    for (key, d) in delta {
        let indexed = |v: &Value| {
            v.as_array()
                .is_some_and(|a| a.iter().any(|e| e.get("index").is_some()))
        };
        if acc.get(key).is_none_or(Value::is_null) {
            if indexed(d) {
                acc.insert(key.clone(), json!([]));
            } else {
                acc.insert(key.clone(), d.clone());
                continue;
            }
        }
        if key == "index" || key == "type" {
            acc.insert(key.clone(), d.clone());
            continue;
        }
        let Some(a) = acc.get_mut(key) else { continue };
        match (a, d) {
            (Value::String(a), Value::String(d)) => a.push_str(d),
            (a @ Value::Number(_), Value::Number(d)) => {
                let sum = a.as_f64().unwrap_or(0.0) + d.as_f64().unwrap_or(0.0);
                *a = json!(sum);
            }
            (Value::Object(a), Value::Object(d)) => accumulate_delta(a, d)?,
            (Value::Array(a), Value::Array(d)) => {
                let scalars = a.iter().all(|x| x.is_string() || x.is_number());
                if scalars && (!a.is_empty() || !indexed(&Value::Array(d.clone()))) {
                    a.extend(d.iter().cloned());
                    continue;
                }
                for entry in d {
                    let Value::Object(e) = entry else {
                        return Err("TypeError".into()); // the SDK raises
                    };
                    let Some(i) = e.get("index").and_then(Value::as_i64) else {
                        return Err("no index".into());
                    };
                    match py_index(a.len(), &json!(i)) {
                        Some(k) => {
                            let Value::Object(slot) = &mut a[k] else {
                                return Err("TypeError".into());
                            };
                            accumulate_delta(slot, e)?;
                        }
                        None => {
                            // `list.insert`: clamped to the ends.
                            let len = a.len() as i64;
                            let at = if i < 0 { (len + i).max(0) } else { i.min(len) };
                            a.insert(at as usize, entry.clone());
                        }
                    }
                }
            }
            (a, d) => *a = d.clone(),
        }
    }
    Ok(())
}

/// The openai SDK's chat stream (`ChatCompletionStreamState`): every call in every choice's
/// message, including those accumulated before the SDK raised.
fn chat_calls(events: &[(Option<String>, String)]) -> Result<Vec<(String, Call)>, String> {
    let mut choices: Option<Vec<Map<String, Value>>> = None;
    for (name, data) in events {
        if name.is_some() {
            return Err("a chat event with an event name".into());
        }
        if data.starts_with("[DONE]") {
            break;
        }
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            break;
        };
        if v.get("error")
            .is_some_and(|e| !e.is_null() && e != &json!(false) && e != &json!(""))
        {
            break;
        }
        let Some(list) = v.get("choices").and_then(Value::as_array) else {
            continue;
        };
        let first = choices.is_none();
        let messages = choices.get_or_insert_with(Vec::new);
        if first {
            // `_convert_initial_chunk_into_snapshot`: choices placed by their index.
            let mut placed: Vec<Map<String, Value>> = vec![Map::new(); list.len()];
            for ch in list {
                let Some(k) = ch.get("index").and_then(|i| py_index(placed.len(), i)) else {
                    return Ok(Vec::new()); // IndexError before anything was accumulated
                };
                let mut m = Map::new();
                if let Some(Value::Object(d)) = ch.get("delta") {
                    if accumulate_delta(&mut m, d).is_err() {
                        return Ok(Vec::new());
                    }
                }
                placed[k] = m;
            }
            *messages = placed;
            continue;
        }
        for ch in list {
            let delta = ch
                .get("delta")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let k = ch.get("index").and_then(|i| py_index(messages.len(), i));
            let result = match k {
                Some(k) => accumulate_delta(&mut messages[k], &delta),
                None => {
                    let mut m = Map::new();
                    let r = accumulate_delta(&mut m, &delta);
                    messages.push(m);
                    r
                }
            };
            if result.is_err() {
                break;
            }
        }
    }
    let mut calls = Vec::new();
    for m in choices.unwrap_or_default() {
        for tc in m
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(c) = tc.get("custom") {
                let name = c
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                let input = c
                    .get("input")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                calls.push((name, Call::Text(input)));
            } else if let Some(f) = tc.get("function") {
                calls.push(chat_function(f));
            }
        }
        if let Some(f) = m.get("function_call") {
            calls.push(chat_function(f));
        }
    }
    Ok(calls)
}

fn chat_function(f: &Value) -> (String, Call) {
    let name = f
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    match f.get("arguments") {
        Some(Value::String(s)) => (name, Call::Encoded(s.clone())),
        Some(v) => (name, Call::Object(v.clone())),
        None => (name, Call::Encoded(String::new())),
    }
}

/// The openai SDK's responses stream and Codex: the call items of `output_item.added` (with
/// the argument deltas the snapshot adds to them), of `output_item.done`, and of any event's
/// `response.output`.
fn responses_calls(events: &[(Option<String>, String)]) -> Result<Vec<(String, Call)>, String> {
    let mut items: Vec<Value> = Vec::new();
    let mut snapshot: std::collections::BTreeMap<i64, Value> = Default::default();
    for (_, data) in events {
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            break;
        };
        let index = v.get("output_index").and_then(Value::as_i64);
        match v.get("type").and_then(Value::as_str).unwrap_or("") {
            "response.output_item.added" => {
                if let (Some(i), Some(item)) = (index, v.get("item").filter(|x| x.is_object())) {
                    snapshot.insert(i, item.clone());
                }
            }
            "response.function_call_arguments.delta" | "response.custom_tool_call_input.delta" => {
                let key = if v["type"] == "response.function_call_arguments.delta" {
                    "arguments"
                } else {
                    "input"
                };
                if let Some(item) = index.and_then(|i| snapshot.get_mut(&i)) {
                    let mut text = item
                        .get(key)
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned();
                    text.push_str(v.get("delta").and_then(Value::as_str).unwrap_or(""));
                    item[key] = json!(text);
                }
            }
            "response.output_item.done" => items.extend(v.get("item").cloned()),
            _ => {}
        }
        if let Some(out) = v.pointer("/response/output").and_then(Value::as_array) {
            items.extend(out.iter().cloned());
        }
    }
    items.extend(snapshot.into_values());
    Ok(items
        .into_iter()
        .filter(|i| {
            i.get("type")
                .and_then(Value::as_str)
                .is_some_and(is_call_item)
        })
        .map(|i| {
            let name = i
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            (name, Call::Item(i))
        })
        .collect())
}
