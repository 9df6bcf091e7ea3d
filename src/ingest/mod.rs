//! `scorecard import`: streams snapshot CSV files into the store in one
//! transaction. All or nothing: every problem is collected as
//! `file:line:column: reason` and the store is left exactly as it was, unless
//! `--skip-invalid` asks to keep the valid rows (the rejected ones then go to a
//! rejects CSV next to the store). Rows are upserted by id; a file whose exact
//! content was imported before is skipped; the KPI cache loses only the periods
//! the changed rows touch.
pub mod read;
pub mod rows;
pub mod schema;
/// The cell parsers belong to the file descriptions (`sources`).
pub use crate::sources::values;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::error::Failure;
use crate::sources::Field;
use crate::store::import::{Counts, ImportTx, Writer};
use crate::store::tables::KeyLookup;
use crate::store::{as_of_key, Store};
use rows::Layout;
use schema::FileKind;

/// Problems listed in the error message before "and N more".
const SHOWN_PROBLEMS: usize = 50;

#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    pub skip_invalid: bool,
    pub progress: bool,
    /// `--as-of`: the instant the imported files' data is known up to.
    pub as_of: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default)]
pub struct FileSummary {
    pub file: String,
    pub path: PathBuf,
    pub rows_read: u64,
    pub inserted: u64,
    pub replaced: u64,
    pub unchanged: u64,
    pub rejected: u64,
    /// The same content was imported before: nothing was read.
    pub already_imported: Option<String>,
    /// Rows that are not data and were skipped: extra header rows, footers.
    pub skipped: u64,
    /// How the file was read, when not plain UTF-8 and commas.
    pub format: Option<String>,
    /// Rows left out by the mapping's filters, and the columns filtered on.
    pub filtered: u64,
    pub filter_columns: BTreeSet<String>,
    /// Deals: (read as, stage as written) → rows.
    pub stages: BTreeMap<(&'static str, String), u64>,
    /// Open deals whose close date was ignored.
    pub close_dates_ignored: u64,
    /// Closed deals created after their close date.
    pub closed_before_created: u64,
    /// Orders: refunds written as negative orders.
    pub refunds: u64,
    /// Customers: rows merged into an earlier row of the same customer.
    pub merged: u64,
}

impl FileSummary {
    /// `stages read as won: Closed: won (10); lost: Closed: lost (22);
    /// open: 6 stages (55)`: what the import made of the file's stages.
    fn stage_line(&self) -> Option<String> {
        if self.stages.is_empty() {
            return None;
        }
        let mut parts = Vec::new();
        for class in ["won", "lost", "open"] {
            let of: Vec<(&String, u64)> = self
                .stages
                .iter()
                .filter(|((c, _), _)| *c == class)
                .map(|((_, raw), n)| (raw, *n))
                .collect();
            if of.is_empty() {
                continue;
            }
            let text = if of.len() <= 3 {
                of.iter()
                    .map(|(raw, n)| format!("{raw} ({n})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            } else {
                format!(
                    "{} stages ({})",
                    of.len(),
                    of.iter().map(|(_, n)| n).sum::<u64>()
                )
            };
            parts.push(format!("{class}: {text}"));
        }
        Some(format!("stages read as {}", parts.join("; ")))
    }

    fn counts(&self) -> Counts {
        Counts {
            rows_read: self.rows_read,
            inserted: self.inserted,
            replaced: self.replaced,
            unchanged: self.unchanged,
            rejected: self.rejected,
        }
    }

    /// The summary as `--log-format json` prints it: the counts of
    /// [`FileSummary::line`] as fields (cli-and-outputs.md "import").
    pub fn json(&self) -> serde_json::Value {
        let mut stages = serde_json::Map::new();
        for class in ["won", "lost", "open"] {
            let of: serde_json::Map<String, serde_json::Value> = self
                .stages
                .iter()
                .filter(|((c, _), _)| *c == class)
                .map(|((_, raw), n)| (raw.clone(), (*n).into()))
                .collect();
            if !of.is_empty() {
                stages.insert(class.into(), of.into());
            }
        }
        serde_json::json!({
            "file": self.file,
            "rows": self.rows_read,
            "inserted": self.inserted,
            "replaced": self.replaced,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "already_imported": self.already_imported.is_some(),
            "skipped": self.skipped,
            "filtered": self.filtered,
            "filter_columns": self.filter_columns,
            "stages": stages,
            "close_dates_ignored": self.close_dates_ignored,
            "closed_before_created": self.closed_before_created,
            "refunds": self.refunds,
            "merged": self.merged,
            "format": self.format,
        })
    }

    pub fn line(&self) -> String {
        match &self.already_imported {
            Some(when) => format!(
                "{}: unchanged, this exact file was imported on {when}",
                self.file
            ),
            None => {
                let mut s = format!(
                    "{}: {} rows: {} inserted, {} replaced, {} unchanged",
                    self.file, self.rows_read, self.inserted, self.replaced, self.unchanged
                );
                if self.rejected > 0 {
                    s.push_str(&format!(", {} rejected", self.rejected));
                }
                if self.skipped > 0 {
                    s.push_str(&format!(
                        "; {} non-data row{} skipped (extra header rows, footers)",
                        self.skipped,
                        if self.skipped == 1 { "" } else { "s" }
                    ));
                }
                if self.filtered > 0 {
                    let cols: Vec<&str> = self.filter_columns.iter().map(String::as_str).collect();
                    s.push_str(&format!(
                        "; {} left out by filters on {}",
                        self.filtered,
                        cols.join(", ")
                    ));
                }
                if let Some(stages) = self.stage_line() {
                    s.push_str(&format!("; {stages}"));
                }
                if self.close_dates_ignored > 0 {
                    s.push_str(&format!(
                        "; {} open deal{} had a close date, ignored",
                        self.close_dates_ignored,
                        if self.close_dates_ignored == 1 {
                            ""
                        } else {
                            "s"
                        }
                    ));
                }
                if self.closed_before_created > 0 {
                    s.push_str(&format!(
                        "; {} closed deal{} created after {} close date, counted by the close date and left out of sales_cycle_days",
                        self.closed_before_created,
                        if self.closed_before_created == 1 { " was" } else { "s were" },
                        if self.closed_before_created == 1 { "its" } else { "their" }
                    ));
                }
                if self.refunds > 0 {
                    s.push_str(&format!(
                        "; {} refund{} written as negative orders",
                        self.refunds,
                        if self.refunds == 1 { "" } else { "s" }
                    ));
                }
                if self.merged > 0 {
                    s.push_str(&format!(
                        "; {} rows merged into their customer's (earliest start, latest end)",
                        self.merged
                    ));
                }
                if let Some(f) = &self.format {
                    s.push_str(&format!("; {f}"));
                }
                s
            }
        }
    }
}

#[derive(Debug, Default)]
pub struct ImportReport {
    pub files: Vec<FileSummary>,
    pub rejects_path: Option<PathBuf>,
    pub warnings: Vec<String>,
}

impl ImportReport {
    pub fn rejected(&self) -> u64 {
        self.files.iter().map(|f| f.rejected).sum()
    }
}

/// One snapshot file to read.
#[derive(Debug, Clone)]
struct Input {
    kind: FileKind,
    path: PathBuf,
    name: String,
    /// Where it came from, for the ledger: the path, or `archive.zip/name`.
    origin: String,
}

/// Folders unpacked from `.zip` archives; removed when the import ends,
/// whatever its outcome.
struct Unpacked(Vec<(PathBuf, PathBuf)>);

impl Drop for Unpacked {
    fn drop(&mut self) {
        for (dir, _) in &self.0 {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl Unpacked {
    /// The archive a path was unpacked from, and the entry's name.
    fn origin(&self, path: &Path) -> String {
        for (dir, archive) in &self.0 {
            if let Ok(rest) = path.strip_prefix(dir) {
                return format!("{}/{}", archive.display(), rest.display());
            }
        }
        path.display().to_string()
    }
}

/// The largest uncompressed archive read (a zip bomb is refused).
const ZIP_LIMIT: u64 = 16 << 30;

/// A `.zip` of CSV files is read as a folder: its `.csv` entries (by file
/// name, whatever folder they sit in inside the archive) are unpacked into a
/// temporary folder.
fn unpack_zip(archive: &Path, unpacked: &mut Unpacked) -> Result<PathBuf, Failure> {
    let shown = archive.display();
    let bad = |e: &dyn std::fmt::Display| {
        Failure::input(format!(
            "{shown}: cannot read the zip archive: {e} (is it a complete .zip file?)"
        ))
    };
    let file =
        File::open(archive).map_err(|e| Failure::input(format!("{shown}: cannot open: {e}")))?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|e| bad(&e))?;
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "scorecard-unzip-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir)
        .map_err(|e| Failure::runtime(format!("cannot create {}: {e}", dir.display())))?;
    unpacked.0.push((dir.clone(), archive.to_path_buf()));
    let mut total = 0u64;
    let mut seen = BTreeSet::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| bad(&e))?;
        if entry.is_dir() {
            continue;
        }
        // Only the file name: nothing is written outside the folder.
        let Some(name) = Path::new(entry.name())
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
        else {
            continue;
        };
        if !name.to_ascii_lowercase().ends_with(".csv") || name.starts_with("._") {
            continue;
        }
        if !seen.insert(name.to_lowercase()) {
            return Err(Failure::input(format!(
                "{shown}: two entries are named {name} (unpack it and import the folders one by one)"
            )));
        }
        total += entry.size();
        if total > ZIP_LIMIT {
            return Err(Failure::input(format!(
                "{shown}: the archive unpacks to more than {} GiB (unpack it and import the folder)",
                ZIP_LIMIT >> 30
            )));
        }
        let target = dir.join(&name);
        let mut out = File::create(&target)
            .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", target.display())))?;
        std::io::copy(&mut std::io::Read::take(&mut entry, ZIP_LIMIT), &mut out)
            .map_err(|e| bad(&e))?;
    }
    Ok(dir)
}

pub fn import(
    store: &mut Store,
    config: &Config,
    paths: &[PathBuf],
    opts: &ImportOptions,
    now: DateTime<Utc>,
) -> Result<ImportReport> {
    let mut report = ImportReport::default();
    let mut unpacked = Unpacked(Vec::new());
    let mut expanded = Vec::with_capacity(paths.len());
    for path in paths {
        let is_zip = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
            && path.is_file();
        if is_zip {
            expanded.push(unpack_zip(path, &mut unpacked)?);
        } else {
            expanded.push(path.clone());
        }
    }
    let mut inputs = discover(&expanded, config, &mut report.warnings)?;
    for input in &mut inputs {
        input.origin = unpacked.origin(&input.path);
    }
    let todo = not_imported_yet(store, inputs, &mut report.files)?;
    if todo.is_empty() {
        ensure_timezone(store, config)?;
        return Ok(report);
    }

    let mut problems = Problems::new(opts.skip_invalid, rejects_path(&store.path, now));
    let tx = store.begin_import()?;
    let mut touched = Touched::new(tx.cache_in_use());
    let imported_at = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    for (input, scanned) in &todo {
        let path = input.origin.clone();
        let snapshot_id =
            tx.add_snapshot(input.kind.key(), &path, &scanned.sha256, &imported_at)?;
        let summary = import_file(
            &tx,
            config,
            input,
            scanned,
            snapshot_id,
            opts,
            &mut problems,
            &mut touched,
        )?;
        tx.finish_snapshot(snapshot_id, summary.counts())?;
        report.files.push(summary);
    }

    if !problems.file_level.is_empty() || (problems.total > 0 && !opts.skip_invalid) {
        drop(tx); // rolls back: the store is left exactly as it was
        return Err(Failure::input(problems.message()).into());
    }
    // In the same transaction: a killed import records no as-of either.
    let kinds: BTreeSet<FileKind> = todo.iter().map(|(i, _)| i.kind).collect();
    for kind in kinds {
        record_as_of(&tx, config, kind, opts.as_of)?;
    }
    let read_now = &report.files[report.files.len() - todo.len()..];
    record_close_dates_ignored(&tx, &todo, read_now)?;
    tx.record_first_timezone(config.report.timezone.name())?;
    tx.invalidate(&touched.days, touched.customers_from)?;
    if todo.iter().any(|(i, _)| i.kind == FileKind::Customers) {
        tx.refresh_customer_segments(&crate::store::pg_segments::configured(config))?;
    }
    report.rejects_path = problems.finish()?;
    tx.commit().context("cannot commit the import")?;
    // Only after a successful import: a refused one leaves the store as it
    // was. Rows imported under an earlier time zone get their days again.
    ensure_timezone(store, config)?;
    Ok(report)
}

/// The inputs not identical to the latest import of their snapshot file,
/// with their scan (hashed first: A, B, then A again imports A again); the
/// others are summarised in `files` as already imported.
fn not_imported_yet(
    store: &Store,
    inputs: Vec<Input>,
    files: &mut Vec<FileSummary>,
) -> Result<Vec<(Input, read::Scan)>> {
    let mut todo = Vec::new();
    let scans = scan_all(&inputs);
    for (input, scanned) in inputs.into_iter().zip(scans) {
        let scanned = scanned
            .map_err(|e| Failure::input(format!("{}: cannot read: {e}", input.path.display())))?;
        match store.imported_before(input.kind.key(), &scanned.sha256)? {
            Some(when) => files.push(FileSummary {
                file: input.name.clone(),
                path: input.path.clone(),
                already_imported: Some(when),
                ..Default::default()
            }),
            _ => todo.push((input, scanned)),
        }
    }
    Ok(todo)
}

/// The inputs' scans (hash and UTF-8 check), in their order, two files at
/// a time: the whole bytes of every file are read before the import starts.
fn scan_all(inputs: &[Input]) -> Vec<std::io::Result<read::Scan>> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let scan_some = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(input) = inputs.get(i) else {
                return done;
            };
            done.push((i, read::scan(&input.path)));
        }
    };
    let mut scans: Vec<_> = std::thread::scope(|scope| {
        let other = scope.spawn(scan_some);
        let mut mine = scan_some();
        // A panic in the other thread is one here too.
        mine.extend(
            other
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e)),
        );
        mine
    });
    scans.sort_by_key(|(i, _)| *i);
    scans.into_iter().map(|(_, s)| s).collect()
}

