r"""Divergences between distributions: the Kullback-Leibler divergence (:func:`kl_div`, PyTorch's
argument order and reductions) and knowledge distillation (:func:`distillation`, cross entropy
mixed with the KL divergence from a teacher's softened distribution).

The KL target is differentiated, as PyTorch does; the teacher's logits and the hard labels of
distillation are constants.

Each loss is one block: the reference ``_x_forward`` and ``_x_vjp``, its checks and kinks, the
registry entry, then the public function.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._apply import apply_loss
from .._params import flag, real
from .._reduction import mean_weight
from .._shared import one_hot, xlogx
from .._spec import Arg, LossSpec, OnInputs, elementwise, register
from .._validate import in_range, same_shape
from ._common import _check_class_axis
from .cross_entropy import softmax_xent_vjp

# ------------------------------------------------------------------------------------ KL divergence


def _kl_forward(xp: Any, input: Any, target: Any, *, log_target: bool) -> Any:  # noqa: A002  (PyTorch's name)
    if log_target:
        return xp.exp(target) * (target - input)
    return xlogx(xp, target) - target * input


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
        return mean_weight(input.shape[0] if input.ndim else 1)
    return mean_weight(input.size)


def _check_kl(input: Any, target: Any, *, log_target: Any) -> None:  # noqa: A002
    same_shape("input", input, "target", target)
    if flag("log_target", log_target):
        in_range("target", target, None, 0.0, "log-probabilities (<= 0) with log_target=True")
    else:
        in_range("target", target, 0.0, 1.0, "probabilities in [0, 1] (pass log_target=True for log-probabilities)")


def _kl_kinks(input: Any, target: Any, *, log_target: bool) -> Any:  # noqa: A002
    # p log p has an infinite slope at p = 0: keep the finite differences away from it
    return np.full(target.shape, np.inf) if log_target else target


KL_DIV = register(
    LossSpec(
        name="kl_div",
        grid={  # log_target=True: the target as log-probabilities too
            "log_target": (
                False,
                OnInputs(True, lambda rng, s: [np.log(rng.dirichlet(2.0 * np.ones(s["C"]), s["N"])) for _ in range(2)]),
            )
        },
        unreduced=elementwise,
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
        ``'mean'`` divides the sum by the number of *elements*, as PyTorch's ``'mean'`` does.
        ``'batchmean'`` divides it by the size of the first axis (the batch). For (N, C) inputs,
        one distribution per row, ``'mean'`` is not the mean KL divergence but that divided by
        C, and ``'batchmean'`` is the true mean KL per sample: use it. For more axes, e.g.
        (N, C, d1, ...) with a distribution along C at each position, ``'mean'`` is the mean KL
        per position divided by C, and ``'batchmean'`` the KL summed over the positions of a
        sample, averaged over the samples (divide by :math:`d_1 \cdots` for the mean KL per
        position).

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


def _teacher(xp: Any, teacher: Any, temperature: float) -> tuple[Any, Any]:
    """The teacher's softened distribution p = softmax(t/T) and its log: constants."""
    log_p = xp.log_softmax(teacher / temperature, axis=1)
    return log_p, xp.exp(log_p)


def _distillation_forward(xp: Any, student_logits: Any, teacher_logits: Any, target: Any, *, temperature: float, alpha: float) -> Any:
    log_p, p = _teacher(xp, xp.as_data(teacher_logits), temperature)
    hot = one_hot(xp.as_data(target), student_logits.shape[1], 1, student_logits.dtype)
    hard = -xp.sum(hot * xp.log_softmax(student_logits, axis=1), axis=1)
    # KL(p || q) with q = softmax(s/T): finite, since log_softmax is, and p = 0 only by underflow
    soft = xp.sum(p * (log_p - xp.log_softmax(student_logits / temperature, axis=1)), axis=1)
    return alpha * hard + (1.0 - alpha) * temperature * temperature * soft


def _distillation_vjp(
    xp: Any, g: Any, student_logits: Any, teacher_logits: Any, target: Any, *, temperature: float, alpha: float
) -> tuple[Any]:
    _, p = _teacher(xp, xp.as_data(teacher_logits), temperature)
    # hard: softmax(s) - y, the cross-entropy gradient; soft: T^2 * (1/T) (softmax(s/T) - p), the
    # 1/T from the chain rule
    hard = softmax_xent_vjp(xp, alpha * g, student_logits, xp.as_data(target))
    soft = xp.expand_dims((1.0 - alpha) * temperature * g, 1) * (xp.softmax(student_logits / temperature, axis=1) - p)
    return (hard + soft,)


def _check_distillation(student_logits: Any, teacher_logits: Any, target: Any, *, temperature: Any, alpha: Any) -> None:
    same_shape("student_logits", student_logits, "teacher_logits", teacher_logits)
    _check_class_axis("student_logits", student_logits, "target", target)
    real("temperature", temperature, low=0.0, low_open=True)
    real("alpha", alpha, low=0.0, high=1.0)


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

    The :math:`T^2` keeps the soft term's gradient comparable to the hard term's as the
    temperature changes (Hinton et al., section 2): the KL's own gradient,
    :math:`\tfrac1T(\mathrm{softmax}(s/T) - \mathrm{softmax}(t/T))`, scales as :math:`1/T^2`
    for large :math:`T` (it tends to :math:`(s - t - \overline{s - t}) / (C T^2)`), so times
    :math:`T^2` it settles to a constant: for 5 random logits its norm times :math:`T^2` is
    0.363, 0.366, 0.367 at :math:`T = 5, 20, 80`, while times :math:`T` it halves at each
    doubling of :math:`T`.

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
        ``'none'`` gives one :math:`\ell_i` per sample and position, shape (N,) or
        (N, d1, ...). ``'mean'`` divides their sum by their number: :math:`N` for (N, C)
        inputs, :math:`N \cdot d_1 \cdots` for (N, C, d1, ...) inputs, the divisor of
        ``F.cross_entropy``'s ``'mean'`` for both terms. For (N, C) inputs this is the KL's
        ``'batchmean'``; for (N, C, d1, ...) inputs it is not (see below).

    PyTorch has no distillation loss; the usual recipe is
    ``alpha * F.cross_entropy(s, y) + (1 - alpha) * T**2 * F.kl_div(F.log_softmax(s / T, 1),
    F.softmax(t / T, 1), reduction='batchmean')``, which this equals for (N, C) inputs. For
    (N, C, d1, ...) inputs ``'batchmean'`` divides the KL's sum by :math:`N` alone, so that
    recipe's soft term is :math:`d_1 \cdots` times this one (20 times for (2, 3, 4, 5) logits)
    while its cross entropy is still averaged over every position. nploss keeps the per-position
    mean for both terms (the choice here: a position is a sample, as in cross entropy); its
    PyTorch equivalent for any shape replaces ``reduction='batchmean'`` by ``reduction='sum'``
    and divides by ``s.numel() // s.shape[1]``.

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
