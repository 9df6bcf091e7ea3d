//! scorecard: CRM snapshots → SQLite store → KPIs per period and segment →
//! comparisons → Tera reports → archive → email. `run` dispatches a command;
//! each stage lives in its own module and knows nothing of the later ones.
pub mod archive;
pub mod cli;
pub mod commands;
pub mod compare;
pub mod config;
pub mod deliver;
pub mod demo;
pub mod error;
pub mod ingest;
pub mod kpi;
pub mod lock;
pub mod period;
pub mod report;
pub mod run;
pub mod store;

use std::process::ExitCode;

use anyhow::Result;
use chrono::{DateTime, Utc};

use cli::{Cli, Command};

/// Runs one command. `now` is the clock reading taken in `main`; `--today`
/// or `SCORECARD_TODAY` replace its date.
pub fn run(cli: Cli, now: DateTime<Utc>) -> Result<ExitCode> {
    let env = config::process_env();
    let out = commands::Output { quiet: cli.quiet, json: cli.log_format == cli::LogFormat::Json };
    let code = match &cli.command {
        Command::Demo { dir, weeks, seed } => commands::demo(&out, dir, *weeks, *seed, cli.today, now)?,
        Command::Init { dir } => commands::init(&out, dir.as_deref())?,
        Command::Import { paths, skip_invalid } => commands::import(&out, &cli, &env, paths, *skip_invalid, now)?,
        Command::Run(args) => commands::run(&out, &cli, &env, args, now)?,
        Command::Send { retry } => commands::send(&out, &cli, &env, *retry, now)?,
        Command::Kpis => commands::kpis(&out, &cli, &env)?,
        Command::Show { period, segment, cadence } => {
            commands::show(&out, &cli, &env, period, segment.as_deref(), *cadence, now)?
        }
        Command::Check => commands::check(&out, &cli, &env)?,
    };
    Ok(ExitCode::from(code))
}
