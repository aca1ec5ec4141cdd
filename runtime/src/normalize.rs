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
    let folded = fold_text(raw);
    let raw = folded.as_ref();
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
    // One allocation: the result is never longer than both inputs and a separator.
    let mut out = String::with_capacity(raw.len() + base.len() + 1);
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
    // Byte scans: `/` is ASCII, so every cut is on a character boundary, and short paths
    // do not pay for `str::split`'s searcher setup.
    let mut rest = path;
    loop {
        let cut = rest.bytes().position(|b| b == b'/');
        let comp = cut.map_or(rest, |k| rest.get(..k).unwrap_or(""));
        match comp {
            "" | "." => {}
            ".." => {
                let at = out.bytes().rposition(|b| b == b'/').unwrap_or(0);
                out.truncate(at);
            }
            c => {
                out.push('/');
                out.push_str(c);
            }
        }
        match cut {
            Some(k) => rest = rest.get(k + 1..).unwrap_or(""),
            None => break,
        }
    }
}

/// Unicode folding for matching: NFKC, invisible and stray combining characters removed,
/// look-alike letters folded to Latin (`.ѕsh` -> `.ssh`). ASCII text is returned as is.
pub fn fold_text(s: &str) -> std::borrow::Cow<'_, str> {
    use unicode_normalization::UnicodeNormalization;
    if s.is_ascii() {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    for c in s.nfkc() {
        if is_invisible(c) {
            continue;
        }
        out.push(fold_confusable(c));
    }
    std::borrow::Cow::Owned(out)
}

fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}'
        | '\u{E0000}'..='\u{E007F}'
        // Combining marks left over after composition (`.env` + U+0308).
        | '\u{0300}'..='\u{036F}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}'
        | '\u{20D0}'..='\u{20FF}' | '\u{FE20}'..='\u{FE2F}')
}

/// Cyrillic, Greek and other letters that render like Latin ones (after NFKC, which already
/// folds full-width and mathematical forms).
const CONFUSABLES: &[(char, char)] = &[
    ('а', 'a'),
    ('в', 'b'),
    ('с', 'c'),
    ('ԁ', 'd'),
    ('е', 'e'),
    ('һ', 'h'),
    ('і', 'i'),
    ('ј', 'j'),
    ('к', 'k'),
    ('ӏ', 'l'),
    ('м', 'm'),
    ('п', 'n'),
    ('о', 'o'),
    ('р', 'p'),
    ('ԛ', 'q'),
    ('г', 'r'),
    ('ѕ', 's'),
    ('т', 't'),
    ('ц', 'u'),
    ('ѵ', 'v'),
    ('ԝ', 'w'),
    ('х', 'x'),
    ('у', 'y'),
    ('ʐ', 'z'),
    ('ё', 'e'),
    ('ї', 'i'),
    ('ԍ', 'g'),
    ('А', 'A'),
    ('В', 'B'),
    ('С', 'C'),
    ('Е', 'E'),
    ('Н', 'H'),
    ('І', 'I'),
    ('Ј', 'J'),
    ('К', 'K'),
    ('М', 'M'),
    ('О', 'O'),
    ('Р', 'P'),
    ('Ѕ', 'S'),
    ('Т', 'T'),
    ('Х', 'X'),
    ('У', 'Y'),
    ('Ԝ', 'W'),
    ('α', 'a'),
    ('β', 'b'),
    ('ε', 'e'),
    ('ι', 'i'),
    ('κ', 'k'),
    ('ν', 'v'),
    ('ο', 'o'),
    ('ρ', 'p'),
    ('τ', 't'),
    ('υ', 'u'),
    ('χ', 'x'),
    ('γ', 'y'),
    ('ω', 'w'),
    ('Α', 'A'),
    ('Β', 'B'),
    ('Ε', 'E'),
    ('Ζ', 'Z'),
    ('Η', 'H'),
    ('Ι', 'I'),
    ('Κ', 'K'),
    ('Μ', 'M'),
    ('Ν', 'N'),
    ('Ο', 'O'),
    ('Ρ', 'P'),
    ('Τ', 'T'),
    ('Υ', 'Y'),
    ('Χ', 'X'),
    ('ı', 'i'),
    ('ȷ', 'j'),
    ('ɡ', 'g'),
    ('ɑ', 'a'),
    ('ʏ', 'y'),
    ('ℓ', 'l'),
    ('∕', '/'),
    ('⁄', '/'),
    ('／', '/'),
    ('․', '.'),
    ('‧', '.'),
    ('。', '.'),
    ('﹒', '.'),
    ('ꓸ', '.'),
];

