//! Loading a policy bundle: read the file into owned, aligned memory, validate every byte that
//! will be trusted, and keep zero-copy views of the automata that borrow those bytes.

pub mod format;
pub mod meta;
pub mod signed;

use format::{Header, SectionKind};
use meta::Meta;
use regex_automata::dfa::{dense, sparse};
use std::fs::File;
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// Why a bundle was refused. Every variant names what was being read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read bundle {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("not a Crust policy bundle: {0} bytes is shorter than the {len}-byte header", len = format::HEADER_LEN)]
    TooShort(usize),
    #[error("not a Crust policy bundle: bad magic bytes")]
    BadMagic,
    #[error("bundle format version {found} is not supported (this build reads version {supported}); recompile the rules with this version of crustc")]
    UnsupportedVersion { found: u32, supported: u32 },
    #[error("bundle was written for the other byte order than this host's")]
    WrongEndianness,
    #[error("bundle is truncated: header says {declared} bytes, file has {actual}")]
    Truncated { declared: u64, actual: usize },
    #[error("bundle has {actual} bytes but its header says {declared}: trailing garbage")]
    TrailingBytes { declared: u64, actual: usize },
    #[error("bundle checksum mismatch (stored {stored:016x}, computed {computed:016x}): the file is corrupt")]
    Checksum { stored: u64, computed: u64 },
    #[error("bundle section table is invalid: {0}")]
    SectionTable(String),
    #[error("bundle metadata is invalid: {0}")]
    Meta(String),
    #[error("bundle automaton in section {section} is invalid: {error}")]
    Automaton { section: usize, error: String },
}

/// A validated automaton borrowed from the bundle bytes.
pub(crate) enum Dfa<'a> {
    Dense(dense::DFA<&'a [u32]>),
    Sparse(sparse::DFA<&'a [u8]>),
}

/// The bytes a bundle lives in: an owned buffer whose data starts on an 8-byte boundary, as a
/// mapping's would, so the dense automata can be viewed in place.
///
/// Never a mapping of the file: a file rewritten in place (`cp new.bin policy.bin` truncates and
/// writes; `rsync --inplace` and `dd conv=notrunc` write over it) would change the bytes under
/// the validated views, or kill the process with SIGBUS. Owned bytes are validated once and
/// cannot change afterwards.
pub(crate) struct Storage {
    buf: Vec<u8>,
    start: usize,
    len: usize,
}

impl Storage {
    fn bytes(&self) -> &[u8] {
        self.buf
            .get(self.start..self.start + self.len)
            .unwrap_or(&[])
    }

    /// An aligned, zeroed buffer of `len` bytes.
    fn zeroed(len: usize) -> Storage {
        let buf = vec![0u8; len + 8];
        let start = buf.as_ptr().align_offset(8).min(8);
        Storage { buf, start, len }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        self.buf
            .get_mut(self.start..self.start + self.len)
            .unwrap_or(&mut [])
    }

    /// Copies `bytes` into an aligned buffer.
    fn owned(bytes: &[u8]) -> Storage {
        let mut s = Storage::zeroed(bytes.len());
        s.bytes_mut().copy_from_slice(bytes);
        s
    }

    /// Reads `len` bytes at `offset` of `file` into an aligned buffer (positioned reads: the
    /// file's cursor is shared by threads that read sections at once).
    fn read_at(file: &File, offset: u64, len: usize) -> std::io::Result<Storage> {
        use std::io::{Error, ErrorKind, Read};
        let mut buf: Vec<u8> = Vec::with_capacity(len + 8);
        let start = buf.as_ptr().align_offset(8).min(8);
        buf.resize(start, 0);
        let mut at = At { file, pos: offset };
        let got = (&mut at).take(len as u64).read_to_end(&mut buf)?;
        if got < len {
            return Err(Error::new(
                ErrorKind::UnexpectedEof,
                "the file is shorter than its section table says (is it being written?)",
            ));
        }
        Ok(if (buf.as_ptr() as usize + start).is_multiple_of(8) {
            Storage { buf, start, len }
        } else {
            Storage::owned(buf.get(start..).unwrap_or(&[]))
        })
    }

    /// Reads the whole file at `path` straight into an aligned buffer (one copy, as
    /// `fs::read` makes). A file that grows or shrinks while it is read is refused; one whose
    /// bytes change without a change of length is caught by the checksum.
    fn read(path: &Path) -> std::io::Result<Storage> {
        use std::io::{Error, ErrorKind, Read};
        let mut file = open_regular(path)?;
        let len = usize::try_from(file.metadata()?.len())
            .map_err(|_| Error::new(ErrorKind::InvalidData, "it is too large"))?;
        // Read into spare capacity (not zeroed first: zeroing a large buffer cost as much as
        // reading it), after padding that puts the data on an 8-byte boundary.
        let mut buf: Vec<u8> = Vec::with_capacity(len + 8);
        let start = buf.as_ptr().align_offset(8).min(8);
        buf.resize(start, 0);
        let got = file.by_ref().take(len as u64).read_to_end(&mut buf)?;
        if got < len {
            return Err(Error::new(
                ErrorKind::InvalidData,
                "the file shrank while it was read (is it being written?)",
            ));
        }
        // The buffer never grows past its capacity, but if it moved, align a copy.
        let s = if (buf.as_ptr() as usize + start).is_multiple_of(8) {
            Storage { buf, start, len }
        } else {
            Storage::owned(buf.get(start..).unwrap_or(&[]))
        };
        let mut extra = [0u8; 1];
        if file.read(&mut extra)? != 0 {
            return Err(Error::new(
                ErrorKind::InvalidData,
                "the file grew while it was read (is it being written?)",
            ));
        }
        Ok(s)
    }
}

/// Why a bundle read section by section was refused.
enum Lazy {
    Io(std::io::Error),
    Load(LoadError),
}

impl From<std::io::Error> for Lazy {
    fn from(e: std::io::Error) -> Lazy {
        Lazy::Io(e)
    }
}

impl From<LoadError> for Lazy {
    fn from(e: LoadError) -> Lazy {
        Lazy::Load(e)
    }
}

/// Opens `path` if it is a regular file no larger than a bundle may be.
fn open_regular(path: &Path) -> std::io::Result<File> {
    use std::io::{Error, ErrorKind};
    let file = File::open(path)?;
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "it is a directory; give the bundle file (`policy.bin`) itself",
        ));
    }
    if !meta.is_file() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "it is not a regular file",
        ));
    }
    if meta.len() > MAX_BUNDLE as u64 {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!(
                "it is larger than the {} MiB a bundle may be",
                MAX_BUNDLE >> 20
            ),
        ));
    }
    Ok(file)
}

