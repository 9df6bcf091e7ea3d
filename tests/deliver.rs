//! Email delivery against real SMTP servers on 127.0.0.1 (tests/support):
//! what arrives parses as a complete scorecard, a temporary refusal is
//! retried and delivered once, an unreachable server leaves the messages
//! pending until `send` finds it back, a rejected recipient is marked
//! failed with the server's reason, and setup errors read as sentences that
//! never contain the password.
#[path = "support/ports.rs"]
mod ports;
#[path = "support/smtp.rs"]
mod smtp;

use std::path::Path;
use std::time::Instant;

use chrono::{DateTime, Utc};
use mailparse::{MailHeaderMap, ParsedMail};
use ports::free_port;
use scorecard::config::{Config, Env};
use scorecard::deliver::{self, Outgoing};
use scorecard::period::Cadence;
use scorecard::report::EmailParts;
use scorecard::store::Store;
use smtp::{AuthServer, Received, Script, TestServer};

fn now() -> DateTime<Utc> {
    "2026-11-23T07:00:00Z".parse().unwrap()
}

/// A config for SMTP to 127.0.0.1:`port` (`tls` = "none" for the test
/// servers), two recipient entries (the whole business and a segment), fast
/// retries.
fn config_tls(dir: &Path, port: u16, tls: &str, extra_smtp: &str, env: &Env) -> Config {
    let text = format!(
        r#"
[report]
segments = ["region"]

[email]
transport = "smtp"
from = "Scorecard <scorecard@example.com>"
max_attempts = 3
retry_delay_ms = 10

[email.smtp]
host = "127.0.0.1"
port = {port}
tls = "{tls}"
timeout_secs = 5
{extra_smtp}

[[email.recipients]]
to = ["Leadership <leadership@example.com>"]

[[email.recipients]]
to = ["emea-lead@example.org"]
segment = "region=EMEA"
"#
    );
    Config::from_toml(&text, dir, None, env).unwrap()
}

fn config(dir: &Path, port: u16, extra_smtp: &str, env: &Env) -> Config {
    config_tls(dir, port, "none", extra_smtp, env)
}

/// A PNG of `w`×`h` noisy pixels (noise does not compress: realistic sizes).
fn png(seed: u32, w: u32, h: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let pixels: Vec<u8> = (0..w * h * 3)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect();
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.write_header()
            .unwrap()
            .write_image_data(&pixels)
            .unwrap();
    }
    out
}

/// The email of recipient entry `i` for `period`, with `images` charts.
fn outgoing(
    config: &Config,
    i: usize,
    period: &str,
    csv: &str,
    images: usize,
    image_size: (u32, u32),
) -> Outgoing {
    let recipient = config.email.recipients[i].clone();
    let segment = recipient
        .segment
        .as_ref()
        .map(|(a, v)| format!("{a}={v}"))
        .unwrap_or_default();
    let cids: Vec<String> = (0..images).map(|k| format!("trend-kpi{k}.png")).collect();
    let mut html = String::from(
        "<!DOCTYPE html><html><body style=\"background:#ffffff\"><table width=\"640\">",
    );
    for (k, cid) in cids.iter().enumerate() {
        html.push_str(&format!(
            "<tr><td style=\"color:#111111\">KPI {k}: 41.{k} (+2.{k} vs previous)</td><td><img src=\"cid:{cid}\" alt=\"KPI {k} trend\" width=\"300\"></td></tr>\n"
        ));
    }
    html.push_str("</table></body></html>\n");
    Outgoing {
        cadence: Cadence::Weekly,
        period: period.into(),
        recipient,
        segment: segment.clone(),
        parts: EmailParts {
            subject: format!(
                "Weekly CRM scorecard {period}{}",
                if segment.is_empty() {
                    String::new()
                } else {
                    format!(" ({segment})")
                }
            ),
            text: format!(
                "# Weekly CRM scorecard {period}\n\n| KPI | value |\n|---|---|\n| NPS | 41.2 |\n"
            ),
            html,
            images: cids
                .iter()
                .enumerate()
                .map(|(k, cid)| {
                    (
                        cid.clone(),
                        png(k as u32 + 1, image_size.0, image_size.1),
                        format!("KPI {k} trend"),
                    )
                })
                .collect(),
            list_name: "Weekly CRM scorecard".into(),
        },
        attachment_csv: format!("period,segment,kpi,value\n{period},{segment},nps,41.2\n{csv}")
            .into_bytes(),
    }
}

