//! The commands: each loads what it needs, calls the stages, prints what a
//! person (or with `--log-format json`, a machine) needs, and returns the
//! exit code (cli-and-outputs.md).
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};

use crate::cli::{CadenceArg, Cli, RunArgs};
use crate::compare::Compared;
use crate::config::{Config, Env};
use crate::error::{code, Failure};
use crate::ingest::{self, ImportOptions};
use crate::kpi::catalogue::KpiInfo;
use crate::kpi::engine;
use crate::period::{self, Cadence, Period};
use crate::plan::Plan;
use crate::run::{self, RunContext, RunOptions, Selection};
use crate::store::warehouse::Warehouse;
use crate::store::{Location, Store};
use crate::terminal::{Column, Table, Terminal, Tone};
use crate::{compute, deliver, lock, report};

pub struct Output {
    pub quiet: bool,
    pub json: bool,
}

impl Output {
    pub fn info(&self, msg: impl AsRef<str>) {
        if !self.quiet && !self.json {
            println!("{}", msg.as_ref());
        }
    }
    pub fn warn(&self, msg: impl AsRef<str>) {
        if self.json {
            eprintln!(
                "{}",
                serde_json::json!({"level": "warning", "message": msg.as_ref()})
            );
        } else {
            eprintln!("warning: {}", msg.as_ref());
        }
    }
}

fn cadence_of(arg: Option<CadenceArg>) -> Option<Cadence> {
    arg.map(|c| match c {
        CadenceArg::Weekly => Cadence::Weekly,
        CadenceArg::Monthly => Cadence::Monthly,
        CadenceArg::Quarterly => Cadence::Quarterly,
    })
}

fn today_of(cli_today: Option<NaiveDate>, now: DateTime<Utc>, config: &Config) -> NaiveDate {
    cli_today.unwrap_or_else(|| period::today_in(now, config.report.timezone))
}

fn holder(command: &str, now: DateTime<Utc>) -> String {
    format!(
        "pid {} `scorecard {command}` since {}",
        std::process::id(),
        now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )
}

pub fn import(
    out: &Output,
    cli: &Cli,
    env: &Env,
    paths: &[PathBuf],
    skip_invalid: bool,
    as_of: Option<&str>,
    now: DateTime<Utc>,
) -> Result<u8> {
    let as_of = as_of
        .map(|t| {
            DateTime::parse_from_rfc3339(t.trim())
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| {
                    Failure::usage(format!(
                        "--as-of {t:?}: not an RFC 3339 instant ({e}); write e.g. 2026-11-30T00:00:00Z"
                    ))
                })
        })
        .transpose()?;
    let config = Config::load(&cli.config, env)?;
    if let Some(w) = &config.warehouse {
        return Err(Failure::usage(format!(
            "import is not used in warehouse mode: [source] url reads {} where {} (KPIs are computed there by `scorecard run`); remove [source] from {} to import snapshot files instead",
            w.tables.iter().map(|(_, r)| r.as_str()).collect::<Vec<_>>().join(", "),
            if w.tables.len() == 1 { "it is" } else { "they are" },
            cli.config.display()
        ))
        .into());
    }
    let _lock =
        lock::RunLock::acquire_for(&config.store, config.lock_wait, &holder("import", now))?;
    let existed = config.store_path.exists() || matches!(config.store, Location::Postgres { .. });
    let result = (|| {
        let mut store = Store::open_at(&config.store)?;
        let opts = ImportOptions {
            skip_invalid,
            as_of,
            progress: std::io::stderr().is_terminal() && !cli.quiet,
        };
        ingest::import(&mut store, &config, paths, &opts, now)
    })();
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            // A store created by this failed import goes away again: nothing changed.
            if !existed {
                for suffix in ["", "-wal", "-shm"] {
                    let _ =
                        std::fs::remove_file(format!("{}{suffix}", config.store_path.display()));
                }
            }
            return Err(e);
        }
    };
    for w in &report.warnings {
        out.warn(w);
    }
    for f in &report.files {
        out.info(f.line());
    }
    if let Some(path) = &report.rejects_path {
        out.warn(format!(
            "{} rows rejected; written with their reasons to {}",
            report.rejected(),
            path.display()
        ));
    }
    if out.json {
        let files: Vec<_> = report
            .files
            .iter()
            .map(crate::ingest::FileSummary::json)
            .collect();
        println!(
            "{}",
            serde_json::json!({"import": files, "rejects": report.rejects_path})
        );
    }
    Ok(code::OK)
}

