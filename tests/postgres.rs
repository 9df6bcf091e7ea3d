//! The PostgreSQL store end to end, through the binary: every command on a
//! real server (`SCORECARD_TEST_PG_URL`, each test in its own schema) gives
//! what it gives on SQLite, down to the byte of kpis.json. Without a server
//! each test says it stepped aside and passes; CI (`.ci/run`) starts one and
//! sets `SCORECARD_REQUIRE_PG=1`, which makes a missing server a failure.
#[path = "support/project.rs"]
mod project;

use std::path::Path;

use project::{fixture, Project};

/// The test server's URL and a fresh schema name, or None (stepped aside).
fn server(test: &str) -> Option<(String, String)> {
    let cfg = scorecard::store::pg::test_config(test)?;
    Some((cfg.url, cfg.schema))
}

const FILE_EMAIL: &str = r#"
[email]
transport = "file"
from = "Scorecard <scorecard@example.com>"
[[email.recipients]]
to = ["leadership@example.com"]
[[email.recipients]]
to = ["emea@example.com"]
segment = "region=EMEA"
"#;

/// The same project twice: on SQLite, and on PostgreSQL (`[store] url`).
fn pair(config: &str, url: &str, schema: &str) -> (Project, Project) {
    let sqlite = Project::new(config);
    let pg = Project::new(&format!(
        "[store]\nurl = \"{url}\"\nschema = \"{schema}\"\n{}",
        config.replace("[store]\npath = \"scorecard.db\"\n", "")
    ));
    (sqlite, pg)
}

