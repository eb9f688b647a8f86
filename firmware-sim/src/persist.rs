//! Crash-safe persistence of what the device learned (`--state FILE`).
//!
//! Saving goes through the runtime's [`plastic_runtime::persist::write_atomically`] (temp file,
//! fsync, rename, fsync of the folder), so a power cut leaves the old state or the new one.
//! A state is saved only if it would load at the next boot ([`write_state`]): one with NaN or
//! infinite weights is refused, and the last good state stays on disk.
//!
//! Why a refused file is kept: a state file that does not load (truncated by a bad card,
//! written by another model, holding NaN) may still be what someone wants to inspect or
//! recover. The device runs from the shipped model instead and does not write over it.

use std::path::Path;

use plastic_models::Checkpoint;
use plastic_models::limits::MAX_CHECKPOINT_BYTES;
use plastic_runtime::input_file::read_regular_file;

use crate::drift::DriftMonitor;

/// What was found at the state path on start.
#[derive(Debug)]
pub enum StateFile {
    /// No file: start from the shipped model; saving creates it.
    Absent,
    /// A valid state for this model.
    Loaded {
        /// The learned weights.
        checkpoint: Box<Checkpoint>,
        /// Frames the device had seen when it was saved (0 if the file does not say).
        frames_seen: u64,
        /// The drift indicator as it was saved, which sets the learning rate (`None` if the
        /// file does not hold a valid one: the device then starts it afresh).
        drift: Option<DriftMonitor>,
    },
    /// A file that must not be used, nor overwritten.
    Refused {
        /// Why, as a phrase after "state file `X`": "is corrupt: ..." or "belongs to ...".
        reason: String,
    },
}

/// Reads the state at `path` and checks it against `spec`, the model this device runs: a
/// state is only usable when it was saved from the same model (same layers, shapes and input).
pub fn read_state(path: &Path, spec: &plastic_models::ModelSpec) -> StateFile {
    let bytes = match read_regular_file(path, MAX_CHECKPOINT_BYTES) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return StateFile::Absent,
        Err(e) => {
            return StateFile::Refused {
                reason: format!("is corrupt: it could not be read ({e})"),
            };
        }
    };
    let checkpoint = match Checkpoint::from_bytes(&bytes) {
        Ok(c) => c,
        Err(e) => {
            return StateFile::Refused {
                reason: format!("is corrupt: it is not a usable plastic checkpoint ({e})"),
            };
        }
    };
    if checkpoint.spec != *spec {
        return StateFile::Refused {
            reason: format!(
                "belongs to another model: it holds `{}` ({}), this device runs `{}` ({})",
                checkpoint.spec.name,
                shapes(&checkpoint.spec),
                spec.name,
                shapes(spec)
            ),
        };
    }
    let frames_seen = checkpoint.train["frames_seen"].as_u64().unwrap_or(0);
    let drift = DriftMonitor::from_json(&checkpoint.train["drift"]);
    StateFile::Loaded {
        checkpoint: Box::new(checkpoint),
        frames_seen,
        drift,
    }
}

