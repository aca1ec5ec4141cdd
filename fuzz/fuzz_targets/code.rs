//! Code inside commands: interpreter code (Python, JavaScript, Perl, Ruby, PHP, PowerShell; the first
//! byte picks the language) fed to the interpreter as a here-document, through the whole
//! decision with the built-in policy. With an odd second byte the code is assembled from
//! pieces of the languages' constructs (strings of every kind, interpolation, calls the
//! tables know, decoders, imports), which byte-level mutation rarely builds; otherwise the
//! bytes are the code. No input may panic or take more than linear time.
#![no_main]

use crust_fuzz::{judge_within_linear_time, CWD, HOME};
use crust_runtime::ToolCall;
use libfuzzer_sys::fuzz_target;

const INTERPRETERS: &[&str] = &["python3", "node", "perl", "ruby", "php", "pwsh"];

#[rustfmt::skip]
const PIECES: &[&str] = &[
    " ", ";", "\n", "(", ")", "[", "]", "{", "}", ",", ".", "->", "::", "=", "+", "%", "/",
    "'", "\"", "`", "'''", "f'", "f\"", "r'", "b'", "${", "#{", "$", "@", "q(", "qq{", "qx{",
    "%x(", "%w(", "s/a/b/", "/re/", "<<", "x", "y", "os", "os.system", "subprocess.run",
    "exec", "eval", "open", "import os", "from os import system", "require('fs')",
    "require('child_process')", "execSync", "spawn", "system", "File.read", "FileUtils.rm_rf",
    "file_get_contents", "shell_exec", "getattr", "send", "call_user_func", ".call", ".apply",
    "Reflect.apply", "b64decode", "base64_decode", "atob", "Buffer.from", "'base64'",
    "zlib.decompress", "gzinflate", "chr", "String.fromCharCode", "bytes.fromhex", "join",
    "os.path.join", "Path.home()", "os.homedir()", "Dir.home", "$ENV{HOME}", "ENV['HOME']",
    "os.environ['HOME']", "process.env.HOME", "getenv('HOME')", "~/.ssh/id_rsa", "rm -rf ~",
    "cat ~/.netrc", "socket", "connect", "dup2", "fork", "while 1", "for", "lambda", "def",
    "function", "=>", "aW1wb3J0IG9z", "636174", "format", "sprintf", "%s", "{}", "114", "0x72",
    "Remove-Item", "Get-Content", "iex", "-Recurse", "$env:USERPROFILE", "$HOME", "$(", "@'\n",
    "\n'@", "[IO.File]::", "ReadAllText", "&", "|", "`", "-EncodedCommand", "Start-Process",
    "-ArgumentList", "HKCU:\\", "[::-1]", "map", "reverse", "split", "getattr", ".call(",
];

fuzz_target!(|data: &[u8]| {
    let (Some(&lang), Some(&mode)) = (data.first(), data.get(1)) else {
        return;
    };
    let interpreter = INTERPRETERS
        .get(usize::from(lang) % INTERPRETERS.len())
        .copied()
        .unwrap_or("python3");
    let rest = data.get(2..).unwrap_or(&[]);
    let code = if mode % 2 == 1 {
        let mut s = String::new();
        for &b in rest {
            if let Some(p) = PIECES.get(usize::from(b) % PIECES.len()) {
                s.push_str(p);
            }
        }
        s
    } else {
        String::from_utf8_lossy(rest).into_owned()
    };
    let command = format!("{interpreter} <<'CRUST_FUZZ_EOF'\n{code}\nCRUST_FUZZ_EOF");
    let args = serde_json::json!({ "command": command });
    let call = ToolCall {
        name: "Bash",
        args: &args,
        cwd: Some(CWD),
        home: Some(HOME),
    };
    let _ = judge_within_linear_time(&call, command.len());
});
