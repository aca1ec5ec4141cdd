//! Pure text evaluation for the shell analysis: shell patterns, parameter-expansion
//! operators, `printf` formats and the text tools the command table marks with `produces`.
//! Every function works on known text only and returns `None` where it cannot be sure of the
//! result (an option it does not model, a regular expression), so the caller can treat the
//! output as unknown. Each is linear or bounded by the caller's work budget.

use crate::tables::Produce;

/// Whether the shell pattern `pat` (`*`, `?`, `[...]`, `\x`) matches all of `text`.
pub fn glob_match(pat: &[char], text: &[char]) -> bool {
    // Iterative matcher with one backtrack point for the last `*`: linear in practice.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pat.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
                continue;
            }
            Some('?') => {
                p += 1;
                t += 1;
                continue;
            }
            Some('[') => {
                if let Some((ok, next)) = class(pat, p, text.get(t).copied().unwrap_or('\0')) {
                    if ok {
                        p = next;
                        t += 1;
                        continue;
                    }
                } else if text.get(t) == Some(&'[') {
                    p += 1;
                    t += 1;
                    continue;
                }
            }
            Some('\\') if pat.get(p + 1) == text.get(t) && pat.get(p + 1).is_some() => {
                p += 2;
                t += 1;
                continue;
            }
            Some(c) if Some(c) == text.get(t) => {
                p += 1;
                t += 1;
                continue;
            }
            _ => {}
        }
        match star {
            Some((sp, st)) => {
                p = sp + 1;
                t = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    while pat.get(p) == Some(&'*') {
        p += 1;
    }
    p == pat.len()
}

/// A bracket expression at `pat[p]`: whether `c` is in it and where it ends.
fn class(pat: &[char], p: usize, c: char) -> Option<(bool, usize)> {
    let mut i = p + 1;
    let negated = matches!(pat.get(i), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let mut found = false;
    let mut first = true;
    loop {
        let x = *pat.get(i)?;
        if x == ']' && !first {
            return Some((found != negated, i + 1));
        }
        first = false;
        if pat.get(i + 1) == Some(&'-') && pat.get(i + 2).is_some_and(|e| *e != ']') {
            let hi = *pat.get(i + 2)?;
            found |= x <= c && c <= hi;
            i += 3;
        } else {
            found |= x == c;
            i += 1;
        }
    }
}

fn chars(s: &str) -> Vec<char> {
    s.chars().collect()
}

/// `${v#pat}` / `${v##pat}` (prefix) and `${v%pat}` / `${v%%pat}` (suffix). A pattern without
/// wildcards (`glob` false) is literal.
pub fn strip(v: &str, pat: &str, glob: bool, prefix: bool, longest: bool) -> String {
    if !glob {
        let r = if prefix {
            v.strip_prefix(pat)
        } else {
            v.strip_suffix(pat)
        };
        return r.unwrap_or(v).to_owned();
    }
    let t = chars(v);
    let p = chars(pat);
    let n = t.len();
    let cuts: Box<dyn Iterator<Item = usize>> = if longest {
        Box::new((0..=n).rev())
    } else {
        Box::new(0..=n)
    };
    for k in cuts {
        if prefix {
            if glob_match(&p, t.get(..k).unwrap_or(&[])) {
                return t.get(k..).unwrap_or(&[]).iter().collect();
            }
        } else if glob_match(&p, t.get(n - k..).unwrap_or(&[])) {
            return t.get(..n - k).unwrap_or(&[]).iter().collect();
        }
    }
    v.to_owned()
}

/// `${v/pat/rep}` and its anchored and global forms; bash takes the longest match.
pub fn replace(
    v: &str,
    pat: &str,
    glob: bool,
    rep: &str,
    anchor: crate::shell::parse::Anchor,
) -> String {
    use crate::shell::parse::Anchor;
    if pat.is_empty() {
        return v.to_owned();
    }
    let t = chars(v);
    let p: Vec<char> = if glob {
        chars(pat)
    } else {
        // A literal pattern: escape what would be wildcards.
        pat.chars()
            .flat_map(|c| {
                if matches!(c, '*' | '?' | '[' | '\\') {
                    vec!['\\', c]
                } else {
                    vec![c]
                }
            })
            .collect()
    };
    let n = t.len();
    let mut out = String::new();
    let mut i = 0;
    let mut done = false;
    while i <= n {
        if !done && (anchor != Anchor::Start || i == 0) {
            let ends: Vec<usize> = if anchor == Anchor::End {
                vec![n]
            } else {
                (i + 1..=n).rev().collect()
            };
            if let Some(j) = ends
                .into_iter()
                .find(|&j| j > i && glob_match(&p, t.get(i..j).unwrap_or(&[])))
            {
                out.push_str(rep);
                i = j;
                if anchor != Anchor::All {
                    done = true;
                }
                continue;
            }
        }
        if let Some(c) = t.get(i) {
            out.push(*c);
        }
        i += 1;
    }
    out
}

/// `${v:off}` / `${v:off:len}` with literal numbers (negative counts from the end).
pub fn substring(v: &str, off: &str, len: Option<&str>) -> Option<String> {
    let t = chars(v);
    let n = t.len() as i64;
    let off: i64 = off.trim().parse().ok()?;
    let start = if off < 0 {
        (n + off).max(0)
    } else {
        off.min(n)
    };
    let end = match len {
        None => n,
        Some(l) => {
            let l: i64 = l.trim().parse().ok()?;
            if l < 0 {
                (n + l).max(start)
            } else {
                (start + l).min(n)
            }
        }
    };
    Some(
        t.get(start as usize..end.max(start) as usize)
            .unwrap_or(&[])
            .iter()
            .collect(),
    )
}

/// `${v^}`, `${v^^}`, `${v,}`, `${v,,}`.
pub fn case(v: &str, upper: bool, all: bool) -> String {
    let conv = |c: char| -> String {
        if upper {
            c.to_uppercase().collect()
        } else {
            c.to_lowercase().collect()
        }
    };
    if all {
        return v.chars().map(conv).collect();
    }
    let mut it = v.chars();
    match it.next() {
        Some(c) => conv(c) + it.as_str(),
        None => String::new(),
    }
}

/// Backslash escapes of `printf` formats and `%b` / `echo -e`: the text, and whether a
/// numeric escape (`\x63`, `\143`, `\u0063`) produced any of it.
pub fn escapes(s: &str) -> (String, bool) {
    let mut out = String::new();
    let mut numeric = false;
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('a') => out.push('\x07'),
            Some('b') => out.push('\x08'),
            Some('f') => out.push('\x0c'),
            Some('v') => out.push('\x0b'),
            Some('e' | 'E') => out.push('\x1b'),
            Some('\\') => out.push('\\'),
            Some(d @ ('x' | 'u' | 'U' | '0'..='7')) => {
                numeric = true;
                let (radix, max) = match d {
                    'x' => (16, 2),
                    'u' => (16, 4),
                    'U' => (16, 8),
                    _ => (8, 3),
                };
                let mut digits = String::new();
                if radix == 8 && d != '0' {
                    digits.push(d);
                }
                while digits.len() < max {
                    match it.peek() {
                        Some(&x) if x.is_digit(radix) => {
                            digits.push(x);
                            it.next();
                        }
                        _ => break,
                    }
                }
                if let Some(ch) = u32::from_str_radix(&digits, radix)
                    .ok()
                    .and_then(char::from_u32)
                {
                    out.push(ch);
                }
            }
            Some(o) => {
                out.push('\\');
                out.push(o);
            }
            None => out.push('\\'),
        }
    }
    (out, numeric)
}

