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
    /// The period's last day and its dates in words ("23 Nov 2026 – 29 Nov 2026").
    #[serde(default)]
    pub end: String,
    #[serde(default)]
    pub label: String,
    /// Whole-business KPIs by status.
    #[serde(default)]
    pub on_track: usize,
    #[serde(default)]
    pub at_risk: usize,
    #[serde(default)]
    pub off_track: usize,
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

const NAV_START: &str = "<!--nav:start-->";
const NAV_END: &str = "<!--nav:end-->";

/// The previous / next links of one period page, between its nav markers.
fn nav_links(prev: Option<&PeriodSummary>, next: Option<&PeriodSummary>) -> String {
    let mut out = String::new();
    if let Some(p) = prev {
        out.push_str(&format!(
            "<a rel=\"prev\" href=\"../{0}/scorecard.html\">← {0}</a>",
            p.id
        ));
    }
    if let Some(n) = next {
        out.push_str(&format!(
            "<a rel=\"next\" href=\"../{0}/scorecard.html\">{0} →</a>",
            n.id
        ));
    }
    out
}

/// Links every archived period page to the previous and next archived period
/// of its cadence. A page is rendered before its successor exists, so the
/// links are (re)written here, after each run, between the `<!--nav:start-->`
/// and `<!--nav:end-->` markers of the built-in template; a page without them
/// (a user's template) is left alone, and an unchanged page is not rewritten.
pub fn link_neighbours(out_dir: &Path, list: &[PeriodSummary]) -> Result<()> {
    for cadence in ["weekly", "monthly", "quarterly"] {
        let mut mine: Vec<&PeriodSummary> = list.iter().filter(|s| s.cadence == cadence).collect();
        mine.sort_by(|a, b| a.start.cmp(&b.start));
        for (i, s) in mine.iter().enumerate() {
            let path = out_dir.join(cadence).join(&s.id).join("scorecard.html");
            let Ok(page) = std::fs::read_to_string(&path) else {
                continue;
            };
            let (Some(a), Some(b)) = (page.find(NAV_START), page.find(NAV_END)) else {
                continue;
            };
            if b < a {
                continue;
            }
            let links = nav_links(i.checked_sub(1).map(|k| mine[k]), mine.get(i + 1).copied());
            if page[a + NAV_START.len()..b] == links {
                continue;
            }
            let updated = format!("{}{NAV_START}{links}{}", &page[..a], &page[b..]);
            write_file(&path, updated.as_bytes())?;
        }
    }
    Ok(())
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
    fn period_pages_link_to_their_neighbours() {
        let dir = tempfile::tempdir().unwrap();
        let summary = |id: &str, start: &str| PeriodSummary {
            id: id.into(),
            cadence: "weekly".into(),
            start: start.into(),
            headline: Vec::new(),
            end: String::new(),
            label: String::new(),
            on_track: 0,
            at_risk: 0,
            off_track: 0,
        };
        let list = [
            summary("2026-W48", "2026-11-23"),
            summary("2026-W46", "2026-11-09"),
            summary("2026-W47", "2026-11-16"),
        ];
        for s in &list {
            let p = Period::parse(&s.id).unwrap();
            let page = format!("<nav>{NAV_START}{NAV_END}</nav>{}", s.id);
            write_period(
                dir.path(),
                p,
                &[("scorecard.html".into(), page.into_bytes())],
            )
            .unwrap();
        }
        link_neighbours(dir.path(), &list).unwrap();
        let read = |id: &str| {
            std::fs::read_to_string(dir.path().join("weekly").join(id).join("scorecard.html"))
                .unwrap()
        };
        let w47 = read("2026-W47");
        assert!(
            w47.contains("href=\"../2026-W46/scorecard.html\">← 2026-W46<"),
            "{w47}"
        );
        assert!(
            w47.contains("href=\"../2026-W48/scorecard.html\">2026-W48 →<"),
            "{w47}"
        );
        assert!(!read("2026-W46").contains("rel=\"prev\""));
        assert!(!read("2026-W48").contains("rel=\"next\""));
        // Run again: nothing changes.
        link_neighbours(dir.path(), &list).unwrap();
        assert_eq!(read("2026-W47"), w47);
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