/// Open deals whose close date this import ignored (`read_now`: the
/// summaries of `todo`, in order): the data-quality section reads it back
/// (kpis.md "Data quality"). Nothing is recorded without a deals file.
fn record_close_dates_ignored(
    tx: &ImportTx,
    todo: &[(Input, read::Scan)],
    read_now: &[FileSummary],
) -> Result<()> {
    if !todo.iter().any(|(i, _)| i.kind == FileKind::Deals) {
        return Ok(());
    }
    let ignored: u64 = todo
        .iter()
        .zip(read_now)
        .filter(|((i, _), _)| i.kind == FileKind::Deals)
        .map(|(_, f)| f.close_dates_ignored)
        .sum();
    tx.set_meta(crate::store::CLOSE_DATES_IGNORED_KEY, &ignored.to_string())
}

/// Records the instant a file's data is known up to (kpis.md "Data as of"):
/// `--as-of` when given, else the latest instant in its table (tickets: the
/// latest of opened, first response and resolved), else the end of its
/// latest date in the report time zone. Undated files record none.
fn record_as_of(
    tx: &ImportTx,
    config: &Config,
    kind: FileKind,
    given: Option<DateTime<Utc>>,
) -> Result<()> {
    let instant = match given {
        Some(t) => Some(t),
        None => kind.latest_instant(|t, c| tx.latest_values(t, c), config.report.timezone)?,
    };
    if let Some(t) = instant {
        tx.set_meta(
            &as_of_key(kind),
            &t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        )?;
    }
    Ok(())
}

