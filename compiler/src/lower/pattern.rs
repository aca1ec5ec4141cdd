//! One pattern to one regex, and the shape that decides which automaton it joins.
//!
//! Globs become regexes through globset with every option explicit, so the result does not
//! depend on the build host. Shapes, measured to keep automata small (see docs/PERFORMANCE.md):
//! - `Prefix`: anchored at `/` or `~`, no `**` before the end -> one forward DFA per field;
//! - `Suffix`: `**/x` with no other `**` -> one DFA run backwards over the value;
//! - `Inner`: anything with an inner `**` -> small forward groups behind a literal gate;
//! - `Search`: `re:` and literal text -> one unanchored DFA each, behind a literal gate.

use crate::ir::{Pattern, PatternKind};
use crust_runtime::bundle::meta::Form;
use crust_runtime::model::Field;
use globset::GlobBuilder;
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{Hir, HirKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Shape {
    Prefix,
    Suffix,
    Inner,
    Search,
}

/// A pattern ready for automaton construction.
#[derive(Debug, Clone)]
pub struct Lowered {
    pub regex: String,
    pub shape: Shape,
    pub form: Form,
    /// Literals one of which every match contains; empty if none is known.
    pub gate: Vec<Vec<u8>>,
}

/// Byte-oriented syntax for every automaton: ASCII classes, `.` matches newlines (commands span
/// lines), no UTF-8 requirement (paths are bytes).
pub fn syntax_config() -> regex_automata::util::syntax::Config {
    regex_automata::util::syntax::Config::new()
        .unicode(false)
        .utf8(false)
        .dot_matches_new_line(true)
}

fn parse_hir(regex: &str) -> Result<Hir, String> {
    regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .dot_matches_new_line(true)
        .nest_limit(100)
        .build()
        .parse(regex)
        .map_err(|e| e.to_string())
}

/// Lowers one pattern of `field`. `Err` carries a message for a diagnostic at its span.
pub fn lower(field: Field, p: &Pattern) -> Result<Lowered, String> {
    match p.kind {
        PatternKind::Regex => {
            if p.text.len() > 4096 {
                return Err("regular expression is longer than 4096 bytes".into());
            }
            let hir = parse_hir(&p.text)
                .map_err(|e| format!("invalid regular expression: {}", first_line(&e)))?;
            Ok(Lowered {
                regex: p.text.clone(),
                shape: Shape::Search,
                form: Form::Plain,
                gate: search_gate(&hir),
            })
        }
        PatternKind::Literal => {
            let regex = format!("(?i){}", regex_syntax::escape(&p.text));
            let hir = parse_hir(&regex)?;
            Ok(Lowered {
                regex,
                shape: Shape::Search,
                form: Form::Plain,
                gate: search_gate(&hir),
            })
        }
        PatternKind::Glob => match field {
            Field::Path => path_glob(&p.text),
            Field::Host => host_glob(&p.text),
            _ => tool_glob(&p.text),
        },
    }
}

fn first_line(s: &str) -> String {
    let l = s.lines().last().unwrap_or(s).trim();
    l.strip_prefix("error: ").unwrap_or(l).to_owned()
}

fn glob_regex(
    glob: &str,
    case_insensitive: bool,
    literal_separator: bool,
) -> Result<String, String> {
    GlobBuilder::new(glob)
        .case_insensitive(case_insensitive)
        .literal_separator(literal_separator)
        .backslash_escape(true)
        .empty_alternates(false)
        .allow_unclosed_class(false)
        .build()
        .map(|g| g.regex().to_owned())
        .map_err(|e| format!("invalid glob: {}", e.kind()))
}

/// Rewrites `$HOME`/`${HOME}`/`~` at the start to `~`; floats unanchored globs under `**/`.
/// Returns the glob and whether it is home-anchored.
pub fn anchor_path_glob(glob: &str) -> Result<(String, bool), String> {
    for prefix in ["$HOME", "${HOME}", "~"] {
        if let Some(rest) = glob.strip_prefix(prefix) {
            if rest.is_empty() || rest.starts_with('/') {
                return Ok((format!("~{rest}"), true));
            }
        }
    }
    if let Some(i) = glob.find('$') {
        let after = glob.get(i + 1..).unwrap_or("");
        if after.starts_with('{') || after.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return Err(
                "only `$HOME` at the start of a pattern is expanded; other variables are not"
                    .into(),
            );
        }
    }
    if glob.starts_with('/') || glob.starts_with("**") {
        return Ok((glob.to_owned(), false));
    }
    // Relative globs float: `.env` and `.git/hooks/*` match at any depth, as in .gitignore.
    Ok((format!("**/{glob}"), false))
}

