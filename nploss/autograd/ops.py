r"""Primitive ops: a forward on arrays and, right beside it, its vector-Jacobian product.

Each op computes its result with the array module of its inputs and records, through
:func:`make_node`, a VJP ``lambda g, out: (...)`` returning one cotangent per input. The VJPs are
written with these same ops, never with raw arrays, so that a backward pass recorded with
``create_graph=True`` is itself differentiable. Broadcasting is undone centrally by the engine
(``sum_to``), so a VJP may return a cotangent in the broadcast shape.

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
import math
from collections.abc import Sequence
from typing import Any

from .. import backend, numerics
from .tensor import Tensor, constant, is_grad_enabled, make_node

# ------------------------------------------------------------------------------------ helpers


def as_data(x: Any) -> Any:
    """The array inside a Tensor; anything else unchanged."""
    return x.data if isinstance(x, Tensor) else x


def _xp(x: Tensor) -> Any:
    return backend.get_array_module(x.data)


def _lift(x: Any, like: Tensor | None = None) -> Tensor:
    """A constant as a Tensor. Python numbers take the floating dtype of ``like``, so that
    ``x * 2.0`` stays float32 when ``x`` is float32 (a float64 0-d array would promote it)."""
    if isinstance(x, Tensor):
        return x
    if like is not None and isinstance(x, int | float) and like.dtype.kind == "f":
        return constant(like.dtype.type(x))  # a scalar of like's dtype: no promotion, no array
    return Tensor(x)


def _pair(a: Any, b: Any) -> tuple[Tensor, Tensor]:
    a_tensor = a if isinstance(a, Tensor) else None
    b_tensor = b if isinstance(b, Tensor) else None
    return _lift(a, b_tensor), _lift(b, a_tensor)


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


# ------------------------------------------------------------------------------------ arithmetic


def add(a: Any, b: Any) -> Tensor:
    a, b = _pair(a, b)
    return make_node(_broadcast("add", a, b, lambda x, y: x + y), (a, b), lambda g, out: (g, g))


def subtract(a: Any, b: Any) -> Tensor:
    a, b = _pair(a, b)
    return make_node(_broadcast("subtract", a, b, lambda x, y: x - y), (a, b), lambda g, out: (g, -g))


def multiply(a: Any, b: Any) -> Tensor:
    a, b = _pair(a, b)
    return make_node(
        _broadcast("multiply", a, b, lambda x, y: x * y),
        (a, b),
        lambda g, out: (g * b if a.requires_grad else None, g * a if b.requires_grad else None),
    )


def divide(a: Any, b: Any) -> Tensor:
    a, b = _pair(a, b)
    # d(a/b)/db = -a/b^2 = -out/b
    return make_node(
        _broadcast("divide", a, b, lambda x, y: x / y), (a, b), lambda g, out: (g / b, -(g * out) / b)
    )


def negative(x: Any) -> Tensor:
    x = _lift(x)
    return make_node(-x.data, (x,), lambda g, out: (-g,))


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


def exp(x: Any) -> Tensor:
    x = _lift(x)
    return make_node(_xp(x).exp(x.data), (x,), lambda g, out: (g * out,))


def log(x: Any) -> Tensor:
    x = _lift(x)
    return make_node(_xp(x).log(x.data), (x,), lambda g, out: (g / x,))


def log1p(x: Any) -> Tensor:
    x = _lift(x)
    return make_node(_xp(x).log1p(x.data), (x,), lambda g, out: (g / (x + 1.0),))


def sqrt(x: Any) -> Tensor:
    x = _lift(x)
    return make_node(_xp(x).sqrt(x.data), (x,), lambda g, out: (g * 0.5 / out,))


def abs(x: Any) -> Tensor:  # noqa: A001  (mirrors numpy.abs)
    x = _lift(x)
    return make_node(_xp(x).abs(x.data), (x,), lambda g, out: (g * sign(x),))


def sign(x: Any) -> Tensor:
    x = _lift(x)
    return make_node(_xp(x).sign(x.data), (x,), lambda g, out: (g * 0.0,))


def tanh(x: Any) -> Tensor:
    x = _lift(x)
    return make_node(_xp(x).tanh(x.data), (x,), lambda g, out: (g * (1.0 - out * out),))


def sigmoid(x: Any) -> Tensor:
    x = _lift(x)
    return make_node(numerics.sigmoid(_xp(x), x.data), (x,), lambda g, out: (g * out * (1.0 - out),))


def softplus(x: Any) -> Tensor:
    x = _lift(x)
    return make_node(numerics.softplus(_xp(x), x.data), (x,), lambda g, out: (g * sigmoid(x),))


def relu(x: Any) -> Tensor:
    x = _lift(x)
    mask = x.data > 0

    def vjp(g: Tensor, out: Tensor) -> tuple[Tensor]:
        if not is_grad_enabled():
            # g * mask is where(mask, g, 0) (up to the sign of a zero) and several times faster;
            # a non-finite g would make inf * 0 = NaN where the mask is off: then take where's 0
            masked = g.data * mask
            if _xp(x).isfinite(masked.sum()):
                return (constant(masked),)
        return (where(mask, g, 0.0),)

    return make_node(x.data * mask, (x,), vjp)


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """``a`` where ``condition`` holds, else ``b``; ``condition`` is not differentiated."""
    cond = as_data(condition)
    a, b = _pair(a, b)
    data = _xp(a).where(cond, a.data, b.data)
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


def _sum_of_products(xp: Any, a: Any, b: Any, axes: tuple[int, ...]) -> Any:
    """``sum(a * b, axis=axes, keepdims=True)`` without the product array (``einsum``)."""
    letters = "abcdefghijklmnopqrstuvwxyz"[: a.ndim]
    kept = "".join(letters[i] for i in range(a.ndim) if i not in axes)
    out = xp.einsum(f"{letters},{letters}->{kept}", a, b)
    return out.reshape(tuple(1 if i in axes else n for i, n in enumerate(a.shape)))


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
    The same function as composing ``mean``, ``var``, ``sqrt``... (ten elementwise ops, each with
    its own VJP), in about a third of the passes over memory: the forward keeps the centred
    input :math:`x - \mu` (with :math:`\hat{x} = (x - \mu) / \sqrt{\sigma^2 + \epsilon}`, the
    scalings per channel fold into the constants) and the backward pass reuses it. A recorded
    backward pass (``create_graph=True``) builds the same VJP from differentiable ops, so
    higher derivatives hold.

    Returns
    -------
    (y, mean, var) : the output Tensor, and the batch mean and biased variance as arrays
    (keepdims shape), for the running estimates.
    """
    x = _lift(x)
    weight = None if weight is None else _lift(weight)
    bias = None if bias is None else _lift(bias)
    axes = _normalize_axis(axis, x.ndim)
    count = math.prod(x.shape[a] for a in axes)
    xp = _xp(x)
    mean_ = xp.mean(x.data, axis=axes, keepdims=True)
    centred = x.data - mean_
    var_ = _sum_of_products(xp, centred, centred, axes) * (1.0 / count)
    inv_std = 1.0 / xp.sqrt(var_ + eps)
    scale = inv_std if weight is None else inv_std * weight.data  # y = centred * scale + bias
    data = centred * scale
    if bias is not None:
        data += bias.data  # in place: the array was made here
    parents = tuple(t for t in (x, weight, bias) if t is not None)

    def vjp(g: Tensor, out: Tensor) -> tuple[Any, ...]:
        if is_grad_enabled():  # recorded: the same formula from ops, differentiable again
            c = x - mean(x, axis=axes, keepdims=True)
            inv = power(mean(c * c, axis=axes, keepdims=True) + eps, -0.5)
            xh = c * inv
            gb = sum(g, axis=axes, keepdims=True)
            gw = sum(g * xh, axis=axes, keepdims=True)
            gx = (inv if weight is None else inv * weight) * (g - gb * (1.0 / count) - xh * (gw * (1.0 / count)))
        else:
            # with x_hat = centred * inv_std: gw = inv_std sum(g centred), and
            # gx = scale (g - mean(g)) - centred * (scale inv_std mean(g x_hat))
            gd = g.data
            gb = xp.sum(gd, axis=axes, keepdims=True)
            gw = inv_std * _sum_of_products(xp, gd, centred, axes)
            gx = xp.empty_like(centred)  # the memory order of x (see conv2d), not of g
            xp.subtract(gd, gb * (1.0 / count), out=gx)
            gx *= scale
            gx -= centred * (scale * inv_std * gw * (1.0 / count))
            gx, gw, gb = constant(gx), constant(gw), constant(gb)
        grads = [gx]
        if weight is not None:
            grads.append(reshape(gw, weight.shape))
        if bias is not None:
            grads.append(reshape(gb, bias.shape))
        return tuple(grads)

    return make_node(data, parents, vjp), mean_, var_


