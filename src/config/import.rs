//! `[import.<file>]`: how a CRM export maps onto a snapshot file: the file
//! name, header per canonical column, date formats, deal stages. Checked
//! against the snapshot file's own column list, so a misspelt column is
//! refused here rather than silently ignored at import.
use std::collections::BTreeMap;

use serde::Deserialize;

use super::error::{ConfigError, Source};
use crate::sources::FileKind;
pub use crate::sources::{DurationColumn, DurationUnit, StageFrom};

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawImport {
    preset: Option<String>,
    file: Option<String>,
    columns: BTreeMap<String, String>,
    date_format: Option<String>,
    timestamp_format: Option<String>,
    stages: BTreeMap<String, Vec<String>>,
    encoding: Option<String>,
    delimiter: Option<String>,
    header_rows: Option<usize>,
    skip_rows: Vec<String>,
    formats: BTreeMap<String, String>,
    timezone: Option<String>,
    number_format: Option<String>,
    constants: BTreeMap<String, String>,
    maps: BTreeMap<String, BTreeMap<String, String>>,
    filters: BTreeMap<String, Vec<String>>,
    stage_from: Option<RawStageFrom>,
    durations: BTreeMap<String, RawDuration>,
    refunds: Option<String>,
    refund_date: Option<String>,
    merge_rows: Option<bool>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawStageFrom {
    won: Option<String>,
    closed: Option<String>,
    lost: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawDuration {
    column: String,
    unit: Option<String>,
    after: Option<String>,
}

impl RawImport {
    /// The `file` name or glob, when set.
    pub fn file(&self) -> Option<&str> {
        self.file.as_deref()
    }

    /// This mapping over `base` (a preset's): every key set here wins, and
    /// tables are merged entry by entry.
    fn over(self, base: RawImport) -> RawImport {
        fn table<V>(
            mut base: BTreeMap<String, V>,
            top: BTreeMap<String, V>,
        ) -> BTreeMap<String, V> {
            base.extend(top);
            base
        }
        RawImport {
            preset: self.preset.or(base.preset),
            file: self.file.or(base.file),
            columns: table(base.columns, self.columns),
            date_format: self.date_format.or(base.date_format),
            timestamp_format: self.timestamp_format.or(base.timestamp_format),
            stages: if self.stages.is_empty() {
                base.stages
            } else {
                self.stages
            },
            encoding: self.encoding.or(base.encoding),
            delimiter: self.delimiter.or(base.delimiter),
            header_rows: self.header_rows.or(base.header_rows),
            skip_rows: if self.skip_rows.is_empty() {
                base.skip_rows
            } else {
                self.skip_rows
            },
            formats: table(base.formats, self.formats),
            timezone: self.timezone.or(base.timezone),
            number_format: self.number_format.or(base.number_format),
            constants: table(base.constants, self.constants),
            maps: table(base.maps, self.maps),
            filters: table(base.filters, self.filters),
            stage_from: self.stage_from.or(base.stage_from),
            durations: table(base.durations, self.durations),
            refunds: self.refunds.or(base.refunds),
            refund_date: self.refund_date.or(base.refund_date),
            merge_rows: self.merge_rows.or(base.merge_rows),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ImportMapping {
    pub file: Option<String>,
    /// canonical column → header in the user's file (lowercased, trimmed).
    pub columns: BTreeMap<String, String>,
    pub date_format: Option<String>,
    pub timestamp_format: Option<String>,
    /// user stage (lowercased) → won / lost / open
    pub stages: BTreeMap<String, String>,
    /// None: detected from the file.
    pub encoding: Option<crate::sources::format::Encoding>,
    /// None: detected from the header line.
    pub delimiter: Option<u8>,
    /// Header rows: the first names the columns, the others are skipped
    /// (0 is read as 1).
    pub header_rows: usize,
    /// Rows whose first cell starts with one of these are not data: report
    /// footers such as `Grand Totals`.
    pub skip_rows: Vec<String>,
    /// canonical column → its own date or timestamp format (strftime).
    pub formats: BTreeMap<String, String>,
    /// The time zone of local timestamps in the file (None: the report's).
    pub timezone: Option<chrono_tz::Tz>,
    /// How decimals are written (default: `1234.56`, nothing else).
    pub number_format: crate::sources::values::NumberFormat,
    /// The preset this mapping starts from.
    pub preset: Option<String>,
    /// canonical column → the value of every row (when the file has none).
    pub constants: BTreeMap<String, String>,
    /// canonical column → (cell, lowercased → value).
    pub maps: BTreeMap<String, BTreeMap<String, String>>,
    /// header (lowercased) → the values (lowercased) a row must have to be
    /// imported; other rows are left out and counted.
    pub filters: BTreeMap<String, Vec<String>>,
    /// Deals: the stage from boolean columns.
    pub stage_from: Option<StageFrom>,
    /// canonical timestamp → duration after another timestamp.
    pub durations: BTreeMap<String, DurationColumn>,
    /// Orders: the header of a refunded amount; a positive one adds a
    /// negative order `<id>:refund` on the same day.
    pub refunds: Option<String>,
    /// Orders with `refunds`: the header of the refund's date or time; the
    /// negative order is dated by it when the file has the column and the
    /// cell is set, else by the order's own day.
    pub refund_date: Option<String>,
    /// Customers: several rows per customer (one per subscription) are one
    /// customer: the earliest acquired_on, the latest churned_on (none while
    /// any row has none), the attributes of the latest-acquired row.
    pub merge_rows: bool,
    /// A preset's other layouts: (signature, lowercased; the mapping used
    /// when the header has every name of it). See [`ImportMapping::for_header`].
    pub variants: Vec<(Vec<String>, ImportMapping)>,
    /// The preset table's own signature (lowercased), when it has variants.
    pub signature: Vec<String>,
}

impl ImportMapping {
    /// The mapping for a file with this header (lowercased names): of the
    /// main layout and the variants whose signature the header has, the one
    /// with the longest signature (the most specific; the main one on a
    /// tie); this mapping when none fits.
    pub fn for_header(&self, names: &[String]) -> &ImportMapping {
        let fits = |sig: &[String]| !sig.is_empty() && sig.iter().all(|s| names.contains(s));
        let mut best = (
            self,
            if fits(&self.signature) {
                self.signature.len()
            } else {
                0
            },
        );
        for (sig, m) in &self.variants {
            if fits(sig) && sig.len() > best.1 {
                best = (m, sig.len());
            }
        }
        best.0
    }
}

pub(super) fn check(
    raw: BTreeMap<String, RawImport>,
    src: &Source<'_>,
) -> Result<BTreeMap<FileKind, ImportMapping>, ConfigError> {
    let mut import = BTreeMap::new();
    let mut companions = Vec::new();
    let mut variants = Vec::new();
    for key in raw.keys() {
        FileKind::parse(key).ok_or_else(|| ConfigError::UnknownImport {
            file: src.name.clone(),
            key: key.clone(),
        })?;
    }
    for (key, m) in &raw {
        let kind = FileKind::parse(key).expect("checked");
        let m = match m.preset.as_deref() {
            None => m.clone(),
            Some(name) => with_preset(
                kind,
                key,
                m,
                name,
                &raw,
                src,
                &mut variants,
                &mut companions,
            )?,
        };
        let mut mapping = mapping(kind, key, m, src)?;
        for (k, sig, vm) in variants.drain(..) {
            let mut vm = self::mapping(k, key, vm, src)?;
            vm.file = mapping.file.clone();
            mapping.variants.push((sig, vm));
        }
        if !mapping.variants.is_empty() {
            if let Some(t) = mapping
                .preset
                .as_deref()
                .and_then(super::presets::find)
                .and_then(|p| p.table(key))
            {
                mapping.signature = t.signature.iter().map(|s| lower(s)).collect();
            }
        }
        import.insert(kind, mapping);
    }
    for (key, m) in companions {
        let kind = FileKind::parse(&key).expect("a preset names snapshot files");
        let mapping = mapping(kind, &key, m, src)?;
        import.entry(kind).or_insert(mapping);
    }
    Ok(import)
}

/// A user's `[import.<key>]` over its preset `name`'s table: the user's
/// keys win. Pushes the preset's other layouts (variants, each under the
/// user's keys) and the other snapshot files the same export feeds
/// (companions, unless the user maps those by hand).
#[allow(clippy::too_many_arguments)]
fn with_preset(
    kind: FileKind,
    key: &str,
    m: &RawImport,
    name: &str,
    raw: &BTreeMap<String, RawImport>,
    src: &Source<'_>,
    variants: &mut Vec<(FileKind, Vec<String>, RawImport)>,
    companions: &mut Vec<(String, RawImport)>,
) -> Result<RawImport, ConfigError> {
    let section = format!("import.{key}");
    let preset = super::presets::find(name).ok_or_else(|| {
        src.invalid(
            &section,
            "preset",
            format!(
                "'{name}' is not a preset (presets: {})",
                super::presets::names().join(", ")
            ),
        )
    })?;
    let table = preset.table(key).ok_or_else(|| {
        src.invalid(
            &section,
            "preset",
            format!(
                "preset '{name}' has no mapping for {key}.csv (it maps: {})",
                preset.files().join(", ")
            ),
        )
    })?;
    let mut merged = m.clone().over(table.import.clone());
    // The preset's other layouts, each under the user's own keys;
    // without a `file` of the user's, their files are read too.
    for v in &table.variants {
        let vm = m.clone().over(v.import.clone());
        if m.file.is_none() {
            if let (Some(base), Some(other)) = (&merged.file, &vm.file) {
                if !base.split('|').any(|b| b == other) {
                    merged.file = Some(format!("{base}|{other}"));
                }
            }
        }
        let signature = v.signature.iter().map(|s| lower(s)).collect();
        variants.push((kind, signature, vm));
    }
    // One export feeding other snapshot files too (Zendesk
    // tickets → CSAT surveys), unless those are mapped by hand.
    for feed in &table.feeds {
        if !raw.contains_key(feed) {
            if let Some(t) = preset.table(feed) {
                let mut c = t.import.clone();
                c.preset = Some(name.to_string());
                if c.file.is_none() || m.file.is_some() {
                    c.file = merged.file.clone();
                }
                companions.push((feed.clone(), c));
            }
        }
    }
    Ok(merged)
}

/// The error of a key of this `[import.<file>]` section, at its line.
type KeyError<'e> = &'e dyn Fn(&str, String) -> ConfigError;

fn mapping(
    kind: FileKind,
    key: &str,
    m: RawImport,
    src: &Source<'_>,
) -> Result<ImportMapping, ConfigError> {
    let section = format!("import.{key}");
    let err = |k: &str, msg: String| src.invalid(&section, k, msg);
    let columns = columns(kind, m.columns.clone(), &err)?;
    if !m.stages.is_empty() && kind != FileKind::Deals {
        return Err(err("stages", "stage mapping is only for deals".into()));
    }
    let stages = stages(m.stages.clone(), &err)?;
    check_formats(kind, &m.formats, &err)?;
    let timezone = timezone(m.timezone.as_deref(), &err)?;
    let number_format = number_format(m.number_format.as_deref(), &err)?;
    for (k, f) in [
        ("date_format", &m.date_format),
        ("timestamp_format", &m.timestamp_format),
    ] {
        if let Some(f) = f {
            if !valid_strftime(f) {
                return Err(err(k, format!("'{f}' is not a valid strftime format")));
            }
        }
    }
    let encoding = encoding(m.encoding.as_deref(), &err)?;
    let delimiter = delimiter(m.delimiter.as_deref(), &err)?;
    let header_rows = m.header_rows.unwrap_or(1);
    if header_rows == 0 {
        return Err(err(
            "header_rows",
            "must be at least 1 (the first row names the columns)".into(),
        ));
    }
    for column in m.constants.keys().chain(m.maps.keys()) {
        let k = if m.constants.contains_key(column) {
            "constants"
        } else {
            "maps"
        };
        if !kind.columns().iter().any(|c| c.name == column) {
            return Err(err(k, not_a_column(kind, column)));
        }
    }
    let stage_from = stage_from(kind, m.stage_from.as_ref(), &err)?;
    let durations = durations(kind, &m.durations, &err)?;
    check_file_only_keys(kind, &m, &err)?;
    Ok(ImportMapping {
        file: m.file,
        columns,
        date_format: m.date_format,
        timestamp_format: m.timestamp_format,
        stages,
        encoding,
        delimiter,
        header_rows,
        skip_rows: m.skip_rows,
        formats: m.formats,
        timezone,
        number_format,
        preset: m.preset,
        constants: m.constants,
        maps: lowered_maps(&m.maps),
        filters: m
            .filters
            .iter()
            .map(|(h, vs)| (lower(h), vs.iter().map(|v| lower(v)).collect()))
            .collect(),
        stage_from,
        durations,
        refunds: m.refunds.as_deref().map(lower),
        refund_date: m.refund_date.as_deref().map(lower),
        merge_rows: m.merge_rows.unwrap_or(false),
        variants: Vec::new(),
        signature: Vec::new(),
    })
}

/// A header or a value as the mapping compares it: trimmed, lowercase.
fn lower(s: &str) -> String {
    s.trim().to_lowercase()
}

/// `maps = { score = { "Good" = "5" } }` with the cells lowercased (they
/// are matched so) and the values trimmed.
fn lowered_maps(
    maps: &BTreeMap<String, BTreeMap<String, String>>,
) -> BTreeMap<String, BTreeMap<String, String>> {
    maps.iter()
        .map(|(c, t)| {
            (
                c.clone(),
                t.iter()
                    .map(|(k, v)| (lower(k), v.trim().to_string()))
                    .collect(),
            )
        })
        .collect()
}

/// "'x' is not a column of deals.csv (columns: …)".
fn not_a_column(kind: FileKind, column: &str) -> String {
    let known: Vec<_> = kind.columns().iter().map(|c| c.name).collect();
    format!(
        "'{column}' is not a column of {}.csv (columns: {})",
        kind.key(),
        known.join(", ")
    )
}

fn valid_strftime(f: &str) -> bool {
    !chrono::format::StrftimeItems::new(f).any(|i| matches!(i, chrono::format::Item::Error))
}

/// `columns = { deal_id = "Record ID" }` → canonical column → header
/// (lowercased), each canonical name one of the file's columns.
fn columns(
    kind: FileKind,
    raw: BTreeMap<String, String>,
    err: KeyError,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut columns = BTreeMap::new();
    for (canonical, header) in raw {
        if !kind.columns().iter().any(|c| c.name == canonical) {
            return Err(err("columns", not_a_column(kind, &canonical)));
        }
        columns.insert(canonical, lower(&header));
    }
    Ok(columns)
}

/// `formats`: each a date or timestamp column of the file, with a valid
/// strftime format.
fn check_formats(
    kind: FileKind,
    formats: &BTreeMap<String, String>,
    err: KeyError,
) -> Result<(), ConfigError> {
    use crate::sources::ColumnType;
    for (column, f) in formats {
        match kind.columns().iter().find(|c| c.name == column) {
            Some(c) if matches!(c.ty, ColumnType::Date | ColumnType::Timestamp) => {}
            Some(_) => {
                return Err(err(
                    "formats",
                    format!(
                        "'{column}' is not a date or timestamp column of {}.csv",
                        kind.key()
                    ),
                ))
            }
            None => return Err(err("formats", not_a_column(kind, column))),
        }
        if !valid_strftime(f) {
            return Err(err(
                "formats",
                format!("'{f}' ({column}) is not a valid strftime format"),
            ));
        }
    }
    Ok(())
}

fn timezone(raw: Option<&str>, err: KeyError) -> Result<Option<chrono_tz::Tz>, ConfigError> {
    raw.map(|t| {
        t.parse::<chrono_tz::Tz>().map_err(|_| {
            err(
                "timezone",
                format!(
                    "'{t}' is not an IANA time zone name (like Europe/Berlin or America/New_York)"
                ),
            )
        })
    })
    .transpose()
}

fn number_format(
    raw: Option<&str>,
    err: KeyError,
) -> Result<crate::sources::values::NumberFormat, ConfigError> {
    match raw {
        None => Ok(crate::sources::values::NumberFormat::PLAIN),
        Some(f) => crate::sources::values::NumberFormat::parse(f).ok_or_else(|| {
            err(
                "number_format",
                format!("'{f}' (write how 1234.56 looks in the file: \"1,234.56\", \"1.234,56\", \"1 234,56\", \"1'234.56\", \"1234,56\" or \"1234.56\")"),
            )
        }),
    }
}

fn encoding(
    raw: Option<&str>,
    err: KeyError,
) -> Result<Option<crate::sources::format::Encoding>, ConfigError> {
    raw.map(|e| {
        crate::sources::format::Encoding::parse(e).ok_or_else(|| {
            err(
                "encoding",
                format!("'{e}' (expected utf-8, utf-16, utf-16be or windows-1252; leave it out to detect it)"),
            )
        })
    })
    .transpose()
}

fn delimiter(raw: Option<&str>, err: KeyError) -> Result<Option<u8>, ConfigError> {
    raw.map(|d| {
        crate::sources::format::parse_delimiter(d).ok_or_else(|| {
            err(
                "delimiter",
                format!(
                    "'{d}' (expected \",\", \";\", \"tab\" or \"|\"; leave it out to detect it)"
                ),
            )
        })
    })
    .transpose()
}

/// `stage_from = { won = "Is Closed Won", closed = "Is Closed" }`: deals
/// only, with a column that says won or lost.
fn stage_from(
    kind: FileKind,
    raw: Option<&RawStageFrom>,
    err: KeyError,
) -> Result<Option<StageFrom>, ConfigError> {
    match raw {
        None => Ok(None),
        Some(_) if kind != FileKind::Deals => {
            Err(err("stage_from", "only deals have a stage".into()))
        }
        Some(sf) => {
            if sf.won.is_none() && sf.lost.is_none() {
                return Err(err(
                    "stage_from",
                    "name the boolean column that says won (won = \"Is Closed Won\") or lost"
                        .into(),
                ));
            }
            Ok(Some(StageFrom {
                won: sf.won.as_deref().map(lower),
                closed: sf.closed.as_deref().map(lower),
                lost: sf.lost.as_deref().map(lower),
            }))
        }
    }
}

/// `durations = { first_response_at = { column = "…", unit = "hours",
/// after = "opened_at" } }`: a timestamp column computed as another one
/// plus a duration.
fn durations(
    kind: FileKind,
    raw: &BTreeMap<String, RawDuration>,
    err: KeyError,
) -> Result<BTreeMap<String, DurationColumn>, ConfigError> {
    use crate::sources::ColumnType;
    let key = kind.key();
    let is_ts = |c: &str| {
        kind.columns()
            .iter()
            .any(|col| col.name == c && col.ty == ColumnType::Timestamp)
    };
    let mut durations = BTreeMap::new();
    for (target, d) in raw {
        if !is_ts(target) {
            return Err(err(
                "durations",
                format!("'{target}' is not a timestamp column of {key}.csv"),
            ));
        }
        let after = d.after.clone().unwrap_or_else(|| "opened_at".into());
        if !is_ts(&after) || after == *target {
            return Err(err(
                "durations",
                format!("{target}: after = '{after}' is not another timestamp column of {key}.csv"),
            ));
        }
        let unit = match d.unit.as_deref().unwrap_or("minutes") {
            "seconds" => DurationUnit::Seconds,
            "minutes" => DurationUnit::Minutes,
            "hours" => DurationUnit::Hours,
            "days" => DurationUnit::Days,
            other => {
                return Err(err(
                    "durations",
                    format!("{target}: unit '{other}' (expected seconds, minutes, hours or days)"),
                ))
            }
        };
        durations.insert(
            target.clone(),
            DurationColumn {
                column: lower(&d.column),
                unit,
                after,
            },
        );
    }
    Ok(durations)
}

/// Keys that only one file takes: refunds (orders), merge_rows (customers).
fn check_file_only_keys(kind: FileKind, m: &RawImport, err: KeyError) -> Result<(), ConfigError> {
    if m.refund_date.is_some() && m.refunds.is_none() {
        return Err(err(
            "refund_date",
            "dates the refunds of `refunds`: set refunds too".into(),
        ));
    }
    if m.refunds.is_some() && kind != FileKind::Orders {
        return Err(err("refunds", "refunds are only for orders".into()));
    }
    if m.merge_rows == Some(true) && kind != FileKind::Customers {
        return Err(err(
            "merge_rows",
            "merging rows by id is only for customers".into(),
        ));
    }
    Ok(())
}

/// `stages = { won = ["Closed Won"] }` → user stage (lowercased) → won / lost / open.
fn stages(
    raw: BTreeMap<String, Vec<String>>,
    err: KeyError,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut stages = BTreeMap::new();
    for (canonical, names) in raw {
        if !["won", "lost", "open"].contains(&canonical.as_str()) {
            return Err(err(
                "stages",
                format!("'{canonical}' (map to won, lost or open)"),
            ));
        }
        for n in names {
            stages.insert(n.trim().to_lowercase(), canonical.clone());
        }
    }
    Ok(stages)
}
