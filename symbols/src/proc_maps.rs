//! /proc/PID/maps: `START-END PERMS OFFSET MAJOR:MINOR INODE [PATH]` per line.

use crate::error::{Error, Result};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// What a mapping is backed by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapBacking {
    /// A file on disk; `deleted` when the path ends in ` (deleted)` (the
    /// file was unlinked or replaced; read it through map_files).
    File {
        /// The path as the process sees it (without ` (deleted)`).
        path: PathBuf,
        /// The file was unlinked after mapping.
        deleted: bool,
    },
    /// A memfd (`/memfd:NAME (deleted)`): only map_files reaches it.
    Memfd(String),
    /// `[vdso]`: the kernel's own shared object.
    Vdso,
    /// `[heap]`, `[stack]`, `[vvar]`, `[anon:NAME]` or no path: anonymous
    /// memory, where JIT code lives.
    Anonymous(String),
}

/// One mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapEntry {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// `r`, `w`, `x` flags as given (`r-xp`).
    pub perms: [u8; 4],
    /// File offset of `start`.
    pub offset: u64,
    /// The device of the file (major, minor).
    pub dev: (u32, u32),
    /// The file's inode (0 for anonymous memory).
    pub inode: u64,
    /// What backs the mapping.
    pub backing: MapBacking,
}

impl MapEntry {
    /// Whether the mapping is executable.
    pub fn is_executable(&self) -> bool {
        self.perms[2] == b'x'
    }

    /// The file offset of `addr` (which must lie in the mapping).
    pub fn file_offset(&self, addr: u64) -> u64 {
        addr.wrapping_sub(self.start).wrapping_add(self.offset)
    }

    /// Whether `addr` lies in the mapping.
    pub fn contains(&self, addr: u64) -> bool {
        addr >= self.start && addr < self.end
    }
}

fn hex(b: &[u8]) -> Option<u64> {
    u64::from_str_radix(std::str::from_utf8(b).ok()?, 16).ok()
}

/// Splits off the next field, skipping leading spaces.
fn field<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let s = rest.trim_ascii_start();
    let end = s.iter().position(|&b| b == b' ').unwrap_or(s.len());
    *rest = &s[end..];
    (end > 0).then(|| &s[..end])
}

/// Parses one maps line; None when malformed.
pub fn parse_maps_line(line: &[u8]) -> Option<MapEntry> {
    let mut rest = line;
    let range = field(&mut rest)?;
    let dash = range.iter().position(|&b| b == b'-')?;
    let start = hex(&range[..dash])?;
    let end = hex(&range[dash + 1..])?;
    let perms: [u8; 4] = field(&mut rest)?.try_into().ok()?;
    let offset = hex(field(&mut rest)?)?;
    let dev = field(&mut rest)?;
    let colon = dev.iter().position(|&b| b == b':')?;
    let dev = (
        u32::try_from(hex(&dev[..colon])?).ok()?,
        u32::try_from(hex(&dev[colon + 1..])?).ok()?,
    );
    let inode = std::str::from_utf8(field(&mut rest)?).ok()?.parse().ok()?;
    // The path is the rest of the line after the padding; it may contain spaces.
    let path = rest.trim_ascii_start();
    let backing = backing_of(path, inode);
    (start <= end).then_some(MapEntry {
        start,
        end,
        perms,
        offset,
        dev,
        inode,
        backing,
    })
}

fn backing_of(path: &[u8], inode: u64) -> MapBacking {
    const DELETED: &[u8] = b" (deleted)";
    let (name, deleted) = match path.strip_suffix(DELETED) {
        Some(p) => (p, true),
        None => (path, false),
    };
    if let Some(memfd) = name.strip_prefix(b"/memfd:") {
        return MapBacking::Memfd(String::from_utf8_lossy(memfd).into_owned());
    }
    if path == b"[vdso]" {
        return MapBacking::Vdso;
    }
    if name.first() == Some(&b'/') && inode != 0 {
        return MapBacking::File {
            path: PathBuf::from(OsStr::from_bytes(name)),
            deleted,
        };
    }
    MapBacking::Anonymous(String::from_utf8_lossy(path).into_owned())
}

