r"""Barron's general robust loss and its special cases: Charbonnier, Cauchy, Geman-McClure and Welsch.

Barron ("A General and Adaptive Robust Loss Function", CVPR 2019, arXiv:1701.03077) writes a
family of robust losses of the error :math:`e = \hat{y} - y` at scale :math:`c` with one shape
parameter :math:`\alpha`:

.. math::  \rho(e, \alpha, c) = \frac{|\alpha - 2|}{\alpha}
           \left(\left(\frac{(e/c)^2}{|\alpha - 2|} + 1\right)^{\alpha/2} - 1\right), \qquad
           \frac{\partial \rho}{\partial e} = \frac{e}{c^2}
           \left(\frac{(e/c)^2}{|\alpha - 2|} + 1\right)^{\alpha/2 - 1}

========================  ==============================  =========================================
:math:`\alpha`            loss                            :math:`\rho` at :math:`c = 1`
========================  ==============================  =========================================
2 (limit)                 L2                              :math:`\tfrac12 e^2`
1                         :func:`charbonnier` (L1-L2)     :math:`\sqrt{e^2 + 1} - 1`
0 (limit)                 :func:`cauchy` (Lorentzian)     :math:`\log(\tfrac12 e^2 + 1)`
-2                        :func:`geman_mcclure`           :math:`2 e^2 / (e^2 + 4)`
:math:`-\infty` (limit)   :func:`welsch` (Leclerc)        :math:`1 - \exp(-\tfrac12 e^2)`
========================  ==============================  =========================================

The four named losses are kornia 0.9's ``charbonnier_loss``, ``cauchy_loss``,
``geman_mcclure_loss`` and ``welsch_loss``, whose scale is fixed at :math:`c = 1`. Each loss is
one block: the reference ``_x_forward`` and ``_x_vjp``, the registry entry, then the public
function; the general loss comes last and uses the special cases at their limits.
"""

from __future__ import annotations

import math
from typing import Any

from .._apply import apply_loss
from .._params import real
from .._spec import LossSpec, register
from ._common import PAIR, _check_pair, _pair_edges


def _expm1(xp: Any, u: Any) -> Any:
    r""":math:`e^u - 1` without cancellation near 0, with ops every namespace has:
    :math:`2 \tanh(u/2) / (1 - \tanh(u/2))` (exact) for :math:`|u| < 1`, :math:`e^u - 1`
    beyond, where it does not cancel. Not the tanh form for large :math:`|u|`: there
    :math:`\tanh(u/2)` rounds to :math:`\pm 1`, and the engine's derivative of it (through
    :math:`1 - \tanh^2`) loses its digits. The tanh form sees only the ``u`` it is used at, so
    that no division by 0 leaves a NaN in the composite gradient."""
    small = xp.abs(u) < 1.0
    t = xp.tanh(0.5 * xp.where(small, u, 0.0))
    return xp.where(small, 2.0 * t / (1.0 - t), xp.exp(u) - 1.0)


def _one_minus_exp_half(xp: Any, z: Any) -> Any:
    r""":math:`1 - e^{-z/2}` for :math:`z \ge 0`: as :math:`2t/(1 + t)`, :math:`t = \tanh(z/4)`
    (the same number) below :math:`z = 1`, where :math:`1 - e^{-z/2}` cancels to nothing for tiny
    :math:`z`; as written above, where the engine's derivative of the tanh form (through
    :math:`1 - t^2`, 0 once :math:`t` rounds to 1) would lose the tiny :math:`\tfrac12 e^{-z/2}`.
    kornia's ``welsch_loss`` does the same."""
    small = z < 1.0
    t = xp.tanh(0.25 * xp.where(small, z, 0.0))
    return xp.where(small, 2.0 * t / (1.0 + t), 1.0 - xp.exp(-0.5 * z))


# ------------------------------------------------------------------------------------ Charbonnier (alpha = 1)


def _charbonnier_forward(xp: Any, prediction: Any, target: Any) -> Any:
    e = prediction - target
    z = e * e
    return z / (xp.sqrt(z + 1.0) + 1.0)  # = sqrt(z + 1) - 1, without its cancellation for small e


def _charbonnier_vjp(xp: Any, g: Any, prediction: Any, target: Any) -> tuple[Any, Any]:
    e = prediction - target
    grad = g * e / xp.sqrt(e * e + 1.0)
    return grad, -grad


