//! The embedded SQLite store: one domain struct owning the connection (WAL,
//! foreign keys, migrations) and answering in domain terms (`last_archived`,
//! `record_run`, `invalidate`, the send ledger…), so that no stage outside
//! `store/` writes SQL. The one exception is the KPI engine's readers, which
//! group source rows in SQL for speed: they get a [`Reader`], which prepares
//! read-only statements only. A second backend (PostgreSQL) implements these
//! methods; nothing else has to change.
mod bulk;
pub mod cache;
pub mod dialect;
pub mod import;
pub mod migrations;
pub mod migrations_pg;
pub mod pg;
pub mod pg_import;
pub mod pg_segments;
pub mod posts;
pub mod runs;
pub mod sends;
pub mod sql;
pub mod tables;
pub mod warehouse;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rusqlite::{Connection, OptionalExtension};

use crate::error::Failure;
use crate::sources::FileKind;

/// The SQLite page cache (`PRAGMA cache_size`, negative: KiB): 64 MiB.
const CACHE_KIB: i64 = -65536;

/// Tells SQLite not to keep its memory statistics, which it updates under
/// a process-wide mutex at every allocation and free (the import's bound
/// texts: one each; nothing here reads them). For `main`, first thing,
/// before any connection exists: SQLite accepts it only before it starts,
/// and refuses it (changing nothing) after.
pub fn skip_memory_statistics() {
    // SAFETY: sqlite3_config takes an int after MEMSTATUS; it must not run
    // while another thread uses SQLite: main calls it before any thread
    // or connection exists.
    unsafe {
        rusqlite::ffi::sqlite3_config(rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS, 0 as std::ffi::c_int);
    }
}

pub struct Store {
    /// The connection, SQLite or PostgreSQL (see [`sql`]).
    conn: sql::Db,
    /// The SQLite file; for a PostgreSQL store, where files beside the store
    /// (rejects) go.
    pub path: PathBuf,
    /// The PostgreSQL store's settings (None: SQLite).
    pg: Option<pg::PgConfig>,
    /// Warehouse mode: where the CRM data is read instead of the store's
    /// own tables ([`warehouse`]).
    warehouse: Option<Box<warehouse::Warehouse>>,
}

pub use crate::config::Location;

/// The meta key of the open deals whose close date the latest import of
/// deals ignored (their count; the data-quality section reads it).
pub const CLOSE_DATES_IGNORED_KEY: &str = "close_dates_ignored:deals.csv";

/// The meta key of a file's as-of instant.
pub fn as_of_key(kind: FileKind) -> String {
    format!("as_of:{}", kind.default_file_name())
}

/// The engine readers' view of the store: read-only statements on its
/// connection (a statement that would write is refused).
#[derive(Clone, Copy)]
pub struct Reader<'s> {
    conn: &'s sql::Db,
    /// In warehouse mode, the `WITH` list that puts the user's tables in
    /// the store's shape ([`warehouse::with_prelude`]).
    prelude: Option<&'s str>,
}

