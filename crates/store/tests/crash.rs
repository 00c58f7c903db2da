//! No loss: the writer is killed with SIGKILL in the middle of inserting, again and again; the
//! database must open, pass `PRAGMA integrity_check`, and hold every event the writer had
//! acknowledged as committed.

use leakguard_store::{Reader, Store};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn every_acknowledged_event_survives_sigkill_during_inserts() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("events.db");
    let mut expected_total = 0u64;
    for run in 0..12u64 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_leakguard-store-crashtest"))
            .arg(&db)
            .arg(run.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // Kill after a different number of acknowledged batches each run, while the next
        // batch is being written.
        let acks_wanted = 3 + (run * 7) % 17;
        let mut acked_to: Option<u64> = None;
        for _ in 0..acks_wanted {
            let line = lines.next().expect("the writer acknowledges").unwrap();
            let last: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
            acked_to = Some(last);
        }
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        // Lines written before the kill may still be in the pipe: they were acknowledged too.
        for line in lines.map_while(Result::ok) {
            acked_to = Some(line.rsplit(' ').next().unwrap().parse().unwrap());
        }
        let acked_to = acked_to.unwrap();

        let store = Store::open(&db).expect("the database opens after a SIGKILL");
        let check: String = store
            .conn_for_maintenance()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok", "run {run}");
        let reader = Reader::open(&db).unwrap();
        for i in [0, acked_to / 2, acked_to] {
            assert!(
                reader.get(&format!("run{run}-{i}")).unwrap().is_some(),
                "run {run}: acknowledged event {i} is missing"
            );
        }
        let stored_this_run: i64 = store
            .conn_for_maintenance()
            .query_row(
                "SELECT COUNT(*) FROM events WHERE id LIKE ?1",
                [format!("run{run}-%")],
                |r| r.get(0),
            )
            .unwrap();
        assert!(
            stored_this_run as u64 > acked_to,
            "run {run}: {stored_this_run} stored, {} acknowledged",
            acked_to + 1
        );
        // Whole batches only: a transaction is all or nothing.
        assert_eq!(
            stored_this_run % 50,
            0,
            "run {run}: a batch was half stored"
        );
        expected_total += acked_to + 1;
        assert!(store.len() >= expected_total);
    }
}
