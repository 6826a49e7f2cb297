r"""The PSNR loss (kornia's ``psnr_loss``): the negative peak signal-to-noise ratio of one MSE
pooled over every element.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._apply import apply_loss
from .._params import real
from .._spec import Arg, LossSpec, register
from .._validate import same_shape

# ------------------------------------------------------------------------------------ PSNR

LOG10 = math.log(10.0)


def _psnr_forward(xp: Any, prediction: Any, target: Any, *, max_val: float, reduction: str) -> Any:
    e = prediction - target
    mse = xp.mean(e * e)  # one MSE pooled over every element, batch included (kornia)
    return (10.0 / LOG10) * (xp.log(mse) - 2.0 * math.log(max_val))


def _psnr_vjp(xp: Any, g: Any, prediction: Any, target: Any, *, max_val: float, reduction: str) -> tuple[Any, Any]:
    e = prediction - target
    mse = xp.mean(e * e)
    # d (10 log10 m) / d e_i = (10 / ln 10) (2 e_i / n) / m
    grad = g * (20.0 / (LOG10 * e.size)) * e / mse
    return grad, -grad


def _check_psnr(prediction: Any, target: Any, *, max_val: float, reduction: str = "mean") -> None:
    same_shape("prediction", prediction, "target", target)
    real("max_val", max_val, low=0, low_open=True)


PSNR = register(
    LossSpec(
        name="psnr",
        family="segmentation",
        args=(Arg("prediction", "real", ("N", "C", "H", "W")), Arg("target", "real", ("N", "C", "H", "W"))),
        forward=_psnr_forward,
        vjp=_psnr_vjp,
        reduces_itself=True,
        reductions=("mean",),
        params={"max_val": 1.0},
        check=_check_psnr,
        sizes={"N": 2, "C": 2, "H": 3, "W": 4},
        nonnegative=False,
        edge_cases={
            "one pixel off": lambda rng: [np.eye(4)[None, None] * 1e-3, np.zeros((1, 1, 4, 4))],
            "errors of 1e4": lambda rng: [np.full((1, 2, 2, 2), 1e4), np.zeros((1, 2, 2, 2))],
        },
        formula=r"\ell = -10 \log_{10} \frac{\mathrm{MAX}^2}{\tfrac1n \sum_i (\hat{y}_i - y_i)^2}",
        reference="kornia.losses.psnr_loss (= -kornia.metrics.psnr)",
    )
)


def psnr(prediction: Any, target: Any, max_val: float = 1.0, reduction: str = "mean") -> Any:
    r"""PSNR loss: the negative peak signal-to-noise ratio, in decibels (kornia's ``psnr_loss``).

    .. math::  \ell = -10 \log_{10} \frac{\mathrm{MAX}^2}{m}, \quad m = \frac1n \sum_i e_i^2, \qquad
               \frac{\partial \ell}{\partial \hat{y}_i} = \frac{10}{\ln 10} \frac{2 e_i}{n\, m},

    with :math:`e = \hat{y} - y` over **every** element, batch and channels included (one pooled
    MSE, as kornia). The sign: kornia's ``psnr_loss`` is ``-kornia.metrics.psnr``, so the loss
    decreases as the images agree; it is negative once :math:`m < \mathrm{MAX}^2`, and
    :math:`-\infty` (gradient NaN) for identical images, as in kornia. Not a mean of per-image
    PSNRs: compute those one image at a time.

    Parameters
    ----------
    prediction, target : array or Tensor, same shape
        Both differentiable.
    max_val : float, positive
        :math:`\mathrm{MAX}`, the data range (kornia's required ``max_val``; 1.0 by default here).
    reduction : {'mean'}
        The pooled MSE is the only reduction (kornia has no other).

    Raises
    ------
    ValueError
        Shapes that differ, a non-positive ``max_val``, NaN, a reduction other than 'mean'.

    Examples
    --------
    >>> import numpy as np
    >>> float(psnr(np.ones(1), np.full(1, 1.2), max_val=2.0))   # kornia's docstring: -20
    -20.0
    """
    max_val = real("max_val", max_val, low=0, low_open=True)
    return apply_loss(PSNR, prediction, target, reduction=reduction, max_val=max_val)
