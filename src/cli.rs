//! The command line: one `Command` enum lists every tool (the single place
//! a tool is registered).

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Global flags shared by every tool.
#[derive(Debug, Parser)]
#[command(
    name = "ftr",
    version,
    about = "Linux tracing tools for hosts without (usable) BPF",
    after_help = "EXAMPLES:\n    ftr doctor                      # what this kernel offers, per tool\n    ftr list -e 'sched:*'           # list scheduler tracepoints\n    ftr tp sched:sched_process_exec # print every exec live\n"
)]
pub struct Cli {
    /// Explain more (repeat for more detail).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Use TRACING_DIR instead of finding or mounting tracefs.
    #[arg(long, global = true, value_name = "TRACING_DIR")]
    pub tracing_dir: Option<PathBuf>,
    /// The tool to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Every ftr tool.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what this kernel offers and which mechanism each tool will use.
    Doctor(crate::tools::doctor::Args),
    /// List events, tracers, options or event fields.
    List(crate::tools::list::Args),
    /// Print tracepoint events live (perf-tools tpoint).
    Tp(crate::tools::tp::Args),
    /// Summarize run-queue (scheduler) latency as a histogram (bcc runqlat).
    Runqlat(crate::tools::runqlat::Args),
    /// Print run-queue waits longer than a threshold (bcc runqslower).
    Runqslower(crate::tools::runqslower::Args),
    /// Scheduler analyses in perf sched's layout (latency).
    Sched(crate::tools::sched::Args),
    /// Summarize on-CPU (or off-CPU) time as a histogram (bcc cpudist).
    Cpudist(crate::tools::cpudist::Args),
    /// Summarize block I/O latency as a histogram.
    Biolatency(crate::tools::biolatency::Args),
    /// Trace block I/O, one line per request.
    Biosnoop(crate::tools::biosnoop::Args),
    /// Block I/O by process and disk, refreshed like top.
    Biotop(crate::tools::biotop::Args),
    /// Summarize block I/O sizes per process as histograms.
    Bitesize(crate::tools::bitesize::Args),
    /// Page cache hits, misses and dirtied pages per interval (bcc cachestat).
    Cachestat(crate::tools::cachestat::Args),
    /// Page cache hits and misses by process, refreshed like top (bcc cachetop).
    Cachetop(crate::tools::cachetop::Args),
    /// Summarize off-CPU time by stack (bcc offcputime).
    Offcputime(crate::tools::offcputime::Args),
    /// Sample on-CPU stacks and count them; folded output, flame graphs (bcc profile).
    Profile(crate::tools::profile::Args),
    /// Count hardware, software and tracepoint events (perf stat).
    Stat(crate::tools::stat::Args),
    /// Record events into a trace.dat (trace-cmd record).
    Record(crate::tools::record::Args),
    /// Outstanding user-space allocations by call stack (bcc memleak).
    Memleak(crate::tools::memleak::Args),
    /// Print a trace.dat like trace-cmd report.
    Report(crate::tools::report::Args),
    /// Start tracing into a kept instance and return (trace-cmd start).
    Start(crate::tools::kept::StartArgs),
    /// Pause a kept instance's recording (trace-cmd stop).
    Stop(crate::tools::kept::Name),
    /// Resume a kept instance's recording (trace-cmd restart).
    Restart(crate::tools::kept::Name),
    /// Write what a kept instance holds into a trace.dat (trace-cmd extract).
    Extract(crate::tools::kept::ExtractArgs),
    /// Disable and remove kept instances (trace-cmd reset).
    Reset(crate::tools::kept::ResetArgs),
    /// Print a kept instance's trace buffer as text (trace-cmd show).
    Show(crate::tools::kept::Name),
    /// Cut a trace.dat into pieces by time, events or pages (trace-cmd split).
    Split(crate::tools::split::Args),
    /// Define a kprobe and print its events live (perf-tools kprobe).
    Kprobe(crate::tools::kprobe::Args),
    /// Count kernel function calls matching a pattern (bcc funccount).
    Funccount(crate::tools::funccount::Args),
    /// Show kernel call graphs with durations (perf-tools funcgraph).
    Funcgraph(crate::tools::funcgraph::Args),
    /// Find potential deadlocks (lock-order inversions) in a process (bcc deadlock).
    Deadlock(crate::tools::deadlock::Args),
}

/// Parses the process arguments (exits with clap's message and code 2 on
/// bad input).
pub fn parse() -> Cli {
    Cli::parse()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_common_forms() {
        let c = Cli::try_parse_from([
            "ftr",
            "tp",
            "sched:sched_switch",
            "--filter",
            "prev_pid > 0",
            "-p",
            "1",
            "-d",
            "2",
        ])
        .unwrap();
        match c.command {
            Command::Tp(a) => {
                assert_eq!(a.events, vec!["sched:sched_switch"]);
                assert_eq!(a.pid, Some(1));
            }
            _ => panic!("wrong command"),
        }
        assert!(Cli::try_parse_from(["ftr", "tp"]).is_err(), "tp needs an event");
        assert!(Cli::try_parse_from(["ftr", "-vv", "doctor", "--json"]).is_ok());
        assert!(Cli::try_parse_from(["ftr", "list", "-e", "sched:*", "-F"]).is_ok());
    }
}
