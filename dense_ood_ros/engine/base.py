"""The engine interface: a contract-1 model that turns uint8 RGB batches into labels and scores.

Backends (ONNX Runtime, TensorRT) implement `Engine`; everything above them (pipeline, node,
replay, bench) sees only this interface.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

from dense_ood_ros.engine.errors import EngineError
from dense_ood_ros.model.contract import ModelContract

__all__ = ["Engine", "EngineError", "EngineOutputs"]


@dataclass
class EngineOutputs:
    """One batch of results at the model's input size."""

    semantic: np.ndarray  # uint8 [N, H, W] trainIds
    score: np.ndarray  # float32 [N, H, W], higher = more anomalous
    extra_scores: dict[str, np.ndarray] = field(default_factory=dict)  # name -> float32 [N, H, W]

    @classmethod
    def concatenate(cls, parts: list[EngineOutputs]) -> EngineOutputs:
        """One batch from consecutive parts (a batch run in smaller engine calls)."""
        return cls(
            semantic=np.concatenate([p.semantic for p in parts]),
            score=np.concatenate([p.score for p in parts]),
            extra_scores={
                name: np.concatenate([p.extra_scores[name] for p in parts])
                for name in parts[0].extra_scores
            },
        )


class Engine(ABC):
    """A loaded contract-1 model. Subclasses set `contract` and `backend_name`, and
    `precision` where the network is not FP32 (dense_ood.precision metadata)."""

    contract: ModelContract
    backend_name: str
    precision: str = "fp32"

    @abstractmethod
    def infer(self, images: np.ndarray, extra_scores: bool = True) -> EngineOutputs:
        """Run uint8 [N, H, W, 3] RGB images at `contract.input_hw`.

        `extra_scores=False` lets a backend skip fetching the comparison scores.
        """

    def infer_in_chunks(self, images: np.ndarray, size: int, extra_scores: bool) -> EngineOutputs:
        """`infer` in calls of at most `size` images, for models with a smaller batch limit."""
        parts = [
            self.infer(images[i : i + size], extra_scores) for i in range(0, len(images), size)
        ]
        return EngineOutputs.concatenate(parts)

    def check_images(self, images: np.ndarray) -> None:
        """Raise EngineError unless `images` is a uint8 [N, H, W, 3] batch at the input size."""
        height, width = self.contract.input_hw
        if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
            kind = getattr(images, "dtype", type(images).__name__)
            raise EngineError(f"engine input must be a uint8 numpy array, got {kind}")
        if images.ndim != 4 or images.shape[1:] != (height, width, 3) or images.shape[0] < 1:
            raise EngineError(
                f"engine input must have shape [N, {height}, {width}, 3], got {list(images.shape)}"
            )
