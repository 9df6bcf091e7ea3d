//! `[store]`: the embedded SQLite file (`path`, the default) or a PostgreSQL
//! server (`url`, with `schema` and the password only through the variable
//! `password_env` names, never in the URL and never printed).
use std::path::Path;

use serde::Deserialize;

use super::error::{ConfigError, Source};
use super::Env;
use crate::store::pg::{self, PgConfig, Secret};
use crate::store::Location;

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
    pg::check_url(&url).map_err(|e| src.invalid("store", "url", e))?;
    let schema = raw.schema.unwrap_or_else(|| "scorecard".into());
    pg::check_schema(&schema).map_err(|e| src.invalid("store", "schema", e))?;
    let password = match raw.password_env {
        Some(var) => Some(Secret(env.get(&var).cloned().ok_or_else(|| {
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
    use std::path::Path;

    use crate::config::{Config, Env};
    use crate::store::Location;

    fn parse(text: &str, env: &Env) -> Result<Config, String> {
        Config::from_toml(
            text,
            Path::new("/base"),
            Some(Path::new("config.toml")),
            env,
        )
        .map_err(|e| e.to_string())
    }

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
