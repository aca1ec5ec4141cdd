//! The `crustc --stats` report: rules, patterns, and how the compiler partitioned them into
//! automata (shape, dense or sparse, size).

use crate::lower::{GroupStats, LoweredPolicy};
use crust_runtime::model::{Effect, Field};
use std::fmt::Write;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Stats {
    pub rules: usize,
    pub block_rules: usize,
    pub allow_rules: usize,
    pub locked_rules: usize,
    pub disabled: Vec<String>,
    pub patterns: Vec<(Field, usize)>,
    pub groups: Vec<GroupStats>,
    pub bundle_bytes: usize,
    pub build_time: Duration,
    /// Secret formats, their prefilter literals, and the scanner automaton's stored size.
    pub secrets: (usize, usize, usize),
}

impl Stats {
    pub fn new(l: &LoweredPolicy, bundle_bytes: usize, build_time: Duration) -> Stats {
        let rules = &l.meta.rules;
        Stats {
            rules: rules.len(),
            block_rules: rules.iter().filter(|r| r.effect == Effect::Block).count(),
            allow_rules: rules.iter().filter(|r| r.effect == Effect::Allow).count(),
            locked_rules: rules.iter().filter(|r| r.locked).count(),
            disabled: l.disabled.clone(),
            patterns: Field::ALL
                .iter()
                .zip(&l.meta.fields)
                .map(|(f, m)| (*f, m.patterns.len()))
                .collect(),
            groups: l.groups.clone(),
            bundle_bytes,
            build_time,
            secrets: (
                l.meta.tables.secrets.formats.len(),
                l.meta
                    .tables
                    .secrets
                    .formats
                    .iter()
                    .map(|f| f.prefixes.len())
                    .sum(),
                l.meta
                    .tables
                    .secrets
                    .section
                    .and_then(|i| l.automata.get((i as usize).wrapping_sub(1)))
                    .map_or(0, |a| a.bytes.len()),
            ),
        }
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "rules: {} ({} block, {} allow, {} locked), {} disabled{}",
            self.rules,
            self.block_rules,
            self.allow_rules,
            self.locked_rules,
            self.disabled.len(),
            if self.disabled.is_empty() {
                String::new()
            } else {
                format!(": {}", self.disabled.join(", "))
            }
        );
        let pats: Vec<String> = self
            .patterns
            .iter()
            .map(|(f, n)| format!("{f} {n}"))
            .collect();
        let _ = writeln!(s, "patterns: {}", pats.join(", "));
        let _ = writeln!(s, "automata: {}", self.groups.len());
        let _ = writeln!(
            s,
            "  {:<8} {:<7} {:<6} {:>8} {:>6} {:>11} {:>11}",
            "field", "shape", "form", "patterns", "gated", "dense", "stored"
        );
        for g in &self.groups {
            let _ = writeln!(
                s,
                "  {:<8} {:<7} {:<6} {:>8} {:>6} {:>11} {:>11}",
                g.field.name(),
                format!("{:?}", g.shape).to_lowercase(),
                format!("{:?}", g.form).to_lowercase(),
                g.patterns,
                if g.gated { "yes" } else { "no" },
                human_bytes(g.dense_bytes),
                format!(
                    "{}{}",
                    human_bytes(g.stored_bytes),
                    if g.sparse { " sparse" } else { "" }
                ),
            );
        }
        let dense: usize = self
            .groups
            .iter()
            .filter(|g| !g.sparse)
            .map(|g| g.stored_bytes)
            .sum();
        if self.secrets.0 > 0 {
            let _ = writeln!(
                s,
                "secret scanner: {} formats, {} prefix literals, sparse automaton {}",
                self.secrets.0,
                self.secrets.1,
                human_bytes(self.secrets.2)
            );
        }
        let _ = writeln!(
            s,
            "bundle: {} ({} in dense automata), built in {:.1} ms",
            human_bytes(self.bundle_bytes),
            human_bytes(dense),
            self.build_time.as_secs_f64() * 1e3
        );
        s
    }
}

fn human_bytes(n: usize) -> String {
    if n >= 1 << 20 {
        format!("{:.2} MiB", n as f64 / f64::from(1 << 20))
    } else if n >= 1 << 10 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{n} B")
    }
}
