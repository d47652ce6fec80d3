//! perf's event syntax, parsed into what perf_event_open(2) needs.
//!
//! Accepted, as `perf stat -e` does: hardware events and their aliases
//! (`cycles`, `cpu-cycles`, `instructions`, ...), hardware cache events
//! (`L1-dcache-load-misses`, `LLC-loads`, `dTLB-store-misses`, ...), software
//! events (`task-clock`, `cs`, `faults`, ...), raw `rNNNN`, the PMU syntax
//! `pmu/event=0x3c,umask=0x00,cmask=1/` (terms looked up in the PMU's sysfs
//! `format/` files, named events in its `events/` files), modifiers `:u :k :h`
//! (and `:p`, `:G`, `:H`, which ftr accepts and `:p` honours), `{a,b}` groups
//! and tracepoints `sys:event` with globs (`'sched:*'`).
//!
//! Parsing does no I/O of its own: tracepoint names and ids, and PMU files,
//! come from an [`EventContext`], whose [`EventContext::for_running_kernel`]
//! reads sysfs and whose fields tests fill by hand.
//!
//! ```
//! use ftr_pmu::{parse_events, EventContext};
//! let ctx = EventContext::new(vec!["sched:sched_switch".into()], |_| Some(7));
//! let groups = parse_events("{cycles,instructions}:u,sched:*", &ctx).unwrap();
//! assert_eq!(groups.len(), 2);
//! assert_eq!(groups[0].events[1].name, "instructions:u");
//! assert_eq!(groups[1].events[0].config, 7);
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::sys;

/// Where the kernel lists its PMUs (`<pmu>/type`, `format/*`, `events/*`).
pub const EVENT_SOURCE_DEVICES: &str = "/sys/bus/event_source/devices";

/// `perf_event_attr.type` of hardware events.
pub const TYPE_HARDWARE: u32 = sys::PERF_TYPE_HARDWARE;
/// `perf_event_attr.type` of software events.
pub const TYPE_SOFTWARE: u32 = sys::PERF_TYPE_SOFTWARE;
/// `perf_event_attr.type` of tracepoints.
pub const TYPE_TRACEPOINT: u32 = sys::PERF_TYPE_TRACEPOINT;
/// `perf_event_attr.type` of hardware cache events.
pub const TYPE_HW_CACHE: u32 = sys::PERF_TYPE_HW_CACHE;
/// `perf_event_attr.type` of raw events.
pub const TYPE_RAW: u32 = sys::PERF_TYPE_RAW;

/// Hardware events: canonical name, aliases, `PERF_COUNT_HW_*`.
const HARDWARE: &[(&str, &[&str], u64)] = &[
    ("cycles", &["cpu-cycles"], sys::PERF_COUNT_HW_CPU_CYCLES),
    ("instructions", &[], sys::PERF_COUNT_HW_INSTRUCTIONS),
    ("cache-references", &[], sys::PERF_COUNT_HW_CACHE_REFERENCES),
    ("cache-misses", &[], sys::PERF_COUNT_HW_CACHE_MISSES),
    (
        "branches",
        &["branch-instructions"],
        sys::PERF_COUNT_HW_BRANCH_INSTRUCTIONS,
    ),
    ("branch-misses", &[], sys::PERF_COUNT_HW_BRANCH_MISSES),
    ("bus-cycles", &[], sys::PERF_COUNT_HW_BUS_CYCLES),
    (
        "stalled-cycles-frontend",
        &["idle-cycles-frontend"],
        sys::PERF_COUNT_HW_STALLED_CYCLES_FRONTEND,
    ),
    (
        "stalled-cycles-backend",
        &["idle-cycles-backend"],
        sys::PERF_COUNT_HW_STALLED_CYCLES_BACKEND,
    ),
    ("ref-cycles", &[], sys::PERF_COUNT_HW_REF_CPU_CYCLES),
];

/// Software events: canonical name, aliases, `PERF_COUNT_SW_*`.
const SOFTWARE: &[(&str, &[&str], u64)] = &[
    ("cpu-clock", &[], sys::PERF_COUNT_SW_CPU_CLOCK),
    ("task-clock", &[], sys::PERF_COUNT_SW_TASK_CLOCK),
    ("page-faults", &["faults"], sys::PERF_COUNT_SW_PAGE_FAULTS),
    ("context-switches", &["cs"], sys::PERF_COUNT_SW_CONTEXT_SWITCHES),
    (
        "cpu-migrations",
        &["migrations"],
        sys::PERF_COUNT_SW_CPU_MIGRATIONS,
    ),
    ("minor-faults", &[], sys::PERF_COUNT_SW_PAGE_FAULTS_MIN),
    ("major-faults", &[], sys::PERF_COUNT_SW_PAGE_FAULTS_MAJ),
    ("alignment-faults", &[], sys::PERF_COUNT_SW_ALIGNMENT_FAULTS),
    ("emulation-faults", &[], sys::PERF_COUNT_SW_EMULATION_FAULTS),
    ("dummy", &[], sys::PERF_COUNT_SW_DUMMY),
    ("bpf-output", &[], sys::PERF_COUNT_SW_BPF_OUTPUT),
    ("cgroup-switches", &[], sys::PERF_COUNT_SW_CGROUP_SWITCHES),
];

