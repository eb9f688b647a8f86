//! Crash-safe file writes (feature `std`): what a device learned, a checkpoint a tool wrote.
//!
//! Why this sequence: a device loses power whenever it likes. The bytes are written to a new
//! temporary file beside `FILE`, that file is fsynced, renamed over `FILE` (atomic on POSIX
//! file systems), and the folder is fsynced so the rename itself survives. A cut at any instant
//! leaves `FILE` as the old contents or the new ones, never a torn mix; at worst a stale
//! `FILE.*.tmp` remains, which nothing reads and which can be deleted.
//!
//! Why the temporary file is new and unique: it is created with `create_new` (`O_CREAT |
//! O_EXCL`), which refuses any existing file and, on POSIX, a symlink planted at its name, so
//! a write never lands on another file through a link. Its name carries the process id and a
//! per-process counter, so two processes (or threads) writing one path never share it and
//! the last rename wins whole. A failed write (a full disk) removes it.

use std::borrow::ToOwned;
use std::format;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Tells apart the writes of one process.
static WRITES: AtomicU64 = AtomicU64::new(0);

/// How many names a write tries before it gives up (each taken only by a stale file of an
/// earlier process that had the same id, or by something planted there).
const TEMP_NAME_ATTEMPTS: u32 = 16;

/// A fresh temporary name beside `path`: `FILE.PID-N.tmp`.
fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    let n = WRITES.fetch_add(1, Ordering::Relaxed);
    name.push(format!(".{}-{n}.tmp", std::process::id()));
    PathBuf::from(name)
}

/// Creates a new temporary file beside `path`, never opening one that exists (see the module
/// doc); returns it with its name.
fn create_temp(path: &Path) -> std::io::Result<(PathBuf, File)> {
    let mut last = None;
    for _ in 0..TEMP_NAME_ATTEMPTS {
        let tmp = temp_path(path);
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free temporary name")))
}

/// Writes `bytes` to `path` atomically and durably (see the module doc).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let (tmp, file) = create_temp(path)?;
    let result = fill_and_rename(file, &tmp, path, bytes);
    if result.is_err() {
        // Nothing useful is in it; a failed rename leaves it in place.
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn fill_and_rename(mut file: File, tmp: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(tmp, path)?;
    sync_dir(path)
}

/// Fsyncs the folder holding `path`, so a rename into it is on disk.
#[cfg(unix)]
fn sync_dir(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

/// Other systems cannot open a folder as a file; their rename is as durable as they make it.
#[cfg(not(unix))]
fn sync_dir(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;
    use std::vec;
    use std::vec::Vec;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("plastic-persist-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_write_replaces_the_file_and_leaves_no_temp_behind() {
        let dir = temp_dir("replace");
        let path = dir.join("state.safetensors");
        write_atomically(&path, b"old").unwrap();
        write_atomically(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert_eq!(names(&dir), ["state.safetensors"]);
        std::fs::remove_dir_all(dir).ok();
    }

    /// The old fixed `FILE.tmp` followed a symlink planted there and overwrote its target.
    #[cfg(unix)]
    #[test]
    fn a_symlink_planted_at_the_old_temp_name_is_not_followed() {
        let dir = temp_dir("symlink");
        let victim = dir.join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        let path = dir.join("state");
        std::os::unix::fs::symlink(&victim, dir.join("state.tmp")).unwrap();
        write_atomically(&path, b"learned").unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        assert_eq!(std::fs::read(&path).unwrap(), b"learned");
        std::fs::remove_dir_all(dir).ok();
    }

    /// Every name a write may take, planted as a link: the write fails, the target is untouched.
    #[cfg(unix)]
    #[test]
    fn an_existing_temp_file_or_link_is_never_opened() {
        let dir = temp_dir("planted");
        let victim = dir.join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        let path = dir.join("state");
        let next = WRITES.load(Ordering::Relaxed);
        // Other tests may take names meanwhile; plant plenty ahead.
        for n in next..next + 64 * u64::from(TEMP_NAME_ATTEMPTS) {
            let name = format!("state.{}-{n}.tmp", std::process::id());
            std::os::unix::fs::symlink(&victim, dir.join(name)).unwrap();
        }
        let err = write_atomically(&path, b"learned").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        assert!(!path.exists());
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn writers_on_one_path_never_share_a_temp_file() {
        let dir = temp_dir("race");
        let path = dir.join("state");
        let payloads: Vec<Vec<u8>> = (0..4u8).map(|i| vec![i; 1 << 16]).collect();
        std::thread::scope(|scope| {
            for bytes in &payloads {
                let path = &path;
                scope.spawn(move || {
                    for _ in 0..20 {
                        write_atomically(path, bytes).unwrap();
                    }
                });
            }
        });
        let last = std::fs::read(&path).unwrap();
        assert!(payloads.contains(&last), "a torn file");
        assert_eq!(names(&dir), ["state"]);
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn a_failed_write_removes_its_temp_file() {
        let dir = temp_dir("fail");
        // Renaming a file over a folder fails after the bytes were written.
        let path = dir.join("occupied");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("inside"), b"x").unwrap();
        assert!(write_atomically(&path, b"new").is_err());
        assert_eq!(names(&dir), ["occupied"]);
        std::fs::remove_dir_all(dir).ok();
    }
}
