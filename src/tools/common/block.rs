//! What the block I/O tools (biolatency, biosnoop, biotop, bitesize) share:
//! decoding the block tracepoints of any kernel from 3.10 up, naming disks,
//! reading `rwbs` flags, and pairing each request's start with its
//! completion.
//!
//! The tracepoints changed shape over the years (see KERNELS.md §3):
//! `block_rq_complete` has `int errors` up to ~4.12 (RHEL7) and `int error`
//! after; ~6.11 inserted `unsigned short ioprio` before `rwbs`; `rwbs` is
//! 8 bytes on old kernels and 10 on 6.x (one captured 3.x tree declares
//! `char rwbs[32]` with size 8); `bytes` is only filled for passthrough
//! requests before 4.x-ish and is absent from `block_rq_complete`. So
//! every field is resolved by name from the running kernel's formats, once
//! per session ([`BlockEvents::new`]), and a request's size is `bytes`
//! when the kernel filled it in, else `nr_sector * 512`.
//!
//! Without BPF there is no `struct request *` to key on, so a request is
//! identified by (dev, sector), as blktrace and perf-tools' iosnoop do.
//! The session must deliver events in timestamp order across CPUs
//! (`SessionConfig::ordered`): a request is often issued on one CPU and
//! completed on another.
//!
//! ```
//! use ftr::tools::common::block::{Disks, Op, Rwbs, mkdev};
//!
//! let disks = Disks::parse_partitions("major minor  #blocks  name\n\n 254 0 268435456 vda\n");
//! assert_eq!(disks.dev_of("vda"), Some(mkdev(254, 0)));
//! assert_eq!(disks.name(mkdev(254, 0)), Some("vda"));
//!
//! let rwbs = Rwbs::parse(b"WS\0\0\0\0\0\0");
//! assert_eq!(rwbs.op(), Op::Write);
//! assert_eq!(rwbs.flags_name(), "Sync-Write");
//! ```

mod disks;
mod rwbs;

pub use disks::{
    checked_mkdev, major, minor, mkdev, Disks, MINOR_BITS, PROC_PARTITIONS, SYS_BLOCK, SYS_CLASS_BLOCK,
};
pub use rwbs::{flags_name, Op, Rwbs};

use super::start_plan;
use crate::pipeline::plan::{alt, need, Mechanism as M, Need, ProbePlan};
use crate::pipeline::session::{Event, Session, SessionConfig};
use crate::tools::Global;
use anyhow::{bail, Context, Result};
use ftr_tracefs::format::{FieldKind, FieldRef, Schema};
use ftr_tracefs::EventName;
use std::borrow::Cow;
use std::collections::HashMap;

/// Request inserted into the I/O scheduler's queue (issuer context).
pub const RQ_INSERT: &str = "block:block_rq_insert";
/// Request handed to the device driver.
pub const RQ_ISSUE: &str = "block:block_rq_issue";
/// Request (or part of it) completed by the device.
pub const RQ_COMPLETE: &str = "block:block_rq_complete";
/// Bytes per sector in every block tracepoint (`nr_sector`, `sector`).
pub const SECTOR_SIZE: u64 = 512;

/// The need "when a request was handed to the driver".
pub fn issue_need() -> Need {
    need(
        "request issue",
        vec![alt("block_rq_issue", vec![M::Tracepoint(RQ_ISSUE)])],
    )
}

/// The need "when a request completed". `block_io_done` (6.5+) is no
/// alternative: it fires after the request is fully updated, when its
/// sector has advanced past the end, so it cannot be paired by sector.
pub fn completion_need() -> Need {
    need(
        "request completion",
        vec![alt("block_rq_complete", vec![M::Tracepoint(RQ_COMPLETE)])],
    )
}

/// The need "when a request was queued" (`-Q`): required.
pub fn insert_need() -> Need {
    need(
        "request insert (-Q)",
        vec![alt("block_rq_insert", vec![M::Tracepoint(RQ_INSERT)])],
    )
}

