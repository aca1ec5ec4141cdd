//! Path normalization: `~`, `$HOME`, `${HOME}`, relative-to-cwd, and `.`/`..`/`//` resolved
//! lexically (never through the filesystem: the engine judges what the agent asked for, and the
//! file may not exist yet). Also the home-relative form that `$HOME` patterns match against.

/// Where relative paths and `~` resolve.
#[derive(Debug, Clone, Copy)]
pub struct PathContext<'a> {
    /// Normalized absolute home directory without trailing slash.
    pub home: &'a str,
    /// Normalized absolute working directory.
    pub cwd: &'a str,
}

/// Expands and normalizes one path argument. Errors (fail closed) on NUL bytes.
pub fn normalize_path(raw: &str, ctx: &PathContext<'_>) -> Result<String, String> {
    if raw.contains('\0') {
        return Err(format!("path {raw:?} contains a NUL byte"));
    }
    let (base, rest): (&str, &str) = if let Some(r) = strip_home_prefix(raw) {
        (ctx.home, r)
    } else if raw.starts_with('/') {
        ("", raw)
    } else {
        (ctx.cwd, raw)
    };
    let mut out = String::with_capacity(base.len() + rest.len() + 1);
    clean_into(base, &mut out);
    clean_push(rest, &mut out);
    if out.is_empty() {
        out.push('/');
    }
    Ok(out)
}

/// Normalizes a directory given by the caller (home or cwd); relative ones resolve against
/// `base`.
pub fn normalize_dir(raw: &str, base: &str) -> String {
    let mut out = String::new();
    if !raw.starts_with('/') {
        clean_into(base, &mut out);
    }
    clean_push(raw, &mut out);
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// `~`, `~/x`, `$HOME`, `$HOME/x`, `${HOME}`, `${HOME}/x` -> the part after the home prefix.
fn strip_home_prefix(raw: &str) -> Option<&str> {
    for prefix in ["~", "$HOME", "${HOME}"] {
        if let Some(rest) = raw.strip_prefix(prefix) {
            if rest.is_empty() || rest.starts_with('/') {
                return Some(rest);
            }
        }
    }
    None
}

fn clean_into(base: &str, out: &mut String) {
    out.clear();
    clean_push(base, out);
}

/// Appends the components of `path` to the normalized absolute path in `out`.
fn clean_push(path: &str, out: &mut String) {
    for comp in path.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                let cut = out.rfind('/').unwrap_or(0);
                out.truncate(cut);
            }
            c => {
                out.push('/');
                out.push_str(c);
            }
        }
    }
}

/// The home-relative form of a normalized path (`/home/u/.ssh/x` -> `~/.ssh/x`), or `None`
/// if the path is not under `home`.
pub fn home_form<'p>(path: &'p str, home: &str, buf: &'p mut String) -> Option<&'p str> {
    if home.len() <= 1 {
        return None;
    }
    let rest = path.strip_prefix(home)?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    buf.clear();
    buf.push('~');
    buf.push_str(rest);
    Some(buf.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(raw: &str) -> String {
        let ctx = PathContext {
            home: "/home/u",
            cwd: "/home/u/project",
        };
        normalize_path(raw, &ctx).unwrap()
    }

    #[test]
    fn expands_home_and_cwd() {
        assert_eq!(n("~/.ssh/id_rsa"), "/home/u/.ssh/id_rsa");
        assert_eq!(n("~"), "/home/u");
        assert_eq!(n("$HOME/.aws/credentials"), "/home/u/.aws/credentials");
        assert_eq!(n("${HOME}/.netrc"), "/home/u/.netrc");
        assert_eq!(n(".env"), "/home/u/project/.env");
        assert_eq!(n("./src/../.env"), "/home/u/project/.env");
        assert_eq!(n("../../../etc//shadow"), "/etc/shadow");
        assert_eq!(n("/../../etc/./passwd"), "/etc/passwd");
        assert_eq!(n("~user/x"), "/home/u/project/~user/x");
        assert_eq!(n("$HOMEDIR/x"), "/home/u/project/$HOMEDIR/x");
        assert_eq!(n("/"), "/");
        assert!(normalize_path(
            "a\0b",
            &PathContext {
                home: "/h",
                cwd: "/"
            }
        )
        .is_err());
    }

    #[test]
    fn home_form_only_under_home() {
        let mut b = String::new();
        assert_eq!(
            home_form("/home/u/.ssh/x", "/home/u", &mut b),
            Some("~/.ssh/x")
        );
        assert_eq!(home_form("/home/u", "/home/u", &mut b), Some("~"));
        assert_eq!(home_form("/home/user2/.ssh/x", "/home/u", &mut b), None);
        assert_eq!(home_form("/etc/passwd", "/", &mut b), None);
    }
}
