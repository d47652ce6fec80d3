//! The C declarations of `field:` lines: splitting `TYPE NAME[N]` into a type
//! and a name, and deciding how a field's bytes are read from its type and
//! size.
//!
//! The kernel prints the declaration exactly as written in the TRACE_EVENT
//! macro (`__field(type, name)`, `__array(type, name, len)`,
//! `__dynamic_array(...)`, see include/trace/trace_events.h), so array lengths
//! can be macros or expressions (`u8 name[TASK_COMM_LEN]`,
//! `u8 ht_capa[(int)sizeof(struct ieee80211_ht_cap)]`) and sizes of `long`
//! and pointers depend on the kernel. The `size:` attribute is the truth;
//! the type only tells how to split and interpret those bytes.

use super::types::FieldKind;

/// Width class of a C base type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Width {
    /// Same size on every kernel.
    Fixed(usize),
    /// The kernel's `long` (4 or 8): `long`, `size_t`, pointers.
    Long,
    /// A typedef or struct we do not know.
    Unknown,
}

/// Splits a declaration such as `char prev_comm[16]`, `const char * name`
/// or `__data_loc char[] cmd` into `(type_name, name)`, where `type_name`
/// is the type as written minus the name (`char[16]`, `const char *`,
/// `__data_loc char[]`). `None` when there is no name or no type.
pub(crate) fn split_decl(decl: &str) -> Option<(String, &str)> {
    let mut head = decl.trim();
    // Peel trailing `[...]` groups (one or more dimensions) off the name.
    let mut suffix_start = head.len();
    while head.ends_with(']') {
        let open = matching_open(head)?;
        suffix_start = open;
        head = head[..open].trim_end();
    }
    let suffix = decl.trim().get(suffix_start..).unwrap_or("");
    let name_start = head.bytes().rposition(|b| !is_ident(b)).map_or(0, |i| i + 1);
    let name = &head[name_start..];
    let ty = head[..name_start].trim();
    if name.is_empty() || ty.is_empty() {
        return None;
    }
    Some((format!("{ty}{suffix}"), name))
}

