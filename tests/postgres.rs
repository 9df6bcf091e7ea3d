//! The PostgreSQL store end to end, through the binary: every command on a
//! real server (`SCORECARD_TEST_PG_URL`, each test in its own schema) gives
//! what it gives on SQLite, down to the byte of kpis.json. Without a server
//! each test says it stepped aside and passes; CI (`.ci/run`) starts one and
//! sets `SCORECARD_REQUIRE_PG=1`, which makes a missing server a failure.
#[path = "support/attributed.rs"]
mod attributed;
#[path = "support/http.rs"]
mod http;
#[path = "support/project.rs"]
mod project;
#[path = "support/smtp.rs"]
mod smtp;

use std::io::Write;
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

/// The PostgreSQL store's per-customer segment table (the engine's one join
/// per record for the segments) follows the customers: a re-import that
/// moves customers to another region, empties a plan and adds a customer,
/// then changes of the configured segments between runs (another order, one
/// attribute fewer), give SQLite's figures every time.
#[test]
fn the_per_customer_segment_table_follows_the_customers_on_postgres() {
    let Some((url, schema)) = server("customer_segments_follow") else {
        return;
    };
    let config = |segments: &str| format!("[report]\nsegments = [{segments}]\n");
    let (sqlite, pg) = pair(&config("\"region\", \"plan\""), &url, &schema);
    let snap = sqlite.path("snap");
    nasty_snapshot(&snap);
    // The second snapshot: every third customer in another region, every
    // fifth without a plan, and one new customer.
    let text = std::fs::read_to_string(snap.join("customers.csv")).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let at = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (region, plan, acquired) = (at("region"), at("plan"), at("acquired_on"));
    let mut moved = format!("{}\n", header.join(","));
    let mut changed = 0;
    for (i, line) in text.lines().skip(1).enumerate() {
        let mut cells: Vec<String> = line.split(',').map(str::to_string).collect();
        if cells.len() == header.len() && i % 3 == 0 && !cells[region].is_empty() {
            cells[region] = if cells[region] == "EMEA" {
                "APAC"
            } else {
                "EMEA"
            }
            .into();
            changed += 1;
        }
        if cells.len() == header.len() && i % 5 == 0 {
            cells[plan] = String::new();
        }
        moved.push_str(&cells.join(","));
        moved.push('\n');
    }
    assert!(changed > 50, "{changed} customers moved");
    let mut new = vec![String::new(); header.len()];
    new[at("customer_id")] = "NEW1".into();
    new[acquired] = "2026-10-05".into();
    new[region] = "Mars".into();
    moved.push_str(&format!("{}\n", new.join(",")));
    let later = sqlite.path("later");
    std::fs::create_dir_all(&later).unwrap();
    std::fs::write(later.join("customers.csv"), moved).unwrap();
    let run = [
        "run",
        "--since",
        "2026-W30",
        "--until",
        "2026-W46",
        "--no-send",
        "--force",
    ];
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let mut held = || -> (Option<String>, i64) {
        let meta = client
            .query_opt(
                &format!("SELECT value FROM {schema}.meta WHERE key = 'customer_segments'"),
                &[],
            )
            .unwrap()
            .map(|r| r.get(0));
        let n = client
            .query_one(
                &format!("SELECT count(*) FROM {schema}.customer_segments"),
                &[],
            )
            .unwrap()
            .get(0);
        (meta, n)
    };
    for p in [&sqlite, &pg] {
        p.ok(&["import", snap.to_str().unwrap()]);
        p.ok(&run);
    }
    assert_same_kpis(&sqlite, &pg);
    let customers = text.lines().count() as i64 - 1;
    assert_eq!(held(), (Some(r#"["region","plan"]"#.into()), customers));
    let before = all_kpis(&pg);
    let combos = || -> std::collections::BTreeMap<String, i64> {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        client
            .query(
                &format!("SELECT vals::text, combo FROM {schema}.segment_combos"),
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    };
    let ids_before = combos();
    for p in [&sqlite, &pg] {
        p.ok(&["import", later.to_str().unwrap()]);
        p.ok(&run);
    }
    assert_same_kpis(&sqlite, &pg);
    assert_ne!(before, all_kpis(&pg), "the moves changed no figure");
    assert_eq!(held(), (Some(r#"["region","plan"]"#.into()), customers + 1));
    // A combination keeps its id over the rebuild (a computation reading
    // during an import never takes one for another); Mars is new.
    let ids_after = combos();
    assert!(ids_after.len() > ids_before.len(), "{ids_after:?}");
    for (vals, id) in &ids_before {
        assert!(ids_after.get(vals).is_none_or(|a| a == id), "{vals}");
    }
    // The configured segments change: the run rebuilds the table first.
    let mut current = config("\"region\", \"plan\"");
    for (segments, held_now) in [
        ("\"Plan\", \"Region\"", r#"["plan","region"]"#),
        ("\"region\"", r#"["region"]"#),
    ] {
        let next = config(segments);
        for p in [&sqlite, &pg] {
            let text = std::fs::read_to_string(p.path("config.toml")).unwrap();
            assert!(text.contains(&current), "{text}");
            std::fs::write(p.path("config.toml"), text.replace(&current, &next)).unwrap();
            p.ok(&run);
        }
        current = next;
        assert_same_kpis(&sqlite, &pg);
        assert_eq!(held(), (Some(held_now.into()), customers + 1));
    }
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

/// Issue 10 item 4 on PostgreSQL: records' own segment cells (on each of
/// the five record files, owner as a segment) and win rates that add up
/// give the figures of SQLite, grouped in the database.
#[test]
fn records_carry_their_own_segment_cells_on_postgres() {
    let Some((url, schema)) = server("records_carry_their_own_segment_cells") else {
        return;
    };
    let (sqlite, pg) = pair(attributed::CONFIG, &url, &schema);
    for p in [&sqlite, &pg] {
        let snap = attributed::records_snapshot(p, "records");
        p.ok(&["import", snap.to_str().unwrap()]);
        p.ok(&["run", "--no-send", "--period", "2026-W47"]);
        let deals = p.snapshot("deals", &[("deals.csv", &attributed::win_rate_deals(true))]);
        p.ok(&["import", deals.to_str().unwrap()]);
        p.ok(&["run", "--no-send", "--period", "2026-W47"]);
    }
    assert_same_kpis(&sqlite, &pg);
    let doc: serde_json::Value =
        serde_json::from_str(&pg.read("reports/weekly/2026-W47/kpis.json")).unwrap();
    let value = |id: &str, segment: &str| {
        doc["kpis"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["id"] == id && k["segment"].as_str().unwrap_or("") == segment)
            .and_then(|k| k["value"].as_f64())
    };
    for (file, kpi, _) in attributed::record_files() {
        if file == "deals.csv" {
            continue; // replaced by the win-rate deals
        }
        for (segment, n) in attributed::EXPECTED {
            assert_eq!(value(kpi, segment), Some(n), "{file} {segment}");
        }
    }
    // Every deal attributed: the whole business lies between its segments.
    let whole = value("win_rate", "").unwrap();
    let emea = value("win_rate", "region=EMEA").unwrap();
    let apac = value("win_rate", "region=APAC").unwrap();
    assert!(emea <= whole && whole <= apac, "{emea} {whole} {apac}");
    assert_eq!(value("win_rate", "region=(none)"), None);
    assert_eq!(value("win_rate", "owner=alice"), Some(40.0));
}

// ------------------------------------------------------------ warehouse mode

/// The SQL type a warehouse would give a snapshot column (docs/scale-out.md:
/// text ids, dates, instants as timestamptz, numeric money, integer scores).
fn sql_type(column: &str) -> &'static str {
    match column {
        c if c.ends_with("_id") => "text",
        c if c.ends_with("_on") => "date",
        c if c.ends_with("_at") => "timestamptz",
        "amount" | "cost" | "value" => "numeric(18, 4)",
        "score" => "integer",
        _ => "text",
    }
}

/// A warehouse: the CSV files of `dir` copied into typed tables of the
/// schema `crm` (instants without an offset read in `tz`, as an import
/// reads them), with a view `v_<file>` over each. Returns `[source]` and
/// `[source.tables]` naming the views.
fn load_warehouse(url: &str, crm: &str, dir: &Path, tz: &str) -> String {
    let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
    client
        .batch_execute(&format!(
            "SET client_min_messages = warning; SET TimeZone = '{tz}';
             DROP SCHEMA IF EXISTS {crm} CASCADE; CREATE SCHEMA {crm}"
        ))
        .unwrap();
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".csv"))
        .collect();
    names.sort();
    let mut tables = String::new();
    for name in names {
        let file = name.trim_end_matches(".csv");
        let text = std::fs::read_to_string(dir.join(&name)).unwrap();
        let header = text.lines().next().unwrap();
        let columns: Vec<String> = header
            .split(',')
            .map(|c| format!("{c} {}", sql_type(c)))
            .collect();
        client
            .batch_execute(&format!(
                "CREATE TABLE {crm}.{file} ({})",
                columns.join(", ")
            ))
            .unwrap();
        let mut copy = client
            .copy_in(&format!(
                "COPY {crm}.{file} FROM STDIN (FORMAT csv, HEADER true)"
            ))
            .unwrap();
        copy.write_all(text.as_bytes()).unwrap();
        copy.finish().unwrap();
        client
            .batch_execute(&format!(
                "CREATE VIEW {crm}.v_{file} AS SELECT * FROM {crm}.{file}"
            ))
            .unwrap();
        tables.push_str(&format!("{file} = \"{crm}.v_{file}\"\n"));
    }
    format!("[source]\nurl = \"{url}\"\n[source.tables]\n{tables}")
}

fn sql(url: &str, statements: &str) {
    let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
    client.batch_execute(statements).unwrap();
}

#[test]
fn warehouse_mode_gives_the_kpis_of_an_import_of_the_same_csvs() {
    let Some((url, schema)) = server("warehouse_equivalence") else {
        return;
    };
    let crm = format!("{schema}_crm");
    let tz = "America/New_York";
    let config = format!("[report]\nsegments = [\"region\", \"plan\"]\ntimezone = \"{tz}\"\n");
    let imported = Project::new(&config);
    let snap = imported.path("snap");
    nasty_snapshot(&snap);
    let source = load_warehouse(&url, &crm, &snap, tz);
    // The store of warehouse mode stays SQLite: it keeps the cache and ledgers.
    let warehouse = Project::new(&format!("{config}{source}"));
    imported.ok(&["import", snap.to_str().unwrap()]);
    let (code, _, err) = warehouse.status(&["import", snap.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("import is not used in warehouse mode")
            && err.contains(&format!("{crm}.v_orders")),
        "{err}"
    );
    let check = warehouse.ok(&["check"]);
    assert!(check.contains("warehouse mode"), "{check}");
    assert!(
        check.contains(&format!("source: tickets = {crm}.v_tickets: "))
            && check.contains("data as of"),
        "{check}"
    );
    let range = ["run", "--since", "2026-W38", "--no-send"];
    imported.ok(&range);
    let said = warehouse.ok(&range);
    assert!(said.contains("0 cached"), "{said}");
    assert_same_kpis(&imported, &warehouse);
    for args in [
        &["show", "--period", "2026-W46"][..],
        &["show", "--period", "2026-W46", "--segment", "plan=Growth"],
        &["kpis"],
    ] {
        assert_eq!(imported.ok(args), warehouse.ok(args), "{args:?}");
    }
    // Unchanged data: every period comes from the cache.
    let said = warehouse.ok(&["run", "--since", "2026-W40", "--no-send", "--force"]);
    assert!(said.contains("(0 computed"), "{said}");
    // A change in the warehouse (a later amount, one more order) is noticed:
    // the figures are computed again and follow it, as a re-import would.
    sql(
        &url,
        &format!(
            "UPDATE {crm}.orders SET amount = amount + 1 WHERE order_id IN (SELECT order_id FROM {crm}.orders ORDER BY order_id LIMIT 3);
             INSERT INTO {crm}.orders (order_id, customer_id, ordered_on, amount) VALUES ('LATE1', 'N2', '2026-11-20', 12.5)"
        ),
    );
    let orders = {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let rows = client
            .query(
                &format!(
                    "SELECT order_id, customer_id, to_char(ordered_on, 'YYYY-MM-DD'), amount::text, coalesce(cost::text, '') FROM {crm}.orders ORDER BY order_id"
                ),
                &[],
            )
            .unwrap();
        let mut text = String::from("order_id,customer_id,ordered_on,amount,cost\n");
        for r in rows {
            let cells: Vec<String> = (0..5).map(|i| r.get::<_, String>(i)).collect();
            text.push_str(&cells.join(","));
            text.push('\n');
        }
        text
    };
    let later = imported.snapshot("later", &[("orders.csv", &orders)]);
    imported.ok(&["import", later.to_str().unwrap()]);
    let rerun = ["run", "--since", "2026-W40", "--no-send", "--force"];
    imported.ok(&rerun);
    let said = warehouse.ok(&rerun);
    assert!(said.contains("0 cached"), "{said}");
    assert_same_kpis(&imported, &warehouse);
    let manifest = warehouse.read("reports/weekly/2026-W46/manifest.json");
    assert!(
        manifest.contains(&format!("\"{crm}.v_orders\"")),
        "{manifest}"
    );
    sql(&url, &format!("DROP SCHEMA {crm} CASCADE"));
}

#[test]
fn warehouse_mode_names_a_missing_table_a_missing_column_and_a_refused_row() {
    let Some((url, schema)) = server("warehouse_errors") else {
        return;
    };
    let crm = format!("{schema}_crm");
    let source = load_warehouse(&url, &crm, &fixture("tiny"), "UTC");
    let tiny = std::fs::read_to_string(fixture("tiny.toml")).unwrap();
    let project = |source: &str| Project::new(&format!("{tiny}\n{source}"));
    let refused = |p: &Project, code: i32, says: &[&str]| {
        for args in [
            &["check"][..],
            &["run", "--period", "2026-W47", "--no-send"],
        ] {
            let (got, out, err) = p.status(args);
            assert_eq!(got, code, "{args:?}: {out}{err}");
            for s in says {
                assert!(err.contains(s), "{args:?}: {s:?} not in {err}");
            }
            assert!(!err.contains("panicked"), "{err}");
        }
        assert!(!p.path("reports/weekly").exists(), "nothing archived");
    };
    // A table that does not exist.
    let p = project(&source.replace(&format!("{crm}.v_deals"), &format!("{crm}.nope")));
    refused(
        &p,
        2,
        &[&format!(
            "[source.tables] deals = \"{crm}.nope\": no such table or view"
        )],
    );
    // A view without a required column.
    sql(
        &url,
        &format!("CREATE VIEW {crm}.v_orders_short AS SELECT order_id, customer_id, ordered_on FROM {crm}.orders"),
    );
    let p = project(&source.replace(&format!("{crm}.v_orders"), &format!("{crm}.v_orders_short")));
    refused(
        &p,
        3,
        &["column amount is missing", &format!("{crm}.v_orders_short")],
    );
    // Rows a snapshot file would refuse: named by table, id and column.
    sql(
        &url,
        &format!(
            "INSERT INTO {crm}.surveys (response_id, answered_on, kind, score) VALUES ('R90', '2026-11-18', 'ces', 3), ('R91', '2026-11-18', 'nps', 11);
             INSERT INTO {crm}.orders (order_id, customer_id, ordered_on, amount) VALUES ('  ', 'C1', '2026-11-18', 5)"
        ),
    );
    let p = project(&source);
    refused(
        &p,
        3,
        &[&format!(
            "{crm}.v_orders: order_id '': order_id: required value is empty"
        )],
    );
    sql(
        &url,
        &format!("DELETE FROM {crm}.orders WHERE order_id = '  '"),
    );
    refused(
        &p,
        3,
        &[
            &format!("{crm}.v_surveys (surveys) has 2 rows that surveys.csv would refuse"),
            &format!("{crm}.v_surveys: response_id 'R90': kind: unknown survey kind 'ces' (expected nps or csat)"),
            &format!("{crm}.v_surveys: response_id 'R91': score: 11 is outside the nps range 0..10"),
        ],
    );
    sql(&url, &format!("DROP SCHEMA {crm} CASCADE"));
}

#[test]
fn warehouse_mode_sends_through_smtp_exactly_once() {
    let Some((url, schema)) = server("warehouse_smtp") else {
        return;
    };
    let crm = format!("{schema}_crm");
    let source = load_warehouse(&url, &crm, &fixture("tiny"), "UTC");
    let server = smtp::TestServer::start(smtp::Script::default());
    let tiny = std::fs::read_to_string(fixture("tiny.toml")).unwrap();
    // The store of this one is PostgreSQL too, in its own schema.
    let p = Project::new(&format!(
        "{}\n[store]\nurl = \"{url}\"\nschema = \"{schema}\"\n{source}
[email]
transport = \"smtp\"
from = \"Scorecard <scorecard@example.com>\"
retry_delay_ms = 10
[email.smtp]
host = \"127.0.0.1\"
port = {}
tls = \"none\"
timeout_secs = 5
[[email.recipients]]
to = [\"leadership@example.com\"]
[[email.recipients]]
to = [\"emea@example.com\"]
segment = \"region=EMEA\"
",
        tiny.replace("[store]\npath = \"scorecard.db\"\n", ""),
        server.port
    ));
    let out = p.ok(&["run", "--period", "2026-W47"]);
    assert!(
        out.contains("emails 2 sent / 0 pending / 0 failed"),
        "{out}"
    );
    p.ok(&["run", "--period", "2026-W47"]);
    p.ok(&["send"]);
    let got = server.received();
    assert_eq!(got.len(), 2, "each recipient once");
    let mut to: Vec<String> = got.iter().flat_map(|m| m.to.clone()).collect();
    to.sort();
    assert_eq!(to, ["emea@example.com", "leadership@example.com"]);
    let text = String::from_utf8_lossy(&got[0].data).into_owned();
    assert!(text.contains("2026-W47"), "{text}");
    assert!(
        !p.path("scorecard.db").exists(),
        "the ledger is in PostgreSQL"
    );
    sql(&url, &format!("DROP SCHEMA {crm} CASCADE"));
}

#[test]
fn slack_and_teams_posts_go_out_exactly_once_on_a_postgres_store() {
    let Some((url, schema)) = server("notify_on_postgres") else {
        return;
    };
    let hook = http::Webhook::start(vec![]);
    let (slack, teams) = (hook.url("/slack/hook"), hook.url("/teams/hook"));
    let tiny = std::fs::read_to_string(fixture("tiny.toml")).unwrap();
    let p = Project::new(&format!(
        "{}\n[store]\nurl = \"{url}\"\nschema = \"{schema}\"\n
[[notify]]
kind = \"slack\"
url_env = \"SLACK_URL\"
retry_delay_ms = 10
[[notify]]
kind = \"teams\"
url_env = \"TEAMS_URL\"
segment = \"region=EMEA\"
retry_delay_ms = 10
",
        tiny.replace("[store]\npath = \"scorecard.db\"\n", "")
    ));
    p.ok(&["import", fixture("tiny").to_str().unwrap()]);
    let run = |args: &[&str]| {
        let out = p
            .cmd()
            .env("SLACK_URL", &slack)
            .env("TEAMS_URL", &teams)
            .args(args)
            .output()
            .unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{args:?}: {said}");
        said
    };
    let said = run(&["run", "--period", "2026-W47"]);
    assert!(
        said.contains("posts 2 sent / 0 pending / 0 failed"),
        "{said}"
    );
    run(&["run", "--period", "2026-W47"]);
    run(&["send"]);
    let got = hook.received();
    let mut paths: Vec<&str> = got.iter().map(|r| r.path.as_str()).collect();
    paths.sort();
    assert_eq!(paths, ["/slack/hook", "/teams/hook"], "each webhook once");
    let teams_body = got.iter().find(|r| r.path == "/teams/hook").unwrap().json();
    assert_eq!(
        teams_body["attachments"][0]["content"]["type"],
        "AdaptiveCard"
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&p.read("reports/weekly/2026-W47/manifest.json")).unwrap();
    let states: Vec<&str> = manifest["posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["sent", "sent"]);
    assert!(
        !p.path("scorecard.db").exists(),
        "the ledger is in PostgreSQL"
    );
    // `--force` posts them again, once more each (as on SQLite).
    run(&["run", "--period", "2026-W47", "--force"]);
    assert_eq!(hook.received().len(), 4);
}

/// Warehouse mode: the records' own segment columns (a `region` column on
/// the deals, tickets… views, the deals' `owner`) give the figures of an
/// import of the same CSVs.
#[test]
fn warehouse_mode_reads_the_records_own_segment_cells() {
    let Some((url, schema)) = server("warehouse_record_cells") else {
        return;
    };
    let crm = format!("{schema}_crm");
    let imported = Project::new(attributed::CONFIG);
    let snap = attributed::records_snapshot(&imported, "snap");
    let source = load_warehouse(&url, &crm, &snap, "UTC");
    let warehouse = Project::new(&format!(
        "[report]\nsegments = [\"region\", \"owner\"]\nout_dir = \"reports\"\n{source}"
    ));
    imported.ok(&["import", snap.to_str().unwrap()]);
    for p in [&imported, &warehouse] {
        p.ok(&["run", "--no-send", "--period", "2026-W47"]);
    }
    assert_same_kpis(&imported, &warehouse);
    let doc: serde_json::Value =
        serde_json::from_str(&warehouse.read("reports/weekly/2026-W47/kpis.json")).unwrap();
    for (file, kpi, _) in attributed::record_files() {
        for (segment, n) in attributed::EXPECTED {
            let got = doc["kpis"]
                .as_array()
                .unwrap()
                .iter()
                .find(|k| k["id"] == kpi && k["segment"].as_str().unwrap_or("") == segment)
                .and_then(|k| k["value"].as_f64());
            assert_eq!(got, Some(n), "{file} {segment}");
        }
    }
    sql(&url, &format!("DROP SCHEMA {crm} CASCADE"));
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
