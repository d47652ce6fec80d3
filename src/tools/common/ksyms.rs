//! The running kernel's function symbols, for naming the addresses that
//! function-tracer and kprobe events carry.

use ftr_symbols::{parse_kallsyms, KernelSymbols};

/// Loads /proc/kallsyms' text symbols. Empty (every address then prints
/// in hex) when it is unreadable or kptr_restrict hides the addresses.
pub fn running_kernel_symbols() -> KernelSymbols {
    let text = std::fs::read_to_string(ftr_tracefs::KALLSYMS).unwrap_or_default();
    KernelSymbols::from_symbols(
        parse_kallsyms(&text)
            .into_iter()
            .filter(|s| s.is_text())
            .collect(),
    )
}

/// `name+0xOFF/0xSIZE` as the kernel's `%pS` prints it, else `0xADDR`.
pub fn sym_offset(syms: &KernelSymbols, addr: u64) -> String {
    match syms.lookup(addr).ok() {
        Some(f) => format!("{}+{:#x}/{:#x}", f.name, f.offset, f.size),
        None => format!("{addr:#x}"),
    }
}

/// The function's name (`%ps`), else `0xADDR`.
pub fn sym_name(syms: &KernelSymbols, addr: u64) -> String {
    match syms.lookup(addr).ok() {
        Some(f) => f.name.to_owned(),
        None => format!("{addr:#x}"),
    }
}
