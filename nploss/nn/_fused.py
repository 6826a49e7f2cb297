r"""Fast kernels for the conv net, each held to the plain op in :mod:`nploss.autograd` by
``tests/nn/test_fused.py``.

The layers of :mod:`nploss.nn.layers` (Conv2d, BatchNorm1d/2d, ReLU, MaxPool2d) call these, and
:class:`~nploss.nn.Sequential` calls :func:`batch_norm_max_pool2d` for a BatchNorm2d, a MaxPool2d
(and a ReLU) in a row. Each computes the function of its plain ops (same values, dtypes and
first-order gradients, up to round-off), with three kinds of tuning the reference ops leave out:

- **Threads.** NumPy releases the GIL in its loops, so the per-channel work (the copies of the
  convolution, batch norm, ReLU, max-pooling) runs in independent blocks of the outermost axis
  on the thread pool, each block cut into pieces that stay in cache
  (:func:`nploss.parallel.for_each_block`). Only NumPy arrays are split: a GPU runs each kernel
  whole.
- **Saved intermediates and writes in place.** Batch norm keeps its centred input for the
  backward pass, ReLU its mask; outputs and gradients are written into arrays allocated once
  (``out=``), in the memory order of the input. Batch norm followed by max-pooling pools the
  centred values and normalises only the pooled ones (:func:`batch_norm_max_pool2d`).
- **Memory order: images last.** The copies between images and columns are the cost of a
  convolution outside its matrix product, and what makes a copy fast is long runs of contiguous
  values. With the images stored as the fastest axis, (C, H, W, N) in memory (an NCHW Tensor
  whose data is a transposed view: :func:`images_last`), every window entry (c, i, j) is OH
  runs of OW * N contiguous values, in the image and in its row of columns alike; NCHW in
  memory gives runs of only OW values (14, 7 and 3 in the last three layers of a Conv-4 network
  on 28 x 28 images). The product's output comes out as (F, OH, OW, N), the same layout for the
  next layer; batch norm, ReLU and max-pooling keep it. Max-pooling whose windows tile the
  image takes its maxima slab by slab, elementwise, instead of a reduction over two short
  strided axes.

The convolution also adds its bias inside its matrix product (a row of ones under the
windows). A backward pass that is recorded (``create_graph=True``) is built from differentiable
ops only: ReLU, batch norm and max-pooling fall back to the plain formula there, and im2col and
col2im are each other's VJP; so every fast kernel has the higher derivatives of its plain op.
"""

from __future__ import annotations

import math
from typing import Any

import numpy

from .. import parallel
from ..autograd import conv, ops
from ..autograd.conv import _add_windows, _conv2d_arguments, _output_size, _pair, _window_view
from ..autograd.ops import (
    _lift,
    _xp,
    broadcast_to,
    concatenate,
    getitem,
    inverse_permutation,
    matmul,
    reshape,
    transpose,
    where,
)
from ..autograd.tensor import Tensor, constant, grad, is_grad_enabled, make_node

# ------------------------------------------------------------------------------------ ReLU


def relu(x: Any) -> Tensor:
    """:func:`nploss.autograd.relu`, in blocks on the thread pool, the mask kept for the VJP."""
    x = _lift(x)
    xp = _xp(x)
    mask = xp.empty_like(x.data, dtype=bool)
    data = xp.empty_like(x.data)
    split = parallel.outermost_axis(x.data)  # elementwise: blocks of the outermost axis in memory

    def forward(block: tuple[Any, ...]) -> None:
        xp.greater(x.data[block], 0, out=mask[block])
        xp.maximum(x.data[block], 0, out=data[block])

    parallel.for_each_block(forward, x.shape, split, xp)

    def vjp(g: Tensor, out: Tensor) -> tuple[Tensor]:
        if not is_grad_enabled():
            # g * mask is where(mask, g, 0) up to the sign of a zero, without where's selection;
            # a non-finite g would make inf * 0 = NaN where the mask is off: then take where's 0
            masked = xp.empty_like(mask, dtype=g.data.dtype)
            finite = []

            def backward(block: tuple[Any, ...]) -> None:
                with numpy.errstate(invalid="ignore"):  # inf * 0: detected just below
                    xp.multiply(g.data[block], mask[block], out=masked[block])
                finite.append(bool(xp.isfinite(masked[block].sum())))

            parallel.for_each_block(backward, x.shape, split, xp)
            if all(finite):
                return (constant(masked),)
        return (where(mask, g, 0.0),)  # the plain op's VJP

    return make_node(data, (x,), vjp)


