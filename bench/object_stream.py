#!/usr/bin/env python3
"""A `dir:` stream of Fashion-MNIST items photographed, for a model trained on Fashion-MNIST.

Each frame is one Fashion-MNIST test item as a camera over a table would see it: the item
(Fashion-MNIST stores it light on black, the negative of Zalando's product photo) printed
dark on light paper, or light on a dark cloth with `--polarity light`, its longer side FILL of
the frame's shorter side (drawn per frame between the two values of `--fill`), at a random
place that keeps it in the frame, under light that falls off linearly in a random direction,
with sensor noise. Named `NNNNN_LABEL.png` for `--camera dir:`.

With `--shift N`, frames N to 2N are seen through a changed view and the N after them through
the first one again (3N frames; `shift.txt` beside them, for `bench/shift_bank.py`): the view
changes by any of `--then-fill LO HI`, `--then-polarity`, `--then-blur PIXELS` (out of focus),
`--then-light F` (the light falls to F of itself), `--then-noise SIGMA` and `--then-impulses S`
(a share S of the pixels at 0 or 255, half each: dead and hot pixels).

    python3 bench/object_stream.py --data-dir ../shared/data --out items --fill 0.4 0.9
    plastic-train cnn --dataset fashion-mnist --preset cnn-mnist --epochs 1 --out fashion.safetensors
    plastic-sim --model fashion.safetensors --camera dir:items --json

A frame filled by the item (`--fill 1 1`) is where framing is hardest: the paper is then a
thin margin, and the item, not the paper, is most of the frame.

Needs numpy (and scipy for `--then-blur`).
"""
import argparse
import os

import numpy as np

from writers_stream import mnist_test, resize, write_stream


def photograph(item, fill, polarity, size, rng, blur=0, light=1.0, noise=3.0, impulses=0.0):
    """`item` (in [0, 1], light on black) photographed in a `size` (width, height) frame, out
    of focus by `blur` pixels (a box blur), its light at `light` of itself, with sensor noise
    of `noise` levels and a share `impulses` of its pixels at 0 or 255."""
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
    out *= (1.0 - rng.uniform(0.0, 0.3) * along) * light
    if blur > 1:
        from scipy import ndimage
        out = ndimage.uniform_filter(out, size=blur, mode="nearest")
    out += rng.normal(0, noise, out.shape)
    if impulses:
        r = rng.random(out.shape)
        out[r < impulses / 2] = 0
        out[r > 1 - impulses / 2] = 255
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
    ap.add_argument("--shift", type=int, default=0, metavar="N")
    ap.add_argument("--then-fill", type=float, nargs=2, metavar=("LO", "HI"))
    ap.add_argument("--then-polarity", choices=("dark", "light", "both"))
    ap.add_argument("--then-blur", type=int, default=0)
    ap.add_argument("--then-light", type=float, default=1.0)
    ap.add_argument("--then-noise", type=float, default=3.0)
    ap.add_argument("--then-impulses", type=float, default=0.0)
    args = ap.parse_args()
    lo, hi = args.fill
    if not 0 < lo <= hi <= 1:
        ap.error("--fill takes two shares of the frame's shorter side, 0 < LO <= HI <= 1")
    if min(args.size) < 8 or args.frames < 1:
        ap.error("--size takes a frame of at least 8x8 pixels, --frames at least 1")
    if args.then_fill and not 0 < args.then_fill[0] <= args.then_fill[1] <= 1:
        ap.error("--then-fill takes two shares of the frame's shorter side, 0 < LO <= HI <= 1")
    if not 0 < args.then_light <= 1 or args.then_blur < 0 or args.then_noise < 0:
        ap.error("--then-light takes a share of the light in (0, 1]; --then-blur and "
                 "--then-noise are not negative")
    if not 0 <= args.then_impulses <= 1:
        ap.error("--then-impulses takes a share of the pixels in [0, 1]")
    if args.shift < 0 or 3 * args.shift > 10000:
        ap.error("--shift N needs 0 <= N and 3N frames of the 10,000 test items")
    rng = np.random.default_rng(args.seed)
    x, y = mnist_test(args.data_dir, "fashion-mnist")
    n = 3 * args.shift if args.shift else args.frames
    order = rng.permutation(len(x))[:n]
    first = {"fill": (lo, hi), "polarity": args.polarity, "blur": 0, "light": 1.0, "noise": 3.0,
             "impulses": 0.0}
    then = {"fill": tuple(args.then_fill or (lo, hi)),
            "polarity": args.then_polarity or args.polarity, "blur": args.then_blur,
            "light": args.then_light, "noise": args.then_noise, "impulses": args.then_impulses}
    shifted = range(args.shift, 2 * args.shift)

    def frames():
        for k, i in enumerate(order):
            view = then if k in shifted else first
            polarity = view["polarity"]
            if polarity == "both":
                polarity = ("dark", "light")[k % 2]
            fill = rng.uniform(*view["fill"])
            yield photograph(x[i], fill, polarity, tuple(args.size), rng, view["blur"],
                             view["light"], view["noise"], view["impulses"]), y[i]

    shift = (args.shift, 2 * args.shift) if args.shift else (0, 0)
    write_stream(args.out, frames(), shift)
    if not args.shift:
        os.remove(os.path.join(args.out, "shift.txt"))  # no changed view to mark
    print(f"{len(order)} frames of Fashion-MNIST items in {args.out}"
          + (f"; the changed view at frames {shift[0]}..{shift[1]}" if args.shift else ""))


if __name__ == "__main__":
    main()
