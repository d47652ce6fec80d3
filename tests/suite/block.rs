//! Block I/O tools (biosnoop, biolatency, biotop, bitesize) end to end
//! against the live kernel, with fixtures/progs/odirect_io.c as ground
//! truth, and their decoding against block formats of 3.10 to 6.18.
//!
//! How the live counts are checked. odirect_io does N synchronous 4 KiB
//! O_DIRECT writes then N reads of an already-allocated file, one request
//! in flight at a time, so its own requests cannot merge: the kernel sees
//! exactly N + N requests from it, at sectors FIEMAP tells us. That makes
//! `biosnoop -p PID` exact. For counts that include other processes'
//! I/O, diskstats is read at three nested windows:
//!   inner: by odirect_io right around its I/O;
//!   traced: the tracer's (started before, stopped after);
//!   outer: by the test before the tracer starts and after it exits.
//! So inner <= traced reads+writes <= outer must hold whatever else the
//! machine did; on a quiet machine the three are equal (and equal 2N).
//! Flushes (`FF`) and discards (`D`) are not in diskstats' read/write
//! counts, so only R and W requests are compared.

use crate::suite::tp::{start_tracing, Tracer};
use crate::util::{assert_fails_cleanly, c_program, ftr, kernel_data, leftovers_of, live_tracing};
use ftr::pipeline::session::Event;
use ftr::tools::biolatency::{Biolatency, Options};
use ftr::tools::biosnoop::Snoop;
use ftr::tools::bitesize::Bitesize;
use ftr::tools::common::block::{mkdev, BlockEvents, Disks, Op, Requests, Rwbs};
use ftr::tools::common::interval::Aggregate;
use ftr_tracefs::format::Schema;
use ftr_tracefs::Endian;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

/// The live tests generate disk I/O; run them one at a time so each sees
/// the others' I/O as little as possible (the checks hold regardless).
static LIVE_IO: Mutex<()> = Mutex::new(());

const N: usize = 64;
const BLOCK: u64 = 4096;

/// The whole disk holding a directory, and where its partition starts.
struct Disk {
    name: String,
    start_sector: u64,
}

fn disk_of(dir: &Path) -> Option<Disk> {
    let dev = std::fs::metadata(dir).ok()?.dev();
    let (ma, mi) = (nix::sys::stat::major(dev), nix::sys::stat::minor(dev));
    let sys = std::fs::canonicalize(format!("/sys/dev/block/{ma}:{mi}")).ok()?;
    if sys.join("partition").exists() {
        let start = std::fs::read_to_string(sys.join("start"))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let parent = sys.parent()?.file_name()?.to_string_lossy().into_owned();
        Some(Disk {
            name: parent,
            start_sector: start,
        })
    } else {
        Some(Disk {
            name: sys.file_name()?.to_string_lossy().into_owned(),
            start_sector: 0,
        })
    }
}

/// A directory on a real block device, or None (with a message).
fn workdir() -> Option<(PathBuf, Disk)> {
    for d in [
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")),
        PathBuf::from("/var/tmp"),
    ] {
        if let Some(disk) = disk_of(&d) {
            return Some((d, disk));
        }
    }
    eprintln!("SKIPPED: neither target/tmp nor /var/tmp is on a block device");
    None
}

/// Reads completed + writes completed of `disk` in /proc/diskstats.
fn diskstats_rw(disk: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/diskstats").unwrap();
    for l in text.lines() {
        let w: Vec<&str> = l.split_whitespace().collect();
        if w.get(2) == Some(&disk) {
            return w[3].parse::<u64>().unwrap() + w[7].parse::<u64>().unwrap();
        }
    }
    panic!("no {disk} in /proc/diskstats");
}

/// odirect_io, set up and waiting for "go".
struct Workload {
    child: Option<Child>,
    pid: i32,
    file: PathBuf,
    /// Whole-disk sector of each 4 KiB block of the file.
    sectors: Vec<u64>,
}

/// What odirect_io measured.
struct Measured {
    inner_rw: u64,
    elapsed_ms: f64,
}

