//! File modes of what the program writes (issue 12): files with customer
//! data (the store and its journal, the rejects file, the `.eml` outbox)
//! are created readable by their owner only, whatever the umask; archive
//! pages are 0644 (0600 with `[report] private = true`).
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

/// Owner read and write only: customer data.
pub const PRIVATE: u32 = 0o600;
/// Everyone may read: archive pages meant for a web server.
pub const PUBLIC: u32 = 0o644;

/// Creates (or truncates) a file with `mode`; an existing file is brought
/// to `mode` too.
pub fn create(path: &Path, mode: u32) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    let file = options.open(path)?;
    set_mode(path, mode)?;
    Ok(file)
}

/// Writes a whole file with `mode` (like `std::fs::write`).
pub fn write(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let mut file = create(path, mode)?;
    file.write_all(bytes)?;
    file.flush()
}

/// Sets the permission bits of an existing file (umask ignored).
pub fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn modes_are_exact() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a");
        write(&p, b"x", PRIVATE).unwrap();
        assert_eq!(p.metadata().unwrap().permissions().mode() & 0o777, 0o600);
        write(&p, b"y", PUBLIC).unwrap();
        assert_eq!(p.metadata().unwrap().permissions().mode() & 0o777, 0o644);
        assert_eq!(std::fs::read(&p).unwrap(), b"y");
    }
}