impl<'s> Reader<'s> {
    /// Prepares (through the statement cache) a statement that only reads,
    /// on the SQLite store (the engine's PostgreSQL readers group in the
    /// database instead, through [`Store::pg_query`]).
    pub fn prepare(&self, sql: &str) -> Result<rusqlite::CachedStatement<'s>> {
        let (Some(conn), None) = (self.conn.sqlite(), self.prelude) else {
            anyhow::bail!("a SQLite reader on a PostgreSQL store: {sql}");
        };
        let stmt = conn.prepare_cached(sql)?;
        if !stmt.readonly() {
            anyhow::bail!("a reader may only read the store: {sql}");
        }
        Ok(stmt)
    }

    /// Every row of a read-only statement, on either backend.
    pub fn rows(&self, sql: &str, params: impl sql::Params) -> Result<Vec<sql::Row>> {
        if self.conn.sqlite().is_some() {
            self.prepare(sql)?;
        } else if !is_read_only(sql) {
            anyhow::bail!("a reader may only read the store: {sql}");
        }
        if let Some(prelude) = self.prelude {
            return Ok(self
                .conn
                .query_all(&warehouse::with_prelude(prelude, sql), params)?);
        }
        Ok(self.conn.query_all(sql, params)?)
    }

    /// Each row of a read-only statement to `f`, on either backend, one row
    /// held at a time (a reader that keeps only some of them stays
    /// bounded). `f` must not query the store (on PostgreSQL the rows are
    /// still streaming on the connection).
    pub fn each(
        &self,
        sql: &str,
        params: impl sql::Params,
        f: impl FnMut(&sql::Row) -> Result<()>,
    ) -> Result<()> {
        if self.conn.sqlite().is_some() {
            self.prepare(sql)?;
        } else if !is_read_only(sql) {
            anyhow::bail!("a reader may only read the store: {sql}");
        }
        if let Some(prelude) = self.prelude {
            return self
                .conn
                .query_each(&warehouse::with_prelude(prelude, sql), params, f);
        }
        self.conn.query_each(sql, params, f)
    }

    /// Streams the rows of a read-only statement on the PostgreSQL store
    /// (the engine's grouped queries) to `f` as they arrive, without holding
    /// them, counting the rows and their bytes on the wire.
    pub fn pg_each(
        &self,
        sql: &str,
        mut f: impl FnMut(&postgres::Row) -> Result<()>,
    ) -> Result<()> {
        if !is_read_only(sql) {
            anyhow::bail!("a reader may only read the store: {sql}");
        }
        let Some(mut conn) = self.conn.postgres() else {
            anyhow::bail!("a PostgreSQL reader on a SQLite store: {sql}");
        };
        let conn = &mut *conn;
        let sql = match self.prelude {
            Some(prelude) => warehouse::with_prelude(prelude, sql),
            None => sql.to_string(),
        };
        let sql = sql.as_str();
        let mut rows = conn
            .client
            .query_raw(
                sql,
                std::iter::empty::<&(dyn postgres::types::ToSql + Sync)>(),
            )
            .with_context(|| format!("PostgreSQL query failed: {sql}"))?;
        use postgres::fallible_iterator::FallibleIterator;
        while let Some(row) = rows
            .next()
            .with_context(|| format!("PostgreSQL query failed: {sql}"))?
        {
            conn.rows_in += 1;
            conn.bytes_in += sql::wire_bytes(&row);
            f(&row)?;
        }
        Ok(())
    }

    /// One row of a read-only statement, on either backend.
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: impl sql::Params,
        f: impl FnOnce(&sql::Row) -> rusqlite::Result<T>,
    ) -> Result<T> {
        match self.rows(sql, params)?.first() {
            Some(r) => Ok(f(r)?),
            None => Err(rusqlite::Error::QueryReturnedNoRows.into()),
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.conn.is_postgres()
    }

    /// The SQL words of the backend these reads run on (in warehouse mode,
    /// the warehouse's, not the store's own: see [`Store::own_dialect`]).
    pub fn dialect(&self) -> &'static dyn dialect::Dialect {
        if self.conn.is_postgres() {
            &dialect::Postgres
        } else {
            &dialect::Sqlite
        }
    }
}

/// A statement that starts by reading (SELECT or WITH … SELECT) and names
/// no writing keyword: the PostgreSQL readers' check.
fn is_read_only(sql: &str) -> bool {
    let upper = sql.trim_start().to_ascii_uppercase();
    (upper.starts_with("SELECT") || upper.starts_with("WITH"))
        && ![
            "INSERT ",
            "UPDATE ",
            "DELETE ",
            "DROP ",
            "ALTER ",
            "CREATE ",
            "TRUNCATE ",
        ]
        .iter()
        .any(|w| upper.contains(w))
}

/// Statements grouped into one transaction ([`Store::begin`]): committed by
/// [`Batch::commit`], rolled back when dropped.
pub struct Batch<'s> {
    tx: sql::Tx<'s>,
}

impl Batch<'_> {
    pub fn commit(self) -> Result<()> {
        Ok(self.tx.commit()?)
    }
}

