//! Scheduler tracepoints decoded the same way for every scheduler tool
//! (runqlat, runqslower, cpudist, `sched latency`).
//!
//! [`SchedEvents`] resolves the fields of `sched_switch`, `sched_wakeup`,
//! `sched_wakeup_new`, `sched_waking` and `sched_stat_runtime` once per
//! session, from whatever layout this kernel has, and turns each record
//! into a [`Sched`] value. Two things differ by kernel version and are
//! derived from the format files, never from the version number:
//!
//! - **Is the task that was switched out still runnable?** `prev_state`
//!   holds the task's state bits, plus one extra bit when the switch was a
//!   preemption. 3.10 reports `TASK_RUNNING | TASK_STATE_MAX` (1024) for a
//!   preempted task, 4.2–4.7 use 2048, 4.8–4.13 4096, and 4.14+ report
//!   `TASK_REPORT_MAX` (0x100 on 6.x) and show it as `R+` (see
//!   `__trace_sched_switch_state` in include/trace/events/sched.h). The
//!   kernel's own print fmt names that bit (`REC->prev_state & BIT ? "+" :
//!   ""`); a task is runnable when no bit below it is set
//!   ([`PrevStateTest`]).
//! - **`success` in the wakeup events**: always 1 since 4.3 and removed in
//!   5.14, when target_cpu moved from offset 36 to 32 (the 3.10, 4.4 and
//!   6.18 formats in fixtures/ agree; KERNELS.md's "40 to 36" is off by
//!   4). When the field exists and is 0, the wakeup did not happen and is
//!   ignored.
//!
//! [`Tgids`] (crate::pipeline::tasks) maps thread ids to process ids for `-p PID` and
//! per-process histograms (the tracepoints carry thread ids only).

use super::start_plan;
use crate::pipeline::plan::{Mechanism, ProbePlan, Resolution};
use crate::pipeline::session::{Event, Session, SessionConfig};
use crate::render::hist::Log2Hist;
use crate::tools::Global;
use anyhow::{bail, Context, Result};
use ftr_tracefs::format::{FieldRef, Schema};
use ftr_tracefs::Endian;
use std::collections::BTreeMap;
use std::io::{self, Write};

/// `sched:sched_switch`.
pub const SWITCH: &str = "sched:sched_switch";
/// `sched:sched_wakeup`.
pub const WAKEUP: &str = "sched:sched_wakeup";
/// `sched:sched_wakeup_new`.
pub const WAKEUP_NEW: &str = "sched:sched_wakeup_new";
/// `sched:sched_waking` (4.3+): at the start of try_to_wake_up.
pub const WAKING: &str = "sched:sched_waking";
/// `sched:sched_stat_runtime`: CPU time charged to a task.
pub const STAT_RUNTIME: &str = "sched:sched_stat_runtime";

/// The tracepoint mechanisms for `names` (plan building).
pub fn tracepoints(names: &[&'static str]) -> Vec<Mechanism> {
    names.iter().map(|n| Mechanism::Tracepoint(n)).collect()
}

/// How full (percent) a CPU buffer gets before the reader of a scheduler
/// tool is woken (`SessionConfig::wake_percent`). Scheduler tools trace
/// ftr's own wakeups: waking at every event (0), `ftr runqlat` cost 43% of a
/// CPU on the idle 6.18 VM and drove 72k switches/s; at 10% it costs under
/// 1%. 10 rather than 50: under 125k switches/s runqlat used 6% of a CPU at
/// 10 and 10% at 50, since smaller rounds keep the merge's heap small. The
/// session's drain floor (10 ms) bounds the loop on kernels before 5.1.
pub const READER_WAKE_PERCENT: u32 = 10;

/// Whether a tool reads [`Sched::Switch`]'s `prev_runnable`, and so should
/// warn when this kernel's print fmt names no preemption bit (see
/// [`SchedEvents::warning`]). cpudist only times stints and does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreemptionWarning {
    /// Print the warning when it applies.
    Print,
    /// The tool does not care whether a switched-out task was runnable.
    Skip,
}

