"""Summaries of timing samples (mean, p50, p95, max): one helper for the bench, the replay
report and the node's diagnostics, so they all mean the same thing by "p95"."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from dense_ood_ros.metrics.frames import MetricsError

#: Every statistic `summarize` knows, in the order reports print them.
STATISTICS = ("mean", "p50", "p95", "max")


def summarize(values: Iterable[float], keys: Sequence[str] = STATISTICS) -> dict[str, float]:
    """`keys` (of STATISTICS) of `values`; percentiles interpolate linearly, as numpy's default.

    NaN for every key where there are no values (a camera before its first frame).
    """
    unknown = [key for key in keys if key not in STATISTICS]
    if unknown:
        raise MetricsError(f"unknown statistics {unknown}; known: {', '.join(STATISTICS)}")
    array = np.fromiter(values, dtype=np.float64)
    if array.size == 0:
        return dict.fromkeys(keys, math.nan)
    p50, p95 = np.percentile(array, [50, 95])
    known = {"mean": array.mean(), "p50": p50, "p95": p95, "max": array.max()}
    return {key: float(known[key]) for key in keys}
