//! Merging per-CPU record streams into time order, the way `perf report`
//! does with rounds (tools/perf/util/ordered-events.c): the rings are read
//! one after another, so a record a CPU writes just after its ring was read
//! can carry an earlier time than records already read from later rings.
//! Each read of every ring is a round; once a round is complete, every
//! record up to the newest time of the *previous* round is final, because
//! anything older would have been visible to that round's reads already.
//!
//! The sorter is pure: items and times in, items out in time order.
//!
//! ```
//! use ftr_pmu::RecordSorter;
//! let mut s = RecordSorter::new();
//! s.push(30, "c"); s.push(10, "a");
//! assert!(s.end_round().is_empty()); // the first round only sets the mark
//! s.push(20, "b");
//! assert_eq!(s.end_round(), vec!["a", "b", "c"]);
//! ```

/// Items waiting for their time to become final.
#[derive(Debug, Clone)]
pub struct RecordSorter<T> {
    pending: Vec<(u64, u64, T)>,
    seq: u64,
    round_max: Option<u64>,
    previous_max: Option<u64>,
}

impl<T> Default for RecordSorter<T> {
    fn default() -> Self {
        RecordSorter::new()
    }
}

impl<T> RecordSorter<T> {
    /// An empty sorter.
    pub fn new() -> RecordSorter<T> {
        RecordSorter {
            pending: Vec::new(),
            seq: 0,
            round_max: None,
            previous_max: None,
        }
    }

    /// Adds an item read in the current round. Items with equal times keep
    /// the order they were pushed in.
    pub fn push(&mut self, time: u64, item: T) {
        self.pending.push((time, self.seq, item));
        self.seq += 1;
        self.round_max = Some(self.round_max.map_or(time, |m| m.max(time)));
    }

    /// Ends a round (every ring read once): returns, in time order, every
    /// item up to the newest time of the previous round.
    pub fn end_round(&mut self) -> Vec<T> {
        let limit = self.previous_max;
        if let Some(m) = self.round_max.take() {
            self.previous_max = Some(self.previous_max.map_or(m, |p| p.max(m)));
        }
        match limit {
            Some(limit) => self.take_until(Some(limit)),
            None => Vec::new(),
        }
    }

    /// Returns everything still pending, in time order (at the end, once
    /// no more records can arrive).
    pub fn flush(&mut self) -> Vec<T> {
        self.take_until(None)
    }

    /// Items waiting.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    fn take_until(&mut self, limit: Option<u64>) -> Vec<T> {
        self.pending.sort_unstable_by_key(|&(t, seq, _)| (t, seq));
        let n = match limit {
            Some(limit) => self.pending.partition_point(|&(t, _, _)| t <= limit),
            None => self.pending.len(),
        };
        self.pending.drain(..n).map(|(_, _, item)| item).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_late_record_from_an_earlier_ring_still_comes_first() {
        let mut s = RecordSorter::new();
        // Round 1: CPU 0 read (t=10), then CPU 1 (t=12).
        s.push(10, "cpu0 t10");
        s.push(12, "cpu1 t12");
        assert!(s.end_round().is_empty());
        // Round 2: CPU 0 now shows t=11, written after its first read.
        s.push(11, "cpu0 t11");
        s.push(20, "cpu1 t20");
        assert_eq!(s.end_round(), vec!["cpu0 t10", "cpu0 t11", "cpu1 t12"]);
        assert_eq!(s.len(), 1);
        assert_eq!(s.flush(), vec!["cpu1 t20"]);
        assert!(s.is_empty());
    }

    proptest! {
        #[test]
        fn output_is_sorted_and_complete(rounds in proptest::collection::vec(proptest::collection::vec(0u64..1000, 0..20), 0..10)) {
            let mut s = RecordSorter::new();
            let mut out = Vec::new();
            let mut n = 0;
            let sorted = |batch: &[(u64, usize)]| batch.windows(2).all(|w| w[0] <= w[1]);
            for round in &rounds {
                for &t in round {
                    s.push(t, (t, n));
                    n += 1;
                }
                let batch = s.end_round();
                prop_assert!(sorted(&batch));
                out.extend(batch);
            }
            let batch = s.flush();
            prop_assert!(sorted(&batch));
            out.extend(batch);
            prop_assert_eq!(out.len(), n);
            // Nothing is lost or repeated.
            let mut seen: Vec<usize> = out.iter().map(|&(_, i)| i).collect();
            seen.sort_unstable();
            prop_assert_eq!(seen, (0..n).collect::<Vec<_>>());
        }
    }
}
