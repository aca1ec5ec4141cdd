//! Code inside commands: `python3 -c`, `node -e`, `perl -e`, `ruby -e`, `php -r`, and scripts
//! fed to an interpreter. The code is lexed ([`lex`]) and evaluated abstractly: string
//! literals and how they are joined, home and environment lookups, modules and the values
//! variables hold are worked out, and every call the language table knows becomes an
//! [`Effect`] (a path read, written or deleted, a command line or argv run, a host reached).
//! Literal payloads passed to decoders are decoded and followed (into `exec`, into a process
//! call). Code that runs text the analysis cannot work out is reported, never taken as
//! harmless. Nothing is executed; work is bounded by a budget linear in the input.

pub mod lex;

use crate::model::Action;
use crate::normalize::{SUBTREE, UNKNOWN};
use crate::signal;
use crate::tables::{call_key, CallIndex, Capability, LanguageSpec, Syntax};
use lex::{Interp, Lit, Tok};
use std::collections::HashMap;

/// Code analysed inside code (`exec(b64decode(…))`) deeper than this is refused.
const MAX_DEPTH: usize = 4;
/// Longest text a value may hold; longer text is cut and marked unknown.
const MAX_TEXT: usize = 256 * 1024;
/// Elements kept of a list.
const MAX_LIST: usize = 256;

/// What the code does. Text may contain [`UNKNOWN`] where a part could not be worked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Path(Action, String),
    /// A path and everything below it (a directory copied or archived whole).
    Tree(Action, String),
    /// A command line run by a shell.
    Shell(String),
    /// A process run with these arguments (the program first).
    Argv(Vec<String>),
    /// A host (or URL) reached.
    Net(String),
    /// Statements of the language's own command syntax to analyse (PowerShell's `$(…)`,
    /// `[ScriptBlock]::Create(…)`).
    Commands(String),
    Signal(&'static str),
    /// An environment variable the code reads (`os.environ['GITHUB_TOKEN']`).
    EnvRead(String),
}

/// Analyses `code` written in `lang`, spending from `budget` (fails when it runs out).
pub fn analyze(
    lang: &LanguageSpec,
    calls: &CallIndex,
    code: &str,
    budget: &mut usize,
) -> Result<Vec<Effect>, String> {
    let mut ev = Ev::new(lang, calls, *budget);
    let out = ev.run(code);
    *budget = ev.budget;
    out?;
    let reads = std::mem::take(&mut *ev.env_reads.borrow_mut());
    ev.effects.extend(reads.into_iter().map(Effect::EnvRead));
    if ev.socket && (ev.process || ev.dup) {
        ev.effects.push(Effect::Signal(signal::PROCESS_ON_SOCKET));
    }
    if ev.env_dump && ev.network {
        ev.effects
            .push(Effect::Signal(crate::signal::ENVIRONMENT_TO_NETWORK));
    }
    if ev.fork && (ev.loops || ev.recursive) {
        ev.effects.push(Effect::Signal(crate::signal::FORK_BOMB));
    }
    Ok(ev.effects)
}

/// The text an expression evaluates to, when the analysis can work it out (PowerShell's
/// `(Join-Path $HOME '.ssh')`, `$([Environment]::GetFolderPath('UserProfile'))`).
pub fn value(
    lang: &LanguageSpec,
    calls: &CallIndex,
    prelude: &str,
    code: &str,
    budget: &mut usize,
) -> Option<String> {
    let mut ev = Ev::new(lang, calls, *budget);
    ev.depth = 1;
    // The variables first (their statements), then the expression.
    let _ = ev.run(prelude);
    ev.toks = lex::lex(code, lang.syntax);
    ev.pos = 0;
    let v = ev.expr().ok();
    *budget = ev.budget;
    match v? {
        V::Str(t) if !t.contains(UNKNOWN) => Some(t),
        V::Bytes(b) => Some(bytes_text(&b)),
        _ => None,
    }
}

/// An abstract value.
#[derive(Debug, Clone, PartialEq)]
enum V {
    Unknown,
    /// Text; [`UNKNOWN`] marks parts not worked out.
    Str(String),
    Bytes(Vec<u8>),
    Num(i64),
    List(Vec<V>),
    /// A module, class or function by its dotted name (`os.path`, `child_process`).
    Name(String),
    /// A method of a value, not yet called.
    Method(Box<V>, String),
    /// One of several values (a loop variable over known items).
    Alts(Vec<V>),
    /// An object or dict literal: the text values written in it.
    Obj(Vec<V>),
    /// The text of the file at this path, read by the code (not known itself; code made
    /// from it runs that file: `eval File.read("Gemfile.local")`).
    Contents(String),
}

impl V {
    /// The value as text, when it is text.
    fn text(&self) -> Option<String> {
        match self {
            V::Str(s) => Some(s.clone()),
            V::Bytes(b) => Some(bytes_text(b)),
            V::Num(n) => Some(n.to_string()),
            _ => None,
        }
    }
    /// The value as text, unknown values as the unknown marker.
    fn text_or_unknown(&self) -> String {
        self.text().unwrap_or_else(|| UNKNOWN.to_string())
    }
    fn bytes(&self) -> Option<Vec<u8>> {
        match self {
            V::Bytes(b) => Some(b.clone()),
            V::Str(s) if !s.contains(UNKNOWN) => Some(s.as_bytes().to_vec()),
            _ => None,
        }
    }
    fn is_texty(&self) -> bool {
        match self {
            V::Str(_) | V::Bytes(_) => true,
            V::Alts(a) => a.iter().all(V::is_texty),
            _ => false,
        }
    }
    /// Texts held (a list's elements and alternatives flattened).
    fn texts(&self, out: &mut Vec<String>) {
        match self {
            V::List(items) | V::Alts(items) | V::Obj(items) => {
                items.iter().for_each(|v| v.texts(out))
            }
            v => {
                if let Some(t) = v.text() {
                    out.push(t);
                }
            }
        }
    }
}

fn cap(mut s: String) -> String {
    if s.len() > MAX_TEXT {
        let mut k = MAX_TEXT;
        while !s.is_char_boundary(k) {
            k -= 1;
        }
        s.truncate(k);
        s.push(UNKNOWN);
    }
    s
}

#[derive(Default)]
struct Args {
    pos: Vec<V>,
    kw: Vec<(String, V)>,
}

struct Ev<'a> {
    lang: &'a LanguageSpec,
    calls_by_key: &'a CallIndex,
    toks: Vec<Tok>,
    pos: usize,
    vars: HashMap<String, V>,
    effects: Vec<Effect>,
    budget: usize,
    depth: usize,
    /// Calls made through `send`/`call_user_func` being followed.
    calls: usize,
    /// The items an iterating call (`list.each`, `list.forEach`) hands its block or callback.
    pending: Option<V>,
    /// A function in the code calls itself.
    recursive: bool,
    /// The whole environment is used as a value (`dict(os.environ)`, `process.env`).
    env_dump: bool,
    /// Names of the environment variables read (set from `&self` lookups).
    env_reads: std::cell::RefCell<Vec<String>>,
    /// The code reaches the network.
    network: bool,
    socket: bool,
    process: bool,
    dup: bool,
    fork: bool,
    loops: bool,
}

/// Words that are syntax, not values.
const KEYWORDS: &[&str] = &[
    "if",
    "elif",
    "else",
    "elsif",
    "unless",
    "then",
    "end",
    "begin",
    "def",
    "class",
    "return",
    "try",
    "except",
    "finally",
    "with",
    "as",
    "lambda",
    "not",
    "and",
    "or",
    "in",
    "is",
    "use",
    "no",
    "my",
    "our",
    "local",
    "let",
    "const",
    "var",
    "new",
    "function",
    "fn",
    "sub",
    "pass",
    "await",
    "async",
    "yield",
    "typeof",
    "instanceof",
    "void",
    "delete",
    "throw",
    "raise",
    "catch",
    "case",
    "when",
    "switch",
    "default",
    "break",
    "continue",
    "next",
    "last",
    "redo",
    "global",
    "nonlocal",
    "del",
    "assert",
    "rescue",
    "ensure",
    "module",
    "package",
    "static",
    "public",
    "private",
    "protected",
    "echo",
    "of",
    "import",
    "from",
    "require_once",
    "include",
    "include_once",
    "do",
    "while",
    "for",
    "foreach",
    "until",
    "loop",
];

/// Keyword arguments that name the file a call acts on.
const PATH_KEYS: &[&str] = &[
    "file", "path", "filename", "fname", "name", "src", "dst", "dest", "target",
];

const LOOPS: &[&str] = &[
    "while", "for", "foreach", "until", "loop", "do", "times", "each",
];

impl<'a> Ev<'a> {
    /// A fresh evaluation, with the variables each language starts with.
    fn new(lang: &'a LanguageSpec, calls: &'a CallIndex, budget: usize) -> Ev<'a> {
        let mut vars = HashMap::new();
        match lang.syntax {
            // Code given with `-e` runs in the working directory.
            Syntax::JavaScript => {
                vars.insert("__dirname".into(), V::Str(".".into()));
            }
            // Automatic variables.
            Syntax::PowerShell => {
                vars.insert("home".into(), V::Str("~".into()));
                vars.insert(
                    "profile".into(),
                    V::Str("~/.config/powershell/Microsoft.PowerShell_profile.ps1".into()),
                );
            }
            _ => {}
        }
        Ev {
            lang,
            calls_by_key: calls,
            toks: Vec::new(),
            pos: 0,
            vars,
            effects: Vec::new(),
            budget,
            depth: 0,
            calls: 0,
            pending: None,
            recursive: false,
            env_dump: false,
            env_reads: std::cell::RefCell::default(),
            network: false,
            socket: false,
            process: false,
            dup: false,
            fork: false,
            loops: false,
        }
    }
}

