//! The snapshot files (snapshot-format.md), each described once: one module
//! per file implements [`Source`], saying its columns, its row rules, the
//! dates that place its rows in periods, and (through the catalogue) the
//! KPIs it feeds. Everything else derives from that description: the
//! importer reads and checks rows with it, the store's tables and migrations
//! take their column lists from it ([`FileKind::table`]), the engine's
//! readers, the staleness check, the data-quality section and the "never
//! imported" reasons ask it. Adding a file or a column touches one module.
//!
//! A leaf: it knows the period arithmetic and the KPI catalogue (data), and
//! nothing of the stages that use it.
mod activities;
pub mod cells;
mod customers;
mod deals;
pub mod format;
mod measures;
mod orders;
mod spend;
mod surveys;
mod tickets;
pub mod values;

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use rusqlite::types::Value;

pub use cells::{
    CellError, Cells, DurationColumn, DurationUnit, Extras, RowNotes, RuleCtx, StageFrom,
};

use crate::catalogue::{self, KpiDef};
use crate::period;

/// What a file's module says of it, as data.
#[derive(Debug)]
pub struct Description {
    pub kind: FileKind,
    /// The file's columns in the documented order. The first key column is
    /// the row's id; the table holds the key columns first.
    pub columns: &'static [Column],
    /// Whether unknown columns are kept as segment attributes.
    pub keeps_attributes: bool,
    /// A record file's own segment cells: the table (added by a later
    /// migration than the file's own) that keeps its extra columns named in
    /// `[report] segments`, which win over its customer's attributes.
    pub segment_cells: Option<&'static str>,
    /// The day column that places a row in a period (and tells whether the
    /// file is stale), for the dated files.
    pub period_day: Option<&'static str>,
    /// The day column of the rows the data-quality section checks for
    /// customers the store does not know.
    pub unknown_customer_day: Option<&'static str>,
    /// Where the file's warnings stand in the reports' lists (stale sources,
    /// unknown customers): lower first.
    pub report_rank: u8,
}

impl Description {
    /// An undated file that keeps no attributes.
    pub const fn new(kind: FileKind, columns: &'static [Column]) -> Description {
        Description {
            kind,
            columns,
            keeps_attributes: false,
            segment_cells: None,
            period_day: None,
            unknown_customer_day: None,
            report_rank: u8::MAX,
        }
    }

    pub const fn keeping_attributes(self) -> Description {
        Description {
            keeps_attributes: true,
            ..self
        }
    }

    /// A record file whose extra columns named in `[report] segments` are
    /// its own segment cells, kept in `table`.
    pub const fn with_segment_cells(self, table: &'static str) -> Description {
        Description {
            segment_cells: Some(table),
            ..self
        }
    }

    /// Rows placed in periods by `day`; `rank` orders the reports' warnings.
    pub const fn dated(self, day: &'static str, rank: u8) -> Description {
        Description {
            period_day: Some(day),
            report_rank: rank,
            ..self
        }
    }

    pub const fn unknown_customers(self, day: &'static str) -> Description {
        Description {
            unknown_customer_day: Some(day),
            ..self
        }
    }
}

/// One snapshot file, as its module describes it.
pub trait Source: Sync {
    fn describe(&self) -> &'static Description;
    /// The row rules: reads one record's cells (in the order its problems
    /// are reported) and returns one field per column, in column order.
    fn read(&self, c: &mut Cells, ctx: &RuleCtx) -> Vec<Field>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileKind {
    Customers,
    Deals,
    Orders,
    Tickets,
    Surveys,
    Spend,
    Activities,
    Measures,
}

impl FileKind {
    /// Import order: customers first, so that later rows see their segments.
    pub const ALL: [FileKind; 8] = [
        FileKind::Customers,
        FileKind::Deals,
        FileKind::Orders,
        FileKind::Tickets,
        FileKind::Surveys,
        FileKind::Spend,
        FileKind::Activities,
        FileKind::Measures,
    ];

    /// The file's description.
    pub fn source(self) -> &'static dyn Source {
        match self {
            FileKind::Customers => &customers::Customers,
            FileKind::Deals => &deals::Deals,
            FileKind::Orders => &orders::Orders,
            FileKind::Tickets => &tickets::Tickets,
            FileKind::Surveys => &surveys::Surveys,
            FileKind::Spend => &spend::Spend,
            FileKind::Activities => &activities::Activities,
            FileKind::Measures => &measures::Measures,
        }
    }

