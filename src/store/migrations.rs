//! Append-only schema migrations, tracked in SQLite's `user_version` (the
//! cargo pattern). Never edit a shipped migration; add a new one.
//!
//! The tables of the snapshot files are not written out here: migration 1
//! takes them from the files' descriptions (`sources`, [`Table::create_sql`])
//! at its `@file@` lines, and a test holds every migration to the SHA-256 of
//! the text that shipped, so that a description can never silently change
//! what an existing store was built with. A column added to a file later
//! comes with a new migration here (`ALTER TABLE … ADD COLUMN`).
use std::sync::OnceLock;

use crate::sources::{Ddl, FileKind, Table};

/// SQLite's column types for the files' tables.
const DDL: Ddl = Ddl {
    integer: "INTEGER",
    real: "REAL",
    keyed_table_suffix: " WITHOUT ROWID",
};

/// Every migration, in order: migration `i` moves the schema from version
/// `i` to `i + 1`.
pub fn migrations() -> &'static [String] {
    static ALL: OnceLock<Vec<String>> = OnceLock::new();
    ALL.get_or_init(|| SHIPPED.iter().map(|sql| expand(sql, &DDL)).collect())
}

/// Replaces each `    @file@` line by the CREATE TABLE statements of that
/// file's table, in the backend's types.
pub(super) fn expand(sql: &str, ddl: &Ddl) -> String {
    let mut out = sql.to_string();
    for kind in FileKind::ALL {
        let table: Table = kind.table();
        out = out.replace(&format!("    @{}@\n", kind.key()), &table.create_sql(ddl));
    }
    out
}

