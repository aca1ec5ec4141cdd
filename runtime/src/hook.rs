//! Agent hooks: the agent runs `crust hook AGENT` before each tool use, with the call as JSON on
//! standard input, and reads the answer from the exit code and standard output. One adapter per
//! agent turns its hook input into a [`ToolCall`] and a verdict into its answer format.
//!
//! Fail closed: input that cannot be understood, a bundle that cannot be loaded, or a call the
//! engine cannot judge is answered with a refusal that says why, in the form each agent treats
//! as blocking (never a bare non-zero exit, which agents take as "the hook failed, go on").

use crate::model::{ToolCall, Verdict};
use crate::own::OwnFiles;
use crate::Engine;
use serde_json::{json, Map, Value};

/// The pseudo tool under which text sent to the model is judged (as the proxy does).
const OUTBOUND_TOOL: &str = "crust:outbound";

/// The agents whose hook formats Crust speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agent {
    /// Claude Code's `PreToolUse` hook.
    ClaudeCode,
    /// Cursor's `beforeShellExecution`, `beforeMCPExecution` and `beforeReadFile` hooks.
    Cursor,
    /// Gemini CLI's `BeforeTool` hook.
    Gemini,
}

impl Agent {
    pub fn name(self) -> &'static str {
        match self {
            Agent::ClaudeCode => "claude-code",
            Agent::Cursor => "cursor",
            Agent::Gemini => "gemini",
        }
    }

    pub fn from_name(s: &str) -> Option<Agent> {
        match s {
            "claude-code" | "claude" => Some(Agent::ClaudeCode),
            "cursor" => Some(Agent::Cursor),
            "gemini" | "gemini-cli" => Some(Agent::Gemini),
            _ => None,
        }
    }
}

/// What the hook process prints and how it exits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub stdout: String,
    pub stderr: String,
    pub exit: u8,
}

/// A tool call read from a hook's input.
#[derive(Debug, Clone, PartialEq)]
pub struct HookCall {
    /// The hook event that carried it (`PreToolUse`, `beforeShellExecution`, …).
    pub event: String,
    pub name: String,
    pub args: Value,
    pub cwd: Option<String>,
    /// Text the call sends to the model provider (Cursor's `beforeReadFile` carries the file's
    /// text): judged as the proxy judges a request's text, so a secret in it is refused.
    pub outbound: Option<String>,
}

/// Reads the hook input of `agent`. An event that does not carry a tool call, or fields of the
/// wrong type, are errors: the hook refuses what it cannot judge.
pub fn parse(agent: Agent, input: &[u8]) -> Result<HookCall, String> {
    let v: Value =
        serde_json::from_slice(input).map_err(|e| format!("the hook input is not JSON ({e})"))?;
    let obj = v.as_object().ok_or("the hook input is not a JSON object")?;
    let event = str_field(obj, "hook_event_name")?.unwrap_or_default();
    let cwd = str_field(obj, "cwd")?
        .or_else(|| first_root(obj))
        .filter(|c| !c.is_empty());
    match agent {
        Agent::ClaudeCode | Agent::Gemini => {
            let expected = if agent == Agent::ClaudeCode {
                "PreToolUse"
            } else {
                "BeforeTool"
            };
            if !event.is_empty() && event != expected {
                return Err(format!(
                    "Crust's {} hook judges `{expected}` events; it was run for `{event}`",
                    agent.name()
                ));
            }
            let mut name = str_field(obj, "tool_name")?
                .filter(|n| !n.is_empty())
                .ok_or("the hook input names no tool (`tool_name`)")?;
            let args = tool_input(obj.get("tool_input"), &name)?;
            // Gemini CLI names MCP tools `mcp_<server>_<tool>` and says which in `mcp_context`:
            // the tool table knows them as `mcp__<server>__<tool>`.
            if let Some(ctx) = obj.get("mcp_context").and_then(Value::as_object) {
                let tool = ctx.get("tool_name").and_then(Value::as_str);
                if let Some(tool) = tool.filter(|t| !t.is_empty()) {
                    name = format!("mcp__{}__{tool}", mcp_server_name(ctx));
                }
            }
            Ok(HookCall {
                event: expected.to_owned(),
                name,
                args,
                cwd,
                outbound: None,
            })
        }
        Agent::Cursor => cursor_call(obj, event, cwd),
    }
}