impl Ev<'_> {
    fn spend(&mut self, n: usize) -> Result<(), String> {
        self.budget = self
            .budget
            .checked_sub(n.max(1))
            .ok_or("the code in the command is too complex to analyse")?;
        Ok(())
    }

    fn run(&mut self, code: &str) -> Result<(), String> {
        if self.depth >= MAX_DEPTH {
            self.effects.push(Effect::Signal(signal::OPAQUE_CODE));
            return Ok(());
        }
        self.spend(code.len())?;
        let toks = lex::lex(code, self.lang.syntax);
        self.spend(toks.len() * 4)?;
        let saved = (std::mem::replace(&mut self.toks, toks), self.pos);
        self.pos = 0;
        self.depth += 1;
        let out = self.statements(None);
        self.depth -= 1;
        self.toks = saved.0;
        self.pos = saved.1;
        out
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn peek_at(&self, k: usize) -> Option<&Tok> {
        self.toks.get(self.pos + k)
    }
    fn is_punct(&self, p: &str) -> bool {
        matches!(self.peek(), Some(Tok::Punct(x)) if *x == p)
    }
    fn eat(&mut self, p: &str) -> bool {
        if self.is_punct(p) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn skip_newlines(&mut self) {
        while matches!(self.peek(), Some(Tok::Newline)) {
            self.pos += 1;
        }
    }

    /// Statements until the end or the closing bracket `close` (consumed).
    fn statements(&mut self, close: Option<&str>) -> Result<(), String> {
        while let Some(t) = self.peek() {
            if let (Tok::Punct(p), Some(c)) = (t, close) {
                if *p == c {
                    self.pos += 1;
                    return Ok(());
                }
            }
            let before = self.pos;
            self.statement()?;
            if self.pos == before {
                self.pos += 1;
            }
        }
        Ok(())
    }

    fn statement(&mut self) -> Result<(), String> {
        self.spend(1)?;
        let Some(t) = self.peek().cloned() else {
            return Ok(());
        };
        match t {
            Tok::Newline | Tok::Punct(";") | Tok::Punct(":") | Tok::Punct("}") => {
                self.pos += 1;
            }
            Tok::Punct("{") => {
                self.pos += 1;
                self.statements(Some("}"))?;
            }
            Tok::Ident(w) => match w.as_str() {
                "import" if matches!(self.lang.syntax, Syntax::Python | Syntax::JavaScript) => {
                    self.pos += 1;
                    self.import()?;
                }
                "from" if self.lang.syntax == Syntax::Python => {
                    self.pos += 1;
                    self.import_from();
                }
                "let" | "const" | "var" | "my" | "our" | "local" | "global" => {
                    self.pos += 1;
                    self.assignment_or_expr()?;
                }
                "for" | "foreach" => self.loop_header()?,
                // AppleScript: `set NAME to VALUE`.
                "set" if self.lang.syntax == Syntax::AppleScript => {
                    if let (Some(Tok::Ident(n)), Some(Tok::Ident(to))) =
                        (self.peek_at(1).cloned(), self.peek_at(2).cloned())
                    {
                        if to == "to" {
                            self.pos += 3;
                            let v = self.expr()?;
                            self.vars.insert(n, v);
                            return Ok(());
                        }
                    }
                    self.pos += 1;
                }
                "def" | "sub" | "function" => {
                    self.function_header();
                    self.pos += 1;
                }
                w if LOOPS.contains(&w) => {
                    self.loops = true;
                    self.pos += 1;
                }
                // A variable may have a keyword's name (`fn = getattr(…)`).
                w if KEYWORDS.contains(&w)
                    && !matches!(self.peek_at(1), Some(Tok::Punct("=" | "+=" | "."))) =>
                {
                    self.pos += 1
                }
                _ => self.assignment_or_expr()?,
            },
            _ => self.assignment_or_expr()?,
        }
        Ok(())
    }

    /// `for NAME in EXPR` (Python, Ruby), `for (const NAME of EXPR)` (JavaScript),
    /// `for my $NAME (LIST)` (Perl), `foreach (EXPR as $NAME)` (PHP): the loop variable holds
    /// each item.
    fn loop_header(&mut self) -> Result<(), String> {
        self.loops = true;
        self.pos += 1;
        let paren = self.eat("(");
        while matches!(self.peek(), Some(Tok::Ident(w)) if matches!(w.as_str(), "my" | "our" | "const" | "let" | "var" | "local"))
        {
            self.pos += 1;
        }
        match self.lang.syntax {
            Syntax::Php => {
                let it = self.expr()?;
                if matches!(self.peek(), Some(Tok::Ident(a)) if a == "as") {
                    self.pos += 1;
                    let mut names = Vec::new();
                    while let Some(Tok::Var(n)) = self.peek().cloned() {
                        self.pos += 1;
                        names.push(n);
                        if !self.eat("=>") {
                            break;
                        }
                    }
                    // `as $k => $v`: the value is the last name.
                    if let Some(n) = names.last() {
                        let key = self.var_key(n);
                        self.vars.insert(key, items_of(it));
                    }
                }
            }
            Syntax::Perl => {
                if let Some(Tok::Var(n)) = self.peek().cloned() {
                    self.pos += 1;
                    if self.eat("(") {
                        let list = self.args(")")?;
                        let key = self.var_key(&n);
                        self.vars.insert(key, items_of(V::List(list.pos)));
                    }
                }
            }
            _ => {
                let mut names = Vec::new();
                while let Some(t) = self.peek().cloned() {
                    match t {
                        Tok::Ident(w) if w == "in" || w == "of" => break,
                        Tok::Ident(n) | Tok::Var(n) => names.push(n),
                        Tok::Punct("," | "(" | ")" | "[" | "]") => {}
                        _ => return Ok(()),
                    }
                    self.pos += 1;
                    if names.len() > 8 {
                        return Ok(());
                    }
                }
                if !matches!(self.peek(), Some(Tok::Ident(_))) {
                    return Ok(());
                }
                self.pos += 1;
                let it = self.expr()?;
                self.bind_loop(&names, it);
            }
        }
        if paren {
            self.eat(")");
        }
        Ok(())
    }

    fn bind_loop(&mut self, names: &[String], it: V) {
        match names {
            [one] => {
                let key = self.var_key(one);
                self.vars.insert(key, items_of(it));
            }
            many => {
                // `for root, dirs, files in os.walk(d)`: a lister's first name holds the
                // paths below it; tuple items are otherwise not followed.
                let below = match &it {
                    V::List(items) => items
                        .iter()
                        .find(|v| matches!(v, V::Str(t) if t.contains(SUBTREE)))
                        .cloned(),
                    _ => None,
                };
                for (k, n) in many.iter().enumerate() {
                    let key = self.var_key(n);
                    let v = match (&below, k) {
                        (Some(b), 0) => b.clone(),
                        _ => V::Unknown,
                    };
                    self.vars.insert(key, v);
                }
            }
        }
    }

    /// A Python comprehension (`[f(x) for x in items]`): its loop variable is bound before
    /// the expression in front of it is evaluated.
    fn comprehension(&mut self, close: &str) -> Result<(), String> {
        if self.lang.syntax != Syntax::Python {
            return Ok(());
        }
        let start = self.pos;
        let mut level = 0usize;
        let mut k = start;
        let mut for_at = None;
        while let Some(t) = self.toks.get(k) {
            match t {
                Tok::Punct("(" | "[" | "{") => level += 1,
                Tok::Punct(p) if level == 0 && *p == close => break,
                Tok::Punct(")" | "]" | "}") => level = level.saturating_sub(1),
                Tok::Ident(w) if level == 0 && w == "for" => {
                    for_at = Some(k);
                    break;
                }
                _ => {}
            }
            k += 1;
            self.spend(1)?;
        }
        let Some(f) = for_at else {
            return Ok(());
        };
        self.pos = f;
        self.loop_header()?;
        self.pos = start;
        Ok(())
    }

    /// `def NAME`, `sub NAME`, `function NAME`: notes whether the body calls NAME again (a
    /// function that forks and calls itself is a fork bomb).
    fn function_header(&mut self) {
        let Some(Tok::Ident(name)) = self.peek_at(1).cloned() else {
            return;
        };
        let from = self.pos + 2;
        let mut k = from;
        let mut level = 0usize;
        let mut opened = false;
        while let Some(t) = self.toks.get(k) {
            match t {
                Tok::Punct("{") => {
                    level += 1;
                    opened = true;
                }
                Tok::Punct("}") => {
                    level = level.saturating_sub(1);
                    if opened && level == 0 {
                        break;
                    }
                }
                // Python: the body ends where the next definition starts.
                Tok::Ident(w) if !opened && k > from && matches!(w.as_str(), "def" | "class") => {
                    break;
                }
                Tok::Ident(w) if *w == name && k > from => {
                    self.recursive = true;
                    return;
                }
                _ => {}
            }
            k += 1;
        }
    }

    /// Ruby block parameters `|x|` after `{` or `do`, bound to the items of the receiver
    /// of an iterating call.
    fn block_params(&mut self, v: &V) {
        let _ = v;
        if !self.eat("|") {
            return;
        }
        let mut names = Vec::new();
        while let Some(t) = self.peek().cloned() {
            self.pos += 1;
            match t {
                Tok::Punct("|") => break,
                Tok::Ident(n) => names.push(n),
                _ => {}
            }
            if names.len() > 8 {
                break;
            }
        }
        let it = self.pending.take().unwrap_or(V::Unknown);
        self.bind_loop(&names, it);
    }

    /// JavaScript callback parameters (`x => …`, `(x) => …`, `function (x) {`), bound to the
    /// items of the receiver of an iterating call.
    fn lambda_params(&mut self, v: &V) {
        let _ = v;
        let Some(items) = self.pending.take() else {
            return;
        };
        let names: Vec<String> = match (
            self.peek().cloned(),
            self.peek_at(1).cloned(),
            self.peek_at(2).cloned(),
        ) {
            (Some(Tok::Ident(n)), Some(Tok::Punct("=>")), _) => vec![n],
            (Some(Tok::Punct("(")), Some(Tok::Ident(n)), Some(Tok::Punct(")" | ","))) => vec![n],
            (Some(Tok::Ident(f)), Some(Tok::Punct("(")), Some(Tok::Ident(n)))
                if f == "function" =>
            {
                vec![n]
            }
            _ => return,
        };
        self.bind_loop(&names, items);
    }

    /// `import os, subprocess as sp` (Python); `import x from 'm'`, `import {a as b} from 'm'`,
    /// `import * as m from 'm'` (JavaScript).
    fn import(&mut self) -> Result<(), String> {
        if self.lang.syntax == Syntax::Python {
            loop {
                let Some(Tok::Ident(m)) = self.peek().cloned() else {
                    return Ok(());
                };
                self.pos += 1;
                let mut name = m;
                while self.is_punct(".") {
                    self.pos += 1;
                    if let Some(Tok::Ident(x)) = self.peek().cloned() {
                        name.push('.');
                        name.push_str(&x);
                        self.pos += 1;
                    }
                }
                if matches!(self.peek(), Some(Tok::Ident(a)) if a == "as") {
                    self.pos += 1;
                    if let Some(Tok::Ident(alias)) = self.peek().cloned() {
                        self.pos += 1;
                        self.vars.insert(alias, V::Name(name));
                    }
                }
                if !self.eat(",") {
                    return Ok(());
                }
            }
        }
        // JavaScript: names first, then `from 'module'`.
        let mut binds: Vec<(String, Option<String>)> = Vec::new();
        let start = self.pos;
        while let Some(t) = self.peek().cloned() {
            match t {
                Tok::Ident(f) if f == "from" => break,
                Tok::Str(_) | Tok::Newline | Tok::Punct(";") => break,
                Tok::Punct("*") => {
                    self.pos += 1;
                    if matches!(self.peek(), Some(Tok::Ident(a)) if a == "as") {
                        self.pos += 1;
                        if let Some(Tok::Ident(n)) = self.peek().cloned() {
                            binds.push((n, None));
                        }
                    }
                }
                Tok::Punct("{") => {
                    self.pos += 1;
                    while let Some(Tok::Ident(n)) = self.peek().cloned() {
                        self.pos += 1;
                        let mut local = n.clone();
                        if matches!(self.peek(), Some(Tok::Ident(a)) if a == "as") {
                            self.pos += 1;
                            if let Some(Tok::Ident(l)) = self.peek().cloned() {
                                self.pos += 1;
                                local = l;
                            }
                        }
                        binds.push((local, Some(n)));
                        if !self.eat(",") {
                            break;
                        }
                    }
                }
                Tok::Ident(n) if self.pos == start => binds.push((n, None)),
                _ => {}
            }
            self.pos += 1;
            if self.pos > start + 64 {
                break;
            }
        }
        if matches!(self.peek(), Some(Tok::Ident(f)) if f == "from") {
            self.pos += 1;
        }
        if let Some(Tok::Str(l)) = self.peek().cloned() {
            self.pos += 1;
            let m = module_name(&self.lit(&l)?.text_or_unknown());
            for (local, member) in binds {
                let v = match member {
                    Some(x) => V::Name(format!("{m}.{x}")),
                    None => V::Name(m.clone()),
                };
                self.vars.insert(local, v);
            }
        }
        Ok(())
    }

    /// `from os import system as s, popen`.
    fn import_from(&mut self) {
        let mut module = String::new();
        while let Some(t) = self.peek().cloned() {
            match t {
                Tok::Ident(w) if w == "import" => break,
                Tok::Ident(w) => module.push_str(&w),
                Tok::Punct(".") => module.push('.'),
                _ => return,
            }
            self.pos += 1;
        }
        self.pos += 1;
        self.eat("(");
        while let Some(Tok::Ident(n)) = self.peek().cloned() {
            self.pos += 1;
            let mut local = n.clone();
            if matches!(self.peek(), Some(Tok::Ident(a)) if a == "as") {
                self.pos += 1;
                if let Some(Tok::Ident(l)) = self.peek().cloned() {
                    self.pos += 1;
                    local = l;
                }
            }
            self.vars.insert(local, V::Name(format!("{module}.{n}")));
            self.skip_newlines();
            if !self.eat(",") {
                break;
            }
            self.skip_newlines();
        }
    }

    fn assignment_or_expr(&mut self) -> Result<(), String> {
        // Destructuring: `const {execSync: run} = require('child_process')`.
        if self.is_punct("{") && self.lang.syntax == Syntax::JavaScript {
            let save = self.pos;
            self.pos += 1;
            let mut binds = Vec::new();
            while let Some(Tok::Ident(n)) = self.peek().cloned() {
                self.pos += 1;
                let mut local = n.clone();
                if self.eat(":") {
                    if let Some(Tok::Ident(l)) = self.peek().cloned() {
                        self.pos += 1;
                        local = l;
                    }
                }
                binds.push((local, n));
                if !self.eat(",") {
                    break;
                }
            }
            if self.eat("}") && self.eat("=") {
                let v = self.expr()?;
                for (local, member) in binds {
                    let m = self.member(v.clone(), &member);
                    self.vars.insert(local, m);
                }
                return Ok(());
            }
            self.pos = save;
        }
        // `name = value`, `$name = value`, `name += value`; `a, b = …` is left alone.
        let target = match (self.peek(), self.peek_at(1)) {
            (Some(Tok::Ident(n) | Tok::Var(n)), Some(Tok::Punct(op)))
                if matches!(*op, "=" | "+=" | "~=" | ".=" | "||=" | "<<") =>
            {
                Some((n.clone(), *op))
            }
            _ => None,
        };
        if let Some((name, op)) = target {
            if op == "<<" && !matches!(self.lang.syntax, Syntax::Ruby) {
                self.expr()?;
                return Ok(());
            }
            self.pos += 2;
            let v = self.expr()?;
            self.assign(&name, op, v);
            return Ok(());
        }
        self.expr()?;
        Ok(())
    }

    /// `name = v` (or `+=`, `.=`, …: added to the old value); returns the new value.
    fn assign(&mut self, name: &str, op: &str, v: V) -> V {
        let key = self.var_key(name);
        let v = if op == "=" {
            v
        } else {
            let old = self.vars.get(&key).cloned().unwrap_or(V::Unknown);
            concat(old, v)
        };
        self.vars.insert(key, v.clone());
        v
    }

    fn expr(&mut self) -> Result<V, String> {
        self.spend(1)?;
        let mut l = self.unary()?;
        loop {
            // awk joins values written side by side (`"a" x`, `"/inet/tcp/0/" host`).
            let juxtaposed = match self.peek() {
                Some(Tok::Str(_) | Tok::Num(_) | Tok::Var(_)) => true,
                Some(Tok::Ident(w)) => {
                    !KEYWORDS.contains(&w.as_str()) && w != "getline" && w != "in"
                }
                _ => false,
            };
            if self.lang.syntax == Syntax::Awk && juxtaposed {
                let r = self.unary()?;
                l = concat(l, r);
                continue;
            }
            let op = match self.peek() {
                Some(Tok::Punct(p)) => *p,
                Some(Tok::Ident(w)) if matches!(w.as_str(), "or" | "and" | "x") => match w.as_str()
                {
                    "or" => "||",
                    "and" => "&&",
                    _ => "x",
                },
                Some(Tok::Ident(w)) if w == "if" && self.lang.syntax == Syntax::Python => {
                    // `a if cond else b`: both branches may be the value.
                    self.pos += 1;
                    self.unary()?;
                    if matches!(self.peek(), Some(Tok::Ident(e)) if e == "else") {
                        self.pos += 1;
                        let r = self.expr()?;
                        l = either(l, r);
                    }
                    continue;
                }
                _ => break,
            };
            match op {
                "+" | "~" | "-" | "*" | "/" | "%" | "**" | "//" | "<<" | ">>" | "&" | "|" | "^"
                | "==" | "!=" | "===" | "!==" | "<" | ">" | "<=" | ">=" | "&&" | "||" | "??"
                | "=~" | "!~" | "<=>" | "x" | ".." | "=>" | "|&" => {}
                "?" => {
                    self.pos += 1;
                    let a = self.expr()?;
                    let b = if self.eat(":") {
                        self.expr()?
                    } else {
                        V::Unknown
                    };
                    l = either(a, b);
                    continue;
                }
                // An assignment inside an expression (an arrow function's body, `(x = …)`):
                // the variable takes the value, added to for `+=` and `.=`.
                // (Python's `f(key=value)` is a keyword argument, not an assignment.)
                "=" | "+=" | ".=" | "||=" if !(op == "=" && self.lang.syntax == Syntax::Python) => {
                    let name = match self.pos.checked_sub(1).and_then(|k| self.toks.get(k)) {
                        Some(Tok::Ident(n) | Tok::Var(n)) => n.clone(),
                        _ => break,
                    };
                    self.pos += 1;
                    let r = self.expr()?;
                    l = self.assign(&name, op, r);
                    continue;
                }
                _ => break,
            }
            self.pos += 1;
            self.skip_newlines_in_brackets();
            let r = self.unary()?;
            l = self.binop(op, l, r);
        }
        Ok(l)
    }

    fn skip_newlines_in_brackets(&mut self) {
        self.skip_newlines();
    }

    fn binop(&mut self, op: &str, l: V, r: V) -> V {
        if self.lang.syntax == Syntax::Awk {
            match (op, &l, &r) {
                // `"cmd" | getline`, `"cmd" |& getline`: runs the command.
                ("|" | "|&", _, V::Name(g)) if g == "getline" => {
                    self.process = true;
                    self.effects.push(Effect::Shell(l.text_or_unknown()));
                    return V::Unknown;
                }
                // `print x | "cmd"`: runs the command with the output as its input.
                ("|" | "|&", _, V::Str(cmd)) => {
                    self.process = true;
                    let input = l.text_or_unknown();
                    self.effects.push(Effect::Shell(format!(
                        "{cmd} <<'CRUST_AWK_INPUT'\n{input}\nCRUST_AWK_INPUT"
                    )));
                    return V::Unknown;
                }
                // `print x > "file"`, `>> "file"`.
                (">" | ">>", _, V::Str(f)) => {
                    self.effects.push(Effect::Path(Action::Write, f.clone()));
                    return V::Unknown;
                }
                // `getline line < "file"`.
                ("<", _, V::Str(f)) => {
                    self.effects.push(Effect::Path(Action::Read, f.clone()));
                    return V::Unknown;
                }
                _ => {}
            }
        }
        match op {
            "+" | "~" => match (&l, &r) {
                (V::Num(a), V::Num(b)) if op == "+" => V::Num(a.wrapping_add(*b)),
                (V::List(a), V::List(b)) => {
                    let mut x = a.clone();
                    x.extend(b.iter().cloned());
                    x.truncate(MAX_LIST);
                    V::List(x)
                }
                _ if l.is_texty() || r.is_texty() || op == "~" => concat(l, r),
                _ => V::Unknown,
            },
            "<<" if self.lang.syntax == Syntax::Ruby && l.is_texty() => concat(l, r),
            "&" if self.lang.syntax == Syntax::AppleScript => concat(l, r),
            "/" if self.lang.syntax == Syntax::Python && (l.is_texty() || r.is_texty()) => {
                path_join(&[l, r])
            }
            "%" if l.is_texty() => {
                let args: Vec<V> = match r {
                    V::List(v) => v,
                    v => vec![v],
                };
                V::Str(percent_format(&l.text_or_unknown(), &args))
            }
            "-" | "*" | "<<" | ">>" | "&" | "|" | "^" | "//" | "**" => match (l, r) {
                (V::Num(a), V::Num(b)) => V::Num(match op {
                    "-" => a.wrapping_sub(b),
                    "*" => a.wrapping_mul(b),
                    "<<" => a.checked_shl(b as u32).unwrap_or(0),
                    ">>" => a.checked_shr(b as u32).unwrap_or(0),
                    "&" => a & b,
                    "|" => a | b,
                    "^" => a ^ b,
                    "//" if b != 0 => a.wrapping_div(b),
                    _ => return V::Unknown,
                }),
                _ => V::Unknown,
            },
            "||" | "??" => match l {
                V::Unknown => r,
                l => l,
            },
            _ => V::Unknown,
        }
    }

    fn unary(&mut self) -> Result<V, String> {
        loop {
            match self.peek() {
                Some(Tok::Punct("-")) => {
                    self.pos += 1;
                    return Ok(match self.unary()? {
                        V::Num(n) => V::Num(n.wrapping_neg()),
                        _ => V::Unknown,
                    });
                }
                Some(Tok::Punct("+" | "!" | "~" | "\\" | "*" | "**" | "..." | "&" | "@")) => {
                    self.pos += 1
                }
                Some(Tok::Ident(w))
                    if matches!(
                        w.as_str(),
                        "not"
                            | "new"
                            | "await"
                            | "typeof"
                            | "void"
                            | "my"
                            | "our"
                            | "local"
                            | "lambda"
                            | "yield"
                            | "return"
                            | "defined"
                            | "scalar"
                    ) =>
                {
                    self.pos += 1
                }
                _ => break,
            }
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<V, String> {
        let mut v = self.primary()?;
        // Only a name written in the code is called without parentheses; a value a call
        // returned (`File.method(:read)`) is not.
        let mut named = matches!(v, V::Name(_));
        loop {
            self.spend(1)?;
            match self.peek().cloned() {
                Some(Tok::Punct(".")) => {
                    self.pos += 1;
                    match self.peek().cloned() {
                        Some(Tok::Ident(n)) => {
                            self.pos += 1;
                            v = self.member(v, &n);
                            named = true;
                        }
                        Some(Tok::Var(n)) => {
                            // `$obj->$method`: a method named at run time.
                            self.pos += 1;
                            let _ = n;
                            v = V::Unknown;
                        }
                        _ => {}
                    }
                }
                // PowerShell: `Join-Path (…) 'x'` is a command given a parenthesised argument.
                Some(Tok::Punct("("))
                    if self.lang.syntax == Syntax::PowerShell
                        && matches!(&v, V::Name(n) if n.contains('-'))
                        && named
                        && self.bare_call(&v) =>
                {
                    let args = self.bare_args()?;
                    v = self.call(v, args)?;
                    named = false;
                }
                Some(Tok::Punct("(")) => {
                    self.pos += 1;
                    // `list.forEach(x => …)`, `list.map(function (x) { … })`: the callback's
                    // parameter is each item.
                    if self.lang.syntax == Syntax::JavaScript {
                        self.lambda_params(&v);
                    }
                    let args = self.args(")")?;
                    v = self.call(v, args)?;
                    named = false;
                }
                Some(Tok::Punct("[")) => {
                    self.pos += 1;
                    // `[::-1]`: reversed.
                    if matches!(
                        (
                            self.peek(),
                            self.peek_at(1),
                            self.peek_at(2),
                            self.peek_at(3),
                            self.peek_at(4)
                        ),
                        (
                            Some(Tok::Punct(":")),
                            Some(Tok::Punct(":")),
                            Some(Tok::Punct("-")),
                            Some(Tok::Num(1)),
                            Some(Tok::Punct("]"))
                        )
                    ) {
                        self.pos += 5;
                        v = match v {
                            V::Str(t) => V::Str(t.chars().rev().collect()),
                            V::List(items) => V::List(items.into_iter().rev().collect()),
                            _ => V::Unknown,
                        };
                        continue;
                    }
                    let args = self.args("]")?;
                    v = self.index(v, args.pos.into_iter().next().unwrap_or(V::Unknown));
                }
                Some(Tok::Punct("{"))
                    if matches!(self.lang.syntax, Syntax::Perl)
                        && matches!(v, V::Name(_) | V::Unknown) =>
                {
                    // `$ENV{HOME}`, `$h{key}`.
                    self.pos += 1;
                    let key = match (self.peek().cloned(), self.peek_at(1)) {
                        (Some(Tok::Ident(k)), Some(Tok::Punct("}"))) => {
                            self.pos += 2;
                            V::Str(k)
                        }
                        _ => self.args("}")?.pos.into_iter().next().unwrap_or(V::Unknown),
                    };
                    v = self.index(v, key);
                }
                Some(Tok::Punct("{")) if self.lang.syntax == Syntax::Ruby => {
                    // A block: its statements run (perhaps many times), its parameters bound
                    // to the items it is given (`list.each { |x| … }`).
                    self.pos += 1;
                    self.block_params(&v);
                    self.statements(Some("}"))?;
                }
                Some(Tok::Ident(d)) if d == "do" && self.lang.syntax == Syntax::Ruby => {
                    self.pos += 1;
                    self.block_params(&v);
                    self.loops = true;
                    return Ok(v);
                }
                Some(Tok::Str(_) | Tok::Var(_) | Tok::Ident(_) | Tok::Num(_))
                    if named && self.bare_call(&v) =>
                {
                    let args = self.bare_args()?;
                    v = self.call(v, args)?;
                    named = false;
                }
                _ => {
                    if named && self.bare_call(&v) {
                        // `fork`, `Dir.home` without arguments.
                        v = self.call(v, Args::default())?;
                    }
                    return Ok(v);
                }
            }
        }
    }

    /// Perl and Ruby call functions without parentheses (`system "ls"`, `Dir.home`).
    fn bare_call(&self, v: &V) -> bool {
        if !matches!(
            self.lang.syntax,
            Syntax::Perl | Syntax::Ruby | Syntax::PowerShell | Syntax::AppleScript
        ) {
            return false;
        }
        let name = match v {
            V::Name(n) => n.as_str(),
            V::Method(_, m) => m.as_str(),
            _ => return false,
        };
        self.caps(name).next().is_some()
    }

    /// Arguments of a call without parentheses: to the end of the statement or a statement
    /// modifier (`… if cond`, `… or die`).
    fn bare_args(&mut self) -> Result<Args, String> {
        let mut args = Args::default();
        loop {
            match self.peek() {
                None | Some(Tok::Newline) => break,
                Some(Tok::Punct(";" | ")" | "]" | "}" | "{")) => break,
                Some(Tok::Ident(w))
                    if matches!(
                        w.as_str(),
                        "if" | "unless"
                            | "while"
                            | "until"
                            | "or"
                            | "and"
                            | "for"
                            | "foreach"
                            | "do"
                    ) =>
                {
                    break
                }
                _ => {}
            }
            // PowerShell parameter names (`-ChildPath`) are not values.
            if self.lang.syntax == Syntax::PowerShell
                && self.is_punct("-")
                && matches!(self.peek_at(1), Some(Tok::Ident(_)))
            {
                self.pos += 2;
                continue;
            }
            let before = self.pos;
            let v = self.expr()?;
            if self.eat("=>") {
                let val = self.expr()?;
                args.kw.push((v.text_or_unknown(), val));
            } else {
                args.pos.push(v);
            }
            if self.pos == before {
                break;
            }
            // PowerShell separates a command's arguments with spaces.
            if !self.eat(",") && self.lang.syntax != Syntax::PowerShell {
                break;
            }
        }
        Ok(args)
    }

    /// Arguments up to the closing bracket (consumed): positional and keyword (`k=v`,
    /// `k => v`, `k: v`).
    fn args(&mut self, close: &str) -> Result<Args, String> {
        let mut args = Args::default();
        loop {
            self.skip_newlines();
            let Some(t) = self.peek().cloned() else {
                break;
            };
            match t {
                Tok::Punct(p) if p == close => {
                    self.pos += 1;
                    break;
                }
                Tok::Punct(")" | "]" | "}") => {
                    // A stray closing bracket: the arguments end here.
                    self.pos += 1;
                    break;
                }
                Tok::Punct(",") => {
                    self.pos += 1;
                    continue;
                }
                _ => {}
            }
            // `key=value` (Python), `key: value` (Ruby, JavaScript objects).
            if let (Some(Tok::Ident(k)), Some(Tok::Punct("=" | ":"))) =
                (self.peek().cloned(), self.peek_at(1).cloned())
            {
                self.pos += 2;
                let v = self.expr()?;
                args.kw.push((k, v));
                continue;
            }
            let before = self.pos;
            let v = self.expr()?;
            if self.eat("=>") || self.eat(":") {
                let val = self.expr()?;
                args.kw.push((v.text_or_unknown(), val));
            } else if self.pos != before {
                if args.pos.len() < MAX_LIST {
                    args.pos.push(v);
                }
            } else {
                // Syntax the evaluator does not follow (`for` in a comprehension, a lambda's
                // `:`): skipped; calls after it are still found.
                if let Some(Tok::Ident(w)) = self.peek() {
                    if LOOPS.contains(&w.as_str()) {
                        self.loops = true;
                    }
                }
                self.pos += 1;
            }
        }
        Ok(args)
    }

    fn primary(&mut self) -> Result<V, String> {
        self.spend(1)?;
        let Some(t) = self.peek().cloned() else {
            return Ok(V::Unknown);
        };
        self.pos += 1;
        Ok(match t {
            Tok::Str(l) => {
                let mut v = self.lit(&l)?;
                // gawk's network files: `/inet/tcp/LPORT/HOST/RPORT`.
                if self.lang.syntax == Syntax::Awk {
                    if let Some(rest) = l.raw.strip_prefix("/inet") {
                        self.socket = true;
                        self.network = true;
                        let parts: Vec<&str> = rest.split('/').collect();
                        if let Some(h) = parts.get(3).filter(|h| !h.is_empty() && **h != "0") {
                            self.effects.push(Effect::Net((*h).to_owned()));
                        }
                    }
                }
                // `"sys" "tem"`: adjacent literals are one string.
                while self.lang.syntax == Syntax::Python && !l.shell {
                    let Some(Tok::Str(n)) = self.peek().cloned() else {
                        break;
                    };
                    self.pos += 1;
                    let next = self.lit(&n)?;
                    v = concat(v, next);
                }
                if l.shell {
                    self.process = true;
                    self.effects.push(Effect::Shell(v.text_or_unknown()));
                    V::Unknown
                } else {
                    v
                }
            }
            Tok::Num(n) => V::Num(n),
            Tok::Unknown => V::Unknown,
            Tok::Ident(w) => match w.as_str() {
                "true" | "false" | "True" | "False" | "None" | "null" | "nil" | "undefined"
                | "self" | "this" => V::Unknown,
                "function" | "def" | "sub" | "fn" | "lambda" if !self.vars.contains_key(&w) => {
                    V::Unknown
                }
                _ => match self.vars.get(&w) {
                    Some(v) => v.clone(),
                    None if KEYWORDS.contains(&w.as_str()) => {
                        if LOOPS.contains(&w.as_str()) {
                            self.loops = true;
                        }
                        V::Unknown
                    }
                    None if self.caps(&w).any(|c| c == Capability::Separator) => V::Str("/".into()),
                    None => V::Name(w),
                },
            },
            Tok::Var(n) => self.var_value(&n),
            Tok::Punct("(") => {
                self.comprehension(")")?;
                let args = self.args(")")?;
                let mut pos = args.pos;
                if pos.len() == 1 {
                    pos.pop().unwrap_or(V::Unknown)
                } else {
                    V::List(pos)
                }
            }
            Tok::Punct("[") => {
                self.comprehension("]")?;
                let args = self.args("]")?;
                V::List(args.pos)
            }
            Tok::Punct("{") => {
                // An object or dict literal, or a block: what it holds is evaluated, and the
                // text values written directly in it are its value (`{host: "…"}`).
                let start = self.pos;
                self.statements(Some("}"))?;
                let end = self.pos;
                let mut level = 0usize;
                let mut items = Vec::new();
                for k in start..end {
                    match self.toks.get(k) {
                        Some(Tok::Punct("{" | "(" | "[")) => level += 1,
                        Some(Tok::Punct("}" | ")" | "]")) => level = level.saturating_sub(1),
                        Some(Tok::Str(l)) if level == 0 && items.len() < MAX_LIST => {
                            let l = l.clone();
                            if let V::Str(t) = self.lit(&l)? {
                                items.push(V::Str(t));
                            }
                        }
                        _ => {}
                    }
                }
                V::Obj(items)
            }
            _ => V::Unknown,
        })
    }

    fn var_key(&self, name: &str) -> String {
        let k = var_key(name);
        if self.lang.syntax == Syntax::PowerShell {
            k.to_ascii_lowercase()
        } else {
            k
        }
    }

    /// The value of a sigil variable (`$x`, `$ENV`, PowerShell's `$env:HOME`).
    fn var_value(&self, name: &str) -> V {
        let key = self.var_key(name);
        if let Some(v) = self.vars.get(&key) {
            return v.clone();
        }
        if let Some(e) = key.strip_prefix("env:") {
            return self.env(&e.to_ascii_uppercase());
        }
        match key.as_str() {
            // The environment hashes.
            "ENV" | "_ENV" | "_SERVER" => V::Name("ENV".into()),
            _ => V::Unknown,
        }
    }

    /// A string literal's value, with interpolation worked out.
    fn lit(&mut self, l: &Lit) -> Result<V, String> {
        self.spend(l.raw.len())?;
        if l.words {
            let items = l
                .raw
                .split_whitespace()
                .take(MAX_LIST)
                .map(|w| V::Str(w.to_owned()))
                .collect();
            return Ok(V::List(items));
        }
        if l.interp == Interp::None {
            if l.verbatim {
                return Ok(V::Str(l.raw.clone()));
            }
            return Ok(V::Str(lex::unescape(&l.raw, l.raw_escapes)));
        }
        let chunk = |t: &str| {
            if l.verbatim {
                t.to_owned()
            } else {
                lex::unescape(t, false)
            }
        };
        let raw = l.raw.as_str();
        let b = raw.as_bytes();
        let mut out = String::new();
        let mut lit_from = 0;
        let mut i = 0;
        while i < b.len() {
            let c = b.get(i).copied().unwrap_or(0);
            if c == b'\\' && !l.verbatim {
                i += 2;
                continue;
            }
            // PowerShell's `$(…)` in a string runs statements.
            if l.verbatim && c == b'$' && b.get(i + 1) == Some(&b'(') {
                out.push_str(&chunk(raw.get(lit_from..i).unwrap_or("")));
                let (inner_end, after) = lex::pwsh::group(b, i + 1);
                let inner = raw.get(i + 2..inner_end).unwrap_or("");
                self.effects.push(Effect::Commands(inner.to_owned()));
                out.push(UNKNOWN);
                i = after;
                lit_from = i;
                continue;
            }
            let (expr_start, open) = match (l.interp, c, b.get(i + 1).copied()) {
                (Interp::Brace, b'{', Some(b'{')) => {
                    i += 2;
                    continue;
                }
                (Interp::Brace, b'{', _) => (i + 1, b'{'),
                (Interp::DollarBrace, b'$', Some(b'{')) => (i + 2, b'{'),
                (Interp::Hash, b'#', Some(b'{')) => (i + 2, b'{'),
                (Interp::Sigil, b'$' | b'@', Some(n))
                    if n.is_ascii_alphabetic() || n == b'_' || n == b'{' =>
                {
                    (i, b'$')
                }
                (Interp::Sigil, b'{', Some(b'$')) => (i + 1, b'{'),
                _ => {
                    i += 1;
                    continue;
                }
            };
            out.push_str(&chunk(raw.get(lit_from..i).unwrap_or("")));
            if open == b'{' {
                let mut level = 1;
                let mut j = expr_start;
                while j < b.len() && level > 0 {
                    match b.get(j) {
                        Some(b'{') => level += 1,
                        Some(b'}') => level -= 1,
                        _ => {}
                    }
                    j += 1;
                }
                let inner = raw.get(expr_start..j.saturating_sub(1)).unwrap_or("");
                // Python's `{x!r:>10}`: the expression before a conversion or format.
                let inner = if l.interp == Interp::Brace {
                    inner.split(['!', ':']).next().unwrap_or("")
                } else {
                    inner
                };
                out.push_str(&self.sub_expr(inner)?.text_or_unknown());
                i = j;
            } else {
                // `$name`, `${name}`, `$name{key}`, `$name[0]`, `@name`.
                let mut j = i + 1;
                let braced = b.get(j) == Some(&b'{');
                if braced {
                    j += 1;
                }
                let name_from = j;
                while b
                    .get(j)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b':')
                {
                    j += 1;
                }
                let name = raw.get(name_from..j).unwrap_or("").replace("::", ".");
                if braced && b.get(j) == Some(&b'}') {
                    j += 1;
                }
                let mut v = self.var_value(&name);
                if matches!(b.get(j), Some(b'{' | b'[')) && matches!(v, V::Name(_)) {
                    let close = if b.get(j) == Some(&b'{') { b'}' } else { b']' };
                    let k0 = j + 1;
                    let mut k = k0;
                    while k < b.len() && b.get(k) != Some(&close) {
                        k += 1;
                    }
                    let key = raw
                        .get(k0..k)
                        .unwrap_or("")
                        .trim_matches(|c| c == '\'' || c == '"');
                    v = self.index(v, V::Str(key.to_owned()));
                    j = k + 1;
                }
                out.push_str(&v.text_or_unknown());
                i = j;
            }
            lit_from = i.min(b.len());
        }
        out.push_str(&chunk(raw.get(lit_from..).unwrap_or("")));
        Ok(V::Str(cap(out)))
    }

    /// An expression inside an interpolated string.
    fn sub_expr(&mut self, text: &str) -> Result<V, String> {
        self.spend(text.len())?;
        let toks = lex::lex(text, self.lang.syntax);
        let saved = (std::mem::replace(&mut self.toks, toks), self.pos);
        self.pos = 0;
        let v = self.expr();
        // What else is there (a second expression, a block) is still evaluated.
        let rest = self.statements(None);
        self.toks = saved.0;
        self.pos = saved.1;
        rest?;
        v
    }

    fn member(&mut self, base: V, name: &str) -> V {
        match base {
            V::Name(n) => {
                let joined = format!("{n}.{name}");
                if self.caps(&joined).any(|c| c == Capability::Separator) {
                    return V::Str("/".into());
                }
                // `process.env.HOME` is a variable; `os.environ.get` is a function.
                if self.is_env(&n) && self.caps(&joined).next().is_none() {
                    return self.env(name);
                }
                V::Name(joined)
            }
            other => {
                if matches!(other, V::List(_) | V::Alts(_) | V::Obj(_))
                    && self.caps(name).any(|c| c == Capability::Map)
                {
                    self.pending = Some(other.clone());
                }
                V::Method(Box::new(other), name.to_owned())
            }
        }
    }

    fn index(&mut self, base: V, key: V) -> V {
        match (&base, key) {
            (V::Name(n), V::Str(k)) if self.is_env(n) => self.env(&k),
            // `require('child_process')['execSync']`, `os.__dict__['system']`.
            (V::Name(_), V::Str(k)) if is_ident(&k) => self.member(base, &k),
            (V::List(items), V::Num(i)) => {
                let i = if i < 0 { items.len() as i64 + i } else { i };
                usize::try_from(i)
                    .ok()
                    .and_then(|i| items.get(i).cloned())
                    .unwrap_or(V::Unknown)
            }
            _ => V::Unknown,
        }
    }

    /// An environment variable's value, its name noted.
    fn env(&self, name: &str) -> V {
        let mut reads = self.env_reads.borrow_mut();
        if reads.len() < 64 && !reads.iter().any(|r| r == name) {
            reads.push(name.to_owned());
        }
        env_value(name)
    }

    fn is_env(&self, name: &str) -> bool {
        name == "ENV" || self.caps(name).any(|c| c == Capability::Env)
    }

    /// The capabilities of a call named `name` (a dotted name or a method name), each with
    /// the length of the entry that matched (longer is more specific).
    fn caps<'s>(&'s self, name: &'s str) -> impl Iterator<Item = Capability> + 's {
        self.caps_ranked(name).map(|(c, _)| c)
    }

    fn caps_ranked<'s>(&'s self, name: &'s str) -> impl Iterator<Item = (Capability, usize)> + 's {
        let fold = matches!(self.lang.syntax, Syntax::Php | Syntax::PowerShell);
        let eq = move |a: &str, b: &str| {
            if fold {
                a.eq_ignore_ascii_case(b)
            } else {
                a == b
            }
        };
        let mut found: Vec<(Capability, usize)> = Vec::new();
        if let Some(entries) = self.calls_by_key.get(&call_key(name, fold)) {
            for (does, e) in entries {
                let matches = eq(name, e)
                    || (name.len() > e.len()
                        && name
                            .get(name.len() - e.len()..)
                            .is_some_and(|tail| eq(tail, e))
                        && name.as_bytes().get(name.len() - e.len() - 1) == Some(&b'.'));
                if matches {
                    match found.iter_mut().find(|(c, _)| c == does) {
                        Some(f) => f.1 = f.1.max(e.len()),
                        None => found.push((*does, e.len())),
                    }
                }
            }
        }
        found.into_iter()
    }

    fn call(&mut self, callee: V, args: Args) -> Result<V, String> {
        self.spend(1 + args.pos.len())?;
        let (name, recv) = match callee {
            V::Name(n) => (n, None),
            V::Method(r, m) => (m, Some(*r)),
            // A function named by text (`$f = 'system'; $f('…')`).
            V::Str(s) if is_ident(&s.replace(['.', ':'], "")) && !s.is_empty() => {
                (s.replace("::", "."), None)
            }
            V::Str(s) if s.contains(UNKNOWN) => {
                self.effects.push(Effect::Signal(signal::OPAQUE_CODE));
                return Ok(V::Unknown);
            }
            _ => return Ok(V::Unknown),
        };
        // Ruby's `m.call(args)` on a method object.
        if self.lang.syntax == Syntax::Ruby && recv.is_none() {
            if let Some(f) = name.strip_suffix(".call") {
                if self.caps(&name).next().is_none() && self.calls < MAX_DEPTH * 4 {
                    self.calls += 1;
                    let out = self.call(V::Name(f.to_owned()), args);
                    self.calls -= 1;
                    return out;
                }
            }
        }
        // JavaScript's `f.call(this, a…)` and `f.apply(this, [a…])`.
        let (name, recv) = match name.rsplit_once('.') {
            Some((f, m))
                if recv.is_none()
                    && matches!(m, "call" | "apply")
                    && self.lang.syntax == Syntax::JavaScript
                    && self.caps(&name).next().is_none() =>
            {
                (m.to_owned(), Some(V::Name(f.to_owned())))
            }
            _ => (name, recv),
        };
        if self.lang.syntax == Syntax::JavaScript && matches!(name.as_str(), "call" | "apply") {
            if let Some(f @ V::Name(_)) = recv {
                let mut rest: Vec<V> = args.pos.into_iter().skip(1).collect();
                if name == "apply" {
                    rest = match rest.pop() {
                        Some(V::List(items)) => items,
                        _ => Vec::new(),
                    };
                }
                let args = Args {
                    pos: rest,
                    kw: args.kw,
                };
                return self.call(f, args);
            }
        }
        let mut caps: Vec<(Capability, usize)> = self.caps_ranked(&name).collect();
        // The environment as a whole handed to a function (`json.dumps(dict(os.environ))`).
        if args
            .pos
            .iter()
            .chain(args.kw.iter().map(|(_, v)| v))
            .any(|a| matches!(a, V::Name(n) if self.is_env(n)))
        {
            self.env_dump = true;
        }
        // `.then(eval)`, `forEach(os.system)`: a function that runs code, handed data known
        // only when it runs (functions that apply it to known items follow it instead).
        if !caps
            .iter()
            .any(|(c, _)| matches!(c, Capability::Map | Capability::Apply | Capability::Send))
            && args.pos.iter().any(|a| match a {
                V::Name(n) => self
                    .caps(n)
                    .any(|c| matches!(c, Capability::Eval | Capability::Shell | Capability::Exec)),
                _ => false,
            })
        {
            self.effects.push(Effect::Signal(signal::OPAQUE_CODE));
        }
        // Every meaning acts; the value is the most specific one's (`os.path.join` is a
        // path join, not `str.join`).
        caps.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
        let mut result = None;
        for (c, _) in caps {
            if let Some(v) = self.apply(c, &name, recv.as_ref(), &args)? {
                // A file's text is the result only when no other capability of the call
                // gives one (`rglob` reads and lists: the listing is its value).
                if result.is_none() || matches!(result, Some(V::Contents(_))) {
                    result = Some(v);
                }
            }
        }
        Ok(result.unwrap_or(V::Unknown))
    }

    /// The first argument, or the receiver when there is none.
    fn subject<'v>(recv: Option<&'v V>, args: &'v Args) -> Option<&'v V> {
        match recv {
            // `Path(p).write_text(data)`: a method of a path acts on the path.
            Some(r) if r.is_texty() || matches!(r, V::Alts(_)) => Some(r),
            _ => args.pos.first().or(recv),
        }
    }

    fn apply(
        &mut self,
        c: Capability,
        name: &str,
        recv: Option<&V>,
        args: &Args,
    ) -> Result<Option<V>, String> {
        let first = Self::subject(recv, args);
        match c {
            Capability::Path(action) => {
                let targets: Vec<&V> = if action == Action::Delete {
                    if args.pos.is_empty() || recv.is_some_and(|r| r.is_texty()) {
                        recv.into_iter().collect()
                    } else {
                        args.pos.iter().collect()
                    }
                } else {
                    first.into_iter().collect()
                };
                // `open(file=…)`, `rmtree(path=…)`.
                let named = args
                    .kw
                    .iter()
                    .filter(|(k, _)| PATH_KEYS.contains(&k.as_str()))
                    .map(|(_, v)| v);
                let targets: Vec<&V> = targets.into_iter().chain(named).collect();
                let mut read_one = None;
                for t in &targets {
                    let mut texts = Vec::new();
                    t.texts(&mut texts);
                    for p in texts {
                        read_one = Some(p.clone());
                        self.effects.push(Effect::Path(action, p));
                    }
                }
                // A whole file's text, from one known path.
                if action == Action::Read && targets.len() == 1 {
                    if let Some(p) = read_one.filter(|p| !p.contains(UNKNOWN)) {
                        return Ok(Some(V::Contents(p)));
                    }
                }
            }
            Capability::Open => self.open(recv, args),
            Capability::Copy | Capability::Move => {
                let from = if c == Capability::Move {
                    Action::Delete
                } else {
                    Action::Read
                };
                // A copy or move may take a whole directory (`copytree`, `cp_r`).
                let (src, dst) = match recv.filter(|r| r.is_texty()) {
                    Some(r) => (Some(r), args.pos.first()),
                    None => (args.pos.first(), args.pos.get(1)),
                };
                if let Some(s) = src {
                    let mut texts = Vec::new();
                    s.texts(&mut texts);
                    for t in texts {
                        self.effects.push(Effect::Tree(from, t));
                    }
                }
                if let Some(d) = dst {
                    let mut texts = Vec::new();
                    d.texts(&mut texts);
                    for t in texts {
                        self.effects.push(Effect::Path(Action::Write, t));
                    }
                }
            }
            Capability::Shell => {
                self.process = true;
                match first {
                    Some(v) if v.is_texty() => {
                        let mut texts = Vec::new();
                        v.texts(&mut texts);
                        for t in texts {
                            self.effects.push(Effect::Shell(t));
                        }
                    }
                    Some(V::List(items)) => self.argv(items.clone()),
                    _ => self.effects.push(Effect::Signal(signal::OPAQUE_CODE)),
                }
            }
            Capability::Exec => {
                self.process = true;
                self.exec(args);
            }
            Capability::Eval if self.lang.syntax == Syntax::PowerShell => match first {
                Some(v) if v.is_texty() => {
                    self.effects.push(Effect::Commands(v.text_or_unknown()));
                }
                _ => self.effects.push(Effect::Signal(signal::OPAQUE_CODE)),
            },
            Capability::Eval => match first.cloned() {
                // Code read from a file: that file runs, judged by its path.
                Some(V::Contents(p)) => self.effects.push(Effect::Path(Action::Execute, p)),
                Some(v) if v.is_texty() => {
                    let code = v.text_or_unknown();
                    if code.contains(UNKNOWN) {
                        self.effects.push(Effect::Signal(signal::OPAQUE_CODE));
                    }
                    self.run(&code)?;
                }
                _ => self.effects.push(Effect::Signal(signal::OPAQUE_CODE)),
            },
            Capability::Network | Capability::Socket => {
                self.network = true;
                if c == Capability::Socket {
                    self.socket = true;
                }
                let mut texts = Vec::new();
                for v in args.pos.iter().chain(args.kw.iter().map(|(_, v)| v)) {
                    v.texts(&mut texts);
                }
                for t in texts {
                    if looks_like_host(&t) {
                        self.effects.push(Effect::Net(t));
                    }
                }
            }
            Capability::Dup => self.dup = true,
            Capability::Fork => self.fork = true,
            Capability::Import => {
                if let Some(m) = args.pos.first().and_then(V::text) {
                    return Ok(Some(V::Name(module_name(&m))));
                }
            }
            Capability::Home => {
                // .NET's special folders, by name.
                let folder = args.pos.first().and_then(V::text).unwrap_or_default();
                let path = match folder.to_ascii_lowercase().as_str() {
                    "applicationdata" => "~/AppData/Roaming",
                    "localapplicationdata" => "~/AppData/Local",
                    "startup" => "~/AppData/Roaming/Microsoft/Windows/Start Menu/Programs/Startup",
                    "desktop" | "desktopdirectory" => "~/Desktop",
                    "mydocuments" | "personal" => "~/Documents",
                    _ => "~",
                };
                return Ok(Some(V::Str(path.into())));
            }
            Capability::ExpandHome | Capability::Same => {
                return Ok(Some(match (recv, args.pos.first()) {
                    (Some(r), _) if r.is_texty() || matches!(r, V::List(_)) => r.clone(),
                    (_, Some(a)) => a.clone(),
                    _ => V::Unknown,
                }))
            }
            Capability::Env => {
                if let Some(k) = args.pos.first().and_then(V::text) {
                    return Ok(Some(self.env(&k)));
                }
            }
            Capability::PathJoin => {
                let mut parts: Vec<V> =
                    recv.filter(|r| r.is_texty()).cloned().into_iter().collect();
                parts.extend(args.pos.iter().cloned());
                return Ok(Some(path_join(&parts)));
            }
            Capability::Join => return Ok(Some(join(recv, args, self.lang.syntax))),
            Capability::Format => {
                let (fmt, rest): (String, Vec<V>) = match recv.filter(|r| r.is_texty()) {
                    Some(r) => (r.text_or_unknown(), args.pos.clone()),
                    None => (
                        first.map(V::text_or_unknown).unwrap_or_default(),
                        args.pos.iter().skip(1).cloned().collect(),
                    ),
                };
                let out = if recv.is_some_and(V::is_texty) && self.lang.syntax == Syntax::Python {
                    brace_format(&fmt, &rest, &args.kw)
                } else {
                    percent_format(&fmt, &rest)
                };
                return Ok(Some(V::Str(out)));
            }
            Capability::Chr => {
                let mut s = String::new();
                let mut all: Vec<V> = Vec::new();
                for a in &args.pos {
                    match a {
                        V::List(x) => all.extend(x.iter().cloned()),
                        v => all.push(v.clone()),
                    }
                }
                for a in all.iter().take(MAX_TEXT) {
                    match a {
                        V::Num(n) => s.push(
                            u32::try_from(*n)
                                .ok()
                                .and_then(char::from_u32)
                                .unwrap_or(UNKNOWN),
                        ),
                        _ => s.push(UNKNOWN),
                    }
                }
                return Ok(Some(V::Str(s)));
            }
            Capability::Base64 | Capability::Hex | Capability::Inflate => {
                let input = first.and_then(V::bytes);
                let out = input.and_then(|b| decode(c, &b));
                return Ok(Some(out.map_or(V::Unknown, V::Bytes)));
            }
            Capability::Buffer => {
                // `Buffer.from(data, enc)`, `codecs.decode(data, enc)`; as a method,
                // `data.decode(enc)`, `data.toString(enc)`.
                let (data, enc) = match recv {
                    Some(r) if r.is_texty() || matches!(r, V::Unknown) => {
                        (Some(r), args.pos.first())
                    }
                    _ => (args.pos.first(), args.pos.get(1)),
                };
                let enc = enc
                    .or_else(|| {
                        args.kw
                            .iter()
                            .find(|(k, _)| matches!(k.as_str(), "encoding" | "enc"))
                            .map(|(_, v)| v)
                    })
                    .and_then(V::text)
                    .unwrap_or_default()
                    .to_ascii_lowercase()
                    .replace(['-', '_'], "");
                let Some(v) = data else {
                    return Ok(None);
                };
                let encodes = matches!(name.rsplit('.').next(), Some("encode" | "toString"));
                let out = match enc.as_str() {
                    "" | "utf8" | "ascii" | "latin1" | "binary" | "utf16le" | "ucs2"
                    | "iso88591" | "cp1252" | "utf16" | "strict" | "ignore" | "replace" => {
                        v.clone()
                    }
                    _ if encodes => V::Unknown,
                    "base64" | "base64url" => v
                        .bytes()
                        .and_then(|b| decode(Capability::Base64, &b))
                        .map_or(V::Unknown, V::Bytes),
                    "hex" => v
                        .bytes()
                        .and_then(|b| decode(Capability::Hex, &b))
                        .map_or(V::Unknown, V::Bytes),
                    "rot13" => v.text().map_or(V::Unknown, |t| V::Str(rot13(&t))),
                    "zlib" | "zip" | "gzip" => v
                        .bytes()
                        .and_then(|b| decode(Capability::Inflate, &b))
                        .map_or(V::Unknown, V::Bytes),
                    // A transform Crust does not model: its output is not known.
                    _ => V::Unknown,
                };
                return Ok(Some(out));
            }
            Capability::Member => {
                // `getattr(obj, "name")`; with one argument the object is the receiver or the
                // call's own prefix (`mod.__getattribute__("name")`, `Kernel.const_get(:IO)`).
                let (obj, n) = match (args.pos.first(), args.pos.get(1)) {
                    (Some(o), Some(n)) => (o.clone(), n),
                    (Some(n), None) => {
                        let obj = match recv {
                            Some(r) => r.clone(),
                            None => match name.rsplit_once('.') {
                                Some((prefix, _)) => V::Name(prefix.to_owned()),
                                None => return Ok(None),
                            },
                        };
                        (obj, n)
                    }
                    _ => return Ok(None),
                };
                return Ok(Some(match n.text() {
                    Some(n) if !n.contains(UNKNOWN) => self.member(obj, &n),
                    _ => {
                        self.effects.push(Effect::Signal(signal::OPAQUE_CODE));
                        V::Unknown
                    }
                }));
            }
            Capability::Map => {
                if self.depth + self.calls >= MAX_DEPTH * 4 {
                    return Ok(None);
                }
                let (f, list) = match (recv, args.pos.first(), args.pos.get(1)) {
                    (Some(r @ (V::List(_) | V::Str(_))), Some(f), _) => (f.clone(), r.clone()),
                    (_, Some(f), Some(l)) => (f.clone(), l.clone()),
                    _ => return Ok(None),
                };
                let f = match f {
                    V::Str(t) if is_ident(&t) => V::Name(t),
                    f => f,
                };
                let items = match list {
                    V::List(items) => items,
                    V::Str(t) => t.chars().map(|c| V::Str(c.to_string())).collect(),
                    _ => return Ok(Some(V::Unknown)),
                };
                let mut out = Vec::new();
                for it in items.into_iter().take(MAX_LIST) {
                    self.calls += 1;
                    let v = self.call(
                        f.clone(),
                        Args {
                            pos: vec![it],
                            kw: Vec::new(),
                        },
                    );
                    self.calls -= 1;
                    out.push(v?);
                }
                return Ok(Some(V::List(out)));
            }
            Capability::Reverse => {
                return Ok(Some(match first {
                    Some(V::Str(t)) => V::Str(t.chars().rev().collect()),
                    Some(V::List(items)) => V::List(items.iter().rev().cloned().collect()),
                    _ => V::Unknown,
                }))
            }
            Capability::Split => {
                let (text, sep) = match recv.filter(|r| r.is_texty()) {
                    Some(r) => (r.text(), args.pos.first().and_then(V::text)),
                    None => (
                        args.pos.get(1).and_then(V::text),
                        args.pos.first().and_then(V::text),
                    ),
                };
                let Some(text) = text else {
                    return Ok(Some(V::Unknown));
                };
                let items: Vec<V> = match sep.as_deref() {
                    Some("") => text.chars().map(|c| V::Str(c.to_string())).collect(),
                    Some(sep) => text.split(sep).map(|p| V::Str(p.to_owned())).collect(),
                    None => text
                        .split_whitespace()
                        .map(|p| V::Str(p.to_owned()))
                        .collect(),
                };
                return Ok(Some(V::List(items.into_iter().take(MAX_LIST).collect())));
            }
            Capability::Rot13 => {
                return Ok(Some(
                    first
                        .and_then(V::text)
                        .map_or(V::Unknown, |t| V::Str(rot13(&t))),
                ))
            }
            Capability::Runs => self.effects.push(Effect::Signal(signal::OPAQUE_CODE)),
            Capability::Cwd => return Ok(Some(V::Str(".".into()))),
            Capability::Upload => {
                self.network = true;
                if let Some(u) = args.pos.first().and_then(V::text) {
                    if looks_like_host(&u) {
                        self.effects.push(Effect::Net(u));
                    }
                }
                if let Some(f) = args.pos.last().filter(|_| args.pos.len() > 1) {
                    let mut texts = Vec::new();
                    f.texts(&mut texts);
                    for t in texts {
                        self.effects.push(Effect::Path(Action::Read, t));
                    }
                }
            }
            Capability::List => {
                let Some(dir) = first.and_then(V::text) else {
                    return Ok(Some(V::List(vec![V::Unknown])));
                };
                self.effects.push(Effect::Path(Action::Read, dir.clone()));
                // The entries: anything below the directory (a pattern argument narrows
                // nothing the analysis relies on).
                let below = format!("{}/{}", dir.trim_end_matches('/'), SUBTREE);
                return Ok(Some(V::List(vec![V::Str(below)])));
            }
            Capability::Separator => return Ok(Some(V::Str("/".into()))),
            Capability::Send | Capability::Apply => {
                if self.depth + self.calls >= MAX_DEPTH * 4 {
                    return Ok(None);
                }
                let Some(target) = args.pos.first() else {
                    return Ok(None);
                };
                let callee = match (c, target.text()) {
                    (_, Some(t)) if t.contains(UNKNOWN) => {
                        // A function or method named at run time.
                        self.effects.push(Effect::Signal(signal::OPAQUE_CODE));
                        return Ok(None);
                    }
                    (Capability::Send, Some(t)) => match recv {
                        Some(r) => self.member(r.clone(), &t),
                        None => V::Name(t),
                    },
                    (_, Some(t)) => V::Name(t.replace("::", ".")),
                    (_, None) => target.clone(),
                };
                let mut rest: Vec<V> = args.pos.iter().skip(1).cloned().collect();
                // `Reflect.apply(f, this, [args])`, `call_user_func_array(f, [args])`.
                if c == Capability::Apply && matches!(rest.last(), Some(V::List(_))) {
                    if let Some(V::List(items)) = rest.pop() {
                        rest = items;
                    }
                }
                self.calls += 1;
                let out = self.call(
                    callee,
                    Args {
                        pos: rest,
                        kw: args.kw.clone(),
                    },
                );
                self.calls -= 1;
                return out.map(Some);
            }
        }
        let _ = name;
        Ok(None)
    }

    /// `open(path, mode)` in its many forms: Python and Node (`'w'`, `mode='a'`), Perl's
    /// three- and two-argument forms (`'>'`, `">$f"`, `"cmd |"`), PHP's `fopen`.
    fn open(&mut self, recv: Option<&V>, args: &Args) {
        let mut write = false;
        let mut paths = Vec::new();
        let mut vals: Vec<&V> = args.pos.iter().collect();
        // `Path(p).open('a')`: the receiver is the file.
        if let Some(r) = recv.filter(|r| r.is_texty() || args.pos.is_empty()) {
            vals.insert(0, r);
        }
        for (k, v) in &args.kw {
            if matches!(k.as_str(), "mode" | "flag" | "flags") {
                if let Some(m) = v.text() {
                    write |= m.contains(['w', 'a', 'x', '+']);
                }
            }
        }
        let named = args
            .kw
            .iter()
            .filter(|(k, _)| PATH_KEYS.contains(&k.as_str()))
            .map(|(_, v)| v);
        let mut texts: Vec<String> = Vec::new();
        for v in vals.into_iter().chain(named) {
            match v {
                V::Alts(_) => v.texts(&mut texts),
                v => texts.extend(v.text()),
            }
        }
        for t in texts {
            let trimmed = t.trim();
            if is_mode(trimmed) {
                write |= trimmed.contains(['w', 'a', 'x', '+', '>']);
                if trimmed.contains('|') {
                    // Perl `open(F, "-|", "cmd")`: the rest is a command.
                    self.process = true;
                }
                continue;
            }
            if let Some(cmd) = trimmed
                .strip_prefix('|')
                .or_else(|| trimmed.strip_suffix('|'))
            {
                self.process = true;
                self.effects.push(Effect::Shell(cmd.trim().to_owned()));
                continue;
            }
            let w = trimmed.starts_with('>') || trimmed.starts_with("+<");
            let p = trimmed.trim_start_matches(['<', '>', '+', ' ']).to_owned();
            paths.push((p, w));
        }
        // Perl's first argument is the handle (`open(my $fh, …)`, `open(F, …)`).
        if self.lang.syntax == Syntax::Perl && paths.len() > 1 {
            paths.remove(0);
        }
        for (p, w) in paths {
            let action = if write || w {
                Action::Write
            } else {
                Action::Read
            };
            self.effects.push(Effect::Path(action, p));
        }
    }

    /// A process call: an argv list, a program and a list, several strings, or one string (a
    /// command line).
    fn exec(&mut self, args: &Args) {
        let pos: Vec<&V> = args
            .pos
            .iter()
            .filter(|v| !matches!(v, V::Unknown) || args.pos.len() == 1)
            .collect();
        match pos.as_slice() {
            [] => self.effects.push(Effect::Signal(signal::OPAQUE_CODE)),
            [V::List(items), ..] => self.argv(items.clone()),
            [prog, V::List(items), ..] if prog.is_texty() => {
                let p = prog.text_or_unknown();
                let base = p.rsplit('/').next().unwrap_or("").to_owned();
                let mut v = vec![V::Str(p)];
                let mut rest = items.clone();
                // `os.execv(path, [name, …])`: the list repeats the program's name.
                if rest
                    .first()
                    .and_then(V::text)
                    .is_some_and(|t| t.rsplit('/').next() == Some(base.as_str()))
                {
                    rest.remove(0);
                }
                v.extend(rest);
                self.argv(v);
            }
            [one] if one.is_texty() => {
                let mut texts = Vec::new();
                one.texts(&mut texts);
                for t in texts {
                    self.effects.push(Effect::Shell(t));
                }
            }
            [first, ..] if first.is_texty() && pos.iter().all(|v| v.is_texty()) => {
                let v = pos.iter().map(|v| (*v).clone()).collect();
                self.argv(v);
            }
            [first, ..] if first.is_texty() => {
                let v = pos.iter().map(|v| (*v).clone()).collect();
                self.argv(v);
            }
            _ => self.effects.push(Effect::Signal(signal::OPAQUE_CODE)),
        }
    }

    fn argv(&mut self, items: Vec<V>) {
        let words: Vec<String> = items.iter().map(V::text_or_unknown).collect();
        if words
            .first()
            .is_none_or(|w| w.chars().all(|c| c == UNKNOWN))
        {
            self.effects.push(Effect::Signal(signal::OPAQUE_CODE));
            return;
        }
        self.effects.push(Effect::Argv(words));
    }
}

/// Bytes as text: UTF-16LE when they look like it (PowerShell's encoded commands), else
/// UTF-8 with invalid sequences replaced.
fn bytes_text(b: &[u8]) -> String {
    let utf16 = b.len() >= 2
        && b.len().is_multiple_of(2)
        && b.iter().skip(1).step_by(2).all(|x| *x == 0)
        && b.iter().step_by(2).any(|x| *x != 0);
    if utf16 {
        let units: Vec<u16> = b
            .chunks_exact(2)
            .map(|c| u16::from(c.first().copied().unwrap_or(0)))
            .collect();
        return String::from_utf16_lossy(&units);
    }
    String::from_utf8_lossy(b).into_owned()
}

fn rot13(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'a'..='z' => (((c as u8 - b'a') + 13) % 26 + b'a') as char,
            'A'..='Z' => (((c as u8 - b'A') + 13) % 26 + b'A') as char,
            _ => c,
        })
        .collect()
}

fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

/// What a loop over `it` binds its variable to: each item (a string's characters), or an
/// unknown value.
fn items_of(it: V) -> V {
    match it {
        V::List(items) | V::Obj(items) | V::Alts(items) if !items.is_empty() => {
            V::Alts(items.into_iter().take(MAX_LIST).collect())
        }
        V::Str(t) if !t.contains([UNKNOWN, SUBTREE]) && !t.is_empty() && t.len() <= MAX_LIST => {
            V::Alts(t.chars().map(|c| V::Str(c.to_string())).collect())
        }
        _ => V::Unknown,
    }
}

fn var_key(name: &str) -> String {
    // `$x`, `@x`, `%x` are one name for the analysis (PHP's `$x` is just `x`).
    name.trim_start_matches(['$', '@', '%']).to_owned()
}

fn module_name(m: &str) -> String {
    m.trim_start_matches("node:").replace(['/', ':'], ".")
}

fn either(a: V, b: V) -> V {
    match (a, b) {
        (V::Unknown, b) => b,
        (a, _) => a,
    }
}

/// Applies `f` to each alternative of `l` and `r` (at most [`MAX_LIST`] results).
fn distribute(l: V, r: V, f: &dyn Fn(V, V) -> V) -> V {
    match (l, r) {
        (V::Alts(a), r) => V::Alts(
            a.into_iter()
                .take(MAX_LIST)
                .map(|x| distribute(x, r.clone(), f))
                .collect(),
        ),
        (l, V::Alts(b)) => V::Alts(
            b.into_iter()
                .take(MAX_LIST)
                .map(|y| distribute(l.clone(), y, f))
                .collect(),
        ),
        (l, r) => f(l, r),
    }
}

