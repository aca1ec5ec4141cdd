//! One tool call in, a decision out: the bridge between the wire formats and the engine.

use crate::{Engine, ToolCall};
use serde_json::Value;

/// Arguments as a wire format carries them.
pub enum Args<'a> {
    /// A JSON object (Anthropic `input`, Responses `action`).
    Object(&'a Value),
    /// A JSON-encoded string (OpenAI `arguments`); it may be partial or invalid.
    Encoded(&'a str),
    /// Free-form text (OpenAI `custom` tools such as Codex's `apply_patch`).
    Text(&'a str),
}

/// What the proxy does with a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// The notice that replaces the call.
    Block {
        rule: String,
        notice: String,
    },
}

impl Decision {
    pub fn is_block(&self) -> bool {
        matches!(self, Decision::Block { .. })
    }
}

/// A shell tool the client offered, used by `--block-mode replace` to turn a blocked call into
/// a harmless `echo` of the notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Substitute {
    pub tool: String,
    /// The argument that holds the script, and whether it takes an argv array.
    pub key: String,
    pub argv: bool,
}

/// Judges calls against one bundle snapshot, with the agent's context.
pub struct Judge<'a> {
    pub bundle: &'a Engine,
    pub home: &'a str,
    pub cwd: Option<&'a str>,
    /// Replace mode: the shell tool blocked calls become (none: remove mode, or no shell tool
    /// offered).
    pub substitute: Option<&'a Substitute>,
    /// Where decisions are recorded, if the audit log is on.
    pub audit: Option<AuditContext<'a>>,
    /// The files this process uses, protected wherever they are.
    pub own: &'a crate::own::OwnFiles,
}

/// What the audit log records about the request a call came in.
#[derive(Clone, Copy)]
pub struct AuditContext<'a> {
    /// The encrypted audit log, if on.
    pub auditor: Option<&'a crate::audit::Auditor>,
    /// The OpenTelemetry exporter, if on.
    pub otlp: Option<&'a crate::proxy::otlp::Exporter>,
    pub api: &'static str,
    /// `request` (conversation history, outbound text) or `response` (the model's calls).
    pub side: &'static str,
    pub agent: Option<&'a str>,
    pub session: Option<&'a str>,
    /// The user the gateway authenticated (team mode).
    pub user: Option<&'a str>,
}

