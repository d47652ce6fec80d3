//! Uprobe targets: `libc:malloc`, `/path/to/bin:func`, `func+0x10`,
//! `0xADDR`, `lib:malloc@@GLIBC_2.2.5` to the `PATH:0xOFFSET` that
//! uprobe_events takes, the file offset being
//! vaddr - p_vaddr + p_offset of the PT_LOAD segment holding the code
//! (Documentation/trace/uprobetracer.rst), which is the same for PIE,
//! shared libraries and fixed-address executables.

use crate::elf_file::ElfFile;
use crate::error::{Error, Result};
use crate::library_search::find_library;
use std::path::PathBuf;

/// Where in the file a probe goes, before resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeLocation {
    /// A function, plus an offset into it.
    Symbol {
        /// The name, optionally versioned (`malloc@@GLIBC_2.2.5`).
        name: String,
        /// Bytes into the function.
        offset: u64,
    },
    /// An ELF virtual address (as `nm`/`readelf -s` show).
    Address(u64),
}

/// A parsed probe target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeTarget {
    /// The library or program (`libc`, `/usr/bin/bash`); None means the
    /// default binary of the [`ProbeContext`].
    pub binary: Option<String>,
    /// The function or address.
    pub location: ProbeLocation,
}

/// What a target without a binary refers to, and where short library
/// names are looked up first.
#[derive(Debug, Clone, Default)]
pub struct ProbeContext {
    /// A target process: its maps are searched for libraries first, and
    /// its executable is the default binary.
    pub pid: Option<u32>,
    /// The default binary when the target names none (overrides the pid's).
    pub default_binary: Option<PathBuf>,
}

/// A resolved uprobe target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UprobeTarget {
    /// The file to probe.
    pub path: PathBuf,
    /// The file offset.
    pub offset: u64,
    /// The ELF virtual address probed.
    pub vaddr: u64,
    /// The symbol as the file names it (`malloc@@GLIBC_2.2.5`), when the
    /// target was a symbol.
    pub symbol: Option<String>,
    /// The symbol is an IFUNC: the probe is on its resolver, which runs
    /// once at load time, not on each call of the implementation it picks.
    pub ifunc: bool,
}

impl UprobeTarget {
    /// `PATH:0xOFFSET`, the target field of a uprobe_events line.
    pub fn uprobe_events_target(&self) -> String {
        format!("{}:{:#x}", self.path.display(), self.offset)
    }
}

fn bad(spec: &str, why: impl Into<String>) -> Error {
    Error::BadProbeTarget {
        spec: spec.to_owned(),
        why: why.into(),
    }
}

fn number(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// The byte index of the `:` between binary and location: the first
/// colon that is not part of a C++ `::`.
fn binary_separator(spec: &str) -> Option<usize> {
    let b = spec.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b':' {
            if b.get(i + 1) == Some(&b':') {
                i += 2;
                continue;
            }
            return Some(i);
        }
        i += 1;
    }
    None
}

