r"""Margin classifiers of pytorch-metric-learning (PML): sub-center ArcFace, SphereFace, large-margin
softmax, normalized softmax and P2SGrad.

Each takes ``(embeddings, weight, labels)`` with ``weight`` of shape (C, D), one row per class (or
(C*K, D) with K sub-centres per class, class-major: rows ``c*K .. c*K+K-1`` are class ``c``'s), as
:func:`nploss.losses.cosface` and :func:`nploss.losses.arcface` do. PML keeps a learnable ``W`` of
shape (D, C): it is ``weight.T`` here, and the gradient of ``weight`` is the transpose of PML's
``W.grad``.

Cosines are taken between L2-normalised rows, :math:`\hat{x} = x / \sqrt{\lVert x \rVert^2 + 10^{-12}}`
(:func:`nploss.losses._shared.unit_rows`); PML's ``F.normalize`` divides by
:math:`\max(\lVert x \rVert, 10^{-12})`, the same to a relative :math:`10^{-12}/(2\lVert x \rVert^2)`.
All but P2SGrad are a cross entropy over logits :math:`z_{ij}`, whose gradient is
``softmax - one-hot`` (:func:`nploss.losses.classification.cross_entropy.softmax_xent_vjp`),
pushed back through the logits' dependence on the cosines and the norms.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...autograd import as_data
from .._apply import apply_loss
from .._params import flag, integer, real
from .._shared import one_hot, unit_rows, unit_rows_vjp
from .._spec import Arg, LossSpec, register
from .._validate import matrix
from ..classification.cross_entropy import softmax_xent_vjp
from ..metric_softmax.margin_softmax import SIN_EPS  # ArcFace's floor of 1 - cos^2 under the root that gives sin
from ._common import _check_class_labels

__all__: list[str] = ["large_margin_softmax", "normalized_softmax", "p2s_grad", "sphereface", "sub_center_arcface"]



# ------------------------------------------------------------------------------- shared


def _check_classifier(embeddings: Any, weight: Any, labels: Any, sub_centers: int = 1) -> None:
    matrix("embeddings", embeddings)
    matrix("weight", weight)
    if weight.shape[1] != embeddings.shape[1]:
        raise ValueError(
            f"weight must have shape (C, {embeddings.shape[1]}) (one row per class, the embedding dimension "
            f"of embeddings {tuple(embeddings.shape)}), got {tuple(weight.shape)}"
        )
    if weight.shape[0] % sub_centers:
        raise ValueError(
            f"weight must have C*sub_centers rows (sub_centers={sub_centers} rows per class), got {weight.shape[0]} rows"
        )
    _check_class_labels(embeddings, labels, weight.shape[0] // sub_centers)


ARGS = (
    Arg("embeddings", "real", ("N", "D")),
    Arg("weight", "real", ("C", "D")),
    Arg("labels", "label", ("N",), differentiable=False),
)


def _edges(rows_per_class: int = 1) -> dict[str, Any]:
    """Embeddings equal to (or opposite) their class weight, identical rows, a zero embedding, one
    class in the batch, a class with one sample, huge entries."""
    k = rows_per_class

    def aligned(rng: np.random.Generator, sign: float) -> list[np.ndarray]:
        w = rng.standard_normal((4 * k, 3))
        y = np.array([0, 1, 2, 3, 1])
        return [sign * w[y * k] * np.array([[1.0], [2.0], [0.5], [3.0], [1.0]]), w, y]

    return {
        "embedding equal to its class weight": lambda rng: aligned(rng, 1.0),
        "embedding opposite to its class weight": lambda rng: aligned(rng, -1.0),
        "identical embeddings": lambda rng: [np.ones((5, 3)), rng.standard_normal((4 * k, 3)), np.array([0, 1, 2, 3, 0])],
        "zero embedding": lambda rng: [np.vstack([np.zeros((1, 3)), rng.standard_normal((4, 3))]), rng.standard_normal((4 * k, 3)), np.array([0, 1, 2, 3, 0])],
        "one class in the batch": lambda rng: [rng.standard_normal((5, 3)), rng.standard_normal((4 * k, 3)), np.zeros(5, dtype=np.int64)],
        "a class with one sample": lambda rng: [rng.standard_normal((5, 3)), rng.standard_normal((4 * k, 3)), np.array([0, 0, 1, 1, 2])],
        "entries of 1e4": lambda rng: [1e4 * rng.standard_normal((5, 3)), 1e4 * rng.standard_normal((4 * k, 3)), np.array([0, 1, 2, 3, 0])],
    }  # fmt: skip


def _unit_np(x: Any) -> Any:
    return unit_rows(np, np.asarray(as_data(x), dtype=float))[0]


# ------------------------------------------------------------------------- normalized softmax


def _nsoftmax_forward(xp: Any, embeddings: Any, weight: Any, labels: Any, *, temperature: float) -> Any:
    u, _ = unit_rows(xp, embeddings)
    v, _ = unit_rows(xp, weight)
    logits = xp.matmul(u, xp.transpose(v)) / temperature
    y = xp.as_data(labels)
    return xp.logsumexp(logits, axis=1) - xp.take_along_axis(logits, y[:, None], axis=1)[:, 0]


def _nsoftmax_vjp(xp: Any, g: Any, embeddings: Any, weight: Any, labels: Any, *, temperature: float) -> tuple[Any, Any]:
    u, ru = unit_rows(xp, embeddings)
    v, rv = unit_rows(xp, weight)
    dcos = softmax_xent_vjp(xp, g, xp.matmul(u, xp.transpose(v)) / temperature, labels) / temperature
    return unit_rows_vjp(xp, xp.matmul(dcos, v), u, ru), unit_rows_vjp(xp, xp.matmul(xp.transpose(dcos), u), v, rv)


def _check_nsoftmax(embeddings: Any, weight: Any, labels: Any, *, temperature: float) -> None:
    _check_classifier(embeddings, weight, labels)
    real("temperature", temperature, low=0.0, low_open=True)


NORMALIZED_SOFTMAX = register(
    LossSpec(
        name="normalized_softmax",
        family="metric",
        args=ARGS,
        forward=_nsoftmax_forward,
        vjp=_nsoftmax_vjp,
        params={"temperature": 0.05},
        check=_check_nsoftmax,
        edge_cases=_edges(),
        formula=r"\ell_i = -\log \frac{e^{\hat{x}_i \cdot \hat{w}_{y_i} / T}}{\sum_j e^{\hat{x}_i \cdot \hat{w}_j / T}}",
        reference="Zhai & Wu 2019 (Classification is a strong baseline for deep metric learning, NormSoftmax, T = 0.05); "
        "pytorch-metric-learning NormalizedSoftmaxLoss",
    )
)


def normalized_softmax(
    embeddings: Any, weight: Any, labels: Any, temperature: float = 0.05, reduction: str = "mean"
) -> Any:
    r"""Normalized softmax (NormSoftmax): a cross entropy over cosines divided by a temperature.

    .. math::  \ell_i = -\log \frac{e^{\cos\theta_{i y_i} / T}}{\sum_j e^{\cos\theta_{ij} / T}},
               \qquad \cos\theta_{ij} = \hat{x}_i \cdot \hat{w}_j,

    with :math:`\hat{x}_i, \hat{w}_j` the L2-normalised embedding and class weight. It is
    :func:`nploss.losses.cosface` with ``margin=0`` and ``scale=1/T``. Gradient:

    .. math::  \frac{\partial \ell_i}{\partial \cos\theta_{ij}} = (p_{ij} - [j = y_i]) / T,
               \qquad p_i = \mathrm{softmax}_j(\cos\theta_{ij} / T),

    pushed back through :math:`\hat{X}\hat{W}^\top` and the normalisations
    :math:`\partial \hat{x}/\partial x = (I - \hat{x}\hat{x}^\top)/\lVert x \rVert`.

    Parameters
    ----------
    embeddings : array or Tensor, shape (N, D)
        Differentiable.
    weight : array or Tensor, shape (C, D)
        One weight vector per class, differentiable.
    labels : integer array, shape (N,)
        Class labels in [0, C).
    temperature : float
        :math:`T > 0` (default 0.05, the paper's and PML's).
    reduction : {'mean', 'sum', 'none'}
        'none' gives one loss per embedding, shape (N,).

    pytorch-metric-learning's ``NormalizedSoftmaxLoss(num_classes=C, embedding_size=D)`` with
    ``W = weight.T`` computes this loss (its default distance, ``DotProductSimilarity``,
    normalises the embeddings; the columns of ``W`` are normalised explicitly). It matches the
    paper; no departure was found.

    Raises
    ------
    ValueError
        ``weight`` of another embedding dimension, labels outside [0, C), ``temperature <= 0``,
        an unknown reduction, NaN inputs.
    TypeError
        Non-integer labels.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(normalized_softmax(np.array([[1.0, 0.0]]), np.eye(2), np.array([0]), temperature=1.0)), 6)
    0.313262
    """
    return apply_loss(NORMALIZED_SOFTMAX, embeddings, weight, labels, reduction=reduction, temperature=temperature)


# ------------------------------------------------------------- large-margin softmax and SphereFace
#
# The target logit's cosine c = cos(theta) becomes psi(c) = (-1)^k cos(m theta) - 2k, with
# k = floor(theta m / pi) (a constant: PML computes it under no_grad), and cos(m theta) = T_m(c)
# the Chebyshev polynomial (PML's sum of Equation 7 of Liu et al. 2016 is the same polynomial).
# k counts the thresholds cos(j pi / m), j = 1..m, that c is at or below: no arccos is needed.
# psi is C^1 in c (T_m' = m U_{m-1} vanishes at the thresholds), its second derivative jumps there.


def _chebyshev(xp: Any, c: Any, m: int) -> tuple[Any, Any]:
    """T_m(c) and T_m'(c) = m U_{m-1}(c), by the three-term recurrences."""
    t_prev, t = 1.0 + 0.0 * c, c
    u_prev, u = 0.0 * c, 1.0 + 0.0 * c  # U_{-1}, U_0
    for _ in range(m - 1):
        t_prev, t = t, 2.0 * c * t - t_prev
        u_prev, u = u, 2.0 * c * u - u_prev
    return t, m * u


