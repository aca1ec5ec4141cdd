//! Tokens of the `.crust` language (logos). Strings and regexes are unescaped here, so the
//! parser sees values; comments are tokens too (the parser skips them, `crust fmt` keeps them).

use logos::Logos;
use std::fmt;

/// Why a piece of text is not a token.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum LexError {
    #[default]
    Unexpected,
    UnterminatedString,
    BadEscape(String),
    UnterminatedRegex,
    BadRegexFlag(char),
    SingleQuoted,
}

impl fmt::Display for LexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LexError::Unexpected => f.write_str("unexpected character"),
            LexError::UnterminatedString => f.write_str("string is not closed"),
            LexError::BadEscape(e) => write!(f, "unknown escape `{e}` in string"),
            LexError::UnterminatedRegex => f.write_str("regex is not closed"),
            LexError::BadRegexFlag(c) => write!(f, "unknown regex flag `{c}`"),
            LexError::SingleQuoted => f.write_str("strings are written in double quotes"),
        }
    }
}

#[derive(Logos, Debug, Clone, PartialEq, Eq)]
#[logos(error = LexError)]
#[logos(skip r"[ \t\r\n\f]+")]
pub enum Tok {
    #[token("set")]
    Set,
    #[token("block")]
    Block,
    #[token("allow")]
    Allow,
    #[token("disable")]
    Disable,
    #[token("when")]
    When,
    #[token("message")]
    Message,
    #[token("severity")]
    Severity,
    #[token("locked")]
    Locked,
    #[token("description")]
    Description,
    #[token("and")]
    And,
    #[token("or")]
    Or,
    #[token("not")]
    Not,
    #[token("is")]
    Is,
    #[token("in")]
    In,
    #[token("matches")]
    Matches,
    #[token("contains")]
    Contains,
    #[token("except")]
    Except,
    #[token("arg")]
    Arg,
    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token(",")]
    Comma,
    #[token("=")]
    Eq,
    /// A name: rule, set, field, action, severity. `-` is allowed inside (`protect-ssh`).
    #[regex(r"[A-Za-z_][A-Za-z0-9_-]*", |lex| lex.slice().to_owned())]
    Ident(String),
    /// A string literal's value.
    #[regex(r#""([^"\\\n]|\\[^\n])*""#, unescape_string)]
    #[regex(r#""([^"\\\n]|\\[^\n])*"#, |_| Err(LexError::UnterminatedString))]
    Str(String),
    /// `'...'`: a mistake common enough to name.
    #[regex(r"'[^'\n]*'?", single_quoted)]
    SingleQuoted,
    /// A regex literal, as regex syntax (flags folded in as `(?i)` and the like).
    #[regex(r"/([^/\\\n]|\\[^\n])+/[A-Za-z]*", regex_literal)]
    #[regex(r"/([^/\\\n]|\\[^\n])*", |_| Err(LexError::UnterminatedRegex))]
    Regex(String),
    /// `# ...` to the end of the line (the text after `#`).
    #[regex(r"#[^\n]*", |lex| lex.slice().get(1..).unwrap_or("").to_owned())]
    Comment(String),
}

fn single_quoted(_: &mut logos::Lexer<'_, Tok>) -> Result<(), LexError> {
    Err(LexError::SingleQuoted)
}

fn unescape_string(lex: &mut logos::Lexer<'_, Tok>) -> Result<String, LexError> {
    let s = lex.slice();
    let body = s.get(1..s.len().saturating_sub(1)).unwrap_or("");
    unescape(body)
}

