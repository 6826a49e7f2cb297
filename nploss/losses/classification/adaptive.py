r"""Adaptive softmax (Grave et al. 2017): the negative log-likelihood of a class factorised over
a head (the frequent classes and one entry per tail cluster) and the tail clusters.

:func:`adaptive_log_softmax` is ``torch.nn.AdaptiveLogSoftmaxWithLoss`` as a function of its
input, its head and tail weights and its cutoffs. Its reference forward and VJP are the formula
written with ``log_softmax`` and one-hot masks: every cluster's logits are computed for every
sample and masked (no speed tricks); the derivative is softmax minus one-hot, chained through
the linear maps.

The block: the reference ``_x_forward`` and ``_x_vjp``, its checks, the registry entry (the
two-cluster layout), then the public function (any number of clusters).
"""

from __future__ import annotations

import functools
import itertools
from typing import Any

import numpy as np

from ...autograd import as_data
from ...backend import get_array_module
from .._apply import apply_loss
from .._params import integer
from .._shared import one_hot, unbatched
from .._spec import Arg, LossSpec, register
from .._validate import labels, matrix

# ------------------------------------------------------------------------------------ adaptive log softmax


def _als_masks(
    target: Any, head_size: int, tails: tuple[Any, ...], cutoffs: tuple[int, ...], dtype: Any
) -> tuple[Any, list[Any]]:
    """Constants: the one-hot of each sample's head entry (its class in the shortlist, else its
    cluster's entry ``cutoffs[0] + i``), (N, K), and per cluster the one-hot of the class within
    the cluster, (N, V_i), all zero for samples outside the cluster."""
    t = as_data(target)
    mod = get_array_module(t)
    index = t
    tail_hot = []
    for i in range(len(cutoffs)):
        low, size = cutoffs[i], tails[2 * i + 1].shape[0]
        inside = (t >= low) & (t < low + size)
        index = mod.where(inside, cutoffs[0] + i, index)
        tail_hot.append(one_hot(t - low, size, axis=1, dtype=dtype))  # zero rows outside the cluster
    head_hot = one_hot(index, head_size, axis=1, dtype=dtype)
    return head_hot, tail_hot


def _als_forward(
    xp: Any, features: Any, target: Any, head_weight: Any, head_bias: Any, *tails: Any, cutoffs: tuple[int, ...]
) -> Any:
    dtype = as_data(features).dtype
    head_hot, tail_hot = _als_masks(target, head_weight.shape[0], tails, cutoffs, dtype)
    head = xp.matmul(features, xp.transpose(head_weight)) + head_bias
    loss = -xp.sum(xp.log_softmax(head, axis=1) * xp.as_data(head_hot), axis=1)
    for i, hot in enumerate(tail_hot):
        projection, output = tails[2 * i], tails[2 * i + 1]
        logits = xp.matmul(xp.matmul(features, xp.transpose(projection)), xp.transpose(output))
        loss = loss - xp.sum(xp.log_softmax(logits, axis=1) * xp.as_data(hot), axis=1)
    return loss


def _als_vjp(
    xp: Any, g: Any, features: Any, target: Any, head_weight: Any, head_bias: Any, *tails: Any, cutoffs: tuple[int, ...]
) -> tuple[Any, ...]:
    dtype = as_data(features).dtype
    head_hot, tail_hot = _als_masks(target, head_weight.shape[0], tails, cutoffs, dtype)
    gc = xp.reshape(g, (-1, 1))
    # head: z = x W^T + b, dl/dz = softmax(z) - e_k; dx = dz W, dW = dz^T x, db = sum dz
    head = xp.matmul(features, xp.transpose(head_weight)) + head_bias
    dz = gc * (xp.softmax(head, axis=1) - xp.as_data(head_hot))
    dx = xp.matmul(dz, head_weight)
    grads = [xp.matmul(xp.transpose(dz), features), xp.sum(dz, axis=0)]
    for i, hot in enumerate(tail_hot):
        # cluster i: h = x P^T, t = h O^T, dl/dt = m (softmax(t) - e_j) with m the cluster's mask
        projection, output = tails[2 * i], tails[2 * i + 1]
        hidden = xp.matmul(features, xp.transpose(projection))
        logits = xp.matmul(hidden, xp.transpose(output))
        inside = xp.as_data(hot.sum(axis=1, keepdims=True))
        dt = gc * inside * (xp.softmax(logits, axis=1) - xp.as_data(hot))
        dh = xp.matmul(dt, output)
        dx = dx + xp.matmul(dh, projection)
        grads += [xp.matmul(xp.transpose(dh), features), xp.matmul(xp.transpose(dt), hidden)]
    return (dx, *grads)


