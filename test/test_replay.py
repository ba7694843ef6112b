"""`dense-ood replay` on bags written here with rosbags: round trips, metrics, quirks, bad bags."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from dense_ood_ros.engine import load_engine
from dense_ood_ros.metrics import pixel_metrics
from dense_ood_ros.pipeline.frame_pipeline import Pipeline
from dense_ood_ros.tools.cli import main as cli_main

rosbags = pytest.importorskip("rosbags")
from rosbags.highlevel import AnyReader  # noqa: E402
from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin, Writer  # noqa: E402
from rosbags.typesys import Stores, get_typestore  # noqa: E402

IMAGE, COMPRESSED = "sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage"
OUTPUTS = ("semantic", "semantic_color", "anomaly_score", "anomaly_mask", "overlay")
HW = (40, 60)
T0 = 1_700_000_000


@dataclass
class Msg:
    """One message to write: topic, type, log time (ns), and its fields."""

    topic: str
    msgtype: str
    time_ns: int
    fields: dict


def frame(index: int, hw: tuple[int, int] = HW) -> np.ndarray:
    """A deterministic RGB frame."""
    rng = np.random.default_rng(index)
    coarse = rng.integers(0, 256, (4, 6, 3), dtype=np.uint8)
    return cv2.resize(coarse, (hw[1], hw[0]), interpolation=cv2.INTER_LINEAR)


def label(index: int, hw: tuple[int, int] = HW) -> np.ndarray:
    out = np.zeros(hw, np.uint8)
    out[5 + index : 15 + index, 10:25] = 1
    out[-2:, :] = 255
    return out


def _header(ts, stamp_ns: int, frame_id: str = "cam"):
    types = ts.types
    time = types["builtin_interfaces/msg/Time"](sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9)
    return types["std_msgs/msg/Header"](stamp=time, frame_id=frame_id)


def image_fields(pixels: np.ndarray, encoding: str, stamp_ns: int, **extra) -> dict:
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    fields = {
        "stamp_ns": stamp_ns,
        "height": pixels.shape[0],
        "width": pixels.shape[1],
        "encoding": encoding,
        "is_bigendian": 0,
        "step": pixels.shape[1] * channels,
        "data": np.ascontiguousarray(pixels).reshape(-1),
    }
    return {**fields, **extra}


def camera_msgs(topic: str, count: int, encoding: str = "rgb8", start: int = 0) -> list[Msg]:
    msgs = []
    for i in range(count):
        stamp = (T0 + i) * 10**9 + 1000
        rgb = frame(start + i)
        pixels = rgb if encoding == "rgb8" else np.ascontiguousarray(rgb[..., ::-1])
        msgs.append(Msg(topic, IMAGE, stamp, image_fields(pixels, encoding, stamp)))
    return msgs


def label_msgs(topic: str, count: int, skip: Sequence[int] = ()) -> list[Msg]:
    return [
        Msg(
            topic,
            IMAGE,
            (T0 + i) * 10**9 + 1000,
            image_fields(label(i), "mono8", (T0 + i) * 10**9 + 1000),
        )
        for i in range(count)
        if i not in skip
    ]


def write_bag(
    path: Path,
    msgs: list[Msg],
    storage: str = "mcap",
    store: Stores = Stores.ROS2_HUMBLE,
    compression: CompressionMode | None = None,
    msgtype_names: dict[str, str] | None = None,
) -> Path:
    """A rosbag2 bag of `msgs`; `msgtype_names` records other type names for some topics."""
    ts = get_typestore(store)
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    writer = Writer(path, version=9, storage_plugin=plugin)
    if compression is not None:
        writer.set_compression(compression, CompressionFormat.ZSTD)
    connections = {}
    with writer:
        for msg in msgs:
            if msg.topic not in connections:
                recorded = (msgtype_names or {}).get(msg.topic, msg.msgtype)
                extra = {}
                if recorded != msg.msgtype:  # an old writer's type name, same definition
                    extra = {
                        "msgdef": ts.generate_msgdef(msg.msgtype)[0],
                        "rihs01": ts.hash_rihs01(msg.msgtype),
                    }
                connections[msg.topic] = writer.add_connection(
                    msg.topic, recorded, typestore=ts, **extra
                )
            writer.write(connections[msg.topic], msg.time_ns, _serialize(ts, msg))
    return path


def _serialize(ts, msg: Msg) -> bytes:
    fields = dict(msg.fields)
    header = _header(ts, fields.pop("stamp_ns"), fields.pop("frame_id", "cam"))
    return ts.serialize_cdr(ts.types[msg.msgtype](header=header, **fields), msg.msgtype)


def read_bag(path: Path) -> dict[str, list]:
    """topic -> [(log time, message)] of a bag, as any rosbags user would read it."""
    out: dict[str, list] = {}
    with AnyReader([path]) as reader:
        for connection, time_ns, raw in reader.messages():
            out.setdefault(connection.topic, []).append(
                (time_ns, reader.deserialize(raw, connection.msgtype))
            )
    return out


def replay(*args: str) -> int:
    return cli_main(["replay", *args, "--no-progress"])


def pixels(msg) -> np.ndarray:
    from dense_ood_ros.codec.messages import array_from_image_msg

    return array_from_image_msg(msg)


# --- round trips --------------------------------------------------------------------------------


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_round_trip_topics_counts_encodings_and_stamps(
    tiny_model: Path, tmp_path: Path, storage: str
) -> None:
    bag = write_bag(tmp_path / "in", camera_msgs("/cam_front/image_raw", 3), storage)
    out = tmp_path / "out"
    assert (
        replay(str(bag), "--model", str(tiny_model), "--output", str(out), "--storage", storage)
        == 0
    )
    written = read_bag(out)
    names = (*OUTPUTS, "anomaly_obstacles", "anomaly_points")  # obstacles: on by default
    assert sorted(written) == sorted(f"/cam_front/dense_ood/{name}" for name in names)
    encodings = {"semantic": "mono8", "semantic_color": "rgb8", "anomaly_score": "32FC1",
                 "anomaly_mask": "mono8", "overlay": "rgb8"}  # fmt: skip
    source = read_bag(bag)["/cam_front/image_raw"]
    for name, encoding in encodings.items():
        msgs = written[f"/cam_front/dense_ood/{name}"]
        assert len(msgs) == 3
        for (time_ns, msg), (src_time, src) in zip(msgs, source, strict=True):
            assert msg.encoding == encoding and (msg.height, msg.width) == HW
            assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (
                src.header.stamp.sec, src.header.stamp.nanosec)  # fmt: skip
            assert msg.header.frame_id == "cam" and time_ns == src_time
    # the outputs are the pipeline's own, frame for frame
    pipeline = Pipeline(load_engine(tiny_model, "onnxruntime"))
    expected = pipeline.process(frame(1))
    np.testing.assert_array_equal(
        pixels(written["/cam_front/dense_ood/semantic"][1][1]), expected.semantic
    )
    np.testing.assert_allclose(
        pixels(written["/cam_front/dense_ood/anomaly_score"][1][1]), expected.score, atol=1e-6
    )


def test_metrics_equal_pixel_metrics_on_the_pipeline_outputs(
    tiny_model: Path, tmp_path: Path
) -> None:
    msgs = camera_msgs("/cam/image_raw", 4) + label_msgs("/cam/labels", 4)
    bag = write_bag(tmp_path / "in", msgs)
    report = tmp_path / "report"
    args = [str(bag), "--model", str(tiny_model), "--output", str(tmp_path / "out")]
    assert replay(*args, "--labels-topic", "/cam/labels", "--report", str(report)) == 0
    result = json.loads((report / "report.json").read_text())
    pipeline = Pipeline(load_engine(tiny_model, "onnxruntime"))
    scores = [pipeline.process(frame(i)).score for i in range(4)]
    direct = pixel_metrics(scores, [label(i) for i in range(4)])
    for key in ("ap", "fpr95", "auroc", "best_f1"):
        assert result["metrics"]["jsd"][key] == pytest.approx(direct[key], abs=1e-9), key
    # every extra score_<name> output of the model is scored too, after the model's own
    assert list(result["metrics"]) == ["jsd", *pipeline.contract.extra_scores]
    for name in pipeline.contract.extra_scores:
        maps = [pipeline.process(frame(i), extra_scores=True).extra_scores[name] for i in range(4)]
        extra = pixel_metrics(maps, [label(i) for i in range(4)])
        assert result["metrics"][name]["ap"] == pytest.approx(extra["ap"], abs=1e-9), name
    assert result["frames_labelled"] == 4 and result["frames_without_labels"] == 0
    # every label has two void rows: the report counts them (the spill store keeps none)
    assert result["metrics"]["jsd"]["num_void"] == direct["num_void"] == 4 * 2 * HW[1]
    assert "mean_f1" in result["metrics"]["jsd"]["components"]
    assert (report / "pr.png").stat().st_size > 0 and (report / "roc.png").is_file()
    assert sorted(p.name for p in (report / "overlays").iterdir())
    assert "| AP | FPR95 |" in (report / "report.md").read_text()
    assert result["replay_frames_per_s"] > 0 and result["engine_only_frames_per_s"] > 0
    # the model's own class names and colours, with what share of the pixels each got
    contract = pipeline.contract
    classes = result["classes"]
    assert [c["name"] for c in classes] == list(contract.class_names)
    assert [c["color"] for c in classes] == contract.palette.tolist()
    predicted = np.concatenate([pipeline.process(frame(i)).semantic.ravel() for i in range(4)])
    share = np.bincount(predicted, minlength=contract.num_classes) / predicted.size
    assert [c["predicted_share"] for c in classes] == pytest.approx(share.tolist())
    assert f"| 0 | {contract.class_names[0]} | #" in (report / "report.md").read_text()


def test_compressed_two_cameras_and_labels_out_of_step(tiny_model: Path, tmp_path: Path) -> None:
    compressed = []
    for i in range(3):
        stamp = (T0 + i) * 10**9 + 1000
        ok, jpeg = cv2.imencode(".jpg", frame(i)[..., ::-1])
        assert ok
        fields = {"stamp_ns": stamp, "format": "jpeg", "data": jpeg.reshape(-1)}
        compressed.append(Msg("/cam_rear/image_raw/compressed", COMPRESSED, stamp, fields))
    raw = camera_msgs("/cam_front/image_raw", 3, encoding="bgr8")
    # labels logged before their images, shifted, and one frame without a label
    labels = [
        Msg(m.topic, m.msgtype, m.time_ns - 5 * 10**8, m.fields)
        for m in label_msgs("/labels", 3, skip=[2])
    ]
    bag = write_bag(tmp_path / "in", sorted(raw + compressed + labels, key=lambda m: m.time_ns))
    report = tmp_path / "report"
    args = [
        str(bag),
        "--model",
        str(tiny_model),
        "--output",
        str(tmp_path / "out"),
        "--report",
        str(report),
    ]
    # the compressed topic names its camera; the labels belong to it alone
    assert replay(*args, "--labels", "/cam_rear/image_raw/compressed=/labels") == 0
    result = json.loads((report / "report.json").read_text())
    assert result["frames_per_camera"] == {"/cam_front/image_raw": 3, "/cam_rear/image_raw": 3}
    # both cameras carry the same stamps: the labels score the rear camera's frames only
    assert result["frames_labelled"] == 2 and result["frames_without_labels"] == 1
    assert result["labels_per_camera"] == {
        "/cam_rear/image_raw": {"labels_topics": ["/labels"], "labels": 2, "scored": 2,
                                "without_label": 1}
    }  # fmt: skip
    written = read_bag(tmp_path / "out")
    assert len(written["/cam_rear/dense_ood/overlay"]) == 3
    assert len(written["/cam_front/dense_ood/anomaly_mask"]) == 3


def test_copy_inputs_and_max_frames(tiny_model: Path, tmp_path: Path) -> None:
    bag = write_bag(tmp_path / "in", camera_msgs("/cam/image_raw", 5))
    out = tmp_path / "out"
    assert (
        replay(
            str(bag),
            "--model",
            str(tiny_model),
            "--output",
            str(out),
            "--copy-inputs",
            "--max-frames",
            "2",
        )
        == 0
    )
    written = read_bag(out)
    assert len(written["/cam/image_raw"]) == 2 and len(written["/cam/dense_ood/semantic"]) == 2


def test_several_bags_pool_their_metrics(tiny_model: Path, tmp_path: Path) -> None:
    first = write_bag(tmp_path / "a", camera_msgs("/cam/image_raw", 2) + label_msgs("/labels", 2))
    second = write_bag(
        tmp_path / "b", camera_msgs("/cam/image_raw", 2) + label_msgs("/labels", 2), "sqlite3"
    )
    report = tmp_path / "report"
    args = [str(first), str(second), "--model", str(tiny_model), "--output", str(tmp_path / "out")]
    assert replay(*args, "--labels-topic", "/labels", "--report", str(report)) == 0
    result = json.loads((report / "report.json").read_text())
    assert result["frames_processed"] == 4 and result["frames_labelled"] == 4
    assert len(read_bag(tmp_path / "out")["/cam/dense_ood/semantic"]) == 4


# --- layouts and quirks ---------------------------------------------------------------------------


def test_bag_layouts_and_quirks(tiny_model: Path, tmp_path: Path) -> None:
    """Jazzy definitions, zstd per file and per message, a lone .mcap or .db3 file, type names
    without /msg/, relative topics, zero stamps, empty frame_id, 8-bit flagged big-endian."""
    msgs = camera_msgs("cam/image_raw", 2)  # relative topic name
    for msg in msgs:
        msg.fields.update(stamp_ns=0, frame_id="", is_bigendian=1)
    cases = {
        "jazzy": write_bag(
            tmp_path / "jazzy", camera_msgs("/cam/image_raw", 2), store=Stores.ROS2_JAZZY
        ),
        "zstd_file": write_bag(
            tmp_path / "zf",
            camera_msgs("/cam/image_raw", 2),
            "sqlite3",
            compression=CompressionMode.FILE,
        ),
        "zstd_message": write_bag(
            tmp_path / "zm",
            camera_msgs("/cam/image_raw", 2),
            "sqlite3",
            compression=CompressionMode.MESSAGE,
        ),
        "quirks": write_bag(
            tmp_path / "q", msgs, msgtype_names={"cam/image_raw": "sensor_msgs/Image"}
        ),
    }
    cases["lone_mcap"] = next(cases["jazzy"].glob("*.mcap"))
    sq = write_bag(tmp_path / "sq", camera_msgs("/cam/image_raw", 2), "sqlite3")
    cases["lone_db3"] = next(sq.glob("*.db3"))
    for name, bag in cases.items():
        out = tmp_path / f"out_{name}"
        assert replay(str(bag), "--model", str(tiny_model), "--output", str(out)) == 0, name
        written = read_bag(out)
        assert len(written["/cam/dense_ood/semantic"]) == 2, name
    quirky = read_bag(tmp_path / "out_quirks")["/cam/dense_ood/anomaly_score"][0][1]
    assert (quirky.header.stamp.sec, quirky.header.stamp.nanosec, quirky.header.frame_id) == (
        0,
        0,
        "",
    )


def test_early_sqlite3_schema_without_metadata(tiny_model: Path, tmp_path: Path) -> None:
    """A folder with only a .db3 of the first rosbag2 schema (no metadata.yaml, no QoS or
    schema columns), as Dashing/Eloquent wrote them."""
    bag = write_bag(tmp_path / "new", camera_msgs("/cam/image_raw", 2), "sqlite3")
    old = tmp_path / "old"
    old.mkdir()
    db3 = old / "old_0.db3"
    source = sqlite3.connect(next(bag.glob("*.db3")))
    target = sqlite3.connect(db3)
    target.executescript(
        "CREATE TABLE topics(id INTEGER PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL, "
        "serialization_format TEXT NOT NULL);"
        "CREATE TABLE messages(id INTEGER PRIMARY KEY, topic_id INTEGER NOT NULL, "
        "timestamp INTEGER NOT NULL, data BLOB NOT NULL);"
    )
    topics = source.execute("SELECT id, name, type, serialization_format FROM topics")
    target.executemany("INSERT INTO topics VALUES (?, ?, ?, ?)", topics)
    messages = source.execute("SELECT id, topic_id, timestamp, data FROM messages")
    target.executemany("INSERT INTO messages VALUES (?, ?, ?, ?)", messages)
    target.commit()
    target.close()
    source.close()
    out = tmp_path / "out"
    assert replay(str(old), "--model", str(tiny_model), "--output", str(out)) == 0
    assert len(read_bag(out)["/cam/dense_ood/overlay"]) == 2


def test_ros1_bag(tiny_model: Path, tmp_path: Path) -> None:
    from rosbags.rosbag1 import Writer as Ros1Writer

    ts = get_typestore(Stores.ROS1_NOETIC)
    path = tmp_path / "drive.bag"
    with Ros1Writer(path) as writer:
        connection = writer.add_connection("/cam/image_raw", IMAGE, typestore=ts)
        for i in range(2):
            types = ts.types
            header = types["std_msgs/msg/Header"](
                seq=i,
                stamp=types["builtin_interfaces/msg/Time"](sec=T0 + i, nanosec=0),
                frame_id="cam",
            )
            rgb = frame(i)
            msg = types[IMAGE](header=header, height=HW[0], width=HW[1], encoding="rgb8",
                               is_bigendian=0, step=HW[1] * 3, data=rgb.reshape(-1))  # fmt: skip
            writer.write(connection, (T0 + i) * 10**9, ts.serialize_ros1(msg, IMAGE))
    out = tmp_path / "out"
    assert replay(str(path), "--model", str(tiny_model), "--output", str(out)) == 0
    assert len(read_bag(out)["/cam/dense_ood/semantic"]) == 2


def test_depth_images_are_skipped_and_counted(tiny_model: Path, tmp_path: Path) -> None:
    depth = np.full(HW, 1000, np.uint16)
    stamp = T0 * 10**9
    depth_fields = image_fields(
        depth.view(np.uint8).reshape(HW[0], -1), "16UC1", stamp, step=HW[1] * 2
    )
    integer_depth = np.full(HW, 1000, np.int32).view(np.uint8).reshape(HW[0], -1)
    integer_fields = image_fields(integer_depth, "32SC1", stamp, step=HW[1] * 4)
    msgs = [
        *camera_msgs("/cam/image_raw", 1),
        Msg("/depth/image_raw", IMAGE, stamp, depth_fields),
        Msg("/depth/image_int", IMAGE, stamp, integer_fields),  # 32SC1: a depth image too
    ]
    bag = write_bag(tmp_path / "in", msgs)
    report = tmp_path / "report"
    args = [
        str(bag),
        "--model",
        str(tiny_model),
        "--output",
        str(tmp_path / "out"),
        "--report",
        str(report),
    ]
    assert replay(*args) == 0
    result = json.loads((report / "report.json").read_text())
    assert result["frames_skipped"] == {"depth image": 2} and result["frames_processed"] == 1


def test_jpeg_frames_decode_reduced_only_for_outputs_at_the_model_size(
    tiny_model: Path, tmp_path: Path
) -> None:
    from dense_ood_ros.codec.image_codec import decode_compressed

    pipeline = Pipeline(load_engine(tiny_model, "onnxruntime"), output_size="model")
    model_hw = pipeline.contract.input_hw
    camera_hw = (model_hw[0] * 4, model_hw[1] * 4)  # a camera 4x the model: 1/4-scale decode
    jpegs, msgs = [], []
    for i in range(2):
        stamp = (T0 + i) * 10**9
        ok, jpeg = cv2.imencode(".jpg", frame(i, camera_hw)[..., ::-1])
        assert ok
        jpegs.append(jpeg.reshape(-1))
        fields = {"stamp_ns": stamp, "format": "jpeg", "data": jpeg.reshape(-1)}
        msgs.append(Msg("/cam/image_raw/compressed", COMPRESSED, stamp, fields))
    bag = write_bag(tmp_path / "in", msgs)
    sizes = {}
    for size in ("camera", "model"):
        out = tmp_path / f"out_{size}"
        args = ["--model", str(tiny_model), "--output", str(out), "--output-size", size]
        assert replay(str(bag), *args) == 0
        written = read_bag(out)
        sizes[size] = {pixels(msg).shape[:2] for _, msg in written["/cam/dense_ood/anomaly_score"]}
        if size == "model":
            scores = [pixels(msg) for _, msg in written["/cam/dense_ood/anomaly_score"]]
    assert sizes == {"camera": {camera_hw}, "model": {model_hw}}  # camera size unchanged
    for jpeg, score in zip(jpegs, scores, strict=True):
        # the reduced decode scores nearly as the full-size decode would
        full = pipeline.process(decode_compressed(jpeg, "jpeg"), color=False, overlay=False)
        np.testing.assert_allclose(score, full.score, atol=0.05)
        assert np.abs(score - full.score).mean() < 0.01


# --- bad input ----------------------------------------------------------------------------------


def _one_line_error(capsys: pytest.CaptureFixture[str], expected: str) -> None:
    err = capsys.readouterr().err
    assert expected in err, err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_bad_bags_give_one_line_errors_and_write_nothing(
    tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    garbage = tmp_path / "garbage.mcap"
    garbage.write_bytes(b"\x89MCAP0\r\n not really")
    no_camera = tmp_path / "nocam"
    ts = get_typestore(Stores.ROS2_HUMBLE)
    with Writer(no_camera, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        connection = writer.add_connection("/status", "std_msgs/msg/String", typestore=ts)
        writer.write(
            connection,
            T0,
            ts.serialize_cdr(ts.types["std_msgs/msg/String"](data="hi"), "std_msgs/msg/String"),
        )
    stamp = T0 * 10**9 + 1000
    colour_labels = Msg("/labels", IMAGE, stamp, image_fields(frame(0), "rgb8", stamp))
    good = write_bag(tmp_path / "good", [*camera_msgs("/cam/image_raw", 1), colour_labels])
    cases = [
        ([str(tmp_path / "missing")], "no such bag"),
        ([str(garbage)], "not a readable bag"),
        ([str(no_camera)], "no sensor_msgs Image or CompressedImage topic"),
        ([str(good), "--topics", "/cam_left/image_raw"], "no camera topic /cam_left/image_raw"),
        ([str(good), "--labels-topic", "/nope"], "no labels topic /nope"),
        ([str(good), "--topics", "/cam/image_raw", "--labels-topic", "/labels"], "expected mono8"),
    ]
    for index, (args, expected) in enumerate(cases):
        out = tmp_path / f"out{index}"
        assert replay(*args, "--model", str(tiny_model), "--output", str(out)) != 0, expected
        _one_line_error(capsys, expected)
        if "expected mono8" not in expected:
            assert not out.exists()  # found before anything was written


def test_refuses_to_overwrite_outputs(
    tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bag = write_bag(tmp_path / "in", camera_msgs("/cam/image_raw", 1))
    out = tmp_path / "out"
    assert replay(str(bag), "--model", str(tiny_model), "--output", str(out)) == 0
    assert replay(str(bag), "--model", str(tiny_model), "--output", str(out)) == 2
    _one_line_error(capsys, "pass --overwrite")
    assert replay(str(bag), "--model", str(tiny_model), "--output", str(out), "--overwrite") == 0
    folder = tmp_path / "notabag"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    capsys.readouterr()
    assert replay(str(bag), "--model", str(tiny_model), "--output", str(folder), "--overwrite") == 2
    _one_line_error(capsys, "is not a bag")
    assert (folder / "keep.txt").read_text() == "mine"


def test_a_truncated_bag_keeps_what_came_before(
    tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bag = write_bag(tmp_path / "in", camera_msgs("/cam/image_raw", 30), "sqlite3")
    db3 = next(bag.glob("*.db3"))
    connection = sqlite3.connect(db3)
    connection.execute("UPDATE messages SET data = X'00010203' WHERE id > 10")  # corrupt the tail
    connection.commit()
    connection.close()
    out = tmp_path / "out"
    assert replay(str(bag), "--model", str(tiny_model), "--output", str(out)) == 1
    err = capsys.readouterr().err
    assert "does not deserialise" in err and "frames before it are kept" in err
    written = read_bag(out)  # a valid bag with the frames before the damage
    assert len(written["/cam/dense_ood/semantic"]) == 10


def test_nan_scores_end_the_replay_with_one_line_naming_bag_topic_and_stamp(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from conftest import fixture_model

    model = fixture_model("nan.onnx", tmp_path)  # NaN logits: a diverged training run
    msgs = camera_msgs("/cam/image_raw", 3) + label_msgs("/cam/labels", 3, skip=[0])
    bag = write_bag(tmp_path / "in", msgs)
    out, report = tmp_path / "out", tmp_path / "report"
    args = [str(bag), "--model", str(model), "--output", str(out), "--report", str(report)]
    assert replay(*args, "--labels-topic", "/cam/labels") == 1
    err = capsys.readouterr().err
    stamp = (T0 + 1) * 10**9 + 1000  # frame 0 has no label: the first scored frame is frame 1
    expected = f"{bag}: /cam/image_raw at stamp {stamp}: score jsd: "
    assert expected in err and "NaN or infinite" in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    result = json.loads((report / "report.json").read_text())
    assert result["frames_labelled"] == 0 and result["frames_processed"] == 2
    assert "NaN or infinite" in result["stopped_by_error"]
    assert len(read_bag(out)["/cam/dense_ood/semantic"]) == 2  # what came before is kept


def test_real_camera_bags_replay_end_to_end(
    tiny_model: Path, tmp_path: Path, shared_data: Path
) -> None:
    bags = sorted(shared_data.glob("realbags/*/ros2_mcap_converted/*"))
    assert bags
    report = tmp_path / "report"
    args = [
        *map(str, bags),
        "--model",
        str(tiny_model),
        "--output",
        str(tmp_path / "out"),
        "--report",
        str(report),
    ]
    assert replay(*args) == 0
    result = json.loads((report / "report.json").read_text())
    camera_frames = result["frames_in"] - result["frames_skipped"].get("depth image", 0)
    assert camera_frames == result["frames_processed"] >= 4  # every camera frame has outputs
    written = read_bag(tmp_path / "out")
    for camera in result["frames_per_camera"]:
        namespace = camera.rsplit("/", 1)[0]
        assert (
            len(written[f"{namespace}/dense_ood/semantic"]) == result["frames_per_camera"][camera]
        )


def test_calibration_from_a_bag_counts_the_frames_it_skips(tmp_path: Path) -> None:
    from dense_ood_ros.engine.calibration import CalibrationError
    from dense_ood_ros.replay.calibration_frames import load_calibration_set

    stamp = T0 * 10**9
    depth = image_fields(np.zeros((HW[0], HW[1] * 2), np.uint8), "16UC1", stamp, step=HW[1] * 2)
    broken = {"stamp_ns": stamp, "format": "jpeg", "data": np.frombuffer(b"\xff\xd8 no", np.uint8)}
    msgs = [
        *camera_msgs("/cam/image_raw", 3),
        Msg("/cam/image_raw", IMAGE, stamp + 1, depth),
        Msg("/cam/image_raw/compressed", COMPRESSED, stamp + 2, broken),
    ]
    bag = write_bag(tmp_path / "in", sorted(msgs, key=lambda m: m.time_ns))
    calibration = load_calibration_set((20, 30), bag=bag, frames=10)
    assert len(calibration.frames) == 3 and calibration.counts == {"/cam/image_raw": 3}
    assert calibration.skipped == {"depth image": 1, "not decodable": 1}
    assert calibration.describe() == (
        f"3 frames from {bag} (/cam/image_raw: 3); skipped 2 (depth image: 1, not decodable: 1)"
    )
    only_bad = write_bag(tmp_path / "bad", msgs[3:])
    with pytest.raises(CalibrationError, match=r"no usable calibration frame \(skipped depth"):
        load_calibration_set((20, 30), bag=only_bad, frames=10)
