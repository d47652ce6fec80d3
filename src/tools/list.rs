//! `ftr list`: events, tracers, options and event fields, like
//! `trace-cmd list` (and `perf list` for tracepoints).

use super::Global;
use anyhow::{bail, Context, Result};
use ftr_tracefs::format::Schema;
use ftr_tracefs::{list_events, read_text, select_events, TracingDir};
use std::io::Write;
use std::process::ExitCode;

/// `ftr list` flags. With none, lists events, tracers and options.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "EXAMPLES:\n    ftr list -e                    # every event\n    ftr list -e 'sched:*'          # scheduler events\n    ftr list -e sched_switch -F    # its fields\n    ftr list -t                    # tracers\n    ftr list -o                    # trace options"
)]
pub struct Args {
    /// List events, or only those matching GLOB (`sys:event`, `sys`, `*wake*`).
    #[arg(short = 'e', long = "events", value_name = "GLOB", num_args = 0..=1, default_missing_value = "*")]
    pub events: Option<String>,
    /// List tracers.
    #[arg(short = 't', long)]
    pub tracers: bool,
    /// List trace options.
    #[arg(short = 'o', long)]
    pub options: bool,
    /// Show each listed event's fields.
    #[arg(short = 'F', long)]
    pub fields: bool,
}

fn print_fields(out: &mut dyn Write, t: &TracingDir, system: &str, name: &str) -> Result<()> {
    let path = t.events_dir().join(system).join(name).join("format");
    let text = read_text(&path)?;
    let schema = Schema::parse(system, &text).with_context(|| format!("parsing {}", path.display()))?;
    writeln!(out, "{system}:{name} (id {})", schema.id)?;
    for f in &schema.fields {
        writeln!(
            out,
            "    {:<32} {:<24} offset:{:<4} size:{:<4} signed:{}",
            f.type_name,
            f.name,
            f.offset,
            f.size,
            u8::from(f.signed)
        )?;
    }
    writeln!(out, "    print fmt: {}", schema.print_fmt)?;
    Ok(())
}

/// Runs list.
pub fn run(g: &Global, args: Args) -> Result<ExitCode> {
    let t = g.tracing()?;
    let mut out = std::io::stdout().lock();
    let all = !args.tracers && !args.options && args.events.is_none();
    if all || args.events.is_some() {
        let events = list_events(&t)?;
        let glob = args.events.as_deref().unwrap_or("*");
        let chosen = select_events(&events, glob);
        if chosen.is_empty() {
            bail!("no event matches {glob:?} under {}", t.events_dir().display());
        }
        if all {
            writeln!(out, "events:")?;
        }
        for e in chosen {
            if args.fields {
                print_fields(&mut out, &t, &e.system, &e.name)?;
            } else {
                writeln!(out, "{e}")?;
            }
        }
    }
    if all || args.tracers {
        if all {
            writeln!(out, "\ntracers:")?;
        }
        let text = read_text(&t.path("available_tracers"))?;
        for tr in text.split_whitespace() {
            writeln!(out, "{tr}")?;
        }
    }
    if all || args.options {
        if all {
            writeln!(out, "\noptions:")?;
        }
        match read_text(&t.path("trace_options")) {
            Ok(text) => {
                for o in text.split_whitespace() {
                    writeln!(out, "{o}")?;
                }
            }
            Err(_) => {
                // Captured trees keep option names without values.
                let text = read_text(&t.path("options.txt")).context("no trace_options here")?;
                for o in text.split_whitespace() {
                    writeln!(out, "{o}")?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
