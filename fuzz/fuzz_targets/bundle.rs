//! The built-in bundle with fuzzer-chosen edits (bytes overwritten, inserted, removed, the
//! file cut), loaded as `crust-runtime` loads a file. Loading must never panic, and a bundle
//! whose bytes changed without its checksum being made to fit is always refused: a torn or
//! flipped file can never become a policy. With the first input byte odd, the checksum is
//! recomputed after the edits, so the structural validation behind it is fuzzed too (there,
//! only the absence of panics is checked).
#![no_main]

use crust_runtime::bundle::format;
use crust_runtime::Engine;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, edits)) = data.split_first() else {
        return;
    };
    let original = crust_fuzz::bundle_bytes();
    let mut b = original.to_vec();
    // Edits are 4-byte records: kind, offset (two bytes, scaled over the file), value.
    for e in edits.chunks_exact(4) {
        let (kind, hi, lo, value) = (e[0], e[1], e[2], e[3]);
        if b.is_empty() {
            break;
        }
        let at = (usize::from(hi) << 8 | usize::from(lo)) * b.len() / 65_536;
        match kind % 4 {
            0 => b[at] = value,
            1 => b.insert(at, value),
            2 => {
                b.remove(at);
            }
            _ => b.truncate(at),
        }
    }
    if mode & 1 == 1 && b.len() >= format::CHECKSUM_FROM {
        let sum = format::checksum(&b[format::CHECKSUM_FROM..]);
        b[8..16].copy_from_slice(&sum.to_le_bytes());
        let _ = Engine::from_bytes(&b);
        return;
    }
    let loaded = Engine::from_bytes(&b);
    if b.as_slice() != original && loaded.is_ok() {
        eprintln!("a changed bundle was accepted ({} bytes)", b.len());
        std::process::abort();
    }
});
