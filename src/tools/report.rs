//! `ftr report`: print a trace.dat (v6 or v7, from ftr or trace-cmd) the
//! way `trace-cmd report` does: a `cpus=N` line, then one line per event,
//! `comm-pid [cpu] secs.usecs: name: formatted`, merged across CPUs by
//! timestamp, with each event's print fmt evaluated.

use super::Global;
use anyhow::{bail, Context, Result};
use ftr_tracefs::format::printfmt::{Ctx, EventPrinter, Symbols};
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

/// Everything needed to print the events of one file.
pub struct Printer {
    formats: Formats,
    printers: HashMap<u16, (EventPrinter, Option<FieldRef>)>,
    comms: HashMap<i32, String>,
    syms: Symbols,
    endian: ftr_tracefs::Endian,
    long_size: usize,
    in_ns: bool,
    ts_offset: i64,
    raw: bool,
    line: String,
    /// What could not be rendered like trace-cmd.
    pub stats: ReportStats,
}

impl Printer {
    /// Prepares to print `t`'s events.
    pub fn new(t: &TraceDat<'_>, raw: bool) -> Result<Printer> {
        let layout = t.layout().context("parsing header_page")?;
        let (formats, _bad) = t.formats();
        let mut comms = HashMap::new();
        for (pid, comm) in t.cmdlines() {
            comms.entry(pid).or_insert_with(|| comm.to_owned());
        }
        Ok(Printer {
            formats,
            printers: HashMap::new(),
            comms,
            syms: Symbols::parse(&t.kallsyms).with_printk_formats(&t.printk_formats),
            endian: t.endian,
            long_size: layout.kernel_long_size(),
            in_ns: t.timestamps_in_ns(),
            ts_offset: t.ts_offset(),
            raw,
            line: String::new(),
            stats: ReportStats::default(),
        })
    }

    /// Writes one record as trace-cmd does.
    pub fn write_event(
        &mut self,
        out: &mut dyn Write,
        cpu: u32,
        ts: u64,
        data: &[u8],
        missed: Missed,
    ) -> std::io::Result<()> {
        match missed {
            Missed::None => {}
            Missed::Count(n) => writeln!(out, "CPU:{cpu} [{n} EVENTS DROPPED]")?,
            Missed::Unknown => writeln!(out, "CPU:{cpu} [EVENTS DROPPED]")?,
        }
        let Some(id) = self.endian.u16(data, 0) else {
            return Ok(());
        };
        if !self.printers.contains_key(&id) {
            let Some(schema) = self.formats.get(id) else {
                self.stats.unknown += 1;
                return Ok(());
            };
            self.printers
                .insert(id, (EventPrinter::new(schema), schema.common_pid()));
        }
        let Printer {
            printers,
            comms,
            syms,
            line,
            stats,
            formats,
            ..
        } = self;
        let (printer, pid_ref) = &printers[&id];
        let pid = pid_ref.and_then(|f| f.i64(data, self.endian)).unwrap_or(-1) as i32;
        let ts = ts.wrapping_add(self.ts_offset as u64);
        let name = formats.get(id).map_or("(NULL)", |s| s.name.as_str());
        line.clear();
        let comm = match pid {
            0 => "<idle>",
            p => comms.get(&p).map_or("<...>", |s| s.as_str()),
        };
        use std::fmt::Write as _;
        let _ = write!(line, "{comm:>16}-{pid:<5} [{cpu:03}]");
        if self.in_ns {
            let us = ts.saturating_add(500) / 1000;
            let _ = write!(line, " {:5}.{:06}:", us / 1_000_000, us % 1_000_000);
        } else {
            let _ = write!(line, "{ts:12}:");
        }
        let _ = write!(line, " {name}: ");
        for _ in name.len()..20 {
            line.push(' ');
        }
        let ctx = Ctx {
            endian: self.endian,
            long_size: self.long_size,
            syms,
        };
        if self.raw {
            printer.render_fields(&ctx, data, line);
        } else {
            let ok = printer.render(&ctx, data, line, &mut |p, c| {
                if p != 0 {
                    comms.entry(p).or_insert_with(|| c.to_owned());
                }
            });
            if !ok {
                stats.fallback += 1;
            }
        }
        if line.ends_with('\n') {
            line.pop();
        }
        stats.events += 1;
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")
    }

    /// Prints every event of `t` (optionally of one CPU), merged by time.
    pub fn write_all(
        &mut self,
        out: &mut dyn Write,
        t: &TraceDat<'_>,
        layout: &PageLayout,
        only_cpu: Option<u32>,
    ) -> std::io::Result<()> {
        let mut streams: Vec<CpuStream<'_>> = t
            .cpu_data()
            .iter()
            .filter(|c| only_cpu.is_none_or(|o| o == c.cpu))
            .map(|c| CpuStream {
                cpu: c.cpu,
                pages: Pages::new(&c.data, layout),
                events: None,
                missed: Missed::None,
                bad_pages: 0,
            })
            .collect();
        let mut heads: Vec<Option<Head<'_>>> = streams.iter_mut().map(|s| s.next()).collect();
        loop {
            let mut best: Option<usize> = None;
            for (i, h) in heads.iter().enumerate() {
                if let Some(h) = h {
                    if best.is_none_or(|b| heads[b].as_ref().is_some_and(|bh| h.ts < bh.ts)) {
                        best = Some(i);
                    }
                }
            }
            let Some(i) = best else { break };
            let h = heads[i].take().unwrap_or(Head {
                ts: 0,
                payload: &[],
                missed: Missed::None,
            });
            self.write_event(out, streams[i].cpu, h.ts, h.payload, h.missed)?;
            heads[i] = streams[i].next();
        }
        self.stats.bad_pages += streams.iter().map(|s| s.bad_pages).sum::<u64>();
        Ok(())
    }
}

/// Runs report.
pub fn run(g: &Global, args: Args) -> Result<ExitCode> {
    let bytes = std::fs::read(&args.input).with_context(|| format!("reading {}", args.input.display()))?;
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
    p.write_all(out, t, &layout, args.cpu)?;
    Ok(p.stats)
}
