"""A fleet's progress: tasks tell an actor how far their bag is; the driver draws one bar."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

PROGRESS_EVERY_S = 0.5


def progress_actor(ray: Any) -> Any:
    """A Ray actor holding frames done and total per bag."""

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


def reporting(index: int, progress: Any) -> Callable[[Iterator[Any], int], Iterator[Any]]:
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


def update_bar(
    bar: Any, done: dict, total: dict, bags: int, finished: int, failed: int, known: int
) -> None:
    """Frames over the fleet (bags not started yet counted at the mean of the started)."""
    started = len(total)
    mean = sum(total.values()) / started if started else 0
    bar.total = int(sum(total.values()) + mean * (bags - started))
    bar.n = sum(done.values())
    bar.set_postfix_str(f"bags {finished + known}/{bags + known} done, {failed} failed")
    bar.refresh()
