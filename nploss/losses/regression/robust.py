r"""Robust errors: Huber, smooth L1, the quantile (pinball) loss and log-cosh.

Losses of the error that grow linearly (or, for log-cosh, asymptotically linearly) far from
0, so that outliers pull with a bounded force. The error is :math:`e = \hat{y} - y` except in
:func:`quantile`, which follows scikit-learn's pinball loss with :math:`e = y - \hat{y}`; the
target's gradient is the negative of the prediction's. Each loss is one block: the reference
``_x_forward`` and ``_x_vjp``, its kinks, its fast path where it has one, the registry entry,
then the public function.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._apply import apply_loss
from .._fast import collapse
from .._params import real
from .._spec import FastPath, LossSpec, Tie, register
from ._common import PAIR, _abs_error_kinks, _check_pair, _pair_edges
from .errors import _mae_forward, _mae_vjp

# ------------------------------------------------------------------------------------ Huber


def _huber_forward(xp: Any, prediction: Any, target: Any, *, delta: float) -> Any:
    e = prediction - target
    a = xp.abs(e)
    # quadratic inside the band, linear outside: the pieces meet with equal value and slope
    return xp.where(a <= delta, 0.5 * e * e, delta * (a - 0.5 * delta))


def _huber_vjp(xp: Any, g: Any, prediction: Any, target: Any, *, delta: float) -> tuple[Any, Any]:
    grad = g * xp.clip(prediction - target, -delta, delta)  # e inside the band, +-delta outside
    return grad, -grad


def _huber_kinks(prediction: Any, target: Any, *, delta: float) -> Any:
    return np.abs(np.abs(prediction - target) - delta)


# Fast path: one branch instead of two. With the signed m = clip(e, -delta, delta), both pieces
# are m (e - m/2): e^2/2 inside the band, delta (|e| - delta/2) outside. Written (-m/2 + e) m,
# NumPy reuses each temporary for the next operation (one input-sized array fewer).
def _huber_forward_fast(xp: Any, prediction: Any, target: Any, *, delta: float, save: bool) -> tuple[Any, None]:
    e = prediction - target
    m = xp.clip(e, -delta, delta)
    return (-0.5 * m + e) * m, None


def _huber_vjp_fast(xp: Any, g: Any, prediction: Any, target: Any, *, delta: float, saved: None) -> tuple[Any, Any]:
    grad = xp.clip(prediction - target, -delta, delta) * collapse(g)
    return grad, -grad


HUBER_FAST = FastPath(
    forward=_huber_forward_fast,
    vjp=_huber_vjp_fast,
    rowwise=True,
    how="both branches as one product m (e - m/2), m = clip(e, -delta, delta); g folded into one number; row blocks on threads",
)


HUBER = register(
    LossSpec(
        name="huber",
        ties={
            "delta=2, |e| exactly delta, inside and beyond": Tie(
                inputs=lambda: [np.array([2.0, -2.0, 1.0, 6.0]), np.array([0.0, 0.0, 0.0, 0.0])],
                subgradient="the two pieces meet with the value delta^2/2 and the slope +-delta",
                expected=lambda prediction, target, **p: [np.array([2.0, -2.0, 1.0, 2.0]), np.array([-2.0, 2.0, -1.0, -2.0])],
                value=lambda prediction, target, **p: 2.0 + 2.0 + 0.5 + 2.0 * (6.0 - 1.0),
                params={"delta": 2.0},
            )
        },
        family="regression",
        args=PAIR,
        forward=_huber_forward,
        vjp=_huber_vjp,
        fast=HUBER_FAST,
        params={"delta": 1.0},
        check=_check_pair,
        kinks=_huber_kinks,
        edge_cases=_pair_edges(),
        formula=r"\ell = \begin{cases} \tfrac12 e^2 & |e| \le \delta \\ \delta(|e| - \tfrac12\delta) & \text{otherwise} \end{cases}",
        reference="Huber 1964; torch.nn.functional.huber_loss",
        torch="huber_loss",
    )
)


def huber(prediction: Any, target: Any, delta: float = 1.0, reduction: str = "mean") -> Any:
    r"""Huber loss: quadratic for small errors, linear for large ones.

    .. math::  \ell_i = \begin{cases} \tfrac12 e_i^2 & |e_i| \le \delta \\
               \delta (|e_i| - \tfrac12 \delta) & \text{otherwise} \end{cases}, \qquad
               \frac{\partial \ell_i}{\partial \hat{y}_i} = \mathrm{clip}(e_i, -\delta, \delta)

    with :math:`e = \hat{y} - y`. Matches ``torch.nn.functional.huber_loss``; it equals
    ``delta * smooth_l1(beta=delta)``. Differentiable everywhere (the pieces meet with equal
    slope at :math:`|e| = \delta`), but its second derivative jumps there.

    Examples
    --------
    >>> import numpy as np
    >>> float(huber(np.array([0.5, 3.0]), np.array([0.0, 0.0])))
    1.3125
    """
    delta = real("delta", delta, low=0, low_open=True)
    return apply_loss(HUBER, prediction, target, reduction=reduction, delta=delta)


# ------------------------------------------------------------------------------------ Smooth L1


def _smooth_l1_forward(xp: Any, prediction: Any, target: Any, *, beta: float) -> Any:
    if beta == 0:  # the quadratic band vanishes; PyTorch calls l1_loss (and 0.5 e^2 / 0 is NaN)
        return _mae_forward(xp, prediction, target)
    e = prediction - target
    a = xp.abs(e)
    return xp.where(a < beta, (0.5 / beta) * e * e, a - 0.5 * beta)


def _smooth_l1_vjp(xp: Any, g: Any, prediction: Any, target: Any, *, beta: float) -> tuple[Any, Any]:
    if beta == 0:
        return _mae_vjp(xp, g, prediction, target)
    grad = g * xp.clip((prediction - target) * (1.0 / beta), -1.0, 1.0)  # e / beta inside, +-1 outside
    return grad, -grad


def _smooth_l1_kinks(prediction: Any, target: Any, *, beta: float) -> Any:
    return np.abs(np.abs(prediction - target) - beta)  # beta = 0: the kink of |e| at 0


SMOOTH_L1 = register(
    LossSpec(
        name="smooth_l1",
        ties={
            "beta=0, an error of exactly 0": Tie(
                inputs=lambda: [np.array([0.0, 1.0]), np.array([0.0, 0.0])],
                subgradient="beta = 0 is the absolute error: sign(0) = 0",
                expected=lambda prediction, target, **p: [np.array([0.0, 1.0]), np.array([0.0, -1.0])],
                params={"beta": 0.0},
                value=lambda prediction, target, **p: 1.0,
            ),
            "beta=2, |e| exactly beta, and beyond": Tie(
                inputs=lambda: [np.array([2.0, -2.0, 5.0]), np.array([0.0, 0.0, 0.0])],
                subgradient="the two pieces meet with the value beta/2 and the slope +-1",
                expected=lambda prediction, target, **p: [np.array([1.0, -1.0, 1.0]), np.array([-1.0, 1.0, -1.0])],
                value=lambda prediction, target, **p: 1.0 + 1.0 + (5.0 - 1.0),
                params={"beta": 2.0},
            ),
        },
        family="regression",
        args=PAIR,
        forward=_smooth_l1_forward,
        vjp=_smooth_l1_vjp,
        fast=FastPath.row_blocks(_smooth_l1_forward, _smooth_l1_vjp),
        params={"beta": 1.0},
        check=_check_pair,
        kinks=_smooth_l1_kinks,
        edge_cases=_pair_edges(),
        formula=r"\ell = \begin{cases} \tfrac12 e^2 / \beta & |e| < \beta \\ |e| - \tfrac12\beta & \text{otherwise} "
        r"\end{cases}",
        reference="Girshick 2015 (Fast R-CNN); torch.nn.functional.smooth_l1_loss",
        torch="smooth_l1_loss",
    )
)


def smooth_l1(prediction: Any, target: Any, beta: float = 1.0, reduction: str = "mean") -> Any:
    r"""Smooth L1 loss: Huber rescaled so that its linear part has slope 1.

    .. math::  \ell_i = \begin{cases} \tfrac12 e_i^2 / \beta & |e_i| < \beta \\
               |e_i| - \tfrac12 \beta & \text{otherwise} \end{cases}, \qquad
               \frac{\partial \ell_i}{\partial \hat{y}_i} = \mathrm{clip}(e_i / \beta, -1, 1)

    with :math:`e = \hat{y} - y`. ``huber(delta=b) == b * smooth_l1(beta=b)``. As ``beta``
    goes to 0 the quadratic band vanishes: ``beta=0`` is exactly :func:`mae` (gradient 0 at
    :math:`e = 0`), as in PyTorch.

    Parameters
    ----------
    prediction, target : array or Tensor, same shape (no silent broadcasting)
    beta : float, non-negative
        Half-width of the quadratic band.
    reduction : {'mean', 'sum', 'none'}

    Matches ``torch.nn.functional.smooth_l1_loss``.

    Raises
    ------
    ValueError
        ``beta < 0`` (PyTorch refuses it too), shapes that differ, NaN inputs, an unknown
        reduction.

    Examples
    --------
    >>> import numpy as np
    >>> float(smooth_l1(np.array([0.5, 3.0]), np.array([0.0, 0.0])))  # (0.125 + 2.5) / 2
    1.3125
    """
    beta = real("beta", beta, low=0)
    return apply_loss(SMOOTH_L1, prediction, target, reduction=reduction, beta=beta)


# ------------------------------------------------------------------------------------ Quantile (pinball)


def _quantile_forward(xp: Any, prediction: Any, target: Any, *, tau: float) -> Any:
    e = target - prediction  # positive when the prediction is too low
    return xp.maximum(tau * e, (tau - 1.0) * e)


def _quantile_vjp(xp: Any, g: Any, prediction: Any, target: Any, *, tau: float) -> tuple[Any, Any]:
    # d loss / d e: tau above, tau - 1 below, and at e = 0 the middle tau - 1/2 of the
    # subdifferential [tau - 1, tau] (what maximum's even split at a tie gives)
    slope = (tau - 0.5) + 0.5 * xp.sign(target - prediction)
    grad = g * slope
    return -grad, grad


QUANTILE = register(
    LossSpec(
        name="quantile",
        ties={
            "tau=0.3, an error of exactly 0": Tie(
                inputs=lambda: [np.array([1.0]), np.array([1.0])],
                subgradient="tau - 1/2, the middle of the subdifferential [tau - 1, tau]",
                expected=lambda prediction, target, **p: [np.array([0.2]), np.array([-0.2])],
                params={"tau": 0.3},
                value=lambda prediction, target, **p: 0.0,
            )
        },
        family="regression",
        args=PAIR,
        forward=_quantile_forward,
        vjp=_quantile_vjp,
        params={"tau": 0.5},
        check=_check_pair,
        kinks=_abs_error_kinks,
        edge_cases=_pair_edges(),
        formula=r"\ell = \max(\tau e, (\tau - 1) e), \quad e = y - \hat{y}",
        reference="Koenker & Bassett 1978; sklearn.metrics.mean_pinball_loss",
    )
)


def quantile(prediction: Any, target: Any, tau: float = 0.5, reduction: str = "mean") -> Any:
    r"""Quantile (pinball) loss: its minimiser is the :math:`\tau`-quantile of the target.

    .. math::  \ell_i = \max(\tau e_i, (\tau - 1) e_i), \quad e_i = y_i - \hat{y}_i, \qquad
               \frac{\partial \ell_i}{\partial \hat{y}_i} = \begin{cases} -\tau & e_i > 0 \\
               1 - \tau & e_i < 0 \\ \tfrac12 - \tau & e_i = 0 \end{cases}

    Note the sign: here :math:`e = y - \hat{y}` (scikit-learn's convention), so under-predicting
    costs :math:`\tau` per unit and over-predicting :math:`1 - \tau`. At :math:`e = 0` the
    gradient is the middle of the subdifferential, so ``tau=0.5`` gives exactly ``mae / 2``
    with its gradient 0 at 0.

    Parameters
    ----------
    prediction, target : array or Tensor, same shape (no silent broadcasting)
    tau : float in [0, 1]
        The quantile (scikit-learn's ``alpha``).
    reduction : {'mean', 'sum', 'none'}

    PyTorch has no pinball loss. ``'mean'`` equals ``sklearn.metrics.mean_pinball_loss(target,
    prediction, alpha=tau)`` (for 2-D inputs, its default average over outputs is the same
    mean over every element).

    Raises
    ------
    ValueError
        ``tau`` outside [0, 1], shapes that differ, NaN inputs, an unknown reduction.

    Examples
    --------
    >>> import numpy as np
    >>> float(quantile(np.array([0.0, 0.0]), np.array([1.0, -1.0]), tau=0.9))  # (0.9 + 0.1) / 2
    0.5
    """
    tau = real("tau", tau, low=0, high=1)
    return apply_loss(QUANTILE, prediction, target, reduction=reduction, tau=tau)


# ------------------------------------------------------------------------------------ Log-cosh

_LOG2 = math.log(2.0)


def _log_cosh_forward(xp: Any, prediction: Any, target: Any) -> Any:
    e = prediction - target
    a = xp.abs(e)
    near = a < 1.0
    # Keras's form |e| + log(1 + e^{-2|e|}) - log 2 cannot overflow, but for small e it is the
    # difference of two numbers close to log 2 and loses every digit of e^2/2 (0 instead of
    # 5e-21 at e = 1e-10; negative values from round-off). There log cosh e = -log(1 - tanh^2 e)/2
    # is accurate; it fails only for large e, where 1 - tanh^2 e loses its digits.
    t = xp.tanh(e)
    # Both forms are a log1p: the argument is chosen first (-tanh^2 e near 0, e^{-2|e|} beyond)
    # and the log1p taken once, so that neither form is evaluated where it fails. Two log1p's
    # picked by a where afterwards would compute log1p(-tanh^2 e) = log 0 = -inf wherever tanh e
    # rounds to 1; the where hides that value, but not its derivative: the composite gradient
    # would get 0 * inf = NaN in those lanes.
    log1p = xp.log1p(xp.where(near, -(t * t), xp.exp(-2.0 * a)))
    return xp.where(near, -0.5 * log1p, a + log1p - _LOG2)


def _log_cosh_vjp(xp: Any, g: Any, prediction: Any, target: Any) -> tuple[Any, Any]:
    grad = g * xp.tanh(prediction - target)  # d log cosh e / de = sinh e / cosh e
    return grad, -grad


LOG_COSH = register(
    LossSpec(
        name="log_cosh",
        ties={
            "errors at the switch of its two forms (|e| = 1) and on both sides": Tie(
                inputs=lambda: [np.array([1.0, -1.0, 0.5, 2.0]), np.zeros(4)],
                subgradient="smooth: tanh e (no kink; the value is where a wrong form would show)",
                expected=lambda prediction, target, **p: [np.tanh(prediction), -np.tanh(prediction)],
                value=lambda prediction, target, **p: float(np.sum(np.log(np.cosh(prediction)))),
            )
        },
        family="regression",
        args=PAIR,
        forward=_log_cosh_forward,
        vjp=_log_cosh_vjp,
        fast=FastPath.row_blocks(_log_cosh_forward, _log_cosh_vjp),
        check=_check_pair,
        edge_cases={
            **_pair_edges(),
            "errors near 0 and 1": lambda rng: [np.array([1e-10, -1e-5, 1.0, -1.0, 1.0 - 1e-12]), np.zeros(5)],
        },
        formula=r"\ell = \log\cosh(\hat{y} - y), \quad \partial \ell / \partial \hat{y} = \tanh(\hat{y} - y)",
        reference="Keras log_cosh",
    )
)


def log_cosh(prediction: Any, target: Any, reduction: str = "mean") -> Any:
    r"""Log-cosh loss: :math:`\tfrac12 e^2` for small errors, :math:`|e| - \log 2` for large ones.

    .. math::  \ell_i = \log\cosh(e_i), \quad e = \hat{y} - y, \qquad
               \frac{\partial \ell_i}{\partial \hat{y}_i} = \tanh(e_i)

    Computed as :math:`|e| + \log(1 + e^{-2|e|}) - \log 2` (Keras ``log_cosh``, no overflow)
    for :math:`|e| \ge 1`, and as :math:`-\tfrac12 \log(1 - \tanh^2 e)` below, where Keras's
    form cancels to nothing: the value keeps its relative precision down to the smallest
    errors and is never negative. Smooth everywhere, with a bounded gradient like Huber's.

    Parameters
    ----------
    prediction, target : array or Tensor, same shape (no silent broadcasting)
    reduction : {'mean', 'sum', 'none'}

    PyTorch has none. ``'mean'`` equals Keras ``log_cosh(y_true, y_pred)`` averaged over the
    batch (Keras takes the mean over the last axis, then over samples: the same mean).

    Raises
    ------
    ValueError
        Shapes that differ, NaN inputs, an unknown reduction.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(log_cosh(np.array([1.0]), np.array([0.0]))), 12)  # log((e + 1/e) / 2)
    0.433780830483
    """
    return apply_loss(LOG_COSH, prediction, target, reduction=reduction)
