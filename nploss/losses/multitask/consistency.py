r"""Consistency losses: predictions that should agree are pulled together, under an augmentation
of the input, along a sequence, or across neighbouring positions of a map (seed 001 §6.4).

:func:`consistency` takes the kind as an argument; :func:`temporal_consistency` and
:func:`spatial_consistency` are its two one-input kinds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _params
from .._apply import apply_loss
from .._spec import Arg, LossSpec, register
from .._validate import same_shape

__all__ = ["consistency", "temporal_consistency", "spatial_consistency"]


# ------------------------------------------------------------------------------------ consistency under augmentation


def _augmentation_forward(xp: Any, f_x: Any, f_aug: Any) -> Any:
    d = f_x - f_aug
    squares = d * d
    return xp.sum(squares, axis=tuple(range(1, d.ndim))) if d.ndim > 1 else squares


def _augmentation_vjp(xp: Any, g: Any, f_x: Any, f_aug: Any) -> tuple[Any, Any]:
    d = f_x - f_aug
    grad = 2.0 * xp.reshape(g, tuple(g.shape) + (1,) * (d.ndim - 1)) * d
    return grad, -grad


def _check_augmentation(f_x: Any, f_aug: Any, **_: Any) -> None:
    if f_x.ndim < 1:
        raise ValueError(f"f_x must have a batch axis (N, ...), got shape {tuple(f_x.shape)}")
    same_shape("f_x", f_x, "f_aug", f_aug)


def _real_pair_edges() -> dict[str, Any]:
    return {
        "identical predictions": lambda rng: [np.full((2, 3), 0.7), np.full((2, 3), 0.7)],
        "differences of 1e4": lambda rng: [np.array([[1e4, 0.0], [-1e4, 1.0]]), np.zeros((2, 2))],
    }


CONSISTENCY = register(
    LossSpec(
        name="consistency",
        fixed={
            "kind": "'temporal' and 'spatial' hand f_x to temporal_consistency and spatial_consistency, audited "
            "under their own names"
        },
        family="multitask",
        args=(Arg("f_x", "real", ("N", "D")), Arg("f_aug", "real", ("N", "D"))),
        forward=_augmentation_forward,
        vjp=_augmentation_vjp,
        check=_check_augmentation,
        edge_cases=_real_pair_edges(),
        formula=r"\ell_i = \|f(x_i) - f(\mathrm{aug}(x_i))\|_2^2, "
        r"\quad \partial \ell_i / \partial f(x_i) = 2 (f(x_i) - f(\mathrm{aug}(x_i)))",
        reference="seed 001 section 6.4; Laine & Aila 2017 (Pi-model), Sajjadi et al. 2016",
    )
)

KINDS = ("augmentation", "temporal", "spatial")


def consistency(f_x: Any, f_aug: Any = None, kind: str = "augmentation", reduction: str = "mean") -> Any:
    r"""Consistency losses: predictions that should agree are pulled together (seed 001 §6.4).

    ``kind='augmentation'`` (two inputs, per sample):

    .. math::  \ell_i = \|f(x_i) - f(\mathrm{aug}(x_i))\|_2^2, \qquad
               \frac{\partial \ell_i}{\partial f(x_i)} = 2\,(f(x_i) - f(\mathrm{aug}(x_i)))

    summed over every axis but the first (the batch). ``kind='temporal'``: ``f_x`` is a sequence
    (see :func:`temporal_consistency`); ``kind='spatial'``: ``f_x`` is a feature map (see
    :func:`spatial_consistency`); ``f_aug`` must then be omitted.

    Parameters
    ----------
    f_x, f_aug : array or Tensor (N, ...), same shape
        Predictions on the input and on its augmentation. Both are differentiable (the
        Pi-model); to hold one side fixed, as a teacher (Mean Teacher), pass it as an array or a
        detached Tensor.
    kind : {'augmentation', 'temporal', 'spatial'}
    reduction : {'mean', 'sum', 'none'}
        'none' returns one value per sample (augmentation), per transition (temporal) or per
        neighbouring pair (spatial); 'mean' averages them.

    Notes
    -----
    The seed's consistency term is the squared L2 distance, without the 1/2 and summed over
    the features, i.e. ``torch.nn.functional.mse_loss(f_x, f_aug, reduction='none')`` summed
    over the feature axes. (Laine & Aila's Pi-model divides by the number of features too.)

    Examples
    --------
    >>> import numpy as np
    >>> float(consistency(np.array([[1.0, 2.0]]), np.array([[0.0, 0.0]])))
    5.0
    >>> float(consistency(np.array([[0.0], [1.0], [3.0]]), kind="temporal", reduction="sum"))
    5.0
    """
    _params.choice("kind", kind, KINDS)
    if kind == "augmentation":
        if f_aug is None:
            raise ValueError("kind='augmentation' needs f_aug, the predictions on the augmented inputs")
        return apply_loss(CONSISTENCY, f_x, f_aug, reduction=reduction)
    if f_aug is not None:
        raise ValueError(f"kind={kind!r} takes one input (f_x); got f_aug too")
    return temporal_consistency(f_x, reduction) if kind == "temporal" else spatial_consistency(f_x, reduction)


# ------------------------------------------------------------------------------------ temporal consistency


def _temporal_forward(xp: Any, sequence: Any) -> Any:
    d = sequence[..., 1:, :] - sequence[..., :-1, :]
    return xp.sum(d * d, axis=-1)


def _temporal_vjp(xp: Any, g: Any, sequence: Any) -> tuple[Any]:
    d = sequence[..., 1:, :] - sequence[..., :-1, :]
    step = 2.0 * xp.expand_dims(g, -1) * d  # d ell_t / d f_{t+1}; d ell_t / d f_t is its negative
    zero = 0.0 * step[..., :1, :]
    # each frame but the first ends a transition, each but the last starts one
    return (xp.concatenate([zero, step], axis=-2) - xp.concatenate([step, zero], axis=-2),)


def _check_temporal(sequence: Any, **_: Any) -> None:
    if sequence.ndim < 2 or sequence.shape[-2] < 2:
        raise ValueError(f"sequence must have shape (..., T, D) with T >= 2 time steps, got {tuple(sequence.shape)}")


TEMPORAL_CONSISTENCY = register(
    LossSpec(
        name="temporal_consistency",
        unreduced=lambda sequence, **params: (*sequence.shape[:-2], sequence.shape[-2] - 1),  # one per transition
        family="multitask",
        args=(Arg("sequence", "real", ("T", "D")),),
        forward=_temporal_forward,
        vjp=_temporal_vjp,
        check=_check_temporal,
        edge_cases={
            "constant sequence": lambda rng: [np.full((4, 3), -0.2)],
            "jumps of 1e4": lambda rng: [np.array([[0.0, 1e4], [1e4, 0.0], [1e4, 0.0]])],
        },
        formula=r"\ell_t = \|f(x_{t+1}) - f(x_t)\|_2^2, \quad L = \sum_{t=1}^{T-1} \ell_t",
        reference="seed 001 section 6.4 (temporal consistency); Mobahi, Collobert & Weston 2009",
    )
)


def temporal_consistency(sequence: Any, reduction: str = "mean") -> Any:
    r"""Temporal consistency: consecutive predictions of a sequence should change slowly.

    .. math::  L = \sum_{t=1}^{T-1} \|f(x_{t+1}) - f(x_t)\|_2^2, \qquad
               \frac{\partial L}{\partial f(x_t)} = 2 (f(x_t) - f(x_{t-1})) - 2 (f(x_{t+1}) - f(x_t))

    (a term is absent at the ends of the sequence).

    Parameters
    ----------
    sequence : array or Tensor (..., T, D)
        Predictions :math:`f(x_t)`, time on axis -2 and features on axis -1; leading axes (a
        batch of sequences) are kept.
    reduction : {'mean', 'sum', 'none'}
        'none' gives (..., T-1), one value per transition; 'sum' is the seed's
        :math:`L_\mathrm{temporal}`; 'mean' averages over transitions (and sequences).

    Raises
    ------
    ValueError
        Fewer than two dimensions or two time steps.

    Examples
    --------
    >>> import numpy as np
    >>> temporal_consistency(np.array([[0.0, 0.0], [1.0, 1.0], [1.0, 3.0]]), reduction="none").tolist()
    [2.0, 4.0]
    """
    return apply_loss(TEMPORAL_CONSISTENCY, sequence, reduction=reduction)


# ------------------------------------------------------------------------------------ spatial consistency


def _spatial_forward(xp: Any, feature_map: Any) -> Any:
    n, _, h, w = feature_map.shape
    horizontal = feature_map[:, :, :, 1:] - feature_map[:, :, :, :-1]
    vertical = feature_map[:, :, 1:, :] - feature_map[:, :, :-1, :]
    ph, pv = _pairs(h, w)
    return xp.concatenate(
        [
            xp.reshape(xp.sum(horizontal * horizontal, axis=1), (n, ph)),
            xp.reshape(xp.sum(vertical * vertical, axis=1), (n, pv)),
        ],
        axis=1,
    )


def _spatial_vjp(xp: Any, g: Any, feature_map: Any) -> tuple[Any]:
    n, _, h, w = feature_map.shape
    ph, pv = _pairs(h, w)
    horizontal = feature_map[:, :, :, 1:] - feature_map[:, :, :, :-1]
    vertical = feature_map[:, :, 1:, :] - feature_map[:, :, :-1, :]
    gh = 2.0 * xp.reshape(g[:, :ph], (n, 1, h, w - 1)) * horizontal  # d ell / d right neighbour
    gv = 2.0 * xp.reshape(g[:, ph:], (n, 1, h - 1, w)) * vertical  # d ell / d lower neighbour
    zh, zv = 0.0 * feature_map[:, :, :, :1], 0.0 * feature_map[:, :, :1, :]
    grad = xp.concatenate([zh, gh], axis=3) - xp.concatenate([gh, zh], axis=3)
    return (grad + xp.concatenate([zv, gv], axis=2) - xp.concatenate([gv, zv], axis=2),)


def _pairs(h: int, w: int) -> tuple[int, int]:
    """Numbers of horizontal and vertical neighbouring pairs in an H x W map."""
    return h * (w - 1), (h - 1) * w


def _check_spatial(feature_map: Any, **_: Any) -> None:
    if feature_map.ndim != 4 or feature_map.shape[2] * feature_map.shape[3] < 2:
        raise ValueError(
            f"feature_map must have shape (N, C, H, W) with at least two positions, got {tuple(feature_map.shape)}"
        )


SPATIAL_CONSISTENCY = register(
    LossSpec(
        name="spatial_consistency",
        unreduced=lambda f, **params: (f.shape[0], f.shape[2] * (f.shape[3] - 1) + (f.shape[2] - 1) * f.shape[3]),
        family="multitask",
        args=(Arg("feature_map", "real", ("N", "C", "H", "W")),),
        forward=_spatial_forward,
        vjp=_spatial_vjp,
        check=_check_spatial,
        sizes={"N": 2, "C": 3, "H": 4, "W": 5},
        edge_cases={
            "constant map": lambda rng: [np.full((1, 2, 3, 3), 0.5)],
            "jumps of 1e4": lambda rng: [np.where(rng.random((1, 2, 3, 4)) < 0.5, 1e4, -1e4)],
        },
        formula=r"\ell_{(i,j)} = \|f_i - f_j\|_2^2 \ \text{over horizontal and vertical neighbours } (i, j)",
        reference="seed 001 section 6.4 (spatial consistency); quadratic smoothness penalty (Mahendran & Vedaldi "
        "2015, total variation with beta = 2), not the total variation of Rudin, Osher & Fatemi 1992",
    )
)


def spatial_consistency(feature_map: Any, reduction: str = "mean") -> Any:
    r"""Spatial consistency: neighbouring positions of a map should predict alike.

    .. math::  L = \sum_{(i, j) \in \mathcal{N}} \|f_i - f_j\|_2^2, \qquad
               \frac{\partial L}{\partial f_i} = 2 \sum_{j : (i, j) \in \mathcal{N}} (f_i - f_j)

    over the set :math:`\mathcal{N}` of horizontally and vertically adjacent positions, each
    unordered pair once, the squared distance taken over the channels: the sum of squared
    neighbour differences (a quadratic smoothness penalty, the discrete Dirichlet energy; the
    "total variation" regulariser of Mahendran & Vedaldi 2015 with :math:`\beta = 2`). It is
    not the square of the anisotropic total variation :math:`\sum |f_i - f_j|` (for the example
    below 14, against :math:`(1 + 3 + 0 + 2)^2 = 36`), and unlike total variation it penalises
    a sharp edge more than a gradual ramp of the same height.

    Parameters
    ----------
    feature_map : array or Tensor (N, C, H, W)
    reduction : {'mean', 'sum', 'none'}
        'none' gives (N, H(W-1) + (H-1)W): first the horizontal pairs
        :math:`((h, w), (h, w+1))` in row-major order, then the vertical pairs
        :math:`((h, w), (h+1, w))`. 'sum' is the seed's :math:`L_\mathrm{spatial}` summed over
        the batch; 'mean' averages over pairs and maps.

    Raises
    ------
    ValueError
        Not four-dimensional, or a single position.

    Examples
    --------
    >>> import numpy as np
    >>> float(spatial_consistency(np.array([[[[0.0, 1.0], [0.0, 3.0]]]]), reduction="sum"))
    14.0
    """
    return apply_loss(SPATIAL_CONSISTENCY, feature_map, reduction=reduction)
