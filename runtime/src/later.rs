//! Files that something runs later: a write to a git hook, a start-up file, `package.json`, a
//! CI workflow, a Dockerfile or a Makefile is judged by the commands it holds. The table
//! (`later:` in the rule files) names the files and their formats; each format's reader finds
//! the commands, and the shell analysis judges them as if they ran now, each resulting
//! operation marked `runs-later`. A write whose commands were all read is marked
//! `judged-content`, so rules that guard these paths can let ordinary content through.
//! Content a reader cannot make sense of is an error: the call is refused (fail closed).

use crate::model::{Action, Operation};
use crate::normalize::PathContext;
use crate::shell::Analyzer;
use crate::signal;
use crate::tables::{LaterFormat, TableIndex, Tables};

mod manifests;
use manifests::{gemfile, go_mod, gradle, maven_pom};

/// Commands nested deeper than this in one file are not followed.
const MAX_SNIPPETS: usize = 4096;

/// A command found in a file.
#[derive(Debug, PartialEq, Eq)]
enum Snippet {
    /// Shell text; `strict`: text that does not parse is refused, else it is skipped (a
    /// guess at a fragment that may be no command at all).
    Shell { text: String, strict: bool },
    /// A program and its arguments, run without a shell.
    Argv(Vec<String>),
    /// Code of an interpreter: `run` is the command that runs it given as one argument
    /// (`python3 -c`, `ruby -e`).
    Code { run: &'static str, code: String },
    /// Code fetched from a URL and run (a build script applied from the network).
    Remote(String),
    /// Packages a manifest makes the package manager fetch, from the registry the table
    /// names (`npm`): judged by where each comes from and whether its name imitates a popular
    /// one, without a shell analysis per name (a monorepo's manifest lists thousands).
    Packages {
        registry: &'static str,
        operands: Vec<String>,
        /// Indexes or repositories every package may come from (a Gemfile's `source`, a
        /// Maven repository's `url`).
        sources: Vec<String>,
    },
}

/// The packages a manifest names, when it names any package or index.
fn packages(
    registry: &'static str,
    operands: Vec<String>,
    sources: Vec<String>,
) -> Option<Snippet> {
    (!operands.is_empty() || !sources.is_empty()).then_some(Snippet::Packages {
        registry,
        operands,
        sources,
    })
}

fn python(code: String) -> Snippet {
    Snippet::Code {
        run: "python3 -c",
        code,
    }
}

/// Adds the operations of the commands that written files will run. `partial` writes hold a
/// part of the file (an edit's new text, an appended line).
pub fn expand(
    ops: &mut Vec<Operation>,
    ctx: &PathContext<'_>,
    tables: &Tables,
    index: &TableIndex,
) -> Result<(), String> {
    if tables.later.is_empty() {
        return Ok(());
    }
    let mut added = Vec::new();
    for op in ops.iter_mut() {
        if op.action != Action::Write || op.contents.is_empty() {
            continue;
        }
        let Some((path, (format, elsewhere))) = op
            .paths
            .iter()
            .find_map(|p| format_of(p, ctx.home, tables, index).map(|f| (p.clone(), f)))
        else {
            continue;
        };
        // An edit's fragment of a server list does not say which server it changes: left
        // unjudged, so the rule protecting the file refuses it with its own message.
        if op.partial && format == LaterFormat::McpConfig {
            continue;
        }
        let cwd = run_dir(&path, format, ctx.home);
        let run_ctx = PathContext {
            home: ctx.home,
            cwd: &cwd,
        };
        let system = path.starts_with("/etc/");
        for content in &op.contents {
            let snippets = read(format, content, op.partial, system).map_err(|why| {
                format!("cannot read the commands of `{path}` (a file that runs later): {why}")
            })?;
            for s in snippets {
                let found = judge(&s, &run_ctx, tables, index).map_err(|why| {
                    format!("a command `{path}` would run later cannot be judged: {why}")
                })?;
                for mut f in found {
                    if elsewhere {
                        f.signals.push(signal::RUNS_ELSEWHERE.to_owned());
                    }
                    added.push(f);
                }
            }
        }
        op.signals.push(signal::JUDGED_CONTENT.to_owned());
    }
    for mut op in added {
        if !op.signals.iter().any(|s| s == signal::RUNS_LATER) {
            op.signals.push(signal::RUNS_LATER.to_owned());
        }
        ops.push(op);
    }
    Ok(())
}

/// The format of a path the table lists, if any: globs are found by the path's last segment
/// (exact names from a map), by its directory's name (wildcard names under a named
/// directory), or tried in turn (the few others), then matched whole.
fn format_of(
    path: &str,
    home: &str,
    tables: &Tables,
    index: &TableIndex,
) -> Option<(LaterFormat, bool)> {
    let mut segs = path.rsplit('/');
    let name = segs.next().unwrap_or(path);
    let parent = segs.next().unwrap_or("");
    let exact = index.later_names.get(name).map_or(&[][..], Vec::as_slice);
    let under = index
        .later_parents
        .get(parent)
        .map_or(&[][..], Vec::as_slice);
    exact
        .iter()
        .chain(under)
        .chain(index.later_wild.iter())
        .find_map(|&(i, k)| {
            let spec = tables.later.get(i as usize)?;
            let g = spec.paths.get(k as usize)?;
            let last = g.rsplit('/').next().unwrap_or(g);
            (segment_match(last.as_bytes(), name.as_bytes()) && glob_match(g, path, home))
                .then_some((spec.format, spec.elsewhere))
        })
}

/// Where the file's commands run: a hook at the top of its repository, a start-up file in
/// the home directory, anything else next to the file.
fn run_dir(path: &str, format: LaterFormat, home: &str) -> String {
    if let Some((repo, _)) = path.split_once("/.git/") {
        return if repo.is_empty() {
            "/".into()
        } else {
            repo.into()
        };
    }
    if let Some((repo, _)) = path.split_once("/.husky/") {
        return if repo.is_empty() {
            "/".into()
        } else {
            repo.into()
        };
    }
    let dir = path.rsplit_once('/').map_or("/", |(d, _)| d);
    if format == LaterFormat::Shell && crate::normalize::home_rest(dir, home) == Some("") {
        return dir.into();
    }
    if dir.is_empty() {
        "/".into()
    } else {
        dir.into()
    }
}

/// The file's commands, by format.
fn read(
    format: LaterFormat,
    text: &str,
    partial: bool,
    system: bool,
) -> Result<Vec<Snippet>, String> {
    let mut out = match format {
        LaterFormat::Shell => vec![Snippet::Shell {
            text: text.to_owned(),
            strict: true,
        }],
        LaterFormat::Crontab => crontab(text, system),
        LaterFormat::PackageJson => package_json(text, partial)?,
        LaterFormat::EditorTasks => editor_tasks(text, partial)?,
        LaterFormat::CiYaml => ci_yaml(text),
        LaterFormat::Dockerfile => dockerfile(text)?,
        LaterFormat::Makefile => makefile(text),
        LaterFormat::Systemd => systemd(text),
        LaterFormat::SshConfig => ssh_config(text),
        LaterFormat::PythonPth => text
            .lines()
            .filter(|l| l.starts_with("import ") || l.starts_with("import\t"))
            .map(|l| python(l.to_owned()))
            .collect(),
        LaterFormat::Python => vec![python(text.to_owned())],
        LaterFormat::JetbrainsRun => jetbrains_run(text)?,
        LaterFormat::Vim => vim(text),
        LaterFormat::LaunchdPlist => launchd_plist(text, partial)?,
        LaterFormat::Requirements => vec![requirements(text)],
        LaterFormat::Pyproject => pyproject(text, partial),
        LaterFormat::CargoToml => cargo_toml(text, partial),
        LaterFormat::McpConfig => mcp_config(text)?,
        LaterFormat::Compose => compose(text, partial)?,
        LaterFormat::Gemfile => gemfile(text),
        LaterFormat::GoMod => go_mod(text),
        LaterFormat::MavenPom => maven_pom(text)?,
        LaterFormat::Gradle => gradle(text),
    };
    if out.len() > MAX_SNIPPETS {
        return Err(format!("more than {MAX_SNIPPETS} commands"));
    }
    out.retain(|s| !matches!(s, Snippet::Shell { text, .. } if text.trim().is_empty()));
    Ok(out)
}

fn judge(
    s: &Snippet,
    ctx: &PathContext<'_>,
    tables: &Tables,
    index: &TableIndex,
) -> Result<Vec<Operation>, String> {
    let text = match s {
        Snippet::Packages {
            registry,
            operands,
            sources,
        } => {
            let reg = tables.registries.iter().find(|r| r.name == *registry);
            let mut ops: Vec<Operation> = sources
                .iter()
                .map(|u| crate::shell::analyze::source_operation(u))
                .collect();
            ops.extend(
                operands
                    .iter()
                    .filter_map(|o| crate::shell::analyze::package_operation(reg, o)),
            );
            return Ok(ops);
        }
        Snippet::Remote(url) => {
            let mut op = Operation::new(Action::Execute);
            op.signals.push(crate::signal::REMOTE_CODE.to_owned());
            op.hosts.extend(crate::normalize::host_of(url));
            op.urls.push(url.clone());
            return Ok(vec![op]);
        }
        Snippet::Shell { text, .. } => text.clone(),
        Snippet::Argv(argv) => argv.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" "),
        Snippet::Code { run, code } => format!("{run} {}", quote(code)),
    };
    if text.contains('\0') {
        return Err("a command contains a NUL byte".into());
    }
    let a = Analyzer::new(tables, index, ctx, text.len()).runs_later();
    match a.run(&text) {
        Ok(ops) => Ok(ops),
        Err(_) if matches!(s, Snippet::Shell { strict: false, .. }) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// JetBrains run configurations: `<option name="SCRIPT_TEXT" value="…"/>` (shell script
/// configurations), the value's XML escapes decoded.
fn jetbrains_run(text: &str) -> Result<Vec<Snippet>, String> {
    let mut out = Vec::new();
    for element in text.split('<').skip(1) {
        // Comments, CDATA and declarations hold no attributes.
        if element.starts_with(['!', '?']) {
            continue;
        }
        let attrs = xml_attributes(element)?;
        let named = attrs
            .iter()
            .any(|(k, v)| *k == "name" && v == "SCRIPT_TEXT");
        if let Some((_, script)) = attrs.iter().find(|(k, _)| *k == "value").filter(|_| named) {
            out.push(Snippet::Shell {
                text: script.clone(),
                strict: true,
            });
        }
    }
    Ok(out)
}

/// A launchd job's programs: `ProgramArguments` (argv, no shell) and `Program`, at any depth.
/// Part of a file (an edit) has every `<string>` judged as a command, since its key may be
/// outside the part. Binary property lists and CDATA sections are refused: their text cannot
/// be read here.
fn launchd_plist(text: &str, partial: bool) -> Result<Vec<Snippet>, String> {
    if text.starts_with("bplist") {
        return Err("a binary property list cannot be read".into());
    }
    // Comments out first: a key inside one does not count, and one may hide a `<`.
    let mut clean = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("<!--") {
        clean.push_str(rest.get(..i).unwrap_or(""));
        let after = rest.get(i + 4..).unwrap_or("");
        let end = after.find("-->").ok_or("an XML comment is not closed")?;
        rest = after.get(end + 3..).unwrap_or("");
    }
    clean.push_str(rest);
    if clean.contains("<![CDATA[") {
        return Err("a CDATA section in a property list cannot be read".into());
    }
    // Elements as (tag, text after it up to the next element).
    let mut elements = Vec::new();
    for element in clean.split('<').skip(1) {
        if element.starts_with(['!', '?']) {
            continue;
        }
        let (tag, after) = element
            .split_once('>')
            .ok_or("an XML element is not closed")?;
        let name = tag.split_whitespace().next().unwrap_or("");
        elements.push((name, xml_unescape(after)?));
    }
    let mut out = Vec::new();
    if partial {
        for (name, body) in &elements {
            if *name == "string" && !body.trim().is_empty() {
                out.push(Snippet::Shell {
                    text: body.clone(),
                    strict: false,
                });
            }
        }
        return Ok(out);
    }
    let mut i = 0;
    while let Some((name, body)) = elements.get(i) {
        i += 1;
        if *name != "key" || !matches!(body.trim(), "Program" | "ProgramArguments") {
            continue;
        }
        // The value: the next element after `</key>`, a `<string>` or an `<array>` of them.
        while elements.get(i).is_some_and(|(n, _)| n.starts_with('/')) {
            i += 1;
        }
        match elements.get(i).map(|(n, _)| *n) {
            Some("string") => {
                let program = elements.get(i).map(|(_, b)| b.clone()).unwrap_or_default();
                out.push(Snippet::Argv(vec![program]));
                i += 1;
            }
            Some("array") => {
                let mut argv = Vec::new();
                i += 1;
                while let Some((n, b)) = elements.get(i) {
                    match *n {
                        "string" => argv.push(b.clone()),
                        "string/" => argv.push(String::new()),
                        "/array" => break,
                        "/string" => {}
                        _ => return Err("a program argument is not a string".into()),
                    }
                    i += 1;
                }
                if !argv.is_empty() {
                    out.push(Snippet::Argv(argv));
                }
            }
            Some("array/" | "string/") => i += 1,
            _ => return Err("a launchd program is neither a string nor an array".into()),
        }
    }
    Ok(out)
}

/// The attributes of one XML element (the text after its `<`), values unescaped. `<` cannot
/// occur inside an attribute value, so elements split at it.
fn xml_attributes(element: &str) -> Result<Vec<(&str, String)>, String> {
    let mut out = Vec::new();
    // Past the element's name.
    let mut rest = element.trim_start_matches(|c: char| !c.is_whitespace() && c != '>');
    loop {
        rest = rest.trim_start();
        if rest.is_empty() || rest.starts_with('>') || rest.starts_with("/>") {
            return Ok(out);
        }
        let Some(eq) = rest.find('=') else {
            return Ok(out);
        };
        let key = rest.get(..eq).unwrap_or("").trim();
        let after = rest.get(eq + 1..).unwrap_or("").trim_start();
        let Some(q) = after.chars().next().filter(|c| matches!(c, '"' | '\'')) else {
            return Err("an XML attribute value is not quoted".into());
        };
        let body = after.get(1..).unwrap_or("");
        let close = body.find(q).ok_or("an XML attribute value is not closed")?;
        out.push((key, xml_unescape(body.get(..close).unwrap_or(""))?));
        rest = body.get(close + 1..).unwrap_or("");
    }
}

/// XML's five named escapes and numeric character references.
fn xml_unescape(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(rest.get(..i).unwrap_or(""));
        let tail = rest.get(i + 1..).unwrap_or("");
        let semi = tail
            .find(';')
            .filter(|&n| n <= 10)
            .ok_or("an XML escape is not closed")?;
        let name = tail.get(..semi).unwrap_or("");
        let c = match name {
            "quot" => '"',
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "apos" => '\'',
            _ => {
                let n = if let Some(h) = name.strip_prefix("#x").or(name.strip_prefix("#X")) {
                    u32::from_str_radix(h, 16).ok()
                } else if let Some(d) = name.strip_prefix('#') {
                    d.parse().ok()
                } else {
                    None
                };
                n.and_then(char::from_u32)
                    .ok_or_else(|| format!("unknown XML escape `&{name};`"))?
            }
        };
        out.push(c);
        rest = tail.get(semi + 1..).unwrap_or("");
    }
    out.push_str(rest);
    Ok(out)
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// crontab lines: five schedule fields (or an `@` keyword), a user in system crontabs, then
/// the command. Variable lines (`PATH=…`) are assignments the shell reads as well.
fn crontab(text: &str, system: bool) -> Vec<Snippet> {
    let mut out = Vec::new();
    for line in text.lines() {
        let l = line.trim_start();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let first = l.split_whitespace().next().unwrap_or("");
        if first.contains('=') && !first.starts_with('@') {
            out.push(Snippet::Shell {
                text: l.to_owned(),
                strict: true,
            });
            continue;
        }
        let fields = usize::from(!first.starts_with('@')) * 4 + 1 + usize::from(system);
        let cmd = skip_fields(l, fields);
        // An unescaped `%` ends the command; what follows is its standard input.
        let cmd = split_percent(cmd);
        out.push(Snippet::Shell {
            text: cmd,
            strict: true,
        });
    }
    out
}

fn skip_fields(l: &str, n: usize) -> &str {
    let mut rest = l;
    for _ in 0..n {
        rest = rest.trim_start();
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        rest = rest.get(end..).unwrap_or("");
    }
    rest.trim_start()
}

fn split_percent(cmd: &str) -> String {
    let mut out = String::with_capacity(cmd.len());
    let mut chars = cmd.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('%') => out.push('%'),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            },
            '%' => break,
            c => out.push(c),
        }
    }
    out
}

