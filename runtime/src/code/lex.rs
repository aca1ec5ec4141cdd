//! A tolerant lexer for the interpreted languages of the code analysis. It knows each syntax
//! family's strings (quotes, prefixes, quote-like operators, interpolation), comments, regex
//! literals and variables well enough that a string is never read as code nor code as a
//! string; it never fails (what it cannot read becomes punctuation).

use crate::tables::Syntax;

/// How a string literal substitutes values into its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interp {
    /// Literal text (escapes still apply unless raw).
    None,
    /// Python f-strings: `{expr}`.
    Brace,
    /// JavaScript templates: `${expr}`.
    DollarBrace,
    /// Perl and PHP: `$name`, `${name}`, `{$name}`, `@name`.
    Sigil,
    /// Ruby: `#{expr}`.
    Hash,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lit {
    /// The text between the delimiters, escapes not yet applied.
    pub raw: String,
    /// Backslash escapes are not processed (Python `r''`, Perl and Ruby single quotes apply
    /// only `\\` and the delimiter).
    pub raw_escapes: bool,
    pub interp: Interp,
    /// Backticks, `qx{}`, `%x()`: the text runs as a shell command.
    pub shell: bool,
    /// `qw()`, `%w()`: a list of words.
    pub words: bool,
    /// The text is final (PowerShell: backslashes are path separators, backtick escapes
    /// already applied).
    pub verbatim: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    Ident(String),
    /// A sigil variable (`$x`, `@x`, `%x`), the sigil kept.
    Var(String),
    Str(Lit),
    Num(i64),
    /// Operators and brackets. `->` and `::` are given as `.` (member access); Perl's and
    /// PHP's string `.` as `~` (concatenation).
    Punct(&'static str),
    /// A line break outside brackets ends a statement in Python, Ruby and JavaScript.
    Newline,
    /// Text the analysis could not work out (from an unknown part of evaluated code).
    Unknown,
}

const PUNCT: &[&str] = &[
    "**=", "//=", "...", "===", "!==", "<=>", "|&", "=>", "==", "!=", "<=", ">=", "&&", "||", "??",
    "**", "//", "<<", ">>", "+=", "-=", "*=", "/=", ".=", "|=", "&=", "=~", "!~", "..", "?.", "(",
    ")", "[", "]", "{", "}", ",", ";", ":", "=", "+", "-", "*", "/", "%", "<", ">", "!", "~", "&",
    "|", "^", "?", "@", "\\", "#", "$", ".",
];

pub fn lex(src: &str, syntax: Syntax) -> Vec<Tok> {
    let mut l = Lexer {
        s: src.as_bytes(),
        src,
        i: 0,
        syntax,
        out: Vec::new(),
        heredocs: Vec::new(),
    };
    l.run();
    l.out
}

struct Lexer<'a> {
    s: &'a [u8],
    src: &'a str,
    i: usize,
    syntax: Syntax,
    out: Vec<Tok>,
    /// Here-document bodies still ahead: (the line break their line ends with, where the
    /// body and its terminator line end). The lexer jumps over a body at that line break.
    heredocs: Vec<(usize, usize)>,
}

