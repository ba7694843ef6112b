"""The replay's output bag: the node's five mask topics per camera, with the input's headers,
and where the replay extracts obstacles the node's two obstacle topics (MarkerArray and
PointCloud2, built by the node's own `pipeline.obstacle_messages`).

Written with `rosbags` (MCAP by default, which Foxglove and RViz read; SQLite3 on request).
The writer is closed on every exit path, so the frames written before an error stay in a
valid bag.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dense_ood_ros.codec.messages import IMAGE, build_image
from dense_ood_ros.pipeline.frame_pipeline import FrameResult
from dense_ood_ros.pipeline.ground import GroundCamera, PlacedObstacle
from dense_ood_ros.topics import (
    ENCODING_OF_OUTPUT,
    TYPE_OF_OBSTACLE_OUTPUT,
    obstacle_topics,
    output_topics,
)

STORAGES = ("mcap", "sqlite3")
#: Ground points per frame in anomaly_points (the node's obstacle_max_points default).
MAX_POINTS = 2000


class MaskBagWriter:
    """Context manager: `write(frame, result)` adds one frame's outputs (and maybe its input)."""

    def __init__(self, path: Path, storage: str = "mcap", copy_inputs: bool = False) -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer
        from rosbags.typesys import Stores, get_typestore

        plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
        self._typestore = get_typestore(Stores.ROS2_HUMBLE)
        self._writer = Writer(path, version=9, storage_plugin=plugin)
        self._copy_inputs = copy_inputs
        self._connections: dict[str, Any] = {}
        self.messages = 0

    def __enter__(self) -> MaskBagWriter:
        self._writer.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self._writer.close()

    def _connection(self, topic: str, msgtype: str) -> Any:
        if topic not in self._connections:
            self._connections[topic] = self._writer.add_connection(
                topic, msgtype, typestore=self._typestore
            )
        return self._connections[topic]

    def write(
        self,
        frame: Any,
        result: FrameResult,
        placed: list[PlacedObstacle] | None = None,
        ground: GroundCamera | None = None,
    ) -> None:
        """The outputs of `result` for `frame` (a bag_input.CameraFrame), at its log time, and
        where `placed` is given (obstacles extracted) the obstacle topics, placed through
        `ground` (None: no positions)."""
        if self._copy_inputs:
            connection = self._connection(frame.topic, frame.msgtype)
            self._writer.write(connection, frame.log_time_ns, frame.raw)
            self.messages += 1
        images = result.output_images()
        for output, topic in output_topics(frame.camera).items():
            pixels = images[output]
            if pixels is None:
                continue
            data = self._image(frame.msg.header, pixels, ENCODING_OF_OUTPUT[output])
            self._writer.write(self._connection(topic, IMAGE), frame.log_time_ns, data)
            self.messages += 1
        if placed is not None:
            self._write_obstacles(frame, placed, ground)

    def _write_obstacles(
        self, frame: Any, placed: list[PlacedObstacle], ground: GroundCamera | None
    ) -> None:
        """anomaly_obstacles (MarkerArray) and anomaly_points (PointCloud2) of one frame, built
        by the node's own builders."""
        from dense_ood_ros.pipeline.obstacle_messages import marker_array, point_cloud

        types = self._typestore.types
        header = self._header(frame.msg.header)
        messages = {
            "anomaly_obstacles": marker_array(placed, header, types, ground),
            "anomaly_points": point_cloud(placed, header, MAX_POINTS, types),
        }
        for output, topic in obstacle_topics(frame.camera).items():
            msgtype = TYPE_OF_OBSTACLE_OUTPUT[output]
            data = self._typestore.serialize_cdr(messages[output], msgtype)
            self._writer.write(self._connection(topic, msgtype), frame.log_time_ns, data)
            self.messages += 1

    def _header(self, header: Any) -> Any:
        """A copy of an input message's header as this bag's std_msgs/Header."""
        types = self._typestore.types
        stamp = types["builtin_interfaces/msg/Time"](
            sec=int(header.stamp.sec), nanosec=int(header.stamp.nanosec)
        )
        return types["std_msgs/msg/Header"](stamp=stamp, frame_id=str(header.frame_id))

    def _image(self, header: Any, pixels: np.ndarray, encoding: str) -> bytes | memoryview:
        types = self._typestore.types
        msg = build_image(types[IMAGE], pixels, encoding, self._header(header))
        return self._typestore.serialize_cdr(msg, IMAGE)
