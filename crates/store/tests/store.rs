//! The event store on real SQLite files: recording, pages, filters, stats, retention, the
//! outbox, permissions and the reader/writer split.

use leakguard_store::fixtures::sample_event;
use leakguard_store::{
    csv_line, parse_time, Filter, Outbox, Reader, Recorder, RecorderOptions, Retention, Store,
    CSV_HEADER,
};

const BASE: i64 = 1_790_000_000_000;

fn store_with(n: u64) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open_in(dir.path()).unwrap();
    let events: Vec<_> = (0..n).map(|i| sample_event(i, BASE)).collect();
    store.insert(&events).unwrap();
    (dir, store)
}

#[test]
fn events_round_trip_and_a_second_insert_of_the_same_id_is_ignored() {
    let (dir, mut store) = store_with(10);
    let reader = Reader::open_in(dir.path()).unwrap();
    let original = sample_event(4, BASE);
    let got = reader.get(&original.id).unwrap().unwrap();
    assert_eq!(got.event, original);
    let seqs = store.insert(std::slice::from_ref(&original)).unwrap();
    assert_eq!(seqs, vec![got.seq], "the stored event's seq comes back");
    assert_eq!(store.len(), 10);
    assert_eq!(reader.count().unwrap(), 10);
    assert!(reader.get("nope").unwrap().is_none());
}

#[test]
fn pages_walk_every_event_newest_first_by_keyset() {
    let (dir, _store) = store_with(250);
    let reader = Reader::open_in(dir.path()).unwrap();
    let mut seen = Vec::new();
    let mut filter = Filter {
        limit: 100,
        ..Filter::default()
    };
    loop {
        let page = reader.events(&filter).unwrap();
        seen.extend(page.events.iter().map(|e| e.seq));
        match page.next {
            Some(next) => filter.before_seq = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 250);
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "newest first, no repeats"
    );
}

#[test]
fn filters_narrow_by_outcome_category_rule_host_text_and_time() {
    let (dir, _store) = store_with(240);
    let reader = Reader::open_in(dir.path()).unwrap();
    let all = |f: Filter| {
        let mut out = Vec::new();
        reader
            .for_each(&f, |e| {
                out.push(e.event.clone());
                Ok(())
            })
            .unwrap();
        out
    };
    let blocked = all(Filter {
        outcomes: vec!["blocked".into()],
        ..Filter::default()
    });
    assert!(!blocked.is_empty());
    assert!(blocked.iter().all(|e| e.outcome == "blocked"));
    let pii = all(Filter {
        categories: vec!["pii".into()],
        ..Filter::default()
    });
    assert!(!pii.is_empty());
    assert!(pii.iter().all(|e| e.categories() == vec!["pii"]));
    let aws = all(Filter {
        rule: Some("aws-access-key-id".into()),
        ..Filter::default()
    });
    assert_eq!(aws.len(), 10, "every 24th event of 240");
    assert!(aws.iter().all(|e| e.rules[0].rule == "aws-access-key-id"));
    let claude = all(Filter {
        hosts: vec!["claude.ai".into()],
        ..Filter::default()
    });
    assert_eq!(claude.len(), 48);
    let text = all(Filter {
        text: Some("GHP_".into()),
        ..Filter::default()
    });
    assert_eq!(text.len(), 10, "case-insensitive over previews");
    let wildcard = all(Filter {
        text: Some("%".into()),
        ..Filter::default()
    });
    assert!(wildcard.is_empty(), "% is a literal, not a wildcard");
    let window = all(Filter {
        since_ms: Some(BASE + 10_000),
        until_ms: Some(BASE + 20_000),
        ..Filter::default()
    });
    assert_eq!(window.len(), 10);
    assert!(window
        .iter()
        .all(|e| (BASE + 10_000..BASE + 20_000).contains(&parse_time(&e.time).unwrap())));
}

