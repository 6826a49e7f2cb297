r"""Triplet losses: an anchor closer to a positive than to a negative, by a margin.

- :func:`triplet`: explicit triplets ``(anchor, positive, negative)``, PyTorch's
  ``triplet_margin_loss`` (its distance :math:`\|x - y + \epsilon\|_p`, with the swap and
  FaceNet's squared distances);
- :func:`batch_triplet`: the triplets mined from the labels of a batch (all, batch-hard or
  semi-hard), on the :math:`d_\varepsilon` distances of :mod:`nploss.losses.metric._common`. The
  mining selects triplets on the current distances and is not differentiated.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...autograd import Tensor, as_data, enable_grad
from ...autograd import grad as _engine_grad
from .._apply import apply_loss
from .._params import choice, flag, real
from .._shared import one_hot, unbatched
from .._spec import Arg, Drawn, LossSpec, Tie, register
from .._validate import same_shape
from ._common import (
    BATCH_ARGS,
    _batch_edges,
    _check_batch,
    _clamp_min0,
    _embed,
    _embed_vjp,
    _labelled_batch,
    _np,
    _pair_masks,
    _raw,
    pairwise_distances,
    pairwise_distances_vjp,
)

STRATEGIES = ("all", "hard", "semi-hard")

# ------------------------------------------------------------------------------------ triplet


def _pnorm(xp: Any, v: Any, p: float, squared: bool) -> Any:
    r""":math:`\|v\|_p` (or its square) along the last axis. At v = 0 the root has an infinite
    slope; the inner ``where`` keeps that slope out of the (composite) gradient, which is then 0
    there, as PyTorch's ``norm`` backward."""
    if p == 2:
        s = xp.sum(v * v, axis=-1)
        if squared:
            return s
        nz = as_data(s) > 0
        return xp.where(nz, xp.sqrt(xp.where(nz, s, 1.0)), 0.0)
    t = xp.sum(xp.abs(v) ** p, axis=-1)
    nz = as_data(t) > 0
    return xp.where(nz, xp.where(nz, t, 1.0) ** ((2.0 if squared else 1.0) / p), 0.0)


def _pnorm_grad(xp: Any, v: Any, p: float, squared: bool) -> Any:
    r""":math:`\nabla_v \|v\|_p = \mathrm{sign}(v) |v|^{p-1} / \|v\|_p^{p-1}`; times :math:`2\|v\|_p` when
    squared; 0 at v = 0."""
    if p == 2 and squared:
        return 2.0 * v
    d = xp.reshape(_pnorm(xp, v, p, False), (-1, 1))
    safe = xp.where(as_data(d) > 0, d, 1.0)  # v = 0 where d = 0, so the gradient is 0 there
    unit = v / safe if p == 2 else xp.sign(v) * xp.abs(v) ** (p - 1) / safe ** (p - 1)
    return 2.0 * d * unit if squared else unit


def _triplet_differences(anchor: Any, positive: Any, negative: Any, eps: float) -> tuple[Any, Any, Any]:
    # PyTorch's pairwise_distance: eps is added to the difference itself, not under a square root
    return anchor - positive + eps, anchor - negative + eps, positive - negative + eps


def _triplet_forward(
    xp: Any,
    anchor: Any,
    positive: Any,
    negative: Any,
    *,
    margin: float,
    p: float,
    eps: float,
    swap: bool,
    squared: bool,
    distance: Any = None,
) -> Any:
    if distance is not None:
        dp, dn = _user_distance(distance, anchor, positive), _user_distance(distance, anchor, negative)
        if swap:
            dn = xp.minimum(dn, _user_distance(distance, positive, negative))
        return _clamp_min0(xp, margin + dp - dn)
    vp, vn, vs = _triplet_differences(anchor, positive, negative, eps)
    dp, dn = _pnorm(xp, vp, p, squared), _pnorm(xp, vn, p, squared)
    if swap:
        dn = xp.minimum(dn, _pnorm(xp, vs, p, squared))
    return _clamp_min0(xp, margin + dp - dn)


