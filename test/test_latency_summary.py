"""The one summary of timing samples used by the bench, the replay report and the node."""

from __future__ import annotations

import math

import pytest

from dense_ood_ros.metrics.frames import MetricsError
from dense_ood_ros.metrics.latency import summarize


def test_summary_of_samples() -> None:
    summary = summarize(float(v) for v in range(1, 101))
    assert summary == {"mean": 50.5, "p50": 50.5, "p95": pytest.approx(95.05), "max": 100.0}
    assert list(summarize([3.0, 1.0], ("p50", "max"))) == ["p50", "max"]


def test_no_samples_is_nan_and_an_unknown_key_is_refused() -> None:
    assert all(math.isnan(v) for v in summarize([]).values())
    with pytest.raises(MetricsError, match="unknown statistics"):
        summarize([1.0], ("p99",))