# ------------------------------------------------------------------------------------ batch norm


def _sum_of_products(xp: Any, a: Any, b: Any, axes: tuple[int, ...]) -> Any:
    """``sum(a * b, axis=axes, keepdims=True)`` without the product array (``einsum``)."""
    letters = "abcdefghijklmnopqrstuvwxyz"[: a.ndim]
    kept = "".join(letters[i] for i in range(a.ndim) if i not in axes)
    out = xp.einsum(f"{letters},{letters}->{kept}", a, b)
    return out.reshape(tuple(1 if i in axes else n for i, n in enumerate(a.shape)))


def batch_norm(x: Any, weight: Any = None, bias: Any = None, axis: Any = 0, eps: float = 1e-5) -> tuple[Tensor, Any, Any]:
    r""":func:`nploss.autograd.ops.batch_norm` (same arguments, same ``(y, mean, var)``), fused.

    The forward keeps the centred input :math:`x - \mu`; with
    :math:`\hat{x} = (x - \mu) / \sqrt{\sigma^2 + \epsilon}` the scalings per channel fold into
    constants, and a plain backward pass reuses it:
    :math:`\bar\gamma = \mathrm{inv\_std} \sum \bar{y}\,(x - \mu)` and
    :math:`\bar{x} = s\,(\bar{y} - \mathrm{mean}(\bar{y})) - (x - \mu)\, s\,\mathrm{inv\_std}\,\mathrm{mean}(\bar{y}\hat{x})`
    with :math:`s = \gamma\,\mathrm{inv\_std}`. Each statistic belongs to one index of the
    first axis not reduced (the channels): blocks of it run on the thread pool.
    """
    x = _lift(x)
    weight = None if weight is None else _lift(weight)
    bias = None if bias is None else _lift(bias)
    axes = ops._normalize_axis(axis, x.ndim)
    count = math.prod(x.shape[a] for a in axes)
    xp = _xp(x)
    split = next((a for a in range(x.ndim) if a not in axes), None)
    stat_shape = tuple(1 if a in axes else n for a, n in enumerate(x.shape))
    dtype = xp.result_type(x.data, 1.0)
    out_dtype = xp.result_type(dtype, *(t.data for t in (weight, bias) if t is not None))
    w = None if weight is None else xp.broadcast_to(weight.data, stat_shape)
    b = None if bias is None else xp.broadcast_to(bias.data, stat_shape)
    mean_, var_, inv_std = (xp.empty(stat_shape, dtype=dtype) for _ in range(3))
    scale = xp.empty(stat_shape, dtype=out_dtype)  # y = centred * scale + bias
    centred = xp.empty_like(x.data, dtype=dtype)  # in the memory order of x
    data = xp.empty_like(x.data, dtype=out_dtype)

    def forward(block: tuple[Any, ...]) -> None:
        xb, cb = x.data[block], centred[block]
        mean_[block] = xp.mean(xb, axis=axes, keepdims=True)
        xp.subtract(xb, mean_[block], out=cb)
        var_[block] = _sum_of_products(xp, cb, cb, axes) * (1.0 / count)
        inv_std[block] = 1.0 / xp.sqrt(var_[block] + eps)
        scale[block] = inv_std[block] if w is None else inv_std[block] * w[block]
        xp.multiply(cb, scale[block], out=data[block])
        if b is not None:
            data[block] += b[block]

    parallel.for_each_block(forward, x.shape, split, xp)
    parents = tuple(t for t in (x, weight, bias) if t is not None)

    def vjp(g: Tensor, out: Tensor) -> tuple[Any, ...]:
        if is_grad_enabled():  # recorded: the plain op's VJP, differentiable again
            return ops.batch_norm_vjp(g, x, weight, bias, axes, eps)
        gd = g.data
        grad_dtype = xp.result_type(gd, scale)
        gb, gw = (xp.empty(stat_shape, dtype=gd.dtype) for _ in range(2))
        gx = xp.empty_like(centred, dtype=grad_dtype)  # the memory order of x, not of g

        def backward(block: tuple[Any, ...]) -> None:
            gdb, cb = gd[block], centred[block]
            gb[block] = xp.sum(gdb, axis=axes, keepdims=True)
            gw[block] = inv_std[block] * _sum_of_products(xp, gdb, cb, axes)
            gxb = gx[block]
            xp.subtract(gdb, gb[block] * (1.0 / count), out=gxb)
            gxb *= scale[block]
            gxb -= cb * (scale[block] * inv_std[block] * gw[block] * (1.0 / count))

        parallel.for_each_block(backward, gx.shape, split, xp)
        return _batch_norm_grads(gx, gw, gb, weight, bias)

    return make_node(data, parents, vjp), mean_, var_


