//! Sampling: events opened per CPU or per task with an mmap'd ring each,
//! read without blocking shutdown, records parsed and LOST counted.
//!
//! One ring per CPU (or one for a task opened with cpu -1): the first
//! event of each CPU owns it and the others are redirected into it with
//! PERF_EVENT_IOC_SET_OUTPUT, so a tool polls one descriptor per CPU
//! whatever the number of events. Every record carries
//! PERF_SAMPLE_IDENTIFIER, which maps it back to its source.
//!
//! ```no_run
//! use ftr_pmu::{online_cpus, SampleRate, SampleSource, SampleTarget, SamplerBuilder};
//! let mut sampler = SamplerBuilder::new(SampleTarget::Cpus(online_cpus()?))
//!     .source(SampleSource::cpu_clock())
//!     .rate(SampleRate::Frequency(99))
//!     .callchain(true)
//!     .open()?;
//! sampler.enable()?;
//! sampler.wait(Some(std::time::Duration::from_secs(1)), None)?;
//! sampler.drain(|record, origin| println!("{:?} {record:?}", origin.cpu))?;
//! println!("lost {}", sampler.stats().lost);
//! # Ok::<(), ftr_pmu::Error>(())
//! ```

use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use crate::error::Error;
use crate::record::{parse_record, record_size, Record, RecordError, RecordLayout, HEADER_SIZE};
use crate::sorter::RecordSorter;
use crate::source::SampleSource;
use crate::sys::{self, CounterIoctl, RingMap};

/// Where a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// The ring's CPU (None for a task ring opened with cpu -1).
    pub cpu: Option<u32>,
    /// The index of its source in [`Sampler::sources`], from the record's
    /// identifier (None for records without one).
    pub event: Option<usize>,
}

/// Why [`Sampler::wait`] returned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Readiness {
    /// Some ring reached its wakeup point.
    pub data: bool,
    /// Every traced task exited (POLLHUP on each task ring): drain once
    /// more and stop. A ring answers for the task that opened it (with
    /// inherit, once its children are gone too); for
    /// [`SampleTarget::Process`](crate::SampleTarget::Process) that is the lowest thread id, normally
    /// the main thread. CPU-wide rings never hang up.
    pub hangup: bool,
    /// The wake descriptor fired (shutdown requested).
    pub woken: bool,
}

/// Counts since opening, over every ring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SamplerStats {
    /// Records read (of every type).
    pub records: u64,
    /// SAMPLE records read.
    pub samples: u64,
    /// Bytes read from the rings.
    pub bytes: u64,
    /// Records the kernel dropped because a ring was full (the sum of
    /// every PERF_RECORD_LOST).
    pub lost: u64,
    /// PERF_RECORD_LOST records seen.
    pub lost_records: u64,
    /// Samples the PMU could not write (PERF_RECORD_LOST_SAMPLES).
    pub lost_samples: u64,
    /// PERF_RECORD_THROTTLE records: the kernel slowed an event down.
    pub throttles: u64,
}

pub(crate) struct Ring {
    pub(crate) map: RingMap,
    /// Index of the owning descriptor in `Sampler::fds`.
    pub(crate) fd: usize,
    pub(crate) cpu: Option<u32>,
    pub(crate) label: String,
}

/// Open sampling events and their rings. Dropping it unmaps the rings and
/// closes every event; nothing global is left (probe PMU events vanish
/// with their descriptor).
pub struct Sampler {
    pub(crate) fds: Vec<OwnedFd>,
    pub(crate) rings: Vec<Ring>,
    pub(crate) ids: HashMap<u64, usize>,
    pub(crate) sources: Vec<SampleSource>,
    pub(crate) notes: Vec<String>,
    pub(crate) layouts: Layouts,
    pub(crate) stats: SamplerStats,
    pub(crate) buf: Vec<u8>,
    /// Records read by [`Sampler::drain_ordered`] and not yet final.
    pub(crate) sorter: RecordSorter<(usize, Vec<u8>)>,
}

impl Sampler {
    /// The sources as opened (after any fallback), indexed by
    /// [`Origin::event`].
    pub fn sources(&self) -> &[SampleSource] {
        &self.sources
    }

