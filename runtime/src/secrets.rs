//! Secret detection: written text, command lines, URLs and outbound messages scanned for
//! credentials in known formats (the `secrets:` table, `rules/secrets/*.yaml`).
//!
//! One Aho-Corasick pass finds every format's literal prefix; only at those positions does the
//! format's anchored automaton run (one multi-pattern DFA with a start state per format). A
//! match must then pass the format's check (a checksum or a structure where one exists) and
//! must not be a placeholder or a documented example. Clean text therefore costs one literal
//! scan. Matches are reported as format ids, the values of the `secret` field.

use crate::bundle::{Bundle, Dfa};

use crate::matcher::{hits_within, sort_by_end, GaveUp, LitHit};
pub use crate::tables::secrets::{
    SecretCheck, SecretFormat, SecretTable, SecretVariable, MAX_SECRET_VARIABLES,
};
use aho_corasick::{packed, AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind, Span};
use regex_automata::dfa::Automaton;
use regex_automata::{Anchored, Input, PatternID};

/// Bytes of automaton work allowed per scanned byte (plus a fixed allowance): prefix hits in
/// ordinary text die within a few bytes; input built to make every hit run long is refused.
const WORK_PER_BYTE: usize = 16;
const WORK_BASE: usize = 1 << 16;

/// The prefix prefilter, rebuilt at load (prefilters have no wire form).
pub(crate) struct SecretScanner {
    prefixes: Option<Prefixes>,
    /// Literal index -> formats starting with it.
    lit_formats: Vec<Vec<u32>>,
}

/// Finds every occurrence of the formats' prefixes, overlapping ones included. The searchers
/// look for the prefixes cut to [`CUT`] bytes (189 built-in prefixes are 98 cuts); each hit is
/// then checked against the whole prefixes it stands for. SIMD searchers for texts from
/// [`PACKED_FROM`] bytes where the CPU has them, one Aho-Corasick automaton otherwise.
struct Prefixes {
    /// Over the cuts: an NFA when the SIMD searchers exist (it sees only short texts and
    /// builds fast), a DFA when it scans everything.
    automaton: AhoCorasick,
    /// SIMD (Teddy) searchers over groups of at most [`PACKED_GROUP`] cuts. Each reports
    /// the longest cut at the leftmost position and is asked again from the next byte, so
    /// every position is visited; the shorter cuts of the group that start there are
    /// prefixes of the longest and come from `at_start`. About 3× faster than a DFA on
    /// ordinary text from 64 bytes up (measured: 75 against 107 ns at 64 bytes, 13 against
    /// 23 µs at 16 KiB); below that the searcher falls back to a slower method, hence
    /// [`PACKED_FROM`]. Empty where the CPU has no SIMD searcher.
    packed: Vec<PackedGroup>,
    /// Cut -> the prefixes it starts (literal indices).
    cut_lits: Vec<Vec<u32>>,
    /// The whole prefixes.
    lits: Vec<Vec<u8>>,
}

/// Bytes of each prefix the searchers look for. Teddy fingerprints at most three bytes and
/// verifies the rest, so cutting costs nothing in candidates; it halves the literals, and
/// with them the searchers each text goes through (two groups instead of three).
const CUT: usize = 8;

/// Texts at least this long go to the packed searchers.
const PACKED_FROM: usize = 64;

/// The most literals one Teddy searcher takes before it refuses or slows down.
const PACKED_GROUP: usize = 64;

struct PackedGroup {
    searcher: packed::Searcher,
    /// Group pattern -> every cut of the group matching where it matches: itself and those
    /// of its prefixes that are cuts too.
    at_start: Vec<Vec<u32>>,
}

/// Adds `owner` to the owners of `lit` in a list of distinct literals (appended if new).
fn add_distinct<'a>(
    lits: &mut Vec<&'a [u8]>,
    owners: &mut Vec<Vec<u32>>,
    lit: &'a [u8],
    owner: u32,
) {
    match lits.iter().position(|l| *l == lit) {
        Some(k) => {
            if let Some(v) = owners.get_mut(k) {
                v.push(owner);
            }
        }
        None => {
            lits.push(lit);
            owners.push(vec![owner]);
        }
    }
}