const SHIPPED: &[&str] = &[
    // 1: the snapshot ledger and one table per snapshot file. Every row keeps
    // the id of the ledger entry that last wrote it (duplicate ids within a
    // file are found through it, without holding ids in memory), a hash of its
    // values (unchanged rows are skipped), and day numbers (days since
    // 0001-01-01) beside its dates so that grouping by day is portable SQL.
    r#"
    CREATE TABLE snapshots (
        id INTEGER PRIMARY KEY,
        file TEXT NOT NULL,
        path TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        rows_read INTEGER NOT NULL,
        inserted INTEGER NOT NULL,
        replaced INTEGER NOT NULL,
        unchanged INTEGER NOT NULL,
        rejected INTEGER NOT NULL,
        imported_at TEXT NOT NULL
    );
    CREATE INDEX snapshots_file_hash ON snapshots(file, sha256);
    @customers@
    @deals@
    @orders@
    @tickets@
    @surveys@
    @spend@
    @activities@
    @measures@
    -- Columns seen in each file (which attributes spend.csv carries).
    CREATE TABLE file_columns (
        file TEXT NOT NULL,
        name TEXT NOT NULL,
        PRIMARY KEY (file, name)
    ) WITHOUT ROWID;
    CREATE INDEX deals_created_day ON deals(created_day);
    CREATE INDEX deals_closed_day ON deals(closed_day);
    CREATE INDEX orders_day ON orders(ordered_day);
    CREATE INDEX tickets_day ON tickets(opened_day);
    CREATE INDEX surveys_day ON surveys(answered_day);
    CREATE INDEX spend_day ON spend(spent_day);
    CREATE INDEX activities_day ON activities(occurred_day);
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    "#,
    // 2: the KPI cache, one row per (cadence, period, segment, KPI), tagged with
    // the fingerprint of the settings that shape the figures. An import deletes
    // the rows of the periods its data touches.
    r#"
    CREATE TABLE kpi_cache (
        cadence TEXT NOT NULL,
        period TEXT NOT NULL,
        start_day INTEGER NOT NULL,
        end_day INTEGER NOT NULL,
        segment TEXT NOT NULL,
        kpi TEXT NOT NULL,
        value REAL,
        n INTEGER,
        ci_low REAL,
        ci_high REAL,
        se REAL,
        reason TEXT,
        fingerprint TEXT NOT NULL,
        PRIMARY KEY (cadence, period, segment, kpi)
    );
    CREATE INDEX kpi_cache_days ON kpi_cache(start_day, end_day);
    CREATE TABLE computed_periods (
        cadence TEXT NOT NULL,
        period TEXT NOT NULL,
        start_day INTEGER NOT NULL,
        end_day INTEGER NOT NULL,
        fingerprint TEXT NOT NULL,
        computations INTEGER NOT NULL DEFAULT 1,
        PRIMARY KEY (cadence, period)
    );
    "#,
    // 3: the send ledger and the run history.
    r#"
    CREATE TABLE sends (
        id INTEGER PRIMARY KEY,
        cadence TEXT NOT NULL,
        period TEXT NOT NULL,
        recipient TEXT NOT NULL,
        segment TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        message_id TEXT NOT NULL,
        message_path TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        next_attempt_at TEXT,
        sent_at TEXT,
        created_at TEXT NOT NULL,
        UNIQUE (cadence, period, recipient, content_hash)
    );
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        cadence TEXT NOT NULL,
        period TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        archived INTEGER NOT NULL
    );
    CREATE INDEX runs_period ON runs(cadence, period);
    "#,
    // 4: the send ledger keeps each formatted message (so that what `send`
    // delivers after an outage is exactly what the run built, and nothing
    // depends on a file that may move), its envelope sender, and how many
    // times a sent message was forced out again (part of its Message-ID).
    r#"
    ALTER TABLE sends ADD COLUMN message BLOB;
    ALTER TABLE sends ADD COLUMN envelope_from TEXT;
    ALTER TABLE sends ADD COLUMN resends INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX sends_state ON sends(state, id);
    "#,
    // 5: indexes for incremental work: the activity kinds (a KPI each) are
    // read from the index, and the records of a new or re-segmented customer
    // are found without scanning whole tables when an import invalidates the
    // KPI cache.
    r#"
    CREATE INDEX activities_kind ON activities(kind);
    CREATE INDEX deals_customer ON deals(customer_id);
    CREATE INDEX orders_customer ON orders(customer_id);
    CREATE INDEX tickets_customer ON tickets(customer_id);
    CREATE INDEX surveys_customer ON surveys(customer_id);
    CREATE INDEX activities_customer ON activities(customer_id);
    "#,
    // 6: ticket instants in milliseconds since the epoch (they were whole
    // seconds): a first response at 0.5 s is 0.5 s, and 24 h + 0.5 s is
    // outside a 24 h SLA.
    r#"
    UPDATE tickets SET opened_at = opened_at * 1000,
        first_response_at = first_response_at * 1000,
        resolved_at = resolved_at * 1000;
    "#,
    // 7: two more states in the send ledger: `in_flight` (written before an
    // attempt's DATA command, so that a process killed while the server
    // holds the message is noticed) and `uncertain` (the server took the
    // message and its reply never came). SQLite cannot change a CHECK, so
    // the table is rebuilt with the same columns.
    r#"
    CREATE TABLE sends_v7 (
        id INTEGER PRIMARY KEY,
        cadence TEXT NOT NULL,
        period TEXT NOT NULL,
        recipient TEXT NOT NULL,
        segment TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        message_id TEXT NOT NULL,
        message_path TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'in_flight', 'sent', 'failed', 'uncertain')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        next_attempt_at TEXT,
        sent_at TEXT,
        created_at TEXT NOT NULL,
        message BLOB,
        envelope_from TEXT,
        resends INTEGER NOT NULL DEFAULT 0,
        UNIQUE (cadence, period, recipient, content_hash)
    );
    INSERT INTO sends_v7 (id, cadence, period, recipient, segment, content_hash, message_id,
        message_path, state, attempts, last_error, next_attempt_at, sent_at, created_at,
        message, envelope_from, resends)
    SELECT id, cadence, period, recipient, segment, content_hash, message_id,
        message_path, state, attempts, last_error, next_attempt_at, sent_at, created_at,
        message, envelope_from, resends FROM sends;
    DROP TABLE sends;
    ALTER TABLE sends_v7 RENAME TO sends;
    CREATE INDEX sends_state ON sends(state, id);
    "#,
    // 8: the ticket KPIs' pending count (tickets still inside their window
    // at the data's as-of): a provisional figure stays provisional in the cache.
    r#"
    ALTER TABLE kpi_cache ADD COLUMN pending INTEGER;
    "#,
    // 9: the webhook posts (Slack, Teams) beside the emails of the send
    // ledger: one row per (cadence, period, target, segment, content hash)
    // holding the JSON payload posted verbatim. `target` is the kind and the
    // variable holding the URL (`slack:SLACK_WEBHOOK_URL`), never the URL.
    // `in_flight` is written before each request, so a run killed mid-post
    // leaves `uncertain` (reposted only by `send --resend-uncertain`).
    r#"
    CREATE TABLE posts (
        id INTEGER PRIMARY KEY,
        cadence TEXT NOT NULL,
        period TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('slack', 'teams')),
        target TEXT NOT NULL,
        segment TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        payload BLOB NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'in_flight', 'sent', 'failed', 'uncertain')),
        attempts INTEGER NOT NULL DEFAULT 0,
        http_status INTEGER,
        last_error TEXT,
        next_attempt_at TEXT,
        sent_at TEXT,
        created_at TEXT NOT NULL,
        UNIQUE (cadence, period, target, segment, content_hash)
    );
    CREATE INDEX posts_state ON posts(state, id);
    "#,
    // 10: the records' own segment cells (the extra columns of deals,
    // orders, tickets, surveys and activities named in `[report] segments`),
    // which win over the customer's attributes; only non-empty cells.
    r#"
    CREATE TABLE deal_attributes (
        deal_id TEXT NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (deal_id, name)
    ) WITHOUT ROWID;
    CREATE TABLE order_attributes (
        order_id TEXT NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (order_id, name)
    ) WITHOUT ROWID;
    CREATE TABLE ticket_attributes (
        ticket_id TEXT NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (ticket_id, name)
    ) WITHOUT ROWID;
    CREATE TABLE survey_attributes (
        response_id TEXT NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (response_id, name)
    ) WITHOUT ROWID;
    CREATE TABLE activity_attributes (
        activity_id TEXT NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (activity_id, name)
    ) WITHOUT ROWID;
    "#,
    // 11: no row hash in the SQLite store: an import tells an unchanged row
    // from a replaced one by comparing the stored values (and attributes)
    // with the new ones, exactly, and each row is 8 bytes smaller. (The
    // PostgreSQL store keeps its hash for its set-based upsert.)
    r#"
    ALTER TABLE customers DROP COLUMN row_hash;
    ALTER TABLE deals DROP COLUMN row_hash;
    ALTER TABLE orders DROP COLUMN row_hash;
    ALTER TABLE tickets DROP COLUMN row_hash;
    ALTER TABLE surveys DROP COLUMN row_hash;
    ALTER TABLE spend DROP COLUMN row_hash;
    ALTER TABLE activities DROP COLUMN row_hash;
    ALTER TABLE measures DROP COLUMN row_hash;
    "#,
];

