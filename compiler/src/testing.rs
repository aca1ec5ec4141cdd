//! Policy-test tables: tool call in, decision and deciding rule out. One runner serves
//! `crust test` and the cargo test over `policy-tests/*.yaml`.
//!
//! ```yaml
//! policy: ../rules          # files/dirs to compile, or a .bin bundle (relative to this file)
//! home: /home/u             # optional
//! cwd: /home/u/project      # optional
//! cases:
//!   - name: reads the project's .env
//!     tool: Read
//!     args: {file_path: .env}
//!     expect: block         # allow | block
//!     rule: protect-env-files   # block: THE deciding rule; allow: the rule this near-misses
//! ```

use crate::diag::Diagnostic;
use crate::frontend::yaml_tree::{self, Kind, Node};
use crate::source::SourceMap;
use crust_runtime::model::{Decision, ToolCall};
use crust_runtime::Engine;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub const DEFAULT_HOME: &str = "/home/user";
pub const DEFAULT_CWD: &str = "/home/user/project";

/// One case of a table.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub location: String,
    pub tool: String,
    pub args: Value,
    pub cwd: Option<String>,
    pub expect: Decision,
    pub rule: Option<String>,
}

impl Case {
    /// The case's tool call, with the table's home and cwd where the case sets none.
    pub fn call<'a>(&'a self, table: &'a Table) -> ToolCall<'a> {
        ToolCall {
            name: &self.tool,
            args: &self.args,
            cwd: Some(self.cwd.as_deref().unwrap_or(&table.cwd)),
            home: Some(&table.home),
        }
    }
}

/// A parsed table.
#[derive(Debug, Clone)]
pub struct Table {
    pub path: PathBuf,
    pub policy: Vec<PathBuf>,
    pub home: String,
    pub cwd: String,
    pub cases: Vec<Case>,
}

/// The outcome of one case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub case: Case,
    pub passed: bool,
    pub got: Decision,
    pub got_rule: Option<String>,
}

/// Everything a run found, for the report and `--coverage`.
#[derive(Debug, Default)]
pub struct Report {
    pub results: Vec<(PathBuf, CaseResult)>,
    /// Per rule: (cases that block with it, allow cases that name it as their near miss).
    pub coverage: BTreeMap<String, (usize, usize)>,
    pub errors: Vec<String>,
}

impl Report {
    pub fn passed(&self) -> usize {
        self.results.iter().filter(|(_, r)| r.passed).count()
    }
    pub fn failed(&self) -> usize {
        self.results.len() - self.passed() + self.errors.len()
    }
}

/// Parses a table file.
pub fn parse_table(path: &Path) -> Result<Table, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    let mut sources = SourceMap::default();
    let id = sources.add(path.display().to_string(), text.clone());
    let err = |d: Diagnostic, s: &SourceMap| d.render(s);
    let root = yaml_tree::parse(id, &text)
        .map_err(|d| err(d, &sources))?
        .ok_or_else(|| format!("{}: empty table", path.display()))?;
    let Kind::Map(pairs) = &root.kind else {
        return Err(err(
            Diagnostic::error(
                root.span,
                "a table must be a mapping with `policy` and `cases`",
            ),
            &sources,
        ));
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let mut table = Table {
        path: path.to_owned(),
        policy: Vec::new(),
        home: DEFAULT_HOME.into(),
        cwd: DEFAULT_CWD.into(),
        cases: Vec::new(),
    };
    let mut cases_node = None;
    for (k, v) in pairs {
        match k.as_str().unwrap_or("") {
            "policy" => {
                let items: Vec<&Node> = match &v.kind {
                    Kind::Seq(xs) => xs.iter().collect(),
                    _ => vec![v],
                };
                for i in items {
                    let p = i.as_str().ok_or_else(|| {
                        err(
                            Diagnostic::error(i.span, "`policy` entries must be paths"),
                            &sources,
                        )
                    })?;
                    table.policy.push(base.join(p));
                }
            }
            "home" => table.home = scalar(v, "home", &sources)?,
            "cwd" => table.cwd = scalar(v, "cwd", &sources)?,
            "cases" => cases_node = Some(v),
            other => {
                return Err(err(
                    Diagnostic::error(k.span, format!("unknown key `{other}` in table"))
                        .with_help("expected one of: policy, home, cwd, cases"),
                    &sources,
                ))
            }
        }
    }
    if table.policy.is_empty() {
        return Err(err(
            Diagnostic::error(root.span, "table has no `policy`"),
            &sources,
        ));
    }
    let Some(Node {
        kind: Kind::Seq(cases),
        ..
    }) = cases_node
    else {
        return Err(err(
            Diagnostic::error(root.span, "table has no `cases` list"),
            &sources,
        ));
    };
    for c in cases {
        table.cases.push(parse_case(c, &sources)?);
    }
    Ok(table)
}

