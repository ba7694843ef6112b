"""Per-camera counters and latency percentiles for /diagnostics (ROS-free, thread-safe).

The subscription callback counts frames in, drops, and frames lost in transport (gaps in the
publishers' sequence numbers, where the middleware reports them), and measures the input rate;
the worker counts processed, rejected (bad input) and failed frames and their latency.
`status()` turns that into a level, a message and key/value pairs, which the node copies into
a diagnostic_msgs/DiagnosticStatus.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

from dense_ood_ros.metrics.latency import summarize


class Level(IntEnum):
    """Same values as diagnostic_msgs/DiagnosticStatus levels."""

    OK = 0
    WARN = 1
    ERROR = 2


@dataclass(frozen=True)
class CameraStatus:
    """One camera's diagnostic status."""

    level: Level
    message: str
    values: list[tuple[str, str]]


class CameraStats:
    """Counters of one camera, a window of recent latencies, and the last error.

    `hold_s`: how long a rejected frame keeps the level at ERROR, and a drop at WARN.
    `stale_s`: after this long without frames the camera is reported stale (WARN).
    """

    def __init__(
        self,
        window: int = 256,
        hold_s: float = 5.0,
        stale_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._hold_s = hold_s
        self._stale_s = stale_s
        self._latencies: deque[float] = deque(maxlen=window)
        self._arrivals: deque[float] = deque(maxlen=window)
        self._last_sequence: int | None = None
        self._last_loss_at: float | None = None
        self.lost: int | None = None  # None: the middleware reports no sequence numbers
        self.frames_in = 0
        self.processed = 0
        self.dropped = 0
        self.rejected = 0
        self.failed = 0
        self.last_error = ""
        self._last_in: float | None = None
        self._last_error_at: float | None = None
        self._last_drop_at: float | None = None

    def on_received(self, sequence: int | None = None) -> None:
        """A frame arrived; `sequence` is its publication sequence number when known.

        A jump in the sequence counts the frames in between as lost in transport (one
        publisher per camera topic, the camera driver); a step back (a restarted publisher)
        starts counting afresh.
        """
        with self._lock:
            now = self._clock()
            self.frames_in += 1
            self._last_in = now
            self._arrivals.append(now)
            if sequence is None:
                return
            if self.lost is None:
                self.lost = 0
            last = self._last_sequence
            if last is not None and sequence > last + 1:
                self.lost += sequence - last - 1
                self._last_loss_at = now
            self._last_sequence = sequence

    def input_rate_hz(self) -> float:
        """Frames per second over the recent arrivals (NaN with fewer than two)."""
        with self._lock:
            arrivals = list(self._arrivals)
        if len(arrivals) < 2 or arrivals[-1] <= arrivals[0]:
            return math.nan
        return (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])

    def on_dropped(self, count: int = 1) -> None:
        with self._lock:
            self.dropped += count
            self._last_drop_at = self._clock()

    def on_processed(self, latency_ms: float) -> None:
        with self._lock:
            self.processed += 1
            self._latencies.append(float(latency_ms))

    def on_rejected(self, reason: str) -> None:
        """A bad input frame (undecodable): counted, remembered as the last error."""
        with self._lock:
            self.rejected += 1
            self._set_error(reason)

    def on_failed(self, reason: str) -> None:
        """A good frame whose processing failed (engine or publishing error)."""
        with self._lock:
            self.failed += 1
            self._set_error(reason)

    def _set_error(self, reason: str) -> None:
        self.last_error = reason
        self._last_error_at = self._clock()

    def latency_ms(self) -> dict[str, float]:
        """p50, p95 and max of the recent latencies in ms (NaN before the first frame)."""
        with self._lock:
            values = list(self._latencies)
        return summarize(values, ("p50", "p95", "max"))

    def status(self) -> CameraStatus:
        """Level and message (worst condition first) plus every counter as key/value strings."""
        now = self._clock()
        latency = self.latency_ms()
        rate = self.input_rate_hz()
        with self._lock:
            level, message = self._level(now)
            values = [
                ("frames_in", str(self.frames_in)),
                ("frames_processed", str(self.processed)),
                ("frames_dropped", str(self.dropped)),
                ("frames_lost", "n/a" if self.lost is None else str(self.lost)),
                ("input_rate_hz", _fmt(rate)),
                ("frames_rejected", str(self.rejected)),
                ("frames_failed", str(self.failed)),
                ("latency_ms_p50", _fmt(latency["p50"])),
                ("latency_ms_p95", _fmt(latency["p95"])),
                ("latency_ms_max", _fmt(latency["max"])),
                ("last_error", self.last_error),
            ]
        return CameraStatus(level, message, values)

    def _level(self, now: float) -> tuple[Level, str]:
        """Every condition that holds now, worst first, joined by '; ' (none: OK, "ok").

        Conditions can hold together (a loaded machine both loses frames in transport and
        drops them before the engine): an operator is told all of them, at the highest level.
        """
        conditions = self._conditions(now)
        if not conditions:
            return Level.OK, "ok"
        conditions.sort(key=lambda item: -item[0])
        return conditions[0][0], "; ".join(text for _, text in conditions)

    def _conditions(self, now: float) -> list[tuple[Level, str]]:
        found: list[tuple[Level, str]] = []
        if self._held(self._last_error_at, now):
            found.append((Level.ERROR, f"error: {self.last_error}"))
        if self._last_in is None:
            found.append((Level.WARN, "waiting for frames"))
        elif now - self._last_in > self._stale_s:
            found.append((Level.WARN, f"no frames for {now - self._last_in:.0f} s"))
        if self._held(self._last_loss_at, now):
            found.append(
                (Level.WARN, "losing frames in transport (frames_lost): see QoS in docs/node.md")
            )
        if self._held(self._last_drop_at, now):
            found.append((Level.WARN, "dropping frames: camera faster than the engine"))
        return found

    def _held(self, since: float | None, now: float) -> bool:
        """An event at `since` still colours the status (within hold_s)."""
        return since is not None and now - since <= self._hold_s


def _fmt(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.1f}"
