"""Fleet replay: many bags on a Ray cluster, one task per bag, mergeable metrics.

Each bag is one Ray task (not split into chunks) that replays it with `ReplaySession` into its
own output bag, OUT/<the input tree's relative path>, and returns a `BagOutcome`: counts,
throughput, model load time, peak memory, and a `ScoreSummary` (score histograms and component
counts) instead of the pixels' scores. The driver merges the summaries into pooled metrics.

A bag that fails (unreadable, truncated, a missing topic, NaN scores) fails alone, with its one
line reason; a worker that dies has its task retried once by Ray, then the bag is reported.
State lives in OUT/.dense_ood_fleet: per bag a marker written when its task starts and
rewritten, with its summary, when it completes. A rerun of the same command skips complete
bags and replaces incomplete ones; outputs of another run (or of no run) are replaced only
with `overwrite`.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shutil
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dense_ood_ros.console.json_output import json_ready, write_json
from dense_ood_ros.errors import DenseOodError, first_line
from dense_ood_ros.metrics.summary import ScoreSummary, load_summary, save_summary
from dense_ood_ros.replay.bag_input import BagError
from dense_ood_ros.replay.inputs import InputBag
from dense_ood_ros.replay.session import COMPONENT_TRACK, ReplayOptions, ReplayResult

STATE_DIR = ".dense_ood_fleet"
INSTALL_HINT = "pip install 'dense_ood_ros[fleet]'"
PROGRESS_EVERY_S = 0.5
MAX_RETRIES = 1  # a task whose worker dies runs once more, then its bag is reported


class FleetError(BagError):
    """A fleet that cannot start: no Ray, no cluster, an --output that is not a fleet folder."""


class RayMissingError(FleetError):
    """--workers or --ray-address without Ray installed."""


class OutputInTheWayError(FleetError):
    """A bag's output exists from another run (or none) and --overwrite was not given."""


@dataclass
class FleetSettings:
    """What every task of a fleet does: the model, the pipeline and the replay options."""

    model: Path
    output: Path
    options: ReplayOptions  # bags and output are set per task
    backend: str = "auto"
    threshold: float | None = None
    output_size: str = "camera"
    overwrite: bool = False

    def config(self, bag: InputBag) -> dict[str, Any]:
        """What a marker records to tell whether an output came from the same command."""
        stat = self.model.stat()
        o = self.options
        return json_ready({
            "source": str(bag.source), "model": str(self.model.resolve()),
            "model_bytes": stat.st_size, "model_mtime_ns": stat.st_mtime_ns,
            "backend": self.backend, "threshold": self.threshold, "output_size": self.output_size,
            "topics": o.topics, "labels": [[s.labels, s.camera] for s in o.labels_specs()],
            "max_frames": o.max_frames, "storage": o.storage, "copy_inputs": o.copy_inputs,
            "color": o.color, "overlay": o.overlay,
        })  # fmt: skip


@dataclass
class BagOutcome:
    """What one bag's task did (or why it failed), and its mergeable metric summary."""

    relative: str
    source: str
    output: str
    status: str = "failed"  # done | skipped (complete before) | failed
    reason: str | None = None
    frames_in: int = 0
    processed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    per_camera: dict[str, int] = field(default_factory=dict)
    labelled: int = 0
    unlabelled: int = 0
    labels_per_camera: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages_written: int = 0
    wall_s: float = 0.0
    model_load_s: float | None = None  # None: the worker had the model loaded already
    max_rss_mb: float = 0.0
    worker: str = ""
    score_name: str = ""
    class_names: list[str] = field(default_factory=list)
    palette: list[list[int]] = field(default_factory=list)
    class_pixels: list[int] = field(default_factory=list)
    stages_ms: dict[str, list[float]] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)  # this bag's own (binned, no curves)
    summary: ScoreSummary | None = None
    samples: list[tuple[str, np.ndarray, np.ndarray | None]] = field(default_factory=list)
    log: str = ""

    @property
    def frames_per_s(self) -> float:
        return self.processed / self.wall_s if self.wall_s > 0 else float("nan")

    def record(self) -> dict[str, Any]:
        """The JSON part (no summary, samples or log)."""
        skip = {"summary", "samples", "log"}
        return {k: v for k, v in asdict(self).items() if k not in skip}


# --- state on disk ------------------------------------------------------------------------------


def marker_path(output: Path, relative: str) -> Path:
    return output / STATE_DIR / f"{relative}.json"


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
            result.known[relative] = BagOutcome(
                relative, str(bag.source), str(output),
                reason=f"{output} exists from another run; pass --overwrite to replace it",
            )  # fmt: skip
    return result


