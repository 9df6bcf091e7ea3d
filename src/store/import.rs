//! The import transaction: everything `scorecard import` writes (the snapshot
//! ledger, the rows, the columns seen, the KPI cache rows that go stale)
//! happens inside one [`ImportTx`], committed only when the whole snapshot
//! is valid. The importer decides what is valid and which days changed; this
//! module says how the store records it.
use std::collections::BTreeSet;

use anyhow::Result;
use rusqlite::types::Value;

use super::dialect::Dialect;
use super::pg_import::{PgStage, Staged};
use super::sql::Tx;
use super::tables::{self, KeyLookup, Row, TableWriter, Upsert};
use super::Store;
use crate::sources::{FileKind, Table};

/// The scratch table of customers that are new or changed segment.
const TOUCHED: &str = "touched_customers";

/// What one file's import did, for its ledger row.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub rows_read: u64,
    pub inserted: u64,
    pub replaced: u64,
    pub unchanged: u64,
    pub rejected: u64,
}

/// An open import: dropped without [`ImportTx::commit`], it rolls back and
/// leaves the store exactly as it was.
pub struct ImportTx<'s> {
    tx: Tx<'s>,
    /// Dropped after `tx` (fields drop in order): the store's journal back
    /// to WAL once the transaction has ended.
    journal: FirstImportJournal<'s>,
    dialect: &'static dyn Dialect,
    cache_in_use: bool,
    /// The customer keys of the SQLite store's record tables (migration 15).
    customer_keys: std::cell::RefCell<tables::CustomerKeys>,
}

impl Store {
    /// Starts an import (a write transaction taken at once, so that a
    /// concurrent import waits instead of failing half-way).
    pub fn begin_import(&mut self) -> Result<ImportTx<'_>> {
        let dialect = self.own_dialect();
        if let Some(conn) = self.conn.sqlite() {
            // Temporary files on disk, not in memory, while importing: the
            // sort that builds a bulk-loaded table's indexes spills to them,
            // so memory stays flat however large the file (set outside the
            // transaction, as SQLite requires; see ImportTx::commit).
            conn.pragma_update(None, "temp_store", "FILE")?;
        }
        let journal = match self.conn.sqlite() {
            Some(conn) => FirstImportJournal::take(conn)?,
            None => FirstImportJournal(None),
        };
        let tx = self.conn.begin(true)?;
        // With an empty KPI cache there is nothing to invalidate: skip the bookkeeping.
        let cache_in_use: bool =
            tx.query_row("SELECT EXISTS (SELECT 1 FROM computed_periods)", [], |r| {
                r.get(0)
            })?;
        if cache_in_use {
            tx.execute_batch(&dialect.create_scratch(TOUCHED, "customer_id"))?;
        }
        Ok(ImportTx {
            tx,
            journal,
            dialect,
            cache_in_use,
            customer_keys: Default::default(),
        })
    }

    /// Records the report time zone. When it replaces another one
    /// (`rederive`), the local days of instants (the tickets' opening) are
    /// derived again by `day_of`
    /// (milliseconds since the epoch → day number) and the KPI cache is emptied.
    pub fn set_timezone(
        &mut self,
        name: &str,
        rederive: bool,
        day_of: impl Fn(i64) -> i64,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        // PostgreSQL derives the days itself, in one statement per column,
        // when it knows the zone (its own time-zone database).
        let set_based = rederive
            && tx.is_postgres()
            && tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = ?1)",
                [name],
                |r| r.get::<_, bool>(0),
            )?;
        if rederive {
            for table in FileKind::ALL.map(FileKind::table) {
                let id = &table.columns[0].name;
                for (at, day) in table.local_days() {
                    if set_based {
                        tx.execute(&rederive_sql(table.name, at, day), [name])?;
                        continue;
                    }
                    let mut days = Vec::new();
                    {
                        let mut stmt =
                            tx.prepare(&format!("SELECT {id}, {at} FROM {}", table.name))?;
                        let mut rows = stmt.query([])?;
                        while let Some(r) = rows.next()? {
                            let key: String = r.get(0)?;
                            days.push((key, day_of(r.get(1)?)));
                        }
                    }
                    // The stored table (SQLite's compact layout writes its base).
                    let stored = if tx.is_postgres() {
                        table.name.to_string()
                    } else {
                        tables::base_table(table.name)
                    };
                    let mut update =
                        tx.prepare(&format!("UPDATE {stored} SET {day} = ?2 WHERE {id} = ?1"))?;
                    for (key, d) in days {
                        update.execute(rusqlite::params![key, d])?;
                    }
                }
            }
            tx.execute_batch("DELETE FROM kpi_cache; DELETE FROM computed_periods;")?;
        }
        tx.execute(
            "INSERT INTO meta(key, value) VALUES ('timezone', ?1) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [name],
        )?;
        tx.commit()?;
        Ok(())
    }
}

