//! ftr-pmu sampling against the live kernel: cpu-clock samples of a C
//! program with frame-pointer callchains, tracepoint samples decoded with
//! ftr-tracefs' Schema, uprobe PMU samples, LOST accounting on a one-page
//! ring, and user registers + stack copies. Ground truth is the program
//! itself (its CPU time, its call counts, its pids) and its mappings.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use ftr_pmu::{
    CpuMode, Origin, Record, RegisterArch, SampleRate, SampleSource, SampleTarget, Sampler, SamplerBuilder,
    Workload,
};
use ftr_tracefs::format::Schema;
use ftr_tracefs::Endian;

use crate::util::{c_program, c_program_with, kernel_required, live_tracing};

const PROT_EXEC: u32 = 4;

/// The sampling fixture built with frame pointers.
fn sample_hot() -> PathBuf {
    c_program_with(
        "sample_hot",
        "fp",
        &["-O1", "-fno-omit-frame-pointer", "-pthread"],
    )
}

fn nothing() -> std::io::Result<()> {
    Ok(())
}

/// Whether this process may sample: root, or a skip (with the reason)
/// unless FTR_REQUIRE_KERNEL is set.
fn may_sample() -> bool {
    if nix::unistd::Uid::effective().is_root() {
        return true;
    }
    assert!(
        !kernel_required(),
        "FTR_REQUIRE_KERNEL is set but the tests do not run as root"
    );
    eprintln!("SKIPPED: sampling tests need root");
    false
}

/// What a sampled run of a command produced.
struct Run {
    pid: u32,
    stdout: String,
    sampler: Sampler,
}

/// Runs `argv` held before exec, samples it (and its children) with the
/// sampler `configure` builds on it, enabled at exec, and hands every
/// record to `on_record` until it has exited and the rings are empty.
fn sample_command(
    argv: &[&str],
    configure: impl FnOnce(SamplerBuilder) -> SamplerBuilder,
    mut on_record: impl FnMut(&Record<'_>, Origin),
) -> Run {
    let mut cmd = Command::new(argv[0]);
    cmd.args(&argv[1..]).stdout(Stdio::piped());
    let workload = Workload::prepare_command(cmd, nothing).expect("preparing the workload");
    let pid = workload.pid();
    let builder =
        configure(SamplerBuilder::new(SampleTarget::Task { pid, inherit: true })).enable_on_exec(true);
    let mut sampler = builder
        .open()
        .unwrap_or_else(|e| panic!("opening the sampler: {e:#?}"));
    let mut child = workload.start().expect("starting the workload");
    let mut stdout_pipe = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        stdout_pipe.read_to_string(&mut s).unwrap();
        s
    });
    loop {
        sampler.wait(Some(Duration::from_millis(20)), None).unwrap();
        sampler.drain(&mut on_record).unwrap();
        if child.try_wait().unwrap().is_some() {
            break;
        }
    }
    // Every ring belongs to the exited task: poll says so at once.
    let ready = sampler.wait(Some(Duration::ZERO), None).unwrap();
    assert!(ready.hangup, "no POLLHUP after the task exited: {ready:?}");
    sampler.disable().unwrap();
    sampler.drain(&mut on_record).unwrap();
    assert!(child.wait().unwrap().success(), "{argv:?} failed");
    Run {
        pid: pid as u32,
        stdout: reader.join().unwrap(),
        sampler,
    }
}

/// Executable mappings of `path` announced by MMAP2 records.
#[derive(Default)]
struct Mappings {
    ranges: Vec<(u64, u64)>,
}

impl Mappings {
    fn note(&mut self, record: &Record<'_>, path: &Path) {
        if let Record::Mmap(m) = record {
            if m.filename == path.as_os_str().as_encoded_bytes()
                && m.prot.unwrap_or(PROT_EXEC) & PROT_EXEC != 0
            {
                self.ranges.push((m.addr, m.addr + m.len));
            }
        }
    }

    fn contains(&self, addr: u64) -> bool {
        self.ranges.iter().any(|&(lo, hi)| (lo..hi).contains(&addr))
    }
}

struct UserSample {
    pid: Option<u32>,
    mode: Option<CpuMode>,
    ip: u64,
    user: Vec<u64>,
}

