"""One replay: bags in, the node's pipeline on every camera frame, a mask bag and metrics out.

The frames go through the same decoding (`codec.decode_frame`, a JPEG at a reduced scale when
the outputs are at the model's size) and the same `Pipeline` as the live node, one after
another in log-time order across all cameras of a bag. Frames that cannot be used (depth
images, undecodable data) are skipped and counted by reason. Each labels topic
belongs to one camera (`pairing`); its labels are matched to that camera's frames by header
stamp. Frames of a labelled camera without a label are counted, not scored; frames of other
cameras are replayed, not scored; the metrics pool every scored frame of every bag. A bag that
cannot be read on, or a frame the metrics refuse (NaN or infinite scores), ends the replay and
keeps what came before.

Obstacles (on unless `ReplayOptions.obstacles` is off): the pipeline cuts them out of each
frame's mask; they are placed on the ground where the camera's geometry is known (a mounting
height from the options and the camera's first sensor_msgs/CameraInfo in the bag, on
`<ns>/camera_info`), and on labelled frames scored by `metrics.obstacle_metrics`.
"""

from __future__ import annotations

import queue
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from dense_ood_ros.codec.resize import resize_to
from dense_ood_ros.errors import first_line
from dense_ood_ros.metrics.frames import MetricsError
from dense_ood_ros.metrics.obstacle_metrics import ObstacleCounts
from dense_ood_ros.pipeline.frame_pipeline import FrameResult, Pipeline
from dense_ood_ros.pipeline.ground import (
    GroundCamera,
    GroundGeometryError,
    PlacedObstacle,
    place,
)
from dense_ood_ros.pipeline.obstacles import ImageObstacle, ObstacleSettings
from dense_ood_ros.replay.bag_input import (
    BagError,
    BagReader,
    CameraFrame,
    camera_info_topic,
    camera_of,
    camera_topics,
    decode_camera_frame,
    first_frame_id,
    normalise_topic,
    read_camera_info,
    read_labels,
    stamp_ns,
)
from dense_ood_ros.replay.bag_output import MaskBagWriter
from dense_ood_ros.replay.pairing import LabelsSpec, pair_labels

T = TypeVar("T")
#: Component metrics use the SMIYC anomaly track's size filters.
COMPONENT_TRACK = "anomaly"
CURVE_POINTS = 400
ENGINE_SAMPLE_FRAMES = 32  # model inputs kept to time the engine alone
QUEUE_DEPTH = 4  # frames read ahead of the engine, and results waiting to be written


@dataclass
class _Failure:
    error: BaseException


def _put(items: queue.Queue, item: Any, stop: threading.Event) -> bool:
    """Put unless told to stop (a bounded queue whose reader went away)."""
    while not stop.is_set():
        try:
            items.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def in_background(items: Iterator[T], depth: int = QUEUE_DEPTH) -> Iterator[T]:
    """The items of `items`, produced by a thread up to `depth` ahead of the consumer, so that
    reading and decoding a bag overlap the engine (which releases the GIL); a producer's
    exception is raised here. `items` runs wholly in that thread (SQLite3 bags must be read
    by the thread that opened them)."""
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def produce() -> None:
        try:
            for item in items:
                if not _put(ready, item, stop):
                    return
            _put(ready, end, stop)
        except BaseException as exc:  # handed to the consumer, raised there
            _put(ready, _Failure(exc), stop)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()  # a generator's `with` blocks (an open bag) end in this thread

    thread = threading.Thread(target=produce, name="replay_reader", daemon=True)
    thread.start()
    try:
        while (item := ready.get()) is not end:
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join()


