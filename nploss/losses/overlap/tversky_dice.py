r"""Overlap losses on probability maps: focal Tversky, generalised Dice and Matthews correlation
(MCC), with the conventions of :mod:`nploss.losses.segmentation` (``(N, C, *spatial)``, every axis
after the class axis summed over).
"""

from __future__ import annotations

from typing import Any

from ...backend import get_array_module
from .._apply import apply_loss
from .._params import real
from .._shared import focal_power
from .._spec import Arg, LossSpec, register
from ..segmentation import MAPS, _check_maps, _map_edges, _per_pixel, _spatial, _tversky_terms, _tversky_vjp
from ._common import SIZES

# ------------------------------------------------------------------------------------ Focal Tversky


def _focal_tversky_forward(
    xp: Any, prediction: Any, target: Any, *, alpha: float, beta: float, gamma: float, smooth: float
) -> Any:
    score, _ = _tversky_terms(xp, prediction, target, alpha, beta, smooth)
    return focal_power(xp, 1.0 - score, gamma)


def _focal_tversky_vjp(
    xp: Any, g: Any, prediction: Any, target: Any, *, alpha: float, beta: float, gamma: float, smooth: float
) -> tuple[Any, Any]:
    score, _ = _tversky_terms(xp, prediction, target, alpha, beta, smooth)
    m = 1.0 - score
    # d m^gamma / d m = gamma m^(gamma - 1); at m = 0 (the minimum, loss 0) the gradient is set to 0
    positive = xp.as_data(m) > 0.0
    outer = xp.where(positive, gamma * xp.where(positive, m, 1.0) ** (gamma - 1.0), 0.0)
    return _tversky_vjp(xp, g * outer, prediction, target, alpha=alpha, beta=beta, smooth=smooth)


def _check_focal_tversky(
    prediction: Any, target: Any, *, alpha: float, beta: float, gamma: float, smooth: float
) -> None:
    _check_maps(prediction, target, smooth=smooth, alpha=alpha, beta=beta)
    real("gamma", gamma, low=0, low_open=True)


FOCAL_TVERSKY = register(
    LossSpec(
        name="focal_tversky",
        unreduced=("N", "C"),
        family="segmentation",
        args=MAPS,
        forward=_focal_tversky_forward,
        vjp=_focal_tversky_vjp,
        params={"alpha": 0.3, "beta": 0.7, "gamma": 0.75, "smooth": 1.0},
        check=_check_focal_tversky,
        sizes=SIZES,
        edge_cases=_map_edges(),
        formula=r"\ell_{nc} = (1 - T_{nc})^\gamma, \quad T = \frac{TP + s}{TP + \alpha FP + \beta FN + s}",
        reference="Abraham & Khan 2019 (arXiv:1810.07842; their 1/gamma is gamma here); "
        "segmentation_models_pytorch TverskyLoss(gamma=...) (one class, batch merged)",
    )
)


