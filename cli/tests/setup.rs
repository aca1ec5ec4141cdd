//! `crust setup` on a fake home directory holding real configuration files of each agent:
//! the diff, the backup, idempotence, `--undo` byte for byte, and files it must not touch.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use serde_json::Value;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const CRUST: &str = "/opt/crust/bin/crust";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/setup/home")
}

/// A fresh copy of the fixture home.
fn home(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("crust-setup-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy(&fixture(), &dir);
    // Claude Code keeps ~/.claude.json private; setup must keep it so.
    std::fs::set_permissions(
        dir.join(".claude.json"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    dir
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

/// Every file under `dir` (outside Crust's own state) with its bytes and mode.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (Vec<u8>, u32)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.starts_with(dir.join(".local")) {
                continue;
            }
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                stack.push(p);
            } else {
                let mode = m.permissions().mode() & 0o7777;
                out.insert(p.clone(), (std::fs::read(&p).unwrap(), mode));
            }
        }
    }
    out
}

fn setup(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_crust"))
        .arg("setup")
        .args(["--crust", CRUST])
        .args(args)
        .env("HOME", home)
        .env_remove("CODEX_HOME")
        .env_remove("XDG_CONFIG_HOME")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn json(p: &Path) -> Value {
    let text = std::fs::read_to_string(p).unwrap();
    jsonc_parser::parse_to_serde_value::<Value>(&text, &Default::default()).unwrap()
}

#[test]
fn a_dry_run_shows_the_diff_and_writes_nothing() {
    let h = home("dry");
    let before = snapshot(&h);
    let o = setup(&h, &["--dry-run"]);
    let out = stdout(&o);
    assert_eq!(snapshot(&h), before, "a dry run wrote");
    assert!(!h.join(".local/share/crust/setup").exists());
    for want in [
        "+            \"command\": \"/opt/crust/bin/crust hook claude-code\"",
        "+command = \"/opt/crust/bin/crust\"",
        "+model_provider = \"crust\"",
        "--- /dev/null",
        "dry run: nothing written",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    // The Claude Desktop file does not parse: named, left alone, and the exit code says so.
    assert!(out.contains("claude_desktop_config.json: left untouched: not valid JSON"));
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn setup_wires_every_agent_keeps_what_was_there_and_backs_up() {
    let h = home("apply");
    let before = snapshot(&h);
    let o = setup(&h, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));

    let claude = json(&h.join(".claude/settings.json"));
    assert_eq!(
        claude["hooks"]["PreToolUse"][0]["hooks"][0]["command"],
        "/opt/crust/bin/crust hook claude-code"
    );
    assert_eq!(claude["env"]["ANTHROPIC_BASE_URL"], "http://127.0.0.1:9090");
    assert_eq!(claude["hooks"]["PostToolUse"][0]["matcher"], "Edit|Write");
    assert_eq!(claude["model"], "opus");

    let state = json(&h.join(".claude.json"));
    let fs = &state["mcpServers"]["filesystem"];
    assert_eq!(fs["command"], CRUST);
    assert_eq!(
        fs["args"],
        serde_json::json!([
            "wrap",
            "--name",
            "filesystem",
            "--",
            "npx",
            "-y",
            "@modelcontextprotocol/server-filesystem",
            "/home/user/project"
        ])
    );
    assert_eq!(
        state["mcpServers"]["linear"]["url"],
        "https://mcp.linear.app/mcp"
    );
    assert_eq!(
        state["projects"]["/home/user/project"]["mcpServers"]["sqlite"]["args"][4],
        "uvx"
    );
    assert_eq!(state["numStartups"], 42);

    let codex: toml_edit::DocumentMut = std::fs::read_to_string(h.join(".codex/config.toml"))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(codex["model_provider"].as_str(), Some("crust"));
    let p = &codex["model_providers"]["crust"];
    assert_eq!(p["base_url"].as_str(), Some("http://127.0.0.1:9090/v1"));
    assert_eq!(p["wire_api"].as_str(), Some("responses"));
    assert_eq!(p["supports_websockets"].as_bool(), Some(false));
    assert_eq!(
        codex["mcp_servers"]["context7"]["command"].as_str(),
        Some(CRUST)
    );
    assert_eq!(
        codex["mcp_servers"]["docs"]["url"].as_str(),
        Some("https://example.com/mcp")
    );
    let codex_text = std::fs::read_to_string(h.join(".codex/config.toml")).unwrap();
    assert!(
        codex_text.starts_with("# my codex settings\n"),
        "{codex_text}"
    );

    let cursor = json(&h.join(".cursor/hooks.json"));
    for event in [
        "preToolUse",
        "beforeShellExecution",
        "beforeMCPExecution",
        "beforeReadFile",
    ] {
        assert_eq!(
            cursor["hooks"][event][0]["command"],
            "/opt/crust/bin/crust hook cursor"
        );
    }
    let cursor_mcp = std::fs::read_to_string(h.join(".cursor/mcp.json")).unwrap();
    assert!(
        cursor_mcp.contains("// project tools"),
        "the comment was lost"
    );
    let gemini = json(&h.join(".gemini/settings.json"));
    assert_eq!(
        gemini["hooks"]["BeforeTool"][0]["hooks"][0]["command"],
        "/opt/crust/bin/crust hook gemini"
    );
    assert_eq!(gemini["mcpServers"]["git"]["args"][2], "git");
    let code = std::fs::read_to_string(h.join(".config/Code/User/mcp.json")).unwrap();
    assert!(
        code.contains("\t\t\t\"command\": \"/opt/crust/bin/crust\""),
        "{code}"
    );

    // Untouched: the file that does not parse.
    let desktop = h.join(".config/Claude/claude_desktop_config.json");
    assert_eq!(snapshot(&h)[&desktop], before[&desktop]);
    // Modes kept; backups private and equal to the originals.
    assert_eq!(snapshot(&h)[&h.join(".claude.json")].1, 0o600);
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(h.join(".local/share/crust/setup/manifest.json")).unwrap(),
    )
    .unwrap();
    for e in manifest["files"].as_array().unwrap() {
        let path = PathBuf::from(e["path"].as_str().unwrap());
        match e["backup"].as_str() {
            Some(b) => {
                assert_eq!(std::fs::read(b).unwrap(), before[&path].0);
                let mode = std::fs::metadata(b).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600);
            }
            None => assert!(!before.contains_key(&path)),
        }
    }
}

