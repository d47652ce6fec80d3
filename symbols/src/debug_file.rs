//! Finding the separate debug file of a stripped ELF file: by build-id
//! under /usr/lib/debug/.build-id/xx/yyyy.debug, then by .gnu_debuglink
//! next to the file, in its .debug/ directory and under /usr/lib/debug
//! (the order gdb documents in "Separate Debug Files").

use crate::build_id::BuildId;
use crate::elf_file::ElfFile;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The global debug directory.
pub const DEBUG_ROOT: &str = "/usr/lib/debug";

/// Candidate debug files for `elf` found at `path`, most specific first.
pub fn debug_file_candidates(debug_root: &Path, path: &Path, elf: &ElfFile) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(id) = &elf.build_id {
        out.push(build_id_path(debug_root, id));
    }
    if let Some((name, _crc)) = &elf.debuglink {
        let name = Path::new(OsStr::from_bytes(name));
        let dir = path.parent().unwrap_or(Path::new("/"));
        out.push(dir.join(name));
        out.push(dir.join(".debug").join(name));
        let rel = dir.strip_prefix("/").unwrap_or(dir);
        out.push(debug_root.join(rel).join(name));
    }
    out.retain(|c| c != path);
    out
}

/// `ROOT/.build-id/xx/yyyy.debug` for a build-id.
pub fn build_id_path(debug_root: &Path, id: &BuildId) -> PathBuf {
    let hex = id.to_string();
    let (head, tail) = hex.split_at(2.min(hex.len()));
    debug_root
        .join(".build-id")
        .join(head)
        .join(format!("{tail}.debug"))
}

/// Opens the first candidate that parses and whose build-id (when both
/// files have one) matches; a debuglink CRC is not checked, the build-id
/// is the stronger check and Debian's debug files all carry one.
pub(crate) fn find_debug_file(
    debug_root: &Path,
    path: &Path,
    elf: &ElfFile,
) -> Option<(PathBuf, memmap2::Mmap, ElfFile)> {
    for c in debug_file_candidates(debug_root, path, elf) {
        let Ok(data) = crate::mmap::map_file(&c) else {
            continue;
        };
        let Ok(debug) = ElfFile::parse(&data) else {
            continue;
        };
        let matches = match (&elf.build_id, &debug.build_id) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        if matches && (debug.has_dwarf || debug.has_symtab) {
            return Some((c, data, debug));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_id_paths_split_the_first_byte() {
        let id = BuildId(vec![0xab, 0xcd, 0xef]);
        assert_eq!(
            build_id_path(Path::new(DEBUG_ROOT), &id),
            Path::new("/usr/lib/debug/.build-id/ab/cdef.debug")
        );
    }
}
