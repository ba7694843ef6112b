"""Anomaly benchmarks in their published layouts, plus the generated synthroad-ood.

`open_benchmark(name, root=None, **options)` returns a `Benchmark`: a sized, indexable
iterable of `BenchmarkFrame(name, image uint8 RGB, anomaly uint8 0/1/255 | None, semantic
class ids | None)` with `.name` and `.track` ("anomaly" | "obstacle" | None: the SMIYC
component-metric track of the benchmark's protocol). Semantic ids are Cityscapes trainIds,
except camvid-ood's, camvid-pasted's and camvid-coco's (the 11 CamVid classes). Each reader's module
documents its layout and label convention with the source.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path

from dense_ood_train.benchmarks.base import Benchmark, BenchmarkError, BenchmarkFrame

__all__ = ["BENCHMARK_NAMES", "Benchmark", "BenchmarkFrame", "open_benchmark"]


def _smiyc_anomaly(root, **options):
    from dense_ood_train.benchmarks.smiyc import open_smiyc

    return open_smiyc(root, "anomaly", **options)


def _smiyc_obstacle(root, **options):
    from dense_ood_train.benchmarks.smiyc import open_smiyc

    return open_smiyc(root, "obstacle", **options)


def _fs_laf(root, **options):
    from dense_ood_train.benchmarks.fishyscapes import open_fishyscapes

    return open_fishyscapes(root, "lostandfound", **options)


def _fs_static(root, **options):
    from dense_ood_train.benchmarks.fishyscapes import open_fishyscapes

    return open_fishyscapes(root, "static", **options)


def _laf(root, **options):
    from dense_ood_train.benchmarks.lostandfound import open_lostandfound

    return open_lostandfound(root, **options)


def _streethazards(root, **options):
    from dense_ood_train.benchmarks.streethazards import open_streethazards

    return open_streethazards(root, **options)


def _camvid_ood(root, **options):
    from dense_ood_train.benchmarks.camvid_ood import open_camvid_ood

    return open_camvid_ood(root, **options)


def _roadanomaly(root, **options):
    from dense_ood_train.benchmarks.roadanomaly import open_roadanomaly

    return open_roadanomaly(root, **options)


def _cityscapes(root, **options):
    from dense_ood_train.benchmarks.cityscapes_val import open_cityscapes

    return open_cityscapes(root, **options)


def _folder(root, **options):
    from dense_ood_train.benchmarks.folder import open_folder

    return open_folder(root, **options)


def _synthroad_ood(root, **options):
    from dense_ood_train.benchmarks.synthroad_ood import SynthRoadOOD

    if root is not None:
        raise BenchmarkError(
            "synthroad-ood is generated from seeds and takes no root (for frames "
            "written with write_folder, use the 'folder' benchmark)"
        )
    return SynthRoadOOD(**options)


def _camvid_pasted(root, **options):
    from dense_ood_train.benchmarks.camvid_pasted import CamVidPasted

    return CamVidPasted(root, **options)


def _camvid_coco(root, **options):
    from dense_ood_train.benchmarks.camvid_coco import CamVidCoco

    return CamVidCoco(root, **options)


# name -> (opener, needs a root, the function whose keyword arguments are the options)
_OPENERS: dict[str, tuple[Callable[..., Benchmark], bool, str]] = {
    "smiyc-anomaly": (_smiyc_anomaly, True, "smiyc.open_smiyc"),
    "smiyc-obstacle": (_smiyc_obstacle, True, "smiyc.open_smiyc"),
    "fishyscapes-laf": (_fs_laf, True, "fishyscapes.open_fishyscapes"),
    "fishyscapes-static": (_fs_static, True, "fishyscapes.open_fishyscapes"),
    "lostandfound": (_laf, True, "lostandfound.open_lostandfound"),
    "streethazards": (_streethazards, True, "streethazards.open_streethazards"),
    "camvid-ood": (_camvid_ood, True, "camvid_ood.open_camvid_ood"),
    "roadanomaly": (_roadanomaly, True, "roadanomaly.open_roadanomaly"),
    "camvid-pasted": (_camvid_pasted, True, "camvid_pasted.CamVidPasted"),
    "camvid-coco": (_camvid_coco, True, "camvid_coco.CamVidCoco"),
    "cityscapes-val": (_cityscapes, True, "cityscapes_val.open_cityscapes"),
    "folder": (_folder, True, "folder.open_folder"),
    "synthroad-ood": (_synthroad_ood, False, "synthroad_ood.SynthRoadOOD"),
}
BENCHMARK_NAMES: tuple[str, ...] = tuple(_OPENERS)
_FIXED = {"root", "track", "subset"}  # set by the name, not by options (folder: track is an option)


def benchmark_options(name: str) -> tuple[str, ...]:
    """The options (keyword arguments) a benchmark accepts."""
    import importlib

    module, attr = _OPENERS[name][2].rsplit(".", 1)
    target = getattr(importlib.import_module(f"dense_ood_train.benchmarks.{module}"), attr)
    params = inspect.signature(target).parameters
    fixed = _FIXED - ({"track"} if name in ("folder", "synthroad-ood") else set())
    return tuple(p for p in params if p not in fixed and p != "self")


def open_benchmark(name: str, root: str | Path | None = None, **options) -> Benchmark:
    """Open benchmark `name` (one of BENCHMARK_NAMES) found under `root`, with its options."""
    if name not in _OPENERS:
        raise BenchmarkError(
            f"unknown benchmark {name!r}; choose from {', '.join(BENCHMARK_NAMES)}"
        )
    opener, needs_root, _ = _OPENERS[name]
    if needs_root and root is None:
        raise BenchmarkError(
            f"benchmark {name} needs a root folder (its files in their published layout)"
        )
    allowed = benchmark_options(name)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        listed = ", ".join(allowed) or "none"
        raise BenchmarkError(f"benchmark {name} has no option {unknown[0]!r}; options: {listed}")
    if root is not None and not Path(root).exists():
        raise FileNotFoundError(f"benchmark {name}: root {root} does not exist")
    return opener(root, **options)
