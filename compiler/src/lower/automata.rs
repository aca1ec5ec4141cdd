//! Patterns of one shape to DFAs under a size limit. A group that would grow past the limit is
//! split in halves, down to one pattern per DFA; a single pattern that is still too large is an
//! error at its span. Dense unless the bundle's dense budget is spent (see `super::plan`).

use super::pattern::{syntax_config, Shape};
use regex_automata::dfa::{dense, StartKind};
use regex_automata::nfa::thompson;
use regex_automata::MatchKind;

/// Per-DFA limits: small, because failing against a large limit takes many seconds.
pub const DFA_SIZE_LIMIT: usize = 8 << 20;
pub const DETERMINIZE_SIZE_LIMIT: usize = 8 << 20;

/// A built automaton and which of the caller's patterns it reports, in its pattern order.
pub struct Built {
    pub dfa: dense::DFA<Vec<u32>>,
    pub members: Vec<usize>,
}

/// Why a pattern could not be compiled.
pub struct BuildFailure {
    pub member: usize,
    pub message: String,
}

fn build_one(
    regexes: &[&str],
    shape: Shape,
) -> Result<dense::DFA<Vec<u32>>, Box<dense::BuildError>> {
    let start = if shape == Shape::Search {
        StartKind::Unanchored
    } else {
        StartKind::Anchored
    };
    dense::Builder::new()
        .syntax(syntax_config())
        .thompson(
            thompson::Config::new()
                .utf8(false)
                .reverse(shape == Shape::Suffix)
                .shrink(false),
        )
        .configure(
            dense::DFA::config()
                .match_kind(MatchKind::All)
                .start_kind(start)
                .byte_classes(true)
                // Search automata (one regex each) often shrink 2-3x; minimizing path
                // automata saved nothing and took seconds.
                .minimize(shape == Shape::Search)
                .dfa_size_limit(Some(DFA_SIZE_LIMIT))
                .determinize_size_limit(Some(DETERMINIZE_SIZE_LIMIT)),
        )
        .build_many(regexes)
        .map_err(Box::new)
}

/// Builds `members` (indices into `regexes`) as few DFAs as the size limit allows.
/// `max_group` caps patterns per DFA (search patterns go one per DFA).
pub fn build_groups(
    regexes: &[String],
    members: Vec<usize>,
    shape: Shape,
    max_group: usize,
) -> Result<Vec<Built>, BuildFailure> {
    let mut out = Vec::new();
    let mut work: Vec<Vec<usize>> = members
        .chunks(max_group.max(1))
        .map(<[usize]>::to_vec)
        .collect();
    work.reverse();
    while let Some(group) = work.pop() {
        let pats: Vec<&str> = group
            .iter()
            .filter_map(|&i| regexes.get(i).map(String::as_str))
            .collect();
        match build_one(&pats, shape) {
            Ok(dfa) => out.push(Built {
                dfa,
                members: group,
            }),
            Err(e) if e.is_size_limit_exceeded() && group.len() > 1 => {
                let (a, b) = group.split_at(group.len() / 2);
                work.push(b.to_vec());
                work.push(a.to_vec());
            }
            Err(e) => {
                return Err(BuildFailure {
                    member: group.first().copied().unwrap_or(0),
                    message: if e.is_size_limit_exceeded() {
                        format!(
                            "pattern is too complex: its automaton exceeds {} MiB",
                            DFA_SIZE_LIMIT >> 20
                        )
                    } else {
                        format!("cannot compile pattern: {e}")
                    },
                })
            }
        }
    }
    Ok(out)
}

/// The secret scanner's automaton: one pattern per format, each with its own anchored start
/// state (the scanner starts it where the format's prefix was found), leftmost-first so a
/// greedy pattern reports its longest match.
pub fn build_secrets(regexes: &[&str]) -> Result<dense::DFA<Vec<u32>>, String> {
    dense::Builder::new()
        .syntax(syntax_config())
        .thompson(thompson::Config::new().utf8(false).shrink(false))
        .configure(
            dense::DFA::config()
                .match_kind(MatchKind::LeftmostFirst)
                .start_kind(StartKind::Anchored)
                .starts_for_each_pattern(true)
                .byte_classes(true)
                .minimize(false)
                .dfa_size_limit(Some(DFA_SIZE_LIMIT))
                .determinize_size_limit(Some(DETERMINIZE_SIZE_LIMIT)),
        )
        .build_many(regexes)
        .map_err(|e| format!("cannot compile the secret patterns: {e}"))
}