impl Prefixes {
    fn build(whole: &[&[u8]]) -> Result<Prefixes, String> {
        let mut lits: Vec<&[u8]> = Vec::new();
        let mut cut_lits: Vec<Vec<u32>> = Vec::new();
        for (i, l) in whole.iter().enumerate() {
            add_distinct(
                &mut lits,
                &mut cut_lits,
                l.get(..CUT).unwrap_or(l),
                i as u32,
            );
        }
        let mut groups = Vec::new();
        for (g, chunk) in lits.chunks(PACKED_GROUP).enumerate() {
            let searcher = packed::Config::new()
                .match_kind(packed::MatchKind::LeftmostLongest)
                .builder()
                .extend(chunk)
                .build();
            let Some(searcher) = searcher else {
                groups.clear();
                break;
            };
            let base = g * PACKED_GROUP;
            let at_start = chunk
                .iter()
                .map(|long| {
                    chunk
                        .iter()
                        .enumerate()
                        .filter(|(_, short)| long.starts_with(short))
                        .map(|(k, _)| (base + k) as u32)
                        .collect()
                })
                .collect();
            groups.push(PackedGroup { searcher, at_start });
        }
        // With SIMD searchers the automaton only sees texts under `PACKED_FROM` bytes: an NFA
        // scans those about as fast and builds in a fraction of the DFA's time (bundle load).
        let kind = if groups.is_empty() {
            AhoCorasickKind::DFA
        } else {
            AhoCorasickKind::ContiguousNFA
        };
        let automaton = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .kind(Some(kind))
            .build(lits)
            .map_err(|e| format!("secret prefixes: {e}"))?;
        Ok(Prefixes {
            automaton,
            packed: groups,
            cut_lits,
            lits: whole.iter().map(|l| l.to_vec()).collect(),
        })
    }

    /// Calls `f(literal, start, end)` for every occurrence in `text` (in no particular order)
    /// until it fails.
    fn each(
        &self,
        text: &[u8],
        f: impl FnMut(usize, usize, usize) -> Result<(), GaveUp>,
    ) -> Result<(), GaveUp> {
        let packed = text.len() >= PACKED_FROM && !self.packed.is_empty();
        self.each_with(text, packed, f)
    }

    /// [`Prefixes::each`] through the packed searchers or the automaton.
    fn each_with(
        &self,
        text: &[u8],
        packed: bool,
        mut f: impl FnMut(usize, usize, usize) -> Result<(), GaveUp>,
    ) -> Result<(), GaveUp> {
        let mut whole = |cut: usize, start: usize| {
            let rest = text.get(start..).unwrap_or(&[]);
            for &l in self.cut_lits.get(cut).into_iter().flatten() {
                if let Some(lit) = self.lits.get(l as usize).filter(|x| rest.starts_with(x)) {
                    f(l as usize, start, start + lit.len())?;
                }
            }
            Ok(())
        };
        if packed {
            self.each_packed(text, &mut whole)
        } else {
            for m in self.automaton.find_overlapping_iter(text) {
                whole(m.pattern().as_usize(), m.start())?;
            }
            Ok(())
        }
    }

    fn each_packed(
        &self,
        text: &[u8],
        f: &mut impl FnMut(usize, usize) -> Result<(), GaveUp>,
    ) -> Result<(), GaveUp> {
        for g in &self.packed {
            let mut at = 0;
            while at < text.len() {
                let Some(m) = g.searcher.find_in(text, Span::from(at..text.len())) else {
                    break;
                };
                for &cut in g.at_start.get(m.pattern().as_usize()).into_iter().flatten() {
                    f(cut as usize, m.start())?;
                }
                at = m.start() + 1;
            }
        }
        Ok(())
    }
}

impl SecretScanner {
    pub(crate) fn build(table: &SecretTable) -> Result<SecretScanner, String> {
        let mut lits: Vec<&[u8]> = Vec::new();
        let mut lit_formats: Vec<Vec<u32>> = Vec::new();
        for (fi, f) in table.formats.iter().enumerate() {
            if f.prefixes.is_empty() {
                return Err(format!("secret format `{}` has no prefix", f.id));
            }
            for p in &f.prefixes {
                if p.is_empty() {
                    return Err(format!("secret format `{}` has an empty prefix", f.id));
                }
                add_distinct(&mut lits, &mut lit_formats, p, fi as u32);
            }
        }
        let prefixes = if lits.is_empty() {
            None
        } else {
            Some(Prefixes::build(&lits)?)
        };
        Ok(SecretScanner {
            prefixes,
            lit_formats,
        })
    }
}

/// The bundle's secret automaton and the engine's scanner, lent for a scan.
pub(crate) struct Secrets<'e> {
    pub(crate) bundle: &'e Bundle,
    pub(crate) scanner: &'e SecretScanner,
}

impl<'e> Secrets<'e> {
    /// Appends to `found` the index of every secret format found in `text` (each once).
    pub(crate) fn find_secrets(&self, text: &[u8], found: &mut Vec<u32>) -> Result<(), GaveUp> {
        self.scan_secrets_with(text, Some(found), None, |_, _, _| {})
    }

    /// [`Secrets::find_secrets`] over a text whose slices are scanned next: its prefix
    /// occurrences are kept in `hits` for [`Secrets::find_secrets_within`].
    pub(crate) fn find_secrets_recording(
        &self,
        text: &[u8],
        found: &mut Vec<u32>,
        hits: &mut Vec<LitHit>,
    ) -> Result<(), GaveUp> {
        hits.clear();
        self.scan_secrets_with(text, Some(found), Some(hits), |_, _, _| {})?;
        sort_by_end(hits);
        Ok(())
    }

