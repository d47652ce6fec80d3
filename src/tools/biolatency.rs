//! `ftr biolatency`: block I/O latency as a power-of-two histogram, in the
//! layout of libbpf-tools biolatency, from the block tracepoints (so it
//! runs on 3.10 as on 6.x, with no BPF).
//!
//! Latency is block_rq_complete minus block_rq_issue of the same (disk,
//! sector); with `-Q`, minus block_rq_insert when the request was queued
//! (the time spent in the OS queue), as libbpf-tools' `-Q` does.

use super::common::block::{self, BlockEvents, BlockRecord, Disks, Op, Requests};
use super::common::interval::{run_summaries_to_stdout, write_summary_start, Aggregate, IntervalArgs};
use super::Global;
use crate::pipeline::plan::ProbePlan;
use crate::pipeline::session::Event;
use crate::pipeline::stop::Stop;
use crate::render::hist::Log2Hist;
use anyhow::Result;
use std::collections::HashMap;
use std::io::{self, Write};
use std::process::ExitCode;

/// `ftr biolatency` flags.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "EXAMPLES:\n    ftr biolatency              # summarize block I/O latency as a histogram\n    ftr biolatency 1 10         # print 1 second summaries, 10 times\n    ftr biolatency -mT 1        # 1s summaries, milliseconds, and timestamps\n    ftr biolatency -Q           # include OS queued time in I/O time\n    ftr biolatency -D           # show each disk device separately\n    ftr biolatency -F           # show I/O flags separately\n    ftr biolatency -e -d vda    # vda only, with total count and average"
)]
pub struct Args {
    /// Include the time requests spent queued in the OS (from block_rq_insert).
    #[arg(short = 'Q', long)]
    pub queued: bool,
    /// Show milliseconds instead of microseconds.
    #[arg(short = 'm', long)]
    pub milliseconds: bool,
    /// Print a histogram per disk.
    #[arg(short = 'D', long = "disks")]
    pub per_disk: bool,
    /// Print a histogram per set of I/O flags (from rwbs).
    #[arg(short = 'F', long = "flags")]
    pub per_flag: bool,
    /// Print the average, total and count after each summary.
    #[arg(short = 'e', long = "extended")]
    pub extended: bool,
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

/// The events biolatency needs: issue (and insert with `-Q`) and completion.
pub fn plan(queued: bool) -> ProbePlan {
    let mut needs = vec![block::issue_need(), block::completion_need()];
    if queued {
        needs.push(block::insert_need());
    }
    ProbePlan { needs }
}

/// What to show.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// `-Q`.
    pub queued: bool,
    /// `-m`.
    pub milliseconds: bool,
    /// `-D`.
    pub per_disk: bool,
    /// `-F`.
    pub per_flag: bool,
    /// `-e`.
    pub extended: bool,
    /// `-T`.
    pub timestamp: bool,
}

type Key = (Option<u32>, Option<(Op, u8)>);

/// The aggregator: decodes block events, pairs them, and keeps one
/// histogram per (disk, flag set) as the options ask.
pub struct Biolatency {
    events: BlockEvents,
    requests: Requests,
    disks: Disks,
    opts: Options,
    hists: HashMap<Key, Log2Hist>,
    total_ns: u128,
    count: u64,
    /// Completions dropped because they came before their start (trace
    /// clocks of two CPUs disagreeing).
    pub negative: u64,
}

impl Biolatency {
    /// An empty aggregator.
    pub fn new(events: BlockEvents, disks: Disks, opts: Options) -> Biolatency {
        Biolatency {
            events,
            requests: Requests::new(),
            disks,
            opts,
            hists: HashMap::new(),
            total_ns: 0,
            count: 0,
            negative: 0,
        }
    }

    /// The request pairing state (for its counters).
    pub fn requests(&self) -> &Requests {
        &self.requests
    }