#[test]
fn cpu_clock_at_999_hz_samples_the_hot_function_with_frame_pointer_callchains() {
    if !may_sample() {
        return;
    }
    let prog = sample_hot();
    let mut maps = Mappings::default();
    let mut samples = Vec::new();
    let (mut comm_exec, mut exits) = (Vec::new(), HashSet::new());
    let run = sample_command(
        &[prog.to_str().unwrap(), "spin", "1"],
        |b| {
            b.source(SampleSource::cpu_clock())
                .rate(SampleRate::Frequency(999))
                .callchain(true)
                .track_tasks(true)
        },
        |r, o| {
            maps.note(r, &prog);
            match r {
                Record::Sample(s) => {
                    assert_eq!(o.event, Some(0));
                    samples.push(UserSample {
                        pid: s.pid,
                        mode: s.mode,
                        ip: s.ip.unwrap(),
                        user: s.callchain.as_ref().map(|c| c.user.clone()).unwrap_or_default(),
                    })
                }
                Record::Comm(c) if c.exec => {
                    comm_exec.push((c.pid, String::from_utf8_lossy(c.comm).into_owned()))
                }
                Record::Exit(t) => {
                    exits.insert(t.pid);
                }
                _ => {}
            }
        },
    );
    let cpu_ns: f64 = run.stdout.split_whitespace().next().unwrap().parse().unwrap();
    let mine: Vec<&UserSample> = samples.iter().filter(|s| s.pid == Some(run.pid)).collect();
    let expected = 999.0 * cpu_ns / 1e9;
    eprintln!(
        "{} samples of pid {} for {:.3} s of CPU (expected ~{expected:.0}); mappings {:x?}; stats {:?}",
        mine.len(),
        run.pid,
        cpu_ns / 1e9,
        maps.ranges,
        run.sampler.stats()
    );
    assert_eq!(run.sampler.stats().lost, 0);
    let ratio = mine.len() as f64 / expected;
    assert!(
        (0.75..=1.15).contains(&ratio),
        "{} samples, expected ~{expected:.0}",
        mine.len()
    );
    assert!(!maps.ranges.is_empty(), "no MMAP2 record for {}", prog.display());
    let user: Vec<&&UserSample> = mine.iter().filter(|s| s.mode == Some(CpuMode::User)).collect();
    assert!(
        user.len() as f64 >= 0.8 * mine.len() as f64,
        "{} of {} samples in user space",
        user.len(),
        mine.len()
    );
    let in_text = user.iter().filter(|s| maps.contains(s.ip)).count();
    assert!(
        in_text * 10 >= user.len() * 9,
        "{in_text} of {} user IPs in the program's text",
        user.len()
    );
    // ip in hot, then returns into middle, outer and main: at least three
    // user frames inside the program.
    let deep = user
        .iter()
        .filter(|s| s.user.iter().filter(|&&a| maps.contains(a)).count() >= 3)
        .count();
    assert!(
        deep * 10 >= user.len() * 9,
        "{deep} of {} user callchains reach 3 frames in the program",
        user.len()
    );
    let name: String = prog
        .file_name()
        .unwrap()
        .to_string_lossy()
        .chars()
        .take(15)
        .collect();
    assert!(
        comm_exec.contains(&(run.pid, name.clone())),
        "no COMM exec {name} for {}: {comm_exec:?}",
        run.pid
    );
    assert!(exits.contains(&run.pid), "no EXIT record for {}", run.pid);
    assert!(run.sampler.notes().is_empty());
}

