r"""Multi-label margin losses and the hinge embedding loss, as PyTorch has them.

- :func:`multilabel_margin` (``torch.nn.functional.multilabel_margin_loss``): scores ``(N, C)``
  and, per sample, a list of target classes padded with ``-1``; a hinge between every target
  class and every non-target class.
- :func:`multilabel_soft_margin` (``multilabel_soft_margin_loss``): one logistic loss per class
  against a 0/1 (or soft) target, averaged over the classes.
- :func:`hinge_embedding` (``hinge_embedding_loss``): for a *distance* ``x`` and a target
  :math:`y \in \{-1, +1\}`, ``x`` itself for similar pairs and :math:`\max(0, \Delta - x)` for
  dissimilar ones. It lives here rather than in ``metric/``: like the binary margin losses it is
  an elementwise hinge of a given score against a :math:`\pm 1` target, of any shape, while the
  ``metric/`` losses take embeddings and compute the distances themselves.

The integer targets and the signs are constants. At a kink the gradient is the one PyTorch
takes (given in each docstring). Each loss is one block: the reference ``_x_forward`` and
``_x_vjp``, its checks, kinks and edge cases, the registry entry, then the public function.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...autograd import as_data
from ...backend import get_array_module
from .._apply import apply_loss
from .._params import real
from .._shared import constant, in_dtype_of, unbatched
from .._spec import Arg, LossSpec, Tie, register, weights_per_class
from .._validate import finite, same_shape

# ------------------------------------------------------------------------------------ multilabel margin

PADDING = -1  # PyTorch's end-of-list marker in the target rows


def _target_sets(scores: Any, target: Any) -> tuple[Any, Any, Any]:
    """From the padded target rows (N, K): ``valid`` (N, K), the positions before the first -1;
    ``safe`` (N, K), the labels with the rest set to 0 (safe to gather with); ``hot`` (N, K, C),
    the one-hot of each valid position (constants)."""
    t = as_data(target)
    xp = get_array_module(t)
    valid = xp.cumprod(t != PADDING, axis=1).astype(bool)  # everything after the first -1 is ignored
    safe = xp.where(valid, t, 0)
    hot = (safe[:, :, None] == xp.arange(scores.shape[1])) & valid[:, :, None]
    return valid, safe, hot


def _multilabel_margin_terms(xp: Any, scores: Any, target: Any) -> tuple[Any, Any, Any]:
    r"""The hinge arguments :math:`z_{ikj} = 1 - s_{i, y_{ik}} + s_{ij}` (N, K, C), the constant
    mask of the pairs that count (:math:`k` a valid target position, :math:`j` not a target) and
    the one-hot ``hot`` of :func:`_target_sets`."""
    valid, safe, hot = _target_sets(scores, target)
    is_target = hot.any(axis=1)  # (N, C)
    correct = xp.take_along_axis(scores, safe, axis=1)  # (N, K)
    z = 1.0 - xp.expand_dims(correct, 2) + xp.expand_dims(scores, 1)
    return z, valid[:, :, None] & ~is_target[:, None, :], hot


def _multilabel_margin_forward(xp: Any, scores: Any, target: Any, **_: Any) -> Any:
    z, mask, _ = _multilabel_margin_terms(xp, scores, target)
    h = xp.where(mask, xp.relu(z), 0.0)
    return xp.sum(xp.sum(h, axis=2), axis=1) * (1.0 / scores.shape[1])


def _multilabel_margin_vjp(xp: Any, g: Any, scores: Any, target: Any, **_: Any) -> tuple[Any]:
    # each active pair (k, j), z > 0, adds +1 to s_j and -1 to s_{y_k}; PyTorch takes 0 at z = 0
    z, mask, hot = _multilabel_margin_terms(xp, scores, target)
    active = ((xp.as_data(z) > 0) & mask).astype(as_data(scores).dtype)
    per_target = active.sum(axis=2)  # (N, K): active pairs of each target position
    direction = active.sum(axis=1) - (per_target[:, :, None] * hot).sum(axis=1)  # (N, C), a constant
    return (xp.expand_dims(g, 1) * (1.0 / scores.shape[1]) * direction,)


def _check_multilabel_margin(scores: Any, target: Any, **_: Any) -> None:
    if scores.ndim != 2:
        raise ValueError(f"scores must have shape (N, C) (or (C,) for one sample), got shape {tuple(scores.shape)}")
    same_shape("scores", scores, "target", target)


def _multilabel_margin_kinks(scores: Any, target: Any, **_: Any) -> Any:
    z, mask, _ = _multilabel_margin_terms(np, scores, target)
    return np.where(mask, np.abs(z), np.inf).min(axis=(1, 2))


def _multilabel_margin_sampler(rng: np.random.Generator, sizes: dict[str, int]) -> list[np.ndarray]:
    n, c = sizes["N"], sizes["C"]
    target = np.full((n, c), PADDING)
    for i in range(n):
        k = rng.integers(1, c)  # 1 to C - 1 targets, so that every row has a non-target
        target[i, :k] = rng.choice(c, k, replace=False)
        target[i, k + 1 :] = rng.integers(0, c, c - k - 1)  # after the -1: ignored
    return [2.0 * rng.standard_normal((n, c)), target]


MULTILABEL_MARGIN = register(
    LossSpec(
        name="multilabel_margin",
        family="classification",
        args=(Arg("scores", "logits", ("N", "C")), Arg("target", "label", ("N", "C"), differentiable=False)),
        forward=_multilabel_margin_forward,
        vjp=_multilabel_margin_vjp,
        # the padding value is fixed (PyTorch's -1); given here so that the label check admits it
        params={"ignore_index": PADDING},
        check=_check_multilabel_margin,
        classes_from="scores",
        kinks=_multilabel_margin_kinks,
        sampler=_multilabel_margin_sampler,
        edge_cases={
            "scores of +-1e4, exactly at the margin": lambda rng: [
                np.array([[1e4, -1e4, 0.0, 0.0], [1.0, 0.0, 0.5, -1e4], [0.0, 0.0, 0.0, 0.0]]),
                np.array([[0, -1, 1, 2], [0, 2, -1, -1], [3, -1, -1, -1]]),
            ],
        },
        formula=r"\ell = \frac{1}{C} \sum_{j \in Y} \sum_{i \notin Y} \max(0, 1 - (s_j - s_i))",
        reference="Weston & Watkins 1999 (pairwise ranking hinge); torch.nn.functional.multilabel_margin_loss",
        torch="multilabel_margin_loss",
    )
)


def multilabel_margin(scores: Any, target: Any, reduction: str = "mean") -> Any:
    r"""Multi-label margin loss: every target class should score at least 1 above every other class.

    .. math::  \ell_i = \frac{1}{C} \sum_{k} \sum_{j \notin Y_i} \max(0,\ 1 - s_{i, y_{ik}} + s_{ij}),
               \qquad \frac{\partial \ell_i}{\partial s_{ij}} = \frac{1}{C}\Big(\sum_k [z_{ikj} > 0]
               - \sum_{k: y_{ik} = j} \sum_{j' \notin Y_i} [z_{ikj'} > 0]\Big)

    with :math:`z_{ikj} = 1 - s_{i, y_{ik}} + s_{ij}`, :math:`k` running over the target list of
    sample :math:`i` up to its first ``-1`` and :math:`Y_i` the set of those classes.

    Parameters
    ----------
    scores : array or Tensor, shape (N, C) or (C,)
    target : integer array, the shape of ``scores``
        Each row lists the target classes, then ``-1``; whatever follows the first ``-1`` is
        ignored (PyTorch's layout, *not* a 0/1 indicator matrix). A constant.
    reduction : {'mean', 'sum', 'none'}

    Matches ``torch.nn.functional.multilabel_margin_loss``, values and gradients, including its
    conventions: a class listed twice counts twice; at a hinge exactly at 0 the gradient is 0.

    Raises
    ------
    ValueError
        Shapes that differ, labels outside [-1, C), NaN scores, 0-d input (PyTorch reads a 0-d
        pair as one class; nploss refuses it).
    TypeError
        Float targets.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(multilabel_margin(np.array([[0.1, 0.2, 0.4, 0.8]]), np.array([[3, 0, -1, 1]]))), 6)
    0.85
    """
    if np.ndim(as_data(scores)) == 1:  # one sample, (C,), as PyTorch accepts
        one = lambda s, t: multilabel_margin(s, t, reduction)
        return unbatched(one, {"scores": scores, "target": target}, {"target": (1,)}, reduction)
    return apply_loss(MULTILABEL_MARGIN, scores, target, reduction=reduction, ignore_index=PADDING)


# ------------------------------------------------------------------------------------ multilabel soft margin


def _class_weight(weight: Any, logits: Any) -> Any:
    """``weight`` (C,) or (N, C) divided by C, in the dtype of the logits; ``1/C`` without."""
    classes = logits.shape[-1]
    return 1.0 / classes if weight is None else in_dtype_of(weight, logits) / classes


def _multilabel_soft_margin_forward(xp: Any, logits: Any, target: Any, *, weight: Any) -> Any:
    # -y log sigma(x) - (1 - y) log sigma(-x), each log sigma as a softplus (finite for any x)
    terms = target * xp.softplus(-logits) + (1.0 - target) * xp.softplus(logits)
    return xp.sum(terms * _class_weight(weight, logits), axis=1)


def _multilabel_soft_margin_vjp(xp: Any, g: Any, logits: Any, target: Any, *, weight: Any) -> tuple[Any, Any]:
    g = xp.expand_dims(g, 1) * _class_weight(weight, logits)
    # d/dx = sigma(x) - y; d/dy = softplus(-x) - softplus(x) = -x
    return g * (xp.sigmoid(logits) - target), -g * logits


def _check_multilabel_soft_margin(logits: Any, target: Any, *, weight: Any) -> None:
    if logits.ndim != 2:
        raise ValueError(f"logits must have shape (N, C) (or (C,) for one sample), got shape {tuple(logits.shape)}")
    same_shape("logits", logits, "target", target)
    if weight is not None:
        if tuple(weight.shape) not in ((logits.shape[1],), tuple(logits.shape)):
            raise ValueError(
                f"weight must have shape ({logits.shape[1]},) or {tuple(logits.shape)}, got {tuple(weight.shape)}"
            )
        finite("weight", weight)


MULTILABEL_SOFT_MARGIN = register(
    LossSpec(
        name="multilabel_soft_margin",
        grid={"weight": (None, weights_per_class())},
        family="classification",
        args=(Arg("logits", "logits", ("N", "C")), Arg("target", "prob", ("N", "C"))),
        forward=_multilabel_soft_margin_forward,
        vjp=_multilabel_soft_margin_vjp,
        params={"weight": None},
        check=_check_multilabel_soft_margin,
        edge_cases={
            "logits of +-1e4": lambda rng: [
                np.array([[1e4, -1e4, 0.0, 3.0], [-1e4, 1e4, 1e4, -1e4]]),
                np.array([[1.0, 0.0, 0.5, 1.0], [1.0, 0.0, 1.0, 0.0]]),
            ],
        },
        formula=r"\ell = \frac{1}{C} \sum_c w_c [y_c \log(1 + e^{-x_c}) + (1 - y_c) \log(1 + e^{x_c})]",
        reference="torch.nn.functional.multilabel_soft_margin_loss",
        torch="multilabel_soft_margin_loss",
    )
)


def multilabel_soft_margin(logits: Any, target: Any, weight: Any = None, reduction: str = "mean") -> Any:
    r"""Multi-label soft margin loss: a logistic loss per class, averaged over the classes.

    .. math::  \ell_i = \frac{1}{C} \sum_c w_c \big[y_{ic} \log(1 + e^{-x_{ic}}) + (1 - y_{ic}) \log(1 + e^{x_{ic}})\big],
               \qquad \frac{\partial \ell_i}{\partial x_{ic}} = \frac{w_c}{C} (\sigma(x_{ic}) - y_{ic}),
               \qquad \frac{\partial \ell_i}{\partial y_{ic}} = -\frac{w_c}{C} x_{ic}

    It is :func:`binary_cross_entropy_with_logits` summed over the classes and divided by C (not
    the mean over every element: the two agree for ``'mean'``, not for ``'sum'``/``'none'``).

    Parameters
    ----------
    logits : array or Tensor, shape (N, C) or (C,)
    target : array or Tensor, the shape of ``logits``
        Targets in [0, 1] (0/1 labels, or soft ones); differentiated, as in PyTorch.
    weight : array, optional
        Per-class weights (C,) or per-element weights (N, C) (a constant); PyTorch broadcasts any
        shape, nploss takes these two.
    reduction : {'mean', 'sum', 'none'}
        Over the N samples (the classes are always averaged).

    Matches ``torch.nn.functional.multilabel_soft_margin_loss``. PyTorch admits targets outside
    [0, 1], where the loss can be negative; nploss refuses them.

    Raises
    ------
    ValueError
        Shapes that differ, targets outside [0, 1], a weight of another shape, NaN inputs.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(multilabel_soft_margin(np.array([[0.0, 2.0]]), np.array([[1.0, 0.0]]))), 6)
    1.410038
    """
    if np.ndim(as_data(logits)) == 1:
        one = lambda z, t: multilabel_soft_margin(z, t, weight, reduction)
        return unbatched(one, {"logits": logits, "target": target}, {"target": (1,)}, reduction)
    weight = constant(weight, logits)
    return apply_loss(MULTILABEL_SOFT_MARGIN, logits, target, reduction=reduction, weight=weight)


# ------------------------------------------------------------------------------------ hinge embedding


def _hinge_embedding_forward(xp: Any, distance: Any, target: Any, *, margin: float) -> Any:
    # clip rather than relu: PyTorch's clamp_min passes the gradient at margin - x = 0
    return xp.where(xp.as_data(target) == 1, distance, xp.clip(margin - distance, 0.0, None))


def _hinge_embedding_vjp(xp: Any, g: Any, distance: Any, target: Any, *, margin: float) -> tuple[Any]:
    d, m = xp.as_data(distance), get_array_module(xp.as_data(distance))
    slope = m.where(xp.as_data(target) == 1, 1.0, m.where(margin - d >= 0, -1.0, 0.0))
    return (g * slope.astype(d.dtype),)


def _check_hinge_embedding(distance: Any, target: Any, *, margin: Any) -> None:
    same_shape("distance", distance, "target", target)
    real("margin", margin, low=0.0)


def _hinge_embedding_kinks(distance: Any, target: Any, *, margin: float) -> Any:
    return np.where(target == 1, np.inf, np.abs(margin - distance))


HINGE_EMBEDDING = register(
    LossSpec(
        name="hinge_embedding",
        ties={
            "a dissimilar distance equal to the margin": Tie(
                inputs=lambda: [np.array([1.0, 0.5]), np.array([-1.0, 1.0])],
                subgradient="-1 at d = m (the slope of m - d, as PyTorch's clamp_min)",
                expected=lambda distance, target, **p: [np.array([-1.0, 1.0])],
                value=lambda distance, target, **p: 0.5,
            )
        },
        family="classification",
        args=(Arg("distance", "real"), Arg("target", "sign", differentiable=False)),
        forward=_hinge_embedding_forward,
        vjp=_hinge_embedding_vjp,
        params={"margin": 1.0},
        check=_check_hinge_embedding,
        kinks=_hinge_embedding_kinks,
        # PyTorch admits any real x, so a similar pair with x < 0 has a negative loss
        nonnegative=False,
        edge_cases={
            "at the margin, large": lambda rng: [
                np.array([1.0, 1.0, 1e4, -1e4, 0.0]),
                np.array([-1.0, 1.0, -1.0, -1.0, 1.0]),
            ],
        },
        formula=r"\ell = \begin{cases} x & y = 1 \\ \max(0, \Delta - x) & y = -1 \end{cases}",
        reference="Hadsell, Chopra & LeCun 2006 (contrastive hinge on distances); torch.nn.functional.hinge_embedding_loss",
        torch="hinge_embedding_loss",
    )
)


def hinge_embedding(distance: Any, target: Any, margin: float = 1.0, reduction: str = "mean") -> Any:
    r"""Hinge embedding loss of a distance: pull similar pairs together, push dissimilar ones
    beyond the margin :math:`\Delta`.

    .. math::  \ell_i = \begin{cases} x_i & y_i = 1 \\ \max(0, \Delta - x_i) & y_i = -1 \end{cases},
               \qquad \frac{\partial \ell_i}{\partial x_i} = \begin{cases} 1 & y_i = 1 \\
               -[\Delta - x_i \ge 0] & y_i = -1 \end{cases}

    Parameters
    ----------
    distance : array or Tensor, any shape
        Usually a non-negative distance (PyTorch's ``input``), e.g. an L1 distance of two
        embeddings; any real number is accepted, as in PyTorch.
    target : array, the shape of ``distance``
        +1 (similar) or -1 (dissimilar); a constant.
    margin : float, non-negative
    reduction : {'mean', 'sum', 'none'}

    Matches ``torch.nn.functional.hinge_embedding_loss``, including the gradient at
    :math:`x = \Delta` for a dissimilar pair (-1: its ``clamp_min`` passes it). PyTorch admits
    targets other than +-1 (both branches then add up) and negative margins; nploss refuses both.
    Not to be confused with :func:`hinge`, :math:`\max(0, 1 - y f)` of a score.

    Raises
    ------
    ValueError
        Shapes that differ, targets other than +-1, a negative margin, NaN input.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(hinge_embedding(np.array([0.5, 0.25, 3.0]), np.array([1.0, -1.0, -1.0]))), 6)  # (0.5 + 0.75 + 0) / 3
    0.416667
    """
    margin = real("margin", margin, low=0.0)
    return apply_loss(HINGE_EMBEDDING, distance, target, reduction=reduction, margin=margin)


__all__ = ["hinge_embedding", "multilabel_margin", "multilabel_soft_margin"]
