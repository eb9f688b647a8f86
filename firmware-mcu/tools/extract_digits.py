#!/usr/bin/env python3
"""Writes a few MNIST test digits as raw 28x28 gray bytes (784 bytes each, row-major, white ink
on black, as in the IDX file) for the firmware to embed with include_bytes!.

Usage (from firmware-mcu/): python3 tools/extract_digits.py [DATA_DIR] [INDEX ...]
DATA_DIR defaults to ../../shared/data (the data folder beside the checkout);
the indices default to 0 1 2 3 (labels 7 2 1 0). Files: digits/t10k-NNNN-label-L.u8.
Python standard library only.
"""

import gzip
import os
import struct
import sys


def main() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    crate = os.path.dirname(here)
    args = sys.argv[1:]
    default = os.path.join(crate, "..", "..", "shared", "data")
    data = args.pop(0) if args and not args[0].isdigit() else default
    indices = [int(a) for a in args] or [0, 1, 2, 3]
    mnist = os.path.join(data, "mnist")
    with gzip.open(os.path.join(mnist, "t10k-images-idx3-ubyte.gz"), "rb") as f:
        images = f.read()
    with gzip.open(os.path.join(mnist, "t10k-labels-idx1-ubyte.gz"), "rb") as f:
        labels = f.read()
    magic, count, rows, cols = struct.unpack(">IIII", images[:16])
    assert magic == 2051 and (rows, cols) == (28, 28), "not an MNIST image file"
    lmagic, lcount = struct.unpack(">II", labels[:8])
    assert lmagic == 2049 and lcount == count, "not the matching label file"
    out_dir = os.path.join(crate, "digits")
    os.makedirs(out_dir, exist_ok=True)
    for i in indices:
        pixels = images[16 + i * 784 : 16 + (i + 1) * 784]
        label = labels[8 + i]
        name = os.path.join(out_dir, f"t10k-{i:04d}-label-{label}.u8")
        with open(name, "wb") as f:
            f.write(pixels)
        print(f"{os.path.relpath(name, crate)}: label {label}")


if __name__ == "__main__":
    main()
