"""The study's table: per-seed values, mean and spread per config and score, and verdicts.

Reads what the runs of a study folder left (each evaluation's metrics.json, each fit's
summary.json, config.yaml and train.csv, each flow's summary.json) and writes table.md, table.csv,
results.json and one PR-curve overlay per split. A verdict compares seeds, not means:
"beats" when the method's worst seed is better than the baseline's best seed, "loses" when its
best seed is worse than the baseline's worst, "level" otherwise.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dense_ood_ros.console.json_output import write_json
from dense_ood_train.config import TrainConfigError, dataset_classes, load_config
from dense_ood_train.study.plan import DONE_MARKER, Comparison, Study

METRICS = ("ap", "fpr95", "auroc")
HIGHER_IS_BETTER = {"ap": True, "fpr95": False, "auroc": True}
#: The inlier FPR of the threshold in the export hint (a planner's known false-alarm rate).
HINT_FPR = 0.05


@dataclass
class Row:
    """One score of one evaluated run."""

    config: str
    seed: int
    split: str
    score: str
    ap: float
    fpr95: float
    auroc: float
    miou: float | None  # Cityscapes-style: classes in GT or prediction
    miou_gt: float | None  # classes present in the ground truth only


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _finished(folder: Path) -> bool:
    return (folder / DONE_MARKER).is_file()


def collect(study: Study, output: Path) -> tuple[list[Row], dict[tuple, list[dict]]]:
    """(rows, curves) of every finished evaluation; curves by (split, config) for the overlay,
    drawn from each config's first listed score (else the model's main score)."""
    rows: list[Row] = []
    curves: dict[tuple, list[dict]] = {}
    for config in study.configs.values():
        for seed in config.seeds:
            for split in study.splits:
                folder = output / "runs" / config.name / f"seed{seed}" / f"eval_{split}"
                report = _read_json(folder / "metrics.json") if _finished(folder) else None
                if report is None:
                    continue
                names = config.scores or tuple(report["scores"])
                for name in names:
                    if name not in report["scores"]:
                        continue
                    m = report["scores"][name]
                    rows.append(
                        Row(config.name, seed, split, name, m["ap"], m["fpr95"], m["auroc"],
                            report.get("miou"), report.get("miou_gt_classes"))
                    )  # fmt: skip
                main = names[0] if names[0] in report["scores"] else report["model_score"]
                if "curves" in report["scores"][main]:
                    curves.setdefault((split, f"{config.name}/{main}"), []).append(
                        report["scores"][main]
                    )
    return rows, curves


def _values(rows: list[Row], config: str, score: str, split: str, metric: str) -> list[float]:
    picked = [r for r in rows if (r.config, r.score, r.split) == (config, score, split)]
    return [getattr(r, metric) for r in sorted(picked, key=lambda r: r.seed)]


def mean_spread(values: list[float]) -> str:
    """'12.34 ± 0.56' in percent (sample standard deviation), or the single value."""
    clean = [v for v in values if v is not None and math.isfinite(v)]
    if not clean:
        return "n/a"
    arr = 100 * np.asarray(clean)
    if arr.size == 1:
        return f"{arr[0]:.2f}"
    return f"{arr.mean():.2f} ± {arr.std(ddof=1):.2f}"


def _per_seed(values: list[float]) -> str:
    return " / ".join("n/a" if v is None else f"{100 * v:.2f}" for v in values)


def verdict(method: list[float], baseline: list[float], higher_is_better: bool) -> str:
    """beats / loses / level by seed non-overlap (see the module docstring)."""
    if not method or not baseline:
        return "n/a"
    sign = 1.0 if higher_is_better else -1.0
    worst_method, best_method = min(sign * v for v in method), max(sign * v for v in method)
    best_base, worst_base = max(sign * v for v in baseline), min(sign * v for v in baseline)
    if worst_method > best_base:
        return "beats"
    if best_method < worst_base:
        return "loses"
    return "level"


def _expand(target: str, rows: list[Row]) -> list[tuple[str, str]]:
    config, _, score = target.partition("/")
    if score in ("", "*"):
        return sorted({(r.config, r.score) for r in rows if r.config == config})
    return [(config, score)]


def verdict_lines(comparisons: list[Comparison], rows: list[Row], split: str) -> list[str]:
    lines = [
        "| method | against | AP (method / baseline) | AP | FPR95 (method / baseline) | FPR95 |",
        "|---|---|---|---|---|---|",
    ]
    for comparison in comparisons:
        for method in _expand(comparison.method, rows):
            for baseline in (b for target in comparison.against for b in _expand(target, rows)):
                cells = [f"{method[0]}/{method[1]}", f"{baseline[0]}/{baseline[1]}"]
                for metric in ("ap", "fpr95"):
                    ours = _values(rows, *method, split, metric)
                    theirs = _values(rows, *baseline, split, metric)
                    cells.append(f"{mean_spread(ours)} / {mean_spread(theirs)}")
                    cells.append(f"**{verdict(ours, theirs, HIGHER_IS_BETTER[metric])}**")
                lines.append("| " + " | ".join(cells) + " |")
    return lines


def results_lines(study: Study, rows: list[Row], split: str) -> list[str]:
    lines = [
        "| config | score | seeds | AP | AP per seed | FPR95 | FPR95 per seed | AUROC "
        "| mIoU, GT classes | mIoU, all classes |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for config in study.configs:
        scores = dict.fromkeys(r.score for r in rows if r.config == config and r.split == split)
        for score in scores:
            ap = _values(rows, config, score, split, "ap")
            fpr = _values(rows, config, score, split, "fpr95")
            auroc = _values(rows, config, score, split, "auroc")
            miou = _values(rows, config, score, split, "miou")
            miou_gt = _values(rows, config, score, split, "miou_gt")
            lines.append(
                f"| {config} | {score} | {len(ap)} | {mean_spread(ap)} | {_per_seed(ap)} | "
                f"{mean_spread(fpr)} | {_per_seed(fpr)} | {mean_spread(auroc)} | "
                f"{mean_spread(miou_gt)} | {mean_spread(miou)} |"
            )
    return lines


def _median_step_s(train_csv: Path) -> float | None:
    try:
        with train_csv.open() as handle:
            values = [float(r["step_s"]) for r in csv.DictReader(handle) if r.get("step_s")]
    except OSError:
        return None
    return float(np.median(values)) if values else None


def cost_lines(study: Study, output: Path) -> list[str]:
    """Training cost per config: median seconds per step and minutes per fit."""
    lines = ["| config | fits | s/step (median) | minutes per fit |", "|---|---|---|---|"]
    for config in study.configs.values():
        steps, minutes = [], []
        for seed in config.seeds:
            folder = output / "runs" / config.name / f"seed{seed}"
            summary = _read_json(folder / "summary.json") if _finished(folder) else None
            if summary is None:
                continue
            minutes.append(summary.get("wall_s", math.nan) / 60)
            step_s = _median_step_s(folder / "train.csv")
            if step_s is not None:
                steps.append(step_s)
        if minutes:
            step = f"{np.median(steps):.3f}" if steps else "n/a"
            lines.append(f"| {config.name} | {len(minutes)} | {step} | {np.mean(minutes):.1f} |")
    return lines


def flow_lines(study: Study, output: Path) -> list[str]:
    lines = [
        "| flow | parameters | steps | training minutes | held-out bits/dim: start -> end |",
        "|---|---|---|---|---|",
    ]
    for name in study.flows:
        summary = _read_json(output / "flows" / name / "summary.json")
        if summary is None:
            continue
        first, last = summary["heldout_first"], summary["heldout_last"]
        lines.append(
            f"| {name} | {summary['parameters'] / 1e6:.2f}M | {summary['steps']} | "
            f"{summary['train_minutes']:.1f} | {first['bpd_mean']:.3f} -> {last['bpd_mean']:.3f} |"
        )
    return lines


def _class_names(run: Path, count: int) -> tuple[str, ...]:
    """The class names of a run's dataset (its config.yaml), or `class_<i>` if unreadable."""
    try:
        names = dataset_classes(load_config(run / "config.yaml")).names
    except (OSError, TrainConfigError):
        names = ()
    return names if len(names) == count else tuple(f"class_{i}" for i in range(count))


