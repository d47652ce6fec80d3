//! Errors of ftr-pmu: every variant names the step that failed and what it
//! failed on.

use std::io;
use std::path::PathBuf;

/// What kind of failure an [`Error`] is, so tools can print a hint
/// ("run as root", "this kernel lacks ...") without matching every variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The kernel or the file mode refused (EPERM/EACCES, lockdown, not root).
    PermissionDenied,
    /// A file or event does not exist on this kernel.
    NotFound,
    /// A kernel file did not hold what this kernel ABI promises.
    InvalidData,
    /// Anything else.
    Other,
}

/// An error from ftr-pmu.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading a /proc or /sys file failed.
    #[error("could not read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The errno.
        #[source]
        source: io::Error,
    },
    /// A kernel file's text did not parse.
    #[error("could not parse {what} from {text:?}")]
    Parse {
        /// What was expected, e.g. "perf_event_paranoid (an integer)".
        what: &'static str,
        /// The offending text, trimmed.
        text: String,
    },
}

impl Error {
    /// Classifies the error for hints.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Read { source, .. } => match source.kind() {
                io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
                io::ErrorKind::NotFound => ErrorKind::NotFound,
                _ if source.raw_os_error() == Some(libc::EPERM) => ErrorKind::PermissionDenied,
                _ => ErrorKind::Other,
            },
            Error::Parse { .. } => ErrorKind::InvalidData,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_path_and_kinds_follow_the_errno() {
        let err = Error::Read {
            path: PathBuf::from("/proc/sys/kernel/perf_event_paranoid"),
            source: io::Error::from_raw_os_error(libc::EACCES),
        };
        assert_eq!(
            err.to_string(),
            "could not read /proc/sys/kernel/perf_event_paranoid"
        );
        assert_eq!(err.kind(), ErrorKind::PermissionDenied);
        let err = Error::Read {
            path: PathBuf::from("/x"),
            source: io::Error::from_raw_os_error(libc::EPERM),
        };
        assert_eq!(err.kind(), ErrorKind::PermissionDenied);
        let err = Error::Parse {
            what: "perf_event_paranoid (an integer)",
            text: "x".into(),
        };
        assert_eq!(err.kind(), ErrorKind::InvalidData);
        assert_eq!(
            err.to_string(),
            "could not parse perf_event_paranoid (an integer) from \"x\""
        );
    }
}