def focal_tversky(
    prediction: Any,
    target: Any,
    alpha: float = 0.3,
    beta: float = 0.7,
    gamma: float = 0.75,
    smooth: float = 1.0,
    reduction: str = "mean",
) -> Any:
    r"""Focal Tversky loss: the Tversky loss of each sample and class raised to a power.

    With :math:`T_{nc}` the Tversky index of :func:`~nploss.losses.tversky` (``alpha`` weighs the
    false positives, ``beta`` the false negatives, sums over the pixels),

    .. math::  \ell_{nc} = (1 - T_{nc})^\gamma, \qquad
               \frac{\partial \ell_{nc}}{\partial x} = -\gamma\, (1 - T_{nc})^{\gamma - 1}\,
               \frac{\partial T_{nc}}{\partial x} \quad (x = p_i \text{ or } g_i),

    with :math:`\partial T / \partial p_i = (g_i - T\,(\alpha + (1 - \alpha - \beta) g_i)) / B` and
    :math:`\partial T / \partial g_i = (p_i - T\,(\beta + (1 - \alpha - \beta) p_i)) / B`
    (:math:`B` the Tversky denominator) as in :func:`~nploss.losses.tversky`. :math:`\gamma < 1` raises the loss (and the gradient) of
    well-segmented classes relative to poor ones. At :math:`T = 1` (a perfect overlap, the
    minimum) the derivative :math:`\gamma\, 0^{\gamma - 1}` is infinite for :math:`\gamma < 1`:
    the gradient there is **set to 0** (0 is a subgradient at a global minimum), in the analytic
    and the composite versions alike.

    Parameters
    ----------
    prediction, target : array or Tensor, (N, C, *spatial)
        Probabilities (no softmax or sigmoid is applied) and masks in [0, 1]; both differentiable.
    alpha, beta : float, non-negative
        Weights of the false positives and of the false negatives (defaults: the paper's
        0.3 and 0.7, which weigh recall).
    gamma : float, positive
        The exponent. Abraham & Khan write :math:`(1 - T)^{1/\gamma}` and recommend
        :math:`\gamma = 4/3`: that is ``gamma=0.75`` here, the default.
    smooth : float, positive
    reduction : {'mean', 'sum', 'none'}
        ``'none'``: the ``(N, C)`` losses.

    Notes
    -----
    - Abraham & Khan 2019 sum over the classes, :math:`\sum_c (1 - T_c)^{1/\gamma}`, with
      :math:`\alpha = 0.7` on the **false negatives** (their TI is
      :math:`TP / (TP + \alpha FN + \beta FP)`): ``focal_tversky(alpha=b, beta=a, gamma=1/g,
      reduction='none').sum(axis=1)`` is theirs with :math:`\alpha = a, \beta = b, \gamma = g`.
    - segmentation-models-pytorch ``TverskyLoss(mode, alpha, beta, gamma, smooth)`` (0.6) takes
      the power **after** averaging over the classes, :math:`(\mathrm{mean}_c (1 - T_c))^\gamma`,
      with the counts summed over the batch too, and its true positives are
      :math:`(\sum p + \sum g - \lVert p - g \rVert_1)/2` (equal to :math:`\sum pg` for 0/1
      targets); it zeroes a class without target pixels and defaults to logits (``from_logits``)
      and ``smooth=0``. For one channel with 0/1 targets,
      ``TverskyLoss('binary', from_logits=False, alpha=a, beta=b, gamma=g, smooth=s)(p, t)`` equals
      ``focal_tversky(p.reshape(1, 1, -1), t.reshape(1, 1, -1), a, b, g, s)``.
    - kornia and Keras have no focal Tversky loss (kornia 0.9, Keras 3.15).

    Raises
    ------
    ValueError
        Shapes that differ or lack a spatial axis, values outside [0, 1], NaN, ``smooth <= 0``,
        a negative ``alpha`` or ``beta``, ``gamma <= 0``, an unknown ``reduction``.
    TypeError
        A parameter that is not a real number.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([[[[0.9, 0.2], [0.1, 0.6]]]])       # TP = 1.5, FP = 0.3, FN = 0.5
    >>> g = np.array([[[[1.0, 0.0], [0.0, 1.0]]]])
    >>> round(float(focal_tversky(p, g)), 6)             # (1 - 2.5 / (2.5 + 0.09 + 0.35)) ** 0.75
    0.240618
    """
    return apply_loss(
        FOCAL_TVERSKY, prediction, target, reduction=reduction, alpha=alpha, beta=beta, gamma=gamma, smooth=smooth
    )


# ------------------------------------------------------------------------------------ Generalized Dice


def _generalized_dice_weights(target: Any) -> Any:
    r"""Sudre's class weights :math:`w_{nc} = 1 / (\sum_i g_{nci})^2`, a constant; a class without
    target pixels (infinite weight) gets the largest finite weight of its sample (0 if none), as
    MONAI's ``GeneralizedDiceLoss``."""
    xp = get_array_module(target)
    total = xp.sum(target, axis=tuple(range(2, target.ndim)))
    empty = total == 0
    w = 1.0 / xp.where(empty, 1.0, total) ** 2
    w = xp.where(empty, 0.0, w)
    return xp.where(empty, xp.max(w, axis=1, keepdims=True), w)


