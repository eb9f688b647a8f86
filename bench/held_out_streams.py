#!/usr/bin/env python3
"""Streams of shifts nothing in the device was tuned on, as `dir:` folders.

The bank's scenarios (`synthetic:NAME`, `bench/writers_stream.py`) are what the device's rules
and constants were chosen on. These are not: each stream is 2000 MNIST test digits seen by a
camera over paper, then 2000 seen through a compound change of view, then 1000 of the first
view again, with a change chosen here from what cameras and pens do, and never used to pick a
constant:

  --roll DEG     the camera rolled by DEG degrees (the digit turned the other way)
  --pen N        the pen N pixels wider (N > 0) or narrower (N < 0) at the digit's 28x28 scale
                 (with --writers at their 8x8 scale, so only wider: narrower erases them)
  --paper NAME   the paper: `plain`, or a real texture from the shared images (`brick`,
                 `gravel`, `grass`), lightened to paper brightness
  --writers      the shifted digits are the UCI digits of 43 other writers (scikit-learn), not
                 MNIST's
  --digits KIND  the shifted digits nobody wrote by hand (`bench/printed_digits.py`): `printed`
                 (a random DejaVu typeface of 21: sans, serif, mono, bold, oblique, condensed,
                 light) or `segments` (a seven-segment display, bars 6 to 10 pixels of 80)
  --segments S   the order the camera sees the views in, as comma-separated `plain:N` (N
                 digits of the first view) and `changed:N` (N of the changed view; `changed`
                 alone is 2000, or the UCI digits once over with --writers): by default
                 `plain:2000,changed,plain:1000`. `changed:2000,plain:2000` is a device put
                 where its view is changed from the first frame on, and
                 `plain:1000,changed:1000,plain:1000,changed:1000` a change that comes and
                 goes. `segments.txt` lists each segment's frames; `shift.txt` has the first
                 changed one's
  --gaps N       after each shifted digit, 0 to N frames with no digit: the shifted view's empty
                 sheet, or the camera looking past it (a crop of one of the shared stills); they
                 have no label, and the changed view's range grows by them
  --gaps-from K  what the camera sees past the sheet in those gaps: `stills` (the default),
                 `cifar10` (a CIFAR-10 test image filling the frame: a room, an animal, a car)
                 or `fashion` (a Fashion-MNIST test item drawn on the sheet as a digit would
                 be: a thing on the paper that is no digit)
  --ruled N      the shifted view's paper ruled, a grey line every N pixels (a notebook)
  --shadow F     a shadow across the shifted view: the light falls to F of itself from one side
                 to the other, in a random direction
  --motion N     the shifted view blurred by N pixels of motion in a random direction (a hand
                 or a belt moving while the shutter is open)
  --far F        the shifted digits drawn at F of their size (the camera 1/F times as far:
                 F = 0.3 leaves a digit about 20 pixels tall, under 1 % of the frame)
  --hold N       each digit held before the camera for N frames on average (1 to 2N - 1),
                 as a hand holds a card to a camera: the same sheet and light while it is
                 held, the hand drifting a pixel and a degree a frame, fresh sensor noise;
                 the stream keeps its length, so it shows fewer digits
  --dim F        the shifted view's room lit at F of the paper's usual light, as a camera
                 with its exposure fixed sees it: the scene multiplied by F, with the sensor's
                 read noise (sigma 6 levels) on top (F = 0.12 leaves paper at about 25 levels)
  --gain G       with --dim, the camera's gain: the dim frame multiplied by G, noise and all,
                 as a camera with automatic exposure brings a dim room back up
  --impulses S   a share S of the shifted view's pixels set to 0 or 255, half each (dead and
                 hot pixels, a noisy link: "salt and pepper")
  --change KIND  one more change of the shifted view, after the camera: `mirror` (a selfie
                 camera's mirrored picture), `upside` (the camera mounted upside down),
                 `occlude` (a band of paper 9 pixels tall across the frame: a strip of tape),
                 `jpeg` (JPEG at quality 8), `pixelate` (a 24x24 sensor scaled up), `faint`
                 (contrast cut to 30 %, noise of sigma 12), `gamma` (gamma 3: dark mid-tones),
                 `flicker` (each frame's exposure 0.45 to 1.3 times, offset by up to 30 levels:
                 automatic exposure hunting), `overexposed` (levels times 2.2 less 120: the paper
                 burnt out), `banding` (a rolling shutter under flickering light: the rows' light
                 35 % up and down, in bands 12 to 30 rows apart), `interlace` (every other row
                 shifted 2 to 4 pixels: two fields of a moving scene),
                 `zoom` (the frame cropped 1.6 times closer: digits cut by its edges) or
                 `elastic` (the digit distorted as Simard et al. distorted MNIST: alpha 34,
                 sigma 4)
  --scene KIND   something else in the shifted view's frame besides the digit on its paper:
                 `desk` (the sheet does not fill the frame: a dark desk along one or two
                 edges), `thumb` (a thumb holding the sheet, in from an edge), `vignette` (a
                 cheap lens: the corners at 35 to 50 % of the centre's light), `neighbours`
                 (the digit one of a number: its neighbours cut by the frame's edges),
                 `boxed` (the digit written in a form's printed box), `glare` (a bright
                 reflection off glossy paper), `letterbox` (black bars down both sides, a
                 4:3 picture in a wide frame), `pen` (a pen lying on the sheet, in from an
                 edge), `note` (the digit on a sticky note, a darker desk all around it),
                 `shadow-edge` (a hand's shadow: beyond a line at a random angle near the
                 centre the light falls by 30 to 50 %, over 1 to 4 pixels), `phone-shadow` (a
                 soft-edged dark rectangle in from a corner), `card` (a white card turned up
                 to 12 degrees, held up in a grey room lit from one side), `chalk-shadow` (light
                 ink on a dark board, with a shadow's edge), `sun-patch` (a band of sunlight
                 across the sheet), `stain` (a coffee ring near the digit) or `underline` (a
                 ruled line under the digit, touching it)

Each frame is 96x96 grey, dark ink on light paper, the digit at a random size and place, with
sensor noise; named `NNNNN_LABEL.png` for `--camera dir:`, with `shift.txt` beside them for
`bench/shift_bank.py --scenarios NAME=DIR`.

    python3 bench/held_out_streams.py --data-dir ../shared/data --out roll20 --roll 20 --pen 1
    plastic-sim --camera dir:roll20 --shift-at 2000..4000 --adapt unsupervised --json

Needs numpy and scipy (Pillow for `--paper` textures and `--change`, scikit-learn for
`--writers`).
"""
import argparse
import io
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


