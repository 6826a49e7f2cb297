r"""Cosine-similarity losses over a labelled batch, as pytorch-metric-learning (PML) 2.9 defines
them: :func:`multi_similarity` (Wang et al. 2019), :func:`circle` (Sun et al. 2020),
:func:`tuplet_margin` and :func:`intra_pair_variance` (Yu & Tao 2019).

Every one takes ``(embeddings, labels)`` and works on the cosine-similarity matrix
:math:`S = U U^\top` of the unit rows :math:`u_i = x_i / \sqrt{\|x_i\|^2 + 10^{-16}}` (PML's
default ``CosineSimilarity`` distance, which ``F.normalize``\ s: the two agree to a relative
:math:`10^{-16}/\|x\|^2`). Positive pairs are the ordered pairs :math:`(i, j)`, :math:`i \ne j`,
of equal labels, :math:`P(i)` the positives of anchor :math:`i` and :math:`N(i)` its negatives.
The gradient of the embeddings follows from that of :math:`S` by
:math:`\nabla_U = (G + G^\top) U` and the unit-row Jacobian.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...autograd import as_data
from .._apply import apply_loss
from .._params import flag, real
from .._spec import LossSpec, register
from ._common import (
    BATCH_ARGS,
    EPS,
    _batch_edges,
    _check_batch,
    _labelled_batch,
    _np,
    _pair_masks,
    _raw,
    cosine_matrix,
    cosine_matrix_vjp,
)

__all__: list[str] = ["circle", "intra_pair_variance", "multi_similarity", "tuplet_margin"]

# ------------------------------------------------------------------------------------ helpers


def _lse1(xp: Any, z: Any, axis: int = -1) -> Any:
    r""":math:`\log(1 + \sum e^{z})` along ``axis`` (PML's ``logsumexp(add_one=True)``): a zero
    appended to the exponents, so that a row of -inf (no terms) gives exactly 0 with a zero gradient."""
    zd = as_data(z)
    shape = list(zd.shape)
    shape[axis] = 1
    zero = _raw(zd).zeros(tuple(shape), dtype=zd.dtype)
    return xp.logsumexp(xp.concatenate([z, zero], axis=axis), axis=axis)


def _edges() -> dict[str, Any]:
    cases = _batch_edges()
    base = np.array([[0.3, -0.2, 0.5], [0.9, 0.1, 0.2], [1.0, 0.4, -0.1], [-0.2, 0.7, 0.3], [-0.6, 0.2, 0.9]])
    cases["a class with one sample"] = lambda rng: [base.copy(), np.array([0, 0, 1, 1, 2])]
    cases["a zero embedding"] = lambda rng: [np.vstack([base[:4], np.zeros((1, 3))]), np.array([0, 0, 1, 1, 1])]
    return cases


def _mean_weight(mask: Any) -> float:
    """1 / (the number of pairs in ``mask``), 1 when there are none (PML's reducers give 0 then);
    NaN for an empty batch, as every nploss mean over nothing."""
    return math.nan if mask.shape[0] == 0 else 1.0 / max(int(mask.sum()), 1)


# ------------------------------------------------------------------------------------ multi-similarity


def _ms_forward(xp: Any, embeddings: Any, labels: Any, *, alpha: float, beta: float, base: float) -> Any:
    s, _, _ = cosine_matrix(xp, embeddings)
    pos, neg = _pair_masks(xp, labels)
    lp = _lse1(xp, xp.where(pos, alpha * (base - s), -np.inf)) / alpha
    ln = _lse1(xp, xp.where(neg, beta * (s - base), -np.inf)) / beta
    return lp + ln


def _ms_vjp(xp: Any, g: Any, embeddings: Any, labels: Any, *, alpha: float, beta: float, base: float) -> tuple[Any]:
    s, u, n = cosine_matrix(xp, embeddings)
    pos, neg = _pair_masks(xp, labels)
    zp = xp.where(pos, alpha * (base - s), -np.inf)
    zn = xp.where(neg, beta * (s - base), -np.inf)
    # d/dz of log(1 + sum e^z) is e^z / (1 + sum e^z) = e^(z - lse1)
    pp = xp.exp(zp - xp.reshape(_lse1(xp, zp), (-1, 1)))
    pn = xp.exp(zn - xp.reshape(_lse1(xp, zn), (-1, 1)))
    gs = xp.reshape(g, (-1, 1)) * (pn - pp)
    return (cosine_matrix_vjp(xp, gs, u, n),)


MULTI_SIMILARITY = register(
    LossSpec(
        name="multi_similarity",
        family="metric",
        args=BATCH_ARGS,
        forward=_ms_forward,
        vjp=_ms_vjp,
        params={"alpha": 2.0, "beta": 50.0, "base": 0.5},
        check=_check_batch,
        sampler=_labelled_batch,
        edge_cases=_edges(),
        formula=r"\ell_i = \frac{1}{\alpha}\log\Big(1 + \sum_{j \in P(i)} e^{-\alpha(S_{ij} - \lambda)}\Big)"
        r" + \frac{1}{\beta}\log\Big(1 + \sum_{k \in N(i)} e^{\beta(S_{ik} - \lambda)}\Big)",
        reference="Wang, Han, Huang, Dong & Scott 2019; pytorch-metric-learning MultiSimilarityLoss",
    )
)


def multi_similarity(
    embeddings: Any,
    labels: Any,
    alpha: float = 2.0,
    beta: float = 50.0,
    base: float = 0.5,
    reduction: str = "mean",
) -> Any:
    r"""Multi-similarity loss (Wang et al. 2019), pytorch-metric-learning's ``MultiSimilarityLoss``.

    .. math::  \ell_i = \frac{1}{\alpha}\log\Big(1 + \sum_{j \in P(i)} e^{-\alpha(S_{ij} - \lambda)}\Big)
               + \frac{1}{\beta}\log\Big(1 + \sum_{k \in N(i)} e^{\beta(S_{ik} - \lambda)}\Big)

    with :math:`S` the cosine similarities and :math:`\lambda` = ``base``. Its derivative is a
    pair of softmaxes, each with an extra "1" in the denominator:

    .. math::  \frac{\partial \ell_i}{\partial S_{ij}} = -\frac{e^{-\alpha(S_{ij} - \lambda)}}
               {1 + \sum_{j' \in P(i)} e^{-\alpha(S_{ij'} - \lambda)}}, \qquad
               \frac{\partial \ell_i}{\partial S_{ik}} = \frac{e^{\beta(S_{ik} - \lambda)}}
               {1 + \sum_{k' \in N(i)} e^{\beta(S_{ik'} - \lambda)}},

    computed as :math:`\exp(z - \mathrm{lse})` with a zero appended to the exponents (stable for
    any ``beta``; an anchor without positives or negatives contributes 0 for that term).

    Parameters
    ----------
    embeddings : array or Tensor, shape (N, D)
    labels : integer array, shape (N,)
    alpha, beta : float, positive
        The scales of the positive and of the negative terms (PML's defaults 2 and 50).
    base : float
        The similarity offset :math:`\lambda` (PML's default 0.5).
    reduction : {'mean', 'sum', 'none'}
        'none' gives :math:`\ell_i` per anchor; 'mean' averages over all :math:`N` anchors
        (PML's ``MeanReducer``), 'sum' adds them.

    Differences: equal by default to PML 2.9's ``MultiSimilarityLoss()(embeddings, labels)``. The
    paper's loss is applied to the pairs its own hard-pair mining keeps; PML (and nploss) use all
    pairs unless a miner is given (PML's ``MultiSimilarityMiner``; with nploss, select the rows
    yourself). The embeddings are L2-normalised (PML's ``CosineSimilarity``).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
    >>> round(float(multi_similarity(x, np.array([0, 0, 1]))), 6)
    0.212586
    """
    return apply_loss(
        MULTI_SIMILARITY,
        embeddings,
        labels,
        reduction=reduction,
        alpha=real("alpha", alpha, low=0.0, low_open=True),
        beta=real("beta", beta, low=0.0, low_open=True),
        base=real("base", base),
    )


# ------------------------------------------------------------------------------------ tuplet margin


def _tuplet_cos(xp: Any, s: Any, margin: float) -> tuple[Any, Any]:
    r""":math:`\cos(\arccos S - \beta) = S\cos\beta + \sqrt{1 - S^2}\sin\beta` with the root taken
    as :math:`\sqrt{\max(1 - S^2, 0) + 10^{-16}}` (finite at :math:`S = \pm 1` and past it by
    rounding), and its derivative in :math:`S`."""
    r = 1.0 - s * s
    root = xp.sqrt(xp.relu(r) + EPS)
    c = s * math.cos(margin) + root * math.sin(margin)
    rd = as_data(r)
    dc = math.cos(margin) - xp.where(rd > 0, s / root, 0.0) * math.sin(margin)
    return c, dc


def _tuplet_parts(xp: Any, s: Any, labels: Any, margin: float, scale: float) -> tuple[Any, Any, Any, Any, Any]:
    pos, neg = _pair_masks(xp, labels)
    c, dc = _tuplet_cos(xp, s, margin)
    keep = pos[:, :, None] & neg[:, None, :]  # (i, j, k): j a positive, k a negative of anchor i
    z = xp.where(keep, scale * (xp.expand_dims(s, 1) - xp.expand_dims(c, 2)), -np.inf)
    return pos, z, _lse1(xp, z), c, dc


def _tuplet_forward(xp: Any, embeddings: Any, labels: Any, *, margin: float, scale: float) -> Any:
    s, _, _ = cosine_matrix(xp, embeddings)
    pos, _, l, _, _ = _tuplet_parts(xp, s, labels, math.radians(margin), scale)
    return xp.sum(xp.where(pos, l, 0.0), axis=1)


def _tuplet_vjp(xp: Any, g: Any, embeddings: Any, labels: Any, *, margin: float, scale: float) -> tuple[Any]:
    s, u, n = cosine_matrix(xp, embeddings)
    _, z, l, _, dc = _tuplet_parts(xp, s, labels, math.radians(margin), scale)
    # d l_ij / d z_ijk = e^(z_ijk - l_ij); z_ijk = scale (S_ik - c_ij)
    gz = scale * xp.reshape(g, (-1, 1, 1)) * xp.exp(z - xp.expand_dims(l, 2))
    gs = xp.sum(gz, axis=1) - xp.sum(gz, axis=2) * dc
    return (cosine_matrix_vjp(xp, gs, u, n),)


def _tuplet_weights(xp: Any, reduction: str, embeddings: Any, labels: Any, **_: Any) -> float:
    pos, _ = _pair_masks(xp, labels)
    return _mean_weight(pos)  # PML's MeanReducer over the ordered positive pairs


def _tuplet_kinks(embeddings: Any, labels: Any, *, margin: float, scale: float) -> Any:
    xp = _np()
    s, _, _ = cosine_matrix(xp, embeddings)
    pos, _ = _pair_masks(xp, labels)
    return np.append(1.0 - np.abs(s[pos]), np.inf)  # arccos is singular at S = 1 (and -1)


TUPLET_MARGIN = register(
    LossSpec(
        name="tuplet_margin",
        family="metric",
        args=BATCH_ARGS,
        forward=_tuplet_forward,
        vjp=_tuplet_vjp,
        params={"margin": 5.73, "scale": 64.0},
        reduction_weights=_tuplet_weights,
        check=_check_batch,
        kinks=_tuplet_kinks,
        sampler=_labelled_batch,
        edge_cases=_edges(),
        formula=r"\ell_{ij} = \log\Big(1 + \sum_{k \in N(i)} e^{s(\cos\theta_{ik} - \cos(\theta_{ij} - \beta))}\Big),"
        r"\ (i, j) \in P",
        reference="Yu & Tao 2019 (tuplet margin loss); pytorch-metric-learning TupletMarginLoss",
    )
)


def tuplet_margin(
    embeddings: Any, labels: Any, margin: float = 5.73, scale: float = 64.0, reduction: str = "mean"
) -> Any:
    r"""Tuplet margin loss (Yu & Tao 2019), pytorch-metric-learning's ``TupletMarginLoss``.

    For every ordered positive pair :math:`(i, j)`, with :math:`S_{ij} = \cos\theta_{ij}`,

    .. math::  \ell_{ij} = \log\Big(1 + \sum_{k \in N(i)} e^{s(S_{ik} - c_{ij})}\Big), \qquad
               c_{ij} = \cos(\theta_{ij} - \beta) = S_{ij}\cos\beta + \sqrt{1 - S_{ij}^2}\,\sin\beta,

    :math:`\beta` the margin, :math:`s` the scale. The margin is the paper's *slack* margin:
    :math:`\cos(\theta - \beta) > \cos\theta` for :math:`0 < \beta < 2\theta`, so a larger
    margin makes the positives easier (a smaller loss), on purpose. With :math:`p_{ijk} = e^{z_{ijk}} / (1 + \sum_{k'} e^{z_{ijk'}})`,
    :math:`z_{ijk} = s(S_{ik} - c_{ij})`:

    .. math::  \frac{\partial \ell_{ij}}{\partial S_{ik}} = s\,p_{ijk}, \qquad
               \frac{\partial \ell_{ij}}{\partial S_{ij}} = -s \sum_k p_{ijk}
               \Big(\cos\beta - \frac{S_{ij}\sin\beta}{\sqrt{1 - S_{ij}^2}}\Big).

    The derivative of :math:`c` is unbounded as :math:`S_{ij} \to 1` (the angle is not
    differentiable where two embeddings coincide): nploss takes the root as
    :math:`\sqrt{\max(1 - S^2, 0) + 10^{-16}}`, which keeps value and gradient finite there (a
    pair of identical embeddings has a zero gradient of :math:`S`), while PML's ``acos`` gives
    NaN gradients there and a NaN value where rounding puts :math:`S` above 1. Elsewhere the
    change is below :math:`10^{-16}/(2\sqrt{1 - S^2})` in :math:`c`.

    Parameters
    ----------
    embeddings : array or Tensor, shape (N, D)
    labels : integer array, shape (N,)
    margin : float
        :math:`\beta` in **degrees**, as PML takes it (default 5.73, about 0.1 rad; radians
        are ``math.degrees(beta)`` here).
    scale : float, positive
        :math:`s` (default 64).
    reduction : {'mean', 'sum', 'none'}
        'none' gives, per anchor, :math:`\sum_{j \in P(i)} \ell_{ij}`; 'mean' divides the total
        by the number of ordered positive pairs (PML's ``MeanReducer`` over the pairs); 'sum'
        is the total. A batch without positive pairs, or without negatives, gives 0.

    Differences: equal by default to PML 2.9's ``TupletMarginLoss()(embeddings, labels)`` (the
    embeddings L2-normalised by its ``CosineSimilarity``). The paper writes :math:`\beta` in
    radians; PML (and nploss) take degrees. An anchor without negatives gives
    :math:`\log 1 = 0` for each of its pairs, still counted in the mean, as in PML.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
    >>> round(float(tuplet_margin(x, np.array([0, 1, 0]))), 6)
    38.410192
    """
    return apply_loss(
        TUPLET_MARGIN,
        embeddings,
        labels,
        reduction=reduction,
        margin=real("margin", margin),
        scale=real("scale", scale, low=0.0, low_open=True),
    )


# ------------------------------------------------------------------------------------ intra-pair variance


def _ipv_parts(xp: Any, s: Any, labels: Any, pos_eps: float, neg_eps: float) -> tuple[Any, Any, Any, Any]:
    pos, neg = _pair_masks(xp, labels)
    mean_pos = xp.sum(xp.where(pos, s, 0.0)) * (1.0 / max(int(pos.sum()), 1))
    mean_neg = xp.sum(xp.where(neg, s, 0.0)) * (1.0 / max(int(neg.sum()), 1))
    hp = xp.where(pos, xp.relu((1.0 - pos_eps) * mean_pos - s), 0.0)
    hn = xp.where(neg, xp.relu(s - (1.0 + neg_eps) * mean_neg), 0.0)
    return pos, neg, hp, hn


def _ipv_forward(xp: Any, embeddings: Any, labels: Any, *, pos_eps: float, neg_eps: float) -> Any:
    s, _, _ = cosine_matrix(xp, embeddings)
    _, _, hp, hn = _ipv_parts(xp, s, labels, pos_eps, neg_eps)
    return xp.stack([xp.sum(hp * hp, axis=1), xp.sum(hn * hn, axis=1)])


def _ipv_vjp(xp: Any, g: Any, embeddings: Any, labels: Any, *, pos_eps: float, neg_eps: float) -> tuple[Any]:
    s, u, n = cosine_matrix(xp, embeddings)
    pos, neg, hp, hn = _ipv_parts(xp, s, labels, pos_eps, neg_eps)
    gp = 2.0 * xp.reshape(g[0], (-1, 1)) * hp  # d/d(hinge) of the positive squares, 0 off P
    gn = 2.0 * xp.reshape(g[1], (-1, 1)) * hn
    # each hinge depends on its own S and on the mean over its kind of pairs
    via_pos_mean = (1.0 - pos_eps) * xp.sum(gp) * (1.0 / max(int(pos.sum()), 1))
    via_neg_mean = -(1.0 + neg_eps) * xp.sum(gn) * (1.0 / max(int(neg.sum()), 1))
    gs = gn - gp + xp.where(pos, via_pos_mean, 0.0) + xp.where(neg, via_neg_mean, 0.0)
    return (cosine_matrix_vjp(xp, gs, u, n),)


def _ipv_weights(xp: Any, reduction: str, embeddings: Any, labels: Any, **_: Any) -> Any:
    if embeddings.shape[0] == 0:
        return math.nan  # a mean over an empty batch
    pos, neg = _pair_masks(xp, labels)
    rx = _raw(embeddings)  # on the embeddings' device
    n = embeddings.shape[0]
    rows = [
        rx.full((1, n), _mean_weight(pos), dtype=embeddings.dtype),
        rx.full((1, n), _mean_weight(neg), dtype=embeddings.dtype),
    ]
    return rx.concatenate(rows, axis=0)


def _ipv_kinks(embeddings: Any, labels: Any, *, pos_eps: float, neg_eps: float) -> Any:
    xp = _np()
    s, _, _ = cosine_matrix(xp, embeddings)
    pos, neg = _pair_masks(xp, labels)
    mp = s[pos].mean() if pos.any() else 0.0
    mn = s[neg].mean() if neg.any() else 0.0
    return np.concatenate([np.abs((1 - pos_eps) * mp - s[pos]), np.abs(s[neg] - (1 + neg_eps) * mn), [np.inf]])


INTRA_PAIR_VARIANCE = register(
    LossSpec(
        name="intra_pair_variance",
        unreduced=lambda embeddings, labels, **params: (2, embeddings.shape[0]),  # positive and negative terms
        family="metric",
        args=BATCH_ARGS,
        forward=_ipv_forward,
        vjp=_ipv_vjp,
        params={"pos_eps": 0.01, "neg_eps": 0.01},
        reduction_weights=_ipv_weights,
        check=_check_batch,
        kinks=_ipv_kinks,
        sampler=_labelled_batch,
        edge_cases=_edges(),
        formula=r"\frac{1}{|P|}\sum_{P} [(1 - \epsilon_+)\mu_+ - S_{ij}]_+^2"
        r" + \frac{1}{|N|}\sum_{N} [S_{ik} - (1 + \epsilon_-)\mu_-]_+^2",
        reference="Yu & Tao 2019 (intra-pair variance); pytorch-metric-learning IntraPairVarianceLoss",
    )
)


def intra_pair_variance(
    embeddings: Any, labels: Any, pos_eps: float = 0.01, neg_eps: float = 0.01, reduction: str = "mean"
) -> Any:
    r"""Intra-pair variance loss (Yu & Tao 2019), pytorch-metric-learning's ``IntraPairVarianceLoss``.

    .. math::  J = \frac{1}{|P|}\sum_{(i,j) \in P} \big[(1 - \epsilon_+)\mu_+ - S_{ij}\big]_+^2
               + \frac{1}{|N|}\sum_{(i,k) \in N} \big[S_{ik} - (1 + \epsilon_-)\mu_-\big]_+^2,

    with :math:`S` the cosine similarities, :math:`P`, :math:`N` the ordered positive and
    negative pairs and :math:`\mu_\pm` the mean similarity over each. It pulls the similarities
    of each kind towards their mean: a positive pair below :math:`(1-\epsilon_+)\mu_+`, a
    negative pair above :math:`(1+\epsilon_-)\mu_-`, is penalised. The means are differentiated
    too (PML does not detach them), so with hinges :math:`h`:

    .. math::  \frac{\partial J}{\partial S_{ab}} = -\frac{2 h_{ab}}{|P|}
               + \frac{1 - \epsilon_+}{|P|^2}\sum_{P} 2 h_{ij} \ \ ((a, b) \in P), \qquad
               \frac{\partial J}{\partial S_{ab}} = \frac{2 h_{ab}}{|N|}
               - \frac{1 + \epsilon_-}{|N|^2}\sum_{N} 2 h_{ik} \ \ ((a, b) \in N).

    Parameters
    ----------
    embeddings : array or Tensor, shape (N, D)
    labels : integer array, shape (N,)
    pos_eps, neg_eps : float
        :math:`\epsilon_\pm` (PML's defaults 0.01).
    reduction : {'mean', 'sum', 'none'}
        'none' gives an array of shape (2, N): per anchor, the sum of its positive pairs' squared
        hinges (row 0) and of its negative pairs' (row 1). 'mean' is :math:`J`, each row's total
        divided by its own number of pairs (PML's ``MeanReducer`` on each sub-loss, then their
        sum); 'sum' is the plain total of the squared hinges. Without positive (negative) pairs
        that term is 0.

    Differences: equal by default to PML 2.9's ``IntraPairVarianceLoss()(embeddings, labels)``
    (embeddings L2-normalised by its ``CosineSimilarity``). PML averages each term over its pairs
    (the paper's expectation); the loss is not a sum over samples, hence the (2, N) 'none'.
    The second derivative jumps where a hinge opens (the loss is :math:`C^1`).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [0.6, 0.8], [0.3, -1.0]])
    >>> round(float(intra_pair_variance(x, np.array([0, 0, 1, 1, 0]))), 6)
    0.339328
    """
    return apply_loss(
        INTRA_PAIR_VARIANCE,
        embeddings,
        labels,
        reduction=reduction,
        pos_eps=real("pos_eps", pos_eps),
        neg_eps=real("neg_eps", neg_eps),
    )


# ------------------------------------------------------------------------------------ circle


def _circle_parts(xp: Any, s: Any, labels: Any, m: float, gamma: float, detach: bool) -> tuple[Any, ...]:
    """Masks, the rows with both kinds of pairs, the weights, the exponents and their
    log-sum-exps (a row without a term gets zeros, so that it stays finite; it is masked out)."""
    pos, neg = _pair_masks(xp, labels)
    valid = pos.any(axis=1) & neg.any(axis=1)
    w = as_data(s) if detach else s  # PML stops the gradient through the weights
    ap = xp.relu(1.0 + m - w)
    an = xp.relu(w + m)
    sd = as_data(s)
    fill = _raw(sd).where(valid[:, None], -np.inf, 0.0).astype(sd.dtype)  # a constant, in S's dtype
    zp = xp.where(pos, -gamma * ap * (s - (1.0 - m)), fill)
    zn = xp.where(neg, gamma * an * (s - m), fill)
    lp = xp.logsumexp(zp, axis=1)
    ln = xp.logsumexp(zn, axis=1)
    return pos, neg, valid, ap, an, zp, zn, lp, ln


def _circle_forward(xp: Any, embeddings: Any, labels: Any, *, m: float, gamma: float, detach: bool) -> Any:
    s, _, _ = cosine_matrix(xp, embeddings)
    _, _, valid, _, _, _, _, lp, ln = _circle_parts(xp, s, labels, m, gamma, detach)
    return xp.where(valid, xp.softplus(lp + ln), 0.0)


def _circle_vjp(xp: Any, g: Any, embeddings: Any, labels: Any, *, m: float, gamma: float, detach: bool) -> tuple[Any]:
    s, u, n = cosine_matrix(xp, embeddings)
    pos, neg, valid, ap, an, zp, zn, lp, ln = _circle_parts(xp, s, labels, m, gamma, detach)
    outer = xp.reshape(xp.where(valid, g * xp.sigmoid(lp + ln), 0.0), (-1, 1))
    # dz/dS: the weight times gamma, plus (without detach) the weight's own derivative
    sd = as_data(s)
    if detach:
        dzp, dzn = -gamma * ap, gamma * an
    else:
        dzp = -gamma * (ap - xp.where(1.0 + m - sd > 0, s - (1.0 - m), 0.0))
        dzn = gamma * (an + xp.where(sd + m > 0, s - m, 0.0))
    pp = xp.where(pos, xp.exp(zp - xp.reshape(lp, (-1, 1))), 0.0)
    pn = xp.where(neg, xp.exp(zn - xp.reshape(ln, (-1, 1))), 0.0)
    gs = outer * (pp * dzp + pn * dzn)
    return (cosine_matrix_vjp(xp, gs, u, n),)


def _circle_weights(xp: Any, reduction: str, embeddings: Any, labels: Any, **params: Any) -> Any:
    if embeddings.shape[0] == 0:
        return math.nan
    if reduction == "mean":
        return 1.0 / embeddings.shape[0]
    # avg_nonzero (PML's AvgNonZeroReducer): the mean over the anchors whose loss is above 0
    data = as_data(embeddings)
    loss = _circle_forward(_raw(data), data, labels, **params)
    keep = loss > 0
    return (keep / max(int(keep.sum()), 1)).astype(loss.dtype)


def _circle_kinks(embeddings: Any, labels: Any, *, m: float, gamma: float, detach: bool) -> Any:
    xp = _np()
    s, _, _ = cosine_matrix(xp, embeddings)
    pos, neg = _pair_masks(xp, labels)
    return np.concatenate([np.abs(1.0 + m - s[pos]), np.abs(s[neg] + m), [np.inf]])


CIRCLE = register(
    LossSpec(
        name="circle",
        grid={"detach": (False,)},
        fixed={
            "detach": "True (the public default) stops the gradient through the pair weights: on purpose not the "
            "derivative of the value, so finite differences cannot check it; the audit checks False"
        },
        family="metric",
        args=BATCH_ARGS,
        forward=_circle_forward,
        vjp=_circle_vjp,
        # The audit compares the VJP with finite differences of the forward, which the detached
        # (PML's) gradient is not; it audits detach=False, the exact derivative. The public
        # default detach=True is checked against PML's autograd and the composite graph instead.
        params={"m": 0.4, "gamma": 80.0, "detach": False},
        reductions=("mean", "sum", "none", "avg_nonzero"),
        reduction_weights=_circle_weights,
        check=_check_batch,
        kinks=_circle_kinks,
        sampler=_labelled_batch,
        edge_cases=_edges(),
        formula=r"\ell_i = \mathrm{softplus}\Big(\log\sum_{j \in P(i)} e^{-\gamma\alpha_{ij}(S_{ij} - \Delta_p)}"
        r" + \log\sum_{k \in N(i)} e^{\gamma\alpha_{ik}(S_{ik} - \Delta_n)}\Big),\ "
        r"\alpha_{ij} = [1 + m - S_{ij}]_+,\ \alpha_{ik} = [S_{ik} + m]_+,\ \Delta_p = 1 - m,\ \Delta_n = m",
        reference="Sun, Cheng, Zhang, Zhang, Zheng, Wang & Wei 2020; pytorch-metric-learning CircleLoss",
    )
)


def circle(
    embeddings: Any,
    labels: Any,
    m: float = 0.4,
    gamma: float = 80.0,
    detach: bool = True,
    reduction: str = "avg_nonzero",
) -> Any:
    r"""Circle loss (Sun et al. 2020) for class labels, pytorch-metric-learning's ``CircleLoss``.

    For every anchor :math:`i` with both positives and negatives, with :math:`S` the cosine
    similarities,

    .. math::  \ell_i = \mathrm{softplus}\Big(\log\sum_{j \in P(i)} e^{-\gamma\alpha_{ij}(S_{ij} - \Delta_p)}
               + \log\sum_{k \in N(i)} e^{\gamma\alpha_{ik}(S_{ik} - \Delta_n)}\Big),

    :math:`\alpha_{ij} = [1 + m - S_{ij}]_+`, :math:`\alpha_{ik} = [S_{ik} + m]_+`,
    :math:`\Delta_p = 1 - m`, :math:`\Delta_n = m`; other anchors give 0. With
    :math:`\sigma_i = \mathrm{sigmoid}(\cdot)` of the softplus' argument and :math:`p, q` the
    softmaxes over each sum, the gradient with the weights held constant (``detach=True``, as
    PML and the authors' code compute it) is

    .. math::  \frac{\partial \ell_i}{\partial S_{ij}} = -\sigma_i\, p_{ij}\, \gamma\alpha_{ij}, \qquad
               \frac{\partial \ell_i}{\partial S_{ik}} = \sigma_i\, q_{ik}\, \gamma\alpha_{ik};

    with ``detach=False`` the derivative of the weights is added:
    :math:`-\gamma(\alpha_{ij} - (S_{ij} - \Delta_p)[1 + m > S_{ij}])` and
    :math:`\gamma(\alpha_{ik} + (S_{ik} - \Delta_n)[S_{ik} > -m])` in place of
    :math:`\mp\gamma\alpha`. The value does not depend on ``detach``; the ``detach=True``
    gradient is not the derivative of the value (it is the paper's gradient, which treats
    :math:`\alpha` as constants), so nploss's finite-difference audit checks ``detach=False``,
    and the tests check ``detach=True`` against PML and the composite graph.

    Parameters
    ----------
    embeddings : array or Tensor, shape (N, D)
    labels : integer array, shape (N,)
    m : float
        The relaxation margin (PML's default 0.4; the paper suggests 0.25 for faces).
    gamma : float, positive
        The scale (PML's default 80).
    detach : bool
        Hold the weights :math:`\alpha` constant in the gradient (default, PML's ``.detach()``).
    reduction : {'avg_nonzero', 'mean', 'sum', 'none'}
        'none' gives :math:`\ell_i` per anchor; 'avg_nonzero' (the default, PML's
        ``AvgNonZeroReducer``) averages over the anchors whose loss is above 0 (0 when none is);
        'mean' over all :math:`N` anchors; 'sum' adds them.

    Differences: equal by default to PML 2.9's ``CircleLoss()(embeddings, labels)`` (embeddings
    L2-normalised by its ``CosineSimilarity``). PML's ``Softplus`` returns its argument above 20,
    nploss the exact softplus (a difference below :math:`2 \cdot 10^{-9}`). Keras 3's
    ``keras.losses.circle(y_true, y_pred, gamma=80, margin=0.4)`` (labels first) has the same
    weights and offsets, written with cosine distances :math:`1 - S` clamped at 0; it does not
    normalise (it expects unit rows: pass ``x / ||x||``), differentiates through the weights
    (``detach=False`` here: its gradient of the unit rows, projected by :math:`I - u u^\top`, is
    nploss's), and marks the anchors with a positive loss as its mask, which its
    masked reductions average over.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
    >>> round(float(circle(x, np.array([0, 1, 0]))), 6)  # (105.6 + 83.2) / 2
    94.4
    """
    return apply_loss(
        CIRCLE,
        embeddings,
        labels,
        reduction=reduction,
        m=real("m", m),
        gamma=real("gamma", gamma, low=0.0, low_open=True),
        detach=flag("detach", detach),
    )
