//! Stage 4 of a run, **archive**: one folder per period
//! (`reports/weekly/2026-W47/`) holding what render laid out, written to a
//! temporary folder and renamed into place so a crash never leaves half a
//! report; the index pages listing every period; and, after delivery, each
//! period's manifest.json.
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::config::Config;
use crate::files;
use crate::period::Period;
pub use crate::report::layout::{segment_slug, PeriodSummary};
use crate::store::runs::Snapshot;
use crate::store::sends::Fate;

pub fn period_dir(out_dir: &Path, period: Period) -> PathBuf {
    out_dir.join(period.cadence.as_str()).join(period.id())
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
    write_folder(out_dir, period, files, None, mode)
}

/// Stage 4 of a run: the period folder as render laid it out, with its
/// manifest, in place atomically.
pub fn archive_period(
    out_dir: &Path,
    files: &[(PathBuf, Vec<u8>)],
    manifest: &Manifest,
    mode: u32,
) -> Result<PathBuf> {
    let entry = (Path::new("manifest.json"), manifest.text.as_bytes());
    write_folder(out_dir, manifest.period, files, Some(entry), mode)
}

fn write_folder(
    out_dir: &Path,
    period: Period,
    files: &[(PathBuf, Vec<u8>)],
    extra: Option<(&Path, &[u8])>,
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
        let entries = files.iter().map(|(p, b)| (p.as_path(), b.as_slice()));
        for (rel, bytes) in entries.chain(extra) {
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

/// The index pages at the root of the archive.
pub fn write_index(out_dir: &Path, pages: &crate::report::IndexPages, mode: u32) -> Result<()> {
    write_file(&out_dir.join("index.html"), pages.html.as_bytes(), mode)?;
    write_file(&out_dir.join("index.md"), pages.markdown.as_bytes(), mode)
}

/// What `manifest.json` records of a period's report: the program, the
/// configuration, the snapshots it was computed from, and every email of
/// the period in the send ledger (earlier runs included).
pub struct Manifest {
    period: Period,
    text: String,
    has_emails: bool,
}

impl Manifest {
    pub fn new(
        period: Period,
        config: &Config,
        generated_at: &str,
        snapshots: &[Snapshot],
        emails: Vec<Fate>,
        posts: Vec<crate::store::posts::PostFate>,
    ) -> Manifest {
        let snapshots: Vec<_> = snapshots
            .iter()
            .map(|s| {
                serde_json::json!({
                    "file": s.file,
                    "path": s.path,
                    "sha256": s.sha256,
                    "rows": s.rows,
                    "imported_at": s.imported_at,
                })
            })
            .collect();
        let doc = serde_json::json!({
            "schema": "scorecard.manifest/1",
            "program": {"name": "scorecard", "version": env!("CARGO_PKG_VERSION")},
            "period": period.id(),
            "config_hash": config.hash,
            "generated_at": generated_at,
            "snapshots": snapshots,
            "emails": &emails,
            "posts": &posts,
        });
        let mut text = serde_json::to_string_pretty(&doc).expect("plain JSON");
        text.push('\n');
        Manifest {
            period,
            text,
            has_emails: !emails.is_empty() || !posts.is_empty(),
        }
    }
}

/// After delivery: rewrites a period's `manifest.json` (in place, atomically)
/// when the period has emails, so that it records how the run left them.
/// The folder always holds the one written with it, so that a folder in
/// place is whole even if the run dies before delivery ends.
pub fn update_manifest(out_dir: &Path, manifest: &Manifest, mode: u32) -> Result<()> {
    if !manifest.has_emails {
        return Ok(());
    }
    let path = period_dir(out_dir, manifest.period).join("manifest.json");
    write_file(&path, manifest.text.as_bytes(), mode)
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
