//! One SQL text, two backends. The store's domain methods write portable SQL
//! with numbered parameters (`?1`, `?2`…) and run it through [`Db`], which is
//! either the embedded SQLite connection or a PostgreSQL client; for
//! PostgreSQL the parameters become `$1`, `$2`… and values are converted to
//! and from the column types the server reports. Rows come back as
//! [`Row`]s of SQLite values, read with the same `get` as rusqlite's, so a
//! method reads the same on both. The engine's readers and the importer's
//! hot paths do not come through here: they use each backend natively.
use std::cell::RefCell;
use std::collections::HashMap;
use std::error::Error as StdError;

use anyhow::{Context, Result};
use postgres::types::{FromSql, IsNull, Kind, ToSql, Type};
use rusqlite::types::{FromSql as SqliteFromSql, ToSqlOutput, Value, ValueRef};

/// The connection of a store.
pub enum Db {
    Sqlite(rusqlite::Connection),
    Postgres(Box<RefCell<PgConn>>),
}

/// A PostgreSQL client with its prepared statements and transfer counters.
pub struct PgConn {
    pub client: postgres::Client,
    statements: HashMap<String, postgres::Statement>,
    /// Rows and (approximate, value) bytes received by queries so far.
    pub rows_in: u64,
    pub bytes_in: u64,
}

impl PgConn {
    pub fn new(client: postgres::Client) -> PgConn {
        PgConn {
            client,
            statements: HashMap::new(),
            rows_in: 0,
            bytes_in: 0,
        }
    }

    /// The prepared statement of `sql` (written with `?N` parameters).
    pub fn statement(&mut self, sql: &str) -> Result<postgres::Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let stmt = self
            .client
            .prepare(&numbered(sql))
            .with_context(|| format!("cannot prepare on PostgreSQL: {sql}"))?;
        self.statements.insert(sql.to_string(), stmt.clone());
        Ok(stmt)
    }

    /// Runs a query and converts its rows, counting what crossed the wire.
    pub fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        let stmt = self.statement(sql)?;
        let args: Vec<PgParam> = params.iter().map(PgParam).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a as _).collect();
        let rows = self
            .client
            .query(&stmt, &refs)
            .with_context(|| format!("PostgreSQL query failed: {sql}"))?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let mut values = Vec::with_capacity(r.len());
            for i in 0..r.len() {
                let PgValue(v) = r.try_get(i)?;
                self.bytes_in += value_bytes(&v);
                values.push(v);
            }
            out.push(Row { values });
        }
        self.rows_in += out.len() as u64;
        Ok(out)
    }

    pub fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        let stmt = self.statement(sql)?;
        let args: Vec<PgParam> = params.iter().map(PgParam).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a as _).collect();
        self.client
            .execute(&stmt, &refs)
            .with_context(|| format!("PostgreSQL statement failed: {sql}"))
    }
}

/// What a value weighs on the wire, roughly (for the transfer figures).
pub fn value_bytes(v: &Value) -> u64 {
    match v {
        Value::Null => 4,
        Value::Integer(_) | Value::Real(_) => 12,
        Value::Text(t) => 4 + t.len() as u64,
        Value::Blob(b) => 4 + b.len() as u64,
    }
}

/// What a streamed row weighed on the wire: its DataRow message (type byte,
/// length, column count, then each column's length and bytes).
pub fn wire_bytes(row: &postgres::Row) -> u64 {
    /// A column's raw length, whatever its type.
    struct RawLen(usize);
    impl<'a> FromSql<'a> for RawLen {
        fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn StdError + Sync + Send>> {
            Ok(RawLen(raw.len()))
        }
        fn from_sql_null(_: &Type) -> Result<Self, Box<dyn StdError + Sync + Send>> {
            Ok(RawLen(0))
        }
        fn accepts(_: &Type) -> bool {
            true
        }
    }
    let columns: usize = (0..row.len())
        .map(|i| 4 + row.try_get::<_, RawLen>(i).map(|l| l.0).unwrap_or(0))
        .sum();
    (7 + columns) as u64
}

