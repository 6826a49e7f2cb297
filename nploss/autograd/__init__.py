"""Reverse-mode automatic differentiation on NumPy (or CuPy) arrays.

This module doubles as an array namespace for Tensors: ``nploss.autograd.exp``,
``nploss.autograd.sum``, ``nploss.autograd.where`` ... take the same arguments as their NumPy
namesakes, so code written against a namespace ``xp`` runs on arrays with ``xp = numpy`` and
builds a differentiable graph with ``xp = nploss.autograd``.

Every op here is the reference: its forward is the textbook formula and its VJP the textbook
derivative. Tuned versions of the ops of a convolutional network (threads, saved
intermediates, memory order) live apart, in :mod:`nploss.nn._fused`, held to these by tests.
"""

from .conv import conv2d, fold2d, max_pool2d, pad2d, unfold2d
from .ops import (
    abs,
    add,
    as_data,
    astype,
    broadcast_to,
    clip,
    concatenate,
    divide,
    exp,
    expand_dims,
    getitem,
    log,
    log1p,
    log_softmax,
    logaddexp,
    logsumexp,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    multiply,
    negative,
    power,
    relu,
    reshape,
    scatter_add,
    sigmoid,
    sign,
    softmax,
    softplus,
    sqrt,
    square,
    squeeze,
    stack,
    subtract,
    sum,
    sum_to,
    swapaxes,
    take_along_axis,
    tanh,
    transpose,
    var,
    where,
)
from .tensor import Tensor, enable_grad, grad, is_grad_enabled, make_node, no_grad


def __getattr__(name: str):  # noqa: ANN202
    """Constants and constructors (``arange``, ``eye``, ``float64``, ``pi`` ...) come from the
    backend's array module: they make arrays that are not differentiated. A NumPy function that
    this namespace lacks fails loudly on Tensors (Tensors refuse NumPy ufuncs)."""
    from .. import backend

    try:
        return getattr(backend.xp(), name)
    except AttributeError:
        raise AttributeError(f"module 'nploss.autograd' has no attribute {name!r}") from None

__all__ = [
    "Tensor", "grad", "no_grad", "enable_grad", "is_grad_enabled", "make_node", "as_data",
    "add", "subtract", "multiply", "divide", "negative", "power", "square",
    "exp", "log", "log1p", "sqrt", "abs", "sign", "tanh", "sigmoid", "softplus", "relu",
    "where", "maximum", "minimum", "clip", "logaddexp",
    "sum", "mean", "max", "min", "var", "logsumexp", "log_softmax", "softmax",
    "reshape", "transpose", "swapaxes", "expand_dims", "squeeze", "broadcast_to", "sum_to", "astype",
    "getitem", "scatter_add", "take_along_axis", "concatenate", "stack",
    "matmul", "conv2d", "max_pool2d", "pad2d", "unfold2d", "fold2d",
]  # fmt: skip
