//! End-to-end tests of reading real-world exports through the binary:
//! encodings, delimiters, line numbers, non-data rows, file-level problems,
//! value formats and the vendor presets. Each refused case checks the exact
//! message, the exit code and that the store did not change.
#[path = "support/project.rs"]
mod project;

use serde_json::Value;

#[allow(unused_imports)]
use project::{fixture, Project};

/// What these tests ask of a project beyond the shared one
/// (tests/support/project.rs): fixture files written on the spot, reads of
/// the store, and the "refused, store unchanged" checks.
trait ImportChecks {
    fn fail(&self, args: &[&str]) -> (i32, String);
    fn file(&self, folder: &str, name: &str, bytes: &[u8]) -> String;
    fn store_bytes(&self) -> Option<Vec<u8>>;
    fn strings(&self, sql: &str) -> Vec<String>;
    fn number(&self, sql: &str) -> f64;
    fn kpis(&self, period: &str) -> Value;
    fn refused_path(&self, path: &str, expected: &str);
    fn refused(&self, folder: &str, flags: &[&str], expected: &str);
}

impl ImportChecks for Project {
    /// Runs a command expected to fail; returns (exit code, stderr).
    fn fail(&self, args: &[&str]) -> (i32, String) {
        let (code, _, stderr) = self.status(args);
        assert!(code != 0, "{args:?} should fail");
        (code, stderr)
    }

    /// Writes one file into a fresh folder and returns the folder.
    fn file(&self, folder: &str, name: &str, bytes: &[u8]) -> String {
        let dir = self.path(folder);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
        dir.to_str().unwrap().to_string()
    }

    fn store_bytes(&self) -> Option<Vec<u8>> {
        std::fs::read(self.path("scorecard.db")).ok()
    }