#[test]
fn stats_count_per_bucket_category_and_destination() {
    let (dir, _store) = store_with(7200); // two hours, one event a second
    let reader = Reader::open_in(dir.path()).unwrap();
    let hour = 3_600_000;
    let start = BASE - BASE % hour;
    let stats = reader.stats(start, start + 3 * hour, 3600).unwrap();
    assert_eq!(stats.total, 7200);
    assert_eq!(stats.buckets.iter().map(|b| b.total).sum::<u64>(), 7200);
    let forwarded = stats.by_outcome["forwarded"];
    assert_eq!(forwarded, 5400);
    let secrets: u64 = stats
        .buckets
        .iter()
        .map(|b| b.by_category.get("secret").copied().unwrap_or(0))
        .sum();
    assert_eq!(secrets, 600, "aws, github: 2 of 6 rules on 1800 events");
    assert_eq!(stats.top_destinations.len(), 5);
    assert_eq!(stats.top_destinations[0].1, 1440);
    assert_eq!(stats.top_rules.len(), 6);
    let (_, _, findings, events) = &stats.top_rules[0];
    assert!(findings >= events);
    assert_eq!(
        stats.buckets[0].by_destination.values().sum::<u64>(),
        stats.buckets[0].total
    );
}

#[test]
fn retention_deletes_by_age_and_by_count_in_bounded_steps() {
    let (dir, mut store) = store_with(1000);
    let now = BASE + 10 * 86_400_000;
    // Nothing is older than 30 days; 1000 > 600 events.
    let r = Retention {
        max_age_days: 30,
        max_events: 600,
        usage_days: 400,
    };
    assert_eq!(
        store.prune(&r, now, 250).unwrap(),
        250,
        "one step is bounded"
    );
    assert_eq!(store.prune(&r, now, 250).unwrap(), 150);
    assert_eq!(store.prune(&r, now, 250).unwrap(), 0);
    assert_eq!(store.len(), 600);
    let reader = Reader::open_in(dir.path()).unwrap();
    assert!(
        reader.get(&sample_event(399, BASE).id).unwrap().is_none(),
        "oldest go first"
    );
    assert!(reader.get(&sample_event(400, BASE).id).unwrap().is_some());
    // By age: events are one second apart from BASE; keep the last 100 seconds.
    let later = BASE + 900_000 + 86_400_000;
    let r = Retention {
        max_age_days: 1,
        max_events: 0,
        usage_days: 400,
    };
    while store.prune(&r, later, 1000).unwrap() > 0 {}
    assert_eq!(reader.count().unwrap(), 100);
    let orphans: i64 = store
        .conn_for_maintenance()
        .query_row(
            "SELECT COUNT(*) FROM event_rules WHERE seq NOT IN (SELECT seq FROM events)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(orphans, 0, "rule rows go with their events");
}

#[test]
fn usage_record_counts_every_request_per_day_destination_and_client() {
    let (dir, _store) = store_with(100);
    let reader = Reader::open_in(dir.path()).unwrap();
    let usage = reader.usage("2000-01-01").unwrap();
    assert_eq!(usage.iter().map(|u| u.requests).sum::<u64>(), 100);
    assert!(usage.iter().all(|u| u.client == "openai-python"));
    let blocked: u64 = usage.iter().map(|u| u.blocked).sum();
    assert_eq!(
        blocked,
        (0..100)
            .filter(|i| i % 4 == 0 && matches!((i / 4) % 6, 0 | 1 | 4 | 5))
            .count() as u64
    );
}

#[test]
fn reported_tokens_of_replies_go_on_their_requests_row_without_counting_a_request() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open_in(dir.path()).unwrap();
    let request = sample_event(0, BASE);
    let mut reply = sample_event(1, BASE);
    reply.kind = leakguard_types::EventKind::Reply;
    reply.reply_to = Some(request.id.clone());
    reply.input_tokens = Some(120);
    reply.output_tokens = Some(45);
    reply.host = request.host.clone();
    reply.client = request.client.clone();
    store.insert(&[request.clone(), reply]).unwrap();
    let usage = Reader::open_in(dir.path())
        .unwrap()
        .usage("2000-01-01")
        .unwrap();
    assert_eq!(usage.len(), 1, "{usage:?}");
    assert_eq!(usage[0].requests, 1);
    assert_eq!((usage[0].input_tokens, usage[0].output_tokens), (120, 45));
    assert_eq!(usage[0].est_tokens, request.est_tokens as u64);
}

