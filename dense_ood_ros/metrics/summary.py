"""Mergeable metric summaries: pixel metrics from fine score histograms, component counts.

A fleet replay scores bags on many machines; shipping every pixel's score to one place would
not scale. Each bag instead returns a `ScoreSummary`: a histogram of its positive and negative
pixels' scores on a fixed grid of `BINS` bins over [0, 1] (scores outside are clipped into the
end bins and counted) and the SMIYC component counts at a fixed threshold. Summaries add up.

Binned metrics treat the pixels of one bin as ties. Binning is monotone (a pixel in a higher
bin has a higher score), so only pairs and thresholds inside one bin can differ from the exact
values, and `bounds` gives intervals that hold the exact metrics, computed from the counts:
- AUROC: pairs in different bins are ordered as the exact scores order them; a positive and a
  negative in one bin count 1/2 here and 0, 1/2 or 1 exactly, so
  |exact - binned| <= 1/2 * sum_b pos_b * neg_b / (P * N).
- FPR95: the exact threshold (the c-th highest positive score) lies in the bin b* binned FPR95
  uses; exact FPR95 is in [binned - neg_b* / N, binned].
- AP: for the k-th positive (from the top) of bin b, with A positives and F negatives in the
  bins above, TP >= A + k, TP <= A + p_b and F <= FP <= F + n_b, which bounds its precision;
  summing (the harmonic sum bounded by a logarithm) gives an interval per bin.
- best F1: binned best F1 is the exact F1 of a bin edge threshold (a lower bound); a threshold
  inside bin b has F1 <= 2 (A + p_b) / (A + p_b + F + P) (an upper bound).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dense_ood_ros.metrics.components import SIOU_THRESHOLDS, TRACK_SIZES, frame_components
from dense_ood_ros.metrics.frames import MetricsError, check_anomaly_labels, check_finite_scores
from dense_ood_ros.metrics.pixel import FPR_LEVELS, TPR_LEVEL, fpr_level_key

#: Histogram bins over [0, 1]: bin b holds scores in [b / BINS, (b + 1) / BINS).
BINS = 1 << 16
VOID = 255


def score_bins(score: np.ndarray, bins: int = BINS) -> tuple[np.ndarray, int]:
    """(bin index per score, how many scores fell outside [0, 1] and were clipped)."""
    values = np.asarray(score, dtype=np.float64) * bins  # exact for float32 scores (power of 2)
    index = np.floor(values)
    clipped = int(np.count_nonzero((values < 0) | (values > bins)))
    return np.clip(index, 0, bins - 1).astype(np.int64), clipped


@dataclass
class ScoreHistogram:
    """Counts of positive (label 1) and negative (label 0) pixels per score bin; mergeable."""

    bins: int = BINS
    pos: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    neg: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    num_void: int = 0
    clipped: int = 0

    def __post_init__(self) -> None:
        if not self.pos.size:
            self.pos = np.zeros(self.bins, np.int64)
        if not self.neg.size:
            self.neg = np.zeros(self.bins, np.int64)

    def add(self, score: np.ndarray, label: np.ndarray) -> None:
        """One frame's scores with labels 0 / 1 / 255 (void pixels are only counted)."""
        valid = label != VOID
        self.num_void += int(label.size - np.count_nonzero(valid))
        index, clipped = score_bins(score[valid], self.bins)
        self.clipped += clipped
        kept = label[valid]
        self.pos += np.bincount(index[kept == 1], minlength=self.bins)
        self.neg += np.bincount(index[kept == 0], minlength=self.bins)

    def merge(self, other: ScoreHistogram) -> ScoreHistogram:
        """The sum of two histograms on the same grid."""
        if other.bins != self.bins:
            raise MetricsError(f"cannot merge histograms of {self.bins} and {other.bins} bins")
        return ScoreHistogram(
            self.bins,
            self.pos + other.pos,
            self.neg + other.neg,
            self.num_void + other.num_void,
            self.clipped + other.clipped,
        )

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Sparse arrays for np.savez: the bins holding pixels and their counts."""
        where = np.flatnonzero(self.pos | self.neg)
        meta = np.asarray([self.bins, self.num_void, self.clipped], np.int64)
        return {"bins": where, "pos": self.pos[where], "neg": self.neg[where], "meta": meta}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> ScoreHistogram:
        """The inverse of `to_arrays`."""
        bins, num_void, clipped = (int(v) for v in arrays["meta"])
        histogram = cls(bins, num_void=num_void, clipped=clipped)
        histogram.pos[arrays["bins"]] = arrays["pos"]
        histogram.neg[arrays["bins"]] = arrays["neg"]
        return histogram

    def metrics(self, curve_points: int = 0) -> dict:
        """pixel_metrics' keys computed with each bin's pixels tied, plus "bounds" (intervals
        holding the exact AP, FPR95, AUROC and best F1), "bins" and "clipped"."""
        return binned_metrics(self, curve_points)


def _count_for_tpr(num_pos: int, level: float = TPR_LEVEL) -> int:
    """The smallest count c with c / P >= level (the float comparison pixel_metrics uses)."""
    count = max(1, int(np.ceil(level * num_pos)))
    while count > 1 and (count - 1) / num_pos >= level:
        count -= 1
    while count / num_pos < level:
        count += 1
    return count


def _ap_bounds(pos: np.ndarray, tp_above: np.ndarray, fp_above: np.ndarray, neg: np.ndarray):
    """(lower, upper) of the exact AP's precision sum over positives, bin by bin."""
    p, a, f, n = (x.astype(np.float64) for x in (pos, tp_above, fp_above, neg))
    m = a + f + n
    with np.errstate(divide="ignore", invalid="ignore"):
        harmonic = np.where(m > 0, np.log1p(p / np.where(m > 0, m, 1)), 0.0)
        lower = np.where(f + n > 0, p - (f + n) * harmonic, p)
        upper = np.where(a + p + f > 0, p * (a + p) / np.where(a + p + f > 0, a + p + f, 1), 0.0)
    return float(np.maximum(lower, 0).sum()), float(upper.sum())


