r"""Binary margin losses: surrogates of the 0-1 loss written in the margin.

They take real scores :math:`f` and targets :math:`y \in \{-1, +1\}` (given explicitly: nploss
never maps ``{0, 1}`` labels for you) and are functions of the *margin* :math:`z = y f`, the
signed confidence of the right answer:

=================  ==========================================  ==========================
loss               :math:`\ell(z)`                             :math:`\ell'(z)`
=================  ==========================================  ==========================
``hinge``          :math:`\max(0, m - z)`                      :math:`-[z < m]`
``squared_hinge``  :math:`\max(0, 1 - z)^2`                    :math:`-2\max(0, 1 - z)`
``smoothed_hinge`` quadratic on :math:`(0, 1)`, linear below   :math:`-\mathrm{clip}(1 - z, 0, 1)`
``exponential``    :math:`e^{-z}`                              :math:`-e^{-z}`
``logistic``       :math:`\log(1 + e^{-z})`                    :math:`-\sigma(-z)`
=================  ==========================================  ==========================

and by the chain rule :math:`\partial \ell / \partial f = y\, \ell'(z)` (:func:`_chain`). The
target is never differentiated: it is a label. In the code :math:`z = y f` is that product
(:func:`_margin`), with the labels cast to the dtype of ``f``, so that it keeps the dtype of
``f`` whatever the dtype of the labels; a product by :math:`\pm 1` is exact.

Each loss is one block: the reference ``_x_forward`` and ``_x_vjp``, its fast path where it has
one, its kinks and edge cases, the registry entry, then the public function.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._apply import apply_loss
from .._fast import collapse
from .._params import real
from .._shared import in_dtype_of
from .._spec import Arg, FastPath, LossSpec, Tie, register
from .._validate import same_shape

BINARY = (Arg("scores", "logits"), Arg("target", "sign", differentiable=False))


def _check_binary(scores: Any, target: Any, **params: Any) -> None:
    same_shape("scores", scores, "target", target)
    if "margin" in params:
        # Zero is the perceptron criterion; a negative margin would leave misclassified points
        # within |m| of the boundary unpenalised, which is a sign error rather than a loss.
        real("margin", params["margin"], low=0.0)


def _margin(xp: Any, scores: Any, target: Any) -> Any:
    r""":math:`z = y f` for :math:`y \in \{-1, +1\}`, in the dtype of the scores (a product by
    :math:`\pm 1` is exact: it only flips the sign)."""
    return scores * in_dtype_of(target, scores)


def _chain(xp: Any, target: Any, dz: Any) -> Any:
    r""":math:`\partial \ell / \partial f = y\, \partial \ell / \partial z`."""
    return dz * in_dtype_of(target, dz)


def _binary_edges(margin: float = 1.0, big: float = 1e4) -> dict[str, Any]:
    """Scores of +-big on both sides of both labels, and a point exactly at the margin."""
    return {
        f"scores of +-{big:g}": lambda rng: [np.array([big, -big, big, -big]), np.array([1.0, 1.0, -1.0, -1.0])],
        "margin exactly at the kink": lambda rng: [np.array([margin, -margin, 0.0, 0.5]), np.array([1.0, -1.0, 1.0, -1.0])],
    }


# ------------------------------------------------------------------------------------ hinge


def _hinge_forward(xp: Any, scores: Any, target: Any, *, margin: float) -> Any:
    return xp.relu(margin - _margin(xp, scores, target))


def _hinge_vjp(xp: Any, g: Any, scores: Any, target: Any, *, margin: float) -> tuple[Any]:
    # strictly inside the margin only: at z == margin the subgradient 0 is taken, as relu's
    # (margin - z > 0 exactly when z < margin: a difference of two floats is 0 only if they are equal)
    active = _margin(xp, scores, target) < margin
    return (_chain(xp, target, -g * active),)


# Fast path: the cotangent folded into one number for a 'sum' or 'mean' (one array
# multiplication fewer); in row blocks on threads for large inputs.
def _hinge_vjp_fast(xp: Any, g: Any, scores: Any, target: Any, *, margin: float, saved: None) -> tuple[Any]:
    active = _margin(xp, scores, target) < margin
    return (_chain(xp, target, -collapse(g) * active),)


def _hinge_forward_fast(xp: Any, scores: Any, target: Any, *, margin: float, save: bool) -> tuple[Any, None]:
    return _hinge_forward(xp, scores, target, margin=margin), None  # the reference's: only the gradient is faster


HINGE_FAST = FastPath(
    forward=_hinge_forward_fast,
    vjp=_hinge_vjp_fast,
    rowwise=True,
    how="g folded into one number for a 'sum' or 'mean' cotangent; row blocks on threads",
)


def _hinge_kinks(scores: Any, target: Any, *, margin: float) -> Any:
    return np.abs(margin - _margin(np, scores, target))


HINGE = register(
    LossSpec(
        name="hinge",
        ties={
            "scores exactly at the margin": Tie(
                inputs=lambda: [np.array([1.0, -1.0, 0.5]), np.array([1.0, -1.0, 1.0])],
                subgradient="0 at y f = m, relu's convention; -y inside the margin",
                expected=lambda scores, target, **p: [np.array([0.0, 0.0, -1.0])],
                value=lambda scores, target, **p: 0.5,
            )
        },
        family="classification",
        args=BINARY,
        forward=_hinge_forward,
        vjp=_hinge_vjp,
        fast=HINGE_FAST,
        params={"margin": 1.0},
        check=_check_binary,
        kinks=_hinge_kinks,
        edge_cases=_binary_edges(),
        formula=r"\ell = \max(0, m - y f), \quad \partial \ell / \partial f = -y\,[y f < m]",
        reference="Cortes & Vapnik 1995; sklearn.metrics.hinge_loss (binary)",
    )
)


def hinge(scores: Any, target: Any, margin: float = 1.0, reduction: str = "mean") -> Any:
    r"""Hinge loss of a binary classifier (the SVM loss).

    .. math::  \ell_i = \max(0, m - y_i f_i), \qquad
               \frac{\partial \ell_i}{\partial f_i} = \begin{cases} -y_i & y_i f_i < m \\
               0 & y_i f_i \ge m \end{cases}

    Parameters
    ----------
    scores : array or Tensor, shape (N,) (any shape)
        Real-valued decision scores :math:`f`.
    target : array, same shape as ``scores``
        Labels in :math:`\{-1, +1\}`. Labels in ``{0, 1}`` are refused rather than mapped.
    margin : float
        :math:`m \ge 0`; 1 gives the classic hinge, 0 the perceptron criterion
        :math:`\max(0, -y f)`. A negative margin is refused: it would leave misclassified points
        with :math:`m \le y f < 0` unpenalised.
    reduction : {'mean', 'sum', 'none'}

    Notes
    -----
    The loss has a kink at :math:`y f = m`. There the gradient is the subgradient 0, the one
    ``torch.relu(m - y * f)`` gives (relu's derivative at 0 is 0): a correctly classified point
    exactly on the margin does not pull. With ``margin=1`` and ``'mean'`` it equals
    ``sklearn.metrics.hinge_loss`` in the binary case (which maps its two labels to -1 and +1
    itself); PyTorch has no binary hinge loss (``hinge_embedding_loss`` is a different one).

    Raises
    ------
    ValueError
        ``target`` not in {-1, +1} or not of the shape of ``scores``; NaN or inf in ``scores``;
        a negative or non-finite ``margin``; an unknown ``reduction``.
    TypeError
        ``margin`` not a real number.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(hinge(np.array([2.0, 0.5, -1.0]), np.array([1.0, 1.0, 1.0]))), 10)
    0.8333333333
    """
    return apply_loss(HINGE, scores, target, reduction=reduction, margin=margin)


# ------------------------------------------------------------------------------------ squared hinge


def _squared_hinge_forward(xp: Any, scores: Any, target: Any) -> Any:
    h = xp.relu(1.0 - _margin(xp, scores, target))
    return h * h


def _squared_hinge_vjp(xp: Any, g: Any, scores: Any, target: Any) -> tuple[Any]:
    # d/dz max(0, 1 - z)^2 = -2 max(0, 1 - z): continuous, so no subgradient choice is needed
    return (_chain(xp, target, -2.0 * g * xp.relu(1.0 - _margin(xp, scores, target))),)


def _unit_margin_kinks(scores: Any, target: Any) -> Any:
    """Distance of :math:`y f` to 1: where the second derivative jumps."""
    return np.abs(1.0 - _margin(np, scores, target))


SQUARED_HINGE = register(
    LossSpec(
        name="squared_hinge",
        family="classification",
        args=BINARY,
        forward=_squared_hinge_forward,
        vjp=_squared_hinge_vjp,
        check=_check_binary,
        kinks=_unit_margin_kinks,
        edge_cases=_binary_edges(),
        formula=r"\ell = \max(0, 1 - y f)^2, \quad \partial \ell / \partial f = -2 y \max(0, 1 - y f)",
        reference="Keras squared_hinge (with +-1 targets)",
    )
)


def squared_hinge(scores: Any, target: Any, reduction: str = "mean") -> Any:
    r"""Squared hinge loss (the L2-SVM loss).

    .. math::  \ell_i = \max(0, 1 - y_i f_i)^2, \qquad
               \frac{\partial \ell_i}{\partial f_i} = -2 y_i \max(0, 1 - y_i f_i)

    Differentiable everywhere (the derivative is continuous at :math:`y f = 1`); its second
    derivative jumps there.

    Parameters
    ----------
    scores : array or Tensor
    target : array, same shape, labels in :math:`\{-1, +1\}`
    reduction : {'mean', 'sum', 'none'}

    Notes
    -----
    Keras ``squared_hinge`` computes the same values but silently maps labels in ``{0, 1}`` to
    ``{-1, 1}`` (and averages over the last axis first, which for a mean over equal rows is the
    same number). nploss requires the :math:`\pm 1` labels explicitly: a 0 label is refused,
    since under the formula it would mean "no target" rather than the negative class.
    PyTorch has no squared hinge loss.

    Raises
    ------
    ValueError
        ``target`` not in {-1, +1} or not of the shape of ``scores``; NaN in ``scores``.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(squared_hinge(np.array([2.0, 0.5, -1.0]), np.array([1.0, 1.0, 1.0]))), 10)
    1.4166666667
    """
    return apply_loss(SQUARED_HINGE, scores, target, reduction=reduction)


# ------------------------------------------------------------------------------------ smoothed hinge


def _smoothed_hinge_forward(xp: Any, scores: Any, target: Any) -> Any:
    z = _margin(xp, scores, target)
    # the linear and the quadratic pieces meet at z = 0 with value 1/2 and slope -1, and the
    # quadratic meets 0 at z = 1 with slope 0
    quadratic = 0.5 * xp.square(xp.relu(1.0 - z))
    return xp.where(z <= 0, 0.5 - z, quadratic)


def _smoothed_hinge_vjp(xp: Any, g: Any, scores: Any, target: Any) -> tuple[Any]:
    z = _margin(xp, scores, target)
    return (_chain(xp, target, -g * xp.clip(1.0 - z, 0.0, 1.0)),)


def _smoothed_hinge_kinks(scores: Any, target: Any) -> Any:
    z = _margin(np, scores, target)
    return np.minimum(np.abs(z), np.abs(1.0 - z))


def _smoothed_hinge_edges() -> dict[str, Any]:
    return {
        **_binary_edges(),
        "margin exactly 0 and 1": lambda rng: [np.array([0.0, 1.0, 0.0, -1.0]), np.array([1.0, 1.0, -1.0, -1.0])],
    }


SMOOTHED_HINGE = register(
    LossSpec(
        name="smoothed_hinge",
        family="classification",
        args=BINARY,
        forward=_smoothed_hinge_forward,
        vjp=_smoothed_hinge_vjp,
        check=_check_binary,
        kinks=_smoothed_hinge_kinks,
        edge_cases=_smoothed_hinge_edges(),
        formula=(
            r"\ell = \begin{cases} \tfrac12 - z & z \le 0 \\ \tfrac12 (1 - z)^2 & 0 < z < 1 \\ 0 & z \ge 1"
            r"\end{cases}, \ z = y f, \quad \partial \ell / \partial f = -y\, \mathrm{clip}(1 - z, 0, 1)"
        ),
        reference="Rennie & Srebro 2005, Loss functions for preference levels (smooth hinge)",
    )
)


def smoothed_hinge(scores: Any, target: Any, reduction: str = "mean") -> Any:
    r"""Smoothed hinge loss of Rennie & Srebro (2005): linear, then quadratic, then zero.

    .. math::  \ell_i = \begin{cases} \tfrac12 - z_i & z_i \le 0 \\
               \tfrac12 (1 - z_i)^2 & 0 < z_i < 1 \\ 0 & z_i \ge 1 \end{cases}, \qquad
               z_i = y_i f_i, \qquad
               \frac{\partial \ell_i}{\partial f_i} = -y_i\, \mathrm{clip}(1 - z_i, 0, 1)

    Like the hinge it is linear for badly misclassified points and exactly 0 beyond the margin,
    but its derivative is continuous (the second derivative jumps at :math:`z = 0` and
    :math:`z = 1`). It is the Huber-style smoothing of :math:`\max(0, 1 - z)` and lies between
    :math:`\max(0, 1 - z) - \tfrac12` and :math:`\max(0, 1 - z)`.

    Parameters
    ----------
    scores : array or Tensor
    target : array, same shape, labels in :math:`\{-1, +1\}`
    reduction : {'mean', 'sum', 'none'}

    PyTorch has no such loss; the tests check it against the closed form.

    Raises
    ------
    ValueError
        ``target`` not in {-1, +1} or not of the shape of ``scores``; NaN in ``scores``.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(smoothed_hinge(np.array([2.0, 0.5, -1.0]), np.array([1.0, 1.0, 1.0]))), 10)
    0.5416666667
    """
    return apply_loss(SMOOTHED_HINGE, scores, target, reduction=reduction)


# ------------------------------------------------------------------------------------ exponential


def _exponential_forward(xp: Any, scores: Any, target: Any) -> Any:
    return xp.exp(-_margin(xp, scores, target))


def _exponential_vjp(xp: Any, g: Any, scores: Any, target: Any) -> tuple[Any]:
    return (_chain(xp, target, -g * xp.exp(-_margin(xp, scores, target))),)


def _exponential_edges() -> dict[str, Any]:
    # e^{-z} overflows float64 for z < -709.78: the true value is not representable, so the edge
    # cases stop at z = -700 on the wrong side and go to z = 1e4 on the right side
    return {
        "confident scores of 1e4": lambda rng: [np.array([1e4, -1e4, 0.0]), np.array([1.0, -1.0, 1.0])],
        "wrong-side scores of 700": lambda rng: [np.array([-700.0, 700.0]), np.array([1.0, -1.0])],
    }


EXPONENTIAL = register(
    LossSpec(
        name="exponential",
        family="classification",
        args=BINARY,
        forward=_exponential_forward,
        vjp=_exponential_vjp,
        edge_cases=_exponential_edges(),
        stability_exceptions={
            "large scale": "e^{-y f} overflows for margins y f below about -709.78 (float64): the true value is not representable",
        },
        check=_check_binary,
        formula=r"\ell = e^{-y f}, \quad \partial \ell / \partial f = -y\, e^{-y f}",
        reference="Freund & Schapire 1997 (AdaBoost); Friedman, Hastie & Tibshirani 2000",
    )
)


def exponential(scores: Any, target: Any, reduction: str = "mean") -> Any:
    r"""Exponential loss, the loss AdaBoost minimises stagewise.

    .. math::  \ell_i = e^{-y_i f_i}, \qquad \frac{\partial \ell_i}{\partial f_i} = -y_i e^{-y_i f_i}

    Parameters
    ----------
    scores : array or Tensor
    target : array, same shape, labels in :math:`\{-1, +1\}`
    reduction : {'mean', 'sum', 'none'}

    Notes
    -----
    Smooth and convex, but it grows exponentially in the wrong-side margin: one badly
    misclassified (or mislabelled) point dominates the sum, which is why AdaBoost is sensitive
    to label noise. The value overflows to inf for :math:`y f < -709.78` in float64
    (:math:`-88.7` in float32) because the true value is not representable; no rescaling can
    avoid that. Its population minimiser is :math:`f = \tfrac12 \log \frac{P(y=1|x)}{P(y=-1|x)}`,
    half the logit. PyTorch has no exponential loss.

    Raises
    ------
    ValueError
        ``target`` not in {-1, +1} or not of the shape of ``scores``; NaN in ``scores``.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(exponential(np.array([0.0, 1.0]), np.array([1.0, -1.0]))), 10)
    1.8591409142
    """
    return apply_loss(EXPONENTIAL, scores, target, reduction=reduction)


# ------------------------------------------------------------------------------------ logistic


def _logistic_forward(xp: Any, scores: Any, target: Any) -> Any:
    # softplus(x) = max(x, 0) + log1p(e^{-|x|}) never overflows, unlike log(1 + e^{x})
    return xp.softplus(-_margin(xp, scores, target))


def _logistic_vjp(xp: Any, g: Any, scores: Any, target: Any) -> tuple[Any]:
    return (_chain(xp, target, -g * xp.sigmoid(-_margin(xp, scores, target))),)


LOGISTIC = register(
    LossSpec(
        name="logistic",
        family="classification",
        args=BINARY,
        forward=_logistic_forward,
        vjp=_logistic_vjp,
        check=_check_binary,
        edge_cases=_binary_edges(),
        formula=r"\ell = \log(1 + e^{-y f}), \quad \partial \ell / \partial f = -y\, \sigma(-y f)",
        reference="torch.nn.functional.soft_margin_loss; logistic regression",
        torch="soft_margin_loss",
    )
)


def logistic(scores: Any, target: Any, reduction: str = "mean") -> Any:
    r"""Logistic loss in the margin form (binary cross-entropy on logits with :math:`\pm 1` labels).

    .. math::  \ell_i = \log(1 + e^{-y_i f_i}) = \mathrm{softplus}(-y_i f_i), \qquad
               \frac{\partial \ell_i}{\partial f_i} = -y_i\, \sigma(-y_i f_i)

    Parameters
    ----------
    scores : array or Tensor
    target : array, same shape, labels in :math:`\{-1, +1\}`
    reduction : {'mean', 'sum', 'none'}

    Notes
    -----
    Equals ``torch.nn.functional.soft_margin_loss`` (values and gradients), and
    ``binary_cross_entropy_with_logits(f, (y + 1) / 2)``. It is computed as
    :math:`\max(x, 0) + \log(1 + e^{-|x|})`, finite for any finite scores; PyTorch evaluates
    :math:`\log(1 + e^{x})` and returns inf once :math:`-y f` passes about 709 (float64), where
    nploss returns :math:`-y f`. PyTorch's target may be differentiated; here it is a label.

    Raises
    ------
    ValueError
        ``target`` not in {-1, +1} or not of the shape of ``scores``; NaN in ``scores``.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(logistic(np.array([0.0, 2.0]), np.array([1.0, -1.0]))), 10)
    1.4100375958
    """
    return apply_loss(LOGISTIC, scores, target, reduction=reduction)
