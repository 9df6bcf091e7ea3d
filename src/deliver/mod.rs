//! Email delivery (issue 5): message building, transports, the send ledger.
//!
//! The run hands over one [`Outgoing`] per recipient entry and period, fully
//! rendered. [`enqueue`] builds each message once and stores its bytes in
//! the ledger (the `sends` table) as pending; [`send_pending`] delivers what
//! is pending through the configured transport and records every outcome
//! as it happens, so that a message is never sent twice (a re-run finds it
//! `sent`) and never lost (a pending one waits in the store, bytes and all,
//! for the next `run` or `scorecard send`).
//!
//! - `message`: the MIME layout, the content hash and the Message-ID.
//! - the send ledger itself (the `sends` table) is `store::sends`.
//! - `transport`: SMTP (one connection per run), sendmail, the file outbox.
//! - `error`: errors as sentences, and whether to retry, fail or stop.
//!
//! Logs name only the recipients' domains; the SMTP password comes from the
//! checked configuration (read once, at validation) and is never written
//! anywhere.
pub mod error;
pub mod message;
pub mod notify;
mod transport;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use lettre::Address;
use tracing::{debug, info, warn};

pub use error::{Class, DeliverError};
pub use transport::eml_name;

use crate::config::{Config, Recipient};
use crate::error::Failure;
use crate::period::{Cadence, Period};
use crate::report::{EmailParts, ScopeEmail};
use crate::store::sends::{self, Due, Sends};
use crate::store::Store;

pub use crate::store::sends::Fate;

/// One scorecard email to queue: a recipient entry of one period.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub cadence: Cadence,
    /// Period id, e.g. "2026-W47".
    pub period: String,
    pub recipient: Recipient,
    /// "" for the whole business, else "region=EMEA".
    pub segment: String,
    pub parts: EmailParts,
    /// kpis.csv of the recipient's scope, attached.
    pub attachment_csv: Vec<u8>,
}

#[derive(Debug, Clone, Default)]
pub struct DeliveryReport {
    /// Delivered by this call.
    pub sent: usize,
    /// Still pending after this call (every pending message of the ledger is
    /// tried, so this is the ledger's pending count; exit code 4 when > 0).
    pub pending: usize,
    /// Marked failed by this call (including failed ones retried in vain).
    pub failed: usize,
    /// One per message this call tried or passed over, in ledger order.
    pub fates: Vec<Fate>,
    /// Failed earlier and not retried (`scorecard send --retry` retries them).
    pub failed_earlier: usize,
    /// Uncertain in the ledger after this call: the server may or may not
    /// have them; never sent again unless asked (`scorecard send
    /// --resend-uncertain`). One fate each in `uncertain_fates`.
    pub uncertain: usize,
    /// Became uncertain during this call: attempts a process that died left
    /// `in_flight`, and messages whose final reply never came.
    pub uncertain_new: usize,
    pub uncertain_fates: Vec<Fate>,
    /// SMTP connections opened (one per run when the server keeps it open).
    pub connections: usize,
}

/// How a run hands its emails over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handover {
    /// Queue in the ledger and send what is pending (`force` re-queues
    /// messages already sent).
    Send { force: bool },
    /// `--dry-run`: write the messages to the file outbox, queue nothing.
    Preview,
    /// `--no-send`: nothing.
    Keep,
}

/// What a run's handover did.
#[derive(Debug, Clone, Copy, Default)]
pub struct Handed {
    pub sent: usize,
    pub pending: usize,
    pub failed: usize,
    /// Uncertain in the ledger after the send (see [`DeliveryReport`]).
    pub uncertain: usize,
    /// Became uncertain during this send.
    pub uncertain_new: usize,
    /// Written to the outbox by a preview.
    pub previewed: usize,
}

