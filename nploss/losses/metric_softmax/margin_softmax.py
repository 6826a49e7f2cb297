r"""CosFace and ArcFace: a cross entropy over the cosines between an embedding and one weight vector
per class, with a margin on the target class.

The logits are :math:`s \cos\theta_{ij}` between the normalised embedding :math:`\hat{x}_i` and
class weight :math:`\hat{w}_j` (the normalisation of :mod:`nploss.losses.metric_softmax._common`),
so the forward is a log-sum-exp minus the target logit and the gradient is ``softmax - one-hot``
(:func:`nploss.losses.classification.cross_entropy.softmax_xent_vjp`) pushed back through the cosines.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._apply import apply_loss
from .._params import flag, real
from .._shared import one_hot, unit_rows, unit_rows_vjp
from .._spec import Arg, LossSpec, register
from .._validate import matrix
from ..classification.cross_entropy import softmax_xent_vjp

SIN_EPS = 1e-12  # ArcFace: floor of 1 - cos^2 under the square root that gives sin(theta)


# ------------------------------------------------------------------------ margin softmax (shared)
#
# CosFace and ArcFace: logits s cos(theta_ij) between the normalised embedding x_i and class
# weight w_j, with the target logit s cos(theta_iy) replaced by s t(cos theta_iy):
#     l_i = logsumexp_j(logits_ij) - s t(cos theta_iy).
# Only t and its derivative t' differ between the two.


def _class_cosines(xp: Any, embeddings: Any, weight: Any, labels: Any) -> tuple[Any, ...]:
    u, ru = unit_rows(xp, embeddings)
    v, rv = unit_rows(xp, weight)
    cos = xp.matmul(u, xp.transpose(v))
    y = xp.as_data(labels)
    hit = one_hot(y, cos.shape[1], 1, bool)  # the target column of each row, a constant
    cos_y = xp.take_along_axis(cos, y[:, None], axis=1)[:, 0]
    return u, ru, v, rv, cos, hit, cos_y


def _margin_forward(xp: Any, embeddings: Any, weight: Any, labels: Any, target: Any, scale: float) -> Any:
    _, _, _, _, cos, hit, cos_y = _class_cosines(xp, embeddings, weight, labels)
    t = target(xp, cos_y)
    logits = scale * xp.where(hit, t[:, None], cos)
    return xp.logsumexp(logits, axis=1) - scale * t


def _margin_vjp(
    xp: Any, g: Any, embeddings: Any, weight: Any, labels: Any, target: Any, slope: Any, scale: float
) -> tuple[Any, Any]:
    u, ru, v, rv, cos, hit, cos_y = _class_cosines(xp, embeddings, weight, labels)
    t = target(xp, cos_y)
    # a cross entropy of the logits: softmax - one-hot
    dlogits = softmax_xent_vjp(xp, g, scale * xp.where(hit, t[:, None], cos), labels)
    # the target column goes through t: d logit_iy / d cos_iy = s t'(cos_iy); the others are s cos
    dcos = scale * (dlogits if slope is None else xp.where(hit, dlogits * slope(xp, cos_y)[:, None], dlogits))
    gu = xp.matmul(dcos, v)
    gv = xp.matmul(xp.transpose(dcos), u)
    return unit_rows_vjp(xp, gu, u, ru), unit_rows_vjp(xp, gv, v, rv)


def _check_margin_softmax(embeddings: Any, weight: Any, labels: Any, *, scale: float, margin: float, **_: Any) -> None:
    matrix("embeddings", embeddings)
    matrix("weight", weight)
    if weight.shape[1] != embeddings.shape[1]:
        raise ValueError(
            f"weight must have shape (C, {embeddings.shape[1]}) (one row per class, the embedding dimension "
            f"of embeddings {tuple(embeddings.shape)}), got {tuple(weight.shape)}"
        )
    if labels.shape != (embeddings.shape[0],):
        raise ValueError(f"labels must have shape ({embeddings.shape[0]},), one per embedding, got {tuple(labels.shape)}")
    if labels.size and int(labels.max()) >= weight.shape[0]:
        raise ValueError(
            f"labels must be class labels in [0, {weight.shape[0]}) (the rows of weight), "
            f"got values from {int(labels.min())} to {int(labels.max())}"
        )
    real("scale", scale, low=0.0, low_open=True)
    real("margin", margin, low=0.0)


MARGIN_ARGS = (
    Arg("embeddings", "real", ("N", "D")),
    Arg("weight", "real", ("C", "D")),
    Arg("labels", "label", ("N",), differentiable=False),
)


def _margin_edges() -> dict[str, Any]:
    """Embeddings equal to their class weight (cos = 1), opposite to it (cos = -1), zero, huge."""

    def rows(rng: np.random.Generator, sign: float) -> list[np.ndarray]:
        w = rng.standard_normal((4, 3))
        y = np.array([0, 1, 2, 3, 1])
        return [sign * w[y] * np.array([[1.0], [2.0], [0.5], [3.0], [1.0]]), w, y]

    return {
        "embedding equal to its class weight": lambda rng: rows(rng, 1.0),
        "embedding opposite to its class weight": lambda rng: rows(rng, -1.0),
        "identical embeddings and weights": lambda rng: [np.ones((5, 3)), np.ones((4, 3)), np.array([0, 1, 2, 3, 0])],
        "zero embedding": lambda rng: [np.vstack([np.zeros((1, 3)), rng.standard_normal((4, 3))]), rng.standard_normal((4, 3)), np.array([0, 1, 2, 3, 0])],
        "entries of 1e4": lambda rng: [1e4 * rng.standard_normal((5, 3)), 1e4 * rng.standard_normal((4, 3)), np.array([0, 1, 2, 3, 0])],
    }  # fmt: skip


def _cosines_np(embeddings: Any, weight: Any, labels: Any) -> Any:
    """cos(theta_iy) on plain arrays, for the kink locators."""
    e, w = unit_rows(np, embeddings)[0], unit_rows(np, weight)[0]
    return (e * w[labels]).sum(1)


# ------------------------------------------------------------------------------------ CosFace


def _cosface_target(margin: float) -> Any:
    return lambda xp, c: c - margin


def _cosface_forward(xp: Any, embeddings: Any, weight: Any, labels: Any, *, scale: float, margin: float) -> Any:
    return _margin_forward(xp, embeddings, weight, labels, _cosface_target(margin), scale)


def _cosface_vjp(xp: Any, g: Any, embeddings: Any, weight: Any, labels: Any, *, scale: float, margin: float) -> tuple[Any, Any]:
    return _margin_vjp(xp, g, embeddings, weight, labels, _cosface_target(margin), None, scale)


COSFACE = register(
    LossSpec(
        name="cosface",
        family="metric",
        args=MARGIN_ARGS,
        forward=_cosface_forward,
        vjp=_cosface_vjp,
        params={"scale": 30.0, "margin": 0.35},
        check=_check_margin_softmax,
        edge_cases=_margin_edges(),
        formula=(
            r"\ell_i = -\log \frac{e^{s(\cos\theta_{y_i} - m)}}{e^{s(\cos\theta_{y_i} - m)} + "
            r"\sum_{j \ne y_i} e^{s \cos\theta_j}}, \quad \cos\theta_j = \hat{x}_i \cdot \hat{w}_j"
        ),
        reference="Wang et al. 2018 (CosFace, large margin cosine loss, s = 64); Wang, Cheng, Liu & Liu 2018 "
        "(AM-Softmax, the same loss, whose s = 30, m = 0.35 are the defaults here); pytorch-metric-learning CosFaceLoss",
    )
)


def cosface(
    embeddings: Any, weight: Any, labels: Any, scale: float = 30.0, margin: float = 0.35, reduction: str = "mean"
) -> Any:
    r"""CosFace (large margin cosine loss): an additive margin on the target class's cosine.

    .. math::  \ell_i = -\log \frac{e^{s(\cos\theta_{i y_i} - m)}}
               {e^{s(\cos\theta_{i y_i} - m)} + \sum_{j \ne y_i} e^{s \cos\theta_{ij}}},
               \qquad \cos\theta_{ij} = \hat{x}_i \cdot \hat{w}_j

    with :math:`\hat{x}_i, \hat{w}_j` the L2-normalised embedding and class weight (see the
    module docstring for the :math:`\epsilon = 10^{-12}` of the normalisation). It is the cross
    entropy of the logits :math:`z_{ij} = s(\cos\theta_{ij} - m[j = y_i])`, so

    .. math::  \frac{\partial \ell_i}{\partial \cos\theta_{ij}} = s\,(p_{ij} - [j = y_i]),
               \qquad p_i = \mathrm{softmax}(z_i),

    pushed back to the embeddings through :math:`\hat{X} W^\top` and the normalisation
    :math:`\partial \hat{x} / \partial x = (I - \hat{x}\hat{x}^\top) / \lVert x \rVert`.

    The margin is subtracted from the cosine, :math:`\cos\theta - m` (Wang et al. 2018), not from
    the angle: :math:`\cos(\theta - m)` would *raise* the target logit. ArcFace
    (:func:`arcface`) is the one with the margin on the angle, :math:`\cos(\theta + m)`.

    Parameters
    ----------
    embeddings : array or Tensor, shape (N, D)
        Differentiable.
    weight : array or Tensor, shape (C, D)
        One weight vector per class, differentiable (it is the last layer being learned).
    labels : integer array, shape (N,)
        Class labels in [0, C).
    scale : float
        :math:`s > 0`. The default pair :math:`s = 30`, :math:`m = 0.35` is AM-Softmax's (Wang,
        Cheng, Liu & Liu 2018, the same loss); the CosFace paper (section 4.1) sets
        :math:`s = 64`, as does pytorch-metric-learning's ``CosFaceLoss`` (``scale=64``,
        ``margin=0.35``).
    margin : float
        :math:`m \ge 0`, added to nothing else: it is a cosine, not an angle.
    reduction : {'mean', 'sum', 'none'}
        'none' gives one loss per embedding, shape (N,).

    Matches pytorch-metric-learning's ``CosFaceLoss(num_classes=C, embedding_size=D,
    margin=m, scale=s)`` when its learnable ``W`` is set to ``weight.T`` (PML stores it as
    (D, C)), up to the normalisation epsilon.

    Raises
    ------
    ValueError
        ``weight`` of another embedding dimension, labels outside [0, C), ``scale <= 0``,
        ``margin < 0``, an unknown reduction, NaN inputs.
    TypeError
        Non-integer labels.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.eye(2)
    >>> round(float(cosface(np.array([[1.0, 0.0]]), w, np.array([0]), scale=1.0, margin=0.5)), 6)
    0.474077
    """
    return apply_loss(COSFACE, embeddings, weight, labels, reduction=reduction, scale=scale, margin=margin)


# ------------------------------------------------------------------------------------ ArcFace
#
# cos(theta + m) = cos(theta) cos(m) - sin(theta) sin(m), with sin(theta) = sqrt(1 - cos^2)
# since theta in [0, pi]: no arccos is needed. Past theta + m > pi, cos(theta + m) would start
# to increase again (the target would be rewarded for moving away), so, as the insightface
# reference does, the target becomes cos(theta) - m sin(m) there, i.e. where
# cos(theta) <= cos(pi - m). With easy_margin the margin applies only where cos(theta) > 0.


def _arcface_target(margin: float, easy_margin: bool) -> Any:
    cos_m, sin_m = math.cos(margin), math.sin(margin)
    threshold, fallback = math.cos(math.pi - margin), math.sin(math.pi - margin) * margin

    def target(xp: Any, c: Any) -> Any:
        sin = xp.sqrt(xp.maximum(1.0 - c * c, SIN_EPS))
        phi = c * cos_m - sin * sin_m
        if easy_margin:
            return xp.where(c > 0.0, phi, c)
        return xp.where(c > threshold, phi, c - fallback)

    return target


def _arcface_slope(margin: float, easy_margin: bool) -> Any:
    cos_m, sin_m = math.cos(margin), math.sin(margin)
    threshold = math.cos(math.pi - margin)

    def slope(xp: Any, c: Any) -> Any:
        s2 = 1.0 - c * c
        sin = xp.sqrt(xp.maximum(s2, SIN_EPS))
        # d/dc [c cos m - sin(theta) sin m] = cos m + sin m cos(theta)/sin(theta); the floor of
        # sin(theta) is a constant, so its slope is 0 there (theta within 1e-6 of 0 or pi)
        dphi = cos_m + sin_m * xp.where(s2 > SIN_EPS, c / sin, 0.0)
        return xp.where(c > 0.0, dphi, 1.0) if easy_margin else xp.where(c > threshold, dphi, 1.0)

    return slope


def _arcface_forward(
    xp: Any, embeddings: Any, weight: Any, labels: Any, *, scale: float, margin: float, easy_margin: bool
) -> Any:
    return _margin_forward(xp, embeddings, weight, labels, _arcface_target(margin, easy_margin), scale)


def _arcface_vjp(
    xp: Any, g: Any, embeddings: Any, weight: Any, labels: Any, *, scale: float, margin: float, easy_margin: bool
) -> tuple[Any, Any]:
    return _margin_vjp(
        xp, g, embeddings, weight, labels, _arcface_target(margin, easy_margin), _arcface_slope(margin, easy_margin), scale
    )


def _arcface_kinks(embeddings: Any, weight: Any, labels: Any, *, margin: float, easy_margin: bool, **_: Any) -> Any:
    c = _cosines_np(embeddings, weight, labels)
    # the branch switch (a jump in value: cos(pi) = -1 against cos(pi - m) - m sin m) and the floor of sin
    switch = np.abs(c) if easy_margin else np.abs(c - math.cos(math.pi - margin))
    return np.minimum(switch, np.abs(1.0 - c * c - SIN_EPS))


def _check_arcface(embeddings: Any, weight: Any, labels: Any, *, scale: float, margin: float, **_: Any) -> None:
    _check_margin_softmax(embeddings, weight, labels, scale=scale, margin=margin)
    if not margin < math.pi / 2:
        raise ValueError(
            f"margin must be an angle in radians in [0, pi/2), got {margin} "
            "(pytorch-metric-learning's ArcFaceLoss takes degrees: 28.6 degrees = 0.5 radians)"
        )


ARCFACE = register(
    LossSpec(
        name="arcface",
        family="metric",
        args=MARGIN_ARGS,
        forward=_arcface_forward,
        vjp=_arcface_vjp,
        params={"scale": 64.0, "margin": 0.5, "easy_margin": False},
        check=_check_arcface,
        kinks=_arcface_kinks,
        edge_cases=_margin_edges(),
        formula=(
            r"\ell_i = -\log \frac{e^{s\,\phi(\theta_{y_i})}}{e^{s\,\phi(\theta_{y_i})} + \sum_{j \ne y_i} e^{s \cos\theta_j}}, "
            r"\quad \phi(\theta) = \begin{cases} \cos(\theta + m) & \theta < \pi - m \\ "
            r"\cos\theta - m \sin m & \text{otherwise} \end{cases}"
        ),
        reference="Deng et al. 2019 (ArcFace, additive angular margin); insightface; pytorch-metric-learning ArcFaceLoss",
    )
)


def arcface(
    embeddings: Any,
    weight: Any,
    labels: Any,
    scale: float = 64.0,
    margin: float = 0.5,
    easy_margin: bool = False,
    reduction: str = "mean",
) -> Any:
    r"""ArcFace (additive angular margin): the margin is added to the angle of the target class.

    .. math::  \ell_i = -\log \frac{e^{s\,\phi(\cos\theta_{i y_i})}}
               {e^{s\,\phi(\cos\theta_{i y_i})} + \sum_{j \ne y_i} e^{s \cos\theta_{ij}}},
               \qquad \cos\theta_{ij} = \hat{x}_i \cdot \hat{w}_j

    with :math:`\hat{x}_i, \hat{w}_j` the L2-normalised embedding and class weight (normalisation
    :math:`\epsilon = 10^{-12}`, see the module docstring) and, for :math:`c = \cos\theta`,

    .. math::  \phi(c) = \begin{cases} c \cos m - \sqrt{1 - c^2}\,\sin m = \cos(\theta + m)
               & c > \cos(\pi - m) \quad (\theta + m < \pi) \\
               c - m \sin m & \text{otherwise,} \end{cases}

    the fallback of the insightface reference implementation (``th = cos(pi - m)``,
    ``mm = sin(pi - m) m``), which keeps the target logit decreasing in :math:`\theta` where
    :math:`\cos(\theta + m)` would turn back up. With ``easy_margin=True``, instead,
    :math:`\phi(c) = \cos(\theta + m)` where :math:`c > 0` and :math:`c` elsewhere. Both switches
    are jumps in value (at :math:`\theta = \pi - m` the two pieces are :math:`-1` and
    :math:`-\cos m - m \sin m`), as in the references.

    No arccos is taken: :math:`\sin\theta = \sqrt{\max(1 - c^2, 10^{-12})}` (``SIN_EPS``). The
    floor keeps the value finite when an embedding is parallel or antiparallel to its class
    weight, where the true slope :math:`d\cos(\theta + m)/d\cos\theta = \sin(\theta + m)/\sin\theta`
    is infinite; there (within about :math:`10^{-6}` rad) the slope used is :math:`\cos m`.

    Gradient: the cross entropy's :math:`s(p_{ij} - [j = y_i])` with respect to the logits
    :math:`s\,\phi` (target) and :math:`s \cos\theta_{ij}` (others), times, on the target column,

    .. math::  \phi'(c) = \cos m + \sin m \, \frac{c}{\sqrt{1 - c^2}} \quad
               \text{(1 on the fallback branches),}

    then through :math:`\hat{X}\hat{W}^\top` and the normalisation, as in :func:`cosface`.

    Parameters
    ----------
    embeddings : array or Tensor, shape (N, D)
        Differentiable.
    weight : array or Tensor, shape (C, D)
        One weight vector per class, differentiable.
    labels : integer array, shape (N,)
        Class labels in [0, C).
    scale : float
        :math:`s > 0` (default 64, as in the paper and pytorch-metric-learning).
    margin : float
        :math:`m \in [0, \pi/2)`, in **radians** (default 0.5).
    easy_margin : bool
        Apply the margin only where :math:`\cos\theta > 0` (insightface's option).
    reduction : {'mean', 'sum', 'none'}
        'none' gives one loss per embedding, shape (N,).

    pytorch-metric-learning's ``ArcFaceLoss(num_classes=C, embedding_size=D, margin=deg, scale=s)``
    takes the margin in **degrees** (its default 28.6 is about 0.5 rad) and keeps its own
    learnable ``W`` of shape (D, C); with ``margin=degrees(m)`` and ``W = weight.T`` it computes
    this loss (it switches to the fallback where :math:`\theta > \pi - m`, the same condition).
    PML has no ``easy_margin``; that branch follows insightface.

    Raises
    ------
    ValueError
        ``weight`` of another embedding dimension, labels outside [0, C), ``scale <= 0``, a
        margin outside [0, pi/2) (e.g. one given in degrees), an unknown reduction, NaN inputs.
    TypeError
        Non-integer labels.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 0.0]])  # at 0 rad from class 0, pi/2 from class 1
    >>> round(float(arcface(x, np.eye(2), np.array([0]), scale=1.0, margin=0.5)), 6)  # log(1 + e^{-cos 0.5})
    0.347686

    (:math:`\log(1 + e^{-\cos 0.5}) = 0.3476854`; the floor of :math:`\sin\theta`, active at
    :math:`\theta = 0`, adds :math:`2 \cdot 10^{-7}`.)
    """
    easy_margin = flag("easy_margin", easy_margin)
    return apply_loss(ARCFACE, embeddings, weight, labels, reduction=reduction, scale=scale, margin=margin, easy_margin=easy_margin)
