r"""Classification losses: probabilistic losses of scores (logits) or probabilities and labels.

Each loss is one block: the formula and its derivative in the docstring, ``_x_forward`` and
``_x_vjp`` right below, the registry entry, then the public function. Argument order is
``(prediction, target)`` as in PyTorch, where the prediction is named by what it holds:
``logits`` (real scores, before a sigmoid or softmax), ``prediction``/``probs`` (probabilities)
or ``log_probs``.

Conventions shared by the block:

- **Class axis.** Losses that mirror PyTorch take logits of shape ``(N, C)`` or
  ``(N, C, d1, ...)`` with the classes on axis 1 and integer labels of shape ``(N,)`` or
  ``(N, d1, ...)``; the Keras losses (:func:`categorical_cross_entropy`,
  :func:`sparse_categorical_cross_entropy`) and :func:`smooth_labels` keep the classes on the
  last axis, as Keras and optax do.
- **Constants.** Labels, class weights, ``pos_weight``, the focal targets and the teacher's
  logits are constants: they receive no gradient, in the fused and in the composite graph alike.
  Probability targets (binary cross entropy, soft-target cross entropy, KL) are differentiated,
  as PyTorch does.
- **The analytic gradients** are written as one would derive them: :math:`\sigma(z) - y` for
  the logistic loss, :math:`\mathrm{softmax}(z) - y` for cross entropy, with the weights and
  smoothing folded into a target distribution ``a`` (then :math:`(\sum_c a_c)\,\mathrm{softmax}(z) - a`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import autograd as ag
from ..autograd import Tensor, as_data
from ..backend import get_array_module
from ._apply import apply_loss, collapse
from ._spec import Arg, LossSpec, register
from ._validate import domain, finite, in_range, same_shape
from ._validate import labels as _check_labels

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "soft_target_cross_entropy",
    "nll",
    "categorical_cross_entropy",
    "sparse_categorical_cross_entropy",
    "smooth_labels",
    "sigmoid_focal",
    "softmax_focal",
    "kl_div",
    "distillation",
]

# PyTorch clamps the logarithms of binary_cross_entropy at -100: e^-100 is where that bites.
_LOG_FLOOR = -100.0
_TINY = math.exp(_LOG_FLOOR)
# PyTorch's floor under p(1 - p) in the gradient of binary_cross_entropy.
_BCE_GRAD_EPS = 1e-12


# ------------------------------------------------------------------------------------ helpers


def _constant(x: Any, like: Any) -> Any:
    """A parameter array (class weights, pos_weight, alpha) as a plain array of the inputs'
    array module. It is a constant: a Tensor given here is not differentiated."""
    if x is None:
        return None
    return get_array_module(as_data(like)).asarray(as_data(x))


def _along_classes(v: Any, ndim: int) -> Any:
    """A per-class vector (C,) shaped to broadcast along axis 1 of an (N, C, d1, ...) array."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def _one_hot(labels: Any, classes: int, axis: int, dtype: Any, ignore_index: int | None = None) -> Any:
    """``labels == c`` along a new class axis (1 as in PyTorch, -1 as in Keras), as ``dtype``;
    the rows of ignored labels are all zero."""
    arange = get_array_module(labels).arange(classes)
    if axis == 1:
        hot = labels[:, None] == arange.reshape((1, classes) + (1,) * (labels.ndim - 1))
        if ignore_index is not None:
            hot = hot & (labels != ignore_index)[:, None]
    else:
        hot = labels[..., None] == arange
    return hot.astype(dtype)


def _check_class_weight(name: str, w: Any, classes: int) -> None:
    if w is None:
        return
    if w.shape != (classes,):
        raise ValueError(f"{name} must have one entry per class, shape ({classes},), got {tuple(w.shape)}")
    finite(name, w)
    in_range(name, w, 0.0, None, "non-negative")


def _check_broadcast_weight(name: str, w: Any, shape: tuple[int, ...]) -> None:
    """An elementwise weight must broadcast to the input's shape without enlarging it."""
    if w is None:
        return
    try:
        ok = np.broadcast_shapes(tuple(w.shape), tuple(shape)) == tuple(shape)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{name} must broadcast to the input's shape {tuple(shape)}, got {tuple(w.shape)}")
    finite(name, w)
    in_range(name, w, 0.0, None, "non-negative")


def _check_class_axis(name: str, scores: Any, target_name: str, target: Any) -> None:
    """Scores (N, C, d1, ...) against labels (N, d1, ...)."""
    if scores.ndim < 2:
        raise ValueError(f"{name} must have shape (N, C) or (N, C, d1, ...), got {tuple(scores.shape)}")
    expected = tuple(scores.shape[:1] + scores.shape[2:])
    if tuple(target.shape) != expected:
        raise ValueError(
            f"{target_name} must hold one class label per sample, shape {expected} ({name} "
            f"{tuple(scores.shape)} without its class axis 1), got {tuple(target.shape)}"
        )


def _check_fraction(name: str, value: Any, lo: float = 0.0, hi: float = 1.0) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise TypeError(f"{name} must be a number in [{lo}, {hi}], got {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {value}")


def _check_finite_number(name: str, value: Any, what: str, ok: Any) -> None:
    """A finite real parameter satisfying ``ok`` (gamma >= 0, temperature > 0): an infinite one
    would make 0 * inf appear in the loss or its gradient."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise TypeError(f"{name} must be a {what} number, got {value!r}")
    if not (math.isfinite(value) and ok(value)):
        raise ValueError(f"{name} must be a {what} finite number, got {value}")


def _check_ignore_index(ignore_index: Any) -> None:
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, int | np.integer):
        raise TypeError(f"ignore_index must be an integer, got {ignore_index!r}")


def _soft_binary_sample(prediction: Any) -> Any:
    """Sampler of (prediction, soft target) pairs: targets strictly inside (0, 1), so that the
    finite differences of the target's gradient stay in the domain."""

    def sample(rng: np.random.Generator, sizes: dict[str, int]) -> list[np.ndarray]:
        shape = (sizes["N"], sizes["C"])
        return [prediction(rng, shape), rng.uniform(0.1, 0.9, shape)]

    return sample


# ------------------------------------------------------------------------------------ BCE


def _clamped_log(xp: Any, p: Any) -> Any:
    r""":math:`\max(\log p, -100)`, PyTorch's clamp, without evaluating :math:`\log 0`."""
    inside = p > _TINY
    return xp.where(inside, xp.log(xp.where(inside, p, 1.0)), _LOG_FLOOR)


def _clamped_log1m(xp: Any, p: Any) -> Any:
    r""":math:`\max(\log(1 - p), -100)`; ``log1p(-p)`` keeps the precision of small p (where
    ``1 - p`` would round), and p = 1 is the only point below the floor."""
    below_one = p < 1.0
    return xp.where(below_one, xp.log1p(-xp.where(below_one, p, 0.0)), _LOG_FLOOR)


def _bce_forward(xp: Any, prediction: Any, target: Any, *, weight: Any) -> Any:
    loss = -(target * _clamped_log(xp, prediction) + (1.0 - target) * _clamped_log1m(xp, prediction))
    return loss if weight is None else loss * weight.astype(prediction.dtype)


def _bce_vjp(xp: Any, g: Any, prediction: Any, target: Any, *, weight: Any) -> tuple[Any, Any]:
    if weight is not None:
        g = g * weight.astype(prediction.dtype)
    # -y/p + (1-y)/(1-p) = (p - y) / (p (1 - p)); PyTorch floors the denominator at 1e-12, so
    # p = 0 with y = 1 gives -1e12 rather than -inf.
    grad_p = g * (prediction - target) / xp.maximum(prediction * (1.0 - prediction), _BCE_GRAD_EPS)
    # the derivative of the clamped forward in y: log(1 - p) - log p
    grad_y = g * (_clamped_log1m(xp, prediction) - _clamped_log(xp, prediction))
    return grad_p, grad_y


def _check_bce(prediction: Any, target: Any, *, weight: Any, **_: Any) -> None:
    same_shape("prediction", prediction, "target", target)
    _check_broadcast_weight("weight", weight, prediction.shape)


BINARY_CROSS_ENTROPY = register(
    LossSpec(
        name="binary_cross_entropy",
        rowwise=True,
        family="classification",
        args=(Arg("prediction", "prob", ("N", "C")), Arg("target", "binary", ("N", "C"))),
        forward=_bce_forward,
        vjp=_bce_vjp,
        params={"weight": None},
        check=_check_bce,
        sampler=_soft_binary_sample(lambda rng, s: rng.uniform(0.05, 0.95, s)),
        edge_cases={
            "probabilities of exactly 0 and 1": lambda rng: [
                np.array([0.0, 1.0, 0.0, 1.0, 0.5, 1e-300]),
                np.array([1.0, 0.0, 0.0, 1.0, 1.0, 1.0]),
            ],
        },
        formula=r"\ell = -w\,[\,y \max(\log p, -100) + (1 - y) \max(\log(1 - p), -100)\,], \quad "
        r"\partial \ell / \partial p = w\,(p - y) / \max(p(1 - p), 10^{-12})",
        reference="torch.nn.functional.binary_cross_entropy",
        torch="binary_cross_entropy",
    )
)


