r"""Segmentation losses: region overlap (Dice, Tversky) and structural similarity (SSIM).

Each loss is one block: the formula and its derivative in the docstring, ``_x_forward`` and
``_x_vjp`` right below, the registry entry, then the public function.

The overlap losses take *probabilities*, not logits: ``prediction`` has already been through a
softmax (one class per pixel) or a sigmoid (several labels per pixel). nploss never applies
one inside, unlike kornia (softmax) and optax (softmax, or a sigmoid for one channel); compose
it yourself, ``dice(softmax(logits, axis=1), target)``. Shapes are ``(N, C, *spatial)``: every
axis after the class axis is summed over (``H, W`` for images, ``D, H, W`` for volumes). Both
inputs are differentiable, so a soft target (a teacher's probabilities) receives a gradient too.
The unreduced loss is one value per sample and class, ``(N, C)``; ``'mean'`` averages them all,
which is the per-class ("macro") mean followed by the batch mean.

SSIM compares two images through local statistics computed with a Gaussian window; the loss is
:math:`1 - \mathrm{SSIM}`, one value per image and channel.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ._apply import apply_loss
from ._params import integer, real
from ._spec import Arg, LossSpec, register
from ._validate import same_shape
from .image._common import _blur, _blur_t, _check_images

__all__ = ["dice", "ssim", "tversky"]

MAPS = (Arg("prediction", "prob", ("N", "C", "H", "W")), Arg("target", "prob", ("N", "C", "H", "W")))


def _check_maps(prediction: Any, target: Any, *, smooth: float, alpha: float = 0.0, beta: float = 0.0) -> None:
    if prediction.ndim < 3:
        raise ValueError(
            f"prediction must have shape (N, C, *spatial) with at least one spatial axis, got {tuple(prediction.shape)}"
        )
    same_shape("prediction", prediction, "target", target)
    real("smooth", smooth, low=0, low_open=True)  # smooth > 0 keeps an empty class (0/0) finite
    real("alpha", alpha, low=0)
    real("beta", beta, low=0)


def _spatial(x: Any) -> tuple[int, ...]:
    return tuple(range(2, x.ndim))


def _per_pixel(xp: Any, a: Any, like: Any) -> Any:
    """An ``(N, C)`` array reshaped to broadcast against ``(N, C, *spatial)``."""
    return xp.reshape(a, tuple(a.shape) + (1,) * (like.ndim - 2))


def _map_edges() -> dict[str, Any]:
    """Predictions of exactly 0 and 1, and classes absent from both prediction and target."""

    def one_hot(rng: np.random.Generator, classes: int = 3) -> np.ndarray:
        labels = rng.integers(0, classes - 1, (2, 4, 5))  # the last class never occurs: empty
        return np.moveaxis(np.eye(classes)[labels], -1, 1)

    def saturated(rng: np.random.Generator) -> list[np.ndarray]:
        target = one_hot(rng)
        prediction = target.copy()
        prediction[0] = 1.0 - prediction[0]  # sample 0 exactly wrong, sample 1 exactly right
        return [prediction, target]

    return {
        "perfect one-hot prediction": lambda rng: [one_hot(rng)] * 2,
        "predictions of exactly 0 and 1": saturated,
        "empty class, prediction 0 there": lambda rng: [
            np.concatenate([rng.uniform(0, 1, (2, 2, 4, 5)), np.zeros((2, 1, 4, 5))], axis=1),
            one_hot(rng),
        ],
        "everything zero": lambda rng: [np.zeros((2, 3, 4, 5)), np.zeros((2, 3, 4, 5))],
        "target zero, prediction one": lambda rng: [np.ones((2, 3, 4, 5)), np.zeros((2, 3, 4, 5))],
    }


# ------------------------------------------------------------------------------------ Dice


def _dice_forward(xp: Any, prediction: Any, target: Any, *, smooth: float) -> Any:
    axes = _spatial(prediction)
    intersection = xp.sum(prediction * target, axis=axes)
    total = xp.sum(prediction, axis=axes) + xp.sum(target, axis=axes) + smooth
    return 1.0 - (2.0 * intersection + smooth) / total


def _dice_vjp(xp: Any, g: Any, prediction: Any, target: Any, *, smooth: float) -> tuple[Any, Any]:
    axes = _spatial(prediction)
    total = xp.sum(prediction, axis=axes) + xp.sum(target, axis=axes) + smooth
    score = (2.0 * xp.sum(prediction * target, axis=axes) + smooth) / total
    # d(1 - D)/dp = (D - 2g) / Q: the quotient rule with dQ/dp = 1 and d(2I)/dp = 2g
    scale = _per_pixel(xp, g / total, prediction)
    score = _per_pixel(xp, score, prediction)
    return scale * (score - 2.0 * target), scale * (score - 2.0 * prediction)


DICE = register(
    LossSpec(
        name="dice",
        unreduced=("N", "C"),
        family="segmentation",
        args=MAPS,
        forward=_dice_forward,
        vjp=_dice_vjp,
        params={"smooth": 1.0},
        check=_check_maps,
        sizes={"N": 3, "C": 3, "H": 3, "W": 4},
        edge_cases=_map_edges(),
        formula=r"\ell_{nc} = 1 - \frac{2 \sum_i p_i g_i + s}{\sum_i p_i + \sum_i g_i + s}",
        reference="soft Dice, linear sums (Milletari et al. 2016, V-Net, square them); "
        "kornia.losses.dice_loss (average='macro'); optax 0.2.8 optax.losses.dice_loss (smooth=s is smooth=2s here)",
    )
)


def dice(prediction: Any, target: Any, smooth: float = 1.0, reduction: str = "mean") -> Any:
    r"""Dice loss: one minus the smoothed Sørensen-Dice overlap, per sample and class (the common
    "soft Dice" form, with linear sums in the denominator).

    For sample :math:`n` and class :math:`c`, with sums over the pixels :math:`i`,

    .. math::  \ell_{nc} = 1 - D_{nc}, \qquad
               D_{nc} = \frac{2 I + s}{Q}, \quad I = \sum_i p_i g_i, \quad
               Q = \sum_i p_i + \sum_i g_i + s,

    .. math::  \frac{\partial \ell_{nc}}{\partial p_i} = \frac{D_{nc} - 2 g_i}{Q}, \qquad
               \frac{\partial \ell_{nc}}{\partial g_i} = \frac{D_{nc} - 2 p_i}{Q}.

    :math:`0 \le \ell \le 1` because :math:`p + g - 2pg = p(1-g) + g(1-p) \ge 0`. A class absent
    from both prediction and target scores :math:`D = s/s = 1` (loss 0): ``smooth`` is what keeps
    it finite, and it must be positive.

    Milletari et al. 2016 (V-Net), the paper usually cited for the Dice loss, square the sums of the
    denominator and add no smoothing, :math:`1 - 2\sum_i p_i g_i / (\sum_i p_i^2 + \sum_i g_i^2)`:
    the two agree for hard 0/1 predictions (:math:`p^2 = p`, up to the smoothing) and differ for
    soft ones (for the example below, without smoothing: :math:`1 - 3/3.8 = 0.2105` here,
    :math:`1 - 3/3.22 = 0.0683` in V-Net's form).

    Parameters
    ----------
    prediction : array or Tensor, (N, C, *spatial)
        Probabilities in [0, 1], **after** the softmax or sigmoid: nploss applies none (see below).
    target : array or Tensor, same shape
        One-hot masks or soft labels in [0, 1]. Rows need not sum to 1 over the classes, so
        multi-label masks (several classes per pixel, with a sigmoid prediction) are accepted.
        Differentiable, like ``prediction``.
    smooth : float, positive
        Added to numerator and denominator (additive, "Laplace" smoothing). optax's
        ``smooth=s`` is ``smooth=2 * s`` here (see Notes).
    reduction : {'mean', 'sum', 'none'}
        ``'none'``: the ``(N, C)`` losses; ``'mean'``: their mean (classes, then batch);
        ``'sum'``: their sum.

    Notes
    -----
    Conventions elsewhere, for the same name:

    - kornia ``dice_loss(logits, labels, average='macro', eps=1e-8)`` applies a softmax inside,
      takes integer labels, puts ``eps`` in the denominator only, and averages over the classes
      *present* in each sample. With every class present, it equals
      ``dice(softmax(logits, axis=1), one_hot(labels), smooth=1e-8)`` to about ``1e-9``.
      Its default ``average='micro'`` sums over the classes before the ratio.
    - optax (checked in 0.2.8) ``optax.losses.dice_loss(logits, targets, smooth=s)`` takes the
      classes on the **last** axis and applies a softmax (a sigmoid for one channel;
      ``apply_softmax=False`` takes probabilities). It is one minus the Tversky ratio
      :math:`(I + s) / (I + \alpha (P - I) + \beta (T - I) + s)` with :math:`P = \sum p`,
      :math:`T = \sum g` and :math:`\alpha = \beta = \tfrac12`, that is
      :math:`(2I + 2s) / (P + T + 2s)`: it equals ``dice(p, g, smooth=2 * s)`` (to round-off;
      0.137931 for the example below, given as one-channel logits :math:`\log(p / (1 - p))`,
      with optax's ``smooth=1``, against 0.166667 with ``smooth=1`` here). Its ``reduction``
      averages over the classes of each sample (``'none'``: the ``(N, C)`` losses, as here).
    - Keras ``dice`` is :math:`1 - 2\sum y\hat{y} / (\sum y + \sum \hat{y} + 10^{-7})` with the sums
      over every axis, the batch's and the classes' together (its default ``axis=None``): one
      number per batch.

    To train from logits, compose the softmax yourself (both arrays and Tensors)::

        from nploss import autograd as ag
        loss = dice(ag.softmax(logits, axis=1), target)

    Raises
    ------
    ValueError
        Shapes that differ or lack a spatial axis, values outside [0, 1], NaN, ``smooth <= 0``,
        an unknown ``reduction``.
    TypeError
        A ``smooth`` that is not a real number.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([[[[0.9, 0.2], [0.1, 0.6]]]])       # (1, 1, 2, 2)
    >>> g = np.array([[[[1.0, 0.0], [0.0, 1.0]]]])
    >>> round(float(dice(p, g)), 6)                       # 1 - (2*1.5 + 1) / (1.8 + 2 + 1)
    0.166667
    """
    return apply_loss(DICE, prediction, target, reduction=reduction, smooth=smooth)


# ------------------------------------------------------------------------------------ Tversky


def _tversky_terms(xp: Any, prediction: Any, target: Any, alpha: float, beta: float, smooth: float) -> tuple[Any, Any]:
    axes = _spatial(prediction)
    tp = xp.sum(prediction * target, axis=axes)
    # FP and FN summed directly (not as sum(p) - TP): each term is >= 0, so den >= smooth > 0
    fp = xp.sum(prediction * (1.0 - target), axis=axes)
    fn = xp.sum((1.0 - prediction) * target, axis=axes)
    den = tp + alpha * fp + beta * fn + smooth
    return (tp + smooth) / den, den


def _tversky_forward(xp: Any, prediction: Any, target: Any, *, alpha: float, beta: float, smooth: float) -> Any:
    return 1.0 - _tversky_terms(xp, prediction, target, alpha, beta, smooth)[0]


def _tversky_vjp(
    xp: Any, g: Any, prediction: Any, target: Any, *, alpha: float, beta: float, smooth: float
) -> tuple[Any, Any]:
    score, den = _tversky_terms(xp, prediction, target, alpha, beta, smooth)
    score, scale = _per_pixel(xp, score, prediction), _per_pixel(xp, g / den, prediction)
    # d den/dp = g + alpha (1 - g) - beta g ;  d den/dg = p - alpha p + beta (1 - p)
    rest = 1.0 - alpha - beta
    grad_p = scale * (score * (alpha + rest * target) - target)
    grad_g = scale * (score * (beta + rest * prediction) - prediction)
    return grad_p, grad_g


TVERSKY = register(
    LossSpec(
        name="tversky",
        unreduced=("N", "C"),
        family="segmentation",
        args=MAPS,
        forward=_tversky_forward,
        vjp=_tversky_vjp,
        params={"alpha": 0.5, "beta": 0.5, "smooth": 1.0},
        check=_check_maps,
        sizes={"N": 3, "C": 3, "H": 3, "W": 4},
        edge_cases=_map_edges(),
        formula=(
            r"\ell_{nc} = 1 - \frac{TP + s}{TP + \alpha FP + \beta FN + s}, \quad TP = \sum p g,\ "
            r"FP = \sum p (1 - g),\ FN = \sum (1 - p) g"
        ),
        reference="Salehi et al. 2017; kornia.losses.tversky_loss; "
        "optax 0.2.8 optax.losses.dice_loss(alpha=..., beta=...) (optax has no tversky_loss)",
    )
)


def tversky(
    prediction: Any, target: Any, alpha: float = 0.5, beta: float = 0.5, smooth: float = 1.0, reduction: str = "mean"
) -> Any:
    r"""Tversky loss: an overlap score that weighs false positives and false negatives apart.

    For sample :math:`n` and class :math:`c`, with sums over the pixels :math:`i`,

    .. math::  \ell_{nc} = 1 - T_{nc}, \qquad T_{nc} = \frac{TP + s}{B}, \quad
               B = TP + \alpha\, FP + \beta\, FN + s,

    .. math::  TP = \sum_i p_i g_i, \quad FP = \sum_i p_i (1 - g_i), \quad FN = \sum_i (1 - p_i) g_i,

    .. math::  \frac{\partial \ell_{nc}}{\partial p_i} = \frac{T_{nc}\,(\alpha + (1 - \alpha - \beta) g_i) - g_i}{B},
               \qquad
               \frac{\partial \ell_{nc}}{\partial g_i} = \frac{T_{nc}\,(\beta + (1 - \alpha - \beta) p_i) - p_i}{B}.

    ``alpha`` weighs the false positives and ``beta`` the false negatives, as in Salehi et al.,
    optax's ``dice_loss`` and kornia; raise ``beta`` to favour recall on small structures. Keras 3
    (``keras.losses.Tversky``, checked in 3.15.1) swaps them (its ``alpha`` weighs the false
    negatives, although its docstring says otherwise): ``keras_tversky(alpha=a, beta=b)`` is
    ``tversky(alpha=b, beta=a)`` up to the smoothing.

    With :math:`\alpha = \beta = \tfrac12`, :math:`B = \tfrac12(\sum p + \sum g) + s`, so
    ``tversky(p, g, 0.5, 0.5, smooth=s)`` equals ``dice(p, g, smooth=2 * s)`` exactly;
    :math:`\alpha = \beta = 1` gives the soft Jaccard (IoU) loss,
    :math:`1 - (I + s) / (\sum p + \sum g - I + s)` with :math:`I = TP`, not the Tanimoto
    coefficient of squared norms :math:`I / (\sum p^2 + \sum g^2 - I)`; the two agree for hard 0/1
    predictions. :math:`0 \le \ell \le 1`.

    Parameters
    ----------
    prediction, target : array or Tensor, (N, C, *spatial)
        As for :func:`dice`: probabilities after the softmax or sigmoid (none is applied here),
        and one-hot or soft masks in [0, 1]. Both are differentiable.
    alpha, beta : float, non-negative
        Weights of the false positives and of the false negatives.
    smooth : float, positive
        Added to numerator and denominator; keeps an empty class finite (loss 0).
    reduction : {'mean', 'sum', 'none'}
        ``'none'``: the ``(N, C)`` losses; ``'mean'``: their mean; ``'sum'``: their sum.

    Notes
    -----
    kornia ``tversky_loss(logits, labels, alpha, beta, eps=1e-8)`` applies a softmax inside,
    takes integer labels, puts ``eps`` in the denominator only and averages over the classes
    present in each sample; with every class present it equals
    ``tversky(softmax(logits, axis=1), one_hot(labels), alpha, beta, smooth=1e-8)`` to about
    ``1e-9``. optax has no ``tversky_loss`` (checked in 0.2.8): its ``optax.losses.dice_loss(logits,
    targets, alpha=a, beta=b, smooth=s)`` is this loss, ``tversky(p, g, alpha=a, beta=b,
    smooth=s)``, on the softmax of the logits (classes on the last axis there).

    Raises
    ------
    ValueError
        Shapes that differ or lack a spatial axis, values outside [0, 1], NaN, ``smooth <= 0``,
        a negative ``alpha`` or ``beta``, an unknown ``reduction``.
    TypeError
        A parameter that is not a real number.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([[[[0.9, 0.2], [0.1, 0.6]]]])       # TP = 1.5, FP = 0.3, FN = 0.5
    >>> g = np.array([[[[1.0, 0.0], [0.0, 1.0]]]])
    >>> round(float(tversky(p, g, alpha=0.3, beta=0.7)), 6)   # 1 - 2.5 / (2.5 + 0.09 + 0.35)
    0.14966
    """
    return apply_loss(TVERSKY, prediction, target, reduction=reduction, alpha=alpha, beta=beta, smooth=smooth)


# ------------------------------------------------------------------------------------ SSIM


@functools.lru_cache(maxsize=64)
def _gaussian_band(size: int, window_size: int, sigma: float) -> np.ndarray:
    r"""The ``(size - window_size + 1, size)`` matrix of a 'valid' 1-D Gaussian filter.

    Row ``i`` holds the normalised window :math:`w_k \propto e^{-k^2 / 2\sigma^2}`,
    :math:`|k| \le r`, in columns ``i .. i + 2r``: multiplying by it is the filter without padding.
    These are the weights of ``scipy.ndimage.gaussian_filter`` (which scikit-image uses) when
    ``window_size == 2 * int(truncate * sigma + 0.5) + 1``.
    """
    r = window_size // 2
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    rows = size - window_size + 1
    band = np.zeros((rows, size))
    band[np.arange(rows)[:, None], np.arange(rows)[:, None] + np.arange(window_size)] = k
    band.setflags(write=False)  # cached and shared between calls
    return band


def _bands(xp: Any, x: Any, window_size: int, sigma: float) -> tuple[Any, Any]:
    """The row filter ``G_h`` and the transposed column filter ``G_w^T``, in ``x``'s dtype and module."""
    h, w = x.shape[-2:]
    gh = xp.asarray(_gaussian_band(h, window_size, sigma), dtype=x.dtype)
    gw_t = xp.asarray(_gaussian_band(w, window_size, sigma).T, dtype=x.dtype)
    return gh, gw_t


def _ssim_stats(xp: Any, x: Any, y: Any, window_size: int, sigma: float, data_range: float, k1: float, k2: float):
    band = _bands(xp, x, window_size, sigma)

    def blur(z: Any) -> Any:  # separable filter: G_h Z G_w^T on the last two axes
        return _blur(xp, band, z)

    mx, my = blur(x), blur(y)
    # population (co)variances E[xy] - E[x]E[y], as Wang et al. and use_sample_covariance=False
    vx, vy, vxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    a1, a2 = 2.0 * mx * my + c1, 2.0 * vxy + c2
    b1, b2 = mx * mx + my * my + c1, vx + vy + c2  # b1 >= c1 > 0 and b2 >= c2 > 0: no division by 0
    return mx, my, a1, a2, b1, b2, band


def _ssim_forward(
    xp: Any, x: Any, y: Any, *, window_size: int, sigma: float, data_range: float, k1: float, k2: float
) -> Any:
    _, _, a1, a2, b1, b2, _ = _ssim_stats(xp, x, y, window_size, sigma, data_range, k1, k2)
    return 1.0 - xp.mean((a1 * a2) / (b1 * b2), axis=(2, 3))


def _ssim_vjp(
    xp: Any, g: Any, x: Any, y: Any, *, window_size: int, sigma: float, data_range: float, k1: float, k2: float
) -> tuple[Any, Any]:
    mx, my, a1, a2, b1, b2, band = _ssim_stats(xp, x, y, window_size, sigma, data_range, k1, k2)
    d = b1 * b2
    s = (a1 * a2) / d
    rows, cols = s.shape[-2:]
    gamma = xp.reshape(g, tuple(g.shape) + (1, 1)) * (-1.0 / (rows * cols))  # d loss / d S_ij

    def blur_t(z: Any) -> Any:  # the adjoint of G_h Z G_w^T is G_h^T Z G_w
        return _blur_t(xp, band, z)

    # dS with respect to the five filtered statistics E[x], E[y], E[x^2], E[y^2], E[xy]
    d_mx = gamma * (2.0 * (my * (a2 - a1) - mx * s * (b2 - b1)) / d)
    d_my = gamma * (2.0 * (mx * (a2 - a1) - my * s * (b2 - b1)) / d)
    d_sq = blur_t(gamma * (-s / b2))  # the same for E[x^2] and E[y^2]
    d_xy = blur_t(gamma * (2.0 * a1 / d))
    grad_x = blur_t(d_mx) + 2.0 * x * d_sq + y * d_xy
    grad_y = blur_t(d_my) + 2.0 * y * d_sq + x * d_xy
    return grad_x, grad_y


def _check_ssim(x: Any, y: Any, *, window_size: int, sigma: float, data_range: float, k1: float, k2: float) -> None:
    _check_images(x, y)
    integer("window_size", window_size)
    if window_size < 1 or window_size % 2 == 0:
        raise ValueError(f"window_size must be a positive odd integer, got {window_size}")
    if min(x.shape[-2:]) < window_size:
        raise ValueError(
            f"x must be at least window_size={window_size} pixels high and wide, got {tuple(x.shape[-2:])}"
        )
    for name, value in (("sigma", sigma), ("data_range", data_range), ("k1", k1), ("k2", k2)):
        real(name, value, low=0, low_open=True)


def _ssim_edges() -> dict[str, Any]:
    shape = (2, 2, 12, 13)
    return {
        "identical images": lambda rng: [rng.uniform(0, 1, shape)] * 2,
        "constant images": lambda rng: [np.full(shape, 0.25), np.full(shape, 0.75)],
        "constant against noise": lambda rng: [np.zeros(shape), rng.uniform(0, 1, shape)],
        "binary images": lambda rng: [rng.integers(0, 2, shape).astype(float), rng.integers(0, 2, shape).astype(float)],
        "all zero": lambda rng: [np.zeros(shape), np.zeros(shape)],
    }


SSIM = register(
    LossSpec(
        name="ssim",
        grid={"window_size": (11, 7)},
        unreduced=("N", "C"),
        family="segmentation",
        args=(Arg("x", "real", ("N", "C", "H", "W")), Arg("y", "real", ("N", "C", "H", "W"))),
        forward=_ssim_forward,
        vjp=_ssim_vjp,
        params={"window_size": 11, "sigma": 1.5, "data_range": 1.0, "k1": 0.01, "k2": 0.03},
        check=_check_ssim,
        sizes={"N": 2, "C": 1, "H": 12, "W": 13},
        edge_cases=_ssim_edges(),
        formula=(
            r"\ell_{nc} = 1 - \operatorname{mean}_{ij} \frac{(2\mu_x\mu_y + C_1)(2\sigma_{xy} + C_2)}"
            r"{(\mu_x^2 + \mu_y^2 + C_1)(\sigma_x^2 + \sigma_y^2 + C_2)}"
        ),
        reference=(
            "Wang et al. 2004; skimage.metrics.structural_similarity(gaussian_weights=True, "
            "use_sample_covariance=False); kornia.losses.ssim_loss (differs: see the docstring)"
        ),
    )
)


def ssim(
    x: Any,
    y: Any,
    window_size: int = 11,
    sigma: float = 1.5,
    data_range: float = 1.0,
    k1: float = 0.01,
    k2: float = 0.03,
    reduction: str = "mean",
) -> Any:
    r"""Structural similarity loss :math:`1 - \mathrm{SSIM}(x, y)`, per image and channel.

    **Forward.** Let :math:`F` be the 'valid' separable Gaussian filter (window ``window_size``,
    standard deviation ``sigma``, weights summing to 1, no padding): on an :math:`H \times W`
    channel it is :math:`F Z = G_h Z G_w^\top`, with :math:`G_h` the banded
    :math:`(H - w + 1) \times H` matrix whose row :math:`i` holds the window in columns
    :math:`i \ldots i + w - 1`. The local statistics at every valid pixel are

    .. math::  \mu_x = F x, \quad \mu_y = F y, \quad
               \sigma_x^2 = F(x^2) - \mu_x^2, \quad \sigma_y^2 = F(y^2) - \mu_y^2, \quad
               \sigma_{xy} = F(xy) - \mu_x \mu_y,

    and, with :math:`C_1 = (k_1 L)^2`, :math:`C_2 = (k_2 L)^2` (:math:`L` = ``data_range``),

    .. math::  S = \frac{A_1 A_2}{B_1 B_2}, \quad A_1 = 2\mu_x\mu_y + C_1, \quad
               A_2 = 2\sigma_{xy} + C_2, \quad B_1 = \mu_x^2 + \mu_y^2 + C_1, \quad
               B_2 = \sigma_x^2 + \sigma_y^2 + C_2,

    .. math::  \ell_{nc} = 1 - \frac{1}{M} \sum_{ij} S_{ij}  \qquad (M \text{ valid pixels}).

    **Gradient.** Write :math:`D = B_1 B_2` and :math:`\gamma = -\bar{g}/M`, the cotangent of
    each :math:`S_{ij}` (:math:`\bar{g}` that of :math:`\ell_{nc}`). Treating the five filtered
    maps :math:`\mu_x, \mu_y, F(x^2), F(y^2), F(xy)` as the variables (so
    :math:`\partial \sigma_x^2 / \partial \mu_x = -2\mu_x`,
    :math:`\partial \sigma_{xy} / \partial \mu_x = -\mu_y`),

    .. math::  \frac{\partial S}{\partial \mu_x} = \frac{2}{D}\big(\mu_y (A_2 - A_1) - \mu_x S (B_2 - B_1)\big),
               \quad \frac{\partial S}{\partial F(x^2)} = -\frac{S}{B_2},
               \quad \frac{\partial S}{\partial F(xy)} = \frac{2 A_1}{D},

    and symmetrically for :math:`y`. Each map is a linear filter of :math:`x`, :math:`x^2` or
    :math:`xy`, and the adjoint of :math:`Z \mapsto G_h Z G_w^\top` is
    :math:`R \mapsto F^\top R = G_h^\top R\, G_w` (it spreads each valid pixel back over its
    window). The chain rule through :math:`x^2` and :math:`xy` then gives

    .. math::  \frac{\partial \ell}{\partial x} = F^\top\!\Big(\gamma \frac{\partial S}{\partial \mu_x}\Big)
               + 2x \odot F^\top\!\Big(\gamma \frac{\partial S}{\partial F(x^2)}\Big)
               + y \odot F^\top\!\Big(\gamma \frac{\partial S}{\partial F(xy)}\Big),

    .. math::  \frac{\partial \ell}{\partial y} = F^\top\!\Big(\gamma \frac{\partial S}{\partial \mu_y}\Big)
               + 2y \odot F^\top\!\Big(\gamma \frac{\partial S}{\partial F(y^2)}\Big)
               + x \odot F^\top\!\Big(\gamma \frac{\partial S}{\partial F(xy)}\Big).

    :math:`B_1 \ge C_1 > 0` and :math:`B_2 \ge C_2 > 0`, so the loss and its gradient are finite
    for every finite image, constant ones included. :math:`|S| \le 1`, hence
    :math:`0 \le \ell \le 2`; identical images give :math:`S = 1` exactly, and a gradient that
    is zero up to rounding: the terms of :math:`\partial S / \partial \mu_x` etc. cancel in
    floating point only approximately (largest entry about :math:`7 \cdot 10^{-18}` for random
    16 x 16 images in [0, 1]), so do not test it with ``== 0``.

    Parameters
    ----------
    x, y : array or Tensor, (N, C, H, W)
        Images of the same shape, at least ``window_size`` pixels high and wide; both
        differentiable. Any real values (``data_range`` sets the scale of :math:`C_1, C_2`).
    window_size : int, odd
        Width of the Gaussian window (no truncation rule: the window is exactly this wide).
    sigma : float, positive
    data_range : float, positive
        :math:`L`, the dynamic range of the pixel values (1 for [0, 1], 255 for 8-bit images).
    k1, k2 : float, positive
    reduction : {'mean', 'sum', 'none'}
        ``'none'``: the ``(N, C)`` losses, one per image and channel; ``'mean'``: their mean,
        which is :math:`1 -` the mean SSIM over the batch and the channels.

    Notes
    -----
    - scikit-image: ``1 - structural_similarity(x[n], y[n], gaussian_weights=True, sigma=1.5,
      use_sample_covariance=False, data_range=L, channel_axis=0)`` equals the mean over ``c`` of
      ``ssim(..., reduction='none')[n]``. scikit-image truncates its Gaussian at 3.5 sigma, a
      window of ``2 * int(3.5 * sigma + 0.5) + 1`` (11 for sigma 1.5), and averages over the
      same valid pixels (it filters with reflection, then crops the border). Choose
      ``window_size`` by that rule to match it for another ``sigma``.
    - kornia ``ssim_loss(img1, img2, window_size, max_val)`` returns
      :math:`\mathrm{clamp}((1 - S)/2, 0, 1)` averaged over **all** pixels, with reflection
      padding (``padding='same'``) and a fixed sigma of 1.5: half this loss, and border pixels
      that see mirrored content. With ``padding='valid'`` and ``eps=0`` it is exactly half of
      this loss.
    - The filtered second moments :math:`F(x^2) - \mu_x^2` cancel when the images carry a large
      offset compared with :math:`L`; keep images in their natural range.

    Raises
    ------
    ValueError
        Shapes that differ or are not (N, C, H, W), images smaller than the window, an even or
        non-positive ``window_size``, a non-positive ``sigma``, ``data_range``, ``k1`` or ``k2``,
        NaN, an unknown ``reduction``.
    TypeError
        A non-integer ``window_size`` or a parameter that is not a real number.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.linspace(0, 1, 144).reshape(1, 1, 12, 12)
    >>> float(ssim(x, x))
    0.0
    >>> round(float(ssim(x, 1 - x)), 6)                 # an inverted ramp: negative correlation
    1.93168
    """
    return apply_loss(
        SSIM, x, y, reduction=reduction,
        window_size=window_size, sigma=sigma, data_range=data_range, k1=k1, k2=k2,
    )  # fmt: skip
