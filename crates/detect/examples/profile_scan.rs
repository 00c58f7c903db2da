//! Scans a file many times, for profilers: `cargo run --release --example profile_scan FILE N`.
fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: profile_scan FILE [ITERATIONS]");
    let n: usize = args
        .next()
        .map_or(50, |s| s.parse().expect("ITERATIONS is a number"));
    let text = std::fs::read_to_string(&path).expect("readable UTF-8 file");
    let engine = leakguard_detect::Engine::new().expect("engine");
    let start = std::time::Instant::now();
    let mut findings = 0;
    for _ in 0..n {
        findings += engine.scan(&text).len();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{:.1} MB/s, {} findings per scan",
        (text.len() * n) as f64 / secs / 1e6,
        findings / n
    );
}