/// Why a state was not saved.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// The state would be refused at the next boot (NaN or infinite weights, say).
    #[error("the state is not one the device could load again ({0}); the last good state is kept")]
    Invalid(#[from] plastic_models::Error),
    /// Writing failed (a full or read-only card); the last good state is kept.
    #[error("{0}; the last good state is kept")]
    Write(#[from] std::io::Error),
}

/// Saves `checkpoint` as the state at `path`, atomically, if it is a state that
/// [`read_state`] would load: saving what the next boot refuses would lose every later save
/// too, since a refused file is never overwritten.
pub fn write_state(path: &Path, checkpoint: &Checkpoint) -> Result<(), SaveError> {
    let bytes = checkpoint.to_bytes()?;
    plastic_runtime::persist::write_atomically(path, &bytes)?;
    Ok(())
}

/// `784 -> 400 -> 10` style summary of a spec's layer widths.
fn shapes(spec: &plastic_models::ModelSpec) -> String {
    let mut out = spec.input.len().to_string();
    for layer in &spec.layers {
        out.push_str(&format!(" -> {}", layer.outputs));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn temp(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("plastic-sim-persist-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn absent_garbage_foreign_and_valid_states_are_told_apart() {
        let dir = temp("read");
        let ckpt = Checkpoint::from_bytes(plastic_models::DEFAULT_CHECKPOINT).unwrap();
        let path = dir.join("state");
        assert!(matches!(read_state(&path, &ckpt.spec), StateFile::Absent));

        std::fs::write(&path, b"\x08\x00\x00\x00\x00\x00\x00\x00{}garbage").unwrap();
        let StateFile::Refused { reason } = read_state(&path, &ckpt.spec) else {
            panic!("garbage accepted");
        };
        assert!(reason.starts_with("is corrupt"), "{reason}");

        let mut other = ckpt.spec.clone();
        other.name = "another".into();
        std::fs::write(&path, ckpt.to_bytes().unwrap()).unwrap();
        let StateFile::Refused { reason } = read_state(&path, &other) else {
            panic!("foreign state accepted");
        };
        assert!(
            reason.contains("another model") && reason.contains("784 -> 400 -> 10"),
            "{reason}"
        );

        let mut saved = ckpt.clone();
        saved.train = serde_json::json!({"frames_seen": 42});
        std::fs::write(&path, saved.to_bytes().unwrap()).unwrap();
        let StateFile::Loaded {
            frames_seen, drift, ..
        } = read_state(&path, &ckpt.spec)
        else {
            panic!("valid state refused");
        };
        assert_eq!((frames_seen, drift), (42, None));

        let mut monitor = DriftMonitor::new();
        for _ in 0..30 {
            monitor.observe(0.8);
        }
        saved.train["drift"] = monitor.to_json();
        std::fs::write(&path, saved.to_bytes().unwrap()).unwrap();
        let StateFile::Loaded { drift, .. } = read_state(&path, &ckpt.spec) else {
            panic!("valid state refused");
        };
        assert_eq!(drift, Some(monitor));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// An int8 scale of 3e38 made a learning device save 339 infinities, a state it then
    /// refused at every boot, so nothing was ever saved again. Such a state is not written.
    #[test]
    fn a_state_with_infinite_weights_is_not_saved_and_the_last_good_one_stays() {
        let dir = temp("non-finite");
        let path = dir.join("state");
        let good = Checkpoint::from_bytes(plastic_models::DEFAULT_CHECKPOINT).unwrap();
        write_state(&path, &good).unwrap();
        let saved = std::fs::read(&path).unwrap();
        let mut bad = good.clone();
        let (rows, cols) = (bad.spec.layers[0].outputs, bad.spec.layers[0].inputs);
        let mut w = vec![0.1f32; rows * cols];
        w[..339].fill(f32::INFINITY);
        bad.layers[0].weight = plastic_models::Weights::F32(w);
        let err = write_state(&path, &bad).unwrap_err();
        assert!(matches!(err, SaveError::Invalid(_)), "{err}");
        assert!(err.to_string().contains("339"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), saved);
        assert!(matches!(
            read_state(&path, &good.spec),
            StateFile::Loaded { .. }
        ));
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// `/dev/zero` as the state was read until memory ran out.
    #[cfg(unix)]
    #[test]
    fn a_device_file_as_the_state_is_refused_unread() {
        let spec = Checkpoint::from_bytes(plastic_models::DEFAULT_CHECKPOINT)
            .unwrap()
            .spec;
        let StateFile::Refused { reason } = read_state(Path::new("/dev/zero"), &spec) else {
            panic!("/dev/zero accepted as a state");
        };
        assert!(reason.contains("not a regular file"), "{reason}");
    }
}
