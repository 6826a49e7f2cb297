r"""Image losses as kornia has them: multi-scale SSIM (alone and mixed with L1), PSNR, total
variation, edge-aware inverse-depth smoothness, and Parzen-window mutual information.

Each loss is one block: the reference ``_x_forward`` and ``_x_vjp`` (the formula and its
derivative), the registry entry, then the public function. Images are ``(N, C, H, W)`` unless a
loss says otherwise (:func:`total_variation` and the mutual informations take ``(*, H, W)``, as
kornia does). The filters are written as matrices: a 'same' Gaussian filter with zero padding on
an :math:`H \times W` channel is :math:`G_h Z G_w^\top`, with :math:`G_h` the :math:`H \times H`
banded matrix of the window, and its adjoint is :math:`G_h^\top R\, G_w`. Forward differences
are slices, and their adjoints scatter a cotangent back onto the two pixels of each difference.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from ._apply import apply_loss
from ._params import integer, real
from ._spec import Arg, LossSpec, register
from ._validate import same_shape

__all__ = [
    "inverse_depth_smoothness",
    "ms_ssim",
    "ms_ssim_l1",
    "mutual_information",
    "normalized_mutual_information",
    "psnr",
    "total_variation",
]

IMAGES = (Arg("x", "real", ("N", "C", "H", "W")), Arg("y", "real", ("N", "C", "H", "W")))


def _check_images(x: Any, y: Any) -> None:
    if x.ndim != 4:
        raise ValueError(f"x must be a batch of images (N, C, H, W), got shape {tuple(x.shape)}")
    same_shape("x", x, "y", y)


def _neighbours(xp: Any, z: Any, axis: int) -> Any:
    """The forward difference ``z[i] - z[i + 1]`` along ``axis`` (-1 or -2), as kornia takes it."""
    if axis == -1:
        return z[..., :-1] - z[..., 1:]
    return z[..., :-1, :] - z[..., 1:, :]


def _neighbours_t(xp: Any, r: Any, axis: int) -> Any:
    """The adjoint of :func:`_neighbours`: ``r[i]`` goes to pixel ``i`` and ``-r[i]`` to pixel ``i + 1``."""
    zero = xp.sum(r, axis=axis, keepdims=True) * 0.0  # one slice of zeros (also when r has none)
    return xp.concatenate([r, zero], axis=axis) - xp.concatenate([zero, r], axis=axis)


# ------------------------------------------------------------------------------------ MS-SSIM


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


def _blur(xp: Any, band: tuple[Any, Any], z: Any) -> Any:
    return xp.matmul(xp.matmul(band[0], z), band[1])


def _blur_t(xp: Any, band: tuple[Any, Any], r: Any) -> Any:
    return xp.matmul(xp.matmul(band[0].T, r), band[1].T)


def _ms_ssim_stats(xp: Any, x: Any, y: Any, sigmas: tuple[float, ...], c1: float, c2: float) -> list[dict[str, Any]]:
    """Per scale: the filters, the means, the contrast-structure :math:`cs` and its denominator,
    the luminance :math:`l` and its denominator."""
    scales = []
    for band in _filters(xp, x, sigmas):
        mx, my = _blur(xp, band, x), _blur(xp, band, y)
        vx = _blur(xp, band, x * x) - mx * mx
        vy = _blur(xp, band, y * y) - my * my
        vxy = _blur(xp, band, x * y) - mx * my
        b1 = mx * mx + my * my + c1  # >= c1 > 0
        b2 = vx + vy + c2  # >= c2 > 0 (up to the rounding of the filtered moments)
        scales.append(
            {"band": band, "mx": mx, "my": my, "b1": b1, "b2": b2,
             "l": (2.0 * mx * my + c1) / b1, "cs": (2.0 * vxy + c2) / b2}
        )  # fmt: skip
    return scales


def _ms_ssim_map(scales: list[dict[str, Any]]) -> Any:
    """:math:`M = l_S \\prod_s cs_s` per pixel and channel."""
    m = scales[-1]["l"]
    for s in scales:
        m = m * s["cs"]
    return m


def _ms_ssim_forward(
    xp: Any, x: Any, y: Any, *, sigmas: tuple[float, ...], data_range: float, k1: float, k2: float
) -> Any:
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    return 1.0 - xp.mean(_ms_ssim_map(_ms_ssim_stats(xp, x, y, sigmas, c1, c2)), axis=1)


def _ms_ssim_grads(xp: Any, gamma: Any, x: Any, y: Any, scales: list[dict[str, Any]]) -> tuple[Any, Any]:
    """The gradients of :math:`\\sum \\gamma M` (``gamma`` the cotangent of each :math:`M`, (N, C, H, W))."""
    grad_x, grad_y = 0.0, 0.0
    last = len(scales) - 1
    for s, st in enumerate(scales):
        others = scales[last]["l"]  # dM / dcs_s = l_S prod_{t != s} cs_t (no division by cs_s, which may be 0)
        for t, other in enumerate(scales):
            if t != s:
                others = others * other["cs"]
        mx, my, b2, cs = st["mx"], st["my"], st["b2"], st["cs"]
        gc = gamma * others / b2
        # cs = (2 (F(xy) - mx my) + C2) / (F(x^2) - mx^2 + F(y^2) - my^2 + C2)
        d_mx = 2.0 * gc * (mx * cs - my)
        d_my = 2.0 * gc * (my * cs - mx)
        d_sq = -gc * cs  # the same for F(x^2) and F(y^2)
        d_xy = 2.0 * gc
        if s == last:  # l = (2 mx my + C1) / (mx^2 + my^2 + C1), at the coarsest scale only
            product = st["cs"]
            for t, other in enumerate(scales):
                if t != s:
                    product = product * other["cs"]
            gl = gamma * product / st["b1"]
            d_mx = d_mx + 2.0 * gl * (my - st["l"] * mx)
            d_my = d_my + 2.0 * gl * (mx - st["l"] * my)
        band = st["band"]
        sq, cross = _blur_t(xp, band, d_sq), _blur_t(xp, band, d_xy)
        grad_x = grad_x + _blur_t(xp, band, d_mx) + 2.0 * x * sq + y * cross
        grad_y = grad_y + _blur_t(xp, band, d_my) + 2.0 * y * sq + x * cross
    return grad_x, grad_y


def _ms_ssim_vjp(
    xp: Any, g: Any, x: Any, y: Any, *, sigmas: tuple[float, ...], data_range: float, k1: float, k2: float
) -> tuple[Any, Any]:
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    gamma = xp.expand_dims(g, 1) * (-1.0 / x.shape[1])  # loss = 1 - mean_c M
    return _ms_ssim_grads(xp, gamma, x, y, _ms_ssim_stats(xp, x, y, sigmas, c1, c2))


def _check_sigmas(sigmas: Any) -> tuple[float, ...]:
    if isinstance(sigmas, (str, bytes)) or not hasattr(sigmas, "__len__") or len(sigmas) == 0:
        raise TypeError(f"sigmas must be a non-empty sequence of positive numbers, got {sigmas!r}")
    return tuple(real(f"sigmas[{i}]", s, low=0, low_open=True) for i, s in enumerate(sigmas))


def _check_ms_ssim(x: Any, y: Any, *, sigmas: Any, data_range: float, k1: float, k2: float, **_: Any) -> None:
    _check_images(x, y)
    _check_sigmas(sigmas)
    for name, value in (("data_range", data_range), ("k1", k1), ("k2", k2)):
        real(name, value, low=0, low_open=True)


def _ms_ssim_edges() -> dict[str, Any]:
    shape = (2, 2, 6, 7)
    return {
        "identical images": lambda rng: [rng.uniform(0, 1, shape)] * 2,
        "constant images": lambda rng: [np.full(shape, 0.25), np.full(shape, 0.75)],
        "constant against noise": lambda rng: [np.zeros(shape), rng.uniform(0, 1, shape)],
        "all zero": lambda rng: [np.zeros(shape), np.zeros(shape)],
    }


def _unit_images(rng: np.random.Generator, sizes: dict[str, int]) -> list[np.ndarray]:
    """Two images in [0, 1], the range ``data_range=1`` means (near 0 the luminance term's
    denominator is only C1 = 1e-4, and its steep derivatives are out of finite differences' reach)."""
    shape = (sizes["N"], sizes["C"], sizes["H"], sizes["W"])
    return [rng.uniform(0, 1, shape), rng.uniform(0, 1, shape)]


MS_SSIM_PARAMS = {"sigmas": (0.5, 1.0, 2.0, 4.0, 8.0), "data_range": 1.0, "k1": 0.01, "k2": 0.03}

MS_SSIM = register(
    LossSpec(
        name="ms_ssim",
        family="segmentation",
        args=IMAGES,
        forward=_ms_ssim_forward,
        vjp=_ms_ssim_vjp,
        params=dict(MS_SSIM_PARAMS),
        check=_check_ms_ssim,
        sampler=_unit_images,
        sizes={"N": 2, "C": 2, "H": 6, "W": 7},
        edge_cases=_ms_ssim_edges(),
        formula=r"\ell_{nij} = 1 - \operatorname{mean}_c\, l_{S} \prod_{s=1}^{S} cs_s, \quad "
        r"l = \frac{2\mu_x\mu_y + C_1}{\mu_x^2 + \mu_y^2 + C_1}, \ cs = \frac{2\sigma_{xy} + C_2}{\sigma_x^2 + \sigma_y^2 + C_2}",
        reference="Wang, Simoncelli & Bovik 2003; Zhao et al., IEEE TCI 2017 (one Gaussian per scale, full resolution); "
        "kornia.losses.MS_SSIMLoss(alpha=1, compensation=1)",
    )
)


def ms_ssim(
    x: Any,
    y: Any,
    sigmas: Any = (0.5, 1.0, 2.0, 4.0, 8.0),
    data_range: float = 1.0,
    k1: float = 0.01,
    k2: float = 0.03,
    reduction: str = "mean",
) -> Any:
    r"""Multi-scale SSIM loss :math:`1 - \text{MS-SSIM}(x, y)` at every pixel, as kornia's ``MS_SSIMLoss``.

    "Multi-scale" is Zhao et al.'s: one Gaussian :math:`F_s` per entry :math:`\sigma_s` of
    ``sigmas``, all at full resolution (not Wang et al.'s dyadic pyramid). Every filter is a
    'same' convolution with zero padding :math:`p = \lfloor 2\sigma_S \rfloor` (the last sigma is
    the coarsest scale) and a window of :math:`2p + 1` taps, normalised to sum to 1. At scale
    :math:`s`, with :math:`\mu_x = F_s x`, :math:`\sigma_x^2 = F_s(x^2) - \mu_x^2`,
    :math:`\sigma_{xy} = F_s(xy) - \mu_x\mu_y` and :math:`C_1 = (k_1 L)^2`, :math:`C_2 = (k_2 L)^2`,

    .. math::  l_s = \frac{2\mu_x\mu_y + C_1}{\mu_x^2 + \mu_y^2 + C_1}, \qquad
               cs_s = \frac{2\sigma_{xy} + C_2}{\sigma_x^2 + \sigma_y^2 + C_2}, \qquad
               M = l_S \prod_{s=1}^{S} cs_s, \qquad
               \ell_{nij} = 1 - \frac1C \sum_c M_{ncij}.

    **Gradient.** With :math:`\gamma = -\bar{g}/C` the cotangent of each :math:`M`,
    :math:`\partial M / \partial cs_s = l_S \prod_{t \ne s} cs_t` and
    :math:`\partial M / \partial l_S = \prod_t cs_t`; in the filtered moments,

    .. math::  \frac{\partial cs}{\partial \mu_x} = \frac{2(\mu_x cs - \mu_y)}{B_2}, \quad
               \frac{\partial cs}{\partial F(x^2)} = -\frac{cs}{B_2}, \quad
               \frac{\partial cs}{\partial F(xy)} = \frac{2}{B_2}, \quad
               \frac{\partial l}{\partial \mu_x} = \frac{2(\mu_y - l \mu_x)}{B_1}

    (:math:`B_1, B_2` the denominators; symmetrically in :math:`y`), and each moment map
    :math:`R` goes back through the adjoint filter :math:`F_s^\top`:
    :math:`\partial \ell / \partial x = \sum_s F_s^\top R_{\mu_x} + 2x \odot F_s^\top R_{x^2} + y \odot F_s^\top R_{xy}`.

    Parameters
    ----------
    x, y : array or Tensor, (N, C, H, W)
        Images of one shape (any size: the zero padding keeps it); both differentiable.
    sigmas : sequence of positive floats
        One Gaussian per scale; the **last** sets the window and the luminance term.
    data_range : float, positive
        :math:`L` (kornia's ``data_range``).
    k1, k2 : float, positive
        kornia's ``K=(k1, k2)``.
    reduction : {'mean', 'sum', 'none'}
        ``'none'``: the ``(N, H, W)`` map (channels already averaged), as kornia's ``'none'``.

    Notes
    -----
    - kornia 0.9 ``MS_SSIMLoss(sigmas, data_range, K, alpha=1.0, compensation=1.0)`` is this loss
      (checked to 1e-6 in float64); its defaults ``alpha=0.025, compensation=200`` are
      :func:`ms_ssim_l1`. Its Gaussian masks are float32 unless built under
      ``torch.set_default_dtype(torch.float64)``; here they follow the images' dtype.
    - kornia accepts a batch of one against a larger batch (broadcast); nploss wants equal shapes.
    - Zero padding pulls the border band (:math:`p` pixels wide, 16 at the defaults) towards the
      zeros; :func:`ssim` uses 'valid' windows instead, and this is not ``ssim`` at one scale:
      there ``M = l\,cs`` is averaged over valid pixels only and per channel.
    - :math:`|M| \le 1`, so :math:`0 \le \ell \le 2`; identical images give 0.

    Raises
    ------
    ValueError
        Shapes that differ or are not (N, C, H, W), a non-positive sigma, ``data_range``, ``k1``
        or ``k2``, NaN, an unknown ``reduction``.
    TypeError
        ``sigmas`` that is not a sequence of numbers, a parameter that is not a real number.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.linspace(0, 1, 64).reshape(1, 1, 8, 8)
    >>> float(ms_ssim(x, x))
    0.0
    >>> round(float(ms_ssim(x, 1 - x, sigmas=(0.5, 1.0))), 6)
    0.789337
    """
    sigmas = _check_sigmas(sigmas)
    return apply_loss(MS_SSIM, x, y, reduction=reduction, sigmas=sigmas, data_range=data_range, k1=k1, k2=k2)


# ------------------------------------------------------------------------------------ MS-SSIM + L1


def _ms_ssim_l1_forward(
    xp: Any, x: Any, y: Any, *, sigmas: tuple[float, ...], data_range: float, k1: float, k2: float,
    alpha: float, compensation: float,
) -> Any:  # fmt: skip
    ms = _ms_ssim_forward(xp, x, y, sigmas=sigmas, data_range=data_range, k1=k1, k2=k2)
    coarsest = _filters(xp, x, sigmas[-1:])[0]
    l1 = xp.mean(_blur(xp, coarsest, xp.abs(x - y)), axis=1)  # G_{sigma_S} * |x - y|, channel mean
    return compensation * (alpha * ms + ((1.0 - alpha) / data_range) * l1)


def _ms_ssim_l1_vjp(
    xp: Any, g: Any, x: Any, y: Any, *, sigmas: tuple[float, ...], data_range: float, k1: float, k2: float,
    alpha: float, compensation: float,
) -> tuple[Any, Any]:  # fmt: skip
    gx, gy = _ms_ssim_vjp(xp, g * (compensation * alpha), x, y, sigmas=sigmas, data_range=data_range, k1=k1, k2=k2)
    coarsest = _filters(xp, x, sigmas[-1:])[0]
    scale = compensation * (1.0 - alpha) / (data_range * x.shape[1])
    # d|e|/de = sign(e), 0 at e = 0 (as torch's l1_loss)
    spread = _blur_t(xp, coarsest, xp.expand_dims(g, 1) * scale) * xp.sign(x - y)
    return gx + spread, gy - spread


def _check_ms_ssim_l1(x: Any, y: Any, *, alpha: float, compensation: float, **params: Any) -> None:
    _check_ms_ssim(x, y, **params)
    real("alpha", alpha, low=0, high=1)
    real("compensation", compensation, low=0, low_open=True)


def _abs_difference_kinks(x: Any, y: Any, **_: Any) -> Any:
    return np.abs(x - y)


MS_SSIM_L1 = register(
    LossSpec(
        name="ms_ssim_l1",
        family="segmentation",
        args=IMAGES,
        forward=_ms_ssim_l1_forward,
        vjp=_ms_ssim_l1_vjp,
        params={**MS_SSIM_PARAMS, "alpha": 0.025, "compensation": 200.0},
        check=_check_ms_ssim_l1,
        kinks=_abs_difference_kinks,
        sampler=_unit_images,
        sizes={"N": 2, "C": 2, "H": 6, "W": 7},
        edge_cases=_ms_ssim_edges(),
        formula=r"\ell_{nij} = c\,\big(\alpha (1 - \text{MS-SSIM}) + (1 - \alpha)\, \operatorname{mean}_c "
        r"(G_{\sigma_S} * |x - y|) / L\big)",
        reference="Zhao, Gallo, Frosio & Kautz, IEEE TCI 2017 (arXiv:1511.08861); kornia.losses.MS_SSIMLoss",
    )
)


def ms_ssim_l1(
    x: Any,
    y: Any,
    sigmas: Any = (0.5, 1.0, 2.0, 4.0, 8.0),
    data_range: float = 1.0,
    k1: float = 0.01,
    k2: float = 0.03,
    alpha: float = 0.025,
    compensation: float = 200.0,
    reduction: str = "mean",
) -> Any:
    r"""kornia's ``MS_SSIMLoss``: MS-SSIM mixed with a Gaussian-weighted L1 error (Zhao et al. 2017).

    .. math::  \ell_{nij} = c \Big( \alpha\, \ell^{\text{MS-SSIM}}_{nij}
               + \frac{1 - \alpha}{L} \frac1C \sum_c \big(G_{\sigma_S} * |x - y|\big)_{ncij} \Big),

    with :math:`\ell^{\text{MS-SSIM}}` the map of :func:`ms_ssim`, :math:`G_{\sigma_S}` the
    coarsest Gaussian (same zero padding and window), :math:`c` = ``compensation`` and :math:`L`
    = ``data_range``. Gradient: :math:`c\alpha` times that of :func:`ms_ssim`, plus

    .. math::  \frac{\partial \ell}{\partial x} \mathrel{+}= \frac{c (1 - \alpha)}{L C}
               \operatorname{sign}(x - y) \odot G_{\sigma_S}^\top \bar{g}, \qquad
               \frac{\partial \ell}{\partial y} \mathrel{-}= \text{the same},

    with :math:`\operatorname{sign}(0) = 0` (torch's ``l1_loss``): the L1 term has a kink where
    :math:`x = y`.

    Parameters
    ----------
    x, y : array or Tensor, (N, C, H, W)
    sigmas, data_range, k1, k2
        As for :func:`ms_ssim` (kornia's ``sigmas``, ``data_range``, ``K``).
    alpha : float in [0, 1]
        Weight of the MS-SSIM term. kornia's default 0.025 (the PL4NN code); the paper uses 0.84.
    compensation : float, positive
        kornia's overall factor 200 (from psyrocloud/MS-SSIM_L1_LOSS, in neither paper nor PL4NN).
    reduction : {'mean', 'sum', 'none'}
        ``'none'``: the ``(N, H, W)`` map, as kornia's ``'none'``.

    Notes
    -----
    Equal to kornia 0.9 ``MS_SSIMLoss`` with every default (checked to 1e-6 in float64 with its
    masks built in float64); kornia's ``K=(k1, k2)``. ``ms_ssim_l1(..., alpha=1,
    compensation=1)`` is :func:`ms_ssim`. kornia also broadcasts a batch of one; nploss does not.
    The L1 term is divided by ``data_range`` but pixel values are not rescaled.

    Raises
    ------
    ValueError
        As :func:`ms_ssim`, and ``alpha`` outside [0, 1] or a non-positive ``compensation``.
    TypeError
        A parameter that is not a real number.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.linspace(0, 1, 64).reshape(1, 1, 8, 8)
    >>> round(float(ms_ssim_l1(x, x + 0.1)), 6)
    3.339743
    """
    sigmas = _check_sigmas(sigmas)
    return apply_loss(
        MS_SSIM_L1, x, y, reduction=reduction, sigmas=sigmas, data_range=data_range, k1=k1, k2=k2,
        alpha=alpha, compensation=compensation,
    )  # fmt: skip


# ------------------------------------------------------------------------------------ PSNR

LOG10 = math.log(10.0)


def _psnr_forward(xp: Any, prediction: Any, target: Any, *, max_val: float, reduction: str) -> Any:
    e = prediction - target
    mse = xp.mean(e * e)  # one MSE pooled over every element, batch included (kornia)
    return (10.0 / LOG10) * (xp.log(mse) - 2.0 * math.log(max_val))


def _psnr_vjp(xp: Any, g: Any, prediction: Any, target: Any, *, max_val: float, reduction: str) -> tuple[Any, Any]:
    e = prediction - target
    mse = xp.mean(e * e)
    # d (10 log10 m) / d e_i = (10 / ln 10) (2 e_i / n) / m
    grad = g * (20.0 / (LOG10 * e.size)) * e / mse
    return grad, -grad


def _check_psnr(prediction: Any, target: Any, *, max_val: float, reduction: str = "mean") -> None:
    same_shape("prediction", prediction, "target", target)
    real("max_val", max_val, low=0, low_open=True)


PSNR = register(
    LossSpec(
        name="psnr",
        family="segmentation",
        args=(Arg("prediction", "real", ("N", "C", "H", "W")), Arg("target", "real", ("N", "C", "H", "W"))),
        forward=_psnr_forward,
        vjp=_psnr_vjp,
        reduces_itself=True,
        reductions=("mean",),
        params={"max_val": 1.0},
        check=_check_psnr,
        sizes={"N": 2, "C": 2, "H": 3, "W": 4},
        nonnegative=False,
        edge_cases={
            "one pixel off": lambda rng: [np.eye(4)[None, None] * 1e-3, np.zeros((1, 1, 4, 4))],
            "errors of 1e4": lambda rng: [np.full((1, 2, 2, 2), 1e4), np.zeros((1, 2, 2, 2))],
        },
        formula=r"\ell = -10 \log_{10} \frac{\mathrm{MAX}^2}{\tfrac1n \sum_i (\hat{y}_i - y_i)^2}",
        reference="kornia.losses.psnr_loss (= -kornia.metrics.psnr)",
    )
)


def psnr(prediction: Any, target: Any, max_val: float = 1.0, reduction: str = "mean") -> Any:
    r"""PSNR loss: the negative peak signal-to-noise ratio, in decibels (kornia's ``psnr_loss``).

    .. math::  \ell = -10 \log_{10} \frac{\mathrm{MAX}^2}{m}, \quad m = \frac1n \sum_i e_i^2, \qquad
               \frac{\partial \ell}{\partial \hat{y}_i} = \frac{10}{\ln 10} \frac{2 e_i}{n\, m},

    with :math:`e = \hat{y} - y` over **every** element, batch and channels included (one pooled
    MSE, as kornia). The sign: kornia's ``psnr_loss`` is ``-kornia.metrics.psnr``, so the loss
    decreases as the images agree; it is negative once :math:`m < \mathrm{MAX}^2`, and
    :math:`-\infty` (gradient NaN) for identical images, as in kornia. Not a mean of per-image
    PSNRs: compute those one image at a time.

    Parameters
    ----------
    prediction, target : array or Tensor, same shape
        Both differentiable.
    max_val : float, positive
        :math:`\mathrm{MAX}`, the data range (kornia's required ``max_val``; 1.0 by default here).
    reduction : {'mean'}
        The pooled MSE is the only reduction (kornia has no other).

    Raises
    ------
    ValueError
        Shapes that differ, a non-positive ``max_val``, NaN, a reduction other than 'mean'.

    Examples
    --------
    >>> import numpy as np
    >>> float(psnr(np.ones(1), np.full(1, 1.2), max_val=2.0))   # kornia's docstring: -20
    -20.0
    """
    max_val = real("max_val", max_val, low=0, low_open=True)
    return apply_loss(PSNR, prediction, target, reduction=reduction, max_val=max_val)


# ------------------------------------------------------------------------------------ Total variation


def _tv_terms(image: Any, spatial: str) -> tuple[float, float]:
    """The weights of the vertical and horizontal sums: 1, or one over their own counts (0 for none)."""
    h, w = image.shape[-2:]
    if spatial == "sum":
        return 1.0, 1.0
    count_v, count_h = (h - 1) * w, h * (w - 1)
    return (1.0 / count_v if count_v else 0.0), (1.0 / count_h if count_h else 0.0)


def _total_variation_forward(xp: Any, image: Any, *, spatial: str) -> Any:
    wv, wh = _tv_terms(image, spatial)
    vertical = xp.sum(xp.abs(_neighbours(xp, image, -2)), axis=(-2, -1))
    horizontal = xp.sum(xp.abs(_neighbours(xp, image, -1)), axis=(-2, -1))
    return wv * vertical + wh * horizontal


def _total_variation_vjp(xp: Any, g: Any, image: Any, *, spatial: str) -> tuple[Any]:
    wv, wh = _tv_terms(image, spatial)
    g = xp.expand_dims(xp.expand_dims(g, -1), -1)
    # d|d|/dd = sign(d), 0 at d = 0 (torch's abs); each difference goes back to its two pixels
    grad = _neighbours_t(xp, (g * wv) * xp.sign(_neighbours(xp, image, -2)), -2)
    grad = grad + _neighbours_t(xp, (g * wh) * xp.sign(_neighbours(xp, image, -1)), -1)
    return (grad,)


def _check_total_variation(image: Any, *, spatial: str) -> None:
    if image.ndim < 2:
        raise ValueError(f"image must have shape (*, H, W), got {tuple(image.shape)}")
    if spatial not in ("sum", "mean"):
        raise ValueError(f"spatial must be one of 'sum', 'mean', got {spatial!r}")


def _difference_kinks(image: Any, **_: Any) -> Any:
    return np.concatenate([np.abs(np.diff(image, axis=-1)).ravel(), np.abs(np.diff(image, axis=-2)).ravel()])


TOTAL_VARIATION = register(
    LossSpec(
        name="total_variation",
        family="segmentation",
        args=(Arg("image", "real", ("N", "C", "H", "W")),),
        forward=_total_variation_forward,
        vjp=_total_variation_vjp,
        params={"spatial": "sum"},
        check=_check_total_variation,
        kinks=_difference_kinks,
        sizes={"N": 2, "C": 2, "H": 4, "W": 5},
        edge_cases={
            "constant image": lambda rng: [np.full((2, 2, 4, 5), 0.3)],
            "one pixel high": lambda rng: [rng.standard_normal((2, 2, 1, 5))],
        },
        formula=r"\ell_{nc} = \sum_{ij} |I_{i+1,j} - I_{ij}| + \sum_{ij} |I_{i,j+1} - I_{ij}|",
        reference="Rudin, Osher & Fatemi 1992 (anisotropic); kornia.losses.total_variation",
    )
)


def total_variation(image: Any, spatial: str = "sum", reduction: str = "mean") -> Any:
    r"""Anisotropic (L1) total variation of each image and channel, as kornia's ``total_variation``.

    .. math::  \ell_{n c} = w_v \sum_{ij} |I_{i+1,j} - I_{ij}| + w_h \sum_{ij} |I_{i,j+1} - I_{ij}|,
               \qquad \frac{\partial \ell}{\partial I_{ij}} = \sum \pm w\, \operatorname{sign}(\text{each difference } I_{ij} \text{ is in}),

    a difference :math:`d = I_b - I_a` giving :math:`+w\,\operatorname{sign}(d)` to :math:`I_b`
    and :math:`-w\,\operatorname{sign}(d)` to :math:`I_a`, with :math:`\operatorname{sign}(0) = 0`
    (torch's ``abs``): the loss has a kink wherever two neighbours are equal.

    Parameters
    ----------
    image : array or Tensor, (*, H, W)
        Every axis before the last two is kept: one loss per ``(N, C)`` for an image batch.
    spatial : {'sum', 'mean'}
        kornia's ``reduction`` (which reduces over the pixels, not the batch): ``'sum'`` (its
        default): :math:`w_v = w_h = 1`; ``'mean'``: each term is averaged over its own count,
        :math:`w_v = 1/((H - 1)W)`, :math:`w_h = 1/(H(W - 1))` (0 for a term with no difference).
    reduction : {'mean', 'sum', 'none'}
        Over the leading axes: ``'none'`` is kornia's output, ``(*,)``.

    Notes
    -----
    kornia ``total_variation(img, reduction=r)`` is ``total_variation(img, spatial=r,
    reduction='none')`` here; kornia's ``TotalVariation`` module is ``spatial='sum'``. nploss's
    default ``reduction='mean'`` averages kornia's output over the batch and channels.
    PyTorch has no total variation.

    Raises
    ------
    ValueError
        Fewer than two axes, an unknown ``spatial`` or ``reduction``, NaN.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.array([[0.0, 1.0], [3.0, 1.0]])
    >>> float(total_variation(image))          # |3 - 0| + |1 - 1| + |1 - 0| + |1 - 3|
    6.0
    >>> float(total_variation(image, spatial="mean"))   # 3/2 + 3/2
    3.0
    """
    if not isinstance(spatial, str) or spatial not in ("sum", "mean"):
        raise ValueError(f"spatial must be one of 'sum', 'mean', got {spatial!r}")
    return apply_loss(TOTAL_VARIATION, image, reduction=reduction, spatial=spatial)


# ------------------------------------------------------------------------------------ Inverse-depth smoothness


def _edge_weights(xp: Any, image: Any, axis: int) -> Any:
    """:math:`e^{-\\operatorname{mean}_c |\\partial I|}`, (N, 1, ...), from the raw image values."""
    return xp.exp(-xp.mean(xp.abs(_neighbours(xp, image, axis)), axis=1, keepdims=True))


def _inverse_depth_smoothness_forward(xp: Any, idepth: Any, image: Any) -> Any:
    total = 0.0
    for axis in (-1, -2):
        term = xp.abs(_neighbours(xp, idepth, axis)) * _edge_weights(xp, image, axis)
        total = total + xp.mean(term, axis=(1, 2, 3))  # each term averaged over its own differences
    return total


def _inverse_depth_smoothness_vjp(xp: Any, g: Any, idepth: Any, image: Any) -> tuple[Any, Any]:
    channels = image.shape[1]
    g = xp.reshape(g, (-1, 1, 1, 1))
    grad_d, grad_i = 0.0, 0.0
    for axis in (-1, -2):
        dd, di = _neighbours(xp, idepth, axis), _neighbours(xp, image, axis)
        w = xp.exp(-xp.mean(xp.abs(di), axis=1, keepdims=True))
        gm = g * (1.0 / (dd.shape[-2] * dd.shape[-1]))  # the mean over (1, H', W')
        # |dd| w: d/d dd = sign(dd) w;  d/d di_c = |dd| w (-1/C) sign(di_c)
        grad_d = grad_d + _neighbours_t(xp, gm * xp.sign(dd) * w, axis)
        grad_i = grad_i + _neighbours_t(xp, (gm * xp.abs(dd) * w * (-1.0 / channels)) * xp.sign(di), axis)
    return grad_d, grad_i


def _check_inverse_depth_smoothness(idepth: Any, image: Any) -> None:
    if idepth.ndim != 4 or idepth.shape[1] != 1:
        raise ValueError(f"idepth must have shape (N, 1, H, W), got {tuple(idepth.shape)}")
    if image.ndim != 4 or image.shape[0] != idepth.shape[0] or image.shape[-2:] != idepth.shape[-2:]:
        raise ValueError(f"image must have shape (N, C, H, W) = ({idepth.shape[0]}, C, {idepth.shape[2]}, {idepth.shape[3]}), "
                         f"got {tuple(image.shape)}")  # fmt: skip
    if min(idepth.shape[-2:]) < 2:
        raise ValueError(f"idepth must be at least 2 pixels high and wide, got {tuple(idepth.shape[-2:])}")


def _depth_sampler(rng: np.random.Generator, sizes: dict[str, int]) -> list[np.ndarray]:
    n, c, h, w = sizes["N"], sizes["C"], sizes["H"], sizes["W"]
    return [rng.uniform(0.1, 1.0, (n, 1, h, w)), rng.uniform(0.0, 1.0, (n, c, h, w))]


def _depth_kinks(idepth: Any, image: Any) -> Any:
    return np.concatenate([_difference_kinks(idepth), _difference_kinks(image)])


INVERSE_DEPTH_SMOOTHNESS = register(
    LossSpec(
        name="inverse_depth_smoothness",
        family="segmentation",
        # S: the one depth channel (S = 1 below; the sampler draws the inputs)
        args=(Arg("idepth", "real", ("N", "S", "H", "W")), Arg("image", "real", ("N", "C", "H", "W"))),
        forward=_inverse_depth_smoothness_forward,
        vjp=_inverse_depth_smoothness_vjp,
        check=_check_inverse_depth_smoothness,
        kinks=_depth_kinks,
        sampler=_depth_sampler,
        sizes={"N": 2, "C": 3, "H": 4, "W": 5, "S": 1},
        edge_cases={
            "constant inverse depth": lambda rng: [np.full((2, 1, 4, 5), 0.5), rng.uniform(0, 1, (2, 3, 4, 5))],
            "constant image": lambda rng: [rng.uniform(0.1, 1, (2, 1, 4, 5)), np.full((2, 3, 4, 5), 0.2)],
            "image in [0, 255]": lambda rng: [rng.uniform(0.1, 1, (2, 1, 4, 5)), rng.uniform(0, 255, (2, 3, 4, 5))],
            "all zero": lambda rng: [np.zeros((2, 1, 4, 5)), np.zeros((2, 3, 4, 5))],
        },
        formula=r"\ell_n = \operatorname{mean}_{ij} |\partial_x d| e^{-\operatorname{mean}_c |\partial_x I|} "
        r"+ \operatorname{mean}_{ij} |\partial_y d| e^{-\operatorname{mean}_c |\partial_y I|}",
        reference="Godard, Mac Aodha & Brostow, CVPR 2017 (arXiv:1609.03677); kornia.losses.inverse_depth_smoothness_loss",
    )
)


def inverse_depth_smoothness(idepth: Any, image: Any, reduction: str = "mean") -> Any:
    r"""Edge-aware smoothness of an inverse depth map (Godard et al. 2017), as kornia's
    ``inverse_depth_smoothness_loss(idepth, image)``.

    With forward differences :math:`\partial_x d_{ij} = d_{ij} - d_{i,j+1}` (and :math:`\partial_y`
    likewise), edge weights :math:`w^x = e^{-\frac1C \sum_c |\partial_x I_c|}` from the image,

    .. math::  \ell_n = \frac{1}{H(W-1)} \sum_{ij} |\partial_x d_{ij}|\, w^x_{ij}
               + \frac{1}{(H-1)W} \sum_{ij} |\partial_y d_{ij}|\, w^y_{ij},

    .. math::  \frac{\partial \ell}{\partial (\partial_x d)} = \frac{\operatorname{sign}(\partial_x d)\, w^x}{H(W-1)},
               \qquad
               \frac{\partial \ell}{\partial (\partial_x I_c)} = -\frac{|\partial_x d|\, w^x\, \operatorname{sign}(\partial_x I_c)}{C\, H(W-1)},

    each difference's cotangent going back to its two pixels (:math:`+` to the first, :math:`-`
    to the second), with :math:`\operatorname{sign}(0) = 0` as torch's ``abs``: kinks where two
    neighbouring depths, or image values, are equal. Both inputs are differentiable (the image
    through the weights), as in kornia.

    Parameters
    ----------
    idepth : array or Tensor, (N, 1, H, W)
        The inverse depth (penalised; not normalised, so the loss is linear in its scale).
    image : array or Tensor, (N, C, H, W)
        The image, in a unit range (its raw differences set the weights).
    reduction : {'mean', 'sum', 'none'}
        ``'none'``: one loss per image, ``(N,)``; ``'mean'`` is kornia's scalar (each term is a
        mean over its own ``N H (W-1)`` or ``N (H-1) W`` differences, the batch mean of the
        per-image values).

    Notes
    -----
    Argument order ``(idepth, image)`` as kornia. kornia accepts any channel count for
    ``idepth`` and broadcasts a batch of one; nploss wants ``(N, 1, H, W)`` and equal batches,
    and at least 2 pixels each way (kornia returns NaN for a term with no difference).

    Raises
    ------
    ValueError
        ``idepth`` not (N, 1, H, W), an ``image`` of another batch or size, fewer than 2 rows
        or columns, NaN, an unknown ``reduction``.

    Examples
    --------
    >>> import numpy as np
    >>> idepth = np.array([[[[0.0, 1.0], [0.0, 1.0]]]])
    >>> image = np.zeros((1, 3, 2, 2))            # a flat image: weights 1
    >>> float(inverse_depth_smoothness(idepth, image))   # mean |dx d| = 1, mean |dy d| = 0
    1.0
    """
    return apply_loss(INVERSE_DEPTH_SMOOTHNESS, idepth, image, reduction=reduction)


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
