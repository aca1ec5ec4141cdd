//! Static analysis of a parsed script: what each command reads, writes, deletes, sends and
//! runs, judged through the command table. Nothing is executed. Variables hold every value
//! they may have (assignments add alternatives), values the analysis cannot know become
//! wildcards, and structural findings (a fork bomb, decoded text fed to a shell) become
//! signals that rules match. Work is bounded by a budget linear in the input's size.

use super::eval;
use super::parse::{self, Command, ParamOp, Part, RedirOp, Script, Simple, Word};
use super::pwsh;
use crate::code;
use crate::model::{Action, Operation};
use crate::normalize::{self, PathContext};
use crate::signal;
use crate::tables::{
    CmdKind, CommandSpec, FlagRole, LanguageSpec, Produce, Syntax, TableIndex, Tables,
};
use foldhash::{HashMap, HashMapExt};

/// Nested re-analysis (`sh -c`, `eval`, here-documents fed to a shell) deeper than this fails.
const MAX_NESTING: usize = 8;
/// Alternatives one word or variable may have before the analysis gives up.
const MAX_ALTS: usize = 16;
/// Work allowed per input byte (plus a fixed allowance).
const BUDGET_PER_BYTE: usize = 64;
const BUDGET_BASE: usize = 1 << 16;

/// One possible value of a word.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Val {
    /// The text; unknown parts are `**`, unquoted glob characters kept.
    text: String,
    /// Contains unquoted glob characters or unknown parts.
    glob: bool,
    /// Has at least one literal (known) character.
    literal: bool,
    /// Fully known.
    known: bool,
    /// Came (partly) from a decoder's output.
    decoded: bool,
    /// Came (partly) from `$'\xNN'`-style escapes.
    escaped: bool,
    /// Came from an unquoted expansion (subject to word splitting).
    split: bool,
    /// Unknown text made by an obfuscation construct (see [`signal::OPAQUE`]).
    opaque: bool,
    /// Unknown because a variable set outside the call was read.
    outside: bool,
    /// Unknown output of an explicit decoder (`base64 -d`, `xxd -r`) of unknown input.
    hidden: bool,
    /// A name a `for` loop took from a glob (`for t in tests/*`): the files it matched, not
    /// a wildcard written to hide a command's name.
    listed: bool,
    /// The URLs whose downloaded text this value holds (`$(curl -s URL)`).
    remote: Vec<String>,
    /// The credential variables whose values it holds (bits of `TableIndex::secret_vars`;
    /// [`WHOLE_ENV`]: the whole environment, `$(env)`).
    secret: u64,
}

/// The bit of a value that holds the whole environment.
const WHOLE_ENV: u64 = 1 << 63;

impl Val {
    fn lit(s: &str) -> Val {
        Val {
            text: s.to_owned(),
            glob: false,
            literal: !s.is_empty(),
            known: true,
            decoded: false,
            escaped: false,
            split: false,
            opaque: false,
            outside: false,
            hidden: false,
            listed: false,
            remote: Vec::new(),
            secret: 0,
        }
    }
    /// Literal text of a word: unquoted glob characters make it a glob.
    fn word_lit(s: &str, quoted: bool) -> Val {
        Val {
            glob: !quoted && has_byte(s, b"*?["),
            ..Val::lit(s)
        }
    }
    fn unknown() -> Val {
        Val {
            text: normalize::UNKNOWN.to_string(),
            glob: true,
            literal: false,
            known: false,
            decoded: false,
            escaped: false,
            split: false,
            opaque: false,
            outside: false,
            hidden: false,
            listed: false,
            remote: Vec::new(),
            secret: 0,
        }
    }
    fn opaque() -> Val {
        Val {
            opaque: true,
            ..Val::unknown()
        }
    }
    /// An unknown derived from `self` (its origin kept).
    fn unknown_from(&self) -> Val {
        Val {
            decoded: self.decoded,
            opaque: self.opaque,
            outside: self.outside,
            hidden: self.hidden,
            split: self.split,
            remote: self.remote.clone(),
            secret: self.secret,
            ..Val::unknown()
        }
    }
    fn cat(&mut self, o: &Val) {
        self.text.push_str(&o.text);
        self.glob |= o.glob;
        self.literal |= o.literal;
        self.known &= o.known;
        self.decoded |= o.decoded;
        self.escaped |= o.escaped;
        self.split |= o.split;
        self.opaque |= o.opaque;
        self.outside |= o.outside;
        self.hidden |= o.hidden;
        self.secret |= o.secret;
        add_urls(&mut self.remote, &o.remote);
    }
}

/// A command argument: its possible values (never empty).
#[derive(Debug, Clone)]
struct Arg {
    alts: Vec<Val>,
}

impl Arg {
    fn text(&self) -> &str {
        self.alts.first().map_or("", |v| v.text.as_str())
    }
    fn known(&self) -> bool {
        self.alts.iter().all(|v| v.known)
    }
    fn decoded(&self) -> bool {
        self.alts.iter().any(|v| v.decoded)
    }
    /// Some value is unknown and made by an obfuscation construct.
    fn opaque(&self) -> bool {
        self.alts.iter().any(|v| !v.known && v.opaque)
    }
    /// Some value is unknown code made by an obfuscation construct, or wholly taken from a
    /// variable set outside the call (`eval "$CMD"`; `sh -c "make $TARGET"` is analysed for
    /// what is known).
    fn opaque_code(&self) -> bool {
        self.alts
            .iter()
            .any(|v| !v.known && (v.opaque || (v.outside && !v.literal)))
    }
    fn lit(s: &str) -> Arg {
        Arg {
            alts: vec![Val::lit(s)],
        }
    }
}

/// What flows out of a command into the next stage of a pipeline.
#[derive(Debug, Clone, Default)]
struct Flow {
    /// Known text (from `echo`, `printf`, a here-document, a computed text tool).
    text: Option<String>,
    /// Produced by a decoder.
    decoded: bool,
    /// Unknown text made by an obfuscation construct.
    opaque: bool,
    /// What a lister prints (`find DIR` prints `DIR/**`), when its text is not known.
    items: Vec<Val>,
    /// Unknown output of an explicit decoder.
    hidden: bool,
    /// The whole environment (`env`, `printenv`): every token and key it holds.
    environment: bool,
    /// Text downloaded from these URLs (`curl -s URL`), passed on by every stage after.
    remote: Vec<String>,
    /// Credential variables it holds (see [`Val::secret`]).
    secret: u64,
}

/// The result of analysing one script.
pub struct Analysis {
    pub ops: Vec<Operation>,
}

pub struct Analyzer<'a> {
    tables: &'a Tables,
    index: &'a TableIndex,
    home: &'a str,
    /// Directories relative paths may resolve against (the call's cwd first, then `cd`s).
    cwds: Vec<String>,
    vars: HashMap<String, Vec<Val>>,
    /// Shell functions defined in the call, run with their arguments where called.
    funcs: CallMap<std::rc::Rc<Script<'static>>>,
    /// Functions being run (a function calling itself is not entered again).
    calling: Vec<String>,
    /// `alias NAME=VALUE` definitions, and the names being expanded.
    aliases: CallMap<String>,
    expanding: Vec<String>,
    /// Files written in the call with known text (absolute path to text): a script written
    /// and then run or sourced is judged by its text.
    files: CallMap<String>,
    /// Symbolic links made in the call (absolute link path to absolute target).
    links: Vec<(String, String)>,
    /// Files a download saved in the call (absolute path to the URLs fetched): run later in
    /// the call, they are code from those URLs.
    downloads: CallMap<Vec<String>>,
    /// Directories a download was unpacked into, with its URLs.
    unpacked: Vec<(String, Vec<String>)>,
    /// Files the call wrote credential variables into (bits as [`Val::secret`]).
    secret_files: CallMap<u64>,
    /// The text is a file something runs later (a hook, a start-up file): definitions that
    /// run when used (aliases) are judged as they are made.
    later: bool,
    /// The file the current command's output is redirected to, and whether it appends.
    redirected: Option<(String, bool)>,
    /// The current command's standard input, when known (for text tools).
    stdin_text: Option<String>,
    /// The language of the interpreter being analysed (`python3 -c`), when the table has it.
    lang: Option<&'a LanguageSpec>,
    /// The shell language of the text being analysed: `eval`-like commands run text in it.
    powershell: bool,
    /// The command word when it is a path (`./x.sh`): a file written in the call runs.
    run_path: Option<String>,
    /// `shopt -s dotglob` (or `nocaseglob`, `extglob`, a `GLOBIGNORE`): wildcards may match
    /// hidden names and more, so every wildcard is taken as any text.
    wide_globs: bool,
    /// `$TMPDIR` as Crust's own environment has it (the agent's user's), else `/tmp`.
    tmpdir: &'static str,
    ops: Vec<Operation>,
    /// The operation collecting commands, signals and contents.
    exec: Operation,
    budget: usize,
    nesting: usize,
    /// Address range of the top-level command text: a word borrowed from it tells where its
    /// command sits in `exec.commands[0]`.
    top: (usize, usize),
}

type R<T> = Result<T, String>;

/// Maps a call builds as it goes (functions, aliases, files written). Most calls define none,
/// so they start without drawing a random seed; the work budget bounds what a hostile
/// command can put in them.
type CallMap<V> = std::collections::HashMap<String, V, foldhash::fast::FixedState>;

impl<'a> Analyzer<'a> {
    pub fn new(
        tables: &'a Tables,
        index: &'a TableIndex,
        ctx: &PathContext<'a>,
        input_len: usize,
    ) -> Self {
        let home = ctx.home;
        Analyzer {
            tables,
            index,
            home,
            cwds: vec![ctx.cwd.to_owned()],
            vars: HashMap::new(),
            funcs: CallMap::default(),
            calling: Vec::new(),
            aliases: CallMap::default(),
            expanding: Vec::new(),
            files: CallMap::default(),
            links: Vec::new(),
            downloads: CallMap::default(),
            unpacked: Vec::new(),
            secret_files: CallMap::default(),
            later: false,
            redirected: None,
            stdin_text: None,
            lang: None,
            powershell: false,
            run_path: None,
            wide_globs: false,
            tmpdir: tmpdir(),
            ops: Vec::new(),
            exec: Operation::new(Action::Execute),
            budget: BUDGET_BASE + input_len.saturating_mul(BUDGET_PER_BYTE),
            nesting: 0,
            top: (0, 0),
        }
    }

    /// Parses and analyses `src`; the raw text goes to the command field.
    /// Analyses text that runs later, unattended (see [`crate::later`]).
    pub fn runs_later(mut self) -> Self {
        self.later = true;
        self
    }

    pub fn run(mut self, src: &str) -> R<Vec<Operation>> {
        self.exec.commands.push(src.to_owned());
        self.top = (src.as_ptr() as usize, src.len());
        self.script_text(src)?;
        let mut ops = vec![self.exec];
        ops.append(&mut self.ops);
        Ok(ops)
    }

    /// Analyses `src` as a PowerShell script (the `PowerShell` tool).
    pub fn run_powershell(mut self, src: &str) -> R<Vec<Operation>> {
        self.exec.commands.push(src.to_owned());
        self.powershell_text(src)?;
        let mut ops = vec![self.exec];
        ops.append(&mut self.ops);
        Ok(ops)
    }

    fn spend(&mut self, n: usize) -> R<()> {
        self.budget = self
            .budget
            .checked_sub(n.max(1))
            .ok_or("the command is too complex to analyse")?;
        Ok(())
    }

    /// Analyses a command that another one runs (`sudo CMD`, `timeout 5 CMD`, `xargs CMD`,
    /// `find -exec CMD`, an alias, a subprocess of code): its text, as the command table
    /// names it, is a command value of its own, so a rule that reads command lines sees
    /// `iptables -F` whatever runs it.
    fn dispatch_inner(&mut self, args: &[Arg], stdin: Flow) -> R<Flow> {
        if let Some(line) = command_line(args) {
            self.spend(line.len())?;
            if !self.exec.commands.contains(&line) {
                self.exec.commands.push(line);
            }
        }
        self.dispatch(args, stdin)
    }

    fn script_text(&mut self, src: &str) -> R<Flow> {
        if self.powershell {
            return self.powershell_text(src);
        }
        self.spend(src.len())?;
        if self.nesting > MAX_NESTING {
            return Err("commands nested too deeply (sh -c / eval) to analyse".into());
        }
        let script = parse::parse(src).map_err(|e| format!("cannot parse shell command: {e}"))?;
        self.nesting += 1;
        let out = self.script(&script);
        self.nesting -= 1;
        out
    }

    fn script(&mut self, s: &Script) -> R<Flow> {
        let mut last = Flow::default();
        for item in &s.items {
            last = self.pipeline(item)?;
        }
        Ok(last)
    }

    /// A script whose first command reads `stdin` (the inner script of `>(...)`).
    fn script_fed(&mut self, s: &Script, stdin: Flow) -> R<Flow> {
        let mut last = Flow::default();
        let mut first = Some(stdin);
        for item in &s.items {
            last = self.pipeline_from(item, first.take())?;
        }
        Ok(last)
    }

    fn pipeline(&mut self, cmds: &[Command]) -> R<Flow> {
        self.pipeline_from(cmds, None)
    }

    fn pipeline_from(&mut self, cmds: &[Command], mut first: Option<Flow>) -> R<Flow> {
        let mut flow = Flow::default();
        let mut canon = Vec::new();
        for (i, c) in cmds.iter().enumerate() {
            let input = if i == 0 { first.take() } else { Some(flow) };
            let (out, text) = self.command(c, input)?;
            canon.extend(text);
            flow = out;
        }
        if canon.len() > 1 {
            let parts: Vec<&str> = canon
                .iter()
                .filter_map(|&k| self.exec.commands.get(k).map(String::as_str))
                .collect();
            let joined = parts.join(" | ");
            self.exec.commands.push(joined);
            // Written as `a | b` in the command itself: a slice of it too.
            let first_at = canon.first().and_then(|&k| self.exec.command_slice(k));
            if let Some(off) = first_at {
                let index = self.exec.commands.len() - 1;
                self.exec.note_command_slice(index, off);
            }
        }
        Ok(flow)
    }

    /// Returns the command's output flow and where its canonical text is in the command field.
    fn command(&mut self, c: &Command, input: Option<Flow>) -> R<(Flow, Option<usize>)> {
        match c {
            Command::Simple(s) => self.simple(s, input),
            Command::Group {
                body, redirects, ..
            } => {
                let mut stdin = input;
                for r in redirects {
                    self.redirect(r, &mut stdin)?;
                }
                let out = self.script(body)?;
                Ok((out, None))
            }
            Command::For { var, words, body } => {
                let mut alts = Vec::new();
                for w in words {
                    let mut args = Vec::new();
                    self.expand(w, &mut args)?;
                    for a in args {
                        alts.extend(a.alts.into_iter().map(|mut v| {
                            // Only a directory's entries: a wildcard in the directory part
                            // (`/???/c?t`) still hides a name.
                            let dir = v.text.rsplit_once('/').map_or("", |(d, _)| d);
                            v.listed = v.glob && !has_byte(dir, b"*?[");
                            v
                        }));
                    }
                }
                if !var.is_empty() {
                    if alts.is_empty() {
                        alts.push(Val::unknown());
                    }
                    self.bind(var, alts, true)?;
                }
                self.script(body)?;
                Ok((Flow::default(), None))
            }
            Command::Function { name, body } => {
                self.spend(64)?;
                self.funcs.insert(
                    name.clone(),
                    std::rc::Rc::new(Script::clone(body).into_owned()),
                );
                if calls_itself(name, body) {
                    self.signal(signal::FORK_BOMB);
                }
                // Judged once as written (with no arguments), and again at each call.
                self.calling.push(name.clone());
                let out = self.script(body);
                self.calling.pop();
                out?;
                Ok((Flow::default(), None))
            }
        }
    }

    fn signal(&mut self, s: &str) {
        if !self.exec.signals.iter().any(|x| x == s) {
            self.exec.signals.push(s.to_owned());
        }
    }

    /// The values of a variable: those the script bound, else the environment's (`HOME`,
    /// `PWD`), else none.
    fn var(&self, name: &str) -> Option<Vec<Val>> {
        if let Some(v) = self.vars.get(name) {
            return Some(v.clone());
        }
        let env = match name {
            "HOME" => self.home,
            "PWD" => self.cwds.first().map_or("", String::as_str),
            // The user is the home directory's owner: Crust runs as the agent's user.
            "USER" | "LOGNAME" => self.home.rsplit('/').next().unwrap_or(""),
            "TMPDIR" => self.tmpdir,
            "IFS" => " \t\n",
            // The call runs as `bash -c COMMAND`: no positional parameters.
            "0" => "bash",
            "#" => "0",
            "@" | "*" => "",
            n if n.bytes().all(|b| b.is_ascii_digit()) => "",
            _ => return None,
        };
        Some(vec![Val::lit(env)])
    }

    /// The current bindings of `names`, taken out so a nested scope can bind them.
    fn save_vars(&mut self, names: &[String]) -> Vec<(String, Option<Vec<Val>>)> {
        names
            .iter()
            .map(|n| (n.clone(), self.vars.remove(n)))
            .collect()
    }

    /// Puts back what [`Analyzer::save_vars`] took out.
    fn restore_vars(&mut self, saved: Vec<(String, Option<Vec<Val>>)>) {
        for (n, v) in saved {
            match v {
                Some(v) => {
                    self.vars.insert(n, v);
                }
                None => {
                    self.vars.remove(&n);
                }
            }
        }
    }

    /// `$0 $1 …` from the arguments, `$@`/`$*` as any of `$1…`, `$#` as their count. Code
    /// that shifts sees later arguments in `$1…`, so each `$N` then stands for any of
    /// `$N…`.
    fn bind_positional(&mut self, args: &[&Arg], shifts: bool) -> R<()> {
        let mut rest = Vec::new();
        for (i, a) in args.iter().enumerate() {
            let mut vals = a.alts.clone();
            if shifts && i > 0 {
                for later in args.iter().skip(i + 1) {
                    vals.extend(later.alts.iter().cloned());
                }
            }
            self.bind(&i.to_string(), vals, false)?;
            if i > 0 {
                rest.extend(a.alts.iter().cloned());
            }
        }
        if !rest.is_empty() {
            self.bind("@", rest.clone(), false)?;
            self.bind("*", rest, false)?;
        }
        self.bind(
            "#",
            vec![Val::lit(&args.len().saturating_sub(1).to_string())],
            false,
        )
    }

    fn bind(&mut self, name: &str, vals: Vec<Val>, add: bool) -> R<()> {
        // A first binding of an environment variable starts from its value.
        let env = if self.vars.contains_key(name) {
            None
        } else {
            self.var(name)
        };
        let slot = self.vars.entry(name.to_owned()).or_default();
        if let Some(env) = env {
            *slot = env;
        }
        if !add {
            slot.clear();
        }
        for v in vals {
            if !slot.contains(&v) {
                slot.push(v);
            }
        }
        if slot.len() > MAX_ALTS {
            return Err(format!(
                "variable `{name}` takes too many values to analyse"
            ));
        }
        Ok(())
    }

    fn simple(&mut self, s: &Simple, input: Option<Flow>) -> R<(Flow, Option<usize>)> {
        let mut prefix = Vec::new();
        let mut assigned = Vec::new();
        for (name, w) in &s.assigns {
            let vals = self.expand_joined(w)?;
            prefix.push(format!(
                "{name}={}",
                vals.first().map_or("", |v| v.text.as_str())
            ));
            assigned.push((name.clone(), vals));
        }
        let mut args = Vec::with_capacity(s.words.len());
        for w in &s.words {
            self.expand(w, &mut args)?;
        }
        // Assignments alone set variables; before a command they are its environment. Either
        // way later expansions may see them (a superset of what bash does).
        for (name, vals) in assigned {
            // A `GLOBIGNORE` turns on `dotglob`.
            self.wide_globs |= name == "GLOBIGNORE";
            self.bind(&name, vals, true)?;
        }
        let mut stdin = input;
        self.redirected = None;
        for r in &s.redirects {
            self.redirect(r, &mut stdin)?;
        }
        let redirected = self.redirected.take();
        let appended = redirected.as_ref().is_some_and(|&(_, append)| append);
        // The operation an output redirect wrote into (a new one, or the previous write it
        // was merged with): it receives the text the command prints, when that is known.
        let out_redirect = s
            .redirects
            .iter()
            .any(|r| matches!(r.op, RedirOp::Write | RedirOp::ReadWrite));
        let write_op = self.ops.len().checked_sub(1).filter(|&i| {
            out_redirect && self.ops.get(i).is_some_and(|o| o.action == Action::Write)
        });
        // `cat <<EOF > file` prints its here-document.
        let passes_stdin = args.len() == 1
            && args
                .first()
                .is_some_and(|a| command_name(a.text()) == "cat");
        let stdin_text = stdin
            .as_ref()
            .and_then(|f| f.text.clone())
            .filter(|_| passes_stdin);
        // The command line as rules read it; with leading assignments (`X=1 cmd`), the line
        // without them is a value too.
        let line = command_line(&args);
        let (canon_text, bare) = if prefix.is_empty() {
            (line.unwrap_or_default(), None)
        } else {
            let mut t = prefix.join(" ");
            if let Some(l) = &line {
                t.push(' ');
                t.push_str(l);
            }
            (t, line)
        };
        if canon_text.is_empty() {
            return Ok((Flow::default(), None));
        }
        let out = self.dispatch(&args, stdin.unwrap_or_default())?;
        let printed = out.text.clone().or(stdin_text);
        // A download redirected into a file (`curl URL > x.sh`): running it later is code
        // from there.
        if let Some((raw, _)) = redirected.as_ref().filter(|_| !out.remote.is_empty()) {
            for path in self.resolve(raw)? {
                self.spend(64)?;
                self.downloads.insert(path, out.remote.clone());
            }
        }
        // A credential variable written to a file (`echo "$TOKEN" > /tmp/t`): sending the file
        // sends the credential.
        if let Some((raw, _)) = redirected.as_ref().filter(|_| out.secret != 0) {
            for path in self.resolve(raw)? {
                self.spend(64)?;
                *self.secret_files.entry(path).or_default() |= out.secret;
            }
        }
        // What the command wrote to a file: known text is kept for a later `bash FILE`.
        if let Some((raw, append)) = redirected {
            match &printed {
                Some(t) => {
                    let Some(path) = self.resolve(&raw)?.into_iter().next() else {
                        return Err("a redirect target resolves to no path".into());
                    };
                    let slot = self.files.entry(path).or_default();
                    if !append {
                        slot.clear();
                    }
                    slot.push_str(t);
                    if !t.ends_with('\n') {
                        slot.push('\n');
                    }
                }
                None if !self.files.is_empty() => {
                    for path in self.resolve(&raw)? {
                        self.files.remove(&path);
                    }
                }
                None => {}
            }
        }
        if let Some(text) = printed {
            if let Some(op) = write_op.and_then(|i| self.ops.get_mut(i)) {
                self.budget = self.budget.saturating_sub(text.len());
                op.contents.push(text);
                op.partial |= appended;
            }
        }
        // Several assignments in one command (`A=x B=y cmd`, `export A=x B=y`, `env A=x B=y
        // cmd`, `sudo A=x B=y cmd`) are each a command value of their own as well: a rule's `except` that excuses
        // one of them (a base URL set to Crust itself) must not excuse the others.
        let declares = args.first().is_some_and(|a| {
            matches!(
                &*command_name(a.text()),
                "export" | "declare" | "typeset" | "local" | "readonly" | "env" | "sudo" | "doas"
            )
        });
        let mut each: Vec<String> = prefix;
        if declares {
            each.extend(
                args.iter()
                    .skip(1)
                    .map(|a| a.text())
                    .filter(|t| is_assignment(t))
                    .map(str::to_owned),
            );
        }
        self.exec.commands.push(canon_text);
        let index = self.exec.commands.len() - 1;
        if let Some(off) = self.top_offset(s) {
            self.exec.note_command_slice(index, off);
        }
        if each.len() > 1 {
            self.exec.commands.extend(each);
        }
        self.exec.commands.extend(bare);
        Ok((out, Some(index)))
    }

    /// Where a simple command may start in the top-level text: its first word's literal
    /// text, when borrowed from that text (words of nested scripts are not).
    fn top_offset(&self, s: &Simple) -> Option<usize> {
        if !s.assigns.is_empty() {
            return None;
        }
        let Some(Part::Lit {
            text: std::borrow::Cow::Borrowed(t),
            ..
        }) = s.words.first().and_then(|w| w.parts.first())
        else {
            return None;
        };
        let at = (t.as_ptr() as usize).checked_sub(self.top.0)?;
        (at < self.top.1).then_some(at)
    }