def _lsoftmax_k(c: Any, m: int) -> Any:
    cd = as_data(c)
    return sum((cd <= math.cos(j * math.pi / m)).astype(cd.dtype) for j in range(1, m + 1))


def _lsoftmax_parts(
    xp: Any, embeddings: Any, weight: Any, labels: Any, margin: int, weight_norms: bool
) -> tuple[Any, ...]:
    u, ru = unit_rows(xp, embeddings)
    v, rv = unit_rows(xp, weight)
    cos = xp.matmul(u, xp.transpose(v))
    y = xp.as_data(labels)
    hit = one_hot(y, cos.shape[1], 1, bool)
    c = xp.take_along_axis(cos, y[:, None], axis=1)[:, 0]
    k = _lsoftmax_k(c, margin)
    sign = 1.0 - 2.0 * (k % 2)
    tm, dtm = _chebyshev(xp, c, margin)
    psi = sign * tm - 2.0 * k
    f = xp.where(hit, psi[:, None], cos)
    mag = ru * xp.transpose(rv) if weight_norms else ru  # (N, C) or (N, 1)
    return u, ru, v, rv, cos, hit, f, mag, sign * dtm


def _lsoftmax_forward(
    xp: Any, embeddings: Any, weight: Any, labels: Any, *, margin: int, scale: float, weight_norms: bool
) -> Any:
    *_, f, mag, _ = _lsoftmax_parts(xp, embeddings, weight, labels, margin, weight_norms)
    logits = scale * mag * f
    y = xp.as_data(labels)
    return xp.logsumexp(logits, axis=1) - xp.take_along_axis(logits, y[:, None], axis=1)[:, 0]


