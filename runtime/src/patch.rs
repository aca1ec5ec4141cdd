//! Patch texts as agents send them: Codex's `*** Begin Patch` envelope (through its patch tool
//! or its shell, `apply_patch "…"`, `apply_patch <<'EOF'`) and unified diffs. One reader
//! serves every path, so a patch is judged the same however it arrives.

/// What a patch does: the files it writes (added, updated, or moved to), the files it deletes
/// (or moves away), and the lines it adds.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Patch {
    pub writes: Vec<String>,
    pub deletes: Vec<String>,
    pub added: String,
}

/// Reads a patch; a text that names no file is an error.
pub fn parse(body: &str) -> Result<Patch, String> {
    let mut p = Patch::default();
    let mut minus: Option<&str> = None;
    let mut moving: Option<String> = None;
    for line in body.lines() {
        let l = line.trim_end_matches('\r');
        if let Some(f) = l
            .strip_prefix("*** Add File:")
            .or_else(|| l.strip_prefix("*** Update File:"))
        {
            let f = f.trim().to_owned();
            moving = Some(f.clone());
            p.writes.push(f);
        } else if let Some(f) = l.strip_prefix("*** Move to:") {
            // The file updated is moved away: its old name goes.
            if let Some(old) = moving.take() {
                p.deletes.push(old);
            }
            p.writes.push(f.trim().to_owned());
        } else if let Some(f) = l.strip_prefix("*** Delete File:") {
            p.deletes.push(f.trim().to_owned());
        } else if let Some(f) = l.strip_prefix("--- ") {
            minus = Some(diff_path(f));
        } else if let Some(f) = l.strip_prefix("+++ ") {
            let f = diff_path(f);
            if f == "/dev/null" {
                if let Some(m) = minus.filter(|m| *m != "/dev/null") {
                    p.deletes.push(m.to_owned());
                }
            } else {
                p.writes.push(f.to_owned());
            }
            minus = None;
        } else if let Some(a) = l.strip_prefix('+') {
            p.added.push_str(a);
            p.added.push('\n');
        }
    }
    if p.writes.is_empty() && p.deletes.is_empty() {
        return Err(
            "patch names no file (expected `*** Add/Update/Delete File:` or `+++` lines)".into(),
        );
    }
    Ok(p)
}

fn diff_path(p: &str) -> &str {
    let p = p.split('\t').next().unwrap_or(p).trim();
    p.strip_prefix("a/")
        .or_else(|| p.strip_prefix("b/"))
        .unwrap_or(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_and_diff() {
        let p = parse(
            "*** Begin Patch\n*** Update File: a.rs\n*** Move to: b.rs\n@@\n-x\n+y\n*** Delete File: c.rs\n*** End Patch\n",
        )
        .unwrap_or_default();
        assert_eq!(p.writes, ["a.rs", "b.rs"]);
        assert_eq!(p.deletes, ["a.rs", "c.rs"]);
        assert_eq!(p.added, "y\n");
        let d = parse("--- a/x\n+++ /dev/null\n@@\n-gone\n").unwrap_or_default();
        assert_eq!(d.deletes, ["x"]);
        assert!(parse("hello").is_err());
    }
}