# ------------------------------------------------------------------------------------ convolution


def images_last(x: Any) -> Tensor:
    """The (N, C, H, W) Tensor ``x`` with its data stored as (C, H, W, N), the images the fastest
    axis: the layout in which :func:`im2col` copies windows fastest (see the module docstring).
    The same values (the VJP passes the cotangent through); a copy unless ``x`` already is so."""
    x = _lift(x)
    stored = x.data.transpose(1, 2, 3, 0)  # (C, H, W, N): C-contiguous exactly when stored so
    if stored.flags.c_contiguous:
        return x
    data = _xp(x).ascontiguousarray(stored)
    return make_node(data.transpose(3, 0, 1, 2), (x,), lambda g, out: (g,))


def pad2d(x: Any, padding: tuple[int, int]) -> Tensor:
    """:func:`nploss.autograd.conv.pad2d`, in the memory order of ``x``, in blocks on the
    thread pool."""
    x = _lift(x)
    ph, pw = padding
    if ph == pw == 0:
        return x
    xp = _xp(x)
    inner = (Ellipsis, slice(ph, ph + x.shape[-2]), slice(pw, pw + x.shape[-1]))
    # in the memory order of x (channels first after a conv2d), so that blocks are contiguous
    data = xp.empty_like(x.data, shape=x.shape[:-2] + (x.shape[-2] + 2 * ph, x.shape[-1] + 2 * pw))

    def pad(block: tuple[Any, ...]) -> None:  # what numpy.pad does, without its generality
        data[block] = 0
        data[block][inner] = x.data[block]

    split = parallel.outermost_axis(x.data)
    if split is not None and split >= x.ndim - 2:
        split = None  # blocks of a padded axis would each need their own border: one block
    parallel.for_each_block(pad, x.shape, split, xp)
    return make_node(data, (x,), lambda g, out: (getitem(g, inner),))


def im2col(x: Any, kernel: tuple[int, int], stride: tuple[int, int], ones_row: bool = False) -> Tensor:
    """:func:`nploss.autograd.conv.im2col`, copied in blocks on the thread pool; the VJP is
    :func:`col2im`. The copy is fastest from an image stored images last (:func:`images_last`).

    With ``ones_row`` the matrix has one more row, of ones (homogeneous coordinates): a product
    with weights whose last column is a bias then adds the bias, in the same matrix product.
    """
    x = _lift(x)
    xp = _xp(x)
    windows = _window_view(x, kernel, stride).transpose(1, 4, 5, 2, 3, 0)  # (C, kh, kw, OH, OW, N)
    c, kh, kw, oh, ow, n = windows.shape
    rows = c * kh * kw
    matrix = xp.empty((rows + ones_row, oh * ow * n), dtype=x.dtype)
    cols = matrix[:rows].reshape(windows.shape)  # a view: the first rows, contiguous
    if ones_row:
        matrix[rows] = 1

    def copy(block: tuple[slice, ...]) -> None:  # the copy is the cost
        cols[block] = windows[block]

    # blocks of channels, or of output rows for an input with fewer channels than threads
    parallel.for_each_block(copy, cols.shape, axis=0 if c >= parallel.get_num_threads() else 3, xp=xp)
    def vjp(g: Tensor, out: Tensor) -> tuple[Tensor]:
        windows_g = getitem(g, slice(0, rows)) if ones_row else g  # the ones row is a constant
        return (col2im(windows_g, x.shape, kernel, stride),)

    return make_node(matrix, (x,), vjp)


