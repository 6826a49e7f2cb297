r"""Deviances of a predicted mean: scikit-learn's Tweedie deviance, every power it allows, and the gamma deviance.

The unit deviance :math:`d(y, \mu) = 2(\ell_\text{sat}(y) - \ell(y; \mu))` is twice the gap in
log-likelihood between the saturated model (:math:`\mu = y`) and the prediction; it is 0 exactly
at :math:`\mu = y` and positive elsewhere. Unlike :func:`~nploss.losses.tweedie`, which takes the
*log* of the mean (a raw score) and drops the terms free of it, these take the mean
:math:`\mu` itself, as ``sklearn.metrics.mean_tweedie_deviance(y_true, y_pred=mu, power=p)``.

The target is an observation, not differentiated: its derivative
:math:`2(y^{1-p} - \mu^{1-p})/(1-p)` is infinite at :math:`y = 0` for :math:`1 \le p < 2`,
where zeros are the point of the model. Each loss is one block: the reference ``_x_forward`` and
``_x_vjp``, its checks, the registry entry, then the public function.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...backend import get_array_module
from .._apply import apply_loss
from .._params import real
from .._shared import xlogx
from .._spec import Arg, LossSpec, register
from .._validate import same_shape

# the observed target is a constant of the deviance (see the module docstring)
_MEAN_AND_OBSERVATION = (Arg("prediction", "real"), Arg("target", "real", differentiable=False))


def _positive_sampler(rng: Any, sizes: dict[str, int]) -> list[Any]:
    # means and targets in (0.2, 3): inside the domain of every power, and scaled by the
    # stability sweep (1e4, 1e-4) they stay there
    n = sizes["N"]
    return [rng.uniform(0.2, 3.0, n), rng.uniform(0.2, 3.0, n)]


def _positive_edges() -> dict[str, Any]:
    # in the domain of every power, so that the audit may run them at any power
    return {
        "perfect prediction": lambda rng: [np.array([0.3, 2.0, 1e-6]), np.array([0.3, 2.0, 1e-6])],
        "means of 1e-8 and 1e8": lambda rng: [np.array([1e-8, 1e8, 1.0]), np.array([1.0, 1.0, 1e-8])],
    }


def _refuse(name: str, x: Any, bad: Any, need: str, power: float) -> None:
    if bad.any():
        raise ValueError(
            f"{name} must be {need} for the Tweedie deviance with power={power:g}, got a value of {float(x[bad].flat[0]):.6g}"
        )


# ------------------------------------------------------------------------------------ Gamma deviance


def _gamma_deviance_forward(xp: Any, prediction: Any, target: Any) -> Any:
    mu, y = prediction, xp.as_data(target)
    return 2.0 * (xp.log(mu) - get_array_module(y).log(y) + y / mu - 1.0)


def _gamma_deviance_vjp(xp: Any, g: Any, prediction: Any, target: Any) -> tuple[Any]:
    mu, y = prediction, xp.as_data(target)
    # d/dmu (log mu + y/mu) = 1/mu - y/mu^2 = (mu - y)/mu^2
    return (g * 2.0 * (mu - y) / (mu * mu),)


GAMMA_DEVIANCE = register(
    LossSpec(
        name="gamma_deviance",
        family="regression",
        args=(Arg("prediction", "positive"), Arg("target", "positive", differentiable=False)),
        forward=_gamma_deviance_forward,
        vjp=_gamma_deviance_vjp,
        check=lambda prediction, target: same_shape("prediction", prediction, "target", target),
        edge_cases=_positive_edges(),
        formula=r"d = 2\left(\log\frac{\mu}{y} + \frac{y}{\mu} - 1\right)",
        reference="McCullagh & Nelder 1989; sklearn.metrics.mean_gamma_deviance",
    )
)


def gamma_deviance(prediction: Any, target: Any, reduction: str = "mean") -> Any:
    r"""Gamma deviance of positive targets given a positive predicted mean (Tweedie power 2).

    .. math::  d_i = 2\left(\log\frac{\mu_i}{y_i} + \frac{y_i}{\mu_i} - 1\right), \qquad
               \frac{\partial d_i}{\partial \mu_i} = \frac{2(\mu_i - y_i)}{\mu_i^2}

    with :math:`\mu = \hat{y}` the prediction. Scale-free: :math:`d(ky, k\mu) = d(y, \mu)`, so it
    weighs relative errors; 0 exactly at :math:`\mu = y`.

    Parameters
    ----------
    prediction : array or Tensor, positive
        The predicted mean :math:`\mu`.
    target : array or Tensor, same shape, positive
        The observation; a constant (no gradient).
    reduction : {'mean', 'sum', 'none'}

    ``'mean'`` equals ``sklearn.metrics.mean_gamma_deviance(target, prediction)`` (note
    scikit-learn's order, ``(y_true, y_pred)``) and :func:`tweedie_deviance` with
    ``power=2``. PyTorch and Keras have none.

    Raises
    ------
    ValueError
        A prediction or target that is not positive (as scikit-learn), shapes that differ, NaN
        inputs, an unknown reduction.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(gamma_deviance(np.array([2.0]), np.array([1.0]))), 12)  # 2 (log 2 + 1/2 - 1)
    0.38629436112
    """
    return apply_loss(GAMMA_DEVIANCE, prediction, target, reduction=reduction)


# ------------------------------------------------------------------------------------ Tweedie deviance


def _tweedie_deviance_forward(xp: Any, prediction: Any, target: Any, *, power: float) -> Any:
    mu, y, p = prediction, xp.as_data(target), power
    m = get_array_module(y)  # the target's own terms are plain arrays (constants)
    if p == 0:  # normal: the squared error
        e = mu - y
        return e * e
    if p == 1:  # Poisson: 2 (y log(y/mu) - y + mu), with 0 log 0 = 0
        return 2.0 * (xlogx(m, y) - y * xp.log(mu) - y + mu)
    if p == 2:  # gamma
        return _gamma_deviance_forward(xp, prediction, target)
    # p < 0 (y may be negative: the saturated term uses max(y, 0)), 1 < p < 2, p > 2
    saturated = m.maximum(y, 0.0) ** (2.0 - p) / ((1.0 - p) * (2.0 - p))
    return 2.0 * (saturated - y * mu ** (1.0 - p) / (1.0 - p) + mu ** (2.0 - p) / (2.0 - p))


def _tweedie_deviance_vjp(xp: Any, g: Any, prediction: Any, target: Any, *, power: float) -> tuple[Any]:
    mu, y = prediction, xp.as_data(target)
    # d/dmu of 2 (-y mu^(1-p)/(1-p) + mu^(2-p)/(2-p)) = 2 (mu^(1-p) - y mu^(-p)) = 2 mu^(-p) (mu - y),
    # and the same for p = 0 (2 (mu - y)), 1 (2 (mu - y)/mu) and 2 (2 (mu - y)/mu^2)
    if power == 0:
        return (g * 2.0 * (mu - y),)
    return (g * 2.0 * (mu - y) * mu ** (-power),)


def _tweedie_deviance_check(prediction: Any, target: Any, *, power: float) -> None:
    same_shape("prediction", prediction, "target", target)
    if power < 0 or power >= 1:
        _refuse("prediction", prediction, prediction <= 0, "positive (a mean)", power)
    if 1 <= power < 2:
        _refuse("target", target, target < 0, "non-negative", power)
    elif power >= 2:
        _refuse("target", target, target <= 0, "positive", power)


TWEEDIE_DEVIANCE = register(
    LossSpec(
        name="tweedie_deviance",
        family="regression",
        args=_MEAN_AND_OBSERVATION,
        forward=_tweedie_deviance_forward,
        vjp=_tweedie_deviance_vjp,
        params={"power": 0.0},
        check=_tweedie_deviance_check,
        sampler=_positive_sampler,
        edge_cases=_positive_edges(),
        formula=r"d = 2\left(\frac{\max(y,0)^{2-p}}{(1-p)(2-p)} - \frac{y \mu^{1-p}}{1-p} + \frac{\mu^{2-p}}{2-p}\right)"
        r"; \ (y-\mu)^2 \ (p=0); \ 2(y\log\frac{y}{\mu} - y + \mu) \ (p=1); \ "
        r"2(\log\frac{\mu}{y} + \frac{y}{\mu} - 1) \ (p=2)",
        reference="Jorgensen 1997 (The Theory of Dispersion Models); sklearn.metrics.mean_tweedie_deviance",
    )
)


def tweedie_deviance(prediction: Any, target: Any, power: float = 0.0, reduction: str = "mean") -> Any:
    r"""Tweedie unit deviance of a target given a predicted mean, for every power scikit-learn allows.

    .. math::  d_i = 2\left(\frac{\max(y_i, 0)^{2-p}}{(1-p)(2-p)} - \frac{y_i \mu_i^{1-p}}{1-p}
               + \frac{\mu_i^{2-p}}{2-p}\right), \qquad
               \frac{\partial d_i}{\partial \mu_i} = 2 \mu_i^{-p} (\mu_i - y_i)

    with :math:`\mu = \hat{y}` the prediction, and its limits at the powers where the formula
    divides by 0:

    - :math:`p = 0` (normal): :math:`d = (y - \mu)^2`, gradient :math:`2(\mu - y)`;
    - :math:`p = 1` (Poisson): :math:`d = 2(y \log(y/\mu) - y + \mu)`, with :math:`0 \log 0 = 0`;
    - :math:`p = 2` (gamma): :math:`d = 2(\log(\mu/y) + y/\mu - 1)` (:func:`gamma_deviance`).

    The one derivative above holds for every power. The domain depends on the power, as in
    scikit-learn, and a value outside it is refused, naming the argument:

    - :math:`p < 0` (extreme stable): any real target, positive prediction;
    - :math:`p = 0` (normal): any real target and prediction;
    - :math:`0 < p < 1`: refused (no Tweedie distribution has such a power);
    - :math:`p = 1` (Poisson) and :math:`1 < p < 2` (compound Poisson-gamma): non-negative
      target, positive prediction;
    - :math:`p = 2` (gamma), :math:`p = 3` (inverse Gaussian) and every :math:`p > 2`: positive
      target and prediction.

    Parameters
    ----------
    prediction : array or Tensor
        The predicted mean :math:`\mu` (not its log: :func:`~nploss.losses.tweedie` takes the
        log mean and drops the terms free of it).
    target : array or Tensor, same shape
        The observation; a constant (no gradient: its derivative is infinite at :math:`y = 0`
        for :math:`1 \le p < 2`).
    power : float, ``p <= 0`` or ``p >= 1``
        The Tweedie variance power; 0 (scikit-learn's default) is the squared error.
    reduction : {'mean', 'sum', 'none'}

    ``'mean'`` equals ``sklearn.metrics.mean_tweedie_deviance(target, prediction, power=p)``
    (scikit-learn's order is ``(y_true, y_pred)``; it refuses 2-D targets, nploss averages over
    every element). ``power=1`` is ``mean_poisson_deviance``, ``power=2``
    ``mean_gamma_deviance``. PyTorch and Keras have none.

    Raises
    ------
    ValueError
        ``0 < power < 1``; a prediction or target outside the domain of the power (list above),
        shapes that differ, NaN inputs, an unknown reduction.
    TypeError
        ``power`` not a real number.

    Examples
    --------
    >>> import numpy as np
    >>> y, mu = np.array([1.0, 3.0]), np.array([2.0, 3.0])
    >>> float(tweedie_deviance(mu, y))  # ((1 - 2)^2 + 0) / 2
    0.5
    >>> round(float(tweedie_deviance(mu, y, power=1)), 12)  # (2 (log(1/2) - 1 + 2) + 0) / 2
    0.30685281944
    >>> float(tweedie_deviance(mu, y, power=3))  # ((y - mu)^2 / (y mu^2) = 1/4, and 0) / 2
    0.125
    """
    power = real("power", power)
    if 0 < power < 1:
        raise ValueError(f"power must be <= 0 or >= 1 (no Tweedie distribution has 0 < power < 1), got {power!r}")
    return apply_loss(TWEEDIE_DEVIANCE, prediction, target, reduction=reduction, power=power)


__all__ = ["gamma_deviance", "tweedie_deviance"]