CHARBONNIER = register(
    LossSpec(
        name="charbonnier",
        family="regression",
        args=PAIR,
        forward=_charbonnier_forward,
        vjp=_charbonnier_vjp,
        check=_check_pair,
        edge_cases=_pair_edges(),
        formula=r"\ell = \sqrt{(\hat{y} - y)^2 + 1} - 1",
        reference="Charbonnier et al. 1994; Barron 2019 (alpha = 1); kornia.losses.charbonnier_loss",
    )
)


def charbonnier(prediction: Any, target: Any, reduction: str = "mean") -> Any:
    r"""Charbonnier (L1-L2, pseudo-Huber with :math:`\delta = 1`) loss: Barron's loss at :math:`\alpha = 1`.

    .. math::  \ell_i = \sqrt{e_i^2 + 1} - 1, \quad e = \hat{y} - y, \qquad
               \frac{\partial \ell_i}{\partial \hat{y}_i} = \frac{e_i}{\sqrt{e_i^2 + 1}}

    :math:`\rho(e, 1, 1) = \frac{1}{1}((e^2 + 1)^{1/2} - 1)`. Quadratic (:math:`\tfrac12 e^2`)
    near 0, linear (:math:`|e| - 1`) far away; smooth everywhere. Computed as
    :math:`e^2 / (\sqrt{e^2 + 1} + 1)`, which keeps its relative precision for tiny errors.

    Parameters
    ----------
    prediction, target : array or Tensor, same shape (no silent broadcasting)
    reduction : {'mean', 'sum', 'none'}

    Matches kornia's ``charbonnier_loss`` in value and both gradients.
    kornia 0.9's ``charbonnier_loss(img1, img2, reduction)`` takes the same ``(prediction, target)``
    order and has no scale; its default reduction is ``'none'``, nploss's ``'mean'``.
    For another scale use :func:`barron` with ``alpha=1``.

    Raises
    ------
    ValueError
        Shapes that differ, NaN inputs, an unknown reduction.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(charbonnier(np.array([1.0]), np.array([0.0]))), 12)  # sqrt(2) - 1
    0.414213562373
    """
    return apply_loss(CHARBONNIER, prediction, target, reduction=reduction)


# ------------------------------------------------------------------------------------ Cauchy (alpha = 0)


def _cauchy_forward(xp: Any, prediction: Any, target: Any) -> Any:
    e = prediction - target
    return xp.log1p(0.5 * e * e)


def _cauchy_vjp(xp: Any, g: Any, prediction: Any, target: Any) -> tuple[Any, Any]:
    e = prediction - target
    grad = g * e / (0.5 * e * e + 1.0)
    return grad, -grad


CAUCHY = register(
    LossSpec(
        name="cauchy",
        family="regression",
        args=PAIR,
        forward=_cauchy_forward,
        vjp=_cauchy_vjp,
        check=_check_pair,
        edge_cases=_pair_edges(),
        formula=r"\ell = \log(\tfrac12 (\hat{y} - y)^2 + 1)",
        reference="Black & Anandan 1996; Barron 2019 (alpha = 0); kornia.losses.cauchy_loss",
    )
)


def cauchy(prediction: Any, target: Any, reduction: str = "mean") -> Any:
    r"""Cauchy (Lorentzian) loss: Barron's loss in the limit :math:`\alpha \to 0`.

    .. math::  \ell_i = \log(\tfrac12 e_i^2 + 1), \quad e = \hat{y} - y, \qquad
               \frac{\partial \ell_i}{\partial \hat{y}_i} = \frac{e_i}{\tfrac12 e_i^2 + 1}

    :math:`\lim_{\alpha \to 0} \frac{|\alpha - 2|}{\alpha}((\frac{e^2}{|\alpha - 2|} + 1)^{\alpha/2} - 1)
    = \log(\tfrac12 e^2 + 1)` (the derivative of :math:`a^{\alpha/2}` in :math:`\alpha` at 0).
    Grows like :math:`2 \log|e|`: the force of an outlier decays as :math:`2/e`.

    Parameters
    ----------
    prediction, target : array or Tensor, same shape (no silent broadcasting)
    reduction : {'mean', 'sum', 'none'}

    Matches kornia's ``cauchy_loss`` in value and both gradients.
    kornia 0.9's ``cauchy_loss(img1, img2, reduction)`` takes the same ``(prediction, target)``
    order and has no scale; its default reduction is ``'none'``, nploss's ``'mean'``.

    Raises
    ------
    ValueError
        Shapes that differ, NaN inputs, an unknown reduction.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(cauchy(np.array([2.0]), np.array([0.0]))), 12)  # log 3
    1.098612288668
    """
    return apply_loss(CAUCHY, prediction, target, reduction=reduction)


