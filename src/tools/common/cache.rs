//! What cachestat and cachetop share: the three ways to watch the page
//! cache (kprobes, the function tracer, tracepoints), the choice between
//! them, the decoding of their events into BCC's four counters, and BCC's
//! arithmetic on those counters.
//!
//! BCC counts four kernel functions: `mark_page_accessed` (mpa, now
//! `folio_mark_accessed`), `add_to_page_cache_lru` (apcl, now
//! `filemap_add_folio`), `account_page_dirtied` (apd, now
//! `folio_account_dirtied`, often inlined, else the `writeback_dirty_folio`
//! tracepoint that sits in it) and `mark_buffer_dirty` (mbd). The
//! tracepoint method fills the same counters from the filemap tracepoints
//! (see docs/tools/cachestat.md for what that over- and under-counts).

mod decode;

pub use decode::CacheDecoder;

use super::end_session;
use super::interval::{run_intervals, Aggregate, IntervalArgs};
use super::Global;
use crate::pipeline::plan::{alt, need, Alternative, KernelEnv, Mechanism as M, Need, ProbePlan, Resolution};
use crate::pipeline::session::{Session, SessionConfig};
use crate::pipeline::stop::Stop;
use anyhow::{anyhow, Context, Result};
use ftr_symbols::KernelSymbols;
use ftr_tracefs::{EventName, ProbeDef, ProbeGroup, ProbeKind, TracingDir};
use std::io::{self, BufWriter, Write};

/// How the page cache is watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    /// kprobes on the four functions (BCC's method).
    Kprobe,
    /// The function tracer filtered to the same functions.
    Function,
    /// The filemap and writeback tracepoints only.
    Tracepoint,
}

impl Method {
    /// Every method, best first.
    pub const ALL: [Method; 3] = [Method::Kprobe, Method::Function, Method::Tracepoint];

    /// The name shown in headers and `-v` lines.
    pub fn name(self) -> &'static str {
        match self {
            Method::Kprobe => "kprobes",
            Method::Function => "function tracer",
            Method::Tracepoint => "tracepoints",
        }
    }
}

/// Which of BCC's four counters an event feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// mpa: a page cache page was accessed.
    Accessed,
    /// apcl: a page was added to the page cache.
    Added,
    /// apd: a page was dirtied.
    Dirtied,
    /// mbd: a buffer was dirtied.
    BufferDirtied,
}

/// The functions of each role, newest name first (BCC's order).
const ACCESSED: &[&str] = &["folio_mark_accessed", "mark_page_accessed"];
const ADDED: &[&str] = &["filemap_add_folio", "add_to_page_cache_lru"];
const DIRTIED: &[&str] = &["folio_account_dirtied", "account_page_dirtied"];
const BUFFER_DIRTIED: &str = "mark_buffer_dirty";
const DIRTY_TRACEPOINTS: &[&str] = &[
    "writeback:writeback_dirty_folio",
    "writeback:writeback_dirty_page",
];
const ADD_TP: &str = "filemap:mm_filemap_add_to_page_cache";
const GET_PAGES_TP: &str = "filemap:mm_filemap_get_pages";
/// Used by the tracepoint method when this kernel has them (6.1 lacks them).
const OPTIONAL_TPS: &[&str] = &["filemap:mm_filemap_fault", "filemap:mm_filemap_map_pages"];

fn role_of_function(name: &str) -> Option<Role> {
    if ACCESSED.contains(&name) {
        Some(Role::Accessed)
    } else if ADDED.contains(&name) {
        Some(Role::Added)
    } else if DIRTIED.contains(&name) {
        Some(Role::Dirtied)
    } else if name == BUFFER_DIRTIED {
        Some(Role::BufferDirtied)
    } else {
        None
    }
}

