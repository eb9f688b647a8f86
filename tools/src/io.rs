//! Reading and writing checkpoint files with messages that say which file and what to do.

use std::path::Path;

use anyhow::Context;
use plastic_models::Checkpoint;

/// Reads and validates a checkpoint file.
pub fn read_checkpoint(path: &Path) -> anyhow::Result<Checkpoint> {
    let bytes = read_bytes(path)?;
    Checkpoint::from_bytes(&bytes).with_context(|| {
        format!(
            "{} is not a valid plastic checkpoint (train one with plastic-train)",
            path.display()
        )
    })
}

/// Reads a file, naming it in the error.
pub fn read_bytes(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("could not read {}", path.display()))
}

/// Writes through a temporary file, fsync and a rename (the runtime's
/// [`plastic_runtime::persist::write_atomically`]), so a crash never leaves a torn file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    plastic_runtime::persist::write_atomically(path, bytes)
        .with_context(|| format!("could not write {}", path.display()))
}