/// Finds the snapshot files in the given folders (or single files).
fn discover(
    paths: &[PathBuf],
    config: &Config,
    warnings: &mut Vec<String>,
) -> Result<Vec<Input>, Failure> {
    let names = FileNames { config };
    let mut inputs = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| {
            Failure::input(format!(
                "{}: cannot read: {e} (check the path and its permissions)",
                path.display()
            ))
        })?;
        if meta.is_dir() {
            inputs.extend(folder_inputs(path, &names, warnings)?);
        } else {
            inputs.extend(file_inputs(path, &names)?);
        }
    }
    // Customers first (segments), then the rest; folders in the order given.
    inputs.sort_by_key(|i| i.kind);
    Ok(inputs)
}

/// The snapshot files' names as the configuration says them (globs).
struct FileNames<'c> {
    config: &'c Config,
}

impl FileNames<'_> {
    fn expected(&self, kind: FileKind) -> String {
        self.config
            .import
            .get(&kind)
            .and_then(|m| m.file.clone())
            .unwrap_or_else(|| kind.default_file_name())
    }

    /// Every snapshot file whose name (or glob) matches: one export may feed
    /// several (Zendesk tickets → tickets and CSAT surveys).
    fn kinds_of(&self, name: &str) -> Vec<FileKind> {
        FileKind::ALL
            .into_iter()
            .filter(|k| glob_match(&self.expected(*k), name))
            .collect()
    }

    fn all(&self) -> String {
        FileKind::ALL.map(|k| self.expected(k)).join(", ")
    }
}

