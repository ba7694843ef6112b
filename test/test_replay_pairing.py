"""Labels belong to one camera: `dense-ood replay` with two synchronised cameras (equal header
stamps) in real bags written with rosbags, and the pairing rules on their own."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_replay import (  # skips this module too where rosbags is missing
    HW,
    IMAGE,
    T0,
    Msg,
    camera_msgs,
    frame,
    image_fields,
    label,
    read_bag,
    replay,
    write_bag,
)

from dense_ood_ros.engine import load_engine
from dense_ood_ros.metrics import pixel_metrics
from dense_ood_ros.pipeline.frame_pipeline import Pipeline
from dense_ood_ros.replay.pairing import (
    LabelsPairingError,
    LabelsSpec,
    namespace,
    pair_labels,
    parse_labels_pair,
)

FRONT, REAR = "/cam_front/image_raw", "/cam_rear/image_raw"
FRAMES = 3
REAR_OFFSET = 10  # the rear camera sees other scenes than the front one


def rear_label(index: int) -> np.ndarray:
    """The rear camera's labels: another anomaly than the front's, and one void row."""
    out = np.zeros(HW, np.uint8)
    out[20:32, 30 + index : 50 + index] = 1
    out[0, :] = 255
    return out


def with_frame_id(msgs: list[Msg], frame_id: str) -> list[Msg]:
    for msg in msgs:
        msg.fields["frame_id"] = frame_id
    return msgs


def labels_msgs(topic: str, make_label, frame_id: str = "cam") -> list[Msg]:
    """Labels of every frame, with the cameras' stamps (those of `camera_msgs`)."""
    msgs = []
    for i in range(FRAMES):
        stamp = (T0 + i) * 10**9 + 1000
        fields = image_fields(make_label(i), "mono8", stamp, frame_id=frame_id)
        msgs.append(Msg(topic, IMAGE, stamp, fields))
    return msgs


def two_cameras(front_id: str = "cam", rear_id: str = "cam") -> list[Msg]:
    """Front and rear frames with equal stamps (a hardware trigger)."""
    front = with_frame_id(camera_msgs(FRONT, FRAMES), front_id)
    rear = with_frame_id(camera_msgs(REAR, FRAMES, start=REAR_OFFSET), rear_id)
    return front + rear


def run_replay(tmp_path: Path, model: Path, bag: Path, name: str, *extra: str) -> dict:
    """Replay `bag` and return its report.json."""
    report = tmp_path / f"report_{name}"
    args = [str(bag), "--model", str(model), "--output", str(tmp_path / f"out_{name}")]
    assert replay(*args, "--report", str(report), *extra) == 0
    return json.loads((report / "report.json").read_text())


def pixel_keys(metrics: dict) -> dict:
    keys = ("ap", "fpr95", "auroc", "best_f1", "num_positive", "num_negative", "num_void")
    return {key: metrics[key] for key in keys}


def scores_of(model: Path, start: int) -> list[np.ndarray]:
    pipeline = Pipeline(load_engine(model, "onnxruntime"))
    return [pipeline.process(frame(start + i)).score for i in range(FRAMES)]


# --- replays of two synchronised cameras -------------------------------------------------------


def test_one_labelled_camera_scores_only_its_frames(tiny_model: Path, tmp_path: Path) -> None:
    labels_topic = "/cam_front/image_raw_labels"
    labels = labels_msgs(labels_topic, label)
    both = write_bag(tmp_path / "both", two_cameras() + labels)
    alone = write_bag(tmp_path / "alone", camera_msgs(FRONT, FRAMES) + labels)
    result = run_replay(tmp_path, tiny_model, both, "both", "--labels-topic", labels_topic)
    assert result["frames_per_camera"] == {FRONT: FRAMES, REAR: FRAMES}
    assert result["frames_labelled"] == FRAMES and result["frames_without_labels"] == 0
    assert result["labels_per_camera"] == {
        FRONT: {"labels_topics": [labels_topic], "labels": FRAMES, "scored": FRAMES,
                "without_label": 0}
    }  # fmt: skip
    reference = run_replay(tmp_path, tiny_model, alone, "alone", "--labels-topic", labels_topic)
    assert reference["frames_labelled"] == FRAMES
    assert result["metrics"] == reference["metrics"]  # pixel and component metrics alike
    assert result["metrics"]["jsd"]["num_void"] == FRAMES * 2 * HW[1]
    # the rear frames would have changed them: scored against the front labels, they differ
    front, rear = scores_of(tiny_model, 0), scores_of(tiny_model, REAR_OFFSET)
    labels_front = [label(i) for i in range(FRAMES)]
    wrong = pixel_metrics(front + rear, labels_front + labels_front)
    assert wrong["ap"] != pytest.approx(result["metrics"]["jsd"]["ap"], abs=1e-6)
    report_md = (tmp_path / "report_both" / "report.md").read_text()
    assert f"  - {FRONT} (labels {labels_topic}): {FRAMES} frames scored" in report_md


