//! `crust hook-server --policy FILE`: keeps one bundle loaded for the agents' hooks when no
//! `crust start` serves it, so that a hook costs a connection instead of a bundle load (a
//! decision is microseconds; loading and validating the bundle in a fresh process is most of
//! a standalone hook's time). `crust hook` starts one in the background the first time it
//! judges with a bundle nobody serves; it exits by itself after a quiet spell, when its bundle
//! file is gone, or when its socket is taken away.
//!
//! It speaks the proxy's control protocol (`crust_runtime::proxy::control`) on a socket of its
//! own per bundle file, private to the user; it judges only for callers of the same user and
//! only with the bundle file the caller names, at the checksum the caller read from it. A
//! bundle that changed on disk is loaded again, validated whole, before it judges anything.
//! Nothing here can turn into an allow: a hook that gets no judged answer judges by itself.

use super::Exit;
use crust_runtime::bundle::Validation;
use crust_runtime::hook::{self, Agent};
use crust_runtime::own::OwnFiles;
use crust_runtime::proxy::control::{HookAnswer, Request, MAX_REQUEST};
use crust_runtime::Engine;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Quiet seconds after which a server exits.
pub const IDLE_SECS: u64 = 600;

/// Set to `off` (or `0`), hooks never start a server (each judges by loading the bundle).
pub const ENV_SWITCH: &str = "CRUST_HOOK_SERVER";

/// Overrides [`IDLE_SECS`] for the servers hooks start.
pub const ENV_IDLE: &str = "CRUST_HOOK_SERVER_IDLE";

/// How long a client may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(clap::Args, Debug, Clone)]
pub struct HookServerArgs {
    /// The compiled bundle to keep loaded.
    #[arg(long)]
    pub policy: PathBuf,
    /// Exit after this many seconds without a call (default 600, or $CRUST_HOOK_SERVER_IDLE).
    #[arg(long)]
    pub idle_secs: Option<u64>,
}

/// What a server says to a `Status` request.
#[derive(Debug, Serialize, Deserialize)]
pub struct ServerStatus {
    pub hook_server: ServerFacts,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ServerFacts {
    pub pid: u32,
    pub bundle: PathBuf,
    pub checksum: String,
    pub hook_calls: u64,
    pub blocks: u64,
    pub reloads: u64,
    pub uptime_secs: u64,
}

/// The socket of the server for the bundle file `bundle` (canonical): one per file, so hooks
/// given other bundles do not take turns replacing one server.
pub fn socket_for(home: &Path, bundle: &Path) -> PathBuf {
    super::start::data_dir(home).join(format!("hook-{:016x}.sock", fnv1a(bundle)))
}

fn fnv1a(p: &Path) -> u64 {
    use std::os::unix::ffi::OsStrExt;
    p.as_os_str()
        .as_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
        })
}

/// Whether hooks may start servers (`CRUST_HOOK_SERVER=off` or `0` says no).
pub fn enabled() -> bool {
    !matches!(
        std::env::var(ENV_SWITCH).as_deref(),
        Ok("off" | "0" | "no" | "false")
    )
}

/// Starts a server for `bundle` in the background, detached from the hook: its own process
/// group (an agent stopping its hook does not stop it) and no inherited standard streams (an
/// agent waits for its hook's output to close). A second server for the same file exits at
/// once (the lock), so racing hooks are harmless. Best effort: a hook judges either way.
pub fn spawn(bundle: &Path) {
    use std::os::unix::process::CommandExt;
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let _ = std::process::Command::new(exe)
        .arg("hook-server")
        .arg("--policy")
        .arg(bundle)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        // Not the agent's project directory: a server must not keep it busy.
        .current_dir("/")
        .process_group(0)
        .spawn();
}

struct Loaded {
    bundle: Arc<Engine>,
    checksum: String,
}

struct Server {
    path: PathBuf,
    home: String,
    own: OwnFiles,
    loaded: Mutex<Loaded>,
    started: Instant,
    /// Milliseconds since `started` of the last call.
    last: AtomicU64,
    calls: AtomicU64,
    blocks: AtomicU64,
    reloads: AtomicU64,
}

pub fn hook_server(args: HookServerArgs) -> Exit {
    match serve(&args) {
        Ok(()) => Exit::Ok,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {e}");
            Exit::Policy
        }
    }
}

fn serve(args: &HookServerArgs) -> Result<(), String> {
    let idle = args
        .idle_secs
        .or_else(|| std::env::var(ENV_IDLE).ok()?.parse().ok())
        .unwrap_or(IDLE_SECS)
        .max(1);
    let path = std::fs::canonicalize(&args.policy)
        .map_err(|e| format!("cannot read `{}`: {e}", args.policy.display()))?;
    let home = std::env::var("HOME").map_err(|_| "HOME is not set".to_owned())?;
    if !Path::new(&home).is_dir() {
        return Err(format!("the home directory `{home}` does not exist"));
    }
    let dir = super::start::data_dir(Path::new(&home));
    private_dir(&dir)?;
    let socket = socket_for(Path::new(&home), &path);
    // One server per bundle file: the lock is held for the life of the process.
    let lock_path = socket.with_extension("lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| format!("cannot open `{}`: {e}", lock_path.display()))?;
    if rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
        return Ok(()); // another server for this file runs
    }
    let bundle = Engine::load_with(&path, Validation::AtLoad)
        .map_err(|e| format!("cannot load `{}`: {e}", path.display()))?;
    let checksum = format!("{:016x}", bundle.checksum());
    let _ = std::fs::remove_file(&socket);
    let listener = UnixListener::bind(&socket)
        .map_err(|e| format!("cannot bind `{}`: {e}", socket.display()))?;
    {
        use std::os::unix::fs::PermissionsExt;
        if let Err(e) = std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600)) {
            let _ = std::fs::remove_file(&socket);
            return Err(format!("cannot make `{}` private: {e}", socket.display()));
        }
    }
    let ino = inode(&socket);
    let server = Arc::new(Server {
        own: OwnFiles::new([path.clone()]),
        path,
        home,
        loaded: Mutex::new(Loaded {
            bundle: Arc::new(bundle),
            checksum,
        }),
        started: Instant::now(),
        last: AtomicU64::new(0),
        calls: AtomicU64::new(0),
        blocks: AtomicU64::new(0),
        reloads: AtomicU64::new(0),
    });
    {
        let server = Arc::clone(&server);
        std::thread::spawn(move || watch(&server, &socket, ino, idle));
    }
    for stream in listener.incoming() {
        let Ok(stream) = stream else {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        let server = Arc::clone(&server);
        std::thread::spawn(move || {
            let _ = connection(stream, &server);
        });
    }
    Ok(())
}

