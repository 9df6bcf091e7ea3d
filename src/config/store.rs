//! `[store]`: the embedded SQLite file (`path`, the default) or a PostgreSQL
//! server (`url`, with `schema` and the password only through the variable
//! `password_env` names, never in the URL and never printed).
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::error::{ConfigError, Source};
use super::Env;

/// Where the store is: `[store] path` (SQLite) or `[store] url` (PostgreSQL).
#[derive(Debug, Clone)]
pub enum Location {
    Sqlite(PathBuf),
    Postgres { config: PgConfig, dir: PathBuf },
}

/// What `[store]` says about a PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgConfig {
    /// `postgres://user@host:port/db` (never with a password).
    pub url: String,
    pub schema: String,
    pub password: Option<PgSecret>,
}

/// A password: never printed, not even by `{:?}`.
#[derive(Clone)]
pub struct PgSecret(pub String);

impl std::fmt::Debug for PgSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Checks a `[store] url`: a postgres URL without a password. The message
/// never repeats the URL's password.
pub fn check_pg_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
        .ok_or_else(|| {
            "must start with postgres:// (postgres://user@host:port/database)".to_string()
        })?;
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    if let Some((userinfo, _)) = authority.rsplit_once('@') {
        if userinfo.contains(':') {
            return Err("must not contain a password: put it in an environment variable and name it in [store] password_env".into());
        }
    }
    if url.contains("password=") {
        return Err("must not contain a password: put it in an environment variable and name it in [store] password_env".into());
    }
    url.parse::<postgres::Config>()
        .map_err(|e| format!("is not a PostgreSQL connection URL ({e})"))?;
    Ok(())
}

/// Checks a `[store] schema` name: it is written into SQL, so only plain
/// lowercase identifiers.
pub fn check_pg_schema(name: &str) -> Result<(), String> {
    let ok = name.len() <= 63
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!("'{name}' is not a plain schema name (lowercase letters, digits and _, starting with a letter)"))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawStore {
    path: Option<String>,
    url: Option<String>,
    schema: Option<String>,
    password_env: Option<String>,
}

pub(super) fn check(
    raw: RawStore,
    base: &Path,
    src: &Source<'_>,
    env: &Env,
) -> Result<Location, ConfigError> {
    let Some(url) = raw.url.filter(|u| !u.is_empty()) else {
        for (key, set) in [
            ("schema", raw.schema.is_some()),
            ("password_env", raw.password_env.is_some()),
        ] {
            if set {
                return Err(src.invalid(
                    "store",
                    key,
                    "only applies with [store] url (a PostgreSQL store)",
                ));
            }
        }
        return Ok(Location::Sqlite(
            base.join(raw.path.as_deref().unwrap_or("scorecard.db")),
        ));
    };
    // With a url, `path` only says where files beside the store (rejects) go.
    let sqlite = base.join(raw.path.as_deref().unwrap_or("scorecard.db"));
    let dir = sqlite
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| base.to_path_buf());
    check_pg_url(&url).map_err(|e| src.invalid("store", "url", e))?;
    let schema = raw.schema.unwrap_or_else(|| "scorecard".into());
    check_pg_schema(&schema).map_err(|e| src.invalid("store", "schema", e))?;
    let password = match raw.password_env {
        Some(var) => Some(PgSecret(env.get(&var).cloned().ok_or_else(|| {
            src.invalid(
                "store",
                "password_env",
                format!("the environment variable {var} is not set (it must hold the PostgreSQL password)"),
            )
        })?)),
        None => None,
    };
    Ok(Location::Postgres {
        config: PgConfig {
            url,
            schema,
            password,
        },
        dir,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Env;

    #[test]
    fn urls_with_a_password_are_refused() {
        assert!(check_pg_url("postgres://u@localhost:5432/db").is_ok());
        assert!(check_pg_url("postgresql://localhost/db").is_ok());
        let e = check_pg_url("postgres://u:hunter2@localhost/db").unwrap_err();
        assert!(e.contains("password_env") && !e.contains("hunter2"));
        assert!(check_pg_url("postgres://u@h/db?password=x").is_err());
        assert!(check_pg_url("mysql://u@h/db").is_err());
    }

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(check_pg_schema("scorecard").is_ok());
        assert!(check_pg_schema("t_1").is_ok());
        assert!(check_pg_schema("a;drop").is_err());
        assert!(check_pg_schema("Upper").is_err());
        assert!(check_pg_schema("").is_err());
    }

    use crate::config::parse_for_test as parse;

    #[test]
    fn a_url_selects_postgres_and_the_password_comes_from_the_environment() {
        let mut env = Env::new();
        env.insert("PGPASS".into(), "hunter2".into());
        let c = parse(
            "[store]\nurl = \"postgres://u@db.internal:5432/crm\"\npassword_env = \"PGPASS\"\n",
            &env,
        )
        .unwrap();
        let Location::Postgres { config, .. } = &c.store else {
            panic!("not postgres: {:?}", c.store);
        };
        assert_eq!(config.schema, "scorecard");
        assert_eq!(config.password.as_ref().unwrap().0, "hunter2");
        assert!(!format!("{c:?}").contains("hunter2"));
        env.insert("SCORECARD_STORE__URL".into(), "postgres://o@h/db".into());
        env.insert("SCORECARD_STORE__SCHEMA".into(), "crm_kpis".into());
        let c = parse("", &env).unwrap();
        let Location::Postgres { config, .. } = &c.store else {
            panic!("not postgres");
        };
        assert_eq!(
            (config.url.as_str(), config.schema.as_str()),
            ("postgres://o@h/db", "crm_kpis")
        );
    }

    #[test]
    fn bad_store_settings_are_refused_with_their_line() {
        let env = Env::new();
        let e = parse("[store]\nurl = \"postgres://u:secret@h/db\"\n", &env).unwrap_err();
        assert!(
            e.contains("config.toml:2") && e.contains("password_env") && !e.contains("secret@"),
            "{e}"
        );
        let e = parse(
            "[store]\nurl = \"postgres://u@h/db\"\nschema = \"x; drop\"\n",
            &env,
        )
        .unwrap_err();
        assert!(e.contains("config.toml:3") && e.contains("schema"), "{e}");
        let e = parse(
            "[store]\nurl = \"postgres://u@h/db\"\npassword_env = \"NOPE\"\n",
            &env,
        )
        .unwrap_err();
        assert!(e.contains("NOPE is not set"), "{e}");
        let e = parse("[store]\nschema = \"s\"\n", &env).unwrap_err();
        assert!(e.contains("only applies with [store] url"), "{e}");
    }
}
