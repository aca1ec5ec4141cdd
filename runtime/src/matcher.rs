//! One pass per automaton over a field value, by hand: start state, one transition per byte,
//! end-of-input transition, then the match state's pattern ids. Walking by hand is about twice
//! as fast as the generic overlapping-search API for whole-value semantics.

use crate::bundle::meta::{FieldMeta, Form, GroupMeta, Scan};
pub use crate::bundle::GaveUp;
use crate::bundle::{Bundle, Dfa, Validation};
use crate::model::Field;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex_automata::dfa::Automaton;
use regex_automata::util::{primitives::StateID, start};
use regex_automata::Anchored;
use std::sync::OnceLock;

/// The bundle's automata and the engine's gates, lent for matching.
pub(crate) struct Matcher<'e> {
    pub(crate) bundle: &'e Bundle,
    pub(crate) gates: &'e [OnceLock<Result<FieldGate, String>>],
}

impl Matcher<'_> {
    /// The literal gate of field `f`, built on first use.
    pub(crate) fn gate(&self, f: usize) -> Result<&FieldGate, &str> {
        let (Some(cell), Some(field)) = (self.gates.get(f), self.bundle.meta.fields.get(f)) else {
            return Err("no such field");
        };
        cell.get_or_init(|| build_gate(field, self.bundle.validation()))
            .as_ref()
            .map_err(String::as_str)
    }
}

/// The literal gate of one field: one Aho-Corasick automaton over every gated group's
/// literals, rebuilt at load because prefilters have no wire form.
pub(crate) struct FieldGate {
    ac: Option<AhoCorasick>,
    /// Literal index -> group index.
    lit_group: Vec<u32>,
    /// Groups without a gate: they run on every value.
    ungated: Vec<u32>,
}

/// The gate of one field: one Aho-Corasick automaton over its gated groups' literals. A DFA
/// scans several times faster than an NFA; for a bundle validated on use (one call, then exit)
/// building the DFA would cost more than every scan it saves. No prefilter: with a few hundred
/// literals it degrades to rare-byte candidates that fire on most command text, and command
/// values are short (the 192-byte pipeline: 149 K instructions with it, 127 K without).
pub(crate) fn build_gate(f: &FieldMeta, validation: Validation) -> Result<FieldGate, String> {
    let mut lits: Vec<&[u8]> = Vec::new();
    let mut lit_group = Vec::new();
    for (gi, g) in f.groups.iter().enumerate() {
        for l in &g.gate {
            lits.push(l);
            lit_group.push(gi as u32);
        }
    }
    let kind = match validation {
        Validation::AtLoad => AhoCorasickKind::DFA,
        Validation::OnUse => AhoCorasickKind::NoncontiguousNFA,
    };
    let ac = if lits.is_empty() {
        None
    } else {
        Some(
            AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .kind(Some(kind))
                .prefilter(false)
                .build(&lits)
                .map_err(|e| format!("gate literals: {e}"))?,
        )
    };
    let ungated = (0..f.groups.len() as u32)
        .filter(|&gi| f.groups.get(gi as usize).is_some_and(|g| g.gate.is_empty()))
        .collect();
    Ok(FieldGate {
        ac,
        lit_group,
        ungated,
    })
}

thread_local! {
    static GATES: std::cell::RefCell<GateScratch> = std::cell::RefCell::new(GateScratch::default());
}

/// Per-thread scratch for gates: stamp per group and form, and the groups to run.
#[derive(Default)]
pub(crate) struct GateScratch {
    stamp: u32,
    plain: Vec<u32>,
    home: Vec<u32>,
    /// Groups some gate opened for this value (either form), each once.
    opened: Vec<u32>,
}

impl GateScratch {
    fn next(&mut self, groups: usize) {
        if self.plain.len() < groups {
            self.plain.resize(groups, 0);
            self.home.resize(groups, 0);
        }
        self.opened.clear();
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.plain.iter_mut().for_each(|s| *s = 0);
            self.home.iter_mut().for_each(|s| *s = 0);
            self.stamp = 1;
        }
    }
}

