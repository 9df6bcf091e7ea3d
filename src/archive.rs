//! The report archive: one folder per period (`reports/weekly/2026-W47/`),
//! written to a temporary folder and renamed into place so a crash never
//! leaves half a report, and the index pages listing every period.
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::period::Period;

/// Headline figures of an archived period, kept beside its report for the index.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeriodSummary {
    pub id: String,
    pub cadence: String,
    pub start: String,
    /// (KPI title, formatted value), in headline order.
    pub headline: Vec<(String, String)>,
}

pub fn period_dir(out_dir: &Path, period: Period) -> PathBuf {
    out_dir.join(period.cadence.as_str()).join(period.id())
}

/// A safe folder name for a segment: `region=EMEA` → `region-emea`; no
/// separators, no `..`, unicode letters kept readable.
pub fn segment_slug(segment: &str) -> String {
    let mut out = String::new();
    for c in segment.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let slug = out.trim_matches('-').to_string();
    if slug.is_empty() {
        "segment".into()
    } else {
        slug
    }
}

/// Writes a period folder atomically: every file into a temporary sibling,
/// then one rename. A previous version is replaced; other periods are untouched.
pub fn write_period(
    out_dir: &Path,
    period: Period,
    files: &[(PathBuf, Vec<u8>)],
) -> Result<PathBuf> {
    let target = period_dir(out_dir, period);
    let parent = target.parent().expect("period folder has a parent");
    std::fs::create_dir_all(parent)
        .with_context(|| format!("cannot create the archive folder {}", parent.display()))?;
    let tmp = parent.join(format!(".tmp-{}-{}", period.id(), std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    let result = (|| -> Result<()> {
        for (rel, bytes) in files {
            let path = tmp.join(rel);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&path, bytes)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    if target.exists() {
        let old = parent.join(format!(".old-{}-{}", period.id(), std::process::id()));
        std::fs::rename(&target, &old)?;
        std::fs::rename(&tmp, &target)
            .with_context(|| format!("cannot move the report into {}", target.display()))?;
        std::fs::remove_dir_all(&old)?;
    } else {
        std::fs::rename(&tmp, &target)
            .with_context(|| format!("cannot move the report into {}", target.display()))?;
    }
    Ok(target)
}

/// Replaces one file atomically (temporary file, then rename).
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Every archived period (all cadences), newest first.
pub fn list(out_dir: &Path) -> Result<Vec<PeriodSummary>> {
    let mut out = Vec::new();
    for cadence in ["weekly", "monthly", "quarterly"] {
        let dir = out_dir.join(cadence);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path().join("summary.json");
            if let Ok(text) = std::fs::read_to_string(&path) {
                if let Ok(s) = serde_json::from_str::<PeriodSummary>(&text) {
                    out.push(s);
                }
            }
        }
    }
    out.sort_by(|a, b| {
        b.start
            .cmp(&a.start)
            .then_with(|| a.cadence.cmp(&b.cadence))
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_safe() {
        assert_eq!(segment_slug("region=EMEA"), "region-emea");
        assert_eq!(segment_slug("region=../etc"), "region-etc");
        assert_eq!(segment_slug("../.."), "segment");
        assert_eq!(segment_slug("region=Île-de-France"), "region-île-de-france");
        assert_eq!(segment_slug("plan=a/b\\c"), "plan-a-b-c");
    }

    #[test]
    fn period_folder_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = Period::parse("2026-W47").unwrap();
        write_period(
            dir.path(),
            p,
            &[
                ("a.txt".into(), b"1".to_vec()),
                ("sub/b.txt".into(), b"2".to_vec()),
            ],
        )
        .unwrap();
        write_period(dir.path(), p, &[("a.txt".into(), b"3".to_vec())]).unwrap();
        let folder = period_dir(dir.path(), p);
        assert_eq!(std::fs::read(folder.join("a.txt")).unwrap(), b"3");
        assert!(!folder.join("sub/b.txt").exists());
        let leftovers: Vec<_> = std::fs::read_dir(folder.parent().unwrap())
            .unwrap()
            .flatten()
            .collect();
        assert_eq!(leftovers.len(), 1);
    }
}