fn path_glob(glob: &str) -> Result<Lowered, String> {
    if glob.contains('\0') {
        return Err("pattern contains a NUL byte".into());
    }
    let (g, home) = anchor_path_glob(glob)?;
    let regex = glob_regex(&g, false, true)?;
    let body = g.strip_suffix("/**").unwrap_or(&g);
    let (shape, form) = if g.starts_with('/') || home {
        let shape = if body.contains("**") {
            Shape::Inner
        } else {
            Shape::Prefix
        };
        (shape, if home { Form::Home } else { Form::Plain })
    } else {
        let rest = g.trim_start_matches("**/");
        let shape = if rest.contains("**") || g == "**" {
            Shape::Inner
        } else {
            Shape::Suffix
        };
        (shape, Form::Plain)
    };
    let gate = if shape == Shape::Inner {
        required_set(&parse_hir(&regex)?).unwrap_or_default()
    } else {
        Vec::new()
    };
    Ok(Lowered {
        regex,
        shape,
        form,
        gate,
    })
}

/// Host globs separate labels with `.`: `*.evil.com` is one label, `**.evil.com` any number.
/// globset separates with `/`, so labels are written with `/` and the regex mapped back.
fn host_glob(glob: &str) -> Result<Lowered, String> {
    if glob.contains('/') {
        return Err("a host pattern cannot contain `/`".into());
    }
    let swapped = glob.replace('.', "/");
    let regex = glob_regex(&swapped, true, true)?
        .replace("[^/]", "[^.]")
        .replace('/', "\\.");
    Ok(Lowered {
        regex,
        shape: Shape::Prefix,
        form: Form::Plain,
        gate: Vec::new(),
    })
}

fn tool_glob(glob: &str) -> Result<Lowered, String> {
    Ok(Lowered {
        regex: glob_regex(glob, true, false)?,
        shape: Shape::Prefix,
        form: Form::Plain,
        gate: Vec::new(),
    })
}

/// Gate for an unanchored search: the pattern's prefix literals when they are finite, else
/// one literal every match must contain; then made small (see [`reduce_gate`]).
fn search_gate(hir: &Hir) -> Vec<Vec<u8>> {
    let mut ex = Extractor::new();
    ex.kind(ExtractKind::Prefix).limit_total(64);
    let seq = ex.extract(hir);
    let prefix = seq
        .literals()
        .filter(|lits| !lits.is_empty() && lits.iter().all(|l| !l.as_bytes().is_empty()))
        .map(|lits| reduce_gate(lits.iter().map(|l| l.as_bytes().to_vec()).collect()));
    let required = required_set(hir).map(reduce_gate);
    match (prefix, required) {
        (Some(p), Some(r)) if gate_score(&r) > gate_score(&p) => r,
        (Some(p), _) => p,
        (None, r) => r.unwrap_or_default(),
    }
}

/// Any substring of a required literal is required too, so a gate may shrink: spaces and
/// quotes at either end are cut (`\tbash ` and `bash\n`, from `\s`, are both `bash`), and a
/// literal containing another is dropped. Fewer, shorter literals keep the gate automaton
/// small; the gate opens no less often than the pattern can match.
fn reduce_gate(lits: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let edge = |b: &u8| b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | 0x0b);
    // Supersets go before trimming too: `rm ` holds ` `, but `rm` would not.
    let lits = drop_supersets(lits.iter().map(|l| l.to_ascii_lowercase()).collect());
    let trimmed = lits
        .into_iter()
        .map(|l| {
            let start = l.iter().position(|b| !edge(b));
            let end = l.iter().rposition(|b| !edge(b));
            match (start, end) {
                (Some(a), Some(z)) => l.get(a..=z).map_or_else(|| l.clone(), <[u8]>::to_vec),
                // Nothing but blanks: keep it whole rather than lose the gate.
                _ => l,
            }
        })
        .collect();
    drop_supersets(trimmed)
}