#[test]
fn tracepoint_samples_count_every_exec_and_decode_with_the_tracefs_schema() {
    if !may_sample() {
        return;
    }
    let Some(tracing) = live_tracing() else { return };
    let format = std::fs::read_to_string(tracing.path("events/sched/sched_process_exec/format")).unwrap();
    let schema = Schema::parse("sched", &format).unwrap();
    let (filename, pid_field) = (schema.field("filename").unwrap(), schema.field("pid").unwrap());
    let source = SampleSource::tracepoint(tracing.root(), "sched", "sched_process_exec").unwrap();
    let (mut execs, mut forks, mut exits) = (Vec::new(), HashSet::new(), HashSet::new());
    const N: usize = 20;
    let prog = c_program("exec_true");
    let run = sample_command(
        &[prog.to_str().unwrap(), &N.to_string()],
        |b| b.source(source).track_tasks(true),
        |r, o| {
            match r {
                Record::Fork(t) => {
                    forks.insert((t.pid as i64, t.ppid));
                }
                Record::Exit(t) => {
                    exits.insert(t.pid as i64);
                }
                _ => {}
            }
            if let Record::Sample(s) = r {
                assert_eq!(o.event, Some(0));
                let raw = s.raw.expect("tracepoint samples carry RAW");
                let file = filename.str(raw, Endian::host()).unwrap().into_owned();
                let pid = pid_field.i64(raw, Endian::host()).unwrap();
                assert_eq!(Some(pid as u32), s.pid, "RAW pid and sample pid differ");
                execs.push((pid, file));
            }
        },
    );
    let children: Vec<i64> = run.stdout.lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(children.len(), N);
    let of_children: Vec<&(i64, String)> = execs.iter().filter(|(p, _)| children.contains(p)).collect();
    assert_eq!(of_children.len(), N, "{execs:?}");
    assert!(
        of_children.iter().all(|(_, f)| f == "/bin/true"),
        "{of_children:?}"
    );
    // Anything else is the workload's own exec, which enable_on_exec may
    // or may not catch (the event is enabled inside that very exec).
    let others: Vec<&(i64, String)> = execs.iter().filter(|(p, _)| !children.contains(p)).collect();
    assert!(others.iter().all(|(p, _)| *p == run.pid as i64), "{others:?}");
    // FORK and EXIT records of every child, forked by the workload.
    for c in &children {
        assert!(
            forks.contains(&(*c, run.pid)),
            "no FORK of {c} from {}: {forks:?}",
            run.pid
        );
        assert!(exits.contains(c), "no EXIT of {c}");
    }
    assert_eq!(run.sampler.stats().lost, 0);
}

/// The file offset uprobes need for `symbol` of the ELF file `path`: its
/// address from `nm`, minus the p_vaddr of the PT_LOAD segment holding it,
/// plus that segment's p_offset (from `readelf -lW`).
fn file_offset(path: &Path, symbol: &str) -> u64 {
    let nm = Command::new("nm").arg(path).output().expect("running nm");
    let text = String::from_utf8_lossy(&nm.stdout);
    let vaddr = text
        .lines()
        .find_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() == 3 && w[2] == symbol).then(|| u64::from_str_radix(w[0], 16).unwrap())
        })
        .unwrap_or_else(|| panic!("{symbol} not in nm {}", path.display()));
    let re = Command::new("readelf")
        .arg("-lW")
        .arg(path)
        .output()
        .expect("running readelf");
    let text = String::from_utf8_lossy(&re.stdout);
    for l in text.lines() {
        let w: Vec<&str> = l.split_whitespace().collect();
        if w.first() != Some(&"LOAD") {
            continue;
        }
        let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
        let (offset, va, memsz) = (hex(w[1]), hex(w[2]), hex(w[5]));
        if (va..va + memsz).contains(&vaddr) {
            return vaddr - va + offset;
        }
    }
    panic!("no PT_LOAD holds {symbol} at {vaddr:#x}");
}

fn uprobe_available() -> bool {
    if Path::new("/sys/bus/event_source/devices/uprobe/type").exists() {
        return true;
    }
    assert!(
        !kernel_required(),
        "FTR_REQUIRE_KERNEL is set but there is no uprobe PMU"
    );
    eprintln!("SKIPPED: no uprobe PMU (/sys/bus/event_source/devices/uprobe)");
    false
}

