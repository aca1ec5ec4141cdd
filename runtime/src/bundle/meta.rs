//! The bundle's metadata section: rules, predicates, patterns and automaton groups.
//! Encoded with postcard (serde); every cross-reference is checked by [`Meta::validate`]
//! before the engine trusts it.

use crate::model::{ActionSet, Effect, Field, Severity};
use serde::{Deserialize, Serialize};

/// Everything the engine needs besides the automata themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// Version of the compiler that wrote the bundle (informational).
    pub compiler: String,
    /// Hash of the rule sources the bundle was compiled from (informational).
    pub source_hash: u64,
    /// Rules in precedence order: a lower index wins a tie between rules of the same class.
    pub rules: Vec<RuleMeta>,
    /// Field predicates: "some value of field F hits an include pattern and no except pattern".
    pub preds: Vec<PredMeta>,
    /// One entry per [`Field`], in [`Field::ALL`] order.
    pub fields: Vec<FieldMeta>,
    /// Rules whose condition can hold without any predicate being true (they use `not`);
    /// the engine evaluates them for every operation.
    pub always_rules: Vec<u32>,
    /// The tool and command tables extraction reads.
    pub tables: crate::tables::Tables,
}

/// One compiled rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleMeta {
    pub name: String,
    pub message: String,
    pub severity: Severity,
    pub effect: Effect,
    pub locked: bool,
    pub actions: ActionSet,
    /// The condition as a postfix program over predicate ids.
    pub cond: Vec<CondOp>,
    /// `file:line` of the rule's definition, for `explain` and `--coverage`.
    pub origin: String,
}

/// One instruction of a rule's postfix condition program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CondOp {
    /// Push whether predicate N is true.
    Pred(u32),
    /// Pop N values, push their conjunction.
    All(u32),
    /// Pop N values, push their disjunction.
    Any(u32),
    /// Negate the top value.
    Not,
    /// Push whether the operation's action is in the set (`action in [read, copy]` under
    /// `or`/`not`; a rule's top-level action test is its `actions` instead).
    Action(ActionSet),
}

/// A predicate over one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PredMeta {
    pub field: Field,
    /// Rules whose condition mentions this predicate.
    pub rules: Vec<u32>,
}

/// The patterns of one field and the automata that find them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FieldMeta {
    pub patterns: Vec<PatternMeta>,
    pub groups: Vec<GroupMeta>,
}

/// One distinct pattern of a field; several predicates may share it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatternMeta {
    /// The pattern as the rule file wrote it (for `explain`).
    pub source: String,
    /// The predicates this pattern feeds, and whether it is an `except` there.
    pub hits: Vec<PredHit>,
    /// For the arg field: the argument key whose values this pattern judges.
    pub key: Option<String>,
}

/// A pattern's role in one predicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PredHit {
    pub pred: u32,
    pub except: bool,
}

/// How an automaton is run over a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scan {
    /// Anchored at both ends, forward: the whole value must match.
    WholeForward,
    /// Anchored at both ends, run over the value backwards (a reverse DFA): for `**/x` globs,
    /// which die within the last path component.
    WholeReverse,
    /// Unanchored search: a match anywhere in the value.
    Search,
}

/// Which form of a path a group sees. Paths under the home directory have two forms: the
/// absolute one and one where the home prefix is replaced by `~`, so that `$HOME` patterns
/// compile without knowing the home of the machine that will run them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Form {
    /// The value as it is (absolute form for paths).
    Plain,
    /// The `~/...` form; only paths under the home directory have it.
    Home,
    /// Both forms.
    Both,
}

/// One automaton and the field patterns it reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMeta {
    /// Index of the automaton's section in the section table.
    pub section: u32,
    pub scan: Scan,
    pub form: Form,
    /// Automaton pattern index -> field pattern id.
    pub patterns: Vec<u32>,
    /// The group can match only if the value contains one of these literals
    /// (ASCII case-insensitively). Empty: always run.
    pub gate: Vec<Vec<u8>>,
}

