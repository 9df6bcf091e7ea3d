//! The send ledger: the `sends` table (migrations 3, 4 and 7). One row per
//! (cadence, period, recipient, content hash) holding the formatted message
//! itself, so that what `scorecard send` delivers after an outage is exactly
//! what the run built, and nothing is lost if the archive or outbox moves.
//!
//! `deliver` decides what to queue, send and retry; this module only says
//! how the ledger stores it, so that delivery runs no SQL of its own.
use anyhow::Result;
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::Store;

/// What happened to one message (goes into manifest.json).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Fate {
    pub period: String,
    /// The entry's addresses, comma-joined (the ledger's key).
    pub recipient: String,
    pub segment: String,
    pub message_id: String,
    /// `pending`, `in_flight` (an attempt under way: the state a crash
    /// leaves), `sent`, `failed` or `uncertain` (the server took the whole
    /// message and its reply never came: it may have been delivered).
    pub state: String,
    /// Attempts over every run.
    pub attempts: u32,
    pub last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<String>,
    /// When the backoff would have tried again (informational: the next
    /// `run` or `send` tries every pending message).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
    /// The `.eml` file, for the file outbox.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// The send ledger of a store: `store.sends().find(…)`.
#[derive(Clone, Copy)]
pub struct Sends<'s> {
    conn: &'s super::sql::Db,
}

impl Store {
    /// The send ledger (inside a [`Store::begin`] batch when one is open).
    pub fn sends(&self) -> Sends<'_> {
        Sends { conn: &self.conn }
    }
}

fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The key of a row and what enqueue needs to know about it.
pub struct Existing {
    pub id: i64,
    pub state: String,
    pub resends: u32,
}

pub struct NewSend<'a> {
    pub cadence: &'a str,
    pub period: &'a str,
    pub recipient: &'a str,
    pub segment: &'a str,
    pub content_hash: &'a str,
    pub message_id: &'a str,
    pub envelope_from: &'a str,
    pub message: &'a [u8],
}

/// A message due for sending (without its bytes, read one at a time).
#[derive(Debug, Clone)]
pub struct Due {
    pub id: i64,
    pub period: String,
    pub recipient: String,
    pub message_id: String,
    pub state: String,
    pub attempts: u32,
    pub envelope_from: Option<String>,
}

const FATE_COLUMNS: &str =
    "period, recipient, segment, message_id, state, attempts, last_error, sent_at,
                            next_attempt_at, NULLIF(message_path, '')";

fn fate_row(r: &super::sql::Row) -> rusqlite::Result<Fate> {
    Ok(Fate {
        period: r.get(0)?,
        recipient: r.get(1)?,
        segment: r.get(2)?,
        message_id: r.get(3)?,
        state: r.get(4)?,
        attempts: r.get(5)?,
        last_error: r.get(6)?,
        sent_at: r.get(7)?,
        next_attempt_at: r.get(8)?,
        path: r.get(9)?,
    })
}