#[test]
fn a_reply_with_only_counts_and_the_model_is_stored_on_its_requests_row() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open_in(dir.path()).unwrap();
    let reply_to = |request: &leakguard_types::Event, i: u64, tokens: (u64, u64)| {
        let mut reply = sample_event(i, BASE);
        reply.kind = leakguard_types::EventKind::Reply;
        reply.reply_to = Some(request.id.clone());
        reply.host = request.host.clone();
        reply.client = request.client.clone();
        reply.input_tokens = Some(tokens.0);
        reply.output_tokens = Some(tokens.1);
        reply
    };
    // In the same batch as its request, in a later batch, and with a finding (a row of its
    // own); a usage-only reply to a request the store never saw keeps its own row too.
    let (a, b, c) = (
        sample_event(1, BASE),
        sample_event(2, BASE),
        sample_event(3, BASE),
    );
    store
        .insert(&[a.clone(), reply_to(&a, 5, (10, 1)), b.clone(), c.clone()])
        .unwrap();
    // A later batch, and the model that answered is not the one asked for.
    let mut swapped = reply_to(&b, 6, (20, 2));
    swapped.served_model = Some("gpt-test".into());
    swapped.reason = Some("served by gpt-test, not the gpt-4o the request named".into());
    store.insert(&[swapped]).unwrap();
    let mut found = reply_to(&c, 7, (30, 3));
    found.rules = sample_event(0, BASE).rules;
    found.previews = sample_event(0, BASE).previews;
    let mut stray = reply_to(&c, 9, (40, 4));
    stray.reply_to = Some("no-such-request".into());
    store.insert(&[found.clone(), stray.clone()]).unwrap();
    let reader = Reader::open_in(dir.path()).unwrap();
    let tokens = |id: &str| {
        let e = reader.get(id).unwrap().expect("stored").event;
        (e.input_tokens, e.output_tokens)
    };
    assert_eq!(tokens(&a.id), (Some(10), Some(1)));
    assert_eq!(tokens(&b.id), (Some(20), Some(2)));
    let b_row = reader.get(&b.id).unwrap().unwrap().event;
    assert_eq!(b_row.served_model.as_deref(), Some("gpt-test"));
    assert_eq!(b_row.reason, b.reason, "the request's own reason is kept");
    assert_eq!(
        tokens(&c.id),
        (None, None),
        "a reply with findings is its own row"
    );
    assert_eq!(tokens(&found.id), (Some(30), Some(3)));
    assert_eq!(tokens(&stray.id), (Some(40), Some(4)));
    assert!(reader.get(&reply_to(&a, 5, (0, 0)).id).unwrap().is_none());
    assert_eq!(reader.count().unwrap(), 5, "three requests and two replies");
    let usage = reader.usage("2000-01-01").unwrap();
    let sum = |f: fn(&leakguard_store::UsageRow) -> u64| usage.iter().map(f).sum::<u64>();
    assert_eq!(sum(|u| u.requests), 3);
    assert_eq!(
        (sum(|u| u.input_tokens), sum(|u| u.output_tokens)),
        (100, 10)
    );
}