/// `printf FORMAT ARGS…`: the output, and whether a numeric escape made any of it. `None`
/// for conversions this does not model.
pub fn printf(format: &str, args: &[&str]) -> Option<(String, bool)> {
    let (fmt, mut numeric) = escapes(format);
    let mut out = String::new();
    let mut k = 0;
    // The format is reused while arguments remain (at least once).
    loop {
        let mut it = fmt.chars().peekable();
        let mut consumed = false;
        while let Some(c) = it.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            // Flags and width are skipped: they pad, they do not change the text.
            let mut spec = it.next()?;
            while matches!(spec, '-' | '+' | ' ' | '#' | '0'..='9' | '.') {
                spec = it.next()?;
            }
            let arg = args.get(k).copied().unwrap_or("");
            match spec {
                '%' => out.push('%'),
                's' | 'q' => {
                    out.push_str(arg);
                    k += 1;
                    consumed = true;
                }
                'b' => {
                    let (t, n) = escapes(arg);
                    numeric |= n;
                    out.push_str(&t);
                    k += 1;
                    consumed = true;
                }
                'c' => {
                    out.extend(arg.chars().next());
                    k += 1;
                    consumed = true;
                }
                'd' | 'i' | 'u' => {
                    let n: i64 = if arg.is_empty() {
                        0
                    } else {
                        arg.trim().parse().ok()?
                    };
                    out.push_str(&n.to_string());
                    k += 1;
                    consumed = true;
                }
                'x' | 'X' | 'o' => {
                    let n: i64 = if arg.is_empty() {
                        0
                    } else {
                        arg.trim().parse().ok()?
                    };
                    out.push_str(&match spec {
                        'x' => format!("{n:x}"),
                        'X' => format!("{n:X}"),
                        _ => format!("{n:o}"),
                    });
                    k += 1;
                    consumed = true;
                    numeric = true;
                }
                _ => return None,
            }
        }
        if !consumed || k >= args.len() {
            break;
        }
    }
    Some((out, numeric))
}