def _lsoftmax_vjp(
    xp: Any, g: Any, embeddings: Any, weight: Any, labels: Any, *, margin: int, scale: float, weight_norms: bool
) -> tuple[Any, Any]:
    u, ru, v, rv, _, hit, f, mag, dpsi = _lsoftmax_parts(xp, embeddings, weight, labels, margin, weight_norms)
    dlogits = scale * softmax_xent_vjp(xp, g, scale * mag * f, labels)  # d loss / d (mag f), times s
    df = dlogits * mag
    dcos = xp.where(hit, df * dpsi[:, None], df)
    dmag = dlogits * f
    gx = unit_rows_vjp(xp, xp.matmul(dcos, v), u, ru)
    gw = unit_rows_vjp(xp, xp.matmul(xp.transpose(dcos), u), v, rv)
    # the norms: d r / d x = x / r = u
    if weight_norms:
        gx = gx + xp.sum(dmag * xp.transpose(rv), axis=1, keepdims=True) * u
        gw = gw + xp.transpose(xp.sum(dmag * ru, axis=0, keepdims=True)) * v
    else:
        gx = gx + xp.sum(dmag, axis=1, keepdims=True) * u
    return gx, gw


def _lsoftmax_kinks(embeddings: Any, weight: Any, labels: Any, *, margin: int, **_: Any) -> Any:
    c = (_unit_np(embeddings) * _unit_np(weight)[np.asarray(labels)]).sum(1)
    # psi'' jumps where c = cos(j pi / m); 1 - c^2 for the ends of [-1, 1]
    d = np.abs(1.0 - c * c)
    for j in range(1, margin):
        d = np.minimum(d, np.abs(c - math.cos(j * math.pi / margin)))
    return d


def _check_lsoftmax(embeddings: Any, weight: Any, labels: Any, *, margin: int, scale: float, **_: Any) -> None:
    _check_classifier(embeddings, weight, labels)
    integer("margin", margin, low=1)
    real("scale", scale, low=0.0, low_open=True)


_PSI = r"\psi(\theta) = (-1)^k \cos(m\theta) - 2k, \ \theta \in [k\pi/m, (k+1)\pi/m]"

LARGE_MARGIN_SOFTMAX = register(
    LossSpec(
        name="large_margin_softmax",
        family="metric",
        args=ARGS,
        forward=_lsoftmax_forward,
        vjp=_lsoftmax_vjp,
        params={"margin": 4, "scale": 1.0, "weight_norms": True},
        check=_check_lsoftmax,
        kinks=_lsoftmax_kinks,
        edge_cases=_edges(),
        formula=(
            r"\ell_i = -\log \frac{e^{s\lVert w_{y_i}\rVert \lVert x_i\rVert \psi(\theta_{i y_i})}}"
            r"{e^{s\lVert w_{y_i}\rVert \lVert x_i\rVert \psi(\theta_{i y_i})} + \sum_{j \ne y_i} e^{s\lVert w_j\rVert \lVert x_i\rVert \cos\theta_{ij}}}, \quad "
            + _PSI
        ),
        reference="Liu, Wen, Yu & Yang 2016 (Large-margin softmax loss, L-Softmax); pytorch-metric-learning LargeMarginSoftmaxLoss",
    )
)

