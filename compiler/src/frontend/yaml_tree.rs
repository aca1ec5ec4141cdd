//! A YAML document as a tree of spanned nodes, built from the parser's marked events, so every
//! key and value can be pointed at in a diagnostic.

use crate::diag::Diagnostic;
use crate::source::Span;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

#[derive(Debug, Clone)]
pub enum Kind {
    /// A scalar and whether it was quoted (quoted scalars are always strings).
    Scalar(String, bool),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone)]
pub struct Node {
    pub kind: Kind,
    pub span: Span,
}

impl Node {
    /// The scalar's text, if this is a scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar(s, _) => Some(s),
            _ => None,
        }
    }
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar(s, false) if s.is_empty() || s == "~" || s == "null")
    }
    pub fn as_bool(&self) -> Option<bool> {
        match &self.kind {
            Kind::Scalar(s, false) if s == "true" => Some(true),
            Kind::Scalar(s, false) if s == "false" => Some(false),
            _ => None,
        }
    }
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            Kind::Scalar(..) if self.is_null() => "null",
            Kind::Scalar(..) => "a scalar",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }
}

enum Frame {
    Seq(Vec<Node>, usize, usize),
    Map(Vec<(Node, Node)>, Option<Node>, usize, usize),
}

/// yaml-rust2 columns start at this number.
const COL_BASE: usize = 0;

struct Builder<'s> {
    file: u32,
    line_starts: Vec<usize>,
    text: &'s str,
    stack: Vec<Frame>,
    docs: Vec<Node>,
    anchors: Vec<(usize, Node)>,
    error: Option<Diagnostic>,
}

impl Builder<'_> {
    /// Markers give line and column in characters; spans are bytes.
    fn byte_of(&self, m: &Marker) -> usize {
        let start = self
            .line_starts
            .get(m.line().saturating_sub(1))
            .copied()
            .unwrap_or(self.text.len());
        let line = self.text.get(start..).unwrap_or("");
        start
            + line
                .char_indices()
                .nth(m.col().saturating_sub(COL_BASE))
                .map_or(line.len(), |(b, _)| b)
    }

    fn finish(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.push((anchor, node.clone()));
        }
        match self.stack.last_mut() {
            Some(Frame::Seq(items, _, _)) => items.push(node),
            Some(Frame::Map(pairs, key, _, _)) => match key.take() {
                Some(k) => pairs.push((k, node)),
                None => *key = Some(node),
            },
            None => self.docs.push(node),
        }
    }
}

impl MarkedEventReceiver for Builder<'_> {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let at = self.byte_of(&mark);
        match ev {
            Event::Scalar(s, style, anchor, _tag) => {
                let quoted = !matches!(style, TScalarStyle::Plain);
                let end = if quoted || s.is_empty() {
                    scalar_end(self.text, at, quoted)
                } else {
                    at + s.len().min(self.text.len().saturating_sub(at))
                };
                let node = Node {
                    kind: Kind::Scalar(s, quoted),
                    span: Span::new(self.file, at, end),
                };
                self.finish(node, anchor);
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Frame::Seq(Vec::new(), at, anchor)),
            Event::MappingStart(anchor, _) => {
                self.stack.push(Frame::Map(Vec::new(), None, at, anchor))
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (kind, start, anchor) = match self.stack.pop() {
                    Some(Frame::Seq(items, start, a)) => (Kind::Seq(items), start, a),
                    Some(Frame::Map(pairs, _, start, a)) => (Kind::Map(pairs), start, a),
                    None => return,
                };
                let node = Node {
                    kind,
                    span: Span::new(self.file, start, start + 1),
                };
                self.finish(node, anchor);
            }
            Event::Alias(id) => match self.anchors.iter().rev().find(|(a, _)| *a == id) {
                Some((_, n)) => {
                    let n = n.clone();
                    self.finish(n, 0);
                }
                None => {
                    if self.error.is_none() {
                        self.error = Some(Diagnostic::error(
                            Span::new(self.file, at, at + 1),
                            "alias refers to an unknown anchor",
                        ));
                    }
                }
            },
            _ => {}
        }
    }
}

/// The end of a quoted scalar starting at `at` (to underline all of it).
fn scalar_end(text: &str, at: usize, quoted: bool) -> usize {
    let rest = text.get(at..).unwrap_or("");
    if !quoted {
        return at + rest.find(['\n', '#']).unwrap_or(rest.len()).min(1);
    }
    let q = rest.chars().next().unwrap_or('"');
    if q != '"' && q != '\'' {
        return at + rest.find('\n').unwrap_or(rest.len());
    }
    let mut escaped = false;
    for (i, c) in rest.char_indices().skip(1) {
        if c == '\\' && q == '"' && !escaped {
            escaped = true;
            continue;
        }
        if c == q && !escaped {
            return at + i + 1;
        }
        if c == '\n' {
            return at + i;
        }
        escaped = false;
    }
    at + rest.len()
}

/// Parses one YAML document. An empty file is an empty mapping.
pub fn parse(file: u32, text: &str) -> Result<Option<Node>, Diagnostic> {
    let mut line_starts = vec![0];
    line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
    let mut b = Builder {
        file,
        line_starts,
        text,
        stack: Vec::new(),
        docs: Vec::new(),
        anchors: Vec::new(),
        error: None,
    };
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut b, true) {
        let at = b.byte_of(e.marker());
        let info = e.info().to_owned();
        return Err(Diagnostic::error(
            Span::new(file, at, at + 1),
            format!("invalid YAML: {info}"),
        ));
    }
    if let Some(e) = b.error {
        return Err(e);
    }
    if b.docs.len() > 1 {
        let span = b.docs.get(1).map(|d| d.span);
        return Err(Diagnostic::error(
            span,
            "a rule file holds one YAML document",
        ));
    }
    Ok(b.docs.pop())
}
