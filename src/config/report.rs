//! `[report]`: cadence, time zone, folders, segments and how far back the
//! comparisons look. Checked first: the other sections refer to its segments.
use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use serde::Deserialize;

use super::error::{ConfigError, Source};
use crate::period::{self, Cadence};

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawReport {
    cadence: Option<String>,
    timezone: Option<String>,
    out_dir: Option<String>,
    templates_dir: Option<String>,
    notes_dir: Option<String>,
    segments: Vec<String>,
    trailing_periods: Option<usize>,
    history_periods: Option<usize>,
    title: Option<String>,
    currency: Option<String>,
    private: Option<bool>,
    base_url: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ReportConfig {
    pub cadence: Cadence,
    pub timezone: Tz,
    pub out_dir: PathBuf,
    pub templates_dir: Option<PathBuf>,
    pub notes_dir: Option<PathBuf>,
    pub segments: Vec<String>,
    pub trailing_periods: usize,
    pub history_periods: usize,
    pub title: String,
    pub currency: String,
    /// Archive pages readable by their owner only (0600 instead of 0644).
    pub private: bool,
    /// Where the archive root is published (`https://…/reports`), for links in emails.
    pub base_url: Option<String>,
}

pub(super) fn check(
    raw: RawReport,
    base: &Path,
    src: &Source<'_>,
) -> Result<ReportConfig, ConfigError> {
    let err = |key: &str, msg: String| src.invalid("report", key, msg);
    let cadence = match &raw.cadence {
        Some(c) => c.parse::<Cadence>().map_err(|e| err("cadence", e))?,
        None => Cadence::Weekly,
    };
    let timezone = match &raw.timezone {
        Some(tz) => period::parse_timezone(tz).map_err(|e| err("timezone", e))?,
        None => Tz::UTC,
    };
    let trailing_periods = raw.trailing_periods.unwrap_or(4);
    if !(1..=52).contains(&trailing_periods) {
        return Err(err("trailing_periods", "must be between 1 and 52".into()));
    }
    let history_periods = raw.history_periods.unwrap_or(26);
    if !(2..=104).contains(&history_periods) {
        return Err(err("history_periods", "must be between 2 and 104".into()));
    }
    let mut segments = Vec::new();
    for s in &raw.segments {
        let s = s.trim().to_string();
        if s.is_empty() || s.contains('=') {
            return Err(err("segments", format!("'{s}' is not an attribute name")));
        }
        if segments.contains(&s) {
            return Err(err("segments", format!("'{s}' is listed twice")));
        }
        segments.push(s);
    }
    let base_url = match raw.base_url.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(u) if u.starts_with("https://") || u.starts_with("http://") => {
            Some(u.trim_end_matches('/').to_string())
        }
        Some(u) => {
            return Err(err(
                "base_url",
                format!(
                    "'{u}' is not an http(s) address (e.g. https://reports.example.com/scorecard)"
                ),
            ))
        }
    };
    let path = |p: &str| base.join(p);
    // A folder that is not there would silently mean the built-ins.
    if let Some(dir) = raw.templates_dir.as_deref().map(path) {
        if !dir.is_dir() {
            return Err(err(
                "templates_dir",
                format!(
                    "{} is not a folder (`scorecard init` writes the default templates; remove the key to use the built-in ones)",
                    dir.display()
                ),
            ));
        }
    }
    Ok(ReportConfig {
        cadence,
        timezone,
        out_dir: path(raw.out_dir.as_deref().unwrap_or("reports")),
        templates_dir: raw.templates_dir.as_deref().map(path),
        notes_dir: raw.notes_dir.as_deref().map(path),
        segments,
        trailing_periods,
        history_periods,
        title: raw
            .title
            .unwrap_or_else(|| format!("{} CRM scorecard", cadence.adjective())),
        currency: raw.currency.unwrap_or_else(|| "$".into()),
        private: raw.private.unwrap_or(false),
        base_url,
    })
}
