//! Parser for the text of `events/SYSTEM/EVENT/format` files, as printed by
//! the kernel's `f_show()`/`trace_format_open` (kernel/trace/trace_events.c):
//!
//! ```text
//! name: sched_switch
//! ID: 372
//! format:
//!     field:unsigned short common_type;    offset:0;    size:2;    signed:0;
//!     ...
//!
//!     field:char prev_comm[16];    offset:8;    size:16;    signed:0;
//!     ...
//!
//! print fmt: "prev_comm=%s ...", REC->prev_comm, ...
//! ```
//!
//! The `field:` line parser is shared with `header_page`, which uses the same
//! syntax (with a space after `field:`).

use super::ctype;
use super::error::{quote, FormatError};
use super::types::{Field, Schema};

/// The kernel's `long` size assumed when a format has no `long` or pointer
/// field to tell (only matters for `unsigned long x[]`-style elements).
const DEFAULT_LONG_SIZE: usize = 8;

/// One `field:` line before its type is interpreted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawField<'a> {
    /// 1-based line number.
    pub line: usize,
    /// The whole line, for error messages.
    pub text: &'a str,
    /// Type as written minus the name.
    pub type_name: String,
    /// Field name.
    pub name: &'a str,
    pub offset: usize,
    pub size: usize,
    /// `signed:` if present (absent before ~2.6.31).
    pub signed: Option<bool>,
}

/// Parses one `field:DECL; offset:N; size:N; [signed:N;]` line. Returns
/// `Ok(None)` when the line is not a `field:` line at all.
pub(crate) fn parse_field_line(line: usize, text: &str) -> Result<Option<RawField<'_>>, FormatError> {
    let Some(rest) = text.trim().strip_prefix("field:") else {
        return Ok(None);
    };
    let err_text = || quote(text.trim());
    let mut parts = rest.split(';');
    let decl = parts.next().unwrap_or("");
    let (type_name, name) = ctype::split_decl(decl).ok_or_else(|| FormatError::FieldNoName {
        line,
        text: err_text(),
    })?;

    let (mut offset, mut size, mut signed) = (None, None, None);
    for part in parts.map(str::trim).filter(|p| !p.is_empty()) {
        let Some((key, value)) = part.split_once(':') else {
            return Err(FormatError::UnexpectedLine {
                line,
                text: err_text(),
            });
        };
        let number = |key: &'static str| {
            value
                .trim()
                .parse::<usize>()
                .map_err(|_| FormatError::FieldBadNumber {
                    key,
                    line,
                    text: err_text(),
                })
        };
        match key.trim() {
            "offset" => offset = Some(number("offset")?),
            "size" => size = Some(number("size")?),
            "signed" => signed = Some(number("signed")? != 0),
            // Unknown attributes from future kernels are skipped.
            _ => {}
        }
    }
    let offset = offset.ok_or_else(|| FormatError::FieldNoOffset {
        line,
        text: err_text(),
    })?;
    let size = size.ok_or_else(|| FormatError::FieldNoSize {
        line,
        text: err_text(),
    })?;
    if offset.checked_add(size).is_none() {
        return Err(FormatError::FieldOverflow {
            line,
            text: err_text(),
        });
    }
    Ok(Some(RawField {
        line,
        text,
        type_name,
        name,
        offset,
        size,
        signed,
    }))
}