/// Reads one section from the open bundle and checks it against its checksum.
fn read_section(file: &File, s: &format::Section) -> Result<Storage, String> {
    let len = usize::try_from(s.len).map_err(|_| "section length out of range".to_owned())?;
    let storage = Storage::read_at(file, s.offset, len)
        .map_err(|e| format!("cannot read the section: {e}"))?;
    if format::section_checksum(storage.bytes()) != s.checksum {
        return Err(
            "the section's checksum does not match: the file was changed in place or is corrupt"
                .into(),
        );
    }
    Ok(storage)
}

/// A reader at a position of a file, by positioned reads.
struct At<'f> {
    file: &'f File,
    pos: u64,
}

impl std::io::Read for At<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = read_at(self.file, buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], pos: u64) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, pos)
}

#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], pos: u64) -> std::io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, pos)
}

/// Largest bundle accepted: far above any real policy, low enough that a wrong path (a disk
/// image) is refused before it is read into memory.
const MAX_BUNDLE: usize = 1 << 30;

// One automaton viewed in place in the bundle's bytes, which it shares with the others.
self_cell::self_cell!(
    pub(crate) struct AutomatonView {
        owner: Arc<Storage>,
        #[covariant]
        dependent: Dfa,
    }
);

/// A section of the bundle and, once validated, its automaton (`Err` says why it is not
/// usable: the metadata section, or bytes that failed validation).
pub(crate) struct Slot {
    section: format::Section,
    view: OnceLock<Result<AutomatonView, String>>,
}

/// When a bundle's automata and gates are validated and built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validation {
    /// All at load: a bundle with any bad byte is refused before it is used (the proxy, which
    /// keeps its old bundle when a new one is bad).
    AtLoad,
    /// Each on first use, for a process that judges one call and exits (an agent hook): only
    /// what the call needs is validated. An automaton that fails then makes the call refused.
    OnUse,
}