/// Byte index of the `[` matching the `]` that ends `s`.
fn matching_open(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, b) in s.bytes().enumerate().rev() {
        match b {
            b']' => depth += 1,
            b'[' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// `Some(relative)` when `type_name` is a `__data_loc` (false) or
/// `__rel_loc` (true) dynamic array, with the element type after it.
fn dynamic(type_name: &str) -> Option<(bool, &str)> {
    let t = type_name.trim_start();
    let (relative, rest) = if let Some(r) = t.strip_prefix("__data_loc") {
        (false, r)
    } else {
        (true, t.strip_prefix("__rel_loc")?)
    };
    // Must be the whole word, not e.g. `__data_location_t`.
    if rest.bytes().next().is_some_and(is_ident) {
        return None;
    }
    Some((relative, rest))
}

/// Splits `elem[inner]...` at the first `[` into `(elem, inner)`.
fn array(type_name: &str) -> Option<(&str, &str)> {
    let open = type_name.find('[')?;
    let elem = &type_name[..open];
    let rest = &type_name[open + 1..];
    let inner = rest.find(']').map_or(rest, |close| &rest[..close]);
    Some((elem, inner))
}

/// The type with `const`/`volatile` dropped and spaces normalised, so that
/// `const unsigned  long` compares equal to `unsigned long`.
fn base(ty: &str) -> String {
    let mut out = String::with_capacity(ty.len());
    for word in ty
        .split_whitespace()
        .filter(|w| *w != "const" && *w != "volatile")
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

fn width(base: &str) -> Width {
    match base {
        "char" | "signed char" | "unsigned char" | "u8" | "__u8" | "s8" | "__s8" | "bool" | "_Bool"
        | "int8_t" | "uint8_t" => Width::Fixed(1),
        "short" | "short int" | "signed short" | "unsigned short" | "short unsigned int"
        | "unsigned short int" | "u16" | "__u16" | "s16" | "__s16" | "__le16" | "__be16" | "int16_t"
        | "uint16_t" => Width::Fixed(2),
        "int" | "signed" | "signed int" | "unsigned" | "unsigned int" | "u32" | "__u32" | "s32" | "__s32"
        | "__le32" | "__be32" | "int32_t" | "uint32_t" | "pid_t" | "uid_t" | "gid_t" | "dev_t" => {
            Width::Fixed(4)
        }
        "long long"
        | "long long int"
        | "signed long long"
        | "unsigned long long"
        | "long long unsigned int"
        | "u64"
        | "__u64"
        | "s64"
        | "__s64"
        | "__le64"
        | "__be64"
        | "int64_t"
        | "uint64_t" => Width::Fixed(8),
        "long" | "long int" | "signed long" | "unsigned long" | "long unsigned int" | "unsigned long int"
        | "size_t" | "ssize_t" => Width::Long,
        _ if base.contains('*') => Width::Long,
        _ => Width::Unknown,
    }
}

/// Byte-sized element types whose arrays the kernel prints with `%s`.
fn is_char_like(base: &str) -> bool {
    matches!(
        base,
        "char" | "signed char" | "unsigned char" | "u8" | "__u8" | "int8_t" | "uint8_t"
    )
}

/// The size of the kernel's `long` this field reveals, if it is a plain
/// `long`/`size_t`/pointer scalar. Used to size `unsigned long args[]` and
/// `__data_loc unsigned long[]` elements, whose own size is not written.
pub(crate) fn long_size_hint(type_name: &str, size: usize) -> Option<usize> {
    if type_name.contains('[') || dynamic(type_name).is_some() {
        return None;
    }
    (width(&base(type_name)) == Width::Long && matches!(size, 4 | 8)).then_some(size)
}

/// Signedness from the type alone, for format files written before the
/// kernel added `signed:` (~2.6.31). Mirrors what the kernel later prints
/// via `is_signed_type()`: plain and `s*` integers are signed, everything
/// unsigned, pointer or array is not.
pub(crate) fn infer_signed(type_name: &str) -> bool {
    if type_name.contains('*') || type_name.contains('[') || dynamic(type_name).is_some() {
        return false;
    }
    matches!(
        base(type_name).as_str(),
        "int"
            | "signed"
            | "signed int"
            | "short"
            | "short int"
            | "signed short"
            | "long"
            | "long int"
            | "signed long"
            | "long long"
            | "long long int"
            | "signed long long"
            | "signed char"
            | "s8"
            | "s16"
            | "s32"
            | "s64"
            | "__s8"
            | "__s16"
            | "__s32"
            | "__s64"
            | "int8_t"
            | "int16_t"
            | "int32_t"
            | "int64_t"
            | "pid_t"
            | "ssize_t"
            | "loff_t"
    )
}

/// `n` divides `size` (false for 0; `checked_rem` keeps this MSRV-1.75
/// friendly and free of a division-by-zero panic).
fn divides(n: usize, size: usize) -> bool {
    size.checked_rem(n) == Some(0)
}

/// Why a declaration cannot be classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClassifyError {
    /// A `__data_loc`/`__rel_loc` field whose size is not 4.
    DynamicSize,
}

/// Decides how to read a field of `type_name` (see [`split_decl`]) that
/// occupies `size` bytes, given the kernel's `long` size `long_size`.
pub(crate) fn classify(type_name: &str, size: usize, long_size: usize) -> Result<FieldKind, ClassifyError> {
    let elem_width = |ty: &str| match width(&base(ty)) {
        Width::Fixed(n) => Some(n),
        Width::Long => Some(long_size),
        Width::Unknown => None,
    };

    if let Some((relative, rest)) = dynamic(type_name) {
        // The field itself is one u32: offset in the low 16 bits, length in
        // the high 16 (libtraceevent `dynamic_offset`), so it must be 4 bytes.
        if size != 4 {
            return Err(ClassifyError::DynamicSize);
        }
        let elem = array(rest).map_or(rest, |(e, _)| e);
        return Ok(FieldKind::DynamicArray {
            // Unknown element types are treated as bytes.
            elem_size: elem_width(elem).unwrap_or(1),
            is_char: base(elem) == "char",
            relative,
        });
    }

    if let Some((elem, inner)) = array(type_name) {
        let b = base(elem);
        let literal = inner.trim().parse::<usize>().ok().filter(|&n| n > 0);
        // Prefer a fixed-width element type: the length as written may be
        // stale (trappy's 3.x `char rwbs[32]` of size 8) or an expression.
        // Then the written length, then the guessed `long` size.
        let elem_size = match width(&b) {
            Width::Fixed(n) if divides(n, size) => Some(n),
            w => literal
                .filter(|&n| size > 0 && divides(n, size))
                .map(|n| size / n)
                .or_else(|| (w == Width::Long && divides(long_size, size)).then_some(long_size)),
        };
        let Some(elem_size) = elem_size.filter(|&n| n > 0) else {
            return Ok(FieldKind::Other);
        };
        // size 0 (`char buf[]`) is a flexible array running to the record end.
        let len = size / elem_size;
        return Ok(if elem_size == 1 && is_char_like(&b) {
            FieldKind::CharArray { len }
        } else {
            FieldKind::Array { elem_size, len }
        });
    }

    let b = base(type_name);
    if b.contains('*') {
        return Ok(if matches!(size, 1 | 2 | 4 | 8) {
            FieldKind::Pointer
        } else {
            FieldKind::Other
        });
    }
    if b.starts_with("struct ") || b.starts_with("union ") {
        return Ok(FieldKind::Other);
    }
    Ok(match (size, width(&b)) {
        (1 | 2 | 4 | 8, _) => FieldKind::Int,
        // 3.x kernels wrote flexible arrays without brackets, with size 0:
        // ftrace/print `char buf`, bprint `u32 buf`, kernel_stack
        // `unsigned long caller`. They run to the end of the record.
        (0, _) if is_char_like(&b) => FieldKind::CharArray { len: 0 },
        (0, Width::Fixed(n)) => FieldKind::Array { elem_size: n, len: 0 },
        (0, Width::Long) => FieldKind::Array {
            elem_size: long_size,
            len: 0,
        },
        _ => FieldKind::Other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_declarations() {
        let cases = [
            ("char prev_comm[16]", "char[16]", "prev_comm"),
            ("__data_loc char[] cmd", "__data_loc char[]", "cmd"),
            ("__rel_loc u8[] buf", "__rel_loc u8[]", "buf"),
            ("unsigned long long x", "unsigned long long", "x"),
            ("const char * name", "const char *", "name"),
            ("void* ptr", "void*", "ptr"),
            ("const char *const * argv", "const char *const *", "argv"),
            (" u64 timestamp", "u64", "timestamp"),
            (
                "u8 ht_capa[(int)sizeof(struct ieee80211_ht_cap)]",
                "u8[(int)sizeof(struct ieee80211_ht_cap)]",
                "ht_capa",
            ),
            ("int grid[2][3]", "int[2][3]", "grid"),
            ("char buf[]", "char[]", "buf"),
        ];
        for (decl, ty, name) in cases {
            assert_eq!(split_decl(decl), Some((ty.to_string(), name)), "{decl}");
        }
        for bad in ["", "x", "int", "char [16]", "int x]", "  ;", "[]"] {
            assert_eq!(split_decl(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn classifies_kinds() {
        use FieldKind::*;
        let k = |t: &str, s: usize| classify(t, s, 8).unwrap();
        assert_eq!(k("pid_t", 4), Int);
        assert_eq!(k("unsigned long", 8), Int);
        assert_eq!(k("bool", 1), Int);
        assert_eq!(k("const char *", 8), Pointer);
        assert_eq!(k("struct foo *", 4), Pointer);
        assert_eq!(k("struct foo", 8), Other);
        assert_eq!(k("__int128", 16), Other);
        assert_eq!(k("char[16]", 16), CharArray { len: 16 });
        assert_eq!(k("u8[TASK_COMM_LEN]", 16), CharArray { len: 16 });
        assert_eq!(k("char[32]", 8), CharArray { len: 8 });
        assert_eq!(k("char[32 + 1]", 33), CharArray { len: 33 });
        assert_eq!(k("unsigned long[6]", 48), Array { elem_size: 8, len: 6 });
        // A 32-bit kernel: the written length wins over the long guess.
        assert_eq!(k("unsigned long[6]", 24), Array { elem_size: 4, len: 6 });
        assert_eq!(k("u32[NUM_BANDS]", 12), Array { elem_size: 4, len: 3 });
        assert_eq!(k("my_t[4]", 16), Array { elem_size: 4, len: 4 });
        assert_eq!(k("my_t[N]", 16), Other);
        assert_eq!(k("char[]", 0), CharArray { len: 0 });
        assert_eq!(k("u32[]", 0), Array { elem_size: 4, len: 0 });
        assert_eq!(
            classify("unsigned long[]", 0, 4).unwrap(),
            Array { elem_size: 4, len: 0 }
        );
        assert_eq!(k("char", 0), CharArray { len: 0 });
        assert_eq!(k("u32", 0), Array { elem_size: 4, len: 0 });
        assert_eq!(
            classify("unsigned long", 0, 4).unwrap(),
            Array { elem_size: 4, len: 0 }
        );
        assert_eq!(k("guid_t", 16), Other);
        assert_eq!(k("my_t", 0), Other);
        assert_eq!(k("nid_t[3]", 4), Other);
        assert_eq!(k("char", 1), Int);
        let d = |t: &str| classify(t, 4, 4).unwrap();
        assert_eq!(
            d("__data_loc char[]"),
            DynamicArray {
                elem_size: 1,
                is_char: true,
                relative: false
            }
        );
        assert_eq!(
            d("__rel_loc char[]"),
            DynamicArray {
                elem_size: 1,
                is_char: true,
                relative: true
            }
        );
        assert_eq!(
            d("__data_loc unsigned long[]"),
            DynamicArray {
                elem_size: 4,
                is_char: false,
                relative: false
            }
        );
        assert_eq!(
            d("__data_loc u8[]"),
            DynamicArray {
                elem_size: 1,
                is_char: false,
                relative: false
            }
        );
        assert_eq!(
            d("__data_loc struct x[]"),
            DynamicArray {
                elem_size: 1,
                is_char: false,
                relative: false
            }
        );
        assert_eq!(
            classify("__data_loc char[]", 8, 8),
            Err(ClassifyError::DynamicSize)
        );
        assert_eq!(k("__data_location_t", 4), Int);
    }

    #[test]
    fn infers_sign_and_long_size() {
        for t in [
            "int",
            "long",
            "short",
            "s8",
            "__s64",
            "pid_t",
            "long long",
            "const int",
        ] {
            assert!(infer_signed(t), "{t}");
        }
        for t in [
            "unsigned int",
            "u32",
            "char[16]",
            "int *",
            "__data_loc char[]",
            "bool",
        ] {
            assert!(!infer_signed(t), "{t}");
        }
        assert_eq!(long_size_hint("unsigned long", 4), Some(4));
        assert_eq!(long_size_hint("void *", 8), Some(8));
        assert_eq!(long_size_hint("unsigned long[6]", 48), None);
        assert_eq!(long_size_hint("int", 4), None);
    }
}