    /// The config key and table name (`customers`).
    pub fn key(self) -> &'static str {
        match self {
            FileKind::Customers => "customers",
            FileKind::Deals => "deals",
            FileKind::Orders => "orders",
            FileKind::Tickets => "tickets",
            FileKind::Surveys => "surveys",
            FileKind::Spend => "spend",
            FileKind::Activities => "activities",
            FileKind::Measures => "measures",
        }
    }

    pub fn default_file_name(self) -> String {
        format!("{}.csv", self.key())
    }

    pub fn parse(key: &str) -> Option<FileKind> {
        FileKind::ALL.into_iter().find(|k| k.key() == key)
    }

    /// The instant this file's stored rows are known up to, as an import
    /// records it without `--as-of` (kpis.md "Data as of"), `latest`
    /// reading the maxima of a table's columns: tickets, the latest of their
    /// instants; another dated file, the end of its latest day in `tz`; an
    /// undated file, none.
    pub fn latest_instant<E>(
        self,
        latest: impl Fn(&str, &[&str]) -> Result<Vec<Option<i64>>, E>,
        tz: Tz,
    ) -> Result<Option<DateTime<Utc>>, E> {
        use chrono::TimeZone;
        if self == FileKind::Tickets {
            let ms = latest(
                self.key(),
                &["opened_at", "first_response_at", "resolved_at"],
            )?;
            return Ok(ms
                .into_iter()
                .flatten()
                .max()
                .and_then(DateTime::<Utc>::from_timestamp_millis));
        }
        let Some(day) = self.describe().period_day else {
            return Ok(None);
        };
        let Some(last) = latest(self.key(), &[day])?[0] else {
            return Ok(None);
        };
        let next = period::date_from_day(last + 1).and_time(chrono::NaiveTime::MIN);
        Ok(tz
            .from_local_datetime(&next)
            .earliest()
            .map(|t| t.with_timezone(&Utc)))
    }

    /// What the file's module says of it.
    pub fn describe(self) -> &'static Description {
        self.source().describe()
    }

    pub fn columns(self) -> &'static [Column] {
        self.describe().columns
    }

    /// Whether unknown columns are kept as segment attributes.
    pub fn keeps_attributes(self) -> bool {
        self.describe().keeps_attributes
    }

    /// Whether a record carries its own segment cells (extra columns named
    /// in `[report] segments`, and its `owner`), which win over its
    /// customer's attributes.
    pub fn has_segment_cells(self) -> bool {
        self.describe().segment_cells.is_some()
    }

    /// Whether `owner` is one of the file's own columns (deals, activities):
    /// then it is the record's `owner` segment cell.
    pub fn has_owner(self) -> bool {
        self.columns().iter().any(|c| c.name == "owner")
    }

    /// The built-in KPIs computed from this file alone: when it was never
    /// imported, they are null for that reason.
    pub fn feeds_alone(self) -> impl Iterator<Item = &'static KpiDef> {
        catalogue::BUILT_IN
            .iter()
            .filter(move |k| k.inputs == [self.key()])
    }

    /// Whether any KPI is computed from this file (measures.csv only
    /// overrides figures): a report lists the ones never imported.
    pub fn feeds_kpis(self) -> bool {
        catalogue::BUILT_IN
            .iter()
            .chain(catalogue::ROI)
            .any(|k| k.inputs.contains(&self.key()))
    }

    /// The dated files, in the order the reports list their warnings.
    pub fn by_report_rank() -> Vec<FileKind> {
        let mut kinds: Vec<FileKind> = FileKind::ALL
            .into_iter()
            .filter(|k| k.describe().period_day.is_some())
            .collect();
        kinds.sort_by_key(|k| k.describe().report_rank);
        kinds
    }

    /// The table that holds the file's rows.
    pub fn table(self) -> Table {
        Table::of(self)
    }
}

/// `(table, day column)` of every day column of the tables whose rows belong
/// to a customer's segment.
pub fn customer_linked_days() -> Vec<(&'static str, String)> {
    FileKind::ALL
        .into_iter()
        .map(FileKind::table)
        .filter(Table::customer_linked)
        .flat_map(|t| {
            let name = t.name;
            t.day_columns.into_iter().map(move |d| (name, d))
        })
        .collect()
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Text,
    /// A calendar date, stored as text beside its day number.
    Date,
    /// An instant, stored as seconds since the epoch.
    Timestamp,
    Decimal,
    Integer,
}

#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub ty: ColumnType,
    pub required: bool,
    /// Part of the row's key (the id, or measures' period, KPI and segment).
    pub key: bool,
    /// Stored with a day number (`<stem>_day`) that places the row in periods.
    pub dated: bool,
}

