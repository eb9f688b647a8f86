//! The trainer's candle forward pass and the runtime's agree on small random checkpoints of
//! every layer kind (a Krotov layer with its power/tanh readout, an MLP with biases, a
//! convolution with padding and pooling), so the equality holds without any dataset: the tests
//! on real digits check the same on trained models when the data is there.

use candle_core::Device;
use plastic_models::{
    Activation, Checkpoint, Conv2d, InputSpec, LayerKind, LayerSpec, LayerTensors, ModelSpec,
    Preprocess, Weights,
};
use plastic_runtime::Model;
use plastic_trainer::experiment::forward;

/// A checkpoint of `layers` on a 28x28 gray input, random weights and biases.
fn random_checkpoint(layers: Vec<LayerSpec>, seed: u64) -> Checkpoint {
    let mut rng = plastic_trainer::rng::seeded(seed);
    let tensors = layers
        .iter()
        .map(|l| {
            let len: usize = l.weight_shape().iter().product();
            LayerTensors {
                weight: Weights::F32(rng.normal_vec(len, 0.2)),
                bias: l.bias.then(|| rng.normal_vec(l.rows(), 0.1)),
                feedback: None,
            }
        })
        .collect();
    let classes = layers.last().map_or(0, |l| l.outputs);
    let ckpt = Checkpoint {
        spec: ModelSpec {
            name: "random".into(),
            input: InputSpec {
                width: 28,
                height: 28,
                channels: 1,
                preprocess: Preprocess::UnitNorm,
            },
            layers,
            classes: (0..classes).map(|c| c.to_string()).collect(),
        },
        layers: tensors,
        train: serde_json::json!({}),
        metrics: serde_json::Value::Null,
    };
    ckpt.validate().expect("a valid random checkpoint");
    ckpt
}

fn dense(kind: LayerKind, inputs: usize, outputs: usize, bias: bool, a: Activation) -> LayerSpec {
    LayerSpec {
        kind,
        inputs,
        outputs,
        bias,
        activation: a,
        conv: None,
    }
}

/// The largest difference between the trainer's and the runtime's outputs on 20 random
/// unit-norm inputs.
fn worst_difference(ckpt: &Checkpoint) -> f32 {
    let mut rng = plastic_trainer::rng::seeded(7);
    let x: Vec<f32> = (0..20)
        .flat_map(|_| {
            let v = rng.uniform_vec(784, 1.0);
            let v: Vec<f32> = v.into_iter().map(f32::abs).collect();
            let norm = v.iter().map(|a| a * a).sum::<f32>().sqrt();
            v.into_iter().map(move |a| a / norm)
        })
        .collect();
    let expected = forward(ckpt, &x, &Device::Cpu)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    let model = Model::from_checkpoint(ckpt).unwrap();
    let mut ws = model.workspace();
    let mut worst = 0.0f32;
    for (v, e) in x.chunks_exact(784).zip(&expected) {
        model.infer(v, &mut ws).unwrap();
        for (a, b) in ws.outputs(&model).iter().zip(e) {
            worst = worst.max((a - b).abs());
        }
    }
    worst
}

#[test]
fn a_krotov_layer_and_its_power_tanh_readout_compute_alike() {
    for (n, p) in [(4.5, 2.0), (4.5, 3.0), (3.0, 4.5)] {
        let ckpt = random_checkpoint(
            vec![
                dense(
                    LayerKind::Krotov {
                        p,
                        k: 3,
                        delta: 0.4,
                    },
                    784,
                    24,
                    false,
                    Activation::RectifiedPower { n },
                ),
                dense(
                    LayerKind::Dense,
                    24,
                    10,
                    false,
                    Activation::Tanh { beta: 1.0 },
                ),
            ],
            1,
        );
        let worst = worst_difference(&ckpt);
        assert!(worst < 1e-5, "n = {n}, p = {p}: differ by {worst}");
    }
}

#[test]
fn an_mlp_with_biases_computes_alike() {
    let ckpt = random_checkpoint(
        vec![
            dense(LayerKind::Dense, 784, 32, true, Activation::Relu),
            dense(LayerKind::Dense, 32, 10, true, Activation::Identity),
        ],
        2,
    );
    let worst = worst_difference(&ckpt);
    assert!(worst < 1e-5, "differ by {worst}");
}

#[test]
fn a_convolution_with_padding_and_pooling_computes_alike() {
    let conv = Conv2d {
        in_channels: 1,
        height: 28,
        width: 28,
        out_channels: 4,
        kernel: 5,
        padding: 2,
        pool: 2,
        ..Default::default()
    };
    let out = conv.output_len();
    let ckpt = random_checkpoint(
        vec![
            LayerSpec {
                kind: LayerKind::Dense,
                inputs: conv.input_len(),
                outputs: out,
                bias: true,
                activation: Activation::Relu,
                conv: Some(conv),
            },
            dense(LayerKind::Dense, out, 10, true, Activation::Identity),
        ],
        3,
    );
    let worst = worst_difference(&ckpt);
    assert!(worst < 1e-5, "differ by {worst}");
}
