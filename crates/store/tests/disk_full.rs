//! A full disk, for real: the test process's file-size limit (`RLIMIT_FSIZE`) is lowered so
//! the kernel refuses every write that grows a file (EFBIG), the database's and the spill
//! file's alike. Events are then held in memory (bounded: the oldest beyond 10,000 are
//! dropped and counted), the guard is told a journaled event is not safe, the failure is
//! reported; when space returns, everything held is committed with a record of what was
//! dropped. One test in its own binary: the limit is per process.

use leakguard_store::{Event, Reader, Recorder, RecorderOptions};
use leakguard_types::{EventKind, EventVerdict};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

fn event(i: usize) -> Event {
    Event {
        id: format!("e{i}"),
        time: "2026-12-05T10:00:00Z".into(),
        kind: EventKind::Request,
        host: "api.openai.com".into(),
        ..Event::default()
    }
}

fn until(what: &str, limit: Duration, f: impl Fn() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn with_the_disk_full_events_are_held_counted_and_committed_when_space_returns() {
    // Writes past the limit fail with EFBIG instead of killing the process. SAFETY: setting a
    // signal's disposition to "ignore" before any thread of this test writes a file.
    #[allow(unsafe_code)]
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("events.db");
    let rec = Recorder::start(&db, RecorderOptions::default()).unwrap();
    for i in 0..10 {
        rec.record(event(i));
    }
    rec.flush().unwrap();
    assert_eq!(rec.counters.committed.load(Ordering::Relaxed), 10);

    // The disk is full: no file may grow by a byte.
    leakguard_testkit::set_file_size_limit(Some(1));
    assert!(
        !rec.record_journaled(event(10)),
        "the guard is told the event is not safe"
    );
    rec.flush().unwrap();
    let why = rec.counters.failure().expect("the failure is reported");
    assert!(why.contains("disk full"), "{why}");
    // More than the in-memory queue holds: the oldest are dropped, and counted.
    for i in 11..10_016 {
        rec.record(event(i));
    }
    rec.flush().unwrap();
    assert_eq!(rec.counters.held.load(Ordering::Relaxed), 10_000);
    assert_eq!(rec.counters.dropped.load(Ordering::Relaxed), 6);
    assert_eq!(rec.counters.committed.load(Ordering::Relaxed), 10);

    // Space returns: the writer tries again by itself.
    leakguard_testkit::set_file_size_limit(None);
    until(
        "the held events to be committed",
        Duration::from_secs(20),
        || rec.counters.failure().is_none(),
    );
    assert!(rec.record_journaled(event(20_000)), "safe again");
    rec.flush().unwrap();
    let reader = Reader::open(&db).unwrap();
    // 10 before, 10,000 held, the note of the 6 dropped, and the last one.
    assert_eq!(reader.count().unwrap(), 10 + 10_000 + 1 + 1);
    let newest = reader.get("e20000").unwrap();
    assert!(newest.is_some());
    assert!(
        reader.get("e10015").unwrap().is_some(),
        "the newest held one is kept"
    );
    assert!(
        reader.get("e10").unwrap().is_none(),
        "the oldest held one was dropped"
    );
    let notes = reader
        .events(&leakguard_store::Filter {
            kinds: vec!["policy".into()],
            ..Default::default()
        })
        .unwrap();
    let note = notes
        .events
        .iter()
        .find(|e| e.event.verdict == EventVerdict::EventsLost)
        .expect("a record of the dropped events");
    assert!(
        note.event
            .reason
            .as_deref()
            .unwrap()
            .starts_with("6 events were dropped"),
        "{:?}",
        note.event.reason
    );
    rec.stop();
}