/// The need "which process issued a request": `block_rq_insert` runs in
/// the submitter's context whenever a request is queued; without it, the
/// task running at issue time (which is a kworker when the scheduler
/// dispatches asynchronously).
pub fn issuer_need() -> Need {
    need(
        "issuing process",
        vec![
            alt("block_rq_insert", vec![M::Tracepoint(RQ_INSERT)]),
            alt("task at issue", vec![]),
        ],
    )
}

/// Starts a block tool's session the way all of them need it: the disk
/// table read first (so `-d DISK` fails on a bad name before anything
/// touches the kernel, and so output can name disks), `-d` turned into the
/// kernel filter `dev == N`, and events merged in timestamp order (a
/// request is often issued on one CPU and completed on another). With
/// `-v`, says on stderr how each block event is read. Returns the session,
/// its decoded events and the disk table.
pub fn start(
    g: &Global,
    plan: &ProbePlan,
    disk: Option<&str>,
    buffer_kb: Option<u64>,
) -> Result<(Session, BlockEvents, Disks)> {
    let disks = Disks::for_running_kernel()?;
    let filter = match disk {
        Some(d) => Some(format!("dev == {}", disks.require(d)?)),
        None => None,
    };
    let cfg = SessionConfig {
        filter,
        buffer_kb,
        ordered: true,
        ..Default::default()
    };
    let (session, res) = start_plan(g, plan, cfg)?;
    let events = BlockEvents::for_session(&session, &res.tracepoints())?;
    if g.verbose > 0 {
        for d in events.describe() {
            eprintln!("ftr: {d}");
        }
    }
    Ok((session, events, disks))
}

/// Says on stderr how many completions were skipped for coming before
/// their start in trace-clock time (two CPUs' clocks disagreeing), so a
/// short count is explained; silent when there were none.
pub fn report_clock_skew(skipped: u64) {
    if skipped > 0 {
        eprintln!(
            "ftr: {skipped} completions came before their issue in trace-clock time (CPU clocks disagree) and were skipped"
        );
    }
}

// ---------------------------------------------------------------- decoding

/// Which block event a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// block_rq_insert.
    Insert,
    /// block_rq_issue.
    Issue,
    /// block_rq_complete.
    Complete,
}

#[derive(Debug, Clone)]
struct Layout {
    id: u16,
    kind: Kind,
    dev: FieldRef,
    sector: FieldRef,
    nr_sector: FieldRef,
    bytes: Option<FieldRef>,
    rwbs: FieldRef,
    comm: Option<FieldRef>,
    error: Option<FieldRef>,
    describe: String,
}

/// One decoded block event.
#[derive(Debug, Clone)]
pub struct BlockRecord<'a> {
    /// Which event.
    pub kind: Kind,
    /// Trace-clock timestamp, ns.
    pub ts: u64,
    /// The task running when it was recorded (`common_pid`, a thread id).
    pub tid: i32,
    /// Kernel dev_t of the disk.
    pub dev: u32,
    /// First sector.
    pub sector: u64,
    /// Sectors (for a completion: the part completed).
    pub nr_sector: u32,
    /// Size in bytes: `bytes` where the kernel filled it in, else
    /// `nr_sector * 512`.
    pub bytes: u64,
    /// Flags.
    pub rwbs: Rwbs,
    /// The recording task's name (`comm` field; empty for completions).
    pub comm: &'a [u8],
    /// Completion status (`error`, or `errors` on <= 4.12).
    pub error: Option<i32>,
}

/// Resolves the block events' fields by name once per session and decodes
/// records with them.
#[derive(Debug, Clone, Default)]
pub struct BlockEvents {
    layouts: Vec<Layout>,
}

