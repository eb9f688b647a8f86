//! Reading a file named on a command line (feature `std`): a regular file, of bounded size.
//!
//! Why: `std::fs::read` reads whatever the path opens. `/dev/zero` given as a model is read
//! until memory runs out, and a FIFO blocks the open until a writer comes, which may be never.
//! Checkpoints, states and datasets are regular files of known largest size, so anything else
//! is refused before it is opened, and a file that grows while it is read is cut at the bound.

use std::format;
use std::fs::File;
use std::io::{Error, ErrorKind, Read};
use std::path::Path;
use std::vec::Vec;

/// Reads `path` whole if it is a regular file (a symlink to one is fine) of at most
/// `max_bytes`; an error of kind [`ErrorKind::InvalidInput`] says why not otherwise.
pub fn read_regular_file(path: &Path, max_bytes: u64) -> std::io::Result<Vec<u8>> {
    check_regular(&std::fs::metadata(path)?, max_bytes)?;
    let file = File::open(path)?;
    // The path may have been swapped between the check and the open.
    let meta = file.metadata()?;
    check_regular(&meta, max_bytes)?;
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max_bytes {
        return Err(too_large(max_bytes));
    }
    Ok(bytes)
}

fn check_regular(meta: &std::fs::Metadata, max_bytes: u64) -> std::io::Result<()> {
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a folder"
        } else {
            "a device, FIFO or socket"
        };
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("it is {what}, not a regular file"),
        ));
    }
    if meta.len() > max_bytes {
        return Err(too_large(max_bytes));
    }
    Ok(())
}

fn too_large(max_bytes: u64) -> Error {
    Error::new(
        ErrorKind::InvalidInput,
        format!("it is larger than the {max_bytes} bytes allowed"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn regular_files_are_read_others_refused() {
        let dir = std::env::temp_dir().join(format!("plastic-input-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        std::fs::write(&path, b"12345").unwrap();
        assert_eq!(read_regular_file(&path, 5).unwrap(), b"12345");
        let err = read_regular_file(&path, 4).unwrap_err();
        assert!(err.to_string().contains("larger than the 4 bytes"), "{err}");
        let err = read_regular_file(&dir, 100).unwrap_err();
        assert!(err.to_string().contains("a folder"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// `/dev/zero` was read until memory ran out.
    #[cfg(unix)]
    #[test]
    fn a_device_file_is_refused_before_it_is_read() {
        let err = read_regular_file(Path::new("/dev/zero"), 1 << 20).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }
}
