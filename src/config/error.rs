//! Why a configuration is refused, and where. The TOML parser keeps the byte
//! span of every key it reads; [`Source`] turns the span of the key a check
//! is about into `file:line`, so that a message points at the line to edit
//! without the text being scanned again. Every variant is a usage error
//! (exit code 2): the user edits the file and runs again.
use std::ops::Range;
use std::path::PathBuf;

use toml::de::{DeTable, DeValue};

/// A configuration the run cannot start with. The wording of each message
/// is part of the interface (cli-and-outputs.md): change it with a changelog
/// line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file itself cannot be read.
    #[error("cannot read config {}: {source} (create one with `scorecard init`, or pass --config PATH)", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Not TOML, or a key the schema does not have (`location` is
    /// `file:line:column` when the parser knows it).
    #[error("{location}: {message} (see the config reference in README.md)")]
    Syntax { location: String, message: String },
    /// The file is fine, the `SCORECARD_*` overrides make it wrong.
    #[error("{file} with SCORECARD_* environment overrides: {message}")]
    Override { file: String, message: String },
    /// A `SCORECARD_<SECTION>__<KEY>` variable that cannot be applied.
    #[error("environment variable {var}: {problem}")]
    Variable { var: String, problem: String },
    /// A key whose value the checks refuse; `at` is `file:line` when the key
    /// is in the file (not only in an override).
    #[error("{at}: [{section}] {key}: {message}")]
    Invalid {
        at: String,
        section: String,
        key: String,
        message: String,
    },
    /// An `[[objective]]` entry that cannot be realized.
    #[error("{file}: [[objective]] '{name}': {message}")]
    Objective {
        file: String,
        name: String,
        message: String,
    },
    /// `[import.<file>]` names no snapshot file.
    #[error("{file}: [import.{key}]: unknown snapshot file (expected one of customers, deals, orders, tickets, surveys, spend, activities, measures)")]
    UnknownImport { file: String, key: String },
    /// The benchmarks file lists a KPI the catalogue does not have.
    #[error("{file}: benchmark for unknown KPI '{kpi}' (see `scorecard kpis`)")]
    UnknownBenchmark { file: String, kpi: String },
}

impl ConfigError {
    /// A `nan` or `inf` where a number is expected.
    pub(crate) fn non_finite(
        file: &str,
        text: &str,
        span: Range<usize>,
        key: &str,
        written: &str,
    ) -> ConfigError {
        let (line, col) = line_col(text, span.start);
        ConfigError::Syntax {
            location: format!("{file}:{line}:{col}"),
            message: format!(
                "{key} = {written} is not a finite number; write a number such as 40 or 0.5"
            ),
        }
    }

    /// The error of the TOML parser or of deserializing its document, with
    /// `file:line:column` from the parser's span.
    pub(crate) fn syntax(file: &str, text: &str, e: &toml::de::Error) -> ConfigError {
        let location = e
            .span()
            .map(|span| {
                let (line, col) = line_col(text, span.start);
                format!("{file}:{line}:{col}")
            })
            .unwrap_or_else(|| file.to_string());
        ConfigError::Syntax {
            location,
            message: e.message().trim().to_string(),
        }
    }
}

/// The parsed config file: its name for messages, its text, and the
/// parser's document with the span of every key.
pub(crate) struct Source<'t> {
    pub name: String,
    text: &'t str,
    doc: &'t DeTable<'t>,
}

impl<'t> Source<'t> {
    pub fn new(name: String, text: &'t str, doc: &'t DeTable<'t>) -> Self {
        Source { name, text, doc }
    }

    /// `[section] key: message`, at the line of `key` in `[section]` (the
    /// `index`-th entry of an array of tables such as `[[email.recipients]]`).
    pub fn invalid_at(
        &self,
        section: &str,
        index: Option<usize>,
        key: &str,
        message: impl Into<String>,
    ) -> ConfigError {
        let at = self
            .key_span(section, index, key)
            .map(|span| format!("{}:{}", self.name, line_col(self.text, span.start).0))
            .unwrap_or_else(|| self.name.clone());
        ConfigError::Invalid {
            at,
            section: section.to_string(),
            key: key.to_string(),
            message: message.into(),
        }
    }

    /// [`Self::invalid_at`] for a key of a plain table.
    pub fn invalid(&self, section: &str, key: &str, message: impl Into<String>) -> ConfigError {
        self.invalid_at(section, None, key, message)
    }

    /// The span of `key` inside the (dotted) `section`, as the parser read it.
    fn key_span(&self, section: &str, index: Option<usize>, key: &str) -> Option<Range<usize>> {
        let mut table = self.doc;
        for part in section.split('.') {
            table = match table.get(part)?.get_ref() {
                DeValue::Table(t) => t,
                DeValue::Array(items) => match items.get(index?)?.get_ref() {
                    DeValue::Table(t) => t,
                    _ => return None,
                },
                _ => return None,
            };
        }
        table.get_key_value(key).map(|(k, _)| k.span())
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}