fn field(s: &Schema, name: &str, int: bool) -> Result<FieldRef> {
    let f = s
        .field_def(name)
        .with_context(|| format!("{}:{} has no `{name}` field", s.system, s.name))?;
    let ok = if int {
        f.kind == FieldKind::Int
    } else {
        matches!(f.kind, FieldKind::CharArray { .. })
    };
    if !ok {
        bail!(
            "{}:{} field `{name}` has unexpected type `{}`",
            s.system,
            s.name,
            f.type_name
        );
    }
    Ok(f.to_ref())
}

impl BlockEvents {
    /// Resolves every block_rq_{insert,issue,complete} schema among
    /// `schemas` (others are ignored). Fails, naming the event and field,
    /// when a needed field is missing or has an unexpected type.
    pub fn new<'a>(schemas: impl IntoIterator<Item = &'a Schema>) -> Result<BlockEvents> {
        let mut layouts = Vec::new();
        for s in schemas {
            let kind = match (s.system.as_str(), s.name.as_str()) {
                ("block", "block_rq_insert") => Kind::Insert,
                ("block", "block_rq_issue") => Kind::Issue,
                ("block", "block_rq_complete") => Kind::Complete,
                _ => continue,
            };
            let opt_int = |name: &str| {
                s.field_def(name)
                    .filter(|f| f.kind == FieldKind::Int)
                    .map(|f| f.to_ref())
            };
            let bytes = opt_int("bytes");
            let (error, error_name) = match (opt_int("error"), opt_int("errors")) {
                (Some(e), _) => (Some(e), "error"),
                (None, Some(e)) => (Some(e), "errors"),
                (None, None) => (None, "none"),
            };
            let comm = s
                .field_def("comm")
                .filter(|f| matches!(f.kind, FieldKind::CharArray { .. }))
                .map(|f| f.to_ref());
            let rwbs = field(s, "rwbs", false)?;
            let describe = format!(
                "{}: rwbs {} bytes at {}, size from {}{}{}",
                s.name,
                rwbs.size(),
                rwbs.offset(),
                if bytes.is_some() {
                    "bytes (else nr_sector)"
                } else {
                    "nr_sector"
                },
                if kind == Kind::Complete {
                    format!(", status field `{error_name}`")
                } else {
                    String::new()
                },
                if s.field_def("ioprio").is_some() {
                    ", has ioprio"
                } else {
                    ""
                },
            );
            layouts.push(Layout {
                id: s.id,
                kind,
                dev: field(s, "dev", true)?,
                sector: field(s, "sector", true)?,
                nr_sector: field(s, "nr_sector", true)?,
                bytes,
                rwbs,
                comm,
                error,
                describe,
            });
        }
        Ok(BlockEvents { layouts })
    }

    /// Resolves the block events `session` enabled, reading each format
    /// from the session's instance.
    pub fn for_session(session: &Session, events: &[EventName]) -> Result<BlockEvents> {
        let schemas = events
            .iter()
            .filter(|e| e.system == "block")
            .map(|e| session.instance().schema(&e.system, &e.name))
            .collect::<ftr_tracefs::Result<Vec<_>>>()?;
        BlockEvents::new(&schemas)
    }

    /// One line per resolved event saying how it is read (for `-v`).
    pub fn describe(&self) -> impl Iterator<Item = &str> {
        self.layouts.iter().map(|l| l.describe.as_str())
    }

    /// Decodes `ev`, or `None` when it is not a resolved block event or
    /// is too short.
    #[inline]
    pub fn decode<'e>(&self, ev: &Event<'e>) -> Option<BlockRecord<'e>> {
        let l = self.layouts.iter().find(|l| l.id == ev.schema.id)?;
        let (d, e) = (ev.data, ev.endian);
        let nr_sector = l.nr_sector.u64(d, e)? as u32;
        let filled = l.bytes.and_then(|b| b.u64(d, e)).filter(|&b| b > 0);
        let comm = match l.comm.and_then(|c| c.bytes(d, e)) {
            Some(b) => &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())],
            None => &[],
        };
        Some(BlockRecord {
            kind: l.kind,
            ts: ev.ts,
            tid: ev.pid,
            dev: l.dev.u64(d, e)? as u32,
            sector: l.sector.u64(d, e)?,
            nr_sector,
            bytes: filled.unwrap_or(nr_sector as u64 * SECTOR_SIZE),
            rwbs: Rwbs::parse(l.rwbs.bytes(d, e)?),
            comm,
            error: l.error.and_then(|f| f.i64(d, e)).map(|v| v as i32),
        })
    }
}

