"""Numerically stable array functions shared by the engine's ops and the losses.

Each takes the array module ``xp`` first (NumPy or CuPy) and plain arrays, never Tensors. They
exist because NumPy itself has no stable sigmoid, softplus or log-sum-exp, and the naive
formulas overflow: ``1 / (1 + exp(-x))`` warns at x = -1000, ``log(1 + exp(x))`` is inf at
x = 1000 and ``log(sum(exp(x)))`` is inf as soon as one entry passes about 709 (float64).
"""

from __future__ import annotations

from typing import Any

import numpy


def sigmoid(xp: Any, x: Any) -> Any:
    r"""Logistic function :math:`\sigma(x) = 1 / (1 + e^{-x})` without overflow.

    With :math:`e = e^{-|x|} \in (0, 1]`: :math:`\sigma(x) = 1/(1+e)` for x >= 0 and
    :math:`e/(1+e)` for x < 0; neither branch can overflow.
    """
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def softplus(xp: Any, x: Any) -> Any:
    r"""Softplus :math:`\log(1 + e^{x}) = \max(x, 0) + \log(1 + e^{-|x|})` without overflow.

    ``log1p`` keeps the precision of the small term when x is large in magnitude.
    """
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


def logsumexp(xp: Any, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    r"""Log-sum-exp :math:`m + \log \sum_i e^{x_i - m}` with :math:`m = \max_i x_i`.

    Shifting by the maximum makes the largest exponent :math:`e^0 = 1`, so nothing overflows
    and the sum is at least 1 (no log of 0). Rows that are all :math:`-\infty` give
    :math:`-\infty` rather than NaN.
    """
    m = xp.max(x, axis=axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0)
    with numpy.errstate(divide="ignore"):  # log(0) = -inf is the right answer for such rows
        out = xp.log(xp.sum(xp.exp(x - m), axis=axis, keepdims=True)) + m
    if not keepdims:
        out = xp.squeeze(out, axis=axis) if axis is not None else out.reshape(())
    return out