SPHEREFACE = register(
    LossSpec(
        name="sphereface",
        family="metric",
        args=ARGS,
        forward=_lsoftmax_forward,
        vjp=_lsoftmax_vjp,
        params={"margin": 4, "scale": 1.0, "weight_norms": False},
        check=_check_lsoftmax,
        kinks=_lsoftmax_kinks,
        edge_cases=_edges(),
        formula=(
            r"\ell_i = -\log \frac{e^{s\lVert x_i\rVert \psi(\theta_{i y_i})}}"
            r"{e^{s\lVert x_i\rVert \psi(\theta_{i y_i})} + \sum_{j \ne y_i} e^{s\lVert x_i\rVert \cos\theta_{ij}}}, \quad "
            + _PSI
        ),
        reference="Liu et al. 2017 (SphereFace, angular softmax A-Softmax); pytorch-metric-learning SphereFaceLoss",
    )
)


def large_margin_softmax(
    embeddings: Any, weight: Any, labels: Any, margin: int = 4, scale: float = 1.0, reduction: str = "mean"
) -> Any:
    r"""Large-margin softmax (L-Softmax): a multiplicative angular margin on the target class.

    .. math::  \ell_i = -\log \frac{e^{z_{i y_i}}}{\sum_j e^{z_{ij}}}, \qquad
               z_{ij} = s\,\lVert w_j\rVert\,\lVert x_i\rVert \cdot
               \begin{cases} \psi(\theta_{ij}) & j = y_i \\ \cos\theta_{ij} & j \ne y_i \end{cases}

    The target angle :math:`\theta = \theta_{i y_i}` is multiplied by the integer margin :math:`m`
    through the monotone extension of :math:`\cos(m\theta)` to :math:`[0, \pi]`,

    .. math::  \psi(\theta) = (-1)^k \cos(m\theta) - 2k, \qquad
               k = \lfloor m\theta / \pi \rfloor \in \{0, \dots, m\},

    with :math:`\cos(m\theta) = T_m(\cos\theta)` (Chebyshev; the paper's Equation 7) evaluated
    without arccos: :math:`k` is the number of thresholds :math:`\cos(j\pi/m)`, :math:`j = 1..m`,
    at or above :math:`\cos\theta`. :math:`k` is a constant for the gradient (PML computes it
    under ``no_grad``); :math:`\psi` is continuously differentiable,

    .. math::  \frac{d\psi}{d\cos\theta} = (-1)^k\, T_m'(\cos\theta) = (-1)^k\, m\, U_{m-1}(\cos\theta),

    which vanishes at the thresholds; the second derivative jumps there (the audit's kinks).
    The loss is the cross entropy of the logits :math:`z_{ij}`, so :math:`\partial\ell_i/\partial z_{ij}
    = p_{ij} - [j = y_i]`, then through :math:`\psi` on the target column, the cosines
    :math:`\hat{X}\hat{W}^\top`, their normalisations, and the norms
    (:math:`\partial\lVert x\rVert/\partial x = \hat{x}`).

    Parameters
    ----------
    embeddings : array or Tensor, shape (N, D)
        Differentiable.
    weight : array or Tensor, shape (C, D)
        One weight vector per class, differentiable (its norms enter the logits).
    labels : integer array, shape (N,)
        Class labels in [0, C).
    margin : int
        :math:`m \ge 1` (default 4, PML's; 1 is the plain softmax of :math:`W x`).
    scale : float
        :math:`s > 0`, a factor on every logit (default 1, PML's; the paper has none).
    reduction : {'mean', 'sum', 'none'}
        'none' gives one loss per embedding, shape (N,).

    pytorch-metric-learning's ``LargeMarginSoftmaxLoss(num_classes=C, embedding_size=D)`` with
    ``W = weight.T`` computes this loss (it truncates a float margin with ``int``; nploss
    refuses one). Departures of PML from the paper, followed here: PML has the extra ``scale``
    (1 by default, the paper's value); the paper trains with a softmax-annealing
    :math:`(\lambda \cos\theta + \psi(\theta))/(1 + \lambda)` on the target logit, a training
    schedule PML leaves out (its value at :math:`\lambda = 0` is this loss).

    Raises
    ------
    ValueError
        ``weight`` of another embedding dimension, labels outside [0, C), ``margin < 1``,
        ``scale <= 0``, an unknown reduction, NaN inputs.
    TypeError
        Non-integer labels or margin.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 0.3]])  # theta = 16.7 degrees, 4 theta < 180: psi = cos(4 theta)
    >>> round(float(large_margin_softmax(x, np.eye(2), np.array([0]))), 6)  # log(1 + e^{0.3 - |x| cos(4 theta)})
    0.639027
    """
    margin = integer("margin", margin, low=1)
    return apply_loss(
        LARGE_MARGIN_SOFTMAX,
        embeddings,
        weight,
        labels,
        reduction=reduction,
        margin=margin,
        scale=scale,
        weight_norms=True,
    )