def binary_cross_entropy(prediction: Any, target: Any, weight: Any = None, reduction: str = "mean") -> Any:
    r"""Binary cross entropy of probabilities.

    .. math::  \ell_i = -w_i \left[ y_i \log p_i + (1 - y_i) \log(1 - p_i) \right], \qquad
               \frac{\partial \ell_i}{\partial p_i} = w_i \frac{p_i - y_i}{p_i (1 - p_i)}, \qquad
               \frac{\partial \ell_i}{\partial y_i} = w_i \left[ \log(1 - p_i) - \log p_i \right]

    As in PyTorch, each logarithm is clamped at :math:`-100` (so :math:`p = 0, y = 1` gives 100,
    not infinity), and the denominator of the prediction's gradient is floored,
    :math:`\max(p(1-p), 10^{-12})` (so that gradient is :math:`-10^{12}` there).

    Parameters
    ----------
    prediction : array or Tensor, any shape
        Probabilities :math:`p \in [0, 1]` (after a sigmoid). For logits use
        :func:`binary_cross_entropy_with_logits`, which is stable where this one saturates.
    target : array or Tensor, the shape of ``prediction``
        Targets :math:`y \in [0, 1]` (hard labels or soft targets); differentiated too.
    weight : array, optional
        A non-negative rescaling weight that broadcasts to ``prediction``'s shape (a constant).
    reduction : {'mean', 'sum', 'none'}
        ``'mean'`` is the plain mean of :math:`w_i \ell_i` over all elements (not divided by
        :math:`\sum w`), as in PyTorch.

    Matches ``torch.nn.functional.binary_cross_entropy``, values and gradients, including the
    clamp and the floored gradient at :math:`p \in \{0, 1\}`. One difference: PyTorch's gradient
    with respect to the *target* uses the unclamped logarithms and is infinite at
    :math:`p \in \{0, 1\}`; nploss returns the derivative of the clamped forward (finite).

    Raises
    ------
    ValueError
        If the shapes differ, a probability or target lies outside [0, 1], ``weight`` does not
        broadcast to the input or is negative, or an input holds NaN.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(binary_cross_entropy(np.array([0.8, 0.4]), np.array([1.0, 0.0]))), 6)
    0.366985
    >>> float(binary_cross_entropy(np.array([0.0]), np.array([1.0])))  # clamped
    100.0
    """
    weight = _constant(weight, prediction)
    return apply_loss(BINARY_CROSS_ENTROPY, prediction, target, reduction=reduction, weight=weight)


# ------------------------------------------------------------------------------------ BCE with logits


def _softplus_pair(xp: Any, z: Any) -> tuple[Any, Any]:
    r"""``softplus(-z)`` and ``softplus(z)``, that is :math:`-\log \sigma(z)` and
    :math:`-\log(1 - \sigma(z))`, computed together: each is :math:`\max(\pm z, 0) + \log(1 + e^{-|z|})`,
    so the ``exp`` and the ``log1p`` are shared, and :math:`\max(-z, 0) = \max(z, 0) - z` exactly.
    The same values as two calls of ``xp.softplus``, for half the transcendentals."""
    shared = xp.log1p(xp.exp(-xp.abs(z)))
    relu = xp.relu(z)
    return (relu - z) + shared, relu + shared


def _bce_logits_forward(xp: Any, logits: Any, target: Any, *, weight: Any, pos_weight: Any) -> Any:
    # -log sigma(z) = softplus(-z) and -log(1 - sigma(z)) = softplus(z), each stable for any z;
    # with pos_weight = 1 this is max(z, 0) - z y + log1p(exp(-|z|)).
    positive, negative = _softplus_pair(xp, logits)
    if pos_weight is not None:
        positive = pos_weight.astype(logits.dtype) * positive
    loss = target * positive + (1.0 - target) * negative
    return loss if weight is None else loss * weight.astype(logits.dtype)


def _bce_logits_composite(xp: Any, logits: Any, target: Any, *, weight: Any, pos_weight: Any) -> Any:
    # The same formula with the engine's softplus, whose derivative sigma(z) holds at z = 0 too
    # (the shared form's max(z, 0) and |z| have kinks there).
    positive = xp.softplus(-logits)
    if pos_weight is not None:
        positive = pos_weight.astype(logits.dtype) * positive
    loss = target * positive + (1.0 - target) * xp.softplus(logits)
    return loss if weight is None else loss * weight.astype(logits.dtype)


def _bce_logits_vjp(xp: Any, g: Any, logits: Any, target: Any, *, weight: Any, pos_weight: Any) -> tuple[Any, Any]:
    g = collapse(g) if weight is None else g * weight.astype(logits.dtype)
    if pos_weight is None:
        # sigma(z) - y, and d/dy = softplus(-z) - softplus(z) = -z
        return (xp.sigmoid(logits) - target) * g, logits * -g
    pw = pos_weight.astype(logits.dtype)
    # d/dz [pw y softplus(-z) + (1 - y) softplus(z)] = (1 + (pw - 1) y) sigma(z) - pw y, which is
    # sigma(z) - y without pos_weight
    grad_z = g * ((1.0 + (pw - 1.0) * target) * xp.sigmoid(logits) - pw * target)
    # d/dy = pw softplus(-z) - softplus(z), which is -z without pos_weight
    positive, negative = _softplus_pair(xp, logits)
    grad_y = g * (pw * positive - negative)
    return grad_z, grad_y


def _check_bce_logits(logits: Any, target: Any, *, weight: Any, pos_weight: Any) -> None:
    same_shape("logits", logits, "target", target)
    _check_broadcast_weight("weight", weight, logits.shape)
    _check_broadcast_weight("pos_weight", pos_weight, logits.shape)


BINARY_CROSS_ENTROPY_WITH_LOGITS = register(
    LossSpec(
        name="binary_cross_entropy_with_logits",
        rowwise=True,
        family="classification",
        args=(Arg("logits", "logits", ("N", "C")), Arg("target", "binary", ("N", "C"))),
        forward=_bce_logits_forward,
        vjp=_bce_logits_vjp,
        composite=_bce_logits_composite,
        params={"weight": None, "pos_weight": None},
        check=_check_bce_logits,
        sampler=_soft_binary_sample(lambda rng, s: 2.0 * rng.standard_normal(s)),
        edge_cases={
            "logits of +-1e4": lambda rng: [
                np.array([1e4, -1e4, 1e4, -1e4, 0.0, 40.0]),
                np.array([1.0, 0.0, 0.0, 1.0, 0.5, 1.0]),
            ],
        },
        formula=r"\ell = w\,[\,p_w\, y\, \mathrm{softplus}(-z) + (1 - y)\, \mathrm{softplus}(z)\,], \quad "
        r"\partial \ell / \partial z = w\,[(1 + (p_w - 1) y)\, \sigma(z) - p_w y]",
        reference="torch.nn.functional.binary_cross_entropy_with_logits",
        torch="binary_cross_entropy_with_logits",
    )
)