/// The snapshot files in a folder; the other CSV and zip files there are
/// warned about (with the preset their header looks like).
fn folder_inputs(
    path: &Path,
    names: &FileNames,
    warnings: &mut Vec<String>,
) -> Result<Vec<Input>, Failure> {
    let entries = std::fs::read_dir(path).map_err(|e| {
        Failure::input(format!(
            "{}: cannot read the folder: {e} (check its permissions)",
            path.display()
        ))
    })?;
    let mut found = Vec::new();
    // Known exports among the ignored files: said again if nothing
    // else is found (the warnings of a refused import are not shown).
    let mut hints = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| {
            Failure::input(format!("{}: cannot list the folder: {e}", path.display()))
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let kinds = names.kinds_of(&name);
        if kinds.is_empty() && name.to_ascii_lowercase().ends_with(".zip") {
            warnings.push(format!(
                "{}: ignored, a zip archive inside a folder (import the archive itself: scorecard import {})",
                entry.path().display(),
                entry.path().display()
            ));
        }
        if kinds.is_empty() && name.to_ascii_lowercase().ends_with(".csv") {
            let mut w = format!(
                "{}: ignored, not a snapshot file (expected: {})",
                entry.path().display(),
                names.all()
            );
            if let Some(hint) = preset_hint(&entry.path()) {
                w.push_str(&format!("; {hint}"));
                hints.push(format!("{name}: {hint}"));
            }
            warnings.push(w);
        }
        for kind in kinds {
            found.push(Input {
                kind,
                path: entry.path(),
                name: name.clone(),
                origin: String::new(),
            });
        }
    }
    if found.is_empty() {
        let mut msg = format!(
            "{}: no snapshot files in this folder (expected any of: {}; map other names with [import.<file>] file)",
            path.display(),
            names.all()
        );
        hints.sort();
        for h in hints.iter().take(3) {
            msg.push_str(&format!("; {h}"));
        }
        return Err(Failure::input(msg));
    }
    Ok(found)
}

/// A file named on the command line: the snapshot files its name matches,
/// or an error (with the preset its header looks like).
fn file_inputs(path: &Path, names: &FileNames) -> Result<Vec<Input>, Failure> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let kinds = names.kinds_of(&name);
    if kinds.is_empty() {
        let mut msg = format!(
            "{}: not a snapshot file name (expected one of: {}; map other names with [import.<file>] file)",
            path.display(),
            names.all()
        );
        if let Some(hint) = preset_hint(path) {
            msg.push_str(&format!("; {hint}"));
        }
        return Err(Failure::input(msg));
    }
    Ok(kinds
        .into_iter()
        .map(|kind| Input {
            kind,
            path: path.to_path_buf(),
            name: name.clone(),
            origin: String::new(),
        })
        .collect())
}

/// `*` (any run of characters) and `?` (one character), case-insensitive; a
/// name without either must match exactly (in any case).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    // `a*.csv|b*.csv`: either (a preset's layouts, each with its own names).
    if pattern.contains('|') {
        return pattern.split('|').any(|p| glob_match(p, name));
    }
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let n: Vec<char> = name.to_lowercase().chars().collect();
    // Iterative wildcard matching with backtracking to the last `*`.
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    while i < p.len() && p[i] == '*' {
        i += 1;
    }
    i == p.len()
}

/// "looks like a HubSpot deals export: add …" for a CSV file that matched no
/// snapshot file name, from its header.
fn preset_hint(path: &Path) -> Option<String> {
    let scanned = read::scan(path).ok()?;
    let format = read::decide(&scanned, None, None).ok()?;
    let mut source = read::Source::open(path, format).ok()?;
    let mut record = csv::ByteRecord::new();
    source.next(&mut record).ok()??;
    let header: Vec<String> = record
        .iter()
        .map(|f| {
            String::from_utf8_lossy(f)
                .trim_start_matches('\u{feff}')
                .trim()
                .to_lowercase()
        })
        .collect();
    let (name, title, kind) = crate::config::presets::recognise_any(&header)?;
    let file = path.file_name()?.to_string_lossy();
    let found =
        crate::config::presets::find(name).is_some_and(|p| p.finds(kind.key(), &file, glob_match));
    Some(if found {
        // The preset's own names find it (Salesforce's report<ms>.csv).
        format!("it looks like a {title} {kind} export: add [import.{kind}] preset = \"{name}\" to the config")
    } else {
        format!(
            "it looks like a {title} {kind} export: add [import.{kind}] preset = \"{name}\" and file = \"{file}\" to the config"
        )
    })
}

fn rejects_path(store: &Path, now: DateTime<Utc>) -> PathBuf {
    let stem = store
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scorecard".into());
    let name = format!("{stem}-rejects-{}.csv", now.format("%Y%m%dT%H%M%SZ"));
    store
        .parent()
        .map(|p| p.join(&name))
        .unwrap_or_else(|| PathBuf::from(name))
}

/// The report time zone turns local timestamps into dates. If it changed since
/// the last import, the tickets' local days are derived again and the cache dropped.
pub fn ensure_timezone(store: &mut Store, config: &Config) -> Result<()> {
    let tz = config.report.timezone;
    let stored = store.meta("timezone")?;
    if stored.as_deref() == Some(tz.name()) {
        return Ok(());
    }
    store.set_timezone(tz.name(), stored.is_some(), |at| {
        let instant = DateTime::from_timestamp_millis(at).unwrap_or_default();
        crate::period::day_number(crate::period::local_date(instant, tz))
    })
}

/// Rejected cells: the first ones for the message, all of them (by row) in
/// the rejects file with `--skip-invalid`.
struct Problems {
    skip_invalid: bool,
    /// Problems of a whole file (it cannot be read, its header does not
    /// fit): never skipped, whatever `--skip-invalid` says.
    file_level: Vec<String>,
    shown: Vec<String>,
    total: usize,
    /// The problems past the shown ones, counted by file and field.
    more: BTreeMap<String, usize>,
    rejects_path: PathBuf,
    rejects: Option<csv::Writer<File>>,
}

impl Problems {
    fn new(skip_invalid: bool, rejects_path: PathBuf) -> Self {
        Problems {
            skip_invalid,
            file_level: Vec::new(),
            shown: Vec::new(),
            total: 0,
            more: BTreeMap::new(),
            rejects_path,
            rejects: None,
        }
    }

