"""The live ROS 2 node `dense_ood`: camera images in, semantic and anomaly masks out.

A thin rclpy shell around ROS-free parts: parameters (node_config), topic names (topics),
keep-newest slots (frame_slots), counters (camera_stats), the shared Pipeline, and the anomaly
obstacles' geometry (ground_cameras) and messages (pipeline.obstacle_messages). Subscription
callbacks only drop each message into its camera's slot; one worker thread decodes, runs the
engine and publishes, so the executor never blocks on inference and a fast camera never builds
a backlog. Run with `ros2 run dense_ood_ros dense_ood_node --ros-args --params-file F` or
`python -m dense_ood_ros.node --ros-args ...`. Works with the Humble and Jazzy rclpy APIs.
"""

from __future__ import annotations

import functools
import logging
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

try:
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
    from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
    from rclpy.exceptions import ParameterException
    from rclpy.logging import get_logger
    from rclpy.node import Node
    from rclpy.parameter import Parameter
    from rclpy.qos import (
        DurabilityPolicy,
        HistoryPolicy,
        QoSProfile,
        ReliabilityPolicy,
        qos_profile_sensor_data,
    )
    from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2
    from visualization_msgs.msg import MarkerArray
except ImportError as _exc:  # pragma: no cover - only without a ROS 2 Python environment
    sys.exit(
        f"dense_ood_node: ROS 2 Python packages are missing ({_exc}); source a ROS 2 setup "
        "or `pip install '.[ros]'`"
    )

from dense_ood_ros.codec.image_codec import ImageDecodeError
from dense_ood_ros.codec.messages import COMPRESSED, IMAGE, decode_frame, image_msg_from_array
from dense_ood_ros.engine import EngineError, load_engine
from dense_ood_ros.errors import DenseOodError, first_line
from dense_ood_ros.model.bundled import demo_model_path
from dense_ood_ros.model.contract import ContractError
from dense_ood_ros.pipeline.frame_pipeline import FrameResult, Pipeline
from dense_ood_ros.pipeline.ground import place
from dense_ood_ros.pipeline.obstacle_messages import marker_array, point_cloud, rclpy_types
from dense_ood_ros.pipeline.obstacles import ObstacleSettings
from dense_ood_ros.ros.camera_info import (
    camera_info_topic,
    output_camera_info_topic,
    scaled_camera_info,
)
from dense_ood_ros.ros.camera_stats import CameraStats
from dense_ood_ros.ros.frame_slots import FrameSlots
from dense_ood_ros.ros.ground_cameras import GroundCameras
from dense_ood_ros.ros.node_config import (
    DYNAMIC_PARAMETERS,
    MODEL_PARAMETER_SPECS,
    PARAMETER_NAMES,
    PARAMETERS,
    NodeConfig,
    NodeConfigError,
    ParameterSpec,
    palette_strings,
    parse_config,
    parse_threshold,
)
from dense_ood_ros.ros.qos_follow import BEST_EFFORT, RELIABLE, follow_reliability
from dense_ood_ros.topics import (
    ENCODING_OF_OUTPUT,
    NODE_NAME,
    obstacle_topics,
    output_namespace,
    output_topics,
    subscription_topic,
)

DIAGNOSTICS_TOPIC = "/diagnostics"
DIAGNOSTICS_PERIOD_S = 1.0
FOLLOW_PERIOD_S = 1.0  # qos auto: how often the publishers are looked at
LOG_THROTTLE_S = 5.0
QUEUE_DEPTH = 5


class StartupError(DenseOodError, RuntimeError):
    """The node cannot start (bad parameters, missing or non-contract model): one line."""


@dataclass
class _Frame:
    msg: Any  # sensor_msgs/Image or CompressedImage
    received: float  # time.monotonic() at the callback