/// npm runs these without being asked: at install, pack and publish.
const NPM_LIFECYCLE: &[&str] = &[
    "preinstall",
    "install",
    "postinstall",
    "prepare",
    "preprepare",
    "postprepare",
    "prepublish",
    "prepublishOnly",
    "prepack",
    "postpack",
    "dependencies",
];

/// `package.json` keys whose values are not commands.
const NPM_METADATA: &[&str] = &[
    "name",
    "version",
    "description",
    "main",
    "module",
    "types",
    "typings",
    "license",
    "author",
    "homepage",
    "url",
    "email",
    "type",
    "private",
    "packageManager",
    "browser",
    "directory",
];

/// The part of `package.json` that runs: other keys are skipped unread (dependency lists
/// make most of a large file).
#[derive(serde::Deserialize)]
struct PackageScripts {
    #[serde(default)]
    scripts: Option<serde_json::Value>,
    #[serde(default)]
    dependencies: Option<DepList>,
    #[serde(default, rename = "devDependencies")]
    dev_dependencies: Option<DepList>,
    #[serde(default, rename = "optionalDependencies")]
    optional_dependencies: Option<DepList>,
    #[serde(default, rename = "peerDependencies")]
    peer_dependencies: Option<DepList>,
}

/// A dependency list read as `(name, spec)` pairs in order, without building a map (a
/// monorepo's lists hold thousands); a spec that is not a string is `None`.
struct DepList(Vec<(String, Option<String>)>);

impl<'de> serde::Deserialize<'de> for DepList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Pairs;
        impl<'de> serde::de::Visitor<'de> for Pairs {
            type Value = DepList;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of dependencies")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<DepList, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, serde_json::Value>()? {
                    out.push((k, v.as_str().map(str::to_owned)));
                }
                Ok(DepList(out))
            }
        }
        d.deserialize_map(Pairs)
    }
}

