//! The stdio relay: one pump per direction, each reading newline-delimited messages from one
//! side, handing each to the [`Gateway`] and writing what it answers, message by message
//! (nothing is held beyond the message being judged).

use super::frame::{read_frame, Frame};
use super::gateway::{Gateway, Out, Side};
use std::io::{self, BufRead, Write};
use std::sync::{Arc, Mutex};

/// A side's input stream, shared by both pumps (either may answer a side). `None` once closed.
pub type Sink = Arc<Mutex<Option<Box<dyn Write + Send>>>>;

pub fn sink(w: impl Write + Send + 'static) -> Sink {
    Arc::new(Mutex::new(Some(Box::new(w))))
}

/// Writes one message and its newline, flushed, to `to`. A closed or broken side is an error.
fn send(to: &Sink, line: &[u8]) -> io::Result<()> {
    let mut guard = to.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(w) = guard.as_mut() else {
        return Err(io::Error::new(io::ErrorKind::BrokenPipe, "closed"));
    };
    let mut msg = Vec::with_capacity(line.len() + 1);
    msg.extend_from_slice(line);
    msg.push(b'\n');
    let r = w.write_all(&msg).and_then(|()| w.flush());
    if r.is_err() {
        *guard = None;
    }
    r
}

/// Closes a side's input (the child sees the end of its standard input).
pub fn close(s: &Sink) {
    let mut guard = s.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(mut w) = guard.take() {
        let _ = w.flush();
    }
}

/// Relays what `from` writes (read from `input`) until it ends: judged messages go to the
/// other side's `to_other`, answers Crust gives in its place to `to_sender`, notes to `notes`.
/// At the end, the other side's input is closed, as `from`'s end would have closed it.
pub fn pump(
    gw: &Gateway,
    from: Side,
    mut input: impl BufRead,
    to_sender: &Sink,
    to_other: &Sink,
    notes: &(dyn Fn(&str) + Sync),
    max: usize,
) -> io::Result<()> {
    let result = loop {
        let outs = match read_frame(&mut input, max) {
            Ok(Frame::Line(line)) => gw.handle(from, &line),
            Ok(Frame::TooLong(n, head)) => gw.too_long(from, n, max, &head),
            Ok(Frame::Eof) => break Ok(()),
            Err(e) => break Err(e),
        };
        let mut gone = None;
        for o in outs {
            match o {
                Out::Note(n) => notes(&n),
                Out::Send(side, line) => {
                    let to = if side == from { to_sender } else { to_other };
                    if let Err(e) = send(to, &line) {
                        // The receiver is gone; answers to the sender are best effort.
                        if side != from {
                            gone = Some(e);
                        }
                    }
                }
            }
        }
        if let Some(e) = gone {
            break Err(e);
        }
    };
    close(to_other);
    result
}
