//! Import into the PostgreSQL store: the parsed rows of one file go by
//! binary COPY (in chunks, so memory stays flat) into a temporary staging
//! table, then one set-based statement upserts them:
//! `INSERT … SELECT … ON CONFLICT (id) DO UPDATE … WHERE row_hash IS DISTINCT
//! FROM excluded.row_hash RETURNING (xmax = 0)` tells inserted from replaced
//! rows (unchanged ones are not written at all). Ids repeated within the file
//! are found in the staging table (the first line wins, as on SQLite). All of
//! it runs inside the import's one transaction.
use std::collections::BTreeSet;
use std::io::Write;

use anyhow::{Context, Result};
use bytes::{BufMut, BytesMut};
use postgres::types::{ToSql, Type};
use rusqlite::types::Value;

use super::sql::{Db, PgParam};
use super::tables::Row;
use crate::sources::Table;

/// Rows buffered before one COPY sends them.
const CHUNK_ROWS: usize = 50_000;

/// What the upsert of one file did.
#[derive(Debug, Default)]
pub struct Staged {
    pub inserted: u64,
    pub replaced: u64,
    pub unchanged: u64,
    /// Days of the rows written (new values, and old values of replaced rows).
    pub days: BTreeSet<i64>,
    /// Rows whose id appeared on an earlier line: (line, id, raw record).
    pub duplicates: Vec<(u64, String, Option<String>)>,
}

/// The staging of one file's rows.
pub struct PgStage<'t> {
    db: &'t Db,
    def: Table,
    stage: String,
    types: Vec<Type>,
    buf: BytesMut,
    buffered: usize,
    rows: u64,
    keep_raw: bool,
    /// Whether any staged row has attributes.
    any_attrs: bool,
}

/// The staging table's columns after the table's own: row_hash, line,
/// attributes (a JSON object as text) and the raw record (with --skip-invalid).
const EXTRA: [&str; 4] = ["row_hash", "line", "attrs", "raw"];

