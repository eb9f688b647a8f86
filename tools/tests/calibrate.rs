//! `plastic calibrate`: the shipped SoftHebb device model carries exactly what the command
//! measures on its training images, the weights and metrics pass through untouched, and a
//! model without convolutions or a request for no images is refused with the reason.

mod common;

use common::{INT8, ROOT, data_dir, plastic, temp};
use plastic_models::Checkpoint;

/// This file's temp folder (see `common::temp`).
const TAG: &str = "calibrate";

fn softhebb() -> String {
    format!("{ROOT}/models/default/mnist-softhebb-device.int8.safetensors")
}

fn read(path: &std::path::Path) -> Checkpoint {
    Checkpoint::from_bytes(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn the_shipped_softhebb_model_carries_what_calibrate_measures() {
    let Some(data) = data_dir() else { return };
    let out_path = temp(TAG, "recalibrated.int8.safetensors");
    let out = plastic(&[
        "calibrate",
        &softhebb(),
        "--out",
        out_path.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
        "--json",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["images"], 10_000);
    let (shipped, again) = (read(std::path::Path::new(&softhebb())), read(&out_path));
    assert_eq!(again.layers, shipped.layers);
    assert_eq!(again.metrics, shipped.metrics);
    assert_eq!(again.train, shipped.train);
    let reference = &again.train["on_device"]["channels"]["reference"];
    // One entry per convolution; the first reads the standardised image: mean about 0, mean
    // square about 1 (what the first block's batch norm was fitted to).
    assert_eq!(reference.as_array().unwrap().len(), 3);
    let mean = reference[0]["mean"][0].as_f64().unwrap();
    let square = reference[0]["square"][0].as_f64().unwrap();
    assert!(
        mean.abs() < 0.05 && (square - 1.0).abs() < 0.1,
        "{reference}"
    );
    std::fs::remove_file(&out_path).unwrap();
}

#[test]
fn a_model_without_convolutions_and_no_images_are_refused_with_the_reason() {
    let out_path = temp(TAG, "never-written.safetensors");
    let out = plastic(&[
        "calibrate",
        INT8,
        "--out",
        out_path.to_str().unwrap(),
        "--images",
        "0",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("--images 0 measures nothing"), "{stderr}");
    assert!(!out_path.exists());

    let Some(data) = data_dir() else { return };
    let out = plastic(&[
        "calibrate",
        INT8,
        "--out",
        out_path.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
        "--images",
        "10",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("has no convolution"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!out_path.exists());
}
