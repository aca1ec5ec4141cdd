//! The decision: extract operations, one automaton pass per field value, pattern ids to
//! predicates, predicates to rules, precedence to a verdict.
//!
//! Precedence, per operation: a matching **locked block** rule always blocks; otherwise a
//! matching **allow** rule permits the operation; otherwise a matching (unlocked) **block** rule
//! blocks. A call is blocked if any of its operations is. Among the blocking rules the one
//! first in bundle order decides; the compiler orders rules locked first, then by severity,
//! then by where they were written.

use crate::bundle::meta::{CondOp, RuleMeta};
use crate::engine::Engine;
use crate::matcher::{GateScan, GateScratch, GaveUp, LitHit};
use crate::model::{CommandScan, Decision, Effect, Field, Operation, ToolCall, Verdict};
use crate::normalize::{self, home_form, normalize_dir, PathContext};
use std::borrow::Cow;
use std::cell::RefCell;

/// One rule that matched, for `explain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleMatch {
    pub rule: String,
    pub effect: Effect,
    pub locked: bool,
    /// Index of the operation in [`Explanation::operations`].
    pub operation: usize,
    /// The field values and patterns that made the rule's predicates true.
    pub evidence: Vec<Evidence>,
}

/// A field value and the pattern it matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub field: Field,
    pub value: String,
    pub pattern: String,
}

/// Everything `explain` reports about a call.
#[derive(Debug, Clone)]
pub struct Explanation<'b> {
    pub verdict: Verdict<'b>,
    pub operations: Vec<Operation>,
    pub matches: Vec<RuleMatch>,
}

/// Reusable per-thread working memory: a decision allocates nothing here once warm.
#[derive(Default)]
struct Scratch {
    hits: Vec<u32>,
    value_stamp: u32,
    inc: Vec<u32>,
    exc: Vec<u32>,
    touched: Vec<u32>,
    op_stamp: u32,
    pred_true: Vec<u32>,
    true_list: Vec<u32>,
    call_true: Vec<u32>,
    rule_seen: Vec<u32>,
    candidates: Vec<u32>,
    stack: Vec<bool>,
    home_buf: String,
    gates: GateScratch,
    /// Gate literal occurrences in an operation's first command value, reused for the
    /// values that are slices of it.
    command_hits: Vec<LitHit>,
    /// Transitions left for glob matching in this decision.
    glob_budget: usize,
}

impl Scratch {
    fn fit(&mut self, preds: usize, rules: usize) {
        if self.inc.len() < preds {
            self.inc.resize(preds, 0);
            self.exc.resize(preds, 0);
            self.pred_true.resize(preds, 0);
        }
        if self.rule_seen.len() < rules {
            self.rule_seen.resize(rules, 0);
        }
    }
    fn next_value(&mut self) {
        self.value_stamp = self.value_stamp.wrapping_add(1);
        if self.value_stamp == 0 {
            self.inc.iter_mut().for_each(|s| *s = 0);
            self.exc.iter_mut().for_each(|s| *s = 0);
            self.value_stamp = 1;
        }
    }
    /// Rule `r` is a candidate for this operation (once).
    fn add_candidate(&mut self, r: u32) -> Result<(), Stop> {
        let seen = self
            .rule_seen
            .get_mut(r as usize)
            .ok_or(Stop::Broken("a candidate rule that does not exist"))?;
        if *seen != self.op_stamp {
            *seen = self.op_stamp;
            self.candidates.push(r);
        }
        Ok(())
    }

    fn next_op(&mut self) {
        self.op_stamp = self.op_stamp.wrapping_add(1);
        if self.op_stamp == 0 {
            self.pred_true.iter_mut().for_each(|s| *s = 0);
            self.rule_seen.iter_mut().for_each(|s| *s = 0);
            self.op_stamp = 1;
        }
        self.true_list.clear();
        self.candidates.clear();
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Why a decision stopped without a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// An automaton gave up on the input or failed on-use validation.
    GaveUp,
    /// An invariant that load-time validation established does not hold: a bug in Crust. A
    /// rule skipped here would be an allow, so the call is refused instead.
    Broken(&'static str),
}

impl From<GaveUp> for Stop {
    fn from(_: GaveUp) -> Self {
        Stop::GaveUp
    }
}

impl Stop {
    fn verdict(self) -> Verdict<'static> {
        match self {
            Stop::GaveUp => {
                Verdict::malformed("a policy automaton gave up on this input, or failed validation")
            }
            Stop::Broken(what) => Verdict::internal_error(what),
        }
    }
}

/// Evidence recorder: `None` on the hot path.
type Trail<'t> = Option<&'t mut Vec<(u32, Evidence)>>;

impl Engine {
    /// Judges one tool call.
    pub fn evaluate<'b>(&'b self, call: &ToolCall<'_>) -> Verdict<'b> {
        self.judge(call, None).0
    }

