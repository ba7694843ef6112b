"""Training configs: the shipped YAML files load, round-trip, and bad values fail by key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dense_ood_train.config import TrainConfig, TrainConfigError, config_from_dict, load_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.mark.parametrize("name", ["synthroad_cpu.yaml", "cityscapes.yaml"])
def test_shipped_configs_load_and_round_trip(name: str, tmp_path: Path) -> None:
    config = load_config(CONFIGS / name)
    saved = tmp_path / "saved.yaml"
    saved.write_text(config.to_yaml())
    assert load_config(saved) == config


def test_cityscapes_recipe_follows_the_method() -> None:
    config = load_config(CONFIGS / "cityscapes.yaml")
    assert config.negatives.mode == "flow" and config.negatives.beta == pytest.approx(0.03)
    assert (config.negatives.patch_min, config.negatives.patch_max) == (16, 216)
    assert config.negatives.patch_step == 8 and config.negatives.reference_height == 1024
    assert config.flow.lr == pytest.approx(1e-5) and config.flow.warmup_steps > 0
    assert config.model.backbone == "resnet18" and config.model.pretrained


def test_overrides_use_yaml_values() -> None:
    config = config_from_dict({}, ["negatives.beta=0.3", "data.crop_hw=[64, 128]", "seed=7"])
    assert config.negatives.beta == pytest.approx(0.3)
    assert config.data.crop_hw == (64, 128) and config.seed == 7
    assert TrainConfig().negatives.beta == pytest.approx(0.03)  # the default is the paper's


@pytest.mark.parametrize(
    ("values", "overrides", "message"),
    [
        ({"negatives": {"mode": "sideways"}}, [], "negatives.mode"),
        ({"optim": {"stepz": 3}}, [], "unknown key 'optim.stepz'"),
        ({}, ["optim.steps=many"], "optim.steps: expected an integer"),
        ({}, ["data.crop_hw=[1, 2, 3]"], "data.crop_hw: expected a list of 2"),
        ({}, ["negatives.patch_max=8"], "patch_max"),
        ({}, ["model.pretrained=maybe"], "model.pretrained: expected true or false"),
        ({"data": {"dataset": "cityscapes"}}, [], "data.root is required"),
        ({}, ["novalue"], "section.key=value"),
    ],
)
def test_invalid_configs_name_the_key(values: dict, overrides: list, message: str) -> None:
    with pytest.raises(TrainConfigError, match=re.escape(message)):
        config_from_dict(values, overrides)


def test_load_config_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("optim: [unclosed\n")
    with pytest.raises(TrainConfigError, match=r"broken\.yaml: not valid YAML"):
        load_config(path)
    with pytest.raises(TrainConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
