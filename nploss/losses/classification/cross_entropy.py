r"""Softmax cross entropy: of logits and labels (:func:`cross_entropy`), of logits and class
probabilities (:func:`soft_target_cross_entropy`), and of log-probabilities and labels
(:func:`nll`).

Logits have the classes on axis 1, ``(N, C)`` or ``(N, C, d1, ...)``, as in PyTorch. Labels and
class weights are constants; probability targets are differentiated, as PyTorch does. The
analytic gradients are written as one would derive them: :math:`\mathrm{softmax}(z) - e_y` for
a label (:func:`softmax_xent_vjp`, which softmax focal, distillation, CosFace, ArcFace, N-pair
and the prototypical loss use too: each is a cross entropy), with the weights and smoothing folded
into a target distribution ``a`` otherwise (then :math:`(\sum_c a_c)\,\mathrm{softmax}(z) - a`).

Each loss is one block: the reference ``_x_forward`` and ``_x_vjp``, its fast path where it has
one, its checks, the registry entry, then the public function.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...autograd import as_data
from ...backend import get_array_module
from .._apply import apply_loss
from .._fast import softmax_and_logsumexp, subtract_at_labels
from .._params import integer, real
from .._shared import constant, one_hot, unbatched
from .._spec import Arg, FastPath, LossSpec, present_label, register, weights_per_class
from .._validate import class_weights
from ._common import _along_classes, _as_array, _check_class_axis, _logit_edges

# ------------------------------------------------------------------------------------ cross entropy


def softmax_xent_vjp(xp: Any, g: Any, logits: Any, labels: Any, axis: int = 1) -> Any:
    r""":math:`g\,(\mathrm{softmax}(z) - e_y)`: the gradient of :math:`-\log \mathrm{softmax}(z)_y`
    with respect to the logits ``z`` (classes on ``axis``), for the per-sample cotangent ``g``
    and integer ``labels`` (the sample shape, without the class axis): the predicted
    distribution minus the one-hot target."""
    classes, dtype = as_data(logits).shape[axis], as_data(logits).dtype
    return xp.expand_dims(g, axis) * (xp.softmax(logits, axis=axis) - one_hot(labels, classes, axis, dtype))


def _ce_target(logits: Any, labels: Any, weight: Any, ignore_index: int, label_smoothing: float) -> Any:
    r"""The weighted, smoothed target distribution ``a`` (N, C, ...) with
    :math:`\ell = -\sum_c a_c \log \mathrm{softmax}(z)_c`:
    :math:`a_c = (1 - \varepsilon)\, w_y [c = y] + \tfrac{\varepsilon}{K} w_c`, zero for ignored
    samples. A constant."""
    dtype, classes = logits.dtype, logits.shape[1]
    a = one_hot(labels, classes, 1, dtype, ignore_index)
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
    (the smoothing term too). With nothing left to average (an empty batch, every label ignored,
    or all their weights 0) the mean is NaN, as in PyTorch."""
    total = float(_ce_labels(scores, target, weight, ignore_index)[1].sum())
    return 1.0 / total if total > 0 else math.nan


def _ce_forward(xp: Any, logits: Any, target: Any, *, weight: Any, ignore_index: int, label_smoothing: float) -> Any:
    log_p = xp.log_softmax(logits, axis=1)  # by log-sum-exp: finite for any finite logits
    if label_smoothing:
        a = _ce_target(logits, xp.as_data(target), weight, ignore_index, label_smoothing)
        return -xp.sum(a * log_p, axis=1)
    # a one-hot a = w_y e_y picks one log-probability per sample: -w_y log softmax(z)_y
    safe, w = _ce_labels(logits, xp.as_data(target), weight, ignore_index)
    return -w * xp.squeeze(xp.take_along_axis(log_p, xp.expand_dims(safe, 1), axis=1), 1)


def _ce_vjp(xp: Any, g: Any, logits: Any, target: Any, *, weight: Any, ignore_index: int, label_smoothing: float) -> tuple[Any]:
    if label_smoothing:
        a = _ce_target(logits, xp.as_data(target), weight, ignore_index, label_smoothing)
        # d/dz [-sum_c a_c log softmax(z)_c] = (sum_c a_c) softmax(z) - a
        g = xp.expand_dims(g, 1)
        return (g * (xp.sum(a, axis=1, keepdims=True) * xp.softmax(logits, axis=1) - a),)
    # a = w_y e_y: g w_y (softmax(z) - e_y), the gradient of every softmax cross entropy
    safe, w = _ce_labels(logits, xp.as_data(target), weight, ignore_index)
    return (softmax_xent_vjp(xp, g * w, logits, safe),)


# Fast path. The forward keeps the softmax for the backward pass (as PyTorch's log_softmax keeps
# its output), computed with the log-sum-exp from one exponential per logit; the backward pass
# then takes no exponential and subtracts g w_y at each label in place, one element per sample,
# instead of building the dense one-hot matrix.
def _ce_from_logsumexp(xp: Any, logits: Any, lse: Any, target: Any, weight: Any, ignore_index: int, label_smoothing: float) -> Any:
    """The loss of every sample, given the log-sum-exp of its logits (kept dims)."""
    if label_smoothing:
        a = _ce_target(logits, target, weight, ignore_index, label_smoothing)
        return -xp.sum(a * (logits - lse), axis=1)
    safe, w = _ce_labels(logits, target, weight, ignore_index)
    picked = xp.take_along_axis(logits, xp.expand_dims(safe, 1), axis=1)
    return w * xp.squeeze(lse - picked, 1)


