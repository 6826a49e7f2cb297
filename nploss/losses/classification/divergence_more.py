r"""More divergences: the generalized Kullback-Leibler divergence between non-negative vectors
(:func:`generalized_kl`, optax's) and the Jensen-Shannon divergence (:func:`js_div`, kornia's).

Both sum over the last axis (one measure per row, as optax and kornia do), so ``'none'`` gives
one value per row, and both arguments are differentiated. :math:`0 \log 0 = 0`; where a target
entry is exactly 0 the infinite slope of :math:`p \log p` is replaced by 0, as in
:func:`kl_div`.

Each loss is one block: the reference ``_x_forward`` and ``_x_vjp``, its checks and kinks, the
registry entry, then the public function.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._apply import apply_loss
from .._shared import xlogx
from .._spec import Arg, LossSpec, register
from .._validate import matrix, same_shape


def _safe_log(xp: Any, p: Any) -> Any:
    """log p where p > 0, 0 where p = 0 (the masked slope of p log p), without evaluating log 0."""
    positive = p > 0.0
    return xp.where(positive, xp.log(xp.where(positive, p, 1.0)), 0.0)


def _check_pair(name_a: str, a: Any, name_b: str, b: Any) -> None:
    matrix(name_a, a, "(N, C)")
    same_shape(name_a, a, name_b, b)


# ------------------------------------------------------------------------------------ generalized KL


def _generalized_kl_forward(xp: Any, input: Any, target: Any) -> Any:
    return xp.sum(xlogx(xp, target) - target * input - target + xp.exp(input), axis=-1)


def _generalized_kl_vjp(xp: Any, g: Any, input: Any, target: Any) -> tuple[Any, Any]:
    g = xp.expand_dims(g, -1)
    # d/dx = e^x - p; d/dp = (log p + 1) - x - 1 = log p - x (log p taken as 0 at p = 0)
    return g * (xp.exp(input) - target), g * (_safe_log(xp, target) - input)


GENERALIZED_KL = register(
    LossSpec(
        name="generalized_kl",
        family="classification",
        args=(Arg("input", "real", ("N", "C")), Arg("target", "nonnegative", ("N", "C"))),
        forward=_generalized_kl_forward,
        vjp=_generalized_kl_vjp,
        check=lambda input, target: _check_pair("input", input, "target", target),
        kinks=lambda input, target: target,
        sampler=lambda rng, s: [rng.standard_normal((s["N"], s["C"])), rng.uniform(0.2, 2.0, (s["N"], s["C"]))],
        edge_cases={
            "targets of exactly 0, log-measures of -30 and 30": lambda rng: [
                np.array([[-30.0, 0.0, 30.0], [0.0, 1.0, -1.0]]),
                np.array([[0.0, 1.0, 2.0], [0.0, 0.0, 3.0]]),
            ],
        },
        stability_exceptions={
            "large scale": "the input is a log-measure: exp(1e4 x) overflows, whatever the implementation",
        },
        formula=r"\ell = \sum_c \bigl[p_c (\log p_c - x_c) - p_c + e^{x_c}\bigr],\ x = \log q, \quad "
        r"\partial \ell / \partial x = e^x - p, \quad \partial \ell / \partial p = \log p - x",
        reference="Lee & Seung, NIPS 2000 (I-divergence); optax.losses.generalized_kl_divergence",
    )
)


def generalized_kl(input: Any, target: Any, reduction: str = "mean") -> Any:
    r"""Generalized Kullback-Leibler divergence :math:`D(p \,\|\, q)` between non-negative vectors
    (the I-divergence; the Bregman divergence of :math:`x \log x - x`), with optax's and
    PyTorch's ``kl_div`` argument order: ``input`` is :math:`x = \log q`, ``target`` is :math:`p`.

    .. math::  \ell = \sum_c \bigl[p_c (\log p_c - x_c) - p_c + e^{x_c}\bigr], \qquad
               \frac{\partial \ell}{\partial x} = e^{x} - p, \qquad
               \frac{\partial \ell}{\partial p} = \log p - x

    It is :math:`\ge 0`, zero only at :math:`q = p`, and equals the KL divergence when both sum
    to 1. :math:`0 \log 0 = 0`; at a target entry of exactly 0 the gradient in :math:`p` is
    :math:`-x` (the infinite slope of :math:`p \log p` replaced by 0, as :func:`kl_div` does).

    Parameters
    ----------
    input : array or Tensor, shape (N, C)
        Log-measures :math:`\log q` (any real).
    target : array or Tensor, shape (N, C)
        Non-negative :math:`p` (need not sum to 1); differentiated.
    reduction : {'mean', 'sum', 'none'}
        Over the N rows (the sum runs over the last axis first).

    Notes
    -----
    Equals optax ``generalized_kl_divergence(log_predictions, targets)`` (``axis=-1``, no
    ``where``), which returns the (N,) values: ``reduction='none'``. nploss takes (N, C) only.

    Raises
    ------
    ValueError
        ``input`` not 2-D; shapes that differ; a negative target; NaN.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(generalized_kl(np.log(np.array([[1.0, 2.0]])), np.array([[2.0, 2.0]]))), 10)
    0.3862943611
    """
    return apply_loss(GENERALIZED_KL, input, target, reduction=reduction)


# ------------------------------------------------------------------------------------ Jensen-Shannon


def _js_forward(xp: Any, input: Any, target: Any) -> Any:
    m = 0.5 * (input + target)
    log_m = _safe_log(xp, m)
    kl_p = xlogx(xp, input) - input * log_m
    kl_q = xlogx(xp, target) - target * log_m
    return 0.5 * xp.sum(kl_p + kl_q, axis=-1)


def _js_vjp(xp: Any, g: Any, input: Any, target: Any) -> tuple[Any, Any]:
    # d/dp of 1/2 [p log p + q log q - (p + q) log m] = 1/2 [log p + 1 - log m - 1] = 1/2 log(p / m)
    g = xp.expand_dims(g, -1)
    log_m = _safe_log(xp, 0.5 * (input + target))
    return 0.5 * g * (_safe_log(xp, input) - log_m), 0.5 * g * (_safe_log(xp, target) - log_m)


JS_DIV = register(
    LossSpec(
        name="js_div",
        family="classification",
        args=(Arg("input", "simplex", ("N", "C")), Arg("target", "simplex", ("N", "C"))),
        forward=_js_forward,
        vjp=_js_vjp,
        check=lambda input, target: _check_pair("input", input, "target", target),
        kinks=lambda input, target: np.minimum(input, target),
        sampler=lambda rng, s: [
            rng.dirichlet(2.0 * np.ones(s["C"]), s["N"]),
            rng.dirichlet(2.0 * np.ones(s["C"]), s["N"]),
        ],
        edge_cases={
            "probabilities of exactly 0 and 1": lambda rng: [
                np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]]),
                np.array([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5]]),
            ],
        },
        stability_exceptions={
            "large scale": "the inputs are rows of probabilities: scaled by 1e4 they leave the simplex and are refused",
        },
        formula=r"\ell = \tfrac12 \mathrm{KL}(p \,\|\, m) + \tfrac12 \mathrm{KL}(q \,\|\, m),\ m = \tfrac12 (p + q), \quad "
        r"\partial \ell / \partial p = \tfrac12 \log(p / m)",
        reference="Lin, IEEE Trans. Inf. Theory 1991; kornia.losses.js_div_loss_2d",
    )
)


def js_div(input: Any, target: Any, reduction: str = "mean") -> Any:
    r"""Jensen-Shannon divergence between rows of probabilities, in nats, with weights 1/2.

    .. math::  \ell = \tfrac12 \mathrm{KL}(p \,\|\, m) + \tfrac12 \mathrm{KL}(q \,\|\, m), \quad
               m = \tfrac12 (p + q), \qquad
               \frac{\partial \ell}{\partial p} = \tfrac12 \log \frac{p}{m}, \quad
               \frac{\partial \ell}{\partial q} = \tfrac12 \log \frac{q}{m}

    Symmetric, :math:`0 \le \ell \le \log 2`. Both arguments are probabilities (not
    log-probabilities, unlike :func:`kl_div`) and both are differentiated. At an entry of
    exactly 0 the gradient's infinite slope is replaced by 0 (:math:`\log 0 \to 0`).

    Parameters
    ----------
    input : array or Tensor, shape (N, C)
        Rows :math:`p` on the probability simplex.
    target : array or Tensor, shape (N, C)
        Rows :math:`q` on the probability simplex.
    reduction : {'mean', 'sum', 'none'}

    Notes
    -----
    kornia ``js_div_loss_2d(pred, target)`` takes heatmaps (B, C, H, W), each (H, W) map a
    distribution, and computes the same divergence per (b, c) with natural logarithms and weights
    1/2: it equals ``js_div(pred.reshape(B * C, H * W), target.reshape(B * C, H * W))``
    (``'mean'`` over the B C maps; ``'none'`` reshaped to (B, C)). Neither optax nor Keras has a
    Jensen-Shannon loss. Some texts use base-2 logarithms (bounded by 1): divide by
    :math:`\log 2`.

    Raises
    ------
    ValueError
        ``input`` not 2-D; shapes that differ; rows off the simplex.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(js_div(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]))), 10)
    0.6931471806
    """
    return apply_loss(JS_DIV, input, target, reduction=reduction)


__all__ = ["generalized_kl", "js_div"]
