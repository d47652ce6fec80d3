//! The binary's only unsafe code: mapping an input file for reading.

use std::fs::File;
use std::io;
use std::ops::Deref;
use std::path::Path;

/// A file's bytes: mapped when the file can be mapped, else read whole
/// (pipes, /proc files).
pub enum FileBytes {
    /// A read-only mapping.
    Mapped(memmap2::Mmap),
    /// The bytes, read with read(2).
    Read(Vec<u8>),
}

impl Deref for FileBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            FileBytes::Mapped(m) => m,
            FileBytes::Read(v) => v,
        }
    }
}

/// Maps `path` read-only (pre-faulted, so a large trace.dat streams
/// through at memory speed), or reads it when it cannot be mapped.
pub fn map_or_read(path: &Path) -> io::Result<FileBytes> {
    let file = File::open(path)?;
    // SAFETY: the mapping is only ever read, as plain bytes, and every
    // parser bounds-checks offsets against its length. If another process
    // truncates the file meanwhile, an access faults (SIGBUS) instead of
    // returning torn data, as with any mmap reader; ftr reads files that
    // are complete (trace-cmd reads the same files with read(2)).
    #[allow(unsafe_code)]
    let map = unsafe { memmap2::MmapOptions::new().populate().map(&file) };
    match map {
        Ok(m) => Ok(FileBytes::Mapped(m)),
        Err(_) => std::fs::read(path).map(FileBytes::Read),
    }
}
