//! Decisions as OpenTelemetry logs (`--otlp ENDPOINT`): one log record per decision, sent in
//! batches to an OTLP/HTTP collector as JSON (`POST ENDPOINT/v1/logs`). Recording never waits:
//! a record that finds the queue full is dropped and counted, and so is a batch the collector
//! refuses or cannot take; the counts are in `/crust/metrics`.

use crate::audit::Record;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Records waiting to be sent, at most; more are dropped, never waited for.
const QUEUE: usize = 8192;
/// Records per request to the collector.
const BATCH: usize = 512;
/// How long a record may wait for its batch to fill.
const LINGER: Duration = Duration::from_millis(500);
/// How long a request to the collector may take.
const TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Counts {
    exported: AtomicU64,
    dropped: AtomicU64,
}

/// The sending side, cheap to clone; the batching task lives on the runtime it was started on.
#[derive(Clone)]
pub struct Exporter {
    tx: tokio::sync::mpsc::Sender<Record>,
    counts: Arc<Counts>,
}

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exporter").finish_non_exhaustive()
    }
}

impl Exporter {
    /// Starts the batching task on the current tokio runtime. `endpoint` is the collector's
    /// base URL (`http://host:4318`); `/v1/logs` is appended unless it is already there.
    pub fn start(endpoint: &str) -> Result<Exporter, String> {
        let url = logs_url(endpoint)?;
        let (tx, rx) = tokio::sync::mpsc::channel(QUEUE);
        let counts = Arc::new(Counts::default());
        tokio::spawn(send_batches(url, rx, Arc::clone(&counts)));
        Ok(Exporter { tx, counts })
    }

    /// Queues one decision; a full queue drops it (counted).
    pub fn record(&self, r: &Record) {
        if self.tx.try_send(r.clone()).is_err() {
            self.counts.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn exported_total(&self) -> u64 {
        self.counts.exported.load(Ordering::Relaxed)
    }

    pub fn dropped_total(&self) -> u64 {
        self.counts.dropped.load(Ordering::Relaxed)
    }
}

fn logs_url(endpoint: &str) -> Result<hyper::Uri, String> {
    let base = endpoint.trim_end_matches('/');
    let full = if base.ends_with("/v1/logs") {
        base.to_owned()
    } else {
        format!("{base}/v1/logs")
    };
    let uri: hyper::Uri = full
        .parse()
        .map_err(|e| format!("--otlp {endpoint:?} is not a URL: {e}"))?;
    let loopback = matches!(
        uri.host(),
        Some("localhost" | "127.0.0.1" | "[::1]" | "::1")
    );
    match uri.scheme_str() {
        Some("https") if uri.host().is_some() => Ok(uri),
        // Decisions name files and commands: in the clear only to this machine.
        Some("http") if loopback => Ok(uri),
        Some("http") => Err(format!(
            "--otlp {endpoint:?}: plain http only to this machine; use https"
        )),
        _ => Err(format!("--otlp {endpoint:?} needs https:// and a host")),
    }
}

async fn send_batches(
    url: hyper::Uri,
    mut rx: tokio::sync::mpsc::Receiver<Record>,
    counts: Arc<Counts>,
) {
    let client = crate::proxy::server::upstream_client();
    let mut batch = Vec::with_capacity(BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        let deadline = tokio::time::Instant::now() + LINGER;
        while batch.len() < BATCH {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(r)) => batch.push(r),
                Ok(None) | Err(_) => break,
            }
        }
        let n = batch.len() as u64;
        let body = Bytes::from(export_request(&batch).to_string());
        batch.clear();
        let sent = async {
            let req = hyper::Request::post(url.clone())
                .header(hyper::header::CONTENT_TYPE, "application/json")
                .body(Full::new(body))
                .map_err(|e| e.to_string())?;
            let resp = client.request(req).await.map_err(|e| e.to_string())?;
            let ok = resp.status().is_success();
            // Read the answer so the connection goes back to the pool; a partial success
            // names the records the collector did not keep.
            let body = resp
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            if ok {
                Ok(rejected(&body))
            } else {
                Err("the collector refused the batch".to_owned())
            }
        };
        match tokio::time::timeout(TIMEOUT, sent).await {
            Ok(Ok(rejected)) => {
                let rejected = rejected.min(n);
                counts.exported.fetch_add(n - rejected, Ordering::Relaxed);
                counts.dropped.fetch_add(rejected, Ordering::Relaxed);
            }
            Ok(Err(why)) => {
                counts.dropped.fetch_add(n, Ordering::Relaxed);
                tracing::warn!(records = n, error = %why, "decisions not exported");
            }
            Err(_) => {
                counts.dropped.fetch_add(n, Ordering::Relaxed);
                tracing::warn!(
                    records = n,
                    "decisions not exported: the collector timed out"
                );
            }
        }
    }
}

