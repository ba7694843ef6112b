"""The replay's report folder: report.json, report.md, PR and ROC curves, sample overlays."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dense_ood_ros.console.json_output import json_ready, write_json
from dense_ood_ros.metrics.latency import summarize
from dense_ood_ros.replay.session import ReplayResult

REPORT_FILES = ("report.json", "report.md", "pr.png", "roc.png")
STAGE_ORDER = ("decode", "preprocess", "engine", "postprocess", "obstacles", "color", "overlay",
               "place", "write")  # fmt: skip


def report_dict(result: ReplayResult, inputs: list[str], output: str, model: str) -> dict:
    """Everything the report says, as plain JSON-ready values (curves left out)."""
    metrics = {
        name: {k: v for k, v in m.items() if k != "curves"} for name, m in result.metrics.items()
    }
    ratio = result.frames_per_s / result.engine_frames_per_s
    return json_ready({
        "inputs": inputs,
        "output_bag": output,
        "model": model,
        "score": result.score_name,
        "frames_in": result.frames_in,
        "frames_processed": result.processed,
        "frames_skipped": dict(result.skipped),
        "frames_per_camera": dict(result.per_camera),
        "frames_labelled": result.labelled,
        "frames_without_labels": result.unlabelled,
        "labels_per_camera": labels_per_camera(result),
        "messages_written": result.messages_written,
        "stopped_by_error": result.error,
        "wall_s": result.wall_s,
        "replay_frames_per_s": result.frames_per_s,
        "engine_only_frames_per_s": result.engine_frames_per_s,
        "replay_over_engine_throughput": ratio,
        "stages_ms": {k: summarize(v) for k, v in result.stages_ms.items() if v},
        "classes": class_table(result),
        "metrics": metrics,
        "obstacles": obstacle_section(result),
    })  # fmt: skip


def obstacle_section(result: ReplayResult) -> dict[str, Any] | None:
    """The obstacles over the replay: settings, counts, each camera's geometry, and on labelled
    frames the obstacle metrics (metrics.obstacle_metrics); None when none were extracted."""
    if result.obstacle_settings is None:
        return None
    frames = result.obstacle_frames
    counts = result.obstacle_counts
    return {
        "settings": dict(result.obstacle_settings),
        "frames": frames,
        "obstacles": result.obstacles_seen,
        "per_frame": result.obstacles_seen / frames if frames else None,
        "with_position": result.obstacles_placed,
        "geometry": {camera: dict(g) for camera, g in sorted(result.geometry.items())},
        "metrics": counts.metrics() if counts is not None and counts.frames else None,
    }


def labels_per_camera(result: ReplayResult) -> dict[str, dict[str, Any]]:
    """Per labelled camera: its labels topic(s), the label frames read, and its frames scored
    against them or left without a label of their stamp."""
    return {
        camera: {
            "labels_topics": list(counts.labels_topics),
            "labels": counts.labels,
            "scored": counts.scored,
            "without_label": counts.without_label,
        }
        for camera, counts in sorted(result.labels_per_camera.items())
    }


def class_table(result: ReplayResult) -> list[dict[str, Any]]:
    """The model's classes (id, name, colour as in semantic_color) and each one's share of the
    predicted pixels over the replay."""
    pixels = result.class_pixels if result.class_pixels is not None else np.zeros(0)
    total = int(pixels.sum())
    return [
        {
            "id": index,
            "name": name,
            "color": list(result.palette[index]),
            "predicted_share": float(pixels[index]) / total if total else None,
        }
        for index, name in enumerate(result.class_names)
    ]


def pct(value: float | None) -> str:
    """A fraction as a percentage with two decimals, or n/a."""
    return "n/a" if value is None else f"{100 * value:.2f}"


def _labels_lines(per_camera: dict[str, dict[str, Any]]) -> list[str]:
    """One report.md line per labelled camera."""
    return [
        f"  - {camera} (labels {', '.join(c['labels_topics'])}): {c['scored']} frames scored, "
        f"{c['without_label']} without a label, {c['labels']} label frames"
        for camera, c in per_camera.items()
    ]


def markdown(report: dict, appendix: Sequence[str] = ()) -> str:
    """report.md: counts, throughput, per-stage latency, the metrics table, then `appendix` (a
    fleet's lines)."""
    lines = [
        f"**replay** of {', '.join(report['inputs'])} with {report['model']} -> "
        f"{report['output_bag']}",
        "",
        f"- frames: {report['frames_in']} camera messages, {report['frames_processed']} "
        f"processed, skipped: {report['frames_skipped'] or 'none'}",
        f"- per camera: {report['frames_per_camera']}",
        f"- labels: {report['frames_labelled']} frames scored, "
        f"{report['frames_without_labels']} without a label",
        *_labels_lines(report.get("labels_per_camera", {})),
        _throughput_line(report),
    ]
    if report["stopped_by_error"]:
        lines.append(f"- **stopped early**: {report['stopped_by_error']}")
    if report.get("plots"):
        lines.append(f"- PR and ROC curves {report['plots']}")
    lines += ["", "| stage | mean ms | p50 ms | p95 ms | max ms |", "|---|---|---|---|---|"]
    stages = report["stages_ms"]
    for name in [*STAGE_ORDER, "total"]:
        if name in stages:
            s = stages[name]
            lines.append(f"| {name} | {s['mean']:.2f} | {s['p50']:.2f} | {s['p95']:.2f} | "
                         f"{s['max']:.2f} |")  # fmt: skip
    if report.get("classes"):
        lines += [
            "",
            "| id | class | colour (semantic_color) | predicted pixels % |",
            "|---|---|---|---|",
        ]
        for c in report["classes"]:
            hex_colour = "#{:02x}{:02x}{:02x}".format(*c["color"])
            lines.append(
                f"| {c['id']} | {c['name']} | {hex_colour} | {pct(c['predicted_share'])} |"
            )
    lines += obstacle_lines(report.get("obstacles"))
    for name, m in report["metrics"].items():
        c = m.get("components", {})
        what = (
            "exact pixel metrics, %; SMIYC anomaly-track components at the best-F1 threshold"
            if "bounds" not in m
            else f"pixel metrics from {m['bins']}-bin score histograms, %, each exact value "
            f"within the bounds row; SMIYC anomaly-track components at the model's threshold "
            f"{c.get('threshold', float('nan')):.4g}"
        )
        lines += [
            "",
            f"Metrics of `{name}` over {report['frames_labelled']} labelled frames ({what}):",
            "",
            "| AP | FPR95 | AUROC | best F1 | sIoU | PPV | mean F1 |",
            "|---|---|---|---|---|---|---|",
            f"| {pct(m['ap'])} | {pct(m['fpr95'])} | {pct(m['auroc'])} | {pct(m['best_f1'])} "
            f"| {pct(c.get('siou'))} | {pct(c.get('ppv'))} | {pct(c.get('mean_f1'))} |",
        ]
        if "bounds" in m:
            b = m["bounds"]
            cells = [_interval(b.get(key)) for key in ("ap", "fpr95", "auroc", "best_f1")]
            lines.append(f"| {' | '.join(cells)} | | | |")
    lines += appendix
    return "\n".join(lines) + "\n"


def _number(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def obstacle_lines(section: dict[str, Any] | None) -> list[str]:
    """report.md's obstacle part: counts, where positions came from, and the metrics table."""
    if section is None:
        return ["", "Obstacles: not extracted (--no-obstacles)."]
    settings = ", ".join(f"{k} {v}" for k, v in section["settings"].items())
    lines = [
        "",
        f"Obstacles ({settings}): {section['obstacles']} in {section['frames']} frames "
        f"({_number(section['per_frame'])} per frame), {section['with_position']} placed on "
        "the ground.",
    ]
    for camera, g in section["geometry"].items():
        where = "positions from" if g["positions"] else "no positions:"
        lines.append(f"- {camera}: {where} {g['source']}")
    m = section["metrics"]
    if not m:
        return lines
    lines += [
        "",
        f"Obstacles against the labelled anomaly components of {m['frames']} frames (found: "
        f"sIoU >= {m['match_siou']:g}; false: touching no labelled component; components "
        f"under {m['min_gt_size']} px voided):",
        "",
        "| distance | components | found | recall % | obstacles | false | false per frame |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = [("all", m), *m["by_distance"].items()]
    for name, r in rows:
        if name != "all" and not (r["gt_components"] or r["obstacles"]):
            continue
        lines.append(
            f"| {name} | {r['gt_components']} | {r['found']} | {pct(r['recall'])} | "
            f"{r['obstacles']} | {r['false_obstacles']} | {_number(r['false_per_frame'], 3)} |"
        )
    if m["void_obstacles"]:
        lines.append(f"\n{m['void_obstacles']} obstacles lay wholly on void pixels (not scored).")
    return lines


def _interval(bound: list[float] | None) -> str:
    return "n/a" if bound is None else f"[{pct(bound[0])}, {pct(bound[1])}]"


def _throughput_line(report: dict) -> str:
    """Replay frames/s, and the engine alone on the same frames where it was timed."""
    line = f"- throughput: {report['replay_frames_per_s'] or 0:.1f} frames/s replayed"
    if report["engine_only_frames_per_s"] is None:
        return line
    return (
        f"{line}, {report['engine_only_frames_per_s']:.1f} frames/s engine alone on the same "
        f"frames (ratio {report['replay_over_engine_throughput'] or 0:.2f})"
    )


def write_report(
    result: ReplayResult, folder: Path, report: dict, appendix: Sequence[str] = ()
) -> str:
    """Write the report folder (`appendix`: lines ending report.md); returns report.md's text."""
    import importlib.util

    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    if result.metrics and importlib.util.find_spec("matplotlib") is None:
        report["plots"] = "not drawn: matplotlib is not installed (pip install '.[plots]')"
    elif result.metrics:
        from dense_ood_ros.metrics.plots import plot_pr_curves, plot_roc_curves

        title = f"replay ({result.labelled} labelled frames)"
        plot_pr_curves(result.metrics, folder / "pr.png", title)
        plot_roc_curves(result.metrics, folder / "roc.png", title)
    text = markdown(report, appendix)
    (folder / "report.md").write_text(text)
    write_json(folder / "report.json", report)
    for index, (camera, rgb, overlay) in enumerate(result.samples):
        image = overlay if overlay is not None else rgb
        name = camera.strip("/").replace("/", "_") or "camera"
        path = folder / "overlays" / f"{index:02d}_{name}.png"
        path.parent.mkdir(exist_ok=True)
        cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return text
