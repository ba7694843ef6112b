"""dense_ood_ros.metrics: exact pixel metrics vs sklearn and a direct scan; SMIYC by hand."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from dense_ood_ros.errors import DenseOodError
from dense_ood_ros.metrics import (
    FPR_LEVELS,
    SIOU_THRESHOLDS,
    AnomalyLabelError,
    MetricsError,
    NonFiniteScoreError,
    class_iou,
    component_metrics,
    confusion_matrix,
    fpr_level_key,
    frame_components,
    miou,
    miou_over_gt_classes,
    pixel_metrics,
)

TOL = 1e-9


def _direct_scan(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """FPR95 and best F1 by walking every distinct threshold from high to low (score >= t)."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    fpr95 = None
    best_f1, best_t = -1.0, None
    for t in np.unique(scores)[::-1]:
        tp, fp = np.count_nonzero(pos >= t), np.count_nonzero(neg >= t)
        if fpr95 is None and tp / pos.size >= 0.95:
            fpr95 = fp / neg.size
        f1 = 2 * tp / (2 * tp + fp + (pos.size - tp))
        if f1 > best_f1:
            best_f1, best_t = f1, t
    return {"fpr95": fpr95, "best_f1": best_f1, "best_f1_threshold": float(best_t)}


def _random_case(rng: np.random.Generator, n: int, ties: bool) -> tuple[np.ndarray, np.ndarray]:
    labels = (rng.random(n) < 0.15).astype(np.uint8)
    scores = rng.normal(size=n) + 1.2 * labels
    if ties:
        scores = np.round(scores * 2) / 2  # a handful of distinct values, heavy ties across labels
    labels[rng.random(n) < 0.1] = 255
    return scores, labels


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pixel_metrics_match_sklearn_and_direct_scan(seed: int, ties: bool) -> None:
    scores, labels = _random_case(np.random.default_rng(seed), 3000, ties)
    result = pixel_metrics(scores, labels)
    valid = labels != 255
    y, s = labels[valid], scores[valid]
    assert abs(result["ap"] - average_precision_score(y, s)) <= TOL
    assert abs(result["auroc"] - roc_auc_score(y, s)) <= TOL
    direct = _direct_scan(s, y)
    assert abs(result["fpr95"] - direct["fpr95"]) <= TOL
    assert abs(result["best_f1"] - direct["best_f1"]) <= TOL
    assert result["best_f1_threshold"] == direct["best_f1_threshold"]
    assert result["num_positive"] == np.count_nonzero(y == 1)
    assert result["num_negative"] == np.count_nonzero(y == 0)
    assert result["num_void"] == np.count_nonzero(~valid)


def test_integer_scores_and_all_ties() -> None:
    rng = np.random.default_rng(5)
    labels = (rng.random(500) < 0.3).astype(np.uint8)
    scores = rng.integers(0, 3, size=500) + labels  # 4 distinct values
    result = pixel_metrics(scores, labels)
    assert abs(result["ap"] - average_precision_score(labels, scores)) <= TOL
    assert abs(result["auroc"] - roc_auc_score(labels, scores)) <= TOL
    assert abs(result["fpr95"] - _direct_scan(scores.astype(float), labels)["fpr95"]) <= TOL

    constant = pixel_metrics(np.zeros(500, np.float32), labels)
    # One threshold only: everything predicted anomalous. AP = P / (P + N), AUROC = 0.5, FPR = 1.
    assert constant["ap"] == pytest.approx(labels.mean(), abs=TOL)
    assert constant["auroc"] == 0.5
    assert constant["fpr95"] == 1.0


