//! The `.crust` syntax tree, as the grammar builds it. Offsets are byte positions in the file;
//! lowering turns them into spans.

/// A top-level item.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Set(SetDecl),
    Rule(RuleDecl),
    Disable(Name),
}

impl Item {
    pub fn start(&self) -> usize {
        match self {
            Item::Set(s) => s.start,
            Item::Rule(r) => r.start,
            Item::Disable(n) => n.lo,
        }
    }
}

/// `set name = [ ... ]`
#[derive(Debug, Clone, PartialEq)]
pub struct SetDecl {
    pub start: usize,
    pub name: Name,
    pub list: List,
}

/// A rule or set name; `quoted` when written as a string.
#[derive(Debug, Clone, PartialEq)]
pub struct Name {
    pub text: String,
    pub quoted: bool,
    pub lo: usize,
    pub hi: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Block,
    Allow,
}

/// `block name { clauses }`
#[derive(Debug, Clone, PartialEq)]
pub struct RuleDecl {
    pub start: usize,
    pub end: usize,
    pub effect: Effect,
    pub name: Name,
    pub clauses: Vec<Clause>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    pub lo: usize,
    pub hi: usize,
    pub kind: ClauseKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ClauseKind {
    When(Expr),
    Message(Lit),
    Description(Lit),
    Severity(Name),
    Locked,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    /// A parenthesized expression, kept so `crust fmt` prints what was written.
    Paren(Box<Expr>),
    Pred(Box<Pred>),
}

/// `subject op value [except value]`
#[derive(Debug, Clone, PartialEq)]
pub struct Pred {
    pub lo: usize,
    pub hi: usize,
    pub subject: Subject,
    pub op: Op,
    pub op_lo: usize,
    pub value: Value,
    pub except: Option<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Subject {
    /// `path`, `action`, ... (checked when lowering, so a misspelling gets "did you mean").
    Field(Name),
    /// `arg "key"`
    Arg(Lit),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Is,
    In,
    Matches,
    Contains,
}

impl Op {
    pub fn word(self) -> &'static str {
        match self {
            Op::Is => "is",
            Op::In => "in",
            Op::Matches => "matches",
            Op::Contains => "contains",
        }
    }
}

/// The right-hand side of a predicate.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    One(Elem),
    List(List),
}

#[derive(Debug, Clone, PartialEq)]
pub struct List {
    pub lo: usize,
    pub hi: usize,
    pub items: Vec<Elem>,
}

/// One list element or single value: a string, a regex, or a name (a set, an action).
#[derive(Debug, Clone, PartialEq)]
pub enum Elem {
    Str(Lit),
    Regex(Lit),
    Name(Name),
}

impl Elem {
    pub fn lo(&self) -> usize {
        match self {
            Elem::Str(l) | Elem::Regex(l) => l.lo,
            Elem::Name(n) => n.lo,
        }
    }
    pub fn hi(&self) -> usize {
        match self {
            Elem::Str(l) | Elem::Regex(l) => l.hi,
            Elem::Name(n) => n.hi,
        }
    }
}

/// A string or regex literal: its value and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Lit {
    pub value: String,
    pub lo: usize,
    pub hi: usize,
    /// For a text of adjacent strings (`message "a" "b"`): where each was written.
    pub pieces: Vec<(usize, usize)>,
}

impl Lit {
    /// Adjacent strings as one text.
    pub fn join(parts: Vec<Lit>) -> Lit {
        let lo = parts.first().map_or(0, |p| p.lo);
        let hi = parts.last().map_or(lo, |p| p.hi);
        Lit {
            value: parts.iter().map(|p| p.value.as_str()).collect(),
            lo,
            hi,
            pieces: parts.iter().map(|p| (p.lo, p.hi)).collect(),
        }
    }
}
