//! A snapshot file's table as the importer writes it: the validated [`Row`]
//! and, for the table's shape ([`Table`], derived from the file's
//! description in `sources`), the upsert that tells inserted,
//! replaced, unchanged and duplicate rows apart. The SQL lives here, next to
//! the store's connection; the importer only hands over rows.
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{params_from_iter, Connection, OptionalExtension, ToSql};

use std::cell::RefCell;

use super::bulk::Bulk;
use crate::ids::IdTable;
use crate::sources::{ColumnType, FileKind, Table};

/// A validated row: values in table column order, the day numbers that tie it
/// to periods, and its segment attributes.
#[derive(Debug)]
pub struct Row {
    pub values: Vec<Value>,
    pub days: Vec<Option<i64>>,
    pub attributes: Vec<(String, String)>,
}

impl Row {
    /// FNV-1a over the row's values and attributes: stable across runs and
    /// Rust versions (the PostgreSQL store's `row_hash`; computed only
    /// there, the SQLite store compares values).
    pub fn hash(&self) -> i64 {
        row_hash(&self.values, &self.attributes)
    }

    pub fn pk_text(&self) -> String {
        match &self.values[0] {
            Value::Text(s) => s.clone(),
            v => format!("{v:?}"),
        }
    }
}

/// The files whose rows the SQLite store keeps in the compact layout of
/// migration 12: `<file>_rows` without the dates' text, amounts as whole
/// ten-thousandths, the customer as its integer key (migration 15), and a
/// view of the file's name showing them as before.
pub const COMPACT: [FileKind; 7] = [
    FileKind::Customers,
    FileKind::Deals,
    FileKind::Orders,
    FileKind::Tickets,
    FileKind::Surveys,
    FileKind::Spend,
    FileKind::Activities,
];

/// Whether `table` (a file's table name) is a view over a compact table.
pub fn is_compact(table: &str) -> bool {
    COMPACT.iter().any(|k| k.key() == table)
}

/// The table that holds a file's rows in the SQLite store.
pub fn base_table(table: &str) -> String {
    if is_compact(table) {
        format!("{table}_rows")
    } else {
        table.to_string()
    }
}

/// An amount as the compact layout stores it: whole ten-thousandths as an
/// INTEGER when that is exact (`75.45` → 754500, read back as 754500 /
/// 10000.0, the same double: every amount of at most four decimals below
/// 2^53 / 10^4), else the REAL itself. Migration 13 applies the same rule
/// in SQL (`round` rounds half away from zero there too).
pub fn money(v: f64) -> Value {
    let units = (v * 10000.0).round();
    if units.abs() < 9_007_199_254_740_992.0 && units / 10000.0 == v {
        Value::Integer(units as i64)
    } else {
        Value::Real(v)
    }
}

/// Which of a table's columns the SQLite store keeps, and how: the
/// positions (in [`Table::columns`]) of the stored ones, whether each is
/// an amount, and which one holds the customer's key. A table outside
/// [`COMPACT`] keeps every column as it is.
#[derive(Debug, Clone)]
pub struct Layout {
    pub table: String,
    pub names: Vec<String>,
    positions: Vec<usize>,
    money: Vec<bool>,
    /// The stored column `customer_key`: the row's `customer_id` as its
    /// key in `customer_keys` (a record file's; the customers file keeps
    /// its own ids).
    customer: Option<usize>,
}

impl Layout {
    pub fn of(def: &Table) -> Layout {
        let compact = COMPACT.contains(&def.kind);
        let file = def.kind.columns();
        let mut layout = Layout {
            table: base_table(def.name),
            names: Vec::new(),
            positions: Vec::new(),
            money: Vec::new(),
            customer: None,
        };
        for (i, c) in def.columns.iter().enumerate() {
            let ty = file[c.file_column()].ty;
            if compact && !c.is_day() && ty == ColumnType::Date {
                continue;
            }
            if compact && i >= def.pk_len && c.name == "customer_id" {
                layout.customer = Some(layout.names.len());
                layout.names.push("customer_key".to_string());
            } else {
                layout.names.push(c.name.clone());
            }
            layout.positions.push(i);
            layout
                .money
                .push(compact && !c.is_day() && ty == ColumnType::Decimal);
        }
        layout
    }

