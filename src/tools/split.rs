//! `ftr split`: trace-cmd split. Cuts a trace.dat into pieces by time,
//! events or pages, rewriting each CPU's records into fresh sub-buffers
//! (so a cut can fall between two events of one page) under the original
//! headers, formats, kallsyms, cmdlines and options.

use super::Global;
use anyhow::{bail, Context, Result};
use ftr_tracefs::ring::{merge_sorted, Missed, PageEncoder, PageLayout, Pages};
use ftr_tracefs::tracedat::{TraceDat, TraceData, Writer, WriterConfig};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `ftr split` flags.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "EXAMPLES:\n    ftr split -i trace.dat -s 1 -r          # trace.dat.0001, .0002, ...: one per second\n    ftr split -e 10000 -o part.dat          # the first 10000 events\n    ftr split 12.5 13.0                     # only the events between those timestamps"
)]
pub struct Args {
    /// Read FILE instead of trace.dat.
    #[arg(short = 'i', long = "input", value_name = "FILE", default_value = "trace.dat")]
    pub input: PathBuf,
    /// Write to OUT (with -r: OUT.0001, OUT.0002, ...); default INPUT.1 or INPUT.
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// Cut every N seconds.
    #[arg(short = 's', value_name = "N", group = "unit")]
    pub seconds: Option<u64>,
    /// Cut every N milliseconds.
    #[arg(short = 'm', value_name = "N", group = "unit")]
    pub millis: Option<u64>,
    /// Cut every N microseconds.
    #[arg(short = 'u', value_name = "N", group = "unit")]
    pub micros: Option<u64>,
    /// Cut every N events.
    #[arg(short = 'e', value_name = "N", group = "unit")]
    pub events: Option<u64>,
    /// Cut every N pages of each CPU (per CPU, as trace-cmd).
    #[arg(short = 'p', value_name = "N", group = "unit")]
    pub pages: Option<u64>,
    /// Keep cutting until the end (else only the first piece is written).
    #[arg(short = 'r')]
    pub repeat: bool,
    /// Count events per CPU instead of across all CPUs.
    #[arg(short = 'c')]
    pub per_cpu: bool,
    /// Keep only CPU N's records.
    #[arg(short = 'C', value_name = "CPU")]
    pub cpu: Option<u32>,
    /// Start at this timestamp (seconds, as report prints them), and end at the second.
    #[arg(value_name = "START [END]", num_args = 0..=2)]
    pub range: Vec<f64>,
}

/// How a piece ends.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Unit {
    Nanos(u64),
    Events(u64),
    Pages(u64),
    Whole,
}

/// One record on its way to a piece.
struct Rec<'a> {
    cpu: usize,
    missed: Missed,
    payload: &'a [u8],
}

