"""One bag's task on a worker: the worker's pipeline (its model loaded once per process) and the
replay of one bag into its own output bag."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import time
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any

from dense_ood_ros.errors import DenseOodError, first_line
from dense_ood_ros.metrics.summary import ScoreSummary
from dense_ood_ros.replay.fleet.markers import (
    mark_complete,
    mark_started,
    marker_path,
    remove_output,
)
from dense_ood_ros.replay.fleet.outcome import BagOutcome
from dense_ood_ros.replay.fleet.progress import reporting
from dense_ood_ros.replay.fleet.settings import FleetSettings
from dense_ood_ros.replay.inputs import InputBag
from dense_ood_ros.replay.session import COMPONENT_TRACK, ReplayResult, ReplaySession

_PIPELINES: dict[tuple[Any, ...], Any] = {}  # per worker process: the model loaded once


def _pipeline(settings: FleetSettings) -> tuple[Any, float | None]:
    """The worker's pipeline for `settings` (loaded once per process) and the load time
    (None when it was loaded before)."""
    from dense_ood_ros.engine import load_engine
    from dense_ood_ros.pipeline.frame_pipeline import Pipeline

    stat = settings.model.stat()
    obstacles = settings.options.obstacle_settings()
    key = (str(settings.model), stat.st_mtime_ns, settings.backend, settings.threshold,
           settings.output_size, obstacles)  # fmt: skip
    if key in _PIPELINES:
        return _PIPELINES[key], None
    start = time.perf_counter()
    engine = load_engine(settings.model, settings.backend)
    pipeline = Pipeline(
        engine, settings.threshold, output_size=settings.output_size, obstacles=obstacles
    )
    _PIPELINES[key] = pipeline
    return pipeline, time.perf_counter() - start


def _max_rss_mb() -> float:
    """This process's peak resident memory, MB."""
    import resource

    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024.0 if sys.platform != "darwin" else kib / 2**20


def replay_bag(
    bag: InputBag, settings: FleetSettings, index: int = 0, progress: Any = None
) -> BagOutcome:
    """Replay one bag into OUT/<relative> (the task body); never raises for a bad bag."""
    outcome = BagOutcome.of(bag, settings.output, worker=f"{os.uname().nodename}:{os.getpid()}")
    marker = marker_path(settings.output, outcome.relative)
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    logging.getLogger().addHandler(handler)
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            config = settings.config(bag)
            pipeline, load_s = _pipeline(settings)
            outcome = replace(outcome, model_load_s=load_s)
            result, summary = _replay(bag, settings, pipeline, config, index, progress)
            outcome = outcome.with_result(result, summary)
            if outcome.status == "done":
                mark_complete(marker, config, outcome, summary)
    except DenseOodError as exc:
        outcome = replace(outcome, status="failed", reason=first_line(exc))
    except Exception as exc:  # an unexpected error fails this bag alone; the log has it
        reason = f"{type(exc).__name__}: {first_line(exc)}"
        outcome = replace(outcome, status="failed", reason=reason)
        log.write(traceback.format_exc())
    finally:
        logging.getLogger().removeHandler(handler)
    if outcome.reason:
        log.write(f"failed: {outcome.reason}\n")
    return replace(outcome, max_rss_mb=_max_rss_mb(), log=log.getvalue())


def _replay(
    bag: InputBag,
    settings: FleetSettings,
    pipeline: Any,
    config: dict[str, Any],
    index: int,
    progress: Any,
) -> tuple[ReplayResult, ScoreSummary]:
    """Check the bag, mark it started, replace its output and replay it with a summary."""
    options = settings.task_options(bag)
    hook = reporting(index, progress) if progress is not None else None
    session = ReplaySession(pipeline, options, hook)
    session.check()
    mark_started(marker_path(settings.output, str(bag.relative)), config)
    output = Path(options.output)
    remove_output(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    summary = ScoreSummary([session.result.score_name], pipeline.threshold, COMPONENT_TRACK)
    return session.run(summary), summary
