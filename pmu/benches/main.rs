//! Criterion benchmarks of ftr-pmu's sampling hot paths: record parsing
//! (what every drained sample costs) and the time-order merge.
//!
//! `cargo bench -p ftr-pmu --bench main -- --warm-up-time 1 --measurement-time 3`

use criterion::{Criterion, Throughput};
use ftr_pmu::{
    parse_record, record_size, RecordLayout, RecordSorter, SAMPLE_CALLCHAIN, SAMPLE_CPU, SAMPLE_IDENTIFIER,
    SAMPLE_IP, SAMPLE_PERIOD, SAMPLE_TID, SAMPLE_TIME,
};
use std::hint::black_box;

/// 1000 profile-style samples (identifier, ip, tid, time, cpu, period and
/// a 24-frame callchain: 3 kernel, 21 user) back to back, as a drained
/// ring holds them.
fn samples() -> (Vec<u8>, RecordLayout) {
    let st = SAMPLE_IDENTIFIER
        | SAMPLE_IP
        | SAMPLE_TID
        | SAMPLE_TIME
        | SAMPLE_CPU
        | SAMPLE_PERIOD
        | SAMPLE_CALLCHAIN;
    let layout = RecordLayout::new(st, 0, 0, true).unwrap();
    let mut ring = Vec::new();
    for i in 0..1000u64 {
        let mut words = vec![
            7,
            0x40_1000 + i,
            0x0000_0064_0000_0064,
            1_000_000 + i,
            1,
            1_000_000,
            26,
        ];
        words.push(-128i64 as u64);
        words.extend((0..3).map(|k| 0xffff_ffff_8100_0000 + k * 16));
        words.push(-512i64 as u64);
        words.extend((0..21).map(|k| 0x40_1000 + k * 64));
        let size = 8 + words.len() * 8;
        ring.extend_from_slice(&9u32.to_ne_bytes());
        ring.extend_from_slice(&2u16.to_ne_bytes());
        ring.extend_from_slice(&(size as u16).to_ne_bytes());
        for w in words {
            ring.extend_from_slice(&w.to_ne_bytes());
        }
    }
    (ring, layout)
}

fn parse(c: &mut Criterion) {
    let (ring, layout) = samples();
    let mut g = c.benchmark_group("records");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("parse 1000 samples with 24-frame callchains", |b| {
        b.iter(|| {
            let mut at = 0;
            let mut frames = 0;
            while let Some(size) = record_size(&ring[at..]) {
                if let Ok(ftr_pmu::Record::Sample(s)) = parse_record(&ring[at..at + size], &layout) {
                    frames += s.callchain.map_or(0, |c| c.user.len());
                }
                at += size;
                if at >= ring.len() {
                    break;
                }
            }
            black_box(frames)
        })
    });
    g.finish();
}

fn sort(c: &mut Criterion) {
    let mut g = c.benchmark_group("sorter");
    g.throughput(Throughput::Elements(2000));
    g.bench_function("merge 2 rings x 1000 records in 10 rounds", |b| {
        b.iter(|| {
            let mut s = RecordSorter::new();
            let mut out = 0;
            for round in 0..10u64 {
                for cpu in 0..2u64 {
                    for i in 0..100u64 {
                        s.push(round * 1000 + i * 10 + cpu, (cpu, i));
                    }
                }
                out += s.end_round().len();
            }
            out += s.flush().len();
            black_box(out)
        })
    });
    g.finish();
}

// What criterion_group!/criterion_main! expand to, without their
// undocumented public items.
fn main() {
    let mut c = Criterion::default().configure_from_args();
    parse(&mut c);
    sort(&mut c);
    c.final_summary();
}
