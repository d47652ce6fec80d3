//! `ftr memleak` kernel mode on the second live kernel (Debian's 6.1
//! under QEMU): 6.1's kmem formats (8-byte gfp_flags, kmalloc_node folded
//! into kmalloc) read live, and the same ground truth as the host test
//! (tests/suite/memleak_kernel.rs): N eventfds held by
//! fixtures/progs/hold_eventfds.c must show as at least N allocations on
//! the stack where do_eventfd called the allocator, and fewer than N once
//! closed.

use crate::util::{c_program, run_in_guest};
use serde_json::Value;

/// Eventfds held (few: the guest is emulated).
const N: u64 = 200;

/// Allocations on the stacks where do_eventfd called the allocator.
fn eventfd_ctx_allocations(report: &Value) -> u64 {
    report["stacks"]
        .as_array()
        .map(|stacks| {
            stacks
                .iter()
                .filter(|s| {
                    s["frames"].as_array().is_some_and(|f| {
                        f.iter()
                            .take(2)
                            .any(|f| f["symbol"].as_str().unwrap_or("").starts_with("do_eventfd+"))
                    })
                })
                .map(|s| s["allocations"].as_u64().unwrap_or(0))
                .sum()
        })
        .unwrap_or(0)
}

#[test]
fn kernel_mode_counts_held_eventfds_on_6_1() {
    let prog = c_program("hold_eventfds");
    // SIGTERM, not SIGINT: a background job of a non-interactive shell
    // starts with SIGINT ignored. Both end memleak with its final report.
    let script = format!(
        r#"
"$FTR" memleak -o 0 --json -z 64 -Z 64 -T 50 1 > ml.out 2> ml.err & ml=$!
for i in $(seq 200); do grep -q '^Attaching' ml.out 2>/dev/null && break; sleep 0.1; done
(sleep 4; echo close; sleep 4; echo exit) | {prog} {N} > prog.out
sleep 2
kill -TERM $ml; wait $ml; echo $? > ml.rc
"#,
        prog = prog.display()
    );
    let Some(g) = run_in_guest(&script) else { return };
    let out = g.file("ml.out");
    let err = g.file("ml.err");
    let context = format!(
        "stdout:\n{out}\nstderr:\n{err}\nscript stderr: {}\nconsole:\n{}",
        g.stderr,
        g.console_tail()
    );
    assert_eq!(g.file("ml.rc").trim(), "0", "{context}");
    assert_eq!(g.file("prog.out"), "ready\nclosed\n", "{context}");
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("Attaching to kernel allocators, Ctrl+C to quit."),
        "{context}"
    );
    let counts: Vec<u64> = lines
        .map(|l| eventfd_ctx_allocations(&serde_json::from_str(l).unwrap()))
        .collect();
    eprintln!(
        "guest run took {:.1} s; do_eventfd allocations per report: {counts:?}",
        g.secs
    );
    // While held, some report counts all N; the last, after the close, fewer.
    assert!(counts.iter().any(|&c| c >= N), "{counts:?}\n{context}");
    assert!(counts.last().is_some_and(|&c| c < N), "{counts:?}\n{context}");
    // 6.1 has no kmalloc_node / kmem_cache_alloc_node: named, not fatal.
    assert!(err.contains("kmem:kmalloc_node"), "{context}");
}
