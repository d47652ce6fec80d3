//! ftr-symbols against ground truth: uprobe offsets against perf probe and
//! readelf, a uprobe at our offset firing, kernel addresses against the
//! kernel's own stack symbolization, and a C program's functions, lines
//! and inlined frames against what the program itself prints.

use crate::util::{kernel_required, leftovers_of, live_tracing};
use ftr_symbols::{resolve_uprobe, KernelSymbols, ProbeContext, Symbolizer};
use ftr_tracefs::{Instance, ProbeDef, ProbeGroup, ProbeKind};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock};

const LIBC: &str = "/lib/x86_64-linux-gnu/libc.so.6";

/// Compiles fixtures/progs/symbolize_target.c with -g, as a PIE or not.
fn target_program(pie: bool) -> PathBuf {
    static LOCK: OnceLock<Mutex<()>> = OnceLock::new();
    let _l = LOCK.get_or_init(Default::default).lock().unwrap();
    let src = source();
    let kind = if pie { "pie" } else { "nopie" };
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("symtarget-{kind}-{}", std::process::id()));
    if !out.exists() {
        let flags: &[&str] = if pie {
            &["-fPIE", "-pie"]
        } else {
            &["-fno-pie", "-no-pie"]
        };
        let st = Command::new("cc")
            .args(["-O1", "-g"])
            .args(flags)
            .arg("-o")
            .arg(&out)
            .arg(&src)
            .status()
            .expect("running cc");
        assert!(st.success(), "cc failed for {}", src.display());
    }
    out
}

fn source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/progs/symbolize_target.c")
}

/// The line holding `/* LINE:marker */` in the C source.
fn marker_line(marker: &str) -> u32 {
    let text = std::fs::read_to_string(source()).unwrap();
    let tag = format!("/* LINE:{marker} */");
    text.lines()
        .position(|l| l.contains(&tag))
        .expect("marker in source") as u32
        + 1
}

fn have_libc() -> bool {
    if Path::new(LIBC).exists() {
        return true;
    }
    assert!(
        !kernel_required(),
        "FTR_REQUIRE_KERNEL is set but {LIBC} is missing"
    );
    eprintln!("SKIPPED: {LIBC} missing (not x86_64 Debian)");
    false
}

/// `readelf -Ws` value of `name@@...` and the LOAD headers of `readelf -lW`,
/// turned into a file offset by hand: value - p_vaddr + p_offset.
fn readelf_offset(lib: &str, name: &str) -> u64 {
    let syms = Command::new("readelf")
        .args(["-Ws", lib])
        .output()
        .expect("readelf");
    let syms = String::from_utf8_lossy(&syms.stdout);
    let value = syms
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 8
                && (f[3] == "FUNC" || f[3] == "IFUNC")
                && f[7].split('@').next() == Some(name)
                && f[7].contains("@@"))
            .then(|| u64::from_str_radix(f[1], 16).unwrap())
        })
        .unwrap_or_else(|| panic!("readelf lists no {name}@@ in {lib}"));
    let ph = Command::new("readelf")
        .args(["-lW", lib])
        .output()
        .expect("readelf");
    let ph = String::from_utf8_lossy(&ph.stdout);
    let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
    ph.lines()
        .filter(|l| l.trim_start().starts_with("LOAD"))
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (off, vaddr, filesz) = (hex(f[1]), hex(f[2]), hex(f[4]));
            (value >= vaddr && value < vaddr + filesz).then(|| value - vaddr + off)
        })
        .expect("a LOAD segment holds the symbol")
}

/// perf probe's own uprobe definition (`-D`, a dry run), when perf is here.
fn perf_probe_offset(lib: &str, name: &str) -> Option<u64> {
    let out = Command::new("perf")
        .args(["probe", "-x", lib, "-D", name])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("p:"))?;
    let off = line.rsplit(':').next()?;
    u64::from_str_radix(off.trim().trim_start_matches("0x"), 16).ok()
}

