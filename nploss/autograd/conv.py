r"""Convolution and max-pooling, built from two linear primitives and a matrix product.

``unfold2d`` copies every sliding window of an image into a row ("im2col"); ``fold2d`` is its
adjoint: it adds every row back into the window it came from ("col2im"), so overlapping windows
sum up. Each is the other's VJP, so derivatives of every order come for free. With them:

.. math::  \mathrm{conv2d}(x, W) = \mathrm{unfold}(\mathrm{pad}(x)) \, W^\top
           \qquad (\text{one BLAS matmul of } (N \cdot OH \cdot OW, C k_h k_w) \text{ by } (C k_h k_w, F))

and max-pooling is a ``max`` over the unfolded window axis. Images are NCHW, as in PyTorch.

``conv2d`` itself uses the same windows laid out the other way round, :func:`im2col`'s
:math:`(C k_h k_w, OH \cdot OW \cdot N)` (Caffe's layout, with the images as the fastest axis;
:func:`col2im` is its adjoint), and computes :math:`W \,\mathrm{im2col}(x)`: the transpose of
the product above. Why that layout: the copies between images and columns are the cost of a
convolution outside its matrix product, and what makes a copy fast is long runs of contiguous
values. With the images stored as the fastest axis, (C, H, W, N) in memory (an NCHW Tensor
whose data is a transposed view: :func:`images_last`), every window entry (c, i, j) is OH runs
of OW * N contiguous values, in the image and in its row of columns alike. The row-per-window
layout moves single values C k_h k_w apart, and NCHW in memory runs of OW values: 14, 7 and 3
in the last three layers of a Conv-4 network on 28 x 28 images, where the folding of the
backward pass then took 3.0, 3.8 and 9.6 times as long (200 images, one thread). The
product's output comes out as (F, OH, OW, N), the same layout for the next layer; batch norm,
ReLU and max-pooling keep it.
"""

from __future__ import annotations

from typing import Any

from .. import parallel
from .ops import _lift, _xp, broadcast_to, concatenate, getitem, inverse_permutation, matmul, max, reshape, transpose
from .tensor import Tensor, constant, is_grad_enabled, make_node


def _pair(v: int | tuple[int, int], name: str) -> tuple[int, int]:
    pair = (v, v) if isinstance(v, int) else tuple(v)
    if len(pair) != 2 or any(not isinstance(p, int) or p < 0 for p in pair):
        raise ValueError(f"{name} must be a non-negative int or a pair of them, got {v!r}")
    return pair  # type: ignore[return-value]


def _output_size(size: int, kernel: int, stride: int) -> int:
    return (size - kernel) // stride + 1


def pad2d(x: Any, padding: tuple[int, int]) -> Tensor:
    """Zero-pad the last two axes by ``padding = (ph, pw)`` on each side."""
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


def _window_view(x: Tensor, kernel: tuple[int, int], stride: tuple[int, int]) -> Any:
    """Every sliding window of an (N, C, H, W) image as an (N, C, OH, OW, kh, kw) strided view of
    its data (no copy): entry (n, c, oh, ow, i, j) is pixel (oh * sh + i, ow * sw + j)."""
    xp = _xp(x)
    n, c, h, w = x.shape
    (kh, kw), (sh, sw) = kernel, stride
    oh, ow = _output_size(h, kh, sh), _output_size(w, kw, sw)
    data = x.data  # any memory order: the view takes its strides as they are
    s_n, s_c, s_h, s_w = data.strides
    return xp.lib.stride_tricks.as_strided(
        data, shape=(n, c, oh, ow, kh, kw), strides=(s_n, s_c, s_h * sh, s_w * sw, s_h, s_w)
    )


def _add_windows(image: Any, slabs: Any, stride: tuple[int, int]) -> Any:
    """The adjoint of :func:`_window_view`: add ``slabs`` (A, kh, kw, OH, OW, B) into ``image``
    (A, H, W, B) in place, slab (i, j) onto the strided grid of window entry (i, j), so
    overlapping windows sum up."""
    kh, kw, oh, ow = slabs.shape[1:5]
    sh, sw = stride
    for i in range(kh):
        for j in range(kw):
            image[:, i : i + sh * oh : sh, j : j + sw * ow : sw] += slabs[:, i, j]
    return image


def images_last(x: Any) -> Tensor:
    """The (N, C, H, W) Tensor ``x`` with its data stored as (C, H, W, N), the images the fastest
    axis: the layout in which :func:`conv2d` copies windows fastest (see the module docstring).
    The same values (the VJP passes the cotangent through); a copy unless ``x`` already is so."""
    x = _lift(x)
    stored = x.data.transpose(1, 2, 3, 0)  # (C, H, W, N): C-contiguous exactly when stored so
    if stored.flags.c_contiguous:
        return x
    data = _xp(x).ascontiguousarray(stored)
    return make_node(data.transpose(3, 0, 1, 2), (x,), lambda g, out: (g,))


def unfold2d(x: Any, kernel: tuple[int, int], stride: tuple[int, int]) -> Tensor:
    """Sliding windows of an (N, C, H, W) image as an (N, OH, OW, C, kh, kw) array (a copy)."""
    x = _lift(x)
    windows = _xp(x).ascontiguousarray(_window_view(x, kernel, stride).transpose(0, 2, 3, 1, 4, 5))
    return make_node(windows, (x,), lambda g, out: (fold2d(g, x.shape, kernel, stride),))