impl Lexer<'_> {
    /// A Ruby or Perl here-document (`<<~EOS`, `<<-EOS`, `<<EOS`, `<<'EOS'`, `<<"EOS"`):
    /// its body (the lines after this one up to the terminator) is one string token here.
    /// A bare `<<NAME` is a here-document only when NAME starts with a capital or `_`, so
    /// `a << b` stays an operator.
    fn heredoc(&mut self) -> bool {
        let mut k = 2;
        let indented = matches!(self.at(k), b'~' | b'-');
        if indented {
            k += 1;
        }
        let quote = matches!(self.at(k), b'\'' | b'"' | b'`').then(|| self.at(k));
        if quote.is_some() {
            k += 1;
        }
        let id_start = self.i + k;
        let first = self.at(k);
        let starts = if quote.is_some() || indented {
            first.is_ascii_alphabetic() || first == b'_'
        } else {
            first.is_ascii_uppercase() || first == b'_'
        };
        if !starts {
            return false;
        }
        while self.at(k).is_ascii_alphanumeric() || self.at(k) == b'_' {
            k += 1;
        }
        let id = self.slice(id_start, self.i + k).to_owned();
        if let Some(q) = quote {
            if self.at(k) != q {
                return false;
            }
            k += 1;
        }
        // The body starts after this line, or after the bodies already pending on it.
        let Some(nl) = self
            .src
            .get(self.i..)
            .and_then(|r| r.find('\n'))
            .map(|n| self.i + n)
        else {
            return false;
        };
        let body_start = self
            .heredocs
            .iter()
            .filter(|h| h.0 == nl)
            .map(|h| h.1)
            .max()
            .unwrap_or(nl + 1);
        let mut at = body_start;
        let mut body_end = self.s.len();
        let mut end = self.s.len();
        while at < self.s.len() {
            let line_end = self
                .src
                .get(at..)
                .and_then(|r| r.find('\n'))
                .map_or(self.s.len(), |n| at + n);
            let line = self.slice(at, line_end).trim_end_matches('\r');
            let done = if indented {
                line.trim() == id
            } else {
                line == id
            };
            if done {
                body_end = at;
                end = (line_end + 1).min(self.s.len());
                break;
            }
            at = line_end + 1;
        }
        let raw = self.slice(body_start.min(body_end), body_end).to_owned();
        self.heredocs.retain(|h| h.0 != nl);
        self.heredocs.push((nl, end));
        self.i += k;
        let single = quote == Some(b'\'');
        self.out.push(Tok::Str(Lit {
            raw,
            raw_escapes: single,
            interp: match (single, self.syntax) {
                (true, _) => Interp::None,
                (false, Syntax::Ruby) => Interp::Hash,
                (false, _) => Interp::Sigil,
            },
            shell: quote == Some(b'`'),
            words: false,
            verbatim: false,
        }));
        true
    }

    fn at(&self, k: usize) -> u8 {
        self.s.get(self.i + k).copied().unwrap_or(0)
    }

    fn slice(&self, a: usize, b: usize) -> &str {
        self.src.get(a..b).unwrap_or("")
    }

    /// Whether a `/` here starts a regex literal rather than dividing.
    fn regex_allowed(&self) -> bool {
        match self.out.last() {
            None | Some(Tok::Newline) => true,
            Some(Tok::Punct(p)) => !matches!(*p, ")" | "]" | "}"),
            Some(Tok::Ident(w)) => matches!(
                w.as_str(),
                "split"
                    | "grep"
                    | "map"
                    | "if"
                    | "unless"
                    | "and"
                    | "or"
                    | "not"
                    | "return"
                    | "when"
                    | "typeof"
                    | "in"
                    | "of"
            ),
            _ => false,
        }
    }

    fn run(&mut self) {
        let mut depth = 0usize;
        while self.i < self.s.len() {
            let c = self.at(0);
            let start = self.i;
            match c {
                b'\n' => {
                    let at = self.i;
                    self.i += 1;
                    if depth == 0 && !matches!(self.out.last(), Some(Tok::Newline) | None) {
                        self.out.push(Tok::Newline);
                    }
                    if let Some(k) = self.heredocs.iter().position(|h| h.0 == at) {
                        let (_, end) = self.heredocs.swap_remove(k);
                        self.i = end.max(self.i);
                    }
                }
                b'<' if self.at(1) == b'<'
                    && matches!(self.syntax, Syntax::Ruby | Syntax::Perl)
                    && self.heredoc() => {}
                b' ' | b'\t' | b'\r' | b'\x0c' => self.i += 1,
                b'\\' if self.at(1) == b'\n' => self.i += 2,
                b'<' if self.syntax == Syntax::PowerShell && self.at(1) == b'#' => {
                    let end = self
                        .src
                        .get(self.i + 2..)
                        .and_then(|r| r.find("#>"))
                        .map_or(self.s.len(), |k| self.i + 2 + k + 2);
                    self.i = end;
                }
                b'[' if self.syntax == Syntax::PowerShell && self.ps_type() => {}
                b'$' if self.syntax == Syntax::PowerShell
                    && (self.at(1).is_ascii_alphanumeric()
                        || matches!(self.at(1), b'_' | b'{')) =>
                {
                    self.ps_variable();
                }
                b'#' if self.syntax != Syntax::JavaScript => self.line_comment(),
                b'-' if self.syntax == Syntax::AppleScript && self.at(1) == b'-' => {
                    self.line_comment()
                }
                b'(' if self.syntax == Syntax::AppleScript && self.at(1) == b'*' => {
                    let end = self
                        .src
                        .get(self.i + 2..)
                        .and_then(|r| r.find("*)"))
                        .map_or(self.s.len(), |k| self.i + 2 + k + 2);
                    self.i = end;
                }
                b'/' if self.at(1) == b'/'
                    && matches!(self.syntax, Syntax::JavaScript | Syntax::Php) =>
                {
                    self.line_comment()
                }
                b'/' if self.at(1) == b'*'
                    && matches!(self.syntax, Syntax::JavaScript | Syntax::Php) =>
                {
                    let end = self
                        .src
                        .get(self.i + 2..)
                        .and_then(|r| r.find("*/"))
                        .map_or(self.s.len(), |k| self.i + 2 + k + 2);
                    self.i = end;
                }
                b'/' if matches!(
                    self.syntax,
                    Syntax::JavaScript | Syntax::Perl | Syntax::Ruby | Syntax::Awk
                ) && self.regex_allowed() =>
                {
                    self.i += 1;
                    self.skip_delimited(b'/');
                    self.skip_flags();
                    self.out.push(Tok::Punct("re"));
                }
                b'\'' | b'"' | b'`' => self.string(c, ""),
                b'%' if self.syntax == Syntax::Ruby
                    && (self.regex_allowed()
                        || (matches!(self.out.last(), Some(Tok::Ident(_)))
                            && self.i > 0
                            && self.s.get(self.i - 1) == Some(&b' ')
                            && self.at(1) != b' ')) =>
                {
                    if !self.ruby_percent() {
                        self.i += 1;
                        self.out.push(Tok::Punct("%"));
                    }
                }
                b'$' | b'@' | b'%'
                    if matches!(self.syntax, Syntax::Perl | Syntax::Php | Syntax::Ruby)
                        && (self.at(1).is_ascii_alphabetic()
                            || self.at(1) == b'_'
                            || (c == b'$' && matches!(self.at(1), b'0'..=b'9' | b'@' | b'!')))
                        && (c != b'%' || self.syntax == Syntax::Perl) =>
                {
                    self.i += 1;
                    if c == b'@' && self.syntax == Syntax::Ruby && self.at(0) == b'@' {
                        self.i += 1;
                    }
                    while self.at(0).is_ascii_alphanumeric()
                        || self.at(0) == b'_'
                        || (self.at(0) == b':' && self.at(1) == b':')
                    {
                        self.i += if self.at(0) == b':' { 2 } else { 1 };
                    }
                    if self.i == start + 1 {
                        self.i += 1;
                    }
                    let name = self.slice(start, self.i).replace("::", ".");
                    self.out.push(Tok::Var(name));
                }
                // Ruby symbols (`send(:system, …)`) are names as text.
                b':' if self.syntax == Syntax::Ruby
                    && (self.at(1).is_ascii_alphabetic() || self.at(1) == b'_')
                    && (self.i == 0 || self.s.get(self.i - 1) != Some(&b':'))
                    && (self.regex_allowed()
                        || self
                            .s
                            .get(self.i.wrapping_sub(1))
                            .is_some_and(u8::is_ascii_whitespace)) =>
                {
                    self.i += 1;
                    let from = self.i;
                    while self.at(0).is_ascii_alphanumeric()
                        || matches!(self.at(0), b'_' | b'?' | b'!')
                    {
                        self.i += 1;
                    }
                    let raw = self.slice(from, self.i).to_owned();
                    self.out.push(Tok::Str(Lit {
                        raw,
                        raw_escapes: true,
                        interp: Interp::None,
                        shell: false,
                        words: false,
                        verbatim: false,
                    }));
                }
                // Perl's punctuation variables (`$/`, `$!`, `$_`, `$$`): a slash after one is no
                // regular expression.
                b'$' if self.syntax == Syntax::Perl
                    && self.at(1).is_ascii_punctuation()
                    && !matches!(self.at(1), b'{' | b'(' | b'[' | b'_' | b'@' | b'!') =>
                {
                    self.i += 2;
                    self.out
                        .push(Tok::Var(self.slice(start, self.i).to_owned()));
                }
                b'0'..=b'9' => self.number(),
                b'(' | b'[' | b'{' => {
                    depth += 1;
                    self.i += 1;
                    self.out.push(Tok::Punct(match c {
                        b'(' => "(",
                        b'[' => "[",
                        _ => "{",
                    }));
                }
                b')' | b']' | b'}' => {
                    depth = depth.saturating_sub(1);
                    self.i += 1;
                    self.out.push(Tok::Punct(match c {
                        b')' => ")",
                        b']' => "]",
                        _ => "}",
                    }));
                }
                _ if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => self.word(),
                _ => self.punct(),
            }
            if self.i == start {
                self.i += 1;
            }
        }
    }

    /// `[IO.File]::` as the name `IO.File` (a leading `System.` dropped).
    fn ps_type(&mut self) -> bool {
        let rest = self.src.get(self.i + 1..).unwrap_or("");
        let Some(end) = rest.find(']') else {
            return false;
        };
        let name = rest.get(..end).unwrap_or("");
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
            || !rest.get(end + 1..).is_some_and(|r| r.starts_with("::"))
        {
            return false;
        }
        let name = name.strip_prefix("System.").unwrap_or(name).to_owned();
        self.i += 1 + end + 1;
        self.out.push(Tok::Ident(name));
        true
    }

    /// `$name`, `$env:NAME`, `${name}`.
    fn ps_variable(&mut self) {
        let start = self.i;
        self.i += 1;
        if self.at(0) == b'{' {
            let (a, b) = self.skip_delimited_from(b'{');
            let name = self.slice(a, b).to_owned();
            self.out.push(Tok::Var(format!("${name}")));
            return;
        }
        while self.at(0).is_ascii_alphanumeric()
            || self.at(0) == b'_'
            || (self.at(0) == b':' && self.at(1).is_ascii_alphabetic() && self.i > start + 1)
        {
            self.i += 1;
        }
        let name = self.slice(start, self.i).to_owned();
        self.out.push(Tok::Var(name));
    }

    fn skip_delimited_from(&mut self, open: u8) -> (usize, usize) {
        self.i += 1;
        self.skip_delimited(open)
    }

    fn line_comment(&mut self) {
        while self.i < self.s.len() && self.at(0) != b'\n' {
            self.i += 1;
        }
    }

    fn skip_flags(&mut self) {
        while self.at(0).is_ascii_alphabetic() {
            self.i += 1;
        }
    }

    /// Skips to the closing delimiter (escapes honoured; brackets nest).
    fn skip_delimited(&mut self, open: u8) -> (usize, usize) {
        let close = match open {
            b'(' => b')',
            b'[' => b']',
            b'{' => b'}',
            b'<' => b'>',
            x => x,
        };
        let start = self.i;
        let mut level = 0usize;
        while self.i < self.s.len() {
            let c = self.at(0);
            if c == b'\\' {
                self.i += 2;
                continue;
            }
            if c == close && level == 0 {
                let end = self.i;
                self.i += 1;
                return (start, end);
            }
            if open != close {
                if c == open {
                    level += 1;
                } else if c == close {
                    level -= 1;
                }
            }
            self.i += 1;
        }
        (start, self.s.len())
    }

    fn number(&mut self) {
        let start = self.i;
        let (radix, skip) = match (self.at(0), self.at(1) | 0x20) {
            (b'0', b'x') => (16, 2),
            (b'0', b'o') => (8, 2),
            (b'0', b'b') => (2, 2),
            _ => (10, 0),
        };
        self.i += skip;
        let digits_from = self.i;
        while self.at(0).is_ascii_alphanumeric() || self.at(0) == b'_' {
            self.i += 1;
        }
        let digits: String = self
            .slice(digits_from, self.i)
            .chars()
            .filter(|c| *c != '_')
            .collect();
        let n = i64::from_str_radix(&digits, radix).ok();
        // A fraction is not kept.
        if self.at(0) == b'.' && self.at(1).is_ascii_digit() {
            self.i += 1;
            while self.at(0).is_ascii_digit() {
                self.i += 1;
            }
        }
        match n {
            Some(n) => self.out.push(Tok::Num(n)),
            None => self
                .out
                .push(Tok::Ident(self.slice(start, self.i).to_owned())),
        }
    }

    fn word(&mut self) {
        let start = self.i;
        while self.at(0).is_ascii_alphanumeric() || self.at(0) == b'_' || self.at(0) >= 0x80 {
            if self
                .src
                .get(self.i..)
                .is_some_and(|r| r.starts_with('\u{E000}'))
            {
                break;
            }
            self.i += 1;
        }
        if self.i == start {
            // The unknown marker.
            self.i += '\u{E000}'.len_utf8();
            self.out.push(Tok::Unknown);
            return;
        }
        // PowerShell's `Verb-Noun` command names are one word.
        while self.syntax == Syntax::PowerShell
            && self.at(0) == b'-'
            && self.at(1).is_ascii_alphabetic()
            && self.i > start
        {
            self.i += 1;
            while self.at(0).is_ascii_alphanumeric() || self.at(0) == b'_' {
                self.i += 1;
            }
        }
        let w = self.slice(start, self.i).to_owned();
        let next = self.at(0);
        match self.syntax {
            Syntax::Python
                if matches!(next, b'\'' | b'"')
                    && w.len() <= 2
                    && w.chars().all(|c| "rRbBuUfF".contains(c)) =>
            {
                self.string(next, &w.to_ascii_lowercase());
                return;
            }
            Syntax::Perl
                if matches!(
                    w.as_str(),
                    "q" | "qq" | "qw" | "qx" | "m" | "qr" | "s" | "tr" | "y"
                ) && !next.is_ascii_alphanumeric()
                    && !matches!(
                        next,
                        b' ' | b'\t' | b'\n' | b'=' | b',' | b';' | b')' | b'_' | 0
                    )
                    && (next != b'-' || self.at(1) != b'>') =>
            {
                self.i += 1;
                let (a, b) = self.skip_delimited(next);
                match w.as_str() {
                    "s" | "tr" | "y" => {
                        // A second part: with brackets it has its own delimiters.
                        if matches!(next, b'(' | b'[' | b'{' | b'<') {
                            while matches!(self.at(0), b' ' | b'\t' | b'\n') {
                                self.i += 1;
                            }
                            let d = self.at(0);
                            self.i += 1;
                            self.skip_delimited(d);
                        } else {
                            self.skip_delimited(next);
                        }
                        self.skip_flags();
                        self.out.push(Tok::Punct("re"));
                    }
                    "m" | "qr" => {
                        self.skip_flags();
                        self.out.push(Tok::Punct("re"));
                    }
                    _ => {
                        let raw = self.slice(a, b).to_owned();
                        self.out.push(Tok::Str(Lit {
                            raw,
                            raw_escapes: w == "q" || w == "qw",
                            interp: if w == "qq" || w == "qx" {
                                Interp::Sigil
                            } else {
                                Interp::None
                            },
                            shell: w == "qx",
                            words: w == "qw",
                            verbatim: false,
                        }));
                    }
                }
                return;
            }
            _ => {}
        }
        // AppleScript's commands are phrases: `do shell script`, `path to home folder`.
        if self.syntax == Syntax::AppleScript {
            let rest = self.src.get(start..).unwrap_or("");
            let lower = rest
                .get(..rest.len().min(40))
                .unwrap_or("")
                .to_ascii_lowercase();
            for phrase in [
                "do shell script",
                "do script",
                "run script",
                "path to home folder",
                "posix file",
                "posix path of",
                "quoted form of",
            ] {
                if lower.starts_with(phrase)
                    && !lower
                        .as_bytes()
                        .get(phrase.len())
                        .is_some_and(|c| c.is_ascii_alphanumeric())
                {
                    self.i = start + phrase.len();
                    self.out.push(Tok::Ident(phrase.replace(' ', "_")));
                    return;
                }
            }
        }
        // `File::Path::rmtree`, `Zlib::Inflate` as dotted names.
        if self.at(0) == b':' && self.at(1) == b':' && self.syntax != Syntax::Python {
            self.out.push(Tok::Ident(w));
            self.out.push(Tok::Punct("."));
            self.i += 2;
            return;
        }
        self.out.push(Tok::Ident(w));
    }

    fn ruby_percent(&mut self) -> bool {
        let (kind, d) = match (self.at(1), self.at(2)) {
            (k @ (b'q' | b'Q' | b'w' | b'W' | b'x' | b'i' | b'I'), d)
                if !d.is_ascii_alphanumeric() && d != b' ' && d != 0 =>
            {
                (k, d)
            }
            (d @ (b'(' | b'[' | b'{' | b'<' | b'|' | b'!'), _) => (b'Q', d),
            _ => return false,
        };
        self.i += if kind == b'Q' && self.at(1) == d {
            2
        } else {
            3
        };
        let (a, b) = self.skip_delimited(d);
        let raw = self.slice(a, b).to_owned();
        self.out.push(Tok::Str(Lit {
            raw,
            raw_escapes: matches!(kind, b'q' | b'w' | b'i'),
            interp: if matches!(kind, b'Q' | b'W' | b'x' | b'I') {
                Interp::Hash
            } else {
                Interp::None
            },
            shell: kind == b'x',
            words: matches!(kind, b'w' | b'W' | b'i' | b'I'),
            verbatim: false,
        }));
        true
    }

    /// A quoted string starting at the quote `q`, with Python prefixes `prefix`.
    fn string(&mut self, q: u8, prefix: &str) {
        if self.syntax == Syntax::PowerShell {
            self.ps_string(q);
            return;
        }
        let triple = self.syntax == Syntax::Python && self.at(1) == q && self.at(2) == q;
        self.i += if triple { 3 } else { 1 };
        let start = self.i;
        let mut end = self.s.len();
        // `"#{ENV["HOME"]}"`, `` `${f("x")}` ``: an interpolation may hold its own quotes.
        let nests = match (self.syntax, q) {
            (Syntax::Ruby, b'"' | b'`') => Some(b'#'),
            (Syntax::JavaScript, b'`') => Some(b'$'),
            (Syntax::Python, _) if prefix.contains('f') => Some(b'{'),
            _ => None,
        };
        while self.i < self.s.len() {
            let c = self.at(0);
            if c == b'\\' {
                self.i += 2;
                continue;
            }
            if let Some(m) = nests {
                let opens = if m == b'{' {
                    c == b'{' && self.at(1) != b'{'
                } else {
                    c == m && self.at(1) == b'{'
                };
                if opens {
                    self.i += if m == b'{' { 1 } else { 2 };
                    self.skip_delimited(b'{');
                    continue;
                }
            }
            if c == q && (!triple || (self.at(1) == q && self.at(2) == q)) {
                end = self.i;
                self.i += if triple { 3 } else { 1 };
                break;
            }
            self.i += 1;
        }
        let raw = self.slice(start, end.min(self.s.len())).to_owned();
        let (interp, raw_escapes, shell) = match (self.syntax, q) {
            (Syntax::Python, _) => (
                if prefix.contains('f') {
                    Interp::Brace
                } else {
                    Interp::None
                },
                prefix.contains('r'),
                false,
            ),
            (Syntax::JavaScript, b'`') => (Interp::DollarBrace, false, false),
            (Syntax::JavaScript, _) => (Interp::None, false, false),
            (Syntax::Awk | Syntax::AppleScript, _) => (Interp::None, false, false),
            (Syntax::Ruby, b'\'') => (Interp::None, true, false),
            (Syntax::Ruby, _) => (Interp::Hash, false, q == b'`'),
            (_, b'\'') => (Interp::None, true, false),
            (_, _) => (Interp::Sigil, false, q == b'`'),
        };
        self.out.push(Tok::Str(Lit {
            raw,
            raw_escapes,
            interp,
            shell,
            words: false,
            verbatim: false,
        }));
    }

    /// PowerShell strings: `'…'` with `''` for a quote; `"…"` with backtick escapes,
    /// `""` for a quote, `$var` and `$(…)`; backticks themselves are not strings.
    fn ps_string(&mut self, q: u8) {
        if q == b'`' {
            self.i += 1;
            self.out.push(Tok::Punct("?"));
            return;
        }
        self.i += 1;
        let mut text = String::new();
        while self.i < self.s.len() {
            let c = self.at(0);
            if c == q && self.at(1) == q {
                text.push(q as char);
                self.i += 2;
                continue;
            }
            if c == q {
                self.i += 1;
                break;
            }
            if q == b'"' && c == b'`' {
                let Some(n) = self.src.get(self.i + 1..).and_then(|r| r.chars().next()) else {
                    self.i += 1;
                    continue;
                };
                text.push(pwsh::backtick(n));
                self.i += 1 + n.len_utf8();
                continue;
            }
            if q == b'"' && c == b'$' && self.at(1) == b'(' {
                // A sub-expression may hold its own quotes.
                let from = self.i;
                self.i += 2;
                self.skip_delimited(b'(');
                text.push_str(self.slice(from, self.i));
                continue;
            }
            let ch = self
                .src
                .get(self.i..)
                .and_then(|r| r.chars().next())
                .unwrap_or(' ');
            text.push(ch);
            self.i += ch.len_utf8();
        }
        self.out.push(Tok::Str(Lit {
            raw: text,
            raw_escapes: true,
            interp: if q == b'"' {
                Interp::Sigil
            } else {
                Interp::None
            },
            shell: false,
            words: false,
            verbatim: true,
        }));
    }

    fn punct(&mut self) {
        let rest = self.src.get(self.i..).unwrap_or("");
        // `->` is member access in Perl and PHP, a lambda arrow elsewhere.
        if rest.starts_with("->") {
            self.i += 2;
            self.out.push(Tok::Punct(
                if matches!(self.syntax, Syntax::Perl | Syntax::Php) {
                    "."
                } else {
                    "=>"
                },
            ));
            return;
        }
        if rest.starts_with("::") {
            self.i += 2;
            if self.syntax == Syntax::Python {
                // Only slices (`[::-1]`) write it.
                self.out.push(Tok::Punct(":"));
                self.out.push(Tok::Punct(":"));
            } else {
                self.out.push(Tok::Punct("."));
            }
            return;
        }
        let first = rest.as_bytes().first().copied().unwrap_or(0);
        for p in PUNCT
            .iter()
            .filter(|p| p.as_bytes().first() == Some(&first))
        {
            if rest.starts_with(p) {
                self.i += p.len();
                let tok = match (*p, self.syntax) {
                    ("." | ".=", Syntax::Perl | Syntax::Php) => {
                        if *p == "." {
                            "~"
                        } else {
                            "~="
                        }
                    }
                    ("?.", _) => ".",
                    _ => p,
                };
                self.out.push(Tok::Punct(tok));
                return;
            }
        }
        self.i += rest.chars().next().map_or(1, char::len_utf8);
        self.out.push(Tok::Punct("?"));
    }
}

