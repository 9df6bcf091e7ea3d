//! The run history (`runs`) and the snapshot ledger (`snapshots`) as the
//! orchestration and the reports read them: which period was archived last,
//! what each import brought. Kept apart from the importer, which writes the
//! ledger inside its own transaction (see [`super::import`]).
use anyhow::Result;
use rusqlite::{params, OptionalExtension};

use super::Store;
use crate::period::{Cadence, Period};

/// One import of one snapshot file, as manifest.json lists it.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub file: String,
    pub path: String,
    pub sha256: String,
    pub rows: i64,
    pub imported_at: String,
}

/// The latest import of one snapshot file, for the data-quality section.
#[derive(Debug, Clone)]
pub struct LatestImport {
    /// The file's kind key (`orders`).
    pub file: String,
    pub imported_at: String,
    pub rows: u64,
    pub rejected: u64,
}

impl Store {
    /// The period id of the last archived run of this cadence, if any.
    pub fn last_archived(&self, cadence: Cadence) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT period FROM runs WHERE cadence = ?1 AND archived = 1 ORDER BY id DESC LIMIT 1",
            )?
            .query_row([cadence.as_str()], |r| r.get(0))
            .optional()?)
    }

    /// Every period of this cadence with an archived run, in period order.
    pub fn archived_periods(&self, cadence: Cadence) -> Result<Vec<Period>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT period FROM runs WHERE cadence = ?1 AND archived = 1",
        )?;
        let ids = stmt.query_map([cadence.as_str()], |r| r.get::<_, String>(0))?;
        let mut out: Vec<Period> = Vec::new();
        for id in ids {
            if let Ok(p) = Period::parse(&id?) {
                if p.cadence == cadence {
                    out.push(p);
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Records that `p` was archived at `finished_at`.
    pub fn record_run(&self, p: Period, finished_at: &str) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO runs (cadence, period, finished_at, archived) VALUES (?1, ?2, ?3, 1)",
            )?
            .execute(params![p.cadence.as_str(), p.id(), finished_at])?;
        Ok(())
    }

    /// Every import in the ledger, oldest first.
    pub fn snapshots(&self) -> Result<Vec<Snapshot>> {
        if let Some(w) = self.warehouse() {
            // What the figures came from: each table as read this run.
            return Ok(w
                .tables
                .iter()
                .map(|t| Snapshot {
                    file: t.kind.key().to_string(),
                    path: t.relation.clone(),
                    sha256: t.fingerprint.clone(),
                    rows: t.rows as i64,
                    imported_at: w.read_at.clone(),
                })
                .collect());
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT file, path, sha256, rows_read, imported_at FROM snapshots ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Snapshot {
                file: r.get(0)?,
                path: r.get(1)?,
                sha256: r.get(2)?,
                rows: r.get(3)?,
                imported_at: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// When the latest import of a file was, if it had exactly this content
    /// (by SHA-256): importing A, B, then A again reads A again.
    pub fn imported_before(&self, file: &str, sha256: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT imported_at FROM snapshots WHERE id = (SELECT max(id) FROM snapshots WHERE file = ?1) AND sha256 = ?2",
            )?
            .query_row([file, sha256], |r| r.get(0))
            .optional()?)
    }

    /// The latest import of each file, by file key.
    pub fn latest_imports(&self) -> Result<Vec<LatestImport>> {
        if let Some(w) = self.warehouse() {
            return Ok(w
                .tables
                .iter()
                .map(|t| {
                    (
                        t.kind.key(),
                        LatestImport {
                            file: t.kind.key().to_string(),
                            imported_at: w.read_at.clone(),
                            rows: t.rows,
                            rejected: 0,
                        },
                    )
                })
                .collect::<std::collections::BTreeMap<_, _>>()
                .into_values()
                .collect());
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT file, max(imported_at), sum(rows_read), sum(rejected) FROM snapshots
             WHERE id IN (SELECT max(id) FROM snapshots GROUP BY file) GROUP BY file ORDER BY file",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(LatestImport {
                file: r.get(0)?,
                imported_at: r.get(1)?,
                rows: r.get::<_, i64>(2)? as u64,
                rejected: r.get::<_, i64>(3)? as u64,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
