//! `.crust` syntax tree → IR. Every mistake is reported with its span; a rule with an error
//! is dropped, the rest of the file is still checked.
//!
//! Operators map onto the IR's pattern kinds so that a rule means the same as its YAML twin:
//! `in` takes each element as YAML takes a list item (a glob; for `command`/`content` a
//! case-insensitive substring; `/re/` a regex), `matches` takes strings as globs, `contains`
//! as case-insensitive substrings, `is` as the exact text. `except` takes elements as `in`.

use super::ast::{self, ClauseKind, Elem, Expr, Item, Op, Subject, Value};
use crate::diag::{did_you_mean, Diagnostic, Diagnostics};
use crate::ir::{Cond, Disable, FieldPred, Pattern, PatternKind, Policy, Rule};
use crate::source::Span;
use crust_runtime::model::{Action, ActionSet, Effect, Field, Severity};
use std::collections::BTreeMap;

const SUBJECTS: &[&str] = &[
    "path", "host", "command", "content", "tool", "signal", "secret", "action",
];
const ACTIONS: &[&str] = &[
    "read", "write", "delete", "copy", "move", "execute", "network", "stat",
];
const SEVERITIES: &[&str] = &["critical", "high", "warning", "info"];

/// Parses and lowers one `.crust` file into `policy`.
pub fn load(file: u32, text: &str, policy: &mut Policy, diags: &mut Diagnostics) {
    let parsed = super::parse(file, text, diags);
    lower_items(file, &parsed.items, policy, diags);
}

struct SetDef {
    elems: Vec<Elem>,
    span: Span,
    used: bool,
}

struct Lowerer<'a> {
    file: u32,
    sets: BTreeMap<String, SetDef>,
    diags: &'a mut Diagnostics,
}

pub fn lower_items(file: u32, items: &[Item], policy: &mut Policy, diags: &mut Diagnostics) {
    let mut lw = Lowerer {
        file,
        sets: BTreeMap::new(),
        diags,
    };
    // Sets first, in order: a set may include sets defined before it.
    for item in items {
        if let Item::Set(s) = item {
            lw.define_set(s);
        }
    }
    for item in items {
        match item {
            Item::Set(_) => {}
            Item::Disable(n) => policy.disables.push(Disable {
                name: n.text.clone(),
                span: lw.span(n.lo, n.hi),
            }),
            Item::Rule(r) => {
                if let Some(rule) = lw.rule(r) {
                    policy.rules.push(rule);
                }
            }
        }
    }
    let clean = !lw.diags.has_errors();
    for (name, def) in &lw.sets {
        if clean && !def.used {
            lw.diags.push(
                Diagnostic::warning(def.span, format!("set `{name}` is never used"))
                    .with_help("remove it, or use it with `in`"),
            );
        }
    }
}

