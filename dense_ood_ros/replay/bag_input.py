"""Camera frames and anomaly labels out of recorded bags, read with the `rosbags` library.

What teams record: rosbag2 folders (MCAP or SQLite3, per-message or per-file zstd), a single
`.mcap` or `.db3` file, a folder holding only a `.db3` of the early schema (no metadata.yaml),
and ROS 1 `.bag` files. Message definitions come from the bag where it carries them (MCAP,
ROS 1), else from the Humble definitions (sensor_msgs/Image and CompressedImage are the same in
Humble and Jazzy). Type names written without `/msg/` (`sensor_msgs/Image`) are read as the
`/msg/` ones. Depth images (16UC1, 32FC1, 32SC1, compressedDepth) are cameras for a depth node,
not for this one: they are skipped and counted (`decode_camera_frame`).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dense_ood_ros.codec.image_codec import ImageDecodeError, strided_rows
from dense_ood_ros.codec.messages import (
    CAMERA_TYPES,
    COMPRESSED,
    IMAGE,
    decode_frame,
    is_depth_frame,
)
from dense_ood_ros.errors import DenseOodError, first_line
from dense_ood_ros.topics import COMPRESSED_SUFFIX


class BagError(DenseOodError, ValueError):
    """A bag that cannot be replayed: missing, corrupt, empty, or without the asked topics."""


def normalise_type(msgtype: str) -> str:
    """'sensor_msgs/Image' -> 'sensor_msgs/msg/Image' (older writers drop the `msg` part)."""
    package, _, name = msgtype.partition("/")
    if name and "/" not in name:
        return f"{package}/msg/{name}"
    return msgtype


def normalise_topic(topic: str) -> str:
    """Topics recorded without their leading slash are global ones: '/' + topic."""
    return topic if topic.startswith("/") else f"/{topic}"


def camera_of(topic: str, msgtype: str) -> str:
    """The camera topic a frame belongs to: a compressed topic's raw sibling (image_transport's
    naming), so outputs land where the live node with `compressed: true` puts them."""
    suffix = f"/{COMPRESSED_SUFFIX}"
    if msgtype == COMPRESSED and topic.endswith(suffix):
        return topic[: -len(suffix)]
    return topic


def stamp_ns(msg: Any) -> int:
    """The header stamp in nanoseconds."""
    return int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)


def bag_sources(path: Path) -> list[Path]:
    """What rosbags opens for `path`: a rosbag2 folder, a single file, or the storage files of a
    folder that lacks metadata.yaml (early SQLite3 bags)."""
    if not path.exists():
        raise BagError(f"{path}: no such bag")
    if path.is_file() or (path / "metadata.yaml").is_file():
        return [path]
    files = sorted([*path.glob("*.db3"), *path.glob("*.mcap")])
    if not files:
        raise BagError(f"{path}: not a bag (no metadata.yaml, .db3, .mcap or .bag)")
    return files


@dataclass
class CameraFrame:
    """One camera message of a bag, deserialised."""

    topic: str  # as recorded, with a leading slash
    camera: str  # the camera topic its outputs belong to
    msgtype: str
    log_time_ns: int
    msg: Any
    raw: bytes  # the serialised message (for --copy-inputs)


def decode_camera_frame(
    frame: CameraFrame, min_hw: tuple[int, int] | None = None
) -> np.ndarray | str:
    """The frame's RGB as the live node decodes it (`codec.decode_frame`, `min_hw` as there),
    or why it is skipped: "depth image", or "not decodable: <the decoder's reason>"."""
    if is_depth_frame(frame.msg, frame.msgtype):
        return "depth image"
    try:
        return decode_frame(frame.msg, frame.msgtype, min_hw=min_hw)
    except ImageDecodeError as exc:
        return f"not decodable: {exc}"


@dataclass
class BagContents:
    """What one pass over a bag's connections found."""

    cameras: dict[str, str] = field(default_factory=dict)  # topic -> message type
    other: dict[str, str] = field(default_factory=dict)


