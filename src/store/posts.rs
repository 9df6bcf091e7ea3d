//! The webhook side of the send ledger: the `posts` table (migration 6),
//! one row per (cadence, period, target, segment, content hash) holding the
//! JSON payload, so that what `scorecard send` posts after an outage is
//! exactly what the run built. `deliver::notify` decides what to queue, post
//! and retry; this module only says how the ledger stores it.
//!
//! States: `pending` → `in_flight` (written before the request) → `sent`,
//! `failed` (a 4xx other than 429, with the reason) or back to `pending` (a
//! 429, a 5xx or an unreachable server once the attempts of a run are
//! spent). A row found `in_flight` by the next call was being posted when a
//! run died: it becomes `uncertain`, which only `send --resend-uncertain`
//! posts again.
use anyhow::Result;
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::Store;

/// What happened to one post (goes into manifest.json).
#[derive(Debug, Clone, Default, Serialize)]
pub struct PostFate {
    pub period: String,
    /// `slack` or `teams`.
    pub kind: String,
    /// The kind and the variable holding the URL: `slack:SLACK_WEBHOOK_URL`.
    pub target: String,
    pub segment: String,
    /// `pending`, `sent`, `failed` or `uncertain`; `dry-run` in a preview.
    pub state: String,
    /// Attempts over every run.
    pub attempts: u32,
    /// The webhook's last HTTP status, when it answered.
    pub http_status: Option<u16>,
    pub last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<String>,
    /// When the backoff would have tried again (informational: the next
    /// `run` or `send` tries every pending post).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
}

/// The posts of a store's ledger: `store.posts().find(…)`.
#[derive(Clone, Copy)]
pub struct Posts<'s> {
    conn: &'s super::sql::Db,
}

impl Store {
    /// The webhook posts of the send ledger (inside a [`Store::begin`] batch
    /// when one is open).
    pub fn posts(&self) -> Posts<'_> {
        Posts { conn: &self.conn }
    }
}

fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A row's key and state, as enqueue needs them.
pub struct ExistingPost {
    pub id: i64,
    pub state: String,
}

pub struct NewPost<'a> {
    pub cadence: &'a str,
    pub period: &'a str,
    pub kind: &'a str,
    pub target: &'a str,
    pub segment: &'a str,
    pub content_hash: &'a str,
    pub payload: &'a [u8],
}

/// A post due for sending (its payload is read one at a time).
#[derive(Debug, Clone)]
pub struct DuePost {
    pub id: i64,
    pub period: String,
    pub kind: String,
    pub target: String,
    pub segment: String,
    pub state: String,
    pub attempts: u32,
}

const FATE_COLUMNS: &str = "period, kind, target, segment, state, attempts, http_status, last_error, sent_at, next_attempt_at";

fn fate_row(r: &super::sql::Row) -> rusqlite::Result<PostFate> {
    Ok(PostFate {
        period: r.get(0)?,
        kind: r.get(1)?,
        target: r.get(2)?,
        segment: r.get(3)?,
        state: r.get(4)?,
        attempts: r.get(5)?,
        http_status: r.get(6)?,
        last_error: r.get(7)?,
        sent_at: r.get(8)?,
        next_attempt_at: r.get(9)?,
    })
}

