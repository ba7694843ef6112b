"""Stages of a study and the job slots that run them (`dense-ood-train study` is the command).

Each stage is one `dense-ood-train` process (pretrain-flow, fit, or evaluate on one split)
with a folder and a marker holding its settings; a fit waits for the flow and the base fit it
needs, others run meanwhile; a stage that ran makes the stages after it in its chain run again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dense_ood_train.study.plan import (
    DONE_MARKER,
    BaseSpec,
    ConfigSpec,
    FlowSpec,
    Study,
    StudyError,
)


@dataclass
class Stage:
    """One `dense-ood-train` process of the study and where it leaves its results."""

    name: str
    folder: Path
    settings: list[str]  # the command line that defines the result
    checkpoint: Path | None = None  # resumable stages: continue from here if present
    after: list[Stage] = field(default_factory=list)  # stages run after this one, in order
    needs: list[Stage] = field(default_factory=list)  # must have finished first (flow, base)

    @property
    def marker(self) -> Path:
        return self.folder / DONE_MARKER

    def state(self) -> str:
        """'done', 'changed' (done with other settings), 'partial' (resumable) or 'todo'."""
        if self.marker.is_file():
            recorded = json.loads(self.marker.read_text())
            return "done" if recorded == self.settings else "changed"
        if self.checkpoint is not None and self.checkpoint.is_file():
            return "partial"
        return "todo"

    def command(self, threads: int, restart: bool) -> list[str]:
        argv = [sys.executable, "-m", "dense_ood_train.cli", *self.settings]
        if self.settings[0] == "evaluate":
            return [*argv, "--overwrite"]
        argv += ["--set", f"runtime.threads={threads}", "--no-progress"]
        resume = self.state() == "partial" and not restart
        return [*argv, "--resume" if resume else "--overwrite"]


class StudyRunner:
    """Builds the stages of a study in `output` and runs them `jobs` at a time."""

    def __init__(self, study: Study, output: Path, jobs: int = 1, threads: int = 1) -> None:
        self.study = study
        self.output = output
        self.jobs = jobs
        self.threads = threads
        self.failed: list[tuple[Stage, Path]] = []
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen] = set()
        self._stopping = threading.Event()

    def flow_dir(self, name: str) -> Path:
        return self.output / "flows" / name

    def run_dir(self, config: str, seed: int) -> Path:
        return self.output / "runs" / config / f"seed{seed}"

    def base_dir(self, base: str, seed: int) -> Path:
        return self.output / "bases" / base / f"seed{seed}"

    def base_stage(self, base: BaseSpec, seed: int) -> Stage:
        """The fit that configs naming `base` start from, for one seed."""
        folder = self.base_dir(base.name, seed)
        settings = ["fit", "--config", str(self.study.base), "--output", str(folder)]
        for item in self.study.base_overrides(base, seed):
            settings += ["--set", item]
        return Stage(f"base {base.name} seed {seed}", folder, settings, folder / "last.pt")

    def flow_stage(self, flow: FlowSpec) -> Stage:
        folder = self.flow_dir(flow.name)
        settings = ["pretrain-flow", "--config", str(self.study.base), "--output", str(folder)]
        settings += ["--steps", str(flow.steps)]
        if flow.minutes is not None:
            settings += ["--minutes", str(flow.minutes)]
        for item in self.study.flow_overrides(flow):
            settings += ["--set", item]
        return Stage(f"flow {flow.name}", folder, settings, folder / "flow.pt")

    def run_stage(
        self,
        config: ConfigSpec,
        seed: int,
        flow: Stage | None = None,
        base: Stage | None = None,
    ) -> Stage:
        """The fit of one config and seed (after its `flow` and `base` stages), with its
        evaluations as `after` stages."""
        folder = self.run_dir(config.name, seed)
        flow_checkpoint = flow.checkpoint if flow is not None else None
        base_checkpoint = base.checkpoint if base is not None else None
        settings = ["fit", "--config", str(self.study.base), "--output", str(folder)]
        for item in self.study.fit_overrides(config, seed, flow_checkpoint, base_checkpoint):
            settings += ["--set", item]
        fit = Stage(f"fit {config.name} seed {seed}", folder, settings, folder / "last.pt")
        fit.needs = [stage for stage in (flow, base) if stage is not None]
        for split in config.splits or tuple(self.study.splits):
            benchmark, options = self.study.split_benchmark(split)
            out = folder / f"eval_{split}"
            evaluate = ["evaluate", "--model", str(folder / "last.pt"), "--output", str(out)]
            evaluate += ["--benchmark", benchmark]
            if self.study.root is not None:
                evaluate += ["--root", self.study.root]
            for key, value in options.items():
                evaluate += ["--option", f"{key}={json.dumps(value)}"]
            fit.after.append(Stage(f"evaluate {config.name} seed {seed} {split}", out, evaluate))
        return fit

    def stages(self, only: list[str]) -> tuple[list[Stage], list[Stage]]:
        """(flow and base stages, run stages) for the selected configs; bases and runs ordered
        seed-major, so a half-finished study has every config at its first seeds."""
        configs = [c for c in self.study.configs.values() if not only or c.name in only]
        names = sorted({c.flow for c in configs if c.flow})
        flows = {name: self.flow_stage(self.study.flows[name]) for name in names}
        seeds = sorted({s for c in configs for s in c.seeds})
        bases = {
            (c.base, s): self.base_stage(self.study.bases[c.base], s)
            for s in seeds
            for c in configs
            if c.base and s in c.seeds
        }
        runs = [
            self.run_stage(c, s, flows.get(c.flow or ""), bases.get((c.base or "", s)))
            for s in seeds
            for c in configs
            if s in c.seeds
        ]
        return [*flows.values(), *bases.values()], runs

    @staticmethod
    def chain(stage: Stage) -> Iterator[Stage]:
        yield stage
        yield from stage.after

    def run(self, only: list[str], overwrite: bool, on_change) -> None:
        prerequisites, runs = self.stages(only)
        changed = [
            s for top in prerequisites + runs for s in self.chain(top) if s.state() == "changed"
        ]
        if changed and not overwrite:
            raise StudyError(
                f"{changed[0].name} ({changed[0].folder}) ran with other settings; "
                "pass --overwrite to redo changed stages"
            )
        queue = _StageQueue(_needs_first([*runs, *prerequisites]))
        # Each job slot says when it is done: after Ctrl-C lands in Thread.join, Python 3.11
        # marks the joined thread as stopped while it still runs, so join cannot be trusted.
        finished: list[threading.Event] = []
        try:
            for _ in range(self.jobs):
                done = threading.Event()
                threading.Thread(target=self._work, args=(queue, on_change, done)).start()
                finished.append(done)
            for done in finished:
                while not done.wait(0.5):  # a timed wait lets Ctrl-C through at once
                    pass
        except KeyboardInterrupt:
            self._stop(queue, finished)
            raise StudyError(
                "interrupted: the running stages were stopped; run the same command again to "
                "resume from their last checkpoints"
            ) from None
        for stage in queue.skipped:
            failed = [need.name for need in stage.needs if id(need) in queue.failed]
            self._say(f"skipped {stage.name}: {', '.join(failed) or 'a stage it needs'} failed")

    def _stop(self, queue: _StageQueue, finished: list[threading.Event]) -> None:
        """Hand out no more stages, end the running ones, wait for the job slots to empty."""
        self._stopping.set()
        queue.close()
        with self._lock:
            running = list(self._running)
        for process in running:
            process.terminate()
        for done in finished:
            done.wait()

    def _work(self, queue: _StageQueue, on_change, done: threading.Event) -> None:
        """One job slot: take the next stage whose needs are ready until none is left."""
        try:
            while (top := queue.take()) is not None:
                ok = self._run_chain(top)
                queue.finish(top, ok)
                if top.settings[0] == "fit" and not self._stopping.is_set():
                    on_change()
        finally:
            done.set()

    def _run_chain(self, top: Stage) -> bool:
        """Run the stages of a chain that are not done; once one runs, all later ones rerun."""
        rerun = False
        for stage in self.chain(top):
            state = stage.state()
            if state == "done" and not rerun:
                continue
            if not self._execute(stage, restart=state == "changed"):
                return False
            rerun = True
        return True

    def _execute(self, stage: Stage, restart: bool) -> bool:
        logs = self.output / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log = logs / (stage.name.replace(" ", "_") + ".log")
        stage.folder.mkdir(parents=True, exist_ok=True)
        stage.marker.unlink(missing_ok=True)
        self._say(f"start  {stage.name}")
        env = {**os.environ, "OMP_NUM_THREADS": str(self.threads)}
        command = stage.command(self.threads, restart)
        with log.open("w") as handle:
            handle.write(" ".join(command) + "\n")
            handle.flush()
            code = self._call(command, handle, env)
        if self._stopping.is_set():
            self._say(f"stopped {stage.name}")
            return False
        if code != 0:
            with self._lock:
                self.failed.append((stage, log))
            self._say(f"FAILED {stage.name} (exit {code}; see {log})")
            return False
        stage.marker.write_text(json.dumps(stage.settings))
        self._say(f"done   {stage.name}")
        return True

    def _call(self, command: list[str], log, env: dict[str, str]) -> int:
        """Run one stage's process to its end (or until `_stop` ends it); its exit code."""
        with self._lock:
            if self._stopping.is_set():
                return -1
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
            self._running.add(process)
        try:
            return process.wait()
        finally:
            with self._lock:
                self._running.discard(process)

    def _say(self, line: str) -> None:
        with self._lock:
            print(line, flush=True)


