"""Draw the shipped real-road models on camvid-coco test frames (the figure in docs/RESULTS.md,
docs/images/camvid_coco_overlays_test.jpg).

    .venv/bin/python scripts/render_camvid_coco_overlays.py [--frames 0 7] [--output F]

One row per frame of camvid-coco's test half (CamVid val frames with real COCO val2017 object
photos): the image, its anomaly labels (red: object, gray: inlier, black: void), then each model's
primary anomaly score (`dense_ood.score`) as a heat map over that frame's own range, with the
pixels above the model's shipped threshold outlined in cyan. The models run in ONNX Runtime
through the runtime's own engine, exactly as the node runs them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from dense_ood_ros.engine import load_engine
from dense_ood_ros.metrics.plots import label_image, score_heatmap
from dense_ood_train.benchmarks import open_benchmark

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("camvid_nflowjs", "camvid_no_negatives", "camvid_real_negatives", "camvid_objects")
CAMVID = ROOT.parent / "shared" / "data" / "camvid"
OUTPUT = ROOT / "docs" / "images" / "camvid_coco_overlays_test.jpg"
CYAN = (0, 255, 255)


def _caption(panel: np.ndarray, text: str) -> np.ndarray:
    """The panel with `text` on a dark band at its top."""
    out = panel.copy()
    out[:22] = (out[:22] * 0.35).astype(np.uint8)
    cv2.putText(out, text, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1,
                cv2.LINE_AA)  # fmt: skip
    return out


def _score_panel(score: np.ndarray, threshold: float) -> np.ndarray:
    """Heat map of `score` over its own range, the flagged region (score > threshold) outlined."""
    panel = np.ascontiguousarray(score_heatmap(score))
    flagged = (score > threshold).astype(np.uint8)
    contours, _ = cv2.findContours(flagged, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(panel, contours, -1, CYAN, 1)
    return panel


def render(frames: list[int], models: list[Path], output: Path) -> Path:
    """Write the grid (one row per benchmark frame index, one column per model) as JPEG."""
    benchmark = open_benchmark("camvid-coco", CAMVID, split="val", part="report", variants=2)
    engines = [load_engine(path, "onnxruntime") for path in models]
    rows = []
    for index in frames:
        frame = benchmark[index]
        row = [_caption(frame.image, frame.name), _caption(label_image(frame.anomaly), "labels")]
        for path, engine in zip(models, engines, strict=True):
            result = engine.infer(frame.image[None], extra_scores=False)
            score = cv2.resize(result.score[0], frame.image.shape[1::-1])
            text = f"{path.stem}: {engine.contract.score}"
            row.append(_caption(_score_panel(score, engine.contract.threshold), text))
        rows.append(np.concatenate(row, axis=1))
    grid = np.concatenate(rows, axis=0)
    output.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(output), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR),
                       [cv2.IMWRITE_JPEG_QUALITY, 85]):  # fmt: skip
        raise OSError(f"{output}: could not write")
    return output


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument(
        "--frames", type=int, nargs="+", default=[0, 7],
        help="indices into camvid-coco's test half (two variants per frame)",
    )  # fmt: skip
    parser.add_argument("--models", type=Path, nargs="+",
                        default=[ROOT / "models" / f"{m}.onnx" for m in MODELS],
                        help="contract-1 ONNX models, one column each")  # fmt: skip
    parser.add_argument("--output", type=Path, default=OUTPUT, help="JPEG to write")
    args = parser.parse_args()
    print(render(args.frames, args.models, args.output))


if __name__ == "__main__":
    main()
