//! `scorecard run`: the pipeline of docs/design.md, one typed stage after
//! the other, each in its module and each a function of the previous
//! stage's value:
//!
//! `plan` (which periods) → `compute` (their figures) → `render` (each
//! period's files and emails) → `archive` (the period folder, atomically)
//! → `deliver` (queue and send, or preview), then each period's manifest.
//!
//! Periods are rendered and archived a few at a time, by worker threads
//! (memory stays flat in a long backfill). Each period is recorded as archived in the transaction
//! that queues its emails in the send ledger, so that no archived period
//! exists without its emails, even when the run is killed or a later
//! period fails; sending waits until every period is archived, so that a
//! template or chart error in any period sends nothing in that run (the
//! next `run` or `send` delivers what the archived periods queued).
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::archive;
use crate::compute::{self, Computed, PeriodFigures};
use crate::config::Config;
use crate::deliver::notify::{self, OutgoingPost};
use crate::deliver::{self, Handed, Handover};
use crate::period::{Cadence, Period};
pub use crate::plan::Selection;
use crate::plan::{self, Plan};
use crate::report::{self, PeriodReport, Renderer};
use crate::store::Store;

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub selection: Selection,
    pub cadence: Option<Cadence>,
    pub no_send: bool,
    pub dry_run: bool,
    pub force: bool,
    pub allow_stale: bool,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct RunSummary {
    pub periods: Vec<String>,
    pub kpis: usize,
    pub segments: usize,
    pub reports: usize,
    pub emails_sent: usize,
    pub emails_pending: usize,
    pub emails_failed: usize,
    /// In the ledger as uncertain (the server may have them); see `send
    /// --resend-uncertain`.
    pub emails_uncertain: usize,
    /// Became uncertain in this run.
    #[serde(skip)]
    pub emails_uncertain_new: usize,
    /// Written to the file outbox by `--dry-run`, not sent.
    pub emails_previewed: usize,
    /// Slack and Teams posts (`[[notify]]`).
    pub posts_sent: usize,
    pub posts_pending: usize,
    pub posts_failed: usize,
    /// Found interrupted mid-request by this run (`send --resend-uncertain`).
    #[serde(skip)]
    pub posts_uncertain_new: usize,
    /// Payloads written to the outbox by `--dry-run`, not posted.
    pub posts_previewed: usize,
    pub computed_periods: usize,
    pub cached_periods: usize,
    pub stale: Vec<String>,
    pub seconds: Timings,
    #[serde(skip)]
    pub warnings: Vec<String>,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct Timings {
    pub import: f64,
    pub compute: f64,
    pub render: f64,
    pub deliver: f64,
}

impl RunSummary {
    /// ", posts 1 sent / 0 pending / 0 failed" when there were posts.
    fn posts_line(&self) -> String {
        if self.posts_sent + self.posts_pending + self.posts_failed + self.posts_previewed == 0 {
            return String::new();
        }
        let mut s = format!(
            ", posts {} sent / {} pending / {} failed",
            self.posts_sent, self.posts_pending, self.posts_failed
        );
        if self.posts_previewed > 0 {
            s.push_str(&format!(
                " / {} previewed in the outbox",
                self.posts_previewed
            ));
        }
        s
    }

    pub fn line(&self) -> String {
        let periods = match self.periods.as_slice() {
            [] => "no period".to_string(),
            [one] => format!("1 period ({one})"),
            many => format!(
                "{} periods ({} … {})",
                many.len(),
                many[0],
                many[many.len() - 1]
            ),
        };
        format!(
            "run: {periods}, {} KPIs × {} segments ({} computed, {} cached), {} reports, emails {} sent / {} pending / {} failed{}{}; seconds: import {:.2}, compute {:.2}, render {:.2}, deliver {:.2}",
            self.kpis,
            self.segments,
            self.computed_periods,
            self.cached_periods,
            self.reports,
            self.emails_sent,
            self.emails_pending,
            self.emails_failed,
            match (self.emails_uncertain, self.emails_previewed) {
                (0, 0) => String::new(),
                (0, p) => format!(" / {p} previewed in the outbox"),
                (u, 0) => format!(" / {u} uncertain"),
                (u, p) => format!(" / {u} uncertain / {p} previewed in the outbox"),
            },
            self.posts_line(),
            self.seconds.import,
            self.seconds.compute,
            self.seconds.render,
            self.seconds.deliver
        )
    }
}

pub struct RunContext<'a> {
    pub config: &'a Config,
    pub now: DateTime<Utc>,
    pub today: NaiveDate,
}