/// The emails of one period: each recipient entry gets its scope's email
/// (the whole business, or its segment). A recipient whose segment has no
/// data gets none, which the returned warnings say.
pub fn outgoing(config: &Config, p: Period, emails: &[ScopeEmail]) -> (Vec<Outgoing>, Vec<String>) {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for r in &config.email.recipients {
        let segment = r.segment_key();
        let Some(email) = emails.iter().find(|e| e.segment == segment) else {
            let to: Vec<String> = r.to.iter().map(|m| m.email.to_string()).collect();
            warnings.push(format!(
                "{}: no data for segment {segment}; {} gets no email",
                p.id(),
                to.join(", ")
            ));
            continue;
        };
        out.push(Outgoing {
            cadence: p.cadence,
            period: p.id(),
            recipient: r.clone(),
            segment,
            parts: email.parts.clone(),
            attachment_csv: email.csv.clone(),
        });
    }
    (out, warnings)
}

/// Queues one archived period's emails as `how` says, inside the caller's
/// transaction (the one that records the period as archived): only
/// [`Handover::Send`] queues; a preview or `--no-send` queues nothing.
pub fn queue_for(
    store: &Store,
    config: &Config,
    emails: &[Outgoing],
    now: DateTime<Utc>,
    how: Handover,
) -> Result<usize> {
    match how {
        Handover::Send { force } => queue(store, config, emails, now, force),
        Handover::Preview | Handover::Keep => Ok(0),
    }
}

/// Stage 5 of a run, **deliver**: with [`Handover::Send`], sends whatever
/// the ledger holds pending (this run's emails, queued with their periods
/// by [`queue_for`], and any an earlier run left), oldest first. A preview
/// writes `outgoing` to the file outbox and queues nothing, so a later
/// `send` never mails what was only previewed.
pub fn hand_over(
    store: &Store,
    config: &Config,
    outgoing: &[Outgoing],
    now: DateTime<Utc>,
    how: Handover,
) -> Result<Handed> {
    how.hand_over(
        !config.email.recipients.is_empty(),
        || {
            Ok(preview(config, outgoing, now)
                .context("writing the preview emails")?
                .len())
        },
        || {
            let report = send_pending(store, config, now, false).context("sending the emails")?;
            Ok(Handed {
                sent: report.sent,
                pending: report.pending,
                failed: report.failed,
                uncertain: report.uncertain,
                uncertain_new: report.uncertain_new,
                previewed: 0,
            })
        },
    )
}

impl Handover {
    /// What every channel (emails, posts) does at the end of a run: nothing
    /// (`--no-send`), a preview (its count in `previewed`), or sending what
    /// its ledger holds pending when the channel has anyone to send to.
    pub fn hand_over(
        self,
        configured: bool,
        preview: impl FnOnce() -> Result<usize>,
        send: impl FnOnce() -> Result<Handed>,
    ) -> Result<Handed> {
        match self {
            Handover::Keep => Ok(Handed::default()),
            Handover::Preview => Ok(Handed {
                previewed: preview()?,
                ..Handed::default()
            }),
            Handover::Send { .. } if !configured => Ok(Handed::default()),
            Handover::Send { .. } => send(),
        }
    }
}

/// Builds each message and records it in the send ledger as pending, unless
/// the same period, recipient and content was already sent (and not `force`).
/// Returns how many were queued.
///
/// The content is the recipient's figures (see [`message::content_hash`]):
/// corrected figures are a new report and supersede an unsent older one;
/// the same figures rendered again are the same report. A message already
/// pending keeps the bytes it was built with. With `force`, a sent or failed
/// message is queued again (rebuilt, dated `now`; a resend gets its own
/// Message-ID so that clients do not drop it as a duplicate).
pub fn enqueue(
    store: &Store,
    config: &Config,
    outgoing: &[Outgoing],
    now: DateTime<Utc>,
    force: bool,
) -> Result<usize> {
    let tx = store.begin()?;
    let queued = queue(store, config, outgoing, now, force)?;
    tx.commit()
        .context("cannot record the queued emails in the store")?;
    Ok(queued)
}