    fn add(&mut self, file: &str, line: u64, column: Option<usize>, reason: &str) {
        self.total += 1;
        if self.shown.len() < SHOWN_PROBLEMS {
            let at = match column {
                Some(c) => format!("{file}:{line}:{c}"),
                None => format!("{file}:{line}"),
            };
            self.shown.push(format!("{at}: {reason}"));
        } else {
            // Reasons read "field: detail"; the rest is summarised by field.
            let field = reason
                .split_once(':')
                .map(|(f, _)| f)
                .filter(|f| !f.contains(' '))
                .unwrap_or("row");
            *self.more.entry(format!("{file} {field}")).or_default() += 1;
        }
    }

    /// A problem with the whole file: the import stops, with or without
    /// `--skip-invalid`, and nothing is recorded.
    fn add_file(&mut self, file: &str, line: u64, reason: &str) {
        self.total += 1;
        let msg = format!("{file}:{line}: {reason}");
        self.file_level.push(msg.clone());
        self.shown.insert(self.file_level.len() - 1, msg);
        self.shown.truncate(SHOWN_PROBLEMS);
    }

    /// A rejected row (with `--skip-invalid`): one line in the rejects file,
    /// the record given as its CSV text.
    fn reject_raw(&mut self, file: &str, line: u64, reasons: &[String], raw: &str) -> Result<()> {
        if !self.skip_invalid {
            return Ok(());
        }
        if self.rejects.is_none() {
            // The rejected rows are customer data: owner-only.
            let file = crate::files::create(&self.rejects_path, crate::files::PRIVATE)
                .with_context(|| {
                    format!(
                        "cannot write the rejects file {}",
                        self.rejects_path.display()
                    )
                })?;
            let mut w = csv::Writer::from_writer(file);
            w.write_record(["file", "line", "reason", "record"])?;
            self.rejects = Some(w);
        }
        // Opened in a spreadsheet, no cell may start a formula.
        use crate::escape::csv_cell;
        self.rejects.as_mut().unwrap().write_record([
            csv_cell(file).as_ref(),
            csv_cell(&line.to_string()).as_ref(),
            csv_cell(&reasons.join("; ")).as_ref(),
            csv_cell(raw).as_ref(),
        ])?;
        Ok(())
    }

    fn message(&self) -> String {
        let mut msg = format!(
            "the snapshot was not imported ({} problem{}); the store is unchanged:\n",
            self.total,
            if self.total == 1 { "" } else { "s" }
        );
        msg.push_str(&self.shown.join("\n"));
        if self.total > self.shown.len() {
            let by_field: Vec<String> =
                self.more.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
            msg.push_str(&format!(
                "\nand {} more ({})",
                self.total - self.shown.len(),
                by_field.join(", ")
            ));
        }
        if self.file_level.is_empty() {
            msg.push_str("\nhint: fix the file and import again, or pass --skip-invalid to import the valid rows and write the others to a rejects file");
        } else {
            msg.push_str("\nhint: a file that cannot be read as a whole is never skipped, not even with --skip-invalid: fix it (or its [import.<file>] settings) and import again");
        }
        msg
    }

    fn finish(&mut self) -> Result<Option<PathBuf>> {
        match self.rejects.take() {
            Some(mut w) => {
                w.flush()?;
                Ok(Some(self.rejects_path.clone()))
            }
            None => Ok(None),
        }
    }
}

/// The days whose periods must leave the KPI cache, gathered while importing.
struct Touched {
    active: bool,
    days: BTreeSet<i64>,
    /// Customer-base KPIs of every period ending after this day change.
    customers_from: Option<i64>,
}

impl Touched {
    fn new(active: bool) -> Self {
        Touched {
            active,
            days: BTreeSet::new(),
            customers_from: None,
        }
    }