    /// [`Secrets::find_secrets`] over `text`, the slice at `at` of a text whose prefix
    /// occurrences are `hits`: the same occurrences, without scanning again.
    pub(crate) fn find_secrets_within(
        &self,
        text: &[u8],
        at: usize,
        hits: &[LitHit],
        found: &mut Vec<u32>,
    ) -> Result<(), GaveUp> {
        let Some((_, dfa)) = self.secret_prefilter()? else {
            return Ok(());
        };
        let mut budget = WORK_BASE + WORK_PER_BYTE * text.len();
        for h in hits_within(hits, at, text.len()) {
            let start = h.start as usize - at;
            let len = (h.end - h.start) as usize;
            self.try_prefix(
                dfa,
                text,
                h.lit as usize,
                start,
                len,
                Some(found),
                &mut budget,
                &mut |_, _, _| {},
            )?;
        }
        Ok(())
    }

    /// `text` with every secret replaced by `[REDACTED:<format id>]`, for logs. Text the
    /// scanner gives up on is withheld entirely.
    ///
    /// A secret is masked whole, not only as far as its format's pattern reaches: a pattern
    /// stops after a key's first line (enough to judge by), but a log must keep no line of it.
    /// So a private key block runs to its END line, or, cut before it, to the end of its body;
    /// and key blocks are masked even where no format matched them (a first line too short for
    /// the pattern, a policy without the formats).
    pub(crate) fn redact(&self, text: &str) -> String {
        let mut spans: Vec<(usize, usize, u32)> = Vec::new();
        let scanned = self.scan_secrets_with(text.as_bytes(), None, None, |fi, a, b| {
            spans.push((a, b, fi))
        });
        if scanned.is_err() {
            return "[REDACTED: too complex to scan]".into();
        }
        spans.extend(key_blocks(text).map(|(a, b)| (a, b, KEY_BLOCK)));
        for s in &mut spans {
            s.1 = whole_secret_end(text, s.0, s.1);
        }
        spans.sort_unstable();
        let formats = &self.bundle.meta.tables.secrets.formats;
        let label = |fi: u32| match formats.get(fi as usize) {
            Some(f) => f.id.as_str(),
            None if fi == KEY_BLOCK => "private-key",
            None => "secret",
        };
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        let mut spans = spans.into_iter().peekable();
        while let Some((a, mut b, fi)) = spans.next() {
            // Overlapping and touching spans become one mask, named by the first.
            while let Some(&(na, nb, _)) = spans.peek() {
                if na > b {
                    break;
                }
                b = b.max(nb);
                spans.next();
            }
            out.push_str(text.get(at..a).unwrap_or(""));
            out.push_str("[REDACTED:");
            out.push_str(label(fi));
            out.push(']');
            at = b;
        }
        out.push_str(text.get(at..).unwrap_or(""));
        out
    }

    /// Calls `hit(format, start, end)` for each genuine secret. With `found`, each format is
    /// looked for only until it is in `found` (where it is then added), across calls.
    fn scan_secrets_with(
        &self,
        text: &[u8],
        mut found: Option<&mut Vec<u32>>,
        mut record: Option<&mut Vec<LitHit>>,
        mut hit: impl FnMut(u32, usize, usize),
    ) -> Result<(), GaveUp> {
        let Some((prefixes, dfa)) = self.secret_prefilter()? else {
            return Ok(());
        };
        let mut budget = WORK_BASE + WORK_PER_BYTE * text.len();
        prefixes.each(text, |lit, start, end| {
            if let Some(r) = record.as_deref_mut() {
                r.push(LitHit::new(lit, start, end));
            }
            self.try_prefix(
                dfa,
                text,
                lit,
                start,
                end - start,
                found.as_deref_mut(),
                &mut budget,
                &mut hit,
            )
        })
    }

    /// The prefix prefilter and the formats' automaton, `None` when the policy has no secret
    /// formats; a bundle whose secret automaton is missing gives up (fail closed).
    fn secret_prefilter(&self) -> Result<Option<(&Prefixes, &Dfa<'_>)>, GaveUp> {
        let (Some(prefixes), Some(section)) = (
            &self.scanner.prefixes,
            self.bundle.meta.tables.secrets.section,
        ) else {
            return Ok(None);
        };
        Ok(Some((prefixes, self.bundle.automaton(section as usize)?)))
    }

