//! A bash parser made for static analysis: one pass over the bytes, no backtracking, nesting
//! bounded by [`MAX_DEPTH`]. It keeps what decides what a command touches (words and their
//! quoting, expansions, redirects, here-documents, substitutions, function definitions) and
//! flattens control flow: every branch of an `if`, `case` or loop is a command that may run.
//!
//! Anything it does not understand is an error, which the engine turns into a block.

use smallvec::SmallVec;
use std::borrow::Cow;
use std::fmt;

/// Deepest nesting of substitutions, subshells and groups before the parser gives up.
pub const MAX_DEPTH: usize = 48;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub offset: usize,
    pub what: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.what, self.offset)
    }
}

/// A list of commands in the order they appear.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Script<'a> {
    /// Pipelines, whether joined by `;`, `&`, `&&` or `||`: the analysis assumes every one
    /// may run.
    pub items: Vec<Pipeline<'a>>,
}

/// Commands joined by `|`.
pub type Pipeline<'a> = Vec<Command<'a>>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command<'a> {
    Simple(Simple<'a>),
    /// `( ... )`, `{ ...; }`, and the bodies of `if`/loops/`case`.
    Group {
        body: Script<'a>,
        subshell: bool,
        redirects: Vec<Redirect<'a>>,
    },
    /// `for NAME in WORDS; do BODY; done`.
    For {
        var: String,
        words: Vec<Word<'a>>,
        body: Script<'a>,
    },
    /// `name() BODY` or `function name BODY`.
    Function {
        name: String,
        body: Script<'a>,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Simple<'a> {
    pub assigns: Vec<(String, Word<'a>)>,
    pub words: Vec<Word<'a>>,
    pub redirects: Vec<Redirect<'a>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect<'a> {
    pub op: RedirOp,
    pub target: Word<'a>,
    /// `>>`, `&>>`: the output is appended.
    pub append: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirOp {
    /// `<`
    Read,
    /// `>`, `>>`, `>|`, `&>`, `&>>`
    Write,
    /// `<>`
    ReadWrite,
    /// `<&N`, `>&N`: duplicates a descriptor (a word that is not a number is a file).
    Dup,
    /// `<<` / `<<-`: the target is the body.
    HereDoc,
    /// `<<<`
    HereString,
}

/// A word: the concatenation of its parts. Most words are one part, kept inline.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Word<'a> {
    pub parts: SmallVec<[Part<'a>; 1]>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part<'a> {
    /// Literal text; `quoted` text is never a glob. Borrowed from the source where it is a
    /// run of it (most words), so parsing copies little.
    Lit { text: Cow<'a, str>, quoted: bool },
    /// Literal text that came from `$'...'` escapes such as `\x63` (a sign of obfuscation).
    Escaped(String),
    /// A `~` or `~user` prefix.
    Tilde(String),
    /// `$NAME`, `${NAME}` and `${NAME op word}`.
    Param {
        name: String,
        op: ParamOp,
        arg: Option<Box<Word<'a>>>,
        /// The second operand (`${x/pat/REP}`, `${x:off:LEN}`).
        rep: Option<Box<Word<'a>>>,
        /// Inside double quotes: not split into words (`"$@"` still makes one per argument).
        quoted: bool,
    },
    /// `$(...)` or backticks; whether inside double quotes (then not split into words).
    Subst(Box<Script<'a>>, bool),
    /// `<(...)` or `>(...)`: a file name for a pipe from or to the inner script; whether
    /// `>(...)` (what the command writes there is the script's input).
    ProcSubst(Box<Script<'a>>, bool),
    /// `$((...))` and other values the analyser cannot know.
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamOp {
    Plain,
    /// `:-`, `-`, `:=`, `=`: the value, or the word when unset (or empty, with `:`).
    Default,
    /// `:+`, `+`: the word when set, else nothing.
    Alt,
    /// `:?`, `?`: the value (the shell stops when it is unset).
    Check,
    /// `#`, `##`: strip the shortest or longest prefix matching the pattern.
    StripPrefix {
        longest: bool,
    },
    /// `%`, `%%`: the same at the end.
    StripSuffix {
        longest: bool,
    },
    /// `/pat/rep` (first), `//` (all), `/#` (at the start), `/%` (at the end): `arg` is the
    /// pattern, `rep` the replacement.
    Replace(Anchor),
    /// `:offset` and `:offset:length`: `arg` is the offset, `rep` the length.
    Substring,
    /// `^`, `^^`, `,`, `,,`: the first or every character upper- or lower-cased.
    Case {
        upper: bool,
        all: bool,
    },
    /// `${#name}`: the length.
    Length,
    /// `${!name}`: the value of the variable `name` names.
    Indirect,
    /// `${a[@]}`, `${a[*]}`: every element of an array, one word each.
    All,
    /// `${x@E}` (escapes expanded), `${x@U}`, `${x@u}`, `${x@L}`, `${x@Q}`…: the letter.
    Transform(u8),
    /// Anything else (`${!prefix*}`, `@Q`, `~`): not worked out.
    Other,
}

/// Where `${name/pat/rep}` replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    First,
    All,
    Start,
    End,
}

impl Word<'_> {
    /// The word's text when it is entirely literal.
    pub fn literal(&self) -> Option<String> {
        let mut s = String::new();
        for p in &self.parts {
            match p {
                Part::Lit { text, .. } => s.push_str(text),
                Part::Escaped(text) => s.push_str(text),
                _ => return None,
            }
        }
        Some(s)
    }
}

/// Parses a whole script.
pub fn parse(src: &str) -> Result<Script<'_>, ParseError> {
    let mut p = Parser {
        s: src.as_bytes(),
        src,
        i: 0,
        depth: 0,
        pending: Vec::new(),
        quoted: false,
    };
    let script = p.list(Stop::Eof)?;
    p.skip_blank();
    if p.i < p.s.len() {
        return Err(p.err("unexpected text"));
    }
    if !p.pending.is_empty() {
        return Err(p.err("here-document without a body"));
    }
    Ok(script)
}

/// What ends the list being parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Eof,
    /// `)` of a subshell or `$(`.
    Paren,
}

/// A here-document whose body is still to come.
struct PendingDoc {
    delim: String,
    quoted: bool,
    strip_tabs: bool,
}

struct Parser<'a> {
    s: &'a [u8],
    src: &'a str,
    i: usize,
    depth: usize,
    /// Here-documents opened on the current line, in order; their bodies follow the newline.
    pending: Vec<PendingDoc>,
    /// Inside double quotes: expansions made here are not split into words.
    quoted: bool,
}

/// Words that end or continue control structures: skipped at command position, because the
/// analysis treats every branch as a command that may run.
const CONTROL: &[&str] = &[
    "if", "then", "elif", "else", "fi", "while", "until", "do", "done", "esac", "{", "}", "!",
    "time", "coproc",
];

/// Bytes that need no interpretation in an unquoted word (one table lookup per byte).
#[expect(
    clippy::indexing_slicing,
    reason = "the index is below 256, checked by the loop"
)]
static PLAIN: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'_' | b'.' | b'/' | b',' | b':' | b'=' | b'%' | b'^'
            );
        b += 1;
    }
    t
};

