//! What the audit log keeps of a tool call's arguments: no part of a secret, whole keys
//! included, however the arguments are escaped or shortened (`audit::summarize` with the
//! built-in policy).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use crust_runtime::audit::summarize;
use crust_runtime::Engine;
use std::sync::OnceLock;

fn bundle() -> &'static Engine {
    static B: OnceLock<Engine> = OnceLock::new();
    B.get_or_init(|| {
        let bytes = crust_compiler::compile_sources(crust_compiler::builtin_sources())
            .map_err(|e| e.render())
            .unwrap()
            .bytes;
        Engine::from_bytes(&bytes).unwrap()
    })
}

/// The body lines of a key shaped like a 2048-bit RSA key in PKCS#1 PEM (23 lines of 64
/// base64 characters and a short last one, 25 lines with BEGIN and END), pseudo-random so
/// no pattern mistakes it for a placeholder.
fn key_body(seed: u64) -> Vec<String> {
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = seed | 1;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        B64[(s % 64) as usize] as char
    };
    let mut lines: Vec<String> = (0..24)
        .map(|i| (0..if i == 23 { 44 } else { 64 }).map(|_| next()).collect())
        .collect();
    lines[0].replace_range(..16, "MIIEowIBAAKCAQEA");
    lines
}

fn pem(label: &str, headers: &[&str], body: &[String], end: bool) -> String {
    let mut lines = vec![format!("-----BEGIN {label}-----")];
    lines.extend(headers.iter().map(|h| (*h).to_owned()));
    if !headers.is_empty() {
        lines.push(String::new());
    }
    lines.extend(body.iter().cloned());
    if end {
        lines.push(format!("-----END {label}-----"));
    }
    lines.join("\n") + "\n"
}

/// Pieces of 12 characters of the body found in `logged` (any of them is a leak).
fn leaks(body: &[String], logged: &str) -> Vec<String> {
    body.iter()
        .flat_map(|l| {
            (0..l.len().saturating_sub(12))
                .step_by(4)
                .map(move |k| l[k..k + 12].to_owned())
        })
        .filter(|piece| logged.contains(piece.as_str()))
        .collect()
}

fn write_call(content: &str) -> String {
    serde_json::json!({"file_path": "/home/user/project/notes.txt", "content": content}).to_string()
}

#[test]
fn a_whole_pem_key_is_masked_from_begin_to_end() {
    let body = key_body(1);
    for label in [
        "RSA PRIVATE KEY",
        "PRIVATE KEY",
        "OPENSSH PRIVATE KEY",
        "EC PRIVATE KEY",
    ] {
        let key = pem(label, &[], &body, true);
        let args = write_call(&format!("before\n{key}after"));
        // Long enough that nothing is shortened: only masking can hide the key.
        let logged = summarize(bundle(), &args, 1 << 20);
        assert!(leaks(&body, &logged).is_empty(), "{label}: {logged}");
        assert!(logged.contains("[REDACTED:private-key]"), "{logged}");
        assert!(
            logged.contains("before") && logged.contains("after"),
            "{logged}"
        );
        assert!(!logged.contains("-----END"), "{logged}");
    }
}

#[test]
fn a_key_cut_before_its_end_line_is_masked_to_the_end_of_its_body() {
    let body = key_body(2);
    let key = pem("RSA PRIVATE KEY", &[], &body[..11], false);
    let args = write_call(&key);
    let logged = summarize(bundle(), &args, 1 << 20);
    assert!(leaks(&body, &logged).is_empty(), "{logged}");
    // The JSON around it survives.
    assert!(
        logged.ends_with("\",\"file_path\":\"/home/user/project/notes.txt\"}"),
        "{logged}"
    );
    // Shortened after masking: still nothing of the key, and the marker is never cut.
    for max in [10, 30, 40, 41, 45, 60, 100] {
        let short = summarize(bundle(), &args, max);
        assert!(leaks(&body, &short).is_empty(), "{max}: {short}");
        assert!(!short.contains("[REDACTED:pri…"), "{max}: {short}");
    }
}

