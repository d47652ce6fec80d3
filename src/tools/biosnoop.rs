//! `ftr biosnoop`: one line per block I/O as it completes, in the layout of
//! libbpf-tools biosnoop: `TIME(s) COMM PID DISK T SECTOR BYTES [QUE(ms)]
//! LAT(ms)`, from the block tracepoints.
//!
//! COMM and PID name the process that issued the request (the task that
//! queued it, from block_rq_insert, else the one running at
//! block_rq_issue), never the completion's context, which is an interrupt.
//! PID is the process (thread group) id, as in BCC. LAT is completion minus
//! issue; QUE (`-Q`) is issue minus insert, `-1.000` when the request was
//! not queued (dispatched straight to the driver) or its insert was not seen.

use super::common::block::{self, Disks, Done, Requests, Tgids};
use super::common::{end_session, output_result};
use super::Global;
use crate::pipeline::plan::ProbePlan;
use crate::pipeline::stop::Stop;
use anyhow::{bail, Result};
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;
use std::time::Duration;

/// `ftr biosnoop` flags.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "EXAMPLES:\n    ftr biosnoop              # trace all block I/O\n    ftr biosnoop -Q           # also show OS queued time\n    ftr biosnoop 10           # trace for 10 seconds only\n    ftr biosnoop -d sdc       # trace sdc only\n    ftr biosnoop -p 181       # only I/O issued by process 181"
)]
pub struct Args {
    /// Show the time requests spent queued in the OS (QUE column, from block_rq_insert).
    #[arg(short = 'Q', long)]
    pub queued: bool,
    /// Trace only DISK (a name from /proc/partitions, e.g. sda).
    #[arg(short = 'd', long, value_name = "DISK")]
    pub disk: Option<String>,
    /// Show only I/O issued by process PID.
    #[arg(short = 'p', long, value_name = "PID")]
    pub pid: Option<i32>,
    /// Set the per-CPU buffer to KB kilobytes.
    #[arg(short = 'b', long, value_name = "KB")]
    pub buffer_kb: Option<u64>,
    /// Stop after DURATION seconds.
    #[arg(value_name = "DURATION")]
    pub duration: Option<f64>,
}

/// The events biosnoop needs: issue and completion, plus insert to name
/// the issuer (required with `-Q`).
pub fn plan(queued: bool) -> ProbePlan {
    let third = if queued {
        block::insert_need()
    } else {
        block::issuer_need()
    };
    ProbePlan {
        needs: vec![block::issue_need(), block::completion_need(), third],
    }
}

/// Turns completed requests into output lines.
pub struct Snoop {
    disks: Disks,
    tgids: Tgids,
    queued: bool,
    pid: Option<i32>,
    first_ts: Option<u64>,
    /// Lines written.
    pub lines: u64,
    /// Completions dropped because they came before their issue.
    pub negative: u64,
}

/// The column header.
pub fn header(queued: bool) -> String {
    let mut h = format!(
        "{:<11} {:<14} {:<7} {:<7} {:<4} {:<10} {:<7} ",
        "TIME(s)", "COMM", "PID", "DISK", "T", "SECTOR", "BYTES"
    );
    if queued {
        h.push_str(&format!("{:>7} ", "QUE(ms)"));
    }
    h.push_str(&format!("{:>7}", "LAT(ms)"));
    h
}

impl Snoop {
    /// A printer; `pid` keeps only requests that process (or thread) issued.
    pub fn new(disks: Disks, queued: bool, pid: Option<i32>) -> Snoop {
        Snoop {
            disks,
            tgids: Tgids::new(),
            queued,
            pid,
            first_ts: None,
            lines: 0,
            negative: 0,
        }
    }

    /// Writes `d`'s line, unless filtered out.
    pub fn line(&mut self, out: &mut dyn Write, d: &Done) -> io::Result<()> {
        let tid = d.req.issuer.tid;
        let pid = self.tgids.get(tid).unwrap_or(tid);
        if self.pid.is_some_and(|p| p != pid && p != tid) {
            return Ok(());
        }
        let Some(lat) = d.latency_ns(false) else {
            self.negative += 1;
            return Ok(());
        };
        let first = *self.first_ts.get_or_insert(d.complete_ts);
        write!(
            out,
            "{:<11.6} {:<14.14} {:<7} {:<7} {:<4} {:<10} {:<7} ",
            d.complete_ts.saturating_sub(first) as f64 / 1e9,
            d.req.issuer.comm(),
            pid,
            self.disks.display(d.req.dev),
            d.req.rwbs.as_str(),
            d.req.sector,
            d.req.bytes
        )?;
        if self.queued {
            let q = d.queue_ns().map_or(-1.0, |q| q as f64 / 1e6);
            write!(out, "{q:7.3} ")?;
        }
        writeln!(out, "{:7.3}", lat as f64 / 1e6)?;
        self.lines += 1;
        Ok(())
    }
}

