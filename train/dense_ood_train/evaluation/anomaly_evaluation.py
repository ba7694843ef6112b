"""Evaluate a contract model's anomaly scores on a benchmark through the runtime pipeline.

The model runs through the vehicle's own engine and pipeline (dense_ood_ros), so what is
measured is what runs on the vehicle. Pixel metrics are exact (not binned), pooled over all
non-void pixels and spilled to disk per score; component metrics (sIoU, PPV, mean F1) follow
the SMIYC protocol at each score's best-F1 threshold. `write_report` writes metrics.json,
metrics.md, pr.png and roc.png; sample panels go to the folder given to `evaluate`.
"""

from __future__ import annotations

import itertools
import math
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dense_ood_ros.console.json_output import write_json
from dense_ood_ros.errors import DenseOodError
from dense_ood_ros.metrics import check_anomaly_labels
from dense_ood_ros.metrics.spill import ScoredFrames
from dense_ood_ros.model.contract import KNOWN_SCORES

ONNX_SUFFIX = ".onnx"
COMPONENT_CHOICES = ("auto", "anomaly", "obstacle", "off")
CURVE_POINTS = 400
OUTPUT_FILES = ("metrics.json", "metrics.md", "pr.png", "roc.png")


class EvaluationError(DenseOodError, ValueError):
    """A user-facing, one-line reason why the evaluation cannot run."""


# --- evaluation ------------------------------------------------------------------------------


@dataclass
class _Collected:
    """What one pass over the benchmark gathers for the metrics."""

    frames: int = 0
    anomaly_frames: int = 0
    confusion: np.ndarray | None = None
    miou_note: str | None = None
    samples: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)


def available_scores(contract) -> tuple[str, ...]:
    """Scores a contract model outputs, the main one first."""
    return (contract.score, *[s for s in contract.extra_scores if s != contract.score])


def choose_scores(contract, requested: Sequence[str] | None, model: Path) -> tuple[str, ...]:
    have = available_scores(contract)
    if requested is None:
        return tuple(name for name in KNOWN_SCORES if name in have) or have
    missing = [name for name in requested if name not in have]
    if missing:
        raise EvaluationError(
            f"{model} has no {', '.join(missing)} score; it carries {', '.join(have)} "
            "(export with --extra-scores to carry every score)"
        )
    return tuple(requested)


def _collect(
    pipeline,
    frames,
    total: int,
    scores: Sequence[str],
    scored: ScoredFrames,
    samples: int,
    classes: tuple[str, ...] | None = None,
) -> _Collected:
    from tqdm import tqdm

    contract = pipeline.contract
    num_classes = contract.num_classes
    collected = _Collected()
    if classes is not None and tuple(classes) != tuple(contract.class_names):
        collected.miou_note = (
            f"skipped: the benchmark's semantic labels are other classes ({', '.join(classes[:3])}"
            f", ...) than the model's ({', '.join(contract.class_names[:3])}, ...)"
        )
    for frame in tqdm(frames, total=total, desc="evaluate", unit="frame"):
        result = pipeline.process(frame.image, color=False, overlay=False, extra_scores=True)
        maps = {contract.score: result.score, **result.extra_scores}
        collected.frames += 1
        if frame.semantic is not None and collected.miou_note is None:
            semantic = np.asarray(frame.semantic)
            labelled = semantic[semantic != 255]
            if labelled.size and int(labelled.max()) >= num_classes:
                collected.confusion = None
                collected.miou_note = (
                    f"skipped: labels hold class {int(labelled.max())}, the model has "
                    f"{num_classes} classes"
                )
            else:
                from dense_ood_ros.metrics import confusion_matrix

                frame_confusion = confusion_matrix(result.semantic, semantic, num_classes)
                if collected.confusion is None:
                    collected.confusion = frame_confusion
                else:
                    collected.confusion += frame_confusion
        if frame.anomaly is None:
            continue
        label = np.asarray(frame.anomaly, dtype=np.uint8)
        if label.shape != result.score.shape:
            raise EvaluationError(
                f"frame {frame.name}: anomaly labels {label.shape} do not match the image "
                f"{result.score.shape}"
            )
        check_anomaly_labels(label, f"frame {frame.name}")
        collected.anomaly_frames += 1
        scored.add(label, maps)
        if len(collected.samples) < samples:
            collected.samples.append((frame.name, frame.image, maps[scores[0]], label))
    return collected


