//! Scans a file (or a generated corpus) many times, for profilers:
//! `cargo run --release --example profile_scan -- FILE|prose|code|mixed [ITERATIONS] [SIZE]`.
#[path = "../benches/corpus.rs"]
mod corpus;

fn main() {
    let mut args = std::env::args().skip(1);
    let what = args
        .next()
        .expect("usage: profile_scan FILE|prose|code|mixed [ITERATIONS] [SIZE]");
    let n: usize = args
        .next()
        .map_or(50, |s| s.parse().expect("ITERATIONS is a number"));
    let size: usize = args
        .next()
        .map_or(1 << 20, |s| s.parse().expect("SIZE is a number"));
    let text = match what.as_str() {
        "prose" => corpus::prose(size),
        "code" => corpus::code(size),
        "mixed" => corpus::mixed(size),
        path => std::fs::read_to_string(path).expect("readable UTF-8 file"),
    };
    let engine = leakguard_detect::Engine::new().expect("engine");
    engine.warm();
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