impl Matcher<'_> {
    /// Ids of the field's patterns that one value matches. `home` is the normalized home
    /// directory.
    pub(crate) fn field_matches(
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
            Ok(mut gs) => {
                self.match_value(field, value.as_bytes(), h, GateScan::Scan, &mut gs, out)
            }
            Err(_) => self.match_value(
                field,
                value.as_bytes(),
                h,
                GateScan::Scan,
                &mut GateScratch::default(),
                out,
            ),
        })
    }

    /// Appends to `out` the ids of the field's patterns that `plain` (and, for paths under the
    /// home directory, its `~` form `home`) match. Ids may repeat.
    pub(crate) fn match_value(
        &self,
        field: Field,
        plain: &[u8],
        home: Option<&[u8]>,
        scan: GateScan<'_>,
        gs: &mut GateScratch,
        out: &mut Vec<u32>,
    ) -> Result<(), GaveUp> {
        // Meta::validate checked there is one entry per field: a missing one is refused, not
        // read as "no pattern matched".
        let fm = self.bundle.meta.fields.get(field.index()).ok_or(GaveUp)?;
        let gate = self.gate(field.index()).map_err(|_| GaveUp)?;
        if fm.groups.is_empty() {
            return Ok(());
        }
        gs.next(fm.groups.len());
        if let Some(ac) = &gate.ac {
            let GateScratch {
                stamp,
                plain: plain_marks,
                home: home_marks,
                opened,
            } = gs;
            let lit_group = &gate.lit_group;
            match scan {
                GateScan::Scan => {
                    mark_gates(ac, lit_group, plain, *stamp, plain_marks, opened);
                }
                GateScan::Record(hits) => {
                    hits.clear();
                    for m in ac.find_overlapping_iter(plain) {
                        let lit = m.pattern().as_usize();
                        mark_group(lit_group, lit, *stamp, plain_marks, opened);
                        hits.push(LitHit::new(lit, m.start(), m.end()));
                    }
                    sort_by_end(hits);
                }
                GateScan::Within(hits, at) => {
                    for h in hits_within(hits, at, plain.len()) {
                        mark_group(lit_group, h.lit as usize, *stamp, plain_marks, opened);
                    }
                }
            }
            if let Some(h) = home {
                mark_gates(ac, &gate.lit_group, h, *stamp, home_marks, opened);
            }
        }
        // Only the groups that can match: ungated ones and those a gate opened. Going over
        // every group per value cost more than the automata themselves on command lines.
        for &gi in gate.ungated.iter().chain(gs.opened.iter()) {
            let g = fm.groups.get(gi as usize).ok_or(GaveUp)?;
            let dfa = self.bundle.automaton(g.section as usize)?;
            let gated = !g.gate.is_empty();
            let open = |stamps: &[u32]| !gated || stamps.get(gi as usize) == Some(&gs.stamp);
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

fn mark_gates(
    ac: &AhoCorasick,
    lit_group: &[u32],
    hay: &[u8],
    stamp: u32,
    marks: &mut [u32],
    opened: &mut Vec<u32>,
) {
    for m in ac.find_overlapping_iter(hay) {
        mark_group(lit_group, m.pattern().as_usize(), stamp, marks, opened);
    }
}

/// Opens the group of gate literal `lit`.
fn mark_group(lit_group: &[u32], lit: usize, stamp: u32, marks: &mut [u32], opened: &mut Vec<u32>) {
    if let Some(&g) = lit_group.get(lit) {
        if let Some(s) = marks.get_mut(g as usize) {
            if *s != stamp {
                *s = stamp;
                // The other form may have opened it already.
                if !opened.contains(&g) {
                    opened.push(g);
                }
            }
        }
    }
}

/// One occurrence of a literal (a gate literal or a secret prefix) in a text.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LitHit {
    pub lit: u32,
    pub start: u32,
    pub end: u32,
}

impl LitHit {
    pub fn new(lit: usize, start: usize, end: usize) -> Self {
        LitHit {
            lit: lit as u32,
            start: start as u32,
            end: end as u32,
        }
    }

    /// Whether the occurrence lies wholly inside `[at, at + len)`.
    pub fn within(&self, at: usize, len: usize) -> bool {
        self.start as usize >= at && self.end as usize <= at + len
    }
}

/// Puts recorded occurrences in order of their end, which [`hits_within`] needs (a
/// left-to-right scan finds them so already; the SIMD prefix searchers do not).
pub(crate) fn sort_by_end(hits: &mut [LitHit]) {
    if !hits.is_sorted_by_key(|h| h.end) {
        hits.sort_by_key(|h| h.end);
    }
}

/// The occurrences lying wholly inside `[at, at + len)`, from occurrences in order of their
/// end (as a scan finds them): a binary search, then only those ending inside, so a command
/// line of a thousand stages stays linear.
pub(crate) fn hits_within(
    hits: &[LitHit],
    at: usize,
    len: usize,
) -> impl Iterator<Item = &LitHit> + '_ {
    let from = hits.partition_point(|h| (h.end as usize) <= at);
    hits.get(from..)
        .unwrap_or(&[])
        .iter()
        .take_while(move |h| h.end as usize <= at + len)
        .filter(move |h| h.within(at, len))
}

