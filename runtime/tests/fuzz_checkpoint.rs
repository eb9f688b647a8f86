//! Fuzzing of everything a checkpoint file reaches: `Checkpoint::from_bytes`, then for a file
//! that loads `Model::from_checkpoint` with one inference and `AdaptiveModel::from_checkpoint`
//! (each master precision) with one inference, one unsupervised step and one label. Inputs are
//! mutations of small valid checkpoints of each model kind (see `models/tests/support/fuzz.rs`
//! for the mutations). Errors are fine; a panic or an allocation beyond the bound fails.
//!
//! `PLASTIC_FUZZ_CASES=10000 cargo test --release -p plastic-runtime --test fuzz_checkpoint`
//! runs a longer campaign (docs/RESULTS.md).

#[path = "../../models/tests/support/fuzz.rs"]
mod fuzz;

use plastic_models::{Checkpoint, LayerTensors, ModelSpec, Weights};
use plastic_runtime::adaptive::LabelRates;
use plastic_runtime::plastic::{Guards, MasterPrecision};
use plastic_runtime::{AdaptiveModel, Model};
use serde_json::json;

#[global_allocator]
static ALLOC: fuzz::Peak = fuzz::Peak;

/// Largest single allocation a case may make: the inputs are at most a few hundred KB.
const MAX_ALLOC: usize = 64 << 20;

fn spec(json: serde_json::Value) -> ModelSpec {
    ModelSpec::from_json(&json.to_string()).unwrap()
}

fn values(rng: &mut fuzz::Rng, n: usize, scale: f32) -> Vec<f32> {
    (0..n)
        .map(|_| ((rng.next_u64() % 2001) as f32 / 1000.0 - 1.0) * scale)
        .collect()
}

fn int8(rng: &mut fuzz::Rng, rows: usize, cols: usize) -> Weights {
    Weights::Int8 {
        q: (0..rows * cols).map(|_| rng.next_u64() as i8).collect(),
        scale: values(rng, rows, 0.05).iter().map(|v| v.abs()).collect(),
    }
}

/// Small valid checkpoints of each model kind: Krotov with int8 and with f32 weights (the
/// adaptive path), an MLP with feedback alignment, a convolution, and the shipped model.
fn seeds() -> Vec<Vec<u8>> {
    let mut rng = fuzz::Rng::new("seeds", 0);
    let krotov = spec(json!({
        "name": "krotov",
        "input": {"width": 4, "height": 4, "channels": 1, "preprocess": {"kind": "unit_norm"}},
        "layers": [
            {"kind": {"kind": "krotov", "p": 3.0, "k": 2, "delta": 0.4}, "inputs": 16,
             "outputs": 8, "bias": false, "activation": {"kind": "rectified_power", "n": 4.5}},
            {"kind": {"kind": "dense"}, "inputs": 8, "outputs": 3, "bias": false,
             "activation": {"kind": "tanh", "beta": 1.0}}],
        "classes": ["a", "b", "c"]
    }));
    let krotov_int8 = Checkpoint {
        spec: krotov.clone(),
        layers: vec![
            LayerTensors {
                weight: int8(&mut rng, 8, 16),
                bias: None,
                feedback: None,
            },
            LayerTensors {
                weight: int8(&mut rng, 3, 8),
                bias: None,
                feedback: None,
            },
        ],
        train: json!({"dataset": "mnist"}),
        metrics: json!({"test_accuracy": 0.5}),
    };
    let mut krotov_linear = krotov.clone();
    krotov_linear.layers[1].bias = true;
    krotov_linear.layers[1].activation = plastic_models::Activation::Identity;
    let krotov_f32 = Checkpoint {
        spec: krotov_linear,
        layers: vec![
            LayerTensors {
                weight: Weights::F32(values(&mut rng, 128, 0.3)),
                bias: None,
                feedback: None,
            },
            LayerTensors {
                weight: Weights::F32(values(&mut rng, 24, 1.0)),
                bias: Some(values(&mut rng, 3, 0.1)),
                feedback: None,
            },
        ],
        train: serde_json::Value::Null,
        metrics: serde_json::Value::Null,
    };
    let mlp = Checkpoint {
        spec: spec(json!({
            "name": "mlp-fa",
            "input": {"width": 4, "height": 2, "channels": 2,
                      "preprocess": {"kind": "mean_std", "mean": [0.5, 0.4], "std": [0.25, 0.3]}},
            "layers": [
                {"kind": {"kind": "dense"}, "inputs": 16, "outputs": 6, "bias": true,
                 "activation": {"kind": "relu"}},
                {"kind": {"kind": "feedback_alignment"}, "inputs": 6, "outputs": 3, "bias": true,
                 "activation": {"kind": "identity"}}],
            "classes": []
        })),
        layers: vec![
            LayerTensors {
                weight: Weights::F32(values(&mut rng, 96, 0.5)),
                bias: Some(values(&mut rng, 6, 0.1)),
                feedback: None,
            },
            LayerTensors {
                weight: int8(&mut rng, 3, 6),
                bias: Some(values(&mut rng, 3, 0.1)),
                feedback: Some(values(&mut rng, 18, 1.0)),
            },
        ],
        train: json!({"seed": 3}),
        metrics: serde_json::Value::Null,
    };
    let cnn = Checkpoint {
        spec: spec(json!({
            "name": "cnn",
            "input": {"width": 6, "height": 6, "channels": 1, "preprocess": {"kind": "scale01"}},
            "layers": [
                {"kind": {"kind": "dense"}, "inputs": 36, "outputs": 18, "bias": true,
                 "activation": {"kind": "relu"},
                 "conv": {"in_channels": 1, "height": 6, "width": 6, "out_channels": 2,
                          "kernel": 3, "padding": 1, "pool": 2}},
                {"kind": {"kind": "dense"}, "inputs": 18, "outputs": 2, "bias": true,
                 "activation": {"kind": "identity"}}],
            "classes": ["x", "y"]
        })),
        layers: vec![
            LayerTensors {
                weight: int8(&mut rng, 2, 9),
                bias: Some(values(&mut rng, 2, 0.1)),
                feedback: None,
            },
            LayerTensors {
                weight: Weights::F32(values(&mut rng, 36, 0.5)),
                bias: Some(values(&mut rng, 2, 0.1)),
                feedback: None,
            },
        ],
        train: serde_json::Value::Null,
        metrics: json!({}),
    };
    // SoftHebb's block: reflected padding, overlapping padded max-pooling, the triangle.
    let softhebb = Checkpoint {
        spec: spec(json!({
            "name": "softhebb",
            "input": {"width": 6, "height": 6, "channels": 1, "preprocess": {"kind": "scale01"}},
            "layers": [
                {"kind": {"kind": "soft_hebb", "inv_tau": 0.65}, "inputs": 36, "outputs": 27,
                 "bias": true, "activation": {"kind": "triangle", "power": 1.4},
                 "conv": {"in_channels": 1, "height": 6, "width": 6, "out_channels": 3,
                          "kernel": 3, "padding": 1, "pool": 4, "padding_mode": "reflect",
                          "pool_stride": 2, "pool_padding": 1}},
                {"kind": {"kind": "dense"}, "inputs": 27, "outputs": 2, "bias": true,
                 "activation": {"kind": "identity"}}],
            "classes": ["x", "y"]
        })),
        layers: vec![
            LayerTensors {
                weight: Weights::F32(values(&mut rng, 27, 0.5)),
                bias: Some(values(&mut rng, 3, 0.1)),
                feedback: None,
            },
            LayerTensors {
                weight: int8(&mut rng, 2, 27),
                bias: Some(values(&mut rng, 2, 0.1)),
                feedback: None,
            },
        ],
        train: serde_json::Value::Null,
        metrics: json!({}),
    };
    [krotov_int8, krotov_f32, mlp, cnn, softhebb]
        .iter()
        .map(|c| c.to_bytes().unwrap())
        .collect()
}

