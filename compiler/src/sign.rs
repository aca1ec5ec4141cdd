//! Signing bundles (`crustc --sign KEY`) and making a signing key (`crust keygen FILE`), in
//! minisign's format: the signature file sits beside the bundle as `policy.bin.minisig`, its
//! signed trusted comment carries the bundle's serial (`docs/TEAM.md`), and the minisign CLI
//! reads both keys and signatures.

use crust_runtime::bundle::signed::{CHANNEL_FIELD, SERIAL_FIELD, SIG_SUFFIX};
use std::path::{Path, PathBuf};

/// The environment variable that holds the password of an encrypted secret key (keys made by
/// `minisign -G`); keys made by `crust keygen` are not encrypted and are kept private by their
/// file mode.
pub const PASSWORD_ENV: &str = "CRUST_SIGNING_PASSWORD";

/// Where a bundle's signature goes.
pub fn sig_path(bundle: &Path) -> PathBuf {
    let mut s = bundle.as_os_str().to_owned();
    s.push(SIG_SUFFIX);
    PathBuf::from(s)
}

/// Signs `bundle` with the secret key in `key`; the serial orders bundles (default: the time
/// of signing in seconds, so later builds are newer). Returns the signature file's text.
pub fn sign(
    bundle: &[u8],
    key: &Path,
    serial: u64,
    channel: Option<&str>,
) -> Result<String, String> {
    if let Some(c) = channel {
        if c.is_empty() || c.chars().any(|ch| ch.is_whitespace() || ch.is_control()) {
            return Err(format!("--channel {c:?}: one word, no spaces"));
        }
    }
    let text = std::fs::read_to_string(key)
        .map_err(|e| format!("cannot read the signing key `{}`: {e}", key.display()))?;
    let sk_box = minisign::SecretKeyBox::from_string(&text)
        .map_err(|e| format!("`{}` is not a minisign secret key: {e}", key.display()))?;
    let sk = match std::env::var(PASSWORD_ENV) {
        Ok(pw) => sk_box.into_secret_key(Some(pw)),
        Err(_) => sk_box.into_unencrypted_secret_key(),
    }
    .map_err(|e| {
        format!(
            "cannot open the signing key `{}` (an encrypted key needs its password in \
             ${PASSWORD_ENV}): {e}",
            key.display()
        )
    })?;
    let checksum = crust_runtime::Bundle::from_bytes(bundle)
        .map(|b| format!("{:016x}", b.checksum()))
        .map_err(|e| format!("refusing to sign a bundle that does not load: {e}"))?;
    let mut trusted = format!("{SERIAL_FIELD}{serial} crust-checksum:{checksum}");
    if let Some(c) = channel {
        trusted.push_str(&format!(" {CHANNEL_FIELD}{c}"));
    }
    let sig = minisign::sign(
        None,
        &sk,
        std::io::Cursor::new(bundle),
        Some(&trusted),
        Some("signature of a Crust policy bundle"),
    )
    .map_err(|e| format!("signing failed: {e}"))?;
    Ok(sig.into_string())
}

/// Writes a new key pair: `path` (secret, mode 0600, not encrypted) and `path.pub`. Refuses to
/// overwrite either.
pub fn keygen(path: &Path) -> Result<PathBuf, String> {
    let public = {
        let mut s = path.as_os_str().to_owned();
        s.push(".pub");
        PathBuf::from(s)
    };
    for p in [path, public.as_path()] {
        if p.exists() {
            return Err(format!("`{}` exists; not overwritten", p.display()));
        }
    }
    let kp = minisign::KeyPair::generate_unencrypted_keypair()
        .map_err(|e| format!("cannot make a key: {e}"))?;
    let sk = kp
        .sk
        .to_box(Some("Crust bundle signing key"))
        .map_err(|e| e.to_string())?
        .into_string();
    let pk = kp.pk.to_box().map_err(|e| e.to_string())?.into_string();
    write_private(path, sk.as_bytes())
        .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
    std::fs::write(&public, pk).map_err(|e| format!("cannot write `{}`: {e}", public.display()))?;
    Ok(public)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crust_runtime::bundle::signed::{verify, Trust};

    fn bundle() -> Vec<u8> {
        let dir = std::env::temp_dir().join(format!("crust-sign-b-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let rules = dir.join("r.yaml");
        let _ = std::fs::write(&rules, "version: 1\nrules:\n  - block: \"**/.env\"\n");
        crate::compile_paths(&[rules])
            .map(|c| c.bytes)
            .unwrap_or_default()
    }

    #[test]
    fn signed_bundles_verify_and_every_tampering_is_named() {
        let dir = std::env::temp_dir().join(format!("crust-sign-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::create_dir_all(&dir);
        let key = dir.join("k");
        let public = keygen(&key);
        assert!(public.is_ok(), "{public:?}");
        assert!(keygen(&key).is_err(), "never overwrites a key");
        let trust = Trust::parse(&dir.join("k.pub").display().to_string());
        assert!(trust.is_ok());
        let Ok(trust) = trust else { return };
        let b = bundle();
        assert!(!b.is_empty());
        let sig = sign(&b, &key, 42, None);
        assert!(sig.is_ok(), "{sig:?}");
        let Ok(sig) = sig else { return };
        assert_eq!(
            verify(&b, Some(&sig), &trust),
            Ok(crust_runtime::bundle::signed::Signed {
                serial: 42,
                channel: None
            })
        );
        let chan = sign(&b, &key, 43, Some("stable")).unwrap_or_default();
        assert_eq!(
            verify(&b, Some(&chan), &trust).map(|s| s.channel),
            Ok(Some("stable".to_owned()))
        );
        assert!(sign(&b, &key, 43, Some("two words")).is_err());
        // Tampered bundle.
        let mut t = b.clone();
        if let Some(x) = t.last_mut() {
            *x ^= 1;
        }
        assert!(verify(&t, Some(&sig), &trust).is_err_and(|e| e.contains("changed after signing")));
        // Unsigned.
        assert!(verify(&b, None, &trust).is_err_and(|e| e.contains("not signed")));
        // Another key.
        let other = dir.join("o");
        let _ = keygen(&other);
        let other_sig = sign(&b, &other, 42, None).unwrap_or_default();
        assert!(verify(&b, Some(&other_sig), &trust).is_err_and(|e| e.contains("another key")));
        // A trusted comment changed (a serial raised by hand) breaks the signature.
        let raised = sig.replace("crust-serial:42", "crust-serial:99");
        assert!(verify(&b, Some(&raised), &trust).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
