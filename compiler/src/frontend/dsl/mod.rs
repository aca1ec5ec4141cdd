//! The `.crust` policy language: logos lexer → lalrpop parser (one top-level item at a time,
//! so an error costs one item and every item is still checked) → syntax tree → the same IR as
//! YAML. `crust fmt` prints the tree back canonically, comments kept.

pub mod ast;
pub mod fmt;
pub mod lexer;
pub mod lower;

use crate::diag::{did_you_mean, Diagnostic, Diagnostics};
use crate::source::Span;
use lexer::{Spanned, Tok};

#[allow(
    clippy::all,
    clippy::pedantic,
    clippy::restriction,
    clippy::nursery,
    unused,
    unreachable_pub,
    missing_docs
)]
mod parser {
    include!(concat!(env!("OUT_DIR"), "/crust.rs"));
}

/// A parsed file: its items (those that parsed) and its comments, for the formatter.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub items: Vec<ast::Item>,
    /// (start, end, text after `#`)
    pub comments: Vec<(usize, usize, String)>,
}

/// Parses a `.crust` file, reporting every lexical and syntax error (at most one per item).
pub fn parse(file: u32, text: &str, diags: &mut Diagnostics) -> Parsed {
    let mut parsed = Parsed::default();
    // Chunks of tokens, each starting at an item keyword; a chunk with a lexical error is not
    // parsed (its error is already reported, and a missing token would only add noise).
    let mut chunks: Vec<(Vec<Spanned>, bool)> = vec![(Vec::new(), false)];
    // The line of the last lexical error: the rest of a line after one (a regex closed early
    // by a stray slash) is its consequence, so one error per line is reported.
    let mut err_line: Option<usize> = None;
    // Newlines counted so far, up to `counted` (errors come in order: linear in the file).
    let (mut line, mut counted) = (0usize, 0usize);
    for t in lexer::tokens(text) {
        match t {
            Ok((lo, Tok::Comment(c), hi)) => parsed.comments.push((lo, hi, c)),
            Ok(tok) => {
                if tok.1.starts_item() {
                    chunks.push((Vec::new(), false));
                }
                if let Some(last) = chunks.last_mut() {
                    last.0.push(tok);
                }
            }
            Err((e, lo, hi)) => {
                if lo > counted {
                    line += text.get(counted..lo).map_or(0, |t| t.matches('\n').count());
                    counted = lo;
                }
                if err_line != Some(line) {
                    diags.push(lex_diagnostic(file, text, &e, lo, hi));
                }
                err_line = Some(line);
                if let Some(last) = chunks.last_mut() {
                    last.1 = true;
                }
            }
        }
    }
    let n = chunks.len();
    for i in 0..n {
        let Some((toks, bad)) = chunks.get(i) else {
            continue;
        };
        if *bad || toks.is_empty() {
            continue;
        }
        // What follows this chunk: the next item's first token, or the end of the file.
        let next = chunks
            .iter()
            .skip(i + 1)
            .find_map(|(t, _)| t.first().cloned());
        let stream = toks.iter().cloned().map(Ok::<_, lexer::LexError>);
        match parser::ItemsParser::new().parse(stream) {
            Ok(items) => parsed.items.extend(items),
            Err(e) => diags.push(parse_diagnostic(file, e, next.as_ref())),
        }
    }
    parsed
}

fn lex_diagnostic(file: u32, text: &str, e: &lexer::LexError, lo: usize, hi: usize) -> Diagnostic {
    let d = Diagnostic::error(Span::new(file, lo, hi), e.to_string());
    match e {
        lexer::LexError::Unexpected => {
            let c = text.get(lo..hi).unwrap_or("");
            Diagnostic::error(Span::new(file, lo, hi), format!("unexpected character `{c}`"))
                .with_help("names, strings (\"...\"), regexes (/.../), brackets, `=` and `#` comments are all a policy file holds")
        }
        lexer::LexError::UnterminatedString => d.with_help("close it with `\"` on the same line"),
        lexer::LexError::BadEscape(_) => d.with_help(
            "strings know \\\" \\\\ \\n \\t \\r \\0 \\u{...}; a glob's own escape is written doubled (\"\\\\*\")",
        ),
        lexer::LexError::UnterminatedRegex => {
            d.with_help("close it with `/`; a slash inside is written `\\/`")
        }
        lexer::LexError::BadRegexFlag(_) => d.with_help("regex flags are i, m, s, x and U"),
        lexer::LexError::SingleQuoted => {
            let inner = text.get(lo..hi).unwrap_or("").trim_matches('\'');
            d.with_help(format!("write \"{inner}\""))
        }
    }
}

