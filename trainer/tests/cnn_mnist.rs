//! The CNN and CNN + FA on a slice of real MNIST: both train to a usable model that the
//! runtime runs with the trainer's accuracy, and the convolutions under the FA head stay
//! bit-identical while the head trains (the reference's kept training). Needs the shared data
//! folder; skips without.

mod common;

use candle_core::{Device, Tensor};
use plastic_models::Weights;
use plastic_trainer::cnn::{Augmentation, ConvConfig, ConvStack, FrozenConvs, TrainedConvs};
use plastic_trainer::data::DatasetKind;
use plastic_trainer::experiment::{RunOptions, TrainingRun, channel_stats, train_cnn};
use plastic_trainer::features;
use plastic_trainer::labelled::Labelled;
use plastic_trainer::mlp::{Feedback, Mlp, MlpConfig, fit};
use plastic_trainer::preset::Preset;

fn options() -> RunOptions {
    RunOptions {
        seed: 3,
        device_name: "cpu".into(),
        progress: false,
    }
}

fn preset(model: &str, epochs: usize) -> Preset {
    let mut p = Preset::load(&format!("{model}-mnist")).unwrap();
    p.set_epochs(epochs);
    p
}

#[test]
fn cnn_trains_and_the_runtime_runs_it_with_the_same_accuracy() {
    let Some(split) = common::mnist_slice(6000, 1000) else {
        return;
    };
    let ckpt = train_cnn(&TrainingRun {
        preset: &preset("cnn", 3),
        kind: DatasetKind::Mnist,
        split: &split,
        device: &Device::Cpu,
        options: &options(),
    })
    .unwrap();
    let trained = ckpt.metrics["test_accuracy"].as_f64().unwrap();
    // Measured 91.5 % (the preset's random shifts slow it on so few digits; 99.03 % on all
    // of MNIST in 10 epochs).
    assert!(trained > 0.89, "CNN on 6000 digits, 3 epochs: {trained}");
    assert!(ckpt.spec.layers[0].conv.is_some() && ckpt.spec.layers[1].conv.is_some());
    let bytes = ckpt.to_bytes().unwrap();
    let runtime = common::runtime_accuracy(&bytes, &split.test);
    assert!(
        (runtime - trained).abs() < 0.002,
        "runtime {runtime} vs trainer {trained}"
    );
}

#[test]
fn cnn_fa_trains_its_head_by_feedback_alignment_and_saves_b() {
    let Some(split) = common::mnist_slice(6000, 1000) else {
        return;
    };
    let ckpt = train_cnn(&TrainingRun {
        preset: &preset("cnn-fa", 3),
        kind: DatasetKind::Mnist,
        split: &split,
        device: &Device::Cpu,
        options: &options(),
    })
    .unwrap();
    let accuracy = ckpt.metrics["test_accuracy"].as_f64().unwrap();
    // Measured 85.9 % (98.86 % on all of MNIST in 10 + 10 epochs).
    assert!(accuracy > 0.82, "CNN + FA head on 6000 digits: {accuracy}");
    // The head's second layer carries its fixed feedback matrix, 10 x 50.
    let fb = ckpt.layers[3].feedback.as_ref().expect("B is saved");
    assert_eq!(fb.len(), 10 * 50);
    let bytes = ckpt.to_bytes().unwrap();
    let runtime = common::runtime_accuracy(&bytes, &split.test);
    assert!(
        (runtime - accuracy).abs() < 0.002,
        "{runtime} vs {accuracy}"
    );
}

fn conv_weights(stack: &ConvStack) -> Vec<Vec<f32>> {
    let (_, tensors) = stack.export().unwrap();
    tensors
        .into_iter()
        .flat_map(|t| {
            let Weights::F32(w) = t.weight else {
                unreachable!("the trainer exports f32")
            };
            [w, t.bias.unwrap_or_default()]
        })
        .collect()
}

#[test]
fn frozen_convolutions_are_bit_identical_after_the_fa_head_trains() {
    let Some(split) = common::mnist_slice(3000, 500) else {
        return;
    };
    let device = Device::Cpu;
    let pre = channel_stats(&split.train);
    let tensor = |d: &plastic_trainer::data::Dataset| {
        let x = features::inputs(d, &pre).unwrap();
        Tensor::from_vec(x, (d.len(), 784), &device).unwrap()
    };
    let (x_train, x_test) = (tensor(&split.train), tensor(&split.test));
    let (y_train, y_test) = (
        features::labels(&split.train),
        features::labels(&split.test),
    );
    let convs = ConvStack::new(
        &ConvConfig {
            input: (1, 28, 28),
            channels: vec![10, 20],
            kernel: 5,
            padding: 0,
            pool: 2,
        },
        1,
        &device,
    )
    .unwrap();
    // FA needs more steps than backprop before its hidden layer's updates align: one epoch
    // of 3000 digits gives the FA head 43 %, three give it over 85 %.
    let cfg = |feedback, epochs| MlpConfig {
        sizes: vec![320, 50, 10],
        feedback,
        epochs,
        batch: 64,
        lr0: 2e-3,
        lr_end: 2e-3,
    };
    let data = Labelled {
        x_train: &x_train,
        y_train: &y_train,
        x_test: &x_test,
        y_test: &y_test,
    };
    let initial = conv_weights(&convs);
    let bp = Mlp::new(&[320, 50, 10], Feedback::Backprop, 2, &device).unwrap();
    fit(
        &bp,
        &cfg(Feedback::Backprop, 1),
        &mut TrainedConvs::new(&convs, Augmentation::default(), 1),
        data,
        4,
        |_| {},
    )
    .unwrap();
    let trained = conv_weights(&convs);
    assert_ne!(initial, trained, "backprop trains the convolutions");

    let fa = Mlp::new(&[320, 50, 10], Feedback::Alignment, 2, &device).unwrap();
    let head_before = fa.weights[0].as_tensor().to_vec2::<f32>().unwrap();
    let mut accuracy = 0.0;
    fit(
        &fa,
        &cfg(Feedback::Alignment, 3),
        &mut FrozenConvs::new(&convs, &x_train).unwrap(),
        data,
        4,
        |e| accuracy = e.test_accuracy,
    )
    .unwrap();
    assert_eq!(conv_weights(&convs), trained, "frozen means frozen");
    assert_ne!(
        fa.weights[0].as_tensor().to_vec2::<f32>().unwrap(),
        head_before,
        "the head learns"
    );
    assert!(
        accuracy > 0.85,
        "FA head on frozen convolutions: {accuracy}"
    );
}