#[test]
fn answers_go_onto_their_requests_rows_in_the_batch_later_or_as_a_row_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open_in(dir.path()).unwrap();
    let answer = |request: &leakguard_types::Event, tokens: (u64, u64)| leakguard_types::Answer {
        reply_to: request.id.clone(),
        time_ms: BASE,
        host: request.host.clone(),
        client: request.client.clone(),
        method: request.method.clone(),
        path: request.path.clone(),
        endpoint: request.endpoint.clone(),
        provider: request.provider.clone(),
        model: request.model.clone(),
        group: request.group.clone(),
        input_tokens: Some(tokens.0),
        output_tokens: Some(tokens.1),
        cached_tokens: Some(1),
        served_model: None,
    };
    let (a, b) = (sample_event(1, BASE), sample_event(2, BASE));
    // In the same batch as its request; then in a later one, with the model that answered;
    // then for a request the store never saw (a row of its own, stored once however often).
    store
        .insert_with(&[a.clone(), b.clone()], &[answer(&a, (10, 1))])
        .unwrap();
    let mut later = answer(&b, (20, 2));
    later.served_model = Some("gpt-test".into());
    let never_stored = sample_event(3, BASE);
    let mut stray = answer(&never_stored, (40, 4));
    stray.reply_to = "no-such-request".into();
    store.set_identity("laptop-7", "alice");
    let seqs = store
        .insert_with(&[sample_event(4, BASE)], &[later, stray.clone()])
        .unwrap();
    assert_eq!(seqs.len(), 1, "one seq per event given");
    store.insert_with(&[], &[stray]).unwrap();
    let reader = Reader::open_in(dir.path()).unwrap();
    let row = |id: &str| reader.get(id).unwrap().expect("stored").event;
    assert_eq!(
        (
            row(&a.id).input_tokens,
            row(&a.id).output_tokens,
            row(&a.id).cached_tokens
        ),
        (Some(10), Some(1), Some(1))
    );
    assert_eq!(row(&b.id).input_tokens, Some(20));
    assert_eq!(row(&b.id).served_model.as_deref(), Some("gpt-test"));
    let own = row("no-such-request-answer");
    assert_eq!(own.kind, leakguard_types::EventKind::Reply);
    assert_eq!(own.reply_to.as_deref(), Some("no-such-request"));
    // It says what its request said, and which laptop and user it came from.
    assert_eq!(
        (
            own.method.as_str(),
            own.path.as_str(),
            own.endpoint.as_str()
        ),
        (
            never_stored.method.as_str(),
            never_stored.path.as_str(),
            never_stored.endpoint.as_str()
        )
    );
    assert!(!own.path.is_empty() && !own.endpoint.is_empty());
    assert_eq!(
        (own.device.as_str(), own.os_user.as_str()),
        ("laptop-7", "alice")
    );
    assert_eq!(
        reader.count().unwrap(),
        4,
        "three requests and the stray answer"
    );
    let usage = reader.usage("2000-01-01").unwrap();
    let sum = |f: fn(&leakguard_store::UsageRow) -> u64| usage.iter().map(f).sum::<u64>();
    assert_eq!(sum(|u| u.requests), 3);
    assert_eq!(
        (sum(|u| u.input_tokens), sum(|u| u.output_tokens)),
        (70, 7),
        "each answer counted once: the stray's second recording was a repeat"
    );
    // Through the recorder, as the guard sends them (without the device and user, which the
    // recorder's options name): the request's event, then its answer.
    let options = RecorderOptions {
        device: "laptop-9".into(),
        os_user: "bob".into(),
        ..RecorderOptions::default()
    };
    let recorder = Recorder::start(&dir.path().join("events.db"), options).unwrap();
    let mut d = sample_event(5, BASE);
    (d.device, d.os_user) = (String::new(), String::new());
    recorder.record(d.clone());
    recorder.record_answer(answer(&d, (50, 5)));
    recorder.flush().unwrap();
    assert_eq!(row(&d.id).output_tokens, Some(5));
    assert_eq!(
        (row(&d.id).device.as_str(), row(&d.id).os_user.as_str()),
        ("laptop-9", "bob")
    );
    assert_eq!(
        row(&a.id).device,
        "laptop-0042",
        "an event's own device stays"
    );
}