fn concat(l: V, r: V) -> V {
    if matches!(l, V::Alts(_)) || matches!(r, V::Alts(_)) {
        return distribute(l, r, &concat);
    }
    let mut s = l.text_or_unknown();
    s.push_str(&r.text_or_unknown());
    V::Str(cap(s))
}

fn path_join(parts: &[V]) -> V {
    if let Some(k) = parts.iter().position(|p| matches!(p, V::Alts(_))) {
        if let Some(V::Alts(alts)) = parts.get(k) {
            return V::Alts(
                alts.iter()
                    .take(MAX_LIST)
                    .map(|a| {
                        let mut p = parts.to_vec();
                        if let Some(slot) = p.get_mut(k) {
                            *slot = a.clone();
                        }
                        path_join(&p)
                    })
                    .collect(),
            );
        }
    }
    let mut out = String::new();
    for p in parts {
        let t = p.text_or_unknown();
        if t.starts_with('/') || out.is_empty() {
            out = t;
        } else {
            if !out.ends_with('/') {
                out.push('/');
            }
            out.push_str(&t);
        }
    }
    V::Str(cap(out))
}

fn join(recv: Option<&V>, args: &Args, syntax: Syntax) -> V {
    // JavaScript's `join()` puts commas between items; the others put nothing.
    let default = if syntax == Syntax::JavaScript {
        ","
    } else {
        ""
    };
    let (sep, items) = match (recv, args.pos.first(), args.pos.get(1)) {
        (Some(r), Some(V::List(items)), _) if r.is_texty() => (r.text_or_unknown(), items.clone()),
        (Some(V::List(items)), sep, _) => (
            sep.map_or_else(|| default.to_owned(), V::text_or_unknown),
            items.clone(),
        ),
        // PHP's `implode($array)`.
        (None, Some(V::List(items)), None) => (String::new(), items.clone()),
        (None, Some(sep), Some(V::List(items))) => (sep.text_or_unknown(), items.clone()),
        (None, Some(sep), _) => (
            sep.text_or_unknown(),
            args.pos.iter().skip(1).cloned().collect(),
        ),
        _ => return V::Unknown,
    };
    let texts: Vec<String> = items.iter().map(V::text_or_unknown).collect();
    V::Str(cap(texts.join(&sep)))
}