/// Hardware cache ids (`PERF_COUNT_HW_CACHE_*`, the index) and their
/// spellings, as perf's `evsel__hw_cache` table.
const CACHES: &[&[&str]] = &[
    &["L1-dcache", "l1-d", "l1d", "L1-data"],
    &["L1-icache", "l1-i", "l1i", "L1-instruction"],
    &["LLC", "L2"],
    &["dTLB", "d-tlb", "Data-TLB"],
    &["iTLB", "i-tlb", "Instruction-TLB"],
    &["branch", "branches", "bpu", "btb", "bpc"],
    &["node"],
];
/// Cache operations (`PERF_COUNT_HW_CACHE_OP_*`), perf's `evsel__hw_cache_op`.
const CACHE_OPS: &[&[&str]] = &[
    &["load", "loads", "read"],
    &["store", "stores", "write"],
    &["prefetch", "prefetches", "speculative-read", "speculative-load"],
];
/// Cache results (`PERF_COUNT_HW_CACHE_RESULT_*`), perf's
/// `evsel__hw_cache_result`.
const CACHE_RESULTS: &[&[&str]] = &[&["refs", "Reference", "ops", "access"], &["misses", "miss"]];

/// Which privilege levels an event counts, from its `:u`/`:k`/`:h` modifiers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Exclude {
    /// Do not count user space (`exclude_user`).
    pub user: bool,
    /// Do not count the kernel (`exclude_kernel`).
    pub kernel: bool,
    /// Do not count the hypervisor (`exclude_hv`).
    pub hv: bool,
}

/// One event, ready for perf_event_open(2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSpec {
    /// The name to print: what the user wrote, with globs expanded.
    pub name: String,
    /// `perf_event_attr.type`.
    pub type_: u32,
    /// `perf_event_attr.config`.
    pub config: u64,
    /// `perf_event_attr.config1`.
    pub config1: u64,
    /// `perf_event_attr.config2`.
    pub config2: u64,
    /// Privilege levels excluded by modifiers.
    pub exclude: Exclude,
    /// `precise_ip` from `:p` modifiers (0-3).
    pub precise: u8,
}

impl EventSpec {
    /// A software event by `PERF_COUNT_SW_*` name, e.g. `task-clock`.
    pub fn software(name: &str) -> Option<EventSpec> {
        lookup(SOFTWARE, name).map(|config| plain(name, TYPE_SOFTWARE, config))
    }

    /// A hardware event by name, e.g. `cycles`.
    pub fn hardware(name: &str) -> Option<EventSpec> {
        lookup(HARDWARE, name).map(|config| plain(name, TYPE_HARDWARE, config))
    }

    /// Whether this is `task-clock` or `cpu-clock`, counted in nanoseconds.
    pub fn is_clock(&self) -> bool {
        self.type_ == TYPE_SOFTWARE
            && (self.config == sys::PERF_COUNT_SW_TASK_CLOCK || self.config == sys::PERF_COUNT_SW_CPU_CLOCK)
    }

    /// The generic event this is (`"cycles"`, `"page-faults"`, ...), whatever
    /// alias or modifiers named it; `None` for cache, raw, PMU and
    /// tracepoint events. Derived metrics key on this.
    pub fn generic(&self) -> Option<&'static str> {
        let table = match self.type_ {
            TYPE_HARDWARE => HARDWARE,
            TYPE_SOFTWARE => SOFTWARE,
            _ => return None,
        };
        table
            .iter()
            .find(|(_, _, c)| *c == self.config)
            .map(|(n, _, _)| *n)
    }
}

fn plain(name: &str, type_: u32, config: u64) -> EventSpec {
    EventSpec {
        name: name.to_owned(),
        type_,
        config,
        config1: 0,
        config2: 0,
        exclude: Exclude::default(),
        precise: 0,
    }
}

fn lookup(table: &[(&str, &[&str], u64)], name: &str) -> Option<u64> {
    table
        .iter()
        .find(|(n, aliases, _)| *n == name || aliases.contains(&name))
        .map(|(_, _, c)| *c)
}

/// Events counted together: opened as one perf group when `grouped`
/// (`{a,b}`), else a single event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventGroup {
    /// The events, leader first.
    pub events: Vec<EventSpec>,
    /// Whether the user asked for a group with `{...}`.
    pub grouped: bool,
}

type IdLookup = Box<dyn Fn(&str) -> Option<u64>>;

