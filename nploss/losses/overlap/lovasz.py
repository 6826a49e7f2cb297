r"""The Lovász hinge (one logit per pixel) and Lovász-softmax (integer labels) surrogates of the
Jaccard index, and the Lovász-extension weights they share.

The Lovász losses are piecewise linear in the errors: their gradient is the gradient of the
Lovász extension of the Jaccard loss at the sorted errors, constant between ties, so their second
derivative is zero wherever it exists.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...backend import get_array_module
from ...numerics import array_namespace
from .._apply import apply_loss
from .._params import choice, flag
from .._reduction import mean_weight
from .._shared import one_hot
from .._spec import Arg, LossSpec, register
from .._validate import same_shape
from ._common import SIZES

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
        unreduced=lambda logits, target, per_image, **params: (logits.shape[0] if per_image else 1,),
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
        unreduced=lambda prediction, target, per_image, **params: (prediction.shape[0] if per_image else 1, prediction.shape[1]),
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
