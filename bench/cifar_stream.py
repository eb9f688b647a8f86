#!/usr/bin/env python3
"""A `dir:` stream of CIFAR-10 test images whose camera changes: a shift for a colour model.

The bank's shifts are of digits. This stream checks what a convolutional colour model does on
the device when its camera changes in the ways CIFAR-10-C (Hendrycks & Dietterich 2019)
corrupts images: `--before` test images as they are, `--shifted` more through the change, then
`--after` more as they are, each a 32x32 RGB PNG named `NNNNN_LABEL.png` for `--camera dir:`,
with `shift.txt` beside them for `bench/shift_bank.py --scenarios NAME=DIR`. The changes:

  contrast   the image's contrast cut to 40 % around its mean (haze, a washed-out sensor)
  dusk       45 % of the light, and sensor noise of sigma 6 levels
  blur       a Gaussian blur of sigma 1 pixel (defocus)
  noise      sensor noise of sigma 20 levels
  impulse    6 % of the values (each channel of each pixel) set to 0 or 255, half each: dead and
             hot pixels, CIFAR-10-C's impulse noise at its second severity

    python3 bench/cifar_stream.py --data-dir ../shared/data --out cifar-dusk --shift dusk
    plastic-sim --model softhebb-cifar10.int8.safetensors --camera dir:cifar-dusk \\
        --shift-at 1000..2000 --adapt unsupervised --json

Needs numpy and scipy.
"""
import argparse
import gzip
import os

import numpy as np
from scipy import ndimage

from writers_stream import write_stream


def cifar_test(data_dir):
    """The 10,000 CIFAR-10 test images as (N, 32, 32, 3) uint8, and their labels."""
    for name in ("test_batch.bin", "test_batch.bin.gz"):
        path = os.path.join(data_dir, "cifar10", name)
        if os.path.exists(path):
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rb") as f:
                raw = np.frombuffer(f.read(), np.uint8).reshape(-1, 3073)
            images = raw[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
            return images, raw[:, 0]
    raise SystemExit(f"no test_batch.bin in {data_dir}/cifar10: point --data-dir at the datasets")


def shifted(image, shift, rng):
    x = image.astype(np.float64)
    if shift == "contrast":
        mean = x.mean()
        x = (x - mean) * 0.4 + mean
    elif shift == "dusk":
        x = 0.45 * x + rng.normal(0.0, 6.0, x.shape)
    elif shift == "blur":
        x = ndimage.gaussian_filter(x, sigma=(1.0, 1.0, 0.0))
    elif shift == "noise":
        x = x + rng.normal(0.0, 20.0, x.shape)
    elif shift == "impulse":
        r = rng.random(x.shape)
        x[r < 0.03] = 0
        x[r > 0.97] = 255
    else:
        raise SystemExit(f"unknown --shift {shift}: contrast, dusk, blur, noise or impulse")
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default="../shared/data")
    ap.add_argument("--out", required=True)
    ap.add_argument("--shift", required=True)
    ap.add_argument("--before", type=int, default=1000)
    ap.add_argument("--shifted", type=int, default=1000)
    ap.add_argument("--after", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    images, labels = cifar_test(args.data_dir)
    total = args.before + args.shifted + args.after
    order = rng.permutation(len(images))[:total]
    start, end = args.before, args.before + args.shifted
    frames = ((shifted(images[i], args.shift, rng) if start <= n < end else images[i],
               int(labels[i])) for n, i in enumerate(order))
    text = write_stream(args.out, frames, (start, end))
    print(f"wrote {total} frames to {args.out}, the shift at {text}")


if __name__ == "__main__":
    main()