class WriteBehind:
    """The output bag, opened, written and closed by a thread of its own (SQLite3 objects
    belong to their thread), so serialising and writing overlap the engine. `close()` waits
    for the queue to drain, closes the bag and re-raises a writer error."""

    def __init__(self, options: ReplayOptions, laps: Callable[[float], None]) -> None:
        self._options = options
        self._laps = laps
        self._pending: queue.Queue = queue.Queue(maxsize=QUEUE_DEPTH)
        self._error: BaseException | None = None
        self._opened = threading.Event()
        self.messages = 0
        self._thread = threading.Thread(target=self._work, name="replay_writer", daemon=True)
        self._thread.start()
        self._opened.wait()
        if self._error is not None:
            raise self._error

    def put(
        self,
        frame: CameraFrame,
        result: FrameResult,
        placed: list[PlacedObstacle] | None = None,
        ground: GroundCamera | None = None,
    ) -> None:
        if self._error is not None:
            raise self._error
        self._pending.put((frame, result, placed, ground))

    def _work(self) -> None:
        options = self._options
        try:
            writer = MaskBagWriter(options.output, options.storage, options.copy_inputs)
            writer.__enter__()
        except BaseException as exc:
            self._error = exc
            self._opened.set()
            return
        self._opened.set()
        try:
            while (item := self._pending.get()) is not None:
                if self._error is not None:
                    continue  # drain after a failure
                try:
                    start = time.perf_counter()
                    writer.write(*item)
                    self._laps((time.perf_counter() - start) * 1e3)
                except BaseException as exc:
                    self._error = exc
        finally:
            writer.__exit__(None, None, None)  # a valid bag with everything written so far
            self.messages = writer.messages

    def close(self) -> None:
        self._pending.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error


@dataclass
class ReplayOptions:
    """What `dense-ood replay` was asked to do."""

    bags: Sequence[Path]
    output: Path
    topics: Sequence[str] | None = None  # None: every camera topic of the bags
    labels_topic: str | None = None  # one labels topic, paired by the rules of `pairing`
    labels: Sequence[LabelsSpec] = ()  # labels topics, with their camera or by the rules
    max_frames: int | None = None
    storage: str = "mcap"
    copy_inputs: bool = False
    color: bool = True
    overlay: bool = True
    samples: int = 4  # overlay frames kept for the report
    engine_timing_frames: int = ENGINE_SAMPLE_FRAMES  # frames timed through the engine alone
    obstacles: bool = True  # cut obstacles out of the masks, score them on labelled frames
    camera_height_m: float | None = None  # mounting above the ground; None: no positions
    camera_pitch_rad: float = 0.0  # downward tilt of the optical axis

    def obstacle_settings(self) -> ObstacleSettings | None:
        """What the replay's pipeline extracts obstacles with (None: no obstacles)."""
        return ObstacleSettings() if self.obstacles else None

    def labels_specs(self) -> list[LabelsSpec]:
        """Every labels topic asked for, `labels` then `labels_topic`, with global names."""
        specs = [*self.labels, *([LabelsSpec(self.labels_topic)] if self.labels_topic else [])]
        return [
            LabelsSpec(normalise_topic(s.labels), s.camera and normalise_topic(s.camera))
            for s in specs
        ]


@dataclass
class CameraLabels:
    """One labelled camera over the replay: its labels topic(s), the label frames read, and its
    frames scored against them or left without a label of their stamp."""

    labels_topics: list[str] = field(default_factory=list)
    labels: int = 0
    scored: int = 0
    without_label: int = 0


@dataclass
class ReplayResult:
    """Counts, timings and (with labels) metrics of a replay."""

    frames_in: int = 0
    processed: int = 0
    skipped: Counter = field(default_factory=Counter)  # reason -> frames
    per_camera: Counter = field(default_factory=Counter)  # camera topic -> frames processed
    labelled: int = 0  # frames scored, all cameras
    unlabelled: int = 0  # frames of labelled cameras without a label of their stamp
    labels_per_camera: dict[str, CameraLabels] = field(default_factory=dict)
    messages_written: int = 0
    wall_s: float = 0.0
    stages_ms: dict[str, list[float]] = field(default_factory=dict)
    engine_only_ms: list[float] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)  # score name -> metrics
    score_name: str = ""
    class_names: tuple[str, ...] = ()
    palette: list[list[int]] = field(default_factory=list)  # [r, g, b] per class
    class_pixels: np.ndarray | None = None  # predicted pixels per class, all frames
    samples: list[tuple[str, np.ndarray, np.ndarray | None]] = field(default_factory=list)
    error: str | None = None  # a mid-bag error (its first line): what came before it is kept
    obstacle_settings: dict[str, int] | None = None  # None: obstacles were not extracted
    obstacle_frames: int = 0  # frames obstacles were extracted from
    obstacles_seen: int = 0  # obstacles over those frames
    obstacles_placed: int = 0  # of them, those with a position on the ground
    obstacle_counts: ObstacleCounts | None = None  # labelled frames' obstacle metrics
    geometry: dict[str, dict[str, Any]] = field(default_factory=dict)  # camera -> positions?

    @property
    def frames_per_s(self) -> float:
        return self.processed / self.wall_s if self.wall_s > 0 else float("nan")

    @property
    def engine_frames_per_s(self) -> float:
        if not self.engine_only_ms:
            return float("nan")
        return 1000.0 / float(np.mean(self.engine_only_ms))