    fn redirect(&mut self, r: &parse::Redirect, stdin: &mut Option<Flow>) -> R<()> {
        match r.op {
            RedirOp::HereDoc | RedirOp::HereString => {
                let vals = self.expand_joined(&r.target)?;
                let v = vals.first().cloned().unwrap_or_else(|| Val::lit(""));
                self.exec.contents.push(v.text.clone());
                *stdin = Some(Flow {
                    decoded: v.decoded,
                    opaque: !v.known && v.opaque,
                    hidden: !v.known && v.hidden,
                    text: v.known.then_some(v.text),
                    items: Vec::new(),
                    environment: false,
                    remote: v.remote.clone(),
                    secret: vals.iter().fold(0, |b, x| b | x.secret),
                });
            }
            RedirOp::Dup => {
                let vals = self.expand_joined(&r.target)?;
                for v in vals {
                    let t = v.text.trim_end_matches('-');
                    if !t.is_empty() && !t.bytes().all(|b| b.is_ascii_digit()) {
                        self.path(Action::Write, &v)?;
                    }
                }
            }
            RedirOp::Read | RedirOp::Write | RedirOp::ReadWrite => {
                let vals = self.expand_joined(&r.target)?;
                if r.op != RedirOp::Read {
                    if let [v] = vals.as_slice() {
                        if v.known && !v.glob {
                            // Resolved only if the command's text turns out to be known.
                            self.redirected = Some((v.text.clone(), r.append));
                        }
                    }
                }
                for v in &vals {
                    if r.op != RedirOp::Write {
                        self.path(Action::Read, v)?;
                    }
                    if r.op != RedirOp::Read {
                        self.path(Action::Write, v)?;
                    }
                }
                if r.op == RedirOp::Read {
                    // A file written earlier in the call feeds its text.
                    let text = match vals.as_slice() {
                        [v] if v.known => self.written(&v.text)?,
                        _ => None,
                    };
                    *stdin = Some(Flow {
                        text,
                        ..Flow::default()
                    });
                }
            }
        }
        Ok(())
    }

    // ----- expansion -------------------------------------------------------------------

    /// Expands a word into arguments, appended to `out` (unquoted expansions split on
    /// whitespace; brace expansion applied).
    fn expand(&mut self, w: &Word, out: &mut Vec<Arg>) -> R<()> {
        // Most words are one literal without braces: one value, no splitting.
        if let [Part::Lit { text, quoted }] = w.parts.as_slice() {
            if *quoted || !has_byte(text, b"{") {
                self.spend(text.len())?;
                out.push(Arg {
                    alts: vec![Val::word_lit(text, *quoted)],
                });
                return Ok(());
            }
        }
        // `${a[@]}`: one word per element.
        if let [Part::Param {
            op: ParamOp::All, ..
        }] = w.parts.as_slice()
        {
            let vals = self.expand_joined(w)?;
            self.spend(vals.len())?;
            out.extend(vals.into_iter().map(|v| Arg { alts: vec![v] }));
            return Ok(());
        }
        // `"$@"`, `$@` and `$*` are one word per positional parameter.
        if let [Part::Param {
            name,
            op: ParamOp::Plain,
            ..
        }] = w.parts.as_slice()
        {
            if name == "@" || name == "*" {
                if let Some(n) = self
                    .var("#")
                    .and_then(|v| v.first().and_then(|x| x.text.parse::<usize>().ok()))
                {
                    for i in 1..=n.min(64) {
                        if let Some(vals) = self.var(&i.to_string()) {
                            self.spend(1)?;
                            out.push(Arg { alts: vals });
                        }
                    }
                    return Ok(());
                }
            }
        }
        let vals = self.expand_joined(w)?;
        let unquoted_braces = w
            .parts
            .iter()
            .any(|p| matches!(p, Part::Lit { text, quoted: false } if text.contains('{')));
        let alts = if unquoted_braces {
            let mut expanded = Vec::new();
            let single = vals.len() == 1;
            for v in vals {
                brace_expand(&v, &mut expanded, 0)?;
            }
            // `{cat,key}` and `cp f{,.bak}` are several words; with several possible values
            // the expansions stay alternatives of one.
            if single && expanded.len() > 1 {
                self.spend(expanded.len())?;
                out.extend(expanded.into_iter().map(|v| Arg { alts: vec![v] }));
                return Ok(());
            }
            expanded
        } else {
            vals
        };
        if alts.len() > MAX_ALTS * 4 {
            return Err("a word takes too many values to analyse".into());
        }
        // Word splitting of unquoted expansions on `$IFS`: `F="a b"; cat $F` runs `cat a
        // b`, and so does `cat${IFS}b` or `IFS=,; x=cat,b; $x`.
        if let [v] = alts.as_slice() {
            // Looked up only for a known expansion: most words have none.
            let ifs: Vec<char> = if !(v.split && v.known) {
                Vec::new()
            } else if let Some(bound) = self.vars.get("IFS") {
                // Several possible separators: every one of them splits. Only expansions
                // split: a separator written literally in the word (`/$1/$2` with `IFS=/`)
                // stays.
                let written: String = w
                    .parts
                    .iter()
                    .filter_map(|p| match p {
                        Part::Lit { text, .. } => Some(text.as_ref()),
                        _ => None,
                    })
                    .collect();
                bound
                    .iter()
                    .flat_map(|x| x.text.chars())
                    .filter(|c| !written.contains(*c))
                    .collect()
            } else {
                vec![' ', '\t', '\n']
            };
            if v.text.chars().any(|c| ifs.contains(&c)) {
                out.extend(
                    v.text
                        .split(|c| ifs.contains(&c))
                        .filter(|t| !t.is_empty())
                        .map(|t| {
                            let mut x = v.clone();
                            x.text = t.to_owned();
                            x.literal = true;
                            x.glob = has_byte(t, b"*?[") && v.glob;
                            Arg { alts: vec![x] }
                        }),
                );
                return Ok(());
            }
        }
        if !alts.is_empty() {
            out.push(Arg { alts });
        }
        Ok(())
    }

    /// Every value a word may take, as whole strings.
    fn expand_joined(&mut self, w: &Word) -> R<Vec<Val>> {
        // Most words are one part: its values are the word's.
        if let [p] = w.parts.as_slice() {
            let vals = self.part(p)?;
            let cost: usize = vals.iter().map(|v| v.text.len()).sum();
            self.spend(cost)?;
            return Ok(vals);
        }
        let mut acc = vec![Val::lit("")];
        for p in &w.parts {
            let piece = self.part(p)?;
            let mut next = Vec::with_capacity(acc.len() * piece.len());
            for a in &acc {
                for b in &piece {
                    let mut x = a.clone();
                    x.cat(b);
                    next.push(x);
                }
            }
            if next.len() > MAX_ALTS {
                return Err("a word takes too many values to analyse".into());
            }
            let cost: usize = next.iter().map(|v| v.text.len()).sum();
            self.spend(cost)?;
            acc = next;
        }
        Ok(acc)
    }

    fn part(&mut self, p: &Part) -> R<Vec<Val>> {
        Ok(match p {
            Part::Lit { text, quoted } => vec![Val::word_lit(text, *quoted)],
            Part::Escaped(text) => {
                let mut v = Val::lit(text);
                v.escaped = true;
                vec![v]
            }
            Part::Tilde(user) => vec![Val::lit(&self.tilde(user))],
            Part::Param {
                name,
                op,
                arg,
                rep,
                quoted,
            } => {
                let mut vals = self.param(name, *op, arg.as_deref(), rep.as_deref())?;
                if *quoted {
                    for v in &mut vals {
                        v.split = false;
                    }
                }
                vals
            }
            Part::Subst(script, quoted) => {
                let flow = self.script(script)?;
                vec![match flow.text {
                    Some(t) => {
                        let mut v = Val::lit(t.trim_end_matches('\n'));
                        v.split = !quoted;
                        v.decoded = flow.decoded;
                        v.remote = flow.remote;
                        v.secret = flow.secret;
                        v
                    }
                    None => Val {
                        decoded: flow.decoded,
                        opaque: flow.opaque,
                        hidden: flow.hidden,
                        remote: flow.remote,
                        secret: flow.secret | if flow.environment { WHOLE_ENV } else { 0 },
                        ..Val::unknown()
                    },
                }]
            }
            Part::ProcSubst(script, output) => {
                // `tee >(sh)`: the inner script reads what the command writes to the pipe,
                // which the analysis does not know (code given to a shell that way is opaque).
                let flow = if *output {
                    let fed = Flow {
                        opaque: true,
                        ..Flow::default()
                    };
                    self.script_fed(script, fed)?
                } else {
                    self.script(script)?
                };
                // The word is a pipe's path; keep what flows through it for `source <(...)`.
                vec![Val {
                    decoded: flow.decoded,
                    remote: flow.remote,
                    text: flow
                        .text
                        .map_or_else(|| normalize::UNKNOWN.to_string(), |t| format!("<({t})")),
                    ..Val::unknown()
                }]
            }
            Part::Unknown => vec![Val::unknown()],
        })
    }

    fn tilde(&self, user: &str) -> String {
        if user.is_empty() {
            return self.home.to_owned();
        }
        if user == "root" {
            return "/root".to_owned();
        }
        // `~name`: a sibling of the user's home (`/home/name`, `/Users/name`).
        let parent = self.home.rsplit_once('/').map_or("", |(p, _)| p);
        format!("{parent}/{user}")
    }

    fn param(
        &mut self,
        name: &str,
        op: ParamOp,
        arg: Option<&Word>,
        rep: Option<&Word>,
    ) -> R<Vec<Val>> {
        if op == ParamOp::Indirect {
            // `${!ref}`: the variable `ref` names; unknowable when the name is.
            let mut out = Vec::new();
            for n in self.var(name).unwrap_or_else(|| {
                vec![Val {
                    hidden: true,
                    ..Val::opaque()
                }]
            }) {
                let valid = n.known
                    && !n.text.is_empty()
                    && n.text
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_');
                match self.var(&n.text).filter(|_| valid) {
                    Some(v) => out.extend(v),
                    None if valid => out.push(Val {
                        outside: true,
                        secret: self.index.secret_vars.get(&n.text).copied().unwrap_or(0),
                        ..Val::unknown()
                    }),
                    None => out.push(Val {
                        hidden: true,
                        ..Val::opaque()
                    }),
                }
            }
            for v in &mut out {
                v.split = true;
            }
            return Ok(out);
        }
        // `${@:off:len}`: a slice of the positional parameters.
        if matches!(name, "@" | "*") && op == ParamOp::Substring {
            let count = self
                .var("#")
                .and_then(|v| v.first().and_then(|x| x.text.parse::<i64>().ok()))
                .unwrap_or(0);
            let off = match arg {
                Some(w) => w.literal().and_then(|t| t.trim().parse::<i64>().ok()),
                None => None,
            };
            let len = match rep {
                Some(w) => w.literal().and_then(|t| t.trim().parse::<i64>().ok()),
                None => Some(count),
            };
            let mut out = Vec::new();
            if let (Some(off), Some(len)) = (off, len) {
                let start = if off < 0 { count + off + 1 } else { off }.max(0);
                let end = if len < 0 {
                    count + len + 1
                } else {
                    start + len
                }
                .min(count + 1);
                for i in start.max(1)..end.max(start.max(1)) {
                    out.extend(self.var(&i.to_string()).unwrap_or_default());
                }
            } else {
                out.extend(self.var("@").unwrap_or_default());
            }
            if out.is_empty() {
                out.push(Val::lit(""));
            }
            return Ok(out);
        }
        let bound = self.var(name);
        let unset = bound.is_none();
        let mut base = bound.unwrap_or_else(|| {
            vec![Val {
                outside: true,
                secret: self.index.secret_vars.get(name).copied().unwrap_or(0),
                ..Val::unknown()
            }]
        });
        for v in &mut base {
            v.split = true;
        }
        let operand = match arg {
            Some(w) => self.expand_joined(w)?,
            None => vec![Val::lit("")],
        };
        let second = match rep {
            Some(w) => Some(self.expand_joined(w)?),
            None => None,
        };
        // Known text through `f`, or an unknown that keeps where it came from.
        let each = |base: Vec<Val>, operand: &[Val], f: &dyn Fn(&Val, &Val) -> Option<String>| {
            let mut out = Vec::new();
            for v in &base {
                for o in operand {
                    if !v.known || !o.known {
                        // An operator over text from outside the call (`${CMD//X/}`) builds
                        // a value the reader cannot see.
                        let mut u = v.unknown_from();
                        u.opaque |= o.opaque || v.outside;
                        out.push(u);
                        continue;
                    }
                    match f(v, o) {
                        Some(t) => {
                            let mut x = v.clone();
                            x.text = t;
                            x.literal = !x.text.is_empty();
                            x.glob = has_byte(&x.text, b"*?[") && v.glob;
                            out.push(x);
                        }
                        None => out.push(v.unknown_from()),
                    }
                }
            }
            out
        };
        Ok(match op {
            ParamOp::Plain | ParamOp::Check | ParamOp::All => base,
            ParamOp::Transform(letter) => base
                .into_iter()
                .map(|v| {
                    if !v.known {
                        return v;
                    }
                    let text = match letter {
                        b'E' => {
                            let (t, numeric) = eval::escapes(&v.text);
                            let mut x = Val::lit(&t);
                            x.decoded = numeric;
                            x.split = v.split;
                            return x;
                        }
                        b'U' => eval::case(&v.text, true, true),
                        b'u' => eval::case(&v.text, true, false),
                        b'L' => eval::case(&v.text, false, true),
                        // `@Q` quotes for re-use as input: the same text once read again.
                        b'Q' => return v,
                        _ => return v.unknown_from(),
                    };
                    Val { text, ..v }
                })
                .collect(),
            ParamOp::Default => {
                // The value when set (and not empty), the operand otherwise; an unknown
                // value may be either.
                let mut out = Vec::new();
                let mut fallback = unset;
                for v in base {
                    if v.known && v.text.is_empty() {
                        fallback = true;
                        continue;
                    }
                    if !v.known {
                        fallback = true;
                    }
                    out.push(v);
                }
                if fallback {
                    out.extend(operand);
                }
                out
            }
            ParamOp::Alt => {
                let mut out = Vec::new();
                for v in base {
                    if !v.known || unset {
                        out.push(Val::lit(""));
                    }
                    if !v.known || (!v.text.is_empty() && !unset) {
                        out.extend(operand.iter().cloned());
                    }
                }
                out
            }
            ParamOp::StripPrefix { longest } | ParamOp::StripSuffix { longest } => {
                let prefix = matches!(op, ParamOp::StripPrefix { .. });
                each(base, &operand, &|v, o| {
                    Some(eval::strip(&v.text, &o.text, o.glob, prefix, longest))
                })
            }
            ParamOp::Replace(anchor) => {
                let reps = second.unwrap_or_else(|| vec![Val::lit("")]);
                let mut out = Vec::new();
                for r in &reps {
                    let r = r.clone();
                    out.extend(each(base.clone(), &operand, &|v, o| {
                        r.known
                            .then(|| eval::replace(&v.text, &o.text, o.glob, &r.text, anchor))
                    }));
                }
                out
            }
            ParamOp::Substring => {
                let len = second.and_then(|l| l.into_iter().next());
                each(base, &operand, &|v, o| match &len {
                    Some(l) if !l.known => None,
                    Some(l) => eval::substring(&v.text, &o.text, Some(&l.text)),
                    None => eval::substring(&v.text, &o.text, None),
                })
            }
            ParamOp::Case { upper, all } => each(base, &operand, &|v, o| {
                o.text.is_empty().then(|| eval::case(&v.text, upper, all))
            }),
            ParamOp::Length => base
                .into_iter()
                .map(|v| {
                    if v.known {
                        Val::lit(&v.text.chars().count().to_string())
                    } else {
                        v.unknown_from()
                    }
                })
                .collect(),
            _ => base.iter().map(Val::unknown_from).collect(),
        })
    }

    // ----- commands ---------------------------------------------------------------------