/// Sorted, deduplicated, without literals that contain another.
fn drop_supersets(mut lits: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    lits.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
    lits.dedup();
    let mut kept: Vec<Vec<u8>> = Vec::new();
    for l in lits {
        if !kept.iter().any(|k| contains(&l, k)) {
            kept.push(l);
        }
    }
    kept.sort();
    kept
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// The literal prefixes of a secret format's regex, one of which starts every match: the
/// scanner's prefilter. A pattern without such literals (or with one shorter than two bytes)
/// would run at every position, so it is refused.
pub fn secret_prefixes(regex: &str) -> Result<Vec<Vec<u8>>, String> {
    if regex.len() > 4096 {
        return Err("regular expression is longer than 4096 bytes".into());
    }
    let hir =
        parse_hir(regex).map_err(|e| format!("invalid regular expression: {}", first_line(&e)))?;
    let mut ex = Extractor::new();
    // Small classes only: `gh[pousr]_` is five prefixes, `AKIA[A-Z2-7]` stays `AKIA`.
    ex.kind(ExtractKind::Prefix).limit_total(256).limit_class(8);
    let seq = ex.extract(&hir);
    let help = "a secret pattern must start with literal text of at least 2 characters \
                (e.g. `ghp_`), which the scanner looks for first";
    let Some(lits) = seq.literals() else {
        return Err(help.into());
    };
    if lits.is_empty() || lits.iter().any(|l| l.as_bytes().len() < 2) {
        return Err(help.into());
    }
    let mut out: Vec<Vec<u8>> = lits.iter().map(|l| l.as_bytes().to_vec()).collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// Literals one of which every match contains, found through concatenations (the best part,
/// adjacent exact parts joined), alternations (every branch's set, united), repetitions of at
/// least one, and ASCII case-insensitive letters (matched as lowercase, as gates are).
fn required_set(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    /// Past this many literals a set is worth less than none: the gate would open too often.
    const MAX_SET: usize = 16;
    match hir.kind() {
        HirKind::Literal(l) => Some(vec![l.0.to_ascii_lowercase()]),
        HirKind::Class(_) => exact_byte(hir).map(|b| vec![vec![b]]),
        HirKind::Capture(c) => required_set(&c.sub),
        HirKind::Repetition(r) if r.min >= 1 => required_set(&r.sub),
        HirKind::Alternation(alts) => {
            let mut out = Vec::new();
            for a in alts {
                out.extend(required_set(a)?);
                if out.len() > MAX_SET {
                    return None;
                }
            }
            Some(out)
        }
        HirKind::Concat(parts) => {
            let mut best: Option<Vec<Vec<u8>>> = None;
            let mut consider = |set: Vec<Vec<u8>>| {
                if set.iter().any(Vec::is_empty) {
                    return;
                }
                if best
                    .as_ref()
                    .is_none_or(|b| gate_score(&set) > gate_score(b))
                {
                    best = Some(set);
                }
            };
            let mut run: Vec<u8> = Vec::new();
            for p in parts {
                match exact_text(p) {
                    Some(t) => run.extend(t),
                    None => {
                        if !run.is_empty() {
                            consider(vec![std::mem::take(&mut run)]);
                        }
                        if let Some(set) = required_set(p) {
                            consider(set);
                        }
                    }
                }
            }
            if !run.is_empty() {
                consider(vec![run]);
            }
            best
        }
        _ => None,
    }
}

/// The one string a node matches (literals and case-insensitive letters), lowercased.
fn exact_text(hir: &Hir) -> Option<Vec<u8>> {
    match hir.kind() {
        HirKind::Literal(l) => Some(l.0.to_ascii_lowercase()),
        HirKind::Class(_) => exact_byte(hir).map(|b| vec![b]),
        HirKind::Capture(c) => exact_text(&c.sub),
        _ => None,
    }
}

/// A class of one byte, or of one ASCII letter in both cases.
fn exact_byte(hir: &Hir) -> Option<u8> {
    let HirKind::Class(class) = hir.kind() else {
        return None;
    };
    let mut bytes: Vec<u8> = Vec::new();
    match class {
        regex_syntax::hir::Class::Bytes(c) => {
            for r in c.iter() {
                bytes.extend(r.start()..=r.end());
                if bytes.len() > 2 {
                    return None;
                }
            }
        }
        regex_syntax::hir::Class::Unicode(c) => {
            for r in c.iter() {
                for ch in r.start()..=r.end() {
                    bytes.push(u8::try_from(u32::from(ch)).ok()?);
                    if bytes.len() > 2 {
                        return None;
                    }
                }
            }
        }
    }
    match bytes.as_slice() {
        [b] => Some(b.to_ascii_lowercase()),
        [a, b] if a.is_ascii_alphabetic() && a.eq_ignore_ascii_case(b) => {
            Some(a.to_ascii_lowercase())
        }
        _ => None,
    }
}

/// Better gates have longer shortest literals, then fewer literals.
fn gate_score(set: &[Vec<u8>]) -> (usize, std::cmp::Reverse<usize>) {
    let shortest = set.iter().map(Vec::len).min().unwrap_or(0);
    (shortest, std::cmp::Reverse(set.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Span;

    fn pat(kind: PatternKind, text: &str) -> Pattern {
        Pattern {
            kind,
            text: text.into(),
            source: text.into(),
            span: Span::new(0, 0, 0),
        }
    }

    #[test]
    fn shapes() {
        let s = |g: &str| lower(Field::Path, &pat(PatternKind::Glob, g)).unwrap();
        assert_eq!(s("$HOME/.ssh/*").shape, Shape::Prefix);
        assert_eq!(s("$HOME/.ssh/*").form, Form::Home);
        assert_eq!(s("/etc/shadow").shape, Shape::Prefix);
        assert_eq!(s("~/.crust/**").shape, Shape::Prefix);
        assert_eq!(s("**/.env").shape, Shape::Suffix);
        assert_eq!(s(".env").shape, Shape::Suffix);
        let inner = s("**/.git/hooks/**");
        assert_eq!(inner.shape, Shape::Inner);
        assert_eq!(inner.gate, vec![b".git/hooks/".to_vec()]);
        assert!(lower(Field::Path, &pat(PatternKind::Glob, "$USER/x")).is_err());
    }

    #[test]
    fn host_globs_stay_within_labels() {
        let l = lower(Field::Host, &pat(PatternKind::Glob, "*.evil.com")).unwrap();
        let re = regex::bytes::Regex::new(&l.regex).unwrap();
        assert!(re.is_match(b"a.evil.com"));
        assert!(!re.is_match(b"a.b.evil.com"));
        assert!(!re.is_match(b"aevil.com"));
    }

    #[test]
    fn secret_prefixes_are_literal_starts() {
        assert_eq!(
            secret_prefixes(r"\b(?:AKIA|ASIA)[A-Z2-7]{16}\b").unwrap(),
            vec![b"AKIA".to_vec(), b"ASIA".to_vec()]
        );
        assert_eq!(
            secret_prefixes(r"gh[pousr]_[A-Za-z0-9]{36}").unwrap().len(),
            5
        );
        assert!(secret_prefixes(r"[0-9]{8,10}:AA[A-Za-z0-9_-]{33}").is_err());
        assert!(secret_prefixes(r"k[a-z]+").is_err());
    }

    #[test]
    fn search_gates() {
        let l = lower(Field::Command, &pat(PatternKind::Regex, r"\bcurl\b.*-d")).unwrap();
        assert_eq!(l.gate, vec![b"curl".to_vec()]);
        let l = lower(Field::Command, &pat(PatternKind::Literal, "MKFS")).unwrap();
        assert_eq!(l.gate, vec![b"mkfs".to_vec()]);
        assert!(lower(Field::Command, &pat(PatternKind::Regex, "(")).is_err());
        // Blanks at the ends are cut and a literal holding another is dropped.
        let l = lower(
            Field::Command,
            &pat(PatternKind::Regex, r"\s(?:bash|bashx)\s+-i"),
        )
        .unwrap();
        assert_eq!(l.gate, vec![b"bash".to_vec()]);
        // Through alternations and case-insensitive letters; a literal holding another goes.
        let gate = |re: &str| {
            lower(Field::Command, &pat(PatternKind::Regex, re))
                .unwrap()
                .gate
        };
        assert_eq!(gate(r"(?i)(^|\s)crontab\s+-r"), vec![b"crontab".to_vec()]);
        assert_eq!(
            gate(r"^(?:\S*/)?(?:mkfs(?:\.\w+)?|mke2fs|sfdisk|fdisk)\s"),
            vec![b"fdisk".to_vec(), b"mke2fs".to_vec(), b"mkfs".to_vec()]
        );
        // An optional part is not required; a literal of blanks alone is kept whole.
        let g = gate(r"^(?:rm|shred)?\s");
        assert!(
            g.contains(&b" ".to_vec()) && !g.iter().any(|l| l.starts_with(b"rm")),
            "{g:?}"
        );
    }
}
