//! DWARF CFI unwinding of sampled user stacks with framehop, for code
//! built without frame pointers (`--call-graph dwarf`).
//!
//! The unwinder takes plain registers and stack bytes, never perf types
//! (STYLE.md rule 1). Each process gets a framehop unwinder whose modules
//! are its executable file mappings, read from /proc/PID/maps when the
//! process is first seen, while it lives; the unwind sections of each file
//! are read once per (device, inode) and shared between processes.

use ftr_symbols::{read_maps, MapBacking, MapEntry};
use object::{Object, ObjectSection, ObjectSegment};
use std::collections::HashMap;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[cfg(target_arch = "aarch64")]
use framehop::aarch64::{CacheAarch64 as Cache, UnwindRegsAarch64 as Regs, UnwinderAarch64 as Native};
#[cfg(target_arch = "x86_64")]
use framehop::x86_64::{CacheX86_64 as Cache, UnwindRegsX86_64 as Regs, UnwinderX86_64 as Native};
use framehop::{ExplicitModuleSectionInfo, Module, Unwinder};

type Bytes = Arc<[u8]>;
/// A file's (device, inode).
type FileKey = ((u32, u32), u64);

/// Maps are read again for an address outside every module at most this
/// often per process (a library loaded after the first sample).
const MAPS_REREAD_INTERVAL: Duration = Duration::from_millis(200);
/// Frames past this are dropped, as perf's `max_stack` does.
const MAX_FRAMES: usize = 127;

/// The registers a sample starts unwinding from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartRegs {
    /// Instruction pointer.
    pub ip: u64,
    /// Stack pointer: the address of the first byte of the stack copy.
    pub sp: u64,
    /// Frame pointer (rbp, x29).
    pub fp: u64,
    /// Link register (aarch64).
    pub lr: Option<u64>,
}

/// The unwind sections of one ELF file, with their link-time addresses.
struct FileSections {
    text: Option<(Range<u64>, Bytes)>,
    eh_frame: Option<(Range<u64>, Bytes)>,
    eh_frame_hdr: Option<(Range<u64>, Bytes)>,
    debug_frame: Option<Bytes>,
    got: Option<Range<u64>>,
    /// (file range, vaddr) of each LOAD segment, to find a mapping's bias.
    segments: Vec<(Range<u64>, u64)>,
}

impl FileSections {
    fn parse(data: &[u8]) -> Result<FileSections, String> {
        let file = object::File::parse(data).map_err(|e| e.to_string())?;
        let section = |name: &str| {
            let s = file.section_by_name(name)?;
            let data = s.uncompressed_data().ok()?;
            Some((s.address()..s.address() + s.size(), Bytes::from(&*data)))
        };
        let segments = file
            .segments()
            .map(|s| {
                let (off, len) = s.file_range();
                (off..off + len, s.address())
            })
            .collect();
        Ok(FileSections {
            text: section(".text"),
            eh_frame: section(".eh_frame"),
            eh_frame_hdr: section(".eh_frame_hdr"),
            debug_frame: section(".debug_frame").map(|(_, d)| d),
            got: file
                .section_by_name(".got")
                .map(|s| s.address()..s.address() + s.size()),
            segments,
        })
    }

    /// Runtime address minus link-time address for a mapping of this file.
    fn bias(&self, map: &MapEntry) -> Option<u64> {
        let (range, vaddr) = self
            .segments
            .iter()
            .find(|(r, _)| r.contains(&map.offset) || (r.start == map.offset && r.is_empty()))?;
        let linked = vaddr + (map.offset - range.start);
        Some(map.start.wrapping_sub(linked))
    }

    fn module(&self, name: String, map: &MapEntry, bias: u64) -> Module<Bytes> {
        let info = ExplicitModuleSectionInfo {
            base_svma: 0,
            text_svma: self.text.as_ref().map(|(r, _)| r.clone()),
            text: self.text.as_ref().map(|(_, d)| d.clone()),
            got_svma: self.got.clone(),
            eh_frame_svma: self.eh_frame.as_ref().map(|(r, _)| r.clone()),
            eh_frame: self.eh_frame.as_ref().map(|(_, d)| d.clone()),
            eh_frame_hdr_svma: self.eh_frame_hdr.as_ref().map(|(r, _)| r.clone()),
            eh_frame_hdr: self.eh_frame_hdr.as_ref().map(|(_, d)| d.clone()),
            debug_frame: self.debug_frame.clone(),
            ..Default::default()
        };
        Module::new(name, map.start..map.end, bias, info)
    }
}

