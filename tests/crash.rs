//! Crash tests (issue 12, item 7): the real binary is killed with SIGKILL
//! at random points of an import, of a multi-week backfill `run` and of a
//! `send` to the real SMTP test server (which stalls, drops the connection,
//! answers slowly or 451), then run again; every time the store passes
//! `PRAGMA integrity_check`, a killed import leaves the store byte for byte
//! as it was (or as the complete import leaves it, if the kill came after
//! its commit), the archive holds no half-written or duplicated period
//! folder, and every email is delivered exactly once or reported uncertain.
//!
//! The kill points are drawn from a seeded generator over the time an
//! unkilled command takes, so a failure can be replayed
//! (`SCORECARD_CRASH_SEED`). `cargo test` kills 10 times per phase; the
//! ignored `*_many` tests kill 100 times (`cargo test --test crash -- --ignored`).
#[path = "support/project.rs"]
mod project;
#[path = "support/smtp.rs"]
mod smtp;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use project::Project;
use rand::{Rng, SeedableRng};

const TODAY: &str = "2026-11-23";

/// The demo business: a snapshot big enough that an import and a backfill
/// take a while (generated once per test binary).
struct Demo {
    _dir: tempfile::TempDir,
    snapshot: PathBuf,
    config: String,
}

fn demo() -> &'static Demo {
    static DEMO: OnceLock<Demo> = OnceLock::new();
    DEMO.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("scorecard"))
            .env_clear()
            .env("SCORECARD_TODAY", TODAY)
            .current_dir(dir.path())
            .args(["--quiet", "demo", "--dir", "d", "--weeks", "30"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let config = std::fs::read_to_string(dir.path().join("d/config.toml")).unwrap();
        Demo {
            snapshot: dir.path().join("d/snapshot"),
            config,
            _dir: dir,
        }
    })
}

