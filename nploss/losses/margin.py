r"""Margin-based classification losses: surrogates of the 0-1 loss written in the margin.

Binary losses take real scores :math:`f` and targets :math:`y \in \{-1, +1\}` (given
explicitly: nploss never maps ``{0, 1}`` labels for you) and are functions of the *margin*
:math:`z = y f`, the signed confidence of the right answer:

=================  ==========================================  ==========================
loss               :math:`\ell(z)`                             :math:`\ell'(z)`
=================  ==========================================  ==========================
``hinge``          :math:`\max(0, m - z)`                      :math:`-[z < m]`
``squared_hinge``  :math:`\max(0, 1 - z)^2`                    :math:`-2\max(0, 1 - z)`
``smoothed_hinge`` quadratic on :math:`(0, 1)`, linear below   :math:`-\mathrm{clip}(1 - z, 0, 1)`
``exponential``    :math:`e^{-z}`                              :math:`-e^{-z}`
``logistic``       :math:`\log(1 + e^{-z})`                    :math:`-\sigma(-z)`
=================  ==========================================  ==========================

and by the chain rule :math:`\partial \ell / \partial f = y\, \ell'(z)`. The multiclass hinges
(Weston-Watkins ``multiclass_hinge``, Crammer-Singer ``crammer_singer_hinge``) take scores of
shape ``(N, C)`` and integer labels of shape ``(N,)``.

The target is never differentiated: it is a label. In the code :math:`z = y f` is written
``where(y > 0, f, -f)``, which keeps the dtype of ``f`` whatever the dtype of the labels.
"""

from __future__ import annotations

import math
from typing import Any

from ..autograd import as_data
from ..backend import get_array_module
from ._apply import apply_loss, collapse
from ._spec import Arg, LossSpec, register
from ._validate import finite, in_range, same_shape

__all__ = [
    "hinge",
    "squared_hinge",
    "smoothed_hinge",
    "multiclass_hinge",
    "crammer_singer_hinge",
    "exponential",
    "logistic",
]

BINARY = (Arg("scores", "logits"), Arg("target", "sign", differentiable=False))
MULTICLASS = (Arg("scores", "logits", ("N", "C")), Arg("target", "label", ("N",), differentiable=False))


def _real(name: str, value: Any) -> None:
    """A finite real number (a margin); bools and arrays are refused."""
    if isinstance(value, bool) or not isinstance(value, int | float) and not hasattr(value, "__float__"):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if getattr(value, "ndim", 0) != 0:
        raise TypeError(f"{name} must be a real number, got an array of shape {value.shape}")
    if not math.isfinite(float(value)):
        raise ValueError(f"{name} must be finite, got {value}")


def _margin_param(value: Any) -> None:
    """A finite margin >= 0. Zero is the perceptron criterion; a negative margin would leave
    misclassified points within |m| of the boundary unpenalised, which is a sign error rather
    than a loss."""
    _real("margin", value)
    if float(value) < 0:
        raise ValueError(f"margin must be non-negative, got {value}")


def _check_binary(scores: Any, target: Any, **params: Any) -> None:
    same_shape("scores", scores, "target", target)
    if "margin" in params:
        _margin_param(params["margin"])


def _margin(xp: Any, scores: Any, target: Any) -> Any:
    r""":math:`z = y f` for :math:`y \in \{-1, +1\}`, in the dtype of the scores.

    A product by :math:`\pm 1` is exact: the values of ``where(y > 0, f, -f)``, without its branch
    on every element (several times slower on random signs)."""
    return scores * _signs(target, scores.dtype)


def _chain(xp: Any, target: Any, dz: Any) -> Any:
    r""":math:`\partial \ell / \partial f = y\, \partial \ell / \partial z`."""
    return dz * _signs(target, dz.dtype)


def _signs(target: Any, dtype: Any) -> Any:
    """The targets in ``dtype``, so that integer or float64 signs do not promote the scores."""
    return target if target.dtype == dtype else target.astype(dtype)


def _binary_edges(margin: float = 1.0, big: float = 1e4) -> dict[str, Any]:
    """Scores of +-big on both sides of both labels, and a point exactly at the margin."""
    import numpy as np

    return {
        f"scores of +-{big:g}": lambda rng: [np.array([big, -big, big, -big]), np.array([1.0, 1.0, -1.0, -1.0])],
        "margin exactly at the kink": lambda rng: [np.array([margin, -margin, 0.0, 0.5]), np.array([1.0, -1.0, 1.0, -1.0])],
    }


# ------------------------------------------------------------------------------------ hinge


