"""Fleet replay: many bags on a Ray cluster, one task per bag, mergeable metrics.

Each bag is one Ray task (not split into chunks) that replays it with `ReplaySession` into its
own output bag, OUT/<the input tree's relative path>, and returns a `BagOutcome`: counts,
throughput, model load time, peak memory, and a `ScoreSummary` (score histograms and component
counts) instead of the pixels' scores. The driver merges the summaries into pooled metrics.

A bag that fails (unreadable, truncated, a missing topic, NaN scores) fails alone, with its one
line reason; a worker that dies has its task retried once by Ray, then the bag is reported.
State lives in OUT/.dense_ood_fleet: per bag a marker written when its task starts and
rewritten, with its summary, when it completes. A rerun of the same command skips complete
bags and replaces incomplete ones; outputs of another run (or of no run) are replaced only
with `overwrite`.

Modules, each importing only those below it: report (report.json's section, report.md's lines,
logs) > cluster (Ray, the tasks, gathering) > worker (one bag's task) | pooling (merged
results) > markers (state on disk, the plan) | progress (the bar) > outcome | settings > errors.
"""

from dense_ood_ros.replay.fleet.cluster import Cluster, FleetResult, import_ray, run_fleet
from dense_ood_ros.replay.fleet.errors import FleetError, OutputInTheWayError, RayMissingError
from dense_ood_ros.replay.fleet.markers import STATE_DIR
from dense_ood_ros.replay.fleet.outcome import BagOutcome
from dense_ood_ros.replay.fleet.report import write_fleet_report
from dense_ood_ros.replay.fleet.settings import FleetSettings

__all__ = [
    "STATE_DIR",
    "BagOutcome",
    "Cluster",
    "FleetError",
    "FleetResult",
    "FleetSettings",
    "OutputInTheWayError",
    "RayMissingError",
    "import_ray",
    "run_fleet",
    "write_fleet_report",
]
