"""Read, run and write `plastic/1` checkpoints with numpy (docs/FORMAT.md as a program).

Needs numpy and safetensors only (`python3 -m pip install numpy safetensors`); torch is not
needed. A PyTorch user converts with `tensor.detach().cpu().numpy()`.

    spec, tensors = load("model.int8.safetensors")
    scores = predict((spec, tensors), images)       # uint8 pixels, [N, C*H*W] or [N, (C,) H, W]
    save("mine.safetensors", spec, tensors, train={"dataset": "mnist"})

`predict` follows the runtime step by step in f32, so an int8 checkpoint gives the runtime's
scores (up to the last bits of `tanh`) and therefore its answers; an f32 checkpoint agrees to
about 1e-6 relative, the runtime's sums being in an order its CPU's kernels choose.
"""

import json
import zlib

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

FORMAT = "plastic/1"

__all__ = [
    "FORMAT",
    "CheckpointError",
    "load",
    "metadata",
    "save",
    "checksum",
    "validate",
    "mlp_spec",
    "preprocess",
    "forward",
    "predict",
    "quantize_vectors",
]

_F32 = np.float32


class CheckpointError(ValueError):
    """A file or a set of tensors that is not a valid `plastic/1` checkpoint, and why."""


# ---------------------------------------------------------------------------------------------
# Reading and writing


def checksum(tensors):
    """The `checksum` metadata value of a set of tensors: `crc32:` and eight lower-case hex
    digits, the CRC-32 (zlib's) of every tensor's little-endian bytes, the tensors in the order
    of their names (docs/FORMAT.md)."""
    crc = 0
    for name in sorted(tensors):
        value = np.asarray(tensors[name])
        value = value.astype(value.dtype.newbyteorder("<"), copy=False)
        crc = zlib.crc32(np.ascontiguousarray(value).tobytes(), crc)
    return f"crc32:{crc:08x}"


def metadata_checksum(meta):
    """The `metadata_checksum` value of a metadata dict: the CRC-32 of every entry but the two
    checksums, in key order, each as key, a zero byte, value, a zero byte (docs/FORMAT.md)."""
    crc = 0
    for key in sorted(meta):
        if key in ("checksum", "metadata_checksum"):
            continue
        crc = zlib.crc32(key.encode() + b"\0" + meta[key].encode() + b"\0", crc)
    return f"crc32:{crc:08x}"


def _verify_metadata(path, meta):
    stored = meta.get("metadata_checksum")
    if stored is None:
        return
    computed = metadata_checksum(meta)
    if computed != stored.lower():
        raise CheckpointError(
            f"{path}: the metadata (spec, provenance, metrics) do not match their checksum:"
            f" the file is damaged (it records {stored}, its metadata give {computed})"
        )


def metadata(path):
    """The checkpoint's metadata: `format` as a string, `spec`, `train`, `metrics` parsed
    from their JSON (`train` and `metrics` are None when absent), and `checksum` as a string
    (None in a file written before checksums)."""
    with safe_open(str(path), framework="numpy") as f:
        meta = f.metadata() or {}
    if meta.get("format") != FORMAT:
        raise CheckpointError(
            f"{path}: format is {meta.get('format')!r}, expected {FORMAT!r}"
        )
    if "spec" not in meta:
        raise CheckpointError(f"{path}: no `spec` metadata")
    _verify_metadata(path, meta)
    out = {"format": meta["format"], "checksum": meta.get("checksum")}
    for key in ("spec", "train", "metrics"):
        text = meta.get(key)
        try:
            out[key] = None if text is None else json.loads(text)
        except json.JSONDecodeError as e:
            raise CheckpointError(f"{path}: `{key}` is not JSON: {e}") from e
    return out


