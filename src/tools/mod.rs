//! The tools. Each module has an `Args` (clap), a `run` and its own output
//! code; kernel work goes through crate::pipeline and the libraries.

pub mod biolatency;
pub mod biosnoop;
pub mod biotop;
pub mod bitesize;
pub mod cachestat;
pub mod cachetop;
pub mod catalog;
pub mod common;
pub mod cpudist;
pub mod deadlock;
pub mod doctor;
pub mod funccount;
pub mod funcgraph;
pub mod kept;
pub mod kprobe;
pub mod list;
pub mod memleak;
pub mod offcputime;
pub mod profile;
pub mod record;
mod record_date;
pub mod report;
pub mod runqlat;
pub mod runqslower;
pub mod sched;
pub mod split;
pub mod stat;
pub mod tp;

use crate::cli::{Cli, Command};
use anyhow::Result;
use ftr_tracefs::TracingDir;
use std::process::ExitCode;

/// Options every tool receives.
pub struct Global {
    /// `-v` count.
    pub verbose: u8,
    /// `--tracing-dir`.
    pub tracing_dir: Option<std::path::PathBuf>,
}

impl Global {
    /// The tracing directory: the one given, else found or mounted.
    pub fn tracing(&self) -> Result<TracingDir> {
        match &self.tracing_dir {
            Some(d) => Ok(TracingDir::at(d)),
            None => Ok(TracingDir::locate()?),
        }
    }

    /// The tracing directory, after reclaiming whatever a killed ftr left
    /// there; used by every tool that changes kernel state.
    pub fn tracing_for_writing(&self) -> Result<TracingDir> {
        let t = self.tracing()?;
        match ftr_tracefs::reclaim_stale(&t) {
            Ok(done) => {
                for d in done {
                    if self.verbose > 0 {
                        eprintln!("ftr: reclaimed {d}");
                    }
                }
            }
            Err(errors) => {
                for e in errors {
                    eprintln!("ftr: could not reclaim: {}", ftr_tracefs::error_chain(&e));
                }
            }
        }
        Ok(t)
    }
}

/// Runs the selected tool.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let g = Global {
        verbose: cli.verbose,
        tracing_dir: cli.tracing_dir,
    };
    match cli.command {
        Command::Doctor(a) => doctor::run(&g, a),
        Command::List(a) => list::run(&g, a),
        Command::Tp(a) => tp::run(&g, a),
        Command::Runqlat(a) => runqlat::run(&g, a),
        Command::Runqslower(a) => runqslower::run(&g, a),
        Command::Sched(a) => sched::run(&g, a),
        Command::Cpudist(a) => cpudist::run(&g, a),
        Command::Biolatency(a) => biolatency::run(&g, a),
        Command::Biosnoop(a) => biosnoop::run(&g, a),
        Command::Biotop(a) => biotop::run(&g, a),
        Command::Bitesize(a) => bitesize::run(&g, a),
        Command::Cachestat(a) => cachestat::run(&g, a),
        Command::Cachetop(a) => cachetop::run(&g, a),
        Command::Offcputime(a) => offcputime::run(&g, a),
        Command::Profile(a) => profile::run(&g, a),
        Command::Stat(a) => stat::run(&g, a),
        Command::Record(a) => record::run(&g, a),
        Command::Report(a) => report::run(&g, a),
        Command::Memleak(a) => memleak::run(&g, a),
        Command::Start(a) => kept::start(&g, a),
        Command::Stop(a) => kept::stop(&g, a),
        Command::Restart(a) => kept::restart(&g, a),
        Command::Extract(a) => kept::extract(&g, a),
        Command::Reset(a) => kept::reset(&g, a),
        Command::Show(a) => kept::show(&g, a),
        Command::Split(a) => split::run(&g, a),
        Command::Kprobe(a) => kprobe::run(&g, a),
        Command::Funccount(a) => funccount::run(&g, a),
        Command::Funcgraph(a) => funcgraph::run(&g, a),
        Command::Deadlock(a) => deadlock::run(&g, a),
    }
}
