"""dense_ood_ros.metrics.plots: PR / ROC figures show the curves, labels and legends asked for;
figures and sample panels are real, readable PNGs."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from dense_ood_ros.metrics import pixel_metrics
from dense_ood_ros.metrics.plots import (
    label_image,
    plot_pr_curves,
    plot_roc_curves,
    pr_figure,
    pr_groups_figure,
    roc_figure,
    save_sample_panel,
)


def _results(rng: np.random.Generator) -> dict[str, dict]:
    labels = (rng.random((40, 60)) < 0.1).astype(np.uint8)
    return {
        "good": pixel_metrics(rng.random((40, 60)) + labels, labels, curve_points=100),
        "random": pixel_metrics(rng.random((40, 60)), labels, curve_points=100),
    }


def _curves(axes) -> list:
    """The plotted lines that have a legend entry (not the TPR = 0.95 guide)."""
    return [line for line in axes.get_lines() if not line.get_label().startswith("_")]


def test_pr_figure_shows_each_score_curve_with_its_ap(rng: np.random.Generator) -> None:
    results = _results(rng)
    (axes,) = pr_figure(results, title="synthetic").axes
    assert (axes.get_xlabel(), axes.get_ylabel(), axes.get_title()) == (
        "recall",
        "precision",
        "synthetic",
    )
    assert axes.get_xlim() == (0.0, 1.0)
    lines = _curves(axes)
    assert [line.get_label() for line in lines] == [
        f"{name} (AP {100 * result['ap']:.1f})" for name, result in results.items()
    ]
    legend = [text.get_text() for text in axes.get_legend().get_texts()]
    assert legend == [line.get_label() for line in lines]
    for line, result in zip(lines, results.values(), strict=True):
        assert line.get_drawstyle() == "steps-pre"  # the area drawn is the AP reported
        np.testing.assert_array_equal(line.get_xdata(), result["curves"]["recall"])
        np.testing.assert_array_equal(line.get_ydata(), result["curves"]["precision"])
    assert len({line.get_color() for line in lines}) == len(lines)
    assert pr_figure(results).axes[0].get_title() == ""


def test_roc_figure_shows_each_score_curve_and_the_tpr95_level(rng: np.random.Generator) -> None:
    results = _results(rng)
    (axes,) = roc_figure(results, title="synthetic").axes
    assert (axes.get_xlabel(), axes.get_ylabel(), axes.get_title()) == (
        "false positive rate",
        "true positive rate",
        "synthetic",
    )
    lines = _curves(axes)
    for line, (name, result) in zip(lines, results.items(), strict=True):
        auroc, fpr95 = 100 * result["auroc"], 100 * result["fpr95"]
        assert line.get_label() == f"{name} (AUROC {auroc:.1f}, FPR95 {fpr95:.1f})"
        np.testing.assert_array_equal(line.get_xdata(), result["curves"]["fpr"])
        np.testing.assert_array_equal(line.get_ydata(), result["curves"]["tpr"])
    legend = [text.get_text() for text in axes.get_legend().get_texts()]
    assert legend == [line.get_label() for line in lines] and len(legend) == 2
    (guide,) = [line for line in axes.get_lines() if line not in lines]
    assert list(guide.get_ydata()) == [0.95, 0.95]


def test_pr_groups_figure_colours_runs_by_group(rng: np.random.Generator) -> None:
    seeds = [_results(rng)["good"] for _ in range(2)]
    groups = {"flow": seeds, "none": [_results(rng)["random"]]}
    (axes,) = pr_groups_figure(groups, title="study").axes
    lines = axes.get_lines()
    assert len(lines) == 3 and lines[0].get_color() == lines[1].get_color() != lines[2].get_color()
    aps = np.array([100 * r["ap"] for r in seeds])
    legend = [text.get_text() for text in axes.get_legend().get_texts()]
    assert legend == [
        f"flow (AP {aps.mean():.1f} ± {aps.std(ddof=1):.1f}, n=2)",
        f"none (AP {100 * groups['none'][0]['ap']:.1f}, n=1)",
    ]
    np.testing.assert_array_equal(lines[2].get_xdata(), groups["none"][0]["curves"]["recall"])


def test_curves_are_written_as_png(tmp_path: Path, rng: np.random.Generator) -> None:
    results = _results(rng)
    for plot, name in ((plot_pr_curves, "pr.png"), (plot_roc_curves, "roc.png")):
        path = plot(results, tmp_path / "sub" / name, title="synthetic")
        image = cv2.imread(str(path))
        assert image is not None and image.shape[:2] == (572, 704)  # 6.4 x 5.2 in at 110 dpi
        assert image.std() > 10  # something was drawn


def test_sample_panel_layout(tmp_path: Path) -> None:
    image = np.full((20, 30, 3), 128, np.uint8)
    score = np.linspace(0, 1, 600, dtype=np.float32).reshape(20, 30)
    label = np.zeros((20, 30), np.uint8)
    label[5:10, 5:10] = 1
    label[0] = 255
    path = save_sample_panel(tmp_path / "s.png", image, score, label, threshold=0.5)
    panel = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    assert panel.shape == (20, 120, 3)
    np.testing.assert_array_equal(panel[:, 60:90], label_image(label))
    # Last panel: white exactly where score > 0.5.
    np.testing.assert_array_equal(panel[:, 90:, 0] == 255, score > 0.5)
