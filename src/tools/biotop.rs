//! `ftr biotop`: block I/O by process and disk, refreshed every interval
//! like top, in the layout of libbpf-tools biotop: `PID COMM D MAJ MIN DISK
//! I/O Kbytes AVGms`, from the block tracepoints.
//!
//! PID and COMM are the issuer's (see biosnoop); D is the operation letter
//! from `rwbs` (libbpf-tools folds everything that is not a write into
//! `R`; ftr shows `D` for discards and `F` for flushes). AVGms is the mean
//! of completion minus issue.

use super::common::block::{self, BlockEvents, BlockRecord, Disks, Requests, Tgids};
use super::common::interval::{hms_now, run_summaries_to_stdout, Aggregate};
use super::Global;
use crate::pipeline::plan::ProbePlan;
use crate::pipeline::session::Event;
use crate::pipeline::stop::Stop;
use anyhow::Result;
use std::collections::HashMap;
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

/// Sort orders of `-s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Sort {
    /// I/O count + bytes + microseconds, as libbpf-tools' default.
    #[default]
    All,
    /// I/O count.
    Io,
    /// Bytes.
    Bytes,
    /// Total latency.
    Time,
}

/// `ftr biotop` flags.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "EXAMPLES:\n    ftr biotop              # block I/O top, refresh every 1s\n    ftr biotop 5 10         # 5s summaries, 10 times\n    ftr biotop -C -r 5      # don't clear the screen, top 5 rows\n    ftr biotop -p 181       # only I/O issued by process 181"
)]
pub struct Args {
    /// Don't clear the screen between summaries.
    #[arg(short = 'C', long = "noclear")]
    pub no_clear: bool,
    /// Print at most ROWS rows per summary.
    #[arg(short = 'r', long = "rows", value_name = "ROWS", default_value_t = 20)]
    pub rows: usize,
    /// Sort rows by SORT.
    #[arg(short = 's', long, value_enum, default_value_t = Sort::All)]
    pub sort: Sort,
    /// Show only I/O issued by process PID.
    #[arg(short = 'p', long, value_name = "PID")]
    pub pid: Option<i32>,
    /// Set the per-CPU buffer to KB kilobytes.
    #[arg(short = 'b', long, value_name = "KB")]
    pub buffer_kb: Option<u64>,
    /// Print a summary every INTERVAL seconds.
    #[arg(value_name = "INTERVAL", default_value_t = 1.0)]
    pub interval: f64,
    /// Exit after COUNT summaries.
    #[arg(value_name = "COUNT")]
    pub count: Option<u64>,
}