    /// The stored value of stored column `k` of `row`, whose customer's
    /// key is `customer`.
    fn value<'r>(&self, row: &'r Row, k: usize, customer: &'r Value) -> Stored<'r> {
        if self.customer == Some(k) {
            return Stored::Borrowed(customer);
        }
        let v = &row.values[self.positions[k]];
        match (self.money[k], v) {
            (true, Value::Real(r)) => Stored::Owned(money(*r)),
            _ => Stored::Borrowed(v),
        }
    }
}

/// Customer ids → their keys in `customer_keys` (migration 15), for the
/// record files of one import: the table is read once, when a record first
/// names a customer, and an id met for the first time gets the next key.
///
/// While a file is read, its reading thread holds the table
/// ([`CustomerKeys::lend`]): it replaces each record's customer id by its
/// key and numbers the new ones, and the writing thread, SQLite's, only
/// stores them ([`TableWriter::add_keys`]). A lookup is a random read in a
/// table of 46 MiB for a million customers, a cache miss each: on the
/// writing thread it was a tenth of the import's time.
#[derive(Default)]
pub struct CustomerKeys {
    /// Empty until read; None while lent to a reading thread.
    keys: Option<KeyLookup>,
}

/// The customer keys known so far and the next one to give.
pub struct KeyLookup {
    keys: IdTable,
    next: i64,
    /// Where a row of the file being read holds its customer id.
    at: usize,
}

impl CustomerKeys {
    /// The key of `customer_id` (a key already, a text, or NULL for none),
    /// added if new.
    fn key(&mut self, tx: &Connection, customer_id: &Value) -> rusqlite::Result<Value> {
        let id = match customer_id {
            Value::Text(id) => id,
            Value::Integer(key) => return Ok(Value::Integer(*key)),
            _ => return Ok(Value::Null),
        };
        let lookup = match &mut self.keys {
            Some(keys) => keys,
            None => self.keys.insert(read_keys(tx)?),
        };
        let Some((key, new)) = lookup.key_of(id) else {
            return Err(rusqlite::Error::IntegralValueOutOfRange(0, lookup.next));
        };
        if new {
            add_key(tx, key, id)?;
        }
        Ok(Value::Integer(key))
    }

    /// The table, for the reading thread of a file whose rows hold their
    /// customer id at `at`; [`CustomerKeys::give_back`] when it is done.
    fn lend(&mut self, tx: &Connection, at: usize) -> rusqlite::Result<KeyLookup> {
        let mut lookup = match self.keys.take() {
            Some(keys) => keys,
            None => read_keys(tx)?,
        };
        lookup.at = at;
        Ok(lookup)
    }

    fn give_back(&mut self, lookup: KeyLookup) {
        self.keys = Some(lookup);
    }
}

impl KeyLookup {
    /// The key of `id` and whether it is new (numbered now); None past the
    /// last key the table can hold (4,294,967,295 customers).
    fn key_of(&mut self, id: &str) -> Option<(i64, bool)> {
        if let Some(key) = self.keys.get(id) {
            return Some((key.into(), false));
        }
        let key = self.next;
        self.keys.insert(id, u32::try_from(key).ok()?);
        self.next += 1;
        Some((key, true))
    }

    /// Replaces the customer id of each of `rows` (read on the reading
    /// thread, in the file's order) by its key; the keys numbered now are
    /// added to `new`, to be stored before the rows. Ids are warmed first
    /// ([`IdTable::warm`]), so that the lookups wait for memory once per
    /// batch rather than once per row. An id past the last key stays: the
    /// writing thread refuses it ([`CustomerKeys::key`]).
    pub fn replace_ids<'r>(
        &mut self,
        rows: impl Iterator<Item = &'r mut Row>,
        new: &mut Vec<(i64, String)>,
    ) {
        let at = self.at;
        let mut rows: Vec<&mut Row> = rows.collect();
        self.keys
            .warm(rows.iter().filter_map(|row| match &row.values[at] {
                Value::Text(id) => Some(id.as_str()),
                _ => None,
            }));
        for row in &mut rows {
            let Value::Text(id) = &row.values[at] else {
                continue;
            };
            let Some((key, is_new)) = self.key_of(id) else {
                continue;
            };
            let id = std::mem::replace(&mut row.values[at], Value::Integer(key));
            if let (true, Value::Text(id)) = (is_new, id) {
                new.push((key, id));
            }
        }
    }
}

