"""Export the real-road models (models/camvid_*.onnx) from a finished camvid-coco study, by the
shipping rule of docs/RESULTS.md ("The shipped real-road models"):

    .venv/bin/python scripts/ship_camvid_models.py train/studies/camvid_coco_s2.yaml \
        runs/camvid_coco_s2 [--dry-run] [--overwrite]

Per config the primary score is the one with the best mean AP on camvid-coco val over its seeds,
the seed is that score's best on val, and the threshold flags at most 5 % of val's inlier pixels
(the study table's "Seeds chosen on val"). The default model is the flow config (NFlowJS alone or
with COCO photos) whose chosen score has the better mean val AP. Nothing looks at test data.
Then the default is quantized to INT8 on 32 CamVid training frames.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from dense_ood_train.study.plan import load_study
from dense_ood_train.study.table import HINT_FPR, chosen_seeds, collect

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
#: shipped file -> the study configs it may come from (the best on val among them)
MODELS = {
    "camvid_nflowjs": ("nflowjs", "nflowjs_coco"),
    "camvid_no_negatives": ("no_negatives",),
    "camvid_real_negatives": ("coco",),
    "camvid_objects": ("objects",),
}
DEFAULT = "camvid_nflowjs"
CALIBRATION = ROOT.parent / "shared" / "data" / "camvid" / "train"


def plan(study_file: Path, study_dir: Path, models: Path) -> list[list[str]]:
    """The export commands (and the INT8 quantization of the default), printing each choice."""
    study = load_study(study_file)
    rows, _ = collect(study, study_dir)
    chosen = chosen_seeds(study, rows)
    commands = []
    for name, candidates in MODELS.items():
        ready = [c for c in candidates if c in chosen]
        if not ready:
            raise SystemExit(f"{name}: none of {candidates} has val results in {study_dir}")
        config = max(ready, key=lambda c: chosen[c].mean_ap)
        score, seed = chosen[config].score, chosen[config].seed
        print(f"{name}: {config} seed {seed}, {score} (mean val AP "
              f"{100 * chosen[config].mean_ap:.2f})")  # fmt: skip
        run = study_dir / "runs" / config / f"seed{seed}"
        commands.append([
            str(BIN / "dense-ood-train"), "export", str(run / "last.pt"),
            "--output", str(models / f"{name}.onnx"), "--score", score, "--extra-scores",
            "--threshold-from", str(run / "eval_val" / "metrics.json"),
            "--threshold-at-fpr", str(HINT_FPR),
        ])  # fmt: skip
    commands.append([
        str(BIN / "dense-ood"), "quantize", str(models / f"{DEFAULT}.onnx"),
        "--output", str(models / f"{DEFAULT}_int8.onnx"),
        "--calibration-dir", str(CALIBRATION), "--frames", "32",
    ])  # fmt: skip
    return commands


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("study", type=Path, help="the study file (train/studies/*.yaml)")
    parser.add_argument("study_dir", type=Path, help="its --output folder")
    parser.add_argument("--models", type=Path, default=ROOT / "models", help="where to write")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    parser.add_argument("--overwrite", action="store_true", help="replace existing model files")
    args = parser.parse_args()
    for command in plan(args.study, args.study_dir, args.models):
        command += ["--overwrite"] if args.overwrite else []
        print(" ".join(command), flush=True)
        if not args.dry_run and subprocess.call(command) != 0:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
