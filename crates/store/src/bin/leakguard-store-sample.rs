//! Test helper: fills a guard's data dir with N sample events (the store's fixtures: one in
//! four with findings, five hosts), the newest now and one a second before the other, so the
//! desktop app can be measured with a large record. Usage: `leakguard-store-sample DATA_DIR N`.

use leakguard_store::fixtures::sample_event;
use leakguard_store::Store;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(n)) = (args.get(1), args.get(2).and_then(|n| n.parse::<u64>().ok()))
    else {
        eprintln!("usage: leakguard-store-sample DATA_DIR N");
        std::process::exit(2);
    };
    let dir = std::path::Path::new(dir);
    std::fs::create_dir_all(dir).expect("create the data dir");
    let mut store = Store::open(&leakguard_store::db_path(dir)).expect("open the store");
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64;
    let base = now_ms - n as i64 * 1000;
    let mut at = 0u64;
    while at < n {
        let end = (at + 5000).min(n);
        let batch: Vec<_> = (at..end)
            .map(|i| {
                let mut e = sample_event(i, base);
                e.id = format!("sample-{i}");
                e
            })
            .collect();
        store.insert(&batch).expect("insert");
        at = end;
    }
    println!("{n} events in {}", leakguard_store::db_path(dir).display());
}