def col2im(cols: Any, shape: tuple[int, ...], kernel: tuple[int, int], stride: tuple[int, int]) -> Tensor:
    """:func:`nploss.autograd.conv.col2im`, in blocks of channels on the thread pool; the image
    it returns is stored images last."""
    cols = _lift(cols)
    xp = _xp(cols)
    n, c, h, w = shape
    (kh, kw), (sh, sw) = kernel, stride
    oh, ow = _output_size(h, kh, sh), _output_size(w, kw, sw)
    # (C, kh, kw, OH, OW, N): each (i, j) slab is (C, OH, OW, N), runs of OW * N contiguous
    # values, added into a (C, H, W, N) image: NCHW is a transposed view of it
    image = xp.empty((c, h, w, n), dtype=cols.dtype)
    slabs = xp.ascontiguousarray(cols.data).reshape(c, kh, kw, oh, ow, n)

    def fold(block: tuple[slice, ...]) -> None:  # a block of channels
        image[block] = 0
        _add_windows(image[block], slabs[block], stride)

    parallel.for_each_block(fold, image.shape, axis=0, xp=xp)
    return make_node(image.transpose(3, 0, 1, 2), (cols,), lambda g, out: (im2col(g, kernel, stride),))


def conv2d(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0) -> Tensor:
    """:func:`nploss.autograd.conv2d` (same arguments and result), on the images-last layout, with
    the bias added inside the matrix product. The output's data is stored as (F, OH, OW, N)."""
    x, weight = _lift(x), _lift(weight)
    stride, padding = _conv2d_arguments(x, weight, stride, padding)
    f, c, kh, kw = weight.shape
    # images last in memory (a copy for an NCHW input, as a network's first layer gets; the
    # output of a conv2d already is, and batch norm, ReLU and max-pooling keep it)
    x = pad2d(images_last(x), padding)
    n, oh, ow = x.shape[0], _output_size(x.shape[2], kh, stride[0]), _output_size(x.shape[3], kw, stride[1])
    weights = reshape(weight, (f, c * kh * kw))
    if bias is not None:
        # the bias as one more column of the weights, against a row of ones under the windows:
        # the product adds it, and the product's VJP gives its gradient (the sums of g over
        # N, OH, OW) with the weights', instead of two more passes over the output
        weights = concatenate([weights, reshape(bias, (f, 1))], axis=1)
    out = reshape(matmul(weights, im2col(x, (kh, kw), stride, ones_row=bias is not None)), (f, oh, ow, n))
    # NCHW as a transposed view of the (F, OH, OW, N) product, not a copy: the elementwise ops
    # that follow (batch norm, ReLU) keep that memory order, and so do their cotangents, which
    # then reach this product's VJP already laid out as (F, OH, OW, N): no copy either way.
    return transpose(out, (3, 0, 1, 2))


# ------------------------------------------------------------------------------------ max-pooling


def max_pool2d(x: Any, kernel_size: Any, stride: Any = None) -> Tensor:
    """:func:`nploss.autograd.max_pool2d`: tiled (:func:`_tiled_max_pool2d`) when the windows
    tile the image (stride == kernel), the common case; otherwise the plain op."""
    x = _lift(x)
    if x.ndim != 4:
        raise ValueError(f"max_pool2d expects an (N, C, H, W) Tensor, got shape {x.shape}")
    kernel = _pair(kernel_size, "kernel_size")
    stride = kernel if stride is None else _pair(stride, "stride")
    if stride != kernel:
        return conv.max_pool2d(x, kernel, stride)
    return _tiled_max_pool2d(x, kernel)


