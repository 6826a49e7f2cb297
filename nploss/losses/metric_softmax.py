r"""Metric learning by a softmax over similarities: CosFace, ArcFace, N-pair, NT-Xent, SupCon.

Each loss is a cross entropy whose logits are (scaled) similarities between embeddings, or
between embeddings and class weight vectors, so every forward is a log-sum-exp minus a target
logit and every gradient is ``softmax - target`` pushed back through the similarity.

Two small conventions, shared by the block below:

- **Normalisation.** Where a loss works on cosine similarity, rows are L2-normalised inside as
  :math:`\hat{x} = x / \sqrt{\lVert x \rVert^2 + \epsilon}` with :math:`\epsilon = 10^{-12}`
  (``NORM_EPS``). PyTorch's ``F.normalize`` and pytorch-metric-learning (PML) divide by
  :math:`\max(\lVert x \rVert, 10^{-12})` instead; the two agree to a relative
  :math:`\epsilon / (2\lVert x \rVert^2)` (about 5e-13 for unit norms), but the square root
  form is smooth, so a zero row gives a zero unit vector with the finite gradient
  :math:`I/\sqrt{\epsilon}` rather than a kink.
- **Diagonal.** NT-Xent and SupCon exclude an anchor's similarity with itself from the
  denominator. It is the largest entry of its row (:math:`1/\tau`), so it is dropped exactly, by
  masking it with :math:`-\infty` before the log-sum-exp (:math:`e^{-\infty} = 0`), never by
  subtracting it from a sum.
"""

from __future__ import annotations

import math
from typing import Any

from ._apply import apply_loss
from ._spec import Arg, LossSpec, register
from .classification import _subtract_at_labels
from ._validate import same_shape

__all__ = ["cosface", "arcface", "n_pair", "nt_xent", "supcon"]

NORM_EPS = 1e-12  # inside the square root of the L2 normalisation
SIN_EPS = 1e-12  # ArcFace: floor of 1 - cos^2 under the square root that gives sin(theta)


def _normalize(xp: Any, x: Any) -> tuple[Any, Any]:
    """Rows of ``x`` scaled to unit length, and the norms ``sqrt(|x|^2 + eps)`` (N, 1)."""
    r = xp.sqrt(xp.sum(x * x, axis=1, keepdims=True) + NORM_EPS)
    return x / r, r


def _normalize_vjp(xp: Any, gu: Any, u: Any, r: Any) -> Any:
    # d(x/r)/dx = (I - u u^T) / r: the component of the cotangent along u is projected out
    return (gu - u * xp.sum(u * gu, axis=1, keepdims=True)) / r


def _rows2(name: str, x: Any) -> None:
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (N, D), got shape {tuple(x.shape)}")


def _positive(name: str, value: Any) -> None:
    if not value > 0:
        raise ValueError(f"{name} must be positive, got {value}")


# ------------------------------------------------------------------------ margin softmax (shared)
#
# CosFace and ArcFace: logits s cos(theta_ij) between the normalised embedding x_i and class
# weight w_j, with the target logit s cos(theta_iy) replaced by s t(cos theta_iy):
#     l_i = logsumexp_j(logits_ij) - s t(cos theta_iy).
# Only t and its derivative t' differ between the two.


def _class_cosines(xp: Any, embeddings: Any, weight: Any, labels: Any) -> tuple[Any, ...]:
    u, ru = _normalize(xp, embeddings)
    v, rv = _normalize(xp, weight)
    cos = xp.matmul(u, xp.transpose(v))
    y = xp.as_data(labels)
    hit = xp.arange(cos.shape[1])[None, :] == y[:, None]  # one-hot of the labels, a constant
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
    p = xp.softmax(scale * xp.where(hit, t[:, None], cos), axis=1)
    dlogits = g[:, None] * xp.where(hit, p - 1.0, p)  # cross entropy: softmax - one-hot
    # the target column goes through t: d logit_iy / d cos_iy = s t'(cos_iy); the others are s cos
    dcos = scale * (dlogits if slope is None else xp.where(hit, dlogits * slope(xp, cos_y)[:, None], dlogits))
    gu = xp.matmul(dcos, v)
    gv = xp.matmul(xp.transpose(dcos), u)
    return _normalize_vjp(xp, gu, u, ru), _normalize_vjp(xp, gv, v, rv)


