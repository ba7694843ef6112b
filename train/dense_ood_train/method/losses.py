"""The NFlowJS objective: CE on inliers + beta * JSD-to-uniform on negatives + flow bits/dim.

    L = CE(inlier pixels) + beta * mean_{negative pixels} JSD(P(y|x) || U)
        + nll_weight * bits/dim(inlier patch the sample replaced)

One backward pass of L trains both networks: the segmenter receives CE and JSD; the flow
receives the bits/dim term and, through its non-detached samples, the JSD (and CE context) term.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from dense_ood_train.data.labels import IGNORE_INDEX
from dense_ood_train.method.scores import jsd_to_uniform


@dataclass
class LossTerms:
    """The total loss and its parts (all attached to the graph: tests backpropagate parts)."""

    total: torch.Tensor
    ce: torch.Tensor
    jsd: torch.Tensor
    nll: torch.Tensor

    def as_floats(self) -> dict[str, float]:
        return {name: float(getattr(self, name).detach()) for name in ("total", "ce", "jsd", "nll")}


def inlier_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean CE over pixels whose label is not IGNORE_INDEX; 0 (not NaN) when there are none."""
    total = F.cross_entropy(logits.float(), labels, ignore_index=IGNORE_INDEX, reduction="sum")
    count = (labels != IGNORE_INDEX).sum().clamp(min=1)
    return total / count


def negative_jsd(logits: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
    """Mean JSD(P || U) in nats over negative pixels; 0 when the mask is empty."""
    jsd = jsd_to_uniform(logits, dim=1)
    mask = negatives.to(jsd.dtype)
    return (jsd * mask).sum() / mask.sum().clamp(min=1.0)


def joint_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    negatives: torch.Tensor,
    beta: float,
    nll: torch.Tensor | None = None,
    nll_weight: float = 1.0,
) -> LossTerms:
    """The NFlowJS objective; `labels` must already be IGNORE_INDEX on negative pixels."""
    ce = inlier_cross_entropy(logits, labels)
    jsd = negative_jsd(logits, negatives)
    total = ce + beta * jsd
    if nll is None:
        nll = torch.zeros((), device=logits.device)
    elif nll_weight > 0:
        total = total + nll_weight * nll
    return LossTerms(total=total, ce=ce, jsd=jsd, nll=nll)
