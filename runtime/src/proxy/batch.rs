//! Batch APIs: many requests in one body, many answers in one JSON-lines file. Each request
//! of a batch is judged like a single request, and each answer line like a single answer, so
//! a batch is no way around the policy.
//!
//! - Anthropic: `POST /v1/messages/batches` (`requests[].params` are Messages requests) and
//!   `GET /v1/messages/batches/{id}/results` (lines whose `result.message` is a Message).
//!   A batch object names its results by an absolute `results_url` on the provider's host,
//!   which SDKs fetch as given: the proxy points it back at itself, or the results would
//!   bypass it.
//! - OpenAI: batch input files, `POST /v1/files` with `purpose=batch` (multipart; lines whose
//!   `body` is a Chat Completions or Responses request), and batch output files,
//!   `GET /v1/files/{id}/content` (lines whose `response.body` is a Chat Completion or a
//!   Response). Other files fetched there are not answers and pass
//!   as they are; a file that starts as batch output must be batch output to the end.

use super::apis::{self, Api};
use super::judge::{Decision, Judge};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batch {
    /// `POST /v1/messages/batches`.
    AnthropicCreate,
    /// `GET /v1/messages/batches/{id}` and `GET /v1/messages/batches`: batch objects.
    AnthropicObject,
    /// `GET /v1/messages/batches/{id}/results`.
    AnthropicResults,
    /// `GET /v1/files/{id}/content`.
    FileContent,
    /// `POST /v1/files`: judged when its purpose is `batch`.
    FileUpload,
}

impl Batch {
    /// The batch endpoint a request path (query removed) belongs to.
    pub fn classify(method: &hyper::Method, path: &str) -> Option<Batch> {
        let path = path.trim_end_matches('/');
        if method == hyper::Method::POST && path.ends_with("/messages/batches") {
            return Some(Batch::AnthropicCreate);
        }
        if method == hyper::Method::POST && path.ends_with("/files") {
            return Some(Batch::FileUpload);
        }
        if method != hyper::Method::GET {
            return None;
        }
        let (parent, last) = path.rsplit_once('/')?;
        if path.ends_with("/messages/batches") || parent.ends_with("/messages/batches") {
            return Some(Batch::AnthropicObject);
        }
        let (grand, id) = parent.rsplit_once('/')?;
        if id.is_empty() {
            return None;
        }
        match last {
            "results" if grand.ends_with("/messages/batches") => Some(Batch::AnthropicResults),
            "content" if grand.ends_with("/files") => Some(Batch::FileContent),
            _ => None,
        }
    }

    /// The API whose error shape answers for this endpoint.
    pub fn api(self) -> Api {
        match self {
            Batch::AnthropicCreate | Batch::AnthropicObject | Batch::AnthropicResults => {
                Api::Anthropic
            }
            Batch::FileContent | Batch::FileUpload => Api::Chat,
        }
    }

    /// Whether the upstream's answer holds model answers to judge.
    pub fn has_answers(self) -> bool {
        matches!(self, Batch::AnthropicResults | Batch::FileContent)
    }

    /// Whether the upstream's answer holds batch objects whose `results_url` is rewritten.
    pub fn has_batch_objects(self) -> bool {
        matches!(self, Batch::AnthropicCreate | Batch::AnthropicObject)
    }
}

/// Points every `results_url` of a batch object (or a list of them, under `data`) at
/// `origin` (`http://host:port` of the proxy), keeping path and query.
pub fn rewrite_results_urls(v: &mut Value, origin: &str) {
    let mut one = |b: &mut Value| {
        let Some(url) = b.get("results_url").and_then(Value::as_str) else {
            return;
        };
        let rest = url.split_once("://").map_or(url, |(_, r)| r);
        let path = rest.find('/').and_then(|i| rest.get(i..)).unwrap_or("/");
        let new = format!("{origin}{path}");
        if let Some(m) = b.as_object_mut() {
            m.insert("results_url".into(), Value::String(new));
        }
    };
    match v.get_mut("data").and_then(Value::as_array_mut) {
        Some(list) => list.iter_mut().for_each(&mut one),
        None => one(v),
    }
}

/// The first request of an Anthropic batch that the policy blocks, with its `custom_id`.
pub fn judge_requests(judge: &Judge<'_>, body: &Value) -> Option<(String, Decision)> {
    let requests = body.get("requests")?.as_array()?;
    for r in requests {
        let Some(params) = r.get("params") else {
            continue;
        };
        let d = apis::judge_history(Api::Anthropic, judge, params, &Default::default());
        if d.is_block() {
            let id = r.get("custom_id").and_then(Value::as_str).unwrap_or("?");
            return Some((id.to_owned(), d));
        }
    }
    None
}

