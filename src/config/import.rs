//! `[import.<file>]`: how a CRM export maps onto a snapshot file: the file
//! name, header per canonical column, date formats, deal stages. Checked
//! against the snapshot file's own column list, so a misspelt column is
//! refused here rather than silently ignored at import.
use std::collections::BTreeMap;

use serde::Deserialize;

use super::error::{ConfigError, Source};
use crate::ingest::schema::FileKind;

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawImport {
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
    pub encoding: Option<crate::ingest::read::Encoding>,
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
    pub number_format: crate::ingest::values::NumberFormat,
}

pub(super) fn check(
    raw: BTreeMap<String, RawImport>,
    src: &Source<'_>,
) -> Result<BTreeMap<FileKind, ImportMapping>, ConfigError> {
    let mut import = BTreeMap::new();
    for (key, m) in raw {
        let kind = FileKind::parse(&key).ok_or_else(|| ConfigError::UnknownImport {
            file: src.name.clone(),
            key: key.clone(),
        })?;
        let mapping = mapping(kind, &key, m, src)?;
        import.insert(kind, mapping);
    }
    Ok(import)
}

fn mapping(
    kind: FileKind,
    key: &str,
    m: RawImport,
    src: &Source<'_>,
) -> Result<ImportMapping, ConfigError> {
    let section = format!("import.{key}");
    let err = |k: &str, msg: String| src.invalid(&section, k, msg);
    let mut columns = BTreeMap::new();
    for (canonical, header) in m.columns {
        if !kind.columns().iter().any(|c| c.name == canonical) {
            let known: Vec<_> = kind.columns().iter().map(|c| c.name).collect();
            return Err(err(
                "columns",
                format!(
                    "'{canonical}' is not a column of {key}.csv (columns: {})",
                    known.join(", ")
                ),
            ));
        }
        columns.insert(canonical, header.trim().to_lowercase());
    }
    if !m.stages.is_empty() && kind != FileKind::Deals {
        return Err(err("stages", "stage mapping is only for deals".into()));
    }
    let mut stages = BTreeMap::new();
    for (canonical, names) in m.stages {
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
    for (column, f) in &m.formats {
        use crate::ingest::schema::ColumnType;
        match kind.columns().iter().find(|c| c.name == column) {
            Some(c) if matches!(c.ty, ColumnType::Date | ColumnType::Timestamp) => {}
            Some(_) => {
                return Err(err(
                    "formats",
                    format!("'{column}' is not a date or timestamp column of {key}.csv"),
                ))
            }
            None => {
                let known: Vec<_> = kind.columns().iter().map(|c| c.name).collect();
                return Err(err(
                    "formats",
                    format!(
                        "'{column}' is not a column of {key}.csv (columns: {})",
                        known.join(", ")
                    ),
                ));
            }
        }
        if chrono::format::StrftimeItems::new(f).any(|i| matches!(i, chrono::format::Item::Error)) {
            return Err(err(
                "formats",
                format!("'{f}' ({column}) is not a valid strftime format"),
            ));
        }
    }
    let timezone = match &m.timezone {
        None => None,
        Some(t) => Some(t.parse::<chrono_tz::Tz>().map_err(|_| {
            err(
                "timezone",
                format!(
                    "'{t}' is not an IANA time zone name (like Europe/Berlin or America/New_York)"
                ),
            )
        })?),
    };
    let number_format = match &m.number_format {
        None => crate::ingest::values::NumberFormat::PLAIN,
        Some(f) => crate::ingest::values::NumberFormat::parse(f).ok_or_else(|| {
            err(
                "number_format",
                format!("'{f}' (write how 1234.56 looks in the file: \"1,234.56\", \"1.234,56\", \"1 234,56\", \"1'234.56\", \"1234,56\" or \"1234.56\")"),
            )
        })?,
    };
    for (k, f) in [
        ("date_format", &m.date_format),
        ("timestamp_format", &m.timestamp_format),
    ] {
        if let Some(f) = f {
            if chrono::format::StrftimeItems::new(f)
                .any(|i| matches!(i, chrono::format::Item::Error))
            {
                return Err(err(k, format!("'{f}' is not a valid strftime format")));
            }
        }
    }
    let encoding = match &m.encoding {
        None => None,
        Some(e) => Some(crate::ingest::read::Encoding::parse(e).ok_or_else(|| {
            err(
                "encoding",
                format!("'{e}' (expected utf-8, utf-16, utf-16be or windows-1252; leave it out to detect it)"),
            )
        })?),
    };
    let delimiter = match &m.delimiter {
        None => None,
        Some(d) => Some(crate::ingest::read::parse_delimiter(d).ok_or_else(|| {
            err(
                "delimiter",
                format!(
                    "'{d}' (expected \",\", \";\", \"tab\" or \"|\"; leave it out to detect it)"
                ),
            )
        })?),
    };
    let header_rows = m.header_rows.unwrap_or(1);
    if header_rows == 0 {
        return Err(err(
            "header_rows",
            "must be at least 1 (the first row names the columns)".into(),
        ));
    }
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
    })
}
