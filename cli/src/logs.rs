//! `crust logs`: decrypt and show the audit log.

use super::Exit;
use crust_runtime::audit::{self, Record};
use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct LogsArgs {
    /// The log (default: ~/.local/share/crust/audit.log; rotated files beside it are read too).
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// The identity that decrypts it (default: ~/.config/crust/audit-identity.txt).
    #[arg(long)]
    pub identity: Option<PathBuf>,
    /// Keep printing new records as they are sealed.
    #[arg(short, long)]
    pub follow: bool,
    /// Only records newer than this (30s, 10m, 2h, 7d).
    #[arg(long)]
    pub since: Option<String>,
    /// Only `allow` or `block` decisions.
    #[arg(long)]
    pub decision: Option<String>,
    /// Only decisions by this rule.
    #[arg(long)]
    pub rule: Option<String>,
    /// One JSON record per line.
    #[arg(long)]
    pub json: bool,
    /// Summarize blocks by rule and by tool instead of listing records.
    #[arg(long)]
    pub stats: bool,
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("/"), PathBuf::from)
}

/// `30s`, `10m`, `2h`, `7d`, `1w` in milliseconds.
pub fn parse_duration(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok()?;
    let ms = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 604_800_000,
        _ => return None,
    };
    n.checked_mul(ms)
}

/// UTC `YYYY-MM-DDTHH:MM:SS.mmmZ` from Unix milliseconds (civil-from-days).
pub fn format_time(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        ms % 1000
    )
}

/// How many damaged regions are listed one by one before the rest are summed up.
const DAMAGE_LINES: usize = 20;