fn both(config: &Config, period: &str) -> Vec<Outgoing> {
    vec![
        outgoing(config, 0, period, "", 2, (40, 20)),
        outgoing(config, 1, period, "", 2, (40, 20)),
    ]
}

fn stored_message(store: &Store, message_id: &str) -> Vec<u8> {
    store.sends().message_by_id(message_id).unwrap().unwrap()
}

fn all_parts<'a>(m: &'a ParsedMail<'a>, out: &mut Vec<&'a ParsedMail<'a>>) {
    out.push(m);
    for p in &m.subparts {
        all_parts(p, out);
    }
}

/// The received message is a complete scorecard email: both alternatives,
/// every `cid:` image present as an inline PNG, kpis.csv attached.
fn assert_complete(received: &Received) -> String {
    let mail = mailparse::parse_mail(&received.data).unwrap();
    assert_eq!(mail.ctype.mimetype, "multipart/mixed");
    let mut parts = Vec::new();
    all_parts(&mail, &mut parts);
    let alternative = parts
        .iter()
        .find(|p| p.ctype.mimetype == "multipart/alternative")
        .expect("an alternative part");
    let kinds: Vec<&str> = alternative
        .subparts
        .iter()
        .map(|p| p.ctype.mimetype.as_str())
        .collect();
    assert_eq!(kinds, ["text/plain", "multipart/related"]);
    let text = alternative.subparts[0].get_body().unwrap();
    assert!(text.contains("| NPS | 41.2 |"), "{text}");
    let related = &alternative.subparts[1];
    assert_eq!(related.subparts[0].ctype.mimetype, "text/html");
    let html = related.subparts[0].get_body().unwrap();
    let cids: Vec<&str> = html
        .split("cid:")
        .skip(1)
        .map(|r| r.split('"').next().unwrap())
        .collect();
    assert!(!cids.is_empty());
    for cid in cids {
        let image = related.subparts[1..]
            .iter()
            .find(|p| {
                p.headers.get_first_value("Content-ID").as_deref() == Some(&format!("<{cid}>"))
            })
            .unwrap_or_else(|| panic!("cid:{cid} has no part"));
        assert_eq!(image.ctype.mimetype, "image/png");
        assert_eq!(
            image.get_content_disposition().disposition,
            mailparse::DispositionType::Inline
        );
        assert!(image.get_body_raw().unwrap().starts_with(b"\x89PNG\r\n"));
    }
    let csv = parts
        .iter()
        .find(|p| p.ctype.mimetype == "text/csv")
        .expect("kpis.csv");
    let disposition = csv.get_content_disposition();
    assert_eq!(
        disposition.disposition,
        mailparse::DispositionType::Attachment
    );
    assert_eq!(
        disposition.params.get("filename").map(String::as_str),
        Some("kpis.csv")
    );
    assert!(csv
        .get_body()
        .unwrap()
        .starts_with("period,segment,kpi,value"));
    mail.headers.get_first_value("Message-ID").unwrap()
}

