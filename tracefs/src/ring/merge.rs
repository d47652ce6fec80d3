//! Ordering events from several CPUs by timestamp.
//!
//! Each CPU's ring is in order on its own, but pages from different CPUs
//! arrive in whatever order they were read. [`OrderedMerge`] buffers events
//! and releases them only when no later read can bring an older one: after
//! a round that read every CPU, everything up to the newest timestamp of
//! the *previous* round is safe (perf's "finished round" rule, see
//! tools/perf/util/ordered-events.c). [`OrderedMerge::finish`] releases the
//! rest at the end.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

struct Item<T> {
    ts: u64,
    seq: u64,
    value: T,
}

impl<T> PartialEq for Item<T> {
    fn eq(&self, o: &Self) -> bool {
        (self.ts, self.seq) == (o.ts, o.seq)
    }
}
impl<T> Eq for Item<T> {}
impl<T> PartialOrd for Item<T> {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl<T> Ord for Item<T> {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.ts, self.seq).cmp(&(o.ts, o.seq))
    }
}

/// A k-way merge by timestamp for events read in rounds. Events with equal
/// timestamps come out in the order they were pushed (stable).
pub struct OrderedMerge<T> {
    heap: BinaryHeap<Reverse<Item<T>>>,
    seq: u64,
    /// Newest timestamp pushed so far.
    round_max: u64,
    /// Newest timestamp pushed before the current round began.
    prev_round_max: Option<u64>,
    limit: Option<u64>,
}

impl<T> Default for OrderedMerge<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> OrderedMerge<T> {
    /// An empty merge.
    pub fn new() -> Self {
        OrderedMerge {
            heap: BinaryHeap::new(),
            seq: 0,
            round_max: 0,
            prev_round_max: None,
            limit: None,
        }
    }

    /// Buffers one event.
    pub fn push(&mut self, ts: u64, value: T) {
        self.round_max = self.round_max.max(ts);
        self.heap.push(Reverse(Item {
            ts,
            seq: self.seq,
            value,
        }));
        self.seq += 1;
    }

    /// Marks the end of a round that read every CPU until it was empty.
    ///
    /// Events written before this round began were all read by its end, so
    /// everything up to the newest timestamp seen before the round is final.
    pub fn end_round(&mut self) {
        self.limit = self.prev_round_max;
        self.prev_round_max = Some(self.round_max);
    }

    /// The next event that is safe to release, oldest first.
    pub fn pop_ready(&mut self) -> Option<(u64, T)> {
        let limit = self.limit?;
        if self.heap.peek()?.0.ts > limit {
            return None;
        }
        self.heap.pop().map(|Reverse(i)| (i.ts, i.value))
    }

    /// Releases everything, oldest first (end of trace).
    pub fn finish(&mut self) -> impl Iterator<Item = (u64, T)> + '_ {
        std::iter::from_fn(move || self.heap.pop().map(|Reverse(i)| (i.ts, i.value)))
    }

    /// Events buffered and not yet released.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

/// Merges already-sorted per-CPU sequences into one sorted sequence (for
/// recorded data, where every CPU is complete).
pub fn merge_sorted<T, I>(inputs: Vec<I>) -> impl Iterator<Item = (u64, T)>
where
    I: Iterator<Item = (u64, T)>,
{
    let mut inputs = inputs;
    let mut heads: BinaryHeap<Reverse<(u64, usize)>> = BinaryHeap::new();
    let mut pending: Vec<Option<T>> = Vec::with_capacity(inputs.len());
    for (i, it) in inputs.iter_mut().enumerate() {
        match it.next() {
            Some((ts, v)) => {
                heads.push(Reverse((ts, i)));
                pending.push(Some(v));
            }
            None => pending.push(None),
        }
    }
    std::iter::from_fn(move || {
        let Reverse((ts, i)) = heads.pop()?;
        let v = pending[i].take()?;
        if let Some((nts, nv)) = inputs[i].next() {
            heads.push(Reverse((nts, i)));
            pending[i] = Some(nv);
        }
        Some((ts, v))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn holds_back_until_a_round_proves_order() {
        let mut m = OrderedMerge::new();
        m.push(10, "cpu0-a");
        m.push(5, "cpu1-a");
        assert!(m.pop_ready().is_none(), "nothing is safe before a round ends");
        m.end_round();
        assert!(
            m.pop_ready().is_none(),
            "a later round may still bring older events"
        );
        m.push(7, "late-but-older");
        m.push(20, "new");
        m.end_round();
        assert_eq!(m.pop_ready(), Some((5, "cpu1-a")));
        assert_eq!(m.pop_ready(), Some((7, "late-but-older")));
        assert_eq!(m.pop_ready(), Some((10, "cpu0-a")));
        assert!(m.pop_ready().is_none());
        let rest: Vec<_> = m.finish().collect();
        assert_eq!(rest, vec![(20, "new")]);
    }

    proptest! {
        #[test]
        fn merge_sorted_is_sorted_and_complete(mut cpus in proptest::collection::vec(proptest::collection::vec(0u64..1000, 0..50), 0..6)) {
            for c in &mut cpus { c.sort_unstable(); }
            let total: usize = cpus.iter().map(Vec::len).sum();
            let its: Vec<_> = cpus.into_iter().map(|c| c.into_iter().map(|t| (t, t))).collect();
            let out: Vec<_> = merge_sorted(its).collect();
            prop_assert_eq!(out.len(), total);
            prop_assert!(out.windows(2).all(|w| w[0].0 <= w[1].0));
        }
    }
}
