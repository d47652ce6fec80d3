//! The [`Symbolizer`]: user and kernel addresses to frames, with every
//! file loaded once (keyed by (dev, inode), then by build-id) and every
//! process's maps read once (again when an address falls outside them).

use crate::build_id::BuildId;
use crate::debug_file::DEBUG_ROOT;
use crate::error::Error;
use crate::frame::Frame;
use crate::kernel_symbols::{KernelSymbols, KALLSYMS};
use crate::module::Module;
use crate::perf_map::PerfMap;
use crate::proc_maps::{find_mapping, read_maps, MapBacking, MapEntry};
use crate::reason::Reason;
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Maps are read again on a miss at most this often per process, so a
/// stream of bad addresses does not re-read /proc/PID/maps every time.
const MAPS_REREAD_INTERVAL: Duration = Duration::from_millis(200);

struct ProcessMaps {
    maps: Vec<MapEntry>,
    read_at: Instant,
}

/// Where a user address lies, before any symbol lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAddress {
    /// The mapping holding it.
    pub map: MapEntry,
    /// Its file offset (for file-backed mappings and the vDSO).
    pub file_offset: u64,
}

/// Resolves addresses to [`Frame`]s. Not thread-safe; one per tool.
pub struct Symbolizer {
    kallsyms: PathBuf,
    debug_root: PathBuf,
    kernel: Option<Result<KernelSymbols, String>>,
    modules: Vec<Result<Module, String>>,
    by_inode: HashMap<((u32, u32), u64), usize>,
    by_build_id: HashMap<BuildId, usize>,
    vdso: Option<Option<usize>>,
    processes: HashMap<u32, ProcessMaps>,
    perf_maps: HashMap<u32, Option<PerfMap>>,
}

impl Default for Symbolizer {
    fn default() -> Self {
        Symbolizer::new()
    }
}

impl Symbolizer {
    /// A symbolizer for the running system (/proc/kallsyms, /usr/lib/debug).
    pub fn new() -> Symbolizer {
        Symbolizer::with_roots(Path::new(KALLSYMS), Path::new(DEBUG_ROOT))
    }

    /// A symbolizer reading kernel symbols from `kallsyms` and separate
    /// debug files under `debug_root`.
    pub fn with_roots(kallsyms: &Path, debug_root: &Path) -> Symbolizer {
        Symbolizer {
            kallsyms: kallsyms.to_owned(),
            debug_root: debug_root.to_owned(),
            kernel: None,
            modules: Vec::new(),
            by_inode: HashMap::new(),
            by_build_id: HashMap::new(),
            vdso: None,
            processes: HashMap::new(),
            perf_maps: HashMap::new(),
        }
    }

    /// The kernel's symbol table, read on first use. Fails when kallsyms
    /// is unreadable or shows only zeros (kptr_restrict).
    pub fn kernel_symbols(&mut self) -> Result<&KernelSymbols, Error> {
        let k = self
            .kernel
            .get_or_insert_with(|| KernelSymbols::from_path(&self.kallsyms).map_err(|e| format!("{e:#}")));
        match k {
            Ok(k) if k.addresses_hidden() => Err(KernelSymbols::hidden_error()),
            Ok(k) => Ok(k),
            Err(e) => Err(Error::Read {
                path: self.kallsyms.clone(),
                source: std::io::Error::other(e.clone()),
            }),
        }
    }

    /// The frame of kernel address `addr`: `func+0xoff [kernel]` or
    /// `func+0xoff [module]`.
    pub fn kernel_frame(&mut self, addr: u64) -> Frame {
        let _ = self.kernel_symbols();
        let k = match self.kernel.as_ref() {
            Some(Ok(k)) => k,
            Some(Err(e)) => return Frame::unknown(addr, None, addr, Reason::FileUnreadable(e.clone())),
            None => unreachable!("loaded above"),
        };
        match k.lookup(addr) {
            Ok(hit) => Frame {
                addr,
                function: Some(hit.name.to_owned()),
                offset: hit.offset,
                module: Some(hit.module.unwrap_or("kernel").to_owned()),
                module_offset: addr,
                location: None,
                inlined: false,
                reason: None,
            },
            Err(reason) => Frame::unknown(addr, Some("kernel".into()), addr, reason),
        }
    }