impl Workload {
    fn start(dir: &Path, disk: &Disk) -> Workload {
        let prog = c_program("odirect_io");
        let file = dir.join(format!(
            "odirect-{}-{:?}.dat",
            std::process::id(),
            std::thread::current().id()
        ));
        let mut child = Command::new(prog)
            .arg(&file)
            .arg(N.to_string())
            .arg(&disk.name)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut extents = Vec::new();
        let pid = loop {
            let mut line = String::new();
            assert!(out.read_line(&mut line).unwrap() > 0, "odirect_io ended early");
            let w: Vec<&str> = line.split_whitespace().collect();
            match w[0] {
                "extent" => extents.push((
                    w[1].parse::<u64>().unwrap(),
                    w[2].parse::<u64>().unwrap(),
                    w[3].parse::<u64>().unwrap(),
                )),
                "pid" => break w[1].parse().unwrap(),
                _ => panic!("odirect_io said {line:?}"),
            }
        };
        child.stdout = Some(out.into_inner());
        let child = Some(child);
        let sectors = (0..N as u64)
            .map(|i| {
                let off = i * BLOCK;
                let (l, p, _) = extents
                    .iter()
                    .find(|(l, _, len)| *l <= off && off < l + len)
                    .expect("FIEMAP covers the file");
                (p + off - l) / 512 + disk.start_sector
            })
            .collect();
        Workload {
            child,
            pid,
            file,
            sectors,
        }
    }

    fn run(mut self) -> Measured {
        let mut child = self.child.take().unwrap();
        child.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
        let out = child.wait_with_output().unwrap();
        let _ = std::fs::remove_file(&self.file);
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        let w: Vec<&str> = text.lines().last().unwrap().split_whitespace().collect();
        assert_eq!((w[0], w[2], w[4]), ("reads", "writes", "elapsed_ns"), "{text}");
        Measured {
            inner_rw: w[1].parse::<u64>().unwrap() + w[3].parse::<u64>().unwrap(),
            elapsed_ms: w[5].parse::<f64>().unwrap() / 1e6,
        }
    }
}

impl Drop for Workload {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_file(&self.file);
    }
}

fn stop(t: Tracer) -> (u32, String, Vec<String>) {
    let pid = t.child.id();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let (status, out, err) = t.finish();
    assert!(status.success(), "{status:?} {err:?}");
    (pid, out, err)
}

/// One biosnoop line, parsed from the right (COMM may hold spaces).
#[derive(Debug)]
struct Line {
    pid: i32,
    comm: String,
    disk: String,
    rwbs: String,
    sector: u64,
    bytes: u64,
    lat_ms: f64,
}

fn snoop_lines(out: &str) -> Vec<Line> {
    let mut lines = out.lines();
    assert!(lines.next().unwrap().starts_with("TIME(s)     COMM"), "{out}");
    lines
        .map(|l| {
            let t: Vec<&str> = l.split_whitespace().collect();
            let n = t.len();
            Line {
                pid: t[n - 6].parse().unwrap(),
                comm: t[1..n - 6].join(" "),
                disk: t[n - 5].to_owned(),
                rwbs: t[n - 4].to_owned(),
                sector: t[n - 3].parse().unwrap(),
                bytes: t[n - 2].parse().unwrap(),
                lat_ms: t[n - 1].parse().unwrap(),
            }
        })
        .collect()
}

fn op(rwbs: &str) -> Op {
    Rwbs::parse(rwbs.as_bytes()).op()
}

/// Checks that lines of the workload's pid are exactly its N writes then
/// N reads of its file's blocks.
fn assert_is_the_workload(mine: &[&Line], w_sectors: &[u64], m: &Measured) {
    let mut writes: Vec<u64> = mine
        .iter()
        .filter(|l| op(&l.rwbs) == Op::Write)
        .map(|l| l.sector)
        .collect();
    let mut reads: Vec<u64> = mine
        .iter()
        .filter(|l| op(&l.rwbs) == Op::Read)
        .map(|l| l.sector)
        .collect();
    assert_eq!(mine.len(), 2 * N, "exactly N writes and N reads: {mine:#?}");
    writes.sort_unstable();
    reads.sort_unstable();
    let mut want = w_sectors.to_vec();
    want.sort_unstable();
    assert_eq!(writes, want, "one write per block of the file");
    assert_eq!(reads, want, "one read per block of the file");
    for l in mine {
        assert_eq!(l.bytes, BLOCK, "{l:?}");
        assert!(
            l.lat_ms > 0.0 && l.lat_ms < m.elapsed_ms,
            "{l:?} vs {} ms",
            m.elapsed_ms
        );
        assert_eq!(l.comm, "prog-odirect_i", "issuer's name (14 columns): {l:?}");
    }
}

