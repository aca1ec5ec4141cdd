//! Writes a bundle: header, section table, then 64-byte-aligned sections (metadata first),
//! little-endian, checksummed. The same input gives the same bytes.

use crate::lower::AutomatonSection;
use crust_runtime::bundle::format::{self, Header, Section, SectionKind};
use crust_runtime::bundle::meta::Meta;

/// Serializes a bundle.
pub fn write(meta: &Meta, automata: &[AutomatonSection]) -> Result<Vec<u8>, String> {
    let meta_bytes =
        postcard::to_stdvec(meta).map_err(|e| format!("cannot encode metadata: {e}"))?;
    let mut bodies: Vec<(SectionKind, &[u8])> = vec![(SectionKind::Meta, &meta_bytes)];
    bodies.extend(automata.iter().map(|a| (a.kind, a.bytes.as_slice())));
    let n = bodies.len();
    let table_len = n * format::SECTION_ENTRY_LEN;
    let mut offset = format::align_up(format::HEADER_LEN + table_len);
    let mut sections = Vec::with_capacity(n);
    for (kind, body) in &bodies {
        sections.push(Section {
            kind: *kind,
            checksum: format::section_checksum(body),
            offset: offset as u64,
            len: body.len() as u64,
        });
        offset = format::align_up(offset + body.len());
    }
    let file_len = sections
        .last()
        .map_or(offset, |s| (s.offset + s.len) as usize);
    let mut out = vec![0u8; file_len];
    let put = |out: &mut Vec<u8>, at: usize, bytes: &[u8]| -> Result<(), String> {
        out.get_mut(at..at + bytes.len())
            .ok_or("bundle layout error")?
            .copy_from_slice(bytes);
        Ok(())
    };
    for (i, s) in sections.iter().enumerate() {
        put(
            &mut out,
            format::HEADER_LEN + i * format::SECTION_ENTRY_LEN,
            &format::encode_section(s),
        )?;
        if let Some((_, body)) = bodies.get(i) {
            put(&mut out, s.offset as usize, body)?;
        }
    }
    let mut header = Header {
        checksum: 0,
        version: format::FORMAT_VERSION,
        endian: format::ENDIAN_MARKER,
        file_len: file_len as u64,
        section_count: n as u32,
        flags: 0,
        table_offset: format::HEADER_LEN as u64,
        table_checksum: format::checksum(
            out.get(format::HEADER_LEN..format::HEADER_LEN + table_len)
                .unwrap_or(&[]),
        ),
    };
    put(&mut out, 0, &header.encode())?;
    header.checksum = format::checksum(out.get(format::CHECKSUM_FROM..).unwrap_or(&[]));
    put(&mut out, 0, &header.encode())?;
    Ok(out)
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so a
/// runtime that has the old bundle mapped never sees a half-written file.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "policy.bin".into());
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
