"""From a `fit` checkpoint to a contract-1 ONNX model: input size, class names, threshold and
the training provenance that the model's metadata records."""

from __future__ import annotations

from pathlib import Path

from dense_ood_ros.errors import DenseOodError
from dense_ood_ros.model.contract import UNSPECIFIED_RULE
from dense_ood_train.config import TrainConfig, dataset_classes
from dense_ood_train.data.class_sets import DATASET_LICENCES


class ExportError(DenseOodError, ValueError):
    """A checkpoint cannot be exported as asked (size, threshold report)."""


def default_input_hw(config: TrainConfig) -> tuple[int, int]:
    """The size a checkpoint's model is naturally used at."""
    data = config.data
    if data.val_hw is not None:
        return data.val_hw
    if data.dataset == "synthroad":
        return data.scene_hw
    return data.crop_hw


def threshold_from_report(
    path: Path, score: str, fpr_level: float | None = None
) -> tuple[float, str]:
    """(threshold, rule) of `score` from an `evaluate` metrics.json: its best-F1 threshold, or
    with `fpr_level` its `thresholds_at_fpr` entry; ExportError if absent."""
    import json

    wanted = "best-F1 threshold" if fpr_level is None else f"threshold at FPR {fpr_level:g}"
    try:
        report = json.loads(path.read_text())
        metrics = report["scores"][score]
    except OSError as exc:
        raise ExportError(f"cannot read {path}: {exc.strerror}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise ExportError(f"{path} holds no {wanted} for score {score!r}") from exc
    source = report_source(report)
    if fpr_level is None:
        value = _report_number(metrics, "best_f1_threshold")
        if value is None:
            raise ExportError(f"{path} holds no {wanted} for score {score!r}")
        return value, f"best-f1 on {source}" if source else "best-f1"
    levels = metrics.get("thresholds_at_fpr") if isinstance(metrics, dict) else None
    if not isinstance(levels, dict):
        raise ExportError(
            f"{path} holds no thresholds_at_fpr for score {score!r} (an older `evaluate` "
            "report: evaluate again)"
        )
    key = next((k for k in levels if _as_level(k) == fpr_level), None)
    if key is None:
        available = ", ".join(levels) or "none"
        raise ExportError(f"{path} holds no {wanted} for score {score!r}; levels: {available}")
    value = _report_number(levels, key)
    if value is None:
        raise ExportError(f"{path}: the {wanted} of score {score!r} is undefined (no inliers)")
    rule = f"fpr<={key} on inlier pixels"
    return value, f"{rule} of {source}" if source else rule


def _as_level(key: str) -> float | None:
    """A `thresholds_at_fpr` key as a number; None if it is not one."""
    try:
        return float(key)
    except ValueError:
        return None


def _report_number(mapping: object, key: str) -> float | None:
    """The finite number `mapping[key]`, or None."""
    import math

    value = mapping.get(key) if isinstance(mapping, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def report_source(report: dict) -> str:
    """What an `evaluate` report measured, for the threshold rule: "synthroad-ood (split=val)"."""
    benchmark = report.get("benchmark") if isinstance(report, dict) else None
    if not isinstance(benchmark, str) or not benchmark:
        return ""
    options = report.get("benchmark_options")
    if not isinstance(options, dict) or not options:
        return benchmark
    return f"{benchmark} ({', '.join(f'{k}={v}' for k, v in options.items())})"


def model_licence(config: TrainConfig) -> str:
    """What an exported model may be used for: its dataset's terms, plus its initial weights'."""
    parts = [DATASET_LICENCES.get(config.data.dataset, "")]
    if config.model.backbone.startswith("espnetv2_s") and config.model.pretrained_file:
        parts.append(
            "initialised from EdgeNets' ESPNetv2 Cityscapes weights (MIT, Sachin Mehta; "
            "trained on Cityscapes, whose terms are non-commercial)"
        )
    if config.negatives.mode in ("coco", "flow+coco"):
        parts.append(
            "trained with COCO 2017 object cut-outs pasted as negatives (annotations CC BY 4.0; "
            "photos under their Flickr owners' licences, several non-commercial): research use"
        )
    return "; ".join(p for p in parts if p)


def export_checkpoint(
    checkpoint: Path,
    output: Path,
    score: str = "jsd",
    extra_scores: bool = False,
    threshold: float = 0.5,
    height: int | None = None,
    width: int | None = None,
    fp16: bool = False,
    threshold_rule: str = UNSPECIFIED_RULE,
) -> tuple[Path, tuple[int, int]]:
    """Write a `fit` checkpoint as a contract-1 ONNX; return (path, input size).

    `threshold_rule` (dense_ood.threshold_rule) says how `threshold` was chosen.
    Raises CheckpointError for an unreadable checkpoint, ValueError for a too-small size.
    """
    import json

    from dense_ood_ros.model.contract import KEY_LICENCE, KEY_TRAINING
    from dense_ood_train.export.onnx_export import export_contract_model, make_contract
    from dense_ood_train.loop.checkpoint import load_checkpoint
    from dense_ood_train.loop.provenance import training_record

    segmenter, config, extra = load_checkpoint(checkpoint)
    default_height, default_width = default_input_hw(config)
    height = height if height is not None else default_height
    width = width if width is not None else default_width
    if height < 32 or width < 32:
        raise ExportError(f"--height and --width must be at least 32, got {height}x{width}")
    classes = dataset_classes(config)
    contract = make_contract(
        classes.names,
        classes.palette_array(),
        (height, width),
        score=score,
        threshold=threshold,
        extra_scores=extra_scores,
        threshold_rule=threshold_rule,
    )
    metadata = {KEY_TRAINING: json.dumps(training_record(config, extra))}
    licence = model_licence(config)
    if licence:
        metadata[KEY_LICENCE] = licence
    path = export_contract_model(segmenter, output, contract, fp16=fp16, extra_metadata=metadata)
    return path, (height, width)
