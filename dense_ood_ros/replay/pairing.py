"""Which camera each anomaly labels topic belongs to.

Hardware-triggered cameras share header stamps, so a stamp alone cannot tell the front camera's
labels from the rear camera's: a labels frame scores the frame of the same stamp on the one
camera its topic is paired with. Per labels topic, in this order:

1. an explicit pair CAMERA_TOPIC=LABELS_TOPIC (`--labels`);
2. the camera in the labels topic's namespace (/cam_front/image_raw_labels pairs with the camera
   under /cam_front; the namespace of a top-level topic such as /labels holds every camera);
3. where the namespace holds no camera or several, the one of those (of every camera, when the
   namespace holds none) whose first frame carries the header frame_id of the first labels
   message.

A pairing that stays ambiguous or finds no camera is a LabelsPairingError naming the topics,
never a guess; so is a camera paired twice or a labels topic given twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from dense_ood_ros.replay.bag_input import BagError, normalise_topic

#: The header frame_id of the first message of some topics (None: no message).
FrameIdOf = Callable[[Sequence[str]], str | None]


class LabelsPairingError(BagError):
    """A labels topic that pairs with no camera or with several, or a malformed --labels pair."""


@dataclass(frozen=True)
class LabelsSpec:
    """A labels topic and, when given explicitly, the camera topic it belongs to."""

    labels: str
    camera: str | None = None  # None: paired by the namespace and frame_id rules


def parse_labels_pair(text: str) -> LabelsSpec:
    """'CAMERA_TOPIC=LABELS_TOPIC' (the `--labels` option) -> LabelsSpec, or LabelsPairingError."""
    camera, sep, labels = (part.strip() for part in text.partition("="))
    if not sep or not camera or not labels or "=" in labels:
        raise LabelsPairingError(f"--labels {text!r}: expected CAMERA_TOPIC=LABELS_TOPIC")
    return LabelsSpec(normalise_topic(labels), normalise_topic(camera))


def namespace(topic: str) -> str:
    """'/cam_front/image_raw_labels' -> '/cam_front'; a top-level topic's namespace is '/'."""
    return normalise_topic(topic).rsplit("/", 1)[0] or "/"


def in_namespace(topic: str, space: str) -> bool:
    """Whether `topic` lies under the namespace `space` (every topic lies under '/')."""
    return space == "/" or topic.startswith(f"{space}/")


def pair_labels(
    specs: Sequence[LabelsSpec],
    cameras: Mapping[str, Sequence[str]],
    frame_id_of: FrameIdOf,
    where: str,
) -> dict[str, str]:
    """camera -> its labels topic. `cameras` maps each replayed camera to its recorded topics
    (raw and compressed); LabelsPairingError, starting with `where`, unless one to one."""
    pairs: dict[str, str] = {}
    seen: set[str] = set()
    for spec in specs:
        if spec.labels in seen:
            raise LabelsPairingError(f"{where}: labels topic {spec.labels} is given twice")
        seen.add(spec.labels)
        if spec.camera is not None:
            camera = _explicit_camera(spec, cameras, where)
        else:
            camera = _camera_by_rules(spec.labels, cameras, frame_id_of, where)
        if camera in pairs:
            raise LabelsPairingError(
                f"{where}: camera {camera} pairs with two labels topics, {pairs[camera]} and "
                f"{spec.labels}"
            )
        pairs[camera] = spec.labels
    return pairs


def _explicit_camera(spec: LabelsSpec, cameras: Mapping[str, Sequence[str]], where: str) -> str:
    """The camera named by an explicit pair (its raw or its compressed topic)."""
    for camera, topics in cameras.items():
        if spec.camera == camera or spec.camera in topics:
            return camera
    raise LabelsPairingError(
        f"{where}: --labels {spec.camera}={spec.labels}: {spec.camera} is not a replayed camera "
        f"topic (camera topics: {', '.join(cameras) or 'none'})"
    )


def _camera_by_rules(
    labels: str, cameras: Mapping[str, Sequence[str]], frame_id_of: FrameIdOf, where: str
) -> str:
    """The one camera in the labels topic's namespace, else the one (there, or anywhere when
    none is there) whose frames carry the labels' frame_id."""
    space = namespace(labels)
    local = [camera for camera in cameras if in_namespace(camera, space)]
    if len(local) == 1:
        return local[0]
    frame_id = frame_id_of([labels])
    candidates = local or list(cameras)
    matching = [c for c in candidates if frame_id and frame_id_of(cameras[c]) == frame_id]
    if len(matching) == 1:
        return matching[0]
    if local:
        found = f"camera topics {', '.join(local)} are all in its namespace {space}"
    else:
        found = (
            f"no camera topic is in its namespace {space} (camera topics: "
            f"{', '.join(cameras) or 'none'})"
        )
    if not frame_id:
        by_frame = "its messages carry no frame_id"
    elif not matching:
        by_frame = f"none of them carries its frame_id {frame_id!r}"
    else:
        by_frame = f"{', '.join(matching)} all carry its frame_id {frame_id!r}"
    raise LabelsPairingError(
        f"{where}: cannot tell which camera labels topic {labels} belongs to: {found} and "
        f"{by_frame}; pair it with --labels CAMERA_TOPIC={labels}"
    )
