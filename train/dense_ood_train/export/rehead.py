"""Give an exported contract-1 model today's score head, keeping its trained network as it is.

Models exported before the class-last head (see `ContractHead`) spend most of their CPU time in
the scores. This cuts the graph at the logits (the input of its one ArgMax), exports a fresh
`ContractHead` for the same scores and joins the two, so a model gets the faster head without
its checkpoint: the bundled models were migrated this way.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import onnx
import onnx.compose
import onnx.helper
import onnx.utils
import torch

from dense_ood_ros.model.contract import (
    INPUT_NAME,
    ContractError,
    ModelContract,
)
from dense_ood_train.export.checkpoint_export import ExportError
from dense_ood_train.export.onnx_export import (
    ContractHead,
    output_names,
    trace_to_onnx,
)

HEAD_INPUT = "logits"
HEAD_PREFIX = "head/"


def rehead_model(source: Path, output: Path) -> Path:
    """Write `source` with a new ContractHead to `output`; metadata is carried over unchanged."""
    model = _load(source)
    meta = {prop.key: prop.value for prop in model.metadata_props}
    try:
        contract = ModelContract.from_metadata(meta, source=str(source))
    except ContractError as exc:
        raise ExportError(str(exc)) from exc
    logits = _logits_name(model, source)
    _declare_logits(model, logits, contract)
    body = onnx.utils.Extractor(model).extract_model([INPUT_NAME], [logits])
    with tempfile.TemporaryDirectory() as tmp:
        head = _export_head(contract, Path(tmp) / "head.onnx")
    head.ir_version = body.ir_version
    head = onnx.compose.add_prefix(head, HEAD_PREFIX, rename_inputs=False, rename_outputs=False)
    merged = onnx.compose.merge_models(body, head, io_map=[(logits, HEAD_INPUT)])
    _deduplicate_opsets(merged)
    del merged.metadata_props[:]  # exactly the source's, whatever merge_models made of them
    merged.metadata_props.extend(model.metadata_props)
    onnx.checker.check_model(merged)
    output.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(merged, str(output))
    return output


def _load(source: Path) -> onnx.ModelProto:
    try:
        return onnx.load(str(source))
    except OSError as exc:
        raise ExportError(f"cannot read {source}: {exc.strerror or exc}") from exc
    except Exception as exc:  # protobuf's DecodeError and friends
        raise ExportError(f"{source}: not an ONNX model ({exc})") from exc


def _logits_name(model: onnx.ModelProto, source: Path) -> str:
    """The full-resolution logits: the input of the graph's one ArgMax (the semantic output)."""
    argmaxes = [node for node in model.graph.node if node.op_type == "ArgMax"]
    if len(argmaxes) != 1:
        raise ExportError(
            f"{source}: expected one ArgMax (semantic output) to find the logits, found "
            f"{len(argmaxes)}; was it exported by dense-ood-train?"
        )
    return argmaxes[0].input[0]


def _declare_logits(model: onnx.ModelProto, logits: str, contract: ModelContract) -> None:
    """Give the logits a value_info (float [batch, K, H, W]): the Extractor needs one to make
    them an output, and shape inference leaves the traced graph's dynamic-batch tensors bare."""
    if any(info.name == logits for info in model.graph.value_info):
        return
    shape: list[str | int] = ["batch", contract.num_classes, *contract.input_hw]
    info = onnx.helper.make_tensor_value_info(logits, onnx.TensorProto.FLOAT, shape)
    model.graph.value_info.append(info)


def _deduplicate_opsets(model: onnx.ModelProto) -> None:
    """merge_models lists both parts' opset imports; tools such as ONNX Runtime's quantizer
    want one entry per domain."""
    versions: dict[str, int] = {}
    for opset in model.opset_import:
        versions[opset.domain] = max(versions.get(opset.domain, 0), opset.version)
    del model.opset_import[:]
    model.opset_import.extend(onnx.helper.make_opsetid(d, v) for d, v in versions.items())


def _export_head(contract: ModelContract, path: Path) -> onnx.ModelProto:
    height, width = contract.input_hw
    example = torch.zeros(1, contract.num_classes, height, width)
    head = ContractHead(contract.score, contract.extra_scores).eval()
    trace_to_onnx(head, example, path, HEAD_INPUT, output_names(contract))
    return onnx.load(str(path))