def _check_margin(embeddings: Any, weight: Any, labels: Any, *, scale: float, margin: float, **_: Any) -> None:
    _rows2("embeddings", embeddings)
    _rows2("weight", weight)
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
    _positive("scale", scale)
    if not margin >= 0:
        raise ValueError(f"margin must be non-negative, got {margin}")


MARGIN_ARGS = (
    Arg("embeddings", "real", ("N", "D")),
    Arg("weight", "real", ("C", "D")),
    Arg("labels", "label", ("N",), differentiable=False),
)


def _margin_edges() -> dict[str, Any]:
    """Embeddings equal to their class weight (cos = 1), opposite to it (cos = -1), zero, huge."""
    import numpy as np

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
    import numpy as np

    e = embeddings / np.sqrt((embeddings**2).sum(1, keepdims=True) + NORM_EPS)
    w = weight / np.sqrt((weight**2).sum(1, keepdims=True) + NORM_EPS)
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
        check=_check_margin,
        edge_cases=_margin_edges(),
        formula=(
            r"\ell_i = -\log \frac{e^{s(\cos\theta_{y_i} - m)}}{e^{s(\cos\theta_{y_i} - m)} + "
            r"\sum_{j \ne y_i} e^{s \cos\theta_j}}, \quad \cos\theta_j = \hat{x}_i \cdot \hat{w}_j"
        ),
        reference="Wang et al. 2018 (CosFace, large margin cosine loss); pytorch-metric-learning CosFaceLoss",
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
        :math:`s > 0`. The default 30 is the paper's; pytorch-metric-learning uses 64.
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
    import numpy as np

    c = _cosines_np(embeddings, weight, labels)
    # the branch switch (a jump in value: cos(pi) = -1 against cos(pi - m) - m sin m) and the floor of sin
    switch = np.abs(c) if easy_margin else np.abs(c - math.cos(math.pi - margin))
    return np.minimum(switch, np.abs(1.0 - c * c - SIN_EPS))