def binary_cross_entropy_with_logits(
    logits: Any, target: Any, weight: Any = None, pos_weight: Any = None, reduction: str = "mean"
) -> Any:
    r"""Binary cross entropy of logits (sigmoid and cross entropy fused, stable).

    .. math::  \ell_i = w_i \left[ p_w\, y_i\, \mathrm{softplus}(-z_i)
               + (1 - y_i)\, \mathrm{softplus}(z_i) \right]
               \;\overset{p_w = 1}{=}\; \max(z_i, 0) - z_i y_i + \log(1 + e^{-|z_i|})

    .. math::  \frac{\partial \ell_i}{\partial z_i} = w_i \left[ (1 + (p_w - 1) y_i)\,\sigma(z_i) - p_w y_i \right]
               \;\overset{p_w = 1}{=}\; w_i (\sigma(z_i) - y_i), \qquad
               \frac{\partial \ell_i}{\partial y_i} = w_i \left[ p_w\, \mathrm{softplus}(-z_i) - \mathrm{softplus}(z_i) \right]

    using :math:`-\log \sigma(z) = \mathrm{softplus}(-z)` and
    :math:`-\log(1 - \sigma(z)) = \mathrm{softplus}(z)`, both computed as
    :math:`\max(x, 0) + \log(1 + e^{-|x|})`: finite for logits of :math:`\pm 10^4` and accurate
    where :math:`\sigma(z)` rounds to 0 or 1.

    Parameters
    ----------
    logits : array or Tensor, any shape
        Real scores :math:`z` (before the sigmoid).
    target : array or Tensor, the shape of ``logits``
        Targets :math:`y \in [0, 1]`; differentiated too.
    weight : array, optional
        Non-negative rescaling weight broadcast to ``logits``' shape (a constant).
    pos_weight : array, optional
        Non-negative weight :math:`p_w` of the positive term only, broadcast to ``logits``' shape:
        a vector of length C weighs each class of an (N, C) multi-label problem (a constant).
    reduction : {'mean', 'sum', 'none'}
        ``'mean'`` is the plain mean of the weighted losses, as in PyTorch.

    Matches ``torch.nn.functional.binary_cross_entropy_with_logits``, values and gradients.

    Raises
    ------
    ValueError
        If the shapes differ, a target lies outside [0, 1], ``weight`` or ``pos_weight`` does
        not broadcast to the input or is negative, or an input holds NaN.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(binary_cross_entropy_with_logits(np.array([2.0, -1.0]), np.array([1.0, 0.0]))), 6)
    0.220095
    >>> float(binary_cross_entropy_with_logits(np.array([-1e4]), np.array([1.0])))
    10000.0
    """
    weight, pos_weight = _constant(weight, logits), _constant(pos_weight, logits)
    return apply_loss(
        BINARY_CROSS_ENTROPY_WITH_LOGITS, logits, target, reduction=reduction, weight=weight, pos_weight=pos_weight
    )


# ------------------------------------------------------------------------------------ cross entropy


def _ce_target(logits: Any, labels: Any, weight: Any, ignore_index: int, label_smoothing: float) -> Any:
    r"""The weighted, smoothed target distribution ``a`` (N, C, ...) with
    :math:`\ell = -\sum_c a_c \log \mathrm{softmax}(z)_c`:
    :math:`a_c = (1 - \varepsilon)\, w_y [c = y] + \tfrac{\varepsilon}{K} w_c`, zero for ignored
    samples. A constant."""
    dtype, classes = logits.dtype, logits.shape[1]
    a = _one_hot(labels, classes, 1, dtype, ignore_index)
    w = 1.0 if weight is None else _along_classes(weight.astype(dtype), logits.ndim)
    a = a * w
    if label_smoothing:
        valid = (labels != ignore_index)[:, None].astype(dtype)
        # PyTorch puts eps/K on every class, the true one included, each weighted by w_c
        a = (1.0 - label_smoothing) * a + (label_smoothing / classes) * (valid * w)
    return a


def _ce_labels(logits: Any, labels: Any, weight: Any, ignore_index: int) -> tuple[Any, Any]:
    r"""Without smoothing ``a`` is :math:`w_y` at the label and 0 elsewhere, so the loss needs only
    :math:`w_{y_i}` and the label of each sample: returns the labels with the ignored ones set to
    0 (safe to gather with) and :math:`w_{y_i}` (0 for the ignored), in the logits' dtype."""
    xp = get_array_module(labels)
    dtype = as_data(logits).dtype
    valid = labels != ignore_index
    safe = xp.where(valid, labels, 0)
    w = valid.astype(dtype) if weight is None else xp.where(valid, weight.astype(dtype)[safe], 0.0).astype(dtype)
    return safe, w


def _ce_reduction_weights(xp: Any, reduction: str, scores: Any, target: Any, *, weight: Any, ignore_index: int, **_: Any) -> float:
    r"""PyTorch's weighted mean: divide by :math:`\sum_i w_{y_i}` over the samples not ignored
    (the smoothing term too). With nothing left to average (every label ignored, or all their
    weights 0) the mean is 0, where PyTorch returns NaN."""
    total = float(_ce_labels(scores, target, weight, ignore_index)[1].sum())
    return 1.0 / total if total > 0 else 0.0


def _ce_from_logsumexp(xp: Any, logits: Any, lse: Any, target: Any, weight: Any, ignore_index: int, label_smoothing: float) -> Any:
    """The loss of every sample, given the log-sum-exp of its logits (kept dims)."""
    if label_smoothing:
        a = _ce_target(logits, xp.as_data(target), weight, ignore_index, label_smoothing)
        # log_softmax by log-sum-exp: finite for any finite logits, so 0 * log p is 0, never NaN
        return -xp.sum(a * (logits - lse), axis=1)
    # a one-hot a picks one log-probability per sample: -w_y (z_y - logsumexp z), the same
    # value as the sum over the classes, without the dense (N, C) target and product
    safe, w = _ce_labels(logits, xp.as_data(target), weight, ignore_index)
    picked = xp.take_along_axis(logits, xp.expand_dims(safe, 1), axis=1)
    return w * xp.squeeze(lse - picked, 1)


def _ce_forward(xp: Any, logits: Any, target: Any, *, weight: Any, ignore_index: int, label_smoothing: float) -> Any:
    lse = xp.logsumexp(logits, axis=1, keepdims=True)
    return _ce_from_logsumexp(xp, logits, lse, target, weight, ignore_index, label_smoothing)


def _ce_forward_saving(xp: Any, logits: Any, target: Any, *, weight: Any, ignore_index: int, label_smoothing: float) -> tuple[Any, Any]:
    """The loss, and the softmax of every sample's logits: the backward pass's softmax, kept as
    PyTorch's ``log_softmax`` keeps its output (as large as the logits), so that the backward
    pass takes no exponential (in float32, NumPy's ``exp`` is most of the loss's time)."""
    softmax, lse = xp.softmax_and_logsumexp(logits, axis=1)
    return _ce_from_logsumexp(xp, logits, lse, target, weight, ignore_index, label_smoothing), softmax


def _ce_vjp(xp: Any, g: Any, logits: Any, target: Any, *, weight: Any, ignore_index: int, label_smoothing: float, saved: Any = None) -> tuple[Any]:
    softmax = xp.softmax(logits, axis=1) if saved is None else saved  # the forward's, when it kept it
    if label_smoothing:
        a = _ce_target(logits, xp.as_data(target), weight, ignore_index, label_smoothing)
        # d/dz [-sum_c a_c (z_c - logsumexp z)] = (sum_c a_c) softmax(z) - a: softmax(z) - y for a one-hot y
        g = xp.expand_dims(g, 1)
        return (softmax * (g * a.sum(axis=1, keepdims=True)) - g * a,)
    # the same gradient for a = w_y e_y: g w_y (softmax(z) - e_y), the e_y subtracted in place
    # (the product is a fresh array: the saved softmax stays as it was, for a second backward pass)
    safe, w = _ce_labels(logits, xp.as_data(target), weight, ignore_index)
    c = xp.expand_dims(g * w, 1)
    return (_subtract_at_labels(softmax * c, safe, c),)


def _subtract_at_labels(grad: Any, labels: Any, values: Any) -> Any:
    """``grad - values * one_hot(labels)`` along axis 1: one element per sample, subtracted in
    place on an array (a fresh one, owned here); on Tensors (a recorded backward pass) the
    dense one-hot product, which the engine can differentiate."""
    if isinstance(grad, Tensor):
        return grad - values * _one_hot(labels, grad.shape[1], 1, grad.dtype)
    # the index (n, labels[n, ...], ...) of every sample: an open mesh, one element per sample
    xp = get_array_module(labels)
    index = [xp.expand_dims(labels, 1)]
    for d in (0, *range(2, grad.ndim)):
        shape = [1] * grad.ndim
        shape[d] = grad.shape[d]
        index.insert(d, xp.arange(grad.shape[d]).reshape(shape))
    grad[tuple(index)] -= values
    return grad


def _check_ce(logits: Any, target: Any, *, weight: Any, ignore_index: Any, label_smoothing: Any) -> None:
    _check_class_axis("logits", logits, "target", target)
    _check_class_weight("weight", weight, logits.shape[1])
    _check_ignore_index(ignore_index)
    _check_fraction("label_smoothing", label_smoothing)


def _logit_edges() -> dict[str, Any]:
    return {
        "logits of +-1e4": lambda rng: [
            np.array([[1e4, -1e4, 0.0, 0.0], [-1e4, 1e4, 0.0, 0.0], [0.0, 0.0, 1e4, -1e4], [5.0, 5.0, 5.0, 5.0]]),
            np.array([1, 0, 3, 2]),
        ],
    }


