//! Throughput of `Engine::scan` on prose without secrets, on source code, and on mixed text
//! (prose, code blocks and a few secrets), at 1 KB, 32 KB and 1 MB; plus engine build time and
//! the latency of a 64 KB prompt.
//!
//! Run: `cargo bench -p leakguard-detect --bench scan` (numbers in the README).

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use leakguard_detect::Engine;

const PROSE: &str = include_str!("prose.txt");
/// Real code: this repository's own sources, several languages' worth of shapes.
const CODE: &[&str] = &[
    include_str!("../src/engine.rs"),
    include_str!("../src/code.rs"),
    include_str!("../src/validate.rs"),
    include_str!("../src/normalize.rs"),
    include_str!("../../cli/src/scan.rs"),
];

/// Repeats paragraphs of `parts` (rotating, so the text is not one paragraph over and over)
/// until `size` bytes, cut at a char boundary.
pub fn build(parts: &[&str], size: usize) -> String {
    let paragraphs: Vec<&str> = parts
        .iter()
        .flat_map(|p| p.split("\n\n"))
        .filter(|p| !p.trim().is_empty())
        .collect();
    let mut out = String::with_capacity(size + 4096);
    let mut i = 0usize;
    while out.len() < size {
        out.push_str(paragraphs[(i * 7) % paragraphs.len()]);
        out.push_str("\n\n");
        i += 1;
    }
    let mut cut = size.min(out.len());
    while !out.is_char_boundary(cut) {
        cut -= 1;
    }
    out.truncate(cut);
    out
}

pub fn mixed(size: usize) -> String {
    let code_block = format!(
        "```rust\n{}\n```",
        &CODE[0][..CODE[0].len().min(3000)]
            .rsplit_once('\n')
            .map_or("", |(a, _)| a)
    );
    let secret = "Here is my config:\naws_access_key_id = AKIAQYLPMN5HJNGY4F7A\nand mail jane.doe@acme-semi.com about it.";
    let parts = [PROSE, code_block.as_str(), secret];
    build(&parts, size)
}

fn throughput(c: &mut Criterion) {
    let engine = Engine::new().unwrap();
    engine.warm();
    for (name, make) in [
        (
            "prose",
            Box::new(|n| build(&[PROSE], n)) as Box<dyn Fn(usize) -> String>,
        ),
        ("code", Box::new(|n| build(CODE, n))),
        ("mixed", Box::new(mixed)),
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
    group.bench_function("build", |b| b.iter(|| Engine::new().unwrap()));
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
