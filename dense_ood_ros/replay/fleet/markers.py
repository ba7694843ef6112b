"""The fleet's state on disk: per bag a marker in OUT/.dense_ood_fleet, written when its task
starts and rewritten, with its summary, when it completes; and the plan of what is left to do."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dense_ood_ros.console.json_output import write_json
from dense_ood_ros.metrics.summary import ScoreSummary, load_summary, save_summary
from dense_ood_ros.replay.fleet.errors import OutputInTheWayError
from dense_ood_ros.replay.fleet.outcome import BagOutcome
from dense_ood_ros.replay.fleet.settings import FleetSettings
from dense_ood_ros.replay.inputs import InputBag

STATE_DIR = ".dense_ood_fleet"


def marker_path(output: Path, relative: str) -> Path:
    """The marker of the bag at OUTPUT/<relative>."""
    return output / STATE_DIR / f"{relative}.json"


def mark_started(marker: Path, config: dict[str, Any]) -> None:
    """Record that a task of the command `config` started writing the bag's output."""
    write_json(marker, {"state": "started", "config": config})


def mark_complete(
    marker: Path, config: dict[str, Any], outcome: BagOutcome, summary: ScoreSummary
) -> None:
    """Record a finished bag: its summary beside the marker, then the marker with its outcome."""
    save_summary(marker.with_suffix(".npz"), summary)
    write_json(marker, {"state": "complete", "config": config, "outcome": outcome.record()})


def _looks_like_bag(path: Path) -> bool:
    return path.is_dir() and (
        (path / "metadata.yaml").exists() or any(path.glob("*.mcap")) or any(path.glob("*.db3"))
    )


def remove_output(path: Path) -> None:
    """Remove an output bag folder; never anything that is not a bag."""
    if not path.exists():
        return
    if not _looks_like_bag(path):
        raise OutputInTheWayError(f"{path} exists and is not a bag; not replacing it")
    shutil.rmtree(path)


@dataclass
class Plan:
    """The bags to run, and the outcomes known before running (skipped, in the way)."""

    to_run: list[InputBag] = field(default_factory=list)
    known: dict[str, BagOutcome] = field(default_factory=dict)


def plan(bags: Sequence[InputBag], settings: FleetSettings) -> Plan:
    """Per bag: skip it (complete, same command), run it, or report its output in the way."""
    result = Plan()
    for bag in bags:
        relative = str(bag.relative)
        output = settings.output / relative
        marker = marker_path(settings.output, relative)
        state: dict[str, Any] = json.loads(marker.read_text()) if marker.is_file() else {}
        same = bool(state) and state.get("config") == settings.config(bag)
        if same and state["state"] == "complete" and output.exists() and not settings.overwrite:
            result.known[relative] = _from_marker(state, marker)
        elif (same or not output.exists()) or settings.overwrite:
            result.to_run.append(bag)  # new, an incomplete output of this command, or replaced
        else:
            reason = f"{output} exists from another run; pass --overwrite to replace it"
            result.known[relative] = BagOutcome.of(bag, settings.output, reason=reason)
    return result


def _from_marker(state: dict[str, Any], marker: Path) -> BagOutcome:
    """The outcome a complete marker recorded, as skipped, with its saved summary."""
    path = marker.with_suffix(".npz")
    summary: ScoreSummary | None = load_summary(path) if path.is_file() else None
    return BagOutcome(**{**state["outcome"], "status": "skipped", "summary": summary})
