#!/usr/bin/env python3
"""Inference latency of a plastic Krotov checkpoint: our runtime against ONNX Runtime, side by side.

Usage: python3 bench/onnx_compare.py MODEL.safetensors [--frames N] [--plastic PATH]

Reads the checkpoint with `safetensors` only, builds the same network as an ONNX graph
(x -> MatMul W0^T -> rectified power with per-sample max normalisation -> MatMul W1^T -> tanh(beta .)),
runs ONNX Runtime with one thread in f32 and dynamically quantized int8 (weights int8, activations
quantized per call), checks that ONNX Runtime and the checkpoint agree, and runs
`plastic bench --inference-only --json` on the same checkpoint in the same run.
Needs: pip install safetensors numpy onnx onnxruntime
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import QuantType, quantize_dynamic
from safetensors import safe_open
from safetensors.numpy import load_file


def build_graph(ckpt):
    tensors = load_file(ckpt)
    with safe_open(ckpt, framework="numpy") as f:
        spec = json.loads(f.metadata()["spec"])
    first, second = spec["layers"]
    assert first["activation"]["kind"] == "rectified_power", "a Krotov power/tanh model is expected"
    n = first["activation"]["n"]
    beta = second["activation"]["beta"]
    w0 = tensors["layers.0.weight"].T.copy()  # [in, hidden]
    w1 = tensors["layers.1.weight"].T.copy()  # [hidden, classes]
    inits = [
        numpy_helper.from_array(w0, "w0"),
        numpy_helper.from_array(w1, "w1"),
        numpy_helper.from_array(np.array(n, dtype=np.float32), "n"),
        numpy_helper.from_array(np.array(beta, dtype=np.float32), "beta"),
        numpy_helper.from_array(np.array(1e-30, dtype=np.float32), "tiny"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axes"),
    ]
    nodes = [
        helper.make_node("MatMul", ["x", "w0"], ["a"]),
        helper.make_node("Relu", ["a"], ["r"]),
        helper.make_node("ReduceMax", ["r", "axes"], ["m"], keepdims=1),
        helper.make_node("Max", ["m", "tiny"], ["m1"]),
        helper.make_node("Div", ["r", "m1"], ["rn"]),
        helper.make_node("Pow", ["rn", "n"], ["h"]),
        helper.make_node("MatMul", ["h", "w1"], ["s"]),
        helper.make_node("Mul", ["s", "beta"], ["sb"]),
        helper.make_node("Tanh", ["sb"], ["y"]),
    ]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, w0.shape[0]])]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, w1.shape[1]])]
    graph = helper.make_graph(nodes, "krotov", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    onnx.checker.check_model(model)
    return model, tensors, n, beta


def latency_us(path, frames):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    for x in frames[:100]:
        sess.run(None, {"x": x})
    start = time.perf_counter()
    for x in frames:
        sess.run(None, {"x": x})
    return (time.perf_counter() - start) * 1e6 / len(frames), sess


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--plastic", default=os.path.join(os.path.dirname(__file__), "..", "target", "release", "plastic"))
    args = parser.parse_args()
    model, tensors, n, beta = build_graph(args.model)
    rng = np.random.default_rng(2)
    frames = []
    for _ in range(args.frames):
        v = rng.random((1, model.graph.input[0].type.tensor_type.shape.dim[1].dim_value), dtype=np.float32)
        frames.append(v / np.linalg.norm(v))
    with tempfile.TemporaryDirectory() as tmp:
        f32_path = os.path.join(tmp, "krotov.onnx")
        i8_path = os.path.join(tmp, "krotov.int8.onnx")
        onnx.save(model, f32_path)
        quantize_dynamic(f32_path, i8_path, weight_type=QuantType.QInt8)
        f32_us, sess = latency_us(f32_path, frames)
        i8_us, _ = latency_us(i8_path, frames)
        # The graph computes what the checkpoint says: compare with numpy on one frame.
        x = frames[0]
        a = np.maximum(x @ tensors["layers.0.weight"].T, 0)
        h = (a / max(a.max(), 1e-30)) ** n
        want = np.tanh(beta * h @ tensors["layers.1.weight"].T)
        got = sess.run(None, {"x": x})[0]
        assert np.allclose(got, want, atol=1e-4), (got, want)
    ours = json.loads(subprocess.run(
        [args.plastic, "bench", "--inference-only", "--model", args.model, "--frames", str(args.frames), "--json"],
        check=True, capture_output=True, text=True).stdout)
    our_i8 = ours["infer_int8_us"]["ours"]
    our_f32 = ours["infer_int8_us"]["baseline"]
    print(f"| precision | plastic runtime | ONNX Runtime {ort.__version__} | ratio (ORT / ours) |")
    print("|---|---|---|---|")
    print(f"| f32 | {our_f32:.1f} us | {f32_us:.1f} us | {f32_us / our_f32:.2f}x |")
    print(f"| int8 | {our_i8:.1f} us | {i8_us:.1f} us | {i8_us / our_i8:.2f}x |")
    print(f"\n{args.frames} frames, batch 1, one thread each; on-device learning step: "
          f"{ours['learn_step_us']['ours']:.1f} us")


if __name__ == "__main__":
    sys.exit(main())
