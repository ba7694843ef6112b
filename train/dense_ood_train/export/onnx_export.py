"""Export a segmenter to a contract-1 ONNX model: uint8 image in, trainIds and anomaly score out.

Normalisation, argmax and the anomaly score live inside the graph, so the vehicle runtime only
resizes frames and never needs torch (see docs/design.md, "The exported model contract").
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dense_ood_ros.model.contract import (
    EXTRA_SCORE_PREFIX,
    INPUT_NAME,
    KEY_PRECISION,
    KNOWN_SCORES,
    SCORE_OUTPUT,
    SEMANTIC_OUTPUT,
    UNSPECIFIED_RULE,
    ModelContract,
    write_onnx_metadata,
)
from dense_ood_train.method.scores import compute_score
from dense_ood_train.models.normalization import IMAGENET_MEAN, IMAGENET_STD, Normalize

ONNX_OPSET = 17


class ContractHead(nn.Module):
    """Logits float32 [N, K, H, W] -> (semantic uint8 [N, H, W], score, extra scores...).

    The scores run on class-last logits: ONNX Runtime's CPU Softmax and LogSoftmax on a
    non-last axis transpose internally. With the class-first head they took 29.8 of the 58.5 ms
    of kernel time of the default model, and the engine call is 3.0x faster without it
    (docs/engines.md).
    """

    def __init__(self, score: str = "jsd", extra_scores: Sequence[str] = ()) -> None:
        super().__init__()
        self.score = score
        self.extra_scores = tuple(extra_scores)

    def forward(self, logits: torch.Tensor) -> tuple[torch.Tensor, ...]:
        class_last = logits.float().permute(0, 2, 3, 1)
        semantic = class_last.argmax(-1).to(torch.uint8)
        outputs = [semantic, compute_score(self.score, class_last, -1)]
        outputs += [compute_score(name, class_last, -1) for name in self.extra_scores]
        return tuple(outputs)


class ContractWrapper(nn.Module):
    """uint8 [N, H, W, 3] RGB -> (semantic uint8 [N, H, W], score float32 [N, H, W], extras...)."""

    def __init__(
        self,
        segmenter: nn.Module,
        score: str = "jsd",
        extra_scores: Sequence[str] = (),
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        fp16: bool = False,
    ) -> None:
        super().__init__()
        self.segmenter = segmenter
        self.fp16 = fp16
        self.normalize = Normalize(mean, std)
        self.head = ContractHead(score, extra_scores)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.normalize.from_uint8(image.permute(0, 3, 1, 2))
        if self.fp16:
            x = x.half()
        logits = self.segmenter(x)
        if logits.shape[-2:] != x.shape[-2:]:
            logits = F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)
        # scores in float32 even for an FP16 network: they saturate
        return self.head(logits.float())


def export_contract_model(
    segmenter: nn.Module,
    output: str | Path,
    contract: ModelContract,
    fp16: bool = False,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    extra_metadata: dict[str, str] | None = None,
) -> Path:
    """Trace `segmenter` (normalised NCHW float -> logits NKHW) into a contract-1 ONNX file;
    `extra_metadata` (e.g. dense_ood.training) is stored beside the contract's keys."""
    if contract.score not in KNOWN_SCORES:
        raise ValueError(f"unknown score {contract.score!r}; choose from {KNOWN_SCORES}")
    output = Path(output)
    wrapper = ContractWrapper(segmenter, contract.score, contract.extra_scores, mean, std, fp16)
    wrapper = wrapper.eval().cpu()
    if fp16:
        wrapper.segmenter.half()
    height, width = contract.input_hw
    example = torch.zeros(1, height, width, 3, dtype=torch.uint8)
    output.parent.mkdir(parents=True, exist_ok=True)
    trace_to_onnx(wrapper, example, output, INPUT_NAME, output_names(contract))
    precision = {KEY_PRECISION: "fp16" if fp16 else "fp32"}
    write_onnx_metadata(output, {**contract.to_metadata(), **precision, **(extra_metadata or {})})
    return output


def output_names(contract: ModelContract) -> list[str]:
    """The contract's outputs in graph order: semantic, anomaly_score, score_<extra>..."""
    names = [SEMANTIC_OUTPUT, SCORE_OUTPUT]
    return names + [f"{EXTRA_SCORE_PREFIX}{name}" for name in contract.extra_scores]


def trace_to_onnx(
    module: nn.Module, example: torch.Tensor, path: Path, input_name: str, outputs: list[str]
) -> None:
    """Trace `module` at opset ONNX_OPSET with a dynamic batch axis on every input and output."""
    dynamic_axes = {name: {0: "batch"} for name in [input_name, *outputs]}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation chatter
        torch.onnx.export(
            module,
            (example,),
            str(path),
            input_names=[input_name],
            output_names=outputs,
            dynamic_axes=dynamic_axes,
            opset_version=ONNX_OPSET,
            dynamo=False,  # the TorchScript path handles timm backbones without graph breaks
        )


def make_contract(
    class_names: Sequence[str],
    palette: np.ndarray | Sequence[Sequence[int]],
    input_hw: tuple[int, int],
    score: str = "jsd",
    threshold: float = 0.5,
    extra_scores: bool | Sequence[str] = False,
    threshold_rule: str = UNSPECIFIED_RULE,
) -> ModelContract:
    """Build the metadata; `extra_scores=True` adds every known score other than `score`;
    `threshold_rule` says how `threshold` was chosen (dense_ood.threshold_rule)."""
    if extra_scores is True:
        extras = tuple(name for name in KNOWN_SCORES if name != score)
    else:
        extras = tuple(extra_scores or ())
    return ModelContract(
        class_names=tuple(class_names),
        palette=np.asarray(palette, dtype=np.uint8),
        score=score,
        threshold=float(threshold),
        input_hw=(int(input_hw[0]), int(input_hw[1])),
        extra_scores=extras,
        threshold_rule=threshold_rule,
    )
