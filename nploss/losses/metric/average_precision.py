r"""Average-precision surrogates of pytorch-metric-learning (PML 2.9): FastAP (histogram binning of
distances, Cakir et al. 2019), Smooth-AP (sigmoid-smoothed ranks, Brown et al. 2020) and PNP
(ranking by positives and negatives, Li et al. 2022), each with its analytic gradient.

All three rank the batch from each anchor's point of view: FastAP through squared Euclidean
distances between unit rows (PML's ``LpDistance(power=2)``, normalised), Smooth-AP and PNP through
cosine similarities :math:`S = U U^\top` of the unit rows :math:`U` (PML's ``CosineSimilarity``).
Rows are scaled by :math:`1/\sqrt{\|x\|^2 + 10^{-16}}` (:mod:`nploss.losses.metric._common`), PML's
``F.normalize`` by :math:`1/\max(\|x\|, 10^{-12})`: the same to a relative :math:`10^{-16}`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...autograd import as_data
from .._apply import apply_loss
from .._params import choice, integer, real
from .._shared import unit_rows, unit_rows_vjp
from .._spec import LossSpec, register
from ._common import (
    BATCH_ARGS,
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

__all__ = ["fastap", "pnp", "smooth_ap"]


def _k(ref: Any, a: Any) -> Any:
    """A constant (mask, bin centres) as an array of ``ref``'s module, in ``ref``'s float dtype
    (booleans stay booleans), so that float32 inputs stay float32."""
    d = as_data(ref)
    a = np.asarray(a)
    return _raw(d).asarray(a, dtype=None if a.dtype == bool else d.dtype)


def _masks(labels: Any) -> tuple[Any, Any, Any]:
    """Constant masks ``(N, N)``: positives (same label, i != j), negatives, and ``same``
    (same label, the anchor included)."""
    pos, neg = _pair_masks(None, labels)
    y = as_data(labels)
    rx = _raw(y)
    same = rx.expand_dims(y, 1) == rx.expand_dims(y, 0)
    return pos, neg, same


def _check_nonempty(embeddings: Any, labels: Any, **params: Any) -> None:
    """FastAP and PNP average over the anchors with a positive: an empty batch has no mean
    (their 'mean' of a batch without positives is PML's 0), so it is refused."""
    _check_batch(embeddings, labels)
    if embeddings.shape[0] == 0:
        raise ValueError("embeddings must hold at least one row (an empty batch has no anchors)")


def _safe_anchors(pos: Any) -> Any:
    return pos.any(axis=1)


def _anchor_weights(xp: Any, reduction: str, embeddings: Any, labels: Any, **_: Any) -> float:
    """'mean' over the anchors that have a positive (PML's ``safe_N``), as FastAP and PNP reduce."""
    pos, _, _ = _masks(labels)
    return 1.0 / max(int(_safe_anchors(pos).sum()), 1)


# ------------------------------------------------------------------------------------ FastAP


def _fastap_bins(num_bins: int) -> tuple[np.ndarray, float]:
    """PML's bin centres ``linspace(0, 4, num_bins + 1)`` (squared distances of unit rows lie in
    [0, 4]) and their spacing."""
    return np.linspace(0.0, 4.0, num_bins + 1), 4.0 / num_bins


def _fastap_parts(xp: Any, embeddings: Any, labels: Any, num_bins: int) -> dict[str, Any]:
    u, n = unit_rows(xp, embeddings, EPS)
    dist = pairwise_distances(xp, u, u, squared=True)
    pos, neg, _ = _masks(labels)
    centres, delta = _fastap_bins(num_bins)
    c = _k(embeddings, np.reshape(centres, (-1, 1, 1)))
    # triangular pulses: each distance shared between its two nearest bins, (L+1, N, N)
    pulse = xp.relu(1.0 - xp.abs(xp.expand_dims(dist, 0) - c) / delta)
    posf = _k(embeddings, _host(pos).astype(np.float64))
    negf = _k(embeddings, _host(neg).astype(np.float64))
    h_pos = xp.transpose(xp.sum(pulse * posf, axis=2))  # (N, L+1)
    h_neg = xp.transpose(xp.sum(pulse * negf, axis=2))
    upper = _k(embeddings, np.triu(np.ones((num_bins + 1, num_bins + 1))))  # x @ upper = cumsum(x)
    cum_pos = xp.matmul(h_pos, upper)
    cum_all = xp.matmul(h_pos + h_neg, upper)
    return {
        "u": u,
        "n": n,
        "dist": dist,
        "pos": pos,
        "neg": neg,
        "posf": posf,
        "negf": negf,
        "c": c,
        "delta": delta,
        "pulse": pulse,
        "h_pos": h_pos,
        "cum_pos": cum_pos,
        "cum_all": cum_all,
        "upper": upper,
    }


def _fastap_forward(xp: Any, embeddings: Any, labels: Any, *, num_bins: int) -> Any:
    p = _fastap_parts(xp, embeddings, labels, num_bins)
    safe = as_data(p["h_pos"]) > 0  # PML's safe_H: h+ H+ > 0 (then H > 0 too)
    den = xp.where(safe, p["cum_all"], 1.0)
    ap = xp.sum(xp.where(safe, p["h_pos"] * p["cum_pos"] / den, 0.0), axis=1)
    if not bool(_host(safe).any()):  # PML's zero_losses (unreachable: the pulses cover [0, 4])
        return xp.sum(embeddings, axis=1) * 0.0
    anchors = _host(_safe_anchors(p["pos"]))
    n_pos = np.maximum(_host(p["pos"]).sum(axis=1), 1).astype(np.float64)
    return xp.where(_k(embeddings, anchors), 1.0 - ap / _k(embeddings, n_pos), 0.0)


def _fastap_vjp(xp: Any, g: Any, embeddings: Any, labels: Any, *, num_bins: int) -> tuple[Any]:
    p = _fastap_parts(xp, embeddings, labels, num_bins)
    safe = as_data(p["h_pos"]) > 0
    if not bool(_host(safe).any()):
        return (embeddings * 0.0,)
    anchors = _host(_safe_anchors(p["pos"]))
    n_pos = np.maximum(_host(p["pos"]).sum(axis=1), 1).astype(np.float64)
    # d loss_i / d ap_i = -g_i / |P(i)| on the anchors with positives
    ga = xp.reshape(xp.where(_k(embeddings, anchors), -g / _k(embeddings, n_pos), 0.0), (-1, 1))
    h, cp = p["h_pos"], p["cum_pos"]
    ca = xp.where(safe, p["cum_all"], 1.0)
    r = xp.where(safe, h / ca, 0.0)  # d(h+ H+ / H)/dH+ , per bin
    q = xp.where(safe, h * cp / (ca * ca), 0.0)  # -d(h+ H+ / H)/dH
    upper_t = xp.transpose(p["upper"])  # y @ upper^T = reverse cumsum of y
    # bin b's h+ enters its own term, every H+_{b'} and every H_{b'} with b' >= b; h- only the H
    g_hpos = ga * (xp.where(safe, cp / ca, 0.0) + xp.matmul(r - q, upper_t))
    g_hneg = ga * -xp.matmul(q, upper_t)
    # the pulses' slope: -sign(D - c)/delta inside the pulse (relu's and abs's slopes 0 at their kinks)
    diff = xp.expand_dims(p["dist"], 0) - p["c"]
    inside = as_data(p["pulse"]) > 0
    slope = xp.where(inside, -xp.sign(diff) / p["delta"], 0.0)  # (L+1, N, N)
    gbin = xp.expand_dims(xp.transpose(g_hpos), 2) * p["posf"] + xp.expand_dims(xp.transpose(g_hneg), 2) * p["negf"]
    gd = xp.sum(gbin * slope, axis=0)
    a, b = pairwise_distances_vjp(xp, gd, p["u"], p["u"], squared=True)
    return (unit_rows_vjp(xp, a + b, p["u"], p["n"]),)


def _fastap_kinks(embeddings: Any, labels: Any, *, num_bins: int) -> Any:
    """Distances of the off-diagonal squared distances to the bins' corners (multiples of delta)."""
    xp = _np()
    u, _ = unit_rows(xp, embeddings, EPS)
    dist = pairwise_distances(xp, u, u, squared=True)
    _, delta = _fastap_bins(num_bins)
    off = ~np.eye(dist.shape[0], dtype=bool)
    t = dist[off] / delta
    return delta * np.abs(t - np.round(t))


FASTAP = register(
    LossSpec(
        name="fastap",
        family="metric",
        args=BATCH_ARGS,
        forward=_fastap_forward,
        vjp=_fastap_vjp,
        params={"num_bins": 10},
        reduction_weights=_anchor_weights,
        check=_check_nonempty,
        kinks=_fastap_kinks,
        sampler=_labelled_batch,
        edge_cases=_batch_edges(),
        formula=r"\ell_i = 1 - \frac{1}{|P(i)|} \sum_{b=0}^{L} \frac{h^+_{ib} H^+_{ib}}{H_{ib}}, \ "
        r"h^\pm_{ib} = \sum_{j \in P(i)/N(i)} \max(0, 1 - |D_{ij} - c_b|/\Delta)",
        reference="Cakir, He, Xia, Kulis & Sclaroff 2019 (FastAP); pytorch-metric-learning FastAPLoss",
    )
)


def fastap(embeddings: Any, labels: Any, num_bins: int = 10, reduction: str = "mean") -> Any:
    r"""FastAP (Cakir et al. 2019): average precision from histograms of distances, PML's
    ``FastAPLoss``.

    The embeddings are scaled to unit rows and :math:`D_{ij} = \|u_i - u_j\|^2 \in [0, 4]`. With
    :math:`L` = ``num_bins`` bins of width :math:`\Delta = 4/L` centred at :math:`c_b = b\Delta`,
    :math:`b = 0..L`, each distance is shared between its two nearest bins by triangular pulses
    :math:`\delta_b(D) = \max(0, 1 - |D - c_b|/\Delta)`, giving per anchor :math:`i` the
    histograms of its positives :math:`P(i)` (same label, not itself) and negatives :math:`N(i)`
    and their running sums:

    .. math::  h^+_{ib} = \sum_{j \in P(i)} \delta_b(D_{ij}), \quad h^-_{ib} = \sum_{j \in N(i)} \delta_b(D_{ij}),
               \quad H^+_{ib} = \sum_{b' \le b} h^+_{ib'}, \quad H_{ib} = \sum_{b' \le b} (h^+_{ib'} + h^-_{ib'}),

    .. math::  \ell_i = 1 - \frac{1}{|P(i)|} \sum_{b:\, h^+_{ib} > 0} \frac{h^+_{ib} H^+_{ib}}{H_{ib}}.

    The gradient, with :math:`t_b = h^+_b H^+_b / H_b` over the bins with :math:`h^+_b > 0`
    (the others are left out, as PML's ``safe_H`` mask leaves them out, value and gradient):

    .. math::  \frac{\partial \mathrm{AP}}{\partial h^+_b} = \frac{H^+_b}{H_b}
               + \sum_{b' \ge b} \Big(\frac{h^+_{b'}}{H_{b'}} - \frac{t_{b'}}{H_{b'}}\Big), \qquad
               \frac{\partial \mathrm{AP}}{\partial h^-_b} = -\sum_{b' \ge b} \frac{t_{b'}}{H_{b'}}, \qquad
               \frac{\partial \delta_b}{\partial D} = -\frac{\operatorname{sign}(D - c_b)}{\Delta}\
               \text{inside the pulse},

    then through the squared distances and the unit rows. The loss is piecewise smooth: its
    derivative jumps where a distance crosses a bin centre (multiples of :math:`\Delta`); there
    the slopes of ``relu`` and ``abs`` are taken as 0, as PyTorch takes them.

    Parameters
    ----------
    embeddings : array or Tensor, shape (N, D)
    labels : integer array, shape (N,)
    num_bins : int, at least 1
        :math:`L`, PML's ``num_bins`` (default 10).
    reduction : {'mean', 'sum', 'none'}
        'none' gives :math:`\ell_i` per anchor (0 for an anchor without positives); 'mean'
        averages over the anchors **with** positives (PML's ``safe_N`` with its ``MeanReducer``);
        'sum' is their total. A batch in which no anchor has a positive gives 0.

    Notes
    -----
    ``fastap(x, y)`` equals PML's ``FastAPLoss()(x, y)`` (its ``LpDistance(power=2)`` on
    normalised embeddings, its ``MeanReducer``), value and gradient. As PML (and the authors'
    PyTorch code) does, and followed here: the histogram has :math:`L + 1` triangular pulses
    centred at ``linspace(0, 4, L + 1)`` over *squared* distances of unit rows (the paper writes
    the binning for a generic distance range with :math:`L` bins); bins without positives are
    dropped (PML's ``safe_H``; their terms are 0, so only the slope at an empty bin's edge is
    affected, and there the pulses' slope is 0 anyway); anchors without positives are left out
    of the mean (``safe_N``).

    Raises
    ------
    ValueError
        If ``embeddings`` is not (N, D), ``labels`` not (N,), or ``num_bins`` not a positive integer.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-1.0, 0.1]])
    >>> round(float(fastap(x, np.array([0, 0, 1, 1]))), 6)  # PML's FastAPLoss()(x, y) too
    0.166804
    """
    return apply_loss(FASTAP, embeddings, labels, reduction=reduction, num_bins=integer("num_bins", num_bins, low=1))


# ------------------------------------------------------------------------------------ Smooth-AP


def _sig_parts(xp: Any, s: Any, temperature: float, clamp: bool) -> tuple[Any, Any]:
    """``x[q, k, l] = (S_ql - S_qk)/tau``, its sigmoid and the sigmoid's slope in ``S`` (PNP's
    sigmoid clamps the exponent to [-50, 50]: slope 0 outside, as PyTorch's clamp gives)."""
    x = (xp.expand_dims(s, 1) - xp.expand_dims(s, 2)) / temperature
    if clamp:
        e = xp.clip(-x, -50.0, 50.0)
        sig = 1.0 / (1.0 + xp.exp(e))
        inside = np.abs(np.asarray(_host(x))) <= 50.0
        slope = xp.where(_k(s, inside), sig * (1.0 - sig) / temperature, 0.0)
    else:
        sig = xp.sigmoid(x)
        slope = sig * (1.0 - sig) / temperature
    return sig, slope


def _smooth_ap_parts(xp: Any, embeddings: Any, labels: Any, temperature: float) -> dict[str, Any]:
    s, u, n = cosine_matrix(xp, embeddings)
    _, _, same = _masks(labels)
    m = same.shape[0]
    other = _k(embeddings, (~np.eye(m, dtype=bool)).astype(np.float64))  # l != k, indexed [k, l]
    samef = _host(same).astype(np.float64)
    sig, slope = _sig_parts(xp, s, temperature, clamp=False)
    # [q, k, l]: l counts in k's positive rank when l is in q's class
    in_class = _k(embeddings, np.expand_dims(samef, 1) * np.expand_dims(samef, 2))  # (q,k,l): k and l in q's class
    rank_all = 1.0 + xp.sum(sig * other, axis=2)
    rank_pos = 1.0 + xp.sum(sig * other * in_class, axis=2)
    return {
        "u": u,
        "n": n,
        "samef": samef,
        "other": other,
        "in_class": in_class,
        "sig": sig,
        "slope": slope,
        "rank_all": rank_all,
        "rank_pos": rank_pos,
    }


def _smooth_ap_forward(xp: Any, embeddings: Any, labels: Any, *, temperature: float) -> Any:
    p = _smooth_ap_parts(xp, embeddings, labels, temperature)
    samef = p["samef"]
    size = samef.sum(axis=1)
    ap = xp.sum(_k(embeddings, samef) * p["rank_pos"] / p["rank_all"], axis=1) / _k(embeddings, size)
    return 1.0 - ap


def _smooth_ap_vjp(xp: Any, g: Any, embeddings: Any, labels: Any, *, temperature: float) -> tuple[Any]:
    p = _smooth_ap_parts(xp, embeddings, labels, temperature)
    samef = p["samef"]
    size = samef.sum(axis=1)
    gap = xp.reshape(-g / _k(embeddings, size), (-1, 1)) * _k(embeddings, samef)  # d/d(R+_qk / R_qk), k in q's class
    ga = gap / p["rank_all"]  # d/dR+
    gb = -gap * p["rank_pos"] / (p["rank_all"] * p["rank_all"])  # d/dR
    coef = (xp.expand_dims(ga, 2) * p["in_class"] + xp.expand_dims(gb, 2)) * p["other"] * p["slope"]
    gs = xp.sum(coef, axis=1) - xp.sum(coef, axis=2)  # x_qkl = (S_ql - S_qk)/tau
    return (cosine_matrix_vjp(xp, gs, p["u"], p["n"]),)


SMOOTH_AP = register(
    LossSpec(
        name="smooth_ap",
        family="metric",
        args=BATCH_ARGS,
        forward=_smooth_ap_forward,
        vjp=_smooth_ap_vjp,
        params={"temperature": 0.01},
        check=_check_batch,
        sampler=_labelled_batch,
        sizes={"D": 3},
        edge_cases=_batch_edges(),
        formula=r"\ell_q = 1 - \frac{1}{|K(q)|} \sum_{k \in K(q)} \frac{1 + \sum_{l \in K(q), l \ne k} "
        r"\sigma((S_{ql} - S_{qk})/\tau)}{1 + \sum_{l \ne k} \sigma((S_{ql} - S_{qk})/\tau)}",
        reference="Brown, Xie, Kalogeiton & Zisserman 2020 (Smooth-AP); pytorch-metric-learning SmoothAPLoss",
    )
)


def smooth_ap(embeddings: Any, labels: Any, temperature: float = 0.01, reduction: str = "mean") -> Any:
    r"""Smooth-AP (Brown et al. 2020): average precision with ranks smoothed by sigmoids, PML's
    ``SmoothAPLoss``.

    With cosines :math:`S = U U^\top` of the unit rows, :math:`K(q)` the samples of :math:`q`'s
    class (:math:`q` included) and :math:`\sigma_{qkl} = \sigma((S_{ql} - S_{qk})/\tau)`:

    .. math::  R^+_{qk} = 1 + \sum_{l \in K(q),\, l \ne k} \sigma_{qkl}, \qquad
               R_{qk} = 1 + \sum_{l \ne k} \sigma_{qkl}, \qquad
               \ell_q = 1 - \frac{1}{|K(q)|} \sum_{k \in K(q)} \frac{R^+_{qk}}{R_{qk}}.

    Gradient: with :math:`a_{qk} = 1/(|K(q)| R_{qk})`, :math:`b_{qk} = -R^+_{qk}/(|K(q)| R_{qk}^2)` and
    :math:`c_{qkl} = (a_{qk} [l \in K(q)] + b_{qk})\, \sigma_{qkl}(1 - \sigma_{qkl})/\tau`,

    .. math::  \frac{\partial\, \mathrm{AP}_q}{\partial S_{ql}} = \sum_{k \in K(q),\, k \ne l} c_{qkl}
               - \sum_{l' \ne l} c_{qll'} [l \in K(q)],

    then through :math:`S = U U^\top` and the unit rows. Smooth everywhere.

    Parameters
    ----------
    embeddings : array or Tensor, shape (N, D)
    labels : integer array, shape (N,)
    temperature : float, positive
        :math:`\tau`, PML's ``temperature`` (default 0.01).
    reduction : {'mean', 'sum', 'none'}
        'none' gives :math:`\ell_q` per anchor; 'mean' averages over all anchors (PML's
        ``MeanReducer``). A batch of one class gives 0.

    Notes
    -----
    PML's ``SmoothAPLoss()(x, y)`` equals ``smooth_ap(x, y)`` for the batches it is written for:
    classes of equal size (it raises ``ValueError`` otherwise) laid out in consecutive blocks.
    Two departures of PML, not followed here: (1) PML ignores the labels' values and takes the
    positives of a sample to be its block of ``N / (N / C)`` consecutive rows (``C`` classes of
    ``N / C``), which are its class only when there are as many classes as samples per class
    (``C = N / C``); with, say, 3 classes of 2 it groups rows 0-2 and 3-5. (2) PML accumulates the
    per-anchor AP in a tensor of the *default* dtype, so that for float64 embeddings it
    returns a float32 loss unless ``torch.set_default_dtype(torch.float64)``; the reference fixtures
    set it. nploss takes :math:`K(q)` from the labels, for any batch. Like the authors' code
    (and PML), the anchor counts among its own positives (:math:`q \in K(q)`, ranked at
    :math:`S_{qq} = 1`), where the paper's AP ranks the retrieval set without the query.

    Raises
    ------
    ValueError
        If ``embeddings`` is not (N, D), ``labels`` not (N,), or ``temperature`` not positive.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])
    >>> round(float(smooth_ap(x, np.array([0, 0, 1, 1]), temperature=0.5)), 6)  # PML's too
    0.180534
    """
    return apply_loss(
        SMOOTH_AP,
        embeddings,
        labels,
        reduction=reduction,
        temperature=real("temperature", temperature, low=0.0, low_open=True),
    )


# ------------------------------------------------------------------------------------ PNP

PNP_VARIANTS = ("Ds", "Dq", "Iu", "Ib", "O")


def _pnp_f(xp: Any, r: Any, variant: str, b: float, alpha: float) -> tuple[Any, Any]:
    """The rank transform f(r) of each variant and its derivative f'(r)."""
    if variant == "Ds":
        return xp.log1p(r), 1.0 / (1.0 + r)
    if variant == "Dq":
        return (1.0 + r) ** (-alpha), -alpha * (1.0 + r) ** (-alpha - 1.0)
    if variant == "Iu":
        return (1.0 + r) * xp.log1p(r), xp.log1p(r) + 1.0
    if variant == "Ib":
        return (b * r - xp.log1p(b * r)) / (b * b), r / (1.0 + b * r)
    return r, r * 0.0 + 1.0


def _pnp_parts(xp: Any, embeddings: Any, labels: Any, anneal: float) -> dict[str, Any]:
    s, u, n = cosine_matrix(xp, embeddings)
    pos, neg, same = _masks(labels)
    anchors = _host(_safe_anchors(pos))
    # K(q): the anchor and its positives, for anchors with positives (PML's I_pos with its diagonal)
    kq = _host(same).astype(np.float64) * anchors[:, None].astype(np.float64)
    negf = _host(neg).astype(np.float64)
    sig, slope = _sig_parts(xp, s, anneal, clamp=True)
    rank = xp.sum(sig * _k(embeddings, negf[:, None, :]), axis=2)  # r_qk: negatives of q above k
    return {
        "u": u,
        "n": n,
        "anchors": anchors,
        "kq": kq,
        "negf": negf,
        "slope": slope,
        "rank": rank,
        "n_pos": np.maximum(kq.sum(axis=1), 1.0),
    }


def _pnp_forward(xp: Any, embeddings: Any, labels: Any, *, b: float, alpha: float, anneal: float, variant: str) -> Any:
    p = _pnp_parts(xp, embeddings, labels, anneal)
    if not p["anchors"].any():
        return xp.sum(embeddings, axis=1) * 0.0
    f, _ = _pnp_f(xp, p["rank"], variant, b, alpha)
    per = xp.sum(f * _k(embeddings, p["kq"]), axis=1) / _k(embeddings, p["n_pos"])
    if variant == "Dq":
        per = 1.0 - per
    return xp.where(_k(embeddings, p["anchors"]), per, 0.0)


def _pnp_vjp(
    xp: Any, g: Any, embeddings: Any, labels: Any, *, b: float, alpha: float, anneal: float, variant: str
) -> tuple[Any]:
    p = _pnp_parts(xp, embeddings, labels, anneal)
    if not p["anchors"].any():
        return (embeddings * 0.0,)
    _, df = _pnp_f(xp, p["rank"], variant, b, alpha)
    sign = -1.0 if variant == "Dq" else 1.0
    gq = xp.where(_k(embeddings, p["anchors"]), sign * g, 0.0) / _k(embeddings, p["n_pos"])
    gr = xp.reshape(gq, (-1, 1)) * df * _k(embeddings, p["kq"])  # d/dr_qk
    coef = xp.expand_dims(gr, 2) * p["slope"] * _k(embeddings, p["negf"][:, None, :])  # [q, k, l]
    gs = xp.sum(coef, axis=1) - xp.sum(coef, axis=2)  # x_qkl = (S_ql - S_qk)/tau
    return (cosine_matrix_vjp(xp, gs, p["u"], p["n"]),)


PNP = register(
    LossSpec(
        name="pnp",
        family="metric",
        args=BATCH_ARGS,
        forward=_pnp_forward,
        vjp=_pnp_vjp,
        params={"b": 2.0, "alpha": 1.0, "anneal": 0.01, "variant": "O"},
        reduction_weights=_anchor_weights,
        check=_check_nonempty,
        sampler=_labelled_batch,
        edge_cases=_batch_edges(),
        formula=r"\ell_q = \frac{1}{|K(q)|} \sum_{k \in K(q)} f\Big(\sum_{l \in N(q)} "
        r"\sigma((S_{ql} - S_{qk})/\tau)\Big)",
        reference="Li, Min, Ji, Jiang & Yang 2022 (PNP); pytorch-metric-learning PNPLoss",
    )
)


def pnp(
    embeddings: Any,
    labels: Any,
    b: float = 2,
    alpha: float = 1,
    anneal: float = 0.01,
    variant: str = "O",
    reduction: str = "mean",
) -> Any:
    r"""PNP loss (Li et al. 2022, "Rethinking the optimization of average precision"), PML's
    ``PNPLoss``: for each positive, a function of the smoothed number of negatives ranked above it.

    With cosines :math:`S = U U^\top` of the unit rows, :math:`K(q)` the anchor and its positives,
    :math:`N(q)` its negatives, :math:`\tau` = ``anneal`` and PML's clamped sigmoid
    :math:`\sigma_c(x) = 1/(1 + e^{\operatorname{clip}(-x/\tau, -50, 50)})`:

    .. math::  r_{qk} = \sum_{l \in N(q)} \sigma_c(S_{ql} - S_{qk}), \qquad
               \ell_q = \frac{1}{|K(q)|} \sum_{k \in K(q)} f(r_{qk}),

    with ``variant``: ``'O'`` :math:`f(r) = r`; ``'Ds'`` :math:`\log(1 + r)`; ``'Dq'``
    :math:`(1 + r)^{-\alpha}` (and :math:`\ell_q \to 1 - \ell_q`); ``'Iu'`` :math:`(1 + r)\log(1 + r)`;
    ``'Ib'`` :math:`(b r - \log(1 + b r))/b^2`. Gradient: :math:`f'(r)` is :math:`1`,
    :math:`1/(1+r)`, :math:`-\alpha (1+r)^{-\alpha-1}`, :math:`1 + \log(1+r)`, :math:`r/(1 + b r)`;
    with :math:`c_{qkl} = f'(r_{qk})\, \sigma_c'/|K(q)|` (:math:`\sigma_c' = \sigma(1-\sigma)/\tau`
    inside the clamp, 0 outside),

    .. math::  \frac{\partial \ell_q}{\partial S_{ql}} = \sum_{k \in K(q)} c_{qkl}\ (l \in N(q)), \qquad
               \frac{\partial \ell_q}{\partial S_{qk}} = -\sum_{l \in N(q)} c_{qkl}\ (k \in K(q)).

    Parameters
    ----------
    embeddings : array or Tensor, shape (N, D)
    labels : integer array, shape (N,)
    b : float, positive
        The ``'Ib'`` variant's :math:`b` (PML's default 2).
    alpha : float, positive
        The ``'Dq'`` variant's exponent (PML's default 1).
    anneal : float, positive
        The sigmoid's temperature :math:`\tau` (PML's default 0.01).
    variant : {'O', 'Ds', 'Dq', 'Iu', 'Ib'}
        PML's ``variant`` names (default ``'O'``, the plain count; the paper recommends ``'Dq'``).
    reduction : {'mean', 'sum', 'none'}
        'none' gives :math:`\ell_q` per anchor (0 for anchors without positives); 'mean'
        averages over the anchors with positives, as PML does; 'sum' is their total. A batch in
        which no anchor has a positive gives 0, as PML's does.

    Notes
    -----
    ``pnp(x, y)`` equals PML's ``PNPLoss()(x, y)``, value and gradient, for every variant.
    PML's departures, followed here: its sigmoid clamps the exponent :math:`-x/\tau` to
    :math:`[-50, 50]` (a change of at most :math:`e^{-50} \approx 2 \cdot 10^{-22}` in value, the
    slope set to 0 beyond it: with the default :math:`\tau` for cosine gaps over 0.5); the anchor
    itself counts among its positives (:math:`q \in K(q)`, :math:`|K(q)| = |P(q)| + 1`), as in
    the authors' code; PML's ``'O'`` (the default) is the unbounded count, not one of the paper's
    AP-shaped variants.

    Raises
    ------
    ValueError
        If the shapes are wrong, ``b``, ``alpha`` or ``anneal`` are not positive, or ``variant``
        is not one of the five.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])
    >>> round(float(pnp(x, np.array([0, 0, 1, 1]), anneal=0.5)), 6)  # PML's PNPLoss(anneal=0.5) too
    0.345549
    """
    return apply_loss(
        PNP,
        embeddings,
        labels,
        reduction=reduction,
        b=real("b", b, low=0.0, low_open=True),
        alpha=real("alpha", alpha, low=0.0, low_open=True),
        anneal=real("anneal", anneal, low=0.0, low_open=True),
        variant=choice("variant", variant, PNP_VARIANTS),
    )