/// Applies backslash escapes (`\n`, `\xNN`, `\u{…}`, `\uNNNN`, octal); with `raw`, only `\\`
/// and an escaped quote.
pub fn unescape(s: &str, raw: bool) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(n) = it.next() else {
            out.push('\\');
            break;
        };
        if raw {
            if !matches!(n, '\\' | '\'' | '"') {
                out.push('\\');
            }
            out.push(n);
            continue;
        }
        match n {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'a' => out.push('\x07'),
            'e' => out.push('\x1b'),
            'x' => {
                let mut v = 0u32;
                let mut k = 0;
                let braced = it.peek() == Some(&'{');
                if braced {
                    it.next();
                }
                while let Some(d) = it.peek().and_then(|d| d.to_digit(16)) {
                    if !braced && k == 2 {
                        break;
                    }
                    v = v.saturating_mul(16).saturating_add(d);
                    k += 1;
                    it.next();
                }
                if braced && it.peek() == Some(&'}') {
                    it.next();
                }
                out.push(char::from_u32(v).unwrap_or('\u{FFFD}'));
            }
            'u' => {
                let mut v = 0u32;
                if it.peek() == Some(&'{') {
                    it.next();
                    while let Some(d) = it.peek().and_then(|d| d.to_digit(16)) {
                        v = v.saturating_mul(16).saturating_add(d);
                        it.next();
                    }
                    if it.peek() == Some(&'}') {
                        it.next();
                    }
                } else {
                    for _ in 0..4 {
                        if let Some(d) = it.peek().and_then(|d| d.to_digit(16)) {
                            v = v * 16 + d;
                            it.next();
                        }
                    }
                }
                out.push(char::from_u32(v).unwrap_or('\u{FFFD}'));
            }
            '0'..='7' => {
                let mut v = n.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    if let Some(d) = it.peek().and_then(|d| d.to_digit(8)) {
                        v = v * 8 + d;
                        it.next();
                    }
                }
                out.push(char::from_u32(v).unwrap_or('\u{FFFD}'));
            }
            '\n' => {}
            other => out.push(other),
        }
    }
    out
}

