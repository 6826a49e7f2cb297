r"""Metric-learning losses: distances between embeddings, from explicit pairs and triplets or
mined from the labels of a batch.

Embeddings are rows, shape ``(N, D)``. The losses come in three kinds:

- **pairs** ``(x1, x2, y)``: :func:`contrastive` (Euclidean), :func:`cosine_embedding` and
  :func:`cosine_contrastive` (cosine similarity), :func:`margin_ranking` (scores, not embeddings);
- **triplets** ``(anchor, positive, negative)``: :func:`triplet`;
- **a batch with labels** ``(embeddings, labels)``: :func:`batch_triplet` (all, batch-hard or
  semi-hard triplets), :func:`lifted_structured`, and :func:`center` (with the class centres as an
  input, and :class:`CenterLoss` keeping them as state).

**Distances at zero.** The Euclidean distance :math:`\|a - b\|` has no derivative at
:math:`a = b`, and its naive gradient :math:`(a - b)/\|a - b\|` is :math:`0/0 = \mathrm{NaN}`
there. Every Euclidean distance of this module (except :func:`triplet`, which follows PyTorch) is

.. math::  d_\varepsilon(a, b) = \sqrt{\|a - b\|^2 + \varepsilon}, \qquad \varepsilon = 10^{-16}
           \;(\texttt{EPS}), \qquad \nabla_a d_\varepsilon = \frac{a - b}{d_\varepsilon},

the epsilon *inside* the square root: at :math:`a = b` the distance is :math:`10^{-8}` rather
than 0 and its gradient is exactly 0 (the minimum-norm subgradient) instead of NaN; elsewhere it
differs from the exact distance by :math:`\varepsilon / 2d` (:math:`5 \cdot 10^{-17}` at
:math:`d = 1`), and its gradient is the exact unit vector as soon as :math:`d \gg 10^{-8}`. Squared
distances need no epsilon. Pairwise distance matrices are computed from the differences
:math:`a_i - b_j` (memory :math:`N M D`, in the gradient too), not from
:math:`\|a\|^2 + \|b\|^2 - 2 a \cdot b`, whose cancellation can give small negative values and a
NaN square root.

**Normalisation.** Where a loss offers ``normalize=True`` (as pytorch-metric-learning does by
default), rows are divided by :math:`\sqrt{\|x\|^2 + \varepsilon}` (PyTorch's ``F.normalize``
divides by :math:`\max(\|x\|, 10^{-12})`; the two agree to a relative
:math:`\varepsilon / 2\|x\|^2`).

The helpers :func:`pairwise_distances`, :func:`row_distances`, :func:`l2_normalize` and
:func:`cosine_similarity`, each with its VJP, take the namespace ``xp`` first like the losses'
own functions, so other modules can build on them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from ..autograd import as_data
from ..numerics import array_namespace
from ._apply import apply_loss
from ._spec import Arg, LossSpec, register
from ._validate import same_shape

__all__ = [
    "contrastive",
    "cosine_embedding",
    "cosine_contrastive",
    "triplet",
    "batch_triplet",
    "margin_ranking",
    "center",
    "CenterLoss",
    "lifted_structured",
]

EPS = 1e-16  # added to squared Euclidean norms and distances before a square root
COSINE_EPS = 1e-12  # PyTorch's EPSILON in cosine_embedding_loss, added to each squared norm
PAIR_LABELS = ("similar=1", "similar=0")
STRATEGIES = ("all", "hard", "semi-hard")

# ------------------------------------------------------------------------------------ helpers


def l2_normalize(xp: Any, x: Any, eps: float = EPS) -> Any:
    r"""Rows scaled to unit length: :math:`u = x / \sqrt{\|x\|^2 + \varepsilon}` (a zero row stays 0)."""
    return x / xp.sqrt(xp.sum(x * x, axis=-1, keepdims=True) + eps)


def l2_normalize_vjp(xp: Any, g: Any, x: Any, eps: float = EPS) -> Any:
    r""":math:`(g - u\,(u \cdot g)) / n` with :math:`n = \sqrt{\|x\|^2 + \varepsilon}`: the Jacobian
    :math:`(I - u u^\top)/n` is exact with the epsilon too, since :math:`\partial n / \partial x = x / n`."""
    n = xp.sqrt(xp.sum(x * x, axis=-1, keepdims=True) + eps)
    u = x / n
    return (g - u * xp.sum(u * g, axis=-1, keepdims=True)) / n


def row_distances(xp: Any, a: Any, b: Any, squared: bool = False, eps: float = EPS) -> Any:
    r"""Distance between matching rows, shape ``(N,)``: :math:`\|a_i - b_i\|^2` or :math:`d_\varepsilon`."""
    diff = a - b
    s = xp.sum(diff * diff, axis=-1)
    return s if squared else xp.sqrt(s + eps)


def row_distances_vjp(xp: Any, g: Any, a: Any, b: Any, squared: bool = False, eps: float = EPS) -> tuple[Any, Any]:
    """Gradients with respect to ``a`` and ``b`` of ``sum(g * row_distances(a, b))``."""
    diff = a - b
    w = 2.0 * g if squared else g / row_distances(xp, a, b, False, eps)
    ga = xp.reshape(w, (-1, 1)) * diff
    return ga, -ga


def pairwise_distances(xp: Any, a: Any, b: Any, squared: bool = False, eps: float = EPS) -> Any:
    r"""Matrix ``(N, M)`` of :math:`\|a_i - b_j\|^2` (``squared``) or :math:`d_\varepsilon(a_i, b_j)`,
    from the exact differences (never negative before the square root)."""
    diff = xp.expand_dims(a, 1) - xp.expand_dims(b, 0)
    s = xp.sum(diff * diff, axis=-1)
    return s if squared else xp.sqrt(s + eps)


def pairwise_distances_vjp(xp: Any, g: Any, a: Any, b: Any, squared: bool = False, eps: float = EPS) -> tuple[Any, Any]:
    r"""Gradients of :math:`\sum_{ij} g_{ij} d_{ij}` with respect to ``a`` and ``b``.

    With :math:`w = g / d` (or :math:`2g` when squared),
    :math:`\nabla_{a_i} = \sum_j w_{ij}(a_i - b_j)` and :math:`\nabla_{b_j} = -\sum_i w_{ij}(a_i - b_j)`,
    summed over the differences themselves: the shorter :math:`(\sum_j w_{ij}) a_i - (w b)_i`
    cancels catastrophically where a pair is at zero distance (:math:`w = g / 10^{-8}`), an error
    of about :math:`10^{-8} \|a\|` where the exact contribution is 0.
    """
    diff = xp.expand_dims(a, 1) - xp.expand_dims(b, 0)
    w = 2.0 * g if squared else g / xp.sqrt(xp.sum(diff * diff, axis=-1) + eps)
    weighted = xp.expand_dims(w, 2) * diff
    return xp.sum(weighted, axis=1), -xp.sum(weighted, axis=0)


def cosine_similarity(xp: Any, a: Any, b: Any, eps: float = COSINE_EPS) -> Any:
    r"""Row-wise :math:`\cos = a \cdot b / \sqrt{(\|a\|^2 + \varepsilon)(\|b\|^2 + \varepsilon)}`,
    PyTorch's ``cosine_embedding_loss`` formula (a zero row gives 0, not NaN)."""
    m1 = xp.sum(a * a, axis=-1) + eps
    m2 = xp.sum(b * b, axis=-1) + eps
    return xp.sum(a * b, axis=-1) / xp.sqrt(m1 * m2)


def cosine_similarity_vjp(xp: Any, g: Any, a: Any, b: Any, eps: float = COSINE_EPS) -> tuple[Any, Any]:
    r""":math:`\nabla_a \cos = b / \sqrt{m_1 m_2} - \cos \cdot a / m_1` (and symmetrically for ``b``)."""
    m1 = xp.sum(a * a, axis=-1, keepdims=True) + eps
    m2 = xp.sum(b * b, axis=-1, keepdims=True) + eps
    den = xp.sqrt(m1 * m2)
    cos = xp.sum(a * b, axis=-1, keepdims=True) / den
    g = xp.reshape(g, (-1, 1))
    return g * (b / den - cos * a / m1), g * (a / den - cos * b / m2)


def _clamp_min0(xp: Any, z: Any) -> Any:
    """``max(z, 0)`` with PyTorch's ``clamp_min`` slope at the kink: 1 at z = 0 (relu has 0),
    so that losses PyTorch computes with ``clamp_min`` match it there too."""
    return xp.where(z >= 0, z, 0.0)


def _host(x: Any) -> np.ndarray:
    return np.asarray(backend.to_numpy(as_data(x)))


def _np() -> Any:
    return array_namespace(np)


def _raw(x: Any) -> Any:
    """The array namespace of ``x``'s data: for constants (masks, indices) even when ``xp`` is the
    Tensor namespace, so that they stay plain arrays."""
    return array_namespace(backend.get_array_module(as_data(x)))


