r"""Convolution and max-pooling, built from two linear primitives and a matrix product.

``unfold2d`` copies every sliding window of an image into a row ("im2col"); ``fold2d`` is its
adjoint: it adds every row back into the window it came from ("col2im"), so overlapping windows
sum up. Each is the other's VJP, so derivatives of every order come for free. With them:

.. math::  \mathrm{conv2d}(x, W) = \mathrm{unfold}(\mathrm{pad}(x)) \, W^\top
           \qquad (\text{one BLAS matmul of } (N \cdot OH \cdot OW, C k_h k_w) \text{ by } (C k_h k_w, F))

and max-pooling is a ``max`` over the unfolded window axis. Images are NCHW, as in PyTorch.
"""

from __future__ import annotations

from typing import Any

from .ops import _lift, _xp, broadcast_to, getitem, matmul, max, reshape, transpose
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
    widths = [(0, 0)] * (x.ndim - 2) + [(ph, ph), (pw, pw)]
    data = _xp(x).pad(x.data, widths)
    inner = (Ellipsis, slice(ph, ph + x.shape[-2]), slice(pw, pw + x.shape[-1]))
    return make_node(data, (x,), lambda g, out: (getitem(g, inner),))


def unfold2d(x: Any, kernel: tuple[int, int], stride: tuple[int, int]) -> Tensor:
    """Sliding windows of an (N, C, H, W) image as an (N, OH, OW, C, kh, kw) array (a copy)."""
    x = _lift(x)
    xp = _xp(x)
    n, c, h, w = x.shape
    (kh, kw), (sh, sw) = kernel, stride
    oh, ow = _output_size(h, kh, sh), _output_size(w, kw, sw)
    data = xp.ascontiguousarray(x.data)
    s_n, s_c, s_h, s_w = data.strides
    windows = xp.lib.stride_tricks.as_strided(
        data, shape=(n, oh, ow, c, kh, kw), strides=(s_n, s_h * sh, s_w * sw, s_c, s_h, s_w)
    )
    return make_node(
        xp.ascontiguousarray(windows), (x,), lambda g, out: (fold2d(g, x.shape, kernel, stride),)
    )


def fold2d(cols: Any, shape: tuple[int, ...], kernel: tuple[int, int], stride: tuple[int, int]) -> Tensor:
    """Adjoint of :func:`unfold2d`: add each window of ``cols`` back into an image of ``shape``."""
    cols = _lift(cols)
    xp = _xp(cols)
    (kh, kw), (sh, sw) = kernel, stride
    _, oh, ow = cols.shape[:3]
    image = xp.zeros(shape, dtype=cols.dtype)
    # (N, OH, OW, C, kh, kw) -> (N, C, kh, kw, OH, OW): each (i, j) slab lands on a strided grid
    slabs = cols.data.transpose(0, 3, 4, 5, 1, 2)
    for i in range(kh):
        for j in range(kw):
            image[:, :, i : i + sh * oh : sh, j : j + sw * ow : sw] += slabs[:, :, i, j]
    return make_node(image, (cols,), lambda g, out: (unfold2d(g, kernel, stride),))


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
    Tensor, shape (N, F, OH, OW) with OH = (H + 2 ph - kh) // sh + 1.
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
    x = pad2d(x, padding)
    if x.shape[2] < kh or x.shape[3] < kw:
        raise ValueError(f"conv2d: kernel {kh}x{kw} is larger than the padded image {x.shape[2]}x{x.shape[3]}")
    cols = unfold2d(x, (kh, kw), stride)
    n, oh, ow = cols.shape[:3]
    out = matmul(reshape(cols, (n * oh * ow, c * kh * kw)), transpose(reshape(weight, (f, c * kh * kw))))
    if bias is not None:
        out = out + bias
    # NCHW is a transposed view of the (N, OH, OW, F) product; one copy here makes every later
    # elementwise op (batch norm, ReLU) and its VJP run over contiguous memory.
    return contiguous(transpose(reshape(out, (n, oh, ow, f)), (0, 3, 1, 2)))


def contiguous(x: Any) -> Tensor:
    """The same values in C order (a copy only when needed); the VJP does the same to ``g``."""
    x = _lift(x)
    data = _xp(x).ascontiguousarray(x.data)
    return make_node(data, (x,), lambda g, out: (contiguous(g),))


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

    The image is viewed as (N, C, OH, kh, OW, kw) without a copy; the maximum is taken slab by
    slab (``kh * kw`` elementwise maxima are much faster than a reduction over two short,
    strided axes), and the VJP spreads ``g`` back over each window with the tie-sharing weights
    of :func:`max`. A trailing row or column that fits no window is dropped, as in PyTorch.
    """
    xp = _xp(x)
    (kh, kw), (n, c, h, w) = kernel, x.shape
    oh, ow = h // kh, w // kw
    if (oh * kh, ow * kw) != (h, w):
        x = getitem(x, (Ellipsis, slice(0, oh * kh), slice(0, ow * kw)))
    windows = x.data.reshape(n, c, oh, kh, ow, kw)
    slabs = [windows[:, :, :, i, :, j] for i in range(kh) for j in range(kw)]
    pooled = slabs[0]
    for slab in slabs[1:]:
        pooled = xp.maximum(pooled, slab)

    def vjp(g: Tensor, out: Tensor) -> tuple[Tensor]:
        # The tie-sharing weights are only needed going backward: computed here, not in the
        # forward, so evaluation (no_grad) does not pay for them.
        winners = windows == pooled[:, :, :, None, :, None]
        count = sum(winners[:, :, :, i, :, j].astype(x.dtype) for i in range(kh) for j in range(kw))
        share = winners / count[:, :, :, None, :, None]  # 1 for a unique maximum, 1/k for k tied
        spread = broadcast_to(reshape(g, (n, c, oh, 1, ow, 1)), (n, c, oh, kh, ow, kw)) * share
        return (reshape(spread, (n, c, oh * kh, ow * kw)),)

    return make_node(xp.ascontiguousarray(pooled), (x,), vjp)
