"""ESPNetv2 segmenter: EdgeNets' Cityscapes checkpoint loads and is used correctly (it segments a
real CamVid frame before any fine-tuning), any input size, and an ONNX export that ONNX Runtime
runs."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F

from dense_ood_train.data.camvid import CamVidDataset
from dense_ood_train.models.espnetv2 import (
    CAMVID_FROM_CITYSCAPES,
    EDGENETS_CITYSCAPES_CLASSES,
    ESPNetv2Segmenter,
    _pool_axis,
)
from dense_ood_train.models.normalization import Normalize

WEIGHTS = Path(__file__).resolve().parents[1] / "weights/espnetv2"
CHECKPOINT = WEIGHTS / "espnetv2_s_2.0_city_1024x512.pth"
# every shipped checkpoint: (scale, file)
SHIPPED = [(2.0, CHECKPOINT), (1.0, WEIGHTS / "espnetv2_s_1.0_city_512x256.pth")]
CAMVID = Path(__file__).resolve().parents[3] / "shared/data/camvid"
CLASSIFIER = "bu_dec_l4.merge_layer.3."
# EdgeNets' Cityscapes channels (trainIds; 19 = background) and CamVid ids
CS_ROAD, CS_SKY, CS_CAR = 0, 10, 13
CAMVID_SKY, CAMVID_ROAD, CAMVID_CAR = 0, 3, 8


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """ESPNetv2 runs hundreds of small ops: on a shared 2-core machine two threads wait on each
    other far longer than they compute (a 75x101 step: 0.4 s on one thread, 10 s on two)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module", params=SHIPPED, ids=lambda shipped: shipped[1].name)
def cityscapes_model(request: pytest.FixtureRequest) -> tuple[ESPNetv2Segmenter, Path]:
    """A shipped checkpoint in the 20-class model it was trained as, and its path."""
    scale, path = request.param
    model = ESPNetv2Segmenter(EDGENETS_CITYSCAPES_CLASSES, s=scale, pretrained_file=path)
    return model.eval(), path


def test_checkpoint_loads_strictly(cityscapes_model: tuple[ESPNetv2Segmenter, Path]) -> None:
    model, path = cityscapes_model
    state = torch.load(path, map_location="cpu", weights_only=True)
    ours = model.state_dict()
    assert set(ours) == set(state)
    assert all(torch.equal(ours[key], value) for key, value in state.items())
    ESPNetv2Segmenter(EDGENETS_CITYSCAPES_CLASSES, s=model.s).load_state_dict(state, strict=True)


def test_finetune_model_loads_all_but_the_classifier() -> None:
    torch.manual_seed(0)
    model = ESPNetv2Segmenter(11, s=2.0, pretrained_file=CHECKPOINT)
    state = torch.load(CHECKPOINT, map_location="cpu", weights_only=True)
    ours = model.state_dict()
    for key, value in state.items():
        if key.startswith(CLASSIFIER):
            assert ours[key].shape[0] == 11
        else:
            assert torch.equal(ours[key], value), key
    assert model.classifier.weight.shape == (11, 10, 1, 1)
    assert not torch.equal(model.classifier.weight, state[CLASSIFIER + "weight"][:11])

    mapped = ESPNetv2Segmenter(
        11, s=2.0, pretrained_file=CHECKPOINT, classifier_init=CAMVID_FROM_CITYSCAPES
    )
    road = CAMVID_FROM_CITYSCAPES[CAMVID_ROAD]
    assert torch.equal(mapped.classifier.weight[CAMVID_ROAD], state[CLASSIFIER + "weight"][road])
    assert torch.equal(mapped.classifier.bias[CAMVID_ROAD], state[CLASSIFIER + "bias"][road])


def test_wrong_scale_is_one_readable_error() -> None:
    for classes in (11, EDGENETS_CITYSCAPES_CLASSES):
        with pytest.raises(ValueError, match=r"not an ESPNetv2 s=1\.0 checkpoint"):
            ESPNetv2Segmenter(classes, s=1.0, pretrained_file=CHECKPOINT)