    /// Judges one tool call, then checks an allowed call's operations against the files the
    /// running process uses (see [`crate::own`]).
    pub fn evaluate_guarded<'b>(
        &'b self,
        call: &ToolCall<'_>,
        own: &crate::own::OwnFiles,
    ) -> Verdict<'b> {
        let (home, extracted) = self.extract_with_home(call);
        let (verdict, ops) = match extracted {
            Ok(ops) => self.judge_ops(call, ops, &home, None),
            Err(why) => (Verdict::malformed(why), Vec::new()),
        };
        if verdict.is_block() || own.is_empty() {
            return verdict;
        }
        // A path that is a symbolic link on this machine (a link a cloned repository brought,
        // `docs/key -> ~/.ssh/id_rsa`) is judged as what it names too, and a glob as what it
        // expands to here (`cat *` beside a keystore).
        if let Some(linked) = crate::own::through_links(&ops) {
            let (v, _) = self.judge_ops(call, linked, &home, None);
            if v.is_block() {
                return v;
            }
        }
        if let Some(port) = own.port_stopped_by(&ops) {
            return Verdict {
                decision: crate::model::Decision::Block,
                rule: Some(std::borrow::Cow::Borrowed(crate::own::OWN_PROCESS_RULE)),
                message: Some(std::borrow::Cow::Owned(format!(
                    "This stops the program listening on port {port}, which is this Crust \
                     process: stopping Crust would remove the protection it gives the user. \
                     Ask the user if Crust is in the way."
                ))),
                severity: Some(crate::model::Severity::Critical),
            };
        }
        match own.touched_by(&ops) {
            None => verdict,
            Some(path) => Verdict {
                decision: crate::model::Decision::Block,
                rule: Some(std::borrow::Cow::Borrowed(crate::own::OWN_FILES_RULE)),
                message: Some(std::borrow::Cow::Owned(format!(
                    "`{path}` is a file this Crust process uses (its policy bundle, rules or \
                     audit log). Agents may not read, change or remove it; ask the user to \
                     change Crust's settings."
                ))),
                severity: Some(crate::model::Severity::Critical),
            },
        }
    }

    /// Judges one tool call and reports every rule that matched, with its evidence.
    pub fn explain<'b>(&'b self, call: &ToolCall<'_>) -> Explanation<'b> {
        let mut matches = Vec::new();
        let (verdict, operations) = self.judge(call, Some(&mut matches));
        Explanation {
            verdict,
            operations,
            matches,
        }
    }

    /// The operations of a call, as the engine extracts them (for tests of the engine's
    /// shortcuts; decisions go through [`Engine::evaluate`]).
    #[doc(hidden)]
    pub fn extract_operations(&self, call: &ToolCall<'_>) -> Result<Vec<Operation>, String> {
        self.extract_with_home(call).1
    }

    /// The call's normalized home directory, and its operations.
    fn extract_with_home(&self, call: &ToolCall<'_>) -> (String, Result<Vec<Operation>, String>) {
        let home = call_home(call);
        // Without a known cwd, relative paths resolve against home: for rules anchored in the
        // home directory that is the most cautious guess.
        let cwd = match call.cwd {
            Some(c) => normalize_dir(c, &home),
            None => home.clone(),
        };
        let ctx = PathContext {
            home: &home,
            cwd: &cwd,
        };
        let ops = crate::extract::extract(
            call.name,
            call.args,
            &ctx,
            &self.bundle.meta.tables,
            &self.table_index,
        );
        (home, ops)
    }

    /// [`Engine::explain`] over operations given rather than extracted (see
    /// [`Engine::extract_operations`]).
    #[doc(hidden)]
    pub fn explain_operations<'b>(
        &'b self,
        call: &ToolCall<'_>,
        ops: Vec<Operation>,
    ) -> Explanation<'b> {
        let home = call_home(call);
        let mut matches = Vec::new();
        let (verdict, operations) = self.judge_ops(call, ops, &home, Some(&mut matches));
        Explanation {
            verdict,
            operations,
            matches,
        }
    }

    fn judge<'b>(
        &'b self,
        call: &ToolCall<'_>,
        explain: Option<&mut Vec<RuleMatch>>,
    ) -> (Verdict<'b>, Vec<Operation>) {
        match self.extract_with_home(call) {
            (home, Ok(ops)) => self.judge_ops(call, ops, &home, explain),
            (_, Err(why)) => (Verdict::malformed(why), Vec::new()),
        }
    }

    fn judge_ops<'b>(
        &'b self,
        call: &ToolCall<'_>,
        mut ops: Vec<Operation>,
        home: &str,
        mut explain: Option<&mut Vec<RuleMatch>>,
    ) -> (Verdict<'b>, Vec<Operation>) {
        for op in &mut ops {
            let spelled: Vec<String> = op
                .hosts
                .iter()
                .flat_map(|h| crate::normalize::addresses_in_name(h))
                .collect();
            for a in spelled {
                if !op.hosts.contains(&a) {
                    op.hosts.push(a);
                }
            }
        }
        if self.scan_secrets(&mut ops).is_err() {
            return (
                Verdict::malformed("the text is too complex to scan for secrets"),
                ops,
            );
        }
        let result = SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut s) => self.decide(call, &ops, home, &mut s, explain.take()),
            // Re-entrancy cannot happen today; a fresh scratch keeps it correct if it ever does.
            Err(_) => self.decide(call, &ops, home, &mut Scratch::default(), explain.take()),
        });
        let verdict = result.unwrap_or_else(|stop| stop.verdict());
        (verdict, ops)
    }

    fn decide<'b>(
        &'b self,
        call: &ToolCall<'_>,
        ops: &[Operation],
        home: &str,
        s: &mut Scratch,
        mut explain: Option<&mut Vec<RuleMatch>>,
    ) -> Result<Verdict<'b>, Stop> {
        let meta = &self.bundle.meta;
        s.fit(meta.preds.len(), meta.rules.len());
        s.glob_budget = crate::matcher::GLOB_TRANSITION_BUDGET;
        let mut trail_store: Vec<(u32, Evidence)> = Vec::new();
        // The tool and arg fields have values per call, not per operation: judge them once.
        s.next_op();
        let tool_lc = call.name.trim().to_ascii_lowercase();
        self.field_value(
            Field::Tool,
            &tool_lc,
            None,
            GateScan::Scan,
            s,
            trail(&mut explain, &mut trail_store),
        )?;
        if self
            .bundle
            .meta
            .fields
            .get(Field::Arg.index())
            .is_some_and(|f| !f.groups.is_empty())
        {
            let mut args = Vec::new();
            crate::extract::arg_values(call.args, &mut args);
            for (key, value) in &args {
                self.arg_value(key, value, s, trail(&mut explain, &mut trail_store))?;
            }
        }
        std::mem::swap(&mut s.call_true, &mut s.true_list);
        let tool_trail = trail_store.clone();

        let mut best_block: Option<u32> = None;
        let mut best_op = 0;
        for (oi, op) in ops.iter().enumerate() {
            s.next_op();
            if explain.is_some() {
                trail_store.clone_from(&tool_trail);
            }
            for i in 0..s.call_true.len() {
                if let Some(&p) = s.call_true.get(i) {
                    *s.pred_true
                        .get_mut(p as usize)
                        .ok_or(Stop::Broken("a call predicate outside the predicate table"))? =
                        s.op_stamp;
                    s.true_list.push(p);
                }
            }
            for g in &op.globs {
                let mut hb = std::mem::take(&mut s.home_buf);
                let has_home = home_form(g, home, &mut hb).is_some();
                let r = self.glob_value(
                    g,
                    has_home.then_some(hb.as_str()),
                    s,
                    trail(&mut explain, &mut trail_store),
                );
                s.home_buf = hb;
                r?;
            }
            let mut command_hits = std::mem::take(&mut s.command_hits);
            for field in [
                Field::Path,
                Field::Host,
                Field::Command,
                Field::Content,
                Field::Signal,
                Field::Secret,
                Field::Url,
            ] {
                for (k, v) in op.values(field).iter().enumerate() {
                    let mut hb = std::mem::take(&mut s.home_buf);
                    let has_home = field == Field::Path && home_form(v, home, &mut hb).is_some();
                    let scan = match (field, op.command_scan(k)) {
                        (Field::Command, CommandScan::SliceAt(at)) => {
                            GateScan::Within(&command_hits, at)
                        }
                        (Field::Command, CommandScan::Source) => {
                            GateScan::Record(&mut command_hits)
                        }
                        _ => GateScan::Scan,
                    };
                    let r = self.field_value(
                        field,
                        v,
                        has_home.then_some(hb.as_str()),
                        scan,
                        s,
                        trail(&mut explain, &mut trail_store),
                    );
                    s.home_buf = hb;
                    r?;
                }
            }
            s.command_hits = command_hits;
            // Candidate rules: those fed by a true predicate, and those using `not`.
            for i in 0..s.true_list.len() {
                let Some(&p) = s.true_list.get(i) else { break };
                let pred = meta
                    .preds
                    .get(p as usize)
                    .ok_or(Stop::Broken("a true predicate outside the predicate table"))?;
                for &r in &pred.rules {
                    s.add_candidate(r)?;
                }
            }
            for &r in &meta.always_rules {
                s.add_candidate(r)?;
            }
            let (mut locked_block, mut allow, mut block) = (None::<u32>, false, None::<u32>);
            for i in 0..s.candidates.len() {
                let Some(&r) = s.candidates.get(i) else { break };
                let rule = meta
                    .rules
                    .get(r as usize)
                    .ok_or(Stop::Broken("a candidate rule that does not exist"))?;
                if !rule.actions.contains(op.action) || !eval_cond(rule, op, s)? {
                    continue;
                }
                if let Some(ex) = explain.as_deref_mut() {
                    ex.push(RuleMatch {
                        rule: rule.name.clone(),
                        effect: rule.effect,
                        locked: rule.locked,
                        operation: oi,
                        evidence: evidence_for(rule, &trail_store),
                    });
                }
                match (rule.effect, rule.locked) {
                    (Effect::Block, true) => locked_block = min_some(locked_block, r),
                    (Effect::Block, false) => block = min_some(block, r),
                    (Effect::Allow, _) => allow = true,
                }
            }
            let op_block = locked_block.or(if allow { None } else { block });
            if let Some(r) = op_block {
                if best_block.is_none_or(|b| r < b) {
                    best_block = Some(r);
                    best_op = oi;
                }
            }
        }
        let best = match best_block {
            Some(r) => Some(
                meta.rules
                    .get(r as usize)
                    .ok_or(Stop::Broken("the deciding rule does not exist"))?,
            ),
            None => None,
        };
        Ok(match best {
            Some(rule) => Verdict {
                decision: Decision::Block,
                rule: Some(Cow::Borrowed(rule.name.as_str())),
                // What the analysis found (the package a look-alike imitates) follows the
                // rule's own words.
                message: Some(match ops.get(best_op).and_then(|o| o.detail.as_deref()) {
                    Some(d) => Cow::Owned(format!("{} {d}", rule.message)),
                    None => Cow::Borrowed(rule.message.as_str()),
                }),
                severity: Some(rule.severity),
            },
            None => Verdict::allow(),
        })
    }

    /// Fills each operation's `secrets` with the formats found in its contents and commands.
    fn scan_secrets(&self, ops: &mut [Operation]) -> Result<(), GaveUp> {
        if self.bundle.meta.tables.secrets.formats.is_empty() {
            return Ok(());
        }
        let mut found = Vec::new();
        let mut hits = Vec::new();
        for op in ops.iter_mut() {
            found.clear();
            for text in &op.contents {
                self.secret_scan()
                    .find_secrets(text.as_bytes(), &mut found)?;
            }
            // Slices of the first command value hold exactly its prefix occurrences inside
            // them: scanned once.
            for (k, text) in op.commands.iter().enumerate() {
                match op.command_scan(k) {
                    CommandScan::SliceAt(at) => self.secret_scan().find_secrets_within(
                        text.as_bytes(),
                        at,
                        &hits,
                        &mut found,
                    )?,
                    CommandScan::Source => self.secret_scan().find_secrets_recording(
                        text.as_bytes(),
                        &mut found,
                        &mut hits,
                    )?,
                    CommandScan::Alone => self
                        .secret_scan()
                        .find_secrets(text.as_bytes(), &mut found)?,
                }
            }
            // What hides a secret from the scan above: invisible characters inside a token,
            // a Kubernetes Secret's base64 values.
            let mut hidden = Vec::new();
            for text in &op.contents {
                crate::secrets::hidden_forms(text, &mut hidden);
            }
            for (k, text) in op.commands.iter().enumerate() {
                // A slice of the first command was looked at with it.
                if !matches!(op.command_scan(k), CommandScan::SliceAt(_)) {
                    crate::secrets::hidden_forms(text, &mut hidden);
                }
            }
            for text in &hidden {
                self.secret_scan()
                    .find_secrets(text.as_bytes(), &mut found)?;
            }
            // In the formats' order, whatever order the scan met them in.
            found.sort_unstable();
            let formats = &self.bundle.meta.tables.secrets.formats;
            op.secrets.extend(
                found
                    .iter()
                    .filter_map(|&i| formats.get(i as usize).map(|f| f.id.clone())),
            );
        }
        Ok(())
    }

    /// Matches one value of a field and marks the predicates it makes true.
    fn field_value(
        &self,
        field: Field,
        value: &str,
        home: Option<&str>,
        scan: GateScan<'_>,
        s: &mut Scratch,
        trail: Trail<'_>,
    ) -> Result<(), Stop> {
        s.hits.clear();
        let mut hits = std::mem::take(&mut s.hits);
        let r = self.matcher().match_value(
            field,
            value.as_bytes(),
            home.map(str::as_bytes),
            scan,
            &mut s.gates,
            &mut hits,
        );
        s.hits = hits;
        r?;
        self.apply_hits(field, value, s, trail)
    }

    /// One argument value: the arg field's automata run over the value, and a hit counts only
    /// for patterns written for this key.
    fn arg_value(
        &self,
        key: &str,
        value: &str,
        s: &mut Scratch,
        trail: Trail<'_>,
    ) -> Result<(), Stop> {
        s.hits.clear();
        let mut hits = std::mem::take(&mut s.hits);
        let r = self.matcher().match_value(
            Field::Arg,
            value.as_bytes(),
            None,
            GateScan::Scan,
            &mut s.gates,
            &mut hits,
        );
        if let Some(fm) = self.bundle.meta.fields.get(Field::Arg.index()) {
            hits.retain(|&pid| {
                fm.patterns
                    .get(pid as usize)
                    .is_some_and(|p| p.key.as_deref() == Some(key))
            });
        }
        s.hits = hits;
        r?;
        self.apply_hits(Field::Arg, value, s, trail)
    }

    /// A path with wildcards: every combination of patterns some path it stands for would
    /// hit is applied as if that path had been seen.
    fn glob_value(
        &self,
        glob: &str,
        home: Option<&str>,
        s: &mut Scratch,
        mut trail: Trail<'_>,
    ) -> Result<(), Stop> {
        let sets = self
            .matcher()
            .match_glob(Field::Path, glob, home, &mut s.glob_budget)?;
        // `src/*`, `build/$F`, and a directory taken whole (`rm -rf /tmp/build`, `tar d/`): a
        // name left wholly open means "whatever is in there", not a chosen file. Patterns that
        // name a file anywhere (`**/.env`, `**/.ssh/id_*`) would otherwise make every such
        // glob touch them (`wc -l src/*`, `rm -rf /tmp/x` blocked); patterns that name a place
        // (`~/.ssh/*`, `/etc/shadow`) still apply.
        let last = glob.rsplit('/').next().unwrap_or(glob);
        let open_name = !last.is_empty()
            && last
                .chars()
                .all(|c| matches!(c, '*' | '?' | normalize::UNKNOWN | normalize::SUBTREE));
        let subtree = last.contains(normalize::SUBTREE);
        let fm = self.bundle.meta.fields.get(Field::Path.index());
        // A floating pattern (`**/x`) the glob does not itself place: for an open name only
        // `**/name`; for a subtree also `**/dir/name` unless the glob is inside a `dir`.
        let floating_unplaced = |pid: &u32| {
            let Some(rest) = fm
                .and_then(|fm| fm.patterns.get(*pid as usize))
                .and_then(|p| p.source.strip_prefix("**/"))
            else {
                return false;
            };
            match rest.split_once('/') {
                None => true,
                // Inside `dir` already: one of the glob's own names (not its last) is `dir`.
                Some((dir, _)) => subtree && !glob.rsplit('/').skip(1).any(|name| name == dir),
            }
        };
        for set in sets {
            s.hits.clear();
            s.hits.extend(
                set.iter()
                    .filter(|pid| !(open_name && floating_unplaced(pid))),
            );
            self.apply_hits(Field::Path, glob, s, trail.as_deref_mut())?;
        }
        Ok(())
    }

    fn apply_hits(
        &self,
        field: Field,
        value: &str,
        s: &mut Scratch,
        trail: Trail<'_>,
    ) -> Result<(), Stop> {
        if s.hits.is_empty() {
            return Ok(());
        }
        let fm = self
            .bundle
            .meta
            .fields
            .get(field.index())
            .ok_or(Stop::Broken("a pattern hit in a field without patterns"))?;
        s.next_value();
        s.touched.clear();
        let mut trail = trail;
        let trail_start = trail.as_deref().map_or(0, Vec::len);
        for &pid in &s.hits {
            let pat = fm.patterns.get(pid as usize).ok_or(Stop::Broken(
                "an automaton reported a pattern that does not exist",
            ))?;
            for h in &pat.hits {
                let p = h.pred as usize;
                if h.except {
                    *s.exc.get_mut(p).ok_or(Stop::Broken(
                        "a pattern feeds a predicate that does not exist",
                    ))? = s.value_stamp;
                } else {
                    let i = s.inc.get_mut(p).ok_or(Stop::Broken(
                        "a pattern feeds a predicate that does not exist",
                    ))?;
                    if *i != s.value_stamp {
                        *i = s.value_stamp;
                        s.touched.push(h.pred);
                    }
                    if let Some(t) = trail.as_deref_mut() {
                        t.push((
                            h.pred,
                            Evidence {
                                field,
                                value: value.to_owned(),
                                pattern: pat.source.clone(),
                            },
                        ));
                    }
                }
            }
        }
        // Evidence only for predicates this value made true: drop those an except removed.
        if let Some(t) = trail {
            let start = trail_start.min(t.len());
            let mut kept = start;
            for i in start..t.len() {
                let excluded = t
                    .get(i)
                    .is_some_and(|(p, _)| s.exc.get(*p as usize) == Some(&s.value_stamp));
                if !excluded {
                    t.swap(kept, i);
                    kept += 1;
                }
            }
            t.truncate(kept);
        }
        for &p in &s.touched {
            let pu = p as usize;
            let excluded = s.exc.get(pu) == Some(&s.value_stamp);
            let t = s
                .pred_true
                .get_mut(pu)
                .ok_or(Stop::Broken("a predicate outside the predicate table"))?;
            if !excluded && *t != s.op_stamp {
                *t = s.op_stamp;
                s.true_list.push(p);
            }
        }
        Ok(())
    }
}