def _triplet_vjp(
    xp: Any,
    g: Any,
    anchor: Any,
    positive: Any,
    negative: Any,
    *,
    margin: float,
    p: float,
    eps: float,
    swap: bool,
    squared: bool,
    distance: Any = None,
) -> tuple[Any, Any, Any]:
    if distance is not None:
        return _distance_vjp(xp, g, anchor, positive, negative, margin=margin, swap=swap, distance=distance)
    vp, vn, vs = _triplet_differences(anchor, positive, negative, eps)
    dp, dan = as_data(_pnorm(xp, vp, p, squared)), as_data(_pnorm(xp, vn, p, squared))
    rx = _raw(dp)
    share: Any = 1.0  # the part of the cotangent of min(d(a,n), d(p,n)) that goes to d(a,n)
    dn = dan
    if swap:
        dpn = as_data(_pnorm(xp, vs, p, squared))
        share = rx.where(dan < dpn, 1.0, rx.where(dan == dpn, 0.5, 0.0)).astype(dan.dtype).reshape(-1, 1)
        dn = rx.minimum(dan, dpn)
    active = (margin + dp - dn >= 0).astype(dan.dtype)  # clamp_min: slope 1 at 0
    c = xp.reshape(g * active, (-1, 1))
    gp_ = c * _pnorm_grad(xp, vp, p, squared)
    gn_ = c * share * _pnorm_grad(xp, vn, p, squared)
    if not swap:
        return gp_ - gn_, -gp_, gn_
    gs_ = c * (1.0 - share) * _pnorm_grad(xp, vs, p, squared)
    return gp_ - gn_, -gp_ - gs_, gn_ + gs_


def _triplet_kinks(
    anchor: Any,
    positive: Any,
    negative: Any,
    *,
    margin: float,
    p: float,
    eps: float,
    swap: bool,
    squared: bool,
    distance: Any = None,
) -> Any:
    xp = _np()
    if distance is not None:  # the hinge and the swap's min; the callable's own kinks are unknown
        dp, dan, dpn = (
            _user_distance(distance, x, y) for x, y in ((anchor, positive), (anchor, negative), (positive, negative))
        )
        dn = np.minimum(dan, dpn) if swap else dan
        return np.concatenate([np.abs(margin + dp - dn)] + ([np.abs(dan - dpn)] if swap else []))
    vp, vn, vs = _triplet_differences(anchor, positive, negative, eps)
    dp, dan, dpn = (_pnorm(xp, v, p, squared) for v in (vp, vn, vs))
    dn = np.minimum(dan, dpn) if swap else dan
    kinks = [np.abs(margin + dp - dn)]
    if swap:
        kinks.append(np.abs(dan - dpn))
    if p != 2:  # |v|^p is not smooth (p = 1) or not twice differentiable (p < 2) at v = 0
        kinks += [np.abs(v).min(axis=-1) for v in (vp, vn, vs)]
    return np.concatenate(kinks)


def _user_distance(distance: Any, x: Any, y: Any) -> Any:
    """``distance(x, y)``, checked to be (N,): a Tensor on Tensors (the composite graph and the
    VJP differentiate it), an array on arrays (a callable written with :mod:`nploss.autograd` ops
    returns a Tensor even there; its data is taken)."""
    d = distance(x, y)
    if not isinstance(x, Tensor):
        d = as_data(d)
    if tuple(d.shape) != (x.shape[0],):
        raise ValueError(
            f"distance must return one distance per row, shape ({x.shape[0]},), got shape {tuple(d.shape)}"
        )
    return d