    fn add(&mut self, kind: FileKind, days: &[Option<i64>]) {
        if !self.active {
            return;
        }
        for d in days.iter().flatten() {
            if kind == FileKind::Customers {
                self.customers_from = Some(self.customers_from.map_or(*d, |m| m.min(*d)));
            } else {
                self.days.insert(*d);
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn import_file(
    tx: &ImportTx,
    config: &Config,
    input: &Input,
    scanned: &read::Scan,
    snapshot_id: i64,
    opts: &ImportOptions,
    problems: &mut Problems,
    touched: &mut Touched,
) -> Result<FileSummary> {
    let name = input.name.as_str();
    let mut summary = FileSummary {
        file: name.to_string(),
        path: input.path.clone(),
        ..Default::default()
    };
    let size = std::fs::metadata(&input.path).map(|m| m.len()).unwrap_or(0);
    let mapping = config.import.get(&input.kind).cloned().unwrap_or_default();
    let format = match read::decide(scanned, mapping.encoding, mapping.delimiter) {
        Ok(f) => f,
        Err(reason) => {
            problems.add_file(name, 1, &reason);
            return Ok(summary);
        }
    };
    summary.format = format.note();
    let mut source = read::Source::open(&input.path, format)
        .map_err(|e| Failure::input(format!("{name}: cannot open: {e}")))?;
    let mut record = csv::ByteRecord::new();
    let Some(header_line) = read_header(&mut source, &mut record, name, problems) else {
        return Ok(summary);
    };
    let header = record.clone();
    // A preset's other layout of the same export (Salesforce report exports).
    let mapping = mapping.for_header(&lowered_names(&header)).clone();
    let layout = match Layout::from_header(input.kind, &record, &mapping, config.segment_attrs()) {
        Ok(l) => l,
        Err(reason) => {
            problems.add_file(name, header_line, &reason);
            return Ok(summary);
        }
    };
    let table = input.kind.table();
    tx.note_columns(input.kind.key(), layout.header_names())?;
    let ctx = rows::ParseCtx {
        kind: input.kind,
        table: &table,
        mapping: &mapping,
        config,
        date_text: tx.keeps_date_text(input.kind),
    };
    let progress = progress_bar(opts.progress && size > 8 << 20, size, name);
    let mut w = FileWrite {
        writer: Some(tx.writer(&table, opts.skip_invalid)?),
        tx,
        kind: input.kind,
        name,
        table: &table,
        pk_column: layout.pk_column(),
        snapshot_id,
        summary,
        problems,
        touched,
        merged: BTreeMap::new(),
    };
    let reading = Reading {
        ctx: &ctx,
        layout: &layout,
        header: &header,
        // The record's text, for the rejects file (and a merged customer's
        // duplicate): only when it can be written.
        keep_raw: opts.skip_invalid,
        bom: format_bom(&source),
    };
    read_and_write(reading, source, record, &mut w, progress.as_ref())?;
    let summary = w.finish(&ctx)?;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    Ok(summary)
}

/// One thread reads and checks the records, this one writes them: the
/// batches keep the file's order, so counts, problems and rejects come out
/// exactly as if one thread did both.
fn read_and_write(
    reading: Reading,
    source: read::Source,
    record: csv::ByteRecord,
    w: &mut FileWrite,
    progress: Option<&indicatif::ProgressBar>,
) -> Result<()> {
    // The customer keys go to the reading thread for the file (SQLite's
    // record files: store::tables::CustomerKeys) and come back after it.
    let keys = w
        .writer
        .as_ref()
        .map(Writer::lend_keys)
        .transpose()?
        .flatten();
    std::thread::scope(|scope| -> Result<()> {
        let (send, batches) = std::sync::mpsc::sync_channel::<Batch>(BATCHES_IN_FLIGHT);
        // The batches written go back to the reading thread, which frees
        // their rows and fills them again: memory is freed by the thread
        // that allocated it (glibc's per-thread caches), not across threads.
        let (give_back, returned) = std::sync::mpsc::sync_channel::<Vec<Item>>(BATCHES_IN_FLIGHT);
        let reader = scope.spawn(move || reading.run(source, record, keys, send, returned));
        for mut batch in batches {
            if let Some(bar) = progress {
                bar.set_position(batch.byte);
            }
            if let Some(writer) = &w.writer {
                writer.add_keys(&batch.new_keys)?;
            }
            for item in &mut batch.items {
                w.take(item)?;
            }
            // Full (the reader has enough) or gone (it finished): freed here.
            let _ = give_back.try_send(batch.items);
        }
        // A panic in the reading thread is one here too.
        let keys = reader
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
        if let (Some(writer), Some(keys)) = (&w.writer, keys) {
            writer.give_back_keys(keys);
        }
        Ok(())
    })
}

/// Reads the header of a file just opened into `record`: its line, or None
/// (the problem reported) when the file is empty or unreadable.
fn read_header(
    source: &mut read::Source,
    record: &mut csv::ByteRecord,
    name: &str,
    problems: &mut Problems,
) -> Option<u64> {
    match source.next(record) {
        Ok(Some(line)) => Some(line),
        Ok(None) => {
            problems.add_file(
                name,
                1,
                "the file is empty (expected a header row; see snapshot-format.md)",
            );
            None
        }
        Err(e) => {
            problems.add_file(
                name,
                e.line,
                &format!("cannot read the header: {} (is this a CSV file?)", e.error),
            );
            None
        }
    }
}

/// The header's names as a preset's signature is compared with them:
/// trimmed, lowercased, a UTF-8 BOM dropped (invalid UTF-8 replaced: the
/// layout reports it).
fn lowered_names(header: &csv::ByteRecord) -> Vec<String> {
    header
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let t = String::from_utf8_lossy(f);
            let t: &str = if i == 0 {
                t.trim_start_matches('\u{feff}')
            } else {
                &t
            };
            t.trim().to_lowercase()
        })
        .collect()
}

/// A progress bar on stderr for a large file (`show`), named after it.
fn progress_bar(show: bool, size: u64, name: &str) -> Option<indicatif::ProgressBar> {
    show.then(|| {
        let bar = indicatif::ProgressBar::new(size);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg:>16} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_message(name.to_string());
        bar
    })
}

/// The writing side of one file's import: each checked record written (or
/// staged, on PostgreSQL) and counted in the file's summary, the days and
/// customers it touches noted, a duplicate id or a rejected record reported.
struct FileWrite<'a, 't> {
    tx: &'a ImportTx<'t>,
    /// Taken by [`FileWrite::finish`].
    writer: Option<Writer<'a>>,
    kind: FileKind,
    name: &'a str,
    table: &'a crate::sources::Table,
    /// The id's file column, for duplicate messages.
    pk_column: usize,
    snapshot_id: i64,
    summary: FileSummary,
    problems: &'a mut Problems,
    touched: &'a mut Touched,
    /// With `merge_rows`: the customers merged so far, by id.
    merged: BTreeMap<String, Merged>,
}

impl FileWrite<'_, '_> {
    /// One record from the reading thread (left to it to free: what is
    /// kept is taken out).
    fn take(&mut self, item: &mut Item) -> Result<()> {
        let summary = &mut self.summary;
        match item {
            Item::Skipped => summary.skipped += 1,
            Item::Filtered(column) => {
                summary.filtered += 1;
                summary.filter_columns.insert(std::mem::take(column));
            }
            Item::Unreadable { line, reason } => self.problems.add_file(self.name, *line, reason),
            Item::Rejected { line, errors, raw } => {
                let line = *line;
                summary.rows_read += 1;
                let reasons: Vec<String> = errors.iter().map(|e| e.reason.clone()).collect();
                for e in errors.iter() {
                    self.problems.add(self.name, line, e.column, &e.reason);
                }
                self.problems.reject_raw(
                    self.name,
                    line,
                    &reasons,
                    raw.as_deref().unwrap_or(""),
                )?;
                self.summary.rejected += 1;
            }
            Item::Checked { line, notes, body } => {
                let line = *line;
                summary.rows_read += 1;
                if let Some((raw, stage)) = &notes.stage {
                    *summary.stages.entry((stage, raw.clone())).or_default() += 1;
                }
                summary.close_dates_ignored += u64::from(notes.close_date_ignored);
                summary.closed_before_created += u64::from(notes.closed_before_created);
                match body {
                    Body::Rows { row, refund, raw } => {
                        let raw = || raw.clone().unwrap_or_default();
                        self.write(row, line, raw)?;
                        if let Some(refund) = refund {
                            self.summary.refunds += 1;
                            self.write(refund, line, raw)?;
                        }
                    }
                    // One customer over several rows (subscriptions):
                    // merged, then written after the last row.
                    Body::Merge {
                        fields,
                        attributes,
                        raw,
                    } => {
                        let (fields, attributes, raw) = (
                            std::mem::take(fields),
                            std::mem::take(attributes),
                            std::mem::take(raw),
                        );
                        let id = match &fields[0] {
                            Field::Text(t) => t.clone(),
                            _ => String::new(),
                        };
                        match self.merged.get_mut(&id) {
                            Some(m) => {
                                m.merge(fields, attributes);
                                self.summary.merged += 1;
                            }
                            None => {
                                self.merged.insert(
                                    id,
                                    Merged {
                                        fields,
                                        attributes,
                                        line,
                                        raw,
                                    },
                                );
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Writes one row and counts what became of it.
    fn write(&mut self, row: &rows::Row, line: u64, raw: impl Fn() -> String) -> Result<()> {
        let (kind, active) = (self.kind, self.touched.active);
        let writer = self
            .writer
            .as_mut()
            .expect("rows are written before finish");
        match writer.upsert(row, self.snapshot_id, line, &raw)? {
            rows::Upsert::Staged => {}
            rows::Upsert::Inserted => {
                self.summary.inserted += 1;
                self.touched.add(kind, &row.days);
                if kind == FileKind::Customers && active {
                    self.tx.touch_customer(&row.values[0])?;
                }
            }
            rows::Upsert::Replaced {
                old_days,
                segments_changed,
            } => {
                self.summary.replaced += 1;
                self.touched.add(kind, &row.days);
                self.touched.add(kind, &old_days);
                if segments_changed && active && kind == FileKind::Customers {
                    self.tx.touch_customer(&row.values[0])?;
                }
            }
            rows::Upsert::Unchanged => self.summary.unchanged += 1,
            rows::Upsert::Duplicate => self.duplicate(line, &row.pk_text(), &raw())?,
        }
        Ok(())
    }

    fn duplicate(&mut self, line: u64, id: &str, raw: &str) -> Result<()> {
        let reason = format!(
            "duplicate {} '{id}': it appears on an earlier line of this file (ids must be unique)",
            self.table.pk_label()
        );
        self.problems
            .add(self.name, line, Some(self.pk_column), &reason);
        self.problems.reject_raw(self.name, line, &[reason], raw)?;
        self.summary.rejected += 1;
        Ok(())
    }

    /// Writes the merged customers, then (PostgreSQL) upserts the staged
    /// rows in one statement; the file's summary.
    fn finish(mut self, ctx: &rows::ParseCtx) -> Result<FileSummary> {
        for (_, m) in std::mem::take(&mut self.merged) {
            let row = ctx.row(m.fields, m.attributes);
            let raw = m.raw;
            self.write(&row, m.line, || raw.clone())?;
        }
        let customers = self.kind == FileKind::Customers;
        let writer = self.writer.take().expect("finished once");
        if let Some(staged) = writer.finish(self.snapshot_id, self.touched.active, customers)? {
            self.summary.inserted = staged.inserted;
            self.summary.replaced = staged.replaced;
            self.summary.unchanged = staged.unchanged;
            let days: Vec<Option<i64>> = staged.days.iter().map(|d| Some(*d)).collect();
            self.touched.add(self.kind, &days);
            for (line, id, raw) in staged.duplicates {
                self.duplicate(line, &id, raw.as_deref().unwrap_or(""))?;
            }
        }
        Ok(self.summary)
    }
}

/// Batches on their way from the reading thread to the writing one, at
/// most: the memory between the two threads stays bounded.
const BATCHES_IN_FLIGHT: usize = 4;
/// Records per batch.
const BATCH: usize = 1024;

/// Records read and checked, in file order, and how far the file was read.
struct Batch {
    items: Vec<Item>,
    byte: u64,
    /// The customer keys numbered for this batch's rows (they hold the
    /// keys instead of the ids): stored before the rows.
    new_keys: Vec<(i64, String)>,
}

/// One record as the reading thread leaves it.
enum Item {
    /// Not data: an extra header row, the header again, a footer.
    Skipped,
    /// Left out by the mapping's filter on this column.
    Filtered(String),
    /// The file cannot be read from this line on (the last item).
    Unreadable { line: u64, reason: String },
    /// Cells that break the file's rules (`raw`: its text, with --skip-invalid).
    Rejected {
        line: u64,
        errors: Vec<rows::CellError>,
        raw: Option<String>,
    },
    /// A valid record.
    Checked {
        line: u64,
        notes: rows::RowNotes,
        body: Body,
    },
}

enum Body {
    /// Its row, and the row of its refund (orders with `refunds`).
    Rows {
        row: rows::Row,
        refund: Option<rows::Row>,
        raw: Option<String>,
    },
    /// With `merge_rows`: its fields, merged with the customer's other rows
    /// before one row is written.
    Merge {
        fields: Vec<Field>,
        attributes: Vec<(String, String)>,
        raw: String,
    },
}

/// What the reading thread needs to check a file's records.
struct Reading<'a> {
    ctx: &'a rows::ParseCtx<'a>,
    layout: &'a Layout,
    header: &'a csv::ByteRecord,
    keep_raw: bool,
    bom: u64,
}

impl Reading<'_> {
    /// Reads the records after the header and sends them in batches; stops
    /// early when the writing thread hangs up (it failed). With `keys`
    /// (SQLite's record files), the rows hold their customer's key instead
    /// of its id; the keys are returned at the end.
    fn run(
        self,
        mut source: read::Source,
        mut record: csv::ByteRecord,
        mut keys: Option<KeyLookup>,
        send: std::sync::mpsc::SyncSender<Batch>,
        returned: std::sync::mpsc::Receiver<Vec<Item>>,
    ) -> Option<KeyLookup> {
        let mut extra_headers = self.ctx.mapping.header_rows.max(1) - 1;
        // A batch the writing thread is done with: one of its records is
        // freed before each record read, so that the next one's memory is
        // the memory just freed (glibc's per-thread cache holds a few blocks
        // of each size: a whole batch freed at once overflows it). Emptied,
        // it holds the next batch.
        let mut spare: Vec<Item> = Vec::new();
        let mut items = Vec::with_capacity(BATCH);
        loop {
            if spare.is_empty() {
                if let Ok(back) = returned.try_recv() {
                    spare = back;
                }
            }
            drop(spare.pop());
            match source.next(&mut record) {
                Ok(None) => break,
                Ok(Some(line)) => items.push(self.item(line, &record, &mut extra_headers)),
                Err(e) => {
                    items.push(Item::Unreadable {
                        line: e.line,
                        reason: format!("cannot read this row: {} (is this a CSV file?)", e.error),
                    });
                    break;
                }
            }
            if items.len() == BATCH {
                let next = match spare.is_empty() && spare.capacity() >= BATCH {
                    true => std::mem::take(&mut spare),
                    false => Vec::with_capacity(BATCH),
                };
                let mut items = std::mem::replace(&mut items, next);
                let new_keys = with_keys(&mut keys, &mut items);
                let batch = Batch {
                    items,
                    byte: source.byte(),
                    new_keys,
                };
                if send.send(batch).is_err() {
                    return keys;
                }
            }
        }
        let new_keys = with_keys(&mut keys, &mut items);
        let _ = send.send(Batch {
            items,
            byte: source.byte(),
            new_keys,
        });
        keys
    }

    fn item(&self, line: u64, record: &csv::ByteRecord, extra_headers: &mut usize) -> Item {
        if *extra_headers > 0 {
            *extra_headers -= 1;
            return Item::Skipped;
        }
        if is_not_data(record, self.header, &self.ctx.mapping.skip_rows) {
            return Item::Skipped;
        }
        if let Some(column) = self.layout.filtered_out(record) {
            return Item::Filtered(column);
        }
        let raw = || self.keep_raw.then(|| raw_record(record));
        let parsed = match self.ctx.check(self.layout, record, self.bom) {
            Ok(p) => p,
            Err(errors) => {
                return Item::Rejected {
                    line,
                    errors,
                    raw: raw(),
                }
            }
        };
        let rows::Parsed {
            fields,
            attributes,
            notes,
            refund,
        } = parsed;
        let body = if self.ctx.mapping.merge_rows {
            Body::Merge {
                fields,
                attributes,
                raw: raw_record(record),
            }
        } else {
            let ctx = self.ctx;
            let (row, refund) = match refund {
                None => (ctx.row(fields, attributes), None),
                Some((amount, day)) => {
                    let mut refunded = fields.clone();
                    if let Field::Text(id) = &refunded[0] {
                        refunded[0] = Field::Text(format!("{id}:refund"));
                    }
                    if let Some(d) = day {
                        refunded[2] = Field::Date(d);
                    }
                    refunded[3] = Field::Real(-amount);
                    (
                        ctx.row(fields, attributes.clone()),
                        Some(ctx.row(refunded, attributes)),
                    )
                }
            };
            Body::Rows {
                row,
                refund,
                raw: raw(),
            }
        };
        Item::Checked { line, notes, body }
    }
}

/// Replaces the customer ids of a batch's rows by their keys (with `keys`),
/// and returns the keys numbered now.
fn with_keys(keys: &mut Option<KeyLookup>, items: &mut [Item]) -> Vec<(i64, String)> {
    let mut new = Vec::new();
    if let Some(keys) = keys {
        let rows = items.iter_mut().flat_map(|item| match item {
            Item::Checked {
                body: Body::Rows { row, refund, .. },
                ..
            } => [Some(row), refund.as_mut()],
            _ => [None, None],
        });
        keys.replace_ids(rows.flatten(), &mut new);
    }
    new
}

/// A record as one CSV line (for the rejects file).
fn raw_record(record: &csv::ByteRecord) -> String {
    let mut raw = csv::Writer::from_writer(Vec::new());
    let _ = raw.write_byte_record(record);
    String::from_utf8_lossy(&raw.into_inner().unwrap_or_default())
        .trim_end()
        .to_string()
}

/// A customer over several rows (`merge_rows`), as merged so far; it is
/// written with the line and text of its first row.
struct Merged {
    fields: Vec<Field>,
    attributes: Vec<(String, String)>,
    line: u64,
    raw: String,
}

impl Merged {
    /// The earliest acquired_on, the latest churned_on (none while any row
    /// has none: a subscription still running), and the attributes of the
    /// latest-acquired row (the current plan).
    fn merge(&mut self, fields: Vec<Field>, attributes: Vec<(String, String)>) {
        let date = |f: &Field| match f {
            Field::Date(d) => Some(*d),
            _ => None,
        };
        let (a_old, a_new) = (date(&self.fields[1]), date(&fields[1]));
        if a_new >= a_old {
            self.attributes = attributes;
        }
        if a_new < a_old {
            self.fields[1] = fields[1].clone();
        }
        self.fields[2] = match (date(&self.fields[2]), date(&fields[2])) {
            (Some(x), Some(y)) => Field::Date(x.max(y)),
            _ => Field::Null,
        };
    }
}

/// The BOM bytes the reader skipped: offsets in messages count from the
/// start of the file.
fn format_bom(source: &read::Source) -> u64 {
    source.format.bom_len as u64
}

/// A row that is not data: the header again (files concatenated), or a
/// report footer (its first cell starts with one of `skip_rows`).
fn is_not_data(record: &csv::ByteRecord, header: &csv::ByteRecord, skip_rows: &[String]) -> bool {
    if record.len() == header.len()
        && record.len() > 1
        && record
            .iter()
            .zip(header.iter())
            .all(|(a, b)| a.trim_ascii() == b.trim_ascii())
    {
        return true;
    }
    if skip_rows.is_empty() {
        return false;
    }
    let first = String::from_utf8_lossy(record.get(0).unwrap_or_default());
    let first = first.trim();
    skip_rows.iter().any(|p| first.starts_with(p.trim()))
}