def _hinge_forward(xp: Any, scores: Any, target: Any, *, margin: float) -> Any:
    return xp.relu(margin - _margin(xp, scores, target))


def _hinge_vjp(xp: Any, g: Any, scores: Any, target: Any, *, margin: float) -> tuple[Any]:
    # strictly inside the margin only: at z == margin the subgradient 0 is taken, as relu's
    # (margin - z > 0 exactly when z < margin: a difference of two floats is 0 only if they are equal)
    active = _margin(xp, scores, target) < margin
    return (_chain(xp, target, -collapse(g) * active),)


def _hinge_kinks(scores: Any, target: Any, *, margin: float) -> Any:
    import numpy as np

    return np.abs(margin - np.where(target > 0, scores, -scores))


HINGE = register(
    LossSpec(
        name="hinge",
        rowwise=True,
        family="classification",
        args=BINARY,
        forward=_hinge_forward,
        vjp=_hinge_vjp,
        params={"margin": 1.0},
        check=_check_binary,
        kinks=_hinge_kinks,
        edge_cases=_binary_edges(),
        formula=r"\ell = \max(0, m - y f), \quad \partial \ell / \partial f = -y\,[y f < m]",
        reference="Cortes & Vapnik 1995; sklearn.metrics.hinge_loss (binary)",
    )
)


def hinge(scores: Any, target: Any, margin: float = 1.0, reduction: str = "mean") -> Any:
    r"""Hinge loss of a binary classifier (the SVM loss).

    .. math::  \ell_i = \max(0, m - y_i f_i), \qquad
               \frac{\partial \ell_i}{\partial f_i} = \begin{cases} -y_i & y_i f_i < m \\
               0 & y_i f_i \ge m \end{cases}

    Parameters
    ----------
    scores : array or Tensor, shape (N,) (any shape)
        Real-valued decision scores :math:`f`.
    target : array, same shape as ``scores``
        Labels in :math:`\{-1, +1\}`. Labels in ``{0, 1}`` are refused rather than mapped.
    margin : float
        :math:`m \ge 0`; 1 gives the classic hinge, 0 the perceptron criterion
        :math:`\max(0, -y f)`. A negative margin is refused: it would leave misclassified points
        with :math:`m \le y f < 0` unpenalised.
    reduction : {'mean', 'sum', 'none'}

    Notes
    -----
    The loss has a kink at :math:`y f = m`. There the gradient is the subgradient 0, the one
    ``torch.relu(m - y * f)`` gives (relu's derivative at 0 is 0): a correctly classified point
    exactly on the margin does not pull. With ``margin=1`` and ``'mean'`` it equals
    ``sklearn.metrics.hinge_loss`` in the binary case (which maps its two labels to -1 and +1
    itself); PyTorch has no binary hinge loss (``hinge_embedding_loss`` is a different one).

    Raises
    ------
    ValueError
        ``target`` not in {-1, +1} or not of the shape of ``scores``; NaN or inf in ``scores``;
        a negative or non-finite ``margin``; an unknown ``reduction``.
    TypeError
        ``margin`` not a real number.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(hinge(np.array([2.0, 0.5, -1.0]), np.array([1.0, 1.0, 1.0]))), 10)
    0.8333333333
    """
    return apply_loss(HINGE, scores, target, reduction=reduction, margin=margin)


# ------------------------------------------------------------------------------------ squared hinge


def _squared_hinge_forward(xp: Any, scores: Any, target: Any) -> Any:
    h = xp.relu(1.0 - _margin(xp, scores, target))
    return h * h


def _squared_hinge_vjp(xp: Any, g: Any, scores: Any, target: Any) -> tuple[Any]:
    # d/dz max(0, 1 - z)^2 = -2 max(0, 1 - z): continuous, so no subgradient choice is needed
    return (_chain(xp, target, -2.0 * g * xp.relu(1.0 - _margin(xp, scores, target))),)


def _unit_margin_kinks(scores: Any, target: Any) -> Any:
    """Distance of :math:`y f` to 1: where the second derivative jumps."""
    import numpy as np

    return np.abs(1.0 - np.where(target > 0, scores, -scores))


SQUARED_HINGE = register(
    LossSpec(
        name="squared_hinge",
        family="classification",
        args=BINARY,
        forward=_squared_hinge_forward,
        vjp=_squared_hinge_vjp,
        check=_check_binary,
        kinks=_unit_margin_kinks,
        edge_cases=_binary_edges(),
        formula=r"\ell = \max(0, 1 - y f)^2, \quad \partial \ell / \partial f = -2 y \max(0, 1 - y f)",
        reference="Keras squared_hinge (with +-1 targets)",
    )
)


