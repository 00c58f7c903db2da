//! Prints the rules that take longest to compile: `cargo run --release --example rule_costs`.
fn main() {
    let mut costs = Vec::new();
    for (pack, text) in leakguard_detect::BUILTIN_PACKS {
        let spec = leakguard_detect::parse_pack(pack, text).expect("pack parses");
        for r in spec.rules {
            let t = std::time::Instant::now();
            let _ = regex::bytes::RegexBuilder::new(&r.regex)
                .unicode(r.unicode)
                .size_limit(32 << 20)
                .dfa_size_limit(8 << 20)
                .build();
            costs.push((t.elapsed(), r.id));
        }
    }
    let total: std::time::Duration = costs.iter().map(|c| c.0).sum();
    costs.sort();
    costs.reverse();
    println!("total {total:?} for {} rules", costs.len());
    for (d, id) in costs.iter().take(15) {
        println!("{d:>12?} {id}");
    }
    let t = std::time::Instant::now();
    let _ = leakguard_detect::Engine::new().unwrap();
    println!("Engine::new {:?}", t.elapsed());
}