/// Where a value's gate literals come from. A value that is a slice of another value already
/// scanned contains exactly the occurrences of that value that lie inside the slice, so its
/// own scan is skipped (the command field's pipeline stages are slices of the command line).
pub(crate) enum GateScan<'h> {
    /// Scan the value.
    Scan,
    /// Scan the value and keep its occurrences.
    Record(&'h mut Vec<LitHit>),
    /// The value is the slice at this offset of the text these occurrences were recorded in.
    Within(&'h [LitHit], usize),
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

/// Sets of automaton states: keys are small integers chosen by the automaton, not by the
/// input, so a multiplicative hash is enough and several times cheaper than SipHash.
type StateSet<K> = std::collections::HashSet<K, std::hash::BuildHasherDefault<StateHasher>>;

#[derive(Default)]
struct StateHasher(u64);

impl std::hash::Hasher for StateHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// One element of a glob: a byte, or a wildcard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GlobEl {
    Byte(u8),
    /// `*`, `?`, and classes this matcher does not model exactly: any run without `/`.
    Seg,
    /// Unknown text after a known directory (`build/$F`): one name, any text, even a leading
    /// dot. Unlike a written wildcard it is never narrowed (see [`glob_on`]).
    Name,
    /// The same at the start of a name, where the shell does not match a leading `.`.
    SegNoDot,
    /// `SegNoDot` run backwards (reverse automata): its last byte is not a dot, and it may be
    /// empty only if the byte before it (the name's first, in forward order) is not a dot.
    SegNoDotRev {
        after_dot: bool,
    },
    /// A subtree: any run at all.
    Any,
    /// Unknown text at the start of a path (`$DIR/x`): any run, narrowed like a written
    /// wildcard (see [`glob_on`]).
    AnyUnknown,
    /// A written `**`: any run, but no name in it starts with a dot.
    AnyVisible,
    /// `AnyVisible` run backwards: no `.` is followed by `/`; when a `/` comes next, the run
    /// may not end with a `.`.
    AnyVisibleRev {
        before_slash: bool,
    },
    /// A positive ASCII class: one of these bytes.
    Class([bool; 128]),
}

fn glob_elements(glob: &str) -> Vec<GlobEl> {
    let b = glob.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        i += 1;
        // Whether a known directory precedes: more than a lone `/` or `~` (the forms an
        // unknown start takes).
        let named = out.len() > 1
            || out
                .first()
                .is_some_and(|e| !matches!(e, GlobEl::Byte(b'/' | b'~') | GlobEl::Any));
        match c {
            b'*' if b.get(i) == Some(&b'*') => {
                while b.get(i) == Some(&b'*') {
                    i += 1;
                }
                if out.last() != Some(&GlobEl::Any) {
                    out.push(GlobEl::AnyVisible);
                }
            }
            // U+E000 (the analysis's unknown text) in UTF-8.
            // Unknown text after a known directory stands for one name in it (`build/$F`):
            // taken as any text it would make every `build/…/.ssh/id_rsa` reachable.
            0xEE if b.get(i) == Some(&0x80) && b.get(i + 1) == Some(&0x80) && named => {
                i += 2;
                // `$A/$B`: the first unknown already stands for any run, `/` included.
                if out.len() >= 2
                    && matches!(
                        out.get(out.len() - 2),
                        Some(GlobEl::Any | GlobEl::AnyUnknown)
                    )
                    && out.last() == Some(&GlobEl::Byte(b'/'))
                {
                    out.pop();
                    continue;
                }
                match out.last() {
                    Some(GlobEl::SegNoDot | GlobEl::Seg) => {
                        out.pop();
                        out.push(GlobEl::Name);
                    }
                    Some(GlobEl::Name | GlobEl::Any | GlobEl::AnyUnknown | GlobEl::AnyVisible) => {}
                    _ => out.push(GlobEl::Name),
                }
            }
            // A subtree, or unknown text at the start (`$DIR/x`): any path at all.
            0xEE if b.get(i) == Some(&0x80) && matches!(b.get(i + 1), Some(&0x80 | &0x81)) => {
                let subtree = b.get(i + 1) == Some(&0x81);
                i += 2;
                if out.len() >= 2
                    && matches!(
                        out.get(out.len() - 2),
                        Some(GlobEl::Any | GlobEl::AnyUnknown)
                    )
                    && out.last() == Some(&GlobEl::Byte(b'/'))
                {
                    out.pop();
                }
                // Any run absorbs the wildcards around it: `$X$Y*` is one element, so a run
                // of unknowns costs one closure, not one each.
                // A subtree anywhere in the run makes it one (never narrowed).
                let mut whole = subtree;
                while let Some(
                    last @ (GlobEl::Seg
                    | GlobEl::SegNoDot
                    | GlobEl::Name
                    | GlobEl::Any
                    | GlobEl::AnyUnknown
                    | GlobEl::AnyVisible),
                ) = out.last().copied()
                {
                    whole |= last == GlobEl::Any;
                    out.pop();
                }
                out.push(if whole {
                    GlobEl::Any
                } else {
                    GlobEl::AnyUnknown
                });
            }
            b'*' => push_seg(&mut out),
            // `?` is exactly one character: any byte but `/` (and not a dot that starts a
            // name). A non-ASCII character is several bytes; those names are matched as
            // if `?` were `*`.
            b'?' => {
                let at_start = matches!(out.last(), None | Some(GlobEl::Byte(b'/')));
                if b.iter().any(|x| !x.is_ascii()) {
                    push_seg(&mut out);
                } else {
                    let mut set = [true; 128];
                    if let Some(s) = set.get_mut(usize::from(b'/')) {
                        *s = false;
                    }
                    if at_start {
                        if let Some(s) = set.get_mut(usize::from(b'.')) {
                            *s = false;
                        }
                    }
                    if let Some(s) = set.first_mut() {
                        *s = false;
                    }
                    out.push(GlobEl::Class(set));
                }
            }
            b'[' => {
                let start = i;
                let negated = matches!(b.get(i), Some(b'!' | b'^'));
                let mut j = i + usize::from(negated);
                // `]` right after `[` or `[!` is a member.
                if b.get(j) == Some(&b']') {
                    j += 1;
                }
                while b.get(j).is_some_and(|&x| x != b']') {
                    j += 1;
                }
                if b.get(j).is_none() {
                    out.push(GlobEl::Byte(b'['));
                    continue;
                }
                let body = b.get(start + usize::from(negated)..j).unwrap_or(&[]);
                i = j + 1;
                if negated || body.iter().any(|x| !x.is_ascii()) {
                    push_seg(&mut out);
                    continue;
                }
                let mut set = [false; 128];
                let mut k = 0;
                while let Some(&x) = body.get(k) {
                    if body.get(k + 1) == Some(&b'-') && body.get(k + 2).is_some() {
                        let hi = body.get(k + 2).copied().unwrap_or(x);
                        for y in x..=hi {
                            if let Some(s) = set.get_mut(usize::from(y)) {
                                *s = true;
                            }
                        }
                        k += 3;
                    } else {
                        if let Some(s) = set.get_mut(usize::from(x)) {
                            *s = true;
                        }
                        k += 1;
                    }
                }
                out.push(GlobEl::Class(set));
            }
            b'\\' => {
                if let Some(&n) = b.get(i) {
                    out.push(GlobEl::Byte(n));
                    i += 1;
                }
            }
            _ => out.push(GlobEl::Byte(c)),
        }
    }
    out
}

