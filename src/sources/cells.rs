//! One record's cells, read by column name for a file's row rules: each
//! accessor trims, checks "required", parses, and collects every problem
//! with its file column, so that a row reports all its faults at once.
use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use super::{values, Column};

/// The settings the row rules read (from `[import.<file>]`, `[report]` and
/// the custom KPIs), as plain values.
pub struct RuleCtx<'a> {
    pub date_format: Option<&'a str>,
    pub timestamp_format: Option<&'a str>,
    pub tz: Tz,
    /// user stage (lowercased) → won / lost / open
    pub stages: &'a BTreeMap<String, String>,
    /// Whether a KPI id is known (built-in, activity kind or custom).
    pub known_kpi: &'a dyn Fn(&str) -> bool,
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
    pub errors: Vec<CellError>,
}

impl<'a> Cells<'a> {
    pub fn new(
        columns: &'static [Column],
        index: &'a [Option<usize>],
        record: &'a csv::ByteRecord,
    ) -> Cells<'a> {
        Cells {
            columns,
            index,
            record,
            errors: Vec::new(),
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

    /// The trimmed cell, None when absent or empty (and an error if required).
    pub fn get(&mut self, name: &str) -> Option<&'a str> {
        let (i, pos) = self.slot(name);
        let pos = pos?;
        let raw = self.record.get(pos).unwrap_or_default();
        let text = match std::str::from_utf8(raw) {
            Ok(t) => t.trim(),
            Err(e) => {
                let offset = self.record.position().map(|p| p.byte()).unwrap_or(0)
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
        self.parsed(name, |s| values::parse_date(s, ctx.date_format))
    }

    pub fn instant(&mut self, name: &str, ctx: &RuleCtx) -> Option<DateTime<Utc>> {
        self.parsed(name, |s| {
            values::parse_timestamp(s, ctx.timestamp_format, ctx.tz)
        })
    }

    pub fn decimal(&mut self, name: &str) -> Option<f64> {
        self.parsed(name, values::parse_decimal)
    }

    /// A decimal that must not be negative.
    pub fn amount(&mut self, name: &str) -> Option<f64> {
        let v = self.decimal(name);
        if v.is_some_and(|a| a < 0.0) {
            self.fail_at(name, "must not be negative".into());
        }
        v
    }

    pub fn column_of(&self, name: &str) -> Option<usize> {
        self.slot(name).1
    }
}
