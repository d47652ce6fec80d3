//! Which generic perf events count on this machine: every hardware,
//! software and hardware-cache event is opened on the calling thread, run
//! over a little work, and read. `ftr doctor` prints the result, so an
//! operator knows before `ftr stat` which names give numbers here.

use crate::counter::{Count, CountTarget, Counters};
use crate::events::{parse_events, primary_names, EventContext};

/// The outcome for one event name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Census {
    /// Opened and counted (the value seen over the trial).
    Counts(u64),
    /// Opened, but never scheduled on a counter during the trial.
    NotCounted,
    /// The kernel or the hardware refused it: why.
    NotSupported(String),
}

/// Tries every generic event name (no aliases), in perf list's order:
/// hardware, software, then cache events.
pub fn event_census() -> Vec<(String, Census)> {
    let ctx = EventContext::new(Vec::new(), |_| None);
    primary_names()
        .into_iter()
        .map(|name| {
            let outcome = match parse_events(&name, &ctx) {
                Ok(groups) => try_count(&groups),
                Err(e) => Census::NotSupported(e.to_string()),
            };
            (name, outcome)
        })
        .collect()
}

fn try_count(groups: &[crate::events::EventGroup]) -> Census {
    let counters = match Counters::open(groups, &CountTarget::Tasks(vec![0]), false) {
        Ok(c) => c,
        Err(e) => return Census::NotSupported(e.to_string()),
    };
    if let Some((_, why)) = counters.unsupported_reasons().first() {
        return Census::NotSupported((*why).to_owned());
    }
    let run = counters.enable().and_then(|()| {
        // Work every event can see: instructions, branches, memory, a fault.
        let mut v: Vec<u64> = (0..4096).collect();
        for i in 1..v.len() {
            v[i] = v[i].wrapping_mul(v[i - 1] | 1);
        }
        std::hint::black_box(&v);
        counters.disable()?;
        counters.snapshot()
    });
    match run.map(|s| s.counts(None)) {
        Ok(counts) => match counts.first() {
            Some(Count::Value { value, .. }) => Census::Counts(*value),
            Some(Count::NotSupported) => Census::NotSupported("not supported".into()),
            _ => Census::NotCounted,
        },
        Err(e) => Census::NotSupported(e.to_string()),
    }
}
