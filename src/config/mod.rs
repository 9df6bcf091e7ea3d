//! Configuration: one module per section (zola's `config/` folder), each
//! with its raw serde struct (unknown keys refused) and the check that turns
//! it into its part of the checked [`Config`]. The file is parsed once; the
//! parser's spans locate every message at its key's line ([`error`]).
//! Paths are relative to the config file's folder; `SCORECARD_<SECTION>__<KEY>`
//! environment variables override keys; the SMTP password is only ever read
//! from the variable `password_env` names, once, here.
mod activities;
mod benchmarks;
mod email;
pub mod error;
mod import;
mod kpi;
mod notify;
pub mod presets;
mod report;
mod source;
mod store;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::de::DeTable;

pub use benchmarks::{Benchmark, DEFAULT_BENCHMARKS};
pub use email::{
    EmailConfig, Recipient, Secret, SmtpConfig, TlsMode, TransportKind, DEFAULT_SUBJECT,
};
pub use error::ConfigError;
pub use import::{DurationColumn, DurationUnit, ImportMapping, RawImport, StageFrom};
pub use kpi::{CustomBody, CustomKpi, Objective, Target};
pub use notify::{check_url as check_webhook_url, NotifyKind, NotifyTarget, WebhookUrl};
pub use report::ReportConfig;
pub use source::{check_relation, WarehouseConfig};
pub use store::{check_pg_schema, check_pg_url, Location, PgConfig, PgSecret};

use crate::catalogue::Category;
use crate::sources::FileKind;
use error::Source;

/// The whole file as serde reads it; each section's struct lives in its module.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawConfig {
    store: store::RawStore,
    source: source::RawSource,
    report: report::RawReport,
    benchmarks: benchmarks::RawBenchmarks,
    service: RawService,
    kpi: BTreeMap<String, kpi::RawKpi>,
    activities: activities::RawActivities,
    objective: Vec<kpi::RawObjective>,
    import: BTreeMap<String, import::RawImport>,
    email: email::RawEmail,
    notify: Vec<notify::RawNotify>,
    run: RawRun,
}

/// `[service]`: the first-response SLA the ticket KPIs measure against.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawService {
    first_response_sla_hours: Option<f64>,
    resolution_hours: Option<f64>,
}

/// `[run]`: how long a run waits for another one's lock.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawRun {
    lock_wait_secs: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from (None: built-in defaults, as the demo uses).
    pub source: Option<PathBuf>,
    pub base_dir: PathBuf,
    /// The SQLite file (for a PostgreSQL store: where a SQLite store would
    /// be; files beside the store, such as rejects, go to its folder).
    pub store_path: PathBuf,
    /// Where the store is: the SQLite file or a PostgreSQL server.
    pub store: Location,
    /// `[source]`: warehouse mode (the CRM tables read where they are).
    pub warehouse: Option<WarehouseConfig>,
    pub report: ReportConfig,
    pub benchmarks: Vec<Benchmark>,
    pub industry: Option<String>,
    pub sla_hours: f64,
    /// `[service] resolution_hours`: the resolution window (kpis.md).
    pub resolution_hours: f64,
    pub targets: BTreeMap<String, Target>,
    pub custom_kpis: Vec<CustomKpi>,
    pub activity_categories: BTreeMap<String, Category>,
    pub objectives: Vec<Objective>,
    pub import: BTreeMap<FileKind, ImportMapping>,
    pub email: EmailConfig,
    /// `[[notify]]`: Slack and Teams webhooks.
    pub notify: Vec<NotifyTarget>,
    pub lock_wait: Duration,
    /// SHA-256 of the effective configuration (manifest.json).
    pub hash: String,
    /// Hash of the settings that change computed figures (the KPI cache key).
    pub compute_fingerprint: String,
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
        let text = include_str!("../../config.toml");
        Config::from_toml(text, dir, None, &Env::new()).expect("the sample config.toml is valid")
    }

    /// Reads and validates the config file; `env` is the environment lookup
    /// (passed in so tests can control it).
    pub fn load(path: &Path, env: &Env) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let base = if base.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            base
        };
        Ok(Config::from_toml(&text, &base, Some(path), env)?)
    }

    /// Parses `text` once, applies the environment overrides and checks
    /// every section.
    pub fn from_toml(
        text: &str,
        base_dir: &Path,
        source: Option<&Path>,
        env: &Env,
    ) -> Result<Config, ConfigError> {
        let name = source
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "config.toml".into());
        let doc = DeTable::parse(text).map_err(|e| ConfigError::syntax(&name, text, &e))?;
        let (raw, hash) = read(&doc, &name, text, env)?;
        let src = Source::new(name, text, doc.get_ref());
        check(raw, base_dir, source, &src, env, hash)
    }
}