/// What the parser may look up: tracepoint names and ids, and the PMU
/// directory. Nothing is read until an event needs it.
pub struct EventContext {
    /// Every tracepoint as `sys:event` (globs are matched against these).
    pub tracepoints: Vec<String>,
    /// The id of a tracepoint `sys:event` (`events/<sys>/<event>/id`).
    pub tracepoint_id: IdLookup,
    /// The directory of PMUs, [`EVENT_SOURCE_DEVICES`] unless overridden.
    pub pmu_root: PathBuf,
}

impl EventContext {
    /// A context with these tracepoints and id lookup and the real PMU
    /// directory.
    pub fn new(
        tracepoints: Vec<String>,
        tracepoint_id: impl Fn(&str) -> Option<u64> + 'static,
    ) -> EventContext {
        EventContext {
            tracepoints,
            tracepoint_id: Box::new(tracepoint_id),
            pmu_root: PathBuf::from(EVENT_SOURCE_DEVICES),
        }
    }

    /// A context for the running kernel with the given tracepoints (the
    /// binary lists them through tracefs; ftr-pmu does not read tracefs).
    pub fn for_running_kernel(
        tracepoints: Vec<String>,
        tracepoint_id: impl Fn(&str) -> Option<u64> + 'static,
    ) -> EventContext {
        EventContext::new(tracepoints, tracepoint_id)
    }

    /// The same context reading PMUs under `root` instead of sysfs.
    pub fn with_pmu_root(mut self, root: impl Into<PathBuf>) -> EventContext {
        self.pmu_root = root.into();
        self
    }

    fn pmu_file(&self, pmu: &str, rel: &str) -> Result<String, Error> {
        let path = self.pmu_root.join(pmu).join(rel);
        fs::read_to_string(&path)
            .map(|s| s.trim().to_owned())
            .map_err(|source| Error::Read { path, source })
    }

