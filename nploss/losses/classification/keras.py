r"""The Keras cross entropies, of probabilities (or logits) with the classes on the **last** axis,
and label smoothing.

:func:`categorical_cross_entropy` (one-hot or probability targets) and
:func:`sparse_categorical_cross_entropy` (integer labels) follow Keras 3: each row of
probabilities is renormalised to sum 1, then clipped to :math:`[\epsilon, 1 - \epsilon]`. With
``from_logits=True`` they are PyTorch's cross entropies (:mod:`.cross_entropy`) with the class
axis moved to 1, exact for any finite logits. :func:`smooth_labels` keeps the classes on the
last axis too, as Keras and optax do. The targets are constants.

Each loss is one block: the reference ``_x_forward`` and ``_x_vjp``, its checks, the registry
entry, then the public function.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import autograd as ag
from ...autograd import Tensor, as_data
from .._apply import apply_loss
from .._params import flag, real
from .._shared import one_hot
from .._spec import Arg, LossSpec, Tie, register
from .._validate import domain, finite, same_shape
from .._validate import labels as _check_labels
from ._common import _as_array
from .cross_entropy import CROSS_ENTROPY, SOFT_TARGET_CROSS_ENTROPY

# ------------------------------------------------------------------------------------ Keras categorical


def _cce_parts(xp: Any, probs: Any, eps: float) -> tuple[Any, Any, Any]:
    """Row sums s, renormalised r = probs / s and clipped c = clip(r, eps, 1 - eps)."""
    s = xp.sum(probs, axis=-1, keepdims=True)
    r = probs / s
    return s, r, xp.clip(r, eps, 1.0 - eps)


def _cce_forward(xp: Any, probs: Any, target: Any, *, eps: float) -> Any:
    _, _, c = _cce_parts(xp, probs, eps)
    return -xp.sum(xp.as_data(target) * xp.log(c), axis=-1)


def _cce_vjp(xp: Any, g: Any, probs: Any, target: Any, *, eps: float) -> tuple[Any]:
    s, r, c = _cce_parts(xp, probs, eps)
    rd = xp.as_data(r)
    inside = (rd >= eps) & (rd <= 1.0 - eps)  # the clip passes the gradient on [eps, 1 - eps]
    # dl/dr_j = -y_j / c_j inside the clip (0 outside) =: -u_j, and dr_c/dp_j = ([c = j] - r_c) / s,
    # so dl/dp_j = (sum_c u_c r_c - u_j) / s
    u = xp.as_data(target) * inside / c
    return (xp.expand_dims(g, -1) * (xp.sum(u * r, axis=-1, keepdims=True) - u) / s,)


def _cce_kinks(probs: Any, target: Any, *, eps: float) -> Any:
    r = probs / probs.sum(axis=-1, keepdims=True)
    return np.minimum(np.abs(r - eps), np.abs(r - (1.0 - eps)))


def _check_cce(probs: Any, target: Any, *, eps: Any) -> None:
    if probs.ndim < 1:
        raise ValueError("probs must have a class axis (the last), got a scalar")
    same_shape("probs", probs, "target", target)
    domain("target", target, "simplex")
    _check_row_sums(probs)
    real("eps", eps, low=0.0, high=0.5, low_open=True, high_open=True)


def _check_row_sums(probs: Any) -> None:
    if bool((probs.sum(axis=-1) <= 0).any()):
        raise ValueError("probs rows (over the last axis) must have a positive sum, got a row of zeros")


def _cce_sample(rng: np.random.Generator, sizes: dict[str, int]) -> list[np.ndarray]:
    n, c = sizes["N"], sizes["C"]
    return [rng.dirichlet(2.0 * np.ones(c), n), rng.dirichlet(np.ones(c), n)]


_PROB_EDGES = {
    "probabilities of exactly 0 and 1": lambda rng: [
        np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0]]),
        np.array([[0.0, 1.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]),
    ],
}

CATEGORICAL_CROSS_ENTROPY = register(
    LossSpec(
        name="categorical_cross_entropy",
        ties={
            "a probability on the clip bound": Tie(
                inputs=lambda: [np.array([[1e-7, 1.0 - 1e-7]]), np.array([[1.0, 0.0]])],
                subgradient="the clip passes the gradient at its bounds, as PyTorch's clamp: -1/p + 1/s",
                expected=lambda probs, target, **p: [np.array([[-1e7 + 1.0, 1.0]])],
                step=1e-11,
                value=lambda probs, target, **p: -np.log(1e-7),
            ),
            "the true class beyond the upper clip bound": Tie(
                inputs=lambda: [np.array([[1e-9, 1.0 - 1e-9]]), np.array([[0.0, 1.0]])],
                subgradient="0: outside [eps, 1 - eps] the clip passes no gradient",
                expected=lambda probs, target, **p: [np.zeros((1, 2))],
                step=1e-12,
                value=lambda probs, target, **p: -np.log(1.0 - 1e-7),
            ),
        },
        layouts={"rows summing to 1/2": lambda rng, s: [0.5 * _cce_sample(rng, s)[0], _cce_sample(rng, s)[1]]},
        fixed={"from_logits": "True hands the scores to soft_target_cross_entropy, audited under its own name"},
        family="classification",
        args=(Arg("probs", "prob", ("N", "C")), Arg("target", "simplex", ("N", "C"), differentiable=False)),
        forward=_cce_forward,
        vjp=_cce_vjp,
        params={"eps": 1e-7},
        check=_check_cce,
        kinks=_cce_kinks,
        sampler=_cce_sample,
        edge_cases=_PROB_EDGES,
        formula=r"\ell = -\sum_c y_c \log \mathrm{clip}(p_c / \textstyle\sum_k p_k, \epsilon, 1 - \epsilon)",
        reference="Keras categorical_crossentropy(from_logits=False)",
    )
)


def _keras_from_logits(
    spec: LossSpec, logits: Any, target: Any, reduction: str, target_has_classes: bool, **params: Any
) -> Any:
    """A Keras loss with ``from_logits=True``: the PyTorch-layout cross entropy ``spec`` of the
    logits with their class axis moved from last to 1, which is what Keras computes (a
    ``log_softmax``, no clip). A single row (C,) becomes (1, C), and its unreduced loss a scalar
    again. The target is a constant, as in the probability form."""
    target = as_data(target)
    ndim = as_data(logits).ndim
    if ndim == 1:
        logits, target = ag.expand_dims(logits, 0) if isinstance(logits, Tensor) else logits[None], target[None]
    elif ndim > 2:
        axes = (0, ndim - 1, *range(1, ndim - 1))
        logits = ag.transpose(logits, axes) if isinstance(logits, Tensor) else logits.transpose(axes)
        if target_has_classes:
            target = target.transpose(axes)
    out = apply_loss(spec, logits, target, reduction=reduction, **params)
    if ndim == 1 and reduction == "none":
        return ag.reshape(out, ()) if isinstance(out, Tensor) else out.reshape(())
    return out


def _logits_and_target(probs: Any, target: Any) -> tuple[Any, Any, Any]:
    """With ``from_logits=True``: the logits as given (an array or a Tensor), their array, and the
    target's array, for the checks before :func:`_keras_from_logits`."""
    probs = _as_array(probs)
    data = as_data(target)
    return probs, as_data(probs), data if hasattr(data, "dtype") else np.asarray(data)