#[test]
fn uprobe_offsets_of_libc_functions_match_readelf_and_perf_probe() {
    if !have_libc() {
        return;
    }
    for name in ["malloc", "free", "pthread_mutex_lock"] {
        let t = resolve_uprobe(&format!("libc:{name}"), &ProbeContext::default()).unwrap();
        let expected = readelf_offset(LIBC, name);
        assert_eq!(t.offset, expected, "{name}: ours vs readelf");
        if let Some(p) = perf_probe_offset(LIBC, name) {
            assert_eq!(t.offset, p, "{name}: ours vs perf probe -D");
        } else {
            eprintln!("perf probe unavailable: compared {name} with readelf only");
        }
        assert!(t
            .symbol
            .as_deref()
            .unwrap()
            .starts_with(&format!("{name}@@GLIBC_")));
        let by_path = resolve_uprobe(&format!("{LIBC}:{name}"), &ProbeContext::default()).unwrap();
        assert_eq!(by_path.offset, t.offset);
        let versioned = resolve_uprobe(
            &format!("c:{}", t.symbol.as_deref().unwrap()),
            &ProbeContext::default(),
        )
        .unwrap();
        assert_eq!(versioned.offset, t.offset);
        let plus = resolve_uprobe(&format!("libc:{name}+0x4"), &ProbeContext::default()).unwrap();
        assert_eq!(plus.offset, t.offset + 4);
    }
}

/// IFUNC symbols (strlen, memcpy) resolve to their resolver, flagged, at
/// the offset perf probe also picks (and warns about).
#[test]
fn ifunc_symbols_resolve_to_their_resolver_and_say_so() {
    if !have_libc() {
        return;
    }
    for name in ["strlen", "memcpy"] {
        let t = resolve_uprobe(&format!("libc:{name}"), &ProbeContext::default()).unwrap();
        assert!(t.ifunc, "{name} is an IFUNC in glibc");
        assert_eq!(t.offset, readelf_offset(LIBC, name), "{name}");
        if let Some(p) = perf_probe_offset(LIBC, name) {
            assert_eq!(t.offset, p, "{name}: ours vs perf probe -D");
        }
    }
    let malloc = resolve_uprobe("libc:malloc", &ProbeContext::default()).unwrap();
    assert!(!malloc.ifunc);
}

#[test]
fn missing_library_or_symbol_is_a_clear_error() {
    let e = resolve_uprobe("libnosuchlib_ftr:malloc", &ProbeContext::default()).unwrap_err();
    assert!(e.to_string().contains("libnosuchlib_ftr"), "{e}");
    if !have_libc() {
        return;
    }
    let e = resolve_uprobe("libc:no_such_symbol_ftr", &ProbeContext::default()).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("no_such_symbol_ftr") && msg.contains("libc.so.6"),
        "{msg}"
    );
}

#[test]
fn pie_and_fixed_executables_resolve_through_their_segments() {
    for pie in [true, false] {
        let prog = target_program(pie);
        let spec = format!("{}:leaf_function", prog.display());
        let t = resolve_uprobe(&spec, &ProbeContext::default()).unwrap();
        let expected = readelf_offset_any(&prog, "leaf_function");
        assert_eq!(t.offset, expected, "pie={pie}");
        let by_addr = resolve_uprobe(
            &format!("{}:{:#x}", prog.display(), t.vaddr),
            &ProbeContext::default(),
        )
        .unwrap();
        assert_eq!(by_addr.offset, t.offset);
    }
}