def _check_margin(name: str, value: Any, low: float, strict: bool, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        raise TypeError(f"{name} must be a finite number, got {value!r}")
    if value < low or (strict and value == low):
        raise ValueError(f"{name} must be {what}, got {value}")


def _check_flag(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")


def _check_pairs(x1: Any, x2: Any, y: Any, *, what: str) -> None:
    if x1.ndim != 2:
        raise ValueError(f"x1 must be embeddings of shape (N, D), got shape {tuple(x1.shape)}")
    same_shape("x1", x1, "x2", x2)
    if tuple(y.shape) != (x1.shape[0],):
        raise ValueError(f"y must have shape ({x1.shape[0]},), one label per pair, got {tuple(y.shape)}")
    values = _host(y)
    if what == "binary" and values.size and not np.isin(values, (0, 1)).all():  # (the sign domain checks {-1, +1})
        raise ValueError(f"y must hold labels in {{0, 1}}, got values {sorted(set(values.ravel().tolist()))[:5]}")


def _check_batch(embeddings: Any, labels: Any, **_: Any) -> None:
    if embeddings.ndim != 2:
        raise ValueError(f"embeddings must have shape (N, D), got {tuple(embeddings.shape)}")
    if tuple(labels.shape) != (embeddings.shape[0],):
        raise ValueError(
            f"labels must have shape ({embeddings.shape[0]},), one per embedding, got {tuple(labels.shape)}"
        )


def _pair_masks(xp: Any, labels: Any) -> tuple[Any, Any]:
    """Constant ``(N, N)`` masks: positive pairs (same label, i != j) and negative pairs."""
    y = as_data(labels)
    rx = _raw(y)
    same = rx.expand_dims(y, 1) == rx.expand_dims(y, 0)
    eye = rx.eye(y.shape[0], dtype=bool)
    return same & ~eye, ~same


def _labelled_batch(rng: np.random.Generator, sizes: dict[str, int]) -> list[np.ndarray]:
    """Six embeddings in three classes of two, shuffled: every anchor has positives and negatives."""
    labels = rng.permutation(np.repeat(np.arange(3), 2))
    return [rng.standard_normal((6, sizes["D"])), labels]


def _batch_edges() -> dict[str, Any]:
    base = np.array(
        [[0.3, -0.2, 0.5], [0.3, -0.2, 0.5], [1.0, 0.4, -0.1], [1.0, 0.4, -0.1], [-0.6, 0.2, 0.9], [0.1, 0.1, 0.1]]
    )
    return {
        "identical embeddings within a class": lambda rng: [base.copy(), np.array([0, 0, 1, 1, 2, 2])],
        "all embeddings identical": lambda rng: [np.ones((5, 3)), np.array([0, 0, 1, 1, 2])],
        "no positive pair": lambda rng: [rng.standard_normal((4, 3)), np.array([0, 1, 2, 3])],
        "one class only": lambda rng: [rng.standard_normal((4, 3)), np.array([2, 2, 2, 2])],
        "distances of 1e3": lambda rng: [1e3 * rng.standard_normal((6, 3)), np.array([0, 0, 1, 1, 2, 2])],
    }


def _pair_edges(binary: bool) -> dict[str, Any]:
    lab = (lambda v: np.array(v, dtype=np.float64)) if binary else (lambda v: 2.0 * np.array(v, dtype=np.float64) - 1.0)
    x = np.array([[0.3, -0.2, 0.5], [1.0, 0.4, -0.1], [-0.6, 0.2, 0.9], [0.2, 0.2, 0.2]])
    return {
        "identical embeddings": lambda rng: [x.copy(), x.copy(), lab([1, 0, 1, 0])],
        "opposite embeddings": lambda rng: [x.copy(), -x, lab([1, 0, 1, 0])],
        "a zero embedding": lambda rng: [np.vstack([np.zeros(3), x[1:]]), x[::-1].copy(), lab([1, 0, 1, 0])],
        "embeddings of 1e4": lambda rng: [1e4 * x, -1e4 * x[::-1], lab([1, 0, 1, 0])],
    }


# ------------------------------------------------------------------------------------ contrastive


def _similar(xp: Any, y: Any, label_convention: str) -> Any:
    return as_data(y) == (1 if label_convention == "similar=1" else 0)


def _contrastive_parts(xp: Any, x1: Any, x2: Any, margin: float, pos_margin: float, power: int) -> tuple[Any, Any]:
    """The per-pair losses were the pair similar, and were it dissimilar."""
    s = row_distances(xp, x1, x2, squared=True)
    d = xp.sqrt(s + EPS)
    if pos_margin == 0:
        # the hinge max(0, d - 0) is d itself; use the exact squared distance for power 2
        pos = 0.5 * s if power == 2 else d
    else:
        h = xp.relu(d - pos_margin)
        pos = 0.5 * h * h if power == 2 else h
    hn = xp.relu(margin - d)
    neg = 0.5 * hn * hn if power == 2 else hn
    return pos, neg


def _contrastive_forward(
    xp: Any,
    x1: Any,
    x2: Any,
    y: Any,
    *,
    margin: float,
    pos_margin: float,
    power: int,
    label_convention: str,
    normalize: bool,
) -> Any:
    if normalize:
        x1, x2 = l2_normalize(xp, x1), l2_normalize(xp, x2)
    pos, neg = _contrastive_parts(xp, x1, x2, margin, pos_margin, power)
    return xp.where(_similar(xp, y, label_convention), pos, neg)


def _contrastive_vjp(
    xp: Any,
    g: Any,
    x1: Any,
    x2: Any,
    y: Any,
    *,
    margin: float,
    pos_margin: float,
    power: int,
    label_convention: str,
    normalize: bool,
) -> tuple[Any, Any]:
    u1, u2 = (l2_normalize(xp, x1), l2_normalize(xp, x2)) if normalize else (x1, x2)
    diff = u1 - u2
    d = row_distances(xp, u1, u2)
    dd = as_data(d)
    # d(loss)/d(d), divided by d (the chain factor (u1 - u2)/d), except for the exact 1/2 s term
    if pos_margin == 0:
        pos = _raw(dd).ones_like(dd) if power == 2 else 1.0 / d
    else:
        pos = (xp.relu(d - pos_margin) if power == 2 else (dd > pos_margin).astype(dd.dtype)) / d
    neg = -(xp.relu(margin - d) if power == 2 else (dd < margin).astype(dd.dtype)) / d
    coef = g * xp.where(_similar(xp, y, label_convention), pos, neg)
    g1 = xp.reshape(coef, (-1, 1)) * diff
    if normalize:
        return l2_normalize_vjp(xp, g1, x1), l2_normalize_vjp(xp, -g1, x2)
    return g1, -g1


def _contrastive_weights(xp: Any, reduction: str, x1: Any, x2: Any, y: Any, **params: Any) -> Any:
    if reduction == "mean":
        return 1.0 / max(x1.shape[0], 1)
    # avg_nonzero (pytorch-metric-learning's AvgNonZeroReducer): the mean of the positive pairs'
    # non-zero losses plus the mean of the negative pairs' non-zero losses
    loss = _contrastive_forward(xp, x1, x2, y, **params)
    similar = _similar(xp, y, params["label_convention"])
    pos, neg = (loss > 0) & similar, (loss > 0) & ~similar
    w = pos / max(int(pos.sum()), 1) + neg / max(int(neg.sum()), 1)
    return w.astype(x1.dtype)


def _contrastive_kinks(
    x1: Any, x2: Any, y: Any, *, margin: float, pos_margin: float, power: int, label_convention: str, normalize: bool
) -> Any:
    xp = _np()
    if normalize:
        x1, x2 = l2_normalize(xp, x1), l2_normalize(xp, x2)
    d = row_distances(xp, x1, x2)
    similar = _similar(xp, y, label_convention)
    far = np.abs(d - pos_margin) if pos_margin > 0 else np.full(d.shape, np.inf)
    return np.where(similar, far, np.abs(d - margin))


def _contrastive_sample(rng: np.random.Generator, sizes: dict[str, int]) -> list[np.ndarray]:
    # pairs at distances around the margin, so that both sides of the hinge are exercised
    x1 = rng.standard_normal((sizes["N"], sizes["D"]))
    return [x1, x1 + 0.6 * rng.standard_normal(x1.shape), rng.integers(0, 2, sizes["N"]).astype(np.float64)]


def _check_contrastive(x1: Any, x2: Any, y: Any, **_: Any) -> None:
    _check_pairs(x1, x2, y, what="binary")


CONTRASTIVE = register(
    LossSpec(
        name="contrastive",
        family="metric",
        args=(
            Arg("x1", "real", ("N", "D")),
            Arg("x2", "real", ("N", "D")),
            Arg("y", "binary", ("N",), differentiable=False),
        ),
        forward=_contrastive_forward,
        vjp=_contrastive_vjp,
        params={"margin": 1.0, "pos_margin": 0.0, "power": 2, "label_convention": "similar=1", "normalize": False},
        reductions=("mean", "sum", "none", "avg_nonzero"),
        reduction_weights=_contrastive_weights,
        check=_check_contrastive,
        kinks=_contrastive_kinks,
        sampler=_contrastive_sample,
        edge_cases=_pair_edges(binary=True),
        formula=r"\ell = y\,\tfrac{1}{p}\max(0, d - m^+)^p + (1 - y)\,\tfrac{1}{p}\max(0, m - d)^p,"
        r"\ d = \|x_1 - x_2\|, \ p = 2, m^+ = 0 \text{ (Hadsell)}",
        reference="Hadsell, Chopra & LeCun 2006; "
        "pytorch-metric-learning ContrastiveLoss (power=1, normalize, avg_nonzero)",
    )
)


def contrastive(
    x1: Any,
    x2: Any,
    y: Any,
    margin: float = 1.0,
    label_convention: str = "similar=1",
    pos_margin: float = 0.0,
    power: int = 2,
    normalize: bool = False,
    reduction: str = "mean",
) -> Any:
    r"""Contrastive loss of pairs of embeddings (Hadsell, Chopra & LeCun 2006).

    .. math::  \ell_i = y_i \, \tfrac12 d_i^2 + (1 - y_i) \, \tfrac12 \max(0, m - d_i)^2, \qquad
               d_i = \|x_{1,i} - x_{2,i}\|

    with :math:`y = 1` for a similar pair. Similar pairs are pulled together, dissimilar ones
    pushed apart until they are :math:`m` away. The gradient is
    :math:`\nabla_{x_1} \ell = (x_1 - x_2)` for a similar pair and
    :math:`-\max(0, m - d)\,(x_1 - x_2)/d` for a dissimilar one; :math:`\nabla_{x_2} = -\nabla_{x_1}`.
    In general, with a positive margin :math:`m^+` and a power :math:`p \in \{1, 2\}`,

    .. math::  \ell_i = y_i \, \tfrac1p \max(0, d_i - m^+)^p + (1 - y_i) \, \tfrac1p \max(0, m - d_i)^p.

    The distance is :math:`d_\varepsilon = \sqrt{\|x_1 - x_2\|^2 + \varepsilon}` (module
    docstring), so identical dissimilar embeddings get a zero gradient, not NaN; the
    :math:`\tfrac12 d^2` term (:math:`m^+ = 0`, :math:`p = 2`) uses the exact squared distance and
    is exactly 0 at identical embeddings.

    Parameters
    ----------
    x1, x2 : array or Tensor, shape (N, D)
        The two embeddings of each pair (no broadcasting).
    y : array, shape (N,)
        Pair labels in {0, 1} (a constant).
    margin : float, positive
        :math:`m`, the distance beyond which a dissimilar pair costs nothing.
    label_convention : {'similar=1', 'similar=0'}
        Which label marks a similar pair. Hadsell et al. (and seed 001) use ``y = 1`` for similar
        pairs; seeds 002 and 003 write :math:`(1 - Y) D^2 + Y \max(0, m - D)^2` with ``Y = 0``
        for similar pairs: pass ``'similar=0'`` for theirs.
    pos_margin : float, non-negative, below ``margin``
        :math:`m^+`: similar pairs closer than this cost nothing (0 in Hadsell et al.).
    power : {2, 1}
        2: the squared hinges with their :math:`\tfrac12` (Hadsell); 1: plain hinges
        :math:`\max(0, d - m^+)` and :math:`\max(0, m - d)` (pytorch-metric-learning).
    normalize : bool
        L2-normalise the rows first (:math:`x / \sqrt{\|x\|^2 + \varepsilon}`).
    reduction : {'mean', 'sum', 'none', 'avg_nonzero'}
        'mean' averages over the N pairs. 'avg_nonzero' is pytorch-metric-learning's
        ``AvgNonZeroReducer``: the mean of the similar pairs' non-zero losses **plus** the mean of
        the dissimilar pairs' non-zero losses (0 where a group has none).

    Other libraries
    ---------------
    PyTorch has no contrastive loss. pytorch-metric-learning's ``ContrastiveLoss(pos_margin,
    neg_margin)`` is ``contrastive(x1, x2, y, margin=neg_margin, pos_margin=pos_margin, power=1,
    normalize=True, reduction='avg_nonzero')`` when given the pairs as an ``indices_tuple`` over
    ``concat(x1, x2)`` (its defaults: ``pos_margin=0``, ``neg_margin=1``, ``LpDistance`` on
    normalised embeddings, plain not squared distance). Called with labels instead, it forms
    every pair of the batch; pass those pairs explicitly here. Identical embeddings are at
    distance 0 there and :math:`10^{-8}` here, so with ``power=1`` an identical similar pair costs
    :math:`10^{-8}` here and counts as non-zero for 'avg_nonzero'.

    Raises
    ------
    ValueError
        Shapes that differ or are not (N, D) and (N,), labels outside {0, 1}, a margin that is not
        positive, ``pos_margin`` negative or not below ``margin``, an unknown ``power``,
        ``label_convention`` or ``reduction``.

    Examples
    --------
    >>> import numpy as np
    >>> x1, x2 = np.array([[0.0, 0.0], [0.0, 0.0]]), np.array([[0.6, 0.8], [0.3, 0.4]])
    >>> float(contrastive(x1, x2, np.array([1, 0])))  # (0.5 + 0.5 * 0.5**2) / 2
    0.3125
    """
    _check_margin("margin", margin, 0.0, True, "positive")
    _check_margin("pos_margin", pos_margin, 0.0, False, "non-negative")
    if pos_margin >= margin:
        raise ValueError(f"pos_margin must be below margin ({margin}), got {pos_margin}")
    if power not in (1, 2) or isinstance(power, bool):
        raise ValueError(f"power must be 1 or 2, got {power!r}")
    if label_convention not in PAIR_LABELS:
        raise ValueError(
            f"label_convention must be one of {', '.join(map(repr, PAIR_LABELS))}, got {label_convention!r}"
        )
    _check_flag("normalize", normalize)
    return apply_loss(
        CONTRASTIVE, x1, x2, y, reduction=reduction, margin=float(margin), pos_margin=float(pos_margin),
        power=power, label_convention=label_convention, normalize=normalize,
    )  # fmt: skip


# ------------------------------------------------------------------------------------ cosine embedding


def _cosine_embedding_forward(xp: Any, x1: Any, x2: Any, y: Any, *, margin: float) -> Any:
    cos = cosine_similarity(xp, x1, x2)
    return xp.where(as_data(y) > 0, 1.0 - cos, _clamp_min0(xp, cos - margin))


def _cosine_embedding_vjp(xp: Any, g: Any, x1: Any, x2: Any, y: Any, *, margin: float) -> tuple[Any, Any]:
    cos = as_data(cosine_similarity(xp, x1, x2))
    # d loss / d cos: -1 for similar pairs; 1 past the margin for dissimilar ones (1 at it, as clamp_min)
    rx = _raw(cos)
    slope = rx.where(as_data(y) > 0, -1.0, rx.where(cos - margin >= 0, 1.0, 0.0)).astype(cos.dtype)
    return cosine_similarity_vjp(xp, g * slope, x1, x2)


def _cosine_embedding_kinks(x1: Any, x2: Any, y: Any, *, margin: float) -> Any:
    cos = cosine_similarity(np, x1, x2)
    return np.where(y > 0, np.inf, np.abs(cos - margin))


def _check_sign_pairs(x1: Any, x2: Any, y: Any, **_: Any) -> None:
    _check_pairs(x1, x2, y, what="sign")


COSINE_EMBEDDING = register(
    LossSpec(
        name="cosine_embedding",
        family="metric",
        args=(
            Arg("x1", "real", ("N", "D")),
            Arg("x2", "real", ("N", "D")),
            Arg("y", "sign", ("N",), differentiable=False),
        ),
        forward=_cosine_embedding_forward,
        vjp=_cosine_embedding_vjp,
        params={"margin": 0.0},
        check=_check_sign_pairs,
        kinks=_cosine_embedding_kinks,
        edge_cases=_pair_edges(binary=False),
        formula=r"\ell = \begin{cases} 1 - \cos(x_1, x_2) & y = 1 \\ \max(0, \cos(x_1, x_2) - m) & y = -1 \end{cases}",
        reference="torch.nn.functional.cosine_embedding_loss",
        torch="cosine_embedding_loss",
    )
)


def cosine_embedding(x1: Any, x2: Any, y: Any, margin: float = 0.0, reduction: str = "mean") -> Any:
    r"""Cosine embedding loss: similar pairs toward cosine 1, dissimilar ones below the margin.

    .. math::  \ell_i = \begin{cases} 1 - \cos_i & y_i = 1 \\ \max(0, \cos_i - m) & y_i = -1 \end{cases},
               \qquad \cos_i = \frac{x_{1,i} \cdot x_{2,i}}
               {\sqrt{(\|x_{1,i}\|^2 + \varepsilon)(\|x_{2,i}\|^2 + \varepsilon)}}

    with :math:`\varepsilon = 10^{-12}` (PyTorch's, so a zero embedding gives cosine 0, not NaN),
    and :math:`\nabla_{x_1} \cos = x_2 / \sqrt{m_1 m_2} - \cos \, x_1 / m_1` where
    :math:`m_k = \|x_k\|^2 + \varepsilon`.

    Parameters
    ----------
    x1, x2 : array or Tensor, shape (N, D)
    y : array, shape (N,), values in {-1, +1}
    margin : float in [-1, 1]
    reduction : {'mean', 'sum', 'none'}

    Matches ``torch.nn.functional.cosine_embedding_loss`` (values and gradients, its epsilon
    included; at :math:`\cos = m` the slope is 1, as its ``clamp_min``). PyTorch also accepts 1-D
    inputs and does not check the margin; nploss wants (N, D) and refuses margins outside [-1, 1]
    (no cosine lies beyond them).

    Examples
    --------
    >>> import numpy as np
    >>> x1, x2 = np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([[0.0, 2.0], [1.0, 1.0]])
    >>> round(float(cosine_embedding(x1, x2, np.array([1, -1]))), 6)  # (1 + 0.7071) / 2
    0.853553
    """
    _check_margin("margin", margin, -1.0, False, "in [-1, 1]")
    if margin > 1:
        raise ValueError(f"margin must be in [-1, 1], got {margin}")
    return apply_loss(COSINE_EMBEDDING, x1, x2, y, reduction=reduction, margin=float(margin))


# ------------------------------------------------------------------------------------ cosine contrastive


def _cosine_contrastive_forward(xp: Any, x1: Any, x2: Any, y: Any, *, delta: float) -> Any:
    cos = cosine_similarity(xp, x1, x2)
    h = xp.relu(cos - delta)
    return xp.where(as_data(y) == 1, 1.0 - cos, h * h)


def _cosine_contrastive_vjp(xp: Any, g: Any, x1: Any, x2: Any, y: Any, *, delta: float) -> tuple[Any, Any]:
    cos = cosine_similarity(xp, x1, x2)
    slope = xp.where(as_data(y) == 1, -1.0, 2.0 * xp.relu(cos - delta))
    return cosine_similarity_vjp(xp, g * slope, x1, x2)


def _cosine_contrastive_kinks(x1: Any, x2: Any, y: Any, *, delta: float) -> Any:
    cos = cosine_similarity(np, x1, x2)
    return np.where(y == 1, np.inf, np.abs(cos - delta))


COSINE_CONTRASTIVE = register(
    LossSpec(
        name="cosine_contrastive",
        family="metric",
        args=(
            Arg("x1", "real", ("N", "D")),
            Arg("x2", "real", ("N", "D")),
            Arg("y", "binary", ("N",), differentiable=False),
        ),
        forward=_cosine_contrastive_forward,
        vjp=_cosine_contrastive_vjp,
        params={"delta": 0.5},
        check=_check_contrastive,
        kinks=_cosine_contrastive_kinks,
        edge_cases=_pair_edges(binary=True),
        formula=r"\ell = y\,(1 - \cos(x_1, x_2)) + (1 - y)\max(0, \cos(x_1, x_2) - \delta)^2",
        reference="seed 004 section 5 (cosine contrastive, sentence-transformers style)",
    )
)


def cosine_contrastive(x1: Any, x2: Any, y: Any, delta: float = 0.5, reduction: str = "mean") -> Any:
    r"""Cosine contrastive loss: similar pairs toward cosine 1, dissimilar ones below :math:`\delta`.

    .. math::  \ell_i = y_i (1 - \cos_i) + (1 - y_i) \max(0, \cos_i - \delta)^2, \qquad
               \frac{\partial \ell_i}{\partial \cos_i} = \begin{cases} -1 & y_i = 1 \\
               2 \max(0, \cos_i - \delta) & y_i = 0 \end{cases}

    with the cosine of :func:`cosine_embedding` (:math:`\varepsilon = 10^{-12}` in each squared
    norm) and :math:`y = 1` for a similar pair. The formula is seed 004's, which squares the
    hinge (a smooth push) but not the similar term.

    Parameters
    ----------
    x1, x2 : array or Tensor, shape (N, D)
    y : array, shape (N,), values in {0, 1}
    delta : float in [-1, 1]
        Dissimilar pairs with a cosine below it cost nothing. The default 0.5 corresponds to
        sentence-transformers' ``ContrastiveLoss`` margin of 0.5 on the cosine distance
        :math:`1 - \cos` (which, unlike this loss, squares and halves both terms).
    reduction : {'mean', 'sum', 'none'}

    Examples
    --------
    >>> import numpy as np
    >>> x1, x2 = np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([[1.0, 1.0], [1.0, 0.0]])
    >>> round(float(cosine_contrastive(x1, x2, np.array([1, 0]))), 6)  # ((1 - 0.7071) + 0.25) / 2
    0.271447
    """
    _check_margin("delta", delta, -1.0, False, "in [-1, 1]")
    if delta > 1:
        raise ValueError(f"delta must be in [-1, 1], got {delta}")
    return apply_loss(COSINE_CONTRASTIVE, x1, x2, y, reduction=reduction, delta=float(delta))


# ------------------------------------------------------------------------------------ triplet


def _pnorm(xp: Any, v: Any, p: float, squared: bool) -> Any:
    r""":math:`\|v\|_p` (or its square) along the last axis. At v = 0 the root has an infinite
    slope; the inner ``where`` keeps that slope out of the (composite) gradient, which is then 0
    there, as PyTorch's ``norm`` backward."""
    if p == 2:
        s = xp.sum(v * v, axis=-1)
        if squared:
            return s
        nz = as_data(s) > 0
        return xp.where(nz, xp.sqrt(xp.where(nz, s, 1.0)), 0.0)
    t = xp.sum(xp.abs(v) ** p, axis=-1)
    nz = as_data(t) > 0
    return xp.where(nz, xp.where(nz, t, 1.0) ** ((2.0 if squared else 1.0) / p), 0.0)


def _pnorm_grad(xp: Any, v: Any, p: float, squared: bool) -> Any:
    r""":math:`\nabla_v \|v\|_p = \mathrm{sign}(v) |v|^{p-1} / \|v\|_p^{p-1}`; times :math:`2\|v\|_p` when
    squared; 0 at v = 0."""
    if p == 2 and squared:
        return 2.0 * v
    d = xp.reshape(_pnorm(xp, v, p, False), (-1, 1))
    safe = xp.where(as_data(d) > 0, d, 1.0)  # v = 0 where d = 0, so the gradient is 0 there
    unit = v / safe if p == 2 else xp.sign(v) * xp.abs(v) ** (p - 1) / safe ** (p - 1)
    return 2.0 * d * unit if squared else unit


def _triplet_differences(anchor: Any, positive: Any, negative: Any, eps: float) -> tuple[Any, Any, Any]:
    # PyTorch's pairwise_distance: eps is added to the difference itself, not under a square root
    return anchor - positive + eps, anchor - negative + eps, positive - negative + eps


def _triplet_forward(
    xp: Any,
    anchor: Any,
    positive: Any,
    negative: Any,
    *,
    margin: float,
    p: float,
    eps: float,
    swap: bool,
    squared: bool,
) -> Any:
    vp, vn, vs = _triplet_differences(anchor, positive, negative, eps)
    dp, dn = _pnorm(xp, vp, p, squared), _pnorm(xp, vn, p, squared)
    if swap:
        dn = xp.minimum(dn, _pnorm(xp, vs, p, squared))
    return _clamp_min0(xp, margin + dp - dn)


def _triplet_vjp(
    xp: Any,
    g: Any,
    anchor: Any,
    positive: Any,
    negative: Any,
    *,
    margin: float,
    p: float,
    eps: float,
    swap: bool,
    squared: bool,
) -> tuple[Any, Any, Any]:
    vp, vn, vs = _triplet_differences(anchor, positive, negative, eps)
    dp, dan = as_data(_pnorm(xp, vp, p, squared)), as_data(_pnorm(xp, vn, p, squared))
    rx = _raw(dp)
    share: Any = 1.0  # the part of the cotangent of min(d(a,n), d(p,n)) that goes to d(a,n)
    dn = dan
    if swap:
        dpn = as_data(_pnorm(xp, vs, p, squared))
        share = rx.where(dan < dpn, 1.0, rx.where(dan == dpn, 0.5, 0.0)).astype(dan.dtype).reshape(-1, 1)
        dn = rx.minimum(dan, dpn)
    active = (margin + dp - dn >= 0).astype(dan.dtype)  # clamp_min: slope 1 at 0
    c = xp.reshape(g * active, (-1, 1))
    gp_ = c * _pnorm_grad(xp, vp, p, squared)
    gn_ = c * share * _pnorm_grad(xp, vn, p, squared)
    if not swap:
        return gp_ - gn_, -gp_, gn_
    gs_ = c * (1.0 - share) * _pnorm_grad(xp, vs, p, squared)
    return gp_ - gn_, -gp_ - gs_, gn_ + gs_


def _triplet_kinks(
    anchor: Any, positive: Any, negative: Any, *, margin: float, p: float, eps: float, swap: bool, squared: bool
) -> Any:
    xp = _np()
    vp, vn, vs = _triplet_differences(anchor, positive, negative, eps)
    dp, dan, dpn = (_pnorm(xp, v, p, squared) for v in (vp, vn, vs))
    dn = np.minimum(dan, dpn) if swap else dan
    kinks = [np.abs(margin + dp - dn)]
    if swap:
        kinks.append(np.abs(dan - dpn))
    if p != 2:  # |v|^p is not smooth (p = 1) or not twice differentiable (p < 2) at v = 0
        kinks += [np.abs(v).min(axis=-1) for v in (vp, vn, vs)]
    return np.concatenate(kinks)


def _check_triplet(anchor: Any, positive: Any, negative: Any, **_: Any) -> None:
    if anchor.ndim != 2:
        raise ValueError(f"anchor must be embeddings of shape (N, D), got shape {tuple(anchor.shape)}")
    same_shape("anchor", anchor, "positive", positive)
    same_shape("anchor", anchor, "negative", negative)


def _triplet_edges() -> dict[str, Any]:
    x = np.array([[0.3, -0.2, 0.5], [1.0, 0.4, -0.1], [-0.6, 0.2, 0.9]])
    return {
        "anchor = positive": lambda rng: [x.copy(), x.copy(), x[::-1].copy()],
        "anchor = negative": lambda rng: [x.copy(), x[::-1].copy(), x.copy()],
        "all identical": lambda rng: [x.copy(), x.copy(), x.copy()],
        "embeddings of 1e4": lambda rng: [1e4 * x, -1e4 * x, 1e4 * x[::-1]],
    }


TRIPLET_ARGS = tuple(Arg(n, "real", ("N", "D")) for n in ("anchor", "positive", "negative"))

TRIPLET = register(
    LossSpec(
        name="triplet",
        family="metric",
        args=TRIPLET_ARGS,
        forward=_triplet_forward,
        vjp=_triplet_vjp,
        params={"margin": 1.0, "p": 2.0, "eps": 1e-6, "swap": False, "squared": False},
        check=_check_triplet,
        kinks=_triplet_kinks,
        edge_cases=_triplet_edges(),
        formula=r"\ell = \max(0, m + d(a, p) - d(a, n)), \ d(x, y) = \|x - y + \epsilon\|_p",
        reference="Schroff et al. 2015 (FaceNet, squared=True); torch.nn.functional.triplet_margin_loss",
        torch="triplet_margin_loss",
    )
)


def triplet(
    anchor: Any,
    positive: Any,
    negative: Any,
    margin: float = 1.0,
    p: float = 2.0,
    eps: float = 1e-6,
    swap: bool = False,
    squared: bool = False,
    reduction: str = "mean",
) -> Any:
    r"""Triplet margin loss: the positive closer to the anchor than the negative, by a margin.

    .. math::  \ell_i = \max(0, m + d(a_i, p_i) - d(a_i, n_i)), \qquad
               d(x, y) = \|x - y + \epsilon\|_p, \qquad
               \nabla_v \|v\|_p = \frac{\mathrm{sign}(v)\,|v|^{p-1}}{\|v\|_p^{p-1}}

    so that, where the hinge is active, :math:`\nabla_a \ell = \nabla d(a, p) - \nabla d(a, n)`,
    :math:`\nabla_p \ell = -\nabla d(a, p)` and :math:`\nabla_n \ell = \nabla d(a, n)`.

    Parameters
    ----------
    anchor, positive, negative : array or Tensor, shape (N, D)
    margin : float, positive
    p : float >= 1
        The norm's degree.
    eps : float, non-negative
        Added to every component of the difference, as PyTorch's ``pairwise_distance`` does:
        at ``anchor == positive`` the distance is :math:`\epsilon D^{1/p}`, not 0, so the gradient
        is finite (not the epsilon-under-the-root of the module docstring).
    swap : bool
        Distance swap (Balntas et al. 2016): use :math:`\min(d(a, n), d(p, n))` as the negative
        distance. At a tie the cotangent is shared equally, as ``torch.min``.
    squared : bool
        Use :math:`d^2` for both distances, as FaceNet (Schroff et al. 2015, with margin 0.2 on
        normalised embeddings). Not in PyTorch.
    reduction : {'mean', 'sum', 'none'}

    Matches ``torch.nn.functional.triplet_margin_loss`` (values and gradients; at the kink
    :math:`m + d_p - d_n = 0` the slope is 1, as its ``clamp_min``). PyTorch broadcasts
    mismatched shapes and accepts 1-D inputs; nploss wants three (N, D) arrays of one shape.

    Examples
    --------
    >>> import numpy as np
    >>> a, pos, neg = np.zeros((1, 2)), np.array([[3.0, 4.0]]), np.array([[0.0, 5.5]])
    >>> round(float(triplet(a, pos, neg, eps=0.0)), 6)  # 1 + 5 - 5.5
    0.5
    """
    _check_margin("margin", margin, 0.0, True, "positive (as in PyTorch)")
    _check_margin("p", p, 1.0, False, ">= 1 (a norm)")
    _check_margin("eps", eps, 0.0, False, "non-negative")
    _check_flag("swap", swap)
    _check_flag("squared", squared)
    return apply_loss(
        TRIPLET, anchor, positive, negative, reduction=reduction, margin=float(margin), p=float(p), eps=float(eps),
        swap=swap, squared=squared,
    )  # fmt: skip


# ------------------------------------------------------------------------------------ batch triplet


def _mine(xp: Any, dist: Any, labels: Any, strategy: str, margin: float) -> dict[str, Any]:
    """The triplets a strategy selects, from the (constant) distance matrix: not differentiated.

    'all' and 'semi-hard' give an (N, N, N) mask over (anchor, positive, negative); 'hard' gives
    one positive and one negative index per anchor and a mask of the anchors that have both.
    """
    dist = as_data(dist)
    xp = _raw(dist)
    pos, neg = _pair_masks(xp, labels)
    if strategy == "hard":
        far = xp.where(pos, dist, -np.inf).argmax(axis=1)  # the hardest (farthest) positive
        near = xp.where(neg, dist, np.inf).argmin(axis=1)  # the hardest (closest) negative
        return {"positive": far, "negative": near, "valid": pos.any(axis=1) & neg.any(axis=1)}
    valid = xp.expand_dims(pos, 2) & xp.expand_dims(neg, 1)
    if strategy == "semi-hard":
        gap = xp.expand_dims(dist, 1) - xp.expand_dims(dist, 2)  # d(a, n) - d(a, p) at [a, p, n]
        valid = valid & (gap > 0) & (gap <= margin)
    return {"mask": valid}


def _onehot(index: Any, n: int, dtype: Any) -> Any:
    rx = _raw(index)
    return (rx.expand_dims(index, 1) == rx.expand_dims(rx.arange(n), 0)).astype(dtype)


def _bt_embed(xp: Any, embeddings: Any, normalize: bool) -> Any:
    return l2_normalize(xp, embeddings) if normalize else embeddings


def _bt_violations(xp: Any, dist: Any, mined: dict[str, Any], margin: float) -> Any:
    """m + d(a, p) - d(a, n): an (N, N, N) array for the masked strategies, (N,) for 'hard'."""
    if "mask" in mined:
        n = dist.shape[0]
        return xp.reshape(dist, (n, n, 1)) - xp.reshape(dist, (n, 1, n)) + margin
    rows = _raw(mined["positive"]).arange(dist.shape[0])
    return dist[rows, mined["positive"]] - dist[rows, mined["negative"]] + margin


def _batch_triplet_forward(
    xp: Any, embeddings: Any, labels: Any, *, margin: float, strategy: str, squared: bool, normalize: bool
) -> Any:
    x = _bt_embed(xp, embeddings, normalize)
    dist = pairwise_distances(xp, x, x, squared)
    mined = _mine(xp, dist, labels, strategy, margin)
    z = _bt_violations(xp, dist, mined, margin)
    if "mask" in mined:
        return xp.sum(xp.where(mined["mask"], xp.relu(z), 0.0), axis=(1, 2))
    return xp.where(mined["valid"], xp.relu(z), 0.0)


def _batch_triplet_vjp(
    xp: Any, g: Any, embeddings: Any, labels: Any, *, margin: float, strategy: str, squared: bool, normalize: bool
) -> tuple[Any]:
    x = _bt_embed(xp, embeddings, normalize)
    dist = pairwise_distances(xp, x, x, squared)
    n = dist.shape[0]
    mined = _mine(xp, dist, labels, strategy, margin)
    z = as_data(_bt_violations(xp, dist, mined, margin))
    if "mask" in mined:
        # each selected violated triplet adds g_a to d(a, p) and -g_a to d(a, n)
        c = xp.where(mined["mask"] & (z > 0), xp.reshape(g, (n, 1, 1)), 0.0)
        grad_d = xp.sum(c, axis=2) - xp.sum(c, axis=1)
    else:
        c = xp.reshape(xp.where(mined["valid"] & (z > 0), g, 0.0), (n, 1))
        grad_d = c * (_onehot(mined["positive"], n, z.dtype) - _onehot(mined["negative"], n, z.dtype))
    ga, gb = pairwise_distances_vjp(xp, grad_d, x, x, squared)
    gx = ga + gb
    return (l2_normalize_vjp(xp, gx, embeddings) if normalize else gx,)


def _batch_triplet_counts(
    xp: Any, embeddings: Any, labels: Any, margin: float, strategy: str, squared: bool, normalize: bool
) -> tuple[int, int]:
    """(selected triplets, selected triplets with a positive loss)."""
    x = _bt_embed(xp, embeddings, normalize)
    dist = pairwise_distances(xp, x, x, squared)
    mined = _mine(xp, dist, labels, strategy, margin)
    z = _bt_violations(xp, dist, mined, margin)
    mask = mined.get("mask", mined.get("valid"))
    return int(mask.sum()), int((mask & (z > 0)).sum())


def _batch_triplet_weights(
    xp: Any,
    reduction: str,
    embeddings: Any,
    labels: Any,
    *,
    margin: float,
    strategy: str,
    squared: bool,
    normalize: bool,
) -> float:
    selected, violated = _batch_triplet_counts(xp, embeddings, labels, margin, strategy, squared, normalize)
    # no triplet (or none violated): the loss is a documented 0, not 0/0
    return 1.0 / max(selected if reduction == "mean" else violated, 1)


def _batch_triplet_kinks(
    embeddings: Any, labels: Any, *, margin: float, strategy: str, squared: bool, normalize: bool
) -> Any:
    xp = _np()
    x = _bt_embed(xp, embeddings, normalize)
    dist = pairwise_distances(xp, x, x, squared)
    pos, neg = _pair_masks(xp, labels)
    valid = pos[:, :, None] & neg[:, None, :]
    z = dist[:, :, None] - dist[:, None, :] + margin
    if strategy == "all":
        return np.abs(z[valid])
    if strategy == "semi-hard":  # the selection jumps where d(a, n) - d(a, p) crosses 0 or the margin
        return np.concatenate([np.abs(z[valid] - margin), np.abs(z[valid])])
    mined = _mine(xp, dist, labels, strategy, margin)
    kinks = [np.abs(_bt_violations(xp, dist, mined, margin))[mined["valid"]]]
    for mask, sign in ((pos, -1.0), (neg, 1.0)):  # ties for the hardest positive or negative
        ranked = np.sort(np.where(mask, sign * dist, np.inf), axis=1)
        two = mask.sum(axis=1) >= 2
        kinks.append(ranked[two, 1] - ranked[two, 0])
    return np.concatenate(kinks)


BATCH_TRIPLET = register(
    LossSpec(
        name="batch_triplet",
        family="metric",
        args=(Arg("embeddings", "real", ("N", "D")), Arg("labels", "label", ("N",), differentiable=False)),
        forward=_batch_triplet_forward,
        vjp=_batch_triplet_vjp,
        params={"margin": 1.0, "strategy": "all", "squared": False, "normalize": False},
        reductions=("mean", "sum", "none", "avg_nonzero"),
        reduction_weights=_batch_triplet_weights,
        check=_check_batch,
        kinks=_batch_triplet_kinks,
        sampler=_labelled_batch,
        edge_cases=_batch_edges(),
        formula=r"\ell_a = \sum_{(p, n) \in T(a)} \max(0, m + d_{ap} - d_{an}),"
        r"\ T(a) \text{ mined: all, hard, semi-hard}",
        reference="Hermans, Beyer & Leibe 2017 (batch-hard); Schroff et al. 2015 (semi-hard); "
        "pytorch-metric-learning TripletMarginLoss with BatchHardMiner / TripletMarginMiner",
    )
)


def batch_triplet(
    embeddings: Any,
    labels: Any,
    margin: float = 1.0,
    strategy: str = "all",
    squared: bool = False,
    normalize: bool = False,
    reduction: str = "mean",
) -> Any:
    r"""Triplet loss over the triplets mined from the labels of a batch.

    With :math:`d_{ij}` the distances between the embeddings (:math:`d_\varepsilon`, or squared),
    a valid triplet :math:`(a, p, n)` has :math:`y_p = y_a`, :math:`p \ne a`, :math:`y_n \ne y_a`;
    its loss is :math:`\max(0, m + d_{ap} - d_{an})`. The strategy selects the triplets
    :math:`T`:

    - ``'all'``: every valid triplet;
    - ``'hard'`` (batch-hard, Hermans et al. 2017): for each anchor, its farthest positive and its
      closest negative, one triplet per anchor that has both;
    - ``'semi-hard'``: the valid triplets whose negative is farther than the positive but within
      the margin, :math:`0 < d_{an} - d_{ap} \le m` (pytorch-metric-learning's
      ``TripletMarginMiner(type_of_triplets="semihard")``; every such triplet, not only the
      closest semi-hard negative of each positive pair as Schroff et al. 2015 and TensorFlow's
      ``triplet_semihard_loss``, which also fall back to the farthest negative when none is
      semi-hard).

    The selection is made on the current distances and **not differentiated**: the gradient is
    that of the selected triplets' losses, :math:`+1` on :math:`d_{ap}` and :math:`-1` on
    :math:`d_{an}` for each violated one, through
    :math:`\nabla_{x_a} d_{ab} = (x_a - x_b) / d_{ab}`.

    Parameters
    ----------
    embeddings : array or Tensor, shape (N, D)
    labels : integer array, shape (N,), non-negative (any identities; only equality matters)
    margin : float, non-negative
    strategy : {'all', 'hard', 'semi-hard'}
    squared : bool
        Squared Euclidean distances (FaceNet) instead of :math:`d_\varepsilon`.
    normalize : bool
        L2-normalise the embeddings first (pytorch-metric-learning's default distance does).
    reduction : {'mean', 'sum', 'none', 'avg_nonzero'}
        'none' gives one value per anchor, the **sum** of the losses of its selected triplets
        (0 for an anchor without any); 'mean' is the total over the number of selected
        triplets (for 'hard', the number of anchors with a positive and a negative); 'sum' the
        total; 'avg_nonzero' the total over the number of selected triplets with a positive loss
        (pytorch-metric-learning's ``AvgNonZeroReducer``, its default for this loss). A batch
        without any selected triplet (no positive pair, a single class) gives 0, not NaN.

    pytorch-metric-learning: ``TripletMarginLoss(margin, distance=LpDistance(normalize_embeddings=
    normalize, power=2 if squared else 1))`` with no miner is ``strategy='all',
    reduction='avg_nonzero'`` (``reduction='mean'`` with ``reducer=MeanReducer()``); with
    ``BatchHardMiner`` (the same distance) ``strategy='hard'``; with
    ``TripletMarginMiner(margin, type_of_triplets="semihard")``, the miner's margin equal to the
    loss's, ``strategy='semi-hard'``. Its defaults differ: margin 0.05, normalised embeddings. Its
    miner's ``"hard"`` (every triplet with :math:`d_{an} \le d_{ap}`) is not batch-hard. Memory is
    :math:`O(N^3)` for 'all' and 'semi-hard'.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.5]])
    >>> round(float(batch_triplet(x, np.array([0, 0, 1]), strategy="hard")), 6)  # (1+1-1.5 + 1+1-1.803) / 2
    0.348612
    """
    _check_margin("margin", margin, 0.0, False, "non-negative")
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(map(repr, STRATEGIES))}, got {strategy!r}")
    _check_flag("squared", squared)
    _check_flag("normalize", normalize)
    return apply_loss(
        BATCH_TRIPLET, embeddings, labels, reduction=reduction, margin=float(margin), strategy=strategy,
        squared=squared, normalize=normalize,
    )  # fmt: skip


# ------------------------------------------------------------------------------------ margin ranking


def _signs(xp: Any, y: Any, like: Any) -> Any:
    # the labels as the scores' dtype, so that float32 scores stay float32 with integer labels
    return as_data(y).astype(as_data(like).dtype)


def _margin_ranking_forward(xp: Any, x1: Any, x2: Any, y: Any, *, margin: float) -> Any:
    return _clamp_min0(xp, margin - _signs(xp, y, x1) * (x1 - x2))


def _margin_ranking_vjp(xp: Any, g: Any, x1: Any, x2: Any, y: Any, *, margin: float) -> tuple[Any, Any]:
    y = _signs(xp, y, x1)
    active = as_data(margin - y * (x1 - x2)) >= 0  # clamp_min: slope 1 at the kink, as PyTorch
    grad = xp.where(active, -y * g, 0.0)
    return grad, -grad


def _check_ranking(x1: Any, x2: Any, y: Any, **_: Any) -> None:
    same_shape("x1", x1, "x2", x2)
    same_shape("x1", x1, "y", y)


MARGIN_RANKING = register(
    LossSpec(
        name="margin_ranking",
        family="metric",
        args=(Arg("x1", "real"), Arg("x2", "real"), Arg("y", "sign", differentiable=False)),
        forward=_margin_ranking_forward,
        vjp=_margin_ranking_vjp,
        params={"margin": 0.0},
        check=_check_ranking,
        kinks=lambda x1, x2, y, *, margin: np.abs(margin - y * (x1 - x2)),
        edge_cases={
            "tied scores": lambda rng: [np.full(4, 0.7), np.full(4, 0.7), np.array([1.0, -1.0, 1.0, -1.0])],
            "scores of 1e4": lambda rng: [
                np.array([1e4, -1e4, 0.5, 0.0]),
                np.zeros(4),
                np.array([1.0, 1.0, -1.0, -1.0]),
            ],
        },
        formula=r"\ell = \max(0, -y (x_1 - x_2) + m)",
        reference="torch.nn.functional.margin_ranking_loss",
        torch="margin_ranking_loss",
    )
)


def margin_ranking(x1: Any, x2: Any, y: Any, margin: float = 0.0, reduction: str = "mean") -> Any:
    r"""Margin ranking loss: ``x1`` should rank above ``x2`` where ``y = 1``, below where ``y = -1``.

    .. math::  \ell_i = \max(0, -y_i (x_{1,i} - x_{2,i}) + m), \qquad
               \frac{\partial \ell_i}{\partial x_{1,i}} = -y_i \, [\,-y_i (x_{1,i} - x_{2,i}) + m \ge 0\,]
               = -\frac{\partial \ell_i}{\partial x_{2,i}}

    Parameters
    ----------
    x1, x2 : array or Tensor, one shape
    y : array of the same shape, values in {-1, +1}
    margin : float, non-negative
    reduction : {'mean', 'sum', 'none'}

    Matches ``torch.nn.functional.margin_ranking_loss`` (the slope at the kink is 1, as its
    ``clamp_min``). PyTorch broadcasts the three shapes and accepts a negative margin; nploss
    refuses both (a negative margin rewards wrong orderings up to :math:`|m|`).

    Examples
    --------
    >>> import numpy as np
    >>> float(margin_ranking(np.array([2.0, 0.5]), np.array([1.0, 1.0]), np.array([1, 1]), margin=1.0))  # (0 + 1.5) / 2
    0.75
    """
    _check_margin("margin", margin, 0.0, False, "non-negative")
    return apply_loss(MARGIN_RANKING, x1, x2, y, reduction=reduction, margin=float(margin))


# ------------------------------------------------------------------------------------ center


def _center_forward(xp: Any, embeddings: Any, labels: Any, centers: Any) -> Any:
    diff = embeddings - centers[as_data(labels)]
    return 0.5 * xp.sum(diff * diff, axis=-1)


def _center_vjp(xp: Any, g: Any, embeddings: Any, labels: Any, centers: Any) -> tuple[Any, Any]:
    y = as_data(labels)
    grad = xp.reshape(g, (-1, 1)) * (embeddings - centers[y])
    # each centre collects -(x_i - c_j) from the samples of its class, repeated labels adding up
    return grad, -xp.scatter_add(grad, y, centers.shape)


def _check_center(embeddings: Any, labels: Any, centers: Any, **_: Any) -> None:
    _check_batch(embeddings, labels)
    if centers.ndim != 2 or centers.shape[1] != embeddings.shape[1]:
        raise ValueError(
            f"centers must have shape (C, {embeddings.shape[1]}), one row per class, got {tuple(centers.shape)}"
        )
    values = _host(labels)
    if values.size and values.max() >= centers.shape[0]:
        raise ValueError(
            f"labels must be class labels in [0, {centers.shape[0]}), "
            f"got values from {int(values.min())} to {int(values.max())}"
        )


CENTER = register(
    LossSpec(
        name="center",
        family="metric",
        args=(
            Arg("embeddings", "real", ("N", "D")),
            Arg("labels", "label", ("N",), differentiable=False),
            Arg("centers", "real", ("C", "D")),
        ),
        forward=_center_forward,
        vjp=_center_vjp,
        check=_check_center,
        edge_cases={
            "embeddings at their centres": lambda rng: [
                np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]),
                np.array([1, 1, 0]),
                np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]]),
            ],
            "distances of 1e4": lambda rng: [
                1e4 * rng.standard_normal((4, 3)),
                np.array([0, 1, 1, 2]),
                rng.standard_normal((3, 3)),
            ],
        },
        formula=r"\ell_i = \tfrac12 \|x_i - c_{y_i}\|^2",
        reference="Wen, Zhang, Li & Qiao 2016 (center loss)",
    )
)