def _from_marker(state: dict[str, Any], marker: Path) -> BagOutcome:
    outcome = BagOutcome(**state["outcome"])
    outcome.status = "skipped"
    summary = marker.with_suffix(".npz")
    outcome.summary = load_summary(summary) if summary.is_file() else None
    return outcome


# --- the task -----------------------------------------------------------------------------------

_PIPELINES: dict[tuple[Any, ...], Any] = {}  # per worker process: the model loaded once


def _pipeline(settings: FleetSettings) -> tuple[Any, float | None]:
    """The worker's pipeline for `settings` (loaded once per process) and the load time
    (None when it was loaded before)."""
    from dense_ood_ros.engine import load_engine
    from dense_ood_ros.pipeline.frame_pipeline import Pipeline

    stat = settings.model.stat()
    key = (str(settings.model), stat.st_mtime_ns, settings.backend, settings.threshold,
           settings.output_size)  # fmt: skip
    if key in _PIPELINES:
        return _PIPELINES[key], None
    start = time.perf_counter()
    engine = load_engine(settings.model, settings.backend)
    pipeline = Pipeline(engine, settings.threshold, output_size=settings.output_size)
    _PIPELINES[key] = pipeline
    return pipeline, time.perf_counter() - start


def _max_rss_mb() -> float:
    import resource

    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024.0 if sys.platform != "darwin" else kib / 2**20


def _reporting(index: int, progress: Any) -> Callable[[Iterator[Any], int], Iterator[Any]]:
    """A ReplaySession progress hook telling `progress` (an actor) how far bag `index` is."""

    def hook(frames: Iterator[Any], total: int) -> Iterator[Any]:
        progress.update.remote(index, 0, total)
        done, last = 0, time.monotonic()
        for item in frames:
            yield item
            done += 1
            if time.monotonic() - last >= PROGRESS_EVERY_S:
                progress.update.remote(index, done, total)
                last = time.monotonic()
        progress.update.remote(index, done, total)

    return hook


def replay_bag(
    bag: InputBag, settings: FleetSettings, index: int = 0, progress: Any = None
) -> BagOutcome:
    """Replay one bag into OUT/<relative> (the task body); never raises for a bad bag."""
    relative = str(bag.relative)
    output = settings.output / relative
    outcome = BagOutcome(relative, str(bag.source), str(output))
    outcome.worker = f"{os.uname().nodename}:{os.getpid()}"
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    logging.getLogger().addHandler(handler)
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            _replay_into(bag, settings, outcome, index, progress)
    except DenseOodError as exc:
        outcome.status, outcome.reason = "failed", first_line(exc)
    except Exception as exc:  # an unexpected error fails this bag alone; the log has it
        outcome.status, outcome.reason = "failed", f"{type(exc).__name__}: {first_line(exc)}"
        log.write(traceback.format_exc())
    finally:
        logging.getLogger().removeHandler(handler)
    outcome.max_rss_mb = _max_rss_mb()
    if outcome.reason:
        log.write(f"failed: {outcome.reason}\n")
    outcome.log = log.getvalue()
    return outcome


