//! perf ring-buffer records, parsed from bytes: SAMPLE (ip, tid, time,
//! cpu, period, callchain, raw, user registers and user stack), MMAP,
//! MMAP2, COMM, FORK, EXIT, LOST, LOST_SAMPLES, THROTTLE and UNTHROTTLE,
//! with the `sample_id_all` trailer of the non-sample records.
//!
//! The parser is pure and total: any byte string gives a [`Record`] or a
//! [`RecordError`], never a panic, so the same code reads a live mmap ring
//! and recorded data. Layouts follow `enum perf_event_type` in
//! include/uapi/linux/perf_event.h; multi-byte fields are in the host's
//! byte order, as the kernel writes them.
//!
//! ```
//! use ftr_pmu::{parse_record, Record, RecordLayout, SAMPLE_IP, SAMPLE_TID};
//! let layout = RecordLayout::new(SAMPLE_IP | SAMPLE_TID, 0, 0, true).unwrap();
//! let mut bytes = Vec::new();
//! bytes.extend_from_slice(&9u32.to_ne_bytes()); // PERF_RECORD_SAMPLE
//! bytes.extend_from_slice(&2u16.to_ne_bytes()); // misc: user
//! bytes.extend_from_slice(&24u16.to_ne_bytes()); // size
//! bytes.extend_from_slice(&0x401000u64.to_ne_bytes());
//! bytes.extend_from_slice(&7u32.to_ne_bytes());
//! bytes.extend_from_slice(&8u32.to_ne_bytes());
//! let Record::Sample(s) = parse_record(&bytes, &layout).unwrap() else { panic!() };
//! assert_eq!((s.ip, s.pid, s.tid), (Some(0x401000), Some(7), Some(8)));
//! ```

mod parser;
mod types;

pub use parser::{parse_record, record_size};
pub use types::*;