def center(embeddings: Any, labels: Any, centers: Any, reduction: str = "mean") -> Any:
    r"""Center loss (Wen et al. 2016): the squared distance of each embedding to its class centre.

    .. math::  \ell_i = \tfrac12 \|x_i - c_{y_i}\|^2, \qquad
               \nabla_{x_i} \ell_i = x_i - c_{y_i}, \qquad
               \nabla_{c_j} \textstyle\sum_i \ell_i = -\sum_{i : y_i = j} (x_i - c_j)

    Parameters
    ----------
    embeddings : array or Tensor, shape (N, D)
    labels : integer array, shape (N,), values in [0, C)
    centers : array or Tensor, shape (C, D)
        The class centres, an input: differentiable, although Wen et al. update them by their own
        rule instead (:class:`CenterLoss`); pass them as a constant array to do so.
    reduction : {'mean', 'sum', 'none'}
        'sum' is the paper's :math:`L_C = \tfrac12 \sum_{i=1}^m \|x_i - c_{y_i}\|^2` over a
        mini-batch; 'mean' divides it by N.

    The widely used PyTorch implementation (KaiyangZhou/pytorch-center-loss) computes the mean of
    :math:`\|x_i - c_{y_i}\|^2` without the :math:`\tfrac12`, twice this 'mean'. Not in PyTorch or
    pytorch-metric-learning.

    Examples
    --------
    >>> import numpy as np
    >>> float(center(np.array([[1.0, 1.0], [0.0, 3.0]]), np.array([0, 1]), np.array([[0.0, 0.0], [0.0, 1.0]])))
    1.5
    """
    return apply_loss(CENTER, embeddings, labels, centers, reduction=reduction)


