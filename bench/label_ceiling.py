#!/usr/bin/env python3
"""What backprop wins back from the labels a device gets: a ceiling for labelled adaptation.

The device learns from labels with local rules (`docs/DESIGN.md`, "Continual learning on the
device"). How much of a shift's drop could the same labels win back at all? This script trains
the device's own model by backprop, offline, on the inputs the device framed
(`plastic-sim --record-inputs`), with the labels the device would have had, and measures it
on the frames the shift bank measures (`bench/shift_bank.py`: frames 1000-2000 of the shift).
It is generous to backprop on purpose, so that what it cannot win back, no rule on the device
could be expected to:

- it trains on every labelled frame up to the end of the measured frames (the original view's
  and the shifted view's alike), which the device only has by the last of them;
- it trains the readout alone, the last convolution with the readout, or the whole network;
- Adam at two rates, cross-entropy, batches of 64; the accuracy is taken after 10, 25, 50,
  100, 200 and 400 steps at each rate and the best is reported: the rate and the early stop
  are chosen on the measured frames themselves. Beside it, the share won back at a rate and
  step fixed beforehand (1e-4, 100 steps), what a user without that hindsight would get.

    plastic-sim --camera synthetic:thin-pen --adapt off --seed 1 --record-inputs rec/thin-pen
    python3 bench/label_ceiling.py --record rec/thin-pen --shift 2000..4000 [--rate 0.05] [--seeds 0,1]
        [--model models/default/mnist-softhebb-device.int8.safetensors] [--modes readout,last,all]

`--check` only holds the backward pass to finite differences (exit 1 if it is off).

The model must be the one the device ran (its built-in model without `--model`), a
convolutional SoftHebb network with a dense readout, f32 or int8 (dequantized: training needs
real weights). Needs numpy and safetensors (`python/plastic_io.py` reads the checkpoint and
gives the frozen model's answers, the runtime's own). The recording must hold every frame of
the run (a synthetic scenario or a labelled `dir:` stream: `--record-inputs` keeps only
labelled frames), so that a frame's index is its place in the stream.
"""
import argparse
import os
import struct
import sys

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view as windows

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "python"))
import plastic_io  # noqa: E402  (the repository's reader, found beside this script)

DEFAULT_MODEL = os.path.join(ROOT, "models", "default", "mnist-softhebb-device.int8.safetensors")
STEPS = [10, 25, 50, 100, 200, 400]
BATCH = 64
RATES = "1e-4,3e-4"
# The rate and step reported beside the best, chosen before any measurement: what a user who
# cannot stop on the measured frames would get.
FIXED = (1e-4, 100)
# Frames of the shift the bank measures, and the frames whose drop it divides by.
MEASURED = (1000, 2000)
DROP_FRAMES = 2000
# Which layers each mode trains, counted back from the readout (1: the readout alone).
MODES = {"readout": 1, "last": 2, "all": None}


def read_idx(folder):
    def read(name):
        try:
            with open(os.path.join(folder, name), "rb") as f:
                data = f.read()
        except OSError as e:
            raise SystemExit(f"cannot read the recording: {e}; make it with plastic-sim "
                             "--record-inputs DIR")
        if len(data) < 4 or data[:3] != b"\0\0\x08":
            raise SystemExit(f"{folder}/{name} is not an IDX file of bytes: record it with "
                             "plastic-sim --record-inputs")
        rank = data[3]
        dims = struct.unpack(f">{rank}I", data[4:4 + 4 * rank])
        body = np.frombuffer(data, np.uint8, offset=4 + 4 * rank)
        if body.size != int(np.prod(dims)):
            raise SystemExit(f"{folder}/{name} holds {body.size} bytes but its header says "
                             f"{dims}: was the run cut short?")
        return body.reshape(dims)
    images = read("t10k-images-idx3-ubyte")
    labels = read("t10k-labels-idx1-ubyte").astype(int)
    if len(images) != len(labels):
        raise SystemExit(f"{folder}: {len(images)} images but {len(labels)} labels")
    return images, labels


