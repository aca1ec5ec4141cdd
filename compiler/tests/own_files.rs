//! The files a running Crust process uses are protected wherever they are, on top of the
//! built-in rules: a bundle kept in a project, a `--rules` directory, an audit log elsewhere.

#![allow(clippy::unwrap_used)]

use crust_compiler::compile_sources;
use crust_runtime::own::{OwnFiles, OWN_FILES_RULE};
use crust_runtime::{Engine, ToolCall};
use serde_json::json;
use std::path::PathBuf;

fn bundle() -> Engine {
    let bytes = compile_sources(crust_compiler::builtin_sources())
        .map_err(|e| e.render())
        .unwrap()
        .bytes;
    Engine::from_bytes(&bytes).unwrap()
}

fn own() -> OwnFiles {
    OwnFiles::new([
        PathBuf::from("/work/app/policy.bin"),
        PathBuf::from("/opt/team-rules"),
        PathBuf::from("/var/tmp/crust-audit/audit.log"),
    ])
}

fn decide(b: &Engine, o: &OwnFiles, tool: &str, args: serde_json::Value) -> Option<String> {
    let v = b.evaluate_guarded(
        &ToolCall {
            name: tool,
            args: &args,
            cwd: Some("/work/app"),
            home: Some("/home/user"),
        },
        o,
    );
    v.is_block()
        .then(|| v.rule.unwrap_or_default().into_owned())
}

#[test]
fn every_way_to_touch_the_running_bundle_is_blocked() {
    let (b, o) = (bundle(), own());
    let bash = |c: &str| json!({ "command": c });
    for c in [
        "crustc empty.yaml -o policy.bin",
        "cp /tmp/empty.bin ./policy.bin",
        "echo x > /work/app/policy.bin",
        "rm -f policy.bin",
        "mv policy.bin policy.old",
        "dd if=/dev/zero of=policy.bin bs=1 count=64 conv=notrunc",
        "rm -f /opt/team-rules/../team-rules/base.yaml",
        "mv /var/tmp/crust-audit /tmp/elsewhere",
        "cp allow-all.yaml /opt/team-rules/",
        "truncate -s 0 /var/tmp/crust-audit/audit.log",
        "rm /work/app/*.bin",
    ] {
        assert_eq!(
            decide(&b, &o, "Bash", bash(c)).as_deref(),
            Some(OWN_FILES_RULE),
            "{c}"
        );
    }
    assert_eq!(
        decide(
            &b,
            &o,
            "Write",
            json!({ "file_path": "/opt/team-rules/allow.yaml", "content": "x" })
        )
        .as_deref(),
        Some(OWN_FILES_RULE)
    );
    assert_eq!(
        decide(
            &b,
            &o,
            "Edit",
            json!({ "file_path": "policy.bin", "old_string": "a", "new_string": "b" })
        )
        .as_deref(),
        Some(OWN_FILES_RULE)
    );
}

#[test]
fn near_misses_pass() {
    let (b, o) = (bundle(), own());
    for c in [
        "ls /work/app",
        "cargo build --release",
        "crustc rules/ -o target/policy.bin",
        "cat /opt/team-rules-draft/a.yaml",
        "rm -rf target",
        "cp policy.bin.example /tmp/x",
    ] {
        assert_eq!(decide(&b, &o, "Bash", json!({ "command": c })), None, "{c}");
    }
    // No own files (the stdin checker): nothing extra.
    assert_eq!(
        decide(
            &b,
            &OwnFiles::default(),
            "Bash",
            json!({ "command": "rm policy.bin" })
        ),
        None
    );
}

#[test]
fn stopping_the_process_by_the_port_it_listens_on_is_blocked_whatever_the_port() {
    use crust_runtime::own::OWN_PROCESS_RULE;
    let b = bundle();
    let o = own().with_ports([9123, 0]);
    let bash = |c: &str| json!({ "command": c });
    for c in [
        "fuser -k 9123/tcp",
        "fuser -n tcp -k 9123",
        "sudo fuser -TERM -k 9123/tcp",
        "lsof -ti :9123 | xargs kill",
        "lsof -t -iTCP:9123 -sTCP:LISTEN | xargs -r kill -9",
        "kill $(lsof -t -i:9123)",
        "kill -9 `lsof -ti tcp:9123`",
        "npx kill-port 9123",
        "npx -y kill-port --port 9123",
        "fkill :9123",
        "ss -K sport = :9123",
        "ss -tlnp | grep 9123 && pkill -f node",
        "for p in $(lsof -ti:9123); do kill $p; done",
        "npx --yes kill-port@latest 9123",
        "kill $(pgrep -f 'listen 127.0.0.1:9123')",
        "netstat -tlnp | awk '/:9123/ {print $7}' | cut -d/ -f1 | xargs kill",
        "kill $(ss -ltnp 'sport = :9123' | grep -o 'pid=[0-9]*' | cut -d= -f2)",
        "P=9123; fuser -sk $P/tcp",
    ] {
        assert_eq!(
            decide(&b, &o, "Bash", bash(c)).as_deref(),
            Some(OWN_PROCESS_RULE),
            "{c}"
        );
    }
    // Looking, other ports, and killing without a port lookup pass.
    for c in [
        "lsof -i :9123",
        "ss -tlnp | grep 9123",
        "fuser 9123/tcp",
        "fuser -k 3000/tcp",
        "lsof -ti :3000 | xargs kill",
        "npx kill-port 5173",
        "curl localhost:9123/crust/health; kill %1",
        "docker run -p 9123:80 nginx",
        "kill 4242",
    ] {
        assert_eq!(decide(&b, &o, "Bash", bash(c)), None, "{c}");
    }
}

