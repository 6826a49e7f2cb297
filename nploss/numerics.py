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
    return xp.where(x >= 0, 1.0, e) / (1.0 + e)


def softplus(xp: Any, x: Any) -> Any:
    r"""Softplus :math:`\log(1 + e^{x}) = \max(x, 0) + \log(1 + e^{-|x|})` without overflow.

    ``log1p`` keeps the precision of the small term when x is large in magnitude.
    """
    return relu(xp, x) + xp.log1p(xp.exp(-xp.abs(x)))


def relu(xp: Any, x: Any) -> Any:
    r""":math:`\max(x, 0)`, in the dtype of ``x``."""
    return xp.maximum(x, 0)


def logsumexp(xp: Any, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    r"""Log-sum-exp :math:`m + \log \sum_i e^{x_i - m}` with :math:`m = \max_i x_i`.

    Shifting by the maximum makes the largest exponent :math:`e^0 = 1`, so nothing overflows
    and the sum is at least 1 (no log of 0). Rows that are all :math:`-\infty` give
    :math:`-\infty` rather than NaN.
    """
    m = finite_max(xp, x, axis)
    with numpy.errstate(divide="ignore"):  # log(0) = -inf is the right answer for such rows
        out = xp.log(xp.sum(xp.exp(x - m), axis=axis, keepdims=True)) + m
    if not keepdims:
        out = xp.squeeze(out, axis=axis) if axis is not None else out.reshape(())
    return out


def softmax(xp: Any, x: Any, axis: int = -1) -> Any:
    r"""Softmax :math:`e^{x_i - m} / \sum_j e^{x_j - m}` with :math:`m = \max_j x_j`: one exponential
    per entry, and a denominator of at least 1 (the largest entry contributes :math:`e^0`)."""
    e = xp.exp(x - finite_max(xp, x, axis))
    return e / xp.sum(e, axis=axis, keepdims=True)


def finite_max(xp: Any, x: Any, axis: Any) -> Any:
    r"""The shift of the exponentials: the maximum over ``axis`` (keepdims), or 0 where it is not
    finite (an all :math:`-\infty` row then stays :math:`e^{-\infty} = 0` instead of NaN)."""
    if x.size == 0:  # a maximum of nothing: any shift will do for an empty sum
        return xp.zeros(tuple(1 if axis is None or i == axis % x.ndim else n for i, n in enumerate(x.shape)), dtype=x.dtype)
    m = xp.max(x, axis=axis, keepdims=True)
    return xp.where(xp.isfinite(m), m, 0)


def broadcast_axes(broadcast_shape: tuple[int, ...], shape: tuple[int, ...]) -> tuple[int, ...]:
    """The axes of ``broadcast_shape`` along which an array of ``shape`` was repeated: the leading
    ones it lacks and those where it has size 1. Summing over them undoes the broadcast."""
    lead = len(broadcast_shape) - len(shape)
    return tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and broadcast_shape[lead + i] != 1)


class ArrayNamespace:
    """An array module (NumPy or CuPy) plus the functions losses need that it lacks.

    Losses are written once against a namespace ``xp``; this class makes a plain array module
    speak the same language as :mod:`nploss.autograd` (``xp.sigmoid``, ``xp.logsumexp``,
    ``xp.scatter_add`` ...), so the same formula runs on arrays and builds a graph on Tensors.
    Everything else is looked up on the wrapped module.
    """

    def __init__(self, module: Any) -> None:
        self.module = module

    def __getattr__(self, name: str) -> Any:
        return getattr(self.module, name)

    def __repr__(self) -> str:
        return f"ArrayNamespace({self.module.__name__})"

    def as_data(self, x: Any) -> Any:
        return x

    def sigmoid(self, x: Any) -> Any:
        return sigmoid(self.module, x)

    def softplus(self, x: Any) -> Any:
        return softplus(self.module, x)

    def relu(self, x: Any) -> Any:
        return relu(self.module, x)

    def logsumexp(self, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
        return logsumexp(self.module, x, axis=axis, keepdims=keepdims)

    def log_softmax(self, x: Any, axis: int = -1) -> Any:
        return x - logsumexp(self.module, x, axis=axis, keepdims=True)

    def softmax(self, x: Any, axis: int = -1) -> Any:
        return softmax(self.module, x, axis=axis)

    def sum_to(self, x: Any, shape: Any) -> Any:
        """``x`` summed down to ``shape``: the adjoint of broadcasting (as ``nploss.autograd.sum_to``)."""
        shape = tuple(shape)
        if x.shape == shape:
            return x
        return self.module.sum(x, axis=broadcast_axes(x.shape, shape), keepdims=True).reshape(shape)

    def square(self, x: Any) -> Any:
        return x * x

    def scatter_add(self, values: Any, index: Any, shape: Any) -> Any:
        """Zeros of ``shape`` with ``values`` added at ``index``, repeated indices adding up."""
        from .backend import scatter_add

        out = self.module.zeros(tuple(shape), dtype=values.dtype)
        scatter_add(out, index, values)
        return out


_namespaces: dict[int, ArrayNamespace] = {}


def array_namespace(module: Any) -> ArrayNamespace:
    """The (cached) :class:`ArrayNamespace` of an array module."""
    if id(module) not in _namespaces:
        _namespaces[id(module)] = ArrayNamespace(module)
    return _namespaces[id(module)]