#[test]
fn an_encrypted_key_with_headers_is_masked_whole() {
    let body = key_body(3);
    let headers = [
        "Proc-Type: 4,ENCRYPTED",
        "DEK-Info: AES-128-CBC,0D2C1E8D6A9F4B3C2E1D0F9A8B7C6D5E",
    ];
    for end in [true, false] {
        let args = write_call(&pem("RSA PRIVATE KEY", &headers, &body, end));
        let logged = summarize(bundle(), &args, 1 << 20);
        assert!(leaks(&body, &logged).is_empty(), "end {end}: {logged}");
    }
}

#[test]
fn a_key_the_patterns_miss_is_masked_too() {
    // Lines of 32 characters: shorter than the `private-key` pattern's 40, still a key.
    let body: Vec<String> = key_body(4)
        .iter()
        .flat_map(|l| [l[..32].to_owned(), l[32..].to_owned()])
        .collect();
    let args = write_call(&pem("PRIVATE KEY", &[], &body, true));
    let logged = summarize(bundle(), &args, 1 << 20);
    assert!(leaks(&body, &logged).is_empty(), "{logged}");
}

#[test]
fn escapes_do_not_hide_a_key() {
    let body = key_body(5);
    let args = write_call(&pem("RSA PRIVATE KEY", &[], &body, true));
    // What a client may send as an OpenAI `arguments` string: `\/` and `\u002d` escapes.
    let escaped = args.replace('/', "\\/").replace('-', "\\u002d");
    let logged = summarize(bundle(), &escaped, 1 << 20);
    assert!(leaks(&body, &logged).is_empty(), "{logged}");
    // Arguments that are a JSON string inside JSON (escaped twice).
    let twice = serde_json::Value::String(args).to_string();
    let logged = summarize(bundle(), &twice, 1 << 20);
    assert!(leaks(&body, &logged).is_empty(), "{logged}");
}

#[test]
fn a_shell_command_with_a_key_is_masked_whole() {
    let body = key_body(6);
    let key = pem("OPENSSH PRIVATE KEY", &[], &body, true);
    let args = serde_json::json!({"command": format!("printf '%s' '{key}' > ~/.ssh/id && chmod 600 ~/.ssh/id")})
        .to_string();
    let logged = summarize(bundle(), &args, 1 << 20);
    assert!(leaks(&body, &logged).is_empty(), "{logged}");
    assert!(logged.contains("chmod 600"), "{logged}");
}

#[test]
fn pgp_and_putty_keys_are_masked_whole() {
    let body = key_body(7);
    let pgp = pem("PGP PRIVATE KEY BLOCK", &["Version: GnuPG v2"], &body, true);
    let logged = summarize(bundle(), &write_call(&pgp), 1 << 20);
    assert!(leaks(&body, &logged).is_empty(), "{logged}");

    let putty = format!(
        "PuTTY-User-Key-File-3: ssh-rsa\nEncryption: none\nComment: rsa-key\nPublic-Lines: 2\n{}\n{}\nPrivate-Lines: 20\n{}\nPrivate-MAC: 8f0e1d2c3b4a59687766554433221100ffeeddccbbaa99887766554433221100\n",
        body[0],
        body[1],
        body[2..22].join("\n")
    );
    let logged = summarize(bundle(), &write_call(&format!("{putty}tail")), 1 << 20);
    assert!(leaks(&body, &logged).is_empty(), "{logged}");
    assert!(!logged.contains("8f0e1d2c3b4a5968"), "{logged}");
    let cut = putty.lines().take(12).collect::<Vec<_>>().join("\n");
    let logged = summarize(bundle(), &write_call(&cut), 1 << 20);
    assert!(leaks(&body, &logged).is_empty(), "{logged}");
}

#[test]
fn every_secret_is_masked_and_the_rest_kept() {
    let stripe = format!("sk_live_{}", "a1B2c3D4e5F6g7H8i9J0k1L2");
    let body = key_body(8);
    let key = pem("EC PRIVATE KEY", &[], &body[..4], true);
    let args = write_call(&format!("k1={stripe}\n{key}k2={stripe}\nplain words"));
    let logged = summarize(bundle(), &args, 1 << 20);
    assert!(!logged.contains(&stripe), "{logged}");
    assert!(leaks(&body, &logged).is_empty(), "{logged}");
    assert_eq!(
        logged.matches("[REDACTED:stripe-secret-key]").count(),
        2,
        "{logged}"
    );
    assert!(logged.contains("plain words"), "{logged}");
}
