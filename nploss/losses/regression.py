r"""Regression losses: the error between a prediction and a real target.

Each loss is one block: the formula and its derivative in the docstring, ``_x_forward`` and
``_x_vjp`` right below, the registry entry, then the public function. Argument order is
``(prediction, target)``, as in PyTorch. The error is :math:`e = \hat{y} - y` except in
:func:`quantile`, which follows scikit-learn's pinball loss with :math:`e = y - \hat{y}`.

Every input is differentiable, targets included, as in PyTorch: for the losses of an error the
target's gradient is the negative of the prediction's; for :func:`poisson_nll` and
:func:`tweedie` it is the derivative with respect to the (real-valued) count; for
:func:`gaussian_nll` the variance is an input too.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from ._apply import apply_loss, collapse
from ._spec import Arg, LossSpec, register
from ._validate import same_shape

__all__ = ["mse", "mae", "rmse", "huber", "smooth_l1", "quantile", "log_cosh", "poisson_nll", "gaussian_nll", "tweedie"]

PAIR = (Arg("prediction", "real"), Arg("target", "real"))


def _pair_edges() -> dict[str, Any]:
    """Edge cases shared by the losses of an error: exactly zero, and huge."""
    import numpy as np

    return {
        "zero error": lambda rng: [np.full(4, 0.3), np.full(4, 0.3)],
        "errors of 1e4": lambda rng: [np.array([1e4, -1e4, 0.5, 0.0]), np.zeros(4)],
    }


def _check_pair(prediction: Any, target: Any, **_: Any) -> None:
    same_shape("prediction", prediction, "target", target)


def _number(name: str, value: Any, expected: str, ok: Callable[[float], bool]) -> float:
    """A scalar parameter as a float, refused (naming it) unless a real number with ``ok``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    if not ok(float(value)):  # written so that NaN fails too
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return float(value)


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


# ------------------------------------------------------------------------------------ MSE


def _mse_forward(xp: Any, prediction: Any, target: Any) -> Any:
    e = prediction - target
    return e * e


def _mse_vjp(xp: Any, g: Any, prediction: Any, target: Any) -> tuple[Any, Any]:
    grad = (prediction - target) * (2.0 * collapse(g))  # d e^2 / d prediction = 2e
    return grad, -grad


MSE = register(
    LossSpec(
        name="mse",
        rowwise=True,
        family="regression",
        args=PAIR,
        forward=_mse_forward,
        vjp=_mse_vjp,
        check=_check_pair,
        edge_cases=_pair_edges(),
        formula=r"\ell = (\hat{y} - y)^2, \quad \partial \ell / \partial \hat{y} = 2(\hat{y} - y)",
        reference="torch.nn.functional.mse_loss",
        torch="mse_loss",
    )
)


def mse(prediction: Any, target: Any, reduction: str = "mean") -> Any:
    r"""Mean squared error.

    .. math::  \ell_i = (\hat{y}_i - y_i)^2, \qquad
               \frac{\partial \ell_i}{\partial \hat{y}_i} = 2 (\hat{y}_i - y_i)

    Parameters
    ----------
    prediction, target : array or Tensor, same shape (no silent broadcasting)
    reduction : {'mean', 'sum', 'none'}

    Matches ``torch.nn.functional.mse_loss``.

    Examples
    --------
    >>> import numpy as np
    >>> float(mse(np.array([1.0, 2.0]), np.array([0.0, 0.0])))
    2.5
    """
    return apply_loss(MSE, prediction, target, reduction=reduction)


# ------------------------------------------------------------------------------------ MAE


def _mae_forward(xp: Any, prediction: Any, target: Any) -> Any:
    return xp.abs(prediction - target)


def _mae_vjp(xp: Any, g: Any, prediction: Any, target: Any) -> tuple[Any, Any]:
    grad = g * xp.sign(prediction - target)  # sign(0) = 0: the subgradient PyTorch's l1_loss takes
    return grad, -grad


def _abs_error_kinks(prediction: Any, target: Any, **_: Any) -> Any:
    return np.abs(prediction - target)