# ------------------------------------------------------------------------------------ Geman-McClure (alpha = -2)


def _geman_mcclure_forward(xp: Any, prediction: Any, target: Any) -> Any:
    e = prediction - target
    z = e * e
    return 2.0 * z / (z + 4.0)


def _geman_mcclure_vjp(xp: Any, g: Any, prediction: Any, target: Any) -> tuple[Any, Any]:
    e = prediction - target
    s = e * e + 4.0
    grad = g * 16.0 * e / (s * s)
    return grad, -grad


GEMAN_MCCLURE = register(
    LossSpec(
        name="geman_mcclure",
        family="regression",
        args=PAIR,
        forward=_geman_mcclure_forward,
        vjp=_geman_mcclure_vjp,
        check=_check_pair,
        edge_cases=_pair_edges(),
        formula=r"\ell = \frac{2 (\hat{y} - y)^2}{(\hat{y} - y)^2 + 4}",
        reference="Geman & McClure 1985; Barron 2019 (alpha = -2); kornia.losses.geman_mcclure_loss",
    )
)


def geman_mcclure(prediction: Any, target: Any, reduction: str = "mean") -> Any:
    r"""Geman-McClure loss: Barron's loss at :math:`\alpha = -2`.

    .. math::  \ell_i = \frac{2 e_i^2}{e_i^2 + 4}, \quad e = \hat{y} - y, \qquad
               \frac{\partial \ell_i}{\partial \hat{y}_i} = \frac{16 e_i}{(e_i^2 + 4)^2}

    :math:`\rho(e, -2, 1) = \frac{4}{-2}((\frac{e^2}{4} + 1)^{-1} - 1) = \frac{2 e^2}{e^2 + 4}`.
    Bounded by 2: an outlier's force tends to 0 (redescending), so the loss is not convex.
    Note the scaling: this is Barron's (and kornia's) form, twice :math:`e^2/(e^2 + 4)` and with
    the constant 4 where Geman and McClure's :math:`e^2/(e^2 + \sigma^2)` has :math:`\sigma^2`.

    Parameters
    ----------
    prediction, target : array or Tensor, same shape (no silent broadcasting)
    reduction : {'mean', 'sum', 'none'}

    Matches kornia's ``geman_mcclure_loss`` in value and both gradients.
    kornia 0.9's ``geman_mcclure_loss(img1, img2, reduction)`` takes the same ``(prediction, target)``
    order and has no scale; its default reduction is ``'none'``, nploss's ``'mean'``.

    Raises
    ------
    ValueError
        Shapes that differ, NaN inputs, an unknown reduction.

    Examples
    --------
    >>> import numpy as np
    >>> float(geman_mcclure(np.array([2.0]), np.array([0.0])))  # 8 / 8
    1.0
    """
    return apply_loss(GEMAN_MCCLURE, prediction, target, reduction=reduction)


# ------------------------------------------------------------------------------------ Welsch (alpha = -inf)


def _welsch_forward(xp: Any, prediction: Any, target: Any) -> Any:
    e = prediction - target
    return _one_minus_exp_half(xp, e * e)


def _welsch_vjp(xp: Any, g: Any, prediction: Any, target: Any) -> tuple[Any, Any]:
    e = prediction - target
    grad = g * e * xp.exp(-0.5 * (e * e))
    return grad, -grad


WELSCH = register(
    LossSpec(
        name="welsch",
        family="regression",
        args=PAIR,
        forward=_welsch_forward,
        vjp=_welsch_vjp,
        check=_check_pair,
        edge_cases=_pair_edges(),
        formula=r"\ell = 1 - \exp(-\tfrac12 (\hat{y} - y)^2)",
        reference="Dennis & Welsch 1978; Barron 2019 (alpha = -inf); kornia.losses.welsch_loss",
    )
)


