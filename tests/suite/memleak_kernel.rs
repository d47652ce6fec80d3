//! `ftr memleak` kernel mode (no -p/-c) against the live kernel, with
//! fixtures/progs/hold_eventfds.c as ground truth, and its decoding of
//! the kmem/percpu tracepoints of 3.10 to 6.18.
//!
//! How the live count is checked. hold_eventfds creates N eventfds and
//! keeps them open: each is one kmalloc of a struct eventfd_ctx made by
//! do_eventfd itself (its struct file, dentry and inode come from deeper
//! calls, through anon_inode_getfile). Kernel mode reports system-wide, so
//! other processes' eventfds land on the same stack; with -o 0 a report
//! counts every block still outstanding. So while the N are held, the
//! stacks whose caller of the allocator is do_eventfd (the first two
//! frames: the allocator's own frame, then its caller) must count at
//! least N allocations; a shortfall means lost or misdecoded events.
//! After the program closes them, the same stacks must fall below N:
//! their frees were seen too (no other process here holds N eventfds).

use crate::util::{
    assert_fails_cleanly, c_program, ftr, kernel_data, kernel_required, leftovers_of, live_tracing,
};
use ftr::tools::memleak::kmem::{Decoder, Op, Role, TRACEPOINTS};
use ftr_tracefs::format::Schema;
use ftr_tracefs::Endian;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};

/// Eventfds held.
const N: u64 = 1000;

fn usable() -> bool {
    let root = nix::unistd::Uid::effective().is_root();
    let kmalloc = live_tracing().is_some_and(|t| t.path("events/kmem/kmalloc/format").exists());
    if root && kmalloc {
        return true;
    }
    assert!(
        !kernel_required(),
        "FTR_REQUIRE_KERNEL is set but memleak kernel mode cannot run (root: {root}, kmem:kmalloc: {kmalloc})"
    );
    eprintln!(
        "SKIPPED: memleak kernel mode needs root and kmem:kmalloc (root: {root}, kmem:kmalloc: {kmalloc})"
    );
    false
}

/// The function of a frame: `do_eventfd+0x34` -> `do_eventfd`.
fn function(frame: &Value) -> &str {
    let s = frame["symbol"].as_str().unwrap_or_default();
    s.split(['+', ' ']).next().unwrap_or_default()
}

/// (allocations, bytes) of the stacks where do_eventfd called the allocator.
fn eventfd_ctx_allocations(report: &Value) -> (u64, u64) {
    let mut total = (0, 0);
    for s in report["stacks"].as_array().expect("stacks") {
        let frames = s["frames"].as_array().unwrap();
        if frames.iter().take(2).any(|f| function(f) == "do_eventfd") {
            total.0 += s["allocations"].as_u64().unwrap();
            total.1 += s["bytes"].as_u64().unwrap();
        }
    }
    total
}