def sphereface(
    embeddings: Any, weight: Any, labels: Any, margin: int = 4, scale: float = 1.0, reduction: str = "mean"
) -> Any:
    r"""SphereFace (angular softmax, A-Softmax): L-Softmax with normalised class weights.

    .. math::  \ell_i = -\log \frac{e^{z_{i y_i}}}{\sum_j e^{z_{ij}}}, \qquad
               z_{ij} = s\,\lVert x_i\rVert \cdot
               \begin{cases} \psi(\theta_{ij}) & j = y_i \\ \cos\theta_{ij} & j \ne y_i \end{cases}

    as :func:`large_margin_softmax` without the weight norms: the same
    :math:`\psi(\theta) = (-1)^k \cos(m\theta) - 2k`, :math:`k = \lfloor m\theta / \pi \rfloor`,
    evaluated and differentiated as described there
    (:math:`d\psi / d\cos\theta = (-1)^k\, m\, U_{m-1}(\cos\theta)`, continuous; the second
    derivative jumps at the thresholds :math:`\cos(j\pi/m)`, the audit's kinks).
    The loss is the cross entropy of the logits :math:`z_{ij}`, so :math:`\partial\ell_i/\partial z_{ij}
    = p_{ij} - [j = y_i]`, then through :math:`\psi` on the target column, the cosines
    :math:`\hat{X}\hat{W}^\top`, their normalisations, and the norms
    (:math:`\partial\lVert x\rVert/\partial x = \hat{x}`).

    Parameters
    ----------
    embeddings : array or Tensor, shape (N, D)
        Differentiable.
    weight : array or Tensor, shape (C, D)
        One weight vector per class, differentiable (only its directions matter).
    labels : integer array, shape (N,)
        Class labels in [0, C).
    margin : int
        :math:`m \ge 1` (default 4, the paper's and PML's).
    scale : float
        :math:`s > 0` (default 1, PML's; the paper has none).
    reduction : {'mean', 'sum', 'none'}
        'none' gives one loss per embedding, shape (N,).

    pytorch-metric-learning's ``SphereFaceLoss(num_classes=C, embedding_size=D)`` with
    ``W = weight.T`` computes this loss. Departures of PML from the paper, followed here: the
    extra ``scale``; no annealing :math:`(\lambda\cos\theta + \psi)/(1 + \lambda)` of the target
    logit (the paper's training schedule; its :math:`\lambda = 0` end is this loss).

    Raises
    ------
    ValueError
        ``weight`` of another embedding dimension, labels outside [0, C), ``margin < 1``,
        ``scale <= 0``, an unknown reduction, NaN inputs.
    TypeError
        Non-integer labels or margin.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(sphereface(np.array([[2.0, 0.0]]), np.eye(2), np.array([0]))), 6)  # log(1 + e^{-2})
    0.126928
    """
    margin = integer("margin", margin, low=1)
    return apply_loss(
        SPHEREFACE, embeddings, weight, labels, reduction=reduction, margin=margin, scale=scale, weight_norms=False
    )


# ------------------------------------------------------------------------- sub-center ArcFace
#
# cos_ic = max_k cos(x_i, w_{cK+k}); then ArcFace on those (N, C) cosines as PML computes it:
# the target becomes cos(theta + m) where theta <= pi - m, else cos(theta) - m sin m. The max
# shares its cotangent equally between tied sub-centres (as xp.max does).


def _subcenter_parts(xp: Any, embeddings: Any, weight: Any, labels: Any, sub_centers: int) -> tuple[Any, ...]:
    u, ru = unit_rows(xp, embeddings)
    v, rv = unit_rows(xp, weight)
    n = as_data(embeddings).shape[0]
    classes = as_data(weight).shape[0] // sub_centers
    cos_all = xp.reshape(xp.matmul(u, xp.transpose(v)), (n, classes, sub_centers))
    cos = xp.max(cos_all, axis=2)
    y = xp.as_data(labels)
    hit = one_hot(y, classes, 1, bool)
    c = xp.take_along_axis(cos, y[:, None], axis=1)[:, 0]
    return u, ru, v, rv, cos_all, cos, hit, c


def _arc_target(xp: Any, c: Any, margin: float) -> Any:
    sin = xp.sqrt(xp.maximum(1.0 - c * c, SIN_EPS))
    return xp.where(
        as_data(c) >= math.cos(math.pi - margin),
        c * math.cos(margin) - sin * math.sin(margin),
        c - margin * math.sin(margin),
    )


def _arc_slope(xp: Any, c: Any, margin: float) -> Any:
    s2 = 1.0 - c * c
    sin = xp.sqrt(xp.maximum(s2, SIN_EPS))
    dphi = math.cos(margin) + math.sin(margin) * xp.where(s2 > SIN_EPS, c / sin, 0.0)
    return xp.where(c >= math.cos(math.pi - margin), dphi, 1.0)