    fn strings(&self, sql: &str) -> Vec<String> {
        self.db()
            .prepare(sql)
            .unwrap()
            .query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    fn number(&self, sql: &str) -> f64 {
        self.db().query_row(sql, [], |r| r.get(0)).unwrap()
    }

    fn kpis(&self, period: &str) -> Value {
        let text =
            std::fs::read_to_string(self.path(&format!("reports/weekly/{period}/kpis.json")))
                .unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// Refused before anything is read: exit 3, the message, the store as
    /// before.
    fn refused_path(&self, path: &str, expected: &str) {
        let before = self.store_bytes();
        let (code, stderr) = self.fail(&["import", path]);
        assert_eq!(code, 3, "{stderr}");
        assert!(
            stderr.contains(expected),
            "expected\n  {expected}\nin\n  {stderr}"
        );
        assert_eq!(self.store_bytes(), before, "the store changed");
    }

    /// Refused: exit 3, the message, and the store exactly as before.
    fn refused(&self, folder: &str, flags: &[&str], expected: &str) {
        let before = self.store_bytes();
        let mut args = vec!["import"];
        args.extend_from_slice(flags);
        args.push(folder);
        let (code, stderr) = self.fail(&args);
        assert_eq!(code, 3, "{stderr}");
        assert!(
            stderr.contains(expected),
            "expected\n  {expected}\nin\n  {stderr}"
        );
        assert!(stderr.contains("the store is unchanged"), "{stderr}");
        assert_eq!(self.store_bytes(), before, "the store changed");
    }
}

#[allow(dead_code)]
fn value(doc: &Value, id: &str) -> Option<f64> {
    doc["kpis"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id && k["segment"].is_null())
        .unwrap_or_else(|| panic!("no {id}"))["value"]
        .as_f64()
}

#[allow(dead_code)]
fn close(a: Option<f64>, b: f64) {
    let a = a.expect("a value");
    assert!((a - b).abs() < 1e-6, "{a} != {b}");
}

const ORDERS: &str = "order_id,customer_id,ordered_on,amount";

// ------------------------------------------------------- the reading layer

/// csv#395: the crate's line lags on CRLF, stays 1 on CR-only files and
/// skips blank lines. Messages name the physical line in all three.
#[test]
fn line_numbers_are_physical_lines() {
    let p = Project::new("");
    let cases: [(&str, String, &str); 3] = [
        (
            "crlf",
            format!("{ORDERS}\r\nO1,C1,2026-11-16,5\r\nO2,C1,2026-11-16,x\r\n"),
            "orders.csv:3:4: amount: 'x' is not a number",
        ),
        (
            "cr",
            format!("{ORDERS}\rO1,C1,2026-11-16,5\rO2,C1,2026-11-16,5\rO3,C1,2026-11-16,x\r"),
            "orders.csv:4:4: amount: 'x' is not a number",
        ),
        (
            "blank",
            format!("{ORDERS}\n\nO1,C1,2026-11-16,5\n\n\nO2,C1,2026-11-16,x\n"),
            "orders.csv:6:4: amount: 'x' is not a number",
        ),
    ];
    for (folder, text, expected) in cases {
        let dir = p.file(folder, "orders.csv", text.as_bytes());
        p.refused(&dir, &[], expected);
    }
}

#[test]
fn encodings_and_delimiters_are_detected_or_set() {
    let p = Project::new("");
    // Windows-1252 (no UTF-8 anywhere in the file), semicolons.
    let dir = p.file(
        "latin",
        "activities.csv",
        b"activity_id;occurred_on;kind\nA1;2026-11-10;caf\xe9\n",
    );
    let out = p.ok(&["import", &dir]);
    assert!(
        out.contains("activities.csv: 1 rows: 1 inserted, 0 replaced, 0 unchanged; read as Windows-1252 (detected), delimiter ';' (detected)"),
        "{out}"
    );
    assert_eq!(p.strings("SELECT kind FROM activities"), ["café"]);

    // Excel "Unicode text": UTF-16LE with BOM, tab-separated, CRLF.
    let text =
        "activity_id\toccurred_on\tkind\r\nA2\t2026-11-11\tréunion\r\nA3\t2026-11-11\tcall\r\n";
    let mut bytes = vec![0xff, 0xfe];
    for u in text.encode_utf16() {
        bytes.extend_from_slice(&u.to_le_bytes());
    }
    let dir = p.file("utf16", "activities.csv", &bytes);
    let out = p.ok(&["import", &dir]);
    assert!(
        out.contains("activities.csv: 2 rows: 2 inserted, 0 replaced, 0 unchanged; read as UTF-16LE (detected), delimiter tab (detected)"),
        "{out}"
    );
    assert_eq!(
        p.strings("SELECT kind FROM activities ORDER BY activity_id"),
        ["café", "réunion", "call"]
    );

    // Set by hand: a Latin-1 file declared as UTF-8 is refused by cell.
    let q = Project::new("[import.activities]\nencoding = \"utf-8\"\ndelimiter = \";\"\n");
    let dir = q.file(
        "latin",
        "activities.csv",
        b"activity_id;occurred_on;kind\nA1;2026-11-10;caf\xe9\n",
    );
    q.refused(
        &dir,
        &[],
        "activities.csv:2:3: kind: invalid UTF-8 near byte offset 46",
    );
    // A BOM that contradicts the setting is a file-level problem.
    let r = Project::new("[import.activities]\nencoding = \"windows-1252\"\n");
    let dir = r.file("bom", "activities.csv", &bytes);
    r.refused(&dir, &["--skip-invalid"], "activities.csv:1: the file starts with a UTF-16LE byte-order mark but encoding = \"Windows-1252\" is set (remove the setting or re-save the file)");
    // Unknown settings are configuration errors (exit 2).
    let s = Project::new("[import.activities]\nencoding = \"ebcdic\"\n");
    let (code, stderr) = s.fail(&["import", &dir]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("encoding: 'ebcdic' (expected utf-8, utf-16, utf-16be or windows-1252; leave it out to detect it)"),
        "{stderr}"
    );
}

#[test]
fn a_duplicate_header_is_refused_only_when_it_is_read() {
    let p = Project::new("");
    // HubSpot's "all properties" export repeats columns nobody maps.
    let dir = p.file(
        "dup",
        "orders.csv",
        format!(
            "{ORDERS},Associated Company,Associated Company\nO1,C1,2026-11-16,5,Acme,Acme Ltd\n"
        )
        .as_bytes(),
    );
    let out = p.ok(&["import", &dir]);
    assert!(out.contains("orders.csv: 1 rows: 1 inserted"), "{out}");

    let dir = p.file(
        "dup2",
        "orders.csv",
        b"order_id,customer_id,ordered_on,amount,amount\nO2,C1,2026-11-16,5,6\n",
    );
    p.refused(&dir, &["--skip-invalid"], "orders.csv:1: column 5: 'amount' appears twice in the header (columns 4 and 5) and is read as amount; rename one of them or map amount to another column in [import.orders] columns");
}

/// A file-level problem is never skipped: exit 3 naming the file, nothing
/// recorded, so the next import reads the file again.
#[test]
fn skip_invalid_never_skips_a_whole_file() {
    let p = Project::new("");
    let dir = p.file(
        "ok",
        "customers.csv",
        b"customer_id,acquired_on\nC1,2026-01-05\n",
    );
    p.ok(&["import", &dir]);
    let cases: [(&str, &[u8], &str); 3] = [
        (
            "missing",
            b"order_id,customer_id,ordered_on\nO1,C1,2026-11-16\n",
            "orders.csv:1: missing required column amount; found: order_id, customer_id, ordered_on",
        ),
        (
            "separator",
            b"order_id|customer_id|ordered_on|amount\nO1|C1|2026-11-16|5\n",
            "orders.csv:1: missing required columns order_id, customer_id, ordered_on, amount; found: order_id|customer_id|ordered_on|amount",
        ),
        ("empty", b"", "orders.csv:1: the file is empty"),
    ];
    for (folder, bytes, expected) in cases {
        let dir = p.file(folder, "orders.csv", bytes);
        p.refused(&dir, &["--skip-invalid"], expected);
        let (_, stderr) = p.fail(&["import", "--skip-invalid", &dir]);
        assert!(
            stderr.contains("hint: a file that cannot be read as a whole is never skipped, not even with --skip-invalid"),
            "{stderr}"
        );
        assert!(!std::fs::read_dir(p.dir.path())
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().contains("rejects")));
    }
    assert_eq!(p.number("SELECT count(*) FROM snapshots"), 1.0);
}

/// A first import into an empty table builds its indexes after the rows
/// (dropped and created again inside the import's transaction): the schema
/// ends byte for byte as migrated, the indexes hold every row, and a refused
/// first import leaves them as they were.
#[test]
fn a_first_import_builds_the_indexes_after_the_rows() {
    let p = Project::new("");
    let customers = p.file(
        "customers",
        "customers.csv",
        b"customer_id,acquired_on\nC1,2026-01-05\n",
    );
    p.ok(&["import", &customers]);
    let schema =
        "SELECT type || ' ' || name || ' ' || coalesce(sql, '') FROM sqlite_schema ORDER BY name";
    let migrated = p.strings(schema);
    for index in ["orders_day", "tickets_day"] {
        assert!(
            migrated
                .iter()
                .any(|s| s.starts_with(&format!("index {index} "))),
            "{migrated:?}"
        );
    }
    let bad = p.file(
        "bad",
        "orders.csv",
        format!("{ORDERS}\nO1,C1,2026-11-16,5\nO2,C2,someday,5\n").as_bytes(),
    );
    p.fail(&["import", &bad]);
    assert_eq!(p.strings(schema), migrated);
    let good = p.file(
        "good",
        "orders.csv",
        format!("{ORDERS}\nO1,C1,2026-11-16,5\nO2,C2,2026-11-17,5\nO3,C2,2026-11-18,5\n")
            .as_bytes(),
    );
    p.ok(&["import", &good]);
    assert_eq!(p.strings(schema), migrated);
    assert_eq!(p.strings("PRAGMA integrity_check"), ["ok"]);
    let through = |index: &str, filter: &str| {
        p.number(&format!(
            "SELECT count(*) FROM orders_rows INDEXED BY {index} WHERE {filter}"
        ))
    };
    assert_eq!(through("orders_day", "ordered_day > 0"), 3.0);
    // The customers as keys (store migration 15), shown by the view.
    assert_eq!(
        p.number("SELECT count(*) FROM orders WHERE customer_id = 'C2'"),
        2.0
    );
    assert_eq!(
        p.number("SELECT count(DISTINCT customer_key) FROM orders_rows"),
        2.0
    );
}

/// A row is unchanged when every stored value and attribute is the same,
/// compared as stored (whatever the order of the file's columns); any other
/// difference replaces it.
#[test]
fn unchanged_rows_are_told_by_their_values_and_attributes() {
    let p = Project::new("");
    let a = p.file(
        "a",
        "customers.csv",
        b"customer_id,acquired_on,region,plan\nC1,2026-01-05,EMEA,Pro\nC2,2026-01-06,APAC,Pro\nC3,2026-01-07,APAC,Free\nC4,2026-01-07,,Free\n",
    );
    p.ok(&["import", &a]);
    // C1 the same in another column order, C2 in another region, C3 acquired
    // a day later, C4 the same with its empty region.
    let b = p.file(
        "b",
        "customers.csv",
        b"plan,region,customer_id,acquired_on\nPro,EMEA,C1,2026-01-05\nPro,AMER,C2,2026-01-06\nFree,APAC,C3,2026-01-08\nFree,,C4,2026-01-07\n",
    );
    let out = p.ok(&["import", &b]);
    assert!(
        out.contains("customers.csv: 4 rows: 0 inserted, 2 replaced, 2 unchanged"),
        "{out}"
    );
    assert_eq!(
        p.strings("SELECT customer_id || ' ' || value FROM customer_attributes WHERE name = 'region' ORDER BY customer_id"),
        ["C1 EMEA", "C2 AMER", "C3 APAC", "C4 "]
    );
    assert_eq!(
        p.strings("SELECT acquired_on FROM customers WHERE customer_id = 'C3'"),
        ["2026-01-08"]
    );
    let orders = |name: &str, rows: &str| {
        p.file(
            name,
            "orders.csv",
            format!("{ORDERS},cost\n{rows}").as_bytes(),
        )
    };
    p.ok(&[
        "import",
        &orders(
            "o1",
            "O1,C1,2026-11-16,5,1.25\nO2,C1,2026-11-16,5,\nO3,C1,2026-11-16,5.10,\n",
        ),
    ]);
    let out = p.ok(&[
        "import",
        &orders(
            "o2",
            "O1,C1,2026-11-16,5.00,1.250\nO2,C1,2026-11-16,5,0\nO3,C1,2026-11-16,5.1,\n",
        ),
    ]);
    assert!(
        out.contains("orders.csv: 3 rows: 0 inserted, 1 replaced, 2 unchanged"),
        "{out}"
    );
}

/// "Unchanged" only against the latest import of that file: A, B, A leaves A.
#[test]
fn reimporting_an_earlier_export_restores_it() {
    let p = Project::new("");
    let a = p.file(
        "a",
        "orders.csv",
        format!("{ORDERS}\nO1,C1,2026-11-16,5\n").as_bytes(),
    );
    let b = p.file(
        "b",
        "orders.csv",
        format!("{ORDERS}\nO1,C1,2026-11-16,7\n").as_bytes(),
    );
    p.ok(&["import", &a]);
    p.ok(&["import", &b]);
    assert_eq!(p.number("SELECT amount FROM orders"), 7.0);
    let out = p.ok(&["import", &a]);
    assert!(
        out.contains("orders.csv: 1 rows: 0 inserted, 1 replaced"),
        "{out}"
    );
    assert_eq!(p.number("SELECT amount FROM orders"), 5.0);
    let out = p.ok(&["import", &a]);
    assert!(
        out.contains("orders.csv: unchanged, this exact file was imported on"),
        "{out}"
    );
}

#[test]
fn footers_and_second_header_rows_are_skipped() {
    let p = Project::new(
        "[import.orders]\nheader_rows = 2\nskip_rows = [\"Grand Totals\", \"Confidential Information\", \"Copyright\"]\n",
    );
    let text = format!(
        "{ORDERS}\nOrder,Customer,Date,USD\nO1,C1,2026-11-16,5\n{ORDERS}\nO2,C1,2026-11-16,6\n\n\"Grand Totals (2 records)\",,,11\n\"Confidential Information - Do Not Distribute\"\n\"Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved.\"\n"
    );
    let dir = p.file("f", "orders.csv", text.as_bytes());
    let out = p.ok(&["import", &dir]);
    assert!(
        out.contains("orders.csv: 2 rows: 2 inserted, 0 replaced, 0 unchanged; 5 non-data rows skipped (extra header rows, footers)"),
        "{out}"
    );
    // Without skip_rows the footer is a row like any other, and refused.
    let q = Project::new("");
    let text =
        format!("{ORDERS}\nO1,C1,2026-11-16,5\n\"Confidential Information - Do Not Distribute\"\n");
    let dir = q.file("f", "orders.csv", text.as_bytes());
    q.refused(
        &dir,
        &[],
        "orders.csv:3: expected 4 fields as in the header, found 1",
    );
}

#[test]
fn nul_bytes_in_text_are_refused() {
    let p = Project::new("");
    let dir = p.file(
        "nul",
        "activities.csv",
        b"activity_id,occurred_on,kind\nA1,2026-11-10,ca\x00ll\n",
    );
    p.refused(&dir, &[], "activities.csv:2:3: kind: contains a NUL byte (a binary value, or a UTF-16 file read as 8-bit: check the export)");
}

// ------------------------------------------------------------ value parsing

/// Salesforce: a timestamp and a date in one file, no format set; offsets in
/// every spelling honoured, fractional seconds kept.
#[test]
fn iso_dates_and_timestamps_are_detected_and_offsets_honoured() {
    let p = Project::new("[report]\ntimezone = \"Europe/Paris\"\n");
    let dir = p.file(
        "sf",
        "deals.csv",
        b"deal_id,created_on,stage,closed_on\n\
          D1,2024-01-22T16:14:25.000+0000,won,2024-01-30\n\
          D2,2024-01-22T23:30:00.000+0000,open,\n\
          D3,2024-01-22T23:30:00-05:00,lost,2024-02-01\n",
    );
    p.ok(&["import", &dir]);
    // Instants become days in the report time zone (Paris, UTC+1).
    assert_eq!(
        p.strings("SELECT deal_id || ' ' || created_on FROM deals ORDER BY deal_id"),
        ["D1 2024-01-22", "D2 2024-01-23", "D3 2024-01-23"]
    );
    let dir = p.file(
        "t",
        "tickets.csv",
        b"ticket_id,opened_at,first_response_at,resolved_at\n\
          T1,2026-11-17T09:30:00.250+0100,2026-11-17T08:30:00.750Z,2026-11-17 10:30:00.5\n\
          T2,2026-11-17T09:30:00+01,2026-11-17T09:30:00+0000,\n",
    );
    p.ok(&["import", &dir]);
    // Milliseconds since the epoch; the local one read in Paris.
    assert_eq!(
        p.strings("SELECT ticket_id || ' ' || opened_at || ' ' || ifnull(first_response_at, '') || ' ' || ifnull(resolved_at, '') FROM tickets ORDER BY ticket_id"),
        [
            "T1 1794904200250 1794904200750 1794907800500",
            "T2 1794904200000 1794907800000 "
        ]
    );
}

/// `timestamp_format` with `%z`: the offset used to be ignored (a +0200
/// value was stored as UTC wall time).
#[test]
fn a_configured_format_honours_its_offset_and_formats_are_per_column() {
    let p = Project::new(
        "[import.tickets]\ntimestamp_format = \"%Y-%m-%dT%H:%M:%S%.3f%z\"\nformats = { resolved_at = \"%d.%m.%Y %H:%M\" }\ntimezone = \"Europe/Berlin\"\n",
    );
    let dir = p.file(
        "t",
        "tickets.csv",
        b"ticket_id,opened_at,resolved_at\nT1,2024-01-22T16:14:25.000+0200,23.01.2024 09:00\n",
    );
    p.ok(&["import", &dir]);
    let at = |col: &str| p.number(&format!("SELECT {col} FROM tickets")) as i64;
    // 14:14:25Z; 09:00 in Berlin is 08:00Z.
    assert_eq!(at("opened_at"), 1_705_932_865_000);
    assert_eq!(at("resolved_at"), 1_705_996_800_000);
    let q = Project::new("[import.tickets]\nformats = { channel = \"%Y\" }\n");
    let (code, stderr) = q.fail(&["import", &dir]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("'channel' is not a date or timestamp column of tickets.csv"),
        "{stderr}"
    );
}

/// A response at 0.5 s is 0.5 s, and 24 h + 0.5 s is outside a 24 h SLA;
/// whole seconds give the figures they always gave.
#[test]
fn fractional_seconds_count() {
    let p = Project::new("");
    let dir = p.file(
        "t",
        "tickets.csv",
        b"ticket_id,opened_at,first_response_at\n\
          T1,2026-11-17T09:00:00Z,2026-11-17T09:00:00.500Z\n\
          T2,2026-11-17T09:00:00Z,2026-11-18T09:00:00.500Z\n\
          T3,2026-11-17T09:00:00Z,2026-11-18T09:00:00Z\n",
    );
    p.ok(&["import", &dir]);
    p.ok(&["run", "--no-send", "--period", "2026-W47"]);
    let k = p.kpis("2026-W47");
    // Answered within 24 h: T1 (0.5 s) and T3 (exactly 24 h) = 2 of 3.
    close(value(&k, "first_response_sla_rate"), 100.0 * 2.0 / 3.0);
    // Mean: (0.5 + 86400.5 + 86400) / 3 s = 57600.333… s = 16.000092… h.
    close(
        value(&k, "avg_first_response_hours"),
        (0.5 + 86_400.5 + 86_400.0) / 3.0 / 3600.0,
    );
    close(value(&k, "median_first_response_hours"), 24.0);
}

#[test]
fn number_formats_read_currency_symbols_and_decimal_commas() {
    let p = Project::new("[import.orders]\nnumber_format = \"1,234.56\"\n");
    let dir = p.file(
        "us",
        "orders.csv",
        format!(
            "{ORDERS},cost\nO1,C1,2026-11-16,\"$1,234.56\",$34.56\nO2,C1,2026-11-16,($10.00),\n"
        )
        .as_bytes(),
    );
    p.ok(&["import", &dir]);
    assert_eq!(p.number("SELECT sum(amount) FROM orders"), 1224.56);
    let q = Project::new("[import.orders]\nnumber_format = \"1.234,56\"\n");
    let dir = q.file(
        "de",
        "orders.csv",
        "order_id;customer_id;ordered_on;amount\nO1;C1;2026-11-16;1.234,56 €\nO2;C1;2026-11-16;-0,50 €\n".as_bytes(),
    );
    q.ok(&["import", &dir]);
    assert_eq!(q.number("SELECT sum(amount) FROM orders"), 1234.06);
    // Without number_format the plain rule holds, and says what to set.
    let r = Project::new("");
    let dir = r.file(
        "us",
        "orders.csv",
        format!("{ORDERS}\nO1,C1,2026-11-16,\"$1,234.56\"\n").as_bytes(),
    );
    r.refused(&dir, &[], "orders.csv:2:4: amount: '$1,234.56' is not a number (use '.' as decimal point and no thousands separator, or set number_format in [import.<file>], e.g. \"1,234.56\" or \"1.234,56\")");
}

/// Values a user cannot have meant: refused by cell, with or without a
/// format, and the store unchanged.
#[test]
fn implausible_values_are_refused() {
    let p = Project::new("");
    let ok = p.file(
        "ok",
        "orders.csv",
        format!("{ORDERS}\nO0,C1,2026-11-16,5\n").as_bytes(),
    );
    p.ok(&["import", &ok]);
    let big = "9".repeat(400);
    let cases = [
        (
            format!("{ORDERS}\nO1,C1,2026-11-16,{big}\n"),
            "orders.csv:2:4: amount: '99999999999999999999… (400 characters)' is too large to be a number from a CRM (more than 18 digits before the decimal point)".to_string(),
        ),
        (
            format!("{ORDERS}\nO1,C1,1899-12-31,5\n"),
            "orders.csv:2:3: ordered_on: '1899-12-31' is outside the years 1900 to 2199 (a placeholder or a typo?)".into(),
        ),
        (
            format!("{ORDERS}\nO1,C1,9999-12-31,5\n"),
            "orders.csv:2:3: ordered_on: '9999-12-31' is outside the years 1900 to 2199".into(),
        ),
        (
            format!("{ORDERS}\nO1,C1,2026-1-5,5\n"),
            "orders.csv:2:3: ordered_on: '2026-1-5' is not a date (expected YYYY-MM-DD with a zero-padded month and day, like 2026-01-05; set date_format in [import.<file>] for other layouts)".into(),
        ),
    ];
    for (i, (text, expected)) in cases.iter().enumerate() {
        let dir = p.file(&format!("bad{i}"), "orders.csv", text.as_bytes());
        p.refused(&dir, &[], expected);
    }
    let t = p.file(
        "ts",
        "tickets.csv",
        b"ticket_id,opened_at\nT1,2026-11-17T09:00:00Z\nT2,0001-01-01T00:00:00Z\n",
    );
    p.refused(
        &t,
        &[],
        "tickets.csv:3:2: opened_at: '0001-01-01T00:00:00Z' is outside the years 1900 to 2199",
    );
    let q = Project::new("[import.orders]\ndate_format = \"%d/%m/%Y\"\n");
    let dir = q.file(
        "f",
        "orders.csv",
        format!("{ORDERS}\nO1,C1,01/01/1850,5\n").as_bytes(),
    );
    q.refused(
        &dir,
        &[],
        "orders.csv:2:3: ordered_on: '01/01/1850' is outside the years 1900 to 2199",
    );
}

// ------------------------------------------------------- deals as CRMs write them

/// An open deal's expected close date is ignored (and counted); a deal
/// created after its close (a migrated record) is kept, counted by its close
/// date and left out of the sales cycle.
#[test]
fn deals_as_crms_write_them() {
    let p = Project::new("");
    let dir = p.file(
        "d",
        "deals.csv",
        b"deal_id,created_on,stage,closed_on\n\
          D1,2026-11-02,won,2026-11-17\n\
          D2,2026-11-25,won,2026-11-18\n\
          D3,2026-11-16,open,2026-12-24\n\
          D4,2026-11-10,lost,2026-11-19\n",
    );
    let out = p.ok(&["import", &dir]);
    assert!(
        out.contains("deals.csv: 4 rows: 4 inserted, 0 replaced, 0 unchanged; stages read as won: won (2); lost: lost (1); open: open (1); 1 open deal had a close date, ignored; 1 closed deal was created after its close date, counted by the close date and left out of sales_cycle_days"),
        "{out}"
    );
    assert_eq!(
        p.strings("SELECT deal_id || ' ' || ifnull(closed_on, '-') FROM deals ORDER BY deal_id"),
        ["D1 2026-11-17", "D2 2026-11-18", "D3 -", "D4 2026-11-19"]
    );
    p.ok(&["run", "--no-send", "--period", "2026-W47"]);
    let k = p.kpis("2026-W47");
    close(value(&k, "deals_won"), 2.0);
    close(value(&k, "win_rate"), 100.0 * 2.0 / 3.0);
    // D1 only: 15 days (D2 has no cycle).
    close(value(&k, "sales_cycle_days"), 15.0);
    // The data-quality section says both, from the store: the ignored close
    // date as the import recorded it, the migrated deal from the stored rows.
    let ignored = "1 open deal had a close date (the expected close CRMs write) that the latest import of deals.csv ignored: it counts as open.";
    let migrated = "1 deal closed in this period was created after its close date (migrated records?): counted by the close date, left out of the sales cycle.";
    for file in ["scorecard.md", "scorecard.html"] {
        let text =
            std::fs::read_to_string(p.path(&format!("reports/weekly/2026-W47/{file}"))).unwrap();
        assert!(text.contains(ignored), "{file}: {text}");
        assert!(text.contains(migrated), "{file}: {text}");
    }
    assert_eq!(
        k["data_quality"],
        serde_json::json!({"open_deals_close_date_ignored": 1, "deals_created_after_close": 1})
    );
    // W48 closed none of them: only the import's count is left.
    p.ok(&["run", "--no-send", "--period", "2026-W48"]);
    assert_eq!(
        p.kpis("2026-W48")["data_quality"],
        serde_json::json!({"open_deals_close_date_ignored": 1, "deals_created_after_close": 0})
    );
    // A later export without expected close dates: the count follows the
    // latest import of deals.
    let dir = p.file(
        "d2",
        "deals.csv",
        b"deal_id,created_on,stage,closed_on\n\
          D3,2026-11-16,open,\n",
    );
    let out = p.ok(&["import", &dir]);
    assert!(
        out.contains(
            "deals.csv: 1 rows: 0 inserted, 0 replaced, 1 unchanged; stages read as open: open (1)"
        ),
        "{out}"
    );
    p.ok(&["run", "--no-send", "--period", "2026-W47", "--force"]);
    let k = p.kpis("2026-W47");
    assert_eq!(
        k["data_quality"],
        serde_json::json!({"open_deals_close_date_ignored": 0, "deals_created_after_close": 1})
    );
    let md = p.read("reports/weekly/2026-W47/scorecard.md");
    assert!(!md.contains("open deal had a close date"), "{md}");
}

/// `--log-format json`: the import summary's details as fields.
#[test]
fn the_import_summary_as_json() {
    let p = Project::new("");
    let dir = p.file(
        "d",
        "deals.csv",
        b"deal_id,created_on,stage,closed_on\n\
          D1,2026-11-02,won,2026-11-17\n\
          D2,2026-11-25,won,2026-11-18\n\
          D3,2026-11-16,open,2026-12-24\n\
          D4,2026-11-10,lost,2026-11-19\n",
    );
    let out = p.ok(&["--log-format", "json", "import", &dir]);
    let doc: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(
        doc["import"][0],
        serde_json::json!({
            "file": "deals.csv", "rows": 4, "inserted": 4, "replaced": 0, "unchanged": 0,
            "rejected": 0, "already_imported": false, "skipped": 0, "filtered": 0,
            "filter_columns": [],
            "stages": {"won": {"won": 2}, "lost": {"lost": 1}, "open": {"open": 1}},
            "close_dates_ignored": 1, "closed_before_created": 1, "refunds": 0, "merged": 0,
            "format": null
        })
    );
}

/// HubSpot's default deal export has no "Is Closed Won": won and lost come
/// from the default pipeline's stage labels, every other stage is open.
#[test]
fn hubspot_deals_default_columns() {
    let (p, out, k) = preset_run("[import.deals]\npreset = \"hubspot\"\n", "hubspot-default");
    assert!(
        out.contains("hubspot-crm-exports-all-deals-2026-11-23.csv: 4 rows: 4 inserted, 0 replaced, 0 unchanged; stages read as won: Closed Won (1); lost: Closed Lost (1); open: Appointment Scheduled (1), Contract Sent (1); 1 open deal had a close date, ignored"),
        "{out}"
    );
    // Created in W47: 203 (11-18), 204 (11-20); 201 won (11-03 → 11-17),
    // 202 lost.
    close(value(&k, "deals_created"), 2.0);
    close(value(&k, "deals_won"), 1.0);
    close(value(&k, "win_rate"), 50.0);
    close(value(&k, "won_revenue"), 2400.0);
    close(value(&k, "sales_cycle_days"), 14.0);
    assert_eq!(k["data_quality"]["open_deals_close_date_ignored"], 1);
    let md = p.read("reports/weekly/2026-W47/scorecard.md");
    assert!(md.contains("1 open deal had a close date"), "{md}");
}

/// A Salesforce report export (labels, en_US dates, amounts with
/// separators, a BOM, the footers) is read by the salesforce preset; the
/// file name `report<epoch ms>.csv` is found without a `file` key.
#[test]
fn salesforce_report_export() {
    let (p, out, k) = preset_run(
        "[import.deals]\npreset = \"salesforce\"\n",
        "salesforce-report",
    );
    assert!(
        out.contains("report1763942400000.csv: 5 rows: 5 inserted, 0 replaced, 0 unchanged; 3 non-data rows skipped (extra header rows, footers); stages read as won: Closed Won (3); lost: Closed Lost (1); open: Proposal/Price Quote (1); 1 open deal had a close date, ignored; 1 closed deal was created after its close date, counted by the close date and left out of sales_cycle_days"),
        "{out}"
    );
    assert_eq!(
        p.strings("SELECT deal_id || ' ' || created_on || ' ' || ifnull(closed_on, '-') || ' ' || ifnull(amount, '-') FROM deals ORDER BY created_on"),
        [
            "Acme - 200 seats 2026-11-02 2026-11-17 12000.0",
            "Globex renewal 2026-11-06 2026-11-20 3500.0",
            "Initech pilot 2026-11-10 2026-11-18 1000.0",
            "Hooli expansion 2026-11-19 - 8000.0",
            "Stark migration 2026-11-24 2026-11-19 2000.0",
        ]
    );
    // Won in W47: Acme, Globex, Stark (by its close date); lost: Initech.
    close(value(&k, "deals_won"), 3.0);
    close(value(&k, "win_rate"), 75.0);
    close(value(&k, "won_revenue"), 17500.0);
    // Acme 15 days, Globex 14; Stark has no cycle.
    close(value(&k, "sales_cycle_days"), 14.5);
    close(value(&k, "deals_created"), 1.0);
    assert_eq!(
        k["data_quality"],
        serde_json::json!({"open_deals_close_date_ignored": 1, "deals_created_after_close": 1})
    );
    // Without the preset: one sentence says what to add, exit 3, no store.
    let q = Project::new("");
    let dir = fixture("presets/salesforce-report");
    let (code, stderr) = q.fail(&["import", dir.to_str().unwrap()]);
    assert_eq!(code, 3);
    assert_eq!(
        stderr.trim_end(),
        format!("scorecard: {}: no snapshot files in this folder (expected any of: customers.csv, deals.csv, orders.csv, tickets.csv, surveys.csv, spend.csv, activities.csv, measures.csv; map other names with [import.<file>] file); report1763942400000.csv: it looks like a Salesforce deals export: add [import.deals] preset = \"salesforce\" to the config", dir.display())
    );
    assert!(q.store_bytes().is_none());
}

/// A newer Typeform export: partial responses (no submission) are left out.
#[test]
fn typeform_partial_responses_are_left_out() {
    let (_p, out, k) = preset_run(
        "[import.surveys]\npreset = \"typeform\"\nfile = \"responses-*.csv\"\ncolumns = { score = \"How likely are you to recommend us to a friend?\" }\n",
        "typeform-new",
    );
    assert!(
        out.contains("responses-nps.csv: 2 rows: 2 inserted, 0 replaced, 0 unchanged; 1 left out by filters on response type"),
        "{out}"
    );
    // 9 and 4: one promoter, one detractor.
    close(value(&k, "nps_responses"), 2.0);
    close(value(&k, "nps"), 0.0);
}

// ----------------------------------------------------------------- presets

fn preset_run(config: &str, vendor: &str) -> (Project, String, Value) {
    let p = Project::new(config);
    let out = p.ok(&[
        "import",
        fixture(&format!("presets/{vendor}")).to_str().unwrap(),
    ]);
    p.ok(&["run", "--no-send", "--period", "2026-W47"]);
    let k = p.kpis("2026-W47");
    (p, out, k)
}

/// HubSpot's "all properties" deal export: quoted fields, thousands
/// separators, custom stage labels (won/lost from the booleans), a column
/// repeated that nothing reads, expected close dates on open deals.
#[test]
fn hubspot_deals() {
    let (_p, out, k) = preset_run("[import.deals]\npreset = \"hubspot\"\n", "hubspot");
    assert!(
        out.contains("hubspot-crm-exports-all-deals-2026-11-23.csv: 5 rows: 5 inserted, 0 replaced, 0 unchanged; stages read as won: Closed won (1), Closed: won (1); lost: Closed lost (1); open: Appointment scheduled (1), Contract sent (1); 2 open deals had a close date, ignored"),
        "{out}"
    );
    // Created in W47: 104 (11-16), 105 (11-20). Won: 101 (11-17), 102 (11-18);
    // lost: 103 (11-19).
    close(value(&k, "deals_created"), 2.0);
    close(value(&k, "deals_won"), 2.0);
    close(value(&k, "win_rate"), 100.0 * 2.0 / 3.0);
    close(value(&k, "won_revenue"), 1200.5 + 800.0);
    // 101: 11-02 → 11-17 = 15 days; 102: 11-10 → 11-18 = 8 days.
    close(value(&k, "sales_cycle_days"), (15.0 + 8.0) / 2.0);
}

/// HubSpot's ticket export: the first agent response is a timestamp.
#[test]
fn hubspot_tickets() {
    let (_p, out, k) = preset_run("[import.tickets]\npreset = \"hubspot\"\n", "hubspot");
    assert!(
        out.contains("hubspot-crm-exports-all-tickets-2026-11-23.csv: 3 rows: 3 inserted"),
        "{out}"
    );
    close(value(&k, "tickets_opened"), 3.0);
    // 45 min and 25 h; 9003 not answered. The data's as-of is the latest
    // instant, 9003's opening (11-19 15:30): 9003 is still pending for the
    // SLA, so the rate is 9001 within of 9001, 9002 decided (kpis.md).
    close(value(&k, "avg_first_response_hours"), (0.75 + 25.0) / 2.0);
    close(value(&k, "first_response_sla_rate"), 50.0);
    // Resolution (72 h): 9001 after 4 h; 9002 (53.5 h open) and 9003 are
    // pending. Kaplan–Meier: 9003 leaves the risk set at 0 h, so at 4 h one
    // of two tickets is resolved: F(72 h) = 1/2.
    close(value(&k, "resolution_rate"), 50.0);
    close(value(&k, "avg_resolution_hours"), 4.0);
}

/// Salesforce's Account.csv as customers: every other column a segment
/// attribute; CreatedDate with its offset (Globex: 11-20 06:30 UTC).
#[test]
fn salesforce_accounts() {
    let (p, _out, k) = preset_run(
        "[report]\nsegments = [\"industry\"]\n[import.customers]\npreset = \"salesforce\"\n",
        "salesforce",
    );
    assert_eq!(
        p.strings("SELECT acquired_on FROM customers ORDER BY customer_id"),
        ["2026-11-16", "2026-11-20", "2025-03-02"]
    );
    assert_eq!(
        p.strings(
            "SELECT value FROM customer_attributes WHERE name = 'industry' ORDER BY customer_id"
        ),
        ["Manufacturing", "Energy", "Technology"]
    );
    close(value(&k, "new_customers"), 2.0);
    close(value(&k, "customers_end"), 3.0);
}

/// Data Loader's Opportunity.csv: BOM, API names in another case, `1`/empty
/// and `true` booleans, timestamps with `+0000`/`-0500`, a custom stage and
/// a migrated deal created after its close.
#[test]
fn salesforce_opportunities() {
    let (p, out, k) = preset_run("[import.deals]\npreset = \"salesforce\"\n", "salesforce");
    assert!(
        out.contains("Opportunity.csv: 5 rows: 5 inserted, 0 replaced, 0 unchanged; stages read as won: Closed Won (2), Won - Expansion (1); lost: Closed Lost (1); open: Negotiation/Review (1); 1 open deal had a close date, ignored; 1 closed deal was created after its close date"),
        "{out}"
    );
    // A5 was created at 23:30 -05:00 on 11-16, i.e. 11-17 in UTC.
    assert_eq!(
        p.strings("SELECT created_on FROM deals WHERE deal_id = '006Ec00000A5'"),
        ["2026-11-17"]
    );
    // Created in W47: A2 (11-18), A5 (11-17). Won: A1 (11-17), A4 (11-20,
    // created 11-25), A5 (11-21); lost: A3.
    close(value(&k, "deals_created"), 2.0);
    close(value(&k, "deals_won"), 3.0);
    close(value(&k, "win_rate"), 75.0);
    close(value(&k, "won_revenue"), 6000.0);
    // A1: 14 days, A5: 4 days; A4 has no cycle.
    close(value(&k, "sales_cycle_days"), 9.0);
}

/// The public Salesforce Case.csv (tests/fixtures/salesforce, BSD-3), as
/// exported: 40 cases opened 2024-01-23T13:26:08.000+0000, 14 closed then.
#[test]
fn salesforce_public_case_export_as_tickets() {
    let p = Project::new("[import.tickets]\npreset = \"salesforce\"\n");
    let out = p.ok(&["import", fixture("salesforce").to_str().unwrap()]);
    assert!(
        out.contains("Case.csv: 40 rows: 40 inserted, 0 replaced, 0 unchanged"),
        "{out}"
    );
    assert_eq!(
        p.number("SELECT count(*) FROM tickets WHERE opened_at = 1706016368000"),
        40.0
    );
    assert_eq!(
        p.number("SELECT count(*) FROM tickets WHERE resolved_at = opened_at"),
        14.0
    );
    p.ok(&["run", "--no-send", "--period", "2024-W04"]);
    let k = p.kpis("2024-W04");
    close(value(&k, "tickets_opened"), 40.0);
    close(value(&k, "resolution_rate"), 100.0 * 14.0 / 40.0);
    close(value(&k, "avg_resolution_hours"), 0.0);
}

/// Pipedrive: every field quoted, status Open/Won/Lost, a Deleted deal left
/// out by the preset's filter.
#[test]
fn pipedrive_deals() {
    let (_p, out, k) = preset_run("[import.deals]\npreset = \"pipedrive\"\n", "pipedrive");
    assert!(
        out.contains("deals-2026-11-23.csv: 4 rows: 4 inserted, 0 replaced, 0 unchanged; 1 left out by filters on deal - status; stages read as won: Won (2); lost: Lost (1); open: Open (1)"),
        "{out}"
    );
    close(value(&k, "deals_created"), 1.0);
    close(value(&k, "deals_won"), 2.0);
    close(value(&k, "win_rate"), 100.0 * 2.0 / 3.0);
    close(value(&k, "won_revenue"), 2500.0);
    // 1: 11-02 → 11-16 = 14; 5: 11-04 → 11-20 = 16.
    close(value(&k, "sales_cycle_days"), 15.0);
}

/// Zendesk: the first reply is minutes after Created at; the same export
/// also gives CSAT surveys (Good = 5, Bad = 1; Offered and Not Offered are
/// not answers).
#[test]
fn zendesk_tickets_and_csat() {
    let (_p, out, k) = preset_run("[import.tickets]\npreset = \"zendesk\"\n", "zendesk");
    assert!(
        out.contains("export-2026-11-23.csv: 5 rows: 5 inserted, 0 replaced, 0 unchanged"),
        "{out}"
    );
    assert!(
        out.contains("export-2026-11-23.csv: 3 rows: 3 inserted, 0 replaced, 0 unchanged; 2 left out by filters on satisfaction score"),
        "{out}"
    );
    close(value(&k, "tickets_opened"), 5.0);
    // Replies after 30 min, 1500 min, 90 min, 0.5 min (1004 none).
    let hours = [0.5, 25.0, 1.5, 0.5 / 60.0];
    close(
        value(&k, "avg_first_response_hours"),
        hours.iter().sum::<f64>() / 4.0,
    );
    close(value(&k, "median_first_response_hours"), 1.0);
    close(value(&k, "first_response_sla_rate"), 60.0);
    // Solved: 3 h, 24 h, 1 h.
    close(value(&k, "resolution_rate"), 60.0);
    close(value(&k, "avg_resolution_hours"), 28.0 / 3.0);
    close(value(&k, "csat_responses"), 3.0);
    close(value(&k, "csat"), 100.0 * 2.0 / 3.0);
}

/// Freshdesk: first response in hours, as a number or HH:MM:SS; "Survey
/// results" also gives CSAT surveys (Awesome = 5, Not Good = 1), dated by
/// Resolved time; tickets without a rating are left out of the surveys.
#[test]
fn freshdesk_tickets() {
    let (_p, out, k) = preset_run("[import.tickets]\npreset = \"freshdesk\"\n", "freshdesk");
    assert!(
        out.contains("export.csv: 4 rows: 4 inserted, 0 replaced, 0 unchanged"),
        "{out}"
    );
    assert!(
        out.contains("export.csv: 2 rows: 2 inserted, 0 replaced, 0 unchanged; 2 left out by filters on survey results"),
        "{out}"
    );
    close(value(&k, "tickets_opened"), 4.0);
    // 00:30:00, 2.5 h, 25:15:00.
    close(
        value(&k, "avg_first_response_hours"),
        (0.5 + 2.5 + 25.25) / 3.0,
    );
    close(value(&k, "median_first_response_hours"), 2.5);
    close(value(&k, "first_response_sla_rate"), 50.0);
    close(value(&k, "avg_resolution_hours"), (4.0 + 24.0) / 2.0);
    // Awesome (5) on ticket 1, Not Good (1) on ticket 2: one of two satisfied.
    close(value(&k, "csat_responses"), 2.0);
    close(value(&k, "csat"), 50.0);
}

/// Stripe: a payment that took money (Paid, Refunded) is an order of its
/// Amount on its day; its Amount Refunded a negative order dated by
/// "Refunded date (UTC)" (a refund in a later week lowers that week's
/// revenue). "(UTC)" times become days in the report's zone (Berlin: the
/// 11-22 23:30 UTC payment is on 11-23). Customers come from subscriptions:
/// earliest start, latest end once all have ended, the latest plan.
#[test]
fn stripe_payments_and_subscriptions() {
    let (p, out, k) = preset_run(
        "[report]\ntimezone = \"Europe/Berlin\"\nsegments = [\"plan\"]\n[import.orders]\npreset = \"stripe\"\n[import.customers]\npreset = \"stripe\"\n",
        "stripe",
    );
    assert!(
        out.contains("unified_payments.csv: 5 rows: 7 inserted, 0 replaced, 0 unchanged; 1 left out by filters on status; 2 refunds written as negative orders"),
        "{out}"
    );
    assert!(
        out.contains("subscriptions.csv: 5 rows: 3 inserted, 0 replaced, 0 unchanged; 2 rows merged into their customer's (earliest start, latest end)"),
        "{out}"
    );
    assert_eq!(
        p.strings(
            "SELECT order_id || ' ' || ordered_on || ' ' || amount FROM orders ORDER BY order_id"
        ),
        [
            "ch_3Q1 2026-11-16 1200.0",
            "ch_3Q2 2026-11-18 50.0",
            "ch_3Q4 2026-11-19 30.0",
            "ch_3Q4:refund 2026-11-25 -30.0",
            "ch_3Q5 2026-11-23 20.5",
            "ch_3Q6 2026-11-20 100.0",
            "ch_3Q6:refund 2026-11-20 -40.0",
        ]
    );
    assert_eq!(
        p.strings("SELECT customer_id || ' ' || acquired_on || ' ' || ifnull(churned_on, '-') FROM customers ORDER BY customer_id"),
        ["cus_A 2025-06-01 -", "cus_B 2026-03-01 2026-11-18", "cus_C 2026-11-18 -"]
    );
    assert_eq!(
        p.strings("SELECT value FROM customer_attributes WHERE name = 'plan' ORDER BY customer_id"),
        ["Pro", "Pro", "Pro"]
    );
    // W47 (Berlin): 1200 + 50 + 30 + 100 − 40 (ch_3Q6's refund the same
    // day); ch_3Q4's refund is on 11-25 (W48), ch_3Q5 on 11-23 (W48).
    close(value(&k, "orders"), 5.0);
    close(value(&k, "revenue"), 1340.0);
    close(value(&k, "new_customers"), 1.0);
    close(value(&k, "churned_customers"), 1.0);
    p.ok(&["run", "--no-send", "--period", "2026-W48"]);
    let w48 = p.kpis("2026-W48");
    // 20.5 − 30.
    close(value(&w48, "revenue"), -9.5);
    close(value(&w48, "orders"), 2.0);
}

/// An older Stripe export: "Created (UTC)" and no refund date (the refund
/// falls on the payment's day); a fully refunded payment nets to zero.
#[test]
fn stripe_older_payment_export() {
    let (p, out, k) = preset_run("[import.orders]\npreset = \"stripe\"\n", "stripe-older");
    assert!(
        out.contains("unified_payments.csv: 3 rows: 5 inserted, 0 replaced, 0 unchanged; 1 left out by filters on status; 2 refunds written as negative orders"),
        "{out}"
    );
    assert_eq!(
        p.strings(
            "SELECT order_id || ' ' || ordered_on || ' ' || amount FROM orders ORDER BY order_id"
        ),
        [
            "ch_1A 2026-11-16 1000.0",
            "ch_1B 2026-11-17 200.0",
            "ch_1B:refund 2026-11-17 -50.0",
            "ch_1D 2026-11-19 80.0",
            "ch_1D:refund 2026-11-19 -80.0",
        ]
    );
    // 1000 + 200 − 50 + 80 − 80.
    close(value(&k, "revenue"), 1150.0);
}

/// Typeform: the 0–10 question is named in config; the rest is the preset.
#[test]
fn typeform_nps() {
    let (_p, out, k) = preset_run(
        "[import.surveys]\npreset = \"typeform\"\ncolumns = { score = \"How likely are you to recommend us to a friend?\", comment = \"What could we do better?\" }\n",
        "typeform",
    );
    assert!(out.contains("responses.csv: 5 rows: 5 inserted"), "{out}");
    // 10, 9, 6, 3, 10: 3 promoters, 2 detractors of 5.
    close(value(&k, "nps_responses"), 5.0);
    close(value(&k, "nps"), 20.0);
    // Without the question, the message says what to add.
    let q = Project::new("[import.surveys]\npreset = \"typeform\"\n");
    q.refused(
        fixture("presets/typeform").to_str().unwrap(),
        &[],
        "responses.csv:1: missing required column score; found: #, how likely are you to recommend us to a friend?, what could we do better?, start date (utc), submit date (utc), network id; expected: response_id, answered_on, kind, score, customer_id (optional), comment (optional) (header names are matched case-insensitively; map other names in [import.surveys] columns); the typeform preset reads the 0-10 question you name: columns = { score = \"<the question's header>\" }",
    );
}

/// SurveyMonkey: a second header row, US date-times with AM/PM.
#[test]
fn surveymonkey_nps() {
    let (_p, out, k) = preset_run(
        "[import.surveys]\npreset = \"surveymonkey\"\nfile = \"Customer-NPS.csv\"\ncolumns = { score = \"How likely is it that you would recommend this company to a friend or colleague?\" }\n",
        "surveymonkey",
    );
    assert!(
        out.contains("Customer-NPS.csv: 4 rows: 4 inserted, 0 replaced, 0 unchanged; 1 non-data row skipped (extra header rows, footers)"),
        "{out}"
    );
    // 9, 10, 7, 2: 2 promoters, 1 detractor of 4.
    close(value(&k, "nps"), 25.0);
}

/// A known export without its preset: the message says which to add.
#[test]
fn a_known_export_without_its_preset_says_which_to_add() {
    let p =
        Project::new("[import.deals]\nfile = \"hubspot-crm-exports-all-deals-2026-11-23.csv\"\n");
    p.refused(
        fixture("presets/hubspot").to_str().unwrap(),
        &["--skip-invalid"],
        "hubspot-crm-exports-all-deals-2026-11-23.csv:1: this looks like a HubSpot export: add preset = \"hubspot\" to [import.deals] (missing required columns deal_id, created_on, stage",
    );
    // Not mapped at all: the warning of the ignored file says it too.
    let q = Project::new("");
    let dir = q.file(
        "mixed",
        "orders.csv",
        format!("{ORDERS}\nO1,C1,2026-11-16,5\n").as_bytes(),
    );
    std::fs::copy(
        fixture("presets/pipedrive/deals-2026-11-23.csv"),
        q.path("mixed/pipedrive-export.csv"),
    )
    .unwrap();
    let out = q.cmd().args(["import", &dir]).output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("pipedrive-export.csv: ignored, not a snapshot file (expected: customers.csv, deals.csv, orders.csv, tickets.csv, surveys.csv, spend.csv, activities.csv, measures.csv); it looks like a Pipedrive deals export: add [import.deals] preset = \"pipedrive\" and file = \"pipedrive-export.csv\" to the config"),
        "{stderr}"
    );
    // An unknown preset is a configuration error.
    let r = Project::new("[import.deals]\npreset = \"zoho\"\n");
    let (code, stderr) = r.fail(&["import", &dir]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("'zoho' is not a preset (presets: hubspot, salesforce, pipedrive, zendesk, freshdesk, stripe, typeform, surveymonkey)"),
        "{stderr}"
    );
}