fn is_meta(b: u8) -> bool {
    matches!(
        b,
        b' ' | b'\t' | b'\n' | b';' | b'&' | b'|' | b'<' | b'>' | b'(' | b')'
    )
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_name(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl<'a> Parser<'a> {
    fn err(&self, what: &str) -> ParseError {
        ParseError {
            offset: self.i,
            what: what.to_owned(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn peek_at(&self, k: usize) -> Option<u8> {
        self.s.get(self.i + k).copied()
    }

    fn starts(&self, lit: &str) -> bool {
        self.s
            .get(self.i..)
            .is_some_and(|r| r.starts_with(lit.as_bytes()))
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        Ok(())
    }

    /// Spaces, tabs, line continuations and comments (not newlines).
    fn skip_blank(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\r' => self.i += 1,
                b'\\' if self.peek_at(1) == Some(b'\n') => self.i += 2,
                b'#' => {
                    while self.peek().is_some_and(|c| c != b'\n') {
                        self.i += 1;
                    }
                }
                _ => break,
            }
        }
    }

    /// A newline: reads the bodies of here-documents opened on the line that ends.
    fn newline(&mut self, script: &mut Script<'a>) -> Result<(), ParseError> {
        self.i += 1;
        if self.pending.is_empty() {
            return Ok(());
        }
        let docs = std::mem::take(&mut self.pending);
        for doc in docs {
            let body = self.heredoc_body(&doc)?;
            attach_heredoc(script, body);
        }
        Ok(())
    }

    fn heredoc_body(&mut self, doc: &PendingDoc) -> Result<Word<'a>, ParseError> {
        let mut text = String::new();
        loop {
            if self.i >= self.s.len() {
                // bash accepts a missing delimiter at end of input, with a warning.
                break;
            }
            let end = self
                .s
                .get(self.i..)
                .and_then(|r| r.iter().position(|&b| b == b'\n'))
                .map_or(self.s.len(), |k| self.i + k);
            let line = self.src.get(self.i..end).unwrap_or("");
            self.i = (end + 1).min(self.s.len());
            let line = if doc.strip_tabs {
                line.trim_start_matches('\t')
            } else {
                line
            };
            if line == doc.delim {
                break;
            }
            text.push_str(line);
            text.push('\n');
        }
        if doc.quoted {
            return Ok(Word {
                parts: smallvec::smallvec![Part::Lit {
                    text: Cow::Owned(text),
                    quoted: true
                }],
            });
        }
        // Unquoted bodies expand `$`, backticks and backslashes, like double quotes.
        let mut sub = Parser {
            s: text.as_bytes(),
            src: &text,
            i: 0,
            depth: self.depth,
            pending: Vec::new(),
            quoted: false,
        };
        let mut w = Word::default();
        sub.dquoted_body(&mut w, None)?;
        Ok(w.into_owned())
    }

    fn list(&mut self, stop: Stop) -> Result<Script<'a>, ParseError> {
        let mut script = Script::default();
        loop {
            self.skip_blank();
            if self.separator(&mut script)? {
                continue;
            }
            match self.peek() {
                None if stop == Stop::Eof => return Ok(script),
                None => return Err(self.err("unexpected end of input: missing `)`")),
                Some(b')') if stop == Stop::Paren => {
                    self.i += 1;
                    return Ok(script);
                }
                Some(b')') => return Err(self.err("unexpected `)`")),
                Some(b'&' | b'|') => return Err(self.err("unexpected operator")),
                _ => {}
            }
            self.statement(stop, &mut script)?;
        }
    }

    /// A newline (with the here-document bodies it releases) or a run of `;` (`;;`, `;&` and
    /// `;;&` end case branches): consumed, `true`.
    fn separator(&mut self, script: &mut Script<'a>) -> Result<bool, ParseError> {
        match self.peek() {
            Some(b'\n') => {
                self.newline(script)?;
                Ok(true)
            }
            Some(b';') => {
                self.i += 1;
                while matches!(self.peek(), Some(b';' | b'&')) {
                    self.i += 1;
                }
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// One pipeline into `script`, and the `&&`, `||` or `&` that follows it.
    fn statement(&mut self, stop: Stop, script: &mut Script<'a>) -> Result<(), ParseError> {
        let pipeline = self.pipeline(stop)?;
        if !pipeline.is_empty() {
            script.items.push(pipeline);
        }
        self.skip_blank();
        match (self.peek(), self.peek_at(1)) {
            (Some(b'&'), Some(b'&')) | (Some(b'|'), Some(b'|')) => {
                self.i += 2;
                self.skip_newlines(script)
            }
            (Some(b'&'), _) => {
                self.i += 1;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn skip_newlines(&mut self, script: &mut Script<'a>) -> Result<(), ParseError> {
        loop {
            self.skip_blank();
            if self.peek() == Some(b'\n') {
                self.newline(script)?;
            } else {
                return Ok(());
            }
        }
    }

    fn pipeline(&mut self, stop: Stop) -> Result<Vec<Command<'a>>, ParseError> {
        let mut cmds = Vec::new();
        loop {
            if let Some(c) = self.command(stop)? {
                cmds.push(c);
            }
            self.skip_blank();
            match (self.peek(), self.peek_at(1)) {
                (Some(b'|'), Some(b'|')) => return Ok(cmds),
                (Some(b'|'), Some(b'&')) => self.i += 2,
                (Some(b'|'), _) => self.i += 1,
                _ => return Ok(cmds),
            }
            let mut dummy = Script::default();
            self.skip_newlines(&mut dummy)?;
            cmds.extend(dummy.items.into_iter().flatten());
        }
    }

    /// One command; `None` for a bare control word such as `fi`.
    fn command(&mut self, stop: Stop) -> Result<Option<Command<'a>>, ParseError> {
        self.skip_blank();
        match self.peek() {
            Some(b'(') if self.peek_at(1) == Some(b'(') => {
                // Arithmetic command `(( ... ))`: no files, no commands (except substitutions,
                // which are rare here and rejected below).
                self.arith_block(b'(', b')')?;
                return Ok(None);
            }
            Some(b'(') => {
                self.enter()?;
                self.i += 1;
                let body = self.list(Stop::Paren)?;
                self.depth -= 1;
                let redirects = self.trailing_redirects()?;
                return Ok(Some(Command::Group {
                    body,
                    subshell: true,
                    redirects,
                }));
            }
            _ => {}
        }
        // Most commands have a few words: one allocation instead of growing 1, 2, 4.
        let mut simple = Simple {
            words: Vec::with_capacity(4),
            ..Simple::default()
        };
        let mut first = true;
        loop {
            self.skip_blank();
            let Some(b) = self.peek() else { break };
            if matches!(b, b'\n' | b';' | b'&' | b'|' | b')') && !self.is_redirect_start() {
                if b == b')' && stop != Stop::Paren && first {
                    return Err(self.err("unexpected `)`"));
                }
                break;
            }
            if let Some(r) = self.redirect()? {
                simple.redirects.push(r);
                continue;
            }
            if b == b'(' {
                // `a=(x y)`, `declare -a a=(x y)`: an array. Each element is one value the
                // variable may hold.
                let after_eq = self.i > 0 && self.s.get(self.i - 1) == Some(&b'=');
                let array_word = simple
                    .words
                    .last()
                    .and_then(Word::literal)
                    .filter(|t| t.ends_with('='));
                if after_eq && (array_word.is_some() || simple.assigns.last().is_some()) {
                    self.i += 1;
                    let mut elems = Vec::new();
                    loop {
                        self.skip_blank();
                        match self.peek() {
                            None => return Err(self.err("unterminated array `(`")),
                            Some(b')') => {
                                self.i += 1;
                                break;
                            }
                            Some(b'\n') => self.i += 1,
                            Some(b'#') => {
                                while self.peek().is_some_and(|c| c != b'\n') {
                                    self.i += 1;
                                }
                            }
                            Some(c) => {
                                let at = self.i;
                                let w = self.word()?;
                                if self.i == at {
                                    // `a=(x;y)`: an operator where a value belongs.
                                    return Err(self.err(&format!(
                                        "unexpected `{}` in an array",
                                        char::from(c)
                                    )));
                                }
                                elems.push(w);
                            }
                        }
                    }
                    if let Some(prefix) = array_word {
                        simple.words.pop();
                        for e in elems {
                            let mut w = Word::default();
                            push_lit(&mut w, Cow::Owned(prefix.clone()), true);
                            w.parts.extend(e.parts);
                            simple.words.push(w);
                        }
                    } else if let Some((name, _)) = simple.assigns.pop() {
                        for e in elems {
                            simple.assigns.push((name.clone(), e));
                        }
                    }
                    continue;
                }
                if first && simple.words.is_empty() {
                    break;
                }
                // `name() { ...; }`
                if simple.words.len() == 1 && self.peek_at(1) == Some(b')') {
                    self.i += 2;
                    let name = simple
                        .words
                        .pop()
                        .and_then(|w| w.literal())
                        .ok_or_else(|| self.err("function name is not literal"))?;
                    let body = self.function_body()?;
                    return Ok(Some(Command::Function { name, body }));
                }
                return Err(self.err("unexpected `(`"));
            }
            let start = self.i;
            let word = self.word()?;
            let text = self.src.get(start..self.i).unwrap_or("");
            if simple.words.is_empty() {
                if let Some(c) = self.command_position(text, &simple)? {
                    return Ok(Some(c));
                }
                if CONTROL.contains(&text) || text.is_empty() {
                    first = false;
                    continue;
                }
                if let Some((name, value)) = split_assignment(&word) {
                    simple.assigns.push((name, value));
                    continue;
                }
                if text == "[[" {
                    // A conditional is a command of its own words: its substitutions run
                    // and the names it tests are looked at (`[[ -f $(cmd) ]]`).
                    simple.words.push(word);
                    let words = self.test_block()?;
                    simple.words.extend(words);
                    first = false;
                    continue;
                }
            }
            first = false;
            simple.words.push(word);
        }
        if simple.words.is_empty() && simple.assigns.is_empty() && simple.redirects.is_empty() {
            return Ok(None);
        }
        Ok(Some(Command::Simple(simple)))
    }

    /// Keywords that start structured commands.
    fn command_position(
        &mut self,
        text: &str,
        simple: &Simple<'a>,
    ) -> Result<Option<Command<'a>>, ParseError> {
        if !simple.assigns.is_empty() || !simple.redirects.is_empty() {
            return Ok(None);
        }
        match text {
            "for" | "select" => self.for_loop().map(Some),
            "case" => self.case().map(Some),
            "function" => {
                self.skip_blank();
                let w = self.word()?;
                let name = w
                    .literal()
                    .ok_or_else(|| self.err("function name is not literal"))?;
                self.skip_blank();
                if self.starts("()") {
                    self.i += 2;
                }
                let body = self.function_body()?;
                Ok(Some(Command::Function { name, body }))
            }
            _ => Ok(None),
        }
    }

    /// A function's body: `{ ...; }`, `( ... )` or another compound command.
    fn function_body(&mut self) -> Result<Script<'a>, ParseError> {
        let mut body = Script::default();
        self.skip_newlines(&mut body)?;
        self.enter()?;
        if self.src.get(self.i..self.word_end()) == Some("{") {
            self.i += 1;
            let inner = self.until_word("}")?;
            body.items.extend(inner.items);
        } else if let Some(c) = self.command(Stop::Eof)? {
            body.items.push(vec![c]);
        }
        self.depth -= 1;
        Ok(body)
    }

    /// Statements up to a control word `end` at command position (nesting counted).
    fn until_word(&mut self, end: &str) -> Result<Script<'a>, ParseError> {
        let mut script = Script::default();
        let mut level = 0usize;
        loop {
            self.skip_blank();
            if self.separator(&mut script)? {
                continue;
            }
            if self.peek().is_none() {
                return Err(self.err(&format!("unexpected end of input: missing `{end}`")));
            }
            let word_end = self.word_end();
            let next = self.src.get(self.i..word_end).unwrap_or("");
            if next == end {
                if level == 0 {
                    self.i = word_end;
                    return Ok(script);
                }
                level -= 1;
            } else if next == "{" {
                level += 1;
            }
            self.statement(Stop::Eof, &mut script)?;
        }
    }

    /// End of a plain (unquoted, metacharacter-free) word starting here.
    fn word_end(&self) -> usize {
        let mut k = self.i;
        while let Some(&b) = self.s.get(k) {
            if is_meta(b) || b == b'\r' {
                break;
            }
            k += 1;
        }
        k
    }

    fn for_loop(&mut self) -> Result<Command<'a>, ParseError> {
        self.skip_blank();
        if self.starts("((") {
            // C-style `for ((...))`: no bound word.
            self.arith_block(b'(', b')')?;
            return Ok(Command::For {
                var: String::new(),
                words: Vec::new(),
                body: Script::default(),
            });
        }
        let var = self
            .word()?
            .literal()
            .ok_or_else(|| self.err("loop variable is not a name"))?;
        let mut words = Vec::new();
        self.skip_blank();
        let mut holder = Script::default();
        self.skip_newlines(&mut holder)?;
        if self.src.get(self.i..self.word_end()) == Some("do") {
            // `for x do ...`: loops over the positional parameters.
        } else if self.src.get(self.i..self.word_end()) == Some("in") {
            self.i += 2;
            loop {
                self.skip_blank();
                match self.peek() {
                    None | Some(b'\n' | b';') => break,
                    _ => {
                        let start = self.i;
                        let w = self.word()?;
                        // An operator (`>`, `|`, `(`) is not a word and cannot be in the list.
                        if self.i == start {
                            return Err(self.err("unexpected operator in a `for` word list"));
                        }
                        words.push(w);
                    }
                }
            }
        }
        Ok(Command::For {
            var,
            words,
            body: Script::default(),
        })
    }

    fn case(&mut self) -> Result<Command<'a>, ParseError> {
        self.skip_blank();
        let subject = self.word()?;
        let mut script = Script::default();
        self.skip_newlines(&mut script)?;
        if self.src.get(self.i..self.word_end()) != Some("in") {
            return Err(self.err("expected `in` after `case WORD`"));
        }
        self.i += 2;
        let mut body = Script::default();
        // The subject is expanded (substitutions in it run).
        body.items.push(vec![Command::Simple(Simple {
            assigns: Vec::new(),
            words: vec![
                Word {
                    parts: smallvec::smallvec![Part::Lit {
                        text: Cow::Borrowed(":"),
                        quoted: false,
                    }],
                },
                subject,
            ],
            redirects: Vec::new(),
        })]);
        loop {
            self.skip_newlines(&mut body)?;
            if self.src.get(self.i..self.word_end()) == Some("esac") {
                self.i += 4;
                return Ok(Command::Group {
                    body,
                    subshell: false,
                    redirects: Vec::new(),
                });
            }
            if self.peek().is_none() {
                return Err(self.err("unexpected end of input: missing `esac`"));
            }
            // Patterns: `(a|b)` or `a|b)`.
            if self.peek() == Some(b'(') {
                self.i += 1;
            }
            loop {
                self.skip_blank();
                self.word()?;
                self.skip_blank();
                match self.peek() {
                    Some(b'|') => self.i += 1,
                    Some(b')') => {
                        self.i += 1;
                        break;
                    }
                    _ => return Err(self.err("expected `)` after a case pattern")),
                }
            }
            // Branch body: statements until `;;` or `esac`.
            loop {
                self.skip_blank();
                match self.peek() {
                    None => return Err(self.err("unexpected end of input: missing `esac`")),
                    Some(b'\n') => {
                        self.newline(&mut body)?;
                        continue;
                    }
                    Some(b';') if matches!(self.peek_at(1), Some(b';' | b'&')) => {
                        self.i += 2;
                        if self.peek() == Some(b'&') {
                            self.i += 1;
                        }
                        break;
                    }
                    Some(b';') => {
                        self.i += 1;
                        continue;
                    }
                    _ => {}
                }
                if self.src.get(self.i..self.word_end()) == Some("esac") {
                    break;
                }
                self.statement(Stop::Eof, &mut body)?;
            }
        }
    }

    /// The words of a `[[ … ]]` conditional up to its `]]`; operators inside are not
    /// separators and are dropped.
    fn test_block(&mut self) -> Result<Vec<Word<'a>>, ParseError> {
        let mut words = Vec::new();
        loop {
            self.skip_blank();
            match self.peek() {
                None => return Err(self.err("unexpected end of input: missing `]]`")),
                Some(b'\n') => self.i += 1,
                Some(b'&' | b'|' | b'<' | b'>' | b'(' | b')' | b'!') => self.i += 1,
                _ => {
                    let start = self.i;
                    let w = self.word()?;
                    if self.src.get(start..self.i) == Some("]]") {
                        return Ok(words);
                    }
                    if self.i > start {
                        words.push(w);
                    }
                    if self.i == start {
                        self.i += 1;
                    }
                }
            }
        }
    }

    /// Skips `((...))` or `$((...))` contents with nesting; substitutions inside are rejected.
    fn arith_block(&mut self, open: u8, close: u8) -> Result<(), ParseError> {
        let mut level = 0usize;
        while let Some(b) = self.peek() {
            self.i += 1;
            if b == open {
                level += 1;
            } else if b == close {
                level = level.saturating_sub(1);
                if level == 0 {
                    return Ok(());
                }
            } else if b == b'`'
                || (b == b'$' && self.peek() == Some(b'(') && self.peek_at(1) != Some(b'('))
            {
                return Err(self.err("command substitution inside arithmetic"));
            }
        }
        Err(self.err("unexpected end of input: unterminated arithmetic"))
    }

    fn is_redirect_start(&self) -> bool {
        let mut k = self.i;
        while self.s.get(k).is_some_and(u8::is_ascii_digit) {
            k += 1;
        }
        match self.s.get(k) {
            Some(b'<' | b'>') => true,
            Some(b'&') => k == self.i && self.s.get(k + 1) == Some(&b'>'),
            _ => false,
        }
    }

    fn trailing_redirects(&mut self) -> Result<Vec<Redirect<'a>>, ParseError> {
        let mut out = Vec::new();
        loop {
            self.skip_blank();
            match self.redirect()? {
                Some(r) => out.push(r),
                None => return Ok(out),
            }
        }
    }

    fn redirect(&mut self) -> Result<Option<Redirect<'a>>, ParseError> {
        if !self.is_redirect_start() {
            return Ok(None);
        }
        // Process substitution `<(...)` is a word, not a redirect.
        if self.peek() == Some(b'<') && self.peek_at(1) == Some(b'(') {
            return Ok(None);
        }
        if self.peek() == Some(b'>') && self.peek_at(1) == Some(b'(') {
            return Ok(None);
        }
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.i += 1;
        }
        let append = self.starts("&>>") || self.starts(">>");
        let op = if self.starts("&>>") {
            self.i += 3;
            RedirOp::Write
        } else if self.starts("&>") {
            self.i += 2;
            RedirOp::Write
        } else if self.starts("<<<") {
            self.i += 3;
            RedirOp::HereString
        } else if self.starts("<<") {
            self.i += 2;
            let strip_tabs = self.peek() == Some(b'-');
            if strip_tabs {
                self.i += 1;
            }
            self.skip_blank();
            let start = self.i;
            let w = self.word()?;
            let raw = self.src.get(start..self.i).unwrap_or("");
            if raw.is_empty() {
                return Err(self.err("here-document without a delimiter"));
            }
            let quoted = raw.contains(['\'', '"', '\\']);
            let delim = unquote_delim(&w);
            let r = Redirect {
                op: RedirOp::HereDoc,
                target: Word::default(),
                append: false,
            };
            self.pending.push(PendingDoc {
                delim,
                quoted,
                strip_tabs,
            });
            return Ok(Some(r));
        } else if self.starts(">>") || self.starts(">|") {
            self.i += 2;
            RedirOp::Write
        } else if self.starts(">&") || self.starts("<&") {
            self.i += 2;
            RedirOp::Dup
        } else if self.starts("<>") {
            self.i += 2;
            RedirOp::ReadWrite
        } else if self.starts(">") {
            self.i += 1;
            RedirOp::Write
        } else if self.starts("<") {
            self.i += 1;
            RedirOp::Read
        } else {
            return Err(self.err("bad redirection"));
        };
        self.skip_blank();
        if self
            .peek()
            .is_none_or(|b| is_meta(b) && b != b'<' && b != b'>')
        {
            return Err(self.err("redirection without a target"));
        }
        let target = self.word()?;
        Ok(Some(Redirect { op, target, append }))
    }

    /// One word (possibly empty when at a metacharacter).
    fn word(&mut self) -> Result<Word<'a>, ParseError> {
        let mut w = Word::default();
        // Most words are one run of plain bytes up to a metacharacter: borrowed whole.
        let n = self.plain_run();
        if n > 0
            && self
                .s
                .get(self.i + n)
                .is_none_or(|&c| is_meta(c) || c == b'\r')
        {
            if let Some(text) = self.src.get(self.i..self.i + n) {
                self.i += n;
                w.parts.push(Part::Lit {
                    text: Cow::Borrowed(text),
                    quoted: false,
                });
                return Ok(w);
            }
        }
        let mut lit: Cow<'a, str> = Cow::Borrowed("");
        let at_start = self.i;
        while let Some(b) = self.peek() {
            match b {
                b'\'' => {
                    flush(&mut w, &mut lit);
                    let text = self.single_quoted()?;
                    push_lit(&mut w, Cow::Borrowed(text), true);
                }
                b'"' => {
                    self.i += 1;
                    flush(&mut w, &mut lit);
                    self.dquoted_body(&mut w, Some(b'"'))?;
                }
                b'\\' => {
                    self.i += 1;
                    match self.peek() {
                        Some(b'\n') => self.i += 1,
                        Some(_) => {
                            let c = self.take_char();
                            flush(&mut w, &mut lit);
                            push_lit(&mut w, Cow::Owned(c.to_string()), true);
                        }
                        None => return Err(self.err("trailing backslash")),
                    }
                }
                b'$' => {
                    flush(&mut w, &mut lit);
                    self.dollar(&mut w)?;
                }
                b'`' => {
                    flush(&mut w, &mut lit);
                    self.backtick(&mut w)?;
                }
                b'~' if self.i == at_start => {
                    self.i += 1;
                    let start = self.i;
                    while self
                        .peek()
                        .is_some_and(|c| is_name(c) || c == b'.' || c == b'-')
                    {
                        self.i += 1;
                    }
                    let user = self.src.get(start..self.i).unwrap_or("").to_owned();
                    if self.peek().is_none_or(|c| c == b'/' || is_meta(c)) {
                        w.parts.push(Part::Tilde(user));
                    } else {
                        lit.to_mut().push('~');
                        lit.to_mut().push_str(&user);
                    }
                }
                b'<' | b'>' if self.peek_at(1) == Some(b'(') => {
                    flush(&mut w, &mut lit);
                    self.enter()?;
                    let output = b == b'>';
                    self.i += 2;
                    let inner = self.list(Stop::Paren)?;
                    self.depth -= 1;
                    w.parts.push(Part::ProcSubst(Box::new(inner), output));
                }
                // Extended globs `@(a|b)`, `!(x)`: keep as literal glob text.
                b'@' | b'!' | b'*' | b'?' | b'+' if self.peek_at(1) == Some(b'(') => {
                    let start = self.i;
                    self.i += 2;
                    let mut level = 1;
                    while let Some(c) = self.peek() {
                        self.i += 1;
                        if c == b'(' {
                            level += 1;
                        } else if c == b')' {
                            level -= 1;
                            if level == 0 {
                                break;
                            }
                        }
                    }
                    if level != 0 {
                        return Err(self.err("unterminated extended glob"));
                    }
                    push_src(&mut lit, self.src, start, self.i);
                }
                c if is_meta(c) || c == b'\r' => break,
                _ => self.take_plain(&mut lit),
            }
        }
        flush(&mut w, &mut lit);
        Ok(w)
    }

    /// `'...'` at the opening quote: its text; advances past the closing quote.
    fn single_quoted(&mut self) -> Result<&'a str, ParseError> {
        let start = self.i + 1;
        let end = self
            .s
            .get(start..)
            .and_then(|r| r.iter().position(|&c| c == b'\''))
            .ok_or_else(|| self.err("unterminated single quote"))?;
        self.i = start + end + 1;
        Ok(self.src.get(start..start + end).unwrap_or(""))
    }

    /// The next character (UTF-8 aware); advances.
    fn take_char(&mut self) -> char {
        let rest = self.src.get(self.i..).unwrap_or("");
        let c = rest.chars().next().unwrap_or('\u{fffd}');
        self.i += c.len_utf8().max(1);
        c
    }

    /// Appends the run of bytes that need no interpretation (in a word, outside quotes) in one
    /// copy; at least one character is taken.
    /// Length of the run of plain bytes (no interpretation needed) from the current one.
    fn plain_run(&self) -> usize {
        let rest = self.s.get(self.i..).unwrap_or(&[]);
        rest.iter()
            .position(|&b| !PLAIN.get(usize::from(b)).copied().unwrap_or(false))
            .unwrap_or(rest.len())
    }

    fn take_plain(&mut self, lit: &mut Cow<'a, str>) {
        let start = self.i;
        let n = self.plain_run();
        if n == 0 {
            lit.to_mut().push(self.take_char());
        } else {
            self.i += n;
            push_src(lit, self.src, start, self.i);
        }
    }

    /// Inside double quotes (or an unquoted here-document body when `close` is `None`).
    fn dquoted_body(&mut self, w: &mut Word<'a>, close: Option<u8>) -> Result<(), ParseError> {
        let outer = std::mem::replace(&mut self.quoted, true);
        let out = self.dquoted_inner(w, close);
        self.quoted = outer;
        out
    }

    fn dquoted_inner(&mut self, w: &mut Word<'a>, close: Option<u8>) -> Result<(), ParseError> {
        let mut lit: Cow<'a, str> = Cow::Borrowed("");
        loop {
            let Some(b) = self.peek() else {
                if close.is_some() {
                    return Err(self.err("unterminated double quote"));
                }
                break;
            };
            if Some(b) == close {
                self.i += 1;
                break;
            }
            match b {
                b'\\' => {
                    self.i += 1;
                    match self.peek() {
                        Some(b'\n') => self.i += 1,
                        Some(c @ (b'$' | b'`' | b'"' | b'\\')) => {
                            self.i += 1;
                            lit.to_mut().push(char::from(c));
                        }
                        _ => lit.to_mut().push('\\'),
                    }
                }
                // Inside double quotes `$"` and `$'` are a literal dollar sign (`"^${R}$"`).
                b'$' if matches!(self.peek_at(1), Some(b'"' | b'\'') | None) => {
                    self.i += 1;
                    lit.to_mut().push('$');
                }
                b'$' => {
                    flush_q(w, &mut lit);
                    self.dollar(w)?;
                }
                b'`' => {
                    flush_q(w, &mut lit);
                    self.backtick(w)?;
                }
                _ => {
                    lit.to_mut().push(self.take_char());
                }
            }
        }
        flush_q(w, &mut lit);
        // `""` is an empty word, not no word.
        if w.parts.is_empty() {
            push_lit(w, Cow::Borrowed(""), true);
        }
        Ok(())
    }

    fn backtick(&mut self, w: &mut Word<'a>) -> Result<(), ParseError> {
        self.i += 1;
        // Inside backticks `\`` `\\` `\$` are escapes: unescape, then parse the inner text.
        let mut inner = String::new();
        loop {
            match self.peek() {
                None => return Err(self.err("unterminated backtick")),
                Some(b'`') => {
                    self.i += 1;
                    break;
                }
                Some(b'\\') if matches!(self.peek_at(1), Some(b'`' | b'\\' | b'$')) => {
                    inner.push(char::from(self.peek_at(1).unwrap_or(b'\\')));
                    self.i += 2;
                }
                Some(_) => {
                    inner.push(self.take_char());
                }
            }
        }
        self.enter()?;
        let mut sub = Parser {
            s: inner.as_bytes(),
            src: &inner,
            i: 0,
            depth: self.depth,
            pending: Vec::new(),
            quoted: false,
        };
        let script = sub.list(Stop::Eof)?.into_owned();
        self.depth -= 1;
        w.parts.push(Part::Subst(Box::new(script), self.quoted));
        Ok(())
    }

    fn dollar(&mut self, w: &mut Word<'a>) -> Result<(), ParseError> {
        self.i += 1;
        match self.peek() {
            Some(b'(') if self.peek_at(1) == Some(b'(') => {
                self.arith_block(b'(', b')')?;
                w.parts.push(Part::Unknown);
            }
            Some(b'(') => {
                self.enter()?;
                self.i += 1;
                // The inner command has its own quoting.
                let quoted = std::mem::replace(&mut self.quoted, false);
                let inner = self.list(Stop::Paren);
                self.quoted = quoted;
                let inner = inner?;
                self.depth -= 1;
                w.parts.push(Part::Subst(Box::new(inner), quoted));
            }
            Some(b'[') => {
                self.arith_block(b'[', b']')?;
                w.parts.push(Part::Unknown);
            }
            Some(b'{') => {
                self.i += 1;
                self.brace_param(w)?;
            }
            Some(b'\'') => {
                self.i += 1;
                let (text, escaped) = self.ansi_c()?;
                if escaped {
                    w.parts.push(Part::Escaped(text));
                } else {
                    push_lit(w, Cow::Owned(text), true);
                }
            }
            Some(b'"') => {
                self.i += 1;
                self.dquoted_body(w, Some(b'"'))?;
            }
            Some(c) if is_name_start(c) => {
                let start = self.i;
                while self.peek().is_some_and(is_name) {
                    self.i += 1;
                }
                let name = self.src.get(start..self.i).unwrap_or("").to_owned();
                w.parts.push(Part::Param {
                    name,
                    op: ParamOp::Plain,
                    arg: None,
                    rep: None,
                    quoted: self.quoted,
                });
            }
            Some(c)
                if c.is_ascii_digit()
                    || matches!(c, b'@' | b'*' | b'#' | b'?' | b'$' | b'!' | b'-') =>
            {
                self.i += 1;
                w.parts.push(Part::Param {
                    name: char::from(c).to_string(),
                    op: ParamOp::Plain,
                    arg: None,
                    rep: None,
                    quoted: self.quoted,
                });
            }
            // A lone `$` is literal.
            _ => push_lit(w, Cow::Borrowed("$"), false),
        }
        Ok(())
    }

    fn brace_param(&mut self, w: &mut Word<'a>) -> Result<(), ParseError> {
        // `${#name}` (length) and `${!name}` (indirect); `${#}` and `${!}` are parameters.
        let prefix = match self.peek() {
            Some(c @ (b'#' | b'!')) if self.peek_at(1) != Some(b'}') => {
                self.i += 1;
                Some(c)
            }
            _ => None,
        };
        let start = self.i;
        if self.peek().is_some_and(|c| {
            c.is_ascii_digit() || matches!(c, b'@' | b'*' | b'#' | b'?' | b'$' | b'!' | b'-')
        }) {
            self.i += 1;
        } else {
            while self.peek().is_some_and(is_name) {
                self.i += 1;
            }
        }
        let name = self.src.get(start..self.i).unwrap_or("").to_owned();
        if name.is_empty() {
            return Err(self.err("bad parameter expansion"));
        }
        // Array subscript.
        let mut subscript = false;
        let mut every = false;
        if self.peek() == Some(b'[') {
            subscript = true;
            every = matches!(self.peek_at(1), Some(b'@' | b'*')) && self.peek_at(2) == Some(b']');
            while self.peek().is_some_and(|c| c != b']') {
                self.i += 1;
            }
            self.i += 1;
        }
        let mut op = if self.peek() == Some(b'}') {
            ParamOp::Plain
        } else if self.starts(":-") || self.starts(":=") {
            self.i += 2;
            ParamOp::Default
        } else if self.starts(":+") {
            self.i += 2;
            ParamOp::Alt
        } else if self.starts(":?") {
            self.i += 2;
            ParamOp::Check
        } else if matches!(self.peek(), Some(b'-' | b'=')) {
            self.i += 1;
            ParamOp::Default
        } else if self.peek() == Some(b'+') {
            self.i += 1;
            ParamOp::Alt
        } else if self.peek() == Some(b'?') {
            self.i += 1;
            ParamOp::Check
        } else if self.peek() == Some(b':') {
            self.i += 1;
            ParamOp::Substring
        } else if matches!(self.peek(), Some(b'#' | b'%')) {
            let first = self.peek() == Some(b'#');
            self.i += 1;
            let longest = self.peek() == Some(if first { b'#' } else { b'%' });
            if longest {
                self.i += 1;
            }
            if first {
                ParamOp::StripPrefix { longest }
            } else {
                ParamOp::StripSuffix { longest }
            }
        } else if self.peek() == Some(b'/') {
            self.i += 1;
            let anchor = match self.peek() {
                Some(b'/') => Anchor::All,
                Some(b'#') => Anchor::Start,
                Some(b'%') => Anchor::End,
                _ => Anchor::First,
            };
            if anchor != Anchor::First {
                self.i += 1;
            }
            ParamOp::Replace(anchor)
        } else if matches!(self.peek(), Some(b'^' | b',')) {
            let upper = self.peek() == Some(b'^');
            self.i += 1;
            let all = self.peek() == Some(if upper { b'^' } else { b',' });
            if all {
                self.i += 1;
            }
            ParamOp::Case { upper, all }
        } else if self.peek() == Some(b'@')
            && self.peek_at(1).is_some_and(|c| c.is_ascii_alphabetic())
            && self.peek_at(2) == Some(b'}')
        {
            let letter = self.peek_at(1).unwrap_or(b'Q');
            self.i += 2;
            ParamOp::Transform(letter)
        } else {
            ParamOp::Other
        };
        // The operands: words up to the matching `}` (quotes and expansions allowed), split
        // at the first `/` of a replacement or `:` of a substring.
        let split = match op {
            ParamOp::Replace(_) => Some(b'/'),
            ParamOp::Substring => Some(b':'),
            _ => None,
        };
        let (arg, rep) = if matches!(op, ParamOp::Plain | ParamOp::Transform(_)) {
            self.i += 1;
            (None, None)
        } else {
            let (arg, stopped) = self.param_word(split)?;
            let rep = if stopped {
                Some(Box::new(self.param_word(None)?.0))
            } else {
                None
            };
            (Some(Box::new(arg)), rep)
        };
        match prefix {
            Some(b'#') if op == ParamOp::Plain && !subscript => op = ParamOp::Length,
            Some(b'!') if op == ParamOp::Plain && !subscript => op = ParamOp::Indirect,
            Some(_) => op = ParamOp::Other,
            // `${a[@]}`: every element, one word each; `${a[i]}`: any of the values.
            None if every && op == ParamOp::Plain => op = ParamOp::All,
            None => {}
        }
        w.parts.push(Part::Param {
            name,
            op,
            arg,
            rep,
            quoted: self.quoted,
        });
        Ok(())
    }

    /// One operand of `${…}`: up to the closing `}` (consumed), or up to `split` (consumed;
    /// then the second value is true).
    fn param_word(&mut self, split: Option<u8>) -> Result<(Word<'a>, bool), ParseError> {
        let mut arg = Word::default();
        let mut lit: Cow<'a, str> = Cow::Borrowed("");
        let mut stopped = false;
        loop {
            match self.peek() {
                None => return Err(self.err("unterminated `${`")),
                Some(b'}') => {
                    self.i += 1;
                    break;
                }
                Some(c) if Some(c) == split => {
                    self.i += 1;
                    stopped = true;
                    break;
                }
                Some(b'\'') => {
                    flush(&mut arg, &mut lit);
                    let text = self.single_quoted()?;
                    push_lit(&mut arg, Cow::Borrowed(text), true);
                }
                Some(b'"') => {
                    self.i += 1;
                    flush(&mut arg, &mut lit);
                    self.dquoted_body(&mut arg, Some(b'"'))?;
                }
                Some(b'\\') => {
                    self.i += 1;
                    if self.peek().is_some() {
                        // An escaped character is literal, never a glob character.
                        flush(&mut arg, &mut lit);
                        let c = self.take_char();
                        push_lit(&mut arg, Cow::Owned(c.to_string()), true);
                    }
                }
                Some(b'$') => {
                    flush(&mut arg, &mut lit);
                    self.dollar(&mut arg)?;
                }
                Some(b'`') => {
                    flush(&mut arg, &mut lit);
                    self.backtick(&mut arg)?;
                }
                Some(_) => {
                    lit.to_mut().push(self.take_char());
                }
            }
        }
        flush(&mut arg, &mut lit);
        Ok((arg, stopped))
    }

    /// `$'...'` after the opening quote: the decoded text, and whether a numeric escape
    /// (`\x`, `\u`, octal, `\c`) produced any of it.
    fn ansi_c(&mut self) -> Result<(String, bool), ParseError> {
        let mut out = String::new();
        let mut bytes: Vec<u8> = Vec::new();
        let mut escaped = false;
        let flush_bytes = |bytes: &mut Vec<u8>, out: &mut String| {
            if !bytes.is_empty() {
                out.push_str(&String::from_utf8_lossy(bytes));
                bytes.clear();
            }
        };
        loop {
            let Some(b) = self.peek() else {
                return Err(self.err("unterminated $'...'"));
            };
            self.i += 1;
            match b {
                b'\'' => break,
                b'\\' => {
                    let Some(e) = self.peek() else {
                        return Err(self.err("unterminated $'...'"));
                    };
                    self.i += 1;
                    let simple = match e {
                        b'n' => Some(b'\n'),
                        b't' => Some(b'\t'),
                        b'r' => Some(b'\r'),
                        b'a' => Some(7),
                        b'b' => Some(8),
                        b'e' | b'E' => Some(27),
                        b'f' => Some(12),
                        b'v' => Some(11),
                        b'\\' | b'\'' | b'"' | b'?' => Some(e),
                        _ => None,
                    };
                    if let Some(c) = simple {
                        bytes.push(c);
                        continue;
                    }
                    escaped = true;
                    match e {
                        b'x' => {
                            let v = self.hex_digits(2);
                            bytes.push(v.unwrap_or(0) as u8);
                        }
                        b'u' | b'U' => {
                            let n = if e == b'u' { 4 } else { 8 };
                            let v = self.hex_digits(n).unwrap_or(0xfffd);
                            flush_bytes(&mut bytes, &mut out);
                            out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
                        }
                        b'0'..=b'7' => {
                            let mut v = u32::from(e - b'0');
                            for _ in 0..2 {
                                match self.peek() {
                                    Some(d @ b'0'..=b'7') => {
                                        v = v * 8 + u32::from(d - b'0');
                                        self.i += 1;
                                    }
                                    _ => break,
                                }
                            }
                            bytes.push((v & 0xff) as u8);
                        }
                        b'c' => {
                            if let Some(c) = self.peek() {
                                self.i += 1;
                                bytes.push(c & 0x1f);
                            }
                        }
                        other => {
                            bytes.push(b'\\');
                            bytes.push(other);
                        }
                    }
                }
                other => bytes.push(other),
            }
        }
        flush_bytes(&mut bytes, &mut out);
        Ok((out, escaped))
    }

    fn hex_digits(&mut self, max: usize) -> Option<u32> {
        let mut v: u32 = 0;
        let mut n = 0;
        while n < max {
            match self.peek().and_then(|c| char::from(c).to_digit(16)) {
                Some(d) => {
                    v = v.wrapping_mul(16).wrapping_add(d);
                    self.i += 1;
                    n += 1;
                }
                None => break,
            }
        }
        (n > 0).then_some(v)
    }
}

