//! The schema, as forward-only migrations. Each step names the table it belongs to and is
//! applied with the version bump in one transaction, so a database is always at exactly one
//! version (`PRAGMA user_version`).

use crate::{Result, StoreError};
use rusqlite::Connection;
use std::path::Path;

/// One forward step.
pub(crate) struct Migration {
    pub version: i64,
    pub table: &'static str,
    pub sql: &'static str,
}

/// Every step, oldest first. Never edit a shipped step: add a new one.
pub(crate) const MIGRATIONS: &[Migration] = &[
    // events: one row per decision. The columns are what filters and stats need; the rest of
    // the event is `body` (JSON). `seq` is insertion order (keyset pagination, retention);
    // `categories` is `,secret,pii,` so one LIKE filters a category.
    Migration {
        version: 1,
        table: "events",
        sql: "CREATE TABLE events (
                seq INTEGER PRIMARY KEY,
                id TEXT NOT NULL UNIQUE,
                ts INTEGER NOT NULL,
                kind TEXT NOT NULL,
                host TEXT NOT NULL,
                verdict TEXT NOT NULL,
                outcome TEXT NOT NULL,
                categories TEXT NOT NULL,
                body TEXT NOT NULL
              );
              CREATE INDEX events_ts ON events(ts);",
    },
    // event_rules: which rules fired in which event, for the rule filter and top-rule stats.
    Migration {
        version: 1,
        table: "event_rules",
        sql: "CREATE TABLE event_rules (
                seq INTEGER NOT NULL,
                rule TEXT NOT NULL,
                category TEXT NOT NULL,
                count INTEGER NOT NULL,
                PRIMARY KEY (seq, rule)
              ) WITHOUT ROWID;
              CREATE INDEX event_rules_rule ON event_rules(rule);",
    },
    // usage_daily: the metadata-only usage record of every LLM request (shadow-AI view):
    // requests, bytes and estimated tokens per day, destination and client. Kept a year,
    // independent of event retention.
    Migration {
        version: 2,
        table: "usage_daily",
        sql: "CREATE TABLE usage_daily (
                day TEXT NOT NULL,
                host TEXT NOT NULL,
                client TEXT NOT NULL,
                requests INTEGER NOT NULL,
                bytes INTEGER NOT NULL,
                est_tokens INTEGER NOT NULL,
                blocked INTEGER NOT NULL,
                PRIMARY KEY (day, host, client)
              ) WITHOUT ROWID;",
    },
    // outbox: events still to be delivered to each SIEM target, written in the same
    // transaction as the event itself (at-least-once delivery).
    Migration {
        version: 3,
        table: "outbox",
        sql: "CREATE TABLE outbox (
                target TEXT NOT NULL,
                seq INTEGER NOT NULL,
                PRIMARY KEY (target, seq)
              ) WITHOUT ROWID;",
    },
    // siem_state: per target, what was delivered, what was dropped and the last error.
    Migration {
        version: 3,
        table: "siem_state",
        sql: "CREATE TABLE siem_state (
                target TEXT PRIMARY KEY,
                delivered INTEGER NOT NULL DEFAULT 0,
                dropped INTEGER NOT NULL DEFAULT 0,
                last_ok INTEGER,
                last_error TEXT
              );",
    },
    // rollup_hourly: per hour, destination and outcome, how many events (rule '') and, per
    // rule, how many events and findings. The dashboard's charts read this, not the events,
    // so a week of stats costs a few hundred rows whatever the traffic. Back-filled from the
    // events already stored.
    Migration {
        version: 4,
        table: "rollup_hourly",
        sql: "CREATE TABLE rollup_hourly (
                hour INTEGER NOT NULL,
                host TEXT NOT NULL,
                outcome TEXT NOT NULL,
                rule TEXT NOT NULL,
                category TEXT NOT NULL,
                events INTEGER NOT NULL,
                findings INTEGER NOT NULL,
                PRIMARY KEY (hour, host, outcome, rule)
              ) WITHOUT ROWID;
              INSERT INTO rollup_hourly
                SELECT ts / 3600000, host, outcome, '', '', COUNT(*), 0 FROM events
                GROUP BY 1, 2, 3;
              INSERT INTO rollup_hourly
                SELECT e.ts / 3600000, e.host, e.outcome, r.rule, MIN(r.category), COUNT(*), SUM(r.count)
                FROM events e JOIN event_rules r ON r.seq = e.seq GROUP BY 1, 2, 3, 4;",
    },
    // usage_daily, version 5: uploaded documents and images (not scanned) per day, host and
    // client, so the usage view shows how much goes out and how much of it unchecked.
    Migration {
        version: 5,
        table: "usage_daily",
        sql: "ALTER TABLE usage_daily ADD COLUMN documents INTEGER NOT NULL DEFAULT 0;
              ALTER TABLE usage_daily ADD COLUMN unscanned_images INTEGER NOT NULL DEFAULT 0;",
    },
    // usage_daily, version 6: the token counts the providers reported in their replies
    // (`reply` events), beside the estimates.
    Migration {
        version: 6,
        table: "usage_daily",
        sql: "ALTER TABLE usage_daily ADD COLUMN input_tokens INTEGER NOT NULL DEFAULT 0;
              ALTER TABLE usage_daily ADD COLUMN output_tokens INTEGER NOT NULL DEFAULT 0;",
    },
];

/// The version this build writes.
pub const SCHEMA_VERSION: i64 = 6;

/// Brings `conn` to [`SCHEMA_VERSION`]: each pending version's steps and the version bump in
/// one transaction.
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    migrate_to(conn, path, SCHEMA_VERSION)
}

pub(crate) fn migrate_to(conn: &mut Connection, path: &Path, target: i64) -> Result<()> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found,
            known: SCHEMA_VERSION,
        });
    }
    for version in (found + 1)..=target {
        let tx = conn.transaction()?;
        for m in MIGRATIONS.iter().filter(|m| m.version == version) {
            tx.execute_batch(m.sql)?;
            debug_assert!(!m.table.is_empty());
        }
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_contiguous_and_end_at_the_current_one() {
        let mut last = 0;
        for m in MIGRATIONS {
            assert!(m.version == last || m.version == last + 1, "{}", m.table);
            last = m.version;
        }
        assert_eq!(last, SCHEMA_VERSION);
    }

    #[test]
    fn a_newer_database_is_refused_with_advice() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let err = migrate(&mut conn, Path::new("x.db")).unwrap_err();
        assert!(err.to_string().contains("update Leakguard"), "{err}");
    }

    #[test]
    fn a_failing_step_leaves_the_database_at_its_old_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_to(&mut conn, Path::new("x.db"), 1).unwrap();
        // Sabotage version 2: its table already exists, so its CREATE fails.
        conn.execute_batch("CREATE TABLE usage_daily (x)").unwrap();
        assert!(migrate(&mut conn, Path::new("x.db")).is_err());
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, 1);
    }
}
