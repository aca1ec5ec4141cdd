//! What a request sends out, judged before it leaves: the text of every message a client
//! sends (wherever it sits in the history), the strings of any other JSON body, the bytes of
//! any other body. One rule for what cannot be parsed: it is refused, never forwarded unseen.
//!
//! A conversation re-sends its whole history with every turn, so text judged and allowed once
//! is remembered (by hash, per bundle) and not judged again; text that was refused is never
//! remembered, so it is refused every time it is sent, not only on the turn it first appeared.

use super::apis::Api;
use super::judge::{Args, Decision, Judge, OUTBOUND_TAIL};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::Mutex;

/// The pseudo tool under which outbound request text is judged (`tool is "crust:outbound"`
/// in a rule narrows a content rule to it).
pub const OUTBOUND_TOOL: &str = "crust:outbound";

/// One piece of outbound text and where it sits in the request (for the refusal message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub place: String,
    pub text: String,
}

/// Deepest nesting of message content that is searched for text.
const CONTENT_DEPTH: usize = 32;

/// Every piece of text the client itself sends in a request of a known API: system prompts,
/// the user's messages and tool results anywhere in the history. The model's own turns are
/// left out: they came from the provider.
pub fn parts(api: Api, body: &Value) -> Vec<Part> {
    let mut out = Vec::new();
    let mut push = |place: String, v: &Value| {
        let mut text = String::new();
        collect_text(v, &mut text, 0);
        if !text.trim().is_empty() {
            out.push(Part { place, text });
        }
    };
    let list = |key: &str| {
        body.get(key)
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice)
    };
    match api {
        Api::Anthropic | Api::Chat => {
            if let Some(s) = body.get("system") {
                push("the system prompt".into(), s);
            }
            for (i, m) in list("messages").iter().enumerate() {
                let role = m.get("role").and_then(Value::as_str).unwrap_or("");
                if role == "assistant" {
                    continue;
                }
                if let Some(c) = m.get("content") {
                    push(format!("message {} ({role})", i + 1), c);
                }
            }
        }
        Api::Responses => {
            if let Some(s) = body.get("instructions") {
                push("the instructions".into(), s);
            }
            match body.get("input") {
                Some(Value::Array(items)) => {
                    for (i, item) in items.iter().enumerate() {
                        if from_model(item) {
                            continue;
                        }
                        for key in ["content", "output"] {
                            if let Some(c) = item.get(key) {
                                push(format!("input item {}", i + 1), c);
                            }
                        }
                    }
                }
                Some(v) => push("the input".into(), v),
                None => {}
            }
        }
    }
    out
}

/// Responses input items the model produced (its messages, calls, reasoning), as opposed to
/// what the client adds (user and developer messages, call outputs).
fn from_model(item: &Value) -> bool {
    let kind = item
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("message");
    match kind {
        "message" => item.get("role").and_then(Value::as_str) == Some("assistant"),
        k => !k.ends_with("_output"),
    }
}

/// Strings of a message content (a string, or blocks with `text` / `content` / `output`),
/// newline-joined. Base64 payloads of images and documents are not text and are skipped.
fn collect_text(v: &Value, out: &mut String, depth: usize) {
    if depth > CONTENT_DEPTH {
        return;
    }
    match v {
        Value::String(s) => {
            out.push_str(s);
            out.push('\n');
        }
        Value::Array(a) => a.iter().for_each(|x| collect_text(x, out, depth + 1)),
        Value::Object(o) => {
            for key in ["text", "content", "output", "input", "arguments"] {
                if let Some(x) = o.get(key) {
                    collect_text(x, out, depth + 1);
                }
            }
        }
        _ => {}
    }
}

/// Every string of a JSON body, object keys included, newline-joined: how a body of a shape
/// Crust has no adapter for is judged.
pub fn all_strings(v: &Value) -> String {
    let mut out = String::new();
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) => {
                out.push_str(s);
                out.push('\n');
            }
            Value::Array(a) => stack.extend(a.iter().rev()),
            Value::Object(o) => {
                for (k, x) in o.iter().rev() {
                    stack.push(x);
                    out.push_str(k);
                    out.push('\n');
                }
            }
            _ => {}
        }
    }
    out
}

/// Hashes of outbound text that a bundle allowed, in two generations so the set stays bounded
/// (when the newer one fills, the older is dropped and the newer takes its place).
#[derive(Default)]
pub struct Seen {
    sets: Mutex<[HashSet<u128>; 2]>,
}