/// The store the reports read, and in warehouse mode the warehouse attached
/// to it (then the store is created if needed: no import creates it).
fn open_reading(config: &Config, now: DateTime<Utc>) -> Result<Store> {
    let Some(w) = &config.warehouse else {
        return Store::open_existing_at(&config.store);
    };
    let mut store = Store::open_at(&config.store)?;
    store.attach_warehouse(Warehouse::open(
        w,
        config.report.timezone,
        config.segment_attrs(),
        &now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    )?);
    Ok(store)
}

pub fn run(out: &Output, cli: &Cli, env: &Env, args: &RunArgs, now: DateTime<Utc>) -> Result<u8> {
    let config = Config::load(&cli.config, env)?;
    let today = today_of(cli.today, now, &config);
    let parse = |id: &str| Period::parse(id).map_err(Failure::usage);
    let selection = match (&args.since, args.period.as_str()) {
        (Some(since), _) => {
            Selection::Range(parse(since)?, args.until.as_deref().map(parse).transpose()?)
        }
        (None, "last") => Selection::Last,
        (None, id) => Selection::One(parse(id)?),
    };
    let opts = RunOptions {
        selection,
        cadence: cadence_of(args.cadence),
        no_send: args.no_send,
        dry_run: args.dry_run,
        force: args.force,
        allow_stale: args.allow_stale,
    };
    let _lock = lock::RunLock::acquire_for(&config.store, config.lock_wait, &holder("run", now))?;
    let mut store = open_reading(&config, now)?;
    let ctx = RunContext {
        config: &config,
        now,
        today,
    };
    let summary = run::run(&mut store, &ctx, &opts)?;
    finish_run(out, &summary, &opts)
}

fn finish_run(out: &Output, summary: &run::RunSummary, opts: &RunOptions) -> Result<u8> {
    for w in &summary.warnings {
        out.warn(w);
    }
    if out.json {
        println!("{}", serde_json::to_string(summary)?);
    } else if !out.quiet {
        println!("{}", summary.line());
    }
    if !summary.stale.is_empty() && !opts.allow_stale && !opts.no_send {
        return Err(Failure::input(format!(
            "reports archived but not emailed, the data looks stale: {}",
            summary.stale.join("; ")
        ))
        .into());
    }
    if summary.emails_uncertain_new > 0 {
        out.warn(format!(
            "{} emails are uncertain: the server took them but never confirmed; check with the recipients, and `scorecard send --resend-uncertain` sends them again (same Message-ID)",
            summary.emails_uncertain_new
        ));
    }
    if summary.posts_pending > 0 {
        out.warn(format!(
            "{} Slack/Teams posts are still pending; `scorecard send` (or the next run) retries them",
            summary.posts_pending
        ));
    }
    if summary.posts_uncertain_new > 0 {
        out.warn(format!(
            "{} Slack/Teams posts are uncertain: a run stopped while posting them; look in the channel, and `scorecard send --resend-uncertain` posts them again",
            summary.posts_uncertain_new
        ));
    }
    if summary.emails_pending > 0 {
        out.warn(format!(
            "{} emails are still pending; `scorecard send` (or the next run) retries them",
            summary.emails_pending
        ));
        return Ok(code::PENDING);
    }
    if summary.emails_uncertain_new > 0
        || summary.posts_pending > 0
        || summary.posts_uncertain_new > 0
    {
        return Ok(code::PENDING);
    }
    Ok(code::OK)
}

pub fn send(
    out: &Output,
    cli: &Cli,
    env: &Env,
    retry: bool,
    resend_uncertain: bool,
    now: DateTime<Utc>,
) -> Result<u8> {
    let config = Config::load(&cli.config, env)?;
    let _lock = lock::RunLock::acquire_for(&config.store, config.lock_wait, &holder("send", now))?;
    let store = Store::open_existing_at(&config.store)?;
    let report = deliver::send_due(&store, &config, now, retry, resend_uncertain)?;
    let posts = deliver::notify::send_pending(&store, &config, now, retry, resend_uncertain)?;
    // The manifests of the periods touched say what became of each message.
    let mut touched: Vec<String> = report.fates.iter().map(|f| f.period.clone()).collect();
    touched.extend(posts.fates.iter().map(|f| f.period.clone()));
    touched.sort();
    touched.dedup();
    for id in &touched {
        if let Ok(p) = Period::parse(id) {
            crate::run::refresh_manifest(&store, &config, p)?;
        }
    }
    if out.json {
        println!(
            "{}",
            serde_json::json!({"sent": report.sent, "pending": report.pending, "failed": report.failed,
                "uncertain": report.uncertain, "emails": report.fates, "uncertain_emails": report.uncertain_fates,
                "posts": {"sent": posts.sent, "pending": posts.pending, "failed": posts.failed, "uncertain": posts.uncertain, "posts": posts.fates}})
        );
    } else {
        tell_sends(out, &config, &report, &posts);
    }
    if posts.pending > 0 || posts.uncertain_new > 0 {
        return Ok(code::PENDING);
    }
    Ok(exit_of(&report))
}