def _replay_into(
    bag: InputBag, settings: FleetSettings, outcome: BagOutcome, index: int, progress: Any
) -> None:
    from dense_ood_ros.replay.session import ReplaySession

    output = Path(outcome.output)
    marker = marker_path(settings.output, outcome.relative)
    config = settings.config(bag)
    pipeline, outcome.model_load_s = _pipeline(settings)
    options = ReplayOptions(**{**asdict_shallow(settings.options), "bags": [bag.source],
                               "output": output, "engine_timing_frames": 0,
                               "samples": min(settings.options.samples, 1)})  # fmt: skip
    hook = _reporting(index, progress) if progress is not None else None
    session = ReplaySession(pipeline, options, hook)
    session.check()
    write_json(marker, {"state": "started", "config": config})
    remove_output(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    summary = ScoreSummary([session.result.score_name], pipeline.threshold, COMPONENT_TRACK)
    result = session.run(summary)
    _fill(outcome, result, summary)
    if result.error:
        outcome.status, outcome.reason = "failed", result.error
        return
    outcome.status = "done"
    save_summary(marker.with_suffix(".npz"), summary)
    write_json(marker, {"state": "complete", "config": config, "outcome": outcome.record()})


def asdict_shallow(options: ReplayOptions) -> dict[str, Any]:
    """The options' fields (not copied deeply, unlike dataclasses.asdict)."""
    return {name: getattr(options, name) for name in options.__dataclass_fields__}


def _fill(outcome: BagOutcome, result: ReplayResult, summary: ScoreSummary) -> None:
    """Copy a session's result into the outcome."""
    from dense_ood_ros.replay.report import labels_per_camera

    outcome.frames_in, outcome.processed = result.frames_in, result.processed
    outcome.skipped, outcome.per_camera = dict(result.skipped), dict(result.per_camera)
    outcome.labelled, outcome.unlabelled = result.labelled, result.unlabelled
    outcome.labels_per_camera = labels_per_camera(result)
    outcome.messages_written, outcome.wall_s = result.messages_written, result.wall_s
    outcome.score_name = result.score_name
    outcome.class_names, outcome.palette = list(result.class_names), result.palette
    pixels = result.class_pixels
    outcome.class_pixels = [] if pixels is None else [int(v) for v in pixels]
    outcome.stages_ms = {k: [float(x) for x in v] for k, v in result.stages_ms.items()}
    outcome.metrics = {
        name: {k: v for k, v in m.items() if k != "curves"} for name, m in result.metrics.items()
    }
    outcome.summary = summary if summary.frames else None
    outcome.samples = result.samples


# --- the driver ---------------------------------------------------------------------------------


@dataclass
class Cluster:
    """Where a fleet runs: a local cluster of `workers` CPUs, or the cluster at `address`."""

    workers: int | None = None
    address: str | None = None


def import_ray() -> Any:
    """The ray module, or RayMissingError with the install line."""
    try:
        import ray
    except ImportError as exc:
        raise RayMissingError(
            f"a fleet (--workers, --ray-address) needs Ray: {INSTALL_HINT}"
        ) from exc
    return ray


@contextlib.contextmanager
def connected(cluster: Cluster) -> Iterator[Any]:
    """Ray, connected to `cluster` (or to the one this process started before) for the block."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                              "logging_level": logging.WARNING}  # fmt: skip
    try:
        if cluster.address is not None:
            ray.init(address=cluster.address, **kwargs)
        else:
            ray.init(num_cpus=cluster.workers, **kwargs)
    except Exception as exc:  # ConnectionError, RuntimeError, ... from ray.init
        where = cluster.address or "a local cluster"
        raise FleetError(f"cannot start Ray on {where} ({first_line(exc)})") from exc
    try:
        yield ray
    finally:
        ray.shutdown()


@dataclass
class FleetResult:
    """Every bag's outcome (input order) and the pooled result of the bags that finished."""

    outcomes: list[BagOutcome]
    pooled: ReplayResult
    summary: ScoreSummary | None
    wall_s: float
    workers: int
    start_s: float = 0.0  # planning and connecting to (or starting) the cluster


def run_fleet(
    bags: Sequence[InputBag],
    settings: FleetSettings,
    cluster: Cluster,
    progress: Callable[[int], Any] | None = None,
) -> FleetResult:
    """Replay `bags` on `cluster`, one task per bag; `progress(total)` makes a tqdm-like bar."""
    started = time.perf_counter()
    if (settings.output / "metadata.yaml").exists():
        raise FleetError(f"--output {settings.output} is a bag, not a folder for a fleet's bags")
    work = plan(bags, settings)
    outcomes: dict[str, BagOutcome] = dict(work.known)
    with connected(cluster) as ray:
        start_s = time.perf_counter() - started
        workers = int(ray.cluster_resources().get("CPU", 1))
        if work.to_run:
            outcomes |= _run_tasks(ray, work.to_run, settings, progress, len(work.known))
        wall_s = time.perf_counter() - started  # not counting a local cluster's shutdown
    ordered = [outcomes[str(bag.relative)] for bag in bags]
    pooled, summary = pool(ordered, wall_s)
    return FleetResult(ordered, pooled, summary, wall_s, workers, start_s)


def _progress_actor(ray: Any) -> Any:
    @ray.remote(num_cpus=0)
    class Progress:
        """Frames done and total per bag, as the tasks report them."""

        def __init__(self) -> None:
            self.done: dict[int, int] = {}
            self.total: dict[int, int] = {}

        def update(self, index: int, done: int, total: int) -> None:
            self.done[index], self.total[index] = done, total

        def state(self) -> tuple[dict[int, int], dict[int, int]]:
            return self.done, self.total

    return Progress.remote()  # type: ignore[attr-defined]


def _run_tasks(
    ray: Any,
    bags: list[InputBag],
    settings: FleetSettings,
    progress: Callable[[int], Any] | None,
    known: int,
) -> dict[str, BagOutcome]:
    """Submit one task per bag (retried once if its worker dies) and gather the outcomes."""
    actor = _progress_actor(ray)
    task = ray.remote(max_retries=MAX_RETRIES, num_cpus=1)(replay_bag)
    pending = {task.remote(bag, settings, i, actor): (i, bag) for i, bag in enumerate(bags)}
    outcomes: dict[str, BagOutcome] = {}
    bar = progress(0) if progress is not None else None
    failed = 0
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=PROGRESS_EVERY_S)
        for ref in ready:
            _, bag = pending.pop(ref)
            outcome = _gather(ray, ref, bag, settings)
            outcomes[str(bag.relative)] = outcome
            failed += outcome.status == "failed"
        if bar is not None:
            done, total = ray.get(actor.state.remote())
            _update_bar(bar, done, total, len(bags), len(outcomes), failed, known)
    if bar is not None:
        bar.close()
    return outcomes


