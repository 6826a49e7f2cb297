r"""Proxy losses of pytorch-metric-learning (PML): Proxy-NCA, Proxy-Anchor and SoftTriple.

Each compares the embeddings of a batch with learnable class vectors, the ``weight`` of shape
``(C, D)`` (one proxy per class; ``(C K, D)`` with ``K`` centres per class for SoftTriple), an
input with its own gradient as in :func:`~nploss.losses.cosface`. PML keeps the proxies as a
parameter of the loss module: its ``proxies`` is ``weight`` (Proxy-NCA, Proxy-Anchor) and its
SoftTriple ``fc`` of shape ``(D, C K)`` is ``weight.T``. Embeddings and proxies are scaled to
unit rows by :math:`\sqrt{\|x\|^2 + 10^{-16}}` (PML's ``F.normalize`` divides by
:math:`\max(\|x\|, 10^{-12})`; the two agree to a relative :math:`10^{-16}/2\|x\|^2`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._apply import apply_loss
from .._params import flag, integer, real
from .._reduction import mean_weight
from .._shared import one_hot
from .._spec import Arg, LossSpec, OnInputs, register
from .._validate import matrix
from ._common import _check_class_labels, _embed, _embed_vjp, _host, _raw, pairwise_distances, pairwise_distances_vjp

__all__ = ["proxy_anchor", "proxy_nca", "soft_triple"]

PROXY_ARGS = (
    Arg("embeddings", "real", ("N", "D")),
    Arg("weight", "real", ("C", "D")),
    Arg("labels", "label", ("N",), differentiable=False),
)


def _check_proxies(embeddings: Any, weight: Any, labels: Any, per_class: int = 1) -> None:
    matrix("embeddings", embeddings)
    matrix("weight", weight)
    rows = "C" if per_class == 1 else f"C * centers_per_class = C * {per_class}"
    if weight.shape[1] != embeddings.shape[1] or weight.shape[0] % per_class:
        raise ValueError(
            f"weight must have shape ({rows}, {embeddings.shape[1]}) (the embedding dimension of embeddings "
            f"{tuple(embeddings.shape)}), got {tuple(weight.shape)}"
        )
    _check_class_labels(embeddings, labels, weight.shape[0] // per_class)


def _proxy_edges(per_class: int = 1) -> dict[str, Any]:
    """Identical embeddings, embeddings equal to their proxy (zero distance), one class, a class
    with one sample, a zero embedding, entries of 1e4."""

    def w(rng: np.random.Generator, c: int = 4) -> np.ndarray:
        return rng.standard_normal((c * per_class, 3))

    def at_proxy(rng: np.random.Generator) -> list[np.ndarray]:
        weight = w(rng)
        y = np.array([0, 1, 2, 3, 1])
        return [2.0 * weight[y * per_class], weight, y]

    return {
        "identical embeddings": lambda rng: [np.ones((5, 3)), w(rng), np.array([0, 0, 1, 2, 1])],
        "identical embeddings and proxies": lambda rng: [np.ones((5, 3)), np.ones((4 * per_class, 3)), np.array([0, 1, 2, 3, 0])],
        "embeddings at their proxy (zero distance)": at_proxy,
        "one class in the batch": lambda rng: [rng.standard_normal((4, 3)), w(rng), np.array([2, 2, 2, 2])],
        "a class with one sample": lambda rng: [rng.standard_normal((4, 3)), w(rng), np.array([0, 1, 1, 1])],
        "zero embedding": lambda rng: [np.vstack([np.zeros((1, 3)), rng.standard_normal((4, 3))]), w(rng), np.array([0, 1, 2, 3, 0])],
        "entries of 1e4": lambda rng: [1e4 * rng.standard_normal((5, 3)), 1e4 * w(rng), np.array([0, 1, 2, 3, 0])],
    }  # fmt: skip


def _unit(xp: Any, embeddings: Any, weight: Any) -> tuple[Any, Any, Any, Any]:
    u, ru = _embed(xp, embeddings, True)
    v, rv = _embed(xp, weight, True)
    return u, ru, v, rv


# ------------------------------------------------------------------------------------ Proxy-NCA


def _nca_logits(xp: Any, embeddings: Any, weight: Any, labels: Any, softmax_scale: float, exclude_positive: bool):
    u, ru, v, rv = _unit(xp, embeddings, weight)
    z = -softmax_scale * pairwise_distances(xp, u, v, squared=True)  # (N, C)
    hit = one_hot(labels, z.shape[1], 1, bool)
    z_y = xp.sum(xp.where(hit, z, 0.0), axis=1)
    lse = xp.logsumexp(xp.where(hit, -np.inf, z) if exclude_positive else z, axis=1)
    return u, ru, v, rv, z, hit, z_y, lse


def _nca_keep(xp: Any, z_y: Any, lse: Any, exclude_positive: bool) -> Any:
    """PML's ``exp != 0``: the anchors whose softmax probability did not underflow (a constant)."""
    zy, m = xp.as_data(z_y), xp.as_data(lse)
    rx = _raw(zy)
    return rx.ones(zy.shape, dtype=bool) if exclude_positive else rx.exp(zy - m) != 0