    /// One prefix occurrence: each format starting with it (and not yet in `found`) is run
    /// from there and, if what it matches is genuine, reported.
    #[expect(
        clippy::too_many_arguments,
        reason = "one occurrence and the state of the scan it belongs to"
    )]
    fn try_prefix(
        &self,
        dfa: &Dfa<'_>,
        text: &[u8],
        lit: usize,
        start: usize,
        lit_len: usize,
        mut found: Option<&mut Vec<u32>>,
        budget: &mut usize,
        hit: &mut impl FnMut(u32, usize, usize),
    ) -> Result<(), GaveUp> {
        let table = &self.bundle.meta.tables.secrets;
        let Some(formats) = self.scanner.lit_formats.get(lit) else {
            return Ok(());
        };
        for &fi in formats {
            if found.as_deref().is_some_and(|f| f.contains(&fi)) {
                continue;
            }
            let end = match dfa {
                Dfa::Dense(d) => anchored_end(d, text, start, fi, budget)?,
                Dfa::Sparse(d) => anchored_end(d, text, start, fi, budget)?,
            };
            let (Some(end), Some(format)) = (end, table.formats.get(fi as usize)) else {
                continue;
            };
            let Some(candidate) = text.get(start..end) else {
                continue;
            };
            if genuine(format, candidate, lit_len, &table.placeholders) {
                if let Some(f) = found.as_deref_mut() {
                    f.push(fi);
                }
                hit(fi, start, end);
            }
        }
        Ok(())
    }

    /// The ids of the secret formats found in `text` (for tools and benchmarks; the engine
    /// scans operations itself).
    pub(crate) fn secrets_in(&self, text: &str) -> Result<Vec<&'e str>, GaveUp> {
        let mut found = Vec::new();
        self.find_secrets(text.as_bytes(), &mut found)?;
        found.sort_unstable();
        let bundle: &'e Bundle = self.bundle;
        let formats = &bundle.meta.tables.secrets.formats;
        Ok(found
            .iter()
            .filter_map(|&i| formats.get(i as usize).map(|f| f.id.as_str()))
            .collect())
    }
}

/// Forms of `text` that a secret can hide in and that a scan of the text as written misses,
/// appended to `out`: the text folded as paths are (invisible characters removed, so a token
/// split by zero-width characters reads whole; full-width and look-alike letters made Latin),
/// and, in a Kubernetes `Secret` manifest (YAML or JSON, a file or a here-document in a
/// command), its base64 values decoded (`data:` holds every value base64-encoded).
pub(crate) fn hidden_forms(text: &str, out: &mut Vec<String>) {
    let visible = match crate::normalize::fold_text(text) {
        std::borrow::Cow::Owned(f) if f != text => Some(f),
        _ => None,
    };
    let text = visible.as_deref().unwrap_or(text);
    if let Some(decoded) = kubernetes_secret_values(text) {
        out.push(decoded);
    }
    if let Some(v) = visible {
        out.push(v);
    }
}

/// The base64 values of a text that declares a Kubernetes `Secret`, decoded and joined by
/// newlines; `None` when the text declares none or holds no such value.
fn kubernetes_secret_values(text: &str) -> Option<String> {
    if !declares_secret(text) {
        return None;
    }
    let mut out = String::new();
    let is_b64 = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '-' | '_');
    // Short words are keys and names; a value's base64 is at least 8 characters.
    for word in text.split(|c: char| !is_b64(c)).filter(|w| w.len() >= 8) {
        if let Some(d) = decode_base64(word) {
            out.push_str(&d);
            out.push('\n');
        }
    }
    // A value wrapped over lines (a `|` block: Kubernetes' decoder skips line ends).
    let mut run = String::new();
    let mut lines = 0;
    for line in text.lines().map(str::trim).chain(std::iter::once("")) {
        if line.len() >= 4 && line.chars().all(is_b64) {
            run.push_str(line);
            lines += 1;
            continue;
        }
        if lines > 1 {
            if let Some(d) = decode_base64(&run) {
                out.push_str(&d);
                out.push('\n');
            }
        }
        run.clear();
        lines = 0;
    }
    (!out.is_empty()).then_some(out)
}

/// `kind: Secret` (YAML) or `"kind": "Secret"` (JSON), any quoting and spacing.
fn declares_secret(text: &str) -> bool {
    let b = text.as_bytes();
    memchr::memmem::find_iter(b, b"kind").any(|at| {
        let mut rest = b.get(at + 4..).unwrap_or(&[]);
        let skip = |r: &mut &[u8], set: &[u8]| {
            while let Some((c, tail)) = r.split_first() {
                if !set.contains(c) {
                    break;
                }
                *r = tail;
            }
        };
        skip(&mut rest, b"\"' \t");
        let Some((b':', tail)) = rest.split_first() else {
            return false;
        };
        rest = tail;
        skip(&mut rest, b"\"' \t");
        rest.starts_with(b"Secret")
            && !rest
                .get(6)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
    })
}

