//! One device per state file (`--state FILE`): an exclusive lock on `FILE.lock`.
//!
//! Why: two devices saving to one state each replace the other's work (and, before each write
//! had its own temp file, tore the file). The second device to start is refused with a clear
//! error instead. Why `flock` on a separate file: the state itself is replaced by a rename at
//! every save, so a lock on it would sit on an inode that is gone; and the kernel drops a
//! `flock` when its process dies, so a power cut or a kill leaves no stale lock behind (the
//! lock file itself stays, empty and harmless).

use std::fs::File;
use std::path::{Path, PathBuf};

/// Held while the device runs; dropping it (or the process ending) releases the lock.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
}

/// The lock file of the state at `state`: `STATE.lock`.
pub fn lock_path(state: &Path) -> PathBuf {
    let mut name = state.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error("another process is using this state (it holds `{}`)", .0.display())]
    Held(PathBuf),
    /// The lock file could not be opened or locked.
    #[error("could not lock `{}`: {source}", path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
}

impl StateLock {
    /// Takes the lock of the state at `state` without waiting.
    pub fn acquire(state: &Path) -> Result<Self, LockError> {
        let path = lock_path(state);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match try_lock_exclusive(&file) {
            Ok(true) => Ok(Self { _file: file }),
            Ok(false) => Err(LockError::Held(path)),
            Err(e) => Err(io(e)),
        }
    }
}

/// `flock(LOCK_EX | LOCK_NB)`: `Ok(false)` when another open file holds the lock.
#[cfg(unix)]
#[allow(unsafe_code)]
fn try_lock_exclusive(file: &File) -> std::io::Result<bool> {
    use std::os::unix::io::AsRawFd;
    // SAFETY: flock only reads the descriptor, which `file` keeps open for the call.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(true);
    }
    let err = std::io::Error::last_os_error();
    if err.kind() == std::io::ErrorKind::WouldBlock {
        Ok(false)
    } else {
        Err(err)
    }
}

/// Elsewhere the state is not locked.
#[cfg(not(unix))]
fn try_lock_exclusive(_file: &File) -> std::io::Result<bool> {
    Ok(true)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_one_state_is_refused_until_the_first_is_dropped() {
        let dir =
            std::env::temp_dir().join(format!("plastic-sim-state-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let state = dir.join("state");
        let first = StateLock::acquire(&state).unwrap();
        let err = StateLock::acquire(&state).unwrap_err();
        assert!(matches!(err, LockError::Held(_)), "{err}");
        assert!(err.to_string().contains("state.lock"), "{err}");
        drop(first);
        StateLock::acquire(&state).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