def test_frames_pool_like_one_array_and_void_is_ignored() -> None:
    rng = np.random.default_rng(3)
    shapes = [(7, 11), (5, 9), (13, 4)]
    score_frames = [rng.random(shape).astype(np.float32) for shape in shapes]
    label_frames = [(rng.random(shape) < 0.2).astype(np.uint8) for shape in shapes]
    for frame in label_frames:
        frame[0, :] = 255
    pooled = pixel_metrics(score_frames, label_frames)
    flat = pixel_metrics(
        np.concatenate([f.ravel() for f in score_frames]),
        np.concatenate([f.ravel() for f in label_frames]),
    )
    for key in ("ap", "auroc", "fpr95", "best_f1", "best_f1_threshold"):
        assert pooled[key] == flat[key]
    # Scores under void are not looked at, however extreme.
    for score, label in zip(score_frames, label_frames, strict=True):
        score[label == 255] = np.float32(1e9)
    assert pixel_metrics(score_frames, label_frames)["ap"] == pooled["ap"]
    # A custom ignore index.
    relabelled = [np.where(f == 255, 7, f).astype(np.uint8) for f in label_frames]
    assert pixel_metrics(score_frames, relabelled, ignore_index=7)["ap"] == pooled["ap"]


def test_perfect_and_reversed_scores() -> None:
    labels = np.array([0, 0, 0, 1, 1, 255], np.uint8)
    perfect = pixel_metrics(np.array([0.1, 0.2, 0.3, 0.8, 0.9, 0.0]), labels)
    assert (perfect["ap"], perfect["auroc"], perfect["fpr95"], perfect["best_f1"]) == (1, 1, 0, 1)
    assert perfect["best_f1_threshold"] == 0.8
    reversed_ = pixel_metrics(np.array([0.9, 0.8, 0.7, 0.1, 0.2, 0.0]), labels)
    assert reversed_["auroc"] == 0.0
    assert reversed_["fpr95"] == 1.0
    # AP by hand: positives at ranks 4 (0.2) and 5 (0.1): (1/4 + 2/5) / 2.
    assert reversed_["ap"] == pytest.approx((1 / 4 + 2 / 5) / 2, abs=TOL)


def test_undefined_metrics_are_nan_and_bad_input_is_refused() -> None:
    no_anomaly = pixel_metrics(np.array([0.1, 0.5]), np.array([0, 0], np.uint8))
    assert np.isnan(no_anomaly["ap"]) and np.isnan(no_anomaly["auroc"])
    no_inlier = pixel_metrics(np.array([0.1, 0.5]), np.array([1, 1], np.uint8))
    assert no_inlier["ap"] == 1.0 and np.isnan(no_inlier["fpr95"])
    with pytest.raises(AnomalyLabelError, match="labels must be 0"):
        pixel_metrics(np.zeros(3), np.array([0, 1, 2], np.uint8))
    with pytest.raises(MetricsError, match="differ in shape"):
        pixel_metrics([np.zeros((2, 2))], [np.zeros((2, 3), np.uint8)])
    with pytest.raises(NonFiniteScoreError, match="NaN"):
        pixel_metrics(np.array([np.nan, 0.5]), np.array([1, 0], np.uint8))
    for infinite in (np.inf, -np.inf):
        with pytest.raises(NonFiniteScoreError, match="infinite"):
            pixel_metrics(np.array([0.1, infinite, 0.5]), np.array([1, 0, 0], np.uint8))
    # void pixels are never scored: a NaN there is no error
    assert pixel_metrics(np.array([np.nan, 0.5, 0.1]), np.array([255, 1, 0], np.uint8))["ap"] == 1


def test_metric_errors_are_one_kind_of_the_project_hierarchy() -> None:
    """Every error the metrics raise is a MetricsError, a DenseOodError (the command lines
    print one line of it) and still a ValueError for older callers."""
    assert issubclass(MetricsError, DenseOodError) and issubclass(MetricsError, ValueError)
    calls = [
        lambda: pixel_metrics([], []),
        lambda: pixel_metrics([np.zeros(2)], [np.zeros(2, np.uint8)] * 2),
        lambda: component_metrics(np.zeros((2, 2)), np.zeros((2, 2), np.uint8), 0.5, "road"),
        lambda: confusion_matrix(np.zeros((2, 2), int), np.full((2, 2), 9), 3),
        lambda: confusion_matrix(np.zeros((2, 2), int), np.zeros((2, 3), int), 3),
    ]
    for call in calls:
        with pytest.raises(MetricsError):
            call()


