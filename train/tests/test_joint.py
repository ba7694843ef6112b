"""One NFlowJS step: synthesis, pasting, the joint loss, and gradients reaching both networks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dense_ood_train.config import config_from_dict
from dense_ood_train.data.labels import IGNORE_INDEX
from dense_ood_train.loop.trainer import build_segmenter_optimizer
from dense_ood_train.method.joint import JointModel
from dense_ood_train.method.losses import inlier_cross_entropy, joint_loss, negative_jsd
from dense_ood_train.method.synthesis import (
    paste_patches,
    patch_sizes,
    random_boxes,
    sample_patch_hw,
)
from dense_ood_train.models import build_flow, build_segmenter

CROP = (32, 64)


def _config(**negatives: object) -> object:
    return config_from_dict(
        {
            "data": {"crop_hw": list(CROP)},
            "model": {"backbone": "mobilenetv3_small_050", "decoder_width": 16},
            "flow": {"levels": 2, "steps_per_level": 1, "hidden": 8, "lr": 1e-3},
            "negatives": {
                "mode": "flow",
                "beta": 1.0,
                "patch_min": 8,
                "patch_max": 24,
                "reference_height": CROP[0],
                **negatives,
            },
            "optim": {"lr": 1e-3, "steps": 10},
        }
    )


def _batch(n: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, *CROP), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, 19, (n, *CROP), generator=generator)
    return images, labels


def _model(config: object) -> JointModel:
    torch.manual_seed(0)
    flow = build_flow(config.flow) if config.negatives.mode == "flow" else None
    model = JointModel(build_segmenter(config.model), flow, config)
    if flow is not None:
        flow.initialize(_batch(4)[0][:, :, :16, :16])
    return model.train()


def test_patch_sizes_are_multiples_of_the_flow_factor_scaled_to_the_crop() -> None:
    sizes = patch_sizes((512, 1024), 8, 16, 216, 8, 1024)
    assert sizes[0] == 8 and sizes[-1] == 112
    assert all(s % 8 == 0 for s in sizes)
    rng = np.random.default_rng(0)
    drawn = {sample_patch_hw(rng, sizes, (64, 1024)) for _ in range(200)}
    assert all(h <= 64 for h, _ in drawn)
    assert len({h for h, _ in drawn}) > 1 and len({w for _, w in drawn}) > 1
    assert any(h != w for h, w in drawn)  # independent height and width


def test_paste_marks_negatives_and_ignores_their_labels() -> None:
    images = torch.zeros(2, 3, 16, 16)
    labels = torch.ones(2, 16, 16, dtype=torch.long)
    boxes = random_boxes(np.random.default_rng(1), 2, (16, 16), (4, 8))
    pasted = paste_patches(images, labels, torch.full((2, 3, 4, 8), 7.0), boxes)
    for i, (top, left, h, w) in enumerate(boxes):
        assert pasted.negatives[i].sum() == h * w
        assert pasted.negatives[i, top : top + h, left : left + w].all()
        assert (pasted.images[i][:, pasted.negatives[i]] == 7.0).all()
        assert (pasted.labels[i][pasted.negatives[i]] == IGNORE_INDEX).all()
        assert (pasted.labels[i][~pasted.negatives[i]] == 1).all()
    assert (images == 0).all()  # inputs untouched


def test_paste_with_alpha_keeps_the_object_shape() -> None:
    alpha = torch.zeros(1, 1, 4, 4)
    alpha[..., 1:3, 1:3] = 1.0
    alpha[..., 0, 0] = 0.3
    pasted = paste_patches(
        torch.zeros(1, 3, 8, 8),
        torch.ones(1, 8, 8, dtype=torch.long),
        torch.ones(1, 3, 4, 4),
        [(0, 0, 4, 4)],
        alpha,
    )
    assert pasted.negatives.sum() == 4
    assert pasted.labels[0, 0, 0] == IGNORE_INDEX and not pasted.negatives[0, 0, 0]
    assert pasted.images[0, 0, 0, 0].item() == pytest.approx(0.3)


def test_losses_handle_empty_masks_and_match_definitions() -> None:
    logits = torch.zeros(1, 4, 2, 2)
    labels = torch.full((1, 2, 2), IGNORE_INDEX)
    assert inlier_cross_entropy(logits, labels).item() == 0.0
    assert negative_jsd(logits, torch.zeros(1, 2, 2, dtype=torch.bool)).item() == 0.0
    labels[0, 0, 0] = 2
    assert inlier_cross_entropy(logits, labels).item() == pytest.approx(np.log(4.0))
    negatives = torch.ones(1, 2, 2, dtype=torch.bool)
    assert negative_jsd(logits, negatives).item() == pytest.approx(0.0, abs=1e-7)  # uniform
    terms = joint_loss(logits, labels, negatives, beta=0.5, nll=torch.tensor(3.0), nll_weight=2.0)
    assert terms.total.item() == pytest.approx(np.log(4.0) + 6.0)


def test_one_joint_step_changes_segmenter_and_flow() -> None:
    config = _config()
    model = _model(config)
    opt_seg = build_segmenter_optimizer(model.segmenter, config)
    opt_flow = torch.optim.Adamax(model.flow.parameters(), lr=config.flow.lr)
    seg_before = [p.detach().clone() for p in model.segmenter.parameters()]
    flow_before = [p.detach().clone() for p in model.flow.parameters()]
    terms = model(*_batch(), np.random.default_rng(0))
    assert terms.jsd.item() > 0 and terms.nll.item() > 0
    terms.total.backward()
    opt_seg.step()
    opt_flow.step()
    seg_changed = [
        not torch.equal(a, b) for a, b in zip(seg_before, model.segmenter.parameters(), strict=True)
    ]
    flow_changed = [
        not torch.equal(a, b) for a, b in zip(flow_before, model.flow.parameters(), strict=True)
    ]
    assert sum(seg_changed) > len(seg_changed) // 2
    assert sum(flow_changed) > len(flow_changed) // 2


def test_flow_gets_gradient_from_the_jsd_term_alone() -> None:
    """Likelihood weight 0 and only the JSD term backpropagated: the sample is not detached."""
    config = _config()
    config.flow.nll_weight = 0.0
    model = _model(config)
    terms = model(*_batch(), np.random.default_rng(0))
    assert terms.nll.item() == 0.0
    terms.jsd.backward()
    grads = [p.grad for p in model.flow.parameters()]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    coupling_out = model.flow.levels[0].steps[0].layers[2].net[-1].weight
    assert coupling_out.grad is not None and coupling_out.grad.abs().sum() > 0


@pytest.mark.parametrize("mode", ["none", "noise"])
def test_baseline_modes_train_without_a_flow(mode: str) -> None:
    config = _config(mode=mode)
    model = _model(config)
    assert model.flow is None
    terms = model(*_batch(), np.random.default_rng(0))
    assert (terms.jsd.item() > 0) == (mode == "noise")
    terms.total.backward()


def test_real_mode_pastes_shaped_negatives() -> None:
    from dense_ood_train.data.negatives import ProceduralNegatives

    config = _config(mode="real")
    torch.manual_seed(0)
    model = JointModel(build_segmenter(config.model), None, config, ProceduralNegatives()).train()
    terms = model(*_batch(), np.random.default_rng(3))
    assert terms.jsd.item() > 0 and terms.nll.item() == 0.0
    terms.total.backward()
    with pytest.raises(ValueError, match="negative source"):
        JointModel(build_segmenter(config.model), None, config)


def _flow_gradient_from_jsd(config: object) -> list[torch.Tensor | None]:
    model = _model(config)
    terms = model(*_batch(), np.random.default_rng(0))
    assert terms.jsd.item() > 0
    if terms.jsd.requires_grad:
        terms.jsd.backward()
    return [p.grad for p in model.flow.parameters()]


def test_detached_samples_give_the_flow_no_gradient_from_the_jsd_term() -> None:
    attached = _config()
    attached.flow.nll_weight = 0.0
    assert any(g is not None and g.abs().sum() > 0 for g in _flow_gradient_from_jsd(attached))
    detached = _config()
    detached.flow.nll_weight = 0.0
    detached.flow.joint_gradient = False
    assert all(g is None for g in _flow_gradient_from_jsd(detached))


def test_detached_flow_still_learns_by_likelihood() -> None:
    config = _config()
    config.flow.joint_gradient = False
    model = _model(config)
    terms = model(*_batch(), np.random.default_rng(0))
    assert terms.nll.item() > 0
    terms.total.backward()
    coupling_out = model.flow.levels[0].steps[0].layers[2].net[-1].weight
    assert coupling_out.grad is not None and coupling_out.grad.abs().sum() > 0


def test_a_frozen_flow_has_no_likelihood_term_and_no_gradient() -> None:
    config = _config()
    config.flow.lr = 0.0
    model = _model(config)
    assert model.flow_frozen
    terms = model(*_batch(), np.random.default_rng(0))
    assert terms.nll.item() == 0.0 and terms.jsd.item() > 0
    terms.total.backward()
    assert all(p.grad is None for p in model.flow.parameters())


def test_flow_plus_real_pastes_both_kinds() -> None:
    from dense_ood_train.data.negatives import ProceduralNegatives

    config = _config(mode="flow+real", flow_share=0.5)
    torch.manual_seed(0)
    flow = build_flow(config.flow)
    flow.initialize(_batch(4)[0][:, :, :16, :16])
    model = JointModel(build_segmenter(config.model), flow, config, ProceduralNegatives()).train()
    rng = np.random.default_rng(5)
    images, labels = _batch(8)
    crop = (images.shape[2], images.shape[3])
    patch_hw = (16, 16)
    boxes = random_boxes(rng, 8, crop, patch_hw)
    drawn = model._negatives(images, boxes, patch_hw, rng)
    assert 0 < int(drawn.from_flow.sum()) < 8  # both kinds in one batch
    assert drawn.nll is not None and drawn.nll.item() > 0
    # flow rows cover their whole box; object rows follow the object's shape
    assert (drawn.alpha[drawn.from_flow] == 1).all()
    assert (drawn.alpha[~drawn.from_flow] < 1).any()
    terms = model(images, labels, np.random.default_rng(2))
    assert {"jsd_flow", "jsd_other"} <= set(model.stats)
    terms.total.backward()
    with pytest.raises(ValueError, match="needs a negative source"):
        JointModel(build_segmenter(config.model), flow, config)
