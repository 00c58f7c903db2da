//! The SIEM outbox: every event is queued per target in the same transaction that stores it,
//! and leaves the queue only when the target acknowledged it (at-least-once). A forwarder
//! opens its own [`Outbox`] connection; it never blocks recording for longer than one small
//! delete.

use crate::query::read_row_at;
use crate::write::connect;
use crate::{db_path, now_ms, schema, Event, Result};
use rusqlite::{params, Connection};
use serde::Serialize;
use std::path::Path;

/// A queued event. `event` is `None` when retention deleted the event before it could be
/// delivered; acknowledging such an item counts it as dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxItem {
    pub seq: i64,
    pub event: Option<Event>,
}

/// Delivery state of one SIEM target.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct TargetState {
    pub target: String,
    pub pending: u64,
    pub delivered: u64,
    pub dropped: u64,
    pub last_ok: Option<String>,
    pub last_error: Option<String>,
}

/// The forwarder's handle on the outbox.
#[derive(Debug)]
pub struct Outbox {
    conn: Connection,
}

impl Outbox {
    pub fn open_in(data_dir: &Path) -> Result<Outbox> {
        Outbox::open(&db_path(data_dir))
    }

    pub fn open(path: &Path) -> Result<Outbox> {
        let mut conn = connect(path, false)?;
        schema::migrate(&mut conn, path)?;
        Ok(Outbox { conn })
    }

    /// Up to `limit` queued events for `target`, oldest first.
    pub fn next(&self, target: &str, limit: usize) -> Result<Vec<OutboxItem>> {
        let mut st = self.conn.prepare_cached(
            "SELECT o.seq, e.seq, e.id, e.ts, e.kind, e.host, e.verdict, e.outcome, e.body
             FROM outbox o LEFT JOIN events e ON e.seq = o.seq
             WHERE o.target = ?1 ORDER BY o.seq LIMIT ?2",
        )?;
        let mut rows = st.query(params![target, limit as i64])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let seq: i64 = row.get(0)?;
            let present: Option<i64> = row.get(1)?;
            let event = match present {
                Some(_) => Some(read_row_at(row, 1)?.event),
                None => None,
            };
            out.push(OutboxItem { seq, event });
        }
        Ok(out)
    }

    /// Removes delivered items from the queue and counts them (items whose event had been
    /// pruned count as dropped).
    pub fn ack(&mut self, target: &str, items: &[OutboxItem]) -> Result<()> {
        let tx = self.conn.transaction()?;
        let (mut delivered, mut dropped) = (0i64, 0i64);
        {
            let mut del = tx.prepare_cached("DELETE FROM outbox WHERE target = ?1 AND seq = ?2")?;
            for item in items {
                if del.execute(params![target, item.seq])? > 0 {
                    if item.event.is_some() {
                        delivered += 1;
                    } else {
                        dropped += 1;
                    }
                }
            }
        }
        tx.execute(
            "INSERT INTO siem_state (target, delivered, dropped, last_ok, last_error)
             VALUES (?1, ?2, ?3, ?4, NULL)
             ON CONFLICT(target) DO UPDATE SET delivered = delivered + excluded.delivered,
               dropped = dropped + excluded.dropped, last_ok = excluded.last_ok, last_error = NULL",
            params![target, delivered, dropped, now_ms()],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Records why a delivery failed (shown by `leakguard events targets` and the app).
    pub fn failed(&self, target: &str, error: &str) -> Result<()> {
        let error: String = error.chars().take(300).collect();
        self.conn.execute(
            "INSERT INTO siem_state (target, last_error) VALUES (?1, ?2)
             ON CONFLICT(target) DO UPDATE SET last_error = excluded.last_error",
            params![target, error],
        )?;
        Ok(())
    }

    /// Forgets the queue of a target the policy no longer names.
    pub fn forget(&self, target: &str) -> Result<usize> {
        Ok(self
            .conn
            .execute("DELETE FROM outbox WHERE target = ?1", [target])?)
    }

    pub fn states(&self) -> Result<Vec<TargetState>> {
        target_states(&self.conn)
    }
}

pub(crate) fn target_states(conn: &Connection) -> Result<Vec<TargetState>> {
    let mut st = conn.prepare_cached(
        "SELECT t.target,
           (SELECT COUNT(*) FROM outbox o WHERE o.target = t.target),
           COALESCE(s.delivered, 0), COALESCE(s.dropped, 0), s.last_ok, s.last_error
         FROM (SELECT target FROM siem_state UNION SELECT DISTINCT target FROM outbox) t
         LEFT JOIN siem_state s ON s.target = t.target ORDER BY t.target",
    )?;
    let rows = st.query_map([], |r| {
        Ok(TargetState {
            target: r.get(0)?,
            pending: r.get::<_, i64>(1)? as u64,
            delivered: r.get::<_, i64>(2)? as u64,
            dropped: r.get::<_, i64>(3)? as u64,
            last_ok: r.get::<_, Option<i64>>(4)?.map(crate::format_time),
            last_error: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