#[test]
fn a_delivered_message_is_a_complete_scorecard() {
    let server = TestServer::start(Script::default());
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path(), server.port, "", &Env::new());
    let store = Store::open(&dir.path().join("s.db")).unwrap();
    assert_eq!(
        deliver::enqueue(&store, &c, &both(&c, "2026-W47"), now(), false).unwrap(),
        2
    );
    let report = deliver::send_pending(&store, &c, now(), false).unwrap();
    assert_eq!((report.sent, report.pending, report.failed), (2, 0, 0));
    assert_eq!(report.connections, 1, "one connection for the run");
    assert_eq!(server.sessions(), 1);

    let received = server.received();
    assert_eq!(received.len(), 2);
    for (r, fate) in received.iter().zip(&report.fates) {
        let message_id = assert_complete(r);
        assert_eq!(message_id, fate.message_id);
        assert_eq!(r.from, "scorecard@example.com");
        assert_eq!(r.to, std::slice::from_ref(&fate.recipient));
        // Exactly the bytes queued in the ledger went over the wire (lettre
        // ends the DATA with CRLF "." CRLF after them, hence one more CRLF).
        let stored = stored_message(&store, &fate.message_id);
        assert!(
            r.data.len() == stored.len() + 2 && r.data.starts_with(&stored),
            "{} vs {} bytes",
            r.data.len(),
            stored.len()
        );
    }
    let mail = mailparse::parse_mail(&received[1].data).unwrap();
    assert_eq!(
        mail.headers.get_first_value("To").as_deref(),
        Some("emea-lead@example.org")
    );
    assert_eq!(
        mail.headers.get_first_value("Subject").as_deref(),
        Some("Weekly CRM scorecard 2026-W47 (region=EMEA)")
    );
    assert_eq!(
        mail.headers.get_first_value("Date").as_deref(),
        Some("Mon, 23 Nov 2026 07:00:00 +0000")
    );
    assert_eq!(report.fates[1].segment, "region=EMEA");
    assert!(report
        .fates
        .iter()
        .all(|f| f.state == "sent" && f.attempts == 1 && f.last_error.is_none()));
}

#[test]
fn a_server_answering_451_twice_then_accepting_gets_one_copy() {
    let server = TestServer::start(Script {
        defer_rcpt: 1,
        defer_data: 1,
        ..Script::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path(), server.port, "", &Env::new());
    let store = Store::open(&dir.path().join("s.db")).unwrap();
    deliver::enqueue(&store, &c, &both(&c, "2026-W47")[..1], now(), false).unwrap();
    let started = Instant::now();
    let report = deliver::send_pending(&store, &c, now(), false).unwrap();
    assert_eq!((report.sent, report.pending, report.failed), (1, 0, 0));
    assert_eq!(
        report.fates[0].attempts, 3,
        "451 at RCPT, 451 at DATA, then accepted"
    );
    assert!(
        started.elapsed().as_millis() >= 30,
        "waited 10 ms then 20 ms between attempts"
    );
    assert_eq!(server.received().len(), 1, "exactly one copy");
    assert_eq!(server.data_commands(), 2);
    assert_complete(&server.received()[0]);
    // Nothing left to send.
    let again = deliver::send_pending(&store, &c, now(), false).unwrap();
    assert!(again.fates.is_empty());
    assert_eq!(server.received().len(), 1);
}

#[test]
fn deferred_past_max_attempts_stays_pending_with_the_reason() {
    let server = TestServer::start(Script {
        defer_data: 10,
        ..Script::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path(), server.port, "", &Env::new());
    let store = Store::open(&dir.path().join("s.db")).unwrap();
    deliver::enqueue(&store, &c, &both(&c, "2026-W47"), now(), false).unwrap();
    let report = deliver::send_pending(&store, &c, now(), false).unwrap();
    assert_eq!((report.sent, report.pending, report.failed), (0, 2, 0));
    // A refusal of one message does not stop the others: each had its 3 tries.
    assert!(
        report.fates.iter().all(|f| f.attempts == 3),
        "{:?}",
        report.fates
    );
    let e = report.fates[0].last_error.as_deref().unwrap();
    assert!(
        e.starts_with(&format!("the server 127.0.0.1:{} deferred the message: 451 4.3.0 Mail server temporarily rejected message", server.port)),
        "{e}"
    );
    assert!(e.ends_with("(a temporary refusal; the message stays pending and is retried by `scorecard send` or the next run)"), "{e}");
    assert!(report.fates[0].next_attempt_at.is_some());
    assert!(server.received().is_empty());
}

#[test]
fn with_the_server_down_messages_wait_and_go_out_once_when_it_is_back() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path(), port, "", &Env::new());
    let store = Store::open(&dir.path().join("s.db")).unwrap();
    deliver::enqueue(&store, &c, &both(&c, "2026-W47"), now(), false).unwrap();

    let report = deliver::send_pending(&store, &c, now(), false).unwrap();
    assert_eq!((report.sent, report.pending, report.failed), (0, 2, 0));
    let expected = format!(
        "cannot connect to 127.0.0.1:{port}: connection refused (the mail server may be down; the message stays pending and is retried by `scorecard send` or the next run)"
    );
    assert_eq!(
        report.fates[0].last_error.as_deref(),
        Some(expected.as_str())
    );
    assert_eq!(report.fates[0].attempts, 3);
    // The second message was not tried against a server known to be down.
    assert_eq!(report.fates[1].attempts, 0);
    assert_eq!(
        report.fates[1].last_error.as_deref(),
        Some(expected.as_str())
    );

    // The next run finds the same messages pending and queues nothing new.
    assert_eq!(
        deliver::enqueue(&store, &c, &both(&c, "2026-W47"), now(), false).unwrap(),
        0
    );

    // The server is back: `scorecard send` delivers each message once.
    let server = TestServer::start_on(port, Script::default());
    let report = deliver::send_pending(&store, &c, now(), false).unwrap();
    assert_eq!((report.sent, report.pending, report.failed), (2, 0, 0));
    assert_eq!(report.fates[0].attempts, 4);
    assert_eq!(server.received().len(), 2);
    for r in server.received() {
        assert_complete(&r);
    }
    // A second send, and a re-run, send nothing.
    let again = deliver::send_pending(&store, &c, now(), false).unwrap();
    assert_eq!((again.sent, again.pending, again.fates.len()), (0, 0, 0));
    assert_eq!(
        deliver::enqueue(&store, &c, &both(&c, "2026-W47"), now(), false).unwrap(),
        0
    );
    assert_eq!(server.received().len(), 2);
    assert_eq!(server.sessions(), 1);
}

