//! `scorecard run`: the pipeline in order, each stage adding context to its
//! errors: resolve the periods (with catch-up) → compute (set-based, cached)
//! → compare → render everything → archive atomically → queue and deliver
//! the emails. Rendering finishes completely before any email is queued.
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::archive::{self, PeriodSummary};
use crate::compare::{self, Compared};
use crate::config::Config;
use crate::deliver::notify::{self, OutgoingPost};
use crate::deliver::{self, Outgoing};
use crate::error::Failure;
use crate::kpi::{derive, engine, extras};
use crate::period::{Cadence, Period};
use crate::report::{self, data, view, Renderer};
use crate::store::Store;

/// Which periods a run covers.
#[derive(Debug, Clone)]
pub enum Selection {
    /// The last completed period, plus catch-up of missed ones.
    Last,
    One(Period),
    Range(Period, Option<Period>),
}

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
    /// Written to the file outbox by `--dry-run`, not sent.
    pub emails_previewed: usize,
    /// Slack and Teams posts (`[[notify]]`).
    pub posts_sent: usize,
    pub posts_pending: usize,
    pub posts_failed: usize,
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
            if self.emails_previewed > 0 { format!(" / {} previewed in the outbox", self.emails_previewed) } else { String::new() },
            self.posts_line(),
            self.seconds.import,
            self.seconds.compute,
            self.seconds.render,
            self.seconds.deliver
        )
    }
}

/// Resolves the periods to report, oldest first.
///
/// A period counts as archived when the run that archived it recorded it
/// in the store (with its emails queued, in one transaction): a folder a
/// killed run left without that record is rendered again. `Last` refuses a
/// `today` whose last completed period is earlier than a period already
/// archived (a clock set back would re-mail old weeks) unless `force`; a
/// range never goes past the last completed period.
pub fn resolve_periods(
    store: &Store,
    cadence: Cadence,
    selection: &Selection,
    today: NaiveDate,
    force: bool,
) -> Result<(Vec<Period>, Vec<String>)> {
    let mut warnings = Vec::new();
    let last = Period::last_completed(cadence, today);
    let check = |p: Period| -> Result<Period> {
        if p.cadence != cadence {
            return Err(Failure::usage(format!(
                "{} is a {} period but the run's cadence is {cadence} (pass --cadence {})",
                p.id(),
                p.cadence,
                p.cadence
            ))
            .into());
        }
        Ok(p)
    };
    let periods = match selection {
        Selection::One(p) => {
            let p = check(*p)?;
            if !p.is_complete(today) {
                warnings.push(format!(
                    "{} has not ended yet (today is {today}): its figures are partial",
                    p.id()
                ));
            }
            vec![p]
        }
        Selection::Range(since, until) => {
            let since = check(*since)?;
            let until = match until {
                Some(u) => check(*u)?,
                None => last,
            };
            if since > until {
                return Err(Failure::usage(format!(
                    "--since {} is after --until {}",
                    since.id(),
                    until.id()
                ))
                .into());
            }
            if !until.is_complete(today) {
                return Err(Failure::usage(format!(
                    "--until {} has not ended yet (today is {today}; the last completed period is {}): a range archives completed periods only; run a period that has not ended alone with --period {} for partial figures",
                    until.id(),
                    last.id(),
                    until.id()
                ))
                .into());
            }
            since.range_to(until)
        }
        Selection::Last => {
            // Catch up every completed period since the latest archived one
            // that has no archived run yet; on the very first run, only `last`.
            let archived = store.archived_periods(cadence)?;
            if let Some(latest) = archived.last().filter(|p| **p > last) {
                if !force {
                    return Err(Failure::usage(format!(
                        "today is {today}, so the last completed period is {}, but {} is archived already: is the clock (or --today) right? Running now would report old periods again; pass --force to run anyway",
                        last.id(),
                        latest.id()
                    ))
                    .into());
                }
                warnings.push(format!(
                    "--force: running {} although {} is archived already",
                    last.id(),
                    latest.id()
                ));
            }
            match archived.iter().rev().find(|p| **p < last) {
                Some(prev) => prev
                    .next()
                    .range_to(last)
                    .into_iter()
                    .filter(|p| *p == last || archived.binary_search(p).is_err())
                    .collect(),
                None => vec![last],
            }
        }
    };
    Ok((periods, warnings))
}

