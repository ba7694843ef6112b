"""The exported model contract (version 1): the one interface between training and the runtime.

An ONNX file (or a TensorRT plan with a JSON sidecar) takes `image` uint8 [N, H, W, 3] RGB and
returns `semantic` uint8 [N, H, W] and `anomaly_score` float32 [N, H, W] (higher = more
anomalous), plus optional `score_<name>` outputs. What the outputs mean lives in metadata.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dense_ood_ros.errors import first_line
from dense_ood_ros.model.errors import ContractError as ContractError  # its home until now
from dense_ood_ros.model.plan_file import PlanSidecar, is_plan_file

CONTRACT_VERSION = "1"

INPUT_NAME = "image"
SEMANTIC_OUTPUT = "semantic"
SCORE_OUTPUT = "anomaly_score"
EXTRA_SCORE_PREFIX = "score_"

KEY_CONTRACT = "dense_ood.contract"
KEY_CLASS_NAMES = "dense_ood.class_names"
KEY_PALETTE = "dense_ood.palette"
KEY_SCORE = "dense_ood.score"
KEY_THRESHOLD = "dense_ood.threshold"
#: Optional: how the threshold was chosen, for people (e.g. "fpr<=0.05 on inlier pixels of ...").
KEY_THRESHOLD_RULE = "dense_ood.threshold_rule"
#: The threshold rule of a model whose metadata does not say (models exported before the key).
UNSPECIFIED_RULE = "unspecified"
KEY_INPUT_HW = "dense_ood.input_hw"
KEY_EXTRA_SCORES = "dense_ood.extra_scores"
#: Optional provenance (JSON): negatives mode, seed, steps, config digest, source commit.
KEY_TRAINING = "dense_ood.training"
#: Optional: what the model may be used for (the licences of its training data and weights).
KEY_LICENCE = "dense_ood.licence"
#: Optional numeric precision of the network: fp32 (when absent), fp16 or int8 (Q/DQ).
KEY_PRECISION = "dense_ood.precision"
PRECISIONS = ("fp32", "fp16", "int8")

#: Scores a contract model may carry. "jsd" is the method's: 1 - JSD(P||U) / JSD(onehot||U).
KNOWN_SCORES = ("jsd", "msp", "maxlogit", "entropy", "energy")


@dataclass(frozen=True)
class ModelContract:
    """What a contract-1 model says about itself."""

    class_names: tuple[str, ...]
    palette: np.ndarray = field(repr=False)  # [K, 3] uint8 RGB, one row per trainId
    score: str
    threshold: float
    input_hw: tuple[int, int]
    extra_scores: tuple[str, ...] = ()
    threshold_rule: str = UNSPECIFIED_RULE

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def to_metadata(self) -> dict[str, str]:
        """Serialise to the string key/value pairs stored in ONNX metadata_props."""
        return {
            KEY_CONTRACT: CONTRACT_VERSION,
            KEY_CLASS_NAMES: json.dumps(list(self.class_names)),
            KEY_PALETTE: json.dumps(self.palette.astype(int).tolist()),
            KEY_SCORE: self.score,
            KEY_THRESHOLD: repr(float(self.threshold)),
            KEY_INPUT_HW: json.dumps(list(self.input_hw)),
            KEY_EXTRA_SCORES: json.dumps(list(self.extra_scores)),
            KEY_THRESHOLD_RULE: self.threshold_rule,
        }

    @classmethod
    def from_metadata(cls, meta: dict[str, str], source: str = "model") -> ModelContract:
        """Parse metadata_props; raise ContractError naming the first problem found."""
        version = meta.get(KEY_CONTRACT)
        if version is None:
            raise ContractError(f"{source}: not a dense_ood model (no '{KEY_CONTRACT}' metadata)")
        if version != CONTRACT_VERSION:
            raise ContractError(
                f"{source}: contract version {version!r}, this runtime reads {CONTRACT_VERSION!r}"
            )
        try:
            class_names = tuple(str(n) for n in json.loads(meta[KEY_CLASS_NAMES]))
            palette = np.asarray(json.loads(meta[KEY_PALETTE]), dtype=np.int64)
            score = meta[KEY_SCORE]
            threshold = float(meta[KEY_THRESHOLD])
            input_hw = tuple(int(v) for v in json.loads(meta[KEY_INPUT_HW]))
            extra_scores = tuple(json.loads(meta.get(KEY_EXTRA_SCORES, "[]")))
            threshold_rule = " ".join(meta.get(KEY_THRESHOLD_RULE, "").split()) or UNSPECIFIED_RULE
        except KeyError as exc:
            raise ContractError(f"{source}: metadata key {exc.args[0]!r} is missing") from exc
        except (ValueError, TypeError) as exc:
            raise ContractError(f"{source}: malformed metadata ({exc})") from exc
        if not class_names:
            raise ContractError(f"{source}: '{KEY_CLASS_NAMES}' is empty")
        if palette.shape != (len(class_names), 3) or palette.min() < 0 or palette.max() > 255:
            raise ContractError(
                f"{source}: '{KEY_PALETTE}' must hold {len(class_names)} [r, g, b] rows in 0..255"
            )
        if len(input_hw) != 2 or min(input_hw) <= 0:
            raise ContractError(f"{source}: '{KEY_INPUT_HW}' must be [height, width] > 0")
        if not math.isfinite(threshold):
            raise ContractError(f"{source}: '{KEY_THRESHOLD}' is not a finite number")
        return cls(
            class_names=class_names,
            palette=palette.astype(np.uint8),
            score=score,
            threshold=threshold,
            input_hw=(input_hw[0], input_hw[1]),
            extra_scores=extra_scores,
            threshold_rule=threshold_rule,
        )


def read_onnx_metadata(path: str | Path) -> dict[str, str]:
    """Read metadata_props of an ONNX file with ONNX Runtime (no `onnx` package on vehicles)."""
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        raise ContractError(f"{path}: no such model file")
    options = ort.SessionOptions()
    options.log_severity_level = 4  # silence ORT's own stderr report; we raise a clear error
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # metadata only
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ContractError(f"{path}: not a readable ONNX model ({first_line(exc)})") from exc
    return dict(session.get_modelmeta().custom_metadata_map)


def precision_of(metadata: dict[str, str]) -> str:
    """A model's precision from its metadata (dense_ood.precision; fp32 when absent)."""
    return metadata.get(KEY_PRECISION, "fp32")


def write_onnx_metadata(path: str | Path, meta: dict[str, str]) -> None:
    """Store `meta` in an ONNX file's metadata_props, replacing earlier values of the same keys
    (needs the `onnx` package: the export and quantize tools have it, vehicles need not)."""
    import onnx

    model = onnx.load(str(path))
    kept = [p for p in model.metadata_props if p.key not in meta]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    for key, value in meta.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))


def read_contract(path: str | Path) -> ModelContract:
    """Read the contract of an ONNX model or of a TensorRT plan (via its JSON sidecar)."""
    path = Path(path)
    if not is_plan_file(path):
        return ModelContract.from_metadata(read_onnx_metadata(path), source=str(path))
    if not path.is_file():
        raise ContractError(f"{path}: no such model file")
    return ModelContract.from_metadata(PlanSidecar.read(path).metadata, source=str(path))
