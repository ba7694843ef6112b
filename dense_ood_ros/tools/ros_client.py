"""The client side of a running dense_ood node, for the demo, the soak, the transport bench and
the tests: one rclpy node in its own context that publishes camera frames, subscribes to the
node's outputs and /diagnostics, and spins until a condition holds.

rclpy is imported inside the methods, so importing this module needs no ROS.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

from dense_ood_ros.tools.node_process import environ
from dense_ood_ros.topics import NODE_NAME, output_topics

Received = list[tuple[float, Any]]  # (monotonic arrival time, message)


class RosClient:
    """A client node in its own rclpy context; records what its subscriptions receive (or hands
    it to a callback, for long runs that must not keep every message)."""

    def __init__(self, domain_id: int, name: str, env: dict[str, str] | None = None) -> None:
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor

        self.context = Context()
        with environ(env or {}):  # Fast DDS reads its profile when the participant is created
            rclpy.init(args=[], context=self.context, domain_id=domain_id)
            self.node = rclpy.create_node(name, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.received: dict[str, Received] = defaultdict(list)
        self.subscriptions: dict[str, Any] = {}

    def __enter__(self) -> RosClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        import rclpy

        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)

    def publisher(self, msg_type: type, topic: str, qos: Any) -> Any:
        return self.node.create_publisher(msg_type, topic, qos)

    def subscribe(
        self, msg_type: type, topic: str, qos: Any, callback: Callable[[Any], None] | None = None
    ) -> None:
        """Subscribe to `topic`: its messages go to `callback`, or into `received[topic]`."""

        def record(msg: Any) -> None:
            self.received[topic].append((time.monotonic(), msg))

        self.subscriptions[topic] = self.node.create_subscription(
            msg_type, topic, callback or record, qos
        )

    def subscribe_outputs(
        self, camera: str, qos: Any, callback: Callable[[str, Any], None] | None = None
    ) -> dict[str, str]:
        """Subscribe to the five image outputs of `camera` (callback gets the output's name and
        the message); their topics by output name."""
        from sensor_msgs.msg import Image

        topics = output_topics(camera)
        for name, topic in topics.items():
            handler = None if callback is None else _bound(callback, name)
            self.subscribe(Image, topic, qos, handler)
        return topics

    def subscribe_diagnostics(self) -> None:
        from diagnostic_msgs.msg import DiagnosticArray

        self.subscribe(DiagnosticArray, "/diagnostics", 10)

    def statuses(self, camera: str, since: float = 0.0) -> Iterator[tuple[float, Any]]:
        """(arrival, DiagnosticStatus) of the node's `camera` arrived after `since`, newest
        first."""
        for arrived, array in reversed(self.received["/diagnostics"]):
            if arrived < since:
                return
            for status in array.status:
                if status.name == f"{NODE_NAME}: {camera}":
                    yield arrived, status

    def spin_until(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Spin until `condition()` holds (True) or `timeout` seconds pass (its last value)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            self.executor.spin_once(timeout_sec=0.02)
        return condition()

    def spin_for(self, seconds: float) -> None:
        self.spin_until(lambda: False, seconds)

    def matched(self, publishers: list[Any], topics: list[str]) -> bool:
        """Every publisher has a subscriber and every subscribed topic a publisher."""
        return all(p.get_subscription_count() > 0 for p in publishers) and all(
            _publisher_count(self.subscriptions[t], self.node) > 0 for t in topics
        )

    def call(self, srv_type: type, service: str, request: Any, timeout: float = 10.0) -> Any:
        """Call a service and spin until it answers; None when it does not in time."""
        client = self.node.create_client(srv_type, service)
        try:
            if not client.wait_for_service(timeout_sec=timeout):
                return None
            future = client.call_async(request)
            return future.result() if self.spin_until(future.done, timeout) else None
        finally:
            self.node.destroy_client(client)


def stamp_key(header: Any) -> tuple[int, int]:
    return (header.stamp.sec, header.stamp.nanosec)


def diagnostic_values(status: Any) -> dict[str, str]:
    return {kv.key: kv.value for kv in status.values}


def _bound(callback: Callable[[str, Any], None], name: str) -> Callable[[Any], None]:
    return lambda msg: callback(name, msg)


def _publisher_count(subscription: Any, node: Any) -> int:
    """Matched publishers of a subscription (Jazzy's API; the graph count on Humble)."""
    if hasattr(subscription, "get_publisher_count"):
        return int(subscription.get_publisher_count())
    return int(node.count_publishers(subscription.topic_name))