#[test]
fn setup_is_idempotent_and_undo_restores_every_byte() {
    let h = home("undo");
    let before = snapshot(&h);
    setup(&h, &[]);
    let wired = snapshot(&h);
    let again = setup(&h, &[]);
    assert_eq!(snapshot(&h), wired, "a second run changed files");
    assert!(
        stdout(&again).contains("nothing to change"),
        "{}",
        stdout(&again)
    );
    let u = setup(&h, &["--undo"]);
    assert_eq!(u.status.code(), Some(0), "{}", stdout(&u));
    assert_eq!(
        snapshot(&h),
        before,
        "undo did not restore every byte and mode"
    );
    assert!(!h.join(".local/share/crust/setup/manifest.json").exists());
    let twice = setup(&h, &["--undo"]);
    assert!(stdout(&twice).contains("nothing to undo"));
}

#[test]
fn undo_after_later_changes_takes_out_only_what_setup_added() {
    let h = home("later");
    setup(&h, &[]);
    // The agent rewrites its state file, the user adds a hook of their own and a server.
    let state = h.join(".claude.json");
    let text = std::fs::read_to_string(&state).unwrap();
    std::fs::write(
        &state,
        text.replace("\"numStartups\":42", "\"numStartups\":43"),
    )
    .unwrap();
    let settings = h.join(".claude/settings.json");
    let mut s = json(&settings);
    s["hooks"]["PreToolUse"][0]["hooks"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"type": "command", "command": "my-audit"}));
    std::fs::write(&settings, serde_json::to_string_pretty(&s).unwrap()).unwrap();
    let codex = h.join(".codex/config.toml");
    let mut t = std::fs::read_to_string(&codex).unwrap();
    t.push_str("\n[mcp_servers.new]\ncommand = \"node\"\nargs = [\"srv.js\"]\n");
    std::fs::write(&codex, t).unwrap();

    let u = setup(&h, &["--undo"]);
    assert_eq!(u.status.code(), Some(0), "{}", stdout(&u));
    let state = json(&state);
    assert_eq!(state["numStartups"], 43);
    assert_eq!(state["mcpServers"]["filesystem"]["command"], "npx");
    assert_eq!(state["mcpServers"]["filesystem"]["args"][0], "-y");
    assert_eq!(
        state["projects"]["/home/user/project"]["mcpServers"]["sqlite"]["command"],
        "uvx"
    );
    let s = json(&settings);
    let hooks = &s["hooks"]["PreToolUse"][0]["hooks"];
    assert_eq!(hooks.as_array().unwrap().len(), 1);
    assert_eq!(hooks[0]["command"], "my-audit");
    assert!(s.get("env").is_none(), "{s}");
    let t = std::fs::read_to_string(&codex).unwrap();
    assert!(!t.contains("crust"), "{t}");
    assert!(
        t.contains("[mcp_servers.new]") && t.contains("command = \"npx\""),
        "{t}"
    );
}

