//! scorecard: CRM snapshots → SQLite store → KPIs per period and segment →
//! comparisons → Tera reports → archive → email. `run` dispatches a command;
//! each stage lives in its own module and knows nothing of the later ones.
pub mod cli;
pub mod archive;
pub mod compare;
pub mod config;
pub mod deliver;
pub mod demo;
pub mod error;
pub mod ingest;
pub mod kpi;
pub mod period;
pub mod report;
pub mod store;

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Result;
use chrono::{DateTime, Utc};

use cli::{Cli, Command};
use config::Config;

/// Runs one command. `now` is the clock reading taken in `main`.
pub fn run(cli: Cli, now: DateTime<Utc>) -> Result<ExitCode> {
    let env = config::process_env();
    match &cli.command {
        Command::Import { paths, skip_invalid } => {
            let config = Config::load(&cli.config, &env)?;
            let mut store = store::Store::open(&config.store_path)?;
            let opts = ingest::ImportOptions {
                skip_invalid: *skip_invalid,
                progress: std::io::stderr().is_terminal() && !cli.quiet,
            };
            let report = ingest::import(&mut store, &config, paths, &opts, now)?;
            for w in &report.warnings {
                eprintln!("warning: {w}");
            }
            if !cli.quiet {
                for f in &report.files {
                    println!("{}", f.line());
                }
            }
            if let Some(path) = &report.rejects_path {
                eprintln!("{} rows rejected; written with their reasons to {}", report.rejected(), path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        _ => Err(error::Failure::usage("not yet").into()),
    }
}
