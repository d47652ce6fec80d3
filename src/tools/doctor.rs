//! `ftr doctor`: one screen saying what this kernel offers and, for each
//! tool, which mechanism it will use here or why it cannot run.

use super::{catalog, Global};
use crate::pipeline::plan::{KernelEnv, Resolution};
use crate::render::table::Table;
use anyhow::Result;
use ftr_pmu::Census;
use serde_json::{json, Value};
use std::io::Write;
use std::process::ExitCode;

/// `ftr doctor` flags.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "EXAMPLES:\n    ftr doctor          # feature and tool table\n    ftr doctor -v       # also say why earlier alternatives were skipped\n    ftr doctor --json   # the same as one JSON object"
)]
pub struct Args {
    /// Print one JSON object instead of tables.
    #[arg(long)]
    pub json: bool,
}

fn kernel_release() -> String {
    nix::sys::utsname::uname()
        .map(|u| {
            format!(
                "{} ({})",
                u.release().to_string_lossy(),
                u.machine().to_string_lossy()
            )
        })
        .unwrap_or_else(|_| "unknown".into())
}

fn tool_state(built: bool, r: &Resolution) -> &'static str {
    match (built, r.ok()) {
        (true, true) => "ready",
        (true, false) => "cannot run",
        (false, true) => "planned",
        (false, false) => "planned, cannot run",
    }
}

