r"""Relative errors: the squared log error (MSLE), its root (RMSLE) and the absolute percentage error (MAPE).

Errors that weigh a miss by the size of the target: MSLE and RMSLE compare
:math:`\log(1 + \hat{y})` with :math:`\log(1 + y)`, MAPE divides the absolute error by
:math:`|y|`. Every input is differentiable, targets included. Each loss is one block: the
reference ``_x_forward`` and ``_x_vjp``, its checks, the registry entry, then the public function.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._apply import apply_loss
from .._params import flag, real
from .._spec import LossSpec, elementwise, register
from .._validate import same_shape
from ._common import PAIR, _pair_edges
from .errors import _rmse_composite, _sum_of_squares

_FLOAT64_EPS = float(np.finfo(np.float64).eps)  # scikit-learn's floor of |y| in MAPE


def _check_above_minus_one(prediction: Any, target: Any, **_: Any) -> None:
    same_shape("prediction", prediction, "target", target)
    for name, x in (("prediction", prediction), ("target", target)):
        if (x <= -1).any():
            raise ValueError(
                f"{name} must be greater than -1 (log(1 + {name}) is taken), got a minimum of {float(x.min()):.6g}"
            )


def _above_minus_one_sampler(rng: Any, sizes: dict[str, int]) -> list[Any]:
    # non-negative, so that the stability sweep's scaling (1e4, 1e-4) stays in the domain
    n, d = sizes["N"], sizes["D"]
    return [rng.uniform(0.0, 3.0, (n, d)), rng.uniform(0.0, 3.0, (n, d))]


def _log_edges() -> dict[str, Any]:
    return {
        "zero error": lambda rng: [np.full(4, 0.3), np.full(4, 0.3)],
        "values near -1 and of 1e300": lambda rng: [
            np.array([-1.0 + 1e-12, 1e300, 0.0, 5.0]),
            np.array([1e300, -1.0 + 1e-12, 0.0, 5.0]),
        ],
    }


# ------------------------------------------------------------------------------------ MSLE


def _msle_forward(xp: Any, prediction: Any, target: Any) -> Any:
    d = xp.log1p(prediction) - xp.log1p(target)
    return d * d


def _msle_vjp(xp: Any, g: Any, prediction: Any, target: Any) -> tuple[Any, Any]:
    d = xp.log1p(prediction) - xp.log1p(target)
    # d/dyhat log(1 + yhat) = 1 / (1 + yhat)
    return g * 2.0 * d / (1.0 + prediction), -(g * 2.0 * d / (1.0 + target))


MSLE = register(
    LossSpec(
        name="msle",
        unreduced=elementwise,
        family="regression",
        args=PAIR,
        forward=_msle_forward,
        vjp=_msle_vjp,
        check=_check_above_minus_one,
        sampler=_above_minus_one_sampler,
        edge_cases=_log_edges(),
        formula=r"\ell = (\log(1 + \hat{y}) - \log(1 + y))^2",
        reference="sklearn.metrics.mean_squared_log_error; keras.losses.mean_squared_logarithmic_error",
    )
)


def msle(prediction: Any, target: Any, reduction: str = "mean") -> Any:
    r"""Squared logarithmic error: the squared error of :math:`\log(1 + \cdot)`.

    .. math::  \ell_i = (\log(1 + \hat{y}_i) - \log(1 + y_i))^2, \qquad
               \frac{\partial \ell_i}{\partial \hat{y}_i} = \frac{2 (\log(1 + \hat{y}_i) - \log(1 + y_i))}{1 + \hat{y}_i},
               \qquad \frac{\partial \ell_i}{\partial y_i} = -\frac{2 (\log(1 + \hat{y}_i) - \log(1 + y_i))}{1 + y_i}

    Computed with ``log1p`` (accurate for small values). Weighs the ratio
    :math:`(1 + \hat{y})/(1 + y)`, so that under-predicting costs more than over-predicting by
    the same amount.

    Parameters
    ----------
    prediction, target : array or Tensor, same shape, every value greater than -1
    reduction : {'mean', 'sum', 'none'}

    ``'mean'`` equals ``sklearn.metrics.mean_squared_log_error(target, prediction)`` (for 2-D
    inputs its default average over outputs is the same mean over every element), which refuses
    values <= -1 as nploss does. Keras ``mean_squared_logarithmic_error(y_true, y_pred)`` takes
    the mean over the last axis and clips both inputs from below at ``epsilon = 1e-7``
    (:math:`\log(\max(x, \epsilon) + 1)`): it equals nploss on values >= 1e-7, while for smaller
    or negative values Keras computes the loss at 1e-7 with a zero gradient, and nploss the
    loss of the values given. PyTorch has none. Note the order: nploss takes
    ``(prediction, target)``, scikit-learn and Keras ``(y_true, y_pred)``.

    Raises
    ------
    ValueError
        A value <= -1 in either input (named), shapes that differ, NaN inputs, an unknown
        reduction.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(msle(np.array([np.e - 1.0]), np.array([0.0]))), 12)  # (log e - log 1)^2
    1.0
    """
    return apply_loss(MSLE, prediction, target, reduction=reduction)


# ------------------------------------------------------------------------------------ RMSLE


def _rmsle_forward(xp: Any, prediction: Any, target: Any, *, eps: float, reduction: str) -> Any:
    return xp.sqrt(_sum_of_squares(xp, xp.log1p(prediction) - xp.log1p(target), reduction))


def _rmsle_vjp(xp: Any, g: Any, prediction: Any, target: Any, *, eps: float, reduction: str) -> tuple[Any, Any]:
    d = xp.log1p(prediction) - xp.log1p(target)
    m = _sum_of_squares(xp, d, reduction)
    w = 1.0 / max(d.size, 1) if reduction == "mean" else 1.0
    # rmse's gradient in d (floored denominator: 0 at a perfect prediction), then the chain
    # rule through log(1 + x)
    grad_d = g * w * d / xp.sqrt(xp.maximum(m, eps * eps))
    return grad_d / (1.0 + prediction), -(grad_d / (1.0 + target))


def _rmsle_composite(xp: Any, prediction: Any, target: Any, *, eps: float, reduction: str) -> Any:
    # rmse's composite (the root continued below eps) of the log values
    return _rmse_composite(xp, xp.log1p(prediction), xp.log1p(target), eps=eps, reduction=reduction)


RMSLE = register(
    LossSpec(
        name="rmsle",
        unreduced=elementwise,
        family="regression",
        args=PAIR,
        forward=_rmsle_forward,
        vjp=_rmsle_vjp,
        composite=_rmsle_composite,
        reduces_itself=True,
        params={"eps": 1e-8},
        check=_check_above_minus_one,
        sampler=_above_minus_one_sampler,
        edge_cases=_log_edges(),
        formula=r"\ell = \sqrt{\tfrac1n \textstyle\sum_i (\log(1 + \hat{y}_i) - \log(1 + y_i))^2}",
        reference="sklearn.metrics.root_mean_squared_log_error",
    )
)


def rmsle(prediction: Any, target: Any, eps: float = 1e-8, reduction: str = "mean") -> Any:
    r"""Root mean squared logarithmic error: :func:`~nploss.losses.rmse` of :math:`\log(1 + \cdot)`.

    .. math::  r = \sqrt{m}, \quad m = \frac1n \sum_i d_i^2, \quad d_i = \log(1 + \hat{y}_i) - \log(1 + y_i),
               \qquad \frac{\partial r}{\partial \hat{y}_i} = \frac{d_i}{n \max(r, \epsilon) (1 + \hat{y}_i)},
               \qquad \frac{\partial r}{\partial y_i} = -\frac{d_i}{n \max(r, \epsilon) (1 + y_i)}

    As in :func:`~nploss.losses.rmse`, the reduction applies before the root (``'sum'``:
    :math:`\lVert d \rVert_2`, ``'none'``: :math:`|d_i|`), and ``eps`` enters only the gradient's
    denominator: the gradient is 0 at a perfect prediction instead of 0/0.

    Parameters
    ----------
    prediction, target : array or Tensor, same shape, every value greater than -1
    eps : float, positive
        Floor of the root in the gradient's denominator.
    reduction : {'mean', 'sum', 'none'}
        Applied to the squared log error, before the root.

    ``'mean'`` equals ``sklearn.metrics.root_mean_squared_log_error(target, prediction)`` for
    1-D inputs. For 2-D inputs scikit-learn's default ``multioutput='uniform_average'`` averages
    the roots of the columns; nploss takes one root over every element (the root of
    :func:`msle`), as its ``rmse`` does. PyTorch and Keras have none.

    Raises
    ------
    ValueError
        A value <= -1 in either input (named), ``eps <= 0``, shapes that differ, NaN inputs, an
        unknown reduction.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(rmsle(np.array([np.e - 1.0, 0.0]), np.array([0.0, 0.0]))), 12)  # sqrt((1 + 0) / 2)
    0.707106781187
    """
    eps = real("eps", eps, low=0, low_open=True)
    return apply_loss(RMSLE, prediction, target, reduction=reduction, eps=eps)


# ------------------------------------------------------------------------------------ MAPE


def _mape_forward(xp: Any, prediction: Any, target: Any, *, percent: bool, eps: float) -> Any:
    scale = 100.0 if percent else 1.0
    return scale * xp.abs(prediction - target) / xp.maximum(xp.abs(target), eps)


def _mape_vjp(xp: Any, g: Any, prediction: Any, target: Any, *, percent: bool, eps: float) -> tuple[Any, Any]:
    scale = 100.0 if percent else 1.0
    m = xp.maximum(xp.abs(target), eps)
    s = xp.sign(prediction - target)  # 0 at a perfect prediction: the middle of [-1, 1]
    grad_prediction = g * scale * s / m
    # the target is in the numerator and, where |y| > eps, in the denominator:
    # d/dy |yhat - y| / |y| = -sign(yhat - y) / |y| - |yhat - y| sign(y) / y^2
    above = xp.abs(target) > eps
    grad_target = -grad_prediction - g * scale * xp.abs(prediction - target) * xp.where(above, xp.sign(target), 0.0) / (
        m * m
    )
    return grad_prediction, grad_target


def _mape_kinks(prediction: Any, target: Any, *, percent: bool, eps: float) -> Any:
    # |yhat - y| at 0, and the floor max(|y|, eps) at |y| = eps
    return np.minimum(np.abs(prediction - target), np.abs(np.abs(target) - eps))


MAPE = register(
    LossSpec(
        name="mape",
        family="regression",
        args=PAIR,
        forward=_mape_forward,
        vjp=_mape_vjp,
        params={"percent": False, "eps": _FLOAT64_EPS},
        check=lambda prediction, target, **_: same_shape("prediction", prediction, "target", target),
        kinks=_mape_kinks,
        edge_cases={
            **_pair_edges(),
            "zero targets": lambda rng: [np.array([1.0, -2.0, 0.0]), np.zeros(3)],
        },
        formula=r"\ell = \frac{|\hat{y} - y|}{\max(|y|, \epsilon)} \ (\times 100 \text{ with percent})",
        reference="de Myttenaere et al. 2016; sklearn.metrics.mean_absolute_percentage_error; "
        "keras.losses.mean_absolute_percentage_error",
    )
)


def mape(
    prediction: Any, target: Any, percent: bool = False, eps: float = _FLOAT64_EPS, reduction: str = "mean"
) -> Any:
    r"""Absolute percentage error: the absolute error relative to the target.

    .. math::  \ell_i = s \frac{|\hat{y}_i - y_i|}{\max(|y_i|, \epsilon)}, \qquad
               \frac{\partial \ell_i}{\partial \hat{y}_i} = s \frac{\mathrm{sign}(\hat{y}_i - y_i)}{\max(|y_i|, \epsilon)},

    .. math::  \frac{\partial \ell_i}{\partial y_i} = -\frac{\partial \ell_i}{\partial \hat{y}_i}
               - s \frac{|\hat{y}_i - y_i| \, \mathrm{sign}(y_i)}{y_i^2} [|y_i| > \epsilon]

    with :math:`s = 1` (a fraction, scikit-learn) or :math:`s = 100` (``percent=True``, a
    percentage, Keras). The gradient in the prediction is 0 at a perfect prediction (the middle
    of the subdifferential, as :func:`~nploss.losses.mae`). Not symmetric: over-predicting a
    target of 1 by 2 costs 2, under-predicting a target of 3 by 2 costs 2/3.

    Parameters
    ----------
    prediction, target : array or Tensor, same shape (no silent broadcasting)
    percent : bool
        Multiply by 100 (Keras's percentage) instead of returning a fraction (scikit-learn's).
    eps : float, positive
        Floor of :math:`|y|` in the denominator: scikit-learn's ``np.finfo(np.float64).eps``
        by default; Keras uses ``keras.backend.epsilon() = 1e-7``.
    reduction : {'mean', 'sum', 'none'}

    ``'mean'`` equals ``sklearn.metrics.mean_absolute_percentage_error(target, prediction)``
    (for 2-D inputs its default average over outputs is the same mean over every element).
    ``mape(prediction, target, percent=True, eps=1e-7, reduction='none')`` averaged over the last
    axis equals Keras ``mean_absolute_percentage_error(y_true, y_pred)`` (Keras's order), value
    and gradients. PyTorch has none.

    Raises
    ------
    ValueError
        ``eps <= 0``, shapes that differ, NaN inputs, an unknown reduction.
    TypeError
        ``percent`` not a bool.

    Examples
    --------
    >>> import numpy as np
    >>> float(mape(np.array([3.0, 1.0]), np.array([1.0, 2.0])))  # (2/1 + 1/2) / 2
    1.25
    >>> float(mape(np.array([3.0, 1.0]), np.array([1.0, 2.0]), percent=True))
    125.0
    """
    percent = flag("percent", percent)
    eps = real("eps", eps, low=0, low_open=True)
    return apply_loss(MAPE, prediction, target, reduction=reduction, percent=percent, eps=eps)


__all__ = ["mape", "msle", "rmsle"]