pub fn logs(a: LogsArgs) -> Exit {
    let file = a
        .file
        .clone()
        .unwrap_or_else(|| home().join(".local/share/crust").join(audit::LOG_FILE));
    let id_path = a
        .identity
        .clone()
        .unwrap_or_else(|| home().join(".config/crust").join(audit::IDENTITY_FILE));
    let identity = match audit::read_identity(&id_path) {
        Ok(i) => i,
        Err(e) => {
            diag(&format!("error: {e}"));
            return Exit::Usage;
        }
    };
    let since = match a.since.as_deref().map(|s| (s, parse_duration(s))) {
        None => None,
        Some((_, Some(d))) => Some(audit::now_ms().saturating_sub(d)),
        Some((s, None)) => {
            diag(&format!(
                "error: `--since {s}`: expected a number and a unit (30s, 10m, 2h, 7d)"
            ));
            return Exit::Usage;
        }
    };
    let keep = |r: &Record| {
        since.is_none_or(|t| r.time_ms >= t)
            && a.decision.as_deref().is_none_or(|d| r.decision == d)
            && a.rule
                .as_deref()
                .is_none_or(|x| r.rule.as_deref() == Some(x))
    };
    let follow = a.follow && !a.stats;
    let mut shown = 0usize;
    // Damaged regions already reported (following reads the log again and again).
    let mut reported: HashSet<(PathBuf, u64)> = HashSet::new();
    let mut stdout = std::io::stdout().lock();
    loop {
        let read = match audit::read_log(&file, &identity) {
            Ok(r) => r,
            Err(e) => {
                diag(&format!("error: {e}"));
                return Exit::Policy;
            }
        };
        if read.records.len() < shown {
            shown = 0; // rotated away
        }
        let fresh = read.records.get(shown..).unwrap_or(&[]);
        shown = read.records.len();
        let picked: Vec<&Record> = fresh.iter().filter(|r| keep(r)).collect();
        let text = if a.stats {
            stats(&picked)
        } else {
            render(&picked, a.json)
        };
        // A reader that went away (`crust logs | head`) is not an error: stop quietly.
        match stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
        {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Exit::Ok,
            Err(e) => {
                diag(&format!("error: cannot write the records: {e}"));
                return Exit::Policy;
            }
        }
        report_damage(&read.damaged, &file, follow, &mut reported);
        if !follow {
            return Exit::Ok;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

/// A diagnostic on stderr; a closed stderr is no reason to fail (nor to panic, as `eprintln!`
/// would).
fn diag(msg: &str) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}

/// The records as stdout shows them: with `--json` one JSON object per line and nothing else
/// (a drop is the record's `dropped_before` field); otherwise one line each, with a line
/// where records were dropped.
fn render(records: &[&Record], json: bool) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    for r in records {
        if json {
            // A `Record` is strings and integers: serializing it cannot fail.
            let _ = writeln!(s, "{}", serde_json::to_string(r).unwrap_or_default());
        } else {
            if let Some(d) = r.dropped_before {
                let _ = writeln!(
                    s,
                    "({d} records dropped here: the writer could not keep up, or could not write)"
                );
            }
            let _ = writeln!(s, "{}", line(r));
        }
    }
    s
}

/// Tells stderr about every damaged region not reported yet, each on a line (up to
/// [`DAMAGE_LINES`]), then a summary. While following, a cut chunk at the end of the newest
/// file is not reported: it may be a chunk being written; once a chunk follows it, it is.
fn report_damage(
    damaged: &[audit::Damage],
    newest: &Path,
    follow: bool,
    reported: &mut HashSet<(PathBuf, u64)>,
) {
    let new: Vec<&audit::Damage> = damaged
        .iter()
        .filter(|d| {
            !(follow && d.at_end && d.what == audit::DamageKind::CutShort && d.file == newest)
        })
        .filter(|d| reported.insert((d.file.clone(), d.offset)))
        .collect();
    for d in new.iter().take(DAMAGE_LINES) {
        diag(&format!("warning: skipped {d}"));
    }
    if new.len() > DAMAGE_LINES {
        diag(&format!(
            "warning: ... and {} more skipped regions",
            new.len() - DAMAGE_LINES
        ));
    }
    let (foreign, damaged): (Vec<&audit::Damage>, Vec<&audit::Damage>) = new
        .iter()
        .partition(|d| d.what == audit::DamageKind::OtherRecipients);
    if !damaged.is_empty() {
        let bytes: u64 = damaged.iter().map(|d| d.len).sum();
        diag(&format!(
            "warning: skipped {} damaged region{} ({bytes} bytes) of the audit log; the records in them are lost, every other chunk was read",
            damaged.len(),
            if damaged.len() == 1 { "" } else { "s" }
        ));
    }
    if !foreign.is_empty() {
        diag(&format!(
            "warning: skipped {} chunk{} sealed to other recipients; read {} with the identity {} sealed to",
            foreign.len(),
            if foreign.len() == 1 { "" } else { "s" },
            if foreign.len() == 1 { "it" } else { "them" },
            if foreign.len() == 1 { "it was" } else { "they were" },
        ));
    }
}

fn line(r: &Record) -> String {
    format!(
        "{}  {:<5}  {:<22}  {:<12}  {}  [{} {}, {:.1} µs]",
        format_time(r.time_ms),
        r.decision,
        r.rule.as_deref().unwrap_or("-"),
        r.tool,
        r.args,
        r.api,
        r.side,
        r.eval_ns as f64 / 1000.0
    )
}

fn stats(records: &[&Record]) -> String {
    use std::fmt::Write;
    let blocks: Vec<&&Record> = records.iter().filter(|r| r.decision == "block").collect();
    let mut by_rule: BTreeMap<&str, usize> = BTreeMap::new();
    let mut by_tool: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &blocks {
        *by_rule.entry(r.rule.as_deref().unwrap_or("-")).or_default() += 1;
        *by_tool.entry(r.tool.as_str()).or_default() += 1;
    }
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} decisions, {} blocked, {} allowed",
        records.len(),
        blocks.len(),
        records.len() - blocks.len()
    );
    for (title, map) in [("blocks by rule", &by_rule), ("blocks by tool", &by_tool)] {
        let _ = writeln!(s, "\n{title}:");
        let mut v: Vec<(&&str, &usize)> = map.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (k, n) in v {
            let _ = writeln!(s, "  {n:>6}  {k}");
        }
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times() {
        assert_eq!(parse_duration("10m"), Some(600_000));
        assert_eq!(parse_duration("2h"), Some(7_200_000));
        assert_eq!(parse_duration("7d"), Some(604_800_000));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("x5m"), None);
        assert_eq!(format_time(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_time(1_795_536_985_123), "2026-11-24T16:16:25.123Z");
        assert_eq!(format_time(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn json_output_is_json_lines_only() {
        let r = Record {
            time_ms: 1_795_536_985_123,
            session: None,
            agent: None,
            user: None,
            api: "openai-chat".into(),
            side: "response".into(),
            tool: "Bash".into(),
            call_id: None,
            args: "{}".into(),
            decision: "allow".into(),
            rule: None,
            severity: None,
            eval_ns: 1000,
            bundle: "crustc".into(),
            bundle_checksum: "00".into(),
            dropped_before: Some(7),
        };
        let json = render(&[&r, &r], true);
        assert_eq!(json.lines().count(), 2);
        for l in json.lines() {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert_eq!(v["dropped_before"], 7);
        }
        let text = render(&[&r], false);
        assert!(text.starts_with("(7 records dropped here"), "{text}");
        assert_eq!(text.lines().count(), 2);
    }
}
