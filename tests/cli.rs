//! End-to-end tests of the `scorecard` binary: real SQLite files, real
//! templates, the environment cleared. Hand-computed figures come from the
//! tiny fixture business in tests/fixtures/tiny (the arithmetic is in the
//! comments).
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A temporary project folder with a config file.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new(config: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.toml"), config).unwrap();
        Project { dir }
    }

    fn tiny() -> Project {
        Project::new(&std::fs::read_to_string(fixture("tiny.toml")).unwrap())
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("scorecard").unwrap();
        c.env_clear()
            .current_dir(self.dir.path())
            .env("SCORECARD_TODAY", "2026-11-23");
        c
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs a command expected to fail; returns (exit code, stderr).
    fn fail(&self, args: &[&str]) -> (i32, String) {
        let out = self.cmd().args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?} should fail");
        (
            out.status.code().unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    }

    fn snapshot(&self, name: &str, files: &[(&str, &str)]) -> PathBuf {
        let dir = self.path(name);
        std::fs::create_dir_all(&dir).unwrap();
        for (f, text) in files {
            std::fs::write(dir.join(f), text).unwrap();
        }
        dir
    }

    fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.path("scorecard.db")).unwrap()
    }

    fn kpis(&self, period: &str) -> Value {
        let text =
            std::fs::read_to_string(self.path(&format!("reports/weekly/{period}/kpis.json")))
                .unwrap();
        serde_json::from_str(&text).unwrap()
    }
}

fn kpi<'a>(doc: &'a Value, id: &str, segment: Option<&str>) -> &'a Value {
    doc["kpis"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id && k["segment"].as_str() == segment)
        .unwrap_or_else(|| panic!("no {id} for {segment:?}"))
}

fn value(doc: &Value, id: &str, segment: Option<&str>) -> Option<f64> {
    kpi(doc, id, segment)["value"].as_f64()
}

fn close(a: Option<f64>, b: f64) {
    let a = a.expect("a value");
    assert!((a - b).abs() < 1e-6, "{a} != {b}");
}

// ------------------------------------------------------------------ import

