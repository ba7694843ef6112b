"""The replay's output bag: the node's five mask topics per camera, with the input's headers.

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
from dense_ood_ros.topics import ENCODING_OF_OUTPUT, output_topics

STORAGES = ("mcap", "sqlite3")


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

    def write(self, frame: Any, result: FrameResult) -> None:
        """The outputs of `result` for `frame` (a bag_input.CameraFrame), at its log time."""
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

    def _image(self, header: Any, pixels: np.ndarray, encoding: str) -> bytes | memoryview:
        types = self._typestore.types
        stamp = types["builtin_interfaces/msg/Time"](
            sec=int(header.stamp.sec), nanosec=int(header.stamp.nanosec)
        )
        copied = types["std_msgs/msg/Header"](stamp=stamp, frame_id=str(header.frame_id))
        msg = build_image(types[IMAGE], pixels, encoding, copied)
        return self._typestore.serialize_cdr(msg, IMAGE)
