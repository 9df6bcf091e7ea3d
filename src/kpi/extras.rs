//! What a report shows beside the KPIs, read from the store: the voice of the
//! customer (recent survey comments), data quality and stale sources.
use anyhow::Result;
use rusqlite::params;

use crate::config::Config;
use crate::model::{Comment, DataQuality, FileQuality};
use crate::period::{self, Period};
use crate::sources::FileKind;
use crate::store::Store;

/// Comments shown per scorecard are picked from at most this many recent ones.
const COMMENT_POOL: i64 = 400;

/// Survey comments of the period, newest first, with the respondent's segments.
pub fn comments(store: &Store, config: &Config, p: Period) -> Result<Vec<Comment>> {
    // One query: the period's recent comments with every attribute of their
    // customer (one row per comment and attribute, or one with NULLs).
    let rows = store.reader().rows(
        "SELECT v.response_id, v.answered_on, v.kind, v.score, v.comment, a.name, a.value
         FROM (SELECT response_id, answered_day, answered_on, kind, score, comment, customer_id FROM surveys
               WHERE answered_day >= ?1 AND answered_day < ?2 AND comment IS NOT NULL AND comment <> ''
               ORDER BY answered_day DESC, response_id LIMIT ?3) v
         LEFT JOIN customer_attributes a ON a.customer_id = v.customer_id
         ORDER BY v.answered_day DESC, v.response_id",
        params![p.start_day(), p.end_day(), COMMENT_POOL],
    )?;
    // (response id, comment, the customer's attributes as (name, value))
    type Pending = (String, Comment, Vec<(String, String)>);
    let mut out: Vec<Pending> = Vec::new();
    for r in &rows {
        let id: String = r.get(0)?;
        if out.last().is_none_or(|(last, _, _)| *last != id) {
            let comment = Comment {
                date: r.get(1)?,
                kind: r.get(2)?,
                score: r.get(3)?,
                text: r.get(4)?,
                segments: Vec::new(),
            };
            out.push((id, comment, Vec::new()));
        }
        if let (Some(name), Some(value)) = (
            r.get::<_, Option<String>>(5)?,
            r.get::<_, Option<String>>(6)?,
        ) {
            out.last_mut().expect("pushed above").2.push((name, value));
        }
    }
    // The responses' own segment cells, which win over the customer's.
    let mut own: std::collections::HashMap<String, Vec<(String, String)>> = Default::default();
    if !out.is_empty() && !config.segment_attrs().is_empty() {
        let rows = store.reader().rows(
            "SELECT s.response_id, a.name, a.value FROM surveys s
             JOIN survey_attributes a ON a.response_id = s.response_id
             WHERE s.answered_day >= ?1 AND s.answered_day < ?2 AND s.comment IS NOT NULL AND s.comment <> ''",
            params![p.start_day(), p.end_day()],
        )?;
        for r in &rows {
            own.entry(r.get(0)?)
                .or_default()
                .push((r.get(1)?, r.get(2)?));
        }
    }
    Ok(out
        .into_iter()
        .map(|(id, mut comment, attrs)| {
            let mine = own.get(&id).map(Vec::as_slice).unwrap_or_default();
            comment.segments = config
                .segment_attrs()
                .iter()
                .map(|attr| {
                    let value = mine
                        .iter()
                        .chain(&attrs)
                        .find(|(n, v)| n.eq_ignore_ascii_case(attr) && !v.is_empty())
                        .map(|(_, v)| v.as_str())
                        .unwrap_or(crate::kpi::engine::NONE_VALUE);
                    format!("{attr}={value}")
                })
                .collect();
            comment
        })
        .collect())
}

/// Sources with rows before the period but none in it: a scorecard of zeros
/// must not be mailed as news.
pub fn stale_sources(store: &Store, p: Period) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for kind in FileKind::by_report_rank() {
        let (table, day) = (kind.key(), kind.describe().period_day.expect("dated"));
        let last: Option<i64> = store.reader().query_row(
            &format!("SELECT max({day}) FROM {table} WHERE {day} < ?1"),
            [p.end_day()],
            |r| r.get(0),
        )?;
        if let Some(last) = last {
            if last < p.start_day() {
                out.push(format!(
                    "{} has no rows after {}: import a fresh snapshot, or pass --allow-stale",
                    kind.default_file_name(),
                    period::date_from_day(last)
                ));
            }
        }
    }
    Ok(out)
}