/// Appends a one-name wildcard. At the start of a name it cannot produce a leading dot; right
/// after another wildcard it merges into it (`*?` is at most what `*` is).
fn push_seg(out: &mut Vec<GlobEl>) {
    match out.last() {
        None | Some(GlobEl::Byte(b'/')) => out.push(GlobEl::SegNoDot),
        Some(
            GlobEl::Seg
            | GlobEl::SegNoDot
            | GlobEl::Name
            | GlobEl::Any
            | GlobEl::AnyUnknown
            | GlobEl::AnyVisible,
        ) => {}
        _ => out.push(GlobEl::Seg),
    }
}

/// Automaton transitions all the globs of one decision may take before the matcher gives up
/// (and the call is blocked). Shared by every glob, group and form of the decision, so the
/// worst case is a fixed cost (about 20 ms with 390 path patterns), whatever the input;
/// ordinary globs take a few thousand. `rm -rf ~` against every path pattern needs more
/// than 2^19 since the credential stores of databases, agents and cloud CLIs were added.
pub(crate) const GLOB_TRANSITION_BUDGET: usize = 1 << 20;

impl Matcher<'_> {
    /// For a path with wildcards, every set of pattern ids that some concrete path it stands
    /// for would produce: the glob is run through each automaton as a set of states (the
    /// product of the glob with the DFA), so no concrete path is ever enumerated.
    ///
    /// Each set comes back with the ids that *every* path the glob stands for hits in the
    /// other automata added: an exception compiled into another group than its include
    /// (`~/.ssh/*` and `*.pub`) must still clear `~/.ssh/*.pub`. Adding only ids every path
    /// hits keeps the result an over-approximation: no set loses an id some path lacks.
    pub(crate) fn match_glob(
        &self,
        field: Field,
        glob: &str,
        home: Option<&str>,
        budget: &mut usize,
    ) -> Result<Vec<Vec<u32>>, GaveUp> {
        let mut run = GlobRun {
            budget,
            sets: Vec::new(),
            must: Vec::new(),
        };
        self.glob_sets(field, glob, home, &mut run)?;
        let GlobRun { mut sets, must, .. } = run;
        if !must.is_empty() {
            for set in &mut sets {
                for &id in &must {
                    if !set.contains(&id) {
                        set.push(id);
                    }
                }
            }
        }
        Ok(sets)
    }

    fn glob_sets(
        &self,
        field: Field,
        glob: &str,
        home: Option<&str>,
        out: &mut GlobRun<'_>,
    ) -> Result<(), GaveUp> {
        // Meta::validate checked there is one entry per field: a missing one is refused, not
        // read as "no pattern matched".
        let fm = self.bundle.meta.fields.get(field.index()).ok_or(GaveUp)?;
        let plain = glob_elements(glob);
        // A path whose start is unknown may be under the home directory too.
        let home_owned;
        let home = match home {
            Some(h) => Some(h),
            None if glob.starts_with("/\u{E000}") || glob.starts_with("/\u{E001}") => {
                home_owned = format!("~{}", glob.get(1..).unwrap_or(""));
                Some(home_owned.as_str())
            }
            None => None,
        };
        let home_els = home.map(glob_elements);
        // The home directory's own elements: all but the home form's rest.
        let (plain_fixed, home_fixed) = match &home_els {
            Some(h) if h.first() == Some(&GlobEl::Byte(b'~')) => {
                (plain.len().saturating_sub(h.len().saturating_sub(1)), 1)
            }
            _ => (0, 0),
        };
        for g in &fm.groups {
            let dfa = self.bundle.automaton(g.section as usize)?;
            if matches!(g.form, Form::Plain | Form::Both) {
                glob_run(dfa, g, &plain, plain_fixed, out)?;
            }
            if let Some(h) = &home_els {
                if matches!(g.form, Form::Home | Form::Both) {
                    glob_run(dfa, g, h, home_fixed, out)?;
                }
            }
        }
        Ok(())
    }
}

