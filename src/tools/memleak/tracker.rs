//! The outstanding-allocation table: calls' entries paired with their
//! returns per thread, blocks recorded by address with their size, stack
//! and age, frees removing them. Pure: fed decoded probe hits, no I/O.

use super::allocators::Kind;
use std::collections::HashMap;
use std::rc::Rc;

/// One outstanding block. 16 bytes: with its 8-byte address key a table
/// slot is 24 bytes plus the map's 1 control byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub size: u64,
    /// Index into the stack table.
    pub stack: u32,
    /// Milliseconds after the first event when it was allocated.
    pub born_ms: u32,
}

/// What memleak keeps between a call's entry and its return.
#[derive(Debug, Clone, Copy)]
struct Pending {
    size: u64,
    memptr: u64,
}

/// Filters applied at entry, as BCC does in the kernel.
#[derive(Debug, Clone, Copy, Default)]
pub struct Filters {
    pub min_size: Option<u64>,
    pub max_size: Option<u64>,
    /// Keep one allocation in this many (by the entry's timestamp, as BCC).
    pub sample_every: u64,
}

/// Call stacks, each stored once: a stack is its process id then its
/// user return addresses, innermost first.
#[derive(Debug, Default)]
pub struct StackTable {
    ids: HashMap<Rc<[u64]>, u32>,
    stacks: Vec<Rc<[u64]>>,
}

impl StackTable {
    /// The id of `pid`'s stack `ips`, interning it on first sight.
    pub fn intern(&mut self, pid: u32, ips: &[u64]) -> u32 {
        let mut key = Vec::with_capacity(ips.len() + 1);
        key.push(u64::from(pid));
        key.extend_from_slice(ips);
        if let Some(&id) = self.ids.get(key.as_slice()) {
            return id;
        }
        let id = self.stacks.len() as u32;
        let key: Rc<[u64]> = key.into();
        self.stacks.push(key.clone());
        self.ids.insert(key, id);
        id
    }

    /// The process and addresses of stack `id`.
    pub fn get(&self, id: u32) -> (u32, &[u64]) {
        let s = &self.stacks[id as usize];
        (s[0] as u32, &s[1..])
    }

    pub fn len(&self) -> usize {
        self.stacks.len()
    }
}

/// Counters of what did not pair up, for -v and the docs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub allocations: u64,
    pub frees: u64,
    /// Frees of blocks not in the table (allocated before tracing, or
    /// skipped by a filter).
    pub untracked_frees: u64,
    /// Returns whose entry was not seen (lost, or the call started before
    /// tracing), or failed calls.
    pub unpaired_returns: u64,
}

/// Outstanding allocations.
#[derive(Debug, Default)]
pub struct Tracker {
    filters: Filters,
    pending: HashMap<(u32, Kind), Pending>,
    blocks: HashMap<u64, Block>,
    pub stacks: StackTable,
    /// Per stack id: (bytes, allocations) outstanding.
    combined: Vec<(u64, u64)>,
    first_ns: Option<u64>,
    pub counts: Counts,
}

impl Tracker {
    pub fn new(filters: Filters) -> Tracker {
        Tracker {
            filters,
            ..Tracker::default()
        }
    }

    /// Milliseconds from the first event to `time_ns`.
    pub fn age_base_ms(&mut self, time_ns: u64) -> u32 {
        let first = *self.first_ns.get_or_insert(time_ns);
        (time_ns.saturating_sub(first) / 1_000_000).min(u64::from(u32::MAX)) as u32
    }

    /// A call's entry on thread `tid`: remembers the size until its
    /// return (unless filtered out), and for realloc and free forgets the
    /// block given back.
    pub fn entry(
        &mut self,
        tid: u32,
        kind: Kind,
        size: Option<u64>,
        freed: Option<u64>,
        memptr: u64,
        time_ns: u64,
    ) {
        if let Some(addr) = freed {
            self.free(addr);
        }
        let Some(size) = size else { return };
        if !self.keeps(size, time_ns) {
            return;
        }
        self.pending.insert((tid, kind), Pending { size, memptr });
    }

    /// The `memptr` posix_memalign's pending call on `tid` stores into.
    pub fn pending_memptr(&self, tid: u32, kind: Kind) -> Option<u64> {
        self.pending.get(&(tid, kind)).map(|p| p.memptr)
    }

    /// A call's return on thread `tid` of process `pid`, with the block it
    /// returned (None: failed) and the caller's stack.
    pub fn ret(&mut self, pid: u32, tid: u32, kind: Kind, block: Option<u64>, ips: &[u64], time_ns: u64) {
        let Some(p) = self.pending.remove(&(tid, kind)) else {
            self.counts.unpaired_returns += 1;
            return;
        };
        let Some(addr) = block else {
            self.counts.unpaired_returns += 1;
            return;
        };
        self.insert(pid, addr, p.size, ips, time_ns);
    }