// ---------------------------------------------------------------- pairing

/// Who issued a request: the task that queued it (block_rq_insert), else
/// the one running when it was issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Issuer {
    /// Thread id.
    pub tid: i32,
    comm: [u8; 16],
    comm_len: u8,
}

impl Issuer {
    fn of(r: &BlockRecord<'_>) -> Issuer {
        let n = r.comm.len().min(16);
        let mut comm = [0u8; 16];
        comm[..n].copy_from_slice(&r.comm[..n]);
        Issuer {
            tid: r.tid,
            comm,
            comm_len: n as u8,
        }
    }

    /// The task name (`?` when the event had none).
    pub fn comm(&self) -> Cow<'_, str> {
        if self.comm_len == 0 {
            return Cow::Borrowed("?");
        }
        String::from_utf8_lossy(&self.comm[..self.comm_len as usize])
    }

    /// The raw name bytes.
    pub fn comm_bytes(&self) -> &[u8] {
        &self.comm[..self.comm_len as usize]
    }
}

/// A request seen starting and not yet completed.
#[derive(Debug, Clone)]
pub struct Pending {
    /// Kernel dev_t.
    pub dev: u32,
    /// First sector.
    pub sector: u64,
    /// Size at the last start event, bytes.
    pub bytes: u64,
    /// Flags at the last start event.
    pub rwbs: Rwbs,
    /// When it was queued (block_rq_insert), if seen.
    pub insert_ts: Option<u64>,
    /// When it was handed to the driver, if seen.
    pub issue_ts: Option<u64>,
    /// Who issued it.
    pub issuer: Issuer,
}

impl Pending {
    fn last_ts(&self) -> u64 {
        self.issue_ts.max(self.insert_ts).unwrap_or(0)
    }
}

/// A completed request.
#[derive(Debug, Clone)]
pub struct Done {
    /// Its start events.
    pub req: Pending,
    /// When block_rq_complete fired.
    pub complete_ts: u64,
    /// Completion status (0 = success).
    pub error: Option<i32>,
}

impl Done {
    /// Latency in ns: completion minus issue, or minus insert when
    /// `queued` and the insert was seen (libbpf-tools biolatency -Q).
    /// `None` without a usable start, or when negative (trace clocks of
    /// two CPUs disagreeing).
    pub fn latency_ns(&self, queued: bool) -> Option<u64> {
        let start = if queued {
            self.req.insert_ts.or(self.req.issue_ts)?
        } else {
            self.req.issue_ts?
        };
        self.complete_ts.checked_sub(start)
    }

    /// Time between insert and issue in ns, when both were seen.
    pub fn queue_ns(&self) -> Option<i64> {
        Some(self.req.issue_ts? as i64 - self.req.insert_ts? as i64)
    }
}

/// Requests in flight, keyed by (dev, sector).
///
/// The first start event of a request (insert, or issue when it was not
/// queued) names its issuer, and later ones keep it: a requeued request is
/// inserted again from a kworker. An insert for a key whose request was
/// never issued starts over (the old one was merged away). Completion
/// removes the entry; completions without a start (in flight when tracing
/// began, later parts of a partial completion) are counted and skipped.
#[derive(Debug, Default)]
pub struct Requests {
    pending: HashMap<(u32, u64), Pending>,
    /// Completions whose start was not seen.
    pub unmatched: u64,
    /// Entries dropped to bound memory (starts whose completion was lost).
    pub evicted: u64,
}