/// The dependencies a `package.json` declares, as the `npm install` that fetches them: each
/// registry name, or the URL, git source or hosting shorthand it is fetched from. Local
/// paths and workspace links fetch nothing.
fn npm_dependencies(v: &PackageScripts) -> Result<Option<Snippet>, String> {
    let mut operands = Vec::new();
    for deps in [
        &v.dependencies,
        &v.dev_dependencies,
        &v.optional_dependencies,
        &v.peer_dependencies,
    ]
    .into_iter()
    .flatten()
    {
        for (name, spec) in &deps.0 {
            let spec = spec
                .as_deref()
                .ok_or_else(|| format!("dependency `{name}` is not a string"))?
                .trim();
            let local = [
                "file:",
                "link:",
                "workspace:",
                "portal:",
                "./",
                "../",
                "/",
                "~",
            ];
            if local.iter().any(|p| spec.starts_with(p)) {
                continue;
            }
            let operand = if spec.contains("://")
                || spec.starts_with("git")
                || spec.contains(':') && !spec.starts_with("npm:")
            {
                spec.to_owned()
            } else if spec.contains('/') && !spec.starts_with("npm:") {
                // `user/repo` (or `user/repo#ref`): a GitHub repository.
                format!("github:{spec}")
            } else if let Some(real) = spec.strip_prefix("npm:") {
                real.to_owned()
            } else {
                name.clone()
            };
            operands.push(operand);
        }
    }
    Ok((!operands.is_empty()).then_some(Snippet::Packages {
        registry: "npm",
        operands,
        sources: Vec::new(),
    }))
}

/// The dependencies a `pyproject.toml` declares (PEP 621 `[project]` `dependencies` and
/// `optional-dependencies`, PEP 735 `[dependency-groups]`, Poetry's dependency tables), as
/// the packages an install fetches. Read line by line: array items are quoted requirement
/// strings (`"requests>=2"`, `"x @ https://…"`), Poetry's are `name = …` keys (a table's
/// `git`/`url` value is where it comes from). An edit (part of a file) is not read: a
/// fragment's strings cannot be told from keywords and classifiers.
fn pyproject(text: &str, partial: bool) -> Vec<Snippet> {
    if partial {
        return Vec::new();
    }
    let mut operands = Vec::new();
    let mut table = String::new();
    let mut in_array = false;
    for raw in text.lines() {
        let line = raw.split(" #").next().unwrap_or(raw).trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if !in_array && line.starts_with('[') {
            table = line.trim_matches(['[', ']', ' ']).to_owned();
            continue;
        }
        let lists = matches!(
            table.as_str(),
            "project.optional-dependencies" | "dependency-groups"
        );
        let poetry = table.starts_with("tool.poetry")
            && (table.ends_with("dependencies") || table.ends_with("dev-dependencies"));
        let mut rest = line;
        if !in_array {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let key = key.trim().trim_matches('"');
            let value = value.trim();
            if poetry {
                if key != "python" {
                    // `name = {git = "URL"}` or `{url = "URL"}`: fetched from there.
                    let from = ["git", "url"].iter().find_map(|k| {
                        let at = value.find(&format!("{k} = \""))? + k.len() + 4;
                        value.get(at..)?.split('"').next()
                    });
                    operands.push(from.map_or_else(|| key.to_owned(), str::to_owned));
                }
                continue;
            }
            let wanted = (table == "project" && key == "dependencies") || lists;
            if !wanted || !value.starts_with('[') {
                continue;
            }
            in_array = true;
            rest = value.get(1..).unwrap_or("");
        }
        // Quoted items up to the closing bracket (quotes and brackets are ASCII, so byte
        // offsets stay on character boundaries).
        let mut i = 0;
        while let Some(&b) = rest.as_bytes().get(i) {
            match b {
                b'"' | b'\'' => {
                    let body = rest.get(i + 1..).unwrap_or("");
                    let end = body.find(char::from(b)).unwrap_or(body.len());
                    operands.push(body.get(..end).unwrap_or("").to_owned());
                    i += end + 2;
                }
                b']' => {
                    in_array = false;
                    break;
                }
                _ => i += 1,
            }
        }
    }
    let operands: Vec<String> = operands
        .into_iter()
        // `name @ URL`: the URL; a PEP 735 `{include-group = …}` table is no package.
        .map(|o| match o.split_once(" @ ") {
            Some((_, url)) => url.trim().to_owned(),
            None => o,
        })
        .filter(|o| !o.is_empty())
        .collect();
    packages("pypi", operands, Vec::new()).into_iter().collect()
}

/// The crates a `Cargo.toml` depends on (`[dependencies]`, `[dev-dependencies]`,
/// `[build-dependencies]`, their `[target.….…]` and `[workspace.…]` forms), as the packages a
/// build fetches: `name = "1"`, `name = { version = … }` (or `package = "real"` when renamed),
/// and a `git` source's URL, read line by line (`[dependencies.name]` tables too). Path
/// dependencies fetch nothing. An edit's lines are read the same way when they look like
/// `name = "version"` or an inline table.
fn cargo_toml(text: &str, partial: bool) -> Vec<Snippet> {
    let quoted = |v: &str, key: &str| -> Option<String> {
        let at = v.find(&format!("{key} = \""))? + key.len() + 4;
        v.get(at..)?.split('"').next().map(str::to_owned)
    };
    let deps_table = |t: &str| {
        let last = t.rsplit('.').next().unwrap_or(t);
        matches!(
            last,
            "dependencies" | "dev-dependencies" | "build-dependencies" | "dev_dependencies"
        )
    };
    let mut operands = Vec::new();
    let mut table = String::new();
    // `[dependencies.name]`: the name, then its keys.
    let mut dotted: Option<(String, Option<String>, bool)> = None;
    let flush = |d: &mut Option<(String, Option<String>, bool)>, out: &mut Vec<String>| {
        if let Some((name, from, local)) = d.take() {
            if !local {
                out.push(from.unwrap_or(name));
            }
        }
    };
    for raw in text.lines() {
        let line = raw.split(" #").next().unwrap_or(raw).trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if line.starts_with('[') {
            flush(&mut dotted, &mut operands);
            table = line.trim_matches(['[', ']', ' ']).to_owned();
            if let Some((head, name)) = table.rsplit_once('.') {
                if deps_table(head) {
                    dotted = Some((name.trim_matches('"').to_owned(), None, false));
                }
            }
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim().trim_matches('"'), value.trim());
        if let Some((_, from, local)) = dotted.as_mut() {
            match key {
                "git" => *from = quoted(line, "git"),
                "package" if from.is_none() => {
                    *from = Some(value.trim_matches('"').to_owned());
                }
                "path" => *local = true,
                _ => {}
            }
            continue;
        }
        // An edit's lines carry no table: the manifest's own keys are not dependencies.
        const PACKAGE_KEYS: &[&str] = &[
            "name",
            "version",
            "edition",
            "authors",
            "description",
            "license",
            "license-file",
            "readme",
            "repository",
            "homepage",
            "documentation",
            "keywords",
            "categories",
            "rust-version",
            "publish",
            "build",
            "links",
            "default-run",
            "resolver",
            "members",
            "exclude",
            "include",
            "workspace",
            "metadata",
        ];
        if !(deps_table(&table) || partial && table.is_empty() && !PACKAGE_KEYS.contains(&key)) {
            continue;
        }
        let versioned = value.starts_with('"') || value.starts_with('{');
        if !versioned || value.contains("path = ") && !value.contains("git = ") {
            continue;
        }
        let from = quoted(value, "git").or_else(|| quoted(value, "package"));
        operands.push(from.unwrap_or_else(|| key.to_owned()));
    }
    flush(&mut dotted, &mut operands);
    packages("crates", operands, Vec::new())
        .into_iter()
        .collect()
}

/// A pip requirements file as the `pip install` it stands for: each requirement an operand,
/// option lines (`--index-url URL`, `-e .`, `-r other.txt`) as written, comments dropped.
fn requirements(text: &str) -> Snippet {
    let mut cmd = String::from("pip install");
    let mut joined = String::new();
    for raw in text.lines() {
        // Continuation lines.
        if let Some(head) = raw.strip_suffix('\\') {
            joined.push_str(head);
            joined.push(' ');
            continue;
        }
        joined.push_str(raw);
        let line = std::mem::take(&mut joined);
        let line = match line
            .find(" #")
            .or_else(|| line.starts_with('#').then_some(0))
        {
            Some(i) => line.get(..i).unwrap_or(""),
            None => line.as_str(),
        }
        .trim();
        if line.is_empty() {
            continue;
        }
        cmd.push(' ');
        if line.starts_with('-') {
            cmd.push_str(
                &line
                    .split_whitespace()
                    .map(quote)
                    .collect::<Vec<_>>()
                    .join(" "),
            );
        } else {
            // `name[extra]>=1 ; marker --hash=…`: the requirement, one operand.
            let req = line.split(" --").next().unwrap_or(line).trim();
            cmd.push_str(&quote(req));
        }
    }
    Snippet::Shell {
        text: cmd,
        strict: true,
    }
}

fn package_json(text: &str, partial: bool) -> Result<Vec<Snippet>, String> {
    match serde_json::from_str::<PackageScripts>(text) {
        Ok(v) => {
            let mut out = Vec::new();
            if let Some(scripts) = &v.scripts {
                let obj = scripts.as_object().ok_or("`scripts` is not an object")?;
                for (k, s) in obj {
                    let cmd = s
                        .as_str()
                        .ok_or_else(|| format!("script `{k}` is not a string"))?;
                    out.push(Snippet::Shell {
                        text: cmd.to_owned(),
                        strict: true,
                    });
                }
            } else if partial {
                // An edit that is itself an object: its pairs may be scripts.
                return Ok(json_pairs_guess(text));
            }
            out.extend(npm_dependencies(&v)?);
            Ok(out)
        }
        Err(_) if partial => Ok(json_pairs_guess(text)),
        Err(e) => Err(format!("it is not valid JSON ({e})")),
    }
}

