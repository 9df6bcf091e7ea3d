//! Slack and Microsoft Teams posts (`[[notify]]`) against a real HTTP
//! server on 127.0.0.1 that records what it receives (tests/support/http.rs),
//! through the binary with the environment cleared: the payloads' content,
//! exactly once across runs, 429 and 5xx retried, 4xx failed with the reason,
//! an unreachable webhook left pending until `scorecard send`, segment
//! entries with their segment's figures, and the URL never printed.
#[path = "support/http.rs"]
mod http;
#[path = "support/ports.rs"]
mod ports;
#[path = "support/project.rs"]
mod project;

use http::{Reply, Webhook};
use project::{fixture, Project};
use serde_json::Value;

const SECRET_PATH: &str = "/services/T000/B000/s3cr3t-t0ken";

/// The tiny fixture's `[report]` table gets base_url appended (TOML allows
/// no second `[report]`), so the entries are given after it.
fn tiny(entries: &str) -> Project {
    let config = std::fs::read_to_string(fixture("tiny.toml"))
        .unwrap()
        .replace(
            "[report]\n",
            "[report]\nbase_url = \"https://reports.example.com/scorecard/\"\n",
        );
    let p = Project::new(&format!("{config}\n{entries}"));
    p.ok(&["import", fixture("tiny").to_str().unwrap()]);
    p
}

fn slack_entry(extra: &str) -> String {
    format!("[[notify]]\nkind = \"slack\"\nurl_env = \"SLACK_URL\"\nretry_delay_ms = 10\n{extra}\n")
}

