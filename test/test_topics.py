"""Output topic names beside each camera input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dense_ood_ros.codec.messages import IMAGE, array_from_image_msg, build_image, decode_frame
from dense_ood_ros.engine import load_engine
from dense_ood_ros.pipeline.frame_pipeline import Pipeline
from dense_ood_ros.topics import (
    ENCODING_OF_OUTPUT,
    TopicError,
    check_distinct_outputs,
    output_namespace,
    output_topic,
    output_topics,
    subscription_topic,
    validate_topic,
)


@pytest.mark.parametrize(
    ("input_topic", "namespace"),
    [
        ("/cam_front/image_raw", "/cam_front/dense_ood"),
        ("/vehicle/cam_left/image_rect", "/vehicle/cam_left/dense_ood"),
        ("/image_raw", "/dense_ood"),
        ("camera/image_raw", "camera/dense_ood"),
        ("image_raw", "dense_ood"),
        (" /camera/image_raw ", "/camera/dense_ood"),
    ],
)
def test_output_namespace(input_topic: str, namespace: str) -> None:
    assert output_namespace(input_topic) == namespace


def test_output_topics_are_the_five_design_outputs() -> None:
    topics = output_topics("/cam_front/image_raw")
    assert topics == {
        "semantic": "/cam_front/dense_ood/semantic",
        "semantic_color": "/cam_front/dense_ood/semantic_color",
        "anomaly_score": "/cam_front/dense_ood/anomaly_score",
        "anomaly_mask": "/cam_front/dense_ood/anomaly_mask",
        "overlay": "/cam_front/dense_ood/overlay",
    }
    assert output_topic("/image_raw", "overlay") == "/dense_ood/overlay"
    with pytest.raises(KeyError, match="unknown output"):
        output_topic("/image_raw", "depth")


def test_each_output_encoding_carries_the_pipeline_result_unchanged(tiny_model: Path) -> None:
    """Every image the pipeline makes has a topic and an encoding, and an Image in that encoding
    (rosbags' message class, as the replay writes it) gives back exactly the same pixels."""
    from rosbags.typesys import Stores, get_typestore

    types = get_typestore(Stores.ROS2_JAZZY).types
    header = types["std_msgs/msg/Header"](
        stamp=types["builtin_interfaces/msg/Time"](sec=1, nanosec=2), frame_id="cam"
    )
    frame = np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    pipeline = Pipeline(load_engine(tiny_model, "onnxruntime"), threshold=0.3)
    images = pipeline.process(frame, color=True, overlay=True).output_images()
    assert set(images) == set(ENCODING_OF_OUTPUT) == set(output_topics("/cam/image_raw"))
    assert len({str(images[name].dtype) for name in images}) > 1  # uint8 and float32 outputs
    for name, pixels in images.items():
        assert pixels is not None and pixels.shape[:2] == (50, 70), name
        msg = build_image(types[IMAGE], pixels, ENCODING_OF_OUTPUT[name], header)
        back = array_from_image_msg(msg)
        assert back.dtype == pixels.dtype and back.shape == pixels.shape, name
        np.testing.assert_array_equal(back, pixels)
        if pixels.ndim == 3:  # colours: a viewer decoding the Image to RGB sees the same ones
            np.testing.assert_array_equal(decode_frame(msg, IMAGE), pixels)
    np.testing.assert_array_equal(
        images["semantic_color"], pipeline.contract.palette[images["semantic"]]
    )


def test_subscription_topic_follows_image_transport() -> None:
    assert subscription_topic("/camera/image_raw", compressed=False) == "/camera/image_raw"
    assert (
        subscription_topic("/camera/image_raw", compressed=True) == "/camera/image_raw/compressed"
    )


@pytest.mark.parametrize(
    "bad",
    ["", "/", "/camera/", "//camera", "/camera//image", "/1cam/image", "/cam era", "a__b", "~/x"],
)
def test_invalid_topics_are_rejected(bad: str) -> None:
    with pytest.raises(TopicError, match="not a valid topic name"):
        validate_topic(bad)


def test_colliding_outputs_are_rejected() -> None:
    check_distinct_outputs(["/cam_front/image_raw", "/cam_rear/image_raw", "/image_raw"])
    with pytest.raises(TopicError, match="both publish under '/cam/dense_ood'"):
        check_distinct_outputs(["/cam/image_raw", "/cam/image_rect"])
    with pytest.raises(TopicError, match="both publish"):
        check_distinct_outputs(["/cam/image_raw", "/cam/image_raw"])
