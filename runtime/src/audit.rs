//! The encrypted audit log: every decision as one record, sealed in age-encrypted chunks.
//!
//! The request path only hands a record to a channel (`try_send`), never waits: when
//! [`LogConfig::max_unsealed`] records are already accepted and not yet written, the record is
//! counted as dropped, and the count goes into the next record written. A writer thread
//! collects records and seals them in chunks (every [`LogConfig::chunk_records`] records or
//! [`LogConfig::chunk_interval`]), each chunk an independent age file, appended with one write.
//! What a crash (`kill -9` included) can lose is therefore at most `max_unsealed` records, none
//! older than the interval. Files rotate by size and old ones are deleted past a retention
//! count.
//!
//! # On-disk format (version 2)
//!
//! A log file is a sequence of frames, each one chunk, appended whole:
//!
//! | bytes | field |
//! | --- | --- |
//! | 0..8 | magic `89 43 52 41 32 0D 0A 1A` (`\x89CRA2\r\n\x1a`) |
//! | 8..12 | ciphertext length, u32 little-endian (at most 64 MiB) |
//! | 12..16 | CRC-32 of the ciphertext, u32 little-endian |
//! | 16..20 | CRC-32 of bytes 0..16, u32 little-endian |
//! | 20.. | the ciphertext: an age file (X25519 recipients) of JSON lines, one record each |
//!
//! Every frame decodes on its own, so no damage spreads past the frame it hits. A reader
//! checks a frame in order: magic, header checksum (a flipped length is caught here, before
//! it can swallow the frames after it), length within the file, ciphertext checksum, then
//! age's own authentication (ChaCha20-Poly1305 with a header MAC) and each record. On any
//! failure it resyncs: it searches for the next magic from the byte after the failed frame's
//! start, never from where a length it cannot trust points. The magic is eight bytes with the
//! high bit set in its first (so ASCII text, such as an age header, never holds it), and it
//! also stands in ciphertext only by chance (2^-64 per position); a chance hit fails its
//! header checksum and the search goes on. The ciphertext checksum tells changed bytes from a
//! chunk sealed to other recipients, which decrypts to "no matching key" either way.
//! Skipped bytes are reported as [`Damage`] regions (where, how many, why), never silently.
//!
//! A crash or a full disk leaves a frame cut short at the end of the file. The restarted
//! writer appends after it; the reader skips the cut frame and reads every frame after it.
//!
//! Version 1 (`"CRA1"`, u32 little-endian length, ciphertext; no checksums) is still read,
//! alone or mixed with version 2 frames in one file (a log upgraded in place), with the same
//! resync; only version 2 frames are written.

const MAGIC: [u8; 8] = [0x89, b'C', b'R', b'A', b'2', b'\r', b'\n', 0x1a];
/// The version 1 frame magic (read, never written).
const MAGIC_V1: &[u8; 4] = b"CRA1";
/// Bytes before the ciphertext in a version 2 frame.
const HEADER: usize = 20;
/// Bytes before the ciphertext in a version 1 frame.
const HEADER_V1: usize = 8;
/// Largest chunk a reader accepts; a longer length field means a corrupt file.
const MAX_CHUNK: usize = 64 << 20;

use age::secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The identity file in the config directory.
pub const IDENTITY_FILE: &str = "audit-identity.txt";
/// The log file in the data directory.
pub const LOG_FILE: &str = "audit.log";

/// One decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// Session hint (a request id or conversation id when the client sends one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// Agent hint (the client's User-Agent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// The user the gateway authenticated (team mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The wire format (`anthropic-messages`, `openai-chat`, `openai-responses`).
    pub api: String,
    /// Where the call was seen: `response` (the model asked for it) or `request` (history).
    pub side: String,
    pub tool: String,
    /// The call's id in the API (`toolu_…`, `call_…`), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    /// The arguments, secrets masked, shortened.
    pub args: String,
    pub decision: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// Evaluation time in nanoseconds.
    pub eval_ns: u64,
    /// The bundle's compiler version and checksum.
    pub bundle: String,
    pub bundle_checksum: String,
    /// Records dropped since the previous record written: the writer fell behind (more than
    /// [`LogConfig::max_unsealed`] waiting) or a chunk could not be written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropped_before: Option<u64>,
}

/// Where and how the log is written.
#[derive(Debug, Clone)]
pub struct LogConfig {
    pub path: PathBuf,
    pub recipients: Vec<age::x25519::Recipient>,
    /// A chunk is sealed when it holds this many records...
    pub chunk_records: usize,
    /// ... or when its oldest record has waited this long.
    pub chunk_interval: Duration,
    /// Records accepted and not yet written to the file, at most (in the channel, pending, or
    /// being encrypted): all a crash, `kill -9` included, can lose. A record beyond it is
    /// dropped and counted, never waited for.
    pub max_unsealed: usize,
    /// Rotate when the file would grow past this many bytes.
    pub max_bytes: u64,
    /// Rotated files kept (`audit.log.1` is the newest).
    pub keep: usize,
}

impl LogConfig {
    /// The defaults behind the README's promise: a crash loses at most 256 records, none of
    /// them older than a second. Chunks hold a quarter of the bound, so later chunks fill
    /// while one is encrypted and written, and a steady load is not dropped at each seal
    /// (`steady_load` in the tests below measures it).
    pub fn new(path: PathBuf, recipients: Vec<age::x25519::Recipient>) -> LogConfig {
        LogConfig {
            path,
            recipients,
            chunk_records: 64,
            chunk_interval: Duration::from_secs(1),
            max_unsealed: 256,
            max_bytes: 64 << 20,
            keep: 5,
        }
    }
}

/// What the request path and the writer share.
#[derive(Debug)]
struct Shared {
    /// Records accepted and not yet written: the writer subtracts a chunk once its bytes are
    /// in the file (in the page cache, which a killed process cannot lose).
    unsealed: AtomicUsize,
    /// Records dropped since the last record taken by the writer (noted in the next one).
    dropped: AtomicU64,
    /// Records dropped ever (for metrics).
    dropped_total: AtomicU64,
    max_unsealed: usize,
    chunk_records: usize,
    /// Failed chunk writes since start, and the last error (for `crust status`).
    write_failures: AtomicU64,
    last_error: std::sync::Mutex<Option<String>>,
}

impl Shared {
    fn new(cfg: &LogConfig) -> Shared {
        Shared {
            unsealed: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
            dropped_total: AtomicU64::new(0),
            max_unsealed: cfg.max_unsealed.max(1),
            chunk_records: cfg.chunk_records.clamp(1, cfg.max_unsealed.max(1)),
            write_failures: AtomicU64::new(0),
            last_error: std::sync::Mutex::new(None),
        }
    }