/// readelf-derived offset for a local (unversioned) symbol.
fn readelf_offset_any(bin: &Path, name: &str) -> u64 {
    let syms = Command::new("readelf")
        .arg("-Ws")
        .arg(bin)
        .output()
        .expect("readelf");
    let syms = String::from_utf8_lossy(&syms.stdout);
    let value = syms
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 8 && f[3] == "FUNC" && f[7] == name).then(|| u64::from_str_radix(f[1], 16).unwrap())
        })
        .expect("symbol in readelf");
    let ph = Command::new("readelf")
        .arg("-lW")
        .arg(bin)
        .output()
        .expect("readelf");
    let ph = String::from_utf8_lossy(&ph.stdout);
    let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
    ph.lines()
        .filter(|l| l.trim_start().starts_with("LOAD"))
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (off, vaddr, filesz) = (hex(f[1]), hex(f[2]), hex(f[4]));
            (value >= vaddr && value < vaddr + filesz).then(|| value - vaddr + off)
        })
        .unwrap()
}

fn read_line(out: &mut BufReader<ChildStdout>) -> String {
    let mut l = String::new();
    out.read_line(&mut l).unwrap();
    l.trim().to_owned()
}

#[test]
fn a_uprobe_at_our_malloc_offset_fires() {
    let Some(t) = live_tracing() else { return };
    if !have_libc() {
        return;
    }
    let target = resolve_uprobe("libc:malloc", &ProbeContext::default()).unwrap();
    let prog = target_program(true);
    let mut child = Command::new(&prog)
        .arg("malloc")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    assert_eq!(read_line(&mut out), "ready");
    let pid = child.id();

    let group = ProbeGroup::new(&t);
    group
        .add(&ProbeDef {
            kind: ProbeKind::Uprobe,
            ret: false,
            event: "malloc_entry".into(),
            target: target.uprobe_events_target(),
            args: vec!["size=%di:u64".into()],
        })
        .expect("defining the uprobe");
    let inst = Instance::create(&t).unwrap();
    // The probe fires in every process; only the child's hits are kept.
    inst.set_event_filter(group.name(), "malloc_entry", &format!("common_pid == {pid}"))
        .unwrap();
    inst.enable_event(group.name(), "malloc_entry").unwrap();
    child.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
    assert!(child.wait().unwrap().success());
    inst.set_tracing_on(false).unwrap();
    let trace = std::fs::read_to_string(inst.dir().join("trace")).unwrap();
    let hits: Vec<&str> = trace
        .lines()
        .filter(|l| l.contains("malloc_entry:") && l.contains(&format!("-{pid} ")))
        .collect();
    assert!(
        hits.len() >= 100,
        "expected >= 100 malloc hits of pid {pid}, got:\n{trace}"
    );
    assert!(
        hits.iter().any(|l| l.contains("size=64")),
        "{:?}",
        &hits[..3.min(hits.len())]
    );
    inst.remove().unwrap();
    group.remove().unwrap();
    assert_eq!(leftovers_of(t.root(), std::process::id()), Vec::<String>::new());
}

/// The kernel's own `func+0xoff/0xsize <addr>` stack lines (the
/// stacktrace, sym-offset and sym-addr trace options) against ours.
#[test]
fn kernel_stack_addresses_symbolize_like_the_kernel_does() {
    let Some(t) = live_tracing() else { return };
    let mut sym = Symbolizer::new();
    if sym.kernel_symbols().is_err() {
        let why = sym.kernel_symbols().unwrap_err().to_string();
        assert!(!kernel_required(), "FTR_REQUIRE_KERNEL is set but {why}");
        eprintln!("SKIPPED: {why}");
        return;
    }
    let inst = Instance::create(&t).unwrap();
    for o in ["stacktrace", "sym-offset", "sym-addr"] {
        inst.set_option(o, true).unwrap();
    }
    inst.enable_event("sched", "sched_process_exec").unwrap();
    assert!(Command::new("/bin/true").status().unwrap().success());
    inst.set_tracing_on(false).unwrap();
    let trace = std::fs::read_to_string(inst.dir().join("trace")).unwrap();
    inst.remove().unwrap();
    let mut compared = 0;
    for l in trace.lines().filter_map(|l| l.trim_start().strip_prefix("=> ")) {
        // "bprm_execve+0x4a5/0x510 <ffffffff816c5b85>"
        let (Some((what, addr)), true) = (l.split_once(" <"), l.ends_with('>')) else {
            continue;
        };
        let addr = u64::from_str_radix(addr.trim_end_matches('>'), 16).unwrap();
        let (name_off, _size) = what.rsplit_once('/').unwrap_or((what, ""));
        let (name, off) = name_off.rsplit_once("+0x").expect("sym-offset form");
        let off = u64::from_str_radix(off, 16).unwrap();
        let f = sym.kernel_frame(addr);
        // The kernel shows a module symbol as "func [mod]"; strip that.
        let name = name.split(' ').next().unwrap();
        assert_eq!((f.function.as_deref(), f.offset), (Some(name), off), "{l}");
        compared += 1;
    }
    assert!(compared >= 3, "no kernel stack in:\n{trace}");
}

