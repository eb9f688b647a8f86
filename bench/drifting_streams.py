#!/usr/bin/env python3
"""Streams whose view drifts frame by frame, as `dir:` folders.

`bench/held_out_streams.py` changes the view at a frame and holds it; a camera does not always
wait. Here the first 1000 MNIST test digits are seen by a camera over plain paper, the next
4000 through a view that changes with every frame, then 1000 more as at first:

  ramp-roll       the camera turning slowly through half a turn (0 to 180 degrees)
  roll-and-back   turning to 120 degrees and back again
  wobble          swaying 35 degrees either way, 500 frames a sway (a camera on a post in wind)
  random-roll     each frame rolled its own way within 45 degrees (a camera in a hand)
  random-quarter  each frame a quarter turn of its own (cards put down any way up)
  ramp-blur       the focus drifting off: a blur of sigma 0 to 3 pixels, noise of sigma 0 to 12
  ramp-contrast   the light failing: the contrast down to a fifth
  ramp-dim        the room darkening to a tenth of its light, as a camera with its exposure
                  fixed sees it, with the sensor's read noise (sigma 6 levels)
  ramp-far        the camera moving away: the digits shrinking to a quarter of their size

Each frame is 96x96 grey, dark ink on light paper, drawn as `bench/held_out_streams.py` draws
them; named `NNNNN_LABEL.png` for `--camera dir:`, with `shift.txt` (the drifting frames) and
`segments.txt` beside them.

    python3 bench/drifting_streams.py --data-dir ../shared/data --kind ramp-roll --out ramp-roll
    plastic-sim --camera dir:ramp-roll --shift-at $(cat ramp-roll/shift.txt) --adapt unsupervised --json

Needs numpy and scipy.
"""
import argparse
import os

import numpy as np
from scipy import ndimage

from held_out_streams import frame
from writers_stream import mnist_test, write_stream

KINDS = ["ramp-roll", "roll-and-back", "wobble", "random-roll", "random-quarter", "ramp-blur",
         "ramp-contrast", "ramp-dim", "ramp-far"]
BEFORE, DRIFTING, AFTER = 1000, 4000, 1000


def roll(kind, t, k, rng):
    """The camera's roll in degrees at the drift's fraction `t` (its `k`th frame)."""
    if kind == "ramp-roll":
        return 180.0 * t
    if kind == "roll-and-back":
        return 120.0 * (1.0 - abs(2.0 * t - 1.0))
    if kind == "wobble":
        return 35.0 * np.sin(2.0 * np.pi * k / 500.0)
    if kind == "random-roll":
        return rng.uniform(-45.0, 45.0)
    if kind == "random-quarter":
        return 90.0 * rng.integers(0, 4)
    return 0.0


def after_camera(kind, grey, t, rng):
    """What the drift does to the camera's frame at the drift's fraction `t`."""
    g = grey.astype(np.float64)
    if kind == "ramp-blur":
        g = ndimage.gaussian_filter(g, 3.0 * t) + rng.normal(0.0, 12.0 * t, g.shape)
    elif kind == "ramp-contrast":
        g = (g - 200.0) * (1.0 - 0.8 * t) + 200.0
    elif kind == "ramp-dim":
        g = g * (1.0 - 0.9 * t) + rng.normal(0.0, 6.0 * t, g.shape)
    else:
        return grey
    return np.clip(g, 0, 255).astype(np.uint8)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default="../shared/data")
    ap.add_argument("--out", required=True)
    ap.add_argument("--kind", choices=KINDS, required=True)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    mx, my = mnist_test(args.data_dir)
    order = rng.permutation(len(mx))[:BEFORE + DRIFTING + AFTER]

    def frames():
        for j, i in enumerate(order):
            box = int(rng.integers(56, 76))
            k = j - BEFORE
            if not 0 <= k < DRIFTING:
                yield frame(mx[i], box, 0.0, None, rng), int(my[i])
                continue
            t = k / DRIFTING
            if args.kind == "ramp-far":
                box = max(8, int(round(box * (1.0 - 0.75 * t))))
            grey = frame(mx[i], box, roll(args.kind, t, k, rng), None, rng)
            yield after_camera(args.kind, grey, t, rng), int(my[i])

    write_stream(args.out, frames(), (BEFORE, BEFORE + DRIFTING))
    end = BEFORE + DRIFTING
    with open(os.path.join(args.out, "segments.txt"), "w") as f:
        f.write(f"plain 0..{BEFORE}\nchanged {BEFORE}..{end}\nplain {end}..{end + AFTER}\n")
    print(f"{end + AFTER} frames in {args.out}; the view drifts at frames {BEFORE}..{end}")


if __name__ == "__main__":
    main()