class CenterLoss:
    r"""Center loss with its centres kept as state and updated by the rule of Wen et al. 2016.

    After each mini-batch, with :math:`\delta_{ij} = [y_i = j]`,

    .. math::  \Delta c_j = \frac{\sum_i \delta_{ij} (c_j - x_i)}{1 + \sum_i \delta_{ij}}, \qquad
               c_j \leftarrow c_j - \alpha \, \Delta c_j

    (their equation 4): each centre moves a fraction of the way toward the mean of its class in
    the batch; the ``1 +`` damps classes with few samples, and classes absent from the batch stay
    where they are. The centres are not trained by the gradient of the loss: calling the object
    passes them as a constant.

    Parameters
    ----------
    num_classes, dim : int
        The shape of the centres, (num_classes, dim).
    alpha : float in (0, 1]
        The centres' learning rate (0.5 in the paper's experiments).
    centers : array, optional
        Initial centres (copied); zeros by default, as the paper.

    Examples
    --------
    >>> import numpy as np
    >>> loss = CenterLoss(num_classes=2, dim=2, alpha=0.5)
    >>> x, y = np.array([[2.0, 0.0], [4.0, 0.0]]), np.array([1, 1])
    >>> float(loss(x, y))  # the centres start at 0: (4 + 16) / 2 / 2
    5.0
    >>> loss.update(x, y)[1].tolist()  # c_1 - 0.5 * (2 * c_1 - 6) / 3
    [1.0, 0.0]
    """

    def __init__(self, num_classes: int, dim: int, alpha: float = 0.5, centers: Any = None) -> None:
        if not isinstance(num_classes, int) or num_classes < 1 or not isinstance(dim, int) or dim < 1:
            raise ValueError(f"num_classes and dim must be positive integers, got {num_classes!r} and {dim!r}")
        _check_margin("alpha", alpha, 0.0, True, "in (0, 1]")
        if alpha > 1:
            raise ValueError(f"alpha must be in (0, 1], got {alpha}")
        self.alpha = float(alpha)
        module = backend.xp()
        if centers is None:
            self.centers = module.zeros((num_classes, dim))
        else:
            self.centers = module.array(as_data(centers), dtype=float)
            if self.centers.shape != (num_classes, dim):
                raise ValueError(f"centers must have shape ({num_classes}, {dim}), got {tuple(self.centers.shape)}")

    def __call__(self, embeddings: Any, labels: Any, reduction: str = "mean") -> Any:
        """:func:`center` with the current centres (a constant)."""
        return center(embeddings, labels, self.centers, reduction=reduction)

    def update(self, embeddings: Any, labels: Any) -> Any:
        """Move the centres by Wen et al.'s rule (not differentiated); returns the new centres."""
        x, y = as_data(embeddings), as_data(labels)
        _check_center(x, backend.get_array_module(y).asarray(y), self.centers)
        xp = backend.get_array_module(x)
        counts, sums = xp.zeros(self.centers.shape[0]), xp.zeros(self.centers.shape)
        backend.scatter_add(counts, y, xp.ones(y.shape[0]))  # repeated labels add up
        backend.scatter_add(sums, y, x)
        delta = (counts[:, None] * self.centers - sums) / (1.0 + counts[:, None])
        self.centers = self.centers - self.alpha * delta
        return self.centers


