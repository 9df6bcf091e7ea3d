//! Delivery errors as sentences a user can act on, and what the send loop
//! does with each (vaultwarden's habit): a *transient* error (connection
//! refused, timeout, any 4xx reply) is retried with backoff and then left
//! pending; a *permanent* one (a 5xx reply to a recipient or to the message)
//! marks that message failed; a *setup* error (authentication, TLS, a missing
//! password variable, a rejected sender, a missing sendmail) would fail every
//! message the same way, so the run stops trying and leaves them pending.
//!
//! lettre's error is reduced to a [`Cause`] at the point of failure, together
//! with the [`Stage`] of the SMTP dialogue it happened in; the sentence and
//! the class are plain functions of the two, so they are tested without a
//! network. The SMTP password is scrubbed from every text taken from lettre.
use std::fmt;
use std::io;

/// How the send loop treats an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Retried within the run with backoff, then left pending.
    Transient,
    /// The message is marked failed (retried only by `scorecard send --retry`).
    Permanent,
    /// Every message would fail the same way: stop, leave them pending.
    Setup,
    /// The server took the whole message and its reply never came: it may
    /// have been delivered, so it is marked uncertain and not sent again
    /// unless asked (`scorecard send --resend-uncertain`).
    Uncertain,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Transient => "transient",
            Class::Permanent => "permanent",
            Class::Setup => "setup",
            Class::Uncertain => "uncertain",
        }
    }
}

/// Where in the SMTP dialogue an error happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// TCP connect, implicit TLS, greeting and EHLO.
    Connect,
    /// STARTTLS (or the implicit TLS handshake).
    Tls,
    Auth,
    /// `MAIL FROM:<address>`.
    MailFrom(String),
    /// `RCPT TO:<address>`.
    RcptTo(String),
    /// The `DATA` command.
    Data,
    /// The message body, until its last byte is written.
    Body,
    /// The server's reply to the end of the message (`.`), the body sent
    /// whole: from here on the server may have the message.
    FinalReply,
    /// `NOOP` (`scorecard check`).
    Noop,
}

/// What went wrong, reduced from lettre's error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// A negative SMTP reply.
    Reply { code: u16, text: String },
    /// A socket error (refused, reset, timed out…).
    Io { kind: io::ErrorKind, text: String },
    /// Anything else lettre reports (TLS setup, a malformed reply…).
    Other(String),
}

impl Cause {
    /// Reduces a lettre SMTP error, scrubbing `secret` from its text.
    pub fn from_smtp(e: &lettre::transport::smtp::Error, secret: Option<&str>) -> Cause {
        if let Some(code) = e.status() {
            let code: u16 = code.to_string().parse().unwrap_or(0);
            let text = std::error::Error::source(e)
                .map(|s| s.to_string())
                .unwrap_or_default();
            return Cause::Reply {
                code,
                text: redact(text.trim(), secret),
            };
        }
        if let Some(io) = find_io(e) {
            return Cause::Io {
                kind: io.kind(),
                text: redact(&io.to_string(), secret),
            };
        }
        let text = std::error::Error::source(e)
            .map(|s| s.to_string())
            .unwrap_or_else(|| e.to_string());
        Cause::Other(redact(&text, secret))
    }

    fn reply(&self) -> Option<(u16, &str)> {
        match self {
            Cause::Reply { code, text } => Some((*code, text.as_str())),
            _ => None,
        }
    }

    fn is_timeout(&self) -> bool {
        matches!(
            self,
            Cause::Io {
                kind: io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock,
                ..
            }
        )
    }

    /// "connection refused", "550 Mailbox unavailable"…
    fn describe(&self) -> String {
        match self {
            Cause::Reply { code, text } if text.is_empty() => code.to_string(),
            Cause::Reply { code, text } => format!("{code} {text}"),
            Cause::Io {
                kind: io::ErrorKind::ConnectionRefused,
                ..
            } => "connection refused".into(),
            Cause::Io {
                kind: io::ErrorKind::ConnectionReset,
                ..
            } => "the connection was reset".into(),
            Cause::Io {
                kind: io::ErrorKind::UnexpectedEof,
                ..
            } => "the server closed the connection".into(),
            Cause::Io { text, .. } => lower_first(text),
            Cause::Other(text) => lower_first(text),
        }
    }
}