def squared_hinge(scores: Any, target: Any, reduction: str = "mean") -> Any:
    r"""Squared hinge loss (the L2-SVM loss).

    .. math::  \ell_i = \max(0, 1 - y_i f_i)^2, \qquad
               \frac{\partial \ell_i}{\partial f_i} = -2 y_i \max(0, 1 - y_i f_i)

    Differentiable everywhere (the derivative is continuous at :math:`y f = 1`); its second
    derivative jumps there.

    Parameters
    ----------
    scores : array or Tensor
    target : array, same shape, labels in :math:`\{-1, +1\}`
    reduction : {'mean', 'sum', 'none'}

    Notes
    -----
    Keras ``squared_hinge`` computes the same values but silently maps labels in ``{0, 1}`` to
    ``{-1, 1}`` (and averages over the last axis first, which for a mean over equal rows is the
    same number). nploss requires the :math:`\pm 1` labels explicitly: a 0 label is refused,
    since under the formula it would mean "no target" rather than the negative class.
    PyTorch has no squared hinge loss.

    Raises
    ------
    ValueError
        ``target`` not in {-1, +1} or not of the shape of ``scores``; NaN in ``scores``.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(squared_hinge(np.array([2.0, 0.5, -1.0]), np.array([1.0, 1.0, 1.0]))), 10)
    1.4166666667
    """
    return apply_loss(SQUARED_HINGE, scores, target, reduction=reduction)


# ------------------------------------------------------------------------------------ smoothed hinge


def _smoothed_hinge_forward(xp: Any, scores: Any, target: Any) -> Any:
    z = _margin(xp, scores, target)
    # the linear and the quadratic pieces meet at z = 0 with value 1/2 and slope -1, and the
    # quadratic meets 0 at z = 1 with slope 0
    quadratic = 0.5 * xp.square(xp.relu(1.0 - z))
    return xp.where(z <= 0, 0.5 - z, quadratic)


def _smoothed_hinge_vjp(xp: Any, g: Any, scores: Any, target: Any) -> tuple[Any]:
    z = _margin(xp, scores, target)
    return (_chain(xp, target, -g * xp.clip(1.0 - z, 0.0, 1.0)),)


def _smoothed_hinge_kinks(scores: Any, target: Any) -> Any:
    import numpy as np

    z = np.where(target > 0, scores, -scores)
    return np.minimum(np.abs(z), np.abs(1.0 - z))


def _smoothed_hinge_edges() -> dict[str, Any]:
    import numpy as np

    return {
        **_binary_edges(),
        "margin exactly 0 and 1": lambda rng: [np.array([0.0, 1.0, 0.0, -1.0]), np.array([1.0, 1.0, -1.0, -1.0])],
    }


SMOOTHED_HINGE = register(
    LossSpec(
        name="smoothed_hinge",
        family="classification",
        args=BINARY,
        forward=_smoothed_hinge_forward,
        vjp=_smoothed_hinge_vjp,
        check=_check_binary,
        kinks=_smoothed_hinge_kinks,
        edge_cases=_smoothed_hinge_edges(),
        formula=(
            r"\ell = \begin{cases} \tfrac12 - z & z \le 0 \\ \tfrac12 (1 - z)^2 & 0 < z < 1 \\ 0 & z \ge 1"
            r"\end{cases}, \ z = y f, \quad \partial \ell / \partial f = -y\, \mathrm{clip}(1 - z, 0, 1)"
        ),
        reference="Rennie & Srebro 2005, Loss functions for preference levels (smooth hinge)",
    )
)


def smoothed_hinge(scores: Any, target: Any, reduction: str = "mean") -> Any:
    r"""Smoothed hinge loss of Rennie & Srebro (2005): linear, then quadratic, then zero.

    .. math::  \ell_i = \begin{cases} \tfrac12 - z_i & z_i \le 0 \\
               \tfrac12 (1 - z_i)^2 & 0 < z_i < 1 \\ 0 & z_i \ge 1 \end{cases}, \qquad
               z_i = y_i f_i, \qquad
               \frac{\partial \ell_i}{\partial f_i} = -y_i\, \mathrm{clip}(1 - z_i, 0, 1)

    Like the hinge it is linear for badly misclassified points and exactly 0 beyond the margin,
    but its derivative is continuous (the second derivative jumps at :math:`z = 0` and
    :math:`z = 1`). It is the Huber-style smoothing of :math:`\max(0, 1 - z)` and lies between
    :math:`\max(0, 1 - z) - \tfrac12` and :math:`\max(0, 1 - z)`.

    Parameters
    ----------
    scores : array or Tensor
    target : array, same shape, labels in :math:`\{-1, +1\}`
    reduction : {'mean', 'sum', 'none'}

    PyTorch has no such loss; the tests check it against the closed form.

    Raises
    ------
    ValueError
        ``target`` not in {-1, +1} or not of the shape of ``scores``; NaN in ``scores``.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(smoothed_hinge(np.array([2.0, 0.5, -1.0]), np.array([1.0, 1.0, 1.0]))), 10)
    0.5416666667
    """
    return apply_loss(SMOOTHED_HINGE, scores, target, reduction=reduction)


