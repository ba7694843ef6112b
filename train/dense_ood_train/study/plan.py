"""A training study as data: named configs x seeds, pretrained flows, and how runs are evaluated.

A study file (YAML) looks like train/studies/synthroad.yaml:

    base: ../configs/synthroad_cpu.yaml   # relative to the study file
    steps: 3000                          # optim.steps of every fit: one budget for all
    seeds: [0, 1, 2]                     # default seeds of every config
    set: []                              # overrides for every fit and pretraining
    flows:                               # pretrained once each, before the fits
      glow: {steps: 6000, set: [flow.hidden=64]}
    evaluation:
      benchmark: synthroad-ood           # root: DIR for benchmarks read from files
      splits: {val: {split: val, num_frames: 200}, test: {split: test, num_frames: 500}}
    configs:
      no_negatives: {set: [negatives.mode=none]}
      nflowjs: {flow: glow, set: [flow.lr=0], scores: [jsd, energy]}
      scratch: {seeds: [0], set: [flow.lr=1e-3]}
    compare:                             # verdicts in the table: method against baselines
      - {method: nflowjs/jsd, against: [no_negatives/*]}

A config that names a flow gets that flow's overrides (so the architecture matches) and
`flow.pretrained` pointing at its checkpoint. Everything a run does follows from this plan and
its output folder, so a study can be stopped and resumed at any point.
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
STUDY_KEYS = {"base", "steps", "seeds", "set", "flows", "evaluation", "configs", "compare"}
CONFIG_KEYS = {"set", "seeds", "flow", "scores", "note"}
FLOW_KEYS = {"steps", "minutes", "set", "seed"}


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
class ConfigSpec:
    """One named config of the study: overrides on top of the base, its seeds and scores."""

    name: str
    overrides: tuple[str, ...]
    seeds: tuple[int, ...]
    flow: str | None = None
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

    def fit_overrides(self, config: ConfigSpec, seed: int, flow_checkpoint: Path | None) -> list:
        """The `--set` list of one run: study, flow, config, then seed and budget."""
        overrides = list(self.overrides)
        if config.flow is not None:
            overrides += self.flows[config.flow].overrides
            overrides.append(f"flow.pretrained={flow_checkpoint}")
        return [*overrides, *config.overrides, f"seed={seed}", f"optim.steps={self.steps}"]

    def flow_overrides(self, flow: FlowSpec) -> list[str]:
        return [*self.overrides, *flow.overrides, f"seed={flow.seed}"]


def _strings(value: Any, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
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


def _config(name: str, raw: Any, seeds: tuple[int, ...], flows: dict[str, FlowSpec]) -> ConfigSpec:
    key = f"configs.{name}"
    raw = _mapping(raw, key, CONFIG_KEYS)
    flow = raw.get("flow")
    if flow is not None and flow not in flows:
        raise StudyError(f"{key}.flow: {flow!r} is not one of the study's flows")
    scores = raw.get("scores")
    if scores is not None:
        scores = _strings(scores, f"{key}.scores")
    return ConfigSpec(
        name=name,
        overrides=_strings(raw.get("set"), f"{key}.set"),
        seeds=_seeds(raw["seeds"], f"{key}.seeds") if "seeds" in raw else seeds,
        flow=flow,
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
    configs_raw = raw.get("configs")
    if not isinstance(configs_raw, dict) or not configs_raw:
        raise StudyError("configs: at least one named config is required")
    configs = {name: _config(name, spec, seeds, flows) for name, spec in configs_raw.items()}
    evaluation = _mapping(raw.get("evaluation"), "evaluation", {"benchmark", "root", "splits"})
    splits = evaluation.get("splits") or {"val": {"split": "val"}, "test": {"split": "test"}}
    if not isinstance(splits, dict) or not all(isinstance(v, dict) for v in splits.values()):
        raise StudyError("evaluation.splits: expected a mapping of name -> benchmark options")
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
    )


def _check_runs(study: Study) -> None:
    """Every fit and pretraining must make a valid TrainConfig (caught before hours of work)."""
    placeholder = Path("flow.pt")
    try:
        for flow in study.flows.values():
            load_config(study.base, study.flow_overrides(flow))
        for config in study.configs.values():
            load_config(study.base, study.fit_overrides(config, config.seeds[0], placeholder))
    except TrainConfigError as exc:
        raise StudyError(str(exc)) from exc