/// Puts the store in WAL mode (kept in the file: a no-op once it is). A
/// store whose first import is being written is not (it writes through a
/// rollback journal, import::FirstImportJournal) and cannot be switched
/// until that import ends: after the busy timeout, one clear message.
fn write_ahead_log(conn: &Connection, path: &Path) -> Result<()> {
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
    if mode.eq_ignore_ascii_case("wal") {
        return Ok(());
    }
    match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
        Ok(_) => Ok(()),
        Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) => {
            Err(Failure::runtime(format!(
                "the store {} is busy: another scorecard is writing its first import, which keeps the store to itself until it ends; try again when it has finished",
                path.display()
            ))
            .into())
        }
        Err(e) => Err(e.into()),
    }
}

impl Store {
    /// Opens (creating if needed) the store and brings its schema up to date.
    pub fn open_at(location: &Location) -> Result<Store> {
        match location {
            Location::Sqlite(path) => Store::open(path),
            Location::Postgres { config, dir } => Store::open_pg(config, dir),
        }
    }

    /// Like [`Store::open_existing`] for either backend: a PostgreSQL store
    /// is created on first use.
    pub fn open_existing_at(location: &Location) -> Result<Store> {
        match location {
            Location::Sqlite(path) => Store::open_existing(path),
            Location::Postgres { config, dir } => Store::open_pg(config, dir),
        }
    }

    /// Connects to a PostgreSQL store, creating its schema and applying its
    /// migrations if needed; `dir` is where files beside the store go.
    pub fn open_pg(config: &pg::PgConfig, dir: &Path) -> Result<Store> {
        let mut client = pg::connect(config, "scorecard")?;
        pg::prepare(&mut client, &config.schema).with_context(|| {
            format!(
                "cannot prepare the PostgreSQL store {} (schema {})",
                pg::describe(&config.url),
                config.schema
            )
        })?;
        Ok(Store {
            conn: sql::Db::Postgres(Box::new(std::cell::RefCell::new(sql::PgConn::new(client)))),
            path: dir.join("scorecard.db"),
            pg: Some(config.clone()),
            warehouse: None,
        })
    }

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
            conn: sql::Db::Sqlite(conn),
            path: path.to_path_buf(),
            pg: None,
            warehouse: None,
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
            conn: sql::Db::Sqlite(conn),
            path: PathBuf::from(":memory:"),
            pg: None,
            warehouse: None,
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

    /// For tests: an in-memory SQLite store, and a PostgreSQL store in a
    /// fresh schema when `SCORECARD_TEST_PG_URL` names a server (see
    /// [`pg::test_config`]), so that a test runs on both backends.
    #[doc(hidden)]
    pub fn test_stores(test: &str) -> Vec<Store> {
        let mut out = vec![Store::in_memory().expect("an in-memory store")];
        if let Some(cfg) = pg::test_config(test) {
            out.push(
                Store::open_pg(&cfg, &std::env::temp_dir()).expect("the test PostgreSQL store"),
            );
        }
        out
    }

    /// Warehouse mode: from now on the engine's readers, the as-of
    /// instants, the files' columns and the data-quality facts come from
    /// the warehouse; the ledgers, cache and runs stay in this store.
    pub fn attach_warehouse(&mut self, w: warehouse::Warehouse) {
        self.warehouse = Some(Box::new(w));
    }

    /// The warehouse this store reads the CRM data from, in warehouse mode.
    pub fn warehouse(&self) -> Option<&warehouse::Warehouse> {
        self.warehouse.as_deref()
    }

    /// What the KPI cache key adds for the data read (warehouse mode: every
    /// table's fingerprint; an import invalidates the cache itself).
    pub fn data_fingerprint(&self) -> String {
        self.warehouse
            .as_ref()
            .map(|w| w.fingerprint())
            .unwrap_or_default()
    }

    /// The PostgreSQL store's settings (None for SQLite).
    pub fn pg_config(&self) -> Option<&pg::PgConfig> {
        self.pg.as_ref()
    }

    pub fn is_postgres(&self) -> bool {
        self.conn.is_postgres()
    }