def evaluate(
    model: str | Path,
    benchmark: str,
    root: str | None = None,
    scores: Sequence[str] | None = None,
    max_frames: int | None = None,
    components: str = "auto",
    backend: str = "auto",
    options: dict[str, Any] | None = None,
    samples: int = 0,
    sample_dir: Path | None = None,
    spill_dir: Path | None = None,
) -> dict[str, Any]:
    """Run `model` (an engine file) over `benchmark` and return the report dict."""
    from dense_ood_ros.engine import load_engine
    from dense_ood_ros.metrics import (
        iou_from_confusion,
        miou_over_gt_classes,
    )
    from dense_ood_ros.pipeline.frame_pipeline import Pipeline
    from dense_ood_train.benchmarks import open_benchmark

    engine = load_engine(model, backend)
    pipeline = Pipeline(engine)
    chosen = choose_scores(engine.contract, scores, Path(model))
    try:
        bench = open_benchmark(benchmark, root, **(options or {}))
    except (ValueError, OSError, TypeError) as exc:
        raise EvaluationError(f"benchmark {benchmark}: {exc}") from exc
    track = getattr(bench, "track", None) if components == "auto" else components
    track = None if track == "off" else track
    total = len(bench) if max_frames is None else min(len(bench), max_frames)
    frames = itertools.islice(iter(bench), total)
    with tempfile.TemporaryDirectory(prefix="pixels_", dir=spill_dir) as spill:
        scored = ScoredFrames(Path(spill), chosen, track)
        classes = getattr(bench, "semantic_classes", None)
        collected = _collect(pipeline, frames, total, chosen, scored, samples, classes)
        per_score = scored.metrics(curve_points=CURVE_POINTS)
    report: dict[str, Any] = {
        "benchmark": benchmark,
        "benchmark_options": dict(options or {}),
        "root": root,
        "frames": collected.frames,
        "anomaly_frames": collected.anomaly_frames,
        "backend": engine.backend_name,
        "input_hw": list(engine.contract.input_hw),
        "model_score": engine.contract.score,
        "component_track": track,
        "pixel_metrics": "exact: every non-void pixel pooled, no binning",
        "scores": per_score,
    }
    if collected.confusion is not None:
        ious = iou_from_confusion(collected.confusion)
        names = engine.contract.class_names
        report["miou"] = float(np.nanmean(ious)) if np.any(~np.isnan(ious)) else None
        report["miou_gt_classes"] = miou_over_gt_classes(collected.confusion)
        report["gt_classes"] = int((collected.confusion.sum(1) > 0).sum())
        report["class_iou"] = {
            n: (None if math.isnan(v) else float(v)) for n, v in zip(names, ious, strict=True)
        }
    elif collected.miou_note:
        report["miou"] = None
        report["miou_note"] = collected.miou_note
    if sample_dir is not None and per_score:
        _write_samples(collected.samples, per_score[chosen[0]], sample_dir)
        report["sample_score"] = chosen[0]
    return report


def _write_samples(samples, metrics: dict[str, Any], folder: Path) -> None:
    from dense_ood_ros.metrics.plots import save_sample_panel

    shutil.rmtree(folder, ignore_errors=True)
    for index, (name, image, score, label) in enumerate(samples):
        stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(str(name)).stem)
        save_sample_panel(
            folder / f"{index:02d}_{stem}.png", image, score, label, metrics["best_f1_threshold"]
        )


# --- report ----------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{100 * value:.2f}"


def markdown_table(report: dict[str, Any]) -> str:
    """The per-score table (percent) plus the inlier mIoU line."""
    with_components = report.get("component_track") is not None
    header = ["score", "AP", "FPR95", "AUROC", "best F1"]
    if with_components:
        header += ["sIoU", "PPV", "mean F1"]
    lines = [
        f"**{report['benchmark']}**: {report['anomaly_frames']} frames with anomaly labels; "
        "exact pixel metrics (%)"
        + (
            f", components at the best-F1 threshold ({report['component_track']} track)"
            if with_components
            else ""
        ),
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for name, m in report["scores"].items():
        cells = [name, _pct(m["ap"]), _pct(m["fpr95"]), _pct(m["auroc"]), _pct(m["best_f1"])]
        if with_components:
            c = m["components"]
            cells += [_pct(c["siou"]), _pct(c["ppv"]), _pct(c["mean_f1"])]
        lines.append("| " + " | ".join(cells) + " |")
    if not report["scores"]:
        lines.append("| (no frame with anomaly labels) |" + " |" * (len(header) - 1))
    if "miou" in report:
        note = report.get("miou_note")
        lines += ["", f"inlier mIoU: {_pct(report['miou'])}" + (f" ({note})" if note else "")]
    if report.get("miou_gt_classes") is not None:
        lines[-1] += (
            f" (classes in GT or prediction); {_pct(report['miou_gt_classes'])} over the "
            f"{report['gt_classes']} classes present in the ground truth"
        )
    return "\n".join(lines)


def write_report(report: dict[str, Any], output: Path) -> str:
    """metrics.json, metrics.md, pr.png and roc.png in `output`; returns the Markdown table."""
    from dense_ood_ros.metrics.plots import plot_pr_curves, plot_roc_curves

    output.mkdir(parents=True, exist_ok=True)
    for name in OUTPUT_FILES:
        (output / name).unlink(missing_ok=True)
    table = markdown_table(report)
    (output / "metrics.md").write_text(table + "\n")
    write_json(output / "metrics.json", report)
    if report["scores"]:
        title = f"{report['benchmark']} ({report['anomaly_frames']} frames)"
        plot_pr_curves(report["scores"], output / "pr.png", title)
        plot_roc_curves(report["scores"], output / "roc.png", title)
    return table
