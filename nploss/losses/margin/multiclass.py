r"""Multiclass margin losses: scores of shape ``(N, C)`` and integer labels of shape ``(N,)``.

:func:`multiclass_hinge` (Weston and Watkins, PyTorch's ``multi_margin_loss``) sums a hinge over
every wrong class, :math:`\max(0, m - s_y + s_j)`; :func:`crammer_singer_hinge` takes the hinge of
the best wrong class only. The labels are never differentiated. At the kinks (a hinge exactly
at 0, tied runner-ups) the gradient is the subgradient that ``relu`` and the engine's ``max``
give.

Each loss is one block: the reference ``_x_forward`` and ``_x_vjp``, its checks, kinks and edge
cases, the registry entry, then the public function.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...autograd import as_data
from ...backend import get_array_module
from .._apply import apply_loss
from .._params import real
from .._shared import constant, unbatched
from .._spec import Arg, LossSpec, Tie, labels_often_on_top, register, weights_per_class
from .._validate import class_weights

MULTICLASS = (Arg("scores", "logits", ("N", "C")), Arg("target", "label", ("N",), differentiable=False))


def _check_multiclass(scores: Any, target: Any, **params: Any) -> None:
    if scores.ndim != 2:
        raise ValueError(f"scores must have shape (N, C), got shape {tuple(scores.shape)}")
    if tuple(target.shape) != (scores.shape[0],):
        raise ValueError(f"target must have shape (N,) = ({scores.shape[0]},) for scores of shape {tuple(scores.shape)}, got {tuple(target.shape)}")
    if "margin" in params:
        real("margin", params["margin"], low=0.0)  # 0: the multiclass perceptron; negative: a sign error
    if params.get("p", 1) not in (1, 2) or isinstance(params.get("p"), bool):
        raise ValueError(f"p must be 1 or 2, got {params.get('p')!r}")
    class_weights("weight", params.get("weight"), scores.shape[1])


def _off_target(scores: Any, target: Any) -> Any:
    """Boolean (N, C) mask of the classes j != y_i (a constant)."""
    labels = as_data(target)
    return get_array_module(labels).arange(scores.shape[1]) != labels[:, None]


def _multiclass_edges() -> dict[str, Any]:
    return {
        "scores of +-1e4": lambda rng: [np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]]), np.array([0, 0])],
        "exactly at the margin, ties": lambda rng: [np.array([[1.5, 0.5, 0.5], [0.0, 0.0, 0.0]]), np.array([0, 2])],
    }


# ------------------------------------------------------------------------------------ multiclass hinge


def _class_scale(scores: Any, target: Any, weight: Any) -> Any:
    """:math:`w_{y_i} / C` (a constant), in the dtype of the scores; ``1/C`` without weights."""
    classes = scores.shape[1]
    if weight is None:
        return 1.0 / classes
    labels = as_data(target)
    return (as_data(weight)[labels] / classes).astype(scores.dtype)


def _weston_watkins_margins(xp: Any, scores: Any, target: Any, margin: float) -> Any:
    """:math:`z_{ij} = m - s_{i y_i} + s_{ij}`, shape (N, C)."""
    correct = xp.take_along_axis(scores, as_data(target)[:, None], axis=1)
    return margin - correct + scores


def _multiclass_hinge_forward(xp: Any, scores: Any, target: Any, *, margin: float, p: int, weight: Any) -> Any:
    h = xp.relu(_weston_watkins_margins(xp, scores, target, margin))
    if p == 2:
        h = h * h
    # the j = y_i term would contribute max(0, m)^p: it is excluded, not zeroed by the formula
    return xp.sum(xp.where(_off_target(scores, target), h, 0.0), axis=1) * _class_scale(scores, target, weight)


def _multiclass_hinge_vjp(xp: Any, g: Any, scores: Any, target: Any, *, margin: float, p: int, weight: Any) -> tuple[Any]:
    z = _weston_watkins_margins(xp, scores, target, margin)
    # at z == 0 the subgradient 0 (relu's; torch's multi_margin_loss backward alike)
    active = xp.as_data(z > 0) & _off_target(scores, target)
    coef = xp.expand_dims(g * _class_scale(scores, target, weight), 1)
    dh = coef if p == 1 else 2.0 * coef * z  # d/dz of z and of z^2 on the active set
    d_other = xp.where(active, dh, 0.0)  # dl/ds_j for j != y
    # s_y appears with a minus sign in every term: it receives minus the row sum
    return (xp.where(_off_target(scores, target), d_other, -xp.sum(d_other, axis=1, keepdims=True)),)


def _multiclass_kinks(scores: Any, target: Any, *, margin: float, **_: Any) -> Any:
    z = margin - np.take_along_axis(scores, target[:, None], axis=1) + scores
    return np.where(np.arange(scores.shape[1]) != target[:, None], np.abs(z), np.inf)


MULTICLASS_HINGE = register(
    LossSpec(
        name="multiclass_hinge",
        sampler=labels_often_on_top,  # hinges on both sides of the margin
        ties={
            "p=1, margins of exactly 0": Tie(
                inputs=lambda: [np.array([[1.5, 0.5, 0.5]]), np.array([0])],
                subgradient="0 where the hinge is exactly at 0, relu's convention",
                expected=lambda scores, target, **p: [np.zeros((1, 3))],
                value=lambda scores, target, **p: 0.0,
            )
        },
        grid={"weight": (None, weights_per_class())},
        family="classification",
        args=MULTICLASS,
        forward=_multiclass_hinge_forward,
        vjp=_multiclass_hinge_vjp,
        params={"margin": 1.0, "p": 1, "weight": None},
        check=_check_multiclass,
        classes_from="scores",
        kinks=_multiclass_kinks,
        edge_cases=_multiclass_edges(),
        formula=r"\ell_i = \frac{1}{C} \sum_{j \ne y_i} w_{y_i} \max(0, m - s_{i y_i} + s_{ij})^p",
        reference="Weston & Watkins 1999; torch.nn.functional.multi_margin_loss",
        torch="multi_margin_loss",
    )
)


def multiclass_hinge(
    scores: Any, target: Any, margin: float = 1.0, p: int = 1, weight: Any = None, reduction: str = "mean"
) -> Any:
    r"""Multiclass hinge loss of Weston and Watkins, exactly as ``torch.nn.functional.multi_margin_loss``.

    .. math::  \ell_i = \frac{1}{C} \sum_{j \ne y_i} w_{y_i} \max(0, z_{ij})^p, \qquad
               z_{ij} = m - s_{i y_i} + s_{ij},

    .. math::  \frac{\partial \ell_i}{\partial s_{ij}} = \frac{w_{y_i}}{C}\, p\, z_{ij}^{p-1}
               [z_{ij} > 0] \quad (j \ne y_i), \qquad
               \frac{\partial \ell_i}{\partial s_{i y_i}} = -\sum_{j \ne y_i}
               \frac{\partial \ell_i}{\partial s_{ij}}

    Parameters
    ----------
    scores : array or Tensor, shape (N, C)
    target : integer array, shape (N,), labels in [0, C)
    margin : float
        :math:`m \ge 0` (0: the multiclass perceptron). A negative margin is refused; PyTorch
        accepts it, and then leaves wrong classes scoring up to :math:`|m|` above the right
        one unpenalised.
    p : {1, 2}
        1 for the hinge, 2 for its square (differentiable at the margin).
    weight : array, shape (C,), optional
        Non-negative class weights; :math:`w_{y_i}` scales the whole loss of sample i.
    reduction : {'mean', 'sum', 'none'}
        ``'mean'`` is the plain mean over the N samples, also with weights (as PyTorch: not a
        weighted mean, unlike ``cross_entropy``).

    Notes
    -----
    The division by :math:`C` is PyTorch's (Weston and Watkins sum without it); to get the
    plain sum multiply by C. For ``p=1`` the gradient at :math:`z_{ij} = 0` is the subgradient 0
    (PyTorch's too). PyTorch also accepts a 1-D input with a 0-d target; nploss takes (N, C)
    only, and refuses negative weights, which would make the loss negative.

    Raises
    ------
    ValueError
        ``scores`` not 2-D; ``target`` not of shape (N,) or labels outside [0, C); ``p`` not 1 or
        2; ``weight`` not of shape (C,), negative or not finite; a negative or non-finite
        ``margin``.
    TypeError
        ``target`` not integer; ``margin`` not a real number.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(multiclass_hinge(np.array([[2.0, 1.5, -1.0]]), np.array([0]))), 10)
    0.1666666667
    """
    if np.ndim(as_data(scores)) == 1:  # one sample, (C,), as PyTorch accepts
        one = lambda f, y: multiclass_hinge(f, y, margin, p, weight, reduction)  # noqa: E731
        return unbatched(one, {"scores": scores, "target": target}, {"target": (0,)}, reduction)
    weight = constant(weight, scores)
    return apply_loss(MULTICLASS_HINGE, scores, target, reduction=reduction, margin=margin, p=p, weight=weight)


# ------------------------------------------------------------------------------------ Crammer-Singer


def _check_crammer_singer(scores: Any, target: Any, **params: Any) -> None:
    _check_multiclass(scores, target)
    if scores.shape[1] < 2:
        raise ValueError(f"scores must have at least 2 classes (C >= 2) for a margin over the others, got C = {scores.shape[1]}")


def _runner_up(xp: Any, scores: Any, target: Any) -> tuple[Any, Any]:
    r"""The best wrong score :math:`\max_{j \ne y} s_j` (N,), and its (N, C) argument."""
    others = xp.where(_off_target(scores, target), scores, -math.inf)
    return xp.max(others, axis=1), others


def _crammer_singer_forward(xp: Any, scores: Any, target: Any) -> Any:
    correct = xp.take_along_axis(scores, as_data(target)[:, None], axis=1)[:, 0]
    best_other, _ = _runner_up(xp, scores, target)
    return xp.relu(1.0 + best_other - correct)


def _crammer_singer_vjp(xp: Any, g: Any, scores: Any, target: Any) -> tuple[Any]:
    correct = xp.take_along_axis(scores, as_data(target)[:, None], axis=1)[:, 0]
    best_other, others = _runner_up(xp, scores, target)
    active = 1.0 + best_other - correct > 0  # the subgradient 0 exactly at the margin (relu's)
    # Tied runner-ups share the cotangent equally (the engine's max and torch.amax do the same),
    # so the gradient is the average of the subgradients of the tied pieces.
    winners = xp.as_data(others >= xp.expand_dims(best_other, 1))
    share = winners / winners.sum(axis=1, keepdims=True)
    direction = (share - ~_off_target(scores, target)).astype(scores.dtype)  # +share on runner-ups, -1 on y
    return (xp.expand_dims(xp.where(active, g, 0.0), 1) * direction,)


def _crammer_singer_kinks(scores: Any, target: Any) -> Any:
    others = np.where(np.arange(scores.shape[1]) != target[:, None], scores, -np.inf)
    top2 = -np.sort(-others, axis=1)[:, :2]
    correct = np.take_along_axis(scores, target[:, None], axis=1)[:, 0]
    return np.minimum(np.abs(1.0 + top2[:, 0] - correct), np.abs(top2[:, 0] - top2[:, 1]))


CRAMMER_SINGER_HINGE = register(
    LossSpec(
        name="crammer_singer_hinge",
        sampler=labels_often_on_top,  # hinges on both sides of the margin
        ties={
            "two runner-ups tied": Tie(
                inputs=lambda: [np.array([[0.0, 1.0, 1.0]]), np.array([0])],
                subgradient="the cotangent split equally between the tied classes",
                expected=lambda scores, target, **p: [np.array([[-1.0, 0.5, 0.5]])],
                value=lambda scores, target, **p: 2.0,
            ),
            "the hinge exactly at 0": Tie(
                inputs=lambda: [np.array([[1.0, 0.0, 0.0]]), np.array([0])],
                subgradient="0 exactly at the margin, relu's convention",
                expected=lambda scores, target, **p: [np.zeros((1, 3))],
                value=lambda scores, target, **p: 0.0,
            ),
        },
        family="classification",
        args=MULTICLASS,
        forward=_crammer_singer_forward,
        vjp=_crammer_singer_vjp,
        check=_check_crammer_singer,
        classes_from="scores",
        kinks=_crammer_singer_kinks,
        edge_cases=_multiclass_edges(),
        formula=r"\ell_i = \max(0, 1 + \max_{j \ne y_i} s_{ij} - s_{i y_i})",
        reference="Crammer & Singer 2001; Keras categorical_hinge; optax multiclass_hinge_loss; sklearn hinge_loss (multiclass)",
    )
)


def crammer_singer_hinge(scores: Any, target: Any, reduction: str = "mean") -> Any:
    r"""Multiclass hinge loss of Crammer and Singer: the margin over the best wrong class.

    .. math::  \ell_i = \max\bigl(0,\ 1 + \max_{j \ne y_i} s_{ij} - s_{i y_i}\bigr), \qquad
               \frac{\partial \ell_i}{\partial s_{i y_i}} = -[\ell_i > 0], \quad
               \frac{\partial \ell_i}{\partial s_{ij}} = \frac{[\ell_i > 0]\,[j \in J_i]}{|J_i|}
               \ (j \ne y_i)

    where :math:`J_i = \arg\max_{j \ne y_i} s_{ij}` is the set of (possibly tied) runner-up
    classes.

    Parameters
    ----------
    scores : array or Tensor, shape (N, C), C >= 2
    target : integer array, shape (N,)
        Integer class labels, not one-hot rows: Keras' ``categorical_hinge`` takes one-hot
        ``y_true``; pass ``argmax`` of it here.
    reduction : {'mean', 'sum', 'none'}

    Notes
    -----
    **Subgradients.** The loss is not differentiable where the hinge is exactly at 0 (the
    gradient is then 0, as ``relu``'s) nor where several wrong classes tie for the maximum.
    At a tie the cotangent is split equally among the tied classes, the average of the
    one-sided gradients: the convention of the engine's ``max`` and of ``torch.amax``
    (``torch.max(dim=)`` and an argmax would send it all to one class instead; any convex
    combination is a valid subgradient).

    **Conventions.** Equals optax ``multiclass_hinge_loss`` (:math:`\max_j(s_j + [j \ne y]) -
    s_y`) and, with ``'mean'``, scikit-learn's multiclass ``hinge_loss``. Keras'
    ``categorical_hinge`` computes ``max((1 - y_true) * y_pred)`` for the runner-up, i.e. the
    true class enters the maximum as 0 rather than being excluded: it agrees with this loss
    when some wrong class scores :math:`\ge 0` and otherwise replaces the runner-up score by 0.
    PyTorch has no Crammer-Singer loss (its ``multi_margin_loss`` is :func:`multiclass_hinge`).

    Raises
    ------
    ValueError
        ``scores`` not 2-D or with C < 2; ``target`` not of shape (N,) or labels outside
        [0, C); NaN in ``scores``.
    TypeError
        ``target`` not integer.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(crammer_singer_hinge(np.array([[0.4, 0.6]]), np.array([1]))), 10)
    0.8
    """
    return apply_loss(CRAMMER_SINGER_HINGE, scores, target, reduction=reduction)
