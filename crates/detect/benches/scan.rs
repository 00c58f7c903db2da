//! Throughput of `Engine::scan` on prose without secrets, on real source code, and on mixed
//! prompts, at 1 KB, 32 KB and 1 MB; and the engine's build time (lazy) and build + warm.
//!
//! Run: `cargo bench -p leakguard-detect --bench scan` (numbers in the README).

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use leakguard_detect::Engine;

#[path = "corpus.rs"]
mod corpus;

fn throughput(c: &mut Criterion) {
    let engine = Engine::new().unwrap();
    engine.warm();
    eprintln!("code corpus: {}", corpus::code_sources().1);
    for (name, make) in [
        ("prose", corpus::prose as fn(usize) -> String),
        ("code", corpus::code),
        ("mixed", corpus::mixed),
    ] {
        let mut group = c.benchmark_group(format!("scan/{name}"));
        for size in [1usize << 10, 32 << 10, 1 << 20] {
            let text = make(size);
            group.throughput(Throughput::Bytes(text.len() as u64));
            group.bench_with_input(BenchmarkId::from_parameter(size), &text, |b, t| {
                b.iter(|| engine.scan(black_box(t)))
            });
        }
        group.finish();
    }
}

fn build_time(c: &mut Criterion) {
    let mut group = c.benchmark_group("engine");
    group.sample_size(20);
    group.bench_function("build", |b| b.iter(Engine::new));
    group.bench_function("build_and_warm", |b| {
        b.iter(|| {
            let e = Engine::new().unwrap();
            e.warm();
            e
        })
    });
    group.finish();
}

criterion_group!(benches, throughput, build_time);
criterion_main!(benches);
