#!/usr/bin/env python3
"""Replays the labelled guard's choice on `plastic-sim --frames-log` files.

A frame log of a learning device with its anchor holds, per frame, both models' answers and
confidences, the label and whether a label step ran. With labels the adapted model learns the
same whoever answers (the answered class only feeds the per-class statistics of the
alignments), so another arbiter can be tried on the logged answers without running the device
again. This script replays `Arbiter::Labels` as `runtime/src/guard.rs` runs it (which must give
the logged answers back, and is checked against them) and a variant with a gate on the recent
labelled disagreements, and prints each one's lead over the frozen device (the anchor's
answers) in the windows of the bank: before the shift, its first 1000 frames, the rest of it,
and the return.

    plastic-sim ... --adapt labels:0.05 --frames-log run.jsonl --json > run.json
    python3 bench/guard_replay.py run.jsonl [more.jsonl ...] [--lead 1.5]
"""

import argparse
import json

BINS = 10            # the guard's CALIBRATION_BINS
MIN_LABELS = 5       # MIN_LABELS_PER_BIN
BIN_RATE = 0.1       # BIN_RATE


def calibration_bin(confidence):
    return min(int(max(0.0, min(1.0, confidence)) * BINS), BINS - 1)


class LabelRecords:
    """`Arbiter::Labels`: the model right more often at the confidence it has now; with
    `lead`, a disagreement is the adapted model's only while it leads the recent labelled
    disagreements (each model's decayed count of those it alone was right on) by `lead`."""

    def __init__(self, lead=None):
        self.records = [[[0.0, 0] for _ in range(BINS)] for _ in range(2)]
        self.wins = [0.0, 0.0]
        self.lead = lead

    def chance(self, model, confidence):
        rate, seen = self.records[model][calibration_bin(confidence)]
        return rate if seen >= MIN_LABELS else confidence

    def adapted_answers(self, anchor, adapted):
        if self.chance(0, anchor[1]) >= self.chance(1, adapted[1]):
            return False
        disagree = anchor[0] != adapted[0]
        return not (self.lead is not None and disagree and self.wins[1] < self.wins[0] + self.lead)

    def observe_label(self, anchor, adapted, label):
        for model, (cls, confidence) in enumerate((anchor, adapted)):
            record = self.records[model][calibration_bin(confidence)]
            record[1] += 1
            weight = max(1.0 / record[1], BIN_RATE)
            record[0] += weight * (float(cls == label) - record[0])
        right = (anchor[0] == label, adapted[0] == label)
        if right[0] != right[1]:
            self.wins = [w * (1.0 - BIN_RATE) for w in self.wins]
            self.wins[int(right[1])] += 1.0


def replay(frames, arbiter):
    """Per frame: (the replayed answer right, the anchor right, whose answer it was)."""
    out = []
    for f in frames:
        anchor = (f["anchor"]["prediction"], f["anchor"]["confidence"])
        adapted = (f["adapted"]["prediction"], f["adapted"]["confidence"])
        by_adapted = arbiter.adapted_answers(anchor, adapted)
        answer = adapted if by_adapted else anchor
        out.append((answer[0] == f["label"], anchor[0] == f["label"], by_adapted))
        if f["learned"]:
            arbiter.observe_label(anchor, adapted, f["label"])
    return out


def leads(out, start, end):
    """Lead over the frozen device, in points, in the bank's windows."""
    windows = [(0, start), (start, min(end, start + 1000)), (start + 1000, end), (end, len(out))]
    return [100.0 * sum(a - b for a, b, _ in out[lo:hi]) / (hi - lo) for lo, hi in windows if hi > lo]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("logs", nargs="+")
    p.add_argument("--lead", type=float, default=1.5)
    args = p.parse_args()
    for path in args.logs:
        with open(path) as f:
            frames = [json.loads(line) for line in f]
        if any(f["anchor"] is None or f["label"] is None for f in frames):
            raise SystemExit(f"{path}: needs a learning device with its anchor and labels on every frame")
        shifted = [i for i, f in enumerate(frames) if f["shifted"]]
        start, end = (shifted[0], shifted[-1] + 1) if shifted else (len(frames), len(frames))
        shipped = replay(frames, LabelRecords())
        logged = [f["answered_by"] == "adapted" for f in frames]
        differ = sum(
            r[2] != by_adapted and f["anchor"]["prediction"] != f["adapted"]["prediction"]
            for r, by_adapted, f in zip(shipped, logged, frames)
        )
        if differ:
            print(f"{path}: the replay gives another answer than the log on {differ} frames")
        print(path, f"shift {start}..{end}, adapted answered {sum(logged)} frames")
        for name, arbiter in [("labels", LabelRecords()), (f"lead {args.lead}", LabelRecords(args.lead))]:
            print(f"  {name:10s}", " ".join(f"{x:+5.1f}" for x in leads(replay(frames, arbiter), start, end)))


if __name__ == "__main__":
    main()
