//! `ftr report`: print a trace.dat (v6 or v7, from ftr or trace-cmd) the
//! way `trace-cmd report` does: a `cpus=N` line, then one line per event,
//! `comm-pid [cpu] secs.usecs: name: formatted`, merged across CPUs by
//! timestamp, with each event's print fmt evaluated.

use super::Global;
use anyhow::{bail, Context, Result};
use ftr_tracefs::format::filter::{EventTest, RecordContext, ReportFilter};
use ftr_tracefs::format::printfmt::{Ctx, EventPrinter, FtraceKind, FtraceRenderer, Symbols};
use ftr_tracefs::format::{FieldRef, Formats};
use ftr_tracefs::ring::{Events, Missed, PageLayout, Pages};
use ftr_tracefs::tracedat::{TraceDat, TraceData};
use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// `ftr report` flags.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "EXAMPLES:\n    ftr report                       # read trace.dat\n    ftr report -i sched.dat --cpu 1  # only CPU 1\n    ftr report --events              # the recorded event formats\n    ftr report --stat                # per-CPU buffer statistics"
)]
pub struct Args {
    /// Read FILE instead of trace.dat.
    #[arg(short = 'i', long = "input", value_name = "FILE", default_value = "trace.dat")]
    pub input: PathBuf,
    /// Show only events recorded on CPU N.
    #[arg(long, value_name = "N")]
    pub cpu: Option<u32>,
    /// Print the event formats stored in the file instead of the events.
    #[arg(long)]
    pub events: bool,
    /// Print the per-CPU kernel buffer statistics stored in the file.
    #[arg(long)]
    pub stat: bool,
    /// Print raw field values instead of the formatted text.
    #[arg(short = 'R', long)]
    pub raw: bool,
    /// Show only events matching FILTER (`EVENTS[:EXPR]`, libtraceevent's
    /// syntax, e.g. 'sched_switch: prev_pid == 1'); repeatable, any may match.
    #[arg(short = 'F', long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
}

/// Counts of what the report could not render like trace-cmd.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReportStats {
    /// Events printed.
    pub events: u64,
    /// Events printed as `field=value` because their print fmt is unsupported.
    pub fallback: u64,
    /// Records whose type has no format in the file.
    pub unknown: u64,
    /// Pages that did not decode to their end.
    pub bad_pages: u64,
}

/// One CPU's records in order, with the page's missed-events mark on the
/// first record after a gap.
struct CpuStream<'a> {
    cpu: u32,
    pages: Pages<'a>,
    events: Option<Events<'a>>,
    missed: Missed,
    bad_pages: u64,
}

struct Head<'a> {
    ts: u64,
    payload: &'a [u8],
    missed: Missed,
}

impl<'a> CpuStream<'a> {
    fn next(&mut self) -> Option<Head<'a>> {
        loop {
            if let Some(ev) = &mut self.events {
                match ev.next() {
                    Some(Ok(raw)) => {
                        let missed = std::mem::replace(&mut self.missed, Missed::None);
                        return Some(Head {
                            ts: raw.ts,
                            payload: raw.payload,
                            missed,
                        });
                    }
                    Some(Err(_)) => {
                        self.bad_pages += 1;
                        self.events = None;
                    }
                    None => self.events = None,
                }
            }
            match self.pages.next()? {
                Ok(p) => {
                    if p.missed() != Missed::None {
                        self.missed = p.missed();
                    }
                    self.events = Some(p.events());
                }
                Err(_) => self.bad_pages += 1,
            }
        }
    }
}

/// A multiplicative hasher for pid keys: the comm table is looked up for
/// every event, and SipHash showed in profiles of large reports.
#[derive(Default, Clone, Copy)]
struct PidHasher(u64);

