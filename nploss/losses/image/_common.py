r"""What the image losses share: the 'same' Gaussian filter written as a banded matrix (a filter
on an :math:`H \times W` channel is :math:`G_h Z G_w^\top`, its adjoint :math:`G_h^\top R\, G_w`),
and the forward differences, which are slices, with their adjoint and the distance to the kink of
their absolute values."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from .._validate import same_shape


def _neighbours(xp: Any, z: Any, axis: int) -> Any:
    """The forward difference ``z[i] - z[i + 1]`` along ``axis`` (-1 or -2), as kornia takes it."""
    if axis == -1:
        return z[..., :-1] - z[..., 1:]
    return z[..., :-1, :] - z[..., 1:, :]


def _neighbours_t(xp: Any, r: Any, axis: int) -> Any:
    """The adjoint of :func:`_neighbours`: ``r[i]`` goes to pixel ``i`` and ``-r[i]`` to pixel ``i + 1``."""
    zero = xp.sum(r, axis=axis, keepdims=True) * 0.0  # one slice of zeros (also when r has none)
    return xp.concatenate([r, zero], axis=axis) - xp.concatenate([zero, r], axis=axis)


@functools.lru_cache(maxsize=64)
def _same_band(size: int, pad: int, sigma: float) -> np.ndarray:
    r"""The ``(size, size)`` matrix of kornia's 1-D Gaussian filter with ``pad`` zeros on each side.

    The window has ``2 pad + 1`` taps :math:`w_k \propto e^{-k^2 / 2\sigma^2}`, :math:`|k| \le`
    ``pad``, normalised over the whole window (also where the border cuts it): row ``i`` holds
    :math:`w_{j - i}` in column ``j``, which is the convolution with ``padding=pad``.
    """
    k = np.exp(-((np.arange(-pad, pad + 1)) ** 2) / (2.0 * sigma**2))
    k /= k.sum()
    offset = np.arange(size)[None, :] - np.arange(size)[:, None]
    band = np.where(np.abs(offset) <= pad, k[np.clip(offset + pad, 0, 2 * pad)], 0.0)
    band.setflags(write=False)  # cached and shared between calls
    return band


def _filters(xp: Any, x: Any, sigmas: tuple[float, ...]) -> list[tuple[Any, Any]]:
    """``(G_h, G_w^T)`` for every scale, in ``x``'s dtype; the window is set by the last sigma."""
    pad = int(2 * sigmas[-1])
    h, w = x.shape[-2:]
    return [
        (xp.asarray(_same_band(h, pad, s), dtype=x.dtype), xp.asarray(_same_band(w, pad, s).T, dtype=x.dtype))
        for s in sigmas
    ]


def _check_images(x: Any, y: Any) -> None:
    """A batch of images (N, C, H, W), and a second of the same shape."""
    if x.ndim != 4:
        raise ValueError(f"x must be a batch of images (N, C, H, W), got shape {tuple(x.shape)}")
    same_shape("x", x, "y", y)


def _blur(xp: Any, band: tuple[Any, Any], z: Any) -> Any:
    return xp.matmul(xp.matmul(band[0], z), band[1])


def _blur_t(xp: Any, band: tuple[Any, Any], r: Any) -> Any:
    return xp.matmul(xp.matmul(band[0].T, r), band[1].T)


def _difference_kinks(image: Any, **_: Any) -> Any:
    return np.concatenate([np.abs(np.diff(image, axis=-1)).ravel(), np.abs(np.diff(image, axis=-2)).ravel()])
