//! The encrypted audit log: every decision as one record, sealed in age-encrypted chunks.
//!
//! The request path only hands a record to a bounded channel (`try_send`); when the channel is
//! full the record is counted as dropped, never waited for. A writer thread collects records
//! and seals them in chunks (every [`LogConfig::chunk_records`] records or
//! [`LogConfig::chunk_interval`]), each chunk an independent age file framed as
//! `"CRA1"`, its length (u32, little-endian), then the ciphertext. A crash loses at most the
//! unsealed tail; a torn last frame is detected and skipped while every earlier chunk stays
//! readable. Files rotate by size and old ones are deleted past a retention count.

use age::secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

const MAGIC: &[u8; 4] = b"CRA1";
/// Largest chunk a reader accepts; a longer length field means a corrupt file.
const MAX_CHUNK: usize = 64 << 20;
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
    /// The wire format (`anthropic-messages`, `openai-chat`, `openai-responses`).
    pub api: String,
    /// Where the call was seen: `response` (the model asked for it) or `request` (history).
    pub side: String,
    pub tool: String,
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
    /// Records dropped (channel full) since the previous record written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropped_before: Option<u64>,
}

/// Where and how the log is written.
#[derive(Debug, Clone)]
pub struct LogConfig {
    pub path: PathBuf,
    pub recipients: Vec<age::x25519::Recipient>,
    pub chunk_records: usize,
    pub chunk_interval: Duration,
    /// Rotate when the file would grow past this many bytes.
    pub max_bytes: u64,
    /// Rotated files kept (`audit.log.1` is the newest).
    pub keep: usize,
    /// Records the channel holds before new ones are dropped.
    pub capacity: usize,
}

impl LogConfig {
    pub fn new(path: PathBuf, recipients: Vec<age::x25519::Recipient>) -> LogConfig {
        LogConfig {
            path,
            recipients,
            chunk_records: 256,
            chunk_interval: Duration::from_secs(1),
            max_bytes: 64 << 20,
            keep: 5,
            capacity: 8192,
        }
    }
}

/// The request path's handle: cheap to clone, never blocks.
#[derive(Clone)]
pub struct Auditor {
    tx: SyncSender<Record>,
    dropped: Arc<AtomicU64>,
    /// Dropped records ever (for metrics).
    dropped_total: Arc<AtomicU64>,
}

impl std::fmt::Debug for Auditor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auditor")
            .field("dropped_total", &self.dropped_total())
            .finish()
    }
}

impl Auditor {
    /// Hands a record to the writer; counts it as dropped if the channel is full.
    pub fn record(&self, r: Record) {
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = self.tx.try_send(r) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            self.dropped_total.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records dropped since start.
    pub fn dropped_total(&self) -> u64 {
        self.dropped_total.load(Ordering::Relaxed)
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
    let (tx, rx) = std::sync::mpsc::sync_channel(cfg.capacity.max(1));
    let dropped = Arc::new(AtomicU64::new(0));
    let auditor = Auditor {
        tx,
        dropped: dropped.clone(),
        dropped_total: Arc::new(AtomicU64::new(0)),
    };
    let handle = std::thread::Builder::new()
        .name("crust-audit".into())
        .spawn(move || write_loop(&cfg, &rx, &dropped))
        .map_err(|e| format!("cannot start the audit writer: {e}"))?;
    Ok((
        auditor,
        Writer {
            handle: Some(handle),
        },
    ))
}

/// How often the writer drains the channel. It polls rather than blocking in `recv`, so a
/// request handing over a record never has to wake a thread (a futex wake and a context
/// switch per record measured as added request latency on a 2-core machine).
const POLL: Duration = Duration::from_millis(50);

fn write_loop(cfg: &LogConfig, rx: &Receiver<Record>, dropped: &AtomicU64) {
    let mut pending: Vec<Record> = Vec::new();
    let mut since = Instant::now();
    loop {
        let mut closed = false;
        loop {
            match rx.try_recv() {
                Ok(mut r) => {
                    let d = dropped.swap(0, Ordering::Relaxed);
                    if d > 0 {
                        r.dropped_before = Some(d);
                    }
                    pending.push(r);
                    if pending.len() >= cfg.chunk_records {
                        flush(cfg, &mut pending);
                        since = Instant::now();
                    }
                }
                Err(std::sync::mpsc::TryRecvError::Empty) => break,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                    closed = true;
                    break;
                }
            }
        }
        if closed || since.elapsed() >= cfg.chunk_interval {
            flush(cfg, &mut pending);
            since = Instant::now();
        }
        if closed {
            return;
        }
        std::thread::sleep(POLL.min(cfg.chunk_interval));
    }
}

fn flush(cfg: &LogConfig, pending: &mut Vec<Record>) {
    if pending.is_empty() {
        return;
    }
    if let Err(e) = seal(cfg, pending) {
        tracing::error!("audit log: {e}; {} records lost", pending.len());
    }
    pending.clear();
}

/// Encrypts `records` as one chunk and appends it (rotating first if the file is full).
fn seal(cfg: &LogConfig, records: &[Record]) -> Result<(), String> {
    let mut plain = Vec::new();
    for r in records {
        serde_json::to_writer(&mut plain, r).map_err(|e| e.to_string())?;
        plain.push(b'\n');
    }
    let cipher = encrypt(&plain, &cfg.recipients)?;
    let len = u32::try_from(cipher.len()).map_err(|_| "chunk too large".to_string())?;
    let mut frame = Vec::with_capacity(cipher.len() + 8);
    frame.extend_from_slice(MAGIC);
    frame.extend_from_slice(&len.to_le_bytes());
    frame.extend_from_slice(&cipher);
    let size = std::fs::metadata(&cfg.path).map(|m| m.len()).unwrap_or(0);
    if size > 0 && size + frame.len() as u64 > cfg.max_bytes {
        rotate(&cfg.path, cfg.keep);
    }
    let mut f = open_log(&cfg.path)?;
    f.write_all(&frame)
        .and_then(|()| f.sync_data())
        .map_err(|e| format!("cannot write {}: {e}", cfg.path.display()))
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
    /// The last chunk was cut short (a crash while sealing) and was skipped.
    pub torn_tail: bool,
}

/// Reads and decrypts every chunk of the log at `path` (and its rotated predecessors, oldest
/// first). A wrong identity is an error, never garbage.
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
        read_chunks(&bytes, identity, &f, &mut out)?;
    }
    Ok(out)
}

