"""The pooled result of a fleet: the finished bags' counts, stages and merged metric summaries."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from dense_ood_ros.metrics.obstacle_metrics import ObstacleCounts
from dense_ood_ros.metrics.summary import ScoreSummary
from dense_ood_ros.replay.fleet.outcome import BagOutcome
from dense_ood_ros.replay.session import CURVE_POINTS, CameraLabels, ReplayResult


def pool(outcomes: Sequence[BagOutcome], wall_s: float) -> tuple[ReplayResult, ScoreSummary | None]:
    """The pooled ReplayResult (counts, stages, merged metrics) of the bags that finished."""
    finished = [o for o in outcomes if o.status != "failed"]
    first = next((o for o in outcomes if o.class_names), None)
    result = ReplayResult(wall_s=wall_s)
    if first is not None:
        result.score_name, result.class_names = first.score_name, tuple(first.class_names)
        result.palette = first.palette
        result.class_pixels = np.zeros(len(first.class_names), np.int64)
    summary: ScoreSummary | None = None
    for o in finished:
        _add_counts(result, o)
        if o.summary is not None:
            summary = o.summary if summary is None else summary.merge(o.summary)
    if summary is not None:
        result.metrics = summary.metrics(curve_points=CURVE_POINTS)
    return result, summary


def _add_counts(result: ReplayResult, o: BagOutcome) -> None:
    """Add one finished bag's counts, stage times, class pixels and samples to `result`."""
    result.frames_in += o.frames_in
    result.processed += o.processed
    result.skipped.update(Counter(o.skipped))
    result.per_camera.update(Counter(o.per_camera))
    result.labelled += o.labelled
    result.unlabelled += o.unlabelled
    result.messages_written += o.messages_written
    for camera, c in o.labels_per_camera.items():
        counts = result.labels_per_camera.setdefault(camera, CameraLabels())
        counts.labels_topics += [t for t in c["labels_topics"] if t not in counts.labels_topics]
        counts.labels += c["labels"]
        counts.scored += c["scored"]
        counts.without_label += c["without_label"]
    for stage, values in o.stages_ms.items():
        result.stages_ms.setdefault(stage, []).extend(values)
    if result.class_pixels is not None and len(o.class_pixels) == result.class_pixels.size:
        result.class_pixels += np.asarray(o.class_pixels, np.int64)
    result.samples += o.samples[: max(0, 4 - len(result.samples))]
    _add_obstacles(result, o)


def _add_obstacles(result: ReplayResult, o: BagOutcome) -> None:
    """Add one finished bag's obstacle counts: the sums, and its metrics' counts merged (recall
    and false obstacles per frame are recomputed from the merged counts)."""
    if o.obstacle_settings is None:
        return
    if result.obstacle_settings is None:
        result.obstacle_settings = dict(o.obstacle_settings)
    result.obstacle_frames += o.obstacle_frames
    result.obstacles_seen += o.obstacles_seen
    result.obstacles_placed += o.obstacles_placed
    if o.obstacle_counts is not None:
        counts = ObstacleCounts.from_dict(o.obstacle_counts)
        known = result.obstacle_counts
        result.obstacle_counts = counts if known is None else known.merge(counts)
    for camera, geometry in o.geometry.items():
        before = result.geometry.get(camera)
        if before is None or (geometry["positions"] and not before["positions"]):
            result.geometry[camera] = dict(geometry)
