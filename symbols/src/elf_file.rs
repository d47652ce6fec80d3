//! An ELF file's function symbols (.symtab and .dynsym), its PT_LOAD
//! segments (virtual address <-> file offset), build-id and debuglink,
//! read once into owned tables through the `object` crate.

use crate::build_id::{parse_build_id_notes, parse_debuglink, BuildId};
use crate::error::{Error, Result};
use object::elf;
use object::read::elf::{FileHeader, ProgramHeader, SectionHeader, Sym};
use object::{Endian, Endianness, FileKind};
use std::path::Path;

/// A function symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfSymbol {
    /// The name without any `@VERSION` suffix (still mangled).
    pub name: String,
    /// The symbol version (`GLIBC_2.2.5`), from .gnu.version for .dynsym or
    /// from an `@`/`@@` suffix in .symtab.
    pub version: Option<String>,
    /// Whether `version` is the default one (`@@`), the one a plain name binds to.
    pub default_version: bool,
    /// Virtual address (st_value).
    pub address: u64,
    /// Size in bytes (st_size; 0 when the assembler gave none).
    pub size: u64,
    /// STT_GNU_IFUNC: the address is the resolver, which picks the
    /// implementation at load time.
    pub ifunc: bool,
    /// STB_GLOBAL=1, STB_WEAK=2, STB_LOCAL=0.
    pub binding: u8,
}

impl ElfSymbol {
    /// `name@@VERSION` / `name@VERSION` / `name`, as readelf shows it.
    pub fn versioned_name(&self) -> String {
        match &self.version {
            Some(v) if self.default_version => format!("{}@@{v}", self.name),
            Some(v) => format!("{}@{v}", self.name),
            None => self.name.clone(),
        }
    }
}

/// A PT_LOAD program header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadSegment {
    /// p_vaddr.
    pub vaddr: u64,
    /// p_memsz.
    pub memsz: u64,
    /// p_offset.
    pub offset: u64,
    /// p_filesz.
    pub filesz: u64,
    /// PF_X is set.
    pub executable: bool,
}

/// What the loader does with the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElfType {
    /// ET_EXEC: loaded at its link addresses.
    Executable,
    /// ET_DYN: a shared library or a PIE, loaded at a bias.
    Shared,
    /// ET_REL, ET_CORE or anything else.
    Other,
}

/// The tables of one ELF file.
#[derive(Debug, Clone)]
pub struct ElfFile {
    /// ET_EXEC / ET_DYN.
    pub elf_type: ElfType,
    /// Little-endian.
    pub little_endian: bool,
    /// Function symbols sorted by address, the best alias first at each
    /// address; aliases kept.
    pub(crate) symbols: Vec<ElfSymbol>,
    /// The symbols' addresses alone, for a cache-friendly binary search.
    pub(crate) addresses: Vec<u64>,
    /// PT_LOAD segments in file order.
    pub segments: Vec<LoadSegment>,
    /// NT_GNU_BUILD_ID, if present.
    pub build_id: Option<BuildId>,
    /// The .gnu_debuglink file name and CRC, if present.
    pub debuglink: Option<(Vec<u8>, u32)>,
    /// Whether the file itself has a non-empty .debug_info.
    pub has_dwarf: bool,
    /// Whether the file has a .symtab (not stripped).
    pub has_symtab: bool,
}

fn binding_rank(b: u8) -> u8 {
    match b {
        elf::STB_GLOBAL => 0,
        elf::STB_WEAK => 1,
        _ => 2,
    }
}

/// How public an alias is: binding, then leading underscores (lower is
/// better); aliases of equal rank are equally good names for the code.
pub(crate) fn alias_rank(s: &ElfSymbol) -> (u8, usize) {
    (
        binding_rank(s.binding),
        s.name.bytes().take_while(|&c| c == b'_').count(),
    )
}

/// perf's choice among aliases (tools/perf/util/symbol.c `choose_best_symbol`):
/// global before weak before local, fewer leading underscores, longer name.
fn better_alias(a: &ElfSymbol, b: &ElfSymbol) -> std::cmp::Ordering {
    alias_rank(a)
        .cmp(&alias_rank(b))
        .then(b.name.len().cmp(&a.name.len()))
        .then(a.name.cmp(&b.name))
}

impl ElfFile {
    /// Parses ELF bytes. Any malformed part yields an error string, never
    /// a panic.
    pub fn parse(data: &[u8]) -> std::result::Result<ElfFile, String> {
        match FileKind::parse(data).map_err(|e| e.to_string())? {
            FileKind::Elf64 => parse_class::<elf::FileHeader64<Endianness>>(data),
            FileKind::Elf32 => parse_class::<elf::FileHeader32<Endianness>>(data),
            k => Err(format!("not ELF ({k:?})")),
        }
    }

    /// Reads and parses the file at `path`.
    pub fn open(path: &Path) -> Result<ElfFile> {
        let data = crate::mmap::map_file(path).map_err(|e| Error::read(path, e))?;
        ElfFile::parse(&data).map_err(|detail| Error::BadElf {
            path: path.to_owned(),
            detail,
        })
    }

