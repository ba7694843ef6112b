"""A training study as data: named configs x seeds, pretrained flows, and how runs are evaluated.

A study file (YAML) looks like train/studies/synthroad.yaml:

    base: ../configs/synthroad_cpu.yaml   # relative to the study file
    steps: 3000                          # optim.steps of every fit: one budget for all
    seeds: [0, 1, 2]                     # default seeds of every config
    set: []                              # overrides for every fit and pretraining
    flows:                               # pretrained once each, before the fits
      glow: {steps: 6000, set: [flow.hidden=64]}
    bases:                               # fitted once per seed, before the configs on them
      closed_set: {steps: 600, set: [negatives.mode=none]}
    evaluation:
      benchmark: synthroad-ood           # root: DIR for benchmarks read from files
      splits: {val: {split: val, num_frames: 200}, test: {split: test, num_frames: 500}}
    configs:
      no_negatives: {set: [negatives.mode=none]}
      nflowjs: {flow: glow, set: [flow.lr=0], scores: [jsd, energy]}
      scratch: {seeds: [0], set: [flow.lr=1e-3]}
      tuned: {base: closed_set, steps: 200, set: [optim.freeze_encoder=true]}
    compare:                             # verdicts in the table: method against baselines
      - {method: nflowjs/jsd, against: [no_negatives/*]}

A config that names a flow gets that flow's overrides (so the architecture matches) and
`flow.pretrained` pointing at its checkpoint. A config that names a base (the two-stage
recipe) starts from the base's fit of the same seed (`model.init_checkpoint`) and runs its own
`steps` (default: the study's). A split may name its own `benchmark` (default: the
evaluation's). Everything a run does follows from this plan and its output folder, so a study
can be stopped and resumed at any point.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dense_ood_ros.errors import DenseOodError, first_line
from dense_ood_train.config import TrainConfigError, load_config

#: A finished stage's marker file in its folder; it holds the stage's settings.
DONE_MARKER = ".study_done"
STUDY_KEYS = {
    "base", "steps", "seeds", "set", "flows", "bases", "evaluation", "configs", "compare"
}  # fmt: skip
CONFIG_KEYS = {"set", "seeds", "flow", "base", "steps", "splits", "scores", "note"}
FLOW_KEYS = {"steps", "minutes", "set", "seed"}
BASE_KEYS = {"steps", "set"}


class StudyError(DenseOodError, ValueError):
    """The study file is invalid; the message names the key."""


@dataclass(frozen=True)
class FlowSpec:
    """One flow to pretrain: its overrides, step budget (and optional time budget)."""

    name: str
    steps: int
    overrides: tuple[str, ...] = ()
    minutes: float | None = None
    seed: int = 0


@dataclass(frozen=True)
class BaseSpec:
    """A fit made once per seed that configs start from (the two-stage recipe's first stage)."""

    name: str
    steps: int
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConfigSpec:
    """One named config of the study: overrides on top of the base, its seeds and scores."""

    name: str
    overrides: tuple[str, ...]
    seeds: tuple[int, ...]
    flow: str | None = None
    base: str | None = None
    steps: int | None = None  # None: the study's
    splits: tuple[str, ...] | None = None  # None: every evaluation split
    scores: tuple[str, ...] | None = None  # None: every score the model carries
    note: str = ""


@dataclass(frozen=True)
class Comparison:
    """`method` (config/score) against each baseline (config/score, score may be '*')."""

    method: str
    against: tuple[str, ...]


@dataclass
class Study:
    """A parsed study file."""

    path: Path
    base: Path
    steps: int
    overrides: tuple[str, ...]
    flows: dict[str, FlowSpec]
    configs: dict[str, ConfigSpec]
    benchmark: str
    splits: dict[str, dict[str, Any]]
    root: str | None = None  # the benchmark's folder (as given: relative to the working folder)
    compare: list[Comparison] = field(default_factory=list)
    bases: dict[str, BaseSpec] = field(default_factory=dict)

    def fit_overrides(
        self,
        config: ConfigSpec,
        seed: int,
        flow_checkpoint: Path | None,
        base_checkpoint: Path | None = None,
    ) -> list:
        """The `--set` list of one run: study, flow, base, config, then seed and budget."""
        overrides = list(self.overrides)
        if config.flow is not None:
            overrides += self.flows[config.flow].overrides
            overrides.append(f"flow.pretrained={flow_checkpoint}")
        if config.base is not None:
            overrides += self.bases[config.base].overrides
            overrides.append(f"model.init_checkpoint={base_checkpoint}")
        steps = config.steps or self.steps
        return [*overrides, *config.overrides, f"seed={seed}", f"optim.steps={steps}"]

    def base_overrides(self, base: BaseSpec, seed: int) -> list[str]:
        return [*self.overrides, *base.overrides, f"seed={seed}", f"optim.steps={base.steps}"]

    def split_benchmark(self, split: str) -> tuple[str, dict[str, Any]]:
        """(benchmark, options) of an evaluation split: its own benchmark or the study's."""
        options = dict(self.splits[split])
        return str(options.pop("benchmark", self.benchmark)), options

    def flow_overrides(self, flow: FlowSpec) -> list[str]:
        return [*self.overrides, *flow.overrides, f"seed={flow.seed}"]


def _strings(value: Any, key: str) -> tuple[str, ...]:
    """A list of strings; nested lists are flattened, so a YAML anchor of shared overrides can
    be extended: `set: [*finetune, negatives.beta=0.3]`."""
    if value is None:
        return ()
    if isinstance(value, list):
        value = [v for item in value for v in (item if isinstance(item, list) else [item])]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise StudyError(f"{key}: expected a list of KEY=VALUE strings")
    return tuple(value)


def _seeds(value: Any, key: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, int) for v in value):
        raise StudyError(f"{key}: expected a non-empty list of integers")
    return tuple(value)


