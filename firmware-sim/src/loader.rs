//! Where the model comes from: a checkpoint file, or the one built into the binary; and what
//! runs it: a frozen [`Model`], an [`AdaptiveModel`] that can learn, or an [`AdaptiveReadout`]
//! whose readout learns from labels.
//!
//! Why a built-in model: a device boots without a file system full of checkpoints, and a bare
//! `plastic-sim` should demonstrate something. Both paths go through the same validating reader,
//! so a bad file and a bad placeholder fail the same way, with the culprit named.

use std::path::Path;

use plastic_models::Checkpoint;
use plastic_models::Error::InvalidSpec;
use plastic_models::limits::MAX_CHECKPOINT_BYTES;
use plastic_runtime::input_file::read_regular_file;
use plastic_runtime::plastic::{Guards, MasterPrecision};
use plastic_runtime::{AdaptiveModel, AdaptiveReadout, Model};

use crate::adapt::AdaptMode;
use crate::error::Error;
use crate::pipeline::Engine;

/// Loads `path` as a `plastic/1` checkpoint (f32 or int8), or the device's built-in model
/// ([`plastic_models::DEVICE_CHECKPOINT`]) when no path is given. Only a regular file of at
/// most [`MAX_CHECKPOINT_BYTES`] is read: a device or a FIFO is refused, not read forever.
pub fn load_checkpoint(path: Option<&Path>) -> Result<Checkpoint, Error> {
    match path {
        Some(path) => {
            let bytes = read_regular_file(path, MAX_CHECKPOINT_BYTES).map_err(|source| {
                Error::ReadModel {
                    path: path.to_path_buf(),
                    source,
                }
            })?;
            Checkpoint::from_bytes(&bytes).map_err(|e| Error::BadModel {
                path: path.to_path_buf(),
                source: e.into(),
            })
        }
        None => Checkpoint::from_bytes(plastic_models::DEVICE_CHECKPOINT)
            .map_err(|e| Error::DefaultModel(e.into())),
    }
}

/// Loads a checkpoint as a frozen [`Model`] (see [`load_checkpoint`]).
pub fn load_model(path: Option<&Path>) -> Result<Model, Error> {
    let ckpt = load_checkpoint(path)?;
    Model::from_checkpoint(&ckpt).map_err(|source| match path {
        Some(path) => Error::BadModel {
            path: path.to_path_buf(),
            source,
        },
        None => Error::DefaultModel(source),
    })
}

/// What runs a checkpoint in `mode`. A Krotov layer with one readout always runs as an
/// [`AdaptiveModel`] (Q16 master: the int8 weights plus a residual plane; default guards), in
/// `off` mode too, so frozen and adapting devices answer identically until the first learning
/// step. Any other model runs frozen, or, learning, as an [`AdaptiveReadout`] (its layers as
/// shipped, its readout learning from labels); without labels a model has something to learn
/// only if it reads 28x28 digits (the digit warp) or has convolutions (their channels'
/// statistics, see `plastic_runtime::channel_stats`), and `unsupervised` on any other is an
/// error that says so.
pub fn engine_for(ckpt: &Checkpoint, mode: AdaptMode) -> Result<Engine, plastic_runtime::Error> {
    match AdaptiveModel::from_checkpoint(ckpt, MasterPrecision::Q16, Guards::default()) {
        Ok(model) => Ok(model.into()),
        Err(_) if !mode.learns() => Ok(Model::from_checkpoint(ckpt)?.into()),
        Err(_)
            if mode == AdaptMode::Unsupervised
                && !is_digit_model(ckpt)
                && !has_convolutions(ckpt) =>
        {
            Err(plastic_runtime::Error::Checkpoint(InvalidSpec(
                "without labels only a Krotov layer, the digit warp of a 28x28 digit model or \
                 the channel statistics of a convolutional one learn; this model's readout \
                 learns from labels (--adapt labels:RATE)"
                    .into(),
            )))
        }
        Err(_) => Ok(AdaptiveReadout::from_checkpoint(ckpt)?.into()),
    }
}

