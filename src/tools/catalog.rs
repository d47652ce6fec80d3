//! Every ftr tool, built or planned, with its probe plan: the single list
//! `ftr doctor` walks. A planned tool is listed so operators see which
//! mechanism it will use on this kernel, and is marked as not built yet.

use crate::pipeline::plan::{alt, need, Mechanism as M, ProbePlan};

/// One tool.
pub struct ToolInfo {
    /// Command name.
    pub name: &'static str,
    /// Whether this build has it.
    pub built: bool,
    /// What it does, in a few words.
    pub summary: &'static str,
    /// What it needs.
    pub plan: ProbePlan,
}

fn tool(
    name: &'static str,
    built: bool,
    summary: &'static str,
    needs: Vec<crate::pipeline::plan::Need>,
) -> ToolInfo {
    ToolInfo {
        name,
        built,
        summary,
        plan: ProbePlan { needs },
    }
}

/// All tools, in the order doctor prints them.
pub fn all() -> Vec<ToolInfo> {
    vec![
        tool(
            "list",
            true,
            "list events, tracers, options, fields",
            vec![need("event list", vec![alt("tracefs", vec![M::Tracefs])])],
        ),
        tool(
            "tp",
            true,
            "print tracepoint events live",
            vec![need("events", vec![alt("tracefs instance", vec![M::Tracefs])])],
        ),
        tool(
            "stat",
            true,
            "count PMC and software events (perf stat)",
            vec![need(
                "counters",
                vec![alt("perf_event_open", vec![M::PerfCounters])],
            )],
        ),
        tool(
            "record",
            true,
            "record to trace.dat (trace-cmd record)",
            vec![need("events", vec![alt("tracefs instance", vec![M::Tracefs])])],
        ),
        tool(
            "report",
            true,
            "print a trace.dat (trace-cmd report)",
            vec![need("input", vec![alt("file", vec![M::FileOnly])])],
        ),
        tool(
            "profile",
            true,
            "on-CPU stacks and flame graphs",
            crate::tools::profile::plan().needs,
        ),
        tool(
            "offcputime",
            true,
            "off-CPU time by stack",
            crate::tools::offcputime::plan().needs,
        ),
        tool(
            "memleak",
            true,
            "outstanding allocations by stack",
            crate::tools::memleak::plan().needs,
        ),
        tool(
            "deadlock",
            true,
            "lock-order inversions (pthread mutexes)",
            crate::tools::deadlock::plan().needs,
        ),
        tool(
            "biolatency",
            true,
            "block I/O latency histogram",
            crate::tools::biolatency::plan(false).needs,
        ),
        tool(
            "biosnoop",
            true,
            "one line per block I/O",
            crate::tools::biosnoop::plan(false).needs,
        ),
        tool(
            "biotop",
            true,
            "block I/O by process",
            crate::tools::biotop::plan().needs,
        ),
        tool(
            "bitesize",
            true,
            "I/O size histograms by process",
            crate::tools::bitesize::plan().needs,
        ),
        tool(
            "runqlat",
            true,
            "run-queue latency histogram",
            crate::tools::runqlat::plan().needs,
        ),
        tool(
            "runqslower",
            true,
            "slow run-queue waits",
            crate::tools::runqslower::plan().needs,
        ),
        tool(
            "sched",
            true,
            "perf sched latency",
            crate::tools::sched::plan().needs,
        ),
        tool(
            "cpudist",
            true,
            "on/off-CPU time histograms",
            crate::tools::cpudist::plan().needs,
        ),
        tool(
            "cachestat",
            true,
            "page cache hit ratio",
            crate::tools::common::cache::catalog_plan().needs,
        ),
        tool(
            "cachetop",
            true,
            "page cache hits by process",
            crate::tools::common::cache::catalog_plan().needs,
        ),
        tool(
            "funccount",
            true,
            "count kernel function calls",
            crate::tools::funccount::plan("vfs_read").needs,
        ),
        tool(
            "funcgraph",
            true,
            "kernel call graphs with durations",
            crate::tools::funcgraph::plan().needs,
        ),
        tool(
            "kprobe",
            true,
            "define a kprobe and print its events",
            vec![need(
                "kprobes",
                vec![alt("kprobe_events", vec![M::Kprobe("vfs_read")])],
            )],
        ),
    ]
}
