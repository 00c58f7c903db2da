//! The writer: inserts (one transaction per batch), the usage record, the outbox rows and
//! retention. Only one [`Store`] should write a database at a time (the [`crate::Recorder`]
//! owns it); other connections read, and the SIEM forwarder acknowledges outbox rows.

use crate::{db_path, parse_time, schema, Event, Result, StoreError};
use leakguard_types::Answer;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// How long events are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Events older than this are deleted (0: no age limit).
    pub max_age_days: u32,
    /// At most this many events are kept, oldest deleted first (0: no count limit).
    pub max_events: u64,
    /// The usage record (`usage_daily`) is kept this long.
    pub usage_days: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_age_days: 90,
            max_events: 1_000_000,
            usage_days: 400,
        }
    }
}

/// The write side of the event database.
#[derive(Debug)]
pub struct Store {
    pub(crate) conn: Connection,
    path: PathBuf,
    /// Rows in `events`, kept in memory so retention by count needs no COUNT(*).
    count: u64,
    targets: Vec<String>,
    outbox_cap: u64,
    /// Per target: an upper bound of its outbox rows (exact after each trim).
    outbox_len: HashMap<String, u64>,
    /// The device and OS user every row is stamped with where its event names none (events
    /// come from the guard without them; spilled, journaled and answer rows too).
    identity: (String, String),
}

/// Opens (creating it 0600) and configures a connection on `path`.
pub(crate) fn connect(path: &Path, read_only: bool) -> Result<Connection> {
    let open_err = |source| StoreError::Open {
        path: path.to_path_buf(),
        source,
    };
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        if let Some(dir) = path.parent() {
            create_private_dir(dir)?;
        }
        create_private_file(path)?;
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(open_err)?;
    if !read_only {
        // WAL: readers never block the writer. NORMAL: a commit is durable against a crash
        // of the process (the WAL is in the OS's hands); FULL adds an fsync per commit.
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(open_err(rusqlite::Error::InvalidParameterName(format!(
                "journal_mode stayed {mode}"
            ))));
        }
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
    } else {
        conn.pragma_update(None, "query_only", true)
            .map_err(open_err)?;
    }
    Ok(conn)
}

fn create_private_dir(dir: &Path) -> Result<()> {
    if dir.as_os_str().is_empty() || dir.exists() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)?;
    Ok(())
}

/// SQLite gives the `-wal` and `-shm` files the mode of the database file, so creating the
/// database 0600 keeps all three private.
fn create_private_file(path: &Path) -> Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?;
    Ok(())
}

impl Store {
    /// Opens the database in `data_dir` (see [`Store::open`]).
    pub fn open_in(data_dir: &Path) -> Result<Store> {
        Store::open(&db_path(data_dir))
    }

