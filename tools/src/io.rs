//! Reading and writing checkpoint files with messages that say which file and what to do.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use plastic_models::limits::MAX_CHECKPOINT_BYTES;
use plastic_models::{Checkpoint, Integrity};

/// Reads and validates a checkpoint file.
pub fn read_checkpoint(path: &Path) -> anyhow::Result<Checkpoint> {
    read_checkpoint_with_integrity(path).map(|(ckpt, _)| ckpt)
}

/// Reads and validates a checkpoint file, also saying whether its tensor data was checked
/// against a recorded checksum.
pub fn read_checkpoint_with_integrity(path: &Path) -> anyhow::Result<(Checkpoint, Integrity)> {
    let bytes = read_bytes(path)?;
    Checkpoint::from_bytes_with_integrity(&bytes).with_context(|| {
        format!(
            "{} is not a valid plastic checkpoint (train one with plastic-train)",
            path.display()
        )
    })
}

/// Reads a checkpoint-sized file, naming it in the error: a regular file of at most
/// [`MAX_CHECKPOINT_BYTES`] (a device such as `/dev/zero` or a FIFO is refused, not read until
/// memory runs out or a writer comes).
pub fn read_bytes(path: &Path) -> anyhow::Result<Vec<u8>> {
    plastic_runtime::input_file::read_regular_file(path, MAX_CHECKPOINT_BYTES).with_context(|| {
        format!(
            "could not read {} (give the path of a checkpoint file)",
            path.display()
        )
    })
}

/// Prints `text` on stdout. A reader that stopped reading (`plastic inspect X | head`) is not
/// an error: the rest is dropped and the command succeeds, as `cat` does, instead of the panic
/// `println!` gives on a closed pipe.
pub fn print_stdout(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("could not write to stdout")
        }
        _ => Ok(()),
    }
}

/// Writes through a temporary file, fsync and a rename (the runtime's
/// [`plastic_runtime::persist::write_atomically`]), so a crash never leaves a torn file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    plastic_runtime::persist::write_atomically(path, bytes)
        .with_context(|| format!("could not write {}", path.display()))
}
