r"""Focal losses (Lin et al. 2017): cross entropy scaled by :math:`(1 - p_t)^\gamma`, which
down-weights the examples the model already gets right.

:func:`sigmoid_focal` is the binary (per-element) form on logits, as torchvision's;
:func:`softmax_focal` the multi-class form on logits with the classes on axis 1 and integer
labels. Targets and ``alpha`` are constants. The gradients are the cross-entropy gradient
(:math:`\sigma(z) - y`, resp. :math:`\mathrm{softmax}(z) - e_y`) times a focal factor, written so
that nothing overflows as :math:`1 - p_t \to 0`.

Each loss is one block: the reference ``_x_forward`` and ``_x_vjp``, its checks, the registry
entry, then the public function.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._apply import apply_loss
from .._params import real
from .._shared import constant, focal_power, one_hot
from .._spec import Arg, LossSpec, Tie, elementwise, register, weights_per_class
from .._validate import class_weights, same_shape
from ._common import _along_classes, _check_class_axis, _logit_edges
from .cross_entropy import softmax_xent_vjp

# ------------------------------------------------------------------------------------ sigmoid focal


def _sigmoid_focal_parts(xp: Any, logits: Any, y: Any) -> tuple[Any, Any]:
    r"""The cross entropy :math:`-\log p_t` and :math:`m = 1 - p_t`, both without cancellation:
    :math:`1 - p_t = y (1 - \sigma(z)) + (1 - y) \sigma(z) = y \sigma(-z) + (1 - y) \sigma(z)`
    keeps its relative precision where :math:`\sigma(z)` rounds to 1."""
    ce = y * xp.softplus(-logits) + (1.0 - y) * xp.softplus(logits)
    m = y * xp.sigmoid(-logits) + (1.0 - y) * xp.sigmoid(logits)
    return ce, m


def _alpha_t(y: Any, alpha: float) -> Any:
    return 1.0 if alpha < 0 else alpha * y + (1.0 - alpha) * (1.0 - y)


def _sigmoid_focal_forward(xp: Any, logits: Any, target: Any, *, alpha: float, gamma: float) -> Any:
    y = xp.as_data(target)
    ce, m = _sigmoid_focal_parts(xp, logits, y)
    return _alpha_t(y, alpha) * (focal_power(xp, m, gamma) * ce)


def _sigmoid_focal_vjp(xp: Any, g: Any, logits: Any, target: Any, *, alpha: float, gamma: float) -> tuple[Any]:
    y = xp.as_data(target)
    ce, m = _sigmoid_focal_parts(xp, logits, y)
    s, s_neg = xp.sigmoid(logits), xp.sigmoid(-logits)
    # d(m^gamma ce)/dz = m^gamma (gamma (dm/dz)/m ce + dce/dz), with dce/dz = sigma(z) - y and
    # dm/dz = (1 - 2y) sigma(z) sigma(-z). The ratio (dm/dz)/m lies in [-1, 1] (so no m^(gamma-1)
    # that overflows as m -> 0); m is 0 only where a sigmoid underflows, and there dm/dz is 0 too.
    positive = m > 0.0
    dlog_m = xp.where(positive, (1.0 - 2.0 * y) * s * s_neg / xp.where(positive, m, 1.0), 0.0)
    return (g * _alpha_t(y, alpha) * focal_power(xp, m, gamma) * (gamma * dlog_m * ce + (s - y)),)


def _check_focal_target(logits: Any, target: Any, *, alpha: Any, gamma: Any) -> None:
    same_shape("logits", logits, "target", target)
    real("alpha", alpha, high=1.0, finite=False)  # -inf too: any negative alpha means no weighting
    real("gamma", gamma, low=0.0)


SIGMOID_FOCAL = register(
    LossSpec(
        name="sigmoid_focal",
        unreduced=elementwise,
        family="classification",
        args=(Arg("logits", "logits", ("N", "C")), Arg("target", "binary", ("N", "C"), differentiable=False)),
        forward=_sigmoid_focal_forward,
        vjp=_sigmoid_focal_vjp,
        params={"alpha": 0.25, "gamma": 2.0},
        check=_check_focal_target,
        edge_cases={
            "logits of +-1e4": lambda rng: [
                np.array([1e4, -1e4, 1e4, -1e4, 0.0, 800.0]),
                np.array([1.0, 0.0, 0.0, 1.0, 0.5, 1.0]),
            ],
        },
        formula=r"\ell = -\alpha_t (1 - p_t)^\gamma \log p_t,\ p_t = y\sigma(z) + (1-y)(1-\sigma(z)),\ "
        r"\alpha_t = \alpha y + (1-\alpha)(1-y) \ (y \in \{0, 1\}; \text{ soft } y: "
        r"-\log p_t \to \mathrm{BCE}(z, y))",
        reference="Lin et al. 2017; torchvision.ops.sigmoid_focal_loss",
    )
)


def sigmoid_focal(logits: Any, target: Any, alpha: float = 0.25, gamma: float = 2.0, reduction: str = "mean") -> Any:
    r"""Sigmoid focal loss (Lin et al. 2017): binary cross entropy down-weighted on easy examples.

    .. math::  \ell_i = -\alpha_t (1 - p_t)^\gamma \log p_t, \qquad
               p_t = y\,\sigma(z) + (1 - y)(1 - \sigma(z)), \qquad
               \alpha_t = \alpha y + (1 - \alpha)(1 - y)

    for 0/1 targets. For soft targets :math:`y \in (0, 1)` the code, as torchvision, keeps
    :math:`1 - p_t` but replaces :math:`-\log p_t` by the binary cross entropy with logits
    :math:`\mathrm{BCE}(z, y) = -y \log\sigma(z) - (1 - y)\log(1 - \sigma(z))`, which equals
    :math:`-\log p_t` only for :math:`y \in \{0, 1\}` (the defaults at :math:`z = 0.7`,
    :math:`y = 0.3`: 0.1725, against 0.1617 with :math:`-\log p_t`). With :math:`m = 1 - p_t`
    and :math:`\mathrm{ce}` that cross entropy (:math:`-\log p_t` for 0/1 targets),

    .. math::  \frac{\partial \ell}{\partial z} = \alpha_t\, m^\gamma \left( \gamma\, \frac{\partial_z m}{m}\, \mathrm{ce}
               + \sigma(z) - y \right), \qquad \partial_z m = (1 - 2y)\, \sigma(z)\, \sigma(-z)

    Stable for any logits: :math:`\log p_t` comes from softplus (never ``log(sigmoid)``) and
    :math:`1 - p_t = y \sigma(-z) + (1 - y) \sigma(z)` keeps its precision where
    :math:`\sigma(z)` rounds to 1.

    Parameters
    ----------
    logits : array or Tensor, any shape
    target : array, shape of ``logits``
        Targets in [0, 1], usually 0/1 (a constant: not differentiated).
    alpha : float <= 1
        Weight of the positive class (:math:`1 - \alpha` for the negative); a negative value
        disables the weighting (:math:`\alpha_t = 1`), as in torchvision.
    gamma : float >= 0
        Focusing parameter; ``gamma=0`` and ``alpha=-1`` give
        :func:`binary_cross_entropy_with_logits`.
    reduction : {'mean', 'sum', 'none'}
        **Default 'mean'**, as every nploss loss, where ``torchvision.ops.sigmoid_focal_loss``
        defaults to ``'none'``. The mean is over all elements (Detectron-style training divides
        the sum by the number of positive anchors instead: use ``'sum'`` and divide).

    Matches ``torchvision.ops.sigmoid_focal_loss`` (values and gradients with respect to the
    logits) with the same ``reduction``. PyTorch itself has no focal loss.

    Raises
    ------
    ValueError
        If the shapes differ, a target lies outside [0, 1], ``alpha > 1`` or ``gamma < 0``.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(sigmoid_focal(np.array([2.0, -1.0]), np.array([1.0, 1.0]), reduction="sum")), 6)
    0.175918
    """
    return apply_loss(SIGMOID_FOCAL, logits, target, reduction=reduction, alpha=alpha, gamma=gamma)


# ------------------------------------------------------------------------------------ softmax focal


def _softmax_focal_parts(xp: Any, logits: Any, labels: Any, alpha: Any) -> tuple[Any, Any, Any, Any]:
    """One-hot y, log p_y, m = 1 - p_y (as the sum of the other classes' probabilities: no
    cancellation when p_y is near 1) and alpha_y (a constant, or 1)."""
    hot = one_hot(labels, logits.shape[1], 1, logits.dtype)
    log_p = xp.log_softmax(logits, axis=1)
    log_p_y = xp.sum(hot * log_p, axis=1)
    m = xp.sum((1.0 - hot) * xp.exp(log_p), axis=1)
    alpha_y = 1.0 if alpha is None else (hot * _along_classes(alpha.astype(logits.dtype), logits.ndim)).sum(axis=1)
    return hot, log_p_y, m, alpha_y


def _softmax_focal_forward(xp: Any, logits: Any, target: Any, *, gamma: float, alpha: Any) -> Any:
    _, log_p_y, m, alpha_y = _softmax_focal_parts(xp, logits, xp.as_data(target), alpha)
    return -alpha_y * (focal_power(xp, m, gamma) * log_p_y)


def _softmax_focal_vjp(xp: Any, g: Any, logits: Any, target: Any, *, gamma: float, alpha: Any) -> tuple[Any]:
    labels = xp.as_data(target)
    _, log_p_y, m, alpha_y = _softmax_focal_parts(xp, logits, labels, alpha)
    # dl/dz = alpha_y (softmax(z) - onehot) m^gamma (1 - gamma p_y log(p_y) / m): the focal factor
    # times the cross-entropy gradient. p_y log(p_y) / m lies in [-1, 0] (-> -1 as m -> 0).
    positive = m > 0.0
    ratio = xp.where(positive, xp.exp(log_p_y) * log_p_y / xp.where(positive, m, 1.0), 0.0)
    factor = alpha_y * focal_power(xp, m, gamma) * (1.0 - gamma * ratio)
    return (softmax_xent_vjp(xp, g * factor, logits, labels),)


def _check_softmax_focal(logits: Any, target: Any, *, gamma: Any, alpha: Any) -> None:
    _check_class_axis("logits", logits, "target", target)
    real("gamma", gamma, low=0.0)
    class_weights("alpha", alpha, logits.shape[1])


SOFTMAX_FOCAL = register(
    LossSpec(
        name="softmax_focal",
        grid={"alpha": (None, weights_per_class())},
        ties={
            "p_y of exactly 1": Tie(
                inputs=lambda: [np.array([[0.0, -1000.0]]), np.array([0])],
                subgradient="0: m = 0 takes the guarded branch of the ratio p_y log(p_y) / m (no 0/0)",
                expected=lambda logits, target, **p: [np.zeros((1, 2))],
                value=lambda logits, target, **p: 0.0,
            )
        },
        family="classification",
        args=(Arg("logits", "logits", ("N", "C")), Arg("target", "label", ("N",), differentiable=False)),
        forward=_softmax_focal_forward,
        vjp=_softmax_focal_vjp,
        params={"gamma": 2.0, "alpha": None},
        check=_check_softmax_focal,
        classes_from="logits",
        edge_cases=_logit_edges(),
        formula=r"\ell = -\alpha_y (1 - p_y)^\gamma \log p_y,\ p = \mathrm{softmax}(z), \quad "
        r"\partial \ell / \partial z = \alpha_y (1 - p_y)^\gamma \big(1 - \gamma \tfrac{p_y \log p_y}{1 - p_y}\big) (p - \mathrm{onehot}(y))",
        reference="Lin et al. 2017, eq. 4-5 (the multi-class form: p_t the softmax probability of the true class)",
    )
)


def softmax_focal(logits: Any, target: Any, gamma: float = 2.0, alpha: Any = None, reduction: str = "mean") -> Any:
    r"""Multi-class (softmax) focal loss: cross entropy scaled by :math:`(1 - p_y)^\gamma`.

    .. math::  \ell_i = -\alpha_{y_i} (1 - p_{i y_i})^\gamma \log p_{i y_i}, \qquad
               p_i = \mathrm{softmax}(z_i)

    .. math::  \frac{\partial \ell_i}{\partial z_i} = \alpha_{y_i}\, m_i^\gamma
               \Big( 1 - \gamma\, \frac{p_{i y_i} \log p_{i y_i}}{m_i} \Big)
               \big( p_i - \mathrm{onehot}(y_i) \big), \qquad m_i = 1 - p_{i y_i}

    the cross-entropy gradient :math:`p - \mathrm{onehot}(y)` times a focal factor. With
    ``gamma=0`` and ``alpha=None`` it is exactly :func:`cross_entropy`. :math:`1 - p_y` is
    computed as the sum of the other classes' probabilities, so it keeps its precision when the
    model is confident.

    Parameters
    ----------
    logits : array or Tensor, shape (N, C) or (N, C, d1, ...)
    target : array of integers, shape (N,) or (N, d1, ...)
        Labels in [0, C) (a constant).
    gamma : float >= 0
        Focusing parameter (Lin et al. use 2).
    alpha : array, optional
        Non-negative per-class weights :math:`\alpha_c`, shape (C,); None means 1 for every
        class.
    reduction : {'mean', 'sum', 'none'}
        ``'mean'`` is the plain mean over samples (:math:`\alpha` is part of each sample's loss,
        not a normaliser): with ``gamma=0``, ``'sum'`` and ``'none'`` equal
        ``cross_entropy(weight=alpha)``, but ``'mean'`` does not divide by
        :math:`\sum \alpha_{y_i}` as PyTorch's weighted cross entropy does.

    Lin et al.'s focal loss without :math:`\alpha`, :math:`-(1 - p_t)^\gamma \log p_t` (2017,
    eq. 4, with :math:`p_t` the true class's probability), is the ``alpha=None`` case; eq. 5
    adds the :math:`\alpha_t`. PyTorch has no focal loss; kornia's
    ``focal_loss`` uses a scalar :math:`\alpha` (1 - α for class 0) and averages over classes.

    Raises
    ------
    ValueError
        If the shapes do not fit, a label is out of range, ``gamma < 0`` or ``alpha`` is not a
        non-negative vector of length C.

    Examples
    --------
    >>> import numpy as np
    >>> from nploss.losses import cross_entropy
    >>> z = np.array([[2.0, 0.0, -1.0]])
    >>> round(float(softmax_focal(z, np.array([0]))), 6)
    0.004144
    >>> bool(softmax_focal(z, np.array([0]), gamma=0.0) == cross_entropy(z, np.array([0])))
    True
    """
    alpha = constant(alpha, logits)
    return apply_loss(SOFTMAX_FOCAL, logits, target, reduction=reduction, gamma=gamma, alpha=alpha)
