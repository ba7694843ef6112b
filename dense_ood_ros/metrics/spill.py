"""Spilling a dataset's scores and labels to disk, so long evaluations stay out of memory.

Pixel metrics need every non-void pixel of the dataset at once, but only one score at a time
(`PixelStore`); component metrics walk full-resolution frames one at a time (`FrameSpill`).
Both the training package's `evaluate` and the runtime's bag replay use them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dense_ood_ros.metrics.frames import check_finite_scores

VOID = 255  # the label of pixels that are not scored


class PixelStore:
    """Non-void labels and scores, spilled to raw files so long benchmarks stay out of memory.

    Pixel metrics need only non-void pixels; each score is read back alone when its metrics are
    computed, so the peak is one score's pixels rather than all of them. The void pixels left
    out are counted in `num_void`.
    """

    def __init__(self, folder: Path, scores: Sequence[str]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._paths = {name: folder / f"{name}.f32" for name in scores}
        self._labels_path = folder / "labels.u8"
        self.num_void = 0
        for path in [*self._paths.values(), self._labels_path]:
            path.write_bytes(b"")

    def add(self, label: np.ndarray, scores: dict[str, np.ndarray]) -> None:
        valid = label != VOID
        self.num_void += int(label.size - np.count_nonzero(valid))
        with self._labels_path.open("ab") as f:
            label[valid].astype(np.uint8).tofile(f)
        for name, path in self._paths.items():
            with path.open("ab") as f:
                scores[name][valid].astype(np.float32).tofile(f)

    def labels(self) -> np.ndarray:
        return np.fromfile(self._labels_path, dtype=np.uint8)

    def scores(self, name: str) -> np.ndarray:
        return np.fromfile(self._paths[name], dtype=np.float32)


class FrameSpill(Sequence[np.ndarray]):
    """Full-resolution frames (score maps or labels) spilled to .npy files, read back one at a
    time: component metrics walk frame by frame, so the peak is one frame, not the dataset."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self._count = 0

    def append(self, frame: np.ndarray) -> None:
        np.save(self.folder / f"{self._count:06d}.npy", frame)
        self._count += 1

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index):  # ints only: the metrics index frame by frame
        if not 0 <= index < self._count:
            raise IndexError(index)
        return np.load(self.folder / f"{index:06d}.npy")


class ScoredFrames:
    """Anomaly score maps and labels of a dataset, frame by frame, spilled under `folder`.

    `metrics()` gives each score's exact pixel metrics and, with a `track`, its SMIYC component
    metrics at that score's best-F1 threshold: the one computation `evaluate` and the bag
    replay share.
    """

    def __init__(self, folder: Path, scores: Sequence[str], track: str | None = None) -> None:
        self.scores = tuple(scores)
        self.track = track
        self.frames = 0
        self._pixels = PixelStore(folder / "pixels", self.scores)
        self._maps = {name: FrameSpill(folder / "maps" / name) for name in self.scores}
        self._labels = FrameSpill(folder / "maps" / "labels")

    def add(self, label: np.ndarray, maps: dict[str, np.ndarray], where: str | None = None) -> None:
        """One frame: labels 0 / 1 / 255 and a map per score, all of the same shape; a
        NonFiniteScoreError naming `where` (default: the frame's index) adds nothing."""
        place = where if where is not None else f"frame {self.frames}"
        for name in self.scores:
            check_finite_scores(maps[name], label, f"{place}: score {name}", VOID)
        self._pixels.add(label, maps)
        if self.track is not None:
            self._labels.append(label)
            for name in self.scores:
                self._maps[name].append(maps[name])
        self.frames += 1

    def metrics(self, curve_points: int = 0) -> dict[str, dict]:
        """score name -> pixel_metrics (plus "components" with a track); {} without frames.
        `num_void` counts the void pixels of every frame added (the store keeps none of them)."""
        from dense_ood_ros.metrics.components import component_metrics
        from dense_ood_ros.metrics.pixel import pixel_metrics

        if not self.frames:
            return {}
        labels = self._pixels.labels()
        results = {}
        for name in self.scores:
            result = pixel_metrics(self._pixels.scores(name), labels, curve_points=curve_points)
            result["num_void"] = self._pixels.num_void
            if self.track is not None:
                result["components"] = component_metrics(
                    self._maps[name], self._labels, result["best_f1_threshold"], track=self.track
                )
            results[name] = result
        return results
