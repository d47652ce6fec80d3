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
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_ascii_whitespace();
            let address = u64::from_str_radix(it.next()?, 16).ok()?;
            let kind = it.next()?.chars().next()?;
            let name = it.next()?.to_owned();
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_core_and_module_symbols() {
        let s = parse_kallsyms("ffffffff81000000 T _stext\nffffffffc0000000 t foo\t[ext4]\nnonsense\n");
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].name, "_stext");
        assert_eq!(s[1].module.as_deref(), Some("ext4"));
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(t in ".*") {
            let _ = parse_kallsyms(&t);
        }
    }
}
