"""No silent frame loss over real Fast DDS (dense-ood bench-transport's measurement): 640x480
bgr8 at 10 Hz. A reliable camera loses nothing in transport under the default `qos: auto`; from
a best-effort camera, what does not arrive is counted as frames_lost in /diagnostics. Every
published frame is accounted for: answered, dropped for a newer one, or lost. Which of these a
busy machine produces is not asserted, only that they add up (the node's counts are rates over
the span of its own statuses, the published and answered ones over the window)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

pytest.importorskip("rclpy")

from dense_ood_ros.tools.transport_bench import measure

pytestmark = pytest.mark.ros
SECONDS = 5.0
# transport is measured, not the model: the synthroad model keeps up with 10 Hz on 2 cores (the
# default CamVid model runs at about 4 Hz there, so the node would rightly drop frames)
FAST_MODEL = Path(__file__).resolve().parents[1] / "models" / "synthroad_nflowjs.onnx"


def _measure(reliability: str) -> dict:
    args = argparse.Namespace(model=FAST_MODEL, height=480, width=640, rate=10.0,
                              reliability=reliability, profile=False, qos=None,
                              seconds=SECONDS, warmup=3.0)  # fmt: skip
    return measure(args)


def _accounted_hz(row: dict) -> float:
    """Frames per second answered, dropped for a newer frame, or counted lost in transport."""
    return row["masks_hz"] + row["dropped_hz"] + (row["lost_hz"] or 0.0)


def test_a_reliable_camera_loses_nothing_in_transport() -> None:
    row = _measure("reliable")
    assert row["published_hz"] >= 9.5, row
    assert row["frames_lost"] == 0, row
    assert _accounted_hz(row) >= 0.9 * row["published_hz"], row


def test_frames_a_best_effort_camera_loses_are_counted() -> None:
    row = _measure("best_effort")
    assert isinstance(row["frames_lost"], int), row  # sequence numbers are reported (Jazzy)
    assert row["received_hz"] + row["lost_hz"] >= 0.9 * row["published_hz"], row
    assert _accounted_hz(row) >= 0.85 * row["published_hz"], row