MAE = register(
    LossSpec(
        name="mae",
        rowwise=True,
        family="regression",
        args=PAIR,
        forward=_mae_forward,
        vjp=_mae_vjp,
        check=_check_pair,
        kinks=_abs_error_kinks,
        edge_cases=_pair_edges(),
        formula=r"\ell = |\hat{y} - y|, \quad \partial \ell / \partial \hat{y} = \mathrm{sign}(\hat{y} - y)",
        reference="torch.nn.functional.l1_loss",
        torch="l1_loss",
    )
)


def mae(prediction: Any, target: Any, reduction: str = "mean") -> Any:
    r"""Mean absolute error (L1 loss).

    .. math::  \ell_i = |\hat{y}_i - y_i|, \qquad
               \frac{\partial \ell_i}{\partial \hat{y}_i} = \mathrm{sign}(\hat{y}_i - y_i)

    :math:`|e|` has no derivative at :math:`e = 0`; the gradient there is 0 (the middle of the
    subdifferential :math:`[-1, 1]`), as in PyTorch.

    Parameters
    ----------
    prediction, target : array or Tensor, same shape (no silent broadcasting)
    reduction : {'mean', 'sum', 'none'}

    Matches ``torch.nn.functional.l1_loss``.

    Raises
    ------
    ValueError
        Shapes that differ, NaN or infinite inputs, an unknown reduction.

    Examples
    --------
    >>> import numpy as np
    >>> float(mae(np.array([1.0, -2.0, 0.5]), np.array([0.0, 0.0, 0.5])))
    1.0
    """
    return apply_loss(MAE, prediction, target, reduction=reduction)


# ------------------------------------------------------------------------------------ RMSE


def _sum_of_squares(xp: Any, e: Any, reduction: str) -> Any:
    """The squared error reduced as asked: the quantity under the root."""
    square = e * e
    if reduction == "none":
        return square
    total = xp.sum(square)
    return total if reduction == "sum" else total * (1.0 / max(e.size, 1))


def _rmse_forward(xp: Any, prediction: Any, target: Any, *, eps: float, reduction: str) -> Any:
    return xp.sqrt(_sum_of_squares(xp, prediction - target, reduction))


def _rmse_vjp(xp: Any, g: Any, prediction: Any, target: Any, *, eps: float, reduction: str) -> tuple[Any, Any]:
    e = prediction - target
    m = _sum_of_squares(xp, e, reduction)
    w = 1.0 / max(e.size, 1) if reduction == "mean" else 1.0
    # d sqrt(m) / d e_i = w e_i / sqrt(m); max(m, eps^2) keeps the denominator >= eps, so a
    # perfect prediction (m = 0, e = 0) gets the gradient 0 instead of 0/0
    grad = g * w * e / xp.sqrt(xp.maximum(m, eps * eps))
    return grad, -grad


def _rmse_composite(xp: Any, prediction: Any, target: Any, *, eps: float, reduction: str) -> Any:
    m = _sum_of_squares(xp, prediction - target, reduction)
    # The root continued below eps by its tangent parabola (m + eps^2) / (2 eps): the engine
    # differentiates it to 1 / (2 max(sqrt(m), eps)), the analytic gradient's factor.
    floor = eps * eps
    continued = xp.sqrt(xp.maximum(m, floor)) + (xp.minimum(m, floor) - floor) * (0.5 / eps)
    # The value stays the exact root: the gap (0 whenever sqrt(m) >= eps) enters as a constant.
    gap = xp.as_data(xp.sqrt(xp.as_data(m)) - continued)
    return continued + gap


RMSE = register(
    LossSpec(
        name="rmse",
        family="regression",
        args=PAIR,
        forward=_rmse_forward,
        vjp=_rmse_vjp,
        composite=_rmse_composite,
        reduces_itself=True,
        params={"eps": 1e-8},
        check=_check_pair,
        edge_cases=_pair_edges(),
        formula=r"\ell = \sqrt{\tfrac1n \textstyle\sum_i (\hat{y}_i - y_i)^2}, \quad "
        r"\partial \ell / \partial \hat{y}_i = \frac{\hat{y}_i - y_i}{n \max(\ell, \epsilon)}",
        reference="Keras RootMeanSquaredError",
    )
)


