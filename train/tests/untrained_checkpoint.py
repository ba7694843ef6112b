"""The untrained-checkpoint fixture the training tests share.

Not a conftest.py: test/conftest.py is imported as `conftest` by the ROS tests, and a second
conftest.py here would shadow it when both folders run in one session.
"""

from __future__ import annotations

from pathlib import Path

import pytest

#: the smallest segmenter the tests train or export
TINY_MODEL = {"backbone": "mobilenetv3_small_050", "decoder_width": 16}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A `fit`-format checkpoint of an untrained 19-class segmenter (64x128 synthroad scenes)."""
    from dense_ood_train.config import config_from_dict
    from dense_ood_train.loop.checkpoint import save_checkpoint
    from dense_ood_train.models import build_segmenter

    config = config_from_dict({"model": TINY_MODEL, "data": {"scene_hw": [64, 128]}})
    import torch

    torch.manual_seed(0)
    segmenter = build_segmenter(config.model, pretrained=False)
    path = tmp_path_factory.mktemp("ckpt") / "last.pt"
    return save_checkpoint(
        path, {"config": config.to_dict(), "segmenter": segmenter.state_dict(), "step": 0}
    )
