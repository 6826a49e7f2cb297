r"""Pair and triplet losses of pytorch-metric-learning (PML) over a labelled batch:
:func:`snr_contrastive`, :func:`generalized_lifted_structured`, :func:`margin_loss` and
:func:`angular`.

Each is called as ``loss(embeddings, labels)`` (:func:`margin_loss` also takes its boundary
``beta`` as a differentiable input) and, with its default arguments, gives the value and the
gradients of PML 2.9.0's class with its defaults (its default distance on L2-normalised rows, its
default reducer, every pair or triplet of the batch, no miner). ``reduction='mean'`` is PML's
reducer in each case (written out in each docstring); ``'sum'`` and ``'none'`` give the terms it
reduces. Unit rows are :math:`x / \sqrt{\|x\|^2 + 10^{-16}}` and distances the :math:`d_\varepsilon`
of :mod:`nploss.losses.metric._common` (PML: ``F.normalize`` and ``torch.cdist``; they agree to
about :math:`10^{-16}` relative away from zero distances).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...autograd import Tensor, as_data
from ...autograd import reshape as _ag_reshape
from .._apply import apply_loss
from .._params import flag, real
from .._spec import Arg, LossSpec, register
from ._common import (
    BATCH_ARGS,
    _batch_edges,
    _check_batch,
    _embed,
    _embed_vjp,
    _host,
    _labelled_batch,
    _np,
    _pair_masks,
    _raw,
    pairwise_distances,
    pairwise_distances_vjp,
)

__all__: list[str] = ["angular", "generalized_lifted_structured", "margin_loss", "snr_contrastive"]

# ------------------------------------------------------------------------------------ private helpers


def _masked_lse(xp: Any, z: Any, mask: Any) -> tuple[Any, Any, Any]:
    """Log-sum-exp over the last axis of the entries of ``z`` where ``mask`` holds, 0 for a row
    without any (PML's ``lmu.logsumexp``); also the filled exponents and the row flags. An empty
    row gets one constant 0 entry, so neither the value nor the gradient of any row is NaN."""
    m = as_data(mask)
    rx = _raw(m)
    anyrow = rx.any(m, axis=-1)
    first = rx.zeros(m.shape, dtype=bool)
    first[..., 0] = True
    fill = rx.where(first & ~rx.expand_dims(anyrow, -1), 0.0, -np.inf).astype(as_data(z).dtype)
    zf = xp.where(m, z, fill)
    return xp.where(anyrow, xp.logsumexp(zf, axis=-1), 0.0), zf, anyrow


def _masked_softmax(xp: Any, zf: Any, lse: Any, mask: Any) -> Any:
    """:math:`e^{z - \\mathrm{lse}}` on the mask, 0 elsewhere (the gradient of :func:`_masked_lse`)."""
    return xp.where(as_data(mask), xp.exp(zf - xp.expand_dims(lse, -1)), 0.0)


def _check_nonempty(embeddings: Any, labels: Any, **_: Any) -> None:
    """The batch shapes, and at least one embedding: PML returns 0 for an empty batch, which the
    registry's convention (NaN for the mean of nothing) would contradict, so it is refused."""
    _check_batch(embeddings, labels)
    if embeddings.shape[0] == 0:
        raise ValueError("embeddings must hold at least one row, got an empty batch")


# ------------------------------------------------------------------------------------ SNR contrastive


def _snr_parts(xp: Any, embeddings: Any, normalize: bool) -> tuple[Any, Any, Any, Any, Any]:
    u, norms = _embed(xp, embeddings, normalize)
    c = u - xp.sum(u, axis=1, keepdims=True) / u.shape[1]  # centred rows: var(z) = |c(z)|^2 / (D - 1)
    s = xp.sum(c * c, axis=1)
    diff = xp.expand_dims(c, 1) - xp.expand_dims(c, 0)
    d = xp.sum(diff * diff, axis=-1) / xp.reshape(s, (-1, 1))  # var(u_i - u_j) / var(u_i)
    return u, norms, c, diff, d


def _snr_forward(
    xp: Any, embeddings: Any, labels: Any, *, pos_margin: float, neg_margin: float, normalize: bool
) -> Any:
    _, _, _, _, d = _snr_parts(xp, embeddings, normalize)
    pos, neg = _pair_masks(xp, labels)
    return xp.where(pos, xp.relu(d - pos_margin), xp.where(neg, xp.relu(neg_margin - d), 0.0))


def _snr_vjp(
    xp: Any, g: Any, embeddings: Any, labels: Any, *, pos_margin: float, neg_margin: float, normalize: bool
) -> tuple[Any]:
    u, norms, c, diff, d = _snr_parts(xp, embeddings, normalize)
    pos, neg = _pair_masks(xp, labels)
    dd = as_data(d)
    slope = _raw(dd).where(pos & (dd - pos_margin > 0), 1.0, _raw(dd).where(neg & (neg_margin - dd > 0), -1.0, 0.0))
    s = xp.sum(c * c, axis=1)
    h = g * slope / xp.reshape(s, (-1, 1))  # dL/dd_ij / var-ratio denominator
    w = xp.expand_dims(h, 2) * diff
    gc = 2.0 * (xp.sum(w, axis=1) - xp.sum(w, axis=0)) - 2.0 * xp.reshape(xp.sum(h * d, axis=1), (-1, 1)) * c
    gu = gc - xp.sum(gc, axis=1, keepdims=True) / u.shape[1]  # through the centring (a projection)
    return (_embed_vjp(xp, gu, u, norms),)


def _snr_weights(xp: Any, reduction: str, embeddings: Any, labels: Any, **params: Any) -> Any:
    # PML's AvgNonZeroReducer on the positive pairs plus the same on the negative pairs
    loss = _snr_forward(_np(), embeddings, labels, **params)
    pos, neg = _pair_masks(_np(), labels)
    p, n = pos & (loss > 0), neg & (loss > 0)
    return (p / max(int(p.sum()), 1) + n / max(int(n.sum()), 1)).astype(embeddings.dtype)


def _snr_kinks(embeddings: Any, labels: Any, *, pos_margin: float, neg_margin: float, normalize: bool) -> Any:
    d = _snr_parts(_np(), embeddings, normalize)[4]
    pos, neg = _pair_masks(_np(), labels)
    # a positive pair at d = 0 is identical (after centring): d >= 0 has no kink from the inside
    far_pos = np.abs(d - pos_margin) if pos_margin > 0 else np.full(d.shape, np.inf)
    return np.where(pos, far_pos, np.where(neg, np.abs(neg_margin - d), np.inf))


def _snr_edges() -> dict[str, Any]:
    """The batch edges with rows of non-zero variance (the SNR distance divides by it)."""
    base = np.array(
        [[0.3, -0.2, 0.5], [0.3, -0.2, 0.5], [1.0, 0.4, -0.1], [1.0, 0.4, -0.1], [-0.6, 0.2, 0.9], [0.1, 0.3, 0.2]]
    )
    edges = _batch_edges()
    edges["identical embeddings within a class"] = lambda rng: [base.copy(), np.array([0, 0, 1, 1, 2, 2])]
    edges["all embeddings identical"] = lambda rng: [np.tile([1.0, 2.0, 4.0], (5, 1)), np.array([0, 0, 1, 1, 2])]
    return edges


def _check_snr(embeddings: Any, labels: Any, **_: Any) -> None:
    _check_nonempty(embeddings, labels)
    if embeddings.shape[1] < 2:
        raise ValueError(f"embeddings must have at least 2 features (a variance), got shape {tuple(embeddings.shape)}")


SNR_CONTRASTIVE = register(
    LossSpec(
        name="snr_contrastive",
        unreduced=("N", "N"),
        family="metric",
        args=BATCH_ARGS,
        forward=_snr_forward,
        vjp=_snr_vjp,
        params={"pos_margin": 0.0, "neg_margin": 1.0, "normalize": True},
        reduction_weights=_snr_weights,
        check=_check_snr,
        kinks=_snr_kinks,
        sampler=_labelled_batch,
        edge_cases=_snr_edges(),
        # (a row of equal entries has variance 0 and an infinite distance, as in PML: not an edge
        # case of the sweep, but tested in tests/losses/test_pml_pairs.py)
        formula=r"\ell_{ij} = [y_i = y_j]\max(0, d_{ij} - m^+) + [y_i \ne y_j]\max(0, m^- - d_{ij}),"
        r"\ d_{ij} = \mathrm{var}(x_i - x_j) / \mathrm{var}(x_i)",
        reference="Yuan, Chen, Wang, Yu, Shi & Yu 2019 (Signal-to-noise ratio: a robust distance metric "
        "for deep metric learning); pytorch-metric-learning SignalToNoiseRatioContrastiveLoss",
    )
)


def snr_contrastive(
    embeddings: Any,
    labels: Any,
    pos_margin: float = 0.0,
    neg_margin: float = 1.0,
    normalize: bool = True,
    reduction: str = "mean",
) -> Any:
    r"""Contrastive loss on the signal-to-noise-ratio distance (Yuan et al. 2019).

    .. math::  d_{ij} = \frac{\mathrm{var}(x_i - x_j)}{\mathrm{var}(x_i)} = \frac{\|c_i - c_j\|^2}{\|c_i\|^2},
               \qquad \ell_{ij} = \begin{cases} \max(0, d_{ij} - m^+) & y_i = y_j,\ i \ne j \\
               \max(0, m^- - d_{ij}) & y_i \ne y_j \end{cases}

    over every ordered pair of the batch, with :math:`c_i = x_i - \bar x_i` the centred row (the
    variance's :math:`1/(D-1)` cancels in the ratio; the distance is not symmetric). With
    :math:`G_{ij} = \partial L / \partial d_{ij}` (:math:`\pm 1` inside the hinges) and
    :math:`s_i = \|c_i\|^2`,

    .. math::  \nabla_{c_i} L = \sum_j \frac{G_{ij}}{s_i}\big(2(c_i - c_j) - 2 d_{ij} c_i\big)
               - \sum_j \frac{G_{ji}}{s_j} 2 (c_j - c_i),

    then through the centring (a projection) and, with ``normalize``, through the unit rows.

    Parameters
    ----------
    embeddings : array or Tensor, shape (N, D), D >= 2
    labels : integer array, shape (N,)
    pos_margin, neg_margin : float
        :math:`m^+` and :math:`m^-` (PML's names and defaults 0 and 1).
    normalize : bool
        Take the rows to unit length first: PML's ``SNRDistance`` does by default
        (``normalize_embeddings=True``); the paper uses the raw features (``normalize=False``).
    reduction : {'mean', 'sum', 'none'}
        'none': the (N, N) matrix of :math:`\ell_{ij}` (0 on the diagonal). 'mean' is PML's
        ``AvgNonZeroReducer`` applied to the positive and to the negative pairs separately and
        summed: the mean of the positive pairs' non-zero losses plus the mean of the negative
        pairs' non-zero losses (each 0 where there are none). The paper averages over all pairs
        instead (and adds an :math:`L_1` regulariser of the embeddings, PML's optional
        ``embedding_regularizer``, not part of this loss): with :math:`P` pairs that is
        ``snr_contrastive(..., reduction='sum') / P``.

    Rows whose entries are all equal have variance 0: their distance is 0/0, NaN here as in PML.

    Raises
    ------
    ValueError
        Shapes that are not (N, D) and (N,), D < 2, an unknown ``reduction``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 0.0, 0.0], [0.9, 0.1, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    >>> round(float(snr_contrastive(x, np.array([0, 0, 1, 1]))), 6)
    1.506852
    """
    return apply_loss(
        SNR_CONTRASTIVE, embeddings, labels, reduction=reduction,
        pos_margin=real("pos_margin", pos_margin), neg_margin=real("neg_margin", neg_margin),
        normalize=flag("normalize", normalize),
    )  # fmt: skip


# ------------------------------------------------------------------------------------ generalized lifted structured


def _glifted_parts(xp: Any, embeddings: Any, labels: Any, pos_margin: float, neg_margin: float, normalize: bool):
    u, norms = _embed(xp, embeddings, normalize)
    d = pairwise_distances(xp, u, u)
    pos, neg = _pair_masks(xp, labels)
    a, zp, _ = _masked_lse(xp, d - pos_margin, pos)
    b, zn, _ = _masked_lse(xp, neg_margin - d, neg)
    return u, norms, pos, neg, a, zp, b, zn


def _glifted_forward(
    xp: Any, embeddings: Any, labels: Any, *, pos_margin: float, neg_margin: float, normalize: bool
) -> Any:
    *_, a, _, b, _ = _glifted_parts(xp, embeddings, labels, pos_margin, neg_margin, normalize)
    return xp.relu(a + b)


def _glifted_vjp(
    xp: Any, g: Any, embeddings: Any, labels: Any, *, pos_margin: float, neg_margin: float, normalize: bool
) -> tuple[Any]:
    u, norms, pos, neg, a, zp, b, zn = _glifted_parts(xp, embeddings, labels, pos_margin, neg_margin, normalize)
    h = xp.reshape(xp.where(as_data(a + b) > 0, g, 0.0), (-1, 1))
    grad_d = h * (_masked_softmax(xp, zp, a, pos) - _masked_softmax(xp, zn, b, neg))
    ga, gb = pairwise_distances_vjp(xp, grad_d, u, u)
    return (_embed_vjp(xp, ga + gb, u, norms),)


def _glifted_kinks(embeddings: Any, labels: Any, *, pos_margin: float, neg_margin: float, normalize: bool) -> Any:
    *_, a, _, b, _ = _glifted_parts(_np(), embeddings, labels, pos_margin, neg_margin, normalize)
    return np.abs(a + b)


GENERALIZED_LIFTED_STRUCTURED = register(
    LossSpec(
        name="generalized_lifted_structured",
        family="metric",
        args=BATCH_ARGS,
        forward=_glifted_forward,
        vjp=_glifted_vjp,
        params={"pos_margin": 0.0, "neg_margin": 1.0, "normalize": True},
        check=_check_nonempty,
        kinks=_glifted_kinks,
        sampler=_labelled_batch,
        edge_cases=_batch_edges(),
        formula=r"\ell_i = \max\Big(0, \log\sum_{p \in P(i)} e^{d_{ip} - m^+} + "
        r"\log\sum_{n \in N(i)} e^{m^- - d_{in}}\Big)",
        reference="Hermans, Beyer & Leibe 2017 (In defense of the triplet loss, eq. 4); "
        "pytorch-metric-learning GeneralizedLiftedStructureLoss",
    )
)


def generalized_lifted_structured(
    embeddings: Any,
    labels: Any,
    neg_margin: float = 1.0,
    pos_margin: float = 0.0,
    normalize: bool = True,
    reduction: str = "mean",
) -> Any:
    r"""Generalized lifted structured loss (Hermans, Beyer & Leibe 2017, eq. 4): per anchor, a
    smooth maximum of its positive distances against a smooth minimum of its negative ones.

    .. math::  \ell_i = \max\big(0, a_i + b_i\big), \qquad
               a_i = \log \sum_{p \in P(i)} e^{d_{ip} - m^+}, \quad
               b_i = \log \sum_{n \in N(i)} e^{m^- - d_{in}}

    with :math:`P(i)` the other samples of :math:`i`'s label, :math:`N(i)` those of another
    label, and an empty sum's log taken as 0 (PML's ``lmu.logsumexp``). Where
    :math:`a_i + b_i > 0`,

    .. math::  \frac{\partial \ell_i}{\partial d_{ip}} = \mathrm{softmax}_{p \in P(i)}(d_{ip} - m^+),
               \qquad \frac{\partial \ell_i}{\partial d_{in}} = -\mathrm{softmax}_{n \in N(i)}(m^- - d_{in}),

    then through the distances :math:`d_\varepsilon` and the unit rows.

    Parameters
    ----------
    embeddings : array or Tensor, shape (N, D)
    labels : integer array, shape (N,)
    neg_margin, pos_margin : float
        :math:`m^-` and :math:`m^+` (PML's names and defaults 1 and 0; the paper has
        :math:`m^+ = 0` and calls :math:`m^-` the margin :math:`m`).
    normalize : bool
        Distances between unit rows (PML's default ``LpDistance``); the paper uses the raw ones.
    reduction : {'mean', 'sum', 'none'}
        'none': the N per-anchor losses; 'mean' averages over all N anchors (PML's
        ``MeanReducer``), anchors without a positive (or a negative) included with their remaining
        term, as PML does; the paper sums over the anchors.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-1.0, 0.0]])
    >>> round(float(generalized_lifted_structured(x, np.array([0, 0, 1, 1]))), 6)
    1.214431
    """
    return apply_loss(
        GENERALIZED_LIFTED_STRUCTURED, embeddings, labels, reduction=reduction,
        pos_margin=real("pos_margin", pos_margin), neg_margin=real("neg_margin", neg_margin),
        normalize=flag("normalize", normalize),
    )  # fmt: skip


# ------------------------------------------------------------------------------------ margin loss


def _onehot(labels: Any, classes: int) -> np.ndarray:
    """``(N, C)`` constant selecting each anchor's beta (all ones for a single, shared beta)."""
    y = _host(labels)
    if classes == 1:
        return np.ones((y.shape[0], 1))
    return (y[:, None] == np.arange(classes)[None, :]).astype(np.float64)


def _margin_parts(xp: Any, embeddings: Any, labels: Any, beta: Any, margin: float, normalize: bool):
    u, norms = _embed(xp, embeddings, normalize)
    d = pairwise_distances(xp, u, u)
    pos, neg = _pair_masks(xp, labels)
    sel = _onehot(labels, beta.shape[0]).astype(as_data(d).dtype)
    sel = _raw(as_data(d)).asarray(sel)  # on the device of the distances
    b = xp.reshape(xp.matmul(sel, beta), (-1, 1))  # each anchor's beta
    hp = d - b + margin  # positive pairs (a, p)
    hn = b - d + margin  # negative pairs (a, n)
    npos = pos.sum(axis=1, keepdims=True).astype(sel.dtype)
    nneg = neg.sum(axis=1, keepdims=True).astype(sel.dtype)
    return u, norms, d, pos, neg, sel, hp, hn, npos, nneg


def _margin_forward(xp: Any, embeddings: Any, labels: Any, beta: Any, *, margin: float, normalize: bool) -> Any:
    _, _, _, pos, neg, _, hp, hn, npos, nneg = _margin_parts(xp, embeddings, labels, beta, margin, normalize)
    # every triplet (a, p, n) costs relu(hp[a, p]) + relu(hn[a, n]): each positive pair occurs
    # in nneg(a) triplets, each negative pair in npos(a)
    tp = xp.sum(xp.where(pos, xp.relu(hp), 0.0), axis=1)
    tn = xp.sum(xp.where(neg, xp.relu(hn), 0.0), axis=1)
    return tp * xp.reshape(nneg, (-1,)) + tn * xp.reshape(npos, (-1,))


def _margin_vjp(
    xp: Any, g: Any, embeddings: Any, labels: Any, beta: Any, *, margin: float, normalize: bool
) -> tuple[Any, Any]:
    u, norms, _, pos, neg, sel, hp, hn, npos, nneg = _margin_parts(xp, embeddings, labels, beta, margin, normalize)
    gc = xp.reshape(g, (-1, 1))
    ap = pos & (as_data(hp) > 0)
    an = neg & (as_data(hn) > 0)
    gp = xp.where(ap, gc * nneg, 0.0)  # dL/dd_ap
    gn = xp.where(an, gc * npos, 0.0)  # -dL/dd_an
    ga, gb = pairwise_distances_vjp(xp, gp - gn, u, u)
    gbeta_anchor = xp.sum(gn, axis=1) - xp.sum(gp, axis=1)
    gbeta = xp.matmul(xp.transpose(sel), gbeta_anchor)
    return _embed_vjp(xp, ga + gb, u, norms), gbeta


def _margin_divisor(embeddings: Any, labels: Any, beta: Any, margin: float, normalize: bool) -> int:
    _, _, _, pos, neg, _, hp, hn, npos, nneg = _margin_parts(_np(), embeddings, labels, beta, margin, normalize)
    return int(((pos & (hp > 0)) * nneg).sum() + ((neg & (hn > 0)) * npos).sum())


def _margin_weights(xp: Any, reduction: str, embeddings: Any, labels: Any, beta: Any, **params: Any) -> float:
    # PML's DivisorReducer: the sum over triplets divided by the number of non-zero hinges (a
    # triplet counts 0, 1 or 2), and 0 where there is none
    divisor = _margin_divisor(embeddings, labels, beta, params["margin"], params["normalize"])
    return 1.0 / divisor if divisor else 0.0


def _margin_kinks(embeddings: Any, labels: Any, beta: Any, *, margin: float, normalize: bool) -> Any:
    _, _, _, pos, neg, _, hp, hn, _, _ = _margin_parts(_np(), embeddings, labels, beta, margin, normalize)
    return np.concatenate([np.abs(hp[pos]), np.abs(hn[neg]), [np.inf]])


def _check_margin(embeddings: Any, labels: Any, beta: Any, **_: Any) -> None:
    _check_nonempty(embeddings, labels)
    if beta.ndim != 1 or beta.shape[0] < 1:
        raise ValueError(f"beta must have shape (1,) or (C,), one per class, got shape {tuple(beta.shape)}")
    y = _host(labels)
    if beta.shape[0] > 1 and y.size and (y.min() < 0 or y.max() >= beta.shape[0]):
        raise ValueError(
            f"labels must lie in [0, {beta.shape[0]}) to index the per-class beta, got {y.min()}..{y.max()}"
        )


def _margin_sample(rng: np.random.Generator, sizes: dict[str, int]) -> list[np.ndarray]:
    x, y = _labelled_batch(rng, sizes)
    return [x, y, rng.uniform(0.8, 1.6, 3)]


def _margin_edges() -> dict[str, Any]:
    edges = _batch_edges()
    return {name: (lambda rng, f=f: [*f(rng), np.array([1.2])]) for name, f in edges.items()} | {
        "per-class beta": lambda rng: [
            rng.standard_normal((6, 3)),
            np.array([0, 0, 1, 1, 2, 2]),
            np.array([0.9, 1.2, 1.5]),
        ]
    }


MARGIN_LOSS = register(
    LossSpec(
        name="margin_loss",
        family="metric",
        args=(*BATCH_ARGS, Arg("beta", "real", ("S",))),
        forward=_margin_forward,
        vjp=_margin_vjp,
        params={"margin": 0.2, "normalize": True},
        reduction_weights=_margin_weights,
        check=_check_margin,
        kinks=_margin_kinks,
        sampler=_margin_sample,
        edge_cases=_margin_edges(),
        formula=r"L = \frac{1}{\#\{\text{hinges} > 0\}}\sum_{(a,p,n)} \max(0, d_{ap} - \beta_{y_a} + \alpha)"
        r" + \max(0, \beta_{y_a} - d_{an} + \alpha)",
        reference="Wu, Manmatha, Smola & Krahenbuhl 2017 (Sampling matters in deep embedding learning); "
        "pytorch-metric-learning MarginLoss",
    )
)


def margin_loss(
    embeddings: Any,
    labels: Any,
    beta: Any = 1.2,
    margin: float = 0.2,
    normalize: bool = True,
    reduction: str = "mean",
) -> Any:
    r"""Margin loss (Wu et al. 2017): positive distances below a boundary :math:`\beta` by a
    margin :math:`\alpha`, negative ones above it, with :math:`\beta` an input one can learn.

    .. math::  L = \frac{1}{K} \sum_{(a, p, n)} \Big[\max(0, d_{ap} - \beta_{y_a} + \alpha)
               + \max(0, \beta_{y_a} - d_{an} + \alpha)\Big]

    over every triplet of the batch (:math:`a \ne p` of one label, :math:`n` of another), with
    :math:`K` the number of non-zero hinges among them (PML's ``DivisorReducer``; 0 where none).
    Each hinge has slope :math:`\pm 1`, so :math:`\partial L / \partial d_{ap} = 1/K`,
    :math:`\partial L / \partial d_{an} = -1/K` and :math:`\partial L / \partial \beta_{y_a}` is
    :math:`-1/K` per active positive hinge and :math:`+1/K` per active negative one (:math:`K` is
    piecewise constant and not differentiated, as in PML).

    Parameters
    ----------
    embeddings : array or Tensor, shape (N, D)
    labels : integer array, shape (N,)
    beta : float, or array or Tensor of shape (1,) or (C,)
        The boundary :math:`\beta`: one for all, or one per class (indexed by the anchor's label,
        PML's ``num_classes``). A differentiable input: pass a Tensor to learn it (PML's
        ``learn_beta=True``), its gradient has beta's shape (a 0-d Tensor is accepted).
    margin : float
        :math:`\alpha` (PML's ``margin``, default 0.2).
    normalize : bool
        Distances between unit rows (PML's default ``LpDistance``); the paper uses the raw ones.
    reduction : {'mean', 'sum', 'none'}
        'none': per anchor, the sum over its triplets; 'sum': their total; 'mean' divides it by
        :math:`K` (PML). The paper averages over the triplets instead (``'sum'`` divided by
        their number).

    PML's ``nu`` (its :math:`\nu\beta` regulariser, active only with ``learn_beta=True``) is
    not a parameter: with one shared beta it adds :math:`\nu\beta` to the loss (add it
    yourself); with per-class betas PML adds :math:`\nu \sum_{(a,p,n)} \beta_{y_a} / K`. With the
    default ``nu=0`` the values agree. PML samples every triplet with
    ``triplets_per_anchor='all'`` (its default); only that is implemented.

    Raises
    ------
    ValueError
        Bad shapes, a beta of another shape than (1,) or (C,), labels outside [0, C) with a
        per-class beta, an unknown ``reduction``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-1.0, 0.0]])
    >>> round(float(margin_loss(x, np.array([0, 0, 1, 1]))), 6)
    0.444667
    """
    if isinstance(beta, Tensor):
        if beta.ndim == 0:  # one shared beta: the (1,) form, its gradient flowing back to the 0-d Tensor
            beta = _ag_reshape(beta, (1,))
    else:
        beta = as_data(beta) if hasattr(beta, "dtype") else np.asarray(beta, dtype=np.float64)
        if beta.ndim == 0:
            beta = beta.reshape(1)
    return apply_loss(
        MARGIN_LOSS, embeddings, labels, beta, reduction=reduction,
        margin=real("margin", margin), normalize=flag("normalize", normalize),
    )  # fmt: skip


# ------------------------------------------------------------------------------------ angular


def _angular_parts(xp: Any, embeddings: Any, labels: Any, alpha: float, normalize_negatives: bool):
    u, norms = _embed(xp, embeddings, True)
    xn = u if normalize_negatives else embeddings
    t = float(np.tan(np.radians(alpha)) ** 2)
    pos, neg = _pair_masks(xp, labels)
    a = xp.matmul(u, xp.transpose(xn))  # (i, n): u_i . x_n
    b = xp.matmul(u, xp.transpose(u))  # (i, j): u_i . u_j
    f = 4.0 * t * (xp.expand_dims(a, 1) + xp.expand_dims(a, 0)) - 2.0 * (1.0 + t) * xp.expand_dims(b, 2)
    rx = _raw(as_data(neg))
    mask3 = rx.broadcast_to(rx.expand_dims(neg, 1), f.shape)  # n a negative of the anchor i
    lse, zf, anyrow = _masked_lse(xp, f, mask3)
    total = xp.where(anyrow, xp.logaddexp(lse, 0.0), 0.0)  # log(1 + sum_n e^f)
    return u, norms, xn, t, pos, mask3, zf, total


def _angular_forward(xp: Any, embeddings: Any, labels: Any, *, alpha: float, normalize_negatives: bool) -> Any:
    *_, pos, _, _, total = _angular_parts(xp, embeddings, labels, alpha, normalize_negatives)
    return xp.where(pos, total, 0.0)


def _angular_vjp(
    xp: Any, g: Any, embeddings: Any, labels: Any, *, alpha: float, normalize_negatives: bool
) -> tuple[Any]:
    u, norms, xn, t, pos, mask3, zf, total = _angular_parts(xp, embeddings, labels, alpha, normalize_negatives)
    p = _masked_softmax(xp, zf, total, mask3)  # e^f / (1 + sum e^f)
    big = xp.expand_dims(xp.where(pos, g, 0.0), 2) * p  # dL/df_ijn
    da = 4.0 * t * (xp.sum(big, axis=1) + xp.sum(big, axis=0))  # dL/dA_in
    db = -2.0 * (1.0 + t) * xp.sum(big, axis=2)  # dL/dB_ij
    gu = xp.matmul(da, xn) + xp.matmul(db + xp.transpose(db), u)
    gxn = xp.matmul(xp.transpose(da), u)
    if normalize_negatives:
        return (_embed_vjp(xp, gu + gxn, u, norms),)
    return (_embed_vjp(xp, gu, u, norms) + gxn,)


def _angular_weights(xp: Any, reduction: str, embeddings: Any, labels: Any, **_: Any) -> float:
    pos, neg = _pair_masks(_np(), labels)
    return 1.0 / int(pos.sum()) if pos.any() and neg.any() else 0.0  # PML's MeanReducer over positive pairs


ANGULAR = register(
    LossSpec(
        name="angular",
        unreduced=("N", "N"),
        family="metric",
        args=BATCH_ARGS,
        forward=_angular_forward,
        vjp=_angular_vjp,
        params={"alpha": 40.0, "normalize_negatives": False},
        reduction_weights=_angular_weights,
        check=_check_nonempty,
        sampler=_labelled_batch,
        edge_cases=_batch_edges(),
        formula=r"\ell_{ap} = \log\Big(1 + \sum_{n \in N(a)} \exp\big(4\tan^2\alpha\,(x_a + x_p)^\top x_n"
        r" - 2(1 + \tan^2\alpha)\,x_a^\top x_p\big)\Big)",
        reference="Wang, Zhou, Wen, Liu & Lin 2017 (Deep metric learning with angular loss, eq. 8); "
        "pytorch-metric-learning AngularLoss",
    )
)


def angular(
    embeddings: Any,
    labels: Any,
    alpha: float = 40.0,
    normalize_negatives: bool = False,
    reduction: str = "mean",
) -> Any:
    r"""Angular loss (Wang et al. 2017, the N-pair form of eq. 8): for every positive pair, a
    log-sum-exp over the anchor's negatives of a bound on the angle at the negative.

    .. math::  \ell_{ap} = \log\Big(1 + \sum_{n \in N(a)} e^{f_{apn}}\Big), \qquad
               f_{apn} = 4\tan^2\alpha\,(u_a + u_p)^\top x_n - 2(1 + \tan^2\alpha)\,u_a^\top u_p

    with :math:`u` the unit rows, over the ordered positive pairs :math:`(a, p)`, :math:`a \ne p`.
    With :math:`\pi_{apn} = e^{f_{apn}} / (1 + \sum_m e^{f_{apm}})`,
    :math:`\partial \ell_{ap} / \partial f_{apn} = \pi_{apn}`, and

    .. math::  \nabla_{u_a} f = 4\tan^2\alpha\, x_n - 2(1 + \tan^2\alpha) u_p, \quad
               \nabla_{u_p} f = 4\tan^2\alpha\, x_n - 2(1 + \tan^2\alpha) u_a, \quad
               \nabla_{x_n} f = 4\tan^2\alpha\,(u_a + u_p).

    Parameters
    ----------
    embeddings : array or Tensor, shape (N, D)
    labels : integer array, shape (N,)
    alpha : float, degrees in (0, 90)
        The angle :math:`\alpha`, in degrees as PML takes it (default 40; radians
        :math:`= \alpha \pi / 180`).
    normalize_negatives : bool
        PML (``False``, the default) normalises the anchors and the positives but takes the
        negatives :math:`x_n` as given, un-normalised; the paper normalises every feature:
        ``True`` uses :math:`u_n`. The two agree for unit-length embeddings.
    reduction : {'mean', 'sum', 'none'}
        'none': the (N, N) matrix of :math:`\ell_{ap}` (0 off the positive pairs); 'mean'
        averages over the positive pairs (PML's ``MeanReducer``), 0 for a batch without a
        positive pair or without a negative.

    The sum is computed as ``logaddexp(0, logsumexp(f))``, finite for any scale.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-1.0, 0.0]])
    >>> round(float(angular(x, np.array([0, 0, 1, 1]))), 6)
    0.395944
    """
    alpha = real("alpha", alpha, low=0.0, high=90.0, low_open=True, high_open=True)
    return apply_loss(
        ANGULAR, embeddings, labels, reduction=reduction, alpha=alpha,
        normalize_negatives=flag("normalize_negatives", normalize_negatives),
    )  # fmt: skip