#[test]
fn a_rejected_recipient_is_marked_failed_with_the_reason() {
    let server = TestServer::start(Script {
        reject: vec!["leadership@example.com".into()],
        ..Script::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path(), server.port, "", &Env::new());
    let store = Store::open(&dir.path().join("s.db")).unwrap();
    deliver::enqueue(&store, &c, &both(&c, "2026-W47"), now(), false).unwrap();
    let report = deliver::send_pending(&store, &c, now(), false).unwrap();
    assert_eq!((report.sent, report.pending, report.failed), (1, 0, 1));
    let failed = &report.fates[0];
    assert_eq!(failed.state, "failed");
    assert_eq!(failed.attempts, 1, "a permanent refusal is not retried");
    assert_eq!(
        failed.last_error.as_deref(),
        Some("the server rejected recipient leadership@example.com: 550 5.1.1 <leadership@example.com>: Recipient address rejected: User unknown")
    );
    // The other recipient got theirs, on the same connection.
    assert_eq!(report.fates[1].state, "sent");
    assert_eq!(server.received().len(), 1);
    assert_eq!(server.sessions(), 1);

    // A plain `send` leaves the failed one alone; `send --retry` tries again.
    let again = deliver::send_pending(&store, &c, now(), false).unwrap();
    assert_eq!((again.fates.len(), again.failed_earlier), (0, 1));
    let retry = deliver::send_pending(&store, &c, now(), true).unwrap();
    assert_eq!((retry.sent, retry.failed), (0, 1));
    assert_eq!(retry.fates[0].attempts, 2);
    assert_eq!(server.received().len(), 1);
}

#[test]
fn check_says_hello_and_sends_nothing() {
    let server = TestServer::start(Script::default());
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path(), server.port, "", &Env::new());
    let said = deliver::check(&c).unwrap();
    assert_eq!(
        said,
        format!(
            "smtp 127.0.0.1:{}: connected, server said hello (nothing sent)",
            server.port
        )
    );
    assert_eq!(server.sessions(), 1);
    assert_eq!(server.rcpt_commands(), 0);
    assert!(server.received().is_empty());

    let port = free_port();
    let err = deliver::check(&config(dir.path(), port, "", &Env::new())).unwrap_err();
    assert_eq!(scorecard::exit_code(&err), 1);
    assert!(
        format!("{err:#}").starts_with(&format!(
            "cannot connect to 127.0.0.1:{port}: connection refused"
        )),
        "{err:#}"
    );
}