#[test]
fn outbox_queues_in_the_same_transaction_and_drops_only_beyond_its_cap() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open_in(dir.path()).unwrap();
    store.set_targets(vec!["hec".into(), "syslog".into()], 50);
    let events: Vec<_> = (0..40).map(|i| sample_event(i, BASE)).collect();
    store.insert(&events).unwrap();
    let mut outbox = Outbox::open_in(dir.path()).unwrap();
    let first = outbox.next("hec", 30).unwrap();
    assert_eq!(first.len(), 30);
    assert_eq!(
        first[0].event.as_ref().unwrap().id,
        events[0].id,
        "oldest first"
    );
    outbox.ack("hec", &first).unwrap();
    assert_eq!(outbox.next("hec", 100).unwrap().len(), 10);
    assert_eq!(
        outbox.next("syslog", 100).unwrap().len(),
        40,
        "targets are independent"
    );
    // 40 more: syslog holds 80 > 50, so its 30 oldest are dropped and counted.
    let more: Vec<_> = (40..80).map(|i| sample_event(i, BASE)).collect();
    store.insert(&more).unwrap();
    let syslog = outbox.next("syslog", 1000).unwrap();
    assert_eq!(syslog.len(), 50);
    assert_eq!(
        syslog[0].event.as_ref().unwrap().id,
        sample_event(30, BASE).id
    );
    let states = outbox.states().unwrap();
    let s = states.iter().find(|s| s.target == "syslog").unwrap();
    assert_eq!((s.pending, s.dropped, s.delivered), (50, 30, 0));
    let h = states.iter().find(|s| s.target == "hec").unwrap();
    assert_eq!((h.pending, h.delivered), (50, 30));
    // An event pruned before delivery is acknowledged as dropped.
    let r = Retention {
        max_age_days: 0,
        max_events: 40,
        usage_days: 400,
    };
    store.prune(&r, BASE, 1000).unwrap();
    let items = outbox.next("syslog", 1000).unwrap();
    let gone = items.iter().filter(|i| i.event.is_none()).count();
    assert_eq!(gone, 10);
    outbox.ack("syslog", &items).unwrap();
    outbox.failed("syslog", "connection refused").unwrap();
    let s = outbox
        .states()
        .unwrap()
        .into_iter()
        .find(|s| s.target == "syslog")
        .unwrap();
    assert_eq!((s.pending, s.delivered, s.dropped), (0, 40, 40));
    assert_eq!(s.last_error.as_deref(), Some("connection refused"));
}

#[test]
fn a_reader_in_the_middle_of_a_query_never_blocks_the_writer() {
    let (dir, mut store) = store_with(500);
    // No waiting allowed: if the reader held a lock, the insert would fail with SQLITE_BUSY.
    store
        .conn_for_maintenance()
        .busy_timeout(std::time::Duration::ZERO)
        .unwrap();
    let reader = Reader::open_in(dir.path()).unwrap();
    let mut seen = 0;
    reader
        .for_each(&Filter::default(), |_| {
            seen += 1;
            if seen == 1 {
                let more: Vec<_> = (500..1500).map(|i| sample_event(i, BASE)).collect();
                store
                    .insert(&more)
                    .expect("the writer commits while a read is open");
            }
            Ok(())
        })
        .unwrap();
    assert_eq!(store.len(), 1500);
    assert!(seen >= 500);
}

#[cfg(unix)]
#[test]
fn database_files_are_private_to_the_user() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut store = Store::open_in(&data).unwrap();
    store.insert(&[sample_event(1, BASE)]).unwrap();
    for name in ["events.db", "events.db-wal", "events.db-shm"] {
        let mode = std::fs::metadata(data.join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{name}");
    }
    let mode = std::fs::metadata(&data).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
}