def _mean_iou(values: tuple[float, ...]) -> str:
    """Mean IoU in percent over the seeds where the class was scored, or 'n/a'."""
    scored = [v for v in values if math.isfinite(v)]
    return f"{100 * sum(scored) / len(scored):.1f}" if scored else "n/a"


def segmentation_lines(study: Study, output: Path) -> list[str]:
    """mIoU and IoU per class on each fit's own validation (the whole val split), mean over
    seeds: what the negatives cost the segmenter, class by class."""
    names: tuple[str, ...] = ()
    rows = []
    for config in study.configs.values():
        mious, class_ious = [], []
        for seed in config.seeds:
            run = output / "runs" / config.name / f"seed{seed}"
            summary = _read_json(run / "summary.json") if _finished(run) else None
            val = (summary or {}).get("val") or {}
            if val.get("class_iou"):
                mious.append(val["miou"])
                class_ious.append([math.nan if v is None else v for v in val["class_iou"]])
                names = names or _class_names(run, len(val["class_iou"]))
        if class_ious:
            cells = " | ".join(_mean_iou(column) for column in zip(*class_ious, strict=True))
            rows.append(f"| {config.name} | {len(mious)} | {mean_spread(mious)} | {cells} |")
    if not rows:
        return []
    header = ["| config | seeds | mIoU | " + " | ".join(names) + " |"]
    return [*header, "|---|---|---|" + "---|" * len(names), *rows]