def _check_arcface(embeddings: Any, weight: Any, labels: Any, *, scale: float, margin: float, **_: Any) -> None:
    _check_margin(embeddings, weight, labels, scale=scale, margin=margin)
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
    >>> round(float(arcface(x, np.eye(2), np.array([0]), scale=1.0, margin=0.5)), 6)
    0.415494
    """
    return apply_loss(
        ARCFACE, embeddings, weight, labels, reduction=reduction, scale=scale, margin=margin, easy_margin=bool(easy_margin)
    )


# ------------------------------------------------------------------------------------ N-pair
#
# Multi-class N-pair (Sohn 2016): N pairs (a_i, p_i) of N different classes; for anchor a_i the
# positives of the other pairs are the negatives. With logits z_ij = a_i . p_j,
#     l_i = log(1 + sum_{j != i} exp(z_ij - z_ii)) = logsumexp_j z_ij - z_ii,
# a cross entropy with target i, so dl_i/dz_ij = softmax(z_i)_j - [i = j].


def _n_pair_forward(xp: Any, anchors: Any, positives: Any, *, l2_reg: float) -> Any:
    logits = xp.matmul(anchors, xp.transpose(positives))
    own = xp.sum(xp.where(xp.eye(logits.shape[0], dtype=bool), logits, 0.0), axis=1)
    loss = xp.logsumexp(logits, axis=1) - own
    if l2_reg:
        loss = loss + (0.25 * l2_reg) * (xp.sum(anchors * anchors, axis=1) + xp.sum(positives * positives, axis=1))
    return loss


def _n_pair_vjp(xp: Any, g: Any, anchors: Any, positives: Any, *, l2_reg: float) -> tuple[Any, Any]:
    logits = xp.matmul(anchors, xp.transpose(positives))
    eye = xp.eye(logits.shape[0], dtype=bool)
    p = xp.softmax(logits, axis=1)
    dz = g[:, None] * xp.where(eye, p - 1.0, p)
    ga = xp.matmul(dz, positives)
    gp = xp.matmul(xp.transpose(dz), anchors)
    if l2_reg:
        ga = ga + (0.5 * l2_reg) * g[:, None] * anchors
        gp = gp + (0.5 * l2_reg) * g[:, None] * positives
    return ga, gp


def _check_n_pair(anchors: Any, positives: Any, *, l2_reg: float) -> None:
    _rows2("anchors", anchors)
    same_shape("anchors", anchors, "positives", positives)
    if not l2_reg >= 0:
        raise ValueError(f"l2_reg must be non-negative, got {l2_reg}")


def _n_pair_edges() -> dict[str, Any]:
    import numpy as np

    return {
        "identical embeddings": lambda rng: [np.ones((5, 3)), np.ones((5, 3))],
        "positives equal to anchors": lambda rng: [x := rng.standard_normal((5, 3)), x.copy()],
        "zero embeddings": lambda rng: [np.zeros((5, 3)), rng.standard_normal((5, 3))],
        "similarities of 1e4": lambda rng: [100 * rng.standard_normal((5, 3)), 100 * rng.standard_normal((5, 3))],
    }


N_PAIR = register(
    LossSpec(
        name="n_pair",
        family="metric",
        args=(Arg("anchors", "real", ("N", "D")), Arg("positives", "real", ("N", "D"))),
        forward=_n_pair_forward,
        vjp=_n_pair_vjp,
        params={"l2_reg": 0.0},
        check=_check_n_pair,
        edge_cases=_n_pair_edges(),
        formula=(
            r"\ell_i = \log\Big(1 + \sum_{j \ne i} e^{a_i \cdot p_j - a_i \cdot p_i}\Big) "
            r"+ \tfrac{\lambda}{4}(\lVert a_i \rVert^2 + \lVert p_i \rVert^2)"
        ),
        reference="Sohn 2016 (multi-class N-pair loss); pytorch-metric-learning NPairsLoss; TensorFlow npairs_loss (regulariser)",
    )
)


def n_pair(anchors: Any, positives: Any, l2_reg: float = 0.0, reduction: str = "mean") -> Any:
    r"""Multi-class N-pair loss: each anchor against its own positive and the others' positives.

    For N pairs :math:`(a_i, p_i)` from N different classes (the N-pair batch construction of
    Sohn 2016), the positives of the other pairs serve as the negatives of anchor :math:`i`:

    .. math::  \ell_i = \log\Big(1 + \sum_{j \ne i} e^{a_i \cdot p_j - a_i \cdot p_i}\Big)
               + \frac{\lambda}{4}\big(\lVert a_i \rVert^2 + \lVert p_i \rVert^2\big)
               = \log \sum_j e^{z_{ij}} - z_{ii} + \dots, \qquad z = A P^\top

    a cross entropy over the rows of :math:`A P^\top` with target :math:`i`, computed as a
    log-sum-exp (stable for any similarity). With :math:`q_i = \mathrm{softmax}(z_i)` and
    :math:`G_{ij} = g_i(q_{ij} - [i = j])`,

    .. math::  \nabla_A = G P + \tfrac{\lambda}{2} g \odot A, \qquad
               \nabla_P = G^\top A + \tfrac{\lambda}{2} g \odot P.

    Similarities are raw dot products, as in the paper (no normalisation): the optional
    :math:`\ell_2` term keeps the norms from growing. Its :math:`\lambda/4` follows TensorFlow's
    ``npairs_loss`` (``0.25 * reg_lambda * (mean |a|^2 + mean |p|^2)``, default 0.002; Paddle's
    ``npair_loss`` likewise), so that ``'mean'`` equals their loss with ``reg_lambda = l2_reg``.

    Parameters
    ----------
    anchors, positives : array or Tensor, shape (N, D)
        Row i of each is one pair of class i; both differentiable.
    l2_reg : float
        :math:`\lambda \ge 0` (default 0: no regulariser).
    reduction : {'mean', 'sum', 'none'}
        'none' gives one loss per anchor, shape (N,).

    pytorch-metric-learning's ``NPairsLoss`` takes a batch of embeddings with labels and keeps
    one positive pair per label; with ``embeddings = concat(anchors, positives)``,
    ``labels = concat(arange(N), arange(N))`` and ``distance=DotProductSimilarity(
    normalize_embeddings=False)`` it computes this loss with ``l2_reg = 0`` (its default
    distance normalises the embeddings first). Its ``embedding_regularizer=LpRegularizer(power=2)``
    with ``embedding_reg_weight = l2_reg / 2`` (a mean over all 2N embeddings) adds the same
    regulariser.

    Raises
    ------
    ValueError
        ``positives`` of another shape than ``anchors``, inputs that are not 2-D, ``l2_reg < 0``,
        an unknown reduction, NaN inputs.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(n_pair(np.eye(2), np.eye(2))), 6)  # log(1 + e^{-1})
    0.313262
    """
    return apply_loss(N_PAIR, anchors, positives, reduction=reduction, l2_reg=l2_reg)


# ------------------------------------------------------------------------ softmax over a batch (shared)
#
# NT-Xent and SupCon: with u the normalised rows and S = u u^T / tau, every anchor i has
# positives P(i) with weights w_ip = 1/|P(i)| and
#     l_i = sum_p w_ip (lse_i - S_ip),  lse_i = logsumexp_{k != i} S_ik,
# each term a -log softmax, so l_i >= 0 term by term. Anchors with no positive have w_i = 0.
# dl_i/dS_ik = [P(i) nonempty] q_ik - w_ik with q_i the softmax over k != i; S is symmetric in
# the rows of u, so the gradient of u is (dS + dS^T) u / tau.


def _off_diagonal_lse(xp: Any, s: Any) -> Any:
    # the diagonal masked with -inf: e^{-inf} = 0 drops it exactly from the sum
    return xp.logsumexp(_mask_diagonal(xp, s), axis=1)


def _mask_diagonal(xp: Any, s: Any) -> Any:
    return xp.where(xp.eye(s.shape[0], dtype=bool), -math.inf, s)


def _similarities(xp: Any, z: Any, temperature: float) -> tuple[Any, Any, Any]:
    """The unit rows u, their norms r and S = u u^T / tau."""
    u, r = _normalize(xp, z)
    return u, r, xp.matmul(u, xp.transpose(u)) * (1.0 / temperature)


def _similarities_vjp(xp: Any, ds: Any, u: Any, r: Any, temperature: float) -> Any:
    """The gradient with respect to z from dl/dS, through S = u u^T / tau and u = z / |z|."""
    gu = xp.matmul(ds + xp.transpose(ds), u) * (1.0 / temperature)
    return _normalize_vjp(xp, gu, u, r)


def _off_diagonal_softmax(xp: Any, s: Any) -> Any:
    """q_ik, the softmax of row i of S over k != i: the diagonal is -inf before the exp
    (e^{s_ii - lse_i} could overflow for a small tau), so it comes out 0."""
    masked = _mask_diagonal(xp, s)
    return xp.exp(masked - xp.logsumexp(masked, axis=1, keepdims=True))


def _pair_softmax_forward(xp: Any, z: Any, w: Any, temperature: float) -> Any:
    _, _, s = _similarities(xp, z, temperature)
    lse = _off_diagonal_lse(xp, s)
    return xp.sum(w * (lse[:, None] - s), axis=1)


def _pair_softmax_vjp(xp: Any, g: Any, z: Any, w: Any, temperature: float) -> Any:
    u, r, s = _similarities(xp, z, temperature)
    anchored = w.sum(axis=1, keepdims=True)  # 1 where the anchor has a positive, else 0
    ds = g[:, None] * (_off_diagonal_softmax(xp, s) * anchored - w)
    return _similarities_vjp(xp, ds, u, r, temperature)


def _positive_weights(xp: Any, same: Any, dtype: Any) -> Any:
    """w_ip = 1/|P(i)| for the positives p of anchor i (``same`` with a False diagonal)."""
    count = same.sum(axis=1, keepdims=True)
    return (same / count.clip(1, None)).astype(dtype)


# ------------------------------------------------------------------------------------ NT-Xent


def _nt_xent_positives(xp: Any, z: Any) -> Any:
    """The positive of each anchor row: view i and view i + N, (2N,) indices."""
    n = xp.as_data(z).shape[0]
    return (xp.arange(n) + n // 2) % n


def _nt_xent_forward(xp: Any, z: Any, *, temperature: float) -> Any:
    # one positive per anchor, weight 1: lse_a - S_{a a+}, a gather rather than a dense sum
    _, _, s = _similarities(xp, z, temperature)
    positive = xp.take_along_axis(s, _nt_xent_positives(xp, z)[:, None], axis=1)[:, 0]
    return _off_diagonal_lse(xp, s) - positive


def _nt_xent_vjp(xp: Any, g: Any, z: Any, *, temperature: float) -> tuple[Any]:
    u, r, s = _similarities(xp, z, temperature)
    # dl_a/dS_ak = q_ak - [k = a+]: the positive of each anchor is its "label" among the columns
    ds = _subtract_at_labels(_off_diagonal_softmax(xp, s) * g[:, None], _nt_xent_positives(xp, z), g[:, None])
    return (_similarities_vjp(xp, ds, u, r, temperature),)


def _check_nt_xent(z: Any, *, temperature: float) -> None:
    _rows2("z", z)
    if z.shape[0] < 2 or z.shape[0] % 2:
        raise ValueError(
            f"z must hold 2N rows, views i and i + N of the same sample, so an even number >= 2, "
            f"got {z.shape[0]}"
        )
    _positive("temperature", temperature)


def _contrastive_edges(with_labels: bool) -> dict[str, Any]:
    import numpy as np

    labels = [np.array([0, 1, 0, 1, 2, 2])] if with_labels else []
    return {
        "identical embeddings": lambda rng: [np.ones((6, 3))] + labels,
        "views equal": lambda rng: [np.vstack([x := rng.standard_normal((3, 3)), x])] + labels,
        "zero embedding": lambda rng: [np.vstack([np.zeros((1, 3)), rng.standard_normal((5, 3))])] + labels,
        "entries of 1e4": lambda rng: [1e4 * rng.standard_normal((6, 3))] + labels,
    }


NT_XENT = register(
    LossSpec(
        name="nt_xent",
        family="metric",
        args=(Arg("z", "real", ("N", "D")),),
        forward=_nt_xent_forward,
        vjp=_nt_xent_vjp,
        params={"temperature": 0.5},
        check=_check_nt_xent,
        sizes={"N": 6},  # 2N rows: 3 pairs of views
        edge_cases=_contrastive_edges(with_labels=False),
        formula=(
            r"\ell_a = -\log \frac{e^{\mathrm{sim}(z_a, z_{a^+})/\tau}}{\sum_{k \ne a} e^{\mathrm{sim}(z_a, z_k)/\tau}}, "
            r"\quad a^+ = a \pm N, \quad \mathrm{sim} = \text{cosine}"
        ),
        reference="Chen et al. 2020 (SimCLR); pytorch-metric-learning NTXentLoss",
    )
)


def nt_xent(z: Any, temperature: float = 0.5, reduction: str = "mean") -> Any:
    r"""NT-Xent (normalised temperature-scaled cross entropy), the SimCLR loss.

    ``z`` holds two augmented views of N samples: rows :math:`i` and :math:`i + N` are the views
    of sample :math:`i`. Each of the 2N rows is an anchor whose positive :math:`a^+ = a \pm N` is
    the other view and whose negatives are the other :math:`2N - 2` rows:

    .. math::  \ell_a = -\log \frac{e^{S_{a a^+}}}{\sum_{k \ne a} e^{S_{ak}}}
               = \log \sum_{k \ne a} e^{S_{ak}} - S_{a a^+}, \qquad
               S_{ak} = \frac{\hat{z}_a \cdot \hat{z}_k}{\tau}

    with :math:`\hat{z}` the L2-normalised rows (cosine similarity; :math:`\epsilon = 10^{-12}`
    in the normalisation, see the module docstring). The self-similarity :math:`S_{aa}` is left
    out of the sum exactly. With :math:`q_a` the softmax of :math:`S_{a\cdot}` over
    :math:`k \ne a`,

    .. math::  \frac{\partial \ell_a}{\partial S_{ak}} = q_{ak} - [k = a^+], \qquad
               \nabla_{\hat{Z}} = (dS + dS^\top)\hat{Z} / \tau,

    then through the normalisation. ``'mean'`` is the mean over the 2N anchors, as in the paper.

    Parameters
    ----------
    z : array or Tensor, shape (2N, D)
        Both views stacked: ``concatenate([view1, view2])``. Differentiable.
    temperature : float
        :math:`\tau > 0` (default 0.5, SimCLR's choice for its batch sizes; PML and optax
        default to 0.07).
    reduction : {'mean', 'sum', 'none'}
        'none' gives one loss per anchor row, shape (2N,).

    pytorch-metric-learning's ``NTXentLoss(temperature=tau)`` on ``z`` with
    ``labels = concat(arange(N), arange(N))`` computes the same loss: its positive pairs are
    the two views, its negatives every pair of different labels, and its mean is over the 2N
    positive pairs. (It also accepts several views per label; here there are exactly two.)

    Raises
    ------
    ValueError
        ``z`` not 2-D or with an odd number of rows, ``temperature <= 0``, an unknown
        reduction, NaN inputs.

    Examples
    --------
    >>> import numpy as np
    >>> z = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    >>> round(float(nt_xent(z, temperature=1.0)), 6)  # log(e + 2) - 1
    0.551445
    """
    return apply_loss(NT_XENT, z, reduction=reduction, temperature=temperature)


# ------------------------------------------------------------------------------------ SupCon


def _supcon_weights(xp: Any, features: Any, labels: Any) -> Any:
    y = xp.as_data(labels)
    same = (y[:, None] == y[None, :]) & ~xp.eye(y.shape[0], dtype=bool)
    return _positive_weights(xp, same, xp.as_data(features).dtype)


def _supcon_forward(xp: Any, features: Any, labels: Any, *, temperature: float) -> Any:
    return _pair_softmax_forward(xp, features, _supcon_weights(xp, features, labels), temperature)


def _supcon_vjp(xp: Any, g: Any, features: Any, labels: Any, *, temperature: float) -> tuple[Any]:
    return (_pair_softmax_vjp(xp, g, features, _supcon_weights(xp, features, labels), temperature),)


def _supcon_reduction_weights(xp: Any, reduction: str, features: Any, labels: Any, **_: Any) -> Any:
    """'mean' over the anchors that have a positive; 0 (with a zero gradient) if none has."""
    anchored = _supcon_weights(xp, features, labels).sum(axis=1)
    return anchored / max(float(anchored.sum()), 1.0)


def _check_supcon(features: Any, labels: Any, *, temperature: float) -> None:
    _rows2("features", features)
    if features.shape[0] < 2:
        raise ValueError(f"features must have at least 2 rows (an anchor and a positive), got {features.shape[0]}")
    if labels.shape != (features.shape[0],):
        raise ValueError(f"labels must have shape ({features.shape[0]},), one per row of features, got {tuple(labels.shape)}")
    _positive("temperature", temperature)


SUPCON = register(
    LossSpec(
        name="supcon",
        family="metric",
        args=(Arg("features", "real", ("N", "D")), Arg("labels", "label", ("N",), differentiable=False)),
        forward=_supcon_forward,
        vjp=_supcon_vjp,
        params={"temperature": 0.07},
        check=_check_supcon,
        reduction_weights=_supcon_reduction_weights,
        edge_cases=_contrastive_edges(with_labels=True),
        formula=(
            r"\ell_i = -\frac{1}{|P(i)|} \sum_{p \in P(i)} \log \frac{e^{z_i \cdot z_p/\tau}}"
            r"{\sum_{a \ne i} e^{z_i \cdot z_a/\tau}}"
        ),
        reference="Khosla et al. 2020 (supervised contrastive, L_out); pytorch-metric-learning SupConLoss",
    )
)


def supcon(features: Any, labels: Any, temperature: float = 0.07, reduction: str = "mean") -> Any:
    r"""Supervised contrastive loss (Khosla et al. 2020, :math:`\mathcal{L}^{sup}_{out}`).

    Every row :math:`i` is an anchor; its positives :math:`P(i)` are the other rows with the
    same label, and the denominator runs over all other rows:

    .. math::  \ell_i = -\frac{1}{|P(i)|} \sum_{p \in P(i)}
               \log \frac{e^{S_{ip}}}{\sum_{a \ne i} e^{S_{ia}}}
               = \frac{1}{|P(i)|} \sum_{p \in P(i)} \Big(\log \sum_{a \ne i} e^{S_{ia}} - S_{ip}\Big),
               \qquad S_{ia} = \frac{\hat{z}_i \cdot \hat{z}_a}{\tau}

    with :math:`\hat{z}` the L2-normalised rows (:math:`\epsilon = 10^{-12}`, see the module
    docstring). The average over the positives sits *outside* the log (the paper's
    :math:`\mathcal{L}_{out}`, the better of its two variants). With :math:`q_i` the softmax of
    :math:`S_{i\cdot}` over :math:`a \ne i`,

    .. math::  \frac{\partial \ell_i}{\partial S_{ia}} = q_{ia} - \frac{[a \in P(i)]}{|P(i)|},

    then :math:`\nabla_{\hat{Z}} = (dS + dS^\top)\hat{Z}/\tau` and the normalisation.

    **Anchors with no positive** (a label seen once in the batch) have no term: their
    unreduced loss is 0 and ``'mean'`` averages over the anchors that have at least one positive
    (as pytorch-metric-learning's ``AvgNonZeroReducer`` does). If no anchor has a positive,
    ``'mean'`` is 0 with a zero gradient, never NaN (PML also returns 0; the reference
    implementation's ``mask.sum(1)`` division gives NaN there).

    Parameters
    ----------
    features : array or Tensor, shape (N, D)
        One row per view; several views of a sample simply share its label (the reference's
        (batch, views, D) flattened). Differentiable.
    labels : integer array, shape (N,)
    temperature : float
        :math:`\tau > 0` (default 0.07, the paper's; PML's ``SupConLoss`` defaults to 0.1). The
        reference implementation's extra factor :math:`\tau / \tau_{base}` (1 at the defaults)
        is not applied.
    reduction : {'mean', 'sum', 'none'}
        'none' gives one loss per anchor, shape (N,) (0 for anchors without a positive);
        'sum' adds them.

    Matches pytorch-metric-learning's ``SupConLoss(temperature=tau)`` (cosine similarity,
    ``AvgNonZeroReducer``) on the same ``features`` and ``labels``.

    Raises
    ------
    ValueError
        ``features`` not 2-D or with fewer than 2 rows, ``labels`` not of shape (N,),
        ``temperature <= 0``, an unknown reduction, NaN inputs.
    TypeError
        Non-integer labels.

    Examples
    --------
    >>> import numpy as np
    >>> f = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    >>> round(float(supcon(f, np.array([0, 0, 1]), temperature=1.0)), 6)  # log(e + 1) - 1
    0.313262
    """
    return apply_loss(SUPCON, features, labels, reduction=reduction, temperature=temperature)