/// `?N` (and bare `?`) placeholders as PostgreSQL's `$N`, outside quotes.
pub fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    let mut quote: Option<char> = None;
    let mut next = 1;
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                out.push(c);
            }
            None if c == '?' => {
                out.push('$');
                if chars.peek().is_some_and(char::is_ascii_digit) {
                    while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                        out.push(d);
                        chars.next();
                    }
                } else {
                    out.push_str(&next.to_string());
                    next += 1;
                }
            }
            None => out.push(c),
        }
    }
    out
}

/// One result row: its values, read like a rusqlite row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub values: Vec<Value>,
}

/// A column index (only `usize`, so that `r.get(0)` infers it).
pub trait ColumnIndex {
    fn index(self) -> usize;
}

impl ColumnIndex for usize {
    fn index(self) -> usize {
        self
    }
}

impl Row {
    /// Column `i` as `T`, exactly as rusqlite converts it.
    pub fn get<I: ColumnIndex, T: SqliteFromSql>(&self, i: I) -> rusqlite::Result<T> {
        let i = i.index();
        let v = self
            .values
            .get(i)
            .ok_or(rusqlite::Error::InvalidColumnIndex(i))?;
        T::column_result(ValueRef::from(v)).map_err(|e| match e {
            rusqlite::types::FromSqlError::InvalidType => {
                rusqlite::Error::InvalidColumnType(i, format!("column {i}"), v.data_type())
            }
            other => rusqlite::Error::FromSqlConversionFailure(i, v.data_type(), Box::new(other)),
        })
    }

    /// Column `i` as a value reference (rusqlite's `get_ref`).
    pub fn get_ref<I: ColumnIndex>(&self, i: I) -> rusqlite::Result<ValueRef<'_>> {
        let i = i.index();
        self.values
            .get(i)
            .map(ValueRef::from)
            .ok_or(rusqlite::Error::InvalidColumnIndex(i))
    }
}

/// Parameters of a statement, as values.
pub trait Params {
    fn values(&self) -> rusqlite::Result<Vec<Value>>;
}

fn to_value(p: &dyn rusqlite::ToSql) -> rusqlite::Result<Value> {
    Ok(match p.to_sql()? {
        ToSqlOutput::Borrowed(v) => {
            Value::try_from(v).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?
        }
        ToSqlOutput::Owned(v) => v,
        _ => return Err(rusqlite::Error::InvalidQuery),
    })
}

impl Params for [&(dyn rusqlite::ToSql + Send + Sync); 0] {
    fn values(&self) -> rusqlite::Result<Vec<Value>> {
        Ok(Vec::new())
    }
}

macro_rules! array_params {
    ($($n:literal)*) => {$(
        impl<T: rusqlite::ToSql> Params for [T; $n] {
            fn values(&self) -> rusqlite::Result<Vec<Value>> {
                self.iter().map(|p| to_value(p)).collect()
            }
        }
    )*};
}
array_params!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16);

impl<T: rusqlite::ToSql> Params for &[T] {
    fn values(&self) -> rusqlite::Result<Vec<Value>> {
        self.iter().map(|p| to_value(p)).collect()
    }
}

impl Params for Vec<Value> {
    fn values(&self) -> rusqlite::Result<Vec<Value>> {
        Ok(self.clone())
    }
}

/// A PostgreSQL failure carried in a rusqlite error (its message shows as is).
fn pg_error(e: anyhow::Error) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(format!("{e:#}").into())
}

/// A prepared statement of either backend, used like rusqlite's.
pub enum Stmt<'d> {
    Sqlite(rusqlite::CachedStatement<'d>),
    Postgres {
        conn: &'d RefCell<PgConn>,
        sql: String,
    },
}

/// The rows of a query, stepped like rusqlite's `Rows`.
pub struct Rows {
    rows: std::vec::IntoIter<Row>,
    current: Option<Row>,
}

impl Rows {
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> rusqlite::Result<Option<&Row>> {
        self.current = self.rows.next();
        Ok(self.current.as_ref())
    }
}