/// The records a collector's answer says it rejected (`partialSuccess.rejectedLogRecords`).
fn rejected(body: &[u8]) -> u64 {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            let r = v.get("partialSuccess")?.get("rejectedLogRecords")?;
            r.as_u64().or_else(|| r.as_str()?.parse().ok())
        })
        .unwrap_or(0)
}

/// An OTLP `ExportLogsServiceRequest` in the protobuf JSON mapping.
fn export_request(records: &[Record]) -> Value {
    let logs: Vec<Value> = records.iter().map(log_record).collect();
    json!({
        "resourceLogs": [{
            "resource": { "attributes": [attr("service.name", "crust")] },
            "scopeLogs": [{
                "scope": { "name": "crust", "version": env!("CARGO_PKG_VERSION") },
                "logRecords": logs,
            }],
        }],
    })
}

fn attr(key: &str, value: &str) -> Value {
    json!({ "key": key, "value": { "stringValue": value } })
}

/// One decision. Arguments are the audit log's summary (secrets masked, shortened).
fn log_record(r: &Record) -> Value {
    let block = r.decision == "block";
    let mut attrs = vec![
        attr("crust.decision", &r.decision),
        attr("crust.tool", &r.tool),
        attr("crust.api", &r.api),
        attr("crust.side", &r.side),
        attr("crust.bundle", &r.bundle),
        attr("crust.bundle_checksum", &r.bundle_checksum),
    ];
    let optional = [
        ("crust.rule", &r.rule),
        ("crust.call_id", &r.call_id),
        ("crust.severity", &r.severity),
        ("crust.conversation", &r.session),
        ("crust.agent", &r.agent),
        ("enduser.id", &r.user),
    ];
    for (k, v) in optional {
        if let Some(v) = v {
            attrs.push(attr(k, v));
        }
    }
    // What a request sends out (the user's words, tool results, files) is not exported: the
    // collector is not encrypted like the audit log. A call's arguments are, masked.
    if r.tool != crate::proxy::outbound::OUTBOUND_TOOL {
        attrs.push(attr("crust.args", &r.args));
    }
    attrs.push(json!({ "key": "crust.eval_ns", "value": { "intValue": r.eval_ns.to_string() } }));
    let body = match &r.rule {
        Some(rule) => format!("{} {} by {rule}", r.decision, r.tool),
        None => format!("{} {}", r.decision, r.tool),
    };
    json!({
        "timeUnixNano": (u128::from(r.time_ms) * 1_000_000).to_string(),
        // OpenTelemetry's WARN for a block, INFO for an allow.
        "severityNumber": if block { 13 } else { 9 },
        "severityText": if block { "WARN" } else { "INFO" },
        "body": { "stringValue": body },
        "attributes": attrs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(decision: &str, rule: Option<&str>) -> Record {
        Record {
            time_ms: 1_765_000_000_000,
            session: Some("conv-1".into()),
            agent: None,
            user: Some("erin".into()),
            api: "anthropic-messages".into(),
            side: "response".into(),
            tool: "Read".into(),
            call_id: Some("toolu_1".into()),
            args: "{\"file_path\":\"~/.ssh/id_rsa\"}".into(),
            decision: decision.into(),
            rule: rule.map(str::to_owned),
            severity: rule.map(|_| "critical".to_owned()),
            eval_ns: 1200,
            bundle: "crustc 0.1.0".into(),
            bundle_checksum: "00ff".into(),
            dropped_before: None,
        }
    }

    #[test]
    fn a_decision_is_one_log_record_with_its_facts() {
        let v = export_request(&[rec("block", Some("protect-ssh-keys")), rec("allow", None)]);
        let logs = &v["resourceLogs"][0]["scopeLogs"][0]["logRecords"];
        assert_eq!(logs.as_array().map(Vec::len), Some(2));
        let b = &logs[0];
        assert_eq!(b["severityText"], "WARN");
        assert_eq!(b["timeUnixNano"], "1765000000000000000");
        let get = |rec: &Value, k: &str| {
            rec["attributes"]
                .as_array()
                .and_then(|a| a.iter().find(|x| x["key"] == k))
                .map(|x| x["value"]["stringValue"].clone())
        };
        assert_eq!(get(b, "crust.rule"), Some(json!("protect-ssh-keys")));
        assert_eq!(get(b, "enduser.id"), Some(json!("erin")));
        assert_eq!(get(b, "crust.conversation"), Some(json!("conv-1")));
        assert_eq!(get(b, "crust.bundle_checksum"), Some(json!("00ff")));
        assert_eq!(get(b, "crust.call_id"), Some(json!("toolu_1")));
        // Near miss: an allow has no rule and is INFO.
        assert_eq!(logs[1]["severityText"], "INFO");
        assert_eq!(get(&logs[1], "crust.rule"), None);
    }

    #[test]
    fn outbound_text_is_not_exported_and_partial_success_is_counted() {
        let mut r = rec("block", Some("secrets"));
        r.tool = crate::proxy::outbound::OUTBOUND_TOOL.into();
        let v = log_record(&r);
        let keys: Vec<&Value> = v["attributes"]
            .as_array()
            .map(|a| a.iter().map(|x| &x["key"]).collect())
            .unwrap_or_default();
        assert!(!keys.contains(&&json!("crust.args")));
        assert!(keys.contains(&&json!("crust.rule")));
        // Near miss: a tool call's (masked) arguments are.
        let v = log_record(&rec("block", Some("protect-ssh-keys")));
        assert!(v["attributes"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["key"] == "crust.args")));
        assert_eq!(
            rejected(br#"{"partialSuccess":{"rejectedLogRecords":"3"}}"#),
            3
        );
        assert_eq!(
            rejected(br#"{"partialSuccess":{"rejectedLogRecords":2}}"#),
            2
        );
        assert_eq!(rejected(b"{}"), 0);
    }

    #[test]
    fn endpoints_need_a_scheme_and_a_host() {
        assert_eq!(
            logs_url("http://127.0.0.1:4318").map(|u| u.to_string()),
            Ok("http://127.0.0.1:4318/v1/logs".to_owned())
        );
        assert_eq!(
            logs_url("https://otel.example/v1/logs/").map(|u| u.to_string()),
            Ok("https://otel.example/v1/logs".to_owned())
        );
        assert!(logs_url("127.0.0.1:4318").is_err());
        assert!(logs_url("http://otel.example:4318").is_err());
        assert!(logs_url("ftp://x").is_err());
    }

    #[tokio::test]
    async fn a_full_queue_drops_and_counts_never_waits() {
        // Nothing listens on the discard port: every batch fails, and recording still returns
        // at once.
        let e = Exporter::start("http://127.0.0.1:9");
        assert!(e.is_ok());
        let Ok(e) = e else { return };
        for _ in 0..(QUEUE + 100) {
            e.record(&rec("allow", None));
        }
        assert!(e.dropped_total() >= 100);
        assert_eq!(e.exported_total(), 0);
    }
}
