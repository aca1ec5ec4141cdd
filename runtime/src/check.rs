//! The `check` protocol: tool calls as JSON lines in, one verdict per line out. Shared by
//! `crust check` and `crust-runtime --check`; other tools depend on its exact shape
//! (see ARCHITECTURE.md, "Command-line contracts").

use crate::model::{ToolCall, Verdict};
use crate::Engine;
use serde_json::Value;
use std::io::{self, BufRead, Write};

/// Defaults applied to every call of a stream.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub home: String,
    pub cwd: String,
    pub json: bool,
}

/// A parsed input line.
#[derive(Debug, Clone)]
pub struct CallLine {
    pub name: String,
    pub args: Value,
    pub cwd: Option<String>,
}

/// Parses one input line: `{"tool": N, "args": {...}}` or `{"name": N, "arguments": {...}}`,
/// where `arguments` may also be a JSON string (as OpenAI sends it).
pub fn parse_call_line(line: &str) -> Result<CallLine, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("input is not JSON: {e}"))?;
    let obj = v.as_object().ok_or("input is not a JSON object")?;
    let name = obj
        .get("tool")
        .or_else(|| obj.get("name"))
        .and_then(Value::as_str)
        .ok_or("input has no string `tool` or `name`")?
        .to_owned();
    let raw = obj
        .get("args")
        .or_else(|| obj.get("arguments"))
        .cloned()
        .unwrap_or(Value::Object(Default::default()));
    let args = match raw {
        Value::String(s) => serde_json::from_str(&s)
            .map_err(|e| format!("`arguments` of `{name}` is a string that is not JSON: {e}"))?,
        other => other,
    };
    if !args.is_object() {
        return Err(format!("arguments of `{name}` are not a JSON object"));
    }
    let cwd = obj.get("cwd").and_then(Value::as_str).map(str::to_owned);
    Ok(CallLine { name, args, cwd })
}

/// Judges one input line, failing closed on input that cannot be parsed.
pub fn check_line<'b>(bundle: &'b Engine, line: &str, opts: &CheckOptions) -> Verdict<'b> {
    match parse_call_line(line) {
        Ok(c) => {
            let call = ToolCall {
                name: &c.name,
                args: &c.args,
                cwd: Some(c.cwd.as_deref().unwrap_or(&opts.cwd)),
                home: Some(&opts.home),
            };
            bundle.evaluate(&call).into_owned()
        }
        Err(why) => Verdict::malformed(why),
    }
}

/// Counts of a stream's verdicts.
#[derive(Debug, Default, Clone, Copy)]
pub struct CheckSummary {
    pub allowed: usize,
    pub blocked: usize,
}

/// Reads calls from `input` until EOF and writes one verdict per non-blank line.
pub fn check_stream(
    bundle: &Engine,
    input: impl BufRead,
    mut output: impl Write,
    opts: &CheckOptions,
) -> io::Result<CheckSummary> {
    let mut sum = CheckSummary::default();
    for line in input.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let v = check_line(bundle, &line, opts);
        if v.is_block() {
            sum.blocked += 1;
        } else {
            sum.allowed += 1;
        }
        if opts.json {
            writeln!(output, "{}", v.to_json())?;
        } else {
            writeln!(output, "{}", human(&v))?;
        }
        output.flush()?;
    }
    Ok(sum)
}

/// One-line human rendering of a verdict.
pub fn human(v: &Verdict<'_>) -> String {
    match (&v.rule, &v.message) {
        (Some(r), Some(m)) => format!("{}  {r}: {m}", v.decision.name()),
        (Some(r), None) => format!("{}  {r}", v.decision.name()),
        _ => v.decision.name().to_owned(),
    }
}

impl Verdict<'_> {
    /// Detaches the verdict from the bundle it borrows from.
    pub fn into_owned(self) -> Verdict<'static> {
        Verdict {
            decision: self.decision,
            rule: self.rule.map(|c| c.into_owned().into()),
            message: self.message.map(|c| c.into_owned().into()),
            severity: self.severity,
        }
    }
}