/// The periods whose values the reports of `periods` need.
fn needed_periods(config: &Config, periods: &[Period]) -> Vec<Period> {
    let mut set = BTreeSet::new();
    let back = config
        .report
        .history_periods
        .max(config.report.trailing_periods + 1)
        .max(crate::kpi::stats::USUAL_WINDOW + 1);
    for p in periods {
        for k in 0..back {
            set.insert(p.back(k));
        }
        set.insert(p.year_ago());
    }
    set.into_iter().collect()
}

pub struct RunContext<'a> {
    pub config: &'a Config,
    pub now: DateTime<Utc>,
    pub today: NaiveDate,
}

pub fn run(store: &mut Store, ctx: &RunContext, opts: &RunOptions) -> Result<RunSummary> {
    let config = ctx.config;
    let cadence = opts.cadence.unwrap_or(config.report.cadence);
    let mut summary = RunSummary::default();
    let mode = archive::page_mode(config.report.private);
    // What runs that died left in the archive goes first (the caller holds
    // the run lock: nothing else writes there).
    for path in archive::clean_leftovers(&config.report.out_dir)
        .context("cleaning the archive of a run that died")?
    {
        tracing::info!(path = %path.display(), "leftover of a dead run cleaned");
    }
    let (periods, warnings) =
        resolve_periods(store, cadence, &opts.selection, ctx.today, opts.force)?;
    summary.warnings = warnings;

    // Compute.
    let t = Instant::now();
    crate::ingest::ensure_timezone(store, config)?;
    let needed = needed_periods(config, &periods);
    let cache = engine::ensure(store, config, &needed).context("computing the KPIs")?;
    summary.computed_periods = cache.computed.len();
    summary.cached_periods = cache.cached;
    let mut values = engine::load(store, &needed)?;
    derive::apply(store, config, &mut values).context("deriving custom and ROI KPIs")?;
    let catalogue = engine::catalogue_for(store, config)?;
    summary.kpis = catalogue.len();
    summary.seconds.compute = t.elapsed().as_secs_f64();
    tracing::info!(
        computed = summary.computed_periods,
        cached = summary.cached_periods,
        seconds = summary.seconds.compute,
        "compute done"
    );

    // Render and archive period by period (memory stays flat in a long
    // backfill: a period's files are dropped once its folder is in place);
    // only the emails wait, so that a template or chart error in any period
    // sends nothing.
    let t = Instant::now();
    let renderer = Renderer::new(
        config.report.templates_dir.as_deref(),
        &config.email.subject,
    )?;
    let generated_at = ctx.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let snapshots = snapshots_json(store)?;
    let mut outgoing = Vec::new();
    let mut posts: Vec<OutgoingPost> = Vec::new();
    for p in &periods {
        let rows = compare::compare_period(*p, &values, &catalogue, config);
        let stale = extras::stale_sources(store, *p)?;
        let quality = extras::data_quality(store, *p, stale.clone())?;
        let comments = extras::comments(store, config, *p)?;
        let note = match &config.report.notes_dir {
            Some(dir) => std::fs::read_to_string(dir.join(format!("{}.md", p.id()))).ok(),
            None => None,
        };
        // Images from another host (tracking pixels) never reach a reader.
        let note = note.map(|text| {
            let (kept, dropped) = report::markdown::drop_remote_images(&text);
            for url in dropped {
                summary.warnings.push(format!(
                    "notes/{}.md: remote image {} dropped (only data: and archive-relative images are kept)",
                    p.id(),
                    crate::escape::text(&url)
                ));
            }
            kept
        });
        let history: Vec<Period> = (0..config.report.history_periods)
            .rev()
            .map(|k| p.back(k))
            .collect();
        let files = render_period(
            &renderer,
            config,
            *p,
            &rows,
            &history,
            &comments,
            note.as_deref(),
            &quality,
            &generated_at,
        )
        .with_context(|| format!("rendering {}", p.id()))?;
        summary.segments = summary.segments.max(
            rows.iter()
                .map(|r| &r.segment)
                .collect::<BTreeSet<_>>()
                .len(),
        );

        let fates = deliver::fates(store, p.cadence, &p.id())?;
        let post_fates = notify::fates(store, p.cadence, &p.id())?;
        let manifest = manifest_json(config, *p, &generated_at, &snapshots, &fates, &post_fates);
        let PeriodFiles {
            files: mut all,
            emails,
            notices,
            reports,
        } = files;
        all.push((PathBuf::from("manifest.json"), manifest.into_bytes()));
        archive::write_period(&config.report.out_dir, *p, &all, mode)
            .with_context(|| format!("archiving {}", p.id()))?;
        drop(all);
        store.record_run(*p, &generated_at)?;
        tracing::info!(period = %p.id(), reports, "archived");
        summary.reports += reports;
        summary.periods.push(p.id());
        if !stale.is_empty() {
            summary
                .stale
                .extend(stale.iter().map(|s| format!("{}: {s}", p.id())));
            continue;
        }
        for r in &config.email.recipients {
            let segment = r.segment_key();
            let Some(parts) = emails
                .iter()
                .find(|(s, _)| *s == segment)
                .map(|(_, e)| e.clone())
            else {
                summary.warnings.push(format!(
                    "{}: no data for segment {segment}; {} gets no email",
                    p.id(),
                    join_to(r)
                ));
                continue;
            };
            let scoped: Vec<Compared> = rows
                .iter()
                .filter(|x| x.segment == segment)
                .cloned()
                .collect();
            outgoing.push(Outgoing {
                cadence: p.cadence,
                period: p.id(),
                recipient: r.clone(),
                segment,
                parts,
                attachment_csv: data::kpis_csv(*p, &scoped)?.into_bytes(),
            });
        }
        for t in &config.notify {
            let segment = t.segment_key();
            let Some(notice) = notices
                .iter()
                .find(|(s, _)| *s == segment)
                .map(|(_, n)| n.clone())
            else {
                summary.warnings.push(format!(
                    "{}: no data for segment {segment}; the {} webhook in {} gets no post",
                    p.id(),
                    t.kind.label(),
                    t.url_env
                ));
                continue;
            };
            posts.push(OutgoingPost {
                cadence: p.cadence,
                period: p.id(),
                target: t.clone(),
                segment,
                notice,
            });
        }
    }
    write_index(&renderer, config)?;
    summary.seconds.render = t.elapsed().as_secs_f64();

    // Deliver. A dry run writes the messages to the file outbox and queues
    // nothing, so a later `send` never mails what was only previewed.
    let t = Instant::now();
    if opts.dry_run && !opts.no_send {
        let written =
            deliver::preview(config, &outgoing, ctx.now).context("writing the preview emails")?;
        summary.emails_previewed = written.len();
    } else if !opts.no_send && !config.email.recipients.is_empty() {
        deliver::enqueue(store, config, &outgoing, ctx.now, opts.force)
            .context("queueing the emails")?;
        let report =
            deliver::send_pending(store, config, ctx.now, false).context("sending the emails")?;
        summary.emails_sent = report.sent;
        summary.emails_pending = report.pending;
        summary.emails_failed = report.failed;
    }
    // Slack and Teams: the same ledger, the same rules.
    if opts.dry_run && !opts.no_send {
        let written = notify::preview(config, &posts).context("writing the preview posts")?;
        summary.posts_previewed = written.len();
    } else if !opts.no_send && !config.notify.is_empty() {
        notify::enqueue(store, &posts, ctx.now, opts.force).context("queueing the posts")?;
        let report = notify::send_pending(store, config, ctx.now, false)
            .context("posting to the webhooks")?;
        summary.posts_sent = report.sent;
        summary.posts_pending = report.pending;
        summary.posts_failed = report.failed;
    }
    // Each period's manifest records the fate of every email of that period
    // in the send ledger (earlier runs included).
    for p in &periods {
        let fates = deliver::fates(store, p.cadence, &p.id())?;
        let post_fates = notify::fates(store, p.cadence, &p.id())?;
        if !fates.is_empty() || !post_fates.is_empty() {
            let manifest =
                manifest_json(config, *p, &generated_at, &snapshots, &fates, &post_fates);
            archive::write_file(
                &archive::period_dir(&config.report.out_dir, *p).join("manifest.json"),
                manifest.as_bytes(),
                mode,
            )?;
        }
    }
    summary.seconds.deliver = t.elapsed().as_secs_f64();
    Ok(summary)
}

