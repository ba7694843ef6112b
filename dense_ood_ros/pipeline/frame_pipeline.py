"""The one ROS-free per-frame pipeline: camera RGB -> engine -> masks at the camera's size.

The live node, the bag replay and the bench all call `Pipeline.process`, so what is measured
offline is what runs on the vehicle. Work happens at the cheapest resolution that gives the same
result: colours are looked up at the model's size and then enlarged with the same nearest
mapping as the labels (identical to colouring the enlarged labels, at a quarter of the cost
for a 2x model); the mask is thresholded at the camera's size because bilinear scores and a
threshold do not commute. Colour and overlay are rendered only when asked.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from dense_ood_ros.codec.resize import resize_to
from dense_ood_ros.engine.base import Engine, EngineOutputs
from dense_ood_ros.errors import DenseOodError
from dense_ood_ros.model.contract import ModelContract
from dense_ood_ros.pipeline import render
from dense_ood_ros.pipeline.obstacles import ImageObstacle, ObstacleSettings, extract_obstacles

#: Nearest neighbour on pixel centres, like bilinear (OpenCV >= 4.5; older ones lack it).
NEAREST = getattr(cv2, "INTER_NEAREST_EXACT", cv2.INTER_NEAREST)


#: Where the outputs are: at the camera frame's size, or at the model's input size.
OUTPUT_SIZES = ("camera", "model")


class FrameError(DenseOodError, ValueError):
    """A frame or setting the pipeline cannot use (not uint8 RGB, empty, a non-finite threshold)."""


@dataclass
class FrameResult:
    """One frame's outputs, all at the output size (the camera's, or the model's input size)."""

    semantic: np.ndarray  # uint8 [H, W] trainIds
    score: np.ndarray  # float32 [H, W], higher = more anomalous
    mask: np.ndarray  # uint8 [H, W]: 255 where score >= threshold, else 0
    color: np.ndarray | None = None  # uint8 [H, W, 3] palette colours
    overlay: np.ndarray | None = None  # uint8 [H, W, 3] camera image, colours, anomalies marked
    extra_scores: dict[str, np.ndarray] = field(default_factory=dict)  # float32 [H, W]
    timings_ms: dict[str, float] = field(default_factory=dict)  # stage -> milliseconds
    # anomaly obstacles, in the outputs' pixels; None where the pipeline extracts none
    obstacles: list[ImageObstacle] | None = None

    def output_images(self) -> dict[str, np.ndarray | None]:
        """The published images by output name (the keys of topics.ENCODING_OF_OUTPUT)."""
        return {
            "semantic": self.semantic,
            "semantic_color": self.color,
            "anomaly_score": self.score,
            "anomaly_mask": self.mask,
            "overlay": self.overlay,
        }