def binned_metrics(histogram: ScoreHistogram, curve_points: int = 0) -> dict:
    """Pixel metrics of a histogram (see the module docstring for the bounds)."""
    pos, neg, bins = histogram.pos, histogram.neg, histogram.bins
    num_pos, num_neg = int(pos.sum()), int(neg.sum())
    tp_ge = np.cumsum(pos[::-1])[::-1]  # positives in bin b and above
    fp_ge = np.cumsum(neg[::-1])[::-1]
    tp_above, fp_above = tp_ge - pos, fp_ge - neg
    edges = np.arange(bins, dtype=np.float64) / bins  # `score >= edges[b]` is bins >= b
    nan = float("nan")
    result: dict = {
        "ap": nan, "fpr95": nan, "auroc": nan, "best_f1": nan, "best_f1_threshold": nan,
        "fpr95_threshold": nan, "num_positive": num_pos, "num_negative": num_neg,
        "num_void": histogram.num_void, "bins": bins, "clipped": histogram.clipped,
    }  # fmt: skip
    bounds: dict[str, list[float]] = {}
    thresholds_at_fpr: dict[str, float] = {}
    rates_at_fpr: dict[str, dict[str, float]] = {}
    for level in FPR_LEVELS:
        key = fpr_level_key(level)
        if not num_neg:
            thresholds_at_fpr[key], rates_at_fpr[key] = nan, {"fpr": nan, "tpr": nan}
            continue
        ok = np.flatnonzero(fp_ge / num_neg <= level)  # bins whose edge keeps FPR <= level
        b = int(ok[0]) if ok.size else bins
        fp = int(fp_ge[b]) if b < bins else 0
        tp = int(tp_ge[b]) if b < bins else 0
        thresholds_at_fpr[key] = float(edges[b]) if b < bins else float(np.nextafter(1.0, 2.0))
        rates_at_fpr[key] = {"fpr": fp / num_neg, "tpr": tp / num_pos if num_pos else nan}
    result["thresholds_at_fpr"], result["rates_at_fpr"] = thresholds_at_fpr, rates_at_fpr
    if num_pos:
        has = pos > 0
        precision = tp_ge[has] / (tp_ge[has] + fp_ge[has])
        result["ap"] = float(np.sum(pos[has] * precision)) / num_pos
        low, high = _ap_bounds(pos[has], tp_above[has], fp_above[has], neg[has])
        bounds["ap"] = [low / num_pos, high / num_pos]
        f1 = 2.0 * tp_ge[has] / (tp_ge[has] + fp_ge[has] + num_pos)
        index = f1.size - 1 - int(np.argmax(f1[::-1]))
        result["best_f1"] = float(f1[index])
        result["best_f1_threshold"] = float(edges[np.flatnonzero(has)[index]])
        upper = 2.0 * tp_ge[has] / (tp_ge[has] + fp_above[has] + num_pos)
        bounds["best_f1"] = [result["best_f1"], float(upper.max())]
    if num_pos and num_neg:
        neg_below = np.cumsum(neg) - neg
        twice_u = float(np.sum(pos * (2 * neg_below + neg)))
        result["auroc"] = twice_u / (2.0 * num_pos * num_neg)
        half_ties = 0.5 * float(np.sum(pos.astype(np.float64) * neg)) / (num_pos * num_neg)
        bounds["auroc"] = [result["auroc"] - half_ties, result["auroc"] + half_ties]
        count = _count_for_tpr(num_pos)
        b_star = int(np.flatnonzero(tp_ge >= count)[-1])
        result["fpr95"] = float(fp_ge[b_star]) / num_neg
        result["fpr95_threshold"] = float(edges[b_star])
        bounds["fpr95"] = [result["fpr95"] - float(neg[b_star]) / num_neg, result["fpr95"]]
    result["bounds"] = bounds
    if curve_points > 0 and (num_pos or num_neg):
        result["curves"] = _curves(tp_ge, fp_ge, edges, num_pos, num_neg, curve_points)
    return result