/// A hand mapping key overrides the preset's, key by key.
#[test]
fn hand_keys_override_a_preset() {
    let p = Project::new(
        "[import.deals]\npreset = \"hubspot\"\nfile = \"pipeline.csv\"\ncolumns = { owner = \"Pipeline\" }\n",
    );
    let dir = p.file(
        "h",
        "pipeline.csv",
        &std::fs::read(fixture(
            "presets/hubspot/hubspot-crm-exports-all-deals-2026-11-23.csv",
        ))
        .unwrap(),
    );
    p.ok(&["import", &dir]);
    assert_eq!(
        p.strings("SELECT DISTINCT owner FROM deals"),
        ["Sales Pipeline"]
    );
}

/// A `.zip` of CSV files is read as a folder (HubSpot mails its exports
/// zipped); `file` globs match the names inside.
#[test]
fn a_zip_archive_is_read_as_a_folder() {
    use std::io::Write;
    let p = Project::new(
        "[import.deals]\npreset = \"hubspot\"\n[import.orders]\nfile = \"orders-*.csv\"\n",
    );
    let archive = p.path("hubspot-export.zip");
    {
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&archive).unwrap());
        let opts = zip::write::SimpleFileOptions::default();
        zip.start_file("export/hubspot-crm-exports-all-deals-2026-11-23.csv", opts)
            .unwrap();
        zip.write_all(
            &std::fs::read(fixture(
                "presets/hubspot/hubspot-crm-exports-all-deals-2026-11-23.csv",
            ))
            .unwrap(),
        )
        .unwrap();
        zip.start_file("orders-2026-11.csv", opts).unwrap();
        zip.write_all(format!("{ORDERS}\nO1,C1,2026-11-16,5\n").as_bytes())
            .unwrap();
        zip.start_file("../README.txt", opts).unwrap();
        zip.write_all(b"not a snapshot").unwrap();
        zip.finish().unwrap();
    }
    let out = p.ok(&["import", archive.to_str().unwrap()]);
    assert!(
        out.contains("hubspot-crm-exports-all-deals-2026-11-23.csv: 5 rows: 5 inserted"),
        "{out}"
    );
    assert!(
        out.contains("orders-2026-11.csv: 1 rows: 1 inserted"),
        "{out}"
    );
    assert_eq!(
        p.strings("SELECT path FROM snapshots ORDER BY id"),
        [
            format!(
                "{}/hubspot-crm-exports-all-deals-2026-11-23.csv",
                archive.display()
            ),
            format!("{}/orders-2026-11.csv", archive.display())
        ]
    );
    // Nothing outside the temporary folder was written.
    assert!(!p.dir.path().join("README.txt").exists());
    // A damaged archive: exit 3, the store unchanged.
    std::fs::write(p.path("broken.zip"), b"PK\x03\x04 not really").unwrap();
    p.refused_path(
        p.path("broken.zip").to_str().unwrap(),
        "broken.zip: cannot read the zip archive:",
    );
}

