//! Warehouse mode (`[source] url` + `[source.tables]`): the CRM data stays in
//! the user's PostgreSQL tables or views, shaped like the snapshot files
//! (snapshot-format.md's columns in SQL types), and the KPI engine's grouped
//! queries run there, with no import. The store (`[store]`, SQLite or
//! PostgreSQL) keeps the ledgers, the KPI cache and the runs.
//!
//! How: every statement a reader runs on the warehouse is prefixed with
//! `WITH customers AS NOT MATERIALIZED (SELECT … FROM crm.v_customers t), …`,
//! one definition per store table, converting the user's columns into the
//! store's internal shape (text trimmed, dates as text beside their day
//! number, instants in milliseconds, the local day in the report time zone,
//! the extra columns named in `[report] segments` unpivoted into the
//! attribute tables of customers, spend and the records). The planner inlines them, so the engine's SQL (Citus-friendly:
//! no GROUPING SETS, recursive CTEs or ordered-set aggregates) runs on the
//! user's tables unchanged, only grouped rows cross the wire, and nothing
//! is created on the server: the session is read-only (a replica will do).
//!
//! On connecting, each table is checked (it exists, it has the required
//! columns), and read once for its fingerprint (rows, the latest of its
//! dates, a hash of every row: the KPI cache key, so that a change in the
//! warehouse recomputes), its as-of instant (as an import would record it)
//! and its rows a snapshot file would refuse: any such row refuses the run
//! (exit 3), naming the table, the row's id and the column.
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::{Context, Result};
use chrono_tz::Tz;

use super::pg::describe;
use super::sql::{self, Db, Row};
pub use crate::config::{check_relation, WarehouseConfig};
use crate::error::Failure;
use crate::sources::{ColumnType, FileKind, Table};

/// One configured table, as read on connecting.
#[derive(Debug, Clone)]
pub struct TableState {
    pub kind: FileKind,
    pub relation: String,
    /// Its columns, lowercase.
    pub columns: BTreeSet<String>,
    pub rows: u64,
    /// SHA-256 (hex) of its rows' count, the latest of each of its dates
    /// and the sum of a hash of every row.
    pub fingerprint: String,
    /// The instant its data is known up to (RFC 3339), for dated files.
    pub as_of: Option<String>,
}

/// The connection to the warehouse and what was read on connecting.
pub struct Warehouse {
    pub(super) conn: Db,
    url: String,
    /// The `WITH` list every reader statement starts with (see module doc).
    pub(super) prelude: String,
    pub tables: Vec<TableState>,
    /// When it was read (RFC 3339), for the data-quality section.
    pub read_at: String,
    version: String,
}

/// A column of the user's relation: its lowercase name → its real name.
type Present = BTreeMap<String, String>;

impl Warehouse {
    /// Connects, checks every configured table and reads its fingerprint,
    /// as-of and refused rows (see the module doc).
    pub fn open(
        cfg: &WarehouseConfig,
        tz: Tz,
        segments: &[String],
        read_at: &str,
    ) -> Result<Warehouse> {
        let mut client = connect(cfg)?;
        let tz_literal = literal(tz.name());
        client
            .batch_execute(&format!(
                "SET client_min_messages = warning; SET TimeZone = {tz_literal}; SET DateStyle = ISO; \
                 SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"
            ))
            .with_context(|| {
                format!(
                    "cannot prepare the warehouse session on {} (time zone {})",
                    describe(&cfg.url),
                    tz.name()
                )
            })?;
        let version: String = client.query_one("SHOW server_version", &[])?.get(0);
        let mut present: BTreeMap<FileKind, Present> = BTreeMap::new();
        for (kind, relation) in &cfg.tables {
            let cols = columns_of(&mut client, relation)
                .with_context(|| format!("reading the columns of {relation}"))?
                .ok_or_else(|| {
                    Failure::usage(format!(
                        "[source.tables] {} = \"{relation}\": no such table or view on {} (or this user may not read it): create it, or fix the name",
                        kind.key(),
                        describe(&cfg.url)
                    ))
                })?;
            for c in kind.columns().iter().filter(|c| c.required) {
                if !cols.contains_key(c.name) {
                    return Err(Failure::input(format!(
                        "[source.tables] {} = \"{relation}\": column {} is missing (a {} needs {}; it has {})",
                        kind.key(),
                        c.name,
                        kind.default_file_name(),
                        required_list(*kind),
                        cols.keys().cloned().collect::<Vec<_>>().join(", ")
                    ))
                    .into());
                }
            }
            present.insert(*kind, cols);
        }
        let relations: BTreeMap<FileKind, &str> =
            cfg.tables.iter().map(|(k, r)| (*k, r.as_str())).collect();
        let prelude = prelude(&relations, &present, segments, tz);
        let mut w = Warehouse {
            conn: Db::Postgres(Box::new(std::cell::RefCell::new(sql::PgConn::new(client)))),
            url: cfg.url.clone(),
            prelude,
            tables: Vec::new(),
            read_at: read_at.to_string(),
            version,
        };
        for (kind, relation) in &cfg.tables {
            let state = w
                .read_table(*kind, relation, &present[kind], tz)
                .with_context(|| format!("reading the warehouse table {relation}"))?;
            w.tables.push(state);
        }
        Ok(w)
    }

