"""The `dense-ood` command line and its subcommands (bench, demo)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dense_ood_ros.tools.bench.common import BenchError
    from dense_ood_ros.tools.demo import DemoError
    from dense_ood_ros.tools.node_process import NodeProcessError
    from dense_ood_ros.tools.op_profile import ProfileError
    from dense_ood_ros.tools.sample_bag import SampleBagError
    from dense_ood_ros.tools.soak import SoakError
    from dense_ood_ros.tools.transport_bench import TransportBenchError

#: Each error's module, imported on first use: a command loads only what it runs.
_ERROR_MODULES = {
    "BenchError": "dense_ood_ros.tools.bench.common",
    "DemoError": "dense_ood_ros.tools.demo",
    "NodeProcessError": "dense_ood_ros.tools.node_process",
    "ProfileError": "dense_ood_ros.tools.op_profile",
    "SampleBagError": "dense_ood_ros.tools.sample_bag",
    "SoakError": "dense_ood_ros.tools.soak",
    "TransportBenchError": "dense_ood_ros.tools.transport_bench",
}

__all__ = [
    "BenchError",
    "DemoError",
    "NodeProcessError",
    "ProfileError",
    "SampleBagError",
    "SoakError",
    "TransportBenchError",
]


def __getattr__(name: str) -> Any:
    """An error class, importing its command module on first use."""
    if name in _ERROR_MODULES:
        return getattr(importlib.import_module(_ERROR_MODULES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
