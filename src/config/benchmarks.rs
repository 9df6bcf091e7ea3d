//! `[benchmarks]`: the industry figures the scorecard compares against, from
//! the built-in `benchmarks.toml` or the user's file, and the industry row
//! to use. The file is a second TOML document with its own error positions.
use std::path::Path;

use serde::Deserialize;

use super::error::{ConfigError, Source};
use crate::catalogue;

/// The built-in industry benchmarks, used when `[benchmarks] file` is not set.
pub const DEFAULT_BENCHMARKS: &str = include_str!("../../benchmarks.toml");

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawBenchmarks {
    file: Option<String>,
    industry: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Benchmark {
    pub industry: String,
    pub kpi: String,
    pub value: f64,
    pub source: String,
    pub year: i32,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BenchmarkFile {
    #[serde(default)]
    benchmark: Vec<Benchmark>,
}

/// The benchmarks and the chosen industry (checked to have benchmarks).
pub(super) fn check(
    raw: RawBenchmarks,
    base: &Path,
    src: &Source<'_>,
) -> Result<(Vec<Benchmark>, Option<String>), ConfigError> {
    let (text, name) = match &raw.file {
        Some(f) => {
            let p = base.join(f);
            let t = std::fs::read_to_string(&p).map_err(|e| {
                src.invalid(
                    "benchmarks",
                    "file",
                    format!(
                        "cannot read {}: {e} (`scorecard init` writes a default one)",
                        p.display()
                    ),
                )
            })?;
            (t, p.display().to_string())
        }
        None => (
            DEFAULT_BENCHMARKS.to_string(),
            "built-in benchmarks.toml".to_string(),
        ),
    };
    let doc = toml::de::DeTable::parse(&text).map_err(|e| ConfigError::syntax(&name, &text, &e))?;
    super::refuse_non_finite(doc.get_ref(), "", &name, &text)?;
    let file = BenchmarkFile::deserialize(toml::de::Deserializer::from(doc))
        .map_err(|e| ConfigError::syntax(&name, &text, &e))?;
    if let Some(ind) = &raw.industry {
        if !file.benchmark.iter().any(|b| &b.industry == ind) {
            let mut known: Vec<_> = file.benchmark.iter().map(|b| b.industry.as_str()).collect();
            known.dedup();
            return Err(src.invalid(
                "benchmarks",
                "industry",
                format!(
                    "no benchmarks for '{ind}' in {name} (known: {})",
                    known.join(", ")
                ),
            ));
        }
    }
    if let Some(b) = file
        .benchmark
        .iter()
        .find(|b| !catalogue::is_known_static(&b.kpi))
    {
        return Err(ConfigError::UnknownBenchmark {
            file: name,
            kpi: b.kpi.clone(),
        });
    }
    Ok((file.benchmark, raw.industry))
}