/// Pairs `"key": "value"` in a fragment of `package.json`: a lifecycle script must read as
/// a command; other values that are not metadata or version ranges are judged when they
/// read as one.
fn json_pairs_guess(text: &str) -> Vec<Snippet> {
    let mut out = Vec::new();
    // `"name": "^1.2.3"`: a dependency an edit adds, fetched at the next install.
    let mut deps = Vec::new();
    for (k, v) in json_string_pairs(text) {
        if NPM_METADATA.contains(&k.as_str()) {
            continue;
        }
        if looks_like_version(&v) {
            let npm_name = !k.is_empty()
                && k.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._@/".contains(&b));
            if npm_name {
                deps.push(k);
            }
            continue;
        }
        out.push(Snippet::Shell {
            strict: NPM_LIFECYCLE.contains(&k.as_str()),
            text: v,
        });
    }
    if !deps.is_empty() {
        out.push(Snippet::Packages {
            registry: "npm",
            operands: deps,
            sources: Vec::new(),
        });
    }
    out
}

fn looks_like_version(v: &str) -> bool {
    let v = v.trim();
    v.is_empty()
        || v.starts_with(|c: char| {
            c.is_ascii_digit() || matches!(c, '^' | '~' | '>' | '<' | '=' | '*')
        })
        || [
            "latest",
            "next",
            "workspace:",
            "npm:",
            "file:",
            "link:",
            "catalog:",
        ]
        .iter()
        .any(|p| v.starts_with(p))
}

/// Every `"key": "string"` pair in JSON-like text (a fragment need not parse as a whole).
fn json_string_pairs(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b.get(i) != Some(&b'"') {
            i += 1;
            continue;
        }
        let Some((key, end)) = json_string_at(text, i) else {
            break;
        };
        i = end;
        // A string followed by `:` is a key; a string value after it is its value.
        let mut j = i;
        while b.get(j).is_some_and(u8::is_ascii_whitespace) {
            j += 1;
        }
        if b.get(j) != Some(&b':') {
            continue;
        }
        i = j + 1;
        while b.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        if b.get(i) == Some(&b'"') {
            if let Some((value, end)) = json_string_at(text, i) {
                out.push((key, value));
                i = end;
            }
        }
    }
    out
}

/// The JSON string starting at byte `i` (a `"`), decoded, and the byte after it.
fn json_string_at(text: &str, i: usize) -> Option<(String, usize)> {
    let b = text.as_bytes();
    let mut j = i + 1;
    while let Some(&c) = b.get(j) {
        match c {
            b'\\' => j += 2,
            b'"' => {
                let lit = text.get(i..=j)?;
                let s: String = serde_json::from_str(lit).ok()?;
                return Some((s, j + 1));
            }
            _ => j += 1,
        }
    }
    None
}