pub fn run(store: &mut Store, ctx: &RunContext, opts: &RunOptions) -> Result<RunSummary> {
    let config = ctx.config;
    let out_dir = &config.report.out_dir;
    let mode = archive::page_mode(config.report.private);
    clean_leftovers(out_dir)?;
    let cadence = opts.cadence.unwrap_or(config.report.cadence);
    let plan = plan::plan(
        store,
        config,
        cadence,
        &opts.selection,
        ctx.today,
        opts.force,
        opts.allow_stale,
    )?;
    let mut summary = RunSummary::planned(&plan);

    let t = Instant::now();
    let computed = compute::compute(store, config, &plan)?;
    summary.computed(&computed, t);

    let t = Instant::now();
    let renderer = Renderer::new(
        config.report.templates_dir.as_deref(),
        &config.email.subject,
    )?;
    let generated_at = ctx.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let snapshots = store.snapshots()?;
    let manifest = |store: &Store, p: Period| -> Result<archive::Manifest> {
        Ok(archive::Manifest::new(
            p,
            config,
            &generated_at,
            &snapshots,
            deliver::fates(store, p.cadence, &p.id())?,
            notify::fates(store, p.cadence, &p.id())?,
        ))
    };
    let how = handover(opts);
    let mut previews = Vec::new();
    let mut post_previews: Vec<OutgoingPost> = Vec::new();
    // This thread reads each period's figures from the store and, in period
    // order, records it and queues its emails; rendering and archiving need
    // no store, so workers do them for a few periods at a time (a two-year
    // backfill's 1,040 scorecards on two cores). A failure stops the run at
    // the first period in order that failed; a later one a worker archived
    // already is not recorded, which the next run renders again (as after a
    // crash, module doc).
    let workers = render_workers(plan.periods.len());
    let (jobs, queue) = std::sync::mpsc::sync_channel::<RenderJob>(workers);
    let queue = std::sync::Mutex::new(queue);
    let (done, results) = std::sync::mpsc::channel::<Rendered>();
    std::thread::scope(|scope| -> Result<()> {
        for _ in 0..workers {
            let (queue, done, renderer) = (&queue, done.clone(), &renderer);
            let generated_at = generated_at.as_str();
            scope.spawn(move || loop {
                let job = queue
                    .lock()
                    .map_err(|_| ())
                    .and_then(|q| q.recv().map_err(|_| ()));
                let Ok((i, figures, manifest)) = job else {
                    return;
                };
                let p = figures.period;
                let report = report::render_period(renderer, config, &figures, generated_at)
                    .with_context(|| format!("rendering {}", p.id()))
                    .and_then(|report| {
                        archive::archive_period(out_dir, &report.files, &manifest, mode)
                            .with_context(|| format!("archiving {}", p.id()))?;
                        Ok(report)
                    });
                if done.send((i, figures, report)).is_err() {
                    return;
                }
            });
        }
        drop(done);
        let mut finished = std::collections::BTreeMap::new();
        let mut next = 0;
        let mut take = |(i, figures, report): Rendered| -> Result<()> {
            finished.insert(i, (figures, report));
            while let Some((figures, report)) = finished.remove(&next) {
                let report = report?;
                let p = figures.period;
                let (emails, posts) = outgoing(config, &figures, &report, &mut summary.warnings);
                record_and_queue(store, ctx, p, &generated_at, (&emails, &posts), how)?;
                summary.archived(&figures, &report);
                if how == Handover::Preview {
                    previews.extend(emails);
                    post_previews.extend(posts);
                }
                next += 1;
            }
            Ok(())
        };
        for (i, &p) in plan.periods.iter().enumerate() {
            let figures = computed.period(store, config, p)?;
            let manifest = manifest(store, p)?;
            jobs.send((i, figures, manifest))
                .context("a render worker stopped")?;
            while let Ok(r) = results.try_recv() {
                take(r)?;
            }
        }
        drop(jobs);
        for r in results {
            take(r)?;
        }
        Ok(())
    })?;
    refresh_index(out_dir, &renderer, config, mode)?;
    summary.seconds.render = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let handed = deliver::hand_over(store, config, &previews, ctx.now, how)?;
    let posted = notify::hand_over(store, config, &post_previews, ctx.now, how)?;
    for &p in &plan.periods {
        archive::update_manifest(out_dir, &manifest(store, p)?, mode)?;
    }
    summary.posted(posted);
    summary.delivered(handed, t);
    Ok(summary)
}

/// A period to render and archive: its place in the run, figures, manifest.
type RenderJob = (usize, PeriodFigures, archive::Manifest);
/// A period rendered and archived (or why not), with its figures back.
type Rendered = (usize, PeriodFigures, Result<PeriodReport>);

/// Threads that render and archive: up to the cores there are (at most 4:
/// the figures are read on one thread), none more than periods.
fn render_workers(periods: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.clamp(1, 4).min(periods.max(1))
}