/// Cursor's hook events, each mapped onto the tool it stands for in the tool table.
fn cursor_call(
    obj: &Map<String, Value>,
    event: String,
    cwd: Option<String>,
) -> Result<HookCall, String> {
    let (name, args) = match event.as_str() {
        "beforeShellExecution" => {
            let command = str_field(obj, "command")?.ok_or("the hook input has no `command`")?;
            ("run_terminal_cmd".to_owned(), json!({ "command": command }))
        }
        "beforeReadFile" => {
            let path = str_field(obj, "file_path")?.ok_or("the hook input has no `file_path`")?;
            ("read_file".to_owned(), json!({ "file_path": path }))
        }
        "beforeMCPExecution" => {
            let tool = str_field(obj, "tool_name")?
                .filter(|n| !n.is_empty())
                .ok_or("the hook input names no MCP tool (`tool_name`)")?;
            let server = mcp_server_name(obj);
            let name = format!("mcp__{server}__{tool}");
            let args = tool_input(obj.get("tool_input"), &name)?;
            (name, args)
        }
        "preToolUse" => {
            let kind = str_field(obj, "tool_name")?
                .filter(|n| !n.is_empty())
                .ok_or("the hook input names no tool (`tool_name`)")?;
            // Cursor names its tools by kind; each maps onto the table's entry for that kind.
            let name = match kind.as_str() {
                "Shell" => "run_terminal_cmd".to_owned(),
                "Read" => "read_file".to_owned(),
                "Write" => "write_file".to_owned(),
                "Delete" => "delete_file".to_owned(),
                "Grep" => "search_files".to_owned(),
                k => match k.strip_prefix("MCP:") {
                    // `MCP:<tool>`, or `MCP:<server>:<tool>` where the server is named.
                    Some(t) => match t.split_once(':') {
                        Some((server, tool)) => format!("mcp__{server}__{tool}"),
                        None => format!("mcp__{}__{t}", mcp_server_name(obj)),
                    },
                    None => k.to_owned(),
                },
            };
            let args = tool_input(obj.get("tool_input"), &name)?;
            (name, args)
        }
        "" => return Err("the hook input names no event (`hook_event_name`)".into()),
        other => {
            return Err(format!(
                "Crust's cursor hook judges `preToolUse`, `beforeShellExecution`, \
                 `beforeMCPExecution` and `beforeReadFile`; it was run for `{other}`"
            ))
        }
    };
    let outbound = if event == "beforeReadFile" {
        str_field(obj, "content")?
    } else {
        None
    };
    Ok(HookCall {
        event,
        name,
        args,
        cwd,
        outbound,
    })
}

/// A short name for the MCP server of a Cursor call: its configured name where given, else
/// the command or URL it runs as (the tool table matches `mcp__*__TOOL`, so any name serves).
fn mcp_server_name(obj: &Map<String, Value>) -> String {
    for key in ["mcp_server_name", "server_name", "server", "command", "url"] {
        if let Some(s) = obj.get(key).and_then(Value::as_str) {
            let s: String = s
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .take(64)
                .collect();
            if !s.is_empty() {
                return s;
            }
        }
    }
    "mcp".to_owned()
}

/// A tool's input: an object, or a JSON string holding one (as some agents send it).
fn tool_input(v: Option<&Value>, name: &str) -> Result<Value, String> {
    let v = match v {
        None | Some(Value::Null) => return Ok(Value::Object(Map::new())),
        Some(Value::String(s)) => serde_json::from_str(s)
            .map_err(|e| format!("the input of `{name}` is a string that is not JSON ({e})"))?,
        Some(other) => other.clone(),
    };
    if !v.is_object() {
        return Err(format!("the input of `{name}` is not a JSON object"));
    }
    Ok(v)
}

fn str_field(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("the hook input's `{key}` is not a string")),
    }
}

/// Cursor sends the workspace roots instead of a working directory.
fn first_root(obj: &Map<String, Value>) -> Option<String> {
    obj.get("workspace_roots")?
        .as_array()?
        .first()?
        .as_str()
        .map(str::to_owned)
}