#[test]
fn the_recorder_stamps_commits_and_flushes_and_spilled_events_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("events.db");
    // A previous run could not store two events (and crashed mid-line on a third).
    let mut spill = String::new();
    for i in [9001u64, 9002] {
        spill.push_str(&serde_json::to_string(&sample_event(i, BASE)).unwrap());
        spill.push('\n');
    }
    spill.push_str("{\"id\":\"half");
    std::fs::write(dir.path().join("events-unstored.jsonl"), spill).unwrap();
    let recorder = Recorder::start(
        &db,
        RecorderOptions {
            device: "laptop-7".into(),
            os_user: "alice".into(),
            ..RecorderOptions::default()
        },
    )
    .unwrap();
    assert!(!dir.path().join("events-unstored.jsonl").exists());
    for i in 0..5000 {
        let mut e = sample_event(i, BASE);
        e.device.clear();
        e.os_user.clear();
        recorder.record(e);
    }
    recorder.flush().unwrap();
    let reader = Reader::open(&db).unwrap();
    assert_eq!(reader.count().unwrap(), 5002);
    let e = reader
        .get(&sample_event(77, BASE).id)
        .unwrap()
        .unwrap()
        .event;
    assert_eq!(
        (e.device.as_str(), e.os_user.as_str()),
        ("laptop-7", "alice")
    );
    assert!(reader.get(&sample_event(9002, BASE).id).unwrap().is_some());
    recorder.stop();
    assert!(recorder.flush().is_err(), "a stopped recorder says so");
}

#[test]
fn csv_export_lines_have_every_column() {
    let e = sample_event(4, BASE);
    let line = csv_line(&e);
    assert!(line.starts_with(&e.id));
    assert_eq!(line.matches(',').count(), CSV_HEADER.matches(',').count());
}