def _proxy_nca_forward(
    xp: Any, embeddings: Any, weight: Any, labels: Any, *, softmax_scale: float, exclude_positive: bool
) -> Any:
    *_, z, hit, z_y, lse = _nca_logits(xp, embeddings, weight, labels, softmax_scale, exclude_positive)
    keep = _nca_keep(xp, z_y, lse, exclude_positive)
    if exclude_positive:
        return lse - z_y
    # -log_softmax: no cancellation in lse - z_y when the positive proxy dominates
    return xp.where(keep, -xp.sum(xp.where(hit, xp.log_softmax(z, axis=1), 0.0), axis=1), 0.0)


def _proxy_nca_vjp(
    xp: Any, g: Any, embeddings: Any, weight: Any, labels: Any, *, softmax_scale: float, exclude_positive: bool
) -> tuple[Any, Any]:
    u, ru, v, rv, z, hit, z_y, lse = _nca_logits(xp, embeddings, weight, labels, softmax_scale, exclude_positive)
    keep = _nca_keep(xp, z_y, lse, exclude_positive)
    g = xp.where(keep, g, 0.0)
    p = xp.exp(z - xp.reshape(lse, (-1, 1)))  # the softmax of the denominator's logits
    if exclude_positive:
        p = xp.where(hit, 0.0, p)
    dz = xp.reshape(g, (-1, 1)) * xp.where(hit, p - 1.0, p)
    gu, gv = pairwise_distances_vjp(xp, -softmax_scale * dz, u, v, squared=True)
    return _embed_vjp(xp, gu, u, ru), _embed_vjp(xp, gv, v, rv)


def _proxy_nca_weights(xp: Any, reduction: str, embeddings: Any, weight: Any, labels: Any, **params: Any) -> Any:
    *_, z_y, lse = _nca_logits(xp, embeddings, weight, labels, params["softmax_scale"], params["exclude_positive"])
    keep = _nca_keep(xp, z_y, lse, params["exclude_positive"])
    count = int(keep.sum())
    if embeddings.shape[0] == 0:
        return mean_weight(0)  # an empty batch: NaN, nploss's policy
    return 1.0 / count if count else 0.0  # every anchor dropped: PML's zero loss


def _check_proxy_nca(
    embeddings: Any, weight: Any, labels: Any, *, softmax_scale: float, exclude_positive: bool
) -> None:
    _check_proxies(embeddings, weight, labels)
    if exclude_positive and weight.shape[0] < 2:
        raise ValueError("exclude_positive=True needs weight with at least 2 rows (classes), got 1")