/// Decrypts the frames of one file into `out`.
pub fn read_chunks(
    bytes: &[u8],
    identity: &age::x25519::Identity,
    name: &Path,
    out: &mut LogRead,
) -> Result<(), String> {
    let mut at = 0;
    while at < bytes.len() {
        let rest = bytes.get(at..).unwrap_or(&[]);
        let header = rest.get(..8);
        let len = header.and_then(|h| {
            (h.get(..4) == Some(MAGIC.as_slice()))
                .then(|| h.get(4..8))
                .flatten()
                .and_then(|l| <[u8; 4]>::try_from(l).ok())
                .map(|l| u32::from_le_bytes(l) as usize)
        });
        let body = len
            .filter(|&l| l <= MAX_CHUNK)
            .and_then(|l| rest.get(8..8 + l).map(|b| (l, b)));
        let Some((len, body)) = body else {
            // An incomplete frame can only be the last one (frames are appended whole and
            // synced); anything else is a corrupt file.
            if header.is_none_or(|h| h.get(..4) == Some(MAGIC.as_slice())) {
                out.torn_tail = true;
                return Ok(());
            }
            return Err(format!(
                "{}: not an audit log (bad frame at byte {at})",
                name.display()
            ));
        };
        let last = at + 8 + len == bytes.len();
        match decrypt(body, identity) {
            Ok(plain) => {
                for line in plain.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                    let r: Record = serde_json::from_slice(line)
                        .map_err(|e| format!("{}: a record is not valid: {e}", name.display()))?;
                    out.records.push(r);
                }
                out.chunks += 1;
            }
            Err(Failure::WrongIdentity) => {
                return Err(format!(
                    "{}: the identity does not match this log's recipients (wrong key?)",
                    name.display()
                ))
            }
            Err(Failure::Corrupt(_)) if last => {
                out.torn_tail = true;
                return Ok(());
            }
            Err(Failure::Corrupt(e)) => {
                return Err(format!(
                    "{}: chunk {} is corrupt: {e}",
                    name.display(),
                    out.chunks + 1
                ))
            }
        }
        at += 8 + len;
    }
    Ok(())
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
#[derive(clap::Args, Debug, Clone, Default)]
pub struct AuditOptions {
    /// Another age recipient (age1...) the audit log is encrypted to, e.g. a team key.
    #[arg(long)]
    pub audit_recipient: Vec<String>,
    /// Rotate the audit log when it would grow past this many MiB.
    #[arg(long, default_value_t = 64)]
    pub audit_max_mib: u64,
    /// Rotated audit logs kept (older ones are deleted).
    #[arg(long, default_value_t = 5)]
    pub audit_keep: usize,
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
pub fn summarize(bundle: &crate::Bundle, args: &str, max: usize) -> String {
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
            api: "anthropic-messages".into(),
            side: "response".into(),
            tool: "Bash".into(),
            args: format!("{{\"command\":\"echo {i}\"}}"),
            decision: if i % 3 == 0 { "block" } else { "allow" }.into(),
            rule: (i % 3 == 0).then(|| "protect-ssh-keys".into()),
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
        let read = read_log(&path, &id).unwrap();
        assert_eq!(read.records.len(), 1000);
        assert_eq!(read.chunks, 16);
        assert!(!read.torn_tail);
        assert_eq!(read.records[999], rec(999));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_torn_last_chunk_is_skipped_at_every_offset() {
        let dir = temp("torn");
        let (path, id) = write(&dir, 30, 10);
        let bytes = std::fs::read(&path).unwrap();
        // Start of the last frame: walk the frames.
        let mut starts = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            starts.push(at);
            let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
            at += 8 + len;
        }
        assert_eq!(starts.len(), 3);
        let last = starts[2];
        for cut in last..bytes.len() {
            let mut out = LogRead::default();
            read_chunks(&bytes[..cut], &id, Path::new("t"), &mut out).unwrap();
            assert_eq!(out.records.len(), 20, "cut at {cut}");
            assert_eq!(out.torn_tail, cut != last, "cut at {cut}");
        }
        let _ = std::fs::remove_dir_all(&dir);
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

    #[test]
    fn a_full_channel_drops_and_says_so_in_the_next_record() {
        let dir = temp("dropped");
        let (id, _) = load_or_create_identity(&dir.join("config")).unwrap();
        let path = dir.join(LOG_FILE);
        let (tx, rx) = std::sync::mpsc::sync_channel(2);
        let dropped = Arc::new(AtomicU64::new(0));
        let a = Auditor {
            tx,
            dropped: dropped.clone(),
            dropped_total: Arc::new(AtomicU64::new(0)),
        };
        for i in 0..5 {
            a.record(rec(i));
        }
        assert_eq!(a.dropped_total(), 3);
        let cfg = LogConfig::new(path.clone(), vec![id.to_public()]);
        drop(a);
        write_loop(&cfg, &rx, &dropped);
        let read = read_log(&path, &id).unwrap();
        assert_eq!(read.records.len(), 2);
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
}
