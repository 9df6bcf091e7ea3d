//! Issue 12, "never lost, never twice": one test per defect, each through
//! the binary (real SQLite file, real templates, the environment cleared).
#[path = "support/project.rs"]
mod project;

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
