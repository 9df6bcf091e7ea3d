//! The ledger's behaviour on an in-memory store, delivering through the file
//! outbox (the SMTP conversation is tested against a real server in
//! tests/deliver.rs).
use std::path::Path;

use super::message::tests::{assert_scorecard_mail, outgoing};
use super::*;
use crate::config::{Env, TransportKind};

fn config(dir: &Path, extra: &str) -> Config {
    let text = format!(
        "[email]\ntransport = \"file\"\nfrom = \"Scorecard <scorecard@example.com>\"\noutbox_dir = \"outbox\"\nretry_delay_ms = 1\n{extra}\n[[email.recipients]]\nto = [\"lead@example.com\"]\n"
    );
    Config::from_toml(&text, dir, None, &Env::new()).unwrap()
}

fn now() -> DateTime<Utc> {
    "2026-11-23T07:00:00Z".parse().unwrap()
}

fn rows(store: &Store) -> Vec<(String, String, u32, String)> {
    store
        .sends()
        .all()
        .unwrap()
        .into_iter()
        .map(|f| (f.period, f.state, f.attempts, f.message_id))
        .collect()
}

/// The stored bytes of the ledger's only message.
fn only_message(store: &Store) -> rusqlite::Result<Vec<u8>> {
    let all = store.sends().all().unwrap();
    assert_eq!(all.len(), 1);
    Ok(store
        .sends()
        .message_by_id(&all[0].message_id)
        .unwrap()
        .unwrap())
}

fn outbox_files(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("outbox"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn enqueueing_twice_keeps_one_row() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::in_memory().unwrap();
    let c = config(dir.path(), "");
    let o = [outgoing("2026-W47", &["lead@example.com"], "nps,41.2\n")];
    assert_eq!(enqueue(&store, &c, &o, now(), false).unwrap(), 1);
    assert_eq!(enqueue(&store, &c, &o, now(), false).unwrap(), 0);
    // A later run renders the same figures again (new "generated at" line):
    // still the same report.
    let mut again = o.clone();
    again[0].parts.html.push_str("<p>Generated later</p>");
    assert_eq!(
        enqueue(&store, &c, &again, now() + chrono::Duration::days(1), false).unwrap(),
        0
    );
    let r = rows(&store);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].1, "pending");
    // The stored bytes are the complete message.
    let bytes: Vec<u8> = only_message(&store).unwrap();
    assert_scorecard_mail(&bytes);
}

#[test]
fn sent_is_not_sent_again_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::in_memory().unwrap();
    let c = config(dir.path(), "");
    let o = [outgoing("2026-W47", &["lead@example.com"], "nps,41.2\n")];
    enqueue(&store, &c, &o, now(), false).unwrap();
    let report = send_pending(&store, &c, now(), false).unwrap();
    assert_eq!((report.sent, report.pending, report.failed), (1, 0, 0));
    let fate = &report.fates[0];
    assert_eq!(fate.state, "sent");
    assert_eq!(fate.attempts, 1);
    assert_eq!(fate.sent_at.as_deref(), Some("2026-11-23T07:00:00Z"));
    let path = fate.path.clone().unwrap();
    assert!(path.ends_with(&eml_name(&fate.message_id)), "{path}");
    // The outbox holds exactly the stored bytes.
    let stored: Vec<u8> = only_message(&store).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), stored);

    // A re-run queues and sends nothing.
    assert_eq!(enqueue(&store, &c, &o, now(), false).unwrap(), 0);
    let report = send_pending(&store, &c, now(), false).unwrap();
    assert_eq!((report.sent, report.pending, report.fates.len()), (0, 0, 0));
    assert_eq!(outbox_files(dir.path()), 1);

    // --force sends it again, with its own Message-ID.
    assert_eq!(enqueue(&store, &c, &o, now(), true).unwrap(), 1);
    let report = send_pending(&store, &c, now(), false).unwrap();
    assert_eq!(report.sent, 1);
    assert_ne!(report.fates[0].message_id, fate.message_id);
    assert_eq!(outbox_files(dir.path()), 2);
    assert_eq!(rows(&store).len(), 1, "still one ledger row");
}

#[test]
fn newer_figures_replace_an_unsent_message_and_follow_a_sent_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::in_memory().unwrap();
    let c = config(dir.path(), "");
    enqueue(
        &store,
        &c,
        &[outgoing("2026-W47", &["lead@example.com"], "nps,41.2\n")],
        now(),
        false,
    )
    .unwrap();
    // Corrected before it went out: only the new one stays.
    enqueue(
        &store,
        &c,
        &[outgoing("2026-W47", &["lead@example.com"], "nps,42.0\n")],
        now(),
        false,
    )
    .unwrap();
    assert_eq!(rows(&store).len(), 1);
    send_pending(&store, &c, now(), false).unwrap();
    // Corrected after: the correction is a new message.
    enqueue(
        &store,
        &c,
        &[outgoing("2026-W47", &["lead@example.com"], "nps,43.0\n")],
        now(),
        false,
    )
    .unwrap();
    let r = rows(&store);
    assert_eq!(
        r.iter().map(|r| r.1.as_str()).collect::<Vec<_>>(),
        ["sent", "pending"]
    );
    assert_ne!(r[0].3, r[1].3);
}