    /// Feeds one decoded block event.
    pub fn add(&mut self, r: &BlockRecord<'_>) {
        let Some(done) = self.requests.feed(r) else { return };
        let Some(ns) = done.latency_ns(self.opts.queued) else {
            if done.req.issue_ts.is_some() {
                self.negative += 1;
            }
            return;
        };
        let (_, div) = self.unit();
        let key = (
            self.opts.per_disk.then_some(done.req.dev),
            self.opts.per_flag.then(|| done.req.rwbs.flag_key()),
        );
        self.hists.entry(key).or_default().record(ns / div);
        self.total_ns += ns as u128;
        self.count += 1;
    }

    /// Requests counted since the last report.
    pub fn count(&self) -> u64 {
        self.count
    }

    fn unit(&self) -> (&'static str, u64) {
        if self.opts.milliseconds {
            ("msecs", 1_000_000)
        } else {
            ("usecs", 1_000)
        }
    }
}

impl Aggregate for Biolatency {
    fn event(&mut self, ev: &Event<'_>) {
        if let Some(r) = self.events.decode(ev) {
            self.add(&r);
        }
    }

    /// Prints like libbpf-tools biolatency: a blank line, the time with
    /// `-T`, then per histogram `disk = NAME\t` (-D) and `flags = SET`
    /// (-F) on a line of their own, and with `-e` bcc's
    /// `avg = A usecs, total: T usecs, count: N` line.
    fn report(&mut self, out: &mut dyn Write) -> io::Result<()> {
        write_summary_start(out, self.opts.timestamp)?;
        let (unit, div) = self.unit();
        let mut keys: Vec<(String, String, Key)> = self
            .hists
            .keys()
            .map(|k| {
                (
                    k.0.map(|d| self.disks.display(d).into_owned())
                        .unwrap_or_default(),
                    k.1.map(block::flags_name).unwrap_or_default(),
                    *k,
                )
            })
            .collect();
        keys.sort();
        for (disk, flags, key) in keys {
            if self.opts.per_disk {
                write!(out, "\ndisk = {disk}\t")?;
            }
            if self.opts.per_flag {
                write!(out, "flags = {flags}")?;
            }
            writeln!(out)?;
            self.hists[&key].print(out, unit)?;
        }
        if self.opts.extended && self.count > 0 {
            let total = self.total_ns / div as u128;
            let avg = self.total_ns / self.count as u128 / div as u128;
            write!(
                out,
                "\navg = {avg} {unit}, total: {total} {unit}, count: {}\n\n",
                self.count
            )?;
        }
        self.hists.clear();
        self.total_ns = 0;
        self.count = 0;
        Ok(())
    }
}