/// Where a bundle's sections are read from.
enum Source {
    /// The whole file, read and checksummed at load.
    Memory(Arc<Storage>),
    /// The open file, each section read (and checked against its own checksum) on first use.
    /// The file stays open, so a new bundle renamed over the path does not change what is
    /// read; one written over this file in place fails the checksums and refuses the call.
    File(File),
}

/// A loaded policy bundle: framing, checksum and metadata validated; automata validated at
/// load or on first use (see [`Validation`]).
pub struct Bundle {
    pub(crate) meta: Meta,
    source: Source,
    slots: Vec<Slot>,
    validation: Validation,
    checksum: u64,
    len: usize,
}

/// An automaton gave up (a quit byte) or failed validation on first use. Built-in automata
/// have no quit bytes; a bundle that does is answered by failing closed.
#[derive(Debug, Clone, Copy)]
pub struct GaveUp;

impl std::fmt::Debug for Bundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bundle")
            .field("rules", &self.meta.rules.len())
            .field("checksum", &format_args!("{:016x}", self.checksum))
            .field("len", &self.len)
            .finish()
    }
}

impl Bundle {
    /// Reads the bundle at `path` into owned memory and validates all of it.
    pub fn load(path: impl AsRef<Path>) -> Result<Bundle, LoadError> {
        Bundle::load_with(path, Validation::AtLoad)
    }

    /// Reads the bundle at `path`; its automata are validated as [`Validation`] says.
    pub fn load_with(path: impl AsRef<Path>, validation: Validation) -> Result<Bundle, LoadError> {
        let path = path.as_ref();
        let io = |source| LoadError::Io {
            path: path.display().to_string(),
            source,
        };
        if validation == Validation::OnUse {
            return Bundle::from_file(path).map_err(|e| match e {
                Lazy::Io(source) => io(source),
                Lazy::Load(e) => e,
            });
        }
        Bundle::from_storage(Storage::read(path).map_err(io)?, validation)
    }

    /// Reads the header, the section table and the metadata; the automata wait for first use.
    fn from_file(path: &Path) -> Result<Bundle, Lazy> {
        let file = open_regular(path)?;
        let actual = usize::try_from(file.metadata()?.len()).unwrap_or(usize::MAX);
        if actual < format::HEADER_LEN {
            return Err(Lazy::Load(LoadError::TooShort(actual)));
        }
        let head = Storage::read_at(&file, 0, format::HEADER_LEN)?;
        let (magic, h) = Header::decode(head.bytes()).ok_or(LoadError::TooShort(actual))?;
        check_header(magic, &h, actual)?;
        let (start, len) = table_span(&h)?;
        if start.checked_add(len).is_none_or(|end| end > actual) {
            return Err(LoadError::SectionTable("table lies outside the file".into()).into());
        }
        let table = Storage::read_at(&file, start as u64, len)?;
        let sections = check_table(&h, table.bytes(), actual)?;
        let meta_section = *sections
            .first()
            .ok_or_else(|| LoadError::SectionTable("no metadata section".into()))?;
        if meta_section.len > format::MAX_META_LEN as u64 {
            return Err(LoadError::Meta("metadata section is too large".into()).into());
        }
        let raw = read_section(&file, &meta_section)
            .map_err(|e| LoadError::Meta(format!("cannot read the metadata: {e}")))?;
        let meta = decode_meta_bytes(raw.bytes())?;
        Ok(Bundle::assemble(
            meta,
            Source::File(file),
            sections,
            Validation::OnUse,
            h.checksum,
            actual,
        )?)
    }

    /// Validates a bundle held in memory (it is copied into an aligned buffer).
    pub fn from_bytes(bytes: &[u8]) -> Result<Bundle, LoadError> {
        Bundle::from_bytes_with(bytes, Validation::AtLoad)
    }

    /// A bundle held in memory whose automata are validated as [`Validation`] says.
    pub fn from_bytes_with(bytes: &[u8], validation: Validation) -> Result<Bundle, LoadError> {
        Bundle::from_storage(Storage::owned(bytes), validation)
    }