/// Base64 (standard or URL-safe, padded or not) that decodes to UTF-8 text.
fn decode_base64(s: &str) -> Option<String> {
    use base64::Engine;
    let e = base64::engine::general_purpose::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::general_purpose::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let bytes = e
        .decode(s)
        .or_else(|_| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s.trim_end_matches('='))
        })
        .ok()?;
    String::from_utf8(bytes).ok()
}

/// The format index [`Engine::redact`](crate::Engine::redact) gives key blocks it finds itself.
const KEY_BLOCK: u32 = u32::MAX;

/// PEM labels are short upper-case words (RFC 7468); a longer run is not a boundary line.
const MAX_LABEL: usize = 64;

/// Where a secret that matched `start..end` really ends. PEM blocks (RFC 7468) and PuTTY key
/// files are framed by the standard, not by the policy, so their frames are known here: a
/// PEM block ends with the `-----END <label>-----` line for its own label; a PuTTY file with
/// its `Private-MAC:` line. When the end is missing (the text was cut), a PEM block runs to
/// the end of its body and a PuTTY file to the end of the text. Every other secret ends where
/// its pattern did.
fn whole_secret_end(text: &str, start: usize, end: usize) -> usize {
    let rest = text.get(start..).unwrap_or("");
    if let Some(label) = pem_label(rest) {
        let close = format!("-----END {label}-----");
        return match text.get(end..).and_then(|t| t.find(&close)) {
            Some(i) => end + i + close.len(),
            None => pem_body_end(text.as_bytes(), end),
        };
    }
    if rest.starts_with(PUTTY) {
        const MAC: &str = "Private-MAC:";
        return match text.get(end..).and_then(|t| t.find(MAC)) {
            Some(i) => {
                let after = end + i + MAC.len();
                let value = text.as_bytes().get(after..).unwrap_or(&[]);
                let spaces = value.iter().take_while(|&&b| b == b' ').count();
                let hex = value
                    .iter()
                    .skip(spaces)
                    .take_while(|b| b.is_ascii_hexdigit())
                    .count();
                after + spaces + hex
            }
            None => text.len(),
        };
    }
    end
}

const PUTTY: &str = "PuTTY-User-Key-File-";

/// The label of a PEM boundary line at the start of `text` (`-----BEGIN <label>-----`).
fn pem_label(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("-----BEGIN ")?;
    let close = rest.get(..MAX_LABEL.min(rest.len()))?.find("-----")?;
    let label = rest.get(..close)?;
    label
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ')
        .then_some(label)
}

/// The private key blocks in `text` (PEM blocks whose label names a private key, PuTTY key
/// files), as the spans of their first line, whether or not a secret format matched them.
fn key_blocks(text: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let pem = text.match_indices("-----BEGIN ").filter_map(move |(i, _)| {
        let label = pem_label(text.get(i..)?)?;
        label
            .contains("PRIVATE KEY")
            .then_some((i, i + "-----BEGIN ".len() + label.len() + "-----".len()))
    });
    let putty = text.match_indices(PUTTY).map(|(i, m)| (i, i + m.len()));
    pem.chain(putty)
}

/// The end of a PEM body that starts at `at` and has lost its END line: the lines of base64
/// and `Name: value` headers that follow, with their line breaks raw or escaped as JSON or a
/// shell string carries them (`\n`, `\\n`, and `\/` inside base64). An END line of another
/// label directly after it is included.
fn pem_body_end(t: &[u8], mut at: usize) -> usize {
    let mut end = at;
    let mut line_start = true;
    loop {
        let rest = t.get(at..).unwrap_or(&[]);
        let Some(&first) = rest.first() else {
            return end;
        };
        let escaped = rest.iter().take_while(|&&b| b == b'\\').count();
        let after_escape = rest.get(escaped).copied();
        if matches!(first, b'\n' | b'\r')
            || (escaped > 0 && matches!(after_escape, Some(b'n' | b'r')))
        {
            at += if escaped > 0 { escaped + 1 } else { 1 };
            line_start = true;
            continue;
        }
        if line_start {
            if rest.starts_with(b"-----END ") {
                let close = rest
                    .get(9..9 + MAX_LABEL)
                    .unwrap_or(rest.get(9..).unwrap_or(&[]))
                    .windows(5)
                    .position(|w| w == b"-----");
                return close.map_or(end, |c| at + 9 + c + 5);
            }
            if let Some(n) = header_len(rest) {
                at += n;
                end = at;
                line_start = false;
                continue;
            }
        }
        let mut n = 0;
        while let Some(&b) = rest.get(n) {
            if b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=') {
                n += 1;
            } else if b == b'\\' && rest.get(n + 1) == Some(&b'/') {
                n += 2;
            } else {
                break;
            }
        }
        if n == 0 {
            return end;
        }
        at += n;
        end = at;
        line_start = false;
    }
}