fn flush<'a>(w: &mut Word<'a>, lit: &mut Cow<'a, str>) {
    push_owned(w, lit, false);
}

fn flush_q<'a>(w: &mut Word<'a>, lit: &mut Cow<'a, str>) {
    push_owned(w, lit, true);
}

/// Moves the collected text into the word (no copy unless it merges with a literal before it).
fn push_owned<'a>(w: &mut Word<'a>, lit: &mut Cow<'a, str>, quoted: bool) {
    if lit.is_empty() {
        return;
    }
    push_lit(w, std::mem::replace(lit, Cow::Borrowed("")), quoted);
}

/// Appends literal text, merging with a preceding literal of the same quoting.
fn push_lit<'a>(w: &mut Word<'a>, text: Cow<'a, str>, quoted: bool) {
    if let Some(Part::Lit { text: t, quoted: q }) = w.parts.last_mut() {
        if *q == quoted {
            t.to_mut().push_str(&text);
            return;
        }
    }
    w.parts.push(Part::Lit { text, quoted });
}

/// Appends `src[start..end]` to `lit`: still borrowed when `lit` is empty or ends where the
/// new text starts (an unbroken run of the source), copied otherwise.
fn push_src<'a>(lit: &mut Cow<'a, str>, src: &'a str, start: usize, end: usize) {
    let Some(piece) = src.get(start..end) else {
        return;
    };
    if let Cow::Borrowed(b) = lit {
        if b.is_empty() {
            *lit = Cow::Borrowed(piece);
            return;
        }
        let from = (b.as_ptr() as usize).checked_sub(src.as_ptr() as usize);
        if let Some(from) = from.filter(|&f| f + b.len() == start) {
            if let Some(run) = src.get(from..end) {
                *lit = Cow::Borrowed(run);
                return;
            }
        }
    }
    lit.to_mut().push_str(piece);
}

