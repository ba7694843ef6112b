#!/usr/bin/env bash
# The TensorRT path on a machine with an NVIDIA GPU, in one go (it has not run anywhere yet):
#   1. INT8 Q/DQ model of the demo model (dense-ood quantize, on synthroad training scenes);
#   2. FP32, FP16 and INT8 plans (dense-ood build-engine); FP16 needs TensorRT 10, or on
#      TensorRT 11 an FP16 ONNX given as FP16_MODEL (dense-ood-train export --fp16);
#   3. parity with ONNX Runtime on the bundled sample frames: semantic agreement >= 99.5 %
#      (FP32, FP16) and mean score difference <= 1e-2 at FP16; INT8 is reported against the
#      same Q/DQ model in ONNX Runtime;
#   4. the full per-frame path at 1024x2048 camera frames, TensorRT and ONNX Runtime;
#   5. a short report (OUT/report.md). Exit status 1 when a parity check fails.
# Usage: scripts/gpu_check.sh   (after `make venv` and `.venv/bin/pip install '.[tensorrt]'`)
# Environment: MODEL (default models/camvid_nflowjs.onnx), OUT (gpu_check_out), BIN (.venv/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
MODEL=${MODEL:-models/camvid_nflowjs.onnx}
OUT=${OUT:-gpu_check_out}
mkdir -p "$OUT"

"$BIN/python" - <<'PY' || exit 2
from dense_ood_ros.engine import tensorrt_unavailable
reason = tensorrt_unavailable()
if reason:
    raise SystemExit(f"gpu_check: the TensorRT backend cannot run here: {reason}")
import tensorrt
print(f"gpu_check: TensorRT {tensorrt.__version__}")
PY
TRT_MAJOR=$("$BIN/python" -c "import tensorrt; print(tensorrt.__version__.split('.')[0])")

"$BIN/dense-ood-train" write-scenes "$OUT/calibration" --count 64 --overwrite
"$BIN/dense-ood" quantize "$MODEL" --output "$OUT/model_int8.onnx" \
    --calibration-dir "$OUT/calibration" --overwrite
"$BIN/dense-ood" build-engine "$MODEL" --output "$OUT/fp32.plan" --precision fp32 \
    --max-batch 4 --timing-cache "$OUT/timing.cache" --overwrite
if [ "$TRT_MAJOR" -lt 11 ]; then
    "$BIN/dense-ood" build-engine "$MODEL" --output "$OUT/fp16.plan" --precision fp16 \
        --max-batch 4 --timing-cache "$OUT/timing.cache" --overwrite
elif [ -n "${FP16_MODEL:-}" ]; then
    "$BIN/dense-ood" build-engine "$FP16_MODEL" --output "$OUT/fp16.plan" \
        --max-batch 4 --timing-cache "$OUT/timing.cache" --overwrite
else
    echo "gpu_check: TensorRT $TRT_MAJOR builds FP16 only from an FP16 ONNX: set FP16_MODEL"
fi
"$BIN/dense-ood" build-engine "$OUT/model_int8.onnx" --output "$OUT/int8.plan" \
    --max-batch 4 --timing-cache "$OUT/timing.cache" --overwrite

against=("tensorrt:$OUT/fp32.plan")
[ -f "$OUT/fp16.plan" ] && against+=("tensorrt:$OUT/fp16.plan")
"$BIN/dense-ood" bench --model "$MODEL" --backend onnxruntime --against "${against[@]}" \
    --iterations 200 --json "$OUT/parity.json" --overwrite | tee "$OUT/parity.md"
"$BIN/dense-ood" bench --model "$OUT/model_int8.onnx" --backend onnxruntime \
    --against "tensorrt:$OUT/int8.plan" --iterations 200 --json "$OUT/parity_int8.json" \
    --overwrite | tee "$OUT/parity_int8.md"
for backend in tensorrt onnxruntime; do
    model=$MODEL
    [ "$backend" = tensorrt ] && model=$OUT/fp32.plan
    "$BIN/dense-ood" bench --model "$model" --backend "$backend" --height 1024 --width 2048 \
        --iterations 100 --json "$OUT/bench_1024x2048_$backend.json" --overwrite \
        | tee "$OUT/bench_1024x2048_$backend.md"
done

"$BIN/python" - "$OUT" <<'PY'
import json, sys
from pathlib import Path

out = Path(sys.argv[1])
rows = json.loads((out / "parity.json").read_text())
failures = []
for row in rows[1:]:
    fp16 = row["precision"] == "fp16"
    if row["agreement"] < 0.995:
        failures.append(f"{row['label']}: semantic agreement {100 * row['agreement']:.2f} % < 99.5 %")
    if fp16 and row["score_mean_abs"] > 1e-2:
        failures.append(f"{row['label']}: mean score difference {row['score_mean_abs']:.4f} > 1e-2")
lines = ["# gpu_check", ""]
for name in ("parity.md", "parity_int8.md", "bench_1024x2048_tensorrt.md", "bench_1024x2048_onnxruntime.md"):
    lines += [f"## {name}", "", (out / name).read_text(), ""]
lines += ["## verdict", "", *(failures or ["all parity checks passed"])]
(out / "report.md").write_text("\n".join(lines) + "\n")
print("\n".join(lines[-2 - max(len(failures), 1):]))
sys.exit(1 if failures else 0)
PY