def _up(value: float, dtype: type = np.float32) -> float:
    """The next value of `dtype` above `value`."""
    return float(np.nextafter(dtype(value), dtype(np.inf)))


def test_thresholds_at_fpr_by_hand_with_a_tie_block_across_the_level() -> None:
    # 100 inliers: 2 at 0.9, a block of 6 tied at 0.6 (ranks 3-8), 92 at 0.1; 4 anomalies.
    inliers = [0.9] * 2 + [0.6] * 6 + [0.1] * 92
    scores = np.array([*inliers, 0.95, 0.7, 0.6, 0.2], np.float32)
    labels = np.array([0] * 100 + [1] * 4, np.uint8)
    result = pixel_metrics(scores, labels)
    assert list(result["thresholds_at_fpr"]) == [fpr_level_key(a) for a in FPR_LEVELS]
    assert list(result["thresholds_at_fpr"])[4] == "0.05"
    expected = {  # level: (threshold, FPR, TPR)
        "0.001": (_up(0.9), 0.0, 0.25),
        "0.005": (_up(0.9), 0.0, 0.25),
        "0.01": (_up(0.9), 0.0, 0.25),  # one FP allowed, but 0.9 is a block of two
        "0.02": (_up(0.6), 0.02, 0.5),
        "0.05": (_up(0.6), 0.02, 0.5),  # the 0.6 block would take the FPR from 2% to 8%
        "0.1": (_up(0.1), 0.08, 1.0),
        "0.2": (_up(0.1), 0.08, 1.0),
    }
    for key, (threshold, fpr, tpr) in expected.items():
        assert result["thresholds_at_fpr"][key] == threshold, key
        assert result["rates_at_fpr"][key] == {"fpr": fpr, "tpr": tpr}, key


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("seed", [0, 1])
def test_thresholds_at_fpr_are_the_smallest_within_the_level(seed: int, dtype: type) -> None:
    rng = np.random.default_rng(seed)
    scores, labels = _random_case(rng, 3000, ties=True)
    scores = (scores * 4).astype(dtype)  # heavy ties; integers pool as float64
    result = pixel_metrics(scores, labels)
    valid = labels != 255
    neg, pos = scores[valid & (labels == 0)], scores[valid & (labels == 1)]
    pooled = np.float32 if dtype is np.float32 else np.float64
    for level in FPR_LEVELS:
        t = result["thresholds_at_fpr"][fpr_level_key(level)]
        assert pooled(t) == t  # a value of the scores' dtype
        fpr = np.count_nonzero(neg >= t) / neg.size
        assert fpr <= level
        below = np.nextafter(pooled(t), pooled(-np.inf))
        assert np.count_nonzero(neg >= below) / neg.size > level  # one step lower exceeds it
        rates = result["rates_at_fpr"][fpr_level_key(level)]
        assert rates == {"fpr": fpr, "tpr": np.count_nonzero(pos >= t) / pos.size}


def test_thresholds_at_fpr_need_inliers() -> None:
    no_inlier = pixel_metrics(np.array([0.1, 0.5]), np.array([1, 1], np.uint8))
    assert all(np.isnan(t) for t in no_inlier["thresholds_at_fpr"].values())
    one_inlier = pixel_metrics(np.array([0.1, 0.5]), np.array([0, 1], np.uint8))
    assert one_inlier["thresholds_at_fpr"]["0.2"] == _up(0.1, np.float64)
    assert one_inlier["rates_at_fpr"]["0.2"] == {"fpr": 0.0, "tpr": 1.0}