def fold2d(cols: Any, shape: tuple[int, ...], kernel: tuple[int, int], stride: tuple[int, int]) -> Tensor:
    """Adjoint of :func:`unfold2d`: add each window of ``cols`` back into an image of ``shape``."""
    cols = _lift(cols)
    image = _xp(cols).zeros(shape, dtype=cols.dtype)
    # images (N, H, W, C) and windows (N, OH, OW, C, kh, kw) -> (N, kh, kw, OH, OW, C), as views
    _add_windows(image.transpose(0, 2, 3, 1), cols.data.transpose(0, 4, 5, 1, 2, 3), stride)
    return make_node(image, (cols,), lambda g, out: (unfold2d(g, kernel, stride),))


def im2col(x: Any, kernel: tuple[int, int], stride: tuple[int, int], ones_row: bool = False) -> Tensor:
    """The sliding windows of an (N, C, H, W) image as a (C * kh * kw, OH * OW * N) matrix (a copy):
    column (oh, ow, n) holds the window at (oh, ow) of image n, row (c, i, j) its entry (c, i, j).
    The windows of :func:`unfold2d`, transposed, images the fastest axis; the VJP is
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
    # the ones row is a constant: its cotangent is dropped
    return make_node(matrix, (x,), lambda g, out: (col2im(getitem(g, slice(0, rows)) if ones_row else g, x.shape, kernel, stride),))


def col2im(cols: Any, shape: tuple[int, ...], kernel: tuple[int, int], stride: tuple[int, int]) -> Tensor:
    """Adjoint of :func:`im2col`: add each column of a (C * kh * kw, OH * OW * N) matrix back into
    its window of an image of ``shape`` (N, C, H, W), which it returns stored images last."""
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
    """2-D cross-correlation, as ``torch.nn.functional.conv2d`` (no dilation, no groups).

    Parameters
    ----------
    x : Tensor, shape (N, C, H, W)
    weight : Tensor, shape (F, C, kh, kw)
    bias : Tensor, shape (F,), optional
    stride, padding : int or (int, int)

    Returns
    -------
    Tensor, shape (N, F, OH, OW) with OH = (H + 2 ph - kh) // sh + 1, its data stored as
    (F, OH, OW, N) (a transposed view; see the module docstring).
    """
    x, weight = _lift(x), _lift(weight)
    if x.ndim != 4 or weight.ndim != 4:
        raise ValueError(f"conv2d expects x (N, C, H, W) and weight (F, C, kh, kw), got {x.shape} and {weight.shape}")
    if x.shape[1] != weight.shape[1]:
        raise ValueError(f"conv2d: x has {x.shape[1]} channels but weight expects {weight.shape[1]}")
    stride, padding = _pair(stride, "stride"), _pair(padding, "padding")
    if 0 in stride:
        raise ValueError("conv2d: stride must be positive")
    f, c, kh, kw = weight.shape
    # images last in memory (a copy for an NCHW input, as a network's first layer gets; the
    # output of a conv2d already is, and batch norm, ReLU and max-pooling keep it)
    x = pad2d(images_last(x), padding)
    if x.shape[2] < kh or x.shape[3] < kw:
        raise ValueError(f"conv2d: kernel {kh}x{kw} is larger than the padded image {x.shape[2]}x{x.shape[3]}")
    n = x.shape[0]
    oh, ow = _output_size(x.shape[2], kh, stride[0]), _output_size(x.shape[3], kw, stride[1])
    # (F, C kh kw) @ (C kh kw, OH OW N): the output comes out as (F, OH, OW, N)
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


def max_pool2d(x: Any, kernel_size: Any, stride: Any = None) -> Tensor:
    """Max-pooling over ``kernel_size`` windows (stride defaults to the kernel size).

    At ties inside a window the gradient is shared equally by the tied entries (PyTorch gives
    it all to the first); this only differs when a window holds equal maxima.
    """
    x = _lift(x)
    if x.ndim != 4:
        raise ValueError(f"max_pool2d expects an (N, C, H, W) Tensor, got shape {x.shape}")
    kernel = _pair(kernel_size, "kernel_size")
    stride = kernel if stride is None else _pair(stride, "stride")
    if stride == kernel:
        return _tiled_max_pool2d(x, kernel)
    windows = unfold2d(x, kernel, stride)
    n, oh, ow, c = windows.shape[:4]
    pooled = max(reshape(windows, (n, oh, ow, c, kernel[0] * kernel[1])), axis=-1)
    return transpose(pooled, (0, 3, 1, 2))


def _tiled_max_pool2d(x: Tensor, kernel: tuple[int, int]) -> Tensor:
    """Max-pooling whose windows tile the image (stride == kernel), the common case.

    The image is viewed as (N, C, OH, kh, OW, kw), and as ``kh * kw`` strided views ("slabs"),
    slab (i, j) holding entry (i, j) of every window; the maximum is taken slab by slab
    (``kh * kw`` elementwise maxima are much faster than a reduction over two short, strided
    axes), and the VJP spreads ``g`` back over each window with the tie-sharing weights of
    :func:`max`. A trailing row or column that fits no window is dropped, as in PyTorch.
    """
    xp = _xp(x)
    (kh, kw), (n, c, h, w) = kernel, x.shape
    oh, ow = h // kh, w // kw
    if (oh * kh, ow * kw) != (h, w):
        x = getitem(x, (Ellipsis, slice(0, oh * kh), slice(0, ow * kw)))
    windows = x.data.reshape(n, c, oh, kh, ow, kw)  # a view, whatever the memory order of x
    # The window grid (N, C, OH, OW) of the slabs, and the output, keep the memory order of x:
    # the maxima and comparisons then run over its contiguous runs (N values, images last after
    # a conv2d; copying the slabs out first measured slower in that layout, not faster).
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