struct ProcessUnwinder {
    unwinder: Native<Bytes, framehop::MayAllocateDuringUnwind>,
    added: Vec<u64>,
    read_at: Instant,
    /// /proc/PID/maps was read (else only MMAP2 records are known).
    maps_read: bool,
}

/// Unwinds user stacks of any number of processes.
pub struct DwarfUnwinder {
    cache: Cache<framehop::MayAllocateDuringUnwind>,
    files: HashMap<FileKey, Option<Arc<FileSections>>>,
    processes: HashMap<u32, ProcessUnwinder>,
}

impl Default for DwarfUnwinder {
    fn default() -> Self {
        DwarfUnwinder::new()
    }
}

impl DwarfUnwinder {
    /// An unwinder that knows no process yet.
    pub fn new() -> DwarfUnwinder {
        DwarfUnwinder {
            cache: Cache::new(),
            files: HashMap::new(),
            processes: HashMap::new(),
        }
    }

    /// Reads `pid`'s executable mappings from /proc now, while it lives,
    /// if not done already. Later calls to [`DwarfUnwinder::unwind`] for
    /// it then work after it exits.
    pub fn learn_process(&mut self, pid: u32) {
        let p = self.process(pid);
        if !p.maps_read {
            p.maps_read = true;
            p.read_at = Instant::now();
            self.add_mappings(pid);
        }
    }

    /// Adds one mapping of `pid` learned elsewhere (a perf MMAP2 record),
    /// which works even after the process exited.
    pub fn add_mapping(&mut self, pid: u32, map: &MapEntry) {
        self.process(pid);
        self.add_map(pid, map);
    }

    /// Forgets a process (after exit or exec).
    pub fn forget_process(&mut self, pid: u32) {
        self.processes.remove(&pid);
    }

    fn process(&mut self, pid: u32) -> &mut ProcessUnwinder {
        self.processes.entry(pid).or_insert_with(|| ProcessUnwinder {
            unwinder: Native::new(),
            added: Vec::new(),
            read_at: Instant::now(),
            maps_read: false,
        })
    }

    fn add_mappings(&mut self, pid: u32) {
        let Ok(maps) = read_maps(pid) else { return };
        for map in &maps {
            self.add_map(pid, map);
        }
    }

    fn add_map(&mut self, pid: u32, map: &MapEntry) {
        if !map.is_executable() || self.processes[&pid].added.contains(&map.start) {
            return;
        }
        let (name, deleted) = match &map.backing {
            MapBacking::File { path, deleted } => (path.clone(), *deleted),
            MapBacking::Memfd(n) => (PathBuf::from(format!("/memfd:{n}")), true),
            MapBacking::Vdso => (PathBuf::from("[vdso]"), false),
            MapBacking::Anonymous(_) => return,
        };
        // Every process maps the same vDSO image (at its own address):
        // ours, read once, stands for all. Key (0,0),0 is no file's.
        let vdso = map.backing == MapBacking::Vdso;
        let key = if vdso { ((0, 0), 0) } else { (map.dev, map.inode) };
        let sections = self
            .files
            .entry(key)
            .or_insert_with(|| {
                let loaded = if vdso {
                    own_vdso().and_then(|d| FileSections::parse(&d).ok())
                } else {
                    load_sections(pid, map, &name, deleted)
                };
                loaded.map(Arc::new)
            })
            .clone();
        let Some(sections) = sections else { return };
        let Some(bias) = sections.bias(map) else { return };
        let module = sections.module(name.to_string_lossy().into_owned(), map, bias);
        let p = self.processes.get_mut(&pid).expect("created by process()");
        p.unwinder.add_module(module);
        p.added.push(map.start);
    }