fn seed() -> u64 {
    std::env::var("SCORECARD_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_123)
}

/// What one kill found.
#[derive(Debug, Default)]
struct Counts {
    /// Kills that hit a running process.
    killed: usize,
    /// Runs that had finished before their kill time came.
    finished: usize,
}

/// Starts `args` in `p`, kills it (SIGKILL) after `delay` unless it ended
/// first. Returns whether the kill hit a running process.
fn kill_after(p: &Project, args: &[&str], delay: Duration) -> bool {
    let mut child = p
        .process()
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        if started.elapsed() >= delay {
            child.kill().unwrap(); // SIGKILL on Unix
            child.wait().unwrap();
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// How long `args` takes unkilled (and that it succeeds).
fn timed(p: &Project, args: &[&str]) -> Duration {
    let t = Instant::now();
    p.ok(args);
    t.elapsed()
}

fn integrity(db: &Path) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok", "{}", db.display());
}

/// The store file as the next process finds it: opened (SQLite rolls back
/// or replays its write-ahead log), checked, closed (checkpointed).
fn settled_bytes(db: &Path) -> Vec<u8> {
    integrity(db);
    {
        let conn = rusqlite::Connection::open(db).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
    }
    std::fs::read(db).unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

// ---------------------------------------------------------------- import

fn import_phase(kills: usize) -> Counts {
    let demo = demo();
    let snapshot = demo.snapshot.to_str().unwrap();
    // A store holding the customers only; the kills hit the import of the
    // whole snapshot on top of it.
    let base = Project::new(&demo.config);
    let customers = base.snapshot("first", &[]);
    std::fs::copy(
        demo.snapshot.join("customers.csv"),
        customers.join("customers.csv"),
    )
    .unwrap();
    base.ok(&["import", customers.to_str().unwrap()]);
    let before = settled_bytes(&base.path("scorecard.db"));
    let complete = Project::new(&demo.config);
    std::fs::copy(base.path("scorecard.db"), complete.path("scorecard.db")).unwrap();
    let full = timed(&complete, &["import", snapshot]);
    let after = settled_bytes(&complete.path("scorecard.db"));
    assert_ne!(before, after);

    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed());
    let mut counts = Counts::default();
    for i in 0..kills {
        let p = Project::new(&demo.config);
        std::fs::copy(base.path("scorecard.db"), p.path("scorecard.db")).unwrap();
        let delay = full.mul_f64(rng.gen_range(0.0..1.1));
        if kill_after(&p, &["import", snapshot], delay) {
            counts.killed += 1;
        } else {
            counts.finished += 1;
        }
        let now = settled_bytes(&p.path("scorecard.db"));
        assert!(
            now == before || now == after,
            "kill {i} after {delay:?}: the store is neither as it was nor as the complete import leaves it"
        );
        // Imported again, the snapshot goes in whole.
        p.ok(&["import", snapshot]);
        assert_eq!(
            settled_bytes(&p.path("scorecard.db")),
            after,
            "kill {i}: the import after the kill"
        );
    }
    counts
}

#[test]
fn killed_imports_leave_the_store_as_it_was() {
    let c = import_phase(10);
    eprintln!("import phase: {c:?}");
    assert!(c.killed > 0, "no kill hit a running import: {c:?}");
}

#[test]
#[ignore]
fn killed_imports_many() {
    let c = import_phase(100);
    eprintln!("import phase: {c:?}");
}

// ------------------------------------------------------------------- run

/// Every period folder of the archive is whole (its summary, figures, pages
/// and manifest all there and parsing) and listed once in the index; no
/// temporary folder is left once a run has finished.
fn assert_archive_whole(p: &Project, periods: &[&str]) {
    let weekly = p.path("reports/weekly");
    let names: Vec<String> = std::fs::read_dir(&weekly)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for n in &names {
        assert!(!n.starts_with('.'), "a leftover after a finished run: {n}");
    }
    let index = p.read("reports/index.md");
    for id in periods {
        let dir = weekly.join(id);
        for f in [
            "summary.json",
            "kpis.json",
            "kpis.csv",
            "scorecard.html",
            "scorecard.md",
            "manifest.json",
        ] {
            assert!(dir.join(f).exists(), "{id}/{f} missing");
        }
        let kpis: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("kpis.json")).unwrap()).unwrap();
        assert_eq!(kpis["period"]["id"], *id);
        serde_json::from_str::<serde_json::Value>(
            &std::fs::read_to_string(dir.join("manifest.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(
            index.matches(&format!("[{id}]")).count(),
            1,
            "{id} in the index\n{index}"
        );
    }
}

const BACKFILL: [&str; 6] = [
    "2026-W42", "2026-W43", "2026-W44", "2026-W45", "2026-W46", "2026-W47",
];

/// The demo config with email over SMTP to 127.0.0.1:`port` (two
/// recipients: the whole business and region=EMEA), fast retries and a
/// final-reply timeout of 1 s (the stalling server).
fn smtp_config(port: u16) -> String {
    let demo = &demo().config;
    let start = demo.find("\n[email]").expect("an [email] section");
    let end = demo[start + 1..]
        .find("\n[run]")
        .map(|i| i + start + 1)
        .unwrap_or(demo.len());
    format!(
        r#"{}
[email]
transport = "smtp"
from = "Scorecard <scorecard@example.com>"
max_attempts = 2
retry_delay_ms = 10
[email.smtp]
host = "127.0.0.1"
port = {port}
tls = "none"
timeout_secs = 5
final_reply_timeout_secs = 1
[[email.recipients]]
to = ["leadership@example.com"]
[[email.recipients]]
to = ["emea-lead@example.com"]
segment = "region=EMEA"
{}"#,
        &demo[..start],
        &demo[end..]
    )
}

fn message_id(data: &[u8]) -> String {
    use mailparse::MailHeaderMap;
    mailparse::parse_mail(data)
        .unwrap()
        .headers
        .get_first_value("Message-ID")
        .expect("a Message-ID")
}

/// (Message-ID, state) of every message in the ledger.
fn ledger(p: &Project) -> Vec<(String, String)> {
    let conn = rusqlite::Connection::open(p.path("scorecard.db")).unwrap();
    let mut stmt = conn
        .prepare("SELECT message_id, state FROM sends ORDER BY id")
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    rows
}

fn archived(p: &Project) -> Vec<String> {
    let conn = rusqlite::Connection::open(p.path("scorecard.db")).unwrap();
    let mut stmt = conn
        .prepare("SELECT DISTINCT period FROM runs WHERE archived = 1 ORDER BY period")
        .unwrap();
    let rows = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    rows
}

/// What the email checks found.
#[derive(Debug, Default)]
struct Mail {
    /// Messages in the ledger as sent (delivered exactly once).
    sent: usize,
    /// Messages reported uncertain (delivered at most once).
    uncertain: usize,
}

/// Never twice, never lost: every archived period has its emails in the
/// ledger (`per_period` each); each is `sent` and was delivered exactly
/// once, or is `uncertain` and was delivered at most once; no message was
/// delivered that the ledger does not know.
fn assert_each_email_once(p: &Project, server: &smtp::TestServer, per_period: usize) -> Mail {
    let rows = ledger(p);
    let periods = archived(p);
    let conn = rusqlite::Connection::open(p.path("scorecard.db")).unwrap();
    for period in &periods {
        let n: i64 = conn
            .query_row(
                "SELECT count(*) FROM sends WHERE period = ?1",
                [period],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            n as usize, per_period,
            "{period}: archived without its emails queued"
        );
    }
    let kept: Vec<String> = server.kept().iter().map(|m| message_id(&m.data)).collect();
    let mut mail = Mail::default();
    for (id, state) in &rows {
        let copies = kept.iter().filter(|k| *k == id).count();
        match state.as_str() {
            "sent" => {
                assert_eq!(copies, 1, "{id} sent, delivered {copies} times");
                mail.sent += 1;
            }
            "uncertain" => {
                assert!(copies <= 1, "{id} uncertain, delivered {copies} times");
                mail.uncertain += 1;
            }
            other => panic!("{id} is {other} after a complete send: lost"),
        }
    }
    for k in &kept {
        assert!(
            rows.iter().any(|(id, _)| id == k),
            "{k} delivered, unknown to the ledger"
        );
    }
    mail
}

#[derive(Debug, Default)]
struct RunCounts {
    kills: Counts,
    sent: usize,
    uncertain: usize,
}

fn run_phase(kills: usize) -> RunCounts {
    let demo = demo();
    let base = Project::new(&demo.config);
    base.ok(&["import", demo.snapshot.to_str().unwrap()]);
    let args = [
        "run",
        "--since",
        BACKFILL[0],
        "--until",
        BACKFILL[BACKFILL.len() - 1],
    ];
    let full = {
        let server = smtp::TestServer::start(smtp::Script::default());
        let p = Project::new(&smtp_config(server.port));
        std::fs::copy(base.path("scorecard.db"), p.path("scorecard.db")).unwrap();
        let t = timed(&p, &args);
        assert_archive_whole(&p, &BACKFILL);
        let mail = assert_each_email_once(&p, &server, 2);
        assert_eq!(mail.sent, 12);
        t
    };
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed() ^ 0x52554e);
    let mut counts = RunCounts::default();
    for i in 0..kills {
        let server = smtp::TestServer::start(smtp::Script::default());
        let p = Project::new(&smtp_config(server.port));
        std::fs::copy(base.path("scorecard.db"), p.path("scorecard.db")).unwrap();
        let delay = full.mul_f64(rng.gen_range(0.0..1.1));
        if kill_after(&p, &args, delay) {
            counts.kills.killed += 1;
        } else {
            counts.kills.finished += 1;
        }
        integrity(&p.path("scorecard.db"));
        // Whatever is in place is a whole period folder.
        if let Ok(entries) = std::fs::read_dir(p.path("reports/weekly")) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if !name.starts_with('.') {
                    assert!(
                        e.path().join("manifest.json").exists()
                            && e.path().join("kpis.json").exists(),
                        "kill {i} after {delay:?}: half a folder {name}"
                    );
                }
            }
        }
        // The next scheduled run catches up and delivers what is pending.
        p.ok(&["run"]);
        let periods = archived(&p);
        let ids: Vec<&str> = periods.iter().map(String::as_str).collect();
        assert_archive_whole(&p, &ids);
        integrity(&p.path("scorecard.db"));
        let mail = assert_each_email_once(&p, &server, 2);
        counts.sent += mail.sent;
        counts.uncertain += mail.uncertain;
    }
    counts
}

