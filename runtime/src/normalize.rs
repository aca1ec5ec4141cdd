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
    Some(
        canonical_ip(&host)
            .or_else(|| wildcard_dns_ip(&host))
            .unwrap_or(host),
    )
}

/// Public wildcard DNS names resolve to the address written in them (`169.254.169.254.nip.io`,
/// `app-10-0-0-1.sslip.io`, `a9fea9fe.nip.io`): such a host is judged as that address, so a
/// name cannot hide a metadata endpoint or a private network.
const WILDCARD_DNS: &[&str] = &["nip.io", "sslip.io", "xip.io", "traefik.me", "nip.direct"];

fn wildcard_dns_ip(host: &str) -> Option<String> {
    let front = WILDCARD_DNS
        .iter()
        .find_map(|d| host.strip_suffix(d).and_then(|f| f.strip_suffix('.')))?;
    let labels: Vec<&str> = front.split('.').collect();
    if labels.len() >= 4 {
        let quad = labels.get(labels.len() - 4..)?.join(".");
        if let Some(ip) = canonical_ip(&quad).filter(|_| quad.split('.').all(|p| !p.is_empty())) {
            return Some(ip);
        }
    }
    let last = labels.last()?;
    let dashed: Vec<&str> = last.rsplit('-').take(4).collect();
    if dashed.len() == 4 {
        let quad: Vec<&str> = dashed.into_iter().rev().collect();
        if let Some(ip) = canonical_ip(&quad.join(".")) {
            return Some(ip);
        }
    }
    let hex = last.rsplit('-').next()?;
    if hex.len() == 8 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return u32::from_str_radix(hex, 16).ok().map(quad);
    }
    // One number in any base `inet_aton` reads (`0xa9fea9fe`, `2852039166`).
    canonical_ip(hex).filter(|_| hex.starts_with(|c: char| c.is_ascii_digit()))
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
    cwd != "/" && !under(home, cwd) && under(path, cwd)
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
            "http://169.254.169.254.nip.io/latest",
            "http://app.169.254.169.254.sslip.io/",
            "http://meta-169-254-169-254.sslip.io/",
            "http://a9fea9fe.nip.io/",
            "http://0xa9fea9fe.sslip.io/",
            "http://169.254.169.254\u{E000}",
        ] {
            assert_eq!(host_of(h).as_deref(), Some("169.254.169.254"), "{h}");
        }
        // A wildcard DNS name without an address in it stays a name.
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
