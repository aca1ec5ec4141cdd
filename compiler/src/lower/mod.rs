//! IR to bundle contents: rule order, condition programs, predicate and pattern tables, and
//! the automata, partitioned by shape under size limits.

pub mod automata;
pub mod pattern;

use crate::diag::{Diagnostic, Diagnostics};
use crate::ir::{Cond, Policy, Rule};
use crate::source::Span;
use crust_runtime::bundle::format::SectionKind;
use crust_runtime::bundle::meta::{
    CondOp, FieldMeta, Form, GroupMeta, Meta, PatternMeta, PredHit, PredMeta, RuleMeta, Scan,
};
use crust_runtime::model::{Effect, Field};
use pattern::{Lowered, Shape};
use std::collections::BTreeMap;

/// Total bytes of dense automata before the largest ones are stored sparse instead. Dense is
/// the faster form to load as well as to walk (validating a sparse automaton checks each
/// transition against a set of state ids, about 25 times the cost per byte), so the budget
/// only bounds the file's size.
pub const DENSE_BUDGET: usize = 16 << 20;

/// Patterns per inner-`**` group (each adds an independent bit of DFA state).
const INNER_GROUP: usize = 4;

/// One automaton section, serialized.
pub struct AutomatonSection {
    pub kind: SectionKind,
    pub bytes: Vec<u8>,
}

/// What `--stats` reports about one automaton.
#[derive(Debug, Clone)]
pub struct GroupStats {
    pub field: Field,
    pub shape: Shape,
    pub form: Form,
    pub patterns: usize,
    pub dense_bytes: usize,
    pub stored_bytes: usize,
    pub sparse: bool,
    pub gated: bool,
}

/// The lowered policy.
pub struct LoweredPolicy {
    pub meta: Meta,
    pub automata: Vec<AutomatonSection>,
    pub groups: Vec<GroupStats>,
    pub disabled: Vec<String>,
}

/// Reports every pattern that cannot be lowered (bad glob or regex), without building automata,
/// so these errors appear beside the front-end's.
pub fn validate_patterns(policy: &Policy, diags: &mut Diagnostics) {
    fn walk(c: &Cond, diags: &mut Diagnostics) {
        match c {
            Cond::All(cs) | Cond::Any(cs) => cs.iter().for_each(|x| walk(x, diags)),
            Cond::Not(x) => walk(x, diags),
            Cond::Action(..) => {}
            Cond::Field(fp) => {
                for p in fp.include.iter().chain(&fp.exclude) {
                    if let Err(msg) = pattern::lower(fp.field, p) {
                        diags.push(Diagnostic::error(p.span, msg));
                    }
                }
            }
        }
    }
    for r in &policy.rules {
        walk(&r.cond, diags);
    }
}