CROSS_ENTROPY = register(
    LossSpec(
        name="cross_entropy",
        rowwise=True,
        family="classification",
        args=(Arg("logits", "logits", ("N", "C")), Arg("target", "label", ("N",), differentiable=False)),
        forward=_ce_forward,
        forward_saving=_ce_forward_saving,
        vjp=_ce_vjp,
        params={"weight": None, "ignore_index": -100, "label_smoothing": 0.0},
        reduction_weights=_ce_reduction_weights,
        check=_check_ce,
        classes_from="logits",
        edge_cases=_logit_edges(),
        formula=r"\ell = -\sum_c a_c \log \mathrm{softmax}(z)_c,\ a_c = (1-\varepsilon) w_y [c = y] + \tfrac{\varepsilon}{K} w_c, \quad "
        r"\partial \ell / \partial z = (\textstyle\sum_c a_c)\, \mathrm{softmax}(z) - a",
        reference="torch.nn.functional.cross_entropy (class-index targets)",
        torch="cross_entropy",
    )
)


def _soft_ce_target(logits: Any, target: Any, weight: Any, label_smoothing: float) -> Any:
    """The smoothed, weighted probability target (a Tensor when ``target`` is one)."""
    classes = logits.shape[1]
    if label_smoothing:
        target = (1.0 - label_smoothing) * target + label_smoothing / classes
    return target if weight is None else target * _along_classes(weight.astype(logits.dtype), logits.ndim)


def _soft_ce_forward(xp: Any, logits: Any, target: Any, *, weight: Any, label_smoothing: float) -> Any:
    a = _soft_ce_target(logits, target, weight, label_smoothing)
    return -xp.sum(a * xp.log_softmax(logits, axis=1), axis=1)


def _soft_ce_vjp(xp: Any, g: Any, logits: Any, target: Any, *, weight: Any, label_smoothing: float) -> tuple[Any, Any]:
    a = _soft_ce_target(logits, target, weight, label_smoothing)
    g = xp.expand_dims(g, 1)
    grad_z = g * (xp.sum(a, axis=1, keepdims=True) * xp.softmax(logits, axis=1) - a)
    # d/dy_c = -(1 - eps) w_c log softmax(z)_c
    w = 1.0 if weight is None else _along_classes(weight.astype(logits.dtype), logits.ndim)
    grad_y = g * (-(1.0 - label_smoothing) * w) * xp.log_softmax(logits, axis=1)
    return grad_z, grad_y


def _check_soft_ce_shapes(logits: Any, target: Any) -> None:
    if logits.ndim < 2:
        raise ValueError(f"logits must have shape (N, C) or (N, C, d1, ...), got {tuple(logits.shape)}")
    if target.shape != logits.shape:
        raise ValueError(
            f"target with a floating dtype holds class probabilities and must have the shape of logits "
            f"{tuple(logits.shape)}, got {tuple(target.shape)} (pass integer labels for class indices)"
        )


def _check_soft_ce(logits: Any, target: Any, *, weight: Any, label_smoothing: Any) -> None:
    _check_soft_ce_shapes(logits, target)
    rows = target.sum(axis=1)
    if bool((abs(rows - 1.0) > 1e-6 * logits.shape[1]).any()):
        raise ValueError(
            f"target rows (over the class axis 1) must sum to 1, got sums from {float(rows.min()):.6g} to {float(rows.max()):.6g}"
        )
    _check_class_weight("weight", weight, logits.shape[1])
    _check_fraction("label_smoothing", label_smoothing)


SOFT_TARGET_CROSS_ENTROPY = register(
    LossSpec(
        name="soft_target_cross_entropy",
        family="classification",
        # "prob" rather than "simplex": the class axis is 1, and the check sums over it
        args=(Arg("logits", "logits", ("N", "C")), Arg("target", "prob", ("N", "C"))),
        forward=_soft_ce_forward,
        vjp=_soft_ce_vjp,
        params={"weight": None, "label_smoothing": 0.0},
        check=_check_soft_ce,
        sampler=lambda rng, s: [2.0 * rng.standard_normal((s["N"], s["C"])), rng.dirichlet(2.0 * np.ones(s["C"]), s["N"])],
        edge_cases={
            "logits of +-1e4": lambda rng: [
                np.array([[1e4, -1e4, 0.0, 0.0], [-1e4, 1e4, 0.0, 0.0]]),
                np.array([[0.0, 1.0, 0.0, 0.0], [0.25, 0.25, 0.5, 0.0]]),
            ],
        },
        formula=r"\ell = -\sum_c w_c\, y'_c \log \mathrm{softmax}(z)_c,\ y' = (1-\varepsilon) y + \varepsilon/K, \quad "
        r"\partial \ell / \partial z = (\textstyle\sum_c w_c y'_c)\, \mathrm{softmax}(z) - w \odot y'",
        reference="torch.nn.functional.cross_entropy (class-probability targets)",
        torch="cross_entropy",
    )
)


def cross_entropy(
    logits: Any,
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
) -> Any:
    r"""Cross entropy of logits and class labels (or class probabilities): softmax and negative
    log-likelihood fused, through log-sum-exp.

    With the target written as a distribution :math:`a` over the classes (one-hot for a label
    :math:`y`, then weighted and smoothed),

    .. math::  \ell_i = -\sum_c a_{ic} \log \mathrm{softmax}(z_i)_c, \qquad
               \log \mathrm{softmax}(z)_c = z_c - \log \textstyle\sum_k e^{z_k}, \qquad
               \frac{\partial \ell_i}{\partial z_i} = \Big(\sum_c a_{ic}\Big) \mathrm{softmax}(z_i) - a_i

    which is :math:`\mathrm{softmax}(z_i) - \mathrm{onehot}(y_i)` without weights or smoothing.
    For labels, :math:`a_{ic} = (1 - \varepsilon)\, w_{y_i} [c = y_i] + \tfrac{\varepsilon}{K} w_c`
    (:math:`\varepsilon` = ``label_smoothing``, K classes, :math:`w` = ``weight`` or 1), and 0
    for an ignored sample.

    Parameters
    ----------
    logits : array or Tensor, shape (N, C) or (N, C, d1, ...)
        Real scores, classes on axis 1 (as PyTorch).
    target : array or Tensor
        Either integer labels of shape (N,) or (N, d1, ...), in [0, C) or equal to
        ``ignore_index`` (a constant); or, with a floating dtype, class probabilities of the
        shape of ``logits`` whose rows sum to 1, which are differentiated. The dtype chooses:
        floating targets are handled by :func:`soft_target_cross_entropy`.
    weight : array, optional
        Non-negative class weights, shape (C,) (a constant).
    ignore_index : int
        Label value whose samples contribute nothing (labels only).
    label_smoothing : float in [0, 1]
        Mixes the target with the uniform distribution, as in PyTorch: :math:`\varepsilon/K`
        goes to every class, the true one included (see :func:`smooth_labels`).
    reduction : {'mean', 'sum', 'none'}
        For labels, ``'mean'`` is PyTorch's *weighted* mean
        :math:`\sum_i \ell_i / \sum_{i\ \mathrm{not\ ignored}} w_{y_i}`; both the likelihood and
        the smoothing term are divided by it. For probability targets it is the plain mean over
        the N (and d1, ...) positions. ``'none'`` gives 0 at ignored positions.

    Matches ``torch.nn.functional.cross_entropy``, values and gradients, for every combination of
    ``weight``, ``ignore_index`` and ``label_smoothing``. One deliberate difference: when no
    sample is left to average (every label ignored, or their weights all 0), ``'mean'`` returns
    0 with a zero gradient, where PyTorch returns NaN (0/0).

    Raises
    ------
    ValueError
        If the shapes do not fit, a label is out of range, a probability row does not sum to 1,
        ``weight`` is not a non-negative vector of length C, or ``label_smoothing`` is not in
        [0, 1].
    TypeError
        If ``ignore_index`` is not an integer.

    Examples
    --------
    >>> import numpy as np
    >>> z = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 0.5]])
    >>> round(float(cross_entropy(z, np.array([0, 2]))), 6)
    0.634229
    >>> round(float(cross_entropy(z, np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]))), 6)  # one-hot
    0.634229
    """
    weight = _constant(weight, logits)
    data = as_data(target)
    if getattr(data, "dtype", None) is None:
        target = data = np.asarray(data)
    if data.dtype.kind == "f":  # class probabilities
        if ignore_index != -100:
            raise ValueError(f"ignore_index applies to class-index targets only, got ignore_index={ignore_index} with probability targets")
        # before the domain checks, so that float labels of shape (N,) are told what went wrong
        _check_soft_ce_shapes(as_data(_as_array(logits)), data)
        return apply_loss(SOFT_TARGET_CROSS_ENTROPY, logits, target, reduction=reduction, weight=weight, label_smoothing=label_smoothing)
    return apply_loss(
        CROSS_ENTROPY, logits, target, reduction=reduction, weight=weight, ignore_index=ignore_index, label_smoothing=label_smoothing
    )