fn find_io<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a io::Error> {
    let mut source = Some(e);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            return Some(io);
        }
        source = err.source();
    }
    None
}

fn lower_first(text: &str) -> String {
    let text = text.trim().trim_end_matches('.');
    let mut chars = text.chars();
    match chars.next() {
        Some(c) if !chars.as_str().starts_with(|c: char| c.is_ascii_uppercase()) => {
            c.to_lowercase().chain(chars).collect()
        }
        _ => text.to_string(),
    }
}

/// Removes the password from a text taken from a library error.
pub fn redact(text: &str, secret: Option<&str>) -> String {
    match secret {
        Some(s) if s.len() >= 3 => text.replace(s, "***"),
        _ => text.to_string(),
    }
}

/// `jane@example.com` → `…@example.com`: logs name only the domain.
pub fn mask(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((_, domain)) => format!("…@{domain}"),
        None => "…".into(),
    }
}

const STAYS_PENDING: &str =
    "the message stays pending and is retried by `scorecard send` or the next run";

/// A delivery error: one sentence naming the server or the address at fault
/// and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliverError {
    /// Anything the SMTP dialogue reported.
    #[error("{}", smtp_sentence(.server, .stage, .cause, .password_env.as_deref(), .timeout_secs, .implicit_tls))]
    Smtp {
        /// `host:port`
        server: String,
        stage: Stage,
        cause: Cause,
        password_env: Option<String>,
        timeout_secs: u64,
        implicit_tls: bool,
    },
    #[error("the environment variable {var} is not set (it must hold the SMTP password for [email.smtp] username); nothing was sent and the messages stay pending")]
    MissingPassword { var: String },
    #[error("cannot run the sendmail command {command}: {reason} (install sendmail, or set [email.sendmail] command to its path); the messages stay pending")]
    SendmailMissing { command: String, reason: String },
    #[error("{command} refused the message: {detail} ({STAYS_PENDING})")]
    SendmailFailed { command: String, detail: String },
    #[error("transport = \"smtp\" needs an [email.smtp] section with a host (see the config reference in README.md)")]
    SmtpNotConfigured,
    #[error("cannot write to the outbox {path}: {reason} (check [email] outbox_dir and its permissions); the messages stay pending")]
    Outbox { path: String, reason: String },
    #[error("cannot record the attempt in the send ledger: {reason}; nothing was sent and the messages stay pending")]
    Ledger { reason: String },
}

impl DeliverError {
    pub fn class(&self) -> Class {
        match self {
            DeliverError::Smtp { stage, cause, .. } => classify(stage, cause),
            DeliverError::MissingPassword { .. }
            | DeliverError::SmtpNotConfigured
            | DeliverError::SendmailMissing { .. }
            | DeliverError::Outbox { .. }
            | DeliverError::Ledger { .. } => Class::Setup,
            DeliverError::SendmailFailed { .. } => Class::Transient,
        }
    }

    /// True when the error is about the server or the setup rather than one
    /// message: once its retries are spent, the other messages of the run
    /// are not tried (they would wait out the same backoff for nothing).
    pub fn stops_run(&self) -> bool {
        match self {
            // A server too slow to answer the end of a message would keep
            // every later one waiting as long.
            DeliverError::Smtp {
                stage: Stage::FinalReply,
                cause,
                ..
            } => cause.is_timeout(),
            DeliverError::Smtp { stage, .. } => {
                self.class() == Class::Setup
                    || matches!(
                        stage,
                        Stage::Connect
                            | Stage::Tls
                            | Stage::Auth
                            | Stage::MailFrom(_)
                            | Stage::Noop
                    )
            }
            _ => self.class() == Class::Setup,
        }
    }