/// The first request of an OpenAI batch input file (an upload with `purpose=batch`) that the
/// policy blocks, with its `custom_id`. Other uploads are not batches: `Ok(None)`. An upload
/// that says it is a batch but cannot be read is an error.
pub fn judge_upload<'j>(
    judge: &dyn Fn(Api) -> Judge<'j>,
    content_type: &str,
    body: &[u8],
) -> Result<Option<(String, Decision)>, String> {
    let Some(boundary) = multipart_boundary(content_type) else {
        return Ok(None);
    };
    let parts = multipart_parts(body, boundary)?;
    let field = |name: &str| parts.iter().find(|(n, _)| n == name).map(|(_, c)| *c);
    if field("purpose").map(<[u8]>::trim_ascii) != Some(b"batch".as_slice()) {
        return Ok(None);
    }
    let file = field("file").ok_or("the batch upload has no `file` part")?;
    for (n, raw) in file.split(|&b| b == b'\n').enumerate() {
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let line: Value = serde_json::from_slice(raw)
            .map_err(|e| format!("line {} of the batch file is not JSON: {e}", n + 1))?;
        let url = line.get("url").and_then(Value::as_str).unwrap_or("");
        let api = if url.ends_with("/chat/completions") {
            Api::Chat
        } else if url.ends_with("/responses") {
            Api::Responses
        } else {
            // A request of a shape without an adapter: its strings are judged as outbound text.
            let text = super::outbound::all_strings(line.get("body").unwrap_or(&Value::Null));
            let part = super::outbound::Part {
                place: "the request body".into(),
                text,
            };
            let d = super::outbound::judge_parts(&judge(Api::Chat), &Default::default(), &[part]);
            if d.is_block() {
                let id = line.get("custom_id").and_then(Value::as_str).unwrap_or("?");
                return Ok(Some((id.to_owned(), d)));
            }
            continue;
        };
        let Some(request) = line.get("body") else {
            continue;
        };
        let d = apis::judge_history(api, &judge(api), request, &Default::default());
        if d.is_block() {
            let id = line.get("custom_id").and_then(Value::as_str).unwrap_or("?");
            return Ok(Some((id.to_owned(), d)));
        }
    }
    Ok(None)
}

/// The boundary of a `multipart/form-data` body.
fn multipart_boundary(content_type: &str) -> Option<&str> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"'))
            .filter(|b| !b.is_empty())
    })
}

/// The named parts of a multipart body: (field name, content).
fn multipart_parts<'b>(body: &'b [u8], boundary: &str) -> Result<Vec<(String, &'b [u8])>, String> {
    let delim = format!("--{boundary}");
    let next_delim = format!("\r\n--{boundary}");
    let bad = |what: &str| format!("the multipart body is malformed: {what}");
    let mut pos = find(body, delim.as_bytes(), 0).ok_or_else(|| bad("no boundary"))? + delim.len();
    let mut out = Vec::new();
    loop {
        let rest = body.get(pos..).ok_or_else(|| bad("it ends early"))?;
        if rest.starts_with(b"--") {
            return Ok(out);
        }
        let start = pos
            + if rest.starts_with(b"\r\n") {
                2
            } else {
                return Err(bad("a boundary is not followed by a line break"));
            };
        let head_end =
            find(body, b"\r\n\r\n", start).ok_or_else(|| bad("a part has no end of headers"))?;
        let head = String::from_utf8_lossy(body.get(start..head_end).unwrap_or(&[]));
        let content_start = head_end + 4;
        let end = find(body, next_delim.as_bytes(), content_start)
            .ok_or_else(|| bad("a part is not terminated"))?;
        let name = head
            .lines()
            .find(|l| {
                l.get(..20)
                    .is_some_and(|h| h.eq_ignore_ascii_case("content-disposition:"))
            })
            .and_then(|l| l.split(';').find_map(|p| p.trim().strip_prefix("name=")))
            .map(|n| n.trim_matches('"').to_owned())
            .unwrap_or_default();
        out.push((name, body.get(content_start..end).unwrap_or(&[])));
        pos = end + next_delim.len();
    }
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len().max(1))
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// What filtering a results file did: the new body when something was blocked, and the rules.
pub struct Filtered {
    pub body: Option<Vec<u8>>,
    pub blocked: Vec<String>,
}