/// Parses a whole format file; see [`Schema::parse`].
pub(crate) fn parse_format(system: &str, text: &str) -> Result<Schema, FormatError> {
    let mut name = None;
    let mut id = None;
    let mut raw = Vec::new();
    let mut print_fmt = String::new();

    let mut line_start = 0usize;
    for (i, line) in text.split('\n').enumerate() {
        let no = i + 1;
        let this_start = line_start;
        line_start += line.len() + 1;
        let t = line.trim();
        if t.is_empty() || t == "format:" {
            continue;
        }
        if let Some(v) = t.strip_prefix("name:") {
            name.get_or_insert_with(|| v.trim().to_owned());
        } else if let Some(v) = t.strip_prefix("ID:") {
            let v = v.trim().parse::<u16>();
            id = Some(v.map_err(|_| FormatError::BadId {
                line: no,
                text: quote(t),
            })?);
        } else if t.starts_with("print fmt:") {
            // The rest of the file, newlines included: keep it raw.
            let lead = line.len() - line.trim_start().len();
            let from = this_start + lead + "print fmt:".len();
            let rest = text.get(from..).unwrap_or("");
            let rest = rest.strip_prefix(' ').unwrap_or(rest);
            print_fmt = rest
                .trim_end_matches(|c: char| c.is_whitespace() || c == '\0')
                .to_owned();
            break;
        } else if let Some(f) = parse_field_line(no, line)? {
            raw.push(f);
        } else if t.bytes().all(|b| b == 0) {
            // NUL padding after a format blob cut from a trace.dat.
            continue;
        } else {
            return Err(FormatError::UnexpectedLine {
                line: no,
                text: quote(t),
            });
        }
    }
    let name = name.filter(|n| !n.is_empty()).ok_or(FormatError::NoName)?;
    let id = id.ok_or(FormatError::NoId)?;

    let long_size = raw
        .iter()
        .find_map(|f| ctype::long_size_hint(&f.type_name, f.size))
        .unwrap_or(DEFAULT_LONG_SIZE);

    let mut fields = Vec::with_capacity(raw.len());
    for f in raw {
        let kind =
            ctype::classify(&f.type_name, f.size, long_size).map_err(|_| FormatError::DynamicFieldSize {
                line: f.line,
                text: quote(f.text.trim()),
            })?;
        fields.push(Field {
            // 2.6/3.x kernels had common_lock_depth / common_padding, RT
            // kernels common_migrate_disable: any `common_` prefix is common.
            is_common: f.name.starts_with("common_"),
            signed: f.signed.unwrap_or_else(|| ctype::infer_signed(&f.type_name)),
            name: f.name.to_owned(),
            type_name: f.type_name,
            offset: f.offset,
            size: f.size,
            kind,
        });
    }
    // Common fields first; a stable sort keeps file order within each group.
    fields.sort_by_key(|f| !f.is_common);

    Ok(Schema {
        system: system.to_owned(),
        name,
        id,
        fields,
        print_fmt,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testdata::*;
    use super::super::types::FieldKind;
    use super::*;

    fn names_offsets(s: &Schema) -> Vec<(&str, usize, usize)> {
        s.event_fields()
            .map(|f| (f.name.as_str(), f.offset, f.size))
            .collect()
    }

    #[test]
    fn sched_switch_6_18() {
        let s = Schema::parse("sched", SCHED_SWITCH_6_18).unwrap();
        assert_eq!((s.name.as_str(), s.id), ("sched_switch", 372));
        assert_eq!(s.fields.len(), 11);
        assert!(s.fields[..4].iter().all(|f| f.is_common));
        assert_eq!(
            names_offsets(&s),
            [
                ("prev_comm", 8, 16),
                ("prev_pid", 24, 4),
                ("prev_prio", 28, 4),
                ("prev_state", 32, 8),
                ("next_comm", 40, 16),
                ("next_pid", 56, 4),
                ("next_prio", 60, 4),
            ]
        );
        let comm = s.field_def("prev_comm").unwrap();
        assert_eq!(comm.type_name, "char[16]");
        assert_eq!(comm.kind, FieldKind::CharArray { len: 16 });
        let state = s.field_def("prev_state").unwrap();
        assert_eq!(
            (state.type_name.as_str(), state.kind, state.signed),
            ("long", FieldKind::Int, true)
        );
        assert_eq!(s.field_def("prev_pid").unwrap().type_name, "pid_t");
        assert!(s.print_fmt.starts_with("\"prev_comm=%s prev_pid=%d"));
        assert!(s.print_fmt.ends_with("REC->next_pid, REC->next_prio"));
    }

    #[test]
    fn block_rq_complete_error_vs_rhel7_errors() {
        let new = Schema::parse("block", BLOCK_RQ_COMPLETE_6_18).unwrap();
        assert!(new.field("errors").is_none());
        assert_eq!(new.field_def("error").unwrap().offset, 28);
        assert_eq!(
            new.field_def("rwbs").unwrap().kind,
            FieldKind::CharArray { len: 10 }
        );

        let old = Schema::parse("block", BLOCK_RQ_COMPLETE_RHEL7).unwrap();
        assert!(old.field("error").is_none());
        assert_eq!(
            names_offsets(&old),
            [
                ("dev", 8, 4),
                ("sector", 16, 8),
                ("nr_sector", 24, 4),
                ("errors", 28, 4),
                ("rwbs", 32, 8),
                ("cmd", 40, 4),
            ]
        );
        let errors = old.field_def("errors").unwrap();
        assert_eq!((errors.kind, errors.signed), (FieldKind::Int, true));
        let cmd = old.field_def("cmd").unwrap();
        assert_eq!(cmd.type_name, "__data_loc char[]");
        assert_eq!(
            cmd.kind,
            FieldKind::DynamicArray {
                elem_size: 1,
                is_char: true,
                relative: false
            }
        );
    }

    #[test]
    fn format_without_signed_infers_it() {
        let s = Schema::parse("old", NO_SIGNED).unwrap();
        assert_eq!(s.common_fields().count(), 5, "common_lock_depth is common");
        let signed: Vec<_> = s.fields.iter().map(|f| (f.name.as_str(), f.signed)).collect();
        assert_eq!(
            signed,
            [
                ("common_type", false),
                ("common_flags", false),
                ("common_preempt_count", false),
                ("common_pid", true),
                ("common_lock_depth", true),
                ("delta", true),
                ("small", true),
                ("usmall", false),
                ("comm", false),
                ("fmt", false),
                ("big", false),
            ]
        );
    }

    #[test]
    fn rel_loc_field() {
        let s = Schema::parse("user_events", REL_LOC).unwrap();
        let f = s.field_def("msg").unwrap();
        assert_eq!(f.type_name, "__rel_loc char[]");
        assert_eq!(
            f.kind,
            FieldKind::DynamicArray {
                elem_size: 1,
                is_char: true,
                relative: true
            }
        );
    }

    #[test]
    fn flexible_arrays_and_long_size_from_siblings() {
        // 6.x ftrace/function on a 32-bit kernel: `args[]` elements take the
        // 4-byte long seen in `ip`.
        let text = "name: function\nID: 1\nformat:\n\
            \tfield:unsigned long ip;\toffset:8;\tsize:4;\tsigned:0;\n\
            \tfield:unsigned long args[];\toffset:12;\tsize:0;\tsigned:0;\n\
            \tfield:char buf;\toffset:12;\tsize:0;\tsigned:0;\n\nprint fmt: \"\"\n";
        let s = Schema::parse("ftrace", text).unwrap();
        assert_eq!(
            s.field_def("args").unwrap().kind,
            FieldKind::Array { elem_size: 4, len: 0 }
        );
        assert_eq!(s.field_def("buf").unwrap().kind, FieldKind::CharArray { len: 0 });
        assert_eq!(s.print_fmt, "\"\"");
    }

    #[test]
    fn common_fields_come_first_even_if_written_later() {
        let text = "name: x\nID: 2\n\tfield:int a;\toffset:8;\tsize:4;\tsigned:1;\n\
                    \tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n";
        let s = Schema::parse("s", text).unwrap();
        let names: Vec<_> = s.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["common_pid", "a"]);
        assert_eq!(s.print_fmt, "");
    }

    #[test]
    fn print_fmt_keeps_following_lines_and_crlf_is_accepted() {
        let text = "name: x\r\nID: 2\r\nformat:\r\n\tfield:int a;\toffset:8;\tsize:4;\tsigned:1;\r\n\r\nprint fmt: \"a=%d\\n\"\n \"more\", REC->a\n\0\0";
        let s = Schema::parse("s", text).unwrap();
        assert_eq!(s.print_fmt, "\"a=%d\\n\"\n \"more\", REC->a");
    }

    #[test]
    fn errors_name_the_line() {
        let e = |t: &str| Schema::parse("s", t).unwrap_err();
        assert_eq!(e("ID: 1\n"), FormatError::NoName);
        assert_eq!(e("name: x\n"), FormatError::NoId);
        assert!(matches!(
            e("name: x\nID: 70000\n"),
            FormatError::BadId { line: 2, .. }
        ));
        assert!(matches!(
            e("name: x\nID: 1\nhello\n"),
            FormatError::UnexpectedLine { line: 3, .. }
        ));
        let no_offset = e("name: x\nID: 1\nformat:\n\tfield:int a;\tsize:4;\n");
        assert_eq!(
            no_offset.to_string(),
            "line 4: field has no offset: \"field:int a;\\tsize:4;\""
        );
        assert!(matches!(
            e("name: x\nID: 1\n\tfield:int a;\toffset:8;\n"),
            FormatError::FieldNoSize { line: 3, .. }
        ));
        assert!(matches!(
            e("name: x\nID: 1\n\tfield:int a;\toffset:x;\tsize:4;\n"),
            FormatError::FieldBadNumber {
                key: "offset",
                line: 3,
                ..
            }
        ));
        assert!(matches!(
            e("name: x\nID: 1\n\tfield:int;\toffset:0;\tsize:4;\n"),
            FormatError::FieldNoName { line: 3, .. }
        ));
        let huge = format!(
            "name: x\nID: 1\n\tfield:int a;\toffset:{};\tsize:2;\n",
            usize::MAX
        );
        assert!(matches!(e(&huge), FormatError::FieldOverflow { line: 3, .. }));
        assert!(matches!(
            e("name: x\nID: 1\n\tfield:__data_loc char[] s;\toffset:8;\tsize:8;\n"),
            FormatError::DynamicFieldSize { line: 3, .. }
        ));
    }

    #[test]
    fn field_line_parser_accepts_header_page_spacing() {
        let f = parse_field_line(1, "\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;")
            .unwrap()
            .unwrap();
        assert_eq!(
            (f.name, f.type_name.as_str(), f.offset, f.size, f.signed),
            ("commit", "local_t", 8, 8, Some(true))
        );
        assert_eq!(parse_field_line(1, "print fmt: x").unwrap(), None);
    }
}