/// RFC 4648 base32.
pub fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc: u64 = 0;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c.to_ascii_uppercase() {
            x @ b'A'..=b'Z' => x - b'A',
            x @ b'2'..=b'7' => x - b'2' + 26,
            b'=' => break,
            b' ' | b'\n' | b'\r' | b'\t' => continue,
            _ => return None,
        };
        acc = (acc << 5) | u64::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Expands a `tr` set (`a-z`, `[:upper:]`, `\n`).
fn tr_set(s: &str) -> Option<Vec<char>> {
    let (s, _) = escapes(s);
    let mut out = Vec::new();
    let c: Vec<char> = s.chars().collect();
    let mut i = 0;
    while let Some(&x) = c.get(i) {
        if x == '[' {
            let rest: String = c.get(i..).unwrap_or(&[]).iter().collect();
            let named = [
                ("[:upper:]", ('A', 'Z')),
                ("[:lower:]", ('a', 'z')),
                ("[:digit:]", ('0', '9')),
            ];
            if let Some((k, (lo, hi))) = named.iter().find(|(k, _)| rest.starts_with(*k)) {
                out.extend(*lo..=*hi);
                i += k.chars().count();
                continue;
            }
            if rest.starts_with("[:") {
                return None;
            }
        }
        if c.get(i + 1) == Some(&'-') && c.get(i + 2).is_some() {
            let hi = *c.get(i + 2)?;
            if hi < x {
                return None;
            }
            out.extend(x..=hi);
            i += 3;
        } else {
            out.push(x);
            i += 1;
        }
        if out.len() > 4096 {
            return None;
        }
    }
    Some(out)
}

/// A list of 1-based fields or characters (`1,3-4,6-`).
fn ranges(list: &str) -> Option<Vec<(usize, usize)>> {
    let mut out = Vec::new();
    for part in list.split(',') {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (
                if a.is_empty() { 1 } else { a.parse().ok()? },
                if b.is_empty() {
                    usize::MAX
                } else {
                    b.parse().ok()?
                },
            ),
            None => {
                let n = part.parse().ok()?;
                (n, n)
            }
        };
        out.push((a, b));
    }
    Some(out)
}

fn in_ranges(r: &[(usize, usize)], k: usize) -> bool {
    r.iter().any(|&(a, b)| a <= k && k <= b)
}

