#!/usr/bin/env bash
# The GPU check: trains every model kind briefly on CUDA device 0 and prints, as a Markdown
# table, each run's epoch times and test accuracy; with the `plastic` binary as a third
# argument it also runs `plastic bench --device cuda` (our Krotov epoch against the dense GPU
# baseline, and the CUDA step against the CPU's). Exits non-zero when any run fails, a CUDA
# error included.
#
#   bench/gpu-check.sh PLASTIC_TRAIN DATA_DIR [PLASTIC]
#
# Both binaries built with `--features cuda` (README, "Training on a GPU"). DATA_DIR holds
# mnist/. Each run is capped at 10 minutes.
set -u
if [ $# -lt 2 ]; then
  echo "usage: $0 PLASTIC_TRAIN DATA_DIR [PLASTIC]" >&2
  exit 2
fi
train=$1 data=$2 plastic=${3:-}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
failed=0

# name, then plastic-train arguments
runs=(
  "krotov|krotov --epochs 3 --readout-epochs 3"
  "krotov-linear|krotov-linear --epochs 3 --readout-epochs 3"
  "mlp-bp|mlp-bp --epochs 2"
  "mlp-fa|mlp-fa --epochs 2"
  "mlp-dfa|mlp-dfa --epochs 2"
  "mlp-ss|mlp-ss --epochs 2"
  "hebbnet|hebbnet --epochs 2"
  "cnn|cnn --epochs 2"
  "cnn-fa|cnn-fa --epochs 2"
  "softhebb|softhebb --epochs 5"
)
for entry in "${runs[@]}"; do
  name=${entry%%|*}
  read -r -a args <<< "${entry#*|}"
  echo "gpu-check: $name" >&2
  if ! timeout 600 "$train" "${args[@]}" --device cuda --data-dir "$data" --quiet --json \
      --out "$out/$name.safetensors" > "$out/$name.json" 2> "$out/$name.log"; then
    echo "gpu-check: $name FAILED:" >&2
    tail -5 "$out/$name.log" >&2
    failed=1
  fi
done

python3 - "$out" "${runs[@]}" <<'PY'
import json, sys, os
out = sys.argv[1]
print("| model | device | epoch s (mean) | readout epoch s | wall s | test accuracy |")
print("|---|---|---|---|---|---|")
for entry in sys.argv[2:]:
    name = entry.split("|")[0]
    try:
        r = json.load(open(os.path.join(out, name + ".json")))
    except (OSError, ValueError):
        print(f"| {name} | - | - | - | - | FAILED |")
        continue
    epoch = r.get("epoch_seconds_mean") or r.get("unsupervised_epoch_seconds_mean")
    readout = r.get("readout_epoch_seconds_mean")
    fmt = lambda v: "-" if v is None else f"{v:.3f}"
    print(f"| {name} | {r['device']} | {fmt(epoch)} | {fmt(readout)} | {r['wall_seconds']:.1f} "
          f"| {100 * r['metrics']['test_accuracy']:.2f} % |")
PY

if [ -n "$plastic" ]; then
  echo >&2
  echo "gpu-check: plastic bench --device cuda" >&2
  if ! timeout 600 "$plastic" bench --device cuda --data-dir "$data"; then
    echo "gpu-check: plastic bench FAILED" >&2
    failed=1
  fi
fi
exit $failed
