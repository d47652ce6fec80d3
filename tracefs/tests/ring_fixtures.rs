//! The sub-buffer decoder on real `trace_pipe_raw` pages:
//!
//! - google/schedviz captures from an x86_64 kernel (inferred 4.8–4.13) and
//!   one page from a 32-bit kernel, extracted from
//!   `fixtures/kernel-data/old-kernels-public.tar.gz` (see
//!   `old-kernels-INDEX.md`);
//! - pages captured on the 6.18 development host, in `fixtures/pages/`
//!   (see the README there).
//!
//! Layouts and fields come from each capture's own `header_page` and format
//! files, through [`ftr_tracefs::format`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use ftr_tracefs::format::{parse_header_page, FieldRef, Schema};
use ftr_tracefs::ring::{Missed, Page, PageLayout, Pages};
use ftr_tracefs::Endian;

/// PID_MAX_LIMIT on 64-bit kernels.
const PID_MAX_LIMIT: i64 = 4_194_304;
/// MAX_PRIO - 1.
const MAX_PRIO: i64 = 139;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// A scratch directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "ftr-ring-fixtures-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Extracts `members` of a .tar.gz into `dir` with the `tar` command.
fn untar(archive: &Path, dir: &Path, members: &[&str]) {
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(archive)
        .arg("-C")
        .arg(dir)
        .args(members)
        .status()
        .expect("run tar");
    assert!(status.success(), "tar -xzf {} failed", archive.display());
}

const SCHEDVIZ: &str = "ftr-old-kernels/google+schedviz";

/// Extracts the schedviz files from the old-kernels archive, plus the
/// `traces/cpu0` member of the nested server test tarball.
fn schedviz() -> (TempDir, PathBuf) {
    let tmp = TempDir::new("schedviz");
    untar(
        &fixtures().join("kernel-data/old-kernels-public.tar.gz"),
        &tmp.0,
        &[SCHEDVIZ],
    );
    let root = tmp.0.join(SCHEDVIZ);
    let server = root.join("server/testdata");
    untar(&server.join("test.tar.gz"), &server, &["traces/cpu0"]);
    (tmp, root)
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn read_text(path: &Path) -> String {
    String::from_utf8(read(path)).unwrap()
}

/// The schema in the format file at `path`.
fn schema(system: &str, path: &Path) -> Schema {
    Schema::parse(system, &read_text(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Field accessors resolved by name, panicking on records too short for them.
struct Fields<'s>(&'s Schema, Endian);

impl Fields<'_> {
    fn get(&self, name: &str) -> FieldRef {
        self.0
            .field(name)
            .unwrap_or_else(|| panic!("{} has no {name}", self.0.name))
    }

    fn int(&self, payload: &[u8], name: &str) -> i64 {
        self.get(name)
            .i64(payload, self.1)
            .unwrap_or_else(|| panic!("{name} out of bounds"))
    }

    /// A `char[N]` or `__data_loc char[]` field up to its NUL.
    fn text<'a>(&self, payload: &'a [u8], name: &str) -> &'a [u8] {
        let raw = self
            .get(name)
            .bytes(payload, self.1)
            .unwrap_or_else(|| panic!("{name} out of bounds"));
        let end = raw
            .iter()
            .position(|&b| b == 0)
            .unwrap_or_else(|| panic!("{name} has no NUL"));
        &raw[..end]
    }
}

fn assert_comm(comm: &[u8], what: &str) {
    assert!(
        !comm.is_empty() && comm.iter().all(|&b| (0x20..0x7f).contains(&b)),
        "{what} = {:?} is not printable ASCII",
        String::from_utf8_lossy(comm)
    );
}

/// Checks one sched_switch payload against the format's field offsets.
fn check_sched_switch(f: &Fields<'_>, payload: &[u8]) {
    for pid in ["prev_pid", "next_pid"] {
        let v = f.int(payload, pid);
        assert!((0..PID_MAX_LIMIT).contains(&v), "{pid} = {v}");
    }
    for prio in ["prev_prio", "next_prio"] {
        let v = f.int(payload, prio);
        assert!((0..=MAX_PRIO).contains(&v), "{prio} = {v}");
    }
    assert_comm(f.text(payload, "prev_comm"), "prev_comm");
    assert_comm(f.text(payload, "next_comm"), "next_comm");
}

