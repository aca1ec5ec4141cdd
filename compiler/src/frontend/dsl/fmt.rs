//! `crust fmt`: prints a parsed `.crust` file canonically. Every comment is kept: a comment on
//! its own line stays before the item, clause or list element it precedes; a comment after
//! code on the same line stays there. Strings and regexes are printed as written.
//!
//! Layout: one item per paragraph (consecutive `set`s and `disable`s may stay together), rule
//! clauses one per line indented four spaces, a `when` longer than the line width broken
//! before its top-level `or`s (or `and`s), a set list one element per line when it does not
//! fit or holds comments.

use super::ast::{Clause, ClauseKind, Elem, Expr, Item, List, Name, Pred, Subject, Value};
use super::lexer::{self, Tok};
use super::Parsed;

const WIDTH: usize = 100;

/// Formats `text`; `None` when it does not parse (the caller reports the diagnostics).
pub fn format(text: &str) -> Option<String> {
    let mut diags = crate::diag::Diagnostics::default();
    let parsed = super::parse(0, text, &mut diags);
    if diags.has_errors() {
        return None;
    }
    Some(Printer::new(text, &parsed).file(&parsed.items))
}

struct Printer<'a> {
    src: &'a str,
    comments: &'a [(usize, usize, String)],
    /// Index of the first comment not printed yet.
    next: usize,
    out: String,
    /// End offset in the source of the last thing printed.
    last_end: usize,
}

impl<'a> Printer<'a> {
    fn new(src: &'a str, parsed: &'a Parsed) -> Self {
        Printer {
            src,
            comments: &parsed.comments,
            next: 0,
            out: String::new(),
            last_end: 0,
        }
    }

