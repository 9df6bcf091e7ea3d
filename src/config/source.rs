//! `[source]`: warehouse mode. `url` names a PostgreSQL server holding the
//! CRM data already (the password only through the variable `password_env`
//! names, never in the URL and never printed), `[source.tables]` the
//! existing tables or views shaped like the snapshot files
//! (`customers = "crm.v_customers"`). KPIs are then computed there, with no
//! import; `[store]` keeps the ledgers, cache and runs (docs/scale-out.md).
use std::collections::BTreeMap;

use serde::Deserialize;

use super::error::{ConfigError, Source};
use super::store::{check_pg_url, PgSecret};
use super::Env;
use crate::sources::FileKind;

/// What `[source]` says.
#[derive(Debug, Clone)]
pub struct WarehouseConfig {
    /// `postgres://user@host:port/db` (never with a password).
    pub url: String,
    pub password: Option<PgSecret>,
    /// The snapshot file each relation stands for, by file.
    pub tables: Vec<(FileKind, String)>,
}

/// Checks a `[source.tables]` value: `schema.name` of plain identifiers
/// (it is written into SQL). The schema is required, so that a relation
/// can never be mistaken for the store's table of the same name.
pub fn check_relation(name: &str) -> Result<(), String> {
    let ident = |s: &str| {
        !s.is_empty()
            && s.len() <= 63
            && s.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    match name.split_once('.') {
        Some((schema, rel)) if ident(schema) && ident(rel) => Ok(()),
        Some(_) => Err(format!("'{name}' is not a plain schema.table name (letters, digits and _)")),
        None if ident(name) => Err(format!(
            "'{name}': name the schema too (e.g. crm.{name}), so that it cannot be taken for the store's own table"
        )),
        None => Err(format!("'{name}' is not a plain schema.table name (letters, digits and _)")),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawSource {
    url: Option<String>,
    password_env: Option<String>,
    tables: BTreeMap<String, String>,
}

pub(super) fn check(
    raw: RawSource,
    src: &Source<'_>,
    env: &Env,
) -> Result<Option<WarehouseConfig>, ConfigError> {
    let Some(url) = raw.url.filter(|u| !u.is_empty()) else {
        if raw.password_env.is_some() {
            return Err(src.invalid(
                "source",
                "password_env",
                "only applies with [source] url (warehouse mode)",
            ));
        }
        if let Some(key) = raw.tables.keys().next() {
            return Err(src.invalid(
                "source.tables",
                key,
                "[source.tables] needs [source] url (the PostgreSQL server that holds them)",
            ));
        }
        return Ok(None);
    };
    check_pg_url(&url)
        .map_err(|e| src.invalid("source", "url", e.replace("[store]", "[source]")))?;
    if raw.tables.is_empty() {
        return Err(src.invalid(
            "source",
            "url",
            "warehouse mode needs [source.tables] naming at least one table or view (customers = \"crm.v_customers\", deals = \"crm.deals\", …)",
        ));
    }
    let mut tables = Vec::new();
    for (key, relation) in &raw.tables {
        let kind = FileKind::parse(key).ok_or_else(|| {
            src.invalid(
                "source.tables",
                key,
                format!(
                    "'{key}' is not a snapshot file (expected one of {})",
                    FileKind::ALL.map(FileKind::key).join(", ")
                ),
            )
        })?;
        check_relation(relation).map_err(|e| src.invalid("source.tables", key, e))?;
        tables.push((kind, relation.clone()));
    }
    tables.sort();
    let password = match raw.password_env {
        Some(var) => Some(PgSecret(env.get(&var).cloned().ok_or_else(|| {
            src.invalid(
                "source",
                "password_env",
                format!("the environment variable {var} is not set (it must hold the warehouse's PostgreSQL password)"),
            )
        })?)),
        None => None,
    };
    Ok(Some(WarehouseConfig {
        url,
        password,
        tables,
    }))
}

#[cfg(test)]
mod tests {
    use crate::config::Env;
    use crate::sources::FileKind;

    use crate::config::parse_for_test as parse;

    #[test]
    fn a_source_url_with_tables_selects_warehouse_mode() {
        let mut env = Env::new();
        env.insert("WH_PASS".into(), "hunter2".into());
        let c = parse(
            "[source]\nurl = \"postgres://kpi@wh.internal/crm\"\npassword_env = \"WH_PASS\"\n[source.tables]\ncustomers = \"crm.v_customers\"\ndeals = \"crm.deals\"\n",
            &env,
        )
        .unwrap();
        let w = c.warehouse.as_ref().expect("warehouse mode");
        assert_eq!(
            w.tables,
            [
                (FileKind::Customers, "crm.v_customers".to_string()),
                (FileKind::Deals, "crm.deals".to_string())
            ]
        );
        assert_eq!(w.password.as_ref().unwrap().0, "hunter2");
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(parse("", &env).unwrap().warehouse.is_none());
    }

    #[test]
    fn bad_source_settings_are_refused_with_their_line() {
        let env = Env::new();
        let cases = [
            (
                "[source]\nurl = \"postgres://u:secret@h/db\"\n[source.tables]\ndeals = \"crm.deals\"\n",
                "config.toml:2",
                "password_env",
            ),
            ("[source]\nurl = \"postgres://u@h/db\"\n", "config.toml:2", "[source.tables]"),
            (
                "[source]\nurl = \"postgres://u@h/db\"\n[source.tables]\nleads = \"crm.leads\"\n",
                "config.toml:4",
                "not a snapshot file",
            ),
            (
                "[source]\nurl = \"postgres://u@h/db\"\n[source.tables]\ndeals = \"deals\"\n",
                "config.toml:4",
                "schema",
            ),
            (
                "[source]\nurl = \"postgres://u@h/db\"\n[source.tables]\ndeals = \"crm.deals; drop table x\"\n",
                "config.toml:4",
                "not a plain",
            ),
            (
                "[source.tables]\ndeals = \"crm.deals\"\n",
                "config.toml:2",
                "needs [source] url",
            ),
            (
                "[source]\nurl = \"postgres://u@h/db\"\npassword_env = \"NOPE\"\n[source.tables]\ndeals = \"crm.deals\"\n",
                "config.toml:3",
                "NOPE is not set",
            ),
        ];
        for (text, at, says) in cases {
            let e = parse(text, &env).unwrap_err();
            assert!(
                e.contains(at) && e.contains(says) && !e.contains("secret@"),
                "{text}: {e}"
            );
        }
    }
}
