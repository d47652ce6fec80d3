//! The lock-order graph: which mutexes each thread holds, an edge held →
//! acquired each time a thread takes a mutex while holding another (with
//! where both were taken), and the first cycle, which is a potential
//! deadlock. Pure: fed lock events in time order, no I/O.

use std::collections::HashMap;

/// An interned user call chain (innermost first).
pub type StackId = usize;

/// How an edge came to be: the first time it was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeInfo {
    /// The thread that held `from` while taking `to`.
    pub tid: u32,
    /// Where that thread took the held mutex.
    pub held_stack: StackId,
    /// Where it took the second one.
    pub acquired_stack: StackId,
}

/// Where a thread was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Creation {
    /// The creating thread.
    pub parent_tid: u32,
    /// Its name then.
    pub parent_comm: String,
    /// Its call chain at clone (None when only a FORK record was seen).
    pub stack: Option<StackId>,
}

/// Mutexes a thread holds, with the stack of each acquisition, in order.
type Held = Vec<(u64, StackId)>;

/// The graph and the per-thread state that builds it.
#[derive(Debug, Default)]
pub struct LockGraph {
    stacks: Vec<Vec<u64>>,
    stack_ids: HashMap<Vec<u64>, StackId>,
    held: HashMap<u32, Held>,
    /// A trylock (or timedlock) entered and not yet returned, per thread.
    pending: HashMap<u32, (u64, StackId)>,
    /// Mutexes in the order first seen: node numbering.
    nodes: Vec<u64>,
    node_index: HashMap<u64, usize>,
    /// Adjacency by node index, targets in the order first seen.
    adjacency: Vec<Vec<usize>>,
    edges: HashMap<(u64, u64), EdgeInfo>,
    creations: HashMap<u32, Creation>,
    /// Acquisitions and releases seen.
    pub acquisitions: u64,
    /// Releases seen.
    pub releases: u64,
    /// Releases of a mutex the thread was not known to hold (taken before
    /// tracing started, or its acquisition was lost).
    pub unmatched_releases: u64,
}

/// A new edge, for the caller to describe while the process still lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewEdge {
    /// Held mutex.
    pub from: u64,
    /// Acquired mutex.
    pub to: u64,
}

impl LockGraph {
    /// An empty graph.
    pub fn new() -> LockGraph {
        LockGraph::default()
    }

    /// Interns a call chain.
    pub fn intern(&mut self, stack: &[u64]) -> StackId {
        if let Some(&id) = self.stack_ids.get(stack) {
            return id;
        }
        let id = self.stacks.len();
        self.stacks.push(stack.to_vec());
        self.stack_ids.insert(stack.to_vec(), id);
        id
    }

    /// The call chain of `id`.
    pub fn stack(&self, id: StackId) -> &[u64] {
        &self.stacks[id]
    }

    fn node(&mut self, mutex: u64) -> usize {
        if let Some(&i) = self.node_index.get(&mutex) {
            return i;
        }
        let i = self.nodes.len();
        self.nodes.push(mutex);
        self.node_index.insert(mutex, i);
        self.adjacency.push(Vec::new());
        i
    }

    /// Thread `tid` took `mutex` at `stack`: an edge from every mutex it
    /// holds. A mutex it already holds adds nothing (recursive mutexes;
    /// BCC skips self edges the same way). Returns the edges new to the
    /// graph.
    pub fn acquire(&mut self, tid: u32, mutex: u64, stack: StackId) -> Vec<NewEdge> {
        self.acquisitions += 1;
        let held = self.held.entry(tid).or_default();
        if held.iter().any(|&(m, _)| m == mutex) {
            return Vec::new();
        }
        let before: Held = held.clone();
        held.push((mutex, stack));
        let to = self.node(mutex);
        let mut new = Vec::new();
        for (from_mutex, held_stack) in before {
            if self.edges.contains_key(&(from_mutex, mutex)) {
                continue;
            }
            let from = self.node(from_mutex);
            self.adjacency[from].push(to);
            self.edges.insert(
                (from_mutex, mutex),
                EdgeInfo {
                    tid,
                    held_stack,
                    acquired_stack: stack,
                },
            );
            new.push(NewEdge {
                from: from_mutex,
                to: mutex,
            });
        }
        new
    }

