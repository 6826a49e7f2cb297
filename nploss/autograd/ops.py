r"""Primitive ops: a forward on arrays and, right beside it, its vector-Jacobian product.

Each op computes its result with the array module of its inputs and records, through
:func:`make_node`, a VJP ``lambda g, out: (...)`` returning one cotangent per input. The VJPs are
written with these same ops, never with raw arrays, so that a backward pass recorded with
``create_graph=True`` is itself differentiable. Broadcasting is undone centrally by the engine
(``sum_to``), so a VJP may return a cotangent in the broadcast shape.

The arithmetic and elementwise ops state their VJP as a *formula* in arithmetic operators only,
e.g. ``_tanh_vjp(g, x, y) = g * (1.0 - y * y)`` (see :func:`_unary`, :func:`_binary`).
Operators mean the same on arrays and on Tensors, so the one formula serves both kinds of backward
pass: a recorded one evaluates it on Tensors (differentiable again), a plain one on the arrays,
without making a Tensor for every intermediate step (on small arrays that bookkeeping, not the
arithmetic, is most of the cost). The formulas are functions of the module, made once, rather
than lambdas at the call, which would make a new function object at every op.

Subgradients at ties and kinks (documented, and matching PyTorch):

- ``abs``, ``sign``: the derivative of :math:`|x|` at 0 is 0; ``sign`` has derivative 0.
- ``relu``: derivative 0 at 0.
- ``maximum``/``minimum``: at a tie the cotangent is split equally, :math:`g/2` to each side.
- ``max`` over an axis: the cotangent is split equally among all the maximal entries
  (``torch.amax``).
- ``clip``: derivative 1 when :math:`lo \le x \le hi` (boundaries included), 0 outside.
"""

from __future__ import annotations

import builtins
import functools
import math
import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy

from .. import backend, numerics
from .tensor import VJP, Tensor, constant, is_grad_enabled, make_node

# ------------------------------------------------------------------------------------ helpers


def as_data(x: Any) -> Any:
    """The array inside a Tensor; anything else unchanged."""
    return x.data if isinstance(x, Tensor) else x


def _xp(x: Tensor) -> Any:
    return backend.get_array_module(x.data)


_PYTHON_NUMBER = (int, float)  # a tuple: isinstance(x, int | float) builds the union every call


def _lift(x: Any, like: Tensor | None = None) -> Tensor:
    """A constant as a Tensor. Python numbers take the floating dtype of ``like``, so that
    ``x * 2.0`` stays float32 when ``x`` is float32 (a float64 constant would promote it)."""
    if isinstance(x, Tensor):
        return x
    if like is not None and isinstance(x, _PYTHON_NUMBER):
        dtype = like.data.dtype
        if dtype.kind == "f":
            # for a NumPy array itself, not a subclass (a stand-in for a device array may be one)
            # nor a NumPy scalar (no gain); not for 0.0, as 0.0 == -0.0: see _numpy_constant
            if x and type(like.data) is numpy.ndarray:
                return _numpy_constant(x, dtype)
            return constant(dtype.type(x))
    return Tensor(x)


@functools.lru_cache(maxsize=1024)
def _numpy_constant(x: float, dtype: Any) -> Tensor:
    """The number ``x`` as a read-only 0-d NumPy array of ``dtype``, made once per (x, dtype).

    Why a 0-d array and not a NumPy scalar: NumPy combines a 0-d array with an array with less
    overhead than a scalar, and on small arrays that overhead is most of an op (the figures are
    in benchmarks/RESULTS.md, "Notes on the fast kernels").
    Why made once: models multiply by the same few numbers at every step. Read-only, so that
    sharing it is safe. Signed zeros are kept out (``0.0 == -0.0`` would give one the other's
    constant).
    """
    data = numpy.asarray(x, dtype=dtype)
    data.flags.writeable = False
    return constant(data)