# ------------------------------------------------------------------------------------ lifted structured


def _lifted_parts(xp: Any, x: Any, labels: Any, margin: float, squared: bool) -> tuple[Any, Any, Any, Any]:
    """Distances, the masked exponents m - d (-inf outside the negatives), their row log-sum-exps
    a and the matrix J."""
    dist = pairwise_distances(xp, x, x, squared)
    _, neg = _pair_masks(xp, labels)
    # a_i = log sum_{k in N(i)} exp(m - d_ik), with -inf outside N(i): exp(-inf) = 0 in the sum
    # and in its gradient. N(i) is the same set for every sample of a class.
    z = xp.where(neg, margin - dist, -np.inf)
    a = xp.logsumexp(z, axis=1)
    # log(sum_k e^{m - d_ik} + sum_l e^{m - d_jl}) = logaddexp(a_i, a_j), stable for any distances
    j = xp.logaddexp(xp.reshape(a, (-1, 1)), xp.reshape(a, (1, -1))) + dist
    return dist, z, a, j


def _lifted_forward(xp: Any, embeddings: Any, labels: Any, *, margin: float, squared: bool, normalize: bool) -> Any:
    x = _bt_embed(xp, embeddings, normalize)
    pos, neg = _pair_masks(xp, labels)
    if not bool(neg.any()):  # a single class: no negatives, no loss (a documented 0)
        return xp.sum(x, axis=1) * 0.0
    _, _, _, j = _lifted_parts(xp, x, labels, margin, squared)
    h = xp.relu(j)
    return xp.sum(xp.where(pos, 0.5 * h * h, 0.0), axis=1)