/// JSON with comments and trailing commas (VS Code's and Zed's settings files), as JSON.
fn strip_jsonc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.char_indices().peekable();
    let mut in_str = false;
    while let Some((_, c)) = chars.next() {
        if in_str {
            out.push(c);
            if c == '\\' {
                if let Some((_, n)) = chars.next() {
                    out.push(n);
                }
            } else if c == '"' {
                in_str = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_str = true;
                out.push(c);
            }
            '/' if chars.peek().map(|&(_, n)| n) == Some('/') => {
                for (_, n) in chars.by_ref() {
                    if n == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek().map(|&(_, n)| n) == Some('*') => {
                chars.next();
                let mut prev = ' ';
                for (_, n) in chars.by_ref() {
                    if prev == '*' && n == '/' {
                        break;
                    }
                    prev = n;
                }
                out.push(' ');
            }
            c => out.push(c),
        }
    }
    // Trailing commas: `,` followed by only whitespace and a closing bracket.
    let mut cleaned = String::with_capacity(out.len());
    let bytes: Vec<char> = out.chars().collect();
    let mut in_str = false;
    let mut k = 0;
    while let Some(&c) = bytes.get(k) {
        if in_str {
            cleaned.push(c);
            if c == '\\' {
                if let Some(&n) = bytes.get(k + 1) {
                    cleaned.push(n);
                    k += 1;
                }
            } else if c == '"' {
                in_str = false;
            }
        } else if c == '"' {
            in_str = true;
            cleaned.push(c);
        } else if c == ',' {
            let next = bytes
                .get(k + 1..)
                .and_then(|r| r.iter().find(|x| !x.is_whitespace()));
            if !matches!(next, Some(']') | Some('}')) {
                cleaned.push(c);
            }
        } else {
            cleaned.push(c);
        }
        k += 1;
    }
    cleaned
}

fn editor_tasks(text: &str, partial: bool) -> Result<Vec<Snippet>, String> {
    let v = match serde_json::from_str::<serde_json::Value>(&strip_jsonc(text)) {
        Ok(v) => v,
        Err(_) if partial => {
            // A fragment: its `command` values must read as commands.
            return Ok(json_string_pairs(&strip_jsonc(text))
                .into_iter()
                .filter(|(k, _)| k == "command")
                .map(|(_, v)| Snippet::Shell {
                    text: v,
                    strict: true,
                })
                .collect());
        }
        Err(e) => return Err(format!("it is not valid JSON with comments ({e})")),
    };
    // VS Code: `{"tasks": [...]}`; Zed: `[...]`; a VS Code workspace file:
    // `{"tasks": {"tasks": [...]}}`.
    let tasks = match (&v, v.get("tasks")) {
        (serde_json::Value::Array(a), _) => a.clone(),
        (_, Some(serde_json::Value::Array(a))) => a.clone(),
        (_, Some(t @ serde_json::Value::Object(_))) => match t.get("tasks") {
            Some(serde_json::Value::Array(a)) => a.clone(),
            None => Vec::new(),
            Some(_) => return Err("`tasks.tasks` is not a list".into()),
        },
        (serde_json::Value::Object(_), None) => Vec::new(),
        _ => return Err("`tasks` is not a list".into()),
    };
    let mut out = Vec::new();
    for t in &tasks {
        task(t, &mut out)?;
        // Per-platform variants carry their own command.
        for os in ["windows", "linux", "osx"] {
            if let Some(o) = t.get(os) {
                task(o, &mut out)?;
            }
        }
    }
    Ok(out)
}

fn task(t: &serde_json::Value, out: &mut Vec<Snippet>) -> Result<(), String> {
    let Some(cmd) = t.get("command") else {
        return Ok(());
    };
    let cmd = match cmd {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Object(o) => o
            .get("value")
            .and_then(|v| v.as_str())
            .ok_or("a task's `command` has no `value`")?
            .to_owned(),
        _ => return Err("a task's `command` is not a string".into()),
    };
    let mut args = Vec::new();
    if let Some(a) = t.get("args") {
        let list = a.as_array().ok_or("a task's `args` is not a list")?;
        for x in list {
            let s = match x {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Object(o) => o
                    .get("value")
                    .and_then(|v| v.as_str())
                    .ok_or("a task argument has no `value`")?
                    .to_owned(),
                _ => return Err("a task argument is not a string".into()),
            };
            args.push(s);
        }
    }
    if t.get("type").and_then(|v| v.as_str()) == Some("process") {
        let mut argv = vec![cmd];
        argv.extend(args);
        out.push(Snippet::Argv(argv));
    } else {
        // A shell task's arguments reach the shell as written; VS Code quotes only those with
        // whitespace (so `|` and `;` keep their meaning).
        let mut line = cmd;
        for a in args {
            line.push(' ');
            if a.contains(char::is_whitespace) || a.is_empty() {
                line.push_str(&quote(&a));
            } else {
                line.push_str(&a);
            }
        }
        out.push(Snippet::Shell {
            text: line,
            strict: true,
        });
    }
    Ok(())
}

/// MCP server lists (`.mcp.json`, Cursor's, VS Code's, Cline's, Windsurf's, Claude Desktop's):
/// `{"mcpServers"|"servers": {NAME: {command, args, env, url}}}`. A local server is its
/// program run with its arguments and environment, whenever the agent starts; a remote one
/// is a connection to its URL. The whole document must read (an edit's fragment does not say
/// which server it changes), and a server whose fields are not what agents accept is refused.
fn mcp_config(text: &str) -> Result<Vec<Snippet>, String> {
    let v = serde_json::from_str::<serde_json::Value>(&strip_jsonc(text))
        .map_err(|e| format!("it is not a whole JSON document ({e}); write the whole file"))?;
    let mut out = Vec::new();
    for key in ["mcpServers", "servers"] {
        let Some(servers) = v.get(key) else {
            continue;
        };
        let servers = servers
            .as_object()
            .ok_or_else(|| format!("`{key}` is not an object of servers"))?;
        for (name, server) in servers {
            let server = server
                .as_object()
                .ok_or_else(|| format!("server `{name}` is not an object"))?;
            let text_of = |k: &str| -> Result<Option<String>, String> {
                match server.get(k) {
                    None | Some(serde_json::Value::Null) => Ok(None),
                    Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
                    Some(_) => Err(format!("server `{name}`: `{k}` is not a string")),
                }
            };
            for k in ["url", "serverUrl", "httpUrl"] {
                if let Some(url) = text_of(k)? {
                    out.push(Snippet::Argv(vec!["curl".into(), url]));
                }
            }
            let Some(command) = text_of("command")? else {
                continue;
            };
            let mut argv = Vec::new();
            if let Some(env) = server.get("env") {
                let env = env
                    .as_object()
                    .ok_or_else(|| format!("server `{name}`: `env` is not an object"))?;
                if !env.is_empty() {
                    argv.push("env".to_owned());
                }
                for (k, val) in env {
                    let val = val
                        .as_str()
                        .ok_or_else(|| format!("server `{name}`: `env.{k}` is not a string"))?;
                    argv.push(format!("{k}={val}"));
                }
            }
            // Some agents start the command through a shell: a command line in `command`
            // is judged as one too.
            if command.contains(char::is_whitespace) {
                out.push(Snippet::Shell {
                    text: command.clone(),
                    strict: true,
                });
            }
            argv.push(command);
            if let Some(args) = server.get("args") {
                let args = args
                    .as_array()
                    .ok_or_else(|| format!("server `{name}`: `args` is not a list"))?;
                for a in args {
                    argv.push(
                        a.as_str()
                            .ok_or_else(|| format!("server `{name}`: an argument is not a string"))?
                            .to_owned(),
                    );
                }
            }
            out.push(Snippet::Argv(argv));
        }
    }
    Ok(out)
}

/// At most this many YAML aliases in a compose file: the loader copies what an alias names,
/// so nested aliases multiply (a "billion laughs" document); 32 bound the copies to about
/// 2^16 nodes.
const MAX_YAML_ALIASES: usize = 32;

/// Keys that make a mapping a compose service (or a fragment of one, in an edit).
const SERVICE_KEYS: &[&str] = &[
    "image",
    "build",
    "privileged",
    "pid",
    "ipc",
    "uts",
    "cgroup",
    "userns_mode",
    "network_mode",
    "volumes",
    "cap_add",
    "security_opt",
    "devices",
];

/// Compose files (`docker-compose.yml`, `compose.yaml` and their variants): each service as
/// the `docker run` it amounts to on this machine (privileged, host namespaces, capabilities,
/// security options, devices, bind mounts: a host directory mounted is read whole), so the
/// container rules judge it as they judge the command. `${VAR}` is interpolated as compose
/// does; what runs inside the container is the image's business. An edit's fragment is read
/// the same way when it is YAML by itself; a document that is not YAML is refused.
fn compose(text: &str, partial: bool) -> Result<Vec<Snippet>, String> {
    let b = text.as_bytes();
    let aliases = (0..b.len())
        .filter(|&i| {
            b.get(i) == Some(&b'*')
                && (i == 0 || b.get(i - 1).is_some_and(|c| b" \t\n[{,:-".contains(c)))
                && b.get(i + 1)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        })
        .count();
    if aliases > MAX_YAML_ALIASES {
        return Err(format!("more than {MAX_YAML_ALIASES} YAML aliases"));
    }
    let docs = match yaml_rust2::YamlLoader::load_from_str(text) {
        Ok(d) => d,
        // An edit's new text often starts inside a line (`image: x` then indented keys):
        // read with every line's indentation removed, its keys are still a service's.
        Err(_) if partial => {
            let flat: String = text
                .lines()
                .map(|l| format!("{}\n", l.trim_start()))
                .collect();
            yaml_rust2::YamlLoader::load_from_str(&flat)
                .map_err(|e| format!("the edited text is not YAML ({e})"))?
        }
        Err(e) => return Err(format!("it is not YAML ({e})")),
    };
    let mut out = Vec::new();
    for d in &docs {
        compose_services(d, &mut out, 0)?;
        // A fragment may be only entries of a `volumes` list (`- ~/.ssh:/keys`).
        if partial {
            let mut mounts = Vec::new();
            host_mounts(d, &mut mounts, 0);
            for m in mounts {
                out.push(Snippet::Shell {
                    text: format!("docker run -v {} service", compose_word(&m)),
                    strict: true,
                });
            }
        }
    }
    Ok(out)
}

/// Strings in lists that read as a bind mount of a host path (`SRC:DST`, SRC a path).
fn host_mounts(y: &yaml_rust2::Yaml, out: &mut Vec<String>, depth: usize) {
    use yaml_rust2::Yaml;
    if depth > 64 {
        return;
    }
    match y {
        Yaml::Array(a) => {
            for v in a {
                match v {
                    Yaml::String(s) if s.contains(':') && s.starts_with(['/', '~', '.', '$']) => {
                        out.push(s.clone());
                    }
                    other => host_mounts(other, out, depth + 1),
                }
            }
        }
        Yaml::Hash(h) => {
            for v in h.values() {
                host_mounts(v, out, depth + 1);
            }
        }
        _ => {}
    }
}

fn compose_services(
    y: &yaml_rust2::Yaml,
    out: &mut Vec<Snippet>,
    depth: usize,
) -> Result<(), String> {
    use yaml_rust2::Yaml;
    if depth > 64 {
        return Err("the YAML is nested too deep".into());
    }
    match y {
        Yaml::Hash(h) => {
            let service = h.keys().any(|k| {
                k.as_str().is_some_and(|k| SERVICE_KEYS.contains(&k))
                    && k.as_str() != Some("volumes")
            }) || h
                .get(&Yaml::String("volumes".into()))
                .is_some_and(|v| matches!(v, Yaml::Array(_)));
            if service {
                out.push(Snippet::Shell {
                    text: compose_run(h)?,
                    strict: true,
                });
            }
            for v in h.values() {
                compose_services(v, out, depth + 1)?;
            }
        }
        Yaml::Array(a) => {
            for v in a {
                compose_services(v, out, depth + 1)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// A compose value as one shell word: double-quoted so `${VAR}` expands as compose expands
/// it, with `$$` (compose's escape), command substitutions and quotes kept literal.
fn compose_word(v: &str) -> String {
    let mut w = String::with_capacity(v.len() + 2);
    w.push('"');
    let mut chars = v.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' if chars.peek() == Some(&'$') => {
                chars.next();
                w.push_str("\\$");
            }
            '$' if chars.peek() == Some(&'(') => w.push_str("\\$"),
            '"' | '\\' | '`' => {
                w.push('\\');
                w.push(c);
            }
            _ => w.push(c),
        }
    }
    w.push('"');
    w
}

/// The `docker run` command line a compose service amounts to.
fn compose_run(h: &yaml_rust2::yaml::Hash) -> Result<String, String> {
    use yaml_rust2::Yaml;
    // Merge keys (`<<: *base`, `<<: [*a, *b]`): the service's own keys first, then the
    // merged mappings' in order.
    let merged: Vec<&yaml_rust2::yaml::Hash> = match h.get(&Yaml::String("<<".into())) {
        Some(Yaml::Hash(m)) => vec![m],
        Some(Yaml::Array(a)) => a
            .iter()
            .filter_map(|y| match y {
                Yaml::Hash(m) => Some(m),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let get = |k: &str| {
        let key = Yaml::String(k.into());
        h.get(&key)
            .or_else(|| merged.iter().find_map(|m| m.get(&key)))
    };
    let scalar = |y: &Yaml| -> Option<String> {
        match y {
            Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
            Yaml::Boolean(b) => Some(b.to_string()),
            Yaml::Integer(i) => Some(i.to_string()),
            _ => None,
        }
    };
    let mut words = vec!["docker".to_owned(), "run".to_owned()];
    // YAML 1.1 spellings of true count, and so does a value compose fills in later
    // (`${PRIV:-true}`): only a plain false keeps a service unprivileged.
    if get("privileged").and_then(scalar).is_some_and(|v| {
        !matches!(
            v.to_ascii_lowercase().as_str(),
            "false" | "no" | "off" | "n" | "0" | ""
        )
    }) {
        words.push("--privileged".into());
    }
    for (key, flag) in [
        ("pid", "--pid"),
        ("ipc", "--ipc"),
        ("uts", "--uts"),
        ("cgroup", "--cgroupns"),
        ("userns_mode", "--userns"),
        ("network_mode", "--network"),
    ] {
        if let Some(v) = get(key).and_then(scalar) {
            words.push(flag.into());
            words.push(compose_word(&v));
        }
    }
    for (key, flag) in [
        ("cap_add", "--cap-add"),
        ("security_opt", "--security-opt"),
        ("devices", "--device"),
    ] {
        let Some(list) = get(key) else { continue };
        let Yaml::Array(items) = list else {
            return Err(format!("a service's `{key}` is not a list"));
        };
        for item in items {
            let v = match item {
                // A device request without a host path (`deploy.resources.reservations.
                // devices: [{driver: nvidia, capabilities: [gpu]}]`) names no host file.
                Yaml::Hash(d) => match d.get(&Yaml::String("source".into())) {
                    Some(s) => scalar(s),
                    None => continue,
                },
                other => scalar(other),
            }
            .ok_or_else(|| format!("an entry of a service's `{key}` is not a value"))?;
            words.push(flag.into());
            words.push(compose_word(&v));
        }
    }
    if let Some(Yaml::Array(vols)) = get("volumes") {
        for v in vols {
            match v {
                Yaml::Hash(m) => {
                    let field = |k: &str| m.get(&Yaml::String(k.into())).and_then(scalar);
                    let kind = field("type").unwrap_or_else(|| "volume".into());
                    let mut spec = format!("type={kind}");
                    if let Some(src) = field("source") {
                        spec.push_str(",source=");
                        spec.push_str(&src);
                    }
                    if let Some(dst) = field("target") {
                        spec.push_str(",target=");
                        spec.push_str(&dst);
                    }
                    words.push("--mount".into());
                    words.push(compose_word(&spec));
                }
                other => {
                    let spec =
                        scalar(other).ok_or("an entry of a service's `volumes` is not a value")?;
                    words.push("-v".into());
                    words.push(compose_word(&spec));
                }
            }
        }
    }
    words.push(match get("image").and_then(scalar) {
        Some(i) => compose_word(&i),
        None => "service".into(),
    });
    Ok(words.join(" "))
}

/// Keys whose values are shell commands in CI and hook YAML (GitHub Actions `run:`, GitLab
/// `script:`, pre-commit `entry:`).
const CI_KEYS: &[&str] = &["run", "script", "before_script", "after_script", "entry"];

/// A line-based reader of the YAML that CI systems run: a command key's plain or quoted
/// scalar, its block scalar (`|`, `>`), or the list under it. `${{ … }}` expressions become
/// variables the analysis does not know.
fn ci_yaml(text: &str) -> Vec<Snippet> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(line) = lines.get(i) {
        i += 1;
        let indent = line.len() - line.trim_start().len();
        let body = line.trim_start();
        let body = body.strip_prefix("- ").map_or(body, str::trim_start);
        let Some((key, value)) = body.split_once(':') else {
            continue;
        };
        let key = key.trim().trim_matches(['"', '\'']);
        if !CI_KEYS.contains(&key) {
            continue;
        }
        let value = value.trim();
        let value = strip_yaml_comment(value);
        if value.starts_with('|') || value.starts_with('>') {
            let (block, next) = block_scalar(&lines, i, indent);
            let text = if value.starts_with('>') {
                block.replace('\n', " ")
            } else {
                block
            };
            out.push(ci_shell(&text));
            i = next;
        } else if value.is_empty() {
            // A list of commands under the key.
            while let Some(l) = lines.get(i) {
                let t = l.trim_start();
                let ind = l.len() - t.len();
                if t.is_empty() || t.starts_with('#') {
                    i += 1;
                    continue;
                }
                if ind < indent || (ind == indent && !t.starts_with("- ")) {
                    break;
                }
                i += 1;
                if let Some(item) = t.strip_prefix("- ") {
                    let item = item.trim();
                    if item.starts_with('|') || item.starts_with('>') {
                        let (block, next) = block_scalar(&lines, i, ind);
                        out.push(ci_shell(&block));
                        i = next;
                    } else {
                        out.push(ci_shell(&yaml_scalar(strip_yaml_comment(item))));
                    }
                }
            }
        } else if value.starts_with('[') {
            // A flow list: `script: ["make", "make test"]`.
            for item in value.trim_matches(['[', ']']).split(',') {
                out.push(ci_shell(&yaml_scalar(item.trim())));
            }
        } else {
            out.push(ci_shell(&yaml_scalar(value)));
        }
    }
    out
}

fn strip_yaml_comment(v: &str) -> &str {
    if v.starts_with(['"', '\'']) {
        return v;
    }
    match v.find(" #") {
        Some(k) => v.get(..k).unwrap_or(v).trim_end(),
        None => v,
    }
}

/// The lines of a block scalar after the line at `start - 1` (indented more than `indent`),
/// with their common indentation removed; and the index of the first line after it.
fn block_scalar(lines: &[&str], start: usize, indent: usize) -> (String, usize) {
    let mut i = start;
    let mut body = Vec::new();
    while let Some(l) = lines.get(i) {
        let t = l.trim_start();
        if !t.is_empty() && l.len() - t.len() <= indent {
            break;
        }
        body.push(*l);
        i += 1;
    }
    let common = body
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let text: Vec<&str> = body.iter().map(|l| l.get(common..).unwrap_or("")).collect();
    (text.join("\n"), i)
}

fn yaml_scalar(v: &str) -> String {
    if let Some(s) = v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        return s.replace("''", "'");
    }
    if v.starts_with('"') {
        if let Ok(s) = serde_json::from_str::<String>(v) {
            return s;
        }
    }
    v.to_owned()
}

/// `${{ expr }}` becomes an unknown variable's value.
fn ci_shell(text: &str) -> Snippet {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(k) = rest.find("${{") {
        out.push_str(rest.get(..k).unwrap_or(""));
        match rest.get(k..).and_then(|r| r.find("}}")) {
            Some(end) => {
                out.push_str("${CI_EXPRESSION}");
                rest = rest.get(k + end + 2..).unwrap_or("");
            }
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    Snippet::Shell {
        text: out,
        strict: true,
    }
}

/// Dockerfile `RUN` instructions: shell form (continuations joined, here-documents kept),
/// exec form (`RUN ["a", "b"]`), and their `--mount`/`--network` options skipped.
fn dockerfile(text: &str) -> Result<Vec<Snippet>, String> {
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while let Some(line) = lines.get(i) {
        i += 1;
        let t = line.trim_start();
        if t.len() < 4 || !t.get(..4).is_some_and(|w| w.eq_ignore_ascii_case("RUN ")) {
            continue;
        }
        let mut cmd = t.get(4..).unwrap_or("").to_owned();
        while cmd.trim_end().ends_with('\\') {
            let trimmed = cmd.trim_end().trim_end_matches('\\').to_owned();
            cmd = trimmed;
            match lines.get(i) {
                Some(next) => {
                    // Docker removes the backslash and the line break: one line.
                    cmd.push(' ');
                    if !next.trim_start().starts_with('#') {
                        cmd.push_str(next);
                    }
                    i += 1;
                }
                None => break,
            }
        }
        let mut rest = cmd.trim_start();
        while let Some(opt) = rest.strip_prefix("--") {
            let end = opt.find(char::is_whitespace).unwrap_or(opt.len());
            rest = opt.get(end..).unwrap_or("").trim_start();
        }
        if rest.starts_with('[') {
            let argv: Vec<String> = serde_json::from_str(rest)
                .map_err(|e| format!("a RUN instruction's exec form is not a JSON list ({e})"))?;
            out.push(Snippet::Argv(argv));
            continue;
        }
        // `RUN <<EOF … EOF`: the here-document's lines are the script.
        if let Some(tag) = rest.strip_prefix("<<") {
            let tag = tag
                .trim_start_matches('-')
                .split_whitespace()
                .next()
                .unwrap_or("")
                .trim_matches(['"', '\'']);
            let mut body = Vec::new();
            while let Some(l) = lines.get(i) {
                i += 1;
                if l.trim() == tag {
                    break;
                }
                body.push(*l);
            }
            out.push(Snippet::Shell {
                text: body.join("\n"),
                strict: true,
            });
            continue;
        }
        out.push(Snippet::Shell {
            text: rest.to_owned(),
            strict: true,
        });
    }
    Ok(out)
}

/// Makefile recipe lines (after a tab; `@`, `-`, `+` prefixes dropped; continuations joined)
/// and `$(shell …)` anywhere. Make's variables become shell variables the analysis does not
/// know, `$(shell …)` a command substitution, `$$` a `$`.
fn makefile(text: &str) -> Vec<Snippet> {
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while let Some(line) = lines.get(i) {
        i += 1;
        let mut joined = (*line).to_owned();
        while joined.ends_with('\\') {
            joined.pop();
            match lines.get(i) {
                Some(n) => {
                    joined.push(' ');
                    joined.push_str(n.trim_start_matches('\t'));
                    i += 1;
                }
                None => break,
            }
        }
        if let Some(recipe) = joined.strip_prefix('\t') {
            let recipe = recipe.trim_start_matches(['@', '-', '+', ' ', '\t']);
            out.push(Snippet::Shell {
                text: make_to_shell(recipe),
                strict: true,
            });
        } else if joined.contains("$(shell ") || joined.contains("${shell ") {
            // Run when make reads the file: each `$(shell …)` is a command.
            let mut rest = joined.as_str();
            while let Some(k) = rest.find("$(shell ").or_else(|| rest.find("${shell ")) {
                let inner_start = k + 8;
                let close = if rest.get(k + 1..k + 2) == Some("(") {
                    ')'
                } else {
                    '}'
                };
                let body = rest.get(inner_start..).unwrap_or("");
                let end = matching_close(body, close).unwrap_or(body.len());
                out.push(Snippet::Shell {
                    text: make_to_shell(body.get(..end).unwrap_or("")),
                    strict: true,
                });
                rest = body.get(end..).unwrap_or("");
            }
        }
    }
    out
}

/// The byte index of the bracket closing an opened one, nested brackets counted.
fn matching_close(s: &str, close: char) -> Option<usize> {
    let open = if close == ')' { '(' } else { '{' };
    let mut depth = 0usize;
    for (k, c) in s.char_indices() {
        if c == open {
            depth += 1;
        } else if c == close {
            if depth == 0 {
                return Some(k);
            }
            depth -= 1;
        }
    }
    None
}

fn make_to_shell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(k) = rest.find('$') {
        out.push_str(rest.get(..k).unwrap_or(""));
        let after = rest.get(k + 1..).unwrap_or("");
        if let Some(r) = after.strip_prefix('$') {
            out.push('$');
            rest = r;
        } else if after.starts_with('(') || after.starts_with('{') {
            let close = if after.starts_with('(') { ')' } else { '}' };
            let body = after.get(1..).unwrap_or("");
            let end = matching_close(body, close).unwrap_or(body.len());
            let inner = body.get(..end).unwrap_or("");
            if let Some(cmd) = inner.strip_prefix("shell ") {
                out.push_str("$(");
                out.push_str(&make_to_shell(cmd));
                out.push(')');
            } else {
                // A variable or function of make: a value the analysis does not know.
                out.push_str("${MAKE_VALUE}");
            }
            rest = body.get(end + 1..).unwrap_or("");
        } else {
            // `$@`, `$<`, `$^`, `$*`, `$X`: make's own variables.
            out.push_str("${MAKE_VALUE}");
            let skip = after.chars().next().map_or(0, char::len_utf8);
            rest = after.get(skip..).unwrap_or("");
        }
    }
    out.push_str(rest);
    out
}

/// systemd `Exec…=` lines (prefixes `-`, `@`, `:`, `+`, `!` dropped).
/// ssh_config(5): a keyword, then `=` or blanks, then its arguments; `Match exec "CMD"`.
fn ssh_config(text: &str) -> Vec<Snippet> {
    let mut out = Vec::new();
    for l in text.lines() {
        let l = l.trim();
        if l.starts_with('#') {
            continue;
        }
        let (key, rest) = l
            .split_once(|c: char| c.is_whitespace() || c == '=')
            .unwrap_or((l, ""));
        let rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '=');
        let key = key.to_ascii_lowercase();
        if matches!(
            key.as_str(),
            "proxycommand" | "localcommand" | "knownhostscommand"
        ) {
            out.push(Snippet::Shell {
                text: rest.to_owned(),
                strict: true,
            });
        } else if key == "match" {
            // `Match host x exec "cmd"`: the command after `exec`, quoted or one word.
            let lower = rest.to_ascii_lowercase();
            if let Some(at) = lower.find("exec") {
                let arg = rest.get(at + 4..).unwrap_or("").trim_start();
                let cmd = match arg.strip_prefix('"') {
                    Some(q) => q.split('"').next().unwrap_or(""),
                    None => arg.split_whitespace().next().unwrap_or(""),
                };
                out.push(Snippet::Shell {
                    text: cmd.to_owned(),
                    strict: true,
                });
            }
        }
    }
    out
}

/// Vim script: the shell command of every `:!CMD` (the rest of the line goes to the shell,
/// wherever the `!` starts a command: after `:`, `silent`, `exe`, an autocommand's event and
/// pattern, a mapping's keys) and the first string given to the functions that run one. The
/// guesses are not strict: a fragment that does not parse as shell is skipped.
fn vim(text: &str) -> Vec<Snippet> {
    let mut out = Vec::new();
    let push = |out: &mut Vec<Snippet>, t: &str| {
        let t = t.trim();
        if !t.is_empty() {
            out.push(Snippet::Shell {
                // A mapping's keys: `<CR>` ends it, `\|` and `<Bar>` are the shell's `|`.
                text: t
                    .replace("<CR>", "")
                    .replace("<cr>", "")
                    .replace("\\|", "|")
                    .replace("<Bar>", "|")
                    .replace("<bar>", "|"),
                strict: false,
            });
        }
    };
    for line in text.lines() {
        let l = line.trim_start();
        if l.starts_with('"') {
            continue;
        }
        // `:!cmd`, `silent !cmd`, `nnoremap <F5> :!make<CR>`, `au BufWritePost * !cmd`: a
        // bang that follows a space, a colon or the line's start and is followed by text.
        let bytes = l.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            if b != b'!' {
                continue;
            }
            let before = i
                .checked_sub(1)
                .and_then(|j| bytes.get(j).copied())
                .unwrap_or(b' ');
            let after = bytes.get(i + 1).copied().unwrap_or(b' ');
            // `if !exists(…)`: a negation in an expression, not a command.
            let word = l.get(..i).unwrap_or("").split_whitespace().next_back();
            let expression = word.is_some_and(|w| {
                matches!(
                    w,
                    "if" | "elseif" | "while" | "let" | "return" | "echo" | "&&" | "||" | "="
                )
            });
            if matches!(before, b' ' | b'\t' | b':' | b'|')
                && !matches!(after, b'=' | b' ')
                && !expression
            {
                push(&mut out, l.get(i + 1..).unwrap_or(""));
                break;
            }
        }
        for f in ["system(", "systemlist(", "jobstart(", "termopen("] {
            let mut rest = l;
            while let Some(at) = rest.find(f) {
                rest = rest.get(at + f.len()..).unwrap_or("");
                // `jobstart(['sh', '-c', 'cmd'])`: a list's strings joined as words.
                let arg = rest.trim_start().trim_start_matches('[');
                let mut words = Vec::new();
                let mut s = arg;
                while let Some(q) = s.chars().next().filter(|c| matches!(c, '\'' | '"')) {
                    let body = s.get(1..).unwrap_or("");
                    let Some(end) = body.find(q) else { break };
                    words.push(body.get(..end).unwrap_or("").to_owned());
                    s = body.get(end + 1..).unwrap_or("").trim_start();
                    match s.strip_prefix(',') {
                        Some(r) => s = r.trim_start(),
                        None => break,
                    }
                }
                if words.len() > 1 {
                    out.push(Snippet::Argv(words));
                } else if let Some(w) = words.first() {
                    push(&mut out, w);
                }
            }
        }
    }
    out
}

fn systemd(text: &str) -> Vec<Snippet> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let (k, v) = l.split_once('=')?;
            k.trim().starts_with("Exec").then(|| Snippet::Shell {
                text: v.trim_start_matches(['-', '@', ':', '+', '!']).to_owned(),
                strict: true,
            })
        })
        .collect()
}

