//! deadlock's output: BCC's cycle report (mutex aliases M0.., each edge's
//! two stacks, where each thread was created) and its `--dump-graph` JSON.
//! Stacks, thread names and mutex names are looked up when an edge first
//! appears, while the process still runs, and kept.

use super::graph::{LockGraph, StackId};
use ftr_symbols::Symbolizer;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{self, Write};

/// What is known about the traced process's stacks, threads and mutexes.
pub struct Describer {
    symbolizer: Symbolizer,
    stacks: HashMap<StackId, Vec<String>>,
    mutexes: HashMap<u64, String>,
    comms: HashMap<u32, String>,
    /// Executable mappings from MMAP2 records, per process.
    mapped: HashMap<u32, Vec<ftr_symbols::MapEntry>>,
}

impl Describer {
    /// Nothing known yet.
    pub fn new() -> Describer {
        Describer {
            symbolizer: Symbolizer::new(),
            stacks: HashMap::new(),
            mutexes: HashMap::new(),
            comms: HashMap::new(),
            mapped: HashMap::new(),
        }
    }

    /// Symbolizes stack `id` of process `pid` once: `@ ADDRESS frame` lines.
    pub fn describe_stack(&mut self, pid: u32, id: StackId, ips: &[u64]) {
        if self.stacks.contains_key(&id) {
            return;
        }
        let frames = self.symbolizer.user_stack(pid, ips);
        let lines = frames.iter().map(|f| format!("@ {:016x} {f}", f.addr)).collect();
        self.stacks.insert(id, lines);
    }

    /// Adds an executable mapping of `pid` (see
    /// [`Symbolizer::add_mapping`]).
    pub fn add_mapping(&mut self, pid: u32, map: ftr_symbols::MapEntry) {
        self.mapped.entry(pid).or_default().push(map.clone());
        self.symbolizer.add_mapping(pid, map);
    }

    /// Names the global or static variable at `mutex`, once.
    pub fn describe_mutex(&mut self, pid: u32, mutex: u64) {
        if self.mutexes.contains_key(&mutex) {
            return;
        }
        let known = self.mapped.get(&pid);
        let hit = ftr_symbols::data_symbol(pid, mutex)
            .or_else(|| known.and_then(|maps| ftr_symbols::data_symbol_in(maps, pid, mutex)));
        let name = match hit {
            Some(s) if s.offset == 0 => s.name,
            Some(s) => format!("{}+{:#x}", s.name, s.offset),
            None => String::new(),
        };
        self.mutexes.insert(mutex, name);
    }

    /// Remembers thread `tid`'s name: `comm` when given, else what /proc
    /// says now.
    pub fn note_thread(&mut self, pid: u32, tid: u32, comm: Option<&str>) {
        if let Some(c) = comm.filter(|c| !c.is_empty()) {
            self.comms.insert(tid, c.to_owned());
            return;
        }
        if self.comms.contains_key(&tid) {
            return;
        }
        if let Ok(c) = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/comm")) {
            self.comms.insert(tid, c.trim_end().to_owned());
        }
    }

    fn comm(&self, tid: u32) -> &str {
        self.comms.get(&tid).map(String::as_str).unwrap_or("?")
    }

    fn stack_lines(&self, id: StackId) -> &[String] {
        self.stacks.get(&id).map(Vec::as_slice).unwrap_or_default()
    }

    fn mutex_label(&self, index: usize, mutex: u64) -> String {
        match self.mutexes.get(&mutex).filter(|n| !n.is_empty()) {
            Some(name) => format!("Mutex M{index} ({name} 0x{mutex:016x})"),
            None => format!("Mutex M{index} (0x{mutex:016x})"),
        }
    }
}

