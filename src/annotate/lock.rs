//! One writer per dataset: an advisory lock that a samlabel process holds while it may save a dataset.
//!
//! The lock lives in a hidden file beside the dataset (`.NAME.samlabel-lock`), not on the dataset
//! itself, because saving replaces the dataset file. The operating system drops the lock when the
//! process ends in any way, SIGKILL included, so a crash never leaves a dataset locked. The lock
//! file holds the holder's process id, for the message the second process shows; a clean release
//! removes it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};

/// Why the lock was not taken, in words for the user.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{} is open in another samlabel process{}", .dataset.display(), holder_text(*.holder))]
    Busy {
        dataset: PathBuf,
        holder: Option<u32>,
    },
    #[error("cannot lock {}: {error}", .lock_file.display())]
    Io {
        lock_file: PathBuf,
        error: std::io::Error,
    },
}

fn holder_text(holder: Option<u32>) -> String {
    holder.map_or_else(String::new, |pid| format!(" (process {pid})"))
}

/// Held while this process may write the dataset; released on drop, which also removes the lock file
/// (a crash leaves it behind, unlocked: the next samlabel takes it over).
#[derive(Debug)]
pub struct DatasetLock {
    _file: File,
    path: PathBuf,
}

impl Drop for DatasetLock {
    fn drop(&mut self) {
        // Removed while still locked; the lock goes when `_file` closes right after. A process that
        // opened the old file meanwhile finds it unlinked after locking it and tries again.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether `file` is still the file at `path` (not one removed by the previous holder on release).
fn is_current(file: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        match (file.metadata(), std::fs::metadata(path)) {
            (Ok(open), Ok(named)) => open.ino() == named.ino() && open.dev() == named.dev(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        // Elsewhere an open file cannot be removed, so the file at `path` is the one we hold.
        let _ = (file, path);
        true
    }
}

impl DatasetLock {
    /// Takes the lock for `dataset`, or says who holds it.
    pub fn acquire(dataset: &Path) -> Result<Self, LockError> {
        // A lock file removed by its releasing holder between our open and our lock is retried.
        for _ in 0..8 {
            if let Some(lock) = Self::try_acquire(dataset)? {
                return Ok(lock);
            }
        }
        Err(LockError::Io {
            lock_file: lock_path(dataset),
            error: std::io::Error::other("the lock file keeps being replaced"),
        })
    }

    fn try_acquire(dataset: &Path) -> Result<Option<Self>, LockError> {
        let lock_file = lock_path(dataset);
        let io = |error| LockError::Io {
            lock_file: lock_file.clone(),
            error,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_file)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) if !is_current(&file, &lock_file) => Ok(None),
            Ok(()) => {
                // Best effort: the pid is only for the other process's message.
                let _ = file
                    .set_len(0)
                    .and_then(|()| file.rewind())
                    .and_then(|()| write!(file, "{}", std::process::id()))
                    .and_then(|()| file.flush());
                Ok(Some(Self {
                    _file: file,
                    path: lock_file,
                }))
            }
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                Err(LockError::Busy {
                    dataset: dataset.to_path_buf(),
                    holder: text.trim().parse().ok(),
                })
            }
            Err(TryLockError::Error(error)) => Err(io(error)),
        }
    }
}

/// `.NAME.samlabel-lock` in the dataset's folder.
pub fn lock_path(dataset: &Path) -> PathBuf {
    let name = dataset
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dataset.with_file_name(format!(".{name}.samlabel-lock"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = std::env::temp_dir().join(format!("samlabel-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dataset = dir.join("annotations.json");
        let first = DatasetLock::acquire(&dataset).unwrap();
        match DatasetLock::acquire(&dataset) {
            Err(LockError::Busy { holder, .. }) => assert_eq!(holder, Some(std::process::id())),
            other => panic!("expected Busy, got {other:?}"),
        }
        drop(first);
        // A clean release leaves no lock file beside the dataset.
        assert!(!lock_path(&dataset).exists());
        let second = DatasetLock::acquire(&dataset).unwrap();
        assert!(lock_path(&dataset).exists());
        drop(second);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