/// Holds derived migrations to the SHA-256 of the texts that shipped.
#[cfg(test)]
pub(super) fn assert_shipped(all: &[String], shipped_sha256: &[&str]) {
    use sha2::{Digest, Sha256};
    assert!(all.len() >= shipped_sha256.len());
    for (i, (sql, sha)) in all.iter().zip(shipped_sha256).enumerate() {
        assert!(
            !sql.contains('@'),
            "migration {}: a table was not expanded",
            i + 1
        );
        let got = hex::encode(Sha256::digest(sql.as_bytes()));
        assert_eq!(
            &got,
            sha,
            "migration {} changed: add a new migration instead",
            i + 1
        );
    }
}

#[cfg(test)]
mod tests {
    /// The SHA-256 of each migration's text as it shipped: a store migrated
    /// by an older scorecard has exactly this schema.
    const SHIPPED_SHA256: [&str; 11] = [
        "fcbb347f8ff51f1782eaf2d97a0496a9df7451536c5d097a0de1c904c7335f9f",
        "ef660d1aba67ab7d36c2d851190d387d98cfabe53a8f2b4fee1088a76d5f3e77",
        "1727b27699e20c59d910658a28b67f0f78212b9bfc3edde1213352838e598cbd",
        "4283aafe59c8ed5b664979e6ed0b143349b8032b0fb56b71941af9f21cbff52e",
        "8d8dc4e056e89c76dc7afa77cff365d4de087ada0625b5c0ec04100316599715",
        "b06a23148d3e2714794f28f22970897baefb0fb7af50fb9b9bf3eb9337edd3c9",
        "95b86a05959ba191280c3028dd52ad4fed04721cf08d2c9385fe003dab195e07",
        "8c0da579725b24b31d5a3e24cf860bdee043e4253432f935b3835c725e7bda4d",
        "c2d53eb36844d08843576c52dbf78d83211340ab197bfdf3439bf92982063ace",
        "656935b96d62321fc84005b273d29faac73fc00d8344fde3a2110f36d40af373",
        "d92206a989dce43ea49e4ee7d896a8ea1640a99507465325e09be5e6506cd1a7",
    ];

