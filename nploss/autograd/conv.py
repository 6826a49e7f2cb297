r"""Convolution and max-pooling, built from two linear primitives and a matrix product.

:func:`im2col` copies every sliding window of an image into a column of a matrix; :func:`col2im`
is its adjoint: it adds every column back into the window it came from, so overlapping windows
sum up. Each is the other's VJP, so derivatives of every order come for free. With them

.. math::  \mathrm{conv2d}(x, W) = W \, \mathrm{im2col}(\mathrm{pad}(x)) + b
           \qquad (\text{one matrix product of } (F, C k_h k_w) \text{ by } (C k_h k_w, OH \cdot OW \cdot N))

(Caffe's formulation). :func:`unfold2d` and :func:`fold2d` are the same windows laid out one
row per window, (N, OH, OW, C, kh, kw); max-pooling is a ``max`` over their window axes.
Images are NCHW, as in PyTorch.

The columns are ordered (OH, OW, N), the images the fastest axis, so the product comes out as
(F, OH, OW, N) and the NCHW result is a transposed view of it, not a copy.

These are the reference ops. The layers of :mod:`nploss.nn` call the tuned versions in
:mod:`nploss.nn._fused` (threads, memory order, tiled pooling), which ``tests/nn/test_fused.py``
holds to these.
"""

from __future__ import annotations

from typing import Any

from .ops import _lift, _xp, getitem, matmul, max, reshape, transpose
from .tensor import Tensor, make_node


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
    inner = (Ellipsis, slice(ph, ph + x.shape[-2]), slice(pw, pw + x.shape[-1]))
    data = _xp(x).zeros(x.shape[:-2] + (x.shape[-2] + 2 * ph, x.shape[-1] + 2 * pw), dtype=x.dtype)
    data[inner] = x.data
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


def im2col(x: Any, kernel: tuple[int, int], stride: tuple[int, int]) -> Tensor:
    """The sliding windows of an (N, C, H, W) image as a (C * kh * kw, OH * OW * N) matrix (a copy):
    column (oh, ow, n) holds the window at (oh, ow) of image n, row (c, i, j) its entry (c, i, j).
    The windows of :func:`unfold2d`, transposed; the VJP is :func:`col2im`."""
    x = _lift(x)
    windows = _window_view(x, kernel, stride).transpose(1, 4, 5, 2, 3, 0)  # (C, kh, kw, OH, OW, N)
    c, kh, kw, oh, ow, n = windows.shape
    matrix = _xp(x).ascontiguousarray(windows).reshape(c * kh * kw, oh * ow * n)
    return make_node(matrix, (x,), lambda g, out: (col2im(g, x.shape, kernel, stride),))


def col2im(cols: Any, shape: tuple[int, ...], kernel: tuple[int, int], stride: tuple[int, int]) -> Tensor:
    """Adjoint of :func:`im2col`: add each column of a (C * kh * kw, OH * OW * N) matrix back into
    its window of an (N, C, H, W) image of ``shape``."""
    cols = _lift(cols)
    n, c, h, w = shape
    (kh, kw), (sh, sw) = kernel, stride
    oh, ow = _output_size(h, kh, sh), _output_size(w, kw, sw)
    image = _xp(cols).zeros(shape, dtype=cols.dtype)
    # the image as (C, H, W, N) and the columns as (C, kh, kw, OH, OW, N), both views
    _add_windows(image.transpose(1, 2, 3, 0), cols.data.reshape(c, kh, kw, oh, ow, n), stride)
    return make_node(image, (cols,), lambda g, out: (im2col(g, kernel, stride),))


def _conv2d_arguments(x: Tensor, weight: Tensor, stride: Any, padding: Any) -> tuple[tuple[int, int], tuple[int, int]]:
    """Check the shapes of a convolution; its stride and padding as pairs."""
    if x.ndim != 4 or weight.ndim != 4:
        raise ValueError(f"conv2d expects x (N, C, H, W) and weight (F, C, kh, kw), got {x.shape} and {weight.shape}")
    if x.shape[1] != weight.shape[1]:
        raise ValueError(f"conv2d: x has {x.shape[1]} channels but weight expects {weight.shape[1]}")
    stride, padding = _pair(stride, "stride"), _pair(padding, "padding")
    if 0 in stride:
        raise ValueError("conv2d: stride must be positive")
    kh, kw = weight.shape[2:]
    h, w = x.shape[2] + 2 * padding[0], x.shape[3] + 2 * padding[1]
    if h < kh or w < kw:
        raise ValueError(f"conv2d: kernel {kh}x{kw} is larger than the padded image {h}x{w}")
    return stride, padding


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
    stride, padding = _conv2d_arguments(x, weight, stride, padding)
    f, c, kh, kw = weight.shape
    x = pad2d(x, padding)
    n, oh, ow = x.shape[0], _output_size(x.shape[2], kh, stride[0]), _output_size(x.shape[3], kw, stride[1])
    # (F, C kh kw) @ (C kh kw, OH OW N) -> (F, OH, OW, N)
    out = reshape(matmul(reshape(weight, (f, c * kh * kw)), im2col(x, (kh, kw), stride)), (f, oh, ow, n))
    if bias is not None:
        out = out + reshape(bias, (f, 1, 1, 1))
    return transpose(out, (3, 0, 1, 2))


def max_pool2d(x: Any, kernel_size: Any, stride: Any = None) -> Tensor:
    """Max-pooling over ``kernel_size`` windows (stride defaults to the kernel size): the
    ``max`` over each window of :func:`unfold2d`. A trailing row or column that fits no window
    is dropped, as in PyTorch.

    At ties inside a window the gradient is shared equally by the tied entries (PyTorch gives
    it all to the first); this only differs when a window holds equal maxima.
    """
    x = _lift(x)
    if x.ndim != 4:
        raise ValueError(f"max_pool2d expects an (N, C, H, W) Tensor, got shape {x.shape}")
    kernel = _pair(kernel_size, "kernel_size")
    stride = kernel if stride is None else _pair(stride, "stride")
    windows = unfold2d(x, kernel, stride)  # (N, OH, OW, C, kh, kw)
    n, oh, ow, c = windows.shape[:4]
    pooled = max(reshape(windows, (n, oh, ow, c, kernel[0] * kernel[1])), axis=-1)
    return transpose(pooled, (0, 3, 1, 2))
