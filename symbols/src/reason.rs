//! Why an address did not resolve to a name. Such addresses are data: they
//! are shown as `[unknown]` with what is known about them.

use std::fmt;

/// Why an address has no symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The process no longer exists (or its maps are unreadable).
    ProcessGone,
    /// No mapping of the process covers the address.
    NotMapped,
    /// The address is in anonymous memory (heap, stack, JIT code without a
    /// perf-PID.map).
    Anonymous,
    /// The mapped file could not be opened or parsed (message says why).
    FileUnreadable(String),
    /// The file is mapped but no symbol covers the address (stripped).
    NoSymbol,
    /// /proc/kallsyms shows zeros (kptr_restrict).
    KernelAddressesHidden,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::ProcessGone => f.write_str("process gone"),
            Reason::NotMapped => f.write_str("address not mapped"),
            Reason::Anonymous => f.write_str("anonymous memory"),
            Reason::FileUnreadable(why) => write!(f, "file unreadable: {why}"),
            Reason::NoSymbol => f.write_str("no symbol covers the address"),
            Reason::KernelAddressesHidden => f.write_str("kernel addresses hidden by kptr_restrict"),
        }
    }
}
