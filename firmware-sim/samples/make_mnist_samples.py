#!/usr/bin/env python3
"""Writes the first N MNIST test digits as 28x28 8-bit gray PNGs named INDEX_LABEL.png.

Usage:
    python3 firmware-sim/samples/make_mnist_samples.py DATA_DIR [OUT_DIR] [N]

DATA_DIR is the shared data folder holding mnist/t10k-images-idx3-ubyte.gz and
mnist/t10k-labels-idx1-ubyte.gz (the mnist folder itself works too; files may be gzipped or
raw). OUT_DIR defaults to the mnist/ folder next to this script, N to 200. File names are
`{index:04}_{label}.png`, e.g. 0000_7.png; pixels are as in MNIST (white digit on black).
Standard library only (gzip, zlib, struct), so it runs anywhere Python 3 does.
"""
import gzip
import os
import struct
import sys
import zlib


def png_gray(width, height, pixels):
    """An 8-bit grayscale PNG of row-major pixels (filter 0 on every row)."""
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + pixels[y * width:(y + 1) * width] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def read_idx(folder, name):
    """The bytes of NAME.gz (gunzipped) or NAME in FOLDER."""
    for path in (os.path.join(folder, name + ".gz"), os.path.join(folder, name)):
        if os.path.isfile(path):
            with open(path, "rb") as f:
                data = f.read()
            return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    sys.exit(f"missing {name}[.gz] in {folder}: pass the folder holding mnist/")


def main():
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        sys.exit(__doc__)
    data = sys.argv[1]
    folder = os.path.join(data, "mnist") if os.path.isdir(os.path.join(data, "mnist")) else data
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "mnist")
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    images = read_idx(folder, "t10k-images-idx3-ubyte")
    labels = read_idx(folder, "t10k-labels-idx1-ubyte")
    magic, n, rows, cols = struct.unpack(">IIII", images[:16])
    lmagic, ln = struct.unpack(">II", labels[:8])
    if magic != 0x803 or (rows, cols) != (28, 28) or lmagic != 0x801 or ln != n:
        sys.exit("not the MNIST test images and labels")
    if len(images) < 16 + n * 784 or len(labels) < 8 + n:
        sys.exit("MNIST test files are truncated: download them again")
    os.makedirs(out, exist_ok=True)
    for i in range(min(count, n)):
        pixels = images[16 + i * 784:16 + (i + 1) * 784]
        with open(os.path.join(out, f"{i:04}_{labels[8 + i]}.png"), "wb") as f:
            f.write(png_gray(28, 28, pixels))


if __name__ == "__main__":
    main()
