r"""Class weights for imbalanced data: per-class weights from class frequencies (inverse
frequency, its square root, or the inverse effective number of Cui et al. 2019), to pass as the
``weight`` of a class-weighted loss. Not a loss: a function of the labels, with no gradient.
"""

from __future__ import annotations

import math
from typing import Any

from ...autograd import as_data
from ...backend import get_array_module
from .. import _params

__all__ = ["class_weights"]


# ------------------------------------------------------------------------------------ class weights

SCHEMES = ("inverse", "inverse_sqrt", "effective")
NORMALIZATIONS = ("classes", "samples", None)


def class_weights(
    labels: Any = None,
    *,
    counts: Any = None,
    scheme: str = "inverse",
    beta: float = 0.999,
    num_classes: int | None = None,
    normalize: str | None = "classes",
) -> Any:
    r"""Per-class weights from class frequencies, for the ``weight`` of a class-weighted loss.

    With :math:`n_c` the number of samples of class c:

    ========================  ==============================================================
    ``scheme``                raw weight :math:`\tilde{w}_c`
    ========================  ==============================================================
    ``'inverse'``             :math:`1 / n_c`
    ``'inverse_sqrt'``        :math:`1 / \sqrt{n_c}`
    ``'effective'``           :math:`(1 - \beta) / (1 - \beta^{n_c})`, the inverse of the
                              effective number of samples :math:`E_{n_c} = (1 - \beta^{n_c}) / (1 - \beta)`
                              (Cui et al. 2019)
    ========================  ==============================================================

    The effective number interpolates: :math:`\beta = 0` gives equal weights, :math:`\beta \to 1`
    inverse frequency. It is computed as :math:`(1-\beta) / (-\mathrm{expm1}(n_c \log\beta))` so
    that :math:`\beta` close to 1 keeps its precision.

    Parameters
    ----------
    labels : integer array (N,), optional
        Class labels; the counts are ``bincount(labels, minlength=num_classes)``.
    counts : array (C,), optional
        Class counts (non-negative; fractional counts allowed). Give ``labels`` or ``counts``.
    scheme : {'inverse', 'inverse_sqrt', 'effective'}
    beta : float
        In [0, 1), for ``'effective'`` (0.999 by default; Cui et al. try 0.9 to 0.9999).
    num_classes : int, optional
        C; by default ``max(labels) + 1`` or ``len(counts)``.
    normalize : {'classes', 'samples', None}
        ``'classes'`` (default, as Cui et al.): scaled so that :math:`\sum_c w_c = C`.
        ``'samples'``: scaled so that :math:`\sum_c n_c w_c = N`, i.e. the average sample
        weight is 1; with ``'inverse'`` this is scikit-learn's
        ``compute_class_weight('balanced')`` :math:`N / (C n_c)`. ``None``: the raw weights.

    Returns
    -------
    array (C,), floating point.

    Raises
    ------
    ValueError
        Both or neither of ``labels`` and ``counts``; labels not integers or out of range;
        negative counts; a class with no samples (its weight would be infinite: drop the class
        or give it a count); unknown ``scheme`` or ``normalize``; ``beta`` outside [0, 1).

    Examples
    --------
    >>> import numpy as np
    >>> class_weights(counts=np.array([10, 1, 100]), scheme="inverse", normalize="samples").tolist()
    [3.7, 37.0, 0.37]
    """
    if (labels is None) == (counts is None):
        raise ValueError("give exactly one of labels (class labels) and counts (samples per class)")
    _params.choice("scheme", scheme, SCHEMES)
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"normalize must be 'classes', 'samples' or None, got {normalize!r}")
    if num_classes is not None:
        num_classes = _params.integer("num_classes", num_classes, low=1)
    if labels is not None:
        y = as_data(labels)
        xp = get_array_module(y)
        y = xp.asarray(y)
        if y.dtype.kind not in "iu":
            raise TypeError(f"labels must hold integer class labels, got dtype {y.dtype}")
        if y.size and (int(y.min()) < 0 or (num_classes is not None and int(y.max()) >= num_classes)):
            bound = f"[0, {num_classes})" if num_classes is not None else ">= 0"
            raise ValueError(
                f"labels must be class labels in {bound}, got values from {int(y.min())} to {int(y.max())}"
            )
        n = xp.bincount(y.reshape(-1), minlength=num_classes or 0).astype(float)
    else:
        n = as_data(counts)
        xp = get_array_module(n)
        n = xp.asarray(n)
        if n.dtype.kind not in "iuf" or n.ndim != 1:
            raise ValueError(f"counts must be a numeric vector (C,), got shape {tuple(n.shape)} and dtype {n.dtype}")
        if not bool(xp.all(xp.isfinite(n))) or bool(xp.any(n < 0)):
            raise ValueError("counts must be finite and non-negative")
        if num_classes is not None and n.shape[0] != num_classes:
            raise ValueError(f"counts must have num_classes={num_classes} entries, got {n.shape[0]}")
        n = n.astype(float)
    if n.size == 0:
        raise ValueError("no classes: labels is empty and num_classes is not given")
    empty = [int(c) for c in xp.nonzero(n == 0)[0]]
    if empty:
        raise ValueError(f"classes {empty} have no samples: their {scheme} weight would be infinite")
    if scheme == "inverse":
        w = 1.0 / n
    elif scheme == "inverse_sqrt":
        w = 1.0 / xp.sqrt(n)
    else:
        beta = _params.real("beta", beta, low=0.0, high=1.0, high_open=True)
        # beta = 0: every n >= 1 has effective number 1 (log 0 would warn)
        w = xp.ones_like(n) if beta == 0.0 else (1.0 - beta) / -xp.expm1(n * math.log(beta))
    if normalize == "classes":
        w = w * (n.shape[0] / w.sum())
    elif normalize == "samples":
        w = w * (n.sum() / (n * w).sum())
    return w