def _check_cutoffs(cutoffs: Any, clusters: int | None = None) -> tuple[int, ...]:
    if isinstance(cutoffs, (str, bytes)) or not hasattr(cutoffs, "__len__") or len(cutoffs) == 0:
        raise ValueError(f"cutoffs must be a non-empty sequence of integers, got {cutoffs!r}")
    values = tuple(integer("cutoffs", c, low=1) for c in cutoffs)
    if any(b <= a for a, b in itertools.pairwise(values)):
        raise ValueError(f"cutoffs must be strictly increasing positive integers, got {list(values)}")
    if clusters is not None and len(values) != clusters:
        raise ValueError(
            f"cutoffs must have one entry per tail cluster ({clusters}), got {len(values)}: {list(values)}"
        )
    return values


def _check_als(
    features: Any, target: Any, head_weight: Any, head_bias: Any, *tails: Any, cutoffs: tuple[int, ...]
) -> None:
    k = len(tails) // 2
    cutoffs = _check_cutoffs(cutoffs, k)
    matrix("features", features, "(N, D)")
    n, d = features.shape
    if tuple(target.shape) != (n,):
        raise ValueError(f"target must hold one class label per sample, shape ({n},), got {tuple(target.shape)}")
    head_size = cutoffs[0] + k
    if tuple(head_weight.shape) != (head_size, d):
        raise ValueError(
            f"head_weight must have shape (cutoffs[0] + n_clusters, D) = ({head_size}, {d}), got {tuple(head_weight.shape)}"
        )
    if tuple(head_bias.shape) != (head_size,):
        raise ValueError(f"head_bias must have shape ({head_size},), got {tuple(head_bias.shape)}")
    for i in range(k):
        projection, output = tails[2 * i], tails[2 * i + 1]
        p_name, o_name = _tail_names(i)
        matrix(p_name, projection, "(H_i, D)")
        if projection.shape[1] != d:
            raise ValueError(f"{p_name} must have D = {d} columns, got shape {tuple(projection.shape)}")
        matrix(o_name, output, "(V_i, H_i)")
        size = cutoffs[i + 1] - cutoffs[i] if i + 1 < k else None
        if (
            output.shape[1] != projection.shape[0]
            or (size is not None and output.shape[0] != size)
            or output.shape[0] < 1
        ):
            want = f"({size}, {projection.shape[0]})" if size is not None else f"(V, {projection.shape[0]}) with V >= 1"
            raise ValueError(f"{o_name} must have shape {want}, got {tuple(output.shape)}")
    labels("target", target, cutoffs[-1] + tails[-1].shape[0])


def _tail_names(i: int) -> tuple[str, str]:
    return f"tail_projection_{i}", f"tail_output_{i}"


def _als_sampler(rng: np.random.Generator, s: dict[str, int]) -> list[np.ndarray]:
    """Two clusters with cutoffs (2, 4) and 7 classes: a head of 4 entries, clusters of 2 and 3
    classes with hidden sizes 2; targets in the head and in each cluster."""
    n, d = s["N"], s["D"]
    target = rng.integers(0, 7, n)
    target[: min(n, 3)] = [1, 3, 5][: min(n, 3)]
    return [
        rng.standard_normal((n, d)),
        target,
        rng.standard_normal((4, d)),
        rng.standard_normal(4),
        rng.standard_normal((2, d)),
        rng.standard_normal((2, 2)),
        rng.standard_normal((2, d)),
        rng.standard_normal((3, 2)),
    ]