#[test]
fn tls_mismatches_read_as_sentences_and_stop_the_run() {
    let server = TestServer::start(Script::default());
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.db")).unwrap();

    // Implicit TLS against a plain server: the handshake fails at once.
    let c = config_tls(dir.path(), server.port, "tls", "", &Env::new());
    deliver::enqueue(&store, &c, &both(&c, "2026-W47"), now(), false).unwrap();
    let report = deliver::send_pending(&store, &c, now(), false).unwrap();
    assert_eq!((report.sent, report.pending, report.failed), (0, 2, 0));
    let e = report.fates[0].last_error.clone().unwrap();
    assert!(
        e.starts_with(&format!(
            "TLS handshake failed with 127.0.0.1:{}:",
            server.port
        )),
        "{e}"
    );
    assert!(
        e.contains("\"tls\" is implicit TLS, usually on port 465"),
        "{e}"
    );
    assert_eq!(
        report.fates[0].attempts, 1,
        "not retried: it would fail the same way"
    );
    assert_eq!(report.fates[1].attempts, 0);

    // STARTTLS required, and the server does not offer it.
    let c = config_tls(dir.path(), server.port, "starttls", "", &Env::new());
    let err = deliver::check(&c).unwrap_err();
    assert_eq!(scorecard::exit_code(&err), 2);
    assert!(
        format!("{err:#}").starts_with(&format!(
            "127.0.0.1:{} does not offer STARTTLS",
            server.port
        )),
        "{err:#}"
    );
    assert!(server.received().is_empty());
}

#[test]
fn a_refused_login_names_the_variable_and_never_the_password() {
    let server = AuthServer::start();
    let dir = tempfile::tempdir().unwrap();
    // The password comes from a variable that is set for every test process
    // (no set_var in a threaded test binary).
    let var = "CARGO_MANIFEST_DIR";
    let password = std::env::var(var).unwrap();
    let mut env = Env::new();
    env.insert(var.into(), password.clone());
    let c = config(
        dir.path(),
        server.port,
        &format!("username = \"scorecard\"\npassword_env = \"{var}\""),
        &env,
    );
    let store = Store::open(&dir.path().join("s.db")).unwrap();
    deliver::enqueue(&store, &c, &both(&c, "2026-W47"), now(), false).unwrap();
    let report = deliver::send_pending(&store, &c, now(), false).unwrap();
    assert_eq!((report.sent, report.pending, report.failed), (0, 2, 0));
    let e = report.fates[0].last_error.clone().unwrap();
    assert_eq!(
        e,
        format!(
            "authentication failed at 127.0.0.1:{}: 535 5.7.8 Authentication credentials invalid (check the username and the password in ${var})",
            server.port
        )
    );
    assert_eq!(
        server.auth_lines().len(),
        1,
        "one login attempt: a refused login is not retried"
    );
    // The client did send the password from the variable (AUTH PLAIN)…
    let sent = server.auth_lines()[0].clone();
    assert!(sent.starts_with("AUTH PLAIN "), "{sent}");
    let decoded = base64_decode(sent.trim_start_matches("AUTH PLAIN "));
    assert_eq!(decoded, format!("\0scorecard\0{password}").into_bytes());
    // …and it appears nowhere: not in the errors, not in the ledger.
    for f in &report.fates {
        assert!(!format!("{f:?}").contains(&password));
    }
    let ledger: String = store
        .sends()
        .all()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{}{}{}",
                f.last_error.as_deref().unwrap_or(""),
                f.message_id,
                f.recipient
            )
        })
        .collect::<Vec<_>>()
        .join("|");
    assert!(!ledger.contains(&password));
    let err = deliver::check(&c).unwrap_err();
    assert_eq!(scorecard::exit_code(&err), 2);
    assert!(!format!("{err:#} {err:?}").contains(&password));
}

