//! Read-only file mappings, so a large binary or debug file is paged in
//! on demand instead of copied whole into memory.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::path::Path;

/// Maps `path` read-only.
pub(crate) fn map_file(path: &Path) -> io::Result<memmap2::Mmap> {
    let file = File::open(path)?;
    // SAFETY: the mapping is private and read-only, and only ever read as
    // bytes. Its contents can change under us only if another process
    // truncates or rewrites the file in place; package managers and
    // linkers replace binaries by rename, which leaves our mapping intact.
    // In-place truncation would raise SIGBUS, the same exposure every
    // symbolizer that maps binaries (perf, blazesym, samply) accepts.
    unsafe { memmap2::Mmap::map(&file) }
}