/// The length of an RFC 1421 header line (`Proc-Type: 4,ENCRYPTED`) at the start of `t`, up
/// to its line break.
fn header_len(t: &[u8]) -> Option<usize> {
    let name = t
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'-')
        .count();
    if name == 0 || t.get(name) != Some(&b':') {
        return None;
    }
    let value = t
        .iter()
        .skip(name)
        .take_while(|&&b| !matches!(b, b'\n' | b'\r' | b'\\' | b'"' | b'\''))
        .count();
    Some(name + value)
}

/// Runs pattern `pid` anchored at `start`; the end of its leftmost-first match, if any.
/// Walks by hand so every transition counts against `budget`.
fn anchored_end<A: Automaton>(
    dfa: &A,
    hay: &[u8],
    start: usize,
    pid: u32,
    budget: &mut usize,
) -> Result<Option<usize>, GaveUp> {
    let pid = PatternID::new(pid as usize).map_err(|_| GaveUp)?;
    let input = Input::new(hay)
        .range(start..)
        .anchored(Anchored::Pattern(pid));
    let mut s = dfa.start_state_forward(&input).map_err(|_| GaveUp)?;
    let mut end = None;
    let rest = hay.get(start..).unwrap_or(&[]);
    for (i, &b) in rest.iter().enumerate() {
        *budget = budget.checked_sub(1).ok_or(GaveUp)?;
        s = dfa.next_state(s, b);
        if dfa.is_special_state(s) {
            if dfa.is_match_state(s) {
                // Matches are reported one byte late: this one ended before byte `i`.
                end = Some(start + i);
            } else if dfa.is_dead_state(s) {
                return Ok(end);
            } else if dfa.is_quit_state(s) {
                return Err(GaveUp);
            }
        }
    }
    s = dfa.next_eoi_state(s);
    if dfa.is_match_state(s) {
        end = Some(hay.len());
    }
    Ok(end)
}

/// Whether a pattern match is a real secret: not an example, not a placeholder, and passing
/// the format's check. `prefix_len` is the length of the literal prefix that started it.
fn genuine(f: &SecretFormat, hit: &[u8], prefix_len: usize, placeholders: &[String]) -> bool {
    if f.examples.iter().any(|e| e.as_bytes() == hit) {
        return false;
    }
    if placeholders
        .iter()
        .any(|p| contains_ignore_case(hit, p.as_bytes()))
    {
        return false;
    }
    let body = hit.get(prefix_len..).unwrap_or(&[]);
    match f.check {
        SecretCheck::UriPassword => uri_password_real(hit, &f.examples),
        check => {
            !looks_filled_in(body)
                && match check {
                    SecretCheck::Crc32Base62 => crc32_base62_ok(hit),
                    SecretCheck::Bech32 => bech32_ok(hit),
                    SecretCheck::Jwt => jwt_ok(hit),
                    SecretCheck::None | SecretCheck::UriPassword => true,
                }
        }
    }
}

fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && hay
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

