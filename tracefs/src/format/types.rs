//! The parsed form of an event `format` file: [`Schema`], [`Field`] and
//! [`FieldKind`].

use super::decode::FieldRef;
use super::error::FormatError;
use super::parser;

/// One event's record layout, parsed from `events/SYSTEM/EVENT/format`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    /// Event system (the directory name, e.g. `sched`); format files do not
    /// name it, so the caller supplies it.
    pub system: String,
    /// Event name from the `name:` line, e.g. `sched_switch`.
    pub name: String,
    /// Event ID from the `ID:` line; records carry it in `common_type`.
    pub id: u16,
    /// Common fields first (`is_common`), then the event's own fields, each
    /// group in file order.
    pub fields: Vec<Field>,
    /// Everything after `print fmt: `, raw (trailing whitespace removed).
    pub print_fmt: String,
}

/// One `field:` line of a format file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Field name, e.g. `prev_comm`.
    pub name: String,
    /// The C type as written minus the name: `char[16]`,
    /// `__data_loc char[]`, `unsigned long`, `pid_t`, `const char *`.
    pub type_name: String,
    /// Byte offset from the start of the record (the `common_type` field).
    pub offset: usize,
    /// Size in bytes as the kernel wrote it; 4 for `__data_loc`/`__rel_loc`
    /// fields, 0 for flexible arrays such as ftrace `print`'s `char buf[]`.
    pub size: usize,
    /// Whether integers are signed: the `signed:` attribute, or inferred from
    /// the type on kernels that predate it.
    pub signed: bool,
    /// How to read the bytes.
    pub kind: FieldKind,
    /// True for the `common_*` header fields every event shares.
    pub is_common: bool,
}

/// How a field's bytes are interpreted.
///
/// Arrays with `len == 0` are flexible array members (`char buf[]`,
/// `unsigned long args[]`, or bracket-less `char buf` / `u32 buf` of size 0
/// on 3.x kernels): they run
/// from the field's offset to the end of the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldKind {
    /// A 1, 2, 4 or 8-byte integer (also `long`, `pid_t`, `bool`, enums,
    /// `dev_t`, ...).
    Int,
    /// A pointer (`*` in the type): printed in hex.
    Pointer,
    /// `char name[N]` / `u8 name[N]`: a NUL-padded string.
    CharArray {
        /// Number of bytes (0 = to the end of the record).
        len: usize,
    },
    /// Any other fixed array, e.g. `unsigned long args[6]`.
    Array {
        /// Bytes per element.
        elem_size: usize,
        /// Number of elements (0 = to the end of the record).
        len: usize,
    },
    /// `__data_loc T[] name` or `__rel_loc T[] name`: a u32 giving offset and
    /// length of data stored later in the record.
    DynamicArray {
        /// Bytes per element (1 when the element type is unknown).
        elem_size: usize,
        /// The element type is `char`: the data is a NUL-terminated string.
        is_char: bool,
        /// `__rel_loc`: the offset counts from the end of this field rather
        /// than from the start of the record.
        relative: bool,
    },
    /// Something that is not an integer (a struct, a 16-byte value): raw
    /// bytes.
    Other,
}

impl Schema {
    /// Parses the text of one `format` file.
    ///
    /// `system` is the name of the directory above the event's (format files
    /// do not state it). Fails with a [`FormatError`] naming the line when
    /// `name:` or `ID:` is missing, a `field:` line lacks `offset:`/`size:`,
    /// a number is malformed, or `offset + size` overflows. Never panics,
    /// whatever the input.
    pub fn parse(system: &str, text: &str) -> Result<Schema, FormatError> {
        parser::parse_format(system, text)
    }

    /// The field called `name`, as a small [`FieldRef`] to keep and use for
    /// every record. Resolve once: this is a linear search.
    pub fn field(&self, name: &str) -> Option<FieldRef> {
        self.field_def(name).map(FieldRef::from)
    }

