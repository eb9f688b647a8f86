//! What a checkpoint records about itself is used and kept true: `plastic eval` tests a model
//! on the dataset its provenance names unless `--dataset` overrides it (with a warning when
//! they differ), and `plastic quantize` gives the int8 file its own measured metrics or none,
//! never the f32 file's. Tests that need the datasets skip without the shared data.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{F32, data_dir, plastic, temp};
use plastic_models::Checkpoint;

/// This file's temp folder (see `common::temp`).
const PROVENANCE_TAG: &str = "provenance";

fn ok(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object on stdout")
}

/// The shipped f32 demo model with `train` replaced: a 28x28 gray model whose provenance says
/// what the test needs, made without training.
fn demo_recording(train: serde_json::Value, name: &str) -> PathBuf {
    let mut ckpt = Checkpoint::from_bytes(&std::fs::read(F32).unwrap()).unwrap();
    ckpt.train = train;
    let path = temp(PROVENANCE_TAG, name);
    std::fs::write(&path, ckpt.to_bytes().unwrap()).unwrap();
    path
}

fn read(path: &Path) -> Checkpoint {
    Checkpoint::from_bytes(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn eval_uses_the_recorded_dataset_and_warns_when_told_otherwise() {
    let Some(data) = data_dir() else { return };
    let data = data.to_str().unwrap();
    let fashion = demo_recording(
        serde_json::json!({"dataset": "fashion-mnist"}),
        "fashion.safetensors",
    );
    let model = fashion.to_str().unwrap();
    let args = [
        "eval",
        model,
        "--data-dir",
        data,
        "--limit",
        "300",
        "--json",
    ];
    let out = plastic(&args);
    let report = ok(&out);
    assert_eq!(report["dataset"], "fashion-mnist");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A digit model on clothes: far below its MNIST accuracy, which is the point of asking.
    assert!(report["accuracy"].as_f64().unwrap() < 0.5, "{report}");

    let out = plastic(&[&args[..], &["--dataset", "mnist"]].concat());
    let report = ok(&out);
    assert_eq!(report["dataset"], "mnist");
    assert!(report["accuracy"].as_f64().unwrap() > 0.9, "{report}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning") && err.contains("trained on fashion-mnist, evaluating on mnist"),
        "{err}"
    );

    // No provenance: the image size decides (28x28 gray: MNIST), and stderr says so.
    let bare = demo_recording(serde_json::Value::Null, "bare.safetensors");
    let out = plastic(&[
        "eval",
        bare.to_str().unwrap(),
        "--data-dir",
        data,
        "--limit",
        "50",
        "--json",
    ]);
    assert_eq!(ok(&out)["dataset"], "mnist");
    assert!(String::from_utf8_lossy(&out.stderr).contains("records no training dataset"));
}

#[test]
fn quantize_writes_no_metrics_but_the_int8_files_own() {
    let int8 = temp(PROVENANCE_TAG, "plain.int8.safetensors");
    let out = plastic(&["quantize", F32, "--out", int8.to_str().unwrap(), "--json"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--measure"));
    let summary = ok(&out);
    assert_eq!(summary["out"], int8.to_str().unwrap());
    assert!(summary["metrics"].is_null());
    let q = read(&int8);
    assert_eq!(
        summary["bytes"].as_u64(),
        Some(std::fs::metadata(&int8).unwrap().len())
    );
    assert!(q.is_int8());
    assert!(q.metrics.is_null(), "copied metrics: {}", q.metrics);
    assert!(read(Path::new(F32)).metrics["test_accuracy"].is_number());

    let Some(data) = data_dir() else { return };
    let data = data.to_str().unwrap();
    // Measured on the recorded dataset: a Fashion-MNIST record is measured on clothes.
    let fashion = demo_recording(
        serde_json::json!({"dataset": "fashion-mnist"}),
        "fashion-f32.safetensors",
    );
    let measured = temp(PROVENANCE_TAG, "measured.int8.safetensors");
    let out = plastic(&[
        "quantize",
        fashion.to_str().unwrap(),
        "--out",
        measured.to_str().unwrap(),
        "--measure",
        "--data-dir",
        data,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metrics = read(&measured).metrics;
    assert_eq!(metrics["dataset"], "fashion-mnist");
    assert_eq!(metrics["precision"], "int8");
    assert_eq!(metrics["test_samples"], 10_000);
    // What `plastic eval` measures on the int8 file is what the file says of itself.
    let report = ok(&plastic(&[
        "eval",
        measured.to_str().unwrap(),
        "--data-dir",
        data,
        "--json",
    ]));
    assert_eq!(report["dataset"], "fashion-mnist");
    assert_eq!(report["correct"], metrics["correct"]);
    assert_eq!(report["accuracy"], metrics["test_accuracy"]);
}
