r"""The total loss of the few-shot model: cross entropy plus the weighted regularisers.

The weights :math:`\lambda` are inputs like the terms, so that weights a network predicts
receive their gradient; the policy that sets them lives in :mod:`nploss.fewshot`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._apply import apply_loss
from .._spec import Arg, LossSpec, register
from ._common import _like_input, _scalar_arg

# ------------------------------------------------------------------------------------ total


def _total_forward(xp: Any, ce: Any, var: Any, cov: Any, lambda_var: Any, lambda_cov: Any) -> Any:
    return ce + lambda_var * var + lambda_cov * cov


def _total_vjp(xp: Any, g: Any, ce: Any, var: Any, cov: Any, lambda_var: Any, lambda_cov: Any) -> tuple[Any, ...]:
    return g, g * lambda_var, g * lambda_cov, g * var, g * cov


def _check_total(ce: Any, var: Any, cov: Any, lambda_var: Any, lambda_cov: Any) -> None:
    for name, x in (("ce", ce), ("var", var), ("cov", cov), ("lambda_var", lambda_var), ("lambda_cov", lambda_cov)):
        _scalar_arg(name, x)


def _total_sampler(rng: np.random.Generator, sizes: dict[str, int]) -> list[np.ndarray]:
    # positive lambdas: finite differences must not step a lambda of 0 out of its domain
    low, high = (0.1, -0.4, 0.0, 0.05, 0.05), (3.0, 1.0, 2.0, 1.0, 1.0)  # ce, var, cov, lambda_var, lambda_cov
    return [np.asarray(rng.uniform(lo, hi)) for lo, hi in zip(low, high)]


FEWSHOT_TOTAL = register(
    LossSpec(
        name="fewshot_total",
        family="fewshot",
        args=(
            Arg("ce", "real", ()),
            Arg("var", "real", ()),
            Arg("cov", "real", ()),
            Arg("lambda_var", "nonnegative", ()),
            Arg("lambda_cov", "nonnegative", ()),
        ),
        forward=_total_forward,
        vjp=_total_vjp,
        check=_check_total,
        sampler=_total_sampler,
        nonnegative=False,  # the variance term can be negative
        edge_cases={
            "zero weights": lambda rng: [np.asarray(x) for x in (0.7, -0.3, 2.0, 0.0, 0.0)],
            "terms of 1e4": lambda rng: [np.asarray(x) for x in (1e4, 1.0, 1e4, 1e4, 1e-4)],
        },
        formula=r"L = L_{CE} + \lambda_{var} L_{var} + \lambda_{cov} L_{cov}, \quad "
        r"\partial L / \partial \lambda_{var} = L_{var},\ \partial L / \partial \lambda_{cov} = L_{cov}",
        reference="seed 000 sections 1.2, 3.1 and 5",
    )
)


def fewshot_total(ce: Any, var: Any, cov: Any, lambda_var: Any = 0.1, lambda_cov: Any = 0.01) -> Any:
    r"""The few-shot objective: cross entropy plus the weighted variance and covariance terms.

    .. math::  L = L_{CE} + \lambda_{var} L_{var} + \lambda_{cov} L_{cov}

    .. math::  \frac{\partial L}{\partial L_{CE}} = 1, \quad
               \frac{\partial L}{\partial L_{var}} = \lambda_{var}, \quad
               \frac{\partial L}{\partial L_{cov}} = \lambda_{cov}, \quad
               \frac{\partial L}{\partial \lambda_{var}} = L_{var}, \quad
               \frac{\partial L}{\partial \lambda_{cov}} = L_{cov}

    All five inputs are differentiable, so weights produced by a network (the seed's
    episode-adaptive lambdas) receive :math:`\partial L / \partial \lambda`. Minimised over
    unconstrained :math:`\lambda` this objective would drive the weight of a positive term to 0;
    an adaptive-lambda scheme must constrain or regularise them (that policy, and the EMA
    smoothing of the seed, live in :mod:`nploss.fewshot`).

    Parameters
    ----------
    ce : 0-d array or Tensor
        The classification loss, e.g. :func:`prototypical`.
    var : 0-d array or Tensor
        The prototype term, e.g. :func:`prototype_variance` (may be negative).
    cov : 0-d array or Tensor
        The covariance term, e.g. :func:`covariance`.
    lambda_var, lambda_cov : float, 0-d array or 0-d Tensor, finite and >= 0
        The weights. A Python number takes the dtype of ``ce``.

    Raises
    ------
    ValueError
        An input that is not 0-d, a negative, NaN or infinite weight, NaN or infinite terms.
    TypeError
        A weight given as a bool.

    Examples
    --------
    >>> import numpy as np
    >>> float(fewshot_total(np.asarray(1.5), np.asarray(0.2), np.asarray(3.0)))  # 1.5 + 0.02 + 0.03
    1.55
    """
    like = ce
    ce, var, cov = _like_input("ce", ce, like), _like_input("var", var, like), _like_input("cov", cov, like)
    lambda_var = _like_input("lambda_var", lambda_var, ce)
    lambda_cov = _like_input("lambda_cov", lambda_cov, ce)
    return apply_loss(FEWSHOT_TOTAL, ce, var, cov, lambda_var, lambda_cov, reduction="sum")