/// Regression for issue 6: biosnoop's line count for the test's I/O equals
/// what the kernel saw, and the device's diskstats delta agrees.
#[test]
fn biosnoop_counts_every_request_of_the_workload() {
    let Some(t) = live_tracing() else { return };
    let Some((dir, disk)) = workdir() else { return };
    let _l = LIVE_IO.lock().unwrap_or_else(|e| e.into_inner());
    let w = Workload::start(&dir, &disk);
    let outer0 = diskstats_rw(&disk.name);
    let by_pid = start_tracing(&["biosnoop", "-p", &w.pid.to_string()]);
    let all = start_tracing(&["biosnoop", "-d", &disk.name]);
    std::thread::sleep(Duration::from_millis(100));
    let pid = w.pid;
    let sectors = w.sectors.clone();
    let m = w.run();
    std::thread::sleep(Duration::from_millis(200));
    let (p1, out1, _) = stop(by_pid);
    let (p2, out2, _) = stop(all);
    let outer = diskstats_rw(&disk.name) - outer0;

    let filtered = snoop_lines(&out1);
    let mine: Vec<&Line> = filtered.iter().collect();
    assert!(filtered.iter().all(|l| l.pid == pid), "-p {pid} only:\n{out1}");
    assert_is_the_workload(&mine, &sectors, &m);

    let all_lines = snoop_lines(&out2);
    assert!(all_lines.iter().all(|l| l.disk == disk.name), "-d {}", disk.name);
    let mine: Vec<&Line> = all_lines.iter().filter(|l| l.pid == pid).collect();
    assert_is_the_workload(&mine, &sectors, &m);
    let traced_rw = all_lines
        .iter()
        .filter(|l| op(&l.rwbs).is_read_or_write())
        .count() as u64;
    eprintln!(
        "biosnoop: workload {} requests; diskstats inner {}, traced {traced_rw}, outer {outer}",
        2 * N,
        m.inner_rw
    );
    assert!(m.inner_rw >= 2 * N as u64, "diskstats saw the workload");
    assert!(
        m.inner_rw <= traced_rw && traced_rw <= outer,
        "inner {} <= traced {traced_rw} <= outer {outer}:\n{out2}",
        m.inner_rw
    );
    assert_eq!(leftovers_of(t.root(), p1), Vec::<String>::new());
    assert_eq!(leftovers_of(t.root(), p2), Vec::<String>::new());
}

/// Sums the counts of biolatency -F histograms whose flag set is a read or
/// a write, and returns it with the `-e` count.
fn biolatency_counts(out: &str) -> (u64, u64) {
    let mut rw = 0;
    let mut current_rw = false;
    let mut extended = None;
    for l in out.lines() {
        if let Some(f) = l.strip_prefix("flags = ") {
            current_rw = f.ends_with("Read") || f.ends_with("Write");
        } else if l.contains(" -> ") {
            let count: u64 = l
                .split(':')
                .nth(1)
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap()
                .parse()
                .unwrap();
            if current_rw {
                rw += count;
            }
        } else if let Some(c) = l.split("count: ").nth(1) {
            extended = Some(c.trim().parse().unwrap());
        }
    }
    (rw, extended.expect("the -e line"))
}

