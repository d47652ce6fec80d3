//! Event format files (`events/SYS/EVENT/format`), `header_page` and
//! `header_event`, parsed into schemas that decode event payloads.
//!
//! Everything here is pure: text in, types out, no file access. The control
//! half of the crate (or the trace.dat reader) reads the files and hands the
//! text over, so fixtures from other kernels go through the same code as the
//! live system.
//!
//! Field offsets and sizes differ between kernels (RHEL7's 4-byte
//! `gfp_t gfp_flags` vs 8-byte `unsigned long` later; `errors` vs `error` in
//! `block_rq_complete`; 4-byte `long` on 32-bit kernels), so tools always
//! resolve fields by name from the running kernel's formats and never
//! hard-code layouts.
//!
//! ```
//! use ftr_tracefs::format::{Schema, Value};
//! use ftr_tracefs::Endian;
//!
//! let text = "name: sched_process_exec\nID: 300\nformat:\n\
//!     \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
//!     \tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\
//!     \tfield:__data_loc char[] filename;\toffset:8;\tsize:4;\tsigned:0;\n\
//!     \tfield:pid_t pid;\toffset:12;\tsize:4;\tsigned:1;\n\n\
//!     print fmt: \"filename=%s pid=%d\", __get_str(filename), REC->pid\n";
//! let schema = Schema::parse("sched", text)?;
//!
//! // Resolve once...
//! let filename = schema.field("filename").expect("field exists");
//! let pid = schema.field("pid").expect("field exists");
//!
//! // ...then read each record (here built by hand, little-endian).
//! let mut rec = vec![0u8; 16];
//! rec[0..2].copy_from_slice(&300u16.to_le_bytes());
//! rec[8..12].copy_from_slice(&((8u32 << 16) | 16).to_le_bytes()); // len 8 at 16
//! rec[12..16].copy_from_slice(&42i32.to_le_bytes());
//! rec.extend_from_slice(b"/bin/ls\0");
//!
//! assert_eq!(filename.str(&rec, Endian::Little).as_deref(), Some("/bin/ls"));
//! assert_eq!(pid.i64(&rec, Endian::Little), Some(42));
//! assert_eq!(pid.value(&rec, Endian::Little), Value::Signed(42));
//! # Ok::<(), ftr_tracefs::format::FormatError>(())
//! ```

mod ctype;
mod decode;
mod error;
pub mod filter;
mod header;
mod parser;
pub mod printfmt;
mod registry;
#[cfg(test)]
mod testdata;
mod types;
mod value;

pub use decode::FieldRef;
pub use error::FormatError;
pub use header::{parse_header_event, parse_header_page, HeaderEvent};
pub use registry::Formats;
pub use types::{Field, FieldKind, Schema};
pub use value::Value;

#[cfg(test)]
mod proptests {
    use super::testdata::*;
    use super::*;
    use crate::Endian;
    use proptest::prelude::*;

    fn samples() -> Vec<Schema> {
        [
            SCHED_SWITCH_6_18,
            BLOCK_RQ_COMPLETE_6_18,
            BLOCK_RQ_COMPLETE_RHEL7,
            NO_SIGNED,
            REL_LOC,
            ALL_KINDS,
        ]
        .iter()
        .map(|t| Schema::parse("test", t).unwrap())
        .collect()
    }

    /// Lines that look like format lines, to get deeper than random text.
    fn format_like() -> impl Strategy<Value = String> {
        let line = prop_oneof![
            Just("name: x".to_string()),
            "ID: [0-9]{1,6}",
            Just("format:".to_string()),
            Just(String::new()),
            "\tfield:(unsigned |const |__data_loc |__rel_loc )?(char|int|long|u8|void \\*|struct s)(\\[[0-9A-Z +]{0,4}\\])? ?[a-z_]{0,5}(\\[[0-9]{0,3}\\])?;\toffset:[0-9]{1,20};\tsize:[0-9]{1,20};\tsigned:[01];",
            "\tfield: (u64|local_t|char) (timestamp|commit|data);\toffset:[0-9]{1,3};\tsize:[0-9]{1,5};",
            "\t(type_len|time_delta|padding|time_stamp) *: *(type == )?[0-9]{1,11}( bits)?",
            "print fmt: .{0,20}",
            ".{0,30}",
        ];
        prop::collection::vec(line, 0..12).prop_map(|l| l.join("\n"))
    }

    fn all_parsers(text: &str) {
        if let Ok(s) = Schema::parse("fuzz", text) {
            let rec = vec![0xffu8; 64];
            for f in &s.fields {
                let _ = f.to_ref().value(&rec, Endian::Big).to_string();
            }
        }
        let _ = parse_header_page(text, Endian::Little);
        let _ = parse_header_event(text);
    }

    proptest! {
        #[test]
        fn parsers_never_panic_on_strings(text in ".*") {
            all_parsers(&text);
        }

        #[test]
        fn parsers_never_panic_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            all_parsers(&String::from_utf8_lossy(&bytes));
        }

        #[test]
        fn parsers_never_panic_on_format_like_text(text in format_like()) {
            all_parsers(&text);
        }

        #[test]
        fn decoding_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..160)) {
            for s in samples() {
                for f in &s.fields {
                    let r = f.to_ref();
                    for e in [Endian::Little, Endian::Big] {
                        let _ = r.value(&bytes, e).to_string();
                        let _ = r.bytes(&bytes, e);
                        let _ = r.str(&bytes, e);
                        let _ = (r.u64(&bytes, e), r.i64(&bytes, e));
                    }
                }
            }
        }
    }
}