#[test]
fn import_stores_rows_and_reimport_changes_nothing() {
    let p = Project::tiny();
    let out = p.ok(&["import", fixture("tiny").to_str().unwrap()]);
    assert!(
        out.contains("customers.csv: 6 rows: 6 inserted, 0 replaced, 0 unchanged"),
        "{out}"
    );
    let db = p.db();
    let region: String = db
        .query_row(
            "SELECT value FROM customer_attributes WHERE customer_id = 'C3' AND name = 'region'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(region, "EMEA");
    let (amount, cost): (f64, Option<f64>) = db
        .query_row(
            "SELECT amount, cost FROM orders WHERE order_id = 'O4'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((amount, cost), (-30.0, None));
    // A local time is read in the report time zone (UTC here).
    let opened: i64 = db
        .query_row(
            "SELECT opened_at FROM tickets WHERE ticket_id = 'T3'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(opened, 1_794_988_800_000); // 2026-11-18T08:00:00Z, in milliseconds
    drop(db);
    let before = std::fs::read(p.path("scorecard.db")).unwrap();
    let out = p.ok(&["import", fixture("tiny").to_str().unwrap()]);
    assert!(
        out.contains("orders.csv: unchanged, this exact file was imported on"),
        "{out}"
    );
    assert_eq!(
        std::fs::read(p.path("scorecard.db")).unwrap(),
        before,
        "re-import must not touch the store"
    );
}

#[test]
fn a_later_snapshot_replaces_rows_by_id() {
    let p = Project::tiny();
    p.ok(&["import", fixture("tiny").to_str().unwrap()]);
    let later = p.snapshot("later", &[("Orders.csv", "\u{feff}ORDER_ID , Amount,Customer_ID,ordered_on\nO1,120,C1,2026-11-16\nO9,5,C1,2026-11-19\nO2,50,C2,2026-11-17\n")]);
    let out = p.ok(&["import", later.to_str().unwrap()]);
    // Headers match case-insensitively in any order, BOM accepted. O2 is the same
    // as before only when its cost is the same too: it had none, so unchanged.
    assert!(
        out.contains("Orders.csv: 3 rows: 1 inserted, 1 replaced, 1 unchanged"),
        "{out}"
    );
    let amount: f64 = p
        .db()
        .query_row("SELECT amount FROM orders WHERE order_id = 'O1'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(amount, 120.0);
}

#[test]
fn column_mapping_date_format_and_stage_mapping() {
    let p = Project::new(
        "[import.deals]\nfile = \"sales_pipeline.csv\"\ncolumns = { deal_id = \"opportunity_id\", created_on = \"engage_date\", stage = \"deal_stage\", closed_on = \"close_date\", amount = \"close_value\", owner = \"sales_agent\" }\ndate_format = \"%m/%d/%Y\"\nstages = { won = [\"Won\"], lost = [\"Lost\"] }\n",
    );
    let snap = p.snapshot("crm", &[("sales_pipeline.csv", "opportunity_id,sales_agent,deal_stage,engage_date,close_date,close_value\n1C1,Moses,Won,10/20/2016,03/01/2017,1054\nZ06,Darcel,Engaging,10/25/2016,,\n")]);
    let out = p.ok(&["import", snap.to_str().unwrap()]);
    assert!(
        out.contains("sales_pipeline.csv: 2 rows: 2 inserted"),
        "{out}"
    );
    let stages: Vec<(String, String)> = p
        .db()
        .prepare("SELECT deal_id, stage FROM deals ORDER BY deal_id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        stages,
        [
            ("1C1".to_string(), "won".to_string()),
            ("Z06".to_string(), "open".to_string())
        ]
    );
}

/// Each bad input: the exact message, exit code 3, and the store unchanged.
#[test]
fn bad_input_is_refused_whole_with_file_line_column() {
    let cases: &[(&str, &str, &str)] = &[
        ("customers.csv", "customer_id,churned_on\nC1,\n", "customers.csv:1: missing required column acquired_on; found: customer_id, churned_on; expected: customer_id, acquired_on, churned_on (optional)"),
        ("customers.csv", "customer_id,acquired_on\nC1,2026-13-01\n", "customers.csv:2:2: acquired_on: '2026-13-01' is not a date (expected YYYY-MM-DD"),
        ("orders.csv", "order_id,customer_id,ordered_on,amount\nO1,C1,2026-11-16,1,000\n", "orders.csv:2: expected 4 fields as in the header, found 5"),
        ("orders.csv", "order_id,customer_id,ordered_on,amount\nO1,C1,2026-11-16,12abc\n", "orders.csv:2:4: amount: '12abc' is not a number"),
        ("orders.csv", "order_id,customer_id,ordered_on,amount\nO1,,2026-11-16,5\n", "orders.csv:2:2: customer_id: required value is empty"),
        ("orders.csv", "order_id,customer_id,ordered_on,amount\nO1,C1,2026-11-16,5\nO1,C1,2026-11-17,6\n", "orders.csv:3:1: duplicate order_id 'O1': it appears on an earlier line of this file"),
        // A won deal closed before its creation and an open deal with a
        // close date are kept now (tests/import.rs: deals_as_crms_write_them).
        ("deals.csv", "deal_id,created_on,stage,closed_on\nD1,2026-11-10,won,\n", "deals.csv:2:4: closed_on: required when the deal is won"),
        ("surveys.csv", "response_id,answered_on,kind,score\nR1,2026-11-10,nps,11\n", "surveys.csv:2:4: score: 11 is outside the nps range 0..10"),
        ("surveys.csv", "response_id,answered_on,kind,score\nR1,2026-11-10,ces,3\n", "surveys.csv:2:3: kind: unknown survey kind 'ces' (expected nps or csat)"),
        ("spend.csv", "spend_id,spent_on,category,amount\nS1,2026-11-10,travel,3\n", "spend.csv:2:3: category: unknown spend category 'travel'"),
        ("tickets.csv", "ticket_id,opened_at,first_response_at\nT1,2026-11-10T10:00:00Z,2026-11-10T09:00:00Z\n", "tickets.csv:2:3: first_response_at: 2026-11-10T09:00:00+00:00 is before opened_at 2026-11-10T10:00:00+00:00"),
        ("customers.csv", "customer_id,acquired_on\nC\u{0}\u{1},2026-01-01\n\u{0}\u{0}\u{0}", "customers.csv:3: expected 2 fields as in the header, found 1"),
    ];
    let p = Project::tiny();
    p.ok(&["import", fixture("tiny").to_str().unwrap()]);
    let before = std::fs::read(p.path("scorecard.db")).unwrap();
    // A refused import under a changed time zone does not re-derive anything.
    let snap = p.snapshot(
        "tz",
        &[(
            "orders.csv",
            "order_id,customer_id,ordered_on,amount\nO1,C1,bad,1\n",
        )],
    );
    let out = p
        .cmd()
        .args(["import", snap.to_str().unwrap()])
        .env("SCORECARD_REPORT__TIMEZONE", "Europe/Paris")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        std::fs::read(p.path("scorecard.db")).unwrap(),
        before,
        "the time zone change touched a refused import's store"
    );
    for (i, (file, text, expected)) in cases.iter().enumerate() {
        let snap = p.snapshot(&format!("bad{i}"), &[(file, text)]);
        let (code, stderr) = p.fail(&["import", snap.to_str().unwrap()]);
        assert_eq!(code, 3, "{stderr}");
        assert!(
            stderr.contains(expected),
            "case {i}: expected\n  {expected}\nin\n  {stderr}"
        );
        assert!(stderr.contains("the store is unchanged"), "{stderr}");
        assert_eq!(
            std::fs::read(p.path("scorecard.db")).unwrap(),
            before,
            "case {i} changed the store"
        );
    }
}

#[test]
fn invalid_utf8_binary_files_and_unreadable_folders() {
    let p = Project::tiny();
    let snap = p.path("latin1");
    std::fs::create_dir_all(&snap).unwrap();
    std::fs::write(
        snap.join("activities.csv"),
        // UTF-8 (é) with one stray Latin-1 byte: a damaged UTF-8 file, read
        // as UTF-8 so that the bad cell is named (a file with no UTF-8 at all
        // is read as Windows-1252: tests/import.rs).
        b"activity_id,occurred_on,kind\nA1,2026-11-10,caf\xc3\xa9\nA2,2026-11-10,caf\xe9\n",
    )
    .unwrap();
    let (code, stderr) = p.fail(&["import", snap.to_str().unwrap()]);
    assert_eq!(code, 3);
    assert!(
        stderr.contains("activities.csv:3:3: kind: invalid UTF-8 near byte offset 66"),
        "{stderr}"
    );
    assert!(
        !p.path("scorecard.db").exists(),
        "a failed first import leaves no store behind"
    );

    let bin = p.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(
        bin.join("orders.csv"),
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    )
    .unwrap();
    let (code, stderr) = p.fail(&["import", bin.to_str().unwrap()]);
    assert_eq!(code, 3);
    assert!(stderr.contains("orders.csv:1: "), "{stderr}");

    let (code, stderr) = p.fail(&["import", p.path("missing").to_str().unwrap()]);
    assert_eq!(code, 3);
    assert!(stderr.contains("missing: cannot read"), "{stderr}");

    let empty = p.snapshot("empty", &[("notes.txt", "hello")]);
    let (code, stderr) = p.fail(&["import", empty.to_str().unwrap()]);
    assert_eq!(code, 3);
    assert!(
        stderr.contains("no snapshot files in this folder"),
        "{stderr}"
    );
}

#[test]
fn skip_invalid_imports_the_rest_and_writes_rejects() {
    let p = Project::tiny();
    let snap = p.snapshot("mixed", &[("orders.csv", "order_id,customer_id,ordered_on,amount\nO1,C1,2026-11-16,5\nO2,C1,yesterday,6\nO3,C1,2026-11-17,7\n")]);
    let out = p
        .cmd()
        .args(["import", "--skip-invalid", snap.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stdout.contains("orders.csv: 3 rows: 2 inserted, 0 replaced, 0 unchanged, 1 rejected"),
        "{stdout}"
    );
    assert!(
        stderr.contains("1 rows rejected; written with their reasons to"),
        "{stderr}"
    );
    let rejects: Vec<_> = std::fs::read_dir(p.dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("rejects"))
        .collect();
    assert_eq!(rejects.len(), 1);
    let text = std::fs::read_to_string(rejects[0].path()).unwrap();
    assert!(
        text.contains("orders.csv,3,ordered_on: 'yesterday' is not a date"),
        "{text}"
    );
    assert!(text.contains("\"O2,C1,yesterday,6\""), "{text}");
}

#[test]
fn many_problems_are_capped_with_a_count() {
    let p = Project::tiny();
    let mut text = String::from("order_id,customer_id,ordered_on,amount\n");
    for i in 0..60 {
        text.push_str(&format!("O{i},C1,bad,1\n"));
    }
    let snap = p.snapshot("many", &[("orders.csv", &text)]);
    let (code, stderr) = p.fail(&["import", snap.to_str().unwrap()]);
    assert_eq!(code, 3);
    assert!(stderr.contains("(60 problems)"), "{stderr}");
    assert!(
        stderr.contains("and 10 more (orders.csv ordered_on ×10)"),
        "{stderr}"
    );
}

// ------------------------------------------------------------ KPI engine

fn tiny_run() -> Project {
    let p = Project::tiny();
    p.ok(&["import", fixture("tiny").to_str().unwrap()]);
    p.ok(&["run", "--no-send", "--period", "2026-W47"]);
    p
}

#[test]
fn every_kpi_matches_the_hand_computation() {
    let p = tiny_run();
    let doc = p.kpis("2026-W47");
    assert_eq!(doc["schema"], "scorecard.kpis/1");
    assert_eq!(doc["period"]["start"], "2026-11-16");
    assert_eq!(doc["period"]["end"], "2026-11-23");
    let v = |id| value(&doc, id, None);
    // Customer base of W47 (start 11-16, end 11-23):
    // S = C1, C2 (churns 11-18 ≥ start), C6 = 3; C5 churned 11-10.
    close(v("customers_start"), 3.0);
    // N = C3 (11-17), C4 (11-16) = 2; churned in P = C2, C4 = 2.
    close(v("new_customers"), 2.0);
    close(v("churned_customers"), 2.0);
    // E = C1, C3, C6 = 3 (C4 acquired and churned in the same week).
    close(v("customers_end"), 3.0);
    // retention = 100 (E − N) / S = 100 (3 − 2) / 3; churn = 100 L / S, L = C2.
    close(v("retention_rate"), 100.0 / 3.0);
    close(v("churn_rate"), 100.0 / 3.0);
    assert_eq!(kpi(&doc, "churn_rate", None)["n"], 3);
    // Orders in W47: 100 + 50 + 200 − 30 (refund of unknown C9) = 320 over 4.
    close(v("revenue"), 320.0);
    close(v("orders"), 4.0);
    close(v("average_order_value"), 80.0);
    // revenue / ((S + E) / 2) = 320 / 3.
    close(v("revenue_per_customer"), 320.0 / 3.0);
    // Orders with a cost: O1, O3: 100 × (300 − 160) / 300.
    close(v("gross_margin"), 140.0 / 3.0);
    // clv = rpc × m / churn = (320/3) × (140/300) / (1/3) = 149.333…
    close(v("clv"), (320.0 / 3.0) * (140.0 / 300.0) / (1.0 / 3.0));
    // Spend: marketing 300 + sales 100; crm 50; cac = 400 / N.
    close(v("acquisition_spend"), 400.0);
    close(v("crm_cost"), 50.0);
    close(v("cac"), 200.0);
    close(
        v("clv_cac_ratio"),
        (320.0 / 3.0) * (140.0 / 300.0) / (1.0 / 3.0) / 200.0,
    );
    // Deals: created D2, D4 (500 + 700); won D1 (cycle 15 d), D2 (4 d); lost D3.
    close(v("deals_created"), 2.0);
    close(v("pipeline_created"), 1200.0);
    close(v("deals_won"), 2.0);
    close(v("deals_lost"), 1.0);
    close(v("win_rate"), 200.0 / 3.0);
    close(v("won_revenue"), 1500.0);
    close(v("average_deal_size"), 750.0);
    close(v("sales_cycle_days"), 9.5);
    // Tickets opened in W47: T1..T4 (T5 is W46). Responses 2 h, 24 h, 6 h; T3 unanswered.
    close(v("tickets_opened"), 4.0);
    close(v("avg_first_response_hours"), 32.0 / 3.0);
    close(v("median_first_response_hours"), 6.0);
    // Within 24 h (exactly 24 h counts): T1, T2, T4 = 3 of 4.
    close(v("first_response_sla_rate"), 75.0);
    // Resolved: T1 (24 h), T4 (48 h, resolved after the week: still counts).
    close(v("resolution_rate"), 50.0);
    close(v("avg_resolution_hours"), 36.0);
    // NPS: 10, 9 promoters; 7 passive; 3 detractor → 100 (2 − 1) / 4.
    close(v("nps"), 25.0);
    close(v("nps_responses"), 4.0);
    // CSAT: 5 and 3 → one of two ≥ 4.
    close(v("csat"), 50.0);
    // Activities: call ×2, referral ×1, meeting 0 (seen in W46); owners ann, bob.
    close(v("activities.call"), 2.0);
    close(v("activities.referral"), 1.0);
    close(v("activities.meeting"), 0.0);
    close(v("activities_per_owner"), 1.5);
    // ROI: realized = 1000 × clamp((25 − 0) / (50 − 0)) = 500; crm_roi = 100 (500 − 50) / 50.
    close(v("crm_value_realized"), 500.0);
    close(v("crm_roi"), 900.0);
    close(v("crm_roi_projected"), 1900.0);
}

#[test]
fn intervals_comparisons_and_statuses() {
    let p = tiny_run();
    let doc = p.kpis("2026-W47");
    let nps = kpi(&doc, "nps", None);
    // p = 0.5, d = 0.25: margin = 1.96 × 100 × sqrt((0.75 − 0.0625) / 4) = 81.25…
    let margin = 1.96 * 100.0 * ((0.75f64 - 0.0625) / 4.0).sqrt();
    close(nps["ci95"][0].as_f64(), 25.0 - margin);
    close(nps["ci95"][1].as_f64(), 25.0 + margin);
    // Target 40, floor 30: 25 misses both.
    assert_eq!(nps["status"], "off_track");
    assert_eq!(nps["target"]["value"], 40.0);
    close(nps["target"]["delta"].as_f64(), -15.0);
    close(nps["target"]["delta_pct"].as_f64(), -37.5);
    assert_eq!(
        nps["industry"]["year"].as_i64().map(|y| y > 2000),
        Some(true)
    );
    // No NPS responses in W46: the previous comparison is null, and with no
    // responses in the whole trailing window, so is the trailing average.
    assert!(nps["previous"].is_null());
    assert!(nps["trailing_avg"].is_null());
    // Revenue W46 = 80 (O5): delta 240, +300 %, no `significant` on a non-interval KPI.
    let revenue = kpi(&doc, "revenue", None);
    assert_eq!(revenue["previous"]["value"], 80.0);
    close(revenue["previous"]["delta_pct"].as_f64(), 300.0);
    assert!(revenue["previous"].get("significant").is_none());
    assert!(revenue["ci95"].is_null());
    // Tickets of W46: T5, answered within SLA → 100 %; W47 75 % with n = 4:
    // too few to tell (null, not false).
    let sla = kpi(&doc, "first_response_sla_rate", None);
    assert!(sla["previous"]["significant"].is_null(), "{sla}");
    // Trailing average over W43..W46: revenue is 0 (not null) in weeks without
    // orders once orders.csv is imported, so (0 + 0 + 0 + 80) / 4.
    assert_eq!(revenue["trailing_avg"]["value"], 20.0);
    // Usual range of revenue from W35..W46: eleven weeks of 0 and W46 = 80.
    // mean 80 / 12, mean moving range 80 / 11 (one jump of 80 in 11 pairs):
    // 6.667 ± 2.66 × 7.273 = [−12.68, 26.01]; 320 is unusual.
    let (mean, mr) = (80.0 / 12.0, 80.0 / 11.0);
    close(revenue["usual"][0].as_f64(), mean - 2.66 * mr);
    close(revenue["usual"][1].as_f64(), mean + 2.66 * mr);
    assert_eq!(revenue["unusual"], true);
    // Orders is a count: the lower limit is cut at 0.
    let orders = kpi(&doc, "orders", None);
    close(orders["usual"][0].as_f64(), 0.0);
    close(orders["usual"][1].as_f64(), 1.0 / 12.0 + 2.66 / 11.0);
    // NPS has no history: no usual range, unusual unknown.
    assert!(nps["usual"].is_null() && nps["unusual"].is_null(), "{nps}");
    // Zero denominators are null with a reason, never NaN.
    let cac = kpi(&doc, "cac", Some("plan=Pro"));
    assert!(cac["value"].is_null());
    assert!(
        cac["reason"]
            .as_str()
            .unwrap()
            .contains("spend.csv has no plan column"),
        "{cac}"
    );
}

#[test]
fn segments_and_unknown_customers() {
    let p = tiny_run();
    let doc = p.kpis("2026-W47");
    // EMEA: O1 100 + O3 200; APAC: O2 50; (none): the refund of unknown C9.
    close(value(&doc, "revenue", Some("region=EMEA")), 300.0);
    close(value(&doc, "revenue", Some("region=APAC")), 50.0);
    close(value(&doc, "revenue", Some("region=(none)")), -30.0);
    // C6 has an empty region: a known customer in (none).
    close(value(&doc, "customers_start", Some("region=(none)")), 1.0);
    // Targets of totals are for the whole business; rates keep theirs per segment.
    assert_eq!(kpi(&doc, "revenue", None)["status"], "on_track"); // 320 ≥ 300
    assert!(kpi(&doc, "revenue", Some("region=EMEA"))["target"].is_null());
    assert_eq!(
        kpi(&doc, "revenue", Some("region=EMEA"))["status"],
        "no_target"
    );
    assert_eq!(
        kpi(&doc, "nps", Some("region=EMEA"))["target"]["value"],
        40.0
    );
    // Spend has a region column: EMEA acquisition spend 300 / 1 new (C3).
    close(value(&doc, "cac", Some("region=EMEA")), 300.0);
    let plans: Vec<_> = doc["kpis"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["id"] == "revenue")
        .map(|k| k["segment"].clone())
        .collect();
    assert!(plans.contains(&Value::from("plan=Pro")) && plans.contains(&Value::from("plan=Basic")));
}

#[test]
fn runs_are_deterministic_and_incremental() {
    let p = tiny_run();
    let first = std::fs::read(p.path("reports/weekly/2026-W47/kpis.json")).unwrap();
    let out = p.ok(&["run", "--no-send", "--period", "2026-W47"]);
    assert!(out.contains("(0 computed, 27 cached)"), "{out}");
    assert_eq!(
        std::fs::read(p.path("reports/weekly/2026-W47/kpis.json")).unwrap(),
        first
    );
    // A second store built from the same snapshot on the same pinned date gives
    // the same reports to the byte (the clock is pinned by SCORECARD_TODAY too).
    let twin = tiny_run();
    for f in ["kpis.json", "scorecard.md", "scorecard.html", "email.html"] {
        let a = std::fs::read(p.path(&format!("reports/weekly/2026-W47/{f}"))).unwrap();
        let b = std::fs::read(twin.path(&format!("reports/weekly/2026-W47/{f}"))).unwrap();
        assert!(a == b, "{f} differs between two identical runs");
    }
    // Settings that change no cached figure (the trailing window) keep the cache.
    let out = p
        .cmd()
        .args(["run", "--no-send", "--period", "2026-W47"])
        .env("SCORECARD_REPORT__TRAILING_PERIODS", "2")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("(0 computed, 27 cached)"));
    // Importing one new week's rows recomputes only that week's periods.
    let week = p.snapshot(
        "w48",
        &[(
            "orders.csv",
            "order_id,customer_id,ordered_on,amount\nO100,C1,2026-11-24,10\n",
        )],
    );
    p.ok(&["import", week.to_str().unwrap()]);
    let counts: (i64, i64) = p
        .db()
        .query_row(
            "SELECT count(*), sum(computations) FROM computed_periods",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        counts.0, 27,
        "no cached period was invalidated by a row outside it"
    );
    let out = p
        .cmd()
        .args(["run", "--no-send", "--period", "2026-W48"])
        .env("SCORECARD_TODAY", "2026-11-30")
        .output()
        .unwrap();
    let out = String::from_utf8(out.stdout).unwrap();
    // W48 and its year-ago week 2025-W48 are new; the 25 others come from the cache.
    assert!(out.contains("(2 computed, 25 cached)"), "{out}");
    // Touching W47's data invalidates W47 only.
    let fix = p.snapshot(
        "fix",
        &[(
            "orders.csv",
            "order_id,customer_id,ordered_on,amount\nO1,C1,2026-11-16,101\n",
        )],
    );
    p.ok(&["import", fix.to_str().unwrap()]);
    let stale: i64 = p
        .db()
        .query_row(
            "SELECT count(*) FROM computed_periods WHERE period = '2026-W47'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stale, 0);
    let w46: i64 = p
        .db()
        .query_row(
            "SELECT count(*) FROM computed_periods WHERE period = '2026-W46'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(w46, 1);
}

/// A customer that changes segment moves its records between segments in
/// every period that holds one, before its acquisition too: those periods
/// are computed again, the others stay cached. (The SQLite store keeps no
/// customer index since its migration 15: the import reads each record
/// table once for the customer's key.)
#[test]
fn a_resegmented_customer_invalidates_the_periods_of_its_records() {
    let p = Project::tiny();
    p.ok(&["import", fixture("tiny").to_str().unwrap()]);
    // C3 (EMEA, acquired 2026-11-17) ordered in W41 already.
    let early = p.snapshot(
        "early",
        &[(
            "orders.csv",
            "order_id,customer_id,ordered_on,amount\nO9,C3,2026-10-05,7\n",
        )],
    );
    p.ok(&["import", early.to_str().unwrap()]);
    p.ok(&["run", "--no-send", "--period", "2026-W41"]);
    close(
        value(&p.kpis("2026-W41"), "revenue", Some("region=EMEA")),
        7.0,
    );
    let cached = |period: &str| -> i64 {
        p.db()
            .query_row(
                "SELECT count(*) FROM computed_periods WHERE period = ?1",
                [period],
                |r| r.get(0),
            )
            .unwrap()
    };
    assert_eq!((cached("2026-W41"), cached("2026-W40")), (1, 1));
    let moved = p.snapshot(
        "moved",
        &[(
            "customers.csv",
            "customer_id,acquired_on,churned_on,region,plan\nC3,2026-11-17,,APAC,Basic\n",
        )],
    );
    p.ok(&["import", moved.to_str().unwrap()]);
    assert_eq!(
        (cached("2026-W41"), cached("2026-W40")),
        (0, 1),
        "the week of C3's order is stale, the week before is not"
    );
    p.ok(&["run", "--no-send", "--period", "2026-W41"]);
    let doc = p.kpis("2026-W41");
    close(value(&doc, "revenue", Some("region=APAC")), 7.0);
    assert!(
        doc["kpis"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| !(k["id"] == "revenue" && k["segment"] == "region=EMEA" && k["value"] == 7.0)),
        "{doc}"
    );
}

#[test]
fn measures_override_and_custom_kpis() {
    let p = Project::new(&format!(
        "{}\n[kpi.won_per_call]\nformula = \"deals_won / activities.call\"\n[kpi.big_orders]\nsql = \"SELECT count(*) FROM orders WHERE amount >= 100 AND ordered_on >= :start AND ordered_on < :end\"\nunit = \"count\"\n",
        std::fs::read_to_string(fixture("tiny.toml")).unwrap()
    ));
    p.ok(&["import", fixture("tiny").to_str().unwrap()]);
    let m = p.snapshot(
        "m",
        &[(
            "measures.csv",
            "period,kpi,value,segment\n2026-W47,nps,61,\n2026-W47,csat,90,region=EMEA\n",
        )],
    );
    p.ok(&["import", m.to_str().unwrap()]);
    p.ok(&["run", "--no-send", "--period", "2026-W47"]);
    let doc = p.kpis("2026-W47");
    close(value(&doc, "nps", None), 61.0);
    close(value(&doc, "csat", Some("region=EMEA")), 90.0);
    close(value(&doc, "won_per_call", None), 1.0); // 2 won / 2 calls
    close(value(&doc, "big_orders", None), 2.0); // O1 100, O3 200
                                                 // The objective now sees the measured NPS: 1000 × (61 − 0)/50 clamped to 1.
    close(value(&doc, "crm_value_realized", None), 1000.0);
}

#[test]
fn show_and_kpis_commands() {
    let p = tiny_run();
    let out = p.ok(&["show", "--period", "2026-W47", "--segment", "region=EMEA"]);
    assert!(out.contains("Revenue") && out.contains("$300"), "{out}");
    let out = p.ok(&["kpis"]);
    assert!(
        out.contains("nps") && out.contains("higher") && out.contains("outcome"),
        "{out}"
    );
    let (code, stderr) = p.fail(&["show", "--period", "2026-W47", "--segment", "region=Mars"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no segment 'region=Mars'"), "{stderr}");
}

/// CSAT in W46 and W47: 40 North-America responses (90 % → 50 %, a real
/// drop) and 7 EMEA ones (100 % → 0 %, a huge move on too few to tell).
fn small_segment_project() -> Project {
    let p = Project::new(
        "[store]\npath = \"scorecard.db\"\n[report]\nsegments = [\"region\"]\nout_dir = \"reports\"\n",
    );
    let mut surveys = String::from("response_id,answered_on,kind,score,customer_id,comment\n");
    let mut id = 0;
    let mut add = |day: &str, customer: &str, count: usize, good: usize| {
        for i in 0..count {
            id += 1;
            let score = if i < good { 5 } else { 2 };
            surveys.push_str(&format!("R{id},{day},csat,{score},{customer},\n"));
        }
    };
    add("2026-11-10", "C1", 40, 36);
    add("2026-11-11", "C2", 7, 7);
    add("2026-11-17", "C1", 40, 20);
    add("2026-11-18", "C2", 7, 0);
    let dir = p.snapshot(
        "snap",
        &[
            (
                "customers.csv",
                "customer_id,acquired_on,churned_on,region\nC1,2025-01-01,,NA\nC2,2025-01-01,,EMEA\n",
            ),
            ("surveys.csv", &surveys),
        ],
    );
    p.ok(&["import", dir.to_str().unwrap()]);
    p.ok(&["run", "--no-send", "--period", "2026-W47"]);
    p
}

/// The "vs previous" cell of a KPI's row in a Markdown scorecard table.
fn md_change<'a>(md: &'a str, title: &str) -> Vec<&'a str> {
    md.lines()
        .filter(|l| l.starts_with(&format!("| {title} |")))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').collect();
            // Headline: | KPI | Value | vs previous | Status |; scorecard: 5th cell.
            if cells.len() == 6 {
                cells[3]
            } else {
                cells[5]
            }
        })
        .collect()
}

#[test]
fn one_significance_rule_in_every_view() {
    let p = small_segment_project();
    let doc = p.kpis("2026-W47");
    let sig = |segment| kpi(&doc, "csat", segment)["previous"]["significant"].clone();
    // Whole business 43/47 → 20/47 and NA 90 % → 50 % (n = 40): significant.
    assert_eq!(sig(None), Value::Bool(true));
    assert_eq!(sig(Some("region=NA")), Value::Bool(true));
    // EMEA 100 % → 0 % on 7 responses: null, too few to tell.
    assert_eq!(sig(Some("region=EMEA")), Value::Null);
    assert_eq!(kpi(&doc, "csat", Some("region=EMEA"))["n"], 7);

    let dir = p.path("reports/weekly/2026-W47");
    let read = |rel: &str| std::fs::read_to_string(dir.join(rel)).unwrap();
    let whole = read("scorecard.md");
    let emea = read("segments/region-emea/scorecard.md");
    let na = read("segments/region-na/scorecard.md");
    for (md, starred) in [(&whole, true), (&na, true), (&emea, false)] {
        let cells = md_change(md, "Customer satisfaction");
        assert!(!cells.is_empty(), "no CSAT row in\n{md}");
        for cell in cells {
            assert_eq!(cell.contains('*'), starred, "{cell:?} in\n{md}");
        }
        let insights: Vec<&str> = md
            .lines()
            .skip_while(|l| !l.starts_with("## What the figures say"))
            .take_while(|l| !l.starts_with("## Scorecard"))
            .filter(|l| l.starts_with("- Customer satisfaction"))
            .collect();
        assert!(!insights.is_empty(), "no CSAT insight in\n{md}");
        for i in insights {
            assert_eq!(i.contains("a significant change"), starred, "{i}");
            assert_eq!(i.contains("too few to tell"), !starred, "{i}");
        }
        let movers: Vec<&str> = md
            .lines()
            .skip_while(|l| !l.starts_with("## Top movers"))
            .filter(|l| l.starts_with("- Customer satisfaction"))
            .collect();
        for m in movers {
            assert_eq!(m.contains("significant"), starred, "{m}");
        }
    }
    // The terminal view agrees too.
    let show = p.ok(&["show", "--period", "2026-W47", "--segment", "region=EMEA"]);
    let row = show
        .lines()
        .find(|l| l.starts_with("Customer satisfaction "))
        .unwrap_or_else(|| panic!("{show}"));
    assert!(!row.contains('*'), "{row}");
}

// --------------------------------------------------- data as of a Monday cut

/// A stationary help desk: 80 tickets a day from W40 to W50 of 2026, first
/// response lognormal (median 6 h), resolution a lognormal 20 h later, 3 %
/// never resolved. Deterministic (xorshift).
fn stationary_tickets() -> Vec<(i64, Option<i64>, Option<i64>)> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let normal = |u: &mut dyn FnMut() -> f64| {
        let (a, b) = (u().max(1e-12), u());
        (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()
    };
    let start = chrono::DateTime::parse_from_rfc3339("2026-09-28T00:00:00Z")
        .unwrap()
        .timestamp();
    let mut out = Vec::new();
    for day in 0..77 {
        for _ in 0..80 {
            let opened = start + day * 86_400 + (uniform() * 86_400.0) as i64;
            let response_h = 6.0 * normal(&mut uniform).exp();
            let resolve_h = response_h + 20.0 * normal(&mut uniform).exp();
            let resolved = uniform() >= 0.03;
            out.push((
                opened,
                Some(opened + (response_h * 3600.0) as i64),
                resolved.then(|| opened + (resolve_h * 3600.0) as i64),
            ));
        }
    }
    out
}

fn tickets_csv(tickets: &[(i64, Option<i64>, Option<i64>)], cut: Option<i64>) -> String {
    let at = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    let mut csv = String::from("ticket_id,opened_at,first_response_at,resolved_at\n");
    for (i, (opened, response, resolved)) in tickets.iter().enumerate() {
        let known = |t: &Option<i64>| t.filter(|t| cut.is_none_or(|c| *t < c)).map(at);
        if cut.is_some_and(|c| *opened >= c) {
            continue;
        }
        csv.push_str(&format!(
            "T{i},{},{},{}\n",
            at(*opened),
            known(response).unwrap_or_default(),
            known(resolved).unwrap_or_default()
        ));
    }
    csv
}

#[test]
fn a_malformed_as_of_is_refused_before_anything_is_read() {
    let p = Project::tiny();
    let (code, stderr) = p.fail(&[
        "import",
        fixture("tiny").to_str().unwrap(),
        "--as-of",
        "Monday",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--as-of \"Monday\": not an RFC 3339 instant"),
        "{stderr}"
    );
    assert!(stderr.contains("2026-11-30T00:00:00Z"), "a hint: {stderr}");
    assert!(!p.path("scorecard.db").exists());
}

/// Issue 10's property: on a stationary business, the latest week computed
/// from an export cut right after it (Monday 00:00) agrees with the same
/// week computed from the full data, and raises no significant change the
/// full data does not.
#[test]
fn a_monday_cut_gives_the_figures_of_the_full_data() {
    let tickets = stationary_tickets();
    let cut = chrono::DateTime::parse_from_rfc3339("2026-11-30T00:00:00Z")
        .unwrap()
        .timestamp();
    let config = "[store]\npath = \"scorecard.db\"\n[report]\nout_dir = \"reports\"\n";
    let project = |csv: String, as_of: Option<&str>| {
        let p = Project::new(config);
        let dir = p.snapshot("snap", &[("tickets.csv", &csv)]);
        let mut args = vec!["import".to_string(), dir.to_str().unwrap().to_string()];
        if let Some(t) = as_of {
            args.extend(["--as-of".to_string(), t.to_string()]);
        }
        let out = p
            .cmd()
            .env("SCORECARD_TODAY", "2026-12-01")
            .args(&args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = p
            .cmd()
            .env("SCORECARD_TODAY", "2026-12-01")
            .args(["run", "--no-send", "--period", "2026-W48"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        p
    };
    let full = project(tickets_csv(&tickets, None), None);
    let cut_csv = tickets_csv(&tickets, Some(cut));
    let cut_project = project(cut_csv.clone(), Some("2026-11-30T00:00:00Z"));
    let (full, short) = (full.kpis("2026-W48"), cut_project.kpis("2026-W48"));
    assert_eq!(
        short["as_of"]["tickets.csv"], "2026-11-30T00:00:00Z",
        "{}",
        short["as_of"]
    );

    // The full data: nothing of W48 is pending any more.
    for id in ["first_response_sla_rate", "resolution_rate"] {
        assert_eq!(kpi(&full, id, None)["pending"], 0, "{id}");
        assert_eq!(kpi(&full, id, None)["provisional"], false, "{id}");
    }
    // The cut: Sunday's tickets are still inside their 24 h SLA and the last
    // three days' inside the 72 h resolution window.
    let pending = |id| kpi(&short, id, None)["pending"].as_u64().unwrap();
    assert!(
        pending("first_response_sla_rate") > 20,
        "{}",
        pending("first_response_sla_rate")
    );
    assert!(pending("resolution_rate") > pending("first_response_sla_rate"));
    assert_eq!(kpi(&short, "resolution_rate", None)["provisional"], true);

    // Rates: the full value lies in the cut value's own 95 % interval.
    for id in ["first_response_sla_rate", "resolution_rate"] {
        let (f, c) = (kpi(&full, id, None), kpi(&short, id, None));
        let v = f["value"].as_f64().unwrap();
        let (lo, hi) = (
            c["ci95"][0].as_f64().unwrap(),
            c["ci95"][1].as_f64().unwrap(),
        );
        assert!(
            lo <= v && v <= hi,
            "{id}: full {v} outside the cut's [{lo}, {hi}]"
        );
        // Provisional: never significant, whatever the move.
        assert!(c["previous"]["significant"].is_null(), "{id}: {c}");
    }
    for id in [
        "first_response_sla_rate",
        "resolution_rate",
        "avg_first_response_hours",
        "median_first_response_hours",
        "avg_resolution_hours",
    ] {
        eprintln!(
            "{id}: full {} (n {}), cut {} (n {}, pending {})",
            kpi(&full, id, None)["value"],
            kpi(&full, id, None)["n"],
            kpi(&short, id, None)["value"],
            kpi(&short, id, None)["n"],
            kpi(&short, id, None)["pending"]
        );
    }
    // Durations: within 5 % of the full data's.
    for id in [
        "avg_first_response_hours",
        "median_first_response_hours",
        "avg_resolution_hours",
    ] {
        let (f, c) = (
            value(&full, id, None).unwrap(),
            value(&short, id, None).unwrap(),
        );
        assert!((c - f).abs() <= 0.05 * f, "{id}: cut {c} against full {f}");
    }
    // No significant change in the cut that the full data does not raise.
    for k in short["kpis"].as_array().unwrap() {
        if k["previous"]["significant"] == true {
            let f = kpi(&full, k["id"].as_str().unwrap(), k["segment"].as_str());
            assert_eq!(f["previous"]["significant"], true, "{k}");
        }
    }

    // The report says so: the as-of under the title, the figures marked.
    let md =
        std::fs::read_to_string(cut_project.path("reports/weekly/2026-W48/scorecard.md")).unwrap();
    assert!(md.contains("data as of Mon 30 Nov 00:00 UTC"), "{md}");
    assert!(
        md.contains("| Resolution rate | 80.9% (provisional) |"),
        "{md}"
    );
    assert!(
        md.contains("- Provisional: 125 tickets of this period are still inside their window"),
        "{md}"
    );

    // A later import that only moves the as-of (one December ticket, W48's
    // rows untouched) recomputes W48: its pending tickets are decided now,
    // the unanswered ones as misses, and the figure is the plain formula.
    let later = format!("{cut_csv}TX,2026-12-08T10:00:00Z,,\n");
    let dir = cut_project.snapshot("later", &[("tickets.csv", &later)]);
    let run = |args: &[&str]| {
        let out = cut_project
            .cmd()
            .env("SCORECARD_TODAY", "2026-12-10")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    run(&[
        "import",
        dir.to_str().unwrap(),
        "--as-of",
        "2026-12-10T00:00:00Z",
    ]);
    run(&["run", "--no-send", "--period", "2026-W48"]);
    let matured = cut_project.kpis("2026-W48");
    let sla = kpi(&matured, "first_response_sla_rate", None);
    assert_eq!(sla["pending"], 0, "{sla}");
    assert_eq!(sla["provisional"], false);
    let w48_rows: Vec<Vec<&str>> = cut_csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|r| ("2026-11-23".."2026-11-30").contains(&&r[1][..10]))
        .collect();
    let hours = |a: &str, b: &str| {
        let t = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp();
        (t(b) - t(a)) as f64 / 3600.0
    };
    let within = w48_rows
        .iter()
        .filter(|r| !r[2].is_empty() && hours(r[1], r[2]) <= 24.0)
        .count();
    close(
        sla["value"].as_f64(),
        100.0 * within as f64 / w48_rows.len() as f64,
    );
    assert!(
        sla["value"].as_f64().unwrap()
            < kpi(&short, "first_response_sla_rate", None)["value"]
                .as_f64()
                .unwrap()
    );

    // The test can fail: the plain formulas on the cut export are biased.
    // Resolved / opened for W48 from the cut file falls outside the full
    // value's interval, and the plain mean resolution time runs fast.
    let w48 = |t: &str| ("2026-11-23".."2026-11-30").contains(&&t[..10]);
    let rows: Vec<Vec<&str>> = cut_csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|r| w48(r[1]))
        .collect();
    let resolved = rows.iter().filter(|r| !r[3].is_empty()).count() as f64;
    let naive = 100.0 * resolved / rows.len() as f64;
    eprintln!("naive resolution rate of the cut: {naive}");
    let f = kpi(&full, "resolution_rate", None);
    assert!(
        naive < f["ci95"][0].as_f64().unwrap(),
        "naive {naive} against {f}"
    );
}

// ------------------------------------------------------------ config errors

#[test]
fn config_errors_exit_2_with_line_and_column() {
    let p = Project::new("[report]\ncadence = \"weekly\"\ncolour = \"blue\"\n");
    let (code, stderr) = p.fail(&["run", "--no-send"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("config.toml:3:1: unknown field `colour`"),
        "{stderr}"
    );
    let p = Project::new("[[email.recipients]]\nto = [\"not-an-address\"]\n");
    let (code, stderr) = p.fail(&["run"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("'not-an-address' is not a valid email address"),
        "{stderr}"
    );
    let p = Project::new("");
    let (code, stderr) = p.fail(&["run", "--period", "2026-W99"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("2026 has no ISO week 99"), "{stderr}");
    // An environment override of a key.
    let out = p
        .cmd()
        .args(["run", "--no-send"])
        .env("SCORECARD_REPORT__TIMEZONE", "Mars/Base")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown time zone 'Mars/Base'"));
}

// ------------------------------------------------------------------ reports

/// Replaces what changes from run to run (clock readings, paths) with placeholders.
fn stable(text: &str) -> String {
    let time = regex::Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").unwrap();
    time.replace_all(text, "[time]")
        .replace(env!("CARGO_MANIFEST_DIR"), "[repo]")
}

fn without_svg(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(i) = rest.find("<svg") {
        out.push_str(&rest[..i]);
        match rest[i..].find("</svg>") {
            Some(j) => {
                out.push_str("[svg]");
                rest = &rest[i + j + "</svg>".len()..];
            }
            None => {
                rest = &rest[i..];
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn rendered_scorecards_match_their_snapshots() {
    let p = tiny_run();
    let dir = p.path("reports/weekly/2026-W47");
    let md = std::fs::read_to_string(dir.join("scorecard.md")).unwrap();
    insta::assert_snapshot!("tiny_scorecard_md", stable(&md));
    let html = std::fs::read_to_string(dir.join("scorecard.html")).unwrap();
    insta::assert_snapshot!("tiny_scorecard_html", without_svg(&stable(&html)));
    let segment = std::fs::read_to_string(dir.join("segments/region-emea/scorecard.md")).unwrap();
    insta::assert_snapshot!("tiny_segment_emea_md", stable(&segment));
    let index = std::fs::read_to_string(p.path("reports/index.md")).unwrap();
    insta::assert_snapshot!("tiny_index_md", index);
    // Every chart the email refers to is in the archive as a PNG.
    let email = std::fs::read_to_string(dir.join("email.html")).unwrap();
    for cid in email
        .split("cid:")
        .skip(1)
        .map(|s| s.split('"').next().unwrap())
    {
        let png = std::fs::read(dir.join("charts").join(cid)).unwrap();
        assert_eq!(&png[1..4], b"PNG");
    }
    assert!(
        email.contains("style=\""),
        "CSS is inlined into the email HTML"
    );
}

#[test]
fn untrusted_text_comes_out_harmless() {
    let p = Project::tiny();
    p.ok(&["import", fixture("tiny").to_str().unwrap()]);
    let evil = p.snapshot(
        "evil",
        &[
            ("customers.csv", "customer_id,acquired_on,region,plan\nX1,2026-01-01,../etc,Pro\nX2,2026-01-01,a/b,Pro\n"),
            ("orders.csv", "order_id,customer_id,ordered_on,amount\nX1-1,X1,2026-11-17,10\nX2-1,X2,2026-11-17,10\n"),
        ],
    );
    p.ok(&["import", evil.to_str().unwrap()]);
    p.ok(&["run", "--no-send", "--period", "2026-W47"]);
    let dir = p.path("reports/weekly/2026-W47");
    let html = std::fs::read_to_string(dir.join("scorecard.html")).unwrap();
    // The survey comment `<script>alert(1)</script>` is escaped, never markup.
    assert!(!html.contains("<script>alert(1)</script>"));
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt;")
            || html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "comment not shown escaped"
    );
    let md = std::fs::read_to_string(dir.join("scorecard.md")).unwrap();
    assert!(md.contains("\\<script\\>alert(1)\\</script\\>"), "{md}");
    // Segment `../etc` and `a/b` become plain folder names inside segments/.
    assert!(dir.join("segments/region-etc/scorecard.html").exists());
    assert!(dir.join("segments/region-a-b/scorecard.html").exists());
    assert!(!p.path("reports/weekly/etc").exists() && !p.path("reports/etc").exists());
}

#[test]
fn a_user_template_overrides_one_file_and_a_broken_one_stops_the_run() {
    let p = Project::new(&format!(
        "{}\n",
        std::fs::read_to_string(fixture("tiny.toml"))
            .unwrap()
            .replace(
                "out_dir = \"reports\"",
                "out_dir = \"reports\"\ntemplates_dir = \"mytemplates\""
            )
    ));
    std::fs::create_dir_all(p.path("mytemplates")).unwrap();
    std::fs::write(
        p.path("mytemplates/scorecard.md"),
        "CUSTOM {{ period.id }} {{ headline | length }}\n",
    )
    .unwrap();
    p.ok(&["import", fixture("tiny").to_str().unwrap()]);
    p.ok(&["run", "--no-send", "--period", "2026-W47"]);
    let dir = p.path("reports/weekly/2026-W47");
    assert_eq!(
        std::fs::read_to_string(dir.join("scorecard.md")).unwrap(),
        "CUSTOM 2026-W47 8\n"
    );
    assert!(
        std::fs::read_to_string(dir.join("scorecard.html"))
            .unwrap()
            .contains("<table>"),
        "the built-in HTML stays"
    );
    let before = std::fs::read(dir.join("kpis.json")).unwrap();

    std::fs::write(
        p.path("mytemplates/scorecard.html"),
        "<p>\n{{ period.id }}\n{{ no_such_variable }}\n</p>\n",
    )
    .unwrap();
    let (code, stderr) = p.fail(&["run", "--no-send", "--period", "2026-W47"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("scorecard.html") && stderr.contains("no_such_variable"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(dir.join("kpis.json")).unwrap(),
        before,
        "the archive is untouched"
    );

    std::fs::write(p.path("mytemplates/scorecard.html"), "{% if %}\n").unwrap();
    let (code, stderr) = p.fail(&["run", "--no-send", "--period", "2026-W47"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("scorecard.html"), "{stderr}");
}

#[test]
fn user_templates_load_partials_and_check_names_unused_files() {
    let p = Project::new(&format!(
        "{}\n",
        std::fs::read_to_string(fixture("tiny.toml"))
            .unwrap()
            .replace(
                "out_dir = \"reports\"",
                "out_dir = \"reports\"\ntemplates_dir = \"mytemplates\""
            )
    ));
    std::fs::create_dir_all(p.path("mytemplates/partials")).unwrap();
    for (name, text) in [
        (
            "scorecard.md",
            "{% include \"partials/head.md\" %}BODY {{<badge text=\"ok\"/>}}\n",
        ),
        ("partials/head.md", "HEAD {{ period.id }}\n"),
        (
            "components.md",
            "{% component badge(text) %}[{{ text }}]{% endcomponent badge %}",
        ),
        // Misspelt: overrides nothing, and takes its partial down with it.
        ("scorecrad.html", "{% include \"partials/orphan.md\" %}"),
        ("partials/orphan.md", "never shown"),
        (".scorecard.md.swp", "\u{0}not a template"),
    ] {
        std::fs::write(p.path("mytemplates").join(name), text).unwrap();
    }
    let out = p.cmd().arg("check").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .collect();
    assert_eq!(warnings.len(), 2, "{stderr}");
    for (w, file) in warnings
        .iter()
        .zip(["partials/orphan.md", "scorecrad.html"])
    {
        assert!(
            w.starts_with("warning: template ")
                && w.contains(&format!("mytemplates/{file} is not used: it overrides no built-in template (scorecard.html, scorecard.md, email.html, index.html, index.md)")),
            "{w}"
        );
    }
    assert!(String::from_utf8_lossy(&out.stdout).contains("all parse"));

    p.ok(&["import", fixture("tiny").to_str().unwrap()]);
    p.ok(&["run", "--no-send", "--period", "2026-W47"]);
    let md = std::fs::read_to_string(p.path("reports/weekly/2026-W47/scorecard.md")).unwrap();
    assert!(md.starts_with("HEAD 2026-W47\n"), "{md}");
    assert!(md.contains("BODY [ok]"), "{md}");
    assert!(!md.contains("never shown"), "{md}");
}

/// A real headless Chromium opens the standalone page: no console errors,
/// the tables are there, and a screenshot is kept in target/test-artifacts.
#[test]
fn the_scorecard_page_renders_in_a_real_browser() {
    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            std::process::Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
    let Some(chromium) = chromium else {
        // CI (.ci/run) installs chromium and requires this test; on a
        // developer machine without it, the test says so and steps aside.
        assert!(
            std::env::var_os("SCORECARD_REQUIRE_BROWSER").is_none(),
            "chromium is not installed but SCORECARD_REQUIRE_BROWSER is set"
        );
        eprintln!("SKIPPED the browser test: no chromium on this machine (apt-get install chromium; .ci/run does)");
        return;
    };
    let p = tiny_run();
    let page = p.path("reports/weekly/2026-W47/scorecard.html");
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("scorecard.png");
    let _ = std::fs::remove_file(&shot);
    let profile = tempfile::tempdir().unwrap();
    let common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
    ];
    let url = format!("file://{}", page.display());
    let out = std::process::Command::new(chromium)
        .args(common)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args([
            "--window-size=1280,2400",
            &format!("--screenshot={}", shot.display()),
            &url,
        ])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    let console: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .collect();
    assert!(console.is_empty(), "console messages: {console:?}");
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(png.len() > 10_000, "screenshot too small to show a page");
    let dom = std::process::Command::new(chromium)
        .args(common)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--dump-dom", &url])
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("<caption>Outcome: what it achieves</caption>"),
        "the parsed page lacks the tables"
    );
    assert!(
        dom.matches("<svg").count() > 10,
        "sparklines and charts are inline SVG"
    );
}

// ------------------------------------------------------- running for years

#[test]
fn last_catches_up_missed_weeks_once() {
    let p = Project::tiny();
    p.ok(&["import", fixture("tiny").to_str().unwrap()]);
    let run_on = |day: &str| {
        let out = p
            .cmd()
            .args(["run", "--no-send", "--allow-stale"])
            .env("SCORECARD_TODAY", day)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let first = run_on("2026-11-23");
    assert!(first.contains("1 period (2026-W47)"), "{first}");
    // The clock jumps three weeks: W48, W49 and W50 are caught up, oldest first.
    let out = run_on("2026-12-14");
    assert!(out.contains("3 periods (2026-W48 … 2026-W50)"), "{out}");
    for w in ["2026-W48", "2026-W49", "2026-W50"] {
        assert!(p.path(&format!("reports/weekly/{w}/kpis.json")).exists());
    }
    // Running again the same day reruns only the last period.
    let again = run_on("2026-12-14");
    assert!(again.contains("1 period (2026-W50)"), "{again}");
    let index = std::fs::read_to_string(p.path("reports/index.md")).unwrap();
    let w50 = index.find("2026-W50").unwrap();
    let w47 = index.find("2026-W47").unwrap();
    assert!(w50 < w47, "newest first");
}

#[test]
fn stale_data_is_archived_but_not_mailed() {
    let p = Project::tiny();
    p.ok(&["import", fixture("tiny").to_str().unwrap()]);
    let out = p
        .cmd()
        .args(["run", "--period", "2026-W49"])
        .env("SCORECARD_TODAY", "2026-12-14")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("orders.csv has no rows after 2026-11-22: import a fresh snapshot, or pass --allow-stale"), "{stderr}");
    let html = std::fs::read_to_string(p.path("reports/weekly/2026-W49/scorecard.html")).unwrap();
    assert!(html.contains("Data warning"));
}

#[test]
fn overlapping_runs_wait_then_fail_naming_the_holder() {
    let p = Project::new("[run]\nlock_wait_secs = 1\n");
    let holder = scorecard::lock::RunLock::acquire(
        &p.path("scorecard.db"),
        std::time::Duration::from_secs(1),
        "pid 4242 `scorecard run` since 2026-11-23T06:00:00Z",
    )
    .unwrap();
    let snap = p.snapshot(
        "s",
        &[(
            "orders.csv",
            "order_id,customer_id,ordered_on,amount\nO1,C1,2026-11-16,5\n",
        )],
    );
    let started = std::time::Instant::now();
    let (code, stderr) = p.fail(&["import", snap.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
    assert!(
        stderr.contains("another scorecard run holds the lock") && stderr.contains("pid 4242"),
        "{stderr}"
    );
    drop(holder);
    // Released: the next run takes it.
    p.ok(&["import", snap.to_str().unwrap()]);

    // Another process holds the lock, then dies: its lock goes with it.
    let lock_path = p.path("scorecard.lock");
    let mut other = std::process::Command::new("flock")
        .args([
            "-x",
            "--no-fork",
            lock_path.to_str().unwrap(),
            "sleep",
            "60",
        ])
        .spawn()
        .expect("flock (util-linux) runs");
    let held = (0..50).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let f = std::fs::File::open(&lock_path).unwrap();
        fs2::FileExt::try_lock_exclusive(&f).is_err()
    });
    assert!(held, "the other process took the lock");
    let (code, _) = p.fail(&["import", snap.to_str().unwrap()]);
    assert_eq!(code, 1, "a live holder blocks the run");
    other.kill().unwrap();
    other.wait().unwrap();
    p.ok(&["import", snap.to_str().unwrap()]);
}

#[test]
fn init_writes_a_working_project_and_never_overwrites() {
    let p = Project::new("");
    std::fs::remove_file(p.path("config.toml")).unwrap();
    let out = p.ok(&["init", "."]);
    assert!(out.contains("wrote    ./config.toml"), "{out}");
    assert!(p.path("templates/scorecard.html").exists() && p.path("benchmarks.toml").exists());
    let out = p.ok(&["check"]);
    assert!(
        out.contains("config: config.toml is valid")
            && out.contains("templates: built-in, with overrides"),
        "{out}"
    );
    std::fs::write(p.path("config.toml"), "# mine\n").unwrap();
    let out = p.ok(&["init", "."]);
    assert!(out.contains("kept     ./config.toml"), "{out}");
    assert_eq!(
        std::fs::read_to_string(p.path("config.toml")).unwrap(),
        "# mine\n"
    );
}

#[test]
fn demo_runs_the_whole_job() {
    let p = Project::new("");
    let out = p.ok(&["demo", "--dir", "d", "--weeks", "60"]);
    assert!(out.contains("demo: done in"), "{out}");
    let week = p.path("d/reports/weekly/2026-W47");
    for f in [
        "scorecard.html",
        "scorecard.md",
        "kpis.json",
        "kpis.csv",
        "manifest.json",
        "segments/region-emea/scorecard.html",
    ] {
        assert!(week.join(f).exists(), "{f}");
    }
    assert!(p.path("d/reports/index.html").exists());
    assert!(
        p.path("d/reports/weekly/2026-W40/scorecard.html").exists(),
        "history is archived too"
    );
    let md = std::fs::read_to_string(week.join("scorecard.md")).unwrap();
    assert!(
        md.contains("EMEA (region) is holding back"),
        "the demo's EMEA support story shows in the insights:\n{md}"
    );
    // Findings already true last week are collapsed, not repeated in full;
    // `(none)` is never shown as such.
    assert!(md.contains("is still off track since"), "{md}");
    assert!(
        md.contains(" running, worse each week: "),
        "a streak:\n{md}"
    );
    assert!(!md.contains("(none)"), "{md}");
    let outbox: Vec<_> = std::fs::read_dir(p.path("d/outbox"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(outbox.len(), 2, "one email per recipient entry");
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(week.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["emails"].as_array().unwrap().len(), 2);
}

#[test]
fn analyst_notes_and_monthly_cadence() {
    let config = std::fs::read_to_string(fixture("tiny.toml"))
        .unwrap()
        .replace(
            "out_dir = \"reports\"",
            "out_dir = \"reports\"\nnotes_dir = \"notes\"",
        );
    let p = Project::new(&config);
    std::fs::create_dir_all(p.path("notes")).unwrap();
    std::fs::write(
        p.path("notes/2026-W47.md"),
        "**Churn** rose after the price change.\n\n<script>alert(2)</script>\n",
    )
    .unwrap();
    p.ok(&["import", fixture("tiny").to_str().unwrap()]);
    p.ok(&["run", "--no-send", "--period", "2026-W47"]);
    let dir = p.path("reports/weekly/2026-W47");
    let html = std::fs::read_to_string(dir.join("scorecard.html")).unwrap();
    assert!(
        html.contains("<strong>Churn</strong> rose after the price change."),
        "the note is rendered"
    );
    assert!(
        !html.contains("<script>alert(2)"),
        "raw HTML in a note is never passed through"
    );
    let md = std::fs::read_to_string(dir.join("scorecard.md")).unwrap();
    assert!(
        md.contains("## Analyst note\n\n**Churn** rose") && md.contains("&lt;script>alert(2)"),
        "{md}"
    );

    // Monthly: November 2026 holds all five orders: 100 + 50 + 200 − 30 + 80.
    let out = p
        .cmd()
        .args([
            "run",
            "--no-send",
            "--cadence",
            "monthly",
            "--period",
            "2026-11",
        ])
        .env("SCORECARD_TODAY", "2026-12-01")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(p.path("reports/monthly/2026-11/kpis.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(doc["period"]["cadence"], "monthly");
    assert_eq!(doc["period"]["end"], "2026-12-01");
    close(value(&doc, "revenue", None), 400.0);
    // A week id with a monthly cadence is a usage error.
    let out = p
        .cmd()
        .args([
            "run",
            "--no-send",
            "--cadence",
            "monthly",
            "--period",
            "2026-W47",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

// ------------------------------------------------ phones, print, dark mode

/// Headless Chromium, or None on a machine without it (then the browser
/// tests step aside, loudly; CI sets SCORECARD_REQUIRE_BROWSER and they run).
fn browser(test: &str) -> Option<&'static str> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            std::process::Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
    if found.is_none() {
        assert!(
            std::env::var_os("SCORECARD_REQUIRE_BROWSER").is_none(),
            "chromium is not installed but SCORECARD_REQUIRE_BROWSER is set"
        );
        eprintln!(
            "SKIPPED {test}: no chromium on this machine (apt-get install chromium; .ci/run does)"
        );
    }
    found
}

/// One demo archive shared by the browser tests (realistic data: 26 weeks of
/// history in the charts, segments, emails).
/// It lives in Cargo's target/tmp (a static is never dropped, so a temporary
/// folder would be left behind by every run) and is replaced on each run.
fn demo_reports() -> &'static Path {
    static DEMO: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DEMO.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-demo");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut c = Command::cargo_bin("scorecard").unwrap();
        let out = c
            .env_clear()
            .current_dir(&dir)
            .env("SCORECARD_TODAY", "2026-11-23")
            .args(["demo", "--dir", "d", "--weeks", "40"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
}

fn chromium_run(chromium: &str, args: &[String]) -> std::process::Output {
    let profile = tempfile::tempdir().unwrap();
    std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--allow-file-access-from-files",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .output()
        .unwrap()
}

/// Opens `html` (a copy of a rendered page, written next to it so relative
/// links and images resolve) in a frame `width` CSS pixels wide, runs the
/// JavaScript function body `probe` once the page has loaded, and returns
/// what it returns. A frame, because headless windows are at least 500 px.
fn probe(chromium: &str, page: &Path, html: &str, width: u32, dark: bool, probe: &str) -> Value {
    let dir = page.parent().unwrap();
    let name = format!(
        ".probe-{}-{width}-{}",
        page.file_stem().unwrap().to_string_lossy(),
        std::process::id()
    );
    let script = format!(
        "<script>window.addEventListener('load', function () {{ var r = (function () {{ {probe} }})(); parent.postMessage(JSON.stringify(r), '*'); }});</script></body>"
    );
    std::fs::write(
        dir.join(format!("{name}.html")),
        html.replace("</body>", &script),
    )
    .unwrap();
    let host = format!(
        "<!DOCTYPE html><html><body style=\"margin:0\"><iframe src=\"{name}.html\" style=\"width:{width}px;height:3000px;border:0\"></iframe><pre id=\"out\"></pre><script>addEventListener('message', function (e) {{ document.getElementById('out').textContent = e.data; }});</script></body></html>"
    );
    let host_path = dir.join(format!("{name}-host.html"));
    std::fs::write(&host_path, host).unwrap();
    let mut args = vec![
        format!("--window-size={},1000", width.max(500) + 20),
        "--virtual-time-budget=8000".to_string(),
        "--dump-dom".to_string(),
    ];
    if dark {
        args.push("--force-dark-mode".into());
    }
    args.push(format!("file://{}", host_path.display()));
    let out = chromium_run(chromium, &args);
    let dom = String::from_utf8_lossy(&out.stdout);
    let json = dom
        .split("<pre id=\"out\">")
        .nth(1)
        .and_then(|s| s.split("</pre>").next())
        .unwrap_or_default()
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    serde_json::from_str(&json).unwrap_or_else(|e| {
        panic!(
            "no result from the page probe ({e}): {json}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// A screenshot kept in target/test-artifacts/ (a frame `width` wide).
fn screenshot(
    chromium: &str,
    page: &Path,
    html: &str,
    width: u32,
    dark: bool,
    name: &str,
) -> PathBuf {
    let dir = page.parent().unwrap();
    let copy = dir.join(format!(".shot-{name}.html"));
    std::fs::write(&copy, html).unwrap();
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join(format!("{name}.png"));
    let _ = std::fs::remove_file(&shot);
    let mut args = vec![
        format!("--window-size={width},2400"),
        format!("--screenshot={}", shot.display()),
    ];
    if dark {
        args.push("--force-dark-mode".into());
    }
    args.push(format!("file://{}", copy.display()));
    chromium_run(chromium, &args);
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(png.len() > 10_000, "screenshot too small to show a page");
    shot
}

/// The email HTML as a mail client shows it: `cid:` images from the archive's
/// charts/ folder.
fn email_page(week: &Path) -> (PathBuf, String) {
    let page = week.join("email.html");
    let html = std::fs::read_to_string(&page)
        .unwrap()
        .replace("src=\"cid:", "src=\"charts/");
    (page, html)
}

const OVERFLOW_PROBE: &str = "var imgs = Array.prototype.map.call(document.images, function (i) { return [i.naturalWidth, i.getBoundingClientRect().width]; }); return { scroll: document.documentElement.scrollWidth, width: window.innerWidth, images: imgs, bg: getComputedStyle(document.body).backgroundColor };";

#[test]
fn the_email_fits_a_phone_and_its_charts_are_sharp() {
    let Some(chromium) = browser("the email browser test") else {
        return;
    };
    let week = demo_reports().join("d/reports/weekly/2026-W47");
    let (page, html) = email_page(&week);
    for width in [375, 600] {
        let r = probe(chromium, &page, &html, width, false, OVERFLOW_PROBE);
        assert_eq!(r["width"], width, "{r}");
        assert!(
            r["scroll"].as_u64().unwrap() <= width as u64,
            "the email scrolls sideways at {width} px: {r}"
        );
        let images = r["images"].as_array().unwrap();
        assert_eq!(images.len(), 6, "six trend charts: {r}");
        for i in images {
            let (natural, shown) = (i[0].as_f64().unwrap(), i[1].as_f64().unwrap());
            assert!(shown > 200.0, "a chart shown {shown} px wide at {width} px");
            assert!(
                natural >= 2.0 * shown,
                "chart of {natural} px shown at {shown} px: blurred on a 2x screen"
            );
        }
    }
    // Dark mode: the client's dark palette applies (prefers-color-scheme).
    let r = probe(chromium, &page, &html, 375, true, OVERFLOW_PROBE);
    assert_eq!(r["bg"], "rgb(2, 6, 23)", "{r}");
    screenshot(chromium, &page, &html, 600, true, "email-dark");
    screenshot(chromium, &page, &html, 600, false, "email-light");
}

#[test]
fn the_scorecard_keeps_its_kpi_column_on_a_phone_and_prints_every_column() {
    let Some(chromium) = browser("the phone and print browser test") else {
        return;
    };
    let page = demo_reports().join("d/reports/weekly/2026-W47/scorecard.html");
    let html = std::fs::read_to_string(&page).unwrap();
    // Scrolled to its last column (Status, Trend), the KPI names stay in view.
    let sticky = "var wrap = document.querySelector('.table-wrap'); var wide = wrap.scrollWidth > wrap.clientWidth; wrap.scrollLeft = wrap.scrollWidth; var box = wrap.getBoundingClientRect(); var kpi = wrap.querySelector('tbody th').getBoundingClientRect(); var last = wrap.querySelector('tbody td:last-child').getBoundingClientRect(); return { scroll: document.documentElement.scrollWidth, width: window.innerWidth, wide: wide, scrolled: wrap.scrollLeft, kpi: [kpi.left - box.left, kpi.right - box.left], last: [last.left - box.left, last.right - box.left], box: box.width };";
    let r = probe(chromium, &page, &html, 390, false, sticky);
    assert!(
        r["scroll"].as_u64().unwrap() <= 390,
        "the page scrolls sideways at 390 px: {r}"
    );
    assert_eq!(r["wide"], true, "the table is wider than a phone: {r}");
    assert!(r["scrolled"].as_f64().unwrap() > 0.0, "{r}");
    let box_width = r["box"].as_f64().unwrap();
    let (kpi_left, kpi_right) = (r["kpi"][0].as_f64().unwrap(), r["kpi"][1].as_f64().unwrap());
    assert!(
        kpi_left >= -1.0 && kpi_right > 60.0 && kpi_right < box_width / 2.0,
        "the KPI column scrolled away: {r}"
    );
    assert!(
        r["last"][1].as_f64().unwrap() <= box_width + 1.0
            && r["last"][0].as_f64().unwrap() >= kpi_right - 1.0,
        "the last column is not visible beside the KPI column: {r}"
    );

    // Print: the @media print rules at the printable width of A4 and of
    // Letter (10 mm margins, 96 px per inch): no table needs to scroll.
    let print = html.replace("@media print", "@media all");
    let fits = "return Array.prototype.map.call(document.querySelectorAll('.table-wrap'), function (w) { return [w.scrollWidth, w.clientWidth]; }).concat([[document.documentElement.scrollWidth, window.innerWidth]]);";
    for (paper, width) in [("A4", 718), ("Letter", 740)] {
        let r = probe(chromium, &page, &print, width, false, fits);
        for pair in r.as_array().unwrap() {
            assert!(
                pair[0].as_u64().unwrap() <= pair[1].as_u64().unwrap() + 1,
                "a table is cut when printed on {paper}: {r}"
            );
        }
    }

    // The dark palette, kept as an artifact to look at.
    let r = probe(
        chromium,
        &page,
        &html,
        1280,
        true,
        "return getComputedStyle(document.body).backgroundColor;",
    );
    assert_eq!(r, "rgb(2, 6, 23)");
    screenshot(chromium, &page, &html, 1280, true, "scorecard-dark");
    screenshot(chromium, &page, &html, 390, false, "scorecard-390");
}

#[test]
fn the_archive_index_reads_on_a_phone_and_a_laptop() {
    let Some(chromium) = browser("the index browser test") else {
        return;
    };
    let page = demo_reports().join("d/reports/index.html");
    let html = std::fs::read_to_string(&page).unwrap();
    let fits = "var w = document.querySelector('.table-wrap'); return { page: [document.documentElement.scrollWidth, window.innerWidth], table: [w.scrollWidth, w.clientWidth], caption: getComputedStyle(document.querySelector('caption')).position };";
    let r = probe(chromium, &page, &html, 1280, false, fits);
    assert!(r["page"][0].as_u64() <= r["page"][1].as_u64(), "{r}");
    assert!(
        r["table"][0].as_u64() <= r["table"][1].as_u64(),
        "the index cuts its last columns at 1280 px: {r}"
    );
    let r = probe(chromium, &page, &html, 390, false, fits);
    assert!(
        r["page"][0].as_u64() <= r["page"][1].as_u64(),
        "the index scrolls sideways at 390 px: {r}"
    );
    screenshot(chromium, &page, &html, 1280, false, "index-1280");
}

#[test]
fn emails_name_their_segment_and_figure_and_link_to_the_archive() {
    let config = format!(
        "{}\n[email]\ntransport = \"file\"\nfrom = \"Scorecard <scorecard@example.com>\"\noutbox_dir = \"outbox\"\n[[email.recipients]]\nto = [\"lead@example.com\"]\n[[email.recipients]]\nto = [\"emea@example.com\"]\nsegment = \"region=EMEA\"\n",
        std::fs::read_to_string(fixture("tiny.toml")).unwrap().replace(
            "out_dir = \"reports\"",
            "out_dir = \"reports\"\nbase_url = \"https://reports.example.com/sc/\""
        )
    );
    let p = Project::new(&config);
    p.ok(&["import", fixture("tiny").to_str().unwrap()]);
    p.ok(&["run", "--period", "2026-W47"]);
    let mut mails = Vec::new();
    for e in std::fs::read_dir(p.path("outbox")).unwrap().flatten() {
        mails.push(std::fs::read(e.path()).unwrap());
    }
    assert_eq!(mails.len(), 2);
    use mailparse::MailHeaderMap;
    for bytes in &mails {
        let mail = mailparse::parse_mail(bytes).unwrap();
        let subject = mail.headers.get_first_value("Subject").unwrap();
        let list_id = mail.headers.get_first_value("List-Id").unwrap();
        let to = mail.headers.get_first_value("To").unwrap();
        let mut html = String::new();
        let mut text = String::new();
        fn walk(m: &mailparse::ParsedMail, html: &mut String, text: &mut String) {
            match m.ctype.mimetype.as_str() {
                "text/html" => *html = m.get_body().unwrap(),
                "text/plain" => *text = m.get_body().unwrap(),
                _ => {}
            }
            for s in &m.subparts {
                walk(s, html, text);
            }
        }
        walk(&mail, &mut html, &mut text);
        if to.contains("emea@") {
            // EMEA: revenue $300 (no target for a segment's total), NPS 100 on track…
            assert!(
                subject.starts_with("EMEA · Weekly CRM scorecard 2026-W47 · "),
                "{subject}"
            );
            assert_eq!(
                list_id,
                "\"Weekly CRM scorecard region=EMEA\" <weekly-crm-scorecard-region-emea.example.com>"
            );
            let url = "https://reports.example.com/sc/weekly/2026-W47/segments/region-emea/scorecard.html";
            assert!(html.contains(&format!("href=\"{url}\"")), "{html}");
            assert!(text.contains(&format!("Online: <{url}>")), "{text}");
        } else {
            // The whole business: NPS 25.0 against a floor of 30 is off track,
            // with 6 KPIs off track in all (kpis.json of the tiny fixture).
            assert_eq!(
                subject,
                "Weekly CRM scorecard 2026-W47 · NPS 25.0, 6 KPIs off track"
            );
            assert_eq!(
                list_id,
                "\"Weekly CRM scorecard\" <weekly-crm-scorecard.example.com>"
            );
            let url = "https://reports.example.com/sc/weekly/2026-W47/scorecard.html";
            assert!(html.contains(&format!("href=\"{url}\"")));
            // The preheader: the headline figure, what is off track, revenue.
            let pre = html.split("class=\"preheader\"").nth(1).unwrap();
            let pre = &pre[pre.find('>').unwrap() + 1..pre.find("</div>").unwrap()];
            assert!(
                pre.starts_with("NPS 25.0 · 6 KPIs off track (Retention rate, Churn rate, …) · Revenue $320 ▲ +$240 better"),
                "{pre}"
            );
            // Status badges and the Target column, as on the page.
            assert!(html.contains(">Target</th>") && html.contains("✗ Off track"));
            assert!(html.contains("$300</td>"), "the revenue target is shown");
            assert!(
                html.contains("prefers-color-scheme: dark"),
                "the dark palette survives inlining"
            );
            assert!(html.contains("<!--[if mso]>"), "the Outlook wrapper");
            // Better / worse in words in the plain-text part.
            assert!(
                text.contains("▲ +8.3 pts worse") && text.contains("▲ +$240 better"),
                "{text}"
            );
        }
    }
    let p = Project::new("[report]\nbase_url = \"reports.example.com\"\n");
    let (code, stderr) = p.fail(&["run", "--no-send"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("base_url") && stderr.contains("not an http(s) address"),
        "{stderr}"
    );
}

#[test]
fn show_and_kpis_fit_the_terminal_with_titles_colour_and_a_quiet_closed_pipe() {
    let p = tiny_run();
    let show = |columns: &str, extra: &[&str]| {
        let out = p
            .cmd()
            .env("COLUMNS", columns)
            .args(["show", "--period", "2026-W47"])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let wide = show("200", &[]);
    // Titles, not ids; the change in words; the status with its symbol.
    assert!(
        wide.contains("Net Promoter Score") && !wide.contains("nps "),
        "{wide}"
    );
    assert!(
        wide.contains("▲ +8.3 pts worse") && wide.contains("✗ Off track"),
        "{wide}"
    );
    assert!(!wide.contains('\x1b'), "no colour off a terminal");
    for width in [100usize, 60, 40] {
        let out = show(&width.to_string(), &[]);
        for line in out.lines().skip(1) {
            assert!(line.chars().count() <= width, "{width}: {line:?}\n{out}");
        }
        // Never cut inside a word: every word of a title is there whole.
        for word in ["Customer", "satisfaction", "$320", "33.3%"] {
            assert!(
                out.split_whitespace().any(|w| w == word),
                "{word} at {width}:\n{out}"
            );
        }
    }
    assert!(show("60", &[]).contains("left out to fit 60 columns"));
    // Colour when asked; never with --color never, even with NO_COLOR unset.
    let coloured = show("200", &["--color", "always"]);
    assert!(
        coloured.contains("\x1b[31m") && coloured.contains("\x1b[32m"),
        "{coloured:?}"
    );
    assert!(!show("200", &["--color", "never"]).contains('\x1b'));
    let (code, stderr) = p.fail(&["show", "--color", "sometimes"]);
    assert_eq!(code, 2, "{stderr}");

    // kpis: every column fits, the sources are not cut, custom formulas shown.
    let out = p.cmd().env("COLUMNS", "80").arg("kpis").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for line in text.lines() {
        assert!(line.chars().count() <= 80, "{line:?}\n{text}");
    }
    assert!(
        text.contains("Promoter") && text.contains("nps_responses"),
        "{text}"
    );

    // A reader that goes away early: exit 0, nothing on stderr (was a panic, 101).
    for args in [vec!["kpis"], vec!["show", "--period", "2026-W47"]] {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("scorecard"))
            .env_clear()
            .env("SCORECARD_TODAY", "2026-11-23")
            .current_dir(p.dir.path())
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn kpis_shows_the_formula_of_a_custom_kpi() {
    let p = Project::new(
        "[kpi.won_per_order]\nformula = \"deals_won / (orders + 1)\"\ntitle = \"Won per order\"\nunit = \"ratio\"\n",
    );
    let out = p.ok(&["kpis"]);
    let line = out
        .lines()
        .find(|l| l.contains("Won per order"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains("deals_won ÷ (orders + 1)"), "{line}");
}