impl Column {
    /// The stored name of its day number: `acquired_on` → `acquired_day`.
    pub fn day_column(&self) -> Option<String> {
        let stem = self
            .name
            .strip_suffix("_on")
            .or_else(|| self.name.strip_suffix("_at"))
            .unwrap_or(self.name);
        self.dated.then(|| format!("{stem}_day"))
    }
}

/// The id (required, the row's key).
pub const fn id(name: &'static str) -> Column {
    key(name, ColumnType::Text, true)
}

/// A key column.
pub const fn key(name: &'static str, ty: ColumnType, required: bool) -> Column {
    Column {
        name,
        ty,
        required,
        key: true,
        dated: false,
    }
}

/// A required column.
pub const fn req(name: &'static str, ty: ColumnType) -> Column {
    Column {
        name,
        ty,
        required: true,
        key: false,
        dated: matches!(ty, ColumnType::Date),
    }
}

/// An optional column.
pub const fn opt(name: &'static str, ty: ColumnType) -> Column {
    Column {
        required: false,
        ..req(name, ty)
    }
}

/// A timestamp column that also places its row in periods (by its local date).
pub const fn dated_instant(name: &'static str) -> Column {
    Column {
        dated: true,
        ..req(name, ColumnType::Timestamp)
    }
}

/// One checked cell of a row, before it is stored.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    Null,
    Text(String),
    Date(NaiveDate),
    Instant(DateTime<Utc>),
    Real(f64),
    Integer(i64),
}

impl Field {
    pub fn text(t: Option<String>) -> Field {
        t.map(Field::Text).unwrap_or(Field::Null)
    }
    pub fn date(d: Option<NaiveDate>) -> Field {
        d.map(Field::Date).unwrap_or(Field::Null)
    }
    pub fn instant(t: Option<DateTime<Utc>>) -> Field {
        t.map(Field::Instant).unwrap_or(Field::Null)
    }
    pub fn real(v: Option<f64>) -> Field {
        v.map(Field::Real).unwrap_or(Field::Null)
    }
    pub fn integer(v: Option<i64>) -> Field {
        v.map(Field::Integer).unwrap_or(Field::Null)
    }
}

/// One stored column of a file's table.
#[derive(Debug, Clone)]
pub struct TableColumn {
    pub name: String,
    pub sql_type: &'static str,
    pub not_null: bool,
    /// The file column it comes from.
    from: usize,
    /// Whether it is that column's day number.
    day: bool,
    /// Part of the key (an empty key cell is stored as '').
    key: bool,
}

impl TableColumn {
    /// The file column it comes from (an index into the file's columns).
    pub fn file_column(&self) -> usize {
        self.from
    }

    /// Whether it is that column's day number.
    pub fn is_day(&self) -> bool {
        self.day
    }
}

/// A backend's words for the column types and table options a file's
/// table uses (its own `TEXT` is everyone's).
#[derive(Debug, Clone, Copy)]
pub struct Ddl {
    pub integer: &'static str,
    pub real: &'static str,
    /// After a table whose key is all it is looked up by (SQLite's
    /// ` WITHOUT ROWID`).
    pub keyed_table_suffix: &'static str,
}

/// A file's table, derived from its columns: the key columns first, each
/// dated column followed by its day number, then `snapshot_id` and
/// `row_hash` (the ledger entry that last wrote the row, and its hash; the
/// SQLite store dropped `row_hash` in its migration 10 and compares values).
#[derive(Debug, Clone)]
pub struct Table {
    pub kind: FileKind,
    pub name: &'static str,
    pub columns: Vec<TableColumn>,
    pub pk_len: usize,
    /// The day numbers, in column order.
    pub day_columns: Vec<String>,
    /// `(table, key column)` of the segment attributes, for the files that
    /// keep them (customers, spend: every extra column) and the record files
    /// (their segment cells).
    pub attributes: Option<(String, &'static str)>,
}

impl Table {
    fn of(kind: FileKind) -> Table {
        let file = kind.columns();
        let order = (0..file.len())
            .filter(|i| file[*i].key)
            .chain((0..file.len()).filter(|i| !file[*i].key));
        let mut columns = Vec::new();
        for from in order {
            let c = &file[from];
            let not_null = c.required || c.key;
            let sql_type = match c.ty {
                ColumnType::Text | ColumnType::Date => "TEXT",
                ColumnType::Timestamp | ColumnType::Integer => "INTEGER",
                ColumnType::Decimal => "REAL",
            };
            columns.push(TableColumn {
                name: c.name.to_string(),
                sql_type,
                not_null,
                from,
                day: false,
                key: c.key,
            });
            if let Some(day) = c.day_column() {
                columns.push(TableColumn {
                    name: day,
                    sql_type: "INTEGER",
                    not_null,
                    from,
                    day: true,
                    key: false,
                });
            }
        }
        let id = file[0].name;
        Table {
            kind,
            name: kind.key(),
            pk_len: file.iter().filter(|c| c.key).count(),
            day_columns: columns
                .iter()
                .filter(|c| c.day)
                .map(|c| c.name.clone())
                .collect(),
            attributes: match kind.describe().segment_cells {
                Some(table) => Some((table.to_string(), id)),
                None => kind.keeps_attributes().then(|| {
                    let stem = id.strip_suffix("_id").unwrap_or(id);
                    (format!("{stem}_attributes"), id)
                }),
            },
            columns,
        }
    }

