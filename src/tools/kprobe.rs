//! `ftr kprobe`: define a kprobe, print its events live, remove it on exit
//! (perf-tools kprobe). Lines read like the kernel's `trace` file:
//! `comm-pid [cpu] secs.usecs: event: (func+0x0/0x1c0) filename="/etc/x"`.

use super::common::kprobes::KprobeEnv;
use super::common::ksyms::{running_kernel_symbols, sym_name, sym_offset};
use super::common::{kernel_losses, output_result};
use super::tp::write_event_prefix;
use super::Global;
use crate::pipeline::comm::CommCache;
use crate::pipeline::session::{Event, Session, SessionConfig};
use crate::pipeline::stop::Stop;
use anyhow::{anyhow, bail, Result};
use ftr_symbols::KernelSymbols;
use ftr_tracefs::format::printfmt::{Ctx, EventPrinter, Symbols};
use ftr_tracefs::{parse_kprobe_spec, ArgType, EventName, ProbeGroup};
use std::io::{BufWriter, Write};
use std::process::ExitCode;
use std::time::Duration;

/// `ftr kprobe` flags.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "EXAMPLES:\n    ftr kprobe 'p:do_sys_openat2 filename=+0(%si):string'    # files opened\n    ftr kprobe 'r:vfs_read ret=$retval:s64' -p 1234 -d 5       # read results of one process\n    ftr kprobe 'p:myopen do_sys_openat2 name=+0(%si):string' 'name ~ \"*.conf\"'\n    ftr kprobe -n 10 'p:tcp_sendmsg size=%dx:u64'"
)]
pub struct Args {
    /// The probe: `p[:EVENT] FUNC[+OFFS] [NAME=FETCH[:TYPE] ...]` or `r[N][:EVENT] FUNC [ret=$retval...]`.
    #[arg(value_name = "DEFINITION")]
    pub definition: String,
    /// A kernel event filter on the probe's fields (`filename ~ "*.conf"`).
    #[arg(value_name = "FILTER")]
    pub filter: Option<String>,
    /// Trace only process PID.
    #[arg(short = 'p', long, value_name = "PID")]
    pub pid: Option<i32>,
    /// Stop after SECS seconds.
    #[arg(short = 'd', long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Stop after COUNT events.
    #[arg(short = 'n', long, value_name = "COUNT")]
    pub count: Option<u64>,
    /// Print column headers.
    #[arg(short = 'H', long)]
    pub headers: bool,
}

/// How the probe's events are printed.
struct Printer {
    printer: EventPrinter,
    ksyms: KernelSymbols,
    /// For `symbol` typed arguments (`%pS` in the print fmt).
    fmt_syms: Symbols,
    ret: bool,
}

impl Printer {
    /// `(func+0x0/0x1c0)` or `(caller+0x55/0x90 <- func)`, then the
    /// arguments as the probe's print fmt renders them.
    fn line(&self, ev: &Event<'_>, out: &mut String) {
        let field = |n: &str| ev.schema.field(n).and_then(|f| f.u64(ev.data, ev.endian));
        if self.ret {
            let ret_ip = field("__probe_ret_ip").unwrap_or(0);
            let func = field("__probe_func").unwrap_or(0);
            out.push_str(&format!(
                "({} <- {})",
                sym_offset(&self.ksyms, ret_ip),
                sym_name(&self.ksyms, func)
            ));
        } else {
            let ip = field("__probe_ip").unwrap_or(0);
            out.push_str(&format!("({})", sym_offset(&self.ksyms, ip)));
        }
        let ctx = Ctx {
            endian: ev.endian,
            long_size: 8,
            syms: &self.fmt_syms,
        };
        let mut rendered = String::new();
        if self.printer.render(&ctx, ev.data, &mut rendered, &mut |_, _| {}) {
            // The print fmt starts with the `(%lx)` head written above.
            if let Some((_, args)) = rendered.split_once(')') {
                out.push_str(args);
            }
        } else {
            for (name, r) in ev.fields.iter().filter(|(n, _)| !n.starts_with("__probe")) {
                out.push_str(&format!(" {name}={}", r.value(ev.data, ev.endian)));
            }
        }
    }
}

