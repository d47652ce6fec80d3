//! The traced processes' executable mappings, kept from /proc at attach
//! and from the kernel's MMAP records after, so stacks still symbolize
//! after a process has exited (a `-c` command's final report).

use crate::tools::common::mmap_maps::map_entry;
use ftr_pmu::Mmap;
use ftr_symbols::{read_maps, MapEntry};
use std::collections::HashMap;

#[derive(Debug, Default)]
pub struct ProcessMaps {
    by_pid: HashMap<u32, Vec<MapEntry>>,
}

impl ProcessMaps {
    /// Starts `pid` from its current /proc maps (a process attached to).
    pub fn read(&mut self, pid: u32) {
        if let Ok(maps) = read_maps(pid) {
            self.by_pid.insert(pid, maps);
        }
    }

    /// Adds a mapping; ones it overlaps are gone.
    pub fn note(&mut self, m: &Mmap<'_>) {
        let Some(entry) = map_entry(m) else {
            return;
        };
        let maps = self.by_pid.entry(m.pid).or_default();
        maps.retain(|e| e.end <= entry.start || e.start >= entry.end);
        let at = maps.partition_point(|e| e.start < entry.start);
        maps.insert(at, entry);
    }

    /// Forgets `pid`'s maps (at exec: a new image replaces them).
    pub fn exec(&mut self, pid: u32) {
        self.by_pid.remove(&pid);
    }

    /// Whether `addr` lies in an executable mapping of `pid`.
    pub fn is_code(&self, pid: u32, addr: u64) -> bool {
        let Some(maps) = self.by_pid.get(&pid) else {
            return false;
        };
        let at = maps.partition_point(|e| e.start <= addr);
        at > 0 && maps[at - 1].end > addr && maps[at - 1].is_executable()
    }

    /// Copies a process's copy into `sym`, for symbolizing now.
    pub fn get(&self, pid: u32) -> Option<&Vec<MapEntry>> {
        self.by_pid.get(&pid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ftr_pmu::{CpuMode, SampleId};
    use ftr_symbols::MapBacking;
    use proptest::prelude::*;

    fn mmap(addr: u64, len: u64, pgoff: u64, name: &[u8]) -> Mmap<'_> {
        Mmap {
            pid: 7,
            tid: 7,
            addr,
            len,
            pgoff,
            inode: Some((254, 1, 1835, 0)),
            build_id: None,
            prot: Some(5),
            flags: Some(2),
            filename: name,
            mode: CpuMode::User,
            sample_id: SampleId::default(),
        }
    }

    #[test]
    fn records_become_sorted_maps() {
        let mut p = ProcessMaps::default();
        p.note(&mmap(0x7000, 0x1000, 0x2000, b"/usr/lib/libc.so.6"));
        p.note(&mmap(0x5000, 0x1000, 0, b"/usr/bin/prog"));
        p.note(&mmap(0x7800, 0x100, 0, b"[vdso]"));
        let m = p.get(7).unwrap();
        assert_eq!(m.len(), 2, "the overlapped libc mapping is replaced");
        assert_eq!((m[0].start, m[0].end, m[0].offset), (0x5000, 0x6000, 0));
        assert_eq!(m[0].dev, (254, 1));
        assert_eq!(m[0].inode, 1835);
        assert!(m[0].is_executable());
        assert_eq!(m[1].backing, MapBacking::Vdso);
        assert!(p.is_code(7, 0x5000) && p.is_code(7, 0x5fff) && p.is_code(7, 0x7800));
        assert!(!p.is_code(7, 0x6000) && !p.is_code(7, 0) && !p.is_code(8, 0x5000));
    }

    proptest! {
        #[test]
        fn any_record_is_handled(addr: u64, len: u64, pgoff: u64, name in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut p = ProcessMaps::default();
            p.note(&mmap(addr, len, pgoff, &name));
        }
    }
}
