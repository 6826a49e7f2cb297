r"""NCA, instance, VICReg and manifold losses, equal by default to pytorch-metric-learning 2.9.0's
``NCALoss``, ``InstanceLoss``, ``VICRegLoss`` and ``ManifoldLoss``.

Each is the textbook forward and its analytic VJP. Normalised rows are
:math:`x / \sqrt{\|x\|^2 + 10^{-16}}` (:mod:`nploss.losses.metric._common`); PML's
``F.normalize`` divides by :math:`\max(\|x\|, 10^{-12})`, the same to a relative
:math:`10^{-16} / 2\|x\|^2`.

PML's ``ManifoldLoss`` (Aziere & Todorovic 2019) needs the random walk's inverse
:math:`(I - \alpha \bar{S})^{-1}`, which the ``xp`` namespaces do not have: it is a Gauss-Jordan
elimination without pivoting written in ``xp`` operations (the matrix is positive-definite). PML
draws its proxies and meta-classes at random; :func:`manifold` takes both as arguments.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import backend
from ...autograd import as_data
from .._apply import apply_loss
from .._params import flag, integer, real
from .._shared import unit_rows, unit_rows_vjp
from .._spec import Arg, LossSpec, register
from ..fewshot.regularisers import _covariance_forward, _covariance_vjp
from ._common import (
    BATCH_ARGS,
    EPS,
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

__all__ = ["instance", "manifold", "nca", "vicreg"]

# ------------------------------------------------------------------------------------ NCA


def _nca_masks(xp: Any, labels: Any) -> tuple[Any, Any, Any]:
    """Off-diagonal mask, the positives' mask (for an anchor without positives: all the others,
    so that its two log-sum-exps are equal and finite, loss and gradient exactly 0) and the
    anchors that have a positive."""
    pos, _ = _pair_masks(xp, labels)
    y = as_data(labels)
    rx = _raw(y)
    off = ~rx.eye(y.shape[0], dtype=bool)
    has = rx.any(pos, axis=1)
    safe = rx.where(rx.expand_dims(has, 1), pos, off)
    return off, safe, has


def _nca_parts(xp: Any, x: Any, labels: Any, softmax_scale: float) -> tuple[Any, Any, Any, Any, Any]:
    off, pos, has = _nca_masks(xp, labels)
    z = -softmax_scale * pairwise_distances(xp, x, x, squared=True)
    z_all = xp.where(off, z, -np.inf)
    z_pos = xp.where(pos, z, -np.inf)
    return z_all, z_pos, xp.logsumexp(z_all, axis=1), xp.logsumexp(z_pos, axis=1), has


def _nca_forward(xp: Any, embeddings: Any, labels: Any, *, softmax_scale: float, normalize: bool) -> Any:
    if embeddings.shape[0] <= 1:  # PML: zero_losses() for a batch of one
        return xp.sum(embeddings, axis=1) * 0.0
    x, _ = _embed(xp, embeddings, normalize)
    _, _, lse_all, lse_pos, has = _nca_parts(xp, x, labels, softmax_scale)
    return xp.where(has, lse_all - lse_pos, 0.0)


def _nca_vjp(xp: Any, g: Any, embeddings: Any, labels: Any, *, softmax_scale: float, normalize: bool) -> tuple[Any]:
    if embeddings.shape[0] <= 1:
        return (embeddings * 0.0,)
    x, norms = _embed(xp, embeddings, normalize)
    z_all, z_pos, lse_all, lse_pos, has = _nca_parts(xp, x, labels, softmax_scale)
    p_all = xp.exp(z_all - xp.reshape(lse_all, (-1, 1)))  # 0 on the diagonal
    p_pos = xp.exp(z_pos - xp.reshape(lse_pos, (-1, 1)))  # 0 outside the positives
    gz = xp.reshape(xp.where(has, g, 0.0), (-1, 1)) * (p_all - p_pos)
    ga, gb = pairwise_distances_vjp(xp, -softmax_scale * gz, x, x, squared=True)
    return (_embed_vjp(xp, ga + gb, x, norms),)


def _nca_weights(xp: Any, reduction: str, embeddings: Any, labels: Any, **_: Any) -> float:
    if embeddings.shape[0] <= 1:
        return 1.0
    _, _, has = _nca_masks(_np(), labels)
    return 1.0 / max(int(has.sum()), 1)


def _nca_edges() -> dict[str, Any]:
    edges = _batch_edges()
    edges["a batch of one"] = lambda rng: [rng.standard_normal((1, 3)), np.array([0])]
    edges["a class with one sample"] = lambda rng: [rng.standard_normal((5, 3)), np.array([0, 0, 1, 1, 2])]
    return edges


def _check_nca(embeddings: Any, labels: Any, **params: Any) -> None:
    _check_batch(embeddings, labels)
    if embeddings.shape[0] == 0:
        raise ValueError("embeddings must hold at least one row (N >= 1), got an empty batch")


NCA = register(
    LossSpec(
        name="nca",
        family="metric",
        args=BATCH_ARGS,
        forward=_nca_forward,
        vjp=_nca_vjp,
        params={"softmax_scale": 1.0, "normalize": True},
        reduction_weights=_nca_weights,
        check=_check_nca,
        sampler=_labelled_batch,
        edge_cases=_nca_edges(),
        formula=r"\ell_i = -\log \sum_{j \in P(i)} p_{ij},\ p_{ij} = \mathrm{softmax}_{j \ne i}(-s\,\|u_i - u_j\|^2)",
        reference="Goldberger, Roweis, Hinton & Salakhutdinov 2004; pytorch-metric-learning NCALoss",
    )
)


def nca(
    embeddings: Any,
    labels: Any,
    softmax_scale: float = 1.0,
    normalize: bool = True,
    reduction: str = "mean",
) -> Any:
    r"""Neighbourhood components analysis loss (Goldberger et al. 2004), pytorch-metric-learning's
    ``NCALoss``: the log-probability that a sample's stochastic nearest neighbour has its label.

    .. math::  p_{ij} = \frac{e^{-s\, d_{ij}}}{\sum_{k \ne i} e^{-s\, d_{ik}}}\ (j \ne i), \qquad
               \ell_i = -\log \sum_{j \in P(i)} p_{ij}
               = \underbrace{\log \sum_{k \ne i} e^{-s d_{ik}}}_{A_i}
               - \underbrace{\log \sum_{j \in P(i)} e^{-s d_{ij}}}_{B_i}

    with :math:`d_{ij} = \|u_i - u_j\|^2` the squared distance of the unit rows :math:`u`
    (of the embeddings themselves with ``normalize=False``), :math:`s` = ``softmax_scale`` and
    :math:`P(i)` the other samples of :math:`i`'s label. Both log-sum-exps are stable. Derivative:

    .. math::  \frac{\partial \ell_i}{\partial d_{ij}} = -s\,\big(p_{ij} - q_{ij}\big), \qquad
               q_{ij} = \frac{e^{-s d_{ij}}}{\sum_{k \in P(i)} e^{-s d_{ik}}}\,[j \in P(i)],

    taken to the embeddings through :math:`\partial d_{ij} / \partial u_i = 2 (u_i - u_j)` and the
    normalisation's Jacobian :math:`(I - u u^\top)/\|x\|`.

    Parameters
    ----------
    embeddings : array or Tensor, shape (N, D)
    labels : integer array, shape (N,), non-negative (only equality matters)
    softmax_scale : float, positive
        :math:`s`, PML's ``softmax_scale``.
    normalize : bool
        L2-normalise the rows first (PML's default ``LpDistance(power=2)`` normalises, its
        ``normalize_embeddings=True``). The paper uses the raw embeddings (``normalize=False``).
    reduction : {'mean', 'sum', 'none'}
        'none' gives :math:`\ell_i` per anchor, 0 for an anchor without a positive; 'mean' averages
        over the anchors that have a positive (PML's ``MeanReducer`` over the anchors it keeps).

    Notes
    -----
    Differences from pytorch-metric-learning and from the paper:

    - The paper maximises :math:`\sum_i \sum_{j \in P(i)} p_{ij}` (or :math:`\sum_i \log` of it) on
      unnormalised embeddings, :math:`s = 1`; PML, and this default, normalise the rows.
    - PML keeps the anchors whose :math:`\sum_{j \in P(i)} p_{ij}` is nonzero **in floating point**;
      here, the anchors with a positive. The two differ only where that probability underflows
      (below :math:`10^{-308}` in float64, e.g. a huge ``softmax_scale``), where PML drops the anchor
      and this function gives its finite :math:`A_i - B_i`.
    - A batch where no anchor has a positive gives 0 here; PML returns NaN (the mean of an empty
      tensor). A batch of one sample gives 0, as in PML; an empty batch is refused.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    >>> round(float(nca(x, np.array([0, 0, 1]))), 6)  # log(1 + e^-2) for both anchors of class 0
    0.126928
    """
    return apply_loss(
        NCA,
        embeddings,
        labels,
        reduction=reduction,
        softmax_scale=real("softmax_scale", softmax_scale, low=0.0, low_open=True),
        normalize=flag("normalize", normalize),
    )


# ------------------------------------------------------------------------------------ instance


def _instance_targets(xp: Any, labels: Any) -> Any:
    """The one-hot (N, N) mask of PML's targets: anchor i's target column is the rank of its label
    among the batch's distinct labels (``torch.unique(labels, return_inverse=True)``)."""
    y = as_data(labels)
    rx = _raw(y)
    _, rank = rx.unique(y, return_inverse=True)
    rank = rx.reshape(rank, (-1,))
    return rx.expand_dims(rank, 1) == rx.expand_dims(rx.arange(y.shape[0]), 0)


def _instance_logits(xp: Any, embeddings: Any, gamma: float) -> tuple[Any, Any, Any]:
    u, norms = _embed(xp, embeddings, True)
    return u, norms, gamma * xp.matmul(u, xp.transpose(u))


def _instance_forward(xp: Any, embeddings: Any, labels: Any, *, gamma: float) -> Any:
    _, _, logits = _instance_logits(xp, embeddings, gamma)
    target = _instance_targets(xp, labels)
    return xp.logsumexp(logits, axis=1) - xp.sum(xp.where(target, logits, 0.0), axis=1)


def _instance_vjp(xp: Any, g: Any, embeddings: Any, labels: Any, *, gamma: float) -> tuple[Any]:
    u, norms, logits = _instance_logits(xp, embeddings, gamma)
    target = _instance_targets(xp, labels)
    soft = xp.exp(logits - xp.logsumexp(logits, axis=1, keepdims=True))
    gl = xp.reshape(g, (-1, 1)) * (soft - xp.where(target, 1.0, 0.0)) * gamma  # d/dC, C = U U^T
    gu = xp.matmul(gl + xp.transpose(gl), u)
    return (_embed_vjp(xp, gu, u, norms),)


INSTANCE = register(
    LossSpec(
        name="instance",
        family="metric",
        args=BATCH_ARGS,
        forward=_instance_forward,
        vjp=_instance_vjp,
        params={"gamma": 64.0},
        check=_check_batch,
        sampler=_labelled_batch,
        edge_cases=_batch_edges(),
        formula=r"\ell_i = -\log \mathrm{softmax}_j(\gamma\, u_i \cdot u_j)\big|_{j = t_i},\ "
        r"t_i = \mathrm{rank\ of\ } y_i \mathrm{\ among\ the\ distinct\ labels}",
        reference="Zheng, Zheng, Garrett, Yang, Xu & Shen 2020 (instance loss); pytorch-metric-learning InstanceLoss",
    )
)


def instance(embeddings: Any, labels: Any, gamma: float = 64.0, reduction: str = "mean") -> Any:
    r"""Instance loss as pytorch-metric-learning's ``InstanceLoss`` computes it: a cross-entropy
    whose logits are the batch's scaled cosine similarities.

    .. math::  C_{ij} = u_i \cdot u_j, \qquad
               \ell_i = \log \sum_{j=1}^{N} e^{\gamma C_{ij}} - \gamma C_{i t_i}, \qquad
               \frac{\partial \ell_i}{\partial C_{ij}} = \gamma\,\big(\mathrm{softmax}_j(\gamma C_{i\cdot}) - [j = t_i]\big)

    with :math:`u` the unit rows (every :math:`j`, the diagonal :math:`j = i` included) and
    :math:`t_i` the rank of :math:`y_i` among the distinct labels of the batch, sorted
    (``torch.unique(labels, return_inverse=True)``). The gradient reaches :math:`u` through
    :math:`\partial C / \partial U`: :math:`G_U = (G_C + G_C^\top) U`, then the normalisation.

    Parameters
    ----------
    embeddings : array or Tensor, shape (N, D)
    labels : integer array, shape (N,), non-negative
    gamma : float, positive
        The scale :math:`\gamma` (PML's ``gamma``, default 64).
    reduction : {'mean', 'sum', 'none'}
        'mean' over the N anchors (PML's ``MeanReducer``).

    Notes
    -----
    **PML departs from the paper.** Zheng et al.'s instance loss classifies every image among
    *all the training instances* with a learned fully-connected layer (one class per image).
    PML's version uses the batch's cosine similarities as the logits, so that the target
    :math:`t_i` is a **column of the batch**, the sample whose *index* equals the label's rank:
    with labels ``arange(N)`` (each sample its own instance, PML's behaviour without labels) the
    target is the sample itself, the in-batch instance loss; with repeated labels, it is whichever
    sample sits at that index, whatever its label. This function follows PML; pass
    ``labels=np.arange(N)`` for the in-batch instance loss. The paper's classifier over all
    instances is :func:`~nploss.losses.cross_entropy` on a linear layer's logits.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> round(float(instance(x, np.array([0, 1]), gamma=1.0)), 6)  # log(e + 1) - 1
    0.313262
    """
    return apply_loss(
        INSTANCE, embeddings, labels, reduction=reduction, gamma=real("gamma", gamma, low=0.0, low_open=True)
    )


# ------------------------------------------------------------------------------------ VICReg


def _vicreg_std(xp: Any, z: Any, eps: float) -> tuple[Any, Any]:
    zc = z - xp.mean(z, axis=0, keepdims=True)
    var = xp.sum(zc * zc, axis=0) * (1.0 / (z.shape[0] - 1))
    return zc, xp.sqrt(var + eps)


def _vicreg_forward(
    xp: Any,
    embeddings: Any,
    ref_emb: Any,
    *,
    invariance_lambda: float,
    variance_mu: float,
    covariance_v: float,
    eps: float,
    reduction: str,
) -> Any:
    diff = embeddings - ref_emb
    total = invariance_lambda * xp.mean(diff * diff)
    for z in (embeddings, ref_emb):
        _, std = _vicreg_std(xp, z, eps)
        total = total + variance_mu * 0.5 * xp.mean(xp.relu(1.0 - std))
        total = total + covariance_v * _covariance_forward(xp, z, reduction="mean")
    return total


def _vicreg_vjp(
    xp: Any,
    g: Any,
    embeddings: Any,
    ref_emb: Any,
    *,
    invariance_lambda: float,
    variance_mu: float,
    covariance_v: float,
    eps: float,
    reduction: str,
) -> tuple[Any, Any]:
    n, d = embeddings.shape
    gi = g * (2.0 * invariance_lambda / (n * d)) * (embeddings - ref_emb)
    grads = []
    for z, sign in ((embeddings, 1.0), (ref_emb, -1.0)):
        zc, std = _vicreg_std(xp, z, eps)
        # d/d std_k of mu/(2D) relu(1 - std_k) is -mu/(2D) [std_k < 1]; d std/d var = 1/(2 std);
        # d var_k / d z_ik = 2 zc_ik / (N - 1)
        active = xp.where(std < 1.0, 1.0, 0.0)
        w = -g * variance_mu / (2.0 * d) * active / (2.0 * std) * (2.0 / (n - 1))
        gz = sign * gi + xp.reshape(w, (1, -1)) * zc
        gz = gz + _covariance_vjp(xp, g * covariance_v, z, reduction="mean")[0]
        grads.append(gz)
    return grads[0], grads[1]


def _check_vicreg(embeddings: Any, ref_emb: Any, **_: Any) -> None:
    if embeddings.ndim != 2:
        raise ValueError(f"embeddings must have shape (N, D), got {tuple(embeddings.shape)}")
    if tuple(ref_emb.shape) != tuple(embeddings.shape):
        raise ValueError(
            f"ref_emb must have the shape of embeddings {tuple(embeddings.shape)}, got {tuple(ref_emb.shape)}"
        )
    if embeddings.shape[0] < 2:
        raise ValueError(
            f"embeddings must hold at least 2 rows (N >= 2): the unbiased variance divides by N - 1; "
            f"got shape {tuple(embeddings.shape)}"
        )
    if embeddings.shape[1] < 1:
        raise ValueError("embeddings must have at least one feature (D >= 1), got D = 0")


def _vicreg_kinks(embeddings: Any, ref_emb: Any, *, eps: float, **_: Any) -> Any:
    xp = _np()
    return np.concatenate([np.abs(1.0 - _vicreg_std(xp, z, eps)[1]) for z in (embeddings, ref_emb)])


VICREG = register(
    LossSpec(
        name="vicreg",
        family="metric",
        args=(Arg("embeddings", "real", ("N", "D")), Arg("ref_emb", "real", ("N", "D"))),
        forward=_vicreg_forward,
        vjp=_vicreg_vjp,
        params={"invariance_lambda": 25.0, "variance_mu": 25.0, "covariance_v": 1.0, "eps": 1e-4},
        reduces_itself=True,
        reductions=("mean",),
        check=_check_vicreg,
        kinks=_vicreg_kinks,
        sizes={"N": 6, "D": 3},
        edge_cases={
            "identical branches": lambda rng: [rng.standard_normal((5, 3))] * 2,
            "constant embeddings": lambda rng: [np.ones((4, 3)), np.zeros((4, 3))],
            "two rows": lambda rng: [rng.standard_normal((2, 3)), rng.standard_normal((2, 3))],
            "one dimension": lambda rng: [rng.standard_normal((4, 1)), rng.standard_normal((4, 1))],
            "entries of 1e3": lambda rng: [1e3 * rng.standard_normal((5, 3)), 1e3 * rng.standard_normal((5, 3))],
        },
        formula=r"L = \frac{\lambda}{ND} \|Z - Z'\|^2 + \frac{\mu}{2D} \sum_k [\max(0, 1 - S_k) + \max(0, 1 - S'_k)]"
        r" + \nu [c(Z) + c(Z')],\ S_k = \sqrt{\mathrm{Var}(z_{\cdot k}) + \varepsilon}",
        reference="Bardes, Ponce & LeCun 2022 (VICReg); pytorch-metric-learning VICRegLoss",
    )
)


def vicreg(
    embeddings: Any,
    ref_emb: Any,
    invariance_lambda: float = 25.0,
    variance_mu: float = 25.0,
    covariance_v: float = 1.0,
    eps: float = 1e-4,
) -> Any:
    r"""VICReg loss (Bardes, Ponce & LeCun 2022): invariance, variance and covariance of two
    branches :math:`Z, Z'` of shape (N, D), as pytorch-metric-learning's
    ``VICRegLoss()(embeddings, ref_emb=ref_emb)`` (no labels).

    .. math::  L = \lambda\, s(Z, Z') + \mu\, \tfrac12 [v(Z) + v(Z')] + \nu\, [c(Z) + c(Z')],

    .. math::  s = \frac{1}{ND} \sum_{ik} (z_{ik} - z'_{ik})^2, \quad
               v(Z) = \frac1D \sum_k \max(0, 1 - S_k),\ S_k = \sqrt{\mathrm{Var}_{N-1}(z_{\cdot k}) + \varepsilon}, \quad
               c(Z) = \frac1D \sum_{k \ne l} C_{kl}^2

    with :math:`C` the unbiased covariance. :math:`c` **is** :func:`nploss.losses.covariance`
    (``vicreg(z, z2, invariance_lambda=0, variance_mu=0, covariance_v=1)`` equals
    ``covariance(z) + covariance(z2)``), whose forward and VJP this function reuses.
    Derivatives: :math:`\partial s / \partial Z = 2 (Z - Z') / (ND)`;
    :math:`\partial v / \partial z_{ik} = -[S_k < 1]\, \bar z_{ik} / (D (N-1) S_k)` with
    :math:`\bar z` the centred column (zero where :math:`S_k \ge 1`: the hinge's kink at
    :math:`S_k = 1` takes PyTorch's ``relu`` slope 0); :math:`\partial c / \partial Z
    = 4 \bar Z C_{\mathrm{off}} / (D (N-1))`.

    Parameters
    ----------
    embeddings, ref_emb : array or Tensor, shape (N, D), N >= 2
        The two branches (PML's ``embeddings`` and ``ref_emb``); both get a gradient.
    invariance_lambda, variance_mu, covariance_v : float, non-negative
        :math:`\lambda, \mu, \nu` (PML's names and defaults 25, 25, 1).
    eps : float, positive
        Added to each variance under the square root (PML's and the paper's :math:`10^{-4}`).

    Returns
    -------
    0-d array or Tensor (the loss is already a mean; only ``reduction='mean'`` exists)

    Notes
    -----
    **The factor 1/2 of the variance term.** The paper writes :math:`\mu [v(Z) + v(Z')]`; its
    official code and PML halve it, :math:`\mu [v(Z) + v(Z')] / 2` ("for averaging"). This
    function follows PML; the paper's formula is ``variance_mu=2 * mu``. The invariance term is
    PyTorch's ``mse_loss`` (a mean over :math:`N D`), the covariance term sums the two branches.
    The hinge has a kink where a standard deviation is exactly 1.

    Examples
    --------
    >>> import numpy as np
    >>> z = np.array([[1.0, 0.0], [-1.0, 0.0]])  # S = (sqrt(2 + 1e-4), 1e-2), no covariance
    >>> round(float(vicreg(z, z)), 6)  # 25 * (0.99 / 2) / 2 * 2
    12.375
    """
    return apply_loss(
        VICREG,
        embeddings,
        ref_emb,
        reduction="mean",
        invariance_lambda=real("invariance_lambda", invariance_lambda, low=0.0),
        variance_mu=real("variance_mu", variance_mu, low=0.0),
        covariance_v=real("covariance_v", covariance_v, low=0.0),
        eps=real("eps", eps, low=0.0, low_open=True),
    )


# ------------------------------------------------------------------------------------ manifold


def _mf_const(like: Any, arr: np.ndarray) -> Any:
    """A NumPy constant on ``like``'s backend, in its floating dtype (booleans stay boolean)."""
    dtype = None if arr.dtype == bool else as_data(like).dtype
    return backend.asarray(arr, dtype=dtype)


def _gauss_jordan_inverse(xp: Any, a: Any) -> Any:
    r"""Inverse of a symmetric positive-definite matrix by Gauss-Jordan elimination without
    pivoting, in ``xp`` ops (no indexing or assignment, so that it runs on Tensors too). Step
    :math:`k` replaces :math:`[A | B]` by :math:`[A | B] - (a_{\cdot k} - e_k)\, r_k / a_{kk}`, with
    :math:`r_k` its row :math:`k`: row :math:`k` is divided by its pivot and column :math:`k`
    cleared elsewhere. The pivots of a positive-definite matrix are ratios of its leading minors,
    positive, so no pivoting is needed."""
    m = a.shape[0]
    eye = np.eye(m)
    aug = xp.concatenate([a, _mf_const(a, eye) + 0.0 * a], axis=1)
    for k in range(m):
        ek = _mf_const(a, eye[:, k : k + 1])  # (m, 1)
        row = xp.matmul(xp.transpose(ek), aug)  # (1, 2m)
        col = xp.matmul(aug, _mf_const(a, np.eye(2 * m)[:, k : k + 1]))  # (m, 1)
        piv = xp.matmul(row, _mf_const(a, np.eye(2 * m)[:, k : k + 1]))  # (1, 1)
        aug = aug - xp.matmul(col - ek, row / piv)
    return xp.matmul(aug, _mf_const(a, np.concatenate([np.zeros((m, m)), eye])))


def _mf_softplus_terms(xp: Any, g: Any, own: Any, margin: float) -> tuple[Any, Any, Any]:
    r"""PML's :math:`\ell_i = \log(1 + \sum_{j \in A_i} e^{t_{ij}})` with
    :math:`t_{ij} = G_{ij} - G_{i m_i} + \mathrm{margin}`, :math:`A_i = \{j \ne m_i : t_{ij} \ge 0\}`;
    also :math:`p_{ij} = \partial \ell_i / \partial t_{ij}` and :math:`t`."""
    gm = xp.sum(xp.where(own, g, 0.0), axis=1, keepdims=True)
    t = g - gm + margin
    mask = (as_data(t) >= 0.0) & ~own
    z = xp.where(mask, t, -np.inf)
    zero = _mf_const(g, np.zeros((t.shape[0], 1)))
    lse = xp.logsumexp(xp.concatenate([zero, z], axis=1), axis=1, keepdims=True)
    p = xp.where(mask, xp.exp(z - lse), 0.0)
    return xp.reshape(lse, (-1,)), p, t


def _mf_parts(
    xp: Any, embeddings: Any, proxies: Any, meta_classes: Any, lambdaC: float, alpha: float, margin: float
) -> tuple[Any, dict[str, Any]]:
    r"""The per-sample loss :math:`\ell^{int}_i + \lambda_C \ell^{ctx}_i` and what the VJP reuses."""
    n, k = embeddings.shape[0], proxies.shape[0]
    m = n + k
    x = xp.concatenate([embeddings, proxies], axis=0)
    u, r = unit_rows(xp, x, EPS)
    c = xp.matmul(u, xp.transpose(u))
    cpos = as_data(c) >= 0.0
    s = xp.exp(2.0 * xp.where(cpos, c, 0.0)) * _mf_const(x, 1.0 - np.eye(m))  # exp(clamp(cos, 0) / 0.5), 0 diagonal
    d = xp.sum(s, axis=1, keepdims=True)
    rd = 1.0 / xp.sqrt(d)
    sbar = rd * s * xp.transpose(rd)
    inv = _gauss_jordan_inverse(xp, _mf_const(x, np.eye(m)) - alpha * sbar)
    f = (1.0 - alpha) * inv
    own = _mf_const(x, np.asarray(_host(meta_classes)).astype(np.int64).reshape(-1, 1) == np.arange(k)[None, :])
    sel_e, sel_p = _mf_const(x, np.eye(m)[:n]), _mf_const(x, np.eye(m)[n:])
    fe, fp = xp.matmul(sel_e, f), xp.matmul(sel_p, f)  # F[:N, :], F[N:, :]
    fep = xp.matmul(fe, xp.transpose(sel_p))  # F[:N, N:]
    na = xp.sqrt(xp.sum(fe * fe, axis=1, keepdims=True))
    nb = xp.sqrt(xp.sum(fp * fp, axis=1, keepdims=True))
    ah, bh = fe / na, fp / nb
    cos = xp.matmul(ah, xp.transpose(bh))  # cosine_similarity(F_e, F_p.unsqueeze(1)).t()
    l_int, p_int, t_int = _mf_softplus_terms(xp, fep, own, margin)
    l_ctx, p_ctx, t_ctx = _mf_softplus_terms(xp, cos, own, margin)
    parts = {
        "u": u, "r": r, "cpos": cpos, "s": s, "d": d, "rd": rd, "inv": inv, "own": own, "sel_e": sel_e,
        "sel_p": sel_p, "cos": cos, "ah": ah, "bh": bh, "na": na, "nb": nb, "p_int": p_int, "p_ctx": p_ctx,
        "t_int": t_int, "t_ctx": t_ctx, "c": c,
    }  # fmt: skip
    return l_int + lambdaC * l_ctx, parts


def _manifold_forward(
    xp: Any,
    embeddings: Any,
    proxies: Any,
    meta_classes: Any,
    *,
    lambdaC: float,
    alpha: float,
    margin: float,
    reduction: str,
) -> Any:
    per, _ = _mf_parts(xp, embeddings, proxies, meta_classes, lambdaC, alpha, margin)
    return xp.mean(per)


def _mf_term_grad(xp: Any, gp: Any, own: Any) -> Any:
    """Cotangent of :math:`G` from :math:`g_i p_{ij}`: itself at :math:`j`, minus its row sum at :math:`m_i`."""
    return gp - xp.where(own, xp.sum(gp, axis=1, keepdims=True), 0.0)


def _manifold_vjp(
    xp: Any,
    g: Any,
    embeddings: Any,
    proxies: Any,
    meta_classes: Any,
    *,
    lambdaC: float,
    alpha: float,
    margin: float,
    reduction: str,
) -> tuple[Any, Any]:
    n = embeddings.shape[0]
    _, q = _mf_parts(xp, embeddings, proxies, meta_classes, lambdaC, alpha, margin)
    gi = g * (1.0 / n)
    sel_e, sel_p = q["sel_e"], q["sel_p"]
    # intrinsic term: G = F[:N, N:]
    g_fep = _mf_term_grad(xp, gi * q["p_int"], q["own"])
    g_f = xp.matmul(xp.matmul(xp.transpose(sel_e), g_fep), sel_p)
    # context term: G_ij = cos(F_e_i, F_p_j)
    gc = _mf_term_grad(xp, (lambdaC * gi) * q["p_ctx"], q["own"])
    cos, ah, bh = q["cos"], q["ah"], q["bh"]
    g_fe = (xp.matmul(gc, bh) - xp.sum(gc * cos, axis=1, keepdims=True) * ah) / q["na"]
    gct, cost = xp.transpose(gc), xp.transpose(cos)
    g_fp = (xp.matmul(gct, ah) - xp.sum(gct * cost, axis=1, keepdims=True) * bh) / q["nb"]
    g_f = g_f + xp.matmul(xp.transpose(sel_e), g_fe) + xp.matmul(xp.transpose(sel_p), g_fp)
    # F = (1 - alpha) A^-1, A = I - alpha S_bar, d(A^-1) = -A^-1 dA A^-1 with A symmetric
    inv = q["inv"]
    g_sbar = (alpha * (1.0 - alpha)) * xp.matmul(xp.matmul(inv, g_f), inv)
    s, rd = q["s"], q["rd"]
    rdt = xp.transpose(rd)
    h = g_sbar * s
    g_rd = xp.sum(h * rdt, axis=1, keepdims=True) + xp.transpose(xp.sum(h * rd, axis=0, keepdims=True))
    g_d = g_rd * (-0.5) * rd / q["d"]
    g_s = g_sbar * rd * rdt + g_d  # d_i = sum_j S_ij
    gcm = xp.where(q["cpos"], 2.0 * g_s * s, 0.0)  # S = exp(2 max(C, 0)), 0 on the diagonal
    gu = xp.matmul(gcm + xp.transpose(gcm), q["u"])
    gx = unit_rows_vjp(xp, gu, q["u"], q["r"])
    return xp.matmul(sel_e, gx), xp.matmul(sel_p, gx)


def _check_manifold(embeddings: Any, proxies: Any, meta_classes: Any, **_: Any) -> None:
    if embeddings.ndim != 2 or embeddings.shape[0] < 1:
        raise ValueError(f"embeddings must have shape (N, D) with N >= 1, got {tuple(embeddings.shape)}")
    if proxies.ndim != 2 or proxies.shape[1] != embeddings.shape[1] or proxies.shape[0] < 1:
        raise ValueError(
            f"proxies must have shape (K, {embeddings.shape[1]}) with K >= 1 (the embeddings' D), "
            f"got {tuple(proxies.shape)}"
        )
    if tuple(meta_classes.shape) != (embeddings.shape[0],):
        raise ValueError(
            f"meta_classes must have shape ({embeddings.shape[0]},), one proxy index per embedding, "
            f"got {tuple(meta_classes.shape)}"
        )
    idx = np.asarray(_host(meta_classes))
    k = proxies.shape[0]
    if idx.size and (not np.all(idx == np.round(idx)) or idx.min() < 0 or idx.max() >= k):
        raise ValueError(
            f"meta_classes must be proxy indices in [0, {k}) (the rows of proxies), "
            f"got values from {idx.min()} to {idx.max()}"
        )


def _manifold_kinks(embeddings: Any, proxies: Any, meta_classes: Any, *, lambdaC: float, alpha: float, margin: float,
                    **_: Any) -> Any:  # fmt: skip
    """|t| of every term of both hinges (PML's terms jump from 0 to log(1 + e^0) at t = 0) and the
    off-diagonal cosines (the clamp at 0)."""
    xp = _np()
    _, q = _mf_parts(xp, embeddings, proxies, meta_classes, lambdaC, alpha, margin)
    own = q["own"]
    m = q["c"].shape[0]
    return np.concatenate([np.abs(q["t_int"][~own]), np.abs(q["t_ctx"][~own]), np.abs(q["c"][~np.eye(m, dtype=bool)])])


def _manifold_sampler(rng: np.random.Generator, sizes: dict[str, int]) -> list[np.ndarray]:
    """Seven embeddings, three proxies, every proxy with a sample."""
    return [
        rng.standard_normal((7, sizes.get("D", 4))),
        rng.standard_normal((3, sizes.get("D", 4))),
        rng.permutation(np.array([0, 1, 2, 0, 1, 2, 0])),
    ]


def _mf_on_proxies(rng: np.random.Generator) -> list[np.ndarray]:
    meta = np.array([0, 1, 2, 0, 1])
    p = rng.standard_normal((3, 3))
    return [p[meta].copy(), p, meta]


def _manifold_edges() -> dict[str, Any]:
    meta = np.array([0, 1, 2, 0, 1])
    return {
        "identical embeddings": lambda rng: [np.ones((5, 3)), rng.standard_normal((3, 3)), meta],
        "embeddings equal to their proxies": _mf_on_proxies,
        "one meta-class": lambda rng: [rng.standard_normal((5, 3)), rng.standard_normal((3, 3)), np.zeros(5, int)],
        "a proxy without samples": lambda rng: [
            rng.standard_normal((5, 3)), rng.standard_normal((3, 3)), np.array([0, 0, 1, 1, 0])
        ],
        "one proxy": lambda rng: [rng.standard_normal((4, 3)), rng.standard_normal((1, 3)), np.zeros(4, int)],
        "entries of 1e3": lambda rng: [1e3 * rng.standard_normal((5, 3)), 1e3 * rng.standard_normal((3, 3)), meta],
    }  # fmt: skip


MANIFOLD = register(
    LossSpec(
        name="manifold",
        family="metric",
        args=(
            Arg("embeddings", "real", ("N", "D")),
            Arg("proxies", "real", ("K", "D")),
            Arg("meta_classes", "label", ("N",), differentiable=False),
        ),
        forward=_manifold_forward,
        vjp=_manifold_vjp,
        params={"lambdaC": 1.0, "alpha": 0.8, "margin": 5e-4},
        reduces_itself=True,
        reductions=("mean",),
        check=_check_manifold,
        kinks=_manifold_kinks,
        sampler=_manifold_sampler,
        sizes={"N": 7, "K": 3, "D": 4},
        edge_cases=_manifold_edges(),
        formula=r"L = \frac1N \sum_i \Big[\log\big(1 + \sum_{j \ne m_i,\, t_{ij} \ge 0} e^{t_{ij}}\big)"
        r" + \lambda_C \log\big(1 + \sum_{j \ne m_i,\, c_{ij} \ge 0} e^{c_{ij}}\big)\Big],\ "
        r"t_{ij} = F_{i,p_j} - F_{i,p_{m_i}} + \mu,\ F = (1 - \alpha)(I - \alpha \bar S)^{-1}",
        reference="Aziere & Todorovic 2019 (ensemble deep manifold similarity learning using hard proxies); "
        "pytorch-metric-learning ManifoldLoss",
    )
)


def manifold(
    embeddings: Any,
    proxies: Any,
    meta_classes: Any,
    l: int,
    lambdaC: float = 1.0,
    alpha: float = 0.8,
    margin: float = 5e-4,
) -> Any:
    r"""Manifold loss (Aziere & Todorovic 2019) as pytorch-metric-learning's ``ManifoldLoss``
    computes it, with the proxies and the meta-classes given instead of drawn at random:
    ``manifold(e, p, m, l)`` is ``ManifoldLoss(l, K=len(p))`` with ``loss.proxies = p``, called as
    ``loss(e, indices_tuple=m)``.

    The embeddings and proxies, :math:`X = [E; P]` (:math:`M = N + K` rows), make a graph whose
    random walk gives the manifold similarities :math:`F`:

    .. math::  C = U U^\top\ (U\ \text{the unit rows of}\ X), \quad
               S_{ab} = e^{2 \max(C_{ab}, 0)}\,[a \ne b], \quad
               \bar S = D^{-1/2} S D^{-1/2},\ D = \mathrm{diag}(S \mathbf 1), \quad
               F = (1 - \alpha)(I - \alpha \bar S)^{-1}.

    With :math:`m_i` the meta-class (proxy index) of embedding :math:`i` and
    :math:`h(G)_i = \log\big(1 + \sum_{j \ne m_i,\ t_{ij} \ge 0} e^{t_{ij}}\big)`,
    :math:`t_{ij} = G_{ij} - G_{i m_i} + \mu`:

    .. math::  L = \frac1N \sum_{i=1}^N \Big[h\big(F_{E P}\big)_i
               + \lambda_C\, h\big(\cos(F_{E \cdot}, F_{P \cdot})\big)_i\Big],

    :math:`F_{EP}` the embeddings-by-proxies block of :math:`F` (the intrinsic loss) and
    :math:`\cos(F_{E\cdot}, F_{P\cdot})_{ij}` the cosine of row :math:`i` of :math:`F` with row
    :math:`N + j` (the context loss). Derivative: :math:`\partial h_i / \partial t_{ij} = p_{ij} =
    e^{t_{ij}} / (1 + \sum_{k} e^{t_{ik}})` over the counted terms, passed to :math:`G_{ij}` and
    (negated, summed) to :math:`G_{i m_i}`; the cosines' Jacobian; the inverse's
    :math:`d(A^{-1}) = -A^{-1}\, dA\, A^{-1}` (:math:`A = I - \alpha \bar S` is symmetric, so
    :math:`\bar G_{\bar S} = \alpha (1 - \alpha)\, A^{-1} \bar G_F A^{-1}`); the normalisation
    :math:`\partial \bar S_{ab} / \partial S` through :math:`D^{-1/2}`; :math:`2 S_{ab}` through the
    exponential where :math:`C_{ab} \ge 0` (0 elsewhere, PyTorch's ``clamp`` slope 1 at 0); and
    :math:`(G_C + G_C^\top) U` through the unit rows. The inverse is a Gauss-Jordan elimination
    without pivoting (:math:`A` is positive-definite, its eigenvalues in
    :math:`[1 - \alpha, 1 + \alpha]`), written in array operations so that it runs on Tensors.

    **Not continuous.** PML drops each term with :math:`t_{ij} < 0` (it sets it to
    :math:`-\infty` before the exponential) and keeps those with :math:`t_{ij} \ge 0`, so each
    term inside the logarithm jumps from 0 to :math:`e^0 = 1` at :math:`t_{ij} = 0`
    (the registry's ``kinks`` are :math:`|t_{ij}|`, for both terms, and the off-diagonal
    :math:`|C_{ab}|` of the clamp); the gradient is that of the piece on either side.

    Parameters
    ----------
    embeddings : array or Tensor, shape (N, D)
    proxies : array or Tensor, shape (K, D)
        PML's ``proxies`` parameter (a learned ``nn.Parameter``, differentiable here too; pass an
        array to treat them as constant).
    meta_classes : integer array, shape (N,), in [0, K)
        The proxy of each embedding: what PML takes as ``indices_tuple`` (it draws them at random
        when it is None: every proxy once, the rest uniformly, shuffled).
    l : int
        The embedding size (PML's required ``l``); must equal D.
    lambdaC : float, non-negative and finite
        :math:`\lambda_C`, the weight of the context loss.
    alpha : float in (0, 1)
        The random walk's :math:`\alpha`.
    margin : float
        :math:`\mu`.

    Returns
    -------
    0-d array or Tensor (PML's ``already_reduced`` mean; only the mean exists)

    Notes
    -----
    Differences from pytorch-metric-learning (and from the paper):

    - **Float32 inverse.** PML casts :math:`I - \alpha \bar S` to float32 before
      ``torch.inverse`` ("inverse is not available for Half") and back, so its float64 loss
      carries float32's round-off (about :math:`10^{-7}` relative in the gradients; :math:`10^{-9}`
      in the value here). This function computes in the inputs' dtype; the test fixtures run PML
      with that cast disabled, where the two agree to :math:`10^{-15}`.
    - **Determinism.** PML draws its proxies (``torch.randn(K, l)``) at construction and, without
      ``indices_tuple``, the meta-classes at every call; here both are arguments. ``K`` is
      ``len(proxies)``; PML's ``labels`` are not supported (PML refuses them too).
    - ``lambdaC = inf`` ("context loss only" in PML's docstring) gives :math:`0 + \infty \cdot
      \ell^{ctx}` in PML (infinite or NaN); it is refused here: scale the loss instead.
    - PML's similarity is ``exp(clamp(cos, 0) / 0.5)``, the paper's Gaussian-type affinity on
      cosines clamped at 0, and the hinges count :math:`t \ge 0` (the paper's
      :math:`\log(1 + \sum \exp)` over the "hard" proxies); the own proxy's term is left out.

    Examples
    --------
    >>> import numpy as np
    >>> e = np.array([[1.0, 0.0], [0.0, 1.0], [0.9, 0.1]])
    >>> p = np.array([[1.0, 0.1], [0.1, 1.0]])
    >>> round(float(manifold(e, p, np.array([0, 1, 1]), l=2)), 6)
    0.507409
    """
    l = integer("l", l, low=1)
    if getattr(embeddings, "ndim", 0) == 2 and l != embeddings.shape[1]:
        raise ValueError(f"l must equal the embedding size D = {embeddings.shape[1]}, got l = {l}")
    return apply_loss(
        MANIFOLD,
        embeddings,
        proxies,
        meta_classes,
        reduction="mean",
        lambdaC=real("lambdaC", lambdaC, low=0.0),
        alpha=real("alpha", alpha, low=0.0, high=1.0, low_open=True, high_open=True),
        margin=real("margin", margin),
    )