/// Entries per generation: a long session's history is a few thousand parts.
const SEEN_GENERATION: usize = 1 << 16;

impl Seen {
    fn key(checksum: u64, text: &str) -> u128 {
        xxhash_rust::xxh3::xxh3_128_with_seed(text.as_bytes(), checksum)
    }

    fn contains(&self, key: u128) -> bool {
        self.sets
            .lock()
            .is_ok_and(|s| s.iter().any(|g| g.contains(&key)))
    }

    fn insert(&self, key: u128) {
        if let Ok(mut s) = self.sets.lock() {
            let [old, new] = &mut *s;
            if new.len() >= SEEN_GENERATION {
                *old = std::mem::take(new);
            }
            new.insert(key);
        }
    }
}

/// Judges the parts not judged before as one text; on a block, finds the part that holds what
/// was refused so the notice can say which message to remove.
pub fn judge_parts(judge: &Judge<'_>, seen: &Seen, parts: &[Part]) -> Decision {
    let checksum = judge.bundle.checksum();
    let fresh: Vec<(&Part, u128)> = parts
        .iter()
        .map(|p| (p, Seen::key(checksum, &p.text)))
        .filter(|(_, k)| !seen.contains(*k))
        .collect();
    if fresh.is_empty() {
        return Decision::Allow;
    }
    let mut text = String::new();
    for (p, _) in &fresh {
        text.push_str(&p.text);
    }
    match judge.call(OUTBOUND_TOOL, Args::Object(&json!({ "text": text }))) {
        Decision::Allow => {
            for (_, k) in &fresh {
                seen.insert(*k);
            }
            Decision::Allow
        }
        Decision::Block { rule, notice } => {
            // Located without recording: the joined text's decision is the one in the log.
            let quiet = Judge {
                audit: None,
                ..*judge
            };
            let place = fresh.iter().find_map(|(p, _)| {
                quiet
                    .call(OUTBOUND_TOOL, Args::Object(&json!({ "text": p.text })))
                    .is_block()
                    .then_some(p.place.as_str())
            });
            Decision::Block {
                notice: refusal(&notice, place),
                rule,
            }
        }
    }
}

/// The notice with the place of what was refused put in before its closing advice.
fn refusal(notice: &str, place: Option<&str>) -> String {
    let place = place.unwrap_or("the text this request sends");
    match notice.strip_suffix(OUTBOUND_TAIL) {
        Some(head) => format!("{head}It was found in {place}. {OUTBOUND_TAIL}"),
        None => notice.to_owned(),
    }
}

/// How a request body of a path without an adapter is judged, or why it cannot be.
pub enum Body {
    /// No bytes: nothing leaves.
    Empty,
    /// The text to judge.
    Text(String),
}

/// The text a body without an adapter sends: every string of a JSON body, the bytes of any
/// other (multipart uploads, plain text). A body that says it is JSON, or looks like it, and
/// does not parse is refused: a lenient upstream might read what Crust could not.
pub fn body_text(content_type: &str, body: &[u8]) -> Result<Body, String> {
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map_or(&[][..], |i| body.get(i..).unwrap_or(&[]));
    if start.is_empty() {
        return Ok(Body::Empty);
    }
    let json_like = content_type.to_ascii_lowercase().contains("json")
        || matches!(start.first(), Some(b'{' | b'[' | b'"'))
        || start.starts_with(b"\xEF\xBB\xBF");
    if json_like {
        let v = parse(body)?;
        return Ok(Body::Text(all_strings(&v)));
    }
    Ok(Body::Text(String::from_utf8_lossy(body).into_owned()))
}

/// The one way request bodies are parsed: strict JSON. What serde_json refuses (a lone
/// surrogate, nesting deeper than 128, NaN, a byte-order mark, trailing bytes, invalid UTF-8)
/// is refused with the reason, since other parsers accept some of it and would read text
/// Crust never judged.
pub fn parse(body: &[u8]) -> Result<Value, String> {
    serde_json::from_slice::<Value>(body)
        .map_err(|e| format!("the request body is not valid JSON ({e}), so it cannot be inspected"))
}

