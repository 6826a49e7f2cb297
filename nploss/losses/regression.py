r"""Regression losses: the error :math:`e = \hat{y} - y` between a prediction and a target.

Each loss is one block: the formula and its derivative in the docstring, ``_x_forward`` and
``_x_vjp`` right below, the registry entry, then the public function. Argument order is
``(prediction, target)``, as in PyTorch; both are differentiable (the target's gradient is the
negative of the prediction's for losses of :math:`\hat{y} - y`).
"""

from __future__ import annotations

from typing import Any

from ._apply import apply_loss
from ._spec import Arg, LossSpec, register
from ._validate import same_shape

__all__ = ["mse", "huber"]

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


# ------------------------------------------------------------------------------------ MSE


def _mse_forward(xp: Any, prediction: Any, target: Any) -> Any:
    e = prediction - target
    return e * e


def _mse_vjp(xp: Any, g: Any, prediction: Any, target: Any) -> tuple[Any, Any]:
    grad = 2.0 * g * (prediction - target)  # d e^2 / d prediction = 2e
    return grad, -grad


MSE = register(
    LossSpec(
        name="mse",
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


# ------------------------------------------------------------------------------------ Huber


def _huber_forward(xp: Any, prediction: Any, target: Any, *, delta: float) -> Any:
    e = prediction - target
    a = xp.abs(e)
    # quadratic inside the band, linear outside; the two pieces meet with equal value and slope
    return xp.where(a <= delta, 0.5 * e * e, delta * (a - 0.5 * delta))


def _huber_vjp(xp: Any, g: Any, prediction: Any, target: Any, *, delta: float) -> tuple[Any, Any]:
    grad = g * xp.clip(prediction - target, -delta, delta)  # e inside the band, +-delta outside
    return grad, -grad


def _huber_kinks(prediction: Any, target: Any, *, delta: float) -> Any:
    import numpy as np

    return np.abs(np.abs(prediction - target) - delta)


HUBER = register(
    LossSpec(
        name="huber",
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