    fn from_storage(storage: Storage, validation: Validation) -> Result<Bundle, LoadError> {
        let (sections, checksum, len) = check_framing(storage.bytes())?;
        let meta = decode_meta(storage.bytes(), &sections)?;
        let source = Source::Memory(Arc::new(storage));
        Bundle::assemble(meta, source, sections, validation, checksum, len)
    }

    fn assemble(
        meta: Meta,
        source: Source,
        sections: Vec<format::Section>,
        validation: Validation,
        checksum: u64,
        len: usize,
    ) -> Result<Bundle, LoadError> {
        let is_dfa: Vec<bool> = sections
            .iter()
            .map(|s| s.kind != SectionKind::Meta)
            .collect();
        meta.validate(&is_dfa).map_err(LoadError::Meta)?;
        if meta.tables.secrets.section.is_none() && !meta.tables.secrets.formats.is_empty() {
            return Err(LoadError::Meta(
                "secret formats without an automaton".into(),
            ));
        }
        let slots = sections
            .into_iter()
            .map(|section| Slot {
                section,
                view: OnceLock::new(),
            })
            .collect();
        let bundle = Bundle {
            meta,
            source,
            slots,
            validation,
            checksum,
            len,
        };
        if validation == Validation::AtLoad {
            for (i, slot) in bundle.slots.iter().enumerate() {
                if slot.section.kind != SectionKind::Meta {
                    if let Err(error) = bundle.view(i) {
                        return Err(LoadError::Automaton {
                            section: i,
                            error: error.to_owned(),
                        });
                    }
                }
            }
        }
        Ok(bundle)
    }

    /// The automaton of section `i`, validated on first use.
    fn view(&self, i: usize) -> Result<&Dfa<'_>, &str> {
        let slot = self.slots.get(i).ok_or("no such section")?;
        slot.view
            .get_or_init(|| {
                if slot.section.kind == SectionKind::Meta {
                    return Err("the metadata section is not an automaton".into());
                }
                let kind = slot.section.kind;
                let view = match &self.source {
                    Source::Memory(storage) => {
                        AutomatonView::try_new(Arc::clone(storage), |storage| {
                            load_automaton(section_bytes(storage.bytes(), &slot.section), kind)
                        })?
                    }
                    Source::File(file) => {
                        let storage = read_section(file, &slot.section)?;
                        AutomatonView::try_new(Arc::new(storage), |storage| {
                            load_automaton(storage.bytes(), kind)
                        })?
                    }
                };
                check_section(&self.meta, i, view.borrow_dependent())?;
                Ok(view)
            })
            .as_ref()
            .map(|v| v.borrow_dependent())
            .map_err(String::as_str)
    }

    /// The automaton of section `i`; one that fails validation gives up (the call is refused).
    pub(crate) fn automaton(&self, i: usize) -> Result<&Dfa<'_>, GaveUp> {
        self.view(i).map_err(|_| GaveUp)
    }

    /// When this bundle's automata are validated (and, by the engine, its gates built).
    pub fn validation(&self) -> Validation {
        self.validation
    }

    /// The checksum stored in (and verified against) the header.
    pub fn checksum(&self) -> u64 {
        self.checksum
    }

    /// Size of the bundle in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the bundle holds no rules.
    pub fn is_empty(&self) -> bool {
        self.meta.rules.is_empty()
    }

    /// The decoded metadata.
    pub fn meta(&self) -> &Meta {
        &self.meta
    }
}

/// Checks header, length, checksum and section table of a bundle held whole in memory;
/// returns the sections.
fn check_framing(bytes: &[u8]) -> Result<(Vec<format::Section>, u64, usize), LoadError> {
    let (magic, h) = Header::decode(bytes).ok_or(LoadError::TooShort(bytes.len()))?;
    check_header(magic, &h, bytes.len())?;
    let computed = format::checksum(bytes.get(format::CHECKSUM_FROM..).unwrap_or(&[]));
    if computed != h.checksum {
        return Err(LoadError::Checksum {
            stored: h.checksum,
            computed,
        });
    }
    let (start, len) = table_span(&h)?;
    let table = start
        .checked_add(len)
        .and_then(|end| bytes.get(start..end))
        .ok_or_else(|| LoadError::SectionTable("table lies outside the file".into()))?;
    let sections = check_table(&h, table, bytes.len())?;
    Ok((sections, h.checksum, bytes.len()))
}