/// Runs biosnoop.
pub fn run(g: &Global, args: Args) -> Result<ExitCode> {
    if let Some(d) = args.duration {
        if !(d.is_finite() && d > 0.0) {
            bail!("duration must be a positive number of seconds, not {d}");
        }
    }
    if let Some(p) = args.pid {
        if p <= 0 {
            bail!("-p needs a positive process id, not {p}");
        }
    }
    let stop = Stop::install()?.with_duration(args.duration.map(Duration::from_secs_f64));
    let (mut session, events, disks) =
        block::start(g, &plan(args.queued), args.disk.as_deref(), args.buffer_kb)?;
    eprintln!("Tracing block device I/O... Hit Ctrl-C to end.");
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut snoop = Snoop::new(disks, args.queued, args.pid);
    let mut requests = Requests::new();
    let mut write_error = writeln!(out, "{}", header(args.queued))
        .and_then(|()| out.flush())
        .err();
    if write_error.is_some() {
        stop.request();
    }
    let stats = session.run(
        &stop,
        Duration::from_millis(100),
        &mut |ev| {
            if write_error.is_some() {
                return;
            }
            let Some(r) = events.decode(ev) else { return };
            if let Some(done) = requests.feed(&r) {
                if let Err(e) = snoop.line(&mut out, &done) {
                    write_error = Some(e);
                    stop.request();
                }
            }
        },
        &mut |cpu, m| match m {
            ftr_tracefs::ring::Missed::Count(n) => eprintln!("lost {n} events on CPU #{cpu}"),
            _ => eprintln!("lost events on CPU #{cpu}"),
        },
    );
    let flushed = out.flush();
    // Losses are reported before the pairing counters below, as before.
    let ended = end_session(session, stats);
    block::report_clock_skew(snoop.negative);
    if g.verbose > 0 {
        eprintln!(
            "ftr: {} lines; {} completions without a traced start; {} in flight at exit; {} evicted",
            snoop.lines,
            requests.unmatched,
            requests.in_flight(),
            requests.evicted
        );
    }
    ended?;
    output_result(write_error, flushed)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::common::block::{mkdev, BlockRecord, Kind, Rwbs};

    fn rec(kind: Kind, ts: u64, tid: i32, comm: &'static [u8]) -> BlockRecord<'static> {
        BlockRecord {
            kind,
            ts,
            tid,
            dev: mkdev(254, 0),
            sector: 123456,
            nr_sector: 8,
            bytes: 4096,
            rwbs: Rwbs::parse(b"WS"),
            comm,
            error: Some(0),
        }
    }

    #[test]
    fn lines_match_libbpf_layout() {
        let disks = Disks::parse_partitions("254 0 1 vda\n");
        assert_eq!(
            header(true),
            "TIME(s)     COMM           PID     DISK    T    SECTOR     BYTES   QUE(ms) LAT(ms)"
        );
        let mut s = Snoop::new(disks, true, None);
        let mut q = Requests::new();
        let mut out = Vec::new();
        q.feed(&rec(Kind::Insert, 1_000_000_000, -5, b"a-very-long-command"));
        q.feed(&rec(Kind::Issue, 1_000_250_000, 99, b"kworker/1:1H"));
        let d = q.feed(&rec(Kind::Complete, 1_001_750_000, 0, b"")).unwrap();
        s.line(&mut out, &d).unwrap();
        q.feed(&rec(Kind::Issue, 3_000_000_000, -5, b"dd"));
        let d = q.feed(&rec(Kind::Complete, 3_000_100_000, 0, b"")).unwrap();
        s.line(&mut out, &d).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "0.000000    a-very-long-co -5      vda     WS   123456     4096      0.250   1.500\n\
             1.998350    dd             -5      vda     WS   123456     4096     -1.000   0.100\n"
        );
        // -p keeps only the issuer's lines.
        let mut s = Snoop::new(Disks::default(), false, Some(7));
        let mut out = Vec::new();
        q.feed(&rec(Kind::Issue, 10, 8, b"x"));
        let d = q.feed(&rec(Kind::Complete, 20, 0, b"")).unwrap();
        s.line(&mut out, &d).unwrap();
        assert!(out.is_empty());
        q.feed(&rec(Kind::Issue, 10, -7, b"x"));
        let d = q.feed(&rec(Kind::Complete, 20, 0, b"")).unwrap();
        s.line(&mut out, &d).unwrap();
        assert_eq!(s.lines, 0, "tid -7 is not pid 7");
        let mut s = Snoop::new(Disks::default(), false, Some(-7));
        s.line(&mut out, &d).unwrap();
        assert!(String::from_utf8(out)
            .unwrap()
            .starts_with("0.000000    x              -7      254:0   WS "));
    }
}