fn fold_confusable(c: char) -> char {
    if c.is_ascii() {
        return c;
    }
    CONFUSABLES
        .iter()
        .find(|(k, _)| *k == c)
        .map_or(c, |(_, v)| *v)
}

/// The host of a URL or of a bare `host[:port][/path]`, normalized: lower-case, without a
/// trailing dot, Unicode folded, and IPv4 addresses in any spelling (`2852039166`,
/// `0xA9FEA9FE`, `0251.0376.0251.0376`, `169.254.43518`, `::ffff:a9fe:a9fe`) as dotted quads.
/// Whether a host (as [`host_of`] gives it) is this machine: a loopback name or address.
pub fn is_local_host(h: &str) -> bool {
    h == "localhost"
        || h.ends_with(".localhost")
        || h == "::1"
        || h == "0.0.0.0"
        || h.strip_prefix("127.")
            .is_some_and(|r| r.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
}

pub fn host_of(s: &str) -> Option<String> {
    let folded = fold_text(s);
    let s = folded.as_ref();
    let rest = match s.find("://") {
        Some(i) => s.get(i + 3..)?,
        None => s,
    };
    // Text the analysis could not work out right after a known host (`http://169.254.170.2$P`,
    // as container credentials are fetched) most often starts the path: the known part is
    // judged as the host. (Where it extends the host instead, the name is one no rule lists.)
    let authority = rest.split(['/', '?', '#', '\\', UNKNOWN, SUBTREE]).next()?;
    let hostport = authority.rsplit('@').next()?;
    let host = if let Some(v6) = hostport.strip_prefix('[') {
        v6.split(']').next()?
    } else if hostport.matches(':').count() > 1 {
        hostport
    } else {
        hostport.split(':').next()?
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let plausible = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
        && (host.contains('.') || host.contains(':') || host == "localhost" || s.contains("://"));
    if !plausible {
        return None;
    }
    Some(canonical_ip(&host).unwrap_or(host))
}

/// The IPv4 addresses written inside a host name. Wildcard DNS services (`169.254.169.254.nip.io`,
/// `app-10-0-0-1.sslip.io`, `a9fea9fe.nip.io`) and rebinding services
/// (`7f000001.a9fea9fe.rbndr.us`, `make-169.254.169.254-rebind-…`) answer with the address the
/// name spells, and new ones appear all the time: any name is also judged as each address it
/// spells, so a name cannot hide a metadata endpoint or a private network.
pub fn addresses_in_name(host: &str) -> Vec<String> {
    let mut out = Vec::new();
    if host.contains(':') || canonical_ip(host).is_some() {
        return out;
    }
    // Runs of decimal octets joined by `.` or `-`: every four in a row spell an address.
    let mut run: Vec<u8> = Vec::new();
    let flush = |run: &mut Vec<u8>, out: &mut Vec<String>| {
        for w in run.windows(4) {
            if let [a, b, c, d] = w {
                out.push(format!("{a}.{b}.{c}.{d}"));
            }
        }
        run.clear();
    };
    let mut rest = host;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let (word, after) = rest.split_at(digits.max(1));
        let octet = (digits > 0).then(|| word.parse::<u8>().ok()).flatten();
        match octet {
            Some(o) if after.is_empty() || after.starts_with(['.', '-']) => {
                run.push(o);
                rest = after.get(1..).unwrap_or("");
            }
            _ => {
                flush(&mut run, &mut out);
                // Skip to the next label or dash-separated part.
                let next = rest.find(['.', '-']).map_or(rest.len(), |i| i + 1);
                rest = rest.get(next.max(1)..).unwrap_or("");
            }
        }
    }
    flush(&mut run, &mut out);
    // One 32-bit number in a part: eight hex digits (`a9fea9fe`), `0x…`, or a long decimal.
    for part in host.split(['.', '-']) {
        let hex = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X"));
        let n = if part.len() == 8 && part.chars().all(|c| c.is_ascii_hexdigit()) {
            u32::from_str_radix(part, 16).ok()
        } else if let Some(h) = hex.filter(|h| (1..=8).contains(&h.len())) {
            u32::from_str_radix(h, 16).ok()
        } else if (9..=10).contains(&part.len()) && part.chars().all(|c| c.is_ascii_digit()) {
            part.parse::<u32>().ok()
        } else {
            None
        };
        out.extend(n.map(quad));
    }
    out.sort();
    out.dedup();
    // A name holds at most 253 bytes, so at most about 120 addresses: no cap is needed, and
    // one would let a name push the address that matters out.
    out
}

/// An IPv4 address written in any form `inet_aton` accepts, or an IPv4-mapped IPv6 address,
/// as a dotted quad.
pub fn canonical_ip(h: &str) -> Option<String> {
    if let Some(rest) = h
        .strip_prefix("::ffff:")
        .or_else(|| h.strip_prefix("0:0:0:0:0:ffff:"))
    {
        if rest.contains('.') {
            return canonical_ip(rest);
        }
        let (a, b) = rest.split_once(':')?;
        let a = u32::from_str_radix(a, 16).ok()?;
        let b = u32::from_str_radix(b, 16).ok()?;
        if a > 0xffff || b > 0xffff {
            return None;
        }
        return Some(quad((a << 16) | b));
    }
    let parts: Vec<&str> = h.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut nums = Vec::with_capacity(4);
    for p in &parts {
        let v = if let Some(x) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
            u64::from_str_radix(x, 16).ok()?
        } else if p.len() > 1 && p.starts_with('0') {
            u64::from_str_radix(p, 8).ok()?
        } else {
            p.parse::<u64>().ok()?
        };
        nums.push(v);
    }
    let (last, head) = nums.split_last()?;
    let mut v: u64 = 0;
    for (i, &n) in head.iter().enumerate() {
        if n > 255 {
            return None;
        }
        v |= n << (24 - 8 * i);
    }
    let room = 32 - 8 * head.len() as u32;
    if *last >= (1u64 << room) {
        return None;
    }
    v |= last;
    Some(quad(v as u32))
}