/// Starts a scheduler tool's session the way all of them need it: `-b KB`
/// checked (0 would leave the kernel's size while the user asked for
/// none), events merged in timestamp order (a wakeup and the switch it
/// leads to are often on different CPUs), and the reader woken at
/// [`READER_WAKE_PERCENT`] so it does not feed on its own wakeups. Returns
/// the session, its decoded events and the plan's resolution (for tools
/// whose output depends on which alternative was chosen).
pub fn start(
    g: &Global,
    plan: &ProbePlan,
    buffer_kb: Option<u64>,
    warning: PreemptionWarning,
) -> Result<(Session, SchedEvents, Resolution)> {
    if buffer_kb == Some(0) {
        bail!("-b needs a positive number of kilobytes");
    }
    let cfg = SessionConfig {
        buffer_kb,
        ordered: true,
        wake_percent: Some(READER_WAKE_PERCENT),
        ..Default::default()
    };
    let (session, res) = start_plan(g, plan, cfg)?;
    let sched = SchedEvents::for_session(&session, &res)?;
    if warning == PreemptionWarning::Print {
        if let Some(w) = sched.warning() {
            eprintln!("{w}");
        }
    }
    Ok((session, sched, res))
}

/// Where [`PrevStateTest`] learned the kernel's encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateSource {
    /// The print fmt's `REC->prev_state & BIT ? "+" : ""`: the preemption
    /// bit (TASK_STATE_MAX before 4.14, TASK_REPORT_MAX after).
    PreemptBit(u64),
    /// No `"+"` test, but a `__print_flags` table whose highest state is
    /// this value: every bit above it is taken as a preemption marker.
    FlagTable(u64),
    /// Neither: only `prev_state == 0` counts as runnable, so preempted
    /// tasks on kernels that mark them with a bit are missed.
    Unknown,
}

/// Whether a `prev_state` value means the task is still runnable (it was
/// preempted, or it yielded): `prev_state & mask == 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrevStateTest {
    mask: u64,
    /// How the mask was found.
    pub source: StateSource,
}

impl PrevStateTest {
    /// Derives the test from sched_switch's `print fmt` text (never fails:
    /// falls back as [`StateSource`] describes).
    pub fn from_print_fmt(fmt: &str) -> PrevStateTest {
        if let Some(bit) = preempt_bit(fmt) {
            return PrevStateTest {
                mask: bit - 1,
                source: StateSource::PreemptBit(bit),
            };
        }
        if let Some(max) = max_state_flag(fmt) {
            // Every bit up to and including the highest named state.
            let bits = 64 - max.leading_zeros();
            let mask = if bits >= 64 { u64::MAX } else { (1u64 << bits) - 1 };
            return PrevStateTest {
                mask,
                source: StateSource::FlagTable(max),
            };
        }
        PrevStateTest {
            mask: u64::MAX,
            source: StateSource::Unknown,
        }
    }

    /// True when a task switched out with `prev_state` is still runnable
    /// (TASK_RUNNING, with or without the preemption bit).
    #[inline]
    pub fn runnable(&self, prev_state: u64) -> bool {
        prev_state & self.mask == 0
    }
}

/// The preemption bit named by `REC->prev_state & EXPR ? "+"` in a
/// sched_switch print fmt, if EXPR is a constant power of two.
pub fn preempt_bit(fmt: &str) -> Option<u64> {
    const NEEDLE: &str = "REC->prev_state";
    let mut from = 0;
    while let Some(i) = fmt[from..].find(NEEDLE) {
        let start = from + i + NEEDLE.len();
        from = start;
        let mut p = Expr::new(&fmt.as_bytes()[start..]);
        p.ws();
        if !p.eat(b'&') || p.peek() == Some(b'&') {
            continue;
        }
        let Some(v) = p.unary(0) else { continue };
        p.ws();
        if !p.eat(b'?') {
            continue;
        }
        p.ws();
        if p.rest().starts_with(b"\"+\"") && v != 0 && v.is_power_of_two() {
            return Some(v);
        }
    }
    None
}

