//! Counting stacks while sampling and printing them after: the shared
//! middle of `profile` and `offcputime`.
//!
//! While sampling, [`StackCounts`] only adds to a count per (process,
//! task name, kernel addresses, user addresses), so the cost per sample is
//! a hash lookup. After sampling, [`StackCounts::symbolize`] resolves each
//! distinct address once and merges stacks whose names agree (two return
//! addresses in one function line up as one frame, as BCC's output shows
//! them), giving [`NamedStack`]s that the renderers below print in BCC's
//! multi-line layout, as folded lines for FlameGraph, or as an SVG drawn
//! by inferno.

use ftr_symbols::Symbolizer;
use std::collections::HashMap;
use std::io::{self, Write};

/// Which parts of a stack to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackParts {
    /// Kernel and user.
    Both,
    /// Kernel frames only (`-K`).
    KernelOnly,
    /// User frames only (`-U`).
    UserOnly,
}

impl StackParts {
    fn kernel(self) -> bool {
        self != StackParts::UserOnly
    }
    fn user(self) -> bool {
        self != StackParts::KernelOnly
    }
}

/// (pid, comm, kernel names, user names).
type MergeKey = (u32, String, Option<Vec<String>>, Option<Vec<String>>);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct StackKey {
    pid: u32,
    comm: String,
    kernel: Vec<u64>,
    user: Vec<u64>,
}

/// Counts (or summed values, such as off-CPU microseconds) by raw stack.
#[derive(Debug, Default)]
pub struct StackCounts {
    counts: HashMap<StackKey, u64>,
    total: u64,
}

/// One stack after symbolization, frames innermost first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedStack {
    /// Process id.
    pub pid: u32,
    /// Task name.
    pub comm: String,
    /// Kernel frames, innermost first; None when the part is not shown.
    pub kernel: Option<Vec<String>>,
    /// User frames, innermost first; None when the part is not shown.
    pub user: Option<Vec<String>>,
    /// The count or summed value.
    pub value: u64,
}

impl StackCounts {
    /// No stacks yet.
    pub fn new() -> StackCounts {
        StackCounts::default()
    }

    /// Adds `value` to the stack (`kernel` and `user` innermost first).
    pub fn add(&mut self, pid: u32, comm: &str, kernel: &[u64], user: &[u64], value: u64) {
        let key = StackKey {
            pid,
            comm: comm.to_owned(),
            kernel: kernel.to_vec(),
            user: user.to_vec(),
        };
        *self.counts.entry(key).or_insert(0) += value;
        self.total += value;
    }

    /// The sum of every value added.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Distinct raw stacks.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// Resolves every distinct address once and merges stacks that read
    /// the same, keeping only `parts`; sorted by value, smallest first
    /// (BCC's order: the hottest stack ends the output, next to the prompt).
    pub fn symbolize(&self, symbolizer: &mut Symbolizer, parts: StackParts) -> Vec<NamedStack> {
        let mut kernel_names: HashMap<Vec<u64>, Vec<String>> = HashMap::new();
        let mut user_names: HashMap<(u32, Vec<u64>), Vec<String>> = HashMap::new();
        let mut merged: HashMap<MergeKey, u64> = HashMap::new();
        for (k, &v) in &self.counts {
            let kernel = parts.kernel().then(|| {
                kernel_names
                    .entry(k.kernel.clone())
                    .or_insert_with(|| names(symbolizer.kernel_stack(&k.kernel)))
                    .clone()
            });
            let user = parts.user().then(|| {
                user_names
                    .entry((k.pid, k.user.clone()))
                    .or_insert_with(|| names(symbolizer.user_stack(k.pid, &k.user)))
                    .clone()
            });
            *merged.entry((k.pid, k.comm.clone(), kernel, user)).or_insert(0) += v;
        }
        let mut out: Vec<NamedStack> = merged
            .into_iter()
            .map(|((pid, comm, kernel, user), value)| NamedStack {
                pid,
                comm,
                kernel,
                user,
                value,
            })
            .collect();
        out.sort_by(|a, b| {
            (a.value, &a.comm, a.pid, &a.user, &a.kernel).cmp(&(b.value, &b.comm, b.pid, &b.user, &b.kernel))
        });
        out
    }
}

fn names(frames: Vec<ftr_symbols::Frame>) -> Vec<String> {
    frames.iter().map(|f| f.name().to_owned()).collect()
}

