//! Counting: parsed events opened as perf groups on a task (with inherit)
//! or on CPUs, enabled together, read with time_enabled / time_running and
//! scaled when the kernel multiplexed them.
//!
//! ```no_run
//! use ftr_pmu::{Counters, CountTarget, EventContext, parse_events};
//! let ctx = EventContext::new(vec![], |_| None);
//! let groups = parse_events("task-clock,page-faults", &ctx).unwrap();
//! let counters = Counters::open(&groups, &CountTarget::Cpus(vec![0, 1]), false).unwrap();
//! counters.enable().unwrap();
//! std::thread::sleep(std::time::Duration::from_millis(100));
//! let snap = counters.snapshot().unwrap();
//! for (spec, count) in counters.specs().zip(snap.counts(None)) {
//!     println!("{}: {count:?}", spec.name);
//! }
//! ```

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use crate::access::{classify_perf_error, errno_text, Access, MAX_PARANOID_USER_TASK};
use crate::error::Error;
use crate::events::{EventGroup, EventSpec};
use crate::sys::{self, CounterIoctl, PerfEventAttr};

/// What to count on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CountTarget {
    /// These threads (0: the calling thread), and (through inherit) every
    /// task they create later.
    Tasks(Vec<i32>),
    /// Everything that runs on these CPUs.
    Cpus(Vec<u32>),
}

/// One event's total, scaled if the kernel multiplexed it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Count {
    /// Counted: `value` is scaled to the enabled time; `enabled` and
    /// `running` are in nanoseconds (perf shows `running/enabled` as a
    /// percentage when they differ).
    Value {
        /// The count, scaled by `enabled / running` per descriptor.
        value: u64,
        /// Time the event was enabled.
        enabled: u64,
        /// Time it was actually on a counter.
        running: u64,
    },
    /// Opened but never scheduled on a counter (`<not counted>`).
    NotCounted,
    /// The kernel or hardware has no such event (`<not supported>`).
    NotSupported,
}

struct Slot {
    spec: EventSpec,
    fds: Vec<OwnedFd>,
    /// Why the kernel refused it, when it did with "no such event".
    unsupported: Option<String>,
    leader: bool,
}

/// Open counters. Dropping them closes every descriptor.
pub struct Counters {
    slots: Vec<Slot>,
}

/// Raw readings of every descriptor of every event: `[value, enabled,
/// running]`, in [`Counters::specs`] order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Per event, per descriptor.
    pub raw: Vec<Vec<[u64; 3]>>,
    /// Per event, whether it is unsupported.
    pub unsupported: Vec<bool>,
}

/// The `perf_event_attr` for `spec`: counting only, with enabled/running
/// times in every read.
fn attr_for(spec: &EventSpec, leader: bool, inherit: bool, enable_on_exec: bool) -> PerfEventAttr {
    let mut flags = 0;
    if spec.exclude.user {
        flags |= sys::ATTR_EXCLUDE_USER;
    }
    if spec.exclude.kernel {
        flags |= sys::ATTR_EXCLUDE_KERNEL;
    }
    if spec.exclude.hv {
        flags |= sys::ATTR_EXCLUDE_HV;
    }
    if inherit {
        flags |= sys::ATTR_INHERIT;
    }
    // Only leaders start disabled: members follow their leader (perf does
    // the same, see `evsel__config` in perf's util/evsel.c).
    if leader {
        flags |= sys::ATTR_DISABLED;
        if enable_on_exec {
            flags |= sys::ATTR_ENABLE_ON_EXEC;
        }
    }
    flags |= u64::from(spec.precise.min(3)) << sys::ATTR_PRECISE_IP_SHIFT;
    PerfEventAttr {
        type_: spec.type_,
        config: spec.config,
        config1: spec.config1,
        config2: spec.config2,
        read_format: sys::PERF_FORMAT_TOTAL_TIME_ENABLED | sys::PERF_FORMAT_TOTAL_TIME_RUNNING,
        flags,
        ..PerfEventAttr::default()
    }
}

