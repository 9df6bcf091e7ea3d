//! The embedded SQLite store: one domain struct owning the connection (WAL,
//! foreign keys, migrations) and answering in domain terms (`last_archived`,
//! `record_run`, `invalidate`, the send ledger…), so that no stage outside
//! `store/` writes SQL. The one exception is the KPI engine's readers, which
//! group source rows in SQL for speed: they get a [`Reader`], which prepares
//! read-only statements only. A second backend (PostgreSQL) implements these
//! methods; nothing else has to change.
pub mod cache;
pub mod dialect;
pub mod import;
pub mod migrations;
pub mod migrations_pg;
pub mod pg;
pub mod posts;
pub mod runs;
pub mod sends;
pub mod sql;
pub mod tables;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rusqlite::{Connection, OptionalExtension};

use crate::error::Failure;

pub struct Store {
    conn: Connection,
    pub path: PathBuf,
}

/// The engine readers' view of the store: read-only statements on its
/// connection (a statement that would write is refused).
#[derive(Clone, Copy)]
pub struct Reader<'s> {
    conn: &'s Connection,
}

impl<'s> Reader<'s> {
    /// Prepares (through the statement cache) a statement that only reads.
    pub fn prepare(&self, sql: &str) -> Result<rusqlite::CachedStatement<'s>> {
        let stmt = self.conn.prepare_cached(sql)?;
        if !stmt.readonly() {
            anyhow::bail!("a reader may only read the store: {sql}");
        }
        Ok(stmt)
    }

    /// One row of a read-only statement.
    pub fn query_row<T, P: rusqlite::Params>(
        &self,
        sql: &str,
        params: P,
        f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<T> {
        Ok(self.prepare(sql)?.query_row(params, f)?)
    }
}

/// Statements grouped into one transaction ([`Store::begin`]): committed by
/// [`Batch::commit`], rolled back when dropped.
pub struct Batch<'s> {
    tx: rusqlite::Transaction<'s>,
}

impl Batch<'_> {
    pub fn commit(self) -> Result<()> {
        Ok(self.tx.commit()?)
    }
}