def _pair(a: Any, b: Any) -> tuple[Tensor, Tensor]:
    """Both operands of a binary op as Tensors (a constant takes the dtype of the other side)."""
    # Two Tensors is by far the commonest case (every VJP): answer it first
    if isinstance(a, Tensor):
        return a, (b if isinstance(b, Tensor) else _lift(b, a))
    return _lift(a, b if isinstance(b, Tensor) else None), _lift(b)


def _broadcast(name: str, a: Tensor, b: Tensor, fn: Any) -> Any:
    """``fn(a.data, b.data)``, with an error naming the op when the shapes do not broadcast."""
    try:
        return fn(a.data, b.data)
    except ValueError as error:
        raise ValueError(f"{name}: shapes {a.shape} and {b.shape} are incompatible ({error})") from None


def _normalize_axis(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    for a in axes:
        if not -ndim <= a < builtins.max(ndim, 1):
            raise ValueError(f"axis {a} is out of bounds for a Tensor of {ndim} dimensions")
    return tuple(sorted(a % builtins.max(ndim, 1) for a in axes))


def _unreduce(g: Tensor, shape: tuple[int, ...], axis: Any, keepdims: bool) -> Tensor:
    """Broadcast the cotangent of a reduction back to the shape of its input."""
    if not keepdims:
        axes = _normalize_axis(axis, len(shape))
        g = reshape(g, tuple(1 if i in axes else n for i, n in enumerate(shape)))
    return broadcast_to(g, shape)


def _unary(x: Tensor, data: Any, formula: Callable[[Any, Any, Any], Any]) -> Tensor:
    """The node of an elementwise op ``y = f(x)`` whose VJP is ``formula(g, x, y)``, written
    with arithmetic operators only: on Tensors when the backward pass is recorded, else on arrays
    (only the result is wrapped)."""
    return make_node(data, (x,), _unary_vjp_of(formula))


# The VJP depends on the formula only (the node hands it g and itself), so every node of an op
# shares one VJP object, made on the op's first use: nothing to build or collect per node.
@functools.cache
def _unary_vjp_of(formula: Callable[[Any, Any, Any], Any]) -> VJP:
    return functools.partial(_unary_vjp, formula)


def _unary_vjp(formula: Callable[[Any, Any, Any], Any], g: Tensor, out: Tensor) -> tuple[Tensor]:
    (x,) = out._parents
    if is_grad_enabled():
        return (formula(g, x, out),)
    return (constant(formula(g.data, x.data, out.data)),)


def _binary(a: Tensor, b: Tensor, data: Any, formula_a: Callable[..., Any], formula_b: Callable[..., Any]) -> Tensor:
    """The node of a binary op ``out = f(a, b)`` whose VJPs are ``formula_a(g, a, b, out)`` and
    ``formula_b(g, a, b, out)``, as in :func:`_unary`. Only the inputs that require a gradient
    get one: the product for a constant side is never computed."""
    return make_node(data, (a, b), _binary_vjp_of(formula_a, formula_b))


@functools.cache
def _binary_vjp_of(formula_a: Callable[..., Any], formula_b: Callable[..., Any]) -> VJP:
    return functools.partial(_binary_vjp, formula_a, formula_b)


def _binary_vjp(
    formula_a: Callable[..., Any], formula_b: Callable[..., Any], g: Tensor, out: Tensor
) -> tuple[Tensor | None, Tensor | None]:
    a, b = out._parents
    if is_grad_enabled():
        return (
            formula_a(g, a, b, out) if a.requires_grad else None,
            formula_b(g, a, b, out) if b.requires_grad else None,
        )
    arrays = (g.data, a.data, b.data, out.data)
    return (
        constant(formula_a(*arrays)) if a.requires_grad else None,
        constant(formula_b(*arrays)) if b.requires_grad else None,
    )


# ------------------------------------------------------------------------------------ arithmetic


def add(a: Any, b: Any) -> Tensor:
    a, b = _pair(a, b)
    return make_node(_broadcast("add", a, b, operator.add), (a, b), lambda g, out: (g, g))


def subtract(a: Any, b: Any) -> Tensor:
    a, b = _pair(a, b)
    return make_node(_broadcast("subtract", a, b, operator.sub), (a, b), lambda g, out: (g, -g))


def _multiply_vjp_a(g: Any, a: Any, b: Any, out: Any) -> Any:
    return g * b


def _multiply_vjp_b(g: Any, a: Any, b: Any, out: Any) -> Any:
    return g * a


def multiply(a: Any, b: Any) -> Tensor:
    a, b = _pair(a, b)
    return _binary(a, b, _broadcast("multiply", a, b, operator.mul), _multiply_vjp_a, _multiply_vjp_b)


def _divide_vjp_a(g: Any, a: Any, b: Any, out: Any) -> Any:
    return g / b


def _divide_vjp_b(g: Any, a: Any, b: Any, out: Any) -> Any:
    return -(g * out) / b  # d(a/b)/db = -a/b^2 = -out/b


def divide(a: Any, b: Any) -> Tensor:
    a, b = _pair(a, b)
    return _binary(a, b, _broadcast("divide", a, b, operator.truediv), _divide_vjp_a, _divide_vjp_b)


def _negative_vjp(g: Any, x: Any, y: Any) -> Any:
    return -g


def negative(x: Any) -> Tensor:
    x = _lift(x)
    return _unary(x, -x.data, _negative_vjp)


def power(base: Any, exponent: Any) -> Tensor:
    r"""``base ** exponent``. A constant exponent is a primitive with
    :math:`\partial/\partial x\, x^c = c x^{c-1}`; a Tensor exponent is the composite
    :math:`e^{c \log x}`, defined for positive bases only."""
    if isinstance(exponent, Tensor):
        return exp(exponent * log(base))
    x = _lift(base)
    c = exponent
    return make_node(x.data**c, (x,), lambda g, out: (g * c * x ** (c - 1),))


def square(x: Any) -> Tensor:
    return multiply(x, x)


# ------------------------------------------------------------------------------------ elementwise


def _exp_vjp(g: Any, x: Any, y: Any) -> Any:
    return g * y  # exp' = exp


def exp(x: Any) -> Tensor:
    x = _lift(x)
    return _unary(x, _xp(x).exp(x.data), _exp_vjp)


def _log_vjp(g: Any, x: Any, y: Any) -> Any:
    return g / x


def log(x: Any) -> Tensor:
    x = _lift(x)
    return _unary(x, _xp(x).log(x.data), _log_vjp)


def _log1p_vjp(g: Any, x: Any, y: Any) -> Any:
    return g / (x + 1.0)


def log1p(x: Any) -> Tensor:
    x = _lift(x)
    return _unary(x, _xp(x).log1p(x.data), _log1p_vjp)


def _sqrt_vjp(g: Any, x: Any, y: Any) -> Any:
    return g * 0.5 / y  # sqrt'(x) = 1 / (2 sqrt(x))


def sqrt(x: Any) -> Tensor:
    x = _lift(x)
    return _unary(x, _xp(x).sqrt(x.data), _sqrt_vjp)


def abs(x: Any) -> Tensor:  # noqa: A001  (mirrors numpy.abs)
    x = _lift(x)
    return make_node(_xp(x).abs(x.data), (x,), lambda g, out: (g * sign(x),))


def _sign_vjp(g: Any, x: Any, y: Any) -> Any:
    return g * 0.0  # piecewise constant


def sign(x: Any) -> Tensor:
    x = _lift(x)
    return _unary(x, _xp(x).sign(x.data), _sign_vjp)


def _tanh_vjp(g: Any, x: Any, y: Any) -> Any:
    return g * (1.0 - y * y)  # tanh' = 1 - tanh^2


def tanh(x: Any) -> Tensor:
    x = _lift(x)
    return _unary(x, _xp(x).tanh(x.data), _tanh_vjp)


def _sigmoid_vjp(g: Any, x: Any, y: Any) -> Any:
    return g * y * (1.0 - y)  # sigmoid' = sigmoid (1 - sigmoid)


def sigmoid(x: Any) -> Tensor:
    x = _lift(x)
    return _unary(x, numerics.sigmoid(_xp(x), x.data), _sigmoid_vjp)


def softplus(x: Any) -> Tensor:
    x = _lift(x)
    return make_node(numerics.softplus(_xp(x), x.data), (x,), lambda g, out: (g * sigmoid(x),))


def relu(x: Any) -> Tensor:
    r""":math:`\max(x, 0)`; its derivative is :math:`[x > 0]` (0 at 0). A NaN stays NaN, as in ``torch.relu``."""
    x = _lift(x)
    positive = x.data > 0
    return make_node(_xp(x).maximum(x.data, 0), (x,), lambda g, out: (where(positive, g, 0.0),))


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """``a`` where ``condition`` holds, else ``b``; ``condition`` is not differentiated."""
    a, b = _pair(a, b)
    xp = backend.get_array_module(a.data, b.data)
    cond = xp.asarray(as_data(condition))  # on the device of a and b (where it is, a no-op)
    data = xp.where(cond, a.data, b.data)
    return make_node(data, (a, b), lambda g, out: (where(cond, g, 0.0), where(cond, 0.0, g)))


def maximum(a: Any, b: Any) -> Tensor:
    a, b = _pair(a, b)
    xp = _xp(a)
    out = _broadcast("maximum", a, b, xp.maximum)
    # share of the cotangent that goes to a: 1 where a wins, 1/2 at a tie, 0 where b wins
    share = xp.where(a.data > b.data, 1.0, xp.where(a.data == b.data, 0.5, 0.0)).astype(out.dtype)
    return make_node(out, (a, b), lambda g, out: (g * share, g * (1.0 - share)))


def minimum(a: Any, b: Any) -> Tensor:
    a, b = _pair(a, b)  # a Python number takes the other side's dtype (no float64 promotion)
    return negative(maximum(negative(a), negative(b)))


def clip(x: Any, lo: Any = None, hi: Any = None) -> Tensor:
    """Clamp to ``[lo, hi]`` (either may be None); the bounds are constants."""
    x = _lift(x)
    xp = _xp(x)
    lo, hi = as_data(lo), as_data(hi)
    data = xp.clip(x.data, lo, hi)
    inside = xp.ones(x.shape, dtype=bool)
    if lo is not None:
        inside &= x.data >= lo
    if hi is not None:
        inside &= x.data <= hi
    return make_node(data, (x,), lambda g, out: (where(inside, g, 0.0),))


def logaddexp(a: Any, b: Any) -> Tensor:
    r""":math:`\log(e^a + e^b) = \max(a, b) + \mathrm{softplus}(-|a - b|)`, stable for any a, b."""
    return maximum(a, b) + softplus(-abs(subtract(a, b)))


# ------------------------------------------------------------------------------------ reductions


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    x = _lift(x)
    _normalize_axis(axis, x.ndim)
    data = _xp(x).sum(x.data, axis=axis, keepdims=keepdims)
    return make_node(data, (x,), lambda g, out: (_unreduce(g, x.shape, axis, keepdims),))


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    x = _lift(x)
    count = math.prod(x.shape[a] for a in _normalize_axis(axis, x.ndim))
    return sum(x, axis=axis, keepdims=keepdims) * (1.0 / builtins.max(count, 1))


def max(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Maximum over ``axis``; the cotangent is shared equally by tied maxima (``torch.amax``)."""
    x = _lift(x)
    _normalize_axis(axis, x.ndim)
    xp = _xp(x)
    kept = xp.max(x.data, axis=axis, keepdims=True)
    winners = (x.data == kept).astype(x.dtype)
    share = winners / xp.sum(winners, axis=axis, keepdims=True)
    data = kept if keepdims else xp.max(x.data, axis=axis)
    return make_node(data, (x,), lambda g, out: (_unreduce(g, x.shape, axis, keepdims) * share,))


def min(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return negative(max(negative(x), axis=axis, keepdims=keepdims))


def var(x: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
    r"""Variance :math:`\frac{1}{n - \mathrm{ddof}} \sum (x - \bar{x})^2` over ``axis``."""
    x = _lift(x)
    count = math.prod(x.shape[a] for a in _normalize_axis(axis, x.ndim))
    centred = x - mean(x, axis=axis, keepdims=True)
    return sum(centred * centred, axis=axis, keepdims=keepdims) * (1.0 / (count - ddof))


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    r""":math:`\log \sum_i e^{x_i}`; its VJP is :math:`g \cdot \mathrm{softmax}(x) = g\, e^{x - \mathrm{out}}`."""
    x = _lift(x)
    _normalize_axis(axis, x.ndim)
    data = numerics.logsumexp(_xp(x), x.data, axis=axis, keepdims=keepdims)
    return make_node(
        data,
        (x,),
        lambda g, out: (
            _unreduce(g, x.shape, axis, keepdims) * exp(x - _unreduce(out, x.shape, axis, keepdims)),
        ),
    )


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    return x - logsumexp(x, axis=axis, keepdims=True)


def softmax(x: Any, axis: int = -1) -> Tensor:
    return exp(log_softmax(x, axis=axis))


def batch_norm(x: Any, weight: Any = None, bias: Any = None, axis: Any = 0, eps: float = 1e-5) -> tuple[Tensor, Any, Any]:
    r"""Batch normalisation with the batch's own statistics, as one node (training mode).

    .. math::  \hat{x} = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}}, \qquad y = \gamma \hat{x} + \beta

    with :math:`\mu` and the biased :math:`\sigma^2` taken over ``axis`` (``(0, 2, 3)`` for
    images), ``weight`` :math:`\gamma` and ``bias`` :math:`\beta` shaped to broadcast against
    ``x`` (or None). With :math:`n` values per statistic and means over ``axis``, the VJP is

    .. math::  \bar\beta = \textstyle\sum \bar{y}, \qquad \bar\gamma = \sum \bar{y}\,\hat{x}, \qquad
               \bar{x} = \frac{\gamma}{\sqrt{\sigma^2 + \epsilon}}
               \left(\bar{y} - \mathrm{mean}(\bar{y}) - \hat{x}\, \mathrm{mean}(\bar{y}\,\hat{x})\right)

    (the statistics depend on :math:`x` too: the two means are their share of the gradient).
    It is the gradient of the composition of ``mean``, ``var``, ``sqrt`` ..., in one node. The
    VJP is written with ops and recomputes :math:`\hat{x}` from :math:`x`, so a recorded
    backward pass (``create_graph=True``) differentiates it again. The layers use a fused
    version, :func:`nploss.nn._fused.batch_norm`, held to this one by ``tests/nn/test_fused.py``.

    Returns
    -------
    (y, mean, var) : the output Tensor, and the batch mean and biased variance as arrays
    (keepdims shape), for the running estimates.
    """
    x = _lift(x)
    weight = None if weight is None else _lift(weight)
    bias = None if bias is None else _lift(bias)
    axes = _normalize_axis(axis, x.ndim)
    xp = _xp(x)
    mu = xp.mean(x.data, axis=axes, keepdims=True)
    sigma2 = xp.var(x.data, axis=axes, keepdims=True)  # biased: divides by n
    data = (x.data - mu) / xp.sqrt(sigma2 + eps)
    if weight is not None:
        data = data * weight.data
    if bias is not None:
        data = data + bias.data
    parents = tuple(t for t in (x, weight, bias) if t is not None)

    def vjp(g: Tensor, out: Tensor) -> tuple[Tensor, ...]:
        return batch_norm_vjp(g, x, weight, bias, axes, eps)

    return make_node(data, parents, vjp), mu, sigma2


def batch_norm_vjp(
    g: Tensor, x: Tensor, weight: Tensor | None, bias: Tensor | None, axes: tuple[int, ...], eps: float
) -> tuple[Tensor, ...]:
    """The cotangents of ``x``, then ``weight`` and ``bias`` where given, of :func:`batch_norm`
    (the formula of its docstring), written with ops."""
    count = math.prod(x.shape[a] for a in axes)
    centred = x - mean(x, axis=axes, keepdims=True)
    inv_std = power(mean(centred * centred, axis=axes, keepdims=True) + eps, -0.5)
    x_hat = centred * inv_std
    g_bias = sum(g, axis=axes, keepdims=True)
    g_weight = sum(g * x_hat, axis=axes, keepdims=True)
    scale = inv_std if weight is None else inv_std * weight
    g_x = scale * (g - g_bias * (1.0 / count) - x_hat * (g_weight * (1.0 / count)))
    grads = [g_x]
    if weight is not None:
        grads.append(reshape(g_weight, weight.shape))
    if bias is not None:
        grads.append(reshape(g_bias, bias.shape))
    return tuple(grads)


# ------------------------------------------------------------------------------------ shapes


def reshape(x: Any, shape: Any) -> Tensor:
    x = _lift(x)
    return make_node(x.data.reshape(shape), (x,), lambda g, out: (reshape(g, x.shape),))


def inverse_permutation(axes: Sequence[int]) -> tuple[int, ...]:
    """The axes that undo ``transpose(x, axes)``: ``transpose(transpose(x, axes), inverse)`` is x."""
    return tuple(sorted(range(len(axes)), key=list(axes).__getitem__))


def transpose(x: Any, axes: Any = None) -> Tensor:
    x = _lift(x)
    axes = tuple(reversed(range(x.ndim))) if axes is None else tuple(a % x.ndim for a in axes)
    inverse = inverse_permutation(axes)
    return make_node(x.data.transpose(axes), (x,), lambda g, out: (transpose(g, inverse),))


def swapaxes(x: Any, axis1: int, axis2: int) -> Tensor:
    x = _lift(x)
    axes = list(range(x.ndim))
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return transpose(x, axes)


def expand_dims(x: Any, axis: int) -> Tensor:
    x = _lift(x)
    return reshape(x, _xp(x).expand_dims(x.data, axis).shape)


def squeeze(x: Any, axis: Any = None) -> Tensor:
    x = _lift(x)
    return reshape(x, _xp(x).squeeze(x.data, axis=axis).shape)


def broadcast_to(x: Any, shape: Sequence[int]) -> Tensor:
    x = _lift(x)
    shape = tuple(shape)
    if x.shape == shape:
        return x
    data = _xp(x).broadcast_to(x.data, shape)
    return make_node(data, (x,), lambda g, out: (sum_to(g, x.shape),))


def sum_to(x: Any, shape: Sequence[int]) -> Tensor:
    """Sum ``x`` down to ``shape``: the adjoint of :func:`broadcast_to` (and undoes broadcasting)."""
    x = _lift(x)
    shape = tuple(shape)
    if x.shape == shape:
        return x
    data = _xp(x).sum(x.data, axis=numerics.broadcast_axes(x.shape, shape), keepdims=True).reshape(shape)
    return make_node(data, (x,), lambda g, out: (broadcast_to(g, x.shape),))


def astype(x: Any, dtype: Any) -> Tensor:
    x = _lift(x)
    return make_node(x.data.astype(dtype), (x,), lambda g, out: (astype(g, x.dtype),))


# ------------------------------------------------------------------------------------ indexing


def _plain_index(index: Any, xp: Any) -> Any:
    """``index`` with Tensors replaced by their data, and its arrays on the device of the indexed
    array (module ``xp``): CuPy's kernels, the VJP's scatter-add among them, take no host array."""

    def plain(i: Any) -> Any:
        i = as_data(i)
        return xp.asarray(i) if isinstance(i, numpy.ndarray) and not isinstance(i, xp.ndarray) else i

    return tuple(plain(i) for i in index) if isinstance(index, tuple) else plain(index)


def _is_basic(index: Any) -> bool:
    """Basic indexing (ints, slices, None, ...) never selects an element twice."""
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, int | slice) for i in items)


def getitem(x: Any, index: Any) -> Tensor:
    """``x[index]`` with NumPy's basic and advanced indexing; repeated indices add up in the VJP."""
    x = _lift(x)
    index = _plain_index(index, _xp(x))
    return make_node(x.data[index], (x,), lambda g, out: (scatter_add(g, index, x.shape),))