@dataclass(frozen=True)
class Choice:
    """What a config ships: its primary score, that score's mean AP over seeds, and the seed."""

    score: str
    mean_ap: float
    seed: int


def chosen_seeds(study: Study, rows: list[Row], split: str = "val") -> dict[str, Choice]:
    """config -> Choice made on `split` (validation: the choice never looks at test data): the
    config's score with the best mean AP over its seeds (the model's primary score), then that
    score's seed with the best AP."""
    chosen = {}
    for config in study.configs.values():
        by_score: dict[str, list[Row]] = {}
        for row in rows:
            if row.config == config.name and row.split == split:
                by_score.setdefault(row.score, []).append(row)
        means = {name: float(np.mean([r.ap for r in group])) for name, group in by_score.items()}
        if means:
            score = max(means, key=means.__getitem__)
            best = max(by_score[score], key=lambda r: r.ap)
            chosen[config.name] = Choice(score, means[score], best.seed)
    return chosen


def chosen_lines(study: Study, rows: list[Row], output: Path) -> list[str]:
    """The seed per config chosen on val, its test values, and the command that exports it."""
    lines = [
        "| config | score (best mean val AP) | seed (best val AP) | val AP | test AP | "
        "test FPR95 | export |",
        "|---|---|---|---|---|---|---|",
    ]
    for config, choice in chosen_seeds(study, rows).items():
        score, seed = choice.score, choice.seed
        mine = {r.split: r for r in rows if (r.config, r.seed, r.score) == (config, seed, score)}
        val, test = mine.get("val"), mine.get("test")
        run = output / "runs" / config / f"seed{seed}"
        command = (
            f"`dense-ood-train export {run}/last.pt --score {score} --extra-scores "
            f"--threshold-from {run}/eval_val/metrics.json --threshold-at-fpr {HINT_FPR} "
            "--output MODEL.onnx`"
        )
        lines.append(
            f"| {config} | {score} | {seed} | {mean_spread([val.ap] if val else [])} | "
            f"{mean_spread([test.ap] if test else [])} | "
            f"{mean_spread([test.fpr95] if test else [])} | {command} |"
        )
    return lines


def write_study_report(study: Study, output: Path) -> str:
    """table.md, table.csv, results.json and pr_<split>.png in `output`; returns table.md."""
    from dense_ood_ros.metrics.plots import plot_pr_groups

    rows, curves = collect(study, output)
    expected = sum(len(c.seeds) for c in study.configs.values())
    done = len({(r.config, r.seed) for r in rows})
    lines = [
        f"# Study {study.path.name}: {done} of {expected} runs evaluated",
        "",
        f"Every fit: `{study.base.name}` with optim.steps={study.steps} and the overrides of its "
        "config. Values in %, mean ± sample standard deviation over seeds; per-seed values in "
        "seed order. Verdicts: **beats** = the method's worst seed is better than the "
        "baseline's best seed, **loses** = the reverse, **level** = the seeds overlap.",
    ]
    for split in study.splits:
        benchmark, options = study.split_benchmark(split)
        lines += ["", f"## {split} ({benchmark}, {json.dumps(options)})", ""]
        lines += results_lines(study, rows, split)
        if study.compare:
            lines += [
                "",
                f"### Verdicts on {split}",
                "",
                *verdict_lines(study.compare, rows, split),
            ]
        groups = {name: results for (s, name), results in curves.items() if s == split}
        if groups:
            plot_pr_groups(groups, output / f"pr_{split}.png", f"{benchmark} {split}")
    segmentation = segmentation_lines(study, output)
    if segmentation:
        lines += ["", "## Segmentation: IoU per class on each fit's validation (%)", ""]
        lines += segmentation
    if "val" in study.splits:
        lines += ["", "## Seeds chosen on val", "", *chosen_lines(study, rows, output)]
    lines += ["", "## Training cost", "", *cost_lines(study, output)]
    if study.flows:
        lines += ["", "## Pretrained flows", "", *flow_lines(study, output)]
    table = "\n".join(lines) + "\n"
    (output / "table.md").write_text(table)
    with (output / "table.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(Row.__dataclass_fields__))
        writer.writeheader()
        writer.writerows(asdict(r) for r in rows)
    write_json(output / "results.json", rows, indent=1)
    return table
