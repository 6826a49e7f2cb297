r"""Likelihoods of a target given a predicted distribution: Poisson, Gaussian and Tweedie.

Each loss is the negative log-likelihood of the target, up to terms free of the prediction
(each docstring says which it drops). The target is differentiable, as in PyTorch: for
:func:`poisson_nll` and :func:`tweedie` its gradient is the derivative with respect to the
(real-valued) count; for :func:`gaussian_nll` the variance is an input too. Each loss is one
block: the reference ``_x_forward`` and ``_x_vjp``, its checks and sampler, the registry entry,
then the public function.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from ...autograd import as_data
from ...backend import get_array_module
from .._apply import apply_loss
from .._params import flag, real
from .._spec import Arg, LossSpec, OnInputs, Tie, elementwise, register
from .._validate import same_shape
from ._common import _check_pair

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)  # the constant of the Gaussian and of Stirling's formula


# ------------------------------------------------------------------------------------ Poisson NLL


def _poisson_nll_forward(xp: Any, prediction: Any, target: Any, *, log_input: bool, full: bool, eps: float) -> Any:
    if log_input:  # prediction = log rate: e^x - t x needs no log of anything
        loss = xp.exp(prediction) - target * prediction
    else:
        loss = prediction - target * xp.log(prediction + eps)
    if full:
        # Stirling's log t! ~ t log t - t + log(2 pi t)/2, only where t > 1 (as PyTorch: the
        # approximation is poor below, and log 0 would give NaN); t (1 where t <= 1) keeps log(0)
        # out of the unused lanes
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
        ties={
            "full=True at counts 0, 1 and 2": Tie(
                inputs=lambda: [np.full(3, 0.3), np.array([0.0, 1.0, 2.0])],
                subgradient="Stirling's term counts for y > 1 only: at y = 1 the slope from below",
                # exp(x) - y; -x, plus log y + 1/(2y) at the count of 2 only
                expected=lambda x, y, **p: [np.exp(0.3) - np.array([0.0, 1.0, 2.0]), np.array([-0.3, -0.3, -0.3 + np.log(2.0) + 0.25])],
                params={"full": True},
                # e^x - y x, plus Stirling's y log y - y + log(2 pi y)/2 at the count of 2 only
                value=lambda x, y, **p: 3.0 * np.exp(0.3) - 0.3 * 3.0 + (2.0 * np.log(2.0) - 2.0 + 0.5 * np.log(4.0 * np.pi)),
            )
        },
        grid={"log_input": (True, OnInputs(False, lambda rng, s: [rng.uniform(0.2, 3.0, s["N"]), rng.uniform(0.25, 4.0, s["N"])]))},
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
    :math:`\log y + 1/(2y)`.

    The minimum over the prediction: with ``log_input=True`` it is at :math:`\hat{y} = \log y`
    (:math:`\lambda = y`) for :math:`y > 0`, and there is none for :math:`y = 0` (the loss
    :math:`e^{\hat{y}}` only tends to 0 as :math:`\hat{y} \to -\infty`); with
    ``log_input=False`` it is at :math:`\lambda = y - \epsilon` (where the derivative vanishes:
    1.9 for :math:`y = 2`, :math:`\epsilon = 0.1`), or at the boundary :math:`\lambda = 0` when
    :math:`y \le \epsilon` (:math:`y = 0` included).

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
    log_input, full = flag("log_input", log_input), flag("full", full)
    eps = real("eps", eps, low=0)
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
    # a target broadcast against the prediction gets the sum over the axes it was repeated along
    return grad_prediction, xp.sum_to(-grad_prediction, target.shape), grad_var


def _gaussian_nll_check(prediction: Any, target: Any, var: Any, **_: Any) -> None:
    # PyTorch broadcasts the target against the prediction (NumPy's rules: trailing axes first)
    try:
        fits = np.broadcast_shapes(tuple(target.shape), tuple(prediction.shape)) == tuple(prediction.shape)
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"target must have the shape of prediction {tuple(prediction.shape)} or broadcast to it "
            f"(as PyTorch's gaussian_nll_loss), got {tuple(target.shape)}"
        )
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
        ties={
            "full=True, var exactly at its clamp eps": Tie(
                inputs=lambda: [np.array([0.0]), np.array([0.0]), np.array([1e-6])],
                subgradient="the clamp passes the gradient 1/(2 v) unchanged at its bound (PyTorch's way)",
                expected=lambda prediction, target, var, **p: [np.array([0.0]), np.array([0.0]), np.array([0.5e6])],
                step=1e-12,
                value=lambda prediction, target, var, **p: 0.5 * np.log(1e-6) + 0.5 * np.log(2.0 * np.pi),
                params={"full": True},
            )
        },
        unreduced=elementwise,
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
        layouts={  # var beside a (N, D) prediction: one per row (N,), or shared along an axis (N, 1)
            "var (N,)": lambda rng, s: [*_gaussian_sampler(rng, s)[:2], rng.uniform(0.3, 2.0, s["N"])],
            "var (N, 1)": lambda rng, s: [*_gaussian_sampler(rng, s)[:2], rng.uniform(0.3, 2.0, (s["N"], 1))],
        },
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
    full = flag("full", full)
    eps = real("eps", eps, low=0, low_open=True)
    if isinstance(var, numbers.Real) and not isinstance(var, bool):  # PyTorch: var * ones_like(input)
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


TWEEDIE = register(
    LossSpec(
        name="tweedie",
        grid={"power": (1.5, 1.2)},
        family="regression",
        args=(Arg("prediction", "real"), Arg("target", "nonnegative")),
        forward=_tweedie_forward,
        vjp=_tweedie_vjp,
        params={"power": 1.5},
        check=_check_pair,
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
    power = real("power", power, low=1, high=2, low_open=True, high_open=True)
    return apply_loss(TWEEDIE, prediction, target, reduction=reduction, power=power)
