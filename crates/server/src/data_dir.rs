//! The data folder's permissions: only the user Parley runs as may read what is in it (the
//! SQLite database and its `-wal`/`-shm` files, the key file, call recordings).
//!
//! Folders are made 0700 and files 0600 explicitly, whatever the process's umask: a file is
//! created with `mode(0o600)` and its permissions are then set on the open handle, so neither a
//! permissive umask nor a stale file left with looser bits can widen them. SQLite creates its
//! `-wal` and `-shm` files with the permissions of the database file, so creating the database
//! file 0600 ourselves (SQLite takes an empty file as an empty database) covers them too.
//!
//! Data folders made by older versions, or by hand, are tightened at start (group and other bits
//! removed, never added) and each change is logged.

use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Permissions of Parley's folders.
pub const DIR_MODE: u32 = 0o700;
/// Permissions of Parley's files.
pub const FILE_MODE: u32 = 0o600;

/// Creates the data folder (0700), or tightens an existing one and the recordings in it.
pub fn prepare(dir: &Path) -> io::Result<()> {
    private_dir(dir)?;
    let recordings = dir.join("recordings");
    if recordings.is_dir() {
        let n = tighten_tree(&recordings)?;
        if n > 0 {
            tracing::warn!(
                folder = %recordings.display(),
                count = n,
                "tightened the permissions of recordings readable by other users (now 0600 files, 0700 folders)"
            );
        }
    }
    Ok(())
}

/// Creates `dir` (and missing parents) 0700, or tightens it if it exists.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    match fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => {
            tighten(dir, &m, DIR_MODE)?;
            Ok(())
        }
        // A symlink to the real folder (a mounted volume): tighten the folder it points to.
        Ok(m) if m.file_type().is_symlink() && dir.is_dir() => {
            tighten(dir, &fs::metadata(dir)?, DIR_MODE)?;
            Ok(())
        }
        Ok(_) => Err(io::Error::other(format!("{} is not a folder", dir.display()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)?;
            fs::set_permissions(dir, Permissions::from_mode(DIR_MODE))
        }
        Err(e) => Err(e),
    }
}

/// The file path of a SQLite database URL (`sqlite://PATH[?…]`); `None` for PostgreSQL and
/// in-memory databases.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.starts_with(":memory:")).then(|| PathBuf::from(path))
}

/// Makes the SQLite database file 0600 before SQLite opens it (creating it empty if missing), and
/// tightens the files SQLite keeps beside it.
pub fn prepare_sqlite(db: &Path) -> io::Result<()> {
    match OpenOptions::new().write(true).create_new(true).mode(FILE_MODE).open(db) {
        Ok(f) => f.set_permissions(Permissions::from_mode(FILE_MODE))?,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        tighten_file(Path::new(&name))?;
    }
    Ok(())
}

/// Tightens a file to 0600 if it exists (logging the change).
pub fn tighten_file(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_file() => tighten(path, &m, FILE_MODE).map(|_| ()),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Writes a new file readable by this user only; fails if the file exists. The file and its
/// folder entry are synced before returning (a key file must survive a crash right after).
pub fn write_new_private_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)?;
    f.set_permissions(Permissions::from_mode(FILE_MODE))?;
    f.write_all(contents)?;
    f.sync_all()?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        File::open(parent)?.sync_all()?;
    }
    Ok(())
}

/// Removes group and other bits beyond `mode`, logging the change; returns whether it changed.
fn tighten(path: &Path, meta: &fs::Metadata, mode: u32) -> io::Result<bool> {
    let old = meta.permissions().mode() & 0o777;
    let changed = quietly_tighten(path, meta, mode)?;
    if changed {
        tracing::warn!(
            path = %path.display(),
            from = format!("{old:o}"),
            to = format!("{:o}", old & mode),
            "tightened permissions: other users could read it"
        );
    }
    Ok(changed)
}

fn quietly_tighten(path: &Path, meta: &fs::Metadata, mode: u32) -> io::Result<bool> {
    let old = meta.permissions().mode() & 0o777;
    if old & mode == old {
        return Ok(false);
    }
    fs::set_permissions(path, Permissions::from_mode(old & mode))?;
    Ok(true)
}

/// Tightens a folder tree (folders 0700, files 0600) without following symlinks; returns how
/// many entries changed (logged as one line by the caller rather than one per recording).
fn tighten_tree(dir: &Path) -> io::Result<u64> {
    let mut changed = quietly_tighten(dir, &fs::metadata(dir)?, DIR_MODE)? as u64;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_dir() {
                changed += quietly_tighten(&entry.path(), &meta, DIR_MODE)? as u64;
                stack.push(entry.path());
            } else if meta.is_file() {
                changed += quietly_tighten(&entry.path(), &meta, FILE_MODE)? as u64;
            }
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths_are_read_from_urls() {
        assert_eq!(sqlite_path("sqlite://data/parley.db"), Some("data/parley.db".into()));
        assert_eq!(sqlite_path("sqlite:///abs/p.db?mode=rwc"), Some("/abs/p.db".into()));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://u@h/db"), None);
    }
}
