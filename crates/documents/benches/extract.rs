//! Extraction throughput per format, in MB/s of the document's own size, on the files made by
//! bench/make_documents.py (scripts/bench-documents.sh sets LG_BENCH_DOCS to their directory).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use leakguard_documents::{extract, Limits};

fn documents(c: &mut Criterion) {
    let Ok(dir) = std::env::var("LG_BENCH_DOCS") else {
        eprintln!("LG_BENCH_DOCS is not set: run scripts/bench-documents.sh");
        return;
    };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("LG_BENCH_DOCS is a directory")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    files.sort();
    let mut group = c.benchmark_group("extract");
    group.sample_size(10);
    for path in files {
        let bytes = std::fs::read(&path).expect("read");
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let doc = extract(&bytes, Some(&name), &Limits::default())
            .expect("readable")
            .expect("a document");
        eprintln!(
            "{name}: {} bytes, {} parts, {} bytes of text",
            bytes.len(),
            doc.parts,
            doc.text_bytes()
        );
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(&name, |b| {
            b.iter(|| extract(&bytes, Some(&name), &Limits::default()).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, documents);
criterion_main!(benches);