def ruled(out, every, rng):
    """Grey lines every `every` pixels across the paper, at a random phase."""
    if every:
        for y in range(int(rng.integers(0, every)), SIZE, every):
            out[y] *= 0.7
    return out


def shadow(out, floor, rng):
    """The light falling linearly to `floor` of itself across the frame, in a random
    direction."""
    if floor >= 1.0:
        return out
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / (SIZE - 1) - 0.5
    along = (np.cos(angle) * xx + np.sin(angle) * yy) / np.sqrt(0.5) + 0.5
    return out * (1.0 - (1.0 - floor) * np.clip(along, 0, 1))


def motion(out, length, rng):
    """`length` pixels of linear motion blur in a random direction."""
    if length <= 1:
        return out
    angle = rng.uniform(0, np.pi)
    kernel = np.zeros((length, length))
    c = (length - 1) / 2
    for t in np.linspace(-c, c, 4 * length):
        kernel[int(round(c + t * np.sin(angle))), int(round(c + t * np.cos(angle)))] = 1.0
    return ndimage.convolve(out, kernel / kernel.sum(), mode="nearest")


def elastic(ink, rng, alpha=34.0, sigma=4.0):
    """Simard et al.'s elastic distortion of a digit at its own 28x28 scale."""
    dx = ndimage.gaussian_filter(rng.uniform(-1, 1, ink.shape), sigma) * alpha
    dy = ndimage.gaussian_filter(rng.uniform(-1, 1, ink.shape), sigma) * alpha
    y, x = np.mgrid[0:ink.shape[0], 0:ink.shape[1]]
    return ndimage.map_coordinates(ink, [y + dy, x + dx], order=1)