/// Runs biolatency.
pub fn run(g: &Global, args: Args) -> Result<ExitCode> {
    let stop = Stop::install()?;
    args.interval.validate()?;
    let (session, events, disks) = block::start(g, &plan(args.queued), args.disk.as_deref(), args.buffer_kb)?;
    eprintln!("Tracing block device I/O... Hit Ctrl-C to end.");
    let opts = Options {
        queued: args.queued,
        milliseconds: args.milliseconds,
        per_disk: args.per_disk,
        per_flag: args.per_flag,
        extended: args.extended,
        timestamp: args.interval.timestamp,
    };
    let mut agg = Biolatency::new(events, disks, opts);
    // The aggregator prints -T itself, after the blank line, as libbpf-tools does.
    let iv = IntervalArgs {
        timestamp: false,
        ..args.interval.clone()
    };
    // Losses are reported before the pairing counters below, as before.
    let ended = run_summaries_to_stdout(session, &stop, &iv, &mut agg);
    block::report_clock_skew(agg.negative);
    if g.verbose > 0 {
        let r = agg.requests();
        eprintln!(
            "ftr: {} completions without a traced start; {} in flight at exit; {} evicted",
            r.unmatched,
            r.in_flight(),
            r.evicted
        );
    }
    ended?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::common::block::{mkdev, Kind, Rwbs};

    fn feed(agg: &mut Biolatency, kind: Kind, ts: u64, dev: u32, sector: u64, rwbs: &[u8]) {
        let r = BlockRecord {
            kind,
            ts,
            tid: 1,
            dev,
            sector,
            nr_sector: 8,
            bytes: 4096,
            rwbs: Rwbs::parse(rwbs),
            comm: b"x",
            error: None,
        };
        agg.add(&r);
    }

    fn text(agg: &mut Biolatency) -> String {
        let mut out = Vec::new();
        agg.report(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn histogram_math_and_layout() {
        let disks = Disks::parse_partitions("254 0 1 vda\n8 0 1 sda\n");
        let opts = Options {
            extended: true,
            ..Default::default()
        };
        let mut agg = Biolatency::new(BlockEvents::default(), disks.clone(), opts);
        // 3 us, 5 us, 5 us, 1000 us.
        for (i, lat) in [3_000u64, 5_000, 5_999, 1_000_000].into_iter().enumerate() {
            feed(&mut agg, Kind::Issue, 100, mkdev(254, 0), i as u64, b"W");
            feed(&mut agg, Kind::Complete, 100 + lat, mkdev(254, 0), i as u64, b"W");
        }
        let t = text(&mut agg);
        assert_eq!(
            t,
            "\n\n     usecs               : count    distribution\n\
\x20        0 -> 1          : 0        |                                        |\n\
\x20        2 -> 3          : 1        |********************                    |\n\
\x20        4 -> 7          : 2        |****************************************|\n\
\x20        8 -> 15         : 0        |                                        |\n\
\x20       16 -> 31         : 0        |                                        |\n\
\x20       32 -> 63         : 0        |                                        |\n\
\x20       64 -> 127        : 0        |                                        |\n\
\x20      128 -> 255        : 0        |                                        |\n\
\x20      256 -> 511        : 0        |                                        |\n\
\x20      512 -> 1023       : 1        |********************                    |\n\
\navg = 253 usecs, total: 1013 usecs, count: 4\n\n"
        );
        // Reset after a report: an empty interval prints only the blank line.
        assert_eq!(text(&mut agg), "\n");

        let opts = Options {
            per_disk: true,
            per_flag: true,
            milliseconds: true,
            ..Default::default()
        };
        let mut agg = Biolatency::new(BlockEvents::default(), disks, opts);
        feed(&mut agg, Kind::Issue, 0, mkdev(8, 0), 1, b"RA");
        feed(&mut agg, Kind::Issue, 0, mkdev(254, 0), 1, b"WS");
        feed(&mut agg, Kind::Complete, 2_500_000, mkdev(254, 0), 1, b"WS");
        feed(&mut agg, Kind::Complete, 9_000_000, mkdev(8, 0), 1, b"RA");
        let t = text(&mut agg);
        assert!(
            t.starts_with("\n\ndisk = sda\tflags = ReadAhead-Read\n     msecs "),
            "{t}"
        );
        assert!(
            t.contains("\n\ndisk = vda\tflags = Sync-Write\n     msecs "),
            "{t}"
        );
        assert!(t.contains("         8 -> 15         : 1"), "{t}");
        assert!(t.contains("         2 -> 3          : 1"), "{t}");
    }

    #[test]
    fn queued_adds_insert_time() {
        let opts = Options {
            queued: true,
            ..Default::default()
        };
        let mut agg = Biolatency::new(BlockEvents::default(), Disks::default(), opts);
        feed(&mut agg, Kind::Insert, 0, 1, 8, b"W");
        feed(&mut agg, Kind::Issue, 40_000, 1, 8, b"W");
        feed(&mut agg, Kind::Complete, 50_000, 1, 8, b"W");
        assert!(text(&mut agg).contains("        32 -> 63         : 1"));
    }
}