/// Symbols from /proc/kallsyms itself plus offsets inside them.
#[test]
fn kallsyms_addresses_plus_offsets_resolve_to_their_symbol() {
    let Ok(k) = KernelSymbols::for_running_kernel() else {
        return;
    };
    if k.addresses_hidden() {
        assert!(
            !kernel_required(),
            "FTR_REQUIRE_KERNEL is set but kallsyms shows zeros"
        );
        eprintln!("SKIPPED: kallsyms shows zeros");
        return;
    }
    let text = std::fs::read_to_string("/proc/kallsyms").unwrap();
    let mut syms: Vec<(u64, String)> = text
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some((u64::from_str_radix(f.first()?, 16).ok()?, f.get(2)?.to_string()))
        })
        .collect();
    syms.sort_by_key(|s| s.0);
    let mut sym = Symbolizer::new();
    let step = (syms.len() / 500).max(1);
    let mut checked = 0;
    for w in syms.windows(2).step_by(step) {
        let ((a, _), (b, _)) = (&w[0], &w[1]);
        if b <= a {
            continue;
        }
        let probe = a + (b - a) / 2;
        let f = sym.kernel_frame(probe);
        // Any alias at that address is the same place.
        let names: Vec<&str> = syms.iter().filter(|s| s.0 == *a).map(|s| s.1.as_str()).collect();
        assert!(names.contains(&f.name()), "{probe:#x}: {f} not in {names:?}");
        assert_eq!(f.offset, probe - a);
        checked += 1;
    }
    assert!(checked > 100);
}

struct Running {
    child: Child,
    addrs: std::collections::HashMap<String, u64>,
}

fn run_target(pie: bool) -> Running {
    let mut child = Command::new(target_program(pie))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut addrs = std::collections::HashMap::new();
    loop {
        let l = read_line(&mut out);
        if l.starts_with("ready") || l.is_empty() {
            break;
        }
        let (name, a) = l.split_once(' ').unwrap();
        addrs.insert(
            name.to_owned(),
            u64::from_str_radix(a.trim_start_matches("0x"), 16).unwrap(),
        );
    }
    Running { child, addrs }
}