/// What one glob produced across automata: the distinct hit sets, and the union of each
/// automaton's ids hit by every path; `budget` is the decision's remaining transitions.
struct GlobRun<'b> {
    budget: &'b mut usize,
    sets: Vec<Vec<u32>>,
    must: Vec<u32>,
}

/// `fixed`: how many leading elements name the home directory (read as written when
/// deciding whether a wildcard is narrowed).
fn glob_run(
    dfa: &Dfa<'_>,
    g: &GroupMeta,
    els: &[GlobEl],
    fixed: usize,
    out: &mut GlobRun<'_>,
) -> Result<(), GaveUp> {
    match dfa {
        Dfa::Dense(d) => glob_on(d, d.byte_classes(), g, els, fixed, out),
        Dfa::Sparse(d) => glob_on(d, d.byte_classes(), g, els, fixed, out),
    }
}

fn glob_on<A: Automaton>(
    dfa: &A,
    classes: &regex_automata::util::alphabet::ByteClasses,
    g: &GroupMeta,
    els: &[GlobEl],
    fixed: usize,
    out: &mut GlobRun<'_>,
) -> Result<(), GaveUp> {
    // One representative byte per equivalence class, plus `.` and `/` themselves: the
    // wildcards' rules single those two out, and a representative may be another byte.
    let mut seen = [false; 256];
    let mut reps = vec![b'.', b'/'];
    for b in 0..=255u8 {
        let c = usize::from(classes.get(b));
        if let Some(s) = seen.get_mut(c).filter(|s| !**s) {
            *s = true;
            if b != b'.' && b != b'/' {
                reps.push(b);
            }
        }
    }
    let search = g.scan == Scan::Search;
    let anchored = if search { Anchored::No } else { Anchored::Yes };
    let mut set = vec![start_state(dfa, anchored)?];
    let mut budget = *out.budget;
    let reversed: Vec<GlobEl>;
    let els: &[GlobEl] = if g.scan == Scan::WholeReverse {
        reversed = (0..els.len())
            .rev()
            .filter_map(|i| {
                let el = els.get(i).copied()?;
                Some(match el {
                    GlobEl::SegNoDot => GlobEl::SegNoDotRev {
                        after_dot: els.get(i + 1) == Some(&GlobEl::Byte(b'.')),
                    },
                    GlobEl::AnyVisible => GlobEl::AnyVisibleRev {
                        before_slash: i > 0 && els.get(i - 1) == Some(&GlobEl::Byte(b'/')),
                    },
                    other => other,
                })
            })
            .collect();
        &reversed
    } else {
        els
    };
    let sets = &mut out.sets;
    let mut report = |s: StateID| {
        let mut ids = Vec::new();
        emit(dfa, s, g, &mut ids);
        if !ids.is_empty() && !sets.contains(&ids) {
            sets.push(ids);
        }
    };
    // Whether some path the glob stands for leaves the automaton without a match; only
    // whole-value groups can tell, since a search group's hits depend on where matches start.
    let died = std::cell::Cell::new(search);
    // The states neutral names would have reached: the literal bytes of the current name
    // (`shadow1`), or of it and the name before it (`shadow2`), read as `NEUTRAL`; the
    // first `fixed` elements (the home directory) are read as written.
    let mut shadow1 = set.clone();
    let mut shadow2 = set.clone();
    let len = els.len();
    let hidden = hidden_wildcards(els, g.scan == Scan::WholeReverse);
    for (k, el) in els.iter().enumerate() {
        let at = if g.scan == Scan::WholeReverse {
            len - 1 - k
        } else {
            k
        };
        let neutral = if at < fixed { None } else { Some(NEUTRAL) };
        // A written wildcard stands for a protected name only where the glob's own literal
        // text before it, in its name or the name before, already leads somewhere neutral
        // names would not (`~/.aws/cred*`, `~/.kube/*`); otherwise it reads only text that
        // patterns' wildcards match, so `README*` is not taken for `*.kdbx` nor `~/*` for
        // `~/_netrc`.
        let narrow = matches!(
            el,
            GlobEl::Seg
                | GlobEl::Name
                | GlobEl::AnyUnknown
                | GlobEl::SegNoDot
                | GlobEl::SegNoDotRev { .. }
                | GlobEl::AnyVisible
                | GlobEl::AnyVisibleRev { .. }
        ) && same_states(&set, &shadow2)
            && !hidden.get(at).copied().unwrap_or(false);
        let reps: &[u8] = if narrow { &NARROW } else { &reps };
        let mut next: Vec<StateID> = Vec::new();
        let mut member: StateSet<StateID> = StateSet::default();
        let mut push = |s: StateID, next: &mut Vec<StateID>| -> Result<(), GaveUp> {
            if dfa.is_quit_state(s) {
                return Err(GaveUp);
            }
            if dfa.is_dead_state(s) {
                died.set(true);
            } else if member.insert(s) {
                next.push(s);
            }
            Ok(())
        };
        match *el {
            GlobEl::Byte(b) => {
                for &s in &set {
                    push(dfa.next_state(s, b), &mut next)?;
                }
            }
            GlobEl::Class(ref members) => {
                budget = budget.checked_sub(set.len() * 128).ok_or(GaveUp)?;
                for &s in &set {
                    for (b, _) in members.iter().enumerate().filter(|(_, m)| **m) {
                        push(dfa.next_state(s, b as u8), &mut next)?;
                    }
                }
            }
            // Each wildcard is a closure over (state, flag) pairs, the flag holding the one
            // fact its rule needs about the bytes read so far; `keep` picks the end pairs.
            GlobEl::Seg | GlobEl::Name => {
                let pairs = closure(
                    dfa,
                    &set,
                    0,
                    reps,
                    &mut budget,
                    search,
                    &mut report,
                    &died,
                    |_, b| (b != b'/').then_some(0),
                )?;
                for (s, _) in pairs {
                    push(s, &mut next)?;
                }
            }
            GlobEl::Any | GlobEl::AnyUnknown => {
                let pairs = closure(
                    dfa,
                    &set,
                    0,
                    reps,
                    &mut budget,
                    search,
                    &mut report,
                    &died,
                    |_, _| Some(0),
                )?;
                for (s, _) in pairs {
                    push(s, &mut next)?;
                }
            }
            // Flag: 1 once a byte was read. The first byte is not a dot.
            GlobEl::SegNoDot => {
                let pairs = closure(
                    dfa,
                    &set,
                    0,
                    reps,
                    &mut budget,
                    search,
                    &mut report,
                    &died,
                    |f, b| (b != b'/' && (f == 1 || b != b'.')).then_some(1),
                )?;
                for (s, _) in pairs {
                    push(s, &mut next)?;
                }
            }
            // Flag: 0 nothing read, 1 last byte not a dot, 2 last byte a dot.
            GlobEl::SegNoDotRev { after_dot } => {
                let pairs = closure(
                    dfa,
                    &set,
                    0,
                    reps,
                    &mut budget,
                    search,
                    &mut report,
                    &died,
                    |_, b| (b != b'/').then_some(if b == b'.' { 2 } else { 1 }),
                )?;
                for (s, f) in pairs {
                    if f == 1 || (f == 0 && !after_dot) {
                        push(s, &mut next)?;
                    }
                }
            }
            // Flag: 1 right after a `/` (where a name starts, and may not start with a dot).
            GlobEl::AnyVisible => {
                let pairs = closure(
                    dfa,
                    &set,
                    1,
                    reps,
                    &mut budget,
                    search,
                    &mut report,
                    &died,
                    |f, b| (f == 0 || b != b'.').then_some(u8::from(b == b'/')),
                )?;
                for (s, _) in pairs {
                    push(s, &mut next)?;
                }
            }
            // Flag: 1 when the last byte was a dot (a dot may not be read right before a `/`).
            GlobEl::AnyVisibleRev { before_slash } => {
                let pairs = closure(
                    dfa,
                    &set,
                    0,
                    reps,
                    &mut budget,
                    search,
                    &mut report,
                    &died,
                    |f, b| (f == 0 || b != b'/').then_some(u8::from(b == b'.')),
                )?;
                for (s, f) in pairs {
                    if !(before_slash && f == 1) {
                        push(s, &mut next)?;
                    }
                }
            }
        }
        if search {
            for &s in &next {
                if dfa.is_match_state(s) {
                    report(s);
                }
            }
        }
        budget = budget
            .checked_sub(next.len() + shadow1.len() + shadow2.len())
            .ok_or(GaveUp)?;
        match *el {
            GlobEl::Byte(b'/') => {
                shadow2 = advance(dfa, &shadow1, b'/');
                shadow1 = next.clone();
            }
            GlobEl::Byte(b) => {
                // Separators inside a name (`x.1`, `a.tar.gz`, `pkg_build-1`) are read as
                // written: only a leading dot (a hidden name) and the words are text of
                // their own.
                let orig = |i: usize| {
                    if g.scan == Scan::WholeReverse {
                        els.get(len - 1 - i)
                    } else {
                        els.get(i)
                    }
                };
                let leading =
                    at == 0 || at.checked_sub(1).and_then(orig) == Some(&GlobEl::Byte(b'/'));
                let b = if matches!(b, b'.' | b'_' | b'-') && !leading {
                    b
                } else {
                    neutral.unwrap_or(b)
                };
                shadow1 = advance(dfa, &shadow1, b);
                shadow2 = advance(dfa, &shadow2, b);
            }
            GlobEl::Class(_) => {
                shadow1 = advance(dfa, &shadow1, NEUTRAL);
                shadow2 = advance(dfa, &shadow2, NEUTRAL);
            }
            _ => {
                shadow1 = next.clone();
                shadow2 = next.clone();
            }
        }
        set = next;
        if set.is_empty() {
            *out.budget = budget;
            return Ok(());
        }
    }
    *out.budget = budget;
    let mut must: Option<Vec<u32>> = None;
    for s in set {
        let e = dfa.next_eoi_state(s);
        if dfa.is_match_state(e) {
            report(e);
            if !died.get() {
                let mut ids = Vec::new();
                emit(dfa, e, g, &mut ids);
                must = Some(match must {
                    None => ids,
                    Some(m) => m.into_iter().filter(|id| ids.contains(id)).collect(),
                });
            }
        } else {
            died.set(true);
        }
    }
    if !died.get() {
        out.must.extend(must.unwrap_or_default());
    }
    Ok(())
}