def categorical_cross_entropy(
    probs: Any, target: Any, eps: float = 1e-7, from_logits: bool = False, reduction: str = "mean"
) -> Any:
    r"""Categorical cross entropy of probabilities (or logits), as Keras computes it.

    Keras first renormalises each row of predictions to sum 1, then clips it to
    :math:`[\epsilon, 1 - \epsilon]`:

    .. math::  r_{ic} = \frac{p_{ic}}{s_i},\ s_i = \sum_k p_{ik}, \qquad
               \ell_i = -\sum_c y_{ic} \log \mathrm{clip}(r_{ic}, \epsilon, 1 - \epsilon), \qquad
               \frac{\partial \ell_i}{\partial p_{ij}} = \frac{1}{s_i} \Big( \sum_c u_{ic} r_{ic} - u_{ij} \Big)

    with :math:`u_{ic} = y_{ic} / r_{ic}` where :math:`\epsilon \le r_{ic} \le 1 - \epsilon` and
    0 where the clip is active (its derivative is 0 there). So a predicted probability of 0 for
    the true class costs :math:`-\log 10^{-7} \approx 16.118` rather than infinity, and a
    perfect one-hot prediction costs :math:`-\log(1 - 10^{-7}) \approx 10^{-7}`, not 0.

    With ``from_logits=True`` the input holds logits :math:`z` and nothing is clipped:
    :math:`\ell_i = -\sum_c y_{ic} \log \mathrm{softmax}(z_i)_c`, with gradient
    :math:`(\sum_c y_{ic})\,\mathrm{softmax}(z_i) - y_i` (computed by
    :func:`soft_target_cross_entropy` on the class axis moved to 1; finite for any finite
    logits).

    Parameters
    ----------
    probs : array or Tensor, shape (..., C)
        Probabilities in [0, 1], classes on the **last** axis (as Keras); rows need not sum
        exactly to 1 (they are renormalised) but must not be all zero. Real logits with
        ``from_logits=True``.
    target : array, shape of ``probs``
        One-hot rows or class probabilities summing to 1 (a constant: not differentiated).
    eps : float in (0, 0.5)
        Keras' ``backend.epsilon()``, 1e-7 (unused with ``from_logits=True``, as in Keras).
    from_logits : bool
        Whether ``probs`` holds logits, as Keras' argument of that name.
    reduction : {'mean', 'sum', 'none'}
        ``'mean'`` averages over the rows, which is Keras' default ``'sum_over_batch_size'``.

    Follows Keras 3's ``categorical_crossentropy`` (every backend renormalises, then clips).
    PyTorch has no probability-input categorical loss; with logits it is
    ``torch.nn.functional.cross_entropy`` with probability targets (classes on axis 1), which is
    exact where the probability form clips: prefer logits.

    Raises
    ------
    ValueError
        If the shapes differ, a probability lies outside [0, 1], a row of ``probs`` sums to 0, a
        target row does not sum to 1, or ``eps`` is not in (0, 0.5).
    TypeError
        If ``from_logits`` is not a bool.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    >>> p = np.array([[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]])
    >>> round(float(categorical_cross_entropy(p, y)), 6)  # Keras documents 1.177
    1.176939
    >>> z, hot = np.array([[10.0, -10.0, 0.0]]), np.array([[0.0, 1.0, 0.0]])
    >>> round(float(categorical_cross_entropy(z, hot, from_logits=True)), 6)  # no clip at 16.118
    20.000045
    """
    if not flag("from_logits", from_logits):
        return apply_loss(CATEGORICAL_CROSS_ENTROPY, probs, target, reduction=reduction, eps=eps)
    probs, logits, data = _logits_and_target(probs, target)
    if logits.ndim < 1:
        raise ValueError("probs must have a class axis (the last), got a scalar")
    same_shape("probs", logits, "target", data)
    finite("probs", logits)
    domain("target", data, "simplex")
    real("eps", eps, low=0.0, high=0.5, low_open=True, high_open=True)
    return _keras_from_logits(SOFT_TARGET_CROSS_ENTROPY, probs, data, reduction, True, weight=None, label_smoothing=0.0)