    /// The SMTP reply code, if the server gave one.
    pub fn code(&self) -> Option<u16> {
        match self {
            DeliverError::Smtp {
                cause: Cause::Reply { code, .. },
                ..
            } => Some(*code),
            _ => None,
        }
    }

    /// The sentence with every address reduced to its domain, for logs.
    pub fn for_log(&self) -> String {
        match self {
            DeliverError::Smtp {
                stage: Stage::RcptTo(a),
                ..
            } => self.to_string().replace(a.as_str(), &mask(a)),
            DeliverError::Smtp {
                stage: Stage::MailFrom(a),
                ..
            } => self.to_string().replace(a.as_str(), &mask(a)),
            other => other.to_string(),
        }
    }
}

/// The class of an SMTP error, from where it happened and what it was.
pub fn classify(stage: &Stage, cause: &Cause) -> Class {
    match (stage, cause.reply()) {
        // A 4xx reply anywhere is a temporary refusal.
        (_, Some((code, _))) if (400..500).contains(&code) => Class::Transient,
        (Stage::RcptTo(_) | Stage::Data | Stage::Body | Stage::FinalReply, Some(_)) => {
            Class::Permanent
        }
        (Stage::FinalReply, None) => Class::Uncertain,
        // A 5xx reply to the greeting, EHLO, STARTTLS, AUTH or MAIL FROM
        // concerns every message: a setup problem.
        (_, Some(_)) => Class::Setup,
        (Stage::Tls, None) => Class::Setup,
        (Stage::Auth, None) if matches!(cause, Cause::Other(_)) => Class::Setup,
        _ => Class::Transient,
    }
}

/// The stage of an error while connecting: with implicit TLS the handshake
/// happens on the first read, so rustls reports its failures through the
/// socket, as invalid data.
pub fn connect_stage(implicit_tls: bool, cause: &Cause) -> Stage {
    if implicit_tls && tls_failure(cause) {
        Stage::Tls
    } else {
        Stage::Connect
    }
}

fn tls_failure(cause: &Cause) -> bool {
    match cause {
        Cause::Io {
            kind: io::ErrorKind::InvalidData,
            ..
        } => true,
        Cause::Io { text, .. } | Cause::Other(text) => {
            let t = text.to_ascii_lowercase();
            t.contains("certificate") || t.contains("handshake") || t.contains("tls")
        }
        Cause::Reply { .. } => false,
    }
}