/// The one statement that derives the local days `day` of the instants
/// `at` (milliseconds since the epoch) of `table` again, in the zone `?1`,
/// on PostgreSQL (days since 0001-01-01, as `period::day_number`); rows
/// whose day does not change are not written.
fn rederive_sql(table: &str, at: &str, day: &str) -> String {
    let local = format!(
        "(((TIMESTAMPTZ 'epoch' + {at} * INTERVAL '1 millisecond') AT TIME ZONE ?1)::date - DATE '0001-01-01')"
    );
    format!("UPDATE {table} SET {day} = {local} WHERE {day} IS DISTINCT FROM {local}")
}

/// The rows of one file on their way into the store (one per file: its
/// size does not matter).
#[allow(clippy::large_enum_variant)]
pub enum Writer<'t> {
    Sqlite(TableWriter<'t>),
    Postgres(PgStage<'t>),
}

impl Writer<'_> {
    /// Writes (SQLite) or stages (PostgreSQL: [`Upsert::Staged`]) one row.
    pub fn upsert(
        &mut self,
        row: &Row,
        snapshot_id: i64,
        line: u64,
        raw: impl FnOnce() -> String,
    ) -> Result<Upsert> {
        match self {
            Writer::Sqlite(w) => Ok(w.upsert(row, snapshot_id)?),
            Writer::Postgres(s) => {
                s.push(row, line, raw)?;
                Ok(Upsert::Staged)
            }
        }
    }

    /// The import's customer keys, for the reading thread of this file
    /// (SQLite's record files; None otherwise): see [`tables::CustomerKeys`].
    pub fn lend_keys(&self) -> Result<Option<KeyLookup>> {
        match self {
            Writer::Sqlite(w) => Ok(w.lend_keys()?),
            Writer::Postgres(_) => Ok(None),
        }
    }

    /// The keys back from the reading thread.
    pub fn give_back_keys(&self, lookup: KeyLookup) {
        if let Writer::Sqlite(w) = self {
            w.give_back_keys(lookup);
        }
    }

    /// Stores the customer keys the reading thread numbered, before the
    /// rows holding them.
    pub fn add_keys(&self, new: &[(i64, String)]) -> Result<()> {
        if let Writer::Sqlite(w) = self {
            w.add_keys(new)?;
        }
        Ok(())
    }

    /// The staged rows' upsert (PostgreSQL; None on SQLite, where every row
    /// was written by [`Writer::upsert`]). `touch_customers`: record the new
    /// and changed rows' ids as touched customers.
    pub fn finish(
        self,
        snapshot_id: i64,
        cache_in_use: bool,
        touch_customers: bool,
    ) -> Result<Option<Staged>> {
        match self {
            Writer::Sqlite(w) => {
                w.finish()?;
                Ok(None)
            }
            Writer::Postgres(s) => Ok(Some(s.finish(
                snapshot_id,
                cache_in_use,
                (cache_in_use && touch_customers).then_some(TOUCHED),
            )?)),
        }
    }
}

