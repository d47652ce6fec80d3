//! A tracing session: a private instance set up through the guard, the
//! events of a plan enabled with their kernel-side filters, and a loop that
//! reads every CPU's ring, decodes each record by its schema and hands it to
//! the tool, in timestamp order when the tool asks for it.

use super::stop::Stop;
use anyhow::{Context, Result};
use ftr_tracefs::format::{FieldRef, Schema};
use ftr_tracefs::ring::{Missed, OrderedMerge, Page, PageLayout};
use ftr_tracefs::{Endian, EventName, Instance, RingReader, TracingDir};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// What to trace.
#[derive(Debug, Clone, Default)]
pub struct SessionConfig {
    /// Events to enable.
    pub events: Vec<EventName>,
    /// Events whose records a tracer writes into the buffer (e.g.
    /// `ftrace:function` of the function tracer): decoded, never enabled.
    pub decode_only: Vec<EventName>,
    /// Patterns for the buffer's set_ftrace_filter, written before
    /// `tracer` is selected (so an unfiltered tracer never patches every
    /// kernel function).
    pub ftrace_filter: Vec<String>,
    /// A tracer for the buffer (`function`). Selected before the readers
    /// open: the kernel refuses a tracer change (EBUSY) while a
    /// trace_pipe file of the buffer is open (`tracing_set_tracer`).
    pub tracer: Option<String>,
    /// A filter expression applied in the kernel to every event.
    pub filter: Option<String>,
    /// Only events from this process (`common_pid == PID`, in the kernel).
    pub pid: Option<i32>,
    /// Per-CPU buffer size in KiB.
    pub buffer_kb: Option<u64>,
    /// Trace clock (`local`, `mono`, ...).
    pub clock: Option<String>,
    /// Deliver events in global timestamp order (merging CPUs), for tools
    /// that pair events across CPUs (wakeup -> switch, issue -> complete).
    pub ordered: bool,
    /// How full (percent) a CPU's buffer must be before the reader is woken
    /// (`buffer_percent`, 5.1+). None means 0: wake on any data, for live
    /// printers. Summary tools over busy events (sched) choose ~10 so the
    /// reader does not wake on the very events its own wakeups cause.
    pub wake_percent: Option<u32>,
    /// Use the top-level buffer, not a private instance (for tracers that
    /// instances do not offer on this kernel: function_graph before 6.11).
    pub top_level: bool,
}

/// The shortest time between two drains of the rings. Every drain wakes
/// ftr, and on a traced scheduler every wakeup is itself an event: without
/// a floor a reader can feed on its own activity (measured: 72k switches/s
/// on an idle system). 10 ms bounds that to 100 wakeups/s on every kernel,
/// including those before 5.1 that have no `buffer_percent`.
const MIN_DRAIN_GAP: Duration = Duration::from_millis(10);

/// One decoded record.
pub struct Event<'a> {
    /// CPU whose ring held it.
    pub cpu: u32,
    /// Timestamp in the trace clock's nanoseconds.
    pub ts: u64,
    /// The event's format.
    pub schema: &'a Schema,
    /// The payload, starting at `common_type`.
    pub data: &'a [u8],
    /// Byte order of `data`.
    pub endian: Endian,
    /// The task that was running when it was recorded.
    pub pid: i32,
    /// The schema's non-common fields, resolved once per session.
    pub fields: &'a [(String, FieldRef)],
}

/// Counters of a finished run.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunStats {
    /// Records handed to the tool.
    pub events: u64,
    /// Sub-buffers read.
    pub pages: u64,
    /// Pages whose header said events were lost before them.
    pub lost_pages: u64,
    /// Lost events the kernel counted (a lower bound when some pages only
    /// said "some").
    pub lost_events: u64,
    /// Records of event ids this session did not enable.
    pub unknown: u64,
    /// Pages that did not decode to the end.
    pub bad_pages: u64,
}

struct Known {
    schema: Schema,
    pid: Option<FieldRef>,
    fields: Vec<(String, FieldRef)>,
}

/// Event buffers kept for reuse at most: the events of a few rounds.
const MAX_SPARE_BUFFERS: usize = 1 << 16;

/// A running session. Dropping it closes the readers and removes the
/// instance (the guard does the same on a signal or a panic).
pub struct Session {
    // Field order matters: the readers must close before the instance is
    // removed, or rmdir answers EBUSY.
    reader: RingReader,
    known: HashMap<u16, Known>,
    merge: Option<OrderedMerge<(u32, Vec<u8>)>>,
    /// Event buffers given back after delivery, reused for the next
    /// pushes so the ordered path allocates nothing per event.
    spare: Vec<Vec<u8>>,
    stats: RunStats,
    last_drain: Option<Instant>,
    layout: PageLayout,
    instance: Instance,
    /// Why the session had to fall back (top level instead of an instance).
    pub note: Option<String>,
}