fn smtp_sentence(
    server: &str,
    stage: &Stage,
    cause: &Cause,
    password_env: Option<&str>,
    timeout_secs: &u64,
    implicit_tls: &bool,
) -> String {
    let what = cause.describe();
    let var = password_env
        .map(|v| format!("${v}"))
        .unwrap_or_else(|| "password_env".into());
    let tls_hint = "check [email.smtp] tls and port: \"tls\" is implicit TLS, usually on port 465; \"starttls\" usually uses port 587";
    let class = classify(stage, cause);
    match stage {
        Stage::Tls if cause.reply().is_none() => {
            if what.contains("starttls is not supported") || what.contains("STARTTLS is not supported") {
                format!("{server} does not offer STARTTLS (set tls = \"tls\" if it expects implicit TLS, usually on port 465)")
            } else if what.contains("certificate") {
                format!("TLS handshake failed with {server}: {what} (the server's certificate must be valid for its host name and issued by a public authority: scorecard trusts the Mozilla root store)")
            } else {
                format!("TLS handshake failed with {server}: {what} ({tls_hint})")
            }
        }
        Stage::Tls => match cause.reply() {
            Some(_) if class == Class::Transient => format!("{server} cannot start TLS right now: {what} ({STAYS_PENDING})"),
            _ => format!("TLS handshake failed with {server}: {what} ({tls_hint})"),
        },
        Stage::Connect => match cause {
            Cause::Reply { .. } if class == Class::Transient => {
                format!("{server} is not accepting mail right now: {what} ({STAYS_PENDING})")
            }
            Cause::Reply { .. } => format!(
                "{server} refused the connection: {what} (check [email.smtp] host and port; the messages stay pending)"
            ),
            c if c.is_timeout() => format!(
                "cannot connect to {server}: no answer within {timeout_secs} s (the mail server may be down or a firewall drops the connection; {STAYS_PENDING})"
            ),
            _ if *implicit_tls && matches!(cause, Cause::Io { kind: io::ErrorKind::UnexpectedEof, .. }) => format!(
                "cannot connect to {server}: {what} during the TLS handshake ({tls_hint}); {STAYS_PENDING}"
            ),
            _ => format!("cannot connect to {server}: {what} (the mail server may be down; {STAYS_PENDING})"),
        },
        Stage::Auth => match class {
            Class::Transient if cause.reply().is_some() => {
                format!("authentication at {server} failed temporarily: {what} ({STAYS_PENDING})")
            }
            Class::Transient => format!("the connection to {server} broke during authentication: {what} ({STAYS_PENDING})"),
            _ if cause.reply().is_some() => {
                format!("authentication failed at {server}: {what} (check the username and the password in {var})")
            }
            _ => format!(
                "authentication failed at {server}: {what} (the server offers no login method scorecard supports, PLAIN or LOGIN; many servers offer them only over TLS)"
            ),
        },
        Stage::MailFrom(from) => match class {
            Class::Setup => format!("the server {server} rejected the sender {from}: {what} (check [email] from)"),
            _ => delivery_problem(server, "the message", cause, &what, *timeout_secs),
        },
        Stage::RcptTo(to) => match (class, cause.reply()) {
            (Class::Permanent, _) => format!("the server rejected recipient {to}: {what}"),
            (_, Some(_)) => format!("the server deferred recipient {to}: {what} (a temporary refusal; {STAYS_PENDING})"),
            _ => delivery_problem(server, "the message", cause, &what, *timeout_secs),
        },
        Stage::FinalReply if cause.reply().is_none() => {
            let why = if cause.is_timeout() {
                format!("no reply within {timeout_secs} s")
            } else {
                what.clone()
            };
            format!(
                "the server {server} took the whole message but its reply never came ({why}): it may have been delivered, so it is marked uncertain and not sent again by itself (`scorecard send --resend-uncertain` sends it again, with the same Message-ID)"
            )
        }
        Stage::Data | Stage::Body | Stage::FinalReply => match (class, cause.reply()) {
            (Class::Permanent, _) => format!("the server {server} refused the message: {what}"),
            _ => delivery_problem(server, "the message", cause, &what, *timeout_secs),
        },
        Stage::Noop => match cause.reply() {
            Some(_) => format!("{server} did not accept NOOP: {what}"),
            None => format!("{server} stopped answering after the greeting: {what}"),
        },
    }
}