/// Lowers a checked policy. Pattern errors are reported into `diags`.
pub fn lower(
    policy: &Policy,
    source_hash: u64,
    origin: &dyn Fn(Span) -> String,
    diags: &mut Diagnostics,
) -> Option<LoweredPolicy> {
    let disabled_names: Vec<&str> = policy.disables.iter().map(|d| d.name.as_str()).collect();
    let mut rules: Vec<&Rule> = Vec::new();
    let mut disabled = Vec::new();
    for r in &policy.rules {
        if !r.enabled || disabled_names.contains(&r.name.as_str()) {
            disabled.push(r.name.clone());
        } else {
            rules.push(r);
        }
    }
    // Precedence order: locked blocks, then unlocked blocks, then allows; by severity; then by
    // declaration. The engine picks the lowest index among the blocking rules.
    rules.sort_by_key(|r| {
        (
            r.effect == Effect::Allow,
            !r.locked,
            r.severity,
            r.span.file,
            r.span.start,
        )
    });

    let mut preds: Vec<PredMeta> = Vec::new();
    let mut fields: Vec<FieldTable> = Field::ALL.iter().map(|_| FieldTable::default()).collect();
    let mut rule_metas = Vec::new();
    let mut always = Vec::new();
    for (ri, r) in rules.iter().enumerate() {
        let ri = ri as u32;
        let mut prog = Vec::new();
        let mut actions = r.actions;
        let cond = r.cond.clone().hoist_actions(&mut actions);
        emit(&cond, ri, &mut prog, &mut preds, &mut fields);
        if cond.holds_without_hits() {
            always.push(ri);
        }
        rule_metas.push(RuleMeta {
            name: r.name.clone(),
            message: r.message.clone(),
            severity: r.severity,
            effect: r.effect,
            locked: r.locked,
            actions,
            cond: prog,
            origin: origin(r.span),
        });
    }

    let mut automata = Vec::new();
    let mut stats = Vec::new();
    let mut field_metas = Vec::new();
    let mut pending: Vec<(usize, usize, DenseDfa)> = Vec::new();
    for (fi, table) in fields.iter().enumerate() {
        let field = Field::ALL.get(fi).copied().unwrap_or(Field::Path);
        let mut lowered: Vec<Option<Lowered>> = Vec::new();
        for (key, span) in table.keys.iter().zip(&table.spans) {
            let pat = crate::ir::Pattern {
                kind: key.0,
                text: key.1.clone(),
                source: key.2.clone(),
                span: *span,
            };
            match pattern::lower(field, &pat) {
                Ok(l) => lowered.push(Some(l)),
                Err(msg) => {
                    diags.push(Diagnostic::error(*span, msg));
                    lowered.push(None);
                }
            }
        }
        // Partition by (shape, form); BTreeMap keeps the order deterministic.
        let mut parts: BTreeMap<(Shape, u8), Vec<usize>> = BTreeMap::new();
        for (i, l) in lowered.iter().enumerate() {
            let Some(l) = l else { continue };
            // Prefix and suffix groups hold both forms: `~/` and `/` patterns never collide.
            let form_key = match l.shape {
                Shape::Prefix | Shape::Suffix => 0,
                _ => form_code(l.form),
            };
            parts.entry((l.shape, form_key)).or_default().push(i);
        }
        let regexes: Vec<String> = lowered
            .iter()
            .map(|l| l.as_ref().map(|l| l.regex.clone()).unwrap_or_default())
            .collect();
        let mut groups = Vec::new();
        for ((shape, _), members) in parts {
            let max = match shape {
                Shape::Prefix | Shape::Suffix => usize::MAX,
                Shape::Inner => INNER_GROUP,
                Shape::Search => 1,
            };
            let built = match automata::build_groups(&regexes, members, shape, max) {
                Ok(b) => b,
                Err(f) => {
                    let span = table.spans.get(f.member).copied();
                    diags.push(Diagnostic::error(span, f.message));
                    continue;
                }
            };
            for b in built {
                let forms: Vec<Form> = b
                    .members
                    .iter()
                    .filter_map(|&m| lowered.get(m).and_then(|l| l.as_ref()).map(|l| l.form))
                    .collect();
                let form = merge_forms(&forms);
                let gates: Vec<&Vec<Vec<u8>>> = b
                    .members
                    .iter()
                    .filter_map(|&m| lowered.get(m).and_then(|l| l.as_ref()).map(|l| &l.gate))
                    .collect();
                let gate = if matches!(shape, Shape::Inner | Shape::Search)
                    && gates.iter().all(|g| !g.is_empty())
                {
                    let mut all: Vec<Vec<u8>> = gates.into_iter().flatten().cloned().collect();
                    all.sort();
                    all.dedup();
                    all
                } else {
                    Vec::new()
                };
                let scan = match shape {
                    Shape::Suffix => Scan::WholeReverse,
                    Shape::Search => Scan::Search,
                    _ => Scan::WholeForward,
                };
                let dense_bytes = b.dfa.memory_usage();
                pending.push((fi, groups.len(), b.dfa));
                stats.push(GroupStats {
                    field,
                    shape,
                    form,
                    patterns: b.members.len(),
                    dense_bytes,
                    stored_bytes: 0,
                    sparse: false,
                    gated: !gate.is_empty(),
                });
                groups.push(GroupMeta {
                    section: 0,
                    scan,
                    form,
                    patterns: b.members.iter().map(|&m| m as u32).collect(),
                    gate,
                });
            }
        }
        field_metas.push(FieldMeta {
            patterns: table
                .hits
                .iter()
                .zip(&table.keys)
                .map(|(hits, key)| PatternMeta {
                    source: key.2.clone(),
                    hits: hits.clone(),
                    key: key.3.clone(),
                })
                .collect(),
            groups,
        });
    }
    if diags.has_errors() {
        return None;
    }

    // Dense within the budget; the largest automata go sparse first, the path automata last:
    // every path and every glob walks them (a glob's walk visits most of their states, and a
    // sparse transition costs several dense ones).
    let mut order: Vec<usize> = (0..pending.len()).collect();
    order.sort_by_key(|&i| {
        let (path, bytes) = stats
            .get(i)
            .map_or((false, 0), |s| (s.field == Field::Path, s.dense_bytes));
        (path, std::cmp::Reverse((bytes, usize::MAX - i)))
    });
    let mut total: usize = stats.iter().map(|s| s.dense_bytes).sum();
    let mut sparse = vec![false; pending.len()];
    for i in order {
        if total <= DENSE_BUDGET {
            break;
        }
        if let (Some(sp), Some(st)) = (sparse.get_mut(i), stats.get(i)) {
            *sp = true;
            total -= st.dense_bytes;
        }
    }
    for (i, (fi, gi, dfa)) in pending.into_iter().enumerate() {
        let make_sparse = sparse.get(i).copied().unwrap_or(false);
        let (kind, bytes) = if make_sparse {
            match dfa.to_sparse() {
                Ok(s) => (SectionKind::SparseDfa, s.to_bytes_little_endian()),
                Err(e) => {
                    diags.push(Diagnostic::error(
                        None,
                        format!("cannot build a sparse automaton: {e}"),
                    ));
                    return None;
                }
            }
        } else {
            let (bytes, pad) = dfa.to_bytes_little_endian();
            (
                SectionKind::DenseDfa,
                bytes.get(pad..).map(<[u8]>::to_vec).unwrap_or_default(),
            )
        };
        if let Some(st) = stats.get_mut(i) {
            st.sparse = make_sparse;
            st.stored_bytes = bytes.len();
        }
        // Section 0 is the metadata; automata follow in creation order.
        if let Some(g) = field_metas.get_mut(fi).and_then(|f| f.groups.get_mut(gi)) {
            g.section = (automata.len() + 1) as u32;
        }
        automata.push(AutomatonSection { kind, bytes });
    }

    let mut tables = policy.tables.clone();
    if !tables.secrets.formats.is_empty() {
        let regexes: Vec<&str> = tables
            .secrets
            .formats
            .iter()
            .map(|f| f.regex.as_str())
            .collect();
        match automata::build_secrets(&regexes) {
            // Sparse: it runs only where a prefix was found, and dense it would be the
            // largest automaton of the bundle (one start state per format, many classes).
            Ok(dfa) => match dfa.to_sparse() {
                Ok(sparse) => {
                    tables.secrets.section = Some((automata.len() + 1) as u32);
                    automata.push(AutomatonSection {
                        kind: SectionKind::SparseDfa,
                        bytes: sparse.to_bytes_little_endian(),
                    });
                }
                Err(e) => {
                    diags.push(Diagnostic::error(None, format!("secret automaton: {e}")));
                    return None;
                }
            },
            Err(e) => {
                diags.push(Diagnostic::error(None, e));
                return None;
            }
        }
    }

    Some(LoweredPolicy {
        meta: Meta {
            compiler: format!("crustc {}", env!("CARGO_PKG_VERSION")),
            source_hash,
            rules: rule_metas,
            preds,
            fields: field_metas,
            always_rules: always,
            tables,
        },
        automata,
        groups: stats,
        disabled,
    })
}