/// `NAME=value` at the start of a word (the name unquoted).
fn split_assignment<'a>(w: &Word<'a>) -> Option<(String, Word<'a>)> {
    let Some(Part::Lit {
        text,
        quoted: false,
    }) = w.parts.first()
    else {
        return None;
    };
    // A byte loop: words are short, and most have no `=`.
    let eq = text.bytes().position(|b| b == b'=')?;
    let name = text.get(..eq)?.trim_end_matches('+');
    // `a[0]=x`: an element of the array `a`.
    let name = match name.split_once('[') {
        Some((n, sub)) if sub.ends_with(']') => n,
        _ => name,
    };
    let bytes = name.as_bytes();
    if !bytes.first().is_some_and(|&b| is_name_start(b)) || !bytes.iter().all(|&b| is_name(b)) {
        return None;
    }
    let mut value = Word::default();
    let rest = match text {
        Cow::Borrowed(b) => Cow::Borrowed(b.get(eq + 1..).unwrap_or("")),
        Cow::Owned(o) => Cow::Owned(o.get(eq + 1..).unwrap_or("").to_owned()),
    };
    if !rest.is_empty() {
        push_lit(&mut value, rest, false);
    }
    value.parts.extend(w.parts.iter().skip(1).cloned());
    // `VAR=~/x`: tilde expands after `=` in assignments.
    if let Some(Part::Lit {
        text,
        quoted: false,
    }) = value.parts.first().cloned()
    {
        if let Some(after) = text.strip_prefix('~') {
            let user_len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-'))
                .unwrap_or(after.len());
            let user = after.get(..user_len).unwrap_or("");
            let tail = after.get(user_len..).unwrap_or("");
            if tail.is_empty() || tail.starts_with('/') {
                let mut parts: SmallVec<[Part<'a>; 1]> =
                    smallvec::smallvec![Part::Tilde(user.to_owned())];
                if !tail.is_empty() {
                    parts.push(Part::Lit {
                        text: Cow::Owned(tail.to_owned()),
                        quoted: false,
                    });
                }
                parts.extend(value.parts.into_iter().skip(1));
                value.parts = parts;
            }
        }
    }
    Some((name.to_owned(), value))
}

fn unquote_delim(w: &Word) -> String {
    let mut s = String::new();
    for p in &w.parts {
        match p {
            Part::Lit { text, .. } => s.push_str(text),
            Part::Escaped(text) => s.push_str(text),
            Part::Param { name, .. } => {
                s.push('$');
                s.push_str(name);
            }
            _ => {}
        }
    }
    s
}

/// Gives the body of a here-document to the last here-document redirect without a body in
/// `script` (bodies arrive in the order the redirects were written).
fn attach_heredoc<'a>(script: &mut Script<'a>, body: Word<'a>) {
    fn visit<'a>(cmds: &mut [Command<'a>], body: &mut Option<Word<'a>>) {
        for c in cmds {
            if body.is_none() {
                return;
            }
            match c {
                Command::Simple(s) => {
                    for r in &mut s.redirects {
                        if r.op == RedirOp::HereDoc && r.target.parts.is_empty() {
                            if let Some(b) = body.take() {
                                r.target = b;
                            }
                            return;
                        }
                    }
                }
                Command::Group {
                    body: inner,
                    redirects,
                    ..
                } => {
                    for r in redirects.iter_mut() {
                        if r.op == RedirOp::HereDoc && r.target.parts.is_empty() {
                            if let Some(b) = body.take() {
                                r.target = b;
                            }
                            return;
                        }
                    }
                    for item in &mut inner.items {
                        visit(item, body);
                    }
                }
                Command::For { body: inner, .. } | Command::Function { body: inner, .. } => {
                    for item in &mut inner.items {
                        visit(item, body);
                    }
                }
            }
        }
    }
    let mut body = Some(body);
    for item in &mut script.items {
        visit(item, &mut body);
    }
}

