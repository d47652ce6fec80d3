//! What one report counts, from the outstanding table: per-stack totals
//! of the blocks older than `-o` (every block with `--combined-only`),
//! `-a`'s addresses, sorted and cut to `-T`. Shared by user and kernel
//! mode, which differ only in how they symbolize the stacks.

use super::tracker::Tracker;
use super::{Args, SortKey};
use std::collections::HashMap;
use std::time::Instant;

/// The stacks and blocks a report shows, before symbolization.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outstanding {
    /// (stack id, bytes, allocations), smallest first, at most `-T`.
    pub stacks: Vec<(u32, u64, u64)>,
    /// `-a`: (address, size) of each block counted, smallest first.
    pub addresses: Option<Vec<(u64, u64)>>,
}

/// "Now" on the samples' clock, in the tracker's milliseconds: the
/// latest sample's time plus the wall time since it was read.
pub fn now_ms(t: &mut Tracker, last: Option<(u64, Instant)>) -> u64 {
    last.map(|(time, at)| {
        let now = time.saturating_add(at.elapsed().as_nanos() as u64);
        u64::from(t.age_base_ms(now))
    })
    .unwrap_or(0)
}

/// The stacks holding outstanding blocks at least `older_ms` old at
/// `now_ms`, as `a` asks (`--combined-only`, `-a`, `--sort`, `-T`).
pub fn outstanding(t: &Tracker, now_ms: u64, older_ms: u64, a: &Args) -> Outstanding {
    let mut per_stack: HashMap<u32, (u64, u64)> = HashMap::new();
    let mut addresses = a.show_allocs.then(Vec::new);
    if a.combined_only {
        for (id, bytes, n) in t.combined() {
            per_stack.insert(id, (bytes, n));
        }
        addresses = None;
    } else {
        for (addr, b) in t.blocks() {
            if now_ms.saturating_sub(u64::from(b.born_ms)) < older_ms {
                continue;
            }
            let e = per_stack.entry(b.stack).or_default();
            e.0 += b.size;
            e.1 += 1;
            if let Some(v) = addresses.as_mut() {
                v.push((addr, b.size));
            }
        }
    }
    if let Some(v) = addresses.as_mut() {
        v.sort_by_key(|&(addr, size)| (size, addr));
    }
    let mut stacks: Vec<(u32, u64, u64)> = per_stack.into_iter().map(|(id, (b, n))| (id, b, n)).collect();
    stacks.sort_by_key(|&(id, b, n)| match a.sort {
        SortKey::Size => (b, n, id),
        SortKey::Count => (n, b, id),
    });
    let skip = stacks.len().saturating_sub(a.top);
    stacks.drain(..skip);
    Outstanding { stacks, addresses }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::memleak::tracker::Filters;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn args(flags: &[&str]) -> Args {
        Cli::parse_from(std::iter::once("memleak").chain(flags.iter().copied())).args
    }

    #[test]
    fn older_blocks_by_stack_sorted_and_cut_to_top() {
        let mut t = Tracker::new(Filters::default());
        // Stack 0: three small blocks, one young; stack 1: one big block.
        t.allocated(0, 0x10, 10, &[1], 0);
        t.allocated(0, 0x20, 10, &[1], 1_000_000);
        t.allocated(0, 0x30, 10, &[1], 900_000_000);
        t.allocated(0, 0x40, 1000, &[2], 0);
        let all = outstanding(&t, 1000, 0, &args(&[]));
        assert_eq!(all.stacks, vec![(0, 30, 3), (1, 1000, 1)]);
        assert_eq!(all.addresses, None);
        let old = outstanding(&t, 1000, 500, &args(&["-a"]));
        assert_eq!(old.stacks, vec![(0, 20, 2), (1, 1000, 1)]);
        assert_eq!(old.addresses, Some(vec![(0x10, 10), (0x20, 10), (0x40, 1000)]));
        let by_count = outstanding(&t, 1000, 0, &args(&["--sort", "count", "-T", "1"]));
        assert_eq!(by_count.stacks, vec![(0, 30, 3)]);
        // --combined-only ignores the age and -a.
        let combined = outstanding(&t, 1000, 500, &args(&["--combined-only", "-a"]));
        assert_eq!(combined.stacks, vec![(0, 30, 3), (1, 1000, 1)]);
        assert_eq!(combined.addresses, None);
    }
}
