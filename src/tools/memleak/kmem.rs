//! The kernel allocators' tracepoints that memleak's kernel mode samples
//! (BCC memleak without -p/-c), and their records decoded into
//! allocations and frees. Fields are found by name in each event's
//! format, so the layouts of 3.10 to 6.x all decode: `gfp_flags` 4 or 8
//! bytes, `node` and `accounted` added, kmalloc_node folded into kmalloc
//! (6.0), mm_page_alloc's `page` pointer before its `pfn` (4.x).

use ftr_tracefs::format::{FieldRef, Schema};
use ftr_tracefs::Endian;

/// What a tracepoint's record means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A slab object (`ptr`, `bytes_alloc`).
    SlabAlloc,
    /// A slab object freed (`ptr`).
    SlabFree,
    /// `1 << order` pages (`pfn`, or `page` on old kernels).
    PageAlloc,
    /// Pages freed.
    PageFree,
    /// A per-CPU object (`ptr`, `size`), with `--percpu`.
    PercpuAlloc,
    /// A per-CPU object freed.
    PercpuFree,
}

impl Role {
    /// Whether the event ends an allocation.
    pub fn frees(self) -> bool {
        matches!(self, Role::SlabFree | Role::PageFree | Role::PercpuFree)
    }
}

/// One tracepoint kernel mode samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tracepoint {
    pub system: &'static str,
    pub name: &'static str,
    pub role: Role,
}

impl Tracepoint {
    /// Whether only `--percpu` traces it (as in BCC).
    pub fn percpu(&self) -> bool {
        matches!(self.role, Role::PercpuAlloc | Role::PercpuFree)
    }
}

const fn tp(system: &'static str, name: &'static str, role: Role) -> Tracepoint {
    Tracepoint { system, name, role }
}

/// BCC memleak's kernel tracepoints, in its order. kmalloc_node and
/// kmem_cache_alloc_node are gone since 6.0 (their records come through
/// kmalloc and kmem_cache_alloc, with `node`).
pub const TRACEPOINTS: [Tracepoint; 10] = [
    tp("kmem", "kmalloc", Role::SlabAlloc),
    tp("kmem", "kmalloc_node", Role::SlabAlloc),
    tp("kmem", "kfree", Role::SlabFree),
    tp("kmem", "kmem_cache_alloc", Role::SlabAlloc),
    tp("kmem", "kmem_cache_alloc_node", Role::SlabAlloc),
    tp("kmem", "kmem_cache_free", Role::SlabFree),
    tp("kmem", "mm_page_alloc", Role::PageAlloc),
    tp("kmem", "mm_page_free", Role::PageFree),
    tp("percpu", "percpu_alloc_percpu", Role::PercpuAlloc),
    tp("percpu", "percpu_free_percpu", Role::PercpuFree),
];

/// A page frame number as a table key: bit 62 set, bit 63 clear, so it
/// meets neither a kernel pointer (top bits set) nor an x86-64 per-CPU
/// offset (small), which share the table. BCC keys both by the bare
/// number and can confuse a pfn with a per-CPU offset under --percpu.
const PFN_TAG: u64 = 1 << 62;

/// The address `-a` prints for a table key: a pfn without its tag.
pub fn shown_address(key: u64) -> u64 {
    if key >> 62 == 1 {
        key & !PFN_TAG
    } else {
        key
    }
}

/// A decoded record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Alloc { addr: u64, size: u64 },
    Free { addr: u64 },
}

/// One tracepoint's fields, found by name.
#[derive(Debug, Clone, Copy)]
pub struct Decoder {
    role: Role,
    addr: FieldRef,
    /// The size field, or `order` for pages.
    size: Option<FieldRef>,
    /// Whether `addr` is a pfn (tagged) rather than a pointer.
    pfn: bool,
    page_size: u64,
}

impl Decoder {
    /// Resolves the fields `role` reads in `schema`; the error names the
    /// missing field.
    pub fn new(role: Role, schema: &Schema, page_size: u64) -> Result<Decoder, String> {
        let field = |name: &str| {
            schema
                .field(name)
                .ok_or_else(|| format!("{}:{} has no field `{name}`", schema.system, schema.name))
        };
        let (addr, pfn) = match role {
            Role::PageAlloc | Role::PageFree => match schema.field("pfn") {
                Some(f) => (f, true),
                // Before 4.x (kernel commit "mm, tracing: print pfn
                // instead of struct page*"): the struct page pointer,
                // just as unique a key.
                None => (field("page")?, false),
            },
            _ => (field("ptr")?, false),
        };
        let size = match role {
            Role::SlabAlloc => Some(field("bytes_alloc")?),
            Role::PageAlloc => Some(field("order")?),
            Role::PercpuAlloc => Some(field("size")?),
            Role::SlabFree | Role::PageFree | Role::PercpuFree => None,
        };
        Ok(Decoder {
            role,
            addr,
            size,
            pfn,
            page_size,
        })
    }