/// The largest value in the `__print_flags(REC->prev_state ..., "|", { V,
/// "X" }, ...)` table.
pub fn max_state_flag(fmt: &str) -> Option<u64> {
    let i = fmt.find("__print_flags(REC->prev_state")?;
    let call = &fmt.as_bytes()[i..];
    // Skip the value expression to the delimiter string, then the string.
    let q = call.iter().position(|&c| c == b'"')?;
    let close = call[q + 1..].iter().position(|&c| c == b'"')?;
    let mut p = Expr::new(&call[q + 1 + close + 1..]);
    let mut max: Option<u64> = None;
    loop {
        p.ws();
        if !p.eat(b',') {
            break;
        }
        p.ws();
        if !p.eat(b'{') {
            break;
        }
        p.ws();
        let Some(v) = p.number() else { break };
        p.ws();
        if !p.eat(b',') {
            break;
        }
        p.ws();
        if !p.eat(b'"') {
            break;
        }
        let Some(end) = p.rest().iter().position(|&c| c == b'"') else {
            break;
        };
        p.i += end + 1;
        p.ws();
        if !p.eat(b'}') {
            break;
        }
        max = Some(max.map_or(v, |m| m.max(v)));
    }
    max.filter(|&m| m > 0)
}

/// A small evaluator for the constant C expressions kernels print in
/// formats: literals (decimal, hex, octal, with U/L suffixes), parentheses,
/// unary `- ~ !` and binary `* / % + - << >> & ^ |`, all wrapping, never
/// panicking, with bounded nesting.
struct Expr<'a> {
    s: &'a [u8],
    i: usize,
}

const MAX_DEPTH: usize = 32;

impl<'a> Expr<'a> {
    fn new(s: &'a [u8]) -> Self {
        Expr { s, i: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn rest(&self) -> &'a [u8] {
        &self.s[self.i.min(self.s.len())..]
    }

    fn ws(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn number(&mut self) -> Option<u64> {
        let rest = self.rest();
        let (radix, skip) = if rest.len() > 1 && rest[0] == b'0' && (rest[1] | 0x20) == b'x' {
            (16, 2)
        } else if rest.len() > 1 && rest[0] == b'0' && rest[1].is_ascii_digit() {
            (8, 1)
        } else {
            (10, 0)
        };
        let digits = rest[skip..]
            .iter()
            .take_while(|c| (**c as char).is_digit(radix))
            .count();
        if digits == 0 {
            return None;
        }
        let text = std::str::from_utf8(&rest[skip..skip + digits]).ok()?;
        let v = u64::from_str_radix(text, radix).ok()?;
        self.i += skip + digits;
        while self.peek().is_some_and(|c| matches!(c | 0x20, b'u' | b'l')) {
            self.i += 1;
        }
        Some(v)
    }

    /// A primary with optional unary operators: literal or `( expr )`.
    fn unary(&mut self, depth: usize) -> Option<u64> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.ws();
        match self.peek()? {
            b'(' => {
                self.i += 1;
                let v = self.binary(0, depth + 1)?;
                self.ws();
                self.eat(b')').then_some(v)
            }
            b'-' => {
                self.i += 1;
                self.unary(depth + 1).map(u64::wrapping_neg)
            }
            b'~' => {
                self.i += 1;
                self.unary(depth + 1).map(|v| !v)
            }
            b'!' => {
                self.i += 1;
                self.unary(depth + 1).map(|v| u64::from(v == 0))
            }
            c if c.is_ascii_digit() => self.number(),
            _ => None,
        }
    }

    /// The next binary operator with its precedence (higher binds tighter).
    fn op(&self) -> Option<(&'static str, u8)> {
        let r = self.rest();
        let two = |a: &[u8]| r.starts_with(a);
        Some(match *r.first()? {
            b'*' => ("*", 10),
            b'/' => ("/", 10),
            b'%' => ("%", 10),
            b'+' => ("+", 9),
            b'-' => ("-", 9),
            b'<' if two(b"<<") => ("<<", 8),
            b'>' if two(b">>") => (">>", 8),
            b'&' if !two(b"&&") => ("&", 7),
            b'^' => ("^", 6),
            b'|' if !two(b"||") => ("|", 5),
            _ => return None,
        })
    }

    /// Precedence climbing over [`Expr::op`].
    fn binary(&mut self, min_prec: u8, depth: usize) -> Option<u64> {
        if depth > MAX_DEPTH {
            return None;
        }
        let mut lhs = self.unary(depth + 1)?;
        loop {
            self.ws();
            let Some((op, prec)) = self.op() else { break };
            if prec < min_prec {
                break;
            }
            self.i += op.len();
            let rhs = self.binary(prec + 1, depth + 1)?;
            lhs = match op {
                "*" => lhs.wrapping_mul(rhs),
                "/" => lhs.checked_div(rhs)?,
                "%" => lhs.checked_rem(rhs)?,
                "+" => lhs.wrapping_add(rhs),
                "-" => lhs.wrapping_sub(rhs),
                "<<" => lhs.checked_shl(u32::try_from(rhs).ok()?)?,
                ">>" => lhs.checked_shr(u32::try_from(rhs).ok()?)?,
                "&" => lhs & rhs,
                "^" => lhs ^ rhs,
                _ => lhs | rhs,
            };
        }
        Some(lhs)
    }
}

/// A command name as the kernel stores it: up to 16 bytes, NUL-padded.
/// Borrowed from the record; [`Comm::to_string`] allocates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Comm<'a>(pub &'a [u8]);

impl Comm<'_> {
    fn from_field(f: Option<FieldRef>, data: &[u8], e: Endian) -> Comm<'_> {
        let b = f.and_then(|f| f.bytes(data, e)).unwrap_or(&[]);
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        Comm(&b[..end])
    }
}

