//! A first import's rows into an empty table, many rows per statement.
//!
//! One `INSERT` per row costs SQLite a statement's start and end each time
//! (cursors opened, the id index descended from its root, the statement
//! reset). Into a table that was empty when the file's import began, a row
//! whose id is greater than every id written so far can only be new: such
//! rows are bound into one statement of [`ROWS`] rows, executed when it is
//! full, whose cursors stay open from row to row, so that an id arriving in
//! order lands on the index's last page without a descent (SQLite's
//! append path). A row that is not in order (an id at or below the
//! greatest so far: a duplicate, or a file not sorted by id) is written by
//! the table's one-row upsert, after the rows bound so far.
//!
//! The statement is `INSERT OR IGNORE … SELECT *, ?2 FROM (VALUES (…), …)
//! LIMIT ?1`. The limit writes the first rows of a batch that is not full
//! (the values still bound past them from an earlier batch are never
//! read). `OR IGNORE`: a statement of many rows that may stop half-way
//! on a constraint makes SQLite copy every page it changes to a statement
//! journal first (to undo its own first rows); ignoring instead, nothing
//! is copied, and a row left out is counted and fails the import (every
//! row was checked: it cannot happen). SQLite prepares a statement again
//! when a limit's parameter is bound anew (its value may change the plan),
//! so the limit is bound only when it changes: once for the full batches,
//! and for the last rows of a file. The rows
//! land in the order they came, with the same rowids, values and affinities
//! as one `INSERT … VALUES` each.
use rusqlite::types::Value;
use rusqlite::{CachedStatement, Connection, ToSql};

/// Rows per statement.
pub const ROWS: usize = 256;

pub(super) struct Bulk<'t> {
    insert: CachedStatement<'t>,
    /// Stored columns per row (without the snapshot id).
    width: usize,
    /// Rows bound and not yet written.
    pending: usize,
    /// The greatest id written or bound so far (None: none yet).
    last: Option<Vec<u8>>,
    snapshot_id: i64,
    /// The limit bound (0: none yet).
    limit: usize,
    table: String,
}

