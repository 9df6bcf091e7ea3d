//! Configuration: raw serde structs (unknown keys refused) validated into a
//! checked [`Config`]. Paths are relative to the config file's folder;
//! `SCORECARD_<SECTION>__<KEY>` environment variables override keys; the SMTP
//! password is only ever read from the variable `password_env` names.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;
use lettre::message::Mailbox;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::Failure;
use crate::ingest::schema::FileKind;
use crate::kpi::catalogue::{self, Category, Direction, Unit};
use crate::period::{self, Cadence};

/// The built-in industry benchmarks, used when `[benchmarks] file` is not set.
pub const DEFAULT_BENCHMARKS: &str = include_str!("../benchmarks.toml");

// ---------------------------------------------------------------- raw layer

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawConfig {
    store: RawStore,
    report: RawReport,
    benchmarks: RawBenchmarks,
    service: RawService,
    kpi: BTreeMap<String, RawKpi>,
    activities: RawActivities,
    objective: Vec<RawObjective>,
    import: BTreeMap<String, RawImport>,
    email: RawEmail,
    run: RawRun,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawStore {
    path: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawReport {
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
    base_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawBenchmarks {
    file: Option<String>,
    industry: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawService {
    first_response_sla_hours: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawKpi {
    target: Option<f64>,
    stretch: Option<f64>,
    floor: Option<f64>,
    // Custom KPIs (kpis.md "Custom KPIs"): a `[kpi.<id>]` table with formula or sql.
    title: Option<String>,
    formula: Option<String>,
    sql: Option<String>,
    unit: Option<String>,
    direction: Option<String>,
    category: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawActivities {
    categories: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawObjective {
    name: String,
    kpi: String,
    baseline: f64,
    target: f64,
    value: f64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawImport {
    file: Option<String>,
    columns: BTreeMap<String, String>,
    date_format: Option<String>,
    timestamp_format: Option<String>,
    stages: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawEmail {
    transport: Option<String>,
    from: Option<String>,
    subject: Option<String>,
    outbox_dir: Option<String>,
    smtp: RawSmtp,
    sendmail: RawSendmail,
    recipients: Vec<RawRecipient>,
    max_attempts: Option<u32>,
    retry_delay_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawSmtp {
    host: Option<String>,
    port: Option<u16>,
    tls: Option<String>,
    username: Option<String>,
    password_env: Option<String>,
    allow_insecure: bool,
    timeout_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawSendmail {
    command: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecipient {
    to: Vec<String>,
    #[serde(default)]
    segment: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawRun {
    lock_wait_secs: Option<u64>,
}

// ------------------------------------------------------------ checked layer

#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from (None: built-in defaults, as the demo uses).
    pub source: Option<PathBuf>,
    pub base_dir: PathBuf,
    pub store_path: PathBuf,
    pub report: ReportConfig,
    pub benchmarks: Vec<Benchmark>,
    pub industry: Option<String>,
    pub sla_hours: f64,
    pub targets: BTreeMap<String, Target>,
    pub custom_kpis: Vec<CustomKpi>,
    pub activity_categories: BTreeMap<String, Category>,
    pub objectives: Vec<Objective>,
    pub import: BTreeMap<FileKind, ImportMapping>,
    pub email: EmailConfig,
    pub lock_wait: Duration,
    /// SHA-256 of the effective configuration (manifest.json).
    pub hash: String,
    /// Hash of the settings that change computed figures (the KPI cache key).
    pub compute_fingerprint: String,
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
    /// Where the archive root is published (`https://…/reports`), for links in emails.
    pub base_url: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Target {
    pub target: Option<f64>,
    pub stretch: Option<f64>,
    pub floor: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct CustomKpi {
    pub id: String,
    pub title: String,
    pub body: CustomBody,
    pub unit: Unit,
    pub direction: Direction,
    pub category: Category,
}

#[derive(Debug, Clone)]
pub enum CustomBody {
    Formula(crate::kpi::custom::Expr),
    Sql(String),
}

#[derive(Debug, Clone)]
pub struct Objective {
    pub name: String,
    pub kpi: String,
    pub baseline: f64,
    pub target: f64,
    pub value: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Benchmark {
    pub industry: String,
    pub kpi: String,
    pub value: f64,
    pub source: String,
    pub year: i32,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BenchmarkFile {
    #[serde(default)]
    benchmark: Vec<Benchmark>,
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    Smtp,
    Sendmail,
    File,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    Starttls,
    Tls,
    None,
}

#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: Option<String>,
    pub password_env: Option<String>,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct Recipient {
    pub to: Vec<Mailbox>,
    /// `attribute=value`, or None for the whole business.
    pub segment: Option<(String, String)>,
}

impl Recipient {
    /// The segment key of the recipient's scorecard ("" for the whole business).
    pub fn segment_key(&self) -> String {
        self.segment
            .as_ref()
            .map(|(a, v)| format!("{a}={v}"))
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
pub struct EmailConfig {
    pub transport: TransportKind,
    pub from: Mailbox,
    pub subject: String,
    pub outbox_dir: PathBuf,
    pub smtp: Option<SmtpConfig>,
    pub sendmail_command: Option<String>,
    pub recipients: Vec<Recipient>,
    /// Attempts per message within one run before it is left pending.
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt, capped at 30 s.
    pub retry_delay: Duration,
}

impl Config {
    pub fn segment_attrs(&self) -> &[String] {
        &self.report.segments
    }

    pub fn benchmark(&self, kpi: &str) -> Option<&Benchmark> {
        let industry = self.industry.as_deref()?;
        self.benchmarks
            .iter()
            .find(|b| b.industry == industry && b.kpi == kpi)
    }

    /// The built-in configuration the demo runs on, rooted at `dir`.
    pub fn demo(dir: &Path) -> Config {
        let text = include_str!("../config.toml");
        Config::from_toml(text, dir, None, &Env::new()).expect("the sample config.toml is valid")
    }

    /// Reads and validates the config file; `env` is the environment lookup
    /// (passed in so tests can control it).
    pub fn load(path: &Path, env: &Env) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Failure::usage(format!(
                "cannot read config {}: {e} (create one with `scorecard init`, or pass --config PATH)",
                path.display()
            ))
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let base = if base.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            base
        };
        Ok(Config::from_toml(&text, &base, Some(path), env)?)
    }

    pub fn from_toml(
        text: &str,
        base_dir: &Path,
        source: Option<&Path>,
        env: &Env,
    ) -> Result<Config, Failure> {
        let name = source
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "config.toml".into());
        // Deserialize the text itself first: its errors carry line and column.
        let raw: RawConfig = toml::from_str(text).map_err(|e| toml_failure(&name, text, &e))?;
        let mut value: toml::Table =
            toml::from_str(text).map_err(|e| toml_failure(&name, text, &e))?;
        let raw = if apply_env_overrides(&mut value, env)? {
            RawConfig::deserialize(toml::Value::Table(value.clone())).map_err(|e| {
                Failure::usage(format!(
                    "{name} with SCORECARD_* environment overrides: {}",
                    e.message().trim()
                ))
            })?
        } else {
            raw
        };
        let hash = hex::encode(Sha256::digest(toml::to_string(&value).unwrap_or_default()));
        validate(raw, base_dir, source, &name, text, env, hash)
    }
}

/// A snapshot of the environment variables the config may read.
pub type Env = BTreeMap<String, String>;

/// The process environment (read once, in `lib::run`).
pub fn process_env() -> Env {
    std::env::vars().filter(|(k, _)| k.is_ascii()).collect()
}

fn toml_failure(name: &str, text: &str, e: &toml::de::Error) -> Failure {
    let location = e
        .span()
        .map(|span| {
            let (line, col) = line_col(text, span.start);
            format!("{name}:{line}:{col}")
        })
        .unwrap_or_else(|| name.to_string());
    Failure::usage(format!(
        "{location}: {} (see the config reference in README.md)",
        e.message().trim()
    ))
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

/// Finds `key = …` inside `[section]` to point a validation error at its line.
fn locate(text: &str, section: &str, key: &str) -> Option<usize> {
    let mut current = String::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.starts_with('[') {
            current = t.trim_matches(|c| c == '[' || c == ']').trim().to_string();
            continue;
        }
        if current == section {
            if let Some((k, _)) = t.split_once('=') {
                if k.trim() == key {
                    return Some(i + 1);
                }
            }
        }
    }
    None
}

/// `SCORECARD_REPORT__TIMEZONE=Europe/Paris` sets `[report] timezone`;
/// `__` separates the levels. Values are read as TOML (numbers, booleans,
/// arrays) when they parse as such, else as strings.
fn apply_env_overrides(table: &mut toml::Table, env: &Env) -> Result<bool, Failure> {
    let mut applied = false;
    for (key, raw_value) in env
        .iter()
        .filter(|(k, _)| k.starts_with("SCORECARD_") && k.contains("__"))
    {
        let path: Vec<String> = key["SCORECARD_".len()..]
            .split("__")
            .map(|s| s.to_ascii_lowercase())
            .collect();
        if path.iter().any(|p| p.is_empty()) {
            return Err(Failure::usage(format!(
                "environment variable {key}: empty key segment"
            )));
        }
        if path.last().is_some_and(|k| k == "password") {
            return Err(Failure::usage(format!(
                "environment variable {key}: the SMTP password is read from the variable [email.smtp] password_env names, not from an override"
            )));
        }
        let parsed: toml::Value = toml::from_str::<toml::Table>(&format!("v = {raw_value}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or(toml::Value::String(raw_value.clone()));
        let mut node = &mut *table;
        for part in &path[..path.len() - 1] {
            let entry = node
                .entry(part.clone())
                .or_insert_with(|| toml::Value::Table(Default::default()));
            node = entry.as_table_mut().ok_or_else(|| {
                Failure::usage(format!(
                    "environment variable {key}: '{part}' is not a table in the config"
                ))
            })?;
        }
        node.insert(path[path.len() - 1].clone(), parsed);
        applied = true;
    }
    Ok(applied)
}

fn validate(
    raw: RawConfig,
    base: &Path,
    source: Option<&Path>,
    name: &str,
    text: &str,
    env: &Env,
    hash: String,
) -> Result<Config, Failure> {
    let err = |section: &str, key: &str, msg: String| {
        let at = locate(text, section, key)
            .map(|l| format!("{name}:{l}"))
            .unwrap_or_else(|| name.to_string());
        Failure::usage(format!("{at}: [{section}] {key}: {msg}"))
    };
    let path = |p: &str| base.join(p);

    // [report]
    let cadence = match &raw.report.cadence {
        Some(c) => c
            .parse::<Cadence>()
            .map_err(|e| err("report", "cadence", e))?,
        None => Cadence::Weekly,
    };
    let timezone = match &raw.report.timezone {
        Some(tz) => period::parse_timezone(tz).map_err(|e| err("report", "timezone", e))?,
        None => Tz::UTC,
    };
    let trailing_periods = raw.report.trailing_periods.unwrap_or(4);
    if !(1..=52).contains(&trailing_periods) {
        return Err(err(
            "report",
            "trailing_periods",
            "must be between 1 and 52".into(),
        ));
    }
    let history_periods = raw.report.history_periods.unwrap_or(26);
    if !(2..=104).contains(&history_periods) {
        return Err(err(
            "report",
            "history_periods",
            "must be between 2 and 104".into(),
        ));
    }
    let mut segments = Vec::new();
    for s in &raw.report.segments {
        let s = s.trim().to_string();
        if s.is_empty() || s.contains('=') {
            return Err(err(
                "report",
                "segments",
                format!("'{s}' is not an attribute name"),
            ));
        }
        if segments.contains(&s) {
            return Err(err("report", "segments", format!("'{s}' is listed twice")));
        }
        segments.push(s);
    }
    let report = ReportConfig {
        cadence,
        timezone,
        out_dir: path(raw.report.out_dir.as_deref().unwrap_or("reports")),
        templates_dir: raw.report.templates_dir.as_deref().map(path),
        notes_dir: raw.report.notes_dir.as_deref().map(path),
        segments,
        trailing_periods,
        history_periods,
        title: raw
            .report
            .title
            .clone()
            .unwrap_or_else(|| format!("{} CRM scorecard", cadence.adjective())),
        currency: raw.report.currency.clone().unwrap_or_else(|| "$".into()),
        base_url: match raw.report.base_url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(u) if u.starts_with("https://") || u.starts_with("http://") => {
                Some(u.trim_end_matches('/').to_string())
            }
            Some(u) => return Err(err(
                "report",
                "base_url",
                format!(
                    "'{u}' is not an http(s) address (e.g. https://reports.example.com/scorecard)"
                ),
            )),
        },
    };

    // [benchmarks]
    let (bench_text, bench_name) = match &raw.benchmarks.file {
        Some(f) => {
            let p = path(f);
            let t = std::fs::read_to_string(&p).map_err(|e| {
                err(
                    "benchmarks",
                    "file",
                    format!(
                        "cannot read {}: {e} (`scorecard init` writes a default one)",
                        p.display()
                    ),
                )
            })?;
            (t, p.display().to_string())
        }
        None => (
            DEFAULT_BENCHMARKS.to_string(),
            "built-in benchmarks.toml".to_string(),
        ),
    };
    let benchmarks: BenchmarkFile =
        toml::from_str(&bench_text).map_err(|e| toml_failure(&bench_name, &bench_text, &e))?;
    let industry = raw.benchmarks.industry.clone();
    if let Some(ind) = &industry {
        if !benchmarks.benchmark.iter().any(|b| &b.industry == ind) {
            let mut known: Vec<_> = benchmarks
                .benchmark
                .iter()
                .map(|b| b.industry.as_str())
                .collect();
            known.dedup();
            return Err(err(
                "benchmarks",
                "industry",
                format!(
                    "no benchmarks for '{ind}' in {bench_name} (known: {})",
                    known.join(", ")
                ),
            ));
        }
    }
    for b in &benchmarks.benchmark {
        if !catalogue::is_known_static(&b.kpi) {
            return Err(Failure::usage(format!(
                "{bench_name}: benchmark for unknown KPI '{}' (see `scorecard kpis`)",
                b.kpi
            )));
        }
    }

    // [service]
    let sla_hours = raw.service.first_response_sla_hours.unwrap_or(24.0);
    if !(sla_hours.is_finite() && sla_hours > 0.0) {
        return Err(err(
            "service",
            "first_response_sla_hours",
            "must be a positive number of hours".into(),
        ));
    }

    // [kpi.<id>]: targets of known KPIs, or custom KPIs.
    let mut targets = BTreeMap::new();
    let mut custom_kpis = Vec::new();
    for (id, k) in &raw.kpi {
        let section = format!("kpi.{id}");
        let custom = k.formula.is_some() || k.sql.is_some();
        if custom {
            if catalogue::is_known_static(id) {
                return Err(err(
                    &section,
                    "formula",
                    format!("'{id}' is a built-in KPI; give the custom KPI another id"),
                ));
            }
            if !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(err(
                    &section,
                    "formula",
                    format!("'{id}': custom KPI ids use letters, digits and _"),
                ));
            }
            let body = match (&k.formula, &k.sql) {
                (Some(f), None) => CustomBody::Formula(
                    crate::kpi::custom::Expr::parse(f).map_err(|e| err(&section, "formula", e))?,
                ),
                (None, Some(s)) => {
                    let lower = s.trim_start().to_ascii_lowercase();
                    if !(lower.starts_with("select") || lower.starts_with("with")) {
                        return Err(err(&section, "sql", "must be one SELECT statement".into()));
                    }
                    CustomBody::Sql(s.clone())
                }
                _ => {
                    return Err(err(
                        &section,
                        "sql",
                        "give either formula or sql, not both".into(),
                    ))
                }
            };
            custom_kpis.push(CustomKpi {
                id: id.clone(),
                title: k.title.clone().unwrap_or_else(|| id.replace('_', " ")),
                body,
                unit: match &k.unit {
                    Some(u) => Unit::parse(u).ok_or_else(|| err(&section, "unit", format!("unknown unit '{u}' (count, percent, currency, hours, days, score, ratio)")))?,
                    None => Unit::Ratio,
                },
                direction: match k.direction.as_deref() {
                    None | Some("higher") => Direction::Higher,
                    Some("lower") => Direction::Lower,
                    Some(o) => return Err(err(&section, "direction", format!("'{o}' (expected higher or lower)"))),
                },
                category: match &k.category {
                    Some(c) => Category::parse(c).ok_or_else(|| err(&section, "category", format!("'{c}' (expected input, process, output or outcome)")))?,
                    None => Category::Outcome,
                },
            });
        } else {
            if k.title.is_some()
                || k.unit.is_some()
                || k.direction.is_some()
                || k.category.is_some()
            {
                return Err(err(&section, "title", "title, unit, direction and category are only for custom KPIs (with formula or sql)".into()));
            }
            if !catalogue::is_known_static(id) {
                return Err(err(&section, "target", format!("unknown KPI '{id}' (see `scorecard kpis`; a custom KPI needs formula or sql)")));
            }
        }
        let t = Target {
            target: k.target,
            stretch: k.stretch,
            floor: k.floor,
        };
        if t != Target::default() {
            targets.insert(id.clone(), t);
        }
    }
    let custom_ids: Vec<String> = custom_kpis.iter().map(|c| c.id.clone()).collect();
    for c in &custom_kpis {
        if let CustomBody::Formula(expr) = &c.body {
            for v in expr.variables() {
                if !catalogue::is_known_static(&v) && !custom_ids.contains(&v) {
                    return Err(err(
                        &format!("kpi.{}", c.id),
                        "formula",
                        format!("unknown KPI '{v}' in the formula"),
                    ));
                }
                if v == c.id {
                    return Err(err(
                        &format!("kpi.{}", c.id),
                        "formula",
                        "a KPI cannot refer to itself".into(),
                    ));
                }
            }
        }
    }

    // [activities.categories]
    let mut activity_categories = BTreeMap::new();
    for (kind, cat) in &raw.activities.categories {
        let c = Category::parse(cat).ok_or_else(|| {
            err(
                "activities.categories",
                kind,
                format!("'{cat}' (expected input, process, output or outcome)"),
            )
        })?;
        activity_categories.insert(kind.clone(), c);
    }

    // [[objective]]
    let mut objectives = Vec::new();
    for o in raw.objective {
        if !catalogue::is_known_static(&o.kpi) && !custom_ids.contains(&o.kpi) {
            return Err(Failure::usage(format!(
                "{name}: [[objective]] '{}': unknown KPI '{}' (see `scorecard kpis`)",
                o.name, o.kpi
            )));
        }
        if o.target == o.baseline {
            return Err(Failure::usage(format!(
                "{name}: [[objective]] '{}': target equals baseline; nothing to realize",
                o.name
            )));
        }
        if !(o.value.is_finite() && o.value >= 0.0) {
            return Err(Failure::usage(format!(
                "{name}: [[objective]] '{}': value must be a non-negative amount",
                o.name
            )));
        }
        objectives.push(Objective {
            name: o.name,
            kpi: o.kpi,
            baseline: o.baseline,
            target: o.target,
            value: o.value,
        });
    }

    // [import.<file>]
    let mut import = BTreeMap::new();
    for (key, m) in raw.import {
        let kind = FileKind::parse(&key).ok_or_else(|| {
            Failure::usage(format!("{name}: [import.{key}]: unknown snapshot file (expected one of customers, deals, orders, tickets, surveys, spend, activities, measures)"))
        })?;
        let section = format!("import.{key}");
        let mut columns = BTreeMap::new();
        for (canonical, header) in m.columns {
            if !kind.columns().iter().any(|c| c.name == canonical) {
                let known: Vec<_> = kind.columns().iter().map(|c| c.name).collect();
                return Err(err(
                    &section,
                    "columns",
                    format!(
                        "'{canonical}' is not a column of {key}.csv (columns: {})",
                        known.join(", ")
                    ),
                ));
            }
            columns.insert(canonical, header.trim().to_lowercase());
        }
        let mut stages = BTreeMap::new();
        if !m.stages.is_empty() && kind != FileKind::Deals {
            return Err(err(
                &section,
                "stages",
                "stage mapping is only for deals".into(),
            ));
        }
        for (canonical, names) in m.stages {
            if !["won", "lost", "open"].contains(&canonical.as_str()) {
                return Err(err(
                    &section,
                    "stages",
                    format!("'{canonical}' (map to won, lost or open)"),
                ));
            }
            for n in names {
                stages.insert(n.trim().to_lowercase(), canonical.clone());
            }
        }
        for (k, f) in [
            ("date_format", &m.date_format),
            ("timestamp_format", &m.timestamp_format),
        ] {
            if let Some(f) = f {
                if chrono::format::StrftimeItems::new(f)
                    .any(|i| matches!(i, chrono::format::Item::Error))
                {
                    return Err(err(
                        &section,
                        k,
                        format!("'{f}' is not a valid strftime format"),
                    ));
                }
            }
        }
        import.insert(
            kind,
            ImportMapping {
                file: m.file,
                columns,
                date_format: m.date_format,
                timestamp_format: m.timestamp_format,
                stages,
            },
        );
    }

    // [email]
    let email = validate_email(raw.email, base, &report.segments, &err, env)?;

    let lock_wait = Duration::from_secs(raw.run.lock_wait_secs.unwrap_or(600));
    // Only what changes a cached figure: comparisons, targets, categories and
    // derived KPIs are recomputed on every run.
    let compute_fingerprint = {
        let mut h = Sha256::new();
        h.update(format!(
            "{}|{}|{:?}",
            timezone.name(),
            sla_hours,
            report.segments
        ));
        hex::encode(&h.finalize()[..8])
    };
    Ok(Config {
        source: source.map(Path::to_path_buf),
        base_dir: base.to_path_buf(),
        store_path: path(raw.store.path.as_deref().unwrap_or("scorecard.db")),
        report,
        benchmarks: benchmarks.benchmark,
        industry,
        sla_hours,
        targets,
        custom_kpis,
        activity_categories,
        objectives,
        import,
        email,
        lock_wait,
        hash,
        compute_fingerprint,
    })
}

fn validate_email(
    raw: RawEmail,
    base: &Path,
    segments: &[String],
    err: &dyn Fn(&str, &str, String) -> Failure,
    env: &Env,
) -> Result<EmailConfig, Failure> {
    let transport = match raw.transport.as_deref() {
        None | Some("file") => TransportKind::File,
        Some("smtp") => TransportKind::Smtp,
        Some("sendmail") => TransportKind::Sendmail,
        Some(o) => {
            return Err(err(
                "email",
                "transport",
                format!("'{o}' (expected smtp, sendmail or file)"),
            ))
        }
    };
    let from_text = raw
        .from
        .unwrap_or_else(|| "Scorecard <scorecard@localhost>".into());
    let from: Mailbox = from_text.parse().map_err(|e| {
        err(
            "email",
            "from",
            format!("'{from_text}' is not an email address ({e})"),
        )
    })?;
    let mut recipients = Vec::new();
    for r in raw.recipients {
        if r.to.is_empty() {
            return Err(err(
                "email.recipients",
                "to",
                "a recipient entry needs at least one address".into(),
            ));
        }
        let mut to = Vec::new();
        for a in &r.to {
            to.push(a.parse::<Mailbox>().map_err(|e| {
                err(
                    "email.recipients",
                    "to",
                    format!("'{a}' is not a valid email address ({e}); nothing was sent"),
                )
            })?);
        }
        let segment = match r.segment {
            None => None,
            Some(s) => {
                let (attr, value) = s.split_once('=').ok_or_else(|| {
                    err(
                        "email.recipients",
                        "segment",
                        format!("'{s}' (expected attribute=value, e.g. region=EMEA)"),
                    )
                })?;
                let attr = attr.trim().to_string();
                if !segments.contains(&attr) {
                    return Err(err(
                        "email.recipients",
                        "segment",
                        format!(
                            "'{attr}' is not one of [report] segments ({})",
                            segments.join(", ")
                        ),
                    ));
                }
                Some((attr, value.trim().to_string()))
            }
        };
        recipients.push(Recipient { to, segment });
    }
    let smtp = if transport == TransportKind::Smtp {
        let s = raw.smtp;
        let host = s.host.ok_or_else(|| {
            err(
                "email.smtp",
                "host",
                "is required with transport = \"smtp\"".into(),
            )
        })?;
        let tls = match s.tls.as_deref() {
            None | Some("starttls") => TlsMode::Starttls,
            Some("tls") => TlsMode::Tls,
            Some("none") => TlsMode::None,
            Some(o) => {
                return Err(err(
                    "email.smtp",
                    "tls",
                    format!("'{o}' (expected starttls, tls or none)"),
                ))
            }
        };
        let loopback = host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if tls == TlsMode::None && !loopback && !s.allow_insecure {
            return Err(err("email.smtp", "tls", format!("\"none\" sends the password and the reports in clear text to {host}; use starttls or tls, or set allow_insecure = true")));
        }
        let port = s.port.unwrap_or(match tls {
            TlsMode::Starttls => 587,
            TlsMode::Tls => 465,
            TlsMode::None => 25,
        });
        if s.username.is_some() {
            let var = s.password_env.as_deref().ok_or_else(|| {
                err(
                    "email.smtp",
                    "username",
                    "needs password_env, the name of the environment variable holding the password"
                        .into(),
                )
            })?;
            if !env.contains_key(var) {
                return Err(err("email.smtp", "password_env", format!("the environment variable {var} is not set (it must hold the SMTP password)")));
            }
        }
        Some(SmtpConfig {
            host,
            port,
            tls,
            username: s.username,
            password_env: s.password_env,
            timeout: Duration::from_secs(s.timeout_secs.unwrap_or(30)),
        })
    } else {
        None
    };
    Ok(EmailConfig {
        transport,
        from,
        subject: raw
            .subject
            .unwrap_or_else(|| crate::report::DEFAULT_SUBJECT.into()),
        outbox_dir: base.join(raw.outbox_dir.unwrap_or_else(|| "outbox".into())),
        smtp,
        sendmail_command: raw.sendmail.command,
        recipients,
        max_attempts: raw.max_attempts.unwrap_or(4).clamp(1, 10),
        retry_delay: Duration::from_millis(raw.retry_delay_ms.unwrap_or(1000).min(30_000)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, Failure> {
        Config::from_toml(
            text,
            Path::new("/base"),
            Some(Path::new("config.toml")),
            &Env::new(),
        )
    }

    #[test]
    fn defaults_and_relative_paths() {
        let c = parse("").unwrap();
        assert_eq!(c.report.cadence, Cadence::Weekly);
        assert_eq!(c.report.timezone, Tz::UTC);
        assert_eq!(c.store_path, Path::new("/base/scorecard.db"));
        assert_eq!(c.report.trailing_periods, 4);
        assert_eq!(c.sla_hours, 24.0);
    }

    #[test]
    fn unknown_keys_are_refused_with_line_and_column() {
        let e = parse("[report]\ncadence = \"weekly\"\ncolour = \"blue\"\n").unwrap_err();
        assert!(
            e.message
                .starts_with("config.toml:3:1: unknown field `colour`"),
            "{}",
            e.message
        );
        assert_eq!(e.code, 2);
    }

    #[test]
    fn validation_errors_name_the_line() {
        let e = parse("[report]\n\ntimezone = \"Mars/Base\"\n").unwrap_err();
        assert!(
            e.message
                .starts_with("config.toml:3: [report] timezone: unknown time zone 'Mars/Base'"),
            "{}",
            e.message
        );
    }

    #[test]
    fn invalid_recipient_is_refused() {
        let e = parse("[[email.recipients]]\nto = [\"not an address\"]\n").unwrap_err();
        assert!(
            e.message
                .contains("'not an address' is not a valid email address"),
            "{}",
            e.message
        );
    }

    #[test]
    fn insecure_smtp_only_to_loopback() {
        let e = parse("[email]\ntransport = \"smtp\"\n[email.smtp]\nhost = \"mail.example.com\"\ntls = \"none\"\n").unwrap_err();
        assert!(e.message.contains("clear text"), "{}", e.message);
        let c = parse(
            "[email]\ntransport = \"smtp\"\n[email.smtp]\nhost = \"127.0.0.1\"\ntls = \"none\"\n",
        )
        .unwrap();
        assert_eq!(c.email.smtp.unwrap().port, 25);
        let c = parse("[email]\ntransport = \"smtp\"\n[email.smtp]\nhost = \"mail.example.com\"\ntls = \"tls\"\n").unwrap();
        assert_eq!(c.email.smtp.unwrap().port, 465);
    }

    #[test]
    fn username_needs_a_password_variable() {
        let base = "[email]\ntransport = \"smtp\"\n[email.smtp]\nhost = \"smtp.example.com\"\nusername = \"u\"\n";
        assert!(parse(base)
            .unwrap_err()
            .message
            .contains("needs password_env"));
        let with_env = format!("{base}password_env = \"PW_VAR\"\n");
        assert!(parse(&with_env)
            .unwrap_err()
            .message
            .contains("PW_VAR is not set"));
        let env = Env::from([("PW_VAR".to_string(), "secret".to_string())]);
        assert!(Config::from_toml(&with_env, Path::new("."), None, &env).is_ok());
    }

    #[test]
    fn targets_custom_kpis_and_objectives() {
        let c = parse(
            "[kpi.nps]\ntarget = 40\nfloor = 30\n[kpi.margin_x]\nformula = \"clv / cac\"\nunit = \"ratio\"\n[[objective]]\nname = \"n\"\nkpi = \"nps\"\nbaseline = 30\ntarget = 40\nvalue = 1000\n",
        )
        .unwrap();
        assert_eq!(c.targets["nps"].target, Some(40.0));
        assert_eq!(c.custom_kpis[0].id, "margin_x");
        assert_eq!(c.objectives.len(), 1);
        assert!(parse("[kpi.npz]\ntarget = 1\n")
            .unwrap_err()
            .message
            .contains("unknown KPI 'npz'"));
        assert!(parse("[kpi.x]\nformula = \"nps +\"\n").is_err());
    }

    #[test]
    fn import_mapping_is_checked() {
        let c = parse("[import.deals]\ncolumns = { deal_id = \"Opportunity ID\" }\nstages = { won = [\"Closed Won\"] }\n").unwrap();
        assert_eq!(
            c.import[&FileKind::Deals].columns["deal_id"],
            "opportunity id"
        );
        assert_eq!(c.import[&FileKind::Deals].stages["closed won"], "won");
        assert!(parse("[import.leads]\n").is_err());
        assert!(parse("[import.deals]\ncolumns = { id = \"x\" }\n").is_err());
    }

    #[test]
    fn environment_overrides_keys() {
        let env = Env::from([(
            "SCORECARD_REPORT__TIMEZONE".to_string(),
            "Europe/Paris".to_string(),
        )]);
        let c = Config::from_toml("[report]\ntimezone = \"UTC\"\n", Path::new("."), None, &env)
            .unwrap();
        assert_eq!(c.report.timezone.name(), "Europe/Paris");
    }

    #[test]
    fn sample_config_is_valid() {
        let c = Config::demo(Path::new("/tmp/demo"));
        assert!(!c.report.segments.is_empty());
    }
}
