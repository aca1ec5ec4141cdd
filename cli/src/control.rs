//! The client side of the proxy's control socket (`crust_runtime::proxy::control`).
//!
//! One deadline covers the whole exchange (connect, send, answer): a proxy that is stopped,
//! swamped or hostile costs a hook at most that long, then the hook judges by itself. On
//! Linux the process at the other end must be a Crust program: a socket some other program
//! bound in Crust's place is not asked.

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Largest answer read (a status or a hook's reply).
const MAX_ANSWER: u64 = 4 << 20;

/// Sends one request and reads the one-line answer, all within `deadline`.
pub fn ask<T: serde::Serialize>(
    socket: &Path,
    req: &T,
    deadline: Duration,
) -> Result<String, String> {
    ask_peer(socket, req, deadline, None)
}

/// [`ask`], where the process at the other end must run the program `peer` (canonical), not
/// just any program named like Crust.
pub fn ask_peer<T: serde::Serialize>(
    socket: &Path,
    req: &T,
    deadline: Duration,
    peer: Option<PathBuf>,
) -> Result<String, String> {
    let mut line = serde_json::to_vec(req).map_err(|e| e.to_string())?;
    line.push(b'\n');
    let socket = socket.to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    // A blocked connect (a full backlog) cannot be timed out in std: the exchange runs on a
    // thread the caller stops waiting for, and the process exits without it.
    std::thread::spawn(move || {
        let _ = tx.send(exchange(&socket, &line, deadline, peer.as_deref()));
    });
    rx.recv_timeout(deadline)
        .map_err(|_| format!("no answer within {} ms", deadline.as_millis()))?
}

fn exchange(
    socket: &PathBuf,
    line: &[u8],
    deadline: Duration,
    peer: Option<&Path>,
) -> Result<String, String> {
    let mut s = std::os::unix::net::UnixStream::connect(socket)
        .map_err(|e| format!("cannot connect to `{}`: {e}", socket.display()))?;
    peer_is_crust(&s, peer)?;
    s.set_read_timeout(Some(deadline))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(deadline))
        .map_err(|e| e.to_string())?;
    s.write_all(line).map_err(|e| format!("cannot send: {e}"))?;
    let mut answer = String::new();
    std::io::BufReader::new(s.take(MAX_ANSWER))
        .read_line(&mut answer)
        .map_err(|e| format!("no answer: {e}"))?;
    if !answer.ends_with('\n') {
        return Err("the answer was cut short".into());
    }
    Ok(answer)
}

/// The process that holds the socket runs `expected`, or with none given, a program named
/// `crust` or `crust-runtime`.
#[cfg(target_os = "linux")]
fn peer_is_crust(
    s: &std::os::unix::net::UnixStream,
    expected: Option<&Path>,
) -> Result<(), String> {
    let cred = rustix::net::sockopt::socket_peercred(s).map_err(|e| format!("peer: {e}"))?;
    let exe = std::fs::read_link(format!("/proc/{}/exe", cred.pid.as_raw_nonzero()))
        .map_err(|e| format!("peer: {e}"))?;
    if let Some(want) = expected {
        return if exe == want {
            Ok(())
        } else {
            Err(format!(
                "the socket is held by `{}`, not by `{}`",
                exe.display(),
                want.display()
            ))
        };
    }
    let name = exe
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if matches!(name.as_str(), "crust" | "crust-runtime") {
        Ok(())
    } else {
        Err(format!(
            "the socket is held by `{}`, not by Crust",
            exe.display()
        ))
    }
}

#[cfg(not(target_os = "linux"))]
fn peer_is_crust(_: &std::os::unix::net::UnixStream, _: Option<&Path>) -> Result<(), String> {
    Ok(())
}
