//! `events/header_page` and `events/header_event`: the layout of ring-buffer
//! sub-buffers and of the event header word, as printed by
//! `ring_buffer_print_page_header` and `ring_buffer_print_entry_header` in
//! the kernel's kernel/trace/ring_buffer.c.

use super::error::{quote, FormatError};
use super::parser::{parse_field_line, RawField};
use crate::ring::PageLayout;
use crate::Endian;

/// Parses the text of `events/header_page` into a [`PageLayout`].
///
/// ```text
///     field: u64 timestamp;    offset:0;    size:8;    signed:0;
///     field: local_t commit;    offset:8;    size:8;    signed:1;
///     field: int overwrite;    offset:8;    size:1;    signed:1;
///     field: char data;    offset:16;    size:4080;    signed:0;
/// ```
///
/// `endian` is not in the text: it is the host's for live data or the
/// trace.dat header's for recordings. `commit` is a `local_t`, i.e. the
/// kernel's `long`, so its size (4 or 8) tells a 32-bit kernel apart; the
/// page size is `data`'s offset plus its size (larger than PAGE_SIZE when
/// 6.8+ `buffer_subbuf_size_kb` is raised). `overwrite` overlays `commit`
/// and is ignored, as are unknown fields.
///
/// Fails when `timestamp`, `commit` or `data` is missing, `timestamp` is not
/// 8 bytes, `commit` not 4 or 8, `data` empty or overlapping `commit`, or a
/// line is not a well-formed `field:` line.
pub fn parse_header_page(text: &str, endian: Endian) -> Result<PageLayout, FormatError> {
    let (mut timestamp, mut commit, mut data) = (None, None, None);
    for (i, line) in text.split('\n').enumerate() {
        let t = line.trim();
        if t.is_empty() || t.bytes().all(|b| b == 0) {
            continue;
        }
        let Some(f) = parse_field_line(i + 1, line)? else {
            return Err(FormatError::UnexpectedLine {
                line: i + 1,
                text: quote(t),
            });
        };
        match f.name {
            "timestamp" => timestamp = Some(f),
            "commit" => commit = Some(f),
            "data" => data = Some(f),
            _ => {}
        }
    }
    let need = |f: Option<RawField<'_>>, field| {
        f.map(|f| (f.offset, f.size))
            .ok_or(FormatError::HeaderPageMissingField { field })
    };
    let (ts_off, ts_size) = need(timestamp, "timestamp")?;
    let (commit_off, commit_size) = need(commit, "commit")?;
    let (data_off, data_size) = need(data, "data")?;
    let bad = |field, offset, size| FormatError::HeaderPageBadField { field, offset, size };

    if ts_size != 8 {
        return Err(bad("timestamp", ts_off, ts_size));
    }
    if !matches!(commit_size, 4 | 8) {
        return Err(bad("commit", commit_off, commit_size));
    }
    // Both sums were checked for overflow by the field parser.
    if data_size == 0 || data_off < commit_off + commit_size || data_off < ts_off + ts_size {
        return Err(bad("data", data_off, data_size));
    }
    Ok(PageLayout {
        endian,
        timestamp_offset: ts_off,
        commit_offset: commit_off,
        commit_size,
        data_offset: data_off,
        page_size: data_off + data_size,
    })
}

/// The event header layout from `events/header_event`.
///
/// Every kernel so far prints a 5-bit `type_len` and 27-bit `time_delta`
/// with padding/time_extend/time_stamp types 29/30/31 and data records up to
/// type_len 28; this lets a decoder check that instead of assuming it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HeaderEvent {
    /// Bits of `type_len` (5).
    pub type_len_bits: u32,
    /// Bits of `time_delta` (27).
    pub time_delta_bits: u32,
    /// `type_len` of padding events (29).
    pub padding: u32,
    /// `type_len` of time-extend events (30).
    pub time_extend: u32,
    /// `type_len` of absolute time-stamp events (31); `None` on kernels
    /// before ~4.17, which did not print it (the type was unimplemented).
    pub time_stamp: Option<u32>,
    /// Largest `type_len` of a data record (28).
    pub data_max_type_len: u32,
}

