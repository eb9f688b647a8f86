//! Small checkpoints that unit tests compute by hand.

use alloc::vec;
use alloc::vec::Vec;
use plastic_models::{
    Activation, Checkpoint, Conv2d, InputSpec, LayerKind, LayerSpec, LayerTensors, ModelSpec,
    Preprocess, Weights,
};

/// A 3x3 gray input (`scale01`), a convolution of 2x2 filters `weights` (four values per
/// filter) with `bias`, of layer kind `kind`, each filter's four outputs max-pooled to one and
/// passed through `activation`; then a dense layer without bias, `readout` (one row of a
/// weight per filter for each output).
pub(crate) fn tiny_conv(
    kind: LayerKind,
    weights: Vec<f32>,
    bias: Option<Vec<f32>>,
    activation: Activation,
    readout: Vec<f32>,
) -> Checkpoint {
    let filters = weights.len() / 4;
    let conv = Conv2d {
        in_channels: 1,
        height: 3,
        width: 3,
        out_channels: filters,
        kernel: 2,
        padding: 0,
        pool: 2,
        ..Default::default()
    };
    Checkpoint {
        spec: ModelSpec {
            name: "c".into(),
            input: InputSpec {
                width: 3,
                height: 3,
                channels: 1,
                preprocess: Preprocess::Scale01,
            },
            layers: vec![
                LayerSpec {
                    kind,
                    inputs: 9,
                    outputs: filters,
                    bias: bias.is_some(),
                    activation,
                    conv: Some(conv),
                },
                LayerSpec {
                    kind: LayerKind::Dense,
                    inputs: filters,
                    outputs: readout.len() / filters,
                    bias: false,
                    activation: Activation::Identity,
                    conv: None,
                },
            ],
            classes: vec![],
        },
        layers: vec![
            LayerTensors {
                weight: Weights::F32(weights),
                bias,
                feedback: None,
            },
            LayerTensors {
                weight: Weights::F32(readout),
                bias: None,
                feedback: None,
            },
        ],
        train: serde_json::Value::Null,
        metrics: serde_json::Value::Null,
    }
}