/// A snapshot of the environment variables the config may read.
pub type Env = BTreeMap<String, String>;

/// The process environment (read once, in `lib::run`).
pub fn process_env() -> Env {
    std::env::vars().filter(|(k, _)| k.is_ascii()).collect()
}

/// The raw sections of the parsed document with the overrides applied, and
/// the hash of the effective configuration.
fn read(
    doc: &toml::Spanned<DeTable<'_>>,
    name: &str,
    text: &str,
    env: &Env,
) -> Result<(RawConfig, String), ConfigError> {
    refuse_non_finite(doc.get_ref(), "", name, text)?;
    let document = || toml::de::Deserializer::from(doc.clone());
    // The document itself first: its errors carry line and column.
    let raw =
        RawConfig::deserialize(document()).map_err(|e| ConfigError::syntax(name, text, &e))?;
    let mut value =
        toml::Table::deserialize(document()).map_err(|e| ConfigError::syntax(name, text, &e))?;
    let overridden = apply_env_overrides(&mut value, env)?;
    if overridden {
        fn finite(v: &toml::Value) -> bool {
            match v {
                toml::Value::Float(f) => f.is_finite(),
                toml::Value::Table(t) => t.values().all(finite),
                toml::Value::Array(a) => a.iter().all(finite),
                _ => true,
            }
        }
        if !value.values().all(finite) {
            return Err(ConfigError::Override {
                file: name.to_string(),
                message: "a variable sets a number to nan or inf; write a finite number".into(),
            });
        }
    }
    let raw = if overridden {
        RawConfig::deserialize(toml::Value::Table(value.clone())).map_err(|e| {
            ConfigError::Override {
                file: name.to_string(),
                message: e.message().trim().to_string(),
            }
        })?
    } else {
        raw
    };
    let hash = hex::encode(Sha256::digest(toml::to_string(&value).unwrap_or_default()));
    Ok((raw, hash))
}

/// The `segment = "attribute=value"` of an email recipient or a webhook
/// entry, checked against `[report] segments`; `err` locates the message.
pub(super) fn segment_of(
    segment: Option<String>,
    segments: &[String],
    err: impl Fn(String) -> ConfigError,
) -> Result<Option<(String, String)>, ConfigError> {
    let Some(s) = segment else {
        return Ok(None);
    };
    let (attr, value) = s.split_once('=').ok_or_else(|| {
        err(format!(
            "'{s}' (expected attribute=value, e.g. region=EMEA)"
        ))
    })?;
    let attr = attr.trim().to_string();
    if !segments.contains(&attr) {
        return Err(err(format!(
            "'{attr}' is not one of [report] segments ({})",
            segments.join(", ")
        )));
    }
    Ok(Some((attr, value.trim().to_string())))
}

