#!/usr/bin/env python3
"""The scenario bank: every shift x every device x seeds, one table.

Runs `plastic-sim --camera synthetic:SCENARIO --adapt MODE --seed S --json` for each scenario of
the bank (or those named), each adaptation mode and each seed, two runs at a time, and prints a
Markdown table: the frozen device's accuracy before the shift and its drop, and for each
learning device the share of the drop won back within 2000 frames of the shift (its lead over
the frozen device in frames 1000-2000 after the shift, over the drop), its worst lead over the
frozen device in any window, and what it forgot (its lead over the frozen device once the
original view returns).

    python3 bench/shift_bank.py [--sim target/release/plastic-sim] [--seeds 0,1,2]
        [--scenarios thick-pen,tilt] [--modes off,unsupervised,labels:0.05,labels:0.2]
        [--extra "--model m.int8.safetensors"] [--json out.json] [--load out.json]

The share won back is left out (n/a) where the frozen device's mean drop is under 3 points: a
share of a drop that small is noise (a label shift, a negative the framing undoes).
`--load` redraws the table from a `--json` file of an earlier run instead of running again.
A scenario written `NAME=DIR` is a folder of frames played through `--camera dir:DIR` (made by
`bench/writers_stream.py`, for instance), its shift range read from `DIR/shift.txt`.
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

BANK = ["thick-pen", "thin-pen", "tilt", "small", "perspective", "dim-light", "negative",
        "noisy-blur", "fill-frame", "one-class"]
WINDOWS = ["before_shift", "after_shift", "late_shift", "after_return"]
MIN_DROP = 0.03


def camera_args(scenario):
    """`NAME=DIR` is a `dir:` stream with its shift range in `DIR/shift.txt` (as
    `bench/writers_stream.py` writes it); any other name is a `synthetic:` scenario."""
    if "=" not in scenario:
        return ["--camera", f"synthetic:{scenario}"]
    folder = scenario.split("=", 1)[1]
    with open(os.path.join(folder, "shift.txt")) as f:
        shift = f.read().strip()
    return ["--camera", f"dir:{folder}", "--shift-at", shift]


def run(sim, scenario, mode, seed, extra):
    cmd = [sim, *camera_args(scenario), "--adapt", *mode.split(), "--seed", str(seed), "--json",
           *extra]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout)


def mean(xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sim", default="target/release/plastic-sim")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--scenarios", default=",".join(BANK))
    ap.add_argument("--modes", default="off,unsupervised,labels:0.05,labels:0.2")
    ap.add_argument("--extra", default="", help="more plastic-sim options for every run")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json", help="also write every run's windows here")
    ap.add_argument("--load", help="draw the table from this --json file, running nothing")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    scenarios = args.scenarios.split(",")
    modes = args.modes.split(",")
    if modes[0] != "off":
        modes.insert(0, "off")
    extra = shlex.split(args.extra)
    jobs = [(sc, m, s) for sc in scenarios for m in modes for s in seeds]
    if args.load:
        with open(args.load) as f:
            saved = json.load(f)
        win = {j: saved[f"{j[0]}|{j[1]}|{j[2]}"] for j in jobs}
    else:
        with ThreadPoolExecutor(args.jobs) as pool:
            results = dict(zip(jobs, pool.map(lambda j: run(args.sim, *j, extra), jobs)))
        win = {k: v["windows"] for k, v in results.items()}
    if args.json and not args.load:
        with open(args.json, "w") as f:
            json.dump({f"{sc}|{m}|{s}": w for (sc, m, s), w in win.items()}, f, indent=1)

    learners = modes[1:]
    head = "| scenario | frozen before | drop |" + "".join(
        f" {m}: won back | worst window | forgot |" for m in learners)
    print(head)
    print("|" + "---|" * (3 + 3 * len(learners)))
    totals = {m: [] for m in learners}
    for sc in scenarios:
        frozen = [win[(sc, "off", s)] for s in seeds]
        before = mean([f["before_shift"] for f in frozen])
        drops = [f["before_shift"] - f["after_shift"] for f in frozen]
        row = f"| {sc.split('=')[0]} | {before * 100:.1f} % | {mean(drops) * 100:.1f} pt |"
        for m in learners:
            won, worst, forgot = [], [], []
            for s, f in zip(seeds, frozen):
                w = win[(sc, m, s)]
                drop = f["before_shift"] - f["after_shift"]
                # A shift of under 2000 frames has no late window: nothing to call won back.
                if mean(drops) >= MIN_DROP and f.get("late_shift") is not None:
                    won.append((w["late_shift"] - f["late_shift"]) / drop)
                worst.append(min(w[k] - f[k] for k in WINDOWS if f.get(k) is not None))
                if f.get("after_return") is not None:
                    forgot.append(w["after_return"] - f["after_return"])
            totals[m].append(mean(won))
            won_text = "n/a" if not won else (
                f"{mean(won) * 100:.0f} % ({min(won) * 100:.0f} to {max(won) * 100:.0f})")
            row += (f" {won_text} | {min(worst) * 100:+.1f} pt |"
                    f" {mean(forgot) * 100:+.1f} pt |")
        print(row)
    summary = "| mean over the bank | | |" + "".join(
        f" {mean(totals[m]) * 100:.0f} % | | |" if mean(totals[m]) is not None else " | | |"
        for m in learners)
    print(summary)


if __name__ == "__main__":
    main()