/// Builds the kernel filter for one event from the user's expression and pid.
pub fn compose_filter(user: Option<&str>, pid: Option<i32>) -> Option<String> {
    match (user, pid) {
        (None, None) => None,
        (Some(f), None) => Some(f.to_owned()),
        (None, Some(p)) => Some(format!("common_pid == {p}")),
        (Some(f), Some(p)) => Some(format!("({f}) && common_pid == {p}")),
    }
}

impl Session {
    /// Creates the instance, loads each event's format, sets filters and
    /// enables the events, then opens the per-CPU readers. On any failure
    /// everything done so far is undone before the error is returned.
    pub fn start(tracing: &TracingDir, cfg: &SessionConfig) -> Result<Session> {
        Session::start_with(tracing, cfg, |_| Ok(()))
    }

    /// [`Session::start`], calling `setup` on the buffer before its readers
    /// open: a tracer (function, function_graph) can only be selected while
    /// no `trace_pipe_raw` is open (the kernel answers EBUSY).
    pub fn start_with(
        tracing: &TracingDir,
        cfg: &SessionConfig,
        setup: impl FnOnce(&Instance) -> Result<()>,
    ) -> Result<Session> {
        let (instance, note) = if cfg.top_level {
            (Instance::top_level(tracing), None)
        } else {
            Instance::create_or_top_level(tracing).context("setting up a trace buffer")?
        };
        if let Some(kb) = cfg.buffer_kb {
            instance.set_buffer_size_kb(kb)?;
        }
        if let Some(c) = &cfg.clock {
            instance.set_clock(c)?;
        }
        // Wake the poller on any data, not at the default half-full mark.
        instance.set_buffer_percent(cfg.wake_percent.unwrap_or(0))?;
        let layout = instance.page_layout()?;
        let mut known = HashMap::new();
        let filter = compose_filter(cfg.filter.as_deref(), cfg.pid);
        for ev in &cfg.decode_only {
            let schema = instance.schema(&ev.system, &ev.name)?;
            let pid = schema.common_pid();
            let fields = schema
                .event_fields()
                .map(|f| (f.name.clone(), f.to_ref()))
                .collect();
            known.insert(schema.id, Known { schema, pid, fields });
        }
        for ev in &cfg.events {
            let schema = instance.schema(&ev.system, &ev.name)?;
            if let Some(f) = &filter {
                instance
                    .set_event_filter(&ev.system, &ev.name, f)
                    .with_context(|| format!("setting the filter of {ev}"))?;
            }
            let pid = schema.common_pid();
            let fields = schema
                .event_fields()
                .map(|f| (f.name.clone(), f.to_ref()))
                .collect();
            known.insert(schema.id, Known { schema, pid, fields });
        }
        if !cfg.ftrace_filter.is_empty() {
            let patterns: Vec<&str> = cfg.ftrace_filter.iter().map(String::as_str).collect();
            instance
                .set_function_filter(ftr_tracefs::FunctionFilter::Trace, &patterns)
                .context("narrowing set_ftrace_filter")?;
        }
        if let Some(t) = &cfg.tracer {
            instance
                .set_tracer(t)
                .with_context(|| format!("selecting the {t} tracer"))?;
        }
        setup(&instance)?;
        let reader = RingReader::open(&instance, layout)?;
        instance.set_tracing_on(true)?;
        for ev in &cfg.events {
            instance
                .enable_event(&ev.system, &ev.name)
                .with_context(|| format!("enabling {ev}"))?;
        }
        Ok(Session {
            reader,
            known,
            merge: cfg.ordered.then(OrderedMerge::new),
            spare: Vec::new(),
            stats: RunStats::default(),
            last_drain: None,
            layout,
            instance,
            note,
        })
    }

    /// The instance in use.
    pub fn instance(&self) -> &Instance {
        &self.instance
    }