#[test]
fn one_message_per_recipient_entry_and_period() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::in_memory().unwrap();
    let c = config(dir.path(), "");
    let o = [
        outgoing("2026-W46", &["lead@example.com"], "a\n"),
        outgoing("2026-W47", &["lead@example.com"], "b\n"),
        outgoing("2026-W47", &["emea@example.org", "apac@example.net"], "b\n"),
    ];
    assert_eq!(enqueue(&store, &c, &o, now(), false).unwrap(), 3);
    let report = send_pending(&store, &c, now(), false).unwrap();
    assert_eq!(report.sent, 3);
    assert_eq!(
        report.fates[2].recipient,
        "emea@example.org,apac@example.net"
    );
    let w47 = fates(&store, Cadence::Weekly, "2026-W47").unwrap();
    assert_eq!(w47.len(), 2);
    assert!(w47.iter().all(|f| f.state == "sent"));
}

#[test]
fn a_preview_writes_the_messages_and_queues_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::in_memory().unwrap();
    let c = config(dir.path(), "");
    let o = [outgoing("2026-W47", &["lead@example.com"], "x\n")];
    let files = preview(&c, &o, now()).unwrap();
    assert_eq!(files.len(), 1);
    assert_scorecard_mail(&std::fs::read(&files[0]).unwrap());
    assert!(rows(&store).is_empty());
    // The preview is the message a real run would queue, byte for byte.
    enqueue(&store, &c, &o, now(), false).unwrap();
    let stored: Vec<u8> = only_message(&store).unwrap();
    assert_eq!(std::fs::read(&files[0]).unwrap(), stored);
}

#[test]
fn a_missing_sendmail_stops_the_run_and_keeps_everything_pending() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::in_memory().unwrap();
    let mut c = config(
        dir.path(),
        "[email.sendmail]\ncommand = \"/no/such/sendmail\"\n",
    );
    c.email.transport = TransportKind::Sendmail;
    let o = [
        outgoing("2026-W47", &["a@example.com"], "x\n"),
        outgoing("2026-W47", &["b@example.com"], "x\n"),
    ];
    enqueue(&store, &c, &o, now(), false).unwrap();
    let report = send_pending(&store, &c, now(), false).unwrap();
    assert_eq!((report.sent, report.pending, report.failed), (0, 2, 0));
    let e = report.fates[0].last_error.clone().unwrap();
    assert!(
        e.starts_with("cannot run the sendmail command /no/such/sendmail:"),
        "{e}"
    );
    // The second was not tried, but says why it waits.
    assert_eq!(report.fates[1].attempts, 0);
    assert_eq!(report.fates[1].last_error.as_deref(), Some(e.as_str()));
    let err = check(&c).unwrap_err();
    let code = err
        .chain()
        .find_map(|e| e.downcast_ref::<crate::error::Failure>());
    assert_eq!(code.map(|f| f.code), Some(crate::error::code::USAGE));
    assert!(format!("{err:#}").contains("/no/such/sendmail"));
}

#[test]
fn backoff_doubles_and_is_capped() {
    let ms = Duration::from_millis;
    assert_eq!(backoff(ms(1000), 1), ms(1000));
    assert_eq!(backoff(ms(1000), 2), ms(2000));
    assert_eq!(backoff(ms(1000), 3), ms(4000));
    assert_eq!(backoff(ms(1000), 6), ms(30_000));
    assert_eq!(backoff(ms(1000), 60), ms(30_000));
    assert_eq!(domains("a@x.com,b@y.org,c@x.com"), "x.com,y.org");
}

#[test]
fn each_recipient_gets_its_scope_and_a_missing_segment_is_said() {
    let dir = tempfile::tempdir().unwrap();
    let text = "[report]\nsegments = [\"region\"]\n[email]\ntransport = \"file\"\n[[email.recipients]]\nto = [\"lead@example.com\"]\n[[email.recipients]]\nto = [\"emea@example.com\"]\nsegment = \"region=EMEA\"\n[[email.recipients]]\nto = [\"apac@example.com\", \"ops@example.com\"]\nsegment = \"region=APAC\"\n";
    let c = Config::from_toml(text, dir.path(), None, &Env::new()).unwrap();
    let parts = outgoing("2026-W47", &["x@example.com"], "").parts;
    let scope = |segment: &str, csv: &str| ScopeEmail {
        segment: segment.into(),
        parts: parts.clone(),
        csv: csv.as_bytes().to_vec(),
    };
    let p = crate::period::Period::parse("2026-W47").unwrap();
    let (out, warnings) = super::outgoing(
        &c,
        p,
        &[
            scope("", "whole"),
            scope("region=EMEA", "emea"),
            scope("region=US", "us"),
        ],
    );
    let got: Vec<(&str, &str, &[u8])> = out
        .iter()
        .map(|o| {
            (
                o.recipient.to[0].email.as_ref(),
                o.segment.as_str(),
                o.attachment_csv.as_slice(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("lead@example.com", "", b"whole".as_slice()),
            ("emea@example.com", "region=EMEA", b"emea".as_slice()),
        ]
    );
    assert_eq!(
        warnings,
        ["2026-W47: no data for segment region=APAC; apac@example.com, ops@example.com gets no email"]
    );
}
