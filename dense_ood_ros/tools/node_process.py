"""The node as a child process of a tool (demo, transport bench, soak) or a test, started the
one way: `python -m dense_ood_ros.node --ros-args --params-file F` in a private ROS domain on
localhost; and environment overrides for the tool's own rclpy side.

`start_node(params, workdir, domain_id=...)` is what callers use.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from dense_ood_ros.errors import DenseOodError

NODE_MODULE = "dense_ood_ros.node"
#: Fast DDS reads its XML profile from these (2.x, 3.x); the launch file sets both as well.
PROFILE_VARIABLES = ("FASTRTPS_DEFAULT_PROFILES_FILE", "FASTDDS_DEFAULT_PROFILES_FILE")
LARGE_FRAMES_PROFILE = "fastdds_large_frames.xml"


class NodeProcessError(DenseOodError, OSError):
    """The node cannot be started or inspected: a file it needs (the shipped Fast DDS profile)
    is not installed, or its process is gone."""


def write_params(path: Path, params: Mapping[str, Any]) -> Path:
    """`params` as a ROS 2 parameters file for every node (`/**`), at `path`."""
    import yaml

    path.write_text(yaml.safe_dump({"/**": {"ros__parameters": dict(params)}}))
    return path


def node_environment(domain_id: int, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Ours, with ROS_DOMAIN_ID `domain_id` and discovery on localhost, then `env`."""
    full_env = dict(
        os.environ, ROS_DOMAIN_ID=str(domain_id), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST"
    )
    full_env.update(env or {})
    return full_env


def start_node(
    params: Mapping[str, Any],
    workdir: Path,
    *,
    domain_id: int,
    env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
    cwd: Path | None = None,
) -> NodeProcess:
    """Write `workdir`/params.yaml and start the node on it in ROS domain `domain_id`, with our
    environment plus `env` (see node_environment), its output in `log_path` (default
    `workdir`/node.log)."""
    workdir.mkdir(parents=True, exist_ok=True)
    params_file = write_params(workdir / "params.yaml", params)
    command = [sys.executable, "-m", NODE_MODULE, "--ros-args", "--params-file", str(params_file)]
    log = log_path or workdir / "node.log"
    return NodeProcess(command, node_environment(domain_id, env), log, cwd=cwd)


def large_frames_profile_env(keep_user_profile: bool = True) -> dict[str, str]:
    """Environment that points Fast DDS at the shipped config/fastdds_large_frames.xml (a
    100 MB shared-memory segment); a profile the user set already wins unless
    `keep_user_profile` is False. NodeProcessError where the file is not installed."""
    from dense_ood_ros.model.bundled import config_file

    path = config_file(LARGE_FRAMES_PROFILE)
    if path is None:
        raise NodeProcessError(f"config/{LARGE_FRAMES_PROFILE} is not installed")
    if keep_user_profile and any(os.environ.get(name) for name in PROFILE_VARIABLES):
        return {}
    return dict.fromkeys(PROFILE_VARIABLES, str(path))


class NodeProcess:
    """A child process (the node), its output in a log file, in its own session."""

    def __init__(
        self, command: list[str], env: dict[str, str], log_path: Path, cwd: Path | None = None
    ) -> None:
        self.log_path = log_path
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def exited(self) -> bool:
        return not self.alive()

    def output(self) -> str:
        """Everything the node printed so far."""
        return self.log_path.read_text(errors="replace")

    def last_line(self) -> str:
        lines = [ln for ln in self.output().splitlines() if ln.strip()]
        return lines[-1] if lines else "(no output)"

    def rss_bytes(self) -> int:
        """Resident memory of the node process, from /proc (Linux)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise NodeProcessError(f"no VmRSS for process {self.pid}")

    def wait(self, timeout: float | None = None) -> int:
        """The exit code; subprocess.TimeoutExpired if it runs past `timeout` seconds."""
        return self.process.wait(timeout)

    def stop(self, sig: int = signal.SIGINT, timeout: float = 15.0) -> int:
        """Send `sig` and wait for the exit code (kill after `timeout`, returning -9)."""
        if self.alive():
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return -9


@contextlib.contextmanager
def environ(values: dict[str, str]) -> Iterator[None]:
    """`values` in os.environ for the duration, then the previous environment."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
