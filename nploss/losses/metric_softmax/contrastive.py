r"""N-pair, NT-Xent and SupCon: a cross entropy over the similarities between the embeddings of a
batch, each anchor's positive(s) playing the part of the label.

- :func:`n_pair`: raw dot products between anchors and the positives of all the pairs;
- :func:`nt_xent` (SimCLR) and :func:`supcon`: cosine similarities over a temperature between
  every two rows of the batch (the normalisation of :mod:`nploss.losses.metric_softmax._common`).

**Diagonal.** NT-Xent and SupCon exclude an anchor's similarity with itself from the
denominator. It is the largest entry of its row (:math:`1/\tau`), so it is dropped exactly, by
masking it with :math:`-\infty` before the log-sum-exp (:math:`e^{-\infty} = 0`), never by
subtracting it from a sum.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._apply import apply_loss
from .._params import real
from .._shared import one_hot, unit_rows, unit_rows_vjp
from .._spec import Arg, LossSpec, register
from .._validate import matrix, same_shape
from ..classification.cross_entropy import softmax_xent_vjp

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
    # a cross entropy over each row of A P^T whose label is the anchor's own pair: softmax - one-hot
    dz = softmax_xent_vjp(xp, g, logits, xp.arange(logits.shape[0]))
    ga = xp.matmul(dz, positives)
    gp = xp.matmul(xp.transpose(dz), anchors)
    if l2_reg:
        ga = ga + (0.5 * l2_reg) * g[:, None] * anchors
        gp = gp + (0.5 * l2_reg) * g[:, None] * positives
    return ga, gp


def _check_n_pair(anchors: Any, positives: Any, *, l2_reg: float) -> None:
    matrix("anchors", anchors)
    same_shape("anchors", anchors, "positives", positives)
    real("l2_reg", l2_reg, low=0.0)


def _n_pair_edges() -> dict[str, Any]:
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
    u, r = unit_rows(xp, z)
    return u, r, xp.matmul(u, xp.transpose(u)) * (1.0 / temperature)


def _similarities_vjp(xp: Any, ds: Any, u: Any, r: Any, temperature: float) -> Any:
    """The gradient with respect to z from dl/dS, through S = u u^T / tau and u = z / |z|."""
    gu = xp.matmul(ds + xp.transpose(ds), u) * (1.0 / temperature)
    return unit_rows_vjp(xp, gu, u, r)


def _off_diagonal_softmax(xp: Any, s: Any) -> Any:
    """q_ik, the softmax of row i of S over k != i: the diagonal is -inf before the exp
    (e^{s_ii - lse_i} could overflow for a small tau), so it comes out 0."""
    masked = _mask_diagonal(xp, s)
    return xp.exp(masked - xp.logsumexp(masked, axis=1, keepdims=True))


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
    q = _off_diagonal_softmax(xp, s)
    ds = g[:, None] * (q - one_hot(_nt_xent_positives(xp, z), s.shape[1], 1, q.dtype))
    return (_similarities_vjp(xp, ds, u, r, temperature),)


def _check_nt_xent(z: Any, *, temperature: float) -> None:
    matrix("z", z)
    if z.shape[0] < 2 or z.shape[0] % 2:
        raise ValueError(
            f"z must hold 2N rows, views i and i + N of the same sample, so an even number >= 2, "
            f"got {z.shape[0]}"
        )
    real("temperature", temperature, low=0.0, low_open=True)


def _contrastive_edges(with_labels: bool) -> dict[str, Any]:
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


def _positive_weights(xp: Any, same: Any, dtype: Any) -> Any:
    """w_ip = 1/|P(i)| for the positives p of anchor i (``same`` with a False diagonal)."""
    count = same.sum(axis=1, keepdims=True)
    return (same / count.clip(1, None)).astype(dtype)


def _pair_softmax_forward(xp: Any, z: Any, w: Any, temperature: float) -> Any:
    _, _, s = _similarities(xp, z, temperature)
    lse = _off_diagonal_lse(xp, s)
    return xp.sum(w * (lse[:, None] - s), axis=1)


def _pair_softmax_vjp(xp: Any, g: Any, z: Any, w: Any, temperature: float) -> Any:
    u, r, s = _similarities(xp, z, temperature)
    anchored = w.sum(axis=1, keepdims=True)  # 1 where the anchor has a positive, else 0
    ds = g[:, None] * (_off_diagonal_softmax(xp, s) * anchored - w)
    return _similarities_vjp(xp, ds, u, r, temperature)


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
    matrix("features", features)
    if features.shape[0] < 2:
        raise ValueError(f"features must have at least 2 rows (an anchor and a positive), got {features.shape[0]}")
    if labels.shape != (features.shape[0],):
        raise ValueError(f"labels must have shape ({features.shape[0]},), one per row of features, got {tuple(labels.shape)}")
    real("temperature", temperature, low=0.0, low_open=True)


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