def _needs_first(stages: list[Stage]) -> list[Stage]:
    """The stages in order, each stage's needs moved just before the first stage needing them,
    so a study runs its first seed's bases and fits before the next seed's bases."""
    ordered: dict[int, Stage] = {}
    for stage in stages:
        for need in stage.needs:
            ordered.setdefault(id(need), need)
        ordered.setdefault(id(stage), stage)
    return list(ordered.values())


class _StageQueue:
    """Stages in order; `take` hands out the first whose `needs` have finished (blocking while
    only waiting ones are left), so fits without a flow run while a flow pretrains."""

    def __init__(self, stages: list[Stage]) -> None:
        self.pending = list(stages)
        self.succeeded: set[int] = set()
        self.failed: set[int] = set()
        self.skipped: list[Stage] = []
        self._ready = threading.Condition()

    def close(self) -> None:
        """Hand out nothing more (an interrupted study)."""
        with self._ready:
            self.pending.clear()
            self._ready.notify_all()

    def take(self) -> Stage | None:
        with self._ready:
            while True:
                dead = [s for s in self.pending if any(id(n) in self.failed for n in s.needs)]
                self.skipped += dead
                self.pending = [s for s in self.pending if s not in dead]
                for stage in self.pending:
                    if all(id(need) in self.succeeded for need in stage.needs):
                        self.pending.remove(stage)
                        return stage
                if not self.pending:
                    return None
                self._ready.wait()

    def finish(self, stage: Stage, ok: bool) -> None:
        with self._ready:
            (self.succeeded if ok else self.failed).add(id(stage))
            self._ready.notify_all()