/// A body made of very few distinct characters (`aaaa…`, `0000…`, `abab…`) or a plain run
/// (`123456789`, `abcdefgh`) is typed by hand, not generated.
fn looks_filled_in(body: &[u8]) -> bool {
    if body.len() >= 12 {
        let mut seen = [false; 256];
        let mut distinct = 0;
        for &b in body {
            if let Some(s) = seen.get_mut(b as usize) {
                if !*s {
                    *s = true;
                    distinct += 1;
                }
            }
        }
        if distinct < 6 {
            return true;
        }
    }
    // Eight consecutive ascending characters: about 1e-12 per position in random base62.
    let mut run = 1;
    for w in body.windows(2) {
        if let [a, b] = w {
            if b.is_ascii_alphanumeric() && *b == a.wrapping_add(1) {
                run += 1;
                if run >= 8 {
                    return true;
                }
                continue;
            }
        }
        run = 1;
    }
    false
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// GitHub's and npm's token format: prefix, 30 random base62 characters, then their CRC32 as
/// 6 base62 digits.
fn crc32_base62_ok(hit: &[u8]) -> bool {
    let Some(split) = hit.len().checked_sub(36) else {
        return false;
    };
    let (Some(payload), Some(sum)) = (hit.get(split..split + 30), hit.get(split + 30..)) else {
        return false;
    };
    let mut value: u64 = 0;
    for &c in sum {
        let Some(d) = BASE62.iter().position(|&x| x == c) else {
            return false;
        };
        value = value * 62 + d as u64;
    }
    value == u64::from(crc32fast::hash(payload))
}

const BECH32: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

/// A Bech32 string (BIP 173) with a valid checksum; case-insensitive as a whole.
fn bech32_ok(hit: &[u8]) -> bool {
    let Some(sep) = hit.iter().rposition(|&b| b == b'1') else {
        return false;
    };
    let (Some(hrp), Some(data)) = (hit.get(..sep), hit.get(sep + 1..)) else {
        return false;
    };
    if hrp.is_empty() || data.len() < 6 {
        return false;
    }
    let polymod = |values: &mut dyn Iterator<Item = u8>| -> u32 {
        const GEN: [u32; 5] = [
            0x3b6a_57b2,
            0x2650_8e6d,
            0x1ea1_19fa,
            0x3d42_33dd,
            0x2a14_62b3,
        ];
        let mut chk: u32 = 1;
        for v in values {
            let top = chk >> 25;
            chk = ((chk & 0x01ff_ffff) << 5) ^ u32::from(v);
            for (i, g) in GEN.iter().enumerate() {
                if (top >> i) & 1 == 1 {
                    chk ^= g;
                }
            }
        }
        chk
    };
    let mut digits = Vec::with_capacity(data.len());
    for &c in data {
        let Some(d) = BECH32.iter().position(|&x| x == c.to_ascii_lowercase()) else {
            return false;
        };
        digits.push(d as u8);
    }
    let lower: Vec<u8> = hrp.iter().map(u8::to_ascii_lowercase).collect();
    let mut values = lower
        .iter()
        .map(|c| c >> 5)
        .chain(std::iter::once(0))
        .chain(lower.iter().map(|c| c & 31))
        .chain(digits.iter().copied());
    polymod(&mut values) == 1
}

/// A JSON Web Token: its header is base64url JSON with an `alg` member.
fn jwt_ok(hit: &[u8]) -> bool {
    use base64::Engine as _;
    let header = hit.split(|&b| b == b'.').next().unwrap_or(&[]);
    match base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header) {
        Ok(json) => json.first() == Some(&b'{') && contains_ignore_case(&json, b"\"alg\""),
        Err(_) => false,
    }
}