#[test]
fn a_c_programs_functions_lines_and_inlined_frames_symbolize() {
    for pie in [true, false] {
        let mut r = run_target(pie);
        let pid = r.child.id();
        let module = target_program(pie)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let mut s = Symbolizer::new();
        for f in ["leaf_function", "outer_function", "main"] {
            let frames = s.user_frames(pid, r.addrs[f]);
            let last = frames.last().unwrap();
            assert_eq!(last.function.as_deref(), Some(f), "pie={pie}: {frames:?}");
            assert_eq!(last.offset, 0);
            assert_eq!(last.to_string(), format!("{f}+0x0 [{module}]"));
            let loc = last.location.as_ref().expect("DWARF line");
            assert!(loc.file.ends_with("symbolize_target.c"), "{loc:?}");
        }
        let leaf = s.user_frames(pid, r.addrs["leaf_function"] + 4);
        assert!(leaf.last().unwrap().offset == 4);
        // The return address points after the call; the call itself is at -1.
        let frames = s.user_frames(pid, r.addrs["return_into_outer"] - 1);
        assert_eq!(frames.len(), 2, "pie={pie}: {frames:?}");
        assert_eq!(frames[0].function.as_deref(), Some("inlined_helper"));
        assert!(frames[0].inlined);
        assert_eq!(
            frames[0].location.as_ref().unwrap().line,
            marker_line("inlined_call")
        );
        assert_eq!(frames[1].function.as_deref(), Some("outer_function"));
        assert!(!frames[1].inlined);
        assert_eq!(
            frames[1].location.as_ref().unwrap().line,
            marker_line("outer_call")
        );
        assert_eq!(
            frames[0].to_string(),
            format!("inlined_helper [{module}] (inlined)")
        );
        // As a call chain: leaf, then the return address into outer_function.
        let ret = r.addrs["return_into_outer"];
        let stack = s.user_stack(pid, &[r.addrs["leaf_function"], ret]);
        let names: Vec<&str> = stack.iter().map(|f| f.name()).collect();
        assert_eq!(
            names,
            ["leaf_function", "inlined_helper", "outer_function"],
            "pie={pie}"
        );
        assert_eq!(stack[2].addr, ret);
        assert_eq!(stack[2].offset, ret - r.addrs["outer_function"]);
        // Every address of the program resolves with one load of each file.
        let loaded = s.files_loaded();
        for _ in 0..1000 {
            s.user_frames(pid, r.addrs["main"]);
        }
        assert_eq!(s.files_loaded(), loaded);
        // A target without a binary is in the pid's executable.
        let ctx = ProbeContext {
            pid: Some(pid),
            default_binary: None,
        };
        let t = resolve_uprobe("leaf_function+0x4", &ctx).unwrap();
        let whole = resolve_uprobe(
            &format!("{}:leaf_function", target_program(pie).display()),
            &ProbeContext::default(),
        )
        .unwrap();
        assert_eq!(t.offset, whole.offset + 4);
        assert_eq!(t.path, target_program(pie));
        drop(r.child.stdin.take());
        r.child.wait().unwrap();
    }
}

#[test]
fn libc_addresses_in_a_live_process_name_libc_functions() {
    if !have_libc() {
        return;
    }
    let mut r = run_target(true);
    let pid = r.child.id();
    let malloc = resolve_uprobe(
        "libc:malloc",
        &ProbeContext {
            pid: Some(pid),
            default_binary: None,
        },
    )
    .unwrap();
    let mut s = Symbolizer::new();
    let maps = ftr_symbols::read_maps(pid).unwrap();
    let m = maps
        .iter()
        .find(|m| {
            matches!(&m.backing, ftr_symbols::MapBacking::File { path, .. } if path.to_string_lossy().contains("libc.so.6"))
                && m.offset <= malloc.offset
                && malloc.offset < m.offset + (m.end - m.start)
        })
        .expect("libc mapped over malloc");
    let addr = m.start + malloc.offset - m.offset + 0x10;
    let frames = s.user_frames(pid, addr);
    let f = frames.last().unwrap();
    assert_eq!(f.to_string(), "malloc+0x10 [libc.so.6]", "{frames:?}");
    // With libc6-dbg installed, the line comes from its build-id debug file.
    let id = ftr_symbols::ElfFile::open(Path::new(LIBC))
        .unwrap()
        .build_id
        .unwrap();
    if ftr_symbols::build_id_path(Path::new(ftr_symbols::DEBUG_ROOT), &id).exists() {
        let loc = f.location.as_ref().expect("line info from the libc debug file");
        assert!(loc.file.to_string_lossy().ends_with("malloc.c"), "{loc:?}");
    }
    drop(r.child.stdin.take());
    r.child.wait().unwrap();
}

