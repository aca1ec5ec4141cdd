//! The YAML rule language, in its progressive forms:
//!
//! ```yaml
//! rules:
//!   - block: "**/.env"                 # 1. a path glob (or a list)
//!     except: ["**/.env.example"]      # 2. exceptions
//!     actions: [read, write]           # 3. which operations (default: all seven)
//!     message: "..."
//!   - name: no-metadata                # 4. one condition over fields
//!     match: { host: "169.254.169.254" }
//!   - name: curl-upload                # 5. composites
//!     all: [ { command: "re:\\bcurl\\b" }, { path: "$HOME/.ssh/*" } ]
//!   - allow: "**/.env.local"           # allow rules: beat unlocked blocks, never locked ones
//!   - name: protect-vscode-settings    # disable an unlocked rule defined elsewhere
//!     enabled: false
//! ```

use super::yaml_tree::{self, Kind, Node};
use crate::diag::{Diagnostic, Diagnostics};
use crate::ir::{Cond, Disable, FieldPred, Pattern, PatternKind, Policy, Rule};
use crate::source::Span;
use crust_runtime::model::{Action, ActionSet, Effect, Field, Severity};

const TOP_KEYS: &[&str] = &[
    "version",
    "rules",
    "tools",
    "commands",
    "shape",
    "secrets",
    "languages",
    "later",
    "registries",
];
const RULE_KEYS: &[&str] = &[
    "name",
    "block",
    "allow",
    "except",
    "match",
    "all",
    "any",
    "not",
    "effect",
    "actions",
    "message",
    "severity",
    "locked",
    "enabled",
    "description",
];
const COND_KEYS: &[&str] = &[
    "path", "command", "host", "url", "content", "tool", "signal", "secret", "arg", "action",
    "all", "any", "not",
];
const ACTION_NAMES: &[&str] = &[
    "read", "write", "delete", "copy", "move", "execute", "network", "stat", "all",
];
const SEVERITIES: &[&str] = &["critical", "high", "warning", "info"];

/// Parses one YAML rule file into `policy`, reporting every error into `diags`.
pub fn load(file: u32, text: &str, policy: &mut Policy, diags: &mut Diagnostics) {
    let root = match yaml_tree::parse(file, text) {
        Ok(Some(root)) => root,
        Ok(None) => return,
        Err(d) => {
            diags.push(d);
            return;
        }
    };
    let mut has_tables = false;
    let rules = match &root.kind {
        Kind::Seq(_) => Some(&root),
        Kind::Map(pairs) => {
            let mut rules = None;
            for (k, v) in pairs {
                match k.as_str().unwrap_or("") {
                    "rules" => rules = Some(v),
                    "tools" => {
                        has_tables = true;
                        super::tables::tools(v, &mut policy.tables, diags);
                    }
                    "commands" => {
                        has_tables = true;
                        super::tables::commands(v, &mut policy.tables, diags);
                    }
                    "shape" => {
                        has_tables = true;
                        super::tables::shape(v, &mut policy.tables, diags);
                    }
                    "secrets" => {
                        has_tables = true;
                        super::tables::secrets(v, &mut policy.tables, diags);
                    }
                    "languages" => {
                        has_tables = true;
                        super::tables::languages(v, &mut policy.tables, diags);
                    }
                    "later" => {
                        has_tables = true;
                        super::tables::later(v, &mut policy.tables, diags);
                    }
                    "registries" => {
                        has_tables = true;
                        super::tables::registries(v, &mut policy.tables, diags);
                    }
                    "version" => {
                        if !matches!(v.as_str(), Some("1") | Some("0")) {
                            diags.push(
                                Diagnostic::error(v.span, "unsupported rule file version")
                                    .with_help("write `version: 1` or leave it out"),
                            );
                        }
                    }
                    other => {
                        diags.push(unknown_key(k, other, TOP_KEYS, "at the top of a rule file"))
                    }
                }
            }
            rules
        }
        Kind::Scalar(..) if root.is_null() => return,
        Kind::Scalar(..) => {
            diags.push(
                Diagnostic::error(root.span, "a rule file must be a mapping with `rules:`")
                    .with_help("start the file with `rules:` followed by a list of rules"),
            );
            return;
        }
    };
    let Some(rules) = rules else {
        if has_tables {
            return;
        }
        diags.push(
            Diagnostic::error(root.span, "rule file has no `rules:` list")
                .with_help("add `rules:` followed by a list of rules"),
        );
        return;
    };
    match &rules.kind {
        Kind::Seq(items) => {
            for item in items {
                rule(item, policy, diags);
            }
        }
        _ if rules.is_null() => {}
        _ => diags.push(Diagnostic::error(
            rules.span,
            format!("`rules` must be a list, found {}", rules.describe()),
        )),
    }
}