    /// Reads until `stop` is requested, then stops recording, drains what is
    /// left and returns the totals. `on_event` sees every record (in global
    /// timestamp order when the config asked for it); `on_lost` hears of
    /// lost events as pages report them. `tick` bounds how long data can
    /// sit unread.
    pub fn run(
        &mut self,
        stop: &Stop,
        tick: Duration,
        on_event: &mut dyn FnMut(&Event<'_>),
        on_lost: &mut dyn FnMut(u32, Missed),
    ) -> Result<RunStats> {
        while !self.pump(stop, tick, None, on_event, on_lost)? {}
        Ok(self.stats)
    }

    /// Reads and delivers events until `until` passes (returns false, still
    /// recording: an interval boundary) or `stop` is requested (returns
    /// true after stopping the recording and delivering everything left).
    /// In ordered mode, events of the last round before `until` are held
    /// back until the next call proves their order.
    pub fn pump(
        &mut self,
        stop: &Stop,
        tick: Duration,
        until: Option<Instant>,
        on_event: &mut dyn FnMut(&Event<'_>),
        on_lost: &mut dyn FnMut(u32, Missed),
    ) -> Result<bool> {
        loop {
            if let Some(gap) = self.last_drain.map(|t| MIN_DRAIN_GAP.saturating_sub(t.elapsed())) {
                if !gap.is_zero() && !stop.requested() {
                    std::thread::sleep(gap);
                }
            }
            let done = stop.requested();
            if done {
                // Stop recording first so the final drain has an end.
                self.instance.set_tracing_on(false)?;
            } else {
                let mut t = stop.remaining().map_or(tick, |r| r.min(tick));
                if let Some(u) = until {
                    t = t.min(u.saturating_duration_since(Instant::now()));
                }
                self.reader.wait(Some(t), Some(stop.wake_fd()))?;
            }
            let Session {
                reader,
                known,
                stats,
                merge,
                spare,
                last_drain,
                ..
            } = self;
            let drained = reader.drain(|cpu, page| {
                decode_page(
                    cpu,
                    page,
                    known,
                    stats,
                    on_lost,
                    &mut |ev: &Event<'_>| match merge {
                        Some(m) => {
                            let mut data = spare.pop().unwrap_or_default();
                            data.clear();
                            data.extend_from_slice(ev.data);
                            m.push(ev.cpu as usize, ev.ts, (ev.cpu, data));
                        }
                        None => on_event(ev),
                    },
                )
            })?;
            stats.pages += drained.pages;
            *last_drain = Some(Instant::now());
            if let Some(m) = merge {
                let mut deliver = |ts: u64, (cpu, data): (u32, Vec<u8>)| {
                    deliver_owned(known, cpu, ts, &data, on_event);
                    if spare.len() < MAX_SPARE_BUFFERS {
                        spare.push(data);
                    }
                };
                if done {
                    for (ts, v) in m.finish() {
                        deliver(ts, v);
                    }
                } else {
                    m.end_round();
                    while let Some((ts, v)) = m.pop_ready() {
                        deliver(ts, v);
                    }
                }
            }
            if done {
                return Ok(true);
            }
            if until.is_some_and(|u| Instant::now() >= u) {
                return Ok(false);
            }
        }
    }

    /// Totals so far.
    pub fn stats(&self) -> RunStats {
        self.stats
    }

    /// Per-CPU kernel counters (overrun, dropped) of the instance.
    pub fn cpu_stats(&self) -> Vec<(u32, ftr_tracefs::CpuStats)> {
        self.reader
            .cpus()
            .filter_map(|c| Some((c, self.instance.cpu_stats(c).ok()?)))
            .collect()
    }

    /// The page layout in use.
    pub fn layout(&self) -> &PageLayout {
        &self.layout
    }

    /// Closes the readers and removes the instance, reporting failures.
    pub fn finish(self) -> Result<()> {
        let Session { reader, instance, .. } = self;
        drop(reader);
        instance.remove().context("removing the trace instance")
    }
}

fn event_of<'a>(known: &'a HashMap<u16, Known>, cpu: u32, ts: u64, data: &'a [u8]) -> Option<Event<'a>> {
    let endian = Endian::host();
    let id = endian.u16(data, 0)?;
    let k = known.get(&id)?;
    let pid = k.pid.and_then(|f| f.i64(data, endian)).unwrap_or(-1) as i32;
    Some(Event {
        cpu,
        ts,
        schema: &k.schema,
        data,
        endian,
        pid,
        fields: &k.fields,
    })
}

fn deliver_owned(
    known: &HashMap<u16, Known>,
    cpu: u32,
    ts: u64,
    data: &[u8],
    on_event: &mut dyn FnMut(&Event<'_>),
) {
    if let Some(ev) = event_of(known, cpu, ts, data) {
        on_event(&ev);
    }
}

fn decode_page(
    cpu: u32,
    page: &Page<'_>,
    known: &HashMap<u16, Known>,
    stats: &mut RunStats,
    on_lost: &mut dyn FnMut(u32, Missed),
    sink: &mut dyn FnMut(&Event<'_>),
) {
    match page.missed() {
        Missed::None => {}
        m => {
            stats.lost_pages += 1;
            if let Missed::Count(n) = m {
                stats.lost_events += n;
            }
            on_lost(cpu, m);
        }
    }
    for raw in page.events() {
        match raw {
            Ok(raw) => match event_of(known, cpu, raw.ts, raw.payload) {
                Some(ev) => {
                    stats.events += 1;
                    sink(&ev);
                }
                None => stats.unknown += 1,
            },
            Err(_) => {
                stats.bad_pages += 1;
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_compose() {
        assert_eq!(compose_filter(None, None), None);
        assert_eq!(compose_filter(Some("a > 1"), None).unwrap(), "a > 1");
        assert_eq!(compose_filter(None, Some(7)).unwrap(), "common_pid == 7");
        assert_eq!(
            compose_filter(Some("a || b"), Some(7)).unwrap(),
            "(a || b) && common_pid == 7"
        );
    }
}