fn trail<'t>(
    explain: &mut Option<&mut Vec<RuleMatch>>,
    store: &'t mut Vec<(u32, Evidence)>,
) -> Trail<'t> {
    explain.is_some().then_some(store)
}

fn min_some(cur: Option<u32>, r: u32) -> Option<u32> {
    Some(cur.map_or(r, |c| c.min(r)))
}

/// Runs a rule's postfix condition program over the operation's true predicates.
/// `Meta::validate` checked that every program is well formed (predicates in range, no
/// underflow, exactly one value left); a program that is not stops the decision.
fn eval_cond(rule: &RuleMeta, op: &Operation, s: &mut Scratch) -> Result<bool, Stop> {
    const BAD: Stop = Stop::Broken("a rule's condition program is malformed");
    s.stack.clear();
    for c in &rule.cond {
        match *c {
            CondOp::Pred(p) => {
                let t = *s.pred_true.get(p as usize).ok_or(BAD)? == s.op_stamp;
                s.stack.push(t);
            }
            CondOp::Action(set) => s.stack.push(set.contains(op.action)),
            CondOp::All(n) | CondOp::Any(n) => {
                let at = s.stack.len().checked_sub(n as usize).ok_or(BAD)?;
                let xs = s.stack.get(at..).ok_or(BAD)?;
                let v = if matches!(c, CondOp::All(_)) {
                    xs.iter().all(|b| *b)
                } else {
                    xs.iter().any(|b| *b)
                };
                s.stack.truncate(at);
                s.stack.push(v);
            }
            CondOp::Not => {
                let top = s.stack.last_mut().ok_or(BAD)?;
                *top = !*top;
            }
        }
    }
    match s.stack.as_slice() {
        [v] => Ok(*v),
        _ => Err(BAD),
    }
}