impl ImportTx<'_> {
    /// Whether the store keeps a file's dates as text beside their day
    /// numbers (not in SQLite's compact tables, migration 12).
    pub fn keeps_date_text(&self, kind: FileKind) -> bool {
        self.tx.sqlite().is_none() || !tables::COMPACT.contains(&kind)
    }

    /// Whether any period is cached (and so may have to be invalidated).
    pub fn cache_in_use(&self) -> bool {
        self.cache_in_use
    }

    /// Opens the ledger row of one file's import; returns its id.
    pub fn add_snapshot(&self, file: &str, path: &str, sha256: &str, at: &str) -> Result<i64> {
        Ok(self.tx.query_row(
            "INSERT INTO snapshots (file, path, sha256, rows_read, inserted, replaced, unchanged, rejected, imported_at)
             VALUES (?1, ?2, ?3, 0, 0, 0, 0, 0, ?4) RETURNING id",
            rusqlite::params![file, path, sha256, at],
            |r| r.get(0),
        )?)
    }

    /// Closes the ledger row of one file's import with its counts.
    pub fn finish_snapshot(&self, id: i64, c: Counts) -> Result<()> {
        self.tx.execute(
            "UPDATE snapshots SET rows_read = ?2, inserted = ?3, replaced = ?4, unchanged = ?5, rejected = ?6 WHERE id = ?1",
            rusqlite::params![id, c.rows_read as i64, c.inserted as i64, c.replaced as i64, c.unchanged as i64, c.rejected as i64],
        )?;
        Ok(())
    }

    /// Remembers the columns of a file's header (which attributes it carries).
    pub fn note_columns<'n>(&self, file: &str, names: impl Iterator<Item = &'n str>) -> Result<()> {
        let mut cols = self.tx.prepare_cached(
            &self
                .dialect
                .insert_ignore("file_columns", &["file", "name"]),
        )?;
        for c in names {
            cols.execute([file, c])?;
        }
        Ok(())
    }

    /// The upsert of one table's rows: row by row on SQLite, staged and
    /// upserted at [`Writer::finish`] on PostgreSQL (`keep_raw`: the staged
    /// rows keep their raw record, for the rejects file).
    pub fn writer(&self, def: &Table, keep_raw: bool) -> Result<Writer<'_>> {
        Ok(match self.tx.sqlite() {
            Some(conn) => Writer::Sqlite(tables::writer(def, conn, &self.customer_keys)?),
            None => Writer::Postgres(PgStage::new(&self.tx, def.clone(), keep_raw)?),
        })
    }

    /// A customer that is new or changed segment: its records' days are stale.
    pub fn touch_customer(&self, customer_id: &Value) -> Result<()> {
        let d = self.dialect;
        self.tx
            .prepare_cached(&d.insert_ignore(&d.scratch(TOUCHED), &["customer_id"]))?
            .execute([customer_id])?;
        Ok(())
    }

    /// Drops from the KPI cache every period containing one of `days`, or
    /// a record of a touched customer, and with `customers_from` every
    /// period ending after that day (the customer base changed).
    pub fn invalidate(&self, days: &BTreeSet<i64>, customers_from: Option<i64>) -> Result<()> {
        if !self.cache_in_use {
            return Ok(());
        }
        let tx = &self.tx;
        let mut days = days.clone();
        // Records of customers that are new or changed segment move between
        // segments: their days are stale too, one query per table.
        // PostgreSQL walks the few touched customers through each table's
        // customer_id index. SQLite keeps no customer index (migration 15):
        // only a touched customer some record names has a key, and with one
        // at least, each table is read once for the days of those keys.
        let touched = self.dialect.scratch(TOUCHED);
        let any_sql = if tx.is_postgres() {
            format!("SELECT EXISTS (SELECT 1 FROM {touched})")
        } else {
            format!("SELECT EXISTS (SELECT 1 FROM {touched} c JOIN customer_keys k ON k.customer_id = c.customer_id)")
        };
        let any: bool = tx.query_row(&any_sql, [], |r| r.get(0))?;
        for (table, day) in crate::sources::customer_linked_days()
            .iter()
            .filter(|_| any)
        {
            let sql = if tx.is_postgres() {
                format!(
                    "SELECT DISTINCT t.{day} FROM {touched} c JOIN {table} t ON t.customer_id = c.customer_id WHERE t.{day} IS NOT NULL"
                )
            } else {
                format!(
                    // NOT INDEXED: for the DISTINCT, SQLite would walk
                    // the day index and seek every row (7 s at 6 M rows).
                    "SELECT DISTINCT t.{day} FROM {base} t NOT INDEXED WHERE t.customer_key IN (SELECT k.customer_key FROM {touched} c JOIN customer_keys k ON k.customer_id = c.customer_id) AND t.{day} IS NOT NULL",
                    base = tables::base_table(table)
                )
            };
            let mut stmt = tx.prepare(&sql)?;
            let linked = stmt.query_map([], |r| r.get::<_, i64>(0))?;
            for d in linked {
                days.insert(d?);
            }
        }
        for table in ["kpi_cache", "computed_periods"] {
            let mut by_day = tx.prepare(&format!(
                "DELETE FROM {table} WHERE start_day <= ?1 AND end_day > ?1"
            ))?;
            for d in &days {
                by_day.execute([d])?;
            }
            if let Some(from) = customers_from {
                tx.execute(&format!("DELETE FROM {table} WHERE end_day > ?1"), [from])?;
            }
        }
        Ok(())
    }

    /// The latest value of each of `columns` (static names from the source
    /// descriptions) in `table`, as the import so far leaves it.
    pub fn latest_values(&self, table: &str, columns: &[&str]) -> Result<Vec<Option<i64>>> {
        if columns.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = columns.iter().map(|c| format!("max({c})")).collect();
        let sql = format!("SELECT {} FROM {table}", list.join(", "));
        Ok(self.tx.query_row(&sql, [], |r| {
            (0..columns.len())
                .map(|i| r.get::<_, Option<i64>>(i))
                .collect::<rusqlite::Result<Vec<_>>>()
        })?)
    }

    /// Sets a `meta` key inside the import (the data's as-of of a file).
    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.tx
            .prepare_cached("INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value")?
            .execute([key, value])?;
        Ok(())
    }

    /// Records the report time zone when the store has none yet (its first
    /// import), in the import's transaction: the days just derived are in
    /// that zone, and a store killed after the commit has it already. A
    /// zone already recorded is left to `Store::set_timezone`, after the
    /// import (it derives the stored days again when the zone changed).
    pub fn record_first_timezone(&self, name: &str) -> Result<()> {
        self.tx.execute(
            "INSERT INTO meta(key, value) VALUES ('timezone', ?1) ON CONFLICT(key) DO NOTHING",
            [name],
        )?;
        Ok(())
    }

    /// On a PostgreSQL store, rebuilds the per-customer segment table for
    /// `attrs` (the configured segments, lowercase) inside the import
    /// ([`super::pg_segments`]); nothing on SQLite.
    pub fn refresh_customer_segments(&self, attrs: &[String]) -> Result<()> {
        super::pg_segments::rebuild(&self.tx, attrs)
    }

    pub fn commit(self) -> Result<()> {
        let ImportTx { tx, journal, .. } = self;
        let db = tx.db();
        tx.commit()?;
        drop(journal);
        if let Some(conn) = db.sqlite() {
            conn.pragma_update(None, "temp_store", "MEMORY")?;
        }
        Ok(())
    }
}