def _lifted_vjp(
    xp: Any, g: Any, embeddings: Any, labels: Any, *, margin: float, squared: bool, normalize: bool
) -> tuple[Any]:
    x = _bt_embed(xp, embeddings, normalize)
    pos, neg = _pair_masks(xp, labels)
    if not bool(neg.any()):
        return (embeddings * 0.0,)
    _, z, a, j = _lifted_parts(xp, x, labels, margin, squared)
    col, row = xp.reshape(a, (-1, 1)), xp.reshape(a, (1, -1))
    h = xp.where(pos, xp.reshape(g, (-1, 1)) * xp.relu(j), 0.0)  # d(sum g_i l_i)/dJ_ij
    s = xp.sigmoid(col - row)  # dJ_ij/da_i; dJ_ij/da_j = 1 - s_ij
    total = xp.sum(h * s, axis=1) + xp.sum(h * (1.0 - s), axis=0)  # d/da_r, all pairs using a_r
    softmax = xp.exp(z - col)  # da_r/d(m - d_rk): 0 outside N(r)
    grad_d = h - xp.reshape(total, (-1, 1)) * softmax
    ga, gb = pairwise_distances_vjp(xp, grad_d, x, x, squared)
    gx = ga + gb
    return (l2_normalize_vjp(xp, gx, embeddings) if normalize else gx,)