type DenseDfa = regex_automata::dfa::dense::DFA<Vec<u32>>;

fn form_code(f: Form) -> u8 {
    match f {
        Form::Plain => 0,
        Form::Home => 1,
        Form::Both => 2,
    }
}

fn merge_forms(forms: &[Form]) -> Form {
    let plain = forms.iter().any(|f| matches!(f, Form::Plain | Form::Both));
    let home = forms.iter().any(|f| matches!(f, Form::Home | Form::Both));
    match (plain, home) {
        (true, true) => Form::Both,
        (false, true) => Form::Home,
        _ => Form::Plain,
    }
}

/// Distinct patterns of one field: (kind, text, source, arg key) -> id, with first span and
/// roles.
#[derive(Default)]
struct FieldTable {
    keys: Vec<PatternKey>,
    spans: Vec<Span>,
    hits: Vec<Vec<PredHit>>,
    index: BTreeMap<(crate::ir::PatternKind, String, Option<String>), usize>,
}

type PatternKey = (crate::ir::PatternKind, String, String, Option<String>);

impl FieldTable {
    fn add(&mut self, p: &crate::ir::Pattern, arg: Option<&String>, hit: PredHit) {
        let key = (p.kind, p.text.clone(), arg.cloned());
        let id = match self.index.get(&key) {
            Some(&id) => id,
            None => {
                let id = self.keys.len();
                self.index.insert(key, id);
                self.keys
                    .push((p.kind, p.text.clone(), p.source.clone(), arg.cloned()));
                self.spans.push(p.span);
                self.hits.push(Vec::new());
                id
            }
        };
        if let Some(h) = self.hits.get_mut(id) {
            if !h.contains(&hit) {
                h.push(hit);
            }
        }
    }
}

/// Emits a condition as a postfix program, creating its predicates.
fn emit(
    c: &Cond,
    rule: u32,
    prog: &mut Vec<CondOp>,
    preds: &mut Vec<PredMeta>,
    fields: &mut [FieldTable],
) {
    match c {
        Cond::All(cs) | Cond::Any(cs) => {
            for x in cs {
                emit(x, rule, prog, preds, fields);
            }
            let n = cs.len() as u32;
            prog.push(if matches!(c, Cond::All(_)) {
                CondOp::All(n)
            } else {
                CondOp::Any(n)
            });
        }
        Cond::Not(x) => {
            emit(x, rule, prog, preds, fields);
            prog.push(CondOp::Not);
        }
        Cond::Action(set, _) => prog.push(CondOp::Action(*set)),
        Cond::Field(fp) => {
            let pid = preds.len() as u32;
            preds.push(PredMeta {
                field: fp.field,
                rules: vec![rule],
            });
            if let Some(t) = fields.get_mut(fp.field.index()) {
                for p in &fp.include {
                    t.add(
                        p,
                        fp.key.as_ref(),
                        PredHit {
                            pred: pid,
                            except: false,
                        },
                    );
                }
                for p in &fp.exclude {
                    t.add(
                        p,
                        fp.key.as_ref(),
                        PredHit {
                            pred: pid,
                            except: true,
                        },
                    );
                }
            }
            prog.push(CondOp::Pred(pid));
        }
    }
}