    fn pmu_names(&self) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(&self.pmu_root)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

/// Parses one `-e` argument: comma-separated events and `{...}` groups,
/// each with optional `:modifiers`. A tracepoint glob becomes one
/// ungrouped entry per match (inside `{}` it adds every match to the group).
///
/// Fails with [`Error::UnknownEvent`] (naming the closest valid names),
/// [`Error::BadEventSyntax`] for malformed text, or [`Error::Read`] when a
/// PMU's sysfs files cannot be read.
pub fn parse_events(text: &str, ctx: &EventContext) -> Result<Vec<EventGroup>, Error> {
    let mut groups = Vec::new();
    for item in split_top(text, ',')? {
        let item = item.trim();
        if item.is_empty() {
            return Err(syntax(text, "empty event"));
        }
        if let Some(rest) = item.strip_prefix('{') {
            let close = rest.rfind('}').ok_or_else(|| syntax(item, "missing '}'"))?;
            let (inner, after) = (&rest[..close], &rest[close + 1..]);
            let group_mods = match after.strip_prefix(':') {
                Some(m) => m,
                None if after.is_empty() => "",
                None => return Err(syntax(item, "unexpected text after '}'")),
            };
            let mut events = Vec::new();
            for member in split_top(inner, ',')? {
                for mut e in parse_one(member.trim(), ctx)? {
                    if !group_mods.is_empty() {
                        apply_modifiers(&mut e, group_mods, item)?;
                        e.name = format!("{}:{group_mods}", e.name);
                    }
                    events.push(e);
                }
            }
            if events.is_empty() {
                return Err(syntax(item, "empty group"));
            }
            groups.push(EventGroup {
                events,
                grouped: true,
            });
        } else {
            for e in parse_one(item, ctx)? {
                groups.push(EventGroup {
                    events: vec![e],
                    grouped: false,
                });
            }
        }
    }
    Ok(groups)
}

fn syntax(text: &str, why: &str) -> Error {
    Error::BadEventSyntax {
        text: text.to_owned(),
        why: why.to_owned(),
    }
}

/// Splits at `sep` outside `{}` and `//`.
fn split_top(text: &str, sep: char) -> Result<Vec<&str>, Error> {
    let mut out = Vec::new();
    let (mut depth, mut in_pmu, mut start) = (0i32, false, 0);
    for (i, c) in text.char_indices() {
        match c {
            '{' if !in_pmu => depth += 1,
            '}' if !in_pmu => {
                depth -= 1;
                if depth < 0 {
                    return Err(syntax(text, "unbalanced '}'"));
                }
            }
            '/' => in_pmu = !in_pmu,
            c if c == sep && depth == 0 && !in_pmu => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(syntax(text, "unbalanced '{'"));
    }
    if in_pmu {
        return Err(syntax(text, "unterminated pmu/.../"));
    }
    out.push(&text[start..]);
    Ok(out)
}

/// One event (no groups), possibly a glob expanding to several.
fn parse_one(item: &str, ctx: &EventContext) -> Result<Vec<EventSpec>, Error> {
    if item.is_empty() {
        return Err(syntax(item, "empty event"));
    }
    // pmu/terms/[:mods]
    if let Some(slash) = item.find('/') {
        let pmu = &item[..slash];
        let rest = &item[slash + 1..];
        let end = rest
            .find('/')
            .ok_or_else(|| syntax(item, "unterminated pmu/.../"))?;
        let (terms, after) = (&rest[..end], &rest[end + 1..]);
        let mut e = parse_pmu(item, pmu, terms, ctx)?;
        if let Some(m) = after.strip_prefix(':') {
            apply_modifiers(&mut e, m, item)?;
        } else if !after.is_empty() {
            return Err(syntax(item, "unexpected text after pmu/.../"));
        }
        e.name = item.to_owned();
        return Ok(vec![e]);
    }
    // sys:event[:mods] is a tracepoint when sys names a tracepoint system;
    // otherwise name[:mods].
    let parts: Vec<&str> = item.split(':').collect();
    if parts.len() >= 2 && is_tracepoint_system(parts[0], ctx) {
        let pattern = format!("{}:{}", parts[0], parts[1]);
        let mods = parts.get(2).copied();
        if parts.len() > 3 {
            return Err(syntax(item, "too many ':'"));
        }
        let names: Vec<&String> = ctx
            .tracepoints
            .iter()
            .filter(|t| glob_match(&pattern, t))
            .collect();
        if names.is_empty() {
            return Err(unknown(item, &pattern, ctx));
        }
        let mut out = Vec::new();
        for n in names {
            let id = (ctx.tracepoint_id)(n).ok_or_else(|| Error::UnknownEvent {
                name: n.clone(),
                suggestions: vec![],
            })?;
            let mut e = plain(n, TYPE_TRACEPOINT, id);
            if let Some(m) = mods {
                apply_modifiers(&mut e, m, item)?;
                e.name = format!("{n}:{m}");
            }
            out.push(e);
        }
        return Ok(out);
    }
    let (base, mods) = match item.split_once(':') {
        Some((b, m)) => (b, Some(m)),
        None => (item, None),
    };
    let mut e = symbolic(base).ok_or_else(|| unknown(item, base, ctx))?;
    if let Some(m) = mods {
        apply_modifiers(&mut e, m, item)?;
    }
    e.name = item.to_owned();
    Ok(vec![e])
}

fn is_tracepoint_system(sys: &str, ctx: &EventContext) -> bool {
    let has_glob = sys.contains(['*', '?']);
    ctx.tracepoints.iter().any(|t| {
        let s = t.split(':').next().unwrap_or("");
        if has_glob {
            glob_match(sys, s)
        } else {
            s == sys
        }
    })
}

/// A hardware, software, cache or raw event name without modifiers.
fn symbolic(name: &str) -> Option<EventSpec> {
    if let Some(config) = lookup(HARDWARE, name) {
        return Some(plain(name, TYPE_HARDWARE, config));
    }
    if let Some(config) = lookup(SOFTWARE, name) {
        return Some(plain(name, TYPE_SOFTWARE, config));
    }
    if let Some(config) = cache_config(name) {
        return Some(plain(name, TYPE_HW_CACHE, config));
    }
    if let Some(hex) = name.strip_prefix('r') {
        let hex = hex.strip_prefix("0x").unwrap_or(hex);
        if !hex.is_empty() && hex.len() <= 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return u64::from_str_radix(hex, 16)
                .ok()
                .map(|c| plain(name, TYPE_RAW, c));
        }
    }
    None
}

/// `cache[-op][-result]` as perf's `parse_events__decode_legacy_cache`:
/// the op defaults to load and the result to access.
fn cache_config(name: &str) -> Option<u64> {
    let find = |table: &[&[&str]], s: &str| {
        table
            .iter()
            .position(|names| names.iter().any(|n| n.eq_ignore_ascii_case(s)))
    };
    // Cache names contain '-' themselves ("L1-dcache"), so try every split.
    let parts: Vec<&str> = name.split('-').collect();
    for cut in 1..=parts.len() {
        let cache = parts[..cut].join("-");
        let Some(c) = find(CACHES, &cache) else { continue };
        let rest = &parts[cut..];
        let (mut op, mut result) = (None, None);
        let mut i = 0;
        while i < rest.len() {
            // Multi-word op names ("speculative-read") first.
            let two = (i + 1 < rest.len()).then(|| format!("{}-{}", rest[i], rest[i + 1]));
            if let Some(o) = two
                .as_deref()
                .and_then(|t| find(CACHE_OPS, t))
                .filter(|_| op.is_none())
            {
                op = Some(o);
                i += 2;
            } else if let Some(o) = find(CACHE_OPS, rest[i]).filter(|_| op.is_none() && result.is_none()) {
                op = Some(o);
                i += 1;
            } else if let Some(r) = find(CACHE_RESULTS, rest[i]).filter(|_| result.is_none()) {
                result = Some(r);
                i += 1;
            } else {
                return None;
            }
        }
        let (op, result) = (op.unwrap_or(0), result.unwrap_or(0));
        return Some(c as u64 | (op as u64) << 8 | (result as u64) << 16);
    }
    None
}

fn apply_modifiers(e: &mut EventSpec, mods: &str, item: &str) -> Result<(), Error> {
    let (mut u, mut k, mut h) = (false, false, false);
    for c in mods.chars() {
        match c {
            'u' => u = true,
            'k' => k = true,
            'h' => h = true,
            'p' if e.precise < 3 => e.precise += 1,
            // Guest/host counting: ftr counts on the host, as perf does by default.
            'G' | 'H' => {}
            _ => {
                return Err(syntax(
                    item,
                    &format!("unknown modifier '{c}' (ftr knows u, k, h, p, G, H)"),
                ))
            }
        }
    }
    if u || k || h {
        // Like perf: naming any level excludes the ones not named.
        e.exclude = Exclude {
            user: !u,
            kernel: !k,
            hv: !h,
        };
    }
    Ok(())
}

/// `pmu/terms/`: terms are `name=value`, `name` (=1) or a named event from
/// the PMU's `events/` directory; each term's bits come from `format/`.
fn parse_pmu(item: &str, pmu: &str, terms: &str, ctx: &EventContext) -> Result<EventSpec, Error> {
    if pmu.is_empty() || pmu.contains(['.', '\\']) {
        return Err(syntax(item, "bad PMU name"));
    }
    let type_text = ctx.pmu_file(pmu, "type").map_err(|_| {
        let pmus = ctx.pmu_names();
        Error::UnknownEvent {
            name: format!("{pmu}/"),
            suggestions: closest(pmu, pmus.iter().map(String::as_str)),
        }
    })?;
    let type_: u32 = type_text.parse().map_err(|_| Error::Parse {
        what: "a PMU type (an integer)",
        text: type_text.clone(),
    })?;
    let mut e = plain(item, type_, 0);
    let mut configs = [0u64; 3];
    apply_terms(item, pmu, terms, ctx, &mut configs, 0)?;
    e.config = configs[0];
    e.config1 = configs[1];
    e.config2 = configs[2];
    Ok(e)
}

fn apply_terms(
    item: &str,
    pmu: &str,
    terms: &str,
    ctx: &EventContext,
    configs: &mut [u64; 3],
    depth: u32,
) -> Result<(), Error> {
    for term in terms.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let (name, value) = match term.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim())),
            None => (term, None),
        };
        if name.contains(['/', '.']) || name.is_empty() {
            return Err(syntax(item, &format!("bad term {term:?}")));
        }
        match ctx.pmu_file(pmu, &format!("format/{name}")) {
            Ok(format) => {
                let v = match value {
                    Some(v) => {
                        parse_number(v).ok_or_else(|| syntax(item, &format!("bad value in {term:?}")))?
                    }
                    None => 1,
                };
                let (word, bits) = parse_format(&format).ok_or_else(|| Error::Parse {
                    what: "a PMU format (configN:lo-hi,...)",
                    text: format.clone(),
                })?;
                configs[word] |= place_bits(v, &bits);
            }
            Err(_) => {
                let alias = match value {
                    None if depth == 0 => ctx.pmu_file(pmu, &format!("events/{name}")).ok(),
                    _ => None,
                };
                let Some(alias) = alias else {
                    let mut known: Vec<String> = Vec::new();
                    for dir in ["format", "events"] {
                        if let Ok(d) = fs::read_dir(ctx.pmu_root.join(pmu).join(dir)) {
                            known.extend(d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()));
                        }
                    }
                    known.sort();
                    return Err(Error::UnknownEvent {
                        name: format!("{pmu}/{name}/"),
                        suggestions: closest(name, known.iter().map(String::as_str)),
                    });
                };
                apply_terms(item, pmu, &alias, ctx, configs, depth + 1)?;
            }
        }
    }
    Ok(())
}

