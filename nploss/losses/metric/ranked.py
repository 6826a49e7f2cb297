r"""Ranked list, histogram, dynamic soft margin and threshold-consistent margin losses, as
pytorch-metric-learning (PML 2.9.0) computes them by default.

Every loss here works on a labelled batch ``(embeddings, labels)``. PML's default distance is
used for each: the Euclidean distance between L2-normalised rows (``LpDistance()``) for the
ranked list and dynamic soft margin losses, the cosine similarity (``CosineSimilarity()``) for
the histogram and threshold-consistent losses. Rows are normalised by
:func:`nploss.losses._shared.unit_rows` and distances are the :math:`d_\varepsilon` of
:mod:`nploss.losses.metric._common`. Bin indices, thresholds and pair or triplet selections are
constants of the backward pass (PML's ``floor``, comparisons and masks have no gradient either).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import backend
from ...autograd import as_data
from .._apply import apply_loss
from .._params import flag, integer, real
from .._shared import unit_rows, unit_rows_vjp
from .._spec import Arg, LossSpec, OnInputs, register
from ._common import (
    BATCH_ARGS,
    COSINE_EPS,
    EPS,
    _batch_edges,
    _check_batch,
    _host,
    _labelled_batch,
    _np,
    _pair_masks,
    _raw,
    cosine_matrix,
    cosine_matrix_vjp,
    pairwise_distances,
    pairwise_distances_vjp,
)

__all__: list[str] = [
    "DynamicSoftMarginLoss",
    "dynamic_soft_margin",
    "histogram",
    "ranked_list",
    "threshold_consistent_margin",
]


def _masks_np(labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """Positive (same label, i != j) and negative pair masks as host arrays."""
    return _pair_masks(_np(), _host(labels))


def _const(like: Any, value: np.ndarray) -> Any:
    """A host array moved to the array module of ``like``'s data (floats in ``like``'s dtype)."""
    value = np.asarray(value)
    if value.dtype.kind == "f":
        value = value.astype(as_data(like).dtype)
    return _raw(like).asarray(value)


def _unit_distances(xp: Any, embeddings: Any) -> tuple[Any, Any, Any]:
    """PML's ``LpDistance()``: Euclidean distances between unit rows; returns (d, u, norms)."""
    u, n = unit_rows(xp, embeddings, EPS)
    return pairwise_distances(xp, u, u), u, n


def _unit_distances_vjp(xp: Any, gd: Any, u: Any, n: Any) -> Any:
    ga, gb = pairwise_distances_vjp(xp, gd, u, u)
    return unit_rows_vjp(xp, ga + gb, u, n)


# ------------------------------------------------------------------------------------ ranked list


