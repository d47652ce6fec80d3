//! Errors of the control half: every variant names the step that failed and
//! the path it failed on.

use std::io;
use std::path::PathBuf;

/// What kind of failure an [`Error`] is, so tools can print a hint
/// ("run as root", "this kernel lacks ...") without matching every variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The kernel or the file mode refused (EPERM/EACCES, lockdown, not root).
    PermissionDenied,
    /// A file, event or instance does not exist on this kernel.
    NotFound,
    /// The kernel does not offer the feature at all.
    Unsupported,
    /// ftr was asked to write something it will not write, or the kernel
    /// rejected the value (EINVAL).
    InvalidInput,
    /// The object is still in use (EBUSY) after every retry.
    Busy,
    /// Anything else.
    Other,
}

/// An error from tracefs control.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No tracefs or debugfs tracing directory could be found or mounted.
    #[error("no tracefs found: {0}")]
    NoTracefs(String),
    /// A value that could smuggle a second command into a control file.
    #[error("refused to write {value:?} to {path}: {why}")]
    UnsafeValue {
        /// The control file.
        path: PathBuf,
        /// The value that was refused.
        value: String,
        /// Which rule it broke.
        why: &'static str,
    },
    /// Writing a control file failed.
    #[error("could not write {value:?} to {path}{detail}")]
    Write {
        /// The control file.
        path: PathBuf,
        /// The value.
        value: String,
        /// Extra words from the kernel (a filter's error text, error_log).
        detail: String,
        /// The errno.
        #[source]
        source: io::Error,
    },
    /// Reading a file or directory failed.
    #[error("could not read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The errno.
        #[source]
        source: io::Error,
    },
    /// Creating an instance directory failed.
    #[error("could not create instance {path}")]
    CreateInstance {
        /// The instance directory.
        path: PathBuf,
        /// The errno.
        #[source]
        source: io::Error,
    },
    /// Removing an instance directory failed after disabling and retrying.
    #[error("could not remove instance {path} (tried {tries} times)")]
    RemoveInstance {
        /// The instance directory.
        path: PathBuf,
        /// How often it was tried.
        tries: u32,
        /// The last errno.
        #[source]
        source: io::Error,
    },
    /// A `SYS:EVENT` that this kernel does not have.
    #[error("no event {system}:{name} under {dir}")]
    NoSuchEvent {
        /// Event system.
        system: String,
        /// Event name.
        name: String,
        /// The events directory that was searched.
        dir: PathBuf,
    },
    /// `ftr start` never created this kept instance (or it was reset).
    #[error("no kept instance {name} in {dir}")]
    NoKeptInstance {
        /// The instance name asked for (without the prefix).
        name: String,
        /// The instances directory.
        dir: PathBuf,
    },
    /// A format or header file that does not parse.
    #[error("could not parse {path}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        #[source]
        source: crate::format::FormatError,
    },
    /// A ring-buffer page that does not decode.
    #[error("bad ring-buffer page from cpu {cpu}")]
    Page {
        /// The CPU whose trace_pipe_raw gave the page.
        cpu: u32,
        /// What was wrong.
        #[source]
        source: crate::ring::PageError,
    },
    /// A function tracer this kernel lacks, or offers only in a buffer
    /// someone else is using.
    #[error("cannot trace with {tracer}: {why}")]
    TracerUnavailable {
        /// The tracer asked for.
        tracer: String,
        /// What is missing or busy, and where ftr looked.
        why: String,
        /// Missing (Unsupported), busy (Busy) or not a function tracer.
        kind: ErrorKind,
    },
    /// poll(2) on the per-CPU ring buffers failed.
    #[error("could not poll the ring buffers")]
    Poll(#[source] io::Error),
}

impl Error {
    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        let errno = match self {
            Error::NoTracefs(_) => return ErrorKind::Unsupported,
            Error::UnsafeValue { .. } | Error::Format { .. } | Error::Page { .. } => {
                return ErrorKind::InvalidInput
            }
            Error::NoSuchEvent { .. } | Error::NoKeptInstance { .. } => return ErrorKind::NotFound,
            Error::TracerUnavailable { kind, .. } => return *kind,
            Error::Write { source, .. }
            | Error::Read { source, .. }
            | Error::CreateInstance { source, .. }
            | Error::RemoveInstance { source, .. }
            | Error::Poll(source) => source,
        };
        kind_of(errno)
    }
}

/// Classifies an io::Error the way [`Error::kind`] does.
pub(crate) fn kind_of(e: &io::Error) -> ErrorKind {
    match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => ErrorKind::PermissionDenied,
        Some(libc::ENOENT) => ErrorKind::NotFound,
        Some(libc::ENODEV) | Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP) => ErrorKind::Unsupported,
        Some(libc::EINVAL) => ErrorKind::InvalidInput,
        Some(libc::EBUSY) => ErrorKind::Busy,
        _ => ErrorKind::Other,
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