def trainable_layers(spec, tensors, path):
    """The checkpoint's layers as dicts of f32 numpy weights (int8 ones dequantized) and
    geometry, for training; refuses anything but SoftHebb convolutions and a dense readout."""
    layers = []
    for i, layer in enumerate(spec["layers"]):
        if f"layers.{i}.weight_q" in tensors:
            q = tensors[f"layers.{i}.weight_q"].astype(np.float32)
            scale = tensors[f"layers.{i}.weight_scale"].astype(np.float32)
            w = (q.reshape(len(q), -1) * scale[:, None]).reshape(q.shape)
        else:
            w = tensors[f"layers.{i}.weight"].astype(np.float32)
        entry = {"W": w.copy(), "b": tensors[f"layers.{i}.bias"].astype(np.float32).copy()}
        conv = layer.get("conv")
        last = i == len(spec["layers"]) - 1
        if conv is not None and layer["activation"]["kind"] == "triangle" and not last:
            entry["conv"] = conv
            entry["power"] = layer["activation"]["power"]
        elif conv is None and last and layer["activation"]["kind"] == "identity":
            entry["W"] = entry["W"].reshape(entry["W"].shape[0], -1)
        else:
            raise SystemExit(f"{path}: layer {i} is not a SoftHebb convolution (or a dense "
                             "readout last): this script trains SoftHebb networks only")
        layers.append(entry)
    return layers


def pad(x, p, mode):
    return np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), mode="reflect" if mode == "reflect" else "constant")


def unpad(dxp, p, mode):
    """The gradient of `pad`: each padded border pixel's gradient goes back to the pixel it
    copied (reflect) or nowhere (zeros)."""
    if p == 0:
        return dxp
    if mode == "reflect":
        dxp = dxp.copy()
        for axis in (2, 3):
            side = dxp.shape[axis] - 2 * p
            a = np.moveaxis(dxp, axis, 0)  # a view: folding into it folds into dxp
            for i in range(p):
                # Padded index i copies input index p - i; padded p + side + i copies side - 2 - i.
                a[2 * p - i] += a[i]
                a[side - 2 - i + p] += a[side + p + i]
    return dxp[:, :, p:-p, p:-p]


def conv_forward(layer, x):
    """One SoftHebb block: convolution, triangle over channels, pooling. Returns the output and
    what the backward pass needs."""
    c = layer["conv"]
    k, p = c["kernel"], c["padding"]
    n, ch, h, w = x.shape
    cols = np.ascontiguousarray(windows(pad(x, p, c.get("padding_mode")), (k, k), axis=(2, 3))
                                .transpose(0, 2, 3, 1, 4, 5)).reshape(-1, ch * k * k)
    oh, ow = h + 2 * p - k + 1, w + 2 * p - k + 1
    u = (cols @ layer["W"].reshape(len(layer["W"]), -1).T + layer["b"]).reshape(n, oh, ow, -1)
    centred = u - u.mean(-1, keepdims=True)
    r = np.maximum(centred, 0)
    a = (r if layer["power"] == 1.0 else r ** layer["power"]).transpose(0, 3, 1, 2)
    size, pp = c["pool"], c.get("pool_padding", 0)
    step = c.get("pool_stride") or size
    win = windows(pad(a, pp, "zeros"), (size, size), axis=(2, 3))[:, :, ::step, ::step]
    win = win.reshape(*win.shape[:4], size * size)
    if c.get("pool_kind", "max") == "avg":
        y, arg = win.mean(-1), None
    else:
        arg = win.argmax(-1)
        y = np.take_along_axis(win, arg[..., None], -1)[..., 0]
    return np.ascontiguousarray(y), (x.shape, cols, r, a.shape, arg, y.shape)


