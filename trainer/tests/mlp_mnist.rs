//! MLPs trained by backprop, feedback alignment, direct feedback alignment and sign symmetry on
//! a slice of real MNIST: each learns, FA keeps and saves its fixed matrices, the hidden-layer
//! updates of FA and sign symmetry point within 90 degrees of the true gradient, and the
//! runtime runs the checkpoints.
//! Needs the shared data folder; skips with a message without.

mod common;

use candle_core::{Device, Tensor};
use plastic_models::Checkpoint;
use plastic_trainer::data::DatasetKind;
use plastic_trainer::experiment::{RunOptions, TrainingRun, channel_stats, train_mlp};
use plastic_trainer::features;
use plastic_trainer::labelled::Labelled;
use plastic_trainer::mlp::{self, Feedback, Mlp, MlpConfig};
use plastic_trainer::preset::Preset;

fn small_preset(model: &str) -> Preset {
    let mut p = Preset::load(&format!("{model}-mnist")).unwrap();
    let m = p.mlp_mut().unwrap();
    m.hidden = vec![256];
    m.epochs = 15;
    m.lr0 = 3e-3;
    m.lr_end = 3e-4;
    p
}

#[test]
fn bp_fa_dfa_and_sign_symmetry_learn_and_the_runtime_runs_their_checkpoints() {
    let Some(split) = common::mnist_slice(6000, 1000) else {
        return;
    };
    let options = RunOptions {
        seed: 3,
        device_name: "cpu".into(),
        progress: false,
    };
    for model in ["mlp-bp", "mlp-fa", "mlp-dfa", "mlp-ss"] {
        let ckpt = train_mlp(&TrainingRun {
            preset: &small_preset(model),
            kind: DatasetKind::Mnist,
            split: &split,
            device: &Device::Cpu,
            options: &options,
        })
        .unwrap();
        let acc = ckpt.metrics["test_accuracy"].as_f64().unwrap();
        // 6000 digits, 15 epochs, 256 hidden units (measured: BP 93.8 %, FA and DFA 92.0 %, SS 93.9 %;
        // with one hidden layer FA and DFA draw the same matrix and coincide).
        eprintln!("{model}: {acc}");
        assert!(acc > 0.9, "{model} reached only {acc}");
        let bytes = ckpt.to_bytes().unwrap();
        let back = Checkpoint::from_bytes(&bytes).unwrap();
        assert_eq!(
            back.layers, ckpt.layers,
            "{model}: feedback matrices survive the file"
        );
        let runtime_acc = common::runtime_accuracy(&bytes, &split.test);
        assert!(
            (runtime_acc - acc).abs() < 0.002,
            "{model}: runtime {runtime_acc} vs trainer {acc}"
        );
    }
}

#[test]
fn fa_keeps_b_fixed_and_its_updates_align_with_backprop() {
    let Some(split) = common::mnist_slice(6000, 1000) else {
        return;
    };
    let (x, y, xt, yt) = inputs(&split);
    let dev = Device::Cpu;
    let cfg = two_epochs_of(Feedback::Alignment);
    let fresh = Mlp::new(&cfg.sizes, Feedback::Alignment, 5, &dev).unwrap();
    let trained = mlp::train(&cfg, labelled(&x, &y, &xt, &yt), 5, |_| {}).unwrap();
    for (a, b) in fresh.feedback.iter().zip(&trained.feedback) {
        match (a, b) {
            (Some(a), Some(b)) => {
                let (a, b) = (
                    a.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
                    b.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
                );
                assert!(a == b, "a feedback matrix changed during training");
            }
            (None, None) => {}
            _ => panic!("feedback matrices appeared or vanished"),
        }
    }
    // After training, FA's update of each hidden layer is within 90 degrees of backprop's.
    assert_hidden_updates_align(&trained, Feedback::Alignment, &x, &y);
}

#[test]
fn sign_symmetry_updates_align_with_backprop() {
    let Some(split) = common::mnist_slice(6000, 1000) else {
        return;
    };
    let (x, y, xt, yt) = inputs(&split);
    let cfg = two_epochs_of(Feedback::SignSymmetry);
    let trained = mlp::train(&cfg, labelled(&x, &y, &xt, &yt), 5, |_| {}).unwrap();
    assert_hidden_updates_align(&trained, Feedback::SignSymmetry, &x, &y);
}

/// A 784-256-256-10 network trained by `feedback` for 2 epochs at a constant rate: long enough
/// for the feedback's updates to settle into their alignment with backprop.
fn two_epochs_of(feedback: Feedback) -> MlpConfig {
    MlpConfig {
        sizes: vec![784, 256, 256, 10],
        feedback,
        epochs: 2,
        batch: 100,
        lr0: 1e-3,
        lr_end: 1e-3,
    }
}

/// The training and test inputs of a split, as the MLP trainer standardises them.
fn inputs(split: &plastic_trainer::data::Split) -> (Tensor, Vec<u32>, Tensor, Vec<u32>) {
    let pre = channel_stats(&split.train);
    let dev = Device::Cpu;
    let x = features::inputs(&split.train, &pre).unwrap();
    let x = Tensor::from_vec(x, (split.train.len(), 784), &dev).unwrap();
    let xt = features::inputs(&split.test, &pre).unwrap();
    let xt = Tensor::from_vec(xt, (split.test.len(), 784), &dev).unwrap();
    (
        x,
        features::labels(&split.train),
        xt,
        features::labels(&split.test),
    )
}

/// Asserts that `kind`'s update of each hidden layer of `net` points within 90 degrees of the
/// backprop gradient, on the first 500 training samples.
fn assert_hidden_updates_align(net: &Mlp, kind: Feedback, x: &Tensor, y: &[u32]) {
    let dev = Device::Cpu;
    let idx = Tensor::arange(0u32, 500, &dev).unwrap();
    let (xb, yb) = (
        x.index_select(&idx, 0).unwrap(),
        Tensor::from_slice(&y[..500], 500, &dev).unwrap(),
    );
    let (_, rule) = net.gradients_as(&xb, &yb, kind).unwrap();
    let (_, bp) = net.gradients_as(&xb, &yb, Feedback::Backprop).unwrap();
    for l in 0..net.weights.len() - 1 {
        let w = net.weights[l].as_tensor();
        let flat = |g: &candle_core::backprop::GradStore| {
            g.get(w)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        };
        let (a, b) = (flat(&rule), flat(&bp));
        let dot: f32 = a.iter().zip(&b).map(|(p, q)| p * q).sum();
        let na = a.iter().map(|p| p * p).sum::<f32>().sqrt();
        let nb = b.iter().map(|q| q * q).sum::<f32>().sqrt();
        let cos = dot / (na * nb);
        eprintln!("layer {l}: cos({kind:?} update, BP gradient) = {cos:.3}");
        assert!(
            cos > 0.0,
            "layer {l}: the {kind:?} update is {} degrees from BP",
            cos.acos().to_degrees()
        );
    }
}

/// The four pieces as one [`Labelled`].
fn labelled<'a>(x: &'a Tensor, y: &'a [u32], xt: &'a Tensor, yt: &'a [u32]) -> Labelled<'a> {
    Labelled {
        x_train: x,
        y_train: y,
        x_test: xt,
        y_test: yt,
    }
}