def _lifted_weights(xp: Any, reduction: str, embeddings: Any, labels: Any, **_: Any) -> float:
    pos, _neg = _pair_masks(xp, labels)
    return 1.0 / max(int(pos.sum()), 1)  # over ordered positive pairs: the paper's 1/(2|P|)


def _lifted_kinks(embeddings: Any, labels: Any, *, margin: float, squared: bool, normalize: bool) -> Any:
    xp = _np()
    pos, neg = _pair_masks(xp, labels)
    if not neg.any():
        return np.array([np.inf])
    _, _, _, j = _lifted_parts(xp, _bt_embed(xp, embeddings, normalize), labels, margin, squared)
    return np.abs(j[pos])


LIFTED_STRUCTURED = register(
    LossSpec(
        name="lifted_structured",
        family="metric",
        args=(Arg("embeddings", "real", ("N", "D")), Arg("labels", "label", ("N",), differentiable=False)),
        forward=_lifted_forward,
        vjp=_lifted_vjp,
        params={"margin": 1.0, "squared": False, "normalize": False},
        reduction_weights=_lifted_weights,
        check=_check_batch,
        kinks=_lifted_kinks,
        sampler=_labelled_batch,
        edge_cases=_batch_edges(),
        formula=r"J = \frac{1}{2|P|} \sum_{(i,j) \in P} \max(0, J_{ij})^2, \ "
        r"J_{ij} = \log\Big(\sum_{(i,k) \in N} e^{m - d_{ik}} + \sum_{(j,l) \in N} e^{m - d_{jl}}\Big) + d_{ij}",
        reference="Song, Xiang, Jegelka & Savarese 2016; pytorch-metric-learning LiftedStructureLoss",
    )
)


