//! The report archive: one folder per period (`reports/weekly/2026-W47/`),
//! written to a temporary folder and renamed into place so a crash never
//! leaves half a report, and the index pages listing every period.
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::files;
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

/// Longest segment folder name kept as it is; a longer one is cut and
/// given a hash of the full value (file systems refuse names over 255 bytes).
const SLUG_MAX: usize = 60;
/// Bytes of the readable part of a shortened name (then `-` and 8 hex digits).
const SLUG_KEEP: usize = 50;

/// A safe folder name for a segment: `region=EMEA` → `region-emea`; no
/// separators, no `..`, unicode letters kept readable, at most 60 bytes (a
/// longer value keeps its first 50 bytes and gets `-` and a short hash of
/// the full value, so two long values that start alike stay apart).
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
        return "segment".into();
    }
    if slug.len() <= SLUG_MAX {
        return slug;
    }
    let mut cut = SLUG_KEEP;
    while !slug.is_char_boundary(cut) {
        cut -= 1;
    }
    let hash = hex::encode(Sha256::digest(segment.as_bytes()));
    format!("{}-{}", slug[..cut].trim_end_matches('-'), &hash[..8])
}

/// The mode of archive pages: 0644, or 0600 with `[report] private = true`.
pub fn page_mode(private: bool) -> u32 {
    if private {
        files::PRIVATE
    } else {
        files::PUBLIC
    }
}

/// Writes a period folder atomically: every file into a temporary sibling,
/// then one rename. A previous version is replaced; other periods are untouched.
/// Files get `mode` (see [`page_mode`]).
pub fn write_period(
    out_dir: &Path,
    period: Period,
    files: &[(PathBuf, Vec<u8>)],
    mode: u32,
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
            files::write(&path, bytes, mode)
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

/// Replaces one file atomically (temporary file `.<name>.tmp-<pid>`, then
/// rename), with `mode`.
pub fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    files::write(&tmp, bytes, mode).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Whether process `pid` is running (Linux: /proc; elsewhere assumed gone,
/// which is right under the run lock: no other run writes the archive).
fn alive(pid: u32) -> bool {
    pid != std::process::id()
        && cfg!(target_os = "linux")
        && Path::new(&format!("/proc/{pid}")).exists()
}

/// The pid at the end of a leftover's name (`.tmp-2026-W47-1234`,
/// `.index.html.tmp-1234`).
fn leftover_pid(name: &str) -> Option<u32> {
    if !name.starts_with('.') {
        return None;
    }
    let (head, pid) = name.rsplit_once('-')?;
    let pid: u32 = pid.parse().ok()?;
    (head.starts_with(".tmp-") || head.starts_with(".old-") || head.ends_with(".tmp"))
        .then_some(pid)
}

/// Removes what runs that died (SIGKILL, power loss) left in the archive:
/// `.tmp-<period>-<pid>` and `.old-<period>-<pid>` folders and
/// `.<file>.tmp-<pid>` files whose process is gone. A run killed between
/// its two renames leaves the previous version as `.old-…` and no period
/// folder: that version is put back. Returns what was cleaned, for the log.
pub fn clean_leftovers(out_dir: &Path) -> Result<Vec<PathBuf>> {
    let mut cleaned = Vec::new();
    let mut dirs = vec![out_dir.to_path_buf()];
    for cadence in ["weekly", "monthly", "quarterly"] {
        let dir = out_dir.join(cadence);
        if let Ok(entries) = std::fs::read_dir(&dir) {
            dirs.push(dir.clone());
            dirs.extend(
                entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.is_dir() && !hidden(p)),
            );
        }
    }
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut found: Vec<(PathBuf, String)> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let pid = leftover_pid(&name)?;
                (!alive(pid)).then(|| (e.path(), name))
            })
            .collect();
        // `.old-` first, so that a version to put back is put back before
        // its `.tmp-` twin goes.
        found.sort_by_key(|(_, name)| !name.starts_with(".old-"));
        for (path, name) in found {
            if let Some(rest) = name.strip_prefix(".old-") {
                let id = rest.rsplit_once('-').map(|(id, _)| id).unwrap_or(rest);
                let target = dir.join(id);
                if !target.exists() && Period::parse(id).is_ok() {
                    std::fs::rename(&path, &target).with_context(|| {
                        format!(
                            "cannot restore {} from {}",
                            target.display(),
                            path.display()
                        )
                    })?;
                    cleaned.push(path);
                    continue;
                }
            }
            let removed = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            removed.with_context(|| {
                format!(
                    "cannot remove the leftover {} of a run that died",
                    path.display()
                )
            })?;
            cleaned.push(path);
        }
    }
    Ok(cleaned)
}