def soft_target_cross_entropy(logits: Any, target: Any, weight: Any = None, label_smoothing: float = 0.0, reduction: str = "mean") -> Any:
    r"""Cross entropy of logits and class *probabilities*: :func:`cross_entropy` with a floating
    target, under its own name in the registry.

    .. math::  \ell_i = -\sum_c w_c\, y'_{ic} \log \mathrm{softmax}(z_i)_c, \quad
               y' = (1 - \varepsilon) y + \varepsilon / K, \qquad
               \frac{\partial \ell_i}{\partial z_i} = \Big(\sum_c w_c y'_{ic}\Big) \mathrm{softmax}(z_i) - w \odot y'_i, \qquad
               \frac{\partial \ell_i}{\partial y_{ic}} = -(1 - \varepsilon)\, w_c \log \mathrm{softmax}(z_i)_c

    Parameters
    ----------
    logits : array or Tensor, shape (N, C) or (N, C, d1, ...)
    target : array or Tensor, the shape of ``logits``
        Probabilities over the class axis 1 (rows summing to 1; one-hot rows are fine);
        differentiated, as in PyTorch.
    weight : array, optional
        Non-negative class weights, shape (C,).
    label_smoothing : float in [0, 1]
    reduction : {'mean', 'sum', 'none'}
        ``'mean'`` is the plain mean over the N (and d1, ...) positions, *not* divided by the
        weights: this is PyTorch's convention for probability targets, unlike the weighted mean
        of class-index targets.

    Matches ``torch.nn.functional.cross_entropy`` with probability targets (values and both
    gradients).

    Examples
    --------
    >>> import numpy as np
    >>> round(float(soft_target_cross_entropy(np.array([[1.0, 0.0]]), np.array([[0.5, 0.5]]))), 6)
    0.813262
    """
    weight = _constant(weight, logits)
    return apply_loss(SOFT_TARGET_CROSS_ENTROPY, logits, target, reduction=reduction, weight=weight, label_smoothing=label_smoothing)


# ------------------------------------------------------------------------------------ NLL


def _nll_forward(xp: Any, log_probs: Any, target: Any, *, weight: Any, ignore_index: int) -> Any:
    a = _ce_target(log_probs, xp.as_data(target), weight, ignore_index, 0.0)  # w_y at the true class
    return -xp.sum(a * log_probs, axis=1)


def _nll_vjp(xp: Any, g: Any, log_probs: Any, target: Any, *, weight: Any, ignore_index: int) -> tuple[Any]:
    a = _ce_target(log_probs, xp.as_data(target), weight, ignore_index, 0.0)
    return (-xp.expand_dims(g, 1) * a,)  # -w_y at the true class, 0 elsewhere


def _check_nll(log_probs: Any, target: Any, *, weight: Any, ignore_index: Any) -> None:
    _check_class_axis("log_probs", log_probs, "target", target)
    _check_class_weight("weight", weight, log_probs.shape[1])
    _check_ignore_index(ignore_index)


NLL = register(
    LossSpec(
        name="nll",
        family="classification",
        args=(Arg("log_probs", "log_simplex", ("N", "C")), Arg("target", "label", ("N",), differentiable=False)),
        forward=_nll_forward,
        vjp=_nll_vjp,
        params={"weight": None, "ignore_index": -100},
        reduction_weights=_ce_reduction_weights,
        check=_check_nll,
        classes_from="log_probs",
        edge_cases={
            "log-probabilities of 0 and -1e4": lambda rng: [
                np.array([[0.0, -1e4, -1e4], [-1e4, 0.0, -1e4]]),
                np.array([1, 1]),
            ],
        },
        formula=r"\ell = -w_y \log p_y, \quad \partial \ell / \partial \log p_c = -w_y [c = y]",
        reference="torch.nn.functional.nll_loss",
        torch="nll_loss",
    )
)


def nll(log_probs: Any, target: Any, weight: Any = None, ignore_index: int = -100, reduction: str = "mean") -> Any:
    r"""Negative log-likelihood of log-probabilities and class labels.

    .. math::  \ell_i = -w_{y_i} \log p_{i, y_i}, \qquad
               \frac{\partial \ell_i}{\partial \log p_{ic}} = -w_{y_i} [c = y_i]

    ``nll(log_softmax(z), y)`` equals ``cross_entropy(z, y)``.

    Parameters
    ----------
    log_probs : array or Tensor, shape (N, C) or (N, C, d1, ...)
        Log-probabilities (:math:`\le 0`, e.g. a ``log_softmax`` over axis 1).
    target : array or Tensor of integers, shape (N,) or (N, d1, ...)
        Labels in [0, C) or ``ignore_index`` (a constant).
    weight : array, optional
        Non-negative class weights, shape (C,).
    ignore_index : int
    reduction : {'mean', 'sum', 'none'}
        ``'mean'`` is the weighted mean :math:`\sum_i \ell_i / \sum_i w_{y_i}` over the samples
        not ignored, as in PyTorch; with none left it is 0 (PyTorch: NaN).

    Matches ``torch.nn.functional.nll_loss`` (values and gradients), which accepts any real
    input; nploss refuses positive values, which are not log-probabilities (raw logits passed by
    mistake are the usual cause).

    Raises
    ------
    ValueError
        If a value of ``log_probs`` is positive, the shapes do not fit, a label is out of range
        or the weights are not a non-negative vector of length C.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(nll(np.log(np.array([[0.7, 0.2, 0.1]])), np.array([1]))), 6)
    1.609438
    """
    weight = _constant(weight, log_probs)
    return apply_loss(NLL, log_probs, target, reduction=reduction, weight=weight, ignore_index=ignore_index)


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


def _check_eps(eps: Any) -> None:
    if isinstance(eps, bool) or not isinstance(eps, int | float | np.floating) or not 0.0 < eps < 0.5:
        raise ValueError(f"eps must be a number in (0, 0.5), got {eps!r}")


def _check_from_logits(from_logits: Any) -> bool:
    if not isinstance(from_logits, bool | np.bool_):
        raise TypeError(f"from_logits must be True or False, got {from_logits!r}")
    return bool(from_logits)


def _check_cce(probs: Any, target: Any, *, eps: Any) -> None:
    if probs.ndim < 1:
        raise ValueError("probs must have a class axis (the last), got a scalar")
    same_shape("probs", probs, "target", target)
    domain("target", target, "simplex")
    _check_row_sums(probs)
    _check_eps(eps)


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


def _as_array(x: Any) -> Any:
    return x if isinstance(x, Tensor) else get_array_module(x).asarray(x)


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
    if not _check_from_logits(from_logits):
        return apply_loss(CATEGORICAL_CROSS_ENTROPY, probs, target, reduction=reduction, eps=eps)
    probs = _as_array(probs)
    logits, data = as_data(probs), as_data(target)
    if not hasattr(data, "dtype"):
        data = np.asarray(data)
    if logits.ndim < 1:
        raise ValueError("probs must have a class axis (the last), got a scalar")
    same_shape("probs", logits, "target", data)
    finite("probs", logits)
    domain("target", data, "simplex")
    _check_eps(eps)
    return _keras_from_logits(SOFT_TARGET_CROSS_ENTROPY, probs, data, reduction, True, weight=None, label_smoothing=0.0)


def _scce_forward(xp: Any, probs: Any, target: Any, *, eps: float) -> Any:
    hot = _one_hot(xp.as_data(target), probs.shape[-1], -1, probs.dtype)
    return _cce_forward(xp, probs, hot, eps=eps)


def _scce_vjp(xp: Any, g: Any, probs: Any, target: Any, *, eps: float) -> tuple[Any]:
    hot = _one_hot(xp.as_data(target), probs.shape[-1], -1, probs.dtype)
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
    _check_eps(eps)