    /// The connection, for the engine's readers.
    pub fn conn(&self) -> &Db {
        &self.conn
    }

    /// A statement of the store's tables, to run on the warehouse.
    pub fn wrap(&self, sql: &str) -> String {
        with_prelude(&self.prelude, sql)
    }

    fn rows(&self, sql: &str) -> Result<Vec<Row>> {
        Ok(self.conn.query_all(&self.wrap(sql), [])?)
    }

    /// The cache key part of the warehouse: every table's fingerprint.
    pub fn fingerprint(&self) -> String {
        let parts: Vec<String> = self
            .tables
            .iter()
            .map(|t| format!("{}={}", t.kind.key(), t.fingerprint))
            .collect();
        use sha2::Digest;
        let digest = sha2::Sha256::digest(parts.join(";").as_bytes());
        format!(":warehouse={}", hex::encode(&digest[..8]))
    }

    /// `scorecard check`'s lines.
    pub fn describe(&self) -> Vec<String> {
        let mut out = vec![format!(
            "source: PostgreSQL {} at {} (warehouse mode: KPIs computed there, no import)",
            self.version,
            describe(&self.url)
        )];
        for t in &self.tables {
            out.push(format!(
                "source: {} = {}: {} rows, every needed column present{}",
                t.kind.key(),
                t.relation,
                t.rows,
                t.as_of
                    .as_ref()
                    .map(|a| format!(", data as of {a}"))
                    .unwrap_or_default()
            ));
        }
        out
    }