fn add_key(tx: &Connection, key: i64, id: &str) -> rusqlite::Result<()> {
    tx.prepare_cached("INSERT INTO customer_keys (customer_key, customer_id) VALUES (?1, ?2)")?
        .execute(rusqlite::params![key, id])?;
    Ok(())
}

fn read_keys(tx: &Connection) -> rusqlite::Result<KeyLookup> {
    // Room for the customers file's ids too (imported before the records):
    // a first import then never grows the table, which would hold the old
    // slots and twice as many new ones at once (100 MB for a million ids).
    let (count, last): (i64, i64) = tx.query_row(
        "SELECT max((SELECT count(*) FROM customer_keys), (SELECT count(*) FROM customers_rows)),
                (SELECT coalesce(max(customer_key), 0) FROM customer_keys)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let count = usize::try_from(count).unwrap_or(0);
    let mut keys = IdTable::with_capacity(count + count / 8);
    let mut stmt = tx.prepare("SELECT customer_id, customer_key FROM customer_keys")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let key: i64 = r.get(1)?;
        let Ok(small) = u32::try_from(key) else {
            return Err(rusqlite::Error::IntegralValueOutOfRange(1, key));
        };
        keys.insert(r.get_ref(0)?.as_str()?, small);
    }
    Ok(KeyLookup {
        keys,
        // As SQLite numbers an INTEGER PRIMARY KEY: one past the greatest.
        next: last + 1,
        at: 0,
    })
}

/// A value bound to a statement: the row's own, or an amount re-encoded.
enum Stored<'r> {
    Borrowed(&'r Value),
    Owned(Value),
}

impl Stored<'_> {
    fn get(&self) -> &Value {
        match self {
            Stored::Borrowed(v) => v,
            Stored::Owned(v) => v,
        }
    }
}

impl ToSql for Stored<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(ValueRef::from(self.get())))
    }
}

/// FNV-1a over the row's values: stable across runs and Rust versions.
fn row_hash(values: &[Value], attributes: &[(String, String)]) -> i64 {
    let mut h: u64 = 0xcbf29ce484222325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x100000001b3);
        }
    };
    for v in values {
        match v {
            Value::Null => eat(&[0]),
            Value::Integer(i) => {
                eat(&[1]);
                eat(&i.to_le_bytes())
            }
            Value::Real(r) => {
                eat(&[2]);
                eat(&r.to_bits().to_le_bytes())
            }
            Value::Text(t) => {
                eat(&[3]);
                eat(t.as_bytes());
                eat(&[0xff])
            }
            Value::Blob(b) => {
                eat(&[4]);
                eat(b)
            }
        }
    }
    for (k, v) in attributes {
        eat(k.as_bytes());
        eat(&[0xfe]);
        eat(v.as_bytes());
        eat(&[0xff]);
    }
    h as i64
}