def welsch(prediction: Any, target: Any, reduction: str = "mean") -> Any:
    r"""Welsch (Leclerc) loss: Barron's loss in the limit :math:`\alpha \to -\infty`.

    .. math::  \ell_i = 1 - \exp(-\tfrac12 e_i^2), \quad e = \hat{y} - y, \qquad
               \frac{\partial \ell_i}{\partial \hat{y}_i} = e_i \exp(-\tfrac12 e_i^2)

    As :math:`\alpha \to -\infty`, :math:`\frac{|\alpha - 2|}{\alpha} \to -1` and
    :math:`(\frac{e^2}{|\alpha - 2|} + 1)^{\alpha/2} \to \exp(-\tfrac12 e^2)`. Bounded by 1, the
    most robust of the family: an outlier's force decays like a Gaussian. Computed as
    :math:`2t/(1 + t)`, :math:`t = \tanh(e^2/4)` for :math:`e^2 < 1` (the same number, without
    the cancellation of :math:`1 - \exp(\cdot)` for tiny errors), as kornia does.

    Parameters
    ----------
    prediction, target : array or Tensor, same shape (no silent broadcasting)
    reduction : {'mean', 'sum', 'none'}

    Matches kornia's ``welsch_loss`` in value and both gradients.
    kornia 0.9's ``welsch_loss(img1, img2, reduction)`` takes the same ``(prediction, target)``
    order and has no scale; its default reduction is ``'none'``, nploss's ``'mean'``.

    Raises
    ------
    ValueError
        Shapes that differ, NaN inputs, an unknown reduction.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(welsch(np.array([2.0]), np.array([0.0]))), 12)  # 1 - e^-2
    0.864664716763
    """
    return apply_loss(WELSCH, prediction, target, reduction=reduction)


# ------------------------------------------------------------------------------------ Barron's general loss


def _barron_forward(xp: Any, prediction: Any, target: Any, *, alpha: float, scale: float) -> Any:
    x = (prediction - target) * (1.0 / scale)
    z = x * x
    if alpha == 2:  # the limit: L2
        return 0.5 * z
    if alpha == 0:  # the limit: Cauchy
        return xp.log1p(0.5 * z)
    if alpha == -math.inf:  # the limit: Welsch
        return _one_minus_exp_half(xp, z)
    b = abs(alpha - 2.0)
    # (b/alpha) ((z/b + 1)^(alpha/2) - 1) as (b/alpha) expm1((alpha/2) log1p(z/b)), Barron's own
    # stable form: no cancellation for small z, and no power of a huge z/b near alpha = 2
    return (b / alpha) * _expm1(xp, (0.5 * alpha) * xp.log1p(z * (1.0 / b)))


def _barron_vjp(xp: Any, g: Any, prediction: Any, target: Any, *, alpha: float, scale: float) -> tuple[Any, Any]:
    e = prediction - target
    x = e * (1.0 / scale)
    z = x * x
    # d rho / d e = (e / c^2) (z/b + 1)^(alpha/2 - 1), and its limits
    if alpha == 2:
        factor = 1.0
    elif alpha == 0:
        factor = 1.0 / (0.5 * z + 1.0)
    elif alpha == -math.inf:
        factor = xp.exp(-0.5 * z)
    else:
        b = abs(alpha - 2.0)
        factor = xp.exp((0.5 * alpha - 1.0) * xp.log1p(z * (1.0 / b)))
    grad = g * e * (1.0 / (scale * scale)) * factor
    return grad, -grad


BARRON = register(
    LossSpec(
        name="barron",
        family="regression",
        args=PAIR,
        forward=_barron_forward,
        vjp=_barron_vjp,
        params={"alpha": 1.0, "scale": 1.0},
        check=_check_pair,
        edge_cases=_pair_edges(),
        formula=r"\rho = \frac{|\alpha - 2|}{\alpha}\left(\left(\frac{((\hat{y} - y)/c)^2}{|\alpha - 2|} + 1\right)^{\alpha/2}"
        r" - 1\right)",
        reference="Barron 2019 (CVPR, arXiv:1701.03077), robust_loss_pytorch general.lossfun",
    )
)