def conv_backward(layer, dy, cache, need_input_grad):
    c = layer["conv"]
    in_shape, cols, r, a_shape, arg, _ = cache
    n, o, h, w = a_shape
    size, pp = c["pool"], c.get("pool_padding", 0)
    step = c.get("pool_stride") or size
    dap = np.zeros((n, o, h + 2 * pp, w + 2 * pp), np.float32)
    ph, pw = dy.shape[2], dy.shape[3]
    for dy_, dx_ in np.ndindex(size, size):
        share = dy / (size * size) if arg is None else dy * (arg == dy_ * size + dx_)
        dap[:, :, dy_:dy_ + step * ph:step, dx_:dx_ + step * pw:step] += share
    da = dap[:, :, pp:pp + h, pp:pp + w].transpose(0, 2, 3, 1)
    power = layer["power"]
    if power == 1.0:
        dcentred = da * (r > 0)
    else:  # the derivative of r^power, kept finite where r is near 0
        dcentred = da * power * np.where(r > 0, np.maximum(r, 1e-3) ** (power - 1), 0)
    du = (dcentred - dcentred.mean(-1, keepdims=True)).reshape(-1, o)
    grads = {"W": (du.T @ cols).reshape(layer["W"].shape), "b": du.sum(0)}
    if not need_input_grad:
        return grads, None
    k, p = c["kernel"], c["padding"]
    ch = in_shape[1]
    dcols = (du @ layer["W"].reshape(o, -1)).reshape(n, h, w, ch, k, k)
    dxp = np.zeros((n, ch, h + k - 1, w + k - 1), np.float32)
    for ky, kx in np.ndindex(k, k):
        dxp[:, :, ky:ky + h, kx:kx + w] += dcols[:, :, :, :, ky, kx].transpose(0, 3, 1, 2)
    return grads, unpad(dxp, p, c.get("padding_mode"))


def forward(layers, x, start=0):
    caches = []
    for layer in layers[start:-1]:
        x, cache = conv_forward(layer, x)
        caches.append(cache)
    readout = layers[-1]
    features = x.reshape(len(x), -1)
    return features @ readout["W"].T + readout["b"], features, caches


def predict(layers, x, start=0, chunk=500):
    return np.concatenate([forward(layers, x[i:i + chunk], start)[0].argmax(1)
                           for i in range(0, len(x), chunk)])


class Adam:
    def __init__(self, rate):
        self.rate, self.t, self.m, self.v = rate, 0, {}, {}

    def step(self, params):
        self.t += 1
        for key, (value, grad) in params.items():
            m = self.m.setdefault(key, np.zeros_like(grad))
            v = self.v.setdefault(key, np.zeros_like(grad))
            m[:] = 0.9 * m + 0.1 * grad
            v[:] = 0.999 * v + 0.001 * grad * grad
            value -= self.rate * (m / (1 - 0.9 ** self.t)) / (np.sqrt(v / (1 - 0.999 ** self.t)) + 1e-8)


def train_step(layers, x, y, start, temperature, adam):
    logits, features, caches = forward(layers, x, start)
    z = logits / temperature
    z -= z.max(1, keepdims=True)
    g = np.exp(z)
    g /= g.sum(1, keepdims=True)
    g[np.arange(len(y)), y] -= 1
    g /= len(y) * temperature
    readout = layers[-1]
    params = {(len(layers) - 1, "W"): (readout["W"], g.T @ features),
              (len(layers) - 1, "b"): (readout["b"], g.sum(0))}
    trained = range(start, len(layers) - 1)
    if len(trained):
        d = (g @ readout["W"]).reshape(caches[-1][5])
        for i, cache in zip(reversed(trained), reversed(caches)):
            grads, d = conv_backward(layers[i], d, cache, need_input_grad=i > start)
            params[(i, "W")] = (layers[i]["W"], grads["W"])
            params[(i, "b")] = (layers[i]["b"], grads["b"])
    adam.step(params)