def _curves(tp_ge, fp_ge, edges, num_pos: int, num_neg: int, points: int) -> dict:
    """PR and ROC points at about `points` bin edges, evenly spaced in rank (for plots)."""
    occupied = np.flatnonzero(np.diff(np.append(tp_ge + fp_ge, 0)) != 0)  # bins with pixels
    picks = occupied[np.linspace(0, occupied.size - 1, max(2, points)).round().astype(np.int64)]
    picks = np.unique(picks)[::-1]
    tp, fp = tp_ge[picks], fp_ge[picks]
    recall = tp / max(num_pos, 1)
    return {
        "thresholds": edges[picks].tolist(),
        "recall": [0.0, *recall.tolist()],
        "precision": [1.0, *(tp / np.maximum(tp + fp, 1)).tolist()],
        "tpr": [0.0, *recall.tolist()],
        "fpr": [0.0, *(fp / max(num_neg, 1)).tolist()],
    }


@dataclass
class ComponentCounts:
    """SMIYC component counts summed over frames at one threshold: TP, FN, FP per tau and the
    sIoU and PPV sums; mergeable. `metrics()` gives component_metrics' keys."""

    threshold: float
    track: str = "anomaly"
    tp: np.ndarray = field(default_factory=lambda: np.zeros(SIOU_THRESHOLDS.size, np.int64))
    fn: np.ndarray = field(default_factory=lambda: np.zeros(SIOU_THRESHOLDS.size, np.int64))
    fp: np.ndarray = field(default_factory=lambda: np.zeros(SIOU_THRESHOLDS.size, np.int64))
    siou_sum: float = 0.0
    ppv_sum: float = 0.0
    num_gt: int = 0
    num_pred: int = 0

    def add(self, score: np.ndarray, label: np.ndarray) -> None:
        """One frame's components at `threshold` (the track's size filters)."""
        min_pred, min_gt = TRACK_SIZES[self.track]
        siou, ppv = frame_components(score, label, self.threshold, min_pred, min_gt, VOID)
        taus = SIOU_THRESHOLDS[:, None]
        self.tp += np.count_nonzero(siou[None] >= taus, axis=1)
        self.fn += np.count_nonzero(siou[None] < taus, axis=1)
        self.fp += np.count_nonzero(ppv[None] < taus, axis=1)
        self.siou_sum += float(siou.sum())
        self.ppv_sum += float(ppv.sum())
        self.num_gt += int(siou.size)
        self.num_pred += int(ppv.size)

    def merge(self, other: ComponentCounts) -> ComponentCounts:
        """The sum of two counts at the same threshold and track."""
        if (other.threshold, other.track) != (self.threshold, self.track):
            raise MetricsError("cannot merge component counts of other thresholds or tracks")
        return ComponentCounts(
            self.threshold,
            self.track,
            self.tp + other.tp,
            self.fn + other.fn,
            self.fp + other.fp,
            self.siou_sum + other.siou_sum,
            self.ppv_sum + other.ppv_sum,
            self.num_gt + other.num_gt,
            self.num_pred + other.num_pred,
        )

    def metrics(self) -> dict:
        """component_metrics' keys from the summed counts."""
        nan = float("nan")
        denominators = 2 * self.tp + self.fn + self.fp
        f1 = [2 * t / d if d else nan for t, d in zip(self.tp, denominators, strict=True)]
        min_pred, min_gt = TRACK_SIZES[self.track]
        return {
            "siou": self.siou_sum / self.num_gt if self.num_gt else nan,
            "ppv": self.ppv_sum / self.num_pred if self.num_pred else nan,
            "mean_f1": float(np.mean(f1)),
            "taus": SIOU_THRESHOLDS.tolist(),
            "f1": [float(v) for v in f1],
            "tp": self.tp.tolist(), "fn": self.fn.tolist(), "fp": self.fp.tolist(),
            "num_gt_components": self.num_gt, "num_pred_components": self.num_pred,
            "threshold": float(self.threshold), "min_pred_size": min_pred, "min_gt_size": min_gt,
        }  # fmt: skip


