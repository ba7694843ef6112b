"""The camera's calibration beside the masks: `<ns>/camera_info` in, `<ns>/dense_ood/camera_info`
out, with each output frame's header and the intrinsics scaled to the outputs' size (as
image_proc's resize does), so consumers can project the masks (ROS-free: duck-typed messages).
"""

from __future__ import annotations

import copy
from typing import Any

from dense_ood_ros.topics import output_namespace, validate_topic

CAMERA_INFO = "camera_info"


def camera_info_topic(input_topic: str) -> str:
    """The calibration topic beside an image topic: `<ns>/camera_info`."""
    parent, sep, _ = validate_topic(input_topic).rpartition("/")
    return f"{parent}/{CAMERA_INFO}" if sep else CAMERA_INFO


def output_camera_info_topic(input_topic: str) -> str:
    """`<ns>/dense_ood/camera_info`."""
    return f"{output_namespace(input_topic)}/{CAMERA_INFO}"


def scaled_camera_info(info: Any, header: Any, height: int, width: int) -> Any:
    """A copy of `info` for images of height x width, stamped with `header`: fx, cx, fy, cy of
    K and P (and the ROI) scaled by the size ratios; distortion, R and binning kept."""
    out = copy.deepcopy(info)
    out.header = header
    scale_x = width / info.width if info.width else 1.0
    scale_y = height / info.height if info.height else 1.0
    k, p = list(info.k), list(info.p)
    for index in (0, 2):  # K (3x3): fx, cx
        k[index] *= scale_x
    for index in (4, 5):  # fy, cy
        k[index] *= scale_y
    for index in (0, 2, 3):  # P (3x4): fx, cx, Tx = -fx * baseline
        p[index] *= scale_x
    for index in (5, 6, 7):  # fy, cy, Ty
        p[index] *= scale_y
    out.k, out.p = k, p
    out.width, out.height = width, height
    roi = out.roi
    roi.x_offset, roi.width = round(roi.x_offset * scale_x), round(roi.width * scale_x)
    roi.y_offset, roi.height = round(roi.y_offset * scale_y), round(roi.height * scale_y)
    return out
