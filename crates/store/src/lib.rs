//! Leakguard's event store: every decision the guard makes, kept in SQLite (WAL mode) in the
//! data dir, queried by the app and the CLI, pruned by age and count, and queued for the
//! company's SIEM in a durable outbox.
//!
//! What it will not do: keep a prompt or a raw secret. It stores [`Event`]s, which carry rule
//! ids, masked previews and a SHA-256 of the prompt, nothing more (the *redacted* prompt only
//! when the policy asks for it).
//!
//! Key decision: one writer connection owned by one thread ([`Recorder`]), fed by a channel and
//! committing whatever has queued up in one transaction. The proxy never waits for the disk, a
//! burst costs one fsync-free WAL commit, and readers ([`Reader`], their own connections) never
//! block the writer. With `synchronous = NORMAL` a committed event survives the process being
//! killed at any instant; `durability: full` in the options also covers power loss.

#[doc(hidden)]
pub mod fixtures;
mod outbox;
mod query;
mod recorder;
mod schema;
mod write;

pub use leakguard_types::{Event, RuleCount};
pub use outbox::{Outbox, OutboxItem, TargetState};
pub use query::{
    csv_line, Bucket, FeedbackRow, Filter, Page, Reader, Stats, StoredEvent, UsageRow, CSV_HEADER,
};
pub use recorder::{Recorder, RecorderCounters, RecorderOptions};
pub use schema::SCHEMA_VERSION;
pub use write::{Retention, Store};

use std::path::{Path, PathBuf};

/// What went wrong with the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("cannot open the event database {path}: {source} (check the data dir is writable; a damaged file can be moved aside and the guard restarted)")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("the event database {path} has schema version {found}, newer than this Leakguard knows ({known}); update Leakguard")]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("event database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("event {id}: bad time `{time}` (expected RFC 3339)")]
    BadTime { id: String, time: String },
    #[error("event data: {0}")]
    Json(#[from] serde_json::Error),
    #[error("a file of the event store: {0}")]
    Io(#[from] std::io::Error),
    #[error("the event recorder has stopped")]
    Stopped,
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The database file in a data dir.
pub fn db_path(data_dir: &Path) -> PathBuf {
    data_dir.join("events.db")
}

/// Milliseconds since the Unix epoch for an RFC 3339 time.
pub fn parse_time(s: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    Some((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

pub use leakguard_types::rfc3339_ms as format_time;

/// Now, in ms since the Unix epoch.
pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_in_utc_with_milliseconds() {
        let ms = parse_time("2026-11-21T13:07:22.123Z").unwrap();
        assert_eq!(format_time(ms), "2026-11-21T13:07:22.123Z");
        assert_eq!(
            parse_time("2026-11-21T15:07:22.123+02:00"),
            Some(ms),
            "offsets are folded into UTC"
        );
        assert_eq!(parse_time("yesterday"), None);
    }
}