/// `refunds` and `merge_rows` by hand, and where they do not apply.
#[test]
fn refunds_and_merged_rows_by_hand() {
    let p = Project::new(
        "[import.orders]\nrefunds = \"refunded\"\n[import.customers]\nmerge_rows = true\n",
    );
    let dir = p.file(
        "h",
        "orders.csv",
        format!("{ORDERS},refunded\nO1,C1,2026-11-16,50,20\nO2,C1,2026-11-17,10,\n").as_bytes(),
    );
    std::fs::write(
        p.path("h/customers.csv"),
        "customer_id,acquired_on,churned_on\nC1,2026-02-01,2026-05-01\nC1,2026-01-01,2026-03-01\n",
    )
    .unwrap();
    p.ok(&["import", &dir]);
    assert_eq!(
        p.strings("SELECT order_id || ' ' || amount FROM orders ORDER BY order_id"),
        ["O1 50.0", "O1:refund -20.0", "O2 10.0"]
    );
    assert_eq!(
        p.strings("SELECT acquired_on || ' ' || churned_on FROM customers"),
        ["2026-01-01 2026-05-01"]
    );
    let q = Project::new("[import.deals]\nrefunds = \"x\"\n");
    let (code, stderr) = q.fail(&["import", &dir]);
    assert_eq!(code, 2);
    assert!(stderr.contains("refunds are only for orders"), "{stderr}");
    let q = Project::new("[import.orders]\nrefund_date = \"refunded_on\"\n");
    let (code, stderr) = q.fail(&["import", &dir]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("dates the refunds of `refunds`: set refunds too"),
        "{stderr}"
    );
    // A refund date that is no date: file:line:column, exit 3, store untouched.
    let r =
        Project::new("[import.orders]\nrefunds = \"refunded\"\nrefund_date = \"refunded_on\"\n");
    let bad = r.file(
        "r",
        "orders.csv",
        format!("{ORDERS},refunded,refunded_on\nO1,C1,2026-11-16,50,20,2026-11-18\nO2,C1,2026-11-17,10,5,18/11/2026\n").as_bytes(),
    );
    r.refused(
        &bad,
        &[],
        "orders.csv:3:6: refund_date: 'refunded_on': '18/11/2026' is not a date (expected YYYY-MM-DD; set date_format in [import.<file>] for other layouts)",
    );
}

