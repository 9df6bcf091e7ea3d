//! Thin entry point: parse the command line, read the clock once, hand over to
//! the library and turn its outcome into a documented exit code.
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    scorecard::store::skip_memory_statistics();
    let cli = scorecard::cli::Cli::parse();
    // The only place that reads the clock; everything below gets `now` passed in.
    let now = chrono::Utc::now();
    match scorecard::run(cli, now) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("scorecard: {}", scorecard::error::render(&err));
            ExitCode::from(scorecard::exit_code(&err))
        }
    }
}
