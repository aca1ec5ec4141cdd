//! Undoing a body's content coding (gzip, deflate, br, zstd) so that it is inspected, never
//! passed through unseen. Decoding is incremental (a stream is judged as it arrives) and
//! bounded: output is produced in small steps and the total is checked after each, so a
//! decompression bomb stops at the body limit instead of filling memory.

use hyper::HeaderMap;
use std::io::Write;

/// A content coding the proxy can undo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Gzip,
    Deflate,
    Brotli,
    Zstd,
}

/// The body's coding: `Ok(None)` for none or `identity`, `Err` for anything the proxy cannot
/// undo (an unknown coding, or several stacked).
pub fn coding(h: &HeaderMap) -> Result<Option<Coding>, String> {
    let mut found = None;
    for v in h.get_all(hyper::header::CONTENT_ENCODING) {
        let v = v
            .to_str()
            .map_err(|_| "the content-encoding header is not text".to_owned())?;
        for c in v.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            let c = c.to_ascii_lowercase();
            let this = match c.as_str() {
                "identity" => continue,
                "gzip" | "x-gzip" => Coding::Gzip,
                "deflate" => Coding::Deflate,
                "br" => Coding::Brotli,
                "zstd" => Coding::Zstd,
                other => return Err(format!("content coding `{other}` is not supported")),
            };
            if found.replace(this).is_some() {
                return Err("stacked content codings are not supported".into());
            }
        }
    }
    Ok(found)
}

/// Compressed bytes fed per step: deflate expands at most ~1032x, so a step's output is
/// bounded even for the write-based decoders.
const STEP_IN: usize = 256;
/// Output produced per step by the stream decoders (brotli and zstd can expand far more).
const STEP_OUT: usize = 16 << 10;

/// An incremental decoder with an output limit.
pub struct Decoder {
    inner: Inner,
    limit: usize,
    produced: usize,
    buf: Vec<u8>,
}

enum Inner {
    /// gzip, zlib or raw deflate, and the coding's name for errors.
    Flate(Box<dyn Flate + Send>, &'static str),
    /// HTTP's `deflate` is zlib-wrapped, but some servers send raw deflate: decided on the
    /// first two bytes.
    DeflateUndecided(Vec<u8>),
    Brotli(Box<BrotliStream>),
    Zstd(Box<ZstdStream>),
}

struct ZstdStream {
    dec: zstd::stream::raw::Decoder<'static>,
    /// The last step ended a frame with all its output flushed.
    complete: bool,
}

/// flate2's write-side decoders, alike but for their type.
trait Flate: Write {
    /// The decoded bytes written so far.
    fn sink(&mut self) -> &mut Vec<u8>;
    /// Checks the stream is complete and writes what remains.
    fn end(&mut self) -> std::io::Result<()>;
}

macro_rules! flate {
    ($($t:ty),*) => {$(
        impl Flate for $t {
            fn sink(&mut self) -> &mut Vec<u8> {
                self.get_mut()
            }
            fn end(&mut self) -> std::io::Result<()> {
                self.try_finish()
            }
        }
    )*};
}

flate!(
    flate2::write::GzDecoder<Vec<u8>>,
    flate2::write::ZlibDecoder<Vec<u8>>,
    flate2::write::DeflateDecoder<Vec<u8>>
);

type BrotliState = brotli_decompressor::BrotliState<
    brotli_decompressor::StandardAlloc,
    brotli_decompressor::StandardAlloc,
    brotli_decompressor::StandardAlloc,
>;

struct BrotliStream {
    state: BrotliState,
    done: bool,
}

impl Decoder {
    /// A decoder whose total output may not exceed `limit` bytes.
    pub fn new(coding: Coding, limit: usize) -> Result<Decoder, String> {
        let inner = match coding {
            Coding::Gzip => {
                Inner::Flate(Box::new(flate2::write::GzDecoder::new(Vec::new())), "gzip")
            }
            Coding::Deflate => Inner::DeflateUndecided(Vec::new()),
            Coding::Brotli => Inner::Brotli(Box::new(BrotliStream {
                state: BrotliState::new(
                    brotli_decompressor::StandardAlloc::default(),
                    brotli_decompressor::StandardAlloc::default(),
                    brotli_decompressor::StandardAlloc::default(),
                ),
                done: false,
            })),
            Coding::Zstd => Inner::Zstd(Box::new(ZstdStream {
                dec: zstd::stream::raw::Decoder::new()
                    .map_err(|e| format!("cannot start a zstd decoder: {e}"))?,
                complete: false,
            })),
        };
        Ok(Decoder {
            inner,
            limit,
            produced: 0,
            buf: vec![0; STEP_OUT],
        })
    }