def _tiled_max_pool2d(x: Tensor, kernel: tuple[int, int]) -> Tensor:
    """Max-pooling whose windows tile the image (stride == kernel).

    The image is viewed as (N, C, OH, kh, OW, kw), and as ``kh * kw`` strided views ("slabs"),
    slab (i, j) holding entry (i, j) of every window; the maximum is taken slab by slab, and the
    VJP spreads ``g`` back over each window with the tie-sharing weights of
    :func:`nploss.autograd.max`. A trailing row or column that fits no window is dropped, as in
    PyTorch.
    """
    xp = _xp(x)
    (kh, kw), (n, c, h, w) = kernel, x.shape
    oh, ow = h // kh, w // kw
    if (oh * kh, ow * kw) != (h, w):
        x = getitem(x, (Ellipsis, slice(0, oh * kh), slice(0, ow * kw)))
    windows = x.data.reshape(n, c, oh, kh, ow, kw)  # a view, whatever the memory order of x
    # The window grid (N, C, OH, OW) of the slabs, and the output, keep the memory order of x:
    # the maxima and comparisons then run over its contiguous runs (N values, images last after
    # a conv2d), with no copy of the slabs first.
    order = parallel.memory_order(x.data)  # the axes of x, outermost first
    window_axes = ((0,), (1,), (2, 3), (4, 5))  # what each axis of x is in windows: N, C, (OH, kh), (OW, kw)
    grid = tuple(window_axes[a][0] for a in order)  # N, C, OH, OW of windows, in that order
    windows_in_order = windows.transpose(3, 5, *grid)
    slabs = [windows_in_order[i, j] for i in range(kh) for j in range(kw)]
    pooled = xp.empty(windows_in_order.shape[2:], dtype=x.dtype)

    def forward(block: tuple[Any, ...]) -> None:  # blocks of the outermost axis
        xp.copyto(pooled[block], slabs[0][block])
        for slab in slabs[1:]:
            xp.maximum(pooled[block], slab[block], out=pooled[block])

    parallel.for_each_block(forward, pooled.shape, 0, xp)

    def vjp(g: Tensor, out: Tensor) -> tuple[Tensor]:
        # The tie-sharing weights are only needed going backward: computed here, not in the
        # forward, so evaluation (no_grad) does not pay for them.
        if not is_grad_enabled():
            g_in_order = g.data.transpose(order)
            # the gradient shaped as windows, stored in the memory order of x (kh right after
            # OH, kw after OW, so that it reshapes to the image without a copy)
            layout = [axis for a in order for axis in window_axes[a]]
            spread = xp.empty(tuple(windows.shape[a] for a in layout), dtype=g.dtype).transpose(inverse_permutation(layout))
            spread_slabs = spread.transpose(3, 5, *grid)  # slab (i, j): entry (i, j) of every window

            def backward(block: tuple[Any, ...]) -> None:
                within = (slice(None), slice(None), *block)
                _spread_by_slabs(xp, g_in_order[block], pooled[block], [s[block] for s in slabs], spread_slabs[within])

            parallel.for_each_block(backward, pooled.shape, 0, xp)
            return (constant(spread.reshape(x.shape)),)
        # recorded: the same weights, from differentiable ops
        winners = windows == out.data[:, :, :, None, :, None]
        count = sum(winners[:, :, :, i, :, j].astype(x.dtype) for i in range(kh) for j in range(kw))
        share = winners / count[:, :, :, None, :, None]  # 1 for a unique maximum, 1/k for k tied
        spread = broadcast_to(reshape(g, (n, c, oh, 1, ow, 1)), (n, c, oh, kh, ow, kw)) * share
        return (reshape(spread, (n, c, oh * kh, ow * kw)),)

    return make_node(pooled.transpose(inverse_permutation(order)), (x,), vjp)


