//! `ftr funcgraph`: kernel call graphs of one function with durations, in
//! the layout of the kernel's function_graph `trace` file (perf-tools
//! funcgraph, trace-cmd report):
//!
//! ```text
//!  0)               |  vfs_read() {
//!  0)   0.541 us    |    rw_verify_area();
//!  0)   3.210 us    |  }
//! ```
//!
//! set_graph_function starts the graphs; set_ftrace_filter cannot narrow
//! the callees, so selecting the tracer patches every kernel function.

use super::common::kprobes::explain_unmet;
use super::common::ksyms::{running_kernel_symbols, sym_name};
use super::common::{output_result, report_losses};
use super::Global;
use crate::pipeline::plan::{alt, need, KernelEnv, Mechanism as M, ProbePlan};
use crate::pipeline::session::{Event, Session, SessionConfig};
use crate::pipeline::stop::Stop;
use anyhow::{anyhow, bail, Context, Result};
use ftr_symbols::KernelSymbols;
use ftr_tracefs::{read_text, EventName, FunctionFilter, Instance, TracingDir};
use std::collections::HashMap;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;
use std::time::Duration;

/// `ftr funcgraph` flags.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "EXAMPLES:\n    ftr funcgraph vfs_read -d 1        # every vfs_read call tree for a second\n    ftr funcgraph -m 3 do_sys_openat2   # three levels deep\n    ftr funcgraph -p 1234 -H -t vfs_write"
)]
pub struct Args {
    /// The function whose calls start a graph (a name or a glob).
    #[arg(value_name = "FUNC")]
    pub function: String,
    /// Show at most DEPTH levels of calls (max_graph_depth).
    #[arg(short = 'm', long, value_name = "DEPTH")]
    pub max_depth: Option<u32>,
    /// Trace only process PID.
    #[arg(short = 'p', long, value_name = "PID")]
    pub pid: Option<i32>,
    /// Stop after SECS seconds.
    #[arg(short = 'd', long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Print column headers.
    #[arg(short = 'H', long)]
    pub headers: bool,
    /// Print a timestamp column.
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Include interrupt handlers that run inside a graph.
    #[arg(short = 'I', long)]
    pub irqs: bool,
    /// Per-CPU buffer size in KB. Graphs are voluminous (two events per
    /// call), and the top level may still have its unexpanded 7 KB.
    #[arg(short = 'b', long, value_name = "KB", default_value_t = DEFAULT_BUFFER_KB)]
    pub buffer_kb: u64,
}

/// Enough for a few hundred thousand calls between drains.
const DEFAULT_BUFFER_KB: u64 = 4096;

/// funcgraph's plan.
pub fn plan() -> ProbePlan {
    ProbePlan {
        needs: vec![need(
            "call graphs",
            vec![alt("function_graph tracer", vec![M::FunctionGraphTracer])],
        )],
    }
}

/// One function_graph record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphRecord {
    /// `funcgraph_entry`.
    Entry {
        /// Address of the function.
        func: u64,
        /// Call depth, 0 at the graph function.
        depth: u32,
    },
    /// `funcgraph_exit`.
    Exit {
        /// Address of the function.
        func: u64,
        /// Call depth.
        depth: u32,
        /// Duration in ns (rettime - calltime).
        duration: u64,
    },
}

/// The overhead mark before a duration (kernel `trace_find_mark`).
fn mark(ns: u64) -> char {
    const MARKS: [(u64, char); 6] = [
        (100_000_000_000, '$'),
        (1_000_000_000, '@'),
        (100_000_000, '*'),
        (10_000_000, '#'),
        (1_000_000, '!'),
        (100_000, '+'),
    ];
    MARKS.iter().find(|(v, _)| ns > *v).map_or(' ', |m| m.1)
}