/// `scheme://user:password@host`: a password that is a reference or a default is not one.
fn uri_password_real(hit: &[u8], defaults: &[String]) -> bool {
    let Some(rest) = find(hit, b"://").and_then(|i| hit.get(i + 3..)) else {
        return false;
    };
    let Some(at) = rest.iter().rposition(|&b| b == b'@') else {
        return false;
    };
    let userinfo = rest.get(..at).unwrap_or(&[]);
    let Some(colon) = userinfo.iter().position(|&b| b == b':') else {
        return false;
    };
    let (user, pass) = (
        userinfo.get(..colon).unwrap_or(&[]),
        userinfo.get(colon + 1..).unwrap_or(&[]),
    );
    let Some(&first) = pass.first() else {
        return false;
    };
    if matches!(first, b'$' | b'{' | b'<' | b'%' | b'[') || pass.iter().all(|&b| b == first) {
        return false;
    }
    !pass.eq_ignore_ascii_case(user)
        && !defaults
            .iter()
            .any(|d| pass.eq_ignore_ascii_case(d.as_bytes()))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {

    /// Both searchers (the automaton, and the packed searchers restarted after each hit with
    /// each cut's shorter cuts at the same start) find exactly the occurrences of the whole
    /// prefixes an overlapping search for them finds: over 200 literals of 3 to 12 bytes in
    /// several groups, many of them prefixes of others or sharing a cut, in text made of
    /// literals, literals broken off early and random bytes.
    #[test]
    fn prefix_searchers_find_every_overlapping_occurrence() {
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let alphabet = b"abcAB_-";
        let mut lits: Vec<Vec<u8>> = vec![
            b"----BEGIN RSA".to_vec(),
            b"----BEGIN EC".to_vec(),
            b"----BEGIN".to_vec(),
            b"----BEG".to_vec(),
        ];
        while lits.len() < 200 {
            let len = 3 + next(10) as usize;
            let l: Vec<u8> = (0..len).map(|_| alphabet[next(7) as usize]).collect();
            if !lits.contains(&l) {
                lits.push(l);
            }
        }
        let refs: Vec<&[u8]> = lits.iter().map(Vec::as_slice).collect();
        let prefixes = Prefixes::build(&refs).unwrap();
        assert!(
            prefixes.cut_lits.len() < lits.len(),
            "some literals share a cut"
        );
        let want_groups = prefixes.cut_lits.len().div_ceil(PACKED_GROUP);
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("ssse3") {
            assert_eq!(prefixes.packed.len(), want_groups);
        }
        let reference = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .build(&refs)
            .unwrap();
        for len in [0, 1, 7, 15, 16, 33, 64, 300, 4096] {
            let mut text: Vec<u8> = Vec::new();
            while text.len() < len {
                match next(3) {
                    0 => text.push(alphabet[next(7) as usize]),
                    1 => text.extend_from_slice(&lits[next(lits.len() as u64) as usize]),
                    _ => {
                        let l = &lits[next(lits.len() as u64) as usize];
                        text.extend_from_slice(&l[..next(l.len() as u64) as usize]);
                    }
                }
            }
            text.truncate(len);
            let mut want: Vec<_> = reference
                .find_overlapping_iter(&text)
                .map(|m| (m.pattern().as_usize(), m.start(), m.end()))
                .collect();
            want.sort_unstable();
            for packed in [false, true] {
                if packed && prefixes.packed.is_empty() {
                    continue;
                }
                let mut got = Vec::new();
                prefixes
                    .each_with(&text, packed, |l, a, b| {
                        got.push((l, a, b));
                        Ok(())
                    })
                    .unwrap();
                got.sort_unstable();
                assert_eq!(got, want, "packed {packed}, text of {len} bytes");
            }
        }
    }

    use super::*;

    fn github_token(prefix: &str, payload: &str) -> String {
        let mut n = u64::from(crc32fast::hash(payload.as_bytes()));
        let mut digits = [b'0'; 6];
        for d in digits.iter_mut().rev() {
            *d = BASE62.get((n % 62) as usize).copied().unwrap_or(b'0');
            n /= 62;
        }
        format!("{prefix}{payload}{}", String::from_utf8_lossy(&digits))
    }

    #[test]
    fn crc32_checksum() {
        let t = github_token("ghp_", "Zq3xV9mTb7LkP2wRy8NcH4dJf6GsQ1");
        assert!(crc32_base62_ok(t.as_bytes()), "{t}");
        let mut bad = t.into_bytes();
        if let Some(b) = bad.last_mut() {
            *b = if *b == b'A' { b'B' } else { b'A' };
        }
        assert!(!crc32_base62_ok(&bad));
    }

    #[test]
    fn bech32_checksum() {
        // BIP 173 test vectors.
        assert!(bech32_ok(b"A12UEL5L"));
        assert!(bech32_ok(b"abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw"));
        assert!(!bech32_ok(b"abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxx"));
    }

    #[test]
    fn jwt_structure() {
        assert!(jwt_ok(b"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"));
        assert!(!jwt_ok(b"eyJub3RoaW5nIjoxfQ.eyJzdWIiOiIxIn0.c2ln"));
    }

    #[test]
    fn uri_passwords() {
        let d = vec!["password".to_owned(), "postgres".to_owned()];
        assert!(uri_password_real(
            b"postgres://app:S3cr3t-9f2k@db.internal:5432",
            &d
        ));
        assert!(!uri_password_real(b"postgres://app:password@db", &d));
        assert!(!uri_password_real(
            b"postgres://postgres:postgres@localhost",
            &d
        ));
        assert!(!uri_password_real(b"postgres://app:${DB_PASS}@db", &d));
        assert!(!uri_password_real(b"postgres://app:****@db", &d));
        assert!(!uri_password_real(b"mysql://root:root@localhost", &d));
    }

    #[test]
    fn key_block_ends() {
        let key =
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\nBBBB\n-----END RSA PRIVATE KEY-----\nrest";
        let first_line = "-----BEGIN RSA PRIVATE KEY-----".len();
        assert_eq!(
            whole_secret_end(key, 0, first_line),
            key.len() - "\nrest".len()
        );
        // Cut before the END line, raw or escaped line breaks: the end of the body.
        for (text, end) in [
            ("-----BEGIN PRIVATE KEY-----\nAAAA\nBB\n", 35),
            (r"-----BEGIN PRIVATE KEY-----\nAA\/A\\nBB\", 39),
            ("-----BEGIN PRIVATE KEY-----\nAAAA BBBB", 32),
            ("-----BEGIN PRIVATE KEY-----\nA: b\nCC\nD\"x", 37),
            ("-----BEGIN PRIVATE KEY-----\nAA\n-----END OTHER-----x", 50),
            ("-----BEGIN PRIVATE KEY-----\nAA\n-----END OTHER", 30),
            ("-----BEGIN PRIVATE KEY-----", 27),
            ("-----BEGIN PRIVATE KEY-----\\", 27),
        ] {
            assert_eq!(whole_secret_end(text, 0, 27), end, "{text:?}");
            assert!(end <= text.len());
        }
        assert_eq!(
            key_blocks("x -----BEGIN PUBLIC KEY----- -----BEGIN EC PRIVATE KEY-----")
                .collect::<Vec<_>>(),
            vec![(29, 59)]
        );
        assert_eq!(pem_label("-----BEGIN lower-----"), None);
    }

    #[test]
    fn filled_in_bodies() {
        assert!(looks_filled_in(b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
        assert!(looks_filled_in(b"0123456789abcdefghij0123456789abcdef"));
        assert!(!looks_filled_in(b"Zq3xV9mTb7LkP2wRy8NcH4dJf6GsQ1"));
    }
}