// ----- owned copies -----------------------------------------------------------------------
// A script parsed from text built during parsing (backtick bodies, here-documents) cannot
// borrow from it: these detach a tree from its source (into any lifetime, since nothing is
// borrowed any more).

impl Script<'_> {
    pub fn into_owned<'b>(self) -> Script<'b> {
        Script {
            items: self
                .items
                .into_iter()
                .map(|p| p.into_iter().map(Command::into_owned).collect())
                .collect(),
        }
    }
}

impl Command<'_> {
    pub fn into_owned<'b>(self) -> Command<'b> {
        match self {
            Command::Simple(s) => Command::Simple(Simple {
                assigns: s
                    .assigns
                    .into_iter()
                    .map(|(n, w)| (n, w.into_owned()))
                    .collect(),
                words: s.words.into_iter().map(Word::into_owned).collect(),
                redirects: s.redirects.into_iter().map(Redirect::into_owned).collect(),
            }),
            Command::Group {
                body,
                subshell,
                redirects,
            } => Command::Group {
                body: body.into_owned(),
                subshell,
                redirects: redirects.into_iter().map(Redirect::into_owned).collect(),
            },
            Command::For { var, words, body } => Command::For {
                var,
                words: words.into_iter().map(Word::into_owned).collect(),
                body: body.into_owned(),
            },
            Command::Function { name, body } => Command::Function {
                name,
                body: body.into_owned(),
            },
        }
    }
}