/// The emails and posts of a period's report, for the recipients and
/// webhooks whose segment it has (none when its data is stale).
fn outgoing(
    config: &Config,
    figures: &PeriodFigures,
    report: &PeriodReport,
    warnings: &mut Vec<String>,
) -> (Vec<deliver::Outgoing>, Vec<OutgoingPost>) {
    if !figures.stale.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let p = figures.period;
    let (emails, w) = deliver::outgoing(config, p, &report.emails);
    warnings.extend(w);
    let (posts, w) = notify::outgoing(config, p, &report.notices);
    warnings.extend(w);
    (emails, posts)
}

/// Records a period as archived and queues its emails and posts, in one
/// transaction (a folder renamed into place without this record is
/// rendered again by the next run).
fn record_and_queue(
    store: &Store,
    ctx: &RunContext,
    p: Period,
    generated_at: &str,
    (emails, posts): (&[deliver::Outgoing], &[OutgoingPost]),
    how: Handover,
) -> Result<()> {
    let batch = store.begin()?;
    store.record_run(p, generated_at)?;
    deliver::queue_for(store, ctx.config, emails, ctx.now, how)
        .with_context(|| format!("queueing the emails of {}", p.id()))?;
    notify::queue_for(store, posts, ctx.now, how)
        .with_context(|| format!("queueing the posts of {}", p.id()))?;
    batch
        .commit()
        .with_context(|| format!("recording {} as archived", p.id()))
}

/// The archive's index pages and each period's previous / next links, over
/// every period folder there is.
fn refresh_index(
    out_dir: &std::path::Path,
    renderer: &Renderer,
    config: &Config,
    mode: u32,
) -> Result<()> {
    let archived = archive::list(out_dir)?;
    archive::link_neighbours(out_dir, &archived, mode)?;
    let index = report::render_index(renderer, &config.report.title, &archived)?;
    archive::write_index(out_dir, &index, mode)
}

/// How the run's options hand the emails over.
fn handover(opts: &RunOptions) -> Handover {
    match (opts.no_send, opts.dry_run) {
        (true, _) => Handover::Keep,
        (false, true) => Handover::Preview,
        (false, false) => Handover::Send { force: opts.force },
    }
}

/// What runs that died left in the archive goes first (the caller holds
/// the run lock: nothing else writes there).
fn clean_leftovers(out_dir: &std::path::Path) -> Result<()> {
    for path in
        archive::clean_leftovers(out_dir).context("cleaning the archive of a run that died")?
    {
        tracing::info!(path = %path.display(), "leftover of a dead run cleaned");
    }
    Ok(())
}

/// The summary, filled in stage by stage.
impl RunSummary {
    fn planned(plan: &Plan) -> RunSummary {
        RunSummary {
            warnings: plan.warnings.clone(),
            ..RunSummary::default()
        }
    }

    fn computed(&mut self, computed: &Computed, started: Instant) {
        self.computed_periods = computed.computed_periods;
        self.cached_periods = computed.cached_periods;
        self.kpis = computed.catalogue.len();
        self.seconds.compute = started.elapsed().as_secs_f64();
    }

    fn archived(&mut self, figures: &PeriodFigures, report: &PeriodReport) {
        let id = figures.period.id();
        tracing::info!(period = %id, reports = report.reports, "archived");
        self.warnings.extend(report.warnings.iter().cloned());
        self.segments = self.segments.max(figures.scopes());
        self.reports += report.reports;
        self.stale
            .extend(figures.stale.iter().map(|s| format!("{id}: {s}")));
        self.periods.push(id);
    }

    fn posted(&mut self, posted: Handed) {
        self.posts_sent = posted.sent;
        self.posts_pending = posted.pending;
        self.posts_failed = posted.failed;
        self.posts_uncertain_new = posted.uncertain_new;
        self.posts_previewed = posted.previewed;
    }

    fn delivered(&mut self, handed: Handed, started: Instant) {
        self.emails_sent = handed.sent;
        self.emails_pending = handed.pending;
        self.emails_failed = handed.failed;
        self.emails_uncertain = handed.uncertain;
        self.emails_uncertain_new = handed.uncertain_new;
        self.emails_previewed = handed.previewed;
        self.seconds.deliver = started.elapsed().as_secs_f64();
    }
}

/// Rewrites the `emails` and `posts` of a period's manifest.json from the
/// ledger (after `scorecard send`), leaving the rest as the run wrote it.
/// A period with no archived manifest is left alone.
pub fn refresh_manifest(store: &Store, config: &Config, p: Period) -> Result<()> {
    let path = archive::period_dir(&config.report.out_dir, p).join("manifest.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(());
    };
    let mut doc: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("cannot read {}", path.display()))?;
    doc["emails"] = serde_json::to_value(deliver::fates(store, p.cadence, &p.id())?)?;
    doc["posts"] = serde_json::to_value(notify::fates(store, p.cadence, &p.id())?)?;
    let mut s = serde_json::to_string_pretty(&doc)?;
    s.push('\n');
    archive::write_file(
        &path,
        s.as_bytes(),
        archive::page_mode(config.report.private),
    )
}
