//! One frame of a symbolized stack, displayed the way BCC prints frames.

use crate::reason::Reason;
use std::fmt;
use std::path::PathBuf;

/// A source position from DWARF line info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLocation {
    /// The source file path as recorded by the compiler.
    pub file: PathBuf,
    /// Line number (1-based); 0 when unknown.
    pub line: u32,
    /// Column, when recorded.
    pub column: Option<u32>,
}

impl fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// A frame: one function (or an inlined function inside one) at an address.
///
/// `Display` gives BCC's form: `func+0xoff [module]`, `func [module]` for
/// inlined frames (they have no offset of their own, and carry
/// `inlined = true`), and `[unknown] [module+0xoff]` when unresolved. The
/// alternate form (`{:#}`) adds ` at file:line` when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The address that was looked up (a runtime address for user frames).
    pub addr: u64,
    /// Demangled function name; None when unresolved.
    pub function: Option<String>,
    /// Bytes from the function's start (0 for inlined frames).
    pub offset: u64,
    /// Short module name: the file name of the mapped object, `kernel` for
    /// the core kernel image, the module name for kernel modules, `[vdso]`,
    /// `[perf-map]` for JIT code, or None when nothing maps the address.
    pub module: Option<String>,
    /// Offset into the module: the file offset for mapped files, the
    /// address itself for the kernel.
    pub module_offset: u64,
    /// File and line from DWARF.
    pub location: Option<SourceLocation>,
    /// This frame was inlined into the next (outer) frame.
    pub inlined: bool,
    /// Why `function` is None.
    pub reason: Option<Reason>,
}

impl Frame {
    /// An unresolved frame.
    pub fn unknown(addr: u64, module: Option<String>, module_offset: u64, reason: Reason) -> Frame {
        Frame {
            addr,
            function: None,
            offset: 0,
            module,
            module_offset,
            location: None,
            inlined: false,
            reason: Some(reason),
        }
    }

    /// Whether the frame has a function name.
    pub fn is_resolved(&self) -> bool {
        self.function.is_some()
    }

    /// The function name, or `[unknown]`; what folded stacks print.
    pub fn name(&self) -> &str {
        self.function.as_deref().unwrap_or("[unknown]")
    }
}

impl fmt::Display for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.function, &self.module) {
            (Some(func), module) => {
                f.write_str(func)?;
                if !self.inlined {
                    write!(f, "+{:#x}", self.offset)?;
                }
                if let Some(m) = module {
                    write!(f, " [{m}]")?;
                }
                if self.inlined {
                    f.write_str(" (inlined)")?;
                }
            }
            (None, Some(m)) => write!(f, "[unknown] [{m}+{:#x}]", self.module_offset)?,
            (None, None) => write!(f, "[unknown] [{:#x}]", self.addr)?,
        }
        if f.alternate() {
            if let Some(l) = &self.location {
                write!(f, " at {l}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_like_bcc() {
        let mut fr = Frame {
            addr: 0x7f00_0000_1234,
            function: Some("malloc".into()),
            offset: 0x14,
            module: Some("libc.so.6".into()),
            module_offset: 0x9a234,
            location: None,
            inlined: false,
            reason: None,
        };
        assert_eq!(fr.to_string(), "malloc+0x14 [libc.so.6]");
        fr.location = Some(SourceLocation {
            file: "malloc.c".into(),
            line: 3287,
            column: None,
        });
        assert_eq!(format!("{fr:#}"), "malloc+0x14 [libc.so.6] at malloc.c:3287");
        let u = Frame::unknown(
            0x7f00_0000_1234,
            Some("libfoo.so".into()),
            0x1234,
            Reason::NoSymbol,
        );
        assert_eq!(u.to_string(), "[unknown] [libfoo.so+0x1234]");
        assert_eq!(u.name(), "[unknown]");
        let n = Frame::unknown(0xdead, None, 0, Reason::NotMapped);
        assert_eq!(n.to_string(), "[unknown] [0xdead]");
    }
}