/// One input through everything a file reaches; true when the checkpoint loaded.
fn exercise(bytes: &[u8]) -> bool {
    let Ok(ckpt) = Checkpoint::from_bytes(bytes) else {
        return false;
    };
    // What loads writes, and reads back the same (writers refuse only what readers refuse).
    // (The JSON provenance is compared loosely: serde_json's float text round trip is not
    // exact to the last bit, e.g. 1e-45.)
    let again = ckpt
        .to_bytes()
        .expect("a checkpoint that loaded could not be written");
    let back = Checkpoint::from_bytes(&again).expect("a checkpoint written could not be read");
    assert!(
        back.spec == ckpt.spec && back.layers == ckpt.layers,
        "a checkpoint changed when written and read again"
    );

    let n = ckpt.spec.input_len();
    let pixels: Vec<u8> = (0..n).map(|i| (i * 97 % 256) as u8).collect();
    let mut input = vec![0.0f32; n];
    if plastic_runtime::preprocess::normalize(&pixels, &ckpt.spec.input.preprocess, &mut input)
        .is_err()
    {
        input.fill(0.25);
    }
    if let Ok(model) = Model::from_checkpoint(&ckpt) {
        let mut ws = model.workspace();
        let _ = model.infer(&input, &mut ws);
    }
    for precision in [
        MasterPrecision::F32,
        MasterPrecision::F16,
        MasterPrecision::Q16,
    ] {
        let Ok(mut adaptive) = AdaptiveModel::from_checkpoint(&ckpt, precision, Guards::default())
        else {
            continue;
        };
        let _ = adaptive.infer(&input);
        let _ = adaptive.adapt_unsupervised(&input, 0.02);
        let rates = LabelRates {
            eta: 0.05,
            eps: 0.02,
            recruit: true,
        };
        let _ = adaptive.learn_label(&input, 0, rates);
        let _ = adaptive.infer(&input);
        let _ = adaptive
            .checkpoint(json!({}), serde_json::Value::Null)
            .to_bytes();
    }
    true
}

#[test]
fn mutated_checkpoints_never_panic_nor_allocate_without_bound() {
    let seeds = seeds();
    for seed in &seeds {
        assert!(exercise(seed), "a seed does not load");
    }
    let (accepted, refused) = fuzz::run(
        "checkpoint",
        fuzz::cases(1000),
        MAX_ALLOC,
        |rng| {
            // The shipped model (784-400-10, 320 KB) in one case in 25.
            if rng.below(25) == 0 {
                fuzz::mutate_safetensors(rng, plastic_models::DEFAULT_CHECKPOINT)
            } else {
                let seed = rng.pick(&seeds).clone();
                fuzz::mutate_safetensors(rng, &seed)
            }
        },
        exercise,
    );
    // Both paths were exercised: mutants that still load, and refused ones.
    assert!(
        accepted > 0 && refused > 0,
        "{accepted} accepted, {refused} refused"
    );
}