    /// The frames of user address `addr` in process `pid`: inlined
    /// functions first (innermost first), then the function holding the
    /// code. Always at least one frame; unresolved ones say why.
    pub fn user_frames(&mut self, pid: u32, addr: u64) -> Vec<Frame> {
        let map = match self.mapping(pid, addr) {
            Ok(Some(m)) => m,
            Ok(None) => return vec![self.perf_map_frame(pid, addr, Reason::NotMapped)],
            Err(reason) => return vec![Frame::unknown(addr, None, addr, reason)],
        };
        let file_offset = map.file_offset(addr);
        let module = match &map.backing {
            MapBacking::Anonymous(_) => return vec![self.perf_map_frame(pid, addr, Reason::Anonymous)],
            MapBacking::Vdso => self.vdso_module(),
            MapBacking::File { .. } | MapBacking::Memfd(_) => self.file_module(pid, &map),
        };
        let label = match &map.backing {
            MapBacking::File { path, .. } => path.file_name().map(|n| n.to_string_lossy().into_owned()),
            MapBacking::Memfd(n) => Some(format!("memfd:{n}")),
            MapBacking::Vdso => Some("[vdso]".to_owned()),
            MapBacking::Anonymous(_) => None,
        };
        let m = match module {
            Ok(i) => match &self.modules[i] {
                Ok(m) => m,
                Err(e) => {
                    return vec![Frame::unknown(
                        addr,
                        label,
                        file_offset,
                        Reason::FileUnreadable(e.clone()),
                    )]
                }
            },
            Err(e) => {
                return vec![Frame::unknown(
                    addr,
                    label,
                    file_offset,
                    Reason::FileUnreadable(e),
                )]
            }
        };
        match m.elf.offset_to_vaddr(file_offset) {
            Some(vaddr) => m.frames(vaddr, addr, file_offset),
            None => vec![Frame::unknown(addr, label, file_offset, Reason::NoSymbol)],
        }
    }

    /// The frames of a user call chain `ips` (innermost first, as perf
    /// callchains and unwinders give them) in process `pid`, flattened,
    /// inlined frames included. Every address but the first is a return
    /// address, which points after its call and may already belong to the
    /// next line or function; those are looked up at `ip - 1`, then shown
    /// with their own address and offset, as BCC and perf show them.
    pub fn user_stack(&mut self, pid: u32, ips: &[u64]) -> Vec<Frame> {
        let mut out = Vec::with_capacity(ips.len());
        for (i, &ip) in ips.iter().enumerate() {
            if i == 0 || ip == 0 {
                out.extend(self.user_frames(pid, ip));
            } else {
                out.extend(
                    self.user_frames(pid, ip - 1)
                        .into_iter()
                        .map(|f| from_call_site(f, ip)),
                );
            }
        }
        out
    }

    /// The frames of a kernel call chain, innermost first, with return
    /// addresses looked up at `ip - 1` as in [`Symbolizer::user_stack`].
    pub fn kernel_stack(&mut self, ips: &[u64]) -> Vec<Frame> {
        ips.iter()
            .enumerate()
            .map(|(i, &ip)| {
                if i == 0 || ip == 0 {
                    self.kernel_frame(ip)
                } else {
                    from_call_site(self.kernel_frame(ip - 1), ip)
                }
            })
            .collect()
    }

    /// Where `addr` lies in `pid`'s address space: the mapping and file
    /// offset. None when no mapping holds it.
    pub fn locate(&mut self, pid: u32, addr: u64) -> Result<Option<UserAddress>, Reason> {
        Ok(self.mapping(pid, addr)?.map(|map| UserAddress {
            file_offset: map.file_offset(addr),
            map,
        }))
    }

    /// Adds a mapping of `pid` learned elsewhere (a perf MMAP2 record),
    /// replacing the ones it overlaps, so that addresses of a process
    /// that has already exited still resolve. An address outside every
    /// known mapping still re-reads /proc/PID/maps while the process lives.
    pub fn add_mapping(&mut self, pid: u32, map: MapEntry) {
        let now = Instant::now();
        let p = self.processes.entry(pid).or_insert_with(|| ProcessMaps {
            maps: Vec::new(),
            // Only part of the maps is known: let the first miss re-read.
            read_at: now.checked_sub(MAPS_REREAD_INTERVAL).unwrap_or(now),
        });
        p.maps.retain(|m| m.end <= map.start || m.start >= map.end);
        let at = p.maps.partition_point(|m| m.start < map.start);
        p.maps.insert(at, map);
    }

    /// Uses `maps` (sorted by address) as `pid`'s address space, for a
    /// process that may exit before its addresses are symbolized: a tool
    /// that follows a command from exec builds them from the kernel's MMAP
    /// records. Read again from /proc only on a miss while the process
    /// still runs.
    pub fn set_process_maps(&mut self, pid: u32, maps: Vec<MapEntry>) {
        self.processes.insert(
            pid,
            ProcessMaps {
                maps,
                read_at: Instant::now(),
            },
        );
    }

    /// Forgets a process's maps and perf map (after it exits or execs).
    pub fn forget_process(&mut self, pid: u32) {
        self.processes.remove(&pid);
        self.perf_maps.remove(&pid);
    }