fn join_to(r: &crate::config::Recipient) -> String {
    r.to.iter()
        .map(|m| m.email.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The files of one period folder, and the email of each scope.
pub struct PeriodFiles {
    pub files: Vec<(PathBuf, Vec<u8>)>,
    pub emails: Vec<(String, report::EmailParts)>,
    /// The Slack/Teams notice of each scope a `[[notify]]` entry asks for.
    pub notices: Vec<(String, report::notice::Notice)>,
    pub reports: usize,
}

#[allow(clippy::too_many_arguments)]
pub fn render_period(
    renderer: &Renderer,
    config: &Config,
    p: Period,
    rows: &[Compared],
    history: &[Period],
    comments: &[view::Comment],
    note: Option<&str>,
    quality: &view::DataQuality,
    generated_at: &str,
) -> Result<PeriodFiles> {
    let mut segments: Vec<String> = Vec::new();
    for r in rows {
        if !r.segment.is_empty() && !segments.contains(&r.segment) {
            segments.push(r.segment.clone());
        }
    }
    // Unique, safe folder names (a slug collision gets a numeric suffix).
    let mut folders: Vec<(String, String)> = Vec::new();
    for s in &segments {
        let base = archive::segment_slug(s);
        let mut name = base.clone();
        let mut i = 2;
        while folders
            .iter()
            .any(|(_, f)| *f == format!("segments/{name}"))
        {
            name = format!("{base}-{i}");
            i += 1;
        }
        folders.push((s.clone(), format!("segments/{name}")));
    }
    let input = view::ReportInput {
        title: &config.report.title,
        period: p,
        rows,
        history,
        comments,
        note_markdown: note,
        quality,
        generated_at,
        timezone: config.report.timezone.name(),
        currency: &config.report.currency,
        segment_folders: &folders,
        base_url: config.report.base_url.as_deref(),
    };
    let mut files: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    let mut emails = Vec::new();
    // The whole business's email variant is always archived; a segment's is
    // rendered only when a recipient asks for that segment.
    let whole = report::render_scorecard(renderer, &input, None, "../../", true)?;
    let whole_email = whole.email.expect("asked for");
    files.push(("scorecard.html".into(), whole.html.into_bytes()));
    files.push(("scorecard.md".into(), whole.markdown.into_bytes()));
    files.push(("email.html".into(), whole_email.html.clone().into_bytes()));
    for (cid, png, _) in &whole_email.images {
        files.push((PathBuf::from("charts").join(cid), png.clone()));
    }
    emails.push((String::new(), whole_email));
    files.push((
        "kpis.json".into(),
        data::kpis_json(p, config.report.timezone.name(), rows).into_bytes(),
    ));
    files.push(("kpis.csv".into(), data::kpis_csv(p, rows)?.into_bytes()));
    let headline: Vec<(String, String)> = view::HEADLINE
        .iter()
        .filter_map(|id| {
            rows.iter()
                .find(|r| r.segment.is_empty() && r.info.id == *id)
        })
        .map(|r| {
            let v = r
                .current
                .value
                .map(|v| {
                    let refs: Vec<f64> = [
                        r.target_spec.target,
                        r.target_spec.stretch,
                        r.target_spec.floor,
                        r.industry.as_ref().map(|c| c.value),
                    ]
                    .into_iter()
                    .flatten()
                    .collect();
                    report::format::value_against(v, &refs, r.info.unit, &config.report.currency)
                })
                .unwrap_or_else(|| "n/a".into());
            (r.info.title.clone(), v)
        })
        .collect();
    let whole: Vec<&Compared> = rows.iter().filter(|r| r.segment.is_empty()).collect();
    let count = |s: compare::Status| whole.iter().filter(|r| r.status == s).count();
    let summary = PeriodSummary {
        id: p.id(),
        cadence: p.cadence.as_str().into(),
        start: p.start.to_string(),
        headline,
        end: (p.end() - chrono::Duration::days(1)).to_string(),
        label: view::period_label(p),
        on_track: count(compare::Status::OnTrack),
        at_risk: count(compare::Status::AtRisk),
        off_track: count(compare::Status::OffTrack),
    };
    files.push(("summary.json".into(), serde_json::to_vec_pretty(&summary)?));
    let mut reports = 1;
    for (segment, folder) in &folders {
        let wanted = config
            .email
            .recipients
            .iter()
            .any(|r| r.segment_key() == *segment);
        let r = report::render_scorecard(renderer, &input, Some(segment), "../../../../", wanted)?;
        let dir = PathBuf::from(folder);
        files.push((dir.join("scorecard.html"), r.html.into_bytes()));
        files.push((dir.join("scorecard.md"), r.markdown.into_bytes()));
        if let Some(email) = r.email {
            emails.push((segment.clone(), email));
        }
        reports += 1;
    }
    let notices = report::notice::for_scopes(config, &input, &folders)?;
    Ok(PeriodFiles {
        files,
        emails,
        notices,
        reports,
    })
}

fn snapshots_json(store: &Store) -> Result<serde_json::Value> {
    let rows = store.snapshots()?.into_iter().map(|s| {
        serde_json::json!({
            "file": s.file,
            "path": s.path,
            "sha256": s.sha256,
            "rows": s.rows,
            "imported_at": s.imported_at,
        })
    });
    Ok(serde_json::Value::Array(rows.collect()))
}

fn manifest_json(
    config: &Config,
    p: Period,
    generated_at: &str,
    snapshots: &serde_json::Value,
    fates: &[deliver::Fate],
    posts: &[crate::store::posts::PostFate],
) -> String {
    let doc = serde_json::json!({
        "schema": "scorecard.manifest/1",
        "program": {"name": "scorecard", "version": env!("CARGO_PKG_VERSION")},
        "period": p.id(),
        "config_hash": config.hash,
        "generated_at": generated_at,
        "snapshots": snapshots,
        "emails": fates,
        "posts": posts,
    });
    let mut s = serde_json::to_string_pretty(&doc).expect("plain JSON");
    s.push('\n');
    s
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

/// The archive index pages: every archived period, newest first.
pub fn write_index(renderer: &Renderer, config: &Config) -> Result<()> {
    let list = archive::list(&config.report.out_dir)?;
    let columns: Vec<String> = list
        .first()
        .map(|s| s.headline.iter().map(|(t, _)| t.clone()).collect())
        .unwrap_or_default();
    #[derive(Serialize)]
    struct Row {
        id: String,
        cadence: String,
        href: String,
        values: Vec<String>,
        label: String,
        on_track: usize,
        at_risk: usize,
        off_track: usize,
    }
    #[derive(Serialize)]
    struct Index {
        title: String,
        columns: Vec<String>,
        periods: Vec<Row>,
    }
    let model = Index {
        title: config.report.title.clone(),
        columns: columns.clone(),
        periods: list
            .iter()
            .map(|s| Row {
                id: s.id.clone(),
                cadence: s.cadence.clone(),
                href: format!("{}/{}/", s.cadence, s.id),
                label: s.label.clone(),
                on_track: s.on_track,
                at_risk: s.at_risk,
                off_track: s.off_track,
                values: columns
                    .iter()
                    .map(|c| {
                        s.headline
                            .iter()
                            .find(|(t, _)| t == c)
                            .map(|(_, v)| v.clone())
                            .unwrap_or_default()
                    })
                    .collect(),
            })
            .collect(),
    };
    let mode = archive::page_mode(config.report.private);
    archive::link_neighbours(&config.report.out_dir, &list, mode)?;
    let html = renderer.render("index.html", &model)?;
    let md = renderer.render("index.md", &model)?;
    archive::write_file(
        &config.report.out_dir.join("index.html"),
        html.as_bytes(),
        mode,
    )?;
    archive::write_file(&config.report.out_dir.join("index.md"), md.as_bytes(), mode)?;
    Ok(())
}
