r"""Margin-based classification losses: surrogates of the 0-1 loss written in the margin.

| module | losses |
| --- | --- |
| ``binary`` | :func:`hinge`, :func:`squared_hinge`, :func:`smoothed_hinge`, :func:`exponential`, :func:`logistic` |
| ``multiclass`` | :func:`multiclass_hinge` (Weston-Watkins), :func:`crammer_singer_hinge` |
| ``multiclass_more`` | :func:`multiclass_perceptron` |
| ``multilabel`` | :func:`multilabel_margin`, :func:`multilabel_soft_margin`, :func:`hinge_embedding` |

Binary losses take real scores :math:`f` and targets :math:`y \in \{-1, +1\}` (given
explicitly: nploss never maps ``{0, 1}`` labels for you) and are functions of the *margin*
:math:`z = y f`, the signed confidence of the right answer; by the chain rule
:math:`\partial \ell / \partial f = y\, \ell'(z)`. The multiclass hinges take scores of shape
``(N, C)`` and integer labels of shape ``(N,)``. The target is never differentiated: it is a
label. A ``margin`` must be a finite number :math:`\ge 0`: zero is the perceptron criterion, and
a negative margin would leave misclassified points within :math:`|m|` of the boundary
unpenalised, which is a sign error rather than a loss.
"""

from .binary import exponential, hinge, logistic, smoothed_hinge, squared_hinge
from .multiclass import crammer_singer_hinge, multiclass_hinge

__all__ = [
    "hinge",
    "squared_hinge",
    "smoothed_hinge",
    "multiclass_hinge",
    "crammer_singer_hinge",
    "exponential",
    "logistic",
]

from .multilabel import hinge_embedding, multilabel_margin, multilabel_soft_margin

__all__ += ["hinge_embedding", "multilabel_margin", "multilabel_soft_margin"]

from .multiclass_more import multiclass_perceptron

__all__ += ["multiclass_perceptron"]
