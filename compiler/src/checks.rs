//! Whole-policy checks on the IR: duplicate names, and locked rules that something tries to
//! redefine or disable.

use crate::diag::{did_you_mean, Diagnostic, Diagnostics};
use crate::ir::Policy;
use crate::source::SourceMap;
use std::collections::BTreeMap;

pub fn check(policy: &Policy, sources: &SourceMap, diags: &mut Diagnostics) {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, r) in policy.rules.iter().enumerate() {
        if let Some(&first) = seen.get(r.name.as_str()) {
            let prev = policy.rules.get(first);
            let at = prev
                .map(|p| sources.location(p.name_span))
                .unwrap_or_default();
            let msg = if prev.is_some_and(|p| p.locked) {
                format!("rule `{}` is locked and cannot be redefined", r.name)
            } else {
                format!("duplicate rule name `{}`", r.name)
            };
            diags.push(
                Diagnostic::error(r.name_span, msg)
                    .with_help(format!("first defined at {at}; rule names must be unique")),
            );
        } else {
            seen.insert(&r.name, i);
        }
        if r.locked && !r.enabled {
            diags.push(Diagnostic::error(
                r.name_span,
                format!("rule `{}` is locked and cannot be disabled", r.name),
            ));
        }
    }
    let names: Vec<&str> = seen.keys().copied().collect();
    for d in &policy.disables {
        match seen.get(d.name.as_str()).and_then(|&i| policy.rules.get(i)) {
            Some(r) if r.locked => diags.push(
                Diagnostic::error(d.span, format!("rule `{}` is locked and cannot be disabled", d.name))
                    .with_help("locked rules protect against mistakes and prompt injection alike; write an `allow` rule for a narrower exception only if the rule is unlocked"),
            ),
            Some(_) => {}
            None => {
                let diag = Diagnostic::error(d.span, format!("no rule named `{}` to disable", d.name));
                diags.push(match did_you_mean(&d.name, &names) {
                    Some(m) => diag.with_help(format!("did you mean `{m}`?")),
                    None => diag,
                });
            }
        }
    }
}
