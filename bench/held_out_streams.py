#!/usr/bin/env python3
"""Streams of shifts nothing in the device was tuned on, as `dir:` folders.

The bank's scenarios (`synthetic:NAME`, `bench/writers_stream.py`) are what the device's rules
and constants were chosen on. These are not: each stream is 2000 MNIST test digits seen by a
camera over paper, then 2000 seen through a compound change of view, then 1000 of the first
view again, with a change chosen here from what cameras and pens do, and never used to pick a
constant:

  --roll DEG     the camera rolled by DEG degrees (the digit turned the other way)
  --pen N        the pen N pixels wider (N > 0) or narrower (N < 0) at the digit's 28x28 scale
  --paper NAME   the paper: `plain`, or a real texture from the shared images (`brick`,
                 `gravel`, `grass`), lightened to paper brightness
  --writers      the shifted digits are the UCI digits of 43 other writers (scikit-learn), not
                 MNIST's

Each frame is 96x96 grey, dark ink on light paper, the digit at a random size and place, with
sensor noise; named `NNNNN_LABEL.png` for `--camera dir:`, with `shift.txt` beside them for
`bench/shift_bank.py --scenarios NAME=DIR`.

    python3 bench/held_out_streams.py --data-dir ../shared/data --out roll20 --roll 20 --pen 1
    plastic-sim --camera dir:roll20 --shift-at 2000..4000 --adapt unsupervised --json

Needs numpy and scipy (and scikit-learn for `--writers`).
"""
import argparse
import os

import numpy as np
from scipy import ndimage

from writers_stream import mnist_test, resize, uci_digits, write_stream

SIZE = 96


def texture(data_dir, name):
    """A grey texture from the shared images, or None for plain paper."""
    if name == "plain":
        return None
    from PIL import Image
    path = os.path.join(data_dir, "images", f"{name}.png")
    if not os.path.exists(path):
        raise SystemExit(f"no {path}: --paper takes plain, brick, gravel or grass")
    return np.asarray(Image.open(path).convert("L"), dtype=np.float64)


def paper(tex, rng):
    """96x96 paper: plain at a random brightness, or a random crop of the texture squeezed
    into the brightness of paper (a light sheet with its grain)."""
    level = rng.uniform(180, 230)
    if tex is None:
        return np.full((SIZE, SIZE), level)
    y = rng.integers(0, tex.shape[0] - SIZE)
    x = rng.integers(0, tex.shape[1] - SIZE)
    crop = tex[y:y + SIZE, x:x + SIZE]
    crop = (crop - crop.mean()) / (crop.std() + 1e-6)
    return level + 12.0 * crop


def pen(ink, width):
    """The digit's strokes widened (or narrowed) by `width` pixels at its own scale."""
    if width == 0:
        return ink
    # A (w+1)x(w+1) maximum (minimum) filter widens (narrows) a stroke by w pixels.
    op = ndimage.grey_dilation if width > 0 else ndimage.grey_erosion
    return op(ink, size=(abs(width) + 1, abs(width) + 1))


def frame(ink, box, roll, tex, rng):
    """The digit drawn `box` pixels tall on paper, the camera rolled by `roll` degrees."""
    out = paper(tex, rng)
    scaled = np.clip(resize(ink, box, box), 0, 1)
    if roll:
        scaled = np.clip(ndimage.rotate(scaled, -roll, reshape=True, order=1), 0, 1)
    h, w = scaled.shape
    h, w = min(h, SIZE), min(w, SIZE)
    scaled = scaled[:h, :w]
    top = np.clip((SIZE - h) // 2 + rng.integers(-6, 7), 0, SIZE - h)
    left = np.clip((SIZE - w) // 2 + rng.integers(-6, 7), 0, SIZE - w)
    region = out[top:top + h, left:left + w]
    out[top:top + h, left:left + w] = region - scaled * (region - 25)
    out += rng.normal(0, 3, out.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default="../shared/data")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--roll", type=float, default=0.0)
    ap.add_argument("--pen", type=int, default=0)
    ap.add_argument("--paper", default="plain")
    ap.add_argument("--writers", action="store_true")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    tex = texture(args.data_dir, args.paper)
    mx, my = mnist_test(args.data_dir)
    order = rng.permutation(len(mx))
    first, middle, last = order[:2000], order[2000:4000], order[4000:5000]
    plain = [(mx[i], my[i], rng.integers(56, 76), 0.0, None) for i in first]
    if args.writers:
        ux, uy = uci_digits()
        shifted = [(pen(ux[i], args.pen), uy[i], rng.integers(40, 54), args.roll, tex)
                   for i in rng.permutation(len(ux))]
    else:
        shifted = [(pen(mx[i], args.pen), my[i], rng.integers(56, 76), args.roll, tex)
                   for i in middle]
    again = [(mx[i], my[i], rng.integers(56, 76), 0.0, None) for i in last]
    stream = plain + shifted + again
    frames = ((frame(ink, int(box), roll, t, rng), label) for ink, label, box, roll, t in stream)
    shift = write_stream(args.out, frames, (2000, 2000 + len(shifted)))
    print(f"{len(stream)} frames in {args.out}; the changed view at frames {shift}")


if __name__ == "__main__":
    main()
