r"""The erosion-based Hausdorff-distance loss (:func:`hausdorff_erosion`), on probabilities and
integer labels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...backend import get_array_module
from ...numerics import array_namespace
from .._apply import apply_loss
from .._params import integer, real
from .._shared import one_hot
from .._spec import Arg, LossSpec, elementwise, register

# ------------------------------------------------------------------------------------ Hausdorff (erosion)


def _cross(xp: Any, b: Any) -> Any:
    """The filter of kornia's erosion: 0.2 times the pixel and its four neighbours, zero padding.
    Its kernel is symmetric, so the filter is its own adjoint."""
    zeros = get_array_module(xp.as_data(b)).zeros
    rows, cols = zeros(b.shape[:-2] + (1, b.shape[-1]), b.dtype), zeros(b.shape[:-1] + (1,), b.dtype)
    up = xp.concatenate([b[..., 1:, :], rows], axis=-2)
    down = xp.concatenate([rows, b[..., :-1, :]], axis=-2)
    left = xp.concatenate([b[..., :, 1:], cols], axis=-1)
    right = xp.concatenate([cols, b[..., :, :-1]], axis=-1)
    return 0.2 * (b + up + down + left + right)


def _erosions(xp: Any, prediction: Any, target: Any, alpha: float, k: int) -> tuple[Any, list[tuple[Any, ...]]]:
    """The weighted sum of the ``k`` normalised erosions of :math:`(p - g)^2`, and each step's
    (mask d >= 1/2, erosion, its minimum, range, whether normalised, shares of the max and min)."""
    fg = one_hot(xp.as_data(target), prediction.shape[1], axis=1, dtype=prediction.dtype)
    bound = (prediction - fg) * (prediction - fg)
    total, steps = 0.0, []
    for i in range(k):
        d = _cross(xp, bound)
        above = (xp.as_data(d) >= 0.5).astype(prediction.dtype)  # kornia's masked_fill(d < 0.5, 0)
        e = (d - 0.5) * above
        hi, lo = xp.max(e, axis=(2, 3), keepdims=True), xp.min(e, axis=(2, 3), keepdims=True)
        span = hi - lo
        scaled = xp.as_data(span) != 0  # a constant map (all eroded away) is left as it is
        span = xp.where(scaled, span, 1.0)
        normalised = xp.where(scaled, (e - lo) / span, e)
        total = total + normalised * float(i + 1) ** alpha
        data = xp.as_data(e)
        at_hi, at_lo = (data == xp.as_data(hi)).astype(data.dtype), (data == xp.as_data(lo)).astype(data.dtype)
        share_hi = at_hi / at_hi.sum(axis=(2, 3), keepdims=True)  # the max's cotangent split among ties
        share_lo = at_lo / at_lo.sum(axis=(2, 3), keepdims=True)
        steps.append((above, e, lo, span, scaled, share_hi, share_lo))
        bound = normalised
    return total, steps


def _hausdorff_erosion_forward(xp: Any, prediction: Any, target: Any, *, alpha: float, k: int) -> Any:
    return _erosions(xp, prediction, target, alpha, k)[0]


def _hausdorff_erosion_vjp(xp: Any, g: Any, prediction: Any, target: Any, *, alpha: float, k: int) -> tuple[Any]:
    _, steps = _erosions(xp, prediction, target, alpha, k)
    g_bound = 0.0  # the cotangent of the next step's input, b_{i+1} = n_i
    for i in reversed(range(k)):
        above, e, lo, span, scaled, share_hi, share_lo = steps[i]
        g_n = g * float(i + 1) ** alpha + g_bound
        # n = (e - lo) / span: through e directly, and through the max and the min (tie shares)
        s1 = xp.sum(g_n, axis=(2, 3), keepdims=True)
        s2 = xp.sum(g_n * (e - lo), axis=(2, 3), keepdims=True) / (span * span)
        g_e = xp.where(scaled, g_n / span - share_hi * s2 + share_lo * (s2 - s1 / span), g_n)
        g_bound = _cross(xp, g_e * above)  # the filter is its own adjoint
    fg = one_hot(xp.as_data(target), prediction.shape[1], axis=1, dtype=prediction.dtype)
    return (2.0 * (prediction - fg) * g_bound,)


def _hausdorff_erosion_kinks(prediction: Any, target: Any, *, alpha: float, k: int) -> np.ndarray:
    """Thresholds (d = 1/2), ties of the maximum and of a positive minimum, and ranges near 0
    (where the normalisation jumps)."""
    xp = array_namespace(np)
    fg = one_hot(np.asarray(target), prediction.shape[1], axis=1, dtype=np.float64)
    bound, found = (np.asarray(prediction) - fg) ** 2, []
    for _ in range(k):
        d = _cross(xp, bound)
        e = np.where(d >= 0.5, d - 0.5, 0.0)
        flat = np.sort(e.reshape(e.shape[:2] + (-1,)), axis=-1)
        span = flat[..., -1] - flat[..., 0]
        positive_max = flat[..., -1] > 0  # an all-zero map (everything eroded) has no kink there
        found += [np.abs(d - 0.5).ravel(), (flat[..., -1] - flat[..., -2])[positive_max], span[span > 0]]
        positive = flat[..., 0] > 0
        found.append((flat[..., 1] - flat[..., 0])[positive])
        bound = np.where(
            span[..., None, None] != 0, (e - flat[..., :1, None]) / np.where(span == 0, 1, span)[..., None, None], e
        )
    return np.concatenate(found)


def _check_hausdorff(prediction: Any, target: Any, *, alpha: float, k: int) -> None:
    if prediction.ndim != 4:
        raise ValueError(f"prediction must be a batch of 2-D maps (N, C, H, W), got shape {tuple(prediction.shape)}")
    expected = prediction.shape[:1] + prediction.shape[2:]
    if tuple(target.shape) != tuple(expected):
        raise ValueError(f"target must have shape (N, H, W) = {tuple(expected)}, got {tuple(target.shape)}")
    real("alpha", alpha)
    integer("k", k, low=1)


HAUSDORFF_EROSION = register(
    LossSpec(
        name="hausdorff_erosion",
        unreduced=elementwise,
        family="segmentation",
        args=(
            Arg("prediction", "prob", ("N", "C", "H", "W")),
            Arg("target", "label", ("N", "H", "W"), differentiable=False),
        ),
        forward=_hausdorff_erosion_forward,
        vjp=_hausdorff_erosion_vjp,
        params={"alpha": 2.0, "k": 10},
        check=_check_hausdorff,
        classes_from="prediction",
        kinks=_hausdorff_erosion_kinks,
        sizes={"N": 2, "C": 2, "H": 5, "W": 6},
        edge_cases={
            "perfect one-hot prediction": lambda rng: [
                np.moveaxis(np.eye(3)[labels := rng.integers(0, 3, (2, 5, 6))], -1, 1),
                labels,
            ],
            "everything wrong": lambda rng: [
                1.0 - np.moveaxis(np.eye(2)[labels := rng.integers(0, 2, (2, 5, 6))], -1, 1),
                labels,
            ],
            "uniform prediction": lambda rng: [np.full((2, 2, 5, 6), 0.5), rng.integers(0, 2, (2, 5, 6))],
        },
        formula=(
            r"\ell = \sum_{i=1}^{K} i^\alpha\, n_i, \quad n_i = \mathrm{norm}(\max(0, A n_{i-1} - \tfrac12)), "
            r"\ n_0 = (p - g)^2"
        ),
        reference="Karimi & Salcudean 2019 (arXiv:1904.10030); kornia.losses.HausdorffERLoss",
    )
)


def hausdorff_erosion(prediction: Any, target: Any, alpha: float = 2.0, k: int = 10, reduction: str = "mean") -> Any:
    r"""Hausdorff-distance loss by morphological erosion (Karimi & Salcudean 2019), as kornia's
    ``HausdorffERLoss``: a surrogate that weighs errors far inside a wrong region more.

    For each sample and class, with :math:`g = [y = c]` and the map :math:`b_0 = (p - g)^2`, each of
    the :math:`K` steps filters, thresholds and min-max normalises:

    .. math::  d_i = A\, b_{i-1}, \quad e_i = [d_i \ge \tfrac12]\,(d_i - \tfrac12), \quad
               b_i = n_i = \frac{e_i - \min e_i}{\max e_i - \min e_i}
               \ (n_i = e_i \text{ if } \max e_i = \min e_i),

    .. math::  \ell_{nc\,hw} = \sum_{i=1}^{K} i^\alpha\, n_{i, hw},

    where :math:`A` is the cross-shaped filter (0.2 on the pixel and its four neighbours, zero
    padding) and the max and min run over the image. The gradient is the chain rule backwards
    through the steps: with :math:`\bar n_i = i^\alpha \bar\ell + \bar b_i` (the cotangent of
    :math:`n_i`, :math:`\bar b_K = 0`), :math:`r = \max e - \min e`,
    :math:`S_1 = \sum \bar n_i` and :math:`S_2 = \sum \bar n_i (e_i - \min e_i) / r^2`,

    .. math::  \bar e_i = \frac{\bar n_i}{r} - S_2\, \mu_{\max} + \Big(S_2 - \frac{S_1}{r}\Big) \mu_{\min},
               \quad \bar b_{i-1} = A\big([d_i \ge \tfrac12]\, \bar e_i\big), \quad
               \frac{\partial \ell}{\partial p} = 2 (p - g)\, \bar b_0,

    with :math:`\mu_{\max}` (:math:`\mu_{\min}`) 1 at the maximum (minimum) divided by the number
    of tied maxima (minima), as ``torch.amax``'s gradient, and :math:`A^\top = A`. The loss is
    piecewise smooth: its kinks are the thresholds :math:`d = \tfrac12`, ties of the maximum or of a
    positive minimum, and a range :math:`r` reaching 0 (where the normalisation jumps); the
    derivative of the threshold is 1 at :math:`d = \tfrac12` exactly (as kornia's ``masked_fill``).

    Parameters
    ----------
    prediction : array or Tensor, (N, C, H, W)
        Class probabilities (no softmax is applied, as in kornia).
    target : array, (N, H, W)
        Integer labels in [0, C); not differentiated.
    alpha : float
        The exponent of the weights :math:`i^\alpha`.
    k : int, >= 1
        The number of erosions.
    reduction : {'mean', 'sum', 'none'}
        ``'none'``: the ``(N, C, H, W)`` map; ``'mean'``: its mean (kornia's default).

    Notes
    -----
    kornia ``HausdorffERLoss(alpha, k, reduction)(pred, target)`` (0.9) takes ``target`` of shape
    ``(B, 1, H, W)`` (int64): it equals ``hausdorff_erosion(pred, target[:, 0], alpha, k,
    reduction)`` for 'mean' and 'sum'; its ``'none'`` is laid out class first, ``(C, B, 1, H, W)``,
    which is ``out.transpose(1, 0, 2, 3)[:, :, None]`` of the ``(N, C, H, W)`` map here. The value
    is a unitless surrogate, not a distance in pixels. kornia builds its filter's 0.2 in float32
    (0.20000000298...) and casts it to the input's dtype, so in float64 its values differ from
    these by about :math:`5 \cdot 10^{-8}` relative; with the kernel rebuilt in float64 they agree
    to round-off. Only 2-D maps (kornia's ``HausdorffERLoss3D`` is not provided).

    Raises
    ------
    ValueError
        A prediction that is not ``(N, C, H, W)``, a target that is not ``(N, H, W)``, labels
        outside [0, C), probabilities outside [0, 1], ``k < 1``, an unknown ``reduction``.
    TypeError
        A non-integer ``k``, an ``alpha`` that is not a real number, labels that are not integers.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.zeros((1, 2, 3, 3)); p[0, 0] = 1.0      # everything predicted as class 0
    >>> y = np.ones((1, 3, 3), dtype=int)              # and everything is class 1
    >>> hausdorff_erosion(p, y, k=1, reduction='none')[0, 1]   # d: 1 inside, 0.8 on edges, 0.6 in corners
    array([[0. , 0.5, 0. ],
           [0.5, 1. , 0.5],
           [0. , 0.5, 0. ]])
    """
    return apply_loss(HAUSDORFF_EROSION, prediction, target, reduction=reduction, alpha=alpha, k=k)