PROXY_NCA = register(
    LossSpec(
        name="proxy_nca",
        family="metric",
        args=PROXY_ARGS,
        forward=_proxy_nca_forward,
        vjp=_proxy_nca_vjp,
        params={"softmax_scale": 1.0, "exclude_positive": False},
        reduction_weights=_proxy_nca_weights,
        check=_check_proxy_nca,
        edge_cases=_proxy_edges(),
        formula=r"\ell_i = -\log \frac{e^{-s \|\hat{x}_i - \hat{p}_{y_i}\|^2}}{\sum_{c} e^{-s \|\hat{x}_i - \hat{p}_c\|^2}}",
        reference="Movshovitz-Attias, Toshev, Leung, Ioffe & Singh 2017 (No Fuss Distance Metric Learning "
        "using Proxies); pytorch-metric-learning ProxyNCALoss",
    )
)


def proxy_nca(
    embeddings: Any,
    weight: Any,
    labels: Any,
    softmax_scale: float = 1.0,
    exclude_positive: bool = False,
    reduction: str = "mean",
) -> Any:
    r"""Proxy-NCA (Movshovitz-Attias et al. 2017): a softmax over the negative squared distances
    from each embedding to the class proxies.

    .. math::  z_{ic} = -s\, \|\hat{x}_i - \hat{p}_c\|^2, \qquad
               \ell_i = \log \sum_{c} e^{z_{ic}} - z_{i y_i}, \qquad
               \frac{\partial \ell_i}{\partial z_{ic}} = \mathrm{softmax}_c(z_i) - [c = y_i],

    with :math:`\hat{x}`, :math:`\hat{p}` the unit rows of ``embeddings`` and ``weight``; then
    :math:`\partial z_{ic} / \partial \hat{x}_i = -2 s (\hat{x}_i - \hat{p}_c)` (and the opposite
    for :math:`\hat{p}_c`), pushed back through the normalisation,
    :math:`\bar{x} = (I - \hat{x}\hat{x}^\top)\,\bar{\hat{x}} / \|x\|`.

    Parameters
    ----------
    embeddings : array or Tensor, shape (N, D)
    weight : array or Tensor, shape (C, D)
        One proxy per class; PML's ``ProxyNCALoss(C, D).proxies``.
    labels : integer array, shape (N,), in [0, C)
    softmax_scale : float, positive
        :math:`s`, PML's ``softmax_scale`` (default 1).
    exclude_positive : bool
        False (PML's): the positive proxy is in the denominator, a plain softmax cross entropy,
        never negative. True: the paper's Eq. 7, :math:`\sum_{c \ne y_i}` in the denominator
        (the loss can then be negative; needs C >= 2).
    reduction : {'mean', 'sum', 'none'}
        'none' gives :math:`\ell_i` per embedding; 'mean' averages them.

    PML departures from the paper, followed by default: the positive proxy is in the
    denominator (``exclude_positive=False``); and PML drops the anchors whose softmax
    probability underflows to exactly 0 (it takes ``-log(p)`` only where ``p != 0``, and averages
    over those), which happens only for :math:`s\,\Delta d \gtrsim 745` (never at the default
    :math:`s = 1`, where squared distances of unit vectors lie in [0, 4]): nploss does the same,
    their 'none' entries being 0, and a batch with none left gives 0. Near that limit (a
    subnormal probability) PML's gradient of ``-log(softmax)`` is NaN (:math:`-1/p` overflows);
    nploss differentiates the log-softmax, finite there. PML's default distance,
    ``LpDistance(power=2)``, normalises both embeddings and proxies, as here.
    ``proxy_nca(x, w, y)`` equals ``pml.losses.ProxyNCALoss(C, D)`` with ``proxies = w``.

    Raises
    ------
    ValueError
        Shapes that do not match, labels outside [0, C), a ``softmax_scale`` that is not positive.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> w = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> round(float(proxy_nca(x, w, np.array([0, 1]))), 6)  # log(1 + e^-2)
    0.126928
    """
    return apply_loss(
        PROXY_NCA,
        embeddings,
        weight,
        labels,
        reduction=reduction,
        softmax_scale=real("softmax_scale", softmax_scale, low=0.0, low_open=True),
        exclude_positive=flag("exclude_positive", exclude_positive),
    )