/// The first import into a SQLite store (no snapshot imported yet) runs
/// with a rollback journal instead of the write-ahead log. In WAL mode every
/// page is written twice, to the log and then by the checkpoint into the
/// store, and a first import writes the whole store: at 60 M rows that was
/// 11.6 GB written for a 4.4 GB store, a third of the import's time in the
/// kernel. A rollback journal keeps only the earlier content of pages that
/// existed when the import began (a store with no rows: a few pages), so
/// each new page is written once, into the store; a killed import is rolled
/// back from the journal when the store is next opened, as a killed WAL
/// import is. `synchronous = FULL` meanwhile, the setting at which a rollback
/// journal is safe against power loss (NORMAL is safe only with WAL).
///
/// Leaving WAL needs the store to itself: when another connection has it
/// open (a `show` reading it), the journal stays WAL and the import goes on
/// as any other. Nothing is read from a store that has imported nothing, so
/// readers lose nothing while the import holds the rollback journal's lock.
struct FirstImportJournal<'c>(Option<&'c rusqlite::Connection>);

impl<'c> FirstImportJournal<'c> {
    fn take(conn: &'c rusqlite::Connection) -> Result<FirstImportJournal<'c>> {
        let first: bool =
            conn.query_row("SELECT NOT EXISTS (SELECT 1 FROM snapshots)", [], |r| {
                r.get(0)
            })?;
        if !first {
            return Ok(FirstImportJournal(None));
        }
        // The mode in effect afterwards: still `wal` when the store is not
        // ours alone (or an error saying it is busy).
        let mode = conn.query_row("PRAGMA journal_mode = DELETE", [], |r| {
            r.get::<_, String>(0)
        });
        if !matches!(mode.as_deref(), Ok("delete")) {
            return Ok(FirstImportJournal(None));
        }
        let journal = FirstImportJournal(Some(conn));
        conn.pragma_update(None, "synchronous", "FULL")?;
        Ok(journal)
    }
}

impl Drop for FirstImportJournal<'_> {
    /// Back to the store's usual WAL and NORMAL (configured at every open):
    /// if another connection opened the store meanwhile and WAL cannot be
    /// taken back now, the next open takes it.
    fn drop(&mut self) {
        if let Some(conn) = self.0 {
            let _ = conn.pragma_update(None, "journal_mode", "WAL");
            let _ = conn.pragma_update(None, "synchronous", "NORMAL");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pragma(conn: &rusqlite::Connection, name: &str) -> String {
        conn.query_row(&format!("PRAGMA {name}"), [], |r| {
            r.get::<_, rusqlite::types::Value>(0)
        })
        .map(|v| match v {
            Value::Text(t) => t,
            Value::Integer(i) => i.to_string(),
            other => format!("{other:?}"),
        })
        .unwrap()
    }

    fn during(tx: &ImportTx) -> (String, String) {
        let conn = tx.tx.db().sqlite().unwrap();
        (pragma(conn, "journal_mode"), pragma(conn, "synchronous"))
    }

    fn after(store: &Store) -> (String, String) {
        let conn = store.conn.sqlite().unwrap();
        (pragma(conn, "journal_mode"), pragma(conn, "synchronous"))
    }

    fn rollback_full() -> (String, String) {
        ("delete".into(), "2".into())
    }

    fn wal_normal() -> (String, String) {
        ("wal".into(), "1".into())
    }

    /// A store's first import writes through a rollback journal at
    /// `synchronous = FULL`, and the store is back in WAL at NORMAL after
    /// it, committed or not; while another connection has the store open,
    /// and once a snapshot is imported, an import stays in WAL.
    #[test]
    fn only_the_first_import_of_a_store_alone_leaves_the_write_ahead_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let mut store = Store::open(&path).unwrap();
        assert_eq!(after(&store), wal_normal());
        {
            let tx = store.begin_import().unwrap();
            assert_eq!(during(&tx), rollback_full());
            // Dropped: rolled back.
        }
        assert_eq!(after(&store), wal_normal());
        {
            let reader = rusqlite::Connection::open(&path).unwrap();
            let n: i64 = reader
                .query_row("SELECT count(*) FROM snapshots", [], |r| r.get(0))
                .unwrap();
            assert_eq!(n, 0);
            let tx = store.begin_import().unwrap();
            assert_eq!(during(&tx), wal_normal(), "another connection is open");
        }
        {
            let tx = store.begin_import().unwrap();
            assert_eq!(during(&tx), rollback_full());
            let id = tx
                .add_snapshot("orders", "orders.csv", "00", "2026-12-01T00:00:00Z")
                .unwrap();
            tx.finish_snapshot(id, Counts::default()).unwrap();
            tx.commit().unwrap();
        }
        assert_eq!(after(&store), wal_normal());
        assert!(
            !dir.path().join("store.db-journal").exists(),
            "no journal is left"
        );
        let tx = store.begin_import().unwrap();
        assert_eq!(during(&tx), wal_normal(), "a snapshot is imported");
        drop(tx);
        drop(store);
        let reopened = rusqlite::Connection::open(&path).unwrap();
        assert_eq!(pragma(&reopened, "journal_mode"), "wal");
    }

    /// While its first import is written, the store cannot be switched back
    /// to WAL by another process opening it: after its busy timeout (none
    /// here; 30 s for a `Store`), one sentence says why; after the import,
    /// the store opens as usual.
    #[test]
    fn a_store_held_by_its_first_import_is_busy_for_another_process() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let mut store = Store::open(&path).unwrap();
        let tx = store.begin_import().unwrap();
        tx.add_snapshot("orders", "orders.csv", "00", "2026-12-01T00:00:00Z")
            .unwrap();
        let other = rusqlite::Connection::open(&path).unwrap();
        let err = super::super::write_ahead_log(&other, &path).unwrap_err();
        assert!(
            err.to_string()
                .contains("is busy: another scorecard is writing its first import"),
            "{err}"
        );
        let failure = err.downcast_ref::<crate::error::Failure>().unwrap();
        assert_eq!(failure.code, crate::error::code::FAILURE);
        drop(tx);
        super::super::write_ahead_log(&other, &path).unwrap();
        assert_eq!(pragma(&other, "journal_mode"), "wal");
        drop(other);
        drop(store);
        Store::open(&path).unwrap();
    }
}
