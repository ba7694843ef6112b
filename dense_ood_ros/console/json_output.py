"""The one JSON writer of the commands, runtime and training alike: strict JSON, whole files.

Strict JSON has no NaN or infinity (browsers, jq and most readers refuse them), so undefined
metrics become null; numpy scalars and arrays, tuples and dataclasses become plain values.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np


def json_ready(value: Any) -> Any:
    """`value` as plain JSON values, recursively: NaN and inf -> None, numpy -> Python,
    tuples -> lists, dataclass instances -> objects."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [json_ready(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: Path, data: Any, indent: int = 2) -> Path:
    """Write `data` (made `json_ready`) to `path`, folders made; a temporary file renamed into
    place, so a reader (or a crash) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(path.name + ".tmp")
    temp.write_text(json.dumps(json_ready(data), indent=indent) + "\n")
    os.replace(temp, path)
    return path
