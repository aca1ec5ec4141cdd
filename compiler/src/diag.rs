//! The one diagnostic type and its renderings: `path:line:col`, the source line, carets under
//! the span, then help. Messages are lower-case; user text goes in backticks.

use crate::source::{SourceMap, Span};
use std::fmt::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub level: Level,
    pub message: String,
    pub span: Option<Span>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(span: impl Into<Option<Span>>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            level: Level::Error,
            message: message.into(),
            span: span.into(),
            help: None,
        }
    }

    pub fn warning(span: impl Into<Option<Span>>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            level: Level::Warning,
            ..Diagnostic::error(span, message)
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Help for an unknown name: "did you mean `x`?" for a near miss among `candidates`,
    /// else the list of them.
    pub fn suggest(self, word: &str, candidates: &[&str]) -> Diagnostic {
        match did_you_mean(word, candidates) {
            Some(m) => self.with_help(format!("did you mean `{m}`?")),
            None => self.with_help(format!("expected one of: {}", candidates.join(", "))),
        }
    }

    /// Human rendering: `error: path:line:col: message`, the line, carets, help.
    pub fn render(&self, sources: &SourceMap) -> String {
        let level = match self.level {
            Level::Error => "error",
            Level::Warning => "warning",
        };
        let mut out = String::new();
        match self.span.and_then(|s| sources.file(s.file).map(|f| (s, f))) {
            Some((span, file)) => {
                let (line, col) = file.line_col(span.start as usize);
                let _ = writeln!(out, "{}:{line}:{col}: {level}: {}", file.path, self.message);
                let text = file.line_text(line);
                let gutter = line.to_string();
                let pad = " ".repeat(gutter.len());
                let _ = writeln!(out, "{pad} |");
                let _ = writeln!(out, "{gutter} | {text}");
                let (end_line, end_col) = file.line_col(span.end as usize);
                let width = if end_line == line && end_col > col {
                    end_col - col
                } else {
                    1
                };
                let _ = writeln!(
                    out,
                    "{pad} | {}{}",
                    " ".repeat(col - 1),
                    "^".repeat(width.min(text.chars().count().saturating_sub(col - 1).max(1)))
                );
            }
            None => {
                let _ = writeln!(out, "{level}: {}", self.message);
            }
        }
        if let Some(help) = &self.help {
            let _ = writeln!(out, "  = help: {help}");
        }
        out
    }

    /// JSON rendering for `--error-format json`.
    pub fn to_json(&self, sources: &SourceMap) -> serde_json::Value {
        let loc = self.span.and_then(|s| {
            sources.file(s.file).map(|f| {
                let (line, column) = f.line_col(s.start as usize);
                serde_json::json!({"file": f.path, "line": line, "column": column})
            })
        });
        serde_json::json!({
            "level": match self.level { Level::Error => "error", Level::Warning => "warning" },
            "message": self.message,
            "location": loc,
            "help": self.help,
        })
    }
}

/// Diagnostics collected across a compilation.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics {
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.level == Level::Error)
    }
    pub fn error_count(&self) -> usize {
        self.items
            .iter()
            .filter(|d| d.level == Level::Error)
            .count()
    }
    /// Sorts by location so output is stable whatever order the checks ran in.
    pub fn sort(&mut self) {
        self.items
            .sort_by(|a, b| (a.span, a.level, &a.message).cmp(&(b.span, b.level, &b.message)));
    }
    pub fn render(&self, sources: &SourceMap) -> String {
        self.items
            .iter()
            .map(|d| d.render(sources) + "\n")
            .collect()
    }
}

/// The closest candidate within a small edit distance, for "did you mean ...?".
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .iter()
        .map(|c| (levenshtein(word, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

/// Edit distance counting a swap of neighbours as one edit (`raed` -> `read` is 1).
fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    let at = |i: usize, j: usize| i * w + j;
    for i in 0..=a.len() {
        for j in 0..=b.len() {
            let v = if i == 0 || j == 0 {
                i.max(j)
            } else {
                let cost = usize::from(a.get(i - 1) != b.get(j - 1));
                let get = |x: usize| d.get(x).copied().unwrap_or(usize::MAX - 1);
                let mut v = (get(at(i - 1, j)) + 1)
                    .min(get(at(i, j - 1)) + 1)
                    .min(get(at(i - 1, j - 1)) + cost);
                if i > 1 && j > 1 && a.get(i - 1) == b.get(j - 2) && a.get(i - 2) == b.get(j - 1) {
                    v = v.min(get(at(i - 2, j - 2)) + 1);
                }
                v
            };
            if let Some(x) = d.get_mut(at(i, j)) {
                *x = v;
            }
        }
    }
    d.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_misses_only() {
        let keys = ["actions", "name", "message"];
        assert_eq!(did_you_mean("action", &keys), Some("actions"));
        assert_eq!(did_you_mean("acions", &keys), Some("actions"));
        assert_eq!(did_you_mean("zzzzzz", &keys), None);
    }
}
