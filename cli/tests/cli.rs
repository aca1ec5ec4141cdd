//! Command-line contracts: `crust check --json` line format and order, exit codes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::Write;
use std::process::{Command, Stdio};

fn crust(args: &[&str], stdin: &str) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crust"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

#[test]
fn check_json_contract() {
    let input = concat!(
        "{\"tool\": \"Read\", \"args\": {\"file_path\": \"~/.ssh/id_rsa\"}}\n",
        "\n",
        "{\"name\": \"Bash\", \"arguments\": \"{\\\"command\\\": \\\"ls -la\\\"}\"}\n",
        "{\"name\": \"Write\", \"arguments\": {\"file_path\": \".git/hooks/pre-push\", \"content\": \"cp ~/.netrc /tmp/n\"}}\n",
        "this is not json\n",
    );
    let (code, out) = crust(
        &["check", "--json", "--home", "/home/u", "--cwd", "/home/u/p"],
        input,
    );
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(
        lines[0].starts_with(
            "{\"decision\":\"block\",\"rule\":\"protect-ssh-keys\",\"message\":\"SSH private keys"
        ),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].ends_with(",\"severity\":\"critical\"}"),
        "{}",
        lines[0]
    );
    assert_eq!(
        lines[1],
        "{\"decision\":\"allow\",\"rule\":null,\"message\":null,\"severity\":null}"
    );
    let v: serde_json::Value = serde_json::from_str(lines[2]).unwrap();
    // A hook is judged by the commands it will run.
    assert_eq!(v["rule"], "protect-git-credentials");
    let v: serde_json::Value = serde_json::from_str(lines[3]).unwrap();
    assert_eq!(v["decision"], "block");
    assert!(v["message"].as_str().unwrap().contains("not JSON"));
    for l in lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert_eq!(v.as_object().unwrap().len(), 4);
    }
}