#[test]
fn uprobe_pmu_fires_once_per_call_with_a_callchain() {
    if !may_sample() || !uprobe_available() {
        return;
    }
    let Some(arch) = RegisterArch::native() else {
        eprintln!("SKIPPED: no user register set for this architecture");
        return;
    };
    let prog = sample_hot();
    let offset = file_offset(&prog, "ping");
    let mut maps = Mappings::default();
    let (mut entries, mut returns) = (Vec::new(), Vec::new());
    const N: usize = 37;
    let run = sample_command(
        &[prog.to_str().unwrap(), "calls", &N.to_string()],
        |b| {
            // Entry and return share one ring per CPU; the identifier
            // tells them apart.
            b.source(SampleSource::uprobe(&prog, offset, false))
                .source(SampleSource::uprobe(&prog, offset, true))
                .callchain(true)
                .user_regs(arch.call_mask())
                .user_stack(64)
                .track_tasks(true)
        },
        |r, o| {
            maps.note(r, &prog);
            if let Record::Sample(s) = r {
                let regs = s.regs_user.as_ref().unwrap();
                let time = s.time.unwrap();
                match o.event {
                    Some(0) => {
                        let stack = s.stack_user.unwrap();
                        let top = stack.get(..8).map(|b| u64::from_ne_bytes(b.try_into().unwrap()));
                        let arg = arch.argument(regs, 0).unwrap();
                        entries.push((time, arg, s.ip.unwrap(), s.callchain.clone().unwrap().user, top));
                    }
                    Some(1) => returns.push((time, arch.return_value(regs).unwrap(), s.ip.unwrap())),
                    other => panic!("sample from event {other:?}"),
                }
            }
        },
    );
    assert_eq!(run.stdout.trim(), N.to_string());
    assert_eq!(entries.len(), N, "uprobe samples");
    assert_eq!(returns.len(), N, "uretprobe samples");
    entries.sort_by_key(|e| e.0);
    returns.sort_by_key(|r| r.0);
    for (i, (_, arg, ip, user, top)) in entries.iter().enumerate() {
        assert_eq!(*arg, i as u64, "ping's argument, from REGS_USER");
        assert!(maps.contains(*ip), "uprobe ip {ip:#x} outside {:x?}", maps.ranges);
        // The probe fires on ping's first instruction, before it pushes a
        // frame pointer, so the frame-pointer chain goes from ping straight
        // to main's caller; the return address into main is the word at
        // sp, which the stack copy holds (a DWARF unwinder recovers it).
        assert!(user.len() >= 2 && user[0] == *ip, "callchain {user:x?}");
        let ret = top.expect("a stack copy");
        assert!(maps.contains(ret), "return address {ret:#x} outside the program");
        // The uretprobe fires at that return address with ping's result.
        assert_eq!(returns[i].1, 2 * i as u64 + 1, "ping's return value");
        assert_eq!(returns[i].2, ret, "uretprobe ip");
    }
    assert_eq!(run.sampler.stats().lost, 0);
}

#[test]
fn sources_with_their_own_shapes_share_a_ring_and_parse_by_their_own_layout() {
    if !may_sample() || !uprobe_available() {
        return;
    }
    let Some(arch) = RegisterArch::native() else {
        eprintln!("SKIPPED: no user register set for this architecture");
        return;
    };
    let prog = sample_hot();
    let offset = file_offset(&prog, "ping");
    let (mut entries, mut returns) = (Vec::new(), Vec::new());
    const N: usize = 29;
    let lean = ftr_pmu::SampleShape {
        regs_user: arch.call_mask(),
        ..Default::default()
    };
    let run = sample_command(
        &[prog.to_str().unwrap(), "calls", &N.to_string()],
        |b| {
            // The entry carries registers, callchain and stack; the return
            // only registers: samples of both kinds interleave in one ring.
            b.source(SampleSource::uprobe(&prog, offset, false))
                .shaped_source(SampleSource::uprobe(&prog, offset, true), lean)
                .callchain(true)
                .user_regs(arch.call_mask())
                .user_stack(64)
                .track_tasks(true)
        },
        |r, o| {
            if let Record::Sample(s) = r {
                let regs = s.regs_user.as_ref().unwrap();
                match o.event {
                    Some(0) => {
                        assert!(s.callchain.is_some() && s.stack_user.is_some());
                        entries.push((s.time.unwrap(), arch.argument(regs, 0).unwrap()));
                    }
                    Some(1) => {
                        assert!(s.callchain.is_none() && s.stack_user.is_none(), "a lean sample");
                        returns.push((s.time.unwrap(), arch.return_value(regs).unwrap()));
                    }
                    other => panic!("sample from event {other:?}"),
                }
            }
        },
    );
    assert_eq!(run.stdout.trim(), N.to_string());
    entries.sort_unstable();
    returns.sort_unstable();
    let args: Vec<u64> = entries.iter().map(|e| e.1).collect();
    let values: Vec<u64> = returns.iter().map(|r| r.1).collect();
    assert_eq!(args, (0..N as u64).collect::<Vec<_>>());
    assert_eq!(values, (0..N as u64).map(|i| 2 * i + 1).collect::<Vec<_>>());
    assert_eq!(run.sampler.stats().lost, 0);
}