/// What decoding one CPU's dump found.
#[derive(Debug, Default)]
struct Summary {
    pages: usize,
    /// Events per `common_type`.
    by_type: BTreeMap<u16, usize>,
    /// `Missed` of each page that reported a loss, by page index.
    missed: Vec<(usize, Missed)>,
    first_ts: Option<u64>,
    last_ts: u64,
}

/// Decodes every page of a per-CPU dump, checking that timestamps never go
/// backwards (within a page and across pages) and calling `each` on every
/// event.
fn decode_cpu(bytes: &[u8], layout: &PageLayout, mut each: impl FnMut(u16, &[u8])) -> Summary {
    assert!(!bytes.is_empty());
    let mut s = Summary::default();
    let mut last = 0u64;
    for (i, page) in Pages::new(bytes, layout).enumerate() {
        let page = page.unwrap_or_else(|e| panic!("page {i}: {e}"));
        s.pages += 1;
        if page.missed() != Missed::None {
            s.missed.push((i, page.missed()));
        }
        assert!(
            page.timestamp() >= last,
            "page {i} starts before the previous one"
        );
        for event in page.events() {
            let event = event.unwrap_or_else(|e| panic!("page {i}: {e}"));
            assert!(event.ts >= last, "page {i}: ts {} < {last}", event.ts);
            last = event.ts;
            s.first_ts.get_or_insert(event.ts);
            let id = event.common_type(layout.endian).expect("payload has common_type");
            *s.by_type.entry(id).or_default() += 1;
            each(id, event.payload);
        }
    }
    s.last_ts = last;
    s
}

#[test]
fn schedviz_x86_64_pages() {
    let (_tmp, root) = schedviz();
    let formats = root.join("server/testdata/test.tar.gz.extracted/formats");
    let e = Endian::Little;
    let layout = parse_header_page(&read_text(&formats.join("header_page")), e).unwrap();
    assert_eq!(layout, PageLayout::default_64(e));
    let switch = schema("sched", &formats.join("sched/sched_switch/format"));
    let switch_fields = Fields(&switch, e);
    let mut known: Vec<u16> = [
        "sched_switch",
        "sched_wakeup",
        "sched_wakeup_new",
        "sched_migrate_task",
    ]
    .iter()
    .map(|ev| schema("sched", &formats.join("sched").join(ev).join("format")).id)
    .collect();
    known.sort_unstable();
    assert_eq!(known, [296, 297, 298, 299]);

    for (name, path, pages) in [
        ("server cpu0", root.join("server/testdata/traces/cpu0"), 404),
        (
            "traceparser cpu0",
            root.join("traceparser/testdata/input/cpu0"),
            21,
        ),
    ] {
        let mut switches = 0;
        let s = decode_cpu(&read(&path), &layout, |id, payload| {
            if id == switch.id {
                check_sched_switch(&switch_fields, payload);
                switches += 1;
            }
        });
        eprintln!("{name}: {s:?}");
        assert_eq!(s.pages, pages, "{name}");
        assert!(switches > 0, "{name}: no sched_switch");
        assert!(
            s.by_type.keys().all(|id| known.contains(id)),
            "{name}: {:?}",
            s.by_type
        );
    }
}

#[test]
fn schedviz_32_bit_page() {
    let (_tmp, root) = schedviz();
    let bytes = read(&root.join("traceparser/testdata/input/cpu0-32"));
    assert_eq!(bytes.len(), 4096);
    // A 32-bit kernel: 4-byte commit, data at offset 12.
    let layout = PageLayout::default_32(Endian::Little);
    let page = Page::parse(&bytes, &layout).unwrap();
    assert_eq!(page.data_len(), 0xfd8);
    let s = decode_cpu(&bytes, &layout, |_, _| {});
    eprintln!("cpu0-32: {s:?}");
    // Its formats exist only as Go structs in schedviz's
    // traceparser/trace_parser_test.go: IDs 220..=223.
    assert!(s.by_type.values().sum::<usize>() > 10);
    assert!(
        s.by_type.keys().all(|id| (220..=223).contains(id)),
        "{:?}",
        s.by_type
    );
}

/// Seconds with 6 decimals, as in `per_cpu/cpuN/stats`, in microseconds.
fn stats_usecs(stats: &str, key: &str) -> u64 {
    let line = stats.lines().find_map(|l| l.strip_prefix(key)).unwrap();
    let (s, us) = line.trim().split_once('.').unwrap();
    s.parse::<u64>().unwrap() * 1_000_000 + us.parse::<u64>().unwrap()
}

