#!/usr/bin/env python3
"""MNIST test digits corrupted in their own 28x28 field, as a `dir:` stream.

What a user who already has digits in MNIST's format feeds the device: 28x28 light-on-black
fields, each corrupted the way MNIST-C (Mu & Gilmer 2019) corrupts MNIST (our own renditions,
not their files). `--frames` test digits (a random draw), every one changed by `--kind`:

  identity     as they are
  impulse      5 % of the pixels set to 0 or 255 (salt and pepper)
  shot         Poisson noise at 30 photons for full ink
  gauss        Gaussian noise of sigma 40 levels
  brightness   the black field lifted to 77 (the ink's range squeezed above it)
  fog          a smooth random haze of up to 120 levels
  stripe       a band three pixels wide inverted, top to bottom
  dotted       a dotted white line top to bottom
  zigzag       a zigzag white line top to bottom
  translate    the digit moved up to 5 pixels along each axis
  scale        the digit shrunk to 50 to 70 % in the middle of the field
  rotate       turned up to 40 degrees either way
  shear        sheared by up to 0.5
  motion       a horizontal motion blur of 7 pixels
  glass        blurred, pixels swapped with their neighbours twice, blurred again
  canny        only the digit's outline (its edge pixels)

    python3 bench/corrupted_digits.py --data-dir ../shared/data --kind translate --out translate
    plastic-sim --camera dir:translate --json

Needs numpy and scipy.
"""
import argparse

import numpy as np
from scipy import ndimage

from writers_stream import mnist_test, write_stream

KINDS = ["identity", "impulse", "shot", "gauss", "brightness", "fog", "stripe", "dotted",
         "zigzag", "translate", "scale", "rotate", "shear", "motion", "glass", "canny"]


def line(field, rng, dotted=False, zigzag=False):
    """A white line from the top of the field to its bottom, at random columns."""
    out = field.copy()
    x0, x1 = rng.integers(0, 28, 2)
    ys, xs = np.linspace(0, 27, 60), np.linspace(x0, x1, 60)
    if zigzag:
        xs = xs + 3 * np.sign(np.sin(ys))
    for k, (y, x) in enumerate(zip(ys, xs)):
        if dotted and (k // 4) % 2:
            continue
        out[int(round(y)), int(np.clip(round(x), 0, 27))] = 255
    return out


def glass(field, rng):
    out = ndimage.gaussian_filter(field, 0.7)
    for _ in range(2):
        for y in range(27, 0, -1):
            for x in range(27, 0, -1):
                dy, dx = rng.integers(-1, 2, 2)
                yp, xp = np.clip(y + dy, 0, 27), np.clip(x + dx, 0, 27)
                out[y, x], out[yp, xp] = out[yp, xp], out[y, x]
    return ndimage.gaussian_filter(out, 0.7)


def corrupt(kind, field, rng):
    """`field` (28x28, 0 to 255) changed by `kind`, as bytes."""
    f = field.astype(np.float64)
    if kind == "impulse":
        r = rng.random(f.shape)
        f[r < 0.025] = 0
        f[r > 0.975] = 255
    elif kind == "shot":
        f = rng.poisson(f / 255 * 30) / 30 * 255
    elif kind == "gauss":
        f = f + rng.normal(0, 40, f.shape)
    elif kind == "brightness":
        f = 77 + f * (255 - 77) / 255
    elif kind == "fog":
        f = f + 120 * ndimage.zoom(rng.random((4, 4)), 7, order=3)
    elif kind == "stripe":
        c = rng.integers(6, 22)
        f[:, c:c + 3] = 255 - f[:, c:c + 3]
    elif kind in ("dotted", "zigzag"):
        f = line(f, rng, dotted=kind == "dotted", zigzag=kind == "zigzag")
    elif kind == "translate":
        f = ndimage.shift(f, rng.integers(-5, 6, 2), order=0)
    elif kind == "scale":
        small = ndimage.zoom(f, rng.uniform(0.5, 0.7), order=1)
        o = (28 - small.shape[0]) // 2
        f = np.zeros((28, 28))
        f[o:o + small.shape[0], o:o + small.shape[1]] = small
    elif kind == "rotate":
        f = ndimage.rotate(f, rng.uniform(-40, 40), reshape=False, order=1)
    elif kind == "shear":
        a = rng.uniform(-0.5, 0.5)
        f = ndimage.affine_transform(f, [[1, 0], [a, 1]], offset=[0, -a * 14], order=1)
    elif kind == "motion":
        kernel = np.zeros((7, 7))
        kernel[3, :] = 1 / 7
        f = ndimage.convolve(f, kernel)
    elif kind == "glass":
        f = glass(f, rng)
    elif kind == "canny":
        ink = f > 100
        f = 255.0 * (ink ^ ndimage.binary_erosion(ink))
    return np.clip(f, 0, 255).astype(np.uint8)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default="../shared/data")
    ap.add_argument("--out", required=True)
    ap.add_argument("--kind", required=True, choices=KINDS)
    ap.add_argument("--frames", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    x, y = mnist_test(args.data_dir)
    chosen = rng.permutation(len(x))[:args.frames]
    frames = ((corrupt(args.kind, x[i] * 255.0, rng), y[i]) for i in chosen)
    write_stream(args.out, frames, (0, len(chosen)))
    print(f"{len(chosen)} frames in {args.out}")


if __name__ == "__main__":
    main()
