//! Criterion benchmarks of ftr-symbols, one module per public area:
//! kallsyms parsing and lookup, and user symbolization through the
//! Symbolizer's caches (file loaded once, then lookups).
//!
//! `cargo bench -p ftr-symbols --bench main -- --warm-up-time 1 --measurement-time 3`

use criterion::Criterion;

mod kernel {
    use criterion::{Criterion, Throughput};
    use ftr_symbols::KernelSymbols;
    use std::hint::black_box;

    /// The running kernel's kallsyms, or a generated one of the same shape
    /// when it is unreadable or hidden.
    fn kallsyms() -> Vec<u8> {
        match std::fs::read("/proc/kallsyms") {
            Ok(b) if !KernelSymbols::parse(&b).addresses_hidden() => b,
            _ => (0..200_000u64)
                .map(|i| format!("{:016x} T sym_{i}\n", 0xffffffff81000000 + i * 64))
                .collect::<String>()
                .into_bytes(),
        }
    }

    pub fn bench(c: &mut Criterion) {
        let text = kallsyms();
        let mut g = c.benchmark_group("kernel");
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_function("parse_kallsyms", |b| {
            b.iter(|| KernelSymbols::parse(black_box(&text)))
        });
        let k = KernelSymbols::parse(&text);
        let syms = k.symbols();
        let addrs: Vec<u64> = (0..10_000)
            .map(|i| syms[(i * 7919) % syms.len()].address + 3)
            .collect();
        g.throughput(Throughput::Elements(addrs.len() as u64));
        g.bench_function("lookup", |b| {
            b.iter(|| addrs.iter().filter(|&&a| k.lookup(a).is_ok()).count())
        });
        g.finish();
    }
}

mod symbolize {
    use criterion::{Criterion, Throughput};
    use ftr_symbols::Symbolizer;

    pub fn bench(c: &mut Criterion) {
        // Addresses in this benchmark binary's own code.
        let pid = std::process::id();
        let maps = ftr_symbols::read_maps(pid).unwrap();
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        let text = maps
            .iter()
            .find(|m| {
                m.is_executable()
                    && matches!(&m.backing, ftr_symbols::MapBacking::File { path, .. } if *path == exe)
            })
            .unwrap()
            .clone();
        let addrs: Vec<u64> = (0..10_000u64)
            .map(|i| text.start + (i * 104_729) % (text.end - text.start))
            .collect();
        let mut s = Symbolizer::new();
        s.user_frames(pid, addrs[0]);
        let mut g = c.benchmark_group("symbolize");
        g.throughput(Throughput::Elements(addrs.len() as u64));
        g.bench_function("user_frames_cached_file", |b| {
            b.iter(|| addrs.iter().map(|&a| s.user_frames(pid, a).len()).sum::<usize>())
        });
        g.finish();
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    kernel::bench(&mut c);
    symbolize::bench(&mut c);
    c.final_summary();
}