#[test]
fn settings_that_point_elsewhere_are_kept_and_said() {
    let h = home("elsewhere");
    std::fs::write(
        h.join(".claude/settings.json"),
        r#"{"env": {"ANTHROPIC_BASE_URL": "https://gateway.corp.example"}}"#,
    )
    .unwrap();
    std::fs::write(
        h.join(".codex/config.toml"),
        "model_provider = \"azure\"\n\n[model_providers.azure]\nbase_url = \"https://x.openai.azure.com/openai\"\n",
    )
    .unwrap();
    let o = setup(&h, &["--agent", "claude-code", "--agent", "codex"]);
    let out = stdout(&o);
    assert!(
        out.contains("ANTHROPIC_BASE_URL is https://gateway.corp.example: left as it is"),
        "{out}"
    );
    assert!(
        out.contains("model_provider is \"azure\": left as it is"),
        "{out}"
    );
    let s = json(&h.join(".claude/settings.json"));
    assert_eq!(
        s["env"]["ANTHROPIC_BASE_URL"],
        "https://gateway.corp.example"
    );
    assert!(
        s["hooks"]["PreToolUse"].is_array(),
        "the hook is still wired"
    );
    // Only the agents named were touched.
    assert!(!h.join(".cursor/hooks.json").exists());
}

#[test]
fn no_proxy_wires_hooks_and_servers_only() {
    let h = home("noproxy");
    setup(&h, &["--no-proxy", "--no-wrap"]);
    let s = json(&h.join(".claude/settings.json"));
    assert!(s.get("env").is_none());
    assert!(s["hooks"]["PreToolUse"].is_array());
    let t = std::fs::read_to_string(h.join(".codex/config.toml")).unwrap();
    assert!(!t.contains("crust"), "{t}");
    let state = json(&h.join(".claude.json"));
    assert_eq!(state["mcpServers"]["filesystem"]["command"], "npx");
}