    /// Where this store is, for messages (never with a password).
    pub fn describe(&self) -> String {
        match &self.pg {
            Some(c) => format!("{} (schema {})", pg::describe(&c.url), c.schema),
            None => self.path.display().to_string(),
        }
    }

    /// The PostgreSQL connection, for the engine's grouped readers and the
    /// importer's COPY (None on SQLite).
    pub fn pg_conn(&self) -> Option<std::cell::RefMut<'_, sql::PgConn>> {
        self.conn.postgres()
    }

    /// Rows and bytes received from PostgreSQL by queries so far ((0, 0) on
    /// SQLite): what the engine's grouped readers moved over the wire.
    pub fn pg_transfer(&self) -> (u64, u64) {
        let conn = match &self.warehouse {
            Some(w) => w.conn(),
            None => &self.conn,
        };
        conn.postgres()
            .map(|c| (c.rows_in, c.bytes_in))
            .unwrap_or((0, 0))
    }

    fn configure(&mut self) -> Result<()> {
        let Some(conn) = self.conn.sqlite() else {
            return Ok(());
        };
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        // WAL keeps readers and a writer apart; NORMAL sync is durable at
        // every checkpoint and safe against corruption.
        write_ahead_log(conn, &self.path)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.pragma_update(None, "cache_size", CACHE_KIB)?;
        Ok(())
    }

    /// The SQL dialect of the engine's readers (see [`dialect`]): the
    /// store's, or in warehouse mode the warehouse's (PostgreSQL).
    pub fn dialect(&self) -> &'static dyn dialect::Dialect {
        self.reader().dialect()
    }

    /// The SQL dialect of the store's own connection (its writes).
    pub(crate) fn own_dialect(&self) -> &'static dyn dialect::Dialect {
        if self.conn.is_postgres() {
            &dialect::Postgres
        } else {
            &dialect::Sqlite
        }
    }

    pub fn schema_version(&self) -> Result<usize> {
        match &self.conn {
            sql::Db::Sqlite(c) => {
                let v: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0))?;
                Ok(v as usize)
            }
            sql::Db::Postgres(c) => pg::schema_version(&mut c.borrow_mut().client),
        }
    }

    /// Applies every migration past `user_version`, in one exclusive
    /// transaction (PostgreSQL stores migrate when they connect).
    fn migrate(&mut self) -> Result<()> {
        /// The last migration that rewrites the record tables (12: the
        /// compact layout; 15: the customer keys).
        const LAST_REWRITE: usize = 15;
        let Some(conn) = self.conn.sqlite_mut() else {
            return Ok(());
        };
        let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if current as usize == migrations::migrations().len() {
            return Ok(());
        }
        // A migration that rebuilds tables sorts their indexes and VACUUM
        // copies the store: on disk, not in memory (set outside the
        // transaction, as SQLite requires).
        conn.pragma_update(None, "temp_store", "FILE")?;
        // Small sorter runs for the indexes they build (tables::SORT_CACHE_KIB).
        conn.pragma_update(None, "cache_size", tables::SORT_CACHE_KIB)?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive)?;
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
        // Migrations 12 and 15 rewrite the record tables: the old ones'
        // pages are free. A store with many of them is compacted once, so
        // that the upgrade gives the disk back (later imports would reuse
        // them). A new store is compacted too (a few pages): a first import
        // writes through a rollback journal (import::FirstImportJournal),
        // which does not keep the content of the free pages it reuses, so
        // only a store without free pages is left byte for byte as it was
        // when that import is refused or killed.
        let free: i64 = tx.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
        let pages: i64 = tx.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        tx.commit()?;
        let new = current == 0;
        if (new && free > 0) || (current < LAST_REWRITE && free * 4 > pages) {
            conn.execute_batch("VACUUM")?;
        }
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.pragma_update(None, "cache_size", CACHE_KIB)?;
        Ok(())
    }

    /// The engine's readers' read-only access (see [`Reader`]).
    pub fn reader(&self) -> Reader<'_> {
        match &self.warehouse {
            Some(w) => Reader {
                conn: w.conn(),
                prelude: Some(&w.prelude),
            },
            None => Reader {
                conn: &self.conn,
                prelude: None,
            },
        }
    }

    /// Opens a transaction: the store's methods called until the batch is
    /// committed run inside it (all or nothing).
    pub fn begin(&self) -> Result<Batch<'_>> {
        Ok(Batch {
            tx: self.conn.begin(false)?,
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
        let d = self.own_dialect();
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
        if let Some(w) = &self.warehouse {
            return Ok(w
                .tables
                .iter()
                .find(|t| t.kind.key() == file)
                .map(|t| t.columns.clone())
                .unwrap_or_default());
        }
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name FROM file_columns WHERE file = ?1")?;
        let names = stmt.query_map([file], |r| r.get::<_, String>(0))?;
        Ok(names.collect::<rusqlite::Result<_>>()?)
    }

    /// The instant each imported file's data is known up to (kpis.md "Data
    /// as of"), as recorded by its last import: (file name, RFC 3339), by
    /// file.
    pub fn data_as_of(&self) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for kind in FileKind::ALL {
            if let Some(t) = self.meta(&as_of_key(kind))? {
                out.push((kind.default_file_name(), t));
            }
        }
        Ok(out)
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        if let (Some(w), Some(file)) = (&self.warehouse, key.strip_prefix("as_of:")) {
            return Ok(w
                .tables
                .iter()
                .find(|t| t.kind.default_file_name() == file)
                .and_then(|t| t.as_of.clone()));
        }
        Ok(self
            .conn
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?)
    }

    /// The latest value of each of `columns` (static names from the source
    /// descriptions) in `table`, None where the table has none.
    pub fn latest_values(&self, table: &str, columns: &[&str]) -> Result<Vec<Option<i64>>> {
        if columns.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = columns.iter().map(|c| format!("max({c})")).collect();
        let sql = format!("SELECT {} FROM {table}", list.join(", "));
        if self.warehouse.is_some() {
            return self.reader().query_row(&sql, [], |r| {
                (0..columns.len())
                    .map(|i| r.get::<_, Option<i64>>(i))
                    .collect::<rusqlite::Result<Vec<_>>>()
            });
        }
        Ok(self.conn.query_row(&sql, [], |r| {
            (0..columns.len())
                .map(|i| r.get::<_, Option<i64>>(i))
                .collect::<rusqlite::Result<Vec<_>>>()
        })?)
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
        if let Some(w) = &self.warehouse {
            return Ok(w.tables.iter().map(|t| t.kind.key().to_string()).collect());
        }
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
            .reader()
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
        let err = s.reader().prepare("DELETE FROM snapshots").err().unwrap();
        assert!(err.to_string().contains("may only read"), "{err}");
    }

    #[test]
    fn the_last_archived_run_is_the_latest_recorded() {
        use crate::period::{Cadence, Period};
        for s in Store::test_stores("the_last_archived_run_is_the_latest_recorded") {
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
    }

    #[test]
    fn a_batch_dropped_without_commit_leaves_the_ledger_as_it_was() {
        for s in Store::test_stores("a_batch_dropped_without_commit") {
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
            // The rest of the ledger's life: due, sent, counted.
            let due = s.sends().due(false, false).unwrap();
            assert_eq!(due.len(), 1);
            s.sends().mark_sent(due[0].id, 1, now, None).unwrap();
            assert_eq!(s.sends().count("sent").unwrap(), 1);
            assert!(s.sends().due(true, true).unwrap().is_empty());
            assert_eq!(
                s.sends().fates("weekly", "2026-W47").unwrap()[0].state,
                "sent"
            );
        }
    }

    #[test]
    fn a_postgres_reader_refuses_to_write() {
        for s in Store::test_stores("a_postgres_reader_refuses_to_write") {
            let n: i64 = s
                .reader()
                .query_row("SELECT count(*) FROM orders", [], |r| r.get(0))
                .unwrap();
            assert_eq!(n, 0);
            let err = s.reader().rows("DELETE FROM snapshots", []).err().unwrap();
            assert!(err.to_string().contains("may only read"), "{err}");
        }
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
