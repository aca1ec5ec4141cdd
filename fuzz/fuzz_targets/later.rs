//! Files that run later: bytes written (Write) or edited in (Edit) into a file of each format
//! the `later` table knows (the first byte picks the file, the second the tool), through the
//! whole decision with the built-in policy. No input may panic or take more than linear time.
#![no_main]

use crust_fuzz::{judge_within_linear_time, CWD, HOME};
use crust_runtime::ToolCall;
use libfuzzer_sys::fuzz_target;

const FILES: &[&str] = &[
    ".git/hooks/pre-commit",
    "/home/user/.bashrc",
    "ops/jobs.crontab",
    "/etc/cron.d/x",
    "package.json",
    ".vscode/tasks.json",
    ".zed/tasks.json",
    ".github/workflows/ci.yml",
    ".gitlab-ci.yml",
    "Dockerfile",
    "Makefile",
    "deploy/app.service",
    "site-packages/x.pth",
    "/home/user/.ssh/config",
    "setup.py",
    ".idea/runConfigurations/x.xml",
    "/home/user/.vimrc",
    "/home/user/Library/LaunchAgents/x.plist",
    "requirements.txt",
    "pyproject.toml",
    "Cargo.toml",
    ".mcp.json",
    "docker-compose.yml",
    "Gemfile",
    "go.mod",
    "pom.xml",
    "build.gradle.kts",
];

fuzz_target!(|data: &[u8]| {
    let (Some(&file), Some(&tool)) = (data.first(), data.get(1)) else {
        return;
    };
    let path = FILES
        .get(usize::from(file) % FILES.len())
        .copied()
        .unwrap_or("package.json");
    let text = String::from_utf8_lossy(data.get(2..).unwrap_or(&[])).into_owned();
    let (name, args) = if tool % 2 == 0 {
        (
            "Write",
            serde_json::json!({ "file_path": path, "content": text }),
        )
    } else {
        (
            "Edit",
            serde_json::json!({ "file_path": path, "old_string": "x", "new_string": text }),
        )
    };
    let call = ToolCall {
        name,
        args: &args,
        cwd: Some(CWD),
        home: Some(HOME),
    };
    let _ = judge_within_linear_time(&call, text.len());
});