def _distance_vjp(
    xp: Any, g: Any, anchor: Any, positive: Any, negative: Any, *, margin: float, swap: bool, distance: Any
) -> tuple[Any, Any, Any]:
    r"""The VJP through a user-supplied distance: no hand-derived gradient exists, so the hinge's
    cotangents (+c on :math:`d(a, p)`, :math:`-c` on the negative distance, shared at a swap tie as
    ``torch.minimum``) are pulled back through ``distance`` by the engine
    (:func:`nploss.autograd.grad`). Recorded (``create_graph``), the original Tensors are the
    inputs, so the gradient is differentiable again."""
    recorded = any(isinstance(t, Tensor) for t in (g, anchor, positive, negative))
    inputs = [
        t if recorded and isinstance(t, Tensor) and t.requires_grad else Tensor(as_data(t), requires_grad=True)
        for t in (anchor, positive, negative)
    ]
    a, q, n = inputs
    with enable_grad():
        pairs = [(a, q), (a, n)] + ([(q, n)] if swap else [])
        dists = [_user_distance(distance, x, y) for x, y in pairs]
        dp, dan = as_data(dists[0]), as_data(dists[1])
        rx = _raw(dp)
        share: Any = 1.0
        dn = dan
        if swap:
            dpn = as_data(dists[2])
            share = rx.where(dan < dpn, 1.0, rx.where(dan == dpn, 0.5, 0.0)).astype(dan.dtype)
            dn = rx.minimum(dan, dpn)
        c = g * (margin + dp - dn >= 0).astype(dan.dtype)  # clamp_min: slope 1 at 0
        cotangents = [c, -c * share] + ([-c * (1.0 - share)] if swap else [])
        live = [(d, ct) for d, ct in zip(dists, cotangents) if isinstance(d, Tensor) and d.requires_grad]
        grads = (
            _engine_grad(
                [d for d, _ in live],
                inputs,
                grad_outputs=[ct for _, ct in live],
                create_graph=recorded,
                allow_unused=True,
            )
            if live
            else [None] * 3
        )
    out = []
    for gr, t in zip(grads, inputs):
        if gr is None:
            gr = xp.zeros_like(as_data(t))
        out.append(gr if recorded else as_data(gr))
    return tuple(out)


def _check_triplet(anchor: Any, positive: Any, negative: Any, **_: Any) -> None:
    if anchor.ndim != 2:
        raise ValueError(f"anchor must be embeddings of shape (N, D), got shape {tuple(anchor.shape)}")
    same_shape("anchor", anchor, "positive", positive)
    same_shape("anchor", anchor, "negative", negative)


def _triplet_edges() -> dict[str, Any]:
    x = np.array([[0.3, -0.2, 0.5], [1.0, 0.4, -0.1], [-0.6, 0.2, 0.9]])
    return {
        "anchor = positive": lambda rng: [x.copy(), x.copy(), x[::-1].copy()],
        "anchor = negative": lambda rng: [x.copy(), x[::-1].copy(), x.copy()],
        "all identical": lambda rng: [x.copy(), x.copy(), x.copy()],
        "embeddings of 1e4": lambda rng: [1e4 * x, -1e4 * x, 1e4 * x[::-1]],
    }


TRIPLET_ARGS = tuple(Arg(n, "real", ("N", "D")) for n in ("anchor", "positive", "negative"))