/// The events biotop needs: issue, completion, and insert to name the issuer.
pub fn plan() -> ProbePlan {
    ProbePlan {
        needs: vec![
            block::issue_need(),
            block::completion_need(),
            block::issuer_need(),
        ],
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Val {
    io: u64,
    bytes: u64,
    ns: u64,
}

type Key = (i32, [u8; 16], char, u32);

/// The aggregator: I/O count, bytes and latency per (process, name,
/// operation, disk).
pub struct Biotop {
    events: BlockEvents,
    requests: Requests,
    disks: Disks,
    tgids: Tgids,
    rows: usize,
    sort: Sort,
    pid: Option<i32>,
    clear: bool,
    header: Box<dyn FnMut() -> String>,
    counts: HashMap<Key, Val>,
}

/// The first summary line: `HH:MM:SS loadavg: ...` (/proc/loadavg).
pub fn loadavg_line() -> String {
    let avg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    format!("{:>8} loadavg: {}", hms_now(), avg)
}

impl Biotop {
    /// An aggregator printing at most `rows` rows sorted by `sort`; `clear`
    /// clears the screen before each summary; `header` makes its first line.
    pub fn new(
        events: BlockEvents,
        disks: Disks,
        rows: usize,
        sort: Sort,
        pid: Option<i32>,
        clear: bool,
        header: Box<dyn FnMut() -> String>,
    ) -> Biotop {
        Biotop {
            events,
            requests: Requests::new(),
            disks,
            tgids: Tgids::new(),
            rows,
            sort,
            pid,
            clear,
            header,
            counts: HashMap::new(),
        }
    }

    /// Feeds one decoded block event.
    pub fn add(&mut self, r: &BlockRecord<'_>) {
        let Some(d) = self.requests.feed(r) else { return };
        let Some(ns) = d.latency_ns(false) else { return };
        let tid = d.req.issuer.tid;
        let pid = self.tgids.get(tid).unwrap_or(tid);
        if self.pid.is_some_and(|p| p != pid && p != tid) {
            return;
        }
        let mut comm = [0u8; 16];
        let c = d.req.issuer.comm_bytes();
        comm[..c.len()].copy_from_slice(c);
        let v = self
            .counts
            .entry((pid, comm, d.req.rwbs.op().letter(), d.req.dev))
            .or_default();
        v.io += 1;
        v.bytes += d.req.bytes;
        v.ns += ns;
    }
}

impl Aggregate for Biotop {
    fn event(&mut self, ev: &Event<'_>) {
        if let Some(r) = self.events.decode(ev) {
            self.add(&r);
        }
    }

    fn report(&mut self, out: &mut dyn Write) -> io::Result<()> {
        if self.clear {
            // What clear(1) writes: cursor home, erase screen.
            write!(out, "\x1b[H\x1b[2J")?;
        }
        writeln!(out, "{}", (self.header)())?;
        writeln!(
            out,
            "{:<7} {:<16} {:1} {:<3} {:<3} {:<8} {:>5} {:>7} {:>6}",
            "PID", "COMM", "D", "MAJ", "MIN", "DISK", "I/O", "Kbytes", "AVGms"
        )?;
        let mut rows: Vec<(Key, Val)> = self.counts.drain().collect();
        let score = |v: &Val| match self.sort {
            Sort::All => v.io + v.bytes + v.ns / 1000,
            Sort::Io => v.io,
            Sort::Bytes => v.bytes,
            Sort::Time => v.ns,
        };
        rows.sort_by(|a, b| score(&b.1).cmp(&score(&a.1)).then(a.0.cmp(&b.0)));
        for ((pid, comm, op, dev), v) in rows.into_iter().take(self.rows) {
            let end = comm.iter().position(|&c| c == 0).unwrap_or(16);
            writeln!(
                out,
                "{:<7} {:<16} {:1} {:<3} {:<3} {:<8} {:>5} {:>7} {:>6.2}",
                pid,
                String::from_utf8_lossy(&comm[..end]),
                op,
                block::major(dev),
                block::minor(dev),
                self.disks.name(dev).unwrap_or(""),
                v.io,
                v.bytes / 1024,
                v.ns as f64 / 1e6 / v.io as f64
            )?;
        }
        writeln!(out)
    }
}

/// Runs biotop.
pub fn run(g: &Global, args: Args) -> Result<ExitCode> {
    let stop = Stop::install()?;
    let iv = super::common::validate_top(args.interval, args.count, args.rows, "-r", args.pid)?;
    // biotop has no -d: every disk is a row.
    let (session, events, disks) = block::start(g, &plan(), None, args.buffer_kb)?;
    eprintln!("Tracing block device I/O... Hit Ctrl-C to end.");
    let clear = !args.no_clear && io::stdout().is_terminal();
    let mut agg = Biotop::new(
        events,
        disks,
        args.rows,
        args.sort,
        args.pid,
        clear,
        Box::new(loadavg_line),
    );
    run_summaries_to_stdout(session, &stop, &iv, &mut agg)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::common::block::{mkdev, Kind, Rwbs};

    fn io(t: &mut Biotop, tid: i32, comm: &'static [u8], sector: u64, rwbs: &[u8], bytes: u64, lat: u64) {
        let mut r = BlockRecord {
            kind: Kind::Issue,
            ts: 1000,
            tid,
            dev: mkdev(254, 0),
            sector,
            nr_sector: (bytes / 512) as u32,
            bytes,
            rwbs: Rwbs::parse(rwbs),
            comm,
            error: None,
        };
        t.add(&r);
        r.kind = Kind::Complete;
        r.ts += lat;
        t.add(&r);
    }

    #[test]
    fn rows_sorted_and_limited() {
        let disks = Disks::parse_partitions("254 0 1 vda\n");
        let mut t = Biotop::new(
            BlockEvents::default(),
            disks,
            2,
            Sort::All,
            None,
            false,
            Box::new(|| "12:00:00 loadavg: 0.00 0.00 0.00 1/1 1\n".into()),
        );
        io(&mut t, -3, b"dd", 8, b"W", 4096, 1_000_000);
        io(&mut t, -3, b"dd", 16, b"WS", 4096, 3_000_000);
        io(&mut t, -4, b"cat", 24, b"R", 65536, 500_000);
        io(&mut t, -5, b"jbd2/vda-8", 32, b"FF", 0, 100_000);
        let mut out = Vec::new();
        t.report(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "12:00:00 loadavg: 0.00 0.00 0.00 1/1 1\n\n\
PID     COMM             D MAJ MIN DISK       I/O  Kbytes  AVGms\n\
-4      cat              R 254 0   vda          1      64   0.50\n\
-3      dd               W 254 0   vda          2       8   2.00\n\n"
        );
        // Reset after a report.
        let mut out = Vec::new();
        t.report(&mut out).unwrap();
        assert!(String::from_utf8(out).unwrap().ends_with("AVGms\n\n"));
    }
}