/// Whether perf_event_open's errno means "no such event here" (perf then
/// prints `<not supported>`, see `stat_handle_error` in builtin-stat.c).
fn is_unsupported(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::ENOENT)
            | Some(libc::EOPNOTSUPP)
            | Some(libc::ENODEV)
            | Some(libc::EINVAL)
            | Some(libc::ENXIO)
    )
}

impl Counters {
    /// Opens every event of `groups` on `target`. Grouped events share a
    /// leader per task or CPU. With `enable_on_exec` (a command held by
    /// [`crate::Workload`]) counting starts at the task's exec; otherwise
    /// call [`Counters::enable`].
    ///
    /// An event this kernel or CPU lacks (ENOENT, EOPNOTSUPP, ENODEV,
    /// EINVAL, ENXIO) is kept as unsupported, and so are the members of a
    /// group whose leader is. Fails with [`Error::NoSuchProcess`] for a
    /// dead task, and [`Error::Open`] when refused (the hint names
    /// `kernel.perf_event_paranoid` and the value needed) or out of
    /// descriptors.
    pub fn open(
        groups: &[EventGroup],
        target: &CountTarget,
        enable_on_exec: bool,
    ) -> Result<Counters, Error> {
        let mut slots = Vec::new();
        let units: Vec<(i32, i32)> = match target {
            CountTarget::Tasks(tids) => tids.iter().map(|&t| (t, -1)).collect(),
            CountTarget::Cpus(cpus) => cpus.iter().map(|&c| (-1, c as i32)).collect(),
        };
        let inherit = matches!(target, CountTarget::Tasks(_));
        for group in groups {
            let first = slots.len();
            for (i, spec) in group.events.iter().enumerate() {
                slots.push(Slot {
                    spec: spec.clone(),
                    fds: Vec::new(),
                    unsupported: None,
                    leader: i == 0 || !group.grouped,
                });
            }
            for &(pid, cpu) in &units {
                let mut leader_fd: Option<usize> = None;
                for i in first..slots.len() {
                    let grouped_member = group.grouped && i > first;
                    if grouped_member && slots[first].unsupported.is_some() {
                        slots[i].unsupported = slots[first].unsupported.clone();
                        continue;
                    }
                    if slots[i].unsupported.is_some() {
                        continue;
                    }
                    let attr = attr_for(&slots[i].spec, !grouped_member, inherit, enable_on_exec);
                    let opened = {
                        let group_fd = match (grouped_member, leader_fd) {
                            (true, Some(l)) => slots[first].fds.get(l).map(|f| f.as_fd()),
                            _ => None,
                        };
                        sys::perf_event_open(&attr, pid, cpu, group_fd, 0)
                    };
                    match opened {
                        Ok(fd) => {
                            if !grouped_member {
                                leader_fd = Some(slots[i].fds.len());
                            }
                            slots[i].fds.push(fd);
                        }
                        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {
                            return Err(Error::NoSuchProcess { pid });
                        }
                        Err(e) if is_unsupported(&e) => {
                            slots[i].unsupported = Some(errno_text(&e));
                            slots[i].fds.clear();
                        }
                        Err(e) => {
                            let on = if pid >= 0 {
                                format!("pid {pid}")
                            } else {
                                format!("CPU {cpu}")
                            };
                            let hint = refusal_hint(&e, pid < 0);
                            return Err(Error::Open {
                                event: slots[i].spec.name.clone(),
                                target: on,
                                hint,
                                source: e,
                            });
                        }
                    }
                }
            }
        }
        Ok(Counters { slots })
    }

    /// The events, in the order of [`Snapshot`] and [`Snapshot::counts`].
    pub fn specs(&self) -> impl Iterator<Item = &EventSpec> {
        self.slots.iter().map(|s| &s.spec)
    }

    /// Why each unsupported event was refused (`ENOENT: ...`), by name.
    pub fn unsupported_reasons(&self) -> Vec<(&str, &str)> {
        self.slots
            .iter()
            .filter_map(|s| s.unsupported.as_deref().map(|r| (s.spec.name.as_str(), r)))
            .collect()
    }