/// TOML has `nan` and `inf`; no setting of the scorecard means either (a
/// target of `nan` would render "NaN" and compare as nothing), so any
/// non-finite number is refused where it is written.
pub(super) fn refuse_non_finite(
    table: &DeTable<'_>,
    path: &str,
    name: &str,
    text: &str,
) -> Result<(), ConfigError> {
    use toml::de::DeValue;
    fn walk(
        value: &toml::Spanned<DeValue<'_>>,
        path: &str,
        name: &str,
        text: &str,
    ) -> Result<(), ConfigError> {
        match value.get_ref() {
            DeValue::Float(f) => {
                let finite = f.as_str().parse::<f64>().is_ok_and(f64::is_finite);
                if !finite {
                    return Err(ConfigError::non_finite(
                        name,
                        text,
                        value.span(),
                        path,
                        f.as_str(),
                    ));
                }
            }
            DeValue::Table(t) => refuse_non_finite(t, path, name, text)?,
            DeValue::Array(items) => {
                for item in items {
                    walk(item, path, name, text)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
    for (key, value) in table {
        let path = if path.is_empty() {
            key.get_ref().to_string()
        } else {
            format!("{path}.{}", key.get_ref())
        };
        walk(value, &path, name, text)?;
    }
    Ok(())
}

/// `SCORECARD_REPORT__TIMEZONE=Europe/Paris` sets `[report] timezone`;
/// `__` separates the levels. Values are read as TOML (numbers, booleans,
/// arrays) when they parse as such, else as strings.
fn apply_env_overrides(table: &mut toml::Table, env: &Env) -> Result<bool, ConfigError> {
    let mut applied = false;
    for (var, raw_value) in env
        .iter()
        .filter(|(k, _)| k.starts_with("SCORECARD_") && k.contains("__"))
    {
        let problem = |problem: String| ConfigError::Variable {
            var: var.clone(),
            problem,
        };
        let path: Vec<String> = var["SCORECARD_".len()..]
            .split("__")
            .map(|s| s.to_ascii_lowercase())
            .collect();
        if path.iter().any(|p| p.is_empty()) {
            return Err(problem("empty key segment".into()));
        }
        if path.last().is_some_and(|k| k == "password") {
            return Err(problem("the SMTP password is read from the variable [email.smtp] password_env names, not from an override".into()));
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
            node = entry
                .as_table_mut()
                .ok_or_else(|| problem(format!("'{part}' is not a table in the config")))?;
        }
        node.insert(path[path.len() - 1].clone(), parsed);
        applied = true;
    }
    Ok(applied)
}

/// Checks the sections in the order they depend on each other: report
/// (segments), benchmarks, service, KPIs, activities, objectives (KPI ids),
/// import, email (segments).
fn check(
    raw: RawConfig,
    base: &Path,
    source: Option<&Path>,
    src: &Source<'_>,
    env: &Env,
    hash: String,
) -> Result<Config, ConfigError> {
    let report = report::check(raw.report, base, src)?;
    let (benchmarks, industry) = benchmarks::check(raw.benchmarks, base, src)?;
    let sla_hours = raw.service.first_response_sla_hours.unwrap_or(24.0);
    if !(sla_hours.is_finite() && sla_hours > 0.0) {
        return Err(src.invalid(
            "service",
            "first_response_sla_hours",
            "must be a positive number of hours",
        ));
    }
    let resolution_hours = raw.service.resolution_hours.unwrap_or(72.0);
    if !(resolution_hours.is_finite() && resolution_hours > 0.0) {
        return Err(src.invalid(
            "service",
            "resolution_hours",
            "must be a positive number of hours",
        ));
    }
    let (targets, custom_kpis) = kpi::check(&raw.kpi, src)?;
    let activity_categories = activities::check(raw.activities, src)?;
    let objectives = kpi::objectives(raw.objective, &custom_kpis, src)?;
    let import = import::check(raw.import, src)?;
    let email = email::check(raw.email, base, &report.segments, src, env)?;
    let notify = notify::check(raw.notify, &report.segments, src, env)?;
    let store = store::check(raw.store, base, src, env)?;
    let warehouse = source::check(raw.source, src, env)?;
    // Only what changes a cached figure: comparisons, targets, categories and
    // derived KPIs are recomputed on every run.
    let compute_fingerprint = {
        let mut h = Sha256::new();
        h.update(format!(
            "{}|{}|{}|{:?}",
            report.timezone.name(),
            sla_hours,
            resolution_hours,
            report.segments
        ));
        hex::encode(&h.finalize()[..8])
    };
    Ok(Config {
        source: source.map(Path::to_path_buf),
        base_dir: base.to_path_buf(),
        store_path: match &store {
            Location::Sqlite(path) => path.clone(),
            Location::Postgres { dir, .. } => dir.join("scorecard.db"),
        },
        store,
        warehouse,
        report,
        benchmarks,
        industry,
        sla_hours,
        resolution_hours,
        targets,
        custom_kpis,
        activity_categories,
        objectives,
        import,
        email,
        notify,
        lock_wait: Duration::from_secs(raw.run.lock_wait_secs.unwrap_or(600)),
        hash,
        compute_fingerprint,
    })
}

/// Tests: a config.toml at /base, read with `env` (the message as text).
#[cfg(test)]
pub(crate) fn parse_for_test(text: &str, env: &Env) -> Result<Config, String> {
    Config::from_toml(
        text,
        Path::new("/base"),
        Some(Path::new("config.toml")),
        env,
    )
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::period::Cadence;
    use chrono_tz::Tz;

    fn parse(text: &str) -> Result<Config, ConfigError> {
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
            e.to_string()
                .starts_with("config.toml:3:1: unknown field `colour`"),
            "{}",
            e.to_string()
        );
    }

    #[test]
    fn validation_errors_name_the_line() {
        let e = parse("[report]\n\ntimezone = \"Mars/Base\"\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("config.toml:3: [report] timezone: unknown time zone 'Mars/Base'"),
            "{}",
            e.to_string()
        );
    }

    #[test]
    fn invalid_recipient_is_refused() {
        let e = parse("[[email.recipients]]\nto = [\"not an address\"]\n").unwrap_err();
        assert!(
            e.to_string()
                .contains("'not an address' is not a valid email address"),
            "{}",
            e.to_string()
        );
    }

    #[test]
    fn insecure_smtp_only_to_loopback() {
        let e = parse("[email]\ntransport = \"smtp\"\n[email.smtp]\nhost = \"mail.example.com\"\ntls = \"none\"\n").unwrap_err();
        assert!(e.to_string().contains("clear text"), "{}", e.to_string());
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
            .to_string()
            .contains("needs password_env"));
        let with_env = format!("{base}password_env = \"PW_VAR\"\n");
        // Not set: only sending needs it (the transport refuses then).
        assert!(parse(&with_env)
            .unwrap()
            .email
            .smtp
            .unwrap()
            .password
            .is_none());
        let env = Env::from([("PW_VAR".to_string(), "secret".to_string())]);
        let c = Config::from_toml(&with_env, Path::new("."), None, &env).unwrap();
        assert!(c.email.smtp.unwrap().password.is_some());
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
            .to_string()
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
    fn positions_come_from_the_parser() {
        // The second recipient entry is pointed at, not the first `to` line.
        let e = parse("[[email.recipients]]\nto = [\"a@example.com\"]\n\n[[email.recipients]]\nto = [\"nope\"]\n")
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("config.toml:5: [email.recipients] to: 'nope'"),
            "{e}"
        );
        // Dotted keys and inline tables are found where they are written.
        let e = parse("report.timezone = \"Mars/Base\"\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("config.toml:1: [report] timezone:"),
            "{e}"
        );
        let e = parse("[email]\nsmtp = { host = \"mail.example.com\", tls = \"none\" }\ntransport = \"smtp\"\n")
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("config.toml:2: [email.smtp] tls:"),
            "{e}"
        );
        // A key missing from the file has no line to point at.
        let e = Config::from_toml(
            "[report]\ncadence = \"weekly\"\n",
            Path::new("."),
            Some(Path::new("config.toml")),
            &Env::from([("SCORECARD_REPORT__TIMEZONE".into(), "Mars/Base".into())]),
        );
        let e = e.unwrap_err().to_string();
        assert!(
            e.starts_with("config.toml: [report] timezone: unknown time zone"),
            "{e}"
        );
        // An override of a key the file has points at the file's line.
        let e = Config::from_toml(
            "[report]\n\ntimezone = \"UTC\"\n",
            Path::new("."),
            Some(Path::new("config.toml")),
            &Env::from([("SCORECARD_REPORT__TIMEZONE".into(), "Mars/Base".into())]),
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("config.toml:3: [report] timezone:"),
            "{e}"
        );
    }

    #[test]
    fn the_hash_is_of_the_effective_configuration() {
        let text = "[report]\ncadence = \"monthly\"\n[kpi.nps]\ntarget = 40\n";
        let c = parse(text).unwrap();
        let table: toml::Table = toml::from_str(text).unwrap();
        let expected = hex::encode(Sha256::digest(toml::to_string(&table).unwrap()));
        assert_eq!(c.hash, expected);
        let env = Env::from([("SCORECARD_KPI__NPS__TARGET".into(), "50".into())]);
        let o = Config::from_toml(text, Path::new("/base"), None, &env).unwrap();
        assert_ne!(o.hash, c.hash);
        assert_eq!(o.targets["nps"].target, Some(50.0));
    }

    #[test]
    fn the_password_is_read_once_and_never_printed() {
        let text = "[email]\ntransport = \"smtp\"\n[email.smtp]\nhost = \"127.0.0.1\"\ntls = \"none\"\nusername = \"u\"\npassword_env = \"PW_VAR\"\n";
        let env = Env::from([("PW_VAR".to_string(), "s3cret-value".to_string())]);
        let c = Config::from_toml(text, Path::new("."), None, &env).unwrap();
        let smtp = c.email.smtp.as_ref().unwrap();
        assert_eq!(
            smtp.password.as_ref().map(Secret::expose),
            Some("s3cret-value")
        );
        assert!(!format!("{c:?}").contains("s3cret-value"));
    }

    #[test]
    fn sample_config_is_valid() {
        let c = Config::demo(Path::new("/tmp/demo"));
        assert!(!c.report.segments.is_empty());
    }
}