@dataclass
class _Camera:
    input_topic: str
    publishers: dict[str, Any]  # output name -> rclpy Publisher
    stats: CameraStats
    logger: Any  # the node's logger name; its own instance, so throttling is per camera
    subscription: Any = None
    reliability: str = BEST_EFFORT  # of the subscription
    info_publisher: Any = None  # <ns>/dense_ood/camera_info
    info: Any = None  # the latest <ns>/camera_info, if the camera publishes one
    # enable_obstacles: output name (anomaly_obstacles, anomaly_points) -> rclpy Publisher
    obstacle_publishers: dict[str, Any] = field(default_factory=dict)
    obstacles: int | None = None  # how many the last frame had


def qos_profile(name: str) -> QoSProfile:
    """`sensor_data` / `best_effort`: best effort, keep last 5; `reliable`: reliable, keep
    last 5 (`auto` publishes reliable, which every kind of subscriber matches)."""
    if name in ("sensor_data", BEST_EFFORT):
        return qos_profile_sensor_data
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=QUEUE_DEPTH,
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.VOLATILE,
    )


def parameter_descriptor(spec: ParameterSpec) -> ParameterDescriptor:
    """The rclpy descriptor of one row of the parameter table: read-only and constraints."""
    return ParameterDescriptor(
        description=spec.description,
        read_only=spec.read_only,
        dynamic_typing=spec.dynamic_typing,
        additional_constraints=spec.constraints_text(),
    )


def input_reliability(qos: str) -> str:
    """The subscription's reliability at start: auto begins best effort (it matches both)."""
    return RELIABLE if qos == "reliable" else BEST_EFFORT


T = TypeVar("T")


def _started(value: T | None) -> T:
    """A part that exists once `start()` has run."""
    if value is None:
        raise StartupError("the node has not been started")
    return value