/// What `send` did, as text: the posts and emails not sent and why, then
/// the counts.
fn tell_sends(
    out: &Output,
    config: &Config,
    report: &deliver::DeliveryReport,
    posts: &deliver::notify::PostReport,
) {
    for f in posts.fates.iter().filter(|f| f.state != "sent") {
        out.warn(format!(
            "{} post {} to {}{}: {}",
            f.period,
            f.state,
            f.target,
            if f.segment.is_empty() {
                String::new()
            } else {
                format!(" ({})", f.segment)
            },
            f.last_error.clone().unwrap_or_default()
        ));
    }
    if posts.uncertain > 0 {
        out.warn(format!(
            "{} posts are uncertain (a run stopped while posting them); `scorecard send --resend-uncertain` posts them again",
            posts.uncertain
        ));
    }
    for f in report
        .fates
        .iter()
        .filter(|f| f.state != "sent" && f.state != "uncertain")
        .chain(&report.uncertain_fates)
    {
        out.warn(format!(
            "{} {} to {}: {}",
            f.period,
            f.state,
            f.recipient,
            f.last_error.clone().unwrap_or_default()
        ));
    }
    out.info(format!(
        "send: {} sent, {} pending, {} failed, {} uncertain",
        report.sent, report.pending, report.failed, report.uncertain
    ));
    if !posts.fates.is_empty() || !config.notify.is_empty() {
        out.info(format!(
            "send: posts {} sent, {} pending, {} failed, {} uncertain",
            posts.sent, posts.pending, posts.failed, posts.uncertain
        ));
    }
}

/// Exit 4 when messages are still pending or became uncertain in this call
/// (an uncertain message needs a person: was it delivered?).
fn exit_of(report: &deliver::DeliveryReport) -> u8 {
    if report.pending > 0 || report.uncertain_new > 0 {
        code::PENDING
    } else {
        code::OK
    }
}

pub fn kpis(out: &Output, cli: &Cli, env: &Env) -> Result<u8> {
    let config = if cli.config.exists() {
        Config::load(&cli.config, env)?
    } else {
        Config::demo(Path::new("."))
    };
    let catalogue = match &config.warehouse {
        Some(_) => engine::catalogue_for(&open_reading(&config, Utc::now())?, &config)?,
        None => match Store::open_existing_at(&config.store) {
            Ok(store) => engine::catalogue_for(&store, &config)?,
            Err(_) => engine::catalogue_for(&Store::in_memory()?, &config)?,
        },
    };
    if out.json {
        let list: Vec<_> = catalogue.iter().map(|k| kpi_json(k, &config)).collect();
        emit(&format!("{}\n", serde_json::to_string_pretty(&list)?))?;
        return Ok(code::OK);
    }
    let term = terminal_of(cli, env);
    let col = Column::new;
    let table = Table {
        columns: vec![
            col("KPI", true, 10, false),
            col("id", false, 9, false),
            col("unit", false, 3, false),
            col("better", false, 4, false),
            col("category", false, 2, false),
            col("target", true, 7, true),
            col("industry", true, 6, false),
            col("formula", true, 8, false),
        ],
        rows: catalogue.iter().map(|k| kpi_row(k, &config)).collect(),
    };
    let mut text = table.render(term);
    text.push_str(&left_out(
        &table,
        term,
        "; --log-format json lists everything",
    ));
    emit(&text)?;
    Ok(code::OK)
}

