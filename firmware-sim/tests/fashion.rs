//! A model a user trains on Fashion-MNIST, on the device: trained here (an MLP on 10,000
//! training items, a few seconds), then run on the simulated camera's photographs of
//! Fashion-MNIST test items (dark on light paper, at any size and place, uneven light, blur,
//! noise) played as a `dir:` stream. The device frames them as Fashion-MNIST was made because
//! the checkpoint says what it was trained on, and labels must not cost it what it reads.
//!
//! Skipped without the Fashion-MNIST data in the shared data folder (set PLASTIC_DATA). The
//! table over models, fills and polarities is in docs/RESULTS.md ("Framing objects as
//! Fashion-MNIST was made").

mod common;

use std::path::{Path, PathBuf};

use candle_core::Device;
use plastic_sim::camera::{Camera, SyntheticDigits};
use plastic_trainer::data::{self, DatasetKind, Split};
use plastic_trainer::experiment::{RunOptions, TrainingRun, train_mlp};
use plastic_trainer::preset::Preset;

/// An MLP trained by backprop on the first 10,000 training items, written into `out`; its
/// accuracy on the first 2000 test items.
fn train_fashion_mlp(fashion: &Path, out: &Path) -> (PathBuf, f64) {
    let split = data::load(DatasetKind::FashionMnist, fashion).unwrap();
    let split = Split {
        train: split.train.take(10_000),
        test: split.test.take(2000),
    };
    let mut preset = Preset::load("mlp-bp-mnist").unwrap();
    let mlp = preset.mlp_mut().unwrap();
    mlp.hidden = vec![256];
    mlp.epochs = 3;
    let options = RunOptions {
        seed: 1,
        device_name: "cpu".into(),
        progress: false,
    };
    let ckpt = train_mlp(&TrainingRun {
        preset: &preset,
        kind: DatasetKind::FashionMnist,
        split: &split,
        device: &Device::Cpu,
        options: &options,
    })
    .unwrap();
    assert_eq!(ckpt.train["dataset"], "fashion-mnist");
    let accuracy = ckpt.metrics["test_accuracy"].as_f64().unwrap();
    let path = out.join("fashion-mlp.safetensors");
    std::fs::write(&path, ckpt.to_bytes().unwrap()).unwrap();
    (path, accuracy)
}

/// `frames` frames of the simulated camera over the test items, as `NNNNN_LABEL.png` in `dir`.
fn write_photographs(fashion: &Path, dir: &Path, frames: usize) {
    let items = plastic_sim::camera::mnist::load_test_set(fashion).unwrap();
    let mut camera = SyntheticDigits::from_digits(items, 11).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    for n in 0..frames {
        let frame = camera.next_frame().unwrap().unwrap();
        let label = frame.label.unwrap();
        let image = image::GrayImage::from_raw(frame.width as u32, frame.height as u32, frame.data)
            .unwrap();
        image.save(dir.join(format!("{n:05}_{label}.png"))).unwrap();
    }
}

/// 300 Fashion-MNIST test items that fill 90 to 100 % of the frame's height, dark on light
/// and light on dark in turn (`bench/object_stream.py`), in a fresh folder; `None` (with the
/// reason) where Python or numpy is missing.
fn frame_filling_items(shared: &Path) -> Option<PathBuf> {
    let args = [
        "--fill",
        "0.9",
        "1",
        "--polarity",
        "both",
        "--frames",
        "300",
    ];
    common::bench_stream("object_stream.py", shared, &args, "numpy")
}

fn accuracy(model: &Path, stream: &Path, extra: &[&str]) -> f64 {
    let camera = format!("dir:{}", stream.display());
    let mut args = vec![
        "--json",
        "--model",
        model.to_str().unwrap(),
        "--camera",
        &camera,
    ];
    args.extend_from_slice(extra);
    common::run_json(&args)["accuracy"].as_f64().unwrap()
}

/// The frozen device's accuracy on `stream` framed as the model's dataset was made (the
/// default), and framed as MNIST's digits.
fn framed_and_as_digits(model: &Path, stream: &Path) -> (f64, f64) {
    (
        accuracy(model, stream, &["--adapt", "off"]),
        accuracy(model, stream, &["--adapt", "off", "--framing", "mnist"]),
    )
}

/// Measured (seed 1, 1000 frames): the model scores 84.0 % on the first 2000 test items; the
/// device frozen 80.6 % as Fashion-MNIST was framed, 43.6 % framed as MNIST's digits (as every
/// model was before); with labels on 20 % of the frames 80.0 % (the rules before the logit
/// spread and the guard's disagreement record: 78.3 %). Items filling the frame, either
/// polarity (300 frames): 77.3 %, framed as digits 30.0 %.
#[test]
fn a_fashion_mnist_model_reads_photographed_items_and_labels_cost_it_nothing() {
    let Some(fashion) = common::fashion_dir() else {
        return;
    };
    let dir = common::temp_dir("fashion");
    let (model, tested) = train_fashion_mlp(&fashion, &dir);
    let stream = dir.join("photographs");
    write_photographs(&fashion, &stream, 1000);

    let (framed, as_digits) = framed_and_as_digits(&model, &stream);
    eprintln!("test set {tested:.3}, device {framed:.3}, framed as digits {as_digits:.3}");
    assert!(
        framed > tested - 0.06,
        "photographed items read at {framed:.3}, the test set at {tested:.3}"
    );
    assert!(
        framed > as_digits + 0.2,
        "{framed:.3} framed as Fashion-MNIST, {as_digits:.3} as digits"
    );

    let labelled = accuracy(&model, &stream, &["--adapt", "labels:0.2"]);
    eprintln!("with labels on 20 % of frames {labelled:.3}");
    assert!(
        labelled > framed - 0.01,
        "labels cost {:.1} points on a stream with no shift",
        100.0 * (framed - labelled)
    );

    // Items that fill the frame, either polarity: the paper is then a thin margin, and the
    // item, not the paper, is most of the frame.
    if let Some(filling) = frame_filling_items(fashion.parent().unwrap()) {
        let (framed, as_digits) = framed_and_as_digits(&model, &filling);
        eprintln!("frame-filling items {framed:.3}, framed as digits {as_digits:.3}");
        assert!(
            framed > tested - 0.1,
            "frame-filling items read at {framed:.3}"
        );
        assert!(
            framed > as_digits + 0.2,
            "{framed:.3} against {as_digits:.3} as digits"
        );
        let _ = std::fs::remove_dir_all(&filling);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