impl Sends<'_> {
    /// The ledger row of this period, recipient and content, if any.
    pub fn find(
        &self,
        cadence: &str,
        period: &str,
        recipient: &str,
        content_hash: &str,
    ) -> Result<Option<Existing>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT id, state, resends FROM sends
                 WHERE cadence = ?1 AND period = ?2 AND recipient = ?3 AND content_hash = ?4",
            )?
            .query_row(params![cadence, period, recipient, content_hash], |r| {
                Ok(Existing {
                    id: r.get(0)?,
                    state: r.get(1)?,
                    resends: r.get(2)?,
                })
            })
            .optional()?)
    }

    /// Drops the unsent messages of an earlier version of the same report
    /// (pending or failed with other figures): the new one replaces them.
    pub fn drop_superseded(
        &self,
        cadence: &str,
        period: &str,
        recipient: &str,
        content_hash: &str,
    ) -> Result<usize> {
        Ok(self
            .conn
            .prepare_cached(
                "DELETE FROM sends WHERE cadence = ?1 AND period = ?2 AND recipient = ?3
                 AND content_hash <> ?4 AND state IN ('pending', 'failed')",
            )?
            .execute(params![cadence, period, recipient, content_hash])?)
    }

    pub fn insert(&self, s: &NewSend, now: DateTime<Utc>) -> Result<()> {
        self.conn.prepare_cached(
            "INSERT INTO sends (cadence, period, recipient, segment, content_hash, message_id, message_path,
                                state, attempts, created_at, message, envelope_from, resends)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, '', 'pending', 0, ?7, ?8, ?9, 0)",
        )?
        .execute(params![
            s.cadence,
            s.period,
            s.recipient,
            s.segment,
            s.content_hash,
            s.message_id,
            timestamp(now),
            s.message,
            s.envelope_from
        ])?;
        Ok(())
    }

    /// `--force`: the row becomes pending again with a freshly built message.
    pub fn requeue(
        &self,
        id: i64,
        message_id: &str,
        message: &[u8],
        envelope_from: &str,
        resends: u32,
    ) -> Result<()> {
        self.conn.prepare_cached(
            "UPDATE sends SET state = 'pending', attempts = 0, last_error = NULL, next_attempt_at = NULL,
                    sent_at = NULL, message_path = '', message_id = ?2, message = ?3, envelope_from = ?4, resends = ?5
             WHERE id = ?1",
        )?
        .execute(params![id, message_id, message, envelope_from, resends])?;
        Ok(())
    }

    /// The messages to send, oldest first: pending ones, failed ones with
    /// `retry_failed`, uncertain ones with `resend_uncertain`.
    pub fn due(&self, retry_failed: bool, resend_uncertain: bool) -> Result<Vec<Due>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, period, recipient, message_id, state, attempts, envelope_from FROM sends
             WHERE state = 'pending' OR (?1 AND state = 'failed') OR (?2 AND state = 'uncertain')
             ORDER BY id",
        )?;
        let rows = stmt.query_map([retry_failed, resend_uncertain], |r| {
            Ok(Due {
                id: r.get(0)?,
                period: r.get(1)?,
                recipient: r.get(2)?,
                message_id: r.get(3)?,
                state: r.get(4)?,
                attempts: r.get(5)?,
                envelope_from: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The stored message bytes (None for a row written before migration 4).
    pub fn message(&self, id: i64) -> Result<Option<Vec<u8>>> {
        Ok(self
            .conn
            .prepare_cached("SELECT message FROM sends WHERE id = ?1")?
            .query_row([id], |r| r.get::<_, Option<Vec<u8>>>(0))?)
    }

    pub fn mark_sent(
        &self,
        id: i64,
        attempts: u32,
        now: DateTime<Utc>,
        path: Option<&str>,
    ) -> Result<()> {
        self.conn.prepare_cached(
            "UPDATE sends SET state = 'sent', attempts = ?2, sent_at = ?3, last_error = NULL, next_attempt_at = NULL,
                    message_path = COALESCE(?4, message_path)
             WHERE id = ?1",
        )?
        .execute(params![id, attempts, timestamp(now), path])?;
        Ok(())
    }

    /// Written (and committed) before the message's DATA command: if the
    /// process dies from here on, the next `send` finds it `in_flight` and
    /// knows the server may have it.
    pub fn mark_in_flight(&self, id: i64) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE sends SET state = 'in_flight' WHERE id = ?1")?
            .execute([id])?;
        Ok(())
    }

    /// An attempt that ended without the server having the message (a
    /// refusal, a broken connection before the end of the body) puts the
    /// row back in the state it was due in.
    pub fn end_attempt(&self, id: i64, state: &str) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE sends SET state = ?2 WHERE id = ?1 AND state = 'in_flight'")?
            .execute(params![id, state])?;
        Ok(())
    }

    /// The server took the message whole and its reply never came (a
    /// timeout, a dropped connection): never sent again by itself.
    pub fn mark_uncertain(&self, id: i64, attempts: u32, error: &str) -> Result<()> {
        self.conn.prepare_cached(
            "UPDATE sends SET state = 'uncertain', attempts = ?2, last_error = ?3, next_attempt_at = NULL WHERE id = ?1",
        )?
        .execute(params![id, attempts, error])?;
        Ok(())
    }

    /// Attempts a process that died left `in_flight` become `uncertain`
    /// (with `reason`); returns how many.
    pub fn settle_in_flight(&self, reason: &str) -> Result<usize> {
        Ok(self
            .conn
            .prepare_cached(
                "UPDATE sends SET state = 'uncertain', attempts = attempts + 1, last_error = ?1, next_attempt_at = NULL
                 WHERE state = 'in_flight'",
            )?
            .execute([reason])?)
    }

    pub fn mark_failed(&self, id: i64, attempts: u32, error: &str) -> Result<()> {
        self.conn.prepare_cached(
            "UPDATE sends SET state = 'failed', attempts = ?2, last_error = ?3, next_attempt_at = NULL WHERE id = ?1",
        )?
        .execute(params![id, attempts, error])?;
        Ok(())
    }

    /// Left pending: `next_attempt_at` says when the backoff would have tried
    /// again; the next `run` or `send` tries whatever is pending.
    pub fn mark_pending(
        &self,
        id: i64,
        attempts: u32,
        error: &str,
        next_attempt_at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        self.conn.prepare_cached(
            "UPDATE sends SET state = 'pending', attempts = ?2, last_error = ?3, next_attempt_at = COALESCE(?4, next_attempt_at)
             WHERE id = ?1",
        )?
        .execute(params![id, attempts, error, next_attempt_at.map(timestamp)])?;
        Ok(())
    }

    /// Records why a pending message was not tried (the run stopped before
    /// it); its state and attempts stay as they were.
    pub fn note_error(&self, id: i64, error: &str) -> Result<()> {
        // A failed message keeps the reason it failed for.
        self.conn
            .prepare_cached("UPDATE sends SET last_error = ?2 WHERE id = ?1 AND state = 'pending'")?
            .execute(params![id, error])?;
        Ok(())
    }

    pub fn count(&self, state: &str) -> Result<usize> {
        let n: i64 = self
            .conn
            .prepare_cached("SELECT count(*) FROM sends WHERE state = ?1")?
            .query_row([state], |r| r.get(0))?;
        Ok(n as usize)
    }

    /// Every message of a period, as manifest.json records them.
    pub fn fates(&self, cadence: &str, period: &str) -> Result<Vec<Fate>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {FATE_COLUMNS} FROM sends WHERE cadence = ?1 AND period = ?2 ORDER BY id"
        ))?;
        let rows = stmt.query_map([cadence, period], fate_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every message in `state`, oldest first.
    pub fn with_state(&self, state: &str) -> Result<Vec<Fate>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {FATE_COLUMNS} FROM sends WHERE state = ?1 ORDER BY id"
        ))?;
        let rows = stmt.query_map([state], fate_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The ledger row of one message, as a fate.
    pub fn fate(&self, id: i64) -> Result<Fate> {
        Ok(self
            .conn
            .prepare_cached(&format!("SELECT {FATE_COLUMNS} FROM sends WHERE id = ?1"))?
            .query_row([id], fate_row)?)
    }
}

impl Sends<'_> {
    /// Every message of the ledger, in the order it was queued.
    pub fn all(&self) -> Result<Vec<Fate>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {FATE_COLUMNS} FROM sends ORDER BY id"))?;
        let rows = stmt.query_map([], fate_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The stored bytes of the message with this Message-ID.
    pub fn message_by_id(&self, message_id: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .conn
            .prepare_cached("SELECT message FROM sends WHERE message_id = ?1")?
            .query_row([message_id], |r| r.get::<_, Option<Vec<u8>>>(0))
            .optional()?
            .flatten())
    }
}