def test_curves_are_exact_points_of_the_full_curves() -> None:
    scores, labels = _random_case(np.random.default_rng(9), 2000, ties=False)
    result = pixel_metrics(scores, labels, curve_points=50)
    curves = result["curves"]
    valid = labels != 255
    pos, neg = scores[valid & (labels == 1)], scores[valid & (labels == 0)]
    thresholds = np.asarray(curves["thresholds"])
    assert np.all(np.diff(thresholds) < 0) and 20 <= thresholds.size <= 50
    for t, recall, precision, fpr in zip(
        thresholds, curves["recall"][1:], curves["precision"][1:], curves["fpr"][1:], strict=True
    ):
        tp, fp = np.count_nonzero(pos >= t), np.count_nonzero(neg >= t)
        assert recall == tp / pos.size and fpr == fp / neg.size
        assert precision == tp / (tp + fp)
    assert curves["recall"][-1] == 1.0 and curves["fpr"][-1] == 1.0


# --- SMIYC component metrics, computed by hand ---------------------------------------------


def _merged_prediction_frame() -> tuple[np.ndarray, np.ndarray]:
    """Two GT blobs bridged by one predicted bar, one missed GT blob, one false positive."""
    label = np.zeros((10, 20), np.uint8)
    label[2:6, 2:6] = 1  # k1: 4x4 = 16 px
    label[2:6, 12:16] = 1  # k2: 16 px
    label[7:10, 17:20] = 1  # k3: 3x3 = 9 px, not predicted
    score = np.zeros((10, 20), np.float32)
    score[3:5, 3:15] = 1.0  # p1: 2x12 = 24 px, overlaps k1 by 2x3 = 6 and k2 by 2x3 = 6
    score[8:10, 0:4] = 1.0  # p2: 2x4 = 8 px, on no GT
    return score, label


def _good_detection_frame() -> tuple[np.ndarray, np.ndarray]:
    label = np.zeros((10, 10), np.uint8)
    label[2:8, 2:8] = 1  # k: 6x6 = 36 px
    score = np.zeros((10, 10), np.float32)
    score[3:8, 2:8] = 0.9  # p: 5x6 = 30 px, inside k
    return score, label


def test_adjusted_siou_for_a_prediction_spanning_two_gt_components() -> None:
    score, label = _merged_prediction_frame()
    siou, ppv = frame_components(score, label, 0.5, min_pred_size=1, min_gt_size=1)
    # k1: |k1 ∩ K^| = 6, |K^| = 24 (p1), |k1| = 16, A = p1's pixels in k2 = 6:
    #     sIoU = 6 / (24 + 16 - 6 - 6) = 6 / 28; k2 the same by symmetry; k3: 0 / 9 = 0.
    np.testing.assert_allclose(siou, [6 / 28, 6 / 28, 0.0], atol=TOL)
    # p1: 12 of 24 px on GT -> 0.5; p2: 0 of 8 -> 0 (components ordered top to bottom).
    np.testing.assert_allclose(ppv, [0.5, 0.0], atol=TOL)


def test_component_metrics_aggregate_over_frames() -> None:
    frames = [_merged_prediction_frame(), _good_detection_frame()]
    result = component_metrics(
        [f[0] for f in frames], [f[1] for f in frames], 0.5, min_pred_size=1, min_gt_size=1
    )
    # sIoU over all GT components: 6/28, 6/28, 0 and 30 / (30 + 36 - 30 - 0) = 30/36.
    #   mean = (3/7 + 5/6) / 4 = 53/168. PPV over all predicted: 0.5, 0, 1 -> mean 0.5.
    assert result["siou"] == pytest.approx(53 / 168, abs=TOL)
    assert result["ppv"] == pytest.approx(0.5, abs=TOL)
    # Every tau <= 0.75: TP = 1 (30/36 = 0.83), FN = 3. FP: PPV 0 always, PPV 0.5 when tau > 0.5
    #   -> FP = 1 for the six taus 0.25..0.5, 2 for the five taus 0.55..0.75.
    #   F1 = 2 / (2 + 3 + 1) = 1/3 six times, 2 / (2 + 3 + 2) = 2/7 five times;
    #   mean F1 = (6/3 + 10/7) / 11 = 24/77.
    assert result["tp"] == [1] * 11 and result["fn"] == [3] * 11
    assert result["fp"] == [1] * 6 + [2] * 5
    np.testing.assert_allclose(result["f1"], [1 / 3] * 6 + [2 / 7] * 5, atol=TOL)
    assert result["mean_f1"] == pytest.approx(24 / 77, abs=TOL)
    assert (result["num_gt_components"], result["num_pred_components"]) == (4, 3)
    assert result["taus"] == SIOU_THRESHOLDS.tolist()