def test_top_level_labels_pair_by_frame_id(tiny_model: Path, tmp_path: Path) -> None:
    msgs = two_cameras(front_id="front", rear_id="rear") + labels_msgs("/labels", label, "rear")
    bag = write_bag(tmp_path / "in", msgs)
    result = run_replay(tmp_path, tiny_model, bag, "fid", "--labels-topic", "/labels")
    assert list(result["labels_per_camera"]) == [REAR]
    direct = pixel_metrics(scores_of(tiny_model, REAR_OFFSET), [label(i) for i in range(FRAMES)])
    assert result["metrics"]["jsd"]["ap"] == pytest.approx(direct["ap"], abs=1e-9)
    assert result["frames_labelled"] == FRAMES


def test_both_cameras_scored_against_their_own_labels(tiny_model: Path, tmp_path: Path) -> None:
    # no camera in /labels, one frame_id for all: only explicit pairs tell them apart
    msgs = (
        two_cameras()
        + labels_msgs("/labels/front", label)
        + labels_msgs("/labels/rear", rear_label)
    )
    bag = write_bag(tmp_path / "in", msgs)
    pairs = ["--labels", f"{FRONT}=/labels/front", "--labels", f"{REAR}=/labels/rear"]
    result = run_replay(tmp_path, tiny_model, bag, "pairs", *pairs)
    assert result["frames_labelled"] == 2 * FRAMES
    assert {camera: c["labels_topics"] for camera, c in result["labels_per_camera"].items()} == {
        FRONT: ["/labels/front"],
        REAR: ["/labels/rear"],
    }
    assert all(c["scored"] == FRAMES for c in result["labels_per_camera"].values())
    front, rear = scores_of(tiny_model, 0), scores_of(tiny_model, REAR_OFFSET)
    own = [label(i) for i in range(FRAMES)] + [rear_label(i) for i in range(FRAMES)]
    swapped = [rear_label(i) for i in range(FRAMES)] + [label(i) for i in range(FRAMES)]
    expected = pixel_metrics(front + rear, own)
    assert pixel_keys(result["metrics"]["jsd"]) == pytest.approx(pixel_keys(expected), abs=1e-9)
    assert result["metrics"]["jsd"]["num_void"] == FRAMES * 3 * HW[1]  # 2 rows front, 1 rear
    assert pixel_metrics(front + rear, swapped)["ap"] != pytest.approx(expected["ap"], abs=1e-6)