    /// Decodes `chunk`, appending what it yields to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        if let Inner::DeflateUndecided(head) = &mut self.inner {
            head.extend_from_slice(chunk);
            if head.len() < 2 {
                return Ok(());
            }
            let head = std::mem::take(head);
            let d: Box<dyn Flate + Send> = if is_zlib_header(&head) {
                Box::new(flate2::write::ZlibDecoder::new(Vec::new()))
            } else {
                Box::new(flate2::write::DeflateDecoder::new(Vec::new()))
            };
            self.inner = Inner::Flate(d, "deflate");
            return self.feed(&head, out);
        }
        for piece in chunk.chunks(STEP_IN) {
            match &mut self.inner {
                Inner::DeflateUndecided(_) => {}
                Inner::Flate(d, what) => {
                    // Flushed at once: a stream's text must not wait for the next chunk.
                    d.write_all(piece)
                        .and_then(|()| d.flush())
                        .map_err(bad(what))?;
                    take(d.sink(), out, &mut self.produced, self.limit)?;
                }
                Inner::Brotli(b) => {
                    brotli_step(b, piece, &mut self.buf, out, &mut self.produced, self.limit)?
                }
                Inner::Zstd(z) => {
                    zstd_step(z, piece, &mut self.buf, out, &mut self.produced, self.limit)?
                }
            }
        }
        Ok(())
    }

    /// Ends the body: `Err` when the compressed stream stopped before its end (a truncated
    /// body is never taken for a whole one).
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), String> {
        let (produced, limit) = (&mut self.produced, self.limit);
        match &mut self.inner {
            Inner::DeflateUndecided(head) if head.is_empty() => Ok(()),
            Inner::DeflateUndecided(_) => Err("the deflate body ended after one byte".into()),
            Inner::Flate(d, what) => {
                d.end().map_err(bad(what))?;
                take(d.sink(), out, produced, limit)
            }
            Inner::Brotli(b) if b.done => Ok(()),
            Inner::Brotli(_) => Err("the brotli body ended before its last block".into()),
            Inner::Zstd(z) if z.complete => Ok(()),
            Inner::Zstd(_) => Err("the zstd body ended before its frame did".into()),
        }
    }
}

fn bad(what: &'static str) -> impl Fn(std::io::Error) -> String {
    move |e| format!("the {what} body is corrupt: {e}")
}

/// zlib's two-byte header: deflate method, window within limits, check bits.
fn is_zlib_header(h: &[u8]) -> bool {
    match h {
        [cmf, flg, ..] => {
            cmf & 0x0f == 8 && (cmf >> 4) <= 7 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0
        }
        _ => false,
    }
}

fn push(bytes: &[u8], out: &mut Vec<u8>, produced: &mut usize, limit: usize) -> Result<(), String> {
    *produced = produced.saturating_add(bytes.len());
    if *produced > limit {
        return Err(format!("the body decompresses to more than {limit} bytes"));
    }
    out.extend_from_slice(bytes);
    Ok(())
}

fn take(
    buf: &mut Vec<u8>,
    out: &mut Vec<u8>,
    produced: &mut usize,
    limit: usize,
) -> Result<(), String> {
    let r = push(buf, out, produced, limit);
    buf.clear();
    r
}

fn brotli_step(
    b: &mut BrotliStream,
    input: &[u8],
    buf: &mut [u8],
    out: &mut Vec<u8>,
    produced: &mut usize,
    limit: usize,
) -> Result<(), String> {
    use brotli_decompressor::BrotliResult;
    let (mut avail_in, mut in_off) = (input.len(), 0usize);
    loop {
        if b.done {
            if avail_in > 0 {
                return Err("the brotli body has data after its end".into());
            }
            return Ok(());
        }
        let (mut avail_out, mut out_off, mut total) = (buf.len(), 0usize, 0usize);
        let r = brotli_decompressor::BrotliDecompressStream(
            &mut avail_in,
            &mut in_off,
            input,
            &mut avail_out,
            &mut out_off,
            buf,
            &mut total,
            &mut b.state,
        );
        push(buf.get(..out_off).unwrap_or(&[]), out, produced, limit)?;
        match r {
            BrotliResult::ResultSuccess => b.done = true,
            BrotliResult::NeedsMoreOutput => {}
            BrotliResult::NeedsMoreInput => return Ok(()),
            BrotliResult::ResultFailure => return Err("the brotli body is corrupt".into()),
        }
    }
}

