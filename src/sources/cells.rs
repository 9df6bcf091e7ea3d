//! One record's cells, read by column name for a file's row rules: each
//! accessor trims, checks "required", parses, and collects every problem
//! with its file column, so that a row reports all its faults at once.
use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use super::{values, Column};

/// The settings the row rules read (from `[import.<file>]`, `[report]` and
/// the custom KPIs), as plain values.
pub struct RuleCtx<'a> {
    /// The file-wide formats of dates and timestamps (else ISO 8601).
    pub date_format: Option<&'a str>,
    pub timestamp_format: Option<&'a str>,
    /// A column's own format, over the file-wide one for its type.
    pub formats: &'a BTreeMap<String, String>,
    pub zones: values::Zones,
    pub number_format: values::NumberFormat,
    /// user stage (lowercased) → won / lost / open
    pub stages: &'a BTreeMap<String, String>,
    /// Whether a KPI id is known (built-in, activity kind or custom).
    pub known_kpi: &'a dyn Fn(&str) -> bool,
    /// Deals: won / lost from boolean columns instead of the stage.
    pub stage_from: Option<&'a StageFrom>,
    /// Timestamps computed as another one plus a duration column.
    pub durations: &'a BTreeMap<String, DurationColumn>,
}

impl<'a> RuleCtx<'a> {
    /// A column's own format, else the file's for its type, else None (ISO).
    pub fn format_of(&self, name: &str, file_wide: Option<&'a str>) -> Option<&'a str> {
        self.formats.get(name).map(String::as_str).or(file_wide)
    }
}

/// Won / lost read from boolean columns (header names, lowercased).
#[derive(Debug, Clone, Default)]
pub struct StageFrom {
    /// True: won.
    pub won: Option<String>,
    /// True: closed (won if `won` is true, else lost).
    pub closed: Option<String>,
    /// True: lost.
    pub lost: Option<String>,
}

/// The unit of a duration column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DurationUnit {
    Seconds,
    Minutes,
    Hours,
    Days,
}

impl DurationUnit {
    pub fn millis(self) -> f64 {
        match self {
            DurationUnit::Seconds => 1e3,
            DurationUnit::Minutes => 60e3,
            DurationUnit::Hours => 3600e3,
            DurationUnit::Days => 86400e3,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            DurationUnit::Seconds => "seconds",
            DurationUnit::Minutes => "minutes",
            DurationUnit::Hours => "hours",
            DurationUnit::Days => "days",
        }
    }
}

/// A timestamp column computed as another timestamp plus a duration column.
#[derive(Debug, Clone)]
pub struct DurationColumn {
    /// The header of the duration (lowercased).
    pub column: String,
    pub unit: DurationUnit,
    /// The canonical timestamp it counts from.
    pub after: String,
}

/// What the row rules decided about a row, for the import summary.
#[derive(Debug, Default)]
pub struct RowNotes {
    /// Deals: the stage as the file writes it, and what it was read as.
    pub stage: Option<(String, &'static str)>,
    /// An open deal's close date, ignored.
    pub close_date_ignored: bool,
    /// A closed deal created after its close.
    pub closed_before_created: bool,
}

/// What a mapping adds to a file's own columns: columns read by header name
/// (filters, durations, stage booleans), constants, value maps.
#[derive(Debug, Default)]
pub struct Extras {
    /// Lowercased header → index in the record.
    pub columns: BTreeMap<String, usize>,
    /// Column → its value on every row (when the file has no such column).
    pub constants: BTreeMap<String, String>,
    /// Column → (cell, lowercased → value).
    pub maps: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Debug)]
pub struct CellError {
    pub column: Option<usize>,
    pub reason: String,
}

/// Reads one record's cells by column name, collecting every problem.
pub struct Cells<'a> {
    columns: &'static [Column],
    /// Per column: its index in the record.
    index: &'a [Option<usize>],
    record: &'a csv::ByteRecord,
    /// The bytes of a byte-order mark before the first record.
    bom: u64,
    extras: &'a Extras,
    pub errors: Vec<CellError>,
    pub notes: RowNotes,
}