#[test]
fn a_named_agent_is_configured_where_it_has_no_directory_yet_and_links_are_written_through() {
    let h = home("named");
    std::fs::remove_dir_all(h.join(".gemini")).unwrap();
    // Absent and not named: left alone.
    setup(&h, &["--agent", "codex"]);
    assert!(!h.join(".gemini").exists());
    setup(&h, &["--agent", "gemini"]);
    assert!(json(&h.join(".gemini/settings.json"))["hooks"]["BeforeTool"].is_array());
    // A settings file that is a link into a dotfiles checkout stays a link.
    let dotfiles = h.join("dotfiles");
    std::fs::create_dir_all(&dotfiles).unwrap();
    let cursor = h.join(".cursor/hooks.json");
    std::fs::write(
        dotfiles.join("hooks.json"),
        "{\"version\": 1, \"hooks\": {}}\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(dotfiles.join("hooks.json"), &cursor).unwrap();
    setup(&h, &["--agent", "cursor"]);
    assert!(std::fs::symlink_metadata(&cursor)
        .unwrap()
        .file_type()
        .is_symlink());
    let linked = json(&dotfiles.join("hooks.json"));
    assert_eq!(
        linked["hooks"]["beforeShellExecution"][0]["command"],
        "/opt/crust/bin/crust hook cursor"
    );
}

#[test]
fn a_link_to_a_missing_file_is_created_at_its_target_and_a_read_only_file_is_left_alone() {
    use std::os::unix::fs::PermissionsExt;
    let h = home("links");
    // A relative link into a dotfiles checkout whose file does not exist yet.
    let dotfiles = h.join("dotfiles/cursor");
    std::fs::create_dir_all(&dotfiles).unwrap();
    let cursor = h.join(".cursor/hooks.json");
    let _ = std::fs::remove_file(&cursor);
    std::os::unix::fs::symlink("../dotfiles/cursor/hooks.json", &cursor).unwrap();
    let o = setup(&h, &["--agent", "cursor"]);
    assert!(o.status.success(), "{}", stdout(&o));
    assert!(std::fs::symlink_metadata(&cursor)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(json(&dotfiles.join("hooks.json"))["hooks"]["preToolUse"].is_array());
    // A settings file its owner made read-only.
    let gemini = h.join(".gemini/settings.json");
    let before = std::fs::read(&gemini).unwrap();
    std::fs::set_permissions(&gemini, std::fs::Permissions::from_mode(0o444)).unwrap();
    let o = setup(&h, &["--agent", "gemini"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("read-only"), "{}", stdout(&o));
    assert_eq!(std::fs::read(&gemini).unwrap(), before);
}

#[test]
fn a_codex_profile_with_its_own_provider_is_said_to_go_around_crust() {
    let h = home("profiles");
    let codex = h.join(".codex/config.toml");
    let mut text = std::fs::read_to_string(&codex).unwrap();
    text.push_str(
        "\n[profiles.work]\nmodel_provider = \"azure\"\n\n[profiles.fast]\nmodel = \"o4-mini\"\n",
    );
    std::fs::write(&codex, text).unwrap();
    let o = setup(&h, &["--agent", "codex"]);
    let out = stdout(&o);
    assert!(
        out.contains("profile `work` uses model_provider \"azure\""),
        "{out}"
    );
    assert!(!out.contains("`fast`"), "{out}");
    // Setup leaves the profile as it is.
    let t = std::fs::read_to_string(&codex).unwrap();
    assert!(
        t.contains("[profiles.work]\nmodel_provider = \"azure\""),
        "{t}"
    );
}

#[test]
fn the_small_hook_client_beside_crust_is_wired_and_the_older_form_still_counts() {
    let h = home("client");
    let bin = h.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for name in ["crust", "crust-hook"] {
        std::fs::write(bin.join(name), "#!/bin/sh\n").unwrap();
    }
    let crust = bin.join("crust").to_string_lossy().into_owned();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_crust"))
            .args(["setup", "--crust", &crust, "--yes"])
            .args(args)
            .env("HOME", &h)
            .env_remove("CODEX_HOME")
            .env_remove("XDG_CONFIG_HOME")
            .output()
            .unwrap()
    };
    let o = run(&["--agent", "gemini"]);
    assert!(o.status.success(), "{}", stdout(&o));
    let gemini = json(&h.join(".gemini/settings.json"));
    let hooks = gemini["hooks"]["BeforeTool"].as_array().unwrap();
    let cmd = hooks.last().unwrap()["hooks"][0]["command"]
        .as_str()
        .unwrap();
    assert_eq!(cmd, format!("{}/crust-hook gemini", bin.display()));
    // A hook wired by an older setup (`crust hook AGENT`) is wired: nothing is added.
    let o = run(&["--agent", "claude-code"]);
    assert!(o.status.success(), "{}", stdout(&o));
    let before = std::fs::read(h.join(".claude/settings.json")).unwrap();
    let text = String::from_utf8(before.clone()).unwrap();
    let older = text.replace(
        &format!("{}/crust-hook claude-code", bin.display()),
        &format!("{crust} hook claude-code"),
    );
    assert_ne!(older, text);
    std::fs::write(h.join(".claude/settings.json"), &older).unwrap();
    let o = run(&["--agent", "claude-code", "--dry-run"]);
    assert!(!stdout(&o).contains("PreToolUse hook"), "{}", stdout(&o));
    // Undo takes out either form.
    let o = Command::new(env!("CARGO_BIN_EXE_crust"))
        .args(["setup", "--undo"])
        .env("HOME", &h)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stdout(&o));
    let t = std::fs::read_to_string(h.join(".gemini/settings.json")).unwrap();
    assert!(!t.contains("crust-hook"), "{t}");
}

#[test]
fn an_unknown_agent_is_a_usage_error() {
    let h = home("unknown");
    let o = setup(&h, &["--agent", "notepad"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown agent `notepad`"));
}

#[test]
fn a_key_given_twice_leaves_the_file_untouched() {
    let h = home("dupes");
    let p = h.join(".claude/settings.json");
    std::fs::write(
        &p,
        "{\n\"hooks\": {},\n\"model\": \"opus\",\n\"hooks\": {\"PostToolUse\": []}\n}\n",
    )
    .unwrap();
    let before = std::fs::read(&p).unwrap();
    let o = setup(&h, &["--agent", "claude-code"]);
    assert!(
        stdout(&o).contains("the key `hooks` appears twice"),
        "{}",
        stdout(&o)
    );
    assert_eq!(std::fs::read(&p).unwrap(), before);
}

#[test]
fn a_hook_for_some_tools_or_at_a_stale_path_is_not_wired() {
    let h = home("partial");
    let p = h.join(".claude/settings.json");
    for hooks in [
        r#"{"matcher": "Bash", "hooks": [{"type": "command", "command": "/opt/crust/bin/crust hook claude-code"}]}"#,
        r#"{"matcher": "*", "hooks": [{"type": "command", "command": "/gone/0.1.0/bin/crust hook claude-code"}]}"#,
        r#"{"matcher": "*", "hooks": [{"type": "command", "command": "echo crust hook claude-code"}]}"#,
    ] {
        std::fs::write(&p, format!(r#"{{"hooks": {{"PreToolUse": [{hooks}]}}}}"#)).unwrap();
        let o = setup(&h, &["--agent", "claude-code", "--no-proxy"]);
        assert!(
            stdout(&o).contains("+ PreToolUse hook"),
            "{hooks}: {}",
            stdout(&o)
        );
        let s = json(&p);
        assert_eq!(
            s["hooks"]["PreToolUse"].as_array().unwrap().len(),
            2,
            "{hooks}"
        );
    }
}

#[test]
fn undo_keeps_what_the_user_changed_between_two_runs_and_their_own_settings() {
    let h = home("between");
    let state = h.join(".claude.json");
    // The user's own wrapper and their own base URL (the one setup would write) predate setup.
    let mut v = json(&state);
    v["mcpServers"]["mine"] =
        serde_json::json!({"command": "crust", "args": ["wrap", "--name", "mine", "--", "srv"]});
    std::fs::write(&state, serde_json::to_string(&v).unwrap()).unwrap();
    let settings = h.join(".claude/settings.json");
    std::fs::write(
        &settings,
        r#"{"env": {"ANTHROPIC_BASE_URL": "http://127.0.0.1:9090"}}"#,
    )
    .unwrap();
    setup(&h, &[]);
    // A server added between two runs of setup.
    let mut v = json(&state);
    v["mcpServers"]["added"] = serde_json::json!({"command": "node", "args": ["a.js"]});
    std::fs::write(&state, serde_json::to_string(&v).unwrap()).unwrap();
    setup(&h, &[]);
    assert_eq!(json(&state)["mcpServers"]["added"]["command"], CRUST);
    let u = setup(&h, &["--undo"]);
    assert_eq!(u.status.code(), Some(0), "{}", stdout(&u));
    let v = json(&state);
    assert_eq!(v["mcpServers"]["added"]["command"], "node", "{v}");
    assert_eq!(v["mcpServers"]["filesystem"]["command"], "npx");
    assert_eq!(
        v["mcpServers"]["mine"]["command"], "crust",
        "the user's own wrapper was undone"
    );
    assert_eq!(
        json(&settings)["env"]["ANTHROPIC_BASE_URL"],
        "http://127.0.0.1:9090",
        "the user's own base URL was taken out"
    );
    assert!(json(&settings)["hooks"].is_null());
}

#[test]
fn undo_without_its_backup_takes_out_what_setup_added() {
    let h = home("nobackup");
    setup(&h, &[]);
    for e in std::fs::read_dir(h.join(".local/share/crust/setup")).unwrap() {
        let p = e.unwrap().path();
        if p.file_name().unwrap() != "manifest.json" {
            std::fs::remove_file(p).unwrap();
        }
    }
    let u = setup(&h, &["--undo"]);
    assert_eq!(u.status.code(), Some(0), "{}", stdout(&u));
    assert_eq!(
        json(&h.join(".claude.json"))["mcpServers"]["filesystem"]["command"],
        "npx"
    );
    assert!(json(&h.join(".claude/settings.json"))["hooks"]["PreToolUse"].is_null());
}

/// Every fixture file with one character taken out, at every position: the edit either
/// refuses the text or succeeds idempotently (the property `fuzz/fuzz_targets/config_edit.rs`
/// checks on any input), and never panics.
#[test]
fn edits_are_idempotent_or_refused_on_near_miss_texts() {
    use crust_cli::setup::edit::{self, Note, Wiring};
    let w = Wiring {
        crust: CRUST.into(),
        anthropic_url: "http://127.0.0.1:9090".into(),
        openai_url: "http://127.0.0.1:9090/v1".into(),
        proxy: true,
        wrap: true,
    };
    let (json_edits, toml_edits) = (edit::JSON_EDITS, edit::TOML_EDITS);
    let mut checked = 0;
    for (file, toml) in [
        (".claude/settings.json", false),
        (".claude.json", false),
        (".cursor/mcp.json", false),
        (".gemini/settings.json", false),
        (".config/Code/User/mcp.json", false),
        (".codex/config.toml", true),
    ] {
        let text = std::fs::read_to_string(fixture().join(file)).unwrap();
        let chars: Vec<(usize, char)> = text.char_indices().collect();
        for &(at, c) in &chars {
            let mut t = text.clone();
            t.replace_range(at..at + c.len_utf8(), "");
            let apply = |s: &str| {
                if toml {
                    edit::toml(s, toml_edits, &w)
                } else {
                    edit::json(s, json_edits, &w)
                }
            };
            if let Ok((once, _)) = apply(&t) {
                let (twice, notes) = apply(&once).unwrap_or_else(|e| panic!("{file}@{at}: {e}"));
                assert!(
                    !notes.iter().any(|n| matches!(n, Note::Did(_))),
                    "{file}@{at}: {notes:?}"
                );
                assert_eq!(once, twice, "{file}@{at}");
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "only {checked} texts were edited");
}