impl std::fmt::Display for Comm<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.0))
    }
}

/// Which wakeup tracepoint a [`Sched::Wakeup`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WakeKind {
    /// sched_wakeup: the task was put on a run queue.
    Wakeup,
    /// sched_wakeup_new: a new task's first enqueue.
    WakeupNew,
    /// sched_waking: try_to_wake_up started (may be on another CPU).
    Waking,
}

/// One decoded scheduler event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sched<'a> {
    /// A context switch on this CPU.
    Switch {
        /// Task switched out (0 = idle).
        prev_pid: i32,
        /// Its name.
        prev_comm: Comm<'a>,
        /// Raw `prev_state`.
        prev_state: u64,
        /// Whether it is still runnable (preempted or yielded), per this
        /// kernel's encoding.
        prev_runnable: bool,
        /// Task switched in (0 = idle).
        next_pid: i32,
        /// Its name.
        next_comm: Comm<'a>,
    },
    /// A task was woken (or a new task enqueued).
    Wakeup {
        /// Which tracepoint.
        kind: WakeKind,
        /// The woken task.
        pid: i32,
        /// Its name.
        comm: Comm<'a>,
        /// The CPU it was queued on, when the event says.
        target_cpu: Option<i32>,
    },
    /// CPU time charged to a task (sched_stat_runtime).
    Runtime {
        /// The task.
        pid: i32,
        /// Its name.
        comm: Comm<'a>,
        /// Nanoseconds since the last charge.
        runtime: u64,
    },
}

#[derive(Debug, Clone, Copy)]
struct SwitchFields {
    prev_comm: Option<FieldRef>,
    prev_pid: FieldRef,
    prev_state: FieldRef,
    next_comm: Option<FieldRef>,
    next_pid: FieldRef,
    test: PrevStateTest,
}

#[derive(Debug, Clone, Copy)]
struct WakeFields {
    kind: WakeKind,
    comm: Option<FieldRef>,
    pid: FieldRef,
    success: Option<FieldRef>,
    target_cpu: Option<FieldRef>,
}

#[derive(Debug, Clone, Copy)]
struct RuntimeFields {
    comm: Option<FieldRef>,
    pid: FieldRef,
    runtime: FieldRef,
}

#[derive(Debug, Clone, Copy)]
enum Decoder {
    Switch(SwitchFields),
    Wake(WakeFields),
    Runtime(RuntimeFields),
}

/// The scheduler events of one session, with their fields resolved once.
#[derive(Debug, Clone, Default)]
pub struct SchedEvents {
    decoders: Vec<(u16, Decoder)>,
    test: Option<PrevStateTest>,
    /// Wakeups dropped because `success` was 0.
    pub unsuccessful: u64,
}