#[test]
fn a_one_page_ring_overflows_into_counted_lost_records() {
    if !may_sample() || !uprobe_available() {
        return;
    }
    let prog = sample_hot();
    let offset = file_offset(&prog, "ping");
    // A flood of back-to-back calls, then a few slow ones: those find room
    // again, and the kernel writes the pending LOST record before them.
    // The kernel reports a ring's losses only with that ring's next
    // record, so the program stays on one CPU (one ring) for the tail to
    // flush them all (sample_hot pins itself to one CPU in `calls` mode).
    const FLOOD: u64 = 50_000;
    const TAIL: u64 = 20;
    let (mut lost_seen, mut napped) = (0, false);
    let run = sample_command(
        &[
            prog.to_str().unwrap(),
            "calls",
            &FLOOD.to_string(),
            &TAIL.to_string(),
        ],
        |b| {
            b.source(SampleSource::uprobe(&prog, offset, false))
                .callchain(true)
                .ring_pages(1)
        },
        |r, _| match r {
            // A slow consumer: the flood overflows the ring while it naps.
            Record::Sample(_) if !napped => {
                napped = true;
                std::thread::sleep(Duration::from_millis(50));
            }
            Record::Lost(l) => lost_seen += l.lost,
            _ => {}
        },
    );
    let stats = run.sampler.stats();
    eprintln!("{stats:?}");
    assert!(
        stats.lost_records > 0 && stats.lost > 0,
        "no LOST record: {stats:?}"
    );
    assert_eq!(lost_seen, stats.lost);
    assert_eq!(stats.samples + stats.lost, FLOOD + TAIL, "{stats:?}");
}

#[test]
fn user_regs_and_stack_copies_point_into_the_program() {
    if !may_sample() {
        return;
    }
    let Some(arch) = RegisterArch::native() else {
        eprintln!("SKIPPED: no user register set for this architecture");
        return;
    };
    let prog = sample_hot();
    let mut maps = Mappings::default();
    let mut samples = Vec::new();
    const STACK: u32 = 8192;
    let mut stack_range = None;
    let run = sample_command(
        &[prog.to_str().unwrap(), "spin", "0.5"],
        |b| {
            b.source(SampleSource::cpu_clock())
                .rate(SampleRate::Frequency(999))
                .user_regs(arch.unwind_mask())
                .user_stack(STACK)
                .track_tasks(true)
        },
        |r, _| {
            maps.note(r, &prog);
            if let Record::Sample(s) = r {
                if s.mode == Some(CpuMode::User) {
                    let regs = arch.unwind_regs(s.regs_user.as_ref().unwrap()).unwrap();
                    samples.push((regs, s.stack_user.unwrap().len()));
                    // Read the stack's bounds while the program still runs.
                    if stack_range.is_none() {
                        stack_range = stack_mapping(s.pid.unwrap());
                    }
                }
            }
        },
    );
    let (lo, hi) = stack_range.expect("the program's [stack] mapping");
    eprintln!(
        "{} user samples, stack {lo:#x}-{hi:#x}, pid {}",
        samples.len(),
        run.pid
    );
    assert!(samples.len() > 100, "{} user samples", samples.len());
    for (regs, copied) in &samples {
        assert!(
            *copied > 0 && *copied <= STACK as usize,
            "stack copy of {copied} bytes"
        );
        assert!((lo..hi).contains(&regs.sp), "sp {:#x} outside the stack", regs.sp);
        assert!((lo..hi).contains(&regs.fp), "fp {:#x} outside the stack", regs.fp);
    }
    let in_text = samples.iter().filter(|(r, _)| maps.contains(r.ip)).count();
    assert!(
        in_text * 10 >= samples.len() * 9,
        "{in_text} of {} ips in the program",
        samples.len()
    );
}

/// The `[stack]` line of /proc/PID/maps.
fn stack_mapping(pid: u32) -> Option<(u64, u64)> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).ok()?;
    let line = maps.lines().find(|l| l.ends_with("[stack]"))?;
    let (lo, hi) = line.split_whitespace().next()?.split_once('-')?;
    Some((
        u64::from_str_radix(lo, 16).ok()?,
        u64::from_str_radix(hi, 16).ok()?,
    ))
}