# ------------------------------------------------------------------------------------ shapes


def reshape(x: Any, shape: Any) -> Tensor:
    x = _lift(x)
    return make_node(x.data.reshape(shape), (x,), lambda g, out: (reshape(g, x.shape),))


def transpose(x: Any, axes: Any = None) -> Tensor:
    x = _lift(x)
    axes = tuple(reversed(range(x.ndim))) if axes is None else tuple(a % x.ndim for a in axes)
    inverse = tuple(sorted(range(len(axes)), key=axes.__getitem__))
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
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1)
    data = _xp(x).sum(x.data, axis=axes, keepdims=True).reshape(shape)
    return make_node(data, (x,), lambda g, out: (broadcast_to(g, x.shape),))


def astype(x: Any, dtype: Any) -> Tensor:
    x = _lift(x)
    return make_node(x.data.astype(dtype), (x,), lambda g, out: (astype(g, x.dtype),))


# ------------------------------------------------------------------------------------ indexing


def _plain_index(index: Any) -> Any:
    if isinstance(index, tuple):
        return tuple(as_data(i) for i in index)
    return as_data(index)


def _is_basic(index: Any) -> bool:
    """Basic indexing (ints, slices, None, ...) never selects an element twice."""
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, int | slice) for i in items)


def getitem(x: Any, index: Any) -> Tensor:
    """``x[index]`` with NumPy's basic and advanced indexing; repeated indices add up in the VJP."""
    x = _lift(x)
    index = _plain_index(index)
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
    data = _broadcast("matmul", a, b, lambda x, y: x @ y)
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