def load(path):
    """(spec dict, {tensor name: numpy array}) of a checkpoint, validated as the runtime
    validates it (the checksum when the file has one, shapes, dtypes, finite values)."""
    meta = metadata(path)
    spec = meta["spec"]
    with safe_open(str(path), framework="numpy") as f:
        tensors = {name: f.get_tensor(name) for name in f.keys()}
    stored = meta["checksum"]
    if stored is not None:
        if not stored.startswith("crc32:"):
            raise CheckpointError(f"{path}: checksum {stored!r} is not crc32")
        computed = checksum(tensors)
        if computed != stored.lower():
            raise CheckpointError(
                f"{path}: the tensor data does not match its checksum: the file is damaged"
                f" (it records {stored}, its tensors give {computed})"
            )
    validate(spec, tensors)
    return spec, tensors


def save(path, spec, tensors, train=None, metrics=None):
    """Writes a `plastic/1` checkpoint: `tensors` named as docs/FORMAT.md says
    (`layers.{i}.weight` [out, in] as PyTorch's `nn.Linear.weight`, `layers.{i}.bias`, or
    `weight_q` + `weight_scale` for int8), `spec` a dict as `load` returns (see `mlp_spec`).
    Validates first, so a file this writes is one the runtime reads. Record the training
    dataset in `train["dataset"]` (`mnist`, `fashion-mnist`, `cifar10`): `plastic eval` reads
    it."""
    out = {}
    for name, value in tensors.items():
        value = np.asarray(value)
        if value.dtype != np.int8:
            value = value.astype(_F32)
        out[name] = np.ascontiguousarray(value)
    validate(spec, out)
    meta = {"format": FORMAT, "spec": json.dumps(spec, separators=(",", ":"))}
    meta["train"] = json.dumps(train if train is not None else None)
    meta["metrics"] = json.dumps(metrics if metrics is not None else None)
    meta["metadata_checksum"] = metadata_checksum(meta)
    meta["checksum"] = checksum(out)
    save_file(out, str(path), metadata=meta)


def mlp_spec(
    shapes,
    width,
    height,
    channels=1,
    preprocess=None,
    classes=None,
    name="mlp",
    bias=True,
    hidden_activation="relu",
):
    """The spec of a dense network with weight shapes `shapes` ([out, in] each, first layer
    first): `hidden_activation` between layers (`relu`), logits (`identity`) out.
    `preprocess` defaults to `{"kind": "scale01"}` (pixels / 255)."""
    layers = []
    for i, (outputs, inputs) in enumerate(shapes):
        last = i + 1 == len(shapes)
        layers.append(
            {
                "kind": {"kind": "dense"},
                "inputs": int(inputs),
                "outputs": int(outputs),
                "bias": bool(bias),
                "activation": {"kind": "identity" if last else hidden_activation},
            }
        )
    return {
        "name": name,
        "input": {
            "width": int(width),
            "height": int(height),
            "channels": int(channels),
            "preprocess": preprocess or {"kind": "scale01"},
        },
        "layers": layers,
        "classes": list(classes or []),
    }


def _pool_step(conv):
    return conv.get("pool_stride", 0) or max(conv["pool"], 1)


