//! The PostgreSQL backend: connecting (`[store] url`, the password only from
//! the variable `password_env` names), the store's own schema (`[store]
//! schema`, default `scorecard`), its migrations (append-only, tracked in
//! that schema's `schema_migrations` table, applied in one transaction under
//! a transaction-level advisory lock), and the run lock as a session-level
//! advisory lock that the server releases when its holder's connection dies.
//! Connections are plain TCP (no TLS): reach a remote server through a
//! private network or an SSH tunnel.
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::migrations_pg::MIGRATIONS;
use crate::error::Failure;

use crate::config::check_pg_schema as check_schema;
pub use crate::config::{PgConfig, PgSecret as Secret};

/// The URL with its user, host, port and database, for messages.
pub fn describe(url: &str) -> String {
    url.split('?').next().unwrap_or(url).to_string()
}

/// Opens a client on `cfg.url`, named `application_name` on the server.
pub fn connect(cfg: &PgConfig, application_name: &str) -> Result<postgres::Client> {
    let mut pc: postgres::Config = cfg
        .url
        .parse()
        .map_err(|e| Failure::usage(format!("[store] url: not a PostgreSQL URL ({e})")))?;
    if let Some(p) = &cfg.password {
        pc.password(p.0.as_bytes());
    }
    if pc.get_connect_timeout().is_none() {
        pc.connect_timeout(Duration::from_secs(10));
    }
    pc.application_name(application_name);
    pc.connect(postgres::NoTls).map_err(|e| {
        Failure::runtime(format!(
            "cannot connect to the PostgreSQL store {}: {} (check [store] url, that the server runs and accepts this user{})",
            describe(&cfg.url),
            e.as_db_error().map(|d| d.message().to_string()).unwrap_or_else(|| error_chain(&e)),
            if cfg.password.is_some() { "" } else { ", and [store] password_env if it needs a password" }
        ))
        .into()
    })
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(&format!(": {c}"));
        cur = c.source();
    }
    s
}

/// Creates the schema if needed, makes it the search path, and applies the
/// migrations past the recorded version in one transaction.
pub fn prepare(client: &mut postgres::Client, schema: &str) -> Result<()> {
    check_schema(schema).map_err(|e| Failure::usage(format!("[store] schema: {e}")))?;
    client.batch_execute(&format!(
        "SET client_min_messages = warning; CREATE SCHEMA IF NOT EXISTS {schema}; SET search_path TO {schema}"
    ))
    .with_context(|| format!("cannot create or use the schema {schema}"))?;
    migrate(client, schema)
}