/// The compact SQLite tables (store migration 12) show every date and
/// amount as the file gave it (through the view of the file's name, also
/// for custom SQL), whatever the amount's decimals; and importing the same
/// rows again in other bytes finds each one unchanged.
#[test]
fn compact_tables_keep_every_date_and_amount_and_reimport_is_a_no_op() {
    let p = Project::new("");
    let amounts = [
        "75.45",
        "-3",
        "0.0001",
        "1719.08",
        "12.34567",
        "0.1",
        "99999999.9999",
        "1000",
        "-0.5",
        "123456789012.5",
    ];
    let mut csv = format!("{ORDERS},cost\n");
    for (i, a) in amounts.iter().enumerate() {
        let cost = if i % 2 == 0 { "1.25" } else { "" };
        csv.push_str(&format!("O{i},C{i},2026-11-{:02},{a},{cost}\n", 10 + i));
    }
    let first = p.file("first", "orders.csv", csv.as_bytes());
    p.ok(&["import", &first]);
    let stored = p.strings(
        "SELECT order_id || ' ' || ordered_on || ' ' || ordered_day || ' ' || printf('%!.17g', amount) || ' ' || ifnull(cost, '-') FROM orders ORDER BY ordered_day",
    );
    for (i, (row, a)) in stored.iter().zip(amounts).enumerate() {
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 10 + i as u32).unwrap();
        let number: f64 = a.parse().unwrap();
        let shown: Vec<&str> = row.split(' ').collect();
        assert_eq!(shown[0], format!("O{i}"));
        assert_eq!(shown[1], day.to_string());
        assert_eq!(
            shown[3].parse::<f64>().unwrap().to_bits(),
            number.to_bits(),
            "{row}"
        );
        assert_eq!(shown[4], if i % 2 == 0 { "1.25" } else { "-" });
    }
    // Amounts of at most four decimals are stored as whole ten-thousandths.
    let kinds = p.strings("SELECT typeof(amount) FROM orders_rows ORDER BY ordered_day");
    assert_eq!(
        kinds,
        [
            "integer", "integer", "integer", "integer", "real", "integer", "integer", "integer",
            "integer", "integer"
        ]
    );
    assert_eq!(
        p.number("SELECT count(*) FROM orders WHERE ordered_on >= '2026-11-15' AND amount > 1"),
        3.0
    );
    let crlf = csv.replace('\n', "\r\n");
    let again = p.file("again", "orders.csv", crlf.as_bytes());
    let out = p.ok(&["import", &again]);
    assert!(
        out.contains("orders.csv: 10 rows: 0 inserted, 0 replaced, 10 unchanged"),
        "{out}"
    );
    assert_eq!(p.strings("PRAGMA integrity_check"), ["ok"]);
}