/// Crust's data directory, made if missing and private to the user.
fn private_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    if !dir.is_dir() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
    }
    let meta = std::fs::metadata(dir).map_err(|e| e.to_string())?;
    if meta.uid() != rustix::process::getuid().as_raw() {
        return Err(format!("`{}` belongs to another user", dir.display()));
    }
    Ok(())
}

fn inode(p: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(p).ok().map(|m| m.ino())
}

/// Ends the process after `idle` quiet seconds, when the bundle file is gone, or when the
/// socket is no longer this server's (removed, or replaced by another server).
fn watch(server: &Server, socket: &Path, ino: Option<u64>, idle: u64) {
    let tick = Duration::from_millis(250).min(Duration::from_secs(idle));
    loop {
        std::thread::sleep(tick);
        let now = server.started.elapsed().as_millis() as u64;
        let quiet = now.saturating_sub(server.last.load(Relaxed)) >= idle * 1000;
        let ours = inode(socket) == ino;
        if quiet || !ours || !server.path.is_file() {
            if ours {
                let _ = std::fs::remove_file(socket);
            }
            std::process::exit(0);
        }
    }
}

fn connection(stream: UnixStream, server: &Server) -> std::io::Result<()> {
    // Only the same user's processes are answered (the socket is private too).
    let cred = rustix::net::sockopt::socket_peercred(&stream)?;
    if cred.uid != rustix::process::getuid() {
        return Ok(());
    }
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    stream.set_write_timeout(Some(READ_TIMEOUT))?;
    let mut line = Vec::new();
    BufReader::new((&stream).take(MAX_REQUEST + 1)).read_until(b'\n', &mut line)?;
    server
        .last
        .store(server.started.elapsed().as_millis() as u64, Relaxed);
    let answer = match serde_json::from_slice::<Request>(&line) {
        Err(e) => serde_json::json!({ "error": format!("unreadable request: {e}") }).to_string(),
        Ok(Request::Status) => serde_json::to_string(&status(server)).unwrap_or_default(),
        Ok(Request::Hook {
            agent,
            home,
            checksum,
            bundle,
            input,
        }) => serde_json::to_string(&judge(
            server,
            &agent,
            &home,
            &checksum,
            &bundle,
            input.as_bytes(),
        ))
        .unwrap_or_default(),
    };
    let mut w = &stream;
    w.write_all(answer.as_bytes())?;
    w.write_all(b"\n")?;
    w.flush()
}

fn judge(
    server: &Server,
    agent: &str,
    home: &str,
    checksum: &str,
    path: &Path,
    input: &[u8],
) -> HookAnswer {
    let Some(bundle) = current(server, checksum) else {
        let serving = lock(server).checksum.clone();
        return HookAnswer::Mismatch { serving };
    };
    // Its own bundle file only (a copy elsewhere is not the file it protects), for the user
    // it runs as (a hook names the home it judges with; another home is another user's).
    let Some(agent) =
        Agent::from_name(agent).filter(|_| path == server.path && home == server.home)
    else {
        return HookAnswer::Mismatch {
            serving: checksum.to_owned(),
        };
    };
    server.calls.fetch_add(1, Relaxed);
    let (event, verdict) = hook::decide(Ok(&bundle), &server.own, agent, input, home);
    if verdict.is_block() {
        server.blocks.fetch_add(1, Relaxed);
    }
    let r = hook::reply(agent, &event, &verdict);
    HookAnswer::Judged {
        stdout: r.stdout,
        stderr: r.stderr,
        exit: r.exit,
    }
}

fn lock(server: &Server) -> std::sync::MutexGuard<'_, Loaded> {
    server
        .loaded
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The loaded bundle if it has `checksum`; else the file is loaded again (validated whole)
/// and used if it now has that checksum. `None`: the caller judges by itself.
fn current(server: &Server, checksum: &str) -> Option<Arc<Engine>> {
    let mut loaded = lock(server);
    if loaded.checksum != checksum {
        let fresh = Engine::load_with(&server.path, Validation::AtLoad).ok()?;
        let sum = format!("{:016x}", fresh.checksum());
        if sum != checksum {
            return None;
        }
        *loaded = Loaded {
            bundle: Arc::new(fresh),
            checksum: sum,
        };
        server.reloads.fetch_add(1, Relaxed);
    }
    Some(Arc::clone(&loaded.bundle))
}

fn status(server: &Server) -> ServerStatus {
    ServerStatus {
        hook_server: ServerFacts {
            pid: std::process::id(),
            bundle: server.path.clone(),
            checksum: lock(server).checksum.clone(),
            hook_calls: server.calls.load(Relaxed),
            blocks: server.blocks.load(Relaxed),
            reloads: server.reloads.load(Relaxed),
            uptime_secs: server.started.elapsed().as_secs(),
        },
    }
}