def _ce_forward_fast(xp: Any, logits: Any, target: Any, *, weight: Any, ignore_index: int, label_smoothing: float, save: bool) -> tuple[Any, Any]:
    if not save:
        lse = xp.logsumexp(logits, axis=1, keepdims=True)
        return _ce_from_logsumexp(xp, logits, lse, target, weight, ignore_index, label_smoothing), None
    softmax, lse = softmax_and_logsumexp(xp, logits, axis=1)
    return _ce_from_logsumexp(xp, logits, lse, target, weight, ignore_index, label_smoothing), softmax


def _ce_vjp_fast(xp: Any, g: Any, logits: Any, target: Any, *, weight: Any, ignore_index: int, label_smoothing: float, saved: Any) -> tuple[Any]:
    softmax = xp.softmax(logits, axis=1) if saved is None else saved
    if label_smoothing:
        a = _ce_target(logits, target, weight, ignore_index, label_smoothing)
        g = xp.expand_dims(g, 1)
        return (softmax * (g * a.sum(axis=1, keepdims=True)) - g * a,)
    safe, w = _ce_labels(logits, target, weight, ignore_index)
    c = xp.expand_dims(g * w, 1)
    # the product is a fresh array: the saved softmax stays as it was, for a second backward pass
    return (subtract_at_labels(softmax * c, safe, c),)


CE_FAST = FastPath(
    forward=_ce_forward_fast,
    vjp=_ce_vjp_fast,
    rowwise=True,
    how="the forward keeps the softmax (one exp per logit for it and the log-sum-exp); the backward "
    "subtracts g w_y at each label in place; row blocks on threads",
)


def _check_ce(logits: Any, target: Any, *, weight: Any, ignore_index: Any, label_smoothing: Any) -> None:
    _check_class_axis("logits", logits, "target", target)
    class_weights("weight", weight, logits.shape[1])
    integer("ignore_index", ignore_index)
    real("label_smoothing", label_smoothing, low=0.0, high=1.0)


CROSS_ENTROPY = register(
    LossSpec(
        name="cross_entropy",
        grid={"weight": (None, weights_per_class()), "ignore_index": (-100, present_label(1))},
        family="classification",
        args=(Arg("logits", "logits", ("N", "C")), Arg("target", "label", ("N",), differentiable=False)),
        forward=_ce_forward,
        vjp=_ce_vjp,
        fast=CE_FAST,
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
    ``weight``, ``ignore_index`` and ``label_smoothing``, also when no sample is left to average
    (an empty batch, every label ignored, or their weights all 0): ``'mean'`` is then NaN (0/0),
    as in PyTorch.

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
    if np.ndim(as_data(logits)) == 1:  # one sample, (C,), as PyTorch accepts
        one = lambda z, t: cross_entropy(z, t, weight, ignore_index, label_smoothing, reduction)  # noqa: E731
        probabilities = np.asarray(as_data(target)).dtype.kind == "f"  # (C,) class probabilities, else a 0-d label
        return unbatched(one, {"logits": logits, "target": target}, {"target": (1,) if probabilities else (0,)}, reduction)
    weight = constant(weight, logits)
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


# ------------------------------------------------------------------------------------ soft-target cross entropy


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
    class_weights("weight", weight, logits.shape[1])
    real("label_smoothing", label_smoothing, low=0.0, high=1.0)


SOFT_TARGET_CROSS_ENTROPY = register(
    LossSpec(
        name="soft_target_cross_entropy",
        grid={"weight": (None, weights_per_class())},
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
    weight = constant(weight, logits)
    return apply_loss(SOFT_TARGET_CROSS_ENTROPY, logits, target, reduction=reduction, weight=weight, label_smoothing=label_smoothing)


# ------------------------------------------------------------------------------------ NLL


def _nll_forward(xp: Any, log_probs: Any, target: Any, *, weight: Any, ignore_index: int) -> Any:
    # -w_y log p_y: one log-probability per sample (w_y is 0 for an ignored sample)
    safe, w = _ce_labels(log_probs, xp.as_data(target), weight, ignore_index)
    return -w * xp.squeeze(xp.take_along_axis(log_probs, xp.expand_dims(safe, 1), axis=1), 1)


def _nll_vjp(xp: Any, g: Any, log_probs: Any, target: Any, *, weight: Any, ignore_index: int) -> tuple[Any]:
    # d/d(log p_c) [-w_y log p_y] = -w_y [c = y]: -w_y at the true class, 0 elsewhere
    safe, w = _ce_labels(log_probs, xp.as_data(target), weight, ignore_index)
    return (-xp.expand_dims(g * w, 1) * one_hot(safe, log_probs.shape[1], 1, log_probs.dtype),)


def _check_nll(log_probs: Any, target: Any, *, weight: Any, ignore_index: Any) -> None:
    _check_class_axis("log_probs", log_probs, "target", target)
    class_weights("weight", weight, log_probs.shape[1])
    integer("ignore_index", ignore_index)


NLL = register(
    LossSpec(
        name="nll",
        grid={"weight": (None, weights_per_class()), "ignore_index": (-100, present_label(1))},
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
    if np.ndim(as_data(log_probs)) == 1:  # one sample, (C,), as PyTorch accepts
        one = lambda lp, t: nll(lp, t, weight, ignore_index, reduction)  # noqa: E731
        return unbatched(one, {"log_probs": log_probs, "target": target}, {"target": (0,)}, reduction)
    weight = constant(weight, log_probs)
    return apply_loss(NLL, log_probs, target, reduction=reduction, weight=weight, ignore_index=ignore_index)
