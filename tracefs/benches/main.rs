//! Criterion benchmarks of ftr-tracefs, one module per public module.
//!
//! Run with `cargo bench -p ftr-tracefs --bench main`; add
//! `-- --warm-up-time 1 --measurement-time 3` for a quick run.

use criterion::Criterion;

/// Benchmarks of [`ftr_tracefs::ring`].
mod ring {
    use std::hint::black_box;
    use std::path::Path;

    use criterion::{Criterion, Throughput};
    use ftr_tracefs::ring::{Page, PageLayout, Pages};
    use ftr_tracefs::Endian;

    /// Per-CPU `trace_pipe_raw` dumps captured on the 6.18 host (x86_64):
    /// sched_switch, sched_wakeup, sched_process_exec and trace_marker events.
    fn host_pages() -> Vec<Vec<u8>> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/pages/host-6.18");
        ["cpu0.raw", "cpu1.raw"]
            .iter()
            .map(|f| std::fs::read(dir.join(f)).expect("read fixtures/pages/host-6.18"))
            .collect()
    }

    /// Decodes every page of every dump, touching each payload; returns the
    /// number of events and the sum of their payload lengths.
    fn decode_all(cpus: &[Vec<u8>], layout: &PageLayout) -> (u64, usize) {
        let (mut events, mut bytes) = (0u64, 0usize);
        for cpu in cpus {
            for page in Pages::new(cpu, layout) {
                let page: Page<'_> = page.expect("valid page");
                for event in page.events() {
                    let event = event.expect("valid event");
                    events += 1;
                    bytes += event.payload.len();
                }
            }
        }
        (events, bytes)
    }

    /// Sub-buffer decoding: page headers plus every record, in events/s.
    pub fn page_events(c: &mut Criterion) {
        let cpus = host_pages();
        let layout = PageLayout::default_64(Endian::Little);
        let (events, _) = decode_all(&cpus, &layout);
        let mut group = c.benchmark_group("ring");
        group.throughput(Throughput::Elements(events));
        group.bench_function("page_events/host-6.18", |b| {
            b.iter(|| decode_all(black_box(&cpus), black_box(&layout)))
        });
        group.finish();
    }
}

// What criterion_group!/criterion_main! expand to, without their
// undocumented public items.
fn main() {
    let mut c = Criterion::default().configure_from_args();
    ring::page_events(&mut c);
    c.final_summary();
}