impl Stmt<'_> {
    fn all(&mut self, params: impl Params) -> rusqlite::Result<Vec<Row>> {
        let values = params.values()?;
        match self {
            Stmt::Sqlite(stmt) => {
                let n = stmt.column_count();
                let mut rows = stmt.query(rusqlite::params_from_iter(values))?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    let mut values = Vec::with_capacity(n);
                    for i in 0..n {
                        values.push(r.get::<_, Value>(i)?);
                    }
                    out.push(Row { values });
                }
                Ok(out)
            }
            Stmt::Postgres { conn, sql } => conn.borrow_mut().query(sql, &values).map_err(pg_error),
        }
    }

    /// Each row to `f` as it comes, one row held at a time (SQLite: as it
    /// steps to it; PostgreSQL: as the portal streams it, so `f` must not
    /// query the same connection).
    fn each<E: From<rusqlite::Error>>(
        &mut self,
        params: impl Params,
        mut f: impl FnMut(&Row) -> Result<(), E>,
    ) -> Result<(), E> {
        match self {
            Stmt::Sqlite(stmt) => {
                let values = params.values()?;
                let n = stmt.column_count();
                let mut rows = stmt.query(rusqlite::params_from_iter(values))?;
                let mut row = Row {
                    values: Vec::with_capacity(n),
                };
                while let Some(r) = rows.next()? {
                    row.values.clear();
                    for i in 0..n {
                        row.values.push(r.get::<_, Value>(i)?);
                    }
                    f(&row)?;
                }
                Ok(())
            }
            Stmt::Postgres { conn, sql } => {
                let values = params.values()?;
                // Streamed from the portal: `f` must not use the connection.
                let mut conn = conn.borrow_mut();
                let conn = &mut *conn;
                let stmt = conn.statement(sql).map_err(pg_error)?;
                let args: Vec<PgParam> = values.iter().map(PgParam).collect();
                let failed = |e: postgres::Error| {
                    pg_error(
                        anyhow::Error::new(e).context(format!("PostgreSQL query failed: {sql}")),
                    )
                };
                let mut rows = conn
                    .client
                    .query_raw(&stmt, args.iter().map(|a| a as &(dyn ToSql + Sync)))
                    .map_err(failed)?;
                use postgres::fallible_iterator::FallibleIterator;
                let mut row = Row { values: Vec::new() };
                while let Some(r) = rows.next().map_err(failed)? {
                    row.values.clear();
                    for i in 0..r.len() {
                        let PgValue(v) = r.try_get(i).map_err(failed)?;
                        conn.bytes_in += value_bytes(&v);
                        row.values.push(v);
                    }
                    conn.rows_in += 1;
                    f(&row)?;
                }
                Ok(())
            }
        }
    }

    pub fn execute(&mut self, params: impl Params) -> rusqlite::Result<usize> {
        let values = params.values()?;
        match self {
            Stmt::Sqlite(stmt) => stmt.execute(rusqlite::params_from_iter(values)),
            Stmt::Postgres { conn, sql } => conn
                .borrow_mut()
                .execute(sql, &values)
                .map(|n| n as usize)
                .map_err(pg_error),
        }
    }

    pub fn query(&mut self, params: impl Params) -> rusqlite::Result<Rows> {
        Ok(Rows {
            rows: self.all(params)?.into_iter(),
            current: None,
        })
    }

    pub fn query_row<T>(
        &mut self,
        params: impl Params,
        f: impl FnOnce(&Row) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        match self.all(params)?.first() {
            Some(r) => f(r),
            None => Err(rusqlite::Error::QueryReturnedNoRows),
        }
    }

    pub fn query_map<T, F: FnMut(&Row) -> rusqlite::Result<T>>(
        &mut self,
        params: impl Params,
        mut f: F,
    ) -> rusqlite::Result<std::vec::IntoIter<rusqlite::Result<T>>> {
        let rows = self.all(params)?;
        Ok(rows.iter().map(&mut f).collect::<Vec<_>>().into_iter())
    }
}