/// The value of an option in `args` (`-n 3`, `-n3`, `--lines=3`).
fn opt<'x>(args: &[&'x str], short: &[&str], long: &[&str]) -> Option<&'x str> {
    let mut i = 0;
    let mut found = None;
    while let Some(a) = args.get(i) {
        i += 1;
        if let Some(v) = long
            .iter()
            .find_map(|l| a.strip_prefix(l).and_then(|r| r.strip_prefix('=')))
        {
            found = Some(v);
        } else if short.contains(a) || long.contains(a) {
            found = args.get(i).copied();
            i += 1;
        } else if let Some(v) = short
            .iter()
            .find_map(|s| a.strip_prefix(s).filter(|r| !r.is_empty()))
        {
            found = Some(v);
        }
    }
    found
}

fn has_flag(args: &[&str], c: char) -> bool {
    args.iter().any(|a| {
        a.len() > 1
            && a.starts_with('-')
            && !a.starts_with("--")
            && a.chars().skip(1).all(|x| x.is_ascii_alphabetic())
            && a.contains(c)
    })
}

/// Positional arguments: everything not an option nor an option's value (`values` lists
/// the options that take one).
fn operands<'x>(args: &[&'x str], values: &[&str]) -> Vec<&'x str> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut only = false;
    while let Some(&a) = args.get(i) {
        i += 1;
        if !only && a == "--" {
            only = true;
            continue;
        }
        if !only && a.len() > 1 && a.starts_with('-') {
            if values.contains(&a) {
                i += 1;
            }
            continue;
        }
        out.push(a);
    }
    out
}

fn lines_of(s: &str) -> Vec<&str> {
    s.lines().collect()
}

fn joined(lines: &[&str]) -> String {
    let mut out = lines.join("\n");
    if !lines.is_empty() {
        out.push('\n');
    }
    out
}

