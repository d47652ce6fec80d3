//! /proc/kallsyms text: `ADDRESS TYPE NAME [MODULE]` per line.

/// One kernel symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelSymbol {
    /// Start address (0 when kptr_restrict hides addresses).
    pub address: u64,
    /// The nm-style type letter (`T` text, `t` local text, `D` data, ...).
    pub kind: char,
    /// Symbol name.
    pub name: String,
    /// The module in brackets, if any.
    pub module: Option<String>,
}

/// Parses kallsyms text; malformed lines are skipped, never fatal.
pub fn parse_kallsyms(text: &str) -> Vec<KernelSymbol> {
    parse_kallsyms_where(text, |_| true)
}

/// Parses only the symbols whose name passes `keep` (a kernel has ~10^5
/// symbols; a tool after a few names need not allocate the rest).
pub fn parse_kallsyms_where(text: &str, keep: impl Fn(&str) -> bool) -> Vec<KernelSymbol> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_ascii_whitespace();
            let address = it.next()?;
            let kind = it.next()?;
            let name = it.next()?;
            if !keep(name) {
                return None;
            }
            let address = u64::from_str_radix(address, 16).ok()?;
            let kind = kind.chars().next()?;
            let name = name.to_owned();
            let module = it
                .next()
                .map(|m| m.trim_matches(|c| c == '[' || c == ']').to_owned());
            Some(KernelSymbol {
                address,
                kind,
                name,
                module,
            })
        })
        .collect()
}

/// Text symbols sorted by address, for address -> function lookups
/// (the function tracer records the traced function's address, which on
/// kernels built with IBT is a few bytes past the symbol).
#[derive(Debug, Clone, Default)]
pub struct KernelSymbols {
    sorted: Vec<KernelSymbol>,
}

impl KernelSymbols {
    /// The text (`T`/`t`) symbols of `symbols` with a known address.
    pub fn new(symbols: Vec<KernelSymbol>) -> KernelSymbols {
        let mut sorted: Vec<KernelSymbol> = symbols
            .into_iter()
            .filter(|s| s.address != 0 && matches!(s.kind, 'T' | 't'))
            .collect();
        sorted.sort_by_key(|s| s.address);
        KernelSymbols { sorted }
    }

    /// /proc/kallsyms of the running kernel. Addresses read as 0 (and
    /// nothing resolves) when kptr_restrict hides them from this user.
    pub fn for_running_kernel() -> std::io::Result<KernelSymbols> {
        Ok(KernelSymbols::new(parse_kallsyms(&std::fs::read_to_string(
            KALLSYMS,
        )?)))
    }

    /// Only the running kernel's symbols named in `names`: enough to tell
    /// which of those functions an address at their entry belongs to, not
    /// to symbolize arbitrary addresses.
    pub fn for_running_kernel_only(names: &[&str]) -> std::io::Result<KernelSymbols> {
        let text = std::fs::read_to_string(KALLSYMS)?;
        Ok(KernelSymbols::new(parse_kallsyms_where(&text, |n| {
            names.contains(&n)
        })))
    }

    /// The symbol containing `addr`: the last one starting at or before
    /// it. None below the first symbol.
    pub fn lookup(&self, addr: u64) -> Option<&KernelSymbol> {
        let i = self.sorted.partition_point(|s| s.address <= addr);
        i.checked_sub(1).map(|i| &self.sorted[i])
    }

    /// Whether no symbol has an address (hidden, or empty input).
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }
}

/// The kernel's symbol table.
pub const KALLSYMS: &str = "/proc/kallsyms";

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_core_and_module_symbols() {
        let s = parse_kallsyms("ffffffff81000000 T _stext\nffffffffc0000000 t foo\t[ext4]\nnonsense\n");
        assert_eq!(s.len(), 2);
        let only = parse_kallsyms_where(
            "ffffffff81000000 T _stext\nffffffffc0000000 t foo\t[ext4]\n",
            |n| n == "foo",
        );
        assert_eq!(only.len(), 1);
        assert_eq!(only[0].module.as_deref(), Some("ext4"));
        assert_eq!(s[0].name, "_stext");
        assert_eq!(s[1].module.as_deref(), Some("ext4"));
    }

    #[test]
    fn looks_up_the_containing_text_symbol() {
        let k = KernelSymbols::new(parse_kallsyms(
            "ffffffff81000100 T b\nffffffff81000000 T a\nffffffff81000080 D data\n0000000000000000 T hidden\n",
        ));
        assert_eq!(k.lookup(0xffffffff81000004).unwrap().name, "a");
        assert_eq!(k.lookup(0xffffffff81000100).unwrap().name, "b");
        assert_eq!(k.lookup(0xffffffff81000090).unwrap().name, "a");
        assert!(k.lookup(0xffffffff80000000).is_none());
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(t in ".*") {
            let _ = parse_kallsyms(&t);
        }

        #[test]
        fn arbitrary_bytes_never_panic_and_lookups_stay_below(b in proptest::collection::vec(any::<u8>(), 0..512), a in any::<u64>()) {
            let k = KernelSymbols::new(parse_kallsyms(&String::from_utf8_lossy(&b)));
            if let Some(s) = k.lookup(a) {
                prop_assert!(s.address <= a);
            }
        }
    }
}
