//! `plastic export --format onnx` under ONNX Runtime, on the first 1000 MNIST test digits:
//! the graph's scores equal the runtime's (`python/plastic_io.py`'s forward pass, held equal to
//! the runtime by `python_io.rs`) within a stated tolerance, and it answers correctly exactly
//! as often as `plastic eval --limit 1000`, for the shipped Krotov demo model (f32 and int8)
//! and for an MLP, a CNN, an MLP on `centred_unit_norm` inputs and a two-convolution model with a HebbNet-like head made in numpy
//! (f32 and quantized). Skips, saying why, without python3 + numpy + safetensors +
//! onnxruntime or without the shared data.

mod common;

use common::{ROOT, data_dir, plastic, stdout_of, temp};
use std::path::Path;
use std::process::{Command, Output};

/// This file's temp folder (see `common::temp`).
const ONNX_EXPORT_TAG: &str = "onnx-export";

const LIMIT: &str = "1000";

/// Largest difference from the runtime's scores allowed with ONNX Runtime's graph
/// optimizations off: f32 sums in another order (measured at most 1.9e-6), int8 the same
/// arithmetic (measured at most 1.8e-7, `tanh`'s last bits).
const TOLERANCE: f64 = 1e-5;

/// The same for an int8 model whose hidden layer is `tanh`: ONNX Runtime's `tanh` is a few
/// last places off the correctly rounded one, and the next layer's quantization turns that, now
/// and then, into one step of an int8 activation (measured at most 3.4e-4; the answers stay).
const TANH_INT8_TOLERANCE: f64 = 1e-3;

/// True when python3 has numpy, safetensors and onnxruntime; says why not on stderr.
fn python_ready() -> bool {
    let probe = Command::new("python3")
        .args(["-c", "import numpy, safetensors, onnxruntime"])
        .output();
    let ready = probe.is_ok_and(|o| o.status.success());
    if !ready {
        eprintln!(
            "skipped: needs python3 with numpy, safetensors and onnxruntime \
             (`python3 -m pip install numpy safetensors onnxruntime`)"
        );
    }
    ready
}

fn python(script: &str, args: &[&str]) -> Output {
    Command::new("python3")
        .arg(format!("{ROOT}/tools/tests/python/{script}"))
        .args(args)
        .env(
            "PYTHONPATH",
            format!("{ROOT}/python:{ROOT}/tools/tests/python"),
        )
        .output()
        .expect("python3 runs")
}

/// Exports `model` (with `extra` arguments) and checks the graph against the runtime.
fn exported_answers_as_runtime(model: &str, extra: &[&str], data: &Path, tolerance: f64) {
    let stem = Path::new(model).file_name().unwrap().to_str().unwrap();
    let onnx_path = temp(ONNX_EXPORT_TAG, &format!("{stem}{}.onnx", extra.join("")));
    let onnx = onnx_path.to_str().unwrap();
    let mut args = vec!["export", model, "--format", "onnx", "--out", onnx];
    args.extend_from_slice(extra);
    stdout_of(plastic(&args), "plastic export");
    let bytes = std::fs::read(onnx).unwrap();
    assert!(
        bytes.starts_with(&[0x08, 0x08]),
        "{onnx}: ir_version 8 first"
    );

    let data = data.to_str().unwrap();
    let check = stdout_of(
        python("onnx_check.py", &["check", model, onnx, data, LIMIT]),
        "onnx_check.py check",
    );
    let check: serde_json::Value = serde_json::from_slice(&check).unwrap();
    let eval = stdout_of(
        plastic(&[
            "eval",
            model,
            "--data-dir",
            data,
            "--limit",
            LIMIT,
            "--json",
        ]),
        "plastic eval",
    );
    let eval: serde_json::Value = serde_json::from_slice(&eval).unwrap();
    eprintln!("{stem} {extra:?}: {check} vs eval {}", eval["correct"]);
    assert_eq!(check["samples"], 1000);
    assert_ne!(check["onnx_checker"], "failed");
    assert_eq!(eval["samples"], 1000);

    let dequantized = extra.contains(&"dequantize");
    let diff = check["max_abs_diff"].as_f64().unwrap();
    let optimized = check["max_abs_diff_optimized"].as_f64().unwrap();
    let same = check["same_answers"].as_u64().unwrap();
    if dequantized {
        // The activations are not quantized: a different, close model.
        assert!(diff < 0.2, "{stem}: dequantized graph off by {diff}");
        assert!(
            same >= 990,
            "{stem}: dequantized graph agrees on {same} answers"
        );
        return;
    }
    assert!(diff <= tolerance, "{stem}: graph off by {diff}");
    assert_eq!(
        check["correct_unoptimized"], eval["correct"],
        "{stem}: ONNX Runtime vs plastic eval"
    );
    // ONNX Runtime's default optimizations may reorder float operations, which can move an
    // int8 activation across a rounding boundary now and then (measured: at most 0.022 off, at
    // most 1 answer in 1000 changed); f32 graphs stay within the tolerance.
    if eval["precision"] == "f32" {
        assert!(
            optimized <= TOLERANCE,
            "{stem}: optimized graph off by {optimized}"
        );
        assert_eq!(check["correct"], eval["correct"], "{stem}: optimized graph");
    } else {
        assert!(
            optimized < 0.05,
            "{stem}: optimized graph off by {optimized}"
        );
        assert!(
            same >= 995,
            "{stem}: optimized graph agrees on {same} answers"
        );
    }
}

