//! Batch APIs: many requests in one body, many answers in one JSON-lines file. Each request
//! of a batch is judged like a single request, and each answer line like a single answer, so
//! a batch is no way around the policy.
//!
//! - Anthropic: `POST /v1/messages/batches` (`requests[].params` are Messages requests) and
//!   `GET /v1/messages/batches/{id}/results` (lines whose `result.message` is a Message).
//!   A batch object names its results by an absolute `results_url` on the provider's host,
//!   which SDKs fetch as given: the proxy points it back at itself, or the results would
//!   bypass it.
//! - OpenAI: batch output files, `GET /v1/files/{id}/content` (lines whose `response.body` is
//!   a Chat Completion or a Response). Other files fetched there are not answers and pass
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
}

impl Batch {
    /// The batch endpoint a request path (query removed) belongs to.
    pub fn classify(method: &hyper::Method, path: &str) -> Option<Batch> {
        let path = path.trim_end_matches('/');
        if method == hyper::Method::POST && path.ends_with("/messages/batches") {
            return Some(Batch::AnthropicCreate);
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
            Batch::FileContent => Api::Chat,
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
        let d = apis::judge_history(Api::Anthropic, judge, params);
        if d.is_block() {
            let id = r.get("custom_id").and_then(Value::as_str).unwrap_or("?");
            return Some((id.to_owned(), d));
        }
    }
    None
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
        assert_eq!(c(&Method::POST, "/v1/messages"), None);
        assert_eq!(c(&Method::GET, "/v1/messages/batches//results"), None);
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