/// What a text tool prints for known input (`input`: standard input or the files' known
/// text) and its arguments (after the name). `None`: not worked out.
pub fn produce(kind: Produce, args: &[&str], input: Option<&str>, decode: bool) -> Option<String> {
    let bytes_text = |b: Vec<u8>| String::from_utf8(b).ok();
    match kind {
        Produce::Input => input.map(str::to_owned),
        Produce::Base64 => {
            if !decode {
                return None;
            }
            input
                .and_then(crate::text::base64_decode)
                .and_then(bytes_text)
        }
        Produce::Base32 => {
            if !decode {
                return None;
            }
            input.and_then(base32_decode).and_then(bytes_text)
        }
        Produce::Hex => {
            if !decode {
                return None;
            }
            let plain = has_flag(args, 'p') || args.contains(&"-ps") || args.contains(&"-plain");
            input
                .and_then(|t| crate::text::hex_decode(t, !plain))
                .and_then(bytes_text)
        }
        Produce::Rev => {
            let t = input?;
            let lines: Vec<String> = t.lines().map(|l| l.chars().rev().collect()).collect();
            let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
            Some(joined(&refs))
        }
        Produce::Tac => {
            let t = input?;
            let mut l = lines_of(t);
            l.reverse();
            Some(joined(&l))
        }
        Produce::Tr => {
            let t = input?;
            let ops = operands(args, &[]);
            let delete = has_flag(args, 'd');
            if has_flag(args, 'c') || has_flag(args, 's') || has_flag(args, 'C') {
                return None;
            }
            let set1 = tr_set(ops.first()?)?;
            if delete {
                return Some(t.chars().filter(|c| !set1.contains(c)).collect());
            }
            let set2 = tr_set(ops.get(1)?)?;
            let last = *set2.last()?;
            Some(
                t.chars()
                    .map(|c| match set1.iter().rposition(|x| *x == c) {
                        Some(k) => set2.get(k).copied().unwrap_or(last),
                        None => c,
                    })
                    .collect(),
            )
        }
        Produce::Cut => {
            let t = input?;
            let out: Vec<String> = if let Some(f) = opt(args, &["-f"], &["--fields"]) {
                let r = ranges(f)?;
                let d = opt(args, &["-d"], &["--delimiter"]).unwrap_or("\t");
                let d = d.chars().next().unwrap_or('\t');
                t.lines()
                    .map(|l| {
                        if !l.contains(d) {
                            return l.to_owned();
                        }
                        l.split(d)
                            .enumerate()
                            .filter(|(k, _)| in_ranges(&r, k + 1))
                            .map(|(_, x)| x)
                            .collect::<Vec<_>>()
                            .join(&d.to_string())
                    })
                    .collect()
            } else if let Some(c) = opt(args, &["-c", "-b"], &["--characters", "--bytes"]) {
                let r = ranges(c)?;
                t.lines()
                    .map(|l| {
                        l.chars()
                            .enumerate()
                            .filter(|(k, _)| in_ranges(&r, k + 1))
                            .map(|(_, x)| x)
                            .collect()
                    })
                    .collect()
            } else {
                return None;
            };
            let refs: Vec<&str> = out.iter().map(String::as_str).collect();
            Some(joined(&refs))
        }
        Produce::Head | Produce::Tail => {
            let t = input?;
            if opt(args, &["-c"], &["--bytes"]).is_some() {
                return None;
            }
            let n = opt(args, &["-n"], &["--lines"])
                .map(str::to_owned)
                .or_else(|| {
                    args.iter()
                        .find(|a| {
                            a.len() > 1
                                && a.starts_with('-')
                                && a[1..].bytes().all(|b| b.is_ascii_digit())
                        })
                        .map(|a| a[1..].to_owned())
                })
                .unwrap_or_else(|| "10".to_owned());
            let l = lines_of(t);
            let pick: Vec<&str> = if kind == Produce::Head {
                let k: usize = n.trim_start_matches('-').parse().ok()?;
                l.into_iter().take(k).collect()
            } else if let Some(from) = n.strip_prefix('+') {
                let k: usize = from.parse().ok()?;
                l.into_iter().skip(k.saturating_sub(1)).collect()
            } else {
                let k: usize = n.parse().ok()?;
                let skip = l.len().saturating_sub(k);
                l.into_iter().skip(skip).collect()
            };
            Some(joined(&pick))
        }
        Produce::Sort => {
            let t = input?;
            let mut l = lines_of(t);
            l.sort_unstable();
            if has_flag(args, 'r') {
                l.reverse();
            }
            if has_flag(args, 'u') {
                l.dedup();
            }
            Some(joined(&l))
        }
        Produce::Uniq => {
            let t = input?;
            let mut l = lines_of(t);
            l.dedup();
            Some(joined(&l))
        }
        Produce::Sed => {
            let t = input?;
            let mut scripts: Vec<&str> = Vec::new();
            let mut i = 0;
            let mut positional = Vec::new();
            while let Some(&a) = args.get(i) {
                i += 1;
                match a {
                    "-e" | "--expression" => scripts.extend(args.get(i).copied()),
                    "-E" | "-r" | "--regexp-extended" | "-u" | "-z" => continue,
                    _ if a.starts_with('-') && a.len() > 1 => return None,
                    _ => {
                        positional.push(a);
                        continue;
                    }
                }
                i += 1;
            }
            if scripts.is_empty() {
                scripts.push(positional.first()?);
            } else if !positional.is_empty() {
                return None;
            }
            let mut text = t.to_owned();
            for sc in scripts {
                for cmd in sc.split(';').map(str::trim).filter(|c| !c.is_empty()) {
                    text = sed_command(cmd, &text)?;
                }
            }
            Some(text)
        }
        Produce::Awk => {
            let t = input?;
            let mut sep: Option<String> = None;
            let mut prog = None;
            let mut i = 0;
            while let Some(&a) = args.get(i) {
                i += 1;
                if a == "-F" {
                    sep = args.get(i).map(|s| (*s).to_owned());
                    i += 1;
                } else if let Some(f) = a.strip_prefix("-F") {
                    sep = Some(f.to_owned());
                } else if a.starts_with('-') {
                    return None;
                } else if prog.is_none() {
                    prog = Some(a);
                } else {
                    return None;
                }
            }
            let fields = awk_print(prog?)?;
            let sep = sep.map(|s| escapes(&s).0);
            if sep
                .as_deref()
                .is_some_and(|s| s.chars().count() != 1 && s != " ")
            {
                return None;
            }
            let mut out = String::new();
            for line in t.lines() {
                let cols: Vec<&str> = match sep.as_deref() {
                    None | Some(" ") => line.split_whitespace().collect(),
                    Some(s) => line.split(s).collect(),
                };
                let mut first = true;
                for (k, comma) in &fields {
                    if *comma && !first {
                        out.push(' ');
                    }
                    first = false;
                    if *k == 0 {
                        out.push_str(line);
                    } else {
                        out.push_str(cols.get(k - 1).copied().unwrap_or(""));
                    }
                }
                out.push('\n');
            }
            Some(out)
        }
        Produce::Dirname => {
            let ops = operands(args, &[]);
            let out: Vec<String> = ops
                .iter()
                .map(|p| {
                    let t = p.trim_end_matches('/');
                    match t.rsplit_once('/') {
                        Some(("", _)) => "/".to_owned(),
                        Some((d, _)) => d.to_owned(),
                        None if p.starts_with('/') => "/".to_owned(),
                        None => ".".to_owned(),
                    }
                })
                .collect();
            let refs: Vec<&str> = out.iter().map(String::as_str).collect();
            Some(joined(&refs))
        }
        Produce::Basename => {
            let suffix = opt(args, &["-s"], &["--suffix"]);
            let ops = operands(args, &["-s", "--suffix"]);
            let multi = has_flag(args, 'a') || suffix.is_some();
            let (names, suffix) = if multi {
                (ops.clone(), suffix)
            } else {
                (
                    ops.first().copied().into_iter().collect(),
                    ops.get(1).copied(),
                )
            };
            let out: Vec<String> = names
                .iter()
                .map(|p| {
                    let t = p.trim_end_matches('/');
                    let base = t.rsplit('/').next().unwrap_or(t);
                    let base = match suffix {
                        Some(sx) if base != sx => base.strip_suffix(sx).unwrap_or(base),
                        _ => base,
                    };
                    base.to_owned()
                })
                .collect();
            let refs: Vec<&str> = out.iter().map(String::as_str).collect();
            Some(joined(&refs))
        }
        // Resolved by the analysis (it knows the working directory and the home).
        Produce::Realpath => None,
        Produce::Which => {
            let ops = operands(args, &[]);
            let out: Vec<String> = ops
                .iter()
                .map(|n| {
                    if n.contains('/') {
                        (*n).to_owned()
                    } else {
                        format!("/usr/bin/{n}")
                    }
                })
                .collect();
            let refs: Vec<&str> = out.iter().map(String::as_str).collect();
            Some(joined(&refs))
        }
    }
}

