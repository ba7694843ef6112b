"""The files generated from the node's parameter table: the shipped parameter file validates
against the shipped JSON schema, and the YAML, the schema and the README/docs tables are what the
table generates now (`python -m dense_ood_ros.ros.param_docs --check`)."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from dense_ood_ros.ros import param_docs
from dense_ood_ros.ros.node_config import MODEL_PARAMETER_SPECS, PARAMETERS, parse_config

jsonschema = pytest.importorskip("jsonschema")

ROOT = Path(__file__).resolve().parents[1]
PARAMS = ROOT / "config" / "dense_ood.yaml"
SCHEMA = ROOT / "config" / "dense_ood.schema.json"


def shipped_params() -> dict[str, Any]:
    return yaml.safe_load(PARAMS.read_text())


def errors(document: dict[str, Any]) -> list[str]:
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft7Validator(schema)
    return [error.message for error in validator.iter_errors(document)]


def test_schema_is_draft7_in_autowares_layout() -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    ref = schema["properties"]["/**"]["properties"]["ros__parameters"]["$ref"]
    assert ref == "#/definitions/dense_ood"
    assert list(schema["definitions"]["dense_ood"]["properties"]) == [s.name for s in PARAMETERS]


def test_shipped_parameter_file_validates() -> None:
    assert errors(shipped_params()) == []


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("backend", "cuda", "'cuda' is not one of ['auto', 'onnxruntime', 'tensorrt']"),
        ("qos", "best_effort", "is not one of"),
        ("engine_precision", "int4", "is not one of"),
        ("compressed", "yes", "'yes' is not of type 'boolean'"),
        ("image_topics", [], "[] should be non-empty"),
        ("image_topics", "/camera/image_raw", "is not of type 'array'"),
        ("anomaly_threshold", "high", "'high' is not of type 'number'"),
        ("class_names", ["a"], "Additional properties are not allowed ('class_names'"),
        ("modle_path", "m.onnx", "Additional properties are not allowed ('modle_path'"),
    ],
)
def test_a_bad_value_is_rejected_by_the_schema_and_by_the_node(
    name: str, value: Any, message: str
) -> None:
    document = shipped_params()
    document["/**"]["ros__parameters"][name] = value
    found = errors(document)
    assert len(found) == 1 and message in found[0], found
    if name in {spec.name for spec in PARAMETERS}:  # the node's own check agrees
        with pytest.raises(ValueError, match=name):
            parse_config({**document["/**"]["ros__parameters"], "model_path": "m.onnx"})


def test_threshold_as_an_integer_or_nan_validates() -> None:
    document = shipped_params()
    assert math.isnan(document["/**"]["ros__parameters"]["anomaly_threshold"])
    document["/**"]["ros__parameters"]["anomaly_threshold"] = -3
    assert errors(document) == []


def test_generated_files_are_up_to_date() -> None:
    """README.md, docs/node.md, the YAML and the schema match the table (else run --write)."""
    result = subprocess.run(
        [sys.executable, "-m", "dense_ood_ros.ros.param_docs", "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_names_each_stale_file_and_write_repairs_it(tmp_path: Path) -> None:
    for relative in ("README.md", "docs/node.md", "config/dense_ood.yaml"):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / relative, tmp_path / relative)
    node_md = tmp_path / "docs" / "node.md"
    node_md.write_text(node_md.read_text().replace("| `qos` | string |", "| `qos` | int |"))
    assert param_docs.main(["--check", "--root", str(tmp_path)]) == 1
    assert param_docs.stale(tmp_path) == [
        tmp_path / "config" / "dense_ood.schema.json",  # absent
        node_md,
    ]
    assert param_docs.main(["--write", "--root", str(tmp_path)]) == 0
    assert param_docs.main(["--check", "--root", str(tmp_path)]) == 0
    assert node_md.read_text() == (ROOT / "docs" / "node.md").read_text()


def test_docs_tables_and_yaml_comments_say_what_the_table_says() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index(param_docs.BEGIN) : readme.index(param_docs.END)]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    specs = (*PARAMETERS, *MODEL_PARAMETER_SPECS)
    assert [row.split(" | ")[0] for row in rows] == [f"| `{s.name}`" for s in specs]
    for row, spec in zip(rows, specs, strict=True):
        cells = row.split(" | ")
        assert cells[1] == spec.type
        assert cells[3] == ("read-only" if spec.from_model else
                            "at run time" if spec.dynamic else "at start")  # fmt: skip
        assert spec.description in row
    text = PARAMS.read_text()
    comments = " ".join(line.strip().lstrip("#").strip() for line in text.splitlines())
    for spec in PARAMETERS:
        assert spec.description in comments, spec.name
    values = shipped_params()["/**"]["ros__parameters"]
    for spec in PARAMETERS:
        value = values[spec.name]
        nan = isinstance(spec.default, float) and math.isnan(spec.default) and math.isnan(value)
        assert (value == spec.default or nan) and type(value) is type(spec.default), spec.name


def test_missing_markers_are_an_error(tmp_path: Path) -> None:
    with pytest.raises(param_docs.ParamDocsError, match="no '<!-- parameters:begin"):
        param_docs.with_table("# no markers here\n", "| table |\n", "doc.md")


@pytest.mark.parametrize(
    ("value", "token"),
    [("", '""'), ("auto", "auto"), (False, "false"), (math.nan, ".nan"), (0.5, "0.5"),
     (["/a/image_raw"], '["/a/image_raw"]'), ("yes", '"yes"'), ("a: b", '"a: b"')],
)  # fmt: skip
def test_yaml_values_read_back_as_written(value: Any, token: str) -> None:
    assert param_docs.yaml_value(value) == token
    loaded = yaml.safe_load(f"key: {token}")["key"]
    assert loaded == value or (isinstance(value, float) and math.isnan(loaded))
