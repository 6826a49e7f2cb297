r"""Listwise ranking: :func:`ranking_softmax` (ListNet's softmax cross entropy with graded
relevance labels, optax's ``ranking_softmax_loss``).

One list per row: scores of shape (N, L) and non-negative relevance labels of the same shape,
constants. The block: the reference ``_ranking_softmax_forward`` and ``_ranking_softmax_vjp``,
the registry entry, then the public function.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._apply import apply_loss
from .._shared import in_dtype_of
from .._spec import Arg, LossSpec, register
from .._validate import matrix, same_shape
from ._common import _as_array


def _check_ranking(logits: Any, labels: Any) -> None:
    matrix("logits", logits, "(N, L)")
    same_shape("logits", logits, "labels", labels)


def _ranking_softmax_forward(xp: Any, logits: Any, labels: Any) -> Any:
    return -xp.sum(in_dtype_of(labels, logits) * xp.log_softmax(logits, axis=-1), axis=-1)


def _ranking_softmax_vjp(xp: Any, g: Any, logits: Any, labels: Any) -> tuple[Any]:
    y = in_dtype_of(labels, logits)
    # d/dz of -sum_i y_i log softmax(z)_i = (sum_i y_i) softmax(z) - y
    return (xp.expand_dims(g, -1) * (y.sum(axis=-1, keepdims=True) * xp.softmax(logits, axis=-1) - y),)


RANKING_SOFTMAX = register(
    LossSpec(
        name="ranking_softmax",
        family="classification",
        args=(Arg("logits", "logits", ("N", "C")), Arg("labels", "nonnegative", ("N", "C"), differentiable=False)),
        forward=_ranking_softmax_forward,
        vjp=_ranking_softmax_vjp,
        check=_check_ranking,
        edge_cases={
            "logits of +-1e4, graded and all-zero lists": lambda rng: [
                np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0], [1.0, 2.0, 3.0]]),
                np.array([[2.0, 0.0, 1.0], [0.0, 3.0, 0.0], [0.0, 0.0, 0.0]]),
            ],
        },
        formula=r"\ell = -\sum_i y_i \log \mathrm{softmax}(s)_i, \quad \partial \ell / \partial s = (\textstyle\sum_i y_i)\, \mathrm{softmax}(s) - y",
        reference="Cao et al., ListNet, ICML 2007; Bruch et al., ICTIR 2019; optax.losses.ranking_softmax_loss",
    )
)


def ranking_softmax(logits: Any, labels: Any, reduction: str = "mean") -> Any:
    r"""Ranking softmax loss: softmax cross entropy of each list's scores against its graded
    relevance labels, not normalised (ListNet, Cao et al. 2007; Bruch et al. 2019).

    .. math::  \ell = -\sum_{i=1}^{L} y_i \log \mathrm{softmax}(s)_i, \qquad
               \frac{\partial \ell}{\partial s} = \Bigl(\sum_i y_i\Bigr) \mathrm{softmax}(s) - y

    A list with graded labels :math:`y = (2, 0, 1)` weighs its first item twice; a list with
    no relevant item contributes 0 (and is still counted by ``'mean'``).

    Parameters
    ----------
    logits : array or Tensor, shape (N, L)
        One list of L item scores per row.
    labels : array, shape (N, L)
        Non-negative relevance grades (any real :math:`\ge 0`); constants.
    reduction : {'mean', 'sum', 'none'}

    Notes
    -----
    Equals optax ``ranking_softmax_loss(logits, labels)`` (its default ``reduce_fn`` is the mean
    over lists: ``'mean'``; ``reduce_fn=None`` is ``'none'``). optax's ``weights`` multiply the
    labels: pass ``labels * weights`` here. Its ``where`` mask (items removed from a list) has no
    counterpart: give masked items labels 0 and scores of a large negative number, or split
    the lists. :func:`soft_target_cross_entropy` is the special case of labels summing to 1.

    Raises
    ------
    ValueError
        ``logits`` not 2-D; shapes that differ; negative labels; NaN.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(ranking_softmax(np.array([[0.0, 0.0]]), np.array([[2.0, 0.0]]))), 10)
    1.3862943611
    """
    return apply_loss(RANKING_SOFTMAX, logits, _as_array(labels), reduction=reduction)


__all__ = ["ranking_softmax"]