#[test]
fn the_shipped_krotov_models_export_with_the_runtime_s_answers() {
    let Some(data) = data_dir() else { return };
    if !python_ready() {
        return;
    }
    for name in ["mnist-krotov.safetensors", "mnist-krotov.int8.safetensors"] {
        let model = format!("{ROOT}/models/default/{name}");
        exported_answers_as_runtime(&model, &[], &data, TOLERANCE);
    }
    let int8 = format!("{ROOT}/models/default/mnist-krotov.int8.safetensors");
    exported_answers_as_runtime(&int8, &["--int8", "dequantize"], &data, TOLERANCE);
}

#[test]
fn mlp_cnn_centred_and_hebbian_models_made_in_numpy_export_with_the_runtime_s_answers() {
    let Some(data) = data_dir() else { return };
    if !python_ready() {
        return;
    }
    let d = data.to_str().unwrap();
    for (script, command, name) in [
        ("interop.py", "make-mlp", "mlp"),
        ("interop.py", "make-cnn", "cnn"),
        ("onnx_check.py", "make-centred", "centred"),
        ("onnx_check.py", "make-deep", "deep"),
    ] {
        let f32_path = temp(ONNX_EXPORT_TAG, &format!("{name}.safetensors"));
        let f32_model = f32_path.to_str().unwrap();
        stdout_of(python(script, &[command, d, f32_model]), command);
        let int8_path = temp(ONNX_EXPORT_TAG, &format!("{name}.int8.safetensors"));
        let int8_model = int8_path.to_str().unwrap();
        stdout_of(
            plastic(&["quantize", f32_model, "--out", int8_model]),
            "plastic quantize",
        );
        exported_answers_as_runtime(f32_model, &[], &data, TOLERANCE);
        let int8_tolerance = if name == "centred" {
            TANH_INT8_TOLERANCE
        } else {
            TOLERANCE
        };
        exported_answers_as_runtime(int8_model, &[], &data, int8_tolerance);
    }
}

#[test]
fn export_refuses_what_is_not_a_checkpoint() {
    let bad = temp(ONNX_EXPORT_TAG, "not-a-model.safetensors");
    std::fs::write(&bad, b"not a checkpoint").unwrap();
    let out_path = temp(ONNX_EXPORT_TAG, "never.onnx");
    let out = plastic(&[
        "export",
        bad.to_str().unwrap(),
        "--out",
        out_path.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a valid plastic checkpoint"));
    assert!(!out_path.exists(), "no file written for a bad checkpoint");
}

/// A one-block SoftHebb checkpoint (reflected padding, overlapping max-pooling, the triangle)
/// under a linear readout, written to `path`.
fn write_softhebb(path: &Path) {
    use plastic_models::{Checkpoint, LayerTensors, ModelSpec, Weights};
    let spec: ModelSpec = serde_json::from_value(serde_json::json!({
        "name": "softhebb",
        "input": {"width": 6, "height": 6, "channels": 1, "preprocess": {"kind": "scale01"}},
        "layers": [
            {"kind": {"kind": "soft_hebb", "inv_tau": 1.0}, "inputs": 36, "outputs": 27,
             "bias": true, "activation": {"kind": "triangle", "power": 0.7},
             "conv": {"in_channels": 1, "height": 6, "width": 6, "out_channels": 3,
                      "kernel": 3, "padding": 1, "pool": 4, "padding_mode": "reflect",
                      "pool_stride": 2, "pool_padding": 1}},
            {"kind": {"kind": "dense"}, "inputs": 27, "outputs": 2, "bias": true,
             "activation": {"kind": "identity"}}],
        "classes": ["a", "b"]
    }))
    .unwrap();
    let tensors = |rows: usize, cols: usize| LayerTensors {
        weight: Weights::F32(
            (0..rows * cols)
                .map(|i| (i % 7) as f32 * 0.1 - 0.3)
                .collect(),
        ),
        bias: Some(vec![0.05; rows]),
        feedback: None,
    };
    let ckpt = Checkpoint {
        spec,
        layers: vec![tensors(3, 9), tensors(2, 27)],
        train: serde_json::Value::Null,
        metrics: serde_json::json!({}),
    };
    std::fs::write(path, ckpt.to_bytes().unwrap()).unwrap();
}

#[test]
fn softhebb_blocks_are_refused_by_name_by_the_export_and_the_python_reader() {
    let model = temp(ONNX_EXPORT_TAG, "softhebb.safetensors");
    write_softhebb(&model);
    let out_path = temp(ONNX_EXPORT_TAG, "softhebb.onnx");
    let out = plastic(&[
        "export",
        model.to_str().unwrap(),
        "--out",
        out_path.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("SoftHebb convolution block"), "{err}");
    assert!(
        !out_path.exists(),
        "no file written for a model it cannot export"
    );
    if !python_ready() {
        return;
    }
    let read = Command::new("python3")
        .args([
            "-c",
            "import sys, plastic_io\n\
             try:\n    plastic_io.load(sys.argv[1])\n\
             except plastic_io.CheckpointError as e:\n    print(e)\n",
            model.to_str().unwrap(),
        ])
        .env("PYTHONPATH", format!("{ROOT}/python"))
        .output()
        .expect("python3 runs");
    let said = String::from_utf8_lossy(&read.stdout);
    assert!(said.contains("SoftHebb"), "{said}");
}