/// For each element (in written order), whether it is a wildcard in a name that is a dot
/// followed only by wildcards (`.*`, `.??*`): "every hidden name", which points into the
/// families of hidden files whichever direction an automaton reads.
fn hidden_wildcards(els: &[GlobEl], reverse: bool) -> Vec<bool> {
    let len = els.len();
    let at = |i: usize| {
        if reverse {
            els.get(len - 1 - i)
        } else {
            els.get(i)
        }
    };
    let mut out = vec![false; len];
    let mut start = 0;
    while start < len {
        let mut end = start;
        while end < len && at(end) != Some(&GlobEl::Byte(b'/')) {
            end += 1;
        }
        let wild = |e: Option<&GlobEl>| !matches!(e, Some(GlobEl::Byte(_)) | None);
        if end > start + 1
            && at(start) == Some(&GlobEl::Byte(b'.'))
            && (start + 1..end).all(|i| wild(at(i)))
        {
            for flag in out.iter_mut().take(end).skip(start + 1) {
                *flag = true;
            }
        }
        start = end + 1;
    }
    out
}

/// A byte no pattern writes: what a neutral name is made of. Patterns' wildcards match it.
const NEUTRAL: u8 = 0x01;
/// What a narrowed wildcard may read: neutral names and the separators between them.
const NARROW: [u8; 2] = [NEUTRAL, b'/'];

