//! Error kinds a caller branches on, and their exit codes (cli-and-outputs.md):
//! 0 success, 1 runtime failure, 2 usage or configuration, 3 input rejected,
//! 4 reports archived but emails pending. A leaf: the mapping of other
//! modules' error types to exit codes is `crate::exit_code`, at the top.
use std::fmt;

/// Exit codes, as documented in the README and cli-and-outputs.md.
pub mod code {
    pub const OK: u8 = 0;
    pub const FAILURE: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const INPUT: u8 = 3;
    pub const PENDING: u8 = 4;
}

/// A user-facing failure with its own exit code; the message is already a
/// complete sentence (or several lines for a list of rejected cells).
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: code::USAGE,
            message: message.into(),
        }
    }
    pub fn input(message: impl Into<String>) -> Self {
        Failure {
            code: code::INPUT,
            message: message.into(),
        }
    }
    pub fn runtime(message: impl Into<String>) -> Self {
        Failure {
            code: code::FAILURE,
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// One line with the cause chain (ripgrep style), or the failure's own
/// multi-line message when it is a list of problems.
pub fn render(err: &anyhow::Error) -> String {
    format!("{err:#}")
}
