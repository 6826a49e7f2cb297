"""Tools of the fast paths (:class:`~nploss.losses.FastPath`), never of a reference formula.

- :func:`collapse` lets a fast VJP fold its constants into one number instead of an array;
- :func:`subtract_at_labels` subtracts one value per sample at its label, in place, where the
  reference subtracts a dense one-hot matrix;
- :func:`softmax_and_logsumexp` gives both from one exponential per entry;
- :func:`sigmoid` and :func:`relu` give the values of :mod:`nploss.numerics`'s, bitwise, with
  each operation in place on one temporary and without NumPy's slow paths (``where`` on random
  signs branches on every element; ``maximum`` against a scalar has no vectorised loop where
  the two-sided ``clip`` has one).

Each saves a pass over memory or an array as large as the input; tests/losses/test_fast_paths.py
holds every fast path that uses them to its reference (and tests/test_numerics.py these two
functions to the plain ones).
"""

from __future__ import annotations

import math
from typing import Any

import numpy

from .. import numerics
from ..backend import get_array_module


def collapse(g: Any) -> Any:
    """``g`` as one number when it is one number repeated, else ``g`` unchanged.

    The unreduced cotangent of a ``'sum'`` or an unweighted ``'mean'`` is the same value in every
    element (a broadcast view, with zero strides). A VJP that folds its constants into that
    value, ``(prediction - target) * (2.0 * collapse(g))``, multiplies the array once; written
    ``2.0 * g * (prediction - target)`` it would first fill a whole array with ``2.0 * g``. The
    value keeps the dtype of ``g`` (a float32 loss stays float32). Genuine arrays of cotangents
    (``'none'``, per-sample weights) pass unchanged.
    """
    if g.ndim == 0 or g.size == 0 or any(g.strides):
        return g
    return g[(0,) * g.ndim]


def subtract_at_labels(grad: Any, labels: Any, values: Any) -> Any:
    """``grad - values * one_hot(labels)`` along axis 1, in place on ``grad`` (a fresh array,
    owned by the caller): one element per sample, where the dense one-hot product touches all."""
    # the index (n, labels[n, ...], ...) of every sample: an open mesh, one element per sample
    xp = get_array_module(labels)
    index = [xp.expand_dims(labels, 1)]
    for d in (0, *range(2, grad.ndim)):
        shape = [1] * grad.ndim
        shape[d] = grad.shape[d]
        index.insert(d, xp.arange(grad.shape[d]).reshape(shape))
    grad[tuple(index)] -= values
    return grad


def sigmoid(xp: Any, x: Any) -> Any:
    r""":math:`\sigma(x)` of a floating array, as :func:`nploss.numerics.sigmoid`: with
    :math:`e = e^{-|x|}`, the numerator (1 where x >= 0, e elsewhere) is :math:`\max(e, [x \ge 0])`
    since :math:`0 < e \le 1`, the same values as the reference's ``where`` without its branch."""
    if x.ndim == 0:  # ufuncs give a scalar for a 0-d array, which takes no out=
        return numerics.sigmoid(xp, x)
    e = xp.abs(x)
    xp.negative(e, out=e)
    xp.exp(e, out=e)
    out = xp.asarray(x >= 0, dtype=e.dtype)
    xp.maximum(e, out, out=out)
    e += 1.0
    out /= e
    return out


def relu(xp: Any, x: Any) -> Any:
    r""":math:`\max(x, 0)` of a floating array as ``clip(x, 0, inf)``: the same values."""
    return xp.clip(x, 0, math.inf)


def softmax_and_logsumexp(xp: Any, x: Any, axis: int = -1) -> tuple[Any, Any]:
    r"""Softmax and log-sum-exp (kept dims) along ``axis``, from one exponential per entry:
    with :math:`e_i = e^{x_i - m}` and :math:`s = \sum_i e_i`, the softmax is :math:`e_i / s` and
    the log-sum-exp :math:`m + \log s`, the exponentials taken and divided in place. Cross
    entropy's fast path keeps the first for its backward pass, which then takes no exponential
    at all; the values are those of :func:`nploss.numerics.softmax` and
    :func:`~nploss.numerics.logsumexp`, bitwise."""
    m = numerics.finite_max(xp, x, axis)
    e = x - m
    if e.ndim and e.dtype.kind == "f":  # a fresh floating array: exponentiated and divided in place
        xp.exp(e, out=e)
    else:
        e = xp.exp(e)
    s = xp.sum(e, axis=axis, keepdims=True)
    with numpy.errstate(divide="ignore"):  # an all -inf row: log(0) = -inf, as in logsumexp
        lse = xp.log(s) + m
    e /= s
    return e, lse


__all__ = ["collapse", "subtract_at_labels", "sigmoid", "relu", "softmax_and_logsumexp"]