/// Everything about the header that can be checked without the rest of the file, given the
/// file's real length.
fn check_header(magic: [u8; 8], h: &Header, actual: usize) -> Result<(), LoadError> {
    if magic != format::MAGIC {
        return Err(LoadError::BadMagic);
    }
    if h.endian != format::ENDIAN_MARKER {
        if h.endian.swap_bytes() == format::ENDIAN_MARKER {
            return Err(LoadError::WrongEndianness);
        }
        return Err(LoadError::SectionTable(format!(
            "bad byte-order marker {:#010x}",
            h.endian
        )));
    }
    if h.version != format::FORMAT_VERSION {
        return Err(LoadError::UnsupportedVersion {
            found: h.version,
            supported: format::FORMAT_VERSION,
        });
    }
    if h.file_len > actual as u64 {
        return Err(LoadError::Truncated {
            declared: h.file_len,
            actual,
        });
    }
    if h.file_len < actual as u64 {
        return Err(LoadError::TrailingBytes {
            declared: h.file_len,
            actual,
        });
    }
    if h.flags != 0 {
        return Err(LoadError::SectionTable(format!(
            "unknown flags {:#x}",
            h.flags
        )));
    }
    if h.section_count == 0 || h.section_count > format::MAX_SECTIONS {
        return Err(LoadError::SectionTable(format!(
            "implausible section count {}",
            h.section_count
        )));
    }
    Ok(())
}

/// Where the section table lies: (offset, length).
fn table_span(h: &Header) -> Result<(usize, usize), LoadError> {
    let start = usize::try_from(h.table_offset)
        .map_err(|_| LoadError::SectionTable("table offset out of range".into()))?;
    Ok((start, h.section_count as usize * format::SECTION_ENTRY_LEN))
}

/// Checks the section table's checksum and each entry (kind, bounds, alignment, order).
fn check_table(
    h: &Header,
    table: &[u8],
    file_len: usize,
) -> Result<Vec<format::Section>, LoadError> {
    if format::checksum(table) != h.table_checksum {
        return Err(LoadError::SectionTable(
            "the section table's checksum does not match: the file is corrupt".into(),
        ));
    }
    let (table_start, table_len) = table_span(h)?;
    let mut sections = Vec::with_capacity(h.section_count as usize);
    let mut prev_end = table_start + table_len;
    for (i, entry) in table.chunks_exact(format::SECTION_ENTRY_LEN).enumerate() {
        let (kind, checksum, offset, len) = format::decode_section(entry)
            .ok_or_else(|| LoadError::SectionTable(format!("entry {i} is short")))?;
        let kind = SectionKind::from_u32(kind)
            .ok_or_else(|| LoadError::SectionTable(format!("entry {i} has unknown kind {kind}")))?;
        let start = usize::try_from(offset).ok();
        let end = usize::try_from(len)
            .ok()
            .zip(start)
            .and_then(|(l, s)| s.checked_add(l));
        let (Some(start), Some(end)) = (start, end) else {
            return Err(LoadError::SectionTable(format!(
                "entry {i} is out of range"
            )));
        };
        if end > file_len {
            return Err(LoadError::SectionTable(format!(
                "section {i} ends at {end}, past the end of the file ({file_len})"
            )));
        }
        if start % format::SECTION_ALIGN != 0 {
            return Err(LoadError::SectionTable(format!(
                "section {i} at offset {start} is not {}-byte aligned",
                format::SECTION_ALIGN
            )));
        }
        if start < prev_end {
            return Err(LoadError::SectionTable(format!(
                "section {i} overlaps what precedes it"
            )));
        }
        prev_end = end;
        sections.push(format::Section {
            kind,
            checksum,
            offset,
            len,
        });
    }
    if sections.first().map(|s| s.kind) != Some(SectionKind::Meta)
        || sections
            .iter()
            .filter(|s| s.kind == SectionKind::Meta)
            .count()
            != 1
    {
        return Err(LoadError::SectionTable(
            "the first section, and only it, must be the metadata".into(),
        ));
    }
    Ok(sections)
}

fn section_bytes<'a>(bytes: &'a [u8], s: &format::Section) -> &'a [u8] {
    // INVARIANT: check_framing verified every section lies inside the file.
    let start = s.offset as usize;
    bytes.get(start..start + s.len as usize).unwrap_or(&[])
}

