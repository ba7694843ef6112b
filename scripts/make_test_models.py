"""Write test/models/: the runtime tests' fixture models, exported by the real training exporter.

    .venv/bin/python scripts/make_test_models.py [OUT]   (OUT defaults to test/models)

The runtime suite loads these committed files, so it runs without torch (on the vehicle, in a
venv built from `pip install .`); train/tests/test_fixture_models.py re-exports them and checks
that the committed files still match what the exporter makes. Random weights from fixed seeds,
no data.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from dense_ood_train.export.onnx_export import export_contract_model, make_contract

OUT = Path(__file__).resolve().parents[1] / "test" / "models"

#: the contract of every fixture model (test/conftest.py repeats these for the tests)
CLASSES = ("road", "sidewalk", "car", "sky")
PALETTE = ((128, 64, 128), (244, 35, 232), (0, 0, 142), (70, 130, 180))
THRESHOLD = 0.6


def tiny_segmenter(seed: int) -> nn.Module:
    """A small random conv segmenter (4 classes, about 2.8k weights)."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=2, dilation=2),
        nn.ReLU(),
        nn.Conv2d(16, len(CLASSES), 1),
    )


def nan_segmenter(seed: int) -> nn.Module:
    """A 1x1 conv whose first class's bias is NaN: a diverged training run, every score NaN."""
    torch.manual_seed(seed)
    segmenter = nn.Conv2d(3, len(CLASSES), 1)
    assert segmenter.bias is not None
    with torch.no_grad():
        segmenter.bias[0] = float("nan")
    return segmenter


#: file name -> (segmenter, input HxW, extra scores): what each runtime test needs
MODELS: dict[str, tuple[Callable[[int], nn.Module], tuple[int, int], bool]] = {
    # the `tiny_model` fixture: JSD plus every extra score
    "tiny.onnx": (tiny_segmenter, (64, 96), True),
    # another contract (input size) for `dense-ood bench --against`
    "wide.onnx": (tiny_segmenter, (64, 128), True),
    # a slow engine (about 0.1 s a frame on 2 cores) for the node's backlog test
    "slow.onnx": (tiny_segmenter, (720, 960), True),
    # NaN scores, for the replay's refusal
    "nan.onnx": (nan_segmenter, (64, 96), False),
}


def export_all(out: Path, seed: int = 0) -> list[Path]:
    """Export every fixture model into `out`; returns their paths."""
    written = []
    for name, (build, input_hw, extra_scores) in MODELS.items():
        contract = make_contract(
            CLASSES, PALETTE, input_hw, "jsd", threshold=THRESHOLD, extra_scores=extra_scores
        )
        written.append(export_contract_model(build(seed), out / name, contract))
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=OUT)
    args = parser.parse_args()
    for path in export_all(args.out):
        print(f"{path}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
