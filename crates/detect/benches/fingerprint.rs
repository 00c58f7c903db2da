//! Fingerprint index build throughput and lookup latency.
//!
//! - build: `regex-automata` (~65k lines) from the local cargo registry, lines per second;
//! - lookup: a 10 KB paste against an index of the whole local registry (2.6M lines on the
//!   reference machine; at least 1M is required for the figure to mean anything).
//!
//! Run: `cargo bench -p leakguard-detect --bench fingerprint`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use leakguard_detect::fingerprint::{FingerprintKey, IndexBuilder, Params};

#[path = "fingerprint_eval.rs"]
mod eval;

fn bench(c: &mut Criterion) {
    let Some(company_dir) = eval::registry_crate("regex-automata-") else {
        eprintln!("cargo registry not found; build the workspace first");
        return;
    };
    let company: Vec<String> = eval::sources(&company_dir.join("src"), &["rs"])
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    let lines: usize = company.iter().map(|t| t.lines().count()).sum();
    let mut group = c.benchmark_group("fingerprint");
    group.sample_size(10);
    group.throughput(Throughput::Elements(lines as u64));
    group.bench_function("build_lines", |b| {
        b.iter(|| {
            let mut builder = IndexBuilder::new("bench", eval::SALT, Params::default()).unwrap();
            for f in &company {
                builder.add(f.as_bytes());
            }
            builder.finish(0)
        })
    });
    group.finish();

    // The whole registry as one index.
    let registry = company_dir.parent().unwrap().to_path_buf();
    let mut builder = IndexBuilder::new("registry", eval::SALT, Params::default()).unwrap();
    let mut total_lines = 0usize;
    for (_, t) in eval::sources(&registry, &["rs", "c", "h"]) {
        total_lines += t.lines().count();
        builder.add(t.as_bytes());
    }
    let index = builder.finish(0);
    eprintln!(
        "lookup index: {total_lines} lines, {} fingerprints, {} bytes",
        index.len(),
        index.to_bytes().len()
    );
    let key = FingerprintKey::new(eval::SALT).unwrap();
    let big = company.iter().max_by_key(|t| t.len()).unwrap();
    let mut cut = 10 * 1024;
    while !big.is_char_boundary(cut) {
        cut -= 1;
    }
    let paste = &big[big.len() / 3..][..cut];
    let mut group = c.benchmark_group("fingerprint");
    group.bench_function("lookup_10k_paste", |b| {
        b.iter(|| index.lookup(black_box(paste.as_bytes()), &key))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
