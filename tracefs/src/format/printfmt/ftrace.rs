//! The function tracers' records as `trace-cmd report` prints them.
//!
//! trace-cmd (3.1.6) replaces the print fmt of three ftrace events:
//! - `function`, by libtraceevent's function plugin
//!   (plugins/plugin_function.c): the function name indented by a call
//!   depth it guesses from the parents seen before on the same CPU, the
//!   parent itself only with the plugin's `parent` option (off);
//! - `funcgraph_entry` and `funcgraph_exit`, by lib/trace-cmd/trace-ftrace.c:
//!   an entry whose very next record (over all CPUs, in time order) is its
//!   own exit prints as one leaf line `1.025 us | func();` and swallows the
//!   exit; any other entry opens a block `| func() {` that its exit closes
//!   with `duration | }`. Durations carry the kernel's overhead marks
//!   (`+` > 10 us, `!` > 100 us, `#` > 1 ms, `$` > 1 s).
//!
//! Pure: records in, text out. The caller does the peeking, since only it
//! knows the merged order of the CPUs.
//!
//! ```
//! use ftr_tracefs::format::printfmt::{Ctx, FtraceKind, FtraceRenderer, Symbols};
//! use ftr_tracefs::format::{Formats, Schema};
//! use ftr_tracefs::Endian;
//! let entry = "name: funcgraph_entry\nID: 11\nformat:\n\
//! \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
//! \tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\
//! \tfield:unsigned long func;\toffset:8;\tsize:8;\tsigned:0;\n\
//! \tfield:int depth;\toffset:16;\tsize:4;\tsigned:1;\n\n\
//! print fmt: \"--> %ps (%d)\", (void *)REC->func, REC->depth\n";
//! let mut formats = Formats::new();
//! let mut schema = Schema::parse("ftrace", entry)?;
//! schema.system = "ftrace".into();
//! formats.insert(schema);
//! let r = FtraceRenderer::new(&formats);
//! assert_eq!(r.kind(11), Some(FtraceKind::GraphEntry));
//! let mut rec = vec![0u8; 24];
//! rec[0..2].copy_from_slice(&11u16.to_le_bytes());
//! rec[8..16].copy_from_slice(&0xffff_0000u64.to_le_bytes());
//! rec[16..20].copy_from_slice(&1i32.to_le_bytes());
//! let syms = Symbols::parse("ffff0000 T vfs_read\nffff1000 T vfs_write\n");
//! let ctx = Ctx { endian: Endian::Little, long_size: 8, syms: &syms };
//! let mut out = String::new();
//! r.render_graph_entry(&ctx, &rec, None, &mut out);
//! assert_eq!(out, "             |    vfs_read() {");
//! # Ok::<(), ftr_tracefs::format::FormatError>(())
//! ```

use super::eval::Ctx;
use crate::format::{Formats, Schema};
use crate::Endian;

/// Which of the function tracers' events a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FtraceKind {
    /// `ftrace:function`.
    Function,
    /// `ftrace:funcgraph_entry`.
    GraphEntry,
    /// `ftrace:funcgraph_exit`.
    GraphExit,
}

/// Spaces per level of function_graph depth (`TRACE_GRAPH_INDENT`).
const GRAPH_INDENT: usize = 2;
/// Spaces per guessed call level of the function plugin.
const FUNCTION_INDENT: usize = 3;
/// Indentation is capped here: the kernel's depth stays below a few
/// hundred, so only corrupted records reach it, and they must not make a
/// line of gigabytes.
const MAX_INDENT: usize = 4096;

/// Where one field lies in a record.
#[derive(Debug, Clone, Copy)]
struct Slot {
    offset: usize,
    size: usize,
}

impl Slot {
    fn of(schema: &Schema, name: &str) -> Option<Slot> {
        let f = schema.fields.iter().find(|f| f.name == name)?;
        Some(Slot {
            offset: f.offset,
            size: f.size,
        })
    }