fn parse_number(v: &str) -> Option<u64> {
    match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => v.parse().ok(),
    }
}

/// Parses a sysfs format file's text, `config1:0-7,32-35`, into the config
/// word (0 for `config`, 1 for `config1`, 2 for `config2`) and bit ranges.
pub fn parse_format(text: &str) -> Option<(usize, Vec<(u32, u32)>)> {
    let (word, ranges) = text.trim().split_once(':')?;
    let word = match word {
        "config" => 0,
        "config1" => 1,
        "config2" => 2,
        _ => return None,
    };
    let mut bits = Vec::new();
    for r in ranges.split(',') {
        let (lo, hi) = match r.split_once('-') {
            Some((lo, hi)) => (lo.parse().ok()?, hi.parse().ok()?),
            None => {
                let b = r.parse().ok()?;
                (b, b)
            }
        };
        if lo > hi || hi > 63 {
            return None;
        }
        bits.push((lo, hi));
    }
    Some((word, bits))
}

/// Scatters `value`'s low bits over `ranges`, lowest range first (the
/// kernel's format files list them in that order; see `pmu_format_value`
/// in perf's util/pmu.c).
fn place_bits(mut value: u64, ranges: &[(u32, u32)]) -> u64 {
    let mut out = 0;
    for &(lo, hi) in ranges {
        let width = hi - lo + 1;
        let mask = if width == 64 {
            u64::MAX
        } else {
            (1u64 << width) - 1
        };
        out |= (value & mask) << lo;
        value = if width == 64 { 0 } else { value >> width };
    }
    out
}