/// Prints `cycle` (mutexes in order, the first not repeated) in BCC's
/// layout.
pub fn print_cycle(
    out: &mut impl Write,
    graph: &LockGraph,
    describer: &mut Describer,
    cycle: &[u64],
) -> io::Result<()> {
    let labels: HashMap<u64, String> = cycle
        .iter()
        .enumerate()
        .map(|(i, &m)| (m, describer.mutex_label(i, m)))
        .collect();
    writeln!(out, "----------------\nPotential Deadlock Detected!\n")?;
    let mut chain: Vec<&str> = cycle.iter().map(|m| labels[m].as_str()).collect();
    chain.push(&labels[&cycle[0]]);
    writeln!(out, "Cycle in lock order graph: {}\n", chain.join(" => "))?;
    let mut threads = Vec::new();
    for (i, &from) in cycle.iter().enumerate() {
        let to = cycle[(i + 1) % cycle.len()];
        let Some(e) = graph.edge(from, to) else { continue };
        if !threads.contains(&e.tid) {
            threads.push(e.tid);
        }
        let comm = describer.comm(e.tid);
        writeln!(
            out,
            "{} acquired here while holding {} in Thread {} ({comm}):",
            labels[&to], labels[&from], e.tid
        )?;
        for l in describer.stack_lines(e.acquired_stack) {
            writeln!(out, "{l}")?;
        }
        writeln!(out)?;
        writeln!(
            out,
            "{} previously acquired by the same Thread {} ({comm}) here:",
            labels[&from], e.tid
        )?;
        for l in describer.stack_lines(e.held_stack) {
            writeln!(out, "{l}")?;
        }
        writeln!(out)?;
    }
    for tid in threads {
        match graph.creation(tid) {
            Some(c) => {
                let comm = if c.parent_comm.is_empty() {
                    describer.comm(c.parent_tid).to_owned()
                } else {
                    c.parent_comm.clone()
                };
                writeln!(
                    out,
                    "Thread {tid} created by Thread {} ({comm}) here:",
                    c.parent_tid
                )?;
                match c.stack {
                    Some(id) => {
                        for l in describer.stack_lines(id) {
                            writeln!(out, "{l}")?;
                        }
                    }
                    None => writeln!(out, "(no stack: thread creation seen without its tracepoint)")?,
                }
            }
            None => writeln!(out, "Could not find stack trace where Thread {tid} was created")?,
        }
        writeln!(out)?;
    }
    out.flush()
}

/// The graph in BCC's `--dump-graph` layout (networkx node-link data),
/// stacks as address lists instead of BCC's stack-table ids.
pub fn graph_json(graph: &LockGraph, describer: &Describer) -> Value {
    let mut index: HashMap<u64, usize> = HashMap::new();
    let mut nodes = Vec::new();
    let mut links = Vec::new();
    let mut id = |m: u64, nodes: &mut Vec<Value>| {
        *index.entry(m).or_insert_with(|| {
            nodes.push(json!({ "id": m }));
            nodes.len() - 1
        })
    };
    let hex = |ips: &[u64]| ips.iter().map(|a| format!("{a:#x}")).collect::<Vec<_>>();
    for (from, to, e) in graph.edges() {
        let (s, t) = (id(from, &mut nodes), id(to, &mut nodes));
        links.push(json!({
            "source": s,
            "target": t,
            "thread_pid": e.tid,
            "thread_comm": describer.comm(e.tid),
            "first_mutex_stack": hex(graph.stack(e.held_stack)),
            "second_mutex_stack": hex(graph.stack(e.acquired_stack)),
        }));
    }
    json!({
        "directed": true,
        "multigraph": false,
        "graph": {},
        "nodes": nodes,
        "links": links,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cycle_prints_in_bcc_layout() {
        let mut g = LockGraph::new();
        let s = g.intern(&[0x10]);
        for (tid, a, b) in [(11, 0xa, 0xb), (12, 0xb, 0xa)] {
            g.acquire(tid, a, s);
            g.acquire(tid, b, s);
            g.release(tid, b);
            g.release(tid, a);
        }
        let mut d = Describer::new();
        d.comms.insert(11, "worker".into());
        d.mutexes.insert(0xa, "mutex_a".into());
        d.stacks
            .insert(s, vec!["@ 0000000000000010 lock_a+0x4 [prog]".into()]);
        let mut out = Vec::new();
        print_cycle(&mut out, &g, &mut d, &g.find_cycle().unwrap()).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("----------------\nPotential Deadlock Detected!\n\nCycle in lock order graph: Mutex M0 (mutex_a 0x000000000000000a) => Mutex M1 (0x000000000000000b) => Mutex M0 (mutex_a 0x000000000000000a)\n\n"), "{text}");
        assert!(text.contains("Mutex M1 (0x000000000000000b) acquired here while holding Mutex M0 (mutex_a 0x000000000000000a) in Thread 11 (worker):\n@ 0000000000000010 lock_a+0x4 [prog]\n\nMutex M0 (mutex_a 0x000000000000000a) previously acquired by the same Thread 11 (worker) here:\n"), "{text}");
        assert!(
            text.contains("Could not find stack trace where Thread 12 was created"),
            "{text}"
        );
        let j = graph_json(&g, &d);
        assert_eq!(j["links"][0]["thread_comm"], "worker");
        assert_eq!(j["links"].as_array().unwrap().len(), 2);
    }
}
