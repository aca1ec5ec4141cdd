//! The secret table as the bundle stores it: credential formats, placeholders and credential
//! variables. The scanner that uses it is `crate::secrets`.

use serde::{Deserialize, Serialize};

/// The secret formats as the bundle stores them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SecretTable {
    pub formats: Vec<SecretFormat>,
    /// Text that marks a match as a placeholder (`EXAMPLE`, `xxxx`), ASCII case-insensitive.
    pub placeholders: Vec<String>,
    /// The automaton section with one anchored pattern per format, in format order (set by
    /// the compiler; `None` when there are no formats).
    pub section: Option<u32>,
    /// Environment variables that hold one service's credential, and the hosts of that
    /// service: the value sent to any other host is exposed.
    #[serde(default)]
    pub variables: Vec<SecretVariable>,
}

/// The most [`SecretVariable`] entries: the shell analysis tracks them as bits of a word.
pub const MAX_SECRET_VARIABLES: usize = 63;

/// One service's credential variables (`GITHUB_TOKEN`, `GH_TOKEN`) and its hosts
/// (`github.com`, `*.github.com`); no hosts: the value is never sent as it is (AWS signs
/// requests with its secret key).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SecretVariable {
    pub names: Vec<String>,
    pub hosts: Vec<String>,
}

impl SecretVariable {
    /// Whether `host` (lower-case) is one of this service's: a name listed, or below a
    /// `*.domain` entry.
    pub fn allows(&self, host: &str) -> bool {
        self.hosts.iter().any(|h| match h.strip_prefix("*.") {
            Some(domain) => host
                .strip_suffix(domain)
                .is_some_and(|rest| rest.ends_with('.')),
            None => h == host,
        })
    }
}

/// One credential format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretFormat {
    /// The value the `secret` field reports, e.g. `github-classic-token`.
    pub id: String,
    pub description: String,
    /// The pattern as written (its automaton is in the secret section).
    pub regex: String,
    /// Literals one of which starts every match; derived from the regex by the compiler.
    pub prefixes: Vec<Vec<u8>>,
    pub check: SecretCheck,
    /// Published example values (and, for `uri-password`, well-known default passwords) that
    /// are never reported.
    pub examples: Vec<String>,
}

/// What a match must satisfy besides its pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SecretCheck {
    None,
    /// The last 6 characters are the base62 CRC32 of the 30 before them (GitHub, npm).
    Crc32Base62,
    /// A Bech32 string with a valid checksum (age secret keys).
    Bech32,
    /// The first dot-separated part is base64url JSON naming an `alg` (JSON Web Tokens).
    Jwt,
    /// `scheme://user:password@host` where the password is neither a reference (`$VAR`,
    /// `${...}`, `<...>`) nor a well-known default.
    UriPassword,
}

impl SecretCheck {
    pub const NAMES: [(&'static str, SecretCheck); 5] = [
        ("none", SecretCheck::None),
        ("crc32-base62", SecretCheck::Crc32Base62),
        ("bech32", SecretCheck::Bech32),
        ("jwt", SecretCheck::Jwt),
        ("uri-password", SecretCheck::UriPassword),
    ];
}
