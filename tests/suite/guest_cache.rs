//! `ftr cachestat` on the second live kernel (Debian's 6.1 under QEMU),
//! which has kprobes and the function tracer: the same workload as on this
//! VM through `--method kprobe` and `--method function`, the two compared,
//! the tracepoint method's refusal there (6.1 has no mm_filemap_get_pages),
//! and nothing left behind after Ctrl-C or SIGKILL.
//!
//! The file read is a host file made before the boot: the guest sees the
//! host / read-only over 9p (cache=loose), whose pages drop_caches evicts
//! like a disk file's (a file written in the guest would live in the tmpfs
//! overlay, which drop_caches keeps). Writes go to the test's directory,
//! shared read-write over 9p: 9p has no buffer heads, so mbd stays 0 there
//! and dirtied pages come from the writeback_dirty_folio tracepoint
//! (folio_account_dirtied is inlined in Debian's 6.1).

use crate::util::{run_in_guest_env, GuestOutput};
use std::path::PathBuf;
use std::sync::OnceLock;

const READ_MB: u64 = 32;
const WRITE_MB: u64 = 16;
const READ_PAGES: u64 = READ_MB * 256;
const WRITE_PAGES: u64 = WRITE_MB * 256;

/// Runs in the guest, in the shared directory; $BIG is the host file.
/// `m NAME METHOD CMD` runs CMD as one process (it execs) that
/// `cachestat --method METHOD -p PID` watches from before its start to
/// Ctrl-C after its end; NAME.out gets the header and the final line.
const SCRIPT: &str = r#"
T=/sys/kernel/tracing
at() { echo "$1 $(cut -d' ' -f1 /proc/uptime)" >> times; }
m() {
  mkfifo /tmp/go.$1
  sh -c "read _ < /tmp/go.$1; exec $3" & w=$!
  "$FTR" cachestat --method $2 -p $w 600 > $1.out 2> $1.err & f=$!
  for i in $(seq 600); do grep -q '^Tracing' $1.err 2>/dev/null && break; kill -0 $f 2>/dev/null || break; sleep 0.1; done
  echo go > /tmp/go.$1; wait $w; kill -INT $f; wait $f; echo $? > $1.rc; rm /tmp/go.$1
  at $1
}
at start
for meth in kprobe function; do
  sync; echo 3 > /proc/sys/vm/drop_caches
  m $meth.cold $meth "cat $BIG > /dev/null"
  m $meth.warm $meth "cat $BIG > /dev/null"
  m $meth.write $meth "dd if=/dev/zero of=w.$meth bs=1M count=$WRITE_MB status=none"
  rm -f w.$meth
done
"$FTR" cachestat --method tracepoint 1 1 > tp.out 2> tp.err; echo $? > tp.rc
"$FTR" cachestat --method function 600 > kill.out 2> kill.err & f=$!
for i in $(seq 600); do grep -q '^Tracing' kill.err 2>/dev/null && break; kill -0 $f 2>/dev/null || break; sleep 0.1; done
ls $T/instances > kill.instances
kill -KILL $f; wait $f
# Any ftr start reclaims what a killed ftr left; doctor's tracer trials
# cost ~12 s here, so a short cachestat does it.
"$FTR" -v cachestat --method kprobe 0.1 1 > reclaim.out 2> reclaim.err; echo $? > reclaim.rc
at reclaim
cat $T/current_tracer > current_tracer.after
cat $T/set_ftrace_filter > set_ftrace_filter.after
ls $T/instances > instances.after
cat $T/kprobe_events > kprobe_events.after
cat $T/uprobe_events > uprobe_events.after
"#;

/// The host file the guest reads, removed when the run is over.
fn big_file() -> PathBuf {
    let p =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("guest-cache-{}.bin", std::process::id()));
    let st = std::process::Command::new("dd")
        .args(["if=/dev/urandom", "bs=1M", "status=none"])
        .arg(format!("of={}", p.display()))
        .arg(format!("count={READ_MB}"))
        .status()
        .unwrap();
    assert!(st.success());
    p
}

