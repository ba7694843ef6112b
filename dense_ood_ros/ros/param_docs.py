"""Files generated from the node's parameter table: config/dense_ood.yaml (values and comments),
config/dense_ood.schema.json, and the parameter tables of README.md and docs/node.md.

`python -m dense_ood_ros.ros.param_docs --write` regenerates them in the checkout; `--check`
exits 1 naming each stale file. ROS-free: the table is node_config.PARAMETERS.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from dense_ood_ros.model.bundled import SOURCE_ROOT
from dense_ood_ros.ros.node_config import (
    MODEL_PARAMETER_SPECS,
    PARAMETERS,
    ParamDocsError,
    ParameterSpec,
)
from dense_ood_ros.topics import NODE_NAME

__all__ = ["ParamDocsError", "generated", "main", "markdown_table", "params_schema", "stale"]

BEGIN = "<!-- parameters:begin (generated: python -m dense_ood_ros.ros.param_docs --write) -->"
END = "<!-- parameters:end -->"
YAML_WIDTH = 96
_JSON_TYPES = {"string": "string", "bool": "boolean", "double": "number", "integer": "integer"}

YAML_HEADER = """\
# Parameters of the dense_ood node (package dense_ood_ros, executable dense_ood_node).
#   ros2 run dense_ood_ros dense_ood_node --ros-args --params-file config/dense_ood.yaml
#   ros2 launch dense_ood_ros dense_ood.launch.py model_path:=/path/to/model.onnx
# Generated from dense_ood_ros/ros/node_config.py by `python -m dense_ood_ros.ros.param_docs
# --write`; edit the table there. Checked against config/dense_ood.schema.json.
"""


def yaml_value(value: Any) -> str:
    """A value as one YAML flow token: `""`, `auto`, `false`, `.nan`, `["/a"]` (a list of
    JSON scalars)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isnan(value):
        return ".nan"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        plain = value and value.strip() == value and not set(value) & set(":#{}[],&*!|>'\"%@`")
        return value if plain and yaml.safe_load(value) == value else json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(json.dumps(item) for item in value) + "]"
    raise TypeError(f"no YAML form for {value!r}")


def _comment(text: str, indent: str) -> list[str]:
    return textwrap.wrap(
        text, YAML_WIDTH, initial_indent=indent + "# ", subsequent_indent=indent + "# "
    )


def _yaml_comment_text(spec: ParameterSpec) -> str:
    extra = []
    if spec.choices:
        extra.append("Choices: " + ", ".join(choice or '""' for choice in spec.choices) + ".")
    extra.append("Changeable at run time (ros2 param set)." if spec.dynamic else "Read at start.")
    return " ".join([spec.description, *extra])


def params_yaml() -> str:
    """config/dense_ood.yaml: every parameter at its default, with the table's text above it."""
    lines = YAML_HEADER.splitlines()
    lines.append("# Read-only, set by the node from the model (`ros2 param get /dense_ood NAME`):")
    for spec in MODEL_PARAMETER_SPECS:
        lines += _comment(f"{spec.name}: {spec.description}", "")
    lines += ["/**:", "  ros__parameters:"]
    for spec in PARAMETERS:
        lines += _comment(_yaml_comment_text(spec), "    ")
        lines.append(f"    {spec.name}: {yaml_value(spec.default)}")
    return "\n".join(lines) + "\n"


def _json_property(spec: ParameterSpec) -> dict[str, Any]:
    prop: dict[str, Any]
    if spec.type == "string[]":
        prop = {"type": "array", "items": {"type": "string"}}
    else:
        prop = {"type": _JSON_TYPES[spec.type]}
    prop["description"] = spec.description
    if spec.choices:
        prop["enum"] = list(spec.choices)
    if spec.min_items:
        prop["minItems"] = spec.min_items
    if not (isinstance(spec.default, float) and math.isnan(spec.default)):
        prop["default"] = spec.default  # JSON has no NaN: anomaly_threshold's .nan is described
    return prop


