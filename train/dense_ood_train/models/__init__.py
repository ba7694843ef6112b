"""Networks: the ladder segmenter and the multi-scale normalizing flow, built from a config."""

from __future__ import annotations

from dense_ood_train.config import FlowConfig, ModelConfig
from dense_ood_train.models.espnetv2 import ESPNetv2Segmenter
from dense_ood_train.models.flow import Glow
from dense_ood_train.models.segmenter import LadderSegmenter

ESPNETV2_PREFIX = "espnetv2_s"
#: what `build_segmenter` returns: both have forward(x) -> logits, parameter_groups(), num_classes
Segmenter = LadderSegmenter | ESPNetv2Segmenter

__all__ = [
    "FLOW_ARCHITECTURE_KEYS",
    "Glow",
    "LadderSegmenter",
    "Segmenter",
    "build_flow",
    "build_segmenter",
    "flow_architecture",
]


def build_segmenter(config: ModelConfig, pretrained: bool | None = None) -> Segmenter:
    """The segmenter of `config`; `pretrained=False` skips backbone weights (e.g. on reload).

    `model.backbone: espnetv2_s<scale>` (e.g. espnetv2_s1.0) builds the whole ESPNetv2
    segmenter, initialised from the EdgeNets Cityscapes checkpoint in `model.pretrained_file`;
    any other name is a timm backbone under the ladder decoder."""
    use_pretrained = config.pretrained if pretrained is None else pretrained
    if config.backbone.startswith(ESPNETV2_PREFIX):
        scale = float(config.backbone[len(ESPNETV2_PREFIX) :])
        pretrained_file = config.pretrained_file if use_pretrained else None
        return ESPNetv2Segmenter(
            config.num_classes,
            scale,
            pretrained_file,
            classifier_init=config.classifier_init if pretrained_file else None,
        )
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
