//! MMAP and MMAP2 records as /proc/PID/maps entries: each is written as
//! the maps line it stands for and parsed by ftr-symbols' maps parser, so
//! both sources agree on paths, `(deleted)` files, memfds and the vdso.

use ftr_pmu::{CpuMode, Mmap};
use ftr_symbols::{parse_maps_line, MapEntry};

/// PROT_READ, PROT_WRITE, PROT_EXEC and MAP_SHARED as the kernel records
/// them in MMAP2 (`perf_event_mmap_event`).
const PROT_READ: u32 = 1;
const PROT_WRITE: u32 = 2;
const PROT_EXEC: u32 = 4;
const MAP_SHARED: u32 = 1;

/// The maps entry of a record; None without an inode (MMAP2 records that
/// carry a build id instead: the symbolizer keys files by device and
/// inode) or with a range past the address space. An MMAP (v1) record,
/// which has no protection, is an executable mapping.
pub fn map_entry(m: &Mmap<'_>) -> Option<MapEntry> {
    let (maj, min, ino, _) = m.inode?;
    let prot = m.prot.unwrap_or(PROT_READ | PROT_EXEC);
    let flag = |bit, c| if prot & bit != 0 { c } else { '-' };
    let shared = if m.flags.unwrap_or(0) & MAP_SHARED != 0 {
        's'
    } else {
        'p'
    };
    let mut line = format!(
        "{:x}-{:x} {}{}{}{} {:08x} {maj:02x}:{min:02x} {ino} ",
        m.addr,
        m.addr.checked_add(m.len)?,
        flag(PROT_READ, 'r'),
        flag(PROT_WRITE, 'w'),
        flag(PROT_EXEC, 'x'),
        shared,
        m.pgoff,
    )
    .into_bytes();
    line.extend_from_slice(m.filename);
    parse_maps_line(&line)
}

/// [`map_entry`] for a user-space executable mapping only: None for
/// data and kernel mappings too.
pub fn executable_mapping(m: &Mmap<'_>) -> Option<MapEntry> {
    if m.mode != CpuMode::User || m.prot.is_some_and(|p| p & PROT_EXEC == 0) {
        return None;
    }
    map_entry(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ftr_symbols::MapBacking;
    use proptest::prelude::*;

    fn mmap(filename: &[u8], prot: Option<u32>) -> Mmap<'_> {
        Mmap {
            pid: 7,
            tid: 7,
            addr: 0x7f00_0000_1000,
            len: 0x2000,
            pgoff: 0x1000,
            inode: Some((8, 1, 1234, 0)),
            build_id: None,
            prot,
            flags: Some(2),
            filename,
            mode: CpuMode::User,
            sample_id: Default::default(),
        }
    }

    #[test]
    fn records_become_maps_entries() {
        let m = executable_mapping(&mmap(b"/usr/lib/x86_64-linux-gnu/libc.so.6", Some(5))).unwrap();
        assert_eq!(
            (m.start, m.end, m.offset, m.dev, m.inode),
            (0x7f00_0000_1000, 0x7f00_0000_3000, 0x1000, (8, 1), 1234)
        );
        assert!(m.is_executable());
        assert!(matches!(m.backing, MapBacking::File { deleted: false, .. }));
        let m = executable_mapping(&mmap(b"/tmp/a b (deleted)", Some(5))).unwrap();
        assert!(matches!(m.backing, MapBacking::File { deleted: true, .. }));
        assert!(
            executable_mapping(&mmap(b"/usr/lib/libc.so.6", Some(3))).is_none(),
            "data mapping"
        );
        let data = map_entry(&mmap(b"/usr/lib/libc.so.6", Some(3))).unwrap();
        assert!(!data.is_executable());
        assert!(map_entry(&mmap(b"/x", None)).unwrap().is_executable(), "MMAP v1");
        assert!(
            map_entry(&Mmap {
                inode: None,
                ..mmap(b"/x", Some(5))
            })
            .is_none(),
            "build-id only"
        );
        assert!(map_entry(&Mmap {
            addr: u64::MAX,
            ..mmap(b"/x", Some(5))
        })
        .is_none());
        let kernel = Mmap {
            mode: CpuMode::Kernel,
            ..mmap(b"[kernel.kallsyms]", Some(5))
        };
        assert!(executable_mapping(&kernel).is_none());
    }

    proptest! {
        #[test]
        fn any_record_is_handled(addr: u64, len: u64, pgoff: u64, prot: Option<u32>, flags: Option<u32>,
                                 name in proptest::collection::vec(any::<u8>(), 0..64)) {
            let m = Mmap { addr, len, pgoff, flags, ..mmap(&name, prot) };
            let _ = map_entry(&m);
            let _ = executable_mapping(&m);
        }
    }
}
