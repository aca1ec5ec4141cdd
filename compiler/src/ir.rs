//! The one policy model both front-ends lower into. Every node keeps its span, so an error
//! found later (a regex that does not compile, a duplicate name) still points at its source.

use crate::source::Span;
use crust_runtime::model::{ActionSet, Effect, Field, Severity};

/// The message of a rule that gives none.
pub fn default_message(name: &str, cond: &Cond, effect: Effect) -> String {
    match (cond, effect) {
        (Cond::Field(p), Effect::Block) => format!(
            "access to `{}` is blocked by policy",
            p.include.first().map(|p| p.source.as_str()).unwrap_or("")
        ),
        (_, Effect::Block) => format!("blocked by rule `{name}`"),
        (_, Effect::Allow) => format!("allowed by rule `{name}`"),
    }
}

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
    /// True when the operation's action is in the set. A rule's top-level conjuncts of this
    /// kind become its `actions` when lowered; elsewhere (under `or`, `not`) it stays a test.
    Action(ActionSet, Span),
}

#[derive(Debug, Clone)]
pub struct FieldPred {
    pub field: Field,
    /// For [`Field::Arg`]: the argument key (`arg "url"`); `None` for every other field.
    pub key: Option<String>,
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
    /// Whether the condition can hold when no field predicate is true (it uses `not`, or tests
    /// only the action): such rules are evaluated for every operation.
    pub fn holds_without_hits(&self) -> bool {
        self.outcomes_without_hits().0
    }

    /// (can be true, can be false) with every field predicate false; an action test can be
    /// either.
    fn outcomes_without_hits(&self) -> (bool, bool) {
        match self {
            Cond::All(cs) => {
                let o: Vec<(bool, bool)> = cs.iter().map(Cond::outcomes_without_hits).collect();
                (o.iter().all(|x| x.0), o.iter().any(|x| x.1))
            }
            Cond::Any(cs) => {
                let o: Vec<(bool, bool)> = cs.iter().map(Cond::outcomes_without_hits).collect();
                (o.iter().any(|x| x.0), o.iter().all(|x| x.1))
            }
            Cond::Not(c) => {
                let (t, f) = c.outcomes_without_hits();
                (f, t)
            }
            Cond::Field(_) => (false, true),
            Cond::Action(set, _) => (!set.is_empty(), *set != ActionSet::ALL),
        }
    }

    /// Moves top-level action tests into `actions` (intersected), so the rule is indexed by
    /// its field predicates. A condition that is nothing but action tests keeps them.
    pub fn hoist_actions(self, actions: &mut ActionSet) -> Cond {
        match self {
            Cond::All(cs) => {
                let (acts, rest): (Vec<Cond>, Vec<Cond>) =
                    cs.into_iter().partition(|c| matches!(c, Cond::Action(..)));
                if rest.is_empty() {
                    return Cond::All(acts);
                }
                for a in &acts {
                    if let Cond::Action(set, _) = a {
                        actions.0 &= set.0;
                    }
                }
                match <[Cond; 1]>::try_from(rest) {
                    Ok([one]) => one,
                    Err(rest) => Cond::All(rest),
                }
            }
            other => other,
        }
    }
}