@dataclass
class ScoreSummary:
    """What one replay task returns for its labelled frames: per score a histogram, and the
    component counts at `threshold`. The same `add` as metrics.spill.ScoredFrames."""

    scores: Sequence[str]
    threshold: float
    track: str | None = "anomaly"
    frames: int = 0
    histograms: dict[str, ScoreHistogram] = field(default_factory=dict)
    components: dict[str, ComponentCounts] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in self.scores:
            self.histograms.setdefault(name, ScoreHistogram())
            if self.track is not None:
                self.components.setdefault(name, ComponentCounts(self.threshold, self.track))

    def add(self, label: np.ndarray, maps: dict[str, np.ndarray], where: str | None = None) -> None:
        """One frame: labels 0 / 1 / 255 and a map per score; NonFiniteScoreError naming
        `where` (default: the frame's index) adds nothing."""
        place = where if where is not None else f"frame {self.frames}"
        check_anomaly_labels(label, place, VOID)
        for name in self.scores:
            check_finite_scores(maps[name], label, f"{place}: score {name}", VOID)
        for name in self.scores:
            self.histograms[name].add(maps[name], label)
            if name in self.components:
                self.components[name].add(maps[name], label)
        self.frames += 1

    def merge(self, other: ScoreSummary) -> ScoreSummary:
        """The sum of two summaries of the same scores."""
        if list(other.scores) != list(self.scores):
            raise MetricsError(f"cannot merge summaries of scores {other.scores} and {self.scores}")
        merged = ScoreSummary(self.scores, self.threshold, self.track, self.frames + other.frames)
        for name in self.scores:
            merged.histograms[name] = self.histograms[name].merge(other.histograms[name])
            if name in self.components:
                merged.components[name] = self.components[name].merge(other.components[name])
        return merged

    def metrics(self, curve_points: int = 0) -> dict[str, dict]:
        """score name -> binned pixel metrics (with "bounds"), plus "components" at the
        threshold; {} without frames."""
        if not self.frames:
            return {}
        results = {}
        for name in self.scores:
            result = self.histograms[name].metrics(curve_points)
            if name in self.components:
                result["components"] = self.components[name].metrics()
            results[name] = result
        return results


def save_summary(path: Path, summary: ScoreSummary) -> None:
    """Write `summary` as .npz (sparse histograms, component counts): a fleet worker's result."""
    arrays: dict[str, np.ndarray] = {}
    for name, histogram in summary.histograms.items():
        arrays |= {f"{name}/{k}": v for k, v in histogram.to_arrays().items()}
    for name, counts in summary.components.items():
        arrays[f"{name}/components"] = np.concatenate([counts.tp, counts.fn, counts.fp])
        arrays[f"{name}/component_sums"] = np.asarray(
            [counts.siou_sum, counts.ppv_sum, counts.num_gt, counts.num_pred], np.float64
        )
    head = {"scores": list(summary.scores), "threshold": summary.threshold,
            "track": summary.track, "frames": summary.frames}  # fmt: skip
    arrays["head"] = np.frombuffer(json.dumps(head).encode(), np.uint8)
    with path.open("wb") as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]


def load_summary(path: Path) -> ScoreSummary:
    """The inverse of `save_summary`."""
    with np.load(path) as data:
        head = json.loads(bytes(data["head"]).decode())
        summary = ScoreSummary(head["scores"], head["threshold"], head["track"], head["frames"])
        for name in summary.scores:
            keys = ("bins", "pos", "neg", "meta")
            summary.histograms[name] = ScoreHistogram.from_arrays(
                {k: data[f"{name}/{k}"] for k in keys}
            )
            if f"{name}/components" in data:
                tp, fn, fp = np.split(data[f"{name}/components"].astype(np.int64), 3)
                siou, ppv, num_gt, num_pred = data[f"{name}/component_sums"].tolist()
                summary.components[name] = ComponentCounts(
                    head["threshold"], head["track"], tp, fn, fp, siou, ppv,
                    int(num_gt), int(num_pred),
                )  # fmt: skip
    return summary
