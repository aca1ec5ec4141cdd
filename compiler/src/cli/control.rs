//! The client side of the proxy's control socket (`crust_runtime::proxy::control`).

use std::io::{BufRead, Read, Write};
use std::path::Path;
use std::time::Duration;

/// Largest answer read (a status or a hook's reply).
const MAX_ANSWER: u64 = 4 << 20;

/// Sends one request and reads the one-line answer.
#[cfg(unix)]
pub fn ask<T: serde::Serialize>(
    socket: &Path,
    req: &T,
    timeout: Duration,
) -> Result<String, String> {
    let mut s = std::os::unix::net::UnixStream::connect(socket)
        .map_err(|e| format!("cannot connect to `{}`: {e}", socket.display()))?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let mut line = serde_json::to_vec(req).map_err(|e| e.to_string())?;
    line.push(b'\n');
    s.write_all(&line)
        .map_err(|e| format!("cannot send: {e}"))?;
    let mut answer = String::new();
    std::io::BufReader::new(s.take(MAX_ANSWER))
        .read_line(&mut answer)
        .map_err(|e| format!("no answer: {e}"))?;
    if !answer.ends_with('\n') {
        return Err("the answer was cut short".into());
    }
    Ok(answer)
}
