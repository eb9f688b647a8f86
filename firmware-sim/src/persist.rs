//! Crash-safe persistence of what the device learned (`--state FILE`).
//!
//! Saving goes through the runtime's [`plastic_runtime::persist::write_atomically`] (temp file,
//! fsync, rename, fsync of the folder), so a power cut leaves the old state or the new one.
//!
//! Why a refused file is kept: a state file that does not load (truncated by a bad card,
//! written by another model, holding NaN) may still be what someone wants to inspect or
//! recover. The device runs from the shipped model instead and does not write over it.

use std::path::Path;

use plastic_models::Checkpoint;

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
    let bytes = match std::fs::read(path) {
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
}
