"""Topic names of the node: the five image outputs and the two anomaly obstacle outputs beside
each camera input (ROS-free: the node, the replay's output bag and the tools name topics alike).

For an input `<ns>/<name>` the outputs live under `<ns>/dense_ood/`, so a node serving several
cameras keeps each camera's masks next to that camera's image (`/cam_front/image_raw` ->
`/cam_front/dense_ood/semantic`, `/image_raw` -> `/dense_ood/semantic`). Relative inputs give
relative outputs (resolved in the node's namespace by ROS).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from dense_ood_ros.errors import DenseOodError

#: The node's name: its log prefix, its diagnostics' prefix, its launch and YAML name.
NODE_NAME = "dense_ood"
OUTPUT_DIR = "dense_ood"

#: Output name -> sensor_msgs/Image encoding, in publishing order.
ENCODING_OF_OUTPUT: dict[str, str] = {
    "semantic": "mono8",
    "semantic_color": "rgb8",
    "anomaly_score": "32FC1",
    "anomaly_mask": "mono8",
    "overlay": "rgb8",
}
OUTPUT_NAMES: tuple[str, ...] = tuple(ENCODING_OF_OUTPUT)

#: The anomaly obstacles of each camera (parameter enable_obstacles): output name -> ROS type.
#: Markers for people (RViz) and ground points for a costmap, beside the five images.
TYPE_OF_OBSTACLE_OUTPUT: dict[str, str] = {
    "anomaly_obstacles": "visualization_msgs/msg/MarkerArray",
    "anomaly_points": "sensor_msgs/msg/PointCloud2",
}

#: image_transport's name of the compressed sibling of a raw topic.
COMPRESSED_SUFFIX = "compressed"

# A ROS 2 name: optional leading "/", tokens of [A-Za-z0-9_] that do not start with a digit.
_TOPIC = re.compile(r"^/?[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*$")


class TopicError(DenseOodError, ValueError):
    """An input topic name the node cannot serve."""


def validate_topic(topic: str) -> str:
    """`topic` without surrounding spaces if it is a plain ROS 2 topic name, else TopicError."""
    name = topic.strip()
    if not _TOPIC.match(name) or "__" in name:
        raise TopicError(
            f"{topic!r} is not a valid topic name (tokens of letters, digits and '_', "
            "not starting with a digit, separated by '/')"
        )
    return name


def output_namespace(input_topic: str) -> str:
    """`<ns>/dense_ood` for the input `<ns>/<name>`."""
    name = validate_topic(input_topic)
    parent, sep, _ = name.rpartition("/")
    if not sep:  # relative, no namespace: "image_raw"
        return OUTPUT_DIR
    return f"{parent}/{OUTPUT_DIR}"


def output_topic(input_topic: str, output: str) -> str:
    """The topic of one output (a key of ENCODING_OF_OUTPUT) for a camera input topic."""
    if output not in ENCODING_OF_OUTPUT:
        raise KeyError(f"unknown output {output!r}; outputs are {list(OUTPUT_NAMES)}")
    return f"{output_namespace(input_topic)}/{output}"


def output_topics(input_topic: str) -> dict[str, str]:
    """Output name -> topic, for every output of one camera."""
    return {output: output_topic(input_topic, output) for output in OUTPUT_NAMES}


def obstacle_topics(input_topic: str) -> dict[str, str]:
    """Output name -> topic of the anomaly obstacle outputs of one camera (the keys of
    TYPE_OF_OBSTACLE_OUTPUT), beside its image outputs: `<ns>/dense_ood/anomaly_obstacles`
    (MarkerArray) and `<ns>/dense_ood/anomaly_points` (PointCloud2)."""
    namespace = output_namespace(input_topic)
    return {output: f"{namespace}/{output}" for output in TYPE_OF_OBSTACLE_OUTPUT}


def subscription_topic(input_topic: str, compressed: bool) -> str:
    """What the node subscribes to: the raw topic, or `<topic>/compressed` (image_transport)."""
    name = validate_topic(input_topic)
    return f"{name}/{COMPRESSED_SUFFIX}" if compressed else name


def check_distinct_outputs(input_topics: Iterable[str]) -> None:
    """Raise TopicError if two inputs are the same or would publish to the same outputs."""
    seen: dict[str, str] = {}
    for topic in input_topics:
        namespace = output_namespace(topic)
        if namespace in seen:
            raise TopicError(
                f"image topics {seen[namespace]!r} and {topic!r} would both publish under "
                f"{namespace!r}; give each camera its own namespace"
            )
        seen[namespace] = topic