    /// The full definition of the field called `name`.
    pub fn field_def(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// `common_pid`: the pid (kernel TID) of the task that emitted the event.
    pub fn common_pid(&self) -> Option<FieldRef> {
        self.field("common_pid")
    }

    /// `common_type`: the event ID written in each record.
    pub fn common_type(&self) -> Option<FieldRef> {
        self.field("common_type")
    }

    /// The common (`common_*`) fields.
    pub fn common_fields(&self) -> impl Iterator<Item = &Field> {
        self.fields.iter().filter(|f| f.is_common)
    }

    /// The event's own (non-common) fields, in file order.
    pub fn event_fields(&self) -> impl Iterator<Item = &Field> {
        self.fields.iter().filter(|f| !f.is_common)
    }
}

impl Field {
    /// This field as a [`FieldRef`] for decoding records.
    pub fn to_ref(&self) -> FieldRef {
        FieldRef::from(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Endian;

    const KMALLOC_6X: &str = "name: kmalloc
ID: 310
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:unsigned long call_site;\toffset:8;\tsize:8;\tsigned:0;
\tfield:const void * ptr;\toffset:16;\tsize:8;\tsigned:0;
\tfield:size_t bytes_req;\toffset:24;\tsize:8;\tsigned:0;
\tfield:size_t bytes_alloc;\toffset:32;\tsize:8;\tsigned:0;
\tfield:unsigned long gfp_flags;\toffset:40;\tsize:8;\tsigned:0;
\tfield:int node;\toffset:48;\tsize:4;\tsigned:1;

print fmt: \"call_site=%pS ptr=%p bytes_req=%zu bytes_alloc=%zu gfp_flags=%s node=%d\", (void *)REC->call_site, REC->ptr, REC->bytes_req, REC->bytes_alloc, (REC->gfp_flags) ? \"GFP\" : \"none\", REC->node
";

    // Hand-made from the RHEL7 3.10 TRACE_EVENT (gfp_t is a 4-byte
    // `unsigned int`); the x86_64 offsets follow from the types.
    const KMALLOC_RHEL7: &str = "name: kmalloc
ID: 314
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:unsigned long call_site;\toffset:8;\tsize:8;\tsigned:0;
\tfield:const void * ptr;\toffset:16;\tsize:8;\tsigned:0;
\tfield:size_t bytes_req;\toffset:24;\tsize:8;\tsigned:0;
\tfield:size_t bytes_alloc;\toffset:32;\tsize:8;\tsigned:0;
\tfield:gfp_t gfp_flags;\toffset:40;\tsize:4;\tsigned:0;

print fmt: \"call_site=%lx ptr=%p bytes_req=%zu bytes_alloc=%zu gfp_flags=%s\", REC->call_site, REC->ptr, REC->bytes_req, REC->bytes_alloc, (REC->gfp_flags) ? \"GFP\" : \"GFP_NOWAIT\"
";

    #[test]
    fn kmalloc_gfp_flags_is_4_bytes_on_rhel7_and_8_later() {
        let old = Schema::parse("kmem", KMALLOC_RHEL7).unwrap();
        let new = Schema::parse("kmem", KMALLOC_6X).unwrap();
        let (o, n) = (
            old.field_def("gfp_flags").unwrap(),
            new.field_def("gfp_flags").unwrap(),
        );
        assert_eq!((o.type_name.as_str(), o.offset, o.size), ("gfp_t", 40, 4));
        assert_eq!((n.type_name.as_str(), n.offset, n.size), ("unsigned long", 40, 8));
        assert_eq!((o.kind, n.kind), (FieldKind::Int, FieldKind::Int));
        assert!(old.field("node").is_none());
        assert_eq!(new.field_def("ptr").unwrap().kind, FieldKind::Pointer);

        // The same decoding code reads both layouts.
        let mut rec = vec![0u8; 52];
        rec[40..44].copy_from_slice(&0xcc0u32.to_le_bytes());
        for s in [&old, &new] {
            let f = s.field("gfp_flags").unwrap();
            assert_eq!(f.u64(&rec, Endian::Little), Some(0xcc0));
        }
    }

    #[test]
    fn accessors_split_common_and_event_fields() {
        let s = Schema::parse("kmem", KMALLOC_6X).unwrap();
        assert_eq!(
            (s.system.as_str(), s.name.as_str(), s.id),
            ("kmem", "kmalloc", 310)
        );
        assert_eq!(s.common_fields().count(), 4);
        let names: Vec<_> = s.event_fields().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "call_site",
                "ptr",
                "bytes_req",
                "bytes_alloc",
                "gfp_flags",
                "node"
            ]
        );
        let pid = s.common_pid().unwrap();
        assert_eq!((pid.offset(), pid.size(), pid.is_signed()), (4, 4, true));
        assert_eq!(s.common_type().unwrap().offset(), 0);
        assert!(s.print_fmt.starts_with("\"call_site=%pS"));
        assert!(s.print_fmt.ends_with("REC->node"));
        assert_eq!(s.field_def("node").unwrap().to_ref(), s.field("node").unwrap());
    }
}
