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

impl KernelSymbol {
    /// Whether the symbol is code (`T`, `t`, `W`, `w`), the only kind a
    /// stack address can land in.
    pub fn is_text(&self) -> bool {
        matches!(self.kind, 'T' | 't' | 'W' | 'w')
    }
}

/// Parses kallsyms text; malformed lines are skipped, never fatal.
pub fn parse_kallsyms(text: &str) -> Vec<KernelSymbol> {
    text.lines().filter_map(parse_line).collect()
}

/// Parses kallsyms bytes as read from the file; lines that are not UTF-8
/// or not well formed are skipped.
pub fn parse_kallsyms_bytes(bytes: &[u8]) -> Vec<KernelSymbol> {
    bytes
        .split(|&b| b == b'\n')
        .filter_map(|l| std::str::from_utf8(l).ok())
        .filter_map(parse_line)
        .collect()
}

fn parse_line(l: &str) -> Option<KernelSymbol> {
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

    #[test]
    fn bytes_and_text_agree() {
        let t = "ffffffff81000000 T _stext\n0000000000000000 t hidden\t[mod]\n";
        assert_eq!(parse_kallsyms(t), parse_kallsyms_bytes(t.as_bytes()));
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(t in ".*") {
            let _ = parse_kallsyms(&t);
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_kallsyms_bytes(&b);
        }
    }
}
