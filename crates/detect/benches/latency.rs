//! Latency distribution of scanning one 64 KB prompt (mixed prose, code and a few secrets) on
//! a warmed engine: p50, p99 and max over 2,000 scans, plus the engine's memory. Criterion
//! reports means; a guard's users feel the tail, so this prints percentiles.
//!
//! Run: `cargo bench -p leakguard-detect --bench latency`.

#[path = "corpus.rs"]
mod corpus;

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn main() {
    // `cargo bench` passes --bench; ignore arguments.
    let before = rss_kib();
    let engine = leakguard_detect::Engine::new().expect("engine");
    engine.warm();
    let after = rss_kib();
    let prompt = corpus::mixed(64 << 10);
    let mut times = Vec::with_capacity(2000);
    for _ in 0..200 {
        std::hint::black_box(engine.scan(&prompt));
    }
    for _ in 0..2000 {
        let t = std::time::Instant::now();
        std::hint::black_box(engine.scan(&prompt));
        times.push(t.elapsed());
    }
    times.sort();
    let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    println!(
        "scan of a {} byte prompt, 2000 runs: p50 {:?}  p99 {:?}  max {:?}",
        prompt.len(),
        pct(0.50),
        pct(0.99),
        times[times.len() - 1]
    );
    if let (Some(b), Some(a)) = (before, after) {
        println!(
            "engine memory (compiled and warmed, RSS growth): {:.1} MiB",
            (a.saturating_sub(b)) as f64 / 1024.0
        );
    }
}