/// The duration column, 14 characters then `|  ` (kernel
/// `print_graph_duration` and `trace_print_graph_duration`: at most 7
/// digits, then ` us `, padded to 8).
pub fn duration_column(ns: Option<u64>) -> String {
    let Some(ns) = ns else {
        return "              |  ".to_owned();
    };
    let usecs = (ns / 1000).to_string();
    let mut s = format!("{} {usecs}", mark(ns));
    let mut len = usecs.len();
    if len < 7 {
        let digits = format!("{:03}", ns % 1000);
        let keep = (8 - len).min(5) - 1;
        let frac = &digits[..keep.min(digits.len())];
        s.push('.');
        s.push_str(frac);
        len += frac.len() + 1;
    }
    s.push_str(" us ");
    for _ in len..8 {
        s.push(' ');
    }
    s.push_str("|  ");
    s
}

/// Turns entry/exit records into graph lines. Per CPU, an entry is held
/// until the next record shows whether it was a leaf (its own exit next:
/// `func();` with a duration) or a parent (`func() {`).
pub struct GraphPrinter {
    syms: KernelSymbols,
    cpu_width: usize,
    timestamps: bool,
    pending: HashMap<u32, (u64, u64, u32)>,
}

impl GraphPrinter {
    /// A printer naming functions with `syms`, for `ncpus` CPUs.
    pub fn new(syms: KernelSymbols, ncpus: usize, timestamps: bool) -> GraphPrinter {
        GraphPrinter {
            syms,
            cpu_width: ncpus.saturating_sub(1).max(1).to_string().len(),
            timestamps,
            pending: HashMap::new(),
        }
    }

    /// The column headers of the kernel's trace file.
    pub fn header(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "# tracer: function_graph\n#")?;
        if self.timestamps {
            writeln!(
                out,
                "#     TIME       CPU  DURATION                  FUNCTION CALLS"
            )?;
            writeln!(
                out,
                "#      |         |     |   |                     |   |   |   |"
            )
        } else {
            writeln!(out, "# CPU  DURATION                  FUNCTION CALLS")?;
            writeln!(out, "# |     |   |                     |   |   |   |")
        }
    }

    fn line(
        &self,
        out: &mut dyn Write,
        cpu: u32,
        ts: u64,
        dur: Option<u64>,
        depth: u32,
        text: &str,
    ) -> io::Result<()> {
        if self.timestamps {
            write!(
                out,
                "{:>6}.{:06} |  ",
                ts / 1_000_000_000,
                ts % 1_000_000_000 / 1000
            )?;
        }
        writeln!(
            out,
            " {cpu:>w$}) {}{:indent$}{text}",
            duration_column(dur),
            "",
            w = self.cpu_width,
            indent = depth as usize * 2
        )
    }

    fn flush_cpu(&mut self, out: &mut dyn Write, cpu: u32) -> io::Result<()> {
        if let Some((ts, func, depth)) = self.pending.remove(&cpu) {
            let name = sym_name(&self.syms, func);
            self.line(out, cpu, ts, None, depth, &format!("{name}() {{"))?;
        }
        Ok(())
    }

    /// One record of `cpu` at `ts`.
    pub fn record(&mut self, out: &mut dyn Write, cpu: u32, ts: u64, rec: GraphRecord) -> io::Result<()> {
        match rec {
            GraphRecord::Entry { func, depth } => {
                self.flush_cpu(out, cpu)?;
                self.pending.insert(cpu, (ts, func, depth));
            }
            GraphRecord::Exit {
                func,
                depth,
                duration,
            } => match self.pending.get(&cpu) {
                Some(&(ets, f, d)) if f == func && d == depth => {
                    self.pending.remove(&cpu);
                    let name = sym_name(&self.syms, func);
                    self.line(out, cpu, ets, Some(duration), depth, &format!("{name}();"))?;
                }
                _ => {
                    self.flush_cpu(out, cpu)?;
                    self.line(out, cpu, ts, Some(duration), depth, "}")?;
                }
            },
        }
        Ok(())
    }

    /// Prints every held entry (the run ended inside them).
    pub fn finish(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let mut cpus: Vec<u32> = self.pending.keys().copied().collect();
        cpus.sort_unstable();
        for c in cpus {
            self.flush_cpu(out, c)?;
        }
        Ok(())
    }
}

