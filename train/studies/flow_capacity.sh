#!/usr/bin/env bash
# Flow capacity: held-out bits/dim per CPU-minute of four Glow sizes, each pretrained for the same
# 6 minutes of training time (1 thread, two at a time on a 2-core machine), then one figure.
# Held-out patches of 16..48 px (negatives.patch_max 64): harder than the 16..24 px of joint
# training, so texture modelling shows.
#   train/studies/flow_capacity.sh OUTPUT_DIR     (about 13 minutes on 2 cores)
set -euo pipefail
out=${1:?usage: flow_capacity.sh OUTPUT_DIR}
here=$(cd "$(dirname "$0")/../.." && pwd)
bin=${DENSE_OOD_BIN:-$here/.venv/bin}
run() {
    name=$1; shift
    "$bin/dense-ood-train" pretrain-flow --config "$here/train/configs/synthroad_cpu.yaml" \
        --output "$out/$name" --steps 100000 --minutes 6 --eval-every 250 --no-progress \
        --set runtime.threads=1 --set negatives.patch_max=64 --overwrite "$@" \
        > "$out/$name.log" 2>&1
}
mkdir -p "$out"
run glow_h32 --set flow.hidden=32 --set flow.steps_per_level=4 --set flow.learned_prior=false &
run glow_h32_lp --set flow.hidden=32 --set flow.steps_per_level=4 &
wait
run glow_h64_lp --set flow.hidden=64 --set flow.steps_per_level=4 &
run glow_h96_s8_lp --set flow.hidden=96 --set flow.steps_per_level=8 &
wait
"$bin/python" - "$out" <<'PY'
import csv, json, sys
from pathlib import Path
from matplotlib.figure import Figure

out = Path(sys.argv[1])
figure = Figure(figsize=(6.4, 4.4), dpi=110)
axes = figure.add_subplot()
for run in sorted(p for p in out.iterdir() if (p / "heldout.csv").is_file()):
    rows = list(csv.DictReader((run / "heldout.csv").open()))[1:]  # step 0 is off the scale
    params = json.loads((run / "summary.json").read_text())["parameters"] / 1e6
    axes.plot([float(r["train_minutes"]) for r in rows], [float(r["bpd_mean"]) for r in rows],
              label=f"{run.name} ({params:.2f}M)")
    print(f"{run.name}: {params:.2f}M parameters, {rows[-1]['step']} steps, "
          f"held-out bits/dim {float(rows[-1]['bpd_mean']):.3f} after 6 minutes")
axes.set_xlabel("training minutes (1 CPU thread)")
axes.set_ylabel("held-out bits/dim (mean over patch sizes)")
axes.grid(True, alpha=0.3)
axes.legend()
figure.tight_layout()
figure.savefig(out / "flow_capacity.png")
PY
