"""Report figures: PR and ROC curves of several scores on one figure, and per-frame sample panels.

matplotlib is imported inside the curve functions (it is an optional extra on the vehicle) and
drawn through its Agg canvas directly, so no pyplot state or display backend is touched.
Curves come from `dense_ood_ros.metrics.pixel_metrics(..., curve_points=N)["curves"]`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: Colours of the GT panel: inlier, anomaly, void (RGB).
LABEL_COLORS = {0: (90, 90, 90), 1: (230, 40, 40), 255: (0, 0, 0)}


def _figure(draw: Callable[[Axes], None], title: str | None, xlabel: str, ylabel: str) -> Figure:
    """Create one Agg figure with unit axes and let `draw(axes)` plot on it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 5.2), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    draw(axes)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_xlim(0.0, 1.0)
    axes.set_ylim(0.0, 1.02)
    axes.grid(True, alpha=0.3)
    if title:
        axes.set_title(title)
    figure.tight_layout()
    return figure


def save_figure(figure: Figure, path: str | Path) -> Path:
    """Write `figure` as PNG at `path` (parent folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path


def plot_pr_curves(
    results: Mapping[str, Mapping], path: str | Path, title: str | None = None
) -> Path:
    """Write pr_figure(results, title) as PNG."""
    return save_figure(pr_figure(results, title), path)


def pr_figure(results: Mapping[str, Mapping[str, Any]], title: str | None = None) -> Figure:
    """Precision-recall curves, one line per score (legend: AP); `results` name -> pixel_metrics."""

    def draw(axes: Axes) -> None:
        for name, result in results.items():
            curves = result["curves"]
            # Step drawing: AP is the step sum, so the figure shows the area that is reported.
            axes.step(
                curves["recall"],
                curves["precision"],
                where="pre",
                label=f"{name} (AP {100 * result['ap']:.1f})",
            )
        axes.legend(loc="upper right", fontsize="small")

    return _figure(draw, title, "recall", "precision")


def plot_roc_curves(
    results: Mapping[str, Mapping], path: str | Path, title: str | None = None
) -> Path:
    """Write roc_figure(results, title) as PNG."""
    return save_figure(roc_figure(results, title), path)


def roc_figure(results: Mapping[str, Mapping[str, Any]], title: str | None = None) -> Figure:
    """ROC curves, one line per score (legend: AUROC and FPR95), with the TPR = 0.95 level."""

    def draw(axes: Axes) -> None:
        for name, result in results.items():
            curves = result["curves"]
            label = f"{name} (AUROC {100 * result['auroc']:.1f}, FPR95 {100 * result['fpr95']:.1f})"
            axes.plot(curves["fpr"], curves["tpr"], label=label)
        axes.axhline(0.95, color="gray", linestyle=":", linewidth=1)
        axes.legend(loc="lower right", fontsize="small")

    return _figure(draw, title, "false positive rate", "true positive rate")


def score_heatmap(score: np.ndarray, low: float | None = None, high: float | None = None):
    """float [H, W] -> uint8 RGB heat map (OpenCV's inferno), scaled to [low, high]."""
    import cv2

    low = float(np.nanmin(score)) if low is None else low
    high = float(np.nanmax(score)) if high is None else high
    scaled = (np.asarray(score, np.float64) - low) / max(high - low, 1e-12)
    gray = np.clip(np.nan_to_num(scaled) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(gray, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)


def label_image(label: np.ndarray) -> np.ndarray:
    """Anomaly labels 0 / 1 / 255 -> RGB (gray inlier, red anomaly, black void)."""
    rgb = np.zeros((*label.shape, 3), np.uint8)
    for value, color in LABEL_COLORS.items():
        rgb[label == value] = color
    return rgb


def save_sample_panel(
    path: str | Path,
    image: np.ndarray,
    score: np.ndarray,
    label: np.ndarray | None = None,
    threshold: float | None = None,
) -> Path:
    """Side by side PNG: camera image | score heat map | GT labels | prediction (score > t)."""
    import cv2

    panels = [np.asarray(image, np.uint8), score_heatmap(score)]
    if label is not None:
        panels.append(label_image(label))
    if threshold is not None:
        predicted = np.repeat((score > threshold)[..., None], 3, axis=2).astype(np.uint8) * 255
        panels.append(predicted)
    strip = np.concatenate(panels, axis=1)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR)):
        raise OSError(f"{path}: could not write PNG")
    return path


def plot_pr_groups(
    groups: Mapping[str, Sequence[Mapping]], path: str | Path, title: str | None = None
) -> Path:
    """Write pr_groups_figure(groups, title) as PNG."""
    return save_figure(pr_groups_figure(groups, title), path)


def pr_groups_figure(
    groups: Mapping[str, Sequence[Mapping[str, Any]]], title: str | None = None
) -> Figure:
    """PR curves of several runs per group (e.g. seeds of one config): one colour per group,
    legend with the group's mean and spread of AP."""

    from matplotlib import colormaps

    palette = colormaps["tab10" if len(groups) <= 10 else "tab20"]

    def draw(axes: Axes) -> None:
        for group, (name, results) in enumerate(groups.items()):
            color = palette(group % palette.N)
            aps = np.array([100 * r["ap"] for r in results])
            spread = f" ± {aps.std(ddof=1):.1f}" if len(aps) > 1 else ""
            label = f"{name} (AP {aps.mean():.1f}{spread}, n={len(aps)})"
            for index, result in enumerate(results):
                curves = result["curves"]
                axes.step(
                    curves["recall"],
                    curves["precision"],
                    where="pre",
                    color=color,
                    alpha=0.7,
                    linewidth=1.0,
                    label=label if index == 0 else None,
                )
        axes.legend(loc="upper right", fontsize="x-small")

    return _figure(draw, title, "recall", "precision")