fn quad(v: u32) -> String {
    let [a, b, c, d] = v.to_be_bytes();
    format!("{a}.{b}.{c}.{d}")
}

/// Stands for text the analysis could not know (an unset variable, a substitution's output).
/// At the start of a path it may be any absolute path; after a known directory it stands for
/// one name there (`build/$F`), dot names included.
pub const UNKNOWN: char = '\u{E000}';

/// Stands for everything below a directory that a command reaches as a whole (`tar`, `grep -r`,
/// `find`, `**` outside the project): any bytes, hidden directories included (a written `**`
/// inside the project does not enter hidden directories, as bash and ripgrep do not).
pub const SUBTREE: char = '\u{E001}';

/// Whether a normalized path lies in the project: the working directory or below it, when
/// that directory is neither `/` nor the home directory or one of its ancestors. Recursive
/// reach inside the project is ordinary work (`rm -rf target/`); anywhere else it may reach
/// what is protected.
pub fn within_project(path: &str, cwd: &str, home: &str) -> bool {
    let under = |p: &str, dir: &str| {
        p == dir
            || (p.starts_with(dir) && (dir == "/" || p.as_bytes().get(dir.len()) == Some(&b'/')))
    };
    cwd != "/" && !holds_home(cwd, home) && under(path, cwd)
}

