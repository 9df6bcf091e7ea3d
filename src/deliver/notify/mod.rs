//! Slack and Microsoft Teams posts (`[[notify]]`, issue 14 item 7), through
//! the send ledger beside the emails (its `posts` table, `store::posts`).
//!
//! The run hands over one [`OutgoingPost`] per `[[notify]]` entry and
//! period, the [`Notice`] already rendered. [`enqueue`] builds each payload
//! once and stores it as pending, unless the same period, target, segment and
//! content was already queued (exactly once across runs; `--force` posts it
//! again); [`send_pending`] posts what is pending and records each outcome as
//! it happens: 2xx sent; 429 (after its Retry-After) and 5xx retried with
//! capped backoff, then left pending for the next `run` or `scorecard send`;
//! any other 4xx failed with the webhook's reason.
//!
//! - `payload`: the Slack Block Kit and Teams Adaptive Card JSON.
//! - `http`: the request (ureq) and what an answer means.
//!
//! Logs, errors, the ledger and manifests name a webhook by its kind and
//! the variable holding its URL (`slack:SLACK_WEBHOOK_URL`), never the URL.
pub mod http;
pub mod payload;

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use tracing::{debug, info, warn};

use crate::config::{Config, NotifyTarget, WebhookUrl};
use crate::period::Cadence;
use crate::report::notice::Notice;
use crate::store::posts::{DuePost, NewPost, PostFate};
use crate::store::Store;
use http::Outcome;

/// One post to queue: a `[[notify]]` entry of one period.
#[derive(Debug, Clone)]
pub struct OutgoingPost {
    pub cadence: Cadence,
    pub period: String,
    pub target: NotifyTarget,
    /// "" for the whole business, else "region=EMEA".
    pub segment: String,
    pub notice: Notice,
}

#[derive(Debug, Clone, Default)]
pub struct PostReport {
    /// Posted by this call.
    pub sent: usize,
    /// Still pending after this call (exit code 4 when > 0).
    pub pending: usize,
    /// Marked failed by this call.
    pub failed: usize,
    /// Uncertain in the ledger and not resent (`send --resend-uncertain`).
    pub uncertain: usize,
    /// Found interrupted mid-request by an earlier run, by this call.
    pub uncertain_new: usize,
    /// One per post this call tried or passed over, in ledger order.
    pub fates: Vec<PostFate>,
    /// Failed earlier and not retried (`scorecard send --retry` retries them).
    pub failed_earlier: usize,
}

/// The posts of one period: each `[[notify]]` entry gets its scope's notice
/// (the whole business, or its segment). An entry whose segment has no data
/// gets none, which the returned warnings say.
pub fn outgoing(
    config: &Config,
    p: crate::period::Period,
    notices: &[(String, Notice)],
) -> (Vec<OutgoingPost>, Vec<String>) {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for t in &config.notify {
        let segment = t.segment_key();
        let Some((_, notice)) = notices.iter().find(|(s, _)| *s == segment) else {
            warnings.push(format!(
                "{}: no data for segment {segment}; the {} webhook in {} gets no post",
                p.id(),
                t.kind.label(),
                t.url_env
            ));
            continue;
        };
        out.push(OutgoingPost {
            cadence: p.cadence,
            period: p.id(),
            target: t.clone(),
            segment,
            notice: notice.clone(),
        });
    }
    (out, warnings)
}

/// Queues one archived period's posts as `how` says, inside the caller's
/// transaction (the one that records the period as archived), as
/// [`super::queue_for`] does the emails.
pub fn queue_for(
    store: &Store,
    outgoing: &[OutgoingPost],
    now: DateTime<Utc>,
    how: super::Handover,
) -> Result<usize> {
    match how {
        super::Handover::Send { force } => queue(store, outgoing, now, force),
        super::Handover::Preview | super::Handover::Keep => Ok(0),
    }
}

/// The run's handover of the posts, as [`super::hand_over`] does the
/// emails: post what the ledger holds pending, or preview `outgoing`.
pub fn hand_over(
    store: &Store,
    config: &Config,
    outgoing: &[OutgoingPost],
    now: DateTime<Utc>,
    how: super::Handover,
) -> Result<super::Handed> {
    how.hand_over(
        !config.notify.is_empty(),
        || {
            Ok(preview(config, outgoing)
                .context("writing the preview posts")?
                .len())
        },
        || {
            let report = send_pending(store, config, now, false, false)
                .context("posting to the webhooks")?;
            Ok(super::Handed {
                sent: report.sent,
                pending: report.pending,
                failed: report.failed,
                uncertain_new: report.uncertain_new,
                ..super::Handed::default()
            })
        },
    )
}