/// Judges one hook input with `bundle` (or refuses, when the bundle could not be loaded) and
/// answers in `agent`'s format.
/// `own`: the files the hook itself depends on (its bundle), which no call may touch.
pub fn run(
    bundle: Result<&Engine, &str>,
    own: &OwnFiles,
    agent: Agent,
    input: &[u8],
    home: &str,
) -> Reply {
    let (event, verdict) = decide(bundle, own, agent, input, home);
    reply(agent, &event, &verdict)
}

/// The hook event and the verdict on its call, before they are put in the agent's format.
pub fn decide(
    bundle: Result<&Engine, &str>,
    own: &OwnFiles,
    agent: Agent,
    input: &[u8],
    home: &str,
) -> (String, Verdict<'static>) {
    let call = parse(agent, input);
    let event = call.as_ref().map(|c| c.event.clone()).unwrap_or_default();
    let verdict = match (bundle, &call) {
        (_, Err(why)) => Verdict::malformed(why.clone()),
        (Err(why), Ok(_)) => Verdict::malformed(format!("Crust cannot load its policy: {why}")),
        (Ok(b), Ok(c)) => {
            let call = ToolCall {
                name: &c.name,
                args: &c.args,
                cwd: c.cwd.as_deref(),
                home: Some(home),
            };
            let v = b.evaluate_guarded(&call, own).into_owned();
            match &c.outbound {
                Some(text) if !v.is_block() => {
                    let args = json!({ "text": text });
                    let sent = ToolCall {
                        name: OUTBOUND_TOOL,
                        args: &args,
                        cwd: c.cwd.as_deref(),
                        home: Some(home),
                    };
                    b.evaluate(&sent).into_owned()
                }
                _ => v,
            }
        }
    };
    (event, verdict)
}

/// The text an agent shows for a refusal: the rule and why.
pub fn reason(v: &Verdict<'_>) -> String {
    let rule = v.rule.as_deref().unwrap_or("crust");
    match v.message.as_deref() {
        Some(m) => format!("Blocked by Crust ({rule}): {m}"),
        None => format!("Blocked by Crust ({rule})."),
    }
}