/// A first import writes the rows in id order many at a time and any other
/// row on its own (store::bulk): over several batches, with ids out of
/// order and duplicates among them, the table holds every row once, in the
/// file's order (rowids), and the duplicates are rejected on their lines.
#[test]
fn a_first_import_keeps_the_file_order_whatever_the_id_order() {
    let p = Project::new("");
    let mut csv = format!("{ORDERS}\n");
    let mut kept = Vec::new();
    let mut duplicates = Vec::new();
    for i in 0..700 {
        let id = match i {
            // Out of order: before every id so far, then back in order.
            _ if i % 97 == 50 => format!("A{i:04}"),
            // The id of an earlier row (in order, and one out of order).
            300 | 301 | 650 => format!("O{:04}", i - 200),
            601 => "A0050".to_string(),
            _ => format!("O{i:04}"),
        };
        let line = i + 2;
        if kept.contains(&id) {
            duplicates.push(format!("orders.csv,{line},"));
        } else {
            kept.push(id.clone());
        }
        csv.push_str(&format!(
            "{id},C{},2026-11-{:02},{}.5\n",
            i % 7,
            1 + i % 28,
            i
        ));
    }
    assert_eq!(duplicates.len(), 4);
    let first = p.file("first", "orders.csv", csv.as_bytes());
    let out = p.ok(&["import", "--skip-invalid", &first]);
    assert!(
        out.contains("orders.csv: 700 rows: 696 inserted, 0 replaced, 0 unchanged, 4 rejected"),
        "{out}"
    );
    assert_eq!(
        p.strings("SELECT order_id FROM orders_rows ORDER BY rowid"),
        kept
    );
    let amounts = p.strings("SELECT printf('%.1f', amount) FROM orders WHERE order_id = 'O0699'");
    assert_eq!(amounts, ["699.5"]);
    let rejects: Vec<std::path::PathBuf> = std::fs::read_dir(p.path(""))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|f| f.to_string_lossy().contains("rejects"))
        .collect();
    let rejects = std::fs::read_to_string(&rejects[0]).unwrap();
    for d in &duplicates {
        assert!(rejects.contains(d.as_str()), "{d} in {rejects}");
    }
    assert_eq!(p.strings("PRAGMA integrity_check"), ["ok"]);
    // Into the table with rows: one upsert each, all unchanged.
    let crlf = csv.replace('\n', "\r\n");
    let again = p.file("again", "orders.csv", crlf.as_bytes());
    let out = p.ok(&["import", "--skip-invalid", &again]);
    assert!(
        out.contains("orders.csv: 700 rows: 0 inserted, 0 replaced, 696 unchanged, 4 rejected"),
        "{out}"
    );
}

/// The activity kinds (a KPI each) follow the stored activities: a kind no
/// activity has any more is gone after the import that replaced it, and a
/// refused import leaves them as they were.
#[test]
fn the_activity_kinds_follow_the_stored_activities() {
    let p = Project::new("");
    let kinds = |p: &Project| p.strings("SELECT kind FROM activity_kinds ORDER BY kind");
    let first = p.file(
        "first",
        "activities.csv",
        b"activity_id,occurred_on,kind\nA1,2026-11-16,call\nA2,2026-11-17,demo\nA3,2026-11-17,call\n",
    );
    p.ok(&["import", &first]);
    assert_eq!(kinds(&p), ["call", "demo"]);
    let second = p.file(
        "second",
        "activities.csv",
        b"activity_id,occurred_on,kind\nA2,2026-11-17,meeting\n",
    );
    p.ok(&["import", &second]);
    assert_eq!(kinds(&p), ["call", "meeting"]);
    let bad = p.file(
        "bad",
        "activities.csv",
        b"activity_id,occurred_on,kind\nA4,2026-11-18,visit\nA5,someday,visit\n",
    );
    p.fail(&["import", &bad]);
    assert_eq!(kinds(&p), ["call", "meeting"]);
}