/// Regression for issue 6: biolatency's count agrees with diskstats.
#[test]
fn biolatency_total_matches_diskstats() {
    let Some(t) = live_tracing() else { return };
    let Some((dir, disk)) = workdir() else { return };
    let _l = LIVE_IO.lock().unwrap_or_else(|e| e.into_inner());
    let w = Workload::start(&dir, &disk);
    let outer0 = diskstats_rw(&disk.name);
    let tracer = start_tracing(&["biolatency", "-F", "-e", "-d", &disk.name]);
    std::thread::sleep(Duration::from_millis(100));
    let m = w.run();
    std::thread::sleep(Duration::from_millis(200));
    let (pid, out, _) = stop(tracer);
    let outer = diskstats_rw(&disk.name) - outer0;
    let (rw, total) = biolatency_counts(&out);
    eprintln!(
        "biolatency: workload {} requests; diskstats inner {}, traced {rw} (all ops {total}), outer {outer}",
        2 * N,
        m.inner_rw
    );
    assert!(
        out.contains("flags = Sync-Write\n") && out.contains("flags = Sync-Read\n"),
        "{out}"
    );
    assert!(rw >= 2 * N as u64, "{out}");
    assert!(total >= rw);
    assert!(
        m.inner_rw <= rw && rw <= outer,
        "inner {} <= traced {rw} <= outer {outer}:\n{out}",
        m.inner_rw
    );
    assert_eq!(leftovers_of(t.root(), pid), Vec::<String>::new());
}

/// biotop and bitesize attribute the workload's I/O to it, exactly.
#[test]
fn biotop_and_bitesize_count_the_workload() {
    let Some(t) = live_tracing() else { return };
    let Some((dir, disk)) = workdir() else { return };
    let _l = LIVE_IO.lock().unwrap_or_else(|e| e.into_inner());
    let w = Workload::start(&dir, &disk);
    let pid = w.pid.to_string();
    // A long interval: the Ctrl-C summary is the one checked.
    let top = start_tracing(&["biotop", "-C", "-p", &pid, "60"]);
    let size = start_tracing(&["bitesize", "-c", "prog-odirect"]);
    std::thread::sleep(Duration::from_millis(100));
    w.run();
    std::thread::sleep(Duration::from_millis(200));
    let (p1, top_out, _) = stop(top);
    let (p2, size_out, _) = stop(size);

    let rows: Vec<Vec<&str>> = top_out
        .lines()
        .skip_while(|l| !l.starts_with("PID "))
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 2, "one W and one R row:\n{top_out}");
    for r in &rows {
        assert_eq!(
            (r[0], r[1], r[5]),
            (pid.as_str(), "prog-odirect_io", disk.name.as_str()),
            "{top_out}"
        );
        assert!(r[2] == "W" || r[2] == "R", "{top_out}");
        assert_eq!(
            (r[6], r[7]),
            (N.to_string().as_str(), (N * 4).to_string().as_str()),
            "{top_out}"
        );
        assert!(r[8].parse::<f64>().unwrap() > 0.0);
    }
    assert!(top_out.contains(" loadavg: "), "{top_out}");

    assert!(
        size_out.contains("\nProcess Name = prog-odirect_io\n"),
        "{size_out}"
    );
    let four_k: Vec<&str> = size_out
        .lines()
        .filter(|l| l.trim_start().starts_with("4 -> 7 "))
        .collect();
    assert_eq!(four_k.len(), 1, "{size_out}");
    let count: usize = four_k[0]
        .split(':')
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(count, 2 * N, "{size_out}");
    assert_eq!(leftovers_of(t.root(), p1), Vec::<String>::new());
    assert_eq!(leftovers_of(t.root(), p2), Vec::<String>::new());
}