def test_siou_of_exactly_point_six_misses_linspace_tau() -> None:
    label = np.zeros((3, 9), np.uint8)
    label[1, 2:7] = 1  # 5 px
    score = np.zeros((3, 9), np.float32)
    score[1, 2:5] = 1.0  # 3 px inside: sIoU = 3 / (3 + 5 - 3) = 0.6, PPV = 1
    result = component_metrics(score, label, 0.5, min_pred_size=1, min_gt_size=1)
    assert result["siou"] == 0.6
    # numpy's eighth tau is 0.6000000000000001 > 0.6: FN there, TP at 0.55.
    assert result["taus"][7] > 0.6
    assert result["tp"][6] == 1 and result["tp"][7] == 0 and result["fn"][7] == 1
    # Taus 0.25..0.55: F1 = 2/2 = 1 (7 taus); 0.6..0.75: F1 = 0 / (0 + 1 + 0) = 0 (4 taus).
    assert result["mean_f1"] == pytest.approx(7 / 11, abs=TOL)


def test_threshold_is_strict_and_void_splits_predictions() -> None:
    label = np.zeros((5, 11), np.uint8)
    label[:, 5] = 255  # a void column
    label[1:4, 1:4] = 1  # GT: 3x3 = 9 px left of the void column
    score = np.zeros((5, 11), np.float32)
    score[2, :] = 0.7  # a bar across the void column: two components once void is removed
    at_threshold = component_metrics(score, label, 0.7, min_pred_size=1, min_gt_size=1)
    assert at_threshold["num_pred_components"] == 0  # score == threshold is not predicted
    assert at_threshold["siou"] == 0.0
    result = component_metrics(score, label, 0.5, min_pred_size=1, min_gt_size=1)
    # Left part: columns 0..4 of row 2 = 5 px, 3 on GT -> PPV 3/5; right part: 5 px, PPV 0.
    # GT: intersection 3, |K^| = 5, |k| = 9, A = 0 -> sIoU = 3 / (5 + 9 - 3) = 3/11.
    assert result["num_pred_components"] == 2
    assert result["ppv"] == pytest.approx((3 / 5 + 0) / 2, abs=TOL)
    assert result["siou"] == pytest.approx(3 / 11, abs=TOL)


def test_size_filters_follow_the_official_order() -> None:
    label = np.zeros((12, 20), np.uint8)
    label[1:5, 1:5] = 1  # big GT: 16 px
    label[8:10, 9:11] = 1  # small GT: 4 px, voided when min_gt_size = 5
    score = np.zeros((12, 20), np.float32)
    score[1:5, 1:5] = 1.0  # on the big GT: 16 px
    score[7:11, 8:12] = 1.0  # 16 px around the small GT: 12 px remain in the region of interest
    score[0:1, 16:19] = 1.0  # 3 px: dropped by min_pred_size = 14
    siou, ppv = frame_components(score, label, 0.5, min_pred_size=14, min_gt_size=5)
    # The surrounding component passes the size filter on its full 16 px (the filter runs
    # before the small GT is voided) and then counts 12 px, none on GT: PPV 0.
    np.testing.assert_allclose(siou, [1.0], atol=TOL)
    np.testing.assert_allclose(ppv, [1.0, 0.0], atol=TOL)
    result = component_metrics(score, label, 0.5, min_pred_size=14, min_gt_size=5)
    # TP = 1, FN = 0, FP = 1 at every tau: F1 = 2 / (2 + 0 + 1) = 2/3.
    assert result["mean_f1"] == pytest.approx(2 / 3, abs=TOL)