class BagReader:
    """A readable bag (context manager): its camera topics, labels and frames in log order."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._reader: Any = None

    def __enter__(self) -> BagReader:
        from rosbags.highlevel import AnyReader
        from rosbags.rosbag2 import Reader
        from rosbags.typesys import Stores, get_typestore

        self._typestore = get_typestore(Stores.ROS2_HUMBLE)
        sources = bag_sources(self.path)
        self._ros1 = sources[0].suffix == ".bag"
        try:
            # ROS 1 bags need AnyReader's ROS 1 deserialisation; rosbag2 bags are read at the
            # storage level, because AnyReader refuses type names without `/msg/`
            if self._ros1:
                self._reader = AnyReader(sources, default_typestore=self._typestore)
            else:
                self._reader = _Rosbag2Files([Reader(source) for source in sources])
            self._reader.open()
        except BagError:
            raise
        except Exception as exc:  # rosbags raises its own and sqlite/mcap errors for bad files
            raise BagError(f"{self.path}: not a readable bag ({first_line(exc)})") from exc
        return self

    def __exit__(self, *exc: object) -> None:
        if self._reader is not None:
            self._reader.close()

    def contents(self) -> BagContents:
        found = BagContents()
        for connection in self._reader.connections:
            topic, msgtype = normalise_topic(connection.topic), normalise_type(connection.msgtype)
            (found.cameras if msgtype in CAMERA_TYPES else found.other)[topic] = msgtype
        return found

    def count(self, topics: Sequence[str]) -> int:
        """How many messages `topics` hold (from the bag's index)."""
        return sum(int(c.msgcount) for c in self._connections(topics))

    def _connections(self, topics: Sequence[str]) -> list[Any]:
        wanted = set(topics)
        return [c for c in self._reader.connections if normalise_topic(c.topic) in wanted]

    def _deserialize(self, raw: bytes, connection: Any) -> Any:
        msgtype = normalise_type(connection.msgtype)
        try:
            if self._ros1:
                return self._reader.deserialize(raw, connection.msgtype)
            return self._typestore.deserialize_cdr(raw, msgtype)
        except Exception as exc:
            raise BagError(
                f"{self.path}: a {msgtype} message on {connection.topic} does not deserialise "
                f"({first_line(exc)})"
            ) from exc

    def messages(self, topics: Sequence[str]) -> Generator[CameraFrame, None, None]:
        """Every message of `topics` in log-time order."""
        connections = self._connections(topics)
        if not connections:  # rosbags reads every connection when given none
            return
        try:
            for connection, log_time, raw in self._reader.messages(connections=connections):
                msgtype = normalise_type(connection.msgtype)
                topic = normalise_topic(connection.topic)
                msg = self._deserialize(raw, connection)
                yield CameraFrame(topic, camera_of(topic, msgtype), msgtype, log_time, msg, raw)
        except BagError:
            raise
        except Exception as exc:  # a truncated chunk or a corrupt page, found mid-bag
            raise BagError(f"{self.path}: cannot read on ({first_line(exc)})") from exc


class _Rosbag2Files:
    """The storage files of one rosbag2 bag (or lone .db3/.mcap files) read as one, in log
    order: the part of rosbags' AnyReader this replay needs, without its type registration."""

    def __init__(self, readers: list[Any]) -> None:
        self.readers = readers

    def open(self) -> None:
        for reader in self.readers:
            reader.open()

    def close(self) -> None:
        for reader in self.readers:
            reader.close()

    @property
    def connections(self) -> list[Any]:
        return [c for reader in self.readers for c in reader.connections]

    def messages(self, connections: Sequence[Any]) -> Iterator[tuple[Any, int, bytes]]:
        import heapq

        wanted = {id(c) for c in connections}
        streams = []
        for reader in self.readers:
            mine = [c for c in reader.connections if id(c) in wanted]
            if mine:  # rosbags reads every connection when given none
                streams.append(reader.messages(connections=mine))
        yield from heapq.merge(*streams, key=lambda item: item[1])


def camera_topics(
    reader: BagReader, topics: Sequence[str] | None, labels_topics: Sequence[str] = ()
) -> list[str]:
    """The camera topics to read: `topics`, or every camera topic but the labels topics;
    BagError for an asked topic the bag lacks, or a bag without any camera topic."""
    cameras = reader.contents().cameras
    if topics is None:
        labels = {normalise_topic(topic) for topic in labels_topics}
        found = [t for t in cameras if t not in labels]
        if not found:
            raise BagError(f"{reader.path}: no sensor_msgs Image or CompressedImage topic")
        return found
    wanted = [normalise_topic(t) for t in topics]
    missing = [t for t in wanted if t not in cameras]
    if missing:
        raise BagError(
            f"{reader.path}: no camera topic {missing[0]} (camera topics: "
            f"{', '.join(cameras) or 'none'})"
        )
    return wanted


def first_frame_id(reader: BagReader, topics: Sequence[str]) -> str | None:
    """The header frame_id of the first message (in log order) of `topics`; None without one."""
    messages = reader.messages(topics)
    try:
        first = next(messages, None)
    finally:
        messages.close()
    return None if first is None else str(first.msg.header.frame_id)


def read_labels(reader: BagReader, topic: str) -> dict[int, np.ndarray]:
    """Anomaly labels (mono8, 0 / 1 / 255) of a labels topic by header stamp."""
    from dense_ood_ros.metrics import check_anomaly_labels

    labels: dict[int, np.ndarray] = {}
    for frame in reader.messages([topic]):
        msg = frame.msg
        if frame.msgtype != IMAGE or msg.encoding != "mono8":
            encoding = getattr(msg, "encoding", getattr(msg, "format", "?"))
            raise BagError(
                f"labels topic {topic}: expected mono8 sensor_msgs/Image labels "
                f"(0 inlier, 1 anomaly, 255 void), got {frame.msgtype} {encoding!r}"
            )
        try:
            label = strided_rows(msg.data, msg.height, msg.width, msg.step)
        except ImageDecodeError as exc:
            raise BagError(f"labels topic {topic}: a label image's {exc}") from exc
        try:
            check_anomaly_labels(label, f"labels topic {topic}")
        except DenseOodError as exc:
            raise BagError(str(exc)) from exc
        labels[stamp_ns(msg)] = label.copy()
    return labels


#: The calibration beside a camera: `<ns>/camera_info` for the camera `<ns>/<name>` (the node's
#: rule, ros/camera_info.camera_info_topic; the replay does not import the node's package).
CAMERA_INFO = "sensor_msgs/msg/CameraInfo"


def camera_info_topic(camera: str) -> str:
    """`<ns>/camera_info` beside the camera topic `<ns>/<name>`."""
    parent, sep, _ = camera.rpartition("/")
    return f"{parent}/camera_info" if sep else "camera_info"


def read_camera_info(reader: BagReader, topic: str) -> Any | None:
    """The first sensor_msgs/CameraInfo message of `topic` (None where the bag has none)."""
    if reader.contents().other.get(topic) != CAMERA_INFO:
        return None
    messages = reader.messages([topic])
    try:
        first = next(messages, None)
    finally:
        messages.close()
    return None if first is None else first.msg