impl<'t> Bulk<'t> {
    /// The bulk insert into `table` (empty) of `columns`, then `snapshot_id`.
    pub fn new(tx: &'t Connection, table: &str, columns: &[&str]) -> rusqlite::Result<Bulk<'t>> {
        let width = columns.len();
        let rows: Vec<String> = (0..ROWS)
            .map(|r| {
                let cells: Vec<String> = (0..width)
                    .map(|c| format!("?{}", 3 + r * width + c))
                    .collect();
                format!("({})", cells.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT OR IGNORE INTO {table} ({}, snapshot_id) SELECT *, ?2 FROM (VALUES {}) LIMIT ?1",
            columns.join(", "),
            rows.join(", "),
        );
        Ok(Bulk {
            insert: tx.prepare_cached(&sql)?,
            width,
            pending: 0,
            last: None,
            snapshot_id: 0,
            limit: 0,
            table: table.to_string(),
        })
    }

    /// Whether a row of this id can only be new: a text greater (byte by
    /// byte, SQLite's BINARY collation) than every id written so far.
    pub fn takes(&self, id: &Value) -> bool {
        match (id, &self.last) {
            (Value::Text(id), Some(last)) => id.as_bytes() > last.as_slice(),
            (Value::Text(_), None) => true,
            _ => false,
        }
    }

    /// Binds one row (its id first; [`Bulk::takes`] said yes) and writes the
    /// batch when it is full.
    pub fn push<V: ToSql>(
        &mut self,
        id: &Value,
        snapshot_id: i64,
        values: impl Iterator<Item = V>,
    ) -> rusqlite::Result<()> {
        if self.pending > 0 && snapshot_id != self.snapshot_id {
            self.flush()?;
        }
        self.snapshot_id = snapshot_id;
        let base = 3 + self.pending * self.width;
        let mut n = 0;
        for (c, v) in values.enumerate() {
            self.insert.raw_bind_parameter(base + c, v)?;
            n += 1;
        }
        debug_assert_eq!(n, self.width);
        if let Value::Text(id) = id {
            let last = self.last.get_or_insert_with(Vec::new);
            last.clear();
            last.extend_from_slice(id.as_bytes());
        }
        self.pending += 1;
        if self.pending == ROWS {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the rows bound so far.
    pub fn flush(&mut self) -> rusqlite::Result<()> {
        if self.pending == 0 {
            return Ok(());
        }
        if self.limit != self.pending {
            self.insert.raw_bind_parameter(1, self.pending as i64)?;
            self.limit = self.pending;
        }
        self.insert.raw_bind_parameter(2, self.snapshot_id)?;
        let written = self.insert.raw_execute()?;
        if written != self.pending {
            // Every row was new by its id and checked: never report a row
            // as stored when it is not.
            return Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT),
                Some(format!(
                    "{} of {} rows were refused by a constraint of {}",
                    self.pending - written,
                    self.pending,
                    self.table
                )),
            ));
        }
        self.pending = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE t (id TEXT PRIMARY KEY, day INTEGER NOT NULL, amount NOT NULL, snapshot_id INTEGER NOT NULL);",
        )
        .unwrap();
        conn
    }

    fn rows(conn: &Connection) -> Vec<(i64, String, i64, Value, i64)> {
        conn.prepare("SELECT rowid, id, day, amount, snapshot_id FROM t ORDER BY rowid")
            .unwrap()
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    /// The same rows through the bulk statement and through one INSERT each
    /// are the same table: rowids, values, types; a partial batch and
    /// several full ones.
    #[test]
    fn batches_write_what_one_insert_per_row_writes() {
        for n in [0, 1, ROWS - 1, ROWS, ROWS + 1, 3 * ROWS + 7] {
            let (bulk_conn, plain) = (table(), table());
            let values = |i: usize| {
                let amount = match i % 3 {
                    0 => Value::Integer(i as i64 * 10),
                    1 => Value::Real(i as f64 + 0.5),
                    _ => Value::Text(format!("{i}")),
                };
                [
                    Value::Text(format!("X{i:06}")),
                    Value::Text(format!("{}", 700 + i)),
                    amount,
                ]
            };
            {
                let mut bulk = Bulk::new(&bulk_conn, "t", &["id", "day", "amount"]).unwrap();
                for i in 0..n {
                    let v = values(i);
                    assert!(bulk.takes(&v[0]));
                    bulk.push(&v[0], 3, v.iter()).unwrap();
                    assert!(!bulk.takes(&v[0]));
                }
                bulk.flush().unwrap();
            }
            for i in 0..n {
                let [a, b, c] = values(i);
                plain
                    .execute(
                        "INSERT INTO t (id, day, amount, snapshot_id) VALUES (?1, ?2, ?3, 3)",
                        rusqlite::params![a, b, c],
                    )
                    .unwrap();
            }
            assert_eq!(rows(&bulk_conn), rows(&plain), "{n} rows");
        }
    }

    /// Full batches bind the limit once: the statement is not prepared
    /// again for each (SQLite re-prepares when a limit's parameter is bound).
    #[test]
    fn full_batches_are_not_prepared_again() {
        let conn = table();
        let mut bulk = Bulk::new(&conn, "t", &["id", "day", "amount"]).unwrap();
        for i in 0..5 * ROWS {
            let v = [
                Value::Text(format!("X{i:06}")),
                Value::Integer(1),
                Value::Integer(2),
            ];
            bulk.push(&v[0], 1, v.iter()).unwrap();
        }
        let status = rusqlite::StatementStatus::RePrepare;
        assert!(
            bulk.insert.get_status(status) <= 1,
            "{}",
            bulk.insert.get_status(status)
        );
    }

    #[test]
    fn only_greater_text_ids_are_taken() {
        let conn = table();
        let mut bulk = Bulk::new(&conn, "t", &["id", "day", "amount"]).unwrap();
        let id = |s: &str| Value::Text(s.to_string());
        assert!(!bulk.takes(&Value::Integer(1)));
        bulk.push(
            &id("b"),
            1,
            [id("b"), Value::Integer(1), Value::Integer(1)].iter(),
        )
        .unwrap();
        assert!(!bulk.takes(&id("b")));
        assert!(!bulk.takes(&id("a")));
        assert!(bulk.takes(&id("ba")));
        assert!(bulk.takes(&id("c")));
        // Byte order, as SQLite's BINARY collation: "Z" < "a", "é" > "z".
        assert!(!bulk.takes(&id("Z")));
        assert!(bulk.takes(&id("é")));
    }

    /// A row the statement refuses (a constraint) fails the batch.
    #[test]
    fn a_refused_row_is_an_error() {
        let conn = table();
        let mut bulk = Bulk::new(&conn, "t", &["id", "day", "amount"]).unwrap();
        let id = Value::Text("a".into());
        bulk.push(&id, 1, [id.clone(), Value::Integer(1), Value::Null].iter())
            .unwrap();
        assert!(bulk.flush().is_err());
    }
}