fn evidence_for(rule: &RuleMeta, trail: &[(u32, Evidence)]) -> Vec<Evidence> {
    let mut out: Vec<Evidence> = Vec::new();
    for op in &rule.cond {
        if let CondOp::Pred(p) = op {
            for (tp, ev) in trail {
                if tp == p && !out.contains(ev) {
                    out.push(ev.clone());
                }
            }
        }
    }
    out
}

/// The call's home directory, normalized (`/` when the caller gave none).
fn call_home(call: &ToolCall<'_>) -> String {
    normalize_dir(call.home.unwrap_or("/"), "/")
}

impl Engine {
    /// Whether the tool table has an entry for `name` (an MCP server's tool matches an entry
    /// written `mcp__*__<tool>`).
    pub fn knows_tool(&self, name: &str) -> bool {
        crate::extract::lookup(name, &self.bundle.meta.tables, &self.table_index).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Action, ActionSet, Severity, INTERNAL_RULE};

    fn rule(cond: Vec<CondOp>) -> RuleMeta {
        RuleMeta {
            name: "r".into(),
            message: "m".into(),
            severity: Severity::High,
            effect: Effect::Block,
            locked: false,
            actions: ActionSet::ALL,
            cond,
            origin: "t:1".into(),
        }
    }

    fn run(cond: Vec<CondOp>) -> Result<bool, Stop> {
        let mut s = Scratch::default();
        s.fit(2, 1);
        s.next_op();
        if let Some(t) = s.pred_true.get_mut(0) {
            *t = s.op_stamp;
        }
        eval_cond(&rule(cond), &Operation::new(Action::Read), &mut s)
    }