/// [`enqueue`] inside the caller's transaction: `run` records a period as
/// archived and queues its emails in one [`Store::begin`] batch, so that no
/// archived period exists without its emails in the ledger.
pub fn queue(
    store: &Store,
    config: &Config,
    outgoing: &[Outgoing],
    now: DateTime<Utc>,
    force: bool,
) -> Result<usize> {
    let ledger = store.sends();
    let from = &config.email.from;
    let envelope_from = from.email.to_string();
    let mut queued = 0;
    for o in outgoing {
        let cadence = o.cadence.as_str();
        let recipient = message::recipient_key(&o.recipient);
        let hash = message::content_hash(o);
        let domains = domains(&recipient);
        let existing = ledger.find(cadence, &o.period, &recipient, &hash)?;
        let resends = match &existing {
            None => 0,
            Some(row) if force && (row.state == "sent" || row.state == "uncertain") => {
                row.resends + 1
            }
            Some(row) if force && row.state == "failed" => row.resends,
            Some(row) => {
                debug!(period = %o.period, domains = %domains, state = %row.state, "email already in the ledger");
                continue;
            }
        };
        let message_id = message::message_id(cadence, &o.period, &recipient, &hash, resends, from);
        let bytes = message::build(from, o, &message_id, &hash, now)?;
        match existing {
            None => {
                let dropped = ledger.drop_superseded(cadence, &o.period, &recipient, &hash)?;
                if dropped > 0 {
                    info!(period = %o.period, domains = %domains, dropped, "unsent email replaced by one with newer figures");
                }
                let row = sends::NewSend {
                    cadence,
                    period: &o.period,
                    recipient: &recipient,
                    segment: &o.segment,
                    content_hash: &hash,
                    message_id: &message_id,
                    envelope_from: &envelope_from,
                    message: &bytes,
                };
                ledger.insert(&row, now)?;
            }
            Some(row) => ledger.requeue(row.id, &message_id, &bytes, &envelope_from, resends)?,
        }
        debug!(period = %o.period, domains = %domains, bytes = bytes.len(), "email queued");
        queued += 1;
    }
    Ok(queued)
}

/// Sends what is pending (and, with `retry_failed`, what failed) through
/// the configured transport, retrying transient failures with capped
/// exponential backoff within the run.
///
/// Each outcome is written to the ledger as soon as it is known. A
/// transient failure is retried up to `max_attempts` times (waiting
/// `retry_delay` × 2^k, at most 30 s) and then left pending; a permanent one
/// marks the message failed; a setup failure (authentication, TLS, a missing
/// password) or a server that stays unreachable stops the run, leaving the
/// remaining messages pending with the same reason.
pub fn send_pending(
    store: &Store,
    config: &Config,
    now: DateTime<Utc>,
    retry_failed: bool,
) -> Result<DeliveryReport> {
    send_due(store, config, now, retry_failed, false)
}

/// The reason given to an attempt a killed process left `in_flight`.
const KILLED: &str = "the process stopped (killed, or the machine went down) while the message was being handed to the server: it may have been delivered, so it is marked uncertain and not sent again by itself (`scorecard send --resend-uncertain` sends it again, with the same Message-ID)";

