//! Append-only schema migrations, tracked in SQLite's `user_version` (the
//! cargo pattern). Never edit a shipped migration; add a new one.

/// Migration `i` moves the schema from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
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
    CREATE TABLE customers (
        customer_id TEXT PRIMARY KEY,
        acquired_on TEXT NOT NULL,
        acquired_day INTEGER NOT NULL,
        churned_on TEXT,
        churned_day INTEGER,
        snapshot_id INTEGER NOT NULL,
        row_hash INTEGER NOT NULL
    );
    CREATE TABLE customer_attributes (
        customer_id TEXT NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (customer_id, name)
    ) WITHOUT ROWID;
    CREATE TABLE deals (
        deal_id TEXT PRIMARY KEY,
        created_on TEXT NOT NULL,
        created_day INTEGER NOT NULL,
        stage TEXT NOT NULL,
        closed_on TEXT,
        closed_day INTEGER,
        amount REAL,
        customer_id TEXT,
        owner TEXT,
        snapshot_id INTEGER NOT NULL,
        row_hash INTEGER NOT NULL
    );
    CREATE TABLE orders (
        order_id TEXT PRIMARY KEY,
        customer_id TEXT NOT NULL,
        ordered_on TEXT NOT NULL,
        ordered_day INTEGER NOT NULL,
        amount REAL NOT NULL,
        cost REAL,
        snapshot_id INTEGER NOT NULL,
        row_hash INTEGER NOT NULL
    );
    CREATE TABLE tickets (
        ticket_id TEXT PRIMARY KEY,
        opened_at INTEGER NOT NULL,
        opened_day INTEGER NOT NULL,
        first_response_at INTEGER,
        resolved_at INTEGER,
        customer_id TEXT,
        channel TEXT,
        snapshot_id INTEGER NOT NULL,
        row_hash INTEGER NOT NULL
    );
    CREATE TABLE surveys (
        response_id TEXT PRIMARY KEY,
        answered_on TEXT NOT NULL,
        answered_day INTEGER NOT NULL,
        kind TEXT NOT NULL,
        score INTEGER NOT NULL,
        customer_id TEXT,
        comment TEXT,
        snapshot_id INTEGER NOT NULL,
        row_hash INTEGER NOT NULL
    );
    CREATE TABLE spend (
        spend_id TEXT PRIMARY KEY,
        spent_on TEXT NOT NULL,
        spent_day INTEGER NOT NULL,
        category TEXT NOT NULL,
        amount REAL NOT NULL,
        snapshot_id INTEGER NOT NULL,
        row_hash INTEGER NOT NULL
    );
    CREATE TABLE spend_attributes (
        spend_id TEXT NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (spend_id, name)
    ) WITHOUT ROWID;
    CREATE TABLE activities (
        activity_id TEXT PRIMARY KEY,
        occurred_on TEXT NOT NULL,
        occurred_day INTEGER NOT NULL,
        kind TEXT NOT NULL,
        owner TEXT,
        customer_id TEXT,
        snapshot_id INTEGER NOT NULL,
        row_hash INTEGER NOT NULL
    );
    CREATE TABLE measures (
        period TEXT NOT NULL,
        kpi TEXT NOT NULL,
        segment TEXT NOT NULL,
        value REAL NOT NULL,
        snapshot_id INTEGER NOT NULL,
        row_hash INTEGER NOT NULL,
        PRIMARY KEY (period, kpi, segment)
    );
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
    // 6: the webhook posts (Slack, Teams) beside the emails of the send
    // ledger: one row per (cadence, period, target, segment, content hash)
    // holding the JSON payload posted verbatim. `target` is the kind and the
    // variable holding the URL (`slack:SLACK_WEBHOOK_URL`), never the URL.
    // `in_flight` is written before each request, so a run killed mid-post
    // leaves `uncertain` (reposted only by `send --retry`), not a duplicate.
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
];
