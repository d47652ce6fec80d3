//! ftr-symbols: addresses to names (kallsyms, ELF, DWARF, /proc/PID/maps,
//! perf-PID.map) and names to probe offsets for uprobe_events.
//!
//! It knows nothing of tools: a tool holds one [`Symbolizer`] and asks it
//! for [`Frame`]s; an address that does not resolve still gives a frame,
//! `[unknown]` with a [`Reason`].
//!
//! ```
//! let mut symbolizer = ftr_symbols::Symbolizer::new();
//! let here = std::process::id();
//! let frames = symbolizer.user_frames(here, 0x10);
//! assert_eq!(frames[0].to_string(), "[unknown] [0x10]");
//!
//! let target = ftr_symbols::ProbeTarget::parse("libc:malloc").unwrap();
//! assert_eq!(target.binary.as_deref(), Some("libc"));
//! ```
#![deny(unsafe_code)]

mod build_id;
mod data_symbol;
mod debug_file;
mod demangle;
mod dwarf;
mod elf_file;
mod error;
mod frame;
mod kallsyms;
mod kernel_symbols;
mod ld_cache;
mod library_search;
mod mmap;
mod module;
mod perf_map;
mod probe_target;
mod proc_maps;
mod reason;
mod symbolizer;

pub use build_id::{kernel_build_id, parse_build_id_notes, parse_debuglink, BuildId, KERNEL_NOTES};
pub use data_symbol::{data_symbol, data_symbol_in, DataSymbol};
pub use debug_file::{build_id_path, debug_file_candidates, DEBUG_ROOT};
pub use demangle::demangle;
pub use dwarf::{Dwarf, DwarfFrame};
pub use elf_file::{ElfFile, ElfSymbol, ElfType, LoadSegment};
pub use error::{Error, ErrorKind, Result};
pub use frame::{Frame, SourceLocation};
pub use kallsyms::{parse_kallsyms, parse_kallsyms_bytes, KernelSymbol};
pub use kernel_symbols::{KernelSymbolHit, KernelSymbols, KALLSYMS, KPTR_RESTRICT};
pub use ld_cache::{parse_ld_cache, read_ld_cache, LdCacheEntry, LD_SO_CACHE};
pub use library_search::{find_library, library_name_matches, LIBRARY_DIRS};
pub use module::Module;
pub use perf_map::{PerfMap, PerfMapSymbol};
pub use probe_target::{resolve_uprobe, ProbeContext, ProbeLocation, ProbeTarget, UprobeTarget};
pub use proc_maps::{find_mapping, parse_maps, parse_maps_line, read_maps, MapBacking, MapEntry};
pub use reason::Reason;
pub use symbolizer::{Symbolizer, UserAddress};
