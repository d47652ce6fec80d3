//! Why a trace.dat file could not be read.

/// What went wrong reading a trace.dat file, and at which byte offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TraceDatError {
    /// The file does not start with trace-cmd's magic `\x17\x08\x44tracing`.
    #[error("not a trace-cmd data file (bad magic)")]
    BadMagic,
    /// A version other than 6 or 7.
    #[error("trace.dat version {0:?} is not supported (6 and 7 are)")]
    UnsupportedVersion(String),
    /// The file ends in the middle of something.
    #[error("truncated at byte {offset}: {what} needs {need} more bytes")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Where it starts.
        offset: u64,
        /// How many bytes it needs.
        need: u64,
    },
    /// A value that makes no sense where it is.
    #[error("at byte {offset}: {what}")]
    Invalid {
        /// What is wrong.
        what: String,
        /// Where it is.
        offset: u64,
    },
    /// A compressed block that does not decompress.
    #[error("at byte {offset}: {algo} block does not decompress: {msg}")]
    Decompress {
        /// Compression name from the file header.
        algo: String,
        /// Where the block starts.
        offset: u64,
        /// The decoder's message.
        msg: String,
    },
    /// Reading the input failed (only from [`TraceDat::from_reader`](super::TraceDat::from_reader)).
    #[error("reading the input: {0}")]
    Io(String),
}

/// Result of trace.dat reading.
pub type Result<T> = std::result::Result<T, TraceDatError>;
