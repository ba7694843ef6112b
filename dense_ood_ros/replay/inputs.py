"""Which bags a replay reads: paths, folders searched for bags, and `@list.txt` files.

An argument that is a file or a folder with metadata.yaml is one bag. A folder holding .db3 /
.mcap files at its top is one bag alone (the early layout `bag_input.bag_sources` opens, as it
always was), but a fleet searches it, since its files are more likely bags of their own. Any
other folder is searched: every folder with metadata.yaml below it is one bag (not searched
further), and every .mcap, .db3 or .bag file elsewhere is one. `@FILE` reads paths from FILE,
one a line (blank lines and `#` comments skipped; relative paths are relative to FILE's
folder), each treated like an argument. Each bag gets an output name mirroring the input tree.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from dense_ood_ros.replay.bag_input import BagError

BAG_SUFFIXES = (".mcap", ".db3", ".bag")


class BagListError(BagError):
    """An @list file that cannot be read, or an argument that names no bag."""


@dataclass(frozen=True)
class InputBag:
    """One bag to replay and its output name under --output (the input tree, mirrored)."""

    source: Path
    relative: PurePosixPath


def is_bag(path: Path, lone_files_are_bags: bool = False) -> bool:
    """A bag by the rules `bag_sources` opens it by; with `lone_files_are_bags` a folder
    without metadata.yaml is never one (its files are)."""
    if path.is_file():
        return True
    if not path.is_dir():
        return False
    if (path / "metadata.yaml").is_file():
        return True
    return not lone_files_are_bags and (any(path.glob("*.db3")) or any(path.glob("*.mcap")))


def search_bags(root: Path) -> list[Path]:
    """Every bag below `root`, sorted: metadata.yaml folders and lone bag files."""
    found: list[Path] = []
    for folder, subfolders, files in os.walk(root):
        here = Path(folder)
        if "metadata.yaml" in files:
            found.append(here)
            subfolders.clear()
            continue
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        found += [here / f for f in sorted(files) if Path(f).suffix in BAG_SUFFIXES]
    return sorted(found)


def read_list(path: Path) -> list[str]:
    """The paths of an @list file, relative ones resolved against its folder."""
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise BagListError(f"@{path}: cannot read the list ({exc.strerror or exc})") from exc
    entries = [line.strip() for line in lines]
    return [
        str(path.parent / entry) if not Path(entry).is_absolute() else entry
        for entry in entries
        if entry and not entry.startswith("#")
    ]


def expand(
    arguments: Sequence[str | Path], lone_files_are_bags: bool = False
) -> list[tuple[Path, Path]]:
    """(bag, the folder its output name is relative to) per bag the arguments name; with
    `lone_files_are_bags` (a fleet) a folder without metadata.yaml is always searched."""
    bags: list[tuple[Path, Path]] = []
    for argument in arguments:
        text = str(argument)
        if text.startswith("@"):
            bags += expand(read_list(Path(text[1:])), lone_files_are_bags)
            continue
        path = Path(text)
        if not path.exists():
            raise BagError(f"{path}: no such bag")
        if is_bag(path, lone_files_are_bags):
            bags.append((path, path.parent))
            continue
        found = search_bags(path)
        if not found:
            raise BagListError(f"{path}: no bags in this folder (metadata.yaml, .mcap, .db3, .bag)")
        bags += [(bag, path) for bag in found]
    return bags


def _output_name(bag: Path) -> str:
    """A bag's output folder name: a bag file's stem, a bag folder's name."""
    return bag.stem if bag.is_file() else bag.name


def input_bags(arguments: Sequence[str | Path], exclude: Path | None = None) -> list[InputBag]:
    """The bags of `arguments`, each once and none under `exclude` (the fleet's own outputs),
    with output names mirroring the input tree under the common folder of their roots (a file
    bag's name loses its suffix unless two collide)."""
    bags = expand(arguments, lone_files_are_bags=True)
    skip = exclude.resolve() if exclude is not None else None
    unique: dict[Path, Path] = {}
    for bag, base in bags:
        if skip is None or not bag.resolve().is_relative_to(skip):
            unique.setdefault(bag.resolve(), base.resolve())
    if not unique:
        raise BagListError("no bags given")
    common = Path(os.path.commonpath([str(base) for base in unique.values()]))
    names = {bag: bag.parent.relative_to(common) / _output_name(bag) for bag in unique}
    clashes = Counter(names.values())
    out = []
    for bag in unique:
        name = names[bag]
        if clashes[name] > 1:
            name = name.with_name(bag.name.replace(".", "_"))
        out.append(InputBag(bag, PurePosixPath(name.as_posix())))
    if len({b.relative for b in out}) != len(out):
        raise BagListError("two bags would write to the same output; rename one of them")
    return out