fn scalar(v: &Node, key: &str, sources: &SourceMap) -> Result<String, String> {
    v.as_str().map(str::to_owned).ok_or_else(|| {
        Diagnostic::error(v.span, format!("`{key}` must be a string")).render(sources)
    })
}

fn parse_case(node: &Node, sources: &SourceMap) -> Result<Case, String> {
    let Kind::Map(pairs) = &node.kind else {
        return Err(Diagnostic::error(node.span, "a case must be a mapping").render(sources));
    };
    let loc = sources.location(node.span);
    let (mut name, mut tool, mut args, mut cwd, mut expect, mut rule) =
        (None, None, None, None, None, None);
    for (k, v) in pairs {
        match k.as_str().unwrap_or("") {
            "name" => name = Some(scalar(v, "name", sources)?),
            "tool" => tool = Some(scalar(v, "tool", sources)?),
            "args" => args = Some(to_json(v)),
            "cwd" => cwd = Some(scalar(v, "cwd", sources)?),
            "rule" => rule = Some(scalar(v, "rule", sources)?),
            "expect" => {
                expect = Some(match v.as_str() {
                    Some("allow") => Decision::Allow,
                    Some("block") => Decision::Block,
                    _ => {
                        return Err(Diagnostic::error(
                            v.span,
                            "`expect` must be `allow` or `block`",
                        )
                        .render(sources))
                    }
                })
            }
            other => {
                return Err(
                    Diagnostic::error(k.span, format!("unknown key `{other}` in case"))
                        .with_help("expected one of: name, tool, args, cwd, expect, rule")
                        .render(sources),
                )
            }
        }
    }
    let missing =
        |what: &str| Diagnostic::error(node.span, format!("case has no `{what}`")).render(sources);
    Ok(Case {
        name: name.ok_or_else(|| missing("name"))?,
        location: loc,
        tool: tool.ok_or_else(|| missing("tool"))?,
        args: args.unwrap_or(Value::Object(Default::default())),
        cwd,
        expect: expect.ok_or_else(|| missing("expect"))?,
        rule,
    })
}

/// A YAML node as JSON: quoted scalars are strings; plain ones may be numbers, booleans, null.
pub fn to_json(n: &Node) -> Value {
    match &n.kind {
        Kind::Scalar(s, quoted) => {
            if *quoted {
                return Value::String(s.clone());
            }
            match s.as_str() {
                "" | "~" | "null" => Value::Null,
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => serde_json::from_str::<serde_json::Number>(s)
                    .map(Value::Number)
                    .unwrap_or_else(|_| Value::String(s.clone())),
            }
        }
        Kind::Seq(xs) => Value::Array(xs.iter().map(to_json).collect()),
        Kind::Map(pairs) => Value::Object(
            pairs
                .iter()
                .map(|(k, v)| (k.as_str().unwrap_or("").to_owned(), to_json(v)))
                .collect(),
        ),
    }
}

/// Loads the table's policy: a `.bin` bundle, or rule sources compiled in memory.
pub fn load_policy(paths: &[PathBuf]) -> Result<Engine, String> {
    if let [single] = paths {
        if single.extension().and_then(|e| e.to_str()) == Some("bin") {
            return Engine::load(single).map_err(|e| e.to_string());
        }
    }
    let compiled = crate::compile_paths(paths).map_err(|e| match e {
        Ok(ce) => ce.render(),
        Err(usage) => usage,
    })?;
    Engine::from_bytes(&compiled.bytes).map_err(|e| e.to_string())
}

