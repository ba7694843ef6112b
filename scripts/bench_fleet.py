"""Measure a fleet replay: one process against local Ray clusters of 1 and 2 workers.

    .venv/bin/python scripts/make_fleet.py /tmp/fleet12
    .venv/bin/python scripts/bench_fleet.py /tmp/fleet12 --model models/synthroad_nflowjs.onnx

Runs `dense-ood replay` on the same bags single-process (exact metrics) and with --workers N
for each N, and prints one markdown table: command wall time, frames/s over the command and
over the replay alone, cluster start, the exact and merged AP / FPR95 / AUROC (merged with the
interval that holds the exact value), peak memory per worker and model load time.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

LABELS = "/cam_front/anomaly_labels"


def run_replay(fleet: Path, model: Path, out: Path, extra: list[str]) -> tuple[dict, float]:
    """(report.json, command wall seconds) of one `dense-ood replay`."""
    if out.exists():
        shutil.rmtree(out)
    dense_ood = Path(sys.executable).with_name("dense-ood")
    command = [str(dense_ood), "replay", str(fleet), "--model", str(model), "--labels-topic",
               LABELS, "--output", str(out / "bags"), "--report", str(out / "report"),
               "--no-progress", *extra]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(command, check=False, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    return json.loads((out / "report" / "report.json").read_text()), wall


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.3f}"


def row(name: str, report: dict, wall: float) -> str:
    """One table row."""
    m = next(iter(report["metrics"].values()))
    fleet = report.get("fleet")
    frames = report["frames_processed"]
    if fleet:
        rows = [r for r in fleet["per_bag"] if r["status"] == "done"]
        replay_fps = frames / max(fleet["wall_s"] - fleet["cluster_start_s"], 1e-9)
        start = f"{fleet['cluster_start_s']:.1f}"
        rss = f"{max(r['max_rss_mb'] for r in rows):.0f}"
        loads = [r["model_load_s"] for r in rows if r["model_load_s"] is not None]
        load = f"{sum(loads) / len(loads):.2f} ({len(loads)} loads)" if loads else "n/a"
    else:
        replay_fps, start, rss, load = report["replay_frames_per_s"], "-", "-", "-"
    metrics = []
    for key in ("ap", "fpr95", "auroc"):
        bound = m.get("bounds", {}).get(key)
        interval = f" [{_pct(bound[0])}, {_pct(bound[1])}]" if bound else " (exact)"
        metrics.append(_pct(m[key]) + interval)
    return (f"| {name} | {frames} | {wall:.1f} | {frames / wall:.1f} | {replay_fps:.1f} | "
            f"{start} | {' | '.join(metrics)} | {rss} | {load} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fleet", type=Path, help="folder of bags (scripts/make_fleet.py)")
    parser.add_argument("--model", type=Path, required=True, help="contract-1 model")
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_fleet"), help="outputs")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="fleet sizes")
    args = parser.parse_args()
    lines = [
        "| run | frames | command s | frames/s (command) | frames/s (replay) | cluster start s "
        "| AP % | FPR95 % | AUROC % | peak MB per worker | model load s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    report, wall = run_replay(args.fleet, args.model, args.out / "single", [])
    lines.append(row("single process", report, wall))
    for workers in args.workers:
        out = args.out / f"workers{workers}"
        report, wall = run_replay(args.fleet, args.model, out, ["--workers", str(workers)])
        lines.append(row(f"Ray, {workers} worker{'s' * (workers > 1)}", report, wall))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
