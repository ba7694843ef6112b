"""The model package's errors: a file that is not a readable contract-1 model, or its plan's
sidecar that cannot be used."""

from __future__ import annotations

from dense_ood_ros.errors import DenseOodError


class ContractError(DenseOodError, ValueError):
    """The file is missing, unreadable, or not a contract-1 dense_ood model."""


class PlanSidecarError(ContractError):
    """A TensorRT plan's `<plan>.json` is missing, corrupt, of another version, or malformed."""