    /// How many distinct files have been loaded (or failed to load).
    pub fn files_loaded(&self) -> usize {
        self.modules.len()
    }

    fn mapping(&mut self, pid: u32, addr: u64) -> Result<Option<MapEntry>, Reason> {
        let fresh = |pid| {
            read_maps(pid)
                .map(|maps| ProcessMaps {
                    maps,
                    read_at: Instant::now(),
                })
                .map_err(|e| match e {
                    Error::Read { source, .. } if source.kind() != std::io::ErrorKind::NotFound => {
                        Reason::FileUnreadable(format!("/proc/{pid}/maps: {source}"))
                    }
                    _ => Reason::ProcessGone,
                })
        };
        let p = match self.processes.entry(pid) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => v.insert(fresh(pid)?),
        };
        if let Some(m) = find_mapping(&p.maps, addr) {
            return Ok(Some(m.clone()));
        }
        if p.read_at.elapsed() >= MAPS_REREAD_INTERVAL {
            // An exited process not yet reaped (a zombie) reads as no
            // mappings at all: keep what was known.
            match fresh(pid) {
                Ok(n) if !n.maps.is_empty() => *p = n,
                _ => p.read_at = Instant::now(),
            }
        }
        Ok(find_mapping(&p.maps, addr).cloned())
    }

    fn perf_map_frame(&mut self, pid: u32, addr: u64, otherwise: Reason) -> Frame {
        let map = self
            .perf_maps
            .entry(pid)
            .or_insert_with(|| PerfMap::for_pid(pid).ok());
        match map.as_ref().and_then(|m| m.lookup(addr)) {
            Some((s, off)) => Frame {
                addr,
                function: Some(s.name.clone()),
                offset: off,
                module: Some(format!("perf-{pid}.map")),
                module_offset: addr,
                location: None,
                inlined: false,
                reason: None,
            },
            None => Frame::unknown(addr, None, addr, otherwise),
        }
    }

    fn push_module(&mut self, m: Result<Module, String>) -> usize {
        self.modules.push(m);
        self.modules.len() - 1
    }

    /// The module of a file-backed mapping, loaded once per (dev, inode)
    /// and shared between files with one build-id.
    fn file_module(&mut self, pid: u32, map: &MapEntry) -> Result<usize, String> {
        let key = (map.dev, map.inode);
        if let Some(&i) = self.by_inode.get(&key) {
            return Ok(i);
        }
        let (display, deleted) = match &map.backing {
            MapBacking::File { path, deleted } => (path.clone(), *deleted),
            MapBacking::Memfd(n) => (PathBuf::from(format!("/memfd:{n}")), true),
            _ => unreachable!("only file-backed mappings"),
        };
        // Through /proc/PID/root the process's own mount namespace is seen;
        // map_files reaches unlinked files and memfds (root only).
        let rooted =
            PathBuf::from(format!("/proc/{pid}/root")).join(display.strip_prefix("/").unwrap_or(&display));
        let by_range = PathBuf::from(format!("/proc/{pid}/map_files/{:x}-{:x}", map.start, map.end));
        let tries = if deleted {
            [by_range, rooted]
        } else {
            [rooted, by_range]
        };
        let mut last = String::new();
        for path in tries.iter().chain(std::iter::once(&display)) {
            match Module::open(path, &display, &self.debug_root) {
                Ok(m) => {
                    if let Some(&i) = m.elf.build_id.as_ref().and_then(|id| self.by_build_id.get(id)) {
                        self.by_inode.insert(key, i);
                        return Ok(i);
                    }
                    let id = m.elf.build_id.clone();
                    let i = self.push_module(Ok(m));
                    if let Some(id) = id {
                        self.by_build_id.insert(id, i);
                    }
                    self.by_inode.insert(key, i);
                    return Ok(i);
                }
                Err(e) => last = format!("{e:#}"),
            }
        }
        let i = self.push_module(Err(last));
        self.by_inode.insert(key, i);
        Ok(i)
    }

    /// The vDSO is the same image in every process: read ours from
    /// /proc/self/mem once.
    fn vdso_module(&mut self) -> Result<usize, String> {
        if let Some(v) = self.vdso {
            return v.ok_or_else(|| "vDSO image unreadable".to_owned());
        }
        let loaded = read_own_vdso().and_then(|data| {
            Module::from_bytes(&data, "[vdso]".into(), Path::new("[vdso]"), &self.debug_root).ok()
        });
        let i = loaded.map(|m| self.push_module(Ok(m)));
        self.vdso = Some(i);
        i.ok_or_else(|| "vDSO image unreadable".to_owned())
    }
}

