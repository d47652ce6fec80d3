//! [`FieldRef`]: reading one field out of a record's bytes.
//!
//! These reads run for every event (tens of millions per second), so a
//! `FieldRef` is a small `Copy` value resolved once from a [`Schema`]
//! (`Schema::field`), and its accessors neither allocate nor look up names;
//! only [`FieldRef::value`] allocates, for arrays and lossy strings.
//!
//! [`Schema`]: super::Schema

use std::borrow::Cow;

use super::types::{Field, FieldKind};
use super::value::Value;
use crate::Endian;

/// A resolved field: where it sits in a record and how to read it.
///
/// `data` passed to the accessors is the event payload starting at
/// `common_type` (what follows the ring-buffer event header). Every read is
/// bounds-checked; out-of-range data gives `None` / [`Value::Missing`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FieldRef {
    offset: usize,
    size: usize,
    kind: FieldKind,
    signed: bool,
}

impl From<&Field> for FieldRef {
    fn from(f: &Field) -> FieldRef {
        FieldRef::new(f.offset, f.size, f.kind, f.signed)
    }
}

impl FieldRef {
    /// A field at `offset` of `size` bytes; normally obtained from
    /// [`Schema::field`](super::Schema::field) instead.
    pub const fn new(offset: usize, size: usize, kind: FieldKind, signed: bool) -> FieldRef {
        FieldRef {
            offset,
            size,
            kind,
            signed,
        }
    }

    /// Byte offset in the record.
    pub const fn offset(&self) -> usize {
        self.offset
    }

    /// Size in bytes as written in the format (4 for dynamic arrays).
    pub const fn size(&self) -> usize {
        self.size
    }

    /// How the bytes are interpreted.
    pub const fn kind(&self) -> FieldKind {
        self.kind
    }

    /// Whether the format declares the field signed.
    pub const fn is_signed(&self) -> bool {
        self.signed
    }

    /// An integer or pointer field, zero-extended. `None` for other kinds or
    /// when the record is too short.
    #[inline]
    pub fn u64(&self, data: &[u8], e: Endian) -> Option<u64> {
        match self.kind {
            FieldKind::Int | FieldKind::Pointer => e.uint(data, self.offset, self.size),
            _ => None,
        }
    }

    /// An integer or pointer field, sign-extended when the field is signed,
    /// else zero-extended (so an unsigned 64-bit value above `i64::MAX`
    /// comes back negative: same bits). `None` as for [`FieldRef::u64`].
    #[inline]
    pub fn i64(&self, data: &[u8], e: Endian) -> Option<i64> {
        match self.kind {
            FieldKind::Int if self.signed => e.int(data, self.offset, self.size),
            FieldKind::Int | FieldKind::Pointer => e.uint(data, self.offset, self.size).map(|v| v as i64),
            _ => None,
        }
    }

    /// The field's bytes.
    ///
    /// Fixed fields give their `size` bytes (flexible arrays, size 0, give
    /// everything to the end of the record). Dynamic arrays are followed:
    /// the 4-byte field holds `offset | len << 16` (libtraceevent
    /// `dynamic_offset`, `TEP_OFFSET_LEN_MASK`/`TEP_LEN_SHIFT`), and for
    /// `__rel_loc` the offset counts from the end of the field
    /// (`TEP_FIELD_IS_RELATIVE` in `dynamic_offset_field`). `None` when any
    /// of it lies outside `data`.
    #[inline]
    pub fn bytes<'a>(&self, data: &'a [u8], e: Endian) -> Option<&'a [u8]> {
        match self.kind {
            FieldKind::DynamicArray { relative, .. } => {
                let word = e.u32(data, self.offset)?;
                let mut start = (word & 0xffff) as usize;
                let len = (word >> 16) as usize;
                if relative {
                    start = start.checked_add(self.offset)?.checked_add(self.size)?;
                }
                data.get(start..start.checked_add(len)?)
            }
            _ if self.size == 0 => data.get(self.offset..),
            _ => data.get(self.offset..self.offset.checked_add(self.size)?),
        }
    }

    /// [`FieldRef::bytes`] up to the first NUL, as UTF-8 (invalid sequences
    /// replaced, which is the only case that allocates). Meant for
    /// `char[N]` and `__data_loc char[]` fields.
    #[inline]
    pub fn str<'a>(&self, data: &'a [u8], e: Endian) -> Option<Cow<'a, str>> {
        let b = self.bytes(data, e)?;
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        Some(String::from_utf8_lossy(&b[..end]))
    }

    /// The field decoded for display:
    /// - integers: [`Value::Signed`] / [`Value::Unsigned`] by signedness;
    /// - pointers: [`Value::Pointer`];
    /// - `char` arrays and `__data_loc char[]`: [`Value::Str`];
    /// - arrays of 2/4/8-byte elements, static or dynamic: [`Value::Array`];
    /// - byte buffers (`__data_loc u8[]`, unknown element types) and
    ///   [`FieldKind::Other`]: [`Value::Bytes`];
    /// - [`Value::Missing`] when out of bounds.
    pub fn value<'a>(&self, data: &'a [u8], e: Endian) -> Value<'a> {
        let v = match self.kind {
            FieldKind::Int if self.signed => self.i64(data, e).map(Value::Signed),
            FieldKind::Int => self.u64(data, e).map(Value::Unsigned),
            FieldKind::Pointer => self.u64(data, e).map(Value::Pointer),
            FieldKind::CharArray { .. } | FieldKind::DynamicArray { is_char: true, .. } => {
                self.str(data, e).map(Value::Str)
            }
            FieldKind::Array { elem_size, .. } | FieldKind::DynamicArray { elem_size, .. } => {
                self.bytes(data, e).map(|b| array_value(b, elem_size, e))
            }
            FieldKind::Other => self.bytes(data, e).map(Value::Bytes),
        };
        v.unwrap_or(Value::Missing)
    }
}