/// A glob given to a tool (Glob) outside the project may reach anything: the tool's `**` may
/// enter hidden directories. Inside the project it keeps the shell's meaning. (Shell globs
/// always keep bash's meaning: `*` and `**` do not match hidden names.)
pub fn deepen_glob(glob: &str, cwd: &str, home: &str) -> String {
    if within_project(glob, cwd, home) {
        glob.to_owned()
    } else {
        glob.replace("**", &SUBTREE.to_string())
    }
}

/// The home directory a normalized directory lies in (`/home/u/src` -> `/home/u`,
/// `/Users/u`, `/root`), when it lies in one of the usual places.
pub fn home_of(dir: &str) -> Option<&str> {
    if dir == "/root" || dir.starts_with("/root/") {
        return dir.get(..5);
    }
    for base in ["/home/", "/Users/"] {
        if let Some(rest) = dir.strip_prefix(base) {
            let user = rest.split('/').next().unwrap_or("");
            if !user.is_empty() {
                return dir.get(..base.len() + user.len());
            }
        }
    }
    None
}

/// The home directory to judge with when whose home it is cannot be known (a central gateway
/// with no word from the client): every `/home/NAME`, `/Users/NAME` and `/root` counts as the
/// home, which errs toward blocking. `~` stands for this placeholder user's home.
pub const ANY_HOME: &str = "/home/\u{E003}";

/// What follows the home directory in a normalized path (`""` for the home itself, `"/x"`
/// below it), or `None` when the path is not in it. With [`ANY_HOME`], any user's home.
pub fn home_rest<'p>(path: &'p str, home: &str) -> Option<&'p str> {
    if home.len() <= 1 {
        return None;
    }
    let rest = if home == ANY_HOME {
        path.get(home_of(path)?.len()..)?
    } else {
        path.strip_prefix(home)?
    };
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// Whether `dir` is the home directory or one of its ancestors (with [`ANY_HOME`]: of any
/// user's home).
pub fn holds_home(dir: &str, home: &str) -> bool {
    let under = |p: &str, d: &str| {
        p == d || (p.starts_with(d) && (d == "/" || p.as_bytes().get(d.len()) == Some(&b'/')))
    };
    if home == ANY_HOME {
        return matches!(dir, "/" | "/home" | "/Users" | "/root") || home_of(dir) == Some(dir);
    }
    under(home, dir)
}