impl SchedEvents {
    /// Resolves the fields of every scheduler event among `schemas`; other
    /// schemas are ignored. Fails naming the event and field when a known
    /// event lacks a field ftr needs.
    pub fn from_schemas<'s>(schemas: impl IntoIterator<Item = &'s Schema>) -> Result<SchedEvents> {
        let mut out = SchedEvents::default();
        for s in schemas {
            let need = |name: &str| {
                s.field(name)
                    .with_context(|| format!("{}:{} has no field {name}", s.system, s.name))
            };
            let dec = match s.name.as_str() {
                "sched_switch" => {
                    let test = PrevStateTest::from_print_fmt(&s.print_fmt);
                    out.test = Some(test);
                    Decoder::Switch(SwitchFields {
                        prev_comm: s.field("prev_comm"),
                        prev_pid: need("prev_pid")?,
                        prev_state: need("prev_state")?,
                        next_comm: s.field("next_comm"),
                        next_pid: need("next_pid")?,
                        test,
                    })
                }
                "sched_wakeup" | "sched_wakeup_new" | "sched_waking" => Decoder::Wake(WakeFields {
                    kind: match s.name.as_str() {
                        "sched_wakeup" => WakeKind::Wakeup,
                        "sched_wakeup_new" => WakeKind::WakeupNew,
                        _ => WakeKind::Waking,
                    },
                    comm: s.field("comm"),
                    pid: need("pid")?,
                    success: s.field("success"),
                    target_cpu: s.field("target_cpu"),
                }),
                "sched_stat_runtime" => Decoder::Runtime(RuntimeFields {
                    comm: s.field("comm"),
                    pid: need("pid")?,
                    runtime: need("runtime")?,
                }),
                _ => continue,
            };
            out.decoders.retain(|(id, _)| *id != s.id);
            out.decoders.push((s.id, dec));
        }
        Ok(out)
    }

    /// Loads the formats of the tracepoints `res` chose from the session's
    /// instance and resolves them.
    pub fn for_session(session: &Session, res: &Resolution) -> Result<SchedEvents> {
        let mut schemas = Vec::new();
        for e in res.tracepoints() {
            if e.system == "sched" {
                schemas.push(session.instance().schema(&e.system, &e.name)?);
            }
        }
        SchedEvents::from_schemas(&schemas)
    }

    /// The prev_state test in use (None before a sched_switch format was
    /// seen).
    pub fn prev_state_test(&self) -> Option<PrevStateTest> {
        self.test
    }

    /// A one-line warning when this kernel's preemption marker could not
    /// be found, so preempted tasks are not counted as runnable.
    pub fn warning(&self) -> Option<String> {
        match self.test?.source {
            StateSource::Unknown => Some(
                "ftr: WARNING: sched_switch's print fmt names no preemption bit; only prev_state 0 \
                 counts as runnable, so waits after preemption may be missed"
                    .to_owned(),
            ),
            _ => None,
        }
    }

    /// Decodes one record, or None when it is not a scheduler event of this
    /// session (or too short, or a wakeup whose `success` is 0).
    #[inline]
    pub fn decode<'a>(&mut self, ev: &Event<'a>) -> Option<Sched<'a>> {
        let id = ev.schema.id;
        let (_, dec) = self.decoders.iter().find(|(i, _)| *i == id)?;
        let (d, e) = (ev.data, ev.endian);
        match *dec {
            Decoder::Switch(f) => {
                let prev_state = f.prev_state.u64(d, e)?;
                Some(Sched::Switch {
                    prev_pid: f.prev_pid.i64(d, e)? as i32,
                    prev_comm: Comm::from_field(f.prev_comm, d, e),
                    prev_state,
                    prev_runnable: f.test.runnable(prev_state),
                    next_pid: f.next_pid.i64(d, e)? as i32,
                    next_comm: Comm::from_field(f.next_comm, d, e),
                })
            }
            Decoder::Wake(f) => {
                if let Some(s) = f.success {
                    if s.i64(d, e)? == 0 {
                        self.unsuccessful += 1;
                        return None;
                    }
                }
                Some(Sched::Wakeup {
                    kind: f.kind,
                    pid: f.pid.i64(d, e)? as i32,
                    comm: Comm::from_field(f.comm, d, e),
                    target_cpu: f.target_cpu.and_then(|t| t.i64(d, e)).map(|v| v as i32),
                })
            }
            Decoder::Runtime(f) => Some(Sched::Runtime {
                pid: f.pid.i64(d, e)? as i32,
                comm: Comm::from_field(f.comm, d, e),
                runtime: f.runtime.u64(d, e)?,
            }),
        }
    }
}

pub use crate::pipeline::tasks::Tgids;