    fn lost(&self, n: u64) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
        self.dropped_total.fetch_add(n, Ordering::Relaxed);
    }
}

/// The request path's handle: cheap to clone, never blocks.
#[derive(Clone)]
pub struct Auditor {
    tx: SyncSender<Record>,
    shared: Arc<Shared>,
    /// The writer, woken when a chunk is full (none in tests that drive the writer by hand).
    writer: Option<std::thread::Thread>,
}

impl std::fmt::Debug for Auditor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auditor")
            .field("dropped_total", &self.dropped_total())
            .finish()
    }
}

impl Auditor {
    /// Hands a record to the writer; counts it as dropped if [`LogConfig::max_unsealed`]
    /// records are already waiting to be written.
    pub fn record(&self, r: Record) {
        let s = &*self.shared;
        // The count covers a record from here until its chunk is in the file, so it, not the
        // channel alone (records leave the channel long before they are written), bounds what
        // a crash loses.
        let before = s.unsealed.fetch_add(1, Ordering::AcqRel);
        if before >= s.max_unsealed {
            s.unsealed.fetch_sub(1, Ordering::AcqRel);
            s.lost(1);
            return;
        }
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = self.tx.try_send(r) {
            s.unsealed.fetch_sub(1, Ordering::AcqRel);
            s.lost(1);
            return;
        }
        // A full chunk waits: wake the writer now instead of at its next poll. Once per chunk,
        // so no single record pays for a wake-up (see `POLL`).
        if before + 1 == s.chunk_records {
            if let Some(w) = &self.writer {
                w.unpark();
            }
        }
    }

    /// Records dropped since start.
    pub fn dropped_total(&self) -> u64 {
        self.shared.dropped_total.load(Ordering::Relaxed)
    }

    /// How the log is doing: healthy while no write has failed and nothing was dropped.
    pub fn health(&self) -> Health {
        let s = &*self.shared;
        Health {
            dropped_total: s.dropped_total.load(Ordering::Relaxed),
            pending: s.unsealed.load(Ordering::Relaxed) as u64,
            write_failures: s.write_failures.load(Ordering::Relaxed),
            last_error: s.last_error.lock().ok().and_then(|e| e.clone()),
        }
    }
}

/// See [`Auditor::health`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct Health {
    pub dropped_total: u64,
    /// Records accepted and not yet in the file.
    pub pending: u64,
    pub write_failures: u64,
    pub last_error: Option<String>,
}

impl Health {
    pub fn healthy(&self) -> bool {
        self.dropped_total == 0 && self.write_failures == 0
    }
}

/// The writer thread; joining it seals what is pending (drop every [`Auditor`] first).
pub struct Writer {
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Writer {
    /// Waits for the writer to seal its last chunk.
    pub fn finish(mut self) {
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Starts the writer. Fails if the log cannot be opened or there is no recipient.
pub fn start(cfg: LogConfig) -> Result<(Auditor, Writer), String> {
    if cfg.recipients.is_empty() {
        return Err("the audit log needs at least one recipient".into());
    }
    if let Some(dir) = cfg.path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir)?;
    }
    open_log(&cfg.path)?;
    let shared = Arc::new(Shared::new(&cfg));
    // INVARIANT: the channel never holds more than `max_unsealed` records (the admission
    // count in `record` is checked first), so `try_send` finds it full only if that count is
    // wrong; the capacity is a backstop.
    let (tx, rx) = std::sync::mpsc::sync_channel(shared.max_unsealed);
    let for_writer = shared.clone();
    let handle = std::thread::Builder::new()
        .name("crust-audit".into())
        .spawn(move || write_loop(&cfg, &rx, &for_writer))
        .map_err(|e| format!("cannot start the audit writer: {e}"))?;
    let auditor = Auditor {
        tx,
        shared,
        writer: Some(handle.thread().clone()),
    };
    Ok((
        auditor,
        Writer {
            handle: Some(handle),
        },
    ))
}

/// How often the writer drains the channel. It polls rather than blocking in `recv`, so a
/// request handing over a record never has to wake a thread (a futex wake and a context
/// switch per record measured as added request latency on a 2-core machine); only the record
/// that fills a chunk wakes it.
const POLL: Duration = Duration::from_millis(50);

/// How long written chunks may wait for `fsync`. A killed process loses nothing once its
/// bytes are written (they are in the page cache); syncing is for power loss and kernel
/// crashes, and syncing every chunk held the writer up long enough to drop records under load
/// (`steady_load`, one run each on a busy 2-core machine: 7.8% of records dropped at 20 000 a
/// second with a sync per chunk, 0.2% with syncs spread out).
const SYNC_EVERY: Duration = Duration::from_millis(200);

fn write_loop(cfg: &LogConfig, rx: &Receiver<Record>, shared: &Shared) {
    let mut pending: Vec<Record> = Vec::new();
    // When the oldest pending record was taken from the channel.
    let mut oldest: Option<Instant> = None;
    // A record may have waited up to one poll in the channel before the writer saw it, so
    // sealing by age starts that much early: no record waits longer than the interval.
    let max_wait = cfg.chunk_interval.saturating_sub(POLL);
    // The file written last and when it was last synced.
    let mut unsynced: Option<std::fs::File> = None;
    let mut synced = Instant::now();
    loop {
        let mut closed = false;
        loop {
            match rx.try_recv() {
                Ok(mut r) => {
                    let d = shared.dropped.swap(0, Ordering::Relaxed);
                    if d > 0 {
                        r.dropped_before = Some(d);
                    }
                    oldest.get_or_insert_with(Instant::now);
                    pending.push(r);
                    if pending.len() >= shared.chunk_records {
                        unsynced = flush(cfg, &mut pending, shared).or(unsynced);
                        oldest = None;
                    }
                }
                Err(std::sync::mpsc::TryRecvError::Empty) => break,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                    closed = true;
                    break;
                }
            }
        }
        if closed || oldest.is_some_and(|t| t.elapsed() >= max_wait) {
            unsynced = flush(cfg, &mut pending, shared).or(unsynced);
            oldest = None;
        }
        if closed || synced.elapsed() >= SYNC_EVERY {
            if let Some(f) = unsynced.take() {
                sync(cfg, &f);
            }
            synced = Instant::now();
        }
        if closed {
            return;
        }
        // A chunk filled while this one was written: no sleep.
        if shared.unsealed.load(Ordering::Acquire) >= shared.chunk_records {
            continue;
        }
        let wait = match oldest {
            Some(t) => max_wait.saturating_sub(t.elapsed()),
            None => cfg.chunk_interval,
        };
        std::thread::park_timeout(wait.min(POLL));
    }
}