    fn ioctl_leaders(&self, op: CounterIoctl, what: &'static str) -> Result<(), Error> {
        for s in self.slots.iter().filter(|s| s.leader) {
            for fd in &s.fds {
                sys::perf_event_ioctl(fd.as_fd(), op, true).map_err(|source| Error::Counter {
                    what,
                    event: s.spec.name.clone(),
                    source,
                })?;
            }
        }
        Ok(())
    }

    /// Starts every counter (each group as one).
    pub fn enable(&self) -> Result<(), Error> {
        self.ioctl_leaders(CounterIoctl::Enable, "enable")
    }

    /// Stops every counter; reads after this return the final totals.
    pub fn disable(&self) -> Result<(), Error> {
        self.ioctl_leaders(CounterIoctl::Disable, "disable")
    }

    /// Reads every descriptor.
    pub fn snapshot(&self) -> Result<Snapshot, Error> {
        let mut snap = Snapshot::default();
        for s in &self.slots {
            let mut v = Vec::with_capacity(s.fds.len());
            for fd in &s.fds {
                v.push(sys::read_counter(fd.as_fd()).map_err(|source| Error::Counter {
                    what: "read",
                    event: s.spec.name.clone(),
                    source,
                })?);
            }
            snap.raw.push(v);
            snap.unsupported.push(s.unsupported.is_some());
        }
        Ok(snap)
    }
}

fn refusal_hint(err: &io::Error, cpu_wide: bool) -> String {
    if err.raw_os_error() == Some(libc::EMFILE) {
        return format!("{}: too many open files; raise `ulimit -n`", errno_text(err));
    }
    let access = Access::read(Path::new("/proc"), Path::new("/sys"));
    // CPU-wide counting needs perf_event_paranoid <= 0 without CAP_PERFMON
    // (`perf_allow_cpu`, include/linux/perf_event.h).
    let max = if cpu_wide { 0 } else { MAX_PARANOID_USER_TASK };
    classify_perf_error(err, max, &access, "the kernel refused this event")
        .detail()
        .to_owned()
}

impl Snapshot {
    /// The count of every event since `since` (or since opening), each
    /// descriptor scaled by its enabled/running time before summing, as
    /// perf does (`perf_counts_values__scale` in tools/lib/perf/evsel.c).
    pub fn counts(&self, since: Option<&Snapshot>) -> Vec<Count> {
        self.raw
            .iter()
            .enumerate()
            .map(|(i, fds)| {
                if self.unsupported.get(i).copied().unwrap_or(false) {
                    return Count::NotSupported;
                }
                let prev = since.and_then(|s| s.raw.get(i));
                let deltas = fds.iter().enumerate().map(|(j, now)| {
                    let before = prev.and_then(|p| p.get(j)).copied().unwrap_or([0; 3]);
                    [
                        now[0].saturating_sub(before[0]),
                        now[1].saturating_sub(before[1]),
                        now[2].saturating_sub(before[2]),
                    ]
                });
                aggregate(deltas)
            })
            .collect()
    }
}

impl Snapshot {
    /// Like [`Snapshot::counts`], but one count per descriptor (per CPU of
    /// a [`CountTarget::Cpus`] target, in its order), for perf stat's `-A`.
    /// An unsupported event gives `units` × [`Count::NotSupported`].
    pub fn counts_per_unit(&self, since: Option<&Snapshot>, units: usize) -> Vec<Vec<Count>> {
        self.raw
            .iter()
            .enumerate()
            .map(|(i, fds)| {
                if self.unsupported.get(i).copied().unwrap_or(false) {
                    return vec![Count::NotSupported; units];
                }
                let prev = since.and_then(|s| s.raw.get(i));
                (0..units)
                    .map(|j| {
                        let Some(now) = fds.get(j) else {
                            return Count::NotCounted;
                        };
                        let before = prev.and_then(|p| p.get(j)).copied().unwrap_or([0; 3]);
                        aggregate(std::iter::once([
                            now[0].saturating_sub(before[0]),
                            now[1].saturating_sub(before[1]),
                            now[2].saturating_sub(before[2]),
                        ]))
                    })
                    .collect()
            })
            .collect()
    }
}