fn unknown_key(k: &Node, name: &str, known: &[&str], ctx: &str) -> Diagnostic {
    Diagnostic::error(k.span, format!("unknown key `{name}` {ctx}")).suggest(name, known)
}

/// Reads a rule; errors are reported and the rule skipped, so later rules are still checked.
fn rule(node: &Node, policy: &mut Policy, diags: &mut Diagnostics) {
    let Kind::Map(pairs) = &node.kind else {
        diags.push(
            Diagnostic::error(
                node.span,
                format!("a rule must be a mapping, found {}", node.describe()),
            )
            .with_help("write `- block: \"<glob>\"` or `- name: ...` with `match:`"),
        );
        return;
    };
    let before = diags.error_count();
    let mut get = std::collections::BTreeMap::new();
    for (k, v) in pairs {
        let Some(name) = k.as_str() else {
            diags.push(Diagnostic::error(k.span, "rule keys must be strings"));
            continue;
        };
        if !RULE_KEYS.contains(&name) {
            diags.push(unknown_key(k, name, RULE_KEYS, "in rule"));
            continue;
        }
        if get.insert(name, (k, v)).is_some() {
            diags.push(Diagnostic::error(
                k.span,
                format!("key `{name}` appears twice in this rule"),
            ));
        }
    }
    let str_of = |key: &str, diags: &mut Diagnostics| -> Option<(String, Span)> {
        let (_, v) = get.get(key)?;
        match v.as_str() {
            Some(s) if !matches!(&v.kind, Kind::Scalar(_, false)) || !v.is_null() => {
                Some((s.to_owned(), v.span))
            }
            _ => {
                diags.push(Diagnostic::error(
                    v.span,
                    format!("`{key}` must be a string, found {}", v.describe()),
                ));
                None
            }
        }
    };
    let bool_of = |key: &str, default: bool, diags: &mut Diagnostics| -> bool {
        match get.get(key) {
            None => default,
            Some((_, v)) => v.as_bool().unwrap_or_else(|| {
                diags.push(Diagnostic::error(
                    v.span,
                    format!("`{key}` must be `true` or `false`"),
                ));
                default
            }),
        }
    };
    let name = str_of("name", diags);
    let enabled = bool_of("enabled", true, diags);
    let locked = bool_of("locked", false, diags);

    let criteria: Vec<&str> = ["block", "allow", "match", "all", "any", "not"]
        .into_iter()
        .filter(|k| get.contains_key(k))
        .collect();
    if criteria.is_empty() {
        match (&name, enabled) {
            (Some((n, span)), false) => {
                let extra: Vec<&&str> = get
                    .keys()
                    .filter(|k| !matches!(**k, "name" | "enabled"))
                    .collect();
                if let Some(k) = extra.first() {
                    if let Some((kn, _)) = get.get(**k) {
                        diags.push(Diagnostic::error(
                            kn.span,
                            format!("`{k}` has no effect on an entry that only disables a rule"),
                        ));
                    }
                }
                policy.disables.push(Disable {
                    name: n.clone(),
                    span: *span,
                });
            }
            _ => diags.push(
                Diagnostic::error(node.span, "rule has no criterion")
                    .with_help("give it one of `block`, `allow`, `match`, `all` or `any`"),
            ),
        }
        return;
    }
    if criteria.len() > 1 {
        if let Some((k, _)) = criteria.get(1).and_then(|c| get.get(c)) {
            diags.push(
                Diagnostic::error(
                    k.span,
                    format!(
                        "a rule takes one criterion, found `{}`",
                        criteria.join("`, `")
                    ),
                )
                .with_help("combine conditions with `all:` or `any:`"),
            );
        }
        return;
    }
    let criterion = criteria.first().copied().unwrap_or("block");
    let shorthand = matches!(criterion, "block" | "allow");

    if let Some((k, _)) = get.get("except") {
        if !shorthand {
            diags.push(
                Diagnostic::error(
                    k.span,
                    "`except` only works with `block:` or `allow:` path lists",
                )
                .with_help("inside `match:`/`all:`/`any:` use `not:`"),
            );
        }
    }
    let effect = if shorthand {
        if let Some((k, _)) = get.get("effect") {
            diags.push(Diagnostic::error(k.span, "`effect` only applies to `match`/`all`/`any` rules; `block:`/`allow:` already say it"));
        }
        if criterion == "allow" {
            Effect::Allow
        } else {
            Effect::Block
        }
    } else {
        match str_of("effect", diags) {
            None => Effect::Block,
            Some((e, _)) if e == "block" => Effect::Block,
            Some((e, _)) if e == "allow" => Effect::Allow,
            Some((e, span)) => {
                diags.push(
                    Diagnostic::error(span, format!("unknown effect `{e}`"))
                        .with_help("expected `block` or `allow`"),
                );
                Effect::Block
            }
        }
    };
    if effect == Effect::Allow && locked {
        if let Some((k, _)) = get.get("locked") {
            diags.push(
                Diagnostic::error(k.span, "an allow rule cannot be locked")
                    .with_help("`locked` protects block rules from being overridden"),
            );
        }
    }

    let actions = match get.get("actions") {
        None => ActionSet::ALL,
        Some((_, v)) => actions(v, diags),
    };
    let severity = match str_of("severity", diags) {
        None => Severity::Critical,
        Some((s, span)) => Severity::from_name(&s.to_ascii_lowercase()).unwrap_or_else(|| {
            diags.push(
                Diagnostic::error(span, format!("unknown severity `{s}`")).suggest(&s, SEVERITIES),
            );
            Severity::Critical
        }),
    };

    let cond = match criterion {
        "block" | "allow" => {
            let Some((_, v)) = get.get(criterion) else {
                return;
            };
            let include = patterns(v, Field::Path, diags);
            let exclude = match get.get("except") {
                Some((_, e)) => patterns(e, Field::Path, diags),
                None => Vec::new(),
            };
            Some(Cond::Field(FieldPred {
                field: Field::Path,
                key: None,
                include,
                exclude,
            }))
        }
        "match" => get.get("match").and_then(|(_, v)| condition(v, diags)),
        "all" | "any" | "not" => {
            let Some((k, v)) = get.get(criterion) else {
                return;
            };
            composite(criterion, k, v, diags)
        }
        _ => None,
    };
    let message = str_of("message", diags).map(|(m, _)| m);

    let (name, name_span) = match name {
        Some(n) => n,
        None if shorthand => {
            let first = match &cond {
                Some(Cond::Field(p)) => p
                    .include
                    .first()
                    .map(|p| p.source.clone())
                    .unwrap_or_default(),
                _ => String::new(),
            };
            (format!("{criterion}-{}", mangle(&first)), node.span)
        }
        None => {
            diags.push(
                Diagnostic::error(node.span, format!("a `{criterion}` rule needs a `name`"))
                    .with_help("add `name: <kebab-case-name>`"),
            );
            return;
        }
    };
    if let Err(why) = check_name(&name) {
        diags.push(Diagnostic::error(name_span, why));
    }
    if diags.error_count() > before {
        return;
    }
    let Some(cond) = cond else { return };
    let message = message.unwrap_or_else(|| crate::ir::default_message(&name, &cond, effect));
    policy.rules.push(Rule {
        name,
        name_span,
        span: node.span,
        effect,
        locked,
        enabled,
        severity,
        message,
        actions,
        cond,
    });
}