/// Glob over an absolute path: `$HOME/` at the start is the home directory, `**/` any number
/// of directories, `*` and `?` within one segment.
fn glob_match(glob: &str, path: &str, home: &str) -> bool {
    let (g, p) = match glob.strip_prefix("$HOME/") {
        Some(rest) => {
            match crate::normalize::home_rest(path, home).and_then(|r| r.strip_prefix('/')) {
                Some(prest) => (rest, prest),
                None => return false,
            }
        }
        None => (glob.trim_start_matches('/'), path.trim_start_matches('/')),
    };
    let gs: Vec<&str> = g.split('/').collect();
    let ps: Vec<&str> = p.split('/').collect();
    segments_match(&gs, &ps)
}

fn segments_match(g: &[&str], p: &[&str]) -> bool {
    match g.split_first() {
        None => p.is_empty(),
        Some((&"**", rest)) => {
            (0..=p.len()).any(|k| p.get(k..).is_some_and(|tail| segments_match(rest, tail)))
        }
        Some((first, rest)) => match p.split_first() {
            Some((seg, prest)) => {
                segment_match(first.as_bytes(), seg.as_bytes()) && segments_match(rest, prest)
            }
            None => false,
        },
    }
}

fn segment_match(g: &[u8], s: &[u8]) -> bool {
    if g == b"**" {
        return true;
    }
    match g.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => {
            (0..=s.len()).any(|k| s.get(k..).is_some_and(|t| segment_match(rest, t)))
        }
        Some((b'?', rest)) => s.split_first().is_some_and(|(_, t)| segment_match(rest, t)),
        Some((c, rest)) => s
            .split_first()
            .is_some_and(|(d, t)| c == d && segment_match(rest, t)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shells(v: Vec<Snippet>) -> Vec<String> {
        v.into_iter()
            .map(|s| match s {
                Snippet::Shell { text, .. } => text,
                Snippet::Argv(a) => a.join(" "),
                Snippet::Code { code, .. } => code,
                Snippet::Remote(url) => format!("remote {url}"),
                Snippet::Packages {
                    registry,
                    operands,
                    sources,
                } => {
                    let mut t = format!("{registry}: {}", operands.join(" "));
                    for u in sources {
                        t.push_str(" source ");
                        t.push_str(&u);
                    }
                    t
                }
            })
            .collect()
    }

    #[test]
    fn launchd_programs_are_read_at_any_depth_and_unescaped() {
        let plist = "<?xml version=\"1.0\"?><!DOCTYPE plist><plist><dict>\
            <!-- <key>Program</key><string>hidden</string> -->\
            <key>Label</key><string>x</string>\
            <key>ProgramArguments</key>\n <array>\n <string>/bin/sh</string>\
            <string>-c</string><string>a &amp;&amp; b</string><string/></array>\
            <key>Sub</key><dict><key>Program</key><string>/usr/bin/y</string></dict>\
            </dict></plist>";
        assert_eq!(
            shells(launchd_plist(plist, false).unwrap()),
            ["/bin/sh -c a && b ", "/usr/bin/y"]
        );
        // Part of a file: every string is a command.
        assert_eq!(
            shells(launchd_plist("<string>rm -rf ~</string>", true).unwrap()),
            ["rm -rf ~"]
        );
        for bad in [
            "bplist00xx",
            "<plist><!-- open",
            "<key>Program</key><string><![CDATA[x]]></string>",
            "<key>ProgramArguments</key><dict></dict>",
            "<key>ProgramArguments</key><array><integer>1</integer></array>",
        ] {
            assert!(launchd_plist(bad, false).is_err(), "{bad}");
        }
    }

    #[test]
    fn jetbrains_script_text_is_read_in_any_attribute_order_and_unescaped() {
        let xml = "<component><configuration type=\"ShConfigurationType\">\
            <option name=\"SCRIPT_TEXT\" value=\"a &amp;&amp; b &#10;c &#x3E; d\" />\
            <option value='e &lt; f' name='SCRIPT_TEXT'/>\
            <option name=\"SCRIPT_PATH\" value=\"run.sh\" /></configuration></component>";
        let got = shells(jetbrains_run(xml).unwrap());
        assert_eq!(got, vec!["a && b \nc > d", "e < f"]);
        assert!(jetbrains_run("<option name=\"SCRIPT_TEXT\" value=\"x &bogus; y\"/>").is_err());
        assert!(jetbrains_run("<option name=\"SCRIPT_TEXT\" value=\"unclosed").is_err());
        assert!(jetbrains_run("<option name=SCRIPT_TEXT value=x/>").is_err());
        assert!(jetbrains_run("no xml at all").unwrap().is_empty());
        assert!(jetbrains_run("<?xml version=\"1.0\"?><!-- a=b --><x/>")
            .unwrap()
            .is_empty());
    }

    #[test]
    fn vim_commands_are_the_bang_commands_and_the_strings_given_to_system() {
        let text = "\" !not this\nset nu\nau BufWritePost * silent !make %\n\
            nnoremap x :!a \\| b<CR>\nif !exists('g:x') | endif\n\
            let b = system('git status')\ncall jobstart(['sh', '-c', 'ls'])\nset x!=y\n";
        let got = shells(vim(text));
        assert_eq!(got, vec!["make %", "a | b", "git status", "sh -c ls"]);
    }

    #[test]
    fn globs_match_paths_by_segment() {
        assert!(glob_match(
            "**/.git/hooks/*",
            "/h/p/.git/hooks/pre-commit",
            "/h"
        ));
        assert!(!glob_match("**/.git/hooks/*", "/h/p/.git/hooks", "/h"));
        assert!(glob_match("$HOME/.bashrc", "/h/.bashrc", "/h"));
        assert!(!glob_match("$HOME/.bashrc", "/h/p/.bashrc", "/h"));
        assert!(glob_match(
            "**/.github/workflows/*.yml",
            "/r/.github/workflows/ci.yml",
            "/h"
        ));
        assert!(glob_match("**/Dockerfile.*", "/r/Dockerfile.dev", "/h"));
        assert!(!glob_match("**/Dockerfile.*", "/r/Dockerfile", "/h"));
    }

    #[test]
    fn crontab_lines_lose_their_schedule() {
        let t = "# m h dom mon dow command\nSHELL=/bin/bash\n*/5 * * * * /usr/bin/backup.sh --full\n@reboot curl x | sh\n";
        assert_eq!(
            shells(crontab(t, false)),
            [
                "SHELL=/bin/bash",
                "/usr/bin/backup.sh --full",
                "curl x | sh"
            ]
        );
        assert_eq!(
            shells(crontab("0 1 * * * root run-parts /x % in", true)),
            ["run-parts /x "]
        );
    }

    #[test]
    fn package_json_scripts_are_read() {
        let t = r#"{"name": "x", "scripts": {"build": "tsc", "postinstall": "node s.js"}}"#;
        assert_eq!(
            shells(package_json(t, false).unwrap()),
            ["tsc", "node s.js"]
        );
        assert!(package_json("{", false).is_err());
        let frag = r#""postinstall": "curl x | sh", "lodash": "^4.17.21", "description": "a (b"#;
        assert_eq!(
            shells(package_json(frag, true).unwrap()),
            ["curl x | sh", "npm: lodash"]
        );
    }

    #[test]
    fn package_json_dependencies_are_what_npm_install_fetches() {
        let t = r#"{"scripts": {"b": "tsc"}, "dependencies": {"a": "^1", "b": "user/r#x",
            "c": "file:../c", "d": "npm:real@2", "e": "https://h.example/e.tgz"},
            "devDependencies": {"f": "workspace:*", "g": "latest"}}"#;
        assert_eq!(
            shells(package_json(t, false).unwrap()),
            [
                "tsc",
                "npm: a github:user/r#x real@2 https://h.example/e.tgz g"
            ]
        );
        assert!(package_json(r#"{"dependencies": []}"#, false).is_err());
        let frag = "\"axios\": \"^1.6.0\",\n\"build\": \"tsc\"";
        assert_eq!(
            shells(package_json(frag, true).unwrap()),
            ["tsc", "npm: axios"]
        );
    }

    #[test]
    fn pyproject_dependencies_are_read() {
        let t = "[project]\nname = \"flaskr\"\nkeywords = [\"reqeusts\"]\ndependencies = [\n  \"requests>=2\", # http\n  'x @ https://h.example/x.whl',\n]\n\
            [project.optional-dependencies]\ndev = [\"pytest\", \"ruff\"]\n\
            [tool.poetry.dependencies]\npython = \"^3.11\"\nflask = \"^3\"\ny = { git = \"https://g.example/y.git\" }\n";
        assert_eq!(
            shells(pyproject(t, false)),
            ["pypi: requests>=2 https://h.example/x.whl pytest ruff flask https://g.example/y.git"]
        );
        assert!(pyproject(t, true).is_empty());
    }

    #[test]
    fn cargo_dependencies_are_read() {
        let t = "[package]\nname = \"serde_jsn\"\nversion = \"0.1.0\"\n\
            [dependencies]\nserde = { version = \"1\", features = [\"derive\"] }\ntokio = \"1\"\n\
            local = { path = \"../local\" }\nfast = { package = \"real-name\", version = \"2\" }\n\
            [dev-dependencies.proptest]\nversion = \"1\"\n\
            [target.'cfg(unix)'.dependencies]\nx = { git = \"https://g.example/x\" }\n\
            [dependencies.y]\npath = \"y\"\n[features]\ndefault = [\"a\"]\n";
        assert_eq!(
            shells(cargo_toml(t, false)),
            ["crates: serde tokio real-name proptest https://g.example/x"]
        );
        assert_eq!(
            shells(cargo_toml("tokioo = \"1\"\n", true)),
            ["crates: tokioo"]
        );
    }

    #[test]
    fn requirements_are_what_pip_install_fetches() {
        let t = "# c\nrequests==2 ; python_version < \"3.8\"\n-i https://x.example/simple\n\
            pytest>=7 \\\n  --hash=sha256:ab\n\nnumpy  # n\n";
        assert_eq!(
            shells(vec![requirements(t)]),
            ["pip install 'requests==2 ; python_version < \"3.8\"' '-i' 'https://x.example/simple' 'pytest>=7' 'numpy'"]
        );
    }

    #[test]
    fn mcp_servers_are_their_programs_environment_and_urls() {
        let text = r#"// project servers
        {"mcpServers": {
            "a": {"command": "npx", "args": ["-y", "pkg"], "env": {"K": "v w"}},
            "b": {"type": "http", "url": "https://mcp.example.com/mcp"},
            "c": {"command": "uvx mcp-x"}
        },
        "servers": {"d": {"type": "stdio", "command": "node", "args": ["s.js"]}}}"#;
        let got: Vec<String> = mcp_config(text)
            .unwrap()
            .into_iter()
            .map(|s| match s {
                Snippet::Argv(a) => a.join("|"),
                Snippet::Shell { text, .. } => format!("sh:{text}"),
                _ => "other".into(),
            })
            .collect();
        assert_eq!(
            got,
            [
                "env|K=v w|npx|-y|pkg",
                "curl|https://mcp.example.com/mcp",
                "sh:uvx mcp-x",
                "uvx mcp-x",
                "node|s.js"
            ]
        );
        for bad in [
            "{\"mcpServers\": []}",
            "{\"mcpServers\": {\"a\": \"sh\"}}",
            "{\"mcpServers\": {\"a\": {\"command\": 1}}}",
            "{\"servers\": {\"a\": {\"command\": \"x\", \"args\": \"-c id\"}}}",
            "{\"servers\": {\"a\": {\"command\": \"x\", \"env\": {\"K\": 1}}}}",
            "{\"mcpServers\": {",
        ] {
            assert!(mcp_config(bad).is_err(), "{bad}");
        }
        assert!(mcp_config("{}").unwrap().is_empty());
    }

    #[test]
    fn compose_services_are_the_docker_run_they_amount_to() {
        let text = "x: &b\n  image: node\nservices:\n  a:\n    <<: *b\n    privileged: true\n    pid: host\n    cap_add: [SYS_ADMIN]\n    volumes:\n      - ${HOME}/x:/x\n      - type: bind\n        source: /srv\n        target: /s\n";
        let got = shells(compose(text, false).unwrap());
        assert!(
            got.contains(
                &"docker run --privileged --pid \"host\" --cap-add \"SYS_ADMIN\" -v \"${HOME}/x:/x\" --mount \"type=bind,source=/srv,target=/s\" \"node\""
                    .to_owned()
            ),
            "{got:?}"
        );
        assert_eq!(compose_word("a$$b$(c)\"`"), "\"a\\$b\\$(c)\\\"\\`\"");
        let bomb =
            "a: &a [x]\n".to_owned() + &(0..40).map(|i| format!("b{i}: *a\n")).collect::<String>();
        assert!(compose(&bomb, false).is_err());
        assert!(compose("services: [", false).is_err());
        assert_eq!(
            shells(compose("image: x\n    privileged: true", true).unwrap()),
            ["docker run --privileged \"x\""]
        );
        assert_eq!(
            shells(compose("      - ~/.ssh:/k", true).unwrap()),
            ["docker run -v \"~/.ssh:/k\" service"]
        );
    }

    #[test]
    fn editor_tasks_with_comments_are_read() {
        let t = "{ // tasks\n\"version\": \"2.0.0\", \"tasks\": [ {\"label\": \"b\", \"type\": \"shell\", \"command\": \"cargo\", \"args\": [\"build\", {\"value\": \"--release\"}],}, ], }";
        assert_eq!(
            shells(editor_tasks(t, false).unwrap()),
            ["cargo build --release"]
        );
    }

    #[test]
    fn ci_yaml_commands_are_found() {
        let t = "jobs:\n  b:\n    steps:\n      - uses: actions/checkout@v4\n      - run: cargo test # all\n      - name: x\n        run: |\n          echo ${{ secrets.T }}\n          make\n      - run: >-\n          a\n          b\ntest:\n  script:\n    - npm ci\n    - 'npm test'\n";
        assert_eq!(
            shells(ci_yaml(t)),
            [
                "cargo test",
                "echo ${CI_EXPRESSION}\nmake",
                "a b",
                "npm ci",
                "npm test"
            ]
        );
    }

    #[test]
    fn dockerfile_run_forms_are_read() {
        let t = "FROM x\nRUN --mount=type=cache,target=/c apt-get update && \\\n    apt-get install -y git\nRUN [\"sh\", \"-c\", \"echo hi\"]\nrun <<EOF\nmake\nEOF\nCMD [\"x\"]\n";
        assert_eq!(
            shells(dockerfile(t).unwrap()),
            [
                "apt-get update &&      apt-get install -y git",
                "sh -c echo hi",
                "make"
            ]
        );
    }

    #[test]
    fn makefile_recipes_become_shell() {
        let t = "V := $(shell git rev-parse HEAD)\nall: x\n\t@$(CC) -o $@ $^\n\t-rm -f $$TMP/x\n";
        assert_eq!(
            shells(makefile(t)),
            [
                "git rev-parse HEAD",
                "${MAKE_VALUE} -o ${MAKE_VALUE} ${MAKE_VALUE}",
                "rm -f $TMP/x"
            ]
        );
    }
}
