//! A lock beside the store so that two overlapping runs cannot both work.
//! The OS releases the lock when its holder dies, so a stale lock of a dead
//! process is simply taken over; the file names the holder for the message.
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use fs2::FileExt;

use crate::error::Failure;

pub struct RunLock {
    file: Option<File>,
    path: PathBuf,
    /// On a PostgreSQL store: the advisory lock (the file fields are unused).
    _pg: Option<crate::store::pg::PgRunLock>,
}

impl RunLock {
    /// The lock of a store: the file beside a SQLite store, an advisory lock
    /// on a PostgreSQL store (so that runs on two machines exclude each other).
    pub fn acquire_for(
        store: &crate::store::Location,
        wait: Duration,
        holder: &str,
    ) -> Result<RunLock> {
        match store {
            crate::store::Location::Sqlite(path) => RunLock::acquire(path, wait, holder),
            crate::store::Location::Postgres { config, .. } => Ok(RunLock {
                file: None,
                path: PathBuf::new(),
                _pg: Some(crate::store::pg::PgRunLock::acquire(config, wait, holder)?),
            }),
        }
    }

    /// Waits up to `wait` for the lock, then fails (exit 1) naming the holder.
    pub fn acquire(store_path: &Path, wait: Duration, holder: &str) -> Result<RunLock> {
        let path = store_path.with_extension("lock");
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open the lock file {}", path.display()))?;
        let started = Instant::now();
        loop {
            if file.try_lock_exclusive().is_ok() {
                file.set_len(0)?;
                file.seek(SeekFrom::Start(0))?;
                writeln!(file, "{holder}")?;
                file.flush()?;
                return Ok(RunLock {
                    file: Some(file),
                    path,
                    _pg: None,
                });
            }
            if started.elapsed() >= wait {
                let mut who = String::new();
                let _ = File::open(&path).and_then(|mut f| f.read_to_string(&mut who));
                let who = match who.trim() {
                    "" => "holder unknown".to_string(),
                    w => w.to_string(),
                };
                return Err(Failure::runtime(format!(
                    "another scorecard run holds the lock {} ({who}); waited {} s (raise [run] lock_wait_secs, or wait for it to finish)",
                    path.display(),
                    wait.as_secs()
                ))
                .into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        if let Some(file) = &self.file {
            let _ = file.set_len(0);
            let _ = FileExt::unlock(file);
        }
        let _ = &self.path;
    }
}
