//! ftr-pmu: everything ftr needs from perf_event_open(2).
//!
//! Counting: [`parse_events`] reads perf's event syntax, [`Counters`] opens
//! the events on tasks or CPUs and reads them scaled, and [`Workload`] holds
//! a command before exec so only it is counted.
//!
//! Sampling: [`SamplerBuilder`] opens software, hardware, tracepoint and
//! uprobe/kprobe PMU events ([`SampleSource`]) on CPUs, a task (with
//! inherit and enable-on-exec for a [`Workload`]) or every thread of a
//! process ([`SampleTarget`]), with one mmap'd ring per CPU shared by all
//! events, each of which may carry its own [`SampleShape`] (callchain,
//! RAW, registers, stack copy). [`Sampler::wait`] polls the rings and a wake descriptor,
//! [`Sampler::drain`] (or [`Sampler::drain_ordered`], merged in time
//! order) hands out parsed [`Record`]s and counts LOST ones
//! ([`SamplerStats`]). The parser, [`parse_record`], is pure and serves
//! recorded data too; [`RegisterArch`] reads unwinding, argument and
//! return registers out of REGS_USER.
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
mod cpus;
mod error;
mod events;
mod record;
mod regs;
mod sampler;
mod sampler_builder;
mod sorter;
mod source;
#[allow(unsafe_code)]
mod sys;
mod workload;

pub use access::parse_paranoid;
pub use capabilities::{PmuCapabilities, PmuInfo, Probe};
pub use census::{event_census, Census};
pub use counter::{aggregate, Count, CountTarget, Counters, Snapshot};
pub use cpus::{online_cpus, parse_cpu_list, CPU_ONLINE};
pub use error::{Error, ErrorKind};
pub use events::{
    glob_match, known_names, list_pmus, parse_events, parse_format, primary_names, EventContext, EventGroup,
    EventSpec, Exclude, EVENT_SOURCE_DEVICES, TYPE_HARDWARE, TYPE_HW_CACHE, TYPE_RAW, TYPE_SOFTWARE,
    TYPE_TRACEPOINT,
};
pub use record::{
    parse_record, record_size, Callchain, Comm, CpuMode, Lost, Mmap, Record, RecordError, RecordLayout,
    Sample, SampleId, TaskEvent, Throttle, UserRegs, HEADER_SIZE, SAMPLE_ADDR, SAMPLE_CALLCHAIN, SAMPLE_CPU,
    SAMPLE_DATA_SRC, SAMPLE_ID, SAMPLE_IDENTIFIER, SAMPLE_IP, SAMPLE_PERIOD, SAMPLE_RAW, SAMPLE_READ,
    SAMPLE_REGS_USER, SAMPLE_STACK_USER, SAMPLE_STREAM_ID, SAMPLE_TID, SAMPLE_TIME, SAMPLE_WEIGHT,
};
pub use regs::{
    RegisterArch, UnwindRegs, AARCH64_ARGS, AARCH64_FP, AARCH64_LR, AARCH64_PC, AARCH64_SP, X86_64_ARGS,
    X86_64_AX, X86_64_BP, X86_64_IP, X86_64_SP,
};
pub use sampler::{Origin, Readiness, Sampler, SamplerStats};
pub use sampler_builder::{SampleRate, SampleShape, SampleTarget, SamplerBuilder, Wakeup, MAX_USER_STACK};
pub use sorter::RecordSorter;
pub use source::{tracepoint_id, SampleSource};
pub use workload::Workload;