TRIPLET = register(
    LossSpec(
        name="triplet",
        ties={
            "m + d(a, p) - d(a, n) = 0": Tie(
                # eps = 0: distances of exactly 5 and 6 with the margin 1
                inputs=lambda: [np.array([[0.0, 0.0]]), np.array([[3.0, 4.0]]), np.array([[0.0, 6.0]])],
                subgradient="slope 1 at the kink, as PyTorch's clamp_min",
                expected=lambda anchor, positive, negative, **k: [np.array([[-0.6, 0.2]]), np.array([[0.6, 0.8]]), np.array([[0.0, -1.0]])],
                params={"eps": 0.0},
                value=lambda anchor, positive, negative, **k: 0.0,
            ),
            "swap=True, d(a, n) = d(p, n)": Tie(
                # eps = 0: d(a, p) = 2, d(a, n) = d(p, n) = sqrt(2) exactly (the same squares)
                inputs=lambda: [np.array([[0.0, 0.0]]), np.array([[2.0, 0.0]]), np.array([[1.0, 1.0]])],
                subgradient="the cotangent of the min split equally between the tied distances, as torch.minimum",
                expected=lambda anchor, positive, negative, **k: [
                    np.array([[-1.0 + 0.5 * np.sqrt(0.5), 0.5 * np.sqrt(0.5)]]),
                    np.array([[1.0 - 0.5 * np.sqrt(0.5), 0.5 * np.sqrt(0.5)]]),
                    np.array([[0.0, -np.sqrt(0.5)]]),
                ],
                params={"eps": 0.0, "swap": True},
                value=lambda anchor, positive, negative, **k: 1.0 + 2.0 - np.sqrt(2.0),
            ),
        },
        # a user's distance: the Euclidean one, written with operators that Tensors and arrays share
        grid={"distance": (None, Drawn("a distance function", lambda rng, inputs: lambda x, y: (((x - y) ** 2).sum(axis=1)) ** 0.5))},
        family="metric",
        args=TRIPLET_ARGS,
        forward=_triplet_forward,
        vjp=_triplet_vjp,
        params={"margin": 1.0, "p": 2.0, "eps": 1e-6, "swap": False, "squared": False, "distance": None},
        check=_check_triplet,
        kinks=_triplet_kinks,
        edge_cases=_triplet_edges(),
        formula=r"\ell = \max(0, m + d(a, p) - d(a, n)), \ d(x, y) = \|x - y + \epsilon\|_p",
        reference="Schroff et al. 2015 (FaceNet, squared=True); torch.nn.functional.triplet_margin_loss",
        torch="triplet_margin_loss",
    )
)


def triplet(
    anchor: Any,
    positive: Any,
    negative: Any,
    margin: float = 1.0,
    p: float = 2.0,
    eps: float = 1e-6,
    swap: bool = False,
    squared: bool = False,
    reduction: str = "mean",
    distance: Any = None,
) -> Any:
    r"""Triplet margin loss: the positive closer to the anchor than the negative, by a margin.

    .. math::  \ell_i = \max(0, m + d(a_i, p_i) - d(a_i, n_i)), \qquad
               d(x, y) = \|x - y + \epsilon\|_p, \qquad
               \nabla_v \|v\|_p = \frac{\mathrm{sign}(v)\,|v|^{p-1}}{\|v\|_p^{p-1}}

    so that, where the hinge is active, :math:`\nabla_a \ell = \nabla d(a, p) - \nabla d(a, n)`,
    :math:`\nabla_p \ell = -\nabla d(a, p)` and :math:`\nabla_n \ell = \nabla d(a, n)`.

    Parameters
    ----------
    anchor, positive, negative : array or Tensor, shape (N, D)
    margin : float, positive
    p : float >= 1
        The norm's degree.
    eps : float, non-negative
        Added to every component of the difference, as PyTorch's ``pairwise_distance`` does:
        at ``anchor == positive`` the distance is :math:`\epsilon D^{1/p}`, not 0, so the gradient
        is finite (not the epsilon-under-the-root of the module docstring).
    swap : bool
        Distance swap (Balntas et al. 2016): use :math:`\min(d(a, n), d(p, n))` as the negative
        distance. At a tie the cotangent is shared equally, as ``torch.min``.
    squared : bool
        Use :math:`d^2` for both distances, as FaceNet (Schroff et al. 2015, with margin 0.2 on
        normalised embeddings). Not in PyTorch.
    reduction : {'mean', 'sum', 'none'}
    distance : callable, optional
        ``distance(x, y)`` of two (N, D) arrays or Tensors, returning the (N,) distances row by
        row, written with :mod:`nploss.autograd` ops (or ``xp``-agnostic operators) so that it runs
        on arrays and on Tensors. Given, the loss is PyTorch's
        ``TripletMarginWithDistanceLoss(distance_function=distance, margin, swap, reduction)``:
        :math:`\ell_i = \max(0, m + d(a_i, p_i) - d(a_i, n_i))`, with the swap's
        :math:`\min(d(a, n), d(p, n))`; ``p``, ``eps`` and ``squared`` must then keep their
        defaults (they belong to the built-in distance). **A user-supplied distance has no
        hand-derived gradient**: the fused node's VJP computes the hinge's cotangents analytically
        and pulls them back through ``distance`` with the engine (:func:`nploss.autograd.grad`),
        recorded under ``create_graph`` so that second derivatives work too. The default
        (``None``) is the built-in :math:`\|x - y + \epsilon\|_p` with its analytic gradient.

    Matches ``torch.nn.functional.triplet_margin_loss`` (values and gradients; at the kink
    :math:`m + d_p - d_n = 0` the slope is 1, as its ``clamp_min``). PyTorch broadcasts
    mismatched shapes; nploss wants three (N, D) arrays of one shape, or three (D,) embeddings of
    one triplet (as PyTorch's unbatched input; ``'none'`` then gives a 0-d value).

    Examples
    --------
    >>> import numpy as np
    >>> a, pos, neg = np.zeros((1, 2)), np.array([[3.0, 4.0]]), np.array([[0.0, 5.5]])
    >>> round(float(triplet(a, pos, neg, eps=0.0)), 6)  # 1 + 5 - 5.5
    0.5
    """
    margin = real("margin", margin, low=0.0, low_open=True)  # positive, as in PyTorch
    p = real("p", p, low=1.0)  # a norm
    eps = real("eps", eps, low=0.0)
    if distance is not None:
        if not callable(distance):
            raise TypeError(f"distance must be a callable distance(x, y) or None, got {type(distance).__name__}")
        if p != 2.0 or eps != 1e-6 or squared:
            raise ValueError(
                "p, eps and squared belong to the built-in distance: leave them at their defaults with distance="
            )
    if np.ndim(as_data(anchor)) == 1:  # one triplet, (D,) each, as PyTorch accepts
        one = lambda a, q, n: triplet(a, q, n, margin, p, eps, swap, squared, reduction, distance)
        return unbatched(
            one,
            {"anchor": anchor, "positive": positive, "negative": negative},
            {"positive": (1,), "negative": (1,)},
            reduction,
        )
    return apply_loss(
        TRIPLET, anchor, positive, negative, reduction=reduction, margin=margin, p=p, eps=eps,
        swap=flag("swap", swap), squared=flag("squared", squared), distance=distance,
    )  # fmt: skip