    fn raw(&self, lo: usize, hi: usize) -> &'a str {
        self.src.get(lo..hi).unwrap_or("")
    }

    /// Whether the source has a blank line between two offsets.
    fn blank_between(&self, a: usize, b: usize) -> bool {
        self.raw(a.min(b), b).matches('\n').count() >= 2
    }

    fn same_line(&self, a: usize, b: usize) -> bool {
        !self.raw(a.min(b), b).contains('\n')
    }

    /// Prints the comments that start before `pos`, each on its own line at `indent`.
    fn leading(&mut self, pos: usize, indent: &str) {
        while let Some((lo, hi, text)) = self.comments.get(self.next) {
            if *lo >= pos {
                break;
            }
            if self.blank_between(self.last_end, *lo)
                && !self.out.is_empty()
                && !self.out.ends_with("\n\n")
                && !self.out.ends_with("{\n")
            {
                self.out.push('\n');
            }
            self.out.push_str(indent);
            self.out.push('#');
            self.out.push_str(text.trim_end());
            self.out.push('\n');
            self.last_end = *hi;
            self.next += 1;
        }
    }

    /// Appends a comment that follows `end` on the same source line, then ends the line.
    fn trailing(&mut self, end: usize) {
        self.trailing_before(end, usize::MAX);
    }

    /// As [`Self::trailing`], for a comment that starts before `before`.
    fn trailing_before(&mut self, end: usize, before: usize) {
        if let Some((lo, hi, text)) = self.comments.get(self.next) {
            if *lo >= end && *lo < before && self.same_line(end, *lo) {
                self.out.push_str("  #");
                self.out.push_str(text.trim_end());
                self.last_end = *hi;
                self.next += 1;
            }
        }
        self.out.push('\n');
    }

    fn file(mut self, items: &[Item]) -> String {
        let mut prev: Option<&Item> = None;
        for item in items {
            let start = item.start();
            if let Some(p) = prev {
                let together = matches!(
                    (p, item),
                    (Item::Set(_), Item::Set(_)) | (Item::Disable(_), Item::Disable(_))
                ) && !self.blank_between(self.last_end, start);
                if !together {
                    self.out.push('\n');
                }
            }
            let before = self.next;
            self.leading(start, "");
            // A comment block set apart from the item by a blank line stays apart.
            if self.next > before && self.blank_between(self.last_end, start) {
                self.out.push('\n');
            }
            match item {
                Item::Set(s) => {
                    let head = format!("set {} = ", s.name.text);
                    self.out.push_str(&head);
                    self.list(&s.list, head.len());
                }
                Item::Disable(n) => {
                    self.out.push_str("disable ");
                    self.out.push_str(&name(n));
                    self.last_end = n.hi;
                    self.trailing(n.hi);
                }
                Item::Rule(r) => {
                    let effect = match r.effect {
                        super::ast::Effect::Block => "block",
                        super::ast::Effect::Allow => "allow",
                    };
                    self.out.push_str(&format!("{effect} {} {{", name(&r.name)));
                    self.last_end = r.name.hi;
                    let first = r.clauses.first().map_or(r.end, |c| c.lo);
                    self.trailing_before(r.name.hi, first);
                    for c in &r.clauses {
                        self.clause(c);
                    }
                    self.leading(r.end, "    ");
                    self.out.push('}');
                    self.last_end = r.end;
                    self.trailing(r.end);
                }
            }
            prev = Some(item);
        }
        // Comments after the last item.
        if let Some((lo, _, _)) = self.comments.get(self.next) {
            if !self.out.is_empty() && self.blank_between(self.last_end, *lo) {
                self.out.push('\n');
            }
        }
        self.leading(usize::MAX, "");
        self.out
    }

    fn clause(&mut self, c: &Clause) {
        self.leading(c.lo, "    ");
        // Comments inside the clause (within a condition) move above it.
        while let Some((lo, hi, text)) = self.comments.get(self.next) {
            if *lo >= c.hi {
                break;
            }
            self.out.push_str("    #");
            self.out.push_str(text.trim_end());
            self.out.push('\n');
            self.last_end = *hi;
            self.next += 1;
        }
        let line = match &c.kind {
            ClauseKind::When(e) => {
                let one = format!("    when {}", self.expr(e));
                if one.len() <= WIDTH {
                    one
                } else {
                    self.broken_when(e)
                }
            }
            ClauseKind::Message(m) => format!("    message {}", self.text(m)),
            ClauseKind::Description(m) => format!("    description {}", self.text(m)),
            ClauseKind::Severity(s) => format!("    severity {}", s.text),
            ClauseKind::Locked => "    locked".to_owned(),
        };
        self.out.push_str(&line);
        self.last_end = c.hi;
        self.trailing(c.hi);
    }

    /// A text: its strings as written, one per line after the first.
    fn text(&self, l: &super::ast::Lit) -> String {
        if l.pieces.len() <= 1 {
            return self.raw(l.lo, l.hi).to_owned();
        }
        let parts: Vec<&str> = l.pieces.iter().map(|(a, b)| self.raw(*a, *b)).collect();
        parts.join("\n        ")
    }

    /// A long condition, one top-level operand per line.
    fn broken_when(&self, e: &Expr) -> String {
        let (parts, word) = match e {
            Expr::Or(xs) => (xs, "or"),
            Expr::And(xs) => (xs, "and"),
            other => return format!("    when {}", self.expr(other)),
        };
        let mut s = String::from("    when ");
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                s.push_str(&format!("\n        {word} "));
            }
            s.push_str(&self.expr(p));
        }
        s
    }

    fn expr(&self, e: &Expr) -> String {
        match e {
            Expr::Or(xs) => self.join(xs, " or "),
            Expr::And(xs) => self.join(xs, " and "),
            Expr::Not(x) => format!("not {}", self.expr(x)),
            Expr::Paren(x) => format!("({})", self.expr(x)),
            Expr::Pred(p) => self.pred(p),
        }
    }

    fn join(&self, xs: &[Expr], sep: &str) -> String {
        xs.iter()
            .map(|x| self.expr(x))
            .collect::<Vec<_>>()
            .join(sep)
    }

    fn pred(&self, p: &Pred) -> String {
        let subject = match &p.subject {
            Subject::Field(n) => n.text.clone(),
            Subject::Arg(k) => format!("arg {}", self.raw(k.lo, k.hi)),
        };
        let mut s = format!("{subject} {} {}", p.op.word(), self.value(&p.value));
        if let Some(x) = &p.except {
            s.push_str(" except ");
            s.push_str(&self.value(x));
        }
        s
    }

    fn value(&self, v: &Value) -> String {
        match v {
            Value::One(e) => self.elem(e),
            Value::List(l) => self.inline_list(l),
        }
    }

    fn elem(&self, e: &Elem) -> String {
        match e {
            Elem::Name(n) => n.text.clone(),
            other => self.raw(other.lo(), other.hi()).to_owned(),
        }
    }

    fn inline_list(&self, l: &List) -> String {
        let items: Vec<String> = l.items.iter().map(|e| self.elem(e)).collect();
        format!("[{}]", items.join(", "))
    }

    /// A set's list: inline when it fits and holds no comment, else one element per line.
    fn list(&mut self, l: &List, col: usize) {
        let has_comment = self
            .comments
            .get(self.next)
            .is_some_and(|(lo, _, _)| *lo < l.hi);
        let inline = self.inline_list(l);
        if !has_comment && col + inline.len() <= WIDTH {
            self.out.push_str(&inline);
            self.last_end = l.hi;
            self.trailing(l.hi);
            return;
        }
        self.out.push('[');
        self.last_end = l.lo + 1;
        let first = l.items.first().map_or(l.hi, Elem::lo);
        self.trailing_before(l.lo + 1, first);
        for (i, e) in l.items.iter().enumerate() {
            let next = l.items.get(i + 1).map_or(l.hi, Elem::lo);
            self.leading(e.lo(), "    ");
            let text = self.elem(e);
            self.out.push_str("    ");
            self.out.push_str(&text);
            self.out.push(',');
            // A comment after the element's comma belongs to it.
            let after = self.raw(e.hi(), l.hi);
            let comma = after
                .find(',')
                .filter(|i| !after.get(..*i).unwrap_or("").contains('#'))
                .map_or(e.hi(), |i| e.hi() + i + 1);
            self.last_end = comma;
            self.trailing_before(comma, next);
        }
        self.leading(l.hi.saturating_sub(1), "    ");
        self.out.push(']');
        self.last_end = l.hi;
        self.trailing(l.hi);
    }
}

