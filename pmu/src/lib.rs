//! ftr-pmu: everything ftr needs from perf_event_open(2).
//!
//! Counting: [`parse_events`] reads perf's event syntax, [`Counters`] opens
//! the events on tasks or CPUs and reads them scaled, and [`Workload`] holds
//! a command before exec so only it is counted.
//!
//! Capability probing: [`PmuCapabilities::probe`] asks the
//! running kernel, by real trial calls, whether hardware and software
//! counters, perf tracepoints, the kprobe/uprobe PMUs, BPF program loading
//! and BTF are usable, and if not whether they are missing or refused (and
//! by which setting). Counting and sampling build on the same raw syscall
//! layer.
//!
//! ```
//! let caps = ftr_pmu::PmuCapabilities::probe();
//! println!("{}", caps.paranoid.unwrap_or(-1));
//! ```
//!
//! The crate depends on no other ftr crate; in particular it reads the
//! tracepoint id it probes with straight from tracefs's `events/` directory
//! instead of using ftr-tracefs.
#![deny(unsafe_code)]

mod access;
mod capabilities;
mod census;
mod counter;
mod error;
mod events;
#[allow(unsafe_code)]
mod sys;
mod workload;

pub use access::parse_paranoid;
pub use capabilities::{PmuCapabilities, PmuInfo, Probe};
pub use census::{event_census, Census};
pub use counter::{aggregate, Count, CountTarget, Counters, Snapshot};
pub use error::{Error, ErrorKind};
pub use events::{
    glob_match, known_names, list_pmus, parse_events, parse_format, primary_names, EventContext, EventGroup,
    EventSpec, Exclude, EVENT_SOURCE_DEVICES, TYPE_HARDWARE, TYPE_HW_CACHE, TYPE_RAW, TYPE_SOFTWARE,
    TYPE_TRACEPOINT,
};
pub use workload::Workload;