#[test]
fn killed_backfills_leave_whole_folders_and_every_email_once() {
    let c = run_phase(10);
    eprintln!("run phase: {c:?}");
    assert!(c.kills.killed > 0, "no kill hit a running backfill: {c:?}");
}

#[test]
#[ignore]
fn killed_backfills_many() {
    let c = run_phase(100);
    eprintln!("run phase: {c:?}");
}

// ------------------------------------------------------------------ send

/// How the SMTP server misbehaves in a send-phase round.
fn script(k: usize) -> (&'static str, smtp::Script) {
    let d = smtp::Script::default;
    match k % 6 {
        0 => ("normal", d()),
        1 => (
            "slow final reply",
            smtp::Script {
                slow_final: Duration::from_millis(40),
                ..d()
            },
        ),
        2 => (
            "stall before the final reply",
            smtp::Script {
                stall_final: 1,
                ..d()
            },
        ),
        3 => (
            "drop after DATA",
            smtp::Script {
                drop_after_data: 1,
                ..d()
            },
        ),
        4 => (
            "451 to the final dot",
            smtp::Script {
                defer_final: 2,
                ..d()
            },
        ),
        _ => (
            "451 to DATA",
            smtp::Script {
                defer_data: 2,
                ..d()
            },
        ),
    }
}