fn sync(cfg: &LogConfig, f: &std::fs::File) {
    if let Err(e) = f.sync_data() {
        tracing::warn!("audit log: cannot sync {}: {e}", cfg.path.display());
    }
}

/// Seals `pending` as one chunk; returns the file written, to be synced. Records a failed
/// write loses are counted as dropped, so the next record written says so.
fn flush(cfg: &LogConfig, pending: &mut Vec<Record>, shared: &Shared) -> Option<std::fs::File> {
    if pending.is_empty() {
        return None;
    }
    let n = pending.len();
    let written = seal(cfg, pending);
    shared.unsealed.fetch_sub(n, Ordering::AcqRel);
    let file = match written {
        Ok(file) => Some(file),
        Err(e) => {
            let noted: u64 = pending.iter().filter_map(|r| r.dropped_before).sum();
            tracing::error!("audit log: {e}; {n} records lost");
            shared.write_failures.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut last) = shared.last_error.lock() {
                *last = Some(e);
            }
            shared.lost(n as u64);
            shared.dropped.fetch_add(noted, Ordering::Relaxed);
            None
        }
    };
    pending.clear();
    file
}

/// Encrypts `records` as one chunk and appends it (rotating first if the file is full);
/// returns the file to sync.
fn seal(cfg: &LogConfig, records: &[Record]) -> Result<std::fs::File, String> {
    let frame = frame(records, &cfg.recipients)?;
    let size = std::fs::metadata(&cfg.path).map(|m| m.len()).unwrap_or(0);
    if size > 0 && size + frame.len() as u64 > cfg.max_bytes {
        // The writer syncs the file it wrote last; after the rename that is another file.
        if let Ok(old) = open_log(&cfg.path) {
            sync(cfg, &old);
        }
        rotate(&cfg.path, cfg.keep);
    }
    let mut f = open_log(&cfg.path)?;
    f.write_all(&frame)
        .map_err(|e| format!("cannot write {}: {e}", cfg.path.display()))?;
    Ok(f)
}

/// One chunk as a version 2 frame: `records` as JSON lines, encrypted to `recipients`.
pub fn frame(records: &[Record], recipients: &[age::x25519::Recipient]) -> Result<Vec<u8>, String> {
    let mut plain = Vec::new();
    for r in records {
        serde_json::to_writer(&mut plain, r).map_err(|e| e.to_string())?;
        plain.push(b'\n');
    }
    let cipher = encrypt(&plain, recipients)?;
    let len = u32::try_from(cipher.len())
        .ok()
        .filter(|&l| l as usize <= MAX_CHUNK)
        .ok_or_else(|| "chunk too large".to_string())?;
    let mut frame = Vec::with_capacity(cipher.len() + HEADER);
    frame.extend_from_slice(&MAGIC);
    frame.extend_from_slice(&len.to_le_bytes());
    frame.extend_from_slice(&crc32fast::hash(&cipher).to_le_bytes());
    let header_sum = crc32fast::hash(&frame);
    frame.extend_from_slice(&header_sum.to_le_bytes());
    frame.extend_from_slice(&cipher);
    Ok(frame)
}

fn encrypt(plain: &[u8], recipients: &[age::x25519::Recipient]) -> Result<Vec<u8>, String> {
    let enc = age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
        .map_err(|e| format!("cannot encrypt: {e}"))?;
    let mut out = Vec::new();
    let mut w = enc
        .wrap_output(&mut out)
        .map_err(|e| format!("cannot encrypt: {e}"))?;
    w.write_all(plain)
        .and_then(|()| w.finish().map(|_| ()))
        .map_err(|e| format!("cannot encrypt: {e}"))?;
    Ok(out)
}

/// `audit.log` -> `audit.log.1` -> ... ; the oldest beyond `keep` is deleted.
fn rotate(path: &Path, keep: usize) {
    let numbered = |n: usize| PathBuf::from(format!("{}.{n}", path.display()));
    let _ = std::fs::remove_file(numbered(keep.max(1)));
    for n in (1..keep.max(1)).rev() {
        let _ = std::fs::rename(numbered(n), numbered(n + 1));
    }
    if keep == 0 {
        let _ = std::fs::remove_file(path);
    } else {
        let _ = std::fs::rename(path, numbered(1));
    }
}

fn open_log(path: &Path) -> Result<std::fs::File, String> {
    let mut o = std::fs::OpenOptions::new();
    o.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
        .map_err(|e| format!("cannot open the audit log {}: {e}", path.display()))
}

fn create_private_dir(dir: &Path) -> Result<(), String> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

/// The identity in `dir` (`audit-identity.txt`), created (file 0600, directory 0700) if there
/// is none. Returns it and whether it was created.
pub fn load_or_create_identity(dir: &Path) -> Result<(age::x25519::Identity, bool), String> {
    let path = dir.join(IDENTITY_FILE);
    if path.exists() {
        return read_identity(&path).map(|i| (i, false));
    }
    create_private_dir(dir)?;
    let id = age::x25519::Identity::generate();
    let text = format!(
        "# Crust audit log identity. Whoever holds this file can read the audit log.\n# public key: {}\n{}\n",
        id.to_public(),
        id.to_string().expose_secret()
    );
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o
        .open(&path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok((id, true))
}

/// Reads an identity file (age's format: comments, then one `AGE-SECRET-KEY-1...` line).
pub fn read_identity(path: &Path) -> Result<age::x25519::Identity, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the audit identity {}: {e}", path.display()))?;
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .ok_or_else(|| format!("{} holds no identity", path.display()))?
        .parse::<age::x25519::Identity>()
        .map_err(|e| format!("{} is not an age X25519 identity: {e}", path.display()))
}

/// What reading a log found.
#[derive(Debug, Default)]
pub struct LogRead {
    pub records: Vec<Record>,
    /// Chunks read.
    pub chunks: usize,
    /// Bytes of the chunks read (with [`Damage::len`], every byte of the files read).
    pub chunk_bytes: u64,
    /// Regions that could not be read, in the order found.
    pub damaged: Vec<Damage>,
}

impl LogRead {
    /// Chunks sealed to other recipients (this identity cannot read them).
    pub fn foreign_chunks(&self) -> usize {
        self.damaged
            .iter()
            .filter(|d| d.what == DamageKind::OtherRecipients)
            .count()
    }
}

/// Bytes of a log file that could not be read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    pub file: PathBuf,
    /// Where the region starts in the file, and its length.
    pub offset: u64,
    pub len: u64,
    /// What was found at its start.
    pub what: DamageKind,
    /// The region runs to the end of the file.
    pub at_end: bool,
}