impl std::hash::Hasher for PidHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_i32(&mut self, v: i32) {
        self.0 = u64::from(v as u32).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type PidMap<V> = HashMap<i32, V, std::hash::BuildHasherDefault<PidHasher>>;

/// How one event type prints: its renderer, its `common_pid` and name.
struct TypePrinter {
    printer: EventPrinter,
    pid: Option<FieldRef>,
    name: String,
    /// What `-F` asks of this event's records.
    test: EventTest,
    /// A kernel or user stack event, shown after a shown event of its CPU.
    stack: bool,
}

/// Everything needed to print the events of one file.
pub struct Printer {
    formats: Formats,
    /// Indexed by event id; filled on first use.
    printers: Vec<Option<TypePrinter>>,
    /// pid → the line prefix `{comm:>16}-{pid:<5}`; the comm of a pid
    /// never changes once known (trace-cmd registers only unknown pids).
    comms: PidMap<String>,
    /// The prefix of pid 0, always `<idle>`.
    idle: String,
    /// The ` [cpu]` column of each CPU.
    cpu_cols: Vec<String>,
    syms: Symbols,
    /// trace-cmd's own rendering of the function tracers' records.
    ftrace: FtraceRenderer,
    endian: ftr_tracefs::Endian,
    long_size: usize,
    in_ns: bool,
    ts_offset: i64,
    raw: bool,
    line: String,
    /// `-F`, empty when not given.
    filter: ReportFilter,
    /// Per CPU: whether its last record was shown (stack events follow it).
    last_shown: Vec<bool>,
    /// What could not be rendered like trace-cmd.
    pub stats: ReportStats,
}

/// Lines are collected in one buffer and written in blocks of this size,
/// which `BufWriter` passes straight to the file without another copy.
const FLUSH_AT: usize = 1 << 20;

/// `{comm:>16}-{pid:<5}`, the start of each line of a task.
fn comm_prefix(comm: &str, pid: i32) -> String {
    format!("{comm:>16}-{pid:<5}")
}

/// Appends `v` in decimal, right-aligned (`left` false) or left-aligned in
/// `width` columns, or zero-padded to `width` digits when `zero` is set:
/// `{v:>w}`, `{v:<w}`, `{v:0w}` without the formatting machinery.
fn push_num(out: &mut String, v: u64, width: usize, left: bool, zero: bool) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut x = v;
    loop {
        i -= 1;
        buf[i] = b'0' + (x % 10) as u8;
        x /= 10;
        if x == 0 {
            break;
        }
    }
    let digits = &buf[i..];
    let fill = width.saturating_sub(digits.len());
    if !left {
        out.extend(std::iter::repeat_n(if zero { '0' } else { ' ' }, fill));
    }
    out.extend(digits.iter().map(|&d| char::from(d)));
    if left {
        out.extend(std::iter::repeat_n(' ', fill));
    }
}

impl Printer {
    /// Prepares to print `t`'s events.
    pub fn new(t: &TraceDat<'_>, raw: bool) -> Result<Printer> {
        let layout = t.layout().context("parsing header_page")?;
        let (formats, _bad) = t.formats();
        let ftrace = FtraceRenderer::new(&formats);
        let mut comms = PidMap::default();
        for (pid, comm) in t.cmdlines() {
            comms.entry(pid).or_insert_with(|| comm_prefix(comm, pid));
        }
        Ok(Printer {
            formats,
            printers: Vec::new(),
            comms,
            cpu_cols: Vec::new(),
            idle: comm_prefix("<idle>", 0),
            ftrace,
            syms: Symbols::parse(&t.kallsyms).with_printk_formats(&t.printk_formats),
            endian: t.endian,
            long_size: layout.kernel_long_size(),
            in_ns: t.timestamps_in_ns(),
            ts_offset: t.ts_offset(),
            raw,
            line: String::with_capacity(FLUSH_AT + 4096),
            filter: ReportFilter::default(),
            last_shown: Vec::new(),
            stats: ReportStats::default(),
        })
    }