fn hidden(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

/// Every archived period (all cadences), newest first.
pub fn list(out_dir: &Path) -> Result<Vec<PeriodSummary>> {
    let mut out = Vec::new();
    for cadence in ["weekly", "monthly", "quarterly"] {
        let dir = out_dir.join(cadence);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        // `.tmp-…` / `.old-…` folders of a run in progress or dead are not periods.
        for e in entries.flatten().filter(|e| !hidden(&e.path())) {
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
pub fn link_neighbours(out_dir: &Path, list: &[PeriodSummary], mode: u32) -> Result<()> {
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
            write_file(&path, updated.as_bytes(), mode)?;
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
                page_mode(false),
            )
            .unwrap();
        }
        link_neighbours(dir.path(), &list, page_mode(false)).unwrap();
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
        link_neighbours(dir.path(), &list, page_mode(false)).unwrap();
        assert_eq!(read("2026-W47"), w47);
    }

    #[test]
    fn long_slugs_are_bounded_and_distinct() {
        let a = format!("region={}", "x".repeat(300));
        let b = format!("region={}y", "x".repeat(300));
        let (sa, sb) = (segment_slug(&a), segment_slug(&b));
        assert!(sa.len() < 100 && sb.len() < 100, "{sa}");
        assert_ne!(sa, sb);
        assert!(sa.starts_with("region-xxx"), "{sa}");
        assert_eq!(segment_slug(&a), sa, "stable");
        // A cut never splits a character.
        let c = format!("region={}", "é".repeat(200));
        assert!(segment_slug(&c).len() <= SLUG_MAX);
        assert_eq!(segment_slug(&"x".repeat(60)), "x".repeat(60));
    }

    #[test]
    fn leftovers_of_dead_runs_go_and_an_interrupted_swap_is_undone() {
        let dir = tempfile::tempdir().unwrap();
        let weekly = dir.path().join("weekly");
        let dead = 999_999_999u32; // above any pid_max
        for name in [
            format!(".tmp-2026-W46-{dead}"),
            format!(".old-2026-W47-{dead}"),
            format!(".tmp-2026-W47-{dead}"),
            "2026-W45".to_string(),
        ] {
            std::fs::create_dir_all(weekly.join(&name)).unwrap();
            std::fs::write(weekly.join(&name).join("summary.json"), &name).unwrap();
        }
        std::fs::write(dir.path().join(format!(".index.html.tmp-{dead}")), "x").unwrap();
        let cleaned = clean_leftovers(dir.path()).unwrap();
        assert_eq!(cleaned.len(), 4, "{cleaned:?}");
        let mut left: Vec<String> = std::fs::read_dir(&weekly)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["2026-W45", "2026-W47"]);
        // W47 is the previous version, put back.
        assert_eq!(
            std::fs::read_to_string(weekly.join("2026-W47/summary.json")).unwrap(),
            format!(".old-2026-W47-{dead}")
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
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
            files::PUBLIC,
        )
        .unwrap();
        write_period(
            dir.path(),
            p,
            &[("a.txt".into(), b"3".to_vec())],
            files::PUBLIC,
        )
        .unwrap();
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