impl Lowerer<'_> {
    fn span(&self, lo: usize, hi: usize) -> Span {
        Span::new(self.file, lo, hi)
    }

    fn define_set(&mut self, s: &ast::SetDecl) {
        let span = self.span(s.name.lo, s.name.hi);
        if self.sets.contains_key(&s.name.text) {
            let d = Diagnostic::error(span, format!("set `{}` is defined twice", s.name.text));
            self.diags
                .push(d.with_help("give each set its own name, or merge the lists"));
            return;
        }
        let reserved = SUBJECTS.contains(&s.name.text.as_str()) || s.name.text == "arg";
        if reserved {
            // Reported once here; the set is still defined so its uses add no more errors.
            self.diags.push(Diagnostic::error(
                span,
                format!("`{}` names a field; choose another set name", s.name.text),
            ));
        }
        if s.list.items.is_empty() {
            self.diags.push(Diagnostic::error(
                self.span(s.list.lo, s.list.hi),
                format!("set `{}` is empty", s.name.text),
            ));
            return;
        }
        let mut elems = Vec::new();
        for e in &s.list.items {
            match e {
                Elem::Name(n) => match self.use_set(n) {
                    Some(more) => elems.extend(more),
                    None => return,
                },
                other => elems.push(other.clone()),
            }
        }
        self.sets.insert(
            s.name.text.clone(),
            SetDef {
                elems,
                span,
                used: reserved,
            },
        );
    }

    /// The elements of a set named in a condition or another set; reports an unknown name.
    fn use_set(&mut self, n: &ast::Name) -> Option<Vec<Elem>> {
        if let Some(def) = self.sets.get_mut(&n.text) {
            def.used = true;
            return Some(def.elems.clone());
        }
        let names: Vec<&str> = self.sets.keys().map(String::as_str).collect();
        let d = Diagnostic::error(self.span(n.lo, n.hi), format!("no set named `{}`", n.text));
        let d = match did_you_mean(&n.text, &names) {
            Some(m) => d.with_help(format!("did you mean `{m}`?")),
            None if ACTIONS.contains(&n.text.as_str()) => {
                d.with_help("action names go with `action is` / `action in`")
            }
            None => d.with_help(format!(
                "define it with `set {} = [...]` before it is used, or write a string: \"{}\"",
                n.text, n.text
            )),
        };
        self.diags.push(d);
        None
    }

    fn rule(&mut self, r: &ast::RuleDecl) -> Option<Rule> {
        let before = self.diags.error_count();
        let name_span = self.span(r.name.lo, r.name.hi);
        if let Err(why) = crate::frontend::yaml::check_name(&r.name.text) {
            self.diags.push(Diagnostic::error(name_span, why));
        }
        let effect = match r.effect {
            ast::Effect::Block => Effect::Block,
            ast::Effect::Allow => Effect::Allow,
        };
        let mut seen: BTreeMap<&str, ()> = BTreeMap::new();
        let (mut when, mut message, mut severity, mut locked) = (None, None, None, false);
        for c in &r.clauses {
            let word = match &c.kind {
                ClauseKind::When(_) => "when",
                ClauseKind::Message(_) => "message",
                ClauseKind::Description(_) => "description",
                ClauseKind::Severity(_) => "severity",
                ClauseKind::Locked => "locked",
            };
            if seen.insert(word, ()).is_some() {
                self.diags.push(
                    Diagnostic::error(
                        self.span(c.lo, c.hi),
                        format!("`{word}` appears twice in rule `{}`", r.name.text),
                    )
                    .with_help(if word == "when" {
                        "join the conditions with `and` or `or`"
                    } else {
                        "keep one"
                    }),
                );
                continue;
            }
            match &c.kind {
                ClauseKind::When(e) => when = self.expr(e),
                ClauseKind::Message(m) => message = Some(m.value.clone()),
                ClauseKind::Description(_) => {}
                ClauseKind::Severity(s) => {
                    severity = match Severity::from_name(&s.text) {
                        Some(v) => Some(v),
                        None => {
                            self.diags.push(
                                Diagnostic::error(
                                    self.span(s.lo, s.hi),
                                    format!("unknown severity `{}`", s.text),
                                )
                                .suggest(&s.text, SEVERITIES),
                            );
                            None
                        }
                    }
                }
                ClauseKind::Locked => {
                    locked = true;
                    if effect == Effect::Allow {
                        self.diags.push(
                            Diagnostic::error(
                                self.span(c.lo, c.hi),
                                "an allow rule cannot be locked",
                            )
                            .with_help("`locked` protects block rules from being overridden"),
                        );
                    }
                }
            }
        }
        if !seen.contains_key("when") {
            self.diags.push(
                Diagnostic::error(
                    name_span,
                    format!("rule `{}` has no `when` condition", r.name.text),
                )
                .with_help("add e.g. `when path in secrets`"),
            );
        }
        if self.diags.error_count() > before {
            return None;
        }
        let cond = when?;
        let message =
            message.unwrap_or_else(|| crate::ir::default_message(&r.name.text, &cond, effect));
        Some(Rule {
            name: r.name.text.clone(),
            name_span,
            span: self.span(r.start, r.end),
            effect,
            locked,
            enabled: true,
            severity: severity.unwrap_or(Severity::Critical),
            message,
            actions: ActionSet::ALL,
            cond,
        })
    }

    fn expr(&mut self, e: &Expr) -> Option<Cond> {
        match e {
            Expr::Or(xs) | Expr::And(xs) => {
                let parts: Vec<Option<Cond>> = xs.iter().map(|x| self.expr(x)).collect();
                let parts: Option<Vec<Cond>> = parts.into_iter().collect();
                let parts = parts?;
                Some(if matches!(e, Expr::Or(_)) {
                    Cond::Any(parts)
                } else {
                    Cond::All(parts)
                })
            }
            Expr::Not(x) => Some(Cond::Not(Box::new(self.expr(x)?))),
            Expr::Paren(x) => self.expr(x),
            Expr::Pred(p) => self.pred(p),
        }
    }

    fn pred(&mut self, p: &ast::Pred) -> Option<Cond> {
        let (field, key) = match &p.subject {
            Subject::Arg(k) => {
                if k.value.is_empty() {
                    self.diags.push(Diagnostic::error(
                        self.span(k.lo, k.hi),
                        "argument key is empty",
                    ));
                    return None;
                }
                (Field::Arg, Some(k.value.clone()))
            }
            Subject::Field(n) if n.text == "action" => return self.action_pred(p),
            Subject::Field(n) => match Field::from_name(&n.text).filter(|f| *f != Field::Arg) {
                Some(f) => (f, None),
                None => {
                    let d = Diagnostic::error(
                        self.span(n.lo, n.hi),
                        format!("unknown field `{}`", n.text),
                    );
                    self.diags.push(match did_you_mean(&n.text, SUBJECTS) {
                        Some(m) => d.with_help(format!("did you mean `{m}`?")),
                        None => d.with_help(format!(
                            "expected one of: {}, or `arg \"key\"`",
                            SUBJECTS.join(", ")
                        )),
                    });
                    // Still check the value, so an unknown set name is reported as well.
                    let _ = self.patterns(Field::Path, p.op, &p.value);
                    return None;
                }
            },
        };
        let include = self.patterns(field, p.op, &p.value)?;
        let exclude = match &p.except {
            Some(v) => self.patterns(field, Op::In, v)?,
            None => Vec::new(),
        };
        Some(Cond::Field(FieldPred {
            field,
            key,
            include,
            exclude,
        }))
    }

    fn action_pred(&mut self, p: &ast::Pred) -> Option<Cond> {
        let span = self.span(p.lo, p.hi);
        if !matches!(p.op, Op::Is | Op::In) {
            self.diags.push(
                Diagnostic::error(
                    self.span(p.op_lo, p.op_lo + p.op.word().len()),
                    format!(
                        "`action` is compared with `is` or `in`, not `{}`",
                        p.op.word()
                    ),
                )
                .with_help("write e.g. `action is write` or `action in [read, copy]`"),
            );
            return None;
        }
        if let Some(x) = &p.except {
            let (lo, hi) = value_range(x);
            self.diags.push(
                Diagnostic::error(self.span(lo, hi), "`except` does not apply to `action`")
                    .with_help("list the actions you mean"),
            );
            return None;
        }
        let elems: Vec<&Elem> = match &p.value {
            Value::One(e) => vec![e],
            Value::List(l) => l.items.iter().collect(),
        };
        let mut set = ActionSet::empty();
        let mut ok = true;
        for e in elems {
            let (text, lo, hi) = match e {
                Elem::Name(x) => (x.text.as_str(), x.lo, x.hi),
                Elem::Str(l) => (l.value.as_str(), l.lo, l.hi),
                Elem::Regex(l) => {
                    self.diags.push(Diagnostic::error(
                        self.span(l.lo, l.hi),
                        "actions are names, not regexes",
                    ));
                    ok = false;
                    continue;
                }
            };
            match Action::from_name(text) {
                Some(a) => set.insert(a),
                None => {
                    ok = false;
                    self.diags.push(
                        Diagnostic::error(self.span(lo, hi), format!("unknown action `{text}`"))
                            .suggest(&text.to_ascii_lowercase(), ACTIONS),
                    );
                }
            }
        }
        if ok && set.is_empty() {
            self.diags
                .push(Diagnostic::error(span, "the action list is empty"));
            return None;
        }
        ok.then_some(Cond::Action(set, span))
    }

    /// The patterns of a predicate's value under `op`.
    fn patterns(&mut self, field: Field, op: Op, v: &Value) -> Option<Vec<Pattern>> {
        let mut elems: Vec<Elem> = Vec::new();
        let items: Vec<&Elem> = match v {
            Value::One(e) => vec![e],
            Value::List(l) => {
                if l.items.is_empty() {
                    self.diags
                        .push(Diagnostic::error(self.span(l.lo, l.hi), "empty list"));
                    return None;
                }
                l.items.iter().collect()
            }
        };
        for e in items {
            match e {
                Elem::Name(n) => elems.extend(self.use_set(n)?),
                other => elems.push(other.clone()),
            }
        }
        let substring = matches!(field, Field::Command | Field::Content);
        let mut out = Vec::new();
        let mut ok = true;
        for e in &elems {
            let span = self.span(e.lo(), e.hi());
            match e {
                Elem::Regex(l) => {
                    if op == Op::Is {
                        self.diags.push(
                            Diagnostic::error(span, "`is` compares with text, not a regex")
                                .with_help("use `matches /.../`"),
                        );
                        ok = false;
                        continue;
                    }
                    out.push(pattern(PatternKind::Regex, &l.value, span));
                }
                Elem::Str(l) if l.value.is_empty() => {
                    self.diags.push(Diagnostic::error(span, "empty pattern"));
                    ok = false;
                }
                Elem::Str(l) => out.push(match op {
                    Op::Is if substring => pattern(
                        PatternKind::Regex,
                        &format!("^{}$", regex_syntax::escape(&l.value)),
                        span,
                    ),
                    Op::Is => pattern(PatternKind::Glob, &glob_escape(&l.value), span),
                    Op::Matches => pattern(PatternKind::Glob, &l.value, span),
                    Op::Contains => pattern(PatternKind::Literal, &l.value, span),
                    Op::In if substring => pattern(PatternKind::Literal, &l.value, span),
                    Op::In => pattern(PatternKind::Glob, &l.value, span),
                }),
                // Sets are expanded above; a name here came from a set and was checked there.
                Elem::Name(_) => {}
            }
        }
        ok.then_some(out)
    }
}

fn value_range(v: &Value) -> (usize, usize) {
    match v {
        Value::One(e) => (e.lo(), e.hi()),
        Value::List(l) => (l.lo, l.hi),
    }
}

/// The IR pattern; `source` is spelled as YAML spells it, so explanations (and the engine's
/// test for floating `**/` globs) read the same whichever front-end wrote the rule.
fn pattern(kind: PatternKind, text: &str, span: Span) -> Pattern {
    Pattern {
        kind,
        text: text.to_owned(),
        source: match kind {
            PatternKind::Regex => format!("re:{text}"),
            _ => text.to_owned(),
        },
        span,
    }
}

/// The glob that matches exactly `text`.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '{' | '}' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
