//! The compiled automata agree with globset (paths) and the regex crate (commands) on
//! generated inputs: the partitioning, reverse scans and gates must not change a single answer.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use crust_compiler::frontend::yaml;
use crust_compiler::ir::{Cond, PatternKind, Policy};
use crust_compiler::lower::pattern::anchor_path_glob;
use crust_compiler::{compile_sources, diag::Diagnostics, source::SourceMap};
use crust_runtime::{Engine, ToolCall};
use std::collections::BTreeSet;

const HOME: &str = "/home/u";

type Oracle = Box<dyn Fn(&str) -> bool>;

struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

fn builtin_path_globs() -> Vec<String> {
    let mut policy = Policy::default();
    let mut sources = SourceMap::default();
    let mut diags = Diagnostics::default();
    for (p, t) in crust_compiler::builtin_sources() {
        let id = sources.add(p, t.clone());
        yaml::load(id, &t, &mut policy, &mut diags);
    }
    fn walk(c: &Cond, out: &mut BTreeSet<String>) {
        match c {
            Cond::All(cs) | Cond::Any(cs) => cs.iter().for_each(|x| walk(x, out)),
            Cond::Not(x) => walk(x, out),
            Cond::Action(..) => {}
            Cond::Field(f) => {
                for p in f.include.iter().chain(&f.exclude) {
                    if p.kind == PatternKind::Glob && f.field == crust_runtime::Field::Path {
                        out.insert(p.text.clone());
                    }
                }
            }
        }
    }
    let mut set = BTreeSet::new();
    for r in &policy.rules {
        walk(&r.cond, &mut set);
    }
    set.into_iter().collect()
}

fn one_rule_per_pattern(field: &str, pats: &[String]) -> Engine {
    let mut y = String::from("rules:\n");
    for (i, p) in pats.iter().enumerate() {
        y.push_str(&format!(
            "  - name: r{i}\n    match: {{{field}: {}}}\n",
            serde_json::to_string(p).unwrap()
        ));
    }
    // The built-in tool and command tables, so `Read` and `Bash` mean what they mean.
    let mut sources: Vec<(String, String)> = crust_compiler::builtin_sources()
        .into_iter()
        .filter(|(p, _)| p.starts_with("rules/tools") || p.starts_with("rules/commands"))
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect();
    sources.push(("diff.yaml".into(), y));
    let c = compile_sources(sources).map_err(|e| e.render()).unwrap();
    Engine::from_bytes(&c.bytes).unwrap()
}

fn matched(b: &Engine, tool: &str, args: serde_json::Value) -> BTreeSet<usize> {
    let ex = b.explain(&ToolCall {
        name: tool,
        args: &args,
        cwd: Some("/"),
        home: Some(HOME),
    });
    ex.matches
        .iter()
        .map(|m| m.rule[1..].parse().unwrap())
        .collect()
}

#[test]
fn path_automata_agree_with_globset() {
    let mut globs = builtin_path_globs();
    globs.extend(
        [
            "**/node_modules/**/*.pem",
            "/proc/*/environ",
            "**/.secrets/**",
            "/var/**/x?.log",
            "**/*.{key,pem}",
            "~/.config/**/token*",
            "**/[!a-c]*.db",
        ]
        .map(String::from),
    );
    let bundle = one_rule_per_pattern("path", &globs);
    let matchers: Vec<globset::GlobMatcher> = globs
        .iter()
        .map(|g| {
            let (anchored, home) = anchor_path_glob(g).unwrap();
            let text = if home {
                anchored.replacen('~', HOME, 1)
            } else {
                anchored
            };
            globset::GlobBuilder::new(&text)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .unwrap()
                .compile_matcher()
        })
        .collect();
    let roots = [
        "/home/u",
        "/etc",
        "/root",
        "/srv/app",
        "/var/spool",
        "/proc/12",
        "/Library",
        "/home/u/Library",
    ];
    let segs = [
        ".ssh",
        "id_rsa",
        "id_rsa.pub",
        ".env",
        ".env.example",
        ".env.local",
        ".git",
        "hooks",
        "pre-commit",
        "config",
        ".aws",
        "credentials",
        "a",
        "b.txt",
        "systemd",
        "system",
        "x.service",
        ".config",
        "gcloud",
        "cron.d",
        "node_modules",
        "k.pem",
        ".secrets",
        "token1",
        "environ",
        "LaunchAgents",
        "user",
        "z.db",
        "e.db",
        "known_hosts",
        ".gnupg",
        "private-keys-v1.d",
        "gh",
        "hosts.yml",
        "xa.log",
        "terraform.tfstate",
        ".bashrc",
        ".mcp.json",
    ];
    let mut rng = Lcg(7);
    let mut checked = 0;
    let mut with_match = 0;
    for _ in 0..6000 {
        let mut p = roots[rng.next(roots.len())].to_string();
        for _ in 0..1 + rng.next(5) {
            p.push('/');
            p.push_str(segs[rng.next(segs.len())]);
        }
        let want: BTreeSet<usize> = matchers
            .iter()
            .enumerate()
            .filter(|(_, m)| m.is_match(&p))
            .map(|(i, _)| i)
            .collect();
        let got = matched(&bundle, "Read", serde_json::json!({"file_path": p}));
        assert_eq!(got, want, "path {p}: automata {got:?}, globset {want:?}");
        checked += 1;
        with_match += usize::from(!want.is_empty());
    }
    assert!(
        with_match > 500,
        "generator too weak: {with_match} of {checked} matched"
    );
}

