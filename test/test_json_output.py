"""The one JSON writer: strict JSON (no NaN), plain numpy and dataclass values, whole files."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dense_ood_ros.console.json_output import json_ready, write_json


@dataclass
class _Row:
    name: str
    value: float


def test_json_ready_makes_strict_plain_json() -> None:
    data = {
        "nan": math.nan,
        "inf": -math.inf,
        "numpy": np.float32(0.5),
        "count": np.int64(3),
        "array": np.array([1.0, np.nan]),
        "pair": (1, 2),
        "rows": [_Row("a", math.nan)],
    }
    assert json_ready(data) == {
        "nan": None,
        "inf": None,
        "numpy": 0.5,
        "count": 3,
        "array": [1.0, None],
        "pair": [1, 2],
        "rows": [{"name": "a", "value": None}],
    }


def test_write_json_leaves_a_whole_strict_file(tmp_path: Path) -> None:
    path = write_json(tmp_path / "deep" / "report.json", {"ap": np.float64(math.nan)})
    text = path.read_text()
    assert "NaN" not in text and json.loads(text) == {"ap": None}
    assert [p.name for p in path.parent.iterdir()] == ["report.json"]  # no temporary left
