"""Per-camera counters, latency percentiles and diagnostic levels."""

from __future__ import annotations

import math

from dense_ood_ros.ros.camera_stats import CameraStats, Level


class FakeClock:
    """A settable monotonic clock, so hold and stale times are tested without sleeping."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_counters_and_percentiles() -> None:
    stats = CameraStats(window=100)
    for latency in range(1, 101):
        stats.on_received()
        stats.on_processed(float(latency))
    stats.on_dropped(3)
    latency = stats.latency_ms()
    assert latency["p50"] == 50.5
    assert math.isclose(latency["p95"], 95.05)
    assert latency["max"] == 100.0
    values = dict(stats.status().values)
    assert values["frames_in"] == "100"
    assert values["frames_processed"] == "100"
    assert values["frames_dropped"] == "3"
    assert values["latency_ms_p50"] == "50.5"
    assert values["latency_ms_max"] == "100.0"
    assert values["last_error"] == ""


def test_window_keeps_recent_latencies_only() -> None:
    stats = CameraStats(window=10)
    for _ in range(50):
        stats.on_processed(1000.0)
    for _ in range(10):
        stats.on_processed(5.0)
    assert stats.latency_ms() == {"p50": 5.0, "p95": 5.0, "max": 5.0}


def test_levels_over_time() -> None:
    clock = FakeClock()
    stats = CameraStats(hold_s=5.0, stale_s=5.0, clock=clock)
    status = stats.status()
    assert (status.level, status.message) == (Level.WARN, "waiting for frames")
    assert dict(status.values)["latency_ms_p50"] == "nan"

    stats.on_received()
    stats.on_processed(12.0)
    assert stats.status().level == Level.OK

    stats.on_received()
    stats.on_rejected("unknown encoding 'foo'")
    status = stats.status()
    assert status.level == Level.ERROR
    assert "unknown encoding 'foo'" in status.message
    assert dict(status.values)["frames_rejected"] == "1"
    assert dict(status.values)["last_error"] == "unknown encoding 'foo'"

    clock.now += 6.0  # the error is older than hold_s, but no frame came since: stale
    stats.on_received()
    stats.on_dropped()
    status = stats.status()
    assert status.level == Level.WARN
    assert "dropping" in status.message
    assert dict(status.values)["last_error"] == "unknown encoding 'foo'"  # kept for inspection

    clock.now += 6.0
    status = stats.status()
    assert (status.level, status.message) == (Level.WARN, "no frames for 6 s")
    stats.on_received()
    assert stats.status().level == Level.OK

    stats.on_failed("engine exploded")
    assert stats.status().level == Level.ERROR
    assert dict(stats.status().values)["frames_failed"] == "1"


def test_sequence_gaps_count_frames_lost_in_transport() -> None:
    clock = FakeClock()
    stats = CameraStats(hold_s=5.0, clock=clock)
    stats.on_received()
    assert dict(stats.status().values)["frames_lost"] == "n/a"  # no sequence numbers (Humble)
    for sequence in (1, 2, 3, 7, 8, 10):  # 4-6 and 9 never arrived
        clock.now += 0.1
        stats.on_received(sequence)
    status = stats.status()
    assert dict(status.values)["frames_lost"] == "4"
    assert status.level == Level.WARN and "losing frames in transport" in status.message
    clock.now += 0.1
    stats.on_received(1)  # the camera driver restarted: counting starts again
    clock.now += 0.1
    stats.on_received(2)
    assert stats.lost == 4
    clock.now += 6.0
    stats.on_received(3)
    assert stats.status().level == Level.OK  # the loss is older than hold_s


def test_input_rate_from_arrivals() -> None:
    clock = FakeClock()
    stats = CameraStats(clock=clock)
    assert dict(stats.status().values)["input_rate_hz"] == "nan"
    for _ in range(21):
        stats.on_received()
        clock.now += 0.05
    assert math.isclose(stats.input_rate_hz(), 20.0)
    assert dict(stats.status().values)["input_rate_hz"] == "20.0"


def test_status_names_every_condition_that_holds() -> None:
    """Losing in transport, dropping and rejecting can all hold at once: all are named, at the
    highest level among them (a loaded machine must not hide its drops behind its losses)."""
    clock = FakeClock()
    stats = CameraStats(hold_s=5.0, clock=clock)
    for sequence in (1, 3):  # 2 lost in transport
        stats.on_received(sequence)
    stats.on_dropped()
    status = stats.status()
    assert status.level == Level.WARN
    assert "losing frames in transport" in status.message and "dropping" in status.message
    stats.on_rejected("corrupt JPEG")
    status = stats.status()
    assert status.level == Level.ERROR
    assert status.message.startswith("error: corrupt JPEG; ")
    assert "losing frames in transport" in status.message and "dropping" in status.message
    clock.now += 6.0  # every event is older than hold_s, and no frame came: only stale is left
    status = stats.status()
    assert (status.level, status.message) == (Level.WARN, "no frames for 6 s")