/// A request path in the form used to decide whether and how it is inspected: percent-escapes
/// decoded, `;parameters`, empty and `.` segments dropped, `..` resolved, lowercase, no
/// trailing slash. Upstreams differ in how they read odd spellings, so the proxy judges every
/// spelling that could mean a known endpoint as that endpoint.
pub fn canonical_path(raw: &str) -> String {
    let decoded = percent_decode(raw);
    let mut segments: Vec<&str> = Vec::new();
    for seg in decoded.split('/') {
        let seg = seg.split(';').next().unwrap_or("");
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(decoded.len() + 1);
    for s in segments {
        out.push('/');
        out.push_str(s);
    }
    if out.is_empty() {
        out.push('/');
    }
    out.to_ascii_lowercase()
}

/// `%XX` escapes decoded (repeatedly, so a double encoding cannot hide a letter); invalid
/// escapes are kept as written.
fn percent_decode(s: &str) -> String {
    let mut cur = s.to_owned();
    for _ in 0..4 {
        if !cur.contains('%') {
            break;
        }
        let bytes = cur.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while let Some(&b) = bytes.get(i) {
            let hex = |j: usize| bytes.get(j).and_then(|c| (*c as char).to_digit(16));
            match (b, hex(i + 1), hex(i + 2)) {
                (b'%', Some(h), Some(l)) => {
                    out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                    i += 3;
                }
                _ => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        let next = String::from_utf8_lossy(&out).into_owned();
        if next == cur {
            break;
        }
        cur = next;
    }
    cur
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_spellings_of_a_path_are_read_as_the_endpoint() {
        for raw in [
            "/v1/messages",
            "/v1/Messages",
            "/v1/m%65ssages",
            "/v1/m%2565ssages",
            "/v1/messages/.",
            "/v1/messages;x",
            "/v1//messages/",
            "/v1/x/../messages",
            "/V1/MESSAGES",
        ] {
            assert_eq!(canonical_path(raw), "/v1/messages", "{raw}");
        }
        assert_eq!(
            canonical_path("/v1/chat/completions%2F"),
            "/v1/chat/completions"
        );
        assert_eq!(canonical_path("/v1/%zz"), "/v1/%zz");
        assert_eq!(canonical_path("/"), "/");
        assert_eq!(canonical_path("/../.."), "/");
    }

    #[test]
    fn every_string_of_an_unknown_body_is_judged_keys_included() {
        let v = json!({"a": ["x", {"k": "y"}], "n": 1, "sk_live_key": null});
        let s = all_strings(&v);
        for want in ["a", "x", "k", "y", "sk_live_key", "n"] {
            assert!(s.lines().any(|l| l == want), "{want} in {s:?}");
        }
    }

    #[test]
    fn bodies_that_look_like_json_must_parse() {
        let bad: [&[u8]; 6] = [
            br#"{"a": "\ud800"}"#,
            b"{\"a\": NaN}",
            b"\xEF\xBB\xBF{\"a\": 1}",
            b"{\"a\": 1} x",
            b"{\"a\": \"\xff\"}",
            b"deep",
        ];
        let deep = format!("{{\"a\": {}{}}}", "[".repeat(200), "]".repeat(200));
        for b in bad
            .into_iter()
            .map(|b| if b == b"deep" { deep.as_bytes() } else { b })
        {
            assert!(
                body_text("application/json", b).is_err(),
                "{:?}",
                String::from_utf8_lossy(b)
            );
            assert!(
                body_text("", b).is_err(),
                "{:?}",
                String::from_utf8_lossy(b)
            );
        }
        assert!(matches!(
            body_text("application/json", b"  "),
            Ok(Body::Empty)
        ));
        assert!(matches!(body_text("text/plain", b"hello"), Ok(Body::Text(t)) if t == "hello"));
    }

    #[test]
    fn parts_cover_the_whole_history_but_not_the_models_turns() {
        let body = json!({
            "system": "be brief",
            "messages": [
                {"role": "user", "content": "first"},
                {"role": "assistant", "content": [{"type": "text", "text": "model text"}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "tool out"}]}]},
            ]
        });
        let p = parts(Api::Anthropic, &body);
        let texts: Vec<&str> = p.iter().map(|p| p.text.trim()).collect();
        assert_eq!(texts, ["be brief", "first", "tool out"]);
        assert_eq!(p.get(2).map(|p| p.place.as_str()), Some("message 3 (user)"));
        let body = json!({
            "instructions": "i",
            "input": [
                {"role": "user", "content": "u"},
                {"type": "function_call", "name": "shell", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c", "output": "o"},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "a"}]},
            ]
        });
        let texts: Vec<String> = parts(Api::Responses, &body)
            .into_iter()
            .map(|p| p.text.trim().to_owned())
            .collect();
        assert_eq!(texts, ["i", "u", "o"]);
    }
}
