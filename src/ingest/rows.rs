//! From CSV records to validated rows: header layout (case-insensitive, any
//! order, column mapping) and per-file rules. The upsert that writes them
//! (inserted, replaced, unchanged, duplicate) is `store::tables`.
use std::collections::BTreeMap;

use chrono::NaiveDate;
use rusqlite::types::Value;

pub use crate::store::tables::{Row, TableDef, Upsert, CUSTOMER_LINKED};

use super::schema::FileKind;
use super::values;
use crate::config::{Config, ImportMapping};
use crate::period::{self, Period};

/// Where each schema column sits in the file, and the attribute columns.
#[derive(Debug)]
pub struct Layout {
    /// Per schema column (in `FileKind::columns` order): its index in the record.
    index: Vec<Option<usize>>,
    /// Extra columns kept as segment attributes: (index, lowercased name).
    attributes: Vec<(usize, String)>,
    width: usize,
    names: Vec<String>,
    /// Columns read by name beyond the schema's (filters, durations, stage
    /// booleans): lowercased header → index.
    extra: BTreeMap<String, usize>,
    /// Filters: column index → the values (lowercased) a row may have.
    filters: Vec<(usize, String, Vec<String>)>,
    constants: BTreeMap<String, String>,
    maps: BTreeMap<String, BTreeMap<String, String>>,
}

impl Layout {
    pub fn from_header(
        kind: FileKind,
        header: &csv::ByteRecord,
        mapping: &ImportMapping,
    ) -> Result<Layout, String> {
        let mut names = Vec::with_capacity(header.len());
        for (i, field) in header.iter().enumerate() {
            if field.contains(&0) {
                return Err(
                    "the header contains NUL bytes: this is a binary file, not CSV text".into(),
                );
            }
            let text = std::str::from_utf8(field).map_err(|e| {
                format!("column {}: the header is not UTF-8 text (invalid byte at offset {}): is this a CSV file saved as UTF-8?", i + 1, e.valid_up_to())
            })?;
            let text = if i == 0 {
                text.trim_start_matches('\u{feff}')
            } else {
                text
            };
            names.push(text.trim().to_lowercase());
        }
        let columns = kind.columns();
        let mut index = Vec::with_capacity(columns.len());
        let mut missing = Vec::new();
        // Columns that come from elsewhere than a header of their own.
        let provided = |name: &str| {
            mapping.constants.contains_key(name)
                || mapping.durations.contains_key(name)
                || (name == "stage" && mapping.stage_from.is_some())
        };
        for c in columns {
            let wanted = mapping
                .columns
                .get(c.name)
                .map(String::as_str)
                .unwrap_or(c.name);
            let pos = names.iter().position(|n| n == wanted);
            // A name that appears twice is only a problem if it is read.
            if let Some(p) = pos {
                if let Some(again) = names[p + 1..].iter().position(|n| n == wanted) {
                    return Err(format!(
                        "column {}: '{wanted}' appears twice in the header (columns {} and {}) and is read as {}; rename one of them or map {} to another column in [import.{}] columns",
                        p + again + 2,
                        p + 1,
                        p + again + 2,
                        c.name,
                        c.name,
                        kind.key()
                    ));
                }
            }
            if pos.is_none() && c.required && !provided(c.name) {
                missing.push(if wanted == c.name {
                    c.name.to_string()
                } else {
                    format!("{} (mapped to '{wanted}')", c.name)
                });
            }
            index.push(pos);
        }
        // The other columns the mapping reads by header name.
        let mut wanted_extra: Vec<(String, &str)> = Vec::new();
        for h in mapping.filters.keys() {
            wanted_extra.push((h.clone(), "filters"));
        }
        for d in mapping.durations.values() {
            wanted_extra.push((d.column.clone(), "durations"));
        }
        if let Some(sf) = &mapping.stage_from {
            for h in [&sf.won, &sf.closed, &sf.lost].into_iter().flatten() {
                wanted_extra.push((h.clone(), "stage_from"));
            }
        }
        let mut extra = BTreeMap::new();
        for (h, key) in &wanted_extra {
            match names.iter().position(|n| n == h) {
                Some(p) => {
                    if let Some(again) = names[p + 1..].iter().position(|n| n == h) {
                        return Err(format!(
                            "column {}: '{h}' appears twice in the header (columns {} and {}) and is read by {key}; rename one of them",
                            p + again + 2,
                            p + 1,
                            p + again + 2,
                        ));
                    }
                    extra.insert(h.clone(), p);
                }
                None => missing.push(format!("'{h}' (read by {key})")),
            }
        }
        if !missing.is_empty() {
            let expected: Vec<String> = columns
                .iter()
                .map(|c| {
                    if c.required {
                        c.name.to_string()
                    } else {
                        format!("{} (optional)", c.name)
                    }
                })
                .collect();
            let mut msg = format!(
                "missing required column{} {}; found: {}; expected: {} (header names are matched case-insensitively; map other names in [import.{}] columns)",
                if missing.len() == 1 { "" } else { "s" },
                missing.join(", "),
                names.join(", "),
                expected.join(", "),
                kind.key()
            );
            if let Some(h) = super::presets::hint(mapping.preset.as_deref(), kind) {
                msg.push_str(&format!("; {h}"));
            } else if mapping.preset.is_none() {
                if let Some((name, title)) = super::presets::recognise(kind, &names) {
                    msg = format!(
                        "this looks like a {title} export: add preset = \"{name}\" to [import.{}] ({msg})",
                        kind.key()
                    );
                }
            }
            return Err(msg);
        }
        let filters = mapping
            .filters
            .iter()
            .map(|(h, vs)| (extra[h], h.clone(), vs.clone()))
            .collect();
        let used: Vec<usize> = index.iter().flatten().copied().collect();
        let attributes = if kind.keeps_attributes() {
            names
                .iter()
                .enumerate()
                .filter(|(i, n)| !used.contains(i) && !n.is_empty() && !names[..*i].contains(n))
                .map(|(i, n)| (i, n.clone()))
                .collect()
        } else {
            Vec::new()
        };
        Ok(Layout {
            index,
            attributes,
            width: names.len(),
            names,
            extra,
            filters,
            constants: mapping.constants.clone(),
            maps: mapping.maps.clone(),
        })
    }

