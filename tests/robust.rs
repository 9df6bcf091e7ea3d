//! Issue 12, "never lost, never twice": one test per defect, each through
//! the binary (real SQLite file, real templates, the environment cleared).
#[path = "support/ports.rs"]
mod ports;
#[path = "support/project.rs"]
mod project;
#[path = "support/smtp.rs"]
mod smtp;

use project::{fixture, Project};

const FILE_EMAIL: &str = r#"
[email]
transport = "file"
from = "Scorecard <scorecard@example.com>"
[[email.recipients]]
to = ["leadership@example.com"]
"#;

/// The number of `|` not escaped by a backslash.
fn cells(line: &str) -> usize {
    let mut n = 0;
    let mut escaped = false;
    for c in line.chars() {
        match c {
            '\\' if !escaped => escaped = true,
            '|' if !escaped => n += 1,
            _ => escaped = false,
        }
    }
    n
}

/// No `<img` that a Markdown renderer would take for HTML (an escaped
/// `\<img` is text).
fn no_raw_html(md: &str) -> bool {
    md.match_indices("<img")
        .all(|(i, _)| md[..i].ends_with('\\'))
}

/// Every table of a Markdown document keeps its header's number of cells.
fn assert_tables_intact(md: &str) {
    let mut width = None;
    for line in md.lines() {
        if line.starts_with('|') {
            let n = cells(line);
            match width {
                None => width = Some(n),
                Some(w) => assert_eq!(n, w, "a row broke its table: {line:?}\n{md}"),
            }
        } else {
            width = None;
        }
    }
}

// ------------------------------------------------- item 3: bounded names

#[test]
fn a_300_character_region_is_archived_under_a_bounded_folder_name() {
    let p = Project::tiny();
    p.ok(&["import", fixture("tiny").to_str().unwrap()]);
    let long = "Ü".repeat(150); // 300 bytes
    let snap = p.snapshot(
        "long",
        &[
            (
                "customers.csv",
                &format!("customer_id,acquired_on,region,plan\nL1,2026-01-01,{long},Pro\n"),
            ),
            (
                "orders.csv",
                "order_id,customer_id,ordered_on,amount\nL1-1,L1,2026-11-17,10\n",
            ),
        ],
    );
    p.ok(&["import", snap.to_str().unwrap()]);
    // Before: "File name too long (os error 36)" and nothing archived.
    p.ok(&["run", "--no-send", "--period", "2026-W47"]);
    let segments = p.path("reports/weekly/2026-W47/segments");
    let names: Vec<String> = std::fs::read_dir(&segments)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let long_one = names
        .iter()
        .find(|n| n.starts_with("region-üü"))
        .unwrap_or_else(|| panic!("{names:?}"));
    assert!(long_one.len() < 100, "{long_one}");
    assert!(segments.join(long_one).join("scorecard.html").exists());
    let html = p.read("reports/weekly/2026-W47/scorecard.html");
    assert!(html.contains(&format!("segments/{long_one}/scorecard.html")));
}

// ------------------------------------------------ item 3: leftovers

#[test]
fn leftovers_of_a_killed_run_are_removed_and_never_listed() {
    let p = Project::tiny();
    p.ok(&["import", fixture("tiny").to_str().unwrap()]);
    p.ok(&["run", "--no-send", "--period", "2026-W47"]);
    // A run killed between its renames: its copy of W47 and its temporary
    // files stay behind, with the pid of a process that is gone.
    let weekly = p.path("reports/weekly");
    let dead = 999_999_999u32;
    for leftover in [
        format!(".tmp-2026-W47-{dead}"),
        format!(".old-2026-W47-{dead}"),
    ] {
        let dir = weekly.join(&leftover);
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["summary.json", "kpis.json", "scorecard.md"] {
            std::fs::copy(weekly.join("2026-W47").join(f), dir.join(f)).unwrap();
        }
    }
    std::fs::write(p.path(&format!("reports/.index.md.tmp-{dead}")), "half").unwrap();
    p.ok(&["run", "--no-send", "--period", "2026-W46", "--allow-stale"]);
    let mut left: Vec<String> = std::fs::read_dir(&weekly)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["2026-W46", "2026-W47"]);
    assert!(!p.path(&format!("reports/.index.md.tmp-{dead}")).exists());
    let index = p.read("reports/index.md");
    assert_eq!(index.matches("[2026-W47]").count(), 1, "{index}");
    assert_eq!(index.matches("[2026-W46]").count(), 1, "{index}");
}