SPARSE_CATEGORICAL_CROSS_ENTROPY = register(
    LossSpec(
        name="sparse_categorical_cross_entropy",
        family="classification",
        args=(Arg("probs", "prob", ("N", "C")), Arg("target", "label", ("N",), differentiable=False)),
        forward=_scce_forward,
        vjp=_scce_vjp,
        params={"eps": 1e-7},
        check=_check_scce,
        kinks=lambda probs, target, *, eps: _cce_kinks(probs, probs, eps=eps),
        sampler=lambda rng, s: [rng.dirichlet(2.0 * np.ones(s["C"]), s["N"]), rng.integers(0, s["C"], s["N"])],
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
    >>> p = np.array([[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]])
    >>> [round(float(v), 6) for v in sparse_categorical_cross_entropy(p, np.array([1, 2]), reduction="none")]
    [0.051293, 2.302585]
    >>> z = np.array([[2.0, 0.0, -1.0]])
    >>> bool(sparse_categorical_cross_entropy(z, np.array([0]), from_logits=True) == cross_entropy(z, np.array([0])))
    True
    """
    if not _check_from_logits(from_logits):
        return apply_loss(SPARSE_CATEGORICAL_CROSS_ENTROPY, probs, target, reduction=reduction, eps=eps)
    probs = _as_array(probs)
    logits, data = as_data(probs), as_data(target)
    if not hasattr(data, "dtype"):
        data = np.asarray(data)
    if logits.ndim < 1 or tuple(data.shape) != tuple(logits.shape[:-1]):
        raise ValueError(
            f"target must hold one label per row of probs, shape {tuple(logits.shape[:-1])} (probs "
            f"{tuple(logits.shape)} without its last, class axis), got {tuple(data.shape)}"
        )
    finite("probs", logits)
    _check_labels("target", data, logits.shape[-1])
    _check_eps(eps)
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
    _check_fraction("epsilon", epsilon)
    data = as_data(target)
    if not hasattr(data, "dtype"):
        target = data = np.asarray(data, dtype=np.float64)
    if data.ndim < 1:
        raise ValueError("target must have a class axis (the last), got a scalar")
    domain("target", data, "simplex")
    return (1.0 - epsilon) * target + epsilon / data.shape[-1]


# ------------------------------------------------------------------------------------ sigmoid focal


def _sigmoid_focal_parts(xp: Any, logits: Any, y: Any) -> tuple[Any, Any]:
    r"""The cross entropy :math:`-\log p_t` and :math:`m = 1 - p_t`, both without cancellation:
    :math:`1 - p_t = y (1 - \sigma(z)) + (1 - y) \sigma(z) = y \sigma(-z) + (1 - y) \sigma(z)`
    keeps its relative precision where :math:`\sigma(z)` rounds to 1."""
    ce = y * xp.softplus(-logits) + (1.0 - y) * xp.softplus(logits)
    m = y * xp.sigmoid(-logits) + (1.0 - y) * xp.sigmoid(logits)
    return ce, m


def _focal_power(xp: Any, m: Any, gamma: float) -> Any:
    r""":math:`m^\gamma`, the focal factor, with a finite derivative where :math:`m = 0` (a
    saturated sigmoid or softmax): there the engine's derivative of a power,
    :math:`\gamma m^{\gamma - 1}`, is infinite for :math:`\gamma < 1`, and times
    :math:`\partial m / \partial z = 0` it would make the composite gradient NaN. The inner
    ``where`` evaluates the power at 1 instead, so its derivative there is finite and masked."""
    if gamma == 0:
        return 1.0
    positive = m > 0.0
    return xp.where(positive, xp.where(positive, m, 1.0) ** gamma, 0.0)


def _alpha_t(y: Any, alpha: float) -> Any:
    return 1.0 if alpha < 0 else alpha * y + (1.0 - alpha) * (1.0 - y)


def _sigmoid_focal_forward(xp: Any, logits: Any, target: Any, *, alpha: float, gamma: float) -> Any:
    y = xp.as_data(target)
    ce, m = _sigmoid_focal_parts(xp, logits, y)
    return _alpha_t(y, alpha) * (_focal_power(xp, m, gamma) * ce)


def _sigmoid_focal_vjp(xp: Any, g: Any, logits: Any, target: Any, *, alpha: float, gamma: float) -> tuple[Any]:
    y = xp.as_data(target)
    ce, m = _sigmoid_focal_parts(xp, logits, y)
    s, s_neg = xp.sigmoid(logits), xp.sigmoid(-logits)
    # d(m^gamma ce)/dz = m^gamma (gamma (dm/dz)/m ce + dce/dz), with dce/dz = sigma(z) - y and
    # dm/dz = (1 - 2y) sigma(z) sigma(-z). The ratio (dm/dz)/m lies in [-1, 1] (so no m^(gamma-1)
    # that overflows as m -> 0); m is 0 only where a sigmoid underflows, and there dm/dz is 0 too.
    positive = m > 0.0
    dlog_m = xp.where(positive, (1.0 - 2.0 * y) * s * s_neg / xp.where(positive, m, 1.0), 0.0)
    return (g * _alpha_t(y, alpha) * _focal_power(xp, m, gamma) * (gamma * dlog_m * ce + (s - y)),)


def _check_focal_target(logits: Any, target: Any, *, alpha: Any, gamma: Any) -> None:
    same_shape("logits", logits, "target", target)
    _check_fraction("alpha", alpha, -math.inf, 1.0)
    _check_finite_number("gamma", gamma, "non-negative", lambda v: v >= 0)


SIGMOID_FOCAL = register(
    LossSpec(
        name="sigmoid_focal",
        family="classification",
        args=(Arg("logits", "logits", ("N", "C")), Arg("target", "binary", ("N", "C"), differentiable=False)),
        forward=_sigmoid_focal_forward,
        vjp=_sigmoid_focal_vjp,
        params={"alpha": 0.25, "gamma": 2.0},
        check=_check_focal_target,
        edge_cases={
            "logits of +-1e4": lambda rng: [
                np.array([1e4, -1e4, 1e4, -1e4, 0.0, 800.0]),
                np.array([1.0, 0.0, 0.0, 1.0, 0.5, 1.0]),
            ],
        },
        formula=r"\ell = -\alpha_t (1 - p_t)^\gamma \log p_t,\ p_t = y\sigma(z) + (1-y)(1-\sigma(z)),\ "
        r"\alpha_t = \alpha y + (1-\alpha)(1-y)",
        reference="Lin et al. 2017; torchvision.ops.sigmoid_focal_loss",
    )
)


def sigmoid_focal(logits: Any, target: Any, alpha: float = 0.25, gamma: float = 2.0, reduction: str = "mean") -> Any:
    r"""Sigmoid focal loss (Lin et al. 2017): binary cross entropy down-weighted on easy examples.

    .. math::  \ell_i = -\alpha_t (1 - p_t)^\gamma \log p_t, \qquad
               p_t = y\,\sigma(z) + (1 - y)(1 - \sigma(z)), \qquad
               \alpha_t = \alpha y + (1 - \alpha)(1 - y)

    With :math:`m = 1 - p_t` and :math:`\mathrm{ce} = -\log p_t` (for soft targets, the binary
    cross entropy with logits, as torchvision),

    .. math::  \frac{\partial \ell}{\partial z} = \alpha_t\, m^\gamma \left( \gamma\, \frac{\partial_z m}{m}\, \mathrm{ce}
               + \sigma(z) - y \right), \qquad \partial_z m = (1 - 2y)\, \sigma(z)\, \sigma(-z)

    Stable for any logits: :math:`\log p_t` comes from softplus (never ``log(sigmoid)``) and
    :math:`1 - p_t = y \sigma(-z) + (1 - y) \sigma(z)` keeps its precision where
    :math:`\sigma(z)` rounds to 1.

    Parameters
    ----------
    logits : array or Tensor, any shape
    target : array, shape of ``logits``
        Targets in [0, 1], usually 0/1 (a constant: not differentiated).
    alpha : float <= 1
        Weight of the positive class (:math:`1 - \alpha` for the negative); a negative value
        disables the weighting (:math:`\alpha_t = 1`), as in torchvision.
    gamma : float >= 0
        Focusing parameter; ``gamma=0`` and ``alpha=-1`` give
        :func:`binary_cross_entropy_with_logits`.
    reduction : {'mean', 'sum', 'none'}
        **Default 'mean'**, as every nploss loss, where ``torchvision.ops.sigmoid_focal_loss``
        defaults to ``'none'``. The mean is over all elements (Detectron-style training divides
        the sum by the number of positive anchors instead: use ``'sum'`` and divide).

    Matches ``torchvision.ops.sigmoid_focal_loss`` (values and gradients with respect to the
    logits) with the same ``reduction``. PyTorch itself has no focal loss.

    Raises
    ------
    ValueError
        If the shapes differ, a target lies outside [0, 1], ``alpha > 1`` or ``gamma < 0``.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(sigmoid_focal(np.array([2.0, -1.0]), np.array([1.0, 1.0]), reduction="sum")), 6)
    0.175918
    """
    return apply_loss(SIGMOID_FOCAL, logits, target, reduction=reduction, alpha=alpha, gamma=gamma)


# ------------------------------------------------------------------------------------ softmax focal


def _softmax_focal_parts(xp: Any, logits: Any, labels: Any, alpha: Any) -> tuple[Any, Any, Any, Any]:
    """One-hot y, log p_y, m = 1 - p_y (as the sum of the other classes' probabilities: no
    cancellation when p_y is near 1) and alpha_y (a constant, or 1)."""
    hot = _one_hot(labels, logits.shape[1], 1, logits.dtype)
    log_p = xp.log_softmax(logits, axis=1)
    log_p_y = xp.sum(hot * log_p, axis=1)
    m = xp.sum((1.0 - hot) * xp.exp(log_p), axis=1)
    alpha_y = 1.0 if alpha is None else (hot * _along_classes(alpha.astype(logits.dtype), logits.ndim)).sum(axis=1)
    return hot, log_p_y, m, alpha_y


def _softmax_focal_forward(xp: Any, logits: Any, target: Any, *, gamma: float, alpha: Any) -> Any:
    _, log_p_y, m, alpha_y = _softmax_focal_parts(xp, logits, xp.as_data(target), alpha)
    return -alpha_y * (_focal_power(xp, m, gamma) * log_p_y)


def _softmax_focal_vjp(xp: Any, g: Any, logits: Any, target: Any, *, gamma: float, alpha: Any) -> tuple[Any]:
    hot, log_p_y, m, alpha_y = _softmax_focal_parts(xp, logits, xp.as_data(target), alpha)
    # dl/dz = alpha_y (softmax(z) - onehot) m^gamma (1 - gamma p_y log(p_y) / m): the focal factor
    # times the cross-entropy gradient. p_y log(p_y) / m lies in [-1, 0] (-> -1 as m -> 0).
    positive = m > 0.0
    ratio = xp.where(positive, xp.exp(log_p_y) * log_p_y / xp.where(positive, m, 1.0), 0.0)
    factor = alpha_y * _focal_power(xp, m, gamma) * (1.0 - gamma * ratio)
    return (xp.expand_dims(g * factor, 1) * (xp.softmax(logits, axis=1) - hot),)


def _check_softmax_focal(logits: Any, target: Any, *, gamma: Any, alpha: Any) -> None:
    _check_class_axis("logits", logits, "target", target)
    _check_finite_number("gamma", gamma, "non-negative", lambda v: v >= 0)
    _check_class_weight("alpha", alpha, logits.shape[1])


SOFTMAX_FOCAL = register(
    LossSpec(
        name="softmax_focal",
        family="classification",
        args=(Arg("logits", "logits", ("N", "C")), Arg("target", "label", ("N",), differentiable=False)),
        forward=_softmax_focal_forward,
        vjp=_softmax_focal_vjp,
        params={"gamma": 2.0, "alpha": None},
        check=_check_softmax_focal,
        classes_from="logits",
        edge_cases=_logit_edges(),
        formula=r"\ell = -\alpha_y (1 - p_y)^\gamma \log p_y,\ p = \mathrm{softmax}(z), \quad "
        r"\partial \ell / \partial z = \alpha_y (1 - p_y)^\gamma \big(1 - \gamma \tfrac{p_y \log p_y}{1 - p_y}\big) (p - \mathrm{onehot}(y))",
        reference="Lin et al. 2017 (multi-class form); seed 000 section 4",
    )
)


def softmax_focal(logits: Any, target: Any, gamma: float = 2.0, alpha: Any = None, reduction: str = "mean") -> Any:
    r"""Multi-class (softmax) focal loss: cross entropy scaled by :math:`(1 - p_y)^\gamma`.

    .. math::  \ell_i = -\alpha_{y_i} (1 - p_{i y_i})^\gamma \log p_{i y_i}, \qquad
               p_i = \mathrm{softmax}(z_i)

    .. math::  \frac{\partial \ell_i}{\partial z_i} = \alpha_{y_i}\, m_i^\gamma
               \Big( 1 - \gamma\, \frac{p_{i y_i} \log p_{i y_i}}{m_i} \Big)
               \big( p_i - \mathrm{onehot}(y_i) \big), \qquad m_i = 1 - p_{i y_i}

    the cross-entropy gradient :math:`p - \mathrm{onehot}(y)` times a focal factor. With
    ``gamma=0`` and ``alpha=None`` it is exactly :func:`cross_entropy`. :math:`1 - p_y` is
    computed as the sum of the other classes' probabilities, so it keeps its precision when the
    model is confident.

    Parameters
    ----------
    logits : array or Tensor, shape (N, C) or (N, C, d1, ...)
    target : array of integers, shape (N,) or (N, d1, ...)
        Labels in [0, C) (a constant).
    gamma : float >= 0
        Focusing parameter (Lin et al. use 2).
    alpha : array, optional
        Non-negative per-class weights :math:`\alpha_c`, shape (C,); None means 1 for every
        class.
    reduction : {'mean', 'sum', 'none'}
        ``'mean'`` is the plain mean over samples (:math:`\alpha` is part of each sample's loss,
        not a normaliser): with ``gamma=0``, ``'sum'`` and ``'none'`` equal
        ``cross_entropy(weight=alpha)``, but ``'mean'`` does not divide by
        :math:`\sum \alpha_{y_i}` as PyTorch's weighted cross entropy does.

    The seed's form (section 4) is the ``alpha=None`` case. PyTorch has no focal loss; kornia's
    ``focal_loss`` uses a scalar :math:`\alpha` (1 - α for class 0) and averages over classes.

    Raises
    ------
    ValueError
        If the shapes do not fit, a label is out of range, ``gamma < 0`` or ``alpha`` is not a
        non-negative vector of length C.

    Examples
    --------
    >>> import numpy as np
    >>> z = np.array([[2.0, 0.0, -1.0]])
    >>> round(float(softmax_focal(z, np.array([0]))), 6)
    0.004144
    >>> bool(softmax_focal(z, np.array([0]), gamma=0.0) == cross_entropy(z, np.array([0])))
    True
    """
    alpha = _constant(alpha, logits)
    return apply_loss(SOFTMAX_FOCAL, logits, target, reduction=reduction, gamma=gamma, alpha=alpha)


# ------------------------------------------------------------------------------------ KL divergence


def _xlogx(xp: Any, p: Any) -> Any:
    """p log p with 0 log 0 = 0 (PyTorch's xlogy), without evaluating log 0."""
    positive = p > 0.0
    return xp.where(positive, p * xp.log(xp.where(positive, p, 1.0)), 0.0)


def _kl_forward(xp: Any, input: Any, target: Any, *, log_target: bool) -> Any:  # noqa: A002  (PyTorch's name)
    if log_target:
        return xp.exp(target) * (target - input)
    return _xlogx(xp, target) - target * input


def _kl_vjp(xp: Any, g: Any, input: Any, target: Any, *, log_target: bool) -> tuple[Any, Any]:  # noqa: A002
    if log_target:
        p = xp.exp(target)
        # d/dt [e^t (t - x)] = e^t (t - x + 1)
        return -g * p, g * p * (target - input + 1.0)
    positive = target > 0.0
    # d/dp [p log p - p x] = log p + 1 - x; at p = 0 the p log p term (slope -inf) is taken as 0
    dxlogx = xp.where(positive, xp.log(xp.where(positive, target, 1.0)) + 1.0, 0.0)
    return -g * target, g * (dxlogx - input)


def _kl_reduction_weights(xp: Any, reduction: str, input: Any, target: Any, **_: Any) -> float:  # noqa: A002
    if reduction == "batchmean":
        return 1.0 / max(input.shape[0] if input.ndim else 1, 1)
    return 1.0 / max(input.size, 1)


def _check_kl(input: Any, target: Any, *, log_target: Any) -> None:  # noqa: A002
    same_shape("input", input, "target", target)
    if not isinstance(log_target, bool | np.bool_):
        raise TypeError(f"log_target must be True or False, got {log_target!r}")
    if log_target:
        in_range("target", target, None, 0.0, "log-probabilities (<= 0) with log_target=True")
    else:
        in_range("target", target, 0.0, 1.0, "probabilities in [0, 1] (pass log_target=True for log-probabilities)")


def _kl_kinks(input: Any, target: Any, *, log_target: bool) -> Any:  # noqa: A002
    # p log p has an infinite slope at p = 0: keep the finite differences away from it
    return np.full(target.shape, np.inf) if log_target else target


KL_DIV = register(
    LossSpec(
        name="kl_div",
        family="classification",
        args=(Arg("input", "log_simplex", ("N", "C")), Arg("target", "real", ("N", "C"))),
        forward=_kl_forward,
        vjp=_kl_vjp,
        params={"log_target": False},
        reductions=("mean", "batchmean", "sum", "none"),
        reduction_weights=_kl_reduction_weights,
        check=_check_kl,
        kinks=_kl_kinks,
        sampler=lambda rng, s: [np.log(rng.dirichlet(2.0 * np.ones(s["C"]), s["N"])), rng.dirichlet(2.0 * np.ones(s["C"]), s["N"])],
        edge_cases={
            "target probabilities of exactly 0 and 1": lambda rng: [
                np.log(np.array([[0.5, 0.5, 1e-300], [1.0, 1e-300, 1e-300]])),
                np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]),
            ],
        },
        nonnegative=False,  # elementwise terms p (log p - log q) are negative where p < q
        stability_exceptions={
            "large scale": "the target is a probability in [0, 1] (a log-probability <= 0 with log_target=True): "
            "scaled by 1e4 it leaves that domain and is refused",
        },
        formula=r"\ell = p (\log p - x),\ x = \log q,\ 0 \log 0 = 0, \quad \partial \ell / \partial x = -p, \quad "
        r"\partial \ell / \partial p = \log p + 1 - x",
        reference="torch.nn.functional.kl_div",
        torch="kl_div",
    )
)