#[test]
fn a_symbolic_link_on_this_machine_is_judged_as_what_it_names() {
    let dir = std::env::temp_dir().join(format!("crust-links-{}", std::process::id()));
    let home = dir.join("home");
    let project = home.join("project");
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(home.join(".ssh/id_rsa"), "k").unwrap();
    std::fs::write(project.join("README.md"), "r").unwrap();
    // What a cloned repository can bring: a file link and a directory link into secrets.
    std::os::unix::fs::symlink(home.join(".ssh/id_rsa"), project.join("notes.txt")).unwrap();
    std::os::unix::fs::symlink("../.ssh", project.join("cfg")).unwrap();
    std::os::unix::fs::symlink("README.md", project.join("readme-link")).unwrap();
    let b = bundle();
    let o = own();
    let (h, p) = (home.to_str().unwrap(), project.to_str().unwrap());
    let judge = |tool: &str, args: serde_json::Value| {
        let v = b.evaluate_guarded(
            &ToolCall {
                name: tool,
                args: &args,
                cwd: Some(p),
                home: Some(h),
            },
            &o,
        );
        v.is_block()
            .then(|| v.rule.unwrap_or_default().into_owned())
    };
    for c in [
        "cat notes.txt",
        "cat cfg/id_rsa",
        "base64 ./notes.txt",
        "cat cfg/id_*",
        "grep -r . cfg",
        "tar -czhf /tmp/x.tgz cfg",
    ] {
        assert_eq!(
            judge("Bash", json!({ "command": c })).as_deref(),
            Some("protect-ssh-keys"),
            "{c}"
        );
    }
    assert_eq!(
        judge("Read", json!({ "file_path": format!("{p}/notes.txt") })).as_deref(),
        Some("protect-ssh-keys")
    );
    // Links to ordinary files, and listing a linked directory, pass. (`cp -r cfg` is refused,
    // although cp copies the link itself: a recursive operation on a link is judged by what
    // it names.)
    for c in ["cat readme-link", "cat README.md", "ls -la cfg", "ls cfg/"] {
        assert_eq!(judge("Bash", json!({ "command": c })), None, "{c}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_glob_is_judged_as_what_it_expands_to_on_this_machine() {
    let dir = std::env::temp_dir().join(format!("crust-globs-{}", std::process::id()));
    let home = dir.join("home");
    let project = home.join("project");
    std::fs::create_dir_all(project.join("certs")).unwrap();
    std::fs::create_dir_all(project.join("src")).unwrap();
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    std::fs::write(home.join(".ssh/id_rsa"), "k").unwrap();
    // A keystore and a password database whose names the globs below do not spell.
    std::fs::write(project.join("certs/release.jks"), "k").unwrap();
    std::fs::write(project.join("vault.kdbx"), "k").unwrap();
    std::fs::write(project.join("README.md"), "r").unwrap();
    std::fs::write(project.join("src/main.rs"), "r").unwrap();
    std::fs::write(project.join(".hidden.kdbx"), "k").unwrap();
    let b = bundle();
    let o = own();
    let (h, p) = (home.to_str().unwrap(), project.to_str().unwrap());
    let judge = |c: &str| {
        let args = json!({ "command": c });
        let v = b.evaluate_guarded(
            &ToolCall {
                name: "Bash",
                args: &args,
                cwd: Some(p),
                home: Some(h),
            },
            &o,
        );
        v.is_block()
            .then(|| v.rule.unwrap_or_default().into_owned())
    };
    for (c, rule) in [
        ("cat *", "protect-desktop-app-tokens"),
        ("cat v*", "protect-desktop-app-tokens"),
        ("cp * /tmp/out/", "protect-desktop-app-tokens"),
        ("cat certs/*", "protect-private-key-stores"),
        ("cat */*", "protect-private-key-stores"),
        ("base64 cert?/rel*", "protect-private-key-stores"),
        ("cat .h*", "protect-desktop-app-tokens"),
        ("cat ../.ss?/*", "protect-ssh-keys"),
    ] {
        assert_eq!(judge(c).as_deref(), Some(rule), "{c}");
    }
    // Globs that expand to ordinary files, `*` over dot names (bash skips them), globs that
    // match nothing, and unknown text (any name, not what is on disk) pass.
    for c in [
        "cat *.md",
        "cat src/*",
        "wc -l src/*.rs README*",
        "cat s*/*",
        "cat nothing-*",
        "cat \"$F\"",
    ] {
        assert_eq!(judge(c), None, "{c}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