    /// Function symbols sorted by address.
    pub fn symbols(&self) -> &[ElfSymbol] {
        &self.symbols
    }

    /// The function covering `vaddr` and the offset into it. Symbols with a
    /// size cover exactly that range; a zero-size symbol covers up to the
    /// next symbol, within its segment.
    pub fn function_at(&self, vaddr: u64) -> Option<(&ElfSymbol, u64)> {
        let end = self.addresses.partition_point(|&a| a <= vaddr);
        // A few steps back find a large function around a smaller one at
        // a lower address (nested or overlapping symbols are rare).
        for i in (end.saturating_sub(16)..end).rev() {
            let s = &self.symbols[i];
            let hit = if s.size > 0 {
                vaddr < s.address.saturating_add(s.size)
            } else {
                i + 1 == end && self.same_segment(s.address, vaddr)
            };
            if hit {
                // Sorted best alias first at each address.
                let first = self.addresses[..=i].partition_point(|&a| a < s.address);
                return Some((&self.symbols[first], vaddr - s.address));
            }
        }
        None
    }

    /// Every function symbol starting at `address` (aliases, identical
    /// code folded together).
    pub fn aliases_at(&self, address: u64) -> &[ElfSymbol] {
        let first = self.addresses.partition_point(|&a| a < address);
        let end = self.addresses.partition_point(|&a| a <= address);
        &self.symbols[first..end]
    }

    fn same_segment(&self, a: u64, b: u64) -> bool {
        self.segments
            .iter()
            .any(|s| a >= s.vaddr && b >= s.vaddr && a - s.vaddr < s.memsz && b - s.vaddr < s.memsz)
    }

    /// Finds a function by name: `malloc` (default version preferred),
    /// `malloc@@GLIBC_2.2.5` or `malloc@GLIBC_2.2.5` (that version only).
    pub fn find_function(&self, name: &str) -> Option<&ElfSymbol> {
        let (base, want) = match name.find('@') {
            Some(i) => (&name[..i], Some(name[i..].trim_start_matches('@'))),
            None => (name, None),
        };
        let mut candidates = self.symbols.iter().filter(|s| s.name == base);
        match want {
            Some(v) => candidates.find(|s| s.version.as_deref() == Some(v)),
            None => candidates.min_by_key(|s| match (&s.version, s.default_version) {
                (None, _) | (Some(_), true) => 0,
                (Some(_), false) => 1,
            }),
        }
    }

    /// The file offset of a virtual address: vaddr - p_vaddr + p_offset of
    /// the PT_LOAD segment holding it (what uprobe_events takes).
    pub fn vaddr_to_offset(&self, vaddr: u64) -> Option<u64> {
        self.segments
            .iter()
            .find(|s| vaddr >= s.vaddr && vaddr - s.vaddr < s.filesz)
            .map(|s| vaddr - s.vaddr + s.offset)
    }

