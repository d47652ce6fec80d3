//! `ftr bitesize`: block I/O sizes as one power-of-two histogram (in
//! Kbytes) per process name, in the layout of bcc / libbpf-tools bitesize,
//! from block_rq_issue.
//!
//! The name is the issuer's: the task that queued the request
//! (block_rq_insert) when the kernel queued it, else the task running at
//! issue. (bcc takes the task running at issue, which is a kworker when
//! the I/O scheduler dispatches asynchronously.) Requests without data
//! (flushes) count as 0 Kbytes, as in bcc.

use super::common::block::{self, BlockEvents, BlockRecord, Kind, Requests};
use super::common::interval::{run_summaries_to_stdout, write_summary_start, Aggregate, IntervalArgs};
use super::Global;
use crate::pipeline::plan::ProbePlan;
use crate::pipeline::session::Event;
use crate::pipeline::stop::Stop;
use crate::render::hist::Log2Hist;
use anyhow::Result;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::process::ExitCode;

/// `ftr bitesize` flags.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "EXAMPLES:\n    ftr bitesize              # block I/O size histograms per process, at Ctrl-C\n    ftr bitesize 1 10         # print 1 second summaries, 10 times\n    ftr bitesize -T 1         # 1s summaries with timestamps\n    ftr bitesize -c fio       # trace fio only"
)]
pub struct Args {
    /// Trace only processes whose name starts with COMM.
    #[arg(short = 'c', long, value_name = "COMM")]
    pub comm: Option<String>,
    /// Trace only DISK (a name from /proc/partitions, e.g. sda).
    #[arg(short = 'd', long, value_name = "DISK")]
    pub disk: Option<String>,
    /// Set the per-CPU buffer to KB kilobytes.
    #[arg(short = 'b', long, value_name = "KB")]
    pub buffer_kb: Option<u64>,
    /// Interval, count and -T.
    #[command(flatten)]
    pub interval: IntervalArgs,
}

/// The events bitesize needs: issue, and insert to name the issuer.
pub fn plan() -> ProbePlan {
    ProbePlan {
        needs: vec![block::issue_need(), block::issuer_need()],
    }
}

/// The aggregator: one size histogram per issuing process name.
pub struct Bitesize {
    events: BlockEvents,
    requests: Requests,
    comm: Option<Vec<u8>>,
    timestamp: bool,
    hists: BTreeMap<Vec<u8>, Log2Hist>,
}

impl Bitesize {
    /// An aggregator keeping names starting with `comm` (all when None).
    pub fn new(events: BlockEvents, comm: Option<&str>, timestamp: bool) -> Bitesize {
        Bitesize {
            events,
            requests: Requests::new(),
            // The kernel keeps 15 bytes of a name.
            comm: comm.map(|c| c.as_bytes()[..c.len().min(15)].to_vec()),
            timestamp,
            hists: BTreeMap::new(),
        }
    }

    /// Feeds one decoded block event.
    pub fn add(&mut self, r: &BlockRecord<'_>) {
        let req = match r.kind {
            Kind::Insert => {
                self.requests.start(r);
                return;
            }
            Kind::Issue => self.requests.issue_and_forget(r),
            Kind::Complete => return,
        };
        let name = req.issuer.comm_bytes();
        if self.comm.as_ref().is_some_and(|c| !name.starts_with(c)) {
            return;
        }
        match self.hists.get_mut(name) {
            Some(h) => h.record(req.bytes / 1024),
            None => self
                .hists
                .entry(name.to_vec())
                .or_default()
                .record(req.bytes / 1024),
        }
    }
}

impl Aggregate for Bitesize {
    fn event(&mut self, ev: &Event<'_>) {
        if let Some(r) = self.events.decode(ev) {
            self.add(&r);
        }
    }

    /// Prints like libbpf-tools bitesize: a blank line, the time with
    /// `-T`, then `Process Name = NAME` and a Kbytes histogram per name.
    fn report(&mut self, out: &mut dyn Write) -> io::Result<()> {
        write_summary_start(out, self.timestamp)?;
        for (name, h) in &self.hists {
            writeln!(out, "\nProcess Name = {}", String::from_utf8_lossy(name))?;
            h.print(out, "Kbytes")?;
        }
        self.hists.clear();
        Ok(())
    }
}

/// Runs bitesize.
pub fn run(g: &Global, args: Args) -> Result<ExitCode> {
    let stop = Stop::install()?;
    args.interval.validate()?;
    let (session, events, _disks) = block::start(g, &plan(), args.disk.as_deref(), args.buffer_kb)?;
    eprintln!("Tracing block device I/O... Hit Ctrl-C to end.");
    let mut agg = Bitesize::new(events, args.comm.as_deref(), args.interval.timestamp);
    let iv = IntervalArgs {
        timestamp: false,
        ..args.interval.clone()
    };
    run_summaries_to_stdout(session, &stop, &iv, &mut agg)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::common::block::Rwbs;

    fn rec(kind: Kind, tid: i32, comm: &'static [u8], sector: u64, bytes: u64) -> BlockRecord<'static> {
        BlockRecord {
            kind,
            ts: 0,
            tid,
            dev: 1,
            sector,
            nr_sector: (bytes / 512) as u32,
            bytes,
            rwbs: Rwbs::parse(b"W"),
            comm,
            error: None,
        }
    }

    #[test]
    fn per_name_histograms() {
        let mut b = Bitesize::new(BlockEvents::default(), None, false);
        b.add(&rec(Kind::Insert, 5, b"dd", 8, 131072));
        b.add(&rec(Kind::Issue, 99, b"kworker/0:1H", 8, 131072));
        b.add(&rec(Kind::Issue, 6, b"cat", 16, 4096));
        b.add(&rec(Kind::Issue, 6, b"cat", 24, 4096));
        b.add(&rec(Kind::Issue, 6, b"cat", 32, 0));
        let mut out = Vec::new();
        b.report(&mut out).unwrap();
        let t = String::from_utf8(out).unwrap();
        assert_eq!(
            t,
            "\n\nProcess Name = cat\n     Kbytes              : count    distribution\n\
\x20        0 -> 1          : 1        |********************                    |\n\
\x20        2 -> 3          : 0        |                                        |\n\
\x20        4 -> 7          : 2        |****************************************|\n\
\nProcess Name = dd\n     Kbytes              : count    distribution\n\
\x20        0 -> 1          : 0        |                                        |\n\
\x20        2 -> 3          : 0        |                                        |\n\
\x20        4 -> 7          : 0        |                                        |\n\
\x20        8 -> 15         : 0        |                                        |\n\
\x20       16 -> 31         : 0        |                                        |\n\
\x20       32 -> 63         : 0        |                                        |\n\
\x20       64 -> 127        : 0        |                                        |\n\
\x20      128 -> 255        : 1        |****************************************|\n"
        );
        let mut b = Bitesize::new(BlockEvents::default(), Some("ca"), false);
        b.add(&rec(Kind::Issue, 5, b"dd", 8, 4096));
        b.add(&rec(Kind::Issue, 6, b"cat", 16, 4096));
        let mut out = Vec::new();
        b.report(&mut out).unwrap();
        let t = String::from_utf8(out).unwrap();
        assert!(t.contains("Process Name = cat") && !t.contains("dd"), "{t}");
    }
}