# ------------------------------------------------------------------------------------ batch triplet


def _mine(xp: Any, dist: Any, labels: Any, strategy: str, margin: float) -> dict[str, Any]:
    """The triplets a strategy selects, from the (constant) distance matrix: not differentiated.

    'all' and 'semi-hard' give an (N, N, N) mask over (anchor, positive, negative); 'hard' gives
    one positive and one negative index per anchor and a mask of the anchors that have both.
    """
    dist = as_data(dist)
    xp = _raw(dist)
    pos, neg = _pair_masks(xp, labels)
    if strategy == "hard":
        far = xp.where(pos, dist, -np.inf).argmax(axis=1)  # the hardest (farthest) positive
        near = xp.where(neg, dist, np.inf).argmin(axis=1)  # the hardest (closest) negative
        return {"positive": far, "negative": near, "valid": pos.any(axis=1) & neg.any(axis=1)}
    valid = xp.expand_dims(pos, 2) & xp.expand_dims(neg, 1)
    if strategy == "semi-hard":
        gap = xp.expand_dims(dist, 1) - xp.expand_dims(dist, 2)  # d(a, n) - d(a, p) at [a, p, n]
        valid = valid & (gap > 0) & (gap <= margin)
    return {"mask": valid}


def _bt_violations(xp: Any, dist: Any, mined: dict[str, Any], margin: float) -> Any:
    """m + d(a, p) - d(a, n): an (N, N, N) array for the masked strategies, (N,) for 'hard'."""
    if "mask" in mined:
        n = dist.shape[0]
        return xp.reshape(dist, (n, n, 1)) - xp.reshape(dist, (n, 1, n)) + margin
    rows = _raw(mined["positive"]).arange(dist.shape[0])
    return dist[rows, mined["positive"]] - dist[rows, mined["negative"]] + margin


def _bt_hinge(xp: Any, z: Any, smooth: bool) -> Any:
    r"""relu, or PML's smooth_loss softplus :math:`\log(1 + e^z)` (Hermans et al. 2017)."""
    return xp.softplus(z) if smooth else xp.relu(z)


