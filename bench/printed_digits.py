"""Digits nobody wrote by hand, as 28x28 ink in [0, 1] framed as MNIST's: printed in a
typeface, or lit on a seven-segment display.

A camera reading a meter, a label or a price tag sees these, not handwriting: the same ten
classes from a population the device never saw. Used by `bench/held_out_streams.py --digits`.
Printed digits need the DejaVu fonts (Debian: `apt-get install fonts-dejavu-core`).
"""
import glob

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_DIRS = ["/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu"]


def fonts():
    """The DejaVu typefaces installed (sans, serif, mono; bold, oblique, condensed, light)."""
    found = sorted(f for d in FONT_DIRS for f in glob.glob(f"{d}/DejaVu*.ttf") if "Math" not in f)
    if not found:
        raise SystemExit("printed digits need the DejaVu fonts: apt-get install fonts-dejavu-core")
    return found


def mnist_box(ink):
    """`ink` (a 2-D array in [0, 1]) cut to its ink, scaled so its longer side is 20 pixels
    and centred in a 28x28 field, as MNIST's digits are."""
    ys, xs = np.nonzero(ink > 0.1)
    ink = ink[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    h, w = ink.shape
    scale = 20 / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = Image.fromarray((ink * 255).astype(np.uint8)).resize(size, Image.BILINEAR)
    small = np.asarray(small, dtype=np.float64) / 255
    out = np.zeros((28, 28))
    h, w = small.shape
    out[(28 - h) // 2:(28 - h) // 2 + h, (28 - w) // 2:(28 - w) // 2 + w] = small
    return out


def printed(digit, font, rng):
    """`digit` in the typeface `font` (a path), drawn large and framed as MNIST's."""
    canvas = Image.new("L", (112, 112), 0)
    face = ImageFont.truetype(font, int(rng.integers(70, 90)))
    draw = ImageDraw.Draw(canvas)
    left, top, right, bottom = draw.textbbox((0, 0), str(digit), font=face)
    draw.text(((112 - (right - left)) / 2 - left, (112 - (bottom - top)) / 2 - top), str(digit),
              fill=255, font=face)
    return mnist_box(np.asarray(canvas, dtype=np.float64) / 255)


# The segments each digit lights: a top, b upper right, c lower right, d bottom, e lower left,
# f upper left, g middle.
SEGMENTS = {0: "abcdef", 1: "bc", 2: "abdeg", 3: "abcdg", 4: "bcfg", 5: "acdfg", 6: "acdefg",
            7: "abc", 8: "abcdefg", 9: "abcdfg"}


def segments(digit, rng):
    """`digit` on a seven-segment display: bars 6 to 10 pixels thick on an 80x80 canvas, a
    gap at each joint, slanted 0 to 10 degrees as most displays are, framed as MNIST's."""
    canvas = np.zeros((80, 80))
    t = int(rng.integers(6, 11))
    x0, x1, y0, y1, y2 = 22, 58, 6, 40, 74
    bars = {"a": (y0, x0, y0, x1), "g": (y1, x0, y1, x1), "d": (y2, x0, y2, x1),
            "f": (y0, x0, y1, x0), "b": (y0, x1, y1, x1), "e": (y1, x0, y2, x0),
            "c": (y1, x1, y2, x1)}
    for name in SEGMENTS[digit]:
        ya, xa, yb, xb = bars[name]
        canvas[min(ya, yb) - t // 2 + 2:max(ya, yb) + t // 2 - 1,
               min(xa, xb) - t // 2 + 2:max(xa, xb) + t // 2 - 1] = 1
    shear = np.tan(np.radians(rng.uniform(0, 10)))
    out = np.zeros_like(canvas)
    for y in range(80):
        shift = int(round(shear * (40 - y)))
        out[y] = np.roll(canvas[y], shift)
    return mnist_box(out)
