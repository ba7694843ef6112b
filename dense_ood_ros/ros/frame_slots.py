"""Keep-newest frame slots: one slot per camera between the ROS callbacks and the worker.

A camera faster than the engine must never build a backlog: each camera holds at most one
pending frame, a newer frame replaces the pending one (`put` says so; the caller counts the drop
in its CameraStats, the one place drops are counted), and the worker takes all pending frames at
once, oldest arrival first, so every camera gets its turn.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import Generic, TypeVar

T = TypeVar("T")


class FrameSlots(Generic[T]):
    """Thread-safe newest-frame-per-camera slots."""

    def __init__(self, names: Iterable[str]) -> None:
        self._names = tuple(names)
        self._pending: OrderedDict[str, T] = OrderedDict()
        self._closed = False
        self._cond = threading.Condition()

    @property
    def names(self) -> tuple[str, ...]:
        return self._names

    @property
    def closed(self) -> bool:
        with self._cond:
            return self._closed

    def put(self, name: str, item: T) -> bool:
        """Store `item` as the newest frame of `name`; True if it replaced an unprocessed one
        (a dropped frame)."""
        if name not in self._names:
            raise KeyError(f"unknown camera {name!r}")
        with self._cond:
            replaced = self._pending.pop(name, None) is not None
            self._pending[name] = item  # (re)inserted last: arrival order
            self._cond.notify()
            return replaced

    def take(self, timeout: float | None = None) -> list[tuple[str, T]]:
        """Every pending (camera, frame), oldest arrival first, emptying the slots.

        Waits up to `timeout` seconds (None: forever) for a frame; returns [] on timeout or
        once the slots are closed.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._pending and not self._closed:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return []
                self._cond.wait(remaining)
            if self._closed:
                return []
            taken = list(self._pending.items())
            self._pending.clear()
            return taken

    def pending(self) -> int:
        """How many cameras have a frame waiting."""
        with self._cond:
            return len(self._pending)

    def close(self) -> None:
        """Wake and stop every waiting `take`; later puts are kept but never taken."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