/// The record an event holds, if it is a function_graph one.
fn graph_record(ev: &Event<'_>) -> Option<GraphRecord> {
    let field = |n: &str| ev.schema.field(n).and_then(|f| f.u64(ev.data, ev.endian));
    let func = field("func")?;
    let depth = field("depth")? as u32;
    match ev.schema.name.as_str() {
        "funcgraph_entry" => Some(GraphRecord::Entry { func, depth }),
        "funcgraph_exit" => Some(GraphRecord::Exit {
            func,
            depth,
            duration: field("rettime")?.saturating_sub(field("calltime")?),
        }),
        _ => None,
    }
}

fn check_function(f: &str) -> Result<()> {
    if f.is_empty()
        || !f
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'*' | b'?'))
    {
        bail!("{f:?} is not a function name or glob (letters, digits, _ . * ?)");
    }
    Ok(())
}

/// Whether a private instance offers `tracer` here (function_graph joined
/// instances in 6.11); checked in a scratch instance, removed at once.
fn instances_offer(t: &TracingDir, tracer: &str) -> bool {
    let Ok(scratch) = Instance::create(t) else {
        return false;
    };
    let offered = read_text(&scratch.dir().join("available_tracers"))
        .map(|l| l.split_whitespace().any(|x| x == tracer))
        .unwrap_or(false);
    let _ = scratch.remove();
    offered
}

