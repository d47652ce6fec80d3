//! Kernel symbols from kallsyms text, looked up the way libtraceevent does
//! (`tep_parse_kallsyms`, `func_bcmp`): an address resolves to the symbol at
//! or below it unless it lies past the last symbol.

/// Sorted `(address, name)` pairs.
#[derive(Debug, Clone, Default)]
pub struct Symbols {
    syms: Vec<(u64, String)>,
    printk: std::collections::HashMap<u64, String>,
}

impl Symbols {
    /// Parses `/proc/kallsyms` text: `addr type name [module]` per line.
    /// Absolute symbols (`a`/`A`) and ARM `$` mapping symbols are skipped,
    /// as libtraceevent skips them.
    pub fn parse(text: &str) -> Symbols {
        let mut syms: Vec<(u64, String)> = text
            .lines()
            .filter_map(|l| {
                let mut it = l.split_whitespace();
                let addr = u64::from_str_radix(it.next()?, 16).ok()?;
                let ty = it.next()?;
                let name = it.next()?;
                if name.starts_with('$') || ty == "a" || ty == "A" {
                    return None;
                }
                Some((addr, name.to_owned()))
            })
            .collect();
        syms.sort_by_key(|s| s.0);
        Symbols {
            syms,
            printk: Default::default(),
        }
    }

    /// Adds the `printk_formats` text (`0xADDR : "fmt"` lines), which
    /// `bprint` and `bputs` events point into. Quotes and a trailing `\n`
    /// are stripped as libtraceevent `tep_register_print_string` does.
    pub fn with_printk_formats(mut self, text: &str) -> Symbols {
        for line in text.lines() {
            let Some((addr, fmt)) = line.split_once(':') else {
                continue;
            };
            let a = addr.trim();
            let a = a.strip_prefix("0x").unwrap_or(a);
            let Ok(addr) = u64::from_str_radix(a, 16) else {
                continue;
            };
            let mut f = fmt.strip_prefix(' ').unwrap_or(fmt);
            f = f.strip_prefix('"').unwrap_or(f);
            f = f.strip_suffix('"').unwrap_or(f);
            f = f.strip_suffix("\\n").unwrap_or(f);
            self.printk.insert(addr, f.to_owned());
        }
        self
    }

    /// The printk format string at `addr`.
    pub fn printk(&self, addr: u64) -> Option<&str> {
        self.printk.get(&addr).map(String::as_str)
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.syms.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.syms.is_empty()
    }

    /// The symbol containing `addr`: its name and start address.
    pub fn lookup(&self, addr: u64) -> Option<(&str, u64)> {
        let i = self.syms.partition_point(|s| s.0 <= addr);
        if i == 0 {
            return None;
        }
        let (a, name) = &self.syms[i - 1];
        if i == self.syms.len() && *a != addr {
            return None;
        }
        Some((name, *a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_inside_and_outside() {
        let s = Symbols::parse("ffff0010 T b\nffff0000 t a [mod]\nffff0008 A abs\nbad\nffff0020 T end\n");
        assert_eq!(s.len(), 3);
        assert_eq!(s.lookup(0xffff0004), Some(("a", 0xffff0000)));
        assert_eq!(s.lookup(0xffff0010), Some(("b", 0xffff0010)));
        assert_eq!(s.lookup(0xffff0020), Some(("end", 0xffff0020)));
        assert_eq!(s.lookup(0xffff0021), None);
        assert_eq!(s.lookup(0x10), None);
    }
}