    fn spec(&self, name: &str) -> Option<&'a CommandSpec> {
        let tables = self.tables;
        self.index
            .commands
            .get(name)
            .and_then(|&i| tables.commands.get(i as usize))
    }

    /// Runs the command table over one command's arguments (the command name first).
    fn dispatch(&mut self, args: &[Arg], stdin: Flow) -> R<Flow> {
        let Some(first) = args.first() else {
            return Ok(Flow::default());
        };
        // `[` alone (the test command) is no bracket expression: a glob needs `*`, `?` or a
        // closed `[...]`.
        let (escaped, known, decoded, glob) =
            first.alts.first().map_or((false, false, false, true), |v| {
                let closed = v.text.bytes().position(|b| b == b'[').is_some_and(|i| {
                    v.text
                        .as_bytes()
                        .get(i + 1..)
                        .is_some_and(|r| r.contains(&b']'))
                });
                let wild = has_byte(&v.text, b"*?") || closed;
                (v.escaped, v.known, v.decoded, v.glob && wild && !v.listed)
            });
        if escaped {
            self.signal(signal::ESCAPED_COMMAND);
        }
        if decoded {
            // Decoded text run as a command, whether or not the analysis worked it out.
            self.signal(signal::DECODE_TO_SHELL);
        }
        if known && glob {
            self.signal(signal::GLOB_COMMAND);
        }
        if first.alts.iter().any(|v| !v.known && v.opaque) {
            self.signal(signal::OPAQUE);
        }
        for v in &first.alts {
            self.remote_code(&v.remote);
        }
        let rest = args.get(1..).unwrap_or(&[]);
        // `alias ll='ls -l'; ll x`: the alias's words, then the arguments.
        let aliased = if self.aliases.is_empty() {
            &[][..]
        } else {
            first.alts.as_slice()
        };
        if let [v] = aliased {
            let value = self
                .aliases
                .get(v.text.as_str())
                .filter(|_| v.known && !self.expanding.contains(&v.text))
                .cloned();
            if let Some(value) = value {
                self.expanding.push(v.text.clone());
                let out = self.alias_call(&value, rest, stdin);
                self.expanding.pop();
                return out;
            }
        }
        // Every value the name may take is judged (a variable may hold several commands).
        let mut out = Flow::default();
        for (k, v) in first.alts.iter().enumerate() {
            let name = command_name(&v.text);
            let before = first.alts.get(..k).unwrap_or(&[]);
            if before.iter().any(|b| command_name(&b.text) == name) {
                continue;
            }
            self.run_path = (v.known && v.text.contains('/')).then(|| v.text.clone());
            // A command named by its path runs that file (`/tmp/x.sh`, `./build.sh`).
            if v.text.contains('/') {
                self.path(Action::Execute, v)?;
            }
            let f = self.run_command(&name, rest, stdin.clone())?;
            out.decoded |= f.decoded;
            out.opaque |= f.opaque;
            out.hidden |= f.hidden;
            out.environment |= f.environment;
            out.secret |= f.secret;
            add_urls(&mut out.remote, &f.remote);
            if out.text.is_none() {
                out.text = f.text;
            }
            if out.items.len() < MAX_ALTS {
                out.items.extend(f.items);
            }
        }
        Ok(out)
    }

    /// Arguments of the form `--opt=VALUE` that look like paths are read: for commands the
    /// table does not describe (a described command's flags are judged by their roles).
    fn long_option_paths(&mut self, args: &[Arg]) -> R<()> {
        for a in args {
            for v in &a.alts {
                // Tested first: most arguments are not long options.
                if !v.text.starts_with("--") {
                    continue;
                }
                if let Some((_, val)) = v.text.split_once('=') {
                    if looks_like_path(val) {
                        let mut x = v.clone();
                        x.text = val.to_owned();
                        self.path(Action::Read, &x)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// An alias's value run with the arguments after the alias's name.
    fn alias_call(&mut self, value: &str, rest: &[Arg], stdin: Flow) -> R<Flow> {
        self.spend(value.len())?;
        if self.nesting > MAX_NESTING {
            return Err("aliases nested too deeply to analyse".into());
        }
        let script = parse::parse(value).map_err(|e| format!("cannot parse alias: {e}"))?;
        let simple = match script.items.as_slice() {
            [p] => match p.as_slice() {
                [Command::Simple(sc)] if sc.redirects.is_empty() && sc.assigns.is_empty() => {
                    Some(sc)
                }
                _ => None,
            },
            _ => None,
        };
        self.nesting += 1;
        let out = match simple {
            Some(sc) => {
                let mut args = Vec::new();
                let mut res = Ok(());
                for w in &sc.words {
                    res = res.and_then(|()| self.expand(w, &mut args));
                }
                args.extend(rest.iter().cloned());
                res.and_then(|()| self.dispatch_inner(&args, stdin))
            }
            None => {
                let r = self.script(&script);
                r.and_then(|f| self.plain(rest).map(|()| f))
            }
        };
        self.nesting -= 1;
        out
    }

    /// A function defined in the call, run with `args` as `$1 …`.
    fn call_function(&mut self, name: &str, body: &Script<'static>, args: &[Arg]) -> R<Flow> {
        if self.calling.iter().any(|f| f == name) || self.nesting > MAX_NESTING {
            return Ok(Flow::default());
        }
        let saved = self.save_vars(&positional_names(args.len() + 1));
        let mut bound: Vec<&Arg> = Vec::with_capacity(args.len() + 1);
        let zero = Arg::lit(name);
        bound.push(&zero);
        bound.extend(args.iter());
        let shifts = false;
        let res = self.bind_positional(&bound, shifts);
        self.calling.push(name.to_owned());
        self.nesting += 1;
        let out = res.and_then(|()| self.script(body));
        self.nesting -= 1;
        self.calling.pop();
        self.restore_vars(saved);
        out
    }

    /// The known text of a file written earlier in the call.
    fn written(&self, raw: &str) -> R<Option<String>> {
        self.recorded(&self.files, raw)
    }

    /// The URLs a file saved by a download earlier in the call came from.
    fn downloaded(&self, raw: &str) -> R<Option<Vec<String>>> {
        if let Some(urls) = self.recorded(&self.downloads, raw)? {
            return Ok(Some(urls));
        }
        if self.unpacked.is_empty() {
            return Ok(None);
        }
        // A file below a directory a download was unpacked into.
        for p in self.resolve(raw)? {
            for (dir, urls) in &self.unpacked {
                let below = dir == "/"
                    || p.strip_prefix(dir.as_str())
                        .is_some_and(|rest| rest.starts_with('/'));
                if below {
                    return Ok(Some(urls.clone()));
                }
            }
        }
        Ok(None)
    }

    /// `curl URL | tar xz`, `unzip x.zip` of a downloaded `x.zip` (the table's `unpacks`):
    /// the directory unpacked into holds files from those URLs from now on.
    fn unpacks(&mut self, spec: &CommandSpec, args: &[Arg], stdin: &Flow) -> R<()> {
        let Some(into) = &spec.unpacks else {
            return Ok(());
        };
        let mut urls = stdin.remote.clone();
        let (dests, taken) = flag_values(args, into);
        for (a, taken) in args.iter().zip(taken) {
            let t = a.text();
            if taken || t.starts_with('-') {
                continue;
            }
            // `unzip <(curl URL)`: the archive is the download itself.
            for v in &a.alts {
                add_urls(&mut urls, &v.remote);
            }
            if a.known() {
                if let Some(u) = self.downloaded(t)? {
                    add_urls(&mut urls, &u);
                }
            }
        }
        if urls.is_empty() {
            return Ok(());
        }
        let dest = dests.last().map_or(".", Arg::text).to_owned();
        for d in self.resolve(&dest)? {
            self.spend(64)?;
            let d = if d.len() > 1 {
                d.trim_end_matches('/').to_owned()
            } else {
                d
            };
            self.unpacked.push((d, urls.clone()));
        }
        Ok(())
    }

    /// What a per-call file map holds for a path, resolved as the shell would.
    fn recorded<V: Clone>(&self, map: &CallMap<V>, raw: &str) -> R<Option<V>> {
        if map.is_empty() {
            return Ok(None);
        }
        Ok(self.resolve(raw)?.iter().find_map(|p| map.get(p).cloned()))
    }

    /// Code fetched from these URLs runs: an execute operation that says where from.
    fn remote_code(&mut self, urls: &[String]) {
        if urls.is_empty() {
            return;
        }
        let mut op = Operation::new(Action::Execute);
        op.signals.push(signal::REMOTE_CODE.to_owned());
        for u in urls {
            op.hosts.extend(normalize::host_of(u));
            op.urls.push(u.clone());
        }
        self.ops.push(op);
    }

    /// Codex's `apply_patch PATCH` (or the patch on standard input): judged like the patch
    /// tool, each file written with the lines the patch adds.
    fn apply_patch(&mut self, args: &[Arg], stdin: &Flow) -> R<Flow> {
        let text = match args.first() {
            Some(a) if a.known() => Some(a.text().to_owned()),
            Some(_) => None,
            None => stdin.text.clone(),
        };
        let text = text.ok_or("apply_patch is given a patch the analysis cannot read")?;
        self.spend(text.len())?;
        let p = crate::patch::parse(&text)?;
        for w in &p.writes {
            self.path(Action::Write, &Val::lit(w))?;
        }
        if !p.added.is_empty() {
            if let Some(op) = self
                .ops
                .iter_mut()
                .rev()
                .find(|o| o.action == Action::Write)
            {
                op.contents.push(p.added.clone());
            }
        }
        for d in &p.deletes {
            self.path(Action::Delete, &Val::lit(d))?;
        }
        Ok(Flow::default())
    }

    fn run_command(&mut self, name: &str, args: &[Arg], stdin: Flow) -> R<Flow> {
        if matches!(name, "apply_patch" | "applypatch") && !self.funcs.contains_key(name) {
            return self.apply_patch(args, &stdin);
        }
        // `env`, `printenv`, `set`, `export -p`: the whole environment, every secret in it.
        let dumps = match name {
            "env" | "printenv" => args.iter().all(|a| a.text().starts_with('-')),
            "set" => args.is_empty(),
            "export" | "declare" | "typeset" => {
                !args.is_empty() && args.iter().all(|a| matches!(a.text(), "-p" | "-x" | "-px"))
            }
            _ => false,
        };
        if dumps && !self.funcs.contains_key(name) {
            return Ok(Flow {
                environment: true,
                ..Flow::default()
            });
        }
        // `printenv NAME…`: those variables' values.
        if name == "printenv" && !self.funcs.contains_key(name) {
            let secret = args
                .iter()
                .flat_map(|a| &a.alts)
                .filter_map(|v| self.index.secret_vars.get(&v.text))
                .fold(0, |b, x| b | x);
            if secret != 0 {
                return Ok(Flow {
                    secret,
                    ..Flow::default()
                });
            }
        }
        if name == "shopt"
            && args.iter().any(|a| a.text() == "-s")
            && args.iter().any(|a| {
                matches!(a.text(), "dotglob" | "nocaseglob" | "extglob" | "nullglob") || !a.known()
            })
        {
            self.wide_globs = true;
        }
        // `trap 'CODE' SIGNAL…`: the code runs when a signal comes (at exit, before every
        // command with DEBUG): judged as if it ran.
        if name == "trap" && !self.funcs.contains_key(name) {
            if let Some(code) = args.first().filter(|a| !a.text().starts_with('-')) {
                self.code(true, code)?;
            }
        }
        // `set -- a b c` sets the positional parameters.
        if name == "set" {
            if let Some(k) = args.iter().position(|a| a.text() == "--") {
                let zero = Arg::lit("bash");
                let mut bound: Vec<&Arg> = vec![&zero];
                bound.extend(args.get(k + 1..).unwrap_or(&[]).iter());
                for n in positional_names(bound.len()) {
                    self.vars.remove(&n);
                }
                self.bind_positional(&bound, false)?;
            }
        }
        if let Some(body) = (!self.funcs.is_empty())
            .then(|| self.funcs.get(name).cloned())
            .flatten()
        {
            self.long_option_paths(args)?;
            return self.call_function(name, &body, args);
        }
        // `./install.sh` saved by a download earlier in the call: code from there, whatever
        // its name (`/tmp/x/go` is not the `go` the tables know).
        if let Some(urls) = self
            .run_path
            .as_deref()
            .map(|p| self.downloaded(p))
            .transpose()?
            .flatten()
        {
            self.remote_code(&urls);
        }
        let Some(mut spec) = self.spec(name) else {
            if args
                .iter()
                .any(|a| a.alts.iter().any(|v| !v.known && v.hidden))
            {
                self.signal(signal::OPAQUE);
            }
            // `./x.sh` written earlier in the call: its text runs with these arguments.
            if let Some(text) = self
                .run_path
                .take()
                .map(|p| self.written(&p))
                .transpose()?
                .flatten()
            {
                let saved = self.save_vars(&positional_names(args.len() + 1));
                let zero = Arg::lit(name);
                let mut bound: Vec<&Arg> = vec![&zero];
                bound.extend(args.iter());
                let res = self.bind_positional(&bound, false);
                let out = res.and_then(|()| self.script_text(&text));
                self.restore_vars(saved);
                out?;
            }
            self.long_option_paths(args)?;
            self.plain(args)?;
            // Known text through a tool the analysis does not model (`… | gzip | gunzip`,
            // `… | openssl base64 -d`) comes out as text it cannot see.
            return Ok(Flow {
                decoded: stdin.decoded,
                opaque: stdin.opaque || stdin.text.is_some(),
                remote: stdin.remote,
                ..Flow::default()
            });
        };
        // Arguments that are decoded text the analysis could not work out (a decoder whose
        // input is not literal) hide what the command acts on.
        if !matches!(
            spec.kind,
            CmdKind::Assign | CmdKind::Echo | CmdKind::Alias | CmdKind::Read
        ) && args
            .iter()
            .any(|a| a.alts.iter().any(|v| !v.known && v.hidden))
        {
            self.signal(signal::OPAQUE);
        }
        let mut p = Parsed::new(spec, args);
        // `rsync SRC DST` with no remote operand is a copy on this machine.
        if let Some(local) = spec.local.as_deref().and_then(|l| self.spec(l)) {
            let remote = p.positional.iter().any(|a| {
                a.alts
                    .iter()
                    .any(|v| !v.known || v.text.contains("://") || remote_host(&v.text).is_some())
            });
            if !remote {
                spec = local;
                p = Parsed::new(spec, args);
            }
        }
        for setting in &p.settings {
            self.setting(setting)?;
        }
        // Before `-C DIR` moves: the archive named is where the call is.
        self.unpacks(spec, args, &stdin)?;
        // `tar -C DIR`, `make -C DIR`, `git -C DIR`: relative paths resolve in DIR.
        let moved = match &p.chdir {
            Some(d) => {
                let mut dirs = Vec::new();
                for v in &d.alts {
                    if v.literal {
                        let t = if v.text.starts_with(normalize::UNKNOWN) {
                            format!("/{}", v.text)
                        } else {
                            v.text.clone()
                        };
                        for r in self.resolve(&t)? {
                            if !dirs.contains(&r) {
                                dirs.push(r);
                            }
                        }
                    }
                }
                (!dirs.is_empty()).then(|| std::mem::replace(&mut self.cwds, dirs))
            }
            None => None,
        };
        let had_text = stdin.text.is_some();
        // A text tool or encoder passes the environment it is given on (`env | base64`).
        let passes_env = stdin.environment && (spec.produces.is_some() || spec.decoder);
        let passes_secret = if spec.produces.is_some() || spec.decoder {
            stdin.secret
        } else {
            0
        };
        let out = self.run_spec(name, spec, &p, args, stdin);
        if let Some(old) = moved {
            self.cwds = old;
        }
        let mut out = out?;
        out.environment |= passes_env;
        out.secret |= passes_secret;
        if let Some(kind) = spec.produces {
            if out.text.is_none() {
                self.produce(kind, &p, args, &mut out)?;
            }
        }
        // Known text in, unknown text out: made from the command's text by a step the
        // analysis does not model.
        if had_text && out.text.is_none() && out.items.is_empty() {
            out.opaque = true;
        }
        Ok(out)
    }

    /// The output of a text tool the table marks with `produces`, worked out from known
    /// input; an unknown output of a decoder or transform is opaque.
    fn produce(&mut self, kind: Produce, p: &Parsed, args: &[Arg], out: &mut Flow) -> R<()> {
        let input = match kind {
            Produce::Dirname
            | Produce::Basename
            | Produce::Realpath
            | Produce::Which
            | Produce::Tr => out.text.take().or(self.stdin_text.take()),
            _ if p.positional.is_empty() => self.stdin_text.take(),
            _ => {
                let mut all = Some(String::new());
                for a in &p.positional {
                    let t = if a.known() {
                        self.written(a.text())?
                    } else {
                        None
                    };
                    match (t, all.as_mut()) {
                        (Some(t), Some(acc)) => acc.push_str(&t),
                        _ => all = None,
                    }
                }
                all
            }
        };
        let needs_input = !matches!(
            kind,
            Produce::Dirname | Produce::Basename | Produce::Realpath | Produce::Which
        );
        let known = args.iter().all(Arg::known) && (input.is_some() || !needs_input);
        let texts: Vec<&str> = if known {
            args.iter().map(Arg::text).collect()
        } else {
            Vec::new()
        };
        let text = if !known {
            None
        } else if kind == Produce::Realpath {
            let mut lines = String::new();
            for a in &p.positional {
                let r = self.resolve(a.text())?;
                lines.push_str(r.first().map_or("", String::as_str));
                lines.push('\n');
            }
            Some(lines)
        } else {
            self.spend(input.as_ref().map_or(0, String::len))?;
            eval::produce(kind, &texts, input.as_deref(), p.decode)
        };
        match text {
            Some(t) => out.text = Some(t),
            None => {
                let rewrites = matches!(
                    kind,
                    Produce::Rev
                        | Produce::Tr
                        | Produce::Cut
                        | Produce::Sed
                        | Produce::Awk
                        | Produce::Base64
                        | Produce::Base32
                        | Produce::Hex
                );
                let encodes =
                    matches!(kind, Produce::Base64 | Produce::Base32 | Produce::Hex) && !p.decode;
                out.opaque |= rewrites && !encodes;
                out.hidden |=
                    p.decode && matches!(kind, Produce::Base64 | Produce::Base32 | Produce::Hex);
            }
        }
        Ok(())
    }

    fn run_spec(
        &mut self,
        name: &str,
        spec: &'a CommandSpec,
        p: &Parsed,
        args: &[Arg],
        stdin: Flow,
    ) -> R<Flow> {
        // Known standard input, for a text tool's output.
        self.stdin_text = if spec.produces.is_some() {
            stdin.text.clone()
        } else {
            None
        };
        if spec.arithmetic {
            for v in args.iter().flat_map(|a| &a.alts) {
                if v.literal && (v.text.contains("$(") || v.text.contains('`')) {
                    self.code(
                        true,
                        &Arg {
                            alts: vec![v.clone()],
                        },
                    )?;
                }
            }
        }
        let decoded_out = p.decode || stdin.decoded;
        // URLs whose text this command prints (a download to standard output).
        let mut fetched = Vec::new();
        let mut listed: Vec<Val> = Vec::new();
        self.sources(spec, p)?;
        self.stored_settings(spec, p)?;
        self.cleans(spec, p, args)?;
        self.serves(spec, args)?;
        self.execs(spec, p, args)?;
        // A credential inside a URL any command is given (`git push https://x:$TOKEN@host/r`)
        // goes to that URL's host; network clients are judged with their whole request.
        if !matches!(spec.kind, CmdKind::Network | CmdKind::Remote) {
            for v in args.iter().flat_map(|a| &a.alts) {
                if let Some((_, rest)) = v.text.split_once("://").filter(|_| v.secret != 0) {
                    // The credential is most often the URL's user part, which the analysis
                    // does not know: the host is after its `@`.
                    let authority = rest.split_once('@').map_or(rest, |(_, h)| h);
                    let hosts: Vec<String> = normalize::host_of(&format!("https://{authority}"))
                        .into_iter()
                        .collect();
                    self.secrets_sent(v.secret, &hosts);
                }
            }
        }
        // A command whose first operand is a program in a language the tables know (`awk
        // 'BEGIN { system("…") }'`): the program is judged by what it does.
        if !matches!(spec.kind, CmdKind::Interpreter | CmdKind::Shell) {
            let tables = self.tables;
            if let Some(lang) = self
                .index
                .languages
                .get(name)
                .and_then(|&i| tables.languages.get(i as usize))
            {
                if let Some(program) = program_operand(spec, args) {
                    let whole_unknown = program.alts.iter().all(|v| !v.literal);
                    if whole_unknown && program.alts.iter().any(|v| v.opaque || v.outside) {
                        self.signal(signal::OPAQUE_CODE);
                    }
                    // `awk -v NAME=VALUE`: the program starts with the variable set.
                    let mut prelude = String::new();
                    for w in args.windows(2) {
                        if let [f, a] = w {
                            if f.text() == "-v" && a.known() {
                                if let Some((n, v)) = a.text().split_once('=') {
                                    let v = v.replace('\\', "\\\\").replace('"', "\\\"");
                                    prelude.push_str(&format!("{n} = \"{v}\"\n"));
                                }
                            }
                        }
                    }
                    for v in &program.alts {
                        if v.literal {
                            self.code_effects(lang, &format!("{prelude}{}", v.text))?;
                        }
                    }
                }
            }
        }
        match spec.kind {
            CmdKind::Files(action) => {
                let action = p.mode.unwrap_or(action);
                let action = if p.dry_run { Action::Read } else { action };
                // What `tee` writes is its input: kept for a later `bash FILE`.
                if action == Action::Write && spec.produces == Some(Produce::Input) {
                    for a in &p.positional {
                        if a.known() {
                            for f in self.resolve(a.text())? {
                                match &stdin.text {
                                    Some(t) => {
                                        self.files.insert(f, t.clone());
                                    }
                                    None => {
                                        self.files.remove(&f);
                                    }
                                }
                            }
                        }
                    }
                }
                self.flag_paths(p)?;
                for a in &p.positional {
                    self.arg_path(action, a, p.recursive)?;
                }
                // What a metadata command prints are the names it was given and, for a
                // directory, the names below it: `ls KEY | xargs cat` reads KEY.
                if spec.kind == CmdKind::Files(Action::Stat) {
                    for v in p.positional.iter().flat_map(|a| &a.alts) {
                        if !v.literal || v.text.is_empty() {
                            continue;
                        }
                        listed.push(Val {
                            known: false,
                            ..v.clone()
                        });
                        listed.push(Val {
                            text: format!(
                                "{}/{}",
                                v.text.trim_end_matches('/'),
                                normalize::SUBTREE
                            ),
                            glob: true,
                            known: false,
                            ..v.clone()
                        });
                    }
                }
            }
            CmdKind::Copy | CmdKind::Move if p.dry_run => {
                // A dry run only lists what it would copy or move: the sources are read,
                // the destination is left alone.
                self.flag_paths(p)?;
                for a in p.sources_and_target().0 {
                    self.arg_path(Action::Read, a, p.recursive)?;
                }
            }
            CmdKind::Copy | CmdKind::Move => {
                self.flag_paths(p)?;
                let (src_action, whole) = if spec.kind == CmdKind::Copy {
                    (Action::Read, Action::Copy)
                } else {
                    (Action::Delete, Action::Move)
                };
                let (srcs, dst) = p.sources_and_target();
                // A move takes a directory's whole subtree with it, `-r` or not.
                let recursive = p.recursive || spec.kind == CmdKind::Move;
                for a in srcs {
                    self.arg_path(src_action, a, recursive)?;
                    self.arg_path(whole, a, false)?;
                    // `rsync --remove-source-files`: what is copied is gone from the source.
                    if spec.kind == CmdKind::Copy && p.mode == Some(Action::Delete) {
                        self.arg_path(Action::Delete, a, p.recursive)?;
                    }
                }
                // A file written earlier in the call keeps its text under the new name.
                if let ([src], [dst]) = (srcs, dst) {
                    if src.known() && dst.known() {
                        if let Some(t) = self.written(src.text())? {
                            let base = src.text().rsplit('/').next().unwrap_or("").to_owned();
                            for d in self.resolve(dst.text())? {
                                self.files.insert(format!("{d}/{base}"), t.clone());
                                self.files.insert(d, t.clone());
                            }
                        }
                    }
                }
                for a in dst {
                    self.arg_path(Action::Write, a, false)?;
                    self.arg_path(whole, a, false)?;
                    self.write_into_dir(srcs, a)?;
                    if p.mirror {
                        self.arg_path(Action::Delete, a, true)?;
                    }
                }
                // `cp -t DIR SRC…`: the same, into the flag's directory.
                if p.has_target_flag {
                    for (action, d) in &p.flag_paths {
                        if *action == Action::Write {
                            self.write_into_dir(srcs, d)?;
                        }
                    }
                }
            }
            CmdKind::Network | CmdKind::Remote => {
                let first_op = self.ops.len();
                if stdin.environment {
                    self.signal(signal::ENVIRONMENT_TO_NETWORK);
                }
                self.flag_paths(p)?;
                self.batch(spec, args, &stdin)?;
                let mut net = Operation::new(Action::Network);
                let mut urls = Vec::new();
                // A client that saves what it fetches (it has an output flag) takes URLs,
                // never local files: `curl host/x.sh` is `http://host/x.sh`.
                let fetcher = spec.flags.iter().any(|f| f.role == FlagRole::Output);
                for (i, a) in p.positional.iter().enumerate() {
                    let t = a.text().to_owned();
                    if spec.kind == CmdKind::Remote && i > 0 {
                        break;
                    }
                    if spec.kind == CmdKind::Network && remote_host(&t).is_none() {
                        if t.contains("://") && !t.starts_with("file://") {
                            urls.push(t.clone());
                        } else if !a.known() {
                            // `curl "$URL"`: fetched from somewhere the analysis cannot know.
                            urls.push(t.clone());
                        }
                    }
                    if let Some(local) = t.strip_prefix("file://") {
                        // `curl file:///home/u/.netrc` reads the file.
                        let local = local.strip_prefix("localhost").unwrap_or(local);
                        self.arg_path(Action::Read, &with_text(a, local), false)?;
                    } else if let Some(h) = remote_host(&t) {
                        net.hosts.push(h);
                    } else if let Some(h) = normalize::host_of(&t).filter(|_| {
                        t.contains("://")
                            || !looks_like_path(&t)
                            || (fetcher && !t.starts_with(['/', '.', '~']))
                    }) {
                        if !t.contains("://") && spec.kind == CmdKind::Network && a.known() {
                            // Clients fetch a bare `host/path` over plain HTTP.
                            urls.push(format!("http://{t}"));
                        }
                        net.hosts.push(h);
                    } else if looks_like_path(&t) {
                        self.arg_path(Action::Read, a, p.recursive)?;
                    }
                }
                // The files it sends and its own command line travel with the network
                // operation, so one rule can ask "a protected file to a host that is not
                // ours" or "curl with a key".
                let mut line = name.to_owned();
                for a in args {
                    line.push(' ');
                    line.push_str(a.text());
                }
                net.commands.push(line);
                net.urls.extend(urls.iter().cloned());
                if spec.kind == CmdKind::Network && !urls.is_empty() {
                    self.fetched(spec, p, &urls, &mut fetched)?;
                }
                for op in self.ops.get(first_op..).unwrap_or(&[]) {
                    if op.action == Action::Read {
                        net.paths.extend(op.paths.iter().cloned());
                        net.globs.extend(op.globs.iter().cloned());
                    }
                }
                let sent = args
                    .iter()
                    .flat_map(|a| &a.alts)
                    .fold(stdin.secret, |b, v| b | v.secret)
                    | net
                        .paths
                        .iter()
                        .filter_map(|p| self.secret_files.get(p))
                        .fold(0, |b, x| b | x);
                self.secrets_sent(sent, &net.hosts);
                self.ops.push(net);
            }
            CmdKind::Wrapper => {
                // `script -c CMD`, `flock -c CMD`, `env -S CMD`.
                if let Some(code) = &p.code {
                    self.code(true, code)?;
                }
                if let Some(i) = p.rest_at {
                    let inner: Vec<Arg> = args.get(i..).unwrap_or(&[]).to_vec();
                    // `env K=V cmd`: leading assignments.
                    let start = inner
                        .iter()
                        .position(|a| !is_assignment(a.text()))
                        .unwrap_or(inner.len());
                    self.flag_paths(p)?;
                    // The assignments are the wrapped command's environment
                    // (`env F=~/.netrc sh -c 'cat $F'`).
                    let assigned: Vec<&Arg> = args
                        .get(..i)
                        .unwrap_or(&[])
                        .iter()
                        .chain(inner.iter().take(start))
                        .filter(|a| is_assignment(a.text()))
                        .collect();
                    let names: Vec<String> = assigned
                        .iter()
                        .filter_map(|a| a.text().split_once('=').map(|(k, _)| k.to_owned()))
                        .collect();
                    let saved = self.save_vars(&names);
                    for a in assigned {
                        let Some((k, _)) = a.text().split_once('=') else {
                            continue;
                        };
                        let vals = a
                            .alts
                            .iter()
                            .map(|v| {
                                let mut x = v.clone();
                                x.text = v.text.split_once('=').map_or("", |(_, r)| r).to_owned();
                                x
                            })
                            .collect();
                        self.bind(k, vals, false)?;
                    }
                    let run = inner.get(start..).unwrap_or(&[]);
                    // A program name with a space in it is shell text: `watch "rm -rf ~"` runs
                    // its words through `sh -c`; a wrapper that runs it directly would fail,
                    // so judging it as code never lets anything through.
                    let out = match run.first() {
                        Some(first) if first.known() && first.text().contains([' ', '\t']) => {
                            let words: Vec<&str> = run.iter().map(Arg::text).collect();
                            self.code(true, &Arg::lit(&words.join(" ")))
                                .map(|()| Flow::default())
                        }
                        _ => self.dispatch_inner(run, stdin),
                    };
                    self.restore_vars(saved);
                    return out;
                }
                self.flag_paths(p)?;
            }
            CmdKind::Shell | CmdKind::Interpreter => {
                self.flag_paths(p)?;
                if let Some((module, at)) = &p.module {
                    // `python3 -m pip install X` is `pip install X`. A module the command
                    // table does not know gets its arguments as an unknown command does.
                    let runs = module.known()
                        && self.index.commands.get(module.text()).is_some_and(|&c| {
                            self.tables.commands.get(c as usize).is_some_and(|s| {
                                !matches!(s.kind, CmdKind::Interpreter | CmdKind::Shell)
                            })
                        });
                    if runs {
                        let mut inner = vec![module.clone()];
                        inner.extend(args.get(*at..).unwrap_or(&[]).iter().cloned());
                        return self.dispatch_inner(&inner, stdin);
                    }
                    if module.opaque() {
                        self.signal(signal::OPAQUE);
                    }
                    return self
                        .plain(args.get(*at..).unwrap_or(&[]).iter())
                        .map(|()| Flow::default());
                }
                let shell = spec.kind == CmdKind::Shell;
                let saved_lang = self.lang;
                if !shell {
                    let tables = self.tables;
                    self.lang = self
                        .index
                        .languages
                        .get(name)
                        .and_then(|&i| tables.languages.get(i as usize));
                }
                // `osascript -l JavaScript`: JavaScript for Automation.
                if let Some(w) = args
                    .windows(2)
                    .find(|w| w.first().is_some_and(|a| a.text() == "-l"))
                {
                    let wanted = w
                        .get(1)
                        .map(|a| a.text().to_ascii_lowercase())
                        .unwrap_or_default();
                    let tables = self.tables;
                    if let Some(l) = tables
                        .languages
                        .iter()
                        .find(|l| l.name == wanted || (wanted == "js" && l.name == "javascript"))
                    {
                        self.lang = Some(l);
                    }
                }
                let saved_ps = self.powershell;
                let out = if self.lang.is_some_and(|l| l.syntax == Syntax::PowerShell) {
                    self.pwsh_invocation(args, &stdin)
                } else if name == "osascript" {
                    // Each `-e` is one line of the script.
                    let lines: Vec<&Arg> = args
                        .windows(2)
                        .filter(|w| w.first().is_some_and(|a| a.text() == "-e"))
                        .filter_map(|w| w.get(1))
                        .collect();
                    if lines.is_empty() {
                        self.interpreter(shell, p, &stdin)
                    } else {
                        let mut text = String::new();
                        for l in &lines {
                            if l.opaque() || l.decoded() {
                                self.signal(signal::OPAQUE);
                            }
                            text.push_str(&l.text().replace(normalize::UNKNOWN, ""));
                            text.push('\n');
                        }
                        self.code_text(false, &text)
                    }
                } else {
                    // `bash -c` from PowerShell is bash.
                    self.powershell = false;
                    self.interpreter(shell, p, &stdin)
                };
                self.powershell = saved_ps;
                self.lang = saved_lang;
                out?;
            }
            CmdKind::Eval => {
                if args.iter().any(Arg::decoded) {
                    self.signal(signal::DECODE_TO_SHELL);
                }
                for a in args {
                    for v in &a.alts {
                        self.remote_code(&v.remote);
                    }
                }
                // Code from outside the call, even inside known text (`eval echo \$$V`).
                if args
                    .iter()
                    .any(|a| a.alts.iter().any(|v| !v.known && (v.opaque || v.outside)))
                {
                    self.signal(signal::OPAQUE);
                }
                if args.iter().all(Arg::known) {
                    let joined: Vec<&str> = args.iter().map(Arg::text).collect();
                    let text = joined.join(" ");
                    self.script_text(&text)?;
                } else {
                    // Partly unknown: every known value of each word, as a script.
                    for a in args {
                        for v in &a.alts {
                            if v.known && v.literal {
                                let _ = self.script_text(&v.text);
                            }
                        }
                    }
                }
            }
            CmdKind::Source => {
                if let Some(script) = p.positional.first() {
                    if is_stdin_path(script.text()) {
                        if let Some(t) = &stdin.text {
                            self.code_text(true, t)?;
                        }
                    }
                    self.script_file(true, script)?;
                }
            }
            CmdKind::Xargs => {
                self.flag_paths(p)?;
                if let Some(i) = p.rest_at {
                    let mut inner: Vec<Arg> = args.get(i..).unwrap_or(&[]).to_vec();
                    // GNU parallel: `CMD ::: a b c` takes its inputs from the line.
                    let mut words: Vec<Arg> = Vec::new();
                    if let Some(k) = inner.iter().position(|a| a.text() == ":::") {
                        words.extend(
                            inner
                                .get(k + 1..)
                                .unwrap_or(&[])
                                .iter()
                                .filter(|a| !a.text().starts_with(":::"))
                                .cloned(),
                        );
                        inner.truncate(k);
                    }
                    // What standard input holds: known text split as xargs splits it, or
                    // the paths a lister prints.
                    let nul = args
                        .get(..i)
                        .unwrap_or(&[])
                        .iter()
                        .any(|a| matches!(a.text(), "-0" | "--null"));
                    // `xargs -a FILE`: inputs from a file (or a `<(…)` with known text).
                    let from_file = args.get(..i).unwrap_or(&[]).windows(2).find_map(|w| {
                        let [f, v] = w else { return None };
                        matches!(f.text(), "-a" | "--arg-file")
                            .then(|| {
                                v.text()
                                    .strip_prefix("<(")
                                    .and_then(|t| t.strip_suffix(')'))
                            })
                            .flatten()
                            .map(str::to_owned)
                    });
                    let stdin_text = from_file.or_else(|| stdin.text.clone());
                    match &stdin_text {
                        Some(t) if nul => words.extend(
                            t.split(['\0', '\n'])
                                .filter(|w| !w.is_empty())
                                .map(Arg::lit),
                        ),
                        // With a replace string each input is a whole line.
                        Some(t) if p.replace.is_some() => words.extend(
                            t.lines()
                                .map(str::trim)
                                .filter(|l| !l.is_empty())
                                .map(Arg::lit),
                        ),
                        Some(t) => words.extend(t.split_whitespace().map(Arg::lit)),
                        None if !stdin.items.is_empty() => words.push(Arg {
                            alts: stdin.items.clone(),
                        }),
                        // A download's text as the arguments (`curl … | xargs bash -c`).
                        None if !stdin.remote.is_empty() => words.push(Arg {
                            alts: vec![Val {
                                remote: stdin.remote.clone(),
                                ..Val::unknown()
                            }],
                        }),
                        None => {}
                    }
                    for w in &mut words {
                        for v in &mut w.alts {
                            v.decoded |= stdin.decoded;
                        }
                    }
                    // GNU parallel joins its command words into a line a shell runs: a quoted
                    // template (`parallel 'rm -rf {}' ::: ~`) is code with each input in it.
                    if name == "parallel"
                        && inner
                            .iter()
                            .any(|a| a.text().contains([' ', ';', '|', '&']))
                    {
                        let template: Vec<&str> = inner.iter().map(Arg::text).collect();
                        let template = template.join(" ");
                        let values: Vec<String> = words
                            .iter()
                            .flat_map(|w| w.alts.iter().map(|v| v.text.clone()))
                            .take(MAX_ALTS)
                            .collect();
                        if values.is_empty() {
                            self.script_text(&template)?;
                        }
                        for v in values {
                            let code = if template.contains("{}") {
                                template.replace("{}", &v)
                            } else {
                                format!("{template} {v}")
                            };
                            self.script_text(&code)?;
                        }
                        // Also judged as separate words (how xargs would run them).
                    }
                    // `{}` stands for each input in parallel (and is harmless for xargs).
                    let repl = p.replace.clone().or_else(|| {
                        inner
                            .iter()
                            .any(|a| a.text().contains("{}"))
                            .then(|| "{}".to_owned())
                    });
                    if let Some(repl) = repl.filter(|r| !r.is_empty()) {
                        let mut used = false;
                        for a in &mut inner {
                            if a.text().contains(repl.as_str()) {
                                used = true;
                                let mut alts = Vec::new();
                                for w in &words {
                                    for wv in &w.alts {
                                        let mut v = wv.clone();
                                        v.text = a.text().replace(repl.as_str(), &wv.text);
                                        alts.push(v);
                                    }
                                }
                                if !alts.is_empty() {
                                    a.alts = alts;
                                }
                            }
                        }
                        if !used {
                            inner.extend(words);
                        }
                    } else {
                        inner.extend(words);
                    }
                    if inner.is_empty() {
                        return Ok(Flow::default());
                    }
                    return self.dispatch_inner(
                        &inner,
                        Flow {
                            decoded: stdin.decoded,
                            opaque: stdin.opaque,
                            ..Flow::default()
                        },
                    );
                }
            }
            CmdKind::Find => return self.find(name, args),
            CmdKind::Cd => {
                let target = p.positional.first().map(|a| a.alts.clone());
                match target {
                    None => self.push_cwd(self.home.to_owned()),
                    Some(alts) => {
                        for v in alts {
                            if v.known && v.text != "-" {
                                let dir = self.resolve(&v.text)?;
                                for d in dir {
                                    self.push_cwd(d);
                                }
                            }
                        }
                    }
                }
            }
            CmdKind::Assign => {
                // Attributes: `-n` (a name for another variable), `-l`/`-u` (case).
                let attrs: String = args
                    .iter()
                    .map(Arg::text)
                    .filter(|t| t.starts_with('-') && !t.contains('='))
                    .collect();
                for a in &p.positional {
                    if let Some((k, _)) = a.text().split_once('=') {
                        if is_assignment(a.text()) {
                            let mut vals: Vec<Val> = a
                                .alts
                                .iter()
                                .map(|v| {
                                    let mut x = v.clone();
                                    x.text =
                                        v.text.split_once('=').map_or("", |(_, r)| r).to_owned();
                                    x
                                })
                                .collect();
                            if attrs.contains('n') {
                                // `declare -n r=HOME`: `$r` is `$HOME`.
                                let mut refd = Vec::new();
                                for v in &vals {
                                    match self.var(&v.text).filter(|_| v.known) {
                                        Some(x) => refd.extend(x),
                                        None if v.known => refd.push(Val {
                                            outside: true,
                                            ..Val::unknown()
                                        }),
                                        None => refd.push(Val {
                                            hidden: true,
                                            ..Val::opaque()
                                        }),
                                    }
                                }
                                vals = refd;
                            }
                            if attrs.contains('l') || attrs.contains('u') {
                                for v in &mut vals {
                                    v.text = eval::case(&v.text, attrs.contains('u'), true);
                                }
                            }
                            let k = k.trim_end_matches('+').to_owned();
                            self.bind(&k, vals, true)?;
                        }
                    }
                }
            }
            CmdKind::Echo => {
                // What it prints: every argument after its own options. `echo -----BEGIN`
                // prints the dashes: only `-n`/`-e`/`-E` (and `printf -v NAME`, `--`) are
                // options, not anything that starts with `-`.
                let mut rest = args;
                let mut var = None;
                let mut escapes = false;
                loop {
                    let t = rest.first().map(Arg::text).unwrap_or("");
                    let skip = if name == "printf" {
                        match t {
                            "-v" => {
                                var = rest.get(1).map(|a| a.text().to_owned());
                                2
                            }
                            "--" => 1,
                            _ => 0,
                        }
                    } else {
                        let opt = t.len() > 1
                            && t.starts_with('-')
                            && t.bytes().skip(1).all(|b| matches!(b, b'n' | b'e' | b'E'));
                        escapes |= opt && t.contains('e');
                        usize::from(opt)
                    };
                    if skip == 0 {
                        break;
                    }
                    rest = rest.get(skip..).unwrap_or(&[]);
                }
                let printed: Vec<&Arg> = rest.iter().collect();
                let known = printed.iter().all(|a| a.known());
                let words: Vec<&str> = printed.iter().map(|a| a.text()).collect();
                let (text, numeric) = if name == "printf" {
                    let format = words.first().copied().unwrap_or("");
                    match eval::printf(format, words.get(1..).unwrap_or(&[])) {
                        Some(x) => x,
                        None => (words.join(" "), true),
                    }
                } else if escapes {
                    let (t, n) = eval::escapes(&words.join(" "));
                    (t + "\n", n)
                } else {
                    (words.join(" ") + "\n", false)
                };
                self.exec.contents.push(text.clone());
                let decoded = numeric || printed.iter().any(|a| a.decoded());
                let opaque = printed.iter().any(|a| a.opaque());
                if let Some(var) = var {
                    // `printf -v NAME …` assigns instead of printing.
                    let mut v = if known {
                        Val::lit(&text)
                    } else {
                        Val {
                            opaque,
                            ..Val::unknown()
                        }
                    };
                    v.decoded = decoded;
                    self.bind(&var, vec![v], false)?;
                    return Ok(Flow::default());
                }
                return Ok(Flow {
                    text: known.then_some(text),
                    decoded,
                    opaque,
                    items: Vec::new(),
                    hidden: !known && printed.iter().any(|a| a.alts.iter().any(|v| v.hidden)),
                    environment: false,
                    remote: Vec::new(),
                    secret: printed
                        .iter()
                        .flat_map(|a| &a.alts)
                        .fold(0, |b, v| b | v.secret),
                });
            }
            CmdKind::Alias => {
                for a in &p.positional {
                    if let Some((k, v)) = a.text().split_once('=') {
                        if a.known() && !k.is_empty() {
                            self.aliases.insert(k.to_owned(), v.to_owned());
                            if self.later {
                                self.script_text(v)?;
                            }
                        }
                    }
                }
            }
            CmdKind::Read => {
                // `mapfile NAME` / `readarray NAME` / `read -a NAME`: an array, every line
                // (or field) one of its values.
                let array_flag = args.iter().position(|a| {
                    let t = a.text();
                    t.starts_with('-') && !t.starts_with("--") && t.ends_with('a')
                });
                let whole_lines = matches!(name, "mapfile" | "readarray");
                if whole_lines || array_flag.is_some() {
                    let var = match array_flag {
                        Some(i) => args.get(i + 1).map(|a| a.text().to_owned()),
                        None => p.positional.last().map(|a| a.text().to_owned()),
                    }
                    .unwrap_or_else(|| "MAPFILE".to_owned());
                    let ifs: Vec<char> = match self.vars.get("IFS") {
                        Some(b) => b.iter().flat_map(|x| x.text.chars()).collect(),
                        None => vec![' ', '\t', '\n'],
                    };
                    let vals: Vec<Val> = match &stdin.text {
                        Some(t) if whole_lines => t.lines().map(Val::lit).collect(),
                        Some(t) => t
                            .lines()
                            .next()
                            .unwrap_or("")
                            .split(|c| ifs.contains(&c))
                            .filter(|f| !f.is_empty())
                            .map(Val::lit)
                            .collect(),
                        None => vec![Val {
                            opaque: stdin.opaque,
                            decoded: stdin.decoded,
                            ..Val::unknown()
                        }],
                    };
                    let vals: Vec<Val> = vals.into_iter().take(MAX_ALTS).collect();
                    self.bind(&var, vals, false)?;
                    return Ok(Flow::default());
                }
                // `read [-r] NAME…` from a here-string or here-document: the first line,
                // split on `$IFS`, the last name taking the rest.
                let names: Vec<&str> = p
                    .positional
                    .iter()
                    .map(|a| a.text())
                    .filter(|t| is_assignment(&format!("{t}=")))
                    .collect();
                let names = if names.is_empty() {
                    vec!["REPLY"]
                } else {
                    names
                };
                let line = stdin
                    .text
                    .as_deref()
                    .map(|t| t.lines().next().unwrap_or(""));
                let mut fields: Vec<String> = match line {
                    Some(l) => l.split_whitespace().map(str::to_owned).collect(),
                    None => Vec::new(),
                };
                for (k, n) in names.iter().enumerate() {
                    let v = match line {
                        Some(_) if k + 1 == names.len() => {
                            Val::lit(&std::mem::take(&mut fields).join(" "))
                        }
                        Some(_) if !fields.is_empty() => Val::lit(&fields.remove(0)),
                        Some(_) => Val::lit(""),
                        None => Val {
                            opaque: stdin.opaque,
                            decoded: stdin.decoded,
                            ..Val::unknown()
                        },
                    };
                    let mut v = v;
                    v.decoded |= stdin.decoded;
                    self.bind(n, vec![v], false)?;
                }
            }
            CmdKind::Link => {
                // `ln -s TARGET LINK`: the target is exposed through the link (judged as a
                // read of it, whole when it is a directory), the link is written, and later
                // paths through the link reach the target.
                self.flag_paths(p)?;
                let n = p.positional.len();
                let (targets, link) = if n >= 2 {
                    p.positional.split_at(n - 1)
                } else {
                    (p.positional.as_slice(), &[][..])
                };
                for a in targets {
                    // A name with an extension is a file: only a directory's link exposes
                    // what is below it.
                    let base = a.text().trim_end_matches('/');
                    let base = base.rsplit('/').next().unwrap_or(base);
                    let dir_like = !base.trim_start_matches('.').contains('.');
                    self.arg_path(Action::Read, a, dir_like)?;
                }
                let mut link_paths = Vec::new();
                for a in link {
                    self.arg_path(Action::Write, a, false)?;
                    if a.known() {
                        link_paths.extend(self.resolve(a.text())?);
                    }
                }
                if link.is_empty() {
                    link_paths.push(self.cwds.first().cloned().unwrap_or_default());
                }
                for t in targets.iter().filter(|t| t.known()) {
                    for to in self.resolve(t.text())? {
                        let base = to.rsplit('/').next().unwrap_or("").to_owned();
                        for l in &link_paths {
                            if self.links.len() < MAX_ALTS {
                                self.links.push((l.clone(), to.clone()));
                                self.links.push((format!("{l}/{base}"), to.clone()));
                            }
                        }
                    }
                }
            }
            CmdKind::Plain => {
                self.flag_paths(p)?;
                self.plain(p.positional.iter().copied())?;
            }
        }
        add_urls(&mut fetched, &stdin.remote);
        // A filter of its input (`grep id_`, `head -1`, `awk '{print $2}'`, `sort`) prints
        // parts of the names a lister gave it: they stay names for the next stage.
        if listed.is_empty()
            && (spec.produces.is_some()
                || (spec.kind == CmdKind::Files(Action::Read) && p.positional.is_empty()))
        {
            listed = stdin.items;
        }
        Ok(Flow {
            decoded: decoded_out,
            opaque: stdin.opaque,
            remote: fetched,
            items: listed,
            ..Flow::default()
        })
    }

    /// `git clean -f [PATHSPEC…]` (the table's `cleans` subcommands): the untracked files
    /// below each pathspec, or below the working directory when none is given, are deleted
    /// (judged as `rm -rf` of them). `-n`/`--dry-run` only lists; without `-f` git refuses.
    fn cleans(&mut self, spec: &CommandSpec, p: &Parsed, args: &[Arg]) -> R<()> {
        let Some(skip) = subcommand_operands(&spec.cleans, p) else {
            return Ok(());
        };
        let mut force = false;
        for a in args {
            let t = a.text();
            if t == "--" {
                break;
            }
            match t.strip_prefix("--") {
                Some("dry-run") => return Ok(()),
                Some("force") => force = true,
                Some(_) => {}
                None => {
                    if let Some(cluster) = t.strip_prefix('-') {
                        if cluster.contains('n') {
                            return Ok(());
                        }
                        force |= cluster.contains('f');
                    }
                }
            }
        }
        if !force {
            return Ok(());
        }
        let specs = p.positional.get(skip..).unwrap_or(&[]);
        if specs.is_empty() {
            return self.arg_path(Action::Delete, &Arg::lit("."), true);
        }
        for a in specs {
            self.arg_path(Action::Delete, a, true)?;
        }
        Ok(())
    }

    /// A command that serves a directory over the network (the table's `serves`): every file
    /// below it is readable by whoever connects, as a mount hands it whole.
    fn serves(&mut self, spec: &CommandSpec, args: &[Arg]) -> R<()> {
        let texts: Vec<&str> = args.iter().map(Arg::text).collect();
        // A word matches itself or itself with a version attached (`http-server@14`).
        let word = |got: &str, want: &str| {
            got == want || got.strip_prefix(want).is_some_and(|r| r.starts_with('@'))
        };
        for serve in &spec.serves {
            let n = serve.after.len();
            let Some(end) = (0..=texts.len().saturating_sub(n))
                .find(|&i| {
                    texts
                        .get(i..i + n)
                        .is_some_and(|w| w.iter().zip(&serve.after).all(|(a, b)| word(a, b)))
                })
                .map(|i| i + n)
            else {
                continue;
            };
            let rest = args.get(end..).unwrap_or(&[]);
            let (mut dirs, taken) = flag_values(rest, &serve.dir);
            for (a, taken) in rest.iter().zip(taken) {
                let t = a.text();
                // A port or an address given to a flag the table does not list (`-p 8080`,
                // `-a 0.0.0.0`) is not a directory.
                let address = !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b == b'.');
                if serve.operands && !taken && !t.starts_with('-') && !address {
                    dirs.push(a.clone());
                }
            }
            if dirs.is_empty() {
                dirs.push(Arg::lit("."));
            }
            for d in &dirs {
                self.arg_path(Action::Read, d, true)?;
            }
        }
        Ok(())
    }

    /// `git config KEY VALUE` (the table's `configures` subcommands): a stored setting runs
    /// later, unattended, so what it would run is judged as `-c KEY=VALUE` is and marked as
    /// running later.
    fn stored_settings(&mut self, spec: &CommandSpec, p: &Parsed) -> R<()> {
        let Some(skip) = subcommand_operands(&spec.configures, p) else {
            return Ok(());
        };
        // The key is the first operand shaped like one (`section.name`): a flag the table
        // does not know (`-f FILE`) may leave its value among the operands.
        let rest = p.positional.get(skip..).unwrap_or(&[]);
        let Some(at) = rest.iter().position(|a| {
            let t = a.text();
            t.contains('.') && !t.contains(['/', '=', ' ']) && !t.starts_with('.')
        }) else {
            // `git config "$KEY" "$VALUE"`: a key Crust cannot work out may be one whose
            // value runs, so a key and a value it cannot read are refused.
            if rest.len() >= 2 && rest.iter().any(|a| !a.known()) {
                self.signal(signal::OPAQUE);
            }
            return Ok(());
        };
        let (Some(key), Some(value)) = (rest.get(at), rest.get(at + 1)) else {
            return Ok(());
        };
        let mut joined = (*value).clone();
        joined.alts = Vec::new();
        for k in &key.alts {
            for v in &value.alts {
                let mut x = v.clone();
                x.text = format!("{}={}", k.text, v.text);
                x.known &= k.known;
                x.literal &= k.literal;
                joined.alts.push(x);
            }
        }
        let first = self.ops.len();
        self.setting(&joined)?;
        for op in self.ops.iter_mut().skip(first) {
            if !op.signals.iter().any(|s| s == crate::signal::RUNS_LATER) {
                op.signals.push(crate::signal::RUNS_LATER.to_owned());
            }
        }
        Ok(())
    }

    /// `git -c key=value`: a value git runs as a command (`alias.x=!cmd`, `core.sshCommand`,
    /// `core.fsmonitor`, a pager, an editor, a diff or merge driver, a credential helper) is
    /// judged as shell code; `core.hooksPath` makes a directory's files run as hooks.
    fn setting(&mut self, a: &Arg) -> R<()> {
        for v in &a.alts {
            // `key=value`; ssh's `-o` also takes `Key value`.
            let Some((key, value)) = v
                .text
                .split_once('=')
                .or_else(|| v.text.trim_start().split_once([' ', '\t']))
            else {
                continue;
            };
            let key = key.trim().to_ascii_lowercase();
            let runs = value.starts_with('!')
                || SETTINGS_THAT_RUN.iter().any(|k| {
                    key == *k
                        || (k.starts_with('.') && key.ends_with(k))
                        || key.starts_with(&format!("{k}."))
                });
            if key == "core.hookspath" {
                let mut x = v.clone();
                x.text = format!("{}/*", value.trim_end_matches('/'));
                x.glob = true;
                self.path(Action::Execute, &x)?;
            } else if runs {
                let code = value.strip_prefix('!').unwrap_or(value);
                if v.known {
                    self.code_text(true, code)?;
                } else if !v.literal || v.opaque || v.hidden {
                    self.signal(signal::OPAQUE);
                }
            }
        }
        Ok(())
    }

    /// Into a directory a copy or move is `DIR/<name>`: copying a hook into `.git/hooks/`
    /// writes `.git/hooks/pre-commit`.
    fn write_into_dir(&mut self, srcs: &[&Arg], dir: &Arg) -> R<()> {
        for src in srcs {
            for sv in &src.alts {
                let base = sv.text.trim_end_matches('/');
                let base = base.rsplit('/').next().unwrap_or(base);
                if base.is_empty() || base == "." || base == ".." {
                    continue;
                }
                for dv in &dir.alts {
                    let mut x = dv.clone();
                    x.text = format!("{}/{base}", dv.text.trim_end_matches('/'));
                    x.glob |= sv.glob;
                    x.known &= sv.known;
                    self.path(Action::Write, &x)?;
                }
            }
        }
        Ok(())
    }

    fn push_cwd(&mut self, d: String) {
        if !self.cwds.contains(&d) {
            if self.cwds.len() >= 4 {
                self.cwds.remove(1);
            }
            self.cwds.push(d);
        }
    }

    /// Unknown commands: arguments that look like paths are read, and so are bare names
    /// (`tool -o policy.bin`, `tool id_rsa`): they name files in the working directory as
    /// often as not, and what the command does with them is unknown.
    fn plain<'x>(&mut self, args: impl IntoIterator<Item = &'x Arg>) -> R<()> {
        for a in args {
            if a.text().starts_with('-') {
                continue;
            }
            for v in &a.alts {
                if (looks_like_path(&v.text) || looks_like_file_name(&v.text)) && v.literal {
                    self.path(Action::Read, v)?;
                }
            }
        }
        Ok(())
    }

    /// Where a download's text goes: on to the next stage (`fetched`) and into the files it is
    /// saved in, remembered so that running them later in the call is judged as remote code.
    fn fetched(
        &mut self,
        spec: &CommandSpec,
        p: &Parsed,
        urls: &[String],
        fetched: &mut Vec<String>,
    ) -> R<()> {
        let files: Vec<&Arg> = p.outputs.iter().filter(|a| !is_stdout(a.text())).collect();
        // Passed on even when saved to a file: what follows a download in a pipeline is
        // taken as its text (a client's own settings may send it to standard output).
        add_urls(fetched, urls);
        let mut saved = Vec::new();
        for a in files.iter().filter(|a| a.known()) {
            saved.extend(self.resolve(a.text())?);
        }
        if p.remote_name || (!spec.prints && p.outputs.is_empty()) {
            for u in urls {
                saved.extend(self.resolve(url_file_name(u))?);
            }
        }
        for f in saved {
            self.spend(64)?;
            self.files.remove(&f);
            self.downloads.insert(f, urls.to_vec());
        }
        Ok(())
    }

    /// Packages and code fetched from elsewhere: a command's source flags (`--index-url`,
    /// `--registry`, `--git`) and, for an install subcommand, operands that are URLs or git
    /// sources. Each becomes an execute operation whose `url` and `host` say where from.
    fn sources(&mut self, spec: &CommandSpec, p: &Parsed) -> R<()> {
        let registry = spec
            .registry
            .as_deref()
            .filter(|_| subcommand_operands(&spec.unnamed, p).is_none())
            .and_then(|r| self.tables.registries.iter().find(|x| x.name == r));
        let mut ops: Vec<Operation> = Vec::new();
        for a in &p.sources {
            for v in &a.alts {
                ops.push(source_operation(&v.text));
            }
        }
        // `uvx --from PKG`, `npx -p PKG`, `cargo install --git URL`.
        let mut operands: Vec<&Arg> = p.packages.iter().collect();
        if let Some(skip) = subcommand_operands(&spec.installs, p) {
            // `npx PKG ARGS…`: only the first operand names a package.
            let first_only = subcommand_operands(&spec.launches, p) == Some(skip);
            let take = if first_only { 1 } else { usize::MAX };
            operands.extend(p.positional.iter().skip(skip).take(take));
        }
        for a in operands {
            for v in &a.alts {
                ops.extend(package_operation(registry.filter(|_| v.known), &v.text));
            }
        }
        // Every one is kept: a cap would let a long list of harmless sources hide the last.
        for op in ops {
            self.spend(64)?;
            self.ops.push(op);
        }
        Ok(())
    }

    /// A subcommand that runs the command after it (`bundle exec CMD`, `poetry run CMD`,
    /// `rbenv exec CMD`): that command, with its own flags, is judged as itself.
    fn execs(&mut self, spec: &CommandSpec, p: &Parsed, args: &[Arg]) -> R<()> {
        let Some(skip) = subcommand_operands(&spec.execs, p) else {
            return Ok(());
        };
        let Some(first) = p.positional.get(skip) else {
            return Ok(());
        };
        let Some(i) = args.iter().position(|a| std::ptr::eq(a, *first)) else {
            return Ok(());
        };
        let mut inner = args.get(i..).unwrap_or(&[]);
        // `mise exec node@20 -- node x.js`: what follows `--` is the command.
        if let Some(d) = inner.iter().position(|a| a.text() == "--") {
            inner = inner.get(d + 1..).unwrap_or(&[]);
        }
        if !inner.is_empty() {
            self.dispatch_inner(inner, Flow::default())?;
        }
        Ok(())
    }

    /// File-transfer commands a client runs from a batch (`sftp -b FILE`, `-b -` on standard
    /// input, `lftp -c CMDS`): `put` reads and sends local files, `get` writes them, `!CMD`
    /// runs a local shell. A batch file written earlier in the call is read by its text; one
    /// on standard input that the analysis cannot know is refused when made to hide it.
    fn batch(&mut self, spec: &CommandSpec, args: &[Arg], stdin: &Flow) -> R<()> {
        if spec.batch.is_empty() && spec.batch_text.is_empty() {
            return Ok(());
        }
        let mut texts = Vec::new();
        for v in flag_values(args, &spec.batch).0 {
            if v.text() == "-" || is_stdin_path(v.text()) {
                match &stdin.text {
                    Some(t) => texts.push(t.clone()),
                    None if stdin.opaque || stdin.decoded => self.signal(signal::OPAQUE),
                    None => {}
                }
            } else if v.known() {
                if let Some(t) = self.written(v.text())? {
                    texts.push(t);
                }
            }
        }
        for v in flag_values(args, &spec.batch_text).0 {
            if v.known() {
                texts.push(v.text().to_owned());
            } else if v.opaque() {
                self.signal(signal::OPAQUE);
            }
        }
        for text in texts {
            self.spend(text.len())?;
            for line in text.split(['\n', ';']) {
                // sftp's `-` (errors ignored) and `@` (not echoed) prefixes.
                let line = line.trim().trim_start_matches(['-', '@']).trim_start();
                if let Some(cmd) = line.strip_prefix('!') {
                    self.script_text(cmd)?;
                    continue;
                }
                let mut words = line.split_whitespace();
                let verb = words.next().unwrap_or("").to_ascii_lowercase();
                let mut recursive = false;
                let mut operands = Vec::new();
                for w in words {
                    match w.strip_prefix('-') {
                        Some(f) if !f.is_empty() => recursive |= f.contains(['r', 'R']),
                        _ => operands.push(w.trim_matches(['"', '\''])),
                    }
                }
                match verb.as_str() {
                    "put" | "reput" | "append" => {
                        if let Some(local) = operands.first() {
                            self.arg_path(Action::Read, &Arg::lit(local), recursive)?;
                        }
                    }
                    "mput" => {
                        for local in &operands {
                            self.arg_path(Action::Read, &Arg::lit(local), recursive)?;
                        }
                    }
                    "get" | "reget" => {
                        if let Some(local) = operands.get(1) {
                            self.arg_path(Action::Write, &Arg::lit(local), false)?;
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// Credential variables sent to `hosts`: the whole environment anywhere, a service's
    /// credential anywhere but its own hosts (or this machine).
    fn secrets_sent(&mut self, bits: u64, hosts: &[String]) {
        if bits == 0 {
            return;
        }
        if bits & WHOLE_ENV != 0 {
            self.signal(signal::ENVIRONMENT_TO_NETWORK);
        }
        let tables = self.tables;
        let foreign = tables
            .secrets
            .variables
            .iter()
            .enumerate()
            .filter(|(i, _)| *i < 63 && bits & (1 << i) != 0)
            .any(|(_, var)| {
                hosts.is_empty()
                    || hosts
                        .iter()
                        .any(|h| !normalize::is_local_host(h) && !var.allows(h))
            });
        if foreign {
            self.signal(signal::SECRET_TO_NETWORK);
        }
    }

    fn flag_paths(&mut self, p: &Parsed) -> R<()> {
        for a in &p.mounts {
            self.arg_path(Action::Read, a, true)?;
        }
        for (action, a) in &p.flag_paths {
            // `Copy-Item -Path DIR -Recurse`: a recursive command takes a flag's directory
            // whole too.
            let whole = p.recursive && matches!(action, Action::Read | Action::Delete);
            self.arg_path(*action, a, whole)?;
        }
        for c in &p.codes {
            self.code(true, c)?;
        }
        Ok(())
    }

    /// A shell or an interpreter: code in a flag, a script file, or standard input.
    fn interpreter(&mut self, shell: bool, p: &Parsed, stdin: &Flow) -> R<()> {
        if let Some(code) = &p.code {
            if shell {
                // `sh -c CODE a0 a1…`: the arguments are `$0 $1 … $@` of the code.
                let saved = self.save_vars(&positional_names(p.positional.len()));
                let shifts = code.alts.iter().any(|v| has_word(&v.text, "shift"));
                self.bind_positional(&p.positional, shifts)?;
                let out = self.code(shell, code);
                self.restore_vars(saved);
                out?;
            } else {
                // An interpreter's code gets them as its argv; what it does with
                // them is unknown, so they are judged like an unknown command's
                // (`perl -i`, `ruby -i` edit them in place).
                self.code(shell, code)?;
                if let Some(action) = p.mode {
                    for a in &p.positional {
                        self.arg_path(action, a, false)?;
                    }
                }
                self.plain(p.positional.iter().copied())?;
            }
        } else if let Some(script) = p
            .positional
            .first()
            .filter(|a| a.text() != "-" && !is_stdin_path(a.text()) && !p.stdin_code)
        {
            self.script_file(shell, script)?;
            // `python3 dump.py ~/.aws/credentials`: what the script does with its
            // arguments is unknown, so they are judged like an unknown command's.
            self.plain(p.positional.iter().skip(1).copied())?;
        } else {
            // The script arrives on standard input.
            self.remote_code(&stdin.remote);
            if stdin.decoded {
                self.signal(signal::DECODE_TO_SHELL);
            }
            if stdin.opaque && stdin.text.is_none() {
                self.signal(signal::OPAQUE);
            }
            if let Some(t) = &stdin.text {
                self.code_text(shell, t)?;
            }
        }
        Ok(())
    }

    /// Code given to a shell (`-c`) or interpreter (`-c`, `-e`).
    fn code(&mut self, shell: bool, code: &Arg) -> R<()> {
        for v in &code.alts {
            self.remote_code(&v.remote);
        }
        if code.decoded() {
            self.signal(signal::DECODE_TO_SHELL);
        }
        if code.opaque() || (shell && code.opaque_code()) {
            self.signal(signal::OPAQUE);
        }
        let alts = code.alts.clone();
        for v in alts {
            if v.known {
                self.code_text(shell, &v.text)?;
            } else if v.literal && shell {
                // Partly unknown script: analyse what is known.
                let t = v.text.replace(normalize::UNKNOWN, "");
                let _ = self.script_text(&t);
            }
        }
        Ok(())
    }

    /// A script named as an argument (`bash x.sh`, `source x`): read and run; a process
    /// substitution (`<(...)`) carries its known text, which is analysed instead; a URL
    /// (`deno run https://…`) is code fetched from the network.
    fn script_file(&mut self, shell: bool, script: &Arg) -> R<()> {
        for v in &script.alts {
            let lower = v.text.get(..8).unwrap_or(&v.text).to_ascii_lowercase();
            if lower.starts_with("http://") || lower.starts_with("https://") {
                self.remote_code(std::slice::from_ref(&v.text));
                continue;
            }
            if v.decoded {
                self.signal(signal::DECODE_TO_SHELL);
            }
            // `bash <(curl URL)`, or a file a download saved.
            self.remote_code(&v.remote);
            if v.known {
                if let Some(urls) = self.downloaded(&v.text)? {
                    self.remote_code(&urls);
                }
            }
            if let Some(t) = v.text.strip_prefix("<(").and_then(|t| t.strip_suffix(')')) {
                self.code_text(shell, t)?;
            } else {
                self.path(Action::Read, v)?;
                self.path(Action::Execute, v)?;
                // Written earlier in the call: judged by its text.
                if v.known {
                    if let Some(t) = self.written(&v.text)? {
                        self.code_text(shell, &t)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn code_text(&mut self, shell: bool, text: &str) -> R<()> {
        if shell {
            self.script_text(text)?;
            return Ok(());
        }
        // Interpreter code: what its calls do, where the language table has it; and
        // string literals that look like paths or URLs.
        self.spend(text.len())?;
        self.exec.commands.push(text.to_owned());
        if let Some(lang) = self.lang {
            if lang.syntax == Syntax::PowerShell {
                self.powershell_text(text)?;
                return Ok(());
            }
            self.code_effects(lang, text)?;
        }
        for lit in string_literals(text) {
            if lit.contains("://") {
                if let Some(h) = normalize::host_of(lit) {
                    let mut net = Operation::new(Action::Network);
                    net.hosts.push(h);
                    self.ops.push(net);
                }
            } else if looks_like_path(lit) && !lit.contains(char::is_whitespace) {
                self.path(Action::Read, &Val::lit(lit))?;
            }
        }
        Ok(())
    }

    /// Judges what interpreter code does: its paths, the command lines and processes it
    /// runs (through the shell analysis), the hosts it reaches, and its signals.
    fn code_effects(&mut self, lang: &LanguageSpec, text: &str) -> R<()> {
        use crate::code::Effect;
        let tables = self.tables;
        let calls = tables
            .languages
            .iter()
            .position(|l| std::ptr::eq(l, lang))
            .and_then(|i| self.index.calls.get(i))
            .ok_or("a language is missing from the table index")?;
        let effects = code::analyze(lang, calls, text, &mut self.budget)?;
        // Credential variables the code reads, and where it connects: sent anywhere but the
        // service's own hosts, judged as in the shell (what the code does with the value is
        // not followed, so reading one and reaching another host is enough).
        let mut secret = 0;
        let mut reached: Option<Vec<String>> = None;
        for e in &effects {
            match e {
                Effect::EnvRead(n) => secret |= self.index.secret_vars.get(n).copied().unwrap_or(0),
                Effect::Net(h) => {
                    let host = if h.contains("://") {
                        normalize::host_of(h)
                    } else {
                        normalize::host_of(&format!("tcp://{h}"))
                    };
                    reached.get_or_insert_with(Vec::new).extend(host);
                }
                _ => {}
            }
        }
        // A URL written in the code counts as reached too: a client the language table does
        // not name (`Net::HTTP`, a gem's) still takes it.
        if secret != 0 {
            for lit in string_literals(text)
                .into_iter()
                .filter(|l| l.contains("://"))
            {
                reached
                    .get_or_insert_with(Vec::new)
                    .extend(normalize::host_of(lit));
            }
        }
        if let Some(hosts) = reached.filter(|_| secret != 0) {
            self.secrets_sent(secret, &hosts);
        }
        for e in effects {
            match e {
                Effect::EnvRead(_) => {}
                Effect::Path(action, t) => {
                    // A lister's entries (`os.walk(d)`) reach everything below `d` only
                    // where a whole subtree matters, as for `rm -rf d` (inside the project,
                    // they are its ordinary files).
                    let t = match t.split_once(normalize::SUBTREE) {
                        Some((dir, _)) if !self.subtree_matters(dir.trim_end_matches('/'))? => {
                            t.replace(normalize::SUBTREE, &normalize::UNKNOWN.to_string())
                        }
                        _ => t,
                    };
                    let v = self.code_val(&t);
                    if action == Action::Delete && !v.text.contains(normalize::SUBTREE) {
                        // A delete in code may be recursive (`rmtree`, `rm_rf`,
                        // `Directory.Delete(d, true)`): judged as `rm -rf` is.
                        self.arg_path(action, &Arg { alts: vec![v] }, true)?;
                    } else {
                        self.path(action, &v)?;
                    }
                }
                Effect::Tree(action, t) => {
                    let a = Arg {
                        alts: vec![self.code_val(&t)],
                    };
                    self.arg_path(action, &a, true)?;
                }
                Effect::Shell(t) => {
                    if t.chars()
                        .all(|c| c == normalize::UNKNOWN || c.is_whitespace())
                    {
                        self.signal(signal::OPAQUE_CODE);
                    } else if t.contains(normalize::UNKNOWN) {
                        // Known parts are judged; the unknown ones stand for any word.
                        let t = t.replace(normalize::UNKNOWN, "*");
                        self.script_text(&t)?;
                    } else {
                        self.script_text(&t)?;
                    }
                }
                Effect::Argv(words) => {
                    let args: Vec<Arg> = words
                        .iter()
                        .map(|w| Arg {
                            alts: vec![self.code_val(w)],
                        })
                        .collect();
                    if args.first().is_some_and(|a| !a.known()) {
                        self.signal(signal::OPAQUE_CODE);
                    }
                    self.nesting += 1;
                    let out = self.dispatch_inner(&args, Flow::default());
                    self.nesting -= 1;
                    out?;
                }
                Effect::Net(h) => {
                    let host = if h.contains("://") {
                        normalize::host_of(&h)
                    } else {
                        normalize::host_of(&format!("tcp://{h}"))
                    };
                    if let Some(h) = host {
                        let mut net = Operation::new(Action::Network);
                        net.hosts.push(h);
                        self.ops.push(net);
                    }
                }
                Effect::Signal(s) => self.signal(s),
                Effect::Commands(t) => {
                    if t.chars()
                        .all(|c| c == normalize::UNKNOWN || c.is_whitespace())
                    {
                        self.signal(signal::OPAQUE_CODE);
                    } else {
                        self.powershell_text(&t.replace(normalize::UNKNOWN, ""))?;
                    }
                }
            }
        }
        Ok(())
    }

    /// `pwsh`/`powershell` run from a command line: `-Command` (the rest of the line),
    /// `-EncodedCommand` (base64 of UTF-16LE), `-File` or a `.ps1` argument, or standard input.
    /// Parameter names are case-insensitive and may be abbreviated, as PowerShell takes them.
    fn pwsh_invocation(&mut self, args: &[Arg], stdin: &Flow) -> R<()> {
        let mut i = 0;
        while let Some(a) = args.get(i) {
            let t = a.text();
            let flag = t
                .strip_prefix('-')
                .or_else(|| t.strip_prefix('/'))
                .filter(|f| f.starts_with(|c: char| c.is_ascii_alphabetic()))
                .map(str::to_ascii_lowercase);
            let Some(f) = flag else {
                // The first other word: a script (`x.ps1`) or the command text.
                if t.to_ascii_lowercase().ends_with(".ps1") {
                    self.pwsh_file(a)?;
                    self.plain(args.get(i + 1..).unwrap_or(&[]).iter())?;
                } else {
                    let rest = args.get(i..).unwrap_or(&[]);
                    self.pwsh_command_args(rest, stdin)?;
                }
                return Ok(());
            };
            let is = |full: &str, min: usize| f.len() >= min && full.starts_with(f.as_str());
            if is("command", 1) || is("commandwithargs", 8) || f == "cwa" {
                self.pwsh_command_args(args.get(i + 1..).unwrap_or(&[]), stdin)?;
                return Ok(());
            }
            if is("encodedcommand", 1) || f == "ec" || f == "enc" {
                let Some(v) = args.get(i + 1) else {
                    return Ok(());
                };
                match v.known().then(|| decode_utf16_base64(v.text())).flatten() {
                    Some(text) => {
                        self.exec.commands.push(text.clone());
                        self.powershell_text(&text)?;
                    }
                    None => self.signal(signal::OPAQUE_CODE),
                }
                return Ok(());
            }
            if is("file", 1) {
                if let Some(script) = args.get(i + 1) {
                    if script.text() == "-" {
                        self.pwsh_stdin(stdin)?;
                    } else {
                        self.pwsh_file(script)?;
                    }
                }
                self.plain(args.get(i + 2..).unwrap_or(&[]).iter())?;
                return Ok(());
            }
            let takes_value = [
                ("executionpolicy", 2),
                ("windowstyle", 1),
                ("workingdirectory", 2),
                ("configurationname", 4),
                ("outputformat", 1),
                ("inputformat", 2),
                ("version", 1),
                ("settingsfile", 1),
                ("custompipename", 2),
                ("psconsolefile", 2),
                ("configurationfile", 14),
            ]
            .iter()
            .any(|(full, min)| is(full, *min))
                || f == "ep"
                || f == "ex"
                || f == "wd";
            i += if takes_value { 2 } else { 1 };
        }
        // No command: the script arrives on standard input.
        self.pwsh_stdin(stdin)
    }

    fn pwsh_command_args(&mut self, rest: &[Arg], stdin: &Flow) -> R<()> {
        if rest.first().is_some_and(|a| a.text() == "-") {
            return self.pwsh_stdin(stdin);
        }
        if rest.iter().any(|a| !a.known()) {
            if rest.iter().any(Arg::opaque) {
                self.signal(signal::OPAQUE);
            }
            if rest.iter().all(|a| a.alts.iter().all(|v| !v.literal)) {
                self.signal(signal::OPAQUE_CODE);
                return Ok(());
            }
        }
        if rest.iter().any(Arg::decoded) {
            self.signal(signal::DECODE_TO_SHELL);
        }
        let text: Vec<String> = rest
            .iter()
            .map(|a| a.text().replace(normalize::UNKNOWN, ""))
            .collect();
        let text = text.join(" ");
        self.exec.commands.push(text.clone());
        self.powershell_text(&text)?;
        Ok(())
    }

    fn pwsh_stdin(&mut self, stdin: &Flow) -> R<()> {
        if stdin.decoded {
            self.signal(signal::DECODE_TO_SHELL);
        }
        if stdin.opaque && stdin.text.is_none() {
            self.signal(signal::OPAQUE);
        }
        if let Some(t) = &stdin.text {
            self.powershell_text(t)?;
        }
        Ok(())
    }

    /// A PowerShell script file: read and run; written earlier in the call, judged by its text.
    fn pwsh_file(&mut self, script: &Arg) -> R<()> {
        for v in &script.alts {
            let v = self.ps_val(v.clone());
            self.path(Action::Read, &v)?;
            self.path(Action::Execute, &v)?;
            if v.known {
                if let Some(t) = self.written(&v.text)? {
                    self.powershell_text(&t)?;
                }
            }
        }
        Ok(())
    }

    /// Analyses PowerShell statements: commands through the command table (PowerShell's
    /// names by the language's aliases), assignments, and expressions through the code
    /// analysis.
    fn powershell_text(&mut self, src: &str) -> R<Flow> {
        self.spend(src.len())?;
        if self.nesting > MAX_NESTING {
            return Err("commands nested too deeply (PowerShell) to analyse".into());
        }
        let tables = self.tables;
        let Some(lang) = tables
            .languages
            .iter()
            .find(|l| l.syntax == Syntax::PowerShell)
        else {
            return Err("the policy has no PowerShell language table".into());
        };
        let saved = self.powershell;
        self.powershell = true;
        self.nesting += 1;
        let out = self.powershell_statements(lang, src);
        self.nesting -= 1;
        self.powershell = saved;
        out
    }

    fn powershell_statements(&mut self, lang: &'a LanguageSpec, src: &str) -> R<Flow> {
        let mut last = Flow::default();
        for pipeline in pwsh::parse(src) {
            let mut flow = Flow::default();
            // What a lister stage names (`Get-ChildItem DIR | Remove-Item` removes DIR's
            // entries: pipeline input binds to `-Path`).
            let mut items: Vec<Arg> = Vec::new();
            for (k, stage) in pipeline.into_iter().enumerate() {
                self.spend(1)?;
                let input = if k > 0 {
                    Some(std::mem::take(&mut flow))
                } else {
                    None
                };
                flow = match stage {
                    pwsh::Stage::Assign(name, value) if value.starts_with("@{") => {
                        // A hashtable, kept for splatting (`Remove-Item @p`): `-KEY VALUE`
                        // pairs, a `$true` value a switch.
                        let inner = value
                            .strip_prefix("@{")
                            .and_then(|v| v.trim_end().strip_suffix('}'))
                            .unwrap_or("");
                        let mut splat = Vec::new();
                        for entry in inner.split([';', '\n']) {
                            let Some((k, v)) = entry.split_once('=') else {
                                continue;
                            };
                            let k = k.trim().trim_matches(['\'', '"']).to_ascii_lowercase();
                            let v = v.trim();
                            splat.push(Val::lit(&format!("-{k}")));
                            if !v.eq_ignore_ascii_case("$true") {
                                splat.push(self.ps_value(lang, v)?);
                            }
                        }
                        splat.truncate(2 * MAX_ALTS);
                        let key = format!("psplat:{}", name.to_ascii_lowercase());
                        self.vars.insert(key, splat);
                        Flow::default()
                    }
                    pwsh::Stage::Assign(name, value) => {
                        let v = self.ps_value(lang, &value)?;
                        let key = format!("ps:{}", name.to_ascii_lowercase());
                        self.vars.insert(key, vec![v]);
                        Flow::default()
                    }
                    pwsh::Stage::Expr(text) => {
                        self.ps_expr(lang, &text)?;
                        Flow::default()
                    }
                    pwsh::Stage::Cmd(words) => self.ps_command(lang, &words, input, &mut items)?,
                };
            }
            last = flow;
        }
        Ok(last)
    }

    /// The value of an assignment's right side.
    fn ps_value(&mut self, lang: &'a LanguageSpec, text: &str) -> R<Val> {
        let words = pwsh::words(text, 0, text.len());
        let simple = words.len() % 2 == 1
            && words
                .iter()
                .skip(1)
                .step_by(2)
                .all(|w| w.literal().as_deref() == Some("+"))
            && words
                .iter()
                .step_by(2)
                .all(|w| w.quoted || matches!(w.parts.as_slice(), [pwsh::Part::Var(_)]));
        if simple {
            let mut v = Val::lit("");
            for w in words.iter().step_by(2) {
                let (a, _, _) = self.ps_word(w)?;
                if let Some(x) = a.alts.first() {
                    v.cat(x);
                }
            }
            return Ok(v);
        }
        if text.starts_with(|c: char| c.is_ascii_alphabetic()) {
            self.powershell_text(text)?;
        } else {
            self.ps_expr(lang, text)?;
        }
        Ok(Val::unknown())
    }

    /// An expression statement: .NET calls through the code analysis, and the commands in
    /// its parenthesised groups (`(Get-Content x).Length`).
    fn ps_expr(&mut self, lang: &'a LanguageSpec, text: &str) -> R<()> {
        self.ps_groups(text, 0)?;
        // The code analysis's PowerShell `$var`s are the analysis's own.
        let code = format!("{}{text}", self.ps_prelude());
        self.code_effects(lang, &code)
    }

    /// The commands in an expression's parenthesised groups, at any depth
    /// (`$wc.UploadString($u, (gc ~/.ssh/id_rsa))`).
    fn ps_groups(&mut self, text: &str, depth: usize) -> R<()> {
        if depth > MAX_NESTING {
            return Err("PowerShell groups nested too deeply to analyse".into());
        }
        self.spend(text.len())?;
        let b = text.as_bytes();
        let mut i = 0;
        while i < b.len() {
            match b.get(i) {
                Some(b'\'') => {
                    i += 1;
                    while i < b.len() && b.get(i) != Some(&b'\'') {
                        i += 1;
                    }
                    i += 1;
                }
                Some(b'(') => {
                    let (inner_end, after) = crate::code::lex::pwsh::group(b, i);
                    let inner = text.get(i + 1..inner_end).unwrap_or("");
                    if inner.starts_with(|c: char| c.is_ascii_alphabetic()) {
                        self.powershell_text(inner)?;
                    } else {
                        self.ps_groups(inner, depth + 1)?;
                    }
                    i = after.max(i + 1);
                }
                _ => i += 1,
            }
        }
        Ok(())
    }

    /// One command of a PowerShell pipeline.
    fn ps_command(
        &mut self,
        lang: &'a LanguageSpec,
        words: &[pwsh::Word],
        input: Option<Flow>,
        items: &mut Vec<Arg>,
    ) -> R<Flow> {
        let mut args: Vec<Arg> = Vec::new();
        // Per argument: it continues an array (`'a','b'`).
        let mut elements: Vec<bool> = Vec::new();
        // An argument carries the whole environment (`-Body (gci env: | Out-String)`).
        let mut env_arg = false;
        for w in words {
            // `@params`: the hashtable's pairs as parameters.
            if let Some(name) = w
                .literal()
                .filter(|_| !w.quoted)
                .and_then(|t| t.strip_prefix('@').map(str::to_ascii_lowercase))
            {
                if let Some(splat) = self.vars.get(&format!("psplat:{name}")).cloned() {
                    for v in splat {
                        let v = if v.text.starts_with('-') {
                            v
                        } else {
                            self.ps_val(v)
                        };
                        args.push(Arg { alts: vec![v] });
                        elements.push(false);
                    }
                    continue;
                }
            }
            let (a, param, env) = self.ps_word(w)?;
            env_arg |= env;
            if param {
                // `-Recurse:$true`, `-Path:C:\x`: the name, then the value.
                let t = a.text().to_owned();
                match t.split_once(':') {
                    Some((n, v)) if a.known() && !v.is_empty() => {
                        args.push(Arg::lit(&n.to_ascii_lowercase()));
                        args.push(Arg {
                            alts: vec![self.ps_val(Val::lit(v))],
                        });
                        elements.extend([false, false]);
                    }
                    _ => {
                        args.push(Arg::lit(&t.to_ascii_lowercase()));
                        elements.push(false);
                    }
                }
            } else {
                args.push(a);
                elements.push(w.element);
            }
        }
        // The call and dot-source operators.
        while args.first().is_some_and(|a| matches!(a.text(), "&" | ".")) {
            args.remove(0);
            if !elements.is_empty() {
                elements.remove(0);
            }
        }
        let Some(first) = args.first() else {
            return Ok(Flow::default());
        };
        if !first.known() {
            // `& ($a + $b) …`, `& $cmd …`: a command named while it runs.
            self.signal(signal::OPAQUE_CODE);
            return Ok(Flow::default());
        }
        let raw = first.text().to_owned();
        let base = raw.rsplit('/').next().unwrap_or("").to_ascii_lowercase();
        let base = base.strip_suffix(".exe").unwrap_or(&base).to_owned();
        // `Set-Alias x Invoke-Expression`: later commands named `x` run the target.
        if matches!(base.as_str(), "set-alias" | "sal" | "new-alias" | "nal") {
            let names: Vec<String> = args
                .iter()
                .skip(1)
                .filter(|a| !a.text().starts_with('-'))
                .map(|a| a.text().to_ascii_lowercase())
                .collect();
            if let [alias, target, ..] = names.as_slice() {
                self.aliases.insert(format!("ps:{alias}"), target.clone());
            }
            return Ok(Flow::default());
        }
        let base = match self.aliases.get(&format!("ps:{base}")) {
            Some(t) => t.clone(),
            None => base,
        };
        // What runs, in the command table's words, for the rules that read command lines.
        let line: Vec<&str> = args.iter().map(Arg::text).collect();
        self.exec.commands.push(line.join(" "));
        if base.ends_with(".ps1") {
            let script = first.clone();
            self.pwsh_file(&script)?;
            self.plain(args.get(1..).unwrap_or(&[]).iter())?;
            return Ok(Flow::default());
        }
        let name = lang
            .aliases
            .iter()
            .find(|(a, _)| *a == base)
            .map_or(base.clone(), |(_, t)| t.clone());
        let mut rest: Vec<Arg> = args.get(1..).unwrap_or(&[]).to_vec();
        let next_items = if matches!(name.as_str(), "get-childitem" | "ps-item") {
            // A lister's output: the entries of each path it names (narrowed by a filter).
            let mut paths: Vec<Arg> = Vec::new();
            let mut filter: Option<String> = None;
            let mut k = 0;
            while let Some(a) = rest.get(k) {
                let t = a.text();
                if t.starts_with('-') {
                    if matches!(t, "-filter" | "-include") {
                        filter = rest
                            .get(k + 1)
                            .filter(|v| v.known())
                            .map(|v| v.text().to_owned());
                    }
                    if matches!(
                        t,
                        "-filter" | "-include" | "-exclude" | "-depth" | "-attributes"
                    ) {
                        k += 1;
                    }
                } else {
                    paths.push(a.clone());
                }
                k += 1;
            }
            if paths.is_empty() {
                paths.push(Arg::lit("."));
            }
            let mut out = Vec::new();
            for p in paths {
                let mut x = p.clone();
                for v in &mut x.alts {
                    if name == "get-childitem" {
                        let dir = v.text.trim_end_matches('/').to_owned();
                        v.text = match &filter {
                            Some(f) => format!("{dir}/**/{f}"),
                            None => format!("{dir}/*"),
                        };
                        v.glob = true;
                    }
                }
                out.push(x);
            }
            out
        } else {
            Vec::new()
        };
        if name == "ps-item" {
            *items = next_items;
            return Ok(Flow::default());
        }
        // `cmd /c LINE`: cmd's built-ins (`del`, `rd`, `type`, `copy`, `move`) are
        // PowerShell's aliases of the same cmdlets; `%NAME%` is an environment variable.
        if name == "cmd" {
            if let Some(k) = rest
                .iter()
                .position(|a| matches!(a.text().to_ascii_lowercase().as_str(), "/c" | "/k" | "/r"))
            {
                let words: Vec<String> = rest
                    .get(k + 1..)
                    .unwrap_or(&[])
                    .iter()
                    .map(|a| a.text().replace(normalize::UNKNOWN, ""))
                    .collect();
                let mut line = words.join(" ");
                // `%USERPROFILE%` as `$env:USERPROFILE`; `/s /q` switches as parameters.
                while let Some(a) = line.find('%') {
                    let Some(b) = line.get(a + 1..).and_then(|r| r.find('%')) else {
                        break;
                    };
                    let var = line.get(a + 1..a + 1 + b).unwrap_or("").to_owned();
                    line.replace_range(a..a + b + 2, &format!("$env:{var}"));
                }
                let line = line
                    .split(' ')
                    .filter(|w| !(w.len() == 2 && w.starts_with('/')))
                    .collect::<Vec<_>>()
                    .join(" ");
                self.exec.commands.push(line.clone());
                return self.powershell_text(&line);
            }
        }
        // `Get-ChildItem env:`: the whole environment.
        if name == "get-childitem"
            && rest
                .iter()
                .any(|a| a.text().trim_end_matches('/').eq_ignore_ascii_case("env:"))
        {
            return Ok(Flow {
                environment: true,
                ..Flow::default()
            });
        }
        if env_arg && self.spec(&name).is_some_and(|s| s.kind == CmdKind::Network) {
            self.signal(signal::ENVIRONMENT_TO_NETWORK);
        }
        let stdin = input.clone().unwrap_or_default();
        match name.as_str() {
            "ps-start-process" => {
                // `Start-Process PROGRAM -ArgumentList "a b"`: the program and its arguments.
                let mut program = None;
                let mut list: Vec<Arg> = Vec::new();
                let mut k = 0;
                while let Some(a) = rest.get(k) {
                    let t = a.text();
                    if t.starts_with('-') && a.known() {
                        let f = t.trim_start_matches('-');
                        if "filepath".starts_with(f) && !f.is_empty() {
                            program = rest.get(k + 1).cloned();
                            k += 2;
                            continue;
                        }
                        if "argumentlist".starts_with(f) && f.len() >= 2 || f == "args" {
                            if let Some(v) = rest.get(k + 1) {
                                list.extend(ps_split(v));
                            }
                            k += 2;
                            // `'a','b'`: the array's other elements.
                            while elements.get(k + 1).copied() == Some(true) {
                                if let Some(v) = rest.get(k) {
                                    list.push(v.clone());
                                }
                                k += 1;
                            }
                            continue;
                        }
                        k += if matches!(
                            f,
                            "workingdirectory"
                                | "verb"
                                | "windowstyle"
                                | "credential"
                                | "redirectstandardoutput"
                                | "redirectstandarderror"
                                | "redirectstandardinput"
                        ) {
                            2
                        } else {
                            1
                        };
                        continue;
                    }
                    if program.is_none() {
                        program = Some(a.clone());
                    } else {
                        list.extend(ps_split(a));
                    }
                    k += 1;
                }
                let Some(program) = program else {
                    return Ok(Flow::default());
                };
                let mut argv = vec![program];
                argv.extend(list);
                let line: Vec<&str> = argv.iter().map(Arg::text).collect();
                let line = line.join(" ");
                self.exec.commands.push(line.clone());
                // `Start-Process cmd -ArgumentList '/c …'`: read as cmd is read.
                let prog = argv
                    .first()
                    .map(|a| a.text().to_ascii_lowercase())
                    .unwrap_or_default();
                let prog = prog.rsplit('/').next().unwrap_or("");
                if matches!(prog, "cmd" | "cmd.exe") && argv.iter().all(Arg::known) {
                    return self.powershell_text(&line);
                }
                return self.dispatch_inner(&argv, Flow::default());
            }
            "eval" if rest.iter().any(|a| !a.known()) => {
                // `iex (…)`, `iex $code`: code made while it runs.
                self.signal(signal::OPAQUE_CODE);
            }
            "eval" if rest.is_empty() => {
                // `… | Invoke-Expression`: the pipeline's text is the code; a download's
                // is code from where it came.
                if !stdin.remote.is_empty() && stdin.text.is_none() {
                    let urls = stdin.remote.clone();
                    self.remote_code(&urls);
                    return Ok(Flow::default());
                }
                match &stdin.text {
                    Some(t) => return self.powershell_text(t),
                    None if input.is_some() => {
                        self.signal(signal::OPAQUE_CODE);
                        return Ok(Flow::default());
                    }
                    None => return Ok(Flow::default()),
                }
            }
            _ => {}
        }
        // Pipeline input from a lister binds to the path parameter.
        if input.is_some() && !items.is_empty() && !rest.iter().any(|a| !a.text().starts_with('-'))
        {
            rest.append(items);
        }
        *items = next_items;
        // PowerShell takes any unique prefix of a parameter (`-r` for `-Recurse`).
        if let Some(spec) = self.spec(&name) {
            for a in &mut rest {
                let t = a.text().to_owned();
                if t.len() > 1
                    && t.starts_with('-')
                    && a.known()
                    && !spec.flags.iter().any(|f| f.flag == t)
                {
                    let mut found = spec.flags.iter().filter(|f| f.flag.starts_with(&t));
                    if let (Some(f), None) = (found.next(), found.next()) {
                        *a = Arg::lit(&f.flag);
                    }
                }
            }
        }
        let mut argv = vec![Arg::lit(&name)];
        argv.extend(rest);
        self.dispatch_inner(&argv, stdin)
    }

    /// A PowerShell word's value, and whether it is a parameter name (`-Path`).
    fn ps_word(&mut self, w: &pwsh::Word) -> R<(Arg, bool, bool)> {
        // `(New-Object Net.WebClient).DownloadString(…)`: a member of a value is an expression.
        if !w.quoted && (w.raw.contains(").") || w.raw.contains("]::")) {
            let tables = self.tables;
            if let Some(lang) = tables
                .languages
                .iter()
                .find(|l| l.syntax == Syntax::PowerShell)
            {
                self.ps_expr(lang, &w.raw)?;
            }
        }
        let mut v = Val::lit("");
        v.literal = false;
        let mut env = false;
        for part in &w.parts {
            match part {
                pwsh::Part::Lit(t) => v.cat(&Val::word_lit(t, w.quoted)),
                pwsh::Part::Var(n) => {
                    let x = self.ps_var(n);
                    v.cat(&x);
                }
                pwsh::Part::Sub(inner) => {
                    env |= self.powershell_text(inner)?.environment;
                    match self.ps_sub_value(inner) {
                        Some(t) => v.cat(&Val::lit(&t)),
                        None => v.cat(&Val::unknown()),
                    }
                }
                pwsh::Part::Block(inner) => {
                    self.powershell_text(inner)?;
                    v.cat(&Val::unknown());
                }
            }
        }
        let param = !w.quoted
            && matches!(w.parts.first(), Some(pwsh::Part::Lit(t)) if t.starts_with('-') && t.chars().nth(1).is_some_and(|c| c.is_ascii_alphabetic()));
        let v = if param { v } else { self.ps_val(v) };
        // `$PROFILE.CurrentUserAllHosts` and the other profiles.
        let v = match (w.parts.first(), w.parts.get(1)) {
            (Some(pwsh::Part::Var(n)), Some(pwsh::Part::Lit(prop)))
                if n.eq_ignore_ascii_case("profile") && prop.starts_with('.') =>
            {
                let file = if prop.to_ascii_lowercase().contains("allhosts") {
                    "profile.ps1"
                } else {
                    "Microsoft.PowerShell_profile.ps1"
                };
                Val::lit(&format!("{}/.config/powershell/{file}", self.home))
            }
            _ => v,
        };
        Ok((Arg { alts: vec![v] }, param, env))
    }

    /// The value of a sub-expression (`(Join-Path $HOME '.ssh')`), when it can be worked out.
    fn ps_sub_value(&mut self, inner: &str) -> Option<String> {
        let tables = self.tables;
        let (i, lang) = tables
            .languages
            .iter()
            .enumerate()
            .find(|(_, l)| l.syntax == Syntax::PowerShell)?;
        let calls = self.index.calls.get(i)?;
        let prelude = self.ps_prelude();
        let t = code::value(lang, calls, &prelude, inner, &mut self.budget)?;
        Some(self.ps_val(Val::lit(&t)).text)
    }

    /// PowerShell variables known in the call, as assignments for the code analysis.
    fn ps_prelude(&self) -> String {
        let mut prelude = String::new();
        for (k, vals) in &self.vars {
            if let (Some(name), [v]) = (k.strip_prefix("ps:"), vals.as_slice()) {
                if v.known && !v.text.contains(['\'', '`', '\n']) {
                    prelude.push_str(&format!("${name} = '{}'\n", v.text));
                }
            }
        }
        prelude
    }

    /// PowerShell's variables: automatic ones, `$env:`, and those assigned in the call.
    fn ps_var(&self, name: &str) -> Val {
        let k = name.to_ascii_lowercase();
        let home = self.home;
        match k.as_str() {
            "home" => return Val::lit(home),
            "profile" => {
                return Val::lit(&format!(
                    "{home}/.config/powershell/Microsoft.PowerShell_profile.ps1"
                ))
            }
            "pwd" => return Val::lit(self.cwds.first().map_or(".", String::as_str)),
            "true" | "false" | "null" => return Val::lit(""),
            _ => {}
        }
        if let Some(e) = k.strip_prefix("env:") {
            let v = match e {
                "home" | "userprofile" => Some(home.to_owned()),
                "appdata" => Some(format!("{home}/AppData/Roaming")),
                "localappdata" => Some(format!("{home}/AppData/Local")),
                "temp" | "tmp" | "tmpdir" => Some(self.tmpdir.to_owned()),
                _ => None,
            };
            return match v {
                Some(t) => Val::lit(&t),
                // A credential variable keeps its service's mark, as `$NAME` does in the shell.
                None => Val {
                    outside: true,
                    secret: self
                        .index
                        .secret_vars
                        .get(&e.to_ascii_uppercase())
                        .copied()
                        .unwrap_or(0),
                    ..Val::unknown()
                },
            };
        }
        match self.vars.get(&format!("ps:{k}")).and_then(|v| v.first()) {
            Some(v) => v.clone(),
            None => Val {
                outside: true,
                ..Val::unknown()
            },
        }
    }

    /// Windows paths as the analysis compares them: `\` as `/`, a user profile as the home
    /// directory, registry keys under `/registry/`.
    fn ps_val(&self, mut v: Val) -> Val {
        v.text = windows_path(&v.text, self.home);
        if let Some(rest) = v.text.strip_prefix('~') {
            if rest.is_empty() || rest.starts_with('/') {
                v.text = format!("{}{rest}", self.home);
            }
        }
        v
    }

    /// A value of interpreter code as a word: `~` is the home directory (`expanduser`,
    /// `Path.home()`), unknown parts are wildcards.
    fn code_val(&self, t: &str) -> Val {
        let t = if self.powershell {
            windows_path(t, self.home)
        } else {
            t.to_owned()
        };
        let text = match t.strip_prefix('~') {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => {
                format!("{}{rest}", self.home)
            }
            _ => t.clone(),
        };
        if text.contains(normalize::UNKNOWN) {
            Val {
                text,
                glob: true,
                literal: true,
                known: false,
                ..Val::unknown()
            }
        } else {
            let mut v = Val::word_lit(&text, false);
            v.glob |= text.contains(normalize::SUBTREE);
            v
        }
    }

    /// `find ROOT… EXPR` and `fd [PATTERN] [ROOT…] [-x CMD…]`: what they delete, write and
    /// run on each file; with no action, the files they print (for `| xargs`).
    fn find(&mut self, name: &str, args: &[Arg]) -> R<Flow> {
        let fd = name.starts_with("fd");
        let mut roots = Vec::new();
        let mut i = 0;
        if fd {
            // `fd` takes its options anywhere; the pattern, then roots; `-x`/`-X` end it.
            let mut positional = Vec::new();
            while let Some(a) = args.get(i) {
                let t = a.text();
                if matches!(t, "-x" | "--exec" | "-X" | "--exec-batch") {
                    break;
                }
                if !t.starts_with('-') {
                    positional.push(a.clone());
                } else if matches!(
                    t,
                    "-e" | "--extension"
                        | "-t"
                        | "--type"
                        | "-d"
                        | "--max-depth"
                        | "-E"
                        | "--exclude"
                        | "-j"
                        | "--threads"
                        | "-S"
                        | "--size"
                        | "--changed-within"
                        | "--changed-before"
                        | "-o"
                        | "--owner"
                        | "--base-directory"
                ) {
                    i += 1;
                }
                i += 1;
            }
            roots.extend(positional.into_iter().skip(1));
        } else {
            while let Some(a) = args.get(i) {
                let t = a.text();
                if t.starts_with('-') || t == "(" || t == "!" {
                    break;
                }
                roots.push(a.clone());
                i += 1;
            }
        }
        if roots.is_empty() {
            roots.push(Arg::lit("."));
        }
        let mut name: Option<String> = None;
        let mut names = 0;
        let mut j = i;
        while let Some(a) = args.get(j) {
            if matches!(
                a.text(),
                "-name" | "-iname" | "-path" | "-ipath" | "-wholename"
            ) {
                names += 1;
                name = args.get(j + 1).map(|v| v.text().to_owned());
            }
            j += 1;
        }
        let name = if names == 1 { name } else { None };
        for r in &roots {
            self.arg_path(Action::Read, r, false)?;
        }
        // What `{}` stands for: anything under a root matching the name test. Inside the
        // project (not home) only the root's own entries are judged, as for `rm -rf target/`.
        let mut each = Vec::new();
        for r in &roots {
            for v in &r.alts {
                let base = v.text.trim_end_matches('/');
                let deep = if self.subtree_matters(&v.text)? {
                    format!("/{}", normalize::SUBTREE)
                } else {
                    String::new()
                };
                let tail = match &name {
                    Some(n) if !n.contains('/') => format!("{deep}/{n}"),
                    _ if deep.is_empty() => "/*".to_owned(),
                    _ => deep.clone(),
                };
                each.push(Val {
                    text: format!("{base}{tail}"),
                    glob: true,
                    literal: true,
                    known: false,
                    ..v.clone()
                });
                // The subtree may be empty: a direct child of the root (`find ~/.kube -name
                // config` lists `~/.kube/config`).
                if let Some(n) = name
                    .as_ref()
                    .filter(|n| !n.contains('/') && !deep.is_empty())
                {
                    each.push(Val {
                        text: format!("{base}/{n}"),
                        glob: true,
                        literal: true,
                        known: false,
                        ..v.clone()
                    });
                }
            }
        }
        let each = Arg { alts: each };
        let mut acted = false;
        while let Some(a) = args.get(i) {
            i += 1;
            if fd && matches!(a.text(), "-x" | "--exec" | "-X" | "--exec-batch") {
                // The rest is the command; `{}` (or the end) stands for each file.
                let mut inner: Vec<Arg> = args.get(i..).unwrap_or(&[]).to_vec();
                let mut used = false;
                for b in &mut inner {
                    if b.text().contains("{}") {
                        used = true;
                        b.alts = each
                            .alts
                            .iter()
                            .map(|v| Val {
                                text: b.text().replace("{}", &v.text),
                                ..v.clone()
                            })
                            .collect();
                    }
                }
                if !used {
                    inner.push(each.clone());
                }
                self.dispatch_inner(&inner, Flow::default())?;
                return Ok(Flow::default());
            }
            if matches!(
                a.text(),
                "-delete"
                    | "-exec"
                    | "-execdir"
                    | "-ok"
                    | "-okdir"
                    | "-fprint"
                    | "-fprint0"
                    | "-fprintf"
                    | "-fls"
            ) {
                acted = true;
            }
            match a.text() {
                "-delete" => self.arg_path(Action::Delete, &each, false)?,
                "-fprint" | "-fprint0" | "-fprintf" | "-fls" => {
                    if let Some(f) = args.get(i) {
                        self.arg_path(Action::Write, f, false)?;
                    }
                }
                "-exec" | "-execdir" | "-ok" | "-okdir" => {
                    let mut inner = Vec::new();
                    while let Some(b) = args.get(i) {
                        i += 1;
                        if matches!(b.text(), ";" | "+") {
                            break;
                        }
                        if b.text().contains("{}") {
                            let alts = each
                                .alts
                                .iter()
                                .map(|v| Val {
                                    text: b.text().replace("{}", &v.text),
                                    ..v.clone()
                                })
                                .collect();
                            inner.push(Arg { alts });
                        } else {
                            inner.push(b.clone());
                        }
                    }
                    self.dispatch_inner(&inner, Flow::default())?;
                }
                _ => {}
            }
        }
        Ok(Flow {
            items: if acted { Vec::new() } else { each.alts },
            ..Flow::default()
        })
    }

    // ----- paths ------------------------------------------------------------------------

    fn arg_path(&mut self, action: Action, a: &Arg, recursive: bool) -> R<()> {
        for v in &a.alts {
            self.path(action, v)?;
            if recursive && v.literal {
                let mut sub = v.clone();
                sub.text = format!("{}/{}", v.text.trim_end_matches('/'), normalize::SUBTREE);
                sub.glob = true;
                if self.subtree_matters(&v.text)? {
                    self.path(action, &sub)?;
                    // A directory that holds a home (`/`, `/home`) reaches all of that home.
                    for home in self.homes_within(&v.text)? {
                        let mut inner = v.clone();
                        inner.text = format!("{home}/{}", normalize::SUBTREE);
                        inner.glob = true;
                        self.path(action, &inner)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The home directories strictly inside the directory `raw` names (with every user's home
    /// counting, the placeholder home and `/root`).
    fn homes_within(&self, raw: &str) -> R<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        for p in self.resolve(raw)? {
            let p = p.trim_end_matches('/');
            let p = if p.is_empty() { "/" } else { p };
            if normalize::home_rest(p, self.home).is_some() || !normalize::holds_home(p, self.home)
            {
                continue;
            }
            let homes: &[&str] = if self.home == normalize::ANY_HOME {
                if p == "/" {
                    &[normalize::ANY_HOME, "/root"]
                } else {
                    &[normalize::ANY_HOME]
                }
            } else {
                std::slice::from_ref(&self.home)
            };
            for h in homes {
                if !out.iter().any(|o| o == h) {
                    out.push((*h).to_owned());
                }
            }
        }
        Ok(out)
    }

    /// A recursive operation on a directory inside the project is ordinary work (`rm -rf
    /// target/`); elsewhere, the subtree is judged too (`tar czf x ~/.ssh`).
    fn subtree_matters(&self, raw: &str) -> R<bool> {
        let cwd = self.cwds.first().map_or("/", String::as_str);
        Ok(self.resolve(raw)?.iter().any(|p| {
            !normalize::within_project(p, cwd, self.home)
                // A link on this machine to a directory elsewhere (`cfg -> ~/.ssh`) is not
                // the project's: `grep -r . cfg` reads what it names.
                || std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
        }))
    }

    /// Absolute forms of a path against every candidate working directory.
    fn resolve(&self, raw: &str) -> R<Vec<String>> {
        let mut out = Vec::new();
        let absolute = raw.starts_with('/')
            || raw.starts_with('~')
            || raw.starts_with("$HOME")
            || raw.starts_with("${HOME}");
        for cwd in &self.cwds {
            let ctx = PathContext {
                home: self.home,
                cwd,
            };
            let p = normalize::normalize_path(raw, &ctx)?;
            if !out.contains(&p) {
                out.push(p);
            }
            if absolute {
                break;
            }
        }
        Ok(out)
    }

    fn path(&mut self, action: Action, v: &Val) -> R<()> {
        if !v.literal || v.text.is_empty() {
            return Ok(());
        }
        // `rm -rf DIR/*` empties DIR: judged as a delete of DIR itself (temporary
        // directories excepted: emptying them is routine clean-up).
        if action == Action::Delete && v.glob {
            // `rm -rf "$ROOT/"*` with `$ROOT` unknown may empty `/` or the home directory.
            if v.text.strip_suffix("/*").is_some_and(|d| {
                !d.is_empty()
                    && d.split(normalize::UNKNOWN)
                        .all(|x| x.is_empty() || x == "/")
            }) {
                for root in ["/", "~"] {
                    self.path(Action::Delete, &Val::lit(root))?;
                }
            }
            // `rm -rf *` empties the directory it runs in, as `rm -rf ./*` does.
            let text = if v.text == "*" {
                "./*"
            } else {
                v.text.as_str()
            };
            if let Some(dir) = text.strip_suffix("/*").filter(|d| {
                !d.is_empty()
                    && !has_byte(d, b"*?[")
                    && !d.contains(normalize::UNKNOWN)
                    && !matches!(
                        d.trim_end_matches('/'),
                        "/tmp" | "/var/tmp" | "/private/tmp" | "/dev/shm"
                    )
            }) {
                // After a `cd`, `rm -rf ./*` empties the directory changed to: the
                // directory the agent started in is emptied only if that `cd` failed, which
                // `cd DIR && rm -rf *` rules out.
                let dirs: Vec<String> = if dir == "." && self.cwds.len() > 1 {
                    self.cwds.iter().skip(1).cloned().collect()
                } else {
                    vec![dir.to_owned()]
                };
                for d in dirs {
                    let whole = Val {
                        text: d,
                        glob: false,
                        ..v.clone()
                    };
                    self.path(Action::Delete, &whole)?;
                }
            }
        }
        // Unknown text at the start may be an absolute path.
        let mut text = if v.text.starts_with(normalize::UNKNOWN) {
            format!("/{}", v.text)
        } else {
            v.text.clone()
        };
        let mut is_glob = v.glob;
        if self.wide_globs && (v.glob || text.contains('(')) {
            text = widen_glob(&text);
            is_glob = true;
        }
        let mut resolved = self.resolve(&text)?;
        // `/dev/fd/N/../..` climbs from wherever descriptor N points: the `..`s may reach the
        // root, so the rest is also judged from there.
        if let Some(rest) = fd_relative(&text) {
            resolved.push(format!("/{rest}"));
        }
        // A glob whose leading names match the home directory's (`/h?me/user`, `/*/user`)
        // reaches it: judged also with the home directory written out.
        if v.glob && self.home == normalize::ANY_HOME {
            // Every user's home counts: a glob whose first name can be `home`, `Users` or
            // `root` reaches one (`/h?me/alice`, `/*/alice`, `/r??t`).
            let mut via_home = Vec::new();
            for r in &resolved {
                let parts: Vec<&str> = r.split('/').filter(|x| !x.is_empty()).collect();
                let Some(first) = parts.first().filter(|f| has_byte(f, b"*?[")) else {
                    continue;
                };
                let first: Vec<char> = format!("/{first}").chars().collect();
                let matches = |name: &str| {
                    let name: Vec<char> = name.chars().collect();
                    eval::glob_match(&first, &name)
                };
                if matches("/root") {
                    let rest = parts.get(1..).unwrap_or(&[]).join("/");
                    via_home.push(format!("/root/{rest}").trim_end_matches('/').to_owned());
                }
                if (matches("/home") || matches("/Users")) && parts.len() > 1 {
                    let rest = parts.get(2..).unwrap_or(&[]).join("/");
                    via_home.push(
                        format!("{}/{rest}", normalize::ANY_HOME)
                            .trim_end_matches('/')
                            .to_owned(),
                    );
                }
            }
            resolved.extend(via_home);
        } else if v.glob {
            let home: Vec<char> = self.home.chars().collect();
            let home_parts = self.home.split('/').filter(|x| !x.is_empty()).count();
            let mut via_home = Vec::new();
            for r in &resolved {
                if r.starts_with(self.home) || home_parts == 0 {
                    continue;
                }
                let parts: Vec<&str> = r.split('/').filter(|x| !x.is_empty()).collect();
                let Some(lead) = parts.get(..home_parts) else {
                    continue;
                };
                let lead_glob: Vec<char> = format!("/{}", lead.join("/")).chars().collect();
                if has_byte(&lead.concat(), b"*?[") && eval::glob_match(&lead_glob, &home) {
                    let rest = parts.get(home_parts..).unwrap_or(&[]).join("/");
                    via_home.push(if rest.is_empty() {
                        self.home.to_owned()
                    } else {
                        format!("{}/{rest}", self.home)
                    });
                }
            }
            resolved.extend(via_home);
        }
        // Through a link made in the call, the path reaches the link's target.
        if !self.links.is_empty() {
            let mut via = Vec::new();
            for r in &resolved {
                for (l, t) in &self.links {
                    if let Some(rest) = r.strip_prefix(l.as_str()) {
                        if rest.is_empty() || rest.starts_with('/') {
                            via.push(format!("{t}{rest}"));
                        }
                    }
                }
            }
            for p in via {
                if !resolved.contains(&p) {
                    resolved.push(p);
                }
            }
        }
        self.spend(resolved.iter().map(String::len).sum())?;
        let mut op = Operation::new(action);
        if is_glob {
            op.globs = resolved;
        } else {
            op.paths = resolved;
        }
        // Merge into the previous operation of the same action to keep the list short.
        if let Some(last) = self.ops.last_mut() {
            if last.action == action && last.hosts.is_empty() {
                last.paths.append(&mut op.paths);
                last.globs.append(&mut op.globs);
                return Ok(());
            }
        }
        self.ops.push(op);
        Ok(())
    }
}

/// A command's arguments sorted by the command table's flags.
struct Parsed<'a> {
    positional: Vec<&'a Arg>,
    flag_paths: Vec<(Action, Arg)>,
    code: Option<Arg>,
    mode: Option<Action>,
    decode: bool,
    recursive: bool,
    has_target_flag: bool,
    /// Index (into the arguments) where a wrapped command starts.
    rest_at: Option<usize>,
    /// `xargs -I STR`.
    replace: Option<String>,
    /// `-C DIR`: where the command works.
    chdir: Option<Arg>,
    /// `-c key=value` settings.
    settings: Vec<Arg>,
    /// Where a download is saved (`curl -o F`, `wget -O F`; `-` is standard output).
    outputs: Vec<Arg>,
    /// `curl -O`: saved under the URL's last segment.
    remote_name: bool,
    /// `sh -s`: the program comes on standard input.
    stdin_code: bool,
    /// URLs packages or code are fetched from (`--index-url`, `--registry`, `--git`).
    sources: Vec<Arg>,
    /// Packages named by a flag (`--git URL`, `--from SPEC`).
    packages: Vec<Arg>,
    /// Host directories mounted into a container, read whole.
    mounts: Vec<Arg>,
    /// Shell code in operands (socat's `SYSTEM:CMD` and `EXEC:CMD` addresses).
    codes: Vec<Arg>,
    /// `python -m MOD`: the module, and the index of the arguments it gets.
    module: Option<(Arg, usize)>,
    /// `rsync --delete`: the destination loses what the sources lack.
    mirror: bool,
    /// `rsync -n`: nothing is changed.
    dry_run: bool,
}

impl<'a> Parsed<'a> {
    fn new(spec: &CommandSpec, args: &'a [Arg]) -> Parsed<'a> {
        let mut p = Parsed {
            positional: Vec::new(),
            flag_paths: Vec::new(),
            code: None,
            mode: None,
            decode: spec.decoder,
            recursive: spec.recursive,
            has_target_flag: false,
            rest_at: None,
            replace: None,
            chdir: None,
            settings: Vec::new(),
            outputs: Vec::new(),
            remote_name: false,
            stdin_code: false,
            sources: Vec::new(),
            packages: Vec::new(),
            mounts: Vec::new(),
            codes: Vec::new(),
            module: None,
            mirror: false,
            dry_run: false,
        };
        let wraps = matches!(spec.kind, CmdKind::Wrapper | CmdKind::Xargs);
        let mut skip = usize::from(spec.skip);
        let mut pattern_given = false;
        let mut i = 0;
        let mut only_positional = false;
        while let Some(a) = args.get(i) {
            i += 1;
            let dashed;
            let mut t = a.text();
            if spec.bundled
                && i == 1
                && !t.starts_with('-')
                && !t.is_empty()
                && t.bytes().all(|b| b.is_ascii_alphabetic())
            {
                dashed = format!("-{t}");
                t = dashed.as_str();
            }
            if !only_positional && t == "--" {
                only_positional = true;
                continue;
            }
            // `chmod -w FILE`: a mode that takes access away looks like a flag.
            let is_mode = spec.permissions
                && skip == usize::from(spec.skip)
                && t.len() > 1
                && !t.starts_with("--")
                && t.bytes().skip(1).all(|b| b"rwxXstugoa+-=,".contains(&b))
                && !spec.flags.iter().any(|f| f.flag == t);
            let is_flag = !only_positional && !is_mode && t.len() > 1 && t.starts_with('-');
            if !is_flag {
                if spec.kind == CmdKind::Wrapper && is_assignment(t) {
                    continue;
                }
                if skip > 0 && !(pattern_given) {
                    if spec.permissions
                        && skip == usize::from(spec.skip)
                        && a.known()
                        && takes_access_away(t)
                    {
                        p.mode = Some(Action::Stat);
                    }
                    skip -= 1;
                    continue;
                }
                if wraps {
                    p.rest_at = Some(i - 1);
                    return p;
                }
                // `dd if=FILE`: `key=` operands; socat's `FILE:PATH,OPTIONS` addresses,
                // whose types are case-insensitive.
                if let Some((role, v)) = spec.flags.iter().find_map(|f| {
                    let key = f.flag.as_str();
                    if key.ends_with('=') {
                        t.strip_prefix(key).map(|v| (f.role, v))
                    } else if key.ends_with(':') {
                        let head = t.get(..key.len())?;
                        let v = t.get(key.len()..)?;
                        head.eq_ignore_ascii_case(key)
                            .then(|| (f.role, v.split(',').next().unwrap_or(v)))
                    } else {
                        None
                    }
                }) {
                    match role {
                        FlagRole::Path(action) => p.flag_paths.push((action, with_text(a, v))),
                        FlagRole::ReadWrite => {
                            p.flag_paths.push((Action::Read, with_text(a, v)));
                            p.flag_paths.push((Action::Write, with_text(a, v)));
                        }
                        FlagRole::Code => p.codes.push(with_text(a, v)),
                        _ => {}
                    }
                    continue;
                }
                p.positional.push(a);
                continue;
            }
            // `--flag=value`, and `-flag=value` of a long flag written with one dash (Go's).
            let (flag, attached) = match t.split_once('=') {
                Some((f, v))
                    if t.starts_with("--")
                        || f.len() > 2 && spec.flags.iter().any(|x| x.flag == f) =>
                {
                    (f, Some(v))
                }
                _ => (t, None),
            };
            let found = spec.flags.iter().find(|f| f.flag == flag);
            // Short flags: `-rf` clusters and `-ofile` attached values.
            let (role, attached) = match (found, attached) {
                (Some(f), att) => (Some(f.role), att.map(str::to_owned)),
                (None, None) if !t.starts_with("--") && t.len() > 2 => {
                    let mut role = None;
                    let mut att = None;
                    for (k, ch) in t.char_indices().skip(1) {
                        let short = |f: &&crate::tables::FlagSpec| {
                            f.flag.strip_prefix('-').is_some_and(|c| {
                                let mut cs = c.chars();
                                cs.next() == Some(ch) && cs.next().is_none()
                            })
                        };
                        if let Some(f) = spec.flags.iter().find(short) {
                            match f.role {
                                FlagRole::Value
                                | FlagRole::Filter
                                | FlagRole::Identity
                                | FlagRole::Path(_)
                                | FlagRole::AtPath(_)
                                | FlagRole::Code
                                | FlagRole::Pattern
                                | FlagRole::Chdir
                                | FlagRole::Setting
                                | FlagRole::Output
                                | FlagRole::Source
                                | FlagRole::Package
                                | FlagRole::Mount
                                | FlagRole::ReadWrite
                                | FlagRole::Module
                                | FlagRole::PatternFile => {
                                    let rest = t.get(k + ch.len_utf8()..).unwrap_or("");
                                    role = Some(f.role);
                                    att = (!rest.is_empty()).then(|| rest.to_owned());
                                    break;
                                }
                                other => apply_switch(&mut p, other),
                            }
                        }
                    }
                    (role, att)
                }
                (None, att) => (None, att.map(str::to_owned)),
            };
            // `xargs -i` / `-iSTR`: the replace string is optional and attached.
            if spec.kind == CmdKind::Xargs && role.is_none() && t.starts_with("-i") {
                p.replace = Some(
                    t.get(2..)
                        .filter(|r| !r.is_empty())
                        .unwrap_or("{}")
                        .to_owned(),
                );
                continue;
            }
            let Some(role) = role else {
                // A flag the table does not know: its attached value (`--out=PATH`) is judged
                // as a path the command may read when it looks like one.
                if let Some(v) = attached.filter(|v| looks_like_path(v)) {
                    p.flag_paths.push((Action::Read, with_text(a, &v)));
                }
                continue;
            };
            let takes_value = matches!(
                role,
                FlagRole::Value
                    | FlagRole::Filter
                    | FlagRole::Identity
                    | FlagRole::Path(_)
                    | FlagRole::AtPath(_)
                    | FlagRole::Code
                    | FlagRole::Pattern
                    | FlagRole::Chdir
                    | FlagRole::Setting
                    | FlagRole::Output
                    | FlagRole::Source
                    | FlagRole::Package
                    | FlagRole::Mount
                    | FlagRole::ReadWrite
                    | FlagRole::Module
                    | FlagRole::PatternFile
            );
            let value = if !takes_value {
                None
            } else if let Some(v) = attached {
                Some(with_text(a, &v))
            } else {
                let v = args.get(i).cloned();
                i += 1;
                v
            };
            match (role, value) {
                // `python -m MOD ARGS…`: the rest belongs to the module.
                (FlagRole::Module, Some(v)) => {
                    p.module = Some((v, i));
                    return p;
                }
                (FlagRole::Path(action), Some(v)) => {
                    if action == Action::Write && matches!(spec.kind, CmdKind::Copy | CmdKind::Move)
                    {
                        p.has_target_flag = true;
                    }
                    p.flag_paths.push((action, v));
                }
                (FlagRole::AtPath(action), Some(v)) => {
                    // Every value the argument may take (`-F f=@{}` over several files).
                    let alts: Vec<Val> = v
                        .alts
                        .iter()
                        .filter_map(|x| {
                            let t = x.text.as_str();
                            let file = t
                                .strip_prefix('@')
                                .or_else(|| t.split_once("=@").map(|(_, f)| f))
                                .or_else(|| t.strip_prefix('<'))
                                .filter(|f| !f.is_empty() && *f != "-")?;
                            let mut y = x.clone();
                            y.text = file.to_owned();
                            y.literal = file != "**";
                            Some(y)
                        })
                        .collect();
                    if !alts.is_empty() {
                        p.flag_paths.push((action, Arg { alts }));
                    }
                }
                // Only shells, interpreters and wrappers run a program of their own; any
                // other command's code flag (`rg --pre PROG`) is shell code it runs.
                (FlagRole::Code, Some(v))
                    if !matches!(
                        spec.kind,
                        CmdKind::Shell | CmdKind::Interpreter | CmdKind::Wrapper
                    ) =>
                {
                    p.codes.push(v);
                }
                (FlagRole::Code, Some(v)) => {
                    p.code = Some(v);
                    if spec.kind == CmdKind::Shell {
                        // Everything after a shell's `-c CODE` is `$0 $1 …` as written, `--`
                        // and dashes included: the shell reads no more options.
                        p.positional.extend(args.get(i..).unwrap_or(&[]));
                        return p;
                    }
                }
                (FlagRole::Chdir, Some(v)) => p.chdir = Some(v),
                (FlagRole::Output, Some(v)) => {
                    if !is_stdout(v.text()) {
                        p.flag_paths.push((Action::Write, v.clone()));
                    }
                    p.outputs.push(v);
                }
                (FlagRole::Source, Some(v)) => p.sources.push(v),
                (FlagRole::Package, Some(v)) => p.packages.push(v),
                (FlagRole::Mount, Some(v)) => {
                    let alts: Vec<Val> = v
                        .alts
                        .iter()
                        .filter_map(|x| {
                            let src = mount_source(&x.text)?;
                            let mut y = x.clone();
                            y.text = src.to_owned();
                            Some(y)
                        })
                        .collect();
                    if !alts.is_empty() {
                        p.mounts.push(Arg { alts });
                    }
                }
                (FlagRole::Setting, Some(v)) => p.settings.push(v),
                (FlagRole::ReadWrite, Some(v)) => {
                    p.flag_paths.push((Action::Read, v.clone()));
                    p.flag_paths.push((Action::Write, v));
                }
                (FlagRole::Pattern, _) => pattern_given = true,
                (FlagRole::PatternFile, v) => {
                    pattern_given = true;
                    if let Some(v) = v {
                        p.flag_paths.push((Action::Read, v));
                    }
                }
                (FlagRole::Value, Some(v)) => {
                    if spec.kind == CmdKind::Xargs
                        && (matches!(flag, "-I" | "-J" | "--replace")
                            || t.starts_with("-I")
                            || t.starts_with("-J"))
                    {
                        // `--replace=` alone means `{}`.
                        let r = v.text();
                        p.replace = Some(if r.is_empty() { "{}" } else { r }.to_owned());
                    } else if v.alts.iter().any(|x| looks_like_path(&x.text)) {
                        // A value that looks like a path is judged as one the command may
                        // read: a switch listed as taking a value (`cat -n FILE`) must not
                        // hide the file after it.
                        p.flag_paths.push((Action::Read, v));
                    }
                }
                (other, _) => apply_switch(&mut p, other),
            }
        }
        // `deno run SCRIPT`, `bun run SCRIPT`: the word that says "run" is not the script.
        if p.positional
            .first()
            .is_some_and(|a| spec.runs.iter().any(|r| r == a.text()))
        {
            p.positional.remove(0);
        }
        p
    }
}

impl<'a> Parsed<'a> {
    /// A copy's or move's sources and its destination (none with `-t DIR`).
    fn sources_and_target(&self) -> (&[&'a Arg], &[&'a Arg]) {
        let n = self.positional.len();
        let split = if self.has_target_flag {
            n
        } else {
            n.saturating_sub(1)
        };
        self.positional.split_at(split)
    }
}

fn apply_switch(p: &mut Parsed, role: FlagRole) {
    match role {
        FlagRole::Mode(a) => p.mode = Some(a),
        FlagRole::Decode => p.decode = true,
        FlagRole::Recursive => p.recursive = true,
        FlagRole::RemoteName => p.remote_name = true,
        FlagRole::StdinCode => p.stdin_code = true,
        FlagRole::Mirror => p.mirror = true,
        FlagRole::DryRun => p.dry_run = true,
        _ => {}
    }
}

/// The values `args` give any of `flags` (`-d DIR`, `-dDIR`, `-d=DIR`, `--directory=DIR`),
/// and for each word whether it is one of those flags or a flag's value.
fn flag_values(args: &[Arg], flags: &[String]) -> (Vec<Arg>, Vec<bool>) {
    let mut values = Vec::new();
    let mut taken = vec![false; args.len()];
    let mut i = 0;
    while let Some(a) = args.get(i) {
        let t = a.text();
        // `Some(None)`: the value is the next word.
        let found = flags.iter().find_map(|f| {
            let tail = t.strip_prefix(f.as_str())?;
            if tail.is_empty() {
                Some(None)
            } else if f.starts_with("--") {
                tail.strip_prefix('=').map(Some)
            } else {
                Some(Some(tail.strip_prefix('=').unwrap_or(tail)))
            }
        });
        let width = match found {
            Some(None) => {
                values.extend(args.get(i + 1).cloned());
                2
            }
            Some(Some(v)) => {
                values.push(with_text(a, v));
                1
            }
            None => {
                i += 1;
                continue;
            }
        };
        for m in taken.iter_mut().skip(i).take(width) {
            *m = true;
        }
        i += width;
    }
    (values, taken)
}

fn with_text(a: &Arg, t: &str) -> Arg {
    let mut v = a.alts.first().cloned().unwrap_or_else(Val::unknown);
    v.text = t.to_owned();
    v.literal = !t.is_empty() && t != "**";
    Arg { alts: vec![v] }
}

/// Whether `s` holds any of these ASCII bytes: a byte loop, cheaper on short words than
/// `str::contains` with a set of chars.
fn has_byte(s: &str, set: &[u8]) -> bool {
    s.bytes().any(|b| set.contains(&b))
}

/// A command's text as the command table names it: its name without a directory, then its
/// arguments.
fn command_line(args: &[Arg]) -> Option<String> {
    let first = args.first()?;
    let mut line = command_name(first.text()).into_owned();
    for a in args.get(1..).unwrap_or(&[]) {
        line.push(' ');
        line.push_str(a.text());
    }
    Some(line)
}

/// The lower-cased base name of a command word (`/bin/CAT` -> `cat`).
fn command_name(t: &str) -> std::borrow::Cow<'_, str> {
    let base = t
        .bytes()
        .rposition(|b| b == b'/')
        .and_then(|k| t.get(k + 1..))
        .unwrap_or(t);
    let base = if base.is_empty() { t } else { base };
    // Most names are lowercase already: no copy then.
    if base
        .bytes()
        .any(|b| b.is_ascii_uppercase() || !b.is_ascii())
    {
        std::borrow::Cow::Owned(base.to_lowercase())
    } else {
        std::borrow::Cow::Borrowed(base)
    }
}

fn is_assignment(t: &str) -> bool {
    t.split_once('=').is_some_and(|(k, _)| {
        let k = k.trim_end_matches('+');
        !k.is_empty()
            && k.bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    })
}

fn looks_like_path(t: &str) -> bool {
    if t.is_empty() || t.contains("://") {
        return false;
    }
    t.starts_with('/')
        || t.starts_with('~')
        || t.starts_with("$HOME")
        || t.starts_with("${HOME}")
        || t.starts_with('.')
        || t.contains('/')
}

/// Every wildcard (and extended-glob group) as any text, hidden names and `/` included.
fn widen_glob(t: &str) -> String {
    let mut out = String::with_capacity(t.len());
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '@' | '!' | '+' | '*' | '?' if chars.peek() == Some(&'(') => {
                for x in chars.by_ref() {
                    if x == ')' {
                        break;
                    }
                }
                out.push(normalize::SUBTREE);
            }
            '*' | '?' => out.push(normalize::SUBTREE),
            _ => out.push(c),
        }
    }
    out
}

/// Where the operands of one of a command's subcommands (`config set`, `install`) begin, if
/// the command names one of `subs`; `*` stands for the command itself.
fn subcommand_operands(subs: &[String], p: &Parsed) -> Option<usize> {
    subs.iter().find_map(|sub| {
        if sub == "*" {
            return Some(0);
        }
        let words: Vec<&str> = sub.split_whitespace().collect();
        let matches = words.len() <= p.positional.len()
            && words.iter().zip(&p.positional).all(|(w, a)| a.text() == *w);
        matches.then_some(words.len())
    })
}

/// git settings whose value is a program git runs (a key, a `.suffix` of one, or a section
/// prefix). From git-config(1).
const SETTINGS_THAT_RUN: &[&str] = &[
    // ssh -o (and the same keys given to git's core.sshCommand)
    "proxycommand",
    "localcommand",
    "knownhostscommand",
    "core.sshcommand",
    "core.fsmonitor",
    "core.pager",
    "core.editor",
    "core.askpass",
    "core.gitproxy",
    "sequence.editor",
    "diff.external",
    "diff.tool",
    "gpg.program",
    "gpg.ssh.program",
    "credential.helper",
    "uploadpack.packobjectshook",
    "pager",
    ".textconv",
    ".command",
    ".cmd",
    ".driver",
    ".clean",
    ".smudge",
    ".process",
    ".program",
];

/// `$TMPDIR` of Crust's own environment, read once.
fn tmpdir() -> &'static str {
    static T: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        std::env::var("TMPDIR")
            .ok()
            .filter(|t| t.starts_with('/'))
            .map_or_else(|| "/tmp".to_owned(), |t| t.trim_end_matches('/').to_owned())
    })
}

/// The path after `/dev/fd/N/` (or `/proc/*/fd/N/`) and the `..` steps that follow it.
fn fd_relative(t: &str) -> Option<&str> {
    let rest = t.strip_prefix("/dev/fd/").or_else(|| {
        t.strip_prefix("/proc/")
            .and_then(|r| r.split_once("/fd/").map(|(_, x)| x))
    })?;
    let (n, mut rest) = rest.split_once('/')?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) || !rest.starts_with("..") {
        return None;
    }
    while let Some(r) = rest
        .strip_prefix("../")
        .or_else(|| (rest == "..").then_some(""))
    {
        rest = r;
    }
    Some(rest)
}

/// A path that names standard input (`bash /dev/stdin <<< CODE`).
fn is_stdin_path(t: &str) -> bool {
    matches!(t, "/dev/stdin" | "/dev/fd/0" | "/proc/self/fd/0")
}

/// Whether `word` occurs in `text` as a whole word.
fn has_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let before = i.checked_sub(1).and_then(|j| text.as_bytes().get(j));
        let after = text.as_bytes().get(i + word.len());
        !before.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
            && !after.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
    })
}

/// The names `sh -c` binds for `n` arguments.
fn positional_names(n: usize) -> Vec<String> {
    let mut v: Vec<String> = (0..n.max(10)).map(|i| i.to_string()).collect();
    v.extend(["@", "*", "#"].map(String::from));
    v
}

/// A bare word that could name a file: no spaces, no `=` (an assignment or option), no `:`
/// (a host, a URL, a `key:value`), not a number.
fn looks_like_file_name(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 255
        && !t
            .bytes()
            .any(|b| matches!(b, b' ' | b'\t' | b'\n' | b'=' | b':' | b'@'))
        && !t.bytes().all(|b| b.is_ascii_digit())
}

/// `user@host:path` or `host:path` (scp, rsync): the host.
fn remote_host(t: &str) -> Option<String> {
    if t.contains("://") || t.starts_with('/') || t.starts_with('.') || t.starts_with('~') {
        return None;
    }
    let (left, _) = t.split_once(':')?;
    if left.contains('/') || left.is_empty() {
        return None;
    }
    let host = left.rsplit('@').next().unwrap_or(left);
    normalize::host_of(host).or_else(|| Some(host.to_ascii_lowercase()))
}

/// Does a function body call the function in a pipeline or in the background (fork bomb)?
fn calls_itself(name: &str, body: &Script) -> bool {
    fn count(name: &str, s: &Script, piped: &mut bool) -> usize {
        let mut n = 0;
        for item in &s.items {
            let mut here = 0;
            for c in item {
                match c {
                    Command::Simple(sc) => {
                        if sc.words.first().and_then(Word::literal).as_deref() == Some(name) {
                            here += 1;
                        }
                    }
                    Command::Group { body, .. }
                    | Command::For { body, .. }
                    | Command::Function { body, .. } => {
                        here += count(name, body, piped);
                    }
                }
            }
            if here > 0 && item.len() > 1 {
                *piped = true;
            }
            n += here;
        }
        n
    }
    let mut piped = false;
    let n = count(name, body, &mut piped);
    piped || n > 1
}

/// The program operand of a command such as `awk`: the `-e`/`--source` value, or the first
/// operand; none when the program comes from a file (`-f`).
fn program_operand(spec: &CommandSpec, args: &[Arg]) -> Option<Arg> {
    let mut i = 0;
    while let Some(a) = args.get(i) {
        let t = a.text();
        if t == "--" {
            return args.get(i + 1).cloned();
        }
        if matches!(t, "-f" | "--file") || t.starts_with("--file=") {
            return None;
        }
        if matches!(t, "-e" | "--source") {
            return args.get(i + 1).cloned();
        }
        if let Some(v) = t.strip_prefix("--source=") {
            return Some(with_text(a, v));
        }
        if t.starts_with('-') && t.len() > 1 {
            let takes_value = spec.flags.iter().any(|f| {
                f.flag == t
                    && matches!(
                        f.role,
                        FlagRole::Value | FlagRole::Pattern | FlagRole::Filter | FlagRole::Identity
                    )
            });
            i += if takes_value { 2 } else { 1 };
            continue;
        }
        return Some(a.clone());
    }
    None
}

/// The host side of a container mount: `SRC:DST[:opts]` or `type=bind,source=SRC,…`. A
/// named volume (`data:/var/lib/db`) is not a host path.
fn mount_source(t: &str) -> Option<&str> {
    let src = if t.contains('=') {
        t.split(',').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            matches!(k.trim(), "source" | "src").then_some(v)
        })?
    } else {
        t.split(':').next()?
    };
    let host_path = src.starts_with(['/', '~', '.', normalize::UNKNOWN, normalize::SUBTREE])
        || src.starts_with('$');
    (host_path && !src.is_empty()).then_some(src)
}

/// `-EncodedCommand`'s value: base64 of UTF-16LE text.
fn decode_utf16_base64(s: &str) -> Option<String> {
    let bytes = crate::text::base64_decode(s.trim())?;
    if bytes.len() % 2 != 0 {
        return None;
    }
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| {
            u16::from_le_bytes([
                c.first().copied().unwrap_or(0),
                c.get(1).copied().unwrap_or(0),
            ])
        })
        .collect();
    String::from_utf16(&units).ok()
}

/// An `-ArgumentList` value as separate words.
fn ps_split(a: &Arg) -> Vec<Arg> {
    match a.alts.as_slice() {
        [v] if v.known => v.text.split_whitespace().map(Arg::lit).collect(),
        _ => vec![a.clone()],
    }
}

/// A Windows path in the form the rules use.
fn windows_path(t: &str, home: &str) -> String {
    let mut s = t.replace('\\', "/");
    for p in [
        "Microsoft.PowerShell.Core/FileSystem::",
        "FileSystem::",
        "Registry::",
    ] {
        if let Some(r) = s.strip_prefix(p) {
            s = r.to_owned();
        }
    }
    let lower = s.to_ascii_lowercase();
    for (hive, short) in [
        ("hkey_current_user", "hkcu"),
        ("hkey_local_machine", "hklm"),
        ("hkcu:", "hkcu"),
        ("hklm:", "hklm"),
        ("hkcu", "hkcu"),
        ("hklm", "hklm"),
    ] {
        if let Some(r) = lower.strip_prefix(hive) {
            if r.is_empty() || r.starts_with('/') {
                return format!("/registry/{short}{r}");
            }
        }
    }
    // `C:/Users/NAME/…` is a home directory.
    let b = s.as_bytes();
    if b.len() >= 3 && b.get(1) == Some(&b':') && b.get(2) == Some(&b'/') {
        let rest = s.get(3..).unwrap_or("");
        if rest.len() >= 6
            && rest
                .get(..6)
                .is_some_and(|u| u.eq_ignore_ascii_case("users/"))
        {
            let after = rest.get(6..).unwrap_or("");
            let tail = after.find('/').map_or("", |k| after.get(k..).unwrap_or(""));
            return format!("{home}{tail}");
        }
        return format!("/{}", s.get(3..).unwrap_or(""));
    }
    s
}

/// Single- and double-quoted string literals in interpreter code.
fn string_literals(code: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let b = code.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let q = b.get(i).copied().unwrap_or(0);
        if q == b'\'' || q == b'"' || q == b'`' {
            let start = i + 1;
            let mut j = start;
            while j < b.len() && b.get(j) != Some(&q) {
                if b.get(j) == Some(&b'\\') {
                    j += 1;
                }
                j += 1;
            }
            if let Some(s) = code.get(start..j.min(b.len())) {
                out.push(s);
            }
            i = j + 1;
        } else {
            i += 1;
        }
    }
    out
}

/// The items of a brace sequence `X..Y`: numbers or single letters.
fn brace_sequence(body: &str) -> Option<Vec<String>> {
    let (a, b) = body.split_once("..")?;
    let b = b.split_once("..").map_or(b, |(x, _)| x);
    if let (Ok(x), Ok(y)) = (a.parse::<i64>(), b.parse::<i64>()) {
        if (x - y).abs() > 64 {
            return Some(vec![String::new(); 65]);
        }
        let v: Vec<String> = if x <= y {
            (x..=y).map(|n| n.to_string()).collect()
        } else {
            (y..=x).rev().map(|n| n.to_string()).collect()
        };
        return Some(v);
    }
    let (mut x, mut y) = (a.chars(), b.chars());
    let (Some(x), None, Some(y), None) = (x.next(), x.next(), y.next(), y.next()) else {
        return None;
    };
    if !(x.is_ascii_alphabetic() && y.is_ascii_alphabetic()) {
        return None;
    }
    let (lo, hi) = if x <= y { (x, y) } else { (y, x) };
    Some((lo..=hi).map(String::from).collect())
}

/// Brace expansion of `{a,b}` groups (first group, recursively), capped.
fn brace_expand(v: &Val, out: &mut Vec<Val>, depth: usize) -> R<()> {
    if out.len() > MAX_ALTS * 4 || depth > 8 {
        return Err("a word takes too many values to analyse".into());
    }
    let t = &v.text;
    let Some(open) = t.find('{') else {
        out.push(v.clone());
        return Ok(());
    };
    let mut level = 0;
    let mut close = None;
    let mut commas = Vec::new();
    for (k, c) in t.char_indices().skip_while(|(k, _)| *k < open) {
        match c {
            '{' => level += 1,
            '}' => {
                level -= 1;
                if level == 0 {
                    close = Some(k);
                    break;
                }
            }
            ',' if level == 1 => commas.push(k),
            _ => {}
        }
    }
    let Some(close) = close else {
        out.push(v.clone());
        return Ok(());
    };
    if commas.is_empty() {
        // `{a..c}`, `{1..3}`: a sequence.
        let body = t.get(open + 1..close).unwrap_or("");
        let pre = t.get(..open).unwrap_or("");
        let post = t.get(close + 1..).unwrap_or("");
        let Some(items) = brace_sequence(body) else {
            out.push(v.clone());
            return Ok(());
        };
        if items.len() > MAX_ALTS {
            // A long run of numbers (`{1..100}`): one value, a number not worked out.
            let mut x = v.clone();
            x.text = format!("{pre}{}{post}", normalize::UNKNOWN);
            x.known = false;
            x.glob = true;
            out.push(x);
            return Ok(());
        }
        for it in items {
            let mut x = v.clone();
            x.text = format!("{pre}{it}{post}");
            brace_expand(&x, out, depth + 1)?;
        }
        return Ok(());
    }
    let pre = t.get(..open).unwrap_or("");
    let post = t.get(close + 1..).unwrap_or("");
    let mut bounds = vec![open];
    bounds.extend(commas);
    bounds.push(close);
    for w in bounds.windows(2) {
        if let (Some(&a), Some(&b)) = (w.first(), w.get(1)) {
            let mid = t.get(a + 1..b).unwrap_or("");
            let mut x = v.clone();
            x.text = format!("{pre}{mid}{post}");
            brace_expand(&x, out, depth + 1)?;
        }
    }
    Ok(())
}

/// Adds URLs not yet in the list (a bounded number).
fn add_urls(to: &mut Vec<String>, from: &[String]) {
    for u in from {
        if to.len() >= MAX_ALTS {
            break;
        }
        if !to.contains(u) {
            to.push(u.clone());
        }
    }
}

/// Whether a `chmod` mode only takes access away: nothing granted to the group or others,
/// no set-id or sticky bit, and nothing the owner could run that it could not before
/// (`600`, `0400`, `go-rwx`, `u=rw,go=`). Anything else, and any mode Crust cannot read, is
/// a write.
fn takes_access_away(mode: &str) -> bool {
    if !mode.is_empty() && mode.len() <= 4 && mode.bytes().all(|b| matches!(b, b'0'..=b'7')) {
        let d: Vec<u8> = mode.bytes().map(|b| b - b'0').collect();
        let pad = 4 - d.len();
        let digit = |i: usize| {
            if i < pad {
                0
            } else {
                d.get(i - pad).copied().unwrap_or(7)
            }
        };
        return digit(0) == 0 && digit(1) & 1 == 0 && digit(2) == 0 && digit(3) == 0;
    }
    !mode.is_empty()
        && mode.split(',').all(|clause| {
            let who_len = clause
                .bytes()
                .take_while(|b| matches!(b, b'u' | b'g' | b'o' | b'a'))
                .count();
            let (who, mut rest) = clause.split_at(who_len);
            let owner_only = !who.is_empty() && who.bytes().all(|b| b == b'u');
            if rest.is_empty() {
                return false;
            }
            while let Some(op) = rest.chars().next() {
                if !matches!(op, '-' | '+' | '=') {
                    return false;
                }
                let perms_len = rest[1..]
                    .bytes()
                    .take_while(|b| matches!(b, b'r' | b'w' | b'x' | b'X' | b's' | b't'))
                    .count();
                let perms = &rest[1..1 + perms_len];
                let only_rw = perms.bytes().all(|b| matches!(b, b'r' | b'w'));
                let fine = match op {
                    '-' => true,
                    '=' => perms.is_empty() || (owner_only && only_rw),
                    _ => owner_only && only_rw,
                };
                if !fine {
                    return false;
                }
                rest = &rest[1 + perms_len..];
            }
            true
        })
}

fn is_stdout(t: &str) -> bool {
    matches!(t, "-" | "/dev/stdout" | "/dev/fd/1" | "/proc/self/fd/1")
}

/// The name a download is saved under when the client names it from the URL: the last
/// segment of its path (`index.html` when there is none).
fn url_file_name(url: &str) -> &str {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let rest = path.split_once("://").map_or(path, |(_, r)| r);
    match rest.split_once('/') {
        Some((_, p)) => p
            .rsplit('/')
            .next()
            .filter(|n| !n.is_empty())
            .unwrap_or("index.html"),
        None => "index.html",
    }
}

/// Where a package operand comes from when it is not a registry name: a URL (also inside
/// `name @ URL`), a git remote, or a hosting shorthand (`github:user/repo`).
/// What installing one package operand does that a rule judges: code from a URL or git
/// source (`remote-package`, with its `url` and `host`), or a name that imitates one of the
/// registry's most used packages (`typosquat`, with the imitated name in its detail).
pub fn package_operation(
    registry: Option<&crate::tables::RegistrySpec>,
    operand: &str,
) -> Option<Operation> {
    let remote = |url: String| {
        let mut op = Operation::new(Action::Execute);
        op.signals.push(signal::REMOTE_PACKAGE.to_owned());
        op.hosts.extend(normalize::host_of(&url));
        op.urls.push(url);
        op
    };
    if let Some(url) = package_url(operand) {
        return Some(remote(url));
    }
    let reg = registry?;
    let name = registry_name(reg.fold, operand)?;
    let host = name.split('/').next().unwrap_or("");
    if reg.fold == crate::tables::NameFold::Go
        && host.bytes().all(|b| b.is_ascii_digit() || b == b'.')
    {
        // A Go module on a raw IP address: its code comes from whoever holds the address.
        return Some(remote(format!("https://{name}")));
    }
    let popular = reg.imitated(name)?;
    let mut op = Operation::new(Action::Execute);
    op.signals.push(signal::TYPOSQUAT.to_owned());
    op.detail = Some(format!(
        "`{name}` is one edit away from `{popular}`, one of the most used {} packages.",
        reg.name
    ));
    Some(op)
}

/// An index or registry every package of an install comes from (`--index-url URL`, a
/// Gemfile's `source`, a Maven repository): a `package-source` operation with its `url` and
/// `host`.
pub fn source_operation(text: &str) -> Operation {
    let url = package_url(text).unwrap_or_else(|| text.to_owned());
    let mut op = Operation::new(Action::Execute);
    op.signals.push(signal::PACKAGE_SOURCE.to_owned());
    op.hosts.extend(normalize::host_of(&url));
    op.urls.push(url);
    op
}

/// The package name in an install operand from a registry (`requests[socks]>=2`,
/// `@scope/pkg@1.2`, `serde@1`, `alias@npm:pkg`), or `None` when the operand is a path, a
/// file or not a name the registry could hold.
fn registry_name(fold: crate::tables::NameFold, t: &str) -> Option<&str> {
    use crate::tables::NameFold;
    if t.is_empty() || t.starts_with(['-', '.', '/', '~', '$']) || t.contains('\\') {
        return None;
    }
    let name = match fold {
        // `rails`, `rails:7.1.0`; not a `.gem` file.
        NameFold::Gem => {
            let name = t.split(':').next().unwrap_or(t);
            if name.contains('/') || name.to_ascii_lowercase().ends_with(".gem") {
                return None;
            }
            name
        }
        // `github.com/user/repo/cmd/x@v1.2.0`, `example.com/mod/...`: a path whose first
        // element names a host; not `./…`, a file (`main.go`) or a standard package.
        NameFold::Go => {
            // `go mod edit -replace OLD=NEW@v`: the module put in place.
            let t = t.rsplit('=').next().unwrap_or(t);
            let path = t.split('@').next().unwrap_or(t);
            let path = path.strip_suffix("/...").unwrap_or(path);
            let host = path.split('/').next().unwrap_or("");
            if !path.contains('/') || !host.contains('.') || t.contains(':') {
                return None;
            }
            path
        }
        // `group:artifact[:version[:classifier]]`: the first two (Scala's `g::a` too).
        NameFold::Maven => {
            let sep = if t.contains("::") { "::" } else { ":" };
            let (g, rest) = t.split_once(sep)?;
            let a = rest.split(':').next().unwrap_or(rest);
            if g.is_empty() || a.is_empty() || t.contains('/') {
                return None;
            }
            t.get(..g.len() + sep.len() + a.len())?
        }
        _ if t.contains(':') && !t.contains("@npm:") => return None,
        NameFold::Lower => {
            let t = t.rsplit_once("@npm:").map_or(t, |(_, real)| real);
            let end = match t.strip_prefix('@') {
                Some(rest) => rest.find('@').map(|i| i + 1),
                None => t.find('@'),
            };
            let name = end.map_or(t, |i| t.get(..i).unwrap_or(t));
            // A `user/repo` shorthand is a GitHub source, not a registry name.
            if !name.starts_with('@') && name.contains('/') {
                return None;
            }
            name
        }
        NameFold::Pep503 | NameFold::Crates => {
            if t.contains('/') {
                return None;
            }
            let end = t
                .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
                .unwrap_or(t.len());
            let name = t.get(..end).unwrap_or(t);
            let lower = name.to_ascii_lowercase();
            // Archives and wheels on disk, requirement files.
            if [
                ".whl", ".tar.gz", ".zip", ".txt", ".toml", ".py", ".cfg", ".crate",
            ]
            .iter()
            .any(|x| lower.ends_with(x))
            {
                return None;
            }
            name
        }
    };
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@/:~".contains(&b));
    ok.then_some(name)
}

fn package_url(t: &str) -> Option<String> {
    if let Some(i) = t.find("://") {
        let start = t
            .get(..i)?
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |k| k + 1);
        let url = t.get(start..)?;
        return (!url.starts_with("file://")).then(|| url.to_owned());
    }
    for (short, host) in [
        ("github:", "github.com"),
        ("gitlab:", "gitlab.com"),
        ("bitbucket:", "bitbucket.org"),
        ("gist:", "gist.github.com"),
    ] {
        if let Some(rest) = t.strip_prefix(short) {
            return Some(format!("https://{host}/{rest}"));
        }
    }
    // `git@host:user/repo.git`, as npm and pip (`git+git@…`) accept it.
    let scp = t.strip_prefix("git+").unwrap_or(t);
    if let Some((user_host, path)) = scp.split_once(':') {
        if let Some((_, host)) = user_host.split_once('@') {
            if !host.is_empty() && !path.starts_with('/') && !user_host.contains(' ') {
                return Some(format!("ssh://{user_host}/{path}"));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn modes_that_only_take_access_away() {
        for m in [
            "600", "0600", "400", "0", "000", "200", "go-rwx", "og-rwx", "o-r", "a-w", "u=rw,go=",
            "go=", "u-x", "u+rw", "g-s,o-t", "-w",
        ] {
            assert!(super::takes_access_away(m), "{m}");
        }
        for m in [
            "644", "700", "755", "4600", "777", "0640", "+x", "u+x", "a+r", "o=r", "g+w", "u=rwx",
            "=r", "u+s", "go=u", "", "rw", "u", "600x", "06000", "8",
        ] {
            assert!(!super::takes_access_away(m), "{m}");
        }
    }

    #[test]
    fn registry_names_from_install_operands() {
        use crate::tables::NameFold::{Crates, Gem, Go, Lower, Maven, Pep503};
        for (fold, operand, name) in [
            (Pep503, "requests", Some("requests")),
            (Pep503, "requests[socks]>=2.31", Some("requests")),
            (Pep503, "Django==4.2", Some("Django")),
            (Pep503, "zope.interface", Some("zope.interface")),
            (Pep503, "./pkg", None),
            (Pep503, "dist/x-1.0.whl", None),
            (Pep503, "x-1.0.tar.gz", None),
            (Pep503, "requirements.txt", None),
            (Pep503, "-r", None),
            (Lower, "lodash@4.17.21", Some("lodash")),
            (Lower, "@types/node@20", Some("@types/node")),
            (Lower, "@babel/core", Some("@babel/core")),
            (Lower, "alias@npm:real-pkg@1", Some("real-pkg")),
            (Lower, "user/repo", None),
            (Lower, "file:../x", None),
            (Crates, "serde@1.0", Some("serde")),
            (Crates, "serde_json", Some("serde_json")),
            (Gem, "rails", Some("rails")),
            (Gem, "rails:7.1.0", Some("rails")),
            (Gem, "pkg/x-1.0.gem", None),
            (Gem, "x-1.0.gem", None),
            (
                Go,
                "github.com/spf13/cobra@latest",
                Some("github.com/spf13/cobra"),
            ),
            (
                Go,
                "golang.org/x/tools/gopls@v0.16.0",
                Some("golang.org/x/tools/gopls"),
            ),
            (Go, "example.com/mod/...", Some("example.com/mod")),
            (Go, "./...", None),
            (Go, "./cmd/server", None),
            (Go, "main.go", None),
            (Go, "fmt", None),
            (Go, "cmd/go", None),
            (
                Maven,
                "com.google.guava:guava:33.0.0-jre",
                Some("com.google.guava:guava"),
            ),
            (Maven, "org.slf4j:slf4j-api", Some("org.slf4j:slf4j-api")),
            (Maven, "hello.java", None),
            (
                Maven,
                "org.scalatest::scalatest:3.2.18",
                Some("org.scalatest::scalatest"),
            ),
            (Maven, "scripts/x.jsh", None),
        ] {
            assert_eq!(registry_name(fold, operand), name, "{operand}");
        }
    }
    use super::{package_url, registry_name, url_file_name};

    #[test]
    fn package_operands_from_elsewhere_have_a_url() {
        let cases = [
            ("requests", None),
            ("./dist/pkg.tgz", None),
            ("requests==2.32", None),
            ("@scope/pkg@1.0", None),
            ("https://h.example/p.whl", Some("https://h.example/p.whl")),
            (
                "pkg @ git+https://h.example/r",
                Some("git+https://h.example/r"),
            ),
            ("github:user/repo", Some("https://github.com/user/repo")),
            ("git@h.example:u/r.git", Some("ssh://git@h.example/u/r.git")),
            ("file:///tmp/x.whl", None),
        ];
        for (t, want) in cases {
            assert_eq!(package_url(t).as_deref(), want, "{t}");
        }
    }

    #[test]
    fn a_download_is_saved_under_the_last_segment_of_its_path() {
        assert_eq!(
            url_file_name("https://h.example/a/install.sh?x=1"),
            "install.sh"
        );
        assert_eq!(url_file_name("https://h.example"), "index.html");
        assert_eq!(url_file_name("https://h.example/dir/"), "index.html");
    }
}