fn stats_count(stats: &str, key: &str) -> u64 {
    let line = stats.lines().find_map(|l| l.strip_prefix(key)).unwrap();
    line.trim().parse().unwrap()
}

#[test]
fn host_6_18_pages() {
    let dir = fixtures().join("pages/host-6.18");
    // Captured on x86_64.
    let e = Endian::Little;
    let layout = parse_header_page(&read_text(&dir.join("header_page")), e).unwrap();
    assert_eq!(layout, PageLayout::default_64(e));
    let fmt = |system: &str, name: &str| schema(system, &dir.join(format!("{name}.format")));
    let (switch, wakeup, exec, print) = (
        fmt("sched", "sched_switch"),
        fmt("sched", "sched_wakeup"),
        fmt("sched", "sched_process_exec"),
        fmt("ftrace", "print"),
    );
    let (switch_f, wakeup_f, exec_f, print_f) = (
        Fields(&switch, e),
        Fields(&wakeup, e),
        Fields(&exec, e),
        Fields(&print, e),
    );

    let mut totals: BTreeMap<u16, usize> = BTreeMap::new();
    let mut markers = 0;
    let mut true_execs = 0;
    for cpu in 0..2 {
        let bytes = read(&dir.join(format!("cpu{cpu}.raw")));
        let s = decode_cpu(&bytes, &layout, |id, payload| {
            if id == switch.id {
                check_sched_switch(&switch_f, payload);
            } else if id == wakeup.id {
                assert_comm(wakeup_f.text(payload, "comm"), "comm");
                let pid = wakeup_f.int(payload, "pid");
                assert!((1..PID_MAX_LIMIT).contains(&pid));
                let cpu = wakeup_f.int(payload, "target_cpu");
                assert!((0..2).contains(&cpu), "target_cpu {cpu}");
            } else if id == exec.id {
                // A __data_loc string, stored after the fixed fields.
                let name = exec_f.text(payload, "filename");
                assert!(name.starts_with(b"/"));
                assert_comm(name, "filename");
                if name == b"/bin/true" {
                    true_execs += 1;
                }
            } else if id == print.id {
                // trace_marker writes: "ftr-capture marker N " then N 'x'
                // and a newline, so the records grow past 112 bytes of
                // payload into the type_len == 0 form.
                let text = std::str::from_utf8(print_f.text(payload, "buf")).unwrap();
                let (n, pad) = text
                    .strip_prefix("ftr-capture marker ")
                    .and_then(|t| t.split_once(' '))
                    .unwrap_or_else(|| panic!("marker {text:?}"));
                let n: usize = n.parse().unwrap();
                assert_eq!(pad, format!("{}\n", "x".repeat(n)), "{text:?}");
                markers += 1;
            } else {
                panic!("unexpected common_type {id}");
            }
        });
        eprintln!("host cpu{cpu}: {s:?}");

        // The kernel's own view of the same buffer, read just before it.
        let stats = read_text(&dir.join(format!("cpu{cpu}.stats")));
        let oldest = stats_usecs(&stats, "oldest event ts:");
        // ns2usecs() in kernel/trace/trace.c rounds to the nearest µs.
        let usecs = |ns: u64| (ns + 500) / 1000;
        assert_eq!(usecs(s.first_ts.unwrap()), oldest, "cpu{cpu}: first event time");
        assert!(usecs(s.last_ts) <= stats_usecs(&stats, "now ts:"));
        // The buffer was overrun: the first page carries the stored count.
        let overrun = stats_count(&stats, "overrun:");
        assert!(overrun > 0);
        assert_eq!(s.missed, [(0, Missed::Count(overrun))], "cpu{cpu}");
        let events: usize = s.by_type.values().sum();
        assert_eq!(
            events as u64,
            stats_count(&stats, "entries:"),
            "cpu{cpu}: entries"
        );
        for (id, n) in s.by_type {
            *totals.entry(id).or_default() += n;
        }
    }
    eprintln!("host totals by common_type: {totals:?}");
    assert!(totals[&switch.id] >= 1000, "{totals:?}");
    assert!(totals[&wakeup.id] > 0);
    assert!(totals[&exec.id] > 0);
    assert!(true_execs > 0, "no exec of /bin/true survived");
    assert!(markers > 100);
}