#[test]
fn refusals_name_the_event_and_the_reason() {
    if !may_sample() {
        return;
    }
    // No such tracepoint: the name comes back.
    let tracing = Path::new("/sys/kernel/tracing");
    let err = SampleSource::tracepoint(tracing, "sched", "no_such_event").unwrap_err();
    assert!(err.to_string().contains("sched:no_such_event"), "{err}");
    // cycles without a hardware PMU falls back to cpu-clock, and says so.
    let cycles = ftr_pmu::EventSpec::hardware("cycles").unwrap();
    let sampler = SamplerBuilder::new(SampleTarget::Task {
        pid: 0,
        inherit: false,
    })
    .source(SampleSource::Event(cycles))
    .rate(SampleRate::Frequency(99))
    .open()
    .unwrap();
    if Path::new("/sys/bus/event_source/devices/cpu").exists() {
        assert!(sampler.notes().is_empty());
    } else {
        assert_eq!(sampler.sources()[0].name(), "cpu-clock");
        assert!(
            sampler.notes()[0].contains("cycles is not supported here"),
            "{:?}",
            sampler.notes()
        );
    }
    // A uprobe on a file that is not there.
    let err = SamplerBuilder::new(SampleTarget::Task {
        pid: 0,
        inherit: false,
    })
    .source(SampleSource::uprobe("/nonexistent/ftr-binary", 0x10, false))
    .open()
    .err()
    .unwrap();
    assert!(
        err.to_string().contains("uprobe:/nonexistent/ftr-binary+0x10"),
        "{err}"
    );
    // A dead pid.
    let err = SamplerBuilder::new(SampleTarget::Task {
        pid: i32::MAX - 1,
        inherit: false,
    })
    .source(SampleSource::task_clock())
    .open()
    .err()
    .unwrap();
    assert!(matches!(err, ftr_pmu::Error::NoSuchProcess { .. }), "{err}");
}

#[test]
fn cpu_wide_rings_cover_every_online_cpu_merge_in_time_order_and_a_wake_descriptor_interrupts_the_wait() {
    if !may_sample() {
        return;
    }
    let cpus = ftr_pmu::online_cpus().unwrap();
    let mut sampler = SamplerBuilder::new(SampleTarget::Cpus(cpus.clone()))
        .source(SampleSource::cpu_clock())
        .rate(SampleRate::Frequency(199))
        .callchain(true)
        .wakeup(ftr_pmu::Wakeup::Events(1))
        .open()
        .unwrap();
    assert_eq!(sampler.cpus(), cpus);
    // An eventfd already written: wait returns at once, woken.
    let wake = nix::sys::eventfd::EventFd::from_flags(nix::sys::eventfd::EfdFlags::EFD_CLOEXEC).unwrap();
    wake.write(1).unwrap();
    use std::os::fd::AsFd;
    let ready = sampler.wait(None, Some(wake.as_fd())).unwrap();
    assert!(ready.woken && !ready.hangup, "{ready:?}");
    sampler.enable().unwrap();
    let prog = sample_hot();
    let mut spinner = Command::new(&prog)
        .args(["spin", "0.3"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut per_cpu = std::collections::BTreeMap::new();
    let mut times = Vec::new();
    let mut on_record = |r: &Record<'_>, o: Origin| {
        if let Record::Sample(s) = r {
            // A CPU-wide ring only holds its own CPU's samples.
            assert_eq!(s.cpu, o.cpu);
            *per_cpu.entry(o.cpu.unwrap()).or_insert(0u64) += 1;
            times.push(s.time.unwrap());
        }
    };
    // Rounds while both CPUs write: the ordered drain merges the rings.
    while spinner.try_wait().unwrap().is_none() {
        sampler.wait(Some(Duration::from_millis(20)), None).unwrap();
        sampler.drain_ordered(&mut on_record).unwrap();
    }
    sampler.disable().unwrap();
    sampler.drain_ordered(&mut on_record).unwrap();
    sampler.flush_ordered(&mut on_record).unwrap();
    assert_eq!(times.len() as u64, sampler.stats().samples);
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "samples out of time order"
    );
    // cpu-clock fires on every CPU, idle or not (idle samples are the
    // swapper's), so each ring has samples.
    eprintln!("samples per CPU: {per_cpu:?}");
    assert_eq!(per_cpu.keys().copied().collect::<Vec<_>>(), cpus, "{per_cpu:?}");
}

