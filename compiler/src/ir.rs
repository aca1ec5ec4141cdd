//! The one policy model both front-ends lower into. Every node keeps its span, so an error
//! found later (a regex that does not compile, a duplicate name) still points at its source.

use crate::source::Span;
use crust_runtime::model::{ActionSet, Effect, Field, Severity};

/// A whole policy: rules from every file, and requests to disable rules defined elsewhere.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub rules: Vec<Rule>,
    pub disables: Vec<Disable>,
    /// The tool and command tables (`tools:`, `commands:`, `shape:` sections); entries from
    /// later files override earlier ones of the same name.
    pub tables: crust_runtime::tables::Tables,
}

/// `- name: x` + `enabled: false` with no criterion: turn off rule `x` from another file.
#[derive(Debug, Clone)]
pub struct Disable {
    pub name: String,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub name_span: Span,
    /// Where the rule starts; declaration order is (file order, offset).
    pub span: Span,
    pub effect: Effect,
    pub locked: bool,
    pub enabled: bool,
    pub severity: Severity,
    pub message: String,
    pub actions: ActionSet,
    pub cond: Cond,
}

/// A rule's condition over one operation.
#[derive(Debug, Clone)]
pub enum Cond {
    All(Vec<Cond>),
    Any(Vec<Cond>),
    Not(Box<Cond>),
    /// True when some value of the field matches an include pattern and no exclude pattern.
    Field(FieldPred),
}

#[derive(Debug, Clone)]
pub struct FieldPred {
    pub field: Field,
    pub include: Vec<Pattern>,
    pub exclude: Vec<Pattern>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PatternKind {
    /// A glob (path, host, tool fields).
    Glob,
    /// `re:` — a regular expression, searched anywhere in the value.
    Regex,
    /// Plain text in command/content fields: a case-insensitive substring.
    Literal,
}

#[derive(Debug, Clone)]
pub struct Pattern {
    pub kind: PatternKind,
    /// The pattern without its `re:` prefix.
    pub text: String,
    /// As written, for explain output.
    pub source: String,
    pub span: Span,
}

impl Cond {
    /// Whether the condition can hold when no predicate is true (it uses `not`).
    pub fn holds_without_hits(&self) -> bool {
        match self {
            Cond::All(cs) => cs.iter().all(Cond::holds_without_hits),
            Cond::Any(cs) => cs.iter().any(Cond::holds_without_hits),
            Cond::Not(c) => !c.holds_without_hits(),
            Cond::Field(_) => false,
        }
    }
}