#[test]
fn batched_rollups_and_usage_equal_a_recount_from_the_events() {
    // Batches of uneven size spanning many hours and three days (sample events are one
    // second apart; this spreads them 97 s apart: 2.2 days), one batch holding a duplicate.
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open_in(dir.path()).unwrap();
    let events: Vec<_> = (0..2_000u64)
        .map(|i| {
            let mut e = sample_event(i, BASE);
            e.time = leakguard_store::format_time(BASE + i as i64 * 97_000);
            e
        })
        .collect();
    let mut start = 0;
    for size in [1usize, 7, 300, 2, 900, 790] {
        store.insert(&events[start..start + size]).unwrap();
        start += size;
    }
    store.insert(&events[10..12]).unwrap();
    let conn = store.conn_for_maintenance();
    let rows = |sql: &str| -> Vec<String> {
        let mut st = conn.prepare(sql).unwrap();
        st.query_map([], |r| {
            Ok((0..r.as_ref().column_count())
                .map(|c| format!("{:?}", r.get_ref(c).unwrap()))
                .collect::<Vec<_>>()
                .join("|"))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    };
    let rollup = rows(
        "SELECT hour, host, outcome, rule, category, events, findings FROM rollup_hourly
         ORDER BY 1, 2, 3, 4",
    );
    let recount = rows(
        "SELECT * FROM (
           SELECT ts / 3600000 AS h, host, outcome, '' AS rule, '' AS category, COUNT(*),
                  0 FROM events GROUP BY 1, 2, 3
           UNION ALL
           SELECT e.ts / 3600000, e.host, e.outcome, r.rule, r.category, COUNT(*), SUM(r.count)
             FROM events e JOIN event_rules r ON r.seq = e.seq GROUP BY 1, 2, 3, 4
         ) ORDER BY 1, 2, 3, 4",
    );
    assert!(rollup.len() > 100, "{} rollup rows", rollup.len());
    assert_eq!(rollup, recount);
    let usage = rows(
        "SELECT day, host, requests, bytes, est_tokens, blocked FROM usage_daily ORDER BY 1, 2",
    );
    let recount = rows(
        "SELECT date(ts / 1000, 'unixepoch'), host, COUNT(*),
                SUM(json_extract(body, '$.bytes')), SUM(json_extract(body, '$.est_tokens')),
                SUM(outcome IN ('blocked', 'warned', 'refused'))
           FROM events GROUP BY 1, 2 ORDER BY 1, 2",
    );
    assert_eq!(usage.len(), 15, "three days × five destinations");
    assert_eq!(usage, recount);
}

#[test]
fn every_field_of_an_event_survives_the_store() {
    // Every optional field set and every counter non-zero, then the opposite: what is not in
    // a column must come back from the body exactly.
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open_in(dir.path()).unwrap();
    let mut full = sample_event(0, BASE);
    full.id = "full".into();
    full.decided_by = "destinations.consumer".into();
    full.max_tokens = Some(4096);
    full.binary_parts = 2;
    full.reason = Some("source code to a consumer chat site".into());
    full.policy = Some("acme 2026-11".into());
    full.override_code = Some("K7Q2".into());
    full.justification = Some("vendor asked for the log \"line\" – ok'd".into());
    full.redacted_prompt = Some("key [REDACTED:aws-access-key-id#1]\nnext line".into());
    full.latency_us = 812;
    full.unlisted_fields = vec!["prompt.variables.customer".into()];
    full.reply_to = Some("req-1".into());
    full.input_tokens = Some(1200);
    full.output_tokens = Some(80);
    full.cached_tokens = Some(1024);
    full.served_model = Some("gpt-4o-2024-08-06".into());
    let mut bare = sample_event(1, BASE);
    bare.id = "bare".into();
    bare.device.clear();
    bare.os_user.clear();
    bare.method.clear();
    bare.path.clear();
    bare.endpoint.clear();
    bare.provider = None;
    bare.model = None;
    bare.max_tokens = None;
    bare.client = None;
    bare.group = None;
    bare.rules.clear();
    bare.previews.clear();
    bare.prompt_sha256.clear();
    bare.bytes = 0;
    bare.text_bytes = 0;
    bare.est_tokens = 0;
    bare.latency_us = 0;
    bare.policy = None;
    store.insert(&[full.clone(), bare.clone()]).unwrap();
    let reader = Reader::open_in(dir.path()).unwrap();
    assert_eq!(reader.get("full").unwrap().unwrap().event, full);
    assert_eq!(reader.get("bare").unwrap().unwrap().event, bare);
    let body: String = store
        .conn_for_maintenance()
        .query_row("SELECT body FROM events WHERE id = 'bare'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(body, "{}", "empty fields and zero counters are left out");
}

#[test]
fn false_alarm_reports_are_summarised_per_rule_with_how_often_it_fired() {
    use leakguard_store::Event;
    use leakguard_types::{EventKind, EventVerdict, Outcome};
    let (dir, mut store) = store_with(48);
    // Users report three events decided by the same rule and one by another.
    let with_findings: Vec<Event> = (0..48)
        .map(|i| sample_event(i, BASE))
        .filter(|e| !e.rules.is_empty())
        .collect();
    let target = with_findings[0].rules[0].rule.clone();
    let same: Vec<&Event> = with_findings
        .iter()
        .filter(|e| e.rules[0].rule == target)
        .collect();
    let other = with_findings
        .iter()
        .find(|e| e.rules[0].rule != target)
        .unwrap();
    let report = |i: usize, of: &Event| Event {
        id: format!("feedback{i:08}"),
        time: leakguard_store::format_time(BASE + 100_000_000 + i as i64),
        kind: EventKind::Feedback,
        verdict: EventVerdict::FalsePositive,
        outcome: Outcome::Reported,
        host: of.host.clone(),
        rules: of.rules.clone(),
        previews: of.previews.clone(),
        ..Event::default()
    };
    let reports: Vec<Event> = same
        .iter()
        .cycle()
        .take(3)
        .enumerate()
        .map(|(i, e)| report(i, e))
        .chain(std::iter::once(report(9, other)))
        .collect();
    store.insert(&reports).unwrap();
    let reader = Reader::open_in(dir.path()).unwrap();
    let rows = reader.false_positive_report(BASE).unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0].rule, target);
    assert_eq!(rows[0].reports, 3);
    let fired: u64 = same.iter().map(|e| u64::from(e.rules[0].count)).sum();
    assert_eq!(
        rows[0].fired, fired,
        "every finding of the rule in requests"
    );
    assert_eq!(
        rows[0].sample.as_deref(),
        same[0].previews.first().map(String::as_str)
    );
    assert!(rows[0].destinations.contains(&same[0].host));
    assert_eq!(rows[1].reports, 1);
    // Nothing reported after the window's start: no rows.
    assert!(reader
        .false_positive_report(BASE + 200_000_000)
        .unwrap()
        .is_empty());
}
