//! perf-PID.map files written by JITs: `START SIZE NAME` per line, hex
//! START and SIZE (see tools/perf/Documentation/jit-interface.txt).

use crate::error::{Error, Result};

/// One JIT symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerfMapSymbol {
    /// Start address.
    pub start: u64,
    /// Size in bytes.
    pub size: u64,
    /// Name as the JIT wrote it (may contain spaces).
    pub name: String,
}

/// A JIT's symbols, sorted by address.
#[derive(Debug, Clone, Default)]
pub struct PerfMap {
    symbols: Vec<PerfMapSymbol>,
}

fn hex(s: &str) -> Option<u64> {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).ok()
}

impl PerfMap {
    /// Parses a perf map; malformed lines are skipped. A later entry for
    /// the same start replaces an earlier one (JITs recompile in place).
    pub fn parse(bytes: &[u8]) -> PerfMap {
        let mut symbols: Vec<PerfMapSymbol> = bytes
            .split(|&b| b == b'\n')
            .filter_map(|l| {
                let l = String::from_utf8_lossy(l);
                let mut it = l.trim().splitn(3, ' ');
                let start = hex(it.next()?)?;
                let size = hex(it.next()?)?;
                let name = it.next()?.trim().to_owned();
                (!name.is_empty()).then_some(PerfMapSymbol { start, size, name })
            })
            .collect();
        symbols.reverse();
        symbols.sort_by_key(|s| s.start);
        symbols.dedup_by_key(|s| s.start);
        PerfMap { symbols }
    }

    /// The path a JIT in process `pid` writes: /tmp/perf-PID.map.
    pub fn path_for(pid: u32) -> String {
        format!("/tmp/perf-{pid}.map")
    }

    /// Reads /tmp/perf-PID.map.
    pub fn for_pid(pid: u32) -> Result<PerfMap> {
        let path = PerfMap::path_for(pid);
        let bytes = std::fs::read(&path).map_err(|e| Error::read(path, e))?;
        Ok(PerfMap::parse(&bytes))
    }

    /// The symbol covering `addr` and the offset into it.
    pub fn lookup(&self, addr: u64) -> Option<(&PerfMapSymbol, u64)> {
        let i = self.symbols.partition_point(|s| s.start <= addr);
        let s = self.symbols.get(i.checked_sub(1)?)?;
        (addr - s.start < s.size.max(1)).then(|| (s, addr - s.start))
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.symbols.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.symbols.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn finds_jit_symbols() {
        let m = PerfMap::parse(b"7f0010 20 LazyCompile:~foo bar.js:1\n7f0100 10 old\n7f0100 40 new\njunk\n");
        assert_eq!(m.len(), 2);
        let (s, off) = m.lookup(0x7f0018).unwrap();
        assert_eq!((s.name.as_str(), off), ("LazyCompile:~foo bar.js:1", 8));
        assert_eq!(m.lookup(0x7f0120).unwrap().0.name, "new");
        assert!(m.lookup(0x7f0030).is_none());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..512), a in any::<u64>()) {
            let _ = PerfMap::parse(&b).lookup(a);
        }
    }
}