# ------------------------------------------------------------------------------------ Proxy-Anchor


def _anchor_parts(xp: Any, embeddings: Any, weight: Any, labels: Any, margin: float, alpha: float):
    u, ru, v, rv = _unit(xp, embeddings, weight)
    cos = xp.matmul(u, xp.transpose(v))  # (N, C)
    pos = one_hot(labels, cos.shape[1], 1, bool)
    zero = xp.zeros((1, cos.shape[1]), dtype=cos.dtype)  # the "1 +" inside each log, as exp(0)
    a_pos = xp.concatenate([xp.where(pos, alpha * (margin - cos), -np.inf), zero], axis=0)
    a_neg = xp.concatenate([xp.where(pos, -np.inf, alpha * (cos + margin)), zero], axis=0)
    return u, ru, v, rv, a_pos, a_neg


def _proxy_anchor_forward(xp: Any, embeddings: Any, weight: Any, labels: Any, *, margin: float, alpha: float) -> Any:
    *_, a_pos, a_neg = _anchor_parts(xp, embeddings, weight, labels, margin, alpha)
    return xp.stack([xp.logsumexp(a_pos, axis=0), xp.logsumexp(a_neg, axis=0)])  # (2, C)


def _proxy_anchor_vjp(
    xp: Any, g: Any, embeddings: Any, weight: Any, labels: Any, *, margin: float, alpha: float
) -> tuple[Any, Any]:
    u, ru, v, rv, a_pos, a_neg = _anchor_parts(xp, embeddings, weight, labels, margin, alpha)
    n = u.shape[0]
    # d log(1 + sum_i e^{a_i}) / d a_i: the column softmax (with the 1), 0 outside the mask
    s_pos = xp.softmax(a_pos, axis=0)[:n]
    s_neg = xp.softmax(a_neg, axis=0)[:n]
    dcos = alpha * (xp.reshape(g[1], (1, -1)) * s_neg - xp.reshape(g[0], (1, -1)) * s_pos)
    gu = xp.matmul(dcos, v)
    gv = xp.matmul(xp.transpose(dcos), u)
    return _embed_vjp(xp, gu, u, ru), _embed_vjp(xp, gv, v, rv)


def _proxy_anchor_weights(xp: Any, reduction: str, embeddings: Any, weight: Any, labels: Any, **_: Any) -> Any:
    y = xp.as_data(labels)
    rx = _raw(y)
    classes = weight.shape[0]
    with_pos = len({int(c) for c in _host(y)})  # |P+|, the proxies with a positive in the batch
    w = rx.zeros((2, classes), dtype=weight.dtype)
    w[0] = 1.0 / with_pos if with_pos else 0.0  # PML's DivisorReducer: 0 for a divisor of 0
    w[1] = 1.0 / classes
    return w


def _check_proxy_anchor(embeddings: Any, weight: Any, labels: Any, **_: Any) -> None:
    _check_proxies(embeddings, weight, labels)


PROXY_ANCHOR = register(
    LossSpec(
        name="proxy_anchor",
        unreduced=lambda embeddings, weight, labels, **params: (2, weight.shape[0]),  # rows P_c and N_c
        family="metric",
        args=PROXY_ARGS,
        forward=_proxy_anchor_forward,
        vjp=_proxy_anchor_vjp,
        params={"margin": 0.1, "alpha": 32.0},
        reduction_weights=_proxy_anchor_weights,
        check=_check_proxy_anchor,
        edge_cases=_proxy_edges(),
        formula=r"\frac{1}{|P^+|} \sum_{p \in P^+} \log\Big(1 + \sum_{x \in X_p^+} e^{-\alpha(s(x, p) - \delta)}\Big) "
        r"+ \frac{1}{|P|} \sum_{p \in P} \log\Big(1 + \sum_{x \in X_p^-} e^{\alpha(s(x, p) + \delta)}\Big)",
        reference="Kim, Kim, Cho & Kwak 2020 (Proxy Anchor Loss for Deep Metric Learning); "
        "pytorch-metric-learning ProxyAnchorLoss",
    )
)