def _decoded_frames(
    bag: Path, topics: Sequence[str], min_hw: tuple[int, int] | None
) -> Iterator[tuple[CameraFrame, np.ndarray | str, float]]:
    """(frame, RGB or the reason it is skipped, decode milliseconds) per camera message."""
    with BagReader(bag) as reader:
        for frame in reader.messages(topics):
            start = time.perf_counter()
            rgb = decode_camera_frame(frame, min_hw)
            yield frame, rgb, (time.perf_counter() - start) * 1e3


class ReplaySession:
    """Runs `options` through `pipeline`; `run()` returns the ReplayResult."""

    def __init__(
        self,
        pipeline: Pipeline,
        options: ReplayOptions,
        progress: Callable[[Iterator[Any], int], Iterator[Any]] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.options = options
        self.progress = progress
        contract = pipeline.contract
        self.result = ReplayResult(
            score_name=contract.score,
            class_names=tuple(contract.class_names),
            palette=contract.palette.tolist(),
            class_pixels=np.zeros(contract.num_classes, dtype=np.int64),
        )
        if pipeline.obstacles is not None:
            self.result.obstacle_settings = asdict(pipeline.obstacles)
            self.result.obstacle_counts = ObstacleCounts()
        self._ground: dict[str, GroundCamera | None] = {}  # camera -> its geometry (this bag)
        self._scaled: dict[tuple[str, tuple[int, int]], GroundCamera | None] = {}
        #: the scores the metrics cover: the model's own, then its extra score_<name> outputs
        self.score_names = (contract.score, *contract.extra_scores)
        self._engine_inputs: list[np.ndarray] = []
        self._pairs: dict[Path, dict[str, str]] = {}  # bag -> camera -> labels topic

    def check(self) -> None:
        """Before anything is written: every bag opens, has the topics asked for, and pairs
        each labels topic with one camera."""
        for bag in self.options.bags:
            with BagReader(bag) as reader:
                self._camera_topics(reader)

    def _camera_topics(self, reader: BagReader) -> list[str]:
        """The bag's camera topics to replay; pairs its labels topics on the way (cached)."""
        specs = self.options.labels_specs()
        topics = camera_topics(reader, self.options.topics, [spec.labels for spec in specs])
        if reader.path not in self._pairs:
            self._pairs[reader.path] = self._pair_labels(reader, topics, specs)
        return topics

    def _pair_labels(
        self, reader: BagReader, topics: list[str], specs: list[LabelsSpec]
    ) -> dict[str, str]:
        """camera -> labels topic in one bag (`pairing`'s rules); BagError for a missing one."""
        contents = reader.contents()
        for spec in specs:
            if spec.labels not in contents.cameras and spec.labels not in contents.other:
                raise BagError(f"{reader.path}: no labels topic {spec.labels}")
        labels_topics = {spec.labels for spec in specs}
        cameras: dict[str, list[str]] = {}
        for topic in topics:
            if topic not in labels_topics:  # asked for with --topics: replayed, never paired
                cameras.setdefault(camera_of(topic, contents.cameras[topic]), []).append(topic)
        frame_ids: dict[tuple[str, ...], str | None] = {}

        def frame_id_of(of: Sequence[str]) -> str | None:
            key = tuple(of)
            if key not in frame_ids:
                frame_ids[key] = first_frame_id(reader, of)
            return frame_ids[key]

        return pair_labels(specs, cameras, frame_id_of, str(reader.path))

    def run(self, scored: Any = None) -> ReplayResult:
        """Replay every bag into one output bag; a mid-bag error ends the replay but keeps what
        was written (the error is in `result.error`). Labelled frames go to `scored` (with
        `add(label, maps, where)` and `metrics(curve_points)`; default: the exact ScoredFrames)."""
        from dense_ood_ros.metrics.spill import ScoredFrames

        if scored is not None:
            return self._run(scored)
        with tempfile.TemporaryDirectory(prefix="dense_ood_replay_") as spill:
            return self._run(ScoredFrames(Path(spill), self.score_names, COMPONENT_TRACK))

    def _run(self, scored: Any) -> ReplayResult:
        """The replay proper, labelled frames going to `scored`."""
        started = time.perf_counter()
        writer = WriteBehind(self.options, self._stage("write"))
        try:
            for bag in self.options.bags:
                if self._done():
                    break
                self._replay_bag(bag, writer, scored)
        except (BagError, MetricsError) as exc:
            self.result.error = first_line(exc)
        finally:
            writer.close()
        self.result.messages_written = writer.messages
        self.result.wall_s = time.perf_counter() - started
        self.result.metrics = scored.metrics(curve_points=CURVE_POINTS)
        self._time_engine_alone()
        return self.result

    def _done(self) -> bool:
        limit = self.options.max_frames
        return limit is not None and self.result.processed >= limit

    def _replay_bag(self, bag: Path, writer: WriteBehind, scored: Any) -> None:
        with BagReader(bag) as reader:
            topics = self._camera_topics(reader)
            pairs = self._pairs[reader.path]
            labels = {camera: read_labels(reader, topic) for camera, topic in pairs.items()}
            total = reader.count(topics)
            if self.pipeline.obstacles is not None:
                self._read_geometry(reader, topics)
        for camera, topic in pairs.items():
            counts = self.result.labels_per_camera.setdefault(camera, CameraLabels())
            if topic not in counts.labels_topics:
                counts.labels_topics.append(topic)
            counts.labels += len(labels[camera])
        frames = in_background(_decoded_frames(bag, topics, self.pipeline.min_decode_hw))
        if self.progress is not None:
            frames = self.progress(frames, total)
        for frame, rgb, decode_ms in frames:
            if self._done():
                break
            self._replay_frame(bag, frame, rgb, decode_ms, writer, scored, labels)

    def _read_geometry(self, reader: BagReader, topics: Sequence[str]) -> None:
        """Each camera's ground geometry in this bag: its first CameraInfo and the mounting of
        the options, else none (and why, in `result.geometry`)."""
        contents = reader.contents()
        self._ground, self._scaled = {}, {}
        for camera in {camera_of(t, contents.cameras[t]) for t in topics}:
            info_topic = camera_info_topic(camera)
            info = read_camera_info(reader, info_topic)
            ground, note = None, ""
            if info is None:
                note = f"no sensor_msgs/CameraInfo on {info_topic}"
            elif self.options.camera_height_m is None:
                note = f"{info_topic} found, but no camera height (--camera-height-m)"
            else:
                try:
                    ground = GroundCamera.from_k(
                        info.k, info.width, info.height, self.options.camera_height_m,
                        self.options.camera_pitch_rad,
                    )  # fmt: skip
                    note = (
                        f"{info_topic} ({info.width}x{info.height}), camera "
                        f"{self.options.camera_height_m:g} m above the ground, pitched down "
                        f"{self.options.camera_pitch_rad:g} rad"
                    )
                except GroundGeometryError as exc:
                    note = f"{info_topic} unusable: {first_line(exc)}"
            self._ground[camera] = ground
            known = self.result.geometry.get(camera)
            if known is None or (ground is not None and not known["positions"]):
                self.result.geometry[camera] = {"positions": ground is not None, "source": note}

    def _ground_camera(self, camera: str, hw: tuple[int, int]) -> GroundCamera | None:
        """`camera`'s geometry for outputs of `hw` (height, width), or None."""
        key = (camera, hw)
        if key not in self._scaled:
            ground = self._ground.get(camera)
            self._scaled[key] = None if ground is None else ground.scaled_to(hw[1], hw[0])
        return self._scaled[key]

    def _place(
        self, processed: FrameResult, ground: GroundCamera | None
    ) -> list[PlacedObstacle] | None:
        """The frame's obstacles placed on the ground (positions only with `ground`)."""
        if processed.obstacles is None:
            return None
        start = time.perf_counter()
        placed = [place(obstacle, ground) for obstacle in processed.obstacles]
        self.result.obstacle_frames += 1
        self.result.obstacles_seen += len(placed)
        self.result.obstacles_placed += sum(p.distance_m is not None for p in placed)
        self._stage("place")((time.perf_counter() - start) * 1e3)
        return placed

    def _stage(self, name: str) -> Callable[[float], None]:
        return self.result.stages_ms.setdefault(name, []).append

    def _replay_frame(
        self,
        bag: Path,
        frame: CameraFrame,
        rgb: np.ndarray | str,
        decode_ms: float,
        writer: WriteBehind,
        scored: Any,
        labels: dict[str, dict[int, np.ndarray]],
    ) -> None:
        result = self.result
        result.frames_in += 1
        if isinstance(rgb, str):  # why the frame is skipped
            result.skipped[rgb] += 1
            return
        processed = self.pipeline.process(  # extra scores only where labels score them
            rgb,
            color=self.options.color,
            overlay=self.options.overlay,
            extra_scores=frame.camera in labels,
        )
        ground = self._ground_camera(frame.camera, processed.mask.shape[:2])
        placed = self._place(processed, ground)
        writer.put(frame, processed, placed, ground)
        self._record(frame, rgb, processed, {"decode": decode_ms})
        if frame.camera in labels:  # other cameras are replayed, not scored
            self._score(bag, frame, processed, labels[frame.camera], scored, placed)

    def _score(
        self,
        bag: Path,
        frame: CameraFrame,
        processed: FrameResult,
        by_stamp: dict[int, np.ndarray],
        scored: Any,
        placed: list[PlacedObstacle] | None = None,
    ) -> None:
        """Score a labelled camera's frame against its camera's label of the same stamp (its
        obstacles too, where the pipeline extracted them)."""
        result = self.result
        counts = result.labels_per_camera[frame.camera]
        stamp = stamp_ns(frame.msg)
        label = by_stamp.get(stamp)
        if label is None:
            result.unlabelled += 1
            counts.without_label += 1
            return
        if label.shape != processed.score.shape:
            raise BagError(
                f"{bag}: labels for {frame.topic} at stamp {stamp} are {label.shape}, "
                f"the image is {processed.score.shape}"
            )
        where = f"{bag}: {frame.topic} at stamp {stamp}"
        maps = {result.score_name: processed.score, **processed.extra_scores}
        scored.add(label, maps, where=where)
        if result.obstacle_counts is not None and placed is not None:
            ground = self._ground_camera(frame.camera, label.shape)
            result.obstacle_counts.add(
                label, processed.mask, [p.image.box for p in placed],
                [p.distance_m for p in placed], ground_distance(ground), where,
            )  # fmt: skip
        result.labelled += 1
        counts.scored += 1

    def _record(
        self, frame: CameraFrame, rgb: np.ndarray, processed: FrameResult, laps: dict
    ) -> None:
        result = self.result
        result.processed += 1
        result.per_camera[frame.camera] += 1
        if result.class_pixels is not None:
            counts = np.bincount(processed.semantic.ravel(), minlength=result.class_pixels.size)
            result.class_pixels += counts[: result.class_pixels.size]
        for stage, ms in {**processed.timings_ms, **laps}.items():
            result.stages_ms.setdefault(stage, []).append(ms)
        if len(self._engine_inputs) < self.options.engine_timing_frames:
            self._engine_inputs.append(resize_to(rgb, self.pipeline.contract.input_hw))
        if len(result.samples) < self.options.samples:
            result.samples.append((frame.camera, rgb, processed.overlay))

    def _time_engine_alone(self) -> None:
        """Engine-only time per frame on the replay's own frames (resized as the pipeline does)."""
        engine = self.pipeline.engine
        for model_input in self._engine_inputs:
            start = time.perf_counter()
            engine.infer(model_input[None], extra_scores=False)
            self.result.engine_only_ms.append((time.perf_counter() - start) * 1e3)


def ground_distance(ground: GroundCamera | None) -> Callable[[np.ndarray], float | None] | None:
    """A labelled component's distance from its contact points, placed as obstacles are
    (`pipeline.ground.place`: the nearest contact); None without geometry."""
    if ground is None:
        return None

    def distance(contact_uv: np.ndarray) -> float | None:
        x0, y0 = (int(v) for v in contact_uv.min(axis=0))
        x1, y1 = (int(np.ceil(v)) + 1 for v in contact_uv.max(axis=0))
        component = ImageObstacle((x0, y0, x1, y1), 0, 0.0, 0.0, "", (), contact_uv)
        return place(component, ground).distance_m

    return distance