def change(kind, out, rng):
    """`out` (a finished 96x96 frame, bytes) through one more change of the view, `--change`."""
    from PIL import Image
    if kind == "mirror":
        return np.ascontiguousarray(np.fliplr(out))
    if kind == "upside":
        return np.ascontiguousarray(np.rot90(out, 2))
    if kind == "occlude":
        band = out.copy()
        y = int(rng.integers(30, 60))
        band[y:y + 9, :] = np.median(out)
        return band
    if kind == "jpeg":
        buffer = io.BytesIO()
        Image.fromarray(out).save(buffer, "JPEG", quality=8)
        return np.asarray(Image.open(buffer).convert("L"))
    if kind == "pixelate":
        small = Image.fromarray(out).resize((24, 24), Image.BILINEAR)
        return np.asarray(small.resize((SIZE, SIZE), Image.NEAREST))
    if kind == "faint":
        f = out.astype(np.float64)
        f = f.mean() + 0.3 * (f - f.mean()) + rng.normal(0, 12, f.shape)
        return np.clip(f, 0, 255).astype(np.uint8)
    if kind == "gamma":
        return (255.0 * (out / 255.0) ** 3).astype(np.uint8)
    if kind == "flicker":
        f = out * rng.uniform(0.45, 1.3) + rng.uniform(-30, 30)
        return np.clip(f, 0, 255).astype(np.uint8)
    if kind == "overexposed":
        return np.clip(out * 2.2 - 120, 0, 255).astype(np.uint8)
    if kind == "banding":
        phase, period = rng.uniform(0, 2 * np.pi), rng.uniform(12, 30)
        rows = 1 + 0.35 * np.sin(2 * np.pi * np.arange(SIZE)[:, None] / period + phase)
        return np.clip(out * rows, 0, 255).astype(np.uint8)
    if kind == "interlace":
        f = out.copy()
        f[1::2] = np.roll(f[1::2], int(rng.integers(2, 5)) * int(rng.choice([-1, 1])), axis=1)
        return f
    if kind == "zoom":
        z = ndimage.zoom(out.astype(np.float64), 1.6, order=1)
        o = (z.shape[0] - SIZE) // 2 + int(rng.integers(-8, 9))
        return np.clip(z[o:o + SIZE, o:o + SIZE], 0, 255).astype(np.uint8)
    return out