    /// What the tracepoint's records mean.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The allocation or free in `raw` (a record from `common_type` on);
    /// None for a short record, a NULL pointer (kfree(NULL), a failed
    /// allocation) or mm_page_alloc's -1 pfn (no page).
    pub fn decode(&self, raw: &[u8], e: Endian) -> Option<Op> {
        let addr = self.addr.u64(raw, e)?;
        let all_ones = u64::MAX >> (64 - 8 * self.addr.size().clamp(1, 8) as u32);
        if addr == 0 || addr == all_ones {
            return None;
        }
        let addr = if self.pfn { addr | PFN_TAG } else { addr };
        let Some(size) = self.size else {
            return Some(Op::Free { addr });
        };
        let size = size.u64(raw, e)?;
        let size = match self.role {
            // `PAGE_SIZE << order`, None where it would not fit.
            Role::PageAlloc if size < u64::from(self.page_size.leading_zeros()) => self.page_size << size,
            Role::PageAlloc => return None,
            _ => size,
        };
        Some(Op::Alloc { addr, size })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KMALLOC_3_10: &str = "name: kmalloc
ID: 333
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

print fmt: \"call_site=%lx ptr=%p\", REC->call_site, REC->ptr
";

    const PAGE_ALLOC_6_1: &str = "name: mm_page_alloc
ID: 400
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:unsigned long pfn;\toffset:8;\tsize:8;\tsigned:0;
\tfield:unsigned int order;\toffset:16;\tsize:4;\tsigned:0;
\tfield:unsigned long gfp_flags;\toffset:24;\tsize:8;\tsigned:0;
\tfield:int migratetype;\toffset:32;\tsize:4;\tsigned:1;

print fmt: \"pfn=0x%lx order=%d\", REC->pfn, REC->order
";

    fn record(len: usize, fields: &[(usize, u64, usize)]) -> Vec<u8> {
        let mut r = vec![0u8; len];
        for &(off, v, size) in fields {
            r[off..off + size].copy_from_slice(&v.to_le_bytes()[..size]);
        }
        r
    }

    #[test]
    fn slab_records_give_pointer_and_allocated_bytes() {
        let s = Schema::parse("kmem", KMALLOC_3_10).unwrap();
        let d = Decoder::new(Role::SlabAlloc, &s, 4096).unwrap();
        let r = record(44, &[(16, 0xffff_8881_0000_1000, 8), (24, 100, 8), (32, 128, 8)]);
        assert_eq!(
            d.decode(&r, Endian::Little),
            Some(Op::Alloc {
                addr: 0xffff_8881_0000_1000,
                size: 128
            })
        );
        // A failed allocation, and a record cut short.
        assert_eq!(d.decode(&record(44, &[(32, 128, 8)]), Endian::Little), None);
        assert_eq!(d.decode(&r[..30], Endian::Little), None);
        let free = Decoder::new(Role::SlabFree, &s, 4096).unwrap();
        assert_eq!(
            free.decode(&r, Endian::Little),
            Some(Op::Free {
                addr: 0xffff_8881_0000_1000
            })
        );
    }

    #[test]
    fn pages_are_page_size_shifted_by_order_and_keyed_apart() {
        let s = Schema::parse("kmem", PAGE_ALLOC_6_1).unwrap();
        let d = Decoder::new(Role::PageAlloc, &s, 4096).unwrap();
        let r = record(40, &[(8, 0x1234, 8), (16, 3, 4)]);
        let Some(Op::Alloc { addr, size }) = d.decode(&r, Endian::Little) else {
            panic!("decodes")
        };
        assert_eq!(size, 4096 << 3);
        assert_ne!(addr, 0x1234, "tagged");
        assert_eq!(shown_address(addr), 0x1234);
        assert_eq!(shown_address(0xffff_8881_0000_1000), 0xffff_8881_0000_1000);
        assert_eq!(shown_address(0x2a000), 0x2a000);
        // No page: pfn -1.
        assert_eq!(d.decode(&record(40, &[(8, u64::MAX, 8)]), Endian::Little), None);
        // An absurd order does not overflow.
        assert_eq!(
            d.decode(&record(40, &[(8, 1, 8), (16, 99, 4)]), Endian::Little),
            None
        );
    }

    #[test]
    fn a_missing_field_is_named() {
        let s = Schema::parse("kmem", PAGE_ALLOC_6_1).unwrap();
        let e = Decoder::new(Role::SlabAlloc, &s, 4096).unwrap_err();
        assert_eq!(e, "kmem:mm_page_alloc has no field `ptr`");
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_decode_without_panic(raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            for (text, role) in [(KMALLOC_3_10, Role::SlabAlloc), (KMALLOC_3_10, Role::SlabFree), (PAGE_ALLOC_6_1, Role::PageAlloc)] {
                let s = Schema::parse("kmem", text).unwrap();
                let d = Decoder::new(role, &s, 4096).unwrap();
                let _ = d.decode(&raw, Endian::Little);
                let _ = d.decode(&raw, Endian::Big);
            }
        }
    }
}