# ------------------------------------------------------------------------------------ multiclass hinge


def _check_multiclass(scores: Any, target: Any, **params: Any) -> None:
    if scores.ndim != 2:
        raise ValueError(f"scores must have shape (N, C), got shape {tuple(scores.shape)}")
    if tuple(target.shape) != (scores.shape[0],):
        raise ValueError(f"target must have shape (N,) = ({scores.shape[0]},) for scores of shape {tuple(scores.shape)}, got {tuple(target.shape)}")
    if "margin" in params:
        _margin_param(params["margin"])
    if params.get("p", 1) not in (1, 2) or isinstance(params.get("p"), bool):
        raise ValueError(f"p must be 1 or 2, got {params.get('p')!r}")
    weight = params.get("weight")
    if weight is not None:
        if not hasattr(weight, "shape") or tuple(weight.shape) != (scores.shape[1],):
            shape = tuple(weight.shape) if hasattr(weight, "shape") else type(weight).__name__
            raise ValueError(f"weight must have one entry per class, shape ({scores.shape[1]},), got {shape}")
        finite("weight", weight)
        in_range("weight", weight, 0.0, None, "non-negative")


def _class_scale(scores: Any, target: Any, weight: Any) -> Any:
    """:math:`w_{y_i} / C` (a constant), in the dtype of the scores; ``1/C`` without weights."""
    classes = scores.shape[1]
    if weight is None:
        return 1.0 / classes
    labels = as_data(target)
    return (as_data(weight)[labels] / classes).astype(scores.dtype)


def _off_target(scores: Any, target: Any) -> Any:
    """Boolean (N, C) mask of the classes j != y_i (a constant)."""
    labels = as_data(target)
    return get_array_module(labels).arange(scores.shape[1]) != labels[:, None]


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
    import numpy as np

    z = margin - np.take_along_axis(scores, target[:, None], axis=1) + scores
    return np.where(np.arange(scores.shape[1]) != target[:, None], np.abs(z), np.inf)


def _multiclass_edges() -> dict[str, Any]:
    import numpy as np

    return {
        "scores of +-1e4": lambda rng: [np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]]), np.array([0, 0])],
        "exactly at the margin, ties": lambda rng: [np.array([[1.5, 0.5, 0.5], [0.0, 0.0, 0.0]]), np.array([0, 2])],
    }