/// `scorecard check` on a PostgreSQL store: connects (creating and migrating
/// the schema if needed), names the server and schema versions, and on a
/// Citus coordinator says how each table is placed against how
/// docs/scale-out.md places it.
pub fn check(cfg: &PgConfig) -> Result<Vec<String>> {
    let mut client = connect(cfg, "scorecard check")?;
    prepare(&mut client, &cfg.schema)?;
    let version: String = client.query_one("SHOW server_version", &[])?.get(0);
    let mut out = vec![format!(
        "store: PostgreSQL {version} at {}, schema {} (version {})",
        describe(&cfg.url),
        cfg.schema,
        schema_version(&mut client)?
    )];
    let citus: Option<String> = client
        .query_opt(
            "SELECT extversion FROM pg_extension WHERE extname = 'citus'",
            &[],
        )?
        .map(|r| r.get(0));
    let Some(citus) = citus else {
        out.push(
            "store: not a Citus coordinator (no citus extension): every table is a plain table"
                .into(),
        );
        return Ok(out);
    };
    let placed: std::collections::HashMap<String, String> = client
        .query(
            "SELECT c.relname::text, p.partmethod::text FROM pg_dist_partition p
             JOIN pg_class c ON c.oid = p.logicalrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1",
            &[&cfg.schema],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut wrong = Vec::new();
    for (table, how, _) in super::migrations_pg::PLACEMENT {
        let is = match placed.get(*table).map(String::as_str) {
            Some("h") => "distributed",
            Some("n") => "reference",
            Some(_) => "distributed (not by hash)",
            None => "local",
        };
        if is != *how {
            wrong.push(format!("{table} is {is}, should be {how}"));
        }
    }
    out.push(if wrong.is_empty() {
        format!("store: Citus {citus}: the fact tables are distributed and co-located, customers, attributes, spend and measures are reference tables")
    } else {
        format!(
            "store: Citus {citus}: {} (run the calls in docs/scale-out.md)",
            wrong.join("; ")
        )
    });
    Ok(out)
}

/// Drops a schema and everything in it (the demo starts afresh).
pub fn drop_schema(cfg: &PgConfig) -> Result<()> {
    check_schema(&cfg.schema).map_err(|e| Failure::usage(format!("[store] schema: {e}")))?;
    let mut client = connect(cfg, "scorecard demo")?;
    client.batch_execute(&format!(
        "SET client_min_messages = warning; DROP SCHEMA IF EXISTS {} CASCADE",
        cfg.schema
    ))?;
    Ok(())
}

/// The advisory lock keys of a schema: (migrations, runs).
fn lock_key(schema: &str, what: &str) -> i64 {
    // FNV-1a: stable across versions and machines.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in format!("scorecard:{what}:{schema}").bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    h as i64
}

pub fn schema_version(client: &mut postgres::Client) -> Result<usize> {
    let row = client.query_one(
        "SELECT coalesce(max(version), 0)::bigint FROM schema_migrations",
        &[],
    )?;
    Ok(row.get::<_, i64>(0) as usize)
}

fn migrate(client: &mut postgres::Client, schema: &str) -> Result<()> {
    let mut tx = client.transaction()?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1)",
        &[&lock_key(schema, "migrate")],
    )?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version BIGINT PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )?;
    let current: i64 = tx
        .query_one(
            "SELECT coalesce(max(version), 0)::bigint FROM schema_migrations",
            &[],
        )?
        .get(0);
    let current = current as usize;
    if current > MIGRATIONS.len() {
        return Err(Failure::runtime(format!(
            "the store has schema version {current}, newer than this program knows ({}): upgrade scorecard",
            MIGRATIONS.len()
        ))
        .into());
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        tx.batch_execute(sql)
            .with_context(|| format!("PostgreSQL migration {} failed", i + 1))?;
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[&((i + 1) as i64)],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// The run lock on PostgreSQL: a session-level advisory lock held by its own
/// connection (named after the holder on the server), so that two runs on
/// two machines against one store exclude each other, and a dead holder's
/// lock goes with its connection.
pub struct PgRunLock {
    client: postgres::Client,
    key: i64,
}

impl PgRunLock {
    pub fn acquire(cfg: &PgConfig, wait: Duration, holder: &str) -> Result<PgRunLock> {
        let name: String = format!("scorecard run: {holder}")
            .chars()
            .take(63)
            .collect();
        let mut client = connect(cfg, &name)?;
        let key = lock_key(&cfg.schema, "run");
        let started = Instant::now();
        loop {
            let got: bool = client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&key])?
                .get(0);
            if got {
                return Ok(PgRunLock { client, key });
            }
            if started.elapsed() >= wait {
                let who = client
                    .query_opt(
                        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                         WHERE l.locktype = 'advisory' AND l.granted
                           AND l.objsubid = 1 AND ((l.classid::bigint << 32) | l.objid::bigint) = $1
                         LIMIT 1",
                        &[&key],
                    )
                    .ok()
                    .flatten()
                    .and_then(|r| r.get::<_, Option<String>>(0))
                    .map(|s| s.trim_start_matches("scorecard run: ").to_string())
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "holder unknown".into());
                return Err(Failure::runtime(format!(
                    "another scorecard run holds the lock of the PostgreSQL store {} (schema {}) ({who}); waited {} s (raise [run] lock_wait_secs, or wait for it to finish)",
                    describe(&cfg.url),
                    cfg.schema,
                    wait.as_secs()
                ))
                .into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for PgRunLock {
    fn drop(&mut self) {
        let _ = self
            .client
            .execute("SELECT pg_advisory_unlock($1)", &[&self.key]);
    }
}

/// For tests: a PostgreSQL store config in a fresh schema of the server
/// `SCORECARD_TEST_PG_URL` names, or None (saying so on stderr) when it is
/// not set. `SCORECARD_REQUIRE_PG=1` (CI) makes a missing server a failure.
#[doc(hidden)]
pub fn test_config(test: &str) -> Option<PgConfig> {
    match std::env::var("SCORECARD_TEST_PG_URL") {
        Ok(url) if !url.is_empty() => {
            static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let tag: String = test
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '_'
                    }
                })
                .take(30)
                .collect();
            Some(PgConfig {
                url,
                schema: format!("t{}_{n}_{nanos}_{tag}", std::process::id()),
                password: None,
            })
        }
        _ => {
            if std::env::var("SCORECARD_REQUIRE_PG").is_ok_and(|v| v == "1") {
                panic!("{test}: SCORECARD_REQUIRE_PG=1 but SCORECARD_TEST_PG_URL is not set");
            }
            // Straight to stderr, past the test harness's capture: a plain
            // `cargo test` shows which tests stepped aside.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: no PostgreSQL server (set SCORECARD_TEST_PG_URL=postgres://user@host:port/db; .ci/run starts one)"
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrating_twice_is_harmless_on_postgres() {
        let Some(cfg) = test_config("migrating_twice_is_harmless_on_postgres") else {
            return;
        };
        let mut client = connect(&cfg, "scorecard test").unwrap();
        prepare(&mut client, &cfg.schema).unwrap();
        prepare(&mut client, &cfg.schema).unwrap();
        assert_eq!(schema_version(&mut client).unwrap(), MIGRATIONS.len());
        let tables: i64 = client
            .query_one(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1",
                &[&cfg.schema],
            )
            .unwrap()
            .get(0);
        assert!(tables >= 17, "{tables} tables");
        // A store migrated by a newer scorecard.
        client
            .execute("INSERT INTO schema_migrations (version) VALUES (99)", &[])
            .unwrap();
        let err = prepare(&mut client, &cfg.schema).err().unwrap();
        assert!(format!("{err:#}").contains("newer than this program knows"));
    }

    #[test]
    fn the_run_lock_excludes_a_second_holder_on_postgres() {
        let Some(cfg) = test_config("the_run_lock_excludes_a_second_holder") else {
            return;
        };
        let first = PgRunLock::acquire(&cfg, Duration::ZERO, "pid 1 on test").unwrap();
        let err = PgRunLock::acquire(&cfg, Duration::from_millis(200), "pid 2 on test")
            .err()
            .unwrap();
        let msg = format!("{err:#}");
        assert!(msg.contains("pid 1 on test"), "{msg}");
        drop(first);
        PgRunLock::acquire(&cfg, Duration::ZERO, "pid 3 on test").unwrap();
    }

    #[test]
    fn secrets_are_not_printed() {
        let c = PgConfig {
            url: "postgres://u@h/db".into(),
            schema: "s".into(),
            password: Some(Secret("hunter2".into())),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