    /// Opens or creates the database at `path` and migrates it to the current schema.
    ///
    /// # Errors
    /// The file cannot be created or opened, is not a database, or is newer than this build.
    pub fn open(path: &Path) -> Result<Store> {
        let mut conn = connect(path, false)?;
        schema::migrate(&mut conn, path)?;
        let count: i64 = conn.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))?;
        let mut outbox_len = HashMap::new();
        {
            let mut st = conn.prepare("SELECT target, COUNT(*) FROM outbox GROUP BY target")?;
            let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
            for row in rows {
                let (t, n) = row?;
                outbox_len.insert(t, n as u64);
            }
        }
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            count: count as u64,
            targets: Vec::new(),
            outbox_cap: 100_000,
            outbox_len,
            identity: Default::default(),
        })
    }

    /// The device and OS user of rows whose event names none.
    pub fn set_identity(&mut self, device: &str, os_user: &str) {
        self.identity = (device.to_string(), os_user.to_string());
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The writer connection, for maintenance (checkpoints, `VACUUM`) and benchmarks.
    pub fn conn_for_maintenance(&self) -> &Connection {
        &self.conn
    }

    /// Events in the database.
    pub fn len(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// `FULL` syncs the WAL on every commit: events then also survive a power cut, at the
    /// cost of one fsync per batch.
    pub fn set_full_durability(&self, full: bool) -> Result<()> {
        self.conn
            .pragma_update(None, "synchronous", if full { "FULL" } else { "NORMAL" })?;
        Ok(())
    }

    /// The SIEM targets every new event is queued for, and how many undelivered events each
    /// may hold before the oldest are dropped (and counted).
    pub fn set_targets(&mut self, targets: Vec<String>, outbox_cap: u64) {
        self.targets = targets;
        self.outbox_cap = outbox_cap.max(1);
    }

    /// Inserts `events` in one transaction and returns their `seq`s. An event whose id is
    /// already stored is skipped (its `seq` is the stored one's): recording is idempotent.
    ///
    /// # Errors
    /// A bad event time, or the database refused the write; then nothing of the batch is
    /// stored.
    pub fn insert(&mut self, events: &[Event]) -> Result<Vec<i64>> {
        self.insert_with(events, &[])
    }

    /// Inserts `events` and puts `answers` (token counts and served models of answers with
    /// nothing to report) on their requests' rows, in one transaction; returns the events'
    /// `seq`s. An answer whose request is neither in the batch nor stored is stored as a
    /// `reply` event of its own ([`Answer::into_event`]).
    ///
    /// # Errors
    /// As [`Store::insert`]; then nothing of the batch is stored.
    pub fn insert_with(&mut self, events: &[Event], answers: &[Answer]) -> Result<Vec<i64>> {
        if answers.is_empty() {
            return self.insert_batch(events, &[]);
        }
        let in_batch: std::collections::HashSet<&str> = events
            .iter()
            .filter(|e| e.kind != leakguard_types::EventKind::Reply)
            .map(|e| e.id.as_str())
            .collect();
        let mut orphans = Vec::new();
        {
            let mut stored = self
                .conn
                .prepare_cached("SELECT 1 FROM events WHERE id = ?1")?;
            for (i, a) in answers.iter().enumerate() {
                if !in_batch.contains(a.reply_to.as_str()) && !stored.exists([&a.reply_to])? {
                    orphans.push(i);
                }
            }
        }
        if orphans.is_empty() {
            return self.insert_batch(events, answers);
        }
        // Rare (the request's event was lost or pruned): the orphans go in as events.
        let mut all = events.to_vec();
        all.extend(orphans.iter().map(|&i| answers[i].clone().into_event()));
        let rest: Vec<Answer> = answers
            .iter()
            .enumerate()
            .filter(|(i, _)| !orphans.contains(i))
            .map(|(_, a)| a.clone())
            .collect();
        let mut seqs = self.insert_batch(&all, &rest)?;
        seqs.truncate(events.len());
        Ok(seqs)
    }

    fn insert_batch<'a>(&mut self, events: &'a [Event], answers: &'a [Answer]) -> Result<Vec<i64>> {
        let tx = self.conn.transaction()?;
        let mut seqs = Vec::with_capacity(events.len());
        let mut added = 0u64;
        {
            let mut ins = tx.prepare_cached(
                "INSERT INTO events (id, ts, kind, host, verdict, outcome, categories, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(id) DO NOTHING",
            )?;
            let mut existing = tx.prepare_cached("SELECT seq FROM events WHERE id = ?1")?;
            let mut rule = tx.prepare_cached(
                "INSERT OR IGNORE INTO event_rules (seq, rule, category, count) VALUES (?1, ?2, ?3, ?4)",
            )?;
            let mut usage = tx.prepare_cached(
                "INSERT INTO usage_daily (day, host, client, requests, bytes, est_tokens, blocked,
                   documents, unscanned_images, input_tokens, output_tokens)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT(day, host, client) DO UPDATE SET requests = requests + excluded.requests,
                   bytes = bytes + excluded.bytes, est_tokens = est_tokens + excluded.est_tokens,
                   blocked = blocked + excluded.blocked, documents = documents + excluded.documents,
                   unscanned_images = unscanned_images + excluded.unscanned_images,
                   input_tokens = input_tokens + excluded.input_tokens,
                   output_tokens = output_tokens + excluded.output_tokens",
            )?;
            let mut outbox =
                tx.prepare_cached("INSERT OR IGNORE INTO outbox (target, seq) VALUES (?1, ?2)")?;
            let mut rollup = tx.prepare_cached(
                "INSERT INTO rollup_hourly (hour, host, outcome, rule, category, events, findings)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT(hour, host, outcome, rule) DO UPDATE SET events = events + excluded.events,
                   findings = findings + excluded.findings",
            )?;
            type RollupKey<'a> = (i64, &'a str, &'a str, &'a str, &'a str);
            let mut rollups: HashMap<RollupKey<'a>, (i64, i64)> = HashMap::new();
            let mut usages: HashMap<(i64, &'a str, &'static str), [i64; 8]> = HashMap::new();
            // Answer-only replies (and answers) whose request is in this batch (the usual case:
            // a reply comes within the writer's gathering window) go onto its row as it is
            // written; the others update the stored row.
            let mut folded: HashMap<usize, Facts<'a>> = HashMap::new();
            let mut fold_into: HashMap<usize, usize> = HashMap::new();
            let mut update_tokens = tx.prepare_cached(
                "UPDATE events SET body = json_patch(body, ?2) WHERE id = ?1 RETURNING seq",
            )?;
            if !answers.is_empty() || events.iter().any(|e| answer_only(e).is_some()) {
                let mut requests: HashMap<&str, usize> = HashMap::new();
                for (i, e) in events.iter().enumerate() {
                    if let Some(to) = answer_only(e) {
                        if let Some(&r) = requests.get(to) {
                            folded.insert(r, Facts::of_event(e));
                            fold_into.insert(i, r);
                        }
                    } else if e.kind != leakguard_types::EventKind::Reply {
                        requests.insert(&e.id, i);
                    }
                }
                for a in answers {
                    let facts = Facts::of_answer(a);
                    facts.add_to(&mut usages, &a.host, a.client.as_deref(), a.time_ms);
                    match requests.get(a.reply_to.as_str()) {
                        Some(&r) => {
                            folded.insert(r, facts);
                        }
                        None => {
                            // Stored before (`insert_with` made sure of it).
                            update_tokens
                                .query_row(params![a.reply_to, facts.patch()], |r| {
                                    r.get::<_, i64>(0)
                                })
                                .optional()?;
                        }
                    }
                }
            }
            let mut seq_of: HashMap<usize, i64> = HashMap::new();
            for (i, e) in events.iter().enumerate() {
                let ts = parse_time(&e.time).ok_or_else(|| StoreError::BadTime {
                    id: e.id.clone(),
                    time: e.time.clone(),
                })?;
                // An answer-only reply: its counts go on its request's row (and into the
                // day's usage); a row of its own only when the request is not stored.
                let on_request = match (fold_into.get(&i), answer_only(e)) {
                    (Some(r), _) => seq_of.get(r).copied(),
                    (None, Some(to)) => update_tokens
                        .query_row(params![to, Facts::of_event(e).patch()], |r| r.get(0))
                        .optional()?,
                    (None, None) => None,
                };
                if let Some(seq) = on_request {
                    seqs.push(seq);
                    Facts::of_event(e).add_to(&mut usages, &e.host, e.client.as_deref(), ts);
                    continue;
                }
                let categories = {
                    let cats = e.categories();
                    if cats.is_empty() {
                        String::new()
                    } else {
                        format!(",{},", cats.join(","))
                    }
                };
                let n = ins.execute(params![
                    e.id,
                    ts,
                    e.kind.as_str(),
                    e.host,
                    e.verdict.as_str(),
                    e.outcome.as_str(),
                    categories,
                    body_json(e, folded.get(&i), &self.identity)?
                ])?;
                if n == 0 {
                    let seq = existing.query_row([&e.id], |r| r.get(0))?;
                    if let Some(facts) = folded.get(&i) {
                        update_tokens
                            .query_row(params![e.id, facts.patch()], |r| r.get::<_, i64>(0))
                            .optional()?;
                    }
                    seq_of.insert(i, seq);
                    seqs.push(seq);
                    continue;
                }
                let seq = tx.last_insert_rowid();
                seq_of.insert(i, seq);
                seqs.push(seq);
                added += 1;
                let hour = ts / 3_600_000;
                let mut bump = |rule: &'a str, category: &'a str, findings: i64| {
                    let c = rollups
                        .entry((hour, &e.host, e.outcome.as_str(), rule, category))
                        .or_insert((0, 0));
                    c.0 += 1;
                    c.1 += findings;
                };
                bump("", "", 0);
                for r in &e.rules {
                    rule.execute(params![seq, r.rule, r.category, r.count])?;
                    bump(&r.rule, &r.category, i64::from(r.count));
                }
                if matches!(e.kind.as_str(), "request" | "websocket") && !e.host.is_empty() {
                    let blocked = matches!(e.outcome.as_str(), "blocked" | "warned" | "refused");
                    let u = usages
                        .entry((ts / 86_400_000, &e.host, client_family(e.client.as_deref())))
                        .or_insert([0; 8]);
                    u[0] += 1;
                    u[1] += e.bytes as i64;
                    u[2] += e.est_tokens as i64;
                    u[3] += i64::from(blocked);
                    u[4] += e.documents.len() as i64;
                    u[5] += e.unscanned_images as i64;
                }
                if e.kind.as_str() == "reply" {
                    Facts::of_event(e).add_to(&mut usages, &e.host, e.client.as_deref(), ts);
                }
                for t in &self.targets {
                    outbox.execute(params![t, seq])?;
                }
            }
            // One upsert per distinct key of the batch, not one per event: under load a
            // group commit holds hundreds of events of a few hosts and outcomes.
            for ((hour, host, outcome, rule, category), (events, findings)) in rollups {
                rollup.execute(params![
                    hour, host, outcome, rule, category, events, findings
                ])?;
            }
            for ((day, host, client), u) in usages {
                let [requests, bytes, tokens, blocked, docs, images, input, output] = u;
                let day = &crate::format_time(day * 86_400_000)[..10];
                usage.execute(params![
                    day, host, client, requests, bytes, tokens, blocked, docs, images, input,
                    output
                ])?;
            }
        }
        let mut trimmed = Vec::new();
        for t in &self.targets {
            let len = self.outbox_len.entry(t.clone()).or_insert(0);
            *len += added;
            if *len > self.outbox_cap {
                let exact: i64 =
                    tx.query_row("SELECT COUNT(*) FROM outbox WHERE target = ?1", [t], |r| {
                        r.get(0)
                    })?;
                let excess = (exact as u64).saturating_sub(self.outbox_cap);
                if excess > 0 {
                    tx.execute(
                        "DELETE FROM outbox WHERE target = ?1 AND seq IN
                           (SELECT seq FROM outbox WHERE target = ?1 ORDER BY seq LIMIT ?2)",
                        params![t, excess as i64],
                    )?;
                    tx.execute(
                        "INSERT INTO siem_state (target, dropped) VALUES (?1, ?2)
                         ON CONFLICT(target) DO UPDATE SET dropped = dropped + excluded.dropped",
                        params![t, excess as i64],
                    )?;
                }
                trimmed.push((t.clone(), exact as u64 - excess));
            }
        }
        tx.commit()?;
        self.count += added;
        for (t, n) in trimmed {
            self.outbox_len.insert(t, n);
        }
        Ok(seqs)
    }

    /// Deletes at most `budget` events past the retention limits (oldest first) and old usage
    /// rows, in one transaction; returns how many events went. Called in small steps so a
    /// large backlog never stalls recording.
    pub fn prune(&mut self, retention: &Retention, now_ms: i64, budget: usize) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let mut doomed: Vec<i64> = Vec::new();
        if retention.max_age_days > 0 {
            let cutoff = now_ms - i64::from(retention.max_age_days) * 86_400_000;
            let mut st = tx.prepare_cached("SELECT seq FROM events WHERE ts < ?1 LIMIT ?2")?;
            for seq in st.query_map(params![cutoff, budget as i64], |r| r.get(0))? {
                doomed.push(seq?);
            }
        }
        if retention.max_events > 0 {
            let after_age = self.count.saturating_sub(doomed.len() as u64);
            let excess = after_age.saturating_sub(retention.max_events) as usize;
            let room = budget.saturating_sub(doomed.len()).min(excess);
            if room > 0 {
                let mut st =
                    tx.prepare_cached("SELECT seq FROM events ORDER BY seq LIMIT ?1 + ?2")?;
                let mut from_count = Vec::new();
                for seq in st.query_map(params![room as i64, doomed.len() as i64], |r| r.get(0))? {
                    from_count.push(seq?);
                }
                for seq in from_count {
                    if doomed.len() >= budget {
                        break;
                    }
                    if !doomed.contains(&seq) {
                        doomed.push(seq);
                    }
                }
            }
        }
        {
            let mut ev = tx.prepare_cached("DELETE FROM events WHERE seq = ?1")?;
            let mut rules = tx.prepare_cached("DELETE FROM event_rules WHERE seq = ?1")?;
            for seq in &doomed {
                ev.execute([seq])?;
                rules.execute([seq])?;
            }
        }
        if retention.usage_days > 0 {
            let cutoff = now_ms - i64::from(retention.usage_days) * 86_400_000;
            tx.execute(
                "DELETE FROM usage_daily WHERE day < ?1",
                [&crate::format_time(cutoff)[..10]],
            )?;
            tx.execute(
                "DELETE FROM rollup_hourly WHERE hour < ?1",
                [cutoff / 3_600_000],
            )?;
        }
        tx.commit()?;
        self.count -= doomed.len() as u64;
        Ok(doomed.len())
    }
}

