r"""Regularisers of a few-shot embedding: prototypes pushed apart, dimensions decorrelated.

:func:`prototype_variance` is the mean cosine between distinct prototypes (minimising it pushes
the prototypes apart; rows are normalised with :func:`nploss.losses._shared.unit_rows`, as in
:mod:`nploss.losses.fewshot.protonet`); :func:`covariance` is VICReg's decorrelation of the
embedding dimensions. Each is one block: the reference ``_x_forward`` and ``_x_vjp``, its
checks, the registry entry, then the public function.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...autograd import as_data
from ...backend import get_array_module
from .._apply import apply_loss
from .._shared import unit_rows, unit_rows_vjp
from .._spec import Arg, LossSpec, register
from .._validate import matrix


def _off_diagonal(like: Any, k: int) -> Any:
    """1 off the diagonal, 0 on it, (k, k), in the floating dtype of ``like``: products with it
    drop the diagonal exactly (no subtraction of a large diagonal from a sum)."""
    data = as_data(like)
    return 1.0 - get_array_module(data).eye(k, dtype=data.dtype)


# ------------------------------------------------------------------------------------ prototype variance


def _variance_forward(xp: Any, prototypes: Any) -> Any:
    u, _ = unit_rows(xp, prototypes)
    return xp.matmul(u, xp.transpose(u)) * _off_diagonal(prototypes, prototypes.shape[0])


def _variance_vjp(xp: Any, g: Any, prototypes: Any) -> tuple[Any]:
    u, r = unit_rows(xp, prototypes)
    # cos_ij = u_i . u_j: u_i enters row i and column j, so its cotangent is ((G + G^T) u)_i
    gm = g * _off_diagonal(prototypes, prototypes.shape[0])
    return (unit_rows_vjp(xp, xp.matmul(gm + xp.transpose(gm), u), u, r),)


def _variance_weights(xp: Any, reduction: str, prototypes: Any) -> Any:
    k = prototypes.shape[0]
    return _off_diagonal(prototypes, k) * (1.0 / (k * (k - 1)))  # the mean over ordered pairs i != j


def _check_variance(prototypes: Any) -> None:
    matrix("prototypes", prototypes, "(K, D) with one prototype per row")
    if prototypes.shape[0] < 2:
        raise ValueError(
            f"prototypes must hold at least 2 prototypes (K >= 2): the variance term compares distinct "
            f"pairs; got shape {tuple(prototypes.shape)}"
        )


PROTOTYPE_VARIANCE = register(
    LossSpec(
        name="prototype_variance",
        unreduced=("C", "C"),
        family="fewshot",
        args=(Arg("prototypes", "real", ("C", "D")),),
        forward=_variance_forward,
        vjp=_variance_vjp,
        reduction_weights=_variance_weights,
        check=_check_variance,
        nonnegative=False,  # cosines down to -1/(K-1) on average
        edge_cases={
            "identical prototypes": lambda rng: [np.tile(rng.standard_normal((1, 3)), (4, 1))],
            "orthogonal prototypes": lambda rng: [np.diag([1.0, 2.0, 0.5, 3.0])],
            "opposite prototypes": lambda rng: [np.array([[1.0, 2.0, -1.0], [-1.0, -2.0, 1.0], [0.3, 0.0, 0.0]])],
            "a zero prototype": lambda rng: [np.vstack([np.zeros((1, 3)), rng.standard_normal((3, 3))])],
            "entries of 1e4": lambda rng: [1e4 * rng.standard_normal((4, 3))],
        },
        formula=r"L = \frac{1}{K(K-1)} \sum_{i \ne j} \cos(c_i, c_j), \quad "
        r"\partial L / \partial \hat{c}_i = \frac{2}{K(K-1)} \textstyle\sum_{j \ne i} \hat{c}_j",
        reference="seed 000 section 2 (push prototypes apart)",
    )
)


def prototype_variance(prototypes: Any, reduction: str = "mean") -> Any:
    r"""Mean cosine similarity between distinct prototypes: minimising it pushes them apart.

    .. math::  L = \frac{1}{K(K-1)} \sum_{i \ne j} \cos(c_i, c_j), \qquad
               \cos(c_i, c_j) = \hat{c}_i \cdot \hat{c}_j, \quad
               \hat{c} = \frac{c}{\sqrt{\lVert c \rVert^2 + \epsilon}}

    .. math::  \frac{\partial L}{\partial c_i}
               = \frac{I - \hat{c}_i \hat{c}_i^\top}{\sqrt{\lVert c_i \rVert^2 + \epsilon}}
               \; \frac{2}{K(K-1)} \sum_{j \ne i} \hat{c}_j

    It lies in :math:`[-\frac{1}{K-1}, 1]`: 1 when every prototype points the same way, 0 for
    orthogonal prototypes, and :math:`-\frac{1}{K-1}` at best (a regular simplex about the
    origin; :math:`\lVert \sum_i \hat{c}_i \rVert^2 \ge 0`). The seed calls this the *variance*
    term ("push prototypes apart"); it is the mean pairwise cosine, not a variance, and it
    ignores the lengths of the prototypes.

    Parameters
    ----------
    prototypes : array or Tensor (K, D), K >= 2
        One prototype per row (e.g. :func:`prototypes`).
    reduction : {'mean', 'sum', 'none'}
        'mean' over the :math:`K(K-1)` ordered pairs :math:`i \ne j` (the same as over
        unordered pairs: the cosine is symmetric); 'sum' over them; 'none' returns the (K, K)
        matrix of cosines with its diagonal set to 0.

    Raises
    ------
    ValueError
        ``prototypes`` not 2-D or with fewer than 2 rows, NaN or infinite entries, an unknown
        reduction.

    Examples
    --------
    >>> import numpy as np
    >>> float(prototype_variance(np.eye(3)))  # orthogonal
    0.0
    >>> round(float(prototype_variance(np.array([[1.0, 0.0], [1.0, 1.0]]))), 6)  # cos 45 degrees
    0.707107
    """
    return apply_loss(PROTOTYPE_VARIANCE, prototypes, reduction=reduction)


# ------------------------------------------------------------------------------------ covariance


def _centred_covariance(xp: Any, embeddings: Any) -> tuple[Any, Any]:
    n = embeddings.shape[0]
    zc = embeddings - xp.mean(embeddings, axis=0, keepdims=True)
    return zc, xp.matmul(xp.transpose(zc), zc) * (1.0 / (n - 1))


def _covariance_forward(xp: Any, embeddings: Any, *, reduction: str) -> Any:
    _, cov = _centred_covariance(xp, embeddings)
    d = cov.shape[0]
    off = cov * _off_diagonal(embeddings, d)
    return xp.sum(off * off) * (1.0 / d)


def _covariance_vjp(xp: Any, g: Any, embeddings: Any, *, reduction: str) -> tuple[Any]:
    zc, cov = _centred_covariance(xp, embeddings)
    n, d = embeddings.shape
    off = cov * _off_diagonal(embeddings, d)
    # dL/dC = 2 C_off / d, C = Zc^T Zc / (n - 1) with C_off symmetric: dL/dZc = 4 Zc C_off / (d (n - 1)).
    # The centring passes it unchanged: the columns of Zc C_off already sum to zero.
    return (g * (4.0 / (d * (n - 1))) * xp.matmul(zc, off),)


def _check_covariance(embeddings: Any, **_: Any) -> None:
    matrix("embeddings", embeddings, "(N, D) with one embedding per row")
    if embeddings.shape[0] < 2:
        raise ValueError(
            f"embeddings must hold at least 2 rows (N >= 2): the unbiased covariance divides by N - 1; "
            f"got shape {tuple(embeddings.shape)}"
        )
    if embeddings.shape[1] < 1:
        raise ValueError("embeddings must have at least one feature (D >= 1): the loss is a mean over D, got D = 0")


COVARIANCE = register(
    LossSpec(
        name="covariance",
        family="fewshot",
        args=(Arg("embeddings", "real", ("N", "D")),),
        forward=_covariance_forward,
        vjp=_covariance_vjp,
        reduces_itself=True,
        reductions=("mean",),
        check=_check_covariance,
        edge_cases={
            "decorrelated embeddings": lambda rng: [np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])],
            "constant embeddings": lambda rng: [np.tile(rng.standard_normal((1, 3)), (4, 1))],
            "two rows": lambda rng: [rng.standard_normal((2, 3))],
            "one dimension": lambda rng: [rng.standard_normal((4, 1))],
            "entries of 1e4": lambda rng: [1e4 * rng.standard_normal((5, 3))],
        },
        formula=r"L = \frac{1}{D} \sum_{i \ne j} C_{ij}^2,\ C = \frac{\bar{Z}^\top \bar{Z}}{N - 1}, \quad "
        r"\partial L / \partial Z = \frac{4}{D (N-1)} \bar{Z} C_{\mathrm{off}}",
        reference="Bardes, Ponce & LeCun 2022 (VICReg covariance term); seed 000 section 2",
    )
)


def covariance(embeddings: Any) -> Any:
    r"""VICReg covariance loss: the squared off-diagonal covariances of the embedding dimensions.

    With :math:`\bar{Z} = Z - \mathbf{1}\mu^\top` the centred batch (:math:`\mu` the mean row)
    and :math:`C = \bar{Z}^\top \bar{Z} / (N - 1)` its unbiased (D, D) covariance,

    .. math::  L = \frac{1}{D} \sum_{i \ne j} C_{ij}^2, \qquad
               \frac{\partial L}{\partial Z} = \frac{4}{D (N-1)}\, \bar{Z}\, C_{\mathrm{off}}

    where :math:`C_{\mathrm{off}}` is :math:`C` with its diagonal set to 0. (The derivative
    through the centring is the identity here: the columns of :math:`\bar{Z} C_{\mathrm{off}}`
    sum to zero.) It is 0 exactly when the dimensions are pairwise uncorrelated over the batch,
    and it leaves the variances (the diagonal) alone.

    **Reading of the seed.** The seed writes :math:`\mathrm{sum}(\mathrm{offdiag}(C))^2`. Taken
    literally, the square of the *sum* of off-diagonal entries lets large positive and negative
    covariances cancel and is zero for strongly correlated dimensions, so it cannot serve its
    stated purpose (decorrelating the embedding). It is read as the sum of *squared* off-diagonal
    entries, the covariance term of VICReg (Bardes et al. 2022), with VICReg's normaliser
    :math:`1/D` and its unbiased :math:`1/(N-1)` covariance; pytorch-metric-learning's
    ``VICRegLoss`` computes the same term per branch.

    Parameters
    ----------
    embeddings : array or Tensor (N, D), N >= 2
        The batch (e.g. the support and query embeddings of an episode).

    Returns
    -------
    0-d array or Tensor

    Raises
    ------
    ValueError
        ``embeddings`` not 2-D or with fewer than 2 rows, NaN or infinite entries.

    Examples
    --------
    >>> import numpy as np
    >>> float(covariance(np.array([[1.0, 1.0], [-1.0, -1.0]])))  # C = [[2, 2], [2, 2]]: (4 + 4) / 2
    4.0
    """
    return apply_loss(COVARIANCE, embeddings, reduction="mean")
