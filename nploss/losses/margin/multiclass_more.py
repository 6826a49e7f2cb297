r"""More multiclass margin losses: :func:`multiclass_perceptron` (Collins 2002, optax's
``multiclass_perceptron_loss``).

Scores of shape (N, C) and integer labels of shape (N,), never differentiated. The block: the
reference ``_multiclass_perceptron_forward`` and ``_multiclass_perceptron_vjp``, its kinks,
the registry entry, then the public function.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...autograd import as_data
from .._apply import apply_loss
from .._shared import one_hot
from .._spec import Arg, LossSpec, Tie, register
from .multiclass import _check_multiclass, _multiclass_edges


def _multiclass_perceptron_forward(xp: Any, scores: Any, target: Any) -> Any:
    correct = xp.take_along_axis(scores, as_data(target)[:, None], axis=1)[:, 0]
    return xp.max(scores, axis=1) - correct


def _multiclass_perceptron_vjp(xp: Any, g: Any, scores: Any, target: Any) -> tuple[Any]:
    # Tied maxima share the cotangent equally (the engine's max, jax.numpy.max and torch.amax do
    # the same): the average of the tied pieces' gradients, a valid subgradient.
    data = as_data(scores)
    winners = data >= data.max(axis=1, keepdims=True)
    share = winners / winners.sum(axis=1, keepdims=True)
    direction = share - one_hot(target, data.shape[1], 1, data.dtype)
    return (xp.expand_dims(g, 1) * direction.astype(data.dtype),)


def _multiclass_perceptron_kinks(scores: Any, target: Any) -> Any:
    top2 = -np.sort(-scores, axis=1)[:, :2]
    return top2[:, 0] - top2[:, 1]  # the max switches where the two best scores tie


MULTICLASS_PERCEPTRON = register(
    LossSpec(
        name="multiclass_perceptron",
        ties={
            "two classes tied for the maximum": Tie(
                inputs=lambda: [np.array([[1.0, 1.0, 0.0]]), np.array([2])],
                subgradient="the cotangent split equally between the tied classes",
                expected=lambda scores, target, **p: [np.array([[0.5, 0.5, -1.0]])],
                value=lambda scores, target, **p: 1.0,
            )
        },
        family="classification",
        args=(Arg("scores", "logits", ("N", "C")), Arg("target", "label", ("N",), differentiable=False)),
        forward=_multiclass_perceptron_forward,
        vjp=_multiclass_perceptron_vjp,
        check=_check_multiclass,
        classes_from="scores",
        kinks=_multiclass_perceptron_kinks,
        edge_cases=_multiclass_edges(),
        formula=r"\ell_i = \max_j s_{ij} - s_{i y_i}, \quad \partial \ell_i / \partial s_{ij} = [j \in J_i] / |J_i| - [j = y_i]",
        reference="Collins, EMNLP 2002; optax.losses.multiclass_perceptron_loss",
    )
)


def multiclass_perceptron(scores: Any, target: Any, reduction: str = "mean") -> Any:
    r"""Multiclass perceptron loss (Collins 2002): how far the right class's score is below the best.

    .. math::  \ell_i = \max_j s_{ij} - s_{i y_i} \;\ge 0, \qquad
               \frac{\partial \ell_i}{\partial s_{ij}} = \frac{[j \in J_i]}{|J_i|} - [j = y_i]

    with :math:`J_i = \arg\max_j s_{ij}` the (possibly tied) best classes. Zero, with zero
    gradient, when the right class alone scores best.

    Parameters
    ----------
    scores : array or Tensor, shape (N, C)
    target : integer array, shape (N,)
    reduction : {'mean', 'sum', 'none'}

    Notes
    -----
    **Subgradient at ties.** Where several classes tie for the maximum the cotangent is split
    equally among them (as the engine's ``max``, ``jax.numpy.max`` and ``torch.amax`` do); in
    particular a right class tied with a wrong one gets :math:`1/|J_i| - 1`. The audit samples
    away from ties (``kinks``: the gap between the two best scores).

    **Conventions.** Equals optax ``multiclass_perceptron_loss(scores, labels)`` (unreduced:
    ``'none'``). It is :func:`crammer_singer_hinge` with margin 0 except that the right class
    enters the max (so the loss is :math:`\max(0, \max_{j \ne y} s_j - s_y)`, the same number).

    Raises
    ------
    ValueError
        ``scores`` not 2-D; ``target`` not of shape (N,) or labels outside [0, C); NaN.
    TypeError
        ``target`` not integer.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(multiclass_perceptron(np.array([[0.4, 1.5, -1.0]]), np.array([0]))), 10)
    1.1
    """
    return apply_loss(MULTICLASS_PERCEPTRON, scores, target, reduction=reduction)


__all__ = ["multiclass_perceptron"]
