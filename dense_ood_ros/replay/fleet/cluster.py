"""The driver: Ray connected or started, one task per bag (retried once if its worker dies),
the outcomes gathered in input order and pooled."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from dense_ood_ros.errors import first_line
from dense_ood_ros.metrics.summary import ScoreSummary
from dense_ood_ros.replay.fleet.errors import FleetError, RayMissingError
from dense_ood_ros.replay.fleet.markers import plan
from dense_ood_ros.replay.fleet.outcome import BagOutcome
from dense_ood_ros.replay.fleet.pooling import pool
from dense_ood_ros.replay.fleet.progress import PROGRESS_EVERY_S, progress_actor, update_bar
from dense_ood_ros.replay.fleet.settings import FleetSettings
from dense_ood_ros.replay.fleet.worker import replay_bag
from dense_ood_ros.replay.inputs import InputBag
from dense_ood_ros.replay.session import ReplayResult

INSTALL_HINT = "pip install 'dense_ood_ros[fleet]'"
MAX_RETRIES = 1  # a task whose worker dies runs once more, then its bag is reported


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


def _run_tasks(
    ray: Any,
    bags: list[InputBag],
    settings: FleetSettings,
    progress: Callable[[int], Any] | None,
    known: int,
) -> dict[str, BagOutcome]:
    """Submit one task per bag (retried once if its worker dies) and gather the outcomes."""
    actor = progress_actor(ray)
    task = ray.remote(max_retries=MAX_RETRIES, num_cpus=1)(replay_bag)
    pending = {task.remote(bag, settings, i, actor): (i, bag) for i, bag in enumerate(bags)}
    outcomes: dict[str, BagOutcome] = {}
    bar = progress(0) if progress is not None else None
    failed = 0
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=PROGRESS_EVERY_S)
        for ref in ready:
            _, bag = pending.pop(ref)
            outcome = gather(ray, ref, bag, settings)
            outcomes[str(bag.relative)] = outcome
            failed += outcome.status == "failed"
        if bar is not None:
            done, total = ray.get(actor.state.remote())
            update_bar(bar, done, total, len(bags), len(outcomes), failed, known)
    if bar is not None:
        bar.close()
    return outcomes


def gather(ray: Any, ref: Any, bag: InputBag, settings: FleetSettings) -> BagOutcome:
    """A task's outcome, or a failed one when its worker died twice."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayError as exc:
        reason = f"worker failed twice: {type(exc).__name__}: {first_line(exc)}"
        return BagOutcome.of(bag, settings.output, reason=reason, log=str(exc))
