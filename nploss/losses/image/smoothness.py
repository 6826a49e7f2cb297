r"""Smoothness losses of an image, as kornia has them: total variation (on ``(*, H, W)``) and
edge-aware inverse-depth smoothness (on ``(N, 1, H, W)`` and ``(N, C, H, W)``). Both are sums of
absolute forward differences (:mod:`._common`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._apply import apply_loss
from .._params import choice
from .._spec import Arg, LossSpec, register
from ._common import _difference_kinks, _neighbours, _neighbours_t

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
    choice("spatial", spatial, ("sum", "mean"))


TOTAL_VARIATION = register(
    LossSpec(
        name="total_variation",
        unreduced=("N", "C"),
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
    choice("spatial", spatial, ("sum", "mean"))
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