pub(crate) fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("rule name is empty".into());
    }
    if name.len() > 128 {
        return Err("rule name is longer than 128 characters".into());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
    {
        return Err(format!(
            "rule name `{name}` may only use letters, digits, `-`, `_`, `.` and `:`"
        ));
    }
    Ok(())
}

/// `**/.env` -> `recursive-env`, as upstream names shorthand rules.
fn mangle(pattern: &str) -> String {
    let s = pattern
        .replace("**", "recursive")
        .replace('*', "any")
        .replace(['/', '.', '~', '$', ' '], "-");
    let s: String = s
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    let mut out = String::new();
    for part in s.split('-').filter(|p| !p.is_empty()) {
        if !out.is_empty() {
            out.push('-');
        }
        out.push_str(part);
    }
    out
}

fn actions(v: &Node, diags: &mut Diagnostics) -> ActionSet {
    let items: Vec<&Node> = match &v.kind {
        Kind::Seq(items) => items.iter().collect(),
        Kind::Scalar(..) => vec![v],
        Kind::Map(_) => {
            diags.push(Diagnostic::error(
                v.span,
                "`actions` must be a list of action names",
            ));
            return ActionSet::ALL;
        }
    };
    let mut set = ActionSet::empty();
    let mut bad = false;
    for item in items {
        let name = item.as_str().unwrap_or("");
        if name.eq_ignore_ascii_case("all") {
            set = ActionSet::ALL;
            continue;
        }
        match Action::from_name(name) {
            Some(a) => set.insert(a),
            None => {
                bad = true;
                diags.push(
                    Diagnostic::error(item.span, format!("unknown action `{name}`"))
                        .suggest(&name.to_ascii_lowercase(), ACTION_NAMES),
                );
            }
        }
    }
    if set.is_empty() && !bad {
        diags.push(
            Diagnostic::error(v.span, "`actions` is empty")
                .with_help("leave `actions` out to mean all actions"),
        );
        return ActionSet::ALL;
    }
    set
}