/// Runs funcgraph.
pub fn run(g: &Global, args: Args) -> Result<ExitCode> {
    check_function(&args.function)?;
    if let Some(d) = args.duration {
        if !(d.is_finite() && d > 0.0) {
            bail!("-d needs a positive number of seconds, not {d}");
        }
    }
    if args.buffer_kb == 0 {
        bail!("-b needs a positive number of kilobytes");
    }
    if args.max_depth == Some(0) {
        bail!("-m needs a depth of at least 1");
    }
    let stop = Stop::install()?.with_duration(args.duration.map(Duration::from_secs_f64));
    let t = g.tracing_for_writing()?;
    let env = KernelEnv::new(Ok(t.clone()));
    if let Some(e) = explain_unmet(&env, &plan()) {
        bail!("cannot graph {:?}: {e}", args.function);
    }
    let top_level = !instances_offer(&t, "function_graph");
    if top_level {
        let cur = read_text(&t.path("current_tracer")).unwrap_or_default();
        if cur.trim() != "nop" {
            bail!(
                "cannot graph {:?}: instances do not offer function_graph on this kernel and the top-level tracer is busy (current_tracer is {})",
                args.function,
                cur.trim()
            );
        }
        if g.verbose > 0 {
            eprintln!("ftr: instances do not offer function_graph here: using the idle top level");
        }
    }
    let ev = |n: &str| EventName {
        system: "ftrace".into(),
        name: n.into(),
    };
    let cfg = SessionConfig {
        decode_only: vec![ev("funcgraph_entry"), ev("funcgraph_exit")],
        ordered: true,
        top_level,
        buffer_kb: Some(args.buffer_kb),
        ..Default::default()
    };
    let session = Session::start_with(&t, &cfg, |inst| {
        inst.set_function_filter(FunctionFilter::Graph, &[&args.function])
            .map_err(|e| match e.kind() {
                ftr_tracefs::ErrorKind::InvalidInput => anyhow!(
                    "no traceable kernel function matches {:?} (see available_filter_functions)",
                    args.function
                ),
                _ => anyhow!("setting set_graph_function: {}", ftr_tracefs::error_chain(&e)),
            })?;
        if let Some(d) = args.max_depth {
            inst.set_max_graph_depth(d).context("setting max_graph_depth")?;
        }
        if let Some(p) = args.pid {
            inst.set_ftrace_pid(&[p])
                .context("limiting the tracer to one process")?;
        } else {
            // ftr's own reads of the ring would be graphed too, each read
            // producing more to read.
            inst.set_ftrace_notrace_pid(&[std::process::id() as i32])
                .context("keeping the tracer off ftr itself")?;
        }
        if !args.irqs {
            // Interrupts taken inside a graph are cut short in the kernel,
            // which also makes the trace far cheaper to record.
            inst.set_option("funcgraph-irqs", false)
                .context("turning off funcgraph-irqs")?;
        }
        inst.set_tracer("function_graph")
            .context("selecting the function_graph tracer")
    })?;
    let mut session = session;
    if let Some(n) = &session.note {
        eprintln!("ftr: {n}");
    }
    let inst = session.instance();
    eprintln!(
        "Tracing \"{}\"{}... Ctrl-C to end.",
        args.function,
        if top_level { " (top-level buffer)" } else { "" }
    );
    let ncpus = inst.cpus().map(|c| c.len()).unwrap_or(1);
    let mut printer = GraphPrinter::new(running_kernel_symbols(), ncpus, args.timestamps);
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut write_error: Option<io::Error> = None;
    if args.headers {
        if let Err(e) = printer.header(&mut out) {
            write_error = Some(e);
            stop.request();
        }
    }
    let stats = session.run(
        &stop,
        Duration::from_millis(100),
        &mut |ev| {
            if write_error.is_some() {
                return;
            }
            if let Some(rec) = graph_record(ev) {
                if let Err(e) = printer.record(&mut out, ev.cpu, ev.ts, rec) {
                    write_error = Some(e);
                    stop.request();
                }
            }
        },
        &mut super::common::print_missed,
    );
    if write_error.is_none() {
        if let Err(e) = printer.finish(&mut out) {
            write_error = Some(e);
        }
    }
    let flushed = out.flush();
    if let Ok(s) = &stats {
        report_losses(&session, s);
    }
    let finished = session.finish();
    stats?;
    finished?;
    output_result(write_error, flushed)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ftr_symbols::parse_kallsyms;

    #[test]
    fn durations_fit_the_kernel_column() {
        assert_eq!(duration_column(None), "              |  ");
        assert_eq!(duration_column(Some(541)), "  0.541 us    |  ");
        assert_eq!(duration_column(Some(3_210)), "  3.210 us    |  ");
        assert_eq!(duration_column(Some(1_234_567)), "! 1234.567 us |  ");
        assert_eq!(duration_column(Some(12_345_678)), "# 12345.67 us |  ");
        assert_eq!(duration_column(Some(1_234_567_890)), "@ 1234567 us  |  ");
        for ns in [0, 9, 99_999, 100_001, 9_999_999_999] {
            assert_eq!(duration_column(Some(ns)).len(), 17, "{ns}");
        }
    }

    #[test]
    fn leaves_and_parents() {
        let syms = KernelSymbols::from_symbols(parse_kallsyms(
            "ffffffff81000000 T vfs_read\nffffffff81000100 T rw_verify_area\nffffffff81000200 T other\n",
        ));
        let mut p = GraphPrinter::new(syms, 2, false);
        let mut out = Vec::new();
        let (read, verify) = (0xffffffff81000000, 0xffffffff81000104);
        for rec in [
            GraphRecord::Entry { func: read, depth: 0 },
            GraphRecord::Entry {
                func: verify,
                depth: 1,
            },
            GraphRecord::Exit {
                func: verify,
                depth: 1,
                duration: 541,
            },
            GraphRecord::Exit {
                func: read,
                depth: 0,
                duration: 3210,
            },
        ] {
            p.record(&mut out, 0, 1, rec).unwrap();
        }
        p.finish(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            " 0)               |  vfs_read() {\n 0)   0.541 us    |    rw_verify_area();\n 0)   3.210 us    |  }\n"
        );
    }
}