/// The flags every per-task histogram tool shares (runqlat, cpudist):
/// `-P`/`-L` keying, `-m`, `-p PID`, `-b KB` and `[interval [count]] -T`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TaskHistArgs {
    /// Print a histogram per process ID.
    #[arg(short = 'P', long = "pids", conflicts_with = "tids")]
    pub pids: bool,
    /// Print a histogram per thread ID.
    #[arg(short = 'L', long = "tids")]
    pub tids: bool,
    /// Show milliseconds instead of microseconds.
    #[arg(short = 'm', long)]
    pub milliseconds: bool,
    /// Trace only process PID (all its threads).
    #[arg(short = 'p', long, value_name = "PID")]
    pub pid: Option<i32>,
    /// Set the per-CPU buffer to KB kilobytes.
    #[arg(short = 'b', long = "buffer-kb", value_name = "KB")]
    pub buffer_kb: Option<u64>,
    /// Interval, count and timestamps.
    #[command(flatten)]
    pub interval: super::interval::IntervalArgs,
}

/// Which task a filter keeps: `-p PID` (a process, all its threads) and/or
/// `-t TID` (one thread).
#[derive(Debug, Clone, Copy, Default)]
pub struct TaskFilter {
    /// Keep only threads of this process.
    pub pid: Option<i32>,
    /// Keep only this thread.
    pub tid: Option<i32>,
}

impl TaskFilter {
    /// Whether thread `tid` passes (looking up its process when needed).
    pub fn keeps(&self, tid: i32, tgids: &mut Tgids) -> bool {
        if self.tid.is_some_and(|t| t != tid) {
            return false;
        }
        match self.pid {
            None => true,
            Some(p) => tid == p || tgids.get(tid) == Some(p),
        }
    }

    /// True when nothing is filtered.
    pub fn is_none(&self) -> bool {
        self.pid.is_none() && self.tid.is_none()
    }
}

/// Checks a `-p`/`-t` value before anything touches the kernel.
pub fn check_pid(what: &str, v: Option<i32>) -> Result<()> {
    if let Some(p) = v {
        if p <= 0 {
            anyhow::bail!("{what} must be a positive id, not {p}");
        }
    }
    Ok(())
}

/// How histograms are split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistBy {
    /// One histogram.
    All,
    /// Per process (`pid = N comm`).
    Process,
    /// Per thread (`tid = N comm`).
    Thread,
}

impl HistBy {
    /// The split bcc's `-P` (`per_process`) and `-L` (`per_thread`) ask
    /// for; clap rejects both at once, and `-P` wins should both be set.
    pub fn from_flags(per_process: bool, per_thread: bool) -> HistBy {
        match (per_process, per_thread) {
            (true, _) => HistBy::Process,
            (_, true) => HistBy::Thread,
            _ => HistBy::All,
        }
    }
}

/// The histograms of one run, keyed as bcc keys them, each with the comm
/// of the first task seen under its key.
#[derive(Debug, Default)]
pub struct Hists {
    map: BTreeMap<i32, (String, Log2Hist)>,
}

impl Hists {
    /// Records `value` of thread `tid` under `key`. The key is named after
    /// the first thread recorded under it, then after the latest name of
    /// the thread whose id is the key (a process's main thread; for
    /// per-thread keys, the thread itself). libbpf-tools keeps the first
    /// name only, which for a thread that named itself or a process that
    /// exec'd is the old one.
    pub fn record(&mut self, key: i32, tid: i32, comm: Comm<'_>, value: u64) {
        let mut fresh = false;
        let e = self.map.entry(key).or_insert_with(|| {
            fresh = true;
            (String::new(), Log2Hist::new())
        });
        if (fresh || tid == key) && e.0.as_bytes() != comm.0 {
            e.0 = comm.to_string();
        }
        e.1.record(value);
    }

    /// The histogram under `key`.
    pub fn get(&self, key: i32) -> Option<&Log2Hist> {
        self.map.get(&key).map(|(_, h)| h)
    }