def check_gradients(seed=0):
    """Holds `conv_backward` to finite differences of `conv_forward` on small random blocks
    (max and average pooling, reflected and zero padding, the triangle's powers); returns the
    largest relative error found."""
    rng = np.random.default_rng(seed)
    blocks = [
        (dict(kernel=5, padding=2, pool=4, pool_stride=2, pool_padding=1, padding_mode="reflect"), 0.7),
        (dict(kernel=3, padding=1, pool=2, pool_kind="avg", padding_mode="reflect"), 1.0),
        (dict(kernel=3, padding=1, pool=2, padding_mode="zeros"), 1.4),
    ]
    worst = 0.0
    for conv, power in blocks:
        layer = {"W": rng.normal(size=(4, 3, conv["kernel"], conv["kernel"])),
                 "b": rng.normal(size=4), "conv": conv, "power": power}
        x = rng.normal(size=(2, 3, 7, 7))
        y, cache = conv_forward(layer, x)
        dy = rng.normal(size=y.shape)
        grads, dx = conv_backward(layer, dy, cache, need_input_grad=True)
        eps = 1e-6
        numeric = lambda y2: float(((y2 - y) * dy).sum() / eps)  # noqa: E731
        for idx in [(0, 0, 0, 0), (1, 2, 6, 6), (0, 1, 0, 6), (1, 0, 3, 1), (0, 2, 6, 0)]:
            x2 = x.copy()
            x2[idx] += eps
            worst = max(worst, abs(numeric(conv_forward(layer, x2)[0]) - dx[idx]) / (abs(dx[idx]) + 1e-3))
        for idx in [(1, 2, 0, 1), (3, 0, 1, 1)]:
            w2 = dict(layer, W=layer["W"].copy())
            w2["W"][idx] += eps
            worst = max(worst, abs(numeric(conv_forward(w2, x)[0]) - grads["W"][idx])
                        / (abs(grads["W"][idx]) + 1e-3))
    return worst