    /// Reads one table's fingerprint, as-of and refused rows.
    fn read_table(
        &self,
        kind: FileKind,
        relation: &str,
        present: &Present,
        tz: Tz,
    ) -> Result<TableState> {
        let table = kind.table();
        let dates: Vec<String> = dated_columns(&table);
        let rules = rules(kind, &table);
        let bad = if rules.is_empty() {
            "0".to_string()
        } else {
            let any: Vec<String> = rules.iter().map(|(cond, _)| format!("({cond})")).collect();
            format!("count(*) FILTER (WHERE {})", any.join(" OR "))
        };
        let maxes: String = dates.iter().map(|d| format!(", max(x.{d})")).collect();
        let r = self
            .rows(&format!(
                "SELECT count(*), {bad}, coalesce(sum(hashtextextended(x::text, 0)), 0)::text{maxes} FROM {} x",
                kind.key()
            ))?
            .pop()
            .expect("an aggregate returns one row");
        let rows = r.get::<_, i64>(0)? as u64;
        let refused = r.get::<_, i64>(1)? as u64;
        let hash: String = r.get(2)?;
        let maxima: Vec<Option<i64>> = (0..dates.len())
            .map(|i| r.get::<_, Option<i64>>(3 + i))
            .collect::<rusqlite::Result<_>>()?;
        if refused > 0 {
            return Err(self
                .refusal(kind, relation, &table, &rules, refused)?
                .into());
        }
        let fingerprint = {
            use sha2::Digest;
            let text = format!(
                "{rows}:{}:{hash}",
                maxima
                    .iter()
                    .map(|m| m.map(|v| v.to_string()).unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join(",")
            );
            hex::encode(sha2::Sha256::digest(text.as_bytes()))
        };
        let latest = |_: &str, cols: &[&str]| -> Result<Vec<Option<i64>>> {
            Ok(cols
                .iter()
                .map(|c| dates.iter().position(|d| d == c).and_then(|i| maxima[i]))
                .collect())
        };
        let as_of = kind
            .latest_instant(latest, tz)?
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
        Ok(TableState {
            kind,
            relation: relation.to_string(),
            columns: present.keys().cloned().collect(),
            rows,
            fingerprint,
            as_of,
        })
    }

    /// The refusal of a table with rows a snapshot file would refuse: the
    /// first ones (by id), each with its id and column.
    fn refusal(
        &self,
        kind: FileKind,
        relation: &str,
        table: &Table,
        rules: &[(String, String)],
        refused: u64,
    ) -> Result<Failure> {
        const SHOWN: usize = 10;
        let reason: Vec<String> = rules
            .iter()
            .map(|(cond, why)| format!("WHEN {cond} THEN {why}"))
            .collect();
        let key = table.columns[..table.pk_len]
            .iter()
            .map(|c| format!("x.{}", c.name))
            .collect::<Vec<_>>()
            .join(" || ', ' || ");
        let rows = self.rows(&format!(
            "SELECT id, reason FROM (SELECT {key} AS id, CASE {} END AS reason FROM {} x) r
             WHERE reason IS NOT NULL ORDER BY id LIMIT {SHOWN}",
            reason.join(" "),
            kind.key()
        ))?;
        let mut lines = vec![format!(
            "warehouse: {relation} ({}) has {refused} row{} that {} would refuse; fix {} in the warehouse (nothing was computed):",
            kind.key(),
            if refused == 1 { "" } else { "s" },
            kind.default_file_name(),
            if refused == 1 { "it" } else { "them" }
        )];
        for r in &rows {
            let id: String = r.get(0)?;
            let why: String = r.get(1)?;
            lines.push(format!("  {relation}: {} '{id}': {why}", table.pk_label()));
        }
        if refused as usize > rows.len() {
            lines.push(format!("  … and {} more", refused as usize - rows.len()));
        }
        Ok(Failure::input(lines.join("\n")))
    }
}

/// Connects to the warehouse (`[source] url`).
fn connect(cfg: &WarehouseConfig) -> Result<postgres::Client> {
    let mut pc: postgres::Config = cfg
        .url
        .parse()
        .map_err(|e| Failure::usage(format!("[source] url: not a PostgreSQL URL ({e})")))?;
    if let Some(p) = &cfg.password {
        pc.password(p.0.as_bytes());
    }
    if pc.get_connect_timeout().is_none() {
        pc.connect_timeout(Duration::from_secs(10));
    }
    pc.application_name("scorecard warehouse");
    pc.connect(postgres::NoTls).map_err(|e| {
        Failure::runtime(format!(
            "cannot connect to the warehouse {}: {} (check [source] url, that the server runs and accepts this user{})",
            describe(&cfg.url),
            e.as_db_error()
                .map(|d| d.message().to_string())
                .unwrap_or_else(|| e.to_string()),
            if cfg.password.is_some() { "" } else { ", and [source] password_env if it needs a password" }
        ))
        .into()
    })
}

/// The columns of `relation` (lowercase → real name), None when it does not
/// exist (or is not visible to this user).
fn columns_of(client: &mut postgres::Client, relation: &str) -> Result<Option<Present>> {
    let exists: Option<String> = client
        .query_one("SELECT to_regclass($1)::text", &[&relation])?
        .get(0);
    if exists.is_none() {
        return Ok(None);
    }
    let rows = client.query(
        "SELECT attname::text FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        &[&relation],
    )?;
    Ok(Some(
        rows.iter()
            .map(|r| {
                let name: String = r.get(0);
                (name.to_lowercase(), name)
            })
            .collect(),
    ))
}

fn required_list(kind: FileKind) -> String {
    kind.columns()
        .iter()
        .filter(|c| c.required)
        .map(|c| c.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A SQL string literal.
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A quoted identifier.
fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// `sql` with the warehouse's `WITH` list in front (merged into its own
/// `WITH`, if it has one).
pub fn with_prelude(prelude: &str, sql: &str) -> String {
    let trimmed = sql.trim_start();
    let upper: String = trimmed
        .chars()
        .take(16)
        .collect::<String>()
        .to_ascii_uppercase();
    if upper.starts_with("WITH RECURSIVE") {
        format!(
            "WITH RECURSIVE {prelude}, {}",
            &trimmed["WITH RECURSIVE".len()..]
        )
    } else if upper.starts_with("WITH") && trimmed[4..].starts_with(char::is_whitespace) {
        format!("WITH {prelude}, {}", &trimmed[4..])
    } else {
        format!("WITH {prelude} {trimmed}")
    }
}

/// The day and instant columns of a table (as the store names them), whose
/// maxima enter the fingerprint and the as-of.
fn dated_columns(table: &Table) -> Vec<String> {
    let file = table.kind.columns();
    table
        .columns
        .iter()
        .filter(|c| {
            c.name.ends_with("_day")
                || file
                    .iter()
                    .any(|f| f.name == c.name && f.ty == ColumnType::Timestamp)
        })
        .map(|c| c.name.clone())
        .collect()
}

/// The day number of a date expression (days since 0001-01-01, as
/// `period::day_number`).
fn day_of(date: &str) -> String {
    format!("(({date}) - DATE '0001-01-01')::bigint")
}

/// The `WITH` list: one definition per store table, from the user's
/// relation or, for a file not configured, an empty relation of its shape.
fn prelude(
    relations: &BTreeMap<FileKind, &str>,
    present: &BTreeMap<FileKind, Present>,
    segments: &[String],
    tz: Tz,
) -> String {
    let segments: Vec<String> = segments.iter().map(|s| s.to_lowercase()).collect();
    let mut defs = Vec::new();
    for kind in FileKind::ALL {
        let table = kind.table();
        let body = match (relations.get(&kind), present.get(&kind)) {
            (Some(rel), Some(cols)) => converted(&table, rel, cols, tz),
            _ => empty(&table),
        };
        defs.push(format!("{} AS NOT MATERIALIZED ({body})", table.name));
        if let Some((attr_table, key)) = &table.attributes {
            // The extra columns named in `[report] segments`, one row each
            // (an empty cell is '', as an import keeps it).
            let extra: Vec<(String, &String)> = present
                .get(&kind)
                .map(|cols| {
                    cols.iter()
                        .filter(|(lower, _)| {
                            segments.contains(lower)
                                && !kind.columns().iter().any(|c| c.name == lower.as_str())
                        })
                        .map(|(lower, real)| (lower.clone(), real))
                        .collect()
                })
                .unwrap_or_default();
            let body = match (relations.get(&kind), present.get(&kind)) {
                (Some(rel), Some(cols)) if !extra.is_empty() => {
                    let values: Vec<String> = extra
                        .iter()
                        .map(|(lower, real)| {
                            format!(
                                "({}, COALESCE(btrim(t.{}::text), ''))",
                                literal(lower),
                                ident(real)
                            )
                        })
                        .collect();
                    format!(
                        "SELECT COALESCE(btrim(t.{}::text), '') AS {key}, j.name, j.value
                         FROM {rel} t CROSS JOIN LATERAL (VALUES {}) j(name, value)",
                        ident(&cols[*key]),
                        values.join(", ")
                    )
                }
                _ => format!(
                    "SELECT NULL::text AS {key}, NULL::text AS name, NULL::text AS value WHERE false"
                ),
            };
            defs.push(format!("{attr_table} AS NOT MATERIALIZED ({body})"));
        }
    }
    defs.join(",\n")
}

fn sql_type(c: &crate::sources::TableColumn) -> &'static str {
    match c.sql_type {
        "INTEGER" => "bigint",
        "REAL" => "float8",
        _ => "text",
    }
}

fn empty(table: &Table) -> String {
    let cols: Vec<String> = table
        .columns
        .iter()
        .map(|c| format!("NULL::{} AS {}", sql_type(c), c.name))
        .collect();
    format!("SELECT {} WHERE false", cols.join(", "))
}

/// The user's relation in the store table's shape.
fn converted(table: &Table, relation: &str, cols: &Present, tz: Tz) -> String {
    let kind = table.kind;
    let file = kind.columns();
    let mut out = Vec::new();
    // Text values as an import reads them: trimmed, empty = absent.
    let text = |name: &str| -> Option<String> {
        cols.get(name)
            .map(|real| format!("NULLIF(btrim(t.{}::text), '')", ident(real)))
    };
    let lowered = |name: &str| text(name).map(|e| format!("lower({e})"));
    let stage = lowered("stage");
    for c in &table.columns {
        let src = &file[c.file_column()];
        let Some(real) = cols.get(src.name) else {
            out.push(format!("NULL::{} AS {}", sql_type(c), c.name));
            continue;
        };
        let raw = format!("t.{}", ident(real));
        let is_day = c.is_day();
        let mut e = match (src.ty, is_day) {
            (ColumnType::Date, false) => format!("to_char(({raw})::date, 'YYYY-MM-DD')"),
            (ColumnType::Date, true) => day_of(&format!("({raw})::date")),
            (ColumnType::Timestamp, false) => {
                format!("floor(extract(epoch FROM ({raw})::timestamptz) * 1000)::bigint")
            }
            (ColumnType::Timestamp, true) => day_of(&format!(
                "(({raw})::timestamptz AT TIME ZONE {})::date",
                literal(tz.name())
            )),
            (ColumnType::Decimal, _) => format!("({raw})::float8"),
            (ColumnType::Integer, _) => format!("({raw})::numeric::bigint"),
            (ColumnType::Text, _) => match (kind, src.name) {
                (FileKind::Surveys, "kind")
                | (FileKind::Spend, "category")
                | (FileKind::Deals, "stage") => lowered(src.name).expect("present"),
                _ => text(src.name).expect("present"),
            },
        };
        if src.key {
            e = format!("COALESCE({e}, '')");
        }
        // An open deal's close date is the expected close: ignored.
        if kind == FileKind::Deals && src.name == "closed_on" {
            if let Some(stage) = &stage {
                e = format!("CASE WHEN {stage} = 'open' THEN NULL ELSE {e} END");
            }
        }
        out.push(format!("{e} AS {}", c.name));
    }
    format!("SELECT {} FROM {relation} t", out.join(", "))
}

/// The rules of a file that a warehouse row is checked against, as
/// (condition on the converted row `x`, the reason as a SQL text
/// expression): what an import of the file would refuse.
fn rules(kind: FileKind, table: &Table) -> Vec<(String, String)> {
    let file = kind.columns();
    let mut out = Vec::new();
    for c in table.columns.iter().filter(|c| !c.is_day()) {
        let src = &file[c.file_column()];
        if src.key && src.required {
            out.push((
                format!("x.{} = ''", c.name),
                literal(&format!("{}: required value is empty", c.name)),
            ));
        } else if src.required && !src.key {
            out.push((
                format!("x.{} IS NULL", c.name),
                literal(&format!("{}: required value is empty", c.name)),
            ));
        }
    }
    // Years an export writes as placeholders (0001-01-01, 9999-12-31).
    let lo = crate::period::day_number(chrono::NaiveDate::from_ymd_opt(1900, 1, 1).unwrap());
    let hi = crate::period::day_number(chrono::NaiveDate::from_ymd_opt(2199, 12, 31).unwrap());
    for c in table.columns.iter().filter(|c| c.is_day()) {
        let d = &c.name;
        out.push((
            format!("x.{d} < {lo} OR x.{d} > {hi}"),
            literal(&format!(
                "{}: the year is outside 1900–2199 (a placeholder date?)",
                file[c.file_column()].name
            )),
        ));
    }
    let push = |out: &mut Vec<(String, String)>, cond: &str, why: String| {
        out.push((cond.to_string(), why));
    };
    match kind {
        FileKind::Customers => push(
            &mut out,
            "x.churned_day < x.acquired_day",
            "'churned_on: ' || x.churned_on || ' is before acquired_on ' || x.acquired_on".into(),
        ),
        FileKind::Deals => {
            push(
                &mut out,
                "x.stage NOT IN ('open', 'won', 'lost')",
                "'stage: unknown stage ''' || x.stage || ''' (expected open, won or lost)'".into(),
            );
            push(
                &mut out,
                "x.stage IN ('won', 'lost') AND x.closed_on IS NULL",
                "'closed_on: required when the deal is ' || x.stage".into(),
            );
            push(
                &mut out,
                "x.amount < 0",
                literal("amount: must not be negative"),
            );
        }
        FileKind::Orders => push(
            &mut out,
            "x.cost < 0",
            literal("cost: must not be negative"),
        ),
        FileKind::Tickets => {
            for c in ["first_response_at", "resolved_at"] {
                push(
                    &mut out,
                    &format!("x.{c} < x.opened_at"),
                    literal(&format!("{c}: before opened_at")),
                );
            }
        }
        FileKind::Surveys => {
            push(
                &mut out,
                "x.kind NOT IN ('nps', 'csat')",
                "'kind: unknown survey kind ''' || x.kind || ''' (expected nps or csat)'".into(),
            );
            push(
                &mut out,
                "(x.kind = 'nps' AND x.score NOT BETWEEN 0 AND 10) OR (x.kind = 'csat' AND x.score NOT BETWEEN 1 AND 5)",
                "'score: ' || x.score || ' is outside the ' || x.kind || ' range ' || CASE WHEN x.kind = 'nps' THEN '0..10' ELSE '1..5' END".into(),
            );
        }
        FileKind::Spend => {
            push(
                &mut out,
                "x.category NOT IN ('marketing', 'sales', 'crm', 'other')",
                "'category: unknown spend category ''' || x.category || ''' (expected marketing, sales, crm or other)'".into(),
            );
            push(
                &mut out,
                "x.amount < 0",
                literal("amount: must not be negative"),
            );
        }
        FileKind::Activities | FileKind::Measures => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relations_are_schema_qualified_plain_names() {
        assert!(check_relation("crm.v_customers").is_ok());
        assert!(check_relation("Sales.Deals_2").is_ok());
        assert!(check_relation("deals").unwrap_err().contains("crm.deals"));
        for bad in ["crm.deals; drop", "crm.", ".x", "a.b.c", "crm.\"x\""] {
            assert!(check_relation(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_prelude_goes_in_front_or_joins_the_statements_own_with() {
        assert_eq!(
            with_prelude("a AS (x)", "SELECT 1"),
            "WITH a AS (x) SELECT 1"
        );
        assert_eq!(
            with_prelude("a AS (x)", "  WITH c AS (SELECT 2) SELECT * FROM c"),
            "WITH a AS (x),  c AS (SELECT 2) SELECT * FROM c"
        );
        assert_eq!(
            with_prelude(
                "a AS (x)",
                "WITH RECURSIVE k(n) AS (SELECT 1) SELECT n FROM k"
            ),
            "WITH RECURSIVE a AS (x),  k(n) AS (SELECT 1) SELECT n FROM k"
        );
        assert_eq!(with_prelude("a AS (x)", "WITHOUT"), "WITH a AS (x) WITHOUT");
    }

    /// Citus distributes none of these: the warehouse's definitions must
    /// not use them either.
    #[test]
    fn the_warehouse_sql_is_one_citus_distributes() {
        let mut relations = BTreeMap::new();
        let mut present = BTreeMap::new();
        for kind in FileKind::ALL {
            relations.insert(kind, "crm.x");
            let cols: Present = kind
                .columns()
                .iter()
                .map(|c| (c.name.to_string(), c.name.to_string()))
                .chain([("region".to_string(), "Region".to_string())])
                .collect();
            present.insert(kind, cols);
        }
        let sql = prelude(
            &relations,
            &present,
            &["Region".to_string()],
            Tz::Europe__Berlin,
        );
        assert!(
            sql.contains("('region', COALESCE(btrim(t.\"Region\"::text), ''))"),
            "{sql}"
        );
        let refused = crate::store::dialect::citus_refusals(&sql);
        assert!(refused.is_empty(), "{refused:?} in: {sql}");
        assert!(
            sql.contains("customer_attributes AS NOT MATERIALIZED"),
            "{sql}"
        );
        assert!(sql.contains("AT TIME ZONE 'Europe/Berlin'"), "{sql}");
        for kind in FileKind::ALL {
            assert!(!rules(kind, &kind.table()).is_empty() || kind == FileKind::Activities);
        }
    }
}