fn function_alts(method: Method, names: &[&'static str]) -> Vec<Alternative> {
    names
        .iter()
        .map(|&f| match method {
            Method::Function => alt(method.name(), vec![M::TracedFunction(f)]),
            _ => alt(method.name(), vec![M::Kprobe(f)]),
        })
        .collect()
}

/// Named by the source itself, so `ftr doctor` shows which one (6.1
/// inlines folio_account_dirtied: there it is the tracepoint).
fn dirty_need(method: Method) -> Need {
    let mut alts = match method {
        Method::Tracepoint => Vec::new(),
        m => function_alts(m, DIRTIED)
            .into_iter()
            .zip(DIRTIED)
            .map(|(a, f)| Alternative { name: f, ..a })
            .collect(),
    };
    alts.extend(
        DIRTY_TRACEPOINTS
            .iter()
            .map(|&t| alt(t.split_once(':').map_or(t, |(_, n)| n), vec![M::Tracepoint(t)])),
    );
    need("dirtied pages", alts)
}

/// What `method` needs, one need per counter, each name generation an
/// alternative (BCC picks each function's name on its own too).
pub fn method_plan(method: Method) -> ProbePlan {
    let needs = match method {
        Method::Kprobe | Method::Function => vec![
            need("page accesses", function_alts(method, ACCESSED)),
            need("page additions", function_alts(method, ADDED)),
            need("buffer dirties", function_alts(method, &[BUFFER_DIRTIED])),
            dirty_need(method),
        ],
        Method::Tracepoint => vec![
            need(
                "page accesses",
                vec![alt("tracepoints", vec![M::Tracepoint(GET_PAGES_TP)])],
            ),
            need(
                "page additions",
                vec![alt("tracepoints", vec![M::Tracepoint(ADD_TP)])],
            ),
            dirty_need(method),
        ],
    };
    ProbePlan { needs }
}

/// The plan `ftr doctor` shows for cachestat and cachetop: the methods in
/// the order the tools try them, as alternatives of one need, and the
/// source of dirtied pages.
pub fn catalog_plan() -> ProbePlan {
    let mut page_cache = Vec::new();
    for (acc, add) in ACCESSED.iter().zip(ADDED) {
        page_cache.push(alt(
            "kprobes",
            vec![M::Kprobe(acc), M::Kprobe(add), M::Kprobe(BUFFER_DIRTIED)],
        ));
    }
    for (acc, add) in ACCESSED.iter().zip(ADDED) {
        page_cache.push(alt(
            "function tracer",
            vec![
                M::TracedFunction(acc),
                M::TracedFunction(add),
                M::TracedFunction(BUFFER_DIRTIED),
            ],
        ));
    }
    page_cache.push(alt(
        "tracepoints",
        vec![M::Tracepoint(GET_PAGES_TP), M::Tracepoint(ADD_TP)],
    ));
    ProbePlan {
        needs: vec![need("page cache", page_cache), dirty_need(Method::Kprobe)],
    }
}

/// BCC's four counters, in pages (tracepoint method) or calls (the others).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// mpa.
    pub accessed: u64,
    /// apcl.
    pub added: u64,
    /// apd.
    pub dirtied: u64,
    /// mbd.
    pub buffer_dirtied: u64,
}

impl Counts {
    /// Adds `n` to the counter of `role`.
    pub fn add(&mut self, role: Role, n: u64) {
        match role {
            Role::Accessed => self.accessed += n,
            Role::Added => self.added += n,
            Role::Dirtied => self.dirtied += n,
            Role::BufferDirtied => self.buffer_dirtied += n,
        }
    }

    /// Sums two sets of counters.
    pub fn merge(&mut self, o: &Counts) {
        self.accessed += o.accessed;
        self.added += o.added;
        self.dirtied += o.dirtied;
        self.buffer_dirtied += o.buffer_dirtied;
    }

    /// BCC cachestat's arithmetic: total = mpa - mbd, misses = apcl - apd
    /// (pages added by writes are not read misses), hits = total - misses,
    /// each clamped at 0; when misses exceed total (readahead added more
    /// than was read) every access is a miss.
    pub fn derive(&self) -> Derived {
        let total = self.accessed.saturating_sub(self.buffer_dirtied);
        let mut misses = self.added.saturating_sub(self.dirtied);
        let hits = match total.checked_sub(misses) {
            Some(h) => h,
            None => {
                misses = total;
                0
            }
        };
        Derived {
            hits,
            misses,
            dirties: self.dirtied,
            ratio: if total > 0 {
                hits as f64 / total as f64
            } else {
                0.0
            },
        }
    }
}