/// Builds each payload and records it as pending, unless already in the
/// ledger (and not `force`). Returns how many were queued.
pub fn enqueue(
    store: &Store,
    outgoing: &[OutgoingPost],
    now: DateTime<Utc>,
    force: bool,
) -> Result<usize> {
    let tx = store.begin()?;
    let queued = queue(store, outgoing, now, force)?;
    tx.commit()
        .context("cannot record the queued posts in the store")?;
    Ok(queued)
}

/// [`enqueue`] inside the caller's transaction.
fn queue(
    store: &Store,
    outgoing: &[OutgoingPost],
    now: DateTime<Utc>,
    force: bool,
) -> Result<usize> {
    let ledger = store.posts();
    let mut queued = 0;
    for o in outgoing {
        let cadence = o.cadence.as_str();
        let target = o.target.key();
        let bytes = payload::build(o.target.kind, &o.notice);
        let hash = payload::content_hash(&bytes);
        match ledger.find(cadence, &o.period, &target, &o.segment, &hash)? {
            Some(row) if force && row.state != "pending" => ledger.requeue(row.id, &bytes)?,
            Some(row) => {
                debug!(period = %o.period, target = %target, state = %row.state, "post already in the ledger");
                continue;
            }
            None => {
                let dropped =
                    ledger.drop_superseded(cadence, &o.period, &target, &o.segment, &hash)?;
                if dropped > 0 {
                    info!(period = %o.period, target = %target, dropped, "unsent post replaced by one with newer figures");
                }
                ledger.insert(
                    &NewPost {
                        cadence,
                        period: &o.period,
                        kind: o.target.kind.as_str(),
                        target: &target,
                        segment: &o.segment,
                        content_hash: &hash,
                        payload: &bytes,
                    },
                    now,
                )?;
            }
        }
        queued += 1;
    }
    Ok(queued)
}

/// Posts what is pending (and, with `retry_failed`, what failed; with
/// `resend_uncertain`, what is uncertain). Each outcome is written to the ledger as soon as it is known;
/// a row is marked `in_flight` before its request, so a run killed
/// mid-request leaves it `uncertain` rather than posting it twice
/// (`send --resend-uncertain` posts it again).
pub fn send_pending(
    store: &Store,
    config: &Config,
    now: DateTime<Utc>,
    retry_failed: bool,
    resend_uncertain: bool,
) -> Result<PostReport> {
    let ledger = store.posts();
    let mut report = PostReport::default();
    let interrupted = ledger.mark_interrupted()?;
    report.uncertain_new = interrupted.len();
    // Listed (and written to the manifests) unless resent just below.
    if !resend_uncertain {
        for id in &interrupted {
            report.fates.push(ledger.fate(*id)?);
        }
    }
    if !interrupted.is_empty() {
        warn!(
            posts = interrupted.len(),
            "posts interrupted by a run that stopped mid-request are marked uncertain"
        );
    }
    if !retry_failed {
        report.failed_earlier = ledger.count("failed")?;
    }
    if !resend_uncertain {
        report.uncertain = ledger.count("uncertain")?;
    }
    // Targets that cannot be posted to in this call, with the reason.
    let mut stopped: HashMap<String, String> = HashMap::new();
    for row in ledger.due(retry_failed, resend_uncertain)? {
        let fate = post_one(store, config, &row, now, &mut stopped)?;
        report.fates.push(fate);
    }
    report.sent = report.fates.iter().filter(|f| f.state == "sent").count();
    report.pending = report.fates.iter().filter(|f| f.state == "pending").count();
    report.failed = report.fates.iter().filter(|f| f.state == "failed").count();
    Ok(report)
}

fn post_one(
    store: &Store,
    config: &Config,
    row: &DuePost,
    now: DateTime<Utc>,
    stopped: &mut HashMap<String, String>,
) -> Result<PostFate> {
    let ledger = store.posts();
    let Some(target) = config
        .notify
        .iter()
        .find(|t| t.key() == row.target && t.segment_key() == row.segment)
    else {
        let reason = format!(
            "no [[notify]] entry posts to {}{} any more, so this post was dropped; add the entry back and run `scorecard send --retry` to post it",
            row.target,
            if row.segment.is_empty() { String::new() } else { format!(" for {}", row.segment) }
        );
        ledger.mark_failed(row.id, row.attempts, None, &reason)?;
        return ledger.fate(row.id);
    };
    let Some(url) = &target.url else {
        let reason = format!(
            "the environment variable {} is not set (it must hold the {} webhook URL); nothing was posted and the post stays pending",
            target.url_env,
            target.kind.label()
        );
        warn!(period = %row.period, target = %row.target, "post not sent: its URL variable is not set");
        ledger.note_error(row.id, &reason)?;
        if row.state != "pending" {
            ledger.mark_pending(row.id, row.attempts, None, &reason, None)?;
        }
        return ledger.fate(row.id);
    };
    if let Some(reason) = stopped.get(&row.target) {
        ledger.note_error(row.id, reason)?;
        if row.state != "pending" {
            ledger.mark_pending(row.id, row.attempts, None, reason, None)?;
        }
        return ledger.fate(row.id);
    }
    post_with_retries(store, target, url, row, now, stopped)?;
    ledger.fate(row.id)
}

