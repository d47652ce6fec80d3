//! The allocator functions memleak probes, and what each one's arguments
//! and return value mean (BCC memleak's list and order).

/// An allocator function's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Malloc,
    Calloc,
    Realloc,
    Reallocarray,
    PosixMemalign,
    AlignedAlloc,
    Memalign,
    Valloc,
    Pvalloc,
    Mmap,
    Free,
    Munmap,
}

/// One probed function.
#[derive(Debug, Clone, Copy)]
pub struct AllocFn {
    /// The symbol looked up in the allocator library.
    pub name: &'static str,
    pub kind: Kind,
}

/// Every function, in BCC's attach order.
pub const FUNCTIONS: &[AllocFn] = &[
    AllocFn {
        name: "malloc",
        kind: Kind::Malloc,
    },
    AllocFn {
        name: "calloc",
        kind: Kind::Calloc,
    },
    AllocFn {
        name: "realloc",
        kind: Kind::Realloc,
    },
    AllocFn {
        name: "reallocarray",
        kind: Kind::Reallocarray,
    },
    AllocFn {
        name: "mmap",
        kind: Kind::Mmap,
    },
    AllocFn {
        name: "posix_memalign",
        kind: Kind::PosixMemalign,
    },
    AllocFn {
        name: "valloc",
        kind: Kind::Valloc,
    },
    AllocFn {
        name: "memalign",
        kind: Kind::Memalign,
    },
    AllocFn {
        name: "pvalloc",
        kind: Kind::Pvalloc,
    },
    AllocFn {
        name: "aligned_alloc",
        kind: Kind::AlignedAlloc,
    },
    AllocFn {
        name: "free",
        kind: Kind::Free,
    },
    AllocFn {
        name: "munmap",
        kind: Kind::Munmap,
    },
];

/// What a call's entry says, from its first three integer arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryArgs {
    /// Bytes requested (None for free and munmap).
    pub size: Option<u64>,
    /// The block given back (free, munmap, realloc's old pointer).
    pub freed: Option<u64>,
    /// Where posix_memalign stores the block.
    pub memptr: Option<u64>,
}

impl Kind {
    /// Whether the function returns the block (a uretprobe is needed).
    pub fn allocates(self) -> bool {
        !matches!(self, Kind::Free | Kind::Munmap)
    }

    /// Reads the call's arguments; sizes multiply like the allocator does
    /// (an overflowing calloc fails, so its size never reaches the table).
    pub fn entry(self, a: [u64; 3]) -> EntryArgs {
        let (size, freed, memptr) = match self {
            Kind::Malloc | Kind::Valloc | Kind::Pvalloc => (Some(a[0]), None, None),
            Kind::Calloc => (Some(a[0].wrapping_mul(a[1])), None, None),
            Kind::Realloc => (Some(a[1]), Some(a[0]), None),
            Kind::Reallocarray => (Some(a[1].wrapping_mul(a[2])), Some(a[0]), None),
            Kind::PosixMemalign => (Some(a[2]), None, Some(a[0])),
            Kind::AlignedAlloc | Kind::Memalign | Kind::Mmap => (Some(a[1]), None, None),
            Kind::Free | Kind::Munmap => (None, Some(a[0]), None),
        };
        EntryArgs {
            size,
            freed: freed.filter(|&p| p != 0),
            memptr,
        }
    }

    /// The block a successful call returned, from its return value (for
    /// posix_memalign, the word it stored at `memptr`, read by the caller).
    pub fn returned(self, value: u64) -> Option<u64> {
        match self {
            // MAP_FAILED is -1.
            Kind::Mmap => (value != u64::MAX).then_some(value),
            // posix_memalign returns an error number: 0 is success.
            Kind::PosixMemalign => None,
            _ => (value != 0).then_some(value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_map_like_the_c_prototypes() {
        assert_eq!(Kind::Calloc.entry([50, 4096, 0]).size, Some(204_800));
        let r = Kind::Realloc.entry([0x1000, 64, 0]);
        assert_eq!((r.size, r.freed), (Some(64), Some(0x1000)));
        assert_eq!(Kind::Realloc.entry([0, 64, 0]).freed, None);
        assert_eq!(Kind::Reallocarray.entry([0x10, 3, 8]).size, Some(24));
        let p = Kind::PosixMemalign.entry([0x7ff0, 64, 100]);
        assert_eq!((p.size, p.memptr), (Some(100), Some(0x7ff0)));
        assert_eq!(Kind::Free.entry([0x20, 0, 0]).freed, Some(0x20));
        assert_eq!(Kind::Mmap.returned(u64::MAX), None);
        assert_eq!(Kind::Malloc.returned(0), None);
        assert!(FUNCTIONS.iter().filter(|f| !f.kind.allocates()).count() == 2);
    }
}