impl Judge<'_> {
    /// In replace mode, the call that stands in for a blocked one: the offered shell tool
    /// running `echo '<notice>'`.
    pub fn replacement(&self, notice: &str) -> Option<(String, Value)> {
        let s = self.substitute?;
        let script = format!("echo '{}'", notice.replace('\'', "'\\''"));
        let value = if s.argv {
            serde_json::json!(["bash", "-c", script])
        } else {
            Value::String(script)
        };
        let mut args = serde_json::Map::new();
        args.insert(s.key.clone(), value);
        Some((s.tool.clone(), Value::Object(args)))
    }

    pub fn call(&self, name: &str, args: Args<'_>) -> Decision {
        self.call_with_id(None, name, args)
    }

    /// Judges a call and records the decision with the call's id, when the API gives one.
    pub fn call_with_id(&self, id: Option<&str>, name: &str, args: Args<'_>) -> Decision {
        let started = std::time::Instant::now();
        let decision = self.decide(name, &args);
        if let Some(a) = &self.audit {
            self.record(a, id, name, &args, &decision, started.elapsed());
        }
        decision
    }

    /// One audit record (off the decision itself: the record goes to the writer's channel).
    fn record(
        &self,
        a: &AuditContext<'_>,
        id: Option<&str>,
        name: &str,
        args: &Args<'_>,
        decision: &Decision,
        took: std::time::Duration,
    ) {
        let raw = match args {
            Args::Object(v) => v.to_string(),
            Args::Encoded(s) | Args::Text(s) => (*s).to_owned(),
        };
        let (rule, severity) = match decision {
            Decision::Allow => (None, None),
            Decision::Block { rule, .. } => {
                let sev = self
                    .bundle
                    .meta()
                    .rules
                    .iter()
                    .find(|r| &r.name == rule)
                    .map(|r| r.severity.name().to_owned())
                    .or_else(|| Some("critical".to_owned()));
                (Some(rule.clone()), sev)
            }
        };
        let record = crate::audit::Record {
            time_ms: crate::audit::now_ms(),
            session: a.session.map(str::to_owned),
            agent: a.agent.map(str::to_owned),
            user: a.user.map(str::to_owned),
            api: a.api.to_owned(),
            side: a.side.to_owned(),
            tool: name.to_owned(),
            call_id: id.map(|i| i.chars().take(200).collect()),
            args: crate::audit::summarize(self.bundle, &raw, 400),
            decision: if decision.is_block() {
                "block"
            } else {
                "allow"
            }
            .to_owned(),
            rule,
            severity,
            eval_ns: u64::try_from(took.as_nanos()).unwrap_or(u64::MAX),
            bundle: self.bundle.meta().compiler.clone(),
            bundle_checksum: format!("{:016x}", self.bundle.checksum()),
            dropped_before: None,
        };
        if let Some(o) = a.otlp {
            o.record(&record);
        }
        if let Some(auditor) = a.auditor {
            auditor.record(record);
        }
    }

    fn decide(&self, name: &str, args: &Args<'_>) -> Decision {
        let parsed;
        let value = match *args {
            Args::Object(v) => v,
            Args::Encoded(s) => {
                // An empty string is how some models send "no arguments".
                let text = if s.trim().is_empty() { "{}" } else { s };
                match serde_json::from_str::<Value>(text) {
                    Ok(v) => {
                        parsed = v;
                        &parsed
                    }
                    Err(e) => {
                        return block(
                            crate::model::MALFORMED_RULE,
                            name,
                            &format!(
                                "its arguments are not valid JSON ({e}), so they cannot be checked"
                            ),
                        )
                    }
                }
            }
            Args::Text(s) => {
                parsed = serde_json::json!({ "input": s });
                &parsed
            }
        };
        if !value.is_object() {
            return block(
                crate::model::MALFORMED_RULE,
                name,
                "its arguments are not a JSON object, so they cannot be checked",
            );
        }
        let verdict = self.bundle.evaluate_guarded(
            &ToolCall {
                name,
                args: value,
                cwd: self.cwd,
                home: Some(self.home),
            },
            self.own,
        );
        if verdict.is_block() {
            let rule = verdict.rule.as_deref().unwrap_or("crust");
            let message = verdict.message.as_deref().unwrap_or("blocked by policy");
            block(rule, name, message)
        } else {
            Decision::Allow
        }
    }
}

/// The text that takes a blocked call's place: it names the rule and tells the model not to
/// try again, so the next turn does not look for a way around it.
pub fn notice(rule: &str, tool: &str, message: &str) -> String {
    let message = message.trim().trim_end_matches('.');
    if tool == super::outbound::OUTBOUND_TOOL {
        // Nothing was executed: the request itself was stopped before it left.
        return format!("Blocked by Crust: {rule}: {message}. {OUTBOUND_TAIL}");
    }
    format!(
        "Blocked by Crust: {rule}: {message}. The {tool} call was not executed; do not retry it or work around it."
    )
}

/// How a refused request's notice ends: what happened and how the user goes on (the text stays
/// in the conversation, so every later request that carries it is refused too).
pub const OUTBOUND_TAIL: &str = "This request was not sent to the model. The text stays in the \
conversation and every later request that carries it is refused too: remove it (or the tool \
output that holds it) from the conversation, or start a new session.";

fn block(rule: &str, tool: &str, message: &str) -> Decision {
    Decision::Block {
        rule: rule.to_owned(),
        notice: notice(rule, tool, message),
    }
}

/// The first tool offered in a request that the bundle's tool table knows as a shell (a
/// `shell` or `argv` argument), for replace mode.
pub fn find_substitute(bundle: &Engine, offered: &[&str]) -> Option<Substitute> {
    use crate::tables::ArgRole;
    let tables = &bundle.meta().tables;
    for name in offered {
        let Some(spec) = crate::extract::lookup(name, tables, &bundle.table_index) else {
            continue;
        };
        for a in &spec.args {
            let argv = match a.role {
                ArgRole::Shell => false,
                ArgRole::Argv => true,
                _ => continue,
            };
            // The table's keys are canonical (`cmd`, `command`); agents spell them that way.
            return Some(Substitute {
                tool: (*name).to_owned(),
                key: a.key.clone(),
                argv,
            });
        }
    }
    None
}