def scene(kind, out, place, rng, others):
    """`out` (the shifted view's paper, floats, the digit drawn at `place` = (top, left,
    height, width)) with `kind` (`--scene`) added; `others` digits for `neighbours`."""
    top, left, h, w = place
    # Paper between the digit and each edge: top, left, bottom, right.
    rooms = [top, left, SIZE - top - h, SIZE - left - w]
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    if kind == "desk":
        level = rng.uniform(30, 80)
        for side in rng.choice(4, size=int(rng.integers(1, 3)), replace=False):
            # How far the desk reaches in from this side: short of the digit, its edge tilted.
            depth = min(float(rng.uniform(6, 18)), rooms[side] - 3.0)
            if depth < 2:
                continue
            across = xx if side in (0, 2) else yy
            edge = depth + rng.uniform(-3, 3) * (across / SIZE - 0.5)
            inward = [yy, xx, SIZE - 1 - yy, SIZE - 1 - xx][side]
            desk = inward < edge
            out[desk] = level + rng.normal(0, 6, int(desk.sum()))
        return out
    if kind == "thumb":
        # From the side with most room, an ellipse of skin in the sheet's shade, its tip short
        # of the digit.
        side = int(np.argmax(rooms))
        reach = min(rooms[side] - 2.0, float(rng.uniform(12, 22)))
        along = float(rng.uniform(20, 76))
        inward = reach - 22.0
        cy, cx = [(inward, along), (along, inward), (SIZE - 1 - inward, along),
                  (along, SIZE - 1 - inward)][side]
        ry, rx = (22, 15) if side in (0, 2) else (15, 22)
        thumb = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1
        out[thumb] = out[thumb] * rng.uniform(0.45, 0.65)
        return out
    if kind == "vignette":
        r2 = ((yy - SIZE / 2) ** 2 + (xx - SIZE / 2) ** 2) / (2 * (SIZE / 2) ** 2)
        return out * (1 - rng.uniform(0.5, 0.65) * r2)
    if kind == "neighbours":
        # The fields overlap by their margins: a number's digits 10 to 20 pixels apart.
        gap = -float(rng.uniform(4, 10))
        for sign in (-1, 1):
            other = np.clip(resize(others[int(rng.integers(len(others)))], h, h), 0, 1)
            x0 = int(round(left - gap - h if sign < 0 else left + w + gap))
            lo, hi = max(x0, 0), min(x0 + h, SIZE)
            if hi > lo:
                region = out[top:top + h, lo:hi]
                ink = other[:, lo - x0:hi - x0]
                out[top:top + h, lo:hi] = region - ink * (region - 25)
        return out
    if kind == "boxed":
        m = int(rng.integers(4, 10))
        y0, x0 = max(top - m, 0), max(left - m, 0)
        y1, x1 = min(top + h + m, SIZE - 1), min(left + w + m, SIZE - 1)
        line = rng.uniform(60, 110)
        for y in (y0, y0 + 1, y1 - 1, y1):
            out[y, x0:x1 + 1] = line
        for x in (x0, x0 + 1, x1 - 1, x1):
            out[y0:y1 + 1, x] = line
        return out
    if kind == "letterbox":
        bar = int(rng.integers(8, 14))
        out[:, :bar] = rng.uniform(0, 12)
        out[:, SIZE - bar:] = out[0, 0]
        return out
    if kind == "pen":
        # A bar 5 pixels wide from a point on the edge with most room, at a slant, its end
        # short of the digit.
        side = int(np.argmax(rooms))
        length = max(rooms[side] - 3.0, 4.0) * rng.uniform(1.0, 1.6)
        angle = rng.uniform(-0.5, 0.5) + [np.pi / 2, 0.0, -np.pi / 2, np.pi][side]
        along = rng.uniform(15, SIZE - 15)
        x0, y0 = [(along, 0.0), (0.0, along), (along, SIZE - 1.0), (SIZE - 1.0, along)][side]
        dx, dy = np.cos(angle), np.sin(angle)
        t = np.clip((xx - x0) * dx + (yy - y0) * dy, 0, length)
        near = np.hypot(xx - x0 - t * dx, yy - y0 - t * dy) < 2.5
        near &= ~((yy >= top) & (yy < top + h) & (xx >= left) & (xx < left + w))
        out[near] = rng.uniform(20, 60)
        return out
    if kind == "note":
        m = int(rng.integers(3, 7))
        y0, x0 = max(top - m, 0), max(left - m, 0)
        y1, x1 = min(top + h + m, SIZE), min(left + w + m, SIZE)
        desk = np.ones((SIZE, SIZE), bool)
        desk[y0:y1, x0:x1] = False
        out[desk] = out[desk] * rng.uniform(0.35, 0.55)
        return out
    if kind == "shadow-edge":
        # A hand's or a phone's shadow: a half-plane at a random angle darkened, a soft edge.
        angle = rng.uniform(0, 2 * np.pi)
        off = rng.uniform(-20, 20)
        d = (np.cos(angle) * (xx - SIZE / 2) + np.sin(angle) * (yy - SIZE / 2)) - off
        t = np.clip(d / rng.uniform(1, 4) + 0.5, 0, 1)
        return out * (1 - rng.uniform(0.3, 0.5) * t)
    if kind == "underline":
        y = min(top + h - int(h * rng.uniform(0.1, 0.2)), SIZE - 2)
        x0, x1 = int(rng.uniform(0, 10)), int(SIZE - rng.uniform(0, 10))
        out[y:y + 2, x0:x1] = np.minimum(out[y:y + 2, x0:x1], rng.uniform(40, 90))
        return out
    if kind == "stain":
        cy, cx = rng.uniform(0, SIZE, size=2)
        r = rng.uniform(12, 25)
        d = np.hypot(yy - cy, xx - cx)
        ring = np.exp(-((d - r) / 2.0) ** 2) * 0.35 + (d < r) * 0.12
        return out * (1 - ring)
    if kind == "phone-shadow":
        # A soft-edged dark rectangle in from a corner: the shadow of the phone held over it.
        cy, cx = rng.choice([0, SIZE]), rng.choice([0, SIZE])
        hy, hx = rng.uniform(30, 60), rng.uniform(30, 60)
        soft = rng.uniform(1, 5)
        inside = np.minimum((hy - np.abs(yy - cy)) / soft, (hx - np.abs(xx - cx)) / soft)
        return out * (1 - rng.uniform(0.35, 0.55) * np.clip(inside + 0.5, 0, 1))
    if kind == "card":
        # A white card, turned a little, held up in a grey room lit from one side.
        a = np.deg2rad(rng.uniform(-12, 12))
        c0y, c0x = top + h / 2, left + w / 2
        u = np.cos(a) * (xx - c0x) + np.sin(a) * (yy - c0y)
        v = -np.sin(a) * (xx - c0x) + np.cos(a) * (yy - c0y)
        m = rng.uniform(4, 9)
        room = ~((np.abs(u) < w / 2 + m) & (np.abs(v) < h / 2 + m))
        light = rng.uniform(60, 120) * (0.7 + 0.6 * xx / SIZE)
        out[room] = light[room]
        return out
    if kind == "chalk-shadow":
        out = 255.0 - out * rng.uniform(0.8, 1.0)
        angle = rng.uniform(0, 2 * np.pi)
        d = (np.cos(angle) * (xx - SIZE / 2) + np.sin(angle) * (yy - SIZE / 2)) - rng.uniform(-20, 20)
        return out * (1 - rng.uniform(0.3, 0.5) * np.clip(d / rng.uniform(1, 4) + 0.5, 0, 1))
    if kind == "sun-patch":
        angle = rng.uniform(0, np.pi)
        d = np.cos(angle) * (xx - SIZE / 2) + np.sin(angle) * (yy - SIZE / 2) - rng.uniform(-25, 25)
        band = np.clip((rng.uniform(12, 30) - np.abs(d)) / 2 + 0.5, 0, 1)
        return out * (1 + rng.uniform(0.3, 0.6) * band)
    if kind == "glare":
        cy, cx = rng.uniform(10, 86, size=2)
        r2 = ((yy - cy) ** 2 + (xx - cx) ** 2) / rng.uniform(8, 14) ** 2
        return out + 160 * np.exp(-r2)
    return out