/// `\"`, `\\`, `\n`, `\t`, `\r`, `\0` and `\u{...}`; anything else is an error (a glob's own
/// escapes are written doubled: `"\\*"`).
pub fn unescape(body: &str) -> Result<String, LexError> {
    let mut out = String::with_capacity(body.len());
    let mut it = body.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('0') => out.push('\0'),
            Some('u') => {
                let rest: String = it.clone().collect();
                let Some(hex) = rest
                    .strip_prefix('{')
                    .and_then(|r| r.split_once('}'))
                    .map(|(h, _)| h)
                else {
                    return Err(LexError::BadEscape("\\u".into()));
                };
                let ch = u32::from_str_radix(hex, 16)
                    .ok()
                    .filter(|_| (1..=6).contains(&hex.len()))
                    .and_then(char::from_u32)
                    .ok_or_else(|| LexError::BadEscape(format!("\\u{{{hex}}}")))?;
                out.push(ch);
                for _ in 0..hex.len() + 2 {
                    it.next();
                }
            }
            Some(other) => return Err(LexError::BadEscape(format!("\\{other}"))),
            None => return Err(LexError::BadEscape("\\".into())),
        }
    }
    Ok(out)
}

fn regex_literal(lex: &mut logos::Lexer<'_, Tok>) -> Result<String, LexError> {
    let s = lex.slice();
    let close = s.rfind('/').unwrap_or(0);
    let body = s.get(1..close).unwrap_or("");
    let flags = s.get(close + 1..).unwrap_or("");
    // `\/` is how a slash is written inside `/.../`; every other escape is the regex's own.
    let body = body.replace("\\/", "/");
    let mut seen = String::new();
    for f in flags.chars() {
        if !matches!(f, 'i' | 'm' | 's' | 'x' | 'U') {
            return Err(LexError::BadRegexFlag(f));
        }
        if !seen.contains(f) {
            seen.push(f);
        }
    }
    Ok(if seen.is_empty() {
        body
    } else {
        format!("(?{seen}){body}")
    })
}

/// A token with its byte range, or a lexical error with its range.
pub type Spanned = (usize, Tok, usize);

/// Every token of `text`, comments included, and every lexical error.
pub fn tokens(text: &str) -> Vec<Result<Spanned, (LexError, usize, usize)>> {
    let mut lex = Tok::lexer(text);
    let mut out = Vec::new();
    while let Some(t) = lex.next() {
        let r = lex.span();
        out.push(match t {
            Ok(tok) => Ok((r.start, tok, r.end)),
            Err(e) => Err((e, r.start, r.end)),
        });
    }
    out
}

impl Tok {
    /// Tokens that can only start a top-level item: the parser recovers at them.
    pub fn starts_item(&self) -> bool {
        matches!(self, Tok::Set | Tok::Block | Tok::Allow | Tok::Disable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        tokens(s)
            .into_iter()
            .filter_map(Result::ok)
            .map(|t| t.1)
            .collect()
    }

    #[test]
    fn strings_regexes_and_names() {
        assert_eq!(
            toks(r#"block protect-ssh { when command matches /\bcurl\b/i }"#),
            vec![
                Tok::Block,
                Tok::Ident("protect-ssh".into()),
                Tok::LBrace,
                Tok::When,
                Tok::Ident("command".into()),
                Tok::Matches,
                Tok::Regex(r"(?i)\bcurl\b".into()),
                Tok::RBrace
            ]
        );
        assert_eq!(
            toks(r#""a\"b\\c\u{41}""#),
            vec![Tok::Str("a\"b\\cA".into())]
        );
        assert_eq!(toks(r"/a\/b/"), vec![Tok::Regex("a/b".into())]);
        assert_eq!(
            toks("# note\nset"),
            vec![Tok::Comment(" note".into()), Tok::Set]
        );
        // Keywords are whole words.
        assert_eq!(toks("blocked"), vec![Tok::Ident("blocked".into())]);
    }

    #[test]
    fn errors_carry_their_range() {
        let t = tokens("\"abc");
        assert!(matches!(
            t.first(),
            Some(Err((LexError::UnterminatedString, 0, 4)))
        ));
        let t = tokens(r#""\q""#);
        assert!(matches!(t.first(), Some(Err((LexError::BadEscape(e), _, _))) if e == "\\q"));
        let t = tokens("/abc/z");
        assert!(matches!(
            t.first(),
            Some(Err((LexError::BadRegexFlag('z'), _, _)))
        ));
        let t = tokens("@");
        assert!(matches!(t.first(), Some(Err((LexError::Unexpected, 0, 1)))));
    }
}