fn mechanism_text(r: &Resolution) -> String {
    if r.ok() {
        r.chosen
            .iter()
            .map(|(_, alt, _)| alt.name)
            .collect::<Vec<_>>()
            .join(" + ")
    } else {
        r.unmet
            .iter()
            .map(|(what, why)| format!("no way to get {what}: {}", why.join("; ")))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

fn located_text(t: &ftr_tracefs::TracingDir) -> String {
    match t.located() {
        ftr_tracefs::Located::Tracefs => "tracefs mount".to_owned(),
        ftr_tracefs::Located::Debugfs => "debugfs".to_owned(),
        ftr_tracefs::Located::MountedByFtr(fs) => format!("{fs} mounted by ftr"),
        ftr_tracefs::Located::Given => "given".to_owned(),
    }
}

/// Runs doctor.
pub fn run(g: &Global, args: Args) -> Result<ExitCode> {
    let tracing = g.tracing_for_writing().map_err(|e| format!("{e:#}"));
    let env = KernelEnv::new(tracing);
    let tracefs = env.tracing().ok().zip(env.caps().ok());
    let tools: Vec<_> = catalog::all()
        .into_iter()
        .map(|t| {
            let r = t.plan.resolve(&env);
            (t, r)
        })
        .collect();
    let census = ftr_pmu::event_census();
    let mut out = std::io::stdout().lock();
    if args.json {
        let features: serde_json::Map<String, Value> = tracefs
            .map(|(_, c)| {
                c.features()
                    .into_iter()
                    .map(|(n, s)| (n.to_owned(), json!({"state": s.word(), "detail": s.detail()})))
                    .collect()
            })
            .unwrap_or_default();
        let pmu: serde_json::Map<String, Value> = env
            .pmu()
            .features()
            .into_iter()
            .map(|(n, p)| {
                (
                    n.to_owned(),
                    json!({"usable": p.is_usable(), "detail": p.to_string()}),
                )
            })
            .collect();
        let v = json!({
            "kernel": kernel_release(),
            "tracefs": tracefs.map(|(t, c)| json!({
                "root": t.root(), "located": located_text(t), "events": c.events,
                "lockdown": c.lockdown,
            })),
            "tracefs_error": env.tracing().err(),
            "features": features,
            "perf_event_paranoid": env.pmu().paranoid,
            "perf": pmu,
            "perf_events": census.iter().map(|(n, c)| (n.clone(), match c {
                Census::Counts(v) => json!({"state": "counts", "value": v}),
                Census::NotCounted => json!({"state": "not counted"}),
                Census::NotSupported(why) => json!({"state": "not supported", "why": why}),
            })).collect::<serde_json::Map<String, Value>>(),
            "tools": tools.iter().map(|(t, r)| json!({
                "name": t.name, "built": t.built, "summary": t.summary, "state": tool_state(t.built, r),
                "mechanisms": r.chosen.iter().map(|(what, alt, skipped)| json!({"need": what, "using": alt.name, "skipped": skipped})).collect::<Vec<_>>(),
                "unmet": r.unmet.iter().map(|(what, why)| json!({"need": what, "why": why})).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    match (tracefs, env.tracing()) {
        (Some((t, c)), _) => writeln!(
            out,
            "kernel {}; tracefs at {} ({}), {} events",
            kernel_release(),
            t.root().display(),
            located_text(t),
            c.events
        )?,
        (None, Err(e)) => writeln!(out, "kernel {}; NO tracefs: {e}", kernel_release())?,
        (None, Ok(t)) => writeln!(
            out,
            "kernel {}; tracefs at {}",
            kernel_release(),
            t.root().display()
        )?,
    }
    writeln!(out)?;
    let mut t = Table::new(["FEATURE", "STATE", "EVIDENCE"]);
    if let Some((_, c)) = tracefs {
        for (name, s) in c.features() {
            t.row([name.to_owned(), s.word().to_owned(), s.detail().to_owned()]);
        }
        let (state, evidence) = match &c.lockdown {
            Some(l) => (l.clone(), "/sys/kernel/security/lockdown"),
            None => (
                "unknown".to_owned(),
                "securityfs is not mounted at /sys/kernel/security",
            ),
        };
        t.row(["lockdown".to_owned(), state, evidence.to_owned()]);
    }
    let pmu = env.pmu();
    t.row([
        "perf_event_paranoid".to_owned(),
        pmu.paranoid.map_or("unknown".into(), |p| p.to_string()),
        "/proc/sys/kernel/perf_event_paranoid".into(),
    ]);
    for (name, p) in pmu.features() {
        t.row([
            name.to_owned(),
            if p.is_usable() { "yes" } else { "no" }.to_owned(),
            p.to_string(),
        ]);
    }
    t.print(&mut out)?;
    writeln!(out)?;
    write_census(&mut out, &census)?;
    writeln!(out)?;
    let mut t = Table::new(["TOOL", "STATE", "MECHANISM HERE"]);
    for (tool, r) in &tools {
        t.row([
            tool.name.to_owned(),
            tool_state(tool.built, r).to_owned(),
            mechanism_text(r),
        ]);
        if g.verbose > 0 {
            for (_, _, skipped) in &r.chosen {
                for s in skipped {
                    t.row(["".to_owned(), "".to_owned(), format!("  skipped {s}")]);
                }
            }
        }
    }
    t.print(&mut out)?;
    Ok(ExitCode::SUCCESS)
}

/// Which generic perf events count here, and why the others do not
/// (grouped by reason: on a VM without a PMU every hardware event shares one).
fn write_census(out: &mut impl Write, census: &[(String, Census)]) -> std::io::Result<()> {
    let counting: Vec<&str> = census
        .iter()
        .filter(|(_, c)| matches!(c, Census::Counts(_)))
        .map(|(n, _)| n.as_str())
        .collect();
    writeln!(
        out,
        "PERF EVENTS COUNTING HERE ({} of {}): {}",
        counting.len(),
        census.len(),
        if counting.is_empty() {
            "none".to_owned()
        } else {
            counting.join(" ")
        }
    )?;
    let mut refused: Vec<(&str, Vec<&str>)> = Vec::new();
    for (name, c) in census {
        let why = match c {
            Census::Counts(_) => continue,
            Census::NotCounted => "opened but never counted",
            Census::NotSupported(why) => why.as_str(),
        };
        match refused.iter_mut().find(|(w, _)| *w == why) {
            Some((_, names)) => names.push(name),
            None => refused.push((why, vec![name])),
        }
    }
    for (why, names) in refused {
        writeln!(out, "NOT COUNTING ({why}): {}", names.join(" "))?;
    }
    Ok(())
}