/// A pattern or list of patterns for `field`.
fn patterns(v: &Node, field: Field, diags: &mut Diagnostics) -> Vec<Pattern> {
    let items: Vec<&Node> = match &v.kind {
        Kind::Seq(items) => items.iter().collect(),
        Kind::Scalar(..) => vec![v],
        Kind::Map(_) => {
            diags.push(Diagnostic::error(
                v.span,
                format!("`{field}` takes a pattern or a list of patterns, found a mapping"),
            ));
            return Vec::new();
        }
    };
    if items.is_empty() {
        diags.push(Diagnostic::error(v.span, "pattern list is empty"));
    }
    let mut out = Vec::new();
    for item in items {
        let Some(text) = item.as_str().filter(|_| !item.is_null()) else {
            diags.push(Diagnostic::error(
                item.span,
                format!("a pattern must be a string, found {}", item.describe()),
            ));
            continue;
        };
        if text.is_empty() || text == "re:" {
            diags.push(Diagnostic::error(item.span, "empty pattern"));
            continue;
        }
        let (kind, body) = match text.strip_prefix("re:") {
            Some(re) => (PatternKind::Regex, re),
            None if matches!(field, Field::Command | Field::Content) => {
                (PatternKind::Literal, text)
            }
            None => (PatternKind::Glob, text),
        };
        out.push(Pattern {
            kind,
            text: body.to_owned(),
            source: text.to_owned(),
            span: item.span,
        });
    }
    out
}

/// A condition mapping: its entries are ANDed.
fn condition(v: &Node, diags: &mut Diagnostics) -> Option<Cond> {
    let Kind::Map(pairs) = &v.kind else {
        diags.push(
            Diagnostic::error(
                v.span,
                format!("a condition must be a mapping, found {}", v.describe()),
            )
            .with_help("write e.g. `{ path: \"**/.env\" }`"),
        );
        return None;
    };
    if pairs.is_empty() {
        diags.push(Diagnostic::error(v.span, "empty condition"));
        return None;
    }
    let mut parts = Vec::new();
    let mut ok = true;
    for (k, val) in pairs {
        let name = k.as_str().unwrap_or("");
        if name == "action" {
            parts.push(Cond::Action(actions(val, diags), val.span));
        } else if name == "arg" {
            let Kind::Map(args) = &val.kind else {
                diags.push(
                    Diagnostic::error(
                        val.span,
                        "`arg` takes a mapping of argument keys to patterns",
                    )
                    .with_help("write e.g. `arg: { url: \"https://*.internal/*\" }`"),
                );
                ok = false;
                continue;
            };
            for (ak, av) in args {
                let Some(key) = ak.as_str().filter(|k| !k.is_empty()) else {
                    diags.push(Diagnostic::error(
                        ak.span,
                        "argument key must be a non-empty string",
                    ));
                    ok = false;
                    continue;
                };
                let include = patterns(av, Field::Arg, diags);
                if include.is_empty() {
                    ok = false;
                }
                parts.push(Cond::Field(FieldPred {
                    field: Field::Arg,
                    key: Some(key.to_owned()),
                    include,
                    exclude: Vec::new(),
                }));
            }
        } else if let Some(field) = Field::from_name(name).filter(|f| *f != Field::Arg) {
            let include = patterns(val, field, diags);
            if include.is_empty() {
                ok = false;
            }
            parts.push(Cond::Field(FieldPred {
                field,
                key: None,
                include,
                exclude: Vec::new(),
            }));
        } else if matches!(name, "all" | "any" | "not") {
            match composite(name, k, val, diags) {
                Some(c) => parts.push(c),
                None => ok = false,
            }
        } else {
            diags.push(unknown_key(k, name, COND_KEYS, "in condition"));
            ok = false;
        }
    }
    if !ok {
        return None;
    }
    Some(if parts.len() == 1 {
        parts.pop()?
    } else {
        Cond::All(parts)
    })
}

fn composite(kind: &str, k: &Node, v: &Node, diags: &mut Diagnostics) -> Option<Cond> {
    if kind == "not" {
        return condition(v, diags).map(|c| Cond::Not(Box::new(c)));
    }
    let Kind::Seq(items) = &v.kind else {
        diags.push(Diagnostic::error(
            v.span,
            format!(
                "`{kind}` must be a list of conditions, found {}",
                v.describe()
            ),
        ));
        return None;
    };
    if items.is_empty() {
        diags.push(Diagnostic::error(
            k.span,
            format!("`{kind}` has no conditions"),
        ));
        return None;
    }
    let mut parts = Vec::new();
    for item in items {
        parts.push(condition(item, diags));
    }
    let parts: Option<Vec<Cond>> = parts.into_iter().collect();
    let parts = parts?;
    Some(if kind == "all" {
        Cond::All(parts)
    } else {
        Cond::Any(parts)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mangles_like_upstream() {
        assert_eq!(mangle("**/.env"), "recursive-env");
        assert_eq!(mangle("$HOME/.ssh/id_*"), "HOME-ssh-id_any");
    }
}