/// Entries kept before the oldest half is dropped.
const MAX_PENDING: usize = 1 << 16;

impl Requests {
    /// An empty table.
    pub fn new() -> Requests {
        Requests::default()
    }

    /// Requests started and not completed.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// Feeds one record; returns the request it completed, if any.
    pub fn feed(&mut self, r: &BlockRecord<'_>) -> Option<Done> {
        match r.kind {
            Kind::Insert | Kind::Issue => {
                self.start(r);
                None
            }
            Kind::Complete => self.complete(r),
        }
    }

    /// Records an insert or issue, returning the request's entry.
    pub fn start(&mut self, r: &BlockRecord<'_>) -> &Pending {
        if self.pending.len() >= MAX_PENDING {
            self.evict();
        }
        let key = (r.dev, r.sector);
        let fresh = || Pending {
            dev: r.dev,
            sector: r.sector,
            bytes: r.bytes,
            rwbs: r.rwbs,
            insert_ts: None,
            issue_ts: None,
            issuer: Issuer::of(r),
        };
        let p = self.pending.entry(key).or_insert_with(fresh);
        match r.kind {
            Kind::Insert => {
                if p.issue_ts.is_none() && p.insert_ts.is_some() {
                    // Inserted before, never issued: merged away.
                    *p = fresh();
                }
                p.insert_ts = Some(r.ts);
            }
            _ => p.issue_ts = Some(r.ts),
        }
        p.bytes = r.bytes;
        p.rwbs = r.rwbs;
        p
    }

    /// Records an issue and forgets the request at once, for tools that do
    /// not watch completions (bitesize).
    pub fn issue_and_forget(&mut self, r: &BlockRecord<'_>) -> Pending {
        self.start(r);
        self.pending.remove(&(r.dev, r.sector)).expect("just inserted")
    }

    /// Matches a completion with its start.
    pub fn complete(&mut self, r: &BlockRecord<'_>) -> Option<Done> {
        match self.pending.remove(&(r.dev, r.sector)) {
            Some(req) => Some(Done {
                req,
                complete_ts: r.ts,
                error: r.error,
            }),
            None => {
                self.unmatched += 1;
                None
            }
        }
    }

    fn evict(&mut self) {
        let mut ts: Vec<u64> = self.pending.values().map(Pending::last_ts).collect();
        let mid = ts.len() / 2;
        let (_, cut, _) = ts.select_nth_unstable(mid);
        let cut = *cut;
        let before = self.pending.len();
        self.pending.retain(|_, p| p.last_ts() > cut);
        self.evicted += (before - self.pending.len()) as u64;
    }
}

pub use crate::pipeline::tasks::Tgids;

#[cfg(test)]
#[cfg(test)]
mod tests {
    use super::*;
    use ftr_tracefs::Endian;

    const ISSUE_6_18: &str = "name: block_rq_issue\nID: 2104\nformat:\n\
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\
\tfield:dev_t dev;\toffset:8;\tsize:4;\tsigned:0;\n\
\tfield:sector_t sector;\toffset:16;\tsize:8;\tsigned:0;\n\
\tfield:unsigned int nr_sector;\toffset:24;\tsize:4;\tsigned:0;\n\
\tfield:unsigned int bytes;\toffset:28;\tsize:4;\tsigned:0;\n\
\tfield:unsigned short ioprio;\toffset:32;\tsize:2;\tsigned:0;\n\
\tfield:char rwbs[10];\toffset:34;\tsize:10;\tsigned:0;\n\
\tfield:char comm[16];\toffset:44;\tsize:16;\tsigned:0;\n\
\tfield:__data_loc char[] cmd;\toffset:60;\tsize:4;\tsigned:0;\n\nprint fmt: \"x\"\n";

