//! Commands built from the evaluator's constructs (parameter operators, `$IFS`, braces,
//! `printf -v`, `read`, functions, aliases, files written then run, links, text tools,
//! fan-out, `-C`, `apply_patch`): byte-level fuzzing of the `shell` target rarely reaches
//! them. Each input byte picks a piece, so libFuzzer's mutations recombine constructs. No
//! input may panic or take more than linear time.
#![no_main]

use crust_fuzz::{judge_within_linear_time, CWD, HOME};
use crust_runtime::ToolCall;
use libfuzzer_sys::fuzz_target;

#[rustfmt::skip]
const PIECES: &[&str] = &[
    " ", "; ", " | ", " && ", "\n", "$(", ")", "`", "'", "\"", "{", "}", ",", "${", "x", "y",
    "f", "=", ":-", ":+", ":=", "/", "//", "/#", "/%", "#", "##", "%", "%%", "^^", ",,", ":1",
    ":1:2", "!", "${#", "${!", "IFS", "$IFS", "${IFS}", "$9", "$0", "$1", "$@", "$*", "$#",
    "cat", "echo", "printf", "printf -v x ", "read x <<< ", "<<<", "<<'E'\n", "\nE\n",
    "f() { ", " }", "alias a=", "a ", "eval ", "sh -c ", "bash -c ", "env X=", "export ",
    "declare ", "local ", "shift", "base64 -d", "xxd -r -p", "rev", "tr a-z A-Z", "cut -c2-",
    "sed s/a/b/", "awk '{print $2}'", "head -1", "sort", "dirname ", "basename ", "realpath ",
    "which ", "xargs ", "xargs -0 ", "xargs -I{} ", "parallel ", " ::: ", "find . -exec ",
    " {} ;", "fd . -x ", "tar -C ", "make -C ", "git -C ", "cd ", "ln -s ", "cp ", " > ",
    " >> ", "chmod +x ", "./", "bash ", ". ", "apply_patch ", "*** Begin Patch\n",
    "*** Add File: ", "*** End Patch\n", "+", "~", "~/.ssh", "id_rsa", ".aws/credentials",
    "*", "?", "[a-z]", "$HOME", "$TMPDIR", "$USER", "$X", "for i in ", "; do ", "; done",
    "Y2F0", "fi8uc3No", "636174",
];

fuzz_target!(|data: &[u8]| {
    let mut command = String::new();
    for &b in data {
        if let Some(p) = PIECES.get(usize::from(b) % PIECES.len()) {
            command.push_str(p);
        }
    }
    let args = serde_json::json!({ "command": command });
    let call = ToolCall {
        name: "Bash",
        args: &args,
        cwd: Some(CWD),
        home: Some(HOME),
    };
    let _ = judge_within_linear_time(&call, command.len());
});