/// Whether the model reads 28x28 gray digits (what the digit warp undoes views of).
fn is_digit_model(ckpt: &Checkpoint) -> bool {
    let input = &ckpt.spec.input;
    (input.width, input.height, input.channels) == (28, 28, 1)
}

/// Whether the model has convolutions (whose input channels' statistics a device aligns).
fn has_convolutions(ckpt: &Checkpoint) -> bool {
    ckpt.spec.layers.iter().any(|l| l.conv.is_some())
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

    /// `/dev/zero` as the model was read until memory ran out.
    #[cfg(unix)]
    #[test]
    fn a_device_file_as_the_model_is_refused() {
        let err = load_model(Some(Path::new("/dev/zero"))).unwrap_err();
        assert!(matches!(err, Error::ReadModel { .. }), "{err}");
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }

    #[test]
    fn the_built_in_model_learns_through_its_readout_in_every_learning_mode() {
        let ckpt = load_checkpoint(None).unwrap();
        assert!(!engine_for(&ckpt, AdaptMode::Off).unwrap().learns());
        for mode in [AdaptMode::Unsupervised, AdaptMode::Labels(0.1)] {
            let engine = engine_for(&ckpt, mode).unwrap();
            assert!(engine.learns() && engine.is_readout(), "{mode:?}");
        }
        // The Krotov demo learns through its Krotov layer, also when it is not asked to.
        let krotov = Checkpoint::from_bytes(plastic_models::DEFAULT_CHECKPOINT).unwrap();
        for mode in [
            AdaptMode::Off,
            AdaptMode::Unsupervised,
            AdaptMode::Labels(0.1),
        ] {
            assert!(engine_for(&krotov, mode).unwrap().adaptive().is_some());
        }
    }

    /// A model of 4x4 RGB images: a 1x1 convolution to 2 channels (or, without `conv`, a
    /// dense layer of the same size), then a dense readout to 10 classes.
    fn colour_model(conv: bool) -> Checkpoint {
        use plastic_models::{
            Activation, Conv2d, InputSpec, LayerKind, LayerSpec, LayerTensors, ModelSpec,
            Preprocess, Weights,
        };
        let layer = |inputs, outputs, conv| LayerSpec {
            kind: LayerKind::Dense,
            inputs,
            outputs,
            bias: false,
            activation: Activation::Relu,
            conv,
        };
        let conv = conv.then_some(Conv2d {
            in_channels: 3,
            height: 4,
            width: 4,
            out_channels: 2,
            kernel: 1,
            pool: 1,
            ..Default::default()
        });
        let first = if conv.is_some() { 6 } else { 48 * 32 };
        let weights = |n: usize| LayerTensors {
            weight: Weights::F32(vec![0.1; n]),
            bias: None,
            feedback: None,
        };
        Checkpoint {
            spec: ModelSpec {
                name: "colour".into(),
                input: InputSpec {
                    width: 4,
                    height: 4,
                    channels: 3,
                    preprocess: Preprocess::Scale01,
                },
                layers: vec![layer(48, 32, conv), layer(32, 10, None)],
                classes: vec![],
            },
            layers: vec![weights(first), weights(320)],
            train: serde_json::Value::Null,
            metrics: serde_json::Value::Null,
        }
    }

    #[test]
    fn without_labels_a_convolutional_model_aligns_its_channels_and_a_dense_one_is_refused() {
        let conv = colour_model(true);
        assert!(engine_for(&conv, AdaptMode::Unsupervised).is_ok());
        let err = engine_for(&colour_model(false), AdaptMode::Unsupervised)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("channel statistics") && err.contains("--adapt labels:RATE"),
            "{err}"
        );
        assert!(engine_for(&colour_model(false), AdaptMode::Labels(0.1)).is_ok());
    }
}