impl Posts<'_> {
    /// The row of this period, target, segment and content, if any.
    pub fn find(
        &self,
        cadence: &str,
        period: &str,
        target: &str,
        segment: &str,
        content_hash: &str,
    ) -> Result<Option<ExistingPost>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT id, state FROM posts WHERE cadence = ?1 AND period = ?2 AND target = ?3
                 AND segment = ?4 AND content_hash = ?5",
            )?
            .query_row(
                params![cadence, period, target, segment, content_hash],
                |r| {
                    Ok(ExistingPost {
                        id: r.get(0)?,
                        state: r.get(1)?,
                    })
                },
            )
            .optional()?)
    }

    /// Drops the unposted versions of the same post with other figures
    /// (pending or failed): the new one replaces them.
    pub fn drop_superseded(
        &self,
        cadence: &str,
        period: &str,
        target: &str,
        segment: &str,
        content_hash: &str,
    ) -> Result<usize> {
        Ok(self
            .conn
            .prepare_cached(
                "DELETE FROM posts WHERE cadence = ?1 AND period = ?2 AND target = ?3 AND segment = ?4
                 AND content_hash <> ?5 AND state IN ('pending', 'failed')",
            )?
            .execute(params![cadence, period, target, segment, content_hash])?)
    }

    pub fn insert(&self, p: &NewPost, now: DateTime<Utc>) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO posts (cadence, period, kind, target, segment, content_hash, payload, state, attempts, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', 0, ?8)",
            )?
            .execute(params![
                p.cadence,
                p.period,
                p.kind,
                p.target,
                p.segment,
                p.content_hash,
                p.payload,
                timestamp(now)
            ])?;
        Ok(())
    }

    /// `--force`: the row becomes pending again with the payload just built.
    pub fn requeue(&self, id: i64, payload: &[u8]) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE posts SET state = 'pending', attempts = 0, http_status = NULL, last_error = NULL,
                        next_attempt_at = NULL, sent_at = NULL, payload = ?2 WHERE id = ?1",
            )?
            .execute(params![id, payload])?;
        Ok(())
    }

    /// Rows left `in_flight` by a run that died mid-request become
    /// `uncertain`: the webhook may or may not have shown them. Returns
    /// their ids.
    pub fn mark_interrupted(&self) -> Result<Vec<i64>> {
        let ids: Vec<i64> = self
            .conn
            .prepare_cached("SELECT id FROM posts WHERE state = 'in_flight' ORDER BY id")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for id in &ids {
            self.conn
                .prepare_cached(
                    "UPDATE posts SET state = 'uncertain',
                            last_error = 'a run stopped while posting this, so whether the channel got it is unknown; look in the channel, and `scorecard send --resend-uncertain` posts it again'
                     WHERE id = ?1",
                )?
                .execute([id])?;
        }
        Ok(ids)
    }

    /// The posts to send: pending ones, failed ones with `retry_failed`,
    /// uncertain ones with `resend_uncertain`.
    pub fn due(&self, retry_failed: bool, resend_uncertain: bool) -> Result<Vec<DuePost>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, period, kind, target, segment, state, attempts FROM posts
             WHERE state = 'pending' OR (?1 AND state = 'failed') OR (?2 AND state = 'uncertain')
             ORDER BY id",
        )?;
        let rows = stmt.query_map(params![retry_failed, resend_uncertain], |r| {
            Ok(DuePost {
                id: r.get(0)?,
                period: r.get(1)?,
                kind: r.get(2)?,
                target: r.get(3)?,
                segment: r.get(4)?,
                state: r.get(5)?,
                attempts: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn payload(&self, id: i64) -> Result<Vec<u8>> {
        Ok(self
            .conn
            .prepare_cached("SELECT payload FROM posts WHERE id = ?1")?
            .query_row([id], |r| r.get(0))?)
    }

    /// Written (and committed) before each request.
    pub fn mark_in_flight(&self, id: i64) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE posts SET state = 'in_flight' WHERE id = ?1")?
            .execute([id])?;
        Ok(())
    }

    pub fn mark_sent(&self, id: i64, attempts: u32, status: u16, now: DateTime<Utc>) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE posts SET state = 'sent', attempts = ?2, http_status = ?3, sent_at = ?4,
                        last_error = NULL, next_attempt_at = NULL WHERE id = ?1",
            )?
            .execute(params![id, attempts, status, timestamp(now)])?;
        Ok(())
    }

    pub fn mark_failed(
        &self,
        id: i64,
        attempts: u32,
        status: Option<u16>,
        error: &str,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE posts SET state = 'failed', attempts = ?2, http_status = COALESCE(?3, http_status),
                        last_error = ?4, next_attempt_at = NULL WHERE id = ?1",
            )?
            .execute(params![id, attempts, status, error])?;
        Ok(())
    }

    /// Left pending after a run's attempts: the next `run` or `send` tries again.
    pub fn mark_pending(
        &self,
        id: i64,
        attempts: u32,
        status: Option<u16>,
        error: &str,
        next_attempt_at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE posts SET state = 'pending', attempts = ?2, http_status = COALESCE(?3, http_status),
                        last_error = ?4, next_attempt_at = ?5 WHERE id = ?1",
            )?
            .execute(params![id, attempts, status, error, next_attempt_at.map(timestamp)])?;
        Ok(())
    }

    /// Why a due post was not tried (a missing URL variable); its state and
    /// attempts stay as they were.
    pub fn note_error(&self, id: i64, error: &str) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE posts SET last_error = ?2 WHERE id = ?1")?
            .execute(params![id, error])?;
        Ok(())
    }

    pub fn count(&self, state: &str) -> Result<usize> {
        let n: i64 = self
            .conn
            .prepare_cached("SELECT count(*) FROM posts WHERE state = ?1")?
            .query_row([state], |r| r.get(0))?;
        Ok(n as usize)
    }

    /// Every post of a period, as manifest.json records them.
    pub fn fates(&self, cadence: &str, period: &str) -> Result<Vec<PostFate>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {FATE_COLUMNS} FROM posts WHERE cadence = ?1 AND period = ?2 ORDER BY id"
        ))?;
        let rows = stmt.query_map([cadence, period], fate_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// One row, as a fate.
    pub fn fate(&self, id: i64) -> Result<PostFate> {
        Ok(self
            .conn
            .prepare_cached(&format!("SELECT {FATE_COLUMNS} FROM posts WHERE id = ?1"))?
            .query_row([id], fate_row)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row<'a>(hash: &'a str, payload: &'a [u8]) -> NewPost<'a> {
        NewPost {
            cadence: "weekly",
            period: "2026-W47",
            kind: "slack",
            target: "slack:SLACK_URL",
            segment: "",
            content_hash: hash,
            payload,
        }
    }

    #[test]
    fn a_post_goes_through_its_states() {
        let s = Store::in_memory().unwrap();
        let now: DateTime<Utc> = "2026-11-23T07:00:00Z".parse().unwrap();
        let posts = s.posts();
        posts.insert(&row("h1", b"{}"), now).unwrap();
        let existing = posts
            .find("weekly", "2026-W47", "slack:SLACK_URL", "", "h1")
            .unwrap()
            .unwrap();
        assert_eq!(existing.state, "pending");
        // The same key twice is refused by the store itself.
        assert!(posts.insert(&row("h1", b"{}"), now).is_err());
        assert_eq!(posts.due(false, false).unwrap().len(), 1);
        posts.mark_in_flight(existing.id).unwrap();
        assert!(posts.due(false, false).unwrap().is_empty());
        // A run that died mid-request leaves it uncertain: only
        // --resend-uncertain posts it again.
        assert_eq!(posts.mark_interrupted().unwrap(), vec![existing.id]);
        assert!(posts.due(true, false).unwrap().is_empty());
        assert_eq!(posts.due(false, true).unwrap().len(), 1);
        posts.mark_sent(existing.id, 2, 200, now).unwrap();
        let fate = posts.fate(existing.id).unwrap();
        assert_eq!(
            (fate.state.as_str(), fate.attempts, fate.http_status),
            ("sent", 2, Some(200))
        );
        // Newer figures: a new row; the sent one is kept, never dropped.
        assert_eq!(
            posts
                .drop_superseded("weekly", "2026-W47", "slack:SLACK_URL", "", "h2")
                .unwrap(),
            0
        );
        posts.insert(&row("h2", b"{\"v\":2}"), now).unwrap();
        let id2 = posts
            .find("weekly", "2026-W47", "slack:SLACK_URL", "", "h2")
            .unwrap()
            .unwrap()
            .id;
        posts
            .mark_failed(id2, 1, Some(400), "invalid_payload")
            .unwrap();
        assert_eq!(
            posts
                .drop_superseded("weekly", "2026-W47", "slack:SLACK_URL", "", "h3")
                .unwrap(),
            1
        );
        assert_eq!(posts.fates("weekly", "2026-W47").unwrap().len(), 1);
    }
}
