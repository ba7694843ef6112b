"""Output topic names beside each camera input."""

from __future__ import annotations

import pytest

from dense_ood_ros.ros.topics import (
    OUTPUT_ENCODINGS,
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
    assert OUTPUT_ENCODINGS == {
        "semantic": "mono8",
        "semantic_color": "rgb8",
        "anomaly_score": "32FC1",
        "anomaly_mask": "mono8",
        "overlay": "rgb8",
    }
    assert output_topic("/image_raw", "overlay") == "/dense_ood/overlay"
    with pytest.raises(KeyError, match="unknown output"):
        output_topic("/image_raw", "depth")


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