class DenseOodNode(Node):
    """Declares the parameters on construction; `start()` loads the model and begins serving."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        self._config: NodeConfig | None = None
        self._pipeline: Pipeline | None = None
        self._cameras: dict[str, _Camera] = {}
        self._slots: FrameSlots[_Frame] | None = None
        self._worker: threading.Thread | None = None
        self._log_handler: logging.Handler | None = None
        self._ground: GroundCameras | None = None  # enable_obstacles
        self._publish_color = True
        self._publish_overlay = True
        self._declare_parameters()

    @property
    def config(self) -> NodeConfig:
        return _started(self._config)

    @property
    def pipeline(self) -> Pipeline:
        return _started(self._pipeline)

    @property
    def slots(self) -> FrameSlots[_Frame]:
        return _started(self._slots)

    # --- start-up -------------------------------------------------------------------------

    def _declare_parameters(self) -> None:
        for spec in PARAMETERS:
            descriptor = parameter_descriptor(spec)
            try:
                self.declare_parameter(spec.name, spec.default, descriptor)
            except ParameterException as exc:  # wrong type in the parameter file
                raise StartupError(f"bad parameter {spec.name!r}: {first_line(exc)}") from exc

    def start(self) -> None:
        """Validate parameters, load the model, create topics and the worker; or StartupError."""
        try:
            config = parse_config(
                {name: self._value(name) for name in PARAMETER_NAMES}, demo_model_path()
            )
        except NodeConfigError as exc:
            raise StartupError(str(exc)) from exc
        try:
            engine = load_engine(
                config.model_path,
                config.backend,
                max_batch=len(config.image_topics),
                engine_cache_dir=config.engine_cache_dir or None,
                force_rebuild=config.force_engine_rebuild,
                precision=config.engine_precision,
                log=self.get_logger(),
            )
        except (ContractError, EngineError) as exc:
            raise StartupError(f"cannot load model: {first_line(exc)}") from exc
        self._config = config
        obstacles = (
            ObstacleSettings(config.obstacle_min_pixels, config.obstacle_max_count)
            if config.enable_obstacles
            else None
        )
        self._pipeline = Pipeline(
            engine, config.anomaly_threshold, output_size=config.output_size, obstacles=obstacles
        )
        if config.enable_obstacles:
            self._ground = GroundCameras(config, self.get_logger().warning)
        self._log_handler = _RosLogHandler(self.get_logger())  # e.g. codec's cv_bridge fallback
        logging.getLogger("dense_ood_ros").addHandler(self._log_handler)
        self._publish_color = config.publish_color
        self._publish_overlay = config.publish_overlay
        self._declare_model_parameters()

        qos = qos_profile("reliable" if config.qos == "auto" else config.qos)
        self._slots = FrameSlots(config.image_topics)
        for topic in config.image_topics:
            self._cameras[topic] = self._create_camera(topic, qos)
        if config.qos == "auto":
            self._follow_timer = self.create_timer(FOLLOW_PERIOD_S, self._follow_publishers)
        self._diagnostics = self.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, 10)
        self._diagnostics_timer = self.create_timer(DIAGNOSTICS_PERIOD_S, self._publish_diagnostics)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._worker = threading.Thread(target=self._work, name="dense_ood_worker", daemon=True)
        self._worker.start()

        contract = self.pipeline.contract
        rule = (
            f"model's: {contract.threshold_rule}"
            if config.anomaly_threshold is None
            else "anomaly_threshold parameter"
        )
        self.get_logger().info(
            f"serving {len(self._cameras)} camera(s) {list(config.image_topics)}"
            f"{' (compressed)' if config.compressed else ''} with {config.model_path} "
            f"[{engine.backend_name} {engine.precision}, {contract.num_classes} classes, input "
            f"{contract.input_hw[0]}x{contract.input_hw[1]}, score {contract.score}, "
            f"threshold {self.pipeline.threshold:g} ({rule}), qos {config.qos}, outputs at the "
            f"{config.output_size} size, {self._obstacles_text()}]"
        )
        mounting = self._ground.mounting if self._ground is not None else None
        if mounting is not None:  # once, for every camera: .nan is the default, not a mistake
            logger = self.get_logger()
            say = logger.info if config.camera_height_m is None else logger.warning
            say(f"anomaly obstacles are published without positions: {mounting}")

    def _obstacles_text(self) -> str:
        config = self.config
        if not config.enable_obstacles:
            return "obstacles off"
        return (
            f"obstacles of >= {config.obstacle_min_pixels} px, at most "
            f"{config.obstacle_max_count} and {config.obstacle_max_points} points a frame"
        )

    def _value(self, name: str) -> Any:
        """A parameter's value; None when unset (rclpy's reading of `image_topics: []`)."""
        try:
            return self.get_parameter(name).value
        except ParameterException:
            return None

    def _declare_model_parameters(self) -> None:
        contract = self.pipeline.contract
        values = {
            "class_names": list(contract.class_names),
            "palette": palette_strings(contract.palette),
        }
        for spec in MODEL_PARAMETER_SPECS:
            descriptor = parameter_descriptor(spec)
            self.declare_parameter(spec.name, values[spec.name], descriptor, ignore_override=True)

    def _create_camera(self, topic: str, qos: QoSProfile) -> _Camera:
        publishers = {
            output: self.create_publisher(Image, out_topic, qos)
            for output, out_topic in output_topics(topic).items()
        }
        camera = _Camera(
            input_topic=topic,
            publishers=publishers,
            stats=CameraStats(),
            logger=get_logger(self.get_logger().name),
            reliability=input_reliability(self.config.qos),
            info_publisher=self.create_publisher(CameraInfo, output_camera_info_topic(topic), qos),
        )
        if self.config.enable_obstacles:
            kinds = {"anomaly_obstacles": MarkerArray, "anomaly_points": PointCloud2}
            camera.obstacle_publishers = {
                output: self.create_publisher(kinds[output], out, qos)
                for output, out in obstacle_topics(topic).items()
            }
        self._subscribe(camera)
        self.create_subscription(  # best effort: matches calibration publishers of either kind
            CameraInfo,
            camera_info_topic(topic),
            functools.partial(self._on_camera_info, camera),
            qos_profile_sensor_data,
        )
        return camera

    def _on_camera_info(self, camera: _Camera, info: Any) -> None:
        camera.info = info

    def _subscribe(self, camera: _Camera) -> None:
        """(Re-)create the camera's subscription at its current reliability."""
        if camera.subscription is not None:
            self.destroy_subscription(camera.subscription)
        if _message_info_supported():
            callback: Any = functools.partial(self._on_frame_with_info, camera)
        else:  # Humble's rclpy passes the message only
            callback = functools.partial(self._on_frame, camera)
        kind = CompressedImage if self.config.compressed else Image
        topic = subscription_topic(camera.input_topic, self.config.compressed)
        camera.subscription = self.create_subscription(
            kind, topic, callback, qos_profile(camera.reliability)
        )

    def _follow_publishers(self) -> None:
        """qos auto: match each camera's subscription to what its publishers offer."""
        for camera in self._cameras.values():
            topic = subscription_topic(camera.input_topic, self.config.compressed)
            offered = [
                RELIABLE if info.qos_profile.reliability == ReliabilityPolicy.RELIABLE
                else BEST_EFFORT
                for info in self.get_publishers_info_by_topic(topic)
            ]  # fmt: skip
            wanted = follow_reliability(offered, camera.reliability)
            if wanted != camera.reliability:
                camera.reliability = wanted
                self._subscribe(camera)
                self.get_logger().info(f"{topic}: publishers offer {wanted}; subscribed so")

    # --- executor thread: callbacks ---------------------------------------------------------

    def _on_frame(self, camera: _Camera, msg: Any, sequence: int | None = None) -> None:
        camera.stats.on_received(sequence)
        if self.slots.put(camera.input_topic, _Frame(msg, time.monotonic())):
            camera.stats.on_dropped()

    def _on_frame_with_info(self, camera: _Camera, msg: Any, info: Any) -> None:
        """rclpy (Iron and later) passes the message info: its publication sequence number
        reveals frames lost in transport."""
        sequence = info.get("publication_sequence_number") if isinstance(info, dict) else None
        self._on_frame(camera, msg, sequence if isinstance(sequence, int) and sequence else None)

    def _on_set_parameters(self, params: list[Parameter]) -> SetParametersResult:
        """Threshold and publish_* change live (their descriptors refuse the read-only ones
        and a wrong type before this runs)."""
        updates = {param.name: param.value for param in params if param.name in DYNAMIC_PARAMETERS}
        try:
            threshold = parse_threshold(updates.get("anomaly_threshold"))
        except NodeConfigError as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        if "anomaly_threshold" in updates:
            self.pipeline.threshold = (
                self.pipeline.contract.threshold if threshold is None else threshold
            )
        self._publish_color = updates.get("publish_color", self._publish_color)
        self._publish_overlay = updates.get("publish_overlay", self._publish_overlay)
        return SetParametersResult(successful=True)

    def _publish_diagnostics(self) -> None:
        array = DiagnosticArray()
        array.header.stamp = self.get_clock().now().to_msg()
        contract = self.pipeline.contract
        common = [
            ("model_path", self.config.model_path),
            ("score", contract.score),
            ("anomaly_threshold", f"{self.pipeline.threshold:g}"),
        ]
        for camera in self._cameras.values():
            status = camera.stats.status()
            values = [
                ("input_topic", camera.input_topic),
                ("input_qos", camera.reliability),
                ("output_namespace", output_namespace(camera.input_topic)),
                *status.values,
                *self._obstacle_values(camera),
                *common,
            ]
            array.status.append(
                DiagnosticStatus(
                    level=bytes([int(status.level)]),
                    name=f"{self.get_name()}: {camera.input_topic}",
                    message=status.message,
                    hardware_id=camera.input_topic,
                    values=[KeyValue(key=key, value=value) for key, value in values],
                )
            )
        self._diagnostics.publish(array)

    def _obstacle_values(self, camera: _Camera) -> list[tuple[str, str]]:
        """`obstacles` (in the last frame) and `obstacle_positions` (ok, or why not)."""
        if self._ground is None:
            return [("obstacles", "off")]
        count = "n/a" if camera.obstacles is None else str(camera.obstacles)
        return [
            ("obstacles", count),
            ("obstacle_positions", self._ground.reason(camera.input_topic) or "ok"),
        ]

    # --- worker thread: decode, infer, publish ----------------------------------------------

    def _work(self) -> None:
        while not self.slots.closed:
            taken = self.slots.take(timeout=0.5)
            decoded = [(self._cameras[topic], frame) for topic, frame in taken]
            ready = [(camera, frame, rgb) for camera, frame in decoded
                     if (rgb := self._decode(camera, frame)) is not None]  # fmt: skip
            if ready:
                self._process(ready)

    def _decode(self, camera: _Camera, frame: _Frame) -> np.ndarray | None:
        """The frame's RGB, or None (counted and logged) for bad input."""
        msgtype = COMPRESSED if self.config.compressed else IMAGE
        try:
            return decode_frame(frame.msg, msgtype, min_hw=self.pipeline.min_decode_hw)
        except ImageDecodeError as exc:
            camera.stats.on_rejected(first_line(exc))
            camera.logger.warn(
                f"{camera.input_topic}: rejected frame: {first_line(exc)}",
                throttle_duration_sec=LOG_THROTTLE_S,
            )
            return None

    def _process(self, ready: list[tuple[_Camera, _Frame, np.ndarray]]) -> None:
        """The newest frame of every camera through one engine call, then each published."""
        try:
            results = self.pipeline.process_batch(
                [rgb for _, _, rgb in ready],
                [self._wants("semantic_color", camera) for camera, _, _ in ready],
                [self._wants("overlay", camera) for camera, _, _ in ready],
            )
            for (camera, frame, rgb), result in zip(ready, results, strict=True):
                self._publish(camera, frame.msg.header, result)
                self._publish_obstacles(camera, frame.msg.header, result, self._frame_hw(rgb))
                camera.stats.on_processed((time.monotonic() - frame.received) * 1000.0)
        except Exception as exc:  # one failing batch must not stop the node serving
            if not self.context.ok():  # shutting down: publishers are gone, nothing to report
                return
            for camera, _, _ in ready:
                camera.stats.on_failed(f"{type(exc).__name__}: {first_line(exc)}")
                camera.logger.error(
                    f"{camera.input_topic}: processing failed: {type(exc).__name__}: "
                    f"{first_line(exc)}",
                    throttle_duration_sec=LOG_THROTTLE_S,
                )

    def _wants(self, output: str, camera: _Camera) -> bool:
        """Colour and overlay are rendered only when enabled and someone subscribes."""
        enabled = self._publish_color if output == "semantic_color" else self._publish_overlay
        return enabled and _subscribed(camera.publishers[output])

    def _publish(self, camera: _Camera, header: Any, result: FrameResult) -> None:
        arrays = result.output_images()
        for output, encoding in ENCODING_OF_OUTPUT.items():
            array = arrays[output]
            publisher = camera.publishers[output]
            if array is not None and _subscribed(publisher):
                publisher.publish(image_msg_from_array(array, encoding, header))
        info = camera.info
        if info is not None and _subscribed(camera.info_publisher):
            height, width = result.semantic.shape
            camera.info_publisher.publish(scaled_camera_info(info, header, height, width))

    def _frame_hw(self, rgb: np.ndarray) -> tuple[int, int] | None:
        """The camera frame's size; None where a JPEG may have been decoded at a reduced scale."""
        if self.config.compressed and self.pipeline.min_decode_hw is not None:
            return None
        height, width = rgb.shape[:2]
        return height, width

    def _publish_obstacles(
        self, camera: _Camera, header: Any, result: FrameResult, frame_hw: tuple[int, int] | None
    ) -> None:
        """The frame's obstacles, placed on the ground where the camera's geometry is known:
        markers and ground points with the masks' header."""
        if self._ground is None or result.obstacles is None:
            return
        camera.obstacles = len(result.obstacles)
        height, width = result.semantic.shape
        ground = self._ground.camera(camera.input_topic, camera.info, frame_hw, (height, width))
        markers = camera.obstacle_publishers["anomaly_obstacles"]
        points = camera.obstacle_publishers["anomaly_points"]
        if not (_subscribed(markers) or _subscribed(points)):
            return
        placed = [place(obstacle, ground) for obstacle in result.obstacles]
        if _subscribed(markers):
            markers.publish(marker_array(placed, header, rclpy_types(), ground))
        if _subscribed(points):
            max_points = self.config.obstacle_max_points
            points.publish(point_cloud(placed, header, max_points, rclpy_types()))

    # --- shutdown ---------------------------------------------------------------------------

    def close(self, timeout: float = 5.0) -> None:
        """Stop the worker (finishing the frame in hand) before the node is destroyed."""
        if self._slots is not None:
            self.slots.close()
        if self._worker is not None:
            self._worker.join(timeout)
        if self._log_handler is not None:
            logging.getLogger("dense_ood_ros").removeHandler(self._log_handler)


