"""Training configuration: dataclasses loaded from YAML, validated with one-line errors.

A YAML file holds sections named like the dataclasses below (data, model, flow, negatives,
optim, log, runtime) plus `seed`; absent keys keep their defaults, unknown keys are errors.
`--set section.key=value` overrides use the same YAML syntax for the value.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dense_ood_ros.console.json_output import json_ready
from dense_ood_ros.errors import DenseOodError, first_line
from dense_ood_train.data.class_sets import DATASET_CLASSES, ClassSet, generic_classes


class TrainConfigError(DenseOodError, ValueError):
    """A configuration file or override is invalid; the message names the key."""


class TrainingError(DenseOodError, ValueError):
    """A training run cannot be set up or cannot go on (data too small, a diverged run, ...)."""


@dataclass
class DataConfig:
    """Where the training and validation images come from and how they are augmented."""

    dataset: str = "synthroad"  # synthroad | cityscapes | camvid | folder
    # cityscapes: the folder holding leftImg8bit/ and gtFine/; camvid: the folder holding
    # train/, trainannot/, val/, valannot/ (the SegNet layout)
    root: str | None = None
    train_split: str = "train"
    val_split: str = "val"
    images_dir: str | None = None  # folder dataset
    labels_dir: str | None = None
    val_images_dir: str | None = None
    val_labels_dir: str | None = None
    # folder dataset: what each trainId means (exported into the model's metadata); synthroad,
    # cityscapes and camvid have their own and refuse these
    class_names: tuple[str, ...] | None = None
    palette: tuple[tuple[int, int, int], ...] | None = None
    num_scenes: int = 2000  # synthroad: training scenes (seeds 0..num_scenes-1)
    scene_hw: tuple[int, int] = (192, 384)  # synthroad scene size
    val_scenes: int = 64  # synthroad: held-out scenes (seeds after the training ones)
    val_hw: tuple[int, int] | None = None  # resize validation images to this (None: as stored)
    crop_hw: tuple[int, int] = (128, 256)
    scale: tuple[float, float] = (0.5, 2.0)
    flip: bool = True
    # colour jitter (brightness, contrast, saturation, hue) as torchvision's; null = off
    jitter: tuple[float, float, float, float] | None = (0.3, 0.3, 0.3, 0.02)
    batch_size: int = 8
    val_batch_size: int = 4
    num_workers: int = 0
    cache: bool = True  # synthroad: generate scenes once and keep them in memory


@dataclass
class ModelConfig:
    """The segmenter: timm backbone + ladder decoder, or ESPNetv2 (backbone espnetv2_s<scale>)."""

    backbone: str = "resnet18"
    pretrained: bool = False  # ImageNet weights through timm (needs them cached or a download)
    pretrained_file: str | None = None  # local weights file for the backbone
    # ESPNetv2 from a Cityscapes checkpoint: for each class, the checkpoint's classifier channel
    # it starts from (-1: fresh); null = a fresh classifier
    classifier_init: tuple[int, ...] | None = None
    decoder_width: int = 128
    spp: bool = True
    num_classes: int = 19
    # the two-stage recipe: a `fit` checkpoint (same architecture) whose segmenter weights this
    # fit starts from, e.g. a closed-set fit fine-tuned with negatives; null = the backbone's
    # initial weights above
    init_checkpoint: str | None = None


@dataclass
class FlowConfig:
    """The normalizing flow that synthesises negatives, and its optimiser."""

    levels: int = 3
    steps_per_level: int = 4
    hidden: int = 64
    lu: bool = False
    learned_prior: bool = False  # Glow's learned prior on split-off latents (more coherent)
    lr: float = 1e-5  # Adamax, joint phase; 0 = the flow is frozen (no likelihood term either)
    weight_decay: float = 0.0
    nll_weight: float = 1.0  # weight of the bits/dim loss on the replaced inlier patch
    # true: the segmenter's loss on pasted samples reaches the flow (the paper, as we read it);
    # false: samples are detached, the flow learns by likelihood alone (the group's later code)
    joint_gradient: bool = True
    temperature: float = 1.0
    warmup_steps: int = 0  # flow-only maximum-likelihood steps on inlier patches before joint
    warmup_lr: float = 1e-3  # Adamax rate of flow-only likelihood (warm-up and pretrain-flow)
    # `pretrain-flow` output (architecture checked), a fit checkpoint, or a bare state dict
    pretrained: str | None = None
    grad_clip: float = 0.0  # 0 = off


@dataclass
class NegativesConfig:
    """Which negatives are pasted into inlier crops, their sizes, and the JSD loss weight."""

    mode: str = "flow"  # flow | none | real | coco | noise | flow+real | flow+coco
    beta: float = 0.03
    # flow+real, flow+coco: chance that an image gets a flow sample (else an object)
    flow_share: float = 0.5
    patch_min: int = 16  # patch side range in pixels at `reference_height`, scaled to the crop
    patch_max: int = 216
    patch_step: int = 8
    reference_height: int = 1024
    real_source: str = "procedural"  # mode=real: "procedural" or a folder of images
    real_masks_dir: str | None = None  # object masks for real_source images (same file stems)
    # modes coco, flow+coco: a folder of RGBA object cut-outs (alpha = mask), e.g.
    # ../shared/data/coco_objects/train; never objects of the validation split
    coco_dir: str | None = None
    probability: float = 1.0  # share of steps that paste negatives


@dataclass
class OptimConfig:
    """The segmenter's optimiser and schedule; `steps` is the length of training."""

    name: str = "adamw"  # adamw | sgd
    lr: float = 4e-4
    weight_decay: float = 1e-4
    momentum: float = 0.9
    backbone_lr_mult: float = 0.25  # pretrained backbones learn slower (SwiftNet)
    # the encoder's weights and batch-norm statistics stay as they are (outlier-exposure
    # fine-tuning in the manner of Chan et al. 2021 / RbA): only the decoder learns
    freeze_encoder: bool = False
    schedule: str = "cosine"  # cosine | poly | constant
    poly_power: float = 0.9
    warmup_steps: int = 0
    steps: int = 20000
    grad_clip: float = 0.0  # 0 = off