def kl_div(input: Any, target: Any, log_target: bool = False, reduction: str = "mean") -> Any:  # noqa: A002
    r"""Kullback-Leibler divergence :math:`\mathrm{KL}(p \,\|\, q)`, elementwise, with PyTorch's
    argument order: the *input* is :math:`x = \log q` (the model), the *target* is :math:`p`.

    .. math::  \ell_{ic} = p_{ic} (\log p_{ic} - x_{ic}), \qquad
               \frac{\partial \ell}{\partial x} = -p, \qquad
               \frac{\partial \ell}{\partial p} = \log p + 1 - x

    with :math:`0 \log 0 = 0`, so a target of 0 contributes 0 (PyTorch's ``xlogy``). With
    ``log_target=True`` the target is :math:`t = \log p`:
    :math:`\ell = e^t (t - x)`, :math:`\partial \ell / \partial t = e^t (t - x + 1)`.

    Parameters
    ----------
    input : array or Tensor, any shape
        Log-probabilities :math:`\log q` (:math:`\le 0`; a ``log_softmax``). Finite: clamp
        :math:`\log 0` to a large negative number.
    target : array or Tensor, shape of ``input``
        Probabilities :math:`p \in [0, 1]`, or log-probabilities with ``log_target=True``;
        differentiated, as in PyTorch.
    log_target : bool
    reduction : {'mean', 'batchmean', 'sum', 'none'}
        ``'mean'`` divides the sum by the number of *elements*, as PyTorch's ``'mean'`` does:
        this is not the KL divergence but KL/C. ``'batchmean'`` divides by the batch size
        (the first axis) and gives the true mean KL per sample: use it.

    Matches ``torch.nn.functional.kl_div`` (values and both gradients). At a target of exactly
    0 (``log_target=False``) the target's gradient is :math:`-x`: the slope of :math:`p \log p`
    there, :math:`-\infty`, is replaced by 0, where PyTorch returns NaN.

    Raises
    ------
    ValueError
        If the shapes differ, ``input`` has positive values, or ``target`` lies outside [0, 1]
        (outside :math:`(-\infty, 0]` with ``log_target=True``).

    Examples
    --------
    >>> import numpy as np
    >>> p, q = np.array([[0.5, 0.5]]), np.array([[0.9, 0.1]])
    >>> round(float(kl_div(np.log(q), p, reduction="batchmean")), 6)
    0.510826
    """
    return apply_loss(KL_DIV, input, target, reduction=reduction, log_target=log_target)


