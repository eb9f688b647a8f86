#!/usr/bin/env python3
"""Writes the first N MNIST test digits as 28x28 gray PNGs named INDEX_LABEL.png.

Usage: python3 firmware-sim/samples/make_mnist_samples.py DATA_DIR [OUT_DIR] [N]
DATA_DIR holds mnist/t10k-images-idx3-ubyte.gz and mnist/t10k-labels-idx1-ubyte.gz.
Standard library only (gzip, zlib, struct), so it runs anywhere Python does.
"""
import gzip
import os
import struct
import sys
import zlib


def png_gray(width, height, pixels):
    """An 8-bit grayscale PNG of row-major pixels."""
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + pixels[y * width:(y + 1) * width] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def main():
    data = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "mnist")
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    images = gzip.open(os.path.join(data, "mnist", "t10k-images-idx3-ubyte.gz")).read()
    labels = gzip.open(os.path.join(data, "mnist", "t10k-labels-idx1-ubyte.gz")).read()
    magic, n, rows, cols = struct.unpack(">IIII", images[:16])
    assert magic == 0x803 and (rows, cols) == (28, 28), "not MNIST test images"
    os.makedirs(out, exist_ok=True)
    for i in range(min(count, n)):
        pixels = images[16 + i * 784:16 + (i + 1) * 784]
        with open(os.path.join(out, f"{i:04}_{labels[8 + i]}.png"), "wb") as f:
            f.write(png_gray(28, 28, pixels))


if __name__ == "__main__":
    main()