/// `agent`'s answer to a verdict. An allowed call gets the answer that leaves the agent's own
/// permission checks in place (never one that approves the call on the user's behalf, where
/// the agent has a neutral answer). A refusal is given both ways each agent reads: its JSON
/// decision and, where the agent blocks on it, exit code 2 with the reason on standard error,
/// so that a change in one reading does not turn a refusal into a run.
pub fn reply(agent: Agent, event: &str, v: &Verdict<'_>) -> Reply {
    let why = reason(v);
    let allow = || Reply {
        stdout: String::new(),
        stderr: String::new(),
        exit: 0,
    };
    match agent {
        Agent::ClaudeCode if v.is_block() => Reply {
            stdout: json!({
                "hookSpecificOutput": {
                    "hookEventName": "PreToolUse",
                    "permissionDecision": "deny",
                    "permissionDecisionReason": why,
                }
            })
            .to_string(),
            stderr: why,
            exit: 2,
        },
        Agent::Gemini if v.is_block() => Reply {
            stdout: json!({ "decision": "deny", "reason": why }).to_string(),
            stderr: why,
            exit: 2,
        },
        Agent::ClaudeCode | Agent::Gemini => allow(),
        // Cursor reads the JSON; both spellings of the message keys, as its versions differ,
        // and exit code 2, which it documents as a refusal too. `beforeReadFile` knows no
        // `ask`, and no hook of it a neutral answer.
        Agent::Cursor if v.is_block() => {
            let mut answer = json!({
                "continue": true,
                "permission": "deny",
                "user_message": why,
                "agent_message": why,
                "userMessage": why,
                "agentMessage": why,
            });
            if event == "beforeReadFile" {
                if let Some(m) = answer.as_object_mut() {
                    m.remove("continue");
                }
            }
            Reply {
                stdout: answer.to_string(),
                stderr: why,
                exit: 2,
            }
        }
        Agent::Cursor => Reply {
            stdout: if event == "beforeReadFile" {
                json!({ "permission": "allow" })
            } else {
                json!({ "continue": true, "permission": "allow" })
            }
            .to_string(),
            stderr: String::new(),
            exit: 0,
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::model::Verdict;

    // Inputs as the agents' hook documentation shows them.
    const CLAUDE: &str = r#"{"session_id":"abc123","prompt_id":"550e8400-e29b-41d4-a716-446655440000","transcript_path":"/home/user/.claude/projects/p/t.jsonl","cwd":"/home/user/my-project","permission_mode":"default","hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"npm test","description":"Run test suite","timeout":120000,"run_in_background":false},"tool_use_id":"toolu_01ABC123"}"#;
    const CURSOR_SHELL: &str = r#"{"conversation_id":"c0f1","generation_id":"g-42","model":"m","hook_event_name":"beforeShellExecution","cursor_version":"2.4.1","workspace_roots":["/home/u/proj"],"user_email":"u@example.com","transcript_path":null,"command":"rm -rf /home/u/.ssh","cwd":"/home/u/proj","sandbox":false}"#;
    const CURSOR_MCP: &str = r#"{"conversation_id":"c0f1","generation_id":"g-43","hook_event_name":"beforeMCPExecution","cursor_version":"2.4.1","workspace_roots":["/home/u/proj"],"user_email":null,"transcript_path":null,"tool_name":"read_file","tool_input":"{\"path\":\"/home/u/.aws/credentials\"}","mcp_server_name":"filesystem","command":"npx -y @modelcontextprotocol/server-filesystem /"}"#;
    const CURSOR_READ: &str = r#"{"conversation_id":"c0f1","generation_id":"g-44","hook_event_name":"beforeReadFile","cursor_version":"2.4.1","workspace_roots":["/home/u/proj"],"user_email":null,"transcript_path":null,"file_path":"/home/u/proj/.env","content":"API_KEY=x","attachments":[]}"#;
    const CURSOR_PRE: &str = r#"{"conversation_id":"c0f1","hook_event_name":"preToolUse","workspace_roots":["/home/u/proj"],"tool_name":"Shell","tool_input":{"command":"npm install","working_directory":"/project"},"tool_use_id":"t1","cwd":"/project"}"#;
    const GEMINI: &str = r#"{"session_id":"7f3c","transcript_path":"/home/u/.gemini/tmp/h/chats/s.json","cwd":"/home/u/proj","hook_event_name":"BeforeTool","timestamp":"2026-08-21T16:20:00.000Z","tool_name":"run_shell_command","tool_input":{"command":"rm -rf ~/.ssh","description":"Remove ssh dir","dir_path":"."}}"#;
    const GEMINI_MCP: &str = r#"{"session_id":"7f3c","cwd":"/home/u/proj","hook_event_name":"BeforeTool","tool_name":"mcp_fs_read_file","tool_input":{"path":"/etc/shadow"},"mcp_context":{"server_name":"fs","tool_name":"read_file","command":"npx"}}"#;

    fn block(rule: &'static str) -> Verdict<'static> {
        Verdict {
            decision: crate::model::Decision::Block,
            rule: Some(rule.into()),
            message: Some("why".into()),
            severity: None,
        }
    }

    fn allow() -> Verdict<'static> {
        Verdict {
            decision: crate::model::Decision::Allow,
            rule: None,
            message: None,
            severity: None,
        }
    }

    #[test]
    fn each_agents_input_becomes_the_tool_call_it_stands_for() {
        let c = parse(Agent::ClaudeCode, CLAUDE.as_bytes()).unwrap();
        assert_eq!(c.name, "Bash");
        assert_eq!(c.args["command"], "npm test");
        assert_eq!(c.cwd.as_deref(), Some("/home/user/my-project"));

        let c = parse(Agent::Cursor, CURSOR_SHELL.as_bytes()).unwrap();
        assert_eq!(
            (c.name.as_str(), c.cwd.as_deref()),
            ("run_terminal_cmd", Some("/home/u/proj"))
        );
        assert_eq!(c.args["command"], "rm -rf /home/u/.ssh");

        let c = parse(Agent::Cursor, CURSOR_MCP.as_bytes()).unwrap();
        assert_eq!(c.name, "mcp__filesystem__read_file");
        assert_eq!(c.args["path"], "/home/u/.aws/credentials");
        assert_eq!(c.cwd.as_deref(), Some("/home/u/proj"));

        let c = parse(Agent::Cursor, CURSOR_READ.as_bytes()).unwrap();
        assert_eq!(c.name, "read_file");
        assert_eq!(c.args["file_path"], "/home/u/proj/.env");
        assert_eq!(c.outbound.as_deref(), Some("API_KEY=x"));

        let c = parse(Agent::Cursor, CURSOR_PRE.as_bytes()).unwrap();
        assert_eq!(
            (c.name.as_str(), c.cwd.as_deref()),
            ("run_terminal_cmd", Some("/project"))
        );

        let c = parse(Agent::Gemini, GEMINI.as_bytes()).unwrap();
        assert_eq!(c.name, "run_shell_command");
        assert_eq!(c.args["dir_path"], ".");

        let c = parse(Agent::Gemini, GEMINI_MCP.as_bytes()).unwrap();
        assert_eq!(c.name, "mcp__fs__read_file");
    }

    #[test]
    fn what_cannot_be_understood_is_an_error() {
        for (agent, input) in [
            (Agent::ClaudeCode, "not json"),
            (Agent::ClaudeCode, "[]"),
            (Agent::ClaudeCode, r#"{"hook_event_name":"PreToolUse"}"#),
            (
                Agent::ClaudeCode,
                r#"{"hook_event_name":"PreToolUse","tool_name":7}"#,
            ),
            (
                Agent::ClaudeCode,
                r#"{"hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":[1]}"#,
            ),
            (
                Agent::ClaudeCode,
                r#"{"hook_event_name":"PostToolUse","tool_name":"Bash","tool_input":{}}"#,
            ),
            (
                Agent::ClaudeCode,
                r#"{"hook_event_name":"PreToolUse","tool_name":"Bash","cwd":["/x"]}"#,
            ),
            (
                Agent::Gemini,
                r#"{"hook_event_name":"AfterTool","tool_name":"read_file"}"#,
            ),
            (
                Agent::Cursor,
                r#"{"hook_event_name":"beforeShellExecution"}"#,
            ),
            (
                Agent::Cursor,
                r#"{"hook_event_name":"afterFileEdit","file_path":"/x"}"#,
            ),
            (Agent::Cursor, r#"{"tool_name":"Shell"}"#),
            (
                Agent::Cursor,
                r#"{"hook_event_name":"beforeMCPExecution","tool_name":"q","tool_input":"{not json"}"#,
            ),
        ] {
            assert!(parse(agent, input.as_bytes()).is_err(), "{agent:?} {input}");
        }
    }

    #[test]
    fn refusals_are_given_in_every_form_the_agent_blocks_on() {
        let r = reply(Agent::ClaudeCode, "PreToolUse", &block("protect-ssh-keys"));
        assert_eq!(r.exit, 2);
        assert!(r.stderr.contains("protect-ssh-keys"));
        let v: Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(v["hookSpecificOutput"]["permissionDecision"], "deny");
        assert_eq!(v["hookSpecificOutput"]["hookEventName"], "PreToolUse");

        let r = reply(Agent::Gemini, "BeforeTool", &block("r"));
        assert_eq!(r.exit, 2);
        let v: Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(v["decision"], "deny");
        assert!(v["reason"].as_str().unwrap().contains("(r)"));

        let r = reply(Agent::Cursor, "beforeShellExecution", &block("r"));
        assert_eq!(r.exit, 2);
        let v: Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(v["permission"], "deny");
        assert!(v["user_message"].is_string() && v["agentMessage"].is_string());
    }

    #[test]
    fn an_allowed_call_leaves_the_agents_own_checks_in_place() {
        for agent in [Agent::ClaudeCode, Agent::Gemini] {
            let r = reply(agent, "", &allow());
            assert_eq!((r.exit, r.stdout.as_str()), (0, ""), "{agent:?}");
        }
        let r = reply(Agent::Cursor, "beforeReadFile", &allow());
        let v: Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(v["permission"], "allow");
    }

    #[test]
    fn a_policy_that_cannot_be_loaded_refuses_every_call() {
        let own = OwnFiles::new(Vec::new());
        let r = run(
            Err("no bundle"),
            &own,
            Agent::ClaudeCode,
            CLAUDE.as_bytes(),
            "/home/user",
        );
        assert_eq!(r.exit, 2);
        assert!(r.stderr.contains("cannot load its policy: no bundle"));
    }
}