#[derive(Debug, Default)]
struct SendCounts {
    kills: Counts,
    sent: usize,
    uncertain: usize,
}

fn send_phase(kills: usize) -> SendCounts {
    let demo = demo();
    // Twelve emails queued by a backfill while the server was down.
    let down = smtp::free_port();
    let base = Project::new(&smtp_config(down));
    base.ok(&["import", demo.snapshot.to_str().unwrap()]);
    let (code, _, err) = base.status(&["run", "--since", BACKFILL[0], "--until", BACKFILL[5]]);
    assert_eq!(code, 4, "{err}");
    assert_eq!(ledger(&base).len(), 12);
    let full = {
        let server = smtp::TestServer::start(smtp::Script::default());
        let p = Project::new(&smtp_config(server.port));
        std::fs::copy(base.path("scorecard.db"), p.path("scorecard.db")).unwrap();
        let t = timed(&p, &["send"]);
        assert_eq!(assert_each_email_once(&p, &server, 2).sent, 12);
        t
    };
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed() ^ 0x53454e44);
    let mut counts = SendCounts::default();
    for i in 0..kills {
        let (how, misbehave) = script(i);
        let server = smtp::TestServer::start(misbehave);
        let p = Project::new(&smtp_config(server.port));
        std::fs::copy(base.path("scorecard.db"), p.path("scorecard.db")).unwrap();
        // A stall costs the 1 s final-reply timeout, slow replies 40 ms
        // each, 451s a retry delay: the window covers each round's send.
        let extra = match i % 6 {
            1 => Duration::from_millis(12 * 40),
            2 => Duration::from_millis(1_000),
            _ => Duration::from_millis(50),
        };
        let delay = (full + extra).mul_f64(rng.gen_range(0.0..1.1));
        if kill_after(&p, &["send"], delay) {
            counts.kills.killed += 1;
        } else {
            counts.kills.finished += 1;
        }
        integrity(&p.path("scorecard.db"));
        // The server behaves again; the next send delivers what is left.
        server.set_script(smtp::Script::default());
        let (code, _, err) = p.status(&["send"]);
        assert!(code == 0 || code == 4, "kill {i} ({how}): {err}");
        let mail = assert_each_email_once(&p, &server, 2);
        assert_eq!(mail.sent + mail.uncertain, 12, "kill {i} ({how})");
        counts.sent += mail.sent;
        counts.uncertain += mail.uncertain;
    }
    counts
}

#[test]
fn killed_sends_deliver_every_email_once_or_report_it_uncertain() {
    let c = send_phase(10);
    eprintln!("send phase: {c:?}");
    assert!(c.kills.killed > 0, "no kill hit a running send: {c:?}");
}

#[test]
#[ignore]
fn killed_sends_many() {
    let c = send_phase(100);
    eprintln!("send phase: {c:?}");
}

/// Copies a project folder (for tests that branch from one state).
#[allow(dead_code)]
fn clone_project(from: &Project) -> Project {
    let p = Project::new("");
    copy_dir(from.dir.path(), p.dir.path());
    p
}