def lifted_structured(
    embeddings: Any,
    labels: Any,
    margin: float = 1.0,
    squared: bool = False,
    normalize: bool = False,
    reduction: str = "mean",
) -> Any:
    r"""Lifted structured loss (Song et al. 2016): every positive pair against all the negatives
    of both its ends.

    .. math::  J_{ij} = \log\Big(\sum_{k \in N(i)} e^{m - d_{ik}} + \sum_{l \in N(j)} e^{m - d_{jl}}\Big) + d_{ij},
               \qquad J = \frac{1}{2|P|} \sum_{\{i, j\} \in P} \max(0, J_{ij})^2

    over the positive pairs :math:`P` (same label), with :math:`N(i)` the samples of another
    label and :math:`d = d_\varepsilon` (or squared). With :math:`a_i = \log \sum_{k \in N(i)}
    e^{m - d_{ik}}` (a stable log-sum-exp), :math:`J_{ij} = \mathrm{logaddexp}(a_i, a_j) + d_{ij}`,
    so nothing overflows or underflows for any distance. The gradient, with
    :math:`h_{ij} = \max(0, J_{ij})`: :math:`\partial / \partial d_{ij} = h_{ij}`, and for every
    :math:`k \in N(i)` :math:`\partial / \partial d_{ik} = -h_{ij}\,\sigma(a_i - a_j)\,
    \mathrm{softmax}_k(m - d_{ik})` (the share of :math:`i`'s negatives in the log), summed over
    the pairs.

    Parameters
    ----------
    embeddings : array or Tensor, shape (N, D)
    labels : integer array, shape (N,), non-negative (any identities; only equality matters)
    margin : float, non-negative
    squared : bool
        Squared Euclidean distances instead of :math:`d_\varepsilon` (the paper uses plain ones).
    normalize : bool
        L2-normalise the embeddings first (pytorch-metric-learning's default distance does).
    reduction : {'mean', 'sum', 'none'}
        'none' gives, per anchor :math:`i`, :math:`\sum_{j \in P(i)} \tfrac12 \max(0, J_{ij})^2`
        over its positives; 'mean' divides the total by the number of **ordered** positive pairs
        :math:`2|P|`, which is the paper's :math:`J`; 'sum' is the total,
        :math:`\sum_{\{i,j\} \in P} \max(0, J_{ij})^2`. A batch without positive pairs, or of a
        single class (no negatives), gives 0, not NaN.

    pytorch-metric-learning's ``LiftedStructureLoss(neg_margin=margin, pos_margin=0,
    distance=LpDistance(normalize_embeddings=normalize))`` (default ``MeanReducer``) equals
    'mean': it averages :math:`\tfrac12 \max(0, J_{ij})^2` over the ordered positive pairs.
    Its defaults normalise the embeddings.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    >>> round(float(lifted_structured(x, np.array([0, 0, 1]))), 6)  # 1/2 (log(e^-1 + e^(1-sqrt 5)) + 1)^2
    0.169399
    """
    _check_margin("margin", margin, 0.0, False, "non-negative")
    _check_flag("squared", squared)
    _check_flag("normalize", normalize)
    return apply_loss(
        LIFTED_STRUCTURED,
        embeddings,
        labels,
        reduction=reduction,
        margin=float(margin),
        squared=squared,
        normalize=normalize,
    )