def params_schema() -> dict[str, Any]:
    """The JSON schema of the parameter file, in the layout of Autoware's per-node schemas."""
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": f"Parameters for the {NODE_NAME} node",
        "type": "object",
        "definitions": {
            NODE_NAME: {
                "type": "object",
                "properties": {spec.name: _json_property(spec) for spec in PARAMETERS},
                "required": [spec.name for spec in PARAMETERS],
                "additionalProperties": False,
            }
        },
        "properties": {
            "/**": {
                "type": "object",
                "properties": {"ros__parameters": {"$ref": f"#/definitions/{NODE_NAME}"}},
                "required": ["ros__parameters"],
                "additionalProperties": False,
            }
        },
        "required": ["/**"],
        "additionalProperties": False,
    }


def _markdown_default(spec: ParameterSpec) -> str:
    if spec.from_model:
        return "from the model"
    if isinstance(spec.default, bool):
        return "true" if spec.default else "false"
    if isinstance(spec.default, float) and math.isnan(spec.default):
        return "`.nan`"
    if isinstance(spec.default, list):
        return "`[" + ", ".join(f"'{item}'" for item in spec.default) + "]`"
    return f"`{spec.default!r}`" if spec.default == "" else f"`{spec.default}`"


def markdown_table() -> str:
    """The parameter table of README.md and docs/node.md, model parameters last."""
    rows = ["| name | type | default | changeable | description |", "|---|---|---|---|---|"]
    for spec in (*PARAMETERS, *MODEL_PARAMETER_SPECS):
        text = spec.description
        if spec.choices:
            text += " Choices: " + ", ".join(f"`{c}`" if c else "`''`" for c in spec.choices) + "."
        when = "read-only" if spec.from_model else "at run time" if spec.dynamic else "at start"
        cells = [f"`{spec.name}`", spec.type, _markdown_default(spec), when, text]
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows) + "\n"


def with_table(document: str, table: str, name: str) -> str:
    """`document` with the text between BEGIN and END replaced by `table`."""
    begin, end = document.find(BEGIN), document.find(END)
    if begin < 0 or end < begin:
        raise ParamDocsError(f"{name}: no {BEGIN!r} ... {END!r} markers")
    return document[: begin + len(BEGIN)] + "\n" + table + document[end:]


def generated(root: Path = SOURCE_ROOT) -> dict[Path, str]:
    """Path -> the content it should have."""
    files = {
        root / "config" / "dense_ood.yaml": params_yaml(),
        root / "config" / "dense_ood.schema.json": json.dumps(params_schema(), indent=2) + "\n",
    }
    table = markdown_table()
    for doc in (root / "README.md", root / "docs" / "node.md"):
        files[doc] = with_table(doc.read_text(), table, str(doc))
    return files


def stale(root: Path = SOURCE_ROOT) -> list[Path]:
    """The generated files whose content differs from the table's."""
    return [
        path
        for path, content in generated(root).items()
        if not path.is_file() or path.read_text() != content
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dense_ood_ros.ros.param_docs", description=__doc__.splitlines()[0]
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="regenerate the files")
    mode.add_argument("--check", action="store_true", help="exit 1 if any file is stale")
    parser.add_argument("--root", type=Path, default=SOURCE_ROOT, help="the checkout")
    args = parser.parse_args(argv)
    try:
        if args.write:
            for path, content in generated(args.root).items():
                if not path.is_file() or path.read_text() != content:
                    path.write_text(content)
                    print(f"wrote {path}")
            return 0
        old = stale(args.root)
    except (ParamDocsError, OSError) as exc:
        print(f"param_docs: error: {exc}", file=sys.stderr)
        return 2
    for path in old:
        print(f"stale: {path} (run python -m dense_ood_ros.ros.param_docs --write)")
    return 1 if old else 0


if __name__ == "__main__":
    sys.exit(main())
