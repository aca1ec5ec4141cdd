//! The policy model shared by compiler and runtime: actions, fields, severities, tool calls,
//! operations and verdicts. Names here are part of the rule language and of the bundle format.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

/// What an operation does. The order is the bit order in [`ActionSet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Action {
    Read,
    Write,
    Delete,
    Copy,
    Move,
    Execute,
    Network,
    /// Metadata only: a name's existence, size, mode, type or line count, never its content
    /// (`ls -l .env`, `test -f ~/.ssh/id_ed25519`, `chmod 600 KEY`). Rules see it only where
    /// they name it: a rule naming no actions does not cover it.
    Stat,
}

impl Action {
    /// Every action, in bit order.
    pub const ALL: [Action; 8] = [
        Action::Read,
        Action::Write,
        Action::Delete,
        Action::Copy,
        Action::Move,
        Action::Execute,
        Action::Network,
        Action::Stat,
    ];

    /// The lower-case name used in rule files.
    pub fn name(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Write => "write",
            Action::Delete => "delete",
            Action::Copy => "copy",
            Action::Move => "move",
            Action::Execute => "execute",
            Action::Network => "network",
            Action::Stat => "stat",
        }
    }

    /// Parses a rule-file action name (case-insensitive).
    pub fn from_name(s: &str) -> Option<Action> {
        Action::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(s))
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of actions as a bit mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct ActionSet(pub u8);

impl ActionSet {
    /// Every action that touches content (all but `stat`): the default when a rule names
    /// none, and what `all` means.
    pub const ALL: ActionSet = ActionSet(0x7f);

    pub fn empty() -> Self {
        ActionSet(0)
    }
    pub fn insert(&mut self, a: Action) {
        self.0 |= a.bit();
    }
    pub fn contains(self, a: Action) -> bool {
        self.0 & a.bit() != 0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn iter(self) -> impl Iterator<Item = Action> {
        Action::ALL.into_iter().filter(move |a| self.contains(*a))
    }
}

/// A field of an operation that rules match against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Field {
    Path,
    Host,
    Command,
    Content,
    Tool,
    /// Structural findings of the shell analysis (`fork-bomb`, `decode-to-shell`, ...).
    Signal,
    /// Ids of the credential formats found in the operation's content and command text.
    Secret,
    /// The call's arguments by key (`arg "url"`): every scalar under that key, nested keys
    /// joined with `.`, array elements under their array's key. Patterns carry the key.
    Arg,
    /// URLs the operation fetches from or sends to, as written (scheme added where the
    /// client assumes one): the code a download runs, a package's source, a registry.
    Url,
}

impl Field {
    /// Every field, in bundle order.
    pub const ALL: [Field; 9] = [
        Field::Path,
        Field::Host,
        Field::Command,
        Field::Content,
        Field::Tool,
        Field::Signal,
        Field::Secret,
        Field::Arg,
        Field::Url,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Field::Path => "path",
            Field::Host => "host",
            Field::Command => "command",
            Field::Content => "content",
            Field::Tool => "tool",
            Field::Signal => "signal",
            Field::Secret => "secret",
            Field::Arg => "arg",
            Field::Url => "url",
        }
    }

    pub fn from_name(s: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == s)
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How serious a rule's match is. Ordered from most to least severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Severity {
    Critical,
    High,
    Warning,
    Info,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Critical,
        Severity::High,
        Severity::Warning,
        Severity::Info,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
    pub fn from_name(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|v| v.name() == s)
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether a matching rule blocks or allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Effect {
    Block,
    Allow,
}

/// One tool call as the agent issued it.
#[derive(Debug, Clone)]
pub struct ToolCall<'a> {
    /// The tool's name as the agent sent it (`Bash`, `Read`, `mcp__fs__read_file`).
    pub name: &'a str,
    /// The tool's arguments.
    pub args: &'a serde_json::Value,
    /// The agent's working directory, when known.
    pub cwd: Option<&'a str>,
    /// The user's home directory, when known.
    pub home: Option<&'a str>,
}

/// What one tool call does, after extraction: an action and the values of its fields.
/// Paths are absolute and lexically normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub action: Action,
    pub paths: Vec<String>,
    /// Paths with wildcards (`~/.ssh/id_*`, or parts the analysis could not know): they
    /// match a pattern when some path they stand for would.
    pub globs: Vec<String>,
    pub hosts: Vec<String>,
    pub urls: Vec<String>,
    pub commands: Vec<String>,
    /// Command values that are byte for byte a slice of the first one, as (index in
    /// `commands`, byte offset in `commands[0]`): the engine reuses the first value's literal
    /// scans for them instead of scanning their text again.
    pub command_slices: Vec<(usize, usize)>,
    pub contents: Vec<String>,
    pub signals: Vec<String>,
    /// Filled by the engine: ids of the secret formats found in contents and commands.
    pub secrets: Vec<String>,
    /// The contents are part of the file (an edit's new text, appended lines), not all of it.
    pub partial: bool,
    /// What the analysis found, in words, for the refusal's message (the popular package a
    /// look-alike name imitates).
    pub detail: Option<String>,
}

