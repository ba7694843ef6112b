"""The project's one error hierarchy, and one-line messages for users.

Every exception class of dense_ood_ros and dense_ood_train derives from `DenseOodError`, and
from the builtin it stands for (ValueError, RuntimeError, ...) so that older callers still
catch it. Callers catch by kind (ContractError, EngineError, ImageDecodeError, ...); the
command lines catch `DenseOodError` and print `first_line` of it.
"""

from __future__ import annotations


class DenseOodError(Exception):
    """Base of every error this project raises on purpose."""


def first_line(exc: BaseException) -> str:
    """The first non-empty line of `exc`'s message, or its type name when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