/// Sums `[value, enabled, running]` triples, scaling each by
/// enabled/running; [`Count::NotCounted`] when none ran at all.
pub fn aggregate(triples: impl Iterator<Item = [u64; 3]>) -> Count {
    let (mut value, mut enabled, mut running) = (0u128, 0u64, 0u64);
    for [v, ena, run] in triples {
        enabled += ena;
        running += run;
        if run == 0 {
            continue;
        }
        value += if run < ena {
            u128::from(v) * u128::from(ena) / u128::from(run)
        } else {
            u128::from(v)
        };
    }
    // Like perf's printout: an event that never ran shows `<not counted>`.
    if running == 0 {
        return Count::NotCounted;
    }
    Count::Value {
        value: value.min(u128::from(u64::MAX)) as u64,
        enabled,
        running,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{parse_events, EventContext};

    #[test]
    fn scaling_follows_enabled_over_running() {
        assert_eq!(
            aggregate([[100, 10, 10]].into_iter()),
            Count::Value {
                value: 100,
                enabled: 10,
                running: 10
            }
        );
        // Half the time on a counter: doubled, per descriptor.
        assert_eq!(
            aggregate([[100, 10, 5], [30, 10, 10]].into_iter()),
            Count::Value {
                value: 230,
                enabled: 20,
                running: 15
            }
        );
        assert_eq!(aggregate([[0, 10, 0]].into_iter()), Count::NotCounted);
        assert_eq!(aggregate(std::iter::empty()), Count::NotCounted);
        assert_eq!(aggregate([[0, 0, 0]].into_iter()), Count::NotCounted);
    }

    #[test]
    fn deltas_between_snapshots() {
        let a = Snapshot {
            raw: vec![vec![[10, 100, 100]], vec![]],
            unsupported: vec![false, true],
        };
        let b = Snapshot {
            raw: vec![vec![[25, 200, 150]], vec![]],
            unsupported: vec![false, true],
        };
        assert_eq!(
            b.counts(Some(&a)),
            vec![
                Count::Value {
                    value: 30,
                    enabled: 100,
                    running: 50
                },
                Count::NotSupported
            ]
        );
    }

    #[test]
    fn attr_sets_leader_only_flags() {
        let ctx = EventContext::new(vec![], |_| None);
        let spec = parse_events("instructions:u", &ctx).unwrap()[0].events[0].clone();
        let a = attr_for(&spec, true, true, true);
        assert_eq!(a.type_, sys::PERF_TYPE_HARDWARE);
        for bit in [
            sys::ATTR_DISABLED,
            sys::ATTR_ENABLE_ON_EXEC,
            sys::ATTR_INHERIT,
            sys::ATTR_EXCLUDE_KERNEL,
        ] {
            assert_ne!(a.flags & bit, 0);
        }
        assert_eq!(a.flags & sys::ATTR_EXCLUDE_USER, 0);
        let m = attr_for(&spec, false, true, true);
        assert_eq!(m.flags & (sys::ATTR_DISABLED | sys::ATTR_ENABLE_ON_EXEC), 0);
    }

    #[test]
    fn counts_own_task_clock_and_a_missing_pmu_is_unsupported() {
        let ctx = EventContext::new(vec![], |_| None);
        let groups = parse_events("{task-clock,page-faults},r1234abcd", &ctx).unwrap();
        let c = match Counters::open(&groups, &CountTarget::Tasks(vec![0]), false) {
            Ok(c) => c,
            Err(e) => return eprintln!("perf_event_open refused here: {e}"),
        };
        c.enable().unwrap();
        let v: Vec<u8> = vec![1; 1 << 22];
        assert_eq!(v.iter().map(|&b| b as u64).sum::<u64>(), 1 << 22);
        c.disable().unwrap();
        let counts = c.snapshot().unwrap().counts(None);
        match counts[0] {
            Count::Value { value, .. } => assert!(value > 0),
            other => panic!("{other:?}"),
        }
        match counts[1] {
            Count::Value { value, .. } => assert!(value > 0, "4 MiB touched but no page faults"),
            other => panic!("{other:?}"),
        }
        if !Path::new("/sys/bus/event_source/devices/cpu").exists() {
            assert_eq!(counts[2], Count::NotSupported);
        }
    }
}