def _scce_forward(xp: Any, probs: Any, target: Any, *, eps: float) -> Any:
    hot = one_hot(xp.as_data(target), probs.shape[-1], -1, probs.dtype)
    return _cce_forward(xp, probs, hot, eps=eps)


def _scce_vjp(xp: Any, g: Any, probs: Any, target: Any, *, eps: float) -> tuple[Any]:
    hot = one_hot(xp.as_data(target), probs.shape[-1], -1, probs.dtype)
    return _cce_vjp(xp, g, probs, hot, eps=eps)


def _check_scce(probs: Any, target: Any, *, eps: Any) -> None:
    if probs.ndim < 1 or tuple(target.shape) != tuple(probs.shape[:-1]):
        raise ValueError(
            f"target must hold one label per row of probs, shape {tuple(probs.shape[:-1])} (probs "
            f"{tuple(probs.shape)} without its last, class axis), got {tuple(target.shape)}"
        )
    classes = probs.shape[-1]
    if target.size and bool((target >= classes).any()):
        raise ValueError(f"target must be class labels in [0, {classes}), got values up to {int(target.max())}")
    _check_row_sums(probs)
    real("eps", eps, low=0.0, high=0.5, low_open=True, high_open=True)


SPARSE_CATEGORICAL_CROSS_ENTROPY = register(
    LossSpec(
        name="sparse_categorical_cross_entropy",
        fixed={"from_logits": "True hands the scores to cross_entropy, audited under its own name"},
        family="classification",
        args=(Arg("probs", "prob", ("N", "C")), Arg("target", "label", ("N",), differentiable=False)),
        forward=_scce_forward,
        vjp=_scce_vjp,
        params={"eps": 1e-7},
        check=_check_scce,
        kinks=lambda probs, target, *, eps: _cce_kinks(probs, probs, eps=eps),
        sampler=lambda rng, s: [rng.dirichlet(2.0 * np.ones(s["C"]), s["N"]), rng.integers(0, s["C"], s["N"])],
        layouts={  # Keras renormalises the rows first
            "rows summing to 1/2": lambda rng, s: [0.5 * rng.dirichlet(2.0 * np.ones(s["C"]), s["N"]), rng.integers(0, s["C"], s["N"])]
        },
        edge_cases={
            "probabilities of exactly 0 and 1": lambda rng: [_PROB_EDGES["probabilities of exactly 0 and 1"](rng)[0], np.array([1, 1, 3])],
        },
        formula=r"\ell = -\log \mathrm{clip}(p_y / \textstyle\sum_k p_k, \epsilon, 1 - \epsilon)",
        reference="Keras sparse_categorical_crossentropy(from_logits=False)",
    )
)