    /// The filter a row fails, if any: (header, its value).
    pub fn filtered_out(&self, record: &csv::ByteRecord) -> Option<String> {
        for (i, h, allowed) in &self.filters {
            let v = String::from_utf8_lossy(record.get(*i).unwrap_or_default())
                .trim()
                .to_lowercase();
            if !allowed.contains(&v) {
                return Some(h.clone());
            }
        }
        None
    }

    /// The names of the filter columns, as in the header.
    pub fn filter_names(&self) -> Vec<String> {
        self.filters.iter().map(|(_, h, _)| h.clone()).collect()
    }

    pub fn header_names(&self) -> impl Iterator<Item = &str> {
        self.names
            .iter()
            .map(String::as_str)
            .filter(|n| !n.is_empty())
    }

    /// 1-based file column of the id (for duplicate messages).
    pub fn pk_column(&self) -> usize {
        self.index[0].map(|i| i + 1).unwrap_or(1)
    }
}

#[derive(Debug)]
pub struct CellError {
    pub column: Option<usize>,
    pub reason: String,
}

/// What the import decided about a row, for its summary.
#[derive(Debug, Default)]
pub struct RowNotes {
    /// Deals: the stage as the file writes it, and what it was read as.
    pub stage: Option<(String, &'static str)>,
    /// An open deal's close date, ignored.
    pub close_date_ignored: bool,
    /// A closed deal created after its close.
    pub closed_before_created: bool,
}

/// A boolean as CRMs write them; empty is false.
fn parse_bool(cell: &str) -> Result<bool, ()> {
    match cell.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "y" | "t" | "x" => Ok(true),
        "false" | "0" | "no" | "n" | "f" | "" => Ok(false),
        _ => Err(()),
    }
}

