//! ftr-symbols: addresses to names (kallsyms, ELF, DWARF, /proc/PID/maps)
//! and names to probe offsets for uprobe_events.
//!
//! This crate is the home of symbolization for every ftr tool that prints a
//! stack or places a uprobe. It is filled in by the symbols/profile work;
//! today it holds only the kernel symbol table parser the others build on.
#![deny(unsafe_code)]

mod kallsyms;
mod kernel_symbols;

pub use kallsyms::{parse_kallsyms, KernelSymbol};
pub use kernel_symbols::{KernelFrame, KernelSymbols};
