//! DWARF line info and inlined frames through `addr2line`, loaded from an
//! ELF file's sections (compressed ones included) and, for dwz-processed
//! debug files, the supplementary file named by .gnu_debugaltlink.

use crate::frame::SourceLocation;

use object::{Object, ObjectSection};
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

type Reader = gimli::EndianArcSlice<gimli::RunTimeEndian>;

/// A function (or inlined function) at an address, from DWARF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DwarfFrame {
    /// The name as DWARF gives it (the linkage name when there is one,
    /// still mangled), when DWARF names the function.
    pub function: Option<String>,
    /// File and line.
    pub location: Option<SourceLocation>,
}

/// The DWARF of one file, ready for lookups.
pub struct Dwarf {
    context: addr2line::Context<Reader>,
}

impl std::fmt::Debug for Dwarf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Dwarf")
    }
}

fn load_sections(file: &object::File<'_>) -> Result<gimli::Dwarf<Reader>, gimli::Error> {
    let endian = if file.is_little_endian() {
        gimli::RunTimeEndian::Little
    } else {
        gimli::RunTimeEndian::Big
    };
    gimli::Dwarf::load(|id| -> Result<Reader, gimli::Error> {
        let data = file
            .section_by_name(id.name())
            .and_then(|s| s.uncompressed_data().ok())
            .unwrap_or(Cow::Borrowed(&[]));
        Ok(gimli::EndianArcSlice::new(Arc::from(&*data), endian))
    })
}

/// The supplementary file of a dwz'd debug file: .gnu_debugaltlink holds
/// a path (absolute, or relative to the debug file) then a build-id.
fn altlink_path(file: &object::File<'_>, debug_path: &Path) -> Option<PathBuf> {
    let data = file.section_by_name(".gnu_debugaltlink")?.data().ok()?;
    let nul = data.iter().position(|&b| b == 0)?;
    let name = Path::new(std::str::from_utf8(&data[..nul]).ok()?);
    Some(if name.is_absolute() {
        name.to_owned()
    } else {
        debug_path.parent().unwrap_or(Path::new("/")).join(name)
    })
}

impl Dwarf {
    /// Loads the DWARF of ELF `data` (read from `path`). None when the
    /// file has no .debug_info or it does not parse.
    pub fn load(data: &[u8], path: &Path) -> Option<Dwarf> {
        let file = object::File::parse(data).ok()?;
        let info = file.section_by_name(".debug_info")?;
        if info.size() == 0 {
            return None;
        }
        let mut dwarf = load_sections(&file).ok()?;
        if let Some(alt) = altlink_path(&file, path) {
            if let Ok(alt_data) = crate::mmap::map_file(&alt) {
                if let Ok(alt_file) = object::File::parse(&*alt_data) {
                    if let Ok(sup) = load_sections(&alt_file) {
                        dwarf.sup = Some(Arc::new(sup));
                    }
                }
            }
        }
        let context = addr2line::Context::from_dwarf(dwarf).ok()?;
        Some(Dwarf { context })
    }

    /// The frames at `vaddr`, innermost (most inlined) first; the last one
    /// is the function the code physically belongs to. Empty when DWARF
    /// does not cover the address.
    pub fn frames(&self, vaddr: u64) -> Vec<DwarfFrame> {
        let mut out = Vec::new();
        let Ok(mut it) = self.context.find_frames(vaddr).skip_all_loads() else {
            return out;
        };
        while let Ok(Some(f)) = it.next() {
            let function = f
                .function
                .as_ref()
                .and_then(|n| n.raw_name().ok())
                .map(|n| n.into_owned());
            let location = f.location.and_then(|l| {
                Some(SourceLocation {
                    file: PathBuf::from(l.file?),
                    line: l.line.unwrap_or(0),
                    column: l.column,
                })
            });
            out.push(DwarfFrame { function, location });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn garbage_loads_as_nothing_never_a_panic(b in proptest::collection::vec(any::<u8>(), 0..1024), a in any::<u64>()) {
            if let Some(d) = Dwarf::load(&b, Path::new("garbage")) {
                let _ = d.frames(a);
            }
        }
    }
}
