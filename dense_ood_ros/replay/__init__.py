"""Bag replay evaluation without a ROS install: bags in (rosbags), the node's pipeline on every
camera frame, the node's mask topics out, and metrics where labels are recorded."""

from dense_ood_ros.replay.bag_input import BagError
from dense_ood_ros.replay.fleet import FleetError, OutputInTheWayError, RayMissingError
from dense_ood_ros.replay.inputs import BagListError
from dense_ood_ros.replay.pairing import LabelsPairingError

__all__ = [
    "BagError",
    "BagListError",
    "FleetError",
    "LabelsPairingError",
    "OutputInTheWayError",
    "RayMissingError",
]