@dataclass
class LogConfig:
    """Logging, validation and checkpoint cadence (in steps; 0 = only at the end)."""

    format: str = "csv"  # csv | tensorboard
    every: int = 20
    val_every: int = 0
    checkpoint_every: int = 500


@dataclass
class RuntimeConfig:
    """Device and numerics."""

    device: str = "auto"  # auto | cpu | cuda
    amp: bool = True  # mixed precision on CUDA (ignored on CPU)
    threads: int = 0  # torch CPU threads (0 = torch's default)
    sync_bn: bool = True  # SyncBatchNorm under torchrun with several CUDA processes


@dataclass
class TrainConfig:
    """Everything a `fit` run needs; saved in every checkpoint."""

    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    flow: FlowConfig = field(default_factory=FlowConfig)
    negatives: NegativesConfig = field(default_factory=NegativesConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    log: LogConfig = field(default_factory=LogConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of builtins (tuples as lists), safe for YAML and torch.load(weights_only)."""
        return json_ready(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


CHOICES: dict[str, tuple[str, ...]] = {
    "data.dataset": ("synthroad", "cityscapes", "camvid", "folder"),
    "negatives.mode": ("flow", "none", "real", "coco", "noise", "flow+real", "flow+coco"),
    "optim.name": ("adamw", "sgd"),
    "optim.schedule": ("cosine", "poly", "constant"),
    "log.format": ("csv", "tensorboard"),
    "runtime.device": ("auto", "cpu", "cuda"),
}


def _convert(value: Any, annotation: Any, key: str) -> Any:
    """Check `value` against a field's type annotation; return it converted (lists -> tuples)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(value, option, key)
            except TrainConfigError as exc:
                errors.append(str(exc))
        raise TrainConfigError(errors[0])
    if origin is tuple:
        args = typing.get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:  # tuple[X, ...]: any length
            if not isinstance(value, (list, tuple)):
                raise TrainConfigError(f"{key}: expected a list, got {value!r}")
            return tuple(_convert(v, args[0], f"{key}[{i}]") for i, v in enumerate(value))
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise TrainConfigError(f"{key}: expected a list of {len(args)} values, got {value!r}")
        return tuple(
            _convert(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True))
        )
    if annotation is bool:
        if not isinstance(value, bool):
            raise TrainConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TrainConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, str):  # YAML reads 1e-5 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TrainConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise TrainConfigError(f"{key}: expected a string, got {value!r}")
        return value
    raise TrainConfigError(f"{key}: unsupported type {annotation!r}")  # pragma: no cover


