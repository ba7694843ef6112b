"""Keep-newest-frame-per-camera slots between the callbacks and the worker."""

from __future__ import annotations

import threading
import time

import pytest

from dense_ood_ros.ros.camera_stats import CameraStats
from dense_ood_ros.ros.frame_slots import FrameSlots


def test_newest_frame_replaces_pending_and_says_so() -> None:
    slots: FrameSlots[int] = FrameSlots(["a", "b"])
    assert slots.put("a", 1) is False
    assert slots.put("a", 2) is True  # 1 was dropped
    assert slots.put("a", 3) is True  # 2 was dropped
    assert slots.put("b", 10) is False
    assert slots.pending() == 2
    assert slots.take(timeout=0) == [("a", 3), ("b", 10)]
    assert slots.pending() == 0
    # A frame put after the take is new, not a drop.
    assert slots.put("a", 4) is False


def test_take_orders_by_latest_arrival() -> None:
    slots: FrameSlots[str] = FrameSlots(["a", "b", "c"])
    slots.put("a", "a1")
    slots.put("b", "b1")
    slots.put("a", "a2")  # replaced: now arrived after b
    slots.put("c", "c1")
    assert [name for name, _ in slots.take(0)] == ["b", "a", "c"]


def test_unknown_camera_is_an_error() -> None:
    slots: FrameSlots[int] = FrameSlots(["a"])
    with pytest.raises(KeyError, match="unknown camera"):
        slots.put("z", 1)


def test_take_times_out_empty() -> None:
    slots: FrameSlots[int] = FrameSlots(["a"])
    start = time.monotonic()
    assert slots.take(timeout=0.05) == []
    assert time.monotonic() - start >= 0.04


def test_take_wakes_on_put_and_on_close() -> None:
    slots: FrameSlots[int] = FrameSlots(["a"])
    got: list[list[tuple[str, int]]] = []
    worker = threading.Thread(target=lambda: got.append(slots.take(timeout=5)))
    worker.start()
    time.sleep(0.02)
    slots.put("a", 7)
    worker.join(2)
    assert got == [[("a", 7)]]

    worker = threading.Thread(target=lambda: got.append(slots.take(timeout=5)))
    worker.start()
    time.sleep(0.02)
    slots.close()
    worker.join(2)
    assert not worker.is_alive()
    assert got[-1] == []
    assert slots.closed


def test_concurrent_producers_never_queue_more_than_one_per_camera() -> None:
    """Fast producers and a slow consumer: every frame is either taken or reported dropped by
    `put` (what the node counts in CameraStats)."""
    names = ["a", "b"]
    slots: FrameSlots[int] = FrameSlots(names)
    per_camera = 2000
    taken: dict[str, list[int]] = {name: [] for name in names}
    stats = {name: CameraStats() for name in names}

    def produce(name: str) -> None:
        for i in range(per_camera):
            if slots.put(name, i):
                stats[name].on_dropped()

    def consume() -> None:
        while True:
            batch = slots.take(timeout=0.2)
            if not batch:
                return
            assert len(batch) <= len(names)
            for name, item in batch:
                taken[name].append(item)
            time.sleep(0.001)

    producers = [threading.Thread(target=produce, args=(n,)) for n in names]
    consumer = threading.Thread(target=consume)
    for thread in [*producers, consumer]:
        thread.start()
    for thread in [*producers, consumer]:
        thread.join(10)
    for name in names:
        dropped = int(dict(stats[name].status().values)["frames_dropped"])
        assert len(taken[name]) + dropped == per_camera
        assert taken[name] == sorted(taken[name])  # never an older frame after a newer one
        assert taken[name][-1] == per_camera - 1  # the newest frame is the one processed
        assert dropped > 0