    /// The field as libtraceevent's `tep_read_number` reads it: unsigned,
    /// not sign-extended.
    fn read(slot: Option<Slot>, data: &[u8], endian: Endian) -> Option<u64> {
        let s = slot?;
        match s.size {
            1 | 2 | 4 | 8 => endian.uint(data, s.offset, s.size),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
struct FunctionEvent {
    id: u16,
    ip: Option<Slot>,
    parent_ip: Option<Slot>,
}

#[derive(Debug, Clone)]
struct GraphEvent {
    id: u16,
    pid: Option<Slot>,
    func: Option<Slot>,
    depth: Option<Slot>,
    calltime: Option<Slot>,
    rettime: Option<Slot>,
}

impl GraphEvent {
    fn of(s: &Schema) -> GraphEvent {
        GraphEvent {
            id: s.id,
            pid: Slot::of(s, "common_pid"),
            func: Slot::of(s, "func"),
            depth: Slot::of(s, "depth"),
            calltime: Slot::of(s, "calltime"),
            rettime: Slot::of(s, "rettime"),
        }
    }
}

/// Renders the function tracers' records of one file, keeping the
/// function plugin's per-CPU call stacks between records (so records must
/// be given in the order they are printed).
#[derive(Debug, Clone, Default)]
pub struct FtraceRenderer {
    function: Option<FunctionEvent>,
    entry: Option<GraphEvent>,
    exit: Option<GraphEvent>,
    /// Per CPU, the function names seen as parents and children, in call
    /// order as far as the plugin can tell. Entries past a match are not
    /// dropped, exactly as the plugin's `add_child` leaves them.
    stacks: Vec<Vec<Option<Box<str>>>>,
}

impl FtraceRenderer {
    /// Finds the `ftrace` events of `formats` that trace-cmd renders itself.
    pub fn new(formats: &Formats) -> FtraceRenderer {
        FtraceRenderer {
            function: formats.find("ftrace", "function").map(|s| FunctionEvent {
                id: s.id,
                ip: Slot::of(s, "ip"),
                parent_ip: Slot::of(s, "parent_ip"),
            }),
            entry: formats.find("ftrace", "funcgraph_entry").map(GraphEvent::of),
            exit: formats.find("ftrace", "funcgraph_exit").map(GraphEvent::of),
            stacks: Vec::new(),
        }
    }

    /// Which function tracer event the type `id` is, if any.
    #[inline]
    pub fn kind(&self, id: u16) -> Option<FtraceKind> {
        if self.function.as_ref().is_some_and(|f| f.id == id) {
            Some(FtraceKind::Function)
        } else if self.entry.as_ref().is_some_and(|f| f.id == id) {
            Some(FtraceKind::GraphEntry)
        } else if self.exit.as_ref().is_some_and(|f| f.id == id) {
            Some(FtraceKind::GraphExit)
        } else {
            None
        }
    }

    /// Whether `next` (the record that follows the funcgraph_entry `entry`
    /// in the merged order) is that call's own exit: a funcgraph_exit of
    /// the same pid and function (trace-ftrace.c `get_return_for_leaf`).
    /// The entry is then a leaf and `next` is printed with it, not alone.
    pub fn is_leaf_exit(&self, endian: Endian, entry: &[u8], next: &[u8]) -> bool {
        let (Some(en), Some(ex)) = (&self.entry, &self.exit) else {
            return false;
        };
        if endian.u16(next, 0) != Some(ex.id) {
            return false;
        }
        let same = |a: Option<Slot>, b: Option<Slot>| {
            matches!(
                (Slot::read(a, entry, endian), Slot::read(b, next, endian)),
                (Some(x), Some(y)) if x == y
            )
        };
        same(en.pid, ex.pid) && same(en.func, ex.func)
    }

    /// Appends a funcgraph_entry: the leaf line when `exit` is its own
    /// exit record (see [`FtraceRenderer::is_leaf_exit`]), else the opening
    /// of a block. A field the record lacks prints `!`, as trace-cmd does.
    pub fn render_graph_entry(&self, ctx: &Ctx<'_>, entry: &[u8], exit: Option<&[u8]>, out: &mut String) {
        let Some(en) = &self.entry else { return };
        let e = ctx.endian;
        if Slot::read(en.pid, entry, e).is_none() || Slot::read(en.func, entry, e).is_none() {
            out.push('!');
            return;
        }
        match (exit, &self.exit) {
            (Some(x), Some(ex)) => {
                let (Some(call), Some(ret)) = (Slot::read(ex.calltime, x, e), Slot::read(ex.rettime, x, e))
                else {
                    out.push('!');
                    return;
                };
                push_duration(out, ret.wrapping_sub(call));
                let Some(depth) = Slot::read(en.depth, entry, e) else {
                    out.push('!');
                    return;
                };
                push_indent(out, depth);
                push_func(ctx, out, Slot::read(en.func, entry, e));
                out.push_str("();");
            }
            _ => {
                out.push_str("             |  ");
                let Some(depth) = Slot::read(en.depth, entry, e) else {
                    out.push('!');
                    return;
                };
                push_indent(out, depth);
                push_func(ctx, out, Slot::read(en.func, entry, e));
                out.push_str("() {");
            }
        }
    }

    /// Appends a funcgraph_exit that closes a block: its duration and `}`.
    pub fn render_graph_exit(&self, ctx: &Ctx<'_>, exit: &[u8], out: &mut String) {
        let Some(ex) = &self.exit else { return };
        let e = ctx.endian;
        let (Some(call), Some(ret)) = (Slot::read(ex.calltime, exit, e), Slot::read(ex.rettime, exit, e))
        else {
            out.push('!');
            return;
        };
        push_duration(out, ret.wrapping_sub(call));
        let Some(depth) = Slot::read(ex.depth, exit, e) else {
            out.push('!');
            return;
        };
        push_indent(out, depth);
        out.push('}');
    }

    /// Appends a `function` record recorded on `cpu`: the function, indented
    /// three spaces for each level its parent sits at in what this CPU
    /// showed before (plugin_function.c `add_and_get_index`).
    pub fn render_function(&mut self, ctx: &Ctx<'_>, cpu: u32, data: &[u8], out: &mut String) {
        let Some(f) = &self.function else { return };
        let (Some(ip), Some(pip)) = (
            Slot::read(f.ip, data, ctx.endian),
            Slot::read(f.parent_ip, data, ctx.endian),
        ) else {
            out.push('!');
            return;
        };
        let func = ctx.syms.lookup(ip).map(|s| s.0);
        let parent = ctx.syms.lookup(pip).map(|s| s.0);
        let index = match parent {
            Some(p) => self.call_level(cpu as usize, p, func),
            None => 0,
        };
        out.extend(std::iter::repeat_n(
            ' ',
            (index * FUNCTION_INDENT).min(MAX_INDENT),
        ));
        match func {
            Some(name) => out.push_str(name),
            None => {
                use std::fmt::Write as _;
                let _ = write!(out, "0x{ip:x}");
            }
        }
    }

    /// The level of `parent` in `cpu`'s stack, recording `child` one
    /// below it; a parent not seen before restarts the stack at level 0.
    fn call_level(&mut self, cpu: usize, parent: &str, child: Option<&str>) -> usize {
        if self.stacks.len() <= cpu {
            self.stacks.resize_with(cpu + 1, Vec::new);
        }
        let stack = &mut self.stacks[cpu];
        let found = stack.iter().map_while(|s| s.as_deref()).position(|s| s == parent);
        let put = |stack: &mut Vec<Option<Box<str>>>, pos: usize, name: Option<&str>| {
            let Some(name) = name else { return };
            if stack.len() <= pos {
                stack.resize_with(pos + 1, || None);
            }
            stack[pos] = Some(name.into());
        };
        match found {
            Some(i) => {
                put(stack, i + 1, child);
                i
            }
            None => {
                put(stack, 0, Some(parent));
                put(stack, 1, child);
                0
            }
        }
    }
}

/// The overhead mark, the duration in microseconds with three decimals
/// (none once the integer part has 7 digits), padded to the ` |  ` column
/// (trace-ftrace.c `print_graph_overhead`, `print_graph_duration`).
fn push_duration(out: &mut String, ns: u64) {
    use std::fmt::Write as _;
    out.push_str(match ns {
        d if d > 1_000_000_000 => "$ ",
        d if d > 1_000_000 => "# ",
        d if d > 100_000 => "! ",
        d if d > 10_000 => "+ ",
        _ => "  ",
    });
    let start = out.len();
    let _ = write!(out, "{}", ns / 1000);
    if out.len() - start < 7 {
        let _ = write!(out, ".{:03}", ns % 1000);
    }
    let len = out.len() - start;
    out.push_str(" us ");
    out.extend(std::iter::repeat_n(' ', 7usize.saturating_sub(len)));
    out.push_str("|  ");
}

/// `depth * 2` spaces; the C loop runs to `(int)(depth * 2)`, so depths
/// that wrap negative print none.
fn push_indent(out: &mut String, depth: u64) {
    let n = depth.wrapping_mul(GRAPH_INDENT as u64) as i32;
    out.extend(std::iter::repeat_n(' ', (n.max(0) as usize).min(MAX_INDENT)));
}

/// The function's name, or its address in hex when no symbol covers it.
fn push_func(ctx: &Ctx<'_>, out: &mut String, addr: Option<u64>) {
    let Some(a) = addr else { return };
    match ctx.syms.lookup(a) {
        Some((name, _)) => out.push_str(name),
        None => {
            use std::fmt::Write as _;
            let _ = write!(out, "{a:x}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::printfmt::Symbols;
    use proptest::prelude::*;

    const HEAD: &str = "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n";

    fn formats() -> Formats {
        let texts = [
            format!("name: function\nID: 1\nformat:\n{HEAD}\tfield:unsigned long ip;\toffset:8;\tsize:8;\tsigned:0;\n\tfield:unsigned long parent_ip;\toffset:16;\tsize:8;\tsigned:0;\n\nprint fmt: \" %ps <-- %ps\", (void *)REC->ip, (void *)REC->parent_ip\n"),
            format!("name: funcgraph_exit\nID: 10\nformat:\n{HEAD}\tfield:unsigned long func;\toffset:8;\tsize:8;\tsigned:0;\n\tfield:int depth;\toffset:16;\tsize:4;\tsigned:1;\n\tfield:unsigned int overrun;\toffset:20;\tsize:4;\tsigned:0;\n\tfield:unsigned long long calltime;\toffset:24;\tsize:8;\tsigned:0;\n\tfield:unsigned long long rettime;\toffset:32;\tsize:8;\tsigned:0;\n\nprint fmt: \"<-- %ps (%d) (start: %llx  end: %llx) over: %d\", (void *)REC->func, REC->depth, REC->calltime, REC->rettime, REC->depth\n"),
            format!("name: funcgraph_entry\nID: 11\nformat:\n{HEAD}\tfield:unsigned long func;\toffset:8;\tsize:8;\tsigned:0;\n\tfield:int depth;\toffset:16;\tsize:4;\tsigned:1;\n\nprint fmt: \"--> %ps (%d)\", (void *)REC->func, REC->depth\n"),
        ];
        texts
            .iter()
            .map(|t| {
                let mut s = Schema::parse("ftrace", t).unwrap();
                s.system = "ftrace".into();
                s
            })
            .collect()
    }

    fn syms() -> Symbols {
        Symbols::parse("ffff0000 T vfs_read\nffff0100 T rw_verify_area\nffff0200 T ksys_read\nffff0300 T do_syscall_64\nffff0400 T end\n")
    }

    fn ctx(s: &Symbols) -> Ctx<'_> {
        Ctx {
            endian: Endian::Little,
            long_size: 8,
            syms: s,
        }
    }

    fn entry(pid: i32, func: u64, depth: i32) -> Vec<u8> {
        let mut r = vec![0u8; 20];
        r[0..2].copy_from_slice(&11u16.to_le_bytes());
        r[4..8].copy_from_slice(&pid.to_le_bytes());
        r[8..16].copy_from_slice(&func.to_le_bytes());
        r[16..20].copy_from_slice(&depth.to_le_bytes());
        r
    }

    fn exit(pid: i32, func: u64, depth: i32, ns: u64) -> Vec<u8> {
        let mut r = vec![0u8; 40];
        r[0..2].copy_from_slice(&10u16.to_le_bytes());
        r[4..8].copy_from_slice(&pid.to_le_bytes());
        r[8..16].copy_from_slice(&func.to_le_bytes());
        r[16..20].copy_from_slice(&depth.to_le_bytes());
        r[24..32].copy_from_slice(&1_000u64.to_le_bytes());
        r[32..40].copy_from_slice(&(1_000 + ns).to_le_bytes());
        r
    }

    #[test]
    fn graph_lines_match_trace_cmd() {
        let s = syms();
        let r = FtraceRenderer::new(&formats());
        let en = entry(7, 0xffff_0000, 0);
        let leaf = entry(7, 0xffff_0108, 1);
        let ex = exit(7, 0xffff_0108, 1, 1025);
        assert!(r.is_leaf_exit(Endian::Little, &leaf, &ex));
        assert!(!r.is_leaf_exit(Endian::Little, &en, &ex), "another function");
        assert!(
            !r.is_leaf_exit(Endian::Little, &entry(8, 0xffff_0108, 1), &ex),
            "another pid"
        );
        assert!(!r.is_leaf_exit(Endian::Little, &leaf, &leaf), "not an exit");
        let line = |f: &dyn Fn(&mut String)| {
            let mut o = String::new();
            f(&mut o);
            o
        };
        assert_eq!(
            line(&|o| r.render_graph_entry(&ctx(&s), &en, None, o)),
            "             |  vfs_read() {"
        );
        assert_eq!(
            line(&|o| r.render_graph_entry(&ctx(&s), &leaf, Some(&ex), o)),
            "  1.025 us   |    rw_verify_area();"
        );
        let cases = [
            (108_529, "! 108.529 us |  }"),
            (54_221, "+ 54.221 us  |  }"),
            (10_000, "  10.000 us  |  }"),
            (1_500_000, "# 1500.000 us |  }"),
            (2_000_000_000, "$ 2000000 us |  }"),
            (999, "  0.999 us   |  }"),
        ];
        for (ns, want) in cases {
            assert_eq!(
                line(&|o| r.render_graph_exit(&ctx(&s), &exit(7, 0xffff_0000, 0, ns), o)),
                want
            );
        }
        assert_eq!(
            line(&|o| r.render_graph_entry(&ctx(&s), &entry(7, 0x10, 2), None, o)),
            "             |      10() {",
            "an address no symbol covers"
        );
        assert_eq!(line(&|o| r.render_graph_entry(&ctx(&s), &en[..12], None, o)), "!");
    }

    #[test]
    fn function_indent_follows_parents_per_cpu() {
        let s = syms();
        let mut r = FtraceRenderer::new(&formats());
        let rec = |ip: u64, parent: u64| {
            let mut v = vec![0u8; 24];
            v[0..2].copy_from_slice(&1u16.to_le_bytes());
            v[8..16].copy_from_slice(&ip.to_le_bytes());
            v[16..24].copy_from_slice(&parent.to_le_bytes());
            v
        };
        let mut line = |cpu: u32, ip: u64, parent: u64| {
            let mut o = String::new();
            r.render_function(&ctx(&s), cpu, &rec(ip, parent), &mut o);
            o
        };
        // ksys_read <- do_syscall_64, vfs_read <- ksys_read, rw_verify_area <- vfs_read
        assert_eq!(line(0, 0xffff_0200, 0xffff_0310), "ksys_read");
        assert_eq!(line(0, 0xffff_0000, 0xffff_0220), "   vfs_read");
        assert_eq!(line(0, 0xffff_0100, 0xffff_0010), "      rw_verify_area");
        assert_eq!(
            line(1, 0xffff_0100, 0xffff_0010),
            "rw_verify_area",
            "CPU 1 has its own stack"
        );
        assert_eq!(line(0, 0xffff_0000, 0xffff_0220), "   vfs_read");
        assert_eq!(line(0, 0x10, 0xffff_0010), "      0x10");
        assert_eq!(
            line(0, 0xffff_0000, 0x10),
            "vfs_read",
            "unknown parent: no indent"
        );
    }

    proptest! {
        #[test]
        fn any_record_renders_without_panic(data in prop::collection::vec(any::<u8>(), 0..48),
                                            next in prop::collection::vec(any::<u8>(), 0..48),
                                            cpu in 0u32..300) {
            let s = syms();
            let mut r = FtraceRenderer::new(&formats());
            let mut out = String::new();
            let leaf = r.is_leaf_exit(Endian::Little, &data, &next);
            r.render_graph_entry(&ctx(&s), &data, leaf.then_some(&next[..]), &mut out);
            r.render_graph_entry(&ctx(&s), &data, Some(&next), &mut out);
            r.render_graph_exit(&ctx(&s), &data, &mut out);
            r.render_function(&ctx(&s), cpu, &data, &mut out);
            prop_assert!(out.len() < 4 * (MAX_INDENT + 64));
        }
    }
}