fn guest() -> Option<&'static GuestOutput> {
    static RUN: OnceLock<Option<GuestOutput>> = OnceLock::new();
    RUN.get_or_init(|| {
        let big = big_file();
        let script = format!("BIG={}\nWRITE_MB={WRITE_MB}\n{SCRIPT}", big.display());
        // One vCPU: with two, QEMU's multi-threaded TCG stalled RCU while
        // the function tracer patched text (see run_in_guest_env).
        let run = run_in_guest_env(&script, &[("SMP", "1")]);
        let _ = std::fs::remove_file(&big);
        let run = run?;
        run.log_timing("guest");
        for name in ["kprobe", "function"] {
            for w in ["cold", "warm", "write"] {
                let f = format!("{name}.{w}.out");
                eprintln!("{f}: {}", run.file(&f).lines().last().unwrap_or(""));
            }
        }
        Some(run)
    })
    .as_ref()
}

/// HITS MISSES DIRTIES HITRATIO of a run's final line.
fn counts(g: &GuestOutput, name: &str) -> (u64, u64, u64, f64) {
    let file = format!("{name}.out");
    assert_eq!(g.file(&format!("{name}.rc")).trim(), "0", "{}", g.context(&file));
    let text = g.file(&file);
    let w: Vec<&str> = text.lines().last().unwrap_or("").split_whitespace().collect();
    assert_eq!(w.len(), 6, "{}", g.context(&file));
    let n = |i: usize| w[i].parse::<u64>().unwrap();
    (n(0), n(1), n(2), w[3].trim_end_matches('%').parse().unwrap())
}

fn near(v: u64, want: u64, tol: f64) -> bool {
    (v as f64 - want as f64).abs() <= tol * want as f64
}

fn check_method(g: &GuestOutput, method: &str, says: &str) {
    let err = g.file(&format!("{method}.cold.err"));
    assert!(
        err.contains(&format!("Tracing the page cache through {says} (")),
        "{}",
        g.context(&format!("{method}.cold.out"))
    );
    let (_, misses, _, _) = counts(g, &format!("{method}.cold"));
    assert!(
        near(misses, READ_PAGES, 0.05),
        "{method} cold: {misses} misses for {READ_PAGES} pages"
    );
    let (hits, misses, _, ratio) = counts(g, &format!("{method}.warm"));
    // mpa also counts the reader's own exec (its binary and libraries).
    assert!(
        ratio > 95.0 && hits >= READ_PAGES * 95 / 100 && misses < READ_PAGES / 100,
        "{method} warm: {hits} hits {misses} misses {ratio}%"
    );
    let (_, _, dirties, _) = counts(g, &format!("{method}.write"));
    assert!(
        near(dirties, WRITE_PAGES, 0.05),
        "{method} write: {dirties} dirtied for {WRITE_PAGES} pages"
    );
}

#[test]
fn kprobes_count_a_cold_read_a_warm_read_and_a_write() {
    let Some(g) = guest() else { return };
    check_method(g, "kprobe", "kprobes");
}

#[test]
fn function_tracer_counts_the_same_when_forced() {
    let Some(g) = guest() else { return };
    check_method(g, "function", "function tracer");
    for w in ["cold", "warm", "write"] {
        let (kh, km, kd, _) = counts(g, &format!("kprobe.{w}"));
        let (fh, fm, fd, _) = counts(g, &format!("function.{w}"));
        assert!(
            near(fm, km.max(1), 0.10) || km.abs_diff(fm) <= 30,
            "{w}: misses kprobe {km} function {fm}"
        );
        assert!(
            near(fd, kd.max(1), 0.10) || kd.abs_diff(fd) <= 30,
            "{w}: dirties kprobe {kd} function {fd}"
        );
        assert!(near(fh, kh.max(1), 0.10), "{w}: hits kprobe {kh} function {fh}");
    }
}

#[test]
fn tracepoint_method_names_what_6_1_lacks() {
    let Some(g) = guest() else { return };
    assert_eq!(g.file("tp.rc").trim(), "1", "{}", g.context("tp.out"));
    let err = g.file("tp.err");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("no tracepoint filemap:mm_filemap_get_pages"),
        "{err}"
    );
    assert!(g.file("tp.out").is_empty());
}

#[test]
fn guest_cache_leaves_nothing_after_ctrl_c_or_sigkill() {
    let Some(g) = guest() else { return };
    assert!(
        g.file("kill.instances").lines().any(|l| l.starts_with("ftr-")),
        "an instance while the function method ran: {}",
        g.context("kill.out")
    );
    assert_eq!(g.file("reclaim.rc").trim(), "0", "{}", g.context("reclaim.out"));
    assert!(
        g.file("reclaim.err").contains("ftr: reclaimed instance ftr-"),
        "{}",
        g.context("reclaim.out")
    );
    g.assert_left_clean();
}
