"""Networks: the ladder segmenter and the multi-scale normalizing flow, built from a config."""

from __future__ import annotations

from dense_ood_train.config import FlowConfig, ModelConfig
from dense_ood_train.models.flow import Glow
from dense_ood_train.models.segmenter import LadderSegmenter

__all__ = [
    "FLOW_ARCHITECTURE_KEYS",
    "Glow",
    "LadderSegmenter",
    "build_flow",
    "build_segmenter",
    "flow_architecture",
]


def build_segmenter(config: ModelConfig, pretrained: bool | None = None) -> LadderSegmenter:
    """The segmenter of `config`; `pretrained=False` skips backbone weights (e.g. on reload)."""
    use_pretrained = config.pretrained if pretrained is None else pretrained
    return LadderSegmenter(
        num_classes=config.num_classes,
        backbone=config.backbone,
        decoder_width=config.decoder_width,
        spp=config.spp,
        pretrained=use_pretrained,
        pretrained_file=config.pretrained_file if use_pretrained else None,
    )


#: FlowConfig keys that fix the flow's parameter shapes (a pretrained flow must match them).
FLOW_ARCHITECTURE_KEYS = ("levels", "steps_per_level", "hidden", "lu", "learned_prior")


def flow_architecture(config: FlowConfig) -> dict[str, object]:
    """The architecture part of a FlowConfig, as stored beside pretrained flow weights."""
    return {key: getattr(config, key) for key in FLOW_ARCHITECTURE_KEYS}


def build_flow(config: FlowConfig) -> Glow:
    return Glow(
        levels=config.levels,
        steps_per_level=config.steps_per_level,
        hidden=config.hidden,
        lu=config.lu,
        learned_prior=config.learned_prior,
    )
