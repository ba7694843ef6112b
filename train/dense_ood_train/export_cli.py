"""Export a `fit` checkpoint's segmenter as a contract-1 ONNX model for the runtime.

The model takes uint8 RGB [N, H, W, 3] at --height x --width and outputs trainIds and the
anomaly score (inside the graph; default the method's JSD score); --extra-scores adds every
other score as a `score_<name>` output. Class names and palette are the Cityscapes ones.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dense_ood_ros.contract import KNOWN_SCORES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, help="a checkpoint written by `fit` (last.pt)")
    parser.add_argument("--output", required=True, type=Path, help="ONNX file to write")
    parser.add_argument(
        "--height",
        type=int,
        default=None,
        help="input height (default: the config's validation or scene size, else its crop)",
    )
    parser.add_argument("--width", type=int, default=None, help="input width (same default)")
    parser.add_argument(
        "--score", choices=KNOWN_SCORES, default="jsd", help="anomaly score in `anomaly_score`"
    )
    parser.add_argument(
        "--extra-scores", action="store_true", help="also output every other score (score_<name>)"
    )
    parser.add_argument(
        "--fp16", action="store_true", help="FP16 network (for TensorRT); scores stay float32"
    )
    threshold = parser.add_mutually_exclusive_group()
    threshold.add_argument(
        "--threshold",
        type=float,
        default=0.5,
        help="default anomaly threshold stored in the metadata (choose it on validation data)",
    )
    threshold.add_argument(
        "--threshold-from",
        type=Path,
        default=None,
        metavar="METRICS_JSON",
        help="take the threshold from an `evaluate` report on validation data: the best-F1 "
        "threshold of --score in its metrics.json",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output")


def _fail(message: str) -> int:
    print(f"dense-ood-train export: error: {message}", file=sys.stderr)
    return 2


def default_input_hw(config: object) -> tuple[int, int]:
    """The size a checkpoint's model is naturally used at."""
    data = config.data
    if data.val_hw is not None:
        return data.val_hw
    if data.dataset == "synthroad":
        return data.scene_hw
    return data.crop_hw


def class_names_and_palette(num_classes: int) -> tuple[list[str], list[list[int]]]:
    """Cityscapes names and colours for 19 classes; generic ones otherwise."""
    from dense_ood_train.data.labels import CITYSCAPES_CLASS_NAMES, CITYSCAPES_PALETTE

    if num_classes == len(CITYSCAPES_CLASS_NAMES):
        return list(CITYSCAPES_CLASS_NAMES), CITYSCAPES_PALETTE.tolist()
    names = [f"class_{i}" for i in range(num_classes)]
    palette = [[(37 * i) % 256, (97 * i) % 256, (173 * i) % 256] for i in range(num_classes)]
    return names, palette


def threshold_from_report(path: Path, score: str) -> float:
    """The best-F1 threshold of `score` in an `evaluate` metrics.json; ValueError if absent."""
    import json

    try:
        report = json.loads(path.read_text())
        return float(report["scores"][score]["best_f1_threshold"])
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"{path} holds no best-F1 threshold for score {score!r}") from None


def export_checkpoint(
    checkpoint: Path,
    output: Path,
    score: str = "jsd",
    extra_scores: bool = False,
    threshold: float = 0.5,
    height: int | None = None,
    width: int | None = None,
    fp16: bool = False,
) -> tuple[Path, tuple[int, int]]:
    """Write a `fit` checkpoint as a contract-1 ONNX; return (path, input size).

    Raises CheckpointError for an unreadable checkpoint, ValueError for a too-small size.
    """
    import json

    from dense_ood_ros.contract import KEY_TRAINING
    from dense_ood_train.checkpoint import load_checkpoint
    from dense_ood_train.export import export_contract_model, make_contract
    from dense_ood_train.provenance import training_record

    segmenter, config, extra = load_checkpoint(checkpoint)
    default_height, default_width = default_input_hw(config)
    height = height if height is not None else default_height
    width = width if width is not None else default_width
    if height < 32 or width < 32:
        raise ValueError(f"--height and --width must be at least 32, got {height}x{width}")
    names, palette = class_names_and_palette(config.model.num_classes)
    contract = make_contract(
        names,
        palette,
        (height, width),
        score=score,
        threshold=threshold,
        extra_scores=extra_scores,
    )
    training = {KEY_TRAINING: json.dumps(training_record(config, extra))}
    path = export_contract_model(segmenter, output, contract, fp16=fp16, extra_metadata=training)
    return path, (height, width)


def run(args: argparse.Namespace) -> int:
    import math

    from dense_ood_train.checkpoint import CheckpointError

    if args.output.exists() and not args.overwrite:
        return _fail(f"{args.output} exists; pass --overwrite to replace it")
    if args.output.suffix != ".onnx":
        return _fail(f"--output must end in .onnx, got {args.output.name}")
    if args.threshold_from is not None:
        try:
            args.threshold = threshold_from_report(args.threshold_from, args.score)
        except ValueError as exc:
            return _fail(str(exc))
    if not math.isfinite(args.threshold):
        return _fail("--threshold must be a finite number")
    try:
        path, (height, width) = export_checkpoint(
            args.checkpoint,
            args.output,
            score=args.score,
            extra_scores=args.extra_scores,
            threshold=args.threshold,
            height=args.height,
            width=args.width,
            fp16=args.fp16,
        )
    except (CheckpointError, ValueError) as exc:
        return _fail(str(exc))
    size_mb = path.stat().st_size / 1e6
    print(
        f"wrote {path} ({size_mb:.1f} MB, input {height}x{width}, score {args.score}, "
        f"threshold {args.threshold:.6g})"
    )
    return 0
