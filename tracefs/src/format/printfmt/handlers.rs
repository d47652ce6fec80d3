//! Renderers that replace an event's print fmt, as trace-cmd's default
//! libtraceevent plugins do (plugins/plugin_sched_switch.c,
//! plugins/plugin_hrtimer.c). `trace-cmd report` loads them by default, so
//! matching its output means matching them.

use super::eval::Rec;
use super::printf::{push_hex, push_u64};
use crate::format::Field;

/// Which plugin renders an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// sched:sched_switch; `states` holds the prev_state letter of each bit.
    SchedSwitch { states: String },
    /// sched:sched_wakeup and sched_wakeup_new.
    SchedWakeup,
    /// timer:hrtimer_expire_entry.
    HrtimerExpire,
    /// timer:hrtimer_start.
    HrtimerStart,
}

/// The fields a plugin reads, by name, in slot order.
const NAMES: [&str; 15] = [
    "pid",        // 0
    "comm",       // 1
    "prio",       // 2
    "success",    // 3
    "target_cpu", // 4
    "prev_pid",   // 5
    "prev_comm",  // 6
    "prev_prio",  // 7
    "prev_state", // 8
    "next_pid",   // 9
    "next_comm",  // 10
    "next_prio",  // 11
    "timer",      // 12
    "hrtimer",    // 13
    "function",   // 14
];

/// A plugin and the event's fields it reads, looked up once per event
/// type rather than by name for every record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Handler {
    kind: Kind,
    slots: [Option<(usize, usize)>; NAMES.len()],
}

impl Handler {
    pub(crate) fn for_event(system: &str, name: &str, fields: &[Field]) -> Option<Handler> {
        let kind = match (system, name) {
            // libtraceevent up to 1.7 (what trace-cmd 3.1 uses) prints
            // prev_state from this fixed table; 1.8 derives it from the
            // event's __print_flags instead ("SDTtXZPI" on 6.x kernels).
            ("sched", "sched_switch") => Kind::SchedSwitch {
                states: "SDTtZXxW".to_owned(),
            },
            ("sched", "sched_wakeup" | "sched_wakeup_new") => Kind::SchedWakeup,
            ("timer", "hrtimer_expire_entry") => Kind::HrtimerExpire,
            ("timer", "hrtimer_start") => Kind::HrtimerStart,
            _ => return None,
        };
        let mut slots = [None; NAMES.len()];
        for (slot, n) in slots.iter_mut().zip(NAMES) {
            *slot = fields.iter().find(|f| f.name == n).map(|f| (f.offset, f.size));
        }
        Some(Handler { kind, slots })
    }

    /// Renders; `learn` receives (pid, comm) pairs the plugin registers.
    pub(crate) fn render(&self, rec: &Rec<'_>, out: &mut String, learn: &mut dyn FnMut(i32, &str)) {
        let h = Fields {
            rec,
            slots: &self.slots,
        };
        match &self.kind {
            Kind::SchedSwitch { states } => sched_switch(&h, states, out, learn),
            Kind::SchedWakeup => sched_wakeup(&h, out, learn),
            Kind::HrtimerExpire => {
                out.push_str("hrtimer=");
                match h.num(12).or_else(|| h.num(13)) {
                    Some(v) => {
                        out.push_str("0x");
                        push_hex(out, v);
                    }
                    None => out.push_str("CAN'T FIND FIELD \"hrtimer\""),
                }
                out.push_str(" now=");
                num_or_err(rec, "now", out);
                func_field(&h, " function=", 14, out);
            }
            Kind::HrtimerStart => {
                out.push_str("hrtimer=");
                match h.num(12).or_else(|| h.num(13)) {
                    Some(v) => {
                        out.push_str("0x");
                        push_hex(out, v);
                    }
                    None => out.push_str("CAN'T FIND FIELD \"hrtimer\""),
                }
                func_field(&h, " function=", 14, out);
                out.push_str(" expires=");
                num_or_err(rec, "expires", out);
                out.push_str(" softexpires=");
                num_or_err(rec, "softexpires", out);
            }
        }
    }
}

