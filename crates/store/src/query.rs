//! The read side: what the app and the CLI ask of the events. Each [`Reader`] has its own
//! read-only connection; in WAL mode it sees a consistent snapshot and never blocks the writer.

use crate::write::connect;
use crate::{db_path, format_time, Event, Result, RuleCount, StoreError};
use rusqlite::types::Value;
use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Which events to list. Empty lists and `None` mean "any".
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Filter {
    /// From this time (ms since the epoch), inclusive.
    pub since_ms: Option<i64>,
    /// Until this time, exclusive.
    pub until_ms: Option<i64>,
    pub verdicts: Vec<String>,
    pub outcomes: Vec<String>,
    pub kinds: Vec<String>,
    pub categories: Vec<String>,
    pub hosts: Vec<String>,
    pub rule: Option<String>,
    /// Case-insensitive text over rule ids, previews, host, model, endpoint, reasons.
    pub text: Option<String>,
    /// Keyset cursor: only events older than this `seq` (from [`Page::next`]).
    pub before_seq: Option<i64>,
    /// Page size (default 100, at most 10,000).
    pub limit: usize,
}

/// An event with its place in the database.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StoredEvent {
    pub seq: i64,
    #[serde(flatten)]
    pub event: Event,
}

/// False-positive reports of one rule ([`Reader::false_positive_report`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FeedbackRow {
    pub rule: String,
    /// Events the users reported as false alarms that this rule decided.
    pub reports: u64,
    /// The destinations of those events.
    pub destinations: Vec<String>,
    /// One masked preview of what the rule matched.
    pub sample: Option<String>,
    /// Findings of the rule in requests over the same time.
    pub fired: u64,
}

/// One page of events, newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Page {
    pub events: Vec<StoredEvent>,
    /// Pass as `before_seq` for the next page; `None` on the last page.
    pub next: Option<i64>,
}

/// Counts in one time bucket.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct Bucket {
    /// Start of the bucket, RFC 3339.
    pub start: String,
    pub total: u64,
    pub by_outcome: BTreeMap<String, u64>,
    pub by_category: BTreeMap<String, u64>,
    pub by_destination: BTreeMap<String, u64>,
}

/// What the dashboard charts.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Stats {
    pub since: String,
    pub until: String,
    pub bucket_seconds: i64,
    pub total: u64,
    pub by_outcome: BTreeMap<String, u64>,
    pub buckets: Vec<Bucket>,
    /// (rule, category, findings, events), most findings first.
    pub top_rules: Vec<(String, String, u64, u64)>,
    /// (host, requests, stopped = blocked + warned + refused + redacted), most requests first.
    pub top_destinations: Vec<(String, u64, u64)>,
}

/// One row of the usage record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UsageRow {
    pub day: String,
    pub host: String,
    pub client: String,
    pub requests: u64,
    pub bytes: u64,
    pub est_tokens: u64,
    pub blocked: u64,
    /// Documents uploaded, and images (not scanned).
    #[serde(default)]
    pub documents: u64,
    #[serde(default)]
    pub unscanned_images: u64,
    /// Tokens the providers reported in their replies (0 where replies were not read).
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
}

/// A read-only view of the event database.
#[derive(Debug)]
pub struct Reader {
    conn: Connection,
}

const COLUMNS: &str = "events.seq, events.id, events.ts, events.kind, events.host, events.verdict, events.outcome, events.body";

impl Reader {
    /// Opens the database in `data_dir` for reading.
    ///
    /// # Errors
    /// No database there yet (the guard has not run), or it cannot be read.
    pub fn open_in(data_dir: &Path) -> Result<Reader> {
        Reader::open(&db_path(data_dir))
    }

    pub fn open(path: &Path) -> Result<Reader> {
        if !path.exists() {
            return Err(StoreError::Open {
                path: path.to_path_buf(),
                source: rusqlite::Error::InvalidPath(path.to_path_buf()),
            });
        }
        Ok(Reader {
            conn: connect(path, true)?,
        })
    }

    /// Events matching `f`, newest first, one page.
    pub fn events(&self, f: &Filter) -> Result<Page> {
        let limit = if f.limit == 0 {
            100
        } else {
            f.limit.min(10_000)
        };
        let (clause, mut args) = where_clause(f);
        args.push(Value::Integer(limit as i64 + 1));
        let (from, seq) = source(f);
        let sql = format!("SELECT {COLUMNS} FROM {from} {clause} ORDER BY {seq} DESC LIMIT ?");
        let mut st = self.conn.prepare_cached(&sql)?;
        let mut events = Vec::with_capacity(limit.min(1024));
        let mut rows = st.query(rusqlite::params_from_iter(args))?;
        while let Some(row) = rows.next()? {
            events.push(read_row(row)?);
        }
        let next = if events.len() > limit {
            events.pop();
            events.last().map(|e| e.seq)
        } else {
            None
        };
        Ok(Page { events, next })
    }