def _conv_sizes(conv):
    """The convolution's output height and width, then after pooling (windows of `pool`,
    `pool_stride` apart, over the output padded by `pool_padding` zeros)."""
    grow = lambda side: max(side + 2 * conv["padding"] + 1 - conv["kernel"], 0)  # noqa: E731
    ch, cw = grow(conv["height"]), grow(conv["width"])
    pool, pad = max(conv["pool"], 1), conv.get("pool_padding", 0)
    pooled = lambda side: max((side + 2 * pad - pool) // _pool_step(conv) + 1, 0)  # noqa: E731
    return ch, cw, pooled(ch), pooled(cw)


def _weight_shape(layer):
    conv = layer.get("conv")
    if conv:
        return (conv["out_channels"], conv["in_channels"], conv["kernel"], conv["kernel"])
    return (layer["outputs"], layer["inputs"])


def validate(spec, tensors):
    """Raises CheckpointError unless `tensors` hold what `spec` calls for, as the runtime
    requires: the layers chain, every weight is there in F32 or as I8 with its F32 scales,
    shapes match, values are finite."""
    bad = lambda why: CheckpointError(why)  # noqa: E731
    inp = spec["input"]
    width = inp["width"] * inp["height"] * inp["channels"]
    if width == 0:
        raise bad("input has no pixels")
    pre = inp["preprocess"]
    if pre["kind"] not in ("scale01", "unit_norm", "centred_unit_norm", "mean_std"):
        raise bad(f"unknown preprocess {pre['kind']!r}")
    if pre["kind"] == "mean_std":
        if len(pre["mean"]) != inp["channels"] or len(pre["std"]) != inp["channels"]:
            raise bad("mean/std need one entry per channel")
        if not all(np.isfinite(s) and s > 0 for s in pre["std"]):
            raise bad("std must be positive")
    if not spec["layers"]:
        raise bad("model has no layers")
    for i, layer in enumerate(spec["layers"]):
        if layer["inputs"] != width:
            raise bad(f"layer {i} takes {layer['inputs']} inputs but receives {width}")
        act = layer["activation"]["kind"]
        if act not in ("identity", "relu", "rectified_power", "tanh", "triangle"):
            raise bad(f"layer {i}: unknown activation {act!r}")
        conv = layer.get("conv")
        if act == "triangle" and not conv:
            raise bad(f"layer {i}: the triangle activation belongs to a convolution")
        if conv:
            if conv.get("padding_mode", "zeros") not in ("zeros", "reflect"):
                raise bad(f"layer {i}: unknown padding mode {conv['padding_mode']!r}")
            if conv.get("pool_kind", "max") not in ("max", "avg"):
                raise bad(f"layer {i}: unknown pooling {conv['pool_kind']!r}")
            if conv.get("padding_mode") == "reflect" and conv["padding"] >= min(
                conv["height"], conv["width"]
            ):
                raise bad(f"layer {i}: reflected padding wider than the input")
            _, _, ph, pw = _conv_sizes(conv)
            if conv["in_channels"] * conv["height"] * conv["width"] != layer["inputs"] or (
                conv["out_channels"] * ph * pw != layer["outputs"]
            ):
                raise bad(f"layer {i}: convolution geometry disagrees with inputs/outputs")
        shape = _weight_shape(layer)
        rows = shape[0]
        q, w = tensors.get(f"layers.{i}.weight_q"), tensors.get(f"layers.{i}.weight")
        if q is not None:
            _check(f"layers.{i}.weight_q", q, shape, np.int8)
            _check(f"layers.{i}.weight_scale", tensors.get(f"layers.{i}.weight_scale"), (rows,))
        else:
            _check(f"layers.{i}.weight", w, shape)
        b = tensors.get(f"layers.{i}.bias")
        if layer["bias"]:
            _check(f"layers.{i}.bias", b, (rows,))
        elif b is not None:
            raise bad(f"layers.{i}.bias exists but the spec says the layer has none")
        width = layer["outputs"]
    if spec.get("classes") and len(spec["classes"]) != width:
        raise bad(f"{len(spec['classes'])} class names for {width} outputs")


def _check(name, value, shape, dtype=_F32):
    if value is None:
        raise CheckpointError(f"missing tensor {name}")
    if value.dtype != dtype:
        raise CheckpointError(f"{name} is {value.dtype}, expected {np.dtype(dtype)}")
    if tuple(value.shape) != tuple(shape):
        raise CheckpointError(f"{name} has shape {list(value.shape)}, expected {list(shape)}")
    if dtype == _F32 and not np.all(np.isfinite(value)):
        raise CheckpointError(f"{name} holds non-finite values")


# ---------------------------------------------------------------------------------------------
# Running


def _seq_sum(x):
    """Left-to-right f32 sum along the last axis, as the runtime's iterator sums are (numpy's
    `sum` is pairwise, which rounds differently past 2^24)."""
    return np.cumsum(x, axis=-1, dtype=_F32)[..., -1]


def preprocess(spec, pixels):
    """Pixel bytes ([N, C*H*W] planar, or [N, (C,) H, W]) to the model's f32 input vectors."""
    inp = spec["input"]
    n = inp["width"] * inp["height"] * inp["channels"]
    p = np.asarray(pixels)
    if p.dtype != np.uint8:
        raise CheckpointError(f"pixels must be uint8 bytes, not {p.dtype}")
    p = p.reshape(-1, n).astype(_F32)
    pre = inp["preprocess"]
    kind = pre["kind"]
    if kind == "scale01":
        return p / _F32(255)
    if kind == "unit_norm":
        norm = np.sqrt(_seq_sum(p * p))
        inv = np.where(norm > 0, _F32(1) / np.where(norm > 0, norm, _F32(1)), _F32(0))
        return p * inv[:, None].astype(_F32)
    if kind == "centred_unit_norm":
        mean = _seq_sum(p) / _F32(n)
        d = p - mean[:, None]
        norm = np.sqrt(_seq_sum(d * d))
        inv = np.where(norm > 0, _F32(1) / np.where(norm > 0, norm, _F32(1)), _F32(0))
        return d * inv[:, None].astype(_F32)
    if kind == "mean_std":
        c = inp["channels"]
        mean = np.repeat(np.asarray(pre["mean"], _F32), n // c)
        std = np.repeat(np.asarray(pre["std"], _F32), n // c)
        return (p / _F32(255) - mean) / std
    raise CheckpointError(f"unknown preprocess {kind!r}")


def _round_away(v):
    """C's `roundf` (halves away from zero) of f32 values; exact, in f64."""
    v = v.astype(np.float64)
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


def quantize_vectors(x):
    """Each vector along the last axis to int8 as the runtime does: `s = max|x| / 127`,
    `q = clamp(round(x * (1 / s)), -127, 127)`; returns (q as int32, s as f32)."""
    x = np.asarray(x, _F32)
    m = np.max(np.abs(x), axis=-1)
    s = (m / _F32(127)).astype(_F32)
    safe = np.where(s > 0, s, _F32(1))
    inv = (_F32(1) / safe).astype(_F32)
    q = np.clip(_round_away(x * inv[..., None]), -127, 127).astype(np.int32)
    q[s == 0] = 0
    return q, np.where(s > 0, s, _F32(0)).astype(_F32)


def _product(x, tensors, i, rows):
    """`W x` of layer `i` for the rows of `x` ([..., cols]), in the layer's precision."""
    q = tensors.get(f"layers.{i}.weight_q")
    if q is None:
        w = tensors[f"layers.{i}.weight"].reshape(rows, -1).astype(_F32)
        return np.matmul(x, w.T, dtype=_F32)
    scale = tensors[f"layers.{i}.weight_scale"].astype(_F32)
    xq, sx = quantize_vectors(x)
    # The runtime's i32 sums, exactly: each product is at most 127 * 127 and a row has far
    # fewer than 2^53 / 127^2 of them, so f64 (which BLAS multiplies fast, unlike int64) holds
    # every partial sum without rounding.
    acc = np.matmul(xq.astype(np.float64), q.reshape(rows, -1).astype(np.float64).T)
    return (acc.astype(_F32) * scale) * sx[..., None]


def _power(x, n):
    """`x^n` for `x >= 0` as the runtime computes it: by squaring (and one square root for a
    half number) when `2n` is a whole number up to 128, `powf` otherwise."""
    twice = n * 2.0
    if not (twice == round(twice) and 0.0 <= n <= 64.0):
        return np.power(x, _F32(n)).astype(_F32)
    r = np.ones_like(x)
    base, e = x.copy(), int(n)
    while e > 0:
        if e & 1:
            r = r * base
        base = base * base
        e >>= 1
    if int(twice) % 2 == 1:
        r = r * np.sqrt(x)
    return r


def _activate(z, activation):
    kind = activation["kind"]
    if kind == "identity":
        return z
    if kind == "relu":
        return np.maximum(z, _F32(0))
    if kind == "rectified_power":
        m = np.maximum(np.max(z, axis=-1), _F32(0))
        inv = np.where(m > 0, _F32(1) / np.where(m > 0, m, _F32(1)), _F32(0)).astype(_F32)
        return _power(np.maximum(z, _F32(0)) * inv[:, None], float(activation["n"]))
    if kind == "tanh":
        return np.tanh(_F32(activation["beta"]) * z).astype(_F32)
    raise CheckpointError(f"unknown activation {kind!r}")


def _patches(x, conv):
    """[N, in_c*h*w] planar inputs to [N, conv h, conv w, in_c*k*k] receptive fields, in the
    weight rows' order [c][ky][kx], the padding read as zeros or, for `reflect`, as the input
    mirrored at its edge (the edge itself not repeated)."""
    c, h, w, k, pad = (conv[key] for key in ("in_channels", "height", "width", "kernel", "padding"))
    mode = "reflect" if conv.get("padding_mode") == "reflect" else "constant"
    img = np.pad(x.reshape(-1, c, h, w), ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode=mode)
    ch, cw, _, _ = _conv_sizes(conv)
    cols = np.empty((x.shape[0], ch, cw, c, k, k), _F32)
    for ky in range(k):
        for kx in range(k):
            cols[..., ky, kx] = img[:, :, ky : ky + ch, kx : kx + cw].transpose(0, 2, 3, 1)
    return cols.reshape(x.shape[0], ch, cw, c * k * k)


def _layer(x, layer, tensors, i):
    conv = layer.get("conv")
    bias = tensors.get(f"layers.{i}.bias")
    if not conv:
        z = _product(x, tensors, i, layer["outputs"])
        return z + bias if bias is not None else z
    out_c = conv["out_channels"]
    ch, cw, ph, pw = _conv_sizes(conv)
    z = _product(_patches(x, conv), tensors, i, out_c)  # [N, ch, cw, out_c]
    if bias is not None:
        z = z + bias
    if layer["activation"]["kind"] == "triangle":
        z = _triangle(z.astype(_F32), float(layer["activation"]["power"]))
    pool, step, pad = max(conv["pool"], 1), _pool_step(conv), conv.get("pool_padding", 0)
    z = np.pad(z, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    windows = np.stack(
        [
            z[:, dy : dy + step * (ph - 1) + 1 : step, dx : dx + step * (pw - 1) + 1 : step]
            for dy in range(pool)
            for dx in range(pool)
        ]
    )  # [pool * pool, N, ph, pw, out_c]
    if conv.get("pool_kind") == "avg":
        z = _seq_sum(np.moveaxis(windows, 0, -1)) * _F32(1.0 / (pool * pool))
    else:
        z = windows.max(axis=0)
    return np.ascontiguousarray(z.transpose(0, 3, 1, 2)).reshape(x.shape[0], -1)


def _triangle(z, power):
    """SoftHebb's triangle activation over the channels (last axis) of each position, as the
    runtime applies it before pooling: `max(z - mean(z), 0) ^ power`."""
    mean = _seq_sum(z) / _F32(z.shape[-1])
    centred = np.maximum(z - mean[..., None], _F32(0))
    if power == 1.0:
        return centred
    return np.where(centred > 0, np.power(centred, _F32(power)), _F32(0)).astype(_F32)


def forward(model, x):
    """Class scores (the last layer's outputs, [N, classes], f32) of preprocessed inputs `x`
    ([N, input length] f32) for `model` = (spec, tensors)."""
    spec, tensors = model
    h = np.asarray(x, _F32).reshape(-1, spec["layers"][0]["inputs"])
    for i, layer in enumerate(spec["layers"]):
        h = _layer(h, layer, tensors, i).astype(_F32)
        if layer["activation"]["kind"] != "triangle":  # a convolution's, applied before pooling
            h = _activate(h, layer["activation"])
    return h


def predict(model, pixels, batch=1000):
    """Class scores of raw pixel bytes, through the spec's preprocessing and `forward`, in
    batches of `batch` images. The runtime's answer is `scores.argmax(axis=1)`."""
    spec, _ = model
    x = preprocess(spec, pixels)
    return np.concatenate(
        [forward(model, x[s : s + batch]) for s in range(0, len(x), batch)]
        or [np.zeros((0, spec["layers"][-1]["outputs"]), _F32)]
    )