/// Why a region was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DamageKind {
    /// A frame longer than the bytes left: a crash or a full disk while it was written (or,
    /// at the end of the file being written, a write still in progress).
    CutShort,
    /// A frame header that fails its checksum (a changed length field).
    BadHeader,
    /// A frame whose ciphertext changed (its checksum or age's authentication fails).
    Corrupt(String),
    /// Bytes that are not a frame.
    NotAFrame,
    /// A chunk sealed to recipients this identity is not one of.
    OtherRecipients,
    /// A chunk that decrypted, with records that do not decode (the other records are kept).
    BadRecords { bad: usize, of: usize },
}

impl std::fmt::Display for DamageKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DamageKind::CutShort => {
                f.write_str("a chunk cut short (a crash or a full disk while writing)")
            }
            DamageKind::BadHeader => f.write_str("a chunk header that fails its checksum"),
            DamageKind::Corrupt(e) => write!(f, "a chunk whose bytes changed ({e})"),
            DamageKind::NotAFrame => f.write_str("bytes that are not a chunk"),
            DamageKind::OtherRecipients => {
                f.write_str("a chunk sealed to other recipients (not readable with this identity)")
            }
            DamageKind::BadRecords { bad, of } => {
                write!(f, "a chunk with {bad} of {of} records that do not decode")
            }
        }
    }
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} bytes at offset {}: {}",
            self.file.display(),
            self.len,
            self.offset,
            self.what
        )
    }
}

/// Reads and decrypts every chunk of the log at `path` (and its rotated predecessors, oldest
/// first), skipping and reporting what cannot be read. A log none of whose chunks this
/// identity can read, and some of which are sealed to others, is an error (a wrong key),
/// never an empty log.
pub fn read_log(path: &Path, identity: &age::x25519::Identity) -> Result<LogRead, String> {
    let mut files: Vec<PathBuf> = (1..=64)
        .map(|n| PathBuf::from(format!("{}.{n}", path.display())))
        .filter(|p| p.exists())
        .collect();
    files.reverse();
    files.push(path.to_path_buf());
    let mut out = LogRead::default();
    for f in files {
        let bytes = match std::fs::read(&f) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("cannot read {}: {e}", f.display())),
        };
        read_chunks(&bytes, identity, &f, &mut out);
    }
    if out.chunks == 0 && out.foreign_chunks() > 0 {
        return Err(format!(
            "{}: the identity does not match this log's recipients (wrong key?)",
            path.display()
        ));
    }
    Ok(out)
}

/// What one frame start gave.
enum Step {
    /// A chunk read: its records, and where the next frame starts.
    Read { records: Vec<Record>, end: usize },
    /// A frame whose bytes are sound (checksums hold) but whose content cannot be used; its
    /// length is trusted, so the next frame starts at `end`. The records that did decode are
    /// kept.
    Skip {
        records: Vec<Record>,
        end: usize,
        what: DamageKind,
    },
    /// No readable frame here: resync from the next byte.
    Bad(DamageKind),
}

/// Decrypts the frames of one file into `out`, resyncing past what cannot be read.
pub fn read_chunks(bytes: &[u8], identity: &age::x25519::Identity, name: &Path, out: &mut LogRead) {
    let mut at = 0;
    // The start of the damaged region being crossed, and what was found there.
    let mut damaged: Option<(usize, DamageKind)> = None;
    let close = |out: &mut LogRead, damaged: &mut Option<(usize, DamageKind)>, end: usize| {
        if let Some((start, what)) = damaged.take() {
            out.damaged.push(Damage {
                file: name.to_path_buf(),
                offset: start as u64,
                len: (end - start) as u64,
                what,
                at_end: end == bytes.len(),
            });
        }
    };
    while at < bytes.len() {
        match frame_at(bytes, at, identity) {
            Step::Read { records, end } => {
                close(out, &mut damaged, at);
                out.records.extend(records);
                out.chunks += 1;
                out.chunk_bytes += (end - at) as u64;
                at = end;
            }
            Step::Skip { records, end, what } => {
                close(out, &mut damaged, at);
                out.records.extend(records);
                damaged = Some((at, what));
                close(out, &mut damaged, end);
                at = end;
            }
            Step::Bad(what) => {
                if damaged.is_none() {
                    damaged = Some((at, what));
                }
                at = next_magic(bytes, at + 1);
            }
        }
    }
    close(out, &mut damaged, bytes.len());
}

/// The first position from `from` where a frame magic (either version) starts, or the end.
fn next_magic(bytes: &[u8], from: usize) -> usize {
    let rest = bytes.get(from..).unwrap_or(&[]);
    let hit = rest.iter().enumerate().position(|(i, &b)| {
        let here = rest.get(i..).unwrap_or(&[]);
        (b == MAGIC[0] && here.starts_with(&MAGIC)) || (b == b'C' && here.starts_with(MAGIC_V1))
    });
    hit.map_or(bytes.len(), |i| from + i)
}