def _mapping(value: Any, key: str, allowed: set[str]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise StudyError(f"{key}: expected a mapping")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise StudyError(f"unknown key '{key}.{unknown[0]}' (known: {', '.join(sorted(allowed))})")
    return value


def _positive_int(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise StudyError(f"{key}: expected a positive integer, got {value!r}")
    return value


def _flow(name: str, raw: Any) -> FlowSpec:
    key = f"flows.{name}"
    raw = _mapping(raw, key, FLOW_KEYS)
    minutes = raw.get("minutes")
    if minutes is not None and (not isinstance(minutes, int | float) or minutes <= 0):
        raise StudyError(f"{key}.minutes: expected a positive number")
    return FlowSpec(
        name=name,
        steps=_positive_int(raw.get("steps"), f"{key}.steps"),
        overrides=_strings(raw.get("set"), f"{key}.set"),
        minutes=float(minutes) if minutes is not None else None,
        seed=int(raw.get("seed", 0)),
    )


def _base(name: str, raw: Any) -> BaseSpec:
    key = f"bases.{name}"
    raw = _mapping(raw, key, BASE_KEYS)
    return BaseSpec(
        name=name,
        steps=_positive_int(raw.get("steps"), f"{key}.steps"),
        overrides=_strings(raw.get("set"), f"{key}.set"),
    )


def _config(
    name: str,
    raw: Any,
    seeds: tuple[int, ...],
    flows: dict[str, FlowSpec],
    bases: dict[str, BaseSpec],
) -> ConfigSpec:
    key = f"configs.{name}"
    raw = _mapping(raw, key, CONFIG_KEYS)
    flow = raw.get("flow")
    if flow is not None and flow not in flows:
        raise StudyError(f"{key}.flow: {flow!r} is not one of the study's flows")
    base = raw.get("base")
    if base is not None and base not in bases:
        raise StudyError(f"{key}.base: {base!r} is not one of the study's bases")
    steps = raw.get("steps")
    splits = raw.get("splits")
    if splits is not None:
        splits = _strings(splits, f"{key}.splits")
    scores = raw.get("scores")
    if scores is not None:
        scores = _strings(scores, f"{key}.scores")
    return ConfigSpec(
        name=name,
        overrides=_strings(raw.get("set"), f"{key}.set"),
        seeds=_seeds(raw["seeds"], f"{key}.seeds") if "seeds" in raw else seeds,
        flow=flow,
        base=base,
        steps=None if steps is None else _positive_int(steps, f"{key}.steps"),
        splits=splits,
        scores=scores,
        note=str(raw.get("note", "")),
    )


def _comparisons(raw: Any, configs: dict[str, ConfigSpec]) -> list[Comparison]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise StudyError("compare: expected a list of {method, against}")
    result = []
    for index, item in enumerate(raw):
        item = _mapping(item, f"compare[{index}]", {"method", "against"})
        method = item.get("method")
        against = _strings(item.get("against"), f"compare[{index}].against")
        for name in (method, *against):
            if not isinstance(name, str) or name.partition("/")[0] not in configs:
                raise StudyError(f"compare[{index}]: {name!r} must be CONFIG/SCORE of the study")
        result.append(Comparison(method=str(method), against=against))
    return result


def load_study(path: str | Path) -> Study:
    """Read and check a study file; the base config and every run's overrides are validated."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise StudyError(f"{path}: cannot read ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise StudyError(f"{path}: not valid YAML ({first_line(exc)})") from exc
    try:
        study = _parse(path, _mapping(raw, "study", STUDY_KEYS))
        _check_runs(study)
    except StudyError as exc:
        raise StudyError(f"{path}: {exc}") from exc
    return study


def _parse(path: Path, raw: dict[str, Any]) -> Study:
    if "base" not in raw or not isinstance(raw["base"], str):
        raise StudyError("base: the path of the base training config is required")
    seeds = _seeds(raw.get("seeds", [0]), "seeds")
    flows_raw = raw.get("flows") or {}
    if not isinstance(flows_raw, dict):
        raise StudyError("flows: expected a mapping of name -> {steps, set}")
    flows = {name: _flow(name, spec) for name, spec in flows_raw.items()}
    bases_raw = raw.get("bases") or {}
    if not isinstance(bases_raw, dict):
        raise StudyError("bases: expected a mapping of name -> {steps, set}")
    bases = {name: _base(name, spec) for name, spec in bases_raw.items()}
    configs_raw = raw.get("configs")
    if not isinstance(configs_raw, dict) or not configs_raw:
        raise StudyError("configs: at least one named config is required")
    configs = {name: _config(name, spec, seeds, flows, bases) for name, spec in configs_raw.items()}
    evaluation = _mapping(raw.get("evaluation"), "evaluation", {"benchmark", "root", "splits"})
    splits = evaluation.get("splits") or {"val": {"split": "val"}, "test": {"split": "test"}}
    if not isinstance(splits, dict) or not all(isinstance(v, dict) for v in splits.values()):
        raise StudyError("evaluation.splits: expected a mapping of name -> benchmark options")
    for config in configs.values():
        unknown = sorted(set(config.splits or ()) - set(splits))
        if unknown:
            raise StudyError(f"configs.{config.name}.splits: {unknown[0]!r} is not a split")
    return Study(
        path=path,
        base=(path.parent / raw["base"]).resolve(),
        steps=_positive_int(raw.get("steps"), "steps"),
        overrides=_strings(raw.get("set"), "set"),
        flows=flows,
        configs=configs,
        benchmark=str(evaluation.get("benchmark", "synthroad-ood")),
        splits=splits,
        root=None if evaluation.get("root") is None else str(evaluation["root"]),
        compare=_comparisons(raw.get("compare"), configs),
        bases=bases,
    )


def _check_runs(study: Study) -> None:
    """Every fit and pretraining must make a valid TrainConfig (caught before hours of work)."""
    placeholder = Path("flow.pt")
    try:
        for flow in study.flows.values():
            load_config(study.base, study.flow_overrides(flow))
        for base in study.bases.values():
            load_config(study.base, study.base_overrides(base, 0))
        for config in study.configs.values():
            seed = config.seeds[0]
            load_config(study.base, study.fit_overrides(config, seed, placeholder, placeholder))
    except TrainConfigError as exc:
        raise StudyError(str(exc)) from exc