fn delivery_problem(
    server: &str,
    what_of: &str,
    cause: &Cause,
    what: &str,
    timeout_secs: u64,
) -> String {
    match cause {
        Cause::Reply { .. } => {
            format!("the server {server} deferred {what_of}: {what} (a temporary refusal; {STAYS_PENDING})")
        }
        c if c.is_timeout() => format!(
            "the server {server} stopped answering (no reply within {timeout_secs} s) while taking {what_of} ({STAYS_PENDING})"
        ),
        Cause::Io { .. } => format!("the connection to {server} broke while sending {what_of}: {what} ({STAYS_PENDING})"),
        Cause::Other(_) => format!("the server {server} answered unexpectedly: {what} ({STAYS_PENDING})"),
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stage::Connect => f.write_str("connect"),
            Stage::Tls => f.write_str("tls"),
            Stage::Auth => f.write_str("auth"),
            Stage::MailFrom(_) => f.write_str("mail from"),
            Stage::RcptTo(_) => f.write_str("rcpt to"),
            Stage::Data => f.write_str("data"),
            Stage::Body => f.write_str("message"),
            Stage::FinalReply => f.write_str("final reply"),
            Stage::Noop => f.write_str("noop"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn smtp(stage: Stage, cause: Cause) -> DeliverError {
        DeliverError::Smtp {
            server: "smtp.example.com:587".into(),
            stage,
            cause,
            password_env: Some("SMTP_PASS".into()),
            timeout_secs: 30,
            implicit_tls: false,
        }
    }

    fn reply(code: u16, text: &str) -> Cause {
        Cause::Reply {
            code,
            text: text.into(),
        }
    }

    fn io(kind: io::ErrorKind, text: &str) -> Cause {
        Cause::Io {
            kind,
            text: text.into(),
        }
    }

    #[test]
    fn classification_table() {
        use Class::*;
        let rcpt = || Stage::RcptTo("x@y.com".into());
        let from = || Stage::MailFrom("scorecard@example.com".into());
        let cases: Vec<(Stage, Cause, Class, bool)> = vec![
            (
                Stage::Connect,
                io(
                    io::ErrorKind::ConnectionRefused,
                    "Connection refused (os error 111)",
                ),
                Transient,
                true,
            ),
            (
                Stage::Connect,
                io(io::ErrorKind::TimedOut, "timed out"),
                Transient,
                true,
            ),
            (Stage::Connect, reply(421, "too busy"), Transient, true),
            // The body sent whole, no reply: the server may have it.
            (
                Stage::FinalReply,
                io(io::ErrorKind::WouldBlock, "timed out"),
                Uncertain,
                true,
            ),
            (
                Stage::FinalReply,
                io(io::ErrorKind::UnexpectedEof, "eof"),
                Uncertain,
                false,
            ),
            (Stage::FinalReply, reply(451, "try later"), Transient, false),
            (Stage::FinalReply, reply(554, "spam"), Permanent, false),
            // Broken before the end of the body: the server has nothing.
            (
                Stage::Body,
                io(io::ErrorKind::BrokenPipe, "broken pipe"),
                Transient,
                false,
            ),
            (Stage::Connect, reply(554, "no service"), Setup, true),
            (
                Stage::Connect,
                io(
                    io::ErrorKind::InvalidData,
                    "stream did not contain valid UTF-8",
                ),
                Transient,
                true,
            ),
            (
                Stage::Tls,
                Cause::Other("invalid peer certificate: UnknownIssuer".into()),
                Setup,
                true,
            ),
            (Stage::Tls, reply(454, "TLS not available"), Transient, true),
            (
                Stage::Auth,
                reply(535, "5.7.8 bad credentials"),
                Setup,
                true,
            ),
            (
                Stage::Auth,
                reply(454, "temporary authentication failure"),
                Transient,
                true,
            ),
            (
                Stage::Auth,
                Cause::Other("No compatible authentication mechanism was found".into()),
                Setup,
                true,
            ),
            (from(), reply(550, "sender rejected"), Setup, true),
            (from(), reply(451, "try later"), Transient, true),
            (rcpt(), reply(550, "Mailbox unavailable"), Permanent, false),
            (rcpt(), reply(451, "greylisted"), Transient, false),
            (
                Stage::Data,
                reply(554, "no valid recipients"),
                Permanent,
                false,
            ),
            (Stage::Data, reply(451, "local error"), Transient, false),
            (Stage::Body, reply(552, "message too big"), Permanent, false),
            (
                Stage::Body,
                io(
                    io::ErrorKind::WouldBlock,
                    "resource temporarily unavailable",
                ),
                Transient,
                false,
            ),
            (
                Stage::Body,
                io(io::ErrorKind::BrokenPipe, "broken pipe"),
                Transient,
                false,
            ),
        ];
        for (stage, cause, class, stops) in cases {
            let e = smtp(stage.clone(), cause.clone());
            assert_eq!(e.class(), class, "{stage:?} {cause:?}: {e}");
            assert_eq!(e.stops_run(), stops, "{stage:?} {cause:?}");
        }
        let corrupt = io(
            io::ErrorKind::InvalidData,
            "received corrupt message of type InvalidContentType",
        );
        assert_eq!(connect_stage(true, &corrupt), Stage::Tls);
        assert_eq!(connect_stage(false, &corrupt), Stage::Connect);
        assert_eq!(
            connect_stage(true, &io(io::ErrorKind::ConnectionRefused, "refused")),
            Stage::Connect
        );
        assert_eq!(
            DeliverError::MissingPassword { var: "X".into() }.class(),
            Setup
        );
        assert_eq!(
            DeliverError::SendmailFailed {
                command: "sendmail".into(),
                detail: "x".into()
            }
            .class(),
            Transient
        );
        assert_eq!(
            DeliverError::Outbox {
                path: "o".into(),
                reason: "r".into()
            }
            .class(),
            Setup
        );
    }

    #[test]
    fn sentences() {
        let e = smtp(
            Stage::Connect,
            io(
                io::ErrorKind::ConnectionRefused,
                "Connection refused (os error 111)",
            ),
        );
        assert_eq!(
            e.to_string(),
            "cannot connect to smtp.example.com:587: connection refused (the mail server may be down; the message stays pending and is retried by `scorecard send` or the next run)"
        );
        let e = smtp(Stage::Auth, reply(535, "Invalid credentials"));
        assert_eq!(
            e.to_string(),
            "authentication failed at smtp.example.com:587: 535 Invalid credentials (check the username and the password in $SMTP_PASS)"
        );
        let e = smtp(
            Stage::RcptTo("x@y.com".into()),
            reply(550, "Mailbox unavailable"),
        );
        assert_eq!(
            e.to_string(),
            "the server rejected recipient x@y.com: 550 Mailbox unavailable"
        );
        assert_eq!(
            e.for_log(),
            "the server rejected recipient …@y.com: 550 Mailbox unavailable"
        );
        let e = smtp(
            Stage::Tls,
            Cause::Other("invalid peer certificate: UnknownIssuer".into()),
        );
        assert!(
            e.to_string().starts_with(
                "TLS handshake failed with smtp.example.com:587: invalid peer certificate"
            ),
            "{e}"
        );
        assert!(
            e.to_string().contains("trusts the Mozilla root store"),
            "{e}"
        );
        let e = smtp(
            Stage::Tls,
            Cause::Other("STARTTLS is not supported on this server".into()),
        );
        assert!(
            e.to_string()
                .starts_with("smtp.example.com:587 does not offer STARTTLS"),
            "{e}"
        );
        let e = smtp(
            Stage::Data,
            reply(451, "Aborted: local error in processing"),
        );
        assert!(
            e.to_string()
                .starts_with("the server smtp.example.com:587 deferred the message: 451 Aborted"),
            "{e}"
        );
        let e = smtp(
            Stage::Body,
            io(
                io::ErrorKind::WouldBlock,
                "Resource temporarily unavailable (os error 11)",
            ),
        );
        assert!(
            e.to_string()
                .contains("stopped answering (no reply within 30 s)"),
            "{e}"
        );
        let e = smtp(
            Stage::MailFrom("scorecard@example.com".into()),
            reply(553, "sender not allowed"),
        );
        assert!(e.to_string().ends_with("(check [email] from)"), "{e}");
        assert!(!e.for_log().contains("scorecard@"), "{}", e.for_log());
        for e in [
            smtp(Stage::Connect, reply(421, "busy")),
            smtp(Stage::Auth, reply(454, "later")),
        ] {
            assert!(e.to_string().contains("stays pending"), "{e}");
        }
    }

    #[test]
    fn the_password_is_scrubbed() {
        assert_eq!(
            redact("AUTH failed for hunter2!", Some("hunter2")),
            "AUTH failed for ***!"
        );
        assert_eq!(redact("nothing here", None), "nothing here");
        assert_eq!(mask("jane@example.com"), "…@example.com");
    }
}
