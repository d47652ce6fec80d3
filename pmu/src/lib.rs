//! ftr-pmu: everything ftr needs from perf_event_open(2).
//!
//! Today that is capability probing: [`PmuCapabilities::probe`] asks the
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
mod error;
#[allow(unsafe_code)]
mod sys;

pub use access::parse_paranoid;
pub use capabilities::{PmuCapabilities, PmuInfo, Probe};
pub use error::{Error, ErrorKind};