def _build(cls: type, values: Any, prefix: str) -> Any:
    """Instantiate dataclass `cls` from a mapping, recursing into nested dataclasses."""
    if not isinstance(values, dict):
        raise TrainConfigError(f"{prefix or 'config'}: expected a mapping, got {values!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        where = f"{prefix}." if prefix else ""
        raise TrainConfigError(
            f"unknown key '{where}{unknown[0]}' (known: {', '.join(sorted(names))})"
        )
    kwargs = {}
    for name, value in values.items():
        key = f"{prefix}.{name}" if prefix else name
        annotation = hints[name]
        if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
            kwargs[name] = _build(annotation, value if value is not None else {}, key)
        else:
            kwargs[name] = _convert(value, annotation, key)
    return cls(**kwargs)


def _positive(config: TrainConfig) -> list[tuple[str, float]]:
    return [
        ("data.batch_size", config.data.batch_size),
        ("data.val_batch_size", config.data.val_batch_size),
        ("data.crop_hw[0]", config.data.crop_hw[0]),
        ("data.crop_hw[1]", config.data.crop_hw[1]),
        ("model.num_classes", config.model.num_classes),
        ("model.decoder_width", config.model.decoder_width),
        ("flow.levels", config.flow.levels),
        ("flow.steps_per_level", config.flow.steps_per_level),
        ("flow.hidden", config.flow.hidden),
        ("flow.temperature", config.flow.temperature),
        ("negatives.patch_min", config.negatives.patch_min),
        ("negatives.patch_step", config.negatives.patch_step),
        ("negatives.reference_height", config.negatives.reference_height),
        ("optim.lr", config.optim.lr),
        ("optim.steps", config.optim.steps),
    ]


def validate(config: TrainConfig) -> TrainConfig:
    """Check values that types alone cannot; raise TrainConfigError naming the first bad key."""
    for key, choices in CHOICES.items():
        section, name = key.split(".")
        value = getattr(getattr(config, section), name)
        if value not in choices:
            raise TrainConfigError(f"{key}: {value!r} is not one of {', '.join(choices)}")
    for key, value in _positive(config):
        if value <= 0:
            raise TrainConfigError(f"{key} must be > 0, got {value!r}")
    for key, value in (
        ("negatives.beta", config.negatives.beta),
        ("flow.nll_weight", config.flow.nll_weight),
        ("flow.warmup_steps", config.flow.warmup_steps),
        ("flow.lr", config.flow.lr),
        ("flow.warmup_lr", config.flow.warmup_lr),
        ("optim.warmup_steps", config.optim.warmup_steps),
        ("optim.grad_clip", config.optim.grad_clip),
        ("flow.grad_clip", config.flow.grad_clip),
        ("data.num_workers", config.data.num_workers),
        ("runtime.threads", config.runtime.threads),
    ):
        if value < 0:
            raise TrainConfigError(f"{key} must be >= 0, got {value!r}")
    if config.negatives.patch_max < config.negatives.patch_min:
        raise TrainConfigError("negatives.patch_max must be >= negatives.patch_min")
    if not 0.0 <= config.negatives.probability <= 1.0:
        raise TrainConfigError("negatives.probability must be in [0, 1]")
    if not 0.0 <= config.negatives.flow_share <= 1.0:
        raise TrainConfigError("negatives.flow_share must be in [0, 1]")
    low, high = config.data.scale
    if not 0 < low <= high:
        raise TrainConfigError(
            f"data.scale must be [low, high] with 0 < low <= high, got {low, high}"
        )
    if config.negatives.mode in ("coco", "flow+coco") and not config.negatives.coco_dir:
        raise TrainConfigError(
            f"negatives.coco_dir is required for negatives.mode '{config.negatives.mode}'"
        )
    if config.data.dataset in ("cityscapes", "camvid") and not config.data.root:
        raise TrainConfigError(f"data.root is required for dataset '{config.data.dataset}'")
    _validate_classes(config)
    if config.data.dataset == "folder" and not (config.data.images_dir and config.data.labels_dir):
        raise TrainConfigError(
            "data.images_dir and data.labels_dir are required for dataset 'folder'"
        )
    if config.data.dataset == "synthroad" and config.data.num_scenes <= 0:
        raise TrainConfigError("data.num_scenes must be > 0")
    return config


def _validate_classes(config: TrainConfig) -> None:
    """The dataset's classes (its own, or the folder dataset's declared ones) fit the model."""
    data, num_classes = config.data, config.model.num_classes
    declared = data.class_names is not None or data.palette is not None
    if data.dataset in DATASET_CLASSES:
        if declared:
            raise TrainConfigError(
                f"data.class_names / data.palette: dataset '{data.dataset}' has its own classes"
            )
        if num_classes != len(DATASET_CLASSES[data.dataset]):
            raise TrainConfigError(
                f"model.num_classes: dataset '{data.dataset}' has "
                f"{len(DATASET_CLASSES[data.dataset])} classes, got {num_classes}"
            )
        return
    if data.class_names is not None and len(data.class_names) != num_classes:
        raise TrainConfigError(
            f"data.class_names: {len(data.class_names)} names for model.num_classes {num_classes}"
        )
    if data.palette is not None and len(data.palette) != num_classes:
        raise TrainConfigError(
            f"data.palette: {len(data.palette)} colours for model.num_classes {num_classes}"
        )
    if data.palette is not None and any(not 0 <= c <= 255 for rgb in data.palette for c in rgb):
        raise TrainConfigError("data.palette: colours are [r, g, b] with values in 0..255")


def dataset_classes(config: TrainConfig) -> ClassSet:
    """The names and colours of the classes a checkpoint was trained on: the dataset's own, a
    folder dataset's declared ones (generic names or colours where it declared none)."""
    data, num_classes = config.data, config.model.num_classes
    if data.dataset in DATASET_CLASSES:
        return DATASET_CLASSES[data.dataset]
    generic = generic_classes(num_classes)
    return ClassSet(
        tuple(data.class_names) if data.class_names is not None else generic.names,
        tuple(data.palette) if data.palette is not None else generic.palette,
    )


def parse_key_value(text: str, form: str = "KEY=VALUE") -> tuple[str, Any]:
    """'key=value' -> ('key', value parsed as YAML: numbers, lists, booleans, strings)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise TrainConfigError(f"{text!r} must look like {form}")
    try:
        return key.strip(), yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise TrainConfigError(f"{text!r}: the value is not valid YAML") from exc


def parse_override(text: str) -> tuple[list[str], Any]:
    """'optim.lr=1e-3' -> (['optim', 'lr'], 0.001)."""
    try:
        key, value = parse_key_value(text, "section.key=value")
    except TrainConfigError as exc:
        raise TrainConfigError(f"override {exc}") from exc
    return key.split("."), value


def config_from_dict(values: dict[str, Any], overrides: list[str] | None = None) -> TrainConfig:
    """Build and validate a TrainConfig from nested dicts plus 'a.b=value' overrides."""
    values = json_ready(values or {})
    for text in overrides or []:
        path, value = parse_override(text)
        node = values
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise TrainConfigError(f"override {text!r}: '{part}' is not a section")
        node[path[-1]] = value
    return validate(_build(TrainConfig, values, ""))


def load_config(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """Read a YAML config file; errors name the file and the key."""
    path = Path(path)
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise TrainConfigError(f"{path}: cannot read ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise TrainConfigError(f"{path}: not valid YAML ({first_line(exc)})") from exc
    try:
        return config_from_dict(values, overrides)
    except TrainConfigError as exc:
        raise TrainConfigError(f"{path}: {exc}") from exc