def scatter_add(values: Any, index: Any, shape: Sequence[int]) -> Tensor:
    """Zeros of ``shape`` with ``values`` added at ``index`` (``numpy.add.at``): the adjoint of
    :func:`getitem`."""
    values = _lift(values)
    data = _xp(values).zeros(tuple(shape), dtype=values.dtype)
    if _is_basic(index):
        data[index] = values.data
    else:
        backend.scatter_add(data, index, values.data)
    return make_node(data, (values,), lambda g, out: (getitem(g, index),))


def take_along_axis(x: Any, indices: Any, axis: int) -> Tensor:
    """Gather ``x`` along ``axis`` at ``indices`` (same ndim), as ``numpy.take_along_axis``;
    written as advanced indexing so that the gradient of repeated indices adds up."""
    x = _lift(x)
    xp = _xp(x)
    indices = as_data(indices)
    axis = axis % x.ndim
    index = []
    for d in range(x.ndim):
        if d == axis:
            index.append(indices)
        else:
            shape = [1] * x.ndim
            shape[d] = x.shape[d]
            index.append(xp.arange(x.shape[d]).reshape(shape))
    return getitem(x, tuple(index))


def concatenate(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    tensors = [_lift(t) for t in tensors]
    xp = _xp(tensors[0])
    axis = axis % tensors[0].ndim
    data = xp.concatenate([t.data for t in tensors], axis=axis)
    bounds = [0]
    for t in tensors:
        bounds.append(bounds[-1] + t.shape[axis])
    lead = (slice(None),) * axis

    def vjp(g: Tensor, out: Tensor) -> list[Tensor]:
        return [getitem(g, lead + (slice(lo, hi),)) for lo, hi in zip(bounds[:-1], bounds[1:])]

    return make_node(data, tuple(tensors), vjp)


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    return concatenate([expand_dims(t, axis) for t in tensors], axis=axis)


# ------------------------------------------------------------------------------------ linear algebra


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with NumPy's batching rules; batch broadcasting is undone by the engine."""
    a, b = _pair(a, b)
    if a.ndim == 1 or b.ndim == 1:
        # A vector on the left is a row, on the right a column; its axis is dropped afterwards.
        out = matmul(reshape(a, (1, -1)) if a.ndim == 1 else a, reshape(b, (-1, 1)) if b.ndim == 1 else b)
        rows = (out.shape[-2],) if a.ndim > 1 else ()
        cols = (out.shape[-1],) if b.ndim > 1 else ()
        return reshape(out, out.shape[:-2] + rows + cols)
    data = _broadcast("matmul", a, b, operator.matmul)
    # A parent that needs no gradient (the data of a first convolution) gets None: its
    # product would be the most expensive one of the backward pass.
    return make_node(
        data,
        (a, b),
        lambda g, out: (
            matmul(g, swapaxes(b, -1, -2)) if a.requires_grad else None,
            matmul(swapaxes(a, -1, -2), g) if b.requires_grad else None,
        ),
    )


# ``a * b`` calls ``multiply(a, b)`` directly, with no method in between: on small arrays the
# engine's cost per op is mostly Python calls like that one. The reflected operators
# (``2.0 * a``) swap their arguments, so they stay methods of the class.
Tensor.__add__ = add
Tensor.__sub__ = subtract
Tensor.__mul__ = multiply
Tensor.__truediv__ = divide
Tensor.__matmul__ = matmul
Tensor.__pow__ = power
Tensor.__neg__ = negative
Tensor.__getitem__ = getitem
