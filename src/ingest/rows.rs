//! From CSV records to validated rows: header layout (case-insensitive, any
//! order, column mapping) and per-file rules. The upsert that writes them
//! (inserted, replaced, unchanged, duplicate) is `store::tables`.
use std::collections::BTreeMap;

pub use crate::sources::{CellError, RowNotes};
pub use crate::store::tables::{Row, Upsert};

use crate::config::{Config, ImportMapping};
use crate::sources::{values, Cells, Extras, Field, FileKind, RuleCtx, Table};

/// Where each schema column sits in the file, and the attribute columns.
#[derive(Debug)]
pub struct Layout {
    /// Per file column (in `FileKind::columns` order): its index in the record.
    index: Vec<Option<usize>>,
    /// Extra columns kept as segment attributes: (index, lowercased name).
    attributes: Vec<(usize, String)>,
    width: usize,
    names: Vec<String>,
    /// What the mapping reads beyond the file's columns.
    extras: Extras,
    /// Filters: column index, header, the values (lowercased) a row may have.
    filters: Vec<(usize, String, Vec<String>)>,
}

impl Layout {
    /// `segments`: the configured segment attributes (a record file keeps
    /// only its extra columns of these names, as its own segment cells).
    pub fn from_header(
        kind: FileKind,
        header: &csv::ByteRecord,
        mapping: &ImportMapping,
        segments: &[String],
    ) -> Result<Layout, String> {
        let names = header_names(header)?;
        let mut missing = Vec::new();
        let index = file_columns(kind, mapping, &names, &mut missing)?;
        let extra = extra_columns(mapping, &names, &mut missing)?;
        if !missing.is_empty() {
            return Err(missing_columns(kind, mapping, &names, &missing));
        }
        let filters = mapping
            .filters
            .iter()
            .map(|(h, vs)| (extra[h], h.clone(), vs.clone()))
            .collect();
        let attributes = attribute_columns(kind, &names, &index, segments);
        Ok(Layout {
            index,
            attributes,
            width: names.len(),
            names,
            extras: Extras {
                columns: extra,
                constants: mapping.constants.clone(),
                maps: mapping.maps.clone(),
            },
            filters,
        })
    }

    /// The filter column a row fails, if any.
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

/// The header's names, trimmed and lowercased (a UTF-8 BOM dropped).
fn header_names(header: &csv::ByteRecord) -> Result<Vec<String>, String> {
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
    Ok(names)
}

/// Where each of the file's own columns is in the header (None: absent),
/// the required ones that are absent (and not provided otherwise: a
/// constant, a duration, stage booleans) added to `missing`.
fn file_columns(
    kind: FileKind,
    mapping: &ImportMapping,
    names: &[String],
    missing: &mut Vec<String>,
) -> Result<Vec<Option<usize>>, String> {
    let columns = kind.columns();
    let mut index = Vec::with_capacity(columns.len());
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
    Ok(index)
}

/// The other columns the mapping reads by header name (filters, durations,
/// stage booleans, refunds) → their position; the absent ones added to
/// `missing`.
fn extra_columns(
    mapping: &ImportMapping,
    names: &[String],
    missing: &mut Vec<String>,
) -> Result<BTreeMap<String, usize>, String> {
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
    if let Some(h) = &mapping.refunds {
        wanted_extra.push((h.clone(), "refunds"));
    }
    // Read when the file has it (older exports do not).
    if let Some(h) = mapping.refund_date.as_ref().filter(|h| names.contains(h)) {
        wanted_extra.push((h.clone(), "refund_date"));
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
    Ok(extra)
}

/// The message for missing columns: what was found, what is expected, and
/// the preset's hint (or the preset the header looks like).
fn missing_columns(
    kind: FileKind,
    mapping: &ImportMapping,
    names: &[String],
    missing: &[String],
) -> String {
    let columns = kind.columns();
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
    if let Some(h) = crate::config::presets::hint(mapping.preset.as_deref(), kind) {
        msg.push_str(&format!("; {h}"));
    } else if mapping.preset.is_none() {
        if let Some((name, title)) = crate::config::presets::recognise(kind, names) {
            msg = format!(
                "this looks like a {title} export: add preset = \"{name}\" to [import.{}] ({msg})",
                kind.key()
            );
        }
    }
    msg
}

/// The extra columns kept as attributes: customers and spend keep every
/// one; a record file only those named in `[report] segments` (its own
/// segment cells), so a vendor export's dozens of other columns stay out
/// of the store.
fn attribute_columns(
    kind: FileKind,
    names: &[String],
    index: &[Option<usize>],
    segments: &[String],
) -> Vec<(usize, String)> {
    let used: Vec<usize> = index.iter().flatten().copied().collect();
    let kept = |n: &str| {
        kind.keeps_attributes()
            || (kind.has_segment_cells() && segments.iter().any(|s| s.eq_ignore_ascii_case(n)))
    };
    names
        .iter()
        .enumerate()
        .filter(|(i, n)| !used.contains(i) && !n.is_empty() && !names[..*i].contains(n) && kept(n))
        .map(|(i, n)| (i, n.clone()))
        .collect()
}

pub struct ParseCtx<'a> {
    pub kind: FileKind,
    pub table: &'a Table,
    pub mapping: &'a ImportMapping,
    pub config: &'a Config,
    /// Whether the store keeps the dates' text beside their day numbers.
    pub date_text: bool,
}

/// One record checked by its file's rules, before it is laid out for its
/// table.
#[derive(Debug)]
pub struct Parsed {
    pub fields: Vec<Field>,
    pub attributes: Vec<(String, String)>,
    pub notes: RowNotes,
    /// Orders with `refunds`: the refunded amount, when positive, and the
    /// refund's own date (`refund_date`), when the file gives it.
    pub refund: Option<(f64, Option<chrono::NaiveDate>)>,
}

impl ParseCtx<'_> {
    /// Checks one record by its file's rules and lays it out for its table.
    /// `bom`: the bytes of a byte-order mark the reader skipped (offsets in
    /// messages count from the start of the file).
    pub fn parse(
        &self,
        layout: &Layout,
        record: &csv::ByteRecord,
        bom: u64,
    ) -> Result<(Row, RowNotes), Vec<CellError>> {
        let p = self.check(layout, record, bom)?;
        Ok((self.row(p.fields, p.attributes), p.notes))
    }

