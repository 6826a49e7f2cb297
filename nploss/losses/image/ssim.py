r"""Multi-scale SSIM, alone (:func:`ms_ssim`) and mixed with a Gaussian-weighted L1
(:func:`ms_ssim_l1`), as kornia has them; images are ``(N, C, H, W)``.

Each loss is one block: the reference ``_x_forward`` and ``_x_vjp`` (the formula and its
derivative), the registry entry, then the public function. The filters are the banded matrices
of :mod:`._common`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._apply import apply_loss
from .._params import real
from .._spec import Arg, LossSpec, register
from ._common import _blur, _blur_t, _check_images, _filters

IMAGES = (Arg("x", "real", ("N", "C", "H", "W")), Arg("y", "real", ("N", "C", "H", "W")))


# ------------------------------------------------------------------------------------ MS-SSIM


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
MS_SSIM_GRID = {"sigmas": (MS_SSIM_PARAMS["sigmas"], (1.0, 2.0))}  # the audit's scales: the defaults and two


def _channels_averaged(x: Any, y: Any, **params: Any) -> tuple[int, ...]:
    """The unreduced shape of the multi-scale losses: (N, H, W), the channels averaged."""
    return (x.shape[0], *x.shape[2:])


MS_SSIM = register(
    LossSpec(
        name="ms_ssim",
        grid=MS_SSIM_GRID,
        unreduced=_channels_averaged,
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
        grid=MS_SSIM_GRID,
        unreduced=_channels_averaged,
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