/// A duration as exports write them: a number of `unit`s, or H:MM[:SS].
fn parse_duration_ms(cell: &str, unit: crate::config::DurationUnit) -> Result<i64, String> {
    let cell = cell.trim();
    if cell.contains(':') {
        let parts: Vec<&str> = cell.split(':').collect();
        let nums: Option<Vec<u64>> = parts.iter().map(|p| p.parse::<u64>().ok()).collect();
        match (parts.len(), nums) {
            (2 | 3, Some(n)) if n[1..].iter().all(|&x| x < 60) => {
                let secs = n[0] * 3600 + n[1] * 60 + n.get(2).copied().unwrap_or(0);
                return Ok(secs as i64 * 1000);
            }
            _ => {
                return Err(format!(
                    "'{cell}' is not a duration (expected a number of {} or H:MM:SS)",
                    unit.name()
                ))
            }
        }
    }
    let v = values::parse_decimal(cell).map_err(|_| {
        format!(
            "'{cell}' is not a duration (expected a number of {} or H:MM:SS)",
            unit.name()
        )
    })?;
    if v < 0.0 {
        return Err(format!("'{cell}' is a negative duration"));
    }
    Ok((v * unit.millis()).round() as i64)
}

pub struct ParseCtx<'a> {
    pub kind: FileKind,
    pub mapping: &'a ImportMapping,
    pub config: &'a Config,
}

/// Reads one record's cells by schema column name, collecting every problem.
struct Cells<'a> {
    kind: FileKind,
    bom: u64,
    layout: &'a Layout,
    record: &'a csv::ByteRecord,
    errors: Vec<CellError>,
}

impl<'a> Cells<'a> {
    fn slot(&self, name: &str) -> (usize, Option<usize>) {
        let i = self
            .kind
            .columns()
            .iter()
            .position(|c| c.name == name)
            .expect("schema column");
        (i, self.layout.index[i])
    }

    fn fail(&mut self, column: Option<usize>, name: &str, reason: String) {
        self.errors.push(CellError {
            column: column.map(|c| c + 1),
            reason: format!("{name}: {reason}"),
        });
    }

