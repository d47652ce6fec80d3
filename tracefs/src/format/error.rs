//! Errors from parsing event `format`, `header_page` and `header_event` text.

/// Why a format, `header_page` or `header_event` text could not be parsed.
///
/// Each variant names the step that failed; line numbers are 1-based and the
/// offending text is quoted (cut to [`MAX_QUOTE`] characters) so a message
/// such as `line 7: field has no offset: "field:int x;"` is enough to find
/// the problem in the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The format text has no `name:` line.
    #[error("format has no `name:` line")]
    NoName,
    /// The format text has no `ID:` line.
    #[error("format has no `ID:` line")]
    NoId,
    /// The `ID:` value is not a number that fits the u16 `common_type`.
    #[error("line {line}: ID is not a number in 0..=65535: {text:?}")]
    BadId {
        /// 1-based line number.
        line: usize,
        /// The line as written.
        text: String,
    },
    /// A line that is neither a header, a field, a blank line nor `print fmt:`.
    #[error("line {line}: unexpected line: {text:?}")]
    UnexpectedLine {
        /// 1-based line number.
        line: usize,
        /// The line as written.
        text: String,
    },
    /// A `field:` line without `offset:N`.
    #[error("line {line}: field has no offset: {text:?}")]
    FieldNoOffset {
        /// 1-based line number.
        line: usize,
        /// The line as written.
        text: String,
    },
    /// A `field:` line without `size:N`.
    #[error("line {line}: field has no size: {text:?}")]
    FieldNoSize {
        /// 1-based line number.
        line: usize,
        /// The line as written.
        text: String,
    },
    /// `offset:`, `size:` or `signed:` holds something that is not a number.
    #[error("line {line}: {key} is not a number: {text:?}")]
    FieldBadNumber {
        /// Which attribute: "offset", "size" or "signed".
        key: &'static str,
        /// 1-based line number.
        line: usize,
        /// The line as written.
        text: String,
    },
    /// The declaration after `field:` has no type or no name.
    #[error("line {line}: field declaration has no type or name: {text:?}")]
    FieldNoName {
        /// 1-based line number.
        line: usize,
        /// The line as written.
        text: String,
    },
    /// `offset + size` does not fit in `usize`.
    #[error("line {line}: field offset + size overflows: {text:?}")]
    FieldOverflow {
        /// 1-based line number.
        line: usize,
        /// The line as written.
        text: String,
    },
    /// A `__data_loc` / `__rel_loc` field whose size is not the 4 bytes of
    /// its `offset | len << 16` word.
    #[error("line {line}: __data_loc/__rel_loc field is not 4 bytes: {text:?}")]
    DynamicFieldSize {
        /// 1-based line number.
        line: usize,
        /// The line as written.
        text: String,
    },
    /// `header_page` lacks one of `timestamp`, `commit` or `data`.
    #[error("header_page has no `{field}` field")]
    HeaderPageMissingField {
        /// The missing field's name.
        field: &'static str,
    },
    /// A `header_page` field has a size ftr cannot use (e.g. a `commit` that
    /// is neither 4 nor 8 bytes, or an empty `data`).
    #[error("header_page field `{field}` has unusable size {size} (offset {offset})")]
    HeaderPageBadField {
        /// The field's name.
        field: &'static str,
        /// Its offset as written.
        offset: usize,
        /// Its size as written.
        size: usize,
    },
    /// A `header_event` line that is not `key : N bits`, `key : type == N`,
    /// `data max type_len == N`, a comment or blank.
    #[error("line {line}: unexpected header_event line: {text:?}")]
    HeaderEventBadLine {
        /// 1-based line number.
        line: usize,
        /// The line as written.
        text: String,
    },
    /// `header_event` lacks a required entry.
    #[error("header_event has no `{key}` entry")]
    HeaderEventMissing {
        /// The missing key, e.g. "type_len".
        key: &'static str,
    },
    /// `type_len` and `time_delta` do not share one 32-bit word, so this is
    /// not the event header layout ftr decodes.
    #[error("header_event bit widths type_len {type_len} + time_delta {time_delta} != 32")]
    HeaderEventBadBits {
        /// Bits of `type_len`.
        type_len: u32,
        /// Bits of `time_delta`.
        time_delta: u32,
    },
}

/// Longest stretch of input quoted in an error message, in characters.
pub const MAX_QUOTE: usize = 160;

/// Copies `text` for an error message, cut to [`MAX_QUOTE`] characters so a
/// garbage multi-megabyte line does not end up in a log.
pub(crate) fn quote(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTE) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_step_line_and_text() {
        let e = FormatError::FieldNoOffset {
            line: 7,
            text: "field:int x;".into(),
        };
        assert_eq!(e.to_string(), r#"line 7: field has no offset: "field:int x;""#);
        let e = FormatError::HeaderPageMissingField { field: "commit" };
        assert_eq!(e.to_string(), "header_page has no `commit` field");
    }

    #[test]
    fn quote_cuts_long_text_on_a_char_boundary() {
        let long = "é".repeat(MAX_QUOTE + 10);
        let q = quote(&long);
        assert_eq!(q.chars().count(), MAX_QUOTE + 3);
        assert!(q.ends_with("..."));
        assert_eq!(quote("short"), "short");
    }
}
