"""Launch-argument handling shared by the package's launch files (no `launch` import here).

`model_path` and `image_topics` arguments override the parameter file only when given.
"""

from __future__ import annotations

from typing import Any


def parameter_overrides(model_path: str, image_topics: str) -> dict[str, Any]:
    """Node parameters from the performed launch arguments ('' = not given).

    `image_topics` is YAML: a list ("['/cam/image_raw']") or one topic.
    """
    import yaml

    overrides: dict[str, Any] = {}
    if model_path:
        overrides["model_path"] = model_path
    if image_topics:
        topics = yaml.safe_load(image_topics)
        overrides["image_topics"] = [topics] if isinstance(topics, str) else list(topics)
    return overrides