def _subcenter_forward(
    xp: Any, embeddings: Any, weight: Any, labels: Any, *, margin: float, scale: float, sub_centers: int
) -> Any:
    *_, cos, hit, c = _subcenter_parts(xp, embeddings, weight, labels, sub_centers)
    t = _arc_target(xp, c, math.radians(margin))
    logits = scale * xp.where(hit, t[:, None], cos)
    return xp.logsumexp(logits, axis=1) - scale * t


def _subcenter_vjp(
    xp: Any, g: Any, embeddings: Any, weight: Any, labels: Any, *, margin: float, scale: float, sub_centers: int
) -> tuple[Any, Any]:
    u, ru, v, rv, cos_all, cos, hit, c = _subcenter_parts(xp, embeddings, weight, labels, sub_centers)
    m = math.radians(margin)
    t = _arc_target(xp, c, m)
    dlogits = softmax_xent_vjp(xp, g, scale * xp.where(hit, t[:, None], cos), labels)
    dcos = scale * xp.where(hit, dlogits * _arc_slope(xp, c, m)[:, None], dlogits)
    # the max: to the winning sub-centre(s), shared equally between ties
    cd = as_data(cos_all)
    winners = (cd == cd.max(axis=2, keepdims=True)).astype(cd.dtype)
    share = winners / winners.sum(axis=2, keepdims=True)
    dall = xp.reshape(xp.expand_dims(dcos, 2) * share, (cd.shape[0], cd.shape[1] * cd.shape[2]))
    gu = xp.matmul(dall, v)
    gv = xp.matmul(xp.transpose(dall), u)
    return unit_rows_vjp(xp, gu, u, ru), unit_rows_vjp(xp, gv, v, rv)


def _subcenter_kinks(embeddings: Any, weight: Any, labels: Any, *, margin: float, sub_centers: int, **_: Any) -> Any:
    cos_all = _unit_np(embeddings) @ _unit_np(weight).T
    n = cos_all.shape[0]
    cos_all = cos_all.reshape(n, -1, sub_centers)
    top = np.sort(cos_all, axis=2)
    gap = (top[:, :, -1] - top[:, :, -2]).min(axis=1) if sub_centers > 1 else np.full(n, np.inf)
    c = top[np.arange(n), np.asarray(labels), -1]
    switch = np.abs(c - math.cos(math.pi - math.radians(margin)))
    return np.minimum(np.minimum(gap, switch), np.abs(1.0 - c * c - SIN_EPS))


def _check_subcenter(
    embeddings: Any, weight: Any, labels: Any, *, margin: float, scale: float, sub_centers: int
) -> None:
    integer("sub_centers", sub_centers, low=1)
    _check_classifier(embeddings, weight, labels, sub_centers)
    real("margin", margin, low=0.0, high=90.0, high_open=True)
    real("scale", scale, low=0.0, low_open=True)


SUB_CENTER_ARCFACE = register(
    LossSpec(
        name="sub_center_arcface",
        family="metric",
        args=(
            Arg("embeddings", "real", ("N", "D")),
            Arg("weight", "real", ("CK", "D")),
            Arg("labels", "label", ("N",), differentiable=False),
        ),
        forward=_subcenter_forward,
        vjp=_subcenter_vjp,
        params={"margin": 28.6, "scale": 64.0, "sub_centers": 3},
        sizes={"CK": 12},  # C = 4 classes of 3 sub-centres
        check=_check_subcenter,
        kinks=_subcenter_kinks,
        edge_cases=_edges(3),
        formula=(
            r"\ell_i = -\log \frac{e^{s\,\phi(\theta_{i y_i})}}{e^{s\,\phi(\theta_{i y_i})} + \sum_{j \ne y_i} e^{s \cos\theta_{ij}}}, \quad "
            r"\cos\theta_{ij} = \max_k \hat{x}_i \cdot \hat{w}_{jk}, \quad "
            r"\phi(\theta) = \begin{cases} \cos(\theta + m) & \theta \le \pi - m \\ \cos\theta - m \sin m & \text{otherwise} \end{cases}"
        ),
        reference="Deng et al. 2020 (Sub-center ArcFace, ECCV); pytorch-metric-learning SubCenterArcFaceLoss",
    )
)


