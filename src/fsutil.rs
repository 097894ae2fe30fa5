//! Crash-safe file writes: a file appears under its final name only when complete.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Fsyncs the directory holding `path`, so that a rename or link into it survives a crash.
pub fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => File::open(dir)?.sync_all(),
        _ => Ok(()),
    }
}

/// The temporary name used while writing `path`: hidden, in the same folder, ending `.tmp`
/// so that readers of shared folders skip it.
pub fn temp_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// Writes a file through `write`, to a temporary name, fsyncs it, then renames it into place.
/// On error the temporary file is removed and `path` is untouched.
pub fn write_atomically<T>(
    path: &Path,
    write: impl FnOnce(&mut io::BufWriter<File>) -> io::Result<T>,
) -> io::Result<T> {
    write_via_temp(path, write, |temp, path| fs::rename(temp, path))
}

/// [`write_atomically`], but never over an existing file: if `path` exists by the time the
/// file is complete, it fails with `AlreadyExists` and leaves that file as it was. Where the
/// file system has hard links the check and the move are one step; elsewhere (FAT through
/// FUSE) the check comes just before the rename.
pub fn write_new_atomically<T>(
    path: &Path,
    write: impl FnOnce(&mut io::BufWriter<File>) -> io::Result<T>,
) -> io::Result<T> {
    write_via_temp(path, write, |temp, path| match fs::hard_link(temp, path) {
        Ok(()) => fs::remove_file(temp),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
        Err(_) if path.exists() => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} appeared while it was written", path.display()),
        )),
        Err(_) => fs::rename(temp, path),
    })
}

fn write_via_temp<T>(
    path: &Path,
    write: impl FnOnce(&mut io::BufWriter<File>) -> io::Result<T>,
    place: impl FnOnce(&Path, &Path) -> io::Result<()>,
) -> io::Result<T> {
    let temp = temp_name(path);
    let result = (|| -> io::Result<T> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temp)?;
        // Held until the file is placed, so a cleaner can tell a live writer from a killed
        // one without trusting a pid that may have been reused (see `writer_gone`).
        let _ = file.try_lock();
        let mut writer = io::BufWriter::with_capacity(1 << 16, file);
        let value = write(&mut writer)?;
        writer.flush()?;
        let file = writer.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        place(&temp, path)?;
        Ok(value)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    let value = result?;
    sync_parent(path)?;
    Ok(value)
}

/// Whether the writer of the temporary file `temp` is gone: `Some(true)` when no process holds
/// the lock writers take, `Some(false)` when one does, `None` when the file cannot be opened or
/// locks are not supported there. A writer holds its lock from just after creating the file,
/// so an empty file seen unlocked may be one being born: callers confirm those another way.
pub fn writer_gone(temp: &Path) -> Option<bool> {
    let file = File::open(temp).ok()?;
    match file.try_lock() {
        Ok(()) => Some(true),
        Err(fs::TryLockError::WouldBlock) => Some(false),
        Err(fs::TryLockError::Error(_)) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The folder of a bare name is the current one, which needs no sync; a folder that cannot
    /// be opened is an error, never a silent success (a rename would not be durable).
    #[test]
    fn sync_parent_opens_the_real_folder() {
        assert!(sync_parent(Path::new("bare-name.gvb")).is_ok());
        let dir = tempfile::tempdir().expect("temp dir");
        assert!(sync_parent(&dir.path().join("x.gvb")).is_ok());
        assert!(sync_parent(Path::new("/nonexistent-grapevine-dir/x.gvb")).is_err());
    }

    #[test]
    fn a_failed_write_leaves_nothing_under_either_name() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("b.gvb");
        let result = write_atomically(&path, |w| {
            w.write_all(b"half")?;
            Err::<(), _>(io::Error::other("the writer failed"))
        });
        assert!(result.is_err());
        assert!(!path.exists());
        assert_eq!(fs::read_dir(dir.path()).expect("listing").count(), 0);
        write_atomically(&path, |w| w.write_all(b"whole")).expect("writes");
        assert_eq!(fs::read(&path).expect("reads"), b"whole");
    }

    /// A writer's temporary file is held while it writes; one left by a dead writer is not.
    #[test]
    fn a_live_writer_holds_its_temporary_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("b.gvb");
        let seen = write_atomically(&path, |w| {
            w.write_all(b"half")?;
            Ok(writer_gone(&temp_name(&path)))
        })
        .expect("writes");
        assert_eq!(seen, Some(false), "the writer holds its file");
        let abandoned = dir.path().join(".left.gvb.1.tmp");
        fs::write(&abandoned, b"half").expect("plant");
        assert_eq!(writer_gone(&abandoned), Some(true));
        assert_eq!(writer_gone(&dir.path().join("missing")), None);
    }

    /// A new file never replaces one that is there, and leaves no temporary file behind.
    #[test]
    fn a_new_file_never_replaces_another() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("b.gvb");
        fs::write(&path, b"planted").expect("plant");
        let refused = write_new_atomically(&path, |w| w.write_all(b"ours"));
        assert_eq!(
            refused.map_err(|e| e.kind()),
            Err(io::ErrorKind::AlreadyExists)
        );
        assert_eq!(fs::read(&path).expect("reads"), b"planted");
        assert_eq!(fs::read_dir(dir.path()).expect("listing").count(), 1);
        let fresh = dir.path().join("c.gvb");
        write_new_atomically(&fresh, |w| w.write_all(b"ours")).expect("writes");
        assert_eq!(fs::read(&fresh).expect("reads"), b"ours");
        assert_eq!(fs::read_dir(dir.path()).expect("listing").count(), 2);
    }
}