/// Elements of 2, 4 or 8 bytes as numbers; anything else as raw bytes (how
/// the kernel prints byte buffers: `__print_hex`).
fn array_value(b: &[u8], elem_size: usize, e: Endian) -> Value<'_> {
    if !matches!(elem_size, 2 | 4 | 8) {
        return Value::Bytes(b);
    }
    Value::Array(
        b.chunks_exact(elem_size)
            .filter_map(|c| e.uint(c, 0, elem_size))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::super::testdata::*;
    use super::super::types::Schema;
    use super::*;

    /// Builds the record in `e` order. Dynamic data starts at 80.
    fn record(e: Endian) -> Vec<u8> {
        let mut r = vec![0u8; 80];
        let put = |r: &mut Vec<u8>, off: usize, v: u64, size: usize| {
            let b = match e {
                Endian::Little => v.to_le_bytes()[..size].to_vec(),
                Endian::Big => v.to_be_bytes()[8 - size..].to_vec(),
            };
            r[off..off + size].copy_from_slice(&b);
        };
        put(&mut r, 0, 900, 2);
        put(&mut r, 4, 4242, 4);
        put(&mut r, 8, (-5i8) as u8 as u64, 1);
        put(&mut r, 10, (-300i16) as u16 as u64, 2);
        put(&mut r, 12, (-70000i32) as u32 as u64, 4);
        put(&mut r, 16, (-5_000_000_000i64) as u64, 8);
        put(&mut r, 24, u64::MAX, 8);
        put(&mut r, 32, 0xffff_8000_dead_beef, 8);
        r[40..46].copy_from_slice(b"kwork\0");
        for (i, v) in [1u64, 2, 0xdead_beef].iter().enumerate() {
            put(&mut r, 48 + 4 * i, *v, 4);
        }
        // name: "bash\0" at 80 (len 5).
        put(&mut r, 60, (5 << 16) | 80, 4);
        // rel: "hi\0" at 85, relative to the field's end (68): 17.
        put(&mut r, 64, (3 << 16) | 17, 4);
        // ids: two u16 at 88.
        put(&mut r, 68, (4 << 16) | 88, 4);
        // buf: three bytes at 92.
        put(&mut r, 72, (3 << 16) | 92, 4);
        r[76..80].copy_from_slice(&[1, 2, 3, 4]);
        r.extend_from_slice(b"bash\0hi\0");
        r.extend_from_slice(&[0; 4]);
        put(&mut r, 88, 7, 2);
        put(&mut r, 90, 0x1234, 2);
        r.extend_from_slice(&[0xde, 0xad, 0x01]);
        r
    }

    #[test]
    fn decodes_every_kind_in_both_byte_orders() {
        let s = Schema::parse("test", ALL_KINDS).unwrap();
        let f = |n: &str| s.field(n).unwrap_or_else(|| panic!("{n}"));
        for e in [Endian::Little, Endian::Big] {
            let r = record(e);
            assert_eq!(f("common_type").u64(&r, e), Some(900), "{e:?}");
            assert_eq!(s.common_pid().unwrap().i64(&r, e), Some(4242));
            assert_eq!(f("i8").i64(&r, e), Some(-5));
            assert_eq!(f("i8").u64(&r, e), Some(0xfb));
            assert_eq!(f("i16").i64(&r, e), Some(-300));
            assert_eq!(f("i32").i64(&r, e), Some(-70000));
            assert_eq!(f("i64").i64(&r, e), Some(-5_000_000_000));
            assert_eq!(f("u64").u64(&r, e), Some(u64::MAX));
            assert_eq!(f("u64").i64(&r, e), Some(-1), "unsigned: same bits");
            assert_eq!(f("ptr").u64(&r, e), Some(0xffff_8000_dead_beef));
            assert_eq!(f("comm").str(&r, e).unwrap(), "kwork");
            assert_eq!(f("comm").bytes(&r, e).unwrap().len(), 8);
            assert_eq!(f("comm").u64(&r, e), None, "not a scalar");
            assert_eq!(f("name").str(&r, e).unwrap(), "bash");
            assert_eq!(f("name").bytes(&r, e).unwrap(), b"bash\0");
            assert_eq!(f("rel").str(&r, e).unwrap(), "hi");

            assert_eq!(f("i8").value(&r, e), Value::Signed(-5));
            assert_eq!(f("i64").value(&r, e), Value::Signed(-5_000_000_000));
            assert_eq!(f("u64").value(&r, e), Value::Unsigned(u64::MAX));
            assert_eq!(f("ptr").value(&r, e), Value::Pointer(0xffff_8000_dead_beef));
            assert_eq!(f("comm").value(&r, e), Value::Str("kwork".into()));
            assert_eq!(f("arr").value(&r, e), Value::Array(vec![1, 2, 0xdead_beef]));
            assert_eq!(f("name").value(&r, e), Value::Str("bash".into()));
            assert_eq!(f("rel").value(&r, e), Value::Str("hi".into()));
            assert_eq!(f("ids").value(&r, e), Value::Array(vec![7, 0x1234]));
            assert_eq!(f("buf").value(&r, e), Value::Bytes(&[0xde, 0xad, 0x01]));
            assert_eq!(f("other").value(&r, e), Value::Bytes(&[1, 2, 3, 4]));
            assert_eq!(f("arr").value(&r, e).to_string(), "{0x1,0x2,0xdeadbeef}");
        }
    }

    #[test]
    fn out_of_bounds_is_missing_not_a_panic() {
        let s = Schema::parse("test", ALL_KINDS).unwrap();
        let e = Endian::Little;
        let full = record(e);
        for f in &s.fields {
            let r = f.to_ref();
            assert_eq!(r.value(&[], e), Value::Missing, "{}", f.name);
            assert_eq!(r.bytes(&full[..f.offset], e), None, "{}", f.name);
        }
        // A dynamic descriptor pointing past the end.
        let mut bad = full.clone();
        bad[60..64].copy_from_slice(&((200u32 << 16) | 80).to_le_bytes());
        assert_eq!(s.field("name").unwrap().value(&bad, e), Value::Missing);
        // Relative offset that overflows usize math on 32-bit is checked too.
        let huge = FieldRef::new(
            usize::MAX - 2,
            4,
            FieldKind::DynamicArray {
                elem_size: 1,
                is_char: true,
                relative: true,
            },
            false,
        );
        assert_eq!(huge.bytes(&full, e), None);
    }

    #[test]
    fn flexible_array_runs_to_record_end() {
        let print = FieldRef::new(16, 0, FieldKind::CharArray { len: 0 }, false);
        let mut r = vec![0u8; 16];
        r.extend_from_slice(b"hello\n\0junk");
        assert_eq!(print.str(&r, Endian::Little).unwrap(), "hello\n");
        let args = FieldRef::new(8, 0, FieldKind::Array { elem_size: 4, len: 0 }, false);
        let r = [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 9];
        assert_eq!(args.value(&r, Endian::Little), Value::Array(vec![1, 2]));
    }

    #[test]
    fn lossy_utf8() {
        let f = FieldRef::new(0, 4, FieldKind::CharArray { len: 4 }, false);
        assert_eq!(f.str(&[b'a', 0xff, b'b', 0], Endian::Big).unwrap(), "a\u{fffd}b");
    }
}