#[test]
fn biolatency_interval_and_count_end_by_themselves() {
    let Some(t) = live_tracing() else { return };
    let started = std::time::Instant::now();
    let child = ftr()
        .args(["biolatency", "-T", "0.3", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let text = String::from_utf8(out.stdout).unwrap();
    let stamps = text
        .lines()
        .filter(|l| l.len() == 8 && l.as_bytes()[2] == b':' && l.as_bytes()[5] == b':')
        .count();
    assert_eq!(stamps, 2, "{text}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Tracing block device I/O... Hit Ctrl-C to end."));
    assert_eq!(leftovers_of(t.root(), pid), Vec::<String>::new());
}

#[test]
fn block_tool_errors_are_one_line_and_leave_nothing() {
    let Some(t) = live_tracing() else { return };
    for (args, code) in [
        (&["biosnoop", "-d", "nosuchdisk"][..], 1),
        (&["biolatency", "-d", "nosuchdisk"], 1),
        (&["bitesize", "-d", "nosuchdisk"], 1),
        (&["biolatency", "0"], 1),
        (&["biolatency", "1", "0"], 1),
        (&["biotop", "-r", "0"], 1),
        (&["biotop", "0"], 1),
        (&["biosnoop", "-p", "0"], 1),
        (&["biosnoop", "0"], 1),
        (&["biolatency", "abc"], 2),
        (&["biosnoop", "-x"], 2),
        (&["biotop", "-s", "nosuch"], 2),
        (&["bitesize", "1", "2", "3"], 2),
    ] {
        assert_fails_cleanly(t.root(), args, code);
    }
    let out = ftr().args(["biosnoop", "-d", "nosuchdisk"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("no disk named \"nosuchdisk\""));
}

// ------------------------------------------------------------ fixtures

/// RHEL7 (3.10.0-*.el7) block_rq_complete, hand-made (no public capture
/// exists; the same text as tracefs' unit-test data): `int errors`.
const RHEL7_COMPLETE: &str = "name: block_rq_complete
ID: 1139
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:dev_t dev;\toffset:8;\tsize:4;\tsigned:0;
\tfield:sector_t sector;\toffset:16;\tsize:8;\tsigned:0;
\tfield:unsigned int nr_sector;\toffset:24;\tsize:4;\tsigned:0;
\tfield:int errors;\toffset:28;\tsize:4;\tsigned:1;
\tfield:char rwbs[8];\toffset:32;\tsize:8;\tsigned:0;
\tfield:__data_loc char[] cmd;\toffset:40;\tsize:4;\tsigned:0;

print fmt: \"%d,%d %s (%s) %llu + %u [%d]\", ((unsigned int) ((REC->dev) >> 20)), ((unsigned int) ((REC->dev) & ((1U << 20) - 1))), REC->rwbs, __get_str(cmd), (unsigned long long)REC->sector, REC->nr_sector, REC->errors
";

/// The block formats of one captured tree: (insert, issue, complete).
fn tree_formats(events: &Path) -> Vec<Schema> {
    ["block_rq_insert", "block_rq_issue", "block_rq_complete"]
        .iter()
        .filter_map(|e| std::fs::read_to_string(events.join("block").join(e).join("format")).ok())
        .map(|t| Schema::parse("block", &t).unwrap())
        .collect()
}

/// A record for `s`, fields set by name at the offsets and sizes the
/// format gives, little-endian (every captured tree here is).
fn record(s: &Schema, pid: i32, ints: &[(&str, i64)], strs: &[(&str, &[u8])]) -> Vec<u8> {
    let len = s.fields.iter().map(|f| f.offset + f.size).max().unwrap();
    let mut rec = vec![0u8; len];
    rec[0..2].copy_from_slice(&s.id.to_le_bytes());
    rec[4..8].copy_from_slice(&pid.to_le_bytes());
    for (name, v) in ints {
        if let Some(f) = s.field_def(name) {
            rec[f.offset..f.offset + f.size].copy_from_slice(&v.to_le_bytes()[..f.size]);
        }
    }
    for (name, b) in strs {
        if let Some(f) = s.field_def(name) {
            let n = b.len().min(f.size);
            rec[f.offset..f.offset + n].copy_from_slice(&b[..n]);
        }
    }
    rec
}

struct Rec {
    schema: usize,
    ts: u64,
    pid: i32,
    data: Vec<u8>,
}

/// Two requests as each kernel would record them: 4 KiB sync write by dd
/// (queued by dd, issued by a kworker, completed with an error), 64 KiB
/// readahead read by cat (issued directly), with `bytes` filled only where
/// 6.x fills it.
fn requests(schemas: &[Schema]) -> Vec<Rec> {
    let find = |name: &str| schemas.iter().position(|s| s.name == name);
    let (ins, iss, com) = (
        find("block_rq_insert"),
        find("block_rq_issue").unwrap(),
        find("block_rq_complete").unwrap(),
    );
    let dev = mkdev(8, 16) as i64;
    let new_kernel = schemas[com].field_def("error").is_some();
    let bytes = |b: i64| if new_kernel { b } else { 0 };
    let mut v = Vec::new();
    if let Some(ins) = ins {
        let s = &schemas[ins];
        v.push(Rec {
            schema: ins,
            ts: 1_000_000,
            pid: 100,
            data: record(
                s,
                100,
                &[
                    ("dev", dev),
                    ("sector", 2048),
                    ("nr_sector", 8),
                    ("bytes", bytes(4096)),
                ],
                &[("rwbs", b"WS"), ("comm", b"dd")],
            ),
        });
    }
    let s = &schemas[iss];
    v.push(Rec {
        schema: iss,
        ts: 1_050_000,
        pid: 7,
        data: record(
            s,
            7,
            &[
                ("dev", dev),
                ("sector", 2048),
                ("nr_sector", 8),
                ("bytes", bytes(4096)),
            ],
            &[("rwbs", b"WS"), ("comm", b"kworker/0:1H")],
        ),
    });
    v.push(Rec {
        schema: iss,
        ts: 1_100_000,
        pid: 200,
        data: record(
            s,
            200,
            &[
                ("dev", dev),
                ("sector", 4096),
                ("nr_sector", 128),
                ("bytes", bytes(65536)),
            ],
            &[("rwbs", b"RA"), ("comm", b"cat")],
        ),
    });
    let s = &schemas[com];
    v.push(Rec {
        schema: com,
        ts: 2_050_000,
        pid: 0,
        data: record(
            s,
            0,
            &[
                ("dev", dev),
                ("sector", 2048),
                ("nr_sector", 8),
                ("error", -5),
                ("errors", -5),
            ],
            &[("rwbs", b"WS")],
        ),
    });
    v.push(Rec {
        schema: com,
        ts: 1_400_000,
        pid: 0,
        data: record(
            s,
            0,
            &[("dev", dev), ("sector", 4096), ("nr_sector", 128)],
            &[("rwbs", b"RA")],
        ),
    });
    v.sort_by_key(|r| r.ts);
    v
}

fn feed(schemas: &[Schema], recs: &[Rec], agg: &mut dyn Aggregate) {
    for r in recs {
        agg.event(&Event {
            cpu: 0,
            ts: r.ts,
            schema: &schemas[r.schema],
            data: &r.data,
            endian: Endian::Little,
            pid: r.pid,
            fields: &[],
        });
    }
}

/// Regression for issue 6: the tools decode the block formats of 3.10
/// (RHEL7 `errors`, 32-bit kernel), 4.4, 4.11, 5.10, 6.1 and 6.18
/// (`error`, ioprio, rwbs[10]) and a tree declaring `char rwbs[32]` of
/// size 8, with sizes from nr_sector where `bytes` is not filled in.
#[test]
fn block_formats_from_3_10_to_6_18_decode() {
    let old = kernel_data("old-kernels-public").join("ftr-old-kernels");
    let perfetto = old.join("google+perfetto/src/traced/probes/ftrace/test/data");
    let mut trees: Vec<(String, Vec<Schema>)> = [
        "android_flounder_lte_LRX16F_3.10.40",
        "android_seed_N2F62_3.10.49",
        "android_walleye_OPM5.171019.017.A1_4.4.88",
        "android_raven_AOSP.MASTER_5.10.43",
    ]
    .iter()
    .map(|d| (d.to_string(), tree_formats(&perfetto.join(d).join("events"))))
    .collect();
    trees.push((
        "trappy 3.10-4.1 (rwbs[32] size 8)".into(),
        tree_formats(&old.join("ARM-software+trappy/tests/trace.dat.extracted/events")),
    ));
    trees.push((
        "lisa 4.11".into(),
        tree_formats(&old.join("ARM-software+lisa/tests/assets/sched_load/trace.dat.extracted/events")),
    ));
    trees.push((
        "host 6.18".into(),
        tree_formats(&kernel_data("host-6.18-lockdown").join("host-6.18.44-fc/events")),
    ));
    trees.push((
        "debian 6.1".into(),
        tree_formats(&kernel_data("debian-6.1-qemu").join("guest-6.1/events")),
    ));
    let mut rhel7 = tree_formats(&perfetto.join("android_flounder_lte_LRX16F_3.10.40/events"));
    rhel7.retain(|s| s.name != "block_rq_complete");
    rhel7.push(Schema::parse("block", RHEL7_COMPLETE).unwrap());
    trees.push(("RHEL7 (hand-made errors form)".into(), rhel7));

    let disks = Disks::parse_partitions("8 16 1 sdb\n");
    for (name, schemas) in &trees {
        assert!(schemas.len() >= 2, "{name}: block formats present");
        let has_insert = schemas.iter().any(|s| s.name == "block_rq_insert");
        let events = BlockEvents::new(schemas).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        let recs = requests(schemas);

        // Decoding: status from `errors` or `error`, sizes, flags, names.
        let mut q = Requests::new();
        let mut done = Vec::new();
        for r in &recs {
            let ev = Event {
                cpu: 1,
                ts: r.ts,
                schema: &schemas[r.schema],
                data: &r.data,
                endian: Endian::Little,
                pid: r.pid,
                fields: &[],
            };
            let b = events
                .decode(&ev)
                .unwrap_or_else(|| panic!("{name}: {} decodes", schemas[r.schema].name));
            assert_eq!(b.dev, mkdev(8, 16), "{name}");
            done.extend(q.feed(&b));
        }
        assert_eq!(done.len(), 2, "{name}");
        let (read, write) = (&done[0], &done[1]);
        assert_eq!(
            (read.req.bytes, read.req.rwbs.op(), read.error),
            (65536, Op::Read, Some(0)),
            "{name}"
        );
        assert_eq!(read.req.issuer.comm(), "cat", "{name}");
        assert_eq!(
            (write.req.bytes, write.req.rwbs.flags_name().as_str(), write.error),
            (4096, "Sync-Write", Some(-5)),
            "{name}"
        );
        let issuer = if has_insert { "dd" } else { "kworker/0:1H" };
        assert_eq!(write.req.issuer.comm(), issuer, "{name}");
        assert_eq!(write.latency_ns(false), Some(1_000_000), "{name}");
        assert_eq!(
            write.latency_ns(true),
            Some(if has_insert { 1_050_000 } else { 1_000_000 }),
            "{name}"
        );

        // biolatency -D -F -e over the same records.
        let opts = Options {
            per_disk: true,
            per_flag: true,
            extended: true,
            ..Default::default()
        };
        let mut agg = Biolatency::new(events.clone(), disks.clone(), opts);
        feed(schemas, &recs, &mut agg);
        let mut out = Vec::new();
        agg.report(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("\ndisk = sdb\tflags = ReadAhead-Read\n     usecs "),
            "{name}:\n{text}"
        );
        assert!(
            text.contains("       256 -> 511        : 1"),
            "{name}: 300 us read\n{text}"
        );
        assert!(
            text.contains("\ndisk = sdb\tflags = Sync-Write\n     usecs "),
            "{name}:\n{text}"
        );
        assert!(
            text.contains("       512 -> 1023       : 1"),
            "{name}: 1000 us write\n{text}"
        );
        assert!(
            text.ends_with("\navg = 650 usecs, total: 1300 usecs, count: 2\n\n"),
            "{name}:\n{text}"
        );

        // biosnoop lines and bitesize histograms.
        let mut snoop = Snoop::new(disks.clone(), false, None);
        let mut out = Vec::new();
        for d in &done {
            snoop.line(&mut out, d).unwrap();
        }
        let text = String::from_utf8(out).unwrap();
        // (PID is the live system's tgid of the fixture's tid: not checked.)
        assert!(text.contains(" cat            "), "{name}:\n{text}");
        assert!(
            text.contains(" sdb     RA   4096       65536     0.300\n"),
            "{name}:\n{text}"
        );
        let mut bs = Bitesize::new(events.clone(), None, false);
        feed(schemas, &recs, &mut bs);
        let mut out = Vec::new();
        bs.report(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("\nProcess Name = cat\n"), "{name}:\n{text}");
        assert!(
            text.contains("        64 -> 127        : 1"),
            "{name}: 64 KiB\n{text}"
        );
        assert!(
            text.contains(&format!("\nProcess Name = {issuer}\n")),
            "{name}:\n{text}"
        );
    }
}