def test_track_defaults_and_explicit_override() -> None:
    label = np.zeros((64, 64), np.uint8)
    label[20:28, 20:28] = 1  # 64 px: >= 10 and >= 50 but < 100 and < 500
    score = (label == 1).astype(np.float32)
    obstacle = component_metrics(score, label, 0.5, track="obstacle")
    assert (obstacle["siou"], obstacle["ppv"], obstacle["mean_f1"]) == (1.0, 1.0, 1.0)
    assert (obstacle["min_pred_size"], obstacle["min_gt_size"]) == (50, 10)
    anomaly = component_metrics(score, label, 0.5, track="anomaly")
    # GT voided (< 100 px), prediction dropped (< 500 px): nothing left to score.
    assert anomaly["num_gt_components"] == 0 and anomaly["num_pred_components"] == 0
    assert np.isnan(anomaly["siou"]) and np.isnan(anomaly["mean_f1"])
    overridden = component_metrics(score, label, 0.5, "anomaly", min_pred_size=50, min_gt_size=10)
    assert overridden["mean_f1"] == 1.0
    with pytest.raises(ValueError, match="unknown track"):
        component_metrics(score, label, 0.5, track="lane")


def test_component_metrics_read_lazy_frames_one_at_a_time() -> None:
    """A dataset on disk (a Sequence loading on access) is walked frame by frame, never listed
    whole, and gives the same metrics as the frames in memory."""
    rng = np.random.default_rng(3)
    labels = [np.zeros((32, 32), np.uint8) for _ in range(4)]
    for i, label in enumerate(labels):
        label[4 + i : 14 + i, 6:18] = 1
        label[0, :] = 255
    scores = [(lab == 1) * 0.8 + rng.random(lab.shape) * 0.3 for lab in labels]

    class Lazy:
        def __init__(self, frames: list[np.ndarray]) -> None:
            self.frames, self.loaded = frames, []

        def __len__(self) -> int:
            return len(self.frames)

        def __getitem__(self, index: int) -> np.ndarray:
            self.loaded.append(index)
            return self.frames[index].copy()

    lazy_scores, lazy_labels = Lazy(scores), Lazy(labels)
    lazy = component_metrics(lazy_scores, lazy_labels, 0.6, min_pred_size=1, min_gt_size=1)
    eager = component_metrics(scores, labels, 0.6, min_pred_size=1, min_gt_size=1)
    assert lazy == eager and eager["num_gt_components"] == 4
    assert lazy_scores.loaded == [0, 1, 2, 3] == lazy_labels.loaded  # each frame read once


# --- mIoU -----------------------------------------------------------------------------------


def test_miou_by_hand() -> None:
    gt = np.array([[0, 0, 1], [1, 2, 255]], np.uint8)
    pred = np.array([[0, 1, 1], [1, 1, 0]], np.uint8)
    # Class 0: I = 1 ((0,0)), U = 2 -> 0.5. Class 1: I = 2, U = 4 ((0,1) (0,2) (1,0) (1,1)) -> 0.5.
    # Class 2: I = 0, U = 1 -> 0. Class 3 never occurs -> NaN, left out of the mean.
    ious = class_iou(pred, gt, num_classes=4)
    np.testing.assert_allclose(ious[:3], [0.5, 0.5, 0.0])
    assert np.isnan(ious[3])
    assert miou(pred, gt, num_classes=4) == pytest.approx(1 / 3)
    # Two frames pool their confusion matrices: the same frame twice gives the same IoUs.
    assert miou([pred, pred], [gt, gt], num_classes=4) == pytest.approx(1 / 3)
    assert confusion_matrix([pred, pred], [gt, gt], 4).sum() == 10
    with pytest.raises(ValueError, match="class ids outside"):
        miou(pred, np.full_like(gt, 9), num_classes=4)