def sparse_categorical_cross_entropy(
    probs: Any, target: Any, eps: float = 1e-7, from_logits: bool = False, reduction: str = "mean"
) -> Any:
    r"""Categorical cross entropy of probabilities (or logits) and integer labels, as Keras
    computes it: :func:`categorical_cross_entropy` with the one-hot target of the labels.

    .. math::  \ell_i = -\log \mathrm{clip}\Big(\frac{p_{i y_i}}{\sum_k p_{ik}}, \epsilon, 1 - \epsilon\Big)
               \qquad \text{or, with from_logits,} \qquad \ell_i = -\log \mathrm{softmax}(z_i)_{y_i}

    Parameters
    ----------
    probs : array or Tensor, shape (..., C)
        Probabilities in [0, 1], classes on the last axis; rows are renormalised to sum 1. Real
        logits with ``from_logits=True``.
    target : array of integers, shape (...)
        Labels in [0, C) (a constant).
    eps : float in (0, 0.5)
        Unused with ``from_logits=True``.
    from_logits : bool
    reduction : {'mean', 'sum', 'none'}

    Follows Keras 3's ``sparse_categorical_crossentropy`` on its NumPy and JAX backends
    (renormalise, clip, log); the TensorFlow backend clips *before* it renormalises (through
    ``sparse_softmax_cross_entropy_with_logits`` of the clipped log-probabilities), which
    differs only where a probability is clipped. The gradient is that of
    :func:`categorical_cross_entropy`. With ``from_logits=True`` it is :func:`cross_entropy`
    (PyTorch's, classes moved to axis 1), exact for any finite logits.

    Raises
    ------
    ValueError
        If ``target`` does not have the shape of ``probs`` without its last axis, a label is out
        of range, a probability lies outside [0, 1] or a row sums to 0.
    TypeError
        If a label is not an integer or ``from_logits`` is not a bool.

    Examples
    --------
    >>> import numpy as np
    >>> from nploss.losses import cross_entropy
    >>> p = np.array([[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]])
    >>> [round(float(v), 6) for v in sparse_categorical_cross_entropy(p, np.array([1, 2]), reduction="none")]
    [0.051293, 2.302585]
    >>> z = np.array([[2.0, 0.0, -1.0]])
    >>> bool(sparse_categorical_cross_entropy(z, np.array([0]), from_logits=True) == cross_entropy(z, np.array([0])))
    True
    """
    if not flag("from_logits", from_logits):
        return apply_loss(SPARSE_CATEGORICAL_CROSS_ENTROPY, probs, target, reduction=reduction, eps=eps)
    probs, logits, data = _logits_and_target(probs, target)
    if logits.ndim < 1 or tuple(data.shape) != tuple(logits.shape[:-1]):
        raise ValueError(
            f"target must hold one label per row of probs, shape {tuple(logits.shape[:-1])} (probs "
            f"{tuple(logits.shape)} without its last, class axis), got {tuple(data.shape)}"
        )
    finite("probs", logits)
    _check_labels("target", data, logits.shape[-1])
    real("eps", eps, low=0.0, high=0.5, low_open=True, high_open=True)
    return _keras_from_logits(
        CROSS_ENTROPY, probs, data, reduction, False, weight=None, ignore_index=-100, label_smoothing=0.0
    )