/// A frame looked up at `ret - 1`, given back the return address `ret`.
fn from_call_site(mut f: Frame, ret: u64) -> Frame {
    f.addr = ret;
    if f.function.is_some() && !f.inlined {
        f.offset += 1;
    }
    f.module_offset += 1;
    f
}

fn read_own_vdso() -> Option<Vec<u8>> {
    let maps = read_maps(std::process::id()).ok()?;
    let v = maps.iter().find(|m| m.backing == MapBacking::Vdso)?;
    let mut f = std::fs::File::open("/proc/self/mem").ok()?;
    f.seek(SeekFrom::Start(v.start)).ok()?;
    let mut data = vec![0u8; usize::try_from(v.end - v.start).ok()?];
    f.read_exact(&mut data).ok()?;
    Some(data)
}

/// A tool may move its Symbolizer to a rendering thread.
#[allow(dead_code)]
fn symbolizer_is_send() {
    fn send<T: Send>() {}
    send::<Symbolizer>();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_mappings_resolve_a_process_that_is_gone() {
        #[inline(never)]
        fn a_function_of_this_test() -> u64 {
            std::hint::black_box(7)
        }
        let addr = a_function_of_this_test as *const () as u64;
        let maps = read_maps(std::process::id()).unwrap();
        let text = find_mapping(&maps, addr).unwrap().clone();
        let gone = u32::MAX - 7;
        let mut sym = Symbolizer::new();
        sym.add_mapping(gone, text);
        let frames = sym.user_frames(gone, addr);
        let last = frames.last().unwrap();
        assert!(
            last.function
                .as_deref()
                .unwrap_or_default()
                .contains("a_function_of_this_test"),
            "{frames:?}"
        );
    }

    #[inline(never)]
    fn marker_function() -> u64 {
        std::hint::black_box(marker_function as *const () as usize as u64)
    }

    #[test]
    fn symbolizes_our_own_function() {
        let mut s = Symbolizer::new();
        let addr = marker_function() + 1;
        let frames = s.user_frames(std::process::id(), addr);
        let last = frames.last().unwrap();
        assert!(last.name().contains("marker_function"), "{frames:?}");
        assert_eq!(last.offset, 1);
        assert_eq!(s.files_loaded(), 1);
        s.user_frames(std::process::id(), addr);
        assert_eq!(s.files_loaded(), 1, "the file is loaded once");
    }

    #[test]
    fn symbolizes_the_vdso() {
        let mut s = Symbolizer::new();
        let maps = read_maps(std::process::id()).unwrap();
        let Some(v) = maps.iter().find(|m| m.backing == MapBacking::Vdso) else {
            return;
        };
        let m = Module::from_bytes(
            &read_own_vdso().unwrap(),
            "[vdso]".into(),
            Path::new("[vdso]"),
            Path::new(DEBUG_ROOT),
        )
        .unwrap();
        let sym = m
            .elf
            .find_function("__vdso_clock_gettime")
            .or_else(|| m.elf.symbols().first())
            .unwrap();
        let off = m.elf.vaddr_to_offset(sym.address).unwrap();
        let frames = s.user_frames(std::process::id(), v.start + off);
        assert_eq!(frames[0].function.as_deref(), Some(sym.name.as_str()));
        assert_eq!(frames[0].module.as_deref(), Some("[vdso]"));
    }

    #[test]
    fn added_mappings_resolve_without_proc() {
        let mut s = Symbolizer::new();
        let me = std::process::id();
        let maps = read_maps(me).unwrap();
        let addr = marker_function() + 1;
        let map = find_mapping(&maps, addr).unwrap().clone();
        // A pid that does not exist: only the added mapping can resolve it.
        let gone = u32::MAX - 7;
        s.add_mapping(gone, map.clone());
        s.add_mapping(gone, map);
        assert_eq!(
            s.processes[&gone].maps.len(),
            1,
            "an overlapping mapping replaces the old one"
        );
        let frames = s.user_frames(gone, addr);
        assert!(
            frames.last().unwrap().name().contains("marker_function"),
            "{frames:?}"
        );
    }

    #[test]
    fn unmapped_and_anonymous_addresses_are_data() {
        let mut s = Symbolizer::new();
        let f = s.user_frames(std::process::id(), 0x10);
        assert_eq!(f[0].reason, Some(Reason::NotMapped));
        let heap = Box::new(5u64);
        let f = s.user_frames(std::process::id(), &*heap as *const u64 as u64);
        assert_eq!(f[0].reason, Some(Reason::Anonymous));
        let f = s.user_frames(u32::MAX - 1, 0x1000);
        assert_eq!(f[0].reason, Some(Reason::ProcessGone));
    }
}