def rmse(prediction: Any, target: Any, eps: float = 1e-8, reduction: str = "mean") -> Any:
    r"""Root mean squared error: the root of the reduced squared error.

    .. math::  r = \sqrt{m}, \quad m = \frac1n \sum_i (\hat{y}_i - y_i)^2, \qquad
               \frac{\partial r}{\partial \hat{y}_i} = \frac{\hat{y}_i - y_i}{n \max(r, \epsilon)}

    The reduction applies *before* the root, so this is not a mean of per-element values:
    ``'mean'`` gives :math:`\sqrt{\mathrm{mean}(e^2)}` (Keras ``RootMeanSquaredError``), ``'sum'``
    gives :math:`\sqrt{\sum e^2} = \lVert e \rVert_2` (the factor :math:`1/n` in the gradient
    becomes 1), and ``'none'`` gives :math:`\sqrt{e_i^2} = |e_i|` element by element.

    **How eps enters.** Only the gradient: the value is always the exact root. The denominator
    of the gradient is :math:`\max(r, \epsilon)` (computed as :math:`\sqrt{\max(m, \epsilon^2)}`).
    For :math:`r \ge \epsilon` that is the exact derivative. Below it, where the root's slope
    grows without bound and at a perfect prediction has no derivative at all (0/0), the
    gradient is that of the root's :math:`C^1` continuation :math:`(m + \epsilon^2)/(2\epsilon)`:
    it is 0 at a perfect prediction, and with ``'none'`` it is :math:`e_i / \max(|e_i|, \epsilon)`,
    the sign of :math:`e_i` except within :math:`\epsilon` of 0. The composite version (with
    :func:`nploss.losses.composite`) lets the engine differentiate that continuation and adds the
    difference to the exact root as a constant, so its gradient equals this one everywhere.

    Parameters
    ----------
    prediction, target : array or Tensor, same shape (no silent broadcasting)
    eps : float, positive
        Floor of the root in the gradient's denominator (see above).
    reduction : {'mean', 'sum', 'none'}
        Applied to the squared error, before the root.

    PyTorch has no RMSE loss; ``torch.sqrt(F.mse_loss(p, y))`` has the same value, but its
    gradient at a perfect prediction is NaN.

    Raises
    ------
    ValueError
        Shapes that differ, NaN or infinite inputs, an unknown reduction, ``eps <= 0``.

    Examples
    --------
    >>> import numpy as np
    >>> float(rmse(np.array([3.0, -4.0]), np.array([0.0, 0.0]), reduction="sum"))
    5.0
    >>> float(rmse(np.array([1.0, 3.0]), np.array([0.0, 0.0])))  # sqrt((1 + 9) / 2)
    2.23606797749979
    """
    eps = _number("eps", eps, "positive", lambda v: v > 0)
    return apply_loss(RMSE, prediction, target, reduction=reduction, eps=eps)


# ------------------------------------------------------------------------------------ Huber


def _huber_forward(xp: Any, prediction: Any, target: Any, *, delta: float) -> Any:
    e = prediction - target
    # quadratic inside the band, linear outside; the two pieces meet with equal value and slope.
    # With m = min(|e|, delta) both are m (|e| - m/2): |e| (|e| - |e|/2) = e^2/2 (the same
    # rounding as 0.5 e e) inside, delta (|e| - delta/2) outside; no second branch to evaluate.
    # The signed m = clip(e, -delta, delta) has the sign of e, so m (e - m/2) is the same
    # product with both factors negated, exactly; NumPy's clip is vectorised where its
    # minimum against a scalar is not. Written (-m/2 + e) m, the same rounding, NumPy reuses
    # each temporary for the next operation: one block-sized array fewer to allocate.
    m = xp.clip(e, -delta, delta)
    return (-0.5 * m + e) * m


def _huber_vjp(xp: Any, g: Any, prediction: Any, target: Any, *, delta: float) -> tuple[Any, Any]:
    grad = xp.clip(prediction - target, -delta, delta) * collapse(g)  # e inside the band, +-delta outside
    return grad, -grad


def _huber_kinks(prediction: Any, target: Any, *, delta: float) -> Any:
    import numpy as np

    return np.abs(np.abs(prediction - target) - delta)