def _rll_sets(embeddings: Any, labels: Any, margin: float, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """PML's P* (positives farther than alpha - margin) and N* (negatives closer than alpha),
    both restricted to distances > 0 (PML's ``P_star > 0``, ``N_star > 0``)."""
    x = _host(embeddings)
    u = x / np.sqrt(np.sum(x * x, axis=1, keepdims=True) + EPS)
    diff = u[:, None, :] - u[None, :, :]
    s = np.sum(diff * diff, axis=-1)
    d = np.sqrt(s + EPS)
    pos, neg = _masks_np(labels)
    return pos & (s > 0) & (d > alpha - margin), neg & (s > 0) & (d < alpha)


def _rll_parts(
    xp: Any, embeddings: Any, labels: Any, margin: float, Tn: float, alpha: float, Tp: float, eps: float
) -> Any:
    d, u, n = _unit_distances(xp, embeddings)
    pset, nset = _rll_sets(embeddings, labels, margin, alpha)
    pset, nset = _const(embeddings, pset), _const(embeddings, nset)
    size = embeddings.shape[0]
    b = alpha - margin
    wp = xp.where(pset, xp.exp(Tp * (d - b)), 0.0)
    wn = xp.where(nset, xp.exp(Tn * (alpha - d)), 0.0)
    # PML's sum(w + 1e-5) over all N columns; with eps = 0 an empty set divides 0 by 1
    zp = xp.sum(wp, axis=1) + _const(embeddings, size * eps + (eps == 0) * ~_host(pset).any(axis=1))
    zn = xp.sum(wn, axis=1) + _const(embeddings, size * eps + (eps == 0) * ~_host(nset).any(axis=1))
    lp = xp.sum(wp * (d - b), axis=1) / zp
    ln = xp.sum(wn * (alpha - d), axis=1) / zn
    return d, u, n, wp, wn, zp, zn, lp, ln


def _ranked_list_forward(
    xp: Any,
    embeddings: Any,
    labels: Any,
    *,
    margin: float,
    Tn: float,
    imbalance: float,
    alpha: float,
    Tp: float,
    eps: float,
) -> Any:
    *_, lp, ln = _rll_parts(xp, embeddings, labels, margin, Tn, alpha, Tp, eps)
    return (1.0 - imbalance) * lp + imbalance * ln


def _ranked_list_vjp(
    xp: Any,
    g: Any,
    embeddings: Any,
    labels: Any,
    *,
    margin: float,
    Tn: float,
    imbalance: float,
    alpha: float,
    Tp: float,
    eps: float,
) -> tuple[Any]:
    d, u, n, wp, wn, zp, zn, lp, ln = _rll_parts(xp, embeddings, labels, margin, Tn, alpha, Tp, eps)
    b = alpha - margin
    col = lambda v: xp.reshape(v, (-1, 1))
    # dL_P/dd_ij = w_ij (1 + Tp (d_ij - b - L_P)) / Z_P;  dL_N/dd_ij = -w_ij (1 + Tn (alpha - d_ij - L_N)) / Z_N
    gp = wp * (1.0 + Tp * (d - b - col(lp))) / col(zp)
    gn = -wn * (1.0 + Tn * (alpha - d - col(ln))) / col(zn)
    gd = col(g) * ((1.0 - imbalance) * gp + imbalance * gn)
    return (_unit_distances_vjp(xp, gd, u, n),)


def _ranked_list_kinks(embeddings: Any, labels: Any, *, margin: float, alpha: float, **_: Any) -> Any:
    d = _unit_distances(_np(), _host(embeddings))[0]
    pos, neg = _masks_np(labels)
    return np.concatenate([np.abs(d[pos] - (alpha - margin)), np.abs(d[neg] - alpha), [np.inf]])


RANKED_LIST = register(
    LossSpec(
        name="ranked_list",
        family="metric",
        args=BATCH_ARGS,
        forward=_ranked_list_forward,
        vjp=_ranked_list_vjp,
        params={"margin": 0.4, "Tn": 10.0, "imbalance": 0.5, "alpha": 1.2, "Tp": 0.0, "eps": 1e-5},
        check=_check_batch,
        kinks=_ranked_list_kinks,
        sampler=_labelled_batch,
        edge_cases=_batch_edges(),
        formula=r"\ell_i = (1-\lambda) \frac{\sum_{j \in P^*_i} w^+_{ij} (d_{ij} - \alpha + m)}{\sum_j w^+_{ij} + 10^{-5} N}"
        r" + \lambda \frac{\sum_{j \in N^*_i} w^-_{ij} (\alpha - d_{ij})}{\sum_j w^-_{ij} + 10^{-5} N}",
        reference="Wang, Hua, Kodirov, Hu, Garnier & Robertson 2019 (ranked list loss); pytorch-metric-learning RankedListLoss",
    )
)


def ranked_list(
    embeddings: Any,
    labels: Any,
    margin: float,
    Tn: float,
    imbalance: float = 0.5,
    alpha: float | None = None,
    Tp: float = 0.0,
    eps: float = 1e-5,
    reduction: str = "mean",
) -> Any:
    r"""Ranked list loss (Wang et al. 2019), as pytorch-metric-learning's ``RankedListLoss``.

    With :math:`d_{ij}` the Euclidean distance between the L2-normalised embeddings, the
    violating positives :math:`P^*_i = \{j \ne i: y_j = y_i,\ d_{ij} > \alpha - m\}` and
    negatives :math:`N^*_i = \{j: y_j \ne y_i,\ d_{ij} < \alpha\}` (both with :math:`d_{ij} > 0`),
    weights :math:`w^+_{ij} = e^{T_p (d_{ij} - (\alpha - m))}`, :math:`w^-_{ij} = e^{T_n (\alpha - d_{ij})}`
    on those sets (0 elsewhere), and :math:`Z^\pm_i = \sum_j w^\pm_{ij} + 10^{-5} N`,

    .. math::  \ell_i = (1 - \lambda)\, L^+_i + \lambda\, L^-_i, \qquad
               L^+_i = \frac{\sum_j w^+_{ij} (d_{ij} - \alpha + m)}{Z^+_i}, \qquad
               L^-_i = \frac{\sum_j w^-_{ij} (\alpha - d_{ij})}{Z^-_i},

    .. math::  \frac{\partial L^+_i}{\partial d_{ij}} = \frac{w^+_{ij}\,(1 + T_p (d_{ij} - \alpha + m - L^+_i))}{Z^+_i},
               \qquad
               \frac{\partial L^-_i}{\partial d_{ij}} = -\frac{w^-_{ij}\,(1 + T_n (\alpha - d_{ij} - L^-_i))}{Z^-_i}

    (the weights are differentiated, as PML does: they are not detached), then through the
    distances and the normalisation.

    Parameters
    ----------
    embeddings : array or Tensor, shape (N, D)
    labels : integer array, shape (N,)
    margin : float
        :math:`m`, the gap between the positive and negative boundaries. Required, as in PML.
    Tn : float
        The negatives' temperature :math:`T_n`. Required, as in PML.
    imbalance : float in [0, 1]
        :math:`\lambda`, the weight of the negatives' term.
    alpha : float, optional
        The negatives' boundary; PML's default :math:`1 + m/2`.
    Tp : float
        The positives' temperature (0: the plain mean over :math:`P^*_i`, RLL-Simpler).
    eps : float, non-negative
        PML's :math:`10^{-5}` per column in :math:`Z^\pm_i` (not a PML option); 0 gives the
        paper's normalisers :math:`\sum_j w^\pm_{ij}`, an anchor with an empty set then
        contributing 0 to that term.
    reduction : {'mean', 'sum', 'none'}
        'none' gives :math:`\ell_i` per anchor; 'mean' (PML's ``MeanReducer``) divides the sum by N.

    **Departures of PML from the paper, followed here.** The normalisers carry
    :math:`10^{-5}` for each of the N columns (PML sums ``w + 1e-5`` over the whole row), so an
    anchor without violating pairs gives 0 instead of 0/0 and every other term is smaller by a
    relative :math:`10^{-5} N / \sum_j w_{ij}` (``eps=0`` removes it); the weights are not detached; pairs at distance
    exactly 0 are never counted. PML has no default for ``margin`` and ``Tn``, and nor has this.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    >>> round(float(ranked_list(x, np.array([0, 0, 1]), margin=0.4, Tn=0.0)), 6)  # as PML's RankedListLoss(margin=0.4, Tn=0.0)
    0.204732
    """
    margin = real("margin", margin)
    Tn = real("Tn", Tn)
    return apply_loss(
        RANKED_LIST,
        embeddings,
        labels,
        reduction=reduction,
        margin=margin,
        Tn=Tn,
        imbalance=real("imbalance", imbalance, low=0.0, high=1.0),
        alpha=1.0 + margin / 2.0 if alpha is None else real("alpha", alpha),
        Tp=real("Tp", Tp),
        eps=real("eps", eps, low=0.0),
    )


# ------------------------------------------------------------------------------------ threshold-consistent margin


def _tcm_sets(embeddings: Any, labels: Any, margin_plus: float, margin_minus: float) -> tuple[np.ndarray, np.ndarray]:
    c = cosine_matrix(_np(), _host(embeddings), COSINE_EPS)[0]
    pos, neg = _masks_np(labels)
    return pos & (c <= margin_plus), neg & (c >= margin_minus)


def _tcm_forward(
    xp: Any, embeddings: Any, labels: Any, *, lambda_plus: float, lambda_minus: float,
    margin_plus: float, margin_minus: float, reduction: str,
) -> Any:  # fmt: skip
    c, _, _ = cosine_matrix(xp, embeddings, COSINE_EPS)
    ps, ns = _tcm_sets(embeddings, labels, margin_plus, margin_minus)
    kp, kn = max(int(ps.sum()), 1), max(int(ns.sum()), 1)  # an empty set gives 0, as PML
    ps, ns = _const(embeddings, ps), _const(embeddings, ns)
    pos = xp.sum(xp.where(ps, margin_plus - c, 0.0)) / kp
    neg = xp.sum(xp.where(ns, c - margin_minus, 0.0)) / kn
    return lambda_plus * pos + lambda_minus * neg


def _tcm_vjp(
    xp: Any, g: Any, embeddings: Any, labels: Any, *, lambda_plus: float, lambda_minus: float,
    margin_plus: float, margin_minus: float, reduction: str,
) -> tuple[Any]:  # fmt: skip
    _, u, n = cosine_matrix(xp, embeddings, COSINE_EPS)
    ps, ns = _tcm_sets(embeddings, labels, margin_plus, margin_minus)
    kp, kn = max(int(ps.sum()), 1), max(int(ns.sum()), 1)
    gc = _const(embeddings, -lambda_plus / kp * ps + lambda_minus / kn * ns)
    return (cosine_matrix_vjp(xp, g * gc, u, n),)


def _tcm_kinks(embeddings: Any, labels: Any, *, margin_plus: float, margin_minus: float, **_: Any) -> Any:
    c = cosine_matrix(_np(), _host(embeddings), COSINE_EPS)[0]
    pos, neg = _masks_np(labels)
    return np.concatenate([np.abs(c[pos] - margin_plus), np.abs(c[neg] - margin_minus), [np.inf]])


THRESHOLD_CONSISTENT_MARGIN = register(
    LossSpec(
        name="threshold_consistent_margin",
        family="metric",
        args=BATCH_ARGS,
        forward=_tcm_forward,
        vjp=_tcm_vjp,
        params={"lambda_plus": 1.0, "lambda_minus": 1.0, "margin_plus": 0.9, "margin_minus": 0.5},
        reduces_itself=True,
        reductions=("mean",),
        check=_check_batch,
        kinks=_tcm_kinks,
        sampler=_labelled_batch,
        edge_cases=_batch_edges(),
        formula=r"L = \lambda^+ \frac{\sum_{P} (m^+ - s)[s \le m^+]}{\sum_P [s \le m^+]}"
        r" + \lambda^- \frac{\sum_N (s - m^-)[s \ge m^-]}{\sum_N [s \ge m^-]}",
        reference="Zhang, Xie, Duan, Jiang & Zhang 2023 (TCM); pytorch-metric-learning ThresholdConsistentMarginLoss",
    )
)


def threshold_consistent_margin(
    embeddings: Any,
    labels: Any,
    lambda_plus: float = 1.0,
    lambda_minus: float = 1.0,
    margin_plus: float = 0.9,
    margin_minus: float = 0.5,
) -> Any:
    r"""Threshold-consistent margin loss (Zhang et al. 2023), as PML's ``ThresholdConsistentMarginLoss``.

    Over the ordered positive pairs :math:`P` (same label, :math:`i \ne j`) and negative pairs
    :math:`N` with cosine similarities :math:`s_{ij}`, the positives below :math:`m^+` and the
    negatives above :math:`m^-` are averaged:

    .. math::  L = \lambda^+ \frac{\sum_{P} (m^+ - s_{ij})\,[s_{ij} \le m^+]}{\sum_P [s_{ij} \le m^+]}
               + \lambda^- \frac{\sum_{N} (s_{ij} - m^-)\,[s_{ij} \ge m^-]}{\sum_N [s_{ij} \ge m^-]},

    .. math::  \frac{\partial L}{\partial s_{ij}} = -\frac{\lambda^+}{K^+} \ (ij \in P,\ s_{ij} \le m^+),
               \qquad \frac{\lambda^-}{K^-} \ (ij \in N,\ s_{ij} \ge m^-),

    with :math:`K^\pm` the counts (the counts are constants), then through
    :math:`s_{ij} = u_i \cdot u_j`, :math:`u = x / \sqrt{\|x\|^2 + 10^{-12}}`. A term with an empty
    set is 0 (as PML). The value is already reduced: there is no ``reduction``.

    PML computes ``F.cosine_similarity`` itself (dividing by :math:`\max(\|x\|\|y\|, 10^{-8})`),
    the same for non-zero rows. It follows the paper.

    Parameters
    ----------
    embeddings : array or Tensor, shape (N, D)
    labels : integer array, shape (N,)
    lambda_plus, lambda_minus : float
        Weights of the positive and negative terms.
    margin_plus, margin_minus : float in [-1, 1]
        :math:`m^+`, :math:`m^-`: cosine thresholds.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> round(float(threshold_consistent_margin(x, np.array([0, 0, 1]))), 6)  # 0.9 + (cos 45 - 0.5)
    1.107107
    """
    return apply_loss(
        THRESHOLD_CONSISTENT_MARGIN,
        embeddings,
        labels,
        lambda_plus=real("lambda_plus", lambda_plus),
        lambda_minus=real("lambda_minus", lambda_minus),
        margin_plus=real("margin_plus", margin_plus),
        margin_minus=real("margin_minus", margin_minus),
    )


# ------------------------------------------------------------------------------------ histogram


def _hist_pairs(labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices i * N + j (i < j) of PML's pairs: the unordered positive pairs of the anchors
    that have a negative, the unordered negative pairs one of whose ends has a positive (those
    occurring in some triplet)."""
    pos, neg = _masks_np(labels)
    size = pos.shape[0]
    has_p, has_n = pos.any(axis=1), neg.any(axis=1)
    p = pos & (has_n[:, None] | has_n[None, :])
    q = neg & (has_p[:, None] | has_p[None, :])
    upper = np.triu(np.ones((size, size), dtype=bool), 1)
    flat = lambda m: np.flatnonzero((m & upper).ravel())
    return flat(p), flat(q)


def _hist_bins(s: np.ndarray, delta: float, nodes: int, float32_nodes: bool) -> np.ndarray:
    """The bin r of each similarity (in float32 arithmetic as PML, with ``float32_nodes``),
    clamped so that r + 1 is a node (s = 1 falls in the last bin)."""
    if float32_nodes:
        t = (s.astype(np.float32) + np.float32(1.0)) / np.float32(delta)
    else:
        t = (s + 1.0) / delta
    return np.clip(np.floor(t), 0, nodes - 2).astype(np.int64)


def _node(r: np.ndarray, delta: float, float32_nodes: bool, minus_one: bool = False) -> np.ndarray:
    """The offset r * delta of node r from -1 (or the node itself, r * delta - 1, with
    ``minus_one``); in float32 as PML computes them (``long * float`` gives torch's default
    float32, and ``- 1`` keeps it), float64 otherwise."""
    if float32_nodes:
        out = r.astype(np.float32) * np.float32(delta)
        return (out - np.float32(1.0) if minus_one else out).astype(np.float64)
    return r * delta - 1.0 if minus_one else r * delta


def _hist_parts(xp: Any, embeddings: Any, labels: Any, delta: float, float32_nodes: bool) -> Any:
    nodes = round(1 + 2 / delta)
    c, u, n = cosine_matrix(xp, embeddings, EPS)
    ip, iq = _hist_pairs(labels)
    flat = xp.reshape(c, (-1,))
    c_host = np.asarray(backend.to_numpy(as_data(flat)))
    out = []
    for idx in (ip, iq):
        s = flat[_const(embeddings, idx)]
        r = _hist_bins(c_host[idx], delta, nodes, float32_nodes)
        a = (s + 1.0 - _const(embeddings, _node(r, delta, float32_nodes))) / delta  # the share of node r + 1
        b = (_const(embeddings, _node(r + 1, delta, float32_nodes, minus_one=True)) - s) / delta  # of node r (1 - a)
        rr = _const(embeddings, r)
        m = max(len(idx), 1)
        density = (xp.scatter_add(a, rr + 1, (nodes,)) + xp.scatter_add(b, rr, (nodes,))) / m
        out.append((idx, rr, m, density))
    return c, u, n, nodes, out


def _histogram_forward(
    xp: Any, embeddings: Any, labels: Any, *, delta: float, float32_nodes: bool, reduction: str
) -> Any:
    ip, iq = _hist_pairs(labels)
    if len(ip) == 0 or len(iq) == 0:  # no triplet: PML's zero loss
        return xp.sum(embeddings) * 0.0
    *_, nodes, ((_, _, _, p_pos), (_, _, _, p_neg)) = _hist_parts(xp, embeddings, labels, delta, float32_nodes)
    tri = _const(embeddings, np.triu(np.ones((nodes, nodes))))  # tri[q, r] = [q <= r]: phi = p_pos @ tri
    return xp.sum(p_neg * xp.matmul(p_pos, tri))


def _histogram_vjp(
    xp: Any, g: Any, embeddings: Any, labels: Any, *, delta: float, float32_nodes: bool, reduction: str
) -> tuple[Any]:
    ip, iq = _hist_pairs(labels)
    if len(ip) == 0 or len(iq) == 0:
        return (embeddings * 0.0,)
    _, u, n, nodes, ((_, rp, mp, p_pos), (_, rq, mq, p_neg)) = _hist_parts(xp, embeddings, labels, delta, float32_nodes)
    tri = _const(embeddings, np.triu(np.ones((nodes, nodes))))
    g_neg = g * xp.matmul(p_pos, tri)  # dL/dp_neg[r] = phi[r]
    g_pos = g * xp.matmul(tri, p_neg)  # dL/dp_pos[q] = sum_{r >= q} p_neg[r]
    size = embeddings.shape[0]
    gflat = 0.0
    for idx, rr, m, gdens in ((ip, rp, mp, g_pos), (iq, rq, mq, g_neg)):
        # each s adds (1 - a) at node r and a at node r + 1, a = (s + 1 - r delta) / delta
        gs = (gdens[rr + 1] - gdens[rr]) / (delta * m)
        gflat = gflat + xp.scatter_add(gs, _const(embeddings, idx), (size * size,))
    gc = xp.reshape(gflat, (size, size))
    return (cosine_matrix_vjp(xp, gc, u, n),)


def _histogram_kinks(embeddings: Any, labels: Any, *, delta: float, **_: Any) -> Any:
    c = cosine_matrix(_np(), _host(embeddings), EPS)[0].ravel()
    ip, iq = _hist_pairs(labels)
    t = (c[np.concatenate([ip, iq])] + 1.0) / delta
    return np.concatenate([delta * np.abs(t - np.round(t)), [np.inf]])


HISTOGRAM = register(
    LossSpec(
        name="histogram",
        fixed={"n_bins": "the public function turns it into delta = 2 / n_bins, which the grid varies"},
        family="metric",
        args=BATCH_ARGS,
        forward=_histogram_forward,
        vjp=_histogram_vjp,
        params={"delta": 0.02, "float32_nodes": True},
        reduces_itself=True,
        reductions=("mean",),
        check=_check_batch,
        kinks=_histogram_kinks,
        sampler=_labelled_batch,
        edge_cases=_batch_edges(),
        formula=r"L = \sum_r h^-_r \sum_{q \le r} h^+_q, \ h_r = \frac{1}{|S|} \sum_{s \in S} \max(0, 1 - |s - t_r| / \Delta)",
        reference="Ustinova & Lempitsky 2016 (histogram loss); pytorch-metric-learning HistogramLoss",
    )
)


def histogram(
    embeddings: Any, labels: Any, n_bins: int | None = None, delta: float | None = None, float32_nodes: bool = True
) -> Any:
    r"""Histogram loss (Ustinova & Lempitsky 2016), as PML's ``HistogramLoss``: the probability
    that a negative pair is more similar than a positive one, from soft histograms.

    The cosine similarities :math:`s \in [-1, 1]` of the unordered positive pairs :math:`S^+`
    and negative pairs :math:`S^-` are spread linearly over the nodes
    :math:`t_r = -1 + r\Delta`, :math:`r = 0 \dots R = 2/\Delta`: with
    :math:`r(s) = \lfloor (s + 1)/\Delta \rfloor` and :math:`a(s) = (s + 1)/\Delta - r(s)`,
    :math:`s` adds :math:`1 - a` to node :math:`r` and :math:`a` to node :math:`r + 1`, and
    :math:`h^\pm` is the sum divided by :math:`|S^\pm|`. Then

    .. math::  L = \sum_{r} h^-_r\, \Phi^+_r, \quad \Phi^+_r = \sum_{q \le r} h^+_q, \qquad
               \frac{\partial L}{\partial h^-_r} = \Phi^+_r, \quad
               \frac{\partial L}{\partial h^+_q} = \sum_{r \ge q} h^-_r,

    .. math::  \frac{\partial L}{\partial s} = \frac{1}{\Delta\, |S^\pm|}
               \Big(\frac{\partial L}{\partial h^\pm_{r(s)+1}} - \frac{\partial L}{\partial h^\pm_{r(s)}}\Big)

    (the bin index is piecewise constant: the loss is piecewise quadratic in the similarities,
    with kinks where a similarity crosses a node), then through :math:`s_{ij} = u_i \cdot u_j`
    and the normalisation. The value is already reduced: there is no ``reduction``.

    **Pairs, as PML.** PML takes the pairs of its triplets, deduplicated as unordered pairs:
    every positive pair whose anchor has a negative, and every negative pair one of whose ends
    has a positive (a negative pair between two classes of one sample is left out). No
    triplet gives 0.

    **PML's float32 nodes.** PML computes the node offsets :math:`r\Delta` in float32 (a
    ``long`` tensor times a Python float gives torch's default dtype) and the two shares
    separately, :math:`a = (s + 1 - \mathrm{fl}_{32}(r\Delta))/\Delta` and
    :math:`b = (\mathrm{fl}_{32}((r+1)\Delta) - 1 - s)/\Delta`, the latter's :math:`\mathrm{fl}_{32}((r+1)\Delta) - 1` in float32 too, so :math:`a + b = 1 + O(10^{-7})`:
    a relative change of the loss of about :math:`10^{-6}`. ``float32_nodes=True`` (the default)
    reproduces it; ``False`` gives the exact nodes of the paper (:math:`b = 1 - a`). The
    gradient formula is the same (:math:`\partial a/\partial s = -\partial b/\partial s = 1/\Delta`).

    **Differences.** PML's node index is computed in float32 and a similarity of exactly 1
    indexes past its last node (an IndexError); here the index is float64 and clamped, so that
    :math:`s = 1` puts its whole weight on the last node, the limit from below. PML follows
    the paper otherwise.

    Parameters
    ----------
    embeddings : array or Tensor, shape (N, D)
    labels : integer array, shape (N,)
    n_bins : int, optional
        The number of bins, :math:`2/\Delta`; 100 when neither is given.
    delta : float, optional
        The bin width :math:`\Delta`; must equal ``2 / n_bins`` when both are given.
    float32_nodes : bool
        Node offsets rounded to float32 as PML does (True), or exact (False, the paper's).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0]])
    >>> round(float(histogram(x, np.array([0, 0, 1]))), 6)
    0.0
    >>> round(float(histogram(x, np.array([0, 1, 0]))), 6)  # 1 with exact nodes; PML's float32 nodes
    1.000004
    """
    if delta is not None and n_bins is not None:
        n_bins, delta = integer("n_bins", n_bins, low=1), real("delta", delta, low=0.0, low_open=True)
        if delta != 2 / n_bins:
            raise ValueError(f"delta and n_bins must satisfy delta = 2 / n_bins, got delta={delta} and n_bins={n_bins}")
    elif delta is not None:
        delta = real("delta", delta, low=0.0, high=2.0, low_open=True)
    else:
        delta = 2 / integer("n_bins", 100 if n_bins is None else n_bins, low=1)
    return apply_loss(HISTOGRAM, embeddings, labels, delta=delta, float32_nodes=flag("float32_nodes", float32_nodes))


# ------------------------------------------------------------------------------------ dynamic soft margin


def _dsm_triplets(labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices a * N + p and a * N + n of all triplets (PML's order: anchor, positive, negative)."""
    pos, neg = _masks_np(labels)
    a, p, n = np.nonzero(pos[:, :, None] & neg[:, None, :])
    size = pos.shape[0]
    return a * size + p, a * size + n


def _dsm_bins(x: np.ndarray, min_val: float, delta: float, num_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Bins r = floor((x - min_val) / delta) and r + 1, clamped to the histogram (PML indexes past it)."""
    r = np.floor((x - min_val) / delta).astype(np.int64)
    return np.clip(r, 0, num_bins - 1), np.clip(r + 1, 0, num_bins - 1), r


def _dsm_parts(xp: Any, embeddings: Any, labels: Any, hist: Any, min_val: float, num_bins: int, momentum: float) -> Any:
    delta = 2 * abs(min_val) / num_bins
    d, u, nrm = _unit_distances(xp, embeddings)
    ip, iq = _dsm_triplets(labels)
    flat = xp.reshape(d, (-1,))
    x = flat[_const(embeddings, ip)] - flat[_const(embeddings, iq)]
    r0, r1, raw = _dsm_bins(np.asarray(backend.to_numpy(as_data(x))), min_val, delta, num_bins)
    alpha = (x - min_val) / delta - _const(embeddings, raw.astype(float))
    h = as_data(hist)
    mom = momentum if float(_host(h).sum()) != 0 else 1.0
    h = _const(embeddings, _host(h))
    r0c, r1c = _const(embeddings, r0), _const(embeddings, r1)
    raw_hist = (
        (1.0 - mom) * h
        + xp.scatter_add(mom * (1.0 - alpha), r0c, (num_bins,))
        + xp.scatter_add(mom * alpha, r1c, (num_bins,))
    )
    z = xp.sum(raw_hist)
    new = raw_hist / z
    tri = _const(embeddings, np.triu(np.ones((num_bins, num_bins))))  # cdf = new @ tri
    cdf = xp.matmul(new, tri)
    w = cdf[r0c]
    return d, u, nrm, ip, iq, x, r0c, r1c, delta, mom, raw_hist, z, new, tri, w


def _check_dsm(embeddings: Any, labels: Any, hist: Any, *, num_bins: int, **_: Any) -> None:
    _check_batch(embeddings, labels)
    if tuple(hist.shape) != (num_bins,):
        raise ValueError(f"hist must have shape ({num_bins},), one value per bin, got {tuple(hist.shape)}")


def _dsm_forward(
    xp: Any, embeddings: Any, labels: Any, hist: Any, *, min_val: float, num_bins: int, momentum: float, reduction: str
) -> Any:
    if len(_dsm_triplets(labels)[0]) == 0:  # no triplet: PML's zero loss (and no update)
        return xp.sum(embeddings) * 0.0
    *_, x, _r0, _r1, _d, _m, _rh, _z, _new, _tri, w = _dsm_parts(
        xp, embeddings, labels, hist, min_val, num_bins, momentum
    )
    return xp.mean(w * x)


def _dsm_vjp(
    xp: Any, g: Any, embeddings: Any, labels: Any, hist: Any, *, min_val: float, num_bins: int, momentum: float,
    reduction: str,
) -> tuple[Any]:  # fmt: skip
    if len(_dsm_triplets(labels)[0]) == 0:
        return (embeddings * 0.0,)
    _, u, nrm, ip, iq, x, r0, r1, delta, mom, _, z, new, tri, w = _dsm_parts(
        xp, embeddings, labels, hist, min_val, num_bins, momentum
    )
    t = len(ip)
    gx = g * w / t  # the weight's own factor
    g_cdf = xp.scatter_add(g * x / t, r0, (num_bins,))  # dL/dcdf[r] = sum over triplets in bin r
    g_new = xp.matmul(tri, g_cdf)  # dL/dnew[q] = sum_{r >= q} dL/dcdf[r]
    g_raw = (g_new - xp.sum(g_new * new)) / z  # through new = raw / sum(raw)
    gx = gx + mom * (g_raw[r1] - g_raw[r0]) / delta  # raw gets (1 - alpha) at r0, alpha at r1
    size = embeddings.shape[0]
    gd = xp.scatter_add(gx, _const(embeddings, ip), (size * size,)) - xp.scatter_add(
        gx, _const(embeddings, iq), (size * size,)
    )
    return (_unit_distances_vjp(xp, xp.reshape(gd, (size, size)), u, nrm),)


def _dsm_kinks(embeddings: Any, labels: Any, hist: Any, *, min_val: float, num_bins: int, **_: Any) -> Any:
    delta = 2 * abs(min_val) / num_bins
    d = _unit_distances(_np(), _host(embeddings))[0].ravel()
    ip, iq = _dsm_triplets(labels)
    t = (d[ip] - d[iq] - min_val) / delta
    return np.concatenate([delta * np.abs(t - np.round(t)), [np.inf]])


def _dsm_sampler(rng: np.random.Generator, sizes: dict[str, int]) -> list[np.ndarray]:
    x, y = _labelled_batch(rng, sizes)
    return [x, y, rng.dirichlet(np.ones(10))]


def _dsm_edges() -> dict[str, Any]:
    edges = {}
    for name, make in _batch_edges().items():
        edges[name] = lambda rng, make=make: [*make(rng), np.full(10, 0.1)]
        edges[name + ", empty histogram"] = lambda rng, make=make: [*make(rng), np.zeros(10)]
    return edges


DYNAMIC_SOFT_MARGIN = register(
    LossSpec(
        name="dynamic_soft_margin",
        grid={"num_bins": (10, OnInputs(5, lambda rng, s: [*_labelled_batch(rng, s), rng.dirichlet(np.ones(5))]))},
        family="metric",
        args=(*BATCH_ARGS, Arg("hist", "weight", ("B",), differentiable=False)),
        forward=_dsm_forward,
        vjp=_dsm_vjp,
        params={"min_val": -2.0, "num_bins": 10, "momentum": 0.01},
        reduces_itself=True,
        reductions=("mean",),
        check=_check_dsm,
        kinks=_dsm_kinks,
        sizes={"B": 10},
        sampler=_dsm_sampler,
        edge_cases=_dsm_edges(),
        nonnegative=False,
        formula=r"L = \frac{1}{T} \sum_t \mathrm{CDF}_{h'}(r_t)\, x_t, \ x_t = d_{ap} - d_{an}, \ "
        r"h' \propto (1 - \mu) h + \mu\, \mathrm{hist}(x)",
        reference="Zhang & Rusinkiewicz 2019 (CDF-based dynamic soft margin); pytorch-metric-learning DynamicSoftMarginLoss",
    )
)


def _dsm_params(min_val: Any, num_bins: Any, momentum: Any) -> dict[str, Any]:
    return {
        "min_val": real("min_val", min_val, high=0.0, high_open=True),
        "num_bins": integer("num_bins", num_bins, low=1),
        "momentum": real("momentum", momentum, low=0.0, high=1.0),
    }


def dynamic_soft_margin(
    embeddings: Any, labels: Any, hist: Any = None, min_val: float = -2.0, num_bins: int = 10, momentum: float = 0.01
) -> Any:
    r"""Dynamic soft margin loss (Zhang & Rusinkiewicz 2019), as PML's ``DynamicSoftMarginLoss``,
    with its running histogram ``hist`` an explicit input (see :class:`DynamicSoftMarginLoss`).

    Over all triplets :math:`t = (a, p, n)` (:math:`p \ne a` of :math:`a`'s label, :math:`n` of
    another), with :math:`d` the Euclidean distance of the L2-normalised embeddings,
    :math:`x_t = d_{ap} - d_{an}`, :math:`\Delta = 2|\text{min\_val}|/B`,
    :math:`r_t = \lfloor (x_t - \text{min\_val})/\Delta \rfloor` and
    :math:`\alpha_t = (x_t - \text{min\_val})/\Delta - r_t`: the batch's soft histogram puts
    :math:`1 - \alpha_t` in bin :math:`r_t` and :math:`\alpha_t` in bin :math:`r_t + 1`; it is
    mixed into the state, :math:`\tilde h = (1 - \mu) h + \mu \sum_t(\dots)` (:math:`\mu = 1`
    when :math:`h` is all zero, a fresh loss), :math:`h' = \tilde h / \sum \tilde h`, and

    .. math::  L = \frac{1}{T} \sum_t C_{r_t}\, x_t, \qquad C_r = \sum_{q \le r} h'_q .

    **Gradient.** PML does not detach the histogram: :math:`h'` depends on the batch through
    :math:`\alpha_t` (:math:`\partial \alpha_t / \partial x_t = 1/\Delta`). With
    :math:`\bar C_r = \frac1T \sum_{t: r_t = r} x_t`, :math:`\bar h'_q = \sum_{r \ge q} \bar C_r`
    and :math:`\bar{\tilde h} = (\bar h' - \bar h' \cdot h') / \sum \tilde h`,

    .. math::  \frac{\partial L}{\partial x_t} = \frac{C_{r_t}}{T}
               + \frac{\mu}{\Delta}\big(\bar{\tilde h}_{r_t + 1} - \bar{\tilde h}_{r_t}\big),

    then to :math:`d_{ap}` (+) and :math:`d_{an}` (−) and through the normalisation. The paper
    uses the CDF as a constant weight (its gradient is :math:`C_{r_t}` only); PML's value is the
    same, its gradient has the second term, followed here.

    **Differences.** PML indexes past its histogram when :math:`x_t \ge \text{min\_val} + (B-1)\Delta`
    (1.6 by default: a RuntimeError); here bin indices are clamped to the last bin. No
    triplet (one class, or singletons only) gives 0 and PML leaves its histogram as it is.

    Parameters
    ----------
    embeddings : array or Tensor, shape (N, D)
    labels : integer array, shape (N,)
    hist : array, shape (num_bins,), optional
        The running histogram before this batch (a constant, non-negative); zeros (a fresh
        ``DynamicSoftMarginLoss()``) by default.
    min_val : float, negative
    num_bins : int
    momentum : float in [0, 1]
        :math:`\mu`, the weight of the batch's histogram.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    >>> round(float(dynamic_soft_margin(x, np.array([0, 0, 1]))), 6)
    -0.068019
    """
    params = _dsm_params(min_val, num_bins, momentum)
    if hist is None:
        hist = backend.xp().zeros(params["num_bins"])
    return apply_loss(DYNAMIC_SOFT_MARGIN, embeddings, labels, hist, **params)


def dynamic_soft_margin_histogram(
    embeddings: Any, labels: Any, hist: Any = None, min_val: float = -2.0, num_bins: int = 10, momentum: float = 0.01
) -> Any:
    """The running histogram after the batch (PML's ``hist_`` after a forward pass), an array;
    ``hist`` itself when the batch has no triplet."""
    params = _dsm_params(min_val, num_bins, momentum)
    x, y = as_data(embeddings), as_data(labels)
    if hist is None:
        hist = backend.get_array_module(x).zeros(params["num_bins"])
    h = as_data(hist)
    _check_dsm(x, y, h, num_bins=params["num_bins"])
    if len(_dsm_triplets(y)[0]) == 0:
        return h
    return _dsm_parts(_raw(x), x, y, h, **params)[12]


class DynamicSoftMarginLoss:
    r"""PML's ``DynamicSoftMarginLoss`` with its running histogram as state: calling the
    object returns :func:`dynamic_soft_margin` with the current histogram, then replaces the
    histogram by the batch's updated one (a constant), as PML's forward pass does.

    Parameters
    ----------
    min_val, num_bins, momentum
        As :func:`dynamic_soft_margin`.
    hist : array, optional
        The initial histogram (copied); zeros by default.

    Examples
    --------
    >>> import numpy as np
    >>> loss = DynamicSoftMarginLoss()
    >>> x, y = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]), np.array([0, 0, 1])
    >>> round(float(loss(x, y)), 6)
    -0.068019
    >>> [round(float(v), 6) for v in loss.hist[3:6]]
    [0.232233, 0.267767, 0.5]
    """

    def __init__(self, min_val: float = -2.0, num_bins: int = 10, momentum: float = 0.01, hist: Any = None) -> None:
        self.params = _dsm_params(min_val, num_bins, momentum)
        module = backend.xp()
        nb = self.params["num_bins"]
        self.hist = module.zeros(nb) if hist is None else module.array(as_data(hist), dtype=float)
        if self.hist.shape != (nb,):
            raise ValueError(f"hist must have shape ({nb},), got {tuple(self.hist.shape)}")

    def __call__(self, embeddings: Any, labels: Any) -> Any:
        """The loss with the current histogram; the histogram then moves to the batch's update."""
        out = dynamic_soft_margin(embeddings, labels, self.hist, **self.params)
        self.hist = dynamic_soft_margin_histogram(embeddings, labels, self.hist, **self.params)
        return out