impl Db {
    pub fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres(_))
    }

    /// The SQLite connection, for the paths that use it natively.
    pub fn sqlite(&self) -> Option<&rusqlite::Connection> {
        match self {
            Db::Sqlite(c) => Some(c),
            Db::Postgres(_) => None,
        }
    }

    pub fn sqlite_mut(&mut self) -> Option<&mut rusqlite::Connection> {
        match self {
            Db::Sqlite(c) => Some(c),
            Db::Postgres(_) => None,
        }
    }

    /// The PostgreSQL client, for the paths that use it natively.
    pub fn postgres(&self) -> Option<std::cell::RefMut<'_, PgConn>> {
        match self {
            Db::Sqlite(_) => None,
            Db::Postgres(c) => Some(c.borrow_mut()),
        }
    }

    /// A statement (prepared once per connection and kept).
    pub fn prepare_cached(&self, sql: &str) -> rusqlite::Result<Stmt<'_>> {
        match self {
            Db::Sqlite(c) => Ok(Stmt::Sqlite(c.prepare_cached(sql)?)),
            Db::Postgres(c) => {
                c.borrow_mut().statement(sql).map_err(pg_error)?;
                Ok(Stmt::Postgres {
                    conn: c,
                    sql: sql.to_string(),
                })
            }
        }
    }

    pub fn prepare(&self, sql: &str) -> rusqlite::Result<Stmt<'_>> {
        self.prepare_cached(sql)
    }

    pub fn execute(&self, sql: &str, params: impl Params) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    pub fn query_row<T>(
        &self,
        sql: &str,
        params: impl Params,
        f: impl FnOnce(&Row) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        self.prepare_cached(sql)?.query_row(params, f)
    }

    /// Every row of a query.
    pub fn query_all(&self, sql: &str, params: impl Params) -> rusqlite::Result<Vec<Row>> {
        self.prepare_cached(sql)?.all(params)
    }

    /// Each row of a query to `f`, without holding them all on SQLite.
    pub fn query_each<E: From<rusqlite::Error>>(
        &self,
        sql: &str,
        params: impl Params,
        f: impl FnMut(&Row) -> Result<(), E>,
    ) -> Result<(), E> {
        self.prepare_cached(sql)?.each(params, f)
    }

    /// Statements without parameters, separated by semicolons.
    pub fn execute_batch(&self, sql: &str) -> rusqlite::Result<()> {
        match self {
            Db::Sqlite(c) => c.execute_batch(sql),
            Db::Postgres(c) => c
                .borrow_mut()
                .client
                .batch_execute(sql)
                .map_err(|e| pg_error(e.into())),
        }
    }

    /// Opens a transaction (SQLite: `BEGIN IMMEDIATE` when `write` says the
    /// first statement will write, so that a second writer waits at once).
    pub fn begin(&self, write: bool) -> rusqlite::Result<Tx<'_>> {
        match self {
            Db::Sqlite(_) if write => self.execute_batch("BEGIN IMMEDIATE")?,
            _ => self.execute_batch("BEGIN")?,
        }
        Ok(Tx {
            db: self,
            open: true,
        })
    }

    pub fn transaction(&self) -> rusqlite::Result<Tx<'_>> {
        self.begin(false)
    }

    pub fn unchecked_transaction(&self) -> rusqlite::Result<Tx<'_>> {
        self.begin(false)
    }
}

/// An open transaction: [`Tx::commit`] commits, dropping rolls back.
pub struct Tx<'d> {
    db: &'d Db,
    open: bool,
}

impl std::ops::Deref for Tx<'_> {
    type Target = Db;
    fn deref(&self) -> &Db {
        self.db
    }
}

impl<'d> Tx<'d> {
    /// The connection, beyond the transaction's life.
    pub fn db(&self) -> &'d Db {
        self.db
    }

    pub fn commit(mut self) -> rusqlite::Result<()> {
        self.open = false;
        self.db.execute_batch("COMMIT")
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.db.execute_batch("ROLLBACK");
        }
    }
}

// ------------------------------------------------- PostgreSQL value bridging

/// A parameter converted to whatever type the server inferred for it.
#[derive(Debug)]
pub struct PgParam<'a>(pub &'a Value);

type BoxError = Box<dyn StdError + Sync + Send>;

