//! The time the guard adds to a document upload: `inspect` (multipart parsing, document
//! extraction, scanning, the verdict) on an OpenAI `files.create` body carrying the 1 MB DOCX
//! and the 10 MB PDF made by bench/make_documents.py (LG_BENCH_DOCS, set by
//! scripts/bench-documents.sh). Without the guard these bytes would only be copied: the time
//! here is what the guard adds before the upload goes on.

use criterion::{criterion_group, criterion_main, Criterion};
use leakguard_detect::Engine;
use leakguard_policy::{Policy, RequestMeta};
use leakguard_providers::Catalog;
use leakguard_proxy::inspect::{inspect, Loaded, RequestInfo};

fn uploads(c: &mut Criterion) {
    let Ok(dir) = std::env::var("LG_BENCH_DOCS") else {
        eprintln!("LG_BENCH_DOCS is not set: run scripts/bench-documents.sh");
        return;
    };
    let policy = Policy::parse(include_str!("../../../policies/default.json")).unwrap();
    let engine = Engine::with_config(policy.engine_config()).unwrap();
    let loaded = Loaded::new(policy, engine, "bench".into());
    let catalog = Catalog::builtin();
    let mut group = c.benchmark_group("upload");
    group.sample_size(10);
    for (file, mime) in [
        (
            "notes.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        ("report.pdf", "application/pdf"),
    ] {
        let data = std::fs::read(std::path::Path::new(&dir).join(file)).expect("read");
        let (ct, body) = leakguard_testkit::office::multipart_file("file", file, mime, &data);
        let info = RequestInfo {
            host: "api.openai.com".into(),
            method: "POST".into(),
            path: "/v1/files".into(),
            content_type: Some(ct),
            ..RequestInfo::default()
        };
        // Each upload is seen for the first time: the scan cache is emptied before each run
        // (outside the timing).
        group.bench_function(file, |b| {
            b.iter_batched(
                || loaded.scan_cache.clear(),
                |()| {
                    let mut event = Default::default();
                    inspect(
                        &loaded,
                        &catalog,
                        &info,
                        &body,
                        &RequestMeta::default(),
                        &mut event,
                    )
                    .expect("inspected")
                },
                criterion::BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, uploads);
criterion_main!(benches);