/// One `sed` command over `text`: `s/LIT/REP/[g]` and `y/ABC/XYZ/` with literal patterns.
fn sed_command(cmd: &str, text: &str) -> Option<String> {
    let mut it = cmd.chars();
    let op = it.next()?;
    if op != 's' && op != 'y' {
        return None;
    }
    let d = it.next()?;
    let rest: String = it.collect();
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut esc = false;
    for c in rest.chars() {
        if esc {
            if c != d {
                cur.push('\\');
            }
            cur.push(c);
            esc = false;
        } else if c == '\\' {
            esc = true;
        } else if c == d {
            parts.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    parts.push(cur);
    let pat = parts.first()?;
    let rep = parts.get(1)?;
    let flags = parts.get(2).map_or("", String::as_str);
    if op == 'y' {
        let a: Vec<char> = pat.chars().collect();
        let b: Vec<char> = rep.chars().collect();
        if a.len() != b.len() {
            return None;
        }
        return Some(
            text.chars()
                .map(|c| {
                    a.iter()
                        .position(|x| *x == c)
                        .and_then(|k| b.get(k).copied())
                        .unwrap_or(c)
                })
                .collect(),
        );
    }
    // Regular expressions are not modelled beyond literal text, escaped characters and the
    // `^`/`$` anchors.
    let (start, pat) = match pat.strip_prefix('^') {
        Some(p) => (true, p),
        None => (false, pat.as_str()),
    };
    let (end, pat) = match pat.strip_suffix('$').filter(|p| !p.ends_with('\\')) {
        Some(p) => (true, p),
        None => (false, pat),
    };
    let mut lit = String::new();
    let mut chars = pat.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => lit.push(chars.next()?),
            '.' | '*' | '[' | ']' | '^' | '$' | '+' | '?' | '(' | ')' | '{' | '}' | '|' => {
                return None
            }
            _ => lit.push(c),
        }
    }
    if (lit.is_empty() && !start && !end)
        || rep.contains('&')
        || rep.contains('\\')
        || !flags.chars().all(|c| c == 'g')
    {
        return None;
    }
    let global = flags.contains('g') && !start && !end;
    let one = |l: &str| -> String {
        if start && end {
            if l == lit {
                rep.clone()
            } else {
                l.to_owned()
            }
        } else if start {
            match l.strip_prefix(lit.as_str()) {
                Some(r) => format!("{rep}{r}"),
                None => l.to_owned(),
            }
        } else if end {
            match l.strip_suffix(lit.as_str()) {
                Some(r) => format!("{r}{rep}"),
                None => l.to_owned(),
            }
        } else if global {
            l.replace(lit.as_str(), rep)
        } else {
            l.replacen(lit.as_str(), rep, 1)
        }
    };
    Some(
        text.lines().map(one).collect::<Vec<_>>().join("\n")
            + if text.ends_with('\n') { "\n" } else { "" },
    )
}