    const COMPLETE_3_10: &str = "name: block_rq_complete\nID: 346\nformat:\n\
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\
\tfield:dev_t dev;\toffset:8;\tsize:4;\tsigned:0;\n\
\tfield:sector_t sector;\toffset:16;\tsize:8;\tsigned:0;\n\
\tfield:unsigned int nr_sector;\toffset:24;\tsize:4;\tsigned:0;\n\
\tfield:int errors;\toffset:28;\tsize:4;\tsigned:1;\n\
\tfield:char rwbs[8];\toffset:32;\tsize:8;\tsigned:0;\n\
\tfield:__data_loc char[] cmd;\toffset:40;\tsize:4;\tsigned:0;\n\nprint fmt: \"x\"\n";

    fn record(s: &Schema, vals: &[(&str, u64)], strs: &[(&str, &[u8])]) -> Vec<u8> {
        let len = s.fields.iter().map(|f| f.offset + f.size).max().unwrap();
        let mut rec = vec![0u8; len];
        rec[0..2].copy_from_slice(&s.id.to_le_bytes());
        for (name, v) in vals {
            let f = s.field_def(name).unwrap();
            rec[f.offset..f.offset + f.size].copy_from_slice(&v.to_le_bytes()[..f.size]);
        }
        for (name, b) in strs {
            let f = s.field_def(name).unwrap();
            rec[f.offset..f.offset + b.len()].copy_from_slice(b);
        }
        rec
    }

    fn ev<'a>(s: &'a Schema, ts: u64, pid: i32, data: &'a [u8]) -> Event<'a> {
        Event {
            cpu: 0,
            ts,
            schema: s,
            data,
            endian: Endian::Little,
            pid,
            fields: &[],
        }
    }

    #[test]
    fn decodes_new_and_old_layouts() {
        let issue = Schema::parse("block", ISSUE_6_18).unwrap();
        let complete = Schema::parse("block", COMPLETE_3_10).unwrap();
        let be = BlockEvents::new([&issue, &complete]).unwrap();
        assert_eq!(be.describe().count(), 2);
        assert!(
            be.describe().any(|d| d.contains("status field `errors`")),
            "{:?}",
            be.describe().collect::<Vec<_>>()
        );
        let i = record(
            &issue,
            &[
                ("dev", mkdev(254, 0) as u64),
                ("sector", 2048),
                ("nr_sector", 8),
                ("bytes", 4096),
            ],
            &[("rwbs", b"WS"), ("comm", b"dd")],
        );
        let r = be.decode(&ev(&issue, 10, 7, &i)).unwrap();
        assert_eq!(
            (r.kind, r.dev, r.sector, r.bytes, r.comm, r.tid),
            (Kind::Issue, mkdev(254, 0), 2048, 4096, &b"dd"[..], 7)
        );
        assert_eq!(r.rwbs.as_str(), "WS");
        let c = record(
            &complete,
            &[
                ("dev", mkdev(254, 0) as u64),
                ("sector", 2048),
                ("nr_sector", 8),
                ("errors", (-5i64) as u64),
            ],
            &[("rwbs", b"WS")],
        );
        let r = be.decode(&ev(&complete, 20, 0, &c)).unwrap();
        assert_eq!(
            (r.kind, r.bytes, r.error, r.comm),
            (Kind::Complete, 4096, Some(-5), &b""[..])
        );
        // Truncated records decode to nothing rather than garbage.
        assert!(be.decode(&ev(&complete, 20, 0, &c[..20])).is_none());
    }

    #[test]
    fn missing_fields_are_named() {
        let broken = ISSUE_6_18.replace("sector_t sector;", "sector_t sect;");
        let s = Schema::parse("block", &broken).unwrap();
        let e = BlockEvents::new([&s]).unwrap_err().to_string();
        assert_eq!(e, "block:block_rq_issue has no `sector` field");
    }

