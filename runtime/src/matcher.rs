//! One pass per automaton over a field value, by hand: start state, one transition per byte,
//! end-of-input transition, then the match state's pattern ids. Walking by hand is about twice
//! as fast as the generic overlapping-search API for whole-value semantics.

use crate::bundle::meta::{Form, GroupMeta, Meta, Scan};
use crate::bundle::{Bundle, Dfa};
use crate::model::Field;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex_automata::dfa::Automaton;
use regex_automata::util::{primitives::StateID, start};
use regex_automata::Anchored;

/// An automaton gave up (a quit byte). Built-in automata have none; a bundle that does is
/// answered by failing closed.
#[derive(Debug, Clone, Copy)]
pub struct GaveUp;

/// The literal gate of one field: one Aho-Corasick automaton over every gated group's
/// literals, rebuilt at load because prefilters have no wire form.
pub(crate) struct FieldGate {
    ac: Option<AhoCorasick>,
    /// Literal index -> group index.
    lit_group: Vec<u32>,
}

pub(crate) fn build_gates(meta: &Meta) -> Result<Vec<FieldGate>, String> {
    meta.fields
        .iter()
        .map(|f| {
            let mut lits: Vec<&[u8]> = Vec::new();
            let mut lit_group = Vec::new();
            for (gi, g) in f.groups.iter().enumerate() {
                for l in &g.gate {
                    lits.push(l);
                    lit_group.push(gi as u32);
                }
            }
            let ac = if lits.is_empty() {
                None
            } else {
                Some(
                    AhoCorasickBuilder::new()
                        .ascii_case_insensitive(true)
                        .match_kind(MatchKind::Standard)
                        .build(&lits)
                        .map_err(|e| format!("gate literals: {e}"))?,
                )
            };
            Ok(FieldGate { ac, lit_group })
        })
        .collect()
}

thread_local! {
    static GATES: std::cell::RefCell<GateScratch> = std::cell::RefCell::new(GateScratch::default());
}

/// Per-thread scratch for gates: stamp per group and form.
#[derive(Default)]
pub(crate) struct GateScratch {
    stamp: u32,
    plain: Vec<u32>,
    home: Vec<u32>,
}

impl GateScratch {
    fn next(&mut self, groups: usize) {
        if self.plain.len() < groups {
            self.plain.resize(groups, 0);
            self.home.resize(groups, 0);
        }
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.plain.iter_mut().for_each(|s| *s = 0);
            self.home.iter_mut().for_each(|s| *s = 0);
            self.stamp = 1;
        }
    }
}

impl Bundle {
    /// Ids of the field's patterns that one value matches (for benchmarks and tools: the engine
    /// itself goes through [`Bundle::evaluate`]). `home` is the normalized home directory.
    pub fn field_matches(
        &self,
        field: Field,
        value: &str,
        home: &str,
        out: &mut Vec<u32>,
    ) -> Result<(), GaveUp> {
        let mut buf = String::new();
        let h = if field == Field::Path {
            crate::normalize::home_form(value, home, &mut buf).map(str::as_bytes)
        } else {
            None
        };
        GATES.with(|g| match g.try_borrow_mut() {
            Ok(mut gs) => self.match_value(field, value.as_bytes(), h, &mut gs, out),
            Err(_) => {
                self.match_value(field, value.as_bytes(), h, &mut GateScratch::default(), out)
            }
        })
    }

    /// Appends to `out` the ids of the field's patterns that `plain` (and, for paths under the
    /// home directory, its `~` form `home`) match. Ids may repeat.
    pub(crate) fn match_value(
        &self,
        field: Field,
        plain: &[u8],
        home: Option<&[u8]>,
        gs: &mut GateScratch,
        out: &mut Vec<u32>,
    ) -> Result<(), GaveUp> {
        let (Some(fm), Some(gate)) = (
            self.meta.fields.get(field.index()),
            self.gates.get(field.index()),
        ) else {
            return Ok(());
        };
        if fm.groups.is_empty() {
            return Ok(());
        }
        if let Some(ac) = &gate.ac {
            gs.next(fm.groups.len());
            mark_gates(ac, &gate.lit_group, plain, gs.stamp, &mut gs.plain);
            if let Some(h) = home {
                mark_gates(ac, &gate.lit_group, h, gs.stamp, &mut gs.home);
            }
        }
        let automata = &self.views.borrow_dependent().sections;
        for (gi, g) in fm.groups.iter().enumerate() {
            let Some(Some(dfa)) = automata.get(g.section as usize) else {
                continue;
            };
            let gated = !g.gate.is_empty();
            let open = |stamps: &[u32]| !gated || stamps.get(gi) == Some(&gs.stamp);
            if matches!(g.form, Form::Plain | Form::Both) && open(&gs.plain) {
                run(dfa, g, plain, out)?;
            }
            if let Some(h) = home {
                if matches!(g.form, Form::Home | Form::Both) && open(&gs.home) {
                    run(dfa, g, h, out)?;
                }
            }
        }
        Ok(())
    }
}