def barron(prediction: Any, target: Any, alpha: float, scale: float = 1.0, reduction: str = "mean") -> Any:
    r"""Barron's general robust loss: one shape parameter from L2 to Welsch.

    .. math::  \rho_i = \frac{|\alpha - 2|}{\alpha}
               \left(\left(\frac{(e_i/c)^2}{|\alpha - 2|} + 1\right)^{\alpha/2} - 1\right), \qquad
               \frac{\partial \rho_i}{\partial \hat{y}_i} = \frac{e_i}{c^2}
               \left(\frac{(e_i/c)^2}{|\alpha - 2|} + 1\right)^{\alpha/2 - 1}

    with :math:`e = \hat{y} - y` and :math:`c` the ``scale``. Every member is
    :math:`\tfrac12 (e/c)^2` near 0 (so :math:`c` sets the width of the quadratic bowl); far
    away it grows like :math:`|e|^\alpha` (:math:`\alpha > 0`), :math:`\log|e|` (0), or tends to
    a constant (:math:`\alpha < 0`). The special cases, at :math:`c = 1`:

    - :math:`\alpha = 2`: :math:`\tfrac12 e^2`, half the squared error (a limit: the formula is
      0/0; computed as the limit, and so are the two below);
    - :math:`\alpha = 1`: :func:`charbonnier`, :math:`\sqrt{e^2 + 1} - 1`;
    - :math:`\alpha = 0`: :func:`cauchy`, :math:`\log(\tfrac12 e^2 + 1)` (a limit);
    - :math:`\alpha = -2`: :func:`geman_mcclure`, :math:`2e^2 / (e^2 + 4)`;
    - :math:`\alpha = -\infty`: :func:`welsch`, :math:`1 - \exp(-\tfrac12 e^2)` (a limit).

    Other values use Barron's stable form
    :math:`\frac{b}{\alpha} \mathrm{expm1}(\frac{\alpha}{2} \mathrm{log1p}(z/b))`,
    :math:`b = |\alpha - 2|`, :math:`z = (e/c)^2`: no cancellation for tiny errors, and
    continuous across the limits: at :math:`\alpha = 2 \pm \delta` or :math:`0 \pm \delta` the
    value differs from the limit by at most about :math:`\delta (1 + \log(1 + z/\delta))`
    relative, as the exact function does (its derivative in :math:`\alpha` is logarithmically
    singular at 2).

    Parameters
    ----------
    prediction, target : array or Tensor, same shape (no silent broadcasting)
    alpha : float or ``-math.inf``
        The shape: any real number, or :math:`-\infty`.
    scale : float, positive
        :math:`c`, in the units of the error.
    reduction : {'mean', 'sum', 'none'}

    ``alpha`` and ``scale`` are fixed parameters, not differentiated: Barron's *adaptive* loss,
    which learns them, is the negative log-likelihood of the matching distribution and needs its
    partition function, which this is not. With ``reduction='none'`` it equals
    ``robust_loss_pytorch.general.lossfun(prediction - target, alpha, scale)``. At
    ``scale=1`` and the four shapes above it equals kornia 0.9's ``charbonnier_loss``,
    ``cauchy_loss``, ``geman_mcclure_loss`` and ``welsch_loss`` (whose default reduction is
    ``'none'``). PyTorch and Keras have none.

    Raises
    ------
    ValueError
        ``alpha`` NaN or :math:`+\infty` (Barron's limit :math:`e^{z/2} - 1` is no robust
        loss), ``scale <= 0``, shapes that differ, NaN inputs, an unknown reduction.
    TypeError
        ``alpha`` or ``scale`` not a real number.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(barron(np.array([1.0]), np.array([0.0]), alpha=1.0)), 12)  # charbonnier: sqrt(2) - 1
    0.414213562373
    >>> float(barron(np.array([4.0]), np.array([0.0]), alpha=2.0, scale=2.0))  # (4/2)^2 / 2
    2.0
    """
    alpha = real("alpha", alpha, finite=False)
    if alpha == math.inf:
        raise ValueError(
            "alpha must be a real number or -inf (Barron's limit at +inf, exp(z/2) - 1, is no robust loss), got inf"
        )
    scale = real("scale", scale, low=0, low_open=True)
    return apply_loss(BARRON, prediction, target, reduction=reduction, alpha=alpha, scale=scale)


__all__ = ["barron", "cauchy", "charbonnier", "geman_mcclure", "welsch"]
