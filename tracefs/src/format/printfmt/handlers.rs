//! Renderers that replace an event's print fmt, as trace-cmd's default
//! libtraceevent plugins do (plugins/plugin_sched_switch.c,
//! plugins/plugin_hrtimer.c). `trace-cmd report` loads them by default, so
//! matching its output means matching them.

use super::eval::Rec;

/// Which plugin renders an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Handler {
    /// sched:sched_switch; `states` holds the prev_state letter of each bit.
    SchedSwitch { states: String },
    /// sched:sched_wakeup and sched_wakeup_new.
    SchedWakeup,
    /// timer:hrtimer_expire_entry.
    HrtimerExpire,
    /// timer:hrtimer_start.
    HrtimerStart,
}

impl Handler {
    pub(crate) fn for_event(system: &str, name: &str) -> Option<Handler> {
        Some(match (system, name) {
            // libtraceevent up to 1.7 (what trace-cmd 3.1 uses) prints
            // prev_state from this fixed table; 1.8 derives it from the
            // event's __print_flags instead ("SDTtXZPI" on 6.x kernels).
            ("sched", "sched_switch") => Handler::SchedSwitch {
                states: "SDTtZXxW".to_owned(),
            },
            ("sched", "sched_wakeup" | "sched_wakeup_new") => Handler::SchedWakeup,
            ("timer", "hrtimer_expire_entry") => Handler::HrtimerExpire,
            ("timer", "hrtimer_start") => Handler::HrtimerStart,
            _ => return None,
        })
    }

    /// Renders; `learn` receives (pid, comm) pairs the plugin registers.
    pub(crate) fn render(&self, rec: &Rec<'_>, out: &mut String, learn: &mut dyn FnMut(i32, &str)) {
        match self {
            Handler::SchedSwitch { states } => sched_switch(rec, states, out, learn),
            Handler::SchedWakeup => sched_wakeup(rec, out, learn),
            Handler::HrtimerExpire => {
                out.push_str("hrtimer=");
                match num(rec, "timer").or_else(|| num(rec, "hrtimer")) {
                    Some(v) => out.push_str(&format!("0x{v:x}")),
                    None => out.push_str("CAN'T FIND FIELD \"hrtimer\""),
                }
                out.push_str(" now=");
                num_or_err(rec, "now", out);
                func_field(rec, " function=", "function", out);
            }
            Handler::HrtimerStart => {
                out.push_str("hrtimer=");
                match num(rec, "timer").or_else(|| num(rec, "hrtimer")) {
                    Some(v) => out.push_str(&format!("0x{v:x}")),
                    None => out.push_str("CAN'T FIND FIELD \"hrtimer\""),
                }
                func_field(rec, " function=", "function", out);
                out.push_str(" expires=");
                num_or_err(rec, "expires", out);
                out.push_str(" softexpires=");
                num_or_err(rec, "softexpires", out);
            }
        }
    }
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
        Some(v) => out.push_str(&v.to_string()),
        None => out.push_str(&format!("CAN'T FIND FIELD \"{name}\"")),
    }
}

/// `tep_print_func_field`: `name/0x(start - addr)` or `0x%08llx`.
fn func_field(rec: &Rec<'_>, prefix: &str, name: &str, out: &mut String) {
    let Some(v) = num(rec, name) else { return };
    out.push_str(prefix);
    match rec.ctx.syms.lookup(v) {
        Some((f, a)) => out.push_str(&format!("{f}/0x{:x}", a.wrapping_sub(v))),
        None => out.push_str(&format!("0x{v:08x}")),
    }
}

fn comm(rec: &Rec<'_>, name: &str, pid: u64, out: &mut String, learn: &mut dyn FnMut(i32, &str)) -> bool {
    let Some(f) = rec.field(name) else { return false };
    let b = rec
        .data
        .get(f.offset..f.offset.saturating_add(f.size))
        .unwrap_or(&[]);
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    let s = String::from_utf8_lossy(&b[..end]);
    out.push_str(&s);
    learn(pid as i32, &s);
    true
}

fn sched_wakeup(rec: &Rec<'_>, out: &mut String, learn: &mut dyn FnMut(i32, &str)) {
    let Some(pid) = num(rec, "pid") else {
        out.push_str("CAN'T FIND FIELD \"pid\"!");
        return;
    };
    if comm(rec, "comm", pid, out, learn) {
        out.push(':');
    }
    out.push_str(&(pid as i64).to_string());
    if let Some(p) = num(rec, "prio") {
        out.push_str(&format!(" [{}]", p as i64));
    }
    if let Some(s) = num(rec, "success") {
        out.push_str(&format!(" success={}", s as i64));
    }
    if let Some(c) = num(rec, "target_cpu") {
        out.push_str(&format!(" CPU:{c:03}"));
    }
}

fn sched_switch(rec: &Rec<'_>, states: &str, out: &mut String, learn: &mut dyn FnMut(i32, &str)) {
    let Some(prev) = num(rec, "prev_pid") else {
        out.push_str("CAN'T FIND FIELD \"prev_pid\"!");
        return;
    };
    if comm(rec, "prev_comm", prev, out, learn) {
        out.push(':');
    }
    out.push_str(&format!("{} ", prev as i64));
    if let Some(p) = num(rec, "prev_prio") {
        out.push_str(&format!("[{}] ", p as i32));
    }
    if let Some(state) = num(rec, "prev_state") {
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
    let Some(next) = num(rec, "next_pid") else {
        out.push_str("CAN'T FIND FIELD \"next_pid\"!");
        return;
    };
    if comm(rec, "next_comm", next, out, learn) {
        out.push(':');
    }
    out.push_str(&(next as i64).to_string());
    if let Some(p) = num(rec, "next_prio") {
        out.push_str(&format!(" [{}]", p as i32));
    }
}
