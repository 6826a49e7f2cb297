r"""Distances, normalisation and batch masks shared by the metric-learning losses.

**Distances at zero.** The Euclidean distance :math:`\|a - b\|` has no derivative at
:math:`a = b`, and its naive gradient :math:`(a - b)/\|a - b\|` is :math:`0/0 = \mathrm{NaN}`
there. Every Euclidean distance of this family (except :func:`~nploss.losses.triplet`, which
follows PyTorch) is

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
default), rows are divided by :math:`\sqrt{\|x\|^2 + \varepsilon}` (:func:`nploss.losses._shared.unit_rows`
with this family's :math:`\varepsilon = 10^{-16}`; PyTorch's ``F.normalize`` divides by
:math:`\max(\|x\|, 10^{-12})`; the two agree to a relative :math:`\varepsilon / 2\|x\|^2`).

The helpers :func:`pairwise_distances`, :func:`row_distances`, :func:`l2_normalize` and
:func:`cosine_similarity`, each with its VJP, take the namespace ``xp`` first like the losses'
own functions, so other modules can build on them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import backend
from ...autograd import as_data
from ...numerics import array_namespace
from .._shared import unit_rows, unit_rows_vjp
from .._spec import Arg

EPS = 1e-16  # added to squared Euclidean norms and distances before a square root
COSINE_EPS = 1e-12  # PyTorch's EPSILON in cosine_embedding_loss, added to each squared norm

# ------------------------------------------------------------------------------------ distances


def l2_normalize(xp: Any, x: Any, eps: float = EPS) -> Any:
    r"""Rows scaled to unit length: :math:`u = x / \sqrt{\|x\|^2 + \varepsilon}` (a zero row stays 0);
    :func:`~nploss.losses._shared.unit_rows` without the norms."""
    return unit_rows(xp, x, eps)[0]


def l2_normalize_vjp(xp: Any, g: Any, x: Any, eps: float = EPS) -> Any:
    r""":math:`(g - u\,(u \cdot g)) / n` with :math:`n = \sqrt{\|x\|^2 + \varepsilon}`: the Jacobian
    :math:`(I - u u^\top)/n` is exact with the epsilon too, since :math:`\partial n / \partial x = x / n`."""
    u, n = unit_rows(xp, x, eps)
    return unit_rows_vjp(xp, g, u, n)

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


def cosine_matrix(xp: Any, x: Any, eps: float = EPS) -> tuple[Any, Any, Any]:
    r"""The ``(N, N)`` cosines :math:`S = U U^\top` between the rows of ``x``, with the unit rows
    ``U`` and their norms (see :func:`nploss.losses._shared.unit_rows`)."""
    u, r = unit_rows(xp, x, eps)
    return xp.matmul(u, xp.transpose(u)), u, r


def cosine_matrix_vjp(xp: Any, gs: Any, u: Any, r: Any) -> Any:
    r"""The gradient of ``x`` from that of :math:`S = U U^\top`: :math:`(G + G^\top) U`, back through
    the unit rows."""
    return unit_rows_vjp(xp, xp.matmul(gs + xp.transpose(gs), u), u, r)


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


# ------------------------------------------------------------------------------------ batches with labels


BATCH_ARGS = (Arg("embeddings", "real", ("N", "D")), Arg("labels", "label", ("N",), differentiable=False))


def _check_batch(embeddings: Any, labels: Any, **_: Any) -> None:
    if embeddings.ndim != 2:
        raise ValueError(f"embeddings must have shape (N, D), got {tuple(embeddings.shape)}")
    _check_one_label_each(embeddings, labels)


def _check_one_label_each(embeddings: Any, labels: Any) -> None:
    if tuple(labels.shape) != (embeddings.shape[0],):
        raise ValueError(
            f"labels must have shape ({embeddings.shape[0]},), one per embedding, got {tuple(labels.shape)}"
        )


def _check_class_labels(embeddings: Any, labels: Any, classes: int) -> None:
    """One label per embedding, each a class of the weight's ``classes`` (classifier-style losses:
    a weight row, or rows, per class)."""
    _check_one_label_each(embeddings, labels)
    if labels.size and int(labels.max()) >= classes:
        raise ValueError(
            f"labels must be class labels in [0, {classes}) (the classes of weight), "
            f"got values from {int(labels.min())} to {int(labels.max())}"
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


def _embed(xp: Any, embeddings: Any, normalize: bool) -> tuple[Any, Any]:
    """The embeddings the distances are taken between: the rows scaled to unit length with
    ``normalize`` (with their norms, for the backward pass), else the embeddings themselves
    (norms None)."""
    return unit_rows(xp, embeddings, EPS) if normalize else (embeddings, None)


def _embed_vjp(xp: Any, gx: Any, x: Any, norms: Any) -> Any:
    """The gradient of the embeddings from that of :func:`_embed`'s rows ``x``."""
    return gx if norms is None else unit_rows_vjp(xp, gx, x, norms)