/// What cachestat prints.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Derived {
    /// Accesses that found the page cached.
    pub hits: u64,
    /// Accesses that had to add a page.
    pub misses: u64,
    /// Pages dirtied.
    pub dirties: u64,
    /// hits / (hits + misses), 0 when there were none.
    pub ratio: f64,
}

/// Buffers and Cached of /proc/meminfo, in KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemInfo {
    /// `Buffers:`.
    pub buffers_kb: u64,
    /// `Cached:`.
    pub cached_kb: u64,
}

/// The file BUFFERS_MB and CACHED_MB come from.
pub const MEMINFO: &str = "/proc/meminfo";

impl MemInfo {
    /// Parses /proc/meminfo text; missing lines read as 0.
    pub fn parse(text: &str) -> MemInfo {
        let mut m = MemInfo::default();
        for l in text.lines() {
            let Some((k, v)) = l.split_once(':') else { continue };
            let v = v
                .split_whitespace()
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            match k {
                "Buffers" => m.buffers_kb = v,
                "Cached" => m.cached_kb = v,
                _ => {}
            }
        }
        m
    }

    /// The running kernel's, or zeros when /proc/meminfo cannot be read.
    pub fn now() -> MemInfo {
        MemInfo::parse(&std::fs::read_to_string(MEMINFO).unwrap_or_default())
    }
}

/// Keeps the events of one process (all its threads); ftr filters here
/// rather than in the kernel because `common_pid` is a thread id.
pub struct ProcessFilter {
    pid: Option<i32>,
    tgids: crate::pipeline::tasks::Tgids,
}

impl ProcessFilter {
    /// Keeps everything when `pid` is None.
    pub fn new(pid: Option<i32>) -> ProcessFilter {
        ProcessFilter {
            pid,
            tgids: crate::pipeline::tasks::Tgids::new(),
        }
    }

    /// The process of thread `tid` when it passes the filter.
    pub fn process_of(&mut self, tid: i32) -> Option<i32> {
        let pid = self.tgids.get(tid).unwrap_or(tid);
        match self.pid {
            Some(p) if p != pid => None,
            _ => Some(pid),
        }
    }
}

/// A started page cache session: the method in use, what it traces, and
/// the probes it owns (removed after the session).
pub struct CacheSession {
    session: Session,
    /// The method in use.
    pub method: Method,
    /// What is traced, for the header line ("folio_mark_accessed, ...").
    pub traced: Vec<String>,
    probes: Option<ProbeGroup>,
}

impl CacheSession {
    /// Says on stderr what is traced and how, as the tools' first line.
    pub fn announce(&self) {
        eprintln!(
            "Tracing the page cache through {} ({})... Hit Ctrl-C to end.",
            self.method.name(),
            self.traced.join(", ")
        );
    }

    /// Prints `header` (if any) to stdout, runs the interval loop into
    /// `agg`, then removes the instance and the probes. Returns the run's
    /// error first, then the clean-up's, then a failed flush.
    pub fn run_to_stdout(
        self,
        stop: &Stop,
        iv: &IntervalArgs,
        header: Option<&str>,
        agg: &mut dyn Aggregate,
    ) -> Result<()> {
        let CacheSession {
            mut session, probes, ..
        } = self;
        let stdout = io::stdout();
        let mut out = BufWriter::new(stdout.lock());
        let stats = match header {
            Some(h) => writeln!(out, "{h}").map_err(anyhow::Error::from),
            None => Ok(()),
        }
        .and_then(|()| run_intervals(&mut session, stop, iv, &mut out, agg));
        let flushed = out.flush();
        let ended = end_session(session, stats);
        let removed = probes.map_or(Ok(()), |p| p.remove().context("removing the kprobes"));
        ended?;
        removed?;
        flushed?;
        Ok(())
    }
}