    /// Writes one record as trace-cmd does; a function_graph entry may
    /// take its exit from `merge` to print both as one leaf line.
    fn write_event(
        &mut self,
        out: &mut dyn Write,
        cpu: u32,
        ts: u64,
        data: &[u8],
        missed: Missed,
        merge: &mut Merge<'_>,
    ) -> std::io::Result<()> {
        {
            use std::fmt::Write as _;
            match missed {
                Missed::None => {}
                Missed::Count(n) => {
                    let _ = writeln!(self.line, "CPU:{cpu} [{n} EVENTS DROPPED]");
                }
                Missed::Unknown => {
                    let _ = writeln!(self.line, "CPU:{cpu} [EVENTS DROPPED]");
                }
            }
        }
        let Some(id) = self.endian.u16(data, 0) else {
            return Ok(());
        };
        let idx = usize::from(id);
        if self.printers.get(idx).is_none_or(Option::is_none) {
            let Some(schema) = self.formats.get(id) else {
                self.stats.unknown += 1;
                return Ok(());
            };
            if self.printers.len() <= idx {
                self.printers.resize_with(idx + 1, || None);
            }
            self.printers[idx] = Some(TypePrinter {
                printer: EventPrinter::new(schema),
                pid: schema.common_pid(),
                name: schema.name.clone(),
                test: self.filter.for_event(schema),
                stack: schema.system == "ftrace"
                    && matches!(schema.name.as_str(), "kernel_stack" | "user_stack"),
            });
        }
        let Printer {
            printers,
            comms,
            syms,
            line,
            stats,
            ftrace,
            ..
        } = self;
        let Some(tp) = printers.get(idx).and_then(Option::as_ref) else {
            return Ok(());
        };
        let pid = tp.pid.and_then(|f| f.i64(data, self.endian)).unwrap_or(-1) as i32;
        if !self.filter.is_empty() {
            let c = cpu as usize;
            if self.last_shown.len() <= c {
                self.last_shown.resize(c + 1, false);
            }
            // trace-cmd shows a stack trace after a shown event of its CPU.
            let shown = (tp.stack && self.last_shown[c])
                || tp.test.matches(&RecordContext {
                    data,
                    endian: self.endian,
                    cpu,
                    comm: comms
                        .get(&pid)
                        .and_then(|p| Some(p.rsplit_once('-')?.0.trim_start())),
                });
            self.last_shown[c] = shown && !tp.stack;
            if !shown {
                return Ok(());
            }
        }
        let ts = ts.wrapping_add(self.ts_offset as u64);
        let name = tp.name.as_str();
        let start = line.len();
        match pid {
            0 => line.push_str(&self.idle),
            p => match comms.get(&p) {
                Some(prefix) => line.push_str(prefix),
                None => line.push_str(&comm_prefix("<...>", p)),
            },
        }
        let c = cpu as usize;
        if self.cpu_cols.len() <= c {
            self.cpu_cols.resize_with(c + 1, String::new);
        }
        if self.cpu_cols[c].is_empty() {
            self.cpu_cols[c] = format!(" [{cpu:03}]");
        }
        line.push_str(&self.cpu_cols[c]);
        if self.in_ns {
            // ` {secs:5}.{usecs:06}:`
            let us = ts.saturating_add(500) / 1000;
            line.push(' ');
            push_num(line, us / 1_000_000, 5, false, false);
            line.push('.');
            push_num(line, us % 1_000_000, 6, false, true);
            line.push(':');
        } else {
            push_num(line, ts, 12, false, false);
            line.push(':');
        }
        line.push(' ');
        line.push_str(name);
        line.push_str(": ");
        for _ in name.len()..20 {
            line.push(' ');
        }
        let ctx = Ctx {
            endian: self.endian,
            long_size: self.long_size,
            syms,
        };
        if self.raw {
            tp.printer.render_fields(&ctx, data, line);
        } else if let Some(kind) = ftrace.kind(id) {
            match kind {
                FtraceKind::Function => ftrace.render_function(&ctx, cpu, data, line),
                FtraceKind::GraphExit => ftrace.render_graph_exit(&ctx, data, line),
                FtraceKind::GraphEntry => {
                    let next = merge.peek().map(|(_, h)| h.payload);
                    let exit = next.filter(|n| ftrace.is_leaf_exit(self.endian, data, n));
                    if exit.is_some() {
                        merge.pop();
                    }
                    ftrace.render_graph_entry(&ctx, data, exit, line);
                }
            }
        } else {
            let ok = tp.printer.render(&ctx, data, line, &mut |p, c| {
                if p != 0 {
                    comms.entry(p).or_insert_with(|| comm_prefix(c, p));
                }
            });
            if !ok {
                stats.fallback += 1;
            }
        }
        if line.len() > start && line.ends_with('\n') {
            line.pop();
        }
        line.push('\n');
        stats.events += 1;
        if line.len() >= FLUSH_AT {
            self.flush(out)?;
        }
        Ok(())
    }

    /// Shows only the records `filter` passes (`-F`).
    pub fn set_filter(&mut self, filter: ReportFilter) {
        self.filter = filter;
        self.printers.clear();
    }

    /// Writes out the lines [`Printer::write_event`] has collected.
    pub fn flush(&mut self, out: &mut dyn Write) -> std::io::Result<()> {
        out.write_all(self.line.as_bytes())?;
        self.line.clear();
        Ok(())
    }

    /// Prints every event of `t` (optionally of one CPU), merged by time.
    /// With `only_cpu`, the other CPUs are still merged, unprinted: a
    /// function_graph entry's leaf test looks at the next record of any
    /// CPU, as trace-cmd's does.
    pub fn write_all(
        &mut self,
        out: &mut dyn Write,
        t: &TraceDat<'_>,
        layout: &PageLayout,
        only_cpu: Option<u32>,
    ) -> std::io::Result<()> {
        let streams: Vec<CpuStream<'_>> = t
            .cpu_data()
            .iter()
            .map(|c| CpuStream {
                cpu: c.cpu,
                pages: Pages::new(&c.data, layout),
                events: None,
                missed: Missed::None,
                bad_pages: 0,
            })
            .collect();
        let mut merge = Merge::new(streams);
        while let Some((cpu, h)) = merge.pop() {
            if only_cpu.is_none_or(|c| c == cpu) {
                self.write_event(out, cpu, h.ts, h.payload, h.missed, &mut merge)?;
            }
        }
        self.stats.bad_pages += merge.streams.iter().map(|s| s.bad_pages).sum::<u64>();
        self.flush(out)
    }
}

