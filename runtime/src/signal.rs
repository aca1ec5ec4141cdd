//! Signal names: structural findings the analyses attach to operations, matched by rules
//! through the `signal` field. One leaf module, so every analysis can name every signal
//! without importing another analysis.

// The shell analysis.
pub const FORK_BOMB: &str = "fork-bomb";
pub const DECODE_TO_SHELL: &str = "decode-to-shell";
pub const ESCAPED_COMMAND: &str = "escaped-command-name";
pub const GLOB_COMMAND: &str = "glob-command-name";
/// Text the analysis could not work out, produced by an obfuscation construct (a decoder
/// or transform of unknown input, indirect expansion of an unknown name, code from a
/// variable set outside the call), used as a command, its arguments or code.
pub const OPAQUE: &str = "opaque-command";
/// A delete of the working directory or an ancestor of it (set by extraction).
pub const DELETES_WORKING_TREE: &str = "deletes-working-tree";
/// A recursive delete of a directory outside the working directory (set by extraction,
/// one operation per directory).
pub const DELETES_OUTSIDE_PROJECT: &str = "deletes-outside-project";
/// The whole environment (every token in it) sent to a host: `env | curl -d @-`,
/// `JSON.stringify(process.env)` in a request.
pub const ENVIRONMENT_TO_NETWORK: &str = "environment-to-network";
/// A service's credential variable (`$GITHUB_TOKEN`, from the `secrets.variables` table)
/// sent to a host that is not the service's, or to one the analysis cannot work out.
pub const SECRET_TO_NETWORK: &str = "secret-variable-to-network";
/// Code fetched from the network runs (`curl URL | sh`, `bash <(curl URL)`, a download
/// saved and then run): the operation's `url` and `host` say where it comes from.
pub const REMOTE_CODE: &str = "remote-code";
/// A package installed from a URL or a git source (`pip install https://…`, `npx
/// github:user/repo`, `cargo install --git URL`): its build and install scripts run.
pub const REMOTE_PACKAGE: &str = "remote-package";
/// Packages are fetched from this index or registry (`pip --index-url`, `npm
/// --registry`): every package it serves runs its install code.
pub const PACKAGE_SOURCE: &str = "package-source";
/// A registry package whose name is one edit away from one of the registry's most used
/// packages and is not itself a popular name (`pip install reqeusts`): a typosquat.
pub const TYPOSQUAT: &str = "typosquat";

// The analysis of code inside commands.
/// Code runs text it builds at run time that the analysis could not work out (a command
/// line, an argv, or code for `exec`/`eval`).
pub const OPAQUE_CODE: &str = "opaque-code";
/// A network socket and a process wired together (a reverse or bind shell).
pub const PROCESS_ON_SOCKET: &str = "process-on-socket";

// Files that run later.
/// An operation of a command that a written file will run later.
pub const RUNS_LATER: &str = "runs-later";
/// A write to a file that runs later whose commands were all read and judged.
pub const JUDGED_CONTENT: &str = "judged-content";
/// An operation of a command that runs on another machine or in a container (a CI
/// runner, an image build), not on this one.
pub const RUNS_ELSEWHERE: &str = "runs-elsewhere";