/// Parses a whole maps file; malformed lines are skipped. Entries stay in
/// file order, which the kernel gives sorted by address.
pub fn parse_maps(bytes: &[u8]) -> Vec<MapEntry> {
    bytes.split(|&b| b == b'\n').filter_map(parse_maps_line).collect()
}

/// Reads /proc/PID/maps.
pub fn read_maps(pid: u32) -> Result<Vec<MapEntry>> {
    let path = format!("/proc/{pid}/maps");
    let bytes = std::fs::read(&path).map_err(|e| Error::read(path, e))?;
    Ok(parse_maps(&bytes))
}

/// The mapping holding `addr` in entries sorted by address.
pub fn find_mapping(maps: &[MapEntry], addr: u64) -> Option<&MapEntry> {
    let i = maps.partition_point(|m| m.start <= addr);
    maps.get(i.checked_sub(1)?).filter(|m| m.contains(addr))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MAPS: &str = "\
55d0c6a00000-55d0c6a02000 r--p 00000000 fd:01 1835   /usr/bin/my prog
55d0c6a02000-55d0c6a05000 r-xp 00002000 fd:01 1835   /usr/bin/my prog
55d0c7e1e000-55d0c7e3f000 rw-p 00000000 00:00 0      [heap]
7f3a1c000000-7f3a1c021000 r-xp 00000000 00:00 0 
7f3a1d028000-7f3a1d1bd000 r-xp 00028000 fd:01 2231   /usr/lib/x86_64-linux-gnu/libc.so.6
7f3a1d400000-7f3a1d401000 r-xp 00001000 00:01 77     /memfd:jit-code (deleted)
7f3a1d500000-7f3a1d501000 r-xp 00000000 fd:01 99     /tmp/a.out (deleted)
7ffd5c3f0000-7ffd5c3f2000 r-xp 00000000 00:00 0      [vdso]
";

    #[test]
    fn parses_every_kind_of_line() {
        let m = parse_maps(MAPS.as_bytes());
        assert_eq!(m.len(), 8);
        assert_eq!(
            m[1].backing,
            MapBacking::File {
                path: "/usr/bin/my prog".into(),
                deleted: false
            }
        );
        assert_eq!((m[1].offset, m[1].dev, m[1].inode), (0x2000, (0xfd, 1), 1835));
        assert!(m[1].is_executable());
        assert_eq!(m[2].backing, MapBacking::Anonymous("[heap]".into()));
        assert_eq!(m[3].backing, MapBacking::Anonymous(String::new()));
        assert_eq!(m[5].backing, MapBacking::Memfd("jit-code".into()));
        assert_eq!(
            m[6].backing,
            MapBacking::File {
                path: "/tmp/a.out".into(),
                deleted: true
            }
        );
        assert_eq!(m[7].backing, MapBacking::Vdso);
        let libc = find_mapping(&m, 0x7f3a1d028010).unwrap();
        assert_eq!(libc.file_offset(0x7f3a1d028010), 0x28010);
        assert!(find_mapping(&m, 0x10).is_none());
    }

    #[test]
    fn reads_our_own_maps() {
        let m = read_maps(std::process::id()).unwrap();
        let here = reads_our_own_maps as *const () as usize as u64;
        let e = find_mapping(&m, here).expect("our code is mapped");
        assert!(e.is_executable());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..512), a in any::<u64>()) {
            let m = parse_maps(&b);
            let _ = find_mapping(&m, a);
        }

        #[test]
        fn arbitrary_lines_never_panic(l in "[0-9a-f]{1,16}-[0-9a-f]{1,16} [rwxps-]{4} [0-9a-f]{1,9} [0-9a-f]{1,3}:[0-9a-f]{1,3} [0-9]{1,8} {0,9}.{0,40}") {
            let _ = parse_maps_line(l.as_bytes());
        }
    }
}
