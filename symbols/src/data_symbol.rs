//! Names for data addresses: which global or static variable of a mapped
//! file (`STT_OBJECT` / `STT_TLS` symbols of .symtab and .dynsym) holds an
//! address of a process, as tools name a mutex `mutex_a` or
//! `main::static_mutex` (BCC's deadlock asks `objdump -tT` the same).
//!
//! A file's load bias comes from its first file-backed mapping, so
//! addresses in .bss past the file's end (an anonymous mapping) resolve
//! too.

use crate::demangle::demangle;
use crate::proc_maps::{read_maps, MapBacking, MapEntry};
use object::{Object, ObjectSegment, ObjectSymbol, SymbolKind};
use std::path::{Path, PathBuf};

/// A variable holding an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSymbol {
    /// Demangled name.
    pub name: String,
    /// Bytes from the variable's start.
    pub offset: u64,
    /// The file defining it.
    pub path: PathBuf,
}

/// The variable of process `pid` holding `addr`, if a mapped file defines
/// one there (None for heap, stack and stripped files, or when the
/// process is gone).
pub fn data_symbol(pid: u32, addr: u64) -> Option<DataSymbol> {
    let maps = read_maps(pid).ok()?;
    let at = maps.iter().position(|m| m.start <= addr && addr < m.end)?;
    // The file mapped there, or the one just before an anonymous mapping
    // (the part of .bss past the file's last page).
    let path = match (&maps[at].backing, at.checked_sub(1).map(|i| &maps[i].backing)) {
        (MapBacking::File { path, .. }, _) => path,
        (MapBacking::Anonymous(name), Some(MapBacking::File { path, .. })) if name.is_empty() => path,
        _ => return None,
    };
    in_file(&maps, pid, path, addr)
}

/// Like [`data_symbol`], from mappings known otherwise (perf MMAP2
/// records of executable mappings, after the process is gone): every file
/// in `maps` is tried, its bias taken from its lowest-offset mapping.
/// Files are read through /proc/PID/root while the process lives, else by
/// their path.
pub fn data_symbol_in(maps: &[MapEntry], pid: u32, addr: u64) -> Option<DataSymbol> {
    let mut tried: Vec<&Path> = Vec::new();
    for m in maps {
        let MapBacking::File { path, .. } = &m.backing else {
            continue;
        };
        if tried.contains(&path.as_path()) {
            continue;
        }
        tried.push(path);
        if let Some(hit) = in_file(maps, pid, path, addr) {
            return Some(hit);
        }
    }
    None
}

fn in_file(maps: &[MapEntry], pid: u32, path: &Path, addr: u64) -> Option<DataSymbol> {
    let first = maps
        .iter()
        .filter(|x| matches!(&x.backing, MapBacking::File { path: p, .. } if p == path))
        .min_by_key(|x| x.offset)?;
    let rooted = Path::new("/proc")
        .join(pid.to_string())
        .join("root")
        .join(path.strip_prefix("/").unwrap_or(path));
    let data = std::fs::read(&rooted).or_else(|_| std::fs::read(path)).ok()?;
    let (name, offset) = lookup(&data, first, addr)?;
    Some(DataSymbol {
        name,
        offset,
        path: path.to_owned(),
    })
}

/// The data symbol holding `addr` in ELF `data` mapped with `first` as its
/// lowest-offset mapping, as (demangled name, offset into it).
fn lookup(data: &[u8], first: &MapEntry, addr: u64) -> Option<(String, u64)> {
    let file = object::File::parse(data).ok()?;
    // The segment holding the first mapping's file offset gives the bias.
    // Mappings start at the page holding the segment's first byte, which
    // the previous segment may share: the last segment starting at or
    // before that page is the one mapped.
    let seg = file
        .segments()
        .filter(|s| {
            let (off, size) = s.file_range();
            off & !0xfff <= first.offset && first.offset < off + size.max(1)
        })
        .last()?;
    let (seg_off, _) = seg.file_range();
    let start_vaddr = seg.address().wrapping_add(first.offset).wrapping_sub(seg_off);
    let bias = first.start.wrapping_sub(start_vaddr);
    let vaddr = addr.wrapping_sub(bias);
    if !file
        .segments()
        .any(|s| s.address() <= vaddr && vaddr < s.address() + s.size())
    {
        return None;
    }
    file.symbols()
        .chain(file.dynamic_symbols())
        .filter(|s| matches!(s.kind(), SymbolKind::Data | SymbolKind::Tls) && s.is_definition())
        .find(|s| s.address() <= vaddr && vaddr < s.address() + s.size().max(1))
        .and_then(|s| Some((demangle(s.name().ok()?), vaddr - s.address())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    static NAMED_GLOBAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(7);

    #[test]
    fn a_global_of_this_test_binary_is_named() {
        let addr = &NAMED_GLOBAL as *const _ as u64;
        let hit = data_symbol(std::process::id(), addr + 2).expect("the static is in .data");
        assert!(hit.name.contains("NAMED_GLOBAL"), "{hit:?}");
        assert_eq!(hit.offset, 2);
        // From the executable mapping alone, as perf MMAP2 records give it.
        let maps = read_maps(std::process::id()).unwrap();
        let text: Vec<MapEntry> = maps.into_iter().filter(|m| m.is_executable()).collect();
        let hit =
            data_symbol_in(&text, std::process::id(), addr).expect("found through the text mapping's bias");
        assert!(hit.name.contains("NAMED_GLOBAL"), "{hit:?}");
        let on_stack = 5u64;
        assert_eq!(
            data_symbol(std::process::id(), &on_stack as *const _ as u64),
            None
        );
    }

    proptest! {
        #[test]
        fn garbage_files_are_no_symbol_not_a_panic(b in proptest::collection::vec(any::<u8>(), 0..512), addr: u64) {
            let m = MapEntry { start: 0x1000, end: 0x2000, perms: *b"r--p", offset: 0, dev: (0, 0), inode: 1,
                backing: MapBacking::File { path: "/x".into(), deleted: false } };
            let _ = lookup(&b, &m, addr);
        }
    }
}