/// Set (to anything) only in the unprivileged child that
/// [`refusals_under_perf_event_paranoid_name_the_setting`] starts.
const UNPRIVILEGED_VAR: &str = "FTR_SAMPLING_UNPRIVILEGED_SIDE";

#[test]
fn refusals_under_perf_event_paranoid_name_the_setting() {
    if !may_sample() {
        return;
    }
    let paranoid: i32 = std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // This test binary again, as nobody, running only the side below.
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "suite::sampling::unprivileged_side_of_the_paranoid_test",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(UNPRIVILEGED_VAR, "1")
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            assert!(!kernel_required(), "running setpriv: {e}");
            eprintln!("SKIPPED: cannot run setpriv ({e})");
            return;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = |key: &str| {
        // The harness may print "test NAME ... " before the first line.
        text.lines()
            .find_map(|l| l.find(key).map(|at| &l[at + key.len()..]))
            .unwrap_or_else(|| panic!("no {key} line in {text}"))
            .to_owned()
    };
    let (cpu_wide, with_kernel, user_only) = (line("cpu-wide: "), line("kernel: "), line("user-only: "));
    // CPU-wide needs <= 0, kernel samples of a task <= 1, user-only <= 2
    // (perf_allow_cpu, perf_allow_kernel, perf_event_open's own check).
    for (what, got, max) in [
        ("cpu-wide", &cpu_wide, 0),
        ("kernel", &with_kernel, 1),
        ("user-only", &user_only, 2),
    ] {
        if paranoid > max {
            assert!(
                got.contains(&format!(
                    "kernel.perf_event_paranoid={paranoid} and no CAP_PERFMON"
                )) && got.contains(&format!("kernel.perf_event_paranoid<={max}"))
                    && got.contains("cpu-clock"),
                "{what}: {got}"
            );
        } else {
            assert_eq!(got, "opened", "{what} under paranoid {paranoid}");
        }
    }
}

/// The unprivileged side of [`refusals_under_perf_event_paranoid_name_the_setting`]:
/// nothing to do unless started by it.
#[test]
fn unprivileged_side_of_the_paranoid_test() {
    if std::env::var_os(UNPRIVILEGED_VAR).is_none() {
        return;
    }
    let outcome = |b: SamplerBuilder| match b.source(SampleSource::cpu_clock()).open() {
        Ok(_) => "opened".to_owned(),
        Err(e) => e.to_string(),
    };
    let cpus = ftr_pmu::online_cpus().unwrap();
    println!(
        "cpu-wide: {}",
        outcome(SamplerBuilder::new(SampleTarget::Cpus(cpus)))
    );
    let own = || {
        SamplerBuilder::new(SampleTarget::Task {
            pid: 0,
            inherit: false,
        })
    };
    println!("kernel: {}", outcome(own()));
    println!("user-only: {}", outcome(own().exclude_kernel(true)));
}

#[test]
fn a_running_process_is_sampled_in_every_thread_through_one_ring_per_cpu() {
    if !may_sample() {
        return;
    }
    use std::io::BufRead;
    let prog = sample_hot();
    let mut child = Command::new(&prog)
        .args(["threads", "3", "1.5"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "started");
    let pid = child.id();
    let tids: HashSet<u32> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(tids.len(), 4, "main and three threads");
    let mut sampler = SamplerBuilder::new(SampleTarget::Process {
        pid: pid as i32,
        inherit: false,
    })
    .source(SampleSource::cpu_clock())
    .rate(SampleRate::Frequency(499))
    .callchain(true)
    .open()
    .unwrap();
    assert_eq!(
        sampler.cpus(),
        ftr_pmu::online_cpus().unwrap(),
        "one ring per CPU"
    );
    sampler.enable().unwrap();
    std::thread::sleep(Duration::from_millis(400));
    sampler.disable().unwrap();
    let mut seen = HashSet::new();
    sampler
        .drain(|r, _| {
            if let Record::Sample(s) = r {
                assert_eq!(s.pid, Some(pid));
                seen.insert(s.tid.unwrap());
            }
        })
        .unwrap();
    assert!(child.wait().unwrap().success());
    // The three spinning threads are sampled (main only waits in join).
    let spinning: Vec<u32> = tids.iter().copied().filter(|&t| t != pid).collect();
    assert!(
        spinning.iter().all(|t| seen.contains(t)),
        "sampled {seen:?}, threads {tids:?}"
    );
    assert!(seen.is_subset(&tids));
}
