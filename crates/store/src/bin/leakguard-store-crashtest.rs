//! Test helper for the crash test (`tests/crash.rs`): inserts batches of events into the
//! database given as the first argument, for ever, and after each commit prints
//! `ack <first> <last>` — the indexes of the events it now guarantees are stored. The test kills
//! it with SIGKILL at random points and checks every acknowledged event survived.

use leakguard_store::fixtures::sample_event;
use leakguard_store::Store;
use std::io::Write;

fn main() {
    // argv: [program, DB, RUN]
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .expect("usage: leakguard-store-crashtest DB RUN");
    let run: u64 = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(0);
    let mut store = Store::open(std::path::Path::new(path)).expect("open");
    let stdout = std::io::stdout();
    let mut next = 0u64;
    loop {
        let batch: Vec<_> = (next..next + 50)
            .map(|i| {
                let mut e = sample_event(i, 1_790_000_000_000);
                e.id = format!("run{run}-{i}");
                e
            })
            .collect();
        store.insert(&batch).expect("insert");
        let mut out = stdout.lock();
        writeln!(out, "ack {} {}", next, next + 49).expect("stdout");
        out.flush().expect("stdout");
        next += 50;
    }
}
