//! One writer per dataset: an advisory lock that a samlabel process holds while it may save a dataset.
//!
//! The lock lives in a hidden file beside the dataset (`.NAME.samlabel-lock`), not on the dataset
//! itself, because saving replaces the dataset file. The operating system drops the lock when the
//! process ends in any way, SIGKILL included, so a crash never leaves a dataset locked. The lock
//! file holds the holder's process id, for the message the second process shows.

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

/// Held while this process may write the dataset; released on drop.
#[derive(Debug)]
pub struct DatasetLock {
    _file: File,
}

impl DatasetLock {
    /// Takes the lock for `dataset`, or says who holds it.
    pub fn acquire(dataset: &Path) -> Result<Self, LockError> {
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
            Ok(()) => {
                // Best effort: the pid is only for the other process's message.
                let _ = file
                    .set_len(0)
                    .and_then(|()| file.rewind())
                    .and_then(|()| write!(file, "{}", std::process::id()))
                    .and_then(|()| file.flush());
                Ok(Self { _file: file })
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
        DatasetLock::acquire(&dataset).unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }
}
