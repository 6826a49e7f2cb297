r"""Lifted structured loss (Song et al. 2016): every positive pair of a batch against all the
negatives of both its ends, through a smooth maximum (a log-sum-exp) over the negatives.

Distances are the :math:`d_\varepsilon` of :mod:`nploss.losses.metric._common` (or squared), from
the embeddings or, with ``normalize=True``, from their unit rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._apply import apply_loss
from .._params import flag, real
from .._spec import LossSpec, register
from ._common import (
    BATCH_ARGS,
    _batch_edges,
    _check_batch,
    _embed,
    _embed_vjp,
    _labelled_batch,
    _np,
    _pair_masks,
    pairwise_distances,
    pairwise_distances_vjp,
)

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
    x, _ = _embed(xp, embeddings, normalize)
    pos, neg = _pair_masks(xp, labels)
    if not bool(neg.any()):  # a single class: no negatives, no loss (a documented 0)
        return xp.sum(x, axis=1) * 0.0
    _, _, _, j = _lifted_parts(xp, x, labels, margin, squared)
    h = xp.relu(j)
    return xp.sum(xp.where(pos, 0.5 * h * h, 0.0), axis=1)


def _lifted_vjp(
    xp: Any, g: Any, embeddings: Any, labels: Any, *, margin: float, squared: bool, normalize: bool
) -> tuple[Any]:
    x, norms = _embed(xp, embeddings, normalize)
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
    return (_embed_vjp(xp, gx, x, norms),)


def _lifted_weights(xp: Any, reduction: str, embeddings: Any, labels: Any, **_: Any) -> float:
    pos, _neg = _pair_masks(xp, labels)
    return 1.0 / max(int(pos.sum()), 1)  # over ordered positive pairs: the paper's 1/(2|P|)


def _lifted_kinks(embeddings: Any, labels: Any, *, margin: float, squared: bool, normalize: bool) -> Any:
    xp = _np()
    pos, neg = _pair_masks(xp, labels)
    if not neg.any():
        return np.array([np.inf])
    _, _, _, j = _lifted_parts(xp, _embed(xp, embeddings, normalize)[0], labels, margin, squared)
    return np.abs(j[pos])


LIFTED_STRUCTURED = register(
    LossSpec(
        name="lifted_structured",
        layouts={"a batch of one class": lambda rng, s: [rng.standard_normal((6, s["D"])), np.zeros(6, dtype=int)]},
        family="metric",
        args=BATCH_ARGS,
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
    so nothing overflows or underflows for any distance. The gradient of
    :math:`\tfrac12 \max(0, J_{ij})^2`, with :math:`h_{ij} = \max(0, J_{ij})`, has three parts,
    since :math:`J_{ij}` depends on :math:`d_{ij}`, on :math:`a_i` and on :math:`a_j`:

    .. math::  \frac{\partial}{\partial d_{ij}} = h_{ij}, \qquad
               \frac{\partial}{\partial d_{ik}} = -h_{ij}\, \sigma(a_i - a_j)\,
               \mathrm{softmax}_k(m - d_{ik}) \ \ (k \in N(i)), \qquad
               \frac{\partial}{\partial d_{jl}} = -h_{ij}\, \sigma(a_j - a_i)\,
               \mathrm{softmax}_l(m - d_{jl}) \ \ (l \in N(j)),

    the last two the shares of :math:`i`'s and of :math:`j`'s negatives in the log
    (:math:`\sigma(a_i - a_j) + \sigma(a_j - a_i) = 1`), all summed over the ordered positive
    pairs :math:`(i, j)`, whose :math:`\tfrac12 h_{ij}^2` add up to ``reduction='sum'``.
    Leaving out the :math:`l \in N(j)` terms halves the negatives' part: on 20 random batches
    (8 embeddings in 3-D, 3 labels) the embeddings' gradient then differs from the implemented
    one by up to 24, against :math:`10^{-14}` with them.

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
    return apply_loss(
        LIFTED_STRUCTURED,
        embeddings,
        labels,
        reduction=reduction,
        margin=real("margin", margin, low=0.0),
        squared=flag("squared", squared),
        normalize=flag("normalize", normalize),
    )