    /// Thread `tid` released `mutex`.
    pub fn release(&mut self, tid: u32, mutex: u64) {
        self.releases += 1;
        let held = self.held.entry(tid).or_default();
        match held.iter().rposition(|&(m, _)| m == mutex) {
            Some(i) => {
                held.remove(i);
            }
            None => self.unmatched_releases += 1,
        }
    }

    /// Thread `tid` entered a conditional lock (trylock, timedlock) on
    /// `mutex`; it counts as taken when [`LockGraph::conditional_return`]
    /// says it succeeded.
    pub fn conditional_enter(&mut self, tid: u32, mutex: u64, stack: StackId) {
        self.pending.insert(tid, (mutex, stack));
    }

    /// The conditional lock of `tid` returned `value` (0: taken).
    pub fn conditional_return(&mut self, tid: u32, value: u64) -> Vec<NewEdge> {
        match self.pending.remove(&tid) {
            Some((mutex, stack)) if value as u32 == 0 => self.acquire(tid, mutex, stack),
            _ => Vec::new(),
        }
    }

    /// Thread `tid` ended: whatever it held is forgotten.
    pub fn thread_exit(&mut self, tid: u32) {
        self.held.remove(&tid);
        self.pending.remove(&tid);
    }

    /// Thread `child` was created by `creation.parent_tid`. A later record
    /// with a stack replaces one without.
    pub fn created(&mut self, child: u32, creation: Creation) {
        match self.creations.get(&child) {
            Some(c) if c.stack.is_some() && creation.stack.is_none() => {}
            _ => {
                self.creations.insert(child, creation);
            }
        }
    }

    /// Where `tid` was created, if seen.
    pub fn creation(&self, tid: u32) -> Option<&Creation> {
        self.creations.get(&tid)
    }

    /// The edge from `from` to `to`.
    pub fn edge(&self, from: u64, to: u64) -> Option<&EdgeInfo> {
        self.edges.get(&(from, to))
    }

    /// Mutexes in the graph.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Edges in the graph.
    pub fn edge_count(&self) -> usize {
        self.edges.len()
    }

    /// Every edge as (from, to, info), in the order nodes were first seen.
    pub fn edges(&self) -> Vec<(u64, u64, &EdgeInfo)> {
        let mut out = Vec::with_capacity(self.edges.len());
        for (i, targets) in self.adjacency.iter().enumerate() {
            for &t in targets {
                let (a, b) = (self.nodes[i], self.nodes[t]);
                out.push((a, b, &self.edges[&(a, b)]));
            }
        }
        out
    }