def _spread_by_slabs(xp: Any, g: Any, pooled: Any, slabs: list[Any], spread: Any) -> None:
    """The VJP of :func:`_tiled_max_pool2d` on arrays (a backward pass that is not recorded): the
    same values as the Tensor formula, ``g`` times 1 for a unique maximum, 1/k for k tied and 0
    elsewhere, written slab by slab into ``spread`` (kh, kw, *pooled.shape), slab (i, j) for
    window entry (i, j): each slab is compared and filled once, with no full-size weights in
    between."""
    kw = spread.shape[1]
    hits = [slab == pooled for slab in slabs]
    count = hits[0].astype(g.dtype)
    for hit in hits[1:]:
        count += hit
    scaled = g * (1.0 / count)
    for k, hit in enumerate(hits):
        xp.multiply(scaled, hit, out=spread[k // kw, k % kw])


# ------------------------------------------------------------------------------------ batch norm, max-pooling, ReLU


def batch_norm_max_pool2d(
    x: Any, weight: Any = None, bias: Any = None, kernel: tuple[int, int] = (2, 2), eps: float = 1e-5, relu: bool = False
) -> tuple[Tensor, Any, Any]:
    r"""``max_pool2d(batch_norm(x, weight, bias, axis=(0, 2, 3), eps)[0], kernel)`` for windows
    that tile the image (stride == kernel), followed by a ReLU when ``relu``: one node, and the
    batch statistics ``(out, mean, var)`` as :func:`batch_norm` returns them.

    Per channel, batch norm is the affine map :math:`y = s\,(x - \mu) + b` with
    :math:`s = \gamma / \sqrt{\sigma^2 + \epsilon}`: monotone, increasing where :math:`s > 0`.
    The maximum of :math:`y` over a window is then :math:`y` at the maximum of the centred values
    :math:`c = x - \mu` (at their minimum where :math:`s < 0`), and rounding, being monotone too,
    keeps that exact: the forward pools the centred values and applies the affine map (and the
    ReLU) to the pooled array only, a quarter of the image for 2 x 2 windows, where the separate
    ops would write the whole normalised image first. Going backward, the cotangent of
    :math:`y` is :math:`\bar{p}` shared among each window's maxima (as
    :func:`nploss.autograd.max` shares it among ties), so its sums per channel come from the
    pooled arrays alone: :math:`\sum \bar{y} = \sum \bar{p}` and
    :math:`\sum \bar{y}\,c = \sum \bar{p}\,c_{\max}`; the gradient of :math:`x` is then
    :math:`\bar{x} = s\,\bar{y} - s \sum\bar{y} / n - c\, s\, \mathrm{inv\_std} \sum\bar{y}\hat{x} / n`
    (the batch-norm VJP of :func:`batch_norm`), written window entry by window entry, with no
    full-size cotangent of :math:`y` in between.

    Ties are those of the centred values, where the separate ops compare the normalised ones:
    two centred values that differ by a rounding error can round to the same :math:`y`, a tie
    there and none here (the whole cotangent to the larger, instead of half to each); any other
    tie is the same. Where :math:`s = 0` every entry of a window ties, as :math:`y` is
    constant. A recorded backward pass (``create_graph=True``) takes the separate ops' VJPs.
    """
    x = _lift(x)
    if x.ndim != 4:
        raise ValueError(f"batch_norm_max_pool2d expects an (N, C, H, W) Tensor, got shape {x.shape}")
    weight = None if weight is None else _lift(weight)
    bias = None if bias is None else _lift(bias)
    xp = _xp(x)
    axes = (0, 2, 3)
    (kh, kw), (n, c, h, w) = kernel, x.shape
    oh, ow = h // kh, w // kw
    count = n * h * w
    stat_shape = (1, c, 1, 1)
    dtype = xp.result_type(x.data, 1.0)
    out_dtype = xp.result_type(dtype, *(t.data for t in (weight, bias) if t is not None))
    gamma = None if weight is None else xp.broadcast_to(weight.data, stat_shape)
    beta = None if bias is None else xp.broadcast_to(bias.data, stat_shape)
    mean_, var_, inv_std = (xp.empty(stat_shape, dtype=dtype) for _ in range(3))
    scale = xp.empty(stat_shape, dtype=out_dtype)
    centred = xp.empty_like(x.data, dtype=dtype)  # in the memory order of x, kept for the VJP
    # the pooled arrays in the memory order of x too (images last after a conv2d)
    order = parallel.memory_order(x.data)
    pooled_shape = (n, c, oh, ow)

    def empty_pooled(dt: Any) -> Any:
        return xp.empty(tuple(pooled_shape[a] for a in order), dtype=dt).transpose(inverse_permutation(order))

    top = empty_pooled(dtype)  # per window: the centred value whose y is the maximum
    data = empty_pooled(out_dtype)

    def entries(a: Any) -> list[Any]:
        """Window entry (i, j) of every window of ``a`` (a block of an image), as strided views."""
        return [a[:, :, i : i + kh * oh : kh, j : j + kw * ow : kw] for i in range(kh) for j in range(kw)]

    def window_grid(a: Any) -> Any:
        """The windows of ``a`` (a block of an image) as an (N, C, OH, kh, OW, kw) view: the
        trailing row or column that fits no window left out."""
        return a[:, :, : oh * kh, : ow * kw].reshape(a.shape[0], a.shape[1], oh, kh, ow, kw)  # splits axes: a view

    def forward(block: tuple[Any, ...]) -> None:  # a block of channels
        xb, cb = x.data[block], centred[block]
        mean_[block] = xp.mean(xb, axis=axes, keepdims=True)
        xp.subtract(xb, mean_[block], out=cb)
        var_[block] = _sum_of_products(xp, cb, cb, axes) * (1.0 / count)
        inv_std[block] = 1.0 / xp.sqrt(var_[block] + eps)
        s = scale[block]
        s[...] = inv_std[block] if gamma is None else inv_std[block] * gamma[block]
        slabs, t = entries(cb), top[block]
        xp.copyto(t, slabs[0])
        for slab in slabs[1:]:
            xp.maximum(t, slab, out=t)
        if _may_hold(xp, s < 0):  # decreasing maps: the minimum of c gives the maximum of y
            low = slabs[0].copy()
            for slab in slabs[1:]:
                xp.minimum(low, slab, out=low)
            t[...] = xp.where(s < 0, low, t)
        out = data[block]
        xp.multiply(t, s, out=out)
        if beta is not None:
            out += beta[block]
        if relu:
            xp.maximum(out, 0, out=out)

    parallel.for_each_block(forward, x.shape, 1, xp)
    parents = tuple(t for t in (x, weight, bias) if t is not None)

    def vjp(g: Tensor, out: Tensor) -> tuple[Any, ...]:
        if is_grad_enabled():  # recorded: the separate ops' VJPs, differentiable again
            normalised = centred * scale if beta is None else centred * scale + beta
            return _batch_norm_max_pool2d_recorded_vjp(g, x, weight, bias, normalised, kernel, eps, relu)
        gd = g.data
        grad_dtype = xp.result_type(gd, scale)
        gb, gw = (xp.empty(stat_shape, dtype=gd.dtype) for _ in range(2))
        gx = xp.empty_like(centred, dtype=grad_dtype)  # the memory order of x

        def backward(block: tuple[Any, ...]) -> None:
            cb, t, s = centred[block], top[block], scale[block]
            # the pooled cotangent in the memory order of x, as every array below (an op on
            # arrays stored in different orders walks one of them against its strides)
            gp = xp.empty_like(t, dtype=gd.dtype)
            if relu:  # ReLU's VJP, where(y > 0, g, 0), as g * mask where g is finite
                mask = data[block] > 0
                with numpy.errstate(invalid="ignore"):  # inf * 0: detected just below
                    xp.multiply(gd[block], mask, out=gp)
                if _may_hold(xp, ~xp.isfinite(gp.sum())):
                    gp[...] = xp.where(mask, gd[block], 0)
            else:
                gp[...] = gd[block]
            gb[block] = xp.sum(gp, axis=axes, keepdims=True)  # the shares of a window sum to 1
            gw[block] = inv_std[block] * _sum_of_products(xp, gp, t, axes)  # tied entries equal t
            slabs = entries(cb)
            flat = s == 0
            if _may_hold(xp, flat):  # y constant: the whole window ties, sum(gy * c) = sum(gp * mean of c)
                window_mean = sum(_sum_of_products(xp, gp, slab, axes) for slab in slabs) * (1.0 / len(slabs))
                gw[block] = xp.where(flat, inv_std[block] * window_mean, gw[block])
            coef = s * inv_std[block] * gw[block] * (1.0 / count)
            gxb = gx[block]
            # every entry, in a window or not: -c s inv_std mean(gy x_hat) - s mean(gy) ...
            xp.multiply(cb, -coef, out=gxb)
            gxb -= s * gb[block] * (1.0 / count)
            # ... plus s gy on the maxima of the windows. Each step is one NumPy call over all
            # the window entries (window_grid views), not one per entry: every call gives the
            # GIL back to the other threads and must take it again
            hits = xp.empty_like(cb, dtype=bool)  # the memory order of x, as each array here
            xp.equal(window_grid(cb), t[:, :, :, None, :, None], out=window_grid(hits))
            shared = xp.multiply(gp, s, out=xp.empty_like(t, dtype=xp.result_type(gp, s)))
            if _may_hold(xp, xp.count_nonzero(window_grid(hits)) != t.size):  # ties: each its share
                shared = shared / window_grid(hits).sum(axis=(3, 5), dtype=shared.dtype)
            spread = xp.empty_like(cb, dtype=shared.dtype)
            xp.multiply(shared[:, :, :, None, :, None], window_grid(hits), out=window_grid(spread))
            xp.add(window_grid(gxb), window_grid(spread), out=window_grid(gxb))

        parallel.for_each_block(backward, x.shape, 1, xp)
        return _batch_norm_grads(gx, gw, gb, weight, bias)

    return make_node(data, parents, vjp), mean_, var_


def _batch_norm_grads(gx: Any, gw: Any, gb: Any, weight: Any, bias: Any) -> tuple[Tensor, ...]:
    """The gradients of ``x`` and of the affine parameters that were given, in the parents' order."""
    grads = [constant(gx)]
    if weight is not None:
        grads.append(constant(gw.reshape(weight.shape)))
    if bias is not None:
        grads.append(constant(gb.reshape(bias.shape)))
    return tuple(grads)


def _may_hold(xp: Any, mask: Any) -> bool:
    """Whether ``mask`` may hold a True: its ``any()`` on the host; on a GPU always True, as if
    it did, so that a kernel takes its general branch instead of copying a flag to the host
    (the decisions above only skip work whose result would be the same)."""
    return bool(numpy.asarray(mask).any()) if xp is numpy else True


def _batch_norm_max_pool2d_recorded_vjp(
    g: Tensor, x: Tensor, weight: Tensor | None, bias: Tensor | None, y: Any, kernel: tuple[int, int], eps: float, relu_after: bool
) -> tuple[Tensor, ...]:
    """The VJP of :func:`batch_norm_max_pool2d` from the separate ops, recorded: max-pooling's (and
    ReLU's) VJP on the normalised image ``y``, which depends on the cotangent alone (the winners
    are constants), then batch norm's (:func:`nploss.autograd.ops.batch_norm_vjp`)."""
    normalised = Tensor(y, requires_grad=True)  # a stand-in: the cotangent of y does not depend on y
    pooled = _tiled_max_pool2d(normalised, kernel)
    (g_y,) = grad(relu(pooled) if relu_after else pooled, normalised, grad_outputs=g, create_graph=True)
    return ops.batch_norm_vjp(g_y, x, weight, bias, (0, 2, 3), eps)
