r"""Cross entropies reshaped for noisy labels or tuned tails: PolyLoss (:func:`poly1`, Leng et
al. 2022, optax's ``poly_loss_cross_entropy``) and the generalized cross entropy
(:func:`generalized_cross_entropy`, Zhang & Sabuncu 2018, Keras's
``CategoricalGeneralizedCrossEntropy``).

Both keep the classes on the last axis, as optax and Keras do. The targets are constants.

Each loss is one block: the reference ``_x_forward`` and ``_x_vjp``, its checks and kinks, the
registry entry, then the public function.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...autograd import as_data
from .._apply import apply_loss
from .._params import real
from .._shared import in_dtype_of, one_hot
from .._spec import Arg, LossSpec, register
from .._validate import matrix, same_shape
from ._common import _as_array

# ------------------------------------------------------------------------------------ PolyLoss


def _check_poly1(logits: Any, target: Any, *, epsilon: Any) -> None:
    real("epsilon", epsilon, low=-1.0)
    matrix("logits", logits, "(N, C)")
    same_shape("logits", logits, "target", target)


def _poly1_forward(xp: Any, logits: Any, target: Any, *, epsilon: float) -> Any:
    y = in_dtype_of(target, logits)
    cross_entropy = -xp.sum(y * xp.log_softmax(logits, axis=-1), axis=-1)
    return cross_entropy + epsilon * (1.0 - xp.sum(y * xp.softmax(logits, axis=-1), axis=-1))


def _poly1_vjp(xp: Any, g: Any, logits: Any, target: Any, *, epsilon: float) -> tuple[Any]:
    y = in_dtype_of(target, logits)
    p = xp.softmax(logits, axis=-1)
    p_t = xp.sum(y * p, axis=-1, keepdims=True)  # <y, p>
    # d(CE)/dz = (sum y) p - y;  d(1 - <y, p>)/dz_j = -p_j (y_j - <y, p>)
    d = y.sum(axis=-1, keepdims=True) * p - y + epsilon * p * (p_t - y)
    return (xp.expand_dims(g, -1) * d,)


POLY1 = register(
    LossSpec(
        name="poly1",
        family="classification",
        args=(Arg("logits", "logits", ("N", "C")), Arg("target", "simplex", ("N", "C"), differentiable=False)),
        forward=_poly1_forward,
        vjp=_poly1_vjp,
        params={"epsilon": 2.0},
        check=_check_poly1,
        edge_cases={
            "logits of +-1e4": lambda rng: [
                np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0], [5.0, 5.0, 5.0]]),
                np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.2, 0.3, 0.5]]),
            ],
        },
        formula=r"\ell = -\sum_c y_c \log p_c + \varepsilon (1 - \langle y, p \rangle),\ p = \mathrm{softmax}(z), \quad "
        r"\partial \ell / \partial z = (\textstyle\sum_c y_c) p - y + \varepsilon\, p \odot (\langle y, p \rangle - y)",
        reference="Leng et al., ICLR 2022, arXiv:2204.12511; optax.losses.poly_loss_cross_entropy",
    )
)


def poly1(logits: Any, target: Any, epsilon: float = 2.0, reduction: str = "mean") -> Any:
    r"""Poly-1 loss (PolyLoss, Leng et al. 2022): cross entropy plus :math:`\varepsilon` times the
    first term of its Taylor expansion in :math:`1 - p_t`.

    .. math::  \ell = -\sum_c y_c \log p_c + \varepsilon (1 - p_t), \qquad
               p = \mathrm{softmax}(z), \ p_t = \langle y, p \rangle

    .. math::  \frac{\partial \ell}{\partial z} = \Bigl(\sum_c y_c\Bigr) p - y
               + \varepsilon\, p \odot (p_t - y)

    Parameters
    ----------
    logits : array or Tensor, shape (N, C)
    target : array, shape (N, C)
        Rows of probabilities (one-hot or smoothed labels); a constant.
    epsilon : float
        :math:`\varepsilon \ge -1` (default 2.0, optax's); 0 gives soft-target cross entropy.
        Below -1 the loss is no longer monotone in :math:`p_t`, so it is refused.
    reduction : {'mean', 'sum', 'none'}

    Notes
    -----
    Equals optax ``poly_loss_cross_entropy(logits, labels, epsilon=...)`` (unreduced, (N,):
    ``reduction='none'``; nploss has no ``where`` mask and takes (N, C) only). The paper's
    experiments use :math:`\varepsilon = 1` or 2 depending on the task; there is no library
    default other than optax's.

    Raises
    ------
    ValueError
        ``logits`` not 2-D; shapes that differ; ``target`` rows off the simplex; ``epsilon`` below
        -1 or not finite.
    TypeError
        ``epsilon`` not a real number.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(poly1(np.array([[2.0, 0.0]]), np.array([[1.0, 0.0]]), epsilon=1.0)), 10)
    0.2461309331
    """
    return apply_loss(POLY1, logits, _as_array(target), reduction=reduction, epsilon=epsilon)


# ------------------------------------------------------------------------------------ generalized cross entropy


def _check_gce(probs: Any, target: Any, *, q: Any) -> None:
    real("q", q, low=0.0, high=1.0, low_open=True, high_open=True)
    matrix("probs", probs, "(N, C)")
    if tuple(target.shape) != (probs.shape[0],):
        raise ValueError(
            f"target must have shape (N,) = ({probs.shape[0]},) for probs of shape {tuple(probs.shape)}, got {tuple(target.shape)}"
        )


def _true_prob(xp: Any, probs: Any, target: Any) -> Any:
    return xp.take_along_axis(probs, as_data(target)[:, None], axis=1)[:, 0]


def _gce_forward(xp: Any, probs: Any, target: Any, *, q: float) -> Any:
    return (1.0 - _true_prob(xp, probs, target) ** q) / q


def _gce_vjp(xp: Any, g: Any, probs: Any, target: Any, *, q: float) -> tuple[Any]:
    p_y = _true_prob(xp, probs, target)
    # d/dp_y (1 - p_y^q) / q = -p_y^(q - 1): infinite at p_y = 0 for q < 1, as the formula says
    hot = one_hot(target, probs.shape[1], axis=1, dtype=bool)
    return (xp.where(hot, xp.expand_dims(-g * p_y ** (q - 1.0), 1), 0.0),)


GENERALIZED_CROSS_ENTROPY = register(
    LossSpec(
        name="generalized_cross_entropy",
        family="classification",
        args=(Arg("probs", "simplex", ("N", "C")), Arg("target", "label", ("N",), differentiable=False)),
        forward=_gce_forward,
        vjp=_gce_vjp,
        params={"q": 0.5},
        check=_check_gce,
        classes_from="probs",
        # the gradient -p_y^(q-1) is infinite at p_y = 0: keep the finite differences away from it
        kinks=lambda probs, target, q: np.take_along_axis(probs, target[:, None], axis=1)[:, 0],
        sampler=lambda rng, s: [rng.dirichlet(2.0 * np.ones(s["C"]), s["N"]), rng.integers(0, s["C"], s["N"])],
        edge_cases={
            "probability 1 of the right class": lambda rng: [
                np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]]),
                np.array([0, 1]),
            ],
        },
        stability_exceptions={
            "large scale": "the probabilities are rows of the simplex: scaled by 1e4 they leave it and are refused",
        },
        formula=r"\ell = \frac{1 - p_y^q}{q}, \quad \partial \ell / \partial p_y = -p_y^{q - 1}",
        reference="Zhang & Sabuncu, NeurIPS 2018, arXiv:1805.07836; keras.losses.CategoricalGeneralizedCrossEntropy",
    )
)


def generalized_cross_entropy(probs: Any, target: Any, q: float = 0.5, reduction: str = "mean") -> Any:
    r"""Generalized cross entropy :math:`L_q` (Zhang & Sabuncu 2018), a loss robust to noisy labels
    between cross entropy (:math:`q \to 0`) and the mean absolute error (:math:`q = 1`).

    .. math::  \ell = \frac{1 - p_y^q}{q}, \qquad
               \frac{\partial \ell}{\partial p_y} = -p_y^{q - 1}, \quad
               \frac{\partial \ell}{\partial p_c} = 0 \ (c \ne y)

    Parameters
    ----------
    probs : array or Tensor, shape (N, C)
        Predicted probabilities (rows on the simplex, e.g. a softmax): not logits.
    target : integer array, shape (N,)
    q : float
        In (0, 1); default 0.5, Keras's.
    reduction : {'mean', 'sum', 'none'}

    Notes
    -----
    Keras ``CategoricalGeneralizedCrossEntropy(q=0.5)(y_true, y_pred)`` takes the arguments the
    other way round (integer labels first) and averages over the batch (``'mean'``); its function
    ``categorical_generalized_cross_entropy`` returns the (N,) values (``'none'``). The gradient
    is infinite at :math:`p_y = 0` (the formula's), so the loss stays finite there but its
    gradient does not; softmax outputs never reach 0 exactly.

    Raises
    ------
    ValueError
        ``probs`` not 2-D or rows off the simplex; ``target`` not of shape (N,) or labels outside
        [0, C); ``q`` outside (0, 1).
    TypeError
        ``target`` not integer; ``q`` not a real number.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(generalized_cross_entropy(np.array([[0.25, 0.75]]), np.array([0]))), 10)
    1.0
    """
    return apply_loss(GENERALIZED_CROSS_ENTROPY, probs, target, reduction=reduction, q=q)


__all__ = ["generalized_cross_entropy", "poly1"]