FORMULA = (
    r"\ell = -\log \mathrm{softmax}(W_h x + b)_{k(y)} - [y \ge c_0] \log \mathrm{softmax}(O_i P_i x)_{y - c_i}, \quad "
    r"\partial \ell / \partial z = \mathrm{softmax}(z) - e"
)
REFERENCE = (
    "Grave et al. 2017, Efficient softmax approximation for GPUs (ICML); "
    "torch.nn.AdaptiveLogSoftmaxWithLoss (PyTorch 2.13)"
)


@functools.cache
def _spec(clusters: int) -> LossSpec:
    """The LossSpec of ``clusters`` tail clusters (only the two-cluster one is registered)."""
    tails = []
    for i in range(clusters):
        p_name, o_name = _tail_names(i)
        tails += [Arg(p_name, "real", ("H", "D")), Arg(o_name, "real", ("C", "H"))]
    return LossSpec(
        name="adaptive_log_softmax",
        family="classification",
        args=(
            Arg("features", "real", ("N", "D")),
            Arg("target", "label", ("N",), differentiable=False),
            Arg("head_weight", "real", ("C", "D")),
            Arg("head_bias", "real", ("C",)),
            *tails,
        ),
        forward=_als_forward,
        vjp=_als_vjp,
        params={"cutoffs": (2, 4)},
        check=_check_als,
        sampler=_als_sampler if clusters == 2 else None,
        edge_cases={
            "logits of +-1e4": lambda rng: [
                np.array([[100.0, -100.0], [-100.0, 100.0], [1.0, 0.0]]),
                np.array([1, 3, 6]),
                np.array([[100.0, 0.0], [0.0, 100.0], [-100.0, 0.0], [0.0, -100.0]]),
                np.zeros(4),
                np.array([[100.0, 0.0], [0.0, 100.0]]),
                np.array([[100.0, 0.0], [-100.0, 0.0]]),
                np.array([[0.0, 100.0], [100.0, 0.0]]),
                np.array([[100.0, 0.0], [0.0, 1.0], [-100.0, 0.0]]),
            ],
        },
        formula=FORMULA,
        reference=REFERENCE,
        torch="AdaptiveLogSoftmaxWithLoss",
    )


ADAPTIVE_LOG_SOFTMAX = register(_spec(2))


