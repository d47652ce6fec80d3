//! Criterion benchmarks of the ftr binary's hot paths.
//!
//! `cargo bench --bench main -- --warm-up-time 1 --measurement-time 3`

use criterion::Criterion;

/// `ftr tp`'s per-event work on real pages: decode the sub-buffer, look the
/// schema up by id, format `comm-pid [cpu] ts: name: field=value ...` into
/// a buffer. Comparable with `trace-cmd report > /dev/null`, which does the
/// same from a file.
mod tp_lines {
    use criterion::{Criterion, Throughput};
    use ftr::pipeline::session::Event;
    use ftr::tools::tp::write_event_line;
    use ftr_tracefs::format::{FieldRef, Schema};
    use ftr_tracefs::ring::{PageLayout, Pages};
    use ftr_tracefs::Endian;
    use std::collections::HashMap;
    use std::hint::black_box;
    use std::path::Path;

    struct Known {
        schema: Schema,
        pid: FieldRef,
        fields: Vec<(String, FieldRef)>,
    }

    fn fixture() -> (Vec<Vec<u8>>, HashMap<u16, Known>) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/pages/host-6.18");
        let cpus = ["cpu0.raw", "cpu1.raw"]
            .iter()
            .map(|f| std::fs::read(dir.join(f)).unwrap())
            .collect();
        let mut known = HashMap::new();
        for (sys, f) in [
            ("sched", "sched_switch"),
            ("sched", "sched_wakeup"),
            ("sched", "sched_process_exec"),
            ("ftrace", "print"),
        ] {
            let text = std::fs::read_to_string(dir.join(format!("{f}.format"))).unwrap();
            let schema = Schema::parse(sys, &text).unwrap();
            let pid = schema.common_pid().unwrap();
            let fields = schema
                .event_fields()
                .map(|f| (f.name.clone(), f.to_ref()))
                .collect();
            known.insert(schema.id, Known { schema, pid, fields });
        }
        (cpus, known)
    }

    fn format_all(cpus: &[Vec<u8>], known: &HashMap<u16, Known>, out: &mut Vec<u8>) -> u64 {
        let layout = PageLayout::default_64(Endian::Little);
        let mut n = 0;
        out.clear();
        for (cpu, raw) in cpus.iter().enumerate() {
            for page in Pages::new(raw, &layout) {
                for ev in page.unwrap().events() {
                    let ev = ev.unwrap();
                    let Some(k) = Endian::Little.u16(ev.payload, 0).and_then(|id| known.get(&id)) else {
                        continue;
                    };
                    let e = Event {
                        cpu: cpu as u32,
                        ts: ev.ts,
                        schema: &k.schema,
                        data: ev.payload,
                        endian: Endian::Little,
                        pid: k.pid.i64(ev.payload, Endian::Little).unwrap_or(-1) as i32,
                        fields: &k.fields,
                    };
                    write_event_line(out, "bench", &e).unwrap();
                    n += 1;
                }
            }
        }
        n
    }

    pub fn bench(c: &mut Criterion) {
        let (cpus, known) = fixture();
        let mut out = Vec::with_capacity(4 << 20);
        let n = format_all(&cpus, &known, &mut out);
        let mut g = c.benchmark_group("tp");
        g.throughput(Throughput::Elements(n));
        g.bench_function("decode_and_format_lines/host-6.18", |b| {
            b.iter(|| format_all(black_box(&cpus), black_box(&known), &mut out))
        });
        g.finish();
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    tp_lines::bench(&mut c);
    c.final_summary();
}