    /// A block allocated and returned in one event (a kernel allocator's
    /// tracepoint): filtered as [`Tracker::entry`] filters, then recorded
    /// under stack `ips` of `pid` (0 for kernel stacks, which BCC's
    /// kernel mode does not split by process either).
    pub fn allocated(&mut self, pid: u32, addr: u64, size: u64, ips: &[u64], time_ns: u64) {
        if !self.keeps(size, time_ns) {
            return;
        }
        self.insert(pid, addr, size, ips, time_ns);
    }

    /// Whether the filters keep an allocation of `size` made at `time_ns`.
    fn keeps(&self, size: u64, time_ns: u64) -> bool {
        let f = self.filters;
        let sized = f.min_size.is_none_or(|m| size >= m) && f.max_size.is_none_or(|m| size <= m);
        sized && (f.sample_every <= 1 || time_ns.is_multiple_of(f.sample_every))
    }

    fn insert(&mut self, pid: u32, addr: u64, size: u64, ips: &[u64], time_ns: u64) {
        let stack = self.stacks.intern(pid, ips);
        if self.combined.len() <= stack as usize {
            self.combined.resize(stack as usize + 1, (0, 0));
        }
        let born_ms = self.age_base_ms(time_ns);
        // An address handed out again without a free seen in between (a
        // lost free, or realloc's nested malloc) replaces the old record.
        if let Some(old) = self.blocks.insert(addr, Block { size, stack, born_ms }) {
            self.uncount(old);
        }
        let c = &mut self.combined[stack as usize];
        c.0 += size;
        c.1 += 1;
        self.counts.allocations += 1;
    }

    /// A free of `addr`: forgets it if it is tracked.
    pub fn free(&mut self, addr: u64) {
        match self.blocks.remove(&addr) {
            Some(b) => {
                self.uncount(b);
                self.counts.frees += 1;
            }
            None => self.counts.untracked_frees += 1,
        }
    }

    fn uncount(&mut self, b: Block) {
        let c = &mut self.combined[b.stack as usize];
        c.0 -= b.size;
        c.1 -= 1;
    }

    /// Forgets calls still pending on a thread that exited.
    pub fn thread_exited(&mut self, tid: u32) {
        self.pending.retain(|(t, _), _| *t != tid);
    }

    /// Every outstanding block.
    pub fn blocks(&self) -> impl Iterator<Item = (u64, &Block)> {
        self.blocks.iter().map(|(a, b)| (*a, b))
    }

    pub fn outstanding(&self) -> usize {
        self.blocks.len()
    }