def frame(ink, box, roll, tex, rng, view=None, hand=(0, 0, 0.0), noise=None):
    """The digit drawn `box` pixels tall on paper, the camera rolled by `roll` degrees; `view`
    (ruled, shadow, motion, impulses, change, scene) the shifted view's further changes.
    `hand` moves the digit by (dy, dx) pixels and turns it by degrees more; `noise` (else
    `rng`) draws the sensor's noise, so a held digit is one draw of `rng` with the hand's
    moves and fresh noise in each frame."""
    noise = rng if noise is None else noise
    roll = roll + hand[2]
    if view and view["change"] == "elastic":
        ink = np.clip(elastic(ink, rng), 0, 1)
    out = paper(tex, rng)
    if view:
        out = ruled(out, view["ruled"], rng)
    scaled = np.clip(resize(ink, box, box), 0, 1)
    if roll:
        scaled = np.clip(ndimage.rotate(scaled, -roll, reshape=True, order=1), 0, 1)
    h, w = scaled.shape
    h, w = min(h, SIZE), min(w, SIZE)
    scaled = scaled[:h, :w]
    top = np.clip((SIZE - h) // 2 + rng.integers(-6, 7) + hand[0], 0, SIZE - h)
    left = np.clip((SIZE - w) // 2 + rng.integers(-6, 7) + hand[1], 0, SIZE - w)
    region = out[top:top + h, left:left + w]
    out[top:top + h, left:left + w] = region - scaled * (region - 25)
    if view and view["scene"]:
        out = scene(view["scene"], out, (top, left, h, w), rng, view["others"])
    if view:
        out = motion(shadow(out, view["shadow"], rng), view["motion"], rng)
    if view and view["dim"] < 1:
        out = (out * view["dim"] + noise.normal(0, 6, out.shape)) * view["gain"]
    else:
        out += noise.normal(0, 3, out.shape)
    if view and view["impulses"]:
        r = noise.random(out.shape)
        out[r < view["impulses"] / 2] = 0
        out[r > 1 - view["impulses"] / 2] = 255
    out = np.clip(out, 0, 255).astype(np.uint8)
    return change(view["change"], out, rng) if view and view["change"] else out


STILLS = ["camera", "astronaut", "coffee", "chelsea", "brick", "grass", "gravel"]


def stills(data_dir):
    """The shared still photographs, grey."""
    from PIL import Image
    return [np.asarray(Image.open(os.path.join(data_dir, "images", f"{name}.png")).convert("L"),
                       dtype=np.float64) for name in STILLS]


def gap_pictures(data_dir, kind):
    """What the camera sees in a gap besides the empty sheet: grey photographs to crop
    (`stills`, `cifar10`), or 28x28 items in [0, 1] to draw on the sheet (`fashion`)."""
    if kind == "stills":
        return stills(data_dir)
    if kind == "cifar10":
        from cifar_stream import cifar_test
        images, _ = cifar_test(data_dir)
        grey = images[:2000].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
        return list(grey)
    items, _ = mnist_test(data_dir, "fashion-mnist")
    return list(items[:2000])


def with_gaps(shifted, most, pictures, rng):
    """`shifted` with 0 to `most` frames of no digit after each digit: items whose ink is
    `None` (the empty sheet) or a picture of `pictures` (the camera looking past the sheet, or
    a thing on it), half each, and whose label is `None`."""
    out = []
    for item in shifted:
        out.append(item)
        for _ in range(int(rng.integers(0, most + 1))):
            past = pictures[rng.integers(len(pictures))] if rng.random() < 0.5 else None
            # Only an item drawn on the sheet has a size (so the stills' streams stay as
            # they were).
            box = int(rng.integers(56, 76)) if past is not None and past.shape == (28, 28) else 0
            out.append((past, None, box, 0.0) + item[4:])
    return out


def no_digit(picture, box, tex, view, rng):
    """A frame of the shifted view with no digit: the empty sheet (`picture` None), with the
    view's changes; a 28x28 item in [0, 1] drawn on the sheet as a digit `box` pixels tall
    would be; or a random square crop of a photograph `picture` scaled to the frame, with the
    sensor's noise and the view's last change."""
    if picture is None:
        return frame(np.zeros((28, 28)), 28, 0.0, tex, rng, view)
    if picture.shape == (28, 28):
        return frame(picture, box, 0.0, tex, rng, view)
    # A picture smaller than the frame (a CIFAR-10 image) is scaled up whole.
    side = int(rng.integers(min(SIZE, *picture.shape), min(picture.shape) + 1))
    y = int(rng.integers(0, picture.shape[0] - side + 1))
    x = int(rng.integers(0, picture.shape[1] - side + 1))
    out = resize(picture[y:y + side, x:x + side] / 255.0, SIZE, SIZE) * 255
    out = np.clip(out + rng.normal(0, 3, out.shape), 0, 255).astype(np.uint8)
    return change(view["change"], out, rng) if view["change"] else out


CHANGED_DIGITS = 2000
SEGMENTS = "plain:2000,changed,plain:1000"


def parse_segments(text):
    """`--segments`: comma-separated `plain:N` (N digits of the first view) and `changed:N` (N
    of the changed view; `changed` alone is the usual 2000, or the UCI digits once over with
    `--writers`), in the order the camera sees them. Returns [(kind, N or None)]."""
    layout = []
    for part in text.split(","):
        kind, _, count = part.strip().partition(":")
        if kind not in ("plain", "changed") or (kind == "plain" and not count):
            raise ValueError(f"`{part}` is no segment: give `plain:N`, `changed:N` or `changed`")
        try:
            n = int(count) if count else None
        except ValueError:
            raise ValueError(f"`{part}`: the count must be a whole number of digits") from None
        if n is not None and n < 1:
            raise ValueError(f"`{part}`: a segment needs a digit at least")
        layout.append((kind, n))
    if not any(kind == "changed" for kind, _ in layout):
        raise ValueError("--segments needs a `changed` segment: the stream is about a change")
    return layout


def held(stream, frames, hold, rng):
    """`frames` frames of `stream` as a hand holds each digit before the camera for 1 to
    2 * `hold` - 1 frames (`hold` on average; 1 for a new digit every frame): the same sheet,
    light and scene while it is held, the hand drifting a pixel and a degree at a time, fresh
    sensor noise in every frame. Yields (seed of the held draw, hand, item)."""
    made = 0
    for item in stream:
        seed = int(rng.integers(2**32))
        dy, dx, turn = 0, 0, 0.0
        for _ in range(int(rng.integers(1, 2 * hold)) if hold > 1 else 1):
            if made == frames:
                return
            yield seed, (dy, dx, turn), item
            made += 1
            dy = int(np.clip(dy + rng.integers(-1, 2), -3, 3))
            dx = int(np.clip(dx + rng.integers(-1, 2), -3, 3))
            turn = float(np.clip(turn + rng.normal(0, 0.7), -3, 3))
    if made < frames:
        raise SystemExit(f"{made} frames where {frames} were asked: fewer digits than frames")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default="../shared/data")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--roll", type=float, default=0.0)
    ap.add_argument("--pen", type=int, default=0)
    ap.add_argument("--paper", default="plain")
    ap.add_argument("--writers", action="store_true")
    ap.add_argument("--ruled", type=int, default=0)
    ap.add_argument("--shadow", type=float, default=1.0)
    ap.add_argument("--motion", type=int, default=0)
    ap.add_argument("--far", type=float, default=1.0)
    ap.add_argument("--impulses", type=float, default=0.0)
    ap.add_argument("--dim", type=float, default=1.0)
    ap.add_argument("--gain", type=float, default=1.0)
    ap.add_argument("--hold", type=int, default=1)
    ap.add_argument("--change", choices=["mirror", "upside", "occlude", "jpeg", "pixelate",
                                         "faint", "gamma", "zoom", "elastic", "flicker",
                                         "overexposed", "banding", "interlace"])
    ap.add_argument("--digits", choices=["mnist", "printed", "segments"], default="mnist")
    ap.add_argument("--segments", default=SEGMENTS)
    ap.add_argument("--gaps", type=int, default=0)
    ap.add_argument("--gaps-from", choices=["stills", "cifar10", "fashion"], default="stills")
    ap.add_argument("--scene", choices=["desk", "thumb", "vignette", "neighbours", "boxed",
                                        "glare", "letterbox", "pen", "note", "shadow-edge",
                                        "phone-shadow", "card", "chalk-shadow", "sun-patch",
                                        "stain", "underline"])
    args = ap.parse_args()
    if args.gain != 1.0 and args.dim >= 1.0:
        ap.error("--gain is the camera's answer to a dim room: give --dim below 1 with it")
    if args.writers and args.digits != "mnist":
        ap.error("--writers and --digits both choose the shifted digits: give one")
    if args.gaps_from != "stills" and not args.gaps:
        ap.error("--gaps-from says what the gaps show: give --gaps N with it")
    if args.gaps and args.hold > 1:
        ap.error("--gaps come between digits shown once: give --gaps or --hold, not both")
    if args.writers and args.pen < 0:
        ap.error("--pen below 0 with --writers erodes the UCI digits at their own 8x8 scale, "
                 "which leaves little of them: give the writers a wider pen or none")
    rng = np.random.default_rng(args.seed)
    tex = texture(args.data_dir, args.paper)
    mx, my = mnist_test(args.data_dir)
    order = rng.permutation(len(mx))
    view = {"ruled": args.ruled, "shadow": args.shadow, "motion": args.motion,
            "impulses": args.impulses, "dim": args.dim, "gain": args.gain,
            "change": args.change, "scene": args.scene, "others": mx[order[5000:]]}
    if args.writers:
        ux, uy = uci_digits()
        uci = []  # The UCI digits still to show, drawn a whole permutation at a time.

        def changed_items(indices):
            items = []
            for _ in indices:
                if not uci:
                    uci.extend(rng.permutation(len(ux)))
                i = uci.pop(0)
                items.append((pen(ux[i], args.pen), uy[i], args.far * rng.integers(40, 54),
                              args.roll, tex))
            return items
    else:
        if args.digits == "mnist":
            def drawn(i):
                return mx[i]
        else:
            from printed_digits import fonts, printed, segments
            faces = fonts() if args.digits == "printed" else []

            def drawn(i):
                if faces:
                    return printed(int(my[i]), faces[rng.integers(len(faces))], rng)
                return segments(int(my[i]), rng)

        def changed_items(indices):
            return [(pen(drawn(i), args.pen), my[i], args.far * rng.integers(56, 76), args.roll,
                     tex) for i in indices]

    try:
        layout = parse_segments(args.segments)
    except ValueError as e:
        ap.error(str(e))
    if sum(n or CHANGED_DIGITS for _, n in layout) > len(mx):
        ap.error(f"--segments asks for more digits than MNIST's {len(mx)} test digits")
    parts, used = [], 0
    for kind, n in layout:
        # A segment takes the next digits of the MNIST order; a changed one without a count
        # takes CHANGED_DIGITS of them, and shows the UCI digits once over with --writers.
        indices = order[used:used + (n or CHANGED_DIGITS)]
        used += len(indices)
        if kind == "changed":
            if args.writers and n is None:
                indices = range(len(ux))
            parts.append([s + (view,) for s in changed_items(indices)])
        else:
            parts.append([(mx[i], my[i], rng.integers(56, 76), 0.0, None, None)
                          for i in indices])
    if args.hold > 1:
        # As many frames as without holds: the held digits are fewer.
        parts = [list(held(part, len(part), args.hold, rng)) for part in parts]
    else:
        if args.gaps:
            pictures = gap_pictures(args.data_dir, args.gaps_from)
            parts = [with_gaps(part, args.gaps, pictures, rng) if kind == "changed" else part
                     for (kind, _), part in zip(layout, parts)]
        parts = [[(None, (0, 0, 0.0), s) for s in part] for part in parts]
    stream = [frame_of_part for part in parts for frame_of_part in part]
    ranges, start = [], 0
    for (kind, _), part in zip(layout, parts):
        ranges.append((kind, start, start + len(part)))
        start += len(part)
    frames = ((no_digit(ink, int(box), t, v, rng) if label is None else
               frame(ink, int(box), roll, t,
                     rng if seed is None else np.random.default_rng(seed), v, hand, rng), label)
              for seed, hand, (ink, label, box, roll, t, v) in stream)
    first_changed = next(r for r in ranges if r[0] == "changed")
    shift = write_stream(args.out, frames, first_changed[1:])
    with open(os.path.join(args.out, "segments.txt"), "w") as f:
        f.writelines(f"{kind} {a}..{b}\n" for kind, a, b in ranges)
    print(f"{len(stream)} frames in {args.out}; the changed view at frames "
          + ", ".join(f"{a}..{b}" for kind, a, b in ranges if kind == "changed"))


if __name__ == "__main__":
    main()
