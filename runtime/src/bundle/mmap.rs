//! The only `unsafe` in Crust: mapping a bundle file into memory.

use std::fs::File;
use std::io;

/// Maps `file` read-only.
pub fn map(file: &File) -> io::Result<memmap2::Mmap> {
    // SAFETY: memmap2 requires that the mapped file is not modified while mapped (doing so is
    // undefined behaviour, typically SIGBUS or torn reads). Crust never rewrites a bundle in
    // place: `crustc` and `crust start` write a temporary file and rename it over the old one,
    // so a live mapping keeps the old inode. Every byte read through the map is still validated
    // (checksum, bounds, automaton validation) before it is trusted, so a file changed by
    // someone else is rejected rather than believed.
    #[allow(unsafe_code)]
    unsafe {
        memmap2::Mmap::map(file)
    }
}
