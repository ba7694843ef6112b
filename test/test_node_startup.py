"""The node refuses to start with one clear error line (no traceback) and a non-zero exit code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("rclpy")

from node_harness import node_env, pick_domain_id, run_node_until_exit

pytestmark = pytest.mark.ros

DOMAIN_ID = pick_domain_id(3)


def _non_contract_onnx(path: Path) -> Path:
    """A valid ONNX model (uint8 image in, identity out) without dense_ood metadata."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    image = helper.make_tensor_value_info("image", TensorProto.UINT8, [1, 8, 8, 3])
    out = helper.make_tensor_value_info("out", TensorProto.UINT8, [1, 8, 8, 3])
    graph = helper.make_graph(
        [helper.make_node("Identity", ["image"], ["out"])], "g", [image], [out]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def _assert_one_error_line(code: int, output: str, expected: str) -> None:
    assert code != 0, output
    assert "Traceback" not in output, output
    lines = [line for line in output.strip().splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert "[ERROR]" in lines[0] and "[dense_ood]" in lines[0], output
    assert expected in lines[0], output


def test_missing_model_file(tmp_path: Path) -> None:
    params = {"model_path": str(tmp_path / "absent.onnx")}
    code, output = run_node_until_exit(params, DOMAIN_ID, tmp_path)
    _assert_one_error_line(code, output, "absent.onnx: no such model file")


def test_onnx_file_without_the_contract(tmp_path: Path) -> None:
    model = _non_contract_onnx(tmp_path / "plain.onnx")
    code, output = run_node_until_exit({"model_path": str(model)}, DOMAIN_ID, tmp_path)
    _assert_one_error_line(code, output, "not a dense_ood model")


def test_file_that_is_not_onnx(tmp_path: Path) -> None:
    model = tmp_path / "garbage.onnx"
    model.write_bytes(b"this is not a model")
    code, output = run_node_until_exit({"model_path": str(model)}, DOMAIN_ID, tmp_path)
    _assert_one_error_line(code, output, "not a readable ONNX model")


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"model_path": "m.onnx", "qos": "fast"}, "'qos' is 'fast'"),
        ({"model_path": "m.onnx", "image_topics": []}, "'image_topics' is empty"),
        ({"model_path": "m.onnx", "compressed": "yes"}, "bad parameter 'compressed'"),
    ],
)
def test_bad_parameters(tmp_path: Path, params: dict, expected: str) -> None:
    code, output = run_node_until_exit(params, DOMAIN_ID, tmp_path)
    _assert_one_error_line(code, output, expected)


def test_console_script_reports_the_same(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "dense_ood_node"
    if not script.exists():
        pytest.skip("dense_ood_node is not installed in this environment")
    result = subprocess.run(
        [str(script), "--ros-args", "-p", f"model_path:={tmp_path / 'absent.onnx'}"],
        capture_output=True,
        text=True,
        timeout=60,
        env=node_env(DOMAIN_ID, tmp_path / "ros_log"),
    )
    _assert_one_error_line(result.returncode, result.stdout + result.stderr, "no such model file")


@pytest.mark.parametrize("gap_s", [0.0, 0.02, 0.2])
def test_ctrl_c_twice_stops_cleanly(tiny_model: Path, tmp_path: Path, gap_s: float) -> None:
    """A terminal's Ctrl-C signals the whole process group, so a node under `ros2 launch` or a
    shell script gets SIGINT twice: it must still exit 0, without a traceback."""
    import signal
    import time

    from node_harness import start_test_node

    node = start_test_node({"model_path": str(tiny_model)}, DOMAIN_ID, tmp_path)
    deadline = time.monotonic() + 60
    while "serving" not in node.output() and time.monotonic() < deadline:
        assert node.alive(), node.output()
        time.sleep(0.1)
    node.process.send_signal(signal.SIGINT)
    time.sleep(gap_s)
    if node.alive():
        node.process.send_signal(signal.SIGINT)
    code = node.wait(30)
    assert code == 0, node.output()
    assert "Traceback" not in node.output() and "RCLError" not in node.output()
