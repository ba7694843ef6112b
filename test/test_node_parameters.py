"""The live node's parameter descriptors come from the table: read-only after start, the choices
and ranges as constraints (rclpy's describe_parameters service and the real `ros2 param
describe`); setting a read-only parameter at run time is refused by rclpy and changes nothing;
`engine_precision: int8` without calibration stops the node at start with one line."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("rclpy")

from node_harness import (
    NodeProcess,
    RosClient,
    pick_domain_id,
    run_node_until_exit,
    start_test_node,
)

from dense_ood_ros.ros.node_config import MODEL_PARAMETER_SPECS, PARAMETERS

pytestmark = pytest.mark.ros

ROS2 = shutil.which("ros2", path=str(Path(sys.executable).parent)) or shutil.which("ros2")
SPECS = {spec.name: spec for spec in (*PARAMETERS, *MODEL_PARAMETER_SPECS)}


@dataclass
class Setup:
    node: NodeProcess
    client: RosClient
    domain_id: int


@pytest.fixture(scope="module")
def setup(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    from rcl_interfaces.srv import ListParameters

    domain_id = pick_domain_id(17)
    params = {"model_path": str(tiny_model), "image_topics": ["/cam/image_raw"]}
    node = start_test_node(params, domain_id, tmp_path_factory.mktemp("node_parameters"))
    client = RosClient(domain_id)
    try:
        deadline = time.monotonic() + 60
        while True:  # the model's parameters exist once start() has run
            listed = client.call(
                ListParameters, "/dense_ood/list_parameters", ListParameters.Request(), 30
            ).result.names
            if "class_names" in listed:
                break
            assert node.alive() and time.monotonic() < deadline, node.output()[-2000:]
            client.spin_for(0.2)
        yield Setup(node, client, domain_id)
    finally:
        client.close()
        node.stop(signal.SIGKILL)


def describe(setup: Setup, names: list[str]) -> list[Any]:
    from rcl_interfaces.srv import DescribeParameters

    request = DescribeParameters.Request(names=names)
    return setup.client.call(DescribeParameters, "/dense_ood/describe_parameters", request)


def test_declared_descriptors_are_the_tables(setup: Setup) -> None:
    from rcl_interfaces.msg import ParameterType

    names = list(SPECS)
    descriptors = describe(setup, names).descriptors
    types = {
        "string": ParameterType.PARAMETER_STRING,
        "bool": ParameterType.PARAMETER_BOOL,
        "string[]": ParameterType.PARAMETER_STRING_ARRAY,
        "double": ParameterType.PARAMETER_DOUBLE,  # the current value's (dynamic typing)
        "integer": ParameterType.PARAMETER_INTEGER,
    }
    for name, descriptor in zip(names, descriptors, strict=True):
        spec = SPECS[name]
        assert descriptor.name == name
        assert descriptor.description == spec.description
        assert descriptor.read_only is spec.read_only, name
        assert descriptor.additional_constraints == spec.constraints_text(), name
        assert descriptor.dynamic_typing is spec.dynamic_typing, name
        assert descriptor.type == types[spec.type], name
        assert not descriptor.integer_range and not descriptor.floating_point_range
    by_name = dict(zip(names, descriptors, strict=True))
    assert by_name["model_path"].read_only and not by_name["anomaly_threshold"].read_only
    assert by_name["backend"].additional_constraints == "one of: auto, onnxruntime, tensorrt"


def set_parameter(setup: Setup, name: str, value: Any) -> Any:
    from rcl_interfaces.srv import SetParameters
    from rclpy.parameter import Parameter

    request = SetParameters.Request(parameters=[Parameter(name, value=value).to_parameter_msg()])
    return setup.client.call(SetParameters, "/dense_ood/set_parameters", request).results[0]


def get_value(setup: Setup, name: str) -> Any:
    from rcl_interfaces.srv import GetParameters
    from rclpy.parameter import parameter_value_to_python

    request = GetParameters.Request(names=[name])
    values = setup.client.call(GetParameters, "/dense_ood/get_parameters", request).values
    return parameter_value_to_python(values[0])


@pytest.mark.parametrize(
    ("name", "value"),
    [("model_path", "/elsewhere.onnx"), ("qos", "reliable"), ("image_topics", ["/x/image_raw"]),
     ("backend", "onnxruntime"), ("palette", ["#000000"])],
)  # fmt: skip
def test_setting_a_read_only_parameter_is_refused(setup: Setup, name: str, value: Any) -> None:
    before = get_value(setup, name)
    result = set_parameter(setup, name, value)
    assert not result.successful
    assert result.reason == f"Trying to set a read-only parameter: {name}."
    assert get_value(setup, name) == before


def test_dynamic_parameters_still_change_and_check_their_values(setup: Setup) -> None:
    assert set_parameter(setup, "publish_overlay", False).successful
    assert get_value(setup, "publish_overlay") is False
    wrong_type = set_parameter(setup, "publish_overlay", "no")  # the descriptor's type check
    assert not wrong_type.successful and "Wrong parameter type" in wrong_type.reason
    assert set_parameter(setup, "publish_overlay", True).successful
    infinite = set_parameter(setup, "anomaly_threshold", float("inf"))  # the node's own check
    assert not infinite.successful and "must be finite" in infinite.reason
    assert set_parameter(setup, "anomaly_threshold", 2).successful  # an integer is fine
    assert set_parameter(setup, "anomaly_threshold", float("nan")).successful


@pytest.mark.skipif(ROS2 is None, reason="no ros2 command line (see ../shared/ros2cli)")
def test_ros2_param_describe_shows_read_only_and_choices(setup: Setup) -> None:
    env = dict(os.environ, ROS_DOMAIN_ID=str(setup.domain_id))
    output = ""
    for _ in range(3):  # discovery may take a moment in a fresh process
        result = subprocess.run(
            [str(ROS2), "param", "describe", "--no-daemon", "--spin-time", "3", "/dense_ood",
             "qos", "anomaly_threshold"],
            capture_output=True, text=True, env=env, timeout=60,
        )  # fmt: skip
        output = result.stdout + result.stderr
        if result.returncode == 0 and "Parameter name: qos" in output:
            break
    qos, threshold = output.split("Parameter name: anomaly_threshold")
    assert "Read only: true" in qos
    assert "Additional constraints: one of: auto, sensor_data, reliable" in qos
    assert "Read only" not in threshold  # ros2cli prints the flag only when it is set
    assert "Additional constraints: finite, or .nan for the model's" in threshold


def test_int8_without_calibration_stops_the_node_in_one_line(
    tiny_model: Path, tmp_path: Path
) -> None:
    params = {"model_path": str(tiny_model), "engine_precision": "int8"}
    code, output = run_node_until_exit(params, pick_domain_id(18), tmp_path)
    assert code == 1, output
    errors = [line for line in output.splitlines() if "[ERROR]" in line]
    assert len(errors) == 1, output
    assert f"parameter 'engine_precision' is int8, but {tiny_model} is fp32" in errors[0]
    assert "Traceback" not in output