#[test]
fn check_with_a_bundle_and_explain() {
    let dir = std::env::temp_dir().join(format!("crust-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bin = dir.join("p.bin");
    let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules");
    let st = Command::new(env!("CARGO_BIN_EXE_crustc"))
        .arg(&rules)
        .arg("-o")
        .arg(&bin)
        .status()
        .unwrap();
    assert!(st.success());
    let bin = bin.display().to_string();
    let (code, out) = crust(
        &["check", "--policy", &bin, "--home", "/h"],
        "{\"tool\":\"Read\",\"args\":{\"file_path\":\"/h/.aws/credentials\"}}\n",
    );
    assert_eq!(code, 0);
    assert!(
        out.starts_with("block  protect-cloud-credentials: "),
        "{out}"
    );
    let (_, out) = crust(
        &[
            "explain", "--json", "--policy", &bin, "--home", "/h", "--cwd", "/p",
        ],
        "{\"tool\":\"Bash\",\"args\":{\"command\":\"cat .env ~/.netrc\"}}\n",
    );
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let rules: Vec<&str> = v["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["rule"].as_str().unwrap())
        .collect();
    assert!(
        rules.contains(&"protect-env-files") && rules.contains(&"protect-git-credentials"),
        "{out}"
    );
    assert_eq!(v["matches"][0]["evidence"][0]["field"], "path");
    // A corrupt bundle is refused with exit 1.
    std::fs::write(dir.join("bad.bin"), b"CRUSTPB\0garbage").unwrap();
    let (code, _) = crust(
        &[
            "check",
            "--policy",
            &dir.join("bad.bin").display().to_string(),
        ],
        "",
    );
    assert_eq!(code, 1);
}

#[test]
fn explain_marks_what_the_analysis_could_not_work_out() {
    let (_, out) = crust(
        &["explain", "--home", "/h", "--cwd", "/p"],
        "{\"tool\":\"Bash\",\"args\":{\"command\":\"cat \\\"$F\\\" ~/.ssh/*\"}}\n",
    );
    assert!(out.contains("command=\"cat <?> /h/.ssh/*\""), "{out}");
    assert!(out.contains("glob=\"/h/.ssh/*\""), "{out}");
    assert!(out.contains("unresolved: `<?>`"), "{out}");
}

#[test]
fn test_command_reports_and_exits() {
    let tables = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policy-tests");
    let (code, out) = crust(&["test", &tables.display().to_string(), "--coverage"], "");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("rules that no case blocks (0): none"), "{out}");
    assert!(out.trim_end().ends_with(" passed, 0 failed"), "{out}");
}

#[test]
fn explain_evidence_leaves_out_excepted_values() {
    let (_, out) = crust(
        &["explain", "--json", "--home", "/h", "--cwd", "/p"],
        "{\"tool\":\"Bash\",\"args\":{\"command\":\"cat .env.example .env\"}}\n",
    );
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let m = v["matches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["rule"] == "protect-env-files")
        .unwrap();
    let values: Vec<&str> = m["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, vec!["/p/.env"], "{out}");
}

/// `crust hook AGENT`: the agent's input on stdin, its answer on stdout and in the exit code.
fn hook(agent: &str, policy: &std::path::Path, home: &str, stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crust"))
        .args(["hook", agent, "--policy"])
        .arg(policy)
        .env("HOME", home)
        // Each call judges by itself (the hook server has its own end-to-end tests).
        .env("CRUST_HOOK_SERVER", "off")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn hook_answers_each_agent_in_its_format_and_refuses_what_it_cannot_judge() {
    let dir = std::env::temp_dir().join(format!("crust-hook-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let policy = dir.join("policy.bin");
    let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules");
    let st = Command::new(env!("CARGO_BIN_EXE_crustc"))
        .arg(&rules)
        .arg("-o")
        .arg(&policy)
        .status()
        .unwrap();
    assert!(st.success());
    let home = "/home/u";

    let claude = |cmd: &str| {
        serde_json::json!({"session_id": "s", "cwd": "/home/u/p", "hook_event_name": "PreToolUse",
                           "tool_name": "Bash", "tool_input": {"command": cmd}})
        .to_string()
    };
    let (code, out, err) = hook("claude-code", &policy, home, &claude("cat ~/.ssh/id_rsa"));
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("protect-ssh-keys"), "{err}");
    assert!(out.contains("\"permissionDecision\":\"deny\""), "{out}");
    let (code, out, _) = hook(
        "claude-code",
        &policy,
        home,
        &claude("cargo test --workspace"),
    );
    assert_eq!((code, out.as_str()), (0, ""));

    // The relative path is resolved against the directory the shell runs in.
    let gemini = serde_json::json!({"session_id": "s", "cwd": "/home/u/p", "hook_event_name": "BeforeTool",
        "tool_name": "run_shell_command", "tool_input": {"command": "cat id_ed25519", "dir_path": "/home/u/.ssh"}});
    let (code, out, _) = hook("gemini", &policy, home, &gemini.to_string());
    assert_eq!(code, 2);
    assert!(out.contains("\"decision\":\"deny\""), "{out}");

    let cursor = serde_json::json!({"conversation_id": "c", "hook_event_name": "beforeShellExecution",
        "command": "git status", "cwd": "/home/u/p", "workspace_roots": ["/home/u/p"]});
    let (code, out, _) = hook("cursor", &policy, home, &cursor.to_string());
    assert_eq!(code, 0);
    assert!(out.contains("\"permission\":\"allow\""), "{out}");

    // Garbage, an event without a tool call, a bundle that is not there, a damaged bundle.
    let (code, _, err) = hook("claude-code", &policy, home, "{\"tool_name\": ");
    assert_eq!(code, 2);
    assert!(err.contains("not JSON"), "{err}");
    let (code, out, _) = hook("cursor", &policy, home, "{\"hook_event_name\":\"stop\"}");
    assert!(
        code == 2 && out.contains("\"permission\":\"deny\""),
        "{out}"
    );
    let (code, _, err) = hook("claude-code", &dir.join("missing.bin"), home, &claude("ls"));
    assert_eq!(code, 2);
    assert!(err.contains("cannot load its policy"), "{err}");
    // (A damaged section the call does not consult is never read: see tests/bundle.rs.)
    let mut bytes = std::fs::read(&policy).unwrap();
    bytes[crust_runtime::bundle::format::HEADER_LEN + 10] ^= 0xff;
    let damaged = dir.join("damaged.bin");
    std::fs::write(&damaged, &bytes).unwrap();
    let (code, _, err) = hook("gemini", &damaged, home, &gemini.to_string());
    assert_eq!(code, 2);
    assert!(err.contains("checksum"), "{err}");
}
