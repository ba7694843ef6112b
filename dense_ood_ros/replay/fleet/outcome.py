"""What one bag's task did (or why it failed), with its mergeable metric summary."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from dense_ood_ros.metrics.summary import ScoreSummary
from dense_ood_ros.replay.inputs import InputBag
from dense_ood_ros.replay.report import labels_per_camera
from dense_ood_ros.replay.session import ReplayResult


@dataclass
class BagOutcome:
    """What one bag's task did (or why it failed), and its mergeable metric summary."""

    relative: str
    source: str
    output: str
    status: str = "failed"  # done | skipped (complete before) | failed
    reason: str | None = None
    frames_in: int = 0
    processed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    per_camera: dict[str, int] = field(default_factory=dict)
    labelled: int = 0
    unlabelled: int = 0
    labels_per_camera: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages_written: int = 0
    wall_s: float = 0.0
    model_load_s: float | None = None  # None: the worker had the model loaded already
    max_rss_mb: float = 0.0
    worker: str = ""
    score_name: str = ""
    class_names: list[str] = field(default_factory=list)
    palette: list[list[int]] = field(default_factory=list)
    class_pixels: list[int] = field(default_factory=list)
    stages_ms: dict[str, list[float]] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)  # this bag's own (binned, no curves)
    summary: ScoreSummary | None = None
    samples: list[tuple[str, np.ndarray, np.ndarray | None]] = field(default_factory=list)
    log: str = ""
    obstacle_settings: dict[str, int] | None = None  # None: no obstacles extracted
    obstacle_frames: int = 0
    obstacles_seen: int = 0
    obstacles_placed: int = 0
    obstacle_counts: dict[str, Any] | None = None  # metrics.obstacle_metrics.ObstacleCounts
    geometry: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def of(cls, bag: InputBag, root: Path, **fields: Any) -> BagOutcome:
        """`bag`'s outcome, its output at ROOT/<relative> (failed until told otherwise)."""
        relative = str(bag.relative)
        return cls(relative, str(bag.source), str(root / relative), **fields)

    def with_result(self, result: ReplayResult, summary: ScoreSummary) -> BagOutcome:
        """This outcome with a session's result: done, or failed with the session's error."""
        pixels, counts = result.class_pixels, result.obstacle_counts
        return replace(
            self,
            status="failed" if result.error else "done",
            reason=result.error or None,
            frames_in=result.frames_in,
            processed=result.processed,
            skipped=dict(result.skipped),
            per_camera=dict(result.per_camera),
            labelled=result.labelled,
            unlabelled=result.unlabelled,
            labels_per_camera=labels_per_camera(result),
            messages_written=result.messages_written,
            wall_s=result.wall_s,
            score_name=result.score_name,
            class_names=list(result.class_names),
            palette=result.palette,
            class_pixels=[] if pixels is None else [int(v) for v in pixels],
            stages_ms={k: [float(x) for x in v] for k, v in result.stages_ms.items()},
            metrics={
                name: {k: v for k, v in m.items() if k != "curves"}
                for name, m in result.metrics.items()
            },
            summary=summary if summary.frames else None,
            samples=result.samples,
            obstacle_settings=result.obstacle_settings,
            obstacle_frames=result.obstacle_frames,
            obstacles_seen=result.obstacles_seen,
            obstacles_placed=result.obstacles_placed,
            obstacle_counts=counts.to_dict() if counts is not None else None,
            geometry={camera: dict(g) for camera, g in result.geometry.items()},
        )

    @property
    def frames_per_s(self) -> float:
        return self.processed / self.wall_s if self.wall_s > 0 else float("nan")

    def record(self) -> dict[str, Any]:
        """The JSON part (no summary, samples or log)."""
        skip = {"summary", "samples", "log"}
        return {k: v for k, v in asdict(self).items() if k not in skip}
