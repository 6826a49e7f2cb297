r"""Reductions, written once: ``'none'``, ``'sum'`` and the (weighted) ``'mean'``, forwards and
backwards, and the :class:`Evaluation` of a loss on arrays that ``apply_loss`` records.

A mean-like reduction is ``sum(weights * unreduced)``: ``weights`` is ``1/n`` by default (NaN
for an empty batch, as in PyTorch), or
what the loss's ``reduction_weights`` says (PyTorch's class-weighted mean
:math:`w_{y_i} / \sum_j w_{y_j}`, KL's ``'batchmean'``), so that every loss reduces alike.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

from ..backend import get_array_module
from ..numerics import array_namespace
from ._spec import LossSpec


class Evaluation(NamedTuple):
    """A loss evaluated on arrays: its reduced value, and what its backward pass needs."""

    value: Any
    shape: tuple[int, ...]  # of the unreduced loss
    weights: Any  # of the reduction (see reduction_weights)
    backward: Callable[[Any], tuple[Any, ...]]  # the reduced cotangent -> one gradient per differentiable input
    owned: bool = False  # backward allocates each gradient for its input alone (see nploss.autograd.owned_gradient)


def reduction_weights(spec: LossSpec, reduction: str, arrays: list[Any], params: dict[str, Any], size: int | None) -> Any:
    """The weights of a mean-like reduction: ``sum(weights * unreduced)`` is the reduced loss;
    by default ``1 / size``."""
    if reduction in ("none", "sum"):
        return None
    if spec.reduction_weights is not None:
        return spec.reduction_weights(array_namespace(get_array_module(*arrays)), reduction, *arrays, **params)
    return mean_weight(size)


def mean_weight(count: int) -> float:
    """``1 / count``, the weight of each term of a mean; NaN for a mean of nothing (an empty
    batch), as PyTorch's ``'mean'`` gives, rather than a 0 that looks like a perfect fit."""
    return 1.0 / count if count else math.nan


def reduce(xp: Any, unreduced: Any, reduction: str, weights: Any) -> Any:
    """``'none'``: as it is; ``'sum'``: the sum; ``'mean'``: the weighted sum."""
    if reduction == "none":
        return unreduced
    if reduction == "sum":
        return xp.sum(unreduced)
    if isinstance(weights, float):  # 1/n: scale the sum rather than every element
        return xp.sum(unreduced) * weights
    return xp.sum(unreduced * weights)


def unreduce(xp: Any, g: Any, reduction: str, weights: Any, shape: tuple[int, ...]) -> Any:
    """The cotangent of the unreduced loss, from that of the reduced one."""
    if reduction == "none":
        return g
    return xp.broadcast_to(g if reduction == "sum" else g * weights, shape)