def _batch_triplet_forward(
    xp: Any,
    embeddings: Any,
    labels: Any,
    *,
    margin: float,
    strategy: str,
    squared: bool,
    normalize: bool,
    smooth: bool = False,
) -> Any:
    x, _ = _embed(xp, embeddings, normalize)
    dist = pairwise_distances(xp, x, x, squared)
    mined = _mine(xp, dist, labels, strategy, margin)
    z = _bt_violations(xp, dist, mined, margin)
    if "mask" in mined:
        return xp.sum(xp.where(mined["mask"], _bt_hinge(xp, z, smooth), 0.0), axis=(1, 2))
    return xp.where(mined["valid"], _bt_hinge(xp, z, smooth), 0.0)


def _batch_triplet_vjp(
    xp: Any,
    g: Any,
    embeddings: Any,
    labels: Any,
    *,
    margin: float,
    strategy: str,
    squared: bool,
    normalize: bool,
    smooth: bool = False,
) -> tuple[Any]:
    x, norms = _embed(xp, embeddings, normalize)
    dist = pairwise_distances(xp, x, x, squared)
    n = dist.shape[0]
    mined = _mine(xp, dist, labels, strategy, margin)
    zt = _bt_violations(xp, dist, mined, margin)
    z = as_data(zt)
    # the hinge's slope: 1 where violated (relu: 0 at z = 0), or the softplus' sigmoid(z), on the
    # Tensor z when recorded (its derivative is the second order's)
    slope = xp.sigmoid(zt) if smooth else _raw(z).where(z > 0, 1.0, 0.0).astype(z.dtype)
    if "mask" in mined:
        # each selected triplet adds g_a * slope to d(a, p) and -g_a * slope to d(a, n)
        c = xp.where(mined["mask"], xp.reshape(g, (n, 1, 1)) * slope, 0.0)
        grad_d = xp.sum(c, axis=2) - xp.sum(c, axis=1)
    else:
        c = xp.reshape(xp.where(mined["valid"], g * slope, 0.0), (n, 1))
        grad_d = c * (one_hot(mined["positive"], n, 1, z.dtype) - one_hot(mined["negative"], n, 1, z.dtype))
    ga, gb = pairwise_distances_vjp(xp, grad_d, x, x, squared)
    gx = ga + gb
    return (_embed_vjp(xp, gx, x, norms),)


def _batch_triplet_counts(
    xp: Any,
    embeddings: Any,
    labels: Any,
    margin: float,
    strategy: str,
    squared: bool,
    normalize: bool,
    smooth: bool = False,
) -> tuple[int, int]:
    """(selected triplets, selected triplets with a positive loss: all of them with the softplus,
    unless it underflows to 0 far below the margin, as PML's AvgNonZeroReducer counts)."""
    x, _ = _embed(xp, embeddings, normalize)
    dist = pairwise_distances(xp, x, x, squared)
    mined = _mine(xp, dist, labels, strategy, margin)
    z = as_data(_bt_violations(xp, dist, mined, margin))
    mask = mined.get("mask", mined.get("valid"))
    return int(mask.sum()), int((mask & (_bt_hinge(xp, z, smooth) > 0)).sum())


def _batch_triplet_weights(
    xp: Any,
    reduction: str,
    embeddings: Any,
    labels: Any,
    *,
    margin: float,
    strategy: str,
    squared: bool,
    normalize: bool,
    smooth: bool = False,
) -> float:
    selected, violated = _batch_triplet_counts(xp, embeddings, labels, margin, strategy, squared, normalize, smooth)
    # no triplet (or none violated): the loss is a documented 0, not 0/0
    return 1.0 / max(selected if reduction == "mean" else violated, 1)


