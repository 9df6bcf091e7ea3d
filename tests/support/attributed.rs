//! Snapshots whose records carry their own segment cells (issue 10 item 4),
//! shared by tests/attribution.rs (SQLite) and tests/postgres.rs.
#![allow(dead_code)]

use std::path::PathBuf;

use super::project::Project;

/// `[report] segments` by region and by owner (the rep).
pub const CONFIG: &str = "[store]\npath = \"scorecard.db\"\n[report]\nsegments = [\"region\", \"owner\"]\nout_dir = \"reports\"\n";

/// C1 is EMEA and carol's, C2 has empty attributes, C3 is APAC and dave's.
pub const CUSTOMERS: &str = "customer_id,acquired_on,region,owner\nC1,2026-01-01,EMEA,carol\nC2,2026-01-01,,\nC3,2026-01-01,APAC,dave\n";

/// Five records of each of the five record files in week 2026-W47, as
/// (customer, own region, own owner): its own cell, else its customer's,
/// else `(none)`.
pub const RECORDS: [(&str, &str, &str); 5] = [
    ("C1", "APAC", ""),     // region APAC (own), owner carol (customer)
    ("C1", "", "bob"),      // region EMEA (customer), owner bob (own)
    ("Y", "AMER", "alice"), // an unknown customer with both cells
    ("", "", ""),           // no customer, no cell: (none) twice
    ("C2", "", ""),         // a customer with empty attributes: (none) twice
];

/// One record's line from (index, customer, owner, region).
type Line = fn(usize, &str, &str, &str) -> String;

/// Per file: its name, the count KPI each record adds one to, and the CSV.
pub fn record_files() -> Vec<(&'static str, &'static str, String)> {
    let files: [(&str, &str, &str, Line); 5] = [
        (
            "deals.csv",
            "deals_created",
            "deal_id,created_on,stage,customer_id,owner,region",
            |i, c, o, r| format!("D{i},2026-11-17,open,{c},{o},{r}"),
        ),
        // orders require a customer: the fourth is an unknown X
        (
            "orders.csv",
            "orders",
            "order_id,customer_id,ordered_on,amount,region,owner",
            |i, c, o, r| {
                format!(
                    "O{i},{},2026-11-17,5,{r},{o}",
                    if c.is_empty() { "X" } else { c }
                )
            },
        ),
        (
            "tickets.csv",
            "tickets_opened",
            "ticket_id,opened_at,customer_id,Region,Owner",
            |i, c, o, r| format!("T{i},2026-11-17T09:00:00Z,{c},{r},{o}"),
        ),
        (
            "surveys.csv",
            "nps_responses",
            "response_id,answered_on,kind,score,customer_id,comment,owner,region",
            |i, c, o, r| format!("S{i},2026-11-17,nps,9,{c},great {i},{o},{r}"),
        ),
        (
            "activities.csv",
            "activities.call",
            "activity_id,occurred_on,kind,owner,customer_id,region",
            |i, c, o, r| format!("A{i},2026-11-17,call,{o},{c},{r}"),
        ),
    ];
    files
        .into_iter()
        .map(|(file, kpi, header, line)| {
            let mut text = format!("{header}\n");
            for (i, (c, r, o)) in RECORDS.iter().enumerate() {
                text.push_str(&line(i, c, o, r));
                text.push('\n');
            }
            (file, kpi, text)
        })
        .collect()
}

/// Each count KPI's value per segment the records give.
pub const EXPECTED: [(&str, f64); 9] = [
    ("", 5.0),
    ("owner=(none)", 2.0),
    ("owner=alice", 1.0),
    ("owner=bob", 1.0),
    ("owner=carol", 1.0),
    ("region=(none)", 2.0),
    ("region=AMER", 1.0),
    ("region=APAC", 1.0),
    ("region=EMEA", 1.0),
];

/// A snapshot of the customers and the five record files.
pub fn records_snapshot(p: &Project, name: &str) -> PathBuf {
    let files = record_files();
    let mut all: Vec<(&str, &str)> = vec![("customers.csv", CUSTOMERS)];
    all.extend(files.iter().map(|(f, _, text)| (*f, text.as_str())));
    p.snapshot(name, &all)
}

/// Deals closed in 2026-W47, every one attributed to a region and an owner:
/// won deals on customers (their region from the customer), lost deals on
/// prospects (no customer) carrying their own region. EMEA 3 won / 5 lost
/// (37.5 %), APAC 2 / 1 (66.7 %); alice 2 / 3 (40 %), bob 3 / 3 (50 %);
/// the whole business 5 / 11 (45.5 %).
pub fn win_rate_deals(with_region: bool) -> String {
    let mut s = String::from("deal_id,created_on,closed_on,stage,amount,customer_id,owner");
    if with_region {
        s.push_str(",region");
    }
    s.push('\n');
    let deals = [
        ("W1", "won", "C1", "alice", "EMEA"),
        ("W2", "won", "C1", "bob", "EMEA"),
        ("W3", "won", "C1", "alice", "EMEA"),
        ("W4", "won", "C3", "bob", "APAC"),
        ("W5", "won", "C3", "bob", "APAC"),
        ("L1", "lost", "", "alice", "EMEA"),
        ("L2", "lost", "", "alice", "EMEA"),
        ("L3", "lost", "", "alice", "EMEA"),
        ("L4", "lost", "", "bob", "EMEA"),
        ("L5", "lost", "", "bob", "EMEA"),
        ("L6", "lost", "", "bob", "APAC"),
    ];
    for (id, stage, customer, owner, region) in deals {
        // Won deals take their region from the customer: no cell.
        let cell = if customer.is_empty() { region } else { "" };
        s.push_str(&format!(
            "{id},2026-11-02,2026-11-17,{stage},100,{customer},{owner}"
        ));
        if with_region {
            s.push_str(&format!(",{cell}"));
        }
        s.push('\n');
    }
    s
}
