r"""Parzen-window mutual information (:func:`mutual_information`) and its normalised form
(:func:`normalized_mutual_information`), as kornia has them, on ``(*, H, W)``: a joint histogram
with Xu et al.'s piecewise quadratic window, its marginals and their entropies.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._apply import apply_loss
from .._params import integer, real
from .._spec import Arg, LossSpec, register
from .._validate import same_shape

# ------------------------------------------------------------------------------------ Mutual information


def _xu_kernel(xp: Any, d: Any, r: float) -> Any:
    """Xu et al.'s piecewise quadratic Parzen window (kornia's ``MIKernel.xu``), support ``|d| <= r``."""
    u = xp.abs(d) * (1.0 / r)
    inner = u * (-1.8 * u - 0.1) + 1.0
    outer = u * (1.8 * u - 3.7) + 1.9
    return xp.where(xp.as_data(u) < 0.5, inner, xp.where(xp.as_data(u) <= 1.0, outer, u * 0.0))


def _xu_kernel_derivative(xp: Any, d: Any, r: float) -> Any:
    """:math:`K'(d)`: :math:`\\operatorname{sign}(d)/r` times the slope in :math:`u = |d|/r` (0 at d = 0, as torch's abs)."""
    u = xp.abs(d) * (1.0 / r)
    slope = xp.where(xp.as_data(u) < 0.5, -3.6 * u - 0.1, xp.where(xp.as_data(u) <= 1.0, 3.6 * u - 3.7, u * 0.0))
    return xp.sign(d) * slope * (1.0 / r)


def _flat(xp: Any, z: Any) -> Any:
    return xp.reshape(z, tuple(z.shape[:-2]) + (z.shape[-2] * z.shape[-1],))


def _normalise(xp: Any, z: Any, bins: int, eps: float) -> tuple[Any, Any, Any]:
    """Min-max normalisation of each flat signal onto the bin centres 0 .. bins - 1 (kornia's
    ``_normalize_signal``); a signal whose range is at most ``eps`` is constant: all 0."""
    low, high = xp.min(z, axis=-1, keepdims=True), xp.max(z, axis=-1, keepdims=True)
    spread = high - low
    nontrivial = xp.as_data(spread) > eps
    safe = xp.where(nontrivial, spread, spread * 0.0 + 1.0)
    return xp.where(nontrivial, (z - low) / safe * (bins - 1), z * 0.0), low, safe


def _histogram(xp: Any, u: Any, v: Any, bins: int, r: float) -> tuple[Any, Any, Any]:
    """Kernel weights ``a = K(i - u_k)``, ``b = K(j - v_k)`` and the joint histogram :math:`h = a b^\\top`."""
    centres = xp.reshape(xp.arange(bins, dtype=u.dtype), (bins, 1))
    a = _xu_kernel(xp, centres - xp.expand_dims(u, -2), r)  # (..., bins, n)
    b = _xu_kernel(xp, centres - xp.expand_dims(v, -2), r)
    return a, b, xp.matmul(a, xp.swapaxes(b, -1, -2))


def _entropies(xp: Any, h: Any, tiny: float) -> tuple[Any, Any, Any, Any, Any, Any]:
    """The floored, normalised joint :math:`P` (kornia clamps the histogram at ``tiny``), its marginals and entropies."""
    floored = xp.maximum(h, tiny)
    total = xp.sum(floored, axis=(-2, -1), keepdims=True)
    p = floored / total
    p_ref, p_other = xp.sum(p, axis=-1), xp.sum(p, axis=-2)  # rows: target bins; columns: prediction bins
    h_joint = -xp.sum(p * xp.log(p), axis=(-2, -1))
    h_ref = -xp.sum(p_ref * xp.log(p_ref), axis=-1)
    h_other = -xp.sum(p_other * xp.log(p_other), axis=-1)
    return p, p_ref, p_other, h_ref, h_other, h_joint


FLOOR = float(np.finfo(np.float64).eps)


def _mi_parts(xp: Any, prediction: Any, target: Any, bins: int, window_radius: float) -> dict[str, Any]:
    threshold = float(np.finfo(prediction.dtype).eps)  # kornia's: a range below it is a constant signal
    u, low_u, range_u = _normalise(xp, _flat(xp, prediction), bins, threshold)
    v, low_v, range_v = _normalise(xp, _flat(xp, target), bins, threshold)
    a, b, h = _histogram(xp, v, u, bins, window_radius)  # rows: the target (kornia's reference)
    # The floor of empty bins is float64's epsilon in every dtype (kornia: the histogram dtype's,
    # 1.2e-7 in float32, where thousands of empty bins then move the loss by about 1e-4)
    p, p_ref, p_other, h_ref, h_other, h_joint = _entropies(xp, h, FLOOR)
    return {"u": u, "v": v, "a": a, "b": b, "h": h, "p": p, "p_ref": p_ref, "p_other": p_other,
            "h_ref": h_ref, "h_other": h_other, "h_joint": h_joint, "eps": FLOOR, "threshold": threshold,
            "low_u": low_u, "low_v": low_v, "range_u": range_u, "range_v": range_v}  # fmt: skip


def _mi_forward(xp: Any, prediction: Any, target: Any, *, num_bins: int, window_radius: float) -> Any:
    s = _mi_parts(xp, prediction, target, num_bins, window_radius)
    return -(s["h_ref"] + s["h_other"] - s["h_joint"])


def _normalisation_vjp(xp: Any, c: Any, z: Any, low: Any, spread: Any, bins: int, eps: float) -> Any:
    r"""Back through :math:`u = (z - m)(B - 1)/R`, :math:`m = \min z`, :math:`R = \max z - m`:
    the cotangents of :math:`m` and of the maximum go to the extremes, shared equally by ties
    (as the engine's ``min``/``max``); a constant signal gets 0."""
    zd = xp.as_data(z)
    nontrivial = xp.as_data(spread) > eps
    k = (bins - 1) / spread
    direct = c * k
    centred = z - low
    to_range = -xp.sum(c * centred, axis=-1, keepdims=True) * k / spread  # d/dR
    to_low = -xp.sum(direct, axis=-1, keepdims=True) - to_range  # d/dm (R = M - m)
    lows = (zd == xp.as_data(low)).astype(zd.dtype)
    highs = (zd == zd.max(axis=-1, keepdims=True)).astype(zd.dtype)
    lows, highs = lows / lows.sum(axis=-1, keepdims=True), highs / highs.sum(axis=-1, keepdims=True)
    grad = direct + to_low * lows + to_range * highs
    return xp.where(nontrivial, grad, grad * 0.0)


def _entropy_vjp(xp: Any, s: Any, g_ref: Any, g_other: Any, g_joint: Any, prediction: Any, target: Any,
                 bins: int, window_radius: float) -> tuple[Any, Any]:  # fmt: skip
    """From the cotangents of the three entropies back to the two images."""
    p = s["p"]

    def e2(t: Any) -> Any:  # one value per signal, against the (bins, bins) histogram
        return xp.expand_dims(xp.expand_dims(t, -1), -1)

    # dH/dP = -(log P + 1), for the joint and (broadcast) for each marginal
    g_p = (
        -e2(g_joint) * (xp.log(p) + 1.0)
        - e2(g_ref) * xp.expand_dims(xp.log(s["p_ref"]) + 1.0, -1)
        - e2(g_other) * xp.expand_dims(xp.log(s["p_other"]) + 1.0, -2)
    )
    # P = h' / sum h': the quotient rule; h' = max(h, eps) passes the cotangent where h > eps
    total = xp.sum(xp.maximum(s["h"], s["eps"]), axis=(-2, -1), keepdims=True)
    g_h = (g_p - xp.sum(g_p * p, axis=(-2, -1), keepdims=True)) / total
    g_h = xp.where(xp.as_data(s["h"]) > s["eps"], g_h, g_h * 0.0)
    # h = a b^T: the cotangents of the kernel weights, then of the normalised values
    g_a = xp.matmul(g_h, s["b"])
    g_b = xp.matmul(xp.swapaxes(g_h, -1, -2), s["a"])
    centres = xp.reshape(xp.arange(bins, dtype=p.dtype), (bins, 1))
    c_v = -xp.sum(g_a * _xu_kernel_derivative(xp, centres - xp.expand_dims(s["v"], -2), window_radius), axis=-2)
    c_u = -xp.sum(g_b * _xu_kernel_derivative(xp, centres - xp.expand_dims(s["u"], -2), window_radius), axis=-2)
    grad_p = _normalisation_vjp(xp, c_u, _flat(xp, prediction), s["low_u"], s["range_u"], bins, s["threshold"])
    grad_t = _normalisation_vjp(xp, c_v, _flat(xp, target), s["low_v"], s["range_v"], bins, s["threshold"])
    return xp.reshape(grad_p, prediction.shape), xp.reshape(grad_t, target.shape)


def _mi_vjp(xp: Any, g: Any, prediction: Any, target: Any, *, num_bins: int, window_radius: float) -> tuple[Any, Any]:
    s = _mi_parts(xp, prediction, target, num_bins, window_radius)
    return _entropy_vjp(xp, s, -g, -g, g, prediction, target, num_bins, window_radius)


def _check_mi(prediction: Any, target: Any, *, num_bins: int, window_radius: float) -> None:
    if prediction.ndim < 2:
        raise ValueError(f"prediction must have shape (*, H, W), got {tuple(prediction.shape)}")
    same_shape("prediction", prediction, "target", target)
    if integer("num_bins", num_bins) < 2:
        raise ValueError(f"num_bins must be an integer >= 2, got {num_bins}")
    real("window_radius", window_radius, low=0, low_open=True)


def _mi_kinks(prediction: Any, target: Any, *, num_bins: int, window_radius: float) -> Any:
    """Distances (in pixel values) to the kinks: a normalised value at a bin centre, half a
    window or a window from one (the kernel's pieces), and ties for a signal's minimum or maximum."""
    out = []
    for z in (prediction, target):
        flat = z.reshape(z.shape[:-2] + (-1,))
        low, high = flat.min(axis=-1, keepdims=True), flat.max(axis=-1, keepdims=True)
        scale = np.maximum(high - low, 1e-300) / (num_bins - 1)
        u = (flat - low) / scale
        inside = (flat > low) & (flat < high)  # the extremes map to the end centres for good
        for offset in (0.0, 0.5 * window_radius, window_radius):
            for sign in (1.0, -1.0):
                w = u + sign * offset
                out.append((np.abs(w - np.round(w)) * scale)[inside])
        ordered = np.sort(flat, axis=-1)
        out.append((ordered[..., 1] - ordered[..., 0]).ravel())
        out.append((ordered[..., -1] - ordered[..., -2]).ravel())
    return np.concatenate([o.ravel() for o in out])


def _mi_edges() -> dict[str, Any]:
    shape = (2, 1, 4, 4)
    return {
        "identical images": lambda rng: [rng.uniform(0, 1, shape)] * 2,
        "constant prediction": lambda rng: [np.full(shape, 0.5), rng.uniform(0, 1, shape)],
        "both constant": lambda rng: [np.full(shape, 0.5), np.full(shape, 0.2)],
        "binary images": lambda rng: [rng.integers(0, 2, shape).astype(float), rng.integers(0, 2, shape).astype(float)],
        "a range of 1e-12": lambda rng: [0.5 + 1e-12 * rng.uniform(0, 1, shape), rng.uniform(0, 1, shape)],
    }


MI_ARGS = (Arg("prediction", "real", ("N", "C", "H", "W")), Arg("target", "real", ("N", "C", "H", "W")))

MUTUAL_INFORMATION = register(
    LossSpec(
        name="mutual_information",
        unreduced=("N", "C"),
        family="segmentation",
        args=MI_ARGS,
        forward=_mi_forward,
        vjp=_mi_vjp,
        params={"num_bins": 64, "window_radius": 1.0},
        check=_check_mi,
        kinks=_mi_kinks,
        sizes={"N": 2, "C": 1, "H": 3, "W": 3},
        nonnegative=False,
        edge_cases=_mi_edges(),
        formula=r"\ell = -(H(X) + H(Y) - H(X, Y)), \quad P_{ij} \propto \max\big(\textstyle\sum_k K(i - v_k) K(j - u_k), \epsilon\big)",
        reference="Viola & Wells, IJCV 1997; Xu et al. 2008 (kernel); kornia.losses.mutual_information_loss_2d",
    )
)


def mutual_information(
    prediction: Any, target: Any, num_bins: int = 64, window_radius: float = 1.0, reduction: str = "mean"
) -> Any:
    r"""Negative mutual information of two images from a Parzen-window joint histogram, as
    kornia's ``mutual_information_loss_2d(input, target)`` with its default kernel ``MIKernel.xu``.

    Each image (the last two axes, flattened to :math:`n` values) is min-max normalised onto the
    bin centres :math:`0 \ldots B - 1`, :math:`u_k = (x_k - \min x)(B - 1)/(\max x - \min x)`
    (all 0 when the range is at most machine epsilon), likewise :math:`v` for the target. With
    Xu et al.'s kernel :math:`K` (support :math:`|d| \le r`, :math:`t = |d|/r`:
    :math:`1 - 0.1t - 1.8t^2` below :math:`t = \tfrac12`, :math:`1.9 - 3.7t + 1.8t^2` up to 1),

    .. math::  h_{ij} = \sum_k K(i - v_k) K(j - u_k), \quad
               P = \frac{\max(h, \epsilon)}{\sum \max(h, \epsilon)}, \quad
               \ell = -\big(H(P_{i\cdot}) + H(P_{\cdot j}) - H(P)\big),

    entropies in nats, :math:`\epsilon = 2^{-52}` (float64's machine epsilon) the floor of empty bins.

    **Gradient**, backwards: :math:`\partial \ell / \partial P_{ij} = \log P_{i\cdot} + \log P_{\cdot j} - \log P_{ij} + 1`;
    through the normalisation :math:`\bar{h}_{ij} = (\bar{P}_{ij} - \sum \bar{P} P)/\sum \max(h,\epsilon)`
    where :math:`h > \epsilon` (0 on floored bins); through the product
    :math:`\bar{a} = \bar{h} b`, :math:`\bar{b} = \bar{h}^\top a`; through the kernels
    :math:`\bar{u}_k = -\sum_j \bar{b}_{jk} K'(j - u_k)`; and through the min-max normalisation,
    whose minimum and maximum pass their cotangents to the extreme pixels (shared by ties).

    Parameters
    ----------
    prediction, target : array or Tensor, (*, H, W)
        One loss per leading index: ``(N, C)`` for image batches (kornia's ``input``, ``target``;
        the loss is symmetric in them). Both differentiable.
    num_bins : int, >= 2
        :math:`B`, kornia's ``num_bins`` (64).
    window_radius : float, positive
        :math:`r` in bin widths, kornia's ``window_radius`` (1).
    reduction : {'mean', 'sum', 'none'}
        ``'none'``: kornia's output, one loss per leading index.

    Notes
    -----
    - Equal to kornia 0.9 ``mutual_information_loss_2d`` (and to ``MILossFromRef2D(target)(input)``)
      with ``MIKernel.xu`` and no masks, checked to 1e-6 in float64; kornia has no ``reduction``.
      The other kernels and the masks are not offered.
    - kornia floors the histogram at the machine epsilon of its dtype; nploss at float64's in
      every dtype, so float32 tracks float64. In float32 kornia's floor, 1.2e-7, lifts thousands
      of empty bins of a 64 x 64 histogram and moves the loss by about 1e-4 (for a 3 x 3 image);
      a signal whose range is at most the dtype's epsilon counts as constant in both.
    - kinks: the kernel's slope jumps at :math:`|d| = 0` and :math:`|d| = r` (its curvature at
      :math:`r/2`), and the extremes switch where two pixels tie for a minimum or maximum.
    - The loss is :math:`\le 0`; even an image against itself does not reach :math:`-H(X)` (the
      window spreads every value over neighbouring bins).

    Raises
    ------
    ValueError
        Fewer than two axes, shapes that differ, ``num_bins < 2``, a non-positive
        ``window_radius``, NaN, an unknown ``reduction``.
    TypeError
        A non-integer ``num_bins`` or a ``window_radius`` that is not a real number.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.linspace(0, 1, 16).reshape(4, 4)
    >>> round(float(mutual_information(x, x, num_bins=4)), 6)
    -0.713671
    """
    num_bins = integer("num_bins", num_bins)
    window_radius = real("window_radius", window_radius, low=0, low_open=True)
    return apply_loss(MUTUAL_INFORMATION, prediction, target, reduction=reduction,
                      num_bins=num_bins, window_radius=window_radius)  # fmt: skip


# ------------------------------------------------------------------------------------ Normalized mutual information


def _nmi_forward(xp: Any, prediction: Any, target: Any, *, num_bins: int, window_radius: float) -> Any:
    s = _mi_parts(xp, prediction, target, num_bins, window_radius)
    return -(s["h_ref"] + s["h_other"]) / s["h_joint"]


def _nmi_vjp(xp: Any, g: Any, prediction: Any, target: Any, *, num_bins: int, window_radius: float) -> tuple[Any, Any]:
    s = _mi_parts(xp, prediction, target, num_bins, window_radius)
    # -(H_r + H_o) / H_j: the quotient rule
    g_marginal = -g / s["h_joint"]
    g_joint = g * (s["h_ref"] + s["h_other"]) / (s["h_joint"] * s["h_joint"])
    return _entropy_vjp(xp, s, g_marginal, g_marginal, g_joint, prediction, target, num_bins, window_radius)


NORMALIZED_MUTUAL_INFORMATION = register(
    LossSpec(
        name="normalized_mutual_information",
        unreduced=("N", "C"),
        family="segmentation",
        args=MI_ARGS,
        forward=_nmi_forward,
        vjp=_nmi_vjp,
        params={"num_bins": 64, "window_radius": 1.0},
        check=_check_mi,
        kinks=_mi_kinks,
        sizes={"N": 2, "C": 1, "H": 3, "W": 3},
        nonnegative=False,
        edge_cases=_mi_edges(),
        formula=r"\ell = -\frac{H(X) + H(Y)}{H(X, Y)}, \quad \text{Parzen-window histograms as mutual\_information}",
        reference="Studholme, Hill & Hawkes, Pattern Recognition 1999; "
        "kornia.losses.normalized_mutual_information_loss_2d",
    )
)


def normalized_mutual_information(
    prediction: Any, target: Any, num_bins: int = 64, window_radius: float = 1.0, reduction: str = "mean"
) -> Any:
    r"""Negative normalized mutual information (Studholme et al. 1999), as kornia's
    ``normalized_mutual_information_loss_2d(input, target)`` with ``MIKernel.xu``.

    .. math::  \ell = -\frac{H(X) + H(Y)}{H(X, Y)} \in [-2, -1], \qquad
               \bar{H}_X = \bar{H}_Y = -\frac{\bar{g}}{H(X, Y)}, \quad
               \bar{H}_{XY} = \bar{g}\, \frac{H(X) + H(Y)}{H(X, Y)^2},

    with the entropies of the Parzen-window joint histogram of :func:`mutual_information` (same
    normalisation, kernel, floor and backward pass from the entropies down).

    Parameters
    ----------
    prediction, target : array or Tensor, (*, H, W)
    num_bins : int, >= 2
    window_radius : float, positive
    reduction : {'mean', 'sum', 'none'}
        ``'none'``: kornia's output, one loss per leading index.

    Notes
    -----
    Equal to kornia 0.9 ``normalized_mutual_information_loss_2d`` with ``MIKernel.xu`` and no masks
    (checked to 1e-6 in float64). The loss is ``-1`` when exactly one image is constant; for two
    constant images kornia calls it undefined: both give the ratio of the floored histogram's
    tiny entropies, a finite number.

    Raises
    ------
    ValueError
        As :func:`mutual_information`.
    TypeError
        As :func:`mutual_information`.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.linspace(0, 1, 16).reshape(4, 4)
    >>> round(float(normalized_mutual_information(x, x, num_bins=4)), 6)
    -1.357595
    """
    num_bins = integer("num_bins", num_bins)
    window_radius = real("window_radius", window_radius, low=0, low_open=True)
    return apply_loss(NORMALIZED_MUTUAL_INFORMATION, prediction, target, reduction=reduction,
                      num_bins=num_bins, window_radius=window_radius)  # fmt: skip