    /// The first cycle in the graph, as the mutexes along it (the first
    /// not repeated at the end), starting at the one seen earliest; None
    /// when the lock order is consistent.
    ///
    /// Iterative depth-first search in node order: a grey target is a back
    /// edge and closes a cycle. Deterministic for a given event order.
    pub fn find_cycle(&self) -> Option<Vec<u64>> {
        const WHITE: u8 = 0;
        const GREY: u8 = 1;
        const BLACK: u8 = 2;
        let n = self.nodes.len();
        let mut colour = vec![WHITE; n];
        for root in 0..n {
            if colour[root] != WHITE {
                continue;
            }
            // (node, next adjacency index)
            let mut path: Vec<(usize, usize)> = vec![(root, 0)];
            colour[root] = GREY;
            while let Some(&mut (node, ref mut next)) = path.last_mut() {
                if let Some(&target) = self.adjacency[node].get(*next) {
                    *next += 1;
                    match colour[target] {
                        WHITE => {
                            colour[target] = GREY;
                            path.push((target, 0));
                        }
                        GREY => {
                            let start = path
                                .iter()
                                .position(|&(p, _)| p == target)
                                .expect("grey is on the path");
                            let mut cycle: Vec<usize> = path[start..].iter().map(|&(p, _)| p).collect();
                            let first = (0..cycle.len()).min_by_key(|&i| cycle[i]).unwrap_or(0);
                            cycle.rotate_left(first);
                            return Some(cycle.into_iter().map(|i| self.nodes[i]).collect());
                        }
                        _ => {}
                    }
                } else {
                    colour[node] = BLACK;
                    path.pop();
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const A: u64 = 0xa0;
    const B: u64 = 0xb0;
    const C: u64 = 0xc0;

    fn take_pair(g: &mut LockGraph, tid: u32, first: u64, second: u64) {
        let s1 = g.intern(&[1, tid as u64]);
        let s2 = g.intern(&[2, tid as u64]);
        g.acquire(tid, first, s1);
        g.acquire(tid, second, s2);
        g.release(tid, second);
        g.release(tid, first);
    }

    #[test]
    fn three_threads_in_cyclic_order_make_one_cycle() {
        let mut g = LockGraph::new();
        take_pair(&mut g, 1, A, B);
        take_pair(&mut g, 2, B, C);
        assert_eq!(g.find_cycle(), None);
        take_pair(&mut g, 3, C, A);
        assert_eq!(g.find_cycle(), Some(vec![A, B, C]));
        let e = g.edge(C, A).unwrap();
        assert_eq!(e.tid, 3);
        assert_eq!(g.stack(e.held_stack), &[1, 3]);
        assert_eq!(g.stack(e.acquired_stack), &[2, 3]);
        assert_eq!((g.node_count(), g.edge_count()), (3, 3));
    }

    #[test]
    fn a_consistent_order_and_released_locks_make_no_edge_or_cycle() {
        let mut g = LockGraph::new();
        for t in 1..4 {
            take_pair(&mut g, t, A, B);
            take_pair(&mut g, t, B, C);
        }
        assert_eq!(g.find_cycle(), None);
        let s = g.intern(&[9]);
        // Sequential, not nested: no edge.
        g.acquire(7, C, s);
        g.release(7, C);
        g.acquire(7, A, s);
        g.release(7, A);
        assert_eq!(g.find_cycle(), None);
        assert_eq!(g.edge_count(), 2);
    }

    #[test]
    fn recursive_locks_and_unknown_releases_add_nothing() {
        let mut g = LockGraph::new();
        let s = g.intern(&[1]);
        assert!(g.acquire(1, A, s).is_empty());
        assert!(g.acquire(1, A, s).is_empty());
        g.release(1, B);
        assert_eq!(g.unmatched_releases, 1);
        assert_eq!(g.edge_count(), 0);
    }

    #[test]
    fn trylock_counts_only_when_it_succeeded() {
        let mut g = LockGraph::new();
        let s = g.intern(&[1]);
        g.acquire(1, A, s);
        g.conditional_enter(1, B, s);
        assert!(g.conditional_return(1, 16).is_empty(), "EBUSY");
        g.conditional_enter(1, B, s);
        assert_eq!(g.conditional_return(1, 0), vec![NewEdge { from: A, to: B }]);
    }

    #[test]
    fn a_thread_exit_forgets_what_it_held() {
        let mut g = LockGraph::new();
        let s = g.intern(&[1]);
        g.acquire(1, A, s);
        g.thread_exit(1);
        g.acquire(1, B, s);
        assert_eq!(g.edge_count(), 0);
    }

    proptest! {
        /// Any lock sequence: a reported cycle is a real closed path of
        /// edges through distinct mutexes.
        #[test]
        fn reported_cycles_are_closed_paths(ops in proptest::collection::vec((0u32..3, 0u64..5, any::<bool>()), 0..200)) {
            let mut g = LockGraph::new();
            let s = g.intern(&[1]);
            for (tid, m, take) in ops {
                if take { g.acquire(tid, m, s); } else { g.release(tid, m); }
            }
            if let Some(c) = g.find_cycle() {
                let mut seen = std::collections::HashSet::new();
                for (i, &m) in c.iter().enumerate() {
                    prop_assert!(seen.insert(m));
                    let next = c[(i + 1) % c.len()];
                    prop_assert!(g.edge(m, next).is_some());
                }
            }
        }
    }
}