/// A KPI of `scorecard kpis --log-format json`: its definition, the files
/// it reads, its target and benchmark.
fn kpi_json(k: &KpiInfo, config: &Config) -> serde_json::Value {
    let t = config.targets.get(&k.id);
    let b = config.benchmark(&k.id);
    let inputs: Vec<String> = match crate::kpi::catalogue::built_in(&k.id) {
        Some(def) => def.inputs.iter().map(|f| format!("{f}.csv")).collect(),
        None if k.id.starts_with(crate::kpi::catalogue::ACTIVITY_PREFIX) => {
            vec!["activities.csv".into()]
        }
        None => Vec::new(),
    };
    serde_json::json!({"id": k.id, "title": k.title, "formula": k.formula, "unit": k.unit, "direction": k.direction, "category": k.category, "inputs": inputs,
        "target": t.and_then(|t| t.target), "stretch": t.and_then(|t| t.stretch), "floor": t.and_then(|t| t.floor),
        "industry": b.map(|b| serde_json::json!({"value": b.value, "source": b.source, "year": b.year}))})
}

/// A KPI's row of the `scorecard kpis` table.
fn kpi_row(k: &KpiInfo, config: &Config) -> Vec<(String, Tone)> {
    let currency = &config.report.currency;
    let fmt = |v: f64| report::format::value(v, k.unit, currency);
    let target = config
        .targets
        .get(&k.id)
        .map(|t| {
            let mut parts = Vec::new();
            if let Some(v) = t.target {
                parts.push(fmt(v));
            }
            if let Some(v) = t.floor {
                parts.push(format!("floor {}", fmt(v)));
            }
            if let Some(v) = t.stretch {
                parts.push(format!("stretch {}", fmt(v)));
            }
            parts.join(", ")
        })
        .unwrap_or_default();
    let bench = config
        .benchmark(&k.id)
        .map(|b| format!("{} ({}, {})", fmt(b.value), b.source, b.year))
        .unwrap_or_default();
    let plain = |s: &str| (crate::escape::terminal(s).into_owned(), Tone::Plain);
    vec![
        plain(&k.title),
        plain(&k.id),
        plain(k.unit.as_str()),
        plain(match k.direction {
            crate::kpi::catalogue::Direction::Higher => "higher",
            crate::kpi::catalogue::Direction::Lower => "lower",
        }),
        plain(k.category.as_str()),
        plain(&target),
        plain(&bench),
        plain(&k.formula),
    ]
}

/// The note under a table that says which columns were left out to fit
/// the terminal (empty when none was).
fn left_out(table: &Table, term: Terminal, hint: &str) -> String {
    let dropped = table.dropped(term);
    if dropped.is_empty() {
        return String::new();
    }
    crate::terminal::paragraph(
        &format!(
            "({} left out to fit {} columns{hint})",
            dropped.join(", "),
            term.width.unwrap_or_default()
        ),
        term,
    )
}

/// Colour and width for `show` and `kpis`.
fn terminal_of(cli: &Cli, env: &Env) -> Terminal {
    Terminal::detect(
        cli.color,
        env.get("NO_COLOR").is_some_and(|v| !v.is_empty()),
        env.get("COLUMNS").map(String::as_str),
    )
}

fn emit(text: &str) -> Result<()> {
    crate::terminal::emit(text).context("cannot write to stdout")
}

pub fn show(
    out: &Output,
    cli: &Cli,
    env: &Env,
    period: &str,
    segment: Option<&str>,
    cadence: Option<CadenceArg>,
    now: DateTime<Utc>,
) -> Result<u8> {
    let config = Config::load(&cli.config, env)?;
    let cadence = cadence_of(cadence).unwrap_or(config.report.cadence);
    let today = today_of(cli.today, now, &config);
    let p = if period == "last" {
        Period::last_completed(cadence, today)
    } else {
        Period::parse(period).map_err(Failure::usage)?
    };
    let mut store = open_reading(&config, now)?;
    let computed = compute::compute(&mut store, &config, &Plan::one(&config, p))?;
    let rows = computed.compared(&config, p);
    let key = segment.map(|s| s.trim().to_string()).unwrap_or_default();
    let mine = segment_rows(&rows, &key, p)?;
    if out.json {
        let scoped: Vec<_> = mine.into_iter().cloned().collect();
        emit(&report::data::kpis_json(
            p,
            config.report.timezone.name(),
            &scoped,
            &crate::kpi::extras::data_quality(&store, p, Vec::new(), &Default::default(), None)?,
        ))?;
        return Ok(code::OK);
    }
    let term = terminal_of(cli, env);
    let mut text = crate::escape::terminal(&format!(
        "{} {} ({}){}",
        config.report.title,
        p.id(),
        report::view::period_label(p),
        if key.is_empty() {
            String::new()
        } else {
            format!(", {}", report::view::segment_label(&key))
        }
    ))
    .into_owned();
    text.push('\n');
    let col = Column::new;
    let table = Table {
        columns: vec![
            col("KPI", true, 10, false),
            col("value", false, 9, true),
            col("95%", false, 3, true),
            col("vs previous", true, 7, true),
            col("trailing", false, 2, true),
            col("target", false, 6, true),
            col("status", false, 8, false),
        ],
        rows: mine
            .into_iter()
            .map(|r| show_row(r, &config.report.currency))
            .collect::<Result<_>>()?,
    };
    text.push_str(&table.render(term));
    text.push_str(&left_out(&table, term, ""));
    text.push_str(&crate::terminal::paragraph("▲ ▼ against the previous period, better or worse by the KPI's direction; * significant (95% level); ✓ on track · ! at risk · ✗ off track", term));
    emit(&text)?;
    Ok(code::OK)
}

