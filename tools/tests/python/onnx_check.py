"""The Python side of tools/tests/onnx_export.rs: an exported ONNX graph under ONNX Runtime
against `plastic_io.predict` (the runtime's forward pass in numpy) on MNIST test digits.

    onnx_check.py check MODEL ONNX DATA_DIR LIMIT
        -> {"correct": .., "samples": .., "max_abs_diff": .., "same_answers": .., ..}
    onnx_check.py make-centred DATA_DIR OUT
        -> writes an MLP on centred_unit_norm inputs (tanh hidden layer, identity out)
    onnx_check.py make-deep DATA_DIR OUT
        -> writes a two-convolution CNN (padded then unpadded, pooled then not) under a
           HebbNet-like head (no-bias ReLU, rectified power, tanh readout), scale01 input

The graph gets the pixels as `plastic eval` feeds the runtime: the bytes 0..255 as float32,
[N, channels * height * width].
"""

import json
import sys

import numpy as np
import onnxruntime as ort

import plastic_io as pio
from interop import least_squares_readout, mnist, save_with_readout


def run(onnx_path, images, optimize):
    options = ort.SessionOptions()
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])
    return session.run(["scores"], {"pixels": images.astype(np.float32)})[0]


def check(model_path, onnx_path, data_dir, limit):
    """Scores with ONNX Runtime's graph optimizations off (the graph's arithmetic as written)
    and on (its default, which may reorder float operations), against plastic_io.predict."""
    images, labels = mnist(data_dir, "test")
    images, labels = images[:limit], labels[:limit]
    reference = pio.predict(pio.load(model_path), images)
    try:
        import onnx
    except ImportError:
        checker = "skipped (no onnx package)"
    else:
        onnx.checker.check_model(onnx.load(onnx_path), full_check=True)
        checker = "passed"
    plain = run(onnx_path, images, optimize=False)
    scores = run(onnx_path, images, optimize=True)
    answers = scores.argmax(axis=1)
    print(
        json.dumps(
            {
                "correct": int((answers == labels).sum()),
                "correct_unoptimized": int((plain.argmax(axis=1) == labels).sum()),
                "samples": len(labels),
                "max_abs_diff": float(np.max(np.abs(plain - reference))),
                "max_abs_diff_optimized": float(np.max(np.abs(scores - reference))),
                "same_answers": int((answers == reference.argmax(axis=1)).sum()),
                "close_scores": int((np.abs(plain - reference).max(axis=1) <= 1e-4).sum()),
                "onnx_checker": checker,
            }
        )
    )


def make_centred(data_dir, out):
    images, labels = mnist(data_dir, "train")
    images, labels = images[:3000], labels[:3000]
    rng = np.random.default_rng(3)
    hidden = 100
    spec = pio.mlp_spec(
        [(hidden, 784), (10, hidden)],
        width=28,
        height=28,
        preprocess={"kind": "centred_unit_norm"},
        classes=[str(c) for c in range(10)],
        name="numpy-centred",
    )
    spec["layers"][0]["activation"] = {"kind": "tanh", "beta": 2.0}
    first = {
        "layers.0.weight": rng.standard_normal((hidden, 784)).astype(np.float32),
        "layers.0.bias": (0.1 * rng.standard_normal(hidden)).astype(np.float32),
    }
    save_with_readout(out, spec, first, images, labels)


def make_deep(data_dir, out):
    images, labels = mnist(data_dir, "train")
    images, labels = images[:2000], labels[:2000]
    rng = np.random.default_rng(5)
    c1 = {"in_channels": 1, "height": 28, "width": 28, "out_channels": 4,
          "kernel": 3, "padding": 1, "pool": 2}
    c2 = {"in_channels": 4, "height": 14, "width": 14, "out_channels": 6,
          "kernel": 3, "padding": 0, "pool": 1}
    f1, f2 = 4 * 14 * 14, 6 * 12 * 12
    dense = {"kind": "dense"}
    layers = [
        {"kind": dense, "inputs": 784, "outputs": f1, "bias": True,
         "activation": {"kind": "relu"}, "conv": c1},
        {"kind": dense, "inputs": f1, "outputs": f2, "bias": False,
         "activation": {"kind": "relu"}, "conv": c2},
        {"kind": dense, "inputs": f2, "outputs": 200, "bias": False,
         "activation": {"kind": "rectified_power", "n": 3.0}},
        {"kind": dense, "inputs": 200, "outputs": 10, "bias": False,
         "activation": {"kind": "tanh", "beta": 0.5}},
    ]
    spec = {
        "name": "numpy-deep",
        "input": {"width": 28, "height": 28, "channels": 1, "preprocess": {"kind": "scale01"}},
        "layers": layers,
        "classes": [str(c) for c in range(10)],
    }
    t = {
        "layers.0.weight": (rng.standard_normal((4, 1, 3, 3)) / 3).astype(np.float32),
        "layers.0.bias": (0.1 * rng.standard_normal(4)).astype(np.float32),
        "layers.1.weight": (rng.standard_normal((6, 4, 3, 3)) / 6).astype(np.float32),
        "layers.2.weight": (rng.standard_normal((200, f2)) / np.sqrt(f2)).astype(np.float32),
    }
    head = dict(spec, layers=layers[:3])
    h = pio.predict((head, t), images)
    w, _ = least_squares_readout(h, labels)
    t["layers.3.weight"] = w
    pio.save(out, spec, t, train={"dataset": "mnist", "made_by": "numpy"})
    print(json.dumps({"written": out}))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "check":
        check(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif cmd == "make-centred":
        make_centred(sys.argv[2], sys.argv[3])
    elif cmd == "make-deep":
        make_deep(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f"unknown command {cmd!r}")