/// `%s`-style formatting (Python's `%`, `sprintf`).
fn percent_format(fmt: &str, args: &[V]) -> String {
    let mut out = String::new();
    let mut it = fmt.chars().peekable();
    let mut k = 0;
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        if it.peek() == Some(&'%') {
            it.next();
            out.push('%');
            continue;
        }
        // Flags, width, precision, then the conversion.
        while it
            .peek()
            .is_some_and(|c| "-+ #0123456789.*lhq".contains(*c))
        {
            it.next();
        }
        if let Some(conv) = it.next() {
            match (conv, args.get(k)) {
                // `%c` of a number is that character.
                ('c', Some(V::Num(n))) => out.push(
                    u32::try_from(*n)
                        .ok()
                        .and_then(char::from_u32)
                        .unwrap_or(UNKNOWN),
                ),
                (_, v) => out.push_str(&v.map_or_else(|| UNKNOWN.to_string(), V::text_or_unknown)),
            }
            k += 1;
        }
    }
    cap(out)
}

/// Python's `str.format`: `{}`, `{0}`, `{name}`.
fn brace_format(fmt: &str, args: &[V], kw: &[(String, V)]) -> String {
    let mut out = String::new();
    let mut auto = 0;
    let mut rest = fmt;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(rest.get(..i).unwrap_or(""));
        let tail = rest.get(i..).unwrap_or("");
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(tail.get(..1).unwrap_or(""));
            rest = tail.get(2..).unwrap_or("");
            continue;
        }
        let Some(end) = tail.find('}') else {
            out.push_str(tail);
            rest = "";
            break;
        };
        let field = tail.get(1..end).unwrap_or("");
        let field = field.split([':', '!']).next().unwrap_or("");
        let v = if field.is_empty() {
            auto += 1;
            args.get(auto - 1)
        } else if let Ok(n) = field.parse::<usize>() {
            args.get(n)
        } else {
            kw.iter().find(|(k, _)| k == field).map(|(_, v)| v)
        };
        out.push_str(&v.map_or_else(|| UNKNOWN.to_string(), V::text_or_unknown));
        rest = tail.get(end + 1..).unwrap_or("");
    }
    out.push_str(rest);
    cap(out)
}