def _gather(ray: Any, ref: Any, bag: InputBag, settings: FleetSettings) -> BagOutcome:
    """A task's outcome, or a failed one when its worker died twice."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayError as exc:
        relative = str(bag.relative)
        outcome = BagOutcome(relative, str(bag.source), str(settings.output / relative))
        outcome.reason = f"worker failed twice: {type(exc).__name__}: {first_line(exc)}"
        outcome.log = str(exc)
        return outcome


def _update_bar(
    bar: Any, done: dict, total: dict, bags: int, finished: int, failed: int, known: int
) -> None:
    """Frames over the fleet (bags not started yet counted at the mean of the started)."""
    started = len(total)
    mean = sum(total.values()) / started if started else 0
    bar.total = int(sum(total.values()) + mean * (bags - started))
    bar.n = sum(done.values())
    bar.set_postfix_str(f"bags {finished + known}/{bags + known} done, {failed} failed")
    bar.refresh()


def pool(outcomes: Sequence[BagOutcome], wall_s: float) -> tuple[ReplayResult, ScoreSummary | None]:
    """The pooled ReplayResult (counts, stages, merged metrics) of the bags that finished."""
    from dense_ood_ros.replay.session import CURVE_POINTS, CameraLabels

    finished = [o for o in outcomes if o.status != "failed"]
    first = next((o for o in outcomes if o.class_names), None)
    result = ReplayResult(wall_s=wall_s)
    if first is not None:
        result.score_name, result.class_names = first.score_name, tuple(first.class_names)
        result.palette = first.palette
        result.class_pixels = np.zeros(len(first.class_names), np.int64)
    summary: ScoreSummary | None = None
    for o in finished:
        result.frames_in += o.frames_in
        result.processed += o.processed
        result.skipped.update(Counter(o.skipped))
        result.per_camera.update(Counter(o.per_camera))
        result.labelled += o.labelled
        result.unlabelled += o.unlabelled
        result.messages_written += o.messages_written
        for camera, c in o.labels_per_camera.items():
            counts = result.labels_per_camera.setdefault(camera, CameraLabels())
            counts.labels_topics += [t for t in c["labels_topics"] if t not in counts.labels_topics]
            counts.labels += c["labels"]
            counts.scored += c["scored"]
            counts.without_label += c["without_label"]
        for stage, values in o.stages_ms.items():
            result.stages_ms.setdefault(stage, []).extend(values)
        if result.class_pixels is not None and len(o.class_pixels) == result.class_pixels.size:
            result.class_pixels += np.asarray(o.class_pixels, np.int64)
        result.samples += o.samples[: max(0, 4 - len(result.samples))]
        if o.summary is not None:
            summary = o.summary if summary is None else summary.merge(o.summary)
    if summary is not None:
        result.metrics = summary.metrics(curve_points=CURVE_POINTS)
    return result, summary


def fleet_section(result: FleetResult) -> dict[str, Any]:
    """The report's "fleet" part: workers, one row per bag, the failed bags with reasons."""
    rows = []
    for o in result.outcomes:
        metrics: dict[str, Any] = next(iter(o.metrics.values()), {})
        rows.append({
            "bag": o.relative, "source": o.source, "output": o.output, "status": o.status,
            "reason": o.reason, "frames_in": o.frames_in, "frames_processed": o.processed,
            "frames_skipped": o.skipped, "frames_labelled": o.labelled,
            "frames_per_s": o.frames_per_s, "wall_s": o.wall_s, "model_load_s": o.model_load_s,
            "max_rss_mb": o.max_rss_mb, "worker": o.worker,
            "ap": metrics.get("ap"), "fpr95": metrics.get("fpr95"), "auroc": metrics.get("auroc"),
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


def write_logs(outcomes: Sequence[BagOutcome], folder: Path) -> None:
    """One log file per bag that ran (its worker's output, a failure's traceback)."""
    for o in outcomes:
        if o.status == "skipped":
            continue
        path = folder / "logs" / f"{o.relative}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        head = f"bag {o.source} -> {o.output} on {o.worker or '?'}: {o.status}"
        path.write_text(head + (f" ({o.reason})" if o.reason else "") + "\n" + o.log)
