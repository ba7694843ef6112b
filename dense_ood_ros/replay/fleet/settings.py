"""What every task of a fleet is given: the model, the pipeline and the replay options."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dense_ood_ros.console.json_output import json_ready
from dense_ood_ros.replay.inputs import InputBag
from dense_ood_ros.replay.session import ReplayOptions


@dataclass
class FleetSettings:
    """What every task of a fleet does: the model, the pipeline and the replay options."""

    model: Path
    output: Path
    options: ReplayOptions  # bags and output are set per task
    backend: str = "auto"
    threshold: float | None = None
    output_size: str = "camera"
    overwrite: bool = False

    def config(self, bag: InputBag) -> dict[str, Any]:
        """What a marker records to tell whether an output came from the same command."""
        stat = self.model.stat()
        o = self.options
        return json_ready({
            "source": str(bag.source), "model": str(self.model.resolve()),
            "model_bytes": stat.st_size, "model_mtime_ns": stat.st_mtime_ns,
            "backend": self.backend, "threshold": self.threshold, "output_size": self.output_size,
            "topics": o.topics, "labels": [[s.labels, s.camera] for s in o.labels_specs()],
            "max_frames": o.max_frames, "storage": o.storage, "copy_inputs": o.copy_inputs,
            "color": o.color, "overlay": o.overlay, "obstacles": o.obstacles,
            "camera_height_m": o.camera_height_m, "camera_pitch_rad": o.camera_pitch_rad,
        })  # fmt: skip

    def task_options(self, bag: InputBag) -> ReplayOptions:
        """The replay options of `bag`'s task: that bag alone into OUT/<relative>, no engine-only
        timing, at most one sample overlay."""
        return replace(
            self.options,
            bags=[bag.source],
            output=self.output / str(bag.relative),
            engine_timing_frames=0,
            samples=min(self.options.samples, 1),
        )