    #[test]
    fn well_formed_programs_evaluate() {
        assert_eq!(run(vec![CondOp::Pred(0)]), Ok(true));
        assert_eq!(run(vec![CondOp::Pred(1)]), Ok(false));
        assert_eq!(run(vec![CondOp::Pred(0), CondOp::Not]), Ok(false));
        let any = vec![CondOp::Pred(1), CondOp::Pred(0), CondOp::Any(2)];
        assert_eq!(run(any), Ok(true));
        let all = vec![CondOp::Pred(1), CondOp::Pred(0), CondOp::All(2)];
        assert_eq!(run(all), Ok(false));
    }

    /// A program validation should have refused stops the decision instead of reading as
    /// "no match" (which would let the call through).
    #[test]
    fn malformed_programs_stop_the_decision() {
        for cond in [
            vec![],
            vec![CondOp::Not],
            vec![CondOp::Pred(0), CondOp::All(2)],
            vec![CondOp::Pred(7)],
            vec![CondOp::Pred(0), CondOp::Pred(0)],
        ] {
            assert!(
                matches!(run(cond.clone()), Err(Stop::Broken(_))),
                "{cond:?}"
            );
        }
    }

    #[test]
    fn a_failed_invariant_blocks_under_its_own_rule() {
        let v = Stop::Broken("x").verdict();
        assert!(v.is_block());
        assert_eq!(v.rule.as_deref(), Some(INTERNAL_RULE));
        assert_eq!(v.severity, Some(Severity::Critical));
        let v = Stop::GaveUp.verdict();
        assert_eq!(v.rule.as_deref(), Some(crate::model::MALFORMED_RULE));
    }
}