def _batch_triplet_kinks(
    embeddings: Any, labels: Any, *, margin: float, strategy: str, squared: bool, normalize: bool, smooth: bool = False
) -> Any:
    xp = _np()
    x, _ = _embed(xp, embeddings, normalize)
    dist = pairwise_distances(xp, x, x, squared)
    pos, neg = _pair_masks(xp, labels)
    valid = pos[:, :, None] & neg[:, None, :]
    z = dist[:, :, None] - dist[:, None, :] + margin
    if strategy == "all":  # the hinge (the softplus has none)
        return np.empty(0) if smooth else np.abs(z[valid])
    if strategy == "semi-hard":  # the selection jumps where d(a, n) - d(a, p) crosses 0 or the margin
        return np.concatenate([np.abs(z[valid] - margin), np.abs(z[valid])])
    mined = _mine(xp, dist, labels, strategy, margin)
    kinks = [] if smooth else [np.abs(_bt_violations(xp, dist, mined, margin))[mined["valid"]]]
    for mask, sign in ((pos, -1.0), (neg, 1.0)):  # ties for the hardest positive or negative
        ranked = np.sort(np.where(mask, sign * dist, np.inf), axis=1)
        two = mask.sum(axis=1) >= 2
        kinks.append(ranked[two, 1] - ranked[two, 0])
    return np.concatenate(kinks)


BATCH_TRIPLET = register(
    LossSpec(
        name="batch_triplet",
        ties={
            "a violation of exactly 0": Tie(
                # squared distances 1 and 4 with the margin 3: m + d(a, p) - d(a, n) = 0 exactly
                inputs=lambda: [np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]]), np.array([0, 0, 1])],
                subgradient="0, relu's convention at a zero violation",
                expected=lambda embeddings, labels, **p: [np.zeros((3, 2))],
                params={"margin": 3.0, "squared": True},
                value=lambda embeddings, labels, **p: 0.0,
            ),
            "strategy='hard': a violation of exactly 0, an anchor without a positive": Tie(
                inputs=lambda: [np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]]), np.array([0, 0, 1])],
                subgradient="0, relu's convention at a zero violation; an anchor with no triplet adds 0",
                expected=lambda embeddings, labels, **p: [np.zeros((3, 2))],
                params={"margin": 3.0, "squared": True, "strategy": "hard"},
                value=lambda embeddings, labels, **p: 0.0,
            ),
        },
        family="metric",
        args=BATCH_ARGS,
        forward=_batch_triplet_forward,
        vjp=_batch_triplet_vjp,
        params={"margin": 1.0, "strategy": "all", "squared": False, "normalize": False, "smooth": False},
        reductions=("mean", "sum", "none", "avg_nonzero"),
        reduction_weights=_batch_triplet_weights,
        check=_check_batch,
        kinks=_batch_triplet_kinks,
        sampler=_labelled_batch,
        edge_cases=_batch_edges(),
        formula=r"\ell_a = \sum_{(p, n) \in T(a)} \max(0, m + d_{ap} - d_{an}),"
        r"\ T(a) \text{ mined: all, hard, semi-hard}",
        reference="Hermans, Beyer & Leibe 2017 (batch-hard); Schroff et al. 2015 (semi-hard); "
        "pytorch-metric-learning TripletMarginLoss with BatchHardMiner / TripletMarginMiner",
    )
)