    /// The virtual address of a file offset, through the PT_LOAD segment
    /// whose file range holds it.
    pub fn offset_to_vaddr(&self, offset: u64) -> Option<u64> {
        self.segments
            .iter()
            .find(|s| offset >= s.offset && offset - s.offset < s.filesz)
            .map(|s| offset - s.offset + s.vaddr)
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn parse_class<Elf: FileHeader<Endian = Endianness>>(data: &[u8]) -> std::result::Result<ElfFile, String> {
    let e = |err: object::read::Error| err.to_string();
    let header = Elf::parse(data).map_err(e)?;
    let endian = header.endian().map_err(e)?;
    let elf_type = match header.e_type(endian) {
        elf::ET_EXEC => ElfType::Executable,
        elf::ET_DYN => ElfType::Shared,
        _ => ElfType::Other,
    };
    let mut segments = Vec::new();
    let mut build_id = None;
    for ph in header.program_headers(endian, data).map_err(e)? {
        match ph.p_type(endian) {
            elf::PT_LOAD => segments.push(LoadSegment {
                vaddr: ph.p_vaddr(endian).into(),
                memsz: ph.p_memsz(endian).into(),
                offset: ph.p_offset(endian).into(),
                filesz: ph.p_filesz(endian).into(),
                executable: ph.p_flags(endian) & elf::PF_X != 0,
            }),
            elf::PT_NOTE if build_id.is_none() => {
                if let Ok(notes) = ph.data(endian, data) {
                    build_id = parse_build_id_notes(notes, endian.is_little_endian());
                }
            }
            _ => {}
        }
    }
    let sections = header.sections(endian, data).map_err(e)?;
    let section_data = |name: &[u8]| {
        sections
            .section_by_name(endian, name)
            .and_then(|(_, s)| s.data(endian, data).ok())
    };
    if build_id.is_none() {
        // Separate debug files keep the note section but mark it NOBITS-free
        // only in sections, not in program headers.
        build_id = section_data(b".note.gnu.build-id")
            .and_then(|n| parse_build_id_notes(n, endian.is_little_endian()));
    }
    let debuglink =
        section_data(b".gnu_debuglink").and_then(|d| parse_debuglink(d, endian.is_little_endian()));
    let has_dwarf = sections
        .section_by_name(endian, b".debug_info")
        .is_some_and(|(_, s)| s.sh_type(endian) != elf::SHT_NOBITS && s.sh_size(endian).into() > 0);

    let mut symbols = Vec::new();
    let symtab = sections.symbols(endian, data, elf::SHT_SYMTAB).map_err(e)?;
    let has_symtab = !symtab.is_empty();
    for sym in symtab.iter() {
        if let Some(mut s) = function_symbol(sym, endian, &symtab) {
            if let Some(i) = s.name.find('@') {
                let rest = s.name[i..].to_owned();
                s.name.truncate(i);
                s.default_version = rest.starts_with("@@");
                s.version = Some(rest.trim_start_matches('@').to_owned());
            }
            symbols.push(s);
        }
    }
    let in_symtab: std::collections::HashSet<(u64, &str)> = symbols
        .iter()
        .map(|s: &ElfSymbol| (s.address, s.name.as_str()))
        .collect();
    let mut dynamic = Vec::new();
    let dynsym = sections.symbols(endian, data, elf::SHT_DYNSYM).map_err(e)?;
    let versions = sections.versions(endian, data).ok().flatten();
    for (index, sym) in dynsym.enumerate() {
        if let Some(mut s) = function_symbol(sym, endian, &dynsym) {
            if let Some(vt) = &versions {
                let vi = vt.version_index(endian, index);
                if let Ok(Some(v)) = vt.version(vi) {
                    s.version = Some(text(v.name()));
                    s.default_version = !vi.is_hidden();
                }
            }
            // .symtab, when present, already lists the same definition.
            if !in_symtab.contains(&(s.address, s.name.as_str())) {
                dynamic.push(s);
            }
        }
    }
    drop(in_symtab);
    symbols.extend(dynamic);
    symbols.sort_by(|a, b| a.address.cmp(&b.address).then(better_alias(a, b)));
    let addresses = symbols.iter().map(|s| s.address).collect();
    Ok(ElfFile {
        elf_type,
        little_endian: endian.is_little_endian(),
        symbols,
        addresses,
        segments,
        build_id,
        debuglink,
        has_dwarf,
        has_symtab,
    })
}

fn function_symbol<Elf: FileHeader<Endian = Endianness>>(
    sym: &Elf::Sym,
    endian: Endianness,
    table: &object::read::elf::SymbolTable<'_, Elf>,
) -> Option<ElfSymbol> {
    let kind = sym.st_type();
    if kind != elf::STT_FUNC && kind != elf::STT_GNU_IFUNC {
        return None;
    }
    if sym.is_undefined(endian) {
        return None;
    }
    let address: u64 = sym.st_value(endian).into();
    if address == 0 {
        return None;
    }
    let name = table.symbol_name(endian, sym).ok()?;
    if name.is_empty() {
        return None;
    }
    Some(ElfSymbol {
        name: text(name),
        version: None,
        default_version: false,
        address,
        size: sym.st_size(endian).into(),
        ifunc: kind == elf::STT_GNU_IFUNC,
        binding: sym.st_bind(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_libc_malloc_with_its_version() {
        let Ok(libc) = ElfFile::open(Path::new("/lib/x86_64-linux-gnu/libc.so.6")) else {
            eprintln!("SKIPPED: no x86_64 libc here");
            return;
        };
        let m = libc.find_function("malloc").expect("malloc");
        assert_eq!(m.version.as_deref(), Some("GLIBC_2.2.5"));
        assert!(m.default_version);
        assert_eq!(m.versioned_name(), "malloc@@GLIBC_2.2.5");
        assert_eq!(libc.find_function("malloc@@GLIBC_2.2.5"), Some(m));
        let (hit, off) = libc.function_at(m.address + 1).unwrap();
        assert_eq!((hit.address, off), (m.address, 1));
        assert!(
            libc.symbols().iter().any(|s| s.ifunc),
            "libc has IFUNCs (memcpy, strlen)"
        );
        assert!(libc.build_id.is_some());
        let off = libc.vaddr_to_offset(m.address).unwrap();
        assert_eq!(libc.offset_to_vaddr(off), Some(m.address));
    }

    proptest! {
        #[test]
        fn garbage_is_an_error_not_a_panic(b in proptest::collection::vec(any::<u8>(), 0..1024)) {
            let _ = ElfFile::parse(&b);
        }

        #[test]
        fn corrupted_real_elf_never_panics(at in 0usize..4096, bytes in proptest::collection::vec(any::<u8>(), 1..64)) {
            static EXE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
            let exe = EXE.get_or_init(|| std::fs::read("/bin/true").unwrap_or_default());
            let mut data = exe.clone();
            for (i, b) in bytes.iter().enumerate() {
                if let Some(x) = data.get_mut(at + i) { *x = *b; }
            }
            if let Ok(f) = ElfFile::parse(&data) { let _ = f.function_at(at as u64); }
        }
    }
}