/// Parses the text of `events/header_event`:
///
/// ```text
/// # compressed entry header
///     type_len    :    5 bits
///     time_delta  :   27 bits
///     array       :   32 bits
///
///     padding     : type == 29
///     time_extend : type == 30
///     time_stamp : type == 31
///     data max type_len  == 28
/// ```
///
/// Fails when a required entry is missing (all but `time_stamp`), a line
/// has another shape, or `type_len` + `time_delta` is not 32 bits. Unknown
/// keys of the known shapes are ignored.
pub fn parse_header_event(text: &str) -> Result<HeaderEvent, FormatError> {
    let (mut type_len, mut time_delta, mut padding) = (None, None, None);
    let (mut time_extend, mut time_stamp, mut data_max) = (None, None, None);
    for (i, line) in text.split('\n').enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') || t.bytes().all(|b| b == 0) {
            continue;
        }
        let bad = || FormatError::HeaderEventBadLine {
            line: i + 1,
            text: quote(t),
        };
        let number = |s: &str| s.trim().parse::<u32>().map_err(|_| bad());
        if let Some(rest) = t.strip_prefix("data max type_len") {
            let v = rest.trim_start().strip_prefix("==").ok_or_else(bad)?;
            data_max = Some(number(v)?);
            continue;
        }
        let (key, value) = t.split_once(':').ok_or_else(bad)?;
        let value = value.trim();
        let v = if let Some(bits) = value.strip_suffix("bits") {
            number(bits)?
        } else if let Some(ty) = value.strip_prefix("type") {
            number(ty.trim_start().strip_prefix("==").ok_or_else(bad)?)?
        } else {
            return Err(bad());
        };
        match key.trim() {
            "type_len" => type_len = Some(v),
            "time_delta" => time_delta = Some(v),
            "padding" => padding = Some(v),
            "time_extend" => time_extend = Some(v),
            "time_stamp" => time_stamp = Some(v),
            // `array : 32 bits` and anything new.
            _ => {}
        }
    }
    let need = |v: Option<u32>, key| v.ok_or(FormatError::HeaderEventMissing { key });
    let h = HeaderEvent {
        type_len_bits: need(type_len, "type_len")?,
        time_delta_bits: need(time_delta, "time_delta")?,
        padding: need(padding, "padding")?,
        time_extend: need(time_extend, "time_extend")?,
        time_stamp,
        data_max_type_len: need(data_max, "data max type_len")?,
    };
    if h.type_len_bits.checked_add(h.time_delta_bits) != Some(32) {
        return Err(FormatError::HeaderEventBadBits {
            type_len: h.type_len_bits,
            time_delta: h.time_delta_bits,
        });
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::super::testdata::*;
    use super::*;

    #[test]
    fn header_page_64_and_32_bit() {
        let l = parse_header_page(PAGE_64, Endian::Little).unwrap();
        assert_eq!(l, PageLayout::default_64(Endian::Little));
        let l = parse_header_page(PAGE_32, Endian::Big).unwrap();
        assert_eq!(l, PageLayout::default_32(Endian::Big));
        assert_eq!(l.kernel_long_size(), 4);
        // 6.8+ with buffer_subbuf_size_kb=8.
        let big = PAGE_64.replace("size:4080", "size:8176");
        assert_eq!(parse_header_page(&big, Endian::Little).unwrap().page_size, 8192);
    }

    #[test]
    fn header_page_errors() {
        let e = |t: &str| parse_header_page(t, Endian::Little).unwrap_err();
        let no_commit: String = PAGE_64
            .lines()
            .filter(|l| !l.contains("commit"))
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(
            e(&no_commit),
            FormatError::HeaderPageMissingField { field: "commit" }
        );
        assert_eq!(e(""), FormatError::HeaderPageMissingField { field: "timestamp" });
        assert!(matches!(
            e(&PAGE_64.replace("commit;\toffset:8;\tsize:8", "commit;\toffset:8;\tsize:2")),
            FormatError::HeaderPageBadField {
                field: "commit",
                size: 2,
                ..
            }
        ));
        assert!(matches!(
            e(&PAGE_64.replace("size:4080", "size:0")),
            FormatError::HeaderPageBadField { field: "data", .. }
        ));
        assert!(matches!(
            e(&PAGE_64.replace("offset:16", "offset:12")),
            FormatError::HeaderPageBadField {
                field: "data",
                offset: 12,
                ..
            }
        ));
        assert!(matches!(
            e(&format!("{PAGE_64}garbage\n")),
            FormatError::UnexpectedLine { line: 5, .. }
        ));
        assert!(matches!(
            e(&PAGE_64.replace("offset:16;", "")),
            FormatError::FieldNoOffset { line: 4, .. }
        ));
    }

    #[test]
    fn header_event_new_and_old() {
        let h = parse_header_event(EVENT_NEW).unwrap();
        assert_eq!(
            h,
            HeaderEvent {
                type_len_bits: 5,
                time_delta_bits: 27,
                padding: 29,
                time_extend: 30,
                time_stamp: Some(31),
                data_max_type_len: 28,
            }
        );
        let old: String = EVENT_NEW
            .lines()
            .filter(|l| !l.contains("time_stamp"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(parse_header_event(&old).unwrap().time_stamp, None);
    }

    #[test]
    fn header_event_errors() {
        let e = |t: &str| parse_header_event(t).unwrap_err();
        assert_eq!(e(""), FormatError::HeaderEventMissing { key: "type_len" });
        assert!(matches!(
            e(&EVENT_NEW.replace("type == 29", "type 29")),
            FormatError::HeaderEventBadLine { line: 6, .. }
        ));
        assert!(matches!(
            e(&EVENT_NEW.replace("27 bits", "26 bits")),
            FormatError::HeaderEventBadBits {
                type_len: 5,
                time_delta: 26
            }
        ));
        assert!(matches!(
            e("what is this"),
            FormatError::HeaderEventBadLine { line: 1, .. }
        ));
        assert_eq!(
            e(&EVENT_NEW.replace("\tdata max type_len  == 28\n", "")),
            FormatError::HeaderEventMissing {
                key: "data max type_len"
            }
        );
    }
}