/// Runs split.
pub fn run(_g: &Global, args: Args) -> Result<ExitCode> {
    let unit = match (args.seconds, args.millis, args.micros, args.events, args.pages) {
        (Some(n), ..) => Unit::Nanos(n.saturating_mul(1_000_000_000)),
        (_, Some(n), ..) => Unit::Nanos(n.saturating_mul(1_000_000)),
        (_, _, Some(n), ..) => Unit::Nanos(n.saturating_mul(1_000)),
        (.., Some(n), None) => Unit::Events(n),
        (.., Some(n)) => Unit::Pages(n),
        _ => Unit::Whole,
    };
    if matches!(unit, Unit::Nanos(0) | Unit::Events(0) | Unit::Pages(0)) {
        bail!("units must be greater than 0");
    }
    let secs = |s: f64| -> Result<u64> {
        if !(s.is_finite() && s >= 0.0) {
            bail!("timestamps are seconds >= 0, not {s}");
        }
        Ok((s * 1e9) as u64)
    };
    let start = args.range.first().map(|&s| secs(s)).transpose()?.unwrap_or(0);
    let end = args.range.get(1).map(|&s| secs(s)).transpose()?;
    if end.is_some_and(|e| e < start) {
        bail!("the end is before the start");
    }
    let bytes =
        crate::mmap::map_or_read(&args.input).with_context(|| format!("reading {}", args.input.display()))?;
    let t = TraceDat::parse(&bytes).with_context(|| format!("parsing {}", args.input.display()))?;
    if matches!(t.data, TraceData::Latency(_)) {
        bail!(
            "{}: a latency trace has no per-CPU records to split",
            args.input.display()
        );
    }
    let layout = t.layout().context("parsing header_page")?;
    let output = match &args.output {
        Some(o) => o.clone(),
        None if args.repeat => args.input.clone(),
        None => {
            let mut s = args.input.clone().into_os_string();
            s.push(".1");
            PathBuf::from(s)
        }
    };
    if !args.repeat && output == args.input {
        bail!("the output would overwrite the input: give -o");
    }
    // Every CPU's records, in time order across CPUs.
    let ncpus = t.cpu_data().iter().map(|c| c.cpu as usize + 1).max().unwrap_or(0);
    let mut per_cpu: Vec<Vec<(u64, Rec<'_>)>> = Vec::new();
    for c in t.cpu_data() {
        if args.cpu.is_some_and(|only| only != c.cpu) {
            continue;
        }
        let mut v = Vec::new();
        for page in Pages::new(&c.data, &layout) {
            let page = page.with_context(|| format!("CPU {} data", c.cpu))?;
            let mut missed = page.missed();
            for ev in page.events() {
                let ev = ev.with_context(|| format!("CPU {} data", c.cpu))?;
                v.push((
                    ev.ts,
                    Rec {
                        cpu: c.cpu as usize,
                        missed,
                        payload: ev.payload,
                    },
                ));
                missed = Missed::None;
            }
        }
        per_cpu.push(v);
    }
    let records = merge_sorted(per_cpu.into_iter().map(Vec::into_iter).collect())
        .filter(|(ts, _)| *ts >= start && end.is_none_or(|e| *ts <= e));
    let cfg = writer_config(&t, &layout, ncpus as u32);
    let mut piece = Piece::new(&layout, ncpus);
    let mut written = 0u32;
    let mut first_ts = None;
    for (ts, r) in records {
        let full = match unit {
            Unit::Whole => false,
            Unit::Nanos(n) => first_ts.is_some_and(|f: u64| ts >= f.saturating_add(n)),
            Unit::Events(n) if args.per_cpu => piece.events[r.cpu] >= n,
            Unit::Events(n) => piece.total >= n,
            Unit::Pages(n) => piece.encoders[r.cpu].pages() as u64 >= n,
        };
        if full {
            written += 1;
            piece.write(&cfg, &piece_name(&output, args.repeat, written))?;
            if !args.repeat {
                return Ok(ExitCode::SUCCESS);
            }
            piece = Piece::new(&layout, ncpus);
            first_ts = None;
        }
        first_ts.get_or_insert(ts);
        piece.push(ts, &r);
    }
    if piece.total > 0 || written == 0 {
        written += 1;
        piece.write(&cfg, &piece_name(&output, args.repeat, written))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn piece_name(output: &Path, repeat: bool, n: u32) -> PathBuf {
    if !repeat {
        return output.to_owned();
    }
    let mut s = output.as_os_str().to_owned();
    s.push(format!(".{n:04}"));
    PathBuf::from(s)
}

/// The records of one output file, per CPU.
struct Piece {
    encoders: Vec<PageEncoder>,
    events: Vec<u64>,
    total: u64,
}

impl Piece {
    fn new(layout: &PageLayout, ncpus: usize) -> Piece {
        Piece {
            encoders: (0..ncpus).map(|_| PageEncoder::new(layout)).collect(),
            events: vec![0; ncpus],
            total: 0,
        }
    }

    fn push(&mut self, ts: u64, r: &Rec<'_>) {
        let e = &mut self.encoders[r.cpu];
        e.lost(r.missed);
        e.push(ts, r.payload);
        self.events[r.cpu] += 1;
        self.total += 1;
    }

    fn write(self, cfg: &WriterConfig, path: &Path) -> Result<()> {
        let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let mut w = Writer::start(BufWriter::new(file), cfg).context("writing the trace.dat header")?;
        for (cpu, e) in self.encoders.into_iter().enumerate() {
            w.write_cpu_data(cpu as u32, &e.finish())
                .context("writing CPU data")?;
        }
        w.finish().context("finishing the trace.dat")?;
        eprintln!("ftr: wrote {} ({} events)", path.display(), self.total);
        Ok(())
    }
}

/// The input's headers and metadata, for every piece.
fn writer_config(t: &TraceDat<'_>, layout: &PageLayout, cpus: u32) -> WriterConfig {
    let mut systems: Vec<(String, Vec<String>)> = Vec::new();
    for (sys, text) in &t.event_formats {
        match systems.iter_mut().find(|(s, _)| s == sys) {
            Some((_, v)) => v.push(text.clone()),
            None => systems.push((sys.clone(), vec![text.clone()])),
        }
    }
    WriterConfig {
        endian: t.endian,
        long_size: t.long_size,
        page_size: layout.page_size as u32,
        header_page: t.header_page.clone(),
        header_event: t.header_event.clone(),
        ftrace_formats: t.ftrace_formats.clone(),
        event_systems: systems,
        kallsyms: t.kallsyms.clone(),
        printk_formats: t.printk_formats.clone(),
        cmdlines: t.cmdlines.clone(),
        cpus: t.cpus.max(cpus),
        options: t.options.clone(),
        clock: t.trace_clock(),
    }
}
