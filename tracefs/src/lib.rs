//! ftr-tracefs: everything ftr needs from ftrace's tracefs.
//!
//! The crate has two halves that never mix:
//! - *control* ([`TracingDir`], [`Instance`], [`Guard`], [`Capabilities`],
//!   [`ProbeGroup`], [`RingReader`]): the only code that touches files under
//!   tracefs. Every change goes through [`Guard`], so it is undone on exit,
//!   on a signal or a panic, or reclaimed by the next run after a SIGKILL.
//! - *decoding* ([`format`], [`ring`], [`tracedat`]): pure functions over bytes and text,
//!   fed either by the control half or by files recorded elsewhere.
//!
//! ```
//! use ftr_tracefs::{format::Schema, Endian};
//! let text = "name: sched_process_exec\nID: 316\nformat:\n\
//! \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
//! \tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\
//! \tfield:__data_loc char[] filename;\toffset:8;\tsize:4;\tsigned:0;\n\
//! \tfield:pid_t pid;\toffset:12;\tsize:4;\tsigned:1;\n\
//! print fmt: \"filename=%s pid=%d\", __get_str(filename), REC->pid\n";
//! let schema = Schema::parse("sched", text).unwrap();
//! let pid = schema.field("pid").unwrap();
//! let filename = schema.field("filename").unwrap();
//! // One record: common_type=316, common_pid=7, filename at offset 16 (len 10), pid=7.
//! let mut rec = vec![0u8; 16];
//! rec[0..2].copy_from_slice(&316u16.to_le_bytes());
//! rec[4..8].copy_from_slice(&7i32.to_le_bytes());
//! rec[8..12].copy_from_slice(&((10u32 << 16) | 16).to_le_bytes());
//! rec[12..16].copy_from_slice(&7i32.to_le_bytes());
//! rec.extend_from_slice(b"/bin/true\0");
//! assert_eq!(pid.i64(&rec, Endian::Little), Some(7));
//! assert_eq!(filename.str(&rec, Endian::Little).unwrap(), "/bin/true");
//! ```
#![deny(unsafe_code)]

mod capabilities;
mod control;
mod endian;
mod error;
mod events;
pub mod format;
mod function_profiler;
mod guard;
mod instance;
mod kprobe_spec;
mod kprobe_targets;
mod locate;
mod probes;
mod reader;
pub mod ring;
mod splice;
pub mod tracedat;
mod tracers;

pub use capabilities::{Capabilities, Support};
pub use control::{check_value, read_text, write_control, WriteMode};
pub use endian::Endian;
pub use error::{Error, ErrorKind, Result};
pub use events::{exact_events, glob_match, list_events, parse_available_events, select_events, EventName};
pub use function_profiler::{parse_function_stat, FunctionProfiler};
pub use guard::{
    group_owner, instance_owner, parse_journal, parse_probe_line, reclaim_stale, run_guarded, undo_all,
    Guard, Undo, GROUP_PREFIX, INSTANCE_PREFIX, JOURNAL_DIR,
};
pub use instance::{
    filter_patterns, parse_cpu_stats, selected_choice, CpuStats, FunctionFilter, Instance, KEPT_PREFIX,
};
pub use kprobe_spec::{parse_kprobe_spec, ArgType, Fetch, KprobeFeatures, KprobeSpec, ProbeArg, SpecError};
pub use kprobe_targets::{KprobeTargets, KALLSYMS, KPROBES_BLACKLIST};
pub use locate::{
    choose_from_mounts, parse_mounts, Located, MountEntry, TracingDir, DEBUGFS_PATH, TRACEFS_PATH,
};
pub use probes::{ProbeDef, ProbeGroup, ProbeKind};
pub use reader::{DrainStats, Readiness, RingReader};
pub use splice::splice_ring;
pub use tracers::{buffer_for_tracer, TracerSetup, FUNCTION_TRACERS};

/// Formats an error with its chain of causes: `a: b: c`.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
