//! Event store figures: sustained inserts (through the recorder, as the guard does it), what
//! recording one event costs its caller (queued, or journaled first), the
//! last 100 events among 1,000,000, a rule-filtered page, a week of stats, and the size per
//! event (printed while the 1M database is built).
//!
//! Run: `cargo bench -p leakguard-store` (or `scripts/bench.sh`).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use leakguard_store::fixtures::sample_event;
use leakguard_store::{Filter, Reader, Recorder, RecorderOptions, Store};
use std::sync::atomic::{AtomicU64, Ordering};

const BASE_MS: i64 = 1_790_000_000_000;

fn inserts(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let next = AtomicU64::new(0);
    let mut group = c.benchmark_group("insert");
    for batch in [1u64, 100, 1000] {
        let mut store = Store::open(&dir.path().join(format!("direct-{batch}.db"))).unwrap();
        group.throughput(Throughput::Elements(batch));
        group.bench_with_input(BenchmarkId::new("store_batch", batch), &batch, |b, &n| {
            b.iter(|| {
                let events: Vec<_> = (0..n)
                    .map(|_| sample_event(next.fetch_add(1, Ordering::Relaxed), BASE_MS))
                    .collect();
                store.insert(&events).unwrap()
            })
        });
    }
    let recorder = Recorder::start(&path, RecorderOptions::default()).unwrap();
    group.throughput(Throughput::Elements(1000));
    group.bench_function("recorder_1000_then_flush", |b| {
        b.iter(|| {
            for _ in 0..1000 {
                recorder.record(sample_event(next.fetch_add(1, Ordering::Relaxed), BASE_MS));
            }
            recorder.flush().unwrap()
        })
    });
    group.finish();
    // What the guard's request path pays per event: queued only, or written to the journal
    // first (the caller's time only; the writer commits untimed between rounds).
    let mut group = c.benchmark_group("record_one");
    for journaled in [false, true] {
        let name = if journaled { "journaled" } else { "queued" };
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut spent = std::time::Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(1000);
                    let events: Vec<_> = (0..n)
                        .map(|_| sample_event(next.fetch_add(1, Ordering::Relaxed), BASE_MS))
                        .collect();
                    let start = std::time::Instant::now();
                    for e in events {
                        if journaled {
                            recorder.record_journaled(e);
                        } else {
                            recorder.record(e);
                        }
                    }
                    spent += start.elapsed();
                    recorder.flush().unwrap();
                    left -= n;
                }
                spent
            })
        });
    }
    group.finish();
}

fn queries(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let total = 1_000_000u64;
    {
        let mut store = Store::open(&path).unwrap();
        for start in (0..total).step_by(10_000) {
            let events: Vec<_> = (start..start + 10_000)
                .map(|i| sample_event(i, BASE_MS))
                .collect();
            store.insert(&events).unwrap();
        }
        store
            .conn_for_maintenance()
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .unwrap();
    }
    let size = std::fs::metadata(&path).unwrap().len();
    eprintln!(
        "events.db: {total} events, {size} bytes, {:.0} bytes per event",
        size as f64 / total as f64
    );
    let reader = Reader::open(&path).unwrap();
    let mut group = c.benchmark_group("query_1m");
    group.bench_function("last_100", |b| {
        b.iter(|| {
            let page = reader
                .events(&Filter {
                    limit: 100,
                    ..Filter::default()
                })
                .unwrap();
            assert_eq!(page.events.len(), 100);
            page
        })
    });
    group.bench_function("last_100_blocked_with_rule", |b| {
        b.iter(|| {
            reader
                .events(&Filter {
                    limit: 100,
                    rule: Some("aws-access-key-id".into()),
                    outcomes: vec!["blocked".into()],
                    ..Filter::default()
                })
                .unwrap()
        })
    });
    group.bench_function("text_search_100", |b| {
        b.iter(|| {
            reader
                .events(&Filter {
                    limit: 100,
                    text: Some("ghp_".into()),
                    ..Filter::default()
                })
                .unwrap()
        })
    });
    let end = BASE_MS + total as i64 * 1000;
    group.sample_size(10);
    group.bench_function("stats_last_7_days_hourly", |b| {
        b.iter(|| reader.stats(end - 7 * 86_400_000, end, 3600).unwrap())
    });
    group.finish();
}

criterion_group!(benches, inserts, queries);
criterion_main!(benches);