def _generalized_dice_terms(xp: Any, prediction: Any, target: Any, smooth: float) -> tuple[Any, Any, Any]:
    axes = _spatial(prediction)
    w = _generalized_dice_weights(xp.as_data(target))
    numerator = 2.0 * xp.sum(w * xp.sum(prediction * target, axis=axes), axis=1) + smooth
    denominator = xp.sum(w * (xp.sum(prediction, axis=axes) + xp.sum(target, axis=axes)), axis=1) + smooth
    return numerator, denominator, w


def _generalized_dice_forward(xp: Any, prediction: Any, target: Any, *, smooth: float) -> Any:
    numerator, denominator, _ = _generalized_dice_terms(xp, prediction, target, smooth)
    return 1.0 - numerator / denominator


def _generalized_dice_vjp(xp: Any, g: Any, prediction: Any, target: Any, *, smooth: float) -> tuple[Any]:
    numerator, denominator, w = _generalized_dice_terms(xp, prediction, target, smooth)
    # d(1 - A/B)/dp_{ci} = w_c (A/B - 2 g_{ci}) / B   (the weights are constants of the target)
    per_sample = (-1,) + (1,) * (prediction.ndim - 1)
    weights = _per_pixel(get_array_module(w), w, prediction)
    ratio = xp.reshape(numerator / denominator, per_sample)
    return (xp.reshape(g / denominator, per_sample) * weights * (ratio - 2.0 * target),)


GENERALIZED_DICE = register(
    LossSpec(
        name="generalized_dice",
        family="segmentation",
        args=(MAPS[0], Arg("target", "prob", ("N", "C", "H", "W"), differentiable=False)),
        forward=_generalized_dice_forward,
        vjp=_generalized_dice_vjp,
        params={"smooth": 1e-5},
        check=_check_maps,
        sizes=SIZES,
        edge_cases=_map_edges(),
        formula=(
            r"\ell_n = 1 - \frac{2 \sum_c w_c \sum_i p_{ci} g_{ci} + s}{\sum_c w_c \sum_i (p_{ci} + g_{ci}) + s}, "
            r"\quad w_c = 1 / (\sum_i g_{ci})^2"
        ),
        reference="Sudre et al. 2017 (arXiv:1707.03237); MONAI GeneralizedDiceLoss (w_type='square'); "
        "optax 0.2.8 multiclass_generalized_dice_loss differs (see the docstring)",
    )
)


