//! Newline-delimited JSON-RPC framing, as MCP's stdio transport (and ACP) frame messages: one
//! message per line, no embedded newlines. Lines are read with a bound, so a peer cannot make
//! Crust hold an unbounded message; a longer line is consumed and reported, never relayed.

use std::io::{self, BufRead};

/// One frame read from a stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A line, without its `\n` (and without a `\r` before it).
    Line(Vec<u8>),
    /// A line longer than the bound: its bytes were consumed and dropped; here are its length
    /// and its first bytes (up to [`HEAD`], where its id usually is).
    TooLong(usize, Vec<u8>),
    /// The stream ended.
    Eof,
}

/// How much of an over-long line is kept.
pub const HEAD: usize = 4096;

/// Reads the next line of at most `max` bytes. The last line of a stream may lack its `\n`.
pub fn read_frame(r: &mut impl BufRead, max: usize) -> io::Result<Frame> {
    let mut line = Vec::new();
    let mut total = 0usize;
    let mut any = false;
    loop {
        let buf = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(if !any {
                Frame::Eof
            } else if total > max {
                Frame::TooLong(total, line)
            } else {
                Frame::Line(trim_cr(line))
            });
        }
        any = true;
        let (chunk, done) = match memchr::memchr(b'\n', buf) {
            Some(i) => (buf.get(..i).unwrap_or(buf), Some(i + 1)),
            None => (buf, None),
        };
        total = total.saturating_add(chunk.len());
        if total <= max {
            line.extend_from_slice(chunk);
        } else {
            // Past the bound: keep counting, keep only the head.
            line.truncate(HEAD);
            let room = HEAD.saturating_sub(line.len()).min(chunk.len());
            line.extend_from_slice(chunk.get(..room).unwrap_or_default());
        }
        let used = done.unwrap_or(buf.len());
        r.consume(used);
        if done.is_some() {
            return Ok(if total > max {
                Frame::TooLong(total, line)
            } else {
                Frame::Line(trim_cr(line))
            });
        }
    }
}

fn trim_cr(mut line: Vec<u8>) -> Vec<u8> {
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    line
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn frames(input: &[u8], max: usize, cap: usize) -> Vec<Frame> {
        // A small buffer capacity makes lines span many reads.
        let mut r = std::io::BufReader::with_capacity(cap, input);
        let mut out = Vec::new();
        loop {
            let f = read_frame(&mut r, max).unwrap();
            let end = f == Frame::Eof;
            out.push(f);
            if end {
                return out;
            }
        }
    }

    #[test]
    fn lines_are_split_at_newlines_whatever_the_buffer() {
        for cap in [1, 2, 3, 7, 64] {
            assert_eq!(
                frames(b"{\"a\":1}\r\n\n{\"b\":2}\nlast", 100, cap),
                vec![
                    Frame::Line(b"{\"a\":1}".to_vec()),
                    Frame::Line(Vec::new()),
                    Frame::Line(b"{\"b\":2}".to_vec()),
                    Frame::Line(b"last".to_vec()),
                    Frame::Eof
                ],
                "capacity {cap}"
            );
        }
    }

    #[test]
    fn a_line_over_the_bound_is_dropped_and_the_next_one_read() {
        for cap in [1, 4, 64] {
            assert_eq!(
                frames(b"0123456789\nok\n0123456789", 5, cap),
                vec![
                    Frame::TooLong(10, b"0123456789".to_vec()),
                    Frame::Line(b"ok".to_vec()),
                    Frame::TooLong(10, b"0123456789".to_vec()),
                    Frame::Eof
                ]
            );
        }
        assert_eq!(
            frames(b"12345\n", 5, 2),
            vec![Frame::Line(b"12345".to_vec()), Frame::Eof]
        );
    }
}
