//! The kernel's symbol table (core and modules) sorted for address lookup.

use crate::error::{Error, Result};
use crate::kallsyms::{parse_kallsyms_bytes, KernelSymbol};
use crate::reason::Reason;
use std::path::Path;

/// Where the running kernel lists its symbols.
pub const KALLSYMS: &str = "/proc/kallsyms";
/// The sysctl that hides kernel addresses from kallsyms.
pub const KPTR_RESTRICT: &str = "/proc/sys/kernel/kptr_restrict";

/// A kernel address resolved to its symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelSymbolHit<'a> {
    /// The symbol's name.
    pub name: &'a str,
    /// Bytes from the symbol's start.
    pub offset: u64,
    /// The module, or None for the core kernel image.
    pub module: Option<&'a str>,
    /// Bytes to the next symbol (kallsyms has no sizes; 0 after the last),
    /// the `/0xSIZE` of the kernel's `%pS`.
    pub size: u64,
}

/// Kernel symbols sorted by address. Lookups are a binary search.
#[derive(Debug, Clone)]
pub struct KernelSymbols {
    symbols: Vec<KernelSymbol>,
    /// The symbols' addresses alone: the binary search touches 8 bytes a
    /// step instead of a whole symbol, which keeps it in cache.
    addresses: Vec<u64>,
    hidden: bool,
}

impl Default for KernelSymbols {
    /// An empty table: every lookup answers [`Reason::NoSymbol`].
    fn default() -> KernelSymbols {
        KernelSymbols::from_symbols(Vec::new())
    }
}

impl KernelSymbols {
    /// Builds the table from parsed kallsyms. When every address is zero
    /// (kptr_restrict, or not root) the table keeps no symbols and every
    /// lookup answers [`Reason::KernelAddressesHidden`].
    pub fn from_symbols(mut symbols: Vec<KernelSymbol>) -> KernelSymbols {
        let hidden = !symbols.is_empty() && symbols.iter().all(|s| s.address == 0);
        if hidden {
            symbols.clear();
        }
        // Stable: among aliases at one address the first listed wins, as in
        // the kernel's own kallsyms_lookup (get_symbol_pos goes to the first alias).
        symbols.sort_by_key(|s| s.address);
        let addresses = symbols.iter().map(|s| s.address).collect();
        KernelSymbols {
            symbols,
            addresses,
            hidden,
        }
    }

    /// Parses kallsyms bytes.
    pub fn parse(bytes: &[u8]) -> KernelSymbols {
        KernelSymbols::from_symbols(parse_kallsyms_bytes(bytes))
    }

    /// Reads `path` (normally [`KALLSYMS`]).
    pub fn from_path(path: &Path) -> Result<KernelSymbols> {
        let bytes = std::fs::read(path).map_err(|e| Error::read(path, e))?;
        Ok(KernelSymbols::parse(&bytes))
    }

    /// Reads /proc/kallsyms of the running kernel. Addresses are only
    /// shown to root with kptr_restrict below 2.
    pub fn for_running_kernel() -> Result<KernelSymbols> {
        KernelSymbols::from_path(Path::new(KALLSYMS))
    }

    /// Whether kallsyms showed only zeros.
    pub fn addresses_hidden(&self) -> bool {
        self.hidden
    }

    /// The error to give when addresses are hidden, naming the sysctl.
    pub fn hidden_error() -> Error {
        let v = std::fs::read_to_string(KPTR_RESTRICT)
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|_| "?".to_owned());
        Error::KernelAddressesHidden { kptr_restrict: v }
    }

    /// Number of symbols kept.
    pub fn len(&self) -> usize {
        self.symbols.len()
    }

    /// Whether no symbol is kept.
    pub fn is_empty(&self) -> bool {
        self.symbols.is_empty()
    }

    /// Every symbol, sorted by address.
    pub fn symbols(&self) -> &[KernelSymbol] {
        &self.symbols
    }

    /// The first symbol named `name` (core kernel before modules).
    pub fn address_of(&self, name: &str) -> Option<&KernelSymbol> {
        self.symbols.iter().find(|s| s.name == name)
    }

    /// The symbol covering `addr`: the last one starting at or below it.
    /// kallsyms gives no sizes, so a symbol runs to the next one.
    pub fn lookup(&self, addr: u64) -> std::result::Result<KernelSymbolHit<'_>, Reason> {
        if self.hidden {
            return Err(Reason::KernelAddressesHidden);
        }
        let end = self.addresses.partition_point(|&a| a <= addr);
        if end == 0 {
            return Err(Reason::NoSymbol);
        }
        let at = self.addresses[end - 1];
        let first = self.addresses[..end].partition_point(|&a| a < at);
        let s = &self.symbols[first];
        let size = self.addresses.get(end).map_or(0, |next| next - s.address);
        Ok(KernelSymbolHit {
            name: &s.name,
            offset: addr - s.address,
            module: s.module.as_deref(),
            size,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TEXT: &str = "ffffffff81000000 T _stext\n\
        ffffffff81000100 T alias_a\n\
        ffffffff81000100 t alias_b\n\
        ffffffff81000200 T do_sys_open\n\
        ffffffffc0001000 t ext4_foo\t[ext4]\n";

    #[test]
    fn finds_the_covering_symbol_and_offset() {
        let k = KernelSymbols::parse(TEXT.as_bytes());
        let h = k.lookup(0xffffffff81000210).unwrap();
        assert_eq!((h.name, h.offset, h.module), ("do_sys_open", 0x10, None));
        let h = k.lookup(0xffffffffc0001004).unwrap();
        assert_eq!((h.name, h.module), ("ext4_foo", Some("ext4")));
        assert_eq!(k.lookup(0x1000), Err(Reason::NoSymbol));
    }

    #[test]
    fn aliases_resolve_to_the_first_listed() {
        let k = KernelSymbols::parse(TEXT.as_bytes());
        assert_eq!(k.lookup(0xffffffff81000105).unwrap().name, "alias_a");
    }

    #[test]
    fn all_zero_addresses_are_a_reason_not_names() {
        let k = KernelSymbols::parse(b"0000000000000000 T _stext\n0000000000000000 T foo\n");
        assert!(k.addresses_hidden());
        assert_eq!(k.lookup(0xffffffff81000000), Err(Reason::KernelAddressesHidden));
    }

    proptest! {
        #[test]
        fn lookup_on_arbitrary_tables_never_panics(b in proptest::collection::vec(any::<u8>(), 0..512), a in any::<u64>()) {
            let _ = KernelSymbols::parse(&b).lookup(a);
        }
    }
}