def proxy_anchor(
    embeddings: Any,
    weight: Any,
    labels: Any,
    margin: float = 0.1,
    alpha: float = 32.0,
    reduction: str = "mean",
) -> Any:
    r"""Proxy-Anchor loss (Kim et al. 2020): each proxy as an anchor, against all the embeddings
    of its class and all the others, through smooth maxima.

    .. math::  P_c = \log\Big(1 + \sum_{i: y_i = c} e^{\alpha(\delta - s_{ic})}\Big), \quad
               N_c = \log\Big(1 + \sum_{i: y_i \ne c} e^{\alpha(s_{ic} + \delta)}\Big), \quad
               \ell = \frac{1}{|P^+|} \sum_c P_c + \frac{1}{C} \sum_c N_c,

    with :math:`s_{ic} = \hat{x}_i \cdot \hat{p}_c` the cosine between embedding and proxy and
    :math:`P^+` the classes present in the batch (a class without embeddings has
    :math:`P_c = 0`). Each log is a log-sum-exp with the 1 as a term :math:`e^0`, so nothing
    overflows for any :math:`\alpha`. Its derivative is the column softmax
    :math:`\sigma_{ic} = e^{a_{ic}} / (1 + \sum_k e^{a_{kc}})`:

    .. math::  \frac{\partial P_c}{\partial s_{ic}} = -\alpha\, \sigma^{+}_{ic}, \qquad
               \frac{\partial N_c}{\partial s_{ic}} = \alpha\, \sigma^{-}_{ic},

    then :math:`\bar{\hat{x}} = \bar{s}\, \hat{p}`, :math:`\bar{\hat{p}} = \bar{s}^\top \hat{x}`,
    through the normalisation.

    Parameters
    ----------
    embeddings : array or Tensor, shape (N, D)
    weight : array or Tensor, shape (C, D)
        One proxy per class; PML's ``ProxyAnchorLoss(C, D).proxies``.
    labels : integer array, shape (N,), in [0, C)
    margin : float
        :math:`\delta`, PML's ``margin`` (default 0.1).
    alpha : float, positive
        :math:`\alpha`, PML's ``alpha`` (default 32).
    reduction : {'mean', 'sum', 'none'}
        'none' gives the shape ``(2, C)``: row 0 the :math:`P_c`, row 1 the :math:`N_c`; 'mean'
        is :math:`\ell` (the positive row over :math:`|P^+|`, the negative one over C, as PML's
        ``DivisorReducer`` does; with no labels at all the positive part is 0); 'sum' adds all
        :math:`2C` terms.

    PML follows the paper here (both its divisors, the margins' signs); its ``pos_loss`` and
    ``neg_loss`` are the two parts of 'mean'. ``proxy_anchor(x, w, y)`` equals
    ``pml.losses.ProxyAnchorLoss(C, D)`` with ``proxies = w``.

    Raises
    ------
    ValueError
        Shapes that do not match, labels outside [0, C), an ``alpha`` that is not positive.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> w = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> round(float(proxy_anchor(x, w, np.array([0, 1]))), 6)  # log(1 + e^(-28.8)) + log(1 + e^3.2)
    3.239953
    """
    return apply_loss(
        PROXY_ANCHOR,
        embeddings,
        weight,
        labels,
        reduction=reduction,
        margin=real("margin", margin),
        alpha=real("alpha", alpha, low=0.0, low_open=True),
    )


# ------------------------------------------------------------------------------------ SoftTriple