#[test]
fn command_automata_agree_with_regex() {
    let pats: Vec<String> = [
        r"re:(?i)(^|[;&|(`\s])crontab\s+(-r\b|-\s*$|-\s*[;&|]|[^-\s])",
        r"re:(?i)\|\s*crontab\b",
        r"re:\bcurl\b.*\s(-d|--data|-T|--upload-file)\s+@",
        r"re:/dev/tcp/|\bnc\b.*\s-e\s",
        r"re:\bchmod\b\s+(-R\s+)?(777|666|a\+w|o\+w)",
        r"re:base64\s+(-d|--decode).*\|\s*(sh|bash)\b",
        "mkfs",
        "RM -RF /",
    ]
    .map(String::from)
    .to_vec();
    let bundle = one_rule_per_pattern("command", &pats);
    let oracles: Vec<Oracle> = pats
        .iter()
        .map(|p| -> Oracle {
            match p.strip_prefix("re:") {
                Some(re) => {
                    let r = regex::bytes::RegexBuilder::new(re)
                        .unicode(false)
                        .dot_matches_new_line(true)
                        .build()
                        .unwrap();
                    Box::new(move |s: &str| r.is_match(s.as_bytes()))
                }
                None => {
                    let lit = p.to_ascii_lowercase();
                    Box::new(move |s: &str| s.to_ascii_lowercase().contains(&lit))
                }
            }
        })
        .collect();
    let words = [
        "crontab",
        "-r",
        "-l",
        "-",
        "/tmp/x",
        "curl",
        "-d",
        "@f",
        "-T",
        "https://x.io",
        "nc",
        "-e",
        "/bin/sh",
        "|",
        ";",
        "chmod",
        "-R",
        "777",
        "a+w",
        "base64",
        "--decode",
        "sh",
        "bash",
        "mkfs.ext4",
        "rm",
        "-rf",
        "/",
        "/dev/tcp/1.2.3.4/80",
        "echo",
        "x",
        "CRONTAB",
        "Curl",
        "&&",
    ];
    let mut rng = Lcg(11);
    let mut hits = 0;
    for _ in 0..6000 {
        let n = 1 + rng.next(7);
        let cmd: Vec<&str> = (0..n).map(|_| words[rng.next(words.len())]).collect();
        let cmd = cmd.join(" ");
        let want: BTreeSet<usize> = oracles
            .iter()
            .enumerate()
            .filter(|(_, f)| f(&cmd))
            .map(|(i, _)| i)
            .collect();
        // Token soup may not be valid shell (`| x`): those are blocked as unparseable, and
        // only the commands the parser accepts are compared, on the raw command field.
        let args = serde_json::json!({"command": cmd});
        let call = crust_runtime::ToolCall {
            name: "Bash",
            args: &args,
            cwd: None,
            home: None,
        };
        if bundle.evaluate(&call).rule.as_deref() == Some(crust_runtime::model::MALFORMED_RULE) {
            continue;
        }
        let got = matched(&bundle, "Bash", args);
        assert_eq!(got, want, "command {cmd:?}");
        hits += usize::from(!want.is_empty());
    }
    assert!(hits > 300, "generator too weak: {hits}");
}
