//! `[email]`: the transport (SMTP, sendmail, a file outbox), the sender, the
//! recipients per segment and the retry policy. The SMTP password is read
//! here, once, from the variable `password_env` names, and kept in a
//! [`Secret`] that never prints; nothing after validation reads the
//! environment again.
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::message::Mailbox;
use serde::Deserialize;

use super::error::{ConfigError, Source};
use super::Env;

/// The default `[email] subject`: the segment, the title and period, and a
/// headline figure ("EMEA · Weekly CRM scorecard 2026-W48 · NPS 22.9 ▼, 2 KPIs
/// off track").
pub const DEFAULT_SUBJECT: &str = "{% if segment_name %}{{ segment_name }} · {% endif %}{{ title }} {{ period.id }} · {% if subject_figure %}{{ subject_figure }}, {% endif %}{{ off_track_phrase }}";

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawEmail {
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
    final_reply_timeout_secs: Option<u64>,
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

/// A password: shown as `[redacted]` by `Debug`, reachable only through
/// [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: Option<String>,
    /// The variable the password came from (named in login errors).
    pub password_env: Option<String>,
    /// The password, read from `password_env` at validation (with a
    /// username); None when that variable is not set (sending then fails
    /// with a sentence naming it).
    pub password: Option<Secret>,
    pub timeout: Duration,
    /// How long the server may take to answer the end of a message (RFC
    /// 5321 gives it 10 minutes); past it the message is `uncertain`.
    pub final_reply_timeout: Duration,
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

pub(super) fn check(
    raw: RawEmail,
    base: &Path,
    segments: &[String],
    src: &Source<'_>,
    env: &Env,
) -> Result<EmailConfig, ConfigError> {
    let transport = match raw.transport.as_deref() {
        None | Some("file") => TransportKind::File,
        Some("smtp") => TransportKind::Smtp,
        Some("sendmail") => TransportKind::Sendmail,
        Some(o) => {
            return Err(src.invalid(
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
        src.invalid(
            "email",
            "from",
            format!("'{from_text}' is not an email address ({e})"),
        )
    })?;
    let recipients = raw
        .recipients
        .into_iter()
        .enumerate()
        .map(|(i, r)| recipient(i, r, segments, src))
        .collect::<Result<_, _>>()?;
    let smtp = match transport {
        TransportKind::Smtp => Some(smtp(raw.smtp, src, env)?),
        _ => None,
    };
    Ok(EmailConfig {
        transport,
        from,
        subject: raw.subject.unwrap_or_else(|| DEFAULT_SUBJECT.into()),
        outbox_dir: base.join(raw.outbox_dir.unwrap_or_else(|| "outbox".into())),
        smtp,
        sendmail_command: raw.sendmail.command,
        recipients,
        max_attempts: raw.max_attempts.unwrap_or(4).clamp(1, 10),
        retry_delay: Duration::from_millis(raw.retry_delay_ms.unwrap_or(1000).min(30_000)),
    })
}

/// The `index`-th `[[email.recipients]]` entry: valid addresses, and a
/// segment of one of the report's segment attributes.
fn recipient(
    index: usize,
    r: RawRecipient,
    segments: &[String],
    src: &Source<'_>,
) -> Result<Recipient, ConfigError> {
    let err = |key: &str, msg: String| src.invalid_at("email.recipients", Some(index), key, msg);
    if r.to.is_empty() {
        return Err(err(
            "to",
            "a recipient entry needs at least one address".into(),
        ));
    }
    let mut to = Vec::new();
    for a in &r.to {
        to.push(a.parse::<Mailbox>().map_err(|e| {
            err(
                "to",
                format!("'{a}' is not a valid email address ({e}); nothing was sent"),
            )
        })?);
    }
    let segment = super::segment_of(r.segment, segments, |msg| err("segment", msg))?;
    Ok(Recipient { to, segment })
}

/// `[email.smtp]`: host, TLS mode (clear text only to loopback unless
/// allowed), port per mode, and the password from its variable.
fn smtp(s: RawSmtp, src: &Source<'_>, env: &Env) -> Result<SmtpConfig, ConfigError> {
    let err = |key: &str, msg: String| src.invalid("email.smtp", key, msg);
    let host = s
        .host
        .ok_or_else(|| err("host", "is required with transport = \"smtp\"".into()))?;
    let tls = match s.tls.as_deref() {
        None | Some("starttls") => TlsMode::Starttls,
        Some("tls") => TlsMode::Tls,
        Some("none") => TlsMode::None,
        Some(o) => {
            return Err(err(
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
        return Err(err("tls", format!("\"none\" sends the password and the reports in clear text to {host}; use starttls or tls, or set allow_insecure = true")));
    }
    let port = s.port.unwrap_or(match tls {
        TlsMode::Starttls => 587,
        TlsMode::Tls => 465,
        TlsMode::None => 25,
    });
    let password = match &s.username {
        None => None,
        Some(_) => {
            let var = s.password_env.as_deref().ok_or_else(|| {
                err(
                    "username",
                    "needs password_env, the name of the environment variable holding the password"
                        .into(),
                )
            })?;
            // Read once, here; a variable that is not set matters only
            // when something is to be sent (the transport says so then, and
            // the messages stay pending): import, kpis, show and
            // `run --no-send` never need it.
            env.get(var).map(|value| Secret(value.clone()))
        }
    };
    Ok(SmtpConfig {
        host,
        port,
        tls,
        username: s.username,
        password_env: s.password_env,
        password,
        timeout: Duration::from_secs(s.timeout_secs.unwrap_or(30)),
        final_reply_timeout: Duration::from_secs(s.final_reply_timeout_secs.unwrap_or(600)),
    })
}