impl ToSql for PgParam<'_> {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
        let text_like = matches!(*ty, Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME)
            || *ty == Type::UNKNOWN;
        match self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Integer(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                Type::FLOAT4 => (*i as f32).to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                Type::NUMERIC => numeric_from_i64(*i, out),
                _ if text_like => i.to_string().to_sql(&Type::TEXT, out),
                _ => Err(format!("an integer cannot be sent as {ty}").into()),
            },
            Value::Real(r) => match *ty {
                Type::FLOAT8 => r.to_sql(ty, out),
                Type::FLOAT4 => (*r as f32).to_sql(ty, out),
                Type::INT8 if r.fract() == 0.0 => (*r as i64).to_sql(ty, out),
                _ if text_like => r.to_string().to_sql(&Type::TEXT, out),
                _ => Err(format!("a number cannot be sent as {ty}").into()),
            },
            Value::Text(t) => match *ty {
                Type::INT8 => t.parse::<i64>()?.to_sql(ty, out),
                Type::INT4 => t.parse::<i32>()?.to_sql(ty, out),
                Type::FLOAT8 => t.parse::<f64>()?.to_sql(ty, out),
                Type::BYTEA => t.as_bytes().to_sql(ty, out),
                _ if text_like => t.as_str().to_sql(&Type::TEXT, out),
                _ => Err(format!("text cannot be sent as {ty}").into()),
            },
            Value::Blob(b) => match *ty {
                Type::BYTEA => b.as_slice().to_sql(ty, out),
                _ if text_like => std::str::from_utf8(b)?.to_sql(&Type::TEXT, out),
                _ => Err(format!("bytes cannot be sent as {ty}").into()),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

/// NUMERIC's binary form of an integer (digits in base 10000).
fn numeric_from_i64(i: i64, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
    use bytes::BufMut;
    let negative = i < 0;
    let mut n = i.unsigned_abs();
    let mut digits = Vec::new();
    while n > 0 {
        digits.push((n % 10_000) as i16);
        n /= 10_000;
    }
    digits.reverse();
    out.put_i16(digits.len() as i16);
    out.put_i16(digits.len() as i16 - 1);
    out.put_u16(if negative { 0x4000 } else { 0 });
    out.put_i16(0);
    for d in digits {
        out.put_i16(d);
    }
    Ok(IsNull::No)
}

/// A column value of any type, as a SQLite value.
struct PgValue(Value);

impl<'a> FromSql<'a> for PgValue {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(PgValue(match *ty {
            Type::INT8 => Value::Integer(i64::from_sql(ty, raw)?),
            Type::INT4 => Value::Integer(i32::from_sql(ty, raw)?.into()),
            Type::INT2 => Value::Integer(i16::from_sql(ty, raw)?.into()),
            Type::OID => Value::Integer(u32::from_sql(ty, raw)?.into()),
            Type::BOOL => Value::Integer(bool::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => Value::Real(f32::from_sql(ty, raw)?.into()),
            Type::NUMERIC => numeric_value(raw)?,
            Type::BYTEA => Value::Blob(raw.to_vec()),
            _ if matches!(ty.kind(), Kind::Simple | Kind::Enum(_)) => {
                Value::Text(std::str::from_utf8(raw)?.to_string())
            }
            _ => return Err(format!("cannot read a {ty} column").into()),
        }))
    }

    fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
        Ok(PgValue(Value::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// NUMERIC's binary form (base-10000 digits) as an integer when it is one,
/// else as a float.
fn numeric_value(raw: &[u8]) -> Result<Value, BoxError> {
    let word = |i: usize| -> Result<i16, BoxError> {
        let b = raw.get(i * 2..i * 2 + 2).ok_or("short NUMERIC value")?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    };
    let ndigits = word(0)? as usize;
    let weight = word(1)? as i32;
    let sign = word(2)? as u16;
    let scale = word(3)?;
    if sign == 0xC000 {
        return Ok(Value::Real(f64::NAN));
    }
    let mut int: i128 = 0;
    let mut exact = scale == 0 && weight < 9;
    let mut f = 0.0f64;
    for k in 0..ndigits {
        let d = word(4 + k)?;
        let power = weight - k as i32;
        f += f64::from(d) * 10_000f64.powi(power);
        if power < 0 {
            exact = exact && d == 0;
        } else if exact {
            int += i128::from(d) * 10_000i128.pow(power as u32);
        }
    }
    let negative = sign == 0x4000;
    if exact {
        if let Ok(i) = i64::try_from(if negative { -int } else { int }) {
            return Ok(Value::Integer(i));
        }
    }
    Ok(Value::Real(if negative { -f } else { f }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_outside_quotes() {
        assert_eq!(
            numbered("SELECT ?1, '?2', \"a?\" FROM t WHERE x = ?12 AND y = ?"),
            "SELECT $1, '?2', \"a?\" FROM t WHERE x = $12 AND y = $1"
        );
    }

    #[test]
    fn rows_read_like_rusqlite_rows() {
        let db = Db::Sqlite(rusqlite::Connection::open_in_memory().unwrap());
        db.execute_batch("CREATE TABLE t (a INTEGER, b TEXT, c REAL)")
            .unwrap();
        db.execute(
            "INSERT INTO t VALUES (?1, ?2, ?3)",
            rusqlite::params![1, "x", 2.5],
        )
        .unwrap();
        db.execute(
            "INSERT INTO t VALUES (?1, ?2, ?3)",
            [Value::Null, Value::Null, Value::Null],
        )
        .unwrap();
        let rows = db
            .query_all("SELECT a, b, c FROM t ORDER BY a", [])
            .unwrap();
        assert_eq!(rows[0].get::<_, Option<i64>>(0).unwrap(), None);
        assert_eq!(rows[1].get::<_, i64>(0).unwrap(), 1);
        assert_eq!(rows[1].get::<_, String>(1).unwrap(), "x");
        assert!(rows[1].get::<_, i64>(1).is_err());
        let tx = db.begin(true).unwrap();
        tx.execute("DELETE FROM t", []).unwrap();
        drop(tx);
        assert_eq!(db.query_all("SELECT a FROM t", []).unwrap().len(), 2);
    }

    #[test]
    fn values_cross_to_postgres_and_back() {
        let Some(cfg) = crate::store::pg::test_config("values_cross_to_postgres_and_back") else {
            return;
        };
        let mut client = crate::store::pg::connect(&cfg, "scorecard test").unwrap();
        crate::store::pg::prepare(&mut client, &cfg.schema).unwrap();
        let db = Db::Postgres(Box::new(RefCell::new(PgConn::new(client))));
        db.execute_batch(
            "CREATE TABLE t (a BIGINT, b TEXT, c DOUBLE PRECISION, d BYTEA, e INTEGER)",
        )
        .unwrap();
        let n = db
            .execute(
                "INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![7, "x", 2.5, vec![1u8, 2], 7],
            )
            .unwrap();
        assert_eq!(n, 1);
        db.execute(
            "INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5)",
            [
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
            ],
        )
        .unwrap();
        let r = &db
            .query_all("SELECT a, b, c, d, e, sum(a) OVER (), EXISTS (SELECT 1 FROM t WHERE b = ?1) FROM t WHERE a = ?2", rusqlite::params!["x", 7])
            .unwrap()[0];
        assert_eq!(r.get::<_, i64>(0).unwrap(), 7);
        assert_eq!(r.get::<_, String>(1).unwrap(), "x");
        assert_eq!(r.get::<_, f64>(2).unwrap(), 2.5);
        assert_eq!(r.get::<_, Vec<u8>>(3).unwrap(), vec![1, 2]);
        assert_eq!(r.get::<_, i64>(4).unwrap(), 7);
        assert_eq!(
            r.get::<_, i64>(5).unwrap(),
            7,
            "NUMERIC sums read as integers"
        );
        assert!(r.get::<_, bool>(6).unwrap());
        let r = &db
            .query_all("SELECT 12345678901.25::numeric, (-3)::numeric", [])
            .unwrap()[0];
        assert_eq!(r.get::<_, f64>(0).unwrap(), 12345678901.25);
        assert_eq!(r.get::<_, i64>(1).unwrap(), -3);
        let tx = db.begin(true).unwrap();
        tx.execute("DELETE FROM t", []).unwrap();
        drop(tx);
        assert_eq!(db.query_all("SELECT a FROM t", []).unwrap().len(), 2);
    }
}