fn unknown(item: &str, base: &str, ctx: &EventContext) -> Error {
    let mut names: Vec<String> = known_names();
    if base.contains(':') {
        names = ctx.tracepoints.clone();
    }
    Error::UnknownEvent {
        name: item.to_owned(),
        suggestions: closest(base, names.iter().map(String::as_str)),
    }
}

/// Every symbolic event name ftr accepts: hardware, software and cache
/// events with their aliases (cache events in perf list's spelling).
pub fn known_names() -> Vec<String> {
    let mut v = Vec::new();
    for (n, aliases, _) in HARDWARE.iter().chain(SOFTWARE) {
        v.push((*n).to_owned());
        v.extend(aliases.iter().map(|a| (*a).to_owned()));
    }
    for cache in CACHES {
        for op in ["load", "store", "prefetch"] {
            let plural = if op == "prefetch" { "prefetches" } else { "s" };
            let ops = if op == "prefetch" {
                plural.to_owned()
            } else {
                format!("{op}{plural}")
            };
            v.push(format!("{}-{ops}", cache[0]));
            v.push(format!("{}-{op}-misses", cache[0]));
        }
    }
    v
}

/// The generic event names without their aliases, in perf list's order:
/// hardware, software, then every cache event.
pub fn primary_names() -> Vec<String> {
    let aliases: Vec<&str> = HARDWARE
        .iter()
        .chain(SOFTWARE)
        .flat_map(|(_, a, _)| a.iter().copied())
        .collect();
    known_names()
        .into_iter()
        .filter(|n| !aliases.contains(&n.as_str()))
        .collect()
}

/// Up to three of `candidates` closest to `name` by edit distance.
fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut scored: Vec<(usize, &str)> = candidates
        .map(|c| {
            let d = edit_distance(&name.to_ascii_lowercase(), &c.to_ascii_lowercase());
            // A prefix match is as good as a small typo.
            let d = if c.starts_with(name) && !name.is_empty() {
                d.min(2)
            } else {
                d
            };
            (d, c)
        })
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    let limit = (name.len() / 2).max(3);
    scored
        .into_iter()
        .filter(|(d, _)| *d <= limit)
        .take(3)
        .map(|(_, c)| c.to_owned())
        .collect()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Shell-style `*` and `?` matching, as perf applies to tracepoint names.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Reads `<root>/<pmu>/type` for every PMU under `root`: (name, type).
