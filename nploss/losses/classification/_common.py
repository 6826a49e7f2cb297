r"""What the classification losses share: the class axis, class weights, parameter arrays.

- **Class axis.** Losses that mirror PyTorch take logits of shape ``(N, C)`` or
  ``(N, C, d1, ...)`` with the classes on axis 1 and integer labels of shape ``(N,)`` or
  ``(N, d1, ...)`` (:func:`_check_class_axis`); the Keras losses and ``smooth_labels`` keep the
  classes on the last axis, as Keras and optax do.
- **Constants.** Labels, class weights, ``pos_weight``, the focal targets and the teacher's
  logits are constants: they receive no gradient, in the fused and in the composite graph alike
  (:func:`_constant`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...autograd import Tensor
from ...backend import get_array_module


def _as_array(x: Any) -> Any:
    """A Tensor as it is, anything else as an array of its array module."""
    return x if isinstance(x, Tensor) else get_array_module(x).asarray(x)


def _along_classes(v: Any, ndim: int) -> Any:
    """A per-class vector (C,) shaped to broadcast along axis 1 of an (N, C, d1, ...) array."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def _check_class_axis(name: str, scores: Any, target_name: str, target: Any) -> None:
    """Scores (N, C, d1, ...) against labels (N, d1, ...)."""
    if scores.ndim < 2:
        raise ValueError(f"{name} must have shape (N, C) or (N, C, d1, ...), got {tuple(scores.shape)}")
    expected = tuple(scores.shape[:1] + scores.shape[2:])
    if tuple(target.shape) != expected:
        raise ValueError(
            f"{target_name} must hold one class label per sample, shape {expected} ({name} "
            f"{tuple(scores.shape)} without its class axis 1), got {tuple(target.shape)}"
        )


def _logit_edges() -> dict[str, Any]:
    """Edge cases of logits (N, C) with labels (N,): logits of +-1e4, and a row of ties."""
    return {
        "logits of +-1e4": lambda rng: [
            np.array([[1e4, -1e4, 0.0, 0.0], [-1e4, 1e4, 0.0, 0.0], [0.0, 0.0, 1e4, -1e4], [5.0, 5.0, 5.0, 5.0]]),
            np.array([1, 0, 3, 2]),
        ],
    }
