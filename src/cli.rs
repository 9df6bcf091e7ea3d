//! The command line (clap derive). Every command listed here works; see
//! cli-and-outputs.md for the contract.
use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "scorecard",
    version,
    about = "Weekly CRM KPI scorecards: import, compute, compare, archive, email"
)]
pub struct Cli {
    /// Configuration file; paths inside it are relative to its folder.
    #[arg(
        long,
        global = true,
        env = "SCORECARD_CONFIG",
        default_value = "config.toml"
    )]
    pub config: PathBuf,
    /// Today's date for this run (YYYY-MM-DD); default: the system clock in the report time zone.
    #[arg(
        long,
        global = true,
        env = "SCORECARD_TODAY",
        value_name = "YYYY-MM-DD"
    )]
    pub today: Option<NaiveDate>,
    /// Log and summary format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Print only warnings and errors (for cron).
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Colour in `show` and `kpis`: auto (on a terminal, unless NO_COLOR is set), always or never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    #[command(subcommand)]
    pub command: Command,
}

/// `--color never|always|auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole job on a generated sample business (no config, no network).
    Demo {
        /// Folder for the demo's store, snapshot, reports and outbox.
        #[arg(long, default_value = "demo")]
        dir: PathBuf,
        /// Weeks of history to generate.
        #[arg(long, default_value_t = 104)]
        weeks: u32,
        /// Random seed; the same seed gives the same business.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Run it on a PostgreSQL store (postgres://user@host:port/db) instead of SQLite.
        #[arg(long)]
        store_url: Option<String>,
        /// The PostgreSQL schema of the demo's tables.
        #[arg(long, default_value = "scorecard_demo", requires = "store_url")]
        store_schema: String,
    },
    /// Write a commented config.toml, the default templates and a benchmark file.
    Init {
        /// Target folder (default: the current folder).
        dir: Option<PathBuf>,
    },
    /// Import snapshot folders (or single CSV files) into the store.
    Import {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Import the valid rows and write rejected rows to a rejects CSV next to the store.
        #[arg(long)]
        skip_invalid: bool,
        /// The instant the files' data is known up to (RFC 3339, e.g.
        /// 2026-11-30T00:00:00Z); default: the latest instant in each file.
        #[arg(long, value_name = "TIMESTAMP")]
        as_of: Option<String>,
    },
    /// Compute, render, archive and email the scorecard of a period.
    Run(RunArgs),
    /// Send the emails still pending in the send ledger.
    Send {
        /// Also retry messages marked failed.
        #[arg(long)]
        retry: bool,
        /// Also send again the messages marked uncertain (the server may
        /// have them already: same bytes, same Message-ID).
        #[arg(long)]
        resend_uncertain: bool,
    },
    /// List every KPI with its formula, unit, direction, category, target and benchmark.
    Kpis,
    /// Print a period's scorecard as a table in the terminal.
    Show {
        /// Period id (2026-W47, 2026-11, 2026-Q4) or `last`.
        #[arg(long, default_value = "last")]
        period: String,
        /// Segment `attribute=value`; default: the whole business.
        #[arg(long)]
        segment: Option<String>,
        #[arg(long, value_enum)]
        cadence: Option<CadenceArg>,
    },
    /// Validate config, templates, benchmarks and SMTP settings (connects, sends nothing).
    Check,
}

#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Period id (2026-W47, 2026-11, 2026-Q4) or `last` (the last completed period, with catch-up).
    #[arg(long, default_value = "last", conflicts_with = "since")]
    pub period: String,
    /// First period of a backfill range.
    #[arg(long)]
    pub since: Option<String>,
    /// Last period of a backfill range (default: the last completed period).
    #[arg(long, requires = "since")]
    pub until: Option<String>,
    /// Override the configured cadence.
    #[arg(long, value_enum)]
    pub cadence: Option<CadenceArg>,
    /// Archive the reports but send no email.
    #[arg(long)]
    pub no_send: bool,
    /// Write emails to the file outbox instead of the configured transport.
    #[arg(long)]
    pub dry_run: bool,
    /// Send again even what the ledger says was delivered.
    #[arg(long)]
    pub force: bool,
    /// Send even when a source file has no rows in the period.
    #[arg(long)]
    pub allow_stale: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CadenceArg {
    Weekly,
    Monthly,
    Quarterly,
}
