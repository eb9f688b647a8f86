//! Where the model comes from: a checkpoint file, or the one built into the binary.
//!
//! Why a built-in model: a device boots without a file system full of checkpoints, and a bare
//! `plastic-sim` should demonstrate something. Both paths go through the same validating reader,
//! so a bad file and a bad placeholder fail the same way, with the culprit named.

use std::path::Path;

use plastic_runtime::Model;

use crate::error::Error;

/// Loads `path` as a `plastic/1` checkpoint (f32 or int8), or the built-in default model
/// ([`plastic_models::DEFAULT_CHECKPOINT`]) when no path is given.
pub fn load_model(path: Option<&Path>) -> Result<Model, Error> {
    match path {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|source| Error::ReadModel {
                path: path.to_path_buf(),
                source,
            })?;
            Model::from_bytes(&bytes).map_err(|source| Error::BadModel {
                path: path.to_path_buf(),
                source,
            })
        }
        None => Model::from_bytes(plastic_models::DEFAULT_CHECKPOINT).map_err(Error::DefaultModel),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_garbage_files_name_the_path() {
        let missing = std::env::temp_dir().join("plastic-sim-no-such-model.safetensors");
        let err = load_model(Some(&missing)).unwrap_err();
        assert!(matches!(err, Error::ReadModel { .. }));
        assert!(err.to_string().contains("plastic-sim-no-such-model"));

        let garbage =
            std::env::temp_dir().join(format!("plastic-sim-garbage-{}", std::process::id()));
        std::fs::write(&garbage, b"\x10\x00\x00\x00\x00\x00\x00\x00{not json").unwrap();
        let err = load_model(Some(&garbage)).unwrap_err();
        std::fs::remove_file(&garbage).unwrap();
        assert!(matches!(err, Error::BadModel { .. }), "{err}");
        assert!(err.to_string().contains(&*garbage.to_string_lossy()));
    }
}
