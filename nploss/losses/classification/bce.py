r"""Binary cross entropy, of probabilities and of logits.

Each element is an independent binary problem: a probability :math:`p` (or a logit :math:`z`,
:math:`p = \sigma(z)`) against a target :math:`y \in [0, 1]`. The target is differentiated, as
PyTorch does; ``weight`` and ``pos_weight`` are constants that broadcast to the input's shape.
The gradient of the logit form is the logistic one, :math:`\sigma(z) - y`.

Each loss is one block: the reference ``_x_forward`` and ``_x_vjp``, its fast path where it has
one, its checks, the registry entry, then the public function.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _fast as fast
from .._apply import apply_loss
from .._shared import constant
from .._spec import Arg, FastPath, LossSpec, elementwise, register, weights_per_class
from .._validate import finite, in_range, same_shape

# PyTorch clamps the logarithms of binary_cross_entropy at -100: e^-100 is where that bites.
_LOG_FLOOR = -100.0
_TINY = math.exp(_LOG_FLOOR)
# PyTorch's floor under p(1 - p) in the gradient of binary_cross_entropy.
_BCE_GRAD_EPS = 1e-12


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
        grid={"weight": (None, weights_per_class())},
        unreduced=elementwise,
        family="classification",
        args=(Arg("prediction", "prob", ("N", "C")), Arg("target", "binary", ("N", "C"))),
        forward=_bce_forward,
        vjp=_bce_vjp,
        fast=FastPath.row_blocks(_bce_forward, _bce_vjp),
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
    weight = constant(weight, prediction)
    return apply_loss(BINARY_CROSS_ENTROPY, prediction, target, reduction=reduction, weight=weight)


# ------------------------------------------------------------------------------------ BCE with logits


def _bce_logits_forward(xp: Any, logits: Any, target: Any, *, weight: Any, pos_weight: Any) -> Any:
    # -log sigma(z) = softplus(-z) and -log(1 - sigma(z)) = softplus(z), each stable for any z
    positive = xp.softplus(-logits)
    if pos_weight is not None:
        positive = pos_weight.astype(logits.dtype) * positive
    loss = target * positive + (1.0 - target) * xp.softplus(logits)
    return loss if weight is None else loss * weight.astype(logits.dtype)


def _bce_logits_vjp(xp: Any, g: Any, logits: Any, target: Any, *, weight: Any, pos_weight: Any) -> tuple[Any, Any]:
    if weight is not None:
        g = g * weight.astype(logits.dtype)
    if pos_weight is None:
        # sigma(z) - y, and d/dy = softplus(-z) - softplus(z) = -z
        return g * (xp.sigmoid(logits) - target), -g * logits
    pw = pos_weight.astype(logits.dtype)
    # d/dz [pw y softplus(-z) + (1 - y) softplus(z)] = (1 + (pw - 1) y) sigma(z) - pw y, which is
    # sigma(z) - y without pos_weight
    grad_z = g * ((1.0 + (pw - 1.0) * target) * xp.sigmoid(logits) - pw * target)
    # d/dy = pw softplus(-z) - softplus(z)
    grad_y = g * (pw * xp.softplus(-logits) - xp.softplus(logits))
    return grad_z, grad_y


# Fast path: both softplus terms from one exp and one log1p. Each is max(+-z, 0) + log1p(e^{-|z|}),
# and max(-z, 0) = max(z, 0) - z exactly, so the transcendentals are shared: half of them.
def _softplus_pair(xp: Any, z: Any) -> tuple[Any, Any]:
    """``softplus(-z)`` and ``softplus(z)``, the values of two calls of ``xp.softplus``."""
    shared = xp.log1p(xp.exp(-xp.abs(z)))
    relu = fast.relu(xp, z)
    return (relu - z) + shared, relu + shared


def _bce_logits_forward_fast(xp: Any, logits: Any, target: Any, *, weight: Any, pos_weight: Any, save: bool) -> tuple[Any, None]:
    positive, negative = _softplus_pair(xp, logits)
    if pos_weight is not None:
        positive = pos_weight.astype(logits.dtype) * positive
    loss = target * positive + (1.0 - target) * negative
    return (loss if weight is None else loss * weight.astype(logits.dtype)), None


def _bce_logits_vjp_fast(xp: Any, g: Any, logits: Any, target: Any, *, weight: Any, pos_weight: Any, saved: None) -> tuple[Any, Any]:
    g = fast.collapse(g) if weight is None else g * weight.astype(logits.dtype)
    if pos_weight is None:
        return (fast.sigmoid(xp, logits) - target) * g, logits * -g
    pw = pos_weight.astype(logits.dtype)
    grad_z = g * ((1.0 + (pw - 1.0) * target) * fast.sigmoid(xp, logits) - pw * target)
    positive, negative = _softplus_pair(xp, logits)
    return grad_z, g * (pw * positive - negative)


BCE_LOGITS_FAST = FastPath(
    forward=_bce_logits_forward_fast,
    vjp=_bce_logits_vjp_fast,
    rowwise=True,
    how="softplus(-z) and softplus(z) share one exp and one log1p; g folded into one number; row blocks on threads",
)


def _check_bce_logits(logits: Any, target: Any, *, weight: Any, pos_weight: Any) -> None:
    same_shape("logits", logits, "target", target)
    _check_broadcast_weight("weight", weight, logits.shape)
    _check_broadcast_weight("pos_weight", pos_weight, logits.shape)


BINARY_CROSS_ENTROPY_WITH_LOGITS = register(
    LossSpec(
        name="binary_cross_entropy_with_logits",
        grid={"weight": (None, weights_per_class()), "pos_weight": (None, weights_per_class())},
        unreduced=elementwise,
        family="classification",
        args=(Arg("logits", "logits", ("N", "C")), Arg("target", "binary", ("N", "C"))),
        forward=_bce_logits_forward,
        vjp=_bce_logits_vjp,
        fast=BCE_LOGITS_FAST,
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
    weight, pos_weight = constant(weight, logits), constant(pos_weight, logits)
    return apply_loss(
        BINARY_CROSS_ENTROPY_WITH_LOGITS, logits, target, reduction=reduction, weight=weight, pos_weight=pos_weight
    )
