//! Throughput of `Engine::scan` on prose without secrets, on real source code, and on mixed
//! prompts, at 1 KB, 32 KB and 1 MB; and the engine's build time (lazy) and build + warm.
//! Two yardsticks of the machine run in the same run (`reference/*`), so a figure can be read
//! as a ratio where the shared machine's speed moves between runs: a plain loop doing one
//! table lookup per byte pair (the least work of any keyword pass that looks at every
//! position, the design of the engine's prefilter) and a byte sum (reading memory).
//!
//! `scan_distinct/*` scans distinct pieces in turn instead of one text again and again.
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

/// One lookup per position in a 64 KB table indexed by the byte pair, folded so that no lookup
/// can be skipped; and a plain sum of the bytes.
fn reference(c: &mut Criterion) {
    let text = corpus::prose(1 << 20);
    let table: Vec<u8> = (0..=u16::MAX)
        .map(|i| (i.wrapping_mul(40503) >> 13) as u8)
        .collect();
    let mut group = c.benchmark_group("reference");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("pair_lookup_1MB", |b| {
        b.iter(|| {
            let t = black_box(text.as_bytes());
            t.windows(2).fold(0u8, |acc, w| {
                acc | table[usize::from(u16::from_le_bytes([w[0], w[1]]))]
            })
        })
    });
    group.bench_function("byte_sum_1MB", |b| {
        b.iter(|| {
            black_box(text.as_bytes())
                .iter()
                .fold(0u64, |acc, &x| acc + u64::from(x))
        })
    });
    group.finish();
}

/// The same sizes, each iteration scanning the next of the 1 MB corpus's pieces of that size
/// (the pieces in turn, then again). A benchmark that scans one text again and again lets the
/// CPU's branch predictor learn that text's branches, which no prompt in use allows: on
/// source code that doubled the 32 KB figure. These are the figures to expect of text the
/// scanner has not seen.
fn distinct_texts(c: &mut Criterion) {
    let engine = Engine::new().unwrap();
    engine.warm();
    for (name, make) in [
        ("prose", corpus::prose as fn(usize) -> String),
        ("code", corpus::code),
        ("mixed", corpus::mixed),
    ] {
        let text = make(1 << 20);
        let mut group = c.benchmark_group(format!("scan_distinct/{name}"));
        for size in [1usize << 10, 32 << 10] {
            let mut pieces = Vec::new();
            let mut s = 0;
            while s + size <= text.len() {
                let mut e = s + size;
                while !text.is_char_boundary(e) {
                    e -= 1;
                }
                pieces.push(&text[s..e]);
                s = e;
            }
            group.throughput(Throughput::Bytes(size as u64));
            let mut i = 0;
            group.bench_function(BenchmarkId::from_parameter(size), |b| {
                b.iter(|| {
                    i = (i + 1) % pieces.len();
                    engine.scan(black_box(pieces[i]))
                })
            });
        }
        group.finish();
    }
}

/// The fixed cost of a scan: the short strings a request carries besides its prompt (a role,
/// a model name, a short answer), each scanned on its own.
fn short_texts(c: &mut Criterion) {
    let engine = Engine::new().unwrap();
    engine.warm();
    let mut group = c.benchmark_group("scan_short");
    for (name, text) in [
        ("role", "user"),
        ("model", "gpt-4o-2024-08-06"),
        ("answer", "Hello from upstream"),
        (
            "sentence",
            "Please review the quarterly planning notes and suggest a clearer structure.",
        ),
    ] {
        group.bench_function(name, |b| b.iter(|| engine.scan(black_box(text))));
    }
    group.finish();
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

criterion_group!(
    benches,
    reference,
    throughput,
    distinct_texts,
    short_texts,
    build_time
);
criterion_main!(benches);