/// Reads the frame that starts at `at`, if there is one.
fn frame_at(bytes: &[u8], at: usize, identity: &age::x25519::Identity) -> Step {
    let rest = bytes.get(at..).unwrap_or(&[]);
    let le32 = |i: usize| {
        rest.get(i..i + 4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_le_bytes)
    };
    let (start, len) = if rest.starts_with(&MAGIC) {
        let (Some(len), Some(body_sum), Some(header_sum)) = (le32(8), le32(12), le32(16)) else {
            return Step::Bad(DamageKind::CutShort);
        };
        if crc32fast::hash(rest.get(..16).unwrap_or(&[])) != header_sum || len as usize > MAX_CHUNK
        {
            // A header cut short by the frame appended after it reads as a bad checksum.
            return Step::Bad(if next_magic(bytes, at + 1) < at + HEADER {
                DamageKind::CutShort
            } else {
                DamageKind::BadHeader
            });
        }
        let Some(body) = rest.get(HEADER..HEADER + len as usize) else {
            return Step::Bad(DamageKind::CutShort);
        };
        if crc32fast::hash(body) != body_sum {
            // Another frame starting inside this one's extent: this one was cut short and
            // a writer appended after it (a restart after a crash or a full disk).
            let end = at + HEADER + body.len();
            return Step::Bad(if next_magic(bytes, at + 1) < end {
                DamageKind::CutShort
            } else {
                DamageKind::Corrupt("checksum".into())
            });
        }
        (HEADER, len as usize)
    } else if rest.starts_with(MAGIC_V1) {
        // Version 1 has no checksums: the length is trusted only once the chunk decrypts.
        let Some(len) = le32(4).map(|l| l as usize).filter(|&l| l <= MAX_CHUNK) else {
            let what = if rest.len() < HEADER_V1 {
                DamageKind::CutShort
            } else {
                DamageKind::BadHeader
            };
            return Step::Bad(what);
        };
        if rest.len() < HEADER_V1 + len {
            return Step::Bad(DamageKind::CutShort);
        }
        (HEADER_V1, len)
    } else {
        // The start of a magic, up to the next frame or the end of the file: a frame cut
        // short inside its magic.
        let upto = bytes.get(at..next_magic(bytes, at + 1)).unwrap_or(&[]);
        let cut = !upto.is_empty() && (MAGIC.starts_with(upto) || MAGIC_V1.starts_with(upto));
        return Step::Bad(if cut {
            DamageKind::CutShort
        } else {
            DamageKind::NotAFrame
        });
    };
    let end = at + start + len;
    let body = rest.get(start..start + len).unwrap_or(&[]);
    let v1 = start == HEADER_V1;
    let plain = match decrypt(body, identity) {
        Ok(p) => p,
        // A version 2 frame's checksum held, so it is whole: sealed to someone else.
        Err(Failure::WrongIdentity) if !v1 => {
            return Step::Skip {
                records: Vec::new(),
                end,
                what: DamageKind::OtherRecipients,
            }
        }
        // Version 1 cannot tell a damaged recipient stanza from another recipient; a log of
        // only such chunks is still reported as a wrong key by `read_log`.
        Err(Failure::WrongIdentity) => return Step::Bad(DamageKind::OtherRecipients),
        Err(Failure::Corrupt(e)) => return Step::Bad(DamageKind::Corrupt(e)),
    };
    let mut records = Vec::new();
    let mut bad = 0;
    for line in plain.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        match serde_json::from_slice::<Record>(line) {
            Ok(r) => records.push(r),
            Err(_) => bad += 1,
        }
    }
    if bad > 0 {
        let of = bad + records.len();
        return Step::Skip {
            records,
            end,
            what: DamageKind::BadRecords { bad, of },
        };
    }
    Step::Read { records, end }
}

enum Failure {
    WrongIdentity,
    Corrupt(String),
}

fn decrypt(body: &[u8], identity: &age::x25519::Identity) -> Result<Vec<u8>, Failure> {
    let d = age::Decryptor::new(body).map_err(|e| Failure::Corrupt(e.to_string()))?;
    let mut r = d
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .map_err(|e| match e {
            age::DecryptError::NoMatchingKeys => Failure::WrongIdentity,
            other => Failure::Corrupt(other.to_string()),
        })?;
    let mut plain = Vec::new();
    r.read_to_end(&mut plain)
        .map_err(|e| Failure::Corrupt(e.to_string()))?;
    Ok(plain)
}

/// Turns the audit log on: the identity in `key_dir` (created on first start), plus `extra`
/// recipients (`age1...`, e.g. a team key), writing to `log`. Prints the public key when the
/// identity is new.
pub fn open(key_dir: &Path, log: PathBuf, extra: &[String]) -> Result<(Auditor, Writer), String> {
    open_with(key_dir, log, extra, &Retention::default())
}

/// The audit options `crust-runtime` and `crust start` share.
#[derive(Debug, Clone)]
pub struct AuditOptions {
    /// Another age recipient (age1...) the audit log is encrypted to, e.g. a team key.
    pub audit_recipient: Vec<String>,
    /// Rotate the audit log when it would grow past this many MiB.
    pub audit_max_mib: u64,
    /// Rotated audit logs kept (older ones are deleted).
    pub audit_keep: usize,
}

impl Default for AuditOptions {
    fn default() -> Self {
        AuditOptions {
            audit_recipient: Vec::new(),
            audit_max_mib: 64,
            audit_keep: 5,
        }
    }
}

impl AuditOptions {
    /// Opens the log at `log` with the identity in `key_dir`.
    pub fn open(&self, key_dir: &Path, log: PathBuf) -> Result<(Auditor, Writer), String> {
        let retention = Retention {
            max_mib: self.audit_max_mib,
            keep: self.audit_keep,
        };
        open_with(key_dir, log, &self.audit_recipient, &retention)
    }
}

/// When the log rotates and how many rotated files are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub max_mib: u64,
    pub keep: usize,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_mib: 64,
            keep: 5,
        }
    }
}

