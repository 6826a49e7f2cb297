r"""Task vectors, shared by the losses that combine tasks (:func:`weighted_sum`,
:func:`uncertainty_weighting`, :func:`gradnorm`): the per-task losses :math:`L_t` come as one
vector of shape ``(T,)``, and a list of scalar Tensors is stacked into one."""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import autograd as ag
from ...autograd import Tensor

TASKS = ("T",)  # the symbolic shape of a task vector, for the registry's Args


def as_vector(name: str, losses: Any) -> Any:
    """A list or tuple of per-task losses (scalar Tensors or numbers) as one vector (T,)."""
    if not isinstance(losses, list | tuple):
        return losses
    if not losses:
        raise ValueError(f"{name} must hold at least one task loss, got an empty sequence")
    shapes = {tuple(getattr(x, "shape", np.shape(x))) for x in losses}
    if shapes != {()}:
        raise ValueError(f"{name} must be scalars (one loss per task), got shapes {sorted(shapes)}")
    if any(isinstance(x, Tensor) for x in losses):
        return ag.stack([x if isinstance(x, Tensor) else Tensor(np.asarray(x, dtype=float)) for x in losses])
    return np.asarray(losses, dtype=float)


def check_vector(name: str, x: Any) -> None:
    """Refuse anything but a vector (T,)."""
    if x.ndim != 1:
        raise ValueError(f"{name} must be a vector (T,) with one entry per task, got shape {tuple(x.shape)}")


__all__ = ["TASKS", "as_vector", "check_vector"]
