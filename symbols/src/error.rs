//! Errors of ftr-symbols. An address that does not resolve is not an error
//! (see [`crate::Reason`]); these are failures to read or parse an input, or
//! a probe target that names something that does not exist.

use std::io;
use std::path::PathBuf;

/// What kind of failure an [`Error`] is, so tools can print a hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The file mode or the kernel refused (EPERM/EACCES, not root).
    PermissionDenied,
    /// A file, library or symbol does not exist.
    NotFound,
    /// The input is not in a format this crate reads.
    InvalidData,
    /// The caller's text (a probe target) is malformed.
    InvalidInput,
    /// Anything else.
    Other,
}

/// An error from ftr-symbols.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading a file failed.
    #[error("could not read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The errno.
        #[source]
        source: io::Error,
    },
    /// A file is not an ELF object this crate can read.
    #[error("{path} is not a readable ELF file: {detail}")]
    BadElf {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        detail: String,
    },
    /// A probe target that cannot be parsed.
    #[error("bad probe target {spec:?}: {why}")]
    BadProbeTarget {
        /// The text as given.
        spec: String,
        /// Which rule it broke.
        why: String,
    },
    /// A library given by short name was not found anywhere.
    #[error("library {name:?} not found (searched {searched})")]
    LibraryNotFound {
        /// The short name (`libc`, `c`, `libpthread.so.0`).
        name: String,
        /// Where it was looked for, in order.
        searched: String,
    },
    /// The symbol is not defined in the file.
    #[error("symbol {symbol:?} not found in {path}")]
    SymbolNotFound {
        /// The ELF file searched (.symtab and .dynsym).
        path: PathBuf,
        /// The symbol name as asked.
        symbol: String,
    },
    /// An address that lies in no PT_LOAD segment of the file.
    #[error("address {vaddr:#x} is in no loadable segment of {path}")]
    NotInSegment {
        /// The ELF file.
        path: PathBuf,
        /// The virtual address.
        vaddr: u64,
    },
    /// /proc/kallsyms shows only zero addresses.
    #[error("kernel addresses are hidden: /proc/kallsyms shows zeros (kernel.kptr_restrict={kptr_restrict}; run as root with kptr_restrict < 2)")]
    KernelAddressesHidden {
        /// The sysctl's value, or "?" when unreadable.
        kptr_restrict: String,
    },
}

impl Error {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Read { source, .. } => match source.kind() {
                io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
                io::ErrorKind::NotFound => ErrorKind::NotFound,
                _ => ErrorKind::Other,
            },
            Error::BadElf { .. } => ErrorKind::InvalidData,
            Error::BadProbeTarget { .. } => ErrorKind::InvalidInput,
            Error::LibraryNotFound { .. } | Error::SymbolNotFound { .. } => ErrorKind::NotFound,
            Error::NotInSegment { .. } => ErrorKind::InvalidInput,
            Error::KernelAddressesHidden { .. } => ErrorKind::PermissionDenied,
        }
    }

    pub(crate) fn read(path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Read {
            path: path.into(),
            source,
        }
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