def _soft_triple_parts(
    xp: Any, embeddings: Any, weight: Any, labels: Any, centers_per_class: int, la: float, gamma: float, margin: float
):
    u, ru, v, rv = _unit(xp, embeddings, weight)
    n, k = u.shape[0], centers_per_class
    classes = weight.shape[0] // k
    sim = xp.reshape(xp.matmul(u, xp.transpose(v)), (n, classes, k))  # centre c*K + k of class c
    p = xp.softmax(sim * (1.0 / gamma), axis=2)
    s = xp.sum(p * sim, axis=2)  # (N, C): the soft maximum of each class's similarities
    hit = one_hot(labels, classes, 1, bool)
    logits = la * xp.where(hit, s - margin, s)
    return u, ru, v, rv, sim, p, s, hit, logits


def _soft_triple_forward(
    xp: Any,
    embeddings: Any,
    weight: Any,
    labels: Any,
    *,
    centers_per_class: int,
    la: float,
    gamma: float,
    margin: float,
) -> Any:
    *_, hit, logits = _soft_triple_parts(xp, embeddings, weight, labels, centers_per_class, la, gamma, margin)
    # -log_softmax, as F.cross_entropy: no cancellation in lse - z_y when the target dominates
    return -xp.sum(xp.where(hit, xp.log_softmax(logits, axis=1), 0.0), axis=1)


def _soft_triple_vjp(
    xp: Any,
    g: Any,
    embeddings: Any,
    weight: Any,
    labels: Any,
    *,
    centers_per_class: int,
    la: float,
    gamma: float,
    margin: float,
) -> tuple[Any, Any]:
    u, ru, v, rv, sim, p, s, hit, logits = _soft_triple_parts(
        xp, embeddings, weight, labels, centers_per_class, la, gamma, margin
    )
    n = u.shape[0]
    q = xp.softmax(logits, axis=1)
    dlogits = xp.reshape(g, (-1, 1)) * xp.where(hit, q - 1.0, q)
    ds = la * dlogits
    # S = sum_k p_k s_k with p = softmax(s / gamma): dS/ds_k = p_k (1 + (s_k - S) / gamma)
    dsim = xp.expand_dims(ds, 2) * p * (1.0 + (sim - xp.expand_dims(s, 2)) * (1.0 / gamma))
    dsim = xp.reshape(dsim, (n, -1))
    gu = xp.matmul(dsim, v)
    gv = xp.matmul(xp.transpose(dsim), u)
    return _embed_vjp(xp, gu, u, ru), _embed_vjp(xp, gv, v, rv)


def _check_soft_triple(embeddings: Any, weight: Any, labels: Any, *, centers_per_class: int, **_: Any) -> None:
    _check_proxies(embeddings, weight, labels, centers_per_class)


def _soft_triple_sampler(rng: np.random.Generator, sizes: dict[str, int]) -> list[np.ndarray]:
    """Three classes of ten centres (PML's default ``centers_per_class``)."""
    return [
        rng.standard_normal((sizes["N"], sizes["D"])),
        rng.standard_normal((30, sizes["D"])),
        rng.integers(0, 3, sizes["N"]),
    ]


SOFT_TRIPLE = register(
    LossSpec(
        name="soft_triple",
        grid={  # two centres per class: three classes of two
            "centers_per_class": (
                10,
                OnInputs(2, lambda rng, s: [rng.standard_normal((s["N"], s["D"])), rng.standard_normal((6, s["D"])), rng.integers(0, 3, s["N"])]),
            )
        },
        family="metric",
        args=(
            Arg("embeddings", "real", ("N", "D")),
            Arg("weight", "real", ("C", "D")),  # (C * centers_per_class, D)
            Arg("labels", "label", ("N",), differentiable=False),
        ),
        forward=_soft_triple_forward,
        vjp=_soft_triple_vjp,
        params={"centers_per_class": 10, "la": 20.0, "gamma": 0.1, "margin": 0.01},
        check=_check_soft_triple,
        sampler=_soft_triple_sampler,
        edge_cases=_proxy_edges(10),
        formula=r"\ell_i = -\log \frac{e^{\lambda(S_{i y_i} - \delta)}}{e^{\lambda(S_{i y_i} - \delta)} + "
        r"\sum_{c \ne y_i} e^{\lambda S_{ic}}}, \quad S_{ic} = \sum_k \mathrm{softmax}_k(s_{ick} / \gamma)\, s_{ick}",
        reference="Qian, Shang, Sun, Hu, Li & Jin 2019 (SoftTriple Loss: Deep Metric Learning Without Triplet "
        "Sampling); pytorch-metric-learning SoftTripleLoss",
    )
)


