//! One loaded ELF object: its symbol tables, segments and DWARF (from the
//! file itself or its separate debug file), answering "what is at this
//! virtual address".

use crate::debug_file::find_debug_file;
use crate::dwarf::Dwarf;
use crate::elf_file::{alias_rank, ElfFile, ElfSymbol};
use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::reason::Reason;
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A loaded ELF object.
#[derive(Debug)]
pub struct Module {
    /// Short name shown in frames (the file name).
    pub name: String,
    /// The path it was loaded from.
    pub path: PathBuf,
    /// Symbols and segments.
    pub elf: ElfFile,
    /// The separate debug file used, if any.
    pub debug_path: Option<PathBuf>,
    dwarf: Option<Dwarf>,
    /// Demangled names by mangled name: a profile hits the same functions
    /// over and over, and demangling costs more than a lookup.
    demangled: RefCell<HashMap<String, String>>,
}

impl Module {
    /// Opens `path`, looking for a separate debug file under `debug_root`
    /// when the file lacks DWARF or a .symtab. `display_path` is the path
    /// the process names (debuglink is searched next to it) when `path` is
    /// a /proc indirection.
    pub fn open(path: &Path, display_path: &Path, debug_root: &Path) -> Result<Module> {
        let data = crate::mmap::map_file(path).map_err(|e| Error::read(path, e))?;
        let name = display_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| display_path.display().to_string());
        Module::from_bytes(&data, name, display_path, debug_root)
    }

    /// Builds a module from ELF bytes already in memory (the vDSO).
    pub fn from_bytes(data: &[u8], name: String, display_path: &Path, debug_root: &Path) -> Result<Module> {
        let mut elf = ElfFile::parse(data).map_err(|detail| Error::BadElf {
            path: display_path.to_owned(),
            detail,
        })?;
        let mut dwarf = if elf.has_dwarf {
            Dwarf::load(data, display_path)
        } else {
            None
        };
        let mut debug_path = None;
        if dwarf.is_none() || !elf.has_symtab {
            if let Some((p, debug_data, debug_elf)) = find_debug_file(debug_root, display_path, &elf) {
                if dwarf.is_none() {
                    dwarf = Dwarf::load(&debug_data, &p);
                }
                if !elf.has_symtab && debug_elf.has_symtab {
                    let segments = std::mem::take(&mut elf.segments);
                    let build_id = elf.build_id.take();
                    elf = ElfFile {
                        segments,
                        build_id,
                        ..debug_elf
                    };
                }
                debug_path = Some(p);
            }
        }
        Ok(Module {
            name,
            path: display_path.to_owned(),
            elf,
            debug_path,
            dwarf,
            demangled: RefCell::default(),
        })
    }

    /// Whether DWARF (file:line, inlined frames) is available.
    pub fn has_dwarf(&self) -> bool {
        self.dwarf.is_some()
    }

    /// `raw` demangled, through the cache.
    fn demangle(&self, raw: &str) -> String {
        if let Some(d) = self.demangled.borrow().get(raw) {
            return d.clone();
        }
        let d = crate::demangle::demangle(raw);
        self.demangled.borrow_mut().insert(raw.to_owned(), d.clone());
        d
    }

    /// The symbol's demangled name; among equally public aliases at its
    /// address (identical code folded together), the one DWARF names, so
    /// that the name agrees with the line info. A less public alias
    /// (`__GI___libc_malloc` for `malloc`) is never preferred.
    fn alias_named_like(&self, s: &ElfSymbol, dwarf_name: Option<&str>) -> String {
        let best = self.demangle(&s.name);
        let Some(want) = dwarf_name else { return best };
        if best == want {
            return best;
        }
        let aliases = self.elf.aliases_at(s.address);
        if aliases.len() < 2 {
            return best;
        }
        aliases
            .iter()
            .filter(|a| alias_rank(a) == alias_rank(s))
            .map(|a| self.demangle(&a.name))
            .find(|n| n == want)
            .unwrap_or(best)
    }

    /// The frames at ELF virtual address `vaddr`, inlined ones first, the
    /// physical function last. `addr` (the runtime address) and
    /// `module_offset` (the file offset) are recorded in each frame.
    pub fn frames(&self, vaddr: u64, addr: u64, module_offset: u64) -> Vec<Frame> {
        let symbol = self.elf.function_at(vaddr);
        let dwarf = self.dwarf.as_ref().map(|d| d.frames(vaddr)).unwrap_or_default();
        let frame = |function: Option<String>, offset, location, inlined| Frame {
            addr,
            function,
            offset,
            module: Some(self.name.clone()),
            module_offset,
            location,
            inlined,
            reason: None,
        };
        let mut out = Vec::with_capacity(dwarf.len().max(1));
        let n = dwarf.len();
        for (i, d) in dwarf.into_iter().enumerate() {
            let dwarf_name = d.function.as_deref().map(|n| self.demangle(n));
            if i + 1 < n {
                out.push(frame(dwarf_name, 0, d.location, true));
            } else {
                // The outermost frame is named from the symbol table (so
                // the offset is from the symbol's start, as BCC shows it);
                // DWARF names it only when no symbol covers the address.
                let (function, offset) = match symbol {
                    Some((s, off)) => (Some(self.alias_named_like(s, dwarf_name.as_deref())), off),
                    None => (dwarf_name, 0),
                };
                match function {
                    Some(f) => out.push(frame(Some(f), offset, d.location, false)),
                    None => {
                        let mut u =
                            Frame::unknown(addr, Some(self.name.clone()), module_offset, Reason::NoSymbol);
                        u.location = d.location;
                        out.push(u);
                    }
                }
            }
        }
        if out.is_empty() {
            out.push(match symbol {
                Some((s, off)) => frame(Some(self.demangle(&s.name)), off, None, false),
                None => Frame::unknown(addr, Some(self.name.clone()), module_offset, Reason::NoSymbol),
            });
        }
        out
    }
}