def sub_center_arcface(
    embeddings: Any,
    weight: Any,
    labels: Any,
    margin: float = 28.6,
    scale: float = 64.0,
    sub_centers: int = 3,
    reduction: str = "mean",
) -> Any:
    r"""Sub-center ArcFace: ArcFace over the best of K sub-centres per class.

    .. math::  \cos\theta_{ij} = \max_{k < K} \hat{x}_i \cdot \hat{w}_{jK + k}, \qquad
               \ell_i = -\log \frac{e^{s\,\phi(\cos\theta_{i y_i})}}
               {e^{s\,\phi(\cos\theta_{i y_i})} + \sum_{j \ne y_i} e^{s \cos\theta_{ij}}},

    with, for :math:`c = \cos\theta` and the margin :math:`m` in radians,

    .. math::  \phi(c) = \begin{cases} c\cos m - \sqrt{1 - c^2}\,\sin m = \cos(\theta + m)
               & \theta \le \pi - m \\ c - m \sin m & \text{otherwise} \end{cases}

    (PML's ``ArcFaceLoss`` fallback, which keeps the target logit decreasing). The weight rows are
    class-major: class :math:`j`'s sub-centres are rows :math:`jK .. jK + K - 1` (PML's
    ``view(-1, C, K)`` of the (N, C*K) cosines). As in :func:`nploss.losses.arcface`,
    :math:`\sin\theta = \sqrt{\max(1 - c^2, 10^{-12})}`; PML takes ``cos(acos(c) + m)``, the same
    but where :math:`\theta` is within about :math:`10^{-6}` of 0 or :math:`\pi`.

    Gradient: :math:`s(p_{ij} - [j = y_i])` on the logits, times
    :math:`\phi'(c) = \cos m + \sin m \, c / \sqrt{1 - c^2}` (1 on the fallback) on the target
    column, to the winning sub-centre of each (embedding, class) (shared equally between exact
    ties; PyTorch's ``max`` gives it to one of them), then through the cosines and the
    normalisations.

    Parameters
    ----------
    embeddings : array or Tensor, shape (N, D)
        Differentiable.
    weight : array or Tensor, shape (C*K, D)
        K sub-centres per class, class-major, differentiable.
    labels : integer array, shape (N,)
        Class labels in [0, C).
    margin : float
        The angular margin in **degrees**, in [0, 90) (default 28.6, about 0.5 rad, PML's). Unlike
        :func:`nploss.losses.arcface`, which takes radians: ``margin=math.degrees(m)``.
    scale : float
        :math:`s > 0` (default 64).
    sub_centers : int
        :math:`K \ge 1` (default 3, the paper's and PML's). With 1 this is ArcFace.
    reduction : {'mean', 'sum', 'none'}
        'none' gives one loss per embedding, shape (N,).

    pytorch-metric-learning's ``SubCenterArcFaceLoss(num_classes=C, embedding_size=D)`` with
    ``W = weight.T`` (D, C*K) computes this loss. Its ``get_outliers`` (dropping samples far from
    their dominant sub-centre, the paper's second stage) is a data-cleaning step, not part of the
    loss, and is not provided.

    Raises
    ------
    ValueError
        ``weight`` whose rows are not C*sub_centers or of another dimension, labels outside
        [0, C), a margin outside [0, 90), ``scale <= 0``, an unknown reduction, NaN inputs.
    TypeError
        Non-integer labels or sub_centers.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0], [-1.0, 0.0]])  # two classes, two sub-centres each
    >>> round(float(sub_center_arcface(np.array([[1.0, 0.0]]), w, np.array([0]), margin=0.0, scale=1.0, sub_centers=2)), 6)
    0.313262
    """
    sub_centers = integer("sub_centers", sub_centers, low=1)
    return apply_loss(
        SUB_CENTER_ARCFACE,
        embeddings,
        weight,
        labels,
        reduction=reduction,
        margin=margin,
        scale=scale,
        sub_centers=sub_centers,
    )


# ------------------------------------------------------------------------------------ P2SGrad
#
# l_i = (1/C) sum_j (clip(xhat_i . w_j, -1, 1) - [j = y_i])^2, the weight taken as it is (PML
# renormalises its W in place, outside autograd), or normalised inside with normalize_weight.


def _p2s_parts(xp: Any, embeddings: Any, weight: Any, normalize_weight: bool) -> tuple[Any, ...]:
    u, ru = unit_rows(xp, embeddings)
    v, rv = unit_rows(xp, weight) if normalize_weight else (weight, None)
    raw = xp.matmul(u, xp.transpose(v))
    return u, ru, v, rv, raw


def _p2s_forward(xp: Any, embeddings: Any, weight: Any, labels: Any, *, normalize_weight: bool) -> Any:
    *_, raw = _p2s_parts(xp, embeddings, weight, normalize_weight)
    target = one_hot(xp.as_data(labels), as_data(raw).shape[1], 1, as_data(raw).dtype)
    return xp.mean(xp.square(xp.clip(raw, -1.0, 1.0) - target), axis=1)


def _p2s_vjp(xp: Any, g: Any, embeddings: Any, weight: Any, labels: Any, *, normalize_weight: bool) -> tuple[Any, Any]:
    u, ru, v, rv, raw = _p2s_parts(xp, embeddings, weight, normalize_weight)
    rd = as_data(raw)
    classes = rd.shape[1]
    target = one_hot(xp.as_data(labels), classes, 1, rd.dtype)
    inside = ((rd >= -1.0) & (rd <= 1.0)).astype(rd.dtype)  # clamp passes the cotangent on [-1, 1], as PyTorch
    dcos = xp.expand_dims(g, 1) * (2.0 / classes) * (xp.clip(raw, -1.0, 1.0) - target) * inside
    gx = unit_rows_vjp(xp, xp.matmul(dcos, v), u, ru)
    gw = xp.matmul(xp.transpose(dcos), u)
    return gx, (unit_rows_vjp(xp, gw, v, rv) if normalize_weight else gw)