/// The value of an environment variable in the agent's environment, as far as Crust knows it.
fn env_value(name: &str) -> V {
    match name {
        "HOME" | "USERPROFILE" => V::Str("~".into()),
        "APPDATA" => V::Str("~/AppData/Roaming".into()),
        "LOCALAPPDATA" => V::Str("~/AppData/Local".into()),
        _ => V::Str(UNKNOWN.to_string()),
    }
}

fn is_mode(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 4
        && t.chars().all(|c| "rwaxbtU+<>|-&=".contains(c))
        && !t.starts_with('-')
        || t == "-|"
        || t == "|-"
}

fn looks_like_host(t: &str) -> bool {
    if t.contains("://") {
        return true;
    }
    let t = t.trim();
    !t.is_empty()
        && t.len() < 256
        && !t.contains(char::is_whitespace)
        && !t.starts_with('/')
        && (t.contains('.') || t.contains(':') || t == "localhost")
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_:[]/@".contains(c))
}

/// Decodes `data` with a decoder capability; `None` when it is not such data.
fn decode(c: Capability, data: &[u8]) -> Option<Vec<u8>> {
    use std::io::Read;
    match c {
        Capability::Base64 => crate::text::base64_decode(std::str::from_utf8(data).ok()?),
        Capability::Hex => crate::text::hex_decode(std::str::from_utf8(data).ok()?, false),
        Capability::Inflate => {
            let mut out = Vec::new();
            let limit = MAX_TEXT as u64;
            let ok = |r: std::io::Result<u64>| r.is_ok();
            if ok(flate2::read::ZlibDecoder::new(data)
                .take(limit)
                .read_to_end(&mut out)
                .map(|n| n as u64))
            {
                return Some(out);
            }
            out.clear();
            if ok(flate2::read::GzDecoder::new(data)
                .take(limit)
                .read_to_end(&mut out)
                .map(|n| n as u64))
            {
                return Some(out);
            }
            out.clear();
            if ok(flate2::read::DeflateDecoder::new(data)
                .take(limit)
                .read_to_end(&mut out)
                .map(|n| n as u64))
            {
                return Some(out);
            }
            None
        }
        _ => None,
    }
}