type ParseError = lalrpop_util::ParseError<usize, Tok, lexer::LexError>;

fn parse_diagnostic(file: u32, e: ParseError, next: Option<&Spanned>) -> Diagnostic {
    use lalrpop_util::ParseError as P;
    let (found, lo, hi, expected) = match e {
        P::UnrecognizedToken {
            token: (lo, tok, hi),
            expected,
        } => (Some(tok), lo, hi, expected),
        P::UnrecognizedEof { location, expected } => match next {
            Some((lo, tok, hi)) => (Some(tok.clone()), *lo, *hi, expected),
            None => (None, location, location, expected),
        },
        P::ExtraToken {
            token: (lo, tok, hi),
        } => (Some(tok), lo, hi, Vec::new()),
        P::InvalidToken { location } => (None, location, location + 1, Vec::new()),
        P::User { error } => {
            return Diagnostic::error(Span::new(file, 0, 0), error.to_string());
        }
    };
    let words: Vec<String> = expected.iter().map(|x| terminal_words(x)).collect();
    let found_words = match &found {
        Some(t) => describe(t),
        None => "end of file".to_owned(),
    };
    let mut msg = format!("unexpected {found_words}");
    if !words.is_empty() {
        msg.push_str(&format!(", expected {}", one_of(&words)));
    }
    let mut d = Diagnostic::error(Span::new(file, lo, hi), msg);
    // A name where a keyword belongs is most likely a misspelled keyword.
    if let Some(Tok::Ident(name)) = &found {
        let keywords: Vec<&str> = expected
            .iter()
            .map(|x| x.trim_matches('"'))
            .filter(|x| x.chars().all(|c| c.is_ascii_lowercase()))
            .collect();
        if let Some(k) = did_you_mean(name, &keywords) {
            d = d.with_help(format!("did you mean `{k}`?"));
        }
    } else if found.as_ref().is_some_and(Tok::starts_item) && !expected.is_empty() {
        d = d.with_help("the item before this one is not finished");
    }
    d
}

/// A terminal as the grammar names it (`"\"when\""`, `"\"a name\""`) in words.
fn terminal_words(t: &str) -> String {
    let t = t.trim_matches('"');
    if t.starts_with("a ") {
        t.to_owned()
    } else {
        format!("`{t}`")
    }
}

fn one_of(words: &[String]) -> String {
    match words {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(n) => format!("name `{n}`"),
        Tok::Str(s) => format!("string \"{}\"", s.escape_default()),
        Tok::Regex(_) => "regex".to_owned(),
        Tok::Comment(_) => "comment".to_owned(),
        Tok::SingleQuoted => "single-quoted text".to_owned(),
        other => format!("`{}`", keyword(other)),
    }
}

/// The spelling of a keyword or punctuation token.
pub fn keyword(t: &Tok) -> &'static str {
    match t {
        Tok::Set => "set",
        Tok::Block => "block",
        Tok::Allow => "allow",
        Tok::Disable => "disable",
        Tok::When => "when",
        Tok::Message => "message",
        Tok::Severity => "severity",
        Tok::Locked => "locked",
        Tok::Description => "description",
        Tok::And => "and",
        Tok::Or => "or",
        Tok::Not => "not",
        Tok::Is => "is",
        Tok::In => "in",
        Tok::Matches => "matches",
        Tok::Contains => "contains",
        Tok::Except => "except",
        Tok::Arg => "arg",
        Tok::LBrace => "{",
        Tok::RBrace => "}",
        Tok::LBracket => "[",
        Tok::RBracket => "]",
        Tok::LParen => "(",
        Tok::RParen => ")",
        Tok::Comma => ",",
        Tok::Eq => "=",
        Tok::Ident(_) | Tok::Str(_) | Tok::Regex(_) | Tok::Comment(_) | Tok::SingleQuoted => "",
    }
}