def batch_triplet(
    embeddings: Any,
    labels: Any,
    margin: float = 1.0,
    strategy: str = "all",
    squared: bool = False,
    normalize: bool = False,
    reduction: str = "mean",
    smooth: bool = False,
) -> Any:
    r"""Triplet loss over the triplets mined from the labels of a batch.

    With :math:`d_{ij}` the distances between the embeddings (:math:`d_\varepsilon`, or squared),
    a valid triplet :math:`(a, p, n)` has :math:`y_p = y_a`, :math:`p \ne a`, :math:`y_n \ne y_a`;
    its loss is :math:`\max(0, m + d_{ap} - d_{an})`. The strategy selects the triplets
    :math:`T`:

    - ``'all'``: every valid triplet;
    - ``'hard'`` (batch-hard, Hermans et al. 2017): for each anchor, its farthest positive and its
      closest negative, one triplet per anchor that has both;
    - ``'semi-hard'``: the valid triplets whose negative is farther than the positive but within
      the margin, :math:`0 < d_{an} - d_{ap} \le m` (pytorch-metric-learning's
      ``TripletMarginMiner(type_of_triplets="semihard")``): every such triplet. Schroff et al.
      2015 (FaceNet, section 3.2) define these semi-hard negatives and pick negatives among them
      within the mini-batch, without fixing which; taking only the *closest* negative farther
      than the positive for each positive pair, and the farthest negative when none is, is
      TensorFlow's rule (``tf.contrib.losses.metric_learning.triplet_semihard_loss``, now
      TensorFlow Addons' ``TripletSemiHardLoss``), not FaceNet's.

    The selection is made on the current distances and **not differentiated**: the gradient is
    that of the selected triplets' losses, :math:`+1` on :math:`d_{ap}` and :math:`-1` on
    :math:`d_{an}` for each violated one, through
    :math:`\nabla_{x_a} d_{ab} = (x_a - x_b) / d_{ab}`.

    Parameters
    ----------
    embeddings : array or Tensor, shape (N, D)
    labels : integer array, shape (N,), non-negative (any identities; only equality matters)
    margin : float, non-negative
    strategy : {'all', 'hard', 'semi-hard'}
    squared : bool
        Squared Euclidean distances (FaceNet) instead of :math:`d_\varepsilon`.
    normalize : bool
        L2-normalise the embeddings first (pytorch-metric-learning's default distance does).
    smooth : bool
        The soft-margin triplet of Hermans, Beyer & Leibe 2017 (section 2, "soft-margin"):
        :math:`\log(1 + e^{m + d_{ap} - d_{an}})` instead of the hinge, as
        pytorch-metric-learning's ``TripletMarginLoss(smooth_loss=True)``, which keeps the margin
        inside the softplus (the paper's soft margin has none: ``margin=0``). Its derivative is
        :math:`\sigma(m + d_{ap} - d_{an})`, so every selected triplet contributes, and the
        loss is smooth in the distances (the mining's selection still jumps). Every selected
        triplet's loss is positive, so ``'avg_nonzero'`` then divides by all selected triplets
        (PML's ``AvgNonZeroReducer`` counts the losses above 0), like ``'mean'``.
    reduction : {'mean', 'sum', 'none', 'avg_nonzero'}
        'none' gives one value per anchor, the **sum** of the losses of its selected triplets
        (0 for an anchor without any); 'mean' is the total over the number of selected
        triplets (for 'hard', the number of anchors with a positive and a negative); 'sum' the
        total; 'avg_nonzero' the total over the number of selected triplets with a positive loss
        (pytorch-metric-learning's ``AvgNonZeroReducer``, its default for this loss). A batch
        without any selected triplet (no positive pair, a single class) gives 0, not NaN.

    pytorch-metric-learning: ``TripletMarginLoss(margin, distance=LpDistance(normalize_embeddings=
    normalize, power=2 if squared else 1))`` with no miner is ``strategy='all',
    reduction='avg_nonzero'`` (``reduction='mean'`` with ``reducer=MeanReducer()``); with
    ``BatchHardMiner`` (the same distance) ``strategy='hard'``; with
    ``TripletMarginMiner(margin, type_of_triplets="semihard")``, the miner's margin equal to the
    loss's, ``strategy='semi-hard'``. Its defaults differ: margin 0.05, normalised embeddings. Its
    miner's ``"hard"`` (every triplet with :math:`d_{an} \le d_{ap}`) is not batch-hard. Memory is
    :math:`O(N^3)` for 'all' and 'semi-hard'.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.5]])
    >>> round(float(batch_triplet(x, np.array([0, 0, 1]), strategy="hard")), 6)  # (1+1-1.5 + 1+1-1.803) / 2
    0.348612
    """
    margin = real("margin", margin, low=0.0)
    choice("strategy", strategy, STRATEGIES)
    return apply_loss(
        BATCH_TRIPLET, embeddings, labels, reduction=reduction, margin=margin, strategy=strategy,
        squared=flag("squared", squared), normalize=flag("normalize", normalize), smooth=flag("smooth", smooth),
    )  # fmt: skip