/// What `events.body` holds: the event without the fields that have their own columns (id,
/// time, kind, host, verdict, outcome), with empty lists and zero counters left out (serde's
/// defaults restore them on the way back). Borrowed and written straight to a string: the
/// recorder builds one per request.
#[derive(serde::Serialize)]
struct Body<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    device: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    os_user: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    method: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    path: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    endpoint: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    provider: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<&'a str>,
    #[serde(skip_serializing_if = "str::is_empty")]
    decided_by: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    rules: &'a [leakguard_types::RuleCount],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    previews: &'a [String],
    #[serde(skip_serializing_if = "str::is_empty")]
    prompt_sha256: &'a str,
    #[serde(skip_serializing_if = "is_zero")]
    bytes: u64,
    #[serde(skip_serializing_if = "is_zero")]
    text_bytes: u64,
    #[serde(skip_serializing_if = "is_zero")]
    est_tokens: u64,
    #[serde(skip_serializing_if = "is_zero")]
    latency_us: u64,
    #[serde(skip_serializing_if = "is_zero")]
    binary_parts: u64,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    documents: &'a [String],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    unlisted_fields: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    reply_to: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    input_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cached_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    served_model: Option<&'a str>,
    #[serde(skip_serializing_if = "is_zero")]
    unscanned_images: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    override_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    justification: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    redacted_prompt: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    process: Option<&'a str>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A reply that says nothing but how many tokens were used and which model answered (no
