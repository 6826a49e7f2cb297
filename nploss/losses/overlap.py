r"""More overlap losses for segmentation: focal Tversky, generalised Dice, Matthews correlation
(MCC), the Lovász hinge and Lovász-softmax surrogates of the Jaccard index, and the erosion-based
Hausdorff-distance loss.

Each loss is one block: the reference ``_x_forward`` and ``_x_vjp`` (the textbook formula and its
derivative), its checks and kinks, the registry entry, then the public function. The conventions
are those of :mod:`nploss.losses.segmentation`: predictions are *probabilities* (nothing applies a
softmax or sigmoid inside), shapes are ``(N, C, *spatial)`` and every axis after the class axis is
summed over. The exceptions are :func:`lovasz_hinge`, which takes one logit per pixel (the hinge
needs a signed score), and :func:`lovasz_softmax` and :func:`hausdorff_erosion`, which take
integer labels as the paper and the libraries do.

The Lovász losses are piecewise linear in the errors: their gradient is the gradient of the
Lovász extension of the Jaccard loss at the sorted errors, constant between ties, so their second
derivative is zero wherever it exists.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import get_array_module
from ..numerics import array_namespace
from ._apply import apply_loss
from ._params import choice, flag, integer, real
from ._reduction import mean_weight
from ._shared import focal_power, one_hot
from ._spec import Arg, LossSpec, register
from ._validate import same_shape
from .segmentation import MAPS, _check_maps, _map_edges, _per_pixel, _spatial, _tversky_terms, _tversky_vjp

__all__ = ["focal_tversky", "generalized_dice", "hausdorff_erosion", "lovasz_hinge", "lovasz_softmax", "mcc"]

SIZES = {"N": 3, "C": 3, "H": 3, "W": 4}


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


def _check_generalized_dice(prediction: Any, target: Any, *, smooth: float) -> None:
    _check_maps(prediction, target, smooth=smooth)


GENERALIZED_DICE = register(
    LossSpec(
        name="generalized_dice",
        family="segmentation",
        args=(MAPS[0], Arg("target", "prob", ("N", "C", "H", "W"), differentiable=False)),
        forward=_generalized_dice_forward,
        vjp=_generalized_dice_vjp,
        params={"smooth": 1e-5},
        check=_check_generalized_dice,
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
    return tp, tn, fp, fn, (tp * tn - fp * fn) / root


def _mcc_forward(xp: Any, prediction: Any, target: Any, *, eps: float) -> Any:
    return 1.0 - _mcc_terms(xp, prediction, target, eps)[-1]


def _mcc_vjp(xp: Any, g: Any, prediction: Any, target: Any, *, eps: float) -> tuple[Any, Any]:
    tp, tn, fp, fn, mcc = _mcc_terms(xp, prediction, target, eps)
    root = xp.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))

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


# ------------------------------------------------------------------------------------ Lovász (shared)


def _lovasz_weights(labels_sorted: Any) -> Any:
    r"""The gradient of the Lovász extension of the Jaccard loss at errors sorted in decreasing
    order (Berman et al. 2018, Alg. 1): :math:`J_k - J_{k-1}` with
    :math:`J_k = 1 - (G - \sum_{j \le k} g_j) / (G + \sum_{j \le k} (1 - g_j))` the Jaccard loss of
    the :math:`k` largest errors, along the last axis. ``labels_sorted`` are 0/1 constants; the
    union is at least 1 (if :math:`G = 0` every label is 0)."""
    xp = get_array_module(labels_sorted)
    total = xp.sum(labels_sorted, axis=-1, keepdims=True)
    intersection = total - xp.cumsum(labels_sorted, axis=-1)
    union = total + xp.cumsum(1.0 - labels_sorted, axis=-1)
    jaccard = 1.0 - intersection / union
    return xp.concatenate([jaccard[..., :1], jaccard[..., 1:] - jaccard[..., :-1]], axis=-1)


def _descending(errors: Any) -> Any:
    """The order that sorts the errors (last axis) in decreasing order; ties in index order."""
    xp = get_array_module(errors)
    return xp.argsort(-errors, axis=-1, kind="stable")


def _lovasz_sorted(xp: Any, errors: Any, labels: Any) -> tuple[Any, Any, Any]:
    """The order (constant), the errors in that order (differentiable) and the Lovász weights."""
    order = _descending(xp.as_data(errors))
    labels_sorted = get_array_module(labels).take_along_axis(labels, order, axis=-1)
    return order, xp.take_along_axis(errors, order, axis=-1), _lovasz_weights(labels_sorted)


def _unsort(xp: Any, sorted_values: Any, order: Any) -> Any:
    """Values given in sorted order, put back at the positions they were sorted from."""
    inverse = get_array_module(order).argsort(order, axis=-1)
    return xp.take_along_axis(sorted_values, inverse, axis=-1)


def _gaps(errors: np.ndarray) -> np.ndarray:
    """Distance of each sorted error to the next (the ties where the sort, and the gradient,
    change); empty for one pixel."""
    ordered = np.sort(errors, axis=-1)
    return np.abs(np.diff(ordered, axis=-1)).ravel()


# ------------------------------------------------------------------------------------ Lovász hinge


def _flat_images(xp: Any, x: Any, per_image: bool) -> Any:
    """``(N, *)`` as ``(N, P)`` (one row per image), or ``(1, N P)`` for the whole batch."""
    n = x.shape[0]
    size = int(np.prod(x.shape[1:])) if x.ndim > 1 else 1
    return xp.reshape(x, (n, size) if per_image else (1, n * size))


def _hinge_errors(xp: Any, logits: Any, target: Any, per_image: bool) -> tuple[Any, Any]:
    z = _flat_images(xp, logits, per_image)
    labels = _flat_images(get_array_module(xp.as_data(target)), xp.as_data(target), per_image)
    return 1.0 - z * (2.0 * labels - 1.0), labels


def _lovasz_hinge_forward(xp: Any, logits: Any, target: Any, *, per_image: bool) -> Any:
    errors, labels = _hinge_errors(xp, logits, target, per_image)
    _, errors_sorted, weights = _lovasz_sorted(xp, errors, labels)
    return xp.sum(xp.relu(errors_sorted) * weights, axis=-1)


def _lovasz_hinge_vjp(xp: Any, g: Any, logits: Any, target: Any, *, per_image: bool) -> tuple[Any]:
    errors, labels = _hinge_errors(xp, logits, target, per_image)
    order, errors_sorted, weights = _lovasz_sorted(xp, errors, labels)
    # the relu's derivative is 1 where the error is positive, 0 at and below 0 (as torch)
    active = (xp.as_data(errors_sorted) > 0.0).astype(weights.dtype)
    grad_errors = _unsort(xp, xp.reshape(g, (-1, 1)) * (weights * active), order)
    grad_z = grad_errors * (1.0 - 2.0 * labels)  # d error / dz = -(2t - 1)
    return (xp.reshape(grad_z, logits.shape),)


def _lovasz_hinge_kinks(logits: Any, target: Any, *, per_image: bool) -> np.ndarray:
    errors, _ = _hinge_errors(array_namespace(np), np.asarray(logits), np.asarray(target), per_image)
    return np.concatenate([_gaps(errors), np.abs(errors).ravel()])


def _check_lovasz_hinge(logits: Any, target: Any, *, per_image: bool) -> None:
    if logits.ndim < 1:
        raise ValueError(f"logits must have a batch axis, shape (N, *), got shape {tuple(logits.shape)}")
    same_shape("logits", logits, "target", target)
    if bool(((target != 0) & (target != 1)).any()):
        raise ValueError("target must hold 0 (background) or 1 (foreground)")
    flag("per_image", per_image)


def _hinge_edges() -> dict[str, Any]:
    def labels(rng: np.random.Generator) -> np.ndarray:
        return rng.integers(0, 2, (2, 3, 4)).astype(float)

    def exact(rng: np.random.Generator) -> list[np.ndarray]:
        t = labels(rng)
        return [2.0 * t - 1.0, t]  # every error exactly 0: on the relu's kink, and all tied

    return {
        "errors of exactly 0, all tied": exact,
        "no foreground": lambda rng: [rng.standard_normal((2, 3, 4)), np.zeros((2, 3, 4))],
        "all foreground": lambda rng: [rng.standard_normal((2, 3, 4)), np.ones((2, 3, 4))],
        "large logits": lambda rng: [1e4 * rng.standard_normal((2, 3, 4)), labels(rng)],
        "one pixel": lambda rng: [rng.standard_normal((3, 1)), np.array([[1.0], [0.0], [1.0]])],
    }


LOVASZ_HINGE = register(
    LossSpec(
        name="lovasz_hinge",
        family="segmentation",
        args=(Arg("logits", "logits", ("N", "H", "W")), Arg("target", "binary", ("N", "H", "W"), differentiable=False)),
        forward=_lovasz_hinge_forward,
        vjp=_lovasz_hinge_vjp,
        params={"per_image": True},
        check=_check_lovasz_hinge,
        kinks=_lovasz_hinge_kinks,
        sizes=SIZES,
        edge_cases=_hinge_edges(),
        # piecewise linear: the second derivative is 0 between ties and undefined at them
        second_order=False,
        formula=(
            r"\ell_n = \sum_k \max(0, m_{\pi(k)})\, (J_k - J_{k-1}), \quad m_i = 1 - z_i (2 t_i - 1), "
            r"\ m_{\pi(1)} \ge m_{\pi(2)} \ge \dots"
        ),
        reference="Berman, Rannen Triki & Blaschko 2018 (arXiv:1705.08790); kornia.losses.lovasz_hinge_loss; "
        "segmentation_models_pytorch LovaszLoss('binary')",
    )
)


def lovasz_hinge(logits: Any, target: Any, per_image: bool = True, reduction: str = "mean") -> Any:
    r"""Lovász hinge loss: the Lovász extension of the Jaccard (IoU) loss of binary masks,
    evaluated at the hinge errors of the logits (Berman, Rannen Triki & Blaschko, CVPR 2018).

    For an image with logits :math:`z_i` and labels :math:`t_i \in \{0, 1\}`, the errors are
    :math:`m_i = 1 - z_i (2 t_i - 1)`. Sort them in decreasing order,
    :math:`m_{\pi(1)} \ge \dots \ge m_{\pi(P)}`; with :math:`G = \sum_i t_i` and the Jaccard loss of
    the :math:`k` largest errors

    .. math::  J_k = 1 - \frac{G - \sum_{j \le k} t_{\pi(j)}}{G + \sum_{j \le k} (1 - t_{\pi(j)})},
               \quad J_0 = 0,

    .. math::  \ell = \sum_{k=1}^{P} \max(0, m_{\pi(k)})\, (J_k - J_{k-1}), \qquad
               \frac{\partial \ell}{\partial z_{\pi(k)}} = -(2 t_{\pi(k)} - 1)\,
               [m_{\pi(k)} > 0]\, (J_k - J_{k-1}).

    The weights :math:`J_k - J_{k-1} \ge 0` depend only on the labels in sorted order: the loss
    is piecewise linear in the logits, and its gradient is the Lovász extension's gradient, the
    sorted Jaccard differences scattered back to the pixels they were sorted from.

    **Subgradient convention.** Where errors tie, any order of the tied pixels gives the same
    loss and a valid subgradient; nploss sorts stably (tied pixels keep their index order, in
    the flattened image). The hinge's derivative at :math:`m = 0` is 0 (as ``torch.relu``). The
    second derivative is 0 between ties and undefined at them, so it is not audited; the audit
    samples away from the ties and from :math:`m = 0`.

    Parameters
    ----------
    logits : array or Tensor, (N, *spatial)
        One real score per pixel (positive: foreground).
    target : array, same shape
        0 (background) or 1 (foreground); not differentiated.
    per_image : bool
        True (the default, as the paper's ``lovasz_hinge`` and kornia): one loss per image,
        ``'none'`` gives ``(N,)``. False: the whole batch sorted as one image, one loss,
        ``'none'`` gives ``(1,)`` (segmentation-models-pytorch's default).
    reduction : {'mean', 'sum', 'none'}

    Notes
    -----
    - kornia ``lovasz_hinge_loss(pred, target)`` (0.9) takes ``pred`` of shape ``(B, 1, H, W)`` and
      ``target`` ``(B, H, W)``, scores each image and averages: it equals
      ``lovasz_hinge(pred[:, 0], target)``.
    - segmentation-models-pytorch ``LovaszLoss('binary', per_image=False)`` (0.6, its default)
      equals ``lovasz_hinge(z, t, per_image=False)``; with ``per_image=True``, the default here.
      Its ``from_logits`` is ignored in binary mode (it always takes logits, as here).
    - This is not :math:`1 - \mathrm{IoU}`: logits of :math:`\pm 1` of the right sign give 0, and
      logits of :math:`\pm 1` on a prediction give twice that prediction's Jaccard loss.

    Raises
    ------
    ValueError
        Shapes that differ, labels other than 0 and 1, NaN, an unknown ``reduction``.
    TypeError
        A ``per_image`` that is not True or False.

    Examples
    --------
    >>> import numpy as np
    >>> z = np.array([[2.0, -1.0, 0.5, -2.0]])     # errors 3, 2, 0.5, -1 (labels 0, 1, 1, 0)
    >>> t = np.array([[0.0, 1.0, 1.0, 0.0]])
    >>> round(float(lovasz_hinge(z, t)), 6)         # 3 (1/3) + 2 (2/3 - 1/3) + 0.5 (1 - 2/3)
    1.833333
    """
    return apply_loss(LOVASZ_HINGE, logits, target, reduction=reduction, per_image=per_image)


# ------------------------------------------------------------------------------------ Lovász softmax


def _softmax_errors(xp: Any, prediction: Any, target: Any, per_image: bool) -> tuple[Any, Any, Any]:
    """The errors ``|1[y = c] - p_c|`` as ``(N, C, P)`` (or ``(1, C, N P)``), the one-hot labels
    in that layout, and the shape of the flattened prediction."""
    n, c = prediction.shape[:2]
    size = int(np.prod(prediction.shape[2:]))
    p = xp.reshape(prediction, (n, c, size))
    labels = xp.as_data(target)
    fg = one_hot(get_array_module(labels).reshape(labels, (n, size)), c, axis=1, dtype=p.dtype)
    if not per_image:  # the batch as one image: (C, N P)
        p = xp.reshape(xp.swapaxes(p, 0, 1), (1, c, n * size))
        fg = get_array_module(fg).reshape(get_array_module(fg).swapaxes(fg, 0, 1), (1, c, n * size))
    # |fg - p| for p in [0, 1]: 1 - p on the class's pixels, p elsewhere (linear in p)
    return fg + (1.0 - 2.0 * fg) * p, fg, (n, c, size)


def _present(fg: Any) -> Any:
    return (get_array_module(fg).sum(fg, axis=-1) > 0).astype(fg.dtype)


def _lovasz_softmax_forward(xp: Any, prediction: Any, target: Any, *, per_image: bool, classes: str) -> Any:
    errors, fg, _ = _softmax_errors(xp, prediction, target, per_image)
    _, errors_sorted, weights = _lovasz_sorted(xp, errors, fg)
    loss = xp.sum(errors_sorted * weights, axis=-1)
    return loss * _present(fg) if classes == "present" else loss


def _lovasz_softmax_vjp(xp: Any, g: Any, prediction: Any, target: Any, *, per_image: bool, classes: str) -> tuple[Any]:
    errors, fg, (n, c, size) = _softmax_errors(xp, prediction, target, per_image)
    order, _, weights = _lovasz_sorted(xp, errors, fg)
    if classes == "present":
        g = g * _present(fg)
    grad = _unsort(xp, xp.reshape(g, tuple(g.shape) + (1,)) * weights, order) * (1.0 - 2.0 * fg)
    if not per_image:
        grad = xp.swapaxes(xp.reshape(grad, (c, n, size)), 0, 1)
    return (xp.reshape(grad, prediction.shape),)


def _lovasz_softmax_weights(
    xp: Any, reduction: str, prediction: Any, target: Any, *, per_image: bool, classes: str
) -> Any:
    """'mean': the mean over the images of the mean over each image's classes (all, or those
    present in its target), as the paper's and both libraries' means."""
    n, c = prediction.shape[:2]
    rows = n if per_image else 1
    if classes == "all" or n == 0:  # an empty batch: NaN, as every mean of nothing
        return mean_weight(rows * c)
    _, fg, _ = _softmax_errors(xp, prediction, target, per_image)
    present = _present(fg)
    return present / (rows * xp.sum(present, axis=1, keepdims=True))


def _lovasz_softmax_kinks(prediction: Any, target: Any, *, per_image: bool, classes: str) -> np.ndarray:
    errors, _, _ = _softmax_errors(array_namespace(np), np.asarray(prediction), np.asarray(target), per_image)
    return _gaps(errors)


def _check_lovasz_softmax(prediction: Any, target: Any, *, per_image: bool, classes: str) -> None:
    if prediction.ndim < 3:
        raise ValueError(
            f"prediction must have shape (N, C, *spatial) with at least one spatial axis, got {tuple(prediction.shape)}"
        )
    expected = prediction.shape[:1] + prediction.shape[2:]
    if tuple(target.shape) != tuple(expected):
        raise ValueError(f"target must have shape (N, *spatial) = {tuple(expected)}, got {tuple(target.shape)}")
    flag("per_image", per_image)
    choice("classes", classes, ("present", "all"))


def _softmax_edges() -> dict[str, Any]:
    def probs(rng: np.random.Generator) -> np.ndarray:
        x = rng.uniform(0.1, 1.0, (2, 3, 3, 4))
        return x / x.sum(axis=1, keepdims=True)

    def perfect(rng: np.random.Generator) -> list[np.ndarray]:
        labels = rng.integers(0, 3, (2, 3, 4))
        return [np.moveaxis(np.eye(3)[labels], -1, 1), labels]

    return {
        "perfect one-hot prediction (every error 0, all tied)": perfect,
        "one class absent": lambda rng: [probs(rng), rng.integers(0, 2, (2, 3, 4))],
        "uniform prediction (ties)": lambda rng: [np.full((2, 3, 3, 4), 1 / 3), rng.integers(0, 3, (2, 3, 4))],
        "one pixel": lambda rng: [probs(rng)[:, :, :1, :1], rng.integers(0, 3, (2, 1, 1))],
    }


LOVASZ_SOFTMAX = register(
    LossSpec(
        name="lovasz_softmax",
        family="segmentation",
        args=(
            Arg("prediction", "prob", ("N", "C", "H", "W")),
            Arg("target", "label", ("N", "H", "W"), differentiable=False),
        ),
        forward=_lovasz_softmax_forward,
        vjp=_lovasz_softmax_vjp,
        params={"per_image": False, "classes": "present"},
        check=_check_lovasz_softmax,
        classes_from="prediction",
        reduction_weights=_lovasz_softmax_weights,
        kinks=_lovasz_softmax_kinks,
        sizes=SIZES,
        edge_cases=_softmax_edges(),
        # piecewise linear: the second derivative is 0 between ties and undefined at them
        second_order=False,
        formula=(
            r"\ell_{c} = \sum_k m_{c\pi(k)} (J^c_k - J^c_{k-1}), \quad m_{ci} = |[y_i = c] - p_{ci}|, "
            r"\ m_{c\pi(1)} \ge m_{c\pi(2)} \ge \dots"
        ),
        reference="Berman, Rannen Triki & Blaschko 2018 (arXiv:1705.08790); kornia.losses.lovasz_softmax_loss "
        "(per_image=True, classes='all'); segmentation_models_pytorch LovaszLoss('multiclass')",
    )
)


def lovasz_softmax(
    prediction: Any, target: Any, per_image: bool = False, classes: str = "present", reduction: str = "mean"
) -> Any:
    r"""Lovász-softmax loss: for each class, the Lovász extension of its Jaccard (IoU) loss at
    the errors :math:`|[y_i = c] - p_{ci}|` of the class probabilities (Berman et al. 2018).

    For one image (or the whole batch, ``per_image=False``) and class :math:`c`, with
    :math:`g_i = [y_i = c]` and errors :math:`m_i = |g_i - p_{ci}|` sorted in decreasing order
    :math:`m_{\pi(1)} \ge \dots \ge m_{\pi(P)}`, and :math:`J_k` the Jaccard loss of the :math:`k`
    largest errors as in :func:`lovasz_hinge`,

    .. math::  \ell_c = \sum_{k=1}^{P} m_{\pi(k)}\, (J_k - J_{k-1}), \qquad
               \frac{\partial \ell_c}{\partial p_{c\pi(k)}} = (1 - 2 g_{\pi(k)})\, (J_k - J_{k-1}).

    For :math:`p \in [0, 1]` the error is linear in :math:`p` (:math:`1 - p` on the class's
    pixels, :math:`p` elsewhere), so the only kinks are the ties of the sort. Where errors tie, any
    order gives the same loss and a valid subgradient: nploss sorts stably (tied pixels in
    index order). PyTorch's ``abs`` has derivative 0 where :math:`p = g` exactly (a saturated
    probability); here it is :math:`1 - 2g` there too. The second derivative is 0 between ties and
    undefined at them, so it is not audited.

    Parameters
    ----------
    prediction : array or Tensor, (N, C, *spatial)
        Class probabilities (apply the softmax yourself; none is applied here).
    target : array, (N, *spatial)
        Integer labels in [0, C); not differentiated.
    per_image : bool
        False (the default, the paper's and segmentation-models-pytorch's): the batch is sorted as
        one image, ``'none'`` gives ``(1, C)``. True: one loss per image and class, ``(N, C)``.
    classes : {'present', 'all'}
        ``'present'`` (the default): only the classes that occur in the image's (or batch's)
        target count; the others are 0 in ``'none'`` and left out of the mean. ``'all'``: every
        class, absent ones included (they are then the Lovász extension at errors :math:`p_{ci}`,
        which is the largest of them).
    reduction : {'mean', 'sum', 'none'}
        ``'mean'``: the mean over the images of the mean over each image's counted classes.

    Notes
    -----
    - kornia ``lovasz_softmax_loss(logits, labels)`` (0.9) applies the softmax inside, scores each
      image and averages over **all** classes and images: it equals
      ``lovasz_softmax(softmax(logits, axis=1), labels, per_image=True, classes='all')``. Its
      ``weight`` multiplies each class's term and still divides by C.
    - segmentation-models-pytorch ``LovaszLoss('multiclass', per_image=False)`` (0.6) applies the
      softmax inside and uses the present classes: it equals
      ``lovasz_softmax(softmax(logits, axis=1), labels)`` (the defaults here);
      ``per_image=True`` there is ``per_image=True`` here.

    Raises
    ------
    ValueError
        A prediction without a spatial axis, a target whose shape is not ``(N, *spatial)``,
        probabilities outside [0, 1], labels outside [0, C), an unknown ``classes`` or
        ``reduction``.
    TypeError
        A ``per_image`` that is not True or False, labels that are not integers.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([[[[0.8, 0.4, 0.3]], [[0.2, 0.6, 0.7]]]])   # (1, 2, 1, 3)
    >>> y = np.array([[[0, 0, 1]]])
    >>> lovasz_softmax(p, y, reduction='none')     # class 0: 0.6 (1/2) + 0.3 (1/6) + 0.2 (1/3)
    array([[0.41666667, 0.45      ]])
    >>> round(float(lovasz_softmax(p, y)), 6)
    0.433333
    """
    return apply_loss(LOVASZ_SOFTMAX, prediction, target, reduction=reduction, per_image=per_image, classes=classes)


# ------------------------------------------------------------------------------------ Hausdorff (erosion)


def _cross(xp: Any, b: Any) -> Any:
    """The filter of kornia's erosion: 0.2 times the pixel and its four neighbours, zero padding.
    Its kernel is symmetric, so the filter is its own adjoint."""
    zeros = get_array_module(xp.as_data(b)).zeros
    rows, cols = zeros(b.shape[:-2] + (1, b.shape[-1]), b.dtype), zeros(b.shape[:-1] + (1,), b.dtype)
    up = xp.concatenate([b[..., 1:, :], rows], axis=-2)
    down = xp.concatenate([rows, b[..., :-1, :]], axis=-2)
    left = xp.concatenate([b[..., :, 1:], cols], axis=-1)
    right = xp.concatenate([cols, b[..., :, :-1]], axis=-1)
    return 0.2 * (b + up + down + left + right)


def _erosions(xp: Any, prediction: Any, target: Any, alpha: float, k: int) -> tuple[Any, list[tuple[Any, ...]]]:
    """The weighted sum of the ``k`` normalised erosions of :math:`(p - g)^2`, and each step's
    (mask d >= 1/2, erosion, its minimum, range, whether normalised, shares of the max and min)."""
    fg = one_hot(xp.as_data(target), prediction.shape[1], axis=1, dtype=prediction.dtype)
    bound = (prediction - fg) * (prediction - fg)
    total, steps = 0.0, []
    for i in range(k):
        d = _cross(xp, bound)
        above = (xp.as_data(d) >= 0.5).astype(prediction.dtype)  # kornia's masked_fill(d < 0.5, 0)
        e = (d - 0.5) * above
        hi, lo = xp.max(e, axis=(2, 3), keepdims=True), xp.min(e, axis=(2, 3), keepdims=True)
        span = hi - lo
        scaled = xp.as_data(span) != 0  # a constant map (all eroded away) is left as it is
        span = xp.where(scaled, span, 1.0)
        normalised = xp.where(scaled, (e - lo) / span, e)
        total = total + normalised * float(i + 1) ** alpha
        data = xp.as_data(e)
        at_hi, at_lo = (data == xp.as_data(hi)).astype(data.dtype), (data == xp.as_data(lo)).astype(data.dtype)
        share_hi = at_hi / at_hi.sum(axis=(2, 3), keepdims=True)  # the max's cotangent split among ties
        share_lo = at_lo / at_lo.sum(axis=(2, 3), keepdims=True)
        steps.append((above, e, lo, span, scaled, share_hi, share_lo))
        bound = normalised
    return total, steps


def _hausdorff_erosion_forward(xp: Any, prediction: Any, target: Any, *, alpha: float, k: int) -> Any:
    return _erosions(xp, prediction, target, alpha, k)[0]


def _hausdorff_erosion_vjp(xp: Any, g: Any, prediction: Any, target: Any, *, alpha: float, k: int) -> tuple[Any]:
    _, steps = _erosions(xp, prediction, target, alpha, k)
    g_bound = 0.0  # the cotangent of the next step's input, b_{i+1} = n_i
    for i in reversed(range(k)):
        above, e, lo, span, scaled, share_hi, share_lo = steps[i]
        g_n = g * float(i + 1) ** alpha + g_bound
        # n = (e - lo) / span: through e directly, and through the max and the min (tie shares)
        s1 = xp.sum(g_n, axis=(2, 3), keepdims=True)
        s2 = xp.sum(g_n * (e - lo), axis=(2, 3), keepdims=True) / (span * span)
        g_e = xp.where(scaled, g_n / span - share_hi * s2 + share_lo * (s2 - s1 / span), g_n)
        g_bound = _cross(xp, g_e * above)  # the filter is its own adjoint
    fg = one_hot(xp.as_data(target), prediction.shape[1], axis=1, dtype=prediction.dtype)
    return (2.0 * (prediction - fg) * g_bound,)


def _hausdorff_erosion_kinks(prediction: Any, target: Any, *, alpha: float, k: int) -> np.ndarray:
    """Thresholds (d = 1/2), ties of the maximum and of a positive minimum, and ranges near 0
    (where the normalisation jumps)."""
    xp = array_namespace(np)
    fg = one_hot(np.asarray(target), prediction.shape[1], axis=1, dtype=np.float64)
    bound, found = (np.asarray(prediction) - fg) ** 2, []
    for _ in range(k):
        d = _cross(xp, bound)
        e = np.where(d >= 0.5, d - 0.5, 0.0)
        flat = np.sort(e.reshape(e.shape[:2] + (-1,)), axis=-1)
        span = flat[..., -1] - flat[..., 0]
        positive_max = flat[..., -1] > 0  # an all-zero map (everything eroded) has no kink there
        found += [np.abs(d - 0.5).ravel(), (flat[..., -1] - flat[..., -2])[positive_max], span[span > 0]]
        positive = flat[..., 0] > 0
        found.append((flat[..., 1] - flat[..., 0])[positive])
        bound = np.where(
            span[..., None, None] != 0, (e - flat[..., :1, None]) / np.where(span == 0, 1, span)[..., None, None], e
        )
    return np.concatenate(found)


def _check_hausdorff(prediction: Any, target: Any, *, alpha: float, k: int) -> None:
    if prediction.ndim != 4:
        raise ValueError(f"prediction must be a batch of 2-D maps (N, C, H, W), got shape {tuple(prediction.shape)}")
    expected = prediction.shape[:1] + prediction.shape[2:]
    if tuple(target.shape) != tuple(expected):
        raise ValueError(f"target must have shape (N, H, W) = {tuple(expected)}, got {tuple(target.shape)}")
    real("alpha", alpha)
    integer("k", k, low=1)


HAUSDORFF_EROSION = register(
    LossSpec(
        name="hausdorff_erosion",
        family="segmentation",
        args=(
            Arg("prediction", "prob", ("N", "C", "H", "W")),
            Arg("target", "label", ("N", "H", "W"), differentiable=False),
        ),
        forward=_hausdorff_erosion_forward,
        vjp=_hausdorff_erosion_vjp,
        params={"alpha": 2.0, "k": 10},
        check=_check_hausdorff,
        classes_from="prediction",
        kinks=_hausdorff_erosion_kinks,
        sizes={"N": 2, "C": 2, "H": 5, "W": 6},
        edge_cases={
            "perfect one-hot prediction": lambda rng: [
                np.moveaxis(np.eye(3)[labels := rng.integers(0, 3, (2, 5, 6))], -1, 1),
                labels,
            ],
            "everything wrong": lambda rng: [
                1.0 - np.moveaxis(np.eye(2)[labels := rng.integers(0, 2, (2, 5, 6))], -1, 1),
                labels,
            ],
            "uniform prediction": lambda rng: [np.full((2, 2, 5, 6), 0.5), rng.integers(0, 2, (2, 5, 6))],
        },
        formula=(
            r"\ell = \sum_{i=1}^{K} i^\alpha\, n_i, \quad n_i = \mathrm{norm}(\max(0, A n_{i-1} - \tfrac12)), "
            r"\ n_0 = (p - g)^2"
        ),
        reference="Karimi & Salcudean 2019 (arXiv:1904.10030); kornia.losses.HausdorffERLoss",
    )
)


def hausdorff_erosion(prediction: Any, target: Any, alpha: float = 2.0, k: int = 10, reduction: str = "mean") -> Any:
    r"""Hausdorff-distance loss by morphological erosion (Karimi & Salcudean 2019), as kornia's
    ``HausdorffERLoss``: a surrogate that weighs errors far inside a wrong region more.

    For each sample and class, with :math:`g = [y = c]` and the map :math:`b_0 = (p - g)^2`, each of
    the :math:`K` steps filters, thresholds and min-max normalises:

    .. math::  d_i = A\, b_{i-1}, \quad e_i = [d_i \ge \tfrac12]\,(d_i - \tfrac12), \quad
               b_i = n_i = \frac{e_i - \min e_i}{\max e_i - \min e_i}
               \ (n_i = e_i \text{ if } \max e_i = \min e_i),

    .. math::  \ell_{nc\,hw} = \sum_{i=1}^{K} i^\alpha\, n_{i, hw},

    where :math:`A` is the cross-shaped filter (0.2 on the pixel and its four neighbours, zero
    padding) and the max and min run over the image. The gradient is the chain rule backwards
    through the steps: with :math:`\bar n_i = i^\alpha \bar\ell + \bar b_i` (the cotangent of
    :math:`n_i`, :math:`\bar b_K = 0`), :math:`r = \max e - \min e`,
    :math:`S_1 = \sum \bar n_i` and :math:`S_2 = \sum \bar n_i (e_i - \min e_i) / r^2`,

    .. math::  \bar e_i = \frac{\bar n_i}{r} - S_2\, \mu_{\max} + \Big(S_2 - \frac{S_1}{r}\Big) \mu_{\min},
               \quad \bar b_{i-1} = A\big([d_i \ge \tfrac12]\, \bar e_i\big), \quad
               \frac{\partial \ell}{\partial p} = 2 (p - g)\, \bar b_0,

    with :math:`\mu_{\max}` (:math:`\mu_{\min}`) 1 at the maximum (minimum) divided by the number
    of tied maxima (minima), as ``torch.amax``'s gradient, and :math:`A^\top = A`. The loss is
    piecewise smooth: its kinks are the thresholds :math:`d = \tfrac12`, ties of the maximum or of a
    positive minimum, and a range :math:`r` reaching 0 (where the normalisation jumps); the
    derivative of the threshold is 1 at :math:`d = \tfrac12` exactly (as kornia's ``masked_fill``).

    Parameters
    ----------
    prediction : array or Tensor, (N, C, H, W)
        Class probabilities (no softmax is applied, as in kornia).
    target : array, (N, H, W)
        Integer labels in [0, C); not differentiated.
    alpha : float
        The exponent of the weights :math:`i^\alpha`.
    k : int, >= 1
        The number of erosions.
    reduction : {'mean', 'sum', 'none'}
        ``'none'``: the ``(N, C, H, W)`` map; ``'mean'``: its mean (kornia's default).

    Notes
    -----
    kornia ``HausdorffERLoss(alpha, k, reduction)(pred, target)`` (0.9) takes ``target`` of shape
    ``(B, 1, H, W)`` (int64): it equals ``hausdorff_erosion(pred, target[:, 0], alpha, k,
    reduction)`` for 'mean' and 'sum'; its ``'none'`` is laid out class first, ``(C, B, 1, H, W)``,
    which is ``out.transpose(1, 0, 2, 3)[:, :, None]`` of the ``(N, C, H, W)`` map here. The value
    is a unitless surrogate, not a distance in pixels. kornia builds its filter's 0.2 in float32
    (0.20000000298...) and casts it to the input's dtype, so in float64 its values differ from
    these by about :math:`5 \cdot 10^{-8}` relative; with the kernel rebuilt in float64 they agree
    to round-off. Only 2-D maps (kornia's ``HausdorffERLoss3D`` is not provided).

    Raises
    ------
    ValueError
        A prediction that is not ``(N, C, H, W)``, a target that is not ``(N, H, W)``, labels
        outside [0, C), probabilities outside [0, 1], ``k < 1``, an unknown ``reduction``.
    TypeError
        A non-integer ``k``, an ``alpha`` that is not a real number, labels that are not integers.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.zeros((1, 2, 3, 3)); p[0, 0] = 1.0      # everything predicted as class 0
    >>> y = np.ones((1, 3, 3), dtype=int)              # and everything is class 1
    >>> hausdorff_erosion(p, y, k=1, reduction='none')[0, 1]   # d: 1 inside, 0.8 on edges, 0.6 in corners
    array([[0. , 0.5, 0. ],
           [0.5, 1. , 0.5],
           [0. , 0.5, 0. ]])
    """
    return apply_loss(HAUSDORFF_EROSION, prediction, target, reduction=reduction, alpha=alpha, k=k)