/// Posts a due post to its webhook, retrying transient failures up to the
/// target's `max_attempts` (waiting as the server asks, else with backoff),
/// and records each attempt's outcome in the ledger. A target that cannot
/// be reached is noted in `stopped`, so that its other posts wait.
fn post_with_retries(
    store: &Store,
    target: &NotifyTarget,
    url: &WebhookUrl,
    row: &DuePost,
    now: DateTime<Utc>,
    stopped: &mut HashMap<String, String>,
) -> Result<()> {
    let ledger = store.posts();
    let body = ledger.payload(row.id)?;
    let mut tries = 0;
    loop {
        ledger.mark_in_flight(row.id)?;
        let outcome = http::post(target, url, &body);
        tries += 1;
        let attempts = row.attempts + tries;
        match outcome {
            Outcome::Posted(status) => {
                ledger.mark_sent(row.id, attempts, status, now)?;
                info!(period = %row.period, target = %row.target, segment = %row.segment, status, attempts = tries, "posted");
                break;
            }
            Outcome::Failed { status, reason } => {
                warn!(period = %row.period, target = %row.target, status, reason = %reason, "post refused");
                ledger.mark_failed(row.id, attempts, Some(status), &reason)?;
                break;
            }
            Outcome::Setup { reason } => {
                warn!(period = %row.period, target = %row.target, reason = %reason, "post not sent");
                ledger.mark_pending(row.id, attempts, None, &reason, None)?;
                stopped.insert(row.target.clone(), reason);
                break;
            }
            Outcome::Retry {
                status,
                reason,
                after,
            } => {
                let wait = after.unwrap_or_else(|| super::backoff(target.retry_delay, tries));
                let again = tries < target.max_attempts;
                warn!(
                    period = %row.period,
                    target = %row.target,
                    attempt = tries,
                    status = status.unwrap_or(0),
                    reason = %reason,
                    "post not delivered{}",
                    if again { "; retrying" } else { "" }
                );
                // Pending while waiting: a run killed now has posted nothing.
                ledger.mark_pending(row.id, attempts, status, &reason, Some(now + wait))?;
                if !again {
                    if status.is_none() {
                        // Unreachable: the target's other posts wait too.
                        stopped.insert(row.target.clone(), reason);
                    }
                    break;
                }
                std::thread::sleep(wait);
            }
        }
    }
    Ok(())
}

/// `--dry-run`: writes each payload to the outbox folder as
/// `post-<period>-<kind>-<variable>[-<segment>].json`, posting nothing and
/// leaving the ledger as it was. Returns the files written.
pub fn preview(config: &Config, outgoing: &[OutgoingPost]) -> Result<Vec<PathBuf>> {
    let dir = &config.email.outbox_dir;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the outbox {}", dir.display()))?;
    let mut written = Vec::new();
    for o in outgoing {
        let mut name = format!(
            "post-{}-{}-{}",
            o.period,
            o.target.kind.as_str(),
            o.target.url_env.to_ascii_lowercase()
        );
        if !o.segment.is_empty() {
            name.push('-');
            name.push_str(&crate::archive::segment_slug(&o.segment));
        }
        let path = dir.join(format!("{name}.json"));
        crate::files::write(
            &path,
            &payload::build(o.target.kind, &o.notice),
            crate::files::PRIVATE,
        )
        .with_context(|| format!("cannot write {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// Every post of a period in the ledger, for manifest.json.
pub fn fates(store: &Store, cadence: Cadence, period: &str) -> Result<Vec<PostFate>> {
    store.posts().fates(cadence.as_str(), period)
}

/// `scorecard check`: one sentence per `[[notify]]` entry (nothing is
/// posted: a webhook has no harmless request), and whether each has its URL.
pub fn check(config: &Config) -> Vec<(bool, String)> {
    config
        .notify
        .iter()
        .map(|t| {
            let scope = match &t.segment {
                Some(_) => format!(" ({})", t.segment_key()),
                None => String::new(),
            };
            match &t.url {
                Some(_) => (
                    true,
                    format!(
                        "{} webhook{scope}: the URL in {} is set and well-formed (nothing posted)",
                        t.kind.label(),
                        t.url_env
                    ),
                ),
                None => (
                    false,
                    format!(
                        "{} webhook{scope}: the environment variable {} is not set; posts will wait as pending until it is",
                        t.kind.label(),
                        t.url_env
                    ),
                ),
            }
        })
        .collect()
}
