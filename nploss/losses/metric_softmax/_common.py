r"""What the softmax-over-similarities losses share: the normalisation convention and a shape check.

**Normalisation.** Where a loss works on cosine similarity, rows are L2-normalised inside as
:math:`\hat{x} = x / \sqrt{\lVert x \rVert^2 + \epsilon}` with :math:`\epsilon = 10^{-12}`
(``NORM_EPS``), by :func:`nploss.losses._shared.unit_rows` (its VJP
:func:`~nploss.losses._shared.unit_rows_vjp`), as :mod:`nploss.losses.fewshot` does. PyTorch's
``F.normalize`` and pytorch-metric-learning (PML) divide by :math:`\max(\lVert x \rVert, 10^{-12})`
instead; the two agree to a relative :math:`\epsilon / (2\lVert x \rVert^2)` (about 5e-13 for unit
norms), but the square root form is smooth, so a zero row gives a zero unit vector with the finite
gradient :math:`I/\sqrt{\epsilon}` rather than a kink.
"""

from __future__ import annotations

from .._shared import NORM_EPS

__all__ = ["NORM_EPS"]