impl ProbeTarget {
    /// Parses `[BINARY:](SYMBOL[+OFFSET] | 0xADDRESS)`.
    pub fn parse(spec: &str) -> Result<ProbeTarget> {
        if spec.is_empty() || spec.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad(spec, "must be one non-empty word"));
        }
        let (binary, rest) = match binary_separator(spec) {
            Some(i) => (Some(&spec[..i]), &spec[i + 1..]),
            None => (None, spec),
        };
        if binary == Some("") {
            return Err(bad(spec, "empty library name before ':'"));
        }
        if rest.is_empty() {
            return Err(bad(spec, "no symbol or address after ':'"));
        }
        let location = if rest.starts_with("0x") || rest.starts_with("0X") {
            ProbeLocation::Address(number(rest).ok_or_else(|| bad(spec, "bad hex address"))?)
        } else if rest.as_bytes()[0].is_ascii_digit() {
            return Err(bad(spec, "addresses are written 0xHEX"));
        } else {
            let (name, offset) = match rest.rfind('+') {
                Some(i) => (
                    &rest[..i],
                    number(&rest[i + 1..]).ok_or_else(|| bad(spec, "bad offset after '+'"))?,
                ),
                None => (rest, 0),
            };
            if name.is_empty() {
                return Err(bad(spec, "empty symbol name"));
            }
            ProbeLocation::Symbol {
                name: name.to_owned(),
                offset,
            }
        };
        Ok(ProbeTarget {
            binary: binary.map(str::to_owned),
            location,
        })
    }

    /// Finds the file and computes the file offset. Fails naming the
    /// library when it is not found, the library and symbol when the
    /// symbol is missing, and the address when no segment holds it.
    pub fn resolve(&self, ctx: &ProbeContext) -> Result<UprobeTarget> {
        let path = match (&self.binary, &ctx.default_binary, ctx.pid) {
            (Some(b), _, pid) => find_library(b, pid)?,
            (None, Some(d), _) => d.clone(),
            (None, None, Some(pid)) => {
                let exe = format!("/proc/{pid}/exe");
                std::fs::read_link(&exe).map_err(|e| Error::read(exe, e))?
            }
            (None, None, None) => {
                return Err(Error::BadProbeTarget {
                    spec: format!("{:?}", self.location),
                    why: "no binary given (write LIB:SYMBOL or /path:SYMBOL, or give a pid)".into(),
                })
            }
        };
        let elf = ElfFile::open(&path)?;
        let (vaddr, symbol, ifunc) = match &self.location {
            ProbeLocation::Address(a) => (*a, None, false),
            ProbeLocation::Symbol { name, offset } => {
                let s = elf.find_function(name).ok_or_else(|| Error::SymbolNotFound {
                    path: path.clone(),
                    symbol: name.clone(),
                })?;
                if s.size > 0 && *offset >= s.size {
                    return Err(Error::BadProbeTarget {
                        spec: format!("{name}+{offset:#x}"),
                        why: format!(
                            "offset is past the end of {} ({} bytes) in {}",
                            name,
                            s.size,
                            path.display()
                        ),
                    });
                }
                (s.address + offset, Some(s.versioned_name()), s.ifunc)
            }
        };
        let offset = elf.vaddr_to_offset(vaddr).ok_or_else(|| Error::NotInSegment {
            path: path.clone(),
            vaddr,
        })?;
        Ok(UprobeTarget {
            path,
            offset,
            vaddr,
            symbol,
            ifunc,
        })
    }
}

/// Parses and resolves `spec` in one step.
pub fn resolve_uprobe(spec: &str, ctx: &ProbeContext) -> Result<UprobeTarget> {
    ProbeTarget::parse(spec)?.resolve(ctx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sym(binary: Option<&str>, name: &str, offset: u64) -> ProbeTarget {
        ProbeTarget {
            binary: binary.map(str::to_owned),
            location: ProbeLocation::Symbol {
                name: name.into(),
                offset,
            },
        }
    }

    #[test]
    fn parses_every_form() {
        assert_eq!(
            ProbeTarget::parse("libc:malloc").unwrap(),
            sym(Some("libc"), "malloc", 0)
        );
        assert_eq!(
            ProbeTarget::parse("/usr/bin/x:main+0x10").unwrap(),
            sym(Some("/usr/bin/x"), "main", 16)
        );
        assert_eq!(ProbeTarget::parse("func+8").unwrap(), sym(None, "func", 8));
        assert_eq!(
            ProbeTarget::parse("libc:malloc@@GLIBC_2.2.5").unwrap(),
            sym(Some("libc"), "malloc@@GLIBC_2.2.5", 0)
        );
        assert_eq!(
            ProbeTarget::parse("lib:ns::f").unwrap(),
            sym(Some("lib"), "ns::f", 0)
        );
        assert_eq!(
            ProbeTarget::parse("0x1130").unwrap(),
            ProbeTarget {
                binary: None,
                location: ProbeLocation::Address(0x1130)
            }
        );
        for bad in [
            "",
            "libc:",
            ":malloc",
            "libc:malloc+zz",
            "a b",
            "libc:1234",
            "libc:0xzz",
            "libc:+4",
        ] {
            assert!(ProbeTarget::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn missing_symbols_name_library_and_symbol() {
        let e = resolve_uprobe("libc:no_such_function_ftr", &ProbeContext::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("no_such_function_ftr") && e.contains("libc.so"), "{e}");
    }

    proptest! {
        #[test]
        fn arbitrary_specs_never_panic(s in ".{0,40}") {
            let _ = ProbeTarget::parse(&s);
        }
    }
}