def soft_triple(
    embeddings: Any,
    weight: Any,
    labels: Any,
    centers_per_class: int = 10,
    la: float = 20.0,
    gamma: float = 0.1,
    margin: float = 0.01,
    reduction: str = "mean",
) -> Any:
    r"""SoftTriple loss (Qian et al. 2019): a margin softmax over classes, each class represented
    by ``centers_per_class`` centres whose similarities are merged by a softmax-weighted mean.

    .. math::  s_{ick} = \hat{x}_i \cdot \hat{w}_{cK + k}, \quad
               S_{ic} = \sum_k q_{ick}\, s_{ick}, \ q_{ic} = \mathrm{softmax}(s_{ic} / \gamma), \quad
               \ell_i = \log \sum_c e^{z_{ic}} - z_{i y_i}, \ z_{ic} = \lambda (S_{ic} - \delta [c = y_i]).

    Its gradient: :math:`\partial \ell_i / \partial z_{ic} = \mathrm{softmax}_c(z_i) - [c = y_i]`,
    :math:`\partial S_{ic} / \partial s_{ick} = q_{ick}\,(1 + (s_{ick} - S_{ic}) / \gamma)`, then
    through the cosines and the normalisation of both embeddings and centres.

    Parameters
    ----------
    embeddings : array or Tensor, shape (N, D)
    weight : array or Tensor, shape (C * centers_per_class, D)
        The centres, row :math:`cK + k` the k-th centre of class c; PML's ``SoftTripleLoss(C, D).fc``
        is ``weight.T`` (shape (D, C K)).
    labels : integer array, shape (N,), in [0, C)
    centers_per_class : int, >= 1
        :math:`K` (PML's default 10).
    la : float, positive
        :math:`\lambda`, the scale of the logits (PML's ``la``, default 20).
    gamma : float, positive
        :math:`\gamma`, the temperature of the softmax over a class's centres (the paper's and
        PML's ``gamma``, default 0.1; PML stores its reciprocal, the factor it multiplies by).
    margin : float
        :math:`\delta`, subtracted from the target class's similarity (default 0.01).
    reduction : {'mean', 'sum', 'none'}
        'none' gives :math:`\ell_i` per embedding; 'mean' averages them.

    PML departs from the paper in one way: the paper's objective adds the centres' regulariser
    :math:`\tau R(w)` (an L2,1 norm of the differences between centres of a class, which merges
    redundant centres), which PML applies only when a ``weight_regularizer`` is given; nploss
    follows PML and computes no regulariser (add your own term of ``weight``).
    ``soft_triple(x, w, y)`` equals ``pml.losses.SoftTripleLoss(C, D)`` with ``fc = w.T``.

    Raises
    ------
    ValueError
        Shapes that do not match (the rows of ``weight`` a multiple of ``centers_per_class``),
        labels outside [0, C), non-positive ``la`` or ``gamma``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> w = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> print(f"{float(soft_triple(x, w, np.array([0, 1]), centers_per_class=1)):.6e}")  # log(1 + e^(-20 * 0.99))
    2.517499e-09
    """
    return apply_loss(
        SOFT_TRIPLE,
        embeddings,
        weight,
        labels,
        reduction=reduction,
        centers_per_class=integer("centers_per_class", centers_per_class, low=1),
        la=real("la", la, low=0.0, low_open=True),
        gamma=real("gamma", gamma, low=0.0, low_open=True),
        margin=real("margin", margin),
    )
