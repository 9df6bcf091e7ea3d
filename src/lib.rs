//! scorecard: CRM snapshots → SQLite store → KPIs per period and segment →
//! comparisons → Tera reports → archive → email. `run` dispatches a command;
//! each stage lives in its own module and knows nothing of the later ones.
pub mod archive;
pub mod catalogue;
pub mod cli;
pub mod commands;
pub mod compare;
pub mod compute;
pub mod config;
pub mod deliver;
pub mod demo;
pub mod error;
pub mod escape;
pub mod files;
pub mod formula;
pub mod ids;
pub mod ingest;
pub mod kpi;
#[cfg(test)]
mod layers;
pub mod lock;
pub mod model;
pub mod period;
pub mod plan;
pub mod report;
pub mod run;
pub mod sources;
pub mod store;
pub mod terminal;

use std::process::ExitCode;

use anyhow::Result;
use chrono::{DateTime, Utc};

use cli::{Cli, Command};

/// Runs one command. `now` is the clock reading taken in `main`; `--today`
/// or `SCORECARD_TODAY` replace its date.
pub fn run(cli: Cli, now: DateTime<Utc>) -> Result<ExitCode> {
    // A pinned date pins the clock too (its midnight, UTC), so that a run
    // with --today / SCORECARD_TODAY is reproducible to the byte.
    let now = match cli.today {
        Some(day) => day.and_time(chrono::NaiveTime::MIN).and_utc(),
        None => now,
    };
    let env = config::process_env();
    init_logging(cli.log_format == cli::LogFormat::Json);
    let out = commands::Output {
        quiet: cli.quiet,
        json: cli.log_format == cli::LogFormat::Json,
    };
    let code = match &cli.command {
        Command::Demo {
            dir,
            weeks,
            seed,
            store_url,
            store_schema,
        } => {
            let store = store_url
                .as_ref()
                .map(|url| (url.as_str(), store_schema.as_str()));
            commands::demo(&out, dir, *weeks, *seed, store, cli.today, now)?
        }
        Command::Init { dir } => commands::init(&out, dir.as_deref())?,
        Command::Import {
            paths,
            skip_invalid,
            as_of,
        } => commands::import(
            &out,
            &cli,
            &env,
            paths,
            *skip_invalid,
            as_of.as_deref(),
            now,
        )?,
        Command::Run(args) => commands::run(&out, &cli, &env, args, now)?,
        Command::Send {
            retry,
            resend_uncertain,
        } => commands::send(&out, &cli, &env, *retry, *resend_uncertain, now)?,
        Command::Kpis => commands::kpis(&out, &cli, &env)?,
        Command::Show {
            period,
            segment,
            cadence,
        } => commands::show(&out, &cli, &env, period, segment.as_deref(), *cadence, now)?,
        Command::Check => commands::check(&out, &cli, &env)?,
    };
    Ok(ExitCode::from(code))
}

/// The exit code of an error: the first [`Failure`](error::Failure) or
/// configuration error (a usage error) in its chain decides, anything else
/// is a runtime failure.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    use error::{code, Failure};
    err.chain()
        .find_map(|e| {
            e.downcast_ref::<Failure>()
                .map(|f| f.code)
                .or_else(|| e.is::<config::ConfigError>().then_some(code::USAGE))
        })
        .unwrap_or(code::FAILURE)
}

/// Logs go to stderr through tracing; `SCORECARD_LOG=info` (or debug) shows
/// the stages, `--log-format json` makes every line a JSON object.
fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SCORECARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.without_time().try_init()
    };
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn exit_codes_follow_the_error_kinds() {
        let e = config::Config::from_toml(
            "[report]\ncolour = 1\n",
            Path::new("/base"),
            None,
            &config::Env::new(),
        )
        .unwrap_err();
        assert_eq!(
            exit_code(&anyhow::Error::from(e).context("loading")),
            error::code::USAGE
        );
        let e = anyhow::Error::from(error::Failure::input("bad row")).context("importing");
        assert_eq!(exit_code(&e), error::code::INPUT);
        assert_eq!(
            exit_code(&anyhow::anyhow!("disk full")),
            error::code::FAILURE
        );
    }
}
