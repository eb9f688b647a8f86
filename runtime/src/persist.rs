//! Crash-safe file writes (feature `std`): what a device learned, a checkpoint a tool wrote.
//!
//! Why this sequence: a device loses power whenever it likes. The bytes are written to
//! `FILE.tmp`, that file is fsynced, renamed over `FILE` (atomic on POSIX file systems), and the
//! folder is fsynced so the rename itself survives. A cut at any instant leaves `FILE` as the old
//! contents or the new ones, never a torn mix; at worst a stale `FILE.tmp` remains, which the
//! next write overwrites.

use std::borrow::ToOwned;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The temporary file a write goes to before it is renamed over `path`.
pub fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

/// Writes `bytes` to `path` atomically and durably (see the module doc).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = temp_path(path);
    let mut file = File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)?;
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
    use std::format;

    #[test]
    fn a_write_replaces_the_file_and_leaves_no_temp_behind() {
        let dir = std::env::temp_dir().join(format!("plastic-persist-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.safetensors");
        write_atomically(&path, b"old").unwrap();
        write_atomically(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert!(!temp_path(&path).exists());
        std::fs::remove_dir_all(dir).ok();
    }
}