    /// Lays checked fields out as a row of the table.
    pub fn row(&self, fields: Vec<Field>, attributes: Vec<(String, String)>) -> Row {
        let (values, days) =
            self.table
                .values_with(fields, self.config.report.timezone, self.date_text);
        Row {
            values,
            days,
            attributes,
        }
    }

    /// Checks one record by its file's rules.
    pub fn check(
        &self,
        layout: &Layout,
        record: &csv::ByteRecord,
        bom: u64,
    ) -> Result<Parsed, Vec<CellError>> {
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
        let source = self.kind.source();
        let mut c = Cells::new(
            self.kind.columns(),
            &layout.index,
            record,
            bom,
            &layout.extras,
        );
        let known_kpi = |k: &str| {
            crate::catalogue::is_known_static(k)
                || self.config.custom_kpis.iter().any(|ck| ck.id == k)
        };
        let m = self.mapping;
        let tz = self.config.report.timezone;
        let rules = RuleCtx {
            date_format: m.date_format.as_deref(),
            timestamp_format: m.timestamp_format.as_deref(),
            formats: &m.formats,
            zones: values::Zones {
                source: m.timezone.unwrap_or(tz),
                report: tz,
            },
            number_format: m.number_format,
            stages: &m.stages,
            known_kpi: &known_kpi,
            stage_from: m.stage_from.as_ref(),
            durations: &m.durations,
        };
        let fields = source.read(&mut c, &rules);
        let attributes = self.attribute_cells(layout, record, &mut c);
        let refund = refund(m, &mut c, &rules);
        if !c.errors.is_empty() {
            return Err(c.errors);
        }
        let notes = std::mem::take(&mut c.notes);
        Ok(Parsed {
            fields,
            attributes,
            notes,
            refund,
        })
    }

    /// The row's attribute cells (name, trimmed value); a record's empty
    /// cell is none, a NUL byte or invalid UTF-8 a problem of the row.
    fn attribute_cells(
        &self,
        layout: &Layout,
        record: &csv::ByteRecord,
        c: &mut Cells,
    ) -> Vec<(String, String)> {
        let mut attributes = Vec::new();
        for (pos, name) in &layout.attributes {
            match std::str::from_utf8(record.get(*pos).unwrap_or_default()) {
                Ok(v) if v.contains('\0') => c.fail(
                    Some(*pos),
                    name,
                    "contains a NUL byte (a binary value, or a UTF-16 file read as 8-bit: check the export)".into(),
                ),
                // A record's empty cell is no cell: its customer's value applies.
                Ok(v) if v.trim().is_empty() && !self.kind.keeps_attributes() => {}
                Ok(v) => attributes.push((name.clone(), v.trim().to_string())),
                Err(_) => c.fail(
                    Some(*pos),
                    name,
                    "invalid UTF-8 (save the file as UTF-8)".into(),
                ),
            }
        }
        attributes
    }
}

/// Orders with `refunds`: a positive refunded amount, dated by the
/// `refund_date` cell when the file has one (else None: the order's day).
fn refund(
    m: &ImportMapping,
    c: &mut Cells,
    rules: &RuleCtx,
) -> Option<(f64, Option<chrono::NaiveDate>)> {
    let mut refund = None;
    if let Some(h) = &m.refunds {
        let (pos, cell) = c.extra(h, "refunds");
        if let Some(cell) = cell {
            match values::parse_number(cell, m.number_format) {
                Ok(v) if v > 0.0 => refund = Some((v, None)),
                Ok(_) => {}
                Err(reason) => c.fail(pos, "refunds", format!("'{h}': {reason}")),
            }
        }
    }
    if let (Some((_, day)), Some(h)) = (&mut refund, &m.refund_date) {
        let (pos, cell) = c.extra(h, "refund_date");
        if let Some(cell) = cell {
            let f = rules.format_of("ordered_on", rules.date_format);
            match values::parse_date(cell, f, rules.zones) {
                Ok(d) => *day = Some(d),
                Err(reason) => c.fail(pos, "refund_date", format!("'{h}': {reason}")),
            }
        }
    }
    refund
}