    /// Calls `each` for every event matching `f` (ignoring its limit and cursor), oldest
    /// first, reading in pages so memory stays flat however many there are.
    /// The false-positive reports since `since_ms`, per rule: how many reports, from which
    /// destinations, one masked sample, and how often the rule fired in the same time (so the
    /// one rule that "fires every run" stands out). Most reported first.
    pub fn false_positive_report(&self, since_ms: i64) -> Result<Vec<FeedbackRow>> {
        use std::collections::BTreeMap;
        let mut rows: BTreeMap<String, FeedbackRow> = BTreeMap::new();
        let reports = Filter {
            since_ms: Some(since_ms),
            kinds: vec!["feedback".into()],
            ..Filter::default()
        };
        self.for_each(&reports, |e| {
            let rules: Vec<&str> = if e.event.rules.is_empty() {
                vec!["(unknown rule)"]
            } else {
                e.event.rules.iter().map(|r| r.rule.as_str()).collect()
            };
            for (i, rule) in rules.into_iter().enumerate() {
                let row = rows.entry(rule.to_string()).or_insert_with(|| FeedbackRow {
                    rule: rule.to_string(),
                    ..FeedbackRow::default()
                });
                row.reports += 1;
                if !e.event.host.is_empty() && !row.destinations.contains(&e.event.host) {
                    row.destinations.push(e.event.host.clone());
                }
                if row.sample.is_none() {
                    row.sample = e
                        .event
                        .previews
                        .get(i)
                        .or(e.event.previews.first())
                        .cloned();
                }
            }
            Ok(())
        })?;
        let fired = Filter {
            since_ms: Some(since_ms),
            kinds: vec!["request".into(), "websocket".into()],
            ..Filter::default()
        };
        self.for_each(&fired, |e| {
            for r in &e.event.rules {
                if let Some(row) = rows.get_mut(&r.rule) {
                    row.fired += u64::from(r.count.max(1));
                }
            }
            Ok(())
        })?;
        let mut out: Vec<FeedbackRow> = rows.into_values().collect();
        out.sort_by(|a, b| b.reports.cmp(&a.reports).then(a.rule.cmp(&b.rule)));
        Ok(out)
    }

    pub fn for_each(
        &self,
        f: &Filter,
        mut each: impl FnMut(&StoredEvent) -> Result<()>,
    ) -> Result<u64> {
        let mut all = f.clone();
        all.before_seq = None;
        let (clause, base_args) = where_clause(&all);
        let glue = if clause.is_empty() { "WHERE" } else { "AND" };
        let (from, seq) = source(f);
        let sql = format!(
            "SELECT {COLUMNS} FROM {from} {clause} {glue} {seq} > ? ORDER BY {seq} LIMIT 1000"
        );
        let mut after = i64::MIN;
        let mut n = 0u64;
        loop {
            let mut args = base_args.clone();
            args.push(Value::Integer(after));
            let mut st = self.conn.prepare_cached(&sql)?;
            let mut rows = st.query(rusqlite::params_from_iter(args))?;
            let mut got = 0;
            while let Some(row) = rows.next()? {
                let e = read_row(row)?;
                after = e.seq;
                each(&e)?;
                got += 1;
                n += 1;
            }
            if got < 1000 {
                return Ok(n);
            }
        }
    }