def test_miou_over_gt_classes_leaves_out_classes_only_predicted() -> None:
    gt = np.array([[0, 0, 1, 1]], np.uint8)
    pred = np.array([[0, 3, 1, 1]], np.uint8)  # class 3 never occurs in GT
    confusion = confusion_matrix(pred, gt, 4)
    # Cityscapes-style: class 0 IoU 1/2, class 1 IoU 1, class 3 IoU 0 -> 0.5
    assert miou(pred, gt, num_classes=4) == pytest.approx(0.5)
    # over GT classes only: (1/2 + 1) / 2; the wrong pixel still costs class 0
    assert miou_over_gt_classes(confusion) == pytest.approx(0.75)
    assert np.isnan(miou_over_gt_classes(np.zeros((4, 4))))


def test_chunked_pass_equals_single_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    from dense_ood_ros.metrics import pixel

    scores, labels = _random_case(np.random.default_rng(11), 2000, ties=True)
    whole = pixel_metrics(scores, labels)
    monkeypatch.setattr(pixel, "_CHUNK", 7)  # many chunks, tie groups split across them
    chunked = pixel_metrics(scores, labels)
    for key in ("ap", "auroc", "fpr95", "best_f1", "best_f1_threshold"):
        assert chunked[key] == pytest.approx(whole[key], abs=TOL)


def test_scored_frames_count_void_pixels_exactly(tmp_path) -> None:
    """The spill store keeps only non-void pixels, yet num_void counts every void pixel."""
    from dense_ood_ros.metrics.spill import ScoredFrames

    rng = np.random.default_rng(3)
    labels = [np.zeros((8, 10), np.uint8) for _ in range(3)]
    for index, label in enumerate(labels):
        label[2:5, 3:7] = 1
        label[: index + 1, :] = 255  # 1, 2 and 3 void rows
    scores = [rng.random((8, 10), dtype=np.float32) for _ in labels]
    scored = ScoredFrames(tmp_path, ["jsd"], track="anomaly")
    for label, score in zip(labels, scores, strict=True):
        scored.add(label, {"jsd": score})
    result = scored.metrics()["jsd"]
    assert result["num_void"] == (1 + 2 + 3) * 10
    direct = pixel_metrics(scores, labels)
    assert result["num_void"] == direct["num_void"]
    assert (result["num_positive"], result["num_negative"]) == (
        direct["num_positive"],
        direct["num_negative"],
    )
    assert result["ap"] == pytest.approx(direct["ap"], abs=TOL)


def test_scored_frames_refuse_nan_and_infinite_scores_naming_the_frame(tmp_path) -> None:
    from dense_ood_ros.metrics.spill import ScoredFrames

    label = np.zeros((4, 5), np.uint8)
    label[0, :] = 255
    label[2, 2] = 1
    scored = ScoredFrames(tmp_path, ["jsd"], track="anomaly")
    void_nan = np.full((4, 5), 0.5, np.float32)
    void_nan[0, :] = np.nan  # on void pixels: never scored, accepted
    scored.add(label, {"jsd": void_nan})
    for bad in (np.nan, np.inf):
        score = np.full((4, 5), 0.5, np.float32)
        score[1, 1:3] = bad
        with pytest.raises(NonFiniteScoreError, match=r"^bag a: /cam at 7: score jsd: 2 of 15 "):
            scored.add(label, {"jsd": score}, where="bag a: /cam at 7")
        with pytest.raises(NonFiniteScoreError, match=r"^frame 1: score jsd"):
            scored.add(label, {"jsd": score})
    assert scored.frames == 1  # a refused frame adds nothing
    assert scored.metrics()["jsd"]["num_positive"] == 1