impl<'t> PgStage<'t> {
    pub fn new(db: &'t Db, def: Table, keep_raw: bool) -> Result<PgStage<'t>> {
        let stage = format!("stage_{}", def.name);
        let cols = def.column_names().join(", ");
        db.execute_batch(&format!(
            "DROP TABLE IF EXISTS {stage};
             CREATE TEMP TABLE {stage} AS SELECT {cols}, row_hash FROM {t} WITH NO DATA;
             ALTER TABLE {stage} ADD COLUMN line BIGINT, ADD COLUMN attrs TEXT, ADD COLUMN raw TEXT;",
            t = def.name
        ))?;
        let types = {
            let mut pg = db.postgres().context("a PostgreSQL stage on SQLite")?;
            let stmt = pg
                .client
                .prepare(&format!("SELECT {cols}, {} FROM {stage}", EXTRA.join(", ")))?;
            stmt.columns().iter().map(|c| c.type_().clone()).collect()
        };
        Ok(PgStage {
            db,
            def,
            stage,
            types,
            buf: BytesMut::with_capacity(1 << 20),
            buffered: 0,
            rows: 0,
            keep_raw,
            any_attrs: false,
        })
    }

    /// Adds one parsed row (from line `line` of the file).
    pub fn push(&mut self, row: &Row, line: u64, raw: impl FnOnce() -> String) -> Result<()> {
        self.any_attrs |= !row.attributes.is_empty();
        let attrs = (!row.attributes.is_empty()).then(|| {
            let map: serde_json::Map<String, serde_json::Value> = row
                .attributes
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect();
            serde_json::Value::Object(map).to_string()
        });
        let extra = [
            Value::Integer(row.hash()),
            Value::Integer(line as i64),
            attrs.map(Value::Text).unwrap_or(Value::Null),
            if self.keep_raw {
                Value::Text(raw())
            } else {
                Value::Null
            },
        ];
        let n = self.types.len();
        self.buf.put_i16(n as i16);
        for (v, ty) in row.values.iter().chain(extra.iter()).zip(&self.types) {
            let at = self.buf.len();
            self.buf.put_i32(0);
            let written = PgParam(v)
                .to_sql(ty, &mut self.buf)
                .map_err(|e| anyhow::anyhow!("cannot stage a value as {ty}: {e}"))?;
            let len = match written {
                postgres::types::IsNull::Yes => -1,
                postgres::types::IsNull::No => (self.buf.len() - at - 4) as i32,
            };
            self.buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
        }
        self.buffered += 1;
        self.rows += 1;
        if self.buffered >= CHUNK_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    /// Sends the buffered rows by one binary COPY.
    fn flush(&mut self) -> Result<()> {
        if self.buffered == 0 {
            return Ok(());
        }
        let mut pg = self.db.postgres().context("a PostgreSQL stage on SQLite")?;
        let mut w = pg
            .client
            .copy_in(&format!("COPY {} FROM STDIN (FORMAT binary)", self.stage))?;
        w.write_all(b"PGCOPY\n\xff\r\n\0")?;
        w.write_all(&0i32.to_be_bytes())?;
        w.write_all(&0i32.to_be_bytes())?;
        w.write_all(&self.buf)?;
        w.write_all(&(-1i16).to_be_bytes())?;
        w.finish()
            .context("the COPY into the staging table failed")?;
        self.buf.clear();
        self.buffered = 0;
        Ok(())
    }

    /// Upserts the staged rows. `touch_customers` (customers with a KPI
    /// cache in use) records the new and changed ones in `touched`.
    pub fn finish(
        mut self,
        snapshot_id: i64,
        want_days: bool,
        touched: Option<&str>,
    ) -> Result<Staged> {
        self.flush()?;
        let (db, def, stage) = (self.db, &self.def, self.stage.as_str());
        let keys = Keys::of(def);
        let mut out = Staged {
            duplicates: drop_duplicates(db, stage, &keys)?,
            ..Default::default()
        };
        if want_days {
            out.days = replaced_days(db, def, stage, &keys)?;
        }
        let changed = "changed_ids";
        db.execute_batch(&format!(
            "DROP TABLE IF EXISTS {changed}; CREATE TEMP TABLE {changed} ({} TEXT, PRIMARY KEY ({}));",
            keys.pk.join(" TEXT, "),
            keys.list
        ))?;
        upsert(
            db,
            def,
            stage,
            &keys,
            snapshot_id,
            want_days,
            changed,
            &mut out,
        )?;
        let staged = self.rows - out.duplicates.len() as u64;
        out.unchanged = staged - out.inserted - out.replaced;
        // A record file with no segment cell staged and none stored: skip.
        let attributes = match &def.attributes {
            Some((table, _)) if !self.any_attrs => db
                .query_all(&format!("SELECT EXISTS (SELECT 1 FROM {table})"), [])?
                .first()
                .map(|r| r.get::<_, bool>(0))
                .transpose()?
                .unwrap_or(true)
                .then_some(def.attributes.as_ref())
                .flatten(),
            other => other.as_ref(),
        };
        if let Some((table, key)) = attributes {
            db.execute_batch(&format!(
                "DELETE FROM {table} a USING {changed} c WHERE a.{key} = c.{key};
                 INSERT INTO {table} ({key}, name, value)
                 SELECT s.{key}, j.key, j.value FROM {stage} s JOIN {changed} c ON c.{key} = s.{key}
                 CROSS JOIN LATERAL jsonb_each_text(s.attrs::jsonb) j WHERE s.attrs IS NOT NULL;"
            ))?;
        }
        if let Some(touched) = touched {
            db.execute_batch(&format!(
                "INSERT INTO {touched} SELECT {} FROM {changed} ON CONFLICT DO NOTHING",
                keys.pk[0]
            ))?;
        }
        db.execute_batch(&format!("DROP TABLE {stage}; DROP TABLE {changed};"))?;
        Ok(out)
    }
}

/// A table's key columns, as the upsert's SQL writes them.
struct Keys<'a> {
    pk: Vec<&'a str>,
    /// `a, b`
    list: String,
    /// The key as text for messages: `a::text || ', ' || b::text`.
    text: String,
    /// The staged row joined to the stored one: `t.a = s.a AND t.b = s.b`.
    join: String,
}

impl<'a> Keys<'a> {
    fn of(def: &'a Table) -> Keys<'a> {
        let columns = def.column_names();
        let pk: Vec<&str> = columns[..def.pk_len].to_vec();
        Keys {
            list: pk.join(", "),
            text: pk
                .iter()
                .map(|c| format!("{c}::text"))
                .collect::<Vec<_>>()
                .join(" || ', ' || "),
            join: pk
                .iter()
                .map(|c| format!("t.{c} = s.{c}"))
                .collect::<Vec<_>>()
                .join(" AND "),
            pk,
        }
    }
}

/// Ids repeated within the file: the first line wins; the later lines are
/// removed from the staging table and returned as (line, id, raw record).
fn drop_duplicates(
    db: &Db,
    stage: &str,
    keys: &Keys,
) -> Result<Vec<(u64, String, Option<String>)>> {
    let (pk_list, pk_text) = (&keys.list, &keys.text);
    let dups = db.query_all(
        &format!(
            "SELECT line, {pk_text}, raw FROM (
               SELECT line, raw, {pk_list}, row_number() OVER (PARTITION BY {pk_list} ORDER BY line) AS rn
               FROM {stage}) d WHERE rn > 1 ORDER BY line"
        ),
        [],
    )?;
    let mut out = Vec::new();
    if !dups.is_empty() {
        for r in &dups {
            out.push((r.get::<_, i64>(0)? as u64, r.get(1)?, r.get(2)?));
        }
        db.execute_batch(&format!(
            "DELETE FROM {stage} s USING (
               SELECT line, row_number() OVER (PARTITION BY {pk_list} ORDER BY line) AS rn FROM {stage}
             ) d WHERE d.line = s.line AND d.rn > 1"
        ))?;
    }
    Ok(out)
}