fn mark_gates(ac: &AhoCorasick, lit_group: &[u32], hay: &[u8], stamp: u32, marks: &mut [u32]) {
    for m in ac.find_overlapping_iter(hay) {
        if let Some(&g) = lit_group.get(m.pattern().as_usize()) {
            if let Some(s) = marks.get_mut(g as usize) {
                *s = stamp;
            }
        }
    }
}

fn run(dfa: &Dfa<'_>, g: &GroupMeta, value: &[u8], out: &mut Vec<u32>) -> Result<(), GaveUp> {
    match dfa {
        Dfa::Dense(d) => run_on(d, g, value, out),
        Dfa::Sparse(d) => run_on(d, g, value, out),
    }
}

fn run_on<A: Automaton>(
    dfa: &A,
    g: &GroupMeta,
    value: &[u8],
    out: &mut Vec<u32>,
) -> Result<(), GaveUp> {
    match g.scan {
        Scan::WholeForward => whole(dfa, value.iter().copied(), g, out),
        Scan::WholeReverse => whole(dfa, value.iter().rev().copied(), g, out),
        Scan::Search => search(dfa, value, g, out),
    }
}

fn start_state<A: Automaton>(dfa: &A, anchored: Anchored) -> Result<StateID, GaveUp> {
    dfa.start_state(&start::Config::new().anchored(anchored))
        .map_err(|_| GaveUp)
}

fn emit<A: Automaton>(dfa: &A, s: StateID, g: &GroupMeta, out: &mut Vec<u32>) {
    for i in 0..dfa.match_len(s) {
        if let Some(&p) = g.patterns.get(dfa.match_pattern(s, i).as_usize()) {
            out.push(p);
        }
    }
}

/// Whole-value match: patterns are anchored at both ends, so only the state after the
/// end-of-input transition can report a match.
fn whole<A: Automaton>(
    dfa: &A,
    bytes: impl Iterator<Item = u8>,
    g: &GroupMeta,
    out: &mut Vec<u32>,
) -> Result<(), GaveUp> {
    let mut s = start_state(dfa, Anchored::Yes)?;
    for b in bytes {
        s = dfa.next_state(s, b);
        if dfa.is_special_state(s) {
            if dfa.is_dead_state(s) {
                return Ok(());
            }
            if dfa.is_quit_state(s) {
                return Err(GaveUp);
            }
        }
    }
    s = dfa.next_eoi_state(s);
    if dfa.is_match_state(s) {
        emit(dfa, s, g, out);
    }
    Ok(())
}

/// Unanchored search: every pattern that matches anywhere in the value. A multi-pattern group
/// may report a pattern more than once; the engine deduplicates.
fn search<A: Automaton>(
    dfa: &A,
    value: &[u8],
    g: &GroupMeta,
    out: &mut Vec<u32>,
) -> Result<(), GaveUp> {
    let mut s = start_state(dfa, Anchored::No)?;
    let single = g.patterns.len() == 1;
    for &b in value {
        s = dfa.next_state(s, b);
        if dfa.is_special_state(s) {
            if dfa.is_match_state(s) {
                emit(dfa, s, g, out);
                if single {
                    return Ok(());
                }
            } else if dfa.is_dead_state(s) {
                break;
            } else if dfa.is_quit_state(s) {
                return Err(GaveUp);
            }
        }
    }
    s = dfa.next_eoi_state(s);
    if dfa.is_match_state(s) {
        emit(dfa, s, g, out);
    }
    Ok(())
}