impl Redirect<'_> {
    pub fn into_owned<'b>(self) -> Redirect<'b> {
        Redirect {
            op: self.op,
            target: self.target.into_owned(),
            append: self.append,
        }
    }
}

impl Word<'_> {
    pub fn into_owned<'b>(self) -> Word<'b> {
        Word {
            parts: self.parts.into_iter().map(Part::into_owned).collect(),
        }
    }
}

impl Part<'_> {
    pub fn into_owned<'b>(self) -> Part<'b> {
        match self {
            Part::Lit { text, quoted } => Part::Lit {
                text: Cow::Owned(text.into_owned()),
                quoted,
            },
            Part::Escaped(t) => Part::Escaped(t),
            Part::Tilde(t) => Part::Tilde(t),
            Part::Param {
                name,
                op,
                arg,
                rep,
                quoted,
            } => Part::Param {
                name,
                op,
                arg: arg.map(|w| Box::new(w.into_owned())),
                rep: rep.map(|w| Box::new(w.into_owned())),
                quoted,
            },
            Part::Subst(s, q) => Part::Subst(Box::new(s.into_owned()), q),
            Part::ProcSubst(s, o) => Part::ProcSubst(Box::new(s.into_owned()), o),
            Part::Unknown => Part::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn simple<'s, 'a>(script: &'s Script<'a>) -> &'s Simple<'a> {
        match script.items.first().and_then(|p| p.first()) {
            Some(Command::Simple(s)) => s,
            other => panic!("not a simple command: {other:?}"),
        }
    }

    fn lits(w: &Word<'_>) -> Vec<(String, bool, bool)> {
        w.parts
            .iter()
            .map(|p| match p {
                Part::Lit { text, quoted } => {
                    (text.to_string(), *quoted, matches!(text, Cow::Borrowed(_)))
                }
                other => panic!("not a literal: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn an_operator_inside_an_array_is_an_error_not_a_loop() {
        // Found by fuzzing: `a=(;` once pushed empty words forever.
        assert!(parse("x=(;;;;)").is_err());
        assert!(parse("a=(x;y)").is_err());
        let s = parse("a=(x # note\ny)").unwrap();
        assert_eq!(simple(&s).assigns.len(), 2);
    }

    #[test]
    fn plain_words_borrow_from_the_source() {
        let s = parse("git diff --stat origin/main...HEAD").unwrap();
        let words = &simple(&s).words;
        assert_eq!(words.len(), 4);
        for (w, want) in words
            .iter()
            .zip(["git", "diff", "--stat", "origin/main...HEAD"])
        {
            assert_eq!(lits(w), vec![(want.to_owned(), false, true)]);
        }
    }

    #[test]
    fn quoting_and_escapes_build_the_same_text() {
        // Adjacent runs of one quoting merge; an escape or a quote change forces a copy.
        let s = parse(r#"c\at 'a'"b" x'y'z ~/.ss""h"#).unwrap();
        let w = &simple(&s).words;
        assert_eq!(w.first().and_then(Word::literal).as_deref(), Some("cat"));
        assert_eq!(lits(&w[1]), vec![("ab".to_owned(), true, false)]);
        assert_eq!(
            lits(&w[2]),
            vec![
                ("x".to_owned(), false, true),
                ("y".to_owned(), true, true),
                ("z".to_owned(), false, true)
            ]
        );
        // `""` vanishes inside a word; the runs around it join into one literal.
        assert!(matches!(w[3].parts.first(), Some(Part::Tilde(u)) if u.is_empty()));
        assert_eq!(
            lits(&Word {
                parts: w[3].parts[1..].into()
            }),
            vec![("/.ssh".to_owned(), false, false)]
        );
    }

    #[test]
    fn nested_sources_are_detached() {
        // Backtick bodies and here-documents are parsed from text built on the way.
        let s = parse("echo `cat \\`echo ~/.ssh/id_rsa\\``; cat <<EOF\n$HOME/x\nEOF").unwrap();
        let outer = simple(&s);
        let Some(Part::Subst(inner, _)) = outer.words.get(1).and_then(|w| w.parts.first()) else {
            panic!("no substitution: {outer:?}");
        };
        let inner = simple(inner);
        assert_eq!(inner.words.len(), 2);
        let Some(Command::Simple(cat)) = s.items.get(1).and_then(|p| p.first()) else {
            panic!("no second command");
        };
        let body = &cat.redirects.first().unwrap().target;
        assert!(matches!(body.parts.first(), Some(Part::Param { name, .. }) if name == "HOME"));
        assert_eq!(
            lits(&Word {
                parts: body.parts[1..].into()
            })[0]
                .0,
            "/x\n"
        );
    }

    #[test]
    fn assignments_split_and_keep_tildes() {
        let s = parse("F=~/.aws/credentials G=a'b' cat $F").unwrap();
        let a = &simple(&s).assigns;
        assert_eq!(a[0].0, "F");
        assert!(matches!(a[0].1.parts.first(), Some(Part::Tilde(_))));
        assert_eq!(a[1].0, "G");
        assert_eq!(a[1].1.literal().as_deref(), Some("ab"));
    }
}
