"""`qos: auto`: the input subscription follows the reliability the camera's publishers offer.

A best-effort reader of a reliable camera loses whole large frames without a trace, and a
reliable reader cannot match a best-effort camera at all; ROS's BEST_AVAILABLE is resolved
once, when the subscription is made, so a camera that starts after the node gets the wrong
one. The node therefore looks at the publishers every second and re-creates its subscription
when the answer changes (ROS-free here: the node passes the offered reliabilities).
"""

from __future__ import annotations

from collections.abc import Sequence

RELIABLE = "reliable"
BEST_EFFORT = "best_effort"


def follow_reliability(offered: Sequence[str], current: str) -> str:
    """Reliable when every publisher offers it, best effort when any does not; with no
    publisher, keep `current` (best effort to begin with: it matches either kind)."""
    if not offered:
        return current
    return RELIABLE if all(kind == RELIABLE for kind in offered) else BEST_EFFORT
