r"""Errors of a prediction: squared (MSE), absolute (MAE) and the root of the mean square (RMSE).

The error is :math:`e = \hat{y} - y`; the target's gradient is the negative of the prediction's.
Each loss is one block: the reference ``_x_forward`` and ``_x_vjp`` (the formula and its
derivative), its fast path where it has one, the registry entry, then the public function with
the formula in its docstring.
"""

from __future__ import annotations

from typing import Any

from .._apply import apply_loss
from .._fast import collapse
from .._params import real
from .._reduction import mean_weight
from .._spec import FastPath, LossSpec, Tie, register
from ._common import PAIR, _abs_error_kinks, _check_pair, _pair_edges

# ------------------------------------------------------------------------------------ MSE


def _mse_forward(xp: Any, prediction: Any, target: Any) -> Any:
    e = prediction - target
    return e * e


def _mse_vjp(xp: Any, g: Any, prediction: Any, target: Any) -> tuple[Any, Any]:
    grad = g * 2.0 * (prediction - target)  # d e^2 / d prediction = 2e; d e / d target = -1
    return grad, -grad


# Fast path: the constant 2 folded into the cotangent when that is one repeated number (one
# array multiplication instead of two); in row blocks on threads for large inputs.
def _mse_vjp_fast(xp: Any, g: Any, prediction: Any, target: Any, *, saved: None) -> tuple[Any, Any]:
    grad = (prediction - target) * (2.0 * collapse(g))
    return grad, -grad


def _mse_forward_fast(xp: Any, prediction: Any, target: Any, *, save: bool) -> tuple[Any, None]:
    return _mse_forward(xp, prediction, target), None  # the reference's: only the gradient is faster


MSE_FAST = FastPath(
    forward=_mse_forward_fast,
    vjp=_mse_vjp_fast,
    rowwise=True,
    how="2 g folded into one number for a 'sum' or 'mean' cotangent; row blocks on threads",
)

MSE = register(
    LossSpec(
        name="mse",
        family="regression",
        args=PAIR,
        forward=_mse_forward,
        vjp=_mse_vjp,
        fast=MSE_FAST,
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


MAE = register(
    LossSpec(
        name="mae",
        ties={
            "an error of exactly 0": Tie(
                inputs=lambda: [[1.0, 2.0], [1.0, 0.5]],
                subgradient="sign(0) = 0, as PyTorch's l1_loss",
                expected=lambda prediction, target, **p: [[0.0, 1.0], [0.0, -1.0]],
                value=lambda prediction, target, **p: 1.5,
            )
        },
        family="regression",
        args=PAIR,
        forward=_mae_forward,
        vjp=_mae_vjp,
        fast=FastPath.row_blocks(_mae_forward, _mae_vjp),
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
    return total if reduction == "sum" else total * mean_weight(e.size)


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
    eps = real("eps", eps, low=0, low_open=True)
    return apply_loss(RMSE, prediction, target, reduction=reduction, eps=eps)