fn chosen_mechanisms(res: &Resolution) -> Vec<M> {
    res.chosen
        .iter()
        .flat_map(|(_, a, _)| a.uses.iter().cloned())
        .collect()
}

/// Starts watching the page cache with `forced`, else with the first
/// method that resolves and starts here. Fails with every method's reason.
/// With `-v`, says why earlier methods were skipped.
/// Returns the session and the decoder for its events.
pub fn start(
    g: &Global,
    forced: Option<Method>,
    buffer_kb: Option<u64>,
) -> Result<(CacheSession, CacheDecoder)> {
    let t = g.tracing_for_writing()?;
    let env = KernelEnv::new(Ok(t.clone()));
    let methods: Vec<Method> = forced.map_or(Method::ALL.to_vec(), |m| vec![m]);
    let mut skipped = Vec::new();
    for m in methods {
        let res = method_plan(m).resolve(&env);
        if !res.ok() {
            skipped.push(unmet_reasons(m, &res));
            continue;
        }
        match start_method(&t, m, &res, buffer_kb) {
            Ok((cs, decoder)) => {
                if g.verbose > 0 {
                    for s in &skipped {
                        eprintln!("ftr: skipped {s}");
                    }
                    for (what, a, why) in &res.chosen {
                        for w in why {
                            eprintln!("ftr: {what}: skipped {w}");
                        }
                        let uses: Vec<String> = a.uses.iter().map(|u| u.to_string()).collect();
                        eprintln!("ftr: {what}: using {}", uses.join(", "));
                    }
                }
                if let Some(n) = &cs.session.note {
                    eprintln!("ftr: {n}");
                }
                return Ok((cs, decoder));
            }
            Err(e) => skipped.push(format!("{}: {e:#}", m.name())),
        }
    }
    Err(anyhow!(
        "cannot watch the page cache on this kernel ({})",
        skipped.join("; ")
    ))
}

/// "kprobes: kprobe_events missing": each distinct reason once, without
/// the alternative names the plan repeats.
fn unmet_reasons(m: Method, res: &Resolution) -> String {
    let mut why: Vec<String> = Vec::new();
    for (_, reasons) in &res.unmet {
        for r in reasons {
            let r = r.split_once(": ").map_or(r.as_str(), |(_, w)| w).to_owned();
            if !why.contains(&r) {
                why.push(r);
            }
        }
    }
    format!("{}: {}", m.name(), why.join(", "))
}