/// Prints stacks the way BCC's profile and offcputime do: kernel frames
/// innermost first, `--` between kernel and user parts when both are
/// there, `-                comm (pid)`, then the value.
pub fn write_multiline(out: &mut impl Write, stacks: &[NamedStack]) -> io::Result<()> {
    for s in stacks {
        let kernel = s.kernel.as_deref().unwrap_or_default();
        let user = s.user.as_deref().unwrap_or_default();
        for f in kernel {
            writeln!(out, "    {f}")?;
        }
        if !kernel.is_empty() && !user.is_empty() {
            writeln!(out, "    --")?;
        }
        for f in user {
            writeln!(out, "    {f}")?;
        }
        writeln!(out, "    {:<16} {} ({})", "-", s.comm, s.pid)?;
        writeln!(out, "        {}\n", s.value)?;
    }
    Ok(())
}

/// One folded line, `comm;outer;...;inner value`: user frames outermost
/// first, then kernel frames (BCC profile -f, FlameGraph's
/// stackcollapse). Semicolons inside names would split frames, so they
/// become colons; spaces stay (FlameGraph splits the count off at the
/// last space).
pub fn folded_line(s: &NamedStack) -> String {
    let mut line = clean(&s.comm);
    let user = s.user.as_deref().unwrap_or_default();
    let kernel = s.kernel.as_deref().unwrap_or_default();
    for f in user.iter().rev().chain(kernel.iter().rev()) {
        line.push(';');
        line.push_str(&clean(f));
    }
    line.push(' ');
    line.push_str(&s.value.to_string());
    line
}

fn clean(name: &str) -> String {
    name.replace(';', ":").replace(['\n', '\r'], " ")
}

/// Writes every stack as a folded line.
pub fn write_folded(out: &mut impl Write, stacks: &[NamedStack]) -> io::Result<()> {
    for s in stacks {
        writeln!(out, "{}", folded_line(s))?;
    }
    Ok(())
}

/// Draws the stacks as a flame graph SVG with inferno.
pub fn write_svg(out: impl Write, stacks: &[NamedStack], title: &str, count_name: &str) -> io::Result<()> {
    let lines: Vec<String> = stacks.iter().map(folded_line).collect();
    let mut opts = inferno::flamegraph::Options::default();
    opts.title = title.to_owned();
    opts.count_name = count_name.to_owned();
    let drawn = inferno::flamegraph::from_lines(&mut opts, lines.iter().map(String::as_str), out);
    // With no stacks inferno still writes a valid SVG saying so, then
    // reports an error; an empty profile is a result, not a failure.
    match drawn {
        Err(e) if !lines.is_empty() => Err(io::Error::other(e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(kernel: &[&str], user: &[&str], value: u64) -> NamedStack {
        NamedStack {
            pid: 42,
            comm: "hot".into(),
            kernel: Some(kernel.iter().map(|s| s.to_string()).collect()),
            user: Some(user.iter().map(|s| s.to_string()).collect()),
            value,
        }
    }

    #[test]
    fn folded_lines_go_outermost_first_user_then_kernel() {
        let s = stack(&["k_inner", "k_outer"], &["hot", "middle", "main"], 7);
        assert_eq!(folded_line(&s), "hot;main;middle;hot;k_outer;k_inner 7");
        let s = stack(&[], &["a;b"], 1);
        assert_eq!(folded_line(&s), "hot;a:b 1");
    }

    #[test]
    fn multiline_separates_kernel_and_user() {
        let mut out = Vec::new();
        write_multiline(&mut out, &[stack(&["k"], &["u"], 3)]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "    k\n    --\n    u\n    -                hot (42)\n        3\n\n"
        );
    }

    #[test]
    fn unresolvable_stacks_merge_by_name_and_sort_ascending() {
        let mut c = StackCounts::new();
        c.add(u32::MAX - 1, "x", &[], &[0x10], 2);
        c.add(u32::MAX - 1, "x", &[], &[0x20], 3);
        c.add(u32::MAX - 1, "y", &[], &[0x20], 1);
        assert_eq!(c.total(), 6);
        let mut s = Symbolizer::new();
        let named = c.symbolize(&mut s, StackParts::UserOnly);
        assert_eq!(named.len(), 2, "{named:?}");
        assert_eq!(named[0].value, 1);
        assert_eq!(named[1].value, 5);
        assert_eq!(named[1].kernel, None);
    }

    #[test]
    fn svg_is_drawn() {
        let mut out = Vec::new();
        write_svg(&mut out, &[stack(&[], &["hot", "main"], 3)], "t", "samples").unwrap();
        let svg = String::from_utf8(out).unwrap();
        assert!(svg.contains("<svg") && svg.contains("hot"));
        let mut out = Vec::new();
        write_svg(&mut out, &[], "t", "samples").unwrap();
        assert!(String::from_utf8(out).unwrap().contains("<svg"));
    }
}