impl Store {
    /// Opens (creating if needed) the store file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the store folder {}", dir.display()))?;
        }
        // Customer data: a new store is readable by its owner only (SQLite
        // gives its -wal and -shm files the same mode).
        if !path.exists() {
            crate::files::create(path, crate::files::PRIVATE)
                .with_context(|| format!("cannot create the store {}", path.display()))?;
        }
        let conn = Connection::open(path)
            .with_context(|| format!("cannot open the store {}", path.display()))?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
        };
        store.configure()?;
        store
            .migrate()
            .with_context(|| format!("cannot migrate the store {}", path.display()))?;
        Ok(store)
    }

    /// An in-memory store, for unit tests.
    pub fn in_memory() -> Result<Store> {
        let conn = Connection::open_in_memory()?;
        let mut store = Store {
            conn,
            path: PathBuf::from(":memory:"),
        };
        store.configure()?;
        store.migrate()?;
        Ok(store)
    }

    /// Opens an existing store read-only-ish: a missing file is a usage error
    /// ("import something first"), not an empty store.
    pub fn open_existing(path: &Path) -> Result<Store> {
        if !path.exists() {
            return Err(Failure::usage(format!(
                "no store at {}: import a snapshot first (`scorecard import DIR`)",
                path.display()
            ))
            .into());
        }
        Store::open(path)
    }

    fn configure(&mut self) -> Result<()> {
        self.conn.busy_timeout(std::time::Duration::from_secs(30))?;
        // WAL keeps readers and a writer apart; NORMAL sync is durable at
        // every checkpoint and safe against corruption.
        self.conn.pragma_update(None, "journal_mode", "WAL")?;
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        self.conn.pragma_update(None, "foreign_keys", true)?;
        self.conn.pragma_update(None, "temp_store", "MEMORY")?;
        self.conn.pragma_update(None, "cache_size", -65536)?;
        Ok(())
    }

    /// The SQL dialect of this store (see [`dialect`]).
    pub fn dialect(&self) -> &'static dyn dialect::Dialect {
        &dialect::Sqlite
    }

    pub fn schema_version(&self) -> Result<usize> {
        let v: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?;
        Ok(v as usize)
    }

    /// Applies every migration past `user_version`, in one exclusive transaction.
    fn migrate(&mut self) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive)?;
        let current: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let current = current as usize;
        if current > migrations::migrations().len() {
            return Err(Failure::runtime(format!(
                "the store has schema version {current}, newer than this program knows ({}): upgrade scorecard",
                migrations::migrations().len()
            ))
            .into());
        }
        for (i, sql) in migrations::migrations().iter().enumerate().skip(current) {
            tx.execute_batch(sql)
                .with_context(|| format!("migration {} failed", i + 1))?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The engine's readers' read-only access (see [`Reader`]).
    pub fn reader(&self) -> Reader<'_> {
        Reader { conn: &self.conn }
    }

    /// Opens a transaction: the store's methods called until the batch is
    /// committed run inside it (all or nothing).
    pub fn begin(&self) -> Result<Batch<'_>> {
        Ok(Batch {
            tx: self.conn.unchecked_transaction()?,
        })
    }

    /// Creates (or empties) the connection-local scratch table `name` with
    /// one text key column, holding `keys`; readers join it by
    /// `dialect().scratch(name)`.
    pub fn scratch_keys<'k>(
        &self,
        name: &str,
        column: &str,
        keys: impl IntoIterator<Item = &'k str>,
    ) -> Result<()> {
        let d = self.dialect();
        self.conn.execute_batch(&d.create_scratch(name, column))?;
        let mut ins = self
            .conn
            .prepare_cached(&d.insert_ignore(&d.scratch(name), &[column]))?;
        for k in keys {
            ins.execute([k])?;
        }
        Ok(())
    }

    /// The columns seen in a file's header over every import.
    pub fn file_columns(&self, file: &str) -> Result<std::collections::BTreeSet<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name FROM file_columns WHERE file = ?1")?;
        let names = stmt.query_map([file], |r| r.get::<_, String>(0))?;
        Ok(names.collect::<rusqlite::Result<_>>()?)
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?)
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.conn
            .prepare_cached("INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value")?
            .execute([key, value])?;
        Ok(())
    }

    /// The snapshot files ever imported (by kind key), for "no data" vs 0. A
    /// failed import leaves no ledger row, so every row here is a real import.
    pub fn imported_files(&self) -> Result<std::collections::BTreeSet<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT DISTINCT file FROM snapshots")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrating_twice_is_harmless() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let s = Store::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), migrations::migrations().len());
        drop(s);
        let mut s = Store::open(&path).unwrap();
        s.migrate().unwrap();
        assert_eq!(s.schema_version().unwrap(), migrations::migrations().len());
        let tables: i64 = s
            .conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(tables >= 14);
    }

    #[test]
    fn a_reader_reads_and_never_writes() {
        let s = Store::in_memory().unwrap();
        let n: i64 = s
            .reader()
            .query_row("SELECT count(*) FROM orders", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
        let err = s.reader().prepare("DELETE FROM orders").err().unwrap();
        assert!(err.to_string().contains("may only read"), "{err}");
    }

    #[test]
    fn the_last_archived_run_is_the_latest_recorded() {
        use crate::period::{Cadence, Period};
        let s = Store::in_memory().unwrap();
        assert_eq!(s.last_archived(Cadence::Weekly).unwrap(), None);
        for id in ["2026-W46", "2026-W47"] {
            s.record_run(Period::parse(id).unwrap(), "2026-11-23T07:00:00Z")
                .unwrap();
        }
        assert_eq!(
            s.last_archived(Cadence::Weekly).unwrap().as_deref(),
            Some("2026-W47")
        );
        assert_eq!(s.last_archived(Cadence::Monthly).unwrap(), None);
    }

    #[test]
    fn a_batch_dropped_without_commit_leaves_the_ledger_as_it_was() {
        let s = Store::in_memory().unwrap();
        let row = sends::NewSend {
            cadence: "weekly",
            period: "2026-W47",
            recipient: "a@example.com",
            segment: "",
            content_hash: "h",
            message_id: "<m@example.com>",
            envelope_from: "s@example.com",
            message: b"bytes",
        };
        let now = "2026-11-23T07:00:00Z".parse().unwrap();
        {
            let _batch = s.begin().unwrap();
            s.sends().insert(&row, now).unwrap();
        }
        assert!(s.sends().all().unwrap().is_empty());
        let batch = s.begin().unwrap();
        s.sends().insert(&row, now).unwrap();
        batch.commit().unwrap();
        assert_eq!(
            s.sends()
                .message_by_id("<m@example.com>")
                .unwrap()
                .as_deref(),
            Some(&b"bytes"[..])
        );
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        drop(Store::open(&path).unwrap());
        let c = Connection::open(&path).unwrap();
        c.pragma_update(None, "user_version", 99).unwrap();
        drop(c);
        let err = Store::open(&path).err().unwrap();
        assert!(format!("{err:#}").contains("newer than this program knows"));
    }
}