/// A record with the plugin's fields resolved to (offset, size).
struct Fields<'r, 'a> {
    rec: &'r Rec<'a>,
    slots: &'r [Option<(usize, usize)>; NAMES.len()],
}

impl Fields<'_, '_> {
    fn num(&self, slot: usize) -> Option<u64> {
        let (offset, size) = self.slots[slot]?;
        match size {
            1 | 2 | 4 | 8 => self.rec.ctx.endian.uint(self.rec.data, offset, size),
            _ => None,
        }
    }

    fn comm(&self, slot: usize, pid: u64, out: &mut String, learn: &mut dyn FnMut(i32, &str)) -> bool {
        let Some((offset, size)) = self.slots[slot] else {
            return false;
        };
        let b = self
            .rec
            .data
            .get(offset..offset.saturating_add(size))
            .unwrap_or(&[]);
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        let s = String::from_utf8_lossy(&b[..end]);
        out.push_str(&s);
        learn(pid as i32, &s);
        true
    }
}

fn push_i64(out: &mut String, v: i64) {
    if v < 0 {
        out.push('-');
    }
    push_u64(out, v.unsigned_abs());
}

fn num(rec: &Rec<'_>, name: &str) -> Option<u64> {
    let f = rec.field(name)?;
    match f.size {
        1 | 2 | 4 | 8 => rec.ctx.endian.uint(rec.data, f.offset, f.size),
        _ => None,
    }
}

fn num_or_err(rec: &Rec<'_>, name: &str, out: &mut String) {
    match num(rec, name) {
        Some(v) => push_u64(out, v),
        None => out.push_str(&format!("CAN'T FIND FIELD \"{name}\"")),
    }
}

/// `tep_print_func_field`: `name/0x(start - addr)` or `0x%08llx`.
fn func_field(h: &Fields<'_, '_>, prefix: &str, slot: usize, out: &mut String) {
    let Some(v) = h.num(slot) else { return };
    out.push_str(prefix);
    match h.rec.ctx.syms.lookup(v) {
        Some((f, a)) => out.push_str(&format!("{f}/0x{:x}", a.wrapping_sub(v))),
        None => out.push_str(&format!("0x{v:08x}")),
    }
}

fn sched_wakeup(h: &Fields<'_, '_>, out: &mut String, learn: &mut dyn FnMut(i32, &str)) {
    let Some(pid) = h.num(0) else {
        out.push_str("CAN'T FIND FIELD \"pid\"!");
        return;
    };
    if h.comm(1, pid, out, learn) {
        out.push(':');
    }
    push_i64(out, pid as i64);
    if let Some(p) = h.num(2) {
        out.push_str(" [");
        push_i64(out, p as i64);
        out.push(']');
    }
    if let Some(s) = h.num(3) {
        out.push_str(" success=");
        push_i64(out, s as i64);
    }
    if let Some(c) = h.num(4) {
        out.push_str(&format!(" CPU:{c:03}"));
    }
}

fn sched_switch(h: &Fields<'_, '_>, states: &str, out: &mut String, learn: &mut dyn FnMut(i32, &str)) {
    let Some(prev) = h.num(5) else {
        out.push_str("CAN'T FIND FIELD \"prev_pid\"!");
        return;
    };
    if h.comm(6, prev, out, learn) {
        out.push(':');
    }
    push_i64(out, prev as i64);
    out.push(' ');
    if let Some(p) = h.num(7) {
        out.push('[');
        push_i64(out, i64::from(p as i32));
        out.push_str("] ");
    }
    if let Some(state) = h.num(8) {
        let mut found = false;
        for (i, c) in states.chars().enumerate() {
            if state & (1u64 << i) == 0 {
                continue;
            }
            if found {
                out.push('|');
            }
            found = true;
            out.push(c);
        }
        if !found {
            out.push('R');
        }
    }
    out.push_str(" ==> ");
    let Some(next) = h.num(9) else {
        out.push_str("CAN'T FIND FIELD \"next_pid\"!");
        return;
    };
    if h.comm(10, next, out, learn) {
        out.push(':');
    }
    push_i64(out, next as i64);
    if let Some(p) = h.num(11) {
        out.push_str(" [");
        push_i64(out, i64::from(p as i32));
        out.push(']');
    }
}