def block_inputs(layers, x, chunk=500):
    """What each layer of `layers` reads, on every frame of `x`: `x` itself, then each
    convolution block's output in turn, the last one the readout's input."""
    inputs = [x]
    for layer in layers[:-1]:
        h = inputs[-1]
        inputs.append(np.concatenate([conv_forward(layer, h[i:i + chunk])[0]
                                      for i in range(0, len(h), chunk)]))
    return inputs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--record", help="a folder written by --record-inputs")
    ap.add_argument("--shift", help="N or N..M: the frames of the shift, as plastic-sim --shift-at")
    ap.add_argument("--check", action="store_true",
                    help="only hold the backward pass to finite differences, and exit")
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--rate", type=float, default=0.05, help="share of frames with a label")
    ap.add_argument("--seeds", default="0,1", help="which frames are labelled, one draw per seed")
    ap.add_argument("--modes", default="readout,last,all")
    ap.add_argument("--rates", default=RATES, help="Adam's learning rates to try")
    args = ap.parse_args()
    if args.check:
        worst = check_gradients()
        print(f"largest relative error of the gradients against finite differences: {worst:.1e}")
        sys.exit(0 if worst < 1e-3 else 1)
    if args.record is None or args.shift is None:
        ap.error("--record and --shift are required (or --check alone)")
    unknown = [m for m in args.modes.split(",") if m not in MODES]
    if unknown:
        raise SystemExit(f"--modes: unknown {', '.join(unknown)}; the modes are {', '.join(MODES)}")
    images, labels = read_idx(args.record)
    s0, _, end = args.shift.partition("..")
    s0 = int(s0)
    if s0 <= 0:
        raise SystemExit("--shift: the shift must start after some frames of the original view")
    end = min(int(end) if end else len(labels), s0 + MEASURED[1], len(labels))
    if end <= s0 + MEASURED[0]:
        raise SystemExit(f"the recording has {len(labels)} frames: the shift at {args.shift} "
                         f"has no frame {MEASURED[0]} after its start")
    try:
        spec, tensors = plastic_io.load(args.model)
    except Exception as e:  # noqa: BLE001  (safetensors raises its own error types)
        raise SystemExit(f"cannot read the model {args.model}: {e}")
    layers0 = trainable_layers(spec, tensors, args.model)
    inp = spec["input"]
    if images[0].size != inp["channels"] * inp["height"] * inp["width"]:
        raise SystemExit(f"the recording's images have {images[0].size} pixels, the model "
                         "takes another size: record with the model named here")
    flat = images.reshape(len(images), -1)
    x = plastic_io.preprocess(spec, flat).reshape(-1, inp["channels"], inp["height"], inp["width"])
    measured = np.arange(s0 + MEASURED[0], end)
    before = np.arange(0, s0)
    # The frozen model's answers as the runtime gives them (int8 where the model is), and how
    # often the f32 network trained here agrees with them before any step.
    frozen = plastic_io.predict((spec, tensors), flat).argmax(1)
    # Every layer's input, computed once: the modes train from different layers on.
    inputs = block_inputs(layers0, x)
    readout = layers0[-1]
    logits0 = inputs[-1].reshape(len(x), -1) @ readout["W"].T + readout["b"]
    agree = float(np.mean(logits0.argmax(1) == frozen))
    acc = lambda pred, idx: float(np.mean(pred == labels[idx]))
    before_acc = acc(frozen[before], before)
    first = np.arange(s0, min(s0 + DROP_FRAMES, end))
    drop = before_acc - acc(frozen[first], first)
    frozen_late = acc(frozen[measured], measured)
    top2 = np.sort(logits0[before[:500]], 1)[:, -2:]
    temperature = float(np.mean(top2[:, 1] - top2[:, 0])) / 4  # a typical margin of 4 nats
    print(f"{args.record}: frozen {before_acc:.1%} before the shift, drop {drop * 100:.1f} pt, "
          f"{frozen_late:.1%} over frames {MEASURED[0]}-{end - s0} of the shift; the trained "
          f"network, before training, answers as the runtime on {agree:.1%} of the frames")
    print(f"| trained | labels | rate@steps chosen | frames {MEASURED[0]}-{end - s0} | won back "
          f"| original view | won back at {FIXED[0]:.0e}@{FIXED[1]} |")
    print("|---|---|---|---|---|---|---|")
    for mode in args.modes.split(","):
        depth = MODES[mode]
        start = 0 if depth is None else len(layers0) - depth
        fixed = inputs[start]
        results = []
        for seed in [int(s) for s in args.seeds.split(",")]:
            rng = np.random.default_rng(seed)
            labelled = np.flatnonzero(rng.random(end) < args.rate)
            best, fixed_late = None, float("nan")
            for rate in [float(r) for r in args.rates.split(",")]:
                layers = [{k: (v.copy() if isinstance(v, np.ndarray) else v)
                           for k, v in layer.items()} for layer in layers0]
                adam = Adam(rate)
                for step in range(1, STEPS[-1] + 1):
                    batch = rng.choice(labelled, BATCH)
                    train_step(layers, fixed[batch], labels[batch], start, temperature, adam)
                    if step in STEPS:
                        late = acc(predict(layers, fixed[measured], start), measured)
                        if (rate, step) == FIXED:
                            fixed_late = late
                        if best is None or late > best[2]:
                            orig = acc(predict(layers, fixed[before], start), before)
                            best = (rate, step, late, orig)
            results.append((len(labelled), *best, fixed_late))
        n, _, _, late, orig, fixed_late = np.mean(results, 0)
        chosen = ", ".join(f"{r[1]:.0e}@{r[2]}" for r in results)
        won = (late - frozen_late) / drop if drop > 0 else float("nan")
        fixed_won = (fixed_late - frozen_late) / drop if drop > 0 else float("nan")
        print(f"| {mode} | {n:.0f} | {chosen} | {late:.1%} | {won:.0%} | "
              f"{orig:.1%} ({(orig - before_acc) * 100:+.1f} pt) | {fixed_won:.0%} |", flush=True)


if __name__ == "__main__":
    main()