/// Every kpis.json of the archive, by relative path.
fn all_kpis(p: &Project) -> Vec<(String, String)> {
    let mut out = Vec::new();
    fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.file_name().is_some_and(|n| n == "kpis.json") {
                let rel = path.strip_prefix(root).unwrap().display().to_string();
                out.push((rel, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    walk(&p.path("reports"), &p.path("reports"), &mut out);
    out.sort();
    out
}

fn assert_same_kpis(sqlite: &Project, pg: &Project) {
    let (a, b) = (all_kpis(sqlite), all_kpis(pg));
    assert!(!a.is_empty(), "no kpis.json written");
    assert_eq!(
        a.iter().map(|(p, _)| p).collect::<Vec<_>>(),
        b.iter().map(|(p, _)| p).collect::<Vec<_>>()
    );
    for ((path, x), (_, y)) in a.iter().zip(&b) {
        if x != y {
            let line = x
                .lines()
                .zip(y.lines())
                .position(|(l, r)| l != r)
                .unwrap_or(0);
            panic!(
                "{path} differs at line {}:\nsqlite:   {}\npostgres: {}",
                line + 1,
                x.lines().nth(line).unwrap_or(""),
                y.lines().nth(line).unwrap_or("")
            );
        }
    }
}

#[test]
fn every_command_works_on_postgres_with_the_same_figures() {
    let Some((url, schema)) = server("every_command_works_on_postgres") else {
        return;
    };
    let tiny = std::fs::read_to_string(fixture("tiny.toml")).unwrap();
    let (sqlite, pg) = pair(&format!("{tiny}\n{FILE_EMAIL}"), &url, &schema);
    let snapshot = fixture("tiny");
    let snapshot = snapshot.to_str().unwrap();
    for p in [&sqlite, &pg] {
        let (code, out, err) = p.status(&["import", snapshot]);
        assert_eq!(code, 0, "{err}");
        assert!(
            format!("{out}{err}").contains("customers.csv: 6 rows: 6 inserted"),
            "{out}{err}"
        );
        p.ok(&["run", "--since", "2026-W40", "--no-send"]);
        p.ok(&["run"]);
        p.ok(&["send"]);
    }
    assert_same_kpis(&sqlite, &pg);
    // Re-importing changes nothing; the ledger and the outbox agree.
    let (_, out, err) = pg.status(&["import", snapshot]);
    let said = format!("{out}{err}");
    assert!(
        said.contains("unchanged, this exact file was imported"),
        "{said}"
    );
    let outbox = |p: &Project| {
        std::fs::read_dir(p.path("outbox"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    assert_eq!(outbox(&sqlite), outbox(&pg));
    assert!(outbox(&pg) >= 2);
    for args in [
        &["show", "--period", "2026-W47"][..],
        &["show", "--period", "2026-W47", "--segment", "region=EMEA"],
        &["kpis"],
    ] {
        assert_eq!(sqlite.ok(args), pg.ok(args), "{args:?}");
    }
    let check = pg.ok(&["check"]);
    assert!(
        check.contains("store: PostgreSQL") && check.contains(&schema),
        "{check}"
    );
    assert!(check.contains("not a Citus coordinator"), "{check}");
    // A later snapshot replaces rows by id on both.
    for p in [&sqlite, &pg] {
        let dir = p.snapshot(
            "later",
            &[(
                "orders.csv",
                "order_id,customer_id,ordered_on,amount\nO1,C1,2026-11-17,1000.25\nO99,C2,2026-11-18,0.1\n",
            )],
        );
        let out = p
            .cmd()
            .args(["import", dir.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        p.ok(&["run", "--period", "2026-W47", "--no-send", "--force"]);
    }
    assert_same_kpis(&sqlite, &pg);
}

#[test]
fn bad_rows_and_duplicate_ids_are_refused_alike_on_postgres() {
    let Some((url, schema)) = server("bad_rows_and_duplicates") else {
        return;
    };
    let (sqlite, pg) = pair("", &url, &schema);
    let orders = "order_id,customer_id,ordered_on,amount\nO1,C1,2026-11-17,5\nO1,C1,2026-11-18,6\nO2,C1,not-a-date,7\nO3,C1,2026-11-19,8\n";
    let mut results = Vec::new();
    for p in [&sqlite, &pg] {
        let dir = p.snapshot("s", &[("orders.csv", orders)]);
        let (code, _, err) = p.status(&["import", dir.to_str().unwrap()]);
        assert_eq!(code, 3, "{err}");
        let (code, out, err) = p.status(&["import", "--skip-invalid", dir.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        let said = format!("{out}{err}");
        results.push((
            said.lines()
                .filter(|l| l.starts_with("orders.csv"))
                .map(str::to_string)
                .collect::<Vec<_>>(),
            out,
        ));
    }
    let (sq, pq) = (&results[0].0, &results[1].0);
    assert_eq!(sq, pq, "the same summary on both");
    assert!(
        sq.iter()
            .any(|l| l.contains("2 inserted") && l.contains("2 rejected")),
        "{sq:?}"
    );
    let rejects = |p: &Project| {
        let name = std::fs::read_dir(p.dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|n| n.contains("-rejects-"))
            .expect("a rejects file");
        p.read(&name)
    };
    // The same rejected rows; PostgreSQL finds repeated ids once the file
    // is staged, so it lists them after the file's other problems.
    let sorted = |t: String| {
        let mut l: Vec<String> = t.lines().map(str::to_string).collect();
        l.sort();
        l
    };
    assert_eq!(sorted(rejects(&sqlite)), sorted(rejects(&pg)));
    assert!(rejects(&pg).contains("duplicate order_id 'O1'"));
}

/// A generated business with the awkward parts real exports have: quotes,
/// commas and non-ASCII in segment values, an apostrophe, empty attributes,
/// orders of customers nobody exported, money with four decimals, and a
/// second snapshot that replaces part of the first.
fn nasty_snapshot(dir: &Path) {
    use scorecard::demo::generate::{generate, DemoOptions};
    generate(
        dir,
        &DemoOptions {
            weeks: 20,
            seed: 11,
            end: "2026-11-23".parse().unwrap(),
            customers: 400,
        },
    )
    .unwrap();
    let customers = dir.join("customers.csv");
    let mut text = std::fs::read_to_string(&customers).unwrap();
    let header = text.lines().next().unwrap().to_string();
    let cols: Vec<&str> = header.split(',').collect();
    let row = |id: &str, region: &str| {
        cols.iter()
            .map(|c| match *c {
                "customer_id" => id.to_string(),
                "acquired_on" => "2026-08-03".to_string(),
                "region" => region.to_string(),
                _ => String::new(),
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    for (id, region) in [
        ("N1", "\"Nord, \"\"Ost\"\"\""),
        ("N2", "Zürich – Süd"),
        ("N3", "O'Brien's"),
        ("N4", ""),
    ] {
        text.push_str(&row(id, region));
        text.push('\n');
    }
    std::fs::write(&customers, text).unwrap();
    let orders = dir.join("orders.csv");
    let mut text = std::fs::read_to_string(&orders).unwrap();
    let header = text.lines().next().unwrap().to_string();
    let cols: Vec<&str> = header.split(',').collect();
    for (i, (customer, amount)) in [
        ("N1", "19.9999"),
        ("N2", "0.0001"),
        ("N3", "1234567.8912"),
        ("GHOST", "42.5"),
        ("N4", "0.3"),
    ]
    .iter()
    .enumerate()
    {
        let row: Vec<String> = cols
            .iter()
            .map(|c| match *c {
                "order_id" => format!("NASTY{i}"),
                "customer_id" => customer.to_string(),
                "ordered_on" => format!("2026-11-{:02}", 10 + i),
                "amount" => amount.to_string(),
                _ => String::new(),
            })
            .collect();
        text.push_str(&row.join(","));
        text.push('\n');
    }
    std::fs::write(&orders, text).unwrap();
}

#[test]
fn a_nasty_generated_snapshot_gives_identical_kpis_on_both_stores() {
    let Some((url, schema)) = server("nasty_snapshot_equivalence") else {
        return;
    };
    let config = "[report]\nsegments = [\"region\", \"plan\"]\ntimezone = \"America/New_York\"\n";
    let (sqlite, pg) = pair(config, &url, &schema);
    let snap = sqlite.path("snap");
    nasty_snapshot(&snap);
    let later = sqlite.path("later");
    std::fs::create_dir_all(&later).unwrap();
    // The second snapshot: the orders file with every third row's amount
    // changed and a few rows more.
    let orders = std::fs::read_to_string(snap.join("orders.csv")).unwrap();
    let mut changed = String::new();
    for (i, line) in orders.lines().enumerate() {
        if i > 0 && i % 3 == 0 {
            let mut cells: Vec<String> = line.split(',').map(str::to_string).collect();
            let header: Vec<&str> = orders.lines().next().unwrap().split(',').collect();
            if let Some(j) = header.iter().position(|h| *h == "amount") {
                cells[j] = format!("{}.25", i % 97);
            }
            changed.push_str(&cells.join(","));
        } else {
            changed.push_str(line);
        }
        changed.push('\n');
    }
    std::fs::write(later.join("orders.csv"), changed).unwrap();
    for p in [&sqlite, &pg] {
        p.ok(&["import", snap.to_str().unwrap()]);
        p.ok(&[
            "run",
            "--since",
            "2026-W30",
            "--until",
            "2026-W46",
            "--no-send",
        ]);
        p.ok(&["import", later.to_str().unwrap()]);
        p.ok(&["run", "--since", "2026-W40", "--no-send"]);
    }
    assert_same_kpis(&sqlite, &pg);
}

#[test]
fn the_demo_runs_on_postgres_with_the_figures_of_sqlite() {
    let Some((url, schema)) = server("demo_on_postgres") else {
        return;
    };
    let p = Project::new("");
    p.ok(&["demo", "--dir", "sq", "--weeks", "12"]);
    let out = p.ok(&[
        "demo",
        "--dir",
        "pg",
        "--weeks",
        "12",
        "--store-url",
        &url,
        "--store-schema",
        &schema,
    ]);
    assert!(out.contains("demo: done in"), "{out}");
    let week = "reports/weekly/2026-W47/kpis.json";
    assert_eq!(p.read(&format!("sq/{week}")), p.read(&format!("pg/{week}")));
    assert!(
        !p.path("pg/scorecard.db").exists(),
        "no SQLite file for a PostgreSQL demo"
    );
}

/// Vendor exports through presets (a Salesforce report export, Stripe
/// payments with refunds dated apart) give the same kpis.json on both
/// stores, down to the data-quality counts: the ignored close date recorded
/// by the import, the deal created after its close counted from the rows.
#[test]
fn preset_exports_and_data_quality_alike_on_postgres() {
    let Some((url, schema)) = server("preset_exports_and_data_quality") else {
        return;
    };
    let (sqlite, pg) = pair(
        "[report]\ntimezone = \"Europe/Berlin\"\n[import.deals]\npreset = \"salesforce\"\n[import.orders]\npreset = \"stripe\"\n",
        &url,
        &schema,
    );
    let deals = fixture("presets/salesforce-report");
    let orders = fixture("presets/stripe");
    for p in [&sqlite, &pg] {
        let out = p.ok(&["import", deals.to_str().unwrap(), orders.to_str().unwrap()]);
        assert!(
            out.contains("1 open deal had a close date, ignored; 1 closed deal was created after its close date"),
            "{out}"
        );
        assert!(
            out.contains("unified_payments.csv: 5 rows: 7 inserted"),
            "{out}"
        );
        p.ok(&["run", "--no-send", "--period", "2026-W47"]);
        p.ok(&["run", "--no-send", "--period", "2026-W48"]);
    }
    assert_same_kpis(&sqlite, &pg);
    let w47: serde_json::Value =
        serde_json::from_str(&pg.read("reports/weekly/2026-W47/kpis.json")).unwrap();
    assert_eq!(
        w47["data_quality"],
        serde_json::json!({"open_deals_close_date_ignored": 1, "deals_created_after_close": 1})
    );
    let revenue = |doc: &serde_json::Value| {
        doc["kpis"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["id"] == "revenue" && k["segment"].is_null())
            .unwrap()["value"]
            .as_f64()
            .unwrap()
    };
    // 1200 + 50 + 30 + 100 − 40; W48: 20.5 − 30 (ch_3Q4's refund on 11-25).
    assert_eq!(revenue(&w47), 1340.0);
    let w48: serde_json::Value =
        serde_json::from_str(&pg.read("reports/weekly/2026-W48/kpis.json")).unwrap();
    assert_eq!(revenue(&w48), -9.5);
    assert_eq!(w48["data_quality"]["deals_created_after_close"], 0);
    let md = pg.read("reports/weekly/2026-W47/scorecard.md");
    assert!(
        md.contains("1 open deal had a close date (the expected close CRMs write) that the latest import of deals.csv ignored: it counts as open."),
        "{md}"
    );
}
