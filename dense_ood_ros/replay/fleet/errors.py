"""The fleet's errors: a fleet that cannot start, or a bag whose output is in the way."""

from __future__ import annotations

from dense_ood_ros.replay.bag_input import BagError


class FleetError(BagError):
    """A fleet that cannot start: no Ray, no cluster, an --output that is not a fleet folder."""


class RayMissingError(FleetError):
    """--workers or --ray-address without Ray installed."""


class OutputInTheWayError(FleetError):
    """A bag's output exists from another run (or none) and --overwrite was not given."""
