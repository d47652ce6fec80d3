//! A request's `rwbs` string: operation and flags as the kernel's
//! `blk_fill_rwbs` wrote them, and their names in libbpf-tools' words.

use std::borrow::Cow;

/// The operation of a request, from `rwbs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    /// `R`.
    Read,
    /// `W`.
    Write,
    /// `F` as the operation (a cache flush without data).
    Flush,
    /// `D`.
    Discard,
    /// `DE` (or `D` plus the 3.x `E` flag).
    SecureErase,
    /// `N` or anything else.
    Other,
}

impl Op {
    /// The name libbpf-tools biolatency -F prints.
    pub fn name(self) -> &'static str {
        match self {
            Op::Read => "Read",
            Op::Write => "Write",
            Op::Flush => "Flush",
            Op::Discard => "Discard",
            Op::SecureErase => "SecureErase",
            Op::Other => "Unknown",
        }
    }

    /// One letter, as in the first operation letter of `rwbs`.
    pub fn letter(self) -> char {
        match self {
            Op::Read => 'R',
            Op::Write => 'W',
            Op::Flush => 'F',
            Op::Discard | Op::SecureErase => 'D',
            Op::Other => 'N',
        }
    }

    /// Counted as "reads completed" or "writes completed" in /proc/diskstats.
    pub fn is_read_or_write(self) -> bool {
        matches!(self, Op::Read | Op::Write)
    }
}

/// Flag bits of [`Rwbs`].
const PREFLUSH: u8 = 1;
const FUA: u8 = 2;
const RAHEAD: u8 = 4;
const SYNC: u8 = 8;
const META: u8 = 16;

/// A request's `rwbs` string as the kernel's `blk_fill_rwbs` wrote it:
/// `[F]OP[F][A][S][M]...` with OP one of `W R D DE F N` (preflush first,
/// then FUA, readahead, sync, metadata; 3.x adds `E` for secure discard,
/// 6.11+ `U` for atomic writes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rwbs {
    text: [u8; 16],
    len: u8,
    op: Op,
    bits: u8,
}

impl Rwbs {
    /// Parses the field bytes (NUL-padded). Never panics.
    pub fn parse(raw: &[u8]) -> Rwbs {
        let end = raw.iter().position(|&c| c == 0).unwrap_or(raw.len()).min(16);
        let s = &raw[..end];
        let mut text = [0u8; 16];
        text[..end].copy_from_slice(s);
        let mut bits = 0;
        let mut i = 0;
        // A leading F is REQ_PREFLUSH only when an operation letter follows
        // ("FWS", "FF"); alone, "F" is the flush operation itself.
        if s.len() >= 2 && s[0] == b'F' && matches!(s[1], b'W' | b'R' | b'D' | b'F' | b'N') {
            bits |= PREFLUSH;
            i = 1;
        }
        let mut op = match s.get(i) {
            Some(b'W') => Op::Write,
            Some(b'R') => Op::Read,
            Some(b'D') => Op::Discard,
            Some(b'F') => Op::Flush,
            _ => Op::Other,
        };
        if matches!(s.get(i), Some(b'W' | b'R' | b'D' | b'F' | b'N')) {
            i += 1;
        }
        for &c in s.get(i..).unwrap_or_default() {
            match c {
                b'F' => bits |= FUA,
                b'A' => bits |= RAHEAD,
                b'S' => bits |= SYNC,
                b'M' => bits |= META,
                b'E' if op == Op::Discard => op = Op::SecureErase,
                _ => {}
            }
        }
        Rwbs {
            text,
            len: end as u8,
            op,
            bits,
        }
    }

    /// The text as the kernel wrote it (`WS`, `RA`, `FF`).
    pub fn as_str(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.text[..self.len as usize])
    }

    /// The operation.
    pub fn op(&self) -> Op {
        self.op
    }

    /// A key for grouping by flag set (biolatency -F): operation and flags.
    pub fn flag_key(&self) -> (Op, u8) {
        (self.op, self.bits)
    }

    /// The flag set in libbpf-tools biolatency's words, flags first in its
    /// order: `ReadAhead-`, `PreFlush-`, `FUA-`, `Metadata-`, `Sync-`, then
    /// the operation (`Sync-Write`, `ReadAhead-Read`). NoWait, Background,
    /// Integrity, Idle, NoMerge and Priority are not in `rwbs`, so never
    /// shown.
    pub fn flags_name(&self) -> String {
        flags_name(self.flag_key())
    }
}

/// [`Rwbs::flags_name`] of a [`Rwbs::flag_key`].
pub fn flags_name((op, bits): (Op, u8)) -> String {
    let mut s = String::new();
    for (bit, word) in [
        (RAHEAD, "ReadAhead-"),
        (PREFLUSH, "PreFlush-"),
        (FUA, "FUA-"),
        (META, "Metadata-"),
        (SYNC, "Sync-"),
    ] {
        if bits & bit != 0 {
            s.push_str(word);
        }
    }
    s.push_str(op.name());
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn rwbs_never_panics(raw in prop::collection::vec(any::<u8>(), 0..40)) {
            let r = Rwbs::parse(&raw);
            let _ = (r.as_str(), r.flags_name());
        }
    }

    #[test]
    fn rwbs_decoding() {
        let cases: &[(&[u8], Op, &str)] = &[
            (b"R\0\0\0\0\0\0\0", Op::Read, "Read"),
            (b"RA", Op::Read, "ReadAhead-Read"),
            (b"WS", Op::Write, "Sync-Write"),
            (b"WFS", Op::Write, "FUA-Sync-Write"),
            (b"FWS", Op::Write, "PreFlush-Sync-Write"),
            (b"FWFSM", Op::Write, "PreFlush-FUA-Metadata-Sync-Write"),
            (b"RM", Op::Read, "Metadata-Read"),
            (b"FF", Op::Flush, "PreFlush-Flush"),
            (b"F", Op::Flush, "Flush"),
            (b"FS", Op::Flush, "Sync-Flush"),
            (b"D", Op::Discard, "Discard"),
            (b"DE", Op::SecureErase, "SecureErase"),
            (b"DSE", Op::SecureErase, "Sync-SecureErase"),
            (b"N", Op::Other, "Unknown"),
            (b"", Op::Other, "Unknown"),
            (b"WSU", Op::Write, "Sync-Write"),
        ];
        for (raw, op, name) in cases {
            let r = Rwbs::parse(raw);
            assert_eq!(r.op(), *op, "{raw:?}");
            assert_eq!(r.flags_name(), *name, "{raw:?}");
        }
        assert_eq!(Rwbs::parse(b"WS\0junk").as_str(), "WS");
        assert!(Op::Read.is_read_or_write() && !Op::Flush.is_read_or_write());
        assert_ne!(Rwbs::parse(b"W").flag_key(), Rwbs::parse(b"WS").flag_key());
    }
}