/// The CPUs' records in time order, the earliest CPU first on equal
/// timestamps (trace-cmd's `tracecmd_peek_next_data` order).
struct Merge<'a> {
    streams: Vec<CpuStream<'a>>,
    heads: Vec<Option<Head<'a>>>,
}

impl<'a> Merge<'a> {
    fn new(mut streams: Vec<CpuStream<'a>>) -> Merge<'a> {
        let heads = streams.iter_mut().map(|s| s.next()).collect();
        Merge { streams, heads }
    }

    fn earliest(&self) -> Option<usize> {
        let mut best: Option<(usize, u64)> = None;
        for (i, h) in self.heads.iter().enumerate() {
            if let Some(h) = h {
                if best.is_none_or(|(_, ts)| h.ts < ts) {
                    best = Some((i, h.ts));
                }
            }
        }
        best.map(|b| b.0)
    }

    /// The next record and its CPU, without taking it.
    fn peek(&self) -> Option<(u32, &Head<'a>)> {
        let i = self.earliest()?;
        Some((self.streams[i].cpu, self.heads[i].as_ref()?))
    }

    /// Takes the next record.
    fn pop(&mut self) -> Option<(u32, Head<'a>)> {
        let i = self.earliest()?;
        let h = self.heads[i].take()?;
        self.heads[i] = self.streams[i].next();
        Some((self.streams[i].cpu, h))
    }
}

/// Runs report.
pub fn run(g: &Global, args: Args) -> Result<ExitCode> {
    let bytes =
        crate::mmap::map_or_read(&args.input).with_context(|| format!("reading {}", args.input.display()))?;
    let t = TraceDat::parse(&bytes).with_context(|| format!("parsing {}", args.input.display()))?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let res = report(g, &args, &t, &mut out).and_then(|s| {
        out.flush()?;
        Ok(s)
    });
    match res {
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(e),
        Ok(stats) => {
            if g.verbose > 0 || stats.fallback > 0 || stats.bad_pages > 0 {
                eprintln!(
                    "ftr: {} events; {} printed as fields (unsupported print fmt); {} of unknown type; {} bad pages",
                    stats.events, stats.fallback, stats.unknown, stats.bad_pages
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn report(_g: &Global, args: &Args, t: &TraceDat<'_>, out: &mut dyn Write) -> Result<ReportStats> {
    if args.events {
        for f in &t.ftrace_formats {
            writeln!(out, "{}", f.trim_end())?;
        }
        for (_, f) in &t.event_formats {
            writeln!(out, "{}", f.trim_end())?;
        }
        return Ok(ReportStats::default());
    }
    // Checked before anything is printed, so a bad -F is one line.
    let filter = if args.filters.is_empty() {
        None
    } else {
        let filter = ReportFilter::parse(&args.filters)?;
        let (formats, _) = t.formats();
        let schemas: Vec<&ftr_tracefs::format::Schema> = formats.iter().collect();
        if let Some(f) = filter.unmatched(&schemas).first() {
            bail!("-F {f:?}: no event in {} matches", args.input.display());
        }
        Some(filter)
    };
    writeln!(out, "cpus={}", t.cpus)?;
    if args.stat {
        writeln!(
            out,
            "\nKernel buffer statistics:\n  Note: \"entries\" are the entries left in the kernel ring buffer and are not\n        recorded in the trace data. They should all be zero.\n"
        )?;
        let stats = t.cpu_stats();
        if stats.is_empty() {
            writeln!(out, " No stats in this file")?;
        }
        for (cpu, s) in stats.iter().enumerate() {
            writeln!(out, "CPU: {cpu}\n{}", s.trim_end())?;
        }
        return Ok(ReportStats::default());
    }
    if let TraceData::Latency(text) = &t.data {
        out.write_all(text.as_bytes())?;
        return Ok(ReportStats::default());
    }
    if let Some(c) = args.cpu {
        if c >= t.cpus.max(t.cpu_data().len() as u32) {
            bail!("--cpu {c}: the file has CPUs 0..{}", t.cpus);
        }
    }
    let layout = t.layout().context("parsing header_page")?;
    let mut p = Printer::new(t, args.raw)?;
    if let Some(filter) = filter {
        p.set_filter(filter);
    }
    p.write_all(out, t, &layout, args.cpu)?;
    Ok(p.stats)
}
