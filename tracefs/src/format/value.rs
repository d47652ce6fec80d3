//! [`Value`]: a decoded field, printable the way the kernel's `trace` file
//! prints it.

use std::borrow::Cow;
use std::fmt;

/// One field of one record, decoded by
/// [`FieldRef::value`](super::FieldRef::value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    /// A signed integer, sign-extended.
    Signed(i64),
    /// An unsigned integer, zero-extended.
    Unsigned(u64),
    /// A pointer (printed as `0x...`).
    Pointer(u64),
    /// A string up to its first NUL, lossily UTF-8.
    Str(Cow<'a, str>),
    /// Array elements, zero-extended.
    Array(Vec<u64>),
    /// Raw bytes of a byte buffer or an uninterpretable field.
    Bytes(&'a [u8]),
    /// The record is too short for the field.
    Missing,
}

impl Value<'_> {
    /// The number for `Signed` (reinterpreted), `Unsigned` and `Pointer`.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::Signed(v) => Some(v as u64),
            Value::Unsigned(v) | Value::Pointer(v) => Some(v),
            _ => None,
        }
    }

    /// The text of a `Str`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for Value<'_> {
    /// Integers in decimal, pointers as `0x{:x}`, strings as is, arrays as
    /// `{0x1,0x2}` like the kernel's `__print_array` (`trace_print_array_seq`),
    /// bytes as space-separated hex pairs like `__print_hex`
    /// (`trace_print_hex_seq`), and `?` for missing data.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Signed(v) => write!(f, "{v}"),
            Value::Unsigned(v) => write!(f, "{v}"),
            Value::Pointer(v) => write!(f, "0x{v:x}"),
            Value::Str(s) => f.write_str(s),
            Value::Array(items) => {
                f.write_str("{")?;
                for (i, v) in items.iter().enumerate() {
                    let sep = if i == 0 { "" } else { "," };
                    write!(f, "{sep}0x{v:x}")?;
                }
                f.write_str("}")
            }
            Value::Bytes(b) => {
                for (i, v) in b.iter().enumerate() {
                    let sep = if i == 0 { "" } else { " " };
                    write!(f, "{sep}{v:02x}")?;
                }
                Ok(())
            }
            Value::Missing => f.write_str("?"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_like_the_kernel() {
        assert_eq!(Value::Signed(-3).to_string(), "-3");
        assert_eq!(Value::Unsigned(u64::MAX).to_string(), "18446744073709551615");
        assert_eq!(
            Value::Pointer(0xffff_ffff_8100_0000).to_string(),
            "0xffffffff81000000"
        );
        assert_eq!(Value::Str("bash".into()).to_string(), "bash");
        assert_eq!(Value::Array(vec![1, 0x2a]).to_string(), "{0x1,0x2a}");
        assert_eq!(Value::Array(vec![]).to_string(), "{}");
        assert_eq!(Value::Bytes(&[0, 0xab, 7]).to_string(), "00 ab 07");
        assert_eq!(Value::Missing.to_string(), "?");
    }

    #[test]
    fn accessors() {
        assert_eq!(Value::Signed(-1).as_u64(), Some(u64::MAX));
        assert_eq!(Value::Pointer(5).as_u64(), Some(5));
        assert_eq!(Value::Str("x".into()).as_u64(), None);
        assert_eq!(Value::Str("x".into()).as_str(), Some("x"));
        assert_eq!(Value::Missing.as_str(), None);
    }
}