/// The statements of one table's upsert, built from its shape (every one
/// prepared at once, so that a mistake shows before the first row).
///
/// Into an empty table (a first import), the table's secondary indexes are
/// dropped and built again by [`TableWriter::finish`] from their stored
/// definitions: one sort per index instead of a B-tree descent per row and
/// index, and fuller index pages. All of it inside the import's transaction,
/// so a refused import leaves the indexes as they were.
pub(super) fn writer<'t>(
    def: &Table,
    tx: &'t Connection,
    customer_keys: &'t RefCell<CustomerKeys>,
) -> rusqlite::Result<TableWriter<'t>> {
    let layout = Layout::of(def);
    let table = layout.table.as_str();
    // Empty at the start (a first import of the file): indexes built after
    // the rows, rows in id order many at a time.
    let empty: bool = tx.query_row(
        &format!("SELECT NOT EXISTS (SELECT 1 FROM {table})"),
        [],
        |r| r.get(0),
    )?;
    let deferred = match empty {
        true => defer_indexes(table, tx)?,
        false => Vec::new(),
    };
    let columns: Vec<&str> = layout.names.iter().map(String::as_str).collect();
    let cols = columns.join(", ");
    let n = columns.len();
    let placeholders: Vec<String> = (1..=n + 1).map(|i| format!("?{i}")).collect();
    let pk_where: Vec<String> = columns[..def.pk_len]
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = ?{}", i + 1))
        .collect();
    let pk_where = pk_where.join(" AND ");
    let insert = format!(
        "INSERT INTO {table} ({cols}, snapshot_id) VALUES ({ph}) ON CONFLICT DO NOTHING",
        ph = placeholders.join(", ")
    );
    // The stored row, to tell unchanged from replaced by its values.
    let select = format!(
        "SELECT snapshot_id, {} FROM {table} WHERE {pk_where}",
        columns[def.pk_len..].join(", ")
    );
    let sets: Vec<String> = columns[def.pk_len..]
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = ?{}", def.pk_len + i + 1))
        .collect();
    let update = format!(
        "UPDATE {table} SET {sets}, snapshot_id = ?{s} WHERE {pk_where}",
        sets = sets.join(", "),
        s = n + 1,
    );
    let touch = format!(
        "UPDATE {table} SET snapshot_id = ?{} WHERE {pk_where}",
        def.pk_len + 1
    );
    for sql in [&insert, &select, &update, &touch] {
        tx.prepare_cached(sql)?;
    }
    let bulk = match empty && def.pk_len == 1 {
        true => Some(Bulk::new(tx, table, &columns)?),
        false => None,
    };
    // A record file's attribute table is empty until some import keeps a
    // segment cell: then a replaced row has none to compare or delete.
    let old_attributes = match &def.attributes {
        Some((t, _)) => tx.query_row(&format!("SELECT EXISTS (SELECT 1 FROM {t})"), [], |r| {
            r.get(0)
        })?,
        None => false,
    };
    // Where the day numbers sit among the stored columns.
    let days = def
        .day_columns
        .iter()
        .filter_map(|d| columns.iter().position(|c| c == d))
        .collect();
    Ok(TableWriter {
        tx,
        customer_keys,
        deferred,
        bulk,
        old_attributes,
        days,
        def: def.clone(),
        insert: tx.prepare_cached(&insert)?,
        select: tx.prepare_cached(&select)?,
        update,
        touch,
        layout,
        changed: false,
    })
}

pub enum Upsert {
    Inserted,
    Replaced {
        old_days: Vec<Option<i64>>,
        segments_changed: bool,
    },
    Unchanged,
    /// The id was already written by this same file.
    Duplicate,
    /// Staged for a set-based upsert (PostgreSQL): counted when it runs.
    Staged,
}

pub struct TableWriter<'t> {
    tx: &'t Connection,
    /// The import's customer keys (the record files' `customer_key`).
    customer_keys: &'t RefCell<CustomerKeys>,
    /// The `CREATE INDEX` statements of the indexes dropped for a bulk load.
    deferred: Vec<String>,
    /// Into a table empty when the file's import began: the rows in id
    /// order, many per statement.
    bulk: Option<Bulk<'t>>,
    /// Whether the attribute table held any row when the file's import began.
    old_attributes: bool,
    /// Where the day numbers sit among the stored columns.
    days: Vec<usize>,
    def: Table,
    /// The hot statements (a fresh import's insert, a re-import's look-up
    /// of the stored row), held rather than looked up per row.
    insert: rusqlite::CachedStatement<'t>,
    select: rusqlite::CachedStatement<'t>,
    update: String,
    touch: String,
    /// The stored columns (the compact layout of migration 12).
    layout: Layout,
    /// Whether a row was inserted or replaced (activities: the kinds table
    /// is built again).
    changed: bool,
}

/// A stored value against a new one: equal, or the same number read back
/// through the column's affinity (an integral REAL is kept as an integer).
fn same_value(stored: &Value, new: &Value) -> bool {
    match (stored, new) {
        (Value::Real(a), Value::Integer(b)) | (Value::Integer(b), Value::Real(a)) => {
            *a == *b as f64
        }
        _ => stored == new,
    }
}