pub fn data_quality(store: &Store, p: Period, stale: Vec<String>) -> Result<DataQuality> {
    let mut q = DataQuality {
        stale,
        ..Default::default()
    };
    q.files = store
        .latest_imports()?
        .into_iter()
        .map(|f| FileQuality {
            file: format!("{}.csv", f.file),
            last_import: f.imported_at,
            rows: f.rows,
            rejected: f.rejected,
            as_of: String::new(),
        })
        .collect();
    q.as_of = store.data_as_of()?;
    for f in &mut q.files {
        if let Some((_, t)) = q.as_of.iter().find(|(file, _)| *file == f.file) {
            f.as_of = t.clone();
        }
    }
    let imported = store.imported_files()?;
    for kind in FileKind::ALL {
        if kind.feeds_kpis() && !imported.contains(kind.key()) {
            q.never_imported.push(kind.default_file_name());
        }
    }
    if imported.contains(FileKind::Deals.key()) {
        // Migrated records: closed before they were created. Kept, counted
        // by their close date, left out of the sales cycle.
        let n: i64 = store.reader().query_row(
            "SELECT count(*) FROM deals WHERE closed_day >= ?1 AND closed_day < ?2 AND closed_day < created_day",
            [p.start_day(), p.end_day()],
            |r| r.get(0),
        )?;
        if n > 0 {
            q.notes.push(format!(
                "{n} deal{} closed in this period {} created after {} close date (migrated records?): counted by the close date, left out of the sales cycle.",
                if n == 1 { "" } else { "s" },
                if n == 1 { "was" } else { "were" },
                if n == 1 { "its" } else { "their" }
            ));
        }
    }
    if imported.contains(FileKind::Customers.key()) {
        let checked = FileKind::by_report_rank()
            .into_iter()
            .filter_map(|k| Some((k.key(), k.describe().unknown_customer_day?)));
        for (table, day) in checked {
            let n: i64 = store.reader().query_row(
                &format!(
                    "SELECT count(*) FROM {table} t WHERE t.{day} >= ?1 AND t.{day} < ?2 AND t.customer_id IS NOT NULL
                     AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.customer_id = t.customer_id)"
                ),
                [p.start_day(), p.end_day()],
                |r| r.get(0),
            )?;
            if n > 0 {
                q.unknown_customers.push((format!("{table}.csv"), n as u64));
            }
        }
    }
    Ok(q)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{self, ImportOptions};

    #[test]
    fn stale_sources_and_data_quality_follow_the_file_descriptions() {
        let dir = tempfile::tempdir().unwrap();
        let files = [
            (
                "deals.csv",
                "deal_id,created_on,stage,customer_id\nD1,2026-10-05,open,X\n",
            ),
            (
                "orders.csv",
                "order_id,customer_id,ordered_on,amount\nO1,X,2026-10-05,5\nO2,C1,2026-11-17,5\n",
            ),
            (
                "tickets.csv",
                "ticket_id,opened_at\nT1,2026-10-05T09:00:00Z\n",
            ),
            ("customers.csv", "customer_id,acquired_on\nC1,2026-01-05\n"),
        ];
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let config =
            Config::from_toml("", std::path::Path::new("."), None, &Default::default()).unwrap();
        let mut store = Store::in_memory().unwrap();
        let now = "2026-11-23T00:00:00Z".parse().unwrap();
        let paths = [dir.path().to_path_buf()];
        ingest::import(&mut store, &config, &paths, &ImportOptions::default(), now).unwrap();
        let p = Period::parse("2026-W48").unwrap();
        let stale = stale_sources(&store, p).unwrap();
        let files: Vec<&str> = stale.iter().map(|s| s.split(' ').next().unwrap()).collect();
        assert_eq!(files, ["orders.csv", "tickets.csv", "deals.csv"]);
        let q = data_quality(&store, Period::parse("2026-W41").unwrap(), stale).unwrap();
        assert_eq!(
            q.never_imported,
            ["surveys.csv", "spend.csv", "activities.csv"]
        );
        assert_eq!(q.unknown_customers, [("orders.csv".to_string(), 1)]);
    }
}