/// finding, not cut short): stored as those facts on its request's row instead of a row of
/// its own, so an answered request costs one row, not two. Returns the request's id.
fn answer_only(e: &Event) -> Option<&str> {
    (e.kind == leakguard_types::EventKind::Reply
        && e.rules.is_empty()
        && e.previews.is_empty()
        && (e.reason.is_none() || e.served_model.is_some())
        && (e.input_tokens.is_some() || e.output_tokens.is_some() || e.served_model.is_some()))
    .then_some(e.reply_to.as_deref())
    .flatten()
}

/// What an answer says for its request's row: token counts and the model that served it.
#[derive(Debug, Clone, Copy)]
struct Facts<'a> {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cached_tokens: Option<u64>,
    served_model: Option<&'a str>,
}

impl<'a> Facts<'a> {
    fn of_event(e: &'a Event) -> Facts<'a> {
        Facts {
            input_tokens: e.input_tokens,
            output_tokens: e.output_tokens,
            cached_tokens: e.cached_tokens,
            served_model: e.served_model.as_deref(),
        }
    }

    fn of_answer(a: &'a Answer) -> Facts<'a> {
        Facts {
            input_tokens: a.input_tokens,
            output_tokens: a.output_tokens,
            cached_tokens: a.cached_tokens,
            served_model: a.served_model.as_deref(),
        }
    }

    /// A JSON merge patch (`json_patch`) that puts the facts on the request's stored body.
    fn patch(&self) -> String {
        serde_json::json!({
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_tokens": self.cached_tokens,
            "served_model": self.served_model,
        })
        .to_string()
    }

    /// The token counts go on the request's row of the day's usage (same day, host and
    /// client family), whether the reply has a row of its own or was folded onto the
    /// request's.
    fn add_to(
        &self,
        usages: &mut HashMap<(i64, &'a str, &'static str), [i64; 8]>,
        host: &'a str,
        client: Option<&str>,
        ts: i64,
    ) {
        if host.is_empty() {
            return;
        }
        let u = usages
            .entry((ts / 86_400_000, host, client_family(client)))
            .or_insert([0; 8]);
        u[6] += self.input_tokens.unwrap_or(0) as i64;
        u[7] += self.output_tokens.unwrap_or(0) as i64;
    }
}

/// `reply`: an answer-only reply folded onto this request (its counts and served model).
/// `identity`: the device and OS user for an event that names none.
fn body_json(e: &Event, reply: Option<&Facts<'_>>, identity: &(String, String)) -> Result<String> {
    // Destructured without `..`: a field added to `Event` does not compile here until the
    // body (or a column) takes it.
    let Event {
        id: _,
        time: _,
        kind: _,
        host: _,
        verdict: _,
        outcome: _,
        device,
        os_user,
        method,
        path,
        endpoint,
        provider,
        model,
        max_tokens,
        client,
        group,
        decided_by,
        rules,
        previews,
        prompt_sha256,
        bytes,
        text_bytes,
        est_tokens,
        latency_us,
        binary_parts,
        documents,
        unlisted_fields,
        reply_to,
        input_tokens,
        output_tokens,
        cached_tokens,
        served_model,
        unscanned_images,
        reason,
        policy,
        override_code,
        justification,
        redacted_prompt,
        process,
    } = e;
    fn or<'s>(own: &'s str, default: &'s str) -> &'s str {
        if own.is_empty() {
            default
        } else {
            own
        }
    }
    Ok(serde_json::to_string(&Body {
        device: or(device, &identity.0),
        os_user: or(os_user, &identity.1),
        method,
        path,
        endpoint,
        provider: provider.as_deref(),
        model: model.as_deref(),
        max_tokens: *max_tokens,
        client: client.as_deref(),
        group: group.as_deref(),
        decided_by,
        rules,
        previews,
        prompt_sha256,
        bytes: *bytes as u64,
        text_bytes: *text_bytes as u64,
        est_tokens: *est_tokens as u64,
        latency_us: *latency_us,
        binary_parts: *binary_parts as u64,
        documents,
        unlisted_fields,
        reply_to: reply_to.as_deref(),
        input_tokens: reply.map_or(*input_tokens, |r| r.input_tokens),
        output_tokens: reply.map_or(*output_tokens, |r| r.output_tokens),
        cached_tokens: reply.map_or(*cached_tokens, |r| r.cached_tokens),
        served_model: reply.map_or(served_model.as_deref(), |r| r.served_model),
        unscanned_images: *unscanned_images as u64,
        reason: reason.as_deref(),
        policy: policy.as_deref(),
        override_code: override_code.as_deref(),
        justification: justification.as_deref(),
        redacted_prompt: redacted_prompt.as_deref(),
        process: process.as_deref(),
    })?)
}

/// A short name for the kind of client, from its User-Agent: what the usage record groups by.
pub fn client_family(user_agent: Option<&str>) -> &'static str {
    let Some(ua) = user_agent else {
        return "unknown";
    };
    const KNOWN: &[(&str, &str)] = &[
        ("OpenAI/Python", "openai-python"),
        ("OpenAI/JS", "openai-node"),
        ("Anthropic/Python", "anthropic-python"),
        ("Anthropic/JS", "anthropic-node"),
        ("curl/", "curl"),
        ("python-requests", "python-requests"),
        ("python-httpx", "python-httpx"),
        ("Edg/", "edge"),
        ("Firefox/", "firefox"),
        ("Chrome/", "chrome"),
        ("Safari/", "safari"),
        ("Electron/", "electron-app"),
        ("vscode", "vscode"),
    ];
    KNOWN
        .iter()
        .find(|(needle, _)| ua.contains(needle))
        .map_or("other", |(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_1_database_migrates_and_keeps_its_events() {
        let dir = std::env::temp_dir().join(format!("lg-migrate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("events.db");
        {
            let mut conn = connect(&path, false).unwrap();
            schema::migrate_to(&mut conn, &path, 1).unwrap();
            conn.execute(
                "INSERT INTO events (id, ts, kind, host, verdict, outcome, categories, body)
                 VALUES ('old-1', 1790000000000, 'request', 'claude.ai', 'block', 'blocked',
                         ',secret,', '{\"rules\":[{\"rule\":\"jwt\",\"category\":\"secret\",\"action\":\"block\",\"count\":1}]}')",
                [],
            )
            .unwrap();
            conn.execute("INSERT INTO event_rules VALUES (1, 'jwt', 'secret', 1)", [])
                .unwrap();
        }
        let mut store = Store::open(&path).unwrap();
        let version: i64 = store
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, schema::SCHEMA_VERSION);
        assert_eq!(store.len(), 1);
        // The new tables work on the migrated file.
        store.set_targets(vec!["hec".into()], 10);
        let mut e = crate::fixtures::sample_event(1, 1_790_000_000_000);
        e.id = "new-1".into();
        store.insert(&[e]).unwrap();
        let reader = crate::Reader::open(&path).unwrap();
        let old = reader.get("old-1").unwrap().unwrap().event;
        assert_eq!(old.rules[0].rule, "jwt");
        assert_eq!(old.time, "2026-09-21T14:13:20.000Z");
        assert_eq!(reader.usage("2000-01-01").unwrap().len(), 1);
        // The rollup was back-filled with the old event and counts the new one.
        let stats = reader.stats(0, 2_000_000_000_000, 86_400).unwrap();
        assert_eq!(stats.total, 2);
        assert_eq!(stats.top_rules[0].0, "jwt");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn client_families_name_the_common_clients() {
        for (ua, family) in [
            (Some("OpenAI/Python 1.52.0"), "openai-python"),
            (Some("curl/7.88.1"), "curl"),
            (
                Some("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"),
                "chrome",
            ),
            (Some("Mozilla/5.0 (X11) Chrome/120.0 Safari/537.36 Edg/120.0"), "edge"),
            (Some("something"), "other"),
            (None, "unknown"),
        ] {
            assert_eq!(client_family(ua), family, "{ua:?}");
        }
    }
}
