#!/usr/bin/env python3
"""A `dir:` stream of a new population of writers: MNIST, then UCI digits, then MNIST again.

Writes 96x96 grey camera frames, dark ink on light paper, named `NNNNN_LABEL.png` (the label
convention of `--camera dir:`): 2000 MNIST test digits (the original view), the 1797 digits of
the UCI "optical recognition of handwritten digits" set (43 other writers, another scanner,
8x8 at 17 grey levels, as shipped with scikit-learn), then 1000 more MNIST test digits. Each
digit is scaled to a random size and placed with a random offset, with the paper's brightness
and sensor noise drawn per frame, so the frames are what a camera over paper would see.

    python3 -m pip install scikit-learn numpy
    python3 bench/writers_stream.py --data-dir ../shared/data --out writers/
    plastic-sim --camera dir:writers --shift-at 2000..3797 --adapt labels:0.05 --json

`bench/shift_bank.py --scenarios writers=writers` runs it in the bank (the shift range is read
from the `shift.txt` this script writes beside the frames).
"""
import argparse
import gzip
import os
import struct
import zlib

import numpy as np

SIZE = 96


def mnist_test(data_dir, dataset="mnist"):
    """The test set of MNIST (or of `dataset`, in MNIST's files: `fashion-mnist`) as images in
    [0, 1] and labels."""
    def read(name):
        for path in (f"{data_dir}/{dataset}/{name}", f"{data_dir}/{dataset}/{name}.gz"):
            if os.path.exists(path):
                opener = gzip.open if path.endswith(".gz") else open
                with opener(path, "rb") as f:
                    return f.read()
        raise SystemExit(f"no {name} in {data_dir}/{dataset}: point --data-dir at the datasets")

    images = read("t10k-images-idx3-ubyte")
    labels = read("t10k-labels-idx1-ubyte")
    x = np.frombuffer(images, np.uint8, offset=16).reshape(-1, 28, 28) / 255.0
    return x, np.frombuffer(labels, np.uint8, offset=8)


def uci_digits():
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise SystemExit("the UCI digits ship with scikit-learn: python3 -m pip install scikit-learn")
    d = load_digits()
    return d.images / 16.0, d.target.astype(np.uint8)


def resize(img, h, w):
    """Bilinear resize of a 2-D array in [0, 1]."""
    ih, iw = img.shape
    ys = (np.arange(h) + 0.5) * ih / h - 0.5
    xs = (np.arange(w) + 0.5) * iw / w - 0.5
    y0 = np.clip(np.floor(ys).astype(int), 0, ih - 1)
    x0 = np.clip(np.floor(xs).astype(int), 0, iw - 1)
    y1, x1 = np.clip(y0 + 1, 0, ih - 1), np.clip(x0 + 1, 0, iw - 1)
    fy, fx = np.clip(ys - y0, 0, 1)[:, None], np.clip(xs - x0, 0, 1)[None, :]
    top = img[y0][:, x0] * (1 - fx) + img[y0][:, x1] * fx
    bottom = img[y1][:, x0] * (1 - fx) + img[y1][:, x1] * fx
    return top * (1 - fy) + bottom * fy


def frame(ink, box, rng):
    """The digit `ink` (ink in [0, 1]) drawn `box` pixels tall on paper, as 8-bit grey."""
    paper = rng.uniform(180, 230)
    out = np.full((SIZE, SIZE), paper)
    scaled = resize(ink, box, box)
    top = (SIZE - box) // 2 + rng.integers(-6, 7)
    left = (SIZE - box) // 2 + rng.integers(-6, 7)
    top, left = np.clip(top, 0, SIZE - box), np.clip(left, 0, SIZE - box)
    region = out[top:top + box, left:left + box]
    out[top:top + box, left:left + box] = region - scaled * (paper - 25)
    out += rng.normal(0, 3, out.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


def write_png(path, grey):
    """An 8-bit PNG (no filter, zlib-compressed): greyscale for an (h, w) array, RGB for an
    (h, w, 3) one."""
    h, w = grey.shape[:2]
    colour = 2 if grey.ndim == 3 else 0

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\0" + grey[y].tobytes() for y in range(h))
    header = struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6))
                + chunk(b"IEND", b""))


def write_stream(out, frames, shift):
    """Writes `frames` ((8-bit grey frame, label) pairs, in order) into the folder `out` as
    `NNNNN_LABEL.png`, the convention of `--camera dir:` (`NNNNN.png` where the label is
    `None`: a frame with no digit), and the range `shift` (first and one-past-last frame of
    the changed view) as `N..M` in `shift.txt` beside them, where `bench/shift_bank.py`
    reads it. Returns that range as written."""
    os.makedirs(out, exist_ok=True)
    for n, (grey, label) in enumerate(frames):
        name = f"{n:05d}.png" if label is None else f"{n:05d}_{label}.png"
        write_png(os.path.join(out, name), grey)
    text = f"{shift[0]}..{shift[1]}"
    with open(os.path.join(out, "shift.txt"), "w") as f:
        f.write(text + "\n")
    return text


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default="../shared/data")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    mx, my = mnist_test(args.data_dir)
    ux, uy = uci_digits()
    order = rng.permutation(len(mx))
    first, last = order[:2000], order[2000:3000]
    uci = rng.permutation(len(ux))
    # An MNIST digit fills the middle 20 of its 28 pixels; a UCI digit fills its whole 8x8.
    stream = ([(mx[i], my[i], rng.integers(56, 76)) for i in first]
              + [(ux[i], uy[i], rng.integers(40, 54)) for i in uci]
              + [(mx[i], my[i], rng.integers(56, 76)) for i in last])
    frames = ((frame(ink, int(box), rng), label) for ink, label, box in stream)
    shift = write_stream(args.out, frames, (2000, 2000 + len(ux)))
    print(f"{len(stream)} frames in {args.out}; the new writers at frames {shift}")


if __name__ == "__main__":
    main()