    /// What was changed to make the sampler open, e.g. "cycles is not
    /// supported here (...); sampling cpu-clock instead". Tools print these.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The layout of records other than samples, and of the first
    /// source's samples (every source's, unless some were added with
    /// their own [`SampleShape`](crate::SampleShape)), for parsing
    /// recorded data the same way.
    pub fn layout(&self) -> &RecordLayout {
        &self.layouts.common
    }

    /// The CPUs of the rings (empty for a task ring with cpu -1).
    pub fn cpus(&self) -> Vec<u32> {
        self.rings.iter().filter_map(|r| r.cpu).collect()
    }

    /// Counts since opening: records, samples, lost.
    pub fn stats(&self) -> SamplerStats {
        self.stats
    }

    fn ioctl_all(&self, op: CounterIoctl, what: &'static str) -> Result<(), Error> {
        for fd in &self.fds {
            sys::perf_event_ioctl(fd.as_fd(), op, false).map_err(|source| Error::Counter {
                what,
                event: self.sources.first().map(SampleSource::name).unwrap_or_default(),
                source,
            })?;
        }
        Ok(())
    }

    /// Starts sampling on every CPU or task.
    pub fn enable(&self) -> Result<(), Error> {
        self.ioctl_all(CounterIoctl::Enable, "enable")
    }

    /// Stops sampling; records already in the rings can still be drained.
    pub fn disable(&self) -> Result<(), Error> {
        self.ioctl_all(CounterIoctl::Disable, "disable")
    }