fn decode_meta(bytes: &[u8], sections: &[format::Section]) -> Result<Meta, LoadError> {
    let s = sections
        .first()
        .ok_or_else(|| LoadError::SectionTable("no metadata section".into()))?;
    decode_meta_bytes(section_bytes(bytes, s))
}

fn decode_meta_bytes(raw: &[u8]) -> Result<Meta, LoadError> {
    if raw.len() > format::MAX_META_LEN {
        return Err(LoadError::Meta("metadata section is too large".into()));
    }
    // Lengths inside come from the input, but serde preallocates at most a bounded amount
    // per sequence, so memory stays proportional to the (bounded) section.
    let (meta, rest): (Meta, &[u8]) =
        postcard::take_from_bytes(raw).map_err(|e| LoadError::Meta(e.to_string()))?;
    if !rest.is_empty() {
        return Err(LoadError::Meta(format!(
            "{} unused bytes after the metadata",
            rest.len()
        )));
    }
    Ok(meta)
}

fn load_automaton(raw: &[u8], kind: SectionKind) -> Result<Dfa<'_>, String> {
    let err = |e: regex_automata::util::wire::DeserializeError| e.to_string();
    match kind {
        SectionKind::Meta => Err("the metadata section is not an automaton".into()),
        SectionKind::DenseDfa => {
            let (dfa, used) = dense::DFA::from_bytes(raw).map_err(err)?;
            check_used(used, raw.len())?;
            Ok(Dfa::Dense(dfa))
        }
        SectionKind::SparseDfa => {
            let (dfa, used) = sparse::DFA::from_bytes(raw).map_err(err)?;
            check_used(used, raw.len())?;
            Ok(Dfa::Sparse(dfa))
        }
    }
}

fn check_used(used: usize, len: usize) -> Result<(), String> {
    // The writer pads sections to the alignment; anything beyond 63 bytes is not padding.
    if used > len || len - used >= format::SECTION_ALIGN {
        return Err(format!("automaton uses {used} of {len} bytes"));
    }
    Ok(())
}

/// The groups (and the secret formats) that use section `i` must find in its automaton exactly
/// the patterns the metadata maps, and the start state their scan needs.
fn check_section(meta: &Meta, i: usize, dfa: &Dfa<'_>) -> Result<(), String> {
    use regex_automata::dfa::{Automaton, StartKind};
    use regex_automata::{util::start, Anchored};
    let (n, kind, per_pattern) = match dfa {
        Dfa::Dense(d) => (d.pattern_len(), d.start_kind(), d.starts_for_each_pattern()),
        Dfa::Sparse(d) => (d.pattern_len(), d.start_kind(), d.starts_for_each_pattern()),
    };
    let secrets = &meta.tables.secrets;
    if secrets.section.map(|s| s as usize) == Some(i)
        && (n != secrets.formats.len() || kind == StartKind::Unanchored || !per_pattern)
    {
        return Err(format!(
            "secret automaton has {n} patterns for {} formats, or lacks anchored per-format starts",
            secrets.formats.len()
        ));
    }
    for g in meta.fields.iter().flat_map(|f| &f.groups) {
        if g.section as usize != i {
            continue;
        }
        if n != g.patterns.len() {
            return Err(format!(
                "automaton has {n} patterns, metadata maps {}",
                g.patterns.len()
            ));
        }
        let need_anchored = g.scan != meta::Scan::Search;
        let ok_kind = if need_anchored {
            kind != StartKind::Unanchored
        } else {
            kind != StartKind::Anchored
        };
        if !ok_kind {
            return Err("automaton lacks the start state its scan needs".into());
        }
        // A start state must exist without look-behind; probing it here means the hot path
        // never meets a start error.
        let mode = if need_anchored {
            Anchored::Yes
        } else {
            Anchored::No
        };
        let cfg = start::Config::new().anchored(mode);
        let ok = match dfa {
            Dfa::Dense(d) => d.start_state(&cfg).is_ok(),
            Dfa::Sparse(d) => d.start_state(&cfg).is_ok(),
        };
        if !ok {
            return Err("automaton has no usable start state".into());
        }
    }
    Ok(())
}