def test_parameter_groups_split_encoder_from_decoder() -> None:
    model = ESPNetv2Segmenter(11, s=0.5)
    encoder, head = model.parameter_groups()
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert {id(p) for p in encoder} | {id(p) for p in head} == {id(p) for p in trainable}
    assert len(encoder) + len(head) == len(trainable)
    assert {id(p) for p in encoder} <= {id(p) for p in model.base_net.parameters()}
    assert any(p is model.classifier.weight for p in head)
    # every trainable parameter gets a gradient (DistributedDataParallel relies on it)
    model(torch.randn(1, 3, 64, 64)).mean().backward()
    assert all(p.grad is not None for p in trainable)


@pytest.mark.skipif(not CAMVID.is_dir(), reason=f"CamVid not at {CAMVID}")
def test_cityscapes_weights_segment_a_camvid_frame(
    cityscapes_model: tuple[ESPNetv2Segmenter, Path],
) -> None:
    """Before any fine-tuning: CamVid road, sky and car pixels get Cityscapes road, sky, car.
    On val frame 0016E5_07959: road 98.0 %, sky 92.1 %, car 82.4 % (s=2.0, 1024x512 weights);
    road 94.6 %, sky 95.1 %, car 88.7 % (s=1.0, 512x256). Wrong normalisation or wiring gives
    a few percent."""
    model, _ = cityscapes_model
    dataset = CamVidDataset(CAMVID, "val")
    index = next(i for i in range(len(dataset)) if dataset.name(i) == "0016E5_07959")
    image, label = dataset[index]
    x = Normalize().from_uint8(torch.from_numpy(image).permute(2, 0, 1)[None])
    with torch.no_grad():
        predicted = model(x).argmax(1)[0].numpy()
    for camvid_id, cityscapes_id, least in (
        (CAMVID_ROAD, CS_ROAD, 0.9),
        (CAMVID_SKY, CS_SKY, 0.8),
        (CAMVID_CAR, CS_CAR, 0.6),
    ):
        pixels = label == camvid_id
        assert pixels.sum() > 500
        assert np.mean(predicted[pixels] == cityscapes_id) > least, (camvid_id, cityscapes_id)


def test_output_has_the_input_size() -> None:
    model = ESPNetv2Segmenter(11, s=0.5)
    with torch.no_grad():
        for hw in ((360, 480), (192, 256)):
            assert model(torch.randn(2, 3, *hw)).shape == (2, 11, *hw)
    logits = model(torch.randn(2, 3, 75, 101))  # no power of two at all
    assert logits.shape == (2, 11, 75, 101)
    logits.mean().backward()
    assert model.base_net.level1.conv.weight.grad is not None


def test_exportable_pooling_matches_adaptive_avg_pool() -> None:
    x = torch.randn(2, 3, 68, 23)
    for out in (1, 5, 12, 23, 45):
        expected = F.adaptive_avg_pool2d(x, (out, 23))
        torch.testing.assert_close(_pool_axis(x, 2, out), expected)
        expected = F.adaptive_avg_pool2d(x, (68, out))
        torch.testing.assert_close(_pool_axis(x, 3, out), expected)


def test_onnx_export_runs_in_onnxruntime(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = ESPNetv2Segmenter(11, s=0.5).eval()
    for module in model.modules():  # non-trivial BN statistics, so a wiring slip shows
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 2.0)
    x = torch.randn(2, 3, 72, 100)  # stride-16 size 5x7: non-divisible pyramid pools
    path = tmp_path / "espnetv2.onnx"
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = model(x).numpy()
        torch.onnx.export(
            model,
            (x[:1],),
            str(path),
            input_names=["x"],
            output_names=["logits"],
            dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"x": x.numpy()})
    assert logits.shape == expected.shape
    np.testing.assert_allclose(logits, expected, atol=1e-3, rtol=1e-3)
    assert np.mean(logits.argmax(1) == expected.argmax(1)) > 0.999