#[test]
fn the_password_is_the_one_read_when_the_config_was_checked() {
    let server = AuthServer::start();
    let dir = tempfile::tempdir().unwrap();
    // The variable exists only in the environment the config was checked
    // against, not in this process: sending must not read it again.
    let var = "SCORECARD_TEST_UNSET_PASSWORD_7f3a";
    assert!(std::env::var_os(var).is_none());
    let env = Env::from([(var.to_string(), "at-validation-time".to_string())]);
    let c = config(
        dir.path(),
        server.port,
        &format!("username = \"u\"\npassword_env = \"{var}\""),
        &env,
    );
    let store = Store::open(&dir.path().join("s.db")).unwrap();
    deliver::enqueue(&store, &c, &both(&c, "2026-W47")[..1], now(), false).unwrap();
    deliver::send_pending(&store, &c, now(), false).unwrap();
    let sent = server.auth_lines();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let decoded = base64_decode(sent[0].trim_start_matches("AUTH PLAIN "));
    assert_eq!(decoded, b"\0u\0at-validation-time".to_vec());
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .unwrap()
}

/// Time to deliver 100 recipients' scorecards (6 PNG charts of ~20 KB, the
/// HTML and the CSV each) to a local SMTP server over one connection:
/// `cargo test --release --test deliver -- --ignored --nocapture bench`
#[test]
#[ignore]
fn bench_deliver_100_recipients() {
    let server = TestServer::start(Script::default());
    let dir = tempfile::tempdir().unwrap();
    let mut toml_recipients = String::new();
    for i in 0..100 {
        toml_recipients.push_str(&format!(
            "[[email.recipients]]\nto = [\"reader{i}@example.com\"]\n"
        ));
    }
    let text = format!(
        "[email]\ntransport = \"smtp\"\nfrom = \"scorecard@example.com\"\n[email.smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n{toml_recipients}",
        server.port
    );
    let c = Config::from_toml(&text, dir.path(), None, &Env::new()).unwrap();
    let csv: String = (0..40)
        .map(|k| {
            format!("2026-W47,,kpi{k},Some KPI {k},count,{k}.5,100,,,{k},0.5,false,,,,,on_track,\n")
        })
        .collect();
    let outgoing: Vec<Outgoing> = (0..100)
        .map(|i| outgoing(&c, i, "2026-W47", &csv, 6, (100, 66)))
        .collect();
    let image_bytes: usize = outgoing[0].parts.images.iter().map(|i| i.1.len()).sum();
    let store = Store::open(&dir.path().join("s.db")).unwrap();

    let t = Instant::now();
    assert_eq!(
        deliver::enqueue(&store, &c, &outgoing, now(), false).unwrap(),
        100
    );
    let queued = t.elapsed();
    let t = Instant::now();
    let report = deliver::send_pending(&store, &c, now(), false).unwrap();
    let sent = t.elapsed();
    assert_eq!(report.sent, 100);
    assert_eq!(server.received().len(), 100);
    let message_bytes = server.received()[0].data.len();
    println!(
        "bench_deliver_100_recipients: 100 messages of {:.0} KB (6 PNGs, {:.0} KB of images) — build and queue {:.0} ms, deliver {:.0} ms over {} SMTP connection(s); {:.1} ms per message",
        message_bytes as f64 / 1024.0,
        image_bytes as f64 / 1024.0,
        queued.as_secs_f64() * 1000.0,
        sent.as_secs_f64() * 1000.0,
        report.connections,
        sent.as_secs_f64() * 1000.0 / 100.0
    );
    assert_eq!(report.connections, 1);
}