    pub fn column_names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }

    pub fn pk_label(&self) -> String {
        self.column_names()[..self.pk_len].join(", ")
    }

    /// `(instant column, its day column)`: days that follow the report time
    /// zone (derived again when it changes).
    pub fn local_days(&self) -> Vec<(&str, &str)> {
        let file = self.kind.columns();
        self.columns
            .iter()
            .filter(|c| c.day && file[c.from].ty == ColumnType::Timestamp)
            .map(|c| (file[c.from].name, c.name.as_str()))
            .collect()
    }

    /// Whether the rows belong to a customer (and so to its segments).
    pub fn customer_linked(&self) -> bool {
        self.columns[self.pk_len..]
            .iter()
            .any(|c| c.name == "customer_id")
    }

    /// The `CREATE TABLE` statements (the table, and its attributes table)
    /// in a backend's types, laid out as migration 1 shipped them.
    pub fn create_sql(&self, ddl: &Ddl) -> String {
        let ty = |t: &'static str| match t {
            "INTEGER" => ddl.integer,
            "REAL" => ddl.real,
            other => other,
        };
        let mut lines: Vec<String> = self
            .columns
            .iter()
            .map(|c| {
                let constraint = match (self.pk_len, c.not_null) {
                    (1, _) if c.name == self.columns[0].name => " PRIMARY KEY",
                    (_, true) => " NOT NULL",
                    (_, false) => "",
                };
                format!("{} {}{constraint}", c.name, ty(c.sql_type))
            })
            .collect();
        lines.push(format!("snapshot_id {} NOT NULL", ddl.integer));
        lines.push(format!("row_hash {} NOT NULL", ddl.integer));
        if self.pk_len > 1 {
            lines.push(format!("PRIMARY KEY ({})", self.pk_label()));
        }
        let mut sql = format!(
            "    CREATE TABLE {} (\n        {}\n    );\n",
            self.name,
            lines.join(",\n        ")
        );
        // A record file's segment cells came later, in a migration of their own.
        if let Some((table, key)) = self
            .attributes
            .as_ref()
            .filter(|_| self.kind.keeps_attributes())
        {
            sql.push_str(&format!(
                "    CREATE TABLE {table} (\n        {key} TEXT NOT NULL,\n        name TEXT NOT NULL,\n        value TEXT NOT NULL,\n        PRIMARY KEY ({key}, name)\n    ){};\n",
                ddl.keyed_table_suffix
            ));
        }
        sql
    }

    /// A row's stored values (in table column order) and its day numbers
    /// (in `day_columns` order), from its fields (in file column order).
    pub fn values(&self, fields: &[Field], tz: Tz) -> (Vec<Value>, Vec<Option<i64>>) {
        self.values_with(fields.to_vec(), tz, true)
    }

    /// [`Table::values`] of owned fields (their text moves into the values,
    /// no copy), with the dates' text left out (NULL) unless `date_text`: a
    /// store that keeps only the day numbers (SQLite's compact tables)
    /// spares formatting and allocating it for every row.
    pub fn values_with(
        &self,
        mut fields: Vec<Field>,
        tz: Tz,
        date_text: bool,
    ) -> (Vec<Value>, Vec<Option<i64>>) {
        let mut values = Vec::with_capacity(self.columns.len());
        let mut days = Vec::with_capacity(self.day_columns.len());
        for c in &self.columns {
            let field = &mut fields[c.from];
            let v = if c.day {
                let day = match field {
                    Field::Date(d) => Some(period::day_number(*d)),
                    Field::Instant(t) => Some(period::day_number(period::local_date(*t, tz))),
                    _ => None,
                };
                days.push(day);
                day.map(Value::Integer).unwrap_or(Value::Null)
            } else {
                match field {
                    Field::Null if c.key => Value::Text(String::new()),
                    Field::Null => Value::Null,
                    // Each file column is one table column (its day number
                    // aside): a text is taken once.
                    Field::Text(t) => Value::Text(std::mem::take(t)),
                    Field::Date(_) if !date_text => Value::Null,
                    Field::Date(d) => Value::Text(d.to_string()),
                    Field::Instant(t) => Value::Integer(values::millis(*t)),
                    Field::Real(r) => Value::Real(*r),
                    Field::Integer(i) => Value::Integer(*i),
                }
            };
            values.push(v);
        }
        (values, days)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(t: &Table) -> Vec<&str> {
        t.column_names()
    }

    #[test]
    fn tables_follow_the_file_columns() {
        let c = FileKind::Customers.table();
        let expected = [
            "customer_id",
            "acquired_on",
            "acquired_day",
            "churned_on",
            "churned_day",
        ];
        assert_eq!(names(&c), expected);
        assert_eq!(c.day_columns, ["acquired_day", "churned_day"]);
        assert_eq!(
            c.attributes,
            Some(("customer_attributes".to_string(), "customer_id"))
        );
        let t = FileKind::Tickets.table();
        assert_eq!(t.day_columns, ["opened_day"]);
        assert_eq!(t.local_days(), [("opened_at", "opened_day")]);
        assert!(c.local_days().is_empty());
        assert_eq!(names(&t)[..3], ["ticket_id", "opened_at", "opened_day"]);
        // measures: the key (period, kpi, segment) first, then the value.
        let m = FileKind::Measures.table();
        assert_eq!(names(&m), ["period", "kpi", "segment", "value"]);
        assert_eq!(
            (m.pk_len, m.pk_label().as_str()),
            (3, "period, kpi, segment")
        );
        assert!(m.day_columns.is_empty() && m.attributes.is_none());
    }

    #[test]
    fn every_file_reads_one_field_per_column() {
        let (stages, formats) = (Default::default(), Default::default());
        let durations = Default::default();
        let extras = Extras::default();
        let known = |_: &str| true;
        let ctx = RuleCtx {
            date_format: None,
            timestamp_format: None,
            formats: &formats,
            zones: values::Zones::utc(),
            number_format: Default::default(),
            stages: &stages,
            known_kpi: &known,
            stage_from: None,
            durations: &durations,
        };
        for kind in FileKind::ALL {
            let columns = kind.columns();
            let cells: Vec<&str> = columns
                .iter()
                .map(|c| match c.ty {
                    ColumnType::Date => "2026-11-17",
                    ColumnType::Timestamp => "2026-11-17T09:00:00Z",
                    ColumnType::Decimal | ColumnType::Integer => "5",
                    ColumnType::Text => "x",
                })
                .collect();
            let record = csv::ByteRecord::from(cells);
            let index: Vec<Option<usize>> = (0..columns.len()).map(Some).collect();
            let mut c = Cells::new(columns, &index, &record, 0, &extras);
            let fields = kind.source().read(&mut c, &ctx);
            assert_eq!(kind.describe().kind, kind);
            assert_eq!(fields.len(), columns.len(), "{kind}");
            let table = kind.table();
            let (values, days) = table.values(&fields, Tz::UTC);
            assert_eq!(values.len(), table.columns.len(), "{kind}");
            assert_eq!(days.len(), table.day_columns.len(), "{kind}");
            assert!(days.iter().all(Option::is_some), "{kind}");
        }
    }

    #[test]
    fn the_never_imported_lists_come_from_the_catalogue() {
        let ids: Vec<&str> = FileKind::Surveys.feeds_alone().map(|k| k.id).collect();
        assert_eq!(ids, ["nps", "nps_responses", "csat", "csat_responses"]);
        let ids: Vec<&str> = FileKind::Orders.feeds_alone().map(|k| k.id).collect();
        assert_eq!(
            ids,
            ["revenue", "orders", "average_order_value", "gross_margin"]
        );
        assert_eq!(FileKind::Deals.feeds_alone().count(), 8);
        assert!(FileKind::ALL
            .into_iter()
            .all(|k| k.feeds_kpis() == (k != FileKind::Measures)));
    }

    #[test]
    fn dated_files_in_report_order() {
        use FileKind::*;
        assert_eq!(
            FileKind::by_report_rank(),
            [Orders, Tickets, Surveys, Deals, Activities]
        );
        let linked = customer_linked_days();
        let linked: Vec<(&str, &str)> = linked.iter().map(|(t, d)| (*t, d.as_str())).collect();
        assert_eq!(
            linked,
            [
                ("deals", "created_day"),
                ("deals", "closed_day"),
                ("orders", "ordered_day"),
                ("tickets", "opened_day"),
                ("surveys", "answered_day"),
                ("activities", "occurred_day"),
            ]
        );
    }
}