    #[test]
    fn migration_7_keeps_every_send_and_allows_the_new_states() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let all = super::migrations();
        for sql in &all[..6] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(
            "INSERT INTO sends (cadence, period, recipient, segment, content_hash, message_id,
                 message_path, state, attempts, created_at, message, envelope_from, resends)
             VALUES ('weekly', '2026-W47', 'a@example.com', '', 'h', '<m@x>', '', 'sent', 1,
                 '2026-11-23T07:00:00Z', X'41', 's@example.com', 2)",
        )
        .unwrap();
        assert!(conn
            .execute("UPDATE sends SET state = 'uncertain'", [])
            .is_err());
        conn.execute_batch(&all[6]).unwrap();
        let row: (String, String, Vec<u8>, i64) = conn
            .query_row(
                "SELECT message_id, state, message, resends FROM sends",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!(row, ("<m@x>".into(), "sent".into(), b"A".to_vec(), 2));
        for state in ["in_flight", "uncertain", "pending"] {
            conn.execute("UPDATE sends SET state = ?1", [state])
                .unwrap();
        }
        assert!(conn.execute("UPDATE sends SET state = 'lost'", []).is_err());
    }

    /// A store made before migration 11 keeps every row and value; only the
    /// row hash goes.
    #[test]
    fn migration_11_drops_the_row_hash_and_keeps_the_rows() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let all = super::migrations();
        for sql in &all[..10] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(
            "INSERT INTO orders (order_id, customer_id, ordered_on, ordered_day, amount, cost, snapshot_id, row_hash)
                 VALUES ('O1', 'C1', '2026-11-16', 739571, 5.5, NULL, 1, -42);
             INSERT INTO customers (customer_id, acquired_on, acquired_day, churned_on, churned_day, snapshot_id, row_hash)
                 VALUES ('C1', '2026-01-05', 739256, NULL, NULL, 1, 7);
             INSERT INTO customer_attributes VALUES ('C1', 'region', 'EMEA');",
        )
        .unwrap();
        conn.execute_batch(&all[10]).unwrap();
        let columns = |table: &str| -> Vec<String> {
            conn.prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        for kind in crate::sources::FileKind::ALL {
            let table = kind.table();
            let mut expected: Vec<String> =
                table.column_names().iter().map(|c| c.to_string()).collect();
            expected.push("snapshot_id".into());
            assert_eq!(columns(table.name), expected, "{}", table.name);
        }
        let order: (String, String, i64, f64, Option<f64>, i64) = conn
            .query_row(
                "SELECT order_id, ordered_on, ordered_day, amount, cost, snapshot_id FROM orders",
                [],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                },
            )
            .unwrap();
        assert_eq!(
            order,
            ("O1".into(), "2026-11-16".into(), 739571, 5.5, None, 1)
        );
        let region: String = conn
            .query_row(
                "SELECT value FROM customer_attributes WHERE customer_id = 'C1'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(region, "EMEA");
        assert_eq!(
            conn.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))
                .unwrap(),
            "ok"
        );
    }

    #[test]
    fn derived_migrations_are_the_shipped_ones_byte_for_byte() {
        super::assert_shipped(super::migrations(), &SHIPPED_SHA256);
    }
}