impl<'a> Cells<'a> {
    pub fn new(
        columns: &'static [Column],
        index: &'a [Option<usize>],
        record: &'a csv::ByteRecord,
        bom: u64,
        extras: &'a Extras,
    ) -> Cells<'a> {
        Cells {
            columns,
            index,
            record,
            bom,
            extras,
            errors: Vec::new(),
            notes: RowNotes::default(),
        }
    }

    /// A column read by header name (filters, durations, stage booleans):
    /// its index and trimmed text (None when empty).
    pub fn extra(&mut self, header: &str, key: &str) -> (Option<usize>, Option<&'a str>) {
        let Some(&pos) = self.extras.columns.get(header) else {
            return (None, None);
        };
        let raw = self.record.get(pos).unwrap_or_default();
        match std::str::from_utf8(raw) {
            Ok(t) if t.trim().is_empty() => (Some(pos), None),
            Ok(t) => (Some(pos), Some(t.trim())),
            Err(_) => {
                self.fail(
                    Some(pos),
                    key,
                    format!("'{header}': invalid UTF-8 (check the encoding)"),
                );
                (Some(pos), None)
            }
        }
    }

    fn slot(&self, name: &str) -> (usize, Option<usize>) {
        let i = self
            .columns
            .iter()
            .position(|c| c.name == name)
            .expect("schema column");
        (i, self.index[i])
    }

    pub fn fail(&mut self, column: Option<usize>, name: &str, reason: String) {
        self.errors.push(CellError {
            column: column.map(|c| c + 1),
            reason: format!("{name}: {reason}"),
        });
    }

    /// Records a problem of the named column.
    pub fn fail_at(&mut self, name: &str, reason: String) {
        let column = self.column_of(name);
        self.fail(column, name, reason);
    }

    /// The trimmed cell, None when absent or empty (and an error if
    /// required); the mapping's constant when the file has no such column;
    /// passed through the column's value map.
    pub fn get(&mut self, name: &str) -> Option<&'a str> {
        let extras: &'a Extras = self.extras;
        let (i, pos) = self.slot(name);
        let Some(pos) = pos else {
            return extras.constants.get(name).map(String::as_str);
        };
        let text = self.cell(i, pos, name)?;
        match extras.maps.get(name) {
            Some(map) => Some(
                map.get(&text.to_lowercase())
                    .map(String::as_str)
                    .unwrap_or(text),
            ),
            None => Some(text),
        }
    }

    fn cell(&mut self, i: usize, pos: usize, name: &str) -> Option<&'a str> {
        let raw = self.record.get(pos).unwrap_or_default();
        let text = match std::str::from_utf8(raw) {
            Ok(t) => t.trim(),
            Err(e) => {
                let offset = self.bom
                    + self.record.position().map(|p| p.byte()).unwrap_or(0)
                    + self.record.range(pos).map(|r| r.start as u64).unwrap_or(0)
                    + pos as u64 // the separators before this field (exact for unquoted fields)
                    + e.valid_up_to() as u64;
                self.fail(
                    Some(pos),
                    name,
                    format!(
                        "invalid UTF-8 near byte offset {offset} of the file (save it as UTF-8)"
                    ),
                );
                return None;
            }
        };
        if text.contains('\0') {
            self.fail(
                Some(pos),
                name,
                "contains a NUL byte (a binary value, or a UTF-16 file read as 8-bit: check the export)".into(),
            );
            return None;
        }
        if text.is_empty() {
            if self.columns[i].required {
                self.fail(Some(pos), name, "required value is empty".into());
            }
            return None;
        }
        Some(text)
    }

    pub fn text(&mut self, name: &str) -> Option<String> {
        self.get(name).map(str::to_string)
    }

    pub fn parsed<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let cell = self.get(name)?;
        match parse(cell) {
            Ok(v) => Some(v),
            Err(reason) => {
                let pos = self.slot(name).1;
                self.fail(pos, name, reason);
                None
            }
        }
    }

    pub fn date(&mut self, name: &str, ctx: &RuleCtx) -> Option<NaiveDate> {
        let f = ctx.format_of(name, ctx.date_format);
        self.parsed(name, |s| values::parse_date(s, f, ctx.zones))
    }

    pub fn instant(&mut self, name: &str, ctx: &RuleCtx) -> Option<DateTime<Utc>> {
        let f = ctx.format_of(name, ctx.timestamp_format);
        self.parsed(name, |s| values::parse_timestamp(s, f, ctx.zones))
    }

    /// A number in the file's number format.
    pub fn number(&mut self, name: &str, ctx: &RuleCtx) -> Option<f64> {
        self.parsed(name, |s| values::parse_number(s, ctx.number_format))
    }

    /// A number that must not be negative.
    pub fn amount(&mut self, name: &str, ctx: &RuleCtx) -> Option<f64> {
        let v = self.number(name, ctx);
        if v.is_some_and(|a| a < 0.0) {
            self.fail_at(name, "must not be negative".into());
        }
        v
    }

    pub fn column_of(&self, name: &str) -> Option<usize> {
        self.slot(name).1
    }
}
