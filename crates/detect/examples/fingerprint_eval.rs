//! Prints the fingerprint accuracy table: `cargo run --release --example fingerprint_eval [N]`.
#[path = "../benches/fingerprint_eval.rs"]
mod eval;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let Some(r) = eval::run(n) else {
        eprintln!("the cargo registry crates used as test code were not found (build the workspace first)");
        std::process::exit(2);
    };
    println!(
        "index: {} lines of company code, {} fingerprints",
        r.lines, r.fingerprints
    );
    for (name, hit, total) in r.rows {
        println!(
            "{name:<66} {hit:>5} / {total:<5} = {:>6.2}%",
            100.0 * hit as f64 / total.max(1) as f64
        );
    }
}
