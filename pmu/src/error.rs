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
    /// The kernel or the hardware has no such feature (EOPNOTSUPP, ENODEV).
    Unsupported,
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
    /// An event name matched nothing this kernel or ftr knows.
    #[error("unknown event {name:?}{}", suggest(suggestions))]
    UnknownEvent {
        /// The name as written.
        name: String,
        /// The closest valid names, best first (may be empty).
        suggestions: Vec<String>,
    },
    /// An event list did not follow perf's syntax.
    #[error("bad event syntax in {text:?}: {why}")]
    BadEventSyntax {
        /// The offending part of the list.
        text: String,
        /// What is wrong.
        why: String,
    },
    /// perf_event_open(2) refused an event.
    #[error("could not open event {event} ({target}): {hint}")]
    Open {
        /// The event's name.
        event: String,
        /// What it was opened on: "pid 123", "CPU 1", ...
        target: String,
        /// The errno and the setting to change, if one is to blame.
        hint: String,
        /// The errno.
        #[source]
        source: io::Error,
    },
    /// A counter's value could not be read, or the kernel refused to
    /// enable or disable it.
    #[error("could not {what} event {event}")]
    Counter {
        /// "read", "enable" or "disable".
        what: &'static str,
        /// The event's name.
        event: String,
        /// The errno.
        #[source]
        source: io::Error,
    },
    /// The process to count is gone or never existed.
    #[error("no such process: {pid}")]
    NoSuchProcess {
        /// The pid asked for.
        pid: i32,
    },
    /// The requested sampling frequency is above what the kernel allows.
    #[error(
        "sampling frequency {requested} Hz is above kernel.perf_event_max_sample_rate={max}; \
         lower the frequency or raise the sysctl"
    )]
    SampleRate {
        /// The frequency asked for.
        requested: u64,
        /// `kernel.perf_event_max_sample_rate`.
        max: u64,
    },
    /// A sampling option is out of range (ring size, stack size, ...).
    #[error("bad sampling option: {0}")]
    SampleConfig(String),
    /// Mapping an event's ring buffer failed.
    #[error("could not map the {pages}-page ring buffer of event {event} ({target}): {hint}")]
    Ring {
        /// The event's name.
        event: String,
        /// "pid 123 on CPU 0", "CPU 1", ...
        target: String,
        /// Data pages asked for.
        pages: usize,
        /// The errno and the setting to change.
        hint: String,
        /// The errno.
        #[source]
        source: io::Error,
    },
    /// Waiting on the ring buffers failed.
    #[error("could not poll the perf ring buffers")]
    Poll(#[source] io::Error),
    /// A ring buffer held a record that does not parse.
    #[error("bad record in the ring buffer of {ring}")]
    Record {
        /// Which ring: "CPU 1", "pid 123".
        ring: String,
        /// What was wrong.
        #[source]
        source: crate::record::RecordError,
    },
    /// Starting the command to count failed.
    #[error("could not run {command}")]
    Spawn {
        /// The program.
        command: String,
        /// The errno.
        #[source]
        source: io::Error,
    },
}

fn suggest(s: &[String]) -> String {
    if s.is_empty() {
        " (see `perf list`)".to_owned()
    } else {
        format!(" (did you mean {}?)", s.join(", "))
    }
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
            Error::Parse { .. } | Error::BadEventSyntax { .. } | Error::Record { .. } => {
                ErrorKind::InvalidData
            }
            Error::SampleRate { .. } | Error::SampleConfig(_) => ErrorKind::Other,
            Error::Poll(source) if source.raw_os_error() == Some(libc::EPERM) => ErrorKind::PermissionDenied,
            Error::Poll(_) => ErrorKind::Other,
            Error::UnknownEvent { .. } | Error::NoSuchProcess { .. } => ErrorKind::NotFound,
            Error::Open { source, .. }
            | Error::Counter { source, .. }
            | Error::Spawn { source, .. }
            | Error::Ring { source, .. } => match source.raw_os_error() {
                Some(libc::EACCES) | Some(libc::EPERM) => ErrorKind::PermissionDenied,
                Some(libc::ENOENT) | Some(libc::ESRCH) => ErrorKind::NotFound,
                Some(libc::EOPNOTSUPP) | Some(libc::ENODEV) => ErrorKind::Unsupported,
                _ => ErrorKind::Other,
            },
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