/// Runs every case of a table against `bundle`.
pub fn run_table(table: &Table, bundle: &Engine, report: &mut Report) {
    let names: BTreeSet<&str> = bundle
        .meta()
        .rules
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    // Coverage tracks block rules: each needs a case it blocks and a near miss it allows.
    for r in bundle
        .meta()
        .rules
        .iter()
        .filter(|r| r.effect == crust_runtime::Effect::Block)
    {
        report.coverage.entry(r.name.clone()).or_default();
    }
    for case in &table.cases {
        let v = bundle.evaluate(&case.call(table));
        let got_rule = v.rule.as_deref().map(str::to_owned);
        let passed = v.decision == case.expect
            && match case.expect {
                Decision::Block => case.rule.is_none() || case.rule == got_rule,
                Decision::Allow => case.rule.as_deref().is_none_or(|r| names.contains(r)),
            };
        if passed {
            if let Some(e) = case.rule.as_ref().and_then(|r| report.coverage.get_mut(r)) {
                match case.expect {
                    Decision::Block => e.0 += 1,
                    Decision::Allow => e.1 += 1,
                }
            }
        }
        report.results.push((
            table.path.clone(),
            CaseResult {
                case: case.clone(),
                passed,
                got: v.decision,
                got_rule,
            },
        ));
    }
}

/// Runs table files (directories: every `*.yaml` inside), compiling each distinct policy once.
pub fn run_paths(paths: &[PathBuf]) -> Report {
    let mut report = Report::default();
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut fs: Vec<PathBuf> = std::fs::read_dir(p)
                .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
                .unwrap_or_default();
            fs.retain(|f| matches!(f.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")));
            fs.sort();
            files.extend(fs);
        } else {
            files.push(p.clone());
        }
    }
    let mut cache: BTreeMap<Vec<PathBuf>, Result<Engine, String>> = BTreeMap::new();
    for f in files {
        let table = match parse_table(&f) {
            Ok(t) => t,
            Err(e) => {
                report.errors.push(e);
                continue;
            }
        };
        let key: Vec<PathBuf> = table
            .policy
            .iter()
            .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()))
            .collect();
        let bundle = cache
            .entry(key)
            .or_insert_with(|| load_policy(&table.policy));
        match bundle {
            Ok(b) => run_table(&table, b, &mut report),
            Err(e) => report
                .errors
                .push(format!("{}: cannot load policy: {e}", f.display())),
        }
    }
    report
}

/// Renders the report like `cargo test`: one line per case, then `N passed, N failed`.
pub fn render(report: &Report, coverage: bool) -> String {
    let mut out = String::new();
    for (_, r) in &report.results {
        let c = &r.case;
        if r.passed {
            out.push_str(&format!("ok      {}  {}\n", c.location, c.name));
        } else {
            let want = match (&c.expect, &c.rule) {
                (Decision::Block, Some(rule)) => format!("block by `{rule}`"),
                (d, Some(rule)) => {
                    format!("{} (near miss of `{rule}`, which must exist)", d.name())
                }
                (d, None) => d.name().to_owned(),
            };
            let got = match &r.got_rule {
                Some(rule) => format!("{} by `{rule}`", r.got.name()),
                None => r.got.name().to_owned(),
            };
            out.push_str(&format!(
                "FAILED  {}  {}: expected {want}, got {got}\n",
                c.location, c.name
            ));
        }
    }
    for e in &report.errors {
        out.push_str(&format!("ERROR   {}\n", e.trim_end()));
    }
    if coverage {
        let no_block: Vec<&str> = report
            .coverage
            .iter()
            .filter(|(_, c)| c.0 == 0)
            .map(|(r, _)| r.as_str())
            .collect();
        let no_allow: Vec<&str> = report
            .coverage
            .iter()
            .filter(|(_, c)| c.1 == 0)
            .map(|(r, _)| r.as_str())
            .collect();
        out.push_str(&format!("\ncoverage: {} rules\n", report.coverage.len()));
        out.push_str(&format!(
            "rules that no case blocks ({}): {}\n",
            no_block.len(),
            list(&no_block)
        ));
        out.push_str(&format!(
            "rules with no near-miss allow case ({}): {}\n",
            no_allow.len(),
            list(&no_allow)
        ));
    }
    out.push_str(&format!(
        "{} passed, {} failed\n",
        report.passed(),
        report.failed()
    ));
    out
}

fn list(xs: &[&str]) -> String {
    if xs.is_empty() {
        "none".into()
    } else {
        xs.join(", ")
    }
}