    /// A column read by header name (filters, durations, stage booleans).
    fn extra(&mut self, header: &str, key: &str) -> (Option<usize>, Option<&'a str>) {
        let Some(&pos) = self.layout.extra.get(header) else {
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

    /// The trimmed cell, None when absent or empty (and an error if
    /// required); a constant when the mapping gives one, mapped through the
    /// column's value map.
    fn get(&mut self, name: &str) -> Option<&'a str> {
        let layout: &'a Layout = self.layout;
        let (i, pos) = self.slot(name);
        let Some(pos) = pos else {
            return layout.constants.get(name).map(String::as_str);
        };
        let text = self.cell(i, pos, name)?;
        match layout.maps.get(name) {
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
            if self.kind.columns()[i].required {
                self.fail(Some(pos), name, "required value is empty".into());
            }
            return None;
        }
        Some(text)
    }

    fn text(&mut self, name: &str) -> Option<String> {
        self.get(name).map(str::to_string)
    }

    fn parsed<T>(
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

    fn column_of(&self, name: &str) -> Option<usize> {
        self.slot(name).1
    }
}

fn date_values(d: Option<NaiveDate>) -> (Value, Value) {
    match d {
        Some(d) => (
            Value::Text(d.to_string()),
            Value::Integer(period::day_number(d)),
        ),
        None => (Value::Null, Value::Null),
    }
}

fn text_value(t: Option<String>) -> Value {
    t.map(Value::Text).unwrap_or(Value::Null)
}

fn real_value(v: Option<f64>) -> Value {
    v.map(Value::Real).unwrap_or(Value::Null)
}

impl ParseCtx<'_> {
    pub fn parse(
        &self,
        layout: &Layout,
        record: &csv::ByteRecord,
        bom: u64,
    ) -> Result<(Row, RowNotes), Vec<CellError>> {
        let mut notes = RowNotes::default();
        if record.len() != layout.width {
            return Err(vec![CellError {
                column: None,
                reason: format!(
                    "expected {} fields as in the header, found {} (check the quoting and separators)",
                    layout.width,
                    record.len()
                ),
            }]);
        }
        let mut c = Cells {
            kind: self.kind,
            bom,
            layout,
            record,
            errors: Vec::new(),
        };
        let m = self.mapping;
        let tz = self.config.report.timezone;
        let zones = values::Zones {
            source: m.timezone.unwrap_or(tz),
            report: tz,
        };
        // A column's own format, else the file's for its type, else ISO.
        fn format_of<'m>(
            m: &'m crate::config::ImportMapping,
            name: &str,
            file_wide: &'m Option<String>,
        ) -> Option<&'m str> {
            m.formats
                .get(name)
                .or(file_wide.as_ref())
                .map(String::as_str)
        }
        let date = |c: &mut Cells, name: &str| {
            let f = format_of(m, name, &m.date_format);
            c.parsed(name, |s| values::parse_date(s, f, zones))
        };
        let number_format = m.number_format;
        let number =
            |c: &mut Cells, name: &str| c.parsed(name, |s| values::parse_number(s, number_format));
        let mut days = Vec::new();
        let values: Vec<Value> = match self.kind {
            FileKind::Customers => {
                let id = c.text("customer_id");
                let acquired = date(&mut c, "acquired_on");
                let churned = date(&mut c, "churned_on");
                if let (Some(a), Some(ch)) = (acquired, churned) {
                    if ch < a {
                        let col = c.column_of("churned_on");
                        c.fail(col, "churned_on", format!("{ch} is before acquired_on {a}"));
                    }
                }
                let (a_on, a_day) = date_values(acquired);
                let (c_on, c_day) = date_values(churned);
                days.push(acquired.map(period::day_number));
                days.push(churned.map(period::day_number));
                vec![text_value(id), a_on, a_day, c_on, c_day]
            }
            FileKind::Deals => {
                let id = c.text("deal_id");
                let created = date(&mut c, "created_on");
                let stage_raw = c.get("stage");
                let stage = match &m.stage_from {
                    Some(sf) => self.stage_from_booleans(sf, &mut c),
                    None => stage_raw.and_then(|s| self.map_stage(s, &mut c)),
                };
                if let Some(s) = stage {
                    notes.stage = Some((stage_raw.unwrap_or(s).to_string(), s));
                }
                let mut closed = date(&mut c, "closed_on");
                let amount = number(&mut c, "amount");
                let col = |c: &Cells, n: &str| c.column_of(n);
                match (stage, closed) {
                    (Some("open"), Some(_)) => {
                        // CRMs fill the expected close date on open deals.
                        closed = None;
                        notes.close_date_ignored = true;
                    }
                    (Some(s @ ("won" | "lost")), None)
                        if c.errors.iter().all(|e| !e.reason.starts_with("closed_on")) =>
                    {
                        let p = col(&c, "closed_on").or(col(&c, "stage"));
                        c.fail(p, "closed_on", format!("required when the deal is {s}"));
                    }
                    _ => {}
                }
                if let (Some(cr), Some(cl)) = (created, closed) {
                    // Migrated records: kept, counted by their close date,
                    // left out of the sales cycle.
                    notes.closed_before_created = cl < cr;
                }
                if amount.is_some_and(|a| a < 0.0) {
                    let p = col(&c, "amount");
                    c.fail(p, "amount", "must not be negative".into());
                }
                let (cr_on, cr_day) = date_values(created);
                let (cl_on, cl_day) = date_values(closed);
                days.push(created.map(period::day_number));
                days.push(closed.map(period::day_number));
                vec![
                    text_value(id),
                    cr_on,
                    cr_day,
                    text_value(stage.map(str::to_string)),
                    cl_on,
                    cl_day,
                    real_value(amount),
                    text_value(c.text("customer_id")),
                    text_value(c.text("owner")),
                ]
            }
            FileKind::Orders => {
                let id = c.text("order_id");
                let customer = c.text("customer_id");
                let ordered = date(&mut c, "ordered_on");
                let amount = number(&mut c, "amount");
                let cost = number(&mut c, "cost");
                if cost.is_some_and(|v| v < 0.0) {
                    let p = c.column_of("cost");
                    c.fail(p, "cost", "must not be negative".into());
                }
                let (on, day) = date_values(ordered);
                days.push(ordered.map(period::day_number));
                vec![
                    text_value(id),
                    text_value(customer),
                    on,
                    day,
                    real_value(amount),
                    real_value(cost),
                ]
            }
            FileKind::Tickets => {
                let id = c.text("ticket_id");
                let ts = |c: &mut Cells, n: &str| {
                    let f = format_of(m, n, &m.timestamp_format);
                    c.parsed(n, |s| values::parse_timestamp(s, f, zones))
                };
                let opened = ts(&mut c, "opened_at");
                let mut response = ts(&mut c, "first_response_at");
                let mut resolved = ts(&mut c, "resolved_at");
                // Durations after another timestamp (Zendesk's minutes,
                // Freshdesk's hours), where the file has no timestamp.
                for (target, d) in &m.durations {
                    let slot = match target.as_str() {
                        "first_response_at" => &mut response,
                        "resolved_at" => &mut resolved,
                        _ => continue,
                    };
                    if slot.is_some() {
                        continue;
                    }
                    let base = match d.after.as_str() {
                        "opened_at" => opened,
                        "first_response_at" => response,
                        _ => None,
                    };
                    let (pos, cell) = c.extra(&d.column, target);
                    let (Some(base), Some(cell)) = (base, cell) else {
                        continue;
                    };
                    match parse_duration_ms(cell, d.unit) {
                        Ok(ms) => {
                            let t = base + chrono::Duration::milliseconds(ms);
                            let slot = match target.as_str() {
                                "first_response_at" => &mut response,
                                _ => &mut resolved,
                            };
                            *slot = Some(t);
                        }
                        Err(reason) => c.fail(pos, target, format!("'{}': {reason}", d.column)),
                    }
                }
                for (name, t) in [("first_response_at", response), ("resolved_at", resolved)] {
                    if let (Some(o), Some(t)) = (opened, t) {
                        if t < o {
                            let p = c.column_of(name);
                            c.fail(
                                p,
                                name,
                                format!(
                                    "{} is before opened_at {}",
                                    t.to_rfc3339(),
                                    o.to_rfc3339()
                                ),
                            );
                        }
                    }
                }
                let day = opened.map(|o| period::day_number(period::local_date(o, tz)));
                days.push(day);
                let secs = |t: Option<chrono::DateTime<chrono::Utc>>| {
                    t.map(|t| Value::Integer(values::millis(t)))
                        .unwrap_or(Value::Null)
                };
                vec![
                    text_value(id),
                    secs(opened),
                    day.map(Value::Integer).unwrap_or(Value::Null),
                    secs(response),
                    secs(resolved),
                    text_value(c.text("customer_id")),
                    text_value(c.text("channel")),
                ]
            }
            FileKind::Surveys => {
                let id = c.text("response_id");
                let answered = date(&mut c, "answered_on");
                let kind = c.get("kind").map(str::to_lowercase);
                let score = c.parsed("score", values::parse_integer);
                let range = match kind.as_deref() {
                    Some("nps") => Some((0, 10)),
                    Some("csat") => Some((1, 5)),
                    Some(other) => {
                        let p = c.column_of("kind");
                        c.fail(
                            p,
                            "kind",
                            format!("unknown survey kind '{other}' (expected nps or csat)"),
                        );
                        None
                    }
                    None => None,
                };
                if let (Some((lo, hi)), Some(s)) = (range, score) {
                    if !(lo..=hi).contains(&s) {
                        let p = c.column_of("score");
                        c.fail(
                            p,
                            "score",
                            format!(
                                "{s} is outside the {} range {lo}..{hi}",
                                kind.as_deref().unwrap_or_default()
                            ),
                        );
                    }
                }
                let (on, day) = date_values(answered);
                days.push(answered.map(period::day_number));
                vec![
                    text_value(id),
                    on,
                    day,
                    text_value(kind),
                    score.map(Value::Integer).unwrap_or(Value::Null),
                    text_value(c.text("customer_id")),
                    text_value(c.text("comment")),
                ]
            }
            FileKind::Spend => {
                let id = c.text("spend_id");
                let spent = date(&mut c, "spent_on");
                let category = c.get("category").map(str::to_lowercase);
                if let Some(cat) = &category {
                    if !["marketing", "sales", "crm", "other"].contains(&cat.as_str()) {
                        let p = c.column_of("category");
                        c.fail(p, "category", format!("unknown spend category '{cat}' (expected marketing, sales, crm or other)"));
                    }
                }
                let amount = number(&mut c, "amount");
                if amount.is_some_and(|a| a < 0.0) {
                    let p = c.column_of("amount");
                    c.fail(p, "amount", "must not be negative".into());
                }
                let (on, day) = date_values(spent);
                days.push(spent.map(period::day_number));
                vec![
                    text_value(id),
                    on,
                    day,
                    text_value(category),
                    real_value(amount),
                ]
            }
            FileKind::Activities => {
                let id = c.text("activity_id");
                let occurred = date(&mut c, "occurred_on");
                let kind = c.text("kind");
                let (on, day) = date_values(occurred);
                days.push(occurred.map(period::day_number));
                vec![
                    text_value(id),
                    on,
                    day,
                    text_value(kind),
                    text_value(c.text("owner")),
                    text_value(c.text("customer_id")),
                ]
            }
            FileKind::Measures => {
                let period = c.parsed("period", Period::parse);
                let kpi = c.text("kpi");
                if let Some(k) = &kpi {
                    let custom = self.config.custom_kpis.iter().any(|ck| &ck.id == k);
                    if !crate::kpi::catalogue::is_known_static(k) && !custom {
                        let p = c.column_of("kpi");
                        c.fail(
                            p,
                            "kpi",
                            format!("unknown KPI '{k}' (see `scorecard kpis`)"),
                        );
                    }
                }
                let value = number(&mut c, "value");
                let segment = c.text("segment");
                if let Some(s) = &segment {
                    if !s
                        .split_once('=')
                        .is_some_and(|(a, v)| !a.trim().is_empty() && !v.trim().is_empty())
                    {
                        let p = c.column_of("segment");
                        c.fail(
                            p,
                            "segment",
                            format!("'{s}' is not attribute=value (e.g. region=EMEA)"),
                        );
                    }
                }
                vec![
                    text_value(period.map(|p| p.id())),
                    text_value(kpi),
                    Value::Text(segment.unwrap_or_default()),
                    real_value(value),
                ]
            }
        };
        let mut attributes = Vec::new();
        for (pos, name) in &layout.attributes {
            match std::str::from_utf8(record.get(*pos).unwrap_or_default()) {
                Ok(v) if v.contains('\0') => c.fail(
                    Some(*pos),
                    name,
                    "contains a NUL byte (a binary value, or a UTF-16 file read as 8-bit: check the export)".into(),
                ),
                Ok(v) => attributes.push((name.clone(), v.trim().to_string())),
                Err(_) => c.fail(
                    Some(*pos),
                    name,
                    "invalid UTF-8 (save the file as UTF-8)".into(),
                ),
            }
        }
        if !c.errors.is_empty() {
            return Err(c.errors);
        }
        let hash = row_hash(&values, &attributes);
        Ok((
            Row {
                values,
                days,
                attributes,
                hash,
            },
            notes,
        ))
    }

    /// Won / lost / open from the mapping's boolean columns.
    fn stage_from_booleans(
        &self,
        sf: &crate::config::StageFrom,
        c: &mut Cells,
    ) -> Option<&'static str> {
        let read = |h: &Option<String>, c: &mut Cells| -> Option<Option<bool>> {
            let Some(h) = h else { return Some(None) };
            let (pos, cell) = c.extra(h, "stage_from");
            match cell.map(parse_bool) {
                None => Some(Some(false)),
                Some(Ok(b)) => Some(Some(b)),
                Some(Err(())) => {
                    c.fail(
                        pos,
                        "stage_from",
                        format!(
                            "'{h}' is '{}', not true or false (expected true/false, 1/0, yes/no or empty)",
                            cell.unwrap_or_default()
                        ),
                    );
                    None
                }
            }
        };
        let won = read(&sf.won, c)?;
        let closed = read(&sf.closed, c)?;
        let lost = read(&sf.lost, c)?;
        Some(match (won, closed, lost) {
            (Some(true), _, _) => "won",
            (_, _, Some(true)) => "lost",
            (Some(false), Some(true), _) => "lost",
            (None, Some(true), None) => "lost",
            _ => "open",
        })
    }

    /// Maps a CRM stage to open / won / lost.
    fn map_stage(&self, raw: &str, c: &mut Cells) -> Option<&'static str> {
        let key = raw.to_lowercase();
        let canonical = |s: &str| match s {
            "open" => Some("open"),
            "won" => Some("won"),
            "lost" => Some("lost"),
            _ => None,
        };
        if let Some(mapped) = self.mapping.stages.get(&key) {
            return canonical(mapped);
        }
        if let Some(s) = canonical(&key) {
            return Some(s);
        }
        if !self.mapping.stages.is_empty() {
            // With a stage mapping, every other stage is an open deal.
            return Some("open");
        }
        let p = c.column_of("stage");
        c.fail(p, "stage", format!("unknown stage '{raw}' (expected open, won or lost; map your CRM's stages in [import.deals] stages)"));
        None
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