MULTICLASS_HINGE = register(
    LossSpec(
        name="multiclass_hinge",
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
    if weight is not None:
        weight = get_array_module(as_data(scores)).asarray(as_data(weight))
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
    import numpy as np

    others = np.where(np.arange(scores.shape[1]) != target[:, None], scores, -np.inf)
    top2 = -np.sort(-others, axis=1)[:, :2]
    correct = np.take_along_axis(scores, target[:, None], axis=1)[:, 0]
    return np.minimum(np.abs(1.0 + top2[:, 0] - correct), np.abs(top2[:, 0] - top2[:, 1]))


CRAMMER_SINGER_HINGE = register(
    LossSpec(
        name="crammer_singer_hinge",
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


# ------------------------------------------------------------------------------------ exponential


def _exponential_forward(xp: Any, scores: Any, target: Any) -> Any:
    return xp.exp(-_margin(xp, scores, target))


def _exponential_vjp(xp: Any, g: Any, scores: Any, target: Any) -> tuple[Any]:
    return (_chain(xp, target, -g * xp.exp(-_margin(xp, scores, target))),)


def _exponential_edges() -> dict[str, Any]:
    import numpy as np

    # e^{-z} overflows float64 for z < -709.78: the true value is not representable, so the edge
    # cases stop at z = -700 on the wrong side and go to z = 1e4 on the right side
    return {
        "confident scores of 1e4": lambda rng: [np.array([1e4, -1e4, 0.0]), np.array([1.0, -1.0, 1.0])],
        "wrong-side scores of 700": lambda rng: [np.array([-700.0, 700.0]), np.array([1.0, -1.0])],
    }


EXPONENTIAL = register(
    LossSpec(
        name="exponential",
        family="classification",
        args=BINARY,
        forward=_exponential_forward,
        vjp=_exponential_vjp,
        edge_cases=_exponential_edges(),
        stability_exceptions={
            "large scale": "e^{-y f} overflows for margins y f below about -709.78 (float64): the true value is not representable",
        },
        check=_check_binary,
        formula=r"\ell = e^{-y f}, \quad \partial \ell / \partial f = -y\, e^{-y f}",
        reference="Freund & Schapire 1997 (AdaBoost); Friedman, Hastie & Tibshirani 2000",
    )
)


def exponential(scores: Any, target: Any, reduction: str = "mean") -> Any:
    r"""Exponential loss, the loss AdaBoost minimises stagewise.

    .. math::  \ell_i = e^{-y_i f_i}, \qquad \frac{\partial \ell_i}{\partial f_i} = -y_i e^{-y_i f_i}

    Parameters
    ----------
    scores : array or Tensor
    target : array, same shape, labels in :math:`\{-1, +1\}`
    reduction : {'mean', 'sum', 'none'}

    Notes
    -----
    Smooth and convex, but it grows exponentially in the wrong-side margin: one badly
    misclassified (or mislabelled) point dominates the sum, which is why AdaBoost is sensitive
    to label noise. The value overflows to inf for :math:`y f < -709.78` in float64
    (:math:`-88.7` in float32) because the true value is not representable; no rescaling can
    avoid that. Its population minimiser is :math:`f = \tfrac12 \log \frac{P(y=1|x)}{P(y=-1|x)}`,
    half the logit. PyTorch has no exponential loss.

    Raises
    ------
    ValueError
        ``target`` not in {-1, +1} or not of the shape of ``scores``; NaN in ``scores``.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(exponential(np.array([0.0, 1.0]), np.array([1.0, -1.0]))), 10)
    1.8591409142
    """
    return apply_loss(EXPONENTIAL, scores, target, reduction=reduction)


# ------------------------------------------------------------------------------------ logistic


def _logistic_forward(xp: Any, scores: Any, target: Any) -> Any:
    # softplus(x) = max(x, 0) + log1p(e^{-|x|}) never overflows, unlike log(1 + e^{x})
    return xp.softplus(-_margin(xp, scores, target))


def _logistic_vjp(xp: Any, g: Any, scores: Any, target: Any) -> tuple[Any]:
    return (_chain(xp, target, -g * xp.sigmoid(-_margin(xp, scores, target))),)


LOGISTIC = register(
    LossSpec(
        name="logistic",
        family="classification",
        args=BINARY,
        forward=_logistic_forward,
        vjp=_logistic_vjp,
        check=_check_binary,
        edge_cases=_binary_edges(),
        formula=r"\ell = \log(1 + e^{-y f}), \quad \partial \ell / \partial f = -y\, \sigma(-y f)",
        reference="torch.nn.functional.soft_margin_loss; logistic regression",
        torch="soft_margin_loss",
    )
)


def logistic(scores: Any, target: Any, reduction: str = "mean") -> Any:
    r"""Logistic loss in the margin form (binary cross-entropy on logits with :math:`\pm 1` labels).

    .. math::  \ell_i = \log(1 + e^{-y_i f_i}) = \mathrm{softplus}(-y_i f_i), \qquad
               \frac{\partial \ell_i}{\partial f_i} = -y_i\, \sigma(-y_i f_i)

    Parameters
    ----------
    scores : array or Tensor
    target : array, same shape, labels in :math:`\{-1, +1\}`
    reduction : {'mean', 'sum', 'none'}

    Notes
    -----
    Equals ``torch.nn.functional.soft_margin_loss`` (values and gradients), and
    ``binary_cross_entropy_with_logits(f, (y + 1) / 2)``. It is computed as
    :math:`\max(x, 0) + \log(1 + e^{-|x|})`, finite for any finite scores; PyTorch evaluates
    :math:`\log(1 + e^{x})` and returns inf once :math:`-y f` passes about 709 (float64), where
    nploss returns :math:`-y f`. PyTorch's target may be differentiated; here it is a label.

    Raises
    ------
    ValueError
        ``target`` not in {-1, +1} or not of the shape of ``scores``; NaN in ``scores``.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(logistic(np.array([0.0, 2.0]), np.array([1.0, -1.0]))), 10)
    1.4100375958
    """
    return apply_loss(LOGISTIC, scores, target, reduction=reduction)