pub fn list_pmus(root: &Path) -> Vec<(String, u32)> {
    let mut v: Vec<(String, u32)> = fs::read_dir(root)
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let t = fs::read_to_string(e.path().join("type"))
                        .ok()?
                        .trim()
                        .parse()
                        .ok()?;
                    Some((name, t))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ctx() -> EventContext {
        let tps = [
            "sched:sched_switch",
            "sched:sched_wakeup",
            "sched:sched_process_exec",
            "syscalls:sys_enter_openat",
        ];
        EventContext::new(tps.iter().map(|s| s.to_string()).collect(), |n| match n {
            "sched:sched_switch" => Some(300),
            "sched:sched_wakeup" => Some(301),
            "sched:sched_process_exec" => Some(302),
            "syscalls:sys_enter_openat" => Some(600),
            _ => None,
        })
        .with_pmu_root("/nonexistent-pmu-root")
    }

    fn one(text: &str) -> EventSpec {
        let g = parse_events(text, &ctx()).unwrap();
        assert_eq!(g.len(), 1, "{text}");
        g[0].events[0].clone()
    }

    #[test]
    fn hardware_names_and_aliases() {
        for (name, config) in [
            ("cycles", 0),
            ("cpu-cycles", 0),
            ("instructions", 1),
            ("cache-references", 2),
            ("cache-misses", 3),
            ("branches", 4),
            ("branch-instructions", 4),
            ("branch-misses", 5),
            ("bus-cycles", 6),
            ("stalled-cycles-frontend", 7),
            ("stalled-cycles-backend", 8),
            ("ref-cycles", 9),
        ] {
            let e = one(name);
            assert_eq!((e.type_, e.config), (TYPE_HARDWARE, config), "{name}");
            assert_eq!(e.name, name);
        }
    }

    #[test]
    fn software_names_and_aliases() {
        for (name, config) in [
            ("cpu-clock", 0),
            ("task-clock", 1),
            ("page-faults", 2),
            ("faults", 2),
            ("context-switches", 3),
            ("cs", 3),
            ("cpu-migrations", 4),
            ("migrations", 4),
            ("minor-faults", 5),
            ("major-faults", 6),
            ("alignment-faults", 7),
            ("emulation-faults", 8),
            ("dummy", 9),
        ] {
            let e = one(name);
            assert_eq!((e.type_, e.config), (TYPE_SOFTWARE, config), "{name}");
        }
        assert_eq!(one("cs").generic(), Some("context-switches"));
        assert!(one("task-clock").is_clock() && one("cpu-clock").is_clock());
    }

    #[test]
    fn cache_events_encode_cache_op_result() {
        for (name, config) in [
            ("L1-dcache-loads", 0x00000),
            ("L1-dcache-load-misses", 0x10000),
            ("L1-dcache-stores", 0x00100),
            ("L1-dcache-store-misses", 0x10100),
            ("L1-dcache-prefetches", 0x00200),
            ("L1-icache-load-misses", 0x10001),
            ("LLC-loads", 0x00002),
            ("LLC-load-misses", 0x10002),
            ("LLC-stores", 0x00102),
            ("dTLB-load-misses", 0x10003),
            ("dTLB-stores", 0x00103),
            ("iTLB-load-misses", 0x10004),
            ("branch-loads", 0x00005),
            ("branch-load-misses", 0x10005),
            ("node-loads", 0x00006),
            ("node-store-misses", 0x10106),
            ("l1d-misses", 0x10000),
            ("L1-dcache-speculative-read-miss", 0x10200),
        ] {
            let e = one(name);
            assert_eq!((e.type_, e.config), (TYPE_HW_CACHE, config), "{name}");
        }
        for name in known_names() {
            assert!(parse_events(&name, &ctx()).is_ok(), "{name}");
        }
    }

    #[test]
    fn raw_and_modifiers() {
        let e = one("r1a8");
        assert_eq!((e.type_, e.config), (TYPE_RAW, 0x1a8));
        let e = one("instructions:u");
        assert_eq!(
            e.exclude,
            Exclude {
                user: false,
                kernel: true,
                hv: true
            }
        );
        assert_eq!(e.name, "instructions:u");
        let e = one("cycles:k");
        assert_eq!(
            e.exclude,
            Exclude {
                user: true,
                kernel: false,
                hv: true
            }
        );
        let e = one("cycles:uk");
        assert_eq!(
            e.exclude,
            Exclude {
                user: false,
                kernel: false,
                hv: true
            }
        );
        assert_eq!(one("cycles:pp").precise, 2);
        assert!(matches!(
            parse_events("cycles:z", &ctx()),
            Err(Error::BadEventSyntax { .. })
        ));
    }

    #[test]
    fn groups_and_lists() {
        let g = parse_events("{cycles,instructions}:u,cs", &ctx()).unwrap();
        assert_eq!(g.len(), 2);
        assert!(g[0].grouped && !g[1].grouped);
        assert_eq!(g[0].events.len(), 2);
        assert_eq!(g[0].events[0].name, "cycles:u");
        assert!(g[0].events[1].exclude.kernel);
        assert!(parse_events("{cycles", &ctx()).is_err());
        assert!(parse_events("cycles}", &ctx()).is_err());
        assert!(parse_events("cycles,,cs", &ctx()).is_err());
        assert!(parse_events("{}", &ctx()).is_err());
    }

    #[test]
    fn tracepoints_and_globs() {
        let e = one("sched:sched_process_exec");
        assert_eq!((e.type_, e.config), (TYPE_TRACEPOINT, 302));
        let g = parse_events("sched:*", &ctx()).unwrap();
        let names: Vec<_> = g.iter().map(|g| g.events[0].name.as_str()).collect();
        assert_eq!(
            names,
            [
                "sched:sched_switch",
                "sched:sched_wakeup",
                "sched:sched_process_exec"
            ]
        );
        let g = parse_events("syscalls:sys_enter_*", &ctx()).unwrap();
        assert_eq!(g[0].events[0].config, 600);
        let g = parse_events("{sched:sched_s*,cs}", &ctx()).unwrap();
        assert_eq!(g[0].events.len(), 2);
        match parse_events("sched:sched_swich", &ctx()) {
            Err(Error::UnknownEvent { suggestions, .. }) => assert_eq!(suggestions[0], "sched:sched_switch"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_names_suggest_the_closest() {
        match parse_events("instrucions", &ctx()) {
            Err(e @ Error::UnknownEvent { .. }) => {
                assert_eq!(
                    e.to_string(),
                    "unknown event \"instrucions\" (did you mean instructions?)"
                );
            }
            other => panic!("{other:?}"),
        }
        match parse_events("context-switch", &ctx()) {
            Err(Error::UnknownEvent { suggestions, .. }) => assert_eq!(suggestions[0], "context-switches"),
            other => panic!("{other:?}"),
        }
        match parse_events("zzzzzzzzzzzzzzzzzz", &ctx()) {
            Err(e @ Error::UnknownEvent { .. }) => {
                assert_eq!(
                    e.to_string(),
                    "unknown event \"zzzzzzzzzzzzzzzzzz\" (see `perf list`)"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    fn fake_pmu() -> (PathBuf, EventContext) {
        let root = std::env::temp_dir().join(format!(
            "ftr-pmu-test-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let cpu = root.join("cpu");
        fs::create_dir_all(cpu.join("format")).unwrap();
        fs::create_dir_all(cpu.join("events")).unwrap();
        fs::write(cpu.join("type"), "4\n").unwrap();
        fs::write(cpu.join("format/event"), "config:0-7\n").unwrap();
        fs::write(cpu.join("format/umask"), "config:8-15\n").unwrap();
        fs::write(cpu.join("format/inv"), "config:23\n").unwrap();
        fs::write(cpu.join("format/cmask"), "config:24-31\n").unwrap();
        fs::write(cpu.join("format/ldlat"), "config1:0-15\n").unwrap();
        fs::write(cpu.join("format/split"), "config2:0-3,8-11\n").unwrap();
        fs::write(cpu.join("events/mem-loads"), "event=0xcd,umask=0x1,ldlat=3\n").unwrap();
        let ctx = ctx().with_pmu_root(&root);
        (root, ctx)
    }

    #[test]
    fn pmu_syntax_uses_sysfs_format_files() {
        let (root, ctx) = fake_pmu();
        let g = parse_events("cpu/event=0x3c,umask=0x00,inv,cmask=1/:u,cs", &ctx).unwrap();
        assert_eq!(g.len(), 2);
        let e = &g[0].events[0];
        assert_eq!(e.type_, 4);
        assert_eq!(e.config, 0x3c | 1 << 23 | 1 << 24);
        assert_eq!(e.name, "cpu/event=0x3c,umask=0x00,inv,cmask=1/:u");
        assert!(e.exclude.kernel);
        let e = &parse_events("cpu/mem-loads/", &ctx).unwrap()[0].events[0];
        assert_eq!((e.config, e.config1), (0x1cd, 3));
        let e = &parse_events("cpu/split=0xab/", &ctx).unwrap()[0].events[0];
        assert_eq!(e.config2, 0xb | 0xa << 8);
        match parse_events("cpu/evnt=1/", &ctx) {
            Err(Error::UnknownEvent { suggestions, .. }) => {
                assert!(suggestions.contains(&"event".to_string()))
            }
            other => panic!("{other:?}"),
        }
        match parse_events("cpux/event=1/", &ctx) {
            Err(Error::UnknownEvent { suggestions, .. }) => assert_eq!(suggestions, ["cpu"]),
            other => panic!("{other:?}"),
        }
        let _ = fs::remove_dir_all(root);
    }

    #[test]
    fn format_text_parses() {
        assert_eq!(parse_format("config:0-7"), Some((0, vec![(0, 7)])));
        assert_eq!(
            parse_format("config1:0-7,32-35\n"),
            Some((1, vec![(0, 7), (32, 35)]))
        );
        assert_eq!(parse_format("config:23"), Some((0, vec![(23, 23)])));
        assert_eq!(parse_format("config:0-63"), Some((0, vec![(0, 63)])));
        assert_eq!(parse_format("config3:0"), None);
        assert_eq!(parse_format("config:7-0"), None);
        assert_eq!(place_bits(u64::MAX, &[(0, 63)]), u64::MAX);
    }

    #[test]
    fn globs() {
        assert!(glob_match("sched:*", "sched:sched_switch"));
        assert!(glob_match("s?s*:sys_enter_*", "syscalls:sys_enter_openat"));
        assert!(!glob_match("sched:*x", "sched:sched_switch"));
        assert!(glob_match("*", ""));
    }

    proptest! {
        #[test]
        fn parser_never_panics(s in "[a-zA-Z0-9_:{}/,=*-]{0,40}") {
            let _ = parse_events(&s, &ctx());
        }

        #[test]
        fn known_names_round_trip_with_modifiers(i in 0usize..200, m in "(u|k|h|uk|kh|ukh)?") {
            let names = known_names();
            let name = &names[i % names.len()];
            let text = if m.is_empty() { name.clone() } else { format!("{name}:{m}") };
            let e = &parse_events(&text, &ctx()).unwrap()[0].events[0];
            prop_assert_eq!(&e.name, &text);
            prop_assert_eq!(e.exclude.user, !m.is_empty() && !m.contains('u'));
        }

        #[test]
        fn format_bits_round_trip(v in any::<u64>(), lo in 0u32..16, w in 1u32..16) {
            let ranges = [(lo, lo + w - 1), (lo + 32, lo + 32 + w - 1)];
            let placed = place_bits(v, &ranges);
            let mask = (1u64 << w) - 1;
            prop_assert_eq!((placed >> lo) & mask, v & mask);
            prop_assert_eq!((placed >> (lo + 32)) & mask, (v >> w) & mask);
        }
    }
}