def adaptive_log_softmax(
    features: Any,
    target: Any,
    head_weight: Any,
    tail_projections: Any,
    tail_outputs: Any,
    cutoffs: Any,
    head_bias: Any = None,
    reduction: str = "mean",
) -> Any:
    r"""Adaptive softmax negative log-likelihood (Grave et al. 2017): ``AdaptiveLogSoftmaxWithLoss``
    as a function of its input and weights.

    With the shortlist size :math:`c_0` (``cutoffs[0]``), the head logits
    :math:`z = W_h x + b` over :math:`c_0 + K` entries (the shortlist, then one per cluster),
    cluster :math:`i` of classes :math:`[c_i, c_{i+1})` (:math:`c_K` = the number of classes)
    with logits :math:`t_i = O_i P_i x`:

    .. math::  \ell = \begin{cases} -\log \mathrm{softmax}(z)_y & y < c_0 \\
               -\log \mathrm{softmax}(z)_{c_0 + i} - \log \mathrm{softmax}(t_i)_{y - c_i}
               & c_i \le y < c_{i+1} \end{cases}

    .. math::  \frac{\partial \ell}{\partial z} = \mathrm{softmax}(z) - e_{k(y)}, \qquad
               \frac{\partial \ell}{\partial t_i} = [c_i \le y < c_{i+1}]\,(\mathrm{softmax}(t_i) - e_{y - c_i}),

    then the chain rule through the linear maps: :math:`\partial \ell / \partial W_h = \delta_z x^\top`,
    :math:`\partial \ell / \partial O_i = \delta_{t_i} (P_i x)^\top`,
    :math:`\partial \ell / \partial P_i = O_i^\top \delta_{t_i} x^\top`,
    :math:`\partial \ell / \partial x = W_h^\top \delta_z + \sum_i P_i^\top O_i^\top \delta_{t_i}`.

    Parameters
    ----------
    features : array or Tensor, shape (N, D) or (D,)
        The hidden states (PyTorch's ``input``).
    target : integer array, shape (N,) (0-d for one sample)
        Class labels in ``[0, cutoffs[-1] + V_K)``.
    head_weight : array or Tensor, shape (cutoffs[0] + K, D)
        ``module.head.weight``.
    tail_projections : sequence of K arrays or Tensors, shapes (H_i, D)
        ``module.tail[i][0].weight``.
    tail_outputs : sequence of K arrays or Tensors, shapes (cutoffs[i+1] - cutoffs[i], H_i)
        ``module.tail[i][1].weight``; the last one's rows give the classes of the last cluster,
        so the number of classes is ``cutoffs[-1] + tail_outputs[-1].shape[0]``.
    cutoffs : sequence of K strictly increasing positive integers
        PyTorch's ``cutoffs`` (without ``n_classes``).
    head_bias : array or Tensor, shape (cutoffs[0] + K,), optional
        ``module.head.bias`` (``head_bias=True``); None for no bias.
    reduction : {'mean', 'sum', 'none'}
        ``'none'`` gives :math:`\ell` per sample (PyTorch's ``-output``); ``'mean'`` is PyTorch's
        ``loss``.

    Every input but the target is differentiated (and ``head_bias`` when given). Any number of
    clusters is accepted; the registry holds the two-cluster layout (``nploss show
    adaptive_log_softmax``), whose arguments are named ``tail_projection_0``, ``tail_output_0``, ...

    Matches ``torch.nn.AdaptiveLogSoftmaxWithLoss`` with its weights copied, values (``loss``
    and ``-output``) and the gradients of the input and of every weight. Differences: a function
    of the weights rather than a module, so the hidden sizes ``H_i`` are those of the given
    matrices (PyTorch derives ``in_features // div_value ** (i + 1)``) and ``n_classes`` is
    inferred from the last output matrix; the first argument is named ``features``;
    ``reduction`` replaces the ``(output, loss)`` pair (``output`` is ``-adaptive_log_softmax(...,
    reduction='none')``); ``log_prob`` and ``predict`` are not provided.

    Raises
    ------
    ValueError
        Bad ``cutoffs``, shapes that do not fit the cutoffs or one another, a label out of range,
        as many projections as outputs not given.
    TypeError
        Float targets.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> head = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    >>> proj, out = [np.eye(2)], [np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])]
    >>> round(float(adaptive_log_softmax(x, np.array([0, 3]), head, proj, out, [2])), 6)
    1.361267
    """
    tail_projections, tail_outputs = list(tail_projections), list(tail_outputs)
    if len(tail_projections) != len(tail_outputs):
        raise ValueError(
            f"tail_projections and tail_outputs must have one matrix per cluster each, got {len(tail_projections)} and {len(tail_outputs)}"
        )
    cutoffs = _check_cutoffs(cutoffs, len(tail_outputs))
    if np.ndim(as_data(features)) == 1:  # one sample, (D,), as PyTorch accepts
        one = lambda x, t: adaptive_log_softmax(
            x, t, head_weight, tail_projections, tail_outputs, cutoffs, head_bias, reduction
        )
        return unbatched(one, {"features": features, "target": target}, {"target": (0,)}, reduction)
    if head_bias is None:  # a constant zero bias: its gradient is computed and dropped
        w = as_data(head_weight)
        head_bias = get_array_module(w).zeros(np.shape(w)[:1], dtype=getattr(w, "dtype", np.float64))
    tails = [m for pair in zip(tail_projections, tail_outputs) for m in pair]
    spec = _spec(len(cutoffs))
    return apply_loss(spec, features, target, head_weight, head_bias, *tails, reduction=reduction, cutoffs=cutoffs)


__all__ = ["adaptive_log_softmax"]