    /// Waits until a ring reaches its wakeup point, every traced task has
    /// exited, `wake` becomes readable (an eventfd written on Ctrl-C), or
    /// `timeout` passes (None: no timeout). EINTR counts as a timeout.
    pub fn wait(&self, timeout: Option<Duration>, wake: Option<BorrowedFd<'_>>) -> Result<Readiness, Error> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let mut fds: Vec<PollFd> = self
            .rings
            .iter()
            .map(|r| PollFd::new(self.fds[r.fd].as_fd(), PollFlags::POLLIN))
            .collect();
        if let Some(w) = wake {
            fds.push(PollFd::new(w, PollFlags::POLLIN));
        }
        let t = match timeout {
            None => PollTimeout::NONE,
            Some(d) => PollTimeout::try_from(d).unwrap_or(PollTimeout::MAX),
        };
        match poll(&mut fds, t) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => return Ok(Readiness::default()),
            Err(e) => return Err(Error::Poll(e.into())),
        }
        let n = self.rings.len();
        let has = |f: &PollFd, flags: PollFlags| f.revents().is_some_and(|r| r.intersects(flags));
        Ok(Readiness {
            data: fds[..n].iter().any(|f| has(f, PollFlags::POLLIN)),
            hangup: n > 0
                && fds[..n]
                    .iter()
                    .all(|f| has(f, PollFlags::POLLHUP | PollFlags::POLLERR)),
            woken: fds[n..].iter().any(|f| has(f, PollFlags::POLLIN)),
        })
    }

    /// Reads every record now in every ring, hands each to `f` with its
    /// origin, and frees the space. LOST, LOST_SAMPLES and THROTTLE records
    /// are counted in [`Sampler::stats`] and passed on too.
    ///
    /// The kernel reports a ring's losses with the next record it manages
    /// to write to that ring (`perf_output_begin` in
    /// kernel/events/ring_buffer.c), so losses just before a run ends, on a
    /// ring that receives nothing afterwards, are never reported to anyone
    /// (perf has the same blind spot). Bigger rings and prompt draining
    /// make them rare.
    ///
    /// Each ring's pending bytes are copied out and the tail released
    /// before the records are parsed, so the kernel can reuse the space at
    /// once and a record never needs reassembly where it wraps.
    ///
    /// Returns the number of records read. Fails with [`Error::Record`]
    /// when a ring held a record that does not parse; the rest of the
    /// rings are still read and the bad bytes are consumed, so the next
    /// call continues after them.
    pub fn drain(&mut self, mut f: impl FnMut(&Record<'_>, Origin)) -> Result<u64, Error> {
        let mut first_error = None;
        let mut read = 0;
        for ring in &self.rings {
            if let Err(e) = take_ring(ring, &mut self.buf, &mut self.stats) {
                first_error.get_or_insert(e);
                continue;
            }
            let split = split_records(&self.buf, &ring.label, |bytes| {
                match deliver(bytes, ring.cpu, &self.layouts, &self.ids, &mut self.stats, &mut f) {
                    Ok(()) => read += 1,
                    Err(source) => {
                        first_error.get_or_insert(Error::Record {
                            ring: ring.label.clone(),
                            source,
                        });
                    }
                }
            });
            if let Err(e) = split {
                first_error.get_or_insert(e);
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(read),
        }
    }

    /// Like [`Sampler::drain`], but hands records to `f` in time order
    /// across rings: each call reads every ring once (a round) and passes
    /// on the records that can no longer be preceded by one still unread
    /// (see [`RecordSorter`]); the others wait for the next call. Call
    /// [`Sampler::flush_ordered`] at the end for the rest. Tools that pair
    /// events across CPUs (an allocation and its free) need this order.
    pub fn drain_ordered(&mut self, mut f: impl FnMut(&Record<'_>, Origin)) -> Result<u64, Error> {
        let mut first_error = None;
        for (index, ring) in self.rings.iter().enumerate() {
            if let Err(e) = take_ring(ring, &mut self.buf, &mut self.stats) {
                first_error.get_or_insert(e);
                continue;
            }
            let sorter = &mut self.sorter;
            let (layouts, ids) = (&self.layouts, &self.ids);
            let split = split_records(&self.buf, &ring.label, |bytes| {
                // A record that does not parse sorts first and fails when
                // delivered, with its ring named.
                let time = match parse_record(bytes, layouts.of(bytes, ids)) {
                    Ok(r) => record_time(&r).unwrap_or(0),
                    Err(_) => 0,
                };
                sorter.push(time, (index, bytes.to_vec()));
            });
            if let Err(e) = split {
                first_error.get_or_insert(e);
            }
        }
        let ready = self.sorter.end_round();
        let delivered = self.deliver_owned(ready, &mut f);
        match (first_error, delivered) {
            (Some(e), _) | (None, Err(e)) => Err(e),
            (None, Ok(n)) => Ok(n),
        }
    }

    /// Hands every record [`Sampler::drain_ordered`] still holds to `f`,
    /// in time order: after [`Sampler::disable`] and a last
    /// `drain_ordered`, when nothing more can arrive.
    pub fn flush_ordered(&mut self, mut f: impl FnMut(&Record<'_>, Origin)) -> Result<u64, Error> {
        let rest = self.sorter.flush();
        self.deliver_owned(rest, &mut f)
    }

    fn deliver_owned(
        &mut self,
        items: Vec<(usize, Vec<u8>)>,
        f: &mut impl FnMut(&Record<'_>, Origin),
    ) -> Result<u64, Error> {
        let mut first_error = None;
        let mut read = 0;
        for (index, bytes) in items {
            let ring = &self.rings[index];
            match deliver(&bytes, ring.cpu, &self.layouts, &self.ids, &mut self.stats, f) {
                Ok(()) => read += 1,
                Err(source) => {
                    first_error.get_or_insert(Error::Record {
                        ring: ring.label.clone(),
                        source,
                    });
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(read),
        }
    }
}

/// Copies a ring's unread bytes into `buf` (replacing its contents) and
/// releases them to the kernel.
fn take_ring(ring: &Ring, buf: &mut Vec<u8>, stats: &mut SamplerStats) -> Result<(), Error> {
    buf.clear();
    let head = ring.map.data_head();
    let tail = ring.map.data_tail();
    let len = head.wrapping_sub(tail);
    if len == 0 {
        return Ok(());
    }
    ring.map.copy_data(tail, len as usize, buf);
    ring.map.set_data_tail(head);
    stats.bytes += len;
    if len as usize > ring.map.data_size() {
        buf.clear();
        return Err(Error::Record {
            ring: ring.label.clone(),
            source: RecordError::BadSize {
                size: len as usize,
                have: ring.map.data_size(),
            },
        });
    }
    Ok(())
}

/// Calls `each` with every whole record of `buf`; fails at a header whose
/// size is impossible (the rest of `buf` cannot be split).
fn split_records(buf: &[u8], label: &str, mut each: impl FnMut(&[u8])) -> Result<(), Error> {
    let mut at = 0;
    while at + HEADER_SIZE <= buf.len() {
        let rest = &buf[at..];
        let Some(size) = record_size(rest).filter(|&s| s <= rest.len()) else {
            return Err(Error::Record {
                ring: label.to_owned(),
                source: RecordError::BadSize {
                    size: record_size(rest).unwrap_or(0),
                    have: rest.len(),
                },
            });
        };
        each(&rest[..size]);
        at += size;
    }
    Ok(())
}

/// The time of a record: the sample's, or the sample_id trailer's.
fn record_time(record: &Record<'_>) -> Option<u64> {
    match record {
        Record::Sample(s) => s.time,
        Record::Mmap(m) => m.sample_id.time,
        Record::Comm(c) => c.sample_id.time,
        Record::Fork(t) | Record::Exit(t) => t.sample_id.time.or(Some(t.time)),
        Record::Lost(l) => l.sample_id.time,
        Record::Throttle(t) => t.sample_id.time.or(Some(t.time)),
        Record::Other { .. } => None,
    }
}

/// How records of one sampler are laid out: samples by their source's
/// shape, everything else alike.
#[derive(Debug, Clone)]
pub(crate) struct Layouts {
    /// Records other than samples (their sample_id trailer is the same
    /// for every source).
    pub(crate) common: RecordLayout,
    /// Samples, by source index.
    pub(crate) per_source: Vec<RecordLayout>,
}

/// `PERF_RECORD_SAMPLE`.
const RECORD_SAMPLE: u32 = 9;

impl Layouts {
    /// The layout to parse `bytes` with: a sample starts with
    /// PERF_SAMPLE_IDENTIFIER right after its header, which names its
    /// source. Bytes too short or an unknown id get the common layout
    /// (and its error, if they do not parse).
    pub(crate) fn of(&self, bytes: &[u8], ids: &HashMap<u64, usize>) -> &RecordLayout {
        let kind = bytes
            .get(0..4)
            .map(|b| u32::from_ne_bytes(b.try_into().unwrap_or_default()));
        if kind != Some(RECORD_SAMPLE) {
            return &self.common;
        }
        bytes
            .get(8..16)
            .and_then(|b| ids.get(&u64::from_ne_bytes(b.try_into().ok()?)))
            .and_then(|&i| self.per_source.get(i))
            .unwrap_or(&self.common)
    }
}

/// Parses one record, counts it, finds its source and hands it to `f`.
fn deliver(
    bytes: &[u8],
    cpu: Option<u32>,
    layouts: &Layouts,
    ids: &HashMap<u64, usize>,
    stats: &mut SamplerStats,
    f: &mut impl FnMut(&Record<'_>, Origin),
) -> Result<(), RecordError> {
    let record = parse_record(bytes, layouts.of(bytes, ids))?;
    stats.records += 1;
    let id = match &record {
        Record::Sample(s) => {
            stats.samples += 1;
            s.id
        }
        Record::Lost(l) => {
            if l.samples {
                stats.lost_samples += l.lost;
            } else {
                stats.lost += l.lost;
                stats.lost_records += 1;
            }
            // The trailer holds the primary (parent) id that the id map
            // knows; LOST's own id is the inherited child's.
            l.sample_id.id.or(l.id)
        }
        Record::Throttle(t) => {
            if t.throttled {
                stats.throttles += 1;
            }
            Some(t.id)
        }
        Record::Mmap(m) => m.sample_id.id,
        Record::Comm(c) => c.sample_id.id,
        Record::Fork(t) | Record::Exit(t) => t.sample_id.id,
        Record::Other { .. } => None,
    };
    let origin = Origin {
        cpu,
        event: id.and_then(|id| ids.get(&id).copied()),
    };
    f(&record, origin);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn any_bytes_pick_a_layout_without_panicking(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let common = RecordLayout::new(crate::record::SAMPLE_IDENTIFIER, 0, 0, true).unwrap();
            let layouts = Layouts { common, per_source: vec![common] };
            let ids: HashMap<u64, usize> = [(1u64, 0usize), (2, 7)].into_iter().collect();
            let _ = parse_record(&bytes, layouts.of(&bytes, &ids));
        }
    }

    #[test]
    fn a_sample_is_parsed_by_the_layout_its_identifier_names() {
        use crate::record::{SAMPLE_IDENTIFIER, SAMPLE_IP};
        let common = RecordLayout::new(SAMPLE_IDENTIFIER, 0, 0, true).unwrap();
        let with_ip = RecordLayout::new(SAMPLE_IDENTIFIER | SAMPLE_IP, 0, 0, true).unwrap();
        let layouts = Layouts {
            common,
            per_source: vec![common, with_ip],
        };
        let ids: HashMap<u64, usize> = [(10u64, 0usize), (11, 1)].into_iter().collect();
        let sample = |id: u64, extra: &[u64]| {
            let mut b = Vec::new();
            b.extend_from_slice(&RECORD_SAMPLE.to_ne_bytes());
            b.extend_from_slice(&0u16.to_ne_bytes());
            b.extend_from_slice(&((16 + 8 * extra.len()) as u16).to_ne_bytes());
            b.extend_from_slice(&id.to_ne_bytes());
            for w in extra {
                b.extend_from_slice(&w.to_ne_bytes());
            }
            b
        };
        let b = sample(11, &[0x4000]);
        let Ok(Record::Sample(s)) = parse_record(&b, layouts.of(&b, &ids)) else {
            panic!("source 1's sample");
        };
        assert_eq!((s.id, s.ip), (Some(11), Some(0x4000)));
        let b = sample(10, &[]);
        let Ok(Record::Sample(s)) = parse_record(&b, layouts.of(&b, &ids)) else {
            panic!("source 0's sample");
        };
        assert_eq!((s.id, s.ip), (Some(10), None));
    }
    use crate::sampler_builder::{SampleRate, SampleTarget, SamplerBuilder, Wakeup};

    #[test]
    fn options_are_checked_before_any_syscall() {
        let b = || {
            SamplerBuilder::new(SampleTarget::Task {
                pid: 0,
                inherit: false,
            })
            .source(SampleSource::task_clock())
        };
        assert!(matches!(
            SamplerBuilder::new(SampleTarget::Cpus(vec![0])).open(),
            Err(Error::SampleConfig(_))
        ));
        assert!(matches!(b().ring_pages(3).open(), Err(Error::SampleConfig(_))));
        assert!(matches!(b().user_stack(12).open(), Err(Error::SampleConfig(_))));
        let err = b().rate(SampleRate::Frequency(u64::MAX)).open().err().unwrap();
        assert!(
            err.to_string().contains("kernel.perf_event_max_sample_rate="),
            "{err}"
        );
    }

    #[test]
    fn own_task_clock_samples_arrive() {
        let mut s = match SamplerBuilder::new(SampleTarget::Task {
            pid: 0,
            inherit: false,
        })
        .source(SampleSource::task_clock())
        .rate(SampleRate::Period(100_000))
        .exclude_kernel(true)
        .open()
        {
            Ok(s) => s,
            Err(e) => {
                eprintln!("SKIPPED: sampling refused here: {e}");
                return;
            }
        };
        s.enable().unwrap();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = std::hint::black_box(x.wrapping_add(i ^ (x >> 3)));
        }
        s.disable().unwrap();
        let mut samples = 0;
        let me = std::process::id();
        s.drain(|r, o| {
            if let Record::Sample(smp) = r {
                assert_eq!(smp.pid, Some(me));
                assert_eq!(o.event, Some(0));
                samples += 1;
            }
        })
        .unwrap();
        assert!(samples > 0);
        assert_eq!(s.stats().samples, samples);
        assert_eq!(s.stats().lost, 0);
    }

    #[test]
    fn a_byte_watermark_wakes_the_poll() {
        let mut s = match SamplerBuilder::new(SampleTarget::Task {
            pid: 0,
            inherit: false,
        })
        .source(SampleSource::task_clock())
        .rate(SampleRate::Period(50_000))
        .exclude_kernel(true)
        .wakeup(Wakeup::Bytes(256))
        .open()
        {
            Ok(s) => s,
            Err(e) => {
                eprintln!("SKIPPED: sampling refused here: {e}");
                return;
            }
        };
        // Nothing yet: the wait times out.
        assert_eq!(
            s.wait(Some(Duration::from_millis(1)), None).unwrap(),
            Readiness::default()
        );
        s.enable().unwrap();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = std::hint::black_box(x.wrapping_add(i ^ (x >> 3)));
        }
        let ready = s.wait(Some(Duration::from_secs(5)), None).unwrap();
        assert!(ready.data && !ready.woken, "{ready:?}");
        assert!(s.drain(|_, _| {}).unwrap() > 0);
    }
}