impl Operation {
    pub fn new(action: Action) -> Self {
        Operation {
            action,
            paths: Vec::new(),
            globs: Vec::new(),
            hosts: Vec::new(),
            urls: Vec::new(),
            commands: Vec::new(),
            command_slices: Vec::new(),
            contents: Vec::new(),
            signals: Vec::new(),
            secrets: Vec::new(),
            partial: false,
            detail: None,
        }
    }

    /// The values of one field (the tool and arg fields are the call's, not the operation's).
    pub fn values(&self, field: Field) -> &[String] {
        match field {
            Field::Path => &self.paths,
            Field::Host => &self.hosts,
            Field::Url => &self.urls,
            Field::Command => &self.commands,
            Field::Content => &self.contents,
            Field::Signal => &self.signals,
            Field::Secret => &self.secrets,
            Field::Tool | Field::Arg => &[],
        }
    }

    /// Records `commands[index]` as the slice of `commands[0]` at `offset` if its bytes are
    /// exactly that slice (so a wrong offset is harmless: nothing is recorded).
    pub fn note_command_slice(&mut self, index: usize, offset: usize) {
        let (Some(first), Some(value)) = (self.commands.first(), self.commands.get(index)) else {
            return;
        };
        let in_order = self.command_slices.last().is_none_or(|&(i, _)| i < index);
        if index > 0
            && in_order
            && first.as_bytes().get(offset..offset + value.len()) == Some(value.as_bytes())
        {
            self.command_slices.push((index, offset));
        }
    }

    /// How `commands[index]` is scanned for literals: on its own, as the text its slices
    /// come from, or as one of those slices.
    pub fn command_scan(&self, index: usize) -> CommandScan {
        match self.command_slice(index) {
            Some(at) => CommandScan::SliceAt(at),
            None if index == 0 && !self.command_slices.is_empty() => CommandScan::Source,
            None => CommandScan::Alone,
        }
    }

    /// Where `commands[index]` sits in `commands[0]`, if it is a recorded slice.
    pub fn command_slice(&self, index: usize) -> Option<usize> {
        // Recorded as values are pushed, so sorted by index: a command line of a thousand
        // stages must not make this quadratic.
        self.command_slices
            .binary_search_by_key(&index, |&(i, _)| i)
            .ok()
            .and_then(|k| self.command_slices.get(k))
            .map(|&(_, off)| off)
    }
}

/// See [`Operation::command_scan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandScan {
    Alone,
    /// `commands[0]`, with slices: its occurrences are kept for them.
    Source,
    /// A slice of `commands[0]` at this byte offset.
    SliceAt(usize),
}

/// The outcome of a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    Allow,
    Block,
}

impl Decision {
    pub fn name(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Block => "block",
        }
    }
}

/// The verdict on one tool call: the decision and the rule that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict<'b> {
    pub decision: Decision,
    /// The deciding rule; `None` when no rule matched, or when the call was refused before any
    /// rule could judge it (see [`Verdict::malformed`]).
    pub rule: Option<Cow<'b, str>>,
    pub message: Option<Cow<'b, str>>,
    pub severity: Option<Severity>,
}

/// The rule name reported when a call is blocked because it cannot be understood.
pub const MALFORMED_RULE: &str = "crust:malformed-call";

/// The rule name reported when a call is blocked because one of Crust's own invariants
/// failed while judging it.
pub const INTERNAL_RULE: &str = "crust:internal-error";

impl<'b> Verdict<'b> {
    pub fn allow() -> Self {
        Verdict {
            decision: Decision::Allow,
            rule: None,
            message: None,
            severity: None,
        }
    }

    /// Fail closed: input the engine cannot understand is blocked, saying why.
    pub fn malformed(why: impl Into<String>) -> Verdict<'static> {
        Verdict {
            decision: Decision::Block,
            rule: Some(Cow::Borrowed(MALFORMED_RULE)),
            message: Some(Cow::Owned(why.into())),
            severity: Some(Severity::Critical),
        }
    }

    /// Fail closed on a bug: an internal check failed, so the call is refused, saying which.
    pub fn internal_error(what: &str) -> Verdict<'static> {
        Verdict {
            decision: Decision::Block,
            rule: Some(Cow::Borrowed(INTERNAL_RULE)),
            message: Some(Cow::Owned(format!(
                "Crust could not judge this call: an internal check failed ({what}). The call \
                 is refused rather than allowed; please report this with the policy bundle."
            ))),
            severity: Some(Severity::Critical),
        }
    }

    pub fn is_block(&self) -> bool {
        self.decision == Decision::Block
    }

    /// The JSON object of the `crust check --json` contract, keys in contract order.
    pub fn to_json(&self) -> String {
        #[derive(Serialize)]
        struct Line<'a> {
            decision: &'a str,
            rule: Option<&'a str>,
            message: Option<&'a str>,
            severity: Option<&'a str>,
        }
        let line = Line {
            decision: self.decision.name(),
            rule: self.rule.as_deref(),
            message: self.message.as_deref(),
            severity: self.severity.map(Severity::name),
        };
        serde_json::to_string(&line).unwrap_or_else(|_| {
            String::from(
                "{\"decision\":\"block\",\"rule\":null,\"message\":null,\"severity\":null}",
            )
        })
    }
}