    /// The call chain of one sample, innermost first: `regs.ip`, then
    /// return addresses. `stack` is the copy of user memory from
    /// `regs.sp` up. Frames the CFI cannot explain end the chain (framehop
    /// falls back to frame pointers where a module has no CFI for an
    /// address).
    pub fn unwind(&mut self, pid: u32, regs: StartRegs, stack: &[u8]) -> Vec<u64> {
        self.learn_process(pid);
        let reread = {
            let p = &self.processes[&pid];
            p.unwinder.max_known_code_address() < regs.ip && p.read_at.elapsed() >= MAPS_REREAD_INTERVAL
        };
        if reread {
            self.processes.get_mut(&pid).expect("learned").read_at = Instant::now();
            self.add_mappings(pid);
        }
        let p = &self.processes[&pid];
        let mut read_stack = |addr: u64| {
            let off = usize::try_from(addr.checked_sub(regs.sp).ok_or(())?).map_err(|_| ())?;
            let bytes = stack.get(off..off.checked_add(8).ok_or(())?).ok_or(())?;
            Ok(u64::from_ne_bytes(bytes.try_into().map_err(|_| ())?))
        };
        let mut frames = p
            .unwinder
            .iter_frames(regs.ip, start_regs(regs), &mut self.cache, &mut read_stack);
        let mut out = Vec::new();
        while let Ok(Some(f)) = frames.next() {
            out.push(f.address());
            if out.len() >= MAX_FRAMES {
                break;
            }
        }
        out
    }
}

#[cfg(target_arch = "x86_64")]
fn start_regs(r: StartRegs) -> Regs {
    Regs::new(r.ip, r.sp, r.fp)
}

#[cfg(target_arch = "aarch64")]
fn start_regs(r: StartRegs) -> Regs {
    Regs::new(r.lr.unwrap_or(0), r.sp, r.fp)
}

/// The bytes of this process's vDSO.
fn own_vdso() -> Option<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let maps = read_maps(std::process::id()).ok()?;
    let v = maps.iter().find(|m| m.backing == MapBacking::Vdso)?;
    let mut f = std::fs::File::open("/proc/self/mem").ok()?;
    f.seek(SeekFrom::Start(v.start)).ok()?;
    let mut data = vec![0u8; usize::try_from(v.end - v.start).ok()?];
    f.read_exact(&mut data).ok()?;
    Some(data)
}

/// Reads a mapped file's unwind sections through the process's own view
/// (its mount namespace, or map_files for unlinked files), then the path.
fn load_sections(pid: u32, map: &MapEntry, path: &std::path::Path, deleted: bool) -> Option<FileSections> {
    let rooted = PathBuf::from(format!("/proc/{pid}/root")).join(path.strip_prefix("/").unwrap_or(path));
    let by_range = PathBuf::from(format!("/proc/{pid}/map_files/{:x}-{:x}", map.start, map.end));
    let tries = if deleted {
        [by_range, rooted, path.to_owned()]
    } else {
        [rooted, by_range, path.to_owned()]
    };
    tries.iter().find_map(|p| {
        // Mapped, not read: only the unwind sections are copied out.
        let data = crate::mmap::map_or_read(p).ok()?;
        FileSections::parse(&data).ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arbitrary_bytes_are_not_an_elf_file() {
        assert!(FileSections::parse(b"not an elf").is_err());
        assert!(FileSections::parse(&[]).is_err());
    }

    #[test]
    fn unwinds_our_own_stack_through_cfi() {
        let pid = std::process::id();
        let mut u = DwarfUnwinder::new();
        u.learn_process(pid);
        assert!(
            !u.processes[&pid].added.is_empty(),
            "our own binary is an executable mapping"
        );
        // An address outside every module unwinds to itself only.
        let regs = StartRegs {
            ip: 0x10,
            sp: 0,
            fp: 0,
            lr: None,
        };
        assert_eq!(u.unwind(pid, regs, &[]), vec![0x10]);
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4096)) {
            let _ = FileSections::parse(&bytes);
        }
    }
}