/// A stripped copy of the program whose DWARF and symbols live in a
/// separate file, found by build-id and, failing that, by .gnu_debuglink.
#[test]
fn separate_debug_files_are_found_by_build_id_and_debuglink() {
    let prog = target_program(false);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("debugfiles-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    let debug = dir.join("bin/symtarget.debug");
    let stripped = dir.join("bin/symtarget");
    let run = |args: &[&std::ffi::OsStr]| {
        let st = Command::new("objcopy").args(args).status().expect("objcopy");
        assert!(st.success(), "objcopy {args:?}");
    };
    run(&["--only-keep-debug".as_ref(), prog.as_os_str(), debug.as_os_str()]);
    run(&[
        "--strip-all".as_ref(),
        "--add-gnu-debuglink".as_ref(),
        debug.as_os_str(),
        prog.as_os_str(),
        stripped.as_os_str(),
    ]);
    let elf = ftr_symbols::ElfFile::open(&stripped).unwrap();
    assert!(!elf.has_symtab && !elf.has_dwarf);
    let vaddr = ftr_symbols::ElfFile::open(&prog)
        .unwrap()
        .find_function("outer_function")
        .unwrap()
        .address;
    let check = |debug_root: &Path, expect_debug: &Path| {
        let m = ftr_symbols::Module::open(&stripped, &stripped, debug_root).unwrap();
        assert_eq!(m.debug_path.as_deref(), Some(expect_debug));
        let frames = m.frames(vaddr, vaddr, 0);
        let f = frames.last().unwrap();
        assert_eq!(f.function.as_deref(), Some("outer_function"), "{frames:?}");
        assert!(f.location.is_some(), "{frames:?}");
    };
    // Through the debuglink, next to the binary.
    check(&dir.join("no-such-root"), &debug);
    // Through the build-id, under a debug root.
    let root = dir.join("debugroot");
    let by_id = ftr_symbols::build_id_path(&root, elf.build_id.as_ref().expect("cc gives a build-id"));
    std::fs::create_dir_all(by_id.parent().unwrap()).unwrap();
    std::fs::rename(&debug, &by_id).unwrap();
    check(&root, &by_id);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A deleted executable is read through /proc/PID/map_files, and JIT
/// code in anonymous memory is named by /tmp/perf-PID.map.
#[test]
fn deleted_binaries_and_perf_maps_symbolize() {
    let copy =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("symtarget-deleted-{}", std::process::id()));
    std::fs::copy(target_program(true), &copy).unwrap();
    let mut child = Command::new(&copy)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let leaf = u64::from_str_radix(read_line(&mut out).trim_start_matches("leaf_function 0x"), 16).unwrap();
    while !read_line(&mut out).starts_with("ready") {}
    std::fs::remove_file(&copy).unwrap();
    let pid = child.id();
    let maps = ftr_symbols::read_maps(pid).unwrap();
    assert!(maps
        .iter()
        .any(|m| matches!(&m.backing, ftr_symbols::MapBacking::File { deleted: true, .. })));
    let mut s = Symbolizer::new();
    let frames = s.user_frames(pid, leaf);
    assert_eq!(
        frames.last().unwrap().function.as_deref(),
        Some("leaf_function"),
        "{frames:?}"
    );

    let anon = maps
        .iter()
        .find(|m| matches!(m.backing, ftr_symbols::MapBacking::Anonymous(_)) && m.end - m.start >= 0x100)
        .expect("an anonymous mapping");
    let perf_map = ftr_symbols::PerfMap::path_for(pid);
    std::fs::write(
        &perf_map,
        format!("{:x} 40 jitted_function[js]\n", anon.start + 0x10),
    )
    .unwrap();
    let frames = s.user_frames(pid, anon.start + 0x18);
    std::fs::remove_file(&perf_map).unwrap();
    assert_eq!(
        frames[0].to_string(),
        format!("jitted_function[js]+0x8 [perf-{pid}.map]")
    );
    let frames = s.user_frames(pid, anon.start + 0x80);
    assert_eq!(frames[0].reason, Some(ftr_symbols::Reason::Anonymous));
    drop(child.stdin.take());
    child.wait().unwrap();
}
