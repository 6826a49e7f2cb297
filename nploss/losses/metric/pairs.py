r"""Metric losses of pairs: two embeddings (or two scores) and a label saying whether they belong
together.

- :func:`contrastive` (Euclidean distance, Hadsell et al. 2006, with pytorch-metric-learning's
  variants);
- :func:`cosine_embedding` and :func:`cosine_contrastive` (cosine similarity);
- :func:`margin_ranking` (scores, not embeddings: which of two should rank higher).

Distances are the :math:`d_\varepsilon` of :mod:`nploss.losses.metric._common` (the epsilon inside
the square root, so that identical embeddings have a zero gradient, not NaN).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...autograd import as_data
from .._apply import apply_loss
from .._params import choice, flag, real
from .._reduction import mean_weight
from .._shared import in_dtype_of, unbatched
from .._spec import Arg, LossSpec, Tie, register
from .._validate import same_shape
from ._common import (
    EPS,
    _clamp_min0,
    _embed,
    _embed_vjp,
    _host,
    _np,
    _raw,
    cosine_similarity,
    cosine_similarity_vjp,
    row_distances,
)

PAIR_LABELS = ("similar=1", "similar=0")

# ------------------------------------------------------------------------------------ shared by the pairs


def _check_pairs(x1: Any, x2: Any, y: Any, *, what: str) -> None:
    if x1.ndim != 2:
        raise ValueError(f"x1 must be embeddings of shape (N, D), got shape {tuple(x1.shape)}")
    same_shape("x1", x1, "x2", x2)
    if tuple(y.shape) != (x1.shape[0],):
        raise ValueError(f"y must have shape ({x1.shape[0]},), one label per pair, got {tuple(y.shape)}")
    values = _host(y)
    if what == "binary" and values.size and not np.isin(values, (0, 1)).all():  # (the sign domain checks {-1, +1})
        raise ValueError(f"y must hold labels in {{0, 1}}, got values {sorted(set(values.ravel().tolist()))[:5]}")


def _pair_args(label_domain: str) -> tuple[Arg, ...]:
    """Two embeddings and one label per pair (a constant)."""
    return (
        Arg("x1", "real", ("N", "D")),
        Arg("x2", "real", ("N", "D")),
        Arg("y", label_domain, ("N",), differentiable=False),
    )


def _pair_edges(binary: bool) -> dict[str, Any]:
    lab = (lambda v: np.array(v, dtype=np.float64)) if binary else (lambda v: 2.0 * np.array(v, dtype=np.float64) - 1.0)
    x = np.array([[0.3, -0.2, 0.5], [1.0, 0.4, -0.1], [-0.6, 0.2, 0.9], [0.2, 0.2, 0.2]])
    return {
        "identical embeddings": lambda rng: [x.copy(), x.copy(), lab([1, 0, 1, 0])],
        "opposite embeddings": lambda rng: [x.copy(), -x, lab([1, 0, 1, 0])],
        "a zero embedding": lambda rng: [np.vstack([np.zeros(3), x[1:]]), x[::-1].copy(), lab([1, 0, 1, 0])],
        "embeddings of 1e4": lambda rng: [1e4 * x, -1e4 * x[::-1], lab([1, 0, 1, 0])],
    }


# ------------------------------------------------------------------------------------ contrastive


def _similar(xp: Any, y: Any, label_convention: str) -> Any:
    return as_data(y) == (1 if label_convention == "similar=1" else 0)


def _contrastive_parts(xp: Any, x1: Any, x2: Any, margin: float, pos_margin: float, power: int) -> tuple[Any, Any]:
    """The per-pair losses were the pair similar, and were it dissimilar."""
    s = row_distances(xp, x1, x2, squared=True)
    d = xp.sqrt(s + EPS)
    if pos_margin == 0:
        # the hinge max(0, d - 0) is d itself; use the exact squared distance for power 2
        pos = 0.5 * s if power == 2 else d
    else:
        h = xp.relu(d - pos_margin)
        pos = 0.5 * h * h if power == 2 else h
    hn = xp.relu(margin - d)
    neg = 0.5 * hn * hn if power == 2 else hn
    return pos, neg


def _contrastive_forward(
    xp: Any,
    x1: Any,
    x2: Any,
    y: Any,
    *,
    margin: float,
    pos_margin: float,
    power: int,
    label_convention: str,
    normalize: bool,
) -> Any:
    u1, _ = _embed(xp, x1, normalize)
    u2, _ = _embed(xp, x2, normalize)
    pos, neg = _contrastive_parts(xp, u1, u2, margin, pos_margin, power)
    return xp.where(_similar(xp, y, label_convention), pos, neg)


def _contrastive_vjp(
    xp: Any,
    g: Any,
    x1: Any,
    x2: Any,
    y: Any,
    *,
    margin: float,
    pos_margin: float,
    power: int,
    label_convention: str,
    normalize: bool,
) -> tuple[Any, Any]:
    u1, r1 = _embed(xp, x1, normalize)
    u2, r2 = _embed(xp, x2, normalize)
    diff = u1 - u2
    d = row_distances(xp, u1, u2)
    dd = as_data(d)
    # d(loss)/d(d), divided by d (the chain factor (u1 - u2)/d), except for the exact 1/2 s term
    if pos_margin == 0:
        pos = _raw(dd).ones_like(dd) if power == 2 else 1.0 / d
    else:
        pos = (xp.relu(d - pos_margin) if power == 2 else (dd > pos_margin).astype(dd.dtype)) / d
    neg = -(xp.relu(margin - d) if power == 2 else (dd < margin).astype(dd.dtype)) / d
    coef = g * xp.where(_similar(xp, y, label_convention), pos, neg)
    g1 = xp.reshape(coef, (-1, 1)) * diff
    return _embed_vjp(xp, g1, u1, r1), _embed_vjp(xp, -g1, u2, r2)


def _contrastive_weights(xp: Any, reduction: str, x1: Any, x2: Any, y: Any, **params: Any) -> Any:
    if reduction == "mean":
        return mean_weight(x1.shape[0])
    # avg_nonzero (pytorch-metric-learning's AvgNonZeroReducer): the mean of the positive pairs'
    # non-zero losses plus the mean of the negative pairs' non-zero losses
    loss = _contrastive_forward(xp, x1, x2, y, **params)
    similar = _similar(xp, y, params["label_convention"])
    pos, neg = (loss > 0) & similar, (loss > 0) & ~similar
    w = pos / max(int(pos.sum()), 1) + neg / max(int(neg.sum()), 1)
    return w.astype(x1.dtype)


def _contrastive_kinks(
    x1: Any, x2: Any, y: Any, *, margin: float, pos_margin: float, power: int, label_convention: str, normalize: bool
) -> Any:
    xp = _np()
    d = row_distances(xp, _embed(xp, x1, normalize)[0], _embed(xp, x2, normalize)[0])
    similar = _similar(xp, y, label_convention)
    far = np.abs(d - pos_margin) if pos_margin > 0 else np.full(d.shape, np.inf)
    return np.where(similar, far, np.abs(d - margin))


def _contrastive_sample(rng: np.random.Generator, sizes: dict[str, int]) -> list[np.ndarray]:
    # pairs at distances around the margin, so that both sides of the hinge are exercised
    x1 = rng.standard_normal((sizes["N"], sizes["D"]))
    return [x1, x1 + 0.6 * rng.standard_normal(x1.shape), rng.integers(0, 2, sizes["N"]).astype(np.float64)]


def _check_contrastive(x1: Any, x2: Any, y: Any, **_: Any) -> None:
    _check_pairs(x1, x2, y, what="binary")


CONTRASTIVE = register(
    LossSpec(
        name="contrastive",
        ties={
            "power=1, a dissimilar pair at a distance equal to the margin": Tie(
                inputs=lambda: [np.array([[0.0, 0.0]]), np.array([[0.6, 0.8]]), np.array([0.0])],
                subgradient="0, relu's convention for max(0, m - d)",
                expected=lambda x1, x2, y, **p: [np.zeros((1, 2)), np.zeros((1, 2))],
                params={"power": 1},
                value=lambda x1, x2, y, **p: 0.0,
            )
        },
        grid={"power": (2, 1)},
        family="metric",
        args=_pair_args("binary"),
        forward=_contrastive_forward,
        vjp=_contrastive_vjp,
        params={"margin": 1.0, "pos_margin": 0.0, "power": 2, "label_convention": "similar=1", "normalize": False},
        reductions=("mean", "sum", "none", "avg_nonzero"),
        reduction_weights=_contrastive_weights,
        check=_check_contrastive,
        kinks=_contrastive_kinks,
        sampler=_contrastive_sample,
        edge_cases=_pair_edges(binary=True),
        formula=r"\ell = y\,\tfrac{1}{p}\max(0, d - m^+)^p + (1 - y)\,\tfrac{1}{p}\max(0, m - d)^p,"
        r"\ d = \|x_1 - x_2\|, \ y = 1 \text{ similar}; \ p = 2, m^+ = 0 \text{ is Hadsell et al.'s loss, "
        r"who write } Y = 1 - y",
        reference="Hadsell, Chopra & LeCun 2006; "
        "pytorch-metric-learning ContrastiveLoss (power=1, normalize, avg_nonzero)",
    )
)


def contrastive(
    x1: Any,
    x2: Any,
    y: Any,
    margin: float = 1.0,
    label_convention: str = "similar=1",
    pos_margin: float = 0.0,
    power: int = 2,
    normalize: bool = False,
    reduction: str = "mean",
) -> Any:
    r"""Contrastive loss of pairs of embeddings (Hadsell, Chopra & LeCun 2006).

    .. math::  \ell_i = y_i \, \tfrac12 d_i^2 + (1 - y_i) \, \tfrac12 \max(0, m - d_i)^2, \qquad
               d_i = \|x_{1,i} - x_{2,i}\|

    with :math:`y = 1` for a similar pair (the default ``label_convention='similar=1'``; Hadsell
    et al. label the other way, see ``label_convention``). Similar pairs are pulled together,
    dissimilar ones pushed apart until they are :math:`m` away. The gradient is
    :math:`\nabla_{x_1} \ell = (x_1 - x_2)` for a similar pair and
    :math:`-\max(0, m - d)\,(x_1 - x_2)/d` for a dissimilar one; :math:`\nabla_{x_2} = -\nabla_{x_1}`.
    In general, with a positive margin :math:`m^+` and a power :math:`p \in \{1, 2\}`,

    .. math::  \ell_i = y_i \, \tfrac1p \max(0, d_i - m^+)^p + (1 - y_i) \, \tfrac1p \max(0, m - d_i)^p.

    The distance is :math:`d_\varepsilon = \sqrt{\|x_1 - x_2\|^2 + \varepsilon}` (module
    docstring), so identical dissimilar embeddings get a zero gradient, not NaN; the
    :math:`\tfrac12 d^2` term (:math:`m^+ = 0`, :math:`p = 2`) uses the exact squared distance and
    is exactly 0 at identical embeddings.

    Parameters
    ----------
    x1, x2 : array or Tensor, shape (N, D)
        The two embeddings of each pair (no broadcasting).
    y : array, shape (N,)
        Pair labels in {0, 1} (a constant).
    margin : float, positive
        :math:`m`, the distance beyond which a dissimilar pair costs nothing.
    label_convention : {'similar=1', 'similar=0'}
        Which label marks a similar pair. Hadsell, Chopra & LeCun (2006, eq. 4) set :math:`Y = 0`
        for similar pairs and :math:`Y = 1` for dissimilar ones,
        :math:`L = (1 - Y)\tfrac12 D^2 + Y \tfrac12 \max(0, m - D)^2`: pass ``'similar=0'`` for
        their labels. The default ``'similar=1'`` reads 1 as "similar", as
        :func:`cosine_embedding` and :func:`cosine_contrastive` do.
    pos_margin : float, non-negative, below ``margin``
        :math:`m^+`: similar pairs closer than this cost nothing (0 in Hadsell et al.).
    power : {2, 1}
        2: the squared hinges with their :math:`\tfrac12` (Hadsell); 1: plain hinges
        :math:`\max(0, d - m^+)` and :math:`\max(0, m - d)` (pytorch-metric-learning).
    normalize : bool
        L2-normalise the rows first (:math:`x / \sqrt{\|x\|^2 + \varepsilon}`).
    reduction : {'mean', 'sum', 'none', 'avg_nonzero'}
        'mean' averages over the N pairs. 'avg_nonzero' is pytorch-metric-learning's
        ``AvgNonZeroReducer``: the mean of the similar pairs' non-zero losses **plus** the mean of
        the dissimilar pairs' non-zero losses (0 where a group has none).

    Other libraries
    ---------------
    PyTorch has no contrastive loss. pytorch-metric-learning's ``ContrastiveLoss(pos_margin,
    neg_margin)`` is ``contrastive(x1, x2, y, margin=neg_margin, pos_margin=pos_margin, power=1,
    normalize=True, reduction='avg_nonzero')`` when given the pairs as an ``indices_tuple`` over
    ``concat(x1, x2)`` (its defaults: ``pos_margin=0``, ``neg_margin=1``, ``LpDistance`` on
    normalised embeddings, plain not squared distance). Called with labels instead, it forms
    every pair of the batch; pass those pairs explicitly here. Identical embeddings are at
    distance 0 there and :math:`10^{-8}` here, so with ``power=1`` an identical similar pair costs
    :math:`10^{-8}` here and counts as non-zero for 'avg_nonzero'.

    Raises
    ------
    ValueError
        Shapes that differ or are not (N, D) and (N,), labels outside {0, 1}, a margin that is not
        positive, ``pos_margin`` negative or not below ``margin``, an unknown ``power``,
        ``label_convention`` or ``reduction``.

    Examples
    --------
    >>> import numpy as np
    >>> x1, x2 = np.array([[0.0, 0.0], [0.0, 0.0]]), np.array([[0.6, 0.8], [0.3, 0.4]])
    >>> float(contrastive(x1, x2, np.array([1, 0])))  # (0.5 + 0.5 * 0.5**2) / 2
    0.3125
    """
    real("margin", margin, low=0.0, low_open=True)
    real("pos_margin", pos_margin, low=0.0)
    if pos_margin >= margin:
        raise ValueError(f"pos_margin must be below margin ({margin}), got {pos_margin}")
    if power not in (1, 2) or isinstance(power, bool):
        raise ValueError(f"power must be 1 or 2, got {power!r}")
    choice("label_convention", label_convention, PAIR_LABELS)
    flag("normalize", normalize)
    return apply_loss(
        CONTRASTIVE, x1, x2, y, reduction=reduction, margin=float(margin), pos_margin=float(pos_margin),
        power=power, label_convention=label_convention, normalize=normalize,
    )  # fmt: skip


# ------------------------------------------------------------------------------------ cosine embedding


def _cosine_embedding_forward(xp: Any, x1: Any, x2: Any, y: Any, *, margin: float) -> Any:
    cos = cosine_similarity(xp, x1, x2)
    return xp.where(as_data(y) > 0, 1.0 - cos, _clamp_min0(xp, cos - margin))


def _cosine_embedding_vjp(xp: Any, g: Any, x1: Any, x2: Any, y: Any, *, margin: float) -> tuple[Any, Any]:
    cos = as_data(cosine_similarity(xp, x1, x2))
    # d loss / d cos: -1 for similar pairs; 1 past the margin for dissimilar ones (1 at it, as clamp_min)
    rx = _raw(cos)
    slope = rx.where(as_data(y) > 0, -1.0, rx.where(cos - margin >= 0, 1.0, 0.0)).astype(cos.dtype)
    return cosine_similarity_vjp(xp, g * slope, x1, x2)


def _cosine_embedding_kinks(x1: Any, x2: Any, y: Any, *, margin: float) -> Any:
    cos = cosine_similarity(np, x1, x2)
    return np.where(y > 0, np.inf, np.abs(cos - margin))


def _check_sign_pairs(x1: Any, x2: Any, y: Any, **_: Any) -> None:
    _check_pairs(x1, x2, y, what="sign")


COSINE_EMBEDDING = register(
    LossSpec(
        name="cosine_embedding",
        ties={
            "orthogonal pairs: a dissimilar one exactly at the margin 0, a similar one": Tie(
                inputs=lambda: [np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([[0.0, 1.0], [0.0, 1.0]]), np.array([-1.0, 1.0])],
                subgradient="slope 1 at cos = margin, as PyTorch's clamp_min; -d cos for the similar pair",
                # d cos / d x1 = x2 / (|x1| |x2|) - cos x1 / |x1|^2, with cos = 0
                expected=lambda x1, x2, y, **p: [np.array([[0.0, 1.0], [0.0, -1.0]]), np.array([[1.0, 0.0], [-1.0, 0.0]])],
                value=lambda x1, x2, y, **p: 1.0,  # 0 (dissimilar) + 1 - cos (similar)
            )
        },
        family="metric",
        args=_pair_args("sign"),
        forward=_cosine_embedding_forward,
        vjp=_cosine_embedding_vjp,
        params={"margin": 0.0},
        check=_check_sign_pairs,
        kinks=_cosine_embedding_kinks,
        edge_cases=_pair_edges(binary=False),
        formula=r"\ell = \begin{cases} 1 - \cos(x_1, x_2) & y = 1 \\ \max(0, \cos(x_1, x_2) - m) & y = -1 \end{cases}",
        reference="torch.nn.functional.cosine_embedding_loss",
        torch="cosine_embedding_loss",
    )
)


def cosine_embedding(x1: Any, x2: Any, y: Any, margin: float = 0.0, reduction: str = "mean") -> Any:
    r"""Cosine embedding loss: similar pairs toward cosine 1, dissimilar ones below the margin.

    .. math::  \ell_i = \begin{cases} 1 - \cos_i & y_i = 1 \\ \max(0, \cos_i - m) & y_i = -1 \end{cases},
               \qquad \cos_i = \frac{x_{1,i} \cdot x_{2,i}}
               {\sqrt{(\|x_{1,i}\|^2 + \varepsilon)(\|x_{2,i}\|^2 + \varepsilon)}}

    with :math:`\varepsilon = 10^{-12}` (PyTorch's, so a zero embedding gives cosine 0, not NaN),
    and :math:`\nabla_{x_1} \cos = x_2 / \sqrt{m_1 m_2} - \cos \, x_1 / m_1` where
    :math:`m_k = \|x_k\|^2 + \varepsilon`.

    Parameters
    ----------
    x1, x2 : array or Tensor, shape (N, D)
    y : array, shape (N,), values in {-1, +1}
    margin : float in [-1, 1]
    reduction : {'mean', 'sum', 'none'}

    Matches ``torch.nn.functional.cosine_embedding_loss`` (values and gradients, its epsilon
    included; at :math:`\cos = m` the slope is 1, as its ``clamp_min``). As PyTorch, it also accepts
    one pair of (D,) embeddings with a 0-d ``y``; PyTorch does not check the margin, nploss refuses
    margins outside [-1, 1] (no cosine lies beyond them).

    Examples
    --------
    >>> import numpy as np
    >>> x1, x2 = np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([[0.0, 2.0], [1.0, 1.0]])
    >>> round(float(cosine_embedding(x1, x2, np.array([1, -1]))), 6)  # (1 + 0.7071) / 2
    0.853553
    """
    margin = real("margin", margin, low=-1.0, high=1.0)
    if np.ndim(as_data(x1)) == 1:  # one pair, (D,) and a 0-d y, as PyTorch accepts
        one = lambda a, b, s: cosine_embedding(a, b, s, margin, reduction)  # noqa: E731
        return unbatched(one, {"x1": x1, "x2": x2, "y": y}, {"x2": (1,), "y": (0,)}, reduction)
    return apply_loss(COSINE_EMBEDDING, x1, x2, y, reduction=reduction, margin=margin)


# ------------------------------------------------------------------------------------ cosine contrastive


def _cosine_contrastive_forward(xp: Any, x1: Any, x2: Any, y: Any, *, delta: float) -> Any:
    cos = cosine_similarity(xp, x1, x2)
    h = xp.relu(cos - delta)
    return xp.where(as_data(y) == 1, 1.0 - cos, h * h)


def _cosine_contrastive_vjp(xp: Any, g: Any, x1: Any, x2: Any, y: Any, *, delta: float) -> tuple[Any, Any]:
    cos = cosine_similarity(xp, x1, x2)
    slope = xp.where(as_data(y) == 1, -1.0, 2.0 * xp.relu(cos - delta))
    return cosine_similarity_vjp(xp, g * slope, x1, x2)


def _cosine_contrastive_kinks(x1: Any, x2: Any, y: Any, *, delta: float) -> Any:
    cos = cosine_similarity(np, x1, x2)
    return np.where(y == 1, np.inf, np.abs(cos - delta))


COSINE_CONTRASTIVE = register(
    LossSpec(
        name="cosine_contrastive",
        ties={
            "delta=0, orthogonal pairs: a dissimilar one exactly at delta, a similar one": Tie(
                inputs=lambda: [np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([[0.0, 1.0], [0.0, 1.0]]), np.array([0.0, 1.0])],
                subgradient="0 at cos = delta (max(0, cos - delta)^2 is flat there); -d cos for the similar pair",
                expected=lambda x1, x2, y, **p: [np.array([[0.0, 0.0], [0.0, -1.0]]), np.array([[0.0, 0.0], [-1.0, 0.0]])],
                value=lambda x1, x2, y, **p: 1.0,  # 0 (dissimilar) + 1 - cos (similar)
                params={"delta": 0.0},
            )
        },
        family="metric",
        args=_pair_args("binary"),
        forward=_cosine_contrastive_forward,
        vjp=_cosine_contrastive_vjp,
        params={"delta": 0.5},
        check=_check_contrastive,
        kinks=_cosine_contrastive_kinks,
        edge_cases=_pair_edges(binary=True),
        formula=r"\ell = y\,(1 - \cos(x_1, x_2)) + (1 - y)\max(0, \cos(x_1, x_2) - \delta)^2",
        reference="seed 004 section 5 (cosine contrastive, sentence-transformers style)",
    )
)


def cosine_contrastive(x1: Any, x2: Any, y: Any, delta: float = 0.5, reduction: str = "mean") -> Any:
    r"""Cosine contrastive loss: similar pairs toward cosine 1, dissimilar ones below :math:`\delta`.

    .. math::  \ell_i = y_i (1 - \cos_i) + (1 - y_i) \max(0, \cos_i - \delta)^2, \qquad
               \frac{\partial \ell_i}{\partial \cos_i} = \begin{cases} -1 & y_i = 1 \\
               2 \max(0, \cos_i - \delta) & y_i = 0 \end{cases}

    with the cosine of :func:`cosine_embedding` (:math:`\varepsilon = 10^{-12}` in each squared
    norm) and :math:`y = 1` for a similar pair. The formula is seed 004's, which squares the
    hinge (a smooth push) but not the similar term.

    Parameters
    ----------
    x1, x2 : array or Tensor, shape (N, D)
    y : array, shape (N,), values in {0, 1}
    delta : float in [-1, 1]
        Dissimilar pairs with a cosine below it cost nothing. The default 0.5 corresponds to
        sentence-transformers' ``ContrastiveLoss`` margin of 0.5 on the cosine distance
        :math:`1 - \cos` (which, unlike this loss, squares and halves both terms).
    reduction : {'mean', 'sum', 'none'}

    Examples
    --------
    >>> import numpy as np
    >>> x1, x2 = np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([[1.0, 1.0], [1.0, 0.0]])
    >>> round(float(cosine_contrastive(x1, x2, np.array([1, 0]))), 6)  # ((1 - 0.7071) + 0.25) / 2
    0.271447
    """
    delta = real("delta", delta, low=-1.0, high=1.0)
    return apply_loss(COSINE_CONTRASTIVE, x1, x2, y, reduction=reduction, delta=delta)


# ------------------------------------------------------------------------------------ margin ranking


def _margin_ranking_forward(xp: Any, x1: Any, x2: Any, y: Any, *, margin: float) -> Any:
    return _clamp_min0(xp, margin - in_dtype_of(y, x1) * (x1 - x2))


def _margin_ranking_vjp(xp: Any, g: Any, x1: Any, x2: Any, y: Any, *, margin: float) -> tuple[Any, Any]:
    y = in_dtype_of(y, x1)
    active = as_data(margin - y * (x1 - x2)) >= 0  # clamp_min: slope 1 at the kink, as PyTorch
    grad = xp.where(active, -y * g, 0.0)
    return grad, -grad


def _check_ranking(x1: Any, x2: Any, y: Any, **_: Any) -> None:
    same_shape("x1", x1, "x2", x2)
    same_shape("x1", x1, "y", y)


MARGIN_RANKING = register(
    LossSpec(
        name="margin_ranking",
        ties={
            "a pair exactly at the margin": Tie(
                inputs=lambda: [np.array([0.5]), np.array([0.5]), np.array([1.0])],
                subgradient="slope 1 at the kink, as PyTorch's clamp_min: -y and y",
                expected=lambda x1, x2, y, **p: [np.array([-1.0]), np.array([1.0])],
                value=lambda x1, x2, y, **p: 0.0,
            )
        },
        family="metric",
        args=(Arg("x1", "real"), Arg("x2", "real"), Arg("y", "sign", differentiable=False)),
        forward=_margin_ranking_forward,
        vjp=_margin_ranking_vjp,
        params={"margin": 0.0},
        check=_check_ranking,
        kinks=lambda x1, x2, y, *, margin: np.abs(margin - y * (x1 - x2)),
        edge_cases={
            "tied scores": lambda rng: [np.full(4, 0.7), np.full(4, 0.7), np.array([1.0, -1.0, 1.0, -1.0])],
            "scores of 1e4": lambda rng: [
                np.array([1e4, -1e4, 0.5, 0.0]),
                np.zeros(4),
                np.array([1.0, 1.0, -1.0, -1.0]),
            ],
        },
        formula=r"\ell = \max(0, -y (x_1 - x_2) + m)",
        reference="torch.nn.functional.margin_ranking_loss",
        torch="margin_ranking_loss",
    )
)


def margin_ranking(x1: Any, x2: Any, y: Any, margin: float = 0.0, reduction: str = "mean") -> Any:
    r"""Margin ranking loss: ``x1`` should rank above ``x2`` where ``y = 1``, below where ``y = -1``.

    .. math::  \ell_i = \max(0, -y_i (x_{1,i} - x_{2,i}) + m), \qquad
               \frac{\partial \ell_i}{\partial x_{1,i}} = -y_i \, [\,-y_i (x_{1,i} - x_{2,i}) + m \ge 0\,]
               = -\frac{\partial \ell_i}{\partial x_{2,i}}

    Parameters
    ----------
    x1, x2 : array or Tensor, one shape
    y : array of the same shape, values in {-1, +1}
    margin : float, non-negative
    reduction : {'mean', 'sum', 'none'}

    Matches ``torch.nn.functional.margin_ranking_loss`` (the slope at the kink is 1, as its
    ``clamp_min``). PyTorch broadcasts the three shapes and accepts a negative margin; nploss
    refuses both (a negative margin rewards wrong orderings up to :math:`|m|`).

    Examples
    --------
    >>> import numpy as np
    >>> float(margin_ranking(np.array([2.0, 0.5]), np.array([1.0, 1.0]), np.array([1, 1]), margin=1.0))  # (0 + 1.5) / 2
    0.75
    """
    margin = real("margin", margin, low=0.0)
    return apply_loss(MARGIN_RANKING, x1, x2, y, reduction=reduction, margin=margin)
