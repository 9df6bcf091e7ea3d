//! One webhook POST through `ureq` (blocking, rustls with *ring*, the
//! webpki roots; no redirects followed), and what its answer means:
//!
//! | answer | outcome |
//! |---|---|
//! | 2xx | posted |
//! | 429 | retry after `Retry-After` seconds (capped at 30 s), else backoff |
//! | 5xx, timeout, refused connection | retry with capped backoff |
//! | 3xx, other 4xx | failed, with the status and the body's first line |
//! | TLS or address problem | left pending (a setup problem), target stops |
//!
//! Every sentence names the webhook by its variable, never by its URL; any
//! text taken from the library or the server is scrubbed of the URL.
use std::io::Read;
use std::time::Duration;

use crate::config::{NotifyTarget, WebhookUrl};

/// What one request came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Posted(u16),
    /// Worth trying again; `after` is the server's Retry-After.
    Retry {
        status: Option<u16>,
        reason: String,
        after: Option<Duration>,
    },
    /// The webhook refused the post: trying again would not help.
    Failed {
        status: u16,
        reason: String,
    },
    /// The URL or TLS is wrong: nothing to this target can succeed now.
    Setup {
        reason: String,
    },
}

/// The longest wait a 429's Retry-After gets (the backoff's cap).
pub const MAX_WAIT: Duration = Duration::from_secs(30);

pub fn post(target: &NotifyTarget, url: &WebhookUrl, body: &[u8]) -> Outcome {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(target.timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(concat!("scorecard/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let who = format!("{} webhook (${})", target.kind.label(), target.url_env);
    let result = agent
        .post(url.expose())
        .header("Content-Type", "application/json; charset=utf-8")
        .send(body);
    let mut response = match result {
        Ok(r) => r,
        Err(e) => return transport_error(&who, url, &e),
    };
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        return Outcome::Posted(status);
    }
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|s| Duration::from_secs(s).min(MAX_WAIT));
    let mut text = String::new();
    let _ = response
        .body_mut()
        .as_reader()
        .take(2048)
        .read_to_string(&mut text);
    let detail = first_line(&scrub(&text, url));
    let said = |what: &str| match detail.as_str() {
        "" => format!("{who} answered {status} {what}"),
        d => format!("{who} answered {status} {what}: {d}"),
    };
    match status {
        429 => Outcome::Retry {
            status: Some(status),
            reason: said("(too many requests)"),
            after: retry_after,
        },
        500..=599 => Outcome::Retry {
            status: Some(status),
            reason: said("(a server error)"),
            after: None,
        },
        300..=399 => Outcome::Failed {
            status,
            reason: format!(
                "{} (a redirect, not followed); put the final webhook URL in ${}",
                said(""),
                target.url_env
            ),
        },
        404 | 410 => Outcome::Failed {
            status,
            reason: format!(
                "{}; the webhook was removed or its URL is wrong: put a working one in ${}",
                said("(not found)"),
                target.url_env
            ),
        },
        _ => Outcome::Failed {
            status,
            reason: format!(
                "{}; the webhook refused the post, so it is not retried (`scorecard send --retry` tries again)",
                said("(refused)")
            ),
        },
    }
}

fn transport_error(who: &str, url: &WebhookUrl, e: &ureq::Error) -> Outcome {
    use ureq::Error as E;
    match e {
        E::Timeout(_) => Outcome::Retry {
            status: None,
            reason: format!("{who} did not answer in time"),
            after: None,
        },
        E::HostNotFound => Outcome::Retry {
            status: None,
            reason: format!("{who}: its host name does not resolve"),
            after: None,
        },
        E::ConnectionFailed | E::Io(_) => Outcome::Retry {
            status: None,
            reason: format!("{who} cannot be reached ({})", scrub(&e.to_string(), url)),
            after: None,
        },
        E::Tls(_) | E::Rustls(_) | E::Pem(_) => Outcome::Setup {
            reason: format!(
                "{who}: the TLS connection failed ({}); check the URL in its variable",
                scrub(&e.to_string(), url)
            ),
        },
        E::BadUri(_) | E::Http(_) => Outcome::Setup {
            reason: format!("{who}: the URL in its variable is not a valid address"),
        },
        other => Outcome::Retry {
            status: None,
            reason: format!("{who}: {}", scrub(&other.to_string(), url)),
            after: None,
        },
    }
}

/// Removes the URL (and its path, the secret part) from a text.
fn scrub(text: &str, url: &WebhookUrl) -> String {
    let full = url.expose();
    let mut out = text.replace(full, "[webhook URL]");
    if let Some((_, rest)) = full.split_once("://") {
        if let Some((_, path)) = rest.split_once('/') {
            if path.len() >= 8 {
                out = out.replace(path, "[…]");
            }
        }
    }
    out
}

fn first_line(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let line = crate::escape::text(line);
    if line.chars().count() > 200 {
        let mut s: String = line.chars().take(199).collect();
        s.push('…');
        s
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_is_scrubbed() {
        let u =
            crate::config::WebhookUrl::for_test("https://hooks.slack.com/services/T0/B0/SECRET");
        let s = scrub(
            "error at https://hooks.slack.com/services/T0/B0/SECRET and services/T0/B0/SECRET",
            &u,
        );
        assert!(!s.contains("SECRET"), "{s}");
    }
}
