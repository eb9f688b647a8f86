#!/usr/bin/env python3
"""A `dir:` stream of Fashion-MNIST items photographed, for a model trained on Fashion-MNIST.

Each frame is one Fashion-MNIST test item as a camera over a table would see it: the item
(Fashion-MNIST stores it light on black, the negative of Zalando's product photo) printed
dark on light paper, or light on a dark cloth with `--polarity light`, its longer side FILL of
the frame's shorter side (drawn per frame between the two values of `--fill`), at a random
place that keeps it in the frame, under light that falls off linearly in a random direction,
with sensor noise. Named `NNNNN_LABEL.png` for `--camera dir:`.

    python3 bench/object_stream.py --data-dir ../shared/data --out items --fill 0.4 0.9
    plastic-train cnn --dataset fashion-mnist --preset cnn-mnist --epochs 1 --out fashion.safetensors
    plastic-sim --model fashion.safetensors --camera dir:items --json

A frame filled by the item (`--fill 1 1`) is where framing is hardest: the paper is then a
thin margin, and the item, not the paper, is most of the frame.

Needs numpy.
"""
import argparse

import numpy as np

from writers_stream import mnist_test, resize, write_stream


def photograph(item, fill, polarity, size, rng):
    """`item` (in [0, 1], light on black) photographed in a `size` (width, height) frame."""
    width, height = size
    side = max(2, int(round(fill * min(width, height))))
    scaled = np.clip(resize(item, side, side), 0, 1)
    top = rng.integers(0, height - side + 1)
    left = rng.integers(0, width - side + 1)
    if polarity == "dark":
        paper, ink = rng.uniform(170, 230), rng.uniform(10, 40)
    else:
        paper, ink = rng.uniform(20, 60), rng.uniform(200, 245)
    out = np.full((height, width), paper)
    region = out[top:top + side, left:left + side]
    out[top:top + side, left:left + side] = region + scaled * (ink - region)
    # The light falls to 70-100 % of itself across the frame, in a random direction.
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:height, 0:width]
    along = np.cos(angle) * xx / width + np.sin(angle) * yy / height
    along = (along - along.min()) / max(along.max() - along.min(), 1e-9)
    out *= 1.0 - rng.uniform(0.0, 0.3) * along
    out += rng.normal(0, 3, out.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default="../shared/data")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--fill", type=float, nargs=2, default=(0.4, 0.9), metavar=("LO", "HI"))
    ap.add_argument("--polarity", choices=("dark", "light", "both"), default="dark")
    ap.add_argument("--size", type=int, nargs=2, default=(160, 120), metavar=("W", "H"))
    args = ap.parse_args()
    lo, hi = args.fill
    if not 0 < lo <= hi <= 1:
        ap.error("--fill takes two shares of the frame's shorter side, 0 < LO <= HI <= 1")
    if min(args.size) < 8 or args.frames < 1:
        ap.error("--size takes a frame of at least 8x8 pixels, --frames at least 1")
    rng = np.random.default_rng(args.seed)
    x, y = mnist_test(args.data_dir, "fashion-mnist")
    order = rng.permutation(len(x))[:args.frames]

    def frames():
        for n, i in enumerate(order):
            polarity = args.polarity if args.polarity != "both" else ("dark", "light")[n % 2]
            fill = rng.uniform(lo, hi)
            yield photograph(x[i], fill, polarity, tuple(args.size), rng), y[i]

    write_stream(args.out, frames(), (0, 0))
    print(f"{len(order)} frames of Fashion-MNIST items in {args.out}")


if __name__ == "__main__":
    main()