/// [`open`] with a rotation size and retention count.
pub fn open_with(
    key_dir: &Path,
    log: PathBuf,
    extra: &[String],
    retention: &Retention,
) -> Result<(Auditor, Writer), String> {
    let (id, created) = load_or_create_identity(key_dir)?;
    if created {
        eprintln!(
            "crust: created the audit log identity {} (public key {})",
            key_dir.join(IDENTITY_FILE).display(),
            id.to_public()
        );
    }
    let mut recipients = vec![id.to_public()];
    for r in extra {
        recipients.push(
            r.parse::<age::x25519::Recipient>()
                .map_err(|e| format!("`{r}` is not an age X25519 recipient (age1...): {e}"))?,
        );
    }
    let mut cfg = LogConfig::new(log, recipients);
    cfg.max_bytes = retention.max_mib.max(1) << 20;
    cfg.keep = retention.keep;
    start(cfg)
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A tool call's arguments for the log: compact JSON, secrets masked, at most `max` bytes.
///
/// Masking comes first and sees the whole text, so shortening can never cut a secret in two
/// and keep a part the scanner would no longer recognize. JSON with escapes is masked in its
/// plain form (`\u002d`, `\/` undone), the form the scanner's patterns are written for. The
/// cut never falls inside a `[REDACTED:...]` marker.
pub fn summarize(bundle: &crate::Engine, args: &str, max: usize) -> String {
    let plain = args
        .contains('\\')
        .then(|| serde_json::from_str::<serde_json::Value>(args).ok())
        .flatten()
        .map(|v| v.to_string());
    let masked = bundle.redact(plain.as_deref().unwrap_or(args));
    if masked.len() <= max {
        return masked;
    }
    let mut end = max;
    while end > 0 && !masked.is_char_boundary(end) {
        end -= 1;
    }
    let head = masked.get(..end).unwrap_or("");
    if let Some(open) = head.rfind("[REDACTED") {
        if !head.get(open..).unwrap_or("").contains(']') {
            end = open;
        }
    }
    format!("{}…", masked.get(..end).unwrap_or(""))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("crust-audit-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn rec(i: usize) -> Record {
        Record {
            time_ms: 1_795_000_000_000 + i as u64,
            session: None,
            agent: Some("test".into()),
            user: None,
            api: "anthropic-messages".into(),
            side: "response".into(),
            tool: "Bash".into(),
            call_id: None,
            args: format!("{{\"command\":\"echo {i}\"}}"),
            decision: if i.is_multiple_of(3) {
                "block"
            } else {
                "allow"
            }
            .into(),
            rule: i.is_multiple_of(3).then(|| "protect-ssh-keys".into()),
            severity: None,
            eval_ns: 900,
            bundle: "crustc test".into(),
            bundle_checksum: "00".into(),
            dropped_before: None,
        }
    }

    fn write(dir: &Path, n: usize, chunk: usize) -> (PathBuf, age::x25519::Identity) {
        let (id, created) = load_or_create_identity(&dir.join("config")).unwrap();
        assert!(created);
        let path = dir.join("data").join(LOG_FILE);
        let mut cfg = LogConfig::new(path.clone(), vec![id.to_public()]);
        cfg.chunk_records = chunk;
        cfg.chunk_interval = Duration::from_secs(3600);
        // All at once, faster than any writer: room for every record.
        cfg.max_unsealed = n.max(chunk);
        let (a, w) = start(cfg).unwrap();
        for i in 0..n {
            a.record(rec(i));
        }
        drop(a);
        w.finish();
        (path, id)
    }

    #[test]
    fn records_round_trip_through_encrypted_chunks() {
        let dir = temp("roundtrip");
        let (path, id) = write(&dir, 1000, 64);
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !bytes.windows(7).any(|w| w == b"echo 10"),
            "plaintext leaked"
        );
        assert!(bytes.starts_with(&MAGIC));
        let read = read_log(&path, &id).unwrap();
        assert_eq!(read.records.len(), 1000);
        assert_eq!(read.chunks, 16);
        assert!(read.damaged.is_empty());
        assert_eq!(read.chunk_bytes, bytes.len() as u64);
        assert_eq!(read.records[999], rec(999));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// `n` frames of `per` records each (record numbers run on across frames), sealed to a
    /// new identity.
    fn frames(n: usize, per: usize) -> (Vec<Vec<u8>>, age::x25519::Identity) {
        let id = age::x25519::Identity::generate();
        let frames = (0..n)
            .map(|k| {
                let recs: Vec<Record> = (k * per..(k + 1) * per).map(rec).collect();
                frame(&recs, &[id.to_public()]).unwrap()
            })
            .collect();
        (frames, id)
    }

    /// Reads one file's bytes, checking that every byte is accounted for: in a chunk read or
    /// in a damaged region, and the regions in order without overlap.
    fn read(bytes: &[u8], id: &age::x25519::Identity) -> LogRead {
        let mut out = LogRead::default();
        read_chunks(bytes, id, Path::new("t"), &mut out);
        let damaged: u64 = out.damaged.iter().map(|d| d.len).sum();
        assert_eq!(
            out.chunk_bytes + damaged,
            bytes.len() as u64,
            "{:?}",
            out.damaged
        );
        for w in out.damaged.windows(2) {
            assert!(w[0].offset + w[0].len <= w[1].offset, "{:?}", out.damaged);
        }
        out
    }

    /// Record numbers read, in order.
    fn numbers(read: &LogRead) -> Vec<usize> {
        read.records
            .iter()
            .map(|r| (r.time_ms - 1_795_000_000_000) as usize)
            .collect()
    }

    #[test]
    fn a_torn_last_chunk_is_skipped_at_every_offset() {
        let (frames, id) = frames(3, 10);
        let bytes = frames.concat();
        let last = frames[0].len() + frames[1].len();
        for cut in last..bytes.len() {
            let got = read(&bytes[..cut], &id);
            assert_eq!(numbers(&got), (0..20).collect::<Vec<_>>(), "cut at {cut}");
            if cut == last {
                assert!(got.damaged.is_empty());
            } else {
                assert_eq!(got.damaged.len(), 1, "cut at {cut}");
                let d = &got.damaged[0];
                assert_eq!((d.offset, d.at_end), (last as u64, true), "cut at {cut}");
                assert_eq!(d.what, DamageKind::CutShort, "cut at {cut}");
            }
        }
    }

    #[test]
    fn a_writer_restarted_after_a_torn_chunk_appends_readable_chunks() {
        let dir = temp("restart");
        let (path, id) = write(&dir, 30, 10);
        let bytes = std::fs::read(&path).unwrap();
        // Cut the third chunk in its ciphertext, then in its header.
        assert_eq!(read(&bytes, &id).chunks, 3);
        let frame_len = |at: usize| {
            HEADER + u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize
        };
        let third = frame_len(0) + frame_len(frame_len(0));
        for cut in [bytes.len() - 100, third + 10, third + 3] {
            std::fs::write(&path, &bytes[..cut]).unwrap();
            let mut cfg = LogConfig::new(path.clone(), vec![id.to_public()]);
            cfg.chunk_records = 10;
            cfg.chunk_interval = Duration::from_secs(3600);
            cfg.max_unsealed = 20;
            let (a, w) = start(cfg).unwrap();
            for i in 100..120 {
                a.record(rec(i));
            }
            drop(a);
            w.finish();
            let got = read_log(&path, &id).unwrap();
            let want: Vec<usize> = (0..20).chain(100..120).collect();
            assert_eq!(numbers(&got), want, "cut at {cut}");
            assert_eq!(got.damaged.len(), 1, "cut at {cut}");
            assert_eq!(got.damaged[0].what, DamageKind::CutShort);
            assert_eq!(got.damaged[0].offset, third as u64);
            assert_eq!(got.damaged[0].len, (cut - third) as u64);
            assert!(!got.damaged[0].at_end);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_flipped_byte_loses_only_its_chunk() {
        let (frames, id) = frames(4, 5);
        let starts: Vec<usize> = frames
            .iter()
            .scan(0, |at, f| {
                let s = *at;
                *at += f.len();
                Some(s)
            })
            .collect();
        let bytes = frames.concat();
        for (k, f) in frames.iter().enumerate() {
            // The age header (recipient stanza, MAC), the payload nonce, the ciphertext, the
            // tag, the last byte.
            for off in [
                HEADER + 3,
                HEADER + 60,
                HEADER + 150,
                f.len() / 2,
                f.len() - 20,
                f.len() - 1,
            ] {
                let mut bad = bytes.clone();
                bad[starts[k] + off] ^= 0x01;
                let got = read(&bad, &id);
                let want: Vec<usize> = (0..20).filter(|n| n / 5 != k).collect();
                assert_eq!(numbers(&got), want, "chunk {k}, byte {off}");
                assert_eq!(got.damaged.len(), 1, "chunk {k}, byte {off}");
                assert_eq!(got.damaged[0].offset, starts[k] as u64);
                assert_eq!(got.damaged[0].len, f.len() as u64);
                assert!(matches!(got.damaged[0].what, DamageKind::Corrupt(_)));
            }
        }
    }

    #[test]
    fn a_corrupted_length_field_hides_no_later_chunk() {
        let (frames, id) = frames(4, 5);
        let at = frames[0].len();
        let bytes = frames.concat();
        // Every bit of the length, the checksums, and the magic of the second frame.
        for byte in 0..HEADER {
            for bit in 0..8 {
                let mut bad = bytes.clone();
                bad[at + byte] ^= 1 << bit;
                let got = read(&bad, &id);
                let want: Vec<usize> = (0..20).filter(|n| n / 5 != 1).collect();
                assert_eq!(numbers(&got), want, "byte {byte} bit {bit}");
                assert_eq!(got.damaged.len(), 1, "byte {byte} bit {bit}");
                assert_eq!(got.damaged[0].offset, at as u64);
                let what = &got.damaged[0].what;
                if byte < 8 {
                    assert_eq!(*what, DamageKind::NotAFrame);
                } else {
                    assert_eq!(*what, DamageKind::BadHeader);
                }
            }
        }
        // A length that points past the end of the file and one that points into the next
        // frame, with a header checksum made to match: the ciphertext checksum still fails.
        for len in [u32::MAX >> 8, (frames[1].len() + 40) as u32, 10] {
            let mut bad = bytes.clone();
            bad[at + 8..at + 12].copy_from_slice(&len.to_le_bytes());
            let sum = crc32fast::hash(&bad[at..at + 16]);
            bad[at + 16..at + 20].copy_from_slice(&sum.to_le_bytes());
            let got = read(&bad, &id);
            assert_eq!(
                numbers(&got),
                (0..20).filter(|n| n / 5 != 1).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn garbage_between_chunks_is_skipped_and_reported() {
        let (frames, id) = frames(3, 4);
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut noise = |n: usize| -> Vec<u8> {
            (0..n)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect()
        };
        let mut fake_header = MAGIC.to_vec();
        fake_header.extend_from_slice(&[0xff, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
        let garbages: Vec<Vec<u8>> = vec![
            noise(1),
            noise(333),
            MAGIC[..5].to_vec(),
            MAGIC.to_vec(),
            fake_header,
            b"CRA1\xff\xff".to_vec(),
            b"CRA1\x10\x00\x00\x00age-encryption.org/v1\n".to_vec(),
        ];
        for g in &garbages {
            let mut bytes = g.clone();
            for f in &frames {
                bytes.extend_from_slice(f);
                bytes.extend_from_slice(g);
            }
            let got = read(&bytes, &id);
            assert_eq!(numbers(&got), (0..12).collect::<Vec<_>>(), "{g:?}");
            assert_eq!(got.damaged.len(), 4, "{g:?}");
            assert!(got.damaged.iter().all(|d| d.len == g.len() as u64));
            assert!(got.damaged[3].at_end);
        }
    }

    #[test]
    fn an_empty_file_and_a_file_of_garbage() {
        let id = age::x25519::Identity::generate();
        let got = read(&[], &id);
        assert!(got.records.is_empty() && got.damaged.is_empty() && got.chunks == 0);
        let garbage: Vec<u8> = (0..5000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let got = read(&garbage, &id);
        assert!(got.records.is_empty());
        assert_eq!(got.damaged.len(), 1);
        assert_eq!(got.damaged[0].what, DamageKind::NotAFrame);
        assert_eq!(got.damaged[0].len, 5000);
        // Through `read_log`: a file of garbage is read as damage, not as an error.
        let dir = temp("garbage");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(LOG_FILE);
        std::fs::write(&path, &garbage).unwrap();
        let got = read_log(&path, &id).unwrap();
        assert_eq!((got.records.len(), got.damaged.len()), (0, 1));
        std::fs::write(&path, b"").unwrap();
        let got = read_log(&path, &id).unwrap();
        assert_eq!((got.records.len(), got.damaged.len()), (0, 0));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A version 1 frame, as the writer before checksums sealed it.
    fn frame_v1(records: &[Record], id: &age::x25519::Identity) -> Vec<u8> {
        let mut plain = Vec::new();
        for r in records {
            serde_json::to_writer(&mut plain, r).unwrap();
            plain.push(b'\n');
        }
        let cipher = encrypt(&plain, &[id.to_public()]).unwrap();
        let mut f = MAGIC_V1.to_vec();
        f.extend_from_slice(&(cipher.len() as u32).to_le_bytes());
        f.extend_from_slice(&cipher);
        f
    }

    #[test]
    fn version_1_logs_stay_readable_alone_and_appended_to() {
        let (v2, id) = frames(2, 3);
        let v1: Vec<Vec<u8>> = (0..3)
            .map(|k| frame_v1(&(10 + k * 3..13 + k * 3).map(rec).collect::<Vec<_>>(), &id))
            .collect();
        let old = v1.concat();
        assert_eq!(numbers(&read(&old, &id)), (10..19).collect::<Vec<_>>());
        // An old log whose last chunk was torn, then upgraded in place: the new writer appends
        // version 2 frames after it.
        let torn = &old[..old.len() - 30];
        let mut mixed = torn.to_vec();
        mixed.extend(v2.concat());
        let got = read(&mixed, &id);
        assert_eq!(numbers(&got), (10..16).chain(0..6).collect::<Vec<_>>());
        assert_eq!(got.damaged.len(), 1);
        // A flipped byte in an old chunk loses only that chunk.
        let mut bad = old.clone();
        bad[v1[0].len() + 100] ^= 4;
        let got = read(&bad, &id);
        assert_eq!(numbers(&got), (10..13).chain(16..19).collect::<Vec<_>>());
    }

    #[test]
    fn chunks_sealed_to_others_are_counted_and_the_rest_read() {
        let (mut frames, id) = frames(3, 2);
        let other = age::x25519::Identity::generate();
        frames.insert(1, frame(&[rec(50)], &[other.to_public()]).unwrap());
        let got = read(&frames.concat(), &id);
        assert_eq!(numbers(&got), (0..6).collect::<Vec<_>>());
        assert_eq!(got.foreign_chunks(), 1);
        assert_eq!(got.damaged[0].len, frames[1].len() as u64);
    }

    #[test]
    fn a_wrong_identity_is_refused() {
        let dir = temp("wrongid");
        let (path, _) = write(&dir, 5, 10);
        let other = age::x25519::Identity::generate();
        let err = read_log(&path, &other).unwrap_err();
        assert!(err.contains("identity does not match"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp("perms");
        let (path, _) = write(&dir, 1, 10);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.join("config")), 0o700);
        assert_eq!(mode(&dir.join("config").join(IDENTITY_FILE)), 0o600);
        assert_eq!(mode(&path), 0o600);
        // A second start reuses the identity.
        let (_, created) = load_or_create_identity(&dir.join("config")).unwrap();
        assert!(!created);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// An auditor whose writer is driven by the test (no thread).
    fn by_hand(cfg: &LogConfig) -> (Auditor, Receiver<Record>, Arc<Shared>) {
        let shared = Arc::new(Shared::new(cfg));
        let (tx, rx) = std::sync::mpsc::sync_channel(shared.max_unsealed);
        let a = Auditor {
            tx,
            shared: shared.clone(),
            writer: None,
        };
        (a, rx, shared)
    }

    #[test]
    fn a_stalled_writer_leaves_at_most_max_unsealed_records_to_lose() {
        let dir = temp("bound");
        let (id, _) = load_or_create_identity(&dir.join("config")).unwrap();
        let path = dir.join(LOG_FILE);
        let cfg = LogConfig::new(path.clone(), vec![id.to_public()]);
        assert_eq!((cfg.max_unsealed, cfg.chunk_records), (256, 64));
        let (a, rx, shared) = by_hand(&cfg);
        // The writer takes nothing (stalled, or about to be killed): what a crash now loses is
        // what was accepted.
        for i in 0..10_000 {
            a.record(rec(i));
        }
        assert_eq!(shared.unsealed.load(Ordering::Acquire), 256);
        assert_eq!(a.dropped_total(), 10_000 - 256);
        drop(a);
        write_loop(&cfg, &rx, &shared);
        assert_eq!(shared.unsealed.load(Ordering::Acquire), 0);
        let read = read_log(&path, &id).unwrap();
        assert_eq!(numbers(&read), (0..256).collect::<Vec<_>>());
        assert_eq!(read.chunks, 4);
        // The drops are noted in the next record written.
        assert_eq!(read.records[0].dropped_before, Some(10_000 - 256));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn records_reach_the_file_within_the_interval_without_a_shutdown() {
        let dir = temp("interval");
        let (id, _) = load_or_create_identity(&dir.join("config")).unwrap();
        let path = dir.join(LOG_FILE);
        let mut cfg = LogConfig::new(path.clone(), vec![id.to_public()]);
        cfg.chunk_interval = Duration::from_millis(300);
        let (a, w) = start(cfg).unwrap();
        let started = Instant::now();
        for i in 0..3 {
            a.record(rec(i));
        }
        // What a `kill -9` now would leave: read while the writer runs.
        let on_disk = |n: usize| {
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if read_log(&path, &id).unwrap().records.len() >= n {
                    return Instant::now();
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            panic!("{n} records not written");
        };
        let took = on_disk(3) - started;
        assert!(took >= Duration::from_millis(200), "{took:?}");
        assert!(took < Duration::from_millis(900), "{took:?}");
        // A full chunk goes out without waiting for the interval.
        let started = Instant::now();
        for i in 3..3 + 64 {
            a.record(rec(i));
        }
        let took = on_disk(67) - started;
        assert!(took < Duration::from_millis(250), "{took:?}");
        drop(a);
        w.finish();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn records_a_failed_write_loses_are_noted_in_the_next_record() {
        let dir = temp("writefail");
        let (id, _) = load_or_create_identity(&dir.join("config")).unwrap();
        let path = dir.join(LOG_FILE);
        let cfg = LogConfig::new(path.clone(), vec![id.to_public()]);
        let (a, rx, shared) = by_hand(&cfg);
        // The log cannot be opened (a directory stands in for a full disk).
        std::fs::create_dir_all(&path).unwrap();
        for i in 0..3 {
            a.record(rec(i));
        }
        let mut pending: Vec<Record> = rx.try_iter().collect();
        flush(&cfg, &mut pending, &shared);
        assert_eq!(shared.unsealed.load(Ordering::Acquire), 0);
        assert_eq!(a.dropped_total(), 3);
        std::fs::remove_dir(&path).unwrap();
        a.record(rec(3));
        drop(a);
        write_loop(&cfg, &rx, &shared);
        let read = read_log(&path, &id).unwrap();
        assert_eq!(numbers(&read), vec![3]);
        assert_eq!(read.records[0].dropped_before, Some(3));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn rotation_keeps_the_newest_files_readable() {
        let dir = temp("rotate");
        let (id, _) = load_or_create_identity(&dir.join("config")).unwrap();
        let path = dir.join(LOG_FILE);
        let mut cfg = LogConfig::new(path.clone(), vec![id.to_public()]);
        cfg.chunk_records = 10;
        cfg.max_unsealed = 200;
        cfg.max_bytes = 2000;
        cfg.keep = 2;
        let (a, w) = start(cfg).unwrap();
        for i in 0..200 {
            a.record(rec(i));
        }
        drop(a);
        w.finish();
        assert!(PathBuf::from(format!("{}.2", path.display())).exists());
        assert!(!PathBuf::from(format!("{}.3", path.display())).exists());
        let read = read_log(&path, &id).unwrap();
        assert!(read.records.len() < 200 && !read.records.is_empty());
        assert_eq!(read.records.last(), Some(&rec(199)));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A measurement, not a check (`cargo test -p crust-runtime --lib steady_load --
    /// --ignored --nocapture`): records handed over at a steady rate for two seconds, with
    /// the default bound, and how many were dropped.
    #[test]
    #[ignore]
    fn steady_load() {
        let dir = temp("steady");
        let (id, _) = load_or_create_identity(&dir.join("config")).unwrap();
        for rate in [5_000u64, 20_000, 50_000, 100_000] {
            let cfg = LogConfig::new(dir.join(format!("log-{rate}")), vec![id.to_public()]);
            let (a, w) = start(cfg).unwrap();
            let n = rate * 2;
            let t0 = Instant::now();
            for i in 0..n {
                let due = Duration::from_nanos(i * 1_000_000_000 / rate);
                while t0.elapsed() < due {
                    std::hint::spin_loop();
                }
                let mut r = rec(i as usize);
                r.args = format!("{{\"command\":\"ls -la /home/user/project/src/{i}\"}}");
                a.record(r);
            }
            let dropped = a.dropped_total();
            drop(a);
            w.finish();
            println!(
                "{rate}/s: {n} records, {dropped} dropped ({:.2}%)",
                dropped as f64 * 100.0 / n as f64
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