/// The whole job through the binary: with the mail server down `run`
/// archives the reports and exits 4; `scorecard send` delivers each message
/// once when the server is back; a second run sends nothing; the segment
/// recipient gets only their segment.
#[test]
fn the_binary_archives_first_and_delivers_once_after_an_outage() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let config = format!(
        "{}\n[email]\ntransport = \"smtp\"\nfrom = \"Scorecard <scorecard@example.com>\"\nretry_delay_ms = 10\nmax_attempts = 2\n[email.smtp]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\ntimeout_secs = 5\n[[email.recipients]]\nto = [\"lead@example.com\"]\n[[email.recipients]]\nto = [\"emea@example.com\"]\nsegment = \"region=EMEA\"\n",
        std::fs::read_to_string(fixture.join("tiny.toml")).unwrap()
    );
    std::fs::write(dir.path().join("config.toml"), config).unwrap();
    let bin = |args: &[&str]| {
        assert_cmd::Command::cargo_bin("scorecard")
            .unwrap()
            .env_clear()
            .env("SCORECARD_TODAY", "2026-11-23")
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap()
    };
    assert!(bin(&["import", fixture.join("tiny").to_str().unwrap()])
        .status
        .success());

    let out = bin(&["run", "--period", "2026-W47"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("2 emails are still pending"), "{stderr}");
    let week = dir.path().join("reports/weekly/2026-W47");
    assert!(
        week.join("scorecard.html").exists(),
        "archived despite the outage"
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(week.join("manifest.json")).unwrap())
            .unwrap();
    assert!(
        manifest["emails"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["state"] == "pending"),
        "{manifest}"
    );

    let server = TestServer::start_on(port, Script::default());
    let out = bin(&["send"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("send: 2 sent, 0 pending, 0 failed"));
    let received = server.received();
    assert_eq!(received.len(), 2);
    let text_of = |r: &Received| {
        let mail = mailparse::parse_mail(&r.data).unwrap();
        let mut parts = Vec::new();
        all_parts(&mail, &mut parts);
        let text = parts
            .iter()
            .find(|p| p.ctype.mimetype == "text/plain")
            .unwrap()
            .get_body()
            .unwrap();
        let images = parts
            .iter()
            .filter(|p| p.ctype.mimetype == "image/png")
            .count();
        let csv = parts
            .iter()
            .find(|p| p.ctype.mimetype == "text/csv")
            .unwrap()
            .get_body()
            .unwrap();
        (text, images, csv)
    };
    let emea = received
        .iter()
        .find(|r| r.to == ["emea@example.com"])
        .expect("the segment recipient's copy");
    let (text, images, csv) = text_of(emea);
    assert!(
        text.starts_with("# Weekly CRM scorecard: EMEA (region)"),
        "{text}"
    );
    assert!(images >= 4, "trend charts as inline PNGs");
    assert!(
        csv.lines().skip(1).all(|l| l.contains(",region=EMEA,")),
        "only the segment's figures are attached"
    );
    let lead = received
        .iter()
        .find(|r| r.to == ["lead@example.com"])
        .unwrap();
    let (text, _, csv) = text_of(lead);
    assert_eq!(text.lines().next(), Some("# Weekly CRM scorecard"));
    assert!(
        csv.contains("2026-W47,,revenue,"),
        "the whole business's figures"
    );

    // A second run of the same period sends nothing, and says so.
    let out = bin(&["run", "--period", "2026-W47"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("emails 0 sent / 0 pending / 0 failed"));
    assert_eq!(server.received().len(), 2);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(week.join("manifest.json")).unwrap())
            .unwrap();
    assert!(
        manifest["emails"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["state"] == "sent"),
        "{manifest}"
    );
}