class Pipeline:
    """Resize, infer, resize back, threshold, colourise and overlay one camera frame."""

    def __init__(
        self,
        engine: Engine,
        threshold: float | None = None,
        overlay_alpha: float = 0.5,
        output_size: str = "camera",
        obstacles: ObstacleSettings | None = None,
    ) -> None:
        """`threshold=None` takes the model's default (contract.threshold). `output_size`:
        outputs at the camera's size, or at the model's input size ("model"), which skips the
        full-resolution post-processing and shrinks every output message. `obstacles`: cut
        anomaly obstacles out of each frame's mask (at the model's resolution) with these
        settings; None: none."""
        if output_size not in OUTPUT_SIZES:
            raise FrameError(f"output_size must be one of {', '.join(OUTPUT_SIZES)}")
        self.engine = engine
        self.overlay_alpha = overlay_alpha
        self.output_size = output_size
        self.obstacles = obstacles
        self._lut = render.palette_lut(engine.contract.palette)
        self.threshold = engine.contract.threshold if threshold is None else threshold

    @property
    def contract(self) -> ModelContract:
        return self.engine.contract

    @property
    def min_decode_hw(self) -> tuple[int, int] | None:
        """The smallest frame (height, width) that gives these outputs: the model's input with
        outputs at its size (so a JPEG may be decoded at a reduced scale), else None (full size:
        the outputs are at the camera's)."""
        return self.contract.input_hw if self.output_size == "model" else None

    @property
    def threshold(self) -> float:
        """Anomaly threshold: mask = score >= threshold (compared in float32, like the score)."""
        return self._threshold

    @threshold.setter
    def threshold(self, value: float) -> None:
        value = float(value)
        if not math.isfinite(value):
            raise FrameError(f"anomaly threshold must be a finite number, got {value}")
        self._threshold = value

    def process(
        self,
        rgb: np.ndarray,
        color: bool = True,
        overlay: bool = True,
        extra_scores: bool = False,
    ) -> FrameResult:
        """Run one RGB uint8 [H, W, 3] frame; colour/overlay/extra scores only when asked."""
        return self.process_batch([rgb], [color], [overlay], extra_scores)[0]

    def process_batch(
        self,
        frames: Sequence[np.ndarray],
        color: Sequence[bool],
        overlay: Sequence[bool],
        extra_scores: bool = False,
    ) -> list[FrameResult]:
        """Run several frames (one per camera, any sizes) through one engine call; the model's
        batch dimension takes them together. `color` and `overlay` are per frame. Each
        result's timings give its own stages and the whole batch's engine time."""
        for rgb in frames:
            _check_frame(rgb)
        start = time.perf_counter()
        inputs = [resize_to(rgb, self.contract.input_hw) for rgb in frames]
        preprocess_ms = (time.perf_counter() - start) * 1e3 / len(frames)
        engine_start = time.perf_counter()
        outputs = self.engine.infer(np.stack(inputs), extra_scores=extra_scores)
        engine_ms = (time.perf_counter() - engine_start) * 1e3
        results = []
        for index, rgb in enumerate(frames):
            clock = _Clock()
            result = self._finish(
                rgb, inputs[index], outputs, index, color[index], overlay[index], extra_scores,
                clock,
            )  # fmt: skip
            laps = clock.finish()
            laps["total"] += preprocess_ms + engine_ms
            result.timings_ms = {"preprocess": preprocess_ms, "engine": engine_ms, **laps}
            results.append(result)
        return results

    def _finish(
        self,
        rgb: np.ndarray,
        model_input: np.ndarray,
        outputs: EngineOutputs,
        index: int,
        color: bool,
        overlay: bool,
        extra_scores: bool,
        clock: _Clock,
    ) -> FrameResult:
        """One frame's outputs from its row of the batch, at the output size."""
        at_model = self.output_size == "model"
        out_hw = self.contract.input_hw if at_model else rgb.shape[:2]
        background = model_input if at_model else rgb
        semantic = resize_to(outputs.semantic[index], out_hw, NEAREST)
        score = resize_to(outputs.score[index], out_hw, cv2.INTER_LINEAR)
        mask = cv2.compare(score, np.float64(self._threshold), cv2.CMP_GE)  # 255 / 0, uint8
        clock.lap("postprocess")
        result = FrameResult(semantic=semantic, score=score, mask=mask)
        if self.obstacles is not None:
            model_score = outputs.score[index]
            model_mask = cv2.compare(model_score, np.float64(self._threshold), cv2.CMP_GE)
            result.obstacles = extract_obstacles(
                model_mask, model_score, outputs.semantic[index], self.contract.class_names,
                out_hw, self.obstacles,
            )  # fmt: skip
            clock.lap("obstacles")
        if color or overlay:
            small = render.colorize(outputs.semantic[index], self._lut)
            colors = resize_to(small, out_hw, NEAREST)
            result.color = colors if color else None
            clock.lap("color")
            if overlay:
                result.overlay = render.overlay(background, colors, mask, self.overlay_alpha)
                clock.lap("overlay")
        if extra_scores:
            result.extra_scores = {
                name: resize_to(values[index], out_hw, cv2.INTER_LINEAR)
                for name, values in outputs.extra_scores.items()
            }
            clock.lap("extra_scores")
        return result


def _check_frame(rgb: np.ndarray) -> None:
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8:
        kind = getattr(rgb, "dtype", type(rgb).__name__)
        raise FrameError(f"frame must be a uint8 RGB array, got {kind}")
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise FrameError(f"frame must have shape [H, W, 3] with H, W > 0, got {list(rgb.shape)}")


class _Clock:
    """Per-stage wall time in milliseconds."""

    def __init__(self) -> None:
        self._start = self._last = time.perf_counter()
        self._laps: dict[str, float] = {}

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self._laps[stage] = (now - self._last) * 1e3
        self._last = now

    def finish(self) -> dict[str, float]:
        self._laps["total"] = (time.perf_counter() - self._start) * 1e3
        return self._laps
