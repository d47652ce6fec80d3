//! Kernel addresses to function names: the text symbols of kallsyms,
//! sorted once, looked up by binary search (what funccount and funcgraph
//! need to name the `ip` of function-tracer events).

use crate::kallsyms::KernelSymbol;

/// A kernel address resolved to the function containing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelFrame<'a> {
    /// The function's name.
    pub name: &'a str,
    /// The address's offset into it.
    pub offset: u64,
    /// The function's size, up to the next symbol (0 for the last one).
    pub size: u64,
}

/// Sorted text symbols of the kernel and its modules.
#[derive(Debug, Clone, Default)]
pub struct KernelSymbols {
    /// (start address, name), ascending, addresses unique.
    syms: Vec<(u64, String)>,
}

impl KernelSymbols {
    /// Keeps the text symbols (`t`/`T`/`w`/`W`) with a non-zero address.
    /// Zero addresses mean kptr_restrict hid them: the table is then empty.
    pub fn new(symbols: Vec<KernelSymbol>) -> KernelSymbols {
        let mut syms: Vec<(u64, String)> = symbols
            .into_iter()
            .filter(|s| s.address != 0 && matches!(s.kind, 't' | 'T' | 'w' | 'W'))
            .map(|s| (s.address, s.name))
            .collect();
        syms.sort_by_key(|a| a.0);
        syms.dedup_by_key(|s| s.0);
        KernelSymbols { syms }
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.syms.len()
    }

    /// Whether there are none (kallsyms unreadable or addresses hidden).
    pub fn is_empty(&self) -> bool {
        self.syms.is_empty()
    }

    /// The function containing `addr`, if it lies within the table.
    pub fn lookup(&self, addr: u64) -> Option<KernelFrame<'_>> {
        let i = self.syms.partition_point(|s| s.0 <= addr);
        let (start, name) = self.syms.get(i.checked_sub(1)?)?;
        let size = self.syms.get(i).map_or(0, |n| n.0 - start);
        if size == 0 && addr != *start {
            return None;
        }
        Some(KernelFrame {
            name,
            offset: addr - start,
            size,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_kallsyms;
    use proptest::prelude::*;

    #[test]
    fn finds_the_containing_function() {
        let k = KernelSymbols::new(parse_kallsyms(
            "ffffffff81000100 T vfs_read\nffffffff81000000 t a\nffffffff81000080 D data\nffffffff81000200 T vfs_write\n",
        ));
        assert_eq!(k.len(), 3);
        let f = k.lookup(0xffffffff81000104).unwrap();
        assert_eq!((f.name, f.offset, f.size), ("vfs_read", 4, 0x100));
        assert_eq!(k.lookup(0xffffffff81000090).unwrap().name, "a");
        assert_eq!(k.lookup(0xffffffff81000200).unwrap().name, "vfs_write");
        assert!(k.lookup(0xffffffff81000201).is_none());
        assert!(k.lookup(0x10).is_none());
        assert!(KernelSymbols::new(parse_kallsyms("0000000000000000 T x\n")).is_empty());
    }

    proptest! {
        #[test]
        fn arbitrary_tables_never_panic(t in ".*", a in any::<u64>()) {
            let k = KernelSymbols::new(parse_kallsyms(&t));
            let _ = k.lookup(a);
        }
    }
}
