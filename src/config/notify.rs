//! `[[notify]]`: Slack and Microsoft Teams webhooks that get the headline,
//! the top insights and the archive link of each period (issue 14, item 7).
//!
//! A webhook URL is a credential (whoever holds it can post to the channel),
//! so it never sits in the file: `url_env` names the environment variable
//! holding it. The variable is read here, once, into a [`WebhookUrl`] that
//! never prints; like the SMTP password it is required only when something
//! is to be posted (a missing variable leaves the posts pending with a
//! sentence naming it), and checked here when it is set: https, or plain
//! http to a loopback host only.
use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use super::error::{ConfigError, Source};
use super::Env;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNotify {
    kind: String,
    url_env: String,
    #[serde(default)]
    segment: Option<String>,
    #[serde(default)]
    max_attempts: Option<u32>,
    #[serde(default)]
    retry_delay_ms: Option<u64>,
    #[serde(default)]
    timeout_secs: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyKind {
    Slack,
    Teams,
}

impl NotifyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyKind::Slack => "slack",
            NotifyKind::Teams => "teams",
        }
    }

    /// How the product is named in sentences.
    pub fn label(self) -> &'static str {
        match self {
            NotifyKind::Slack => "Slack",
            NotifyKind::Teams => "Microsoft Teams",
        }
    }
}

/// A webhook URL: `[redacted]` to `Debug`, reachable only through
/// [`WebhookUrl::expose`], never written to a log, a message or the store.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    pub fn expose(&self) -> &str {
        &self.0
    }

    #[cfg(test)]
    pub(crate) fn for_test(url: &str) -> WebhookUrl {
        WebhookUrl(url.into())
    }
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// One `[[notify]]` entry.
#[derive(Debug, Clone)]
pub struct NotifyTarget {
    pub kind: NotifyKind,
    /// The variable holding the URL (what logs, the ledger and manifests name).
    pub url_env: String,
    /// The URL, when the variable is set (checked: https or loopback http).
    pub url: Option<WebhookUrl>,
    /// `attribute=value`, or None for the whole business.
    pub segment: Option<(String, String)>,
    /// Attempts per post within one run before it is left pending.
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt, capped at 30 s (a 429's
    /// Retry-After is honoured instead, up to the same cap).
    pub retry_delay: Duration,
    pub timeout: Duration,
}

impl NotifyTarget {
    /// The ledger's name of the destination: kind and variable, never the URL.
    pub fn key(&self) -> String {
        format!("{}:{}", self.kind.as_str(), self.url_env)
    }

    /// The segment key of the entry's scorecard ("" for the whole business).
    pub fn segment_key(&self) -> String {
        self.segment
            .as_ref()
            .map(|(a, v)| format!("{a}={v}"))
            .unwrap_or_default()
    }
}

pub(super) fn check(
    raw: Vec<RawNotify>,
    segments: &[String],
    src: &Source<'_>,
    env: &Env,
) -> Result<Vec<NotifyTarget>, ConfigError> {
    let mut out: Vec<NotifyTarget> = Vec::new();
    for (index, r) in raw.into_iter().enumerate() {
        let t = target(index, r, segments, src, env)?;
        if out
            .iter()
            .any(|o| o.key() == t.key() && o.segment == t.segment)
        {
            return Err(src.invalid_at(
                "notify",
                Some(index),
                "url_env",
                format!(
                    "{} with {} {}is listed twice",
                    t.kind.as_str(),
                    t.url_env,
                    match &t.segment {
                        Some(_) => format!("for {} ", t.segment_key()),
                        None => String::new(),
                    }
                ),
            ));
        }
        out.push(t);
    }
    Ok(out)
}

fn target(
    index: usize,
    r: RawNotify,
    segments: &[String],
    src: &Source<'_>,
    env: &Env,
) -> Result<NotifyTarget, ConfigError> {
    let err = |key: &str, msg: String| src.invalid_at("notify", Some(index), key, msg);
    let kind = match r.kind.as_str() {
        "slack" => NotifyKind::Slack,
        "teams" => NotifyKind::Teams,
        o => return Err(err("kind", format!("'{o}' (expected slack or teams)"))),
    };
    let var = r.url_env.trim().to_string();
    if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(err(
            "url_env",
            format!(
                "'{}' is not an environment variable name (e.g. SLACK_WEBHOOK_URL); the URL itself never goes in the file",
                crate::escape::text(&r.url_env)
            ),
        ));
    }
    let url = match env.get(&var) {
        None => None,
        Some(value) => {
            check_url(value.trim()).map_err(|problem| {
                err(
                    "url_env",
                    format!("the URL in the environment variable {var} {problem}"),
                )
            })?;
            Some(WebhookUrl(value.trim().to_string()))
        }
    };
    let segment = super::segment_of(r.segment, segments, |msg| err("segment", msg))?;
    Ok(NotifyTarget {
        kind,
        url_env: var,
        url,
        segment,
        max_attempts: r.max_attempts.unwrap_or(4).clamp(1, 10),
        retry_delay: Duration::from_millis(r.retry_delay_ms.unwrap_or(1000).min(30_000)),
        timeout: Duration::from_secs(r.timeout_secs.unwrap_or(30).clamp(1, 300)),
    })
}

/// A webhook URL must be https, or http to a loopback host (a local relay,
/// the tests). The sentence never repeats the URL: it holds the credential.
pub fn check_url(url: &str) -> Result<(), String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or("is not a URL (expected https://…)")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    if host.is_empty() {
        return Err("has no host".into());
    }
    match scheme.to_ascii_lowercase().as_str() {
        "https" => Ok(()),
        "http" if is_loopback(host) => Ok(()),
        "http" => Err(
            "is plain http to a host that is not loopback; webhook URLs must be https (http only to 127.0.0.1, ::1 or localhost)"
                .into(),
        ),
        _ => Err("is not an https URL".into()),
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_https_or_loopback_http() {
        assert!(check_url("https://hooks.slack.com/services/T0/B0/x").is_ok());
        assert!(check_url("http://127.0.0.1:8080/hook").is_ok());
        assert!(check_url("http://[::1]:8080/hook").is_ok());
        assert!(check_url("http://localhost/hook").is_ok());
        let e = check_url("http://hooks.example.com/secret-token").unwrap_err();
        assert!(e.contains("must be https"), "{e}");
        assert!(!e.contains("secret-token"));
        assert!(check_url("ftp://x/y").is_err());
        assert!(check_url("hooks.slack.com/x").is_err());
        assert!(check_url("https:///x").is_err());
    }

    #[test]
    fn the_url_never_prints() {
        let u = WebhookUrl("https://hooks.slack.com/services/SECRET".into());
        assert_eq!(format!("{u:?}"), "[redacted]");
    }
}