    /// Prints like libbpf-tools' print_log2_hists: a blank line, then per
    /// key `\n{label} = KEY COMM` (when split) and the histogram; then
    /// starts over.
    pub fn print_and_clear(&mut self, out: &mut dyn Write, by: HistBy, unit: &str) -> io::Result<()> {
        writeln!(out)?;
        for (key, (comm, h)) in &self.map {
            match by {
                HistBy::All => {}
                HistBy::Process => writeln!(out, "\npid = {key} {comm}")?,
                HistBy::Thread => writeln!(out, "\ntid = {key} {comm}")?,
            }
            h.print(out, unit)?;
        }
        self.map.clear();
        Ok(())
    }
}

/// The histogram key of thread `tid` under `by` (None: process unknown).
pub fn hist_key(by: HistBy, tid: i32, tgids: &mut Tgids) -> Option<i32> {
    match by {
        HistBy::All => Some(-1),
        HistBy::Thread => Some(tid),
        // A thread that exited before ftr could look it up is shown under
        // its own id (a single-threaded process has pid == tid).
        HistBy::Process => Some(tgids.get(tid).unwrap_or(tid)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const FMT_3_10: &str = r#""prev_comm=%s prev_pid=%d prev_prio=%d prev_state=%s%s ==> next_comm=%s next_pid=%d next_prio=%d", REC->prev_comm, REC->prev_pid, REC->prev_prio, REC->prev_state & (1024-1) ? __print_flags(REC->prev_state & (1024-1), "|", { 1, "S"} , { 2, "D" }, { 4, "T" }, { 8, "t" }, { 16, "Z" }, { 32, "X" }, { 64, "x" }, { 128, "K" }, { 256, "W" }, { 512, "P" }) : "R", REC->prev_state & 1024 ? "+" : "", REC->next_comm, REC->next_pid, REC->next_prio"#;
    const FMT_4_8: &str = r#""prev_state=%s%s", REC->prev_state & (4096-1) ? __print_flags(REC->prev_state & (4096-1), "|", { 1, "S"} , { 2, "D" }, { 4, "T" }, { 8, "t" }, { 16, "Z" }, { 32, "X" }, { 64, "x" }, { 128, "K" }, { 256, "W" }, { 512, "P" }, { 1024, "N" }) : "R", REC->prev_state & 4096 ? "+" : """#;
    const FMT_6_18: &str = r#""prev_comm=%s prev_pid=%d prev_prio=%d prev_state=%s%s ==> next_comm=%s next_pid=%d next_prio=%d", REC->prev_comm, REC->prev_pid, REC->prev_prio, (REC->prev_state & ((((0x00000000 | 0x00000001 | 0x00000002 | 0x00000004 | 0x00000008 | 0x00000010 | 0x00000020 | 0x00000040) + 1) << 1) - 1)) ? __print_flags(REC->prev_state & ((((0x00000000 | 0x00000001 | 0x00000002 | 0x00000004 | 0x00000008 | 0x00000010 | 0x00000020 | 0x00000040) + 1) << 1) - 1), "|", { 0x00000001, "S" }, { 0x00000002, "D" }, { 0x00000004, "T" }, { 0x00000008, "t" }, { 0x00000010, "X" }, { 0x00000020, "Z" }, { 0x00000040, "P" }, { 0x00000080, "I" }) : "R", REC->prev_state & (((0x00000000 | 0x00000001 | 0x00000002 | 0x00000004 | 0x00000008 | 0x00000010 | 0x00000020 | 0x00000040) + 1) << 1) ? "+" : "", REC->next_comm, REC->next_pid, REC->next_prio"#;
    // 2.6.3x style: no "+" test at all.
    const FMT_OLD: &str = r#""prev_state=%s", REC->prev_state ? __print_flags(REC->prev_state, "|", { 1, "S"} , { 2, "D" }, { 4, "T" }, { 8, "t" }, { 16, "Z" }, { 32, "X" }, { 64, "x" }, { 128, "W" }) : "R""#;

    #[test]
    fn preempt_bit_per_version() {
        assert_eq!(preempt_bit(FMT_3_10), Some(1024));
        assert_eq!(preempt_bit(FMT_4_8), Some(4096));
        assert_eq!(preempt_bit(FMT_6_18), Some(0x100));
        assert_eq!(preempt_bit(FMT_OLD), None);
        assert_eq!(max_state_flag(FMT_6_18), Some(0x80));
        assert_eq!(max_state_flag(FMT_OLD), Some(128));
    }

    #[test]
    fn runnable_per_version() {
        let t310 = PrevStateTest::from_print_fmt(FMT_3_10);
        assert_eq!(t310.source, StateSource::PreemptBit(1024));
        assert!(t310.runnable(0));
        assert!(t310.runnable(1024), "3.10 preempted = R+");
        assert!(!t310.runnable(1) && !t310.runnable(2) && !t310.runnable(256));
        assert!(!t310.runnable(1 | 1024));

        let t618 = PrevStateTest::from_print_fmt(FMT_6_18);
        assert!(t618.runnable(0) && t618.runnable(0x100));
        assert!(!t618.runnable(0x80), "I (idle kthread) sleeps");
        assert!(!t618.runnable(1) && !t618.runnable(2));

        let old = PrevStateTest::from_print_fmt(FMT_OLD);
        assert_eq!(old.source, StateSource::FlagTable(128));
        assert!(old.runnable(0) && old.runnable(256) && !old.runnable(128));

        let unknown = PrevStateTest::from_print_fmt("\"%d\", REC->prev_state");
        assert_eq!(unknown.source, StateSource::Unknown);
        assert!(unknown.runnable(0) && !unknown.runnable(1024));
    }

    #[test]
    fn expressions() {
        let eval = |s: &str| Expr::new(s.as_bytes()).binary(0, 0);
        assert_eq!(eval("(1024-1)"), Some(1023));
        assert_eq!(eval("((0x1 | 0x2) + 1) << 1"), Some(8));
        assert_eq!(eval("1 + 2 * 3"), Some(7));
        assert_eq!(eval("010"), Some(8));
        assert_eq!(eval("0"), Some(0));
        assert_eq!(eval("4UL"), Some(4));
        assert_eq!(eval("1 / 0"), None);
        assert_eq!(eval("1 << 99"), None);
        assert_eq!(
            eval("(((((((((((((((((((((((((((((((((((1)))))))))))))))))))))))))))))))))))"),
            None
        );
    }

    #[test]
    fn task_filter() {
        let mut t = Tgids::new();
        let me = std::process::id() as i32;
        assert_eq!(t.get(me), Some(me));
        assert_eq!(t.get(0), Some(0));
        let f = TaskFilter {
            pid: Some(me),
            tid: None,
        };
        assert!(f.keeps(me, &mut t));
        t.insert(7, 9);
        assert!(!f.keeps(7, &mut t));
    }

    #[test]
    fn histograms_are_named_after_the_key_thread() {
        let mut h = Hists::default();
        h.record(10, 11, Comm(b"worker"), 1);
        h.record(10, 10, Comm(b"main"), 1);
        h.record(10, 12, Comm(b"other"), 3);
        h.record(12, 12, Comm(b"old"), 1);
        h.record(12, 12, Comm(b"renamed"), 1);
        assert_eq!(h.get(10).map(|x| (x.count, x.total)), Some((3, 5)));
        let mut out = Vec::new();
        h.print_and_clear(&mut out, HistBy::Process, "usecs").unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("\n\npid = 10 main\n     usecs"), "{text}");
        assert!(text.contains("\npid = 12 renamed\n"), "{text}");
        assert!(h.get(10).is_none());
    }

    proptest! {
        #[test]
        fn arbitrary_print_fmt_never_panics(s in ".{0,400}") {
            let t = PrevStateTest::from_print_fmt(&s);
            let _ = t.runnable(0);
            let _ = max_state_flag(&s);
        }

        #[test]
        fn arbitrary_bytes_after_prev_state_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut s = "REC->prev_state & ".to_owned();
            s.push_str(&String::from_utf8_lossy(&tail));
            let _ = preempt_bit(&s);
            let _ = Expr::new(&tail).binary(0, 0);
        }

        #[test]
        fn derived_bit_matches(shift in 1u32..40) {
            let bit = 1u64 << shift;
            let fmt = format!("REC->prev_state & ({bit}-1) ? __print_flags(REC->prev_state & ({bit}-1), \"|\", {{ 1, \"S\" }}) : \"R\", REC->prev_state & {bit} ? \"+\" : \"\"");
            let t = PrevStateTest::from_print_fmt(&fmt);
            prop_assert_eq!(t.source, StateSource::PreemptBit(bit));
            prop_assert!(t.runnable(bit));
            prop_assert!(!t.runnable(bit >> 1));
        }
    }
}
