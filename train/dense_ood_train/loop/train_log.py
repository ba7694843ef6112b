"""Training logs: one CSV file per phase (train.csv, val.csv) or TensorBoard event files."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any


class TrainLogger:
    """`log(step, phase, values)` appends a row to `<dir>/<phase>.csv` or a TensorBoard scalar."""

    def __init__(self, output_dir: str | Path, fmt: str = "csv") -> None:
        self.output_dir = Path(output_dir)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.fmt = fmt
        self._files: dict[str, Any] = {}
        self._writers: dict[str, csv.DictWriter] = {}
        self._tb = None
        if fmt == "tensorboard":
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(self.output_dir / "tensorboard"))

    def log(self, step: int, phase: str, values: dict[str, Any]) -> None:
        scalars = {k: v for k, v in values.items() if isinstance(v, (int, float))}
        if self._tb is not None:
            for key, value in scalars.items():
                self._tb.add_scalar(f"{phase}/{key}", value, step)
            return
        row = {"step": step, **scalars}
        writer = self._writers.get(phase)
        if writer is None:
            path = self.output_dir / f"{phase}.csv"
            exists = path.is_file() and path.stat().st_size > 0  # a resumed run appends
            handle = path.open("a", newline="")
            writer = csv.DictWriter(handle, fieldnames=list(row), extrasaction="ignore")
            if not exists:
                writer.writeheader()
            self._files[phase], self._writers[phase] = handle, writer
        writer.writerow(row)
        self._files[phase].flush()

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()
        if self._tb is not None:
            self._tb.close()
