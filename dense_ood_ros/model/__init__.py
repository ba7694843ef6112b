"""The exported model as the runtime sees it: the contract-1 metadata, plan files and their
sidecar, and the bundled demo model."""

from dense_ood_ros.model.errors import ContractError, PlanSidecarError

__all__ = ["ContractError", "PlanSidecarError"]
