//! Audit log chunk corruption: a valid log of up to six chunks, sealed to one identity, is
//! damaged as the input says (bytes flipped, inserted, deleted, headers and chunks copied in,
//! the file cut), then read back. The reader must not panic; must account for every byte (in a
//! chunk read, or in a damaged region it reports); must read every chunk whose bytes came
//! through untouched; and can read nothing that was not in the log (age authenticates every
//! chunk), so every record it returns is one of the originals.
#![no_main]

use age::x25519::Identity;
use crust_runtime::audit::{frame, read_chunks, LogRead, Record};
use libfuzzer_sys::fuzz_target;
use std::path::Path;
use std::sync::OnceLock;

/// The log the inputs damage: its bytes, each chunk's byte range and records.
struct Log {
    identity: Identity,
    bytes: Vec<u8>,
    chunks: Vec<(usize, usize, Vec<Record>)>,
}

const CHUNKS: usize = 6;

fn record(n: usize) -> Record {
    Record {
        time_ms: 1_795_000_000_000 + n as u64,
        session: None,
        agent: Some("fuzz".into()),
        user: None,
        api: "anthropic-messages".into(),
        side: "response".into(),
        tool: "Bash".into(),
        call_id: None,
        args: format!("{{\"command\":\"echo {n}\"}}"),
        decision: "allow".into(),
        rule: None,
        severity: None,
        eval_ns: 1,
        bundle: "fuzz".into(),
        bundle_checksum: "00".into(),
        dropped_before: None,
    }
}

/// Sealed once per process: the identity is fixed for the run. (Chunk bytes differ between
/// runs whatever the key, since age draws a fresh ephemeral key and nonce per chunk; chunk
/// lengths and layout do not, and they are what the inputs' offsets refer to.)
fn log() -> &'static Log {
    static LOG: OnceLock<Log> = OnceLock::new();
    LOG.get_or_init(|| {
        let identity = Identity::generate();
        let mut bytes = Vec::new();
        let mut chunks = Vec::new();
        let mut n = 0;
        for k in 0..CHUNKS {
            // Chunks of 1 to 3 records: different lengths.
            let records: Vec<Record> = (0..1 + k % 3)
                .map(|_| {
                    n += 1;
                    record(n)
                })
                .collect();
            let Ok(f) = frame(&records, &[identity.to_public()]) else {
                eprintln!("cannot seal a chunk");
                std::process::abort();
            };
            chunks.push((bytes.len(), bytes.len() + f.len(), records));
            bytes.extend_from_slice(&f);
        }
        Log {
            identity,
            bytes,
            chunks,
        }
    })
}

/// The damaged file, and for each of its bytes the offset in the original log it came from
/// (`None` for bytes changed or added).
struct Damaged {
    bytes: Vec<u8>,
    origin: Vec<Option<usize>>,
}

impl Damaged {
    fn insert(&mut self, at: usize, new: &[u8]) {
        let at = at.min(self.bytes.len());
        self.bytes.splice(at..at, new.iter().copied());
        self.origin
            .splice(at..at, std::iter::repeat_n(None, new.len()));
    }
}

fuzz_target!(|data: &[u8]| {
    let log = log();
    let Some((&first, mut ops)) = data.split_first() else {
        return;
    };
    let n = 1 + first as usize % CHUNKS;
    let end = log.chunks.get(n - 1).map_or(0, |c| c.1);
    let mut d = Damaged {
        bytes: log.bytes.get(..end).unwrap_or(&[]).to_vec(),
        origin: (0..end).map(Some).collect(),
    };
    // Each operation is four bytes: kind, position (u16, little-endian, modulo the length),
    // argument; an insertion takes its bytes from the input after it.
    while let [kind, p0, p1, arg, rest @ ..] = ops {
        ops = rest;
        let len = d.bytes.len();
        let pos = usize::from(u16::from_le_bytes([*p0, *p1])) % (len + 1);
        let arg = usize::from(*arg);
        match kind % 7 {
            0 => {
                if let (Some(b), Some(o)) = (d.bytes.get_mut(pos), d.origin.get_mut(pos)) {
                    *b ^= (arg as u8).max(1);
                    *o = None;
                }
            }
            1 => {
                let take = (arg % 48 + 1).min(ops.len());
                let (new, rest) = ops.split_at(take);
                d.insert(pos, new);
                ops = rest;
            }
            2 => {
                let to = (pos + arg % 64 + 1).min(len);
                d.bytes.drain(pos..to);
                d.origin.drain(pos..to);
            }
            3 => {
                d.bytes.truncate(pos);
                d.origin.truncate(pos);
            }
            // The start of a real frame (magic, header, some ciphertext): a false frame start.
            4 => {
                let (s, e, _) = &log.chunks[arg % CHUNKS];
                let take = (arg % 40 + 1).min(e - s);
                d.insert(pos, &log.bytes[*s..s + take]);
            }
            // A whole chunk copied in: read twice is allowed, swallowing a neighbour is not.
            5 => {
                let (s, e, _) = &log.chunks[arg % CHUNKS];
                d.insert(pos, &log.bytes[*s..*e]);
            }
            // A header whose length field is changed, with its checksum made to match.
            _ => {
                let (s, _, _) = &log.chunks[arg % CHUNKS];
                let mut h = log.bytes[*s..s + 20].to_vec();
                h[8..12].copy_from_slice(&((arg as u32) * 97).to_le_bytes());
                let sum = crc32fast::hash(&h[..16]);
                h[16..20].copy_from_slice(&sum.to_le_bytes());
                d.insert(pos, &h);
            }
        }
    }
    let mut out = LogRead::default();
    read_chunks(&d.bytes, &log.identity, Path::new("fuzz"), &mut out);

    let damaged: u64 = out.damaged.iter().map(|x| x.len).sum();
    assert_eq!(
        out.chunk_bytes + damaged,
        d.bytes.len() as u64,
        "bytes neither read nor reported damaged"
    );
    for r in &out.records {
        assert!(
            log.chunks.iter().any(|(_, _, rs)| rs.contains(r)),
            "a record that was never written: {r:?}"
        );
    }
    for (s, e, records) in log.chunks.iter().take(n) {
        let at = d.origin.iter().position(|o| *o == Some(*s));
        let intact = at.is_some_and(|p| {
            d.origin
                .get(p..p + (e - s))
                .is_some_and(|run| run.iter().zip(*s..*e).all(|(o, i)| *o == Some(i)))
        });
        if intact {
            assert!(
                out.records
                    .windows(records.len())
                    .any(|w| w == records.as_slice()),
                "an untouched chunk at {s}..{e} was not read: {:?}",
                out.damaged
            );
        }
    }
    if d.bytes == log.bytes.get(..end).unwrap_or(&[]) {
        assert!(out.damaged.is_empty(), "an intact log reported damage");
    }
});
