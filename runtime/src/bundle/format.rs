//! The wire format of `policy.bin`: the one place that knows magic, version, header layout,
//! section kinds and alignment. The compiler's writer and the runtime's reader both use it.
//! `docs/BUNDLE.md` describes the same layout in prose.

/// First eight bytes of every bundle.
pub const MAGIC: [u8; 8] = *b"CRUSTPB\0";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 18;
/// Written little-endian; a reader on a host of the other byte order sees it reversed.
pub const ENDIAN_MARKER: u32 = 0x0102_0304;
/// Size of the fixed header.
pub const HEADER_LEN: usize = 64;
/// Size of one section-table entry.
pub const SECTION_ENTRY_LEN: usize = 24;
/// Every section starts at a multiple of this (a cache line; dense DFAs need 4).
pub const SECTION_ALIGN: usize = 64;
/// Upper bound on sections, so a corrupt count cannot make the reader allocate much.
pub const MAX_SECTIONS: u32 = 65_536;
/// Upper bound on the decoded metadata, in bytes.
pub const MAX_META_LEN: usize = 64 << 20;
/// The checksum covers every byte from this offset to the end of the file.
pub const CHECKSUM_FROM: usize = 16;

/// What a section holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectionKind {
    /// postcard-encoded [`super::meta::Meta`].
    Meta = 1,
    /// A regex-automata dense DFA, little-endian wire form.
    DenseDfa = 2,
    /// A regex-automata sparse DFA, little-endian wire form.
    SparseDfa = 3,
}

impl SectionKind {
    pub fn from_u32(v: u32) -> Option<Self> {
        match v {
            1 => Some(SectionKind::Meta),
            2 => Some(SectionKind::DenseDfa),
            3 => Some(SectionKind::SparseDfa),
            _ => None,
        }
    }
}

/// One entry of the section table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Section {
    pub kind: SectionKind,
    /// [`section_checksum`] of the section's bytes: a reader that reads sections one by one,
    /// on first use, checks each without reading the whole file.
    pub checksum: u32,
    pub offset: u64,
    pub len: u64,
}

/// The decoded fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub checksum: u64,
    pub version: u32,
    pub endian: u32,
    pub file_len: u64,
    pub section_count: u32,
    pub flags: u32,
    pub table_offset: u64,
    /// [`checksum`] of the section table's bytes.
    pub table_checksum: u64,
}

impl Header {
    /// Encodes the header; the checksum field is written as given.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        let mut w = Writer(&mut out, 0);
        w.put(&MAGIC);
        w.put(&self.checksum.to_le_bytes());
        w.put(&self.version.to_le_bytes());
        w.put(&self.endian.to_le_bytes());
        w.put(&self.file_len.to_le_bytes());
        w.put(&self.section_count.to_le_bytes());
        w.put(&self.flags.to_le_bytes());
        w.put(&self.table_offset.to_le_bytes());
        w.put(&self.table_checksum.to_le_bytes());
        out
    }

    /// Decodes the header fields; `None` if `bytes` is shorter than the header.
    /// Checking the values is the reader's job.
    pub fn decode(bytes: &[u8]) -> Option<([u8; 8], Header)> {
        let mut r = Reader(bytes.get(..HEADER_LEN)?);
        let magic: [u8; 8] = r.take()?;
        let checksum = u64::from_le_bytes(r.take()?);
        let version = u32::from_le_bytes(r.take()?);
        let endian = u32::from_le_bytes(r.take()?);
        let file_len = u64::from_le_bytes(r.take()?);
        let section_count = u32::from_le_bytes(r.take()?);
        let flags = u32::from_le_bytes(r.take()?);
        let table_offset = u64::from_le_bytes(r.take()?);
        let table_checksum = u64::from_le_bytes(r.take()?);
        Some((
            magic,
            Header {
                checksum,
                version,
                endian,
                file_len,
                section_count,
                flags,
                table_offset,
                table_checksum,
            },
        ))
    }
}

/// Encodes one section-table entry.
pub fn encode_section(s: &Section) -> [u8; SECTION_ENTRY_LEN] {
    let mut out = [0u8; SECTION_ENTRY_LEN];
    let mut w = Writer(&mut out, 0);
    w.put(&(s.kind as u32).to_le_bytes());
    w.put(&s.checksum.to_le_bytes());
    w.put(&s.offset.to_le_bytes());
    w.put(&s.len.to_le_bytes());
    out
}

/// Decodes one section-table entry: (kind as stored, checksum, offset, length).
pub fn decode_section(bytes: &[u8]) -> Option<(u32, u32, u64, u64)> {
    let mut r = Reader(bytes.get(..SECTION_ENTRY_LEN)?);
    let kind = u32::from_le_bytes(r.take()?);
    let checksum = u32::from_le_bytes(r.take()?);
    let offset = u64::from_le_bytes(r.take()?);
    let len = u64::from_le_bytes(r.take()?);
    Some((kind, checksum, offset, len))
}

/// The checksum of one section's bytes (the low half of xxh3-64).
pub fn section_checksum(bytes: &[u8]) -> u32 {
    checksum(bytes) as u32
}

/// The checksum of a bundle body (xxh3-64; detects corruption, not tampering).
pub fn checksum(body: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(body)
}

/// Rounds `n` up to the section alignment.
pub fn align_up(n: usize) -> usize {
    n.div_ceil(SECTION_ALIGN) * SECTION_ALIGN
}

struct Writer<'a>(&'a mut [u8], usize);
impl Writer<'_> {
    fn put(&mut self, b: &[u8]) {
        if let Some(dst) = self.0.get_mut(self.1..self.1 + b.len()) {
            dst.copy_from_slice(b);
        }
        self.1 += b.len();
    }
}

struct Reader<'a>(&'a [u8]);
impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }
}