# ------------------------------------------------------------------------------------ label smoothing


def smooth_labels(target: Any, epsilon: float) -> Any:
    r"""Label smoothing: mix a one-hot (or probability) target with the uniform distribution.

    .. math::  y' = (1 - \varepsilon)\, y + \varepsilon / K

    over the K classes of the **last** axis, as optax's ``smooth_labels`` and Keras'
    categorical ``label_smoothing``; :math:`\varepsilon / K` also goes to the true class. This
    is what ``torch.nn.functional.cross_entropy(label_smoothing=epsilon)`` uses:
    ``cross_entropy(z, y, label_smoothing=e)`` equals
    ``cross_entropy(z, smooth_labels(onehot(y), e))`` (without class weights; with them PyTorch
    normalises the two forms differently, see :func:`cross_entropy`). Not a loss: a helper
    with no registry entry. Rows keep summing to 1; a Tensor gives a Tensor (differentiable).

    Parameters
    ----------
    target : array or Tensor, shape (..., K)
        One-hot rows or class probabilities (rows summing to 1).
    epsilon : float in [0, 1]

    Raises
    ------
    ValueError
        If ``epsilon`` is outside [0, 1] or a row of ``target`` is not a distribution.

    Examples
    --------
    >>> import numpy as np
    >>> smooth_labels(np.array([0.0, 1.0, 0.0, 0.0]), 0.2)
    array([0.05, 0.85, 0.05, 0.05])
    """
    real("epsilon", epsilon, low=0.0, high=1.0)
    data = as_data(target)
    if not hasattr(data, "dtype"):
        target = data = np.asarray(data, dtype=np.float64)
    if data.ndim < 1:
        raise ValueError("target must have a class axis (the last), got a scalar")
    domain("target", data, "simplex")
    return (1.0 - epsilon) * target + epsilon / data.shape[-1]