/// The home-relative form of a normalized path (`/home/u/.ssh/x` -> `~/.ssh/x`), or `None`
/// if the path is not under `home`.
pub fn home_form<'p>(path: &'p str, home: &str, buf: &'p mut String) -> Option<&'p str> {
    let rest = home_rest(path, home)?;
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
    fn folds_unicode_tricks() {
        assert_eq!(n("~/.\u{0455}sh/id_rsa"), "/home/u/.ssh/id_rsa");
        assert_eq!(n("~/.s\u{200b}sh/id_rsa"), "/home/u/.ssh/id_rsa");
        assert_eq!(n("/srv/.env\u{0308}"), "/srv/.env");
        assert_eq!(n("\u{ff0e}env"), "/home/u/project/.env");
    }

    #[test]
    fn hosts_in_every_spelling() {
        for h in [
            "http://169.254.169.254/latest",
            "http://2852039166/",
            "http://0xA9FEA9FE/",
            "http://0251.0376.0251.0376/",
            "http://169.254.43518/",
            "http://[::ffff:169.254.169.254]/",
            "http://[::ffff:a9fe:a9fe]/",
            "169.254.169.254.",
            "http://169.254.169.254\u{E000}",
        ] {
            assert_eq!(host_of(h).as_deref(), Some("169.254.169.254"), "{h}");
        }
        for h in [
            "169.254.169.254.nip.io",
            "app.169.254.169.254.sslip.io",
            "meta-169-254-169-254.sslip.io",
            "a9fea9fe.nip.io",
            "0xa9fea9fe.sslip.io",
            "2852039166.example.net",
            "7f000001.a9fea9fe.rbndr.us",
            "make-169.254.169.254-rebind-127.0.0.1-rr.1u.ms",
            "x.169-254.169-254.example.org",
            "100.101.102.103.104.105.106.107.108.109.169.254.169.254.nip.io",
        ] {
            let found = addresses_in_name(h);
            assert!(
                found.iter().any(|a| a == "169.254.169.254"),
                "{h}: {found:?}"
            );
        }
        // Names without an address in them, and addresses themselves, add nothing.
        for h in [
            "myapp.nip.io",
            "nip.io",
            "api.github.com",
            "v1-2-3.example.com",
            "169.254.169.254",
            "fd00:ec2::254",
            "abc.0x.example",
            "s3-us-west-2.amazonaws.com",
        ] {
            assert!(addresses_in_name(h).is_empty(), "{h}");
        }
        assert_eq!(
            host_of("https://myapp.nip.io/").as_deref(),
            Some("myapp.nip.io")
        );
        assert_eq!(host_of("https://nip.io/").as_deref(), Some("nip.io"));
        assert_eq!(
            host_of("https://Example.COM./x").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            host_of("https://[fd00:ec2::254]/").as_deref(),
            Some("fd00:ec2::254")
        );
        assert_eq!(host_of("README"), None);
    }

    #[test]
    fn any_home_is_every_users_home() {
        let mut b = String::new();
        for (path, form) in [
            ("/home/alice/.ssh/id_rsa", Some("~/.ssh/id_rsa")),
            ("/Users/bob/.aws/credentials", Some("~/.aws/credentials")),
            ("/root/.netrc", Some("~/.netrc")),
            ("/home/alice", Some("~")),
            // Near misses: not in a user's home.
            ("/srv/alice/.ssh/id_rsa", None),
            ("/home", None),
            ("/rootkit/.ssh/id_rsa", None),
        ] {
            assert_eq!(home_form(path, ANY_HOME, &mut b), form, "{path}");
        }
        // `~` resolves to a placeholder home that is itself a home.
        let ctx = PathContext {
            home: ANY_HOME,
            cwd: "/srv/app",
        };
        let key = normalize_path("~/.ssh/id_rsa", &ctx).unwrap_or_default();
        assert_eq!(home_form(&key, ANY_HOME, &mut b), Some("~/.ssh/id_rsa"));
        // The project is never a home or one of their parents.
        assert!(!within_project("/home/alice/x", "/home/alice", ANY_HOME));
        assert!(!within_project("/home/x", "/home", ANY_HOME));
        assert!(within_project(
            "/home/alice/app/x",
            "/home/alice/app",
            ANY_HOME
        ));
        assert!(within_project("/srv/app/x", "/srv/app", ANY_HOME));
    }

    #[test]
    fn the_home_a_directory_lies_in() {
        assert_eq!(home_of("/home/alice/src/app"), Some("/home/alice"));
        assert_eq!(home_of("/home/alice"), Some("/home/alice"));
        assert_eq!(home_of("/Users/bob/x"), Some("/Users/bob"));
        assert_eq!(home_of("/root/work"), Some("/root"));
        // Near misses: not inside one user's home.
        assert_eq!(home_of("/home"), None);
        assert_eq!(home_of("/home/"), None);
        assert_eq!(home_of("/rootfs/x"), None);
        assert_eq!(home_of("/srv/app"), None);
    }

    #[test]
    fn project_is_the_cwd_unless_it_holds_home() {
        let p = "/home/u/project";
        assert!(within_project("/home/u/project", p, "/home/u"));
        assert!(within_project("/home/u/project/target", p, "/home/u"));
        assert!(!within_project("/home/u/project2/x", p, "/home/u"));
        assert!(!within_project("/home/u/.ssh", p, "/home/u"));
        assert!(!within_project("/home/u/x", "/home/u", "/home/u"));
        assert!(!within_project("/home/u/x", "/home", "/home/u"));
        assert!(!within_project("/srv/x", "/", "/home/u"));
        assert!(within_project("/home/user2/x", "/home/user2", "/home/user"));
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
