//! Signed bundles: a bundle travels with a minisign signature (`policy.bin.minisig`), made by
//! `crustc --sign KEY` or the minisign CLI. The signature's trusted comment (signed with it)
//! carries the bundle's serial, so a runtime can refuse a validly signed bundle that is older
//! than the one it runs (a registry rolled back, or an attacker replaying an old bundle that
//! allowed more).

use minisign_verify::{Error, PublicKey, Signature};

/// The signature file's name beside a bundle's.
pub const SIG_SUFFIX: &str = ".minisig";
/// The trusted comment's field that holds the serial.
pub const SERIAL_FIELD: &str = "crust-serial:";
/// The trusted comment's field that names the release channel (`stable`, `team-a`): a bundle
/// signed for one channel is not taken from another's reference.
pub const CHANNEL_FIELD: &str = "crust-channel:";

/// The key bundles must be signed with.
#[derive(Clone)]
pub struct Trust {
    key: PublicKey,
    id: String,
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Trust({})", self.id)
    }
}

impl Trust {
    /// A minisign public key: a `.pub` file's path, the file's text, or its base64 line.
    pub fn parse(spec: &str) -> Result<Trust, String> {
        let text = match std::fs::read_to_string(spec) {
            Ok(t) => t,
            Err(_) => spec.to_owned(),
        };
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with("untrusted comment:"))
            .unwrap_or("");
        let key = PublicKey::from_base64(line).map_err(|e| {
            format!("--trust: not a minisign public key (a .pub file or its base64 line): {e}")
        })?;
        Ok(Trust {
            id: key_id(line),
            key,
        })
    }

    /// The key's id as minisign prints it.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// What a valid signature vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub serial: u64,
    pub channel: Option<String>,
}

/// Checks `sig` (a minisign signature file's text) over `bundle` against the trusted key, and
/// reads the serial it vouches for. Every failure says which check failed.
pub fn verify(bundle: &[u8], sig: Option<&str>, trust: &Trust) -> Result<Signed, String> {
    let Some(sig) = sig else {
        return Err("the bundle is not signed (no signature beside it)".into());
    };
    let sig = Signature::decode(sig)
        .map_err(|e| format!("the bundle's signature cannot be read: {e}"))?;
    trust.key.verify(bundle, &sig, false).map_err(|e| match e {
        Error::UnexpectedKeyId => format!(
            "the bundle is signed with another key than the trusted one ({})",
            trust.id
        ),
        Error::InvalidSignature => {
            "the signature does not match the bundle: it was changed after signing".to_owned()
        }
        Error::UnexpectedAlgorithm => {
            "the signature uses minisign's legacy format, which is not accepted".to_owned()
        }
        other => format!("the signature cannot be checked: {other}"),
    })?;
    let channel = sig
        .trusted_comment()
        .split_whitespace()
        .find_map(|w| w.strip_prefix(CHANNEL_FIELD))
        .map(str::to_owned);
    let serial = sig
        .trusted_comment()
        .split_whitespace()
        .find_map(|w| w.strip_prefix(SERIAL_FIELD))
        .ok_or_else(|| {
            format!(
                "the signature carries no serial (its trusted comment has no `{SERIAL_FIELD}N`): \
                 sign bundles with `crustc --sign`, or give minisign -t \"{SERIAL_FIELD}N\""
            )
        })?
        .parse::<u64>()
        .map_err(|_| "the signature's serial is not a number".to_owned())?;
    Ok(Signed { serial, channel })
}

/// A key's id, as minisign prints it (the 8 key-id bytes after the algorithm, little-endian).
fn key_id(b64: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .ok()
        .and_then(|b| b.get(2..10).map(<[u8]>::to_vec))
        .map(|id| id.iter().rev().map(|b| format!("{b:02X}")).collect())
        .unwrap_or_else(|| "?".into())
}