// --------------------------------------------------- item 4: injection

/// A business whose CRM values are hostile: a region with a pipe, a
/// newline, a heading and an HTML image; an activity kind with a terminal
/// escape sequence.
fn hostile() -> Project {
    let p = Project::tiny_with(FILE_EMAIL);
    p.ok(&["import", fixture("tiny").to_str().unwrap()]);
    let snap = p.snapshot(
        "hostile",
        &[
            (
                "customers.csv",
                "customer_id,acquired_on,region,plan\nH1,2026-01-01,\"EMEA | x\n# Owned <img src=x onerror=alert(1)>\",Pro\n",
            ),
            (
                "orders.csv",
                "order_id,customer_id,ordered_on,amount\nH1-1,H1,2026-11-17,10\n",
            ),
            (
                "activities.csv",
                "activity_id,occurred_on,kind,owner,customer_id\nHA1,2026-11-17,\u{1b}[2J\u{1b}[31mpwned,ann,H1\n",
            ),
        ],
    );
    p.ok(&["import", snap.to_str().unwrap()]);
    p
}

#[test]
fn hostile_segment_values_cannot_break_the_markdown_or_the_text_email() {
    let p = hostile();
    p.ok(&["run", "--period", "2026-W47"]);
    let md = p.read("reports/weekly/2026-W47/scorecard.md");
    assert!(!md.lines().any(|l| l.starts_with("# Owned")), "{md}");
    assert!(no_raw_html(&md), "{md}");
    assert!(md.contains("EMEA \\| x \\# Owned \\<img"), "{md}");
    assert!(!md.contains('\u{1b}'), "{md}");
    assert_tables_intact(&md);
    let index = p.read("reports/index.md");
    assert_tables_intact(&index);
    // The plain-text part of the email is that Markdown.
    let eml: Vec<_> = std::fs::read_dir(p.path("outbox"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(eml.len(), 1);
    let raw = std::fs::read(eml[0].path()).unwrap();
    let mail = mailparse::parse_mail(&raw).unwrap();
    let text = mail
        .subparts
        .iter()
        .flat_map(|p| std::iter::once(p).chain(p.subparts.iter()))
        .find(|p| p.ctype.mimetype == "text/plain")
        .expect("a text part")
        .get_body()
        .unwrap();
    assert!(no_raw_html(&text) && !text.contains('\u{1b}'), "{text}");
    assert!(!text.lines().any(|l| l.starts_with("# Owned")));
    // The HTML stays escaped as before.
    let html = p.read("reports/weekly/2026-W47/scorecard.html");
    assert!(!html.contains("<img src=x"), "html");
}

#[test]
fn terminal_escapes_in_kind_names_are_shown_not_run_by_show_and_kpis() {
    let p = hostile();
    for args in [
        vec!["kpis"],
        vec!["show", "--period", "2026-W47"],
        vec!["show", "--period", "2026-W47", "--segment", "plan=Pro"],
    ] {
        let out = p.ok(&args);
        assert!(!out.contains('\u{1b}'), "{args:?}: {out:?}");
        assert!(
            out.contains("\\u{1b}[2J\\u{1b}[31mpwned"),
            "{args:?}: {out}"
        );
    }
    // An unknown segment's message lists the known ones, escaped too.
    let (code, _, err) = p.status(&["show", "--period", "2026-W47", "--segment", "x=y"]);
    assert_eq!(code, 2);
    assert!(!err.contains('\u{1b}'), "{err:?}");
}

#[test]
fn csv_cells_never_start_a_formula_in_the_rejects_file_and_kpis_csv() {
    let p = Project::tiny();
    let snap = p.snapshot(
        "bad",
        &[(
            "orders.csv",
            "order_id,customer_id,ordered_on,amount\n=HYPERLINK(\"http://x\"),C1,2026-11-17,oops\n@SUM(A1),C1,not-a-date,5\nO1,C1,2026-11-17,-30\n",
        )],
    );
    let out = p
        .cmd()
        .args(["import", "--skip-invalid", snap.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rejects: Vec<_> = std::fs::read_dir(p.dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("rejects"))
        .collect();
    assert_eq!(rejects.len(), 1);
    let text = std::fs::read_to_string(rejects[0].path()).unwrap();
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let mut rows = 0;
    for record in reader.records() {
        for cell in record.unwrap().iter() {
            assert!(
                !cell.starts_with(['=', '+', '-', '@']),
                "a formula in the rejects file: {cell:?}\n{text}"
            );
        }
        rows += 1;
    }
    assert_eq!(rows, 2, "{text}");
    assert!(text.contains(",\"'@SUM(A1),C1,not-a-date,5\""), "{text}");
    #[cfg(unix)]
    assert_eq!(project::mode(&rejects[0].path()), 0o600);

    p.ok(&["run", "--no-send", "--period", "2026-W47", "--allow-stale"]);
    let csv_text = p.read("reports/weekly/2026-W47/kpis.csv");
    let mut reader = csv::ReaderBuilder::new().from_reader(csv_text.as_bytes());
    for record in reader.records() {
        for cell in record.unwrap().iter() {
            let formula = cell.starts_with(['=', '+', '-', '@']) && cell.parse::<f64>().is_err();
            assert!(!formula, "{cell:?}");
        }
    }
}

#[test]
fn a_remote_image_in_an_analyst_note_is_dropped_with_a_warning() {
    let p = Project::tiny_with(FILE_EMAIL);
    let config = p.read("config.toml").replace(
        "out_dir = \"reports\"",
        "out_dir = \"reports\"\nnotes_dir = \"notes\"",
    );
    std::fs::write(p.path("config.toml"), config).unwrap();
    std::fs::create_dir_all(p.path("notes")).unwrap();
    std::fs::write(
        p.path("notes/2026-W47.md"),
        "Churn rose. ![](http://track.example/pixel.gif?who=lead)\n\n![dot](data:image/gif;base64,R0lGODlhAQABAAAAACw=)\n",
    )
    .unwrap();
    p.ok(&["import", fixture("tiny").to_str().unwrap()]);
    let (code, _, err) = p.status(&["run", "--period", "2026-W47"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("remote image http://track.example/pixel.gif?who=lead dropped"),
        "{err}"
    );
    for f in ["scorecard.html", "scorecard.md", "email.html"] {
        let text = p.read(&format!("reports/weekly/2026-W47/{f}"));
        assert!(!text.contains("track.example"), "{f}");
        assert!(text.contains("Churn rose."), "{f}");
        assert!(
            text.contains("data:image/gif;base64,R0lGODlhAQABAAAAACw="),
            "{f}"
        );
    }
    let eml = std::fs::read_dir(p.path("outbox"))
        .unwrap()
        .flatten()
        .next()
        .unwrap();
    let raw = std::fs::read(eml.path()).unwrap();
    let mail = mailparse::parse_mail(&raw).unwrap();
    fn bodies(m: &mailparse::ParsedMail, out: &mut String) {
        if let Ok(b) = m.get_body() {
            out.push_str(&b);
        }
        for s in &m.subparts {
            bodies(s, out);
        }
    }
    let mut all = String::new();
    bodies(&mail, &mut all);
    assert!(!all.contains("track.example"));
}

// ------------------------------------------------ file modes

#[cfg(unix)]
#[test]
fn customer_data_is_owner_only_and_archive_pages_are_0644_unless_private() {
    let p = Project::tiny_with(FILE_EMAIL);
    // Whatever the umask (the test runner's is usually 022).
    p.ok(&["import", fixture("tiny").to_str().unwrap()]);
    p.ok(&["run", "--period", "2026-W47"]);
    assert_eq!(project::mode(&p.path("scorecard.db")), 0o600, "store");
    for suffix in ["-wal", "-shm"] {
        let f = p.path(&format!("scorecard.db{suffix}"));
        if f.exists() {
            assert_eq!(project::mode(&f), 0o600, "{suffix}");
        }
    }
    let eml = std::fs::read_dir(p.path("outbox"))
        .unwrap()
        .flatten()
        .next()
        .unwrap();
    assert_eq!(project::mode(&eml.path()), 0o600, "outbox");
    for f in [
        "scorecard.html",
        "kpis.json",
        "manifest.json",
        "segments/region-emea/scorecard.html",
    ] {
        assert_eq!(
            project::mode(&p.path(&format!("reports/weekly/2026-W47/{f}"))),
            0o644,
            "{f}"
        );
    }
    assert_eq!(project::mode(&p.path("reports/index.html")), 0o644);

    let private = Project::new(&p.read("config.toml").replace(
        "out_dir = \"reports\"",
        "out_dir = \"reports\"\nprivate = true",
    ));
    private.ok(&["import", fixture("tiny").to_str().unwrap()]);
    private.ok(&["run", "--no-send", "--period", "2026-W47"]);
    for f in [
        "weekly/2026-W47/scorecard.html",
        "weekly/2026-W47/kpis.csv",
        "index.md",
    ] {
        assert_eq!(
            project::mode(&private.path(&format!("reports/{f}"))),
            0o600,
            "{f}"
        );
    }
}

// ------------------------------------------------ stale data (A, B, A)

#[test]
fn a_snapshot_imported_again_after_another_one_is_not_skipped() {
    let p = Project::tiny();
    let a = p.snapshot(
        "a",
        &[(
            "orders.csv",
            "order_id,customer_id,ordered_on,amount\nO1,C1,2026-11-16,100\n",
        )],
    );
    let b = p.snapshot(
        "b",
        &[(
            "orders.csv",
            "order_id,customer_id,ordered_on,amount\nO1,C1,2026-11-16,250\n",
        )],
    );
    let amount = || -> f64 {
        p.db()
            .query_row("SELECT amount FROM orders WHERE order_id = 'O1'", [], |r| {
                r.get(0)
            })
            .unwrap()
    };
    p.ok(&["import", a.to_str().unwrap()]);
    p.ok(&["import", b.to_str().unwrap()]);
    assert_eq!(amount(), 250.0);
    // A again: not "unchanged" (it differs from the latest import of
    // orders.csv, which is B), so the store holds A's figures again.
    let out = p.ok(&["import", a.to_str().unwrap()]);
    assert!(!out.contains("unchanged, this exact file"), "{out}");
    assert_eq!(amount(), 100.0);
    // And A once more is skipped: it is the latest import now.
    let out = p.ok(&["import", a.to_str().unwrap()]);
    assert!(out.contains("unchanged, this exact file"), "{out}");
}

// ------------------------------------------------ item 6: config

#[test]
fn a_templates_dir_that_does_not_exist_is_refused() {
    let p = Project::tiny_with("");
    let config = p.read("config.toml").replace(
        "out_dir = \"reports\"",
        "out_dir = \"reports\"\ntemplates_dir = \"my-templates\"",
    );
    std::fs::write(p.path("config.toml"), config).unwrap();
    // Before: `check` said "templates: … all parse" and runs used the built-ins.
    let (code, out, err) = p.status(&["check"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("[report] templates_dir:") && err.contains("my-templates is not a folder"),
        "{err}"
    );
    assert!(err.contains("config.toml:"), "names the line: {err}");
}

#[test]
fn non_finite_numbers_are_refused_where_they_are_written() {
    let p = Project::new("[kpi.nps]\ntarget = nan\n");
    let (code, _, err) = p.status(&["kpis"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("config.toml:2:")
            && err.contains("kpi.nps.target = nan is not a finite number"),
        "{err}"
    );
    let p = Project::new("[service]\nfirst_response_sla_hours = -inf\n");
    let (code, _, err) = p.status(&["kpis"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("first_response_sla_hours = -inf"), "{err}");
    // Through an environment override too.
    let p = Project::new("[kpi.nps]\ntarget = 40\n");
    let out = p
        .cmd()
        .arg("kpis")
        .env("SCORECARD_KPI__NPS__TARGET", "nan")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nan or inf"));
    // And in a benchmarks file.
    let p = Project::new("[benchmarks]\nfile = \"b.toml\"\n");
    std::fs::write(
        p.path("b.toml"),
        "[[benchmark]]\nindustry = \"saas\"\nkpi = \"nps\"\nvalue = inf\nsource = \"x\"\nyear = 2025\n",
    )
    .unwrap();
    let (code, _, err) = p.status(&["kpis"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("b.toml:4:") && err.contains("value = inf"),
        "{err}"
    );
}

#[test]
fn a_template_that_renders_too_much_stops_the_run_naming_it() {
    let p = Project::tiny();
    let config = p.read("config.toml").replace(
        "out_dir = \"reports\"",
        "out_dir = \"reports\"\ntemplates_dir = \"t\"",
    );
    std::fs::write(p.path("config.toml"), config).unwrap();
    std::fs::create_dir_all(p.path("t")).unwrap();
    // 100 MB if nothing stops it.
    std::fs::write(
        p.path("t/scorecard.md"),
        format!("{{% for i in range(end=1000) %}}{{% for j in range(end=1000) %}}{}{{% endfor %}}{{% endfor %}}", "x".repeat(100)),
    )
    .unwrap();
    p.ok(&["import", fixture("tiny").to_str().unwrap()]);
    let (code, _, err) = p.status(&["run", "--no-send", "--period", "2026-W47"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("template scorecard.md (") && err.contains("renders more than 10 MB"),
        "{err}"
    );
    assert!(!p.path("reports/weekly/2026-W47").exists());
}

// ------------------------------------------------ item 5: the clock

#[test]
fn a_clock_set_back_is_refused_unless_forced() {
    let p = Project::tiny_with(FILE_EMAIL);
    p.ok(&["import", fixture("tiny").to_str().unwrap()]);
    let run_on = |day: &str, extra: &[&str]| {
        let out = p
            .cmd()
            .args(["run", "--allow-stale"])
            .args(extra)
            .env("SCORECARD_TODAY", day)
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert_eq!(run_on("2026-11-23", &[]).0, 0); // archives and mails W47
    let emails = || std::fs::read_dir(p.path("outbox")).unwrap().count();
    assert_eq!(emails(), 1);
    // Before: a clock set back a week re-ran (and re-mailed) an old week.
    let (code, err) = run_on("2026-11-16", &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("the last completed period is 2026-W46, but 2026-W47 is archived already")
            && err.contains("--force"),
        "{err}"
    );
    assert_eq!(emails(), 1, "nothing mailed");
    assert!(!p.path("reports/weekly/2026-W46").exists());
    let (code, err) = run_on("2026-11-16", &["--force"]);
    assert_eq!(code, 0, "{err}");
    assert!(p.path("reports/weekly/2026-W46/kpis.json").exists());
}

#[test]
fn a_clock_jumped_forward_archives_no_empty_future_weeks() {
    let p = Project::tiny_with(FILE_EMAIL);
    p.ok(&["import", fixture("tiny").to_str().unwrap()]);
    let run_on = |day: &str, extra: &[&str]| {
        let out = p
            .cmd()
            .arg("run")
            .args(extra)
            .env("SCORECARD_TODAY", day)
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert_eq!(run_on("2026-11-23", &["--allow-stale"]).0, 0); // W47, the data's last week
    let emails = || std::fs::read_dir(p.path("outbox")).unwrap().count();
    assert_eq!(emails(), 1);
    // Before: a clock three weeks ahead archived W48, W49 and W50 at the
    // top of the index although the data ends on Tue 24 Nov (W48). W48 holds
    // data (archived, stale, not mailed: exit 3); W49 and W50 cannot hold a
    // row and are left out with a warning.
    let (code, err) = run_on("2026-12-14", &[]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("2026-W49, 2026-W50 begin after the data's as-of (Tue 24 Nov 2026 23:30 UTC): not archived")
            && err.contains("is the clock (or --today) right?"),
        "{err}"
    );
    assert!(p.path("reports/weekly/2026-W48/kpis.json").exists());
    for week in ["2026-W49", "2026-W50"] {
        assert!(
            !p.path(&format!("reports/weekly/{week}")).exists(),
            "{week}"
        );
    }
    let index = std::fs::read_to_string(p.path("reports/index.md")).unwrap();
    assert!(
        index.contains("2026-W48") && !index.contains("2026-W49"),
        "{index}"
    );
    assert_eq!(emails(), 1, "nothing mailed");
    // A clock further ahead than every period with data: nothing archived.
    let (code, err) = run_on("2027-01-11", &[]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("2026-W51, 2026-W52, 2026-W53, 2027-W01 begin after"),
        "{err}"
    );
    assert!(!p.path("reports/weekly/2027-W01").exists());
    // Asked for, they are archived.
    let (code, err) = run_on("2027-01-11", &["--allow-stale"]);
    assert_eq!(code, 0, "{err}");
    assert!(p.path("reports/weekly/2027-W01/kpis.json").exists());
}

#[test]
fn a_range_never_archives_a_period_that_has_not_ended() {
    let p = Project::tiny();
    p.ok(&["import", fixture("tiny").to_str().unwrap()]);
    // Today is 2026-11-23: W48 has not ended.
    let (code, _, err) = p.status(&[
        "run",
        "--no-send",
        "--allow-stale",
        "--since",
        "2026-W46",
        "--until",
        "2026-W50",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--until 2026-W50 has not ended yet") && err.contains("--period 2026-W50"),
        "{err}"
    );
    assert!(!p.path("reports/weekly").exists());
    // Asked for by --period, it runs, with the partial-figures warning.
    let (code, _, err) = p.status(&["run", "--no-send", "--allow-stale", "--period", "2026-W48"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("has not ended yet"), "{err}");
}

// --------------------------------------------- items 1, 2: the ledger

/// SMTP to the test server on 127.0.0.1:`port`, one recipient, fast
/// retries, a final-reply timeout of `final_secs`.
fn smtp_email(port: u16, final_secs: u64) -> String {
    smtp::email_section(port, final_secs, "")
}

fn message_id(m: &smtp::Received) -> String {
    use mailparse::MailHeaderMap;
    mailparse::parse_mail(&m.data)
        .unwrap()
        .headers
        .get_first_value("Message-ID")
        .expect("a Message-ID")
}

fn states(p: &Project) -> Vec<String> {
    p.db()
        .prepare("SELECT state FROM sends ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Rows in W46 for every dated source, so that W46 is not stale.
fn w46(p: &Project) -> std::path::PathBuf {
    p.snapshot(
        "w46",
        &[
            ("orders.csv", "order_id,customer_id,ordered_on,amount\nP1,C1,2026-11-10,80\n"),
            ("tickets.csv", "ticket_id,opened_at,first_response_at,resolved_at,customer_id,channel\nPT1,2026-11-10T09:00:00Z,2026-11-10T10:00:00Z,,C1,email\n"),
            ("surveys.csv", "response_id,answered_on,kind,score,customer_id,comment\nPR1,2026-11-11,nps,8,C1,\n"),
            ("activities.csv", "activity_id,occurred_on,kind,owner,customer_id\nPA1,2026-11-11,call,ann,C1\n"),
        ],
    )
}

/// The tiny business with data in W46 and W47, mailed to `server`, its
/// Markdown template taken from `t/` (see [`failing_template_in`]).
fn two_weeks_mailed_to(server: &smtp::TestServer) -> Project {
    let p = Project::tiny_with(&smtp_email(server.port, 600));
    p.ok(&["import", fixture("tiny").to_str().unwrap()]);
    p.ok(&["import", w46(&p).to_str().unwrap()]);
    let config = p.read("config.toml").replace(
        "out_dir = \"reports\"",
        "out_dir = \"reports\"\ntemplates_dir = \"t\"",
    );
    std::fs::write(p.path("config.toml"), config).unwrap();
    std::fs::create_dir_all(p.path("t")).unwrap();
    p
}

/// A Markdown template that fails to render in period `week` only.
fn failing_template_in(p: &Project, week: &str) {
    std::fs::write(
        p.path("t/scorecard.md"),
        format!("{{% if period.id == \"{week}\" %}}{{{{ no_such_value.x }}}}{{% endif %}}# {{{{ title | md }}}} {{{{ period.id }}}}\n"),
    )
    .unwrap();
}

/// Periods are rendered by worker threads ahead of the one that records
/// them: when the first week fails, a later week a worker may have archived
/// already is neither recorded nor queued, and the next run renders and
/// mails both, once.
#[test]
fn a_failing_first_week_queues_nothing_and_the_next_run_mails_both() {
    let server = smtp::TestServer::start(smtp::Script::default());
    let p = two_weeks_mailed_to(&server);
    failing_template_in(&p, "2026-W46");
    let (code, _, err) = p.status(&["run", "--since", "2026-W46", "--until", "2026-W47"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("2026-W46"), "{err}");
    assert!(states(&p).is_empty(), "nothing queued");
    assert!(server.received().is_empty());
    let recorded: i64 = p
        .db()
        .query_row("SELECT count(*) FROM runs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(recorded, 0, "no week recorded as archived");
    failing_template_in(&p, "none");
    p.ok(&["run", "--since", "2026-W46", "--until", "2026-W47"]);
    let got = server.received();
    assert_eq!(got.len(), 2, "both weeks mailed once");
    for week in ["2026-W46", "2026-W47"] {
        assert!(
            got.iter()
                .any(|m| String::from_utf8_lossy(&m.data).contains(week)),
            "{week}"
        );
        assert!(p.path(&format!("reports/weekly/{week}/kpis.json")).exists());
    }
}

#[test]
fn weeks_archived_before_a_failing_week_are_still_mailed() {
    let server = smtp::TestServer::start(smtp::Script::default());
    let p = two_weeks_mailed_to(&server);
    // A template that fails in the last week of the backfill only.
    failing_template_in(&p, "2026-W47");
    let (code, _, err) = p.status(&["run", "--since", "2026-W46", "--until", "2026-W47"]);
    assert_eq!(code, 2, "{err}");
    assert!(p.path("reports/weekly/2026-W46/kpis.json").exists());
    assert!(
        server.received().is_empty(),
        "the failing run sends nothing"
    );
    // Before: W46 was archived with no email queued, and `send` found
    // nothing to send (exit 0): its email was lost for good.
    assert_eq!(states(&p), ["pending"]);
    let out = p.ok(&["send"]);
    assert!(out.contains("send: 1 sent"), "{out}");
    let got = server.received();
    assert_eq!(got.len(), 1);
    assert!(
        String::from_utf8_lossy(&got[0].data).contains("2026-W46"),
        "the W46 scorecard"
    );
    // Never twice.
    p.ok(&["send"]);
    assert_eq!(server.received().len(), 1);
}

#[test]
fn a_final_reply_that_never_comes_makes_the_message_uncertain_not_resent() {
    let server = smtp::TestServer::start(smtp::Script {
        stall_final: 1,
        ..smtp::Script::default()
    });
    let p = Project::tiny_with(&smtp_email(server.port, 1));
    p.ok(&["import", fixture("tiny").to_str().unwrap()]);
    let (code, _, err) = p.status(&["run"]);
    // Before: the stalled reply was a transient error, retried: one copy
    // per attempt (3 by default), and more with every later `send`.
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("1 emails are uncertain"), "{err}");
    assert_eq!(server.taken().len(), 1, "one copy only");
    assert_eq!(states(&p), ["uncertain"]);
    let (code, out, err) = p.status(&["send"]);
    assert_eq!(code, 0, "known already: {err}");
    assert!(
        out.contains("0 sent, 0 pending, 0 failed, 1 uncertain"),
        "{out}"
    );
    assert!(
        err.contains("uncertain to leadership@example.com")
            && err.contains("its reply never came (no reply within 1 s)")
            && err.contains("--resend-uncertain"),
        "{err}"
    );
    assert_eq!(server.taken().len(), 1, "not sent again by itself");
    // Asked for: sent again, with the same Message-ID.
    let out = p.ok(&["send", "--resend-uncertain"]);
    assert!(out.contains("send: 1 sent"), "{out}");
    let taken = server.taken();
    assert_eq!(taken.len(), 2);
    assert_eq!(message_id(&taken[0]), message_id(&taken[1]));
    assert_eq!(states(&p), ["sent"]);
}

#[test]
fn a_connection_dropped_after_the_message_makes_it_uncertain_and_a_451_is_retried() {
    let server = smtp::TestServer::start(smtp::Script {
        drop_after_data: 1,
        ..smtp::Script::default()
    });
    let p = Project::tiny_with(&smtp_email(server.port, 600));
    p.ok(&["import", fixture("tiny").to_str().unwrap()]);
    let (code, _, err) = p.status(&["run"]);
    assert_eq!(code, 4, "{err}");
    assert_eq!(server.taken().len(), 1);
    assert_eq!(states(&p), ["uncertain"]);
    assert!(
        err.contains("took the whole message but its reply never came"),
        "{err}"
    );

    // A 451 to the final `.` is a refusal: nothing was delivered, so the
    // message is retried within the run and delivered once.
    let server = smtp::TestServer::start(smtp::Script {
        defer_final: 1,
        ..smtp::Script::default()
    });
    let p = Project::tiny_with(&smtp_email(server.port, 600));
    p.ok(&["import", fixture("tiny").to_str().unwrap()]);
    p.ok(&["run"]);
    assert_eq!(server.received().len(), 1);
    assert_eq!(
        server.taken().len(),
        2,
        "the deferred copy and the accepted one"
    );
    assert_eq!(states(&p), ["sent"]);
}

#[test]
fn killed_while_waiting_for_the_final_reply_the_next_send_does_not_mail_it_again() {
    let server = smtp::TestServer::start(smtp::Script {
        stall_final: 1,
        ..smtp::Script::default()
    });
    // Queued by a run while the server was down: pending.
    let down = ports::free_port();
    let p = Project::tiny_with(&smtp_email(down, 600));
    p.ok(&["import", fixture("tiny").to_str().unwrap()]);
    assert_eq!(p.status(&["run"]).0, 4);
    assert_eq!(states(&p), ["pending"]);
    let config = p.read("config.toml").replace(
        &format!("port = {down}"),
        &format!("port = {}", server.port),
    );
    std::fs::write(p.path("config.toml"), config).unwrap();
    let mut child = p
        .process()
        .arg("send")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The server has the whole message and is not answering: kill.
    while server.taken().is_empty() {
        assert!(child.try_wait().unwrap().is_none(), "send ended early");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(states(&p), ["in_flight"]);
    // Before: 14 of 17 re-runs delivered the message again.
    let (code, _, err) = p.status(&["send"]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("the process stopped"), "{err}");
    assert_eq!(server.taken().len(), 1);
    assert_eq!(states(&p), ["uncertain"]);
    // And the next run does not either.
    let (code, _, err) = p.status(&["run"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(server.taken().len(), 1);
}

#[test]
fn the_smtp_password_is_needed_only_to_send() {
    let server = smtp::TestServer::start(smtp::Script::default());
    let email = smtp_email(server.port, 600).replace(
        "final_reply_timeout_secs = 600",
        "final_reply_timeout_secs = 600\nusername = \"scorecard\"\npassword_env = \"SMTP_PW\"",
    );
    let p = Project::tiny_with(&email);
    // Before: every command below failed: "SMTP_PW is not set".
    p.ok(&["import", fixture("tiny").to_str().unwrap()]);
    p.ok(&["kpis"]);
    p.ok(&["show", "--period", "2026-W47"]);
    p.ok(&["run", "--no-send"]);
    // Sending needs it: the run archives, keeps the email pending, names the variable.
    let (code, _, err) = p.status(&["run"]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("SMTP_PW is not set"), "{err}");
    assert_eq!(states(&p), ["pending"]);
    assert!(server.received().is_empty());
}

#[test]
fn a_server_slower_than_timeout_secs_to_answer_the_final_dot_gets_one_copy() {
    // timeout_secs (1 s here) is for commands; the reply to the end of the
    // message has final_reply_timeout_secs (600 s by default, RFC 5321).
    let server = smtp::TestServer::start(smtp::Script {
        slow_final: std::time::Duration::from_millis(1_500),
        ..smtp::Script::default()
    });
    let email = smtp_email(server.port, 600).replace("timeout_secs = 5", "timeout_secs = 1");
    let p = Project::tiny_with(&email);
    p.ok(&["import", fixture("tiny").to_str().unwrap()]);
    // Before: each attempt timed out after 1 s and was retried: one copy
    // per attempt, and more with every later `send`.
    p.ok(&["run"]);
    assert_eq!(server.taken().len(), 1);
    assert_eq!(server.received().len(), 1);
    assert_eq!(states(&p), ["sent"]);
    p.ok(&["send"]);
    assert_eq!(server.taken().len(), 1);
}
