//! Email delivery (issue 5): message building, transports, the send ledger.
//! INTERFACE STUB: being implemented; signatures are fixed.
use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::{Config, Recipient, TransportKind};
use crate::period::Cadence;
use crate::report::EmailParts;
use crate::store::Store;

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

/// What happened to one message (goes into manifest.json).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Fate {
    pub period: String,
    pub recipient: String,
    pub segment: String,
    pub message_id: String,
    pub state: String,
    pub attempts: u32,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct DeliveryReport {
    pub sent: usize,
    pub pending: usize,
    pub failed: usize,
    pub fates: Vec<Fate>,
}

/// Builds each message and records it in the send ledger as pending, unless
/// the same period, recipient and content was already sent (and not `force`).
/// Returns how many were queued.
pub fn enqueue(_store: &Store, _config: &Config, _outgoing: &[Outgoing], _now: DateTime<Utc>, _force: bool) -> Result<usize> {
    Ok(0)
}

/// Sends what is pending (and, with `retry_failed`, what failed), retrying
/// transient failures with capped exponential backoff within the run.
/// `transport` overrides the configured one (`--dry-run` uses File).
pub fn send_pending(
    _store: &Store,
    _config: &Config,
    _transport: Option<TransportKind>,
    _now: DateTime<Utc>,
    _retry_failed: bool,
) -> Result<DeliveryReport> {
    Ok(DeliveryReport::default())
}

/// `scorecard check`: connects to the configured transport and says NOOP,
/// sending nothing. Returns a sentence saying what was checked.
pub fn check(_config: &Config) -> Result<String> {
    Ok("email: not checked".into())
}