    /// One event by id.
    pub fn get(&self, id: &str) -> Result<Option<StoredEvent>> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM events WHERE events.id = ?1"
        ))?;
        let mut rows = st.query([id])?;
        match rows.next()? {
            Some(row) => Ok(Some(read_row(row)?)),
            None => Ok(None),
        }
    }

    /// Counts per bucket (`bucket_seconds`: 3600 for hours, 86400 for days; whole hours) between
    /// two times, with totals, the top rules and the top destinations. Read from the hourly
    /// rollup, so its cost does not grow with traffic; it covers the usage-record period, also
    /// for events already pruned.
    pub fn stats(&self, since_ms: i64, until_ms: i64, bucket_seconds: i64) -> Result<Stats> {
        let hours = (bucket_seconds / 3600).max(1);
        let (from_h, to_h) = (
            since_ms.div_euclid(3_600_000),
            (until_ms + 3_599_999).div_euclid(3_600_000),
        );
        let mut buckets: BTreeMap<i64, Bucket> = BTreeMap::new();
        let mut stats = Stats {
            since: format_time(from_h * 3_600_000),
            until: format_time(to_h * 3_600_000),
            bucket_seconds: hours * 3600,
            ..Stats::default()
        };
        let mut top_rules: BTreeMap<String, (String, u64, u64)> = BTreeMap::new();
        let mut top_hosts: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        let mut st = self.conn.prepare_cached(
            "SELECT hour, host, outcome, rule, category, events, findings FROM rollup_hourly
             WHERE hour >= ?1 AND hour < ?2",
        )?;
        let mut rows = st.query(params![from_h, to_h])?;
        while let Some(r) = rows.next()? {
            let (hour, host, outcome, rule, category, events, findings): (
                i64,
                String,
                String,
                String,
                String,
                i64,
                i64,
            ) = (
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            );
            let (events, findings) = (events as u64, findings as u64);
            let k = hour.div_euclid(hours) * hours;
            let bucket = buckets.entry(k).or_insert_with(|| Bucket {
                start: format_time(k * 3_600_000),
                ..Bucket::default()
            });
            if rule.is_empty() {
                bucket.total += events;
                *bucket.by_outcome.entry(outcome.clone()).or_default() += events;
                stats.total += events;
                *stats.by_outcome.entry(outcome.clone()).or_default() += events;
                if !host.is_empty() {
                    *bucket.by_destination.entry(host.clone()).or_default() += events;
                    let h = top_hosts.entry(host).or_default();
                    h.0 += events;
                    if matches!(
                        outcome.as_str(),
                        "blocked" | "warned" | "refused" | "redacted"
                    ) {
                        h.1 += events;
                    }
                }
            } else {
                *bucket.by_category.entry(category.clone()).or_default() += events;
                let t = top_rules.entry(rule).or_insert((category, 0, 0));
                t.1 += findings;
                t.2 += events;
            }
        }
        let mut rules: Vec<_> = top_rules
            .into_iter()
            .map(|(rule, (cat, f, e))| (rule, cat, f, e))
            .collect();
        rules.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
        rules.truncate(10);
        stats.top_rules = rules;
        let mut hosts: Vec<_> = top_hosts.into_iter().map(|(h, (n, s))| (h, n, s)).collect();
        hosts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        hosts.truncate(10);
        stats.top_destinations = hosts;
        stats.buckets = buckets.into_values().collect();
        Ok(stats)
    }

    /// The usage record from `since_day` (`YYYY-MM-DD`) on, most recent day first.
    pub fn usage(&self, since_day: &str) -> Result<Vec<UsageRow>> {
        let mut st = self.conn.prepare_cached(
            "SELECT day, host, client, requests, bytes, est_tokens, blocked, documents, unscanned_images,
               input_tokens, output_tokens FROM usage_daily
             WHERE day >= ?1 ORDER BY day DESC, requests DESC",
        )?;
        let rows = st.query_map([since_day], |r| {
            Ok(UsageRow {
                day: r.get(0)?,
                host: r.get(1)?,
                client: r.get(2)?,
                requests: r.get::<_, i64>(3)? as u64,
                bytes: r.get::<_, i64>(4)? as u64,
                est_tokens: r.get::<_, i64>(5)? as u64,
                blocked: r.get::<_, i64>(6)? as u64,
                documents: r.get::<_, i64>(7)? as u64,
                unscanned_images: r.get::<_, i64>(8)? as u64,
                input_tokens: r.get::<_, i64>(9)? as u64,
                output_tokens: r.get::<_, i64>(10)? as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Number of events.
    pub fn count(&self) -> Result<u64> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// SIEM delivery state per target.
    pub fn targets(&self) -> Result<Vec<crate::TargetState>> {
        crate::outbox::target_states(&self.conn)
    }
}

/// The tables a query reads and the `seq` it orders and pages by: with a rule, the rule index
/// drives (newest matching events first, however rare the rule).
fn source(f: &Filter) -> (&'static str, &'static str) {
    if f.rule.is_some() {
        (
            "event_rules JOIN events ON events.seq = event_rules.seq",
            "event_rules.seq",
        )
    } else {
        ("events", "events.seq")
    }
}

fn where_clause(f: &Filter) -> (String, Vec<Value>) {
    let mut conds: Vec<String> = Vec::new();
    let mut args: Vec<Value> = Vec::new();
    if let Some(s) = f.before_seq {
        conds.push("events.seq < ?".into());
        args.push(Value::Integer(s));
    }
    if let Some(s) = f.since_ms {
        conds.push("events.ts >= ?".into());
        args.push(Value::Integer(s));
    }
    if let Some(u) = f.until_ms {
        conds.push("events.ts < ?".into());
        args.push(Value::Integer(u));
    }
    for (column, values) in [
        ("verdict", &f.verdicts),
        ("outcome", &f.outcomes),
        ("kind", &f.kinds),
        ("host", &f.hosts),
    ] {
        if !values.is_empty() {
            conds.push(format!(
                "events.{column} IN ({})",
                vec!["?"; values.len()].join(", ")
            ));
            args.extend(values.iter().map(|v| Value::Text(v.clone())));
        }
    }
    if !f.categories.is_empty() {
        let ors: Vec<&str> = f
            .categories
            .iter()
            .map(|_| "events.categories LIKE ?")
            .collect();
        conds.push(format!("({})", ors.join(" OR ")));
        args.extend(
            f.categories
                .iter()
                .map(|c| Value::Text(format!("%,{},%", escape_like(c)))),
        );
    }
    if let Some(rule) = &f.rule {
        // `events()` and `for_each()` join event_rules when a rule is given.
        conds.push("event_rules.rule = ?".into());
        args.push(Value::Text(rule.clone()));
    }
    if let Some(text) = f.text.as_deref().filter(|t| !t.is_empty()) {
        conds.push("(events.body LIKE ? ESCAPE '\\' OR events.host LIKE ? ESCAPE '\\')".into());
        let pattern = format!("%{}%", escape_like(text));
        args.push(Value::Text(pattern.clone()));
        args.push(Value::Text(pattern));
    }
    if conds.is_empty() {
        (String::new(), args)
    } else {
        (format!("WHERE {}", conds.join(" AND ")), args)
    }
}

fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

pub(crate) fn read_row(row: &rusqlite::Row<'_>) -> Result<StoredEvent> {
    read_row_at(row, 0)
}

/// Reads the [`COLUMNS`] layout starting at column `at`.
pub(crate) fn read_row_at(row: &rusqlite::Row<'_>, at: usize) -> Result<StoredEvent> {
    let seq: i64 = row.get(at)?;
    let body: String = row.get(at + 7)?;
    let mut event: Event = serde_json::from_str(&body)?;
    event.id = row.get(at + 1)?;
    event.time = format_time(row.get(at + 2)?);
    event.kind = named(row, at + 3)?;
    event.host = row.get(at + 4)?;
    event.verdict = named(row, at + 5)?;
    event.outcome = named(row, at + 6)?;
    Ok(StoredEvent { seq, event })
}

/// A column holding one of the event's stable names (kind, verdict, outcome).
fn named<T: std::str::FromStr<Err = String>>(
    row: &rusqlite::Row<'_>,
    at: usize,
) -> rusqlite::Result<T> {
    let text: String = row.get(at)?;
    text.parse().map_err(|e: String| {
        rusqlite::Error::FromSqlConversionFailure(at, rusqlite::types::Type::Text, e.into())
    })
}

/// CSV columns of an export.
pub const CSV_HEADER: &str = "id,time,kind,host,endpoint,provider,model,client,verdict,outcome,rules,categories,previews,prompt_sha256,bytes,est_tokens,latency_us,reason,policy,override_code,justification";

/// One event as a CSV line (RFC 4180 quoting; cells that a spreadsheet would run as a formula
/// get a leading `'`).
pub fn csv_line(e: &Event) -> String {
    let rules = e
        .rules
        .iter()
        .map(|r: &RuleCount| format!("{}x{}", r.rule, r.count))
        .collect::<Vec<_>>()
        .join(" ");
    let cells: [String; 21] = [
        e.id.clone(),
        e.time.clone(),
        e.kind.to_string(),
        e.host.clone(),
        e.endpoint.clone(),
        e.provider.clone().unwrap_or_default(),
        e.model.clone().unwrap_or_default(),
        e.client.clone().unwrap_or_default(),
        e.verdict.to_string(),
        e.outcome.to_string(),
        rules,
        e.categories().join(" "),
        e.previews.join(" "),
        e.prompt_sha256.clone(),
        e.bytes.to_string(),
        e.est_tokens.to_string(),
        e.latency_us.to_string(),
        e.reason.clone().unwrap_or_default(),
        e.policy.clone().unwrap_or_default(),
        e.override_code.clone().unwrap_or_default(),
        e.justification.clone().unwrap_or_default(),
    ];
    cells
        .iter()
        .map(|c| csv_cell(c))
        .collect::<Vec<_>>()
        .join(",")
}

fn csv_cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(CSV_HEADER.split(',').count(), 21);
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(escape_like("100%_a\\b"), "100\\%\\_a\\\\b");
    }
}
