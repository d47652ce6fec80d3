//! memleak's report in BCC's layout (and as one JSON object per report).

use std::io::{self, Write};

/// One stack's outstanding allocations, symbolized.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StackLine {
    pub bytes: u64,
    pub allocations: u64,
    /// (address, `func+0xoff [module]`), innermost first.
    pub frames: Vec<(u64, String)>,
}

/// One report: what BCC's print_outstanding prints.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub time: String,
    pub top: usize,
    /// Smallest first, as BCC prints them (the biggest ends the report).
    pub stacks: Vec<StackLine>,
    /// `-a`: (address, size) of each outstanding block counted, smallest first.
    pub addresses: Option<Vec<(u64, u64)>>,
    /// Events the kernel dropped since tracing began.
    pub lost: u64,
    pub combined_only: bool,
}

/// BCC's text: `[HH:MM:SS] Top N stacks with outstanding allocations:`,
/// the `-a` address lines, then each stack. Combined mode prints frames
/// without their addresses, as BCC's print_outstanding_combined does.
pub fn write_text(out: &mut dyn Write, r: &Report) -> io::Result<()> {
    writeln!(
        out,
        "[{}] Top {} stacks with outstanding allocations:",
        r.time, r.top
    )?;
    if let Some(addrs) = &r.addresses {
        for (a, s) in addrs {
            writeln!(out, "\taddr = {a:x} size = {s}")?;
        }
    }
    for s in &r.stacks {
        writeln!(
            out,
            "\t{} bytes in {} allocations from stack",
            s.bytes, s.allocations
        )?;
        for (addr, sym) in &s.frames {
            if r.combined_only {
                writeln!(out, "\t\t{sym}")?;
            } else {
                writeln!(out, "\t\t0x{addr:016x}\t{sym}")?;
            }
        }
    }
    Ok(())
}

/// One JSON object per report, on one line.
pub fn write_json(out: &mut dyn Write, r: &Report) -> io::Result<()> {
    let stacks: Vec<_> = r
        .stacks
        .iter()
        .map(|s| {
            serde_json::json!({
                "bytes": s.bytes,
                "allocations": s.allocations,
                "frames": s.frames.iter().map(|(a, f)| serde_json::json!({"addr": a, "symbol": f})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut v = serde_json::json!({
        "time": r.time,
        "top": r.top,
        "stacks": stacks,
        "lost": r.lost,
    });
    if let Some(addrs) = &r.addresses {
        v["allocations"] = addrs
            .iter()
            .map(|(a, s)| serde_json::json!({"addr": a, "size": s}))
            .collect();
    }
    writeln!(out, "{v}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_matches_bcc() {
        let r = Report {
            time: "10:00:00".into(),
            top: 10,
            stacks: vec![StackLine {
                bytes: 100000,
                allocations: 100,
                frames: vec![(0x55d0c6a01189, "leak_a+0x1e [leaky]".into())],
            }],
            addresses: Some(vec![(0x55d0c7e1e2a0, 1000)]),
            lost: 0,
            combined_only: false,
        };
        let mut out = Vec::new();
        write_text(&mut out, &r).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "[10:00:00] Top 10 stacks with outstanding allocations:\n\
             \taddr = 55d0c7e1e2a0 size = 1000\n\
             \t100000 bytes in 100 allocations from stack\n\
             \t\t0x000055d0c6a01189\tleak_a+0x1e [leaky]\n"
        );
    }
}