/// [`send_pending`], and with `resend_uncertain` the uncertain messages
/// too (`scorecard send --resend-uncertain`: the same bytes, the same
/// Message-ID, so that most mail clients show one copy).
///
/// First, every attempt a process that died left `in_flight` becomes
/// `uncertain` (counted in [`DeliveryReport::uncertain_found`]).
pub fn send_due(
    store: &Store,
    config: &Config,
    now: DateTime<Utc>,
    retry_failed: bool,
    resend_uncertain: bool,
) -> Result<DeliveryReport> {
    let ledger = store.sends();
    let mut report = DeliveryReport::default();
    let found = ledger.settle_in_flight(KILLED)?;
    if found > 0 {
        warn!(
            count = found,
            "emails left in flight by a process that died are now uncertain"
        );
    }
    report.uncertain_new = found;
    if !retry_failed {
        report.failed_earlier = ledger.count("failed")?;
    }
    let due = ledger.due(retry_failed, resend_uncertain)?;
    if due.is_empty() {
        finish_uncertain(ledger, &mut report)?;
        return Ok(report);
    }
    let (mut sender, mut stopped) = match transport::Sender::new(config) {
        Ok(s) => (Some(s), None),
        Err(e) => {
            warn!(reason = %e.for_log(), "emails not sent");
            (None, Some(e))
        }
    };
    for row in &due {
        match (sender.as_mut(), &stopped) {
            (Some(sender), None) => {
                stopped = deliver_one(ledger, config, sender, row, now)?;
            }
            (_, Some(e)) => ledger.note_error(row.id, &e.to_string())?,
            (None, None) => unreachable!("a sender, or the reason there is none"),
        }
        let fate = ledger.fate(row.id)?;
        if fate.state == "uncertain" && row.state != "uncertain" {
            report.uncertain_new += 1;
        }
        report.fates.push(fate);
    }
    if let Some(s) = sender.as_mut() {
        s.close();
        report.connections = s.connections();
    }
    report.sent = report.fates.iter().filter(|f| f.state == "sent").count();
    report.pending = report.fates.iter().filter(|f| f.state == "pending").count();
    report.failed = report.fates.iter().filter(|f| f.state == "failed").count();
    finish_uncertain(ledger, &mut report)?;
    Ok(report)
}

/// Counts the uncertain messages of the ledger into `report`.
fn finish_uncertain(ledger: Sends, report: &mut DeliveryReport) -> Result<()> {
    report.uncertain_fates = ledger.with_state("uncertain")?;
    report.uncertain = report.uncertain_fates.len();
    Ok(())
}

/// Delivers one due message and records its outcome; returns the error that
/// stops the run, if it was one.
fn deliver_one(
    ledger: Sends,
    config: &Config,
    sender: &mut transport::Sender,
    row: &Due,
    now: DateTime<Utc>,
) -> Result<Option<DeliverError>> {
    let Some(bytes) = ledger.message(row.id)? else {
        let reason = "the stored message is missing (it was queued by an older scorecard); run the period again with --force to rebuild it";
        ledger.mark_failed(row.id, row.attempts, reason)?;
        return Ok(None);
    };
    let from: Address = match row.envelope_from.as_deref().map(str::parse) {
        Some(Ok(a)) => a,
        _ => config.email.from.email.clone(),
    };
    let to: Vec<Address> = row
        .recipient
        .split(',')
        .map(|a| a.parse::<Address>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("the ledger holds an invalid address for {}", row.message_id))?;
    let mut in_flight = || {
        ledger
            .mark_in_flight(row.id)
            .map_err(|e| DeliverError::Ledger {
                reason: format!("{e:#}"),
            })
    };
    let (tries, outcome) = with_retries(config, row, || {
        let sent = sender.send(&from, &to, &row.message_id, &bytes, &mut in_flight);
        if let Err(e) = &sent {
            if e.class() != Class::Uncertain {
                // The server does not have it: back to the state it was due in.
                ledger
                    .end_attempt(row.id, &row.state)
                    .map_err(|e| DeliverError::Ledger {
                        reason: format!("{e:#}"),
                    })?;
            }
        }
        sent
    });
    let attempts = row.attempts + tries;
    match outcome {
        Ok(path) => {
            let path = path.map(|p| p.display().to_string());
            ledger.mark_sent(row.id, attempts, now, path.as_deref())?;
            info!(period = %row.period, domains = %domains(&row.recipient), attempts = tries, "email sent");
            Ok(None)
        }
        Err(e) if e.class() == Class::Permanent => {
            ledger.mark_failed(row.id, attempts, &e.to_string())?;
            Ok(None)
        }
        Err(e) if e.class() == Class::Uncertain => {
            ledger.mark_uncertain(row.id, attempts, &e.to_string())?;
            Ok(e.stops_run().then_some(e))
        }
        Err(e) => {
            let next = (e.class() == Class::Transient)
                .then(|| now + backoff(config.email.retry_delay, tries));
            ledger.mark_pending(row.id, attempts, &e.to_string(), next)?;
            Ok(e.stops_run().then_some(e))
        }
    }
}