/// A rule name bare when it is a plain name (not a keyword), quoted otherwise.
fn name(n: &Name) -> String {
    let toks = lexer::tokens(&n.text);
    let bare = matches!(toks.as_slice(), [Ok((0, Tok::Ident(t), end))] if *t == n.text && *end == n.text.len());
    if bare {
        n.text.clone()
    } else {
        format!("\"{}\"", escape(&n.text))
    }
}

fn escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::format;

    #[test]
    fn canonical_layout_keeps_comments() {
        let src = "# top\nset a=[\"x\",\"y\"] # why\nset b = [\"z\"]\n\n\n  block   r1{when path in a   and not(host is \"h\" or tool matches \"t\") # c1\nmessage \"m\" severity high locked}\ndisable r2\n# end\n";
        let want = "# top\nset a = [\"x\", \"y\"]  # why\nset b = [\"z\"]\n\nblock r1 {\n    when path in a and not (host is \"h\" or tool matches \"t\")  # c1\n    message \"m\"\n    severity high\n    locked\n}\n\ndisable r2\n# end\n";
        let got = format(src).unwrap();
        assert_eq!(got, want);
        assert_eq!(format(&got).unwrap(), got, "idempotent");
    }

    #[test]
    fn long_lists_and_conditions_break() {
        let src = "set s = [\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", \"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\", # b\n \"cccccccccccccccccccccccccccccc\"]\nblock r { when path in s and command matches /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/ and host is \"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\" }\n";
        let got = format(src).unwrap();
        assert_eq!(
            got,
            "set s = [\n    \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\n    \"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\",  # b\n    \"cccccccccccccccccccccccccccccc\",\n]\n\nblock r {\n    when path in s\n        and command matches /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/\n        and host is \"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"\n}\n"
        );
        assert_eq!(format(&got).unwrap(), got, "idempotent");
    }

    #[test]
    fn names_are_quoted_only_when_needed() {
        let got = format("block \"plain-name\" { when path in [\"x\"] }\nblock \"block\" { when path in [\"y\"] }\nblock \"a.b:c\" { when path in [\"z\"] }\n").unwrap();
        assert!(got.contains("block plain-name {"), "{got}");
        assert!(got.contains("block \"block\" {"), "{got}");
        assert!(got.contains("block \"a.b:c\" {"), "{got}");
    }

    #[test]
    fn a_file_that_does_not_parse_is_not_formatted() {
        assert_eq!(format("block r { when }"), None);
    }
}