def generalized_dice(prediction: Any, target: Any, smooth: float = 1e-5, reduction: str = "mean") -> Any:
    r"""Generalised Dice loss (Sudre et al. 2017): one Dice ratio per sample, each class weighted
    by the inverse square of its target volume.

    .. math::  \ell_n = 1 - \frac{A}{B}, \quad A = 2 \sum_c w_c \sum_i p_{ci} g_{ci} + s, \quad
               B = \sum_c w_c \sum_i (p_{ci} + g_{ci}) + s, \quad
               w_c = \frac{1}{(\sum_i g_{ci})^2},

    .. math::  \frac{\partial \ell_n}{\partial p_{ci}} = \frac{w_c}{B}\Big(\frac{A}{B} - 2 g_{ci}\Big).

    The weights are computed from the target and treated as constants, so the target receives no
    gradient (it is not differentiable here, unlike in :func:`~nploss.losses.dice`). A class
    without target pixels would have an infinite weight: as in MONAI, it takes the largest
    finite weight of its sample instead (0 if the sample's target is empty, when the loss is
    :math:`1 - s/s = 0` for an empty prediction).

    Parameters
    ----------
    prediction : array or Tensor, (N, C, *spatial)
        Probabilities (no softmax is applied).
    target : array or Tensor, same shape
        One-hot masks or soft labels in [0, 1]; not differentiated.
    smooth : float, positive
        Added to numerator and denominator (MONAI's ``smooth_nr = smooth_dr = 1e-5``).
    reduction : {'mean', 'sum', 'none'}
        ``'none'``: the ``(N,)`` losses, one per sample.

    Notes
    -----
    - MONAI ``GeneralizedDiceLoss(w_type='square', smooth_nr=s, smooth_dr=s, batch=False)`` is this
      loss (not run here: MONAI is not among the libraries the fixtures use).
    - optax 0.2.8 ``multiclass_generalized_dice_loss(logits, targets, smooth=1.)`` is a different
      formula: the plain mean over samples and classes of weighted per-class Dice losses,
      :math:`\mathrm{mean}_{nc}\, v_c\, (1 - (I_{nc} + s)/(\tfrac12 (P_{nc} + T_{nc}) + s))`, with
      :math:`v_c \propto 1/(F_c^2 + 10^{-7})` normalised to sum to :math:`C` and :math:`F_c` the
      class's target volume over the **whole batch**, after a softmax over the last axis. It is
      ``mean(v * tversky(softmax(z, axis=1), g, 0.5, 0.5, smooth=s, reduction='none'))`` in nploss
      (checked in the tests), not this loss.

    Raises
    ------
    ValueError
        Shapes that differ or lack a spatial axis, values outside [0, 1], NaN, ``smooth <= 0``,
        an unknown ``reduction``.
    TypeError
        A ``smooth`` that is not a real number.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([[[[0.9, 0.2], [0.1, 0.6]], [[0.1, 0.8], [0.9, 0.4]]]])   # (1, 2, 2, 2)
    >>> g = np.array([[[[1.0, 0.0], [0.0, 0.0]], [[0.0, 1.0], [1.0, 1.0]]]])
    >>> round(float(generalized_dice(p, g)), 6)   # 1 - (2 (0.9 + 2.1/9) + s) / (2.8 + 5.2/9 + s)
    0.328946
    """
    return apply_loss(GENERALIZED_DICE, prediction, target, reduction=reduction, smooth=smooth)


# ------------------------------------------------------------------------------------ MCC


def _mcc_terms(xp: Any, prediction: Any, target: Any, eps: float) -> tuple[Any, ...]:
    axes = _spatial(prediction)
    tp = xp.sum(prediction * target, axis=axes) + eps
    tn = xp.sum((1.0 - prediction) * (1.0 - target), axis=axes) + eps
    fp = xp.sum(prediction * (1.0 - target), axis=axes) + eps
    fn = xp.sum((1.0 - prediction) * target, axis=axes) + eps
    root = xp.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))  # each factor >= 2 eps > 0
    return tp, tn, fp, fn, root, (tp * tn - fp * fn) / root


def _mcc_forward(xp: Any, prediction: Any, target: Any, *, eps: float) -> Any:
    return 1.0 - _mcc_terms(xp, prediction, target, eps)[-1]


def _mcc_vjp(xp: Any, g: Any, prediction: Any, target: Any, *, eps: float) -> tuple[Any, Any]:
    tp, tn, fp, fn, root, mcc = _mcc_terms(xp, prediction, target, eps)

    def per_pixel(a: Any) -> Any:
        return _per_pixel(xp, a, prediction)

    # MCC = Num / sqrt(A B C D): dMCC = dNum / root - MCC / 2 (dA/A + dB/B + dC/C + dD/D)
    # p: dTP = g, dTN = -(1 - g), dFP = 1 - g, dFN = -g, so dA = 1, dB = dC = 0, dD = -1
    # g: dTP = p, dTN = -(1 - p), dFP = -p, dFN = 1 - p, so dB = 1, dC = -1, dA = dD = 0
    d_p = (per_pixel(tn + fp) * target - per_pixel(tp + fn) * (1.0 - target)) / per_pixel(root) - per_pixel(
        0.5 * mcc * (1.0 / (tp + fp) - 1.0 / (tn + fn))
    )
    d_g = (per_pixel(tn + fn) * prediction - per_pixel(tp + fp) * (1.0 - prediction)) / per_pixel(root) - per_pixel(
        0.5 * mcc * (1.0 / (tp + fn) - 1.0 / (tn + fp))
    )
    scale = per_pixel(-g)
    return scale * d_p, scale * d_g


def _check_mcc(prediction: Any, target: Any, *, eps: float) -> None:
    _check_maps(prediction, target, smooth=1.0)  # the shapes; MCC has no smooth, its eps is checked here
    real("eps", eps, low=0, low_open=True)