fn next_report(out: &mut BufReader<ChildStdout>) -> Value {
    let mut line = String::new();
    assert!(out.read_line(&mut line).unwrap() > 0, "ftr ended early");
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

fn stop(tool: &mut Child) -> String {
    let _ = kill(Pid::from_raw(tool.id() as i32), Signal::SIGINT);
    let _ = tool.wait();
    let mut err = String::new();
    let _ = tool.stderr.take().unwrap().read_to_string(&mut err);
    err
}

#[test]
fn held_eventfds_are_outstanding_on_do_eventfds_stack_until_closed() {
    if !usable() {
        return;
    }
    let prog = c_program("hold_eventfds");
    let mut tool = ftr()
        .args([
            "memleak", "-o", "0", "--json", "--sort", "count", "-T", "500", "1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut tool_out = BufReader::new(tool.stdout.take().unwrap());
    let mut line = String::new();
    tool_out.read_line(&mut line).unwrap();
    if line != "Attaching to kernel allocators, Ctrl+C to quit.\n" {
        let err = stop(&mut tool);
        panic!("header {line:?}; stderr: {err}");
    }
    let mut target = Command::new(&prog)
        .arg(N.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut target_in = target.stdin.take().unwrap();
    let mut target_out = BufReader::new(target.stdout.take().unwrap());
    line.clear();
    target_out.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");

    // Held: a report made after "ready" counts all N (records reach a
    // report within a few ring reads, hence a few tries).
    let mut held = Vec::new();
    for _ in 0..6 {
        let r = next_report(&mut tool_out);
        let got = eventfd_ctx_allocations(&r);
        held.push(got);
        if got.0 >= N {
            // Each block is at least sizeof(struct eventfd_ctx) > 16 bytes.
            assert!(got.1 >= 16 * N, "{got:?}");
            break;
        }
    }
    let reached = held.last().is_some_and(|g| g.0 >= N);

    writeln!(target_in, "close").unwrap();
    line.clear();
    target_out.read_line(&mut line).unwrap();
    assert_eq!(line, "closed\n");
    let mut closed = Vec::new();
    for _ in 0..6 {
        let got = eventfd_ctx_allocations(&next_report(&mut tool_out));
        closed.push(got);
        if got.0 < N {
            break;
        }
    }
    writeln!(target_in, "exit").unwrap();
    assert!(target.wait().unwrap().success());

    // Ctrl-C: one final report, exit 0.
    kill(Pid::from_raw(tool.id() as i32), Signal::SIGINT).unwrap();
    let mut rest = String::new();
    tool_out.read_to_string(&mut rest).unwrap();
    let status = tool.wait().unwrap();
    let mut err = String::new();
    tool.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(status.success(), "{err}");
    let last = rest.lines().last().expect("a final report on Ctrl-C");
    let last: Value = serde_json::from_str(last).unwrap();
    assert!(last["lost"].is_u64(), "{last}");

    assert!(
        reached,
        "never {N} allocations from do_eventfd while held: {held:?}; stderr: {err}"
    );
    assert!(
        closed.last().is_some_and(|g| g.0 < N),
        "still {N} after closing: {closed:?}"
    );
    if let Some(t) = live_tracing() {
        assert_eq!(leftovers_of(t.root(), tool.id()), Vec::<String>::new());
    }
}

#[test]
fn text_report_has_bccs_layout_with_kernel_frames() {
    if !usable() {
        return;
    }
    let out = ftr()
        .args(["memleak", "-o", "0", "-T", "2", "--percpu", "1", "1"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "Attaching to kernel allocators, Ctrl+C to quit.");
    assert!(
        lines[1].starts_with('[') && lines[1].ends_with("] Top 2 stacks with outstanding allocations:"),
        "{text}"
    );
    let heads = lines
        .iter()
        .filter(|l| l.ends_with("allocations from stack"))
        .count();
    assert!((1..=2).contains(&heads), "{text}");
    // Frames: address, then `func+0xoff [kernel]` as BCC 0.26 prints them.
    let frame = lines[3];
    let (addr, sym) = frame
        .strip_prefix("\t\t0x")
        .and_then(|f| f.split_once('\t'))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(addr.starts_with("ffff"), "a kernel address: {text}");
    assert!(sym.contains("+0x") && sym.ends_with(']'), "{text}");
}

#[test]
fn bad_input_fails_in_one_line() {
    if !usable() {
        return;
    }
    let Some(t) = live_tracing() else { return };
    let root = t.root();
    assert_fails_cleanly(root, &["memleak", "0"], 1);
    assert_fails_cleanly(root, &["memleak", "1", "0"], 1);
    assert_fails_cleanly(root, &["memleak", "-s", "0"], 1);
    assert_fails_cleanly(root, &["memleak", "-z", "100", "-Z", "10"], 1);
    // --percpu belongs to kernel mode.
    assert_fails_cleanly(root, &["memleak", "--percpu", "-p", "1"], 2);
    assert_fails_cleanly(root, &["memleak", "--nosuch"], 2);
}

#[test]
fn sigkill_leaves_nothing_behind() {
    if !usable() {
        return;
    }
    let Some(t) = live_tracing() else { return };
    let mut tool = ftr()
        .args(["memleak"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(tool.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("Attaching to kernel"), "{line}");
    kill(Pid::from_raw(tool.id() as i32), Signal::SIGKILL).unwrap();
    tool.wait().unwrap();
    // Perf events close with the process; tracefs was only read.
    assert_eq!(leftovers_of(t.root(), tool.id()), Vec::<String>::new());
}

/// Every `events/*/*/format` under `dir`.
fn tree_formats(dir: &Path) -> Vec<Schema> {
    let mut v = Vec::new();
    for t in TRACEPOINTS {
        let p = dir.join(t.system).join(t.name).join("format");
        if let Ok(text) = std::fs::read_to_string(&p) {
            v.push(Schema::parse(t.system, &text).unwrap_or_else(|e| panic!("{}: {e}", p.display())));
        }
    }
    v
}

/// A record of `s` with `fields` (name, value) written where the format
/// puts them.
fn record(s: &Schema, fields: &[(&str, u64)]) -> Vec<u8> {
    let len = s.fields.iter().map(|f| f.offset + f.size).max().unwrap();
    let mut r = vec![0u8; len];
    for (name, v) in fields {
        let f = s.field_def(name).unwrap_or_else(|| panic!("{}: {name}", s.name));
        r[f.offset..f.offset + f.size].copy_from_slice(&v.to_le_bytes()[..f.size]);
    }
    r
}

/// Every kmem/percpu tracepoint kernel mode reads, in the formats of
/// 3.10 (64- and 32-bit), 4.4, 5.10, 6.1 and 6.18: the fields resolve by
/// name and decode (`page` before `pfn`, 4-byte gfp_flags, 6.x's node and
/// accounted fields moving nothing the decoder reads).
#[test]
fn kmem_formats_from_3_10_to_6_18_decode() {
    let perfetto = kernel_data("old-kernels-public")
        .join("ftr-old-kernels/google+perfetto/src/traced/probes/ftrace/test/data");
    let trees = [
        (
            "3.10.40",
            perfetto.join("android_flounder_lte_LRX16F_3.10.40/events"),
            8,
        ),
        (
            "3.10.49 (32-bit)",
            perfetto.join("android_seed_N2F62_3.10.49/events"),
            4,
        ),
        (
            "4.4.88",
            perfetto.join("android_walleye_OPM5.171019.017.A1_4.4.88/events"),
            8,
        ),
        (
            "5.10.43",
            perfetto.join("android_raven_AOSP.MASTER_5.10.43/events"),
            8,
        ),
        ("6.1", kernel_data("debian-6.1-qemu").join("guest-6.1/events"), 8),
        (
            "6.18",
            kernel_data("host-6.18-lockdown").join("host-6.18.44-fc/events"),
            8,
        ),
    ];
    for (name, dir, long) in trees {
        let schemas = tree_formats(&dir);
        // The 5.10 capture is a subset (kmalloc and kfree only).
        assert!(schemas.len() >= 2, "{name}: {}", dir.display());
        let ptr: u64 = if long == 8 {
            0xffff_8881_0203_0400
        } else {
            0xc123_4560
        };
        for s in &schemas {
            let t = TRACEPOINTS.iter().find(|t| t.name == s.name).unwrap();
            let d = Decoder::new(t.role, s, 4096).unwrap_or_else(|e| panic!("{name}: {e}"));
            let (rec, want) = match t.role {
                Role::SlabAlloc => (
                    record(s, &[("ptr", ptr), ("bytes_req", 100), ("bytes_alloc", 128)]),
                    Op::Alloc { addr: ptr, size: 128 },
                ),
                Role::SlabFree | Role::PercpuFree => (record(s, &[("ptr", ptr)]), Op::Free { addr: ptr }),
                Role::PercpuAlloc => (
                    record(s, &[("ptr", ptr), ("size", 24), ("bytes_alloc", 48)]),
                    Op::Alloc { addr: ptr, size: 24 },
                ),
                Role::PageAlloc | Role::PageFree => {
                    let (field, value) = if s.field_def("pfn").is_some() {
                        ("pfn", 0x1234)
                    } else {
                        ("page", ptr)
                    };
                    let rec = record(s, &[(field, value), ("order", 2)]);
                    let Some(op) = d.decode(&rec, Endian::Little) else {
                        panic!("{name}: {} decodes", s.name)
                    };
                    let addr = match op {
                        Op::Alloc { addr, size } => {
                            assert_eq!(size, 4096 << 2, "{name}: {}", s.name);
                            addr
                        }
                        Op::Free { addr } => addr,
                    };
                    assert_eq!(
                        ftr::tools::memleak::kmem::shown_address(addr),
                        value,
                        "{name}: {}",
                        s.name
                    );
                    assert_eq!(
                        matches!(op, Op::Alloc { .. }),
                        t.role == Role::PageAlloc,
                        "{name}: {}",
                        s.name
                    );
                    continue;
                }
            };
            assert_eq!(d.decode(&rec, Endian::Little), Some(want), "{name}: {}", s.name);
        }
        let names: Vec<&str> = schemas.iter().map(|s| s.name.as_str()).collect();
        assert!(
            names.contains(&"kmalloc") && names.contains(&"kfree"),
            "{name}: {names:?}"
        );
    }
}

#[test]
fn doctor_names_kernel_modes_mechanism() {
    if !usable() {
        return;
    }
    let out = ftr().args(["doctor", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let memleak = v["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "memleak")
        .expect("doctor lists memleak");
    let kernel = memleak["mechanisms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["need"] == "kernel allocations")
        .unwrap_or_else(|| panic!("{memleak}"));
    assert_eq!(
        kernel["using"], "kmem tracepoints sampled through perf (kernel mode)",
        "{memleak}"
    );
}
