r"""Penalties on weights: L1 (lasso), L2 (ridge, without a factor 1/2) and the elastic net,
on one weight tensor or summed over a sequence of them (``model.parameters()``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ...autograd import Tensor, as_data
from ...backend import get_array_module
from .. import _params
from .._apply import apply_loss
from .._spec import Arg, LossSpec, Tie, elementwise, register

__all__ = ["l1_penalty", "l2_penalty", "elastic_net"]


# ------------------------------------------------------------------------------------ shared by the three penalties

WEIGHT = (Arg("weights", "real", ("N", "D")),)


def _abs_kinks(weights: Any, **_: Any) -> Any:
    return np.abs(weights)


def _penalty_edges() -> dict[str, Any]:
    return {
        "zero weights": lambda rng: [np.array([[0.0, 0.0], [0.0, 1.0]])],
        "weights of 1e4": lambda rng: [np.array([[1e4, -1e4], [0.5, 0.0]])],
    }


def _penalty(spec: LossSpec, weights: Any, reduction: str, **params: Any) -> Any:
    """One weight tensor, or the penalty summed over a sequence of them (model.parameters())."""
    if isinstance(weights, Tensor) or hasattr(weights, "shape") or not isinstance(weights, Iterable):
        return apply_loss(spec, weights, reduction=reduction, **params)
    items = list(weights)
    if not items:
        raise ValueError("weights must be an array, a Tensor or a non-empty sequence of them, got an empty sequence")
    if reduction not in ("sum", "mean"):
        raise ValueError(f"reduction must be 'sum' or 'mean' for a sequence of weight tensors, got {reduction!r}")
    terms = [apply_loss(spec, w, reduction="sum", **params) for w in items]
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    if reduction == "mean":
        total = total * (1.0 / sum(int(np.prod(np.shape(as_data(w)))) for w in items))
    return total if isinstance(total, Tensor) else get_array_module(as_data(total)).asarray(total)


# ------------------------------------------------------------------------------------ L1 penalty


def _l1_forward(xp: Any, weights: Any, *, lam: float) -> Any:
    return lam * xp.abs(weights)


def _l1_vjp(xp: Any, g: Any, weights: Any, *, lam: float) -> tuple[Any]:
    return (lam * g * xp.sign(weights),)  # subgradient 0 at w = 0, as PyTorch's abs


L1_PENALTY = register(
    LossSpec(
        name="l1_penalty",
        ties={
            "a weight of exactly 0": Tie(
                inputs=lambda: [np.array([[0.0, 1.0, -2.0]])],
                subgradient="sign(0) = 0, as PyTorch's abs",
                expected=lambda weights, **p: [np.array([[0.0, 0.01, -0.01]])],
                value=lambda weights, **p: 0.01 * 3.0,
            )
        },
        unreduced=elementwise,
        family="multitask",
        args=WEIGHT,
        forward=_l1_forward,
        vjp=_l1_vjp,
        params={"lam": 0.01},
        kinks=_abs_kinks,
        edge_cases=_penalty_edges(),
        formula=r"R = \lambda \sum_i |w_i|, \quad \partial R / \partial w_i = \lambda\,\mathrm{sign}(w_i)",
        reference="seed 002 section 8; Tibshirani 1996 (lasso); keras.regularizers.L1",
    )
)


def l1_penalty(weights: Any, lam: float = 0.01, reduction: str = "sum") -> Any:
    r"""L1 (lasso) penalty :math:`\lambda \sum_i |w_i|`, which drives weights to exactly zero.

    .. math::  R = \lambda \sum_i |w_i|, \qquad \frac{\partial R}{\partial w_i} = \lambda\, \mathrm{sign}(w_i)

    Kink at :math:`w_i = 0`, where the subgradient 0 is used (as PyTorch's ``abs``).

    Parameters
    ----------
    weights : array or Tensor, or a sequence of them (e.g. ``model.parameters()``)
    lam : float
        :math:`\lambda \ge 0` (0.01 by default, as ``keras.regularizers.L1``).
    reduction : {'sum', 'mean', 'none'}
        'sum' (the default) is the penalty; 'mean' divides by the number of weights; 'none'
        (a single tensor only) returns :math:`\lambda |w_i|` element-wise.

    Examples
    --------
    >>> import numpy as np
    >>> float(l1_penalty(np.array([1.0, -2.0, 0.0]), lam=0.5))
    1.5
    """
    return _penalty(L1_PENALTY, weights, reduction, lam=_params.real("lam", lam, low=0.0))


# ------------------------------------------------------------------------------------ L2 penalty


def _l2_forward(xp: Any, weights: Any, *, lam: float) -> Any:
    return lam * weights * weights


def _l2_vjp(xp: Any, g: Any, weights: Any, *, lam: float) -> tuple[Any]:
    return (2.0 * lam * g * weights,)


L2_PENALTY = register(
    LossSpec(
        name="l2_penalty",
        unreduced=elementwise,
        family="multitask",
        args=WEIGHT,
        forward=_l2_forward,
        vjp=_l2_vjp,
        params={"lam": 0.01},
        edge_cases=_penalty_edges(),
        formula=r"R = \lambda \sum_i w_i^2, \quad \partial R / \partial w_i = 2 \lambda w_i",
        reference="seed 002 section 8; Hoerl & Kennard 1970 (ridge); keras.regularizers.L2",
    )
)


def l2_penalty(weights: Any, lam: float = 0.01, reduction: str = "sum") -> Any:
    r"""L2 (ridge) penalty :math:`\lambda \sum_i w_i^2`, without a factor 1/2.

    .. math::  R = \lambda \sum_i w_i^2, \qquad \frac{\partial R}{\partial w_i} = 2 \lambda w_i

    Convention: as the seed and ``keras.regularizers.L2`` (no 1/2). PyTorch's
    ``weight_decay=wd`` in :class:`torch.optim.SGD` (and :class:`nploss.optim.SGD`) adds
    :math:`\mathrm{wd}\, w` to the gradient, which is the gradient of
    :math:`\tfrac{\mathrm{wd}}{2}\sum_i w_i^2`: it equals ``l2_penalty(w, lam=wd / 2)``. The
    same holds for :class:`torch.optim.Adam` and :class:`nploss.optim.Adam`: their
    ``weight_decay=wd`` is also added to the gradient before the moments, so Adam with
    ``weight_decay=wd`` and Adam on the loss plus ``l2_penalty(w, lam=wd / 2)`` take the same
    steps (in both, the penalty's gradient is rescaled by the adaptive denominator). What differs
    is *decoupled* weight decay, :class:`torch.optim.AdamW` (:class:`nploss.optim.AdamW`), which
    shrinks the weights by :math:`\eta\,\mathrm{wd}\,w` outside the adaptive step: no penalty
    added to the loss reproduces it (Loshchilov & Hutter 2019).

    Parameters
    ----------
    weights : array or Tensor, or a sequence of them (e.g. ``model.parameters()``)
    lam : float
        :math:`\lambda \ge 0` (0.01 by default, as ``keras.regularizers.L2``).
    reduction : {'sum', 'mean', 'none'}
        As :func:`l1_penalty`.

    Examples
    --------
    >>> import numpy as np
    >>> float(l2_penalty(np.array([1.0, -2.0, 0.0]), lam=0.5))
    2.5
    """
    return _penalty(L2_PENALTY, weights, reduction, lam=_params.real("lam", lam, low=0.0))


# ------------------------------------------------------------------------------------ elastic net


def _elastic_forward(xp: Any, weights: Any, *, l1: float, l2: float) -> Any:
    return l1 * xp.abs(weights) + l2 * weights * weights


def _elastic_vjp(xp: Any, g: Any, weights: Any, *, l1: float, l2: float) -> tuple[Any]:
    return (g * (l1 * xp.sign(weights) + 2.0 * l2 * weights),)


ELASTIC_NET = register(
    LossSpec(
        name="elastic_net",
        unreduced=elementwise,
        family="multitask",
        args=WEIGHT,
        forward=_elastic_forward,
        vjp=_elastic_vjp,
        params={"l1": 0.01, "l2": 0.01},
        kinks=_abs_kinks,
        edge_cases=_penalty_edges(),
        formula=r"R = \lambda_1 \sum_i |w_i| + \lambda_2 \sum_i w_i^2, "
        r"\quad \partial R / \partial w_i = \lambda_1 \mathrm{sign}(w_i) + 2\lambda_2 w_i",
        reference="seed 002 section 8; Zou & Hastie 2005; keras.regularizers.L1L2",
    )
)


def elastic_net(weights: Any, l1: float = 0.01, l2: float = 0.01, reduction: str = "sum") -> Any:
    r"""Elastic net: the L1 and L2 penalties together (Zou & Hastie 2005).

    .. math::  R = \lambda_1 \sum_i |w_i| + \lambda_2 \sum_i w_i^2, \qquad
               \frac{\partial R}{\partial w_i} = \lambda_1\, \mathrm{sign}(w_i) + 2 \lambda_2 w_i

    The L2 part has no 1/2, as in seed 002 §8, ``keras.regularizers.L1L2`` and Zou & Hastie's
    penalty :math:`\lambda_1 \|\beta\|_1 + \lambda_2 \|\beta\|_2^2` (see :func:`l2_penalty` for
    PyTorch's weight decay). scikit-learn's ``ElasticNet`` puts a 1/2 on the L2 term and a
    mixing ratio in front: its ``alpha``, ``l1_ratio`` are ``l1 = alpha * l1_ratio``,
    ``l2 = alpha * (1 - l1_ratio) / 2`` here.

    Parameters
    ----------
    weights : array or Tensor, or a sequence of them
    l1, l2 : float
        :math:`\lambda_1, \lambda_2 \ge 0` (0.01 each by default, as ``keras.regularizers.L1`` and
        ``L2``; Keras 3's ``L1L2``/``l1_l2`` default to 0, Keras 2's ``l1_l2`` to 0.01).
    reduction : {'sum', 'mean', 'none'}
        As :func:`l1_penalty`.

    Examples
    --------
    >>> import numpy as np
    >>> float(elastic_net(np.array([1.0, -2.0]), l1=0.5, l2=0.25))
    2.75
    """
    l1, l2 = _params.real("l1", l1, low=0.0), _params.real("l2", l2, low=0.0)
    return _penalty(ELASTIC_NET, weights, reduction, l1=l1, l2=l2)