fn validate(args: &Args) -> Result<()> {
    if let Some(d) = args.duration {
        if !(d.is_finite() && d > 0.0) {
            bail!("-d needs a positive number of seconds, not {d}");
        }
    }
    if args.count == Some(0) {
        bail!("-n needs at least 1 event");
    }
    Ok(())
}

/// Runs kprobe.
pub fn run(g: &Global, args: Args) -> Result<ExitCode> {
    validate(&args)?;
    let spec = parse_kprobe_spec(&args.definition).map_err(|e| anyhow!("bad probe definition: {e}"))?;
    let stop = Stop::install()?.with_duration(args.duration.map(Duration::from_secs_f64));
    let t = g.tracing_for_writing()?;
    let env = KprobeEnv::load(&t, &format!("probe {}", spec.target()))?;
    env.check(&spec)?;
    let group = ProbeGroup::new(&t);
    let event = env.define(&group, &spec)?;
    let name = EventName {
        system: group.name().to_owned(),
        name: event.clone(),
    };
    let cfg = SessionConfig {
        events: vec![name.clone()],
        filter: args.filter.clone(),
        pid: args.pid,
        ordered: true,
        ..Default::default()
    };
    let mut session = Session::start(&t, &cfg)?;
    if let Some(n) = &session.note {
        eprintln!("ftr: {n}");
    }
    let schema = session.instance().schema(&name.system, &name.name)?;
    let uses_symbols = spec.args.iter().any(|a| {
        matches!(a.ty, Some(ArgType::Symbol))
            || matches!(&a.ty, Some(ArgType::Array(t, _)) if **t == ArgType::Symbol)
    });
    let printer = Printer {
        printer: EventPrinter::new(&schema),
        ksyms: running_kernel_symbols(),
        fmt_syms: if uses_symbols {
            Symbols::parse(&std::fs::read_to_string(ftr_tracefs::KALLSYMS).unwrap_or_default())
        } else {
            Symbols::default()
        },
        ret: spec.ret,
    };
    eprintln!(
        "Tracing kprobe {event} ({}). Ctrl-C to end.",
        spec.command(group.name())
    );
    let mut comms = CommCache::new(Some(t.path("saved_cmdlines")));
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut write_error: Option<std::io::Error> = None;
    if args.headers {
        let r = writeln!(
            out,
            "# tracer: nop\n#\n#           TASK-PID     CPU#   TIMESTAMP  FUNCTION\n#              | |         |        |         |"
        )
        .and_then(|()| out.flush());
        if let Err(e) = r {
            write_error = Some(e);
            stop.request();
        }
    }
    let mut printed = 0u64;
    let mut line = String::new();
    let stats = session.run(
        &stop,
        Duration::from_millis(100),
        &mut |ev| {
            if write_error.is_some() || args.count.is_some_and(|c| printed >= c) {
                return;
            }
            line.clear();
            printer.line(ev, &mut line);
            let comm = comms.get(ev.pid).to_owned();
            let r = write_event_prefix(&mut out, &comm, ev)
                .and_then(|()| writeln!(out, " {line}"))
                .and_then(|()| out.flush());
            printed += 1;
            if let Err(e) = r {
                write_error = Some(e);
                stop.request();
            } else if args.count.is_some_and(|c| printed >= c) {
                stop.request();
            }
        },
        &mut super::common::print_missed,
    );
    let flushed = out.flush();
    let overruns = kernel_losses(&session);
    let finished = session.finish();
    let removed = group
        .remove()
        .map_err(|e| anyhow!("removing the kprobe: {}", ftr_tracefs::error_chain(&e)));
    let stats = stats?;
    finished?;
    removed?;
    output_result(write_error, flushed)?;
    eprintln!(
        "{printed} events printed; {} lost{}",
        stats.lost_events,
        if overruns > 0 {
            format!(" (kernel counted {overruns} overrun/dropped)")
        } else {
            String::new()
        }
    );
    Ok(ExitCode::SUCCESS)
}
