//! A temporary project folder driven through the real binary (the
//! environment cleared), shared by tests/robust.rs and tests/crash.rs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn new(config: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.toml"), config).unwrap();
        Project { dir }
    }

    /// The tiny fixture business, with `extra` appended to its config.
    pub fn tiny_with(extra: &str) -> Project {
        let config = std::fs::read_to_string(fixture("tiny.toml")).unwrap();
        Project::new(&format!("{config}\n{extra}"))
    }

    pub fn tiny() -> Project {
        Project::tiny_with("")
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("scorecard").unwrap();
        c.env_clear()
            .current_dir(self.dir.path())
            .env("SCORECARD_TODAY", "2026-11-23");
        c
    }

    /// A `std::process::Command` of the binary (for a child to kill).
    pub fn process(&self) -> std::process::Command {
        let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("scorecard"));
        c.env_clear()
            .current_dir(self.dir.path())
            .env("SCORECARD_TODAY", "2026-11-23");
        c
    }

    /// Runs a command expected to succeed; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs a command; returns (exit code, stdout, stderr).
    pub fn status(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.cmd().args(args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    pub fn snapshot(&self, name: &str, files: &[(&str, &str)]) -> PathBuf {
        let dir = self.path(name);
        std::fs::create_dir_all(&dir).unwrap();
        for (f, text) in files {
            std::fs::write(dir.join(f), text).unwrap();
        }
        dir
    }

    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.path("scorecard.db")).unwrap()
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }
}

/// The permission bits of a file.
#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().unwrap().permissions().mode() & 0o777
}