/// The rows of segment `key` (the whole business: ""), or a usage error
/// that lists the segments there are.
fn segment_rows<'r>(rows: &'r [Compared], key: &str, p: Period) -> Result<Vec<&'r Compared>> {
    let mine: Vec<_> = rows.iter().filter(|r| r.segment == key).collect();
    if mine.is_empty() {
        let known: std::collections::BTreeSet<_> = rows
            .iter()
            .map(|r| r.segment.as_str())
            .filter(|s| !s.is_empty())
            .collect();
        return Err(Failure::usage(format!(
            "no segment '{key}' in {} (known: {})",
            p.id(),
            crate::escape::terminal(&known.into_iter().collect::<Vec<_>>().join(", "))
        ))
        .into());
    }
    Ok(mine)
}

/// A KPI's row of the `scorecard show` table.
fn show_row(r: &Compared, currency: &str) -> Result<Vec<(String, Tone)>> {
    let v = report::view::row_view(r, currency, false)?;
    let change = if v.delta.is_empty() {
        String::new()
    } else {
        format!(
            "{} {} {}{}",
            v.arrow,
            v.delta,
            v.verdict,
            if v.significant { " *" } else { "" }
        )
    };
    let status = if v.status_symbol.is_empty() {
        v.status_label.clone()
    } else {
        format!("{} {}", v.status_symbol, v.status_label)
    };
    Ok(vec![
        (
            crate::escape::terminal(&r.info.title).into_owned(),
            Tone::Plain,
        ),
        (v.value, Tone::Plain),
        (v.ci, Tone::Dim),
        (change, Tone::of(&v.tone)),
        (v.trailing, Tone::Plain),
        (v.target, Tone::Plain),
        (status, Tone::of(&v.status)),
    ])
}

pub fn check(out: &Output, cli: &Cli, env: &Env) -> Result<u8> {
    let config = Config::load(&cli.config, env)?;
    out.info(format!("config: {} is valid", cli.config.display()));
    if let Location::Postgres { config: pg, .. } = &config.store {
        for line in crate::store::pg::check(pg)? {
            out.info(line);
        }
    }
    if let Some(w) = &config.warehouse {
        // Reaches the warehouse, checks every table's columns and rows.
        let read_at = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        for line in
            Warehouse::open(w, config.report.timezone, config.segment_attrs(), &read_at)?.describe()
        {
            out.info(line);
        }
    }
    let renderer = report::Renderer::new(
        config.report.templates_dir.as_deref(),
        &config.email.subject,
    )?;
    for path in renderer.unused_templates() {
        out.warn(format!(
            "template {} is not used: it overrides no built-in template ({}) and no template the scorecard renders includes, extends or takes a component from it (a misspelt name?)",
            path.display(),
            report::BUILTIN_TEMPLATES.map(|(n, _)| n).join(", ")
        ));
    }
    out.info(match &config.report.templates_dir {
        Some(d) => format!(
            "templates: built-in, with overrides from {}: all parse",
            d.display()
        ),
        None => "templates: built-in: all parse".to_string(),
    });
    out.info(format!(
        "benchmarks: {} figures{}",
        config.benchmarks.len(),
        config
            .industry
            .as_ref()
            .map(|i| format!(", industry {i}"))
            .unwrap_or_default()
    ));
    out.info(deliver::check(&config)?);
    for (ready, line) in deliver::notify::check(&config) {
        if ready {
            out.info(line);
        } else {
            out.warn(line);
        }
    }
    Ok(code::OK)
}