impl Meta {
    /// Checks every cross-reference; on success the engine may index without bounds failures.
    /// `dfa_sections` says, per section index, whether that section is an automaton.
    pub fn validate(&self, dfa_sections: &[bool]) -> Result<(), String> {
        let n_rules = self.rules.len();
        let n_preds = self.preds.len();
        if self.fields.len() != Field::ALL.len() {
            return Err(format!(
                "metadata has {} field tables, expected {}",
                self.fields.len(),
                Field::ALL.len()
            ));
        }
        for (i, rule) in self.rules.iter().enumerate() {
            check_program(&rule.cond, n_preds)
                .map_err(|e| format!("rule {i} (`{}`): {e}", rule.name))?;
        }
        for (i, pred) in self.preds.iter().enumerate() {
            if let Some(r) = pred.rules.iter().find(|&&r| r as usize >= n_rules) {
                return Err(format!("predicate {i} names rule {r} of {n_rules}"));
            }
        }
        if let Some(r) = self.always_rules.iter().find(|&&r| r as usize >= n_rules) {
            return Err(format!("always-evaluated rule {r} of {n_rules}"));
        }
        let mut used_sections = vec![false; dfa_sections.len()];
        if let Some(s) = self.tables.secrets.section {
            let s = s as usize;
            if !dfa_sections.get(s).copied().unwrap_or(false) {
                return Err(format!("secret table names section {s}, not an automaton"));
            }
            if let Some(u) = used_sections.get_mut(s) {
                *u = true;
            }
        }
        for (fi, field) in self.fields.iter().enumerate() {
            let n_pat = field.patterns.len();
            for (pi, p) in field.patterns.iter().enumerate() {
                if p.key.is_some() != (fi == Field::Arg.index()) {
                    return Err(format!(
                        "field {fi} pattern {pi}: only arg patterns carry an argument key"
                    ));
                }
                for hit in &p.hits {
                    let pred = self.preds.get(hit.pred as usize).ok_or_else(|| {
                        format!("field {fi} pattern {pi} names predicate {}", hit.pred)
                    })?;
                    if pred.field.index() != fi {
                        return Err(format!(
                            "field {fi} pattern {pi} feeds a predicate of another field"
                        ));
                    }
                }
            }
            for (gi, g) in field.groups.iter().enumerate() {
                let s = g.section as usize;
                if !dfa_sections.get(s).copied().unwrap_or(false) {
                    return Err(format!(
                        "field {fi} group {gi} names section {s}, not an automaton"
                    ));
                }
                match used_sections.get_mut(s) {
                    Some(u) if !*u => *u = true,
                    _ => return Err(format!("automaton section {s} is used twice")),
                }
                if let Some(p) = g.patterns.iter().find(|&&p| p as usize >= n_pat) {
                    return Err(format!(
                        "field {fi} group {gi} names pattern {p} of {n_pat}"
                    ));
                }
                if g.gate.iter().any(|l| l.is_empty()) {
                    return Err(format!("field {fi} group {gi} has an empty gate literal"));
                }
            }
        }
        Ok(())
    }
}

/// Checks that a postfix program leaves exactly one value and never underflows.
fn check_program(cond: &[CondOp], n_preds: usize) -> Result<(), String> {
    let mut depth: usize = 0;
    for op in cond {
        match *op {
            CondOp::Pred(p) => {
                if p as usize >= n_preds {
                    return Err(format!("condition names predicate {p} of {n_preds}"));
                }
                depth += 1;
            }
            CondOp::Action(_) => depth += 1,
            CondOp::All(n) | CondOp::Any(n) => {
                let n = n as usize;
                if n == 0 || n > depth {
                    return Err("condition program is malformed".into());
                }
                depth = depth - n + 1;
            }
            CondOp::Not => {
                if depth == 0 {
                    return Err("condition program is malformed".into());
                }
            }
        }
    }
    if depth != 1 {
        return Err("condition program is malformed".into());
    }
    Ok(())
}