# ------------------------------------------------------------------------------------ distillation


def _distillation_parts(xp: Any, student: Any, teacher: Any, labels: Any, temperature: float) -> tuple[Any, Any, Any]:
    """One-hot labels and the teacher's softened distribution p = softmax(t/T) with its log:
    constants."""
    hot = _one_hot(labels, student.shape[1], 1, student.dtype)
    log_p = xp.log_softmax(teacher / temperature, axis=1)
    return hot, log_p, xp.exp(log_p)


def _distillation_forward(xp: Any, student_logits: Any, teacher_logits: Any, target: Any, *, temperature: float, alpha: float) -> Any:
    hot, log_p, p = _distillation_parts(xp, student_logits, xp.as_data(teacher_logits), xp.as_data(target), temperature)
    hard = -xp.sum(hot * xp.log_softmax(student_logits, axis=1), axis=1)
    # KL(p || q) with q = softmax(s/T): finite, since log_softmax is, and p = 0 only by underflow
    soft = xp.sum(p * (log_p - xp.log_softmax(student_logits / temperature, axis=1)), axis=1)
    return alpha * hard + (1.0 - alpha) * temperature * temperature * soft


def _distillation_vjp(
    xp: Any, g: Any, student_logits: Any, teacher_logits: Any, target: Any, *, temperature: float, alpha: float
) -> tuple[Any]:
    hot, _, p = _distillation_parts(xp, student_logits, xp.as_data(teacher_logits), xp.as_data(target), temperature)
    # hard: softmax(s) - y; soft: T^2 * (1/T) (softmax(s/T) - p), the 1/T from the chain rule
    hard = xp.softmax(student_logits, axis=1) - hot
    soft = temperature * (xp.softmax(student_logits / temperature, axis=1) - p)
    return (xp.expand_dims(g, 1) * (alpha * hard + (1.0 - alpha) * soft),)


def _check_distillation(student_logits: Any, teacher_logits: Any, target: Any, *, temperature: Any, alpha: Any) -> None:
    same_shape("student_logits", student_logits, "teacher_logits", teacher_logits)
    _check_class_axis("student_logits", student_logits, "target", target)
    _check_finite_number("temperature", temperature, "positive", lambda v: v > 0)
    _check_fraction("alpha", alpha)


DISTILLATION = register(
    LossSpec(
        name="distillation",
        family="classification",
        args=(
            Arg("student_logits", "logits", ("N", "C")),
            Arg("teacher_logits", "logits", ("N", "C"), differentiable=False),
            Arg("target", "label", ("N",), differentiable=False),
        ),
        forward=_distillation_forward,
        vjp=_distillation_vjp,
        params={"temperature": 4.0, "alpha": 0.5},
        check=_check_distillation,
        classes_from="student_logits",
        edge_cases={
            "logits of +-1e4": lambda rng: [
                np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]]),
                np.array([[-1e4, 1e4, 0.0], [-1e4, 1e4, 0.0]]),
                np.array([0, 1]),
            ],
        },
        formula=r"\ell = \alpha\, \mathrm{CE}(s, y) + (1 - \alpha)\, T^2\, \mathrm{KL}(\mathrm{softmax}(t/T) \,\|\, \mathrm{softmax}(s/T)), \quad "
        r"\partial \ell / \partial s = \alpha (\mathrm{softmax}(s) - y) + (1 - \alpha) T (\mathrm{softmax}(s/T) - \mathrm{softmax}(t/T))",
        reference="Hinton, Vinyals and Dean 2015",
    )
)


def distillation(
    student_logits: Any,
    teacher_logits: Any,
    target: Any,
    temperature: float = 4.0,
    alpha: float = 0.5,
    reduction: str = "mean",
) -> Any:
    r"""Knowledge distillation (Hinton et al. 2015): hard-label cross entropy mixed with the KL
    divergence from the teacher's softened distribution, :math:`\alpha`-weighted hard plus
    :math:`(1 - \alpha)`-weighted soft.

    .. math::  \ell_i = \alpha\, \mathrm{CE}(s_i, y_i)
               + (1 - \alpha)\, T^2\, \mathrm{KL}\big(\mathrm{softmax}(t_i / T) \,\|\, \mathrm{softmax}(s_i / T)\big)

    .. math::  \frac{\partial \ell_i}{\partial s_i} = \alpha \big(\mathrm{softmax}(s_i) - \mathrm{onehot}(y_i)\big)
               + (1 - \alpha)\, T \big(\mathrm{softmax}(s_i / T) - \mathrm{softmax}(t_i / T)\big)

    The :math:`T^2` keeps the soft term's gradient, which scales as :math:`1/T`, comparable
    to the hard term's as the temperature changes (Hinton et al., section 2).

    Parameters
    ----------
    student_logits : array or Tensor, shape (N, C) or (N, C, d1, ...)
        The student's logits :math:`s`: the only differentiated input.
    teacher_logits : array or Tensor, shape of ``student_logits``
        The teacher's logits :math:`t`: a **constant** (no gradient reaches it, also in the
        composite graph), as the teacher is fixed while the student learns.
    target : array of integers, shape (N,) or (N, d1, ...)
        The hard labels.
    temperature : float > 0
    alpha : float in [0, 1]
        Weight of the hard-label term; ``alpha=1`` is plain cross entropy, ``alpha=0`` pure
        distillation.
    reduction : {'mean', 'sum', 'none'}
        ``'mean'`` averages over samples: the cross entropy's mean and the KL's
        ``'batchmean'``.

    PyTorch has no distillation loss; the usual recipe is
    ``alpha * F.cross_entropy(s, y) + (1 - alpha) * T**2 * F.kl_div(F.log_softmax(s / T, 1),
    F.softmax(t / T, 1), reduction='batchmean')``, which this equals.

    Raises
    ------
    ValueError
        If the logits' shapes differ, the labels do not fit, ``temperature <= 0`` or ``alpha``
        is outside [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> s, t = np.array([[2.0, 0.0, -1.0]]), np.array([[1.0, 2.0, 0.0]])
    >>> round(float(distillation(s, t, np.array([0]))), 6)
    0.517393
    """
    return apply_loss(DISTILLATION, student_logits, teacher_logits, target, reduction=reduction, temperature=temperature, alpha=alpha)