pub fn init(out: &Output, dir: Option<&Path>) -> Result<u8> {
    let dir = dir.unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let config_text = include_str!("../config.toml").replace(
        "# templates_dir = \"templates\"",
        "templates_dir = \"templates\"",
    );
    let mut files: Vec<(PathBuf, String)> = vec![
        (dir.join("config.toml"), config_text),
        (
            dir.join("benchmarks.toml"),
            crate::config::DEFAULT_BENCHMARKS.to_string(),
        ),
    ];
    for (name, text) in report::BUILTIN_TEMPLATES {
        files.push((dir.join("templates").join(name), text.to_string()));
    }
    for (path, text) in files {
        if path.exists() {
            out.info(format!(
                "kept     {} (exists; never overwritten)",
                path.display()
            ));
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        out.info(format!("wrote    {}", path.display()));
    }
    out.info("next: map your CRM export in config.toml ([import.<file>]), then `scorecard import DIR` and `scorecard run`");
    Ok(code::OK)
}

/// The demo folder's configuration: the sample config.toml (written unless
/// there is one); with --store-url, the same demo on a PostgreSQL store (its
/// schema emptied first, as a fresh demo folder would be).
fn demo_config(dir: &Path, store: Option<(&str, &str)>) -> Result<Config> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the demo folder {}", dir.display()))?;
    let config_path = dir.join("config.toml");
    if !config_path.exists() {
        std::fs::write(&config_path, include_str!("../config.toml"))?;
    }
    let mut env = Env::new();
    if let Some((url, schema)) = store {
        env.insert("SCORECARD_STORE__URL".into(), url.into());
        env.insert("SCORECARD_STORE__SCHEMA".into(), schema.into());
    }
    let config = Config::load(&config_path, &env)?;
    if let Location::Postgres { config: pg, .. } = &config.store {
        crate::store::pg::drop_schema(pg)?;
    }
    Ok(config)
}

/// A demo run of `selection`, sending or not.
fn demo_run(selection: Selection, no_send: bool) -> RunOptions {
    RunOptions {
        selection,
        cadence: None,
        no_send,
        dry_run: false,
        force: false,
        allow_stale: false,
    }
}

pub fn demo(
    out: &Output,
    dir: &Path,
    weeks: u32,
    seed: u64,
    store: Option<(&str, &str)>,
    cli_today: Option<NaiveDate>,
    now: DateTime<Utc>,
) -> Result<u8> {
    let started = std::time::Instant::now();
    let config = demo_config(dir, store)?;
    let today = today_of(cli_today, now, &config);
    let last = Period::last_completed(Cadence::Weekly, today);
    let snapshot = dir.join("snapshot");
    let summary = crate::demo::generate::generate(
        &snapshot,
        &crate::demo::generate::DemoOptions {
            weeks: weeks.max(2),
            seed,
            end: last.end(),
            customers: 3000,
        },
    )?;
    let rows: u64 = summary.files.iter().map(|(_, n)| n).sum();
    out.info(format!(
        "demo: generated a sample business ({rows} rows, {weeks} weeks up to {}) in {}",
        last.id(),
        snapshot.display()
    ));
    let mut store = Store::open_at(&config.store)?;
    let t = std::time::Instant::now();
    let report = ingest::import(
        &mut store,
        &config,
        std::slice::from_ref(&snapshot),
        &ImportOptions::default(),
        now,
    )?;
    for f in &report.files {
        out.info(format!("  {}", f.line()));
    }
    let import_secs = t.elapsed().as_secs_f64();
    let ctx = RunContext {
        config: &config,
        now,
        today,
    };
    // History first (no email), then the last week as a scheduled run would.
    let first = last.back(7.min(weeks.saturating_sub(1) as usize));
    if first < last {
        let backfill = demo_run(Selection::Range(first, Some(last.previous())), true);
        run::run(&mut store, &ctx, &backfill)?;
    }
    // The sample config sends to a file outbox: this is a real run.
    let opts = demo_run(Selection::One(last), false);
    let mut s = run::run(&mut store, &ctx, &opts)?;
    s.seconds.import = import_secs;
    let code = finish_run(out, &s, &opts)?;
    let folder = crate::archive::period_dir(&config.report.out_dir, last);
    out.info(format!(
        "demo: done in {:.1} s. Look at:",
        started.elapsed().as_secs_f64()
    ));
    out.info(format!("  {}", folder.join("scorecard.html").display()));
    out.info(format!(
        "  {}",
        config.report.out_dir.join("index.html").display()
    ));
    out.info(format!(
        "  {} (the emails, as .eml files)",
        config.email.outbox_dir.display()
    ));
    Ok(code)
}