fn zstd_step(
    z: &mut ZstdStream,
    input: &[u8],
    buf: &mut [u8],
    out: &mut Vec<u8>,
    produced: &mut usize,
    limit: usize,
) -> Result<(), String> {
    use zstd::stream::raw::{InBuffer, Operation, OutBuffer};
    let mut inp = InBuffer::around(input);
    loop {
        let mut o = OutBuffer::around(&mut *buf);
        let hint = z.dec.run(&mut inp, &mut o).map_err(bad("zstd"))?;
        let n = o.pos();
        push(buf.get(..n).unwrap_or(&[]), out, produced, limit)?;
        // 0: a frame ended and everything it holds is out.
        z.complete = hint == 0;
        // Done with this input once it is consumed and the output did not fill up.
        if inp.pos() >= input.len() && n < buf.len() {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use std::io::Write;

    fn text() -> Vec<u8> {
        let mut t = Vec::new();
        for i in 0..2000 {
            t.extend_from_slice(
                format!("event: content_block_delta\ndata: {{\"i\":{i}}}\n\n").as_bytes(),
            );
        }
        t
    }

    fn encode(c: Coding, data: &[u8]) -> Vec<u8> {
        match c {
            Coding::Gzip => {
                let mut e =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Coding::Deflate => {
                let mut e =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Coding::Brotli => {
                let mut out = Vec::new();
                {
                    let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
                    w.write_all(data).unwrap();
                }
                out
            }
            Coding::Zstd => zstd::bulk::compress(data, 3).unwrap(),
        }
    }

    fn decode_in(c: Coding, data: &[u8], chunk: usize, limit: usize) -> Result<Vec<u8>, String> {
        let mut d = Decoder::new(c, limit)?;
        let mut out = Vec::new();
        for piece in data.chunks(chunk.max(1)) {
            d.feed(piece, &mut out)?;
        }
        d.finish(&mut out)?;
        Ok(out)
    }

    const ALL: [Coding; 4] = [Coding::Gzip, Coding::Deflate, Coding::Brotli, Coding::Zstd];

    #[test]
    fn every_coding_round_trips_in_any_chunking() {
        let t = text();
        for c in ALL {
            let z = encode(c, &t);
            for chunk in [1, 7, 300, z.len()] {
                assert_eq!(
                    decode_in(c, &z, chunk, 1 << 20).unwrap(),
                    t,
                    "{c:?} chunk {chunk}"
                );
            }
        }
    }

    #[test]
    fn output_is_not_held_back_for_the_next_chunk() {
        // Each event compressed and flushed on its own, as a streaming server does: feeding
        // the bytes of one event yields that event at once.
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let mut pieces = Vec::new();
        for ev in [&b"data: one\n\n"[..], b"data: two\n\n"] {
            e.write_all(ev).unwrap();
            e.flush().unwrap();
            pieces.push(std::mem::take(e.get_mut()));
        }
        let mut d = Decoder::new(Coding::Gzip, 1 << 20).unwrap();
        let mut out = Vec::new();
        d.feed(&pieces[0], &mut out).unwrap();
        assert_eq!(out, b"data: one\n\n");
        out.clear();
        d.feed(&pieces[1], &mut out).unwrap();
        assert_eq!(out, b"data: two\n\n");
    }

    #[test]
    fn raw_deflate_is_accepted_too() {
        let t = text();
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&t).unwrap();
        let z = e.finish().unwrap();
        assert_eq!(decode_in(Coding::Deflate, &z, 100, 1 << 20).unwrap(), t);
    }

    #[test]
    fn a_truncated_body_is_an_error() {
        let t = text();
        for c in ALL {
            let z = encode(c, &t);
            let cut = &z[..z.len() / 2];
            assert!(decode_in(c, cut, 64, 1 << 20).is_err(), "{c:?}");
        }
    }

    #[test]
    fn garbage_is_an_error() {
        let junk: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for c in ALL {
            assert!(decode_in(c, &junk, 512, 1 << 20).is_err(), "{c:?}");
        }
    }

    #[test]
    fn a_bomb_stops_at_the_limit() {
        let zeros = vec![0u8; 64 << 20];
        for c in ALL {
            let z = encode(c, &zeros);
            let e = decode_in(c, &z, 4096, 1 << 20).unwrap_err();
            assert!(e.contains("more than"), "{c:?}: {e}");
        }
    }

    #[test]
    fn headers_name_the_coding() {
        let mut h = HeaderMap::new();
        assert_eq!(coding(&h), Ok(None));
        h.insert(hyper::header::CONTENT_ENCODING, "identity".parse().unwrap());
        assert_eq!(coding(&h), Ok(None));
        h.insert(hyper::header::CONTENT_ENCODING, "GZIP".parse().unwrap());
        assert_eq!(coding(&h), Ok(Some(Coding::Gzip)));
        h.insert(hyper::header::CONTENT_ENCODING, "br".parse().unwrap());
        assert_eq!(coding(&h), Ok(Some(Coding::Brotli)));
        h.insert(hyper::header::CONTENT_ENCODING, "gzip, br".parse().unwrap());
        assert!(coding(&h).is_err());
        h.insert(hyper::header::CONTENT_ENCODING, "compress".parse().unwrap());
        assert!(coding(&h).is_err());
    }
}