    fn rec(kind: Kind, ts: u64, tid: i32, sector: u64, comm: &'static [u8]) -> BlockRecord<'static> {
        BlockRecord {
            kind,
            ts,
            tid,
            dev: 1,
            sector,
            nr_sector: 8,
            bytes: 4096,
            rwbs: Rwbs::parse(b"W"),
            comm,
            error: None,
        }
    }

    #[test]
    fn pairing_keeps_the_first_issuer() {
        let mut q = Requests::new();
        // Inserted by dd, issued by a kworker: dd issued it.
        q.feed(&rec(Kind::Insert, 100, 5, 8, b"dd"));
        q.feed(&rec(Kind::Issue, 150, 99, 8, b"kworker/0:1"));
        let d = q.feed(&rec(Kind::Complete, 400, 0, 8, b"")).unwrap();
        assert_eq!((d.req.issuer.tid, d.req.issuer.comm().as_ref()), (5, "dd"));
        assert_eq!(
            (d.latency_ns(false), d.latency_ns(true), d.queue_ns()),
            (Some(250), Some(300), Some(50))
        );
        // Direct issue: the issuing task.
        q.feed(&rec(Kind::Issue, 500, 6, 16, b"fio"));
        let d = q.feed(&rec(Kind::Complete, 600, 0, 16, b"")).unwrap();
        assert_eq!(
            (d.req.issuer.tid, d.latency_ns(true), d.queue_ns()),
            (6, Some(100), None)
        );
        // Requeued: reinserted from a kworker, issuer kept.
        q.feed(&rec(Kind::Insert, 700, 5, 24, b"dd"));
        q.feed(&rec(Kind::Issue, 710, 5, 24, b"dd"));
        q.feed(&rec(Kind::Insert, 720, 99, 24, b"kworker/0:1"));
        q.feed(&rec(Kind::Issue, 730, 99, 24, b"kworker/0:1"));
        let d = q.feed(&rec(Kind::Complete, 800, 0, 24, b"")).unwrap();
        assert_eq!((d.req.issuer.tid, d.latency_ns(false)), (5, Some(70)));
        // Inserted, merged away, and a new request at that sector.
        q.feed(&rec(Kind::Insert, 900, 5, 32, b"dd"));
        q.feed(&rec(Kind::Insert, 950, 7, 32, b"cp"));
        q.feed(&rec(Kind::Issue, 960, 99, 32, b"kworker/0:1"));
        let d = q.feed(&rec(Kind::Complete, 990, 0, 32, b"")).unwrap();
        assert_eq!((d.req.issuer.tid, d.latency_ns(true)), (7, Some(40)));
        // Completion with no start; negative latency.
        assert!(q.feed(&rec(Kind::Complete, 1000, 0, 40, b"")).is_none());
        assert_eq!(q.unmatched, 1);
        q.feed(&rec(Kind::Issue, 2000, 6, 48, b"fio"));
        assert_eq!(
            q.feed(&rec(Kind::Complete, 1999, 0, 48, b""))
                .unwrap()
                .latency_ns(false),
            None
        );
        assert_eq!(q.in_flight(), 0);
        let p = q.issue_and_forget(&rec(Kind::Issue, 3000, 6, 56, b"fio"));
        assert_eq!((p.issuer.tid, q.in_flight()), (6, 0));
    }

    #[test]
    fn eviction_bounds_memory() {
        let mut q = Requests::new();
        for i in 0..(MAX_PENDING as u64 + 10) {
            q.feed(&rec(Kind::Issue, i, 1, i * 8, b"x"));
        }
        assert!(q.in_flight() <= MAX_PENDING / 2 + 11, "{}", q.in_flight());
        assert!(q.evicted >= MAX_PENDING as u64 / 2);
        // The newest survive.
        assert!(q
            .feed(&rec(
                Kind::Complete,
                1 << 40,
                0,
                (MAX_PENDING as u64 + 9) * 8,
                b""
            ))
            .is_some());
    }
}
