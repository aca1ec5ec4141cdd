//! Text codecs the shell and code analyses share (a leaf module: it imports no analysis).

/// RFC 4648 base64 (standard or URL alphabet; whitespace and missing padding tolerated).
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            b' ' | b'\n' | b'\r' | b'\t' => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Hex digits to bytes (`xxd -r -p`); with `dump`, the hex columns of `xxd` output.
pub fn hex_decode(s: &str, dump: bool) -> Option<Vec<u8>> {
    let mut digits = String::new();
    for line in s.lines() {
        let body = if dump {
            let after = line.split_once(':').map_or(line, |(_, r)| r);
            after.split("  ").next().unwrap_or("")
        } else {
            line
        };
        digits.extend(body.chars().filter(|c| !c.is_whitespace()));
    }
    if !digits.len().is_multiple_of(2) {
        digits.pop();
    }
    let b = digits.as_bytes();
    let mut out = Vec::with_capacity(b.len() / 2);
    for pair in b.chunks(2) {
        let t = std::str::from_utf8(pair).ok()?;
        out.push(u8::from_str_radix(t, 16).ok()?);
    }
    Some(out)
}
