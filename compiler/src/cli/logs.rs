//! `crust logs`: decrypt and show the audit log.

use super::Exit;
use crust_runtime::audit::{self, Record};
use std::collections::BTreeMap;
use std::path::PathBuf;

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
            eprintln!("error: {e}");
            return Exit::Usage;
        }
    };
    let since = match a.since.as_deref().map(|s| (s, parse_duration(s))) {
        None => None,
        Some((_, Some(d))) => Some(audit::now_ms().saturating_sub(d)),
        Some((s, None)) => {
            eprintln!("error: `--since {s}`: expected a number and a unit (30s, 10m, 2h, 7d)");
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
    let mut shown = 0usize;
    loop {
        let read = match audit::read_log(&file, &identity) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::Policy;
            }
        };
        if read.records.len() < shown {
            shown = 0; // rotated away
        }
        let fresh = read.records.get(shown..).unwrap_or(&[]);
        shown = read.records.len();
        let picked: Vec<&Record> = fresh.iter().filter(|r| keep(r)).collect();
        if a.stats {
            print!("{}", stats(&picked));
        } else {
            for r in &picked {
                if let Some(d) = r.dropped_before {
                    println!("({d} records dropped here: the writer could not keep up)");
                }
                if a.json {
                    println!("{}", serde_json::to_string(r).unwrap_or_default());
                } else {
                    println!("{}", line(r));
                }
            }
        }
        for d in &read.damaged {
            eprintln!("warning: skipped damaged bytes: {d}; their records are lost");
        }
        if !a.follow || a.stats {
            return Exit::Ok;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
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
}