def _p2s_kinks(embeddings: Any, weight: Any, labels: Any, *, normalize_weight: bool) -> Any:
    w = _unit_np(weight) if normalize_weight else np.asarray(as_data(weight), dtype=float)
    raw = _unit_np(embeddings) @ w.T
    return np.abs(1.0 - np.abs(raw)).min(axis=1)


def _check_p2s(embeddings: Any, weight: Any, labels: Any, *, normalize_weight: bool) -> None:
    _check_classifier(embeddings, weight, labels)


P2S_GRAD = register(
    LossSpec(
        name="p2s_grad",
        family="metric",
        args=ARGS,
        forward=_p2s_forward,
        vjp=_p2s_vjp,
        params={"normalize_weight": False},
        check=_check_p2s,
        kinks=_p2s_kinks,
        edge_cases=_edges(),
        formula=r"\ell_i = \frac{1}{C} \sum_j \left(\mathrm{clip}(\hat{x}_i \cdot w_j, -1, 1) - [j = y_i]\right)^2",
        reference="Zhang et al. 2019 (P2SGrad: refined gradients for optimizing deep face models, Eq. 11); "
        "pytorch-metric-learning P2SGradLoss (after Xin Wang's p2sgrad.py)",
    )
)


def p2s_grad(embeddings: Any, weight: Any, labels: Any, normalize_weight: bool = False, reduction: str = "mean") -> Any:
    r"""P2SGrad: the squared error between the cosines and the one-hot target.

    .. math::  \ell_i = \frac{1}{C} \sum_{j} \left(\cos\theta_{ij} - [j = y_i]\right)^2, \qquad
               \cos\theta_{ij} = \mathrm{clip}(\hat{x}_i \cdot w_j, -1, 1),

    whose gradient is the paper's Eq. 11 (up to the factor :math:`2/C`),

    .. math::  \frac{\partial \ell_i}{\partial \cos\theta_{ij}} = \frac{2}{C}\,(\cos\theta_{ij} - [j = y_i])

    (0 where the clip is active), through :math:`\hat{x}_i \cdot w_j`:
    :math:`\partial/\partial x_i = (I - \hat{x}_i\hat{x}_i^\top) w_j / \lVert x_i \rVert` and
    :math:`\partial/\partial w_j = \hat{x}_i`.

    The weight rows are meant to be unit vectors and are **taken as they are** by default, as PML
    differentiates: ``P2SGradLoss`` renormalises its ``W`` in place (``W.data = W.data.renorm(2, 1,
    1e-5) * 1e5``, i.e. :math:`w / (\lVert w \rVert + 10^{-7})`) before each call, outside autograd,
    so its gradient of ``W`` is that of the renormalised weight, with no projection (a detached
    normaliser: a projection step of the optimiser, not part of the loss). For unit rows (PML's
    ``W`` always has them) this loss, both gradients included, is PML's; pass
    ``weight / norm(weight)`` rows to get PML's value for any weight.
    ``normalize_weight=True`` gives the paper's cosine instead, with the normalisation inside the
    loss and differentiated (the same value; a weight gradient without its radial component).

    Departures of PML from the paper, followed here: the detached weight normaliser; the clip of
    the cosine to [-1, 1]; the mean over classes (``MSELoss``; PML's docstring and the paper sum
    over classes: multiply by C for that); the mean over the batch (reduction 'mean').

    Parameters
    ----------
    embeddings : array or Tensor, shape (N, D)
        Differentiable.
    weight : array or Tensor, shape (C, D)
        One (unit) weight vector per class, differentiable.
    labels : integer array, shape (N,)
        Class labels in [0, C).
    normalize_weight : bool
        Normalise the weight rows inside the loss (the paper's cosine), differentiated.
    reduction : {'mean', 'sum', 'none'}
        'none' gives one loss per embedding, shape (N,) (its mean over the classes).

    Matches pytorch-metric-learning's ``P2SGradLoss(descriptors_dim=D, num_classes=C)`` with its
    ``weight`` Parameter (D, C) set to ``weight.T`` (unit rows).

    Raises
    ------
    ValueError
        ``weight`` of another embedding dimension, labels outside [0, C), an unknown
        reduction, NaN inputs.
    TypeError
        Non-integer labels, a non-bool normalize_weight.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(p2s_grad(np.array([[1.0, 1.0]]), np.eye(2), np.array([0]))), 6)  # ((0.7071 - 1)^2 + 0.7071^2) / 2
    0.292893
    """
    normalize_weight = flag("normalize_weight", normalize_weight)
    return apply_loss(P2S_GRAD, embeddings, weight, labels, reduction=reduction, normalize_weight=normalize_weight)
