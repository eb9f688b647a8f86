"""The Python side of tools/tests/python_io.rs: `plastic_io` on MNIST test digits.

    interop.py predict MODEL DATA_DIR LIMIT      -> {"correct": .., "samples": ..}
    interop.py make-mlp DATA_DIR OUT             -> writes a small MLP made in numpy
    interop.py make-cnn DATA_DIR OUT             -> writes a small CNN made in numpy

These are what a user of another framework brings: random ReLU features of the standardised
pixels (a dense layer, or a padded, pooled convolution) under a least-squares readout, fitted
on a few thousand training digits in seconds, with weights in PyTorch's layouts
(`nn.Linear`: [out, in]; `nn.Conv2d`: [out, in, k, k]).
"""

import gzip
import json
import os
import sys

import numpy as np

import plastic_io as pio


def idx(path):
    """An IDX file (raw or gzipped) as a numpy array."""
    if os.path.exists(path + ".gz"):
        data = gzip.open(path + ".gz").read()
    else:
        data = open(path, "rb").read()
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(data[3])]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * len(dims)).reshape(dims)


def mnist(data_dir, split):
    folder = os.path.join(data_dir, "mnist")
    prefix = "t10k" if split == "test" else "train"
    images = idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte"))
    labels = idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte"))
    return images.reshape(len(images), -1), labels


def cifar10_test(data_dir):
    """The CIFAR-10 test batch: records of one label byte and 3072 planar RGB bytes."""
    data = gzip.open(os.path.join(data_dir, "cifar10", "test_batch.bin.gz")).read()
    records = np.frombuffer(data, np.uint8).reshape(-1, 3073)
    return records[:, 1:], records[:, 0]


def predict(model_path, data_dir, limit):
    model = pio.load(model_path)
    colour = model[0]["input"]["channels"] == 3
    images, labels = cifar10_test(data_dir) if colour else mnist(data_dir, "test")
    images, labels = images[:limit], labels[:limit]
    scores = pio.predict(model, images)
    correct = int((scores.argmax(axis=1) == labels).sum())
    print(json.dumps({"correct": correct, "samples": len(labels)}))


def least_squares_readout(features, labels):
    """[10, features] weights and [10] bias of the ridge regression onto one-hot labels."""
    h = np.hstack([features.astype(np.float64), np.ones((len(features), 1))])
    target = np.eye(10)[labels]
    readout = np.linalg.solve(h.T @ h + np.eye(h.shape[1]), h.T @ target)
    return readout[:-1].T.astype(np.float32), readout[-1].astype(np.float32)


def save_with_readout(out, spec, first, images, labels):
    """Writes the two-layer model `spec` to `out`: its first layer's tensors `first` as given,
    its second a least-squares readout of the first layer's outputs on `images`."""
    h = pio.predict((dict(spec, layers=spec["layers"][:1]), first), images)
    w, b = least_squares_readout(h, labels)
    tensors = dict(first, **{"layers.1.weight": w, "layers.1.bias": b})
    pio.save(out, spec, tensors, train={"dataset": "mnist", "made_by": "numpy"})
    print(json.dumps({"written": out}))


def standardised(images):
    mean, std = float(images.mean() / 255), float(images.std() / 255)
    return {"kind": "mean_std", "mean": [mean], "std": [std]}


def make_mlp(data_dir, out):
    images, labels = mnist(data_dir, "train")
    images, labels = images[:5000], labels[:5000]
    rng = np.random.default_rng(7)
    hidden = 128
    spec = pio.mlp_spec(
        [(hidden, 784), (10, hidden)],
        width=28,
        height=28,
        preprocess=standardised(images),
        classes=[str(c) for c in range(10)],
        name="numpy-mlp",
    )
    w1 = (rng.standard_normal((hidden, 784)) / np.sqrt(784)).astype(np.float32)
    b1 = (0.1 * rng.standard_normal(hidden)).astype(np.float32)
    first = {"layers.0.weight": w1, "layers.0.bias": b1}
    save_with_readout(out, spec, first, images, labels)


def make_cnn(data_dir, out):
    images, labels = mnist(data_dir, "train")
    images, labels = images[:3000], labels[:3000]
    rng = np.random.default_rng(11)
    channels, kernel, padding, pool = 6, 5, 1, 2
    conv = {
        "in_channels": 1,
        "height": 28,
        "width": 28,
        "out_channels": channels,
        "kernel": kernel,
        "padding": padding,
        "pool": pool,
    }
    side = (28 + 2 * padding - kernel + 1) // pool
    features = channels * side * side
    conv_layer = {
        "kind": {"kind": "dense"},
        "inputs": 784,
        "outputs": features,
        "bias": True,
        "activation": {"kind": "relu"},
        "conv": conv,
    }
    spec = pio.mlp_spec(
        [(10, features)],
        width=28,
        height=28,
        preprocess=standardised(images),
        classes=[str(c) for c in range(10)],
        name="numpy-cnn",
    )
    spec["layers"].insert(0, conv_layer)
    w = (rng.standard_normal((channels, 1, kernel, kernel)) / kernel).astype(np.float32)
    b = (0.1 * rng.standard_normal(channels)).astype(np.float32)
    first = {"layers.0.weight": w, "layers.0.bias": b}
    save_with_readout(out, spec, first, images, labels)


if __name__ == "__main__":
    if sys.argv[1] == "predict":
        predict(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif sys.argv[1] == "make-mlp":
        make_mlp(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "make-cnn":
        make_cnn(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f"unknown command {sys.argv[1]!r}")