/// Runs the binary with `env` set; returns (exit code, stdout, stderr).
fn with_env(p: &Project, env: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
    let out = p
        .cmd()
        .envs(env.iter().copied())
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn manifest(p: &Project) -> Value {
    serde_json::from_str(&p.read("reports/weekly/2026-W47/manifest.json")).unwrap()
}

fn posts(p: &Project) -> Vec<Value> {
    manifest(p)["posts"].as_array().cloned().unwrap_or_default()
}

#[test]
fn slack_gets_the_headline_the_insights_and_the_link_exactly_once() {
    let hook = Webhook::start(vec![]);
    let url = hook.url(SECRET_PATH);
    let p = tiny(&slack_entry(""));
    let env = [("SLACK_URL", url.as_str())];
    let (code, out, err) = with_env(&p, &env, &["run", "--period", "2026-W47"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("posts 1 sent / 0 pending / 0 failed"), "{out}");

    let got = hook.received();
    assert_eq!(got.len(), 1);
    let req = &got[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, SECRET_PATH);
    assert!(req
        .header("content-type")
        .is_some_and(|v| v.starts_with("application/json")));
    let v = req.json();
    let text = v["text"].as_str().unwrap();
    assert!(
        text.starts_with("Weekly CRM scorecard · 2026-W47: "),
        "{text}"
    );
    let blocks = v["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(blocks[0]["text"]["text"], "Weekly CRM scorecard · 2026-W47");
    // The headline figures, each with its value as the scorecard shows it.
    let fields: Vec<&str> = blocks
        .iter()
        .filter_map(|b| b["fields"].as_array())
        .flatten()
        .map(|f| f["text"].as_str().unwrap())
        .collect();
    assert_eq!(fields.len(), 8, "{fields:?}");
    let md = p.read("reports/weekly/2026-W47/scorecard.md");
    let revenue = fields
        .iter()
        .find(|f| f.starts_with("*Revenue*\n"))
        .unwrap();
    let value = revenue["*Revenue*\n".len()..].split(' ').next().unwrap();
    assert!(md.contains(value), "{value} not in the scorecard");
    // The top insights, as the report words them.
    let insights = blocks
        .iter()
        .find(|b| {
            b["text"]["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("*What the figures say*"))
        })
        .expect("an insights section");
    let first = insights["text"]["text"]
        .as_str()
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .trim_start_matches("• ")
        .to_string();
    assert!(!first.is_empty());
    // The archived page.
    let button = blocks.iter().find(|b| b["type"] == "actions").unwrap();
    assert_eq!(
        button["elements"][0]["url"],
        "https://reports.example.com/scorecard/weekly/2026-W47/scorecard.html"
    );
    // The manifest says what became of it, naming the variable, not the URL.
    let fates = posts(&p);
    assert_eq!(fates.len(), 1);
    assert_eq!(fates[0]["state"], "sent");
    assert_eq!(fates[0]["target"], "slack:SLACK_URL");
    assert_eq!(fates[0]["http_status"], 200);
    assert_eq!(fates[0]["attempts"], 1);
    let manifest_text = p.read("reports/weekly/2026-W47/manifest.json");
    assert!(!manifest_text.contains("s3cr3t"));
    assert!(!out.contains("s3cr3t") && !err.contains("s3cr3t"));

    // A second run of the same period posts nothing more.
    let (code, out, err) = with_env(&p, &env, &["run", "--period", "2026-W47"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(hook.received().len(), 1);
    assert_eq!(posts(&p).len(), 1);
    // `--force` posts it again.
    let (code, _, _) = with_env(&p, &env, &["run", "--period", "2026-W47", "--force"]);
    assert_eq!(code, 0);
    assert_eq!(hook.received().len(), 2);
    assert_eq!(hook.received()[1].body, got[0].body);
}

#[test]
fn teams_gets_an_adaptive_card_and_a_segment_entry_its_segment_figures() {
    let hook = Webhook::start(vec![Reply::new(202, ""), Reply::new(202, "")]);
    let whole = hook.url("/workflows/whole");
    let emea = hook.url("/workflows/emea");
    let p = tiny(
        "[[notify]]\nkind = \"teams\"\nurl_env = \"TEAMS_URL\"\n\n[[notify]]\nkind = \"teams\"\nurl_env = \"TEAMS_EMEA_URL\"\nsegment = \"region=EMEA\"\n",
    );
    let env = [
        ("TEAMS_URL", whole.as_str()),
        ("TEAMS_EMEA_URL", emea.as_str()),
    ];
    let (code, out, err) = with_env(&p, &env, &["run", "--period", "2026-W47"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let got = hook.received();
    assert_eq!(got.len(), 2);
    let by_path = |path: &str| got.iter().find(|r| r.path == path).unwrap().json();
    let (w, e) = (by_path("/workflows/whole"), by_path("/workflows/emea"));
    for v in [&w, &e] {
        assert_eq!(v["type"], "message");
        let a = &v["attachments"][0];
        assert_eq!(a["contentType"], "application/vnd.microsoft.card.adaptive");
        assert_eq!(a["content"]["type"], "AdaptiveCard");
        assert_eq!(a["content"]["actions"][0]["type"], "Action.OpenUrl");
    }
    let body = |v: &Value| v["attachments"][0]["content"]["body"].clone();
    assert_eq!(
        body(&e)[0]["text"],
        "Weekly CRM scorecard · 2026-W47 · EMEA (region)"
    );
    assert_eq!(
        e["attachments"][0]["content"]["actions"][0]["url"],
        "https://reports.example.com/scorecard/weekly/2026-W47/segments/region-emea/scorecard.html"
    );
    let fact = |v: &Value, title: &str| -> String {
        body(v)
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["type"] == "FactSet")
            .unwrap()["facts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["title"] == title)
            .unwrap()["value"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // EMEA's own figures: its segment page shows them, and they are not the
    // whole business's.
    let emea_customers = fact(&e, "New customers");
    let whole_customers = fact(&w, "New customers");
    assert_ne!(emea_customers, whole_customers);
    let first = |s: &str| s.split(' ').next().unwrap().to_string();
    let emea_md = p.read("reports/weekly/2026-W47/segments/region-emea/scorecard.md");
    assert!(
        emea_md.contains(&format!("| {} |", first(&emea_customers)))
            || emea_md.contains(&first(&emea_customers)),
        "{emea_customers}"
    );
    let fates = posts(&p);
    assert_eq!(fates.len(), 2);
    assert!(fates
        .iter()
        .all(|f| f["state"] == "sent" && f["http_status"] == 202));
    assert_eq!(fates[1]["segment"], "region=EMEA");
}

#[test]
fn a_429_is_honoured_and_gives_one_post() {
    let hook = Webhook::start(vec![
        Reply::new(429, "rate_limited").with_header("Retry-After", "1"),
        Reply::new(200, "ok"),
    ]);
    let url = hook.url(SECRET_PATH);
    let p = tiny(&slack_entry(""));
    let env = [("SLACK_URL", url.as_str())];
    let (code, out, err) = with_env(&p, &env, &["run", "--period", "2026-W47"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let got = hook.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].body, got[1].body);
    let f = &posts(&p)[0];
    assert_eq!(
        (f["state"].as_str(), f["attempts"].as_u64()),
        (Some("sent"), Some(2))
    );
    // Nothing more on the next run.
    with_env(&p, &env, &["run", "--period", "2026-W47"]);
    assert_eq!(hook.received().len(), 2);
}

#[test]
fn server_errors_are_retried_with_backoff() {
    let hook = Webhook::start(vec![Reply::new(500, "oops"), Reply::new(503, "busy")]);
    let url = hook.url("/hook");
    let p = tiny(&slack_entry("max_attempts = 4"));
    let env = [("SLACK_URL", url.as_str())];
    let (code, out, err) = with_env(&p, &env, &["run", "--period", "2026-W47"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(hook.received().len(), 3);
    let f = &posts(&p)[0];
    assert_eq!(f["state"], "sent");
    assert_eq!(f["attempts"], 3);
}

#[test]
fn server_errors_past_the_attempts_stay_pending_for_send() {
    let hook = Webhook::start(vec![Reply::new(500, "oops"), Reply::new(500, "oops")]);
    let url = hook.url("/hook");
    let p = tiny(&slack_entry("max_attempts = 2"));
    let env = [("SLACK_URL", url.as_str())];
    let (code, _, err) = with_env(&p, &env, &["run", "--period", "2026-W47"]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("posts are still pending"), "{err}");
    let f = &posts(&p)[0];
    assert_eq!(f["state"], "pending");
    assert!(
        f["last_error"].as_str().unwrap().contains("answered 500"),
        "{f}"
    );
    let (code, out, err) = with_env(&p, &env, &["send"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(hook.received().len(), 3);
    assert_eq!(posts(&p)[0]["state"], "sent");
}

#[test]
fn a_400_is_failed_with_the_webhooks_reason_and_not_retried() {
    let hook = Webhook::start(vec![Reply::new(400, "invalid_payload")]);
    let url = hook.url(SECRET_PATH);
    let p = tiny(&slack_entry(""));
    let env = [("SLACK_URL", url.as_str())];
    let (code, out, err) = with_env(&p, &env, &["run", "--period", "2026-W47"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("posts 0 sent / 0 pending / 1 failed"), "{out}");
    assert_eq!(hook.received().len(), 1);
    let f = &posts(&p)[0];
    assert_eq!(f["state"], "failed");
    assert_eq!(f["http_status"], 400);
    let reason = f["last_error"].as_str().unwrap();
    assert!(
        reason.contains("Slack webhook ($SLACK_URL) answered 400")
            && reason.contains("invalid_payload"),
        "{reason}"
    );
    assert!(!reason.contains("s3cr3t"));
    // `send` leaves it alone; `send --retry` posts it again.
    let (code, _, _) = with_env(&p, &env, &["send"]);
    assert_eq!(code, 0);
    assert_eq!(hook.received().len(), 1);
    let (code, out, err) = with_env(&p, &env, &["send", "--retry"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(hook.received().len(), 2);
    assert_eq!(posts(&p)[0]["state"], "sent");
}

#[test]
fn an_unreachable_webhook_leaves_the_post_pending_until_send() {
    let port = ports::free_port();
    let url = format!("http://127.0.0.1:{port}{SECRET_PATH}");
    let p = tiny(&slack_entry("max_attempts = 2"));
    let env = [("SLACK_URL", url.as_str())];
    let (code, out, err) = with_env(&p, &env, &["run", "--period", "2026-W47"]);
    assert_eq!(code, 4, "{out}\n{err}");
    assert!(out.contains("posts 0 sent / 1 pending / 0 failed"), "{out}");
    let f = &posts(&p)[0];
    assert_eq!(f["state"], "pending");
    assert!(
        f["last_error"]
            .as_str()
            .unwrap()
            .contains("cannot be reached"),
        "{f}"
    );
    assert!(!err.contains("s3cr3t") && !out.contains("s3cr3t"));

    let hook = Webhook::start_on(port, vec![]);
    let (code, out, err) = with_env(&p, &env, &["send"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("send: posts 1 sent, 0 pending, 0 failed"),
        "{out}"
    );
    assert_eq!(hook.received().len(), 1);
    // The manifest follows the ledger.
    assert_eq!(posts(&p)[0]["state"], "sent");
    // Once only.
    with_env(&p, &env, &["send"]);
    with_env(&p, &env, &["run", "--period", "2026-W47"]);
    assert_eq!(hook.received().len(), 1);
}

#[test]
fn a_missing_url_variable_waits_pending_and_says_which() {
    let hook = Webhook::start(vec![]);
    let url = hook.url("/hook");
    let p = tiny(&slack_entry(""));
    // Nothing to send: no variable needed.
    let (code, _, err) = with_env(&p, &[], &["run", "--period", "2026-W47", "--no-send"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = with_env(&p, &[], &["run", "--period", "2026-W47"]);
    assert_eq!(code, 4, "{err}");
    let f = &posts(&p)[0];
    assert_eq!(f["state"], "pending");
    assert!(
        f["last_error"]
            .as_str()
            .unwrap()
            .contains("the environment variable SLACK_URL is not set"),
        "{f}"
    );
    let (code, _, err) = with_env(&p, &[], &["check"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("SLACK_URL is not set"), "{err}");
    // Set, `send` posts it.
    let (code, _, err) = with_env(&p, &[("SLACK_URL", url.as_str())], &["send"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(hook.received().len(), 1);
}

#[test]
fn a_webhook_url_must_be_https_unless_loopback_and_is_never_printed() {
    let p = tiny(&slack_entry(""));
    let (code, out, err) = with_env(
        &p,
        &[("SLACK_URL", "http://hooks.example.com/services/s3cr3t")],
        &["run", "--period", "2026-W47"],
    );
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(err.contains("[notify] url_env"), "{err}");
    assert!(err.contains("must be https"), "{err}");
    assert!(!err.contains("s3cr3t") && !out.contains("s3cr3t"), "{err}");
    let (code, _, err) = with_env(
        &p,
        &[("SLACK_URL", "https://hooks.example.com/services/s3cr3t")],
        &["check"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("s3cr3t"));
}

#[test]
fn dry_run_previews_the_payloads_and_posts_nothing() {
    let hook = Webhook::start(vec![]);
    let url = hook.url("/hook");
    let p = tiny(&slack_entry(""));
    let env = [("SLACK_URL", url.as_str())];
    let (code, out, err) = with_env(&p, &env, &["run", "--period", "2026-W47", "--dry-run"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("1 previewed in the outbox"), "{out}");
    let preview: Value =
        serde_json::from_str(&p.read("outbox/post-2026-W47-slack-slack_url.json")).unwrap();
    assert!(preview["blocks"].is_array());
    assert!(hook.received().is_empty());
    // Nothing was queued: a later `send` posts nothing.
    let (code, _, _) = with_env(&p, &env, &["send"]);
    assert_eq!(code, 0);
    assert!(hook.received().is_empty());
}

#[test]
fn notify_entries_are_checked_with_their_line() {
    let p = Project::tiny_with("[[notify]]\nkind = \"discord\"\nurl_env = \"X\"\n");
    let (code, _, err) = with_env(&p, &[], &["check"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("[notify] kind: 'discord' (expected slack or teams)"),
        "{err}"
    );
    let p = Project::tiny_with(
        "[[notify]]\nkind = \"slack\"\nurl_env = \"X\"\nsegment = \"country=FR\"\n",
    );
    let (code, _, err) = with_env(&p, &[], &["check"]);
    assert_eq!(code, 2);
    assert!(err.contains("is not one of [report] segments"), "{err}");
}

#[test]
fn a_run_killed_mid_post_leaves_it_uncertain_and_never_posts_it_twice() {
    // The webhook takes the post and never answers; the run is killed then.
    let hook = Webhook::start(vec![Reply::hang()]);
    let url = hook.url("/hook");
    let p = tiny(&slack_entry("timeout_secs = 300"));
    let mut child = p
        .process()
        .env("SLACK_URL", &url)
        .args(["run", "--period", "2026-W47"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while hook.received().is_empty() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(120),
            "the run never posted"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    // The next `send` does not post it again: it says it is uncertain.
    let env = [("SLACK_URL", url.as_str())];
    let (code, out, err) = with_env(&p, &env, &["send"]);
    assert_eq!(code, 4, "{out}\n{err}");
    assert!(err.contains("--resend-uncertain"), "{err}");
    assert_eq!(hook.received().len(), 1);
    let f = &posts(&p)[0];
    assert_eq!(f["state"], "uncertain", "{f}");
    // Nor does a run, nor `send --retry`.
    with_env(&p, &env, &["run", "--period", "2026-W47"]);
    with_env(&p, &env, &["send", "--retry"]);
    assert_eq!(hook.received().len(), 1);
    // `--resend-uncertain` posts it again, once.
    let (code, out, err) = with_env(&p, &env, &["send", "--resend-uncertain"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(hook.received().len(), 2);
    assert_eq!(hook.received()[1].body, hook.received()[0].body);
    assert_eq!(posts(&p)[0]["state"], "sent");
}
