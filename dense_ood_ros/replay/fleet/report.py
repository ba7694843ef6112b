"""A fleet's report: the pooled replay report with its "fleet" section (report.json) and lines
(report.md), and one log file per bag that ran."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dense_ood_ros.console.json_output import json_ready
from dense_ood_ros.metrics.obstacle_metrics import ObstacleCounts
from dense_ood_ros.replay.fleet.cluster import FleetResult
from dense_ood_ros.replay.fleet.outcome import BagOutcome
from dense_ood_ros.replay.fleet.settings import FleetSettings
from dense_ood_ros.replay.inputs import InputBag
from dense_ood_ros.replay.report import pct, report_dict, write_report


def write_fleet_report(
    result: FleetResult, bags: Sequence[InputBag], settings: FleetSettings, folder: Path
) -> tuple[str, dict[str, str]]:
    """Write the fleet's report folder and logs; returns report.md's text and the failed bags'
    reasons."""
    inputs = [str(b.source) for b in bags]
    report = report_dict(result.pooled, inputs, str(settings.output), str(settings.model))
    report["fleet"] = json_ready(fleet_section(result))
    write_logs(result.outcomes, folder)
    text = write_report(result.pooled, folder, report, fleet_lines(report["fleet"]))
    return text, report["fleet"]["failed"]


def fleet_section(result: FleetResult) -> dict[str, Any]:
    """The report's "fleet" part: workers, one row per bag, the failed bags with reasons."""
    rows = []
    for o in result.outcomes:
        metrics: dict[str, Any] = next(iter(o.metrics.values()), {})
        found: dict[str, Any] = {}
        if o.obstacle_counts is not None:
            found = ObstacleCounts.from_dict(o.obstacle_counts).metrics()
        rows.append({
            "bag": o.relative, "source": o.source, "output": o.output, "status": o.status,
            "reason": o.reason, "frames_in": o.frames_in, "frames_processed": o.processed,
            "frames_skipped": o.skipped, "frames_labelled": o.labelled,
            "frames_per_s": o.frames_per_s, "wall_s": o.wall_s, "model_load_s": o.model_load_s,
            "max_rss_mb": o.max_rss_mb, "worker": o.worker,
            "ap": metrics.get("ap"), "fpr95": metrics.get("fpr95"), "auroc": metrics.get("auroc"),
            "obstacles": o.obstacles_seen if o.obstacle_settings is not None else None,
            "obstacle_recall": found.get("recall"),
            "false_obstacles_per_frame": found.get("false_per_frame"),
        })  # fmt: skip
    statuses = Counter(o.status for o in result.outcomes)
    return {
        "workers": result.workers,
        "bags": len(result.outcomes),
        "bags_done": statuses["done"],
        "bags_skipped_complete": statuses["skipped"],
        "bags_failed": statuses["failed"],
        "failed": {o.relative: o.reason for o in result.outcomes if o.status == "failed"},
        "wall_s": result.wall_s,
        "cluster_start_s": result.start_s,
        "frames_per_s": result.pooled.processed / result.wall_s if result.wall_s else None,
        "per_bag": rows,
    }


def _num(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def fleet_lines(fleet: dict) -> list[str]:
    """report.md's fleet part: totals, a row per bag, the failed bags with their reasons."""
    lines = [
        "",
        f"**Fleet** of {fleet['bags']} bags on {fleet['workers']} workers in "
        f"{fleet['wall_s']:.1f} s ({_num(fleet['frames_per_s'])} frames/s; "
        f"{fleet['cluster_start_s']:.1f} s of it starting the cluster): "
        f"{fleet['bags_done']} replayed, {fleet['bags_skipped_complete']} complete before "
        f"(skipped), {fleet['bags_failed']} failed. Pooled metrics above: the bags that finished.",
        "",
        "| bag | status | frames | processed | skipped (why) | labelled | AP % | FPR95 % | "
        "AUROC % | obstacles | obstacle recall % | false obstacles per frame | frames/s | "
        "model load s | peak MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in fleet["per_bag"]:
        why = ", ".join(f"{k}: {v}" for k, v in r["frames_skipped"].items()) or "none"
        lines.append(
            f"| {r['bag']} | {r['status']} | {r['frames_in']} | {r['frames_processed']} | {why} "
            f"| {r['frames_labelled']} | {pct(r['ap'])} | {pct(r['fpr95'])} | "
            f"{pct(r['auroc'])} | {r['obstacles'] if r['obstacles'] is not None else 'n/a'} | "
            f"{pct(r['obstacle_recall'])} | {_num(r['false_obstacles_per_frame'], 3)} | "
            f"{_num(r['frames_per_s'])} | "
            f"{_num(r['model_load_s'], 2)} | {_num(r['max_rss_mb'], 0)} |"
        )
    if fleet["failed"]:
        lines += ["", "Failed bags (logs in logs/):", ""]
        lines += [f"- {bag}: {reason}" for bag, reason in fleet["failed"].items()]
    return lines


def write_logs(outcomes: Sequence[BagOutcome], folder: Path) -> None:
    """One log file per bag that ran (its worker's output, a failure's traceback)."""
    for o in outcomes:
        if o.status == "skipped":
            continue
        path = folder / "logs" / f"{o.relative}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        head = f"bag {o.source} -> {o.output} on {o.worker or '?'}: {o.status}"
        path.write_text(head + (f" ({o.reason})" if o.reason else "") + "\n" + o.log)
