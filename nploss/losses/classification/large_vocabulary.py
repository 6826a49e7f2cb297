r"""Cross entropy over a large vocabulary: the linear layer and the softmax cross entropy fused.

:func:`linear_cross_entropy` is ``cross_entropy(features @ W.T + b, target)``, PyTorch 2.13's
``torch.nn.functional.linear_cross_entropy``. Its reference forward and VJP are that formula:
the logits, then cross entropy and its gradient :math:`\partial \ell / \partial z`, then the
chain rule through the linear map. Its fast path never holds the N x V logits: the forward runs
over blocks of the vocabulary with a running log-sum-exp, the backward recomputes each block's
softmax from the log-sum-exp and accumulates the three gradients block by block.

The block: the reference ``_x_forward`` and ``_x_vjp``, the fast path, its checks, the
registry entry, then the public function.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...autograd import as_data
from ...backend import get_array_module, scatter_add
from .._apply import apply_loss
from .._params import integer, real
from .._shared import constant, unbatched
from .._spec import Arg, FastPath, LossSpec, present_label, register, weights_per_class
from .._validate import class_weights, labels, matrix
from .cross_entropy import _ce_forward, _ce_labels, _ce_reduction_weights, _ce_vjp

# ------------------------------------------------------------------------------------ linear cross entropy

CHUNK_ELEMENTS = 1 << 22  # logits per vocabulary block of the fast path when chunk_size is None


def _lce_logits(xp: Any, features: Any, linear_weight: Any, linear_bias: Any) -> Any:
    """:math:`z = x W^\\top + b`, (N, V)."""
    return xp.matmul(features, xp.transpose(linear_weight)) + linear_bias


def _lce_forward(
    xp: Any,
    features: Any,
    linear_weight: Any,
    target: Any,
    linear_bias: Any,
    *,
    weight: Any,
    ignore_index: int,
    label_smoothing: float,
    chunk_size: Any,
) -> Any:
    logits = _lce_logits(xp, features, linear_weight, linear_bias)
    return _ce_forward(xp, logits, target, weight=weight, ignore_index=ignore_index, label_smoothing=label_smoothing)


def _lce_vjp(
    xp: Any,
    g: Any,
    features: Any,
    linear_weight: Any,
    target: Any,
    linear_bias: Any,
    *,
    weight: Any,
    ignore_index: int,
    label_smoothing: float,
    chunk_size: Any,
) -> tuple[Any, Any, Any]:
    logits = _lce_logits(xp, features, linear_weight, linear_bias)
    (dz,) = _ce_vjp(xp, g, logits, target, weight=weight, ignore_index=ignore_index, label_smoothing=label_smoothing)
    # z = x W^T + b: dx = dz W, dW = dz^T x, db = sum_i dz_i
    return xp.matmul(dz, linear_weight), xp.matmul(xp.transpose(dz), features), xp.sum(dz, axis=0)


def _lce_reduction_weights(
    xp: Any, reduction: str, features: Any, linear_weight: Any, target: Any, linear_bias: Any, **params: Any
) -> float:
    return _ce_reduction_weights(xp, reduction, features, target, **params)


# Fast path. With a = the (weighted, smoothed) target distribution of a sample and A = sum_c a_c,
# the loss is A lse - sum_c a_c z_c and its logit gradient A softmax(z) - a. Only the first part
# needs every logit: the forward keeps a running maximum m and sum s of exp(z - m) over blocks
# of the vocabulary; the second part needs z_y = x . W_y + b_y and, for smoothing,
# sum_c w_c z_c = x . (w^T W) + w . b, neither of which needs the logits. The backward
# recomputes the log-sum-exp, then softmax one block at a time from it.
def _chunk(chunk_size: Any, rows: int, vocabulary: int) -> int:
    if chunk_size is not None:
        return min(chunk_size, vocabulary)
    return max(1, min(vocabulary, CHUNK_ELEMENTS // max(rows, 1)))


def _lce_target_terms(
    xp: Any,
    features: Any,
    linear_weight: Any,
    target: Any,
    linear_bias: Any,
    weight: Any,
    ignore_index: int,
    label_smoothing: float,
) -> tuple[Any, Any, Any, Any]:
    """Per sample: A = sum_c a_c, the weight of the label term (1 - eps) w_y, the safe labels, and
    the weight of the uniform term eps/V (0 for an ignored sample)."""
    dtype, vocabulary = features.dtype, linear_weight.shape[0]
    safe, w_y = _ce_labels(features, target, weight, ignore_index)
    label_part = (1.0 - label_smoothing) * w_y
    uniform = (label_smoothing / vocabulary) * (target != ignore_index).astype(dtype)
    total_w = float(vocabulary) if weight is None else float(weight.astype(dtype).sum())
    return label_part + uniform * total_w, label_part, safe, uniform


def _lce_logsumexp(xp: Any, features: Any, linear_weight: Any, linear_bias: Any, chunk_size: Any) -> Any:
    """The log-sum-exp of every row of the logits, (N,), over blocks of the vocabulary: a running
    maximum m and sum s of exp(z - m), rescaled when m grows."""
    n, vocabulary = features.shape[0], linear_weight.shape[0]
    step = _chunk(chunk_size, n, vocabulary)
    m = xp.full((n,), -np.inf, dtype=features.dtype)
    s = xp.zeros((n,), dtype=features.dtype)
    for v0 in range(0, vocabulary, step):
        z = features @ linear_weight[v0 : v0 + step].T + linear_bias[v0 : v0 + step]
        new_m = xp.maximum(m, z.max(axis=1))
        z -= new_m[:, None]
        s = s * xp.exp(m - new_m) + xp.exp(z, out=z).sum(axis=1)
        m = new_m
    return m + xp.log(s)


def _lce_forward_fast(
    xp: Any,
    features: Any,
    linear_weight: Any,
    target: Any,
    linear_bias: Any,
    *,
    weight: Any,
    ignore_index: int,
    label_smoothing: float,
    chunk_size: Any,
    save: bool,
) -> tuple[Any, None]:
    vocabulary = linear_weight.shape[0]
    lse = _lce_logsumexp(xp, features, linear_weight, linear_bias, chunk_size)
    big_a, label_part, safe, uniform = _lce_target_terms(
        xp, features, linear_weight, target, linear_bias, weight, ignore_index, label_smoothing
    )
    z_y = xp.einsum("nd,nd->n", features, linear_weight[safe]) + linear_bias[safe]
    loss = big_a * lse - label_part * z_y
    if label_smoothing:
        w = xp.ones(vocabulary, dtype=features.dtype) if weight is None else weight.astype(features.dtype)
        loss = loss - uniform * (features @ (w @ linear_weight) + w @ linear_bias)
    # nothing saved: this path is not rowwise (dW sums over the rows) while the registry's tests
    # hold every saving path to row blocks; the backward recomputes the log-sum-exp (one pass more)
    return loss, None


def _lce_vjp_fast(
    xp: Any,
    g: Any,
    features: Any,
    linear_weight: Any,
    target: Any,
    linear_bias: Any,
    *,
    weight: Any,
    ignore_index: int,
    label_smoothing: float,
    chunk_size: Any,
    saved: None,
) -> tuple[Any, Any, Any]:
    lse = _lce_logsumexp(xp, features, linear_weight, linear_bias, chunk_size)
    n, vocabulary = features.shape[0], linear_weight.shape[0]
    big_a, label_part, safe, uniform = _lce_target_terms(
        xp, features, linear_weight, target, linear_bias, weight, ignore_index, label_smoothing
    )
    c = (g * big_a)[:, None]
    dx = xp.zeros_like(features)
    dw = xp.empty_like(linear_weight)
    db = xp.empty_like(linear_bias)
    step = _chunk(chunk_size, n, vocabulary)
    for v0 in range(0, vocabulary, step):  # g A softmax(z), one block of the vocabulary at a time
        block = slice(v0, v0 + step)
        p = features @ linear_weight[block].T + linear_bias[block]
        p -= lse[:, None]
        p = xp.exp(p, out=p)
        p *= c
        dx += p @ linear_weight[block]
        dw[block] = p.T @ features
        db[block] = p.sum(axis=0)
    gy = g * label_part  # minus g a: the label part, one row of W per sample
    dx -= gy[:, None] * linear_weight[safe]
    scatter_add(dw, safe, -gy[:, None] * features)
    scatter_add(db, safe, -gy)
    if label_smoothing:  # and the uniform part eps/V w_c
        w = xp.ones(vocabulary, dtype=features.dtype) if weight is None else weight.astype(features.dtype)
        gu = g * uniform
        dx -= gu[:, None] * (w @ linear_weight)[None, :]
        dw -= w[:, None] * (gu @ features)[None, :]
        db -= w * gu.sum()
    return dx, dw, db


LCE_FAST = FastPath(
    forward=_lce_forward_fast,
    vjp=_lce_vjp_fast,
    how="the vocabulary in blocks: a running log-sum-exp forward (z_y from x . W_y), the softmax "
    "recomputed per block in the backward from the log-sum-exp; never the N x V logits",
)


def _check_lce(
    features: Any,
    linear_weight: Any,
    target: Any,
    linear_bias: Any,
    *,
    weight: Any,
    ignore_index: Any,
    label_smoothing: Any,
    chunk_size: Any,
) -> None:
    matrix("features", features, "(N, D)")
    matrix("linear_weight", linear_weight, "(V, D): one row per class")
    if linear_weight.shape[1] != features.shape[1]:
        raise ValueError(
            f"linear_weight must have D = {features.shape[1]} columns (the features' axis 1), got shape {tuple(linear_weight.shape)}"
        )
    if tuple(target.shape) != (features.shape[0],):
        raise ValueError(
            f"target must hold one class label per sample, shape ({features.shape[0]},), got {tuple(target.shape)}"
        )
    if tuple(linear_bias.shape) != (linear_weight.shape[0],):
        raise ValueError(f"linear_bias must have shape ({linear_weight.shape[0]},), got {tuple(linear_bias.shape)}")
    integer("ignore_index", ignore_index)
    labels("target", target, linear_weight.shape[0], ignore_index)
    class_weights("weight", weight, linear_weight.shape[0])
    real("label_smoothing", label_smoothing, low=0.0, high=1.0)
    if chunk_size is not None:
        integer("chunk_size", chunk_size, low=1)


LINEAR_CROSS_ENTROPY = register(
    LossSpec(
        name="linear_cross_entropy",
        grid={
            "weight": (None, weights_per_class(of=1, axis=0)),  # one per row of linear_weight
            "ignore_index": (-100, present_label(2)),
            "chunk_size": (None, 2),
        },
        family="classification",
        args=(
            Arg("features", "real", ("N", "D")),
            Arg("linear_weight", "real", ("C", "D")),
            Arg("target", "label", ("N",), differentiable=False),
            Arg("linear_bias", "real", ("C",)),
        ),
        forward=_lce_forward,
        vjp=_lce_vjp,
        fast=LCE_FAST,
        params={"weight": None, "ignore_index": -100, "label_smoothing": 0.0, "chunk_size": None},
        reduction_weights=_lce_reduction_weights,
        check=_check_lce,
        sampler=lambda rng, s: [
            rng.standard_normal((s["N"], s["D"])),
            rng.standard_normal((s["C"], s["D"])),
            rng.integers(0, s["C"], s["N"]),
            rng.standard_normal(s["C"]),
        ],
        edge_cases={
            "logits of +-1e4": lambda rng: [
                np.array([[100.0, 0.0], [-100.0, 1.0], [0.0, 0.0]]),
                np.array([[100.0, 0.0], [-100.0, 0.0], [0.0, 1.0]]),
                np.array([1, 0, 2]),
                np.array([0.0, 0.0, 0.0]),
            ],
        },
        formula=r"\ell = -\sum_c a_c \log \mathrm{softmax}(x W^\top + b)_c, \quad "
        r"\partial \ell / \partial x = \delta W,\ \partial \ell / \partial W = \delta^\top x,\ \delta = (\textstyle\sum_c a_c) \mathrm{softmax}(z) - a",
        reference="torch.nn.functional.linear_cross_entropy (PyTorch 2.13); Wijmans et al. 2025, Cut Your Losses in Large-Vocabulary Language Models",
        torch="linear_cross_entropy",
    )
)


def linear_cross_entropy(
    features: Any,
    linear_weight: Any,
    target: Any,
    linear_bias: Any = None,
    weight: Any = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
    chunk_size: int | None = None,
) -> Any:
    r"""Cross entropy of a linear layer's output, fused: ``cross_entropy(features @ W.T + b, target)``
    without the N x V logits in memory.

    .. math::  z_i = W x_i + b, \qquad \ell_i = -\sum_c a_{ic} \log \mathrm{softmax}(z_i)_c, \qquad
               \delta_i = \Big(\sum_c a_{ic}\Big) \mathrm{softmax}(z_i) - a_i, \qquad
               \frac{\partial \ell}{\partial x_i} = W^\top \delta_i, \quad
               \frac{\partial \ell}{\partial W} = \sum_i \delta_i x_i^\top, \quad
               \frac{\partial \ell}{\partial b} = \sum_i \delta_i

    with the target distribution :math:`a` of :func:`cross_entropy` (one-hot, class-weighted,
    smoothed, 0 for an ignored sample).

    Parameters
    ----------
    features : array or Tensor, shape (N, D) or (D,)
        The hidden states (PyTorch's ``input``).
    linear_weight : array or Tensor, shape (V, D)
        One row per class, as ``torch.nn.Linear(D, V).weight``.
    target : integer array, shape (N,) (0-d for one sample)
        Class labels in [0, V), or ``ignore_index``.
    linear_bias : array or Tensor, shape (V,), optional
    weight, ignore_index, label_smoothing
        As in :func:`cross_entropy` (class weights, a constant; the ignored label; smoothing).
    reduction : {'mean', 'sum', 'none'}
        ``'mean'`` is the weighted mean of :func:`cross_entropy`.
    chunk_size : int, optional
        Classes per block of the fused evaluation (the memory it holds is N x chunk_size);
        default: about four million logits per block. It never changes the result beyond
        round-off; the reference (``with nploss.losses.reference():``, and the composite graph)
        forms the full logits.

    Matches ``torch.nn.functional.linear_cross_entropy`` (and so ``F.cross_entropy(F.linear(x,
    W, b), y)``), values and the gradients of ``features``, ``linear_weight`` and ``linear_bias``.
    Differences: the first argument is named ``features`` (PyTorch: ``input``); ``chunk_size``
    replaces PyTorch's ``options``; PyTorch's ``ignore_index=None`` is nploss's ``-100``;
    class-probability targets and multi-dimensional ``linear_weight`` (K-dimensional logits) are
    refused.

    Raises
    ------
    ValueError
        Shapes that do not fit, a label out of range, bad class weights, ``label_smoothing``
        outside [0, 1], ``chunk_size < 1``.
    TypeError
        Float targets (class probabilities are not supported here).

    Examples
    --------
    >>> import numpy as np
    >>> x, W = np.array([[1.0, 0.0], [0.0, 2.0]]), np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    >>> round(float(linear_cross_entropy(x, W, np.array([0, 1]), chunk_size=2)), 6)
    0.543938
    """
    if np.ndim(as_data(features)) == 1:  # one sample, (D,), as PyTorch accepts
        one = lambda x, t: linear_cross_entropy(
            x, linear_weight, t, linear_bias, weight, ignore_index, label_smoothing, reduction, chunk_size
        )
        return unbatched(one, {"features": features, "target": target}, {"target": (0,)}, reduction)
    if linear_bias is None:  # a constant zero bias: its gradient is computed and dropped
        w = as_data(linear_weight)
        linear_bias = get_array_module(w).zeros(np.shape(w)[:1], dtype=getattr(w, "dtype", np.float64))
    weight = constant(weight, features)
    return apply_loss(
        LINEAR_CROSS_ENTROPY, features, linear_weight, target, linear_bias, reduction=reduction,
        weight=weight, ignore_index=ignore_index, label_smoothing=label_smoothing, chunk_size=chunk_size,
    )  # fmt: skip


__all__ = ["linear_cross_entropy"]
