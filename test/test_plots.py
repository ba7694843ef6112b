"""dense_ood_ros.metrics.plots: PR / ROC figures and sample panels are real, readable PNGs."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from dense_ood_ros.metrics import pixel_metrics
from dense_ood_ros.metrics.plots import (
    label_image,
    plot_pr_curves,
    plot_roc_curves,
    save_sample_panel,
)


def test_curves_of_several_scores_on_one_figure(tmp_path: Path, rng: np.random.Generator) -> None:
    labels = (rng.random((40, 60)) < 0.1).astype(np.uint8)
    results = {
        "good": pixel_metrics(rng.random((40, 60)) + labels, labels, curve_points=100),
        "random": pixel_metrics(rng.random((40, 60)), labels, curve_points=100),
    }
    for plot, name in ((plot_pr_curves, "pr.png"), (plot_roc_curves, "roc.png")):
        path = plot(results, tmp_path / "sub" / name, title="synthetic")
        image = cv2.imread(str(path))
        assert image is not None and image.shape[0] > 300 and image.shape[1] > 400
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
