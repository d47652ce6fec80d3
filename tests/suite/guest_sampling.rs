//! ftr-pmu's kprobe PMU samples on the second live kernel (Debian's 6.1
//! under QEMU), since this host has no kprobe PMU. The guest runs this
//! very test binary, filtered to [`guest_side_kprobe_pmu_samples`], which
//! does its work only there (FTR_GUEST_SAMPLING_OUT set) and writes what
//! it saw to that file; the host-side test checks the file.

use crate::util::{run_in_guest, GuestOutput};
use std::path::Path;

use ftr_pmu::{Record, SampleRate, SampleSource, SampleTarget, SamplerBuilder};

/// The variable naming the result file; set only inside the guest.
const OUT_VAR: &str = "FTR_GUEST_SAMPLING_OUT";
/// The kernel function probed: every open(2) goes through it (5.6+).
const FUNCTION: &str = "do_sys_openat2";
/// Opens made while probed.
const OPENS: usize = 25;

#[test]
fn kprobe_pmu_samples_every_call_on_6_1() {
    let exe = std::env::current_exe().unwrap();
    let script = format!(
        "{OUT_VAR}=$PWD/kprobe.out {} --exact suite::guest_sampling::guest_side_kprobe_pmu_samples \
         --nocapture --test-threads 1 > inner.out 2>&1; echo $? > inner.rc\n\
         grep -w {FUNCTION} /proc/kallsyms | head -1 > kallsyms\n",
        exe.display()
    );
    let Some(g) = run_in_guest(&script) else { return };
    let context = |g: &GuestOutput| {
        format!(
            "inner run:\n{}\nscript stderr: {}\nconsole:\n{}",
            g.file("inner.out"),
            g.stderr,
            g.console_tail()
        )
    };
    assert_eq!(g.file("inner.rc").trim(), "0", "{}", context(&g));
    let out = g.file("kprobe.out");
    eprintln!("guest run took {:.1} s; the guest side saw:\n{out}", g.secs);
    let value = |key: &str| -> u64 {
        out.lines()
            .find_map(|l| l.strip_prefix(key)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {key} in kprobe.out: {out}\n{}", context(&g)))
    };
    assert_eq!(value("entries"), OPENS as u64, "{out}");
    assert_eq!(value("returns"), OPENS as u64, "{out}");
    assert!(value("min_kernel_frames") >= 2, "{out}");
    assert_eq!(value("lost"), 0, "{out}");
    // The entry samples' ip is the probed function (at its start, or just
    // past the ftrace call site where kprobes sit on ftrace).
    let addr = u64::from_str_radix(g.file("kallsyms").split_whitespace().next().unwrap_or("0"), 16).unwrap();
    let ip = value("entry_ip");
    assert!(
        (addr..addr + 16).contains(&ip),
        "entry ip {ip:#x}, {FUNCTION} at {addr:#x}"
    );
}

/// The guest side of [`kprobe_pmu_samples_every_call_on_6_1`]: nothing
/// to do unless started by it inside the guest.
#[test]
fn guest_side_kprobe_pmu_samples() {
    let Some(out) = std::env::var_os(OUT_VAR) else {
        return;
    };
    let mut sampler = SamplerBuilder::new(SampleTarget::Task {
        pid: 0,
        inherit: false,
    })
    .source(SampleSource::kprobe(FUNCTION, 0, false))
    .source(SampleSource::kprobe(FUNCTION, 0, true))
    .rate(SampleRate::Period(1))
    .callchain(true)
    .open()
    .unwrap_or_else(|e| panic!("{e}: {:?}", std::error::Error::source(&e)));
    sampler.enable().unwrap();
    for _ in 0..OPENS {
        std::fs::File::open(Path::new("/proc/self/stat")).unwrap();
    }
    sampler.disable().unwrap();
    let tid = nix::unistd::gettid().as_raw() as u32;
    let (mut entries, mut returns, mut min_frames, mut entry_ip) = (0, 0, usize::MAX, 0);
    sampler
        .drain(|r, o| {
            if let Record::Sample(s) = r {
                if s.tid != Some(tid) {
                    return;
                }
                let frames = s.callchain.as_ref().map_or(0, |c| c.kernel.len());
                min_frames = min_frames.min(frames);
                match o.event {
                    Some(0) => {
                        entries += 1;
                        entry_ip = s.ip.unwrap_or(0);
                    }
                    Some(1) => returns += 1,
                    _ => {}
                }
            }
        })
        .unwrap();
    let text = format!(
        "entries {entries}\nreturns {returns}\nmin_kernel_frames {min_frames}\nlost {}\nentry_ip {entry_ip}\n",
        sampler.stats().lost
    );
    std::fs::write(out, text).unwrap();
}