/// `{print $1,$3}` / `{print $2 $1}`: each field number and whether a comma precedes it.
fn awk_print(prog: &str) -> Option<Vec<(usize, bool)>> {
    let body = prog.trim().strip_prefix('{')?.strip_suffix('}')?.trim();
    let body = body.strip_suffix(';').unwrap_or(body).trim();
    let list = body.strip_prefix("print")?.trim();
    let mut out = Vec::new();
    let mut comma = false;
    for tok in list.split_inclusive([',', ' ']) {
        let t = tok.trim_end_matches([',', ' ']);
        if !t.is_empty() {
            let n: usize = t.strip_prefix('$')?.parse().ok()?;
            out.push((n, comma));
        }
        comma = tok.ends_with(',');
        if !t.is_empty() && !comma {
            comma = false;
        }
    }
    if out.is_empty() {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shell::parse::Anchor;

    fn g(p: &str, t: &str) -> bool {
        glob_match(&chars(p), &chars(t))
    }

    #[test]
    fn patterns() {
        assert!(g("*.rs", "main.rs"));
        assert!(!g("*.rs", "main.rc"));
        assert!(g("a?c", "abc"));
        assert!(g("[a-c]x", "bx"));
        assert!(!g("[!a-c]x", "bx"));
        assert!(g("*", ""));
        assert!(g("\\*", "*"));
    }

    #[test]
    fn parameter_operators() {
        assert_eq!(strip("/a/b/c.txt", "*/", true, true, true), "c.txt");
        assert_eq!(strip("/a/b/c.txt", "*/", true, true, false), "a/b/c.txt");
        assert_eq!(strip("x.tar.gz", ".*", true, false, false), "x.tar");
        assert_eq!(strip("x.tar.gz", ".*", true, false, true), "x");
        assert_eq!(
            replace("~/.ssh/id_rsb", "rsb", false, "rsa", Anchor::First),
            "~/.ssh/id_rsa"
        );
        assert_eq!(replace("a-b-c", "-", false, "/", Anchor::All), "a/b/c");
        assert_eq!(replace("cat", "c", false, "b", Anchor::Start), "bat");
        assert_eq!(replace("XssX", "X", false, "", Anchor::End), "Xss");
        assert_eq!(substring("abcdef", "1", Some("3")).as_deref(), Some("bcd"));
        assert_eq!(substring("abcdef", " -2", None).as_deref(), Some("ef"));
        assert_eq!(case("ID_RSA", false, true), "id_rsa");
        assert_eq!(case("cat", true, false), "Cat");
    }

    #[test]
    fn printf_formats() {
        assert_eq!(
            printf("%s/.ssh/%s", &["~", "id_rsa"])
                .map(|x| x.0)
                .as_deref(),
            Some("~/.ssh/id_rsa")
        );
        assert_eq!(printf("c\\x61t", &[]), Some(("cat".to_owned(), true)));
        assert_eq!(
            printf("%s\\n", &["a", "b"]).map(|x| x.0).as_deref(),
            Some("a\nb\n")
        );
        assert_eq!(printf("%b", &["\\x2f"]), Some(("/".to_owned(), true)));
    }

    #[test]
    fn text_tools() {
        let p = |k, a: &[&str], i: &str, d| produce(k, a, Some(i), d);
        assert_eq!(
            p(Produce::Base64, &["-d"], "Y2F0IH4vLnNzaC9pZF9yc2E=", true).as_deref(),
            Some("cat ~/.ssh/id_rsa")
        );
        assert_eq!(p(Produce::Base64, &[], "abc", false), None);
        assert_eq!(
            p(Produce::Hex, &["-r", "-p"], "636174", true).as_deref(),
            Some("cat")
        );
        assert_eq!(
            p(Produce::Rev, &[], "asr_di/hss.\n", false).as_deref(),
            Some(".ssh/id_rsa\n")
        );
        assert_eq!(
            p(Produce::Tr, &["a-z", "A-Z"], "cat", false).as_deref(),
            Some("CAT")
        );
        assert_eq!(
            p(Produce::Tr, &["-d", "x"], "cxaxt", false).as_deref(),
            Some("cat")
        );
        assert_eq!(
            p(Produce::Cut, &["-d", ",", "-f", "2"], "a,b,c", false).as_deref(),
            Some("b\n")
        );
        assert_eq!(
            p(Produce::Cut, &["-c", "1-3"], "catalog", false).as_deref(),
            Some("cat\n")
        );
        assert_eq!(
            p(Produce::Sed, &["s/X/ssh/"], "~/.X/id_rsa", false).as_deref(),
            Some("~/.ssh/id_rsa")
        );
        assert_eq!(p(Produce::Sed, &["s/.*/x/"], "abc", false), None);
        assert_eq!(
            p(Produce::Sed, &["s/\\.txt$//"], "a/.netrc.txt\n", false).as_deref(),
            Some("a/.netrc\n")
        );
        assert_eq!(
            p(Produce::Sed, &["s/^x/~/"], "x/.ssh", false).as_deref(),
            Some("~/.ssh")
        );
        assert_eq!(
            p(Produce::Awk, &["{print $2}"], "x cat", false).as_deref(),
            Some("cat\n")
        );
        assert_eq!(
            p(Produce::Awk, &["-F:", "{print $1,$3}"], "a:b:c", false).as_deref(),
            Some("a c\n")
        );
        assert_eq!(
            p(Produce::Head, &["-n", "1"], "a\nb", false).as_deref(),
            Some("a\n")
        );
        assert_eq!(
            p(Produce::Tail, &["-1"], "a\nb", false).as_deref(),
            Some("b\n")
        );
        assert_eq!(
            produce(Produce::Dirname, &["~/.ssh/id_rsa"], None, false).as_deref(),
            Some("~/.ssh\n")
        );
        assert_eq!(
            produce(Produce::Basename, &["/a/b.txt", ".txt"], None, false).as_deref(),
            Some("b\n")
        );
    }
}