/// The old days of the stored rows about to be replaced.
fn replaced_days(db: &Db, def: &Table, stage: &str, keys: &Keys) -> Result<BTreeSet<i64>> {
    let mut days = BTreeSet::new();
    for day in &def.day_columns {
        let rows = db.query_all(
            &format!(
                "SELECT DISTINCT t.{day} FROM {t} t JOIN {stage} s ON {join}
                 WHERE t.row_hash IS DISTINCT FROM s.row_hash AND t.{day} IS NOT NULL",
                t = def.name,
                join = keys.join
            ),
            [],
        )?;
        for r in rows {
            days.insert(r.get(0)?);
        }
    }
    Ok(days)
}

/// The one upsert of the staged rows: inserted and replaced counted, the
/// new rows' days added to `out.days` (with `want_days`), the ids written
/// recorded in the temporary table `changed`.
#[allow(clippy::too_many_arguments)]
fn upsert(
    db: &Db,
    def: &Table,
    stage: &str,
    keys: &Keys,
    snapshot_id: i64,
    want_days: bool,
    changed: &str,
    out: &mut Staged,
) -> Result<()> {
    let columns = def.column_names();
    let cols = columns.join(", ");
    let pk_list = &keys.list;
    let sets: Vec<String> = columns[def.pk_len..]
        .iter()
        .chain(["snapshot_id", "row_hash"].iter())
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    let days: Vec<String> = def.day_columns.iter().map(|d| d.to_string()).collect();
    let group: Vec<String> = std::iter::once("inserted".to_string())
        .chain(days.iter().filter(|_| want_days).cloned())
        .collect();
    let returning: Vec<String> = std::iter::once("(xmax = 0) AS inserted".to_string())
        .chain(keys.pk.iter().map(|c| c.to_string()))
        .chain(days.iter().cloned())
        .collect();
    let rows = db.query_all(
        &format!(
            "WITH up AS (
               INSERT INTO {t} AS t ({cols}, snapshot_id, row_hash)
               SELECT {cols}, ?1, row_hash FROM {stage}
               ON CONFLICT ({pk_list}) DO UPDATE SET {sets}
               WHERE t.row_hash IS DISTINCT FROM excluded.row_hash
               RETURNING {returning}
             ), ch AS (
               INSERT INTO {changed} SELECT {pk_list} FROM up
             )
             SELECT {group}, count(*) FROM up GROUP BY {group}",
            t = def.name,
            sets = sets.join(", "),
            returning = returning.join(", "),
            group = group.join(", "),
        ),
        [snapshot_id],
    )?;
    for r in rows {
        let n = r.get::<_, i64>(group.len())? as u64;
        if r.get::<_, bool>(0)? {
            out.inserted += n;
        } else {
            out.replaced += n;
        }
        for i in 1..group.len() {
            if let Some(d) = r.get::<_, Option<i64>>(i)? {
                out.days.insert(d);
            }
        }
    }
    Ok(())
}
