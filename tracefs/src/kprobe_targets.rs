//! Which kernel functions can take a kprobe here: kallsyms' text symbols
//! (or `available_filter_functions` when kallsyms is unreadable), minus
//! the kprobes blacklist (debugfs; absent on RHEL7, which is not an error).

/// Where kernel functions can be probed, from kallsyms text symbols (or
/// `available_filter_functions` when kallsyms is unreadable) and the
/// kprobes blacklist (debugfs; absent on RHEL7, which is not an error).
#[derive(Debug, Clone, Default)]
pub struct KprobeTargets {
    functions: std::collections::HashSet<String>,
    blacklist: std::collections::HashSet<String>,
    source: &'static str,
}

/// The kprobes blacklist under debugfs.
pub const KPROBES_BLACKLIST: &str = "/sys/kernel/debug/kprobes/blacklist";
/// The kernel symbol table.
pub const KALLSYMS: &str = "/proc/kallsyms";

impl KprobeTargets {
    /// Builds the sets from file texts (any may be missing).
    pub fn parse(
        kallsyms: Option<&str>,
        filter_functions: Option<&str>,
        blacklist: Option<&str>,
    ) -> KprobeTargets {
        let mut functions = std::collections::HashSet::new();
        let mut source = "nothing";
        if let Some(k) = kallsyms {
            for l in k.lines() {
                let mut w = l.split_ascii_whitespace();
                if let (Some(_), Some(ty), Some(name)) = (w.next(), w.next(), w.next()) {
                    if matches!(ty, "t" | "T" | "w" | "W") {
                        functions.insert(name.to_owned());
                    }
                }
            }
            if !functions.is_empty() {
                source = "/proc/kallsyms";
            }
        }
        if functions.is_empty() {
            if let Some(f) = filter_functions {
                functions.extend(
                    f.lines()
                        .filter_map(|l| l.split_ascii_whitespace().next())
                        .map(str::to_owned),
                );
                source = "available_filter_functions";
            }
        }
        let blacklist = blacklist
            .unwrap_or("")
            .lines()
            .filter_map(|l| l.split_ascii_whitespace().last())
            .map(str::to_owned)
            .collect();
        KprobeTargets {
            functions,
            blacklist,
            source,
        }
    }

    /// Reads the running kernel's files; the filter list from `tracing_root`.
    pub fn for_running_kernel(tracing_root: &std::path::Path) -> KprobeTargets {
        let read = |p: &std::path::Path| std::fs::read_to_string(p).ok();
        let kallsyms = read(std::path::Path::new(KALLSYMS));
        // The filter list is only the fallback: skip reading it (tens of
        // thousands of lines) when kallsyms named the functions.
        let filter = if kallsyms.as_deref().is_some_and(|k| !k.is_empty()) {
            None
        } else {
            read(&tracing_root.join("available_filter_functions"))
        };
        KprobeTargets::parse(
            kallsyms.as_deref(),
            filter.as_deref(),
            read(std::path::Path::new(KPROBES_BLACKLIST)).as_deref(),
        )
    }

    /// Whether `symbol` can take a kprobe, or a one-line reason.
    pub fn check(&self, symbol: &str) -> Result<(), String> {
        if self.blacklist.contains(symbol) {
            return Err(format!(
                "kernel function {symbol} is on the kprobes blacklist ({KPROBES_BLACKLIST}): it cannot be probed"
            ));
        }
        if !self.functions.is_empty() && !self.functions.contains(symbol) {
            return Err(format!(
                "no kernel function {symbol} in {} (inlined, renamed, or a typo)",
                self.source
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn targets_check_names_and_blacklist() {
        let t = KprobeTargets::parse(
            Some("ffffffff81000000 T vfs_read\nffffffff81000100 t helper.isra.0\nffffffff82000000 D data\n"),
            None,
            Some("0xffffffff81000200-0xffffffff81000300\tdo_int3\n"),
        );
        assert!(t.check("vfs_read").is_ok());
        assert!(t.check("helper.isra.0").is_ok());
        assert!(t.check("data").unwrap_err().contains("data"));
        assert!(t.check("do_int3").unwrap_err().contains("blacklist"));
        let none = KprobeTargets::parse(None, Some("vfs_read\nfoo [mod]\n"), None);
        assert!(none.check("foo").is_ok());
        assert!(none.check("bar").is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_tables_never_panic(s in ".*") {
            let t = KprobeTargets::parse(Some(&s), Some(&s), Some(&s));
            let _ = t.check(&s);
        }
    }
}