/// The page cache while an index is built by sorting (`PRAGMA cache_size`,
/// negative: KiB), which sets the size of the sorter's runs.
pub const SORT_CACHE_KIB: i64 = -2048;

/// SQLite's helper threads for an index's sort (`PRAGMA threads`): while
/// the index is built, the import's reading thread has nothing to do, so
/// the other cores sort the runs while this thread reads the table.
fn sort_threads() -> i64 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.min(4) as i64
}

/// Drops the secondary indexes of `table` (empty: a table with rows keeps
/// its indexes, the upsert reads through them) and returns their
/// definitions, as `sqlite_schema` keeps them (the text they were created
/// with, so that building them again leaves the schema byte for byte as it
/// was).
fn defer_indexes(table: &str, tx: &Connection) -> rusqlite::Result<Vec<String>> {
    let indexes: Vec<(String, String)> = tx
        .prepare(
            "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = ?1 AND sql IS NOT NULL ORDER BY rowid",
        )?
        .query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (name, _) in &indexes {
        tx.execute_batch(&format!("DROP INDEX {name}"))?;
    }
    Ok(indexes.into_iter().map(|(_, sql)| sql).collect())
}

impl TableWriter<'_> {
    /// Builds the indexes dropped for a bulk load again (a no-op otherwise).
    pub fn finish(mut self) -> rusqlite::Result<()> {
        if let Some(bulk) = &mut self.bulk {
            bulk.flush()?;
        }
        if self.changed && self.def.kind == FileKind::Activities {
            // The distinct kinds (a KPI each), kept small beside the rows
            // instead of an index over every activity (migration 14): one
            // pass when the activities change, none when they do not.
            self.tx.execute_batch(
                "DELETE FROM activity_kinds;
                 INSERT INTO activity_kinds (kind) SELECT DISTINCT kind FROM activities_rows;",
            )?;
        }
        if self.deferred.is_empty() {
            return Ok(());
        }
        // SQLite sorts an index's keys in runs as large as the page cache,
        // then merges them: runs of 2 MiB stay in the processor's caches
        // and sort in less than half the time of 64 MiB ones (orders'
        // customer and day indexes: 5.8 → 2.4 CPU-s).
        let cache: i64 = self.tx.query_row("PRAGMA cache_size", [], |r| r.get(0))?;
        self.tx.pragma_update(None, "cache_size", SORT_CACHE_KIB)?;
        let threads = sort_threads();
        self.tx.pragma_update(None, "threads", threads)?;
        let built = self
            .deferred
            .iter()
            .try_for_each(|sql| self.tx.execute_batch(sql));
        self.tx.pragma_update(None, "cache_size", cache)?;
        self.tx.pragma_update(None, "threads", 0)?;
        built
    }

    /// The import's customer keys, lent to the reading thread of this
    /// file (None: its rows name no customer).
    pub fn lend_keys(&self) -> rusqlite::Result<Option<KeyLookup>> {
        let Some(k) = self.layout.customer else {
            return Ok(None);
        };
        let at = self.layout.positions[k];
        Ok(Some(self.customer_keys.borrow_mut().lend(self.tx, at)?))
    }

    /// The keys back from the reading thread, for the next file.
    pub fn give_back_keys(&self, lookup: KeyLookup) {
        self.customer_keys.borrow_mut().give_back(lookup);
    }

    /// Stores the customer keys the reading thread numbered (before the
    /// rows that hold them).
    pub fn add_keys(&self, new: &[(i64, String)]) -> rusqlite::Result<()> {
        new.iter()
            .try_for_each(|(key, id)| add_key(self.tx, *key, id))
    }

    pub fn upsert(&mut self, row: &Row, snapshot_id: i64) -> rusqlite::Result<Upsert> {
        let tx = self.tx;
        let layout = &self.layout;
        let width = layout.names.len();
        let sid = Value::Integer(snapshot_id);
        let customer = match layout.customer {
            Some(k) => self
                .customer_keys
                .borrow_mut()
                .key(tx, &row.values[layout.positions[k]])?,
            None => Value::Null,
        };
        let stored = |k: usize| layout.value(row, k, &customer);
        if let Some(bulk) = &mut self.bulk {
            // A row that can only be new goes with the next ones; any other
            // is upserted on its own, after the rows bound so far.
            let new = bulk.takes(&row.values[0]);
            match new {
                true => bulk.push(&row.values[0], snapshot_id, (0..width).map(stored))?,
                false => bulk.flush()?,
            }
            if new {
                self.changed = true;
                self.write_attributes(row, false)?;
                return Ok(Upsert::Inserted);
            }
        }
        let inserted = self.insert.execute(params_from_iter(
            (0..width).map(stored).chain([Stored::Borrowed(&sid)]),
        ))?;
        if inserted == 1 {
            self.changed = true;
            self.write_attributes(row, false)?;
            return Ok(Upsert::Inserted);
        }
        let pk_len = self.def.pk_len;
        let pk = &row.values[..pk_len];
        let old = self
            .select
            .query_row(params_from_iter(pk.iter()), |r| {
                let sid: i64 = r.get(0)?;
                let mut values = Vec::with_capacity(width - pk_len);
                for i in 0..width - pk_len {
                    values.push(r.get::<_, Value>(1 + i)?);
                }
                Ok((sid, values))
            })
            .optional()?;
        let Some((old_snapshot, old_values)) = old else {
            // The insert was ignored for a reason other than the id: cannot happen
            // with these schemas, but never report a row as stored when it is not.
            return Err(rusqlite::Error::QueryReturnedNoRows);
        };
        if old_snapshot == snapshot_id {
            return Ok(Upsert::Duplicate);
        }
        let same = old_values
            .iter()
            .enumerate()
            .all(|(i, a)| same_value(a, stored(pk_len + i).get()));
        if same && !self.attributes_changed(row)? {
            let params = pk.iter().chain([&sid]);
            tx.prepare_cached(&self.touch)?
                .execute(params_from_iter(params))?;
            return Ok(Upsert::Unchanged);
        }
        let old_days = self
            .days
            .iter()
            .map(|&i| match old_values[i - pk_len] {
                Value::Integer(d) => Some(d),
                _ => None,
            })
            .collect();
        tx.prepare_cached(&self.update)?.execute(params_from_iter(
            (0..width).map(stored).chain([Stored::Borrowed(&sid)]),
        ))?;
        self.changed = true;
        let segments_changed = self.write_attributes(row, true)?;
        Ok(Upsert::Replaced {
            old_days,
            segments_changed,
        })
    }

    /// Whether the row's attributes differ from the stored ones (in any
    /// order; false for a table without attributes).
    fn attributes_changed(&self, row: &Row) -> rusqlite::Result<bool> {
        let Some((table, key)) = &self.def.attributes else {
            return Ok(false);
        };
        if !self.old_attributes {
            // Nothing stored before this import: the stored row had none.
            return Ok(!row.attributes.is_empty());
        }
        let mut old: Vec<(String, String)> = self
            .tx
            .prepare_cached(&format!(
                "SELECT name, value FROM {table} WHERE {key} = ?1 ORDER BY name"
            ))?
            .query_map([&row.values[0]], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut new = row.attributes.clone();
        new.sort();
        old.sort();
        Ok(old != new)
    }

    /// Stores the row's attributes; on replace, says whether they changed.
    fn write_attributes(&self, row: &Row, replacing: bool) -> rusqlite::Result<bool> {
        let Some((table, key)) = &self.def.attributes else {
            return Ok(false);
        };
        // With nothing stored before this import, a replaced row had no
        // attributes: any it has now is a change.
        let fresh = replacing && !self.old_attributes;
        let replacing = replacing && self.old_attributes;
        if row.attributes.is_empty() && !replacing {
            return Ok(false);
        }
        let id = &row.values[0];
        let mut changed = fresh;
        if replacing {
            let mut old: Vec<(String, String)> = self
                .tx
                .prepare_cached(&format!(
                    "SELECT name, value FROM {table} WHERE {key} = ?1 ORDER BY name"
                ))?
                .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let mut new = row.attributes.clone();
            new.sort();
            old.sort();
            changed = old != new;
            if !changed {
                return Ok(false);
            }
            self.tx
                .prepare_cached(&format!("DELETE FROM {table} WHERE {key} = ?1"))?
                .execute([id])?;
        }
        let mut insert = self.tx.prepare_cached(&format!(
            "INSERT INTO {table} ({key}, name, value) VALUES (?1, ?2, ?3)"
        ))?;
        for (name, value) in &row.attributes {
            insert.execute(rusqlite::params![id, name, value])?;
        }
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The reading thread gives known customers their keys and numbers new
    /// ones in the file's order, from one past the greatest key, as SQLite
    /// numbers a row; the writing thread's own path goes on from there.
    #[test]
    fn the_reading_thread_numbers_new_customers_as_sqlite_would() {
        let store = crate::store::Store::in_memory().unwrap();
        let conn = store.conn.sqlite().unwrap();
        conn.execute_batch("INSERT INTO customer_keys (customer_id) VALUES ('A'), ('B')")
            .unwrap();
        let mut keys = CustomerKeys::default();
        let mut lookup = keys.lend(conn, 1).unwrap();
        let text = |id: &str| Value::Text(id.to_string());
        let row = |customer: Value| Row {
            values: vec![text("o"), customer],
            days: Vec::new(),
            attributes: Vec::new(),
        };
        let mut rows: Vec<Row> = [
            text("B"),
            text("C"),
            Value::Null,
            text("C"),
            text("A"),
            text("a-much-longer-customer-id-than-a-slot-holds"),
        ]
        .into_iter()
        .map(row)
        .collect();
        let mut new = Vec::new();
        lookup.replace_ids(rows.iter_mut(), &mut new);
        let got: Vec<&Value> = rows.iter().map(|r| &r.values[1]).collect();
        let int = Value::Integer;
        assert_eq!(
            got,
            [&int(2), &int(3), &Value::Null, &int(3), &int(1), &int(4)]
        );
        let long = "a-much-longer-customer-id-than-a-slot-holds".to_string();
        assert_eq!(new, [(3, "C".to_string()), (4, long.clone())]);
        keys.give_back(lookup);
        new.iter()
            .for_each(|(k, id)| add_key(conn, *k, id).unwrap());
        assert_eq!(keys.key(conn, &text("E")).unwrap(), int(5));
        assert_eq!(keys.key(conn, &text("C")).unwrap(), int(3));
        assert_eq!(keys.key(conn, &int(3)).unwrap(), int(3), "a key already");
        let stored: Vec<(i64, String)> = conn
            .prepare("SELECT customer_key, customer_id FROM customer_keys ORDER BY 1")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let want: Vec<(i64, String)> = [(1, "A"), (2, "B"), (3, "C"), (4, long.as_str()), (5, "E")]
            .into_iter()
            .map(|(k, id)| (k, id.to_string()))
            .collect();
        assert_eq!(stored, want);
    }

    /// An amount read back through the compact view's expression.
    fn shown(conn: &Connection, stored: &Value) -> f64 {
        conn.query_row(
            "SELECT CASE WHEN typeof(?1) = 'integer' THEN ?1 / 10000.0 ELSE ?1 END",
            [stored],
            |r| r.get(0),
        )
        .unwrap()
    }

    proptest! {
        /// Whatever the amount, the view shows the very double the file's
        /// text parses to (zero without its sign, as a REAL column kept
        /// it); up to four decimals it is stored as an integer.
        #[test]
        fn amounts_round_trip_exactly(
            whole in prop_oneof![-10_000_000_000i64..10_000_000_000, -1_000_000i64..1_000_000],
            fraction in 0u32..1_000_000,
            decimals in 0usize..7,
        ) {
            let text = if decimals == 0 {
                whole.to_string()
            } else {
                let f = format!("{fraction:06}");
                format!("{whole}.{}", &f[..decimals])
            };
            let v: f64 = text.parse().unwrap();
            let conn = Connection::open_in_memory().unwrap();
            let stored = money(v);
            let back = shown(&conn, &stored);
            prop_assert!(back.to_bits() == v.to_bits() || (v == 0.0 && back == 0.0), "{}", text);
            if decimals <= 4 {
                prop_assert!(matches!(stored, Value::Integer(_)), "{}", text);
            }
        }
    }
}
