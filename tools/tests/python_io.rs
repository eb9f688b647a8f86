//! `python/plastic_io.py` against the runtime, on the first 1000 MNIST test digits: its
//! `predict` answers as `plastic eval` does on the shipped int8 and f32 demo models and the
//! SoftHebb device model (reflected padding, the triangle, strided and average pooling), and an MLP
//! and a CNN made in numpy and written by its `save` are checkpoints the tools read, run and
//! quantize with the same answers as Python's. Skips, saying why, without python3 + numpy + safetensors or
//! without the shared data.

mod common;

use common::{ROOT, data_dir, plastic, stdout_of, temp};
use std::path::Path;
use std::process::{Command, Output};

/// This file's temp folder (see `common::temp`).
const PYTHON_IO_TAG: &str = "python-io";

const LIMIT: &str = "1000";

fn demo(name: &str) -> String {
    format!("{ROOT}/models/default/{name}")
}

/// `python3 tools/tests/python/interop.py ARGS` with `python/` on the path, or `None` (and the
/// reason on stderr) when python3 or its packages are missing.
fn python(args: &[&str]) -> Option<Output> {
    let probe = Command::new("python3")
        .args(["-c", "import numpy, safetensors"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!(
            "skipped: needs python3 with numpy and safetensors \
             (`python3 -m pip install numpy safetensors`)"
        );
        return None;
    }
    let script = format!("{ROOT}/tools/tests/python/interop.py");
    Some(
        Command::new("python3")
            .arg(script)
            .args(args)
            .env("PYTHONPATH", format!("{ROOT}/python"))
            .output()
            .expect("python3 runs"),
    )
}

/// Correct answers of `plastic eval --limit 1000` and of `plastic_io.predict` on `model`.
fn both_correct(model: &str, data: &Path) -> Option<(u64, u64)> {
    let data = data.to_str().unwrap();
    let py = python(&["predict", model, data, LIMIT])?;
    let py: serde_json::Value =
        serde_json::from_slice(&stdout_of(py, "plastic_io.predict")).unwrap();
    let eval = plastic(&[
        "eval",
        model,
        "--data-dir",
        data,
        "--limit",
        LIMIT,
        "--json",
    ]);
    let eval: serde_json::Value = serde_json::from_slice(&stdout_of(eval, "plastic eval")).unwrap();
    assert_eq!(py["samples"], 1000);
    assert_eq!(eval["samples"], 1000);
    Some((
        eval["correct"].as_u64().unwrap(),
        py["correct"].as_u64().unwrap(),
    ))
}

#[test]
fn predict_answers_as_plastic_eval_on_the_shipped_models() {
    let Some(data) = data_dir() else { return };
    for name in [
        "mnist-krotov.int8.safetensors",
        "mnist-krotov.safetensors",
        "mnist-softhebb-device.int8.safetensors",
    ] {
        let Some((runtime, py)) = both_correct(&demo(name), &data) else {
            return;
        };
        eprintln!("{name}: runtime {runtime}, python {py} of 1000");
        assert!(runtime > 900, "{name}: {runtime}");
        assert_eq!(runtime, py, "{name}: plastic eval vs plastic_io.predict");
    }
}

#[test]
fn models_saved_from_numpy_run_in_the_tools_as_in_python() {
    let Some(data) = data_dir() else { return };
    // Random ReLU features (dense, or a padded and pooled convolution) under a least-squares
    // readout fitted on a few thousand digits: measured 80.9 % and 91.8 %.
    for (kind, floor) in [("mlp", 750), ("cnn", 850)] {
        let f32_path = temp(PYTHON_IO_TAG, &format!("numpy-{kind}.safetensors"));
        let f32_model = f32_path.to_str().unwrap();
        let Some(made) = python(&[&format!("make-{kind}"), data.to_str().unwrap(), f32_model])
        else {
            return;
        };
        stdout_of(made, "plastic_io.save");

        let inspect = stdout_of(
            plastic(&["inspect", f32_model, "--json"]),
            "plastic inspect",
        );
        let v: serde_json::Value = serde_json::from_slice(&inspect).unwrap();
        assert_eq!(v["format"], "plastic/1");
        assert_eq!(v["layers"][0]["precision"], "f32");
        assert_eq!(v["layers"][1]["kind"]["kind"], "dense");
        assert_eq!(v["layers"][0]["conv"].is_object(), kind == "cnn");
        assert_eq!(v["train"]["dataset"], "mnist");

        let int8_path = temp(PYTHON_IO_TAG, &format!("numpy-{kind}.int8.safetensors"));
        let int8_model = int8_path.to_str().unwrap();
        stdout_of(
            plastic(&["quantize", f32_model, "--out", int8_model]),
            "plastic quantize",
        );
        for model in [f32_model, int8_model] {
            let (runtime, py) = both_correct(model, &data).unwrap();
            eprintln!("{model}: runtime {runtime}, python {py} of 1000");
            assert!(runtime > floor, "{model}: {runtime}");
            assert_eq!(runtime, py, "{model}: plastic eval vs plastic_io.predict");
        }
    }
}