class _RosLogHandler(logging.Handler):
    """The runtime's Python log records (warnings and above) into the node's rclpy log."""

    def __init__(self, logger: Any) -> None:
        super().__init__(logging.WARNING)
        self._logger = logger

    def emit(self, record: logging.LogRecord) -> None:
        say = self._logger.error if record.levelno >= logging.ERROR else self._logger.warning
        say(record.getMessage())


def _subscribed(publisher: Any) -> bool:
    """Outputs nobody listens to are neither rendered nor encoded."""
    return publisher.get_subscription_count() > 0


def main(args: list[str] | None = None) -> int:
    """Entry point of `dense_ood_node`: 0 after SIGINT/SIGTERM, 1 when it cannot start."""
    try:
        rclpy.init(args=args)
    except Exception as exc:  # e.g. an unreadable --params-file
        print(f"[ERROR] [{NODE_NAME}]: cannot initialise ROS: {first_line(exc)}", file=sys.stderr)
        return 1
    node: DenseOodNode | None = None
    try:
        node = DenseOodNode()
        node.start()
    except (StartupError, KeyboardInterrupt) as exc:  # Ctrl-C while the model loads: quiet
        if isinstance(exc, StartupError):
            logger = node.get_logger() if node is not None else get_logger(NODE_NAME)
            logger.error(str(exc))
        _teardown(node)
        return 1 if isinstance(exc, StartupError) else 0
    # Resolved before spinning: a second Ctrl-C must not land while an except clause still
    # calls a function to learn what it catches (it did: a traceback and exit -2 under load).
    stopped_by_signal = (KeyboardInterrupt, _external_shutdown())
    try:
        rclpy.spin(node)
    except stopped_by_signal:
        pass
    except Exception:
        if rclpy.ok():  # a real failure; not the executor seeing a context a signal ended
            raise
    finally:
        _teardown(node)
    return 0


def _teardown(node: DenseOodNode | None) -> None:
    """Stop, destroy and shut down, deaf to further signals: a terminal's Ctrl-C reaches the
    whole process group (the node under `ros2 launch` gets SIGINT twice), and a second one
    must not interrupt the first one's clean exit."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    if node is not None:
        node.close()
        node.destroy_node()
    rclpy.try_shutdown()


def _message_info_supported() -> bool:
    """Whether this rclpy hands subscription callbacks the message info (Iron and later)."""
    from rclpy.subscription import Subscription

    return hasattr(getattr(Subscription, "CallbackType", None), "WithMessageInfo")


def _external_shutdown() -> type[BaseException]:
    """rclpy's exception for a context shut down by a signal (Humble and later)."""
    from rclpy import executors

    return getattr(executors, "ExternalShutdownException", KeyboardInterrupt)


if __name__ == "__main__":
    sys.exit(main())
