//! Ordering events from several CPUs by timestamp.
//!
//! Each CPU's ring is in order on its own, but pages from different CPUs
//! arrive in whatever order they were read. [`OrderedMerge`] buffers events
//! and releases them only when no later read can bring an older one: after
//! a round that read every CPU, everything up to the newest timestamp of
//! the *previous* round is safe (perf's "finished round" rule, see
//! tools/perf/util/ordered-events.c). [`OrderedMerge::finish`] releases the
//! rest at the end.
//!
//! Events are kept in one queue per lane (a CPU): a CPU's events arrive in
//! time order, so each push appends and each release compares the heads
//! of the lanes only, instead of sifting every event through one heap (a
//! quarter of runqlat's CPU time at 250k events/s went there).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

struct Item<T> {
    ts: u64,
    seq: u64,
    value: T,
}

impl<T> Item<T> {
    fn key(&self) -> (u64, u64) {
        (self.ts, self.seq)
    }
}

/// A k-way merge by timestamp for events read in rounds. Events with equal
/// timestamps come out in the order they were pushed (stable).
pub struct OrderedMerge<T> {
    lanes: Vec<VecDeque<Item<T>>>,
    /// The head of every non-empty lane: (ts, seq, lane).
    heads: BinaryHeap<Reverse<(u64, u64, usize)>>,
    len: usize,
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
            lanes: Vec::new(),
            heads: BinaryHeap::new(),
            len: 0,
            seq: 0,
            round_max: 0,
            prev_round_max: None,
            limit: None,
        }
    }

    /// Buffers one event of `lane` (its CPU). Events of one lane are
    /// expected in time order; one that is not is still placed right.
    pub fn push(&mut self, lane: usize, ts: u64, value: T) {
        self.round_max = self.round_max.max(ts);
        if lane >= self.lanes.len() {
            self.lanes.resize_with(lane + 1, VecDeque::new);
        }
        let item = Item {
            ts,
            seq: self.seq,
            value,
        };
        self.seq += 1;
        self.len += 1;
        let q = &mut self.lanes[lane];
        match q.back() {
            None => {
                self.heads.push(Reverse((ts, item.seq, lane)));
                q.push_back(item);
            }
            Some(last) if last.key() <= item.key() => q.push_back(item),
            Some(_) => {
                // Out of order within its lane (a clock step): insert it in
                // place; if it became the head, the heads are rebuilt.
                let at = q.partition_point(|i| i.key() <= item.key());
                q.insert(at, item);
                if at == 0 {
                    self.rebuild_heads();
                }
            }
        }
    }

    fn rebuild_heads(&mut self) {
        self.heads = self
            .lanes
            .iter()
            .enumerate()
            .filter_map(|(lane, q)| q.front().map(|i| Reverse((i.ts, i.seq, lane))))
            .collect();
    }

    /// Marks the end of a round that read every CPU until it was empty.
    ///
    /// Events written before this round began were all read by its end, so
    /// everything up to the newest timestamp seen before the round is final.
    pub fn end_round(&mut self) {
        self.limit = self.prev_round_max;
        self.prev_round_max = Some(self.round_max);
    }

    fn pop_oldest(&mut self) -> Option<(u64, T)> {
        let Reverse((_, _, lane)) = self.heads.pop()?;
        let q = &mut self.lanes[lane];
        let item = q.pop_front()?;
        if let Some(next) = q.front() {
            self.heads.push(Reverse((next.ts, next.seq, lane)));
        }
        self.len -= 1;
        Some((item.ts, item.value))
    }

    /// The next event that is safe to release, oldest first.
    pub fn pop_ready(&mut self) -> Option<(u64, T)> {
        let limit = self.limit?;
        if self.heads.peek()?.0 .0 > limit {
            return None;
        }
        self.pop_oldest()
    }

    /// Releases everything, oldest first (end of trace).
    pub fn finish(&mut self) -> impl Iterator<Item = (u64, T)> + '_ {
        std::iter::from_fn(move || self.pop_oldest())
    }

    /// Events buffered and not yet released.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.len == 0
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
        m.push(0, 10, "cpu0-a");
        m.push(1, 5, "cpu1-a");
        assert!(m.pop_ready().is_none(), "nothing is safe before a round ends");
        m.end_round();
        assert!(
            m.pop_ready().is_none(),
            "a later round may still bring older events"
        );
        m.push(1, 7, "late-but-older");
        m.push(0, 20, "new");
        m.end_round();
        assert_eq!(m.pop_ready(), Some((5, "cpu1-a")));
        assert_eq!(m.pop_ready(), Some((7, "late-but-older")));
        assert_eq!(m.pop_ready(), Some((10, "cpu0-a")));
        assert!(m.pop_ready().is_none());
        let rest: Vec<_> = m.finish().collect();
        assert_eq!(rest, vec![(20, "new")]);
    }

    proptest! {
        /// Whatever lanes and order events come in, rounds release them in
        /// (ts, push order) order, each exactly once.
        #[test]
        fn rounds_release_every_event_in_order(
            rounds in proptest::collection::vec(
                proptest::collection::vec((0usize..4, 0u64..200), 0..30), 0..6)
        ) {
            let mut m = OrderedMerge::new();
            let mut pushed = Vec::new();
            let mut out = Vec::new();
            for round in &rounds {
                for &(lane, ts) in round {
                    m.push(lane, ts, pushed.len());
                    pushed.push((ts, pushed.len()));
                }
                m.end_round();
                while let Some(e) = m.pop_ready() {
                    out.push(e);
                }
            }
            let released_early = out.len();
            out.extend(m.finish());
            prop_assert_eq!(out.len(), pushed.len());
            prop_assert!(m.is_empty());
            // What the finish released is in (ts, push order) order.
            let tail = &out[released_early..];
            prop_assert!(tail.windows(2).all(|w| w[0] <= w[1]));
            let mut ids: Vec<usize> = out.iter().map(|e| e.1).collect();
            ids.sort_unstable();
            prop_assert_eq!(ids, (0..pushed.len()).collect::<Vec<_>>());
        }

        /// Events pushed in time order per lane come out as one stable sort.
        #[test]
        fn in_order_lanes_merge_like_a_stable_sort(
            lanes in proptest::collection::vec(proptest::collection::vec(0u64..100, 0..40), 1..5)
        ) {
            let mut m = OrderedMerge::new();
            let mut all = Vec::new();
            let mut id = 0;
            let mut lanes: Vec<Vec<u64>> = lanes;
            for l in &mut lanes { l.sort_unstable(); }
            // Interleave the lanes' pushes round-robin.
            let longest = lanes.iter().map(Vec::len).max().unwrap_or(0);
            for i in 0..longest {
                for (lane, l) in lanes.iter().enumerate() {
                    if let Some(&ts) = l.get(i) {
                        m.push(lane, ts, id);
                        all.push((ts, id));
                        id += 1;
                    }
                }
            }
            all.sort_by_key(|&(ts, id)| (ts, id));
            let out: Vec<_> = m.finish().collect();
            prop_assert_eq!(out, all);
        }

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
