"""The launch file, parameter file and RViz config name things that exist (no ROS install).

launch/launch_ros/rviz2 are not installed here, so the launch file is checked by syntax and by
what it names: the package's executable (a console script in setup.py) and its arguments.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

from dense_ood_ros.ros.node_config import MODEL_PARAMETERS, PARAMETERS, parse_config

ROOT = Path(__file__).resolve().parents[1]
LAUNCH = ROOT / "launch" / "dense_ood.launch.py"
PARAMS = ROOT / "config" / "dense_ood.yaml"
RVIZ = ROOT / "config" / "dense_ood.rviz"


def _console_scripts() -> dict[str, str]:
    """name -> target of the console_scripts in setup.py, read from its AST."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "console_scripts":
                    entries = ast.literal_eval(value)
                    return dict((part.strip() for part in entry.split("=", 1)) for entry in entries)
    raise AssertionError("setup.py has no console_scripts")


def _launch_strings() -> dict[str, list[str]]:
    """Keyword -> constant string values of every call in the launch file."""
    found: dict[str, list[str]] = {}
    for node in ast.walk(ast.parse(LAUNCH.read_text())):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if isinstance(keyword.value, ast.Constant) and isinstance(keyword.value.value, str):
                    found.setdefault(keyword.arg, []).append(keyword.value.value)
    return found


def _declared_launch_arguments() -> list[str]:
    arguments = []
    for node in ast.walk(ast.parse(LAUNCH.read_text())):
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", None) == "DeclareLaunchArgument"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            arguments.append(node.args[0].value)
    return arguments


def test_launch_file_compiles_and_defines_entry_point() -> None:
    source = LAUNCH.read_text()
    compile(source, str(LAUNCH), "exec")
    functions = [n.name for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)]
    assert "generate_launch_description" in functions


def test_launch_file_starts_the_packaged_executable() -> None:
    strings = _launch_strings()
    assert "dense_ood_ros" in re.findall(r'PACKAGE = "([^"]+)"', LAUNCH.read_text())
    executable = re.findall(r'EXECUTABLE = "([^"]+)"', LAUNCH.read_text())
    assert executable == ["dense_ood_node"]
    scripts = _console_scripts()
    assert scripts["dense_ood_node"] == "dense_ood_ros.node:main"
    assert (ROOT / "dense_ood_ros" / "node.py").is_file()
    assert "dense_ood" in strings["name"]
    assert "rviz2" in strings["executable"]


def test_launch_arguments() -> None:
    assert sorted(_declared_launch_arguments()) == sorted(
        ["model_path", "image_topics", "params_file", "use_rviz"]
    )


def test_param_file_names_exactly_the_declared_parameters() -> None:
    content = yaml.safe_load(PARAMS.read_text())
    assert list(content) == ["/**"]
    params = content["/**"]["ros__parameters"]
    assert set(params) == {spec.name for spec in PARAMETERS}
    assert not set(params) & set(MODEL_PARAMETERS)  # read-only ones come from the model
    # The shipped defaults are the node's defaults (model_path aside) and parse cleanly.
    for spec in PARAMETERS:
        if spec.name == "anomaly_threshold":
            assert params[spec.name] != params[spec.name]  # .nan: the model's threshold
        elif spec.name != "model_path":
            assert params[spec.name] == spec.default, spec.name
    config = parse_config({**params, "model_path": "model.onnx"})
    assert config.anomaly_threshold is None
    # Every parameter is documented by a comment in the file.
    lines = PARAMS.read_text().splitlines()
    for spec in PARAMETERS:
        index = next(i for i, line in enumerate(lines) if line.strip().startswith(spec.name + ":"))
        assert lines[index - 1].strip().startswith("#"), spec.name


def test_colcon_style_install_puts_what_launch_needs_in_share(tmp_path: Path) -> None:
    """Installed the way colcon installs an ament_python package, the share directory holds
    the launch file, parameters, RViz config, models and sample frames, and lib/ the node."""
    from node_harness import colcon_style_install

    prefix = colcon_style_install(tmp_path)
    share = prefix / "share" / "dense_ood_ros"
    for relative in (
        "package.xml",
        "launch/dense_ood.launch.py",
        "launch/replay.launch.py",
        "config/dense_ood.yaml",
        "config/dense_ood.rviz",
        "models/synthroad_nflowjs.onnx",
    ):
        assert (share / relative).is_file(), relative
    assert sorted(share.glob("data/samples/*.jpg"))
    assert (prefix / "lib" / "dense_ood_ros" / "dense_ood_node").is_file()  # ros2 run finds it
    marker = prefix / "share" / "ament_index" / "resource_index" / "packages" / "dense_ood_ros"
    assert marker.is_file()


def test_rviz_config_shows_the_three_outputs_of_the_default_camera() -> None:
    config = yaml.safe_load(RVIZ.read_text())
    displays = config["Visualization Manager"]["Displays"]
    topics = {d["Topic"]["Value"] for d in displays if d["Class"] == "rviz_default_plugins/Image"}
    assert topics == {
        "/camera/dense_ood/overlay",
        "/camera/dense_ood/semantic_color",
        "/camera/dense_ood/anomaly_mask",
    }
    # The node's default QoS is sensor_data (best effort): a reliable display would see nothing.
    assert {d["Topic"]["Reliability Policy"] for d in displays} == {"Best Effort"}
