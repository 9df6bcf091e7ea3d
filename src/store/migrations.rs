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
    // 12: a compact layout for the record tables (SQLite only). Each file
    // with calendar dates or amounts keeps its rows in `<file>_rows`: the
    // day numbers without the `YYYY-MM-DD` text beside them, and amounts
    // that are whole ten-thousandths as such an INTEGER (`75.45` is
    // 754500; any other amount stays REAL, so the column has no declared
    // type and keeps what it is given). A view of the file's name shows the
    // rows as before (dates rebuilt from the day numbers, amounts divided
    // back, exactly), for every reader and for custom SQL KPIs; SQLite
    // flattens it into each query, so the table's indexes serve it.
    // `<file>_scan` is the same view over a plain scan of the table.
    // Tickets (instants, no amounts) and measures keep their tables.
    r#"
    CREATE TABLE customers_rows (
        customer_id TEXT PRIMARY KEY,
        acquired_day INTEGER NOT NULL,
        churned_day INTEGER,
        snapshot_id INTEGER NOT NULL
    );
    INSERT INTO customers_rows (customer_id, acquired_day, churned_day, snapshot_id)
    SELECT customer_id,
        acquired_day,
        churned_day,
        snapshot_id
    FROM customers ORDER BY rowid;
    DROP TABLE customers;
    CREATE TABLE deals_rows (
        deal_id TEXT PRIMARY KEY,
        created_day INTEGER NOT NULL,
        stage TEXT NOT NULL,
        closed_day INTEGER,
        amount,
        customer_id TEXT,
        owner TEXT,
        snapshot_id INTEGER NOT NULL
    );
    INSERT INTO deals_rows (deal_id, created_day, stage, closed_day, amount, customer_id, owner, snapshot_id)
    SELECT deal_id,
        created_day,
        stage,
        closed_day,
        CASE WHEN typeof(amount) = 'real' AND abs(amount * 10000) < 9007199254740992 AND amount * 10000 = CAST(amount * 10000 AS INTEGER)
            AND CAST(amount * 10000 AS INTEGER) / 10000.0 = amount THEN CAST(amount * 10000 AS INTEGER) ELSE amount END,
        customer_id,
        owner,
        snapshot_id
    FROM deals ORDER BY rowid;
    DROP TABLE deals;
    CREATE TABLE orders_rows (
        order_id TEXT PRIMARY KEY,
        customer_id TEXT NOT NULL,
        ordered_day INTEGER NOT NULL,
        amount NOT NULL,
        cost,
        snapshot_id INTEGER NOT NULL
    );
    INSERT INTO orders_rows (order_id, customer_id, ordered_day, amount, cost, snapshot_id)
    SELECT order_id,
        customer_id,
        ordered_day,
        CASE WHEN typeof(amount) = 'real' AND abs(amount * 10000) < 9007199254740992 AND amount * 10000 = CAST(amount * 10000 AS INTEGER)
            AND CAST(amount * 10000 AS INTEGER) / 10000.0 = amount THEN CAST(amount * 10000 AS INTEGER) ELSE amount END,
        CASE WHEN typeof(cost) = 'real' AND abs(cost * 10000) < 9007199254740992 AND cost * 10000 = CAST(cost * 10000 AS INTEGER)
            AND CAST(cost * 10000 AS INTEGER) / 10000.0 = cost THEN CAST(cost * 10000 AS INTEGER) ELSE cost END,
        snapshot_id
    FROM orders ORDER BY rowid;
    DROP TABLE orders;
    CREATE TABLE surveys_rows (
        response_id TEXT PRIMARY KEY,
        answered_day INTEGER NOT NULL,
        kind TEXT NOT NULL,
        score INTEGER NOT NULL,
        customer_id TEXT,
        comment TEXT,
        snapshot_id INTEGER NOT NULL
    );
    INSERT INTO surveys_rows (response_id, answered_day, kind, score, customer_id, comment, snapshot_id)
    SELECT response_id,
        answered_day,
        kind,
        score,
        customer_id,
        comment,
        snapshot_id
    FROM surveys ORDER BY rowid;
    DROP TABLE surveys;
    CREATE TABLE spend_rows (
        spend_id TEXT PRIMARY KEY,
        spent_day INTEGER NOT NULL,
        category TEXT NOT NULL,
        amount NOT NULL,
        snapshot_id INTEGER NOT NULL
    );
    INSERT INTO spend_rows (spend_id, spent_day, category, amount, snapshot_id)
    SELECT spend_id,
        spent_day,
        category,
        CASE WHEN typeof(amount) = 'real' AND abs(amount * 10000) < 9007199254740992 AND amount * 10000 = CAST(amount * 10000 AS INTEGER)
            AND CAST(amount * 10000 AS INTEGER) / 10000.0 = amount THEN CAST(amount * 10000 AS INTEGER) ELSE amount END,
        snapshot_id
    FROM spend ORDER BY rowid;
    DROP TABLE spend;
    CREATE TABLE activities_rows (
        activity_id TEXT PRIMARY KEY,
        occurred_day INTEGER NOT NULL,
        kind TEXT NOT NULL,
        owner TEXT,
        customer_id TEXT,
        snapshot_id INTEGER NOT NULL
    );
    INSERT INTO activities_rows (activity_id, occurred_day, kind, owner, customer_id, snapshot_id)
    SELECT activity_id,
        occurred_day,
        kind,
        owner,
        customer_id,
        snapshot_id
    FROM activities ORDER BY rowid;
    DROP TABLE activities;
    CREATE INDEX deals_created_day ON deals_rows(created_day);
    CREATE INDEX deals_closed_day ON deals_rows(closed_day);
    CREATE INDEX deals_customer ON deals_rows(customer_id);
    CREATE INDEX orders_day ON orders_rows(ordered_day);
    CREATE INDEX orders_customer ON orders_rows(customer_id);
    CREATE INDEX surveys_day ON surveys_rows(answered_day);
    CREATE INDEX surveys_customer ON surveys_rows(customer_id);
    CREATE INDEX spend_day ON spend_rows(spent_day);
    CREATE INDEX activities_day ON activities_rows(occurred_day);
    CREATE INDEX activities_kind ON activities_rows(kind);
    CREATE INDEX activities_customer ON activities_rows(customer_id);
    CREATE VIEW customers AS SELECT customer_id,
        date(1721425.5 + acquired_day) AS acquired_on,
        acquired_day,
        date(1721425.5 + churned_day) AS churned_on,
        churned_day,
        snapshot_id
    FROM customers_rows;
    CREATE VIEW customers_scan AS SELECT customer_id,
        date(1721425.5 + acquired_day) AS acquired_on,
        acquired_day,
        date(1721425.5 + churned_day) AS churned_on,
        churned_day,
        snapshot_id
    FROM customers_rows NOT INDEXED;
    CREATE VIEW deals AS SELECT deal_id,
        date(1721425.5 + created_day) AS created_on,
        created_day,
        stage,
        date(1721425.5 + closed_day) AS closed_on,
        closed_day,
        CASE WHEN typeof(amount) = 'integer' THEN amount / 10000.0 ELSE amount END AS amount,
        customer_id,
        owner,
        snapshot_id
    FROM deals_rows;
    CREATE VIEW deals_scan AS SELECT deal_id,
        date(1721425.5 + created_day) AS created_on,
        created_day,
        stage,
        date(1721425.5 + closed_day) AS closed_on,
        closed_day,
        CASE WHEN typeof(amount) = 'integer' THEN amount / 10000.0 ELSE amount END AS amount,
        customer_id,
        owner,
        snapshot_id
    FROM deals_rows NOT INDEXED;
    CREATE VIEW orders AS SELECT order_id,
        customer_id,
        date(1721425.5 + ordered_day) AS ordered_on,
        ordered_day,
        CASE WHEN typeof(amount) = 'integer' THEN amount / 10000.0 ELSE amount END AS amount,
        CASE WHEN typeof(cost) = 'integer' THEN cost / 10000.0 ELSE cost END AS cost,
        snapshot_id
    FROM orders_rows;
    CREATE VIEW orders_scan AS SELECT order_id,
        customer_id,
        date(1721425.5 + ordered_day) AS ordered_on,
        ordered_day,
        CASE WHEN typeof(amount) = 'integer' THEN amount / 10000.0 ELSE amount END AS amount,
        CASE WHEN typeof(cost) = 'integer' THEN cost / 10000.0 ELSE cost END AS cost,
        snapshot_id
    FROM orders_rows NOT INDEXED;
    CREATE VIEW surveys AS SELECT response_id,
        date(1721425.5 + answered_day) AS answered_on,
        answered_day,
        kind,
        score,
        customer_id,
        comment,
        snapshot_id
    FROM surveys_rows;
    CREATE VIEW surveys_scan AS SELECT response_id,
        date(1721425.5 + answered_day) AS answered_on,
        answered_day,
        kind,
        score,
        customer_id,
        comment,
        snapshot_id
    FROM surveys_rows NOT INDEXED;
    CREATE VIEW spend AS SELECT spend_id,
        date(1721425.5 + spent_day) AS spent_on,
        spent_day,
        category,
        CASE WHEN typeof(amount) = 'integer' THEN amount / 10000.0 ELSE amount END AS amount,
        snapshot_id
    FROM spend_rows;
    CREATE VIEW spend_scan AS SELECT spend_id,
        date(1721425.5 + spent_day) AS spent_on,
        spent_day,
        category,
        CASE WHEN typeof(amount) = 'integer' THEN amount / 10000.0 ELSE amount END AS amount,
        snapshot_id
    FROM spend_rows NOT INDEXED;
    CREATE VIEW activities AS SELECT activity_id,
        date(1721425.5 + occurred_day) AS occurred_on,
        occurred_day,
        kind,
        owner,
        customer_id,
        snapshot_id
    FROM activities_rows;
    CREATE VIEW activities_scan AS SELECT activity_id,
        date(1721425.5 + occurred_day) AS occurred_on,
        occurred_day,
        kind,
        owner,
        customer_id,
        snapshot_id
    FROM activities_rows NOT INDEXED;
    "#,
    // 13: every amount that is a whole number of ten-thousandths, once
    // rounded, is stored as that integer: migration 12 asked `amount *
    // 10000` to be integral, which misses about one amount in eight
    // (`-131072.159 * 10000` is not an integer in floating point), though
    // `round(amount * 10000) / 10000.0` gives the amount back exactly.
    r#"
    UPDATE deals_rows SET amount = CAST(round(amount * 10000) AS INTEGER)
        WHERE typeof(amount) = 'real' AND abs(amount * 10000) < 9007199254740992
        AND CAST(round(amount * 10000) AS INTEGER) / 10000.0 = amount;
    UPDATE orders_rows SET amount = CAST(round(amount * 10000) AS INTEGER)
        WHERE typeof(amount) = 'real' AND abs(amount * 10000) < 9007199254740992
        AND CAST(round(amount * 10000) AS INTEGER) / 10000.0 = amount;
    UPDATE orders_rows SET cost = CAST(round(cost * 10000) AS INTEGER)
        WHERE typeof(cost) = 'real' AND abs(cost * 10000) < 9007199254740992
        AND CAST(round(cost * 10000) AS INTEGER) / 10000.0 = cost;
    UPDATE spend_rows SET amount = CAST(round(amount * 10000) AS INTEGER)
        WHERE typeof(amount) = 'real' AND abs(amount * 10000) < 9007199254740992
        AND CAST(round(amount * 10000) AS INTEGER) / 10000.0 = amount;
    "#,
    // 14: the activity kinds (one KPI each, read by every run) as a small
    // table the import builds again when the activities change, instead of
    // an index over every activity (11 MiB for 600,000 activities).
    r#"
    CREATE TABLE activity_kinds (
        kind TEXT PRIMARY KEY
    ) WITHOUT ROWID;
    INSERT INTO activity_kinds (kind) SELECT DISTINCT kind FROM activities_rows;
    DROP INDEX activities_kind;
    "#,
    // 15: integer customer keys. The record tables name their customer by
    // `customer_key`, a row of `customer_keys` (every customer id a record
    // names, known to the customers file or not), instead of its text: 5 to
    // 10 bytes less a row, and the engine finds a record's segments by
    // indexing an array. The customer indexes go (94 MiB of a 547 MiB store
    // at 6 M rows): the two things that read them, the invalidation of a
    // re-segmented customer's periods and the unknown-customer counts of a
    // backfill, read the table instead (store::import, kpi::extras). The
    // tickets move to `tickets_rows` like the others; the views keep every
    // file's columns, `customer_id` looked up by its key (a subquery in the
    // select list, run only for a query that reads the column: a LEFT JOIN
    // would be run for every row of an aggregate), and add `customer_key`
    // last.
    r#"
    CREATE TABLE customer_keys (
        customer_key INTEGER PRIMARY KEY,
        customer_id TEXT NOT NULL UNIQUE
    );
    INSERT OR IGNORE INTO customer_keys (customer_id) SELECT customer_id FROM deals_rows WHERE customer_id IS NOT NULL ORDER BY rowid;
    INSERT OR IGNORE INTO customer_keys (customer_id) SELECT customer_id FROM orders_rows WHERE customer_id IS NOT NULL ORDER BY rowid;
    INSERT OR IGNORE INTO customer_keys (customer_id) SELECT customer_id FROM surveys_rows WHERE customer_id IS NOT NULL ORDER BY rowid;
    INSERT OR IGNORE INTO customer_keys (customer_id) SELECT customer_id FROM activities_rows WHERE customer_id IS NOT NULL ORDER BY rowid;
    INSERT OR IGNORE INTO customer_keys (customer_id) SELECT customer_id FROM tickets WHERE customer_id IS NOT NULL ORDER BY rowid;
    DROP VIEW deals;
    DROP VIEW deals_scan;
    ALTER TABLE deals_rows RENAME TO deals_old;
    CREATE TABLE deals_rows (
        deal_id TEXT PRIMARY KEY,
        created_day INTEGER NOT NULL,
        stage TEXT NOT NULL,
        closed_day INTEGER,
        amount,
        customer_key INTEGER,
        owner TEXT,
        snapshot_id INTEGER NOT NULL
    );
    INSERT INTO deals_rows (deal_id, created_day, stage, closed_day, amount, customer_key, owner, snapshot_id)
    SELECT o.deal_id, o.created_day, o.stage, o.closed_day, o.amount, (SELECT k.customer_key FROM customer_keys k WHERE k.customer_id = o.customer_id), o.owner, o.snapshot_id
    FROM deals_old o ORDER BY o.rowid;
    DROP TABLE deals_old;
    CREATE INDEX deals_created_day ON deals_rows(created_day);
    CREATE INDEX deals_closed_day ON deals_rows(closed_day);
    CREATE VIEW deals AS SELECT t.deal_id,
        date(1721425.5 + t.created_day) AS created_on,
        t.created_day,
        t.stage,
        date(1721425.5 + t.closed_day) AS closed_on,
        t.closed_day,
        CASE WHEN typeof(t.amount) = 'integer' THEN t.amount / 10000.0 ELSE t.amount END AS amount,
        (SELECT k.customer_id FROM customer_keys k WHERE k.customer_key = t.customer_key) AS customer_id,
        t.owner,
        t.snapshot_id,
        t.customer_key
    FROM deals_rows t;
    CREATE VIEW deals_scan AS SELECT t.deal_id,
        date(1721425.5 + t.created_day) AS created_on,
        t.created_day,
        t.stage,
        date(1721425.5 + t.closed_day) AS closed_on,
        t.closed_day,
        CASE WHEN typeof(t.amount) = 'integer' THEN t.amount / 10000.0 ELSE t.amount END AS amount,
        (SELECT k.customer_id FROM customer_keys k WHERE k.customer_key = t.customer_key) AS customer_id,
        t.owner,
        t.snapshot_id,
        t.customer_key
    FROM deals_rows t NOT INDEXED;
    DROP VIEW orders;
    DROP VIEW orders_scan;
    ALTER TABLE orders_rows RENAME TO orders_old;
    CREATE TABLE orders_rows (
        order_id TEXT PRIMARY KEY,
        customer_key INTEGER NOT NULL,
        ordered_day INTEGER NOT NULL,
        amount NOT NULL,
        cost,
        snapshot_id INTEGER NOT NULL
    );
    INSERT INTO orders_rows (order_id, customer_key, ordered_day, amount, cost, snapshot_id)
    SELECT o.order_id, (SELECT k.customer_key FROM customer_keys k WHERE k.customer_id = o.customer_id), o.ordered_day, o.amount, o.cost, o.snapshot_id
    FROM orders_old o ORDER BY o.rowid;
    DROP TABLE orders_old;
    CREATE INDEX orders_day ON orders_rows(ordered_day);
    CREATE VIEW orders AS SELECT t.order_id,
        (SELECT k.customer_id FROM customer_keys k WHERE k.customer_key = t.customer_key) AS customer_id,
        date(1721425.5 + t.ordered_day) AS ordered_on,
        t.ordered_day,
        CASE WHEN typeof(t.amount) = 'integer' THEN t.amount / 10000.0 ELSE t.amount END AS amount,
        CASE WHEN typeof(t.cost) = 'integer' THEN t.cost / 10000.0 ELSE t.cost END AS cost,
        t.snapshot_id,
        t.customer_key
    FROM orders_rows t;
    CREATE VIEW orders_scan AS SELECT t.order_id,
        (SELECT k.customer_id FROM customer_keys k WHERE k.customer_key = t.customer_key) AS customer_id,
        date(1721425.5 + t.ordered_day) AS ordered_on,
        t.ordered_day,
        CASE WHEN typeof(t.amount) = 'integer' THEN t.amount / 10000.0 ELSE t.amount END AS amount,
        CASE WHEN typeof(t.cost) = 'integer' THEN t.cost / 10000.0 ELSE t.cost END AS cost,
        t.snapshot_id,
        t.customer_key
    FROM orders_rows t NOT INDEXED;
    DROP VIEW surveys;
    DROP VIEW surveys_scan;
    ALTER TABLE surveys_rows RENAME TO surveys_old;
    CREATE TABLE surveys_rows (
        response_id TEXT PRIMARY KEY,
        answered_day INTEGER NOT NULL,
        kind TEXT NOT NULL,
        score INTEGER NOT NULL,
        customer_key INTEGER,
        comment TEXT,
        snapshot_id INTEGER NOT NULL
    );
    INSERT INTO surveys_rows (response_id, answered_day, kind, score, customer_key, comment, snapshot_id)
    SELECT o.response_id, o.answered_day, o.kind, o.score, (SELECT k.customer_key FROM customer_keys k WHERE k.customer_id = o.customer_id), o.comment, o.snapshot_id
    FROM surveys_old o ORDER BY o.rowid;
    DROP TABLE surveys_old;
    CREATE INDEX surveys_day ON surveys_rows(answered_day);
    CREATE VIEW surveys AS SELECT t.response_id,
        date(1721425.5 + t.answered_day) AS answered_on,
        t.answered_day,
        t.kind,
        t.score,
        (SELECT k.customer_id FROM customer_keys k WHERE k.customer_key = t.customer_key) AS customer_id,
        t.comment,
        t.snapshot_id,
        t.customer_key
    FROM surveys_rows t;
    CREATE VIEW surveys_scan AS SELECT t.response_id,
        date(1721425.5 + t.answered_day) AS answered_on,
        t.answered_day,
        t.kind,
        t.score,
        (SELECT k.customer_id FROM customer_keys k WHERE k.customer_key = t.customer_key) AS customer_id,
        t.comment,
        t.snapshot_id,
        t.customer_key
    FROM surveys_rows t NOT INDEXED;
    DROP VIEW activities;
    DROP VIEW activities_scan;
    ALTER TABLE activities_rows RENAME TO activities_old;
    CREATE TABLE activities_rows (
        activity_id TEXT PRIMARY KEY,
        occurred_day INTEGER NOT NULL,
        kind TEXT NOT NULL,
        owner TEXT,
        customer_key INTEGER,
        snapshot_id INTEGER NOT NULL
    );
    INSERT INTO activities_rows (activity_id, occurred_day, kind, owner, customer_key, snapshot_id)
    SELECT o.activity_id, o.occurred_day, o.kind, o.owner, (SELECT k.customer_key FROM customer_keys k WHERE k.customer_id = o.customer_id), o.snapshot_id
    FROM activities_old o ORDER BY o.rowid;
    DROP TABLE activities_old;
    CREATE INDEX activities_day ON activities_rows(occurred_day);
    CREATE VIEW activities AS SELECT t.activity_id,
        date(1721425.5 + t.occurred_day) AS occurred_on,
        t.occurred_day,
        t.kind,
        t.owner,
        (SELECT k.customer_id FROM customer_keys k WHERE k.customer_key = t.customer_key) AS customer_id,
        t.snapshot_id,
        t.customer_key
    FROM activities_rows t;
    CREATE VIEW activities_scan AS SELECT t.activity_id,
        date(1721425.5 + t.occurred_day) AS occurred_on,
        t.occurred_day,
        t.kind,
        t.owner,
        (SELECT k.customer_id FROM customer_keys k WHERE k.customer_key = t.customer_key) AS customer_id,
        t.snapshot_id,
        t.customer_key
    FROM activities_rows t NOT INDEXED;
    CREATE TABLE tickets_rows (
        ticket_id TEXT PRIMARY KEY,
        opened_at INTEGER NOT NULL,
        opened_day INTEGER NOT NULL,
        first_response_at INTEGER,
        resolved_at INTEGER,
        customer_key INTEGER,
        channel TEXT,
        snapshot_id INTEGER NOT NULL
    );
    INSERT INTO tickets_rows (ticket_id, opened_at, opened_day, first_response_at, resolved_at, customer_key, channel, snapshot_id)
    SELECT o.ticket_id, o.opened_at, o.opened_day, o.first_response_at, o.resolved_at, (SELECT k.customer_key FROM customer_keys k WHERE k.customer_id = o.customer_id), o.channel, o.snapshot_id
    FROM tickets o ORDER BY o.rowid;
    DROP TABLE tickets;
    CREATE INDEX tickets_day ON tickets_rows(opened_day);
    CREATE VIEW tickets AS SELECT t.ticket_id,
        t.opened_at,
        t.opened_day,
        t.first_response_at,
        t.resolved_at,
        (SELECT k.customer_id FROM customer_keys k WHERE k.customer_key = t.customer_key) AS customer_id,
        t.channel,
        t.snapshot_id,
        t.customer_key
    FROM tickets_rows t;
    CREATE VIEW tickets_scan AS SELECT t.ticket_id,
        t.opened_at,
        t.opened_day,
        t.first_response_at,
        t.resolved_at,
        (SELECT k.customer_id FROM customer_keys k WHERE k.customer_key = t.customer_key) AS customer_id,
        t.channel,
        t.snapshot_id,
        t.customer_key
    FROM tickets_rows t NOT INDEXED;
    "#,
    // 16: the commented survey responses by day, newest first (a partial
    // index: about 3 % of the responses): a report's comments are the
    // newest of its period, read from here at most COMMENT_POOL a period,
    // not by a pass over every response of a backfill's days.
    r#"
    CREATE INDEX surveys_commented ON surveys_rows(answered_day DESC, response_id)
        WHERE comment IS NOT NULL AND comment <> '';
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
    const SHIPPED_SHA256: [&str; 16] = [
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
        "d2153f323a78d41c0222d966ac95f7e6f66bdb0afd0ab6f0369310c73bd10eb1",
        "9fdb764204663c605ba6cab116789d6f3e016064bc75d31011227ad7741a6b99",
        "9ab6482c6e5224829bf4e05f73b2464d02aee34ef21640975b3231c2d94df4bf",
        "f9065940be2ae6ba0ca27456e25964f1e3740c9aa511ad15893cd2fce6d73c78",
        "2b5ca5bda86181672dfa37413a289a42de8baf5e13ac5fa783cb070e4ce2a6cb",
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

    /// Migrations 12 and 13 carry every row and value of a store at schema
    /// 11: the views show the same dates (rebuilt from the day numbers) and
    /// the same amounts, bit for bit, and the compact tables hold amounts
    /// as the importer writes them (`store::tables::money`).
    #[test]
    fn migration_12_keeps_every_row_and_value() {
        use rusqlite::types::Value;
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let all = super::migrations();
        for sql in &all[..11] {
            conn.execute_batch(sql).unwrap();
        }
        let amounts = [
            75.45,
            0.0,
            -0.0,
            5.0,
            -12.5,
            0.1,
            1.23456789,
            1e15,
            123456789.1234,
            -0.0001,
            0.00005,
            9.9999,
            1e-300,
            4.2e21,
            838.8607,
            838.8608,
        ];
        let days = [
            0i64, 1, 59, 365, 693_595, 738_885, 739_571, 803_162, 3_652_000,
        ];
        for (i, a) in amounts.iter().enumerate() {
            let day = days[i % days.len()];
            let date = crate::period::date_from_day(day).to_string();
            let cost = (i % 3 != 0).then_some(a / 3.0);
            conn.execute(
                "INSERT INTO orders (order_id, customer_id, ordered_on, ordered_day, amount, cost, snapshot_id)
                 VALUES (?1, 'C1', ?2, ?3, ?4, ?5, 1)",
                rusqlite::params![format!("O{i}"), date, day, a, cost],
            )
            .unwrap();
            let closed = (i % 2 == 0).then_some(day + 3);
            conn.execute(
                "INSERT INTO deals (deal_id, created_on, created_day, stage, closed_on, closed_day, amount, customer_id, owner, snapshot_id)
                 VALUES (?1, ?2, ?3, 'won', ?4, ?5, ?6, NULL, 'ann', 2)",
                rusqlite::params![
                    format!("D{i}"),
                    date,
                    day,
                    closed.map(|d| crate::period::date_from_day(d).to_string()),
                    closed,
                    (i % 4 != 0).then_some(*a),
                ],
            )
            .unwrap();
        }
        conn.execute_batch(
            "INSERT INTO customers (customer_id, acquired_on, acquired_day, churned_on, churned_day, snapshot_id)
                 VALUES ('C1', '2026-01-05', 739620, NULL, NULL, 1), ('C2', '2025-02-01', 739282, '2026-03-01', 739675, 1);
             INSERT INTO customer_attributes VALUES ('C1', 'region', 'EMEA');
             INSERT INTO surveys (response_id, answered_on, answered_day, kind, score, customer_id, comment, snapshot_id)
                 VALUES ('R1', '2026-11-16', 739935, 'nps', 9, 'C1', 'great', 3);
             INSERT INTO spend (spend_id, spent_on, spent_day, category, amount, snapshot_id)
                 VALUES ('S1', '2026-11-16', 739935, 'marketing', 1719.08, 4);
             INSERT INTO activities (activity_id, occurred_on, occurred_day, kind, owner, customer_id, snapshot_id)
                 VALUES ('A1', '2026-11-16', 739935, 'call', 'ann', NULL, 5);
             INSERT INTO order_attributes VALUES ('O1', 'region', 'APAC');
             INSERT INTO orders (order_id, customer_id, ordered_on, ordered_day, amount, cost, snapshot_id)
                 VALUES ('P1', 'C9', '2026-11-16', 739935, 5, NULL, 6);
             INSERT INTO tickets (ticket_id, opened_at, opened_day, first_response_at, resolved_at, customer_id, channel, snapshot_id)
                 VALUES ('T1', 1763251200000, 739935, NULL, 1763254800000, 'X', 'email', 7),
                        ('T2', 1763251200001, 739935, 1763251300000, NULL, NULL, NULL, 7),
                        ('T3', 1763251200002, 739936, NULL, NULL, 'C1', 'phone', 7);",
        )
        .unwrap();
        let dump = |table: &str| -> Vec<Vec<Value>> {
            let mut stmt = conn
                .prepare(&format!("SELECT * FROM {table} ORDER BY 1"))
                .unwrap();
            let n = stmt.column_count();
            stmt.query_map([], |r| (0..n).map(|i| r.get::<_, Value>(i)).collect())
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        let tables = [
            "customers",
            "deals",
            "orders",
            "surveys",
            "spend",
            "activities",
        ];
        let before: Vec<_> = tables.iter().map(|t| dump(t)).collect();
        let tickets_before = dump("tickets");
        conn.execute_batch(&all[11]).unwrap();
        conn.execute_batch(&all[12]).unwrap();
        for (t, rows) in tables.iter().zip(&before) {
            assert_eq!(&dump(t), rows, "{t} through its view");
            assert_eq!(&dump(&format!("{t}_scan")), rows, "{t}_scan");
        }
        // The stored amounts follow the importer's rule.
        let stored: Vec<(Value, Option<f64>)> = conn
            .prepare("SELECT o.amount, v.cost FROM orders_rows o JOIN orders v USING (order_id) ORDER BY order_id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let mut by_id: Vec<(String, f64)> = amounts
            .iter()
            .enumerate()
            .map(|(i, a)| (format!("O{i}"), *a))
            .collect();
        by_id.sort_by(|a, b| a.0.cmp(&b.0));
        for ((_, a), (v, _)) in by_id.iter().zip(&stored) {
            assert_eq!(v, &crate::store::tables::money(*a), "{a}");
        }
        assert_eq!(crate::store::tables::money(75.45), Value::Integer(754_500));
        assert_eq!(
            crate::store::tables::money(1.23456789),
            Value::Real(1.23456789)
        );
        // Migration 15 (and every later one): the same rows through the
        // views, their customers as keys, one for each id a record names.
        for sql in &all[13..] {
            conn.execute_batch(sql).unwrap();
        }
        let without_key = |table: &str| -> Vec<Vec<Value>> {
            let mut stmt = conn
                .prepare(&format!("SELECT * FROM {table} ORDER BY 1"))
                .unwrap();
            let keep: Vec<usize> = (0..stmt.column_count())
                .filter(|i| stmt.column_name(*i).unwrap() != "customer_key")
                .collect();
            stmt.query_map([], |r| keep.iter().map(|i| r.get::<_, Value>(*i)).collect())
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        for (t, rows) in tables.iter().zip(&before) {
            assert_eq!(&without_key(t), rows, "{t} after migration 15");
            assert_eq!(
                &without_key(&format!("{t}_scan")),
                rows,
                "{t}_scan after migration 15"
            );
        }
        assert_eq!(
            without_key("tickets"),
            tickets_before,
            "tickets after migration 15"
        );
        assert_eq!(without_key("tickets_scan"), tickets_before, "tickets_scan");
        let keys: Vec<String> = conn
            .prepare("SELECT customer_id FROM customer_keys ORDER BY customer_id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            keys,
            ["C1", "C9", "X"],
            "the ids records name, known or not"
        );
        let customer_indexes: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name LIKE '%customer'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(customer_indexes, 0);
        // The importer's layout is the tables' columns.
        for kind in crate::sources::FileKind::ALL {
            let layout = crate::store::tables::Layout::of(&kind.table());
            let mut expected = layout.names.clone();
            expected.push("snapshot_id".into());
            let got: Vec<String> = conn
                .prepare(&format!(
                    "SELECT name FROM pragma_table_info('{}')",
                    layout.table
                ))
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            assert_eq!(got, expected, "{kind}");
        }
        assert_eq!(
            conn.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))
                .unwrap(),
            "ok"
        );
    }

    /// Migration 14: the kinds of the stored activities, and no kind index.
    #[test]
    fn migration_14_keeps_the_activity_kinds_in_a_table() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let all = super::migrations();
        for sql in &all[..13] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(
            "INSERT INTO activities_rows (activity_id, occurred_day, kind, owner, customer_id, snapshot_id)
                 VALUES ('A1', 739935, 'call', NULL, NULL, 1), ('A2', 739935, 'Call', NULL, NULL, 1),
                        ('A3', 739936, 'call', NULL, NULL, 1), ('A4', 739936, 'meeting', NULL, NULL, 1);",
        )
        .unwrap();
        conn.execute_batch(&all[13]).unwrap();
        let kinds: Vec<String> = conn
            .prepare("SELECT kind FROM activity_kinds ORDER BY kind")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(kinds, ["Call", "call", "meeting"]);
        let indexes: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name = 'activities_kind'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(indexes, 0);
    }

    #[test]
    fn derived_migrations_are_the_shipped_ones_byte_for_byte() {
        super::assert_shipped(super::migrations(), &SHIPPED_SHA256);
    }
}