def _one_line(capsys: pytest.CaptureFixture[str], *expected: str) -> str:
    err = capsys.readouterr().err
    assert err.startswith("dense-ood replay: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for text in expected:
        assert text in err, (text, err)
    return err


def test_ambiguous_pairings_are_one_line_errors(
    tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stereo = with_frame_id(camera_msgs("/stereo/left/image_raw", 1), "stereo") + with_frame_id(
        camera_msgs("/stereo/right/image_raw", 1), "stereo"
    )
    bags = {
        "same_frame_id": write_bag(tmp_path / "a", two_cameras() + labels_msgs("/labels", label)),
        "namespace": write_bag(
            tmp_path / "b", stereo + labels_msgs("/stereo/labels", label, "stereo")
        ),
        "no_camera": write_bag(
            tmp_path / "c", two_cameras() + labels_msgs("/cam_side/labels", label, "side")
        ),
    }
    cases = [
        ("same_frame_id", ["--labels-topic", "/labels"], ["/labels", FRONT, REAR, "'cam'"]),
        (
            "namespace",
            ["--labels-topic", "/stereo/labels"],
            ["/stereo/labels", "/stereo/left/image_raw", "/stereo/right/image_raw"],
        ),
        ("no_camera", ["--labels-topic", "/cam_side/labels"], ["/cam_side/labels", "'side'"]),
        (
            "same_frame_id",
            ["--labels", f"{FRONT}=/labels", "--labels", f"{REAR}=/labels"],
            ["labels topic /labels is given twice"],
        ),
        ("same_frame_id", ["--labels", "/cam_left/image_raw=/labels"], ["/cam_left/image_raw"]),
        ("same_frame_id", ["--labels", "/labels"], ["expected CAMERA_TOPIC=LABELS_TOPIC"]),
    ]
    for index, (bag, args, expected) in enumerate(cases):
        out = tmp_path / f"out{index}"
        assert replay(str(bags[bag]), "--model", str(tiny_model), "--output", str(out), *args) == 2
        _one_line(capsys, *expected)
        assert not out.exists()  # refused before anything was written


def test_a_replay_without_labels_is_unchanged_by_pairing(tiny_model: Path, tmp_path: Path) -> None:
    bag = write_bag(tmp_path / "in", two_cameras() + labels_msgs("/labels", label))
    result = run_replay(tmp_path, tiny_model, bag, "plain")
    # the labels topic is an Image topic, so without --labels it is replayed as a camera
    assert result["frames_per_camera"][FRONT] == FRAMES
    assert result["labels_per_camera"] == {} and result["metrics"] == {}
    assert len(read_bag(tmp_path / "out_plain")["/cam_rear/dense_ood/semantic"]) == FRAMES


# --- the rules alone ---------------------------------------------------------------------------


def test_parse_labels_pair() -> None:
    assert parse_labels_pair("cam/image_raw=/cam/labels") == LabelsSpec(
        "/cam/labels", "/cam/image_raw"
    )
    for bad in ("/cam/labels", "=/labels", "/cam/image_raw=", "/a=/b=/c"):
        with pytest.raises(LabelsPairingError, match="CAMERA_TOPIC=LABELS_TOPIC"):
            parse_labels_pair(bad)


def test_namespace() -> None:
    assert namespace("/cam_front/image_raw_labels") == "/cam_front"
    assert namespace("/a/b/labels") == "/a/b"
    assert namespace("/labels") == namespace("labels") == "/"


CAMERAS = {
    "/cam_front/image_raw": ["/cam_front/image_raw/compressed"],
    "/cam_rear/image_raw": ["/cam_rear/image_raw"],
    "/stereo/left/image_raw": ["/stereo/left/image_raw"],
    "/stereo/right/image_raw": ["/stereo/right/image_raw"],
}
FRAME_IDS = {
    "/cam_front/image_raw/compressed": "front",
    "/cam_rear/image_raw": "rear",
    "/stereo/left/image_raw": "left",
    "/stereo/right/image_raw": "right",
    "/cam_front/labels": "rear",  # namespace wins over frame_id
    "/stereo/labels": "right",
    "/labels": "left",
    "/side/labels": "side",
    "/nothing/labels": None,
}


def frame_id_of(topics) -> str | None:
    return FRAME_IDS[topics[0]]


def pair(*specs: LabelsSpec) -> dict[str, str]:
    return pair_labels(specs, CAMERAS, frame_id_of, "bag")


def test_pairing_rules_in_order() -> None:
    assert pair(LabelsSpec("/cam_front/labels")) == {"/cam_front/image_raw": "/cam_front/labels"}
    assert pair(LabelsSpec("/stereo/labels")) == {"/stereo/right/image_raw": "/stereo/labels"}
    assert pair(LabelsSpec("/labels")) == {"/stereo/left/image_raw": "/labels"}
    # an explicit pair names the camera by its raw or its recorded (compressed) topic
    explicit = LabelsSpec("/side/labels", "/cam_front/image_raw/compressed")
    assert pair(explicit) == {"/cam_front/image_raw": "/side/labels"}


def test_pairing_errors_name_the_topics() -> None:
    with pytest.raises(LabelsPairingError, match="no camera topic is in its namespace /side"):
        pair(LabelsSpec("/side/labels"))
    with pytest.raises(LabelsPairingError, match="its messages carry no frame_id"):
        pair(LabelsSpec("/nothing/labels"))
    with pytest.raises(LabelsPairingError, match="pairs with two labels topics"):
        pair(LabelsSpec("/cam_front/labels"), LabelsSpec("/side/labels", "/cam_front/image_raw"))
    with pytest.raises(LabelsPairingError, match="/cam_left/image_raw is not a replayed camera"):
        pair(LabelsSpec("/side/labels", "/cam_left/image_raw"))
