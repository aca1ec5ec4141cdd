//! Following the bundle file for reloads, whatever way it is deployed.
//!
//! The path is followed as given, never canonicalized at start: a symlink-flip deploy (the
//! Kubernetes ConfigMap pattern, `policy.bin → ..data/policy.bin` with `..data` flipped by
//! rename) changes what the path names without touching the file it named before. Two sources
//! of wake-ups feed one loop:
//!
//! - file events (inotify, FSEvents) on the directory of the path and on the directory of the
//!   file it resolves to: any event there wakes the loop, since a flip renames a sibling
//!   (`..data`), not the bundle's own name;
//! - a poll every [`POLL`], which catches what events miss: a directory removed and created
//!   again (its watch dies with it), network filesystems without events, a watch that could not
//!   be set up.
//!
//! On each wake-up the loop compares a fingerprint of what the path resolves to (device, inode,
//! length, modification time, the symlink chain) with the last one it acted on, and reloads
//! only when it changed. The watch is set up again whenever the directories it should cover
//! change or disappear, and both the loss and the return of the directory are logged.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc;

/// How often the path is checked without an event.
pub const POLL: Duration = Duration::from_secs(1);
/// How long a burst of events (write, rename) is left to settle into one reload.
const SETTLE: Duration = Duration::from_millis(30);
/// Symlink hops followed when listing the directories to watch.
const MAX_HOPS: usize = 16;

/// What the path resolves to now; a change means the bundle may have changed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fingerprint {
    /// `None` when the path does not resolve (mid-flip, removed directory).
    file: Option<(u64, u64, u64, Option<SystemTime>)>,
    links: Vec<PathBuf>,
}

fn fingerprint(path: &Path) -> Fingerprint {
    let file = std::fs::metadata(path).ok().map(|m| {
        #[cfg(unix)]
        let (dev, ino) = {
            use std::os::unix::fs::MetadataExt;
            (m.dev(), m.ino())
        };
        #[cfg(not(unix))]
        let (dev, ino) = (0, 0);
        (dev, ino, m.len(), m.modified().ok())
    });
    Fingerprint {
        file,
        links: symlink_chain(path),
    }
}

/// The targets of the symlinks met when resolving `path` (final component only), in order.
fn symlink_chain(path: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut cur = path.to_path_buf();
    for _ in 0..MAX_HOPS {
        let Ok(target) = std::fs::read_link(&cur) else {
            break;
        };
        let next = match cur.parent() {
            Some(dir) if target.is_relative() => dir.join(&target),
            _ => target.clone(),
        };
        out.push(target);
        cur = next;
    }
    out
}

/// The directories whose events may mean the bundle changed: the path's own directory, and the
/// directory of the file it resolves to now (so a write through a symlink is seen too).
fn directories(path: &Path) -> Vec<PathBuf> {
    let parent = |p: &Path| {
        p.parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    };
    let mut dirs = vec![parent(path)];
    if let Ok(real) = std::fs::canonicalize(path) {
        let d = parent(&real);
        if !dirs.contains(&d) {
            dirs.push(d);
        }
    }
    dirs
}

/// The identity of a directory, so a removed and re-created one is noticed.
fn dir_ids(dirs: &[PathBuf]) -> Vec<Option<(u64, u64)>> {
    dirs.iter()
        .map(|d| {
            std::fs::metadata(d).ok().map(|m| {
                #[cfg(unix)]
                {
                    use std::os::unix::fs::MetadataExt;
                    (m.dev(), m.ino())
                }
                #[cfg(not(unix))]
                {
                    let _ = m;
                    (0, 0)
                }
            })
        })
        .collect()
}

/// The file-event watch over the current directories; dropped and made again when they change.
struct Armed {
    _watcher: Option<notify::RecommendedWatcher>,
    dirs: Vec<PathBuf>,
    ids: Vec<Option<(u64, u64)>>,
}

fn arm(path: &Path, tx: &mpsc::UnboundedSender<()>) -> Armed {
    use notify::{RecursiveMode, Watcher};
    let dirs = directories(path);
    let ids = dir_ids(&dirs);
    let tx = tx.clone();
    let watcher = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
        // Any event: errors and overflows included, the fingerprint decides.
        let _ = ev;
        let _ = tx.send(());
    });
    let watcher = match watcher {
        Ok(mut w) => {
            let mut any = false;
            for d in &dirs {
                match w.watch(d, RecursiveMode::NonRecursive) {
                    Ok(()) => any = true,
                    Err(e) => {
                        tracing::debug!(dir = %d.display(), error = %e, "cannot watch; polling");
                    }
                }
            }
            any.then_some(w)
        }
        Err(e) => {
            tracing::warn!(error = %e, "file events unavailable; the bundle is polled every second");
            None
        }
    };
    Armed {
        _watcher: watcher,
        dirs,
        ids,
    }
}

/// Follows `path` until the process ends, calling `reload` when what it names changes.
pub fn spawn(path: PathBuf, reload: impl Fn() + Send + 'static) {
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    tokio::spawn(async move {
        let mut armed = arm(&path, &tx);
        let mut last = fingerprint(&path);
        let mut missing = last.file.is_none();
        loop {
            tokio::select! {
                got = rx.recv() => {
                    if got.is_none() {
                        return;
                    }
                    tokio::time::sleep(SETTLE).await;
                    while rx.try_recv().is_ok() {}
                }
                () = tokio::time::sleep(POLL) => {}
            }
            let now = fingerprint(&path);
            if now.file.is_none() != missing {
                missing = now.file.is_none();
                if missing {
                    tracing::warn!(path = %path.display(), "the bundle path does not resolve now; the loaded policy keeps serving");
                } else {
                    tracing::info!(path = %path.display(), "the bundle path resolves again");
                }
            }
            if directories(&path) != armed.dirs || dir_ids(&armed.dirs) != armed.ids {
                // The directory was removed, re-created or a flip moved the target: the old
                // watch covers nothing any more.
                armed = arm(&path, &tx);
            }
            if now != last {
                last = now;
                if last.file.is_some() {
                    reload();
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory under the system's temporary directory.
    fn scratch(name: &str) -> PathBuf {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let d =
            std::env::temp_dir().join(format!("crust-watch-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn fingerprint_follows_a_symlink_flip() {
        let dir = scratch("flip");
        let a = dir.join("..2026_a");
        let b = dir.join("..2026_b");
        std::fs::create_dir(&a).unwrap();
        std::fs::create_dir(&b).unwrap();
        std::fs::write(a.join("policy.bin"), b"one").unwrap();
        std::fs::write(b.join("policy.bin"), b"two").unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("..2026_a", dir.join("..data")).unwrap();
            std::os::unix::fs::symlink("..data/policy.bin", dir.join("policy.bin")).unwrap();
            let path = dir.join("policy.bin");
            let before = fingerprint(&path);
            std::os::unix::fs::symlink("..2026_b", dir.join("..data_tmp")).unwrap();
            std::fs::rename(dir.join("..data_tmp"), dir.join("..data")).unwrap();
            assert_ne!(before, fingerprint(&path));
            assert!(directories(&path).contains(&std::fs::canonicalize(&b).unwrap()));
        }
    }

    #[test]
    fn a_missing_path_has_no_file() {
        let dir = scratch("missing");
        let f = fingerprint(&dir.join("gone/policy.bin"));
        assert!(f.file.is_none());
    }
}