    /// (stack id, bytes, allocations) for every stack with outstanding
    /// blocks, whatever their age (`--combined-only`).
    pub fn combined(&self) -> impl Iterator<Item = (u32, u64, u64)> + '_ {
        self.combined
            .iter()
            .enumerate()
            .filter(|(_, c)| c.1 > 0)
            .map(|(i, c)| (i as u32, c.0, c.1))
    }

    /// The counters and table size in one line, for -v.
    pub fn counts_line(&self) -> String {
        let c = &self.counts;
        format!(
            "{} allocations, {} frees, {} untracked frees, {} unpaired returns; {} outstanding in a {}-byte table \
             ({} bytes each), {} stacks",
            c.allocations,
            c.frees,
            c.untracked_frees,
            c.unpaired_returns,
            self.outstanding(),
            self.table_bytes(),
            self.table_bytes().checked_div(self.outstanding()).unwrap_or(0),
            self.stacks.len()
        )
    }

    /// Bytes the outstanding table reserves (slots of key, value and one
    /// control byte, hashbrown's layout), for the per-allocation figure.
    pub fn table_bytes(&self) -> usize {
        let slot = std::mem::size_of::<u64>() + std::mem::size_of::<Block>() + 1;
        // hashbrown keeps at least capacity * 8/7 buckets, a power of two.
        let buckets = if self.blocks.capacity() == 0 {
            0
        } else {
            (self.blocks.capacity() * 8 / 7).next_power_of_two()
        };
        buckets * slot
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn alloc(t: &mut Tracker, tid: u32, kind: Kind, size: u64, addr: u64, ips: &[u64]) {
        t.entry(tid, kind, Some(size), None, 0, 10);
        t.ret(1, tid, kind, Some(addr), ips, 20);
    }

    #[test]
    fn pairs_per_thread_and_frees() {
        let mut t = Tracker::new(Filters::default());
        // Two threads interleave their calls.
        t.entry(1, Kind::Malloc, Some(100), None, 0, 1);
        t.entry(2, Kind::Malloc, Some(200), None, 0, 2);
        t.ret(9, 2, Kind::Malloc, Some(0x2000), &[5, 6], 3);
        t.ret(9, 1, Kind::Malloc, Some(0x1000), &[7], 4);
        let mut got: Vec<_> = t.blocks().map(|(a, b)| (a, b.size)).collect();
        got.sort();
        assert_eq!(got, vec![(0x1000, 100), (0x2000, 200)]);
        t.free(0x1000);
        t.free(0xdead);
        assert_eq!(t.outstanding(), 1);
        assert_eq!(t.counts.untracked_frees, 1);
        let c: Vec<_> = t.combined().collect();
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].1, c[0].2), (200, 1));
        assert_eq!(t.stacks.get(c[0].0), (9, &[5u64, 6][..]));
    }

    #[test]
    fn realloc_moves_the_block() {
        let mut t = Tracker::new(Filters::default());
        alloc(&mut t, 1, Kind::Malloc, 10, 0x10, &[1]);
        t.entry(1, Kind::Realloc, Some(50), Some(0x10), 0, 30);
        t.ret(1, 1, Kind::Realloc, Some(0x90), &[2], 40);
        let got: Vec<_> = t.blocks().map(|(a, b)| (a, b.size)).collect();
        assert_eq!(got, vec![(0x90, 50)]);
        assert_eq!(t.combined().map(|c| c.1).sum::<u64>(), 50);
    }

    #[test]
    fn filters_and_failures_leave_nothing() {
        let mut t = Tracker::new(Filters {
            min_size: Some(8),
            max_size: Some(64),
            sample_every: 1,
        });
        alloc(&mut t, 1, Kind::Malloc, 4, 0x10, &[1]);
        alloc(&mut t, 1, Kind::Malloc, 65, 0x20, &[1]);
        t.entry(1, Kind::Malloc, Some(10), None, 0, 0);
        t.ret(1, 1, Kind::Malloc, None, &[1], 0);
        assert_eq!(t.outstanding(), 0);
        alloc(&mut t, 1, Kind::Malloc, 8, 0x30, &[1]);
        assert_eq!(t.outstanding(), 1);
    }

    #[test]
    fn the_same_address_twice_is_counted_once() {
        let mut t = Tracker::new(Filters::default());
        alloc(&mut t, 1, Kind::Malloc, 10, 0x10, &[1]);
        alloc(&mut t, 1, Kind::Malloc, 30, 0x10, &[2]);
        let c: Vec<_> = t.combined().map(|c| (c.1, c.2)).collect();
        assert_eq!(c, vec![(30, 1)]);
    }

    #[test]
    fn one_event_allocations_are_filtered_and_freed() {
        let mut t = Tracker::new(Filters {
            min_size: Some(16),
            max_size: None,
            sample_every: 2,
        });
        t.allocated(0, 0x10, 8, &[1], 2);
        t.allocated(0, 0x20, 64, &[1], 3);
        t.allocated(0, 0x30, 64, &[1, 2], 4);
        t.allocated(0, 0x40, 32, &[1, 2], 6);
        assert_eq!(t.outstanding(), 2);
        let c: Vec<_> = t.combined().map(|c| (t.stacks.get(c.0), c.1, c.2)).collect();
        assert_eq!(c, vec![((0, &[1u64, 2][..]), 96, 2)]);
        t.free(0x30);
        assert_eq!(
            t.combined().map(|c| (c.1, c.2)).collect::<Vec<_>>(),
            vec![(32, 1)]
        );
    }

    #[test]
    fn a_block_stays_within_sixteen_bytes() {
        assert_eq!(std::mem::size_of::<Block>(), 16);
    }

    proptest! {
        /// Any sequence of calls keeps the per-stack totals equal to the
        /// table's contents.
        #[test]
        fn combined_totals_match_the_table(ops in proptest::collection::vec((0u8..3, 0u32..3, 0u64..8, 1u64..100), 0..200)) {
            let mut t = Tracker::new(Filters::default());
            for (op, tid, addr, size) in ops {
                match op {
                    0 => alloc(&mut t, tid, Kind::Malloc, size, addr * 16, &[u64::from(tid)]),
                    1 => t.free(addr * 16),
                    _ => {
                        t.entry(tid, Kind::Realloc, Some(size), Some(addr * 16), 0, 0);
                        t.ret(1, tid, Kind::Realloc, Some((addr + 1) * 16), &[9], 0);
                    }
                }
            }
            let bytes: u64 = t.blocks().map(|(_, b)| b.size).sum();
            prop_assert_eq!(bytes, t.combined().map(|c| c.1).sum::<u64>());
            prop_assert_eq!(t.outstanding() as u64, t.combined().map(|c| c.2).sum::<u64>());
        }
    }
}