HUBER = register(
    LossSpec(
        name="huber",
        rowwise=True,
        family="regression",
        args=PAIR,
        forward=_huber_forward,
        vjp=_huber_vjp,
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
    if delta <= 0:
        raise ValueError(f"delta must be positive, got {delta}")
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
        rowwise=True,
        family="regression",
        args=PAIR,
        forward=_smooth_l1_forward,
        vjp=_smooth_l1_vjp,
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
    beta = _number("beta", beta, "non-negative", lambda v: v >= 0)
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
    tau = _number("tau", tau, "in [0, 1]", lambda v: 0 <= v <= 1)
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
    # one log1p serves both forms: of -tanh^2 e near 0 and of e^{-2|e|} beyond (the lanes of
    # the other form are replaced before the log1p, so log1p(-1) never happens)
    log1p = xp.log1p(xp.where(near, -(t * t), xp.exp(-2.0 * a)))
    return xp.where(near, -0.5 * log1p, a + log1p - _LOG2)


def _log_cosh_vjp(xp: Any, g: Any, prediction: Any, target: Any) -> tuple[Any, Any]:
    grad = xp.tanh(prediction - target) * collapse(g)  # d log cosh e / de = sinh e / cosh e
    return grad, -grad


LOG_COSH = register(
    LossSpec(
        name="log_cosh",
        rowwise=True,
        family="regression",
        args=PAIR,
        forward=_log_cosh_forward,
        vjp=_log_cosh_vjp,
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


# ------------------------------------------------------------------------------------ Poisson NLL

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def _poisson_nll_forward(xp: Any, prediction: Any, target: Any, *, log_input: bool, full: bool, eps: float) -> Any:
    if log_input:  # prediction = log rate: e^x - t x needs no log of anything
        loss = xp.exp(prediction) - target * prediction
    else:
        loss = prediction - target * xp.log(prediction + eps)
    if full:
        # Stirling's log t! ~ t log t - t + log(2 pi t)/2, only where t > 1 (as PyTorch: the
        # approximation is poor below, and log 0 would give NaN); t_safe keeps log(0) out of the
        # unused lanes
        big = target > 1.0
        t = xp.where(big, target, 1.0)
        loss = loss + xp.where(big, t * xp.log(t) - t + 0.5 * xp.log(t) + _HALF_LOG_2PI, 0.0)
    return loss


def _poisson_nll_vjp(
    xp: Any, g: Any, prediction: Any, target: Any, *, log_input: bool, full: bool, eps: float
) -> tuple[Any, Any]:
    if log_input:
        grad_prediction = g * (xp.exp(prediction) - target)
        grad_target = -(g * prediction)
    else:
        grad_prediction = g * (1.0 - target / (prediction + eps))
        grad_target = -(g * xp.log(prediction + eps))
    if full:  # d/dt (t log t - t + log(2 pi t)/2) = log t + 1/(2t)
        big = target > 1.0
        t = xp.where(big, target, 1.0)
        grad_target = grad_target + g * xp.where(big, xp.log(t) + 0.5 / t, 0.0)
    return grad_prediction, grad_target


def _poisson_nll_check(prediction: Any, target: Any, *, log_input: bool, full: bool, eps: float) -> None:
    same_shape("prediction", prediction, "target", target)
    if not log_input:
        if (prediction < 0).any():
            raise ValueError(
                "prediction must be a non-negative rate when log_input=False, "
                f"got a minimum of {float(prediction.min()):.6g}"
            )
        if eps == 0 and (prediction == 0).any():
            raise ValueError("prediction must be positive when log_input=False and eps=0 (log of 0), got a rate of 0")


def _count_sampler(rng: Any, sizes: dict[str, int]) -> list[Any]:
    # real-valued targets away from 0, so that finite differences of the target stay in its domain
    n = sizes["N"]
    return [rng.standard_normal(n), rng.uniform(0.25, 4.0, n)]


def _poisson_nll_kinks(prediction: Any, target: Any, *, log_input: bool, full: bool, eps: float) -> Any:
    # full=True: the Stirling term switches on at t = 1 (a jump in the value)
    return np.abs(target - 1.0) if full else np.full(target.shape, np.inf)


POISSON_NLL = register(
    LossSpec(
        name="poisson_nll",
        family="regression",
        args=(Arg("prediction", "real"), Arg("target", "nonnegative")),
        forward=_poisson_nll_forward,
        vjp=_poisson_nll_vjp,
        params={"log_input": True, "full": False, "eps": 1e-8},
        check=_poisson_nll_check,
        sampler=_count_sampler,
        kinks=_poisson_nll_kinks,
        edge_cases={
            "zero counts": lambda rng: [np.array([-3.0, 0.0, 2.0, 40.0]), np.zeros(4)],
            "log rates of -1e4 and 700": lambda rng: [
                np.array([-1e4, -1e4, 700.0, 0.0]),
                np.array([0.0, 3.0, 5.0, 0.0]),
            ],
        },
        formula=r"\ell = e^{\hat{y}} - y \hat{y} \ \text{(log input)}, \quad "
        r"\hat{y} - y \log(\hat{y} + \epsilon) \ \text{(rate)}",
        reference="torch.nn.functional.poisson_nll_loss",
        torch="poisson_nll_loss",
        nonnegative=False,
        stability_exceptions={
            "large scale": "exp(log rate) overflows for log rates above about 709: the loss itself is beyond "
            "the float range (PyTorch gives inf too)"
        },
    )
)


def poisson_nll(
    prediction: Any,
    target: Any,
    log_input: bool = True,
    full: bool = False,
    eps: float = 1e-8,
    reduction: str = "mean",
) -> Any:
    r"""Poisson negative log-likelihood of a count :math:`y` given a predicted rate.

    With ``log_input=True`` the prediction is the log rate :math:`\hat{y} = \log \lambda`:

    .. math::  \ell_i = e^{\hat{y}_i} - y_i \hat{y}_i, \qquad
               \frac{\partial \ell_i}{\partial \hat{y}_i} = e^{\hat{y}_i} - y_i, \qquad
               \frac{\partial \ell_i}{\partial y_i} = -\hat{y}_i

    With ``log_input=False`` it is the rate :math:`\lambda = \hat{y} \ge 0` itself:

    .. math::  \ell_i = \hat{y}_i - y_i \log(\hat{y}_i + \epsilon), \qquad
               \frac{\partial \ell_i}{\partial \hat{y}_i} = 1 - \frac{y_i}{\hat{y}_i + \epsilon}, \qquad
               \frac{\partial \ell_i}{\partial y_i} = -\log(\hat{y}_i + \epsilon)

    Both drop the term :math:`\log y!`, constant in the prediction. ``full=True`` adds back
    Stirling's approximation of it, :math:`y \log y - y + \tfrac12 \log(2\pi y)`, only where
    :math:`y > 1` (0 elsewhere), exactly as PyTorch; its derivative in :math:`y` is
    :math:`\log y + 1/(2y)`. The minimum over the prediction is at :math:`\lambda = y`.

    Parameters
    ----------
    prediction : array or Tensor
        Log rate (``log_input=True``, any real) or rate (``log_input=False``, non-negative).
    target : array or Tensor, same shape, non-negative
        Observed counts. Non-integer values are accepted (as in PyTorch).
    log_input : bool
    full : bool
        Add the Stirling term where the target exceeds 1.
    eps : float, non-negative
        Added to the rate inside the log when ``log_input=False`` (unused otherwise).
    reduction : {'mean', 'sum', 'none'}

    Matches ``torch.nn.functional.poisson_nll_loss`` in value and in both gradients: the target
    is differentiable, as in PyTorch. One deliberate difference: with ``full=True`` and a
    target of exactly 0, PyTorch's target gradient is NaN (``0 * log 0`` in the backward of
    the masked Stirling term); here it is the gradient without the term, which is finite.
    The loss can be negative (it omits :math:`\log y!`). :math:`e^{\hat{y}}` overflows for log
    rates above about 709 in float64, as in PyTorch.

    Raises
    ------
    ValueError
        Negative targets; a negative rate with ``log_input=False`` (or a rate of 0 with
        ``eps=0``); ``eps < 0``; shapes that differ; NaN inputs; an unknown reduction.
    TypeError
        ``log_input`` or ``full`` not a bool.

    Examples
    --------
    >>> import numpy as np
    >>> float(poisson_nll(np.array([0.0]), np.array([2.0])))  # e^0 - 2 * 0
    1.0
    >>> round(float(poisson_nll(np.array([2.0]), np.array([2.0]), log_input=False)), 6)  # 2 - 2 log 2
    0.613706
    """
    log_input, full = _flag("log_input", log_input), _flag("full", full)
    eps = _number("eps", eps, "non-negative", lambda v: v >= 0)
    return apply_loss(POISSON_NLL, prediction, target, reduction=reduction, log_input=log_input, full=full, eps=eps)


# ------------------------------------------------------------------------------------ Gaussian NLL


def _var_layout(prediction_shape: tuple[int, ...], var_shape: tuple[int, ...]) -> str | tuple[int, ...] | None:
    """How ``var`` lines up with the prediction, by PyTorch's rules: ``"same"``; ``"unsqueeze"``
    (one dimension fewer: a variance shared along the last axis); a tuple of the one axis where
    ``var`` has size 1 (shared along it); None if none applies."""
    if var_shape == prediction_shape:
        return "same"
    if var_shape == prediction_shape[:-1]:
        return "unsqueeze"
    if len(var_shape) == len(prediction_shape):
        differ = tuple(i for i, (p, v) in enumerate(zip(prediction_shape, var_shape)) if p != v)
        if len(differ) == 1 and var_shape[differ[0]] == 1:
            return differ
    return None


def _clamped(xp: Any, var: Any, eps: float) -> Any:
    """``max(var, eps)`` in value, the identity in gradient. PyTorch clamps under ``no_grad``,
    so its gradient passes the clamp untouched even where the clamp is active; adding the
    clamp's offset as a constant does the same, on arrays and on Tensors alike."""
    return var + xp.as_data(xp.maximum(var, eps) - var)


def _gaussian_var(xp: Any, prediction: Any, var: Any, eps: float) -> Any:
    if _var_layout(tuple(prediction.shape), tuple(var.shape)) == "unsqueeze":
        var = xp.expand_dims(var, -1)
    return _clamped(xp, var, eps)


def _gaussian_nll_forward(xp: Any, prediction: Any, target: Any, var: Any, *, full: bool, eps: float) -> Any:
    v = _gaussian_var(xp, prediction, var, eps)
    e = prediction - target
    loss = 0.5 * (xp.log(v) + e * e / v)
    return loss + _HALF_LOG_2PI if full else loss


def _gaussian_nll_vjp(
    xp: Any, g: Any, prediction: Any, target: Any, var: Any, *, full: bool, eps: float
) -> tuple[Any, Any, Any]:
    v = _gaussian_var(xp, prediction, var, eps)
    e = prediction - target
    grad_prediction = g * e / v
    # d/dv (log v + e^2 / v) / 2 = (1 - e^2 / v) / (2 v) (not over v^2, which overflows for
    # v > 1e154), taken at the clamped v and passed through the clamp unchanged (PyTorch's way)
    grad_var = g * (0.5 - 0.5 * (e * e / v)) / v
    layout = _var_layout(tuple(prediction.shape), tuple(var.shape))
    if layout == "unsqueeze":
        grad_var = xp.sum(grad_var, axis=-1)
    elif layout != "same":
        grad_var = xp.sum(grad_var, axis=layout, keepdims=True)
    return grad_prediction, -grad_prediction, grad_var


def _gaussian_nll_check(prediction: Any, target: Any, var: Any, **_: Any) -> None:
    same_shape("prediction", prediction, "target", target)
    if _var_layout(tuple(prediction.shape), tuple(var.shape)) is None:
        p = tuple(prediction.shape)
        raise ValueError(
            f"var must have the shape of prediction {p}, that shape without its last dimension "
            f"{p[:-1]}, or that shape with size 1 in one dimension; got {tuple(var.shape)}"
        )


def _gaussian_sampler(rng: Any, sizes: dict[str, int]) -> list[Any]:
    shape = (sizes["N"], sizes["D"])
    return [rng.standard_normal(shape), rng.standard_normal(shape), rng.uniform(0.2, 2.0, shape)]


GAUSSIAN_NLL = register(
    LossSpec(
        name="gaussian_nll",
        family="regression",
        args=(
            Arg("prediction", "real", ("N", "D")),
            Arg("target", "real", ("N", "D")),
            Arg("var", "nonnegative", ("N", "D")),
        ),
        forward=_gaussian_nll_forward,
        vjp=_gaussian_nll_vjp,
        params={"full": False, "eps": 1e-6},
        check=_gaussian_nll_check,
        sampler=_gaussian_sampler,
        kinks=lambda prediction, target, var, *, full, eps: abs(var - eps),
        edge_cases={
            "zero variance and zero error": lambda rng: [
                np.array([[0.5, 0.0], [1e4, -2.0]]),
                np.array([[0.5, 0.0], [0.0, 1.0]]),
                np.zeros((2, 2)),
            ],
            "variance at eps": lambda rng: [np.array([[1.0, 0.0]]), np.zeros((1, 2)), np.full((1, 2), 1e-6)],
            "huge variance": lambda rng: [np.array([[1.0, -3.0]]), np.zeros((1, 2)), np.array([[1e200, 1e-300]])],
        },
        formula=r"\ell = \tfrac12 \left(\log \max(\sigma^2, \epsilon) "
        r"+ \frac{(\hat{y} - y)^2}{\max(\sigma^2, \epsilon)}\right)",
        reference="Nix & Weigend 1994; torch.nn.functional.gaussian_nll_loss",
        torch="gaussian_nll_loss",
        nonnegative=False,
    )
)


def gaussian_nll(
    prediction: Any, target: Any, var: Any, full: bool = False, eps: float = 1e-6, reduction: str = "mean"
) -> Any:
    r"""Gaussian negative log-likelihood of a target given a predicted mean and variance.

    .. math::  \ell_i = \tfrac12 \left(\log v_i + \frac{e_i^2}{v_i}\right)
               \ [+ \tfrac12 \log 2\pi], \quad v_i = \max(\sigma^2_i, \epsilon), \ e = \hat{y} - y,

    .. math::  \frac{\partial \ell_i}{\partial \hat{y}_i} = \frac{e_i}{v_i}, \qquad
               \frac{\partial \ell_i}{\partial y_i} = -\frac{e_i}{v_i}, \qquad
               \frac{\partial \ell_i}{\partial \sigma^2_i} = \frac{v_i - e_i^2}{2 v_i^2}

    **The clamp, as PyTorch does it.** The variance is clamped at ``eps`` in the value, but
    PyTorch clamps under ``no_grad``, so the gradient passes the clamp as if it were not there:
    below ``eps`` the variance's gradient is :math:`(\epsilon - e^2)/(2\epsilon^2)`, not 0 (the
    derivative of the clamped function). nploss does the same, in the analytic and the
    composite gradient and at second order. The loss is minimised over the variance at
    :math:`\sigma^2 = e^2` (when :math:`e^2 \ge \epsilon`) and can be negative.

    Parameters
    ----------
    prediction, target : array or Tensor, same shape (no silent broadcasting)
        The predicted mean and the observation.
    var : array, Tensor or float, non-negative
        The predicted variance. PyTorch's shapes: the prediction's shape (one variance per
        element); that shape without the last dimension, or with size 1 in one dimension (a
        variance shared along that axis); a Python float (one variance for everything). Its
        gradient has its own shape (summed over the axis it is shared along).
    full : bool
        Add the constant :math:`\tfrac12 \log 2\pi`.
    eps : float, positive
        Floor of the variance.
    reduction : {'mean', 'sum', 'none'}
        Over the elements of the loss, which has the prediction's shape.

    Matches ``torch.nn.functional.gaussian_nll_loss`` in value and in all three gradients.

    Raises
    ------
    ValueError
        A negative variance (as PyTorch), a ``var`` shape none of the rules above allows,
        ``eps <= 0``, prediction and target shapes that differ, NaN inputs, an unknown
        reduction.
    TypeError
        ``full`` not a bool.

    Examples
    --------
    >>> import numpy as np
    >>> float(gaussian_nll(np.array([2.0]), np.array([0.0]), np.array([1.0])))  # (log 1 + 4) / 2
    2.0
    """
    full = _flag("full", full)
    eps = _number("eps", eps, "positive", lambda v: v > 0)
    if isinstance(var, numbers.Real) and not isinstance(var, bool):  # PyTorch: var * ones_like(input)
        from ..autograd import as_data
        from ..backend import get_array_module

        data = as_data(prediction)
        var = get_array_module(data).full(data.shape, float(var), dtype=data.dtype if data.dtype.kind == "f" else None)
    return apply_loss(GAUSSIAN_NLL, prediction, target, var, reduction=reduction, full=full, eps=eps)


# ------------------------------------------------------------------------------------ Tweedie


def _tweedie_forward(xp: Any, prediction: Any, target: Any, *, power: float) -> Any:
    # mu^(1-p) and mu^(2-p) with mu = e^x, written as exponentials of x (no power of an overflowed mu)
    a = xp.exp((1.0 - power) * prediction)
    b = xp.exp((2.0 - power) * prediction)
    return target * a * (1.0 / (power - 1.0)) + b * (1.0 / (2.0 - power))


def _tweedie_vjp(xp: Any, g: Any, prediction: Any, target: Any, *, power: float) -> tuple[Any, Any]:
    a = xp.exp((1.0 - power) * prediction)
    b = xp.exp((2.0 - power) * prediction)
    grad_prediction = g * (b - target * a)  # mu^(2-p) - y mu^(1-p): zero at mu = y
    grad_target = g * a * (1.0 / (power - 1.0))
    return grad_prediction, grad_target


def _tweedie_check(prediction: Any, target: Any, **_: Any) -> None:
    same_shape("prediction", prediction, "target", target)


TWEEDIE = register(
    LossSpec(
        name="tweedie",
        family="regression",
        args=(Arg("prediction", "real"), Arg("target", "nonnegative")),
        forward=_tweedie_forward,
        vjp=_tweedie_vjp,
        params={"power": 1.5},
        check=_tweedie_check,
        sampler=_count_sampler,
        edge_cases={
            "zero targets": lambda rng: [np.array([-3.0, 0.0, 2.0, 40.0]), np.zeros(4)],
            "log means of +-300": lambda rng: [np.array([-300.0, 300.0, -300.0]), np.array([2.0, 0.0, 0.0])],
        },
        formula=r"\ell = -y \frac{\mu^{1-p}}{1-p} + \frac{\mu^{2-p}}{2-p}, \quad \mu = e^{\hat{y}}, \ 1 < p < 2",
        reference="LightGBM/XGBoost objective 'tweedie'; sklearn.metrics.mean_tweedie_deviance (deviance form)",
        stability_exceptions={
            "large scale": "mu^(2-p) = exp((2-p) x) and mu^(1-p) overflow for |x| of 1e4: the loss itself is "
            "beyond the float range"
        },
    )
)


def tweedie(prediction: Any, target: Any, power: float = 1.5, reduction: str = "mean") -> Any:
    r"""Tweedie negative log-likelihood (up to terms free of the prediction), on a log mean.

    .. math::  \ell_i = -y_i \frac{\mu_i^{1-p}}{1-p} + \frac{\mu_i^{2-p}}{2-p}, \quad
               \mu_i = e^{\hat{y}_i}, \ 1 < p < 2,

    .. math::  \frac{\partial \ell_i}{\partial \hat{y}_i} = \mu_i^{2-p} - y_i \mu_i^{1-p}, \qquad
               \frac{\partial \ell_i}{\partial y_i} = \frac{\mu_i^{1-p}}{p-1}

    The compound Poisson-gamma family: non-negative targets with exact zeros (claims,
    rainfall). Both terms are non-negative for :math:`1 < p < 2`; the minimum over the
    prediction is at :math:`\mu = y`. The unit deviance of scikit-learn is the loss minus its
    value at that minimum, doubled:
    :math:`d(y, \mu) = 2(\ell(\hat{y}) - \ell(\log y))` for :math:`y > 0`, and
    :math:`2 \ell(\hat{y})` for :math:`y = 0`, with :math:`\ell(\log y) = y^{2-p}/((p-1)(2-p))`.

    Parameters
    ----------
    prediction : array or Tensor
        The log of the predicted mean (a raw score, as in LightGBM/XGBoost).
    target : array or Tensor, same shape, non-negative
    power : float in (1, 2)
        The Tweedie variance power (LightGBM ``tweedie_variance_power``).
    reduction : {'mean', 'sum', 'none'}

    Matches the LightGBM and XGBoost objective ``tweedie`` (same formula on the raw score).
    PyTorch has none. The target is differentiable, as in the other losses of this module.
    The exponentials overflow when :math:`(2-p)\hat{y}` or :math:`(p-1)(-\hat{y})` passes
    about 709 (float64), where the loss itself is beyond the float range.

    Raises
    ------
    ValueError
        ``power`` outside (1, 2), negative targets, shapes that differ, NaN inputs, an unknown
        reduction.

    Examples
    --------
    >>> import numpy as np
    >>> float(tweedie(np.array([0.0]), np.array([1.0])))  # 1 / 0.5 + 1 / 0.5
    4.0
    """
    power = _number("power", power, "in the open interval (1, 2)", lambda v: 1 < v < 2)
    return apply_loss(TWEEDIE, prediction, target, reduction=reduction, power=power)