MCC = register(
    LossSpec(
        name="mcc",
        unreduced=("N", "C"),
        family="segmentation",
        args=MAPS,
        forward=_mcc_forward,
        vjp=_mcc_vjp,
        params={"eps": 1e-5},
        check=_check_mcc,
        sizes=SIZES,
        edge_cases=_map_edges(),
        nonnegative=True,
        formula=(
            r"\ell_{nc} = 1 - \frac{TP \cdot TN - FP \cdot FN}{\sqrt{(TP + FP)(TP + FN)(TN + FP)(TN + FN)}}, "
            r"\text{ soft counts} + \varepsilon"
        ),
        reference="Abhishek & Hamarneh 2021 (arXiv:2010.13454); segmentation_models_pytorch MCCLoss "
        "(counts over the whole batch)",
    )
)


def mcc(prediction: Any, target: Any, eps: float = 1e-5, reduction: str = "mean") -> Any:
    r"""Matthews correlation coefficient loss :math:`1 - \mathrm{MCC}` on soft counts, per sample
    and class.

    With sums over the pixels and :math:`\varepsilon` added to each count,

    .. math::  TP = \sum p g + \varepsilon, \quad TN = \sum (1 - p)(1 - g) + \varepsilon, \quad
               FP = \sum p (1 - g) + \varepsilon, \quad FN = \sum (1 - p) g + \varepsilon,

    .. math::  \ell_{nc} = 1 - \mathrm{MCC}, \quad
               \mathrm{MCC} = \frac{TP \cdot TN - FP \cdot FN}{R}, \quad
               R = \sqrt{(TP + FP)(TP + FN)(TN + FP)(TN + FN)},

    .. math::  \frac{\partial \ell}{\partial p_i} = -\frac{(TN + FP) g_i - (TP + FN)(1 - g_i)}{R}
               + \frac{\mathrm{MCC}}{2}\Big(\frac{1}{TP + FP} - \frac{1}{TN + FN}\Big),

    .. math::  \frac{\partial \ell}{\partial g_i} = -\frac{(TN + FN) p_i - (TP + FP)(1 - p_i)}{R}
               + \frac{\mathrm{MCC}}{2}\Big(\frac{1}{TP + FN} - \frac{1}{TN + FP}\Big).

    :math:`-1 \le \mathrm{MCC} \le 1`, so :math:`0 \le \ell \le 2`; ``eps > 0`` keeps :math:`R > 0`
    when a map is all foreground or all background.

    Parameters
    ----------
    prediction, target : array or Tensor, (N, C, *spatial)
        Probabilities (no sigmoid is applied) and masks in [0, 1]; both differentiable.
    eps : float, positive
        Added to each of the four counts (segmentation-models-pytorch's default 1e-5).
    reduction : {'mean', 'sum', 'none'}
        ``'none'``: the ``(N, C)`` losses.

    Notes
    -----
    segmentation-models-pytorch ``MCCLoss(eps)(y_pred, y_true)`` (0.6, binary only) takes
    probabilities too but sums the counts over the **whole batch** (every sample and channel):
    it equals ``mcc(p.reshape(1, 1, -1), g.reshape(1, 1, -1), eps)``, one MCC for the batch,
    whereas the default here averages one MCC per sample and class.

    Raises
    ------
    ValueError
        Shapes that differ or lack a spatial axis, values outside [0, 1], NaN, ``eps <= 0``, an
        unknown ``reduction``.
    TypeError
        An ``eps`` that is not a real number.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([[[[0.9, 0.2], [0.1, 0.6]]]])       # TP 1.5, TN 1.7, FP 0.3, FN 0.5
    >>> g = np.array([[[[1.0, 0.0], [0.0, 1.0]]]])
    >>> round(float(mcc(p, g)), 6)     # about 1 - (1.5 * 1.7 - 0.3 * 0.5) / sqrt(1.8 * 2 * 2 * 2.2)
    0.396983
    """
    return apply_loss(MCC, prediction, target, reduction=reduction, eps=eps)