fn same_states(a: &[StateID], b: &[StateID]) -> bool {
    a.len() == b.len() && a.iter().all(|s| b.contains(s))
}

/// The live states reached from `set` by reading `byte`.
fn advance<A: Automaton>(dfa: &A, set: &[StateID], byte: u8) -> Vec<StateID> {
    let mut out: Vec<StateID> = Vec::with_capacity(set.len());
    for &s in set {
        let t = dfa.next_state(s, byte);
        if !dfa.is_dead_state(t) && !dfa.is_quit_state(t) && !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// Every (state, flag) pair reachable from `start` (with flag `flag0`) by reading any number of
/// `reps` bytes, where `step(flag, byte)` says whether the byte may be read and the flag after
/// it. In search groups, match states met on the way are reported through `emit`; `died` is
/// set when some byte leads out of the automaton.
#[allow(clippy::too_many_arguments)]
fn closure<A: Automaton>(
    dfa: &A,
    start: &[StateID],
    flag0: u8,
    reps: &[u8],
    budget: &mut usize,
    search: bool,
    emit: &mut impl FnMut(StateID),
    died: &std::cell::Cell<bool>,
    step: impl Fn(u8, u8) -> Option<u8>,
) -> Result<Vec<(StateID, u8)>, GaveUp> {
    let mut pairs: Vec<(StateID, u8)> = start.iter().map(|&s| (s, flag0)).collect();
    let mut seen: StateSet<(StateID, u8)> = pairs.iter().copied().collect();
    let mut k = 0;
    while let Some(&(s, f)) = pairs.get(k) {
        k += 1;
        *budget = budget.checked_sub(reps.len()).ok_or(GaveUp)?;
        for &b in reps {
            let Some(nf) = step(f, b) else { continue };
            let t = dfa.next_state(s, b);
            if dfa.is_quit_state(t) {
                return Err(GaveUp);
            }
            if dfa.is_dead_state(t) {
                died.set(true);
                continue;
            }
            if search && dfa.is_match_state(t) {
                emit(t);
            }
            if seen.insert((t, nf)) {
                pairs.push((t, nf));
            }
        }
    }
    Ok(pairs)
}
