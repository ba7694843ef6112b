"""The two-stage recipe: a fit starts from another fit's segmenter (model.init_checkpoint) and
fine-tunes with the encoder frozen (optim.freeze_encoder), here with COCO-style negatives."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from test_cutouts import write_cutouts
from untrained_checkpoint import TINY_MODEL, checkpoint  # noqa: F401 (a fixture)

from dense_ood_train.config import TrainConfigError, config_from_dict
from dense_ood_train.export.checkpoint_export import model_licence
from dense_ood_train.loop.checkpoint import CheckpointError, read_checkpoint
from dense_ood_train.loop.trainer import Trainer


def _config(**sections: dict) -> object:
    values = {
        "data": {"num_scenes": 8, "scene_hw": [64, 128], "val_scenes": 0, "crop_hw": [32, 64]},
        "model": dict(TINY_MODEL),
        "negatives": {"patch_min": 8, "patch_max": 16, "reference_height": 32, "beta": 1.0},
        "optim": {"lr": 1e-2, "steps": 3, "warmup_steps": 0},
        "log": {"every": 1, "checkpoint_every": 0},
        "runtime": {"threads": 1, "device": "cpu"},
    }
    for name, changes in sections.items():
        values[name] = {**values.get(name, {}), **changes}
    return config_from_dict(values)


def test_fine_tune_starts_from_the_base_and_leaves_the_frozen_encoder_alone(
    tmp_path: Path,
    checkpoint: Path,  # noqa: F811 (the fixture)
) -> None:
    coco = write_cutouts(tmp_path / "objects")
    config = _config(
        model={"init_checkpoint": str(checkpoint)},
        negatives={"mode": "coco", "coco_dir": str(coco)},
        optim={"freeze_encoder": True},
    )
    trainer = Trainer(config, tmp_path / "run", progress=False)
    base = read_checkpoint(checkpoint)["segmenter"]
    start = {k: v.clone() for k, v in trainer.model.segmenter.state_dict().items()}
    assert all(torch.equal(start[k], base[k]) for k in base)  # the base's weights, every one
    trainer.fit()
    after = trainer.model.segmenter.state_dict()
    encoder = [k for k in after if k.startswith("backbone.")]
    decoder = [k for k in after if not k.startswith("backbone.") and after[k].is_floating_point()]
    # weights and batch-norm statistics of the encoder are untouched; the decoder learned
    assert encoder and all(torch.equal(after[k], start[k]) for k in encoder)
    assert any(not torch.equal(after[k], start[k]) for k in decoder)
    assert trainer.model.segmenter.encoder_frozen and not trainer.model.segmenter.encoder.training
    assert trainer.metrics["train"]["jsd_other"] > 0  # COCO negatives were pasted and scored


def test_init_checkpoint_of_another_architecture_is_one_line(
    tmp_path: Path,
    checkpoint: Path,  # noqa: F811 (the fixture)
) -> None:
    config = _config(
        model={"init_checkpoint": str(checkpoint), "decoder_width": 24},
        negatives={"mode": "none"},
    )
    with pytest.raises(CheckpointError, match=r"init_checkpoint .* does not fit"):
        Trainer(config, tmp_path / "run", progress=False)


def test_coco_modes_need_a_folder_and_carry_the_photos_licence() -> None:
    for mode in ("coco", "flow+coco"):
        with pytest.raises(TrainConfigError, match=r"negatives\.coco_dir is required"):
            _config(negatives={"mode": mode})
    licence = model_licence(_config(negatives={"mode": "flow+coco", "coco_dir": "objects"}))
    assert "COCO 2017" in licence and "non-commercial" in licence
    assert "COCO" not in model_licence(_config(negatives={"mode": "flow"}))
