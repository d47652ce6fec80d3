//! Power-of-two histograms printed in the layout of bcc's
//! `print_log2_hist` (libbpf-tools/trace_helpers.c), so output can be
//! compared with biolatency or runqlat line by line.

use serde::Serialize;
use std::io::{self, Write};

/// Buckets: slot 0 holds 0 and 1, slot i holds [2^i, 2^(i+1)).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Log2Hist {
    slots: Vec<u64>,
    /// Sum of recorded values (for averages, biolatency -e).
    pub total: u64,
    /// Number of recorded values.
    pub count: u64,
}

/// The slot a value falls in: floor(log2(v)), 0 for 0 (bits.bpf.h log2l).
pub fn log2_slot(v: u64) -> usize {
    if v == 0 {
        0
    } else {
        63 - v.leading_zeros() as usize
    }
}

impl Log2Hist {
    /// An empty histogram.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one value.
    pub fn record(&mut self, v: u64) {
        let s = log2_slot(v);
        if self.slots.len() <= s {
            self.slots.resize(s + 1, 0);
        }
        self.slots[s] += 1;
        self.total = self.total.saturating_add(v);
        self.count += 1;
    }

    /// Count per slot.
    pub fn slots(&self) -> &[u64] {
        &self.slots
    }

    /// Prints like bcc: header with `unit`, one line per slot up to the last
    /// non-empty one, 40 stars wide (20 when there are more than 32 slots).
    /// Prints nothing for an empty histogram, as bcc does.
    pub fn print(&self, w: &mut dyn Write, unit: &str) -> io::Result<()> {
        let Some(idx_max) = self.slots.iter().rposition(|&v| v > 0) else {
            return Ok(());
        };
        let val_max = self.slots.iter().copied().max().unwrap_or(0);
        let small = idx_max <= 32;
        let (pad, unit_w, width, stars) = if small { (5, 19, 10, 40) } else { (15, 29, 20, 20) };
        writeln!(w, "{:pad$}{:<unit_w$} : count    distribution", "", unit)?;
        for (i, &val) in self.slots[..=idx_max].iter().enumerate() {
            let high: u128 = (1u128 << (i + 1)) - 1;
            let mut low: u128 = (1u128 << (i + 1)) >> 1;
            if low == high {
                low -= 1;
            }
            let n = (val.min(val_max) as u128 * stars as u128 / val_max.max(1) as u128) as usize;
            writeln!(
                w,
                "{low:>width$} -> {high:<width$} : {val:<8} |{}{}|",
                "*".repeat(n),
                " ".repeat(stars - n)
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_bcc_layout() {
        let mut h = Log2Hist::new();
        for v in [0, 1, 2, 3, 5, 5, 5, 5] {
            h.record(v);
        }
        let mut out = Vec::new();
        h.print(&mut out, "usecs").unwrap();
        let text = String::from_utf8(out).unwrap();
        let expected = "     usecs               : count    distribution\n\
\x20        0 -> 1          : 2        |********************                    |\n\
\x20        2 -> 3          : 2        |********************                    |\n\
\x20        4 -> 7          : 4        |****************************************|\n";
        assert_eq!(text, expected);
        assert_eq!(log2_slot(u64::MAX), 63);
        assert_eq!(h.count, 8);
        let mut empty = Vec::new();
        Log2Hist::new().print(&mut empty, "usecs").unwrap();
        assert!(empty.is_empty());
    }
}