/// Tries `send` until it succeeds, fails other than transiently, or has had
/// `max_attempts` tries, sleeping the backoff in between. Returns the tries.
fn with_retries<T>(
    config: &Config,
    row: &Due,
    mut send: impl FnMut() -> Result<T, DeliverError>,
) -> (u32, Result<T, DeliverError>) {
    let mut tries = 0;
    loop {
        tries += 1;
        let e = match send() {
            Ok(v) => return (tries, Ok(v)),
            Err(e) => e,
        };
        let retry = e.class() == Class::Transient && tries < config.email.max_attempts;
        warn!(
            period = %row.period,
            domains = %domains(&row.recipient),
            attempt = tries,
            class = e.class().as_str(),
            code = e.code().unwrap_or(0),
            reason = %e.for_log(),
            "email not delivered{}",
            if retry { "; retrying" } else { "" }
        );
        if !retry {
            return (tries, Err(e));
        }
        std::thread::sleep(backoff(config.email.retry_delay, tries));
    }
}

/// Writes the messages of `outgoing` to the file outbox as `.eml` files,
/// built exactly as [`enqueue`] would build them, without touching the
/// ledger: a dry run that leaves nothing queued for a later `send`.
/// Returns the files written.
pub fn preview(config: &Config, outgoing: &[Outgoing], now: DateTime<Utc>) -> Result<Vec<PathBuf>> {
    let outbox = transport::Outbox {
        dir: config.email.outbox_dir.clone(),
    };
    let from = &config.email.from;
    let mut written = Vec::new();
    for o in outgoing {
        let recipient = message::recipient_key(&o.recipient);
        let hash = message::content_hash(o);
        let message_id =
            message::message_id(o.cadence.as_str(), &o.period, &recipient, &hash, 0, from);
        let bytes = message::build(from, o, &message_id, &hash, now)?;
        written.push(outbox.write(&message_id, &bytes)?);
    }
    Ok(written)
}

/// `scorecard check`: connects to the configured transport and says NOOP,
/// sending nothing. Returns a sentence saying what was checked.
pub fn check(config: &Config) -> Result<String> {
    let mut sender = transport::Sender::new(config).map_err(check_failure)?;
    sender.check().map_err(check_failure)
}

/// A setup problem is a configuration error (exit 2); a server that cannot
/// be reached right now is a runtime failure (exit 1).
fn check_failure(e: DeliverError) -> anyhow::Error {
    match e.class() {
        Class::Transient => Failure::runtime(e.to_string()).into(),
        Class::Permanent | Class::Setup | Class::Uncertain => Failure::usage(e.to_string()).into(),
    }
}

/// Every message of a period in the ledger (sent earlier, pending, failed),
/// for manifest.json.
pub fn fates(store: &Store, cadence: Cadence, period: &str) -> Result<Vec<Fate>> {
    store.sends().fates(cadence.as_str(), period)
}

/// The wait after the `attempt`-th failure: `base` × 2^(attempt-1), at most 30 s.
pub fn backoff(base: Duration, attempt: u32) -> Duration {
    let cap = Duration::from_secs(30);
    base.checked_mul(1u32 << attempt.saturating_sub(1).min(20))
        .unwrap_or(cap)
        .min(cap)
}

/// The distinct domains of a recipient key: what logs may name.
fn domains(recipient: &str) -> String {
    let mut out: Vec<&str> = recipient
        .split(',')
        .filter_map(|a| a.rsplit_once('@').map(|(_, d)| d))
        .collect();
    out.sort_unstable();
    out.dedup();
    out.join(",")
}

#[cfg(test)]
mod tests;