fn start_method(
    t: &TracingDir,
    method: Method,
    res: &Resolution,
    buffer_kb: Option<u64>,
) -> Result<(CacheSession, CacheDecoder)> {
    let mut cfg = SessionConfig {
        buffer_kb,
        ..Default::default()
    };
    let mut kinds = Vec::new();
    let mut traced = Vec::new();
    let mut probes = None;
    let mut functions = Vec::new();
    for m in chosen_mechanisms(res) {
        match m {
            M::Kprobe(f) => {
                let group = probes.get_or_insert_with(|| ProbeGroup::new(t));
                group
                    .add(&ProbeDef {
                        kind: ProbeKind::Kprobe,
                        ret: false,
                        event: f.to_owned(),
                        target: f.to_owned(),
                        args: Vec::new(),
                    })
                    .with_context(|| format!("defining a kprobe on {f}"))?;
                let ev = EventName {
                    system: group.name().to_owned(),
                    name: f.to_owned(),
                };
                cfg.events.push(ev.clone());
                kinds.push((ev, role_of_function(f).expect("planned functions have roles")));
                traced.push(f.to_owned());
            }
            M::TracedFunction(f) => {
                functions.push(f);
                traced.push(f.to_owned());
            }
            M::Tracepoint(tp) => {
                let ev = EventName::parse(tp).expect("planned tracepoints parse");
                if method != Method::Tracepoint {
                    kinds.push((ev.clone(), Role::Dirtied));
                }
                cfg.events.push(ev);
                traced.push(tp.to_owned());
            }
            _ => {}
        }
    }
    if method == Method::Tracepoint {
        for tp in OPTIONAL_TPS {
            let ev = EventName::parse(tp).expect("constant");
            if t.events_dir()
                .join(&ev.system)
                .join(&ev.name)
                .join("format")
                .is_file()
            {
                cfg.events.push(ev);
                traced.push((*tp).to_owned());
            }
        }
    }
    let mut symbols = KernelSymbols::default();
    if !functions.is_empty() {
        // Only the traced functions: enough to tell which of them an
        // address at its entry is, and a fraction of the whole table.
        let text = std::fs::read_to_string(ftr_symbols::KALLSYMS).context("reading /proc/kallsyms")?;
        symbols = KernelSymbols::from_symbols(
            ftr_symbols::parse_kallsyms(&text)
                .into_iter()
                .filter(|s| s.is_text() && functions.contains(&s.name.as_str()))
                .collect(),
        );
        if symbols.is_empty() {
            anyhow::bail!(
                "/proc/kallsyms shows no addresses (kptr_restrict): function records cannot be told apart"
            );
        }
        cfg.decode_only.push(EventName {
            system: "ftrace".into(),
            name: "function".into(),
        });
        // Session::start narrows set_ftrace_filter before selecting the
        // tracer: unfiltered, `function` patches every kernel function.
        cfg.ftrace_filter = functions.iter().map(|f| (*f).to_owned()).collect();
        cfg.tracer = Some("function".into());
    }
    let started = Session::start(t, &cfg);
    let session = match started {
        Ok(s) => s,
        Err(e) => {
            // The probes go with the error; the session undid itself.
            if let Some(p) = probes {
                let _ = p.remove();
            }
            return Err(e);
        }
    };
    Ok((
        CacheSession {
            session,
            method,
            traced,
            probes,
        },
        CacheDecoder::new(method, kinds, symbols),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn counts(accessed: u64, added: u64, dirtied: u64, buffer_dirtied: u64) -> Counts {
        Counts {
            accessed,
            added,
            dirtied,
            buffer_dirtied,
        }
    }

    #[test]
    fn bcc_arithmetic() {
        // A cold read: more added (readahead) than accessed.
        let d = counts(13399, 12811, 0, 0).derive();
        assert_eq!((d.hits, d.misses), (588, 12811));
        let d = counts(1000, 1200, 0, 0).derive();
        assert_eq!((d.hits, d.misses, d.ratio), (0, 1000, 0.0));
        // A write: pages added by the write are not misses.
        let d = counts(1093, 12832, 12800, 0).derive();
        assert_eq!((d.hits, d.misses, d.dirties), (1061, 32, 12800));
        // mbd larger than mpa clamps total at 0.
        let d = counts(5, 0, 0, 9).derive();
        assert_eq!((d.hits, d.misses, d.ratio), (0, 0, 0.0));
        assert!((counts(100, 4, 0, 0).derive().ratio - 0.96).abs() < 1e-9);
    }

    #[test]
    fn meminfo_lines() {
        let m =
            MemInfo::parse("MemTotal: 100 kB\nBuffers:   2048 kB\nCached:  409600 kB\nSwapCached: 5 kB\n");
        assert_eq!(
            m,
            MemInfo {
                buffers_kb: 2048,
                cached_kb: 409600
            }
        );
    }

    #[test]
    fn plans_name_methods() {
        let p = method_plan(Method::Tracepoint);
        assert_eq!(p.needs.len(), 3);
        assert_eq!(catalog_plan().needs[0].alternatives[0].name, "kprobes");
        assert_eq!(role_of_function("filemap_add_folio"), Some(Role::Added));
        assert_eq!(role_of_function("vfs_read"), None);
    }

    proptest! {
        #[test]
        fn meminfo_never_panics(b in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = MemInfo::parse(&String::from_utf8_lossy(&b));
        }

        #[test]
        fn derived_is_consistent(a in 0u64..1<<40, b in 0u64..1<<40, c in 0u64..1<<40, d in 0u64..1<<40) {
            let x = counts(a, b, c, d).derive();
            prop_assert!(x.hits + x.misses <= a.saturating_sub(d));
            prop_assert!((0.0..=1.0).contains(&x.ratio));
        }
    }
}