/// PowerShell's bracketed groups and escapes, which the PowerShell reader of commands
/// (`shell/pwsh.rs`) and the PowerShell syntax of this lexer share.
pub(crate) mod pwsh {
    fn at(b: &[u8], i: usize) -> u8 {
        b.get(i).copied().unwrap_or(0)
    }

    /// The bracketed group opening at `open`: (end of its inside, index after it), quotes and
    /// nested groups skipped; an unclosed group runs to the end.
    pub(crate) fn group(b: &[u8], open: usize) -> (usize, usize) {
        let after = skip_group(b, open);
        let closed = after <= b.len()
            && after > open + 1
            && matches!(b.get(after - 1), Some(b')' | b'}' | b']'));
        (if closed { after - 1 } else { after }, after)
    }

    /// Skips a quoted string or bracketed group starting at `i`; returns the index after it.
    pub(crate) fn skip_group(b: &[u8], i: usize) -> usize {
        let c = at(b, i);
        match c {
            b'\'' => {
                let mut j = i + 1;
                while j < b.len() {
                    if at(b, j) == b'\'' {
                        if at(b, j + 1) == b'\'' {
                            j += 2;
                            continue;
                        }
                        return j + 1;
                    }
                    j += 1;
                }
                b.len()
            }
            b'"' => {
                let mut j = i + 1;
                while j < b.len() {
                    match at(b, j) {
                        b'`' => j += 2,
                        b'"' if at(b, j + 1) == b'"' => j += 2,
                        b'"' => return j + 1,
                        b'$' if at(b, j + 1) == b'(' => j = skip_group(b, j + 1),
                        _ => j += 1,
                    }
                }
                b.len()
            }
            b'(' | b'{' | b'[' => {
                let close = match c {
                    b'(' => b')',
                    b'{' => b'}',
                    _ => b']',
                };
                let mut j = i + 1;
                while j < b.len() {
                    match at(b, j) {
                        x if x == close => return j + 1,
                        b'\'' | b'"' | b'(' | b'{' | b'[' => j = skip_group(b, j),
                        b'`' => j += 2,
                        b'#' if at(b, j.wrapping_sub(1)).is_ascii_whitespace() => {
                            while j < b.len() && at(b, j) != b'\n' {
                                j += 1;
                            }
                        }
                        _ => j += 1,
                    }
                }
                b.len()
            }
            _ => i + 1,
        }
    }

    /// A character after PowerShell's escape character (`` `n `` is a line feed).
    pub(crate) fn backtick(c: char) -> char {
        match c {
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            '0' => '\0',
            'a' => '\x07',
            'e' => '\x1b',
            other => other,
        }
    }
}