/// Judges every answer line of a results file. `judge` gives the judge for an API (audit
/// records name the API of each answer). A line that is not JSON, in a file of answers, is an
/// error: the file cannot be inspected.
pub fn filter_results<'j>(
    batch: Batch,
    judge: &dyn Fn(Api) -> Judge<'j>,
    bytes: &[u8],
) -> Result<Filtered, String> {
    let mut lines: Vec<Value> = Vec::new();
    let mut blocked = Vec::new();
    for (n, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let line: Value = match serde_json::from_slice(raw) {
            Ok(v) => v,
            // Not batch output at all (any file may be fetched from `/files`): not an answer.
            Err(_) if batch == Batch::FileContent && lines.is_empty() => {
                return Ok(Filtered {
                    body: None,
                    blocked,
                })
            }
            Err(e) => return Err(format!("line {} of the results is not JSON: {e}", n + 1)),
        };
        if batch == Batch::FileContent && lines.is_empty() && !is_openai_batch_line(&line) {
            return Ok(Filtered {
                body: None,
                blocked,
            });
        }
        lines.push(line);
    }
    for line in &mut lines {
        let (api, answer) = match batch {
            Batch::AnthropicResults => (
                Api::Anthropic,
                line.get_mut("result")
                    .filter(|r| r.get("type").and_then(Value::as_str) == Some("succeeded"))
                    .and_then(|r| r.get_mut("message")),
            ),
            _ => {
                let body = line.get_mut("response").and_then(|r| r.get_mut("body"));
                let api = match body
                    .as_ref()
                    .and_then(|b| b.get("object"))
                    .and_then(Value::as_str)
                {
                    Some("chat.completion") => Api::Chat,
                    Some("response") => Api::Responses,
                    _ => continue,
                };
                (api, body)
            }
        };
        if let Some(answer) = answer {
            blocked.extend(apis::filter_response(api, &judge(api), answer));
        }
    }
    if blocked.is_empty() {
        return Ok(Filtered {
            body: None,
            blocked,
        });
    }
    let mut out = Vec::with_capacity(bytes.len());
    for line in &lines {
        serde_json::to_writer(&mut out, line).map_err(|e| e.to_string())?;
        out.push(b'\n');
    }
    Ok(Filtered {
        body: Some(out),
        blocked,
    })
}

/// A line of an OpenAI batch output file: `{"id", "custom_id", "response": {...}, "error"}`.
fn is_openai_batch_line(v: &Value) -> bool {
    v.get("custom_id").is_some() && (v.get("response").is_some() || v.get("error").is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::Method;

    #[test]
    fn batch_paths() {
        let c = |m: &Method, p: &str| Batch::classify(m, p);
        assert_eq!(
            c(&Method::POST, "/v1/messages/batches"),
            Some(Batch::AnthropicCreate)
        );
        assert_eq!(
            c(&Method::GET, "/v1/messages/batches/msgbatch_1/results"),
            Some(Batch::AnthropicResults)
        );
        assert_eq!(
            c(&Method::GET, "/v1/files/file-abc/content"),
            Some(Batch::FileContent)
        );
        assert_eq!(
            c(&Method::GET, "/v1/messages/batches/msgbatch_1"),
            Some(Batch::AnthropicObject)
        );
        assert_eq!(
            c(&Method::GET, "/v1/messages/batches"),
            Some(Batch::AnthropicObject)
        );
        assert_eq!(c(&Method::GET, "/v1/files/file-abc"), None);
        assert_eq!(c(&Method::POST, "/v1/files"), Some(Batch::FileUpload));
        assert_eq!(c(&Method::POST, "/v1/messages"), None);
        assert_eq!(c(&Method::GET, "/v1/messages/batches//results"), None);
    }

    #[test]
    fn multipart_fields() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n--XyZ\r\ncontent-disposition: form-data; name=\"file\"; filename=\"in.jsonl\"\r\nContent-Type: application/octet-stream\r\n\r\n{\"a\":1}\n\r\n--XyZ--\r\n";
        assert_eq!(
            multipart_boundary("multipart/form-data; boundary=\"XyZ\""),
            Some("XyZ")
        );
        assert_eq!(multipart_boundary("application/json"), None);
        let parts = multipart_parts(body, "XyZ").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], ("purpose".to_owned(), b"batch".as_slice()));
        assert_eq!(parts[1], ("file".to_owned(), b"{\"a\":1}\n".as_slice()));
        // Cut anywhere, it is an error, never a shorter body.
        for cut in [10, 40, 90, body.len() - 8] {
            assert!(
                multipart_parts(&body[..cut], "XyZ").is_err(),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn results_urls_point_back_at_the_proxy() {
        let mut one = serde_json::json!({"results_url": "https://api.anthropic.com/v1/messages/batches/b/results?x=1"});
        rewrite_results_urls(&mut one, "http://127.0.0.1:9090");
        assert_eq!(
            one["results_url"],
            "http://127.0.0.1:9090/v1/messages/batches/b/results?x=1"
        );
        let mut list =
            serde_json::json!({"data": [{"results_url": "https://h/r"}, {"results_url": null}]});
        rewrite_results_urls(&mut list, "http://p");
        assert_eq!(list["data"][0]["results_url"], "http://p/r");
        assert!(list["data"][1]["results_url"].is_null());
    }
}
